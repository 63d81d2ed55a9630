//! Turning a client's field values (JSON, or XML read as JSON) into typed values for one table.
//!
//! This is the part of a write that needs no database: type checks, and hashing of write-only
//! secrets (done here, off the async runtime, before any transaction holds the writer).

use serde_json::Value as Json;

use super::RecordError;
use crate::domain::password;
use crate::model::filter::parse_bool;
use crate::model::registry::{Access, Field, FieldType, Table};
use crate::model::value::{Value, is_date_time};

/// A field value ready to store, or a reference still to be resolved inside the transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Ready(Value),
    /// A sys_id or display value of a record in the named table.
    Reference(&'static Table, String),
}

/// Validated values for some fields of one table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes(pub Vec<(&'static Field, Pending)>);

impl Changes {
    /// Sets a field by name; for values switchboard itself chooses, so the field must exist.
    pub fn set(mut self, field: &'static Field, value: Value) -> Self {
        self.0.retain(|(f, _)| f.name != field.name);
        self.0.push((field, Pending::Ready(value)));
        self
    }

    /// Whether these changes set `field`.
    pub fn sets(&self, field: &'static Field) -> bool {
        self.0.iter().any(|(f, _)| f.name == field.name)
    }
}

/// Validates a client's object against `table`. Unknown and read-only fields are ignored, as the
/// platform ignores them; a value of the wrong type is an error naming the field.
pub async fn from_json(
    table: &'static Table,
    body: &serde_json::Map<String, Json>,
) -> Result<Changes, RecordError> {
    let mut changes = Changes::default();
    for (name, raw) in body {
        let Some(field) = table.field(name) else {
            continue;
        };
        if field.access == Access::ReadOnly {
            continue;
        }
        let mut pending = convert(field, raw)?;
        if field.access == Access::WriteOnly
            && !field.kept
            && let Pending::Ready(Value::Text(secret)) = &pending
        {
            pending = Pending::Ready(Value::Text(password::hash(secret.clone()).await?));
        }
        changes.0.push((field, pending));
    }
    Ok(changes)
}

fn convert(field: &'static Field, raw: &Json) -> Result<Pending, RecordError> {
    let invalid = |what: &str| RecordError::invalid(field.name, what);
    // A reference object read back from the Table API is accepted: `{"value", "link"}` names the
    // record by sys_id, `{"display_value", "link"}` (sysparm_display_value=true) by display value.
    let raw = match (field.ty, raw) {
        (FieldType::Reference(_), Json::Object(o)) => o
            .get("value")
            .or_else(|| o.get("display_value"))
            .ok_or_else(|| invalid("a reference object needs a value or a display_value"))?,
        _ => raw,
    };
    let text = match raw {
        Json::Null => return Ok(Pending::Ready(Value::Null)),
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::Array(_) | Json::Object(_) if field.ty == FieldType::Json => raw.to_string(),
        Json::Array(_) | Json::Object(_) => return Err(invalid("must be a single value")),
    };
    if text.is_empty() {
        return Ok(Pending::Ready(Value::Null));
    }
    // No database stores NUL in text the same way (PostgreSQL refuses it): refused everywhere.
    if text.contains('\0') {
        return Err(invalid("may not contain NUL characters"));
    }
    let value = match field.ty {
        FieldType::String => Value::Text(text),
        FieldType::Boolean => Value::Bool(
            parse_bool(&text).ok_or_else(|| invalid("must be a boolean (true or false)"))?,
        ),
        FieldType::Integer => Value::Int(integer(field, &text)?),
        FieldType::DateTime if is_date_time(&text) => Value::Text(text),
        FieldType::DateTime => {
            return Err(invalid("must be a date-time as YYYY-MM-DD HH:MM:SS"));
        }
        FieldType::Json => {
            serde_json::from_str::<Json>(&text).map_err(|_| invalid("must be valid JSON"))?;
            Value::Text(text)
        }
        FieldType::Reference(target) => return Ok(Pending::Reference(target, text)),
    };
    Ok(Pending::Ready(value))
}

