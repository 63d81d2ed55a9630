//! Outbound events: what AWA's external routing tells a contact center (docs/outbound-events.md).
//!
//! An event is a record of the outbox (`x_switchboard_outbound_event`) written in the
//! transaction of the change it reports, so it exists exactly when the change does: a rolled
//! back write leaves none, a committed one is delivered even if the node dies right after. Most
//! events are read off the records as they are written ([`after_write`], called by the record
//! rules for every write path: the APIs, the Table API, the sweeper); the few that record no
//! state of their own (a transfer, a supervisor's join request) are raised by the code that
//! does them. The deliverer (`outbound`) sends them; [`outbox`] is its side of the table.

mod body;
mod derive;
pub mod outbox;

pub use derive::{after_write, document_closed, transferred};

use serde_json::{Map, Value as Json};

use super::{Changes, Result};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, field};
use crate::model::value::{Record, Value};
use crate::storage::Tx;

/// The kinds of event, by the name a provider subscribes to and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    InteractionQueued,
    InteractionClosed,
    TransferredToAgent,
    TransferredToQueue,
    WorkItemOffered,
    WorkItemAccepted,
    WorkItemRejected,
    WorkItemTimedOut,
    AgentPresenceChanged,
    JoinRequested,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::InteractionQueued,
        EventType::InteractionClosed,
        EventType::TransferredToAgent,
        EventType::TransferredToQueue,
        EventType::WorkItemOffered,
        EventType::WorkItemAccepted,
        EventType::WorkItemRejected,
        EventType::WorkItemTimedOut,
        EventType::AgentPresenceChanged,
        EventType::JoinRequested,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventType::InteractionQueued => "interaction.queued",
            EventType::InteractionClosed => "interaction.closed",
            EventType::TransferredToAgent => "interaction.transferred_to_agent",
            EventType::TransferredToQueue => "interaction.transferred_to_queue",
            EventType::WorkItemOffered => "work_item.offered",
            EventType::WorkItemAccepted => "work_item.accepted",
            EventType::WorkItemRejected => "work_item.rejected",
            EventType::WorkItemTimedOut => "work_item.timed_out",
            EventType::AgentPresenceChanged => "agent.presence_changed",
            EventType::JoinRequested => "conversation.join_requested",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The ways a provider's deliveries are authenticated.
pub const AUTHENTICATIONS: [&str; 4] = ["none", "basic", "bearer", "hmac"];

