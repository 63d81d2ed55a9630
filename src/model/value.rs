//! Records as they travel between storage, the record rules and rendering.

use std::borrow::Cow;
use std::collections::BTreeMap;

use time::{OffsetDateTime, format_description::FormatItem, macros::format_description};

/// A stored field value. Empty values are `Null`: the platform renders them as `""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        let s = s.into();
        if s.is_empty() {
            Value::Null
        } else {
            Value::Text(s)
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as the Table API shows it: every value is a string.
    pub fn to_api_string(&self) -> String {
        self.api_str().into_owned()
    }

    /// [`Self::to_api_string`], borrowing the text rather than copying it.
    pub fn api_str(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Text(s) => Cow::Borrowed(s),
            Value::Bool(true) => Cow::Borrowed("true"),
            Value::Bool(false) => Cow::Borrowed("false"),
            Value::Int(i) => Cow::Owned(i.to_string()),
        }
    }
}

/// One record: field name to value. Field names are the registry's, so they are `'static`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record(pub BTreeMap<&'static str, Value>);

impl Record {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, field: &str) -> &Value {
        self.0.get(field).unwrap_or(&Value::Null)
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.get(field).as_str()
    }

    pub fn sys_id(&self) -> &str {
        self.str("sys_id").unwrap_or_default()
    }

    pub fn set(&mut self, field: &'static str, value: Value) {
        self.0.insert(field, value);
    }

    pub fn with(mut self, field: &'static str, value: Value) -> Self {
        self.set(field, value);
        self
    }
}

impl FromIterator<(&'static str, Value)> for Record {
    fn from_iter<I: IntoIterator<Item = (&'static str, Value)>>(fields: I) -> Self {
        Record(fields.into_iter().collect())
    }
}

/// A new sys_id: 32 lowercase hex digits, the first 12 the time in milliseconds and the other
/// 20 random (80 bits). Clients treat sys_ids as opaque; ids made one after another sort
/// together, so an insert lands at the end of each index on sys_id instead of on a random page
/// of it. With random ids, a create at 10^6 interactions dirtied a page per such index (and
/// the WAL grew by about 23 KB a create).
pub fn new_sys_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        & 0xFFFF_FFFF_FFFF;
    format!("{millis:012x}{}", hex::encode(rand::random::<[u8; 10]>()))
}

/// Whether `s` has the form of a sys_id.
pub fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

const DATE_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// The current time in the platform's format, `YYYY-MM-DD HH:MM:SS` UTC.
pub fn now() -> String {
    format_date_time(OffsetDateTime::now_utc())
}

pub fn format_date_time(t: OffsetDateTime) -> String {
    t.format(DATE_TIME)
        .expect("the date-time format has only numeric components")
}

/// Whether `s` is a valid `YYYY-MM-DD HH:MM:SS` date-time.
pub fn is_date_time(s: &str) -> bool {
    parse_date_time(s).is_some()
}

/// A `YYYY-MM-DD HH:MM:SS` date-time, read as UTC.
pub fn parse_date_time(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s, DATE_TIME)
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_ids_are_32_lowercase_hex_and_distinct() {
        let a = new_sys_id();
        assert!(is_sys_id(&a), "{a}");
        assert_ne!(a, new_sys_id());
        assert!(!is_sys_id("ABCDEF0123456789abcdef0123456789"));
        assert!(!is_sys_id("abc"));
    }

    #[test]
    fn sys_ids_made_later_sort_later() {
        let first = new_sys_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_sys_id();
        assert!(first < second, "{first} then {second}");
        assert!(is_sys_id(&second));
    }

    #[test]
    fn dates_use_the_platform_format() {
        let now = now();
        assert_eq!(now.len(), 19);
        assert!(is_date_time(&now));
        assert!(is_date_time("2026-01-31 23:59:59"));
        assert!(!is_date_time("2026-02-31 00:00:00"));
        assert!(!is_date_time("2026-01-01T00:00:00"));
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(Value::text(""), Value::Null);
        assert_eq!(Value::Null.to_api_string(), "");
        assert_eq!(Value::Bool(true).to_api_string(), "true");
    }
}
