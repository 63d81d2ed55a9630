//! The AWA Inbox Actions API (reject reasons, accept, reject) and the AWA Agent Consult API:
//! every documented answer, in JSON and XML, under every version prefix, and what they change
//! as the Table API and the AWA Agent API show it; and a work item's end when its interaction
//! closes.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::awa::AwaWorld;
use crate::helpers::{
    INTEGRATION, assert_content_type, assert_error, assert_unauthenticated,
    assert_unreadable_request, fetch_records, json_of, sys_id_of,
};

const UNKNOWN_ID: &str = "0000000000000000000000000000dead";
const INVALID: &str = "Invalid request";
const NOT_FOUND: &str = "Record not found";
const ACCEPT_PATH: &str = "/api/now/awa/inbox/actions/accept";
const REJECT_PATH: &str = "/api/now/awa/inbox/actions/reject";
const CONSULT_PATH: &str = "/api/now/awa/consult/end";

fn reasons_path(channel: &str) -> String {
    format!("/api/now/awa/inbox/actions/reject_reasons/{channel}")
}

async fn get(w: &AwaWorld, path: &str) -> (StatusCode, Value) {
    json_of(
        w.app
            .as_user(INTEGRATION, Method::GET, path)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Asserts a 400 `Invalid request` with `detail`.
async fn assert_invalid(w: &AwaWorld, path: &str, body: Value, detail: &str) {
    let response = w.send(Method::POST, path, body.clone()).await;
    let got = assert_error(response, StatusCode::BAD_REQUEST, INVALID).await;
    assert_eq!(got, detail, "{body}");
}

/// Asserts a 404 `Record not found` with `detail`.
async fn assert_not_found(w: &AwaWorld, path: &str, body: Value, detail: &str) {
    let response = w.send(Method::POST, path, body.clone()).await;
    let got = assert_error(response, StatusCode::NOT_FOUND, NOT_FOUND).await;
    assert_eq!(got, detail, "{body}");
}

// ---------------------------------------------------------------------------------------------
// Reject reasons
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reject_reasons_are_the_channels_and_every_channels_active_ones_by_order() {
    let w = AwaWorld::new().await;
    let (status, body) = get(&w, &reasons_path(&w.chat)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": [
            {"order": 1, "value": "Busy", "display_value": "Busy", "sys_id": w.busy},
            {"order": 2, "value": "Not my expertise", "display_value": "Not my expertise",
             "sys_id": w.not_my_expertise},
        ]})
    );
    let (status, body) = get(&w, &reasons_path(&w.phone)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sys_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [w.on_a_call.as_str(), w.not_my_expertise.as_str()]);
    assert!(!ids.contains(&w.retired_reason.as_str()));
}

#[tokio::test]
async fn reject_reasons_of_an_unknown_channel_are_404() {
    let w = AwaWorld::new().await;
    let response = w
        .app
        .as_user(INTEGRATION, Method::GET, &reasons_path(UNKNOWN_ID))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::NOT_FOUND, NOT_FOUND).await;
    assert_eq!(
        detail,
        format!("There is no record for awa_service_channel : {UNKNOWN_ID}")
    );
}

