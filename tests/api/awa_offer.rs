//! The AWA Offer Work and AWA Manual Assignment APIs: every documented message with its status,
//! the success paths in JSON and XML under every version prefix, and what an offer does to the
//! work item, the interaction, the conversation and the agent's workload, as the Table API and
//! the AWA Agent API show it; an offer's timeout expiring when the clock passes it; blind
//! transfers to an agent and to a queue, and consults.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::domain::awa_work::{format_offered_on, parse_offered_on};

use crate::helpers::awa::AwaWorld;
use crate::helpers::{INTEGRATION, TestApp, assert_content_type, fetch_record, json_of, text_of};

const REQUESTED: &str = "Manual assignment successfully requested.";
const UNKNOWN_ID: &str = "0000000000000000000000000000dead";

fn offer_path(table: &str, document: &str) -> String {
    format!("/api/now/awa/documents/{table}/{document}/offer")
}

fn assignment_path(item: &str) -> String {
    format!("/api/now/awa/workitems/{item}/assignments")
}

async fn post_as(app: &TestApp, who: (&str, &str), path: &str, body: Value) -> (StatusCode, Value) {
    let request = app.as_user(who, Method::POST, path).json(&body);
    json_of(request.send().await.unwrap()).await
}

/// POSTs as the integration user.
async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    post_as(app, INTEGRATION, path, body).await
}

/// Offers the interaction's work to `agent` through Offer Work, with `terms` beside the agent.
async fn offer(
    app: &TestApp,
    interaction: &str,
    queue: &str,
    agent: &str,
    terms: Value,
) -> (StatusCode, Value) {
    let mut assignment = json!({"agent_sys_id": agent});
    for (key, value) in terms.as_object().unwrap() {
        assignment[key] = value.clone();
    }
    let body = json!({"queue_id": queue, "assignment": assignment});
    post(app, &offer_path("interaction", interaction), body).await
}

/// Asserts a refusal: the status and `{"result": {"success": false, "message": ...}}`.
fn assert_refused(answer: (StatusCode, Value), status: StatusCode, message: &str) {
    assert_eq!(
        answer,
        (
            status,
            json!({"result": {"success": false, "message": message}})
        )
    );
}

fn assert_requested(answer: &(StatusCode, Value)) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["success"], true, "{body}");
    assert_eq!(body["result"]["message"], REQUESTED, "{body}");
}

async fn item(app: &TestApp, id: &str) -> Value {
    fetch_record(app, "awa_work_item", id)
        .await
        .expect("the work item")
}

async fn interaction(app: &TestApp, id: &str) -> Value {
    fetch_record(app, "interaction", id)
        .await
        .expect("the interaction")
}

