//! An external-routing day, end to end, through the public APIs only: agents go Available,
//! interactions arrive in queues, the contact center offers, one agent rejects and another
//! accepts, an offer times out, a transfer and a consult happen, members are updated and
//! dropped, interactions close. Presence, capacities, work items and members are checked at
//! every step, as a contact center and a supervisor would see them.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{INTEGRATION, TestApp, fetch_record, fetch_records, json_of, sys_id_of};

/// The people of the day.
struct Day {
    app: TestApp,
    alice: String,
    bob: String,
    carol: String,
    chat: String,
    available: String,
    away: String,
    support: String,
    billing: String,
    busy: String,
    connector: String,
}

async fn morning() -> Day {
    let app = TestApp::spawn_with(|c| c.awa_sweep_interval = Duration::ZERO).await;
    app.integration_user().await;
    let agent_roles = ["awa_agent", "awa_external_user"];
    let alice = app.user("alice", "alice-password", &agent_roles).await;
    let bob = app.user("bob", "bob-password", &agent_roles).await;
    let carol = app.user("carol", "carol-password", &agent_roles).await;
    let id = |v: Value| sys_id_of(&v);
    let chat = id(app
        .insert(
            "awa_service_channel",
            json!({"name": "Chat", "service_channel_type": "chat", "max_capacity": 1}),
        )
        .await);
    let available = id(app
        .insert(
            "awa_presence_state",
            json!({"name": "Available", "available": true, "order": 0}),
        )
        .await);
    let away = id(app
        .insert(
            "awa_presence_state",
            json!({"name": "Away", "available": false, "order": 1}),
        )
        .await);
    app.insert(
        "awa_presence_state",
        json!({"name": "Offline", "available": false, "order": 2}),
    )
    .await;
    let queue = |name: &str, external: &str| {
        json!({"name": name, "service_channel": chat, "external_id": external,
               "external_routing": true})
    };
    let support = id(app
        .insert("awa_queue", queue("Support", "gc-support"))
        .await);
    let billing = id(app
        .insert("awa_queue", queue("Billing", "gc-billing"))
        .await);
    let busy = id(app
        .insert(
            "awa_reject_reason",
            json!({"reason": "Busy", "order": 1, "service_channel": chat}),
        )
        .await);
    let connector = id(app
        .insert(
            "interaction_connector",
            json!({"name": "Genesys chat", "type": "chat", "third_party": true}),
        )
        .await);
    Day {
        app,
        alice,
        bob,
        carol,
        chat,
        available,
        away,
        support,
        billing,
        busy,
        connector,
    }
}

