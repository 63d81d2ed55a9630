//! What the AWA work-item tests start from (presence states, a channel, queues, available
//! agents, a third-party chat, reject reasons), and reading work items, members and presence
//! straight from the store, as the domain sees them.

use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard::domain::awa_presence;
use switchboard::domain::awa_work::{Deadline, Offer};
use switchboard::model::filter::{Filter, Select};
use switchboard::model::registry::{self, Table};
use switchboard::model::value::{Record, Value};
use switchboard::storage::Storage;
use time::{Duration, OffsetDateTime};

use super::{INTEGRATION, TestApp, chat_connector, json_of, sys_id_of};

/// Who the domain calls of these tests act as.
pub const ACTOR: &str = "integration";

pub struct Awa {
    pub app: TestApp,
    pub available: String,
    pub away: String,
    /// The chat service channel (capacity 2) every queue is on.
    pub chat: String,
    /// A channel no agent is available on.
    pub phone: String,
    pub queue: String,
    pub other_queue: String,
    /// A queue on the phone channel.
    pub phone_queue: String,
    /// Agents with awa_agent and awa_external_user, available on chat.
    pub agents: Vec<String>,
    /// awa_agent without awa_external_user, available on chat.
    pub internal_agent: String,
    /// awa_agent and awa_external_user, Away.
    pub away_agent: String,
    /// A user without awa_agent.
    pub not_agent: String,
    /// The third-party chat connector.
    pub connector: String,
    /// A reject reason of the chat channel.
    pub reason: String,
    /// The integration user's sys_id (the caller of offers).
    pub caller: String,
}

impl Awa {
    pub async fn new() -> Awa {
        Self::on(TestApp::spawn().await).await
    }

    pub async fn on(app: TestApp) -> Awa {
        let caller = app.integration_user().await;
        let state = |name: &str, available: bool, order: i64| json!({"name": name, "available": available, "order": order, "active": true});
        let available = sys_id_of(
            &app.insert("awa_presence_state", state("Available", true, 0))
                .await,
        );
        let away = sys_id_of(
            &app.insert("awa_presence_state", state("Away", false, 1000))
                .await,
        );
        app.insert("awa_presence_state", state("Offline", false, 2000))
            .await;
        let channel = |name: &str, kind: &str| json!({"name": name, "service_channel_type": kind, "max_capacity": 2, "active": true});
        let chat = sys_id_of(
            &app.insert("awa_service_channel", channel("Chat", "chat"))
                .await,
        );
        let phone = sys_id_of(
            &app.insert("awa_service_channel", channel("Phone", "phone"))
                .await,
        );
        let queue = |name: &str, channel: &str| {
            json!({"name": name, "service_channel": channel, "external_routing": true,
                   "external_id": format!("ext-{name}"), "active": true})
        };
        let q = sys_id_of(&app.insert("awa_queue", queue("Support", &chat)).await);
        let other_queue = sys_id_of(&app.insert("awa_queue", queue("Escalations", &chat)).await);
        let phone_queue = sys_id_of(&app.insert("awa_queue", queue("Calls", &phone)).await);
        let external = ["awa_agent", "awa_external_user"];
        let mut agents = Vec::new();
        for i in 0..3 {
            let name = format!("agent{i}");
            agents.push(app.user(&name, "agent-password", &external).await);
        }
        let internal_agent = app.user("internal", "agent-password", &["awa_agent"]).await;
        let away_agent = app.user("resting", "agent-password", &external).await;
        let not_agent = app
            .user("plain", "plain-password", &["interaction_agent"])
            .await;
        let connector = chat_connector(&app).await;
        let reason = sys_id_of(
            &app.insert(
                "awa_reject_reason",
                json!({"reason": "Busy", "order": 1, "service_channel": chat}),
            )
            .await,
        );
        let awa = Awa {
            app,
            available,
            away,
            chat,
            phone,
            queue: q,
            other_queue,
            phone_queue,
            agents,
            internal_agent,
            away_agent,
            not_agent,
            connector,
            reason,
            caller,
        };
        for agent in awa.agents.iter().chain([&awa.internal_agent]) {
            awa.make_available(agent).await;
        }
        awa.set_presence(&awa.away_agent, &awa.away).await;
        awa
    }

