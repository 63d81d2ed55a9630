//! `switchboard bench-data`: a realistic data set for benchmarks (users, roles, interactions with
//! conversations and members, agent mappings, an OAuth application), written through the same
//! record rules as every API, in large transactions so that loading stays quick.
//!
//! Running it again on the same database adds interactions and reuses everything else.

use serde::Serialize;
use serde_json::json;

use crate::auth::password;
use crate::bootstrap;
use crate::filter::{Filter, Select};
use crate::record::{Record, Value};
use crate::records::interactions::{self, Attachment, NewInteraction};
use crate::records::{self, Changes, RecordError, input};
use crate::registry::{Table, table};
use crate::storage::{Storage, Tx};

/// The password of every bench user (and of admin).
pub const PASSWORD: &str = "bench";
pub const INBOUND_ID: &str = "BenchVoice";
const BATCH: usize = 500;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub channel: String,
    pub queue: String,
    pub inbound_id: &'static str,
    pub client_id: &'static str,
    pub client_secret: &'static str,
    pub users: Vec<BenchUser>,
    pub supervisor: String,
    pub interactions: Vec<BenchInteraction>,
}

#[derive(Debug, Serialize)]
pub struct BenchUser {
    pub user_name: String,
    pub sys_id: String,
}

#[derive(Debug, Serialize)]
pub struct BenchInteraction {
    pub sys_id: String,
    pub agent: String,
}

fn registry(name: &str) -> &'static Table {
    table(name).expect("bench tables are in the registry")
}

/// The record of `table` whose `field` is `value`, created from `body` if there is none.
async fn find_or_create(
    tx: &mut dyn Tx,
    table_name: &str,
    field: &str,
    value: &str,
    body: serde_json::Value,
) -> Result<Record, RecordError> {
    let t = registry(table_name);
    let select = Select::filter(Filter::eq(t, field, value.into())).limit(1);
    if let Some(found) = tx.select(t, &select).await?.pop() {
        return Ok(found);
    }
    let body = body.as_object().expect("an object").clone();
    let changes = input::from_json(t, &body).await?;
    Ok(records::insert(tx, t, None, changes, "admin").await?.0)
}

/// Loads (or extends) the data set; returns what a benchmark needs to address it.
pub async fn load(
    store: &dyn Storage,
    users: usize,
    new_interactions: usize,
) -> Result<Manifest, RecordError> {
    // One hash for every bench user: hashing ten thousand passwords would take minutes.
    let hash = password::hash(PASSWORD.to_owned()).await?;
    let admin_hash = password::hash("admin".to_owned()).await?;
    let user_table = registry("sys_user");

    let mut tx = store.begin().await?;
    let admin = tx
        .get(user_table, bootstrap::ADMIN_SYS_ID)
        .await?
        .or(tx
            .select(
                user_table,
                &Select::filter(Filter::eq(user_table, "user_name", "admin".into())),
            )
            .await?
            .pop())
        .expect("bootstrap created admin");
    let change = Changes::default().value(user_table, "user_password", Value::Text(admin_hash));
    let _ = records::update(&mut *tx, user_table, admin.sys_id(), change, "admin").await?;
    let channel = find_or_create(
        &mut *tx,
        "interaction_connector",
        "name",
        "Bench CCaaS chat",
        json!({"name": "Bench CCaaS chat", "type": "chat", "third_party": true}),
    )
    .await?;
    let queue = find_or_create(
        &mut *tx,
        "awa_queue",
        "name",
        "Bench queue",
        json!({"name": "Bench queue"}),
    )
    .await?;
    let identity = find_or_create(
        &mut *tx,
        "sys_cs_provider_application",
        "inbound_id",
        INBOUND_ID,
        json!({"name": "Bench Voice", "inbound_id": INBOUND_ID, "provider": "Bench"}),
    )
    .await?;
    let supervisor = user(&mut *tx, "bench.supervisor", &hash, &["awa_manager"]).await?;
    find_or_create(
        &mut *tx,
        "oauth_entity",
        "client_id",
        "bench",
        json!({"name": "Bench", "client_id": "bench", "client_secret": "bench", "user": admin.sys_id()}),
    )
    .await?;
    tx.commit().await?;

    let mut agents = Vec::with_capacity(users);
    for batch in (0..users).collect::<Vec<_>>().chunks(BATCH) {
        let mut tx = store.begin().await?;
        for i in batch {
            let name = format!("bench.agent.{i}");
            let agent = user(
                &mut *tx,
                &name,
                &hash,
                &["interaction_agent", "awa_integration_user"],
            )
            .await?;
            map(&mut *tx, agent.sys_id(), identity.sys_id()).await?;
            agents.push(BenchUser {
                user_name: name,
                sys_id: agent.sys_id().to_owned(),
            });
        }
        tx.commit().await?;
        eprintln!("bench-data: {} of {users} agents", agents.len());
    }
    if agents.is_empty() {
        return Err(RecordError::invalid(
            "users",
            "at least one agent is needed",
        ));
    }

    let interaction_table = registry("interaction");
    let existing = store
        .select(
            interaction_table,
            &Select::filter(Filter::eq(
                interaction_table,
                "channel",
                channel.sys_id().into(),
            )),
        )
        .await?;
    let mut manifest_interactions: Vec<BenchInteraction> = existing
        .iter()
        .map(|i| BenchInteraction {
            sys_id: i.sys_id().to_owned(),
            agent: i.str("assigned_to").unwrap_or_default().to_owned(),
        })
        .collect();
    let start = manifest_interactions.len();
    for batch in (start..start + new_interactions)
        .collect::<Vec<_>>()
        .chunks(BATCH)
    {
        let mut tx = store.begin().await?;
        for i in batch {
            let agent = &agents[i % agents.len()];
            let id = interaction(
                &mut *tx,
                channel.sys_id(),
                queue.sys_id(),
                &agent.sys_id,
                supervisor.sys_id(),
            )
            .await?;
            manifest_interactions.push(BenchInteraction {
                sys_id: id,
                agent: agent.sys_id.clone(),
            });
        }
        tx.commit().await?;
        eprintln!("bench-data: {} interactions", manifest_interactions.len());
    }
    Ok(Manifest {
        channel: channel.sys_id().to_owned(),
        queue: queue.sys_id().to_owned(),
        inbound_id: INBOUND_ID,
        client_id: "bench",
        client_secret: "bench",
        users: agents,
        supervisor: supervisor.sys_id().to_owned(),
        interactions: manifest_interactions,
    })
}

