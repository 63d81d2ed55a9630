//! Faults injected on purpose (docs/control-plane.md, "Fault injection"): the rules a test sets
//! through `/_switchboard/faults`, which of them a request or an outbound delivery meets, and
//! the answers they need that no handler gives (a dropped connection, a cut body).
//!
//! The rule set lives in this node's memory. Its hot path, with no live rule, is one atomic
//! load ([`Faults::is_empty`]); the lock is taken only while some rule is live.

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Frame;

/// The most rules a node keeps (spent ones included); a rule past it is refused.
pub const MAX_RULES: usize = 1000;

/// The name of the pseudo-API whose rules act on outbound deliveries.
pub const OUTBOUND: &str = "outbound";

/// What a rule does to the requests it fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answer `status` in the platform's envelope (after any latency); the handler never runs.
    Respond,
    /// Wait the latency, then answer normally.
    Delay,
    /// Close the connection without an answer (after any latency).
    Drop,
    /// Answer normally, but send only part of the body (the `Content-Length` names it all),
    /// then close the connection.
    Truncate,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Respond => "respond",
            Action::Delay => "delay",
            Action::Drop => "drop",
            Action::Truncate => "truncate",
        }
    }
}

/// A latency: fixed, or drawn evenly from a range each time the rule fires. Written as a
/// number of milliseconds, or `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Latency {
    Fixed(u64),
    Range(u64, u64),
}

impl Latency {
    fn draw(self) -> Duration {
        Duration::from_millis(match self {
            Latency::Fixed(ms) => ms,
            Latency::Range(min, max) => rand::random_range(min..=max),
        })
    }
}

/// A rule as it is asked for: every filter optional (none matches every platform request),
/// already checked by the API that reads it.
#[derive(Debug, Clone, Default)]
pub struct NewRule {
    /// An API's name (`table`, `interaction`, ...), or [`OUTBOUND`].
    pub api: Option<String>,
    pub method: Option<String>,
    /// A glob on the request's path: `*` stands for any characters, `/` included.
    pub path: Option<String>,
    pub user: Option<String>,
    /// An outbound provider's name or sys_id.
    pub provider: Option<String>,
    pub latency_ms: Option<Latency>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub message: Option<String>,
    pub action: Option<Action>,
    pub probability: Option<f64>,
    pub times: Option<u64>,
}

/// A rule as it is listed, with its counters.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FaultRule {
    pub id: String,
    pub api: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub user: Option<String>,
    pub provider: Option<String>,
    /// Milliseconds: a number, or `[min, max]`.
    #[schema(value_type = Option<Object>)]
    pub latency_ms: Option<Latency>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub message: Option<String>,
    pub action: Action,
    pub probability: f64,
    /// How many faults the rule injects in all (null: no end).
    pub times: Option<u64>,
    /// How many it has left to inject (null: no end); 0 once spent.
    pub remaining: Option<u64>,
    /// Requests (or deliveries) its filters matched, whether or not it fired on them.
    pub matched: u64,
    /// Faults it injected.
    pub fired: u64,
}

impl FaultRule {
    fn live(&self) -> bool {
        self.remaining != Some(0)
    }

    fn matches(&self, target: &Target<'_>) -> bool {
        let api = match &self.api {
            Some(api) => api == target.api,
            // A rule naming no API is for the platform's requests, not outbound deliveries.
            None => target.api != OUTBOUND,
        };
        api && self
            .method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(target.method))
            && self.path.as_ref().is_none_or(|p| glob(p, target.path))
            && self
                .user
                .as_ref()
                .is_none_or(|u| target.user == Some(u.as_str()))
            && self.provider.as_ref().is_none_or(|p| {
                target
                    .provider
                    .is_some_and(|(name, id)| p == name || p == id)
            })
    }
}

/// What a fault is about to act on.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The API's name, or [`OUTBOUND`].
    pub api: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The user name the request names, when known.
    pub user: Option<&'a str>,
    /// An outbound delivery's provider: (name, sys_id).
    pub provider: Option<(&'a str, &'a str)>,
}

/// A fault to inject now: what the rule that fired says, its latency drawn.
#[derive(Debug, Clone)]
pub struct Fault {
    pub rule: String,
    pub action: Action,
    pub latency: Option<Duration>,
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
    pub message: Option<String>,
}