#[tokio::test]
async fn every_operation_needs_awa_integration_user_and_credentials() {
    let w = AwaWorld::new().await;
    let item = w.offered_interaction(&w.agents[0].sys_id).await.1;
    let calls = [
        (Method::GET, reasons_path(&w.chat), Value::Null),
        (
            Method::POST,
            ACCEPT_PATH.to_owned(),
            json!({"agent_id": w.agents[0].sys_id, "work_item_id": item}),
        ),
        (
            Method::POST,
            REJECT_PATH.to_owned(),
            json!({"agent_id": w.agents[0].sys_id, "work_item_id": item, "reject_reason_id": w.busy}),
        ),
        (
            Method::PUT,
            CONSULT_PATH.to_owned(),
            json!({"document_sys_id": UNKNOWN_ID}),
        ),
    ];
    for (method, path, body) in calls {
        // An agent is not an integration.
        let response = w
            .app
            .as_user(w.agents[0].login(), method.clone(), &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authenticated").await;
        assert_eq!(
            detail, "The user does not have the awa_integration_user role",
            "{path}"
        );
        let response = w
            .app
            .anonymous(method.clone(), &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
    // Nothing changed.
    assert_eq!(
        w.record_json("awa_work_item", &item).await["state"],
        "pending_accept"
    );
}

// ---------------------------------------------------------------------------------------------
// Accept
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn accept_makes_the_work_the_agents_and_puts_it_in_the_chat() {
    let w = AwaWorld::new().await;
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 1, "an offer counts");
    let (status, body) = w
        .call(
            Method::POST,
            ACCEPT_PATH,
            json!({"agent_id": w.agents[0].sys_id, "work_item_id": item}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"documentSysId": interaction, "documentTable": "interaction"}})
    );
    let stored = w.record_json("awa_work_item", &item).await;
    assert_eq!(stored["state"], "accepted");
    assert_eq!(stored["assigned_to"], w.agents[0].sys_id.as_str());
    assert_eq!(stored["active"], "true");
    let document = w.record_json("interaction", &interaction).await;
    assert_eq!(document["assigned_to"], w.agents[0].sys_id.as_str());
    assert_eq!(document["state"], "work_in_progress");
    let members = w.memberships(&interaction, &w.agents[0].sys_id).await;
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0].0, "public_fulfiller");
    assert!(members[0].1);
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 1);

    // Accepted: not pending any more.
    assert_invalid(
        &w,
        ACCEPT_PATH,
        json!({"agent_id": w.agents[0].sys_id, "work_item_id": item}),
        "Work item is not in pending accept state",
    )
    .await;
}

#[tokio::test]
async fn accept_refuses_what_the_page_lists() {
    let w = AwaWorld::new().await;
    let (_, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    for (body, detail) in [
        (json!({"work_item_id": item}), "Missing agent ID"),
        (
            json!({"agent_id": "", "work_item_id": item}),
            "Missing agent ID",
        ),
        (
            json!({"agent_id": w.agents[0].sys_id}),
            "Missing work item ID",
        ),
        (
            json!({"agent_id": w.agents[0].sys_id, "work_item_id": " "}),
            "Missing work item ID",
        ),
        (json!({}), "Missing agent ID"),
        (
            json!({"agent_id": w.agents[0].sys_id, "work_item_id": UNKNOWN_ID}),
            "Wrong work item ID",
        ),
        (
            json!({"agent_id": w.agents[1].sys_id, "work_item_id": item}),
            "Work item is assigned to a different agent",
        ),
        (
            json!({"agent_id": UNKNOWN_ID, "work_item_id": item}),
            "Work item is assigned to a different agent",
        ),
    ] {
        assert_invalid(&w, ACCEPT_PATH, body, detail).await;
    }
    // A queued work item is not pending accept.
    let queued = sys_id_of(&w.active_work_item(&w.open_in_queue(&w.queue).await).await);
    assert_invalid(
        &w,
        ACCEPT_PATH,
        json!({"agent_id": w.agents[0].sys_id, "work_item_id": queued}),
        "Work item is not in pending accept state",
    )
    .await;
    // A body that is not JSON.
    let response = w
        .app
        .as_user(INTEGRATION, Method::POST, ACCEPT_PATH)
        .header(CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_unreadable_request(response).await;
    // None of it changed the offer.
    assert_eq!(
        w.record_json("awa_work_item", &item).await["state"],
        "pending_accept"
    );
}

// ---------------------------------------------------------------------------------------------
// Reject
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reject_records_why_and_puts_the_work_back_in_its_queue() {
    let w = AwaWorld::new().await;
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    let request =
        json!({"agent_id": w.agents[0].sys_id, "work_item_id": item, "reject_reason_id": w.busy});
    let (status, body) = w.call(Method::POST, REJECT_PATH, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"result": {"work_item_id": item, "reject_reason_id": w.busy, "agent_id": w.agents[0].sys_id}})
    );
    let stored = w.record_json("awa_work_item", &item).await;
    assert_eq!(stored["state"], "queued");
    assert_eq!(stored["assigned_to"], "");
    assert_eq!(stored["rejected"], "true");
    assert_eq!(stored["active"], "true");
    let rejections = fetch_records(
        &w.app,
        "awa_work_item_rejection",
        &format!("work_item={item}"),
    )
    .await;
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(rejections[0]["agent"], w.agents[0].sys_id.as_str());
    assert_eq!(rejections[0]["reject_reason"], w.busy.as_str());
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 0);
    // The document was never the agent's.
    assert_eq!(
        w.record_json("interaction", &interaction).await["assigned_to"],
        ""
    );
    assert!(
        w.memberships(&interaction, &w.agents[0].sys_id)
            .await
            .is_empty()
    );

    // Offered again, to the other agent, who accepts.
    w.offer(&item, &w.agents[1].sys_id).await;
    w.accept(&w.agents[1].sys_id, &item).await;
    assert_eq!(w.workload(&w.agents[1].sys_id).await, 1);
}

