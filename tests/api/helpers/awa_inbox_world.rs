//! An AWA contact center for the work-item APIs (Routing, Inbox Actions, Agent Consult): the
//! integration user, a presence state, Chat and Phone service channels, queues, two agents
//! Available on Chat, a third-party chat connector and reject reasons; and the steps their tests
//! share (routing a document, offering a work item, reading what the APIs changed).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::{
    INTEGRATION, TestApp, chat_connector, fetch_record, fetch_records, json_of, sys_id_of,
};

pub const AGENT1: (&str, &str) = ("agent1", "agent1-password");
pub const AGENT2: (&str, &str) = ("agent2", "agent2-password");

pub struct InboxWorld {
    pub app: TestApp,
    pub agent1: String,
    pub agent2: String,
    pub chat: String,
    pub phone: String,
    /// A queue on Chat.
    pub chat_queue: String,
    /// A second queue on Chat.
    pub other_queue: String,
    /// A queue on Phone.
    pub phone_queue: String,
    /// A third-party chat connector (its interactions have a conversation).
    pub connector: String,
    /// Reject reasons: Chat's `Busy` (order 1); every channel's `Not my expertise` (order 2);
    /// Phone's `On a call` (order 0); an inactive Chat one.
    pub busy: String,
    pub not_my_expertise: String,
    pub on_a_call: String,
    pub retired_reason: String,
}

