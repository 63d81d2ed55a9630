//! The deliverer's side of the outbox: which events are due, claiming one, and recording an
//! attempt (in the event and in `sys_outbound_http_log`).
//!
//! Order: an event is due only when it is the oldest undelivered event of its `ordering_key`
//! (a document or an agent), so each key's events go out one at a time, in `sequence` order;
//! different keys go out side by side. One node: an attempt starts with a claim, written in a
//! transaction that locks the event, naming the node and how long its claim lasts (the
//! provider's timeout and a margin). Other nodes skip a claimed event until the claim runs
//! out, which is also how an event whose node died mid-delivery is delivered again: at least
//! once, never lost, perhaps twice (the event id tells a duplicate).

use time::OffsetDateTime;

use crate::domain::{Changes, Result};
use crate::model::filter::{Filter, Op, Select, SortKey};
use crate::model::registry::{self, OUTBOUND_LOG_BODY_CHARS, field};
use crate::model::value::{self, Record, Value};
use crate::storage::{Storage, Tx};

/// The counter that numbers events: their order.
pub const SEQUENCE_COUNTER: &str = "outbound_event";
/// The counter that numbers outbound log records.
pub const LOG_COUNTER: &str = "outbound_http_log";

/// An event's states.
pub const READY: &str = "ready";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// The first retry waits this long; each one after twice the one before, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: time::Duration = time::Duration::seconds(1);
const MAX_BACKOFF: time::Duration = time::Duration::minutes(5);
/// The longest a provider's `Retry-After` may put a retry off.
const MAX_RETRY_AFTER: time::Duration = time::Duration::hours(1);
/// A claim lasts the provider's timeout and this much more.
const CLAIM_MARGIN: time::Duration = time::Duration::seconds(2);

/// `at` in the stored format, which holds whole seconds: rounded up, so that a retry or a
/// claim never ends before its time.
fn stamp(at: OffsetDateTime) -> Value {
    let whole = at.replace_nanosecond(0).unwrap_or(at);
    let at = match whole < at {
        true => whole + time::Duration::SECOND,
        false => whole,
    };
    Value::Text(value::format_date_time(at))
}

fn is_past(field: Option<&str>, now: &str) -> bool {
    field.is_none_or(|at| at <= now)
}

/// A page of the events to attempt now, and where the next page starts.
#[derive(Debug, Clone, Default)]
pub struct Due {
    /// Of the page's undelivered events, the first of each ordering key, when it is due and
    /// no claim holds it.
    pub events: Vec<Record>,
    /// The sequence the next page starts after: 0 (from the start again) once the page read
    /// the last undelivered event.
    pub next: i64,
}

/// The events to attempt now, among the `scan` undelivered events oldest first after sequence
/// `after`. A deliverer goes round the outbox page by page, so a provider that is down, its
/// waiting events filling whole pages, delays the others by a page's read rather than hiding
/// them. (An event first of its key in a page but not in the outbox is refused by [`claim`].)
pub async fn due(store: &dyn Storage, now: OffsetDateTime, scan: u64, after: i64) -> Result<Due> {
    let sequence = field!(OUTBOUND_EVENT, sequence);
    let mut select = Select::filter(
        Filter::eq(field!(OUTBOUND_EVENT, state), Value::text(READY))
            .and(Filter::Cond(sequence, Op::Gt(Value::Int(after)))),
    );
    select.order = vec![(SortKey::field(sequence), false)];
    let waiting = store
        .select(&registry::OUTBOUND_EVENT, &select.limit(scan))
        .await?;
    let next = match waiting.last() {
        Some(last) if waiting.len() as u64 == scan => match last.get("sequence") {
            Value::Int(n) => *n,
            _ => 0,
        },
        _ => 0,
    };
    let now = value::format_date_time(now);
    let mut seen = std::collections::HashSet::new();
    let events = waiting
        .into_iter()
        .filter(|e| seen.insert(e.str("ordering_key").unwrap_or_default().to_owned()))
        .filter(|e| is_past(e.str("next_attempt_on"), &now))
        .filter(|e| is_past(e.str("claimed_until"), &now))
        .collect();
    Ok(Due { events, next })
}

/// An event claimed for an attempt, and where it goes.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub event: Record,
    pub provider: Record,
    /// This attempt's number, from 1.
    pub attempt: i64,
}

