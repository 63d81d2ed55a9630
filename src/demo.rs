//! The demo data set (`serve --demo`): the records every curl sample of the three seed pages
//! needs, with the sys_ids the samples use, so each sample works as written.
//!
//! Loading is idempotent: each demo record is created, or put back to its demo state, by its
//! fixed sys_id, at every start. Other records are left alone.

use serde_json::{Value as Json, json};

use crate::bootstrap::{self, ADMIN_SYS_ID};
use crate::record::Value;
use crate::records::{self, RecordError, input, rules};
use crate::registry::table;
use crate::storage::{Storage, Tx};

/// The channel (a third-party chat connector) of both samples.
pub const CHANNEL: &str = "28a59893873103002ae97e2526cb0b5d";
pub const QUEUE: &str = "f3a50867b30303002186a72256a8dcb7";
/// The interaction the close sample closes.
pub const INTERACTION_TO_CLOSE: &str = "b243cde4208f1700964f959e0488dee8";
/// The third-party interaction of the Conversation Member samples.
pub const CHAT_INTERACTION: &str = "27f675e3739713004a905ee515f6a7c3";
/// The agent the drop sample drops (a public fulfiller of the chat).
pub const CHAT_AGENT: &str = "0b10223c57a313005baaaa65ef94f970";
/// A supervisor (awa_manager) observing the chat, for the update sample.
pub const SUPERVISOR: &str = "a8f98bb0eb32010045e1a5115206fe3a";
/// The agent the Agent Mapping samples map.
pub const MAPPED_AGENT: &str = "da419c1fc312310015519f2974d3ae15";
pub const INBOUND_ID: &str = "ServiceNowVoice";
/// The user the close sample's interaction was opened for.
pub const REQUESTER: &str = "46d44a23a9fe19810012d100cca80666";
pub const INTEGRATION_USER: &str = "9f2b6d8e4c1a4e0f8a3b2c1d0e9f8a7b";

/// (user_name = password, sys_id, first, last, roles)
const USERS: &[(&str, &str, &str, &str, &[&str])] = &[
    ("admin", ADMIN_SYS_ID, "System", "Administrator", &["admin"]),
    (
        "integration",
        INTEGRATION_USER,
        "CCaaS",
        "Integration",
        &[
            "awa_integration_user",
            "interaction_agent",
            "interaction_admin",
        ],
    ),
    (
        "chat.agent",
        CHAT_AGENT,
        "Chat",
        "Agent",
        &["interaction_agent", "awa_agent"],
    ),
    (
        "supervisor",
        SUPERVISOR,
        "Sam",
        "Supervisor",
        &["awa_manager"],
    ),
    (
        "voice.agent",
        MAPPED_AGENT,
        "Voice",
        "Agent",
        &["interaction_agent", "awa_agent"],
    ),
    ("beth.anglin", REQUESTER, "Beth", "Anglin", &[]),
];

/// Every other demo record: (table, sys_id, fields as a client would send them).
fn records() -> Vec<(&'static str, &'static str, Json)> {
    vec![
        (
            "interaction_connector",
            CHANNEL,
            json!({"name": "Demo CCaaS chat", "type": "chat", "third_party": true, "active": true}),
        ),
        (
            "awa_queue",
            QUEUE,
            json!({"name": "Demo support queue", "active": true}),
        ),
        (
            "interaction_json_blob",
            "3a43cde4208f1700964f959e0488dee7",
            json!({"value": {}}),
        ),
        (
            "live_group_profile",
            "fa43cde4208f1700964f959e0488dee8",
            json!({"name": "IMS0000060"}),
        ),
        (
            "interaction",
            INTERACTION_TO_CLOSE,
            json!({
                "channel": CHANNEL, "queue": QUEUE, "type": "chat", "state": "queued", "active": true,
                "opened_for": REQUESTER, "opened_by": "admin", "assigned_to": "", "closed_by": "",
                "closed_at": "", "short_description": "Demo: the close sample closes this interaction",
                "context_table": "interaction_json_blob", "context_document": "3a43cde4208f1700964f959e0488dee7",
                "channel_metadata_table": "live_group_profile",
                "channel_metadata_document": "fa43cde4208f1700964f959e0488dee8",
            }),
        ),
        (
            "sys_cs_conversation",
            "b643cde4208f1700964f959e0488def0",
            json!({"interaction": INTERACTION_TO_CLOSE, "state": "open", "topic": "Demo chat to close"}),
        ),
        (
            "interaction_json_blob",
            "2bf675e3739713004a905ee515f6a7c4",
            json!({"value": {}}),
        ),
        (
            "live_group_profile",
            "2ff675e3739713004a905ee515f6a7c5",
            json!({"name": "IMS0000061"}),
        ),
        (
            "interaction",
            CHAT_INTERACTION,
            json!({
                "channel": CHANNEL, "queue": QUEUE, "type": "chat", "state": "work_in_progress",
                "active": true, "assigned_to": CHAT_AGENT, "opened_for": REQUESTER,
                "opened_by": "admin", "closed_by": "", "closed_at": "",
                "short_description": "Demo: a third-party chat with an agent and an observing supervisor",
                "context_table": "interaction_json_blob", "context_document": "2bf675e3739713004a905ee515f6a7c4",
                "channel_metadata_table": "live_group_profile",
                "channel_metadata_document": "2ff675e3739713004a905ee515f6a7c5",
            }),
        ),
        (
            "sys_cs_conversation",
            "37f675e3739713004a905ee515f6a7c6",
            json!({"interaction": CHAT_INTERACTION, "state": "open", "topic": "Demo chat"}),
        ),
        (
            "sys_cs_conversation_member",
            "47f675e3739713004a905ee515f6a7c7",
            json!({"conversation": "37f675e3739713004a905ee515f6a7c6", "member": CHAT_AGENT,
                   "member_type": "public_fulfiller", "active": true}),
        ),
        (
            "sys_cs_conversation_member",
            "57f675e3739713004a905ee515f6a7c8",
            json!({"conversation": "37f675e3739713004a905ee515f6a7c6", "member": SUPERVISOR,
                   "member_type": "observer", "active": true}),
        ),
        (
            "sys_cs_provider_application",
            "67f675e3739713004a905ee515f6a7c9",
            json!({"name": "ServiceNow Voice", "inbound_id": INBOUND_ID, "provider": "Demo CCaaS", "active": true}),
        ),
    ]
}