impl Day {
    /// A call as the contact center's integration user: status and body.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.app.as_user(INTEGRATION, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.unwrap()).await
    }

    async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(method, path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{path} {body} -> {answer}");
        answer["result"].clone()
    }

    async fn set_presence(&self, agent: &str, state: &str, chat: bool) {
        let body = json!({"presence": {"sys_id": state,
                          "channels": [{"sys_id": self.chat, "available": chat}]}});
        self.ok(Method::PUT, &format!("/api/now/awa/agents/{agent}"), body)
            .await;
    }

    async fn presence(&self, agent: &str) -> String {
        let path = format!("/api/now/awa/agents/{agent}");
        let (status, body) = self.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["result"]["presence"]["name"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The agent's Chat workload, as the AWA Agent API reports it.
    async fn workload(&self, agent: &str) -> i64 {
        let path = format!("/api/now/awa/agents/{agent}/capacities");
        let (status, body) = self.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let channels = body["result"]["channels"].as_array().unwrap();
        let chat = channels
            .iter()
            .find(|c| c["channel_sys_id"] == self.chat.as_str())
            .unwrap_or_else(|| panic!("no Chat capacity in {body}"));
        chat["current_workload"].as_i64().unwrap()
    }

    async fn workloads(&self) -> [i64; 3] {
        [
            self.workload(&self.alice).await,
            self.workload(&self.bob).await,
            self.workload(&self.carol).await,
        ]
    }

    /// A customer starts a chat in `queue`: the interaction's sys_id.
    async fn arrive(&self, queue: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/now/interaction",
                Some(json!({"channel": self.connector, "queue": queue})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["result"]["sys_id"].as_str().unwrap().to_owned()
    }

    /// The interaction's work items, oldest first.
    async fn items(&self, interaction: &str) -> Vec<Value> {
        let query = format!("sysparm_query=document_id={interaction}^ORDERBYsys_created_on");
        fetch_records(&self.app, "awa_work_item", &query).await
    }

    /// The interaction's one active work item.
    async fn active_item(&self, interaction: &str) -> Value {
        let active: Vec<Value> = self
            .items(interaction)
            .await
            .into_iter()
            .filter(|i| i["active"] == "true")
            .collect();
        assert_eq!(active.len(), 1, "{active:?}");
        active[0].clone()
    }

    /// (member sys_id of the user, member_type, active) in the interaction's conversation.
    /// (`fetch_records` reads references as plain sys_ids, and takes field=value filters.)
    async fn members(&self, interaction: &str) -> Vec<(String, String, bool)> {
        let conversations = fetch_records(
            &self.app,
            "sys_cs_conversation",
            &format!("interaction={interaction}"),
        )
        .await;
        let conversation = conversations[0]["sys_id"].as_str().unwrap();
        let mut members: Vec<(String, String, bool)> = fetch_records(
            &self.app,
            "sys_cs_conversation_member",
            &format!("conversation={conversation}"),
        )
        .await
        .iter()
        .map(|m| {
            (
                m["member"].as_str().unwrap().to_owned(),
                m["member_type"].as_str().unwrap().to_owned(),
                m["active"] == "true",
            )
        })
        .collect();
        members.sort();
        members
    }

    async fn interaction(&self, id: &str) -> Value {
        fetch_record(&self.app, "interaction", id).await.unwrap()
    }

    async fn offer(&self, interaction: &str, body: Value) -> Value {
        let path = format!("/api/now/awa/documents/interaction/{interaction}/offer");
        self.ok(Method::POST, &path, body).await
    }

    async fn accept(&self, agent: &str, item: &str) {
        let body = json!({"agent_id": agent, "work_item_id": item});
        self.ok(Method::POST, "/api/now/awa/inbox/actions/accept", body)
            .await;
    }
}

fn member(who: &str, kind: &str, active: bool) -> (String, String, bool) {
    (who.to_owned(), kind.to_owned(), active)
}

fn sorted(mut members: Vec<(String, String, bool)>) -> Vec<(String, String, bool)> {
    members.sort();
    members
}

#[tokio::test]
async fn an_external_routing_day_end_to_end() {
    let day = morning().await;
    let d = &day;

    // 08:00 — the agents sign in: Available on Chat. Nobody holds work yet.
    for agent in [&d.alice, &d.bob, &d.carol] {
        assert_eq!(d.presence(agent).await, "Offline");
        d.set_presence(agent, &d.available, true).await;
        assert_eq!(d.presence(agent).await, "Available");
    }
    assert_eq!(d.workloads().await, [0, 0, 0]);

    // 08:05 — two chats arrive in Support: each waits as a queued work item.
    let first = d.arrive(&d.support).await;
    let second = d.arrive(&d.support).await;
    for chat in [&first, &second] {
        let item = d.active_item(chat).await;
        assert_eq!(item["state"], "queued", "{item}");
        assert_eq!(item["queue"], d.support.as_str(), "{item}");
        assert_eq!(item["service_channel"], d.chat.as_str(), "{item}");
        assert_eq!(d.interaction(chat).await["state"], "queued");
    }

    // 08:06 — the contact center offers the first chat to Alice, by its own queue id.
    let offered = d
        .offer(
            &first,
            json!({"queue_id": "gc-support", "external_segment_id": "seg-1",
                   "assignment": {"agent_sys_id": d.alice, "timeout": 30}}),
        )
        .await;
    assert_eq!(offered["success"], true, "{offered}");
    let item = d.active_item(&first).await;
    let first_item = item["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(offered["work_item"]["sys_id"], first_item.as_str());
    assert_eq!(item["state"], "pending_accept");
    assert_eq!(item["assigned_to"], d.alice.as_str());
    assert_eq!(item["external_segment_id"], "seg-1");
    assert_eq!(d.workloads().await, [1, 0, 0], "a pending offer counts");

    // Alice is busy: she rejects. The chat is back in the queue; the rejection is recorded.
    let reasons = d
        .ok(
            Method::GET,
            &format!("/api/now/awa/inbox/actions/reject_reasons/{}", d.chat),
            Value::Null,
        )
        .await;
    assert_eq!(reasons[0]["value"], "Busy", "{reasons}");
    let body = json!({"agent_id": d.alice, "work_item_id": first_item, "reject_reason_id": d.busy});
    d.ok(Method::POST, "/api/now/awa/inbox/actions/reject", body)
        .await;
    let item = d.active_item(&first).await;
    assert_eq!(item["state"], "queued");
    assert_eq!(item["assigned_to"], "");
    assert_eq!(item["rejected"], "true");
    let rejections = fetch_records(
        &d.app,
        "awa_work_item_rejection",
        &format!("work_item={first_item}"),
    )
    .await;
    assert_eq!(rejections.len(), 1);
    assert_eq!(d.workloads().await, [0, 0, 0]);

    // 08:07 — the same item goes to Bob through Manual Assignment; Bob accepts.
    let path = format!("/api/now/awa/workitems/{first_item}/assignments");
    let answer = d
        .ok(Method::POST, &path, json!({"agent_sys_id": d.bob}))
        .await;
    assert_eq!(answer["success"], true, "{answer}");
    d.accept(&d.bob, &first_item).await;
    let item = d.active_item(&first).await;
    assert_eq!(item["state"], "accepted");
    assert_eq!(item["offer_count"], "2");
    let interaction = d.interaction(&first).await;
    assert_eq!(interaction["assigned_to"], d.bob.as_str());
    assert_eq!(interaction["state"], "work_in_progress");
    assert_eq!(
        d.members(&first).await,
        vec![member(&d.bob, "public_fulfiller", true)]
    );
    assert_eq!(d.workloads().await, [0, 1, 0]);

    // 08:10 — the second chat is offered to Carol for 20 s; she does not answer. The offer
    // times out: cancelled, and Carol is moved to Away as the offer asked.
    d.offer(
        &second,
        json!({"queue_id": d.support, "assignment": {"agent_sys_id": d.carol,
               "timeout": "20", "after_timeout_presence": d.away}}),
    )
    .await;
    assert_eq!(d.workloads().await, [0, 1, 1]);
    d.app.state.clock.advance(Duration::from_secs(19));
    assert_eq!(d.app.state.sweep_offers().await.unwrap(), 0, "not yet");
    d.app.state.clock.advance(Duration::from_secs(2));
    assert_eq!(d.app.state.sweep_offers().await.unwrap(), 1);
    let timed_out = d.items(&second).await.pop().unwrap();
    assert_eq!(timed_out["state"], "cancelled", "{timed_out}");
    assert_eq!(timed_out["reason"], "time_out");
    assert_eq!(timed_out["timed_out"], "true");
    assert_eq!(timed_out["active"], "false");
    assert_eq!(d.presence(&d.carol).await, "Away");
    assert_eq!(d.workloads().await, [0, 1, 0]);
    // Carol comes back; a second offer of the chat (a new work item) is auto-accepted.
    d.set_presence(&d.carol, &d.available, true).await;
    d.offer(
        &second,
        json!({"queue_id": d.support, "assignment": {"agent_sys_id": d.carol,
               "enable_auto_assign": "yes"}}),
    )
    .await;
    let item = d.active_item(&second).await;
    assert_eq!(item["state"], "accepted");
    assert_eq!(
        d.members(&second).await,
        vec![member(&d.carol, "public_fulfiller", true)]
    );
    assert_eq!(d.workloads().await, [0, 1, 1]);

    // 09:00 — Bob blind-transfers the first chat to Alice, who accepts: Bob is out.
    let transferred = d
        .offer(
            &first,
            json!({"transfer": {"target_type": "agent", "target_id": d.alice,
                                "transfer_type": "blind", "source_queue_id": d.support}}),
        )
        .await;
    let transfer_item = transferred["work_item"]["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(transfer_item, first_item);
    d.accept(&d.alice, &transfer_item).await;
    let items = d.items(&first).await;
    let previous = items.iter().find(|i| i["sys_id"] == first_item.as_str());
    assert_eq!(previous.unwrap()["active"], "false");
    let current = d.active_item(&first).await;
    assert_eq!(current["sys_id"], transfer_item.as_str());
    assert_eq!(current["previous_work_item"], first_item.as_str());
    assert_eq!(d.interaction(&first).await["assigned_to"], d.alice.as_str());
    assert_eq!(
        d.members(&first).await,
        sorted(vec![
            member(&d.alice, "public_fulfiller", true),
            member(&d.bob, "public_fulfiller", false),
        ])
    );
    assert_eq!(d.workloads().await, [1, 0, 1]);

    // 09:30 — Alice consults Bob, who joins privately; the supervisor's view: Bob is made a
    // public fulfiller with the Conversation Member API, then the consult ends without a
    // hand-over and Bob leaves.
    let consult = d
        .offer(
            &first,
            json!({"transfer": {"target_type": "agent", "target_id": d.bob,
                                "transfer_type": "consult"}}),
        )
        .await;
    let consult_item = consult["work_item"]["sys_id"].as_str().unwrap().to_owned();
    d.accept(&d.bob, &consult_item).await;
    let consult_record = fetch_record(&d.app, "awa_work_item", &consult_item)
        .await
        .unwrap();
    assert_eq!(consult_record["consult_state"], "accepted");
    assert_eq!(
        d.members(&first).await,
        sorted(vec![
            member(&d.alice, "public_fulfiller", true),
            member(&d.bob, "private_fulfiller", true),
        ])
    );
    let update = format!("/api/now/conversation/member/{}/update", d.bob);
    let answer = d
        .ok(
            Method::POST,
            &update,
            json!({"interaction_id": first, "member_type": "public_fulfiller"}),
        )
        .await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(d.workloads().await, [1, 1, 1]);
    let end = json!({"document_sys_id": first, "hand_over": false});
    let ended = d.ok(Method::PUT, "/api/now/awa/consult/end", end).await;
    assert_eq!(ended["message"], "Consult is successfully ended.");
    assert_eq!(
        d.members(&first).await,
        sorted(vec![
            member(&d.alice, "public_fulfiller", true),
            member(&d.bob, "public_fulfiller", false),
        ])
    );
    assert_eq!(d.workloads().await, [1, 0, 1]);

    // 10:00 — the billing question: Carol's chat is transferred to the Billing queue. Carol is
    // out at once; the chat waits in Billing until it is offered again.
    d.offer(
        &second,
        json!({"transfer": {"target_type": "queue", "target_id": "gc-billing",
                            "transfer_type": "blind"}}),
    )
    .await;
    let waiting = d.active_item(&second).await;
    assert_eq!(waiting["state"], "queued");
    assert_eq!(waiting["queue"], d.billing.as_str());
    assert_eq!(waiting["is_queue_transferred"], "true");
    assert_eq!(d.interaction(&second).await["assigned_to"], "");
    assert_eq!(
        d.members(&second).await,
        vec![member(&d.carol, "public_fulfiller", false)]
    );
    assert_eq!(d.workloads().await, [1, 0, 0]);
    let waiting_id = waiting["sys_id"].as_str().unwrap().to_owned();
    let path = format!("/api/now/awa/workitems/{waiting_id}/assignments");
    d.ok(Method::POST, &path, json!({"agent_sys_id": d.bob}))
        .await;
    d.accept(&d.bob, &waiting_id).await;
    assert_eq!(d.workloads().await, [1, 1, 0]);

    // 11:00 — the customers are done: both chats close. Every workload is back to 0, the
    // work items are over, the agents are still Available.
    for chat in [&first, &second] {
        let path = format!("/api/now/interaction/{chat}/close");
        let (status, body) = d.call(Method::POST, &path, Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let active: Vec<Value> = d
            .items(chat)
            .await
            .into_iter()
            .filter(|i| i["active"] == "true")
            .collect();
        assert!(active.is_empty(), "{active:?}");
    }
    assert_eq!(d.workloads().await, [0, 0, 0]);
    for agent in [&d.alice, &d.bob, &d.carol] {
        assert_eq!(d.presence(agent).await, "Available");
    }
    // The presence history tells Carol's morning: Available, Away, Available again.
    let history = fetch_records(
        &d.app,
        "awa_agent_presence_history",
        &format!("sysparm_query=agent={}^ORDERBYsys_id", d.carol),
    )
    .await;
    let states: Vec<&str> = history
        .iter()
        .map(|h| h["presence_state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        vec![d.available.as_str(), d.away.as_str(), d.available.as_str()]
    );
}