/// A world and one queued interaction in its queue; the interaction and its work item.
async fn queued() -> (AwaWorld, String, String) {
    let w = AwaWorld::new().await;
    let interaction = w.open_in_queue(&w.queue).await;
    let work_item = w.active_work_item(&interaction).await;
    (
        w,
        interaction,
        work_item["sys_id"].as_str().unwrap().to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Offer Work: new assignments
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn offer_work_offers_a_queued_interaction_to_an_agent_with_a_timeout() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let integration = crate::helpers::user_sys_id(app, INTEGRATION.0).await;
    assert_eq!(w.workload(&alice.sys_id).await, 0);
    let body = json!({"external_segment_id": "segment-1", "queue_id": w.queue,
        "assignment": {"agent_sys_id": alice.sys_id, "allowed_to_decline": "true",
                       "enable_auto_assign": "false", "timeout": 30}});
    let (status, body) = post(app, &offer_path("interaction", &interaction_id), body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let number = interaction(app, &interaction_id).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        body,
        json!({"result": {"work_item": {"display_name": format!("Interaction: {number}"),
            "sys_id": item_id, "document_id": interaction_id, "document_table": "interaction",
            "queue": w.queue}, "success": true, "message": REQUESTED}})
    );
    let stored = item(app, &item_id).await;
    assert_eq!(stored["state"], "pending_accept", "{stored}");
    assert_eq!(stored["assigned_to"], alice.sys_id);
    assert_eq!(stored["offer_count"], "1");
    assert_eq!(stored["offer_timeout"], "30");
    assert_eq!(stored["allocated_by"], integration);
    assert_eq!(stored["external_segment_id"], "segment-1");
    assert_eq!(stored["allowed_to_decline"], "true");
    assert_eq!(stored["auto_assign"], "false");
    assert_eq!(stored["service_channel"], w.chat);
    assert_ne!(stored["timeout_on"], "", "{stored}");
    assert!(stored["timeout_on"].as_str() > stored["offered_on"].as_str());
    // Offered, not accepted: the interaction is nobody's yet, and the agent is not in the chat.
    let record = interaction(app, &interaction_id).await;
    assert_eq!(record["assigned_to"], "", "{record}");
    assert_eq!(w.membership(&interaction_id, &alice.sys_id).await, None);
    // A pending offer is workload.
    assert_eq!(w.workload(&alice.sys_id).await, 1);

    // Offered again, to anyone: it is already assigned.
    let bob = &w.agents[1];
    let again = offer(app, &interaction_id, &w.queue, &bob.sys_id, json!({})).await;
    let message = format!("Work Item is already assigned to {}", alice.sys_id);
    assert_refused(again, StatusCode::CONFLICT, &message);
}

#[tokio::test]
async fn offer_work_makes_the_work_item_of_a_document_without_one_in_the_queue_named_by_provider_id()
 {
    let w = AwaWorld::new().await;
    let app = &w.app;
    let interaction_id = w.open_unrouted().await;
    assert!(w.work_items(&interaction_id).await.is_empty());
    let alice = &w.agents[0];
    // No timeout: no time limit.
    let answer = offer(
        app,
        &interaction_id,
        &w.queue_external_id,
        &alice.sys_id,
        json!({}),
    )
    .await;
    assert_requested(&answer);
    let summary = &answer.1["result"]["work_item"];
    assert_eq!(summary["queue"], w.queue, "the queue's sys_id: {summary}");
    assert_eq!(summary["document_id"], interaction_id);
    let stored = w.active_work_item(&interaction_id).await;
    assert_eq!(stored["sys_id"], summary["sys_id"]);
    assert_eq!(stored["queue"], w.queue);
    assert_eq!(stored["state"], "pending_accept");
    assert_eq!(stored["offer_timeout"], "0");
    assert_eq!(stored["timeout_on"], "");
    // Nothing to time out, however late it gets.
    app.state.clock.advance(Duration::from_secs(86_400));
    assert_eq!(app.state.sweep_offers().await.unwrap(), 0);
    assert_eq!(
        item(app, summary["sys_id"].as_str().unwrap()).await["state"],
        "pending_accept"
    );
}

#[tokio::test]
async fn auto_assign_accepts_at_once_and_the_agent_joins_the_chat_as_its_public_fulfiller() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let terms = json!({"enable_auto_assign": true, "display_option": "card_and_tab",
                       "timeout": 30, "allowed_to_decline": false});
    assert_requested(&offer(app, &interaction_id, &w.queue, &alice.sys_id, terms).await);
    let stored = item(app, &item_id).await;
    assert_eq!(stored["state"], "accepted", "{stored}");
    assert_eq!(stored["assigned_to"], alice.sys_id);
    assert_eq!(stored["auto_assign"], "true");
    assert_eq!(stored["display_option"], "card_and_tab");
    assert_eq!(stored["allowed_to_decline"], "false");
    // The timeout is ignored: nothing to expire.
    assert_eq!(stored["timeout_on"], "");
    let record = interaction(app, &interaction_id).await;
    assert_eq!(record["assigned_to"], alice.sys_id, "{record}");
    assert_eq!(record["state"], "work_in_progress", "{record}");
    assert_eq!(
        w.membership(&interaction_id, &alice.sys_id).await,
        Some(("public_fulfiller".into(), true))
    );
    assert_eq!(w.workload(&alice.sys_id).await, 1);

    // Accepted work cannot be offered again: Offer Work's words and Manual Assignment's.
    let bob = &w.agents[1];
    let again = offer(app, &interaction_id, &w.queue, &bob.sys_id, json!({})).await;
    assert_refused(
        again,
        StatusCode::CONFLICT,
        "Work Item accepted can not be assigned",
    );
    let manual = post(
        app,
        &assignment_path(&item_id),
        json!({"agent_sys_id": bob.sys_id}),
    )
    .await;
    let message = format!("Work item {item_id} cannot be assigned");
    assert_refused(manual, StatusCode::CONFLICT, &message);
}

#[tokio::test]
async fn offer_work_checks_the_agent_after_the_body_and_before_the_work_item() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let offer_to = |agent: String| {
        let app = &w.app;
        let interaction_id = interaction_id.clone();
        let queue = w.queue.clone();
        async move { offer(app, &interaction_id, &queue, &agent, json!({})).await }
    };
    // No such user; a user without awa_agent.
    let answer = offer_to(UNKNOWN_ID.into()).await;
    assert_refused(
        answer,
        StatusCode::CONFLICT,
        &format!("{UNKNOWN_ID} is not a valid agent"),
    );
    let plain = w.not_agent.clone();
    let answer = offer_to(plain.clone()).await;
    assert_refused(
        answer,
        StatusCode::CONFLICT,
        &format!("{plain} is not a valid agent"),
    );
    // An agent without awa_external_user (Available on Chat).
    let internal = w.internal_agent.clone();
    assert_refused(
        offer_to(internal).await,
        StatusCode::CONFLICT,
        "The user does not have the 'awa_external_user' role",
    );
    // Away; available but not on the work item's channel (Chat).
    let carol = &w.agents[2];
    w.set_presence(&carol.sys_id, &w.away, &[]).await;
    assert_refused(
        offer_to(carol.sys_id.clone()).await,
        StatusCode::CONFLICT,
        "Agent is not available",
    );
    let dave = w.add_agent("awa.dave").await;
    w.set_presence(&dave.sys_id, &w.available, &[(&w.phone, true)])
        .await;
    assert_refused(
        offer_to(dave.sys_id.clone()).await,
        StatusCode::CONFLICT,
        "Agent is not available",
    );
    // Alice is available on Chat, not on Phone: not for a work item in the Phone queue.
    let phone_call = w.open_in_queue(&w.phone_queue).await;
    let answer = offer(
        app,
        &phone_call,
        &w.phone_queue,
        &w.agents[0].sys_id,
        json!({}),
    )
    .await;
    assert_refused(answer, StatusCode::CONFLICT, "Agent is not available");
    // Nothing was changed by the refusals.
    let stored = item(app, &item_id).await;
    assert_eq!(stored["state"], "queued", "{stored}");
    assert_eq!(stored["offer_count"], "0");
}

