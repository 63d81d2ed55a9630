//! Records: their sys_ids, and reading them as admin through the Table API.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{TestApp, json_of};

/// The `sys_id` of a record (or of any object that has one).
pub fn sys_id_of(record: &Value) -> String {
    record["sys_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no sys_id in {record}"))
        .to_owned()
}

/// Whether `value` is a sys_id: 32 lowercase hexadecimal digits.
pub fn is_sys_id(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A json field as the Table API shows it (a string holding JSON), parsed.
pub fn stored_json(field: &Value) -> Value {
    match field {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}")),
        other => other.clone(),
    }
}

/// One record read through the Table API as admin, references as plain sys_ids;
/// `None` when the Table API answers 404.
pub async fn fetch_record(app: &TestApp, table: &str, sys_id: &str) -> Option<Value> {
    let path = format!("/api/now/table/{table}/{sys_id}?sysparm_exclude_reference_link=true");
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    match status {
        StatusCode::OK => Some(body["result"].clone()),
        StatusCode::NOT_FOUND => None,
        other => panic!("GET {path}: {other} {body}"),
    }
}

/// The records of `table` matching `query` (a Table API query string such as
/// `interaction=<id>`, or ""), read as admin, references as plain sys_ids.
pub async fn fetch_records(app: &TestApp, table: &str, query: &str) -> Vec<Value> {
    let path = format!(
        "/api/now/table/{table}?sysparm_exclude_reference_link=true&sysparm_limit=10000&{query}"
    );
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body["result"].as_array().expect("a list").clone()
}

/// The sys_id of the user named `user_name`.
pub async fn user_sys_id(app: &TestApp, user_name: &str) -> String {
    let users = fetch_records(app, "sys_user", &format!("user_name={user_name}")).await;
    sys_id_of(&users[0])
}
