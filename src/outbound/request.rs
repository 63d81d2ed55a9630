//! An event delivery as an HTTP request: the headers every delivery has, the provider's
//! authentication (Basic, Bearer, or an HMAC-SHA256 signature of the body), and the same
//! headers as the outbound log shows them, credentials masked.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::model::value::Record;

/// A delivery's method and headers, in the order they are sent. The body is the event's
/// payload, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: what a provider recomputes.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The request delivering `event` (attempt number `attempt`) to `provider`.
pub fn delivery(provider: &Record, event: &Record, attempt: i64, body: &[u8]) -> Delivery {
    let text = |r: &Record, f: &str| r.str(f).unwrap_or_default().to_owned();
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "User-Agent".to_owned(),
            concat!("switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
        ),
        ("X-Switchboard-Event".to_owned(), text(event, "event_type")),
        (
            "X-Switchboard-Event-Id".to_owned(),
            event.sys_id().to_owned(),
        ),
        (
            "X-Switchboard-Delivery-Attempt".to_owned(),
            attempt.to_string(),
        ),
    ];
    match provider.str("authentication").unwrap_or("none") {
        "basic" => {
            use base64::Engine;
            let pair = format!(
                "{}:{}",
                text(provider, "username"),
                text(provider, "password")
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("Authorization".to_owned(), format!("Basic {encoded}")));
        }
        "bearer" => {
            let token = text(provider, "token");
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
        }
        "hmac" => {
            let name = provider
                .str("signature_header")
                .unwrap_or("X-Switchboard-Signature")
                .to_owned();
            let secret = text(provider, "secret");
            headers.push((name, signature(secret.as_bytes(), body)));
        }
        _ => {}
    }
    Delivery {
        url: text(provider, "endpoint_url"),
        headers,
    }
}

/// The headers as the log keeps them, one `Name: value` a line, credentials masked.
pub fn logged_headers(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(
            |(name, value)| match name.eq_ignore_ascii_case("authorization") {
                true => {
                    let scheme = value.split(' ').next().unwrap_or_default();
                    format!("{name}: {scheme} ********")
                }
                false => format!("{name}: {value}"),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::Value;

    fn provider(authentication: &str) -> Record {
        Record::new()
            .with("endpoint_url", Value::text("http://cc.example/events"))
            .with("authentication", Value::text(authentication))
            .with("username", Value::text("cc"))
            .with("password", Value::text("pw"))
            .with("token", Value::text("tok"))
            .with("secret", Value::text("s3cret"))
            .with("signature_header", Value::text("X-Signature"))
    }

    fn event() -> Record {
        Record::new()
            .with("sys_id", Value::text("e".repeat(32)))
            .with("event_type", Value::text("work_item.offered"))
    }

    fn header<'a>(d: &'a Delivery, name: &str) -> Option<&'a str> {
        d.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2.
        let mac = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn every_delivery_names_its_event_and_attempt() {
        let d = delivery(&provider("none"), &event(), 3, b"{}");
        assert_eq!(d.url, "http://cc.example/events");
        assert_eq!(header(&d, "X-Switchboard-Event"), Some("work_item.offered"));
        assert_eq!(
            header(&d, "X-Switchboard-Event-Id"),
            Some("e".repeat(32).as_str())
        );
        assert_eq!(header(&d, "X-Switchboard-Delivery-Attempt"), Some("3"));
        assert_eq!(header(&d, "Authorization"), None);
    }

    #[test]
    fn each_authentication_adds_its_header() {
        let basic = delivery(&provider("basic"), &event(), 1, b"{}");
        assert_eq!(header(&basic, "Authorization"), Some("Basic Y2M6cHc="));
        let bearer = delivery(&provider("bearer"), &event(), 1, b"{}");
        assert_eq!(header(&bearer, "Authorization"), Some("Bearer tok"));
        let signed = delivery(&provider("hmac"), &event(), 1, b"{\"a\":1}");
        let expected = signature(b"s3cret", b"{\"a\":1}");
        assert_eq!(header(&signed, "X-Signature"), Some(expected.as_str()));
    }

    #[test]
    fn the_log_masks_credentials() {
        let basic = delivery(&provider("basic"), &event(), 1, b"{}");
        let logged = logged_headers(&basic.headers);
        assert!(logged.contains("Authorization: Basic ********"), "{logged}");
        assert!(!logged.contains("Y2M6cHc="), "{logged}");
        assert!(logged.contains("X-Switchboard-Event: work_item.offered"));
    }
}
