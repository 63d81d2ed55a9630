//! Encoded queries (`sysparm_query`) sent to the Table API as admin.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{TestApp, assert_error, json_of, query_encoded};

/// The records of `table` that `query` selects, in the order returned.
pub async fn queried(app: &TestApp, table: &str, query: &str) -> Vec<Value> {
    let path = format!(
        "/api/now/table/{table}?sysparm_query={}",
        query_encoded(query)
    );
    let response = app.admin(Method::GET, &path).send().await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["result"].as_array().unwrap().clone()
}

/// Asserts that a query is refused as invalid (`400 Invalid query`); returns the detail.
pub async fn query_refused(app: &TestApp, table: &str, query: &str) -> String {
    let path = format!(
        "/api/now/table/{table}?sysparm_query={}",
        query_encoded(query)
    );
    let response = app.admin(Method::GET, &path).send().await.unwrap();
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid query").await;
    let detail = detail
        .as_str()
        .unwrap_or_else(|| panic!("{query}: no detail"))
        .to_owned();
    assert!(!detail.is_empty(), "{query}");
    detail
}
