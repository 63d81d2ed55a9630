//! Fault injection (`/_switchboard/faults`, docs/control-plane.md): rules that delay, answer an
//! error in the platform's envelope, drop the connection or cut the body of the platform's
//! requests they match, and fail or slow outbound deliveries.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::provider::{ProviderServer, world_reporting_to};
use crate::helpers::{
    TestApp, assert_error, basic_authorization, fetch_records, json_of, read_until_closed, text_of,
};

const WAIT: Duration = Duration::from_secs(20);

/// Adds a rule as admin; returns the rule.
async fn add_rule(app: &TestApp, rule: Json) -> Json {
    let response = app.admin(Method::POST, "/_switchboard/faults").json(&rule);
    let (status, body) = json_of(response.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{rule}: {body}");
    body["result"].clone()
}

async fn get_rule(app: &TestApp, id: &str) -> (StatusCode, Json) {
    let path = format!("/_switchboard/faults/{id}");
    json_of(app.admin(Method::GET, &path).send().await.unwrap()).await
}

async fn status_of(app: &TestApp, method: Method, path: &str) -> StatusCode {
    app.admin(method, path).send().await.unwrap().status()
}

#[tokio::test]
async fn an_injected_503_is_the_platforms_envelope_in_json_and_xml_with_retry_after() {
    let app = TestApp::spawn().await;
    let rule = add_rule(
        &app,
        json!({"path": "/api/now/table/incident*", "status": 503, "retry_after": 5}),
    )
    .await;
    let id = rule["id"].as_str().unwrap().to_owned();
    assert_eq!(rule["action"], "respond");
    assert_eq!(rule["probability"], 1.0);
    assert_eq!(rule["matched"], 0);
    assert_eq!(rule["remaining"], Json::Null);

    let response = app
        .admin(Method::GET, "/api/now/table/incident")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(response.headers().get("x-transaction-id").is_some());
    let detail = assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
    )
    .await;
    assert_eq!(detail, format!("Injected by switchboard fault rule {id}"));

    let response = app
        .admin(Method::GET, "/api/now/table/incident?sysparm_limit=1")
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (_, xml) = text_of(response).await;
    assert!(
        xml.contains(
            "<response><error><message>Service Unavailable</message><detail>Injected by switchboard fault rule"
        ),
        "{xml}"
    );
    assert!(
        xml.ends_with("<status>failure</status></response>"),
        "{xml}"
    );

    // Another path is not the rule's.
    assert_eq!(
        status_of(&app, Method::GET, "/api/now/table/sys_user").await,
        StatusCode::OK
    );
    let (_, listed) = get_rule(&app, &id).await;
    assert_eq!(listed["result"]["matched"], 2);
    assert_eq!(listed["result"]["fired"], 2);
}

#[tokio::test]
async fn a_429_carries_retry_after_and_the_rules_message() {
    let app = TestApp::spawn().await;
    add_rule(
        &app,
        json!({"api": "table", "status": 429, "retry_after": 7, "message": "Slow down"}),
    )
    .await;
    let response = app
        .admin(Method::GET, "/api/now/table/sys_user")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "Slow down").await;
}

#[tokio::test]
async fn a_latency_range_delays_the_answer_which_is_otherwise_normal() {
    let app = TestApp::spawn().await;
    let rule = add_rule(&app, json!({"latency_ms": [300, 400], "method": "GET"})).await;
    assert_eq!(rule["action"], "delay");
    assert_eq!(rule["latency_ms"], json!([300, 400]));
    let started = Instant::now();
    let (status, body) = json_of(
        app.admin(Method::GET, "/api/now/table/sys_user?sysparm_limit=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn probability_zero_never_fires_and_times_two_fires_exactly_twice() {
    let app = TestApp::spawn().await;
    let never = add_rule(
        &app,
        json!({"api": "table", "status": 500, "probability": 0}),
    )
    .await;
    for _ in 0..5 {
        assert_eq!(
            status_of(&app, Method::GET, "/api/now/table/sys_user").await,
            StatusCode::OK
        );
    }
    let (_, listed) = get_rule(&app, never["id"].as_str().unwrap()).await;
    assert_eq!(listed["result"]["matched"], 5);
    assert_eq!(listed["result"]["fired"], 0);

    let twice = add_rule(&app, json!({"api": "table", "status": 500, "times": 2})).await;
    assert_eq!(twice["remaining"], 2);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(status_of(&app, Method::GET, "/api/now/table/sys_user").await);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK,
            StatusCode::OK
        ]
    );
    let (_, listed) = get_rule(&app, twice["id"].as_str().unwrap()).await;
    assert_eq!(listed["result"]["fired"], 2);
    assert_eq!(listed["result"]["remaining"], 0);
}