/// Claims the event `id` for `node` if it is still ready, due, unclaimed and the first of its
/// key. None: another node has it, or it is no longer to be sent.
pub async fn claim(
    store: &dyn Storage,
    id: &str,
    node: &str,
    now: OffsetDateTime,
) -> Result<Option<Claimed>> {
    let mut tx = store.begin().await?;
    let events = &registry::OUTBOUND_EVENT;
    let Some(event) = tx.get_locked(events, id).await? else {
        return Ok(None);
    };
    let stamped = value::format_date_time(now);
    let ready = event.str("state") == Some(READY)
        && is_past(event.str("next_attempt_on"), &stamped)
        && is_past(event.str("claimed_until"), &stamped);
    if !ready || has_earlier(&mut tx, &event).await? {
        return Ok(None);
    }
    let provider = match event.str("provider") {
        Some(p) => tx.get(&registry::AWA_EXTERNAL_PROVIDER, p).await?,
        None => None,
    };
    let Some(provider) = provider else {
        return Ok(None);
    };
    // A claim that ran out without an outcome was an attempt too (counted when it was
    // claimed): its node stopped, or lost its database, mid-delivery. It is logged now.
    if let Some(previous) = event.str("claimed_by") {
        let lost = Attempt {
            url: provider.str("endpoint_url").unwrap_or_default().to_owned(),
            error: Some(format!(
                "no outcome recorded: the claim of {previous} ran out (the node stopped, or \
                 lost its database, during the attempt)"
            )),
            ..Attempt::default()
        };
        log(&mut tx, id, &lost).await?;
    }
    let attempt = attempts(&event) + 1;
    let events_changes = if attempt > max_attempts(&provider) {
        // The lost attempt was its last.
        Changes::default()
            .set(field!(OUTBOUND_EVENT, state), Value::text(FAILED))
            .set(field!(OUTBOUND_EVENT, claimed_by), Value::Null)
            .set(field!(OUTBOUND_EVENT, claimed_until), Value::Null)
    } else {
        let until = now + time::Duration::seconds(delivery_timeout(&provider)) + CLAIM_MARGIN;
        Changes::default()
            .set(field!(OUTBOUND_EVENT, attempts), Value::Int(attempt))
            .set(field!(OUTBOUND_EVENT, claimed_by), Value::text(node))
            .set(field!(OUTBOUND_EVENT, claimed_until), stamp(until))
    };
    let event = crate::domain::update(&mut tx, events, id, events_changes, "system").await?;
    tx.commit().await?;
    if event.str("state") != Some(READY) {
        return Ok(None);
    }
    Ok(Some(Claimed {
        event,
        provider,
        attempt,
    }))
}

/// The seconds one delivery to `provider` may take (its `timeout`).
pub fn delivery_timeout(provider: &Record) -> i64 {
    match provider.get("timeout") {
        Value::Int(s) => *s,
        _ => 10,
    }
}

fn max_attempts(provider: &Record) -> i64 {
    match provider.get("max_attempts") {
        Value::Int(n) => *n,
        _ => 10,
    }
}

fn attempts(event: &Record) -> i64 {
    match event.get("attempts") {
        Value::Int(n) => *n,
        _ => 0,
    }
}

/// Whether an earlier event of the same key is still to be delivered.
async fn has_earlier(tx: &mut Tx, event: &Record) -> Result<bool> {
    let Value::Int(sequence) = event.get("sequence") else {
        return Ok(false);
    };
    let key = event.str("ordering_key").unwrap_or_default();
    let earlier = Filter::eq(field!(OUTBOUND_EVENT, ordering_key), key.into())
        .and(Filter::eq(
            field!(OUTBOUND_EVENT, state),
            Value::text(READY),
        ))
        .and(Filter::Cond(
            field!(OUTBOUND_EVENT, sequence),
            Op::Lt(Value::Int(*sequence)),
        ));
    let found = tx
        .select(&registry::OUTBOUND_EVENT, &Select::filter(earlier).limit(1))
        .await?;
    Ok(!found.is_empty())
}

/// One HTTP request of a delivery, and what came of it, as the outbound log keeps it.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    pub url: String,
    pub scheme: String,
    pub hostname: String,
    pub path: String,
    pub request_headers: String,
    pub request_body: String,
    /// None: no answer (a refused connection, a timeout: see `error`).
    pub status: Option<u16>,
    pub response_headers: String,
    pub response_body: String,
    pub response_length: i64,
    pub elapsed_ms: i64,
    pub error: Option<String>,
    /// What the provider's `Retry-After` asked for.
    pub retry_after: Option<time::Duration>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// When an event that failed its `attempt`-th time is tried again.
pub fn backoff(attempt: i64, retry_after: Option<time::Duration>) -> time::Duration {
    let doublings = u32::try_from((attempt - 1).clamp(0, 20)).unwrap_or(20);
    let wait = (FIRST_BACKOFF * 2i32.pow(doublings)).min(MAX_BACKOFF);
    match retry_after {
        Some(asked) => wait.max(asked.min(MAX_RETRY_AFTER)),
        None => wait,
    }
}

/// The outcome of an attempt, for the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    /// Tried again later.
    Retry,
    /// Its attempts are used up.
    GaveUp,
    /// The claim had passed to another node; only the log records this attempt.
    Lost,
}