impl Fault {
    /// The fault in words, for the log and the journal.
    pub fn note(&self) -> FaultNote {
        let mut text = format!("fault rule {}: {}", self.rule, self.action.name());
        if let Some(status) = self.status {
            text.push_str(&format!(" {}", status.as_u16()));
        }
        if let Some(latency) = self.latency {
            text.push_str(&format!(" after {} ms", latency.as_millis()));
        }
        FaultNote(text)
    }

    /// The platform's usual message for the status, unless the rule gave one.
    pub fn message(&self) -> String {
        if let Some(message) = &self.message {
            return message.clone();
        }
        let status = self.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match status {
            StatusCode::TOO_MANY_REQUESTS => "Rate limit exceeded".into(),
            StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable".into(),
            StatusCode::INTERNAL_SERVER_ERROR => "Internal server error".into(),
            StatusCode::UNAUTHORIZED => "User Not Authenticated".into(),
            other => other.canonical_reason().unwrap_or("Error").into(),
        }
    }

    /// The detail of an injected answer: it says it was injected, and by which rule.
    pub fn detail(&self) -> String {
        format!("Injected by switchboard fault rule {}", self.rule)
    }
}

/// A response extension marking an answer a fault rule acted on (the journal shows it), with
/// the rule's id and action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultNote(pub String);

