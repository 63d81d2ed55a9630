//! Outbound events (docs/outbound-events.md): a contact center's endpoint of its own receives
//! what AWA's external routing reports, signed, in order per interaction, retried until it
//! answers 2xx, each attempt in `sys_outbound_http_log`; and the supervisor's join, played as
//! the Conversation Member page's four steps.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use crate::helpers::awa::AwaWorld;
use crate::helpers::provider::{
    Answer, ProviderServer, SECRET, SIGNATURE_HEADER, register, register_with, world_reporting_to,
};
use crate::helpers::{
    INTEGRATION, TestApp, assert_postgres_pass, fetch_record, fetch_records, json_of, sys_id_of,
};

const WAIT: Duration = Duration::from_secs(20);

fn types(received: &[crate::helpers::provider::Received]) -> Vec<String> {
    received.iter().map(|r| r.event_type().to_owned()).collect()
}

/// The events of one interaction, in the order they arrived.
fn of_document<'a>(
    received: &'a [crate::helpers::provider::Received],
    document: &str,
) -> Vec<&'a crate::helpers::provider::Received> {
    received
        .iter()
        .filter(|r| r.json["document"]["sys_id"] == document)
        .collect()
}

/// The outbox (admin, in `sequence` order) once no event in it is claimed: every attempt
/// begun has been recorded.
async fn settled_outbox(app: &crate::helpers::TestApp) -> Vec<Json> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let query = "sysparm_query=ORDERBYsequence";
        let events = fetch_records(app, "x_switchboard_outbound_event", query).await;
        if events.iter().all(|e| e["claimed_by"] == "") {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still claimed: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_routing_day_reaches_the_provider_in_order_signed_and_logged() {
    let server = ProviderServer::start().await;
    let (w, provider) = world_reporting_to(&server, json!({})).await;
    let agent1 = w.agents[0].sys_id.clone();
    let agent2 = w.agents[1].sys_id.clone();

    // Queued, offered to agent1, rejected, offered to agent2, accepted, transferred to the
    // other queue, closed.
    let chat = w.open_in_queue(&w.queue).await;
    let item = sys_id_of(&w.active_work_item(&chat).await);
    w.offer(&item, &agent1).await;
    let reject = json!({"agent_id": agent1, "work_item_id": item, "reject_reason_id": w.busy});
    let (status, body) = w
        .call(Method::POST, "/api/now/awa/inbox/actions/reject", reject)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.offer(&item, &agent2).await;
    w.accept(&agent2, &item).await;
    let path = format!("/api/now/awa/documents/interaction/{chat}/offer");
    let transfer = json!({"transfer": {"target_type": "queue", "target_id": w.other_queue,
                                       "transfer_type": "blind"}});
    let (status, body) = w.call(Method::POST, &path, transfer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    w.close(&chat).await;

    let expected = [
        "interaction.queued",
        "work_item.offered",
        "work_item.rejected",
        "work_item.offered",
        "work_item.accepted",
        "interaction.transferred_to_queue",
        "interaction.closed",
    ];
    let received = server.wait_for(expected.len(), WAIT).await;
    let ours = of_document(&received, &chat);
    let kinds: Vec<&str> = ours.iter().map(|r| r.event_type()).collect();
    assert_eq!(kinds, expected);

    // Every delivery is signed with the provider's secret, names itself in its headers, and
    // carries what the provider needs.
    for r in &received {
        assert!(r.signed_with(SIGNATURE_HEADER, SECRET), "{:?}", r.headers);
        assert_eq!(r.header("x-switchboard-event"), Some(r.event_type()));
        assert_eq!(r.header("x-switchboard-event-id"), Some(r.event_id()));
        assert_eq!(r.header("x-switchboard-delivery-attempt"), Some("1"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.json["provider"]["sys_id"], provider.as_str());
        assert_eq!(r.json["format_version"], 1);
        assert_eq!(r.event_id().len(), 32);
    }
    let sequences: Vec<i64> = ours
        .iter()
        .map(|r| r.json["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let queued = &ours[0].json;
    assert_eq!(queued["document"]["table"], "interaction");
    assert!(
        queued["document"]["number"]
            .as_str()
            .unwrap()
            .starts_with("IMS")
    );
    assert_eq!(queued["queue"]["sys_id"], w.queue.as_str());
    assert_eq!(queued["queue"]["external_id"], "ext-chat-1");
    assert_eq!(queued["work_item"]["sys_id"], item.as_str());
    assert_eq!(queued["work_item"]["state"], "queued");
    assert_eq!(queued["agent"], Json::Null);
    let offered = &ours[1].json;
    assert_eq!(offered["agent"]["sys_id"], agent1.as_str());
    assert_eq!(offered["agent"]["user_name"], "agent1");
    assert_eq!(offered["work_item"]["state"], "pending_accept");
    let rejected = &ours[2].json;
    assert_eq!(rejected["agent"]["sys_id"], agent1.as_str());
    assert_eq!(rejected["reject_reason"]["reason"], "Busy");
    assert_eq!(rejected["work_item"]["state"], "queued");
    assert_eq!(ours[4].json["agent"]["sys_id"], agent2.as_str());
    let moved = &ours[5].json;
    assert_eq!(moved["queue"]["sys_id"], w.other_queue.as_str());
    assert_eq!(moved["from"]["work_item"], item.as_str());
    assert_eq!(moved["from"]["agent"]["sys_id"], agent2.as_str());
    assert_eq!(moved["from"]["queue"]["sys_id"], w.queue.as_str());
    let closed = &ours[6].json;
    assert_eq!(closed["document"]["active"], false);
    assert_eq!(closed["state"], "closed_complete");

    // Every attempt is in the outbound log, and each event is delivered, through the Table
    // API (admin). The provider records a delivery when it arrives, before the deliverer has
    // recorded its answer: the last one may still be settling.
    let events = settled_outbox(&w.app).await;
    assert_eq!(events.len(), received.len());
    for event in &events {
        assert_eq!(event["state"], "delivered", "{event}");
        assert_eq!(event["attempts"], "1");
        assert_eq!(event["last_status"], "200");
        let logged = fetch_records(
            &w.app,
            "sys_outbound_http_log",
            &format!("source_record={}", event["sys_id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(logged.len(), 1, "{logged:?}");
        let log = &logged[0];
        assert_eq!(log["http_method"], "POST");
        assert_eq!(log["url"], server.url.as_str());
        assert_eq!(log["hostname"], "127.0.0.1");
        assert_eq!(log["path"], "/events");
        assert_eq!(log["response_status"], "200");
        assert_eq!(log["source_table"], "x_switchboard_outbound_event");
        assert!(
            log["request_body"]
                .as_str()
                .unwrap()
                .contains(event["sys_id"].as_str().unwrap())
        );
        assert_eq!(log["response_body"], "{\"received\":true}");
        assert!(
            log["request_headers"]
                .as_str()
                .unwrap()
                .contains("X-CC-Signature: sha256=")
        );
    }
    // Neither the provider's secret nor the log is anyone's but admin's.
    let provider_record = fetch_record(&w.app, "awa_external_provider", &provider)
        .await
        .expect("the provider");
    assert!(provider_record.get("secret").is_none(), "{provider_record}");
    let response = w
        .app
        .as_user(
            INTEGRATION,
            Method::GET,
            "/api/now/table/sys_outbound_http_log",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn presence_changes_go_to_every_provider_taking_them_keyed_by_agent() {
    let server = ProviderServer::start().await;
    let (w, _) = world_reporting_to(&server, json!({})).await;
    // A second provider takes only closes: it hears nothing of presence.
    let closes_only = ProviderServer::start().await;
    let types_filter = json!({"event_types": "interaction.closed"});
    register_with(&w.app, "Closes only", &closes_only, types_filter).await;
    let agent = w.agents[2].sys_id.clone();
    w.set_presence(&agent, &w.away, &[]).await;
    w.make_available(&agent).await;

    let received = server.wait_for(2, WAIT).await;
    assert_eq!(
        types(&received),
        ["agent.presence_changed", "agent.presence_changed"]
    );
    assert_eq!(received[0].json["agent"]["sys_id"], agent.as_str());
    assert_eq!(received[0].json["presence_state"]["name"], "Away");
    assert_eq!(received[0].json["presence_state"]["available"], false);
    assert_eq!(
        received[0].json["previous_presence_state"]["name"],
        "Available"
    );
    assert_eq!(received[1].json["presence_state"]["name"], "Available");

    // The filtered provider gets the close of a routed interaction, and nothing else.
    let q = w.queue.clone();
    let path = format!("/api/now/table/awa_queue/{q}");
    let other =
        sys_id_of(&fetch_records(&w.app, "awa_external_provider", "name=Closes only").await[0]);
    let patch = w
        .app
        .admin(Method::PATCH, &path)
        .json(&json!({"external_provider": other}));
    assert_eq!(patch.send().await.unwrap().status(), StatusCode::OK);
    let chat = w.open_in_queue(&w.queue).await;
    w.close(&chat).await;
    let closed = closes_only.wait_for(1, WAIT).await;
    assert_eq!(types(&closed), ["interaction.closed"]);
    assert_eq!(closed[0].json["document"]["sys_id"], chat.as_str());
}

#[tokio::test]
async fn a_failing_provider_gets_the_event_again_and_later_events_wait_their_turn() {
    let server = ProviderServer::start().await;
    server.script([Answer::Status(500), Answer::RetryAfter(503, 30)]);
    let (w, _) = world_reporting_to(&server, json!({})).await;
    let chat = w.open_in_queue(&w.queue).await;
    let item = sys_id_of(&w.active_work_item(&chat).await);
    w.offer(&item, &w.agents[0].sys_id).await;

    // First attempt: 500. The offer waits behind the queued event.
    let received = server.wait_for(1, WAIT).await;
    assert_eq!(types(&received), ["interaction.queued"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.received().len(),
        1,
        "nothing overtakes a failed event"
    );
    // The retry comes after its backoff (1 s): moving the clock brings it now. 503 with
    // Retry-After: 30 puts the next one off by 30 s.
    w.app.state.clock.advance(Duration::from_secs(2));
    let received = server.wait_for(2, WAIT).await;
    assert_eq!(received[1].event_id(), received[0].event_id());
    assert_eq!(
        received[1].header("x-switchboard-delivery-attempt"),
        Some("2")
    );
    w.app.state.clock.advance(Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.received().len(), 2, "Retry-After is honoured");
    w.app.state.clock.advance(Duration::from_secs(25));
    let received = server.wait_for(4, WAIT).await;
    assert_eq!(
        types(&received),
        [
            "interaction.queued",
            "interaction.queued",
            "interaction.queued",
            "work_item.offered"
        ]
    );
    assert_eq!(
        received[2].header("x-switchboard-delivery-attempt"),
        Some("3")
    );

    let event_id = received[0].event_id();
    let event = fetch_record(&w.app, "x_switchboard_outbound_event", event_id)
        .await
        .expect("the event");
    assert_eq!(event["state"], "delivered");
    assert_eq!(event["attempts"], "3");
    let logged = fetch_records(
        &w.app,
        "sys_outbound_http_log",
        &format!("sysparm_query=source_record={event_id}^ORDERBYsequence"),
    )
    .await;
    let statuses: Vec<&str> = logged
        .iter()
        .map(|l| l["response_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["500", "503", "200"]);
    let headers = logged[1]["response_headers"].as_str().unwrap();
    assert!(headers.contains("retry-after: 30"), "{headers}");
}

#[tokio::test]
async fn an_event_out_of_attempts_is_failed_and_the_next_one_goes() {
    let server = ProviderServer::start().await;
    server.script([Answer::Status(500), Answer::Status(502)]);
    let (w, _) = world_reporting_to(&server, json!({"max_attempts": 2})).await;
    let chat = w.open_in_queue(&w.queue).await;
    let item = sys_id_of(&w.active_work_item(&chat).await);
    w.offer(&item, &w.agents[0].sys_id).await;
    server.wait_for(1, WAIT).await;
    w.app.state.clock.advance(Duration::from_secs(2));
    let received = server.wait_for(3, WAIT).await;
    assert_eq!(
        types(&received),
        [
            "interaction.queued",
            "interaction.queued",
            "work_item.offered"
        ]
    );
    let failed = fetch_record(
        &w.app,
        "x_switchboard_outbound_event",
        received[0].event_id(),
    )
    .await
    .expect("the event");
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["attempts"], "2");
    assert_eq!(failed["last_status"], "502");
}

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_is_tried_again() {
    let server = ProviderServer::start().await;
    server.script([Answer::Slow(Duration::from_secs(3))]);
    let (w, _) = world_reporting_to(&server, json!({"timeout": 1})).await;
    let chat = w.open_in_queue(&w.queue).await;
    let first = server.wait_for(1, WAIT).await;
    // The first attempt timed out (after 1 s); its retry is due after 1 s more.
    let event_id = first[0].event_id().to_owned();
    let deadline = tokio::time::Instant::now() + WAIT;
    let log = loop {
        let query = format!("source_record={event_id}");
        let logged = fetch_records(&w.app, "sys_outbound_http_log", &query).await;
        if let Some(log) = logged.into_iter().next() {
            break log;
        }
        assert!(tokio::time::Instant::now() < deadline, "no log record");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(log["response_status"], "");
    assert!(
        log["error"].as_str().unwrap().starts_with("timed out"),
        "{log}"
    );
    w.app.state.clock.advance(Duration::from_secs(5));
    let received = server.wait_for(2, WAIT).await;
    assert_eq!(received[1].event_id(), event_id);
    assert_eq!(received[1].json["document"]["sys_id"], chat.as_str());
}

#[tokio::test]
async fn basic_and_bearer_providers_send_their_credentials_and_the_log_masks_them() {
    for (auth, extra, expected) in [
        (
            "basic",
            json!({"authentication": "basic", "username": "cc", "password": "pw"}),
            "Basic Y2M6cHc=",
        ),
        (
            "bearer",
            json!({"authentication": "bearer", "token": "cc-token"}),
            "Bearer cc-token",
        ),
    ] {
        let server = ProviderServer::start().await;
        let (w, _) = world_reporting_to(&server, extra).await;
        w.open_in_queue(&w.queue).await;
        let received = server.wait_for(1, WAIT).await;
        assert_eq!(
            received[0].header("authorization"),
            Some(expected),
            "{auth}"
        );
        assert_eq!(received[0].header(SIGNATURE_HEADER), None, "{auth}");
        let event = received[0].event_id().to_owned();
        let deadline = tokio::time::Instant::now() + WAIT;
        let log = loop {
            let query = format!("source_record={event}");
            if let Some(log) = fetch_records(&w.app, "sys_outbound_http_log", &query)
                .await
                .pop()
            {
                break log;
            }
            assert!(tokio::time::Instant::now() < deadline, "no log record");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let headers = log["request_headers"].as_str().unwrap();
        assert!(headers.contains("Authorization: "), "{headers}");
        assert!(headers.contains("********"), "{headers}");
        assert!(
            !headers.contains(expected.split(' ').nth(1).unwrap()),
            "{headers}"
        );
    }
}

#[tokio::test]
async fn provider_records_are_checked_when_written() {
    let w = AwaWorld::new().await;
    for (body, field) in [
        (
            json!({"name": "x", "endpoint_url": "ftp://cc.example"}),
            "endpoint_url",
        ),
        (json!({"name": "x"}), "endpoint_url"),
        (
            json!({"name": "x", "endpoint_url": "http://cc.example", "authentication": "digest"}),
            "authentication",
        ),
        (
            json!({"name": "x", "endpoint_url": "http://cc.example", "event_types": "work_item.opened"}),
            "event_types",
        ),
        (
            json!({"name": "x", "endpoint_url": "http://cc.example", "timeout": 0}),
            "timeout",
        ),
        (
            json!({"name": "x", "endpoint_url": "http://cc.example", "authentication": "hmac"}),
            "secret",
        ),
        (
            json!({"name": "x", "endpoint_url": "http://cc.example", "authentication": "hmac",
                   "secret": "s", "signature_header": "X Sig"}),
            "signature_header",
        ),
    ] {
        let response = w
            .app
            .admin(Method::POST, "/api/now/table/awa_external_provider")
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, answer) = json_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        let detail = answer["error"]["detail"].as_str().unwrap_or_default();
        assert!(
            message.contains(field) || detail.contains(field),
            "{body}: {answer}"
        );
    }
    let providers = fetch_records(&w.app, "awa_external_provider", "").await;
    assert!(providers.is_empty(), "{providers:?}");
}

#[tokio::test]
async fn a_queue_without_a_provider_sends_nothing() {
    let server = ProviderServer::start().await;
    let w = AwaWorld::new().await;
    register(&w.app, "Contact center", &server).await;
    let chat = w.open_in_queue(&w.queue).await;
    w.close(&chat).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Presence events concern every provider; routing events only that of the queue.
    let kinds = types(&server.received());
    assert!(
        kinds.iter().all(|k| k == "agent.presence_changed"),
        "{kinds:?}"
    );
    let events = fetch_records(
        &w.app,
        "x_switchboard_outbound_event",
        "sysparm_query=event_typeSTARTSWITHinteraction",
    )
    .await;
    assert!(events.is_empty(), "{events:?}");
}

/// A node of the two-node test: its AWA sweeper off, delivering every 20 ms when idle (so the
/// two deliverers look for work often, and race for it).
fn eager_deliverer(config: &mut switchboard::state::Config) {
    config.awa_sweep_interval = Duration::ZERO;
    config.outbound_poll_interval = Duration::from_millis(20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn two_nodes_deliver_each_event_once_in_order() {
    assert_postgres_pass();
    let server = ProviderServer::start().await;
    let w = AwaWorld::on(TestApp::spawn_with(eager_deliverer).await).await;
    let provider = register(&w.app, "Contact center", &server).await;
    let path = format!("/api/now/table/awa_queue/{}", w.queue);
    let patch = w.app.admin(Method::PATCH, &path);
    let patch = patch.json(&json!({"external_provider": provider})).send();
    assert_eq!(patch.await.unwrap().status(), StatusCode::OK);
    let other = w.app.another_node(eager_deliverer).await;
    let nodes = [&w.app, &other];

    // Twenty chats opened on the two nodes in turn; three in four offered (on the other node),
    // half accepted (on the first); all closed (on the other).
    let mut chats = Vec::new();
    for i in 0..20 {
        let (node, next) = (nodes[i % 2], nodes[(i + 1) % 2]);
        let open = json!({"channel": w.connector, "queue": w.queue});
        let opened = node.as_user(INTEGRATION, Method::POST, "/api/now/interaction");
        let (status, body) = json_of(opened.json(&open).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let chat = sys_id_of(&body["result"]);
        let mut expected = vec!["interaction.queued"];
        if i % 4 != 3 {
            let agent = &w.agents[i % 3].sys_id;
            let item = sys_id_of(&w.active_work_item(&chat).await);
            let path = format!("/api/now/table/awa_work_item/{item}");
            let offer = json!({"state": "pending_accept", "assigned_to": agent});
            let response = next.admin(Method::PATCH, &path).json(&offer).send();
            let (status, body) = json_of(response.await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            expected.push("work_item.offered");
            if i % 2 == 0 {
                let accept = json!({"agent_id": agent, "work_item_id": item});
                let path = "/api/now/awa/inbox/actions/accept";
                let response = node.as_user(INTEGRATION, Method::POST, path).json(&accept);
                let (status, body) = json_of(response.send().await.unwrap()).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                expected.push("work_item.accepted");
            }
        }
        // Closed on the other node (which frees the agent's capacity).
        let path = format!("/api/now/interaction/{chat}/close");
        let response = next
            .as_user(INTEGRATION, Method::POST, &path)
            .json(&json!({}));
        let (status, body) = json_of(response.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        expected.push("interaction.closed");
        chats.push((chat, expected));
    }

    // Every event is delivered, each attempted once (one log record each).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events = fetch_records(
            &w.app,
            "x_switchboard_outbound_event",
            "sysparm_query=ORDERBYsequence",
        )
        .await;
        if events.iter().all(|e| e["state"] == "delivered") {
            break events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all delivered: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expected_count: usize = chats.iter().map(|(_, e)| e.len()).sum();
    assert_eq!(events.len(), expected_count, "{events:?}");
    for event in &events {
        assert_eq!(event["attempts"], "1", "{event}");
    }
    let logged = fetch_records(&w.app, "sys_outbound_http_log", "").await;
    assert_eq!(logged.len(), events.len(), "one attempt per event");

    // The provider received each event once (no attempt is left: each one is settled), in
    // sequence order per chat.
    let received = server.received();
    let ids: Vec<&str> = received.iter().map(|r| r.event_id()).collect();
    let distinct: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "a duplicate delivery: {ids:?}");
    let queued: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| e["sys_id"].as_str().unwrap())
        .collect();
    assert_eq!(distinct, queued);
    for (chat, expected) in &chats {
        let ours = of_document(&received, chat);
        assert_eq!(
            ours.iter().map(|r| r.event_type()).collect::<Vec<_>>(),
            *expected,
            "{chat}"
        );
        let sequences: Vec<i64> = ours
            .iter()
            .map(|r| r.json["sequence"].as_i64().unwrap())
            .collect();
        assert!(sequences.windows(2).all(|s| s[0] < s[1]), "{sequences:?}");
        assert!(ours.iter().all(|r| r.signed_with(SIGNATURE_HEADER, SECRET)));
    }
}

/// The deliverer reads the outbox a page at a time and goes round it: a page full of events
/// waiting on a provider that is down does not hide the events after it.
#[tokio::test]
async fn the_outbox_is_read_round_a_page_at_a_time() {
    use switchboard::domain::events::outbox;
    let server = ProviderServer::start().await;
    let app = crate::helpers::TestApp::spawn_with(|c| {
        c.awa_sweep_interval = Duration::ZERO;
        c.outbound_poll_interval = Duration::ZERO;
    })
    .await;
    let w = AwaWorld::on(app).await;
    let provider = register(&w.app, "Contact center", &server).await;
    let path = format!("/api/now/table/awa_queue/{}", w.queue);
    let patch = w
        .app
        .admin(Method::PATCH, &path)
        .json(&json!({"external_provider": provider}));
    assert_eq!(patch.send().await.unwrap().status(), StatusCode::OK);
    let mut chats = Vec::new();
    for _ in 0..3 {
        chats.push(w.open_in_queue(&w.queue).await);
    }
    let store = &*w.app.state.store;
    let now = w.app.state.clock.now();
    let keys = |due: &outbox::Due| -> Vec<String> {
        due.events
            .iter()
            .map(|e| e.str("ordering_key").unwrap().to_owned())
            .collect()
    };
    let first = outbox::due(store, now, 2, 0).await.unwrap();
    assert_eq!(keys(&first), chats[..2]);
    assert!(first.next > 0);
    let second = outbox::due(store, now, 2, first.next).await.unwrap();
    assert_eq!(keys(&second), chats[2..]);
    assert_eq!(second.next, 0, "the end: the next page starts over");
    // Nothing was sent: this server's deliverer is off.
    assert!(server.received().is_empty());
}