#[tokio::test]
async fn offer_work_refuses_unknown_documents_and_queues_with_404_before_reading_the_body() {
    let (w, interaction_id, _) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    // An unknown document, in an existing and an unknown table: 404, whatever the body.
    for path in [
        offer_path("interaction", UNKNOWN_ID),
        offer_path("no_such_table", &interaction_id),
    ] {
        let answer = post(app, &path, json!({})).await;
        let document = path.split('/').nth_back(1).unwrap();
        assert_refused(
            answer,
            StatusCode::NOT_FOUND,
            &format!("{document} is not a valid document"),
        );
    }
    // The queue is named in the body: its 404 comes after the body's checks.
    let answer = offer(app, &interaction_id, UNKNOWN_ID, &alice.sys_id, json!({})).await;
    assert_refused(
        answer,
        StatusCode::NOT_FOUND,
        &format!("{UNKNOWN_ID} is not a valid queue"),
    );
    let path = offer_path("interaction", &interaction_id);
    let answer = post(app, &path, json!({"queue_id": UNKNOWN_ID})).await;
    assert_refused(
        answer,
        StatusCode::BAD_REQUEST,
        "assignment.agent_sys_id is required",
    );
    let answer = post(
        app,
        &path,
        json!({"assignment": {"agent_sys_id": alice.sys_id}}),
    )
    .await;
    assert_refused(answer, StatusCode::BAD_REQUEST, "queue_id is required");
}

#[tokio::test]
async fn an_inactive_document_is_refused_with_409() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let path = format!("/api/now/table/interaction/{interaction_id}");
    let response = app
        .admin(Method::PATCH, &path)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Closing it cancelled its queued work item.
    assert_eq!(item(app, &item_id).await["active"], "false");
    let answer = offer(
        app,
        &interaction_id,
        &w.queue,
        &w.agents[0].sys_id,
        json!({}),
    )
    .await;
    assert_refused(answer, StatusCode::CONFLICT, "Document is not active");
}

// ---------------------------------------------------------------------------------------------
// The offer's terms (both APIs): every documented 400
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_terms_are_checked_with_the_pages_messages() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let path = assignment_path(&item_id);
    let now = app.state.clock.now();
    let future = format_offered_on(now + time::Duration::seconds(60));
    let past = format_offered_on(now - time::Duration::seconds(60));
    let expired = format_offered_on(now - time::Duration::seconds(50));
    let cases = [
        (json!({}), "agent_sys_id is required".to_owned()),
        (json!({"agent_sys_id": ""}), "agent_sys_id is required".to_owned()),
        (
            json!({"agent_sys_id": alice.sys_id, "allowed_to_decline": "maybe"}),
            "maybe is not a valid boolean value".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "enable_auto_assign": 2}),
            "2 is not a valid boolean value".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "display_option": "tab_only"}),
            "tab_only is not a valid display option".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "timeout": -5}),
            "Timeout value cannot be negative".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "timeout": "soon"}),
            "soon is not a valid timeout value".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "timeout": 10, "offered_on": "2024-04-03 23:09:31"}),
            "Offered time (2024-04-03 23:09:31) must be in the following format: yyyy-MM-dd'T'HH:mm:ss.SSS".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "timeout": 10, "offered_on": future}),
            format!("Offered time ({future}) must be before the current time, otherwise agent will have more time to accept the work item"),
        ),
        (
            // The page's sample: offered in 2024, 30 seconds to accept.
            json!({"agent_sys_id": alice.sys_id, "timeout": 30, "offered_on": "2024-04-03T23:09:31.000"}),
            "Timestamp after timeout (2024-04-03T23:10:01.000) must be after the current time, otherwise agent has no time to accept the work item".to_owned(),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "timeout": 10, "offered_on": past}),
            format!("Timestamp after timeout ({expired}) must be after the current time, otherwise agent has no time to accept the work item"),
        ),
        (
            json!({"agent_sys_id": alice.sys_id, "timeout": 10, "after_timeout_presence": UNKNOWN_ID}),
            format!("{UNKNOWN_ID} is not a valid presence state"),
        ),
        (
            json!({"agent_sys_id": {"sys_id": alice.sys_id}}),
            "agent_sys_id must be a string, number or boolean".to_owned(),
        ),
    ];
    for (body, message) in cases {
        let answer = post(app, &path, body.clone()).await;
        assert_refused(answer, StatusCode::BAD_REQUEST, &message);
        // Offer Work's `assignment` says the same (its keys named with their object).
        let assignment = body.clone();
        if assignment.get("agent_sys_id").is_none() {
            continue;
        }
        let answer = post(
            app,
            &offer_path("interaction", &interaction_id),
            json!({"queue_id": w.queue, "assignment": assignment}),
        )
        .await;
        let message = message.replace("agent_sys_id ", "assignment.agent_sys_id ");
        assert_refused(answer, StatusCode::BAD_REQUEST, &message);
    }
    // After all that, the item is as it was.
    assert_eq!(item(app, &item_id).await["state"], "queued");
    // Without a timeout, the offer time and the presence after it are not read.
    let body = json!({"agent_sys_id": alice.sys_id, "offered_on": "whenever",
                      "after_timeout_presence": UNKNOWN_ID, "timeout": "0"});
    assert_requested(&post(app, &path, body).await);
    let stored = item(app, &item_id).await;
    assert_eq!(stored["after_timeout_presence"], "", "{stored}");
    assert_eq!(stored["timeout_on"], "");
}

