//! The JSON bodies of events: one envelope for every kind (its id, kind, sequence, time and
//! provider), and the same small objects for the things events name (a document, a work item,
//! a queue, a user, a presence state), so a provider parses each once. docs/outbound-events.md
//! lists every field.

use serde_json::{Map, Value as Json, json};

use super::EventType;
use crate::domain::Result;
use crate::model::registry::{self, Table};
use crate::model::value::{self, Record};
use crate::storage::Tx;

/// The version of the body's format, sent in every event; raised if a field changes meaning.
pub const FORMAT_VERSION: i64 = 1;

/// The whole body: the common fields, then the event's own.
pub fn envelope(
    id: &str,
    kind: EventType,
    sequence: i64,
    provider: &Record,
    fields: Map<String, Json>,
) -> Json {
    let mut body = Map::new();
    body.insert("event_id".into(), json!(id));
    body.insert("event_type".into(), json!(kind.name()));
    body.insert("format_version".into(), json!(FORMAT_VERSION));
    body.insert("sequence".into(), json!(sequence));
    body.insert("occurred_at".into(), json!(iso_8601(&value::now())));
    body.insert(
        "provider".into(),
        json!({"sys_id": provider.sys_id(), "name": text(provider, "name")}),
    );
    body.extend(fields);
    Json::Object(body)
}

/// `2026-11-28 09:30:00` (the platform's stored form, UTC) as `2026-11-28T09:30:00Z`.
pub fn iso_8601(stored: &str) -> String {
    format!("{}Z", stored.replacen(' ', "T", 1))
}

fn text(record: &Record, field: &str) -> Json {
    record.str(field).map_or(Json::Null, |v| json!(v))
}

/// A routed document: its table, sys_id, display value (an interaction's or incident's
/// number) and whether it is active.
pub fn document(table: &str, record: &Record) -> Json {
    let display = registry::table(table)
        .and_then(|t| {
            t.display
                .iter()
                .find_map(|f| record.str(f).filter(|v| !v.is_empty()))
        })
        .map_or(Json::Null, |v| json!(v));
    json!({
        "table": table,
        "sys_id": record.sys_id(),
        "number": display,
        "active": record.get("active") == &value::Value::Bool(true),
    })
}

/// A work item as events show it (its queue and agent are objects of their own).
pub fn work_item(item: &Record) -> Json {
    json!({
        "sys_id": item.sys_id(),
        "state": text(item, "state"),
        "reason": text(item, "reason"),
        "active": item.get("active") == &value::Value::Bool(true),
        "offer_count": match item.get("offer_count") {
            value::Value::Int(n) => json!(n),
            _ => json!(0),
        },
        "transfer_type": text(item, "transfer_type"),
        "consult": item.get("consult") == &value::Value::Bool(true),
        "external_segment_id": text(item, "external_segment_id"),
        "timeout_on": item.str("timeout_on").map_or(Json::Null, |t| json!(iso_8601(t))),
    })
}

/// The record `id` of `table` read with `shape`, or null when there is none.
async fn lookup(
    tx: &mut Tx,
    table: &'static Table,
    id: Option<&str>,
    shape: fn(&Record) -> Json,
) -> Result<Json> {
    let Some(id) = id.filter(|id| !id.is_empty()) else {
        return Ok(Json::Null);
    };
    Ok(match tx.get(table, id).await? {
        Some(record) => shape(&record),
        None => json!({"sys_id": id}),
    })
}

/// A user: sys_id, user name and name.
pub async fn user(tx: &mut Tx, id: Option<&str>) -> Result<Json> {
    lookup(tx, &registry::SYS_USER, id, |u| {
        json!({"sys_id": u.sys_id(), "user_name": text(u, "user_name"), "name": text(u, "name")})
    })
    .await
}

/// A queue: sys_id, name, and the provider's own id for it.
pub async fn queue(tx: &mut Tx, id: Option<&str>) -> Result<Json> {
    lookup(tx, &registry::AWA_QUEUE, id, |q| {
        json!({"sys_id": q.sys_id(), "name": text(q, "name"), "external_id": text(q, "external_id")})
    })
    .await
}

/// A presence state: sys_id, name, and whether it takes work.
pub async fn presence_state(tx: &mut Tx, id: Option<&str>) -> Result<Json> {
    lookup(tx, &registry::AWA_PRESENCE_STATE, id, |s| {
        json!({
            "sys_id": s.sys_id(),
            "name": text(s, "name"),
            "available": s.get("available") == &value::Value::Bool(true),
        })
    })
    .await
}

/// A reject reason: sys_id and its words.
pub async fn reject_reason(tx: &mut Tx, id: Option<&str>) -> Result<Json> {
    lookup(
        tx,
        &registry::AWA_REJECT_REASON,
        id,
        |r| json!({"sys_id": r.sys_id(), "reason": text(r, "reason")}),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::Value;

    #[test]
    fn stored_times_become_iso_8601_in_utc() {
        assert_eq!(iso_8601("2026-11-28 09:30:00"), "2026-11-28T09:30:00Z");
    }

    #[test]
    fn the_envelope_has_the_common_fields_and_keeps_the_events_own() {
        let provider = Record::new()
            .with("sys_id", Value::text("p".repeat(32)))
            .with("name", Value::text("Genesys"));
        let mut fields = Map::new();
        fields.insert("agent".into(), json!({"sys_id": "a"}));
        let body = envelope(
            &"e".repeat(32),
            EventType::WorkItemOffered,
            7,
            &provider,
            fields,
        );
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "agent",
                "event_id",
                "event_type",
                "format_version",
                "occurred_at",
                "provider",
                "sequence"
            ]
        );
        assert_eq!(body["event_type"], "work_item.offered");
        assert_eq!(body["sequence"], 7);
        assert_eq!(body["provider"]["name"], "Genesys");
    }

    #[test]
    fn a_document_shows_its_number() {
        let interaction = Record::new()
            .with("sys_id", Value::text("i".repeat(32)))
            .with("number", Value::text("IMS0000001"))
            .with("active", Value::Bool(false));
        let shown = document("interaction", &interaction);
        assert_eq!(shown["number"], "IMS0000001");
        assert_eq!(shown["active"], false);
    }
}
