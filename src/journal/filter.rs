//! Which entries a reader asks for: the filters of the journal's list, count, verify and
//! stream, from a query string or a JSON object (the same names in both).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Entry, Kind};

/// The filters as sent: every one optional, all of them must hold.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Criteria {
    /// `GET`, `post`, ... (any case).
    pub method: Option<String>,
    /// A glob on the path (`*` is any run of characters, `/` included); an outbound entry's
    /// path is its endpoint URL.
    pub path: Option<String>,
    /// `404`, or a class: `4xx`.
    pub status: Option<String>,
    pub user: Option<String>,
    pub api: Option<String>,
    pub kind: Option<Kind>,
    /// RFC 3339: entries that started at or after this time.
    pub since: Option<String>,
    /// RFC 3339: entries that started at or before this time.
    pub until: Option<String>,
    /// Entries numbered above this id.
    pub after_id: Option<u64>,
    /// `true`: only requests no route matched (the 404 and 400 fallbacks); `false`: only those
    /// a route matched.
    pub unmatched: Option<bool>,
}

/// A filter that cannot be applied, in words for the 400's detail.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CriteriaError(pub String);

/// [`Criteria`] checked once, ready to test many entries.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    method: Option<String>,
    path: Option<Vec<String>>,
    status: Option<StatusMatch>,
    user: Option<String>,
    api: Option<String>,
    kind: Option<Kind>,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    after_id: Option<u64>,
    unmatched: Option<bool>,
}

#[derive(Debug, Clone, Copy)]
enum StatusMatch {
    Exact(u16),
    Class(u16),
}

fn parse_time(name: &str, value: &str) -> Result<OffsetDateTime, CriteriaError> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|_| {
        CriteriaError(format!(
            "{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z, not {value:?}"
        ))
    })
}

impl Criteria {
    /// Checks the filters: a malformed status or time is refused rather than matching nothing.
    pub fn compile(&self) -> Result<Compiled, CriteriaError> {
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                let lower = s.to_ascii_lowercase();
                let class = lower
                    .strip_suffix("xx")
                    .and_then(|d| d.parse::<u16>().ok())
                    .filter(|d| (1..=5).contains(d));
                match (class, lower.parse::<u16>()) {
                    (Some(c), _) => Some(StatusMatch::Class(c)),
                    (None, Ok(code)) if (100..=599).contains(&code) => {
                        Some(StatusMatch::Exact(code))
                    }
                    _ => {
                        return Err(CriteriaError(format!(
                            "status must be a status code (404) or a class (4xx), not {s:?}"
                        )));
                    }
                }
            }
        };
        Ok(Compiled {
            method: self.method.as_ref().map(|m| m.trim().to_ascii_uppercase()),
            path: self
                .path
                .as_ref()
                .map(|p| p.split('*').map(str::to_owned).collect()),
            status,
            user: self.user.clone(),
            api: self.api.clone(),
            kind: self.kind,
            since: self
                .since
                .as_deref()
                .map(|t| parse_time("since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time("until", t))
                .transpose()?,
            after_id: self.after_id,
            unmatched: self.unmatched,
        })
    }

    /// Shown in a failed verification: the filters that were given.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                parts.push(format!("{name}={v}"));
            }
        };
        add("method", self.method.clone());
        add("path", self.path.clone());
        add("status", self.status.clone());
        add("user", self.user.clone());
        add("api", self.api.clone());
        add("kind", self.kind.map(|k| k.name().to_owned()));
        add("since", self.since.clone());
        add("until", self.until.clone());
        add("after_id", self.after_id.map(|i| i.to_string()));
        add("unmatched", self.unmatched.map(|u| u.to_string()));
        match parts.is_empty() {
            true => "any request".to_owned(),
            false => parts.join(" "),
        }
    }
}

impl Compiled {
    pub fn matches(&self, e: &Entry) -> bool {
        if self.kind.is_some_and(|k| k != e.kind)
            || self.after_id.is_some_and(|id| e.id <= id)
            || self.since.is_some_and(|t| e.time < t)
            || self.until.is_some_and(|t| e.time > t)
            || self.method.as_ref().is_some_and(|m| m != e.method.as_str())
            || self
                .user
                .as_ref()
                .is_some_and(|u| Some(u.as_str()) != e.user())
            || self.api.as_ref().is_some_and(|a| Some(a.as_str()) != e.api)
        {
            return false;
        }
        if let Some(unmatched) = self.unmatched {
            let no_route = e.kind == Kind::Inbound && e.route().is_none();
            if unmatched != no_route {
                return false;
            }
        }
        if let Some(status) = self.status {
            let ok = match (status, e.status) {
                (_, None) => false,
                (StatusMatch::Exact(c), Some(s)) => c == s,
                (StatusMatch::Class(c), Some(s)) => s / 100 == c,
            };
            if !ok {
                return false;
            }
        }
        if let Some(pieces) = &self.path
            && !glob(pieces, e.path())
        {
            return false;
        }
        true
    }
}

/// Whether `text` matches the glob whose pieces (between the `*`) are `pieces`.
fn glob(pieces: &[String], text: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    let Some(mut text) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return text.is_empty();
    };
    for piece in middle {
        match text.find(piece.as_str()) {
            Some(at) => text = &text[at + piece.len()..],
            None => return false,
        }
    }
    text.len() >= last.len() && text.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(pattern: &str, text: &str) -> bool {
        let pieces: Vec<String> = pattern.split('*').map(str::to_owned).collect();
        glob(&pieces, text)
    }

    #[test]
    fn globs() {
        assert!(g("/api/now/table/*", "/api/now/table/incident"));
        assert!(g("/api/now/table/*", "/api/now/table/"));
        assert!(!g("/api/now/table/*", "/api/now/tables"));
        assert!(g("/api/now/table/incident", "/api/now/table/incident"));
        assert!(!g("/api/now/table/incident", "/api/now/table/incident/x"));
        assert!(g("*/incident/*", "/api/now/table/incident/abc"));
        assert!(g("/a*b*c", "/axxbyyc"));
        assert!(!g("/a*b*c", "/axxbyy"));
        assert!(g(
            "/ab*b",
            "/ab"[..]
                .to_owned()
                .as_str()
                .replace("/ab", "/abb")
                .as_str()
        ));
        assert!(!g("/ab*ab", "/ab"));
        assert!(g("*", "anything"));
    }

    #[test]
    fn statuses() {
        let c = |s: &str| {
            Criteria {
                status: Some(s.into()),
                ..Criteria::default()
            }
            .compile()
        };
        assert!(c("4xx").is_ok());
        assert!(c("404").is_ok());
        assert!(c("4x").is_err());
        assert!(c("abc").is_err());
        assert!(c("9xx").is_err());
    }
}