// ---------------------------------------------------------------------------------------------
// Manual Assignment
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn manual_assignment_offers_a_work_item_and_answers_without_it() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    // The page's second sample: a timeout as text, an offer time a moment ago.
    let offered_on = format_offered_on(app.state.clock.now() - time::Duration::seconds(4));
    let body = json!({"agent_sys_id": alice.sys_id, "timeout": "10", "offered_on": offered_on});
    let answer = post(app, &assignment_path(&item_id), body).await;
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            json!({"result": {"success": true, "message": REQUESTED}})
        )
    );
    let stored = item(app, &item_id).await;
    assert_eq!(stored["state"], "pending_accept", "{stored}");
    assert_eq!(stored["assigned_to"], alice.sys_id);
    assert_eq!(stored["offer_timeout"], "10");
    // Stored as the Table API writes times: "yyyy-MM-dd HH:mm:ss".
    let seconds = &offered_on[..19].replace('T', " ");
    assert_eq!(&stored["offered_on"], seconds.as_str(), "{stored}");
    // The deadline is stored rounded up to the second, so it never comes early.
    let expires = parse_offered_on(&offered_on).unwrap() + time::Duration::seconds(10);
    let rounded_up = match expires.millisecond() {
        0 => expires,
        _ => expires.replace_millisecond(0).unwrap() + time::Duration::SECOND,
    };
    let expires = format_offered_on(rounded_up)[..19].replace('T', " ");
    assert_eq!(stored["timeout_on"], expires.as_str(), "{stored}");
    assert!(w.active_work_item(&interaction_id).await["sys_id"] == item_id.as_str());

    // Another agent: the item is already assigned. An unknown one: not a valid agent.
    let bob = &w.agents[1];
    let answer = post(
        app,
        &assignment_path(&item_id),
        json!({"agent_sys_id": bob.sys_id}),
    )
    .await;
    let message = format!("Work Item is already assigned to {}", alice.sys_id);
    assert_refused(answer, StatusCode::CONFLICT, &message);
    let answer = post(
        app,
        &assignment_path(&item_id),
        json!({"agent_sys_id": UNKNOWN_ID}),
    )
    .await;
    let message = format!("{UNKNOWN_ID} is not a valid agent");
    assert_refused(answer, StatusCode::CONFLICT, &message);
}

#[tokio::test]
async fn manual_assignment_does_not_ask_for_awa_external_user_and_checks_availability() {
    let (w, _, item_id) = queued().await;
    let app = &w.app;
    let path = assignment_path(&item_id);
    // Unknown work item: 404, before the body is read.
    let answer = post(app, &assignment_path(UNKNOWN_ID), json!({})).await;
    let message = format!("{UNKNOWN_ID} is not a valid work item");
    assert_refused(answer, StatusCode::NOT_FOUND, &message);
    let carol = &w.agents[2];
    w.set_presence(&carol.sys_id, &w.away, &[]).await;
    let answer = post(app, &path, json!({"agent_sys_id": carol.sys_id})).await;
    assert_refused(answer, StatusCode::CONFLICT, "Agent is not available");
    // An agent without awa_external_user, Available on Chat: manual assignment takes it.
    let internal = w.internal_agent.clone();
    assert_requested(&post(app, &path, json!({"agent_sys_id": internal})).await);
    assert_eq!(item(app, &item_id).await["assigned_to"], internal);
}

