//! The OpenAPI document at `/api/openapi.json` describes what the server serves: every
//! documented operation is served, and every method the server answers on a documented path is
//! documented.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::helpers::{TestApp, json_of};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(app: &TestApp) -> Value {
    let response = app
        .anonymous(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    let (status, doc) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    doc
}

/// A concrete path for a templated one.
fn concrete(path: &str) -> String {
    path.replace("{table}", "sys_user")
        .replace("{action}", "drop")
        .replace("{inbound_id}", "Voice1")
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                "0123456789abcdef0123456789abcdef"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router has a route for this method and path: anything but the fallback's
/// "no such resource" 400 and the 405 for a path without that method.
async fn served(app: &TestApp, method: &str, path: &str) -> bool {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let response = app.admin(method, path).send().await.unwrap();
    let status = response.status();
    // An event stream (the journal's) does not end: its head is enough.
    let streams = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let text = match streams {
        true => String::new(),
        false => response.text().await.unwrap(),
    };
    !(status == StatusCode::METHOD_NOT_ALLOWED
        || status == StatusCode::NOT_FOUND && text.contains("\"Not Found\"")
        || text.contains("Requested URI does not represent any resource"))
}

#[tokio::test]
async fn the_document_is_openapi_3_with_unique_operation_ids() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "switchboard");
    let mut ids = std::collections::BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(ids.insert(id.clone()), "duplicate operationId {id}");
            }
        }
    }
    assert!(ids.len() >= 30, "{ids:?}");
}

#[tokio::test]
async fn every_documented_operation_is_served_and_every_served_method_documented() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/api/now/table/{table}",
        "/api/now/table/{table}/{sys_id}",
        "/api/now/v1/table/{table}",
        "/api/now/v2/table/{table}/{sys_id}",
        "/api/now/interaction",
        "/api/now/interaction/{id}/close",
        "/api/now/conversation/member/{user_id}/{action}",
        "/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent_id}/inboundId/{inbound_id}",
        "/oauth_token.do",
        "/oauth_revoke_token.do",
        "/api/openapi.json",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    for (path, item) in paths {
        let url = concrete(path);
        for method in METHODS {
            let documented = item.get(method).is_some();
            let served = served(&app, method, &url).await;
            assert_eq!(
                documented,
                served,
                "{} {path}: documented {documented}, served {served}",
                method.to_uppercase()
            );
        }
    }
}

#[tokio::test]
async fn every_api_operation_documents_the_platforms_errors_and_security() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let responses = op["responses"].as_object().unwrap();
            if path.starts_with("/api/now") || path.starts_with("/api/sn_") {
                for status in ["401", "403", "406", "500"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
                assert_eq!(
                    op["security"].as_array().unwrap().len(),
                    2,
                    "{method} {path}"
                );
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("400"), "{method} {path} lacks 400");
            }
        }
    }
    // The table parameter names exactly the registry's tables.
    let table = &doc["paths"]["/api/now/table/{table}"]["get"]["parameters"][0];
    assert_eq!(table["name"], "table");
    let names: Vec<&str> = switchboard::model::registry::TABLES
        .iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(table["schema"]["enum"], serde_json::json!(names));
}
