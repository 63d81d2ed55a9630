//! The platform's rules about records, applied on every write path.

use super::{RecordError, Result, awa_work, events, roles};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, Table};
use crate::model::value::{self, Record, Value};
use crate::storage::Tx;

/// Interaction numbers: `IMS` and seven digits (more once past 9,999,999).
pub fn interaction_number(n: i64) -> String {
    format!("IMS{n:07}")
}

/// Incident numbers: `INC` and seven digits, from the `incident` counter.
pub fn incident_number(n: i64) -> String {
    format!("INC{n:07}")
}

/// How a table's numbers are made from its counter's.
pub type NumberFormat = fn(i64) -> String;

/// A numbered table's counter and the format of its numbers.
pub fn numbering(table: &Table) -> Option<(&'static str, NumberFormat)> {
    match table.name {
        "interaction" => Some(("interaction", interaction_number)),
        "incident" => Some(("incident", incident_number)),
        _ => None,
    }
}

/// The next number of `counter` that no record of `table` has. A record may hold a number
/// ahead of the counter (the demo's IMS0000221, an incident renumbered for the demo): the
/// counter steps over it rather than every later insert clashing with it.
pub async fn next_free_number(
    tx: &mut Tx,
    table: &'static Table,
    counter: &str,
    format: fn(i64) -> String,
) -> Result<String> {
    let field = table
        .field("number")
        .expect("a numbered table has a number");
    loop {
        let candidate = format(tx.next_number(counter).await?);
        let holder = Select::filter(Filter::eq(field, Value::text(candidate.as_str()))).limit(1);
        if tx.select(table, &holder).await?.is_empty() {
            return Ok(candidate);
        }
    }
}

pub async fn before_insert(tx: &mut Tx, table: &Table, rec: &mut Record) -> Result<()> {
    match table.name {
        "sys_user" => {
            derive_user_name(rec);
            rec.set("roles", Value::Null);
        }
        "interaction" => {
            let interactions = &registry::INTERACTION;
            let number = next_free_number(tx, interactions, "interaction", interaction_number);
            rec.set("number", Value::Text(number.await?));
            if rec.get("state").is_null() {
                rec.set("state", Value::text("new"));
            }
            if rec.get("opened_at").is_null() {
                rec.set("opened_at", Value::Text(value::now()));
            }
        }
        "incident" => {
            let number = next_free_number(tx, &registry::INCIDENT, "incident", incident_number);
            rec.set("number", Value::Text(number.await?));
        }
        "sys_cs_conversation_member" => check_observer(tx, rec).await?,
        "awa_agent_capacity" => derive_capacity_for(rec),
        "awa_external_provider" => check_provider(rec)?,
        "oauth_entity" => check_jwt_family(rec)?,
        "x_switchboard_outbound_event" if rec.get("sequence").is_null() => {
            let n = tx.next_number(events::outbox::SEQUENCE_COUNTER).await?;
            rec.set("sequence", Value::Int(n));
        }
        "sys_outbound_http_log" => {
            let n = tx.next_number(events::outbox::LOG_COUNTER).await?;
            rec.set("sequence", Value::Int(n));
        }
        _ => {}
    }
    Ok(())
}

pub async fn before_update(
    tx: &mut Tx,
    table: &Table,
    before: &Record,
    rec: &mut Record,
) -> Result<()> {
    match table.name {
        "sys_user" => derive_user_name(rec),
        "awa_agent_capacity" => derive_capacity_for(rec),
        "awa_external_provider" => check_provider(rec)?,
        "oauth_entity" => check_jwt_family(rec)?,
        "sys_cs_conversation_member"
            if rec.get("member_type") != before.get("member_type")
                || rec.get("member") != before.get("member") =>
        {
            check_observer(tx, rec).await?
        }
        _ => {}
    }
    Ok(())
}