/// Why a provider record cannot be kept as written: the field and what is wrong with it.
pub fn check_provider(provider: &Record) -> std::result::Result<(), (&'static str, String)> {
    let url = provider.str("endpoint_url").unwrap_or_default();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err((
            "endpoint_url",
            format!("must be an http:// or https:// URL, not '{url}'"),
        ));
    }
    let authentication = provider.str("authentication").unwrap_or("none");
    let needs = match authentication {
        "none" => None,
        "basic" => Some("username"),
        "bearer" => Some("token"),
        "hmac" => Some("secret"),
        _ => {
            return Err((
                "authentication",
                format!(
                    "must be one of {}, not '{authentication}'",
                    AUTHENTICATIONS.join(", ")
                ),
            ));
        }
    };
    if let Some(field) = needs
        && provider.str(field).is_none_or(|v| v.trim().is_empty())
    {
        return Err((
            field,
            format!("is required with authentication '{authentication}'"),
        ));
    }
    let header = provider
        .str("signature_header")
        .unwrap_or("X-Switchboard-Signature");
    if !is_header_name(header) {
        return Err((
            "signature_header",
            format!("'{header}' is not an HTTP header name"),
        ));
    }
    for name in subscriptions(provider) {
        if EventType::parse(name).is_none() {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
            return Err((
                "event_types",
                format!("unknown event type '{name}' (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// An HTTP header name: one or more of RFC 9110's token characters.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The event type names a provider lists (none: it takes every type).
fn subscriptions(provider: &Record) -> impl Iterator<Item = &str> {
    provider
        .str("event_types")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Whether an active provider takes events of `kind`.
fn takes(provider: &Record, kind: EventType) -> bool {
    provider.get("active") == &Value::Bool(true) && {
        let mut listed = subscriptions(provider).peekable();
        listed.peek().is_none() || listed.any(|name| name == kind.name())
    }
}

/// The provider the events of a queue's work go to, if it has an active one taking `kind`.
async fn provider_of_queue(
    tx: &mut Tx,
    queue: Option<&str>,
    kind: EventType,
) -> Result<Option<Record>> {
    let Some(queue) = queue else {
        return Ok(None);
    };
    let Some(queue) = tx.get(&registry::AWA_QUEUE, queue).await? else {
        return Ok(None);
    };
    let Some(provider) = queue.str("external_provider") else {
        return Ok(None);
    };
    let provider = tx.get(&registry::AWA_EXTERNAL_PROVIDER, provider).await?;
    Ok(provider.filter(|p| takes(p, kind)))
}

/// Every active provider taking `kind` (agent events concern every contact center).
async fn providers_taking(tx: &mut Tx, kind: EventType) -> Result<Vec<Record>> {
    let active = Filter::eq(field!(AWA_EXTERNAL_PROVIDER, active), Value::Bool(true));
    let providers = tx
        .select(&registry::AWA_EXTERNAL_PROVIDER, &Select::filter(active))
        .await?;
    Ok(providers.into_iter().filter(|p| takes(p, kind)).collect())
}

/// An event about to be queued: its kind, what orders it (the document or the agent it is
/// about), and its body's own fields (the common ones are added by [`enqueue`]).
struct Event {
    kind: EventType,
    ordering_key: String,
    fields: Map<String, Json>,
}

/// Queues `event` for `provider` in the outbox, in the caller's transaction. Returns its id.
///
/// The event's ordering key is locked first, until the transaction ends: two transactions
/// reporting on one document (or agent) take their sequence numbers one after the other, each
/// once the one before has committed, so an event's sequence is its place in its key's commit
/// order (PostgreSQL hands out sequence numbers outside transactions).
async fn enqueue(tx: &mut Tx, provider: &Record, event: Event) -> Result<String> {
    tx.lock(&format!("outbound_key:{}", event.ordering_key))
        .await?;
    let id = crate::model::value::new_sys_id();
    let sequence = tx.next_number(outbox::SEQUENCE_COUNTER).await?;
    let payload = body::envelope(&id, event.kind, sequence, provider, event.fields);
    let changes = Changes::default()
        .set(
            field!(OUTBOUND_EVENT, provider),
            Value::text(provider.sys_id()),
        )
        .set(
            field!(OUTBOUND_EVENT, event_type),
            Value::text(event.kind.name()),
        )
        .set(
            field!(OUTBOUND_EVENT, ordering_key),
            Value::Text(event.ordering_key),
        )
        .set(field!(OUTBOUND_EVENT, sequence), Value::Int(sequence))
        .set(
            field!(OUTBOUND_EVENT, payload),
            Value::Text(payload.to_string()),
        )
        .set(
            field!(OUTBOUND_EVENT, next_attempt_on),
            Value::Text(crate::model::value::now()),
        );
    super::insert(
        tx,
        &registry::OUTBOUND_EVENT,
        Some(id.clone()),
        changes,
        "system",
    )
    .await?;
    Ok(id)
}

/// A supervisor's join request for the conversation of `interaction`, queued for the provider
/// of the interaction's queue (or of its work): Returns the event's id, or None when no active
/// provider taking join requests receives the interaction's events.
pub async fn join_requested(
    tx: &mut Tx,
    interaction: &Record,
    conversation: &str,
    supervisor: &str,
) -> Result<Option<String>> {
    let kind = EventType::JoinRequested;
    let id = interaction.sys_id();
    let provider = match provider_of_queue(tx, interaction.str("queue"), kind).await? {
        Some(p) => Some(p),
        None => derive::provider_of_document(tx, registry::INTERACTION.name, id, kind).await?,
    };
    let Some(provider) = provider else {
        return Ok(None);
    };
    let mut fields = Map::new();
    fields.insert(
        "document".into(),
        body::document(registry::INTERACTION.name, interaction),
    );
    fields.insert("conversation".into(), Json::String(conversation.to_owned()));
    fields.insert("supervisor".into(), body::user(tx, Some(supervisor)).await?);
    let event = Event {
        kind,
        ordering_key: id.to_owned(),
        fields,
    };
    Ok(Some(enqueue(tx, &provider, event).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_parses_back_from_its_name() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.name()), Some(kind));
        }
        assert_eq!(EventType::parse("interaction.opened"), None);
    }

    fn provider(event_types: &str) -> Record {
        Record::new()
            .with("active", Value::Bool(true))
            .with("endpoint_url", Value::text("http://cc.example/events"))
            .with("event_types", Value::text(event_types))
    }

    #[test]
    fn a_provider_takes_what_it_lists_or_everything_when_it_lists_nothing() {
        assert!(takes(&provider(""), EventType::WorkItemOffered));
        let some = provider("work_item.offered, interaction.closed");
        assert!(takes(&some, EventType::WorkItemOffered));
        assert!(takes(&some, EventType::InteractionClosed));
        assert!(!takes(&some, EventType::InteractionQueued));
        let inactive = provider("").with("active", Value::Bool(false));
        assert!(!takes(&inactive, EventType::WorkItemOffered));
    }

    #[test]
    fn provider_records_are_checked_field_by_field() {
        assert_eq!(check_provider(&provider("")), Ok(()));
        let bad_url = provider("").with("endpoint_url", Value::text("ftp://x"));
        assert_eq!(check_provider(&bad_url).unwrap_err().0, "endpoint_url");
        let bad_auth = provider("").with("authentication", Value::text("digest"));
        assert_eq!(check_provider(&bad_auth).unwrap_err().0, "authentication");
        let hmac_without_secret = provider("").with("authentication", Value::text("hmac"));
        assert_eq!(
            check_provider(&hmac_without_secret).unwrap_err().0,
            "secret"
        );
        let hmac = hmac_without_secret.with("secret", Value::text("s"));
        assert_eq!(check_provider(&hmac), Ok(()));
        let basic = provider("").with("authentication", Value::text("basic"));
        assert_eq!(check_provider(&basic).unwrap_err().0, "username");
        let bearer = provider("").with("authentication", Value::text("bearer"));
        assert_eq!(check_provider(&bearer).unwrap_err().0, "token");
        let bad_header = hmac.with("signature_header", Value::text("X Sig: 1"));
        assert_eq!(
            check_provider(&bad_header).unwrap_err().0,
            "signature_header"
        );
        let bad_type = provider("work_item.offered,work_item.opened");
        let (field, message) = check_provider(&bad_type).unwrap_err();
        assert_eq!(field, "event_types");
        assert!(message.contains("'work_item.opened'"), "{message}");
    }
}