    /// Puts the agent in `state` (available on chat, not on phone) through the AWA Agent API.
    pub async fn set_presence(&self, agent: &str, state: &str) {
        let body = json!({"presence": {"sys_id": state, "channels": [
            {"sys_id": self.chat, "available": true}, {"sys_id": self.phone, "available": false}]}});
        let path = format!("/api/now/awa/agents/{agent}");
        let response = self
            .app
            .as_user(INTEGRATION, Method::PUT, &path)
            .json(&body);
        let (status, body) = json_of(response.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn make_available(&self, agent: &str) {
        self.set_presence(agent, &self.available.clone()).await;
    }

    /// Opens an interaction on the third-party chat, in `queue` if given; its sys_id.
    pub async fn interaction(&self, queue: Option<&str>) -> String {
        let mut body = json!({"channel": self.connector});
        if let Some(q) = queue {
            body["queue"] = json!(q);
        }
        let response = self
            .app
            .as_user(INTEGRATION, Method::POST, "/api/now/interaction")
            .json(&body);
        let (status, body) = json_of(response.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        sys_id_of(&body["result"])
    }

    /// Closes an interaction through the Interaction Management API.
    pub async fn close(&self, interaction: &str) {
        let path = format!("/api/now/interaction/{interaction}/close");
        let response = self.app.as_user(INTEGRATION, Method::POST, &path);
        let (status, body) = json_of(response.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub fn store(&self) -> &dyn Storage {
        &*self.app.state.store
    }

    /// Every work item of the document, oldest first.
    pub async fn items(&self, document: &str) -> Vec<Record> {
        let mut items = where_eq(
            self.store(),
            &registry::AWA_WORK_ITEM,
            "document_id",
            document,
        )
        .await;
        items.sort_by(|a, b| {
            (a.str("sys_created_on"), a.sys_id()).cmp(&(b.str("sys_created_on"), b.sys_id()))
        });
        items
    }

    /// The document's only work item.
    pub async fn item(&self, document: &str) -> Record {
        let mut items = self.items(document).await;
        assert_eq!(items.len(), 1, "one work item: {items:?}");
        items.pop().unwrap()
    }

    pub async fn record(&self, table: &'static Table, id: &str) -> Record {
        self.store()
            .get(table, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {} {id}", table.name))
    }

    /// The interaction's conversation members: (member, member_type, active).
    pub async fn members(&self, interaction: &str) -> Vec<(String, String, bool)> {
        let store = self.store();
        let conversations = where_eq(
            store,
            &registry::SYS_CS_CONVERSATION,
            "interaction",
            interaction,
        )
        .await;
        assert_eq!(conversations.len(), 1, "{conversations:?}");
        let table = &registry::SYS_CS_CONVERSATION_MEMBER;
        let mut members: Vec<_> = where_eq(store, table, "conversation", conversations[0].sys_id())
            .await
            .iter()
            .map(|m| {
                (
                    text(m, "member"),
                    text(m, "member_type"),
                    m.get("active") == &Value::Bool(true),
                )
            })
            .collect();
        members.sort();
        members
    }

    /// The interaction's active members: (member, member_type).
    pub async fn active_members(&self, interaction: &str) -> Vec<(String, String)> {
        self.members(interaction)
            .await
            .into_iter()
            .filter(|m| m.2)
            .map(|m| (m.0, m.1))
            .collect()
    }

    /// The agent's presence state's sys_id.
    pub async fn presence_of(&self, agent: &str) -> String {
        let mut tx = self.store().begin().await.unwrap();
        let presence = awa_presence::presence(&mut tx, agent).await.unwrap();
        tx.commit().await.unwrap();
        presence.expect("a presence").state.sys_id
    }
}

/// The records of `table` whose `field` is `value`.
pub async fn where_eq(
    store: &dyn Storage,
    table: &'static Table,
    field: &str,
    value: &str,
) -> Vec<Record> {
    let field = table.field(field).expect("a field of the table");
    store
        .select(table, &Select::filter(Filter::eq(field, value.into())))
        .await
        .unwrap()
}

/// A field as text, empty when null.
pub fn text(record: &Record, field: &str) -> String {
    record.str(field).unwrap_or_default().to_owned()
}

pub fn flag(record: &Record, field: &str) -> bool {
    record.get(field) == &Value::Bool(true)
}

pub fn int(record: &Record, field: &str) -> i64 {
    match record.get(field) {
        Value::Int(n) => *n,
        other => panic!("{field} is not an integer: {other:?}"),
    }
}

/// A moment with whole seconds (stored date-times have no fractions), an hour from now.
pub fn t0() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc() + Duration::hours(1);
    now.replace_nanosecond(0).unwrap()
}

/// An offer to `agent` with the defaults and no time limit.
pub fn offer(agent: &str) -> Offer {
    Offer {
        agent: agent.to_owned(),
        allowed_to_decline: true,
        auto_assign: false,
        display_option: "card_only".to_owned(),
        deadline: None,
    }
}

/// An offer to `agent` made at `now` that expires `seconds` later, the agent then moved to
/// `after` (if given).
pub fn timed_offer(agent: &str, now: OffsetDateTime, seconds: i64, after: Option<&str>) -> Offer {
    Offer {
        deadline: Some(Deadline {
            seconds,
            offered_on: now,
            expires: now + Duration::seconds(seconds),
            after_timeout_presence: after.map(str::to_owned),
        }),
        ..offer(agent)
    }
}