/// Numbers of the demo interactions; new interactions continue after the samples' IMS0000075.
const NUMBERS: &[(&str, i64)] = &[(INTERACTION_TO_CLOSE, 60), (CHAT_INTERACTION, 61)];
const NEXT_NUMBER_AFTER: i64 = 74;

/// Creates or restores every demo record.
pub async fn load(store: &dyn Storage) -> Result<(), RecordError> {
    let mut prepared = Vec::new();
    for (name, id, first, last, _) in USERS {
        let body = json!({"user_name": name, "user_password": name, "first_name": first,
                          "last_name": last, "active": true});
        prepared.push(("sys_user", *id, body));
    }
    prepared.extend(records());
    // Validate and hash before the transaction, as every write path does.
    let mut changes = Vec::new();
    for (table_name, id, body) in prepared {
        let table = table(table_name).expect("demo tables are in the registry");
        let body = body.as_object().expect("demo records are objects").clone();
        changes.push((table, id, input::from_json(table, &body).await?));
    }
    let mut tx = store.begin().await?;
    tx.lock("bootstrap").await?;
    for (table, id, change) in changes {
        // A user may already exist under its name with another sys_id (an admin created before
        // admin had the platform's sys_id): restore that one rather than clash on the name.
        let id = match table.name {
            "sys_user" => existing_user(&mut *tx, id)
                .await?
                .unwrap_or_else(|| id.to_owned()),
            _ => id.to_owned(),
        };
        let id = id.as_str();
        put(&mut *tx, table, id, change).await?;
        // Grants follow right after their user, before any record that needs the user's roles.
        if let Some((_, _, _, _, roles)) = USERS.iter().find(|u| u.1 == id) {
            for role in *roles {
                bootstrap::grant(&mut *tx, id, role).await?;
            }
        }
    }
    // The demo agent starts unmapped, so the mapping samples answer "inserted" then "updated"
    // after every start, as on the page.
    let mappings = table("external_agent_mapping").expect("external_agent_mapping");
    let select = crate::filter::Select::filter(crate::filter::Filter::eq(
        mappings,
        "user",
        MAPPED_AGENT.into(),
    ));
    for mapping in tx.select(mappings, &select).await? {
        let _ = records::delete(&mut *tx, mappings, mapping.sys_id()).await?;
    }
    let interactions = table("interaction").expect("interaction");
    for (id, n) in NUMBERS {
        let number = Value::Text(rules::interaction_number(*n));
        tx.update(
            interactions,
            id,
            &crate::record::Record::new().with("number", number),
        )
        .await?;
    }
    tx.raise_counter("interaction", NEXT_NUMBER_AFTER).await?;
    // Demo users' passwords were reset: other nodes must forget what they cached.
    tx.notify(crate::storage::IDENTITY_CHANNEL).await?;
    tx.commit().await?;
    Ok(())
}

/// The sys_id of the user that has the demo user's name, when it is not the demo sys_id.
async fn existing_user(tx: &mut dyn Tx, demo_id: &str) -> Result<Option<String>, RecordError> {
    let name = USERS
        .iter()
        .find(|u| u.1 == demo_id)
        .map(|u| u.0)
        .unwrap_or_default();
    let users = table("sys_user").expect("sys_user");
    let select =
        crate::filter::Select::filter(crate::filter::Filter::eq(users, "user_name", name.into()));
    Ok(tx
        .select(users, &select)
        .await?
        .pop()
        .map(|u| u.sys_id().to_owned()))
}

/// Inserts the record with this sys_id, or sets its fields back to the demo values.
async fn put(
    tx: &mut dyn Tx,
    table: &'static crate::registry::Table,
    id: &str,
    changes: records::Changes,
) -> Result<(), RecordError> {
    match tx.get(table, id).await? {
        Some(_) => records::update(tx, table, id, changes, "system")
            .await
            .map(|_| ()),
        None => records::insert(tx, table, Some(id.to_owned()), changes, "system")
            .await
            .map(|_| ()),
    }
}

/// What `serve --demo` prints once it listens: the credentials and a ready-to-paste curl line.
pub fn banner(base: &str) -> String {
    format!(
        "demo data loaded. users (password = user name): admin (admin), integration \
         (awa_integration_user, interaction_agent, interaction_admin), chat.agent, supervisor \
         (awa_manager), voice.agent, beth.anglin\n\
         try: curl -u admin:admin -H 'Content-Type: application/json' -d \
         '{{\"channel\":\"{CHANNEL}\",\"queue\":\"{QUEUE}\"}}' {base}/api/now/interaction\n\
         the samples' ids: close {INTERACTION_TO_CLOSE}; conversation member drop {CHAT_AGENT} or \
         update {SUPERVISOR} in interaction {CHAT_INTERACTION}; agent mapping {MAPPED_AGENT} / \
         inbound id {INBOUND_ID}"
    )
}
