//! `/_switchboard/health` (liveness) and `/_switchboard/health/ready` (readiness): what a CI job
//! or a load balancer waits on, without credentials.

use reqwest::StatusCode;

use crate::helpers::{TestApp, client, json_of};

#[tokio::test]
async fn liveness_and_readiness_answer_without_credentials() {
    let app = TestApp::spawn().await;
    for (path, status) in [
        ("/_switchboard/health", "ok"),
        ("/_switchboard/health/ready", "ready"),
    ] {
        let response = client().get(app.url(path)).send().await.unwrap();
        let (code, body) = json_of(response).await;
        assert_eq!(code, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["result"]["status"], status, "{body}");
        assert_eq!(body["result"]["version"], env!("CARGO_PKG_VERSION"));
    }
    // Not a platform path: an unknown one under the prefix is a 404 in the envelope.
    let response = client()
        .get(app.url("/_switchboard/healthz"))
        .send()
        .await
        .unwrap();
    let (code, body) = json_of(response).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "failure");
}

#[tokio::test]
async fn readiness_is_503_with_retry_after_once_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.store.close().await;
    let response = client()
        .get(app.url("/_switchboard/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("2")
    );
    let (_, body) = json_of(response).await;
    assert_eq!(body["status"], "failure", "{body}");
    // Liveness does not touch the database.
    let response = client()
        .get(app.url("/_switchboard/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