#[tokio::test]
async fn reject_refuses_what_the_page_lists() {
    let w = AwaWorld::new().await;
    let (_, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    let (a, r) = (w.agents[0].sys_id.as_str(), w.busy.as_str());
    for (body, detail) in [
        (
            json!({"work_item_id": item, "reject_reason_id": r}),
            "Missing agent ID",
        ),
        (
            json!({"agent_id": a, "reject_reason_id": r}),
            "Missing work item ID",
        ),
        (
            json!({"agent_id": a, "work_item_id": item}),
            "Missing reject reason item ID",
        ),
        (
            json!({"agent_id": a, "work_item_id": item, "reject_reason_id": ""}),
            "Missing reject reason item ID",
        ),
        (
            json!({"agent_id": w.agents[1].sys_id, "work_item_id": item, "reject_reason_id": r}),
            "Work item is assigned to a different agent",
        ),
    ] {
        assert_invalid(&w, REJECT_PATH, body, detail).await;
    }
    for (body, detail) in [
        (
            json!({"agent_id": a, "work_item_id": item, "reject_reason_id": UNKNOWN_ID}),
            format!("There is no record for awa_reject_reason : {UNKNOWN_ID}"),
        ),
        (
            json!({"agent_id": a, "work_item_id": UNKNOWN_ID, "reject_reason_id": r}),
            format!("There is no record for awa_work_item : {UNKNOWN_ID}"),
        ),
        (
            json!({"agent_id": UNKNOWN_ID, "work_item_id": item, "reject_reason_id": r}),
            format!("There is no record for sys_user : {UNKNOWN_ID}"),
        ),
    ] {
        assert_not_found(&w, REJECT_PATH, body, &detail).await;
    }
    // A queued work item is not pending accept.
    let queued = sys_id_of(&w.active_work_item(&w.open_in_queue(&w.queue).await).await);
    assert_invalid(
        &w,
        REJECT_PATH,
        json!({"agent_id": a, "work_item_id": queued, "reject_reason_id": r}),
        "Work item is not in pending accept state",
    )
    .await;
    // An offer that may not be declined.
    w.patch_item(&item, json!({"allowed_to_decline": false}))
        .await;
    assert_invalid(
        &w,
        REJECT_PATH,
        json!({"agent_id": a, "work_item_id": item, "reject_reason_id": r}),
        "Work item is not allowed to be declined",
    )
    .await;
    let stored = w.record_json("awa_work_item", &item).await;
    assert_eq!(stored["state"], "pending_accept");
    assert_eq!(stored["rejected"], "false");
    let rejections = fetch_records(&w.app, "awa_work_item_rejection", "").await;
    assert!(rejections.is_empty(), "{rejections:?}");
}

// ---------------------------------------------------------------------------------------------
// XML and the version prefixes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn xml_in_and_xml_out() {
    let w = AwaWorld::new().await;
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    let xml = |method: Method, path: &str, body: String| {
        w.app
            .as_user(INTEGRATION, method, path)
            .header(CONTENT_TYPE, "application/xml")
            .header(ACCEPT, "application/xml")
            .body(body)
    };
    let response = xml(
        Method::POST,
        ACCEPT_PATH,
        format!(
            "<request><agent_id>{}</agent_id><work_item_id>{item}</work_item_id></request>",
            w.agents[0].sys_id
        ),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_content_type(&response, "application/xml");
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "<result><documentSysId>{interaction}</documentSysId>\
             <documentTable>interaction</documentTable></result>"
        )),
        "{text}"
    );

    let (_, second) = w.offered_interaction(&w.agents[0].sys_id).await;
    let response = xml(
        Method::POST,
        REJECT_PATH,
        format!(
            "<request><agent_id>{}</agent_id><work_item_id>{second}</work_item_id>\
             <reject_reason_id>{}</reject_reason_id></request>",
            w.agents[0].sys_id, w.busy
        ),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for element in [
        format!("<work_item_id>{second}</work_item_id>"),
        format!("<reject_reason_id>{}</reject_reason_id>", w.busy),
        format!("<agent_id>{}</agent_id>", w.agents[0].sys_id),
    ] {
        assert!(text.contains(&element), "{element} in {text}");
    }

    let response = xml(Method::POST, REJECT_PATH, "<request></request>".into())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    for element in [
        "<message>Invalid request</message>",
        "<detail>Missing agent ID</detail>",
        "<status>failure</status>",
    ] {
        assert!(text.contains(element), "{element} in {text}");
    }

    let response = w
        .app
        .as_user(INTEGRATION, Method::GET, &reasons_path(&w.chat))
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for element in [
        "<display_value>Busy</display_value>".to_owned(),
        "<order>1</order>".to_owned(),
        format!("<sys_id>{}</sys_id>", w.not_my_expertise),
    ] {
        assert!(text.contains(&element), "{element} in {text}");
    }

    let response = xml(
        Method::PUT,
        CONSULT_PATH,
        format!("<request><document_sys_id>{UNKNOWN_ID}</document_sys_id><hand_over>false</hand_over></request>"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "<result><message>Cannot find the work item for document ID: {UNKNOWN_ID}</message>\
             <success>false</success></result>"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn every_version_prefix_serves_the_inbox_and_the_consult() {
    let w = AwaWorld::new().await;
    for prefix in ["/api/now", "/api/now/v1", "/api/now/v2"] {
        let (status, body) = get(
            &w,
            &format!("{prefix}/awa/inbox/actions/reject_reasons/{}", w.chat),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {body}");
        assert_eq!(body["result"].as_array().unwrap().len(), 2);

        let (_, item) = w.offered_interaction(&w.agents[0].sys_id).await;
        let path = format!("{prefix}/awa/inbox/actions/reject");
        let body = json!({"agent_id": w.agents[0].sys_id, "work_item_id": item, "reject_reason_id": w.busy});
        let (status, answer) = w.call(Method::POST, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {answer}");

        w.offer(&item, &w.agents[0].sys_id).await;
        let path = format!("{prefix}/awa/inbox/actions/accept");
        let body = json!({"agent_id": w.agents[0].sys_id, "work_item_id": item});
        let (status, answer) = w.call(Method::POST, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {answer}");

        let path = format!("{prefix}/awa/consult/end");
        let (status, answer) = w
            .call(Method::PUT, &path, json!({"document_sys_id": UNKNOWN_ID}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{prefix}: {answer}");
    }
}

// ---------------------------------------------------------------------------------------------
// Consult
// ---------------------------------------------------------------------------------------------

/// An interaction accepted by agent1, with a consult work item for agent2 pending accept:
/// (interaction, agent1's item, the consult item).
async fn consulted(w: &AwaWorld) -> (String, String, String) {
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    w.accept(&w.agents[0].sys_id, &item).await;
    let consult = w
        .app
        .insert(
            "awa_work_item",
            json!({"document_table": "interaction", "document_id": interaction,
                   "queue": w.queue, "service_channel": w.chat, "state": "pending_accept",
                   "assigned_to": w.agents[1].sys_id, "consult": true, "consult_state": "requested",
                   "transfer_type": "consult", "previous_work_item": item}),
        )
        .await;
    (interaction, item, crate::helpers::sys_id_of(&consult))
}

async fn end_consult(w: &AwaWorld, body: Value) -> (StatusCode, Value) {
    w.call(Method::PUT, CONSULT_PATH, body).await
}

fn ended() -> Value {
    json!({"result": {"success": true, "message": "Consult is successfully ended."}})
}

#[tokio::test]
async fn a_consult_handed_over_makes_the_consulted_agent_the_holder() {
    let w = AwaWorld::new().await;
    let (interaction, item, consult) = consulted(&w).await;
    w.accept(&w.agents[1].sys_id, &consult).await;
    let stored = w.record_json("awa_work_item", &consult).await;
    assert_eq!(stored["consult_state"], "accepted");
    let members = w.memberships(&interaction, &w.agents[1].sys_id).await;
    assert_eq!(members[0].0, "private_fulfiller");
    assert_eq!(
        w.record_json("interaction", &interaction).await["assigned_to"],
        w.agents[0].sys_id.as_str(),
        "a consult leaves the document with its holder"
    );

    let (status, body) = end_consult(
        &w,
        json!({"document_sys_id": interaction, "hand_over": "true"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, ended());
    let stored = w.record_json("awa_work_item", &consult).await;
    assert_eq!(stored["consult_state"], "transferred");
    assert_eq!(stored["active"], "true");
    let original = w.record_json("awa_work_item", &item).await;
    assert_eq!(original["active"], "false");
    assert_eq!(
        w.record_json("interaction", &interaction).await["assigned_to"],
        w.agents[1].sys_id.as_str()
    );
    let members = w.memberships(&interaction, &w.agents[1].sys_id).await;
    assert_eq!(members[0].0, "public_fulfiller");
    assert!(members[0].1);
    assert!(!w.memberships(&interaction, &w.agents[0].sys_id).await[0].1);
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 0);
    assert_eq!(w.workload(&w.agents[1].sys_id).await, 1);

    // Nothing left to end.
    let (status, body) = end_consult(
        &w,
        json!({"document_sys_id": interaction, "hand_over": true}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body,
        json!({"result": {"success": false,
            "message": format!("Cannot find the work item for document ID: {interaction}")}})
    );
}

#[tokio::test]
async fn a_consult_ended_without_hand_over_leaves_the_work_with_its_holder() {
    let w = AwaWorld::new().await;
    let (interaction, item, consult) = consulted(&w).await;
    w.accept(&w.agents[1].sys_id, &consult).await;
    assert_eq!(w.workload(&w.agents[1].sys_id).await, 1);
    let (status, body) = end_consult(
        &w,
        json!({"document_sys_id": interaction, "hand_over": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, ended());
    let stored = w.record_json("awa_work_item", &consult).await;
    assert_eq!(stored["consult_state"], "ended");
    assert_eq!(stored["active"], "false");
    assert_eq!(
        w.record_json("awa_work_item", &item).await["active"],
        "true"
    );
    assert_eq!(
        w.record_json("interaction", &interaction).await["assigned_to"],
        w.agents[0].sys_id.as_str()
    );
    assert!(!w.memberships(&interaction, &w.agents[1].sys_id).await[0].1);
    assert_eq!(w.workload(&w.agents[1].sys_id).await, 0);
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 1);
}

#[tokio::test]
async fn a_requested_consult_is_cancelled_whatever_hand_over_says() {
    let w = AwaWorld::new().await;
    for hand_over in [json!("yes"), json!("0"), json!(1)] {
        let (interaction, item, consult) = consulted(&w).await;
        let (status, body) = end_consult(
            &w,
            json!({"document_sys_id": interaction, "hand_over": hand_over}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{hand_over}: {body}");
        assert_eq!(body, ended());
        let stored = w.record_json("awa_work_item", &consult).await;
        assert_eq!(stored["consult_state"], "cancelled");
        assert_eq!(stored["state"], "cancelled");
        assert_eq!(stored["active"], "false");
        assert_eq!(
            w.record_json("awa_work_item", &item).await["active"],
            "true"
        );
        assert_eq!(
            w.record_json("interaction", &interaction).await["assigned_to"],
            w.agents[0].sys_id.as_str()
        );
    }
}

#[tokio::test]
async fn consult_end_refuses_a_missing_document_and_a_bad_flag() {
    let w = AwaWorld::new().await;
    let (interaction, _, consult) = consulted(&w).await;
    for (body, message) in [
        (
            json!({"hand_over": true}),
            "document_sys_id is required".to_owned(),
        ),
        (
            json!({"document_sys_id": " ", "hand_over": true}),
            "document_sys_id is required".to_owned(),
        ),
        (
            json!({"document_sys_id": interaction, "hand_over": "maybe"}),
            "maybe is not a valid boolean value".to_owned(),
        ),
        (
            json!({"document_sys_id": interaction, "hand_over": 2}),
            "2 is not a valid boolean value".to_owned(),
        ),
    ] {
        let (status, answer) = end_consult(&w, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(
            answer,
            json!({"result": {"success": false, "message": message}})
        );
    }
    // A document without a consult.
    let (other, _) = w.offered_interaction(&w.agents[0].sys_id).await;
    let (status, answer) = end_consult(&w, json!({"document_sys_id": other})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(
        answer["result"]["message"],
        format!("Cannot find the work item for document ID: {other}")
    );
    assert_eq!(
        w.record_json("awa_work_item", &consult).await["consult_state"],
        "requested"
    );
}

// ---------------------------------------------------------------------------------------------
// Closing the interaction
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn closing_an_interaction_ends_its_work_items() {
    let w = AwaWorld::new().await;
    // Queued: cancelled as disqualified.
    let queued = w.open_in_queue(&w.queue).await;
    let queued_item = sys_id_of(&w.active_work_item(&queued).await);
    // Offered: cancelled too, and the offer no longer weighs on the agent.
    let (offered, offered_item) = w.offered_interaction(&w.agents[1].sys_id).await;
    // Accepted: ended.
    let (accepted, accepted_item) = w.offered_interaction(&w.agents[0].sys_id).await;
    w.accept(&w.agents[0].sys_id, &accepted_item).await;
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 1);
    assert_eq!(w.workload(&w.agents[1].sys_id).await, 1);

    for interaction in [&queued, &offered, &accepted] {
        w.close(interaction).await;
    }
    for item in [&queued_item, &offered_item] {
        let stored = w.record_json("awa_work_item", item).await;
        assert_eq!(stored["state"], "cancelled", "{stored}");
        assert_eq!(stored["reason"], "disqualified", "{stored}");
        assert_eq!(stored["active"], "false", "{stored}");
    }
    let stored = w.record_json("awa_work_item", &accepted_item).await;
    assert_eq!(stored["state"], "accepted");
    assert_eq!(stored["active"], "false");
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 0);
    assert_eq!(w.workload(&w.agents[1].sys_id).await, 0);
    // Closed: nothing pending to accept.
    assert_invalid(
        &w,
        ACCEPT_PATH,
        json!({"agent_id": w.agents[1].sys_id, "work_item_id": offered_item}),
        "Work item is not in pending accept state",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_accepts_and_rejects_of_one_offer_decide_it_once() {
    let w = AwaWorld::new().await;
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    let accept = json!({"agent_id": w.agents[0].sys_id, "work_item_id": item});
    let reject =
        json!({"agent_id": w.agents[0].sys_id, "work_item_id": item, "reject_reason_id": w.busy});
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (path, body) = if i % 2 == 0 {
            (ACCEPT_PATH, &accept)
        } else {
            (REJECT_PATH, &reject)
        };
        let request = w.app.as_user(INTEGRATION, Method::POST, path).json(body);
        requests.spawn(async move { json_of(request.send().await.unwrap()).await });
    }
    let answers = requests.join_all().await;
    let won: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body) in &answers {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(
                body["error"]["detail"], "Work item is not in pending accept state",
                "{body}"
            );
        }
    }
    let stored = w.record_json("awa_work_item", &item).await;
    let rejections = fetch_records(
        &w.app,
        "awa_work_item_rejection",
        &format!("work_item={item}"),
    )
    .await;
    let members = w.memberships(&interaction, &w.agents[0].sys_id).await;
    if won[0]["result"]["documentSysId"].is_string() {
        assert_eq!(stored["state"], "accepted");
        assert!(rejections.is_empty(), "{rejections:?}");
        assert_eq!(members.len(), 1, "{members:?}");
    } else {
        assert_eq!(stored["state"], "queued");
        assert_eq!(rejections.len(), 1, "{rejections:?}");
        assert!(members.is_empty(), "{members:?}");
    }
}