/// Sets up the world.
pub async fn awa_world() -> InboxWorld {
    let app = TestApp::spawn().await;
    app.integration_user().await;
    let roles = ["awa_agent", "awa_external_user"];
    let agent1 = app.user(AGENT1.0, AGENT1.1, &roles).await;
    let agent2 = app.user(AGENT2.0, AGENT2.1, &roles).await;
    let available = sys_id_of(
        &app.insert(
            "awa_presence_state",
            json!({"name": "Available", "available": true, "order": 0, "active": true}),
        )
        .await,
    );
    let channel = |name: &str, kind: &str| json!({"name": name, "service_channel_type": kind, "max_capacity": 3, "active": true});
    let chat = sys_id_of(
        &app.insert("awa_service_channel", channel("Chat", "chat"))
            .await,
    );
    let phone = sys_id_of(
        &app.insert("awa_service_channel", channel("Phone", "phone"))
            .await,
    );
    let queue = |name: &str, channel: &str| json!({"name": name, "active": true, "service_channel": channel});
    let chat_queue = sys_id_of(&app.insert("awa_queue", queue("Chat support", &chat)).await);
    let other_queue = sys_id_of(&app.insert("awa_queue", queue("Chat sales", &chat)).await);
    let phone_queue = sys_id_of(
        &app.insert("awa_queue", queue("Phone support", &phone))
            .await,
    );
    for agent in [&agent1, &agent2] {
        let (status, body) = json_of(
            app.as_user(
                INTEGRATION,
                Method::PUT,
                &format!("/api/now/awa/agents/{agent}"),
            )
            .json(&json!({"presence": {"sys_id": available,
                    "channels": [{"sys_id": chat, "available": true}]}}))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let connector = chat_connector(&app).await;
    let reason = |reason: &str, order: i64, channel: &str, active: bool| json!({"reason": reason, "order": order, "service_channel": channel, "active": active});
    let mut reasons = Vec::new();
    // Inserted out of order: the API sorts by order.
    for body in [
        reason("Not my expertise", 2, "", true),
        reason("Busy", 1, &chat, true),
        reason("On a call", 0, &phone, true),
        reason("Retired", 0, &chat, false),
    ] {
        reasons.push(sys_id_of(&app.insert("awa_reject_reason", body).await));
    }
    InboxWorld {
        app,
        agent1,
        agent2,
        chat,
        phone,
        chat_queue,
        other_queue,
        phone_queue,
        connector,
        not_my_expertise: reasons[0].clone(),
        busy: reasons[1].clone(),
        on_a_call: reasons[2].clone(),
        retired_reason: reasons[3].clone(),
    }
}

impl InboxWorld {
    /// A request as the integration user with a JSON body.
    pub async fn send(&self, method: Method, path: &str, body: Value) -> Response {
        self.app
            .as_user(INTEGRATION, method, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Status and JSON body of a request as the integration user.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        json_of(self.send(method, path, body).await).await
    }

    /// Opens an interaction on the chat connector in `queue` through the Interaction API;
    /// returns its sys_id.
    pub async fn open_in_queue(&self, queue: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/now/interaction",
                json!({"channel": self.connector, "queue": queue}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        sys_id_of(&body["result"])
    }

    /// Closes an interaction through the Interaction API.
    pub async fn close(&self, interaction: &str) {
        let path = format!("/api/now/interaction/{interaction}/close");
        let (status, body) = self.call(Method::POST, &path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The document's work items, oldest first.
    pub async fn items_of(&self, document: &str) -> Vec<Value> {
        let query = format!("document_id={document}&sysparm_query=ORDERBYsys_created_on");
        fetch_records(&self.app, "awa_work_item", &query).await
    }

    /// The document's only work item's sys_id.
    pub async fn item_of(&self, document: &str) -> String {
        let items = self.items_of(document).await;
        assert_eq!(items.len(), 1, "{items:?}");
        sys_id_of(&items[0])
    }

    /// A record read as admin (references as sys_ids).
    pub async fn record(&self, table: &str, id: &str) -> Value {
        fetch_record(&self.app, table, id)
            .await
            .unwrap_or_else(|| panic!("no {table} {id}"))
    }

    /// Offers the work item to `agent` (pending accept), written through the Table API as
    /// admin, as the Manual Assignment API will.
    pub async fn offer(&self, item: &str, agent: &str) {
        self.patch_item(
            item,
            json!({"state": "pending_accept", "assigned_to": agent}),
        )
        .await;
    }

    /// Changes a work item through the Table API as admin.
    pub async fn patch_item(&self, item: &str, body: Value) {
        let (status, body) = json_of(
            self.app
                .admin(
                    Method::PATCH,
                    &format!("/api/now/table/awa_work_item/{item}"),
                )
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A queued work item for the interaction, offered to `agent`: (interaction, work item).
    pub async fn offered_interaction(&self, agent: &str) -> (String, String) {
        let interaction = self.open_in_queue(&self.chat_queue).await;
        let item = self.item_of(&interaction).await;
        self.offer(&item, agent).await;
        (interaction, item)
    }

    /// Accepts through the Inbox Actions API (asserting 200).
    pub async fn accept(&self, agent: &str, item: &str) {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/now/awa/inbox/actions/accept",
                json!({"agent_id": agent, "work_item_id": item}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The agent's workload on Chat, from the AWA Agent API's capacities.
    pub async fn chat_workload(&self, agent: &str) -> i64 {
        let path = format!("/api/now/awa/agents/{agent}/capacities");
        let (status, body) = json_of(
            self.app
                .as_user(INTEGRATION, Method::GET, &path)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let channels = body["result"]["channels"].as_array().unwrap().clone();
        channels
            .iter()
            .find(|c| c["channel_sys_id"] == self.chat.as_str())
            .unwrap_or_else(|| panic!("no Chat in {body}"))["current_workload"]
            .as_i64()
            .unwrap()
    }

    /// The agent's memberships of the interaction's conversation.
    pub async fn memberships(&self, interaction: &str, agent: &str) -> Vec<Value> {
        let conversations = fetch_records(
            &self.app,
            "sys_cs_conversation",
            &format!("interaction={interaction}"),
        )
        .await;
        let conversation = sys_id_of(&conversations[0]);
        fetch_records(
            &self.app,
            "sys_cs_conversation_member",
            &format!("conversation={conversation}&member={agent}"),
        )
        .await
    }
}
