//! Entries as their readers see them: JSON, as documented in docs/control-plane.md. Nothing
//! of this runs while a request is recorded; it all happens when someone reads the journal.

use serde::ser::{SerializeMap, SerializeStruct};
use time::OffsetDateTime;

use super::{Captured, Entry, Headers};

/// `2026-11-28T12:34:56.789Z`.
fn rfc3339_ms(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Headers as a JSON object; a repeated header's values joined with `, `.
struct HeadersJson<'a>(&'a Headers);

impl serde::Serialize for HeadersJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A repeated header's values come together, in order.
        let mut joined: Vec<(&str, String)> = Vec::new();
        for (name, value) in self.0.iter() {
            let value = String::from_utf8_lossy(value);
            match joined.last_mut() {
                Some((last, values)) if *last == name => {
                    values.push_str(", ");
                    values.push_str(&value);
                }
                _ => joined.push((name, value.into_owned())),
            }
        }
        let mut map = s.serialize_map(Some(joined.len()))?;
        for (name, values) in &joined {
            map.serialize_entry(name, values)?;
        }
        map.end()
    }
}

/// A body as text when it is UTF-8 (a character cut by the cap is dropped), else base64.
fn body_text(captured: &Captured) -> (String, &'static str) {
    let bytes = captured.bytes();
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), "text"),
        Err(e) if captured.truncated && e.error_len().is_none() => {
            let text = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            (text.to_owned(), "text")
        }
        Err(_) => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            (encoded, "base64")
        }
    }
}

impl serde::Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut e = s.serialize_struct("Entry", 27)?;
        e.serialize_field("id", &self.id)?;
        e.serialize_field("kind", &self.kind)?;
        e.serialize_field("time", &rfc3339_ms(self.time))?;
        let ms = (self.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        e.serialize_field("duration_ms", &ms)?;
        e.serialize_field("method", self.method.as_str())?;
        e.serialize_field("path", self.path())?;
        e.serialize_field("query", &self.query())?;
        e.serialize_field("request_headers", &HeadersJson(&self.request_headers))?;
        let (text, encoding) = body_text(&self.request_body);
        e.serialize_field("request_body", &text)?;
        e.serialize_field("request_body_encoding", encoding)?;
        e.serialize_field("request_body_truncated", &self.request_body.truncated)?;
        e.serialize_field("status", &self.status)?;
        e.serialize_field("response_headers", &HeadersJson(&self.response_headers))?;
        let (text, encoding) = body_text(&self.response_body);
        e.serialize_field("response_body", &text)?;
        e.serialize_field("response_body_encoding", encoding)?;
        e.serialize_field("response_body_truncated", &self.response_body.truncated)?;
        e.serialize_field("user", &self.user())?;
        e.serialize_field("api", &self.api)?;
        e.serialize_field("route", &self.route())?;
        e.serialize_field("transaction_id", &self.transaction_id())?;
        e.serialize_field("fault", &self.fault)?;
        let outbound = self.outbound.as_ref();
        e.serialize_field("provider", &outbound.map(|o| &o.provider))?;
        e.serialize_field("event_type", &outbound.map(|o| &o.event_type))?;
        e.serialize_field("event_id", &outbound.map(|o| &o.event_id))?;
        e.serialize_field("attempt", &outbound.map(|o| o.attempt))?;
        e.serialize_field("error", &outbound.and_then(|o| o.error.as_ref()))?;
        e.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_text_or_base64() {
        let cut = Captured::of("héllo".as_bytes(), 2);
        assert_eq!(body_text(&cut), ("h".into(), "text"));
        let binary = Captured::of(&[0xff, 0x00], 10);
        assert_eq!(body_text(&binary), ("/wA=".into(), "base64"));
    }
}