/// A user with the bench password (already hashed) and these roles.
async fn user(
    tx: &mut dyn Tx,
    name: &str,
    hash: &str,
    roles: &[&str],
) -> Result<Record, RecordError> {
    let t = registry("sys_user");
    let select = Select::filter(Filter::eq(t, "user_name", name.into())).limit(1);
    if let Some(found) = tx.select(t, &select).await?.pop() {
        return Ok(found);
    }
    let changes = Changes::default()
        .value(t, "user_name", Value::text(name))
        .value(t, "first_name", Value::text(name))
        .value(t, "user_password", Value::text(hash));
    let (created, _) = records::insert(tx, t, None, changes, "admin").await?;
    for role in roles {
        bootstrap::grant(tx, created.sys_id(), role).await?;
    }
    Ok(created)
}

async fn map(tx: &mut dyn Tx, agent: &str, identity: &str) -> Result<(), RecordError> {
    let t = registry("external_agent_mapping");
    let changes = Changes::default()
        .value(t, "user", Value::text(agent))
        .value(t, "provider_application", Value::text(identity))
        .value(t, "external_agent_id", Value::text(agent))
        .value(t, "active", Value::Bool(true));
    let key = &["user", "provider_application"];
    records::upsert(
        tx,
        t,
        changes,
        key,
        &["external_agent_id", "active"],
        "admin",
    )
    .await?;
    Ok(())
}

/// An open, assigned interaction with its conversation: the agent a public fulfiller, the
/// supervisor an observer.
async fn interaction(
    tx: &mut dyn Tx,
    channel: &str,
    queue: &str,
    agent: &str,
    supervisor: &str,
) -> Result<String, RecordError> {
    let new = NewInteraction {
        channel: channel.to_owned(),
        queue: Some(queue.to_owned()),
        context: Attachment::Default,
        channel_metadata: Attachment::Default,
        kind: None,
        short_description: Some("bench".into()),
        opened_for: None,
    };
    let opened = interactions::open(tx, new, agent, "admin")
        .await
        .map_err(|e| match e {
            interactions::OpenError::Record(r) => r,
            interactions::OpenError::Invalid(i) => RecordError::invalid("interaction", i.0),
        })?;
    let t = registry("interaction");
    let assign = Changes::default().value(t, "assigned_to", Value::text(agent));
    let _ = records::update(tx, t, opened.sys_id(), assign, "admin").await?;
    let conversations = registry("sys_cs_conversation");
    let select = Select::filter(Filter::eq(
        conversations,
        "interaction",
        opened.sys_id().into(),
    ))
    .limit(1);
    let conversation = tx
        .select(conversations, &select)
        .await?
        .pop()
        .expect("a third-party channel opens a conversation");
    let members = registry("sys_cs_conversation_member");
    for (member, kind) in [(agent, "public_fulfiller"), (supervisor, "observer")] {
        let changes = Changes::default()
            .value(members, "conversation", Value::text(conversation.sys_id()))
            .value(members, "member", Value::text(member))
            .value(members, "member_type", Value::text(kind));
        let _ = records::insert(tx, members, None, changes, "admin").await?;
    }
    Ok(opened.sys_id().to_owned())
}