/// Keeps derived data in step after a write (`before` is None for an insert, `after` for a delete).
pub async fn after_write(
    tx: &mut Tx,
    table: &Table,
    before: Option<&Record>,
    after: Option<&Record>,
) -> Result<()> {
    // Boxed: an event is a record, whose own rules run through here.
    Box::pin(events::after_write(tx, table, before, after)).await?;
    match table.name {
        "sys_user_has_role" => {
            let mut users: Vec<&str> = [before, after]
                .into_iter()
                .flatten()
                .filter_map(|r| r.str("user"))
                .collect();
            users.dedup();
            roles::recompute(tx, Some(&users)).await
        }
        "sys_user_role_contains" => roles::recompute(tx, None).await,
        // A new password or a deactivation ends every OAuth session of the user.
        "sys_user" => match (before, after) {
            (Some(b), Some(a))
                if b.get("user_password") != a.get("user_password")
                    || (b.get("active") == &Value::Bool(true)
                        && a.get("active") != &Value::Bool(true)) =>
            {
                super::tokens::revoke_all_of(tx, a.sys_id()).await
            }
            _ => Ok(()),
        },
        // A new role changes nobody's roles until it is granted or contained.
        "sys_user_role" if before.is_some() => roles::recompute(tx, None).await,
        // An interaction opened with a queue waits in it (boxed: routing writes records, whose
        // own rules run through here).
        "interaction" if before.is_none() => match after {
            Some(a) => Box::pin(awa_work::document_opened(tx, a, now(), writer(a))).await,
            None => Ok(()),
        },
        _ => match (before, after) {
            // A document that closes ends its work items.
            (Some(b), Some(a))
                if b.get("active") == &Value::Bool(true)
                    && a.get("active") == &Value::Bool(false) =>
            {
                let closed =
                    awa_work::document_closed(tx, table.name, a.sys_id(), now(), writer(a));
                Box::pin(closed).await?;
                Box::pin(events::document_closed(tx, table, a)).await
            }
            _ => Ok(()),
        },
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Who made a write, for the records its rules write in turn.
fn writer(record: &Record) -> &str {
    record.str("sys_updated_by").unwrap_or("system")
}

/// `name` is "first last", as the platform derives it.
fn derive_user_name(rec: &mut Record) {
    let first = rec.str("first_name").unwrap_or_default();
    let last = rec.str("last_name").unwrap_or_default();
    let name = format!("{first} {last}").trim().to_owned();
    rec.set("name", Value::text(name));
}

/// An agent capacity is for its service channel, or, without one, universal: the value of the
/// table's unique key with the agent.
fn derive_capacity_for(rec: &mut Record) {
    let scope = rec
        .str("service_channel")
        .unwrap_or(registry::UNIVERSAL_CAPACITY)
        .to_owned();
    rec.set("capacity_for", Value::Text(scope));
}

/// A provider's URL, authentication and event types must be ones switchboard can use.
fn check_provider(provider: &Record) -> Result<()> {
    events::check_provider(provider)
        .map_err(|(field, message)| RecordError::invalid(field, message))
}

/// The JWT profile's algorithm family, when there is one, is `HS`, `RS` or `ES` (any case):
/// another would make every JWT bearer grant of the application fail.
fn check_jwt_family(application: &Record) -> Result<()> {
    match application.str("jwt_algorithm_family") {
        None => Ok(()),
        Some(f) if ["HS", "RS", "ES"].iter().any(|k| f.eq_ignore_ascii_case(k)) => Ok(()),
        Some(f) => Err(RecordError::invalid(
            "jwt_algorithm_family",
            format!("must be HS, RS or ES (or empty: no JWT profile), not '{f}'"),
        )),
    }
}

/// Only managers may observe a conversation.
async fn check_observer(tx: &mut Tx, member: &Record) -> Result<()> {
    if member.str("member_type") != Some("observer") {
        return Ok(());
    }
    let users = &registry::SYS_USER;
    let user = match member.str("member") {
        Some(id) => tx.get(users, id).await?,
        None => None,
    };
    let roles = user
        .as_ref()
        .and_then(|u| u.str("roles"))
        .unwrap_or_default();
    if roles::holds(roles, crate::model::roles::AWA_MANAGER) {
        Ok(())
    } else {
        Err(RecordError::Forbidden(
            "A conversation member of type observer must hold the awa_manager role".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_seven_digits() {
        assert_eq!(interaction_number(75), "IMS0000075");
        assert_eq!(interaction_number(12345678), "IMS12345678");
        assert_eq!(incident_number(1), "INC0000001");
    }

    #[test]
    fn a_capacity_is_for_its_channel_or_universal() {
        let mut r = Record::new().with("service_channel", Value::text("c1"));
        derive_capacity_for(&mut r);
        assert_eq!(r.str("capacity_for"), Some("c1"));
        let mut r = Record::new().with("capacity_for", Value::text("c1"));
        derive_capacity_for(&mut r);
        assert_eq!(r.str("capacity_for"), Some(registry::UNIVERSAL_CAPACITY));
    }

    #[test]
    fn user_name_is_first_and_last() {
        let mut r = Record::new()
            .with("first_name", Value::text("Ada"))
            .with("last_name", Value::text("Lovelace"));
        derive_user_name(&mut r);
        assert_eq!(r.str("name"), Some("Ada Lovelace"));
        let mut r = Record::new().with("last_name", Value::text("Lovelace"));
        derive_user_name(&mut r);
        assert_eq!(r.str("name"), Some("Lovelace"));
        let mut r = Record::new();
        derive_user_name(&mut r);
        assert!(r.get("name").is_null());
    }
}