#[tokio::test]
async fn manual_assignment_of_a_cancelled_work_item_is_refused() {
    let (w, _, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let body = json!({"agent_sys_id": alice.sys_id, "timeout": 5});
    assert_requested(&post(app, &assignment_path(&item_id), body).await);
    app.state.clock.advance(Duration::from_secs(6));
    assert_eq!(app.state.sweep_offers().await.unwrap(), 1);
    let answer = post(
        app,
        &assignment_path(&item_id),
        json!({"agent_sys_id": w.agents[1].sys_id}),
    )
    .await;
    let message = format!("Work item {item_id} cannot be assigned");
    assert_refused(answer, StatusCode::CONFLICT, &message);
}

// ---------------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_offer_not_accepted_in_time_is_cancelled_and_the_agent_moved_to_the_state_named() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let terms = json!({"timeout": 10, "after_timeout_presence": w.away});
    assert_requested(&offer(app, &interaction_id, &w.queue, &alice.sys_id, terms).await);
    assert_eq!(w.workload(&alice.sys_id).await, 1);
    assert_eq!(w.presence_of(&alice.sys_id).await, w.available);

    // Not yet due.
    app.state.clock.advance(Duration::from_secs(5));
    assert_eq!(app.state.sweep_offers().await.unwrap(), 0);
    assert_eq!(item(app, &item_id).await["state"], "pending_accept");

    app.state.clock.advance(Duration::from_secs(6));
    assert_eq!(app.state.sweep_offers().await.unwrap(), 1);
    let stored = item(app, &item_id).await;
    assert_eq!(stored["state"], "cancelled", "{stored}");
    assert_eq!(stored["reason"], "time_out");
    assert_eq!(stored["timed_out"], "true");
    assert_eq!(stored["active"], "false");
    assert_eq!(w.presence_of(&alice.sys_id).await, w.away);
    assert_eq!(w.workload(&alice.sys_id).await, 0);
    // Once only.
    assert_eq!(app.state.sweep_offers().await.unwrap(), 0);

    // The document's work goes on: a new offer makes a new work item.
    let bob = &w.agents[1];
    let answer = offer(app, &interaction_id, &w.queue, &bob.sys_id, json!({})).await;
    assert_requested(&answer);
    assert_ne!(answer.1["result"]["work_item"]["sys_id"], item_id.as_str());
}

