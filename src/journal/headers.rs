//! Headers as an entry keeps them ([`Headers`]): copied into one buffer of `name: value` lines,
//! each credential's value replaced by `***` ([`is_sensitive`]).
//!
//! One allocation and a copy, where a clone of the `HeaderMap` cost a table, a vector and a
//! reference count on each value, and kept each request's read buffer alive (a parsed value
//! points into it) for as long as the entry lived.

use axum::http::header::{self, HeaderMap, HeaderName};

/// The value a sensitive header is shown as.
const MASK: &[u8] = b"***";

/// Whether a header's value is a credential: shown as `***`.
fn is_sensitive(name: &HeaderName) -> bool {
    matches!(
        *name,
        header::AUTHORIZATION | header::COOKIE | header::SET_COOKIE | header::PROXY_AUTHORIZATION
    ) || names_a_secret(name.as_str().as_bytes())
}

/// Whether a header name (lower case) holds `token` (`x-usertoken` among them), `secret`,
/// `password` or `signature`: one pass over the name, since every header of every request is
/// asked.
fn names_a_secret(name: &[u8]) -> bool {
    (0..name.len()).any(|at| {
        let rest = &name[at..];
        match rest[0] {
            b't' => rest.starts_with(b"token"),
            b's' => rest.starts_with(b"secret") || rest.starts_with(b"signature"),
            b'p' => rest.starts_with(b"password"),
            _ => false,
        }
    })
}

/// A copy of some headers, credentials masked, in their order (a repeated header's values
/// together, as a `HeaderMap` holds them).
#[derive(Debug, Clone, Default)]
pub struct Headers(Vec<u8>);

impl Headers {
    /// A copy of `map`, with every credential's value replaced by `***`.
    pub fn masked(map: &HeaderMap) -> Headers {
        let mut headers = Headers::default();
        headers.fill(map);
        headers
    }

    /// Replaces these headers with a masked copy of `map`, in the buffer they had.
    pub fn fill(&mut self, map: &HeaderMap) {
        // One pass: the buffer is usually one an earlier request left, already large enough.
        let lines = &mut self.0;
        lines.clear();
        for (name, value) in map {
            lines.extend_from_slice(name.as_str().as_bytes());
            lines.extend_from_slice(b": ");
            match is_sensitive(name) {
                true => lines.extend_from_slice(MASK),
                false => lines.extend_from_slice(value.as_bytes()),
            }
            lines.push(b'\n');
        }
    }

    /// No headers, keeping the buffer.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Each header's name and value, in order. A value cannot hold a line feed (`HeaderValue`
    /// refuses one), so the lines split back exactly.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let at = line.windows(2).position(|w| w == b": ")?;
                let name = std::str::from_utf8(&line[..at]).ok()?;
                Some((name, &line[at + 2..]))
            })
    }

    /// The first value of header `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn secrets_are_found_anywhere_in_a_name() {
        for secret in [
            "x-usertoken",
            "token",
            "x-client-secret",
            "password",
            "x-sn-signature",
        ] {
            assert!(names_a_secret(secret.as_bytes()), "{secret}");
        }
        for plain in ["accept", "x-tok", "x-sign", "passwor", "host", ""] {
            assert!(!names_a_secret(plain.as_bytes()), "{plain}");
        }
    }

    #[test]
    fn credentials_are_masked_and_the_rest_kept_in_order() {
        let mut headers = HeaderMap::new();
        for name in [
            "authorization",
            "cookie",
            "set-cookie",
            "x-usertoken",
            "x-api-token",
            "x-client-secret",
            "x-password",
            "x-sn-signature",
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static("s"));
        }
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.append(header::VIA, HeaderValue::from_static("a"));
        headers.append(header::VIA, HeaderValue::from_static("b: c"));
        let shown = Headers::masked(&headers);
        let mut names = Vec::new();
        for (name, value) in shown.iter() {
            names.push(name);
            match name {
                "accept" => assert_eq!(value, b"application/json"),
                "via" => {}
                _ => assert_eq!(value, b"***", "{name}"),
            }
        }
        assert_eq!(names.len(), 11);
        assert_eq!(&names[8..], ["accept", "via", "via"]);
        let via: Vec<&[u8]> = shown
            .iter()
            .filter(|(n, _)| *n == "via")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(via, [&b"a"[..], &b"b: c"[..]]);
        assert_eq!(shown.get("accept"), Some(&b"application/json"[..]));
        assert_eq!(shown.get("host"), None);
        assert_eq!(Headers::masked(&HeaderMap::new()).iter().count(), 0);
    }
}
