//! The request journal (docs/control-plane.md, "The request journal"): what a client sees of
//! the requests a server answered, through `/_switchboard/journal`, its live stream, and
//! `switchboard tail`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::provider::{ProviderServer, world_reporting_to};
use crate::helpers::{ADMIN, TestApp, json_of};

/// The entries matching `query` (a query string, without `?`).
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let path = format!("/_switchboard/journal?{query}");
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"].as_array().unwrap().clone()
}

async fn count(app: &TestApp, query: &str) -> u64 {
    let path = format!("/_switchboard/journal/count?{query}");
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]["count"].as_u64().unwrap()
}

async fn verify(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let response = app.admin(Method::POST, "/_switchboard/journal/verify");
    json_of(response.json(&body).send().await.unwrap()).await
}

async fn clear(app: &TestApp) {
    let response = app.admin(Method::DELETE, "/_switchboard/journal").send();
    assert_eq!(response.await.unwrap().status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_table_api_call_is_recorded_with_what_a_client_needs() {
    let app = TestApp::spawn().await;
    let body = json!({"short_description": "journal"});
    let response = app
        .admin(
            Method::POST,
            "/api/now/table/incident?sysparm_display_value=false",
        )
        .header("X-UserToken", "secret-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let transaction = response.headers()["x-transaction-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer = response.text().await.unwrap();

    let found = entries(&app, "path=/api/now/table/incident").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let e = &found[0];
    assert_eq!(e["kind"], "inbound");
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], "/api/now/table/incident");
    assert_eq!(e["query"], "sysparm_display_value=false");
    assert_eq!(e["request_headers"]["authorization"], "***");
    assert_eq!(e["request_headers"]["x-usertoken"], "***");
    assert_eq!(e["request_headers"]["content-type"], "application/json");
    assert_eq!(e["request_body"], body.to_string());
    assert_eq!(e["request_body_encoding"], "text");
    assert_eq!(e["request_body_truncated"], false);
    assert_eq!(e["status"], 201);
    assert_eq!(e["response_body"], answer);
    assert_eq!(e["response_body_truncated"], false);
    assert_eq!(e["user"], "admin");
    assert_eq!(e["api"], "table");
    assert_eq!(e["route"], "/api/now/table/{table}");
    assert_eq!(e["transaction_id"], transaction.as_str());
    assert_eq!(
        e["response_headers"]["x-transaction-id"],
        transaction.as_str()
    );
    assert_eq!(e["fault"], Value::Null);
    assert!(e["id"].as_u64().unwrap() > 0);
    assert!(e["duration_ms"].as_f64().unwrap() >= 0.0);
    // RFC 3339 UTC with milliseconds.
    let time = e["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 24, "{time}");
}

#[tokio::test]
async fn filters_count_and_the_journals_own_routes_are_not_recorded() {
    let app = TestApp::spawn().await;
    app.user("reader", "reader-password", &[]).await;
    let reader = ("reader", "reader-password");
    // Creating the user went through the Table API.
    clear(&app).await;
    for path in [
        "/api/now/table/sys_user?sysparm_limit=1",
        "/api/now/table/incident",
    ] {
        let response = app.admin(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .as_user(reader, Method::GET, "/api/now/table/incident")
        .send();
    response.await.unwrap();
    let response = app
        .admin(Method::GET, "/no/such/path")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.anonymous(Method::GET, "/_switchboard/health").send();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);

    assert_eq!(count(&app, "path=/api/now/table/*").await, 3);
    assert_eq!(count(&app, "path=/api/now/table/incident").await, 2);
    assert_eq!(count(&app, "path=*/sys_user").await, 1);
    assert_eq!(count(&app, "status=2xx&user=admin&path=/api/*").await, 2);
    assert_eq!(count(&app, "status=404").await, 1);
    assert_eq!(count(&app, "status=4xx").await, 1);
    assert_eq!(count(&app, "user=reader").await, 1);
    assert_eq!(count(&app, "method=get&user=admin&api=table").await, 2);
    assert_eq!(count(&app, "api=switchboard").await, 1, "the health check");
    assert_eq!(count(&app, "kind=outbound").await, 0);
    let unmatched = entries(&app, "unmatched=true").await;
    assert_eq!(unmatched.len(), 1, "{unmatched:?}");
    assert_eq!(unmatched[0]["path"], "/no/such/path");
    assert_eq!(unmatched[0]["route"], Value::Null);
    assert_eq!(unmatched[0]["api"], Value::Null);

    // Newest last; limit keeps the newest.
    let all = entries(&app, "").await;
    let ids: Vec<u64> = all.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let last_two = entries(&app, "limit=2").await;
    assert_eq!(last_two, all[all.len() - 2..]);
    // after_id, since and until.
    let after = entries(&app, &format!("after_id={}", ids[2])).await;
    assert_eq!(after, all[3..]);
    let first_time = all[0]["time"].as_str().unwrap();
    assert_eq!(count(&app, &format!("since={first_time}")).await, 5);
    assert_eq!(count(&app, "until=2000-01-01T00:00:00Z").await, 0);
    assert_eq!(count(&app, "since=2000-01-01T00:00:00Z").await, 5);

    // None of the journal's own requests above was recorded.
    assert_eq!(count(&app, "path=/_switchboard/journal*").await, 0);
    assert_eq!(all.len(), 5, "{all:?}");

    // A malformed filter is a 400 in the envelope.
    let path = "/_switchboard/journal/count?status=4x";
    let (status, body) = json_of(app.admin(Method::GET, path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], "failure");

    clear(&app).await;
    assert_eq!(count(&app, "").await, 0);
    app.admin(Method::GET, "/api/now/table/incident")
        .send()
        .await
        .unwrap();
    let after_clear = entries(&app, "").await;
    assert_eq!(after_clear.len(), 1);
    assert!(after_clear[0]["id"].as_u64().unwrap() > *ids.last().unwrap());
}

#[tokio::test]
async fn verify_answers_409_listing_what_matched() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let response = app.admin(Method::GET, "/api/now/table/incident").send();
        response.await.unwrap();
    }
    let pattern = "/api/now/table/incident";
    let (status, body) = verify(&app, json!({"path": pattern, "count": 2})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], json!({"verified": true, "count": 2}));
    let (status, body) = verify(&app, json!({"path": pattern, "at_least": 1, "status": 200})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = verify(
        &app,
        json!({"path": pattern, "at_most": 2, "method": "GET"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = verify(&app, json!({"path": pattern, "count": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"]["message"], "Journal verification failed");
    let detail = body["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("Expected exactly 1 request"), "{detail}");
    assert!(detail.contains("found 2"), "{detail}");
    assert_eq!(
        detail.matches("GET /api/now/table/incident 200").count(),
        2,
        "{detail}"
    );
    let (status, _) = verify(&app, json!({"path": "/nothing", "at_least": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // An expectation is required, and only one kind of it.
    for bad in [
        json!({"path": pattern}),
        json!({"count": 1, "at_least": 1}),
        json!({"count": -1}),
    ] {
        let (status, body) = verify(&app, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = verify(&app, json!({"count": 0, "colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown filter: {body}");
}

#[tokio::test]
async fn the_ring_keeps_the_last_entries_and_bodies_are_capped() {
    let app = TestApp::spawn_with(|c| {
        c.journal_size = 5;
        c.journal_body_bytes = 16;
    })
    .await;
    for i in 0..8 {
        let path = format!("/api/now/table/incident?n={i}");
        app.admin(Method::GET, &path).send().await.unwrap();
    }
    let kept = entries(&app, "").await;
    let queries: Vec<&str> = kept.iter().map(|e| e["query"].as_str().unwrap()).collect();
    assert_eq!(queries, ["n=3", "n=4", "n=5", "n=6", "n=7"]);

    let long = json!({"short_description": "x".repeat(100)});
    app.admin(Method::POST, "/api/now/table/incident")
        .json(&long)
        .send()
        .await
        .unwrap();
    let e = entries(&app, "method=POST").await.pop().unwrap();
    assert_eq!(e["request_body"], long.to_string()[..16]);
    assert_eq!(e["request_body_truncated"], true);
    assert_eq!(e["response_body"].as_str().unwrap().len(), 16);
    assert_eq!(e["response_body_truncated"], true);
}

/// Once the ring is full, the entries it lets go are filled again by later requests: nothing
/// of an earlier request may show in a later one's entry.
#[tokio::test]
async fn an_entry_reused_for_a_later_request_keeps_nothing_of_the_earlier_one() {
    let app = TestApp::spawn_with(|c| c.journal_size = 2).await;
    for round in 0..4 {
        // A request with everything: a query, a body, a credential, a user, a route.
        let full = app
            .admin(
                Method::POST,
                &format!("/api/now/table/incident?round={round}"),
            )
            .json(&json!({"short_description": format!("round {round}")}));
        assert_eq!(full.send().await.unwrap().status(), StatusCode::CREATED);
        // And one with nothing: no query, no body, no caller, no route.
        let bare = app.anonymous(Method::GET, "/nowhere").send().await.unwrap();
        assert_eq!(bare.status(), StatusCode::NOT_FOUND);
    }
    let kept = entries(&app, "").await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    let (full, bare) = (&kept[0], &kept[1]);
    assert_eq!(full["query"], "round=3");
    assert_eq!(
        full["request_body"],
        json!({"short_description": "round 3"}).to_string()
    );
    assert_eq!(full["user"], "admin");
    assert_eq!(full["route"], "/api/now/table/{table}");
    assert_eq!(full["status"], 201);

    assert_eq!(bare["path"], "/nowhere");
    assert_eq!(bare["query"], Value::Null);
    assert_eq!(bare["request_body"], "");
    assert_eq!(bare["request_headers"].get("authorization"), None);
    assert_eq!(bare["request_headers"].get("content-type"), None);
    assert_eq!(bare["user"], Value::Null);
    assert_eq!(bare["api"], Value::Null);
    assert_eq!(bare["route"], Value::Null);
    assert_eq!(bare["status"], 404);
    assert_eq!(bare["response_headers"].get("location"), None);
    let answer = bare["response_body"].as_str().unwrap();
    assert!(!answer.contains("round"), "{answer}");
    assert!(bare["id"].as_u64() > full["id"].as_u64());
}

#[tokio::test]
async fn a_batch_is_one_entry() {
    let app = TestApp::spawn().await;
    let item = |id: &str, url: &str| {
        json!({"id": id, "method": "GET", "url": url,
               "headers": [{"name": "Accept", "value": "application/json"}]})
    };
    let batch = json!({"batch_request_id": "b", "rest_requests": [
        item("1", "/api/now/table/incident"),
        item("2", "/api/now/table/sys_user?sysparm_limit=1"),
    ]});
    let response = app
        .admin(Method::POST, "/api/now/v1/batch")
        .json(&batch)
        .send();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);
    let all = entries(&app, "").await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["api"], "batch");
    assert_eq!(all[0]["route"], "/api/now/v1/batch");
    assert_eq!(all[0]["user"], "admin");
}

#[tokio::test]
async fn only_admins_read_the_journal() {
    let app = TestApp::spawn().await;
    app.user("agent", "agent-password", &[]).await;
    let agent = ("agent", "agent-password");
    for (method, path) in [
        (Method::GET, "/_switchboard/journal"),
        (Method::GET, "/_switchboard/journal/count"),
        (Method::GET, "/_switchboard/journal/stream"),
        (Method::DELETE, "/_switchboard/journal"),
        (Method::POST, "/_switchboard/journal/verify"),
    ] {
        let response = app
            .as_user(agent, method.clone(), path)
            .json(&json!({"count": 0}));
        let (status, body) = json_of(response.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["status"], "failure");
        let response = app.anonymous(method.clone(), path).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn with_size_zero_nothing_is_recorded_and_the_routes_say_so() {
    let app = TestApp::spawn_with(|c| c.journal_size = 0).await;
    app.admin(Method::GET, "/api/now/table/incident")
        .send()
        .await
        .unwrap();
    for (method, path) in [
        (Method::GET, "/_switchboard/journal"),
        (Method::GET, "/_switchboard/journal/count"),
        (Method::DELETE, "/_switchboard/journal"),
        (Method::GET, "/_switchboard/journal/stream"),
    ] {
        let (status, body) = json_of(app.admin(method.clone(), path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"]["message"], "Journal off");
    }
}

/// Reads the stream's lines until one holds an `entry` event's data, or `wait` passes.
async fn next_entry(response: &mut reqwest::Response, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut pending = String::new();
    let mut event = String::new();
    loop {
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ")
                && event == "entry"
            {
                return Some(serde_json::from_str(data).unwrap());
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .ok()?;
        pending.push_str(&String::from_utf8_lossy(&chunk.unwrap()?));
    }
}

#[tokio::test]
async fn the_stream_sends_new_entries_that_match() {
    let app = TestApp::spawn().await;
    let mut stream = app
        .admin(
            Method::GET,
            "/_switchboard/journal/stream?path=/api/now/table/*",
        )
        // What a browser's EventSource sends.
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Not matching the filter, then matching it.
    app.admin(Method::GET, "/no/such/path")
        .send()
        .await
        .unwrap();
    app.admin(Method::GET, "/api/now/table/incident?streamed=1")
        .send()
        .await
        .unwrap();
    let entry = next_entry(&mut stream, Duration::from_secs(10))
        .await
        .expect("an entry on the stream");
    assert_eq!(entry["path"], "/api/now/table/incident");
    assert_eq!(entry["query"], "streamed=1");
    assert_eq!(entry["status"], 200);
}

#[tokio::test]
async fn an_outbound_delivery_is_recorded() {
    let server = ProviderServer::start().await;
    let (world, _provider) = world_reporting_to(&server, json!({})).await;
    world.open_in_queue(&world.queue).await;
    server.wait_for(1, Duration::from_secs(20)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let found = loop {
        let found = entries(&world.app, "kind=outbound").await;
        if !found.is_empty() || tokio::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let e = found
        .iter()
        .find(|e| e["event_type"] == "interaction.queued")
        .unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], server.url.as_str());
    assert_eq!(e["status"], 200);
    assert_eq!(e["provider"], "Contact center");
    assert_eq!(e["attempt"], 1);
    assert_eq!(e["error"], Value::Null);
    assert_eq!(e["request_headers"]["x-cc-signature"], "***");
    assert_eq!(
        e["request_headers"]["x-switchboard-event"],
        "interaction.queued"
    );
    let payload: Value = serde_json::from_str(e["request_body"].as_str().unwrap()).unwrap();
    assert_eq!(payload["event_type"], "interaction.queued");
}

#[tokio::test]
async fn switchboard_tail_prints_a_line_per_request() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let app = TestApp::spawn().await;
    let mut tail = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "tail",
            "--url",
            &app.base,
            "--password",
            ADMIN.1,
            "--api",
            "table",
        ])
        .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start switchboard tail");
    let stdout = tail.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // The tail subscribes on its own time: ask until a line comes.
    let mut line = None;
    for attempt in 0..100 {
        let path = format!("/api/now/table/incident?tail={attempt}");
        app.admin(Method::GET, &path).send().await.unwrap();
        if let Ok(l) = received.recv_timeout(Duration::from_millis(200)) {
            line = Some(l);
            break;
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let line = line.expect("switchboard tail printed a line");
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 7, "{line}");
    assert!(fields[0].ends_with('Z'), "{line}");
    assert_eq!(fields[1], "GET");
    assert!(
        fields[2].starts_with("/api/now/table/incident?tail="),
        "{line}"
    );
    assert_eq!(fields[3], "200");
    assert!(fields[4].ends_with("ms"), "{line}");
    assert_eq!(fields[5], "admin");
    assert_eq!(fields[6], "table");
}

#[tokio::test]
async fn an_injected_fault_is_marked_on_its_entry_and_a_reset_is_recorded() {
    let app = TestApp::spawn().await;
    let rule = app
        .admin(Method::POST, "/_switchboard/faults")
        .json(
            &json!({"api": "table", "method": "GET", "status": 503, "retry_after": 1, "times": 1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), StatusCode::CREATED);
    clear(&app).await;
    for expected in [StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK] {
        let response = app
            .admin(Method::GET, "/api/now/table/awa_queue")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
    let found = entries(&app, "path=/api/now/table/awa_queue").await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["status"], 503);
    let fault = found[0]["fault"].as_str().unwrap_or_default();
    assert!(fault.contains("503"), "the fault is named: {}", found[0]);
    assert_eq!(found[1]["fault"], Value::Null, "{}", found[1]);
    // The control plane's own calls are journaled as switchboard's.
    let reset = app
        .admin(Method::POST, "/_switchboard/reset")
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let found = entries(&app, "path=/_switchboard/reset").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["api"], "switchboard");
}

#[tokio::test]
async fn a_request_whose_client_leaves_during_an_injected_latency_is_recorded_without_a_status() {
    let app = TestApp::spawn().await;
    let rule = app
        .admin(Method::POST, "/_switchboard/faults")
        .json(&json!({"api": "table", "method": "GET", "latency_ms": 5000, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), StatusCode::CREATED);
    clear(&app).await;
    let impatient = crate::helpers::client_with_timeout(Duration::from_millis(300));
    let gave_up = impatient
        .get(app.url("/api/now/table/awa_queue"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client timed out");
    // The server notices the closed connection and drops the request: then it is recorded.
    let mut found = Vec::new();
    for _ in 0..100 {
        found = entries(&app, "path=/api/now/table/awa_queue").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found.len(), 1, "{found:?}");
    let entry = &found[0];
    assert_eq!(entry["status"], Value::Null, "{entry}");
    assert_eq!(entry["route"], "/api/now/table/{table}", "{entry}");
    assert!(
        entry["fault"].as_str().unwrap_or_default().contains("5000"),
        "{entry}"
    );
}