/// An integer within the field's range. A number that does not fit 64 bits is out of range
/// like any other, never rounded or wrapped into it.
fn integer(field: &Field, text: &str) -> Result<i64, RecordError> {
    let parsed = text.parse::<i64>().ok();
    match field.range {
        None => parsed.ok_or_else(|| RecordError::invalid(field.name, "must be an integer")),
        Some((min, max)) => parsed.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
            RecordError::invalid(
                field.name,
                format!("must be an integer between {min} and {max}"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::registry::table;
    use serde_json::json;

    async fn changes(t: &str, body: Json) -> Result<Changes, RecordError> {
        from_json(table(t).unwrap(), body.as_object().unwrap()).await
    }

    fn value_of<'a>(c: &'a Changes, name: &str) -> &'a Pending {
        &c.0.iter().find(|(f, _)| f.name == name).unwrap().1
    }

    #[tokio::test]
    async fn converts_by_type_and_ignores_unknown_and_read_only() {
        let c = changes(
            "sys_user",
            json!({"user_name": "a", "active": "false", "nope": 1, "sys_mod_count": 9, "roles": "admin"}),
        )
        .await
        .unwrap();
        assert_eq!(c.0.len(), 2);
        assert_eq!(value_of(&c, "active"), &Pending::Ready(Value::Bool(false)));
    }

    #[tokio::test]
    async fn wrong_types_name_the_field() {
        let e = changes("sys_user", json!({"active": "maybe"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("active"), "{e}");
        assert!(
            changes("oauth_entity", json!({"access_token_lifespan": "soon"}))
                .await
                .is_err()
        );
        assert!(
            changes("interaction", json!({"opened_at": "yesterday"}))
                .await
                .is_err()
        );
        assert!(
            changes("sys_user", json!({"email": {"a": 1}}))
                .await
                .is_err()
        );
        assert!(
            changes("interaction_json_blob", json!({"value": "{not json"}))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn references_wait_for_resolution_and_secrets_are_hashed() {
        let c = changes(
            "sys_user_has_role",
            json!({"user": {"value": "abc", "link": "x"}, "role": "admin"}),
        )
        .await
        .unwrap();
        assert_eq!(
            value_of(&c, "user"),
            &Pending::Reference(&crate::model::registry::SYS_USER, "abc".into())
        );
        let c = changes("sys_user", json!({"user_password": "s3cret"}))
            .await
            .unwrap();
        let Pending::Ready(Value::Text(hash)) = value_of(&c, "user_password") else {
            panic!()
        };
        assert!(hash.starts_with("$argon2id$"), "{hash}");
    }

    #[tokio::test]
    async fn integers_are_held_to_their_range() {
        let max = crate::model::registry::MAX_TOKEN_LIFESPAN;
        for ok in [json!(1), json!(max), json!("60")] {
            let c = changes("oauth_entity", json!({"access_token_lifespan": ok}))
                .await
                .unwrap();
            assert!(matches!(
                value_of(&c, "access_token_lifespan"),
                Pending::Ready(Value::Int(_))
            ));
        }
        for bad in [
            json!(0),
            json!(-1),
            json!(max + 1),
            json!(i64::MAX),
            json!(u64::MAX),
        ] {
            let e = changes("oauth_entity", json!({"refresh_token_lifespan": bad}))
                .await
                .unwrap_err()
                .to_string();
            assert!(e.contains("'refresh_token_lifespan'"), "{e}");
            assert!(e.contains(&format!("between 1 and {max}")), "{e}");
        }
    }

    #[tokio::test]
    async fn text_may_not_hold_nul() {
        let e = changes("sys_user", json!({"user_name": "a\u{0}b"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("user_name"), "{e}");
    }

    #[tokio::test]
    async fn json_fields_take_objects() {
        let c = changes("interaction_json_blob", json!({"value": {"a": [1]}}))
            .await
            .unwrap();
        assert_eq!(
            value_of(&c, "value"),
            &Pending::Ready(Value::Text("{\"a\":[1]}".into()))
        );
    }
}