/// Records `attempt` of the claimed event: a log record, and the event delivered, to retry
/// (with its backoff) or given up. Another node's newer claim wins: then only the log changes.
pub async fn settle(
    store: &dyn Storage,
    claimed: &Claimed,
    node: &str,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Settled> {
    let mut tx = store.begin().await?;
    log(&mut tx, claimed.event.sys_id(), attempt).await?;
    let events = &registry::OUTBOUND_EVENT;
    let id = claimed.event.sys_id();
    let Some(event) = tx.get_locked(events, id).await? else {
        tx.commit().await?;
        return Ok(Settled::Lost);
    };
    if event.str("state") != Some(READY) || event.str("claimed_by") != Some(node) {
        tx.commit().await?;
        return Ok(Settled::Lost);
    }
    let tries = claimed.attempt;
    let settled = if attempt.succeeded() {
        Settled::Delivered
    } else if tries >= max_attempts(&claimed.provider) {
        Settled::GaveUp
    } else {
        Settled::Retry
    };
    let mut changes = Changes::default()
        .set(field!(OUTBOUND_EVENT, claimed_by), Value::Null)
        .set(field!(OUTBOUND_EVENT, claimed_until), Value::Null)
        .set(
            field!(OUTBOUND_EVENT, last_status),
            attempt
                .status
                .map_or(Value::Null, |s| Value::Int(i64::from(s))),
        )
        .set(
            field!(OUTBOUND_EVENT, last_error),
            attempt.error.clone().map_or(Value::Null, Value::text),
        );
    changes = match settled {
        Settled::Delivered => changes
            .set(field!(OUTBOUND_EVENT, state), Value::text(DELIVERED))
            .set(field!(OUTBOUND_EVENT, delivered_on), stamp(now)),
        Settled::GaveUp => changes.set(field!(OUTBOUND_EVENT, state), Value::text(FAILED)),
        _ => changes.set(
            field!(OUTBOUND_EVENT, next_attempt_on),
            stamp(now + backoff(tries, attempt.retry_after)),
        ),
    };
    crate::domain::update(&mut tx, events, id, changes, "system").await?;
    tx.commit().await?;
    Ok(settled)
}

/// The first [`OUTBOUND_LOG_BODY_CHARS`] characters of a body.
fn capped(body: &str) -> Value {
    match body.char_indices().nth(OUTBOUND_LOG_BODY_CHARS) {
        Some((end, _)) => Value::text(&body[..end]),
        None => Value::text(body),
    }
}

/// One attempt of the event `event` in the outbound log.
async fn log(tx: &mut Tx, event: &str, attempt: &Attempt) -> Result<()> {
    let text = |v: &str| Value::text(v);
    let changes = Changes::default()
        .set(field!(SYS_OUTBOUND_HTTP_LOG, http_method), text("POST"))
        .set(field!(SYS_OUTBOUND_HTTP_LOG, url), text(&attempt.url))
        .set(field!(SYS_OUTBOUND_HTTP_LOG, scheme), text(&attempt.scheme))
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, hostname),
            text(&attempt.hostname),
        )
        .set(field!(SYS_OUTBOUND_HTTP_LOG, path), text(&attempt.path))
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, response_status),
            attempt
                .status
                .map_or(Value::Null, |s| Value::Int(i64::from(s))),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, request_length),
            Value::Int(i64::try_from(attempt.request_body.len()).unwrap_or(i64::MAX)),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, response_length),
            Value::Int(attempt.response_length),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, response_time),
            Value::Int(attempt.elapsed_ms),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, source_table),
            text(registry::OUTBOUND_EVENT.name),
        )
        .set(field!(SYS_OUTBOUND_HTTP_LOG, source_record), text(event))
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, request_headers),
            text(&attempt.request_headers),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, request_body),
            capped(&attempt.request_body),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, response_headers),
            text(&attempt.response_headers),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, response_body),
            capped(&attempt.response_body),
        )
        .set(
            field!(SYS_OUTBOUND_HTTP_LOG, error),
            attempt.error.clone().map_or(Value::Null, Value::text),
        );
    crate::domain::insert(
        tx,
        &registry::SYS_OUTBOUND_HTTP_LOG,
        None,
        changes,
        "system",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_up_to_five_minutes() {
        let secs = |attempt| backoff(attempt, None).whole_seconds();
        assert_eq!(
            [1, 2, 3, 4, 9, 10, 50].map(secs),
            [1, 2, 4, 8, 256, 300, 300]
        );
    }

    #[test]
    fn retry_after_can_lengthen_a_wait_up_to_an_hour_but_never_shorten_it() {
        let asked = |s| Some(time::Duration::seconds(s));
        assert_eq!(backoff(1, asked(30)).whole_seconds(), 30);
        assert_eq!(backoff(4, asked(1)).whole_seconds(), 8);
        assert_eq!(backoff(1, asked(86_400)).whole_seconds(), 3600);
    }

    #[test]
    fn logged_bodies_keep_their_first_thousand_characters() {
        let long = "é".repeat(1500);
        let Value::Text(kept) = capped(&long) else {
            panic!("text")
        };
        assert_eq!(kept.chars().count(), OUTBOUND_LOG_BODY_CHARS);
        assert_eq!(capped("short"), Value::text("short"));
    }

    #[test]
    fn only_2xx_delivers() {
        let with = |status| Attempt {
            status,
            ..Attempt::default()
        };
        assert!(with(Some(200)).succeeded());
        assert!(with(Some(204)).succeeded());
        assert!(!with(Some(301)).succeeded());
        assert!(!with(Some(500)).succeeded());
        assert!(!with(None).succeeded());
    }
}
