//! The Table API over HTTP: every verb and version prefix, how records are rendered, the record
//! rules every write obeys, the `sysparm_*` paging and field parameters, and who may do what.

use reqwest::header::{LINK, LOCATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::helpers::{
    ADMIN, TestApp, assert_error, assert_unreadable_request, is_sys_id, json_of, query_encoded,
    sorted_keys, sys_id_of,
};

const NO_RECORD: &str = "No Record found";
const NO_RECORD_DETAIL: &str = "Record doesn't exist or ACL restricts the record retrieval";
/// A well-formed sys_id that no record has.
const UNKNOWN_ID: &str = "0123456789abcdef0123456789abcdef";

/// Every field a `sys_user` record shows, in any order.
const USER_FIELDS: [&str; 13] = [
    "sys_id",
    "sys_created_on",
    "sys_updated_on",
    "sys_created_by",
    "sys_updated_by",
    "sys_mod_count",
    "user_name",
    "first_name",
    "last_name",
    "name",
    "email",
    "active",
    "roles",
];

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/// Sends a request as admin, with a JSON body if one is given.
async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    let request = app.admin(method, path);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    json_of(send(app, Method::GET, path, None).await).await
}

/// A write as admin; returns the status and the JSON body.
async fn write(app: &TestApp, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(send(app, method, path, Some(body)).await).await
}