#[tokio::test]
async fn a_timeout_without_a_presence_state_leaves_the_agents_presence() {
    let (w, _, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let body = json!({"agent_sys_id": alice.sys_id, "timeout": 1});
    assert_requested(&post(app, &assignment_path(&item_id), body).await);
    app.state.clock.advance(Duration::from_secs(2));
    assert_eq!(app.state.sweep_offers().await.unwrap(), 1);
    assert_eq!(item(app, &item_id).await["reason"], "time_out");
    assert_eq!(w.presence_of(&alice.sys_id).await, w.available);
}

// ---------------------------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------------------------

/// A world with an interaction whose work alice accepted (auto-assigned); its work item.
async fn accepted_by_alice() -> (AwaWorld, String, String) {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let terms = json!({"enable_auto_assign": "yes"});
    let alice = w.agents[0].sys_id.clone();
    assert_requested(&offer(app, &interaction_id, &w.queue, &alice, terms).await);
    assert_eq!(item(app, &item_id).await["state"], "accepted");
    (w, interaction_id, item_id)
}

fn transfer(target: &str, target_type: &str, transfer_type: &str) -> Value {
    json!({"transfer": {"target_id": target, "target_type": target_type,
                        "transfer_type": transfer_type}})
}

#[tokio::test]
async fn a_blind_transfer_to_an_agent_offers_a_new_work_item_and_its_accept_ends_the_old() {
    let (w, interaction_id, first) = accepted_by_alice().await;
    let app = &w.app;
    let (alice, bob) = (&w.agents[0], &w.agents[1]);
    let path = offer_path("interaction", &interaction_id);
    let mut body = transfer(&bob.sys_id, "agent", "blind");
    body["assignment"] = json!({"timeout": 20});
    let answer = post(app, &path, body).await;
    assert_requested(&answer);
    let second = answer.1["result"]["work_item"]["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    let stored = item(app, &second).await;
    assert_eq!(stored["state"], "pending_accept", "{stored}");
    assert_eq!(stored["assigned_to"], bob.sys_id);
    assert_eq!(stored["previous_work_item"], first);
    assert_eq!(stored["transfer_type"], "blind");
    assert_eq!(stored["queue"], w.queue);
    assert_eq!(stored["offer_timeout"], "20");
    // Until bob accepts, the work is alice's.
    assert_eq!(item(app, &first).await["state"], "accepted");
    assert_eq!(
        interaction(app, &interaction_id).await["assigned_to"],
        alice.sys_id
    );

    // The transfer times out: it is cancelled as a transfer, and alice keeps the work.
    app.state.clock.advance(Duration::from_secs(21));
    assert_eq!(app.state.sweep_offers().await.unwrap(), 1);
    let stored = item(app, &second).await;
    assert_eq!(stored["state"], "cancelled", "{stored}");
    assert_eq!(stored["reason"], "transfer_canceled", "{stored}");
    assert_eq!(stored["timed_out"], "true");
    assert_eq!(item(app, &first).await["active"], "true");

    // Again, accepted at once this time: bob takes over, alice leaves the chat.
    let mut body = transfer(&bob.sys_id, "agent", "blind");
    body["assignment"] = json!({"enable_auto_assign": "1"});
    let answer = post(app, &path, body).await;
    assert_requested(&answer);
    let third = answer.1["result"]["work_item"]["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(item(app, &third).await["state"], "accepted");
    let old = item(app, &first).await;
    assert_eq!(old["active"], "false", "{old}");
    assert_eq!(
        old["state"], "accepted",
        "an accepted item ends, not cancelled: {old}"
    );
    let record = interaction(app, &interaction_id).await;
    assert_eq!(record["assigned_to"], bob.sys_id, "{record}");
    assert_eq!(
        w.membership(&interaction_id, &bob.sys_id).await,
        Some(("public_fulfiller".into(), true))
    );
    assert_eq!(
        w.membership(&interaction_id, &alice.sys_id)
            .await
            .map(|m| m.1),
        Some(false)
    );
    assert_eq!(w.workload(&alice.sys_id).await, 0);
    assert_eq!(w.workload(&bob.sys_id).await, 1);
}

#[tokio::test]
async fn a_blind_transfer_to_an_unavailable_agent_fails_and_leaves_nothing() {
    let (w, interaction_id, first) = accepted_by_alice().await;
    let app = &w.app;
    let carol = &w.agents[2];
    w.set_presence(&carol.sys_id, &w.away, &[]).await;
    let path = offer_path("interaction", &interaction_id);
    let answer = post(app, &path, transfer(&carol.sys_id, "agent", "blind")).await;
    assert_refused(
        answer,
        StatusCode::CONFLICT,
        "Transfer failed - couldn't blind transfer to agent",
    );
    // A consult to her is refused as an offer is.
    let answer = post(app, &path, transfer(&carol.sys_id, "agent", "consult")).await;
    assert_refused(answer, StatusCode::CONFLICT, "Agent is not available");
    let answer = post(app, &path, transfer(UNKNOWN_ID, "agent", "blind")).await;
    let message = format!("{UNKNOWN_ID} is not a valid agent");
    assert_refused(answer, StatusCode::CONFLICT, &message);
    let items = w.work_items(&interaction_id).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["sys_id"], first);
    assert_eq!(items[0]["state"], "accepted");
}

#[tokio::test]
async fn a_transfer_to_a_queue_ends_the_agents_work_and_queues_a_new_work_item() {
    let (w, interaction_id, first) = accepted_by_alice().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let path = offer_path("interaction", &interaction_id);
    // The target queue by its provider queue id.
    let answer = post(
        app,
        &path,
        transfer(&w.other_queue_external_id, "queue", "blind"),
    )
    .await;
    assert_requested(&answer);
    let summary = &answer.1["result"]["work_item"];
    assert_eq!(summary["queue"], w.other_queue, "{summary}");
    let second = summary["sys_id"].as_str().unwrap();
    let stored = item(app, second).await;
    assert_eq!(stored["state"], "queued", "{stored}");
    assert_eq!(stored["assigned_to"], "");
    assert_eq!(stored["is_queue_transferred"], "true");
    assert_eq!(stored["previous_work_item"], first);
    assert_eq!(stored["active"], "true");
    let old = item(app, &first).await;
    assert_eq!(old["active"], "false", "{old}");
    let record = interaction(app, &interaction_id).await;
    assert_eq!(record["assigned_to"], "", "{record}");
    assert_eq!(record["state"], "queued", "{record}");
    assert_eq!(
        w.membership(&interaction_id, &alice.sys_id)
            .await
            .map(|m| m.1),
        Some(false)
    );
    assert_eq!(w.workload(&alice.sys_id).await, 0);

    // The queued item can then be offered, in the new queue.
    let bob = &w.agents[1];
    let answer = post(
        app,
        &assignment_path(second),
        json!({"agent_sys_id": bob.sys_id}),
    )
    .await;
    assert_requested(&answer);
    // An unknown target queue: 404.
    let answer = post(app, &path, transfer(UNKNOWN_ID, "queue", "blind")).await;
    let message = format!("{UNKNOWN_ID} is not a valid queue");
    assert_refused(answer, StatusCode::NOT_FOUND, &message);
}

#[tokio::test]
async fn a_consult_offers_a_consult_work_item_and_leaves_the_work_with_its_agent() {
    let (w, interaction_id, first) = accepted_by_alice().await;
    let app = &w.app;
    let (alice, bob) = (&w.agents[0], &w.agents[1]);
    let path = offer_path("interaction", &interaction_id);
    let answer = post(app, &path, transfer(&bob.sys_id, "agent", "consult")).await;
    assert_requested(&answer);
    let consult = answer.1["result"]["work_item"]["sys_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = item(app, &consult).await;
    assert_eq!(stored["consult"], "true", "{stored}");
    assert_eq!(stored["consult_state"], "requested");
    assert_eq!(stored["transfer_type"], "consult");
    assert_eq!(stored["state"], "pending_accept");
    assert_eq!(stored["assigned_to"], bob.sys_id);
    assert_eq!(stored["previous_work_item"], first);
    assert_eq!(item(app, &first).await["state"], "accepted");
    assert_eq!(
        interaction(app, &interaction_id).await["assigned_to"],
        alice.sys_id
    );
    // Auto-assigned, a consult joins the chat privately.
    let carol = &w.agents[2];
    let mut body = transfer(&carol.sys_id, "agent", "consult");
    body["assignment"] = json!({"enable_auto_assign": true});
    let answer = post(app, &path, body).await;
    assert_requested(&answer);
    let consult = answer.1["result"]["work_item"]["sys_id"].as_str().unwrap();
    let stored = item(app, consult).await;
    assert_eq!(stored["state"], "accepted", "{stored}");
    assert_eq!(stored["consult_state"], "accepted");
    assert_eq!(
        w.membership(&interaction_id, &carol.sys_id).await,
        Some(("private_fulfiller".into(), true))
    );
    assert_eq!(
        w.membership(&interaction_id, &alice.sys_id).await,
        Some(("public_fulfiller".into(), true))
    );
    assert_eq!(
        interaction(app, &interaction_id).await["assigned_to"],
        alice.sys_id
    );
}

#[tokio::test]
async fn a_consult_to_a_queue_queues_a_consult_work_item() {
    let (w, interaction_id, first) = accepted_by_alice().await;
    let app = &w.app;
    let path = offer_path("interaction", &interaction_id);
    let answer = post(app, &path, transfer(&w.other_queue, "queue", "consult")).await;
    assert_requested(&answer);
    let consult = answer.1["result"]["work_item"]["sys_id"].as_str().unwrap();
    let stored = item(app, consult).await;
    assert_eq!(stored["state"], "queued", "{stored}");
    assert_eq!(stored["consult"], "true");
    assert_eq!(stored["queue"], w.other_queue);
    assert_eq!(stored["is_queue_transferred"], "false");
    assert_eq!(item(app, &first).await["active"], "true");
}

#[tokio::test]
async fn a_transfer_needs_its_keys_and_a_work_item_or_a_source_queue() {
    let w = AwaWorld::new().await;
    let app = &w.app;
    let interaction_id = w.open_unrouted().await;
    let bob = &w.agents[1];
    let path = offer_path("interaction", &interaction_id);
    let refusals = [
        (json!({"transfer": {}}), "transfer.target_id is required"),
        (
            json!({"transfer": {"target_id": bob.sys_id}}),
            "transfer.target_type is required",
        ),
        (
            json!({"transfer": {"target_id": bob.sys_id, "target_type": "agent"}}),
            "transfer.transfer_type is required",
        ),
        (
            transfer(&bob.sys_id, "group", "blind"),
            "group is not a valid target type",
        ),
        (
            transfer(&bob.sys_id, "agent", "warm"),
            "warm is not a valid transfer type",
        ),
        (json!({"transfer": "x"}), "transfer must be an object"),
        // An outbound call: no work item yet, so the source queue is needed.
        (
            transfer(&bob.sys_id, "agent", "blind"),
            "transfer.source_queue_id is required",
        ),
    ];
    for (body, message) in refusals {
        assert_refused(
            post(app, &path, body).await,
            StatusCode::BAD_REQUEST,
            message,
        );
    }
    assert!(w.work_items(&interaction_id).await.is_empty());
    let mut body = transfer(&bob.sys_id, "agent", "blind");
    body["transfer"]["source_queue_id"] = json!(w.queue_external_id);
    let answer = post(app, &path, body).await;
    assert_requested(&answer);
    let items = w.work_items(&interaction_id).await;
    assert_eq!(
        items.len(),
        2,
        "the source item, and the transfer's: {items:?}"
    );
    let offered = item(
        app,
        answer.1["result"]["work_item"]["sys_id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(offered["assigned_to"], bob.sys_id);
    assert_eq!(offered["transfer_type"], "blind");
    assert_eq!(offered["queue"], w.queue);
}

// ---------------------------------------------------------------------------------------------
// Roles, formats, prefixes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn callers_need_awa_manager_or_awa_integration_user() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    let agent_only = app
        .user(
            "agent.only",
            "agent-password",
            &["awa_agent", "interaction_agent"],
        )
        .await;
    let who = ("agent.only", "agent-password");
    let message =
        format!("Caller {agent_only} does not have the awa_manager or awa_integration_user role");
    let body = json!({"agent_sys_id": alice.sys_id});
    // The role first: even an unknown work item or document, or an empty body, is a 403.
    for path in [
        assignment_path(&item_id),
        assignment_path(UNKNOWN_ID),
        offer_path("interaction", &interaction_id),
        offer_path("interaction", UNKNOWN_ID),
    ] {
        let answer = post_as(app, who, &path, body.clone()).await;
        assert_refused(answer, StatusCode::FORBIDDEN, &message);
    }
    // An agent (awa_agent, awa_external_user) cannot offer work either.
    let message = format!(
        "Caller {} does not have the awa_manager or awa_integration_user role",
        alice.sys_id
    );
    let answer = post_as(app, alice.login(), &assignment_path(&item_id), body.clone()).await;
    assert_refused(answer, StatusCode::FORBIDDEN, &message);
    // Unauthenticated: the platform's 401.
    let response = app
        .anonymous(Method::POST, &assignment_path(&item_id))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // awa_manager, awa_admin (which contains it) and admin pass.
    app.user("manager", "manager-password", &["awa_manager"])
        .await;
    app.user("awa.admin", "awa-admin-password", &["awa_admin"])
        .await;
    let manager = crate::helpers::user_sys_id(app, "manager").await;
    let answer = post_as(
        app,
        ("manager", "manager-password"),
        &assignment_path(&item_id),
        body,
    )
    .await;
    assert_requested(&answer);
    assert_eq!(item(app, &item_id).await["allocated_by"], manager);
    for who in [("awa.admin", "awa-admin-password"), crate::helpers::ADMIN] {
        let answer = post_as(app, who, &assignment_path(UNKNOWN_ID), json!({})).await;
        let message = format!("{UNKNOWN_ID} is not a valid work item");
        assert_refused(answer, StatusCode::NOT_FOUND, &message);
    }
}

#[tokio::test]
async fn xml_bodies_and_answers_under_every_prefix() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let alice = &w.agents[0];
    // Offer Work in XML under /api/now/v1, its assignment a nested element.
    let xml = format!(
        "<request><queue_id>{}</queue_id><external_segment_id>seg</external_segment_id>\
         <assignment><agent_sys_id>{}</agent_sys_id><allowed_to_decline>no</allowed_to_decline>\
         <timeout>30</timeout></assignment></request>",
        w.queue, alice.sys_id
    );
    let path = format!("/api/now/v1/awa/documents/interaction/{interaction_id}/offer");
    let response = app
        .as_user(INTEGRATION, Method::POST, &path)
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_content_type(&response, "application/xml");
    let (status, text) = text_of(response).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("<success>true</success>"), "{text}");
    assert!(
        text.contains(&format!("<message>{REQUESTED}</message>")),
        "{text}"
    );
    assert!(
        text.contains(&format!("<sys_id>{item_id}</sys_id>")),
        "{text}"
    );
    assert!(
        text.contains("<document_table>interaction</document_table>"),
        "{text}"
    );
    let stored = item(app, &item_id).await;
    assert_eq!(stored["allowed_to_decline"], "false", "{stored}");
    assert_eq!(stored["offer_timeout"], "30");

    // A refusal in XML under /api/now/v2: Manual Assignment of the same (now assigned) item.
    let bob = &w.agents[1];
    let xml = format!(
        "<request><agent_sys_id>{}</agent_sys_id></request>",
        bob.sys_id
    );
    let path = format!("/api/now/v2/awa/workitems/{item_id}/assignments");
    let response = app
        .as_user(INTEGRATION, Method::POST, &path)
        .header(CONTENT_TYPE, "application/xml")
        .header(ACCEPT, "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    let (status, text) = text_of(response).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("<success>false</success>"), "{text}");
    let message = format!(
        "<message>Work Item is already assigned to {}</message>",
        alice.sys_id
    );
    assert!(text.contains(&message), "{text}");

    // JSON under /api/now/v2 and /api/now/v1 too: a second interaction, a second item.
    let other = w.open_in_queue(&w.queue).await;
    let other_item = w.active_work_item(&other).await;
    let path = format!(
        "/api/now/v1/awa/workitems/{}/assignments",
        other_item["sys_id"].as_str().unwrap()
    );
    assert_requested(&post(app, &path, json!({"agent_sys_id": bob.sys_id})).await);
    let third = w.open_in_queue(&w.queue).await;
    let path = format!("/api/now/v2/awa/documents/interaction/{third}/offer");
    let body = json!({"queue_id": w.queue, "assignment": {"agent_sys_id": w.agents[2].sys_id}});
    assert_requested(&post(app, &path, body).await);
}

#[tokio::test]
async fn an_unreadable_body_is_the_platforms_400() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    for path in [
        assignment_path(&item_id),
        offer_path("interaction", &interaction_id),
    ] {
        let response = app
            .as_user(INTEGRATION, Method::POST, &path)
            .header(CONTENT_TYPE, "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        crate::helpers::assert_unreadable_request(response).await;
    }
}

#[tokio::test]
async fn a_queued_work_item_offered_in_another_queue_moves_to_it() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let answer = offer(
        app,
        &interaction_id,
        &w.other_queue_external_id,
        &w.agents[0].sys_id,
        json!({}),
    )
    .await;
    assert_requested(&answer);
    assert_eq!(answer.1["result"]["work_item"]["sys_id"], item_id.as_str());
    assert_eq!(answer.1["result"]["work_item"]["queue"], w.other_queue);
    assert_eq!(item(app, &item_id).await["queue"], w.other_queue);
}

#[tokio::test]
async fn concurrent_offers_of_one_work_item_give_it_to_one_agent() {
    let (w, interaction_id, item_id) = queued().await;
    let app = &w.app;
    let mut offers = tokio::task::JoinSet::new();
    for (i, agent) in w.agents.iter().enumerate() {
        let (client, url) = (app.client.clone(), app.url(""));
        let body = if i % 2 == 0 {
            let path = assignment_path(&item_id);
            (path, json!({"agent_sys_id": agent.sys_id}))
        } else {
            let path = offer_path("interaction", &interaction_id);
            let body = json!({"queue_id": w.queue, "assignment": {"agent_sys_id": agent.sys_id}});
            (path, body)
        };
        offers.spawn(async move {
            let response = client
                .post(format!("{url}{}", body.0))
                .basic_auth(INTEGRATION.0, Some(INTEGRATION.1))
                .json(&body.1)
                .send()
                .await
                .unwrap();
            json_of(response).await
        });
    }
    let mut granted = 0;
    while let Some(answer) = offers.join_next().await {
        let (status, body) = answer.unwrap();
        match status {
            StatusCode::OK => granted += 1,
            StatusCode::CONFLICT => {
                let message = body["result"]["message"].as_str().unwrap();
                assert!(
                    message.starts_with("Work Item is already assigned to "),
                    "{body}"
                );
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(granted, 1);
    let stored = item(app, &item_id).await;
    assert_eq!(stored["offer_count"], "1", "{stored}");
    assert_eq!(w.work_items(&interaction_id).await.len(), 1);
}
