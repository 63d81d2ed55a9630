//! The AWA Routing API: a document routed to a queue as a work item (created, or moved), every
//! documented answer in JSON and XML under every version prefix; and an interaction opened with
//! a queue, which waits there as a work item.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::awa::AwaWorld;
use crate::helpers::{
    INTEGRATION, assert_content_type, assert_error, assert_unauthenticated,
    assert_unreadable_request, is_sys_id, sys_id_of,
};

const UNKNOWN_ID: &str = "0000000000000000000000000000dead";

fn route_path(queue: &str) -> String {
    format!("/api/now/awa/queues/{queue}/work_item")
}

async fn route(w: &AwaWorld, queue: &str, body: Value) -> (StatusCode, Value) {
    w.call(Method::POST, &route_path(queue), body).await
}

/// An active incident; (sys_id, number).
async fn incident(w: &AwaWorld, active: bool) -> (String, String) {
    let record = w
        .app
        .insert(
            "incident",
            json!({"short_description": "Printer on fire", "active": active}),
        )
        .await;
    (
        sys_id_of(&record),
        record["number"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn routing_a_document_makes_a_queued_work_item() {
    let w = AwaWorld::new().await;
    let (id, number) = incident(&w, true).await;
    let (status, body) = route(
        &w,
        &w.queue,
        json!({"document_sys_id": id, "document_table": "incident"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["result"];
    assert!(is_sys_id(&result["sys_id"]), "{body}");
    assert_eq!(
        body,
        json!({"result": {"sys_id": result["sys_id"], "document_table": "incident",
            "document_sys_id": id, "queue_sys_id": w.queue,
            "display_name": format!("Incident: {number}")}})
    );
    let item = w.record_json("awa_work_item", &sys_id_of(result)).await;
    assert_eq!(item["state"], "queued");
    assert_eq!(item["active"], "true");
    assert_eq!(item["queue"], w.queue.as_str());
    assert_eq!(item["service_channel"], w.chat.as_str());
    assert_eq!(item["document_table"], "incident");
    assert_eq!(item["document_id"], id.as_str());
    assert_eq!(item["assigned_to"], "");
}

#[tokio::test]
async fn routing_again_moves_the_work_item_and_withdraws_its_offer() {
    let w = AwaWorld::new().await;
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 1);
    let (status, body) = route(
        &w,
        &w.phone_queue,
        json!({"document_sys_id": interaction, "document_table": "interaction"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"]["sys_id"],
        item.as_str(),
        "the same work item"
    );
    assert_eq!(body["result"]["queue_sys_id"], w.phone_queue.as_str());
    let display = body["result"]["display_name"].as_str().unwrap();
    assert!(display.starts_with("Interaction: IMS"), "{display}");
    let stored = w.record_json("awa_work_item", &item).await;
    assert_eq!(stored["state"], "queued");
    assert_eq!(stored["assigned_to"], "");
    assert_eq!(stored["queue"], w.phone_queue.as_str());
    assert_eq!(stored["service_channel"], w.phone.as_str());
    assert_eq!(w.work_items(&interaction).await.len(), 1);
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 0);
}

#[tokio::test]
async fn routing_an_accepted_work_item_moves_it_and_leaves_it_with_its_agent() {
    let w = AwaWorld::new().await;
    let (interaction, item) = w.offered_interaction(&w.agents[0].sys_id).await;
    w.accept(&w.agents[0].sys_id, &item).await;
    let (status, body) = route(
        &w,
        &w.other_queue,
        json!({"document_sys_id": interaction, "document_table": "interaction"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["sys_id"], item.as_str());
    let stored = w.record_json("awa_work_item", &item).await;
    assert_eq!(stored["state"], "accepted");
    assert_eq!(stored["assigned_to"], w.agents[0].sys_id.as_str());
    assert_eq!(stored["queue"], w.other_queue.as_str());
    assert_eq!(w.workload(&w.agents[0].sys_id).await, 1);
}

#[tokio::test]
async fn an_interaction_opened_with_a_queue_waits_in_it() {
    let w = AwaWorld::new().await;
    let interaction = w.open_in_queue(&w.queue).await;
    let items = w.work_items(&interaction).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["state"], "queued");
    assert_eq!(items[0]["queue"], w.queue.as_str());
    assert_eq!(items[0]["service_channel"], w.chat.as_str());
    assert_eq!(items[0]["document_table"], "interaction");
    assert_eq!(items[0]["active"], "true");
}

#[tokio::test]
async fn routing_refuses_what_it_cannot_route() {
    let w = AwaWorld::new().await;
    let (id, _) = incident(&w, true).await;
    let (closed, _) = incident(&w, false).await;
    for (queue, body, status, message, detail) in [
        (
            &w.queue,
            json!({"document_table": "incident"}),
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "document_sys_id is required".to_owned(),
        ),
        (
            &w.queue,
            json!({"document_sys_id": id, "document_table": ""}),
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "document_table is required".to_owned(),
        ),
        (
            &w.queue,
            json!({"document_sys_id": closed, "document_table": "incident"}),
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "Document is not active".to_owned(),
        ),
        (
            &UNKNOWN_ID.to_owned(),
            json!({"document_sys_id": id, "document_table": "incident"}),
            StatusCode::NOT_FOUND,
            "Record not found",
            format!("{UNKNOWN_ID} is not a valid queue"),
        ),
        (
            &w.queue,
            json!({"document_sys_id": UNKNOWN_ID, "document_table": "incident"}),
            StatusCode::NOT_FOUND,
            "Record not found",
            format!("{UNKNOWN_ID} is not a valid document"),
        ),
        (
            &w.queue,
            json!({"document_sys_id": id, "document_table": "no_such_table"}),
            StatusCode::NOT_FOUND,
            "Record not found",
            format!("{id} is not a valid document"),
        ),
    ] {
        let response = w.send(Method::POST, &route_path(queue), body.clone()).await;
        let got = assert_error(response, status, message).await;
        assert_eq!(got, detail, "{body}");
    }
    let response = w
        .app
        .as_user(INTEGRATION, Method::POST, &route_path(&w.queue))
        .header(CONTENT_TYPE, "application/json")
        .body("[1, 2")
        .send()
        .await
        .unwrap();
    assert_unreadable_request(response).await;
    // Nothing was routed.
    assert!(w.work_items(&id).await.is_empty());
    assert!(w.work_items(&closed).await.is_empty());

    let body = json!({"document_sys_id": id, "document_table": "incident"});
    let response = w
        .app
        .as_user(w.agents[0].login(), Method::POST, &route_path(&w.queue))
        .json(&body)
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authenticated").await;
    assert_eq!(
        detail,
        "The user does not have the awa_integration_user role"
    );
    let response = w
        .app
        .anonymous(Method::POST, &route_path(&w.queue))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    assert!(w.work_items(&id).await.is_empty());
}

#[tokio::test]
async fn xml_in_and_out_under_every_prefix() {
    let w = AwaWorld::new().await;
    for prefix in ["/api/now", "/api/now/v1", "/api/now/v2"] {
        let (id, number) = incident(&w, true).await;
        let response = w
            .app
            .as_user(
                INTEGRATION,
                Method::POST,
                &format!("{prefix}/awa/queues/{}/work_item", w.queue),
            )
            .header(CONTENT_TYPE, "application/xml")
            .header(ACCEPT, "application/xml")
            .body(format!(
                "<request><document_sys_id>{id}</document_sys_id>\
                 <document_table>incident</document_table></request>"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{prefix}");
        assert_content_type(&response, "application/xml");
        let text = response.text().await.unwrap();
        for element in [
            format!("<display_name>Incident: {number}</display_name>"),
            format!("<document_sys_id>{id}</document_sys_id>"),
            "<document_table>incident</document_table>".to_owned(),
            format!("<queue_sys_id>{}</queue_sys_id>", w.queue),
        ] {
            assert!(text.contains(&element), "{prefix}: {element} in {text}");
        }
        assert_eq!(w.work_items(&id).await.len(), 1);
    }
}
