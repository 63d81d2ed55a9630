//! The admin token (`--admin-token` / `SWITCHBOARD_ADMIN_TOKEN`): a bearer token admitted as
//! admin on switchboard's own routes (`/_switchboard/`), and nowhere else.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_unauthenticated, json_of};

const TOKEN: &str = "control-plane-token-0123456789";

async fn with_token() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(TOKEN.to_owned())).await
}

#[tokio::test]
async fn the_token_is_admitted_on_switchboards_own_routes() {
    let app = with_token().await;
    let response = app
        .anonymous(Method::POST, "/_switchboard/faults")
        .bearer_auth(TOKEN)
        .json(&json!({"api": "table", "status": 503}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .anonymous(Method::GET, "/_switchboard/faults")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    // Basic admins are admitted as before.
    let response = app.admin(Method::DELETE, "/_switchboard/faults").send();
    assert_eq!(response.await.unwrap().status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_wrong_token_is_401() {
    let app = with_token().await;
    for wrong in [
        "control-plane-token-012345678",
        "control-plane-token-0123456789x",
        "x",
    ] {
        let response = app
            .anonymous(Method::GET, "/_switchboard/faults")
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
}

#[tokio::test]
async fn the_token_is_refused_on_the_platforms_apis() {
    let app = with_token().await;
    for path in [
        "/api/now/table/sys_user",
        "/api/now/stats/incident?sysparm_count=true",
    ] {
        let response = app
            .anonymous(Method::GET, path)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
}

#[tokio::test]
async fn without_the_flag_a_bearer_that_is_no_oauth_token_is_401() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous(Method::GET, "/_switchboard/faults")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}
