//! Outbound events survive SIGKILL (docs/outbound-events.md, "Delivery"): the real binary
//! reports a routing day to a contact center of the test's own that answers slowly, is killed
//! while deliveries are in flight, and is restarted on the same database. Every event the
//! outbox holds reaches the provider (perhaps twice: the same `event_id`, the same bytes), in
//! `sequence` order per interaction and per agent, signed; none is lost, and all end
//! `delivered`. Runs on SQLite and, in the PostgreSQL pass (`backends.rs`), on PostgreSQL.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::binary::Binary;
use super::helpers::provider::{Answer, ProviderServer, Received, SECRET, SIGNATURE_HEADER};
use super::helpers::{ADMIN, INTEGRATION, TestDb, call, sys_id_of};

/// How long a condition may take to come true.
const WAIT: Duration = Duration::from_secs(60);
/// The provider's `timeout` (s): a delivery's claim lasts this and 2 s more.
const PROVIDER_TIMEOUT: i64 = 4;
/// How long the provider takes to answer before the kill: under its timeout, so an answer that
/// comes is a success, and long enough that the kill lands while it is awaited.
const SLOW: Duration = Duration::from_secs(3);
const INTERACTIONS: usize = 6;

/// The binary with the test admin's password, delivering every 50 ms when idle.
fn start(database: &str) -> Binary {
    Binary::serve(
        database,
        &["--outbound-poll-interval-ms", "50"],
        &[("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)],
    )
}

/// A request to `node` as `who`, asserting `expected`; the answer's `result`.
async fn expect(
    node: &Binary,
    who: (&str, &str),
    method: Method,
    path: &str,
    body: Option<Json>,
    expected: StatusCode,
) -> Json {
    let (status, answer) = call(&node.base, who, method.clone(), path, body).await;
    assert_eq!(status, expected, "{method} {path}: {answer}");
    answer["result"].clone()
}

async fn insert(node: &Binary, table: &str, body: Json) -> String {
    let path = format!("/api/now/table/{table}");
    let created = expect(
        node,
        ADMIN,
        Method::POST,
        &path,
        Some(body),
        StatusCode::CREATED,
    );
    sys_id_of(&created.await)
}

/// Records of `table` matching `query`, read as admin, references as sys_ids.
async fn records(node: &Binary, table: &str, query: &str) -> Vec<Json> {
    let path = format!(
        "/api/now/table/{table}?sysparm_exclude_reference_link=true&sysparm_limit=10000&{query}"
    );
    let found = expect(node, ADMIN, Method::GET, &path, None, StatusCode::OK).await;
    found.as_array().expect("a list").clone()
}

async fn user(node: &Binary, name: &str, password: &str, roles: &[&str]) -> String {
    let body = json!({"user_name": name, "user_password": password, "first_name": name});
    let id = insert(node, "sys_user", body).await;
    for role in roles {
        insert(
            node,
            "sys_user_has_role",
            json!({"user": name, "role": role}),
        )
        .await;
    }
    id
}

/// What the routing day runs on, set up over HTTP as `AwaWorld::on` does in process.
struct World {
    available: String,
    away: String,
    chat: String,
    connector: String,
    queue: String,
    agents: Vec<String>,
}

/// Presence states, a Chat channel, a third-party chat connector, the integration user, two
/// agents, a provider (HMAC, [`PROVIDER_TIMEOUT`]) for `provider_url`, and an externally
/// routed Chat queue reporting to it.
async fn set_up(node: &Binary, provider_url: &str) -> World {
    let state = |name: &str, available: bool, order: i64| json!({"name": name, "available": available, "order": order, "active": true});
    let available = insert(node, "awa_presence_state", state("Available", true, 0)).await;
    let away = insert(node, "awa_presence_state", state("Away", false, 1000)).await;
    let channel = json!({"name": "Chat", "service_channel_type": "chat", "max_capacity": 10,
                         "active": true});
    let chat = insert(node, "awa_service_channel", channel).await;
    let connector = json!({"name": "CCaaS chat", "type": "chat", "third_party": true,
                           "active": true});
    let connector = insert(node, "interaction_connector", connector).await;
    let roles = ["awa_integration_user", "interaction_agent"];
    user(node, INTEGRATION.0, INTEGRATION.1, &roles).await;
    let mut agents = Vec::new();
    for name in ["agent1", "agent2"] {
        let password = format!("{name}-password");
        let roles = ["awa_agent", "awa_external_user"];
        agents.push(user(node, name, &password, &roles).await);
    }
    let provider = json!({
        "name": "Contact center",
        "endpoint_url": provider_url,
        "authentication": "hmac",
        "secret": SECRET,
        "signature_header": SIGNATURE_HEADER,
        "timeout": PROVIDER_TIMEOUT,
    });
    let provider = insert(node, "awa_external_provider", provider).await;
    let queue = json!({"name": "Chat queue", "service_channel": chat, "external_id": "ext-chat",
                       "external_routing": true, "active": true, "external_provider": provider});
    let queue = insert(node, "awa_queue", queue).await;
    World {
        available,
        away,
        chat,
        connector,
        queue,
        agents,
    }
}

impl World {
    /// Sets an agent's presence through the AWA Agent API, Chat available with it.
    async fn presence(&self, node: &Binary, agent: &str, state: &str, on_chat: bool) {
        let body = json!({"presence": {"sys_id": state,
                          "channels": [{"sys_id": self.chat, "available": on_chat}]}});
        let path = format!("/api/now/awa/agents/{agent}");
        expect(
            node,
            INTEGRATION,
            Method::PUT,
            &path,
            Some(body),
            StatusCode::OK,
        )
        .await;
    }

    /// Opens an interaction in the queue (Interaction Management API): it is queued.
    async fn open(&self, node: &Binary) -> String {
        let body = json!({"channel": self.connector, "queue": self.queue});
        let path = "/api/now/interaction";
        let opened = expect(
            node,
            INTEGRATION,
            Method::POST,
            path,
            Some(body),
            StatusCode::CREATED,
        );
        sys_id_of(&opened.await)
    }

    /// Offers the interaction's work item to `agent` (Table API, as admin); the item's sys_id.
    async fn offer(&self, node: &Binary, interaction: &str, agent: &str) -> String {
        let items = records(
            node,
            "awa_work_item",
            &format!("document_id={interaction}&active=true"),
        )
        .await;
        assert_eq!(items.len(), 1, "{items:?}");
        let item = sys_id_of(&items[0]);
        let path = format!("/api/now/table/awa_work_item/{item}");
        let body = json!({"state": "pending_accept", "assigned_to": agent});
        expect(
            node,
            ADMIN,
            Method::PATCH,
            &path,
            Some(body),
            StatusCode::OK,
        )
        .await;
        item
    }

    /// Accepts through the Inbox Actions API.
    async fn accept(&self, node: &Binary, agent: &str, item: &str) {
        let body = json!({"agent_id": agent, "work_item_id": item});
        let path = "/api/now/awa/inbox/actions/accept";
        expect(
            node,
            INTEGRATION,
            Method::POST,
            path,
            Some(body),
            StatusCode::OK,
        )
        .await;
    }

    /// Closes through the Interaction Management API.
    async fn close(&self, node: &Binary, interaction: &str) {
        let path = format!("/api/now/interaction/{interaction}/close");
        expect(
            node,
            INTEGRATION,
            Method::POST,
            &path,
            Some(json!({})),
            StatusCode::OK,
        )
        .await;
    }
}

/// What an event is ordered with: its document, or for a presence change its agent.
fn ordering_key(event: &Json) -> String {
    let key = match event["event_type"].as_str() {
        Some("agent.presence_changed") => &event["agent"]["sys_id"],
        _ => &event["document"]["sys_id"],
    };
    key.as_str()
        .unwrap_or_else(|| panic!("no key in {event}"))
        .to_owned()
}

/// The outbox as admin reads it, in `sequence` order.
async fn outbox(node: &Binary) -> Vec<Json> {
    let query = "sysparm_query=ORDERBYsequence";
    records(node, "x_switchboard_outbound_event", query).await
}

/// Waits until every event of the outbox is `delivered` and the provider has received each
/// one; the outbox then.
async fn everything_delivered(node: &Binary, provider: &ProviderServer) -> Vec<Json> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = outbox(node).await;
        let received: HashSet<String> = provider
            .received()
            .iter()
            .map(|r| r.event_id().to_owned())
            .collect();
        let waiting: Vec<&Json> = events
            .iter()
            .filter(|e| e["state"] != "delivered" || !received.contains(&sys_id_of(e)))
            .collect();
        if waiting.is_empty() {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered in {WAIT:?}: {waiting:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_flight_at_sigkill_are_delivered_after_a_restart_in_order_and_none_lost() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let provider = ProviderServer::start().await;
    // Until the kill, every delivery is answered slowly: they are in flight for a while.
    provider.script(std::iter::repeat_n(Answer::Slow(SLOW), 1000));
    let mut node = start(&db);
    let w = set_up(&node, &provider.url).await;

    // The first half of the day: the agents become available, chats are queued, offered, and
    // some accepted.
    for agent in &w.agents {
        w.presence(&node, agent, &w.available, true).await;
    }
    let mut chats = Vec::new();
    for i in 0..INTERACTIONS {
        let chat = w.open(&node).await;
        let agent = &w.agents[i % 2];
        let item = w.offer(&node, &chat, agent).await;
        if i % 3 != 2 {
            w.accept(&node, agent, &item).await;
        }
        chats.push(chat);
    }
    // A delivery arrives; its answer is 3 s away when the process is killed.
    let before = provider.received().len();
    let arrived = provider.wait_for(before + 1, WAIT).await;
    node.signal("KILL");
    assert!(!node.wait().success(), "SIGKILL is not a clean exit");
    let in_flight = arrived[before].event_id().to_owned();
    let received_at_kill = provider.received().len();
    provider.clear_script();

    // The second half, on a new process on the same database: the chats close, an agent
    // goes away.
    let node = start(&db);
    let queued_before_restart = outbox(&node).await.len();
    for chat in &chats {
        w.close(&node, chat).await;
    }
    w.presence(&node, &w.agents[0], &w.away, false).await;

    let events = everything_delivered(&node, &provider).await;
    let received = provider.received();
    let distinct_before_kill: HashSet<&str> = received[..received_at_kill]
        .iter()
        .map(Received::event_id)
        .collect();
    assert!(
        distinct_before_kill.len() < queued_before_restart,
        "the kill came before everything was received: {} of {queued_before_restart}",
        distinct_before_kill.len()
    );

    // What the outbox holds is what the day did: per chat, queued, offered, (accepted),
    // closed; per agent, its presence changes.
    let mut by_key: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
    for event in &events {
        let payload: Json = serde_json::from_str(event["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["event_id"], event["sys_id"], "{event}");
        assert_eq!(
            payload["sequence"].to_string(),
            event["sequence"].as_str().unwrap()
        );
        by_key
            .entry(ordering_key(&payload))
            .or_default()
            .push(event);
    }
    for (i, chat) in chats.iter().enumerate() {
        let kinds: Vec<&str> = by_key[chat]
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        let mut expected = vec!["interaction.queued", "work_item.offered"];
        if i % 3 != 2 {
            expected.push("work_item.accepted");
        }
        expected.push("interaction.closed");
        assert_eq!(kinds, expected, "chat {i}");
    }
    for (agent, changes) in [(&w.agents[0], 2), (&w.agents[1], 1)] {
        let kinds: Vec<&str> = by_key[agent]
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["agent.presence_changed"; changes], "{agent}");
    }
    assert_eq!(by_key.len(), INTERACTIONS + 2, "{:?}", by_key.keys());

    // Each delivery is an event of the outbox, byte for byte as queued, signed; each event was
    // received at least once; and when one arrived, every earlier event of its document or
    // agent had arrived before it.
    let payloads: BTreeMap<String, &str> = events
        .iter()
        .map(|e| (sys_id_of(e), e["payload"].as_str().unwrap()))
        .collect();
    let sequence = |r: &Received| r.json["sequence"].as_i64().unwrap();
    let mut seen: BTreeSet<(String, i64)> = BTreeSet::new();
    for (n, r) in received.iter().enumerate() {
        let id = r.event_id();
        let payload = payloads
            .get(id)
            .unwrap_or_else(|| panic!("delivery {n} is of no outbox event: {}", r.json));
        assert_eq!(r.body, payload.as_bytes(), "delivery {n}");
        assert!(r.signed_with(SIGNATURE_HEADER, SECRET), "delivery {n}");
        assert_eq!(r.header("x-switchboard-event-id"), Some(id));
        let key = ordering_key(&r.json);
        for earlier in by_key[&key]
            .iter()
            .map(|e| e["sequence"].as_str().unwrap().parse::<i64>().unwrap())
            .filter(|&s| s < sequence(r))
        {
            assert!(
                seen.contains(&(key.clone(), earlier)),
                "delivery {n} ({} #{}) came before #{earlier} of its key",
                r.event_type(),
                sequence(r)
            );
        }
        seen.insert((key, sequence(r)));
    }
    let ids: BTreeSet<&str> = received.iter().map(Received::event_id).collect();
    let queued: BTreeSet<&str> = payloads.keys().map(String::as_str).collect();
    assert_eq!(ids, queued, "every event received, none other");

    // The delivery the kill interrupted was made again by the new process.
    let again = received[received_at_kill..]
        .iter()
        .any(|r| r.event_id() == in_flight);
    assert!(
        again,
        "the event in flight at the kill ({in_flight}) was not sent again"
    );
    // The cut-off attempt counts: the log says it has no outcome, and the resend is the
    // event's next attempt.
    let resent = received[received_at_kill..]
        .iter()
        .find(|r| r.event_id() == in_flight)
        .unwrap();
    assert_eq!(resent.header("x-switchboard-delivery-attempt"), Some("2"));
    let logged = records(
        &node,
        "sys_outbound_http_log",
        &format!("sysparm_query=source_record={in_flight}^ORDERBYsequence"),
    )
    .await;
    let errors: Vec<&str> = logged
        .iter()
        .map(|l| l["error"].as_str().unwrap())
        .collect();
    assert!(
        errors
            .first()
            .is_some_and(|e| e.starts_with("no outcome recorded")),
        "{logged:?}"
    );

    node.stop();
}
