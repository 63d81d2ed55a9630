//! The Batch API (`POST /api/now/v1/batch`, and on the other prefixes): items run in order
//! through the same router as direct calls, as the batch's caller, and come back with their
//! status, headers and base64 body; what is past a limit comes back among the unserviced.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{
    ADMIN, TestApp, assert_error, assert_unauthenticated, base64, fetch_record, json_of, sys_id_of,
};

const BATCH: &str = "/api/now/v1/batch";

/// An item of a batch.
fn item(id: &str, method: &str, url: &str) -> Value {
    json!({"id": id, "method": method, "url": url,
           "headers": [{"name": "Accept", "value": "application/json"},
                       {"name": "Content-Type", "value": "application/json"}]})
}

/// An item with a JSON body.
fn item_with(id: &str, method: &str, url: &str, body: Value) -> Value {
    let mut item = item(id, method, url);
    item["body"] = Value::String(base64(body.to_string()));
    item
}

/// Sends a batch as `who` and returns the status and the answer.
async fn send(app: &TestApp, who: (&str, &str), path: &str, batch: Value) -> (StatusCode, Value) {
    json_of(
        app.as_user(who, Method::POST, path)
            .json(&batch)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The decoded body of a serviced item.
fn body_of(serviced: &Value) -> String {
    let encoded = serviced["body"].as_str().unwrap();
    String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
}

/// The serviced item with this id.
fn serviced<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["serviced_requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("item {id} not serviced: {answer}"))
}

fn header_of<'a>(serviced: &'a Value, name: &str) -> Option<&'a str> {
    serviced["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
        .and_then(|h| h["value"].as_str())
}

#[tokio::test]
async fn a_delete_multiple_deletes_every_record_as_pysnc_sends_it() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["q1", "q2", "q3"] {
        ids.push(sys_id_of(
            &app.insert("awa_queue", json!({"name": name})).await,
        ));
    }
    let items: Vec<Value> = ids
        .iter()
        .map(|id| item(id, "DELETE", &format!("/api/now/table/awa_queue/{id}")))
        .collect();
    let (status, answer) = send(
        &app,
        ADMIN,
        BATCH,
        json!({"batch_request_id": "b1", "rest_requests": items}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["batch_request_id"], "b1");
    assert_eq!(answer["unserviced_requests"], json!([]));
    for id in &ids {
        let item = serviced(&answer, id);
        assert_eq!(item["status_code"], 204, "{item}");
        assert_eq!(item["status_text"], "No Content");
        assert!(item["execution_time"].is_u64());
        assert_eq!(fetch_record(&app, "awa_queue", id).await, None);
    }
}

#[tokio::test]
async fn items_answer_in_their_own_format_with_their_headers_unless_excluded() {
    let app = TestApp::spawn().await;
    let mut xml = item(
        "11",
        "GET",
        "/api/now/table/sys_user?sysparm_query=user_name=admin&sysparm_fields=user_name",
    );
    xml["headers"] = json!([{"name": "Accept", "value": "application/xml"}]);
    let mut create = item_with(
        "13",
        "POST",
        "/api/now/table/awa_queue",
        json!({"name": "From a batch"}),
    );
    create["exclude_response_headers"] = json!(true);
    let batch = json!({"batch_request_id": "1", "rest_requests": [
        xml,
        item("12", "GET", "/api/now/table/awa_queue?sysparm_limit=1"),
        create,
    ]});
    for path in ["/api/now/batch", BATCH, "/api/now/v2/batch"] {
        let (status, answer) = send(&app, ADMIN, path, batch.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        let ids: Vec<&str> = answer["serviced_requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["11", "12", "13"], "in order");
        let xml = serviced(&answer, "11");
        assert_eq!(xml["status_code"], 200);
        assert!(
            header_of(xml, "content-type")
                .unwrap()
                .starts_with("application/xml")
        );
        assert!(
            body_of(xml).contains("<user_name>admin</user_name>"),
            "{}",
            body_of(xml)
        );
        let created = serviced(&answer, "13");
        assert_eq!(created["status_code"], 201);
        assert_eq!(created["status_text"], "Created");
        assert_eq!(created["headers"], json!([]));
        let record: Value = serde_json::from_str(&body_of(created)).unwrap();
        assert_eq!(record["result"]["name"], "From a batch");
    }
}

#[tokio::test]
async fn items_run_as_the_batchs_caller_with_its_rights_and_links_name_its_host() {
    let app = TestApp::spawn().await;
    let agent = ("batch.agent", "batch-agent-password");
    app.user(agent.0, agent.1, &["awa_agent"]).await;
    let mut with_other_credentials = item_with(
        "write",
        "POST",
        "/api/now/table/sys_user_role",
        json!({"name": "sneaky"}),
    );
    with_other_credentials["headers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Authorization", "value": format!("Basic {}", base64(format!("{}:{}", ADMIN.0, ADMIN.1)))}));
    let (status, answer) = send(
        &app,
        agent,
        BATCH,
        json!({"rest_requests": [item("read", "GET", "/api/now/table/sys_user?sysparm_limit=1"), with_other_credentials]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(serviced(&answer, "read")["status_code"], 200);
    // Not admin: the item's own Authorization header changes nothing.
    assert_eq!(serviced(&answer, "write")["status_code"], 403, "{answer}");

    let (_, answer) = send(
        &app,
        ADMIN,
        BATCH,
        json!({"rest_requests": [item_with("c", "POST", "/api/now/table/sys_user_has_role", json!({"user": "admin", "role": "awa_agent"}))]}),
    )
    .await;
    let created = serviced(&answer, "c");
    let location = header_of(created, "location").unwrap();
    assert!(
        location.starts_with(&format!("{}/api/now/table/sys_user_has_role/", app.base)),
        "{location}"
    );

    let unauthenticated = app
        .anonymous(Method::POST, BATCH)
        .json(&json!({"rest_requests": []}))
        .send()
        .await
        .unwrap();
    assert_unauthenticated(unauthenticated).await;
}

#[tokio::test]
async fn a_bad_item_is_answered_in_its_place_and_the_others_run() {
    let app = TestApp::spawn().await;
    let mut bad_body = item("bad-body", "POST", "/api/now/table/awa_queue");
    bad_body["body"] = json!("not base64!");
    let batch = json!({"rest_requests": [
        {"id": "no-method", "url": "/api/now/table/awa_queue"},
        item("bad-url", "GET", "https://elsewhere.example.com/api/now/table/awa_queue"),
        bad_body,
        item("nested", "POST", "/api/now/v1/batch"),
        item("fine", "GET", "/api/now/table/awa_queue"),
    ]});
    let (status, answer) = send(&app, ADMIN, BATCH, batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for id in ["no-method", "bad-url", "bad-body", "nested"] {
        let item = serviced(&answer, id);
        assert_eq!(item["status_code"], 400, "{id}: {item}");
    }
    assert!(
        serviced(&answer, "bad-body")["error_message"]
            .as_str()
            .unwrap()
            .contains("base64")
    );
    let nested: Value = serde_json::from_str(&body_of(serviced(&answer, "nested"))).unwrap();
    assert_eq!(
        nested["error"]["detail"],
        "A batch request cannot contain another batch request"
    );
    assert_eq!(serviced(&answer, "fine")["status_code"], 200);
}

#[tokio::test]
async fn past_a_size_limit_an_item_and_the_ones_after_it_are_unserviced() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(5 * 1024 * 1024 + 1);
    let batch = json!({"rest_requests": [
        item("first", "GET", "/api/now/table/awa_queue"),
        item_with("too-big", "POST", "/api/now/table/awa_queue", json!({"name": big})),
        item("after", "GET", "/api/now/table/awa_queue"),
    ]});
    let (status, answer) = send(&app, ADMIN, BATCH, batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["serviced_requests"].as_array().unwrap().len(), 1);
    assert_eq!(answer["unserviced_requests"], json!(["too-big", "after"]));

    // An answer over X-BATCHREQUEST-MAX-OUTPUT-SIZE is not returned.
    let response = app
        .admin(Method::POST, BATCH)
        .header("X-BATCHREQUEST-MAX-OUTPUT-SIZE", "10")
        .json(&json!({"rest_requests": [item("list", "GET", "/api/now/table/sys_user"), item("after", "GET", "/api/now/table/sys_user")]}))
        .send()
        .await
        .unwrap();
    let (_, answer) = json_of(response).await;
    assert_eq!(answer["serviced_requests"], json!([]));
    assert_eq!(answer["unserviced_requests"], json!(["list", "after"]));
}

#[tokio::test]
async fn a_batch_without_a_list_of_requests_or_in_xml_is_refused() {
    let app = TestApp::spawn().await;
    for body in [json!({}), json!({"rest_requests": "x"})] {
        let response = app
            .admin(Method::POST, BATCH)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "Invalid batch request").await;
    }
    let xml = app
        .admin(Method::POST, BATCH)
        .header("content-type", "application/xml")
        .body("<request><rest_requests/></request>")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