/// GETs one record as admin, asserting 200; returns its `result`.
async fn read(app: &TestApp, table: &str, sys_id: &str) -> Value {
    let (status, body) = get(app, &format!("/api/now/table/{table}/{sys_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"].clone()
}

/// GETs a list as admin, asserting 200; returns the `result` array.
async fn list(app: &TestApp, path: &str) -> Vec<Value> {
    let (status, body) = get(app, path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .clone()
}

/// The values of `field` in a list of records, in order.
fn column(records: &[Value], field: &str) -> Vec<String> {
    records
        .iter()
        .map(|r| r[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

/// Whether `s` is `YYYY-MM-DD HH:MM:SS`.
fn is_date_time(s: &str) -> bool {
    s.len() == 19
        && s.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
}

/// The `Link` header as (rel, url) pairs, in order.
fn links(response: &Response) -> Vec<(String, String)> {
    let Some(header) = response.headers().get(LINK) else {
        return Vec::new();
    };
    header
        .to_str()
        .unwrap()
        .split(',')
        .map(|link| {
            let (url, rel) = link
                .trim()
                .split_once(';')
                .unwrap_or_else(|| panic!("bad link {link}"));
            let url = url.trim().trim_start_matches('<').trim_end_matches('>');
            let rel = rel.trim().strip_prefix("rel=").unwrap().trim_matches('"');
            (rel.to_owned(), url.to_owned())
        })
        .collect()
}

/// The query parameters of a URL, decoded.
fn query_pairs(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn total_count(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Inserts `count` queues named q1, q2, ... and returns their sys_ids.
async fn queues(app: &TestApp, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 1..=count {
        let queue = app
            .insert("awa_queue", json!({"name": format!("q{n}")}))
            .await;
        ids.push(sys_id_of(&queue));
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_renders_every_value_as_a_string_with_the_sys_fields() {
    let app = TestApp::spawn().await;
    let users = list(&app, "/api/now/table/sys_user").await;
    assert_eq!(users.len(), 1, "{users:?}");
    let admin = &users[0];
    assert_eq!(sorted_keys(admin), sorted(&USER_FIELDS));
    assert!(
        admin.as_object().unwrap().values().all(Value::is_string),
        "{admin}"
    );
    assert_eq!(admin["user_name"], "admin");
    assert_eq!(admin["name"], "System Administrator");
    assert_eq!(admin["active"], "true");
    assert_eq!(admin["sys_mod_count"], "0");
    assert_eq!(admin["roles"], "admin");
    assert_eq!(admin["email"], "");
    assert!(is_sys_id(&admin["sys_id"]), "{admin}");
    for field in ["sys_created_on", "sys_updated_on"] {
        assert!(is_date_time(admin[field].as_str().unwrap()), "{admin}");
    }
}

#[tokio::test]
async fn read_by_sys_id_returns_the_record_as_inserted() {
    let app = TestApp::spawn().await;
    let created = app
        .insert(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let fetched = read(&app, "sys_user", &sys_id_of(&created)).await;
    assert_eq!(fetched, created);
    assert_eq!(fetched["email"], "ada@example.com");
    assert_eq!(fetched["sys_created_by"], "admin");
    assert_eq!(fetched["sys_updated_by"], "admin");
    assert_eq!(fetched["sys_created_on"], fetched["sys_updated_on"]);
}

#[tokio::test]
async fn the_list_holds_inserted_records() {
    let app = TestApp::spawn().await;
    let ids = queues(&app, 3).await;
    let records = list(&app, "/api/now/table/awa_queue").await;
    let mut got: Vec<String> = records.iter().map(sys_id_of).collect();
    got.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(got, want);
    assert!(records.iter().all(|r| r["active"] == "true"), "{records:?}");
}

// ---------------------------------------------------------------------------------------------
// Inserting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn insert_answers_201_with_the_record_and_its_location() {
    let app = TestApp::spawn().await;
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/awa_queue",
        Some(json!({"name": "Support"})),
    )
    .await;
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let record = &body["result"];
    assert_eq!(record["name"], "Support");
    assert_eq!(record["active"], "true");
    assert_eq!(record["sys_mod_count"], "0");
    let sys_id = sys_id_of(record);
    assert!(is_sys_id(&record["sys_id"]), "{sys_id}");
    assert_eq!(
        location.as_deref(),
        Some(
            app.url(&format!("/api/now/table/awa_queue/{sys_id}"))
                .as_str()
        )
    );
    assert_eq!(read(&app, "awa_queue", &sys_id).await, *record);
}

#[tokio::test]
async fn insert_accepts_a_caller_supplied_sys_id() {
    let app = TestApp::spawn().await;
    let chosen = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/awa_queue",
        Some(json!({"sys_id": chosen, "name": "Chosen"})),
    )
    .await;
    let location = response.headers().get(LOCATION).cloned();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["sys_id"], chosen);
    assert_eq!(
        location.unwrap().to_str().unwrap(),
        app.url(&format!("/api/now/table/awa_queue/{chosen}"))
    );
    assert_eq!(read(&app, "awa_queue", chosen).await["name"], "Chosen");
}

#[tokio::test]
async fn insert_rejects_a_malformed_sys_id() {
    let app = TestApp::spawn().await;
    for bad in [
        json!("abc"),
        json!("A1B2C3D4E5F60718293A4B5C6D7E8F90"),
        json!("a1b2c3d4e5f60718293a4b5c6d7e8f9g"),
        json!("a1b2c3d4e5f60718293a4b5c6d7e8f90a"),
        json!(12345),
    ] {
        let response = send(
            &app,
            Method::POST,
            "/api/now/table/awa_queue",
            Some(json!({"sys_id": bad, "name": "Bad"})),
        )
        .await;
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
        assert!(
            detail.as_str().unwrap().contains("sys_id"),
            "{bad}: {detail}"
        );
    }
    assert_eq!(
        list(&app, "/api/now/table/awa_queue").await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn insert_rejects_a_duplicate_sys_id() {
    let app = TestApp::spawn().await;
    let chosen = "00000000000000000000000000000abc";
    app.insert("awa_queue", json!({"sys_id": chosen, "name": "First"}))
        .await;
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/awa_queue",
        Some(json!({"sys_id": chosen, "name": "Second"})),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
    let records = list(&app, "/api/now/table/awa_queue").await;
    assert_eq!(column(&records, "name"), ["First"]);
}

// ---------------------------------------------------------------------------------------------
// Updating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_and_patch_change_only_the_given_fields() {
    let app = TestApp::spawn().await;
    let user = app
        .insert(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace", "email": "a@x.org"}),
        )
        .await;
    let path = format!("/api/now/table/sys_user/{}", sys_id_of(&user));

    let (status, body) = write(&app, Method::PUT, &path, json!({"email": "ada@x.org"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after_put = &body["result"];
    assert_eq!(after_put["email"], "ada@x.org");
    assert_eq!(after_put["first_name"], "Ada");
    assert_eq!(after_put["last_name"], "Lovelace");
    assert_eq!(after_put["user_name"], "ada");
    assert_eq!(after_put["sys_mod_count"], "1");

    let (status, body) = write(&app, Method::PATCH, &path, json!({"active": false})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after_patch = &body["result"];
    assert_eq!(after_patch["active"], "false");
    assert_eq!(after_patch["email"], "ada@x.org");
    assert_eq!(after_patch["sys_mod_count"], "2");

    let stored = read(&app, "sys_user", &sys_id_of(&user)).await;
    assert_eq!(stored, *after_patch);
    assert_eq!(stored["sys_created_on"], user["sys_created_on"]);
    assert_eq!(stored["sys_created_by"], "admin");
}

#[tokio::test]
async fn update_records_the_caller_as_sys_updated_by() {
    let app = TestApp::spawn().await;
    app.user("second_admin", "second-password", &["admin"])
        .await;
    let queue = app.insert("awa_queue", json!({"name": "Before"})).await;
    let response = app
        .as_user(
            ("second_admin", "second-password"),
            Method::PATCH,
            &format!("/api/now/table/awa_queue/{}", sys_id_of(&queue)),
        )
        .json(&json!({"name": "After"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = read(&app, "awa_queue", &sys_id_of(&queue)).await;
    assert_eq!(updated["name"], "After");
    assert_eq!(updated["sys_created_by"], "admin");
    assert_eq!(updated["sys_updated_by"], "second_admin");
    assert_eq!(updated["sys_mod_count"], "1");
    let (created, modified) = (
        updated["sys_created_on"].as_str().unwrap(),
        updated["sys_updated_on"].as_str().unwrap(),
    );
    assert!(is_date_time(modified) && modified >= created, "{updated}");
}

#[tokio::test]
async fn an_update_that_changes_nothing_leaves_the_record_alone() {
    let app = TestApp::spawn().await;
    let user = app
        .insert(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "active": true}),
        )
        .await;
    let path = format!("/api/now/table/sys_user/{}", sys_id_of(&user));
    for (method, body) in [
        (Method::PUT, json!({"first_name": "Ada"})),
        (Method::PATCH, json!({"active": "true", "user_name": "ada"})),
        (Method::PATCH, json!({})),
    ] {
        let (status, answer) = write(&app, method, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["result"], user);
    }
    assert_eq!(read(&app, "sys_user", &sys_id_of(&user)).await, user);
}

#[tokio::test]
async fn read_only_fields_are_ignored_on_write() {
    let app = TestApp::spawn().await;
    let user = app
        .insert(
            "sys_user",
            json!({
                "user_name": "ada", "first_name": "Ada",
                "sys_mod_count": "42", "sys_created_by": "mallory", "roles": "admin",
                "name": "Someone Else"
            }),
        )
        .await;
    assert_eq!(user["sys_mod_count"], "0");
    assert_eq!(user["sys_created_by"], "admin");
    assert_eq!(user["roles"], "");
    assert_eq!(user["name"], "Ada");

    let path = format!("/api/now/table/sys_user/{}", sys_id_of(&user));
    let (status, body) = write(
        &app,
        Method::PATCH,
        &path,
        json!({"sys_mod_count": "7", "sys_updated_by": "mallory", "roles": "admin", "sys_id": UNKNOWN_ID}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], user);
}

#[tokio::test]
async fn unknown_body_fields_are_ignored_and_a_body_must_be_an_object() {
    let app = TestApp::spawn().await;
    let (status, body) = write(
        &app,
        Method::POST,
        "/api/now/table/awa_queue",
        json!({"name": "q", "colour": "red"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["result"].get("colour").is_none(), "{body}");
    assert_eq!(body["result"]["name"], "q");

    for bad in [json!([{"name": "q"}]), json!("q"), json!(3)] {
        let response = send(&app, Method::POST, "/api/now/table/awa_queue", Some(bad)).await;
        assert_unreadable_request(response).await;
    }
    assert_eq!(list(&app, "/api/now/table/awa_queue").await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Deleting and unknown records
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_answers_204_and_the_record_is_gone() {
    let app = TestApp::spawn().await;
    let ids = queues(&app, 2).await;
    let path = format!("/api/now/table/awa_queue/{}", ids[0]);
    let response = send(&app, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.unwrap(), "");

    let response = send(&app, Method::GET, &path, None).await;
    let detail = assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;
    assert_eq!(detail, NO_RECORD_DETAIL);
    let rest = list(&app, "/api/now/table/awa_queue").await;
    assert_eq!(
        rest.iter().map(sys_id_of).collect::<Vec<_>>(),
        [ids[1].clone()]
    );

    // Deleting it again finds nothing.
    let response = send(&app, Method::DELETE, &path, None).await;
    assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;
}

#[tokio::test]
async fn an_unknown_sys_id_is_404_on_every_verb() {
    let app = TestApp::spawn().await;
    queues(&app, 1).await;
    let path = format!("/api/now/table/awa_queue/{UNKNOWN_ID}");
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"name": "x"}))),
        (Method::PATCH, Some(json!({"name": "x"}))),
        (Method::DELETE, None),
    ] {
        let response = send(&app, method.clone(), &path, body).await;
        let detail = assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;
        assert_eq!(detail, NO_RECORD_DETAIL, "{method}");
    }
    // Not even a well-formed id: still 404, not 400.
    let response = send(&app, Method::GET, "/api/now/table/awa_queue/nope", None).await;
    assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;
    assert_eq!(list(&app, "/api/now/table/awa_queue").await.len(), 1);
}

#[tokio::test]
async fn an_unknown_table_is_400_on_every_verb() {
    let app = TestApp::spawn().await;
    for (method, path, body) in [
        (Method::GET, "/api/now/table/x".to_owned(), None),
        (
            Method::POST,
            "/api/now/table/x".to_owned(),
            Some(json!({"a": "b"})),
        ),
        (Method::GET, format!("/api/now/table/x/{UNKNOWN_ID}"), None),
        (
            Method::PUT,
            format!("/api/now/table/x/{UNKNOWN_ID}"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/api/now/table/x/{UNKNOWN_ID}"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/api/now/table/x/{UNKNOWN_ID}"),
            None,
        ),
        (Method::GET, "/api/now/v1/table/x".to_owned(), None),
        (Method::GET, "/api/now/v2/table/x".to_owned(), None),
    ] {
        let response = send(&app, method.clone(), &path, body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "Invalid table x").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Version prefixes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_verb_works_under_the_v1_and_v2_prefixes() {
    let app = TestApp::spawn().await;
    for version in ["v1", "v2"] {
        let base = format!("/api/now/{version}/table/awa_queue");
        let response = send(&app, Method::POST, &base, Some(json!({"name": version}))).await;
        let location = response.headers().get(LOCATION).cloned();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "{version}: {body}");
        let sys_id = sys_id_of(&body["result"]);
        assert_eq!(
            location.unwrap().to_str().unwrap(),
            app.url(&format!("/api/now/table/awa_queue/{sys_id}"))
        );
        let one = format!("{base}/{sys_id}");

        let (status, body) = get(&app, &one).await;
        assert_eq!(status, StatusCode::OK, "{version}: {body}");
        assert_eq!(body["result"]["name"], version);

        let listed = list(&app, &format!("{base}?sysparm_query=name={version}")).await;
        assert_eq!(
            listed.iter().map(sys_id_of).collect::<Vec<_>>(),
            [sys_id.as_str()]
        );

        let (status, body) = write(&app, Method::PUT, &one, json!({"name": "put"})).await;
        assert_eq!(
            (status, &body["result"]["name"]),
            (StatusCode::OK, &json!("put"))
        );
        let (status, body) = write(&app, Method::PATCH, &one, json!({"name": "patched"})).await;
        assert_eq!(
            (status, &body["result"]["name"]),
            (StatusCode::OK, &json!("patched"))
        );
        assert_eq!(body["result"]["sys_mod_count"], "2");

        let response = send(&app, Method::DELETE, &one, None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{version}");
        let response = send(&app, Method::GET, &one, None).await;
        assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;
    }
}

#[tokio::test]
async fn an_empty_list_is_404_on_v1_and_an_empty_result_on_v2_and_latest() {
    let app = TestApp::spawn().await;
    queues(&app, 1).await;
    let query = "?sysparm_query=name=nothing";

    let response = send(
        &app,
        Method::GET,
        &format!("/api/now/v1/table/awa_queue{query}"),
        None,
    )
    .await;
    let detail = assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;
    assert_eq!(detail, NO_RECORD_DETAIL);
    // An empty table too.
    let response = send(
        &app,
        Method::GET,
        "/api/now/v1/table/live_group_profile",
        None,
    )
    .await;
    assert_error(response, StatusCode::NOT_FOUND, NO_RECORD).await;

    for prefix in ["/api/now/v2", "/api/now"] {
        let (status, body) = get(&app, &format!("{prefix}/table/awa_queue{query}")).await;
        assert_eq!(status, StatusCode::OK, "{prefix}");
        assert_eq!(body, json!({"result": []}), "{prefix}");
    }
    // v1 still lists what matches.
    assert_eq!(list(&app, "/api/now/v1/table/awa_queue").await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Write-only and derived fields
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn user_password_is_never_returned_nor_queryable() {
    let app = TestApp::spawn().await;
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/sys_user",
        Some(json!({"user_name": "ada", "user_password": "s3cret-pass"})),
    )
    .await;
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("user_password") && !text.contains("s3cret"),
        "{text}"
    );
    assert!(!text.contains("argon2"), "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let sys_id = sys_id_of(&created["result"]);

    for path in [
        format!("/api/now/table/sys_user/{sys_id}"),
        "/api/now/table/sys_user".to_owned(),
        "/api/now/table/sys_user?sysparm_fields=user_name,user_password".to_owned(),
        "/api/now/table/sys_user?sysparm_display_value=all".to_owned(),
    ] {
        let response = send(&app, Method::GET, &path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("user_password"), "{path}: {text}");
        assert!(!text.contains("argon2"), "{path}: {text}");
    }
    let (_, body) = get(
        &app,
        "/api/now/table/sys_user?sysparm_fields=user_name,user_password",
    )
    .await;
    assert!(
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| sorted_keys(r) == ["user_name"])
    );

    let (status, body) = write(
        &app,
        Method::PATCH,
        &format!("/api/now/table/sys_user/{sys_id}"),
        json!({"user_password": "another-pass"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["result"].get("user_password").is_none(), "{body}");

    for query in [
        "user_passwordISNOTEMPTY",
        "user_passwordSTARTSWITH$argon2",
        "user_name=ada^ORuser_passwordISEMPTY",
        "ORDERBYuser_password",
    ] {
        let response = send(
            &app,
            Method::GET,
            &format!(
                "/api/now/table/sys_user?sysparm_query={}",
                query_encoded(query)
            ),
            None,
        )
        .await;
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid query").await;
        assert!(
            detail.as_str().unwrap().contains("user_password"),
            "{query}: {detail}"
        );
    }
}

#[tokio::test]
async fn oauth_client_secret_is_write_only_too() {
    let app = TestApp::spawn().await;
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/oauth_entity",
        Some(json!({"name": "App", "client_id": "app-id", "client_secret": "hush-hush"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("client_secret") && !text.contains("hush-hush"),
        "{text}"
    );
    let records = list(&app, "/api/now/table/oauth_entity").await;
    assert_eq!(records.len(), 1);
    assert!(records[0].get("client_secret").is_none(), "{records:?}");
    assert_eq!(records[0]["access_token_lifespan"], "1800");
    assert_eq!(records[0]["refresh_token_lifespan"], "8640000");
    let response = send(
        &app,
        Method::GET,
        "/api/now/table/oauth_entity?sysparm_query=client_secret=hush-hush",
        None,
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "Invalid query").await;
}

#[tokio::test]
async fn roles_are_derived_from_grants_including_contained_roles() {
    let app = TestApp::spawn().await;
    let user = app.insert("sys_user", json!({"user_name": "sue"})).await;
    let user_id = sys_id_of(&user);
    assert_eq!(user["roles"], "");

    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": user_id, "role": "awa_manager"}),
        )
        .await;
    assert_eq!(
        read(&app, "sys_user", &user_id).await["roles"],
        "awa_manager,interaction_agent"
    );
    let second = app
        .insert(
            "sys_user_has_role",
            json!({"user": user_id, "role": "awa_integration_user"}),
        )
        .await;
    assert_eq!(
        read(&app, "sys_user", &user_id).await["roles"],
        "awa_integration_user,awa_manager,interaction_agent"
    );

    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/now/table/sys_user_has_role/{}", sys_id_of(&grant)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        read(&app, "sys_user", &user_id).await["roles"],
        "awa_integration_user"
    );

    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/now/table/sys_user_has_role/{}", sys_id_of(&second)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(read(&app, "sys_user", &user_id).await["roles"], "");
}

#[tokio::test]
async fn roles_follow_changes_to_role_containment() {
    let app = TestApp::spawn().await;
    let user = app.insert("sys_user", json!({"user_name": "sue"})).await;
    let user_id = sys_id_of(&user);
    app.insert("sys_user_role", json!({"name": "team_lead"}))
        .await;
    app.insert(
        "sys_user_has_role",
        json!({"user": user_id, "role": "team_lead"}),
    )
    .await;
    assert_eq!(read(&app, "sys_user", &user_id).await["roles"], "team_lead");

    let contains = app
        .insert(
            "sys_user_role_contains",
            json!({"role": "team_lead", "contains": "awa_admin"}),
        )
        .await;
    assert_eq!(
        read(&app, "sys_user", &user_id).await["roles"],
        "awa_admin,awa_manager,interaction_agent,team_lead"
    );

    let response = send(
        &app,
        Method::DELETE,
        &format!(
            "/api/now/table/sys_user_role_contains/{}",
            sys_id_of(&contains)
        ),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(read(&app, "sys_user", &user_id).await["roles"], "team_lead");
}

#[tokio::test]
async fn roles_follow_a_role_being_renamed_or_deleted() {
    let app = TestApp::spawn().await;
    let user = app.insert("sys_user", json!({"user_name": "sue"})).await;
    let user_id = sys_id_of(&user);
    let role = app.insert("sys_user_role", json!({"name": "lead"})).await;
    app.insert("sys_user_has_role", json!({"user": "sue", "role": "lead"}))
        .await;
    app.insert(
        "sys_user_has_role",
        json!({"user": "sue", "role": "awa_agent"}),
    )
    .await;
    assert_eq!(
        read(&app, "sys_user", &user_id).await["roles"],
        "awa_agent,lead"
    );

    let path = format!("/api/now/table/sys_user_role/{}", sys_id_of(&role));
    let (status, body) = write(&app, Method::PATCH, &path, json!({"name": "chief"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        read(&app, "sys_user", &user_id).await["roles"],
        "awa_agent,chief"
    );

    let response = send(&app, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(read(&app, "sys_user", &user_id).await["roles"], "awa_agent");
    let grants = list(
        &app,
        &format!("/api/now/table/sys_user_has_role?sysparm_query=user={user_id}"),
    )
    .await;
    assert_eq!(grants.len(), 1);
}

#[tokio::test]
async fn name_is_derived_from_first_and_last_name() {
    let app = TestApp::spawn().await;
    let user = app
        .insert(
            "sys_user",
            json!({"user_name": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(user["name"], "Ada Lovelace");
    let path = format!("/api/now/table/sys_user/{}", sys_id_of(&user));

    let (status, body) = write(&app, Method::PATCH, &path, json!({"last_name": "Byron"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["name"], "Ada Byron");

    let (_, body) = write(&app, Method::PATCH, &path, json!({"first_name": ""})).await;
    assert_eq!(body["result"]["name"], "Byron");
    assert_eq!(body["result"]["first_name"], "");

    let (_, body) = write(&app, Method::PATCH, &path, json!({"last_name": null})).await;
    assert_eq!(body["result"]["name"], "");
    assert_eq!(read(&app, "sys_user", &sys_id_of(&user)).await["name"], "");
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn badly_typed_values_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    for (table, body, field) in [
        (
            "sys_user",
            json!({"user_name": "x", "active": "maybe"}),
            "active",
        ),
        (
            "sys_user",
            json!({"user_name": "x", "email": {"a": 1}}),
            "email",
        ),
        (
            "oauth_entity",
            json!({"name": "x", "access_token_lifespan": "x"}),
            "access_token_lifespan",
        ),
        (
            "oauth_entity",
            json!({"name": "x", "refresh_token_lifespan": 1.5}),
            "refresh_token_lifespan",
        ),
        (
            "interaction",
            json!({"opened_at": "yesterday"}),
            "opened_at",
        ),
        (
            "interaction",
            json!({"opened_at": "2024-02-30 10:00:00"}),
            "opened_at",
        ),
        (
            "interaction",
            json!({"closed_at": "2024-01-01T10:00:00Z"}),
            "closed_at",
        ),
        (
            "interaction_json_blob",
            json!({"value": "{not json"}),
            "value",
        ),
    ] {
        let response = send(
            &app,
            Method::POST,
            &format!("/api/now/table/{table}"),
            Some(body.clone()),
        )
        .await;
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
        let detail = detail.as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("'{field}'")),
            "{table} {body}: {detail}"
        );
        // Nothing was written (the first admin was created by "system").
        let created = list(
            &app,
            &format!("/api/now/table/{table}?sysparm_query=sys_created_by=admin"),
        )
        .await;
        assert_eq!(created, Vec::<Value>::new(), "{table}");
    }

    // An update with a bad value is refused and changes nothing.
    let queue = app.insert("awa_queue", json!({"name": "q"})).await;
    let path = format!("/api/now/table/awa_queue/{}", sys_id_of(&queue));
    let response = send(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"name": "renamed", "active": "perhaps"})),
    )
    .await;
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
    assert!(detail.as_str().unwrap().contains("'active'"), "{detail}");
    assert_eq!(read(&app, "awa_queue", &sys_id_of(&queue)).await, queue);
}

#[tokio::test]
async fn well_typed_values_are_accepted_in_their_usual_spellings() {
    let app = TestApp::spawn().await;
    let queue = app
        .insert("awa_queue", json!({"name": "q", "active": false}))
        .await;
    assert_eq!(queue["active"], "false");
    let queue = app
        .insert("awa_queue", json!({"name": "q", "active": "FALSE"}))
        .await;
    assert_eq!(queue["active"], "false");
    let queue = app
        .insert("awa_queue", json!({"name": "q", "active": "0"}))
        .await;
    assert_eq!(queue["active"], "false");
    let entity = app
        .insert(
            "oauth_entity",
            json!({"name": "e", "access_token_lifespan": 3600, "refresh_token_lifespan": "7200"}),
        )
        .await;
    assert_eq!(entity["access_token_lifespan"], "3600");
    assert_eq!(entity["refresh_token_lifespan"], "7200");
    let interaction = app
        .insert("interaction", json!({"opened_at": "2024-02-29 23:59:59"}))
        .await;
    assert_eq!(interaction["opened_at"], "2024-02-29 23:59:59");
    let blob = app
        .insert("interaction_json_blob", json!({"value": {"a": [1, 2]}}))
        .await;
    assert_eq!(blob["value"], "{\"a\":[1,2]}");
}

#[tokio::test]
async fn integer_and_boolean_fields_can_be_emptied() {
    // Each statement's first run empties the field: on PostgreSQL a prepared statement keeps
    // the parameter types it was first run with.
    let app = TestApp::spawn().await;
    let entity = app
        .insert(
            "oauth_entity",
            json!({"name": "e", "client_id": "e", "access_token_lifespan": ""}),
        )
        .await;
    assert_eq!(entity["access_token_lifespan"], "");
    let queue = app
        .insert("awa_queue", json!({"name": "q", "active": ""}))
        .await;
    assert_eq!(queue["active"], "");
    let entity = app
        .insert("oauth_entity", json!({"name": "f", "client_id": "f"}))
        .await;
    assert_eq!(entity["access_token_lifespan"], "1800");
    let path = format!("/api/now/table/oauth_entity/{}", sys_id_of(&entity));
    let response = app
        .admin(Method::PATCH, &path)
        .json(&json!({"refresh_token_lifespan": ""}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["refresh_token_lifespan"], "");
    assert_eq!(body["result"]["access_token_lifespan"], "1800");
}

#[tokio::test]
async fn unique_violations_are_400_not_500() {
    let app = TestApp::spawn().await;
    let first = app.insert("sys_user", json!({"user_name": "ada"})).await;
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/sys_user",
        Some(json!({"user_name": "ada", "first_name": "Other"})),
    )
    .await;
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
    assert!(detail.as_str().unwrap().contains("user_name"), "{detail}");

    // Renaming another user onto a taken name is refused the same way.
    let second = app.insert("sys_user", json!({"user_name": "bob"})).await;
    let response = send(
        &app,
        Method::PATCH,
        &format!("/api/now/table/sys_user/{}", sys_id_of(&second)),
        Some(json!({"user_name": "ada"})),
    )
    .await;
    let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
    assert!(detail.as_str().unwrap().contains("user_name"), "{detail}");
    assert_eq!(
        read(&app, "sys_user", &sys_id_of(&second)).await["user_name"],
        "bob"
    );

    // The same grant twice.
    app.insert(
        "sys_user_has_role",
        json!({"user": sys_id_of(&first), "role": "awa_agent"}),
    )
    .await;
    let response = send(
        &app,
        Method::POST,
        "/api/now/table/sys_user_has_role",
        Some(json!({"user": sys_id_of(&first), "role": "awa_agent"})),
    )
    .await;
    assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;

    let users = list(&app, "/api/now/table/sys_user?sysparm_query=user_name=ada").await;
    assert_eq!(
        users.iter().map(sys_id_of).collect::<Vec<_>>(),
        [sys_id_of(&first)]
    );
}

// ---------------------------------------------------------------------------------------------
// Record rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn interactions_are_numbered_ims_and_seven_digits_in_order() {
    let app = TestApp::spawn().await;
    let mut numbers = Vec::new();
    for n in 0..3 {
        let interaction = app
            .insert(
                "interaction",
                json!({"short_description": format!("i{n}"), "number": "IMS9999999"}),
            )
            .await;
        assert_eq!(interaction["state"], "new");
        assert!(
            is_date_time(interaction["opened_at"].as_str().unwrap()),
            "{interaction}"
        );
        numbers.push(interaction["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers, ["IMS0000001", "IMS0000002", "IMS0000003"]);

    // Numbers are never reused, even after a delete.
    let last = list(
        &app,
        "/api/now/table/interaction?sysparm_query=number=IMS0000003",
    )
    .await;
    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/now/table/interaction/{}", sys_id_of(&last[0])),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let next = app.insert("interaction", json!({})).await;
    assert_eq!(next["number"], "IMS0000004");
}

#[tokio::test]
async fn concurrent_interaction_inserts_get_distinct_consecutive_numbers() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let request = app
            .admin(Method::POST, "/api/now/table/interaction")
            .json(&json!({"short_description": format!("c{n}")}))
            .send();
        tasks.push(tokio::spawn(async move {
            json_of(request.await.unwrap()).await
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        numbers.push(body["result"]["number"].as_str().unwrap().to_owned());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|n| format!("IMS{n:07}")).collect();
    assert_eq!(numbers, expected);
}

#[tokio::test]
async fn concurrent_inserts_of_one_user_name_create_exactly_one_user() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let request = app
            .admin(Method::POST, "/api/now/table/sys_user")
            .json(&json!({"user_name": "dup"}))
            .send();
        tasks.push(tokio::spawn(async move {
            json_of(request.await.unwrap()).await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status != StatusCode::CREATED {
            assert_eq!(body["error"]["message"], "Operation Failed", "{body}");
        }
        statuses.push(status.as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 400, 400, 400, 400, 400, 400, 400, 400, 400]);
    let users = list(&app, "/api/now/table/sys_user?sysparm_query=user_name=dup").await;
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn the_interaction_number_is_read_only() {
    let app = TestApp::spawn().await;
    let interaction = app
        .insert("interaction", json!({"short_description": "x"}))
        .await;
    let path = format!("/api/now/table/interaction/{}", sys_id_of(&interaction));
    for method in [Method::PUT, Method::PATCH] {
        let (status, body) = write(
            &app,
            method,
            &path,
            json!({"number": "IMS0000999", "short_description": "y"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["number"], "IMS0000001");
        assert_eq!(body["result"]["short_description"], "y");
    }
    assert_eq!(
        read(&app, "interaction", &sys_id_of(&interaction)).await["number"],
        "IMS0000001"
    );
}

/// An interaction with a conversation; returns the conversation's sys_id.
async fn conversation(app: &TestApp) -> String {
    let interaction = app.insert("interaction", json!({"type": "chat"})).await;
    let conversation = app
        .insert(
            "sys_cs_conversation",
            json!({"interaction": sys_id_of(&interaction)}),
        )
        .await;
    assert_eq!(conversation["state"], "open");
    sys_id_of(&conversation)
}

#[tokio::test]
async fn an_observer_must_hold_awa_manager() {
    let app = TestApp::spawn().await;
    let conv = conversation(&app).await;
    let agent = app
        .user("agent", "agent-password", &["interaction_agent"])
        .await;
    let manager = app
        .user("manager", "manager-password", &["awa_manager"])
        .await;
    let director = app
        .user("director", "director-password", &["awa_admin"])
        .await;

    let response = send(
        &app,
        Method::POST,
        "/api/now/table/sys_cs_conversation_member",
        Some(json!({"conversation": conv, "member": agent, "member_type": "observer"})),
    )
    .await;
    let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert!(detail.as_str().unwrap().contains("awa_manager"), "{detail}");
    assert_eq!(
        list(&app, "/api/now/table/sys_cs_conversation_member")
            .await
            .len(),
        0
    );

    for observer in [&manager, &director] {
        let member = app
            .insert(
                "sys_cs_conversation_member",
                json!({"conversation": conv, "member": observer, "member_type": "observer"}),
            )
            .await;
        assert_eq!(member["member_type"], "observer");
        assert_eq!(member["active"], "true");
    }
    // Any user may be a public fulfiller.
    app.insert(
        "sys_cs_conversation_member",
        json!({"conversation": conv, "member": agent, "member_type": "public_fulfiller"}),
    )
    .await;
    assert_eq!(
        list(&app, "/api/now/table/sys_cs_conversation_member")
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn the_observer_rule_holds_on_update_too() {
    let app = TestApp::spawn().await;
    let conv = conversation(&app).await;
    let agent = app
        .user("agent", "agent-password", &["interaction_agent"])
        .await;
    let member = app
        .insert(
            "sys_cs_conversation_member",
            json!({"conversation": conv, "member": agent, "member_type": "public_fulfiller"}),
        )
        .await;
    let response = send(
        &app,
        Method::PATCH,
        &format!(
            "/api/now/table/sys_cs_conversation_member/{}",
            sys_id_of(&member)
        ),
        Some(json!({"member_type": "observer"})),
    )
    .await;
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert_eq!(
        read(&app, "sys_cs_conversation_member", &sys_id_of(&member)).await,
        member
    );
}

#[tokio::test]
async fn deleting_a_user_deletes_its_role_grants() {
    let app = TestApp::spawn().await;
    let doomed = app
        .user(
            "doomed",
            "doomed-password",
            &["awa_agent", "interaction_agent"],
        )
        .await;
    let kept = app.user("kept", "kept-password", &["awa_agent"]).await;
    let grants = |user: &str| format!("/api/now/table/sys_user_has_role?sysparm_query=user={user}");
    assert_eq!(list(&app, &grants(&doomed)).await.len(), 2);

    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/now/table/sys_user/{doomed}"),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(list(&app, &grants(&doomed)).await, Vec::<Value>::new());
    assert_eq!(list(&app, &grants(&kept)).await.len(), 1);
    assert_eq!(read(&app, "sys_user", &kept).await["roles"], "awa_agent");
    // The roles themselves stay.
    let roles = list(
        &app,
        "/api/now/table/sys_user_role?sysparm_query=nameINawa_agent,interaction_agent",
    )
    .await;
    assert_eq!(roles.len(), 2);
}

#[tokio::test]
async fn deleting_a_queue_clears_the_interactions_that_used_it() {
    let app = TestApp::spawn().await;
    let ids = queues(&app, 2).await;
    let on_first = app.insert("interaction", json!({"queue": ids[0]})).await;
    let on_second = app.insert("interaction", json!({"queue": ids[1]})).await;
    assert_eq!(on_first["queue"]["value"], ids[0].as_str());

    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/now/table/awa_queue/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = read(&app, "interaction", &sys_id_of(&on_first)).await;
    assert_eq!(cleared["queue"], "");
    assert_eq!(cleared["number"], on_first["number"]);
    let untouched = read(&app, "interaction", &sys_id_of(&on_second)).await;
    assert_eq!(untouched["queue"]["value"], ids[1].as_str());
}

// ---------------------------------------------------------------------------------------------
// sysparm_fields and paging
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sysparm_fields_selects_fields_and_ignores_unknown_ones() {
    let app = TestApp::spawn().await;
    let user = app
        .insert("sys_user", json!({"user_name": "ada", "email": "a@x.org"}))
        .await;
    let id = sys_id_of(&user);
    let fields = "sysparm_fields=user_name,%20email,nope,sys_id";

    let records = list(&app, &format!("/api/now/table/sys_user?{fields}")).await;
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| sorted_keys(r) == ["email", "sys_id", "user_name"]),
        "{records:?}"
    );

    let one = read(&app, "sys_user", &format!("{id}?{fields}")).await;
    assert_eq!(
        one,
        json!({"sys_id": id, "user_name": "ada", "email": "a@x.org"})
    );

    let (status, body) = write(
        &app,
        Method::POST,
        "/api/now/table/awa_queue?sysparm_fields=name",
        json!({"name": "Support"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({"result": {"name": "Support"}}));

    let (_, body) = write(
        &app,
        Method::PATCH,
        &format!("/api/now/table/sys_user/{id}?sysparm_fields=email,sys_mod_count"),
        json!({"email": "b@x.org"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"result": {"email": "b@x.org", "sys_mod_count": "1"}})
    );

    // Only unknown fields: records with no fields at all.
    let records = list(&app, "/api/now/table/sys_user?sysparm_fields=nope").await;
    assert_eq!(records, [json!({}), json!({})]);
}

#[tokio::test]
async fn limit_and_offset_page_through_the_list_with_a_total_count() {
    let app = TestApp::spawn().await;
    queues(&app, 5).await;
    let page = |limit: u64, offset: u64| {
        format!(
            "/api/now/table/awa_queue?sysparm_query=ORDERBYname&sysparm_limit={limit}&sysparm_offset={offset}"
        )
    };
    for (limit, offset, want) in [
        (2, 0, vec!["q1", "q2"]),
        (2, 2, vec!["q3", "q4"]),
        (2, 4, vec!["q5"]),
        (3, 1, vec!["q2", "q3", "q4"]),
        (10, 0, vec!["q1", "q2", "q3", "q4", "q5"]),
        (2, 5, vec![]),
        (2, 500, vec![]),
    ] {
        let response = send(&app, Method::GET, &page(limit, offset), None).await;
        assert_eq!(
            total_count(&response).as_deref(),
            Some("5"),
            "{limit}/{offset}"
        );
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            column(body["result"].as_array().unwrap(), "name"),
            want,
            "limit {limit} offset {offset}"
        );
    }
    // The count is of what the query matches, not of the table.
    let response = send(
        &app,
        Method::GET,
        "/api/now/table/awa_queue?sysparm_query=nameINq1,q2,q3&sysparm_limit=1",
        None,
    )
    .await;
    assert_eq!(total_count(&response).as_deref(), Some("3"));
}

#[tokio::test]
async fn the_link_header_names_first_prev_next_and_last_pages() {
    const QUERY: &str = "nameSTARTSWITHq^active=true^ORDERBYname";
    let app = TestApp::spawn().await;
    queues(&app, 5).await;
    app.insert("awa_queue", json!({"name": "other"})).await;
    let path = "/api/now/table/awa_queue";
    let response = send(
        &app,
        Method::GET,
        &format!(
            "{path}?sysparm_query={}&sysparm_limit=2&sysparm_offset=2",
            query_encoded(QUERY)
        ),
        None,
    )
    .await;
    let got = links(&response);
    let rels: Vec<&str> = got.iter().map(|(rel, _)| rel.as_str()).collect();
    assert_eq!(rels, ["first", "prev", "next", "last"]);
    for ((rel, url), offset) in got.iter().zip(["0", "0", "4", "4"]) {
        assert!(
            url.starts_with(&format!("{}{path}?", app.base)),
            "{rel}: {url}"
        );
        assert_eq!(
            param(url, "sysparm_offset").as_deref(),
            Some(offset),
            "{rel}: {url}"
        );
        assert_eq!(
            param(url, "sysparm_limit").as_deref(),
            Some("2"),
            "{rel}: {url}"
        );
        assert_eq!(
            param(url, "sysparm_query").as_deref(),
            Some(QUERY),
            "{rel}: {url}"
        );
    }

    // Following `next` as a client would reaches the last page, which has no `next`.
    let next = &got[2].1;
    let response = app
        .client
        .get(next)
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    let last_links = links(&response);
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(column(body["result"].as_array().unwrap(), "name"), ["q5"]);
    let rels: Vec<(&str, Option<String>)> = last_links
        .iter()
        .map(|(rel, url)| (rel.as_str(), param(url, "sysparm_offset")))
        .collect();
    assert_eq!(
        rels,
        [
            ("first", Some("0".to_owned())),
            ("prev", Some("2".to_owned())),
            ("last", Some("4".to_owned()))
        ]
    );

    // The first page has no `prev`; an unaligned offset steps back by one page.
    let response = send(&app, Method::GET, &format!("{path}?sysparm_limit=2"), None).await;
    let rels: Vec<(String, Option<String>)> = links(&response)
        .into_iter()
        .map(|(rel, url)| (rel, param(&url, "sysparm_offset")))
        .collect();
    assert_eq!(
        rels,
        [
            ("first".to_owned(), Some("0".to_owned())),
            ("next".to_owned(), Some("2".to_owned())),
            ("last".to_owned(), Some("4".to_owned()))
        ]
    );
    let response = send(
        &app,
        Method::GET,
        &format!("{path}?sysparm_limit=2&sysparm_offset=3"),
        None,
    )
    .await;
    let prev = links(&response)
        .into_iter()
        .find(|(rel, _)| rel == "prev")
        .map(|(_, url)| param(&url, "sysparm_offset"));
    assert_eq!(prev, Some(Some("1".to_owned())));
}

#[tokio::test]
async fn paging_links_keep_the_version_prefix_and_other_parameters() {
    let app = TestApp::spawn().await;
    queues(&app, 3).await;
    let path = "/api/now/v2/table/awa_queue";
    let response = send(
        &app,
        Method::GET,
        &format!("{path}?sysparm_limit=1&sysparm_fields=name&active=true"),
        None,
    )
    .await;
    let got = links(&response);
    assert_eq!(got.len(), 3, "{got:?}");
    for (rel, url) in &got {
        assert!(
            url.starts_with(&format!("{}{path}?", app.base)),
            "{rel}: {url}"
        );
        assert_eq!(
            param(url, "sysparm_fields").as_deref(),
            Some("name"),
            "{url}"
        );
        assert_eq!(param(url, "active").as_deref(), Some("true"), "{url}");
    }
}

#[tokio::test]
async fn suppress_pagination_header_drops_the_link_header() {
    let app = TestApp::spawn().await;
    queues(&app, 3).await;
    let response = send(
        &app,
        Method::GET,
        "/api/now/table/awa_queue?sysparm_limit=1&sysparm_suppress_pagination_header=true",
        None,
    )
    .await;
    assert!(
        response.headers().get(LINK).is_none(),
        "{:?}",
        response.headers()
    );
    assert_eq!(total_count(&response).as_deref(), Some("3"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"].as_array().unwrap().len(), 1);

    let response = send(
        &app,
        Method::GET,
        "/api/now/table/awa_queue?sysparm_limit=1&sysparm_suppress_pagination_header=false",
        None,
    )
    .await;
    assert!(response.headers().get(LINK).is_some());
}

#[tokio::test]
async fn no_count_drops_the_total_count_and_the_last_link() {
    let app = TestApp::spawn().await;
    queues(&app, 3).await;
    let response = send(
        &app,
        Method::GET,
        "/api/now/table/awa_queue?sysparm_query=ORDERBYname&sysparm_limit=2&sysparm_no_count=true",
        None,
    )
    .await;
    assert!(
        response.headers().get("x-total-count").is_none(),
        "{:?}",
        response.headers()
    );
    let rels: Vec<(String, Option<String>)> = links(&response)
        .into_iter()
        .map(|(rel, url)| (rel, param(&url, "sysparm_offset")))
        .collect();
    assert_eq!(
        rels,
        [
            ("first".to_owned(), Some("0".to_owned())),
            ("next".to_owned(), Some("2".to_owned()))
        ]
    );
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        column(body["result"].as_array().unwrap(), "name"),
        ["q1", "q2"]
    );

    let response = send(&app, Method::GET, "/api/now/table/awa_queue", None).await;
    assert_eq!(total_count(&response).as_deref(), Some("3"));
}

#[tokio::test]
async fn invalid_paging_parameters_are_400() {
    let app = TestApp::spawn().await;
    queues(&app, 1).await;
    for query in [
        "sysparm_limit=0",
        "sysparm_limit=-1",
        "sysparm_limit=ten",
        "sysparm_offset=-5",
        "sysparm_offset=x",
        "sysparm_no_count=perhaps",
        "sysparm_suppress_pagination_header=2",
    ] {
        let response = send(
            &app,
            Method::GET,
            &format!("/api/now/table/awa_queue?{query}"),
            None,
        )
        .await;
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Invalid parameter").await;
        let name = query.split('=').next().unwrap();
        assert!(detail.as_str().unwrap().contains(name), "{query}: {detail}");
    }
}

// ---------------------------------------------------------------------------------------------
// Access
// ---------------------------------------------------------------------------------------------

const AGENT: (&str, &str) = ("agent", "agent-password");

#[tokio::test]
async fn a_non_admin_cannot_insert_update_or_delete() {
    let app = TestApp::spawn().await;
    app.user(
        AGENT.0,
        AGENT.1,
        &["interaction_agent", "interaction_admin"],
    )
    .await;
    let interaction = app
        .insert("interaction", json!({"short_description": "x"}))
        .await;
    let one = format!("/api/now/table/interaction/{}", sys_id_of(&interaction));
    for (method, path, body, verb) in [
        (
            Method::POST,
            "/api/now/table/interaction".to_owned(),
            Some(json!({"short_description": "y"})),
            "Insert",
        ),
        (
            Method::PUT,
            one.clone(),
            Some(json!({"short_description": "y"})),
            "Update",
        ),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"short_description": "y"})),
            "Update",
        ),
        (Method::DELETE, one.clone(), None, "Delete"),
    ] {
        let request = app.as_user(AGENT, method.clone(), &path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let detail = assert_error(
            request.send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "Operation Failed",
        )
        .await;
        assert_eq!(
            detail,
            format!("ACL Exception {verb} Failed due to security constraints"),
            "{method}"
        );
    }
    assert_eq!(
        read(&app, "interaction", &sys_id_of(&interaction)).await,
        interaction
    );
    assert_eq!(list(&app, "/api/now/table/interaction").await.len(), 1);
}

#[tokio::test]
async fn an_agent_reads_interactions_and_users_but_not_grants_or_oauth_entities() {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let interaction = app
        .insert("interaction", json!({"short_description": "x"}))
        .await;
    app.insert("oauth_entity", json!({"name": "e", "client_id": "e"}))
        .await;

    let get_as = |path: String| app.as_user(AGENT, Method::GET, &path).send();
    let (status, body) = json_of(get_as("/api/now/table/interaction".into()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    let (status, body) = json_of(
        get_as(format!(
            "/api/now/table/interaction/{}",
            sys_id_of(&interaction)
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], interaction);

    let (status, body) = json_of(get_as("/api/now/table/sys_user".into()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names = column(body["result"].as_array().unwrap(), "user_name");
    names.sort();
    assert_eq!(names, ["admin", "agent"]);

    for table in ["sys_user_has_role", "oauth_entity"] {
        for path in [
            format!("/api/now/table/{table}"),
            format!("/api/now/table/{table}/{UNKNOWN_ID}"),
        ] {
            let detail = assert_error(
                get_as(path.clone()).await.unwrap(),
                StatusCode::FORBIDDEN,
                "Operation Failed",
            )
            .await;
            assert_eq!(
                detail, "ACL Exception Read Failed due to security constraints",
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn a_user_without_roles_cannot_read_interactions() {
    let app = TestApp::spawn().await;
    app.user("nobody", "nobody-password", &[]).await;
    app.insert("interaction", json!({})).await;
    let who = ("nobody", "nobody-password");
    for table in ["interaction", "awa_queue", "sys_cs_conversation_member"] {
        let response = app
            .as_user(who, Method::GET, &format!("/api/now/table/{table}"))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    }
    let response = app
        .as_user(who, Method::GET, "/api/now/table/sys_user")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Granting a role opens the table at once.
    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": "nobody", "role": "awa_agent"}),
        )
        .await;
    let response = app
        .as_user(who, Method::GET, "/api/now/table/interaction")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 1);

    // Revoking it closes the table at once.
    let response = send(
        &app,
        Method::DELETE,
        &format!("/api/now/table/sys_user_has_role/{}", sys_id_of(&grant)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .as_user(who, Method::GET, "/api/now/table/interaction")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
}

// ---------------------------------------------------------------------------------------------
// Issue 12: numbers kept as sent, Link headers clients can read
// ---------------------------------------------------------------------------------------------

/// Sends a raw body of the given type as admin (so numbers reach the server exactly as written).
async fn send_raw(app: &TestApp, method: Method, path: &str, media: &str, body: &str) -> Response {
    app.admin(method, path)
        .header(reqwest::header::CONTENT_TYPE, media)
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn numbers_sent_to_text_fields_keep_their_digits_in_json_and_xml() {
    let app = TestApp::spawn().await;
    let path = "/api/now/table/interaction";
    for (media, body, stored) in [
        (
            "application/json",
            r#"{"short_description": 12345678901234567890123}"#,
            "12345678901234567890123",
        ),
        (
            "application/json",
            r#"{"short_description": -98765432109876543210}"#,
            "-98765432109876543210",
        ),
        ("application/json", r#"{"short_description": 1.50}"#, "1.50"),
        (
            "application/xml",
            "<request><short_description>12345678901234567890123</short_description></request>",
            "12345678901234567890123",
        ),
    ] {
        let (status, created) =
            json_of(send_raw(&app, Method::POST, path, media, body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {created}");
        let record = read(&app, "interaction", &sys_id_of(&created["result"])).await;
        assert_eq!(record["short_description"], stored, "{media} {body}");
    }
    // Inside a JSON field too.
    let (status, created) = json_of(
        send_raw(
            &app,
            Method::POST,
            "/api/now/table/interaction_json_blob",
            "application/json",
            r#"{"value": {"n": 12345678901234567890123}}"#,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["result"]["value"], r#"{"n":12345678901234567890123}"#,
        "{created}"
    );
}

#[tokio::test]
async fn integers_beyond_64_bits_sent_to_integer_fields_are_400_naming_the_range() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"name": "n", "access_token_lifespan": 12345678901234567890123}"#,
        r#"{"name": "n", "access_token_lifespan": 9223372036854775808}"#,
        r#"{"name": "n", "access_token_lifespan": -9223372036854775809}"#,
        "<request><name>n</name><access_token_lifespan>12345678901234567890123</access_token_lifespan></request>",
    ] {
        let media = match body.starts_with('<') {
            true => "application/xml",
            false => "application/json",
        };
        let response = send_raw(
            &app,
            Method::POST,
            "/api/now/table/oauth_entity",
            media,
            body,
        )
        .await;
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
        let detail = detail.as_str().unwrap_or_default();
        assert!(
            detail.contains("'access_token_lifespan'"),
            "{body}: {detail}"
        );
        assert!(detail.contains("between 1 and "), "{body}: {detail}");
    }
}

/// The bound on a `Link` header (see docs/table-api.md): under python's http.client line limit
/// of 64 KiB, which pysnow (through requests) reads headers with.
const LINK_BOUND: usize = 48 * 1024;

#[tokio::test]
async fn a_link_header_too_long_for_clients_keeps_next_within_the_bound() {
    let app = TestApp::spawn().await;
    let mut ids = queues(&app, 3).await;
    ids.extend((0..997).map(|n| format!("{n:032x}")));
    let query = format!("sys_idIN{}^ORDERBYname", ids.join(","));
    let path = "/api/now/table/awa_queue";
    let response = send(
        &app,
        Method::GET,
        &format!(
            "{path}?sysparm_query={}&sysparm_limit=1",
            query_encoded(&query)
        ),
        None,
    )
    .await;
    let header = response.headers().get(LINK).expect("a Link header").len();
    assert!(header <= LINK_BOUND, "Link is {header} bytes");
    let got = links(&response);
    let next = got
        .iter()
        .find(|(rel, _)| rel == "next")
        .map(|(_, url)| url.clone())
        .unwrap_or_else(|| panic!("no next in {got:?}"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(column(body["result"].as_array().unwrap(), "name"), ["q1"]);

    // `next` is a working page link, as pysnow follows it.
    assert_eq!(
        param(&next, "sysparm_query").as_deref(),
        Some(query.as_str())
    );
    let response = app
        .client
        .get(&next)
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(LINK).unwrap().len() <= LINK_BOUND);
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(column(body["result"].as_array().unwrap(), "name"), ["q2"]);
}

/// An ordinary query's `Link` header, byte for byte.
#[tokio::test]
async fn an_ordinary_link_header_is_exactly_first_prev_next_last() {
    let app = TestApp::spawn().await;
    queues(&app, 3).await;
    let path = "/api/now/table/awa_queue";
    let response = send(
        &app,
        Method::GET,
        &format!("{path}?sysparm_query=active%3Dtrue&sysparm_limit=1&sysparm_offset=1"),
        None,
    )
    .await;
    let page = |offset: u64, rel: &str| {
        format!(
            "<{}{path}?sysparm_query=active%3Dtrue&sysparm_limit=1&sysparm_offset={offset}>;rel=\"{rel}\"",
            app.base
        )
    };
    let expected = [
        page(0, "first"),
        page(0, "prev"),
        page(2, "next"),
        page(2, "last"),
    ]
    .join(",");
    assert_eq!(
        response.headers().get(LINK).unwrap().to_str().unwrap(),
        expected
    );
}
