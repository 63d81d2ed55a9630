//! Large Table API pages share a budget of records in flight (`--max-records-in-flight`): past
//! it they wait their turn, and past the wait they are refused 503 with `Retry-After`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::helpers::{TestApp, assert_error};

/// Inserts `count` queues named q1, q2, ...
async fn queues(app: &TestApp, count: usize) {
    for n in 1..=count {
        app.insert("awa_queue", json!({"name": format!("q{n}")}))
            .await;
    }
}

/// GETs `path` as admin; returns the status, `X-Total-Count` and the body's text.
async fn get(app: &TestApp, path: &str) -> (StatusCode, Option<String>, String) {
    answer(app.admin(Method::GET, path).send().await.unwrap()).await
}

/// The status, `X-Total-Count` and text of a response.
async fn answer(response: reqwest::Response) -> (StatusCode, Option<String>, String) {
    let total = response
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), total, response.text().await.unwrap())
}

/// Waits (briefly) until every admitted page has given its records back: a reservation ends
/// when the server drops the body it sent, just after the client has read it.
async fn all_given_back(app: &TestApp) {
    for _ in 0..200 {
        if app.state.pages.admitted() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} pages still admitted", app.state.pages.admitted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_large_pages_are_admitted_one_at_a_time_and_all_answer_in_full() {
    // Each page of 40 records is larger than the budget, so it takes all of it.
    let app = TestApp::spawn_with(|config| config.max_records_in_flight = 5).await;
    queues(&app, 40).await;
    let path = "/api/now/table/awa_queue?sysparm_display_value=all&sysparm_query=ORDERBYname";
    let (status, _, alone) = get(&app, path).await;
    assert_eq!(status, StatusCode::OK, "{alone}");
    let mut pages = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app.admin(Method::GET, path);
        pages.spawn(async move { answer(request.send().await.unwrap()).await });
    }
    for (status, total, body) in pages.join_all().await {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(total.as_deref(), Some("40"));
        assert_eq!(body, alone, "every page answers in full, byte for byte");
    }
    assert_eq!(app.state.pages.most_admitted(), 1, "pages overlapped");
    all_given_back(&app).await;
}

#[tokio::test]
async fn a_page_that_waits_past_the_bound_is_503_with_retry_after() {
    let app = TestApp::spawn_with(|config| {
        config.max_records_in_flight = 5;
        config.page_wait = Duration::from_millis(100);
    })
    .await;
    queues(&app, 2).await;
    let held = app.state.pages.admit(5).await.unwrap().unwrap();
    let response = app
        .admin(Method::GET, "/api/now/table/awa_queue")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "2");
    let detail = assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
    )
    .await;
    assert!(
        detail.as_str().unwrap().contains("sysparm_limit"),
        "{detail}"
    );
    drop(held);
    let (status, total, body) = get(&app, "/api/now/table/awa_queue").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(total.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_page_reserves_what_its_count_leaves_not_its_limit() {
    let app = TestApp::spawn_with(|config| {
        config.max_records_in_flight = 10;
        config.page_wait = Duration::from_millis(100);
    })
    .await;
    queues(&app, 5).await;
    // 7 of 10 held elsewhere: room for 3.
    let _held = app.state.pages.admit(7).await.unwrap().unwrap();
    // No `sysparm_limit` (10,000), but the count leaves 3 past the offset: admitted.
    let (status, total, body) = get(&app, "/api/now/table/awa_queue?sysparm_offset=2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(total.as_deref(), Some("5"));
    // Without a count the page may hold its whole limit, and must wait for it.
    let (status, _, body) = get(
        &app,
        "/api/now/table/awa_queue?sysparm_offset=2&sysparm_no_count=true",
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // An explicit small limit fits.
    let (status, _, body) = get(
        &app,
        "/api/now/table/awa_queue?sysparm_limit=3&sysparm_no_count=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