#[tokio::test]
async fn rules_match_on_user_method_path_and_api() {
    let app = TestApp::spawn().await;
    app.user("integration", "integration-password", &["admin"])
        .await;
    let integration = ("integration", "integration-password");
    add_rule(&app, json!({"user": "integration", "status": 503})).await;
    assert_eq!(
        app.status_as(integration, "/api/now/table/sys_user").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status_of(&app, Method::GET, "/api/now/table/sys_user").await,
        StatusCode::OK,
        "admin is not the rule's user"
    );
    app.admin(Method::DELETE, "/_switchboard/faults")
        .send()
        .await
        .unwrap();

    add_rule(
        &app,
        json!({"method": "post", "path": "/api/now/table/incident", "status": 500}),
    )
    .await;
    assert_eq!(
        status_of(&app, Method::GET, "/api/now/table/incident").await,
        StatusCode::OK
    );
    let post = app
        .admin(Method::POST, "/api/now/table/incident")
        .json(&json!({"short_description": "x"}));
    assert_eq!(
        post.send().await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let post = app
        .admin(Method::POST, "/api/now/table/sys_user")
        .json(&json!({"user_name": "not.faulted"}));
    assert_eq!(post.send().await.unwrap().status(), StatusCode::CREATED);
    app.admin(Method::DELETE, "/_switchboard/faults")
        .send()
        .await
        .unwrap();

    add_rule(&app, json!({"api": "aggregate", "status": 502})).await;
    assert_eq!(
        status_of(
            &app,
            Method::GET,
            "/api/now/stats/incident?sysparm_count=true"
        )
        .await,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        status_of(&app, Method::GET, "/api/now/table/incident").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_dropped_connection_sends_no_status_line() {
    let app = TestApp::spawn().await;
    add_rule(&app, json!({"api": "table", "action": "drop"})).await;
    let mut stream = app.connect().await;
    let request = format!(
        "GET /api/now/table/sys_user HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        app.addr(),
        basic_authorization(crate::helpers::ADMIN)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (received, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(received, "", "nothing at all is answered");
    // A client sees an error, not a response.
    let sent = app
        .admin(Method::GET, "/api/now/table/sys_user")
        .send()
        .await;
    assert!(sent.is_err(), "{sent:?}");
}

#[tokio::test]
async fn a_truncated_body_is_shorter_than_its_content_length() {
    let app = TestApp::spawn().await;
    add_rule(
        &app,
        json!({"path": "/api/now/table/sys_user", "action": "truncate"}),
    )
    .await;
    let mut stream = app.connect().await;
    let request = format!(
        "GET /api/now/table/sys_user HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\r\n",
        app.addr(),
        basic_authorization(crate::helpers::ADMIN)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let (received, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(received.starts_with("HTTP/1.1 200 OK"), "{received}");
    let (head, body) = received.split_once("\r\n\r\n").unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    assert!(!body.is_empty() && body.len() < length, "{length}: {body}");
    assert!(body.starts_with("{\"result\":["), "{body}");
    // A client sees the body fail.
    let response = app
        .admin(Method::GET, "/api/now/table/sys_user")
        .send()
        .await
        .unwrap();
    assert!(response.text().await.is_err());
}

#[tokio::test]
async fn switchboards_own_routes_are_never_faulted() {
    let app = TestApp::spawn().await;
    add_rule(&app, json!({"status": 500})).await;
    add_rule(&app, json!({"path": "/_switchboard/*", "status": 500})).await;
    for path in ["/_switchboard/faults", "/_switchboard/health"] {
        assert_eq!(status_of(&app, Method::GET, path).await, StatusCode::OK);
    }
    assert_eq!(
        status_of(&app, Method::GET, "/api/now/table/sys_user").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn rules_are_listed_read_removed_and_cleared() {
    let app = TestApp::spawn().await;
    let first = add_rule(&app, json!({"api": "table", "status": 500})).await;
    let second = add_rule(&app, json!({"api": "interaction", "latency_ms": 10})).await;
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "api",
        "method",
        "path",
        "user",
        "provider",
        "latency_ms",
        "status",
        "retry_after",
        "message",
        "action",
        "probability",
        "times",
        "remaining",
        "matched",
        "fired",
    ] {
        assert!(keys.contains(&key), "{key} in {first}");
    }
    let (status, listed) = json_of(
        app.admin(Method::GET, "/_switchboard/faults")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&Json> = listed["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&first["id"], &second["id"]]);

    let path = format!("/_switchboard/faults/{}", first["id"].as_str().unwrap());
    assert_eq!(
        status_of(&app, Method::DELETE, &path).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status_of(&app, Method::DELETE, &path).await,
        StatusCode::NOT_FOUND
    );
    let (status, body) = get_rule(&app, first["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "failure");
    assert_eq!(
        status_of(&app, Method::GET, "/api/now/table/sys_user").await,
        StatusCode::OK
    );

    assert_eq!(
        status_of(&app, Method::DELETE, "/_switchboard/faults").await,
        StatusCode::NO_CONTENT
    );
    let (_, listed) = json_of(
        app.admin(Method::GET, "/_switchboard/faults")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["result"], json!([]));
}

#[tokio::test]
async fn bad_rules_are_400_naming_the_field_and_only_admins_set_rules() {
    let app = TestApp::spawn().await;
    for (rule, field) in [
        (json!({"api": "tables", "status": 500}), "api"),
        (json!({"status": 200}), "status"),
        (json!({"status": "500"}), "status"),
        (json!({"action": "respond"}), "status"),
        (json!({"action": "drop", "status": 500}), "status"),
        (json!({"action": "delay"}), "latency_ms"),
        (json!({"latency_ms": [300, 100]}), "latency_ms"),
        (json!({"latency_ms": -1}), "latency_ms"),
        (json!({"status": 500, "probability": 1.5}), "probability"),
        (json!({"status": 500, "times": 0}), "times"),
        (json!({"action": "explode"}), "action"),
        (json!({}), "action"),
        (json!({"latency_ms": 5, "retry_after": 3}), "retry_after"),
        (json!({"status": 500, "path": "api/now"}), "path"),
        (json!({"status": 500, "provider": "cc"}), "provider"),
        (
            json!({"api": "outbound", "user": "x", "status": 500}),
            "user",
        ),
        (json!({"api": "outbound", "action": "truncate"}), "action"),
        (json!({"status": 500, "colour": "red"}), "colour"),
    ] {
        let response = app
            .admin(Method::POST, "/_switchboard/faults")
            .json(&rule)
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid fault rule").await;
        let detail = detail.as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}: ")),
            "{rule}: {detail}"
        );
    }

    app.user("someone", "someone-password", &[]).await;
    let someone = ("someone", "someone-password");
    let response = app
        .as_user(someone, Method::POST, "/_switchboard/faults")
        .json(&json!({"status": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.status_as(someone, "/_switchboard/faults").await,
        StatusCode::FORBIDDEN
    );
    let response = app
        .anonymous(Method::DELETE, "/_switchboard/faults")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_that_retries_on_503_gets_through() {
    let app = TestApp::spawn().await;
    add_rule(
        &app,
        json!({"api": "table", "method": "POST", "status": 503, "retry_after": 1, "times": 3}),
    )
    .await;
    let mut tries = 0;
    let created = loop {
        tries += 1;
        assert!(tries <= 10, "never got through");
        let response = app
            .admin(Method::POST, "/api/now/table/incident")
            .json(&json!({"short_description": "retried"}))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(response.headers().get("retry-after").is_some());
            continue;
        }
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        break body["result"].clone();
    };
    assert_eq!(tries, 4);
    assert_eq!(created["short_description"], "retried");
    // Nothing was written by the refused tries.
    let found = fetch_records(&app, "incident", "sysparm_query=short_description=retried").await;
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn an_outbound_503_rule_fails_the_attempt_unsent_and_the_event_goes_once_it_is_spent() {
    let server = ProviderServer::start().await;
    let (w, _) = world_reporting_to(&server, json!({})).await;
    let rule = add_rule(
        &w.app,
        json!({"api": "outbound", "provider": "Contact center", "status": 503, "times": 1}),
    )
    .await;
    let id = rule["id"].as_str().unwrap().to_owned();
    let chat = w.open_in_queue(&w.queue).await;

    // The attempt fails without reaching the provider.
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, listed) = get_rule(&w.app, &id).await;
        if listed["result"]["fired"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the rule never fired: {listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Well within the retry's backoff (a second at least).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.received().is_empty(), "the provider saw a request");

    // The retry, after its backoff, reaches it: the rule is spent.
    w.app.state.clock.advance(Duration::from_secs(2));
    let received = server.wait_for(1, WAIT).await;
    assert_eq!(received[0].event_type(), "interaction.queued");
    assert_eq!(received[0].json["document"]["sys_id"], chat.as_str());
    assert_eq!(
        received[0].header("x-switchboard-delivery-attempt"),
        Some("2")
    );
    let event_id = received[0].event_id().to_owned();
    let deadline = Instant::now() + WAIT;
    let logged = loop {
        let query = format!("sysparm_query=source_record={event_id}^ORDERBYsequence");
        let logged = fetch_records(&w.app, "sys_outbound_http_log", &query).await;
        if logged.len() == 2 {
            break logged;
        }
        assert!(Instant::now() < deadline, "{logged:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let statuses: Vec<&str> = logged
        .iter()
        .map(|l| l["response_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["503", "200"]);
    let headers = logged[0]["response_headers"].as_str().unwrap();
    assert!(headers.contains(&format!("fault rule {id}")), "{headers}");

    // The metrics count the failed attempt and the delivery, and its lag.
    let response = w.app.admin(Method::GET, "/_switchboard/metrics").send();
    let metrics = response.await.unwrap().text().await.unwrap();
    for line in [
        "switchboard_outbound_attempts_total{outcome=\"retry\"}",
        "switchboard_outbound_attempts_total{outcome=\"delivered\"}",
        "switchboard_outbound_failures_total",
        "switchboard_outbound_delivery_lag_seconds_bucket",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn a_batchs_items_are_requests_a_rule_can_match_by_the_batchs_caller() {
    let app = TestApp::spawn().await;
    add_rule(
        &app,
        json!({"api": "table", "user": "admin", "path": "*/incident", "status": 503}),
    )
    .await;
    let headers = json!([{"name": "Accept", "value": "application/json"}]);
    let batch = json!({"batch_request_id": "b1", "rest_requests": [
        {"id": "1", "method": "GET", "url": "/api/now/table/incident", "headers": headers},
        {"id": "2", "method": "GET", "url": "/api/now/table/sys_user?sysparm_limit=1", "headers": headers},
    ]});
    let response = app
        .admin(Method::POST, "/api/now/v1/batch")
        .json(&batch)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code_of = |id: &str| {
        body["serviced_requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["status_code"].clone())
    };
    assert_eq!(code_of("1"), Some(json!(503)), "{body}");
    assert_eq!(code_of("2"), Some(json!(200)), "{body}");
}
