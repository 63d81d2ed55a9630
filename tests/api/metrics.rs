//! Prometheus metrics (docs/control-plane.md, "Metrics"): on `/_switchboard/metrics` for admins
//! (or the admin token), and on a listener of their own without credentials. The recorder is
//! the process's, shared by every test server: counts are compared before and after, never
//! expected exactly.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, client, on_postgres};

/// The value of the first sample of `name` whose labels hold every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .admin(Method::GET, "/_switchboard/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

const TABLE_OK: &[&str] = &[
    "api=\"table\"",
    "route=\"/api/now/table/{table}\"",
    "status=\"200\"",
];

#[tokio::test]
async fn a_table_api_call_is_counted_and_timed() {
    let app = TestApp::spawn().await;
    let get = || async {
        let response = app.admin(Method::GET, "/api/now/table/sys_user").send();
        assert_eq!(response.await.unwrap().status(), StatusCode::OK);
    };
    get().await;
    let before = scrape(&app).await;
    let counted = sample(&before, "switchboard_http_requests_total", TABLE_OK);
    let counted = counted.unwrap_or_else(|| panic!("no table request counted:\n{before}"));
    get().await;
    let after = scrape(&app).await;
    let now = sample(&after, "switchboard_http_requests_total", TABLE_OK).unwrap();
    assert!(now >= counted + 1.0, "{counted} then {now}");
    let buckets = sample(
        &after,
        "switchboard_http_request_duration_seconds_bucket",
        &["api=\"table\"", "le=\"+Inf\""],
    );
    assert!(buckets.unwrap_or(0.0) >= 1.0, "{after}");
    assert!(
        after.contains("# TYPE switchboard_http_request_duration_seconds histogram"),
        "{after}"
    );
    // The second request's credential came from the cache.
    let hits = sample(
        &after,
        "switchboard_credential_cache_lookups_total",
        &["outcome=\"hit\""],
    );
    assert!(hits.unwrap_or(0.0) >= 1.0, "{after}");
    if !on_postgres() {
        // Every write so far (the first admin, the roles) went through the SQLite writer.
        assert!(
            after.contains("switchboard_sqlite_commit_batch_size_bucket"),
            "{after}"
        );
    }
}

#[tokio::test]
async fn only_admins_and_the_admin_token_read_the_metrics() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some("metrics-token".into())).await;
    app.user("someone", "someone-password", &[]).await;
    assert_eq!(
        app.status_as(("someone", "someone-password"), "/_switchboard/metrics")
            .await,
        StatusCode::FORBIDDEN
    );
    let anonymous = app.anonymous(Method::GET, "/_switchboard/metrics").send();
    assert_eq!(anonymous.await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let with_token = app
        .anonymous(Method::GET, "/_switchboard/metrics")
        .bearer_auth("metrics-token")
        .send();
    assert_eq!(with_token.await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn the_separate_listener_serves_the_metrics_without_credentials() {
    let app = TestApp::spawn().await;
    let response = app.admin(Method::GET, "/api/now/table/sys_user").send();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchboard::serve_metrics(listener));
    let response = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(
        sample(&text, "switchboard_http_requests_total", TABLE_OK).is_some(),
        "{text}"
    );
    let other = client()
        .get(format!("{base}/api/now/table/sys_user"))
        .send();
    assert_eq!(other.await.unwrap().status(), StatusCode::NOT_FOUND);
}