/// The fault rules of this node.
#[derive(Debug, Default)]
pub struct Faults {
    /// Rules not yet spent: zero means no request need look further.
    live: AtomicUsize,
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    fn rules(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        // A panic while holding the lock leaves plain counters: still usable.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether no rule is live: the one check a request makes when none is.
    pub fn is_empty(&self) -> bool {
        self.live.load(Ordering::Relaxed) == 0
    }

    /// Adds a rule (its id new); None when [`MAX_RULES`] are kept already.
    pub fn add(&self, new: NewRule) -> Option<FaultRule> {
        let action = new.action.unwrap_or(match new.status {
            Some(_) => Action::Respond,
            None => Action::Delay,
        });
        let rule = FaultRule {
            id: crate::model::value::new_sys_id(),
            api: new.api,
            method: new.method.map(|m| m.to_ascii_uppercase()),
            path: new.path,
            user: new.user,
            provider: new.provider,
            latency_ms: new.latency_ms,
            status: new.status,
            retry_after: new.retry_after,
            message: new.message,
            action,
            probability: new.probability.unwrap_or(1.0),
            times: new.times,
            remaining: new.times,
            matched: 0,
            fired: 0,
        };
        let mut rules = self.rules();
        if rules.len() >= MAX_RULES {
            return None;
        }
        if rule.live() {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
        rules.push(rule.clone());
        Some(rule)
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.rules().clone()
    }

    pub fn get(&self, id: &str) -> Option<FaultRule> {
        self.rules().iter().find(|r| r.id == id).cloned()
    }

    /// Removes a rule; false when there is none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let mut rules = self.rules();
        let Some(at) = rules.iter().position(|r| r.id == id) else {
            return false;
        };
        if rules.remove(at).live() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
        true
    }

    pub fn clear(&self) {
        let mut rules = self.rules();
        rules.clear();
        self.live.store(0, Ordering::Relaxed);
    }

    /// Whether a live rule names a user (then the caller needs finding out first).
    pub fn needs_user(&self) -> bool {
        !self.is_empty() && self.rules().iter().any(|r| r.live() && r.user.is_some())
    }

    /// The fault to inject on `target`, if any: the first live rule (in the order they were
    /// added) whose filters match and whose probability comes up. Every live rule that matches
    /// before it counts the match.
    pub fn decide(&self, target: &Target<'_>) -> Option<Fault> {
        if self.is_empty() {
            return None;
        }
        let mut rules = self.rules();
        for rule in rules.iter_mut().filter(|r| r.live()) {
            if !rule.matches(target) {
                continue;
            }
            rule.matched += 1;
            if rule.probability < 1.0 && rand::random::<f64>() >= rule.probability {
                continue;
            }
            rule.fired += 1;
            if let Some(remaining) = &mut rule.remaining {
                *remaining -= 1;
                if *remaining == 0 {
                    self.live.fetch_sub(1, Ordering::Relaxed);
                }
            }
            return Some(Fault {
                rule: rule.id.clone(),
                action: rule.action,
                latency: rule.latency_ms.map(Latency::draw),
                status: rule.status.and_then(|s| StatusCode::from_u16(s).ok()),
                retry_after: rule.retry_after,
                message: rule.message.clone(),
            });
        }
        None
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A response whose body fails at once: hyper closes the connection before it has written
/// anything, so the client sees no status line (an HTTP/2 stream is reset).
pub fn dropped() -> Response {
    let mut response = Body::new(Failing {
        first: None,
        wait: None,
    })
    .into_response();
    // Not a success: nothing (`X-no-response-body`) replaces the body on the way out.
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// A response extension asking the conventions to cut the body once it is rendered
/// ([`truncate`]).
#[derive(Debug, Clone, Copy)]
pub struct Truncate;

/// The rendered `response` with a `Content-Length` naming its whole body, of which only the
/// first half is sent before the connection closes.
pub async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return dropped(),
    };
    // An empty body is cut too: one byte is promised, none sent.
    let declared = bytes.len().max(1);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    parts.headers.remove(header::TRANSFER_ENCODING);
    let sent = bytes.slice(..bytes.len() / 2);
    let body = Failing {
        first: Some(sent),
        wait: None,
    };
    Response::from_parts(parts, Body::new(body))
}

/// A body that yields `first` (if any), then fails. Between the two it waits a moment: hyper
/// writes what it holds only when the body makes it wait, and a failure at once would lose
/// the bytes already given.
struct Failing {
    first: Option<Bytes>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Failing {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(first) = self.first.take() {
            self.wait = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
            if !first.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(first))));
            }
        }
        if let Some(wait) = &mut self.wait {
            std::task::ready!(wait.as_mut().poll(cx));
        }
        let error = std::io::Error::other("connection closed by a fault rule");
        Poll::Ready(Some(Err(error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_any_run_of_characters() {
        assert!(glob("/api/now/table/incident*", "/api/now/table/incident"));
        assert!(glob(
            "/api/now/table/incident*",
            "/api/now/table/incident/abc"
        ));
        assert!(!glob("/api/now/table/incident*", "/api/now/table/problem"));
        assert!(glob("*/incident", "/api/now/v2/table/incident"));
        assert!(glob("/api/*/table/*", "/api/now/table/x"));
        assert!(!glob("/api/now", "/api/now/table"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*bc*c", "abc"));
    }

    #[test]
    fn the_note_names_the_rule_its_action_status_and_latency() {
        let fault = Fault {
            rule: "r1".into(),
            action: Action::Respond,
            latency: Some(Duration::from_millis(250)),
            status: Some(StatusCode::SERVICE_UNAVAILABLE),
            retry_after: Some(5),
            message: None,
        };
        assert_eq!(
            fault.note(),
            FaultNote("fault rule r1: respond 503 after 250 ms".into())
        );
        assert_eq!(fault.message(), "Service Unavailable");
        assert_eq!(fault.detail(), "Injected by switchboard fault rule r1");
    }

    fn target(api: &str) -> Target<'_> {
        Target {
            api,
            method: "GET",
            path: "/api/now/table/incident",
            user: Some("admin"),
            provider: None,
        }
    }

    #[test]
    fn a_rule_with_times_is_spent_and_the_set_is_empty_again() {
        let faults = Faults::new();
        assert!(faults.is_empty());
        let rule = faults
            .add(NewRule {
                status: Some(503),
                times: Some(2),
                ..NewRule::default()
            })
            .unwrap();
        assert_eq!(rule.action, Action::Respond);
        assert!(!faults.is_empty());
        assert!(faults.decide(&target("table")).is_some());
        assert!(faults.decide(&target("table")).is_some());
        assert!(faults.decide(&target("table")).is_none());
        assert!(faults.is_empty());
        let listed = faults.get(&rule.id).unwrap();
        assert_eq!((listed.fired, listed.remaining), (2, Some(0)));
        // A rule naming no API never acts on outbound deliveries.
        faults.add(NewRule::default()).unwrap();
        assert!(faults.decide(&target(OUTBOUND)).is_none());
        assert!(faults.remove(&rule.id));
        assert!(!faults.remove(&rule.id));
        faults.clear();
        assert!(faults.is_empty() && faults.list().is_empty());
    }
}
