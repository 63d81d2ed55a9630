//! Conventions that hold for every request: `X-Transaction-ID`, unknown paths and methods, the
//! body size limit, `X-no-response-body`, `X-HTTP-Method-Override`, and version prefixes.

use std::collections::HashSet;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{
    ADMIN, RawResponse, TestApp, assert_error, assert_unreadable_request, basic_authorization,
    chunked, json_of, raw, sys_id_of,
};

const QUEUES: &str = "/api/now/table/awa_queue";
const LIMIT_DETAIL_10MB: &str = "Rejected large REST payload with content-length = 10485761 bytes. Max allowed: 10485760 bytes.";

fn transaction_id(response: &Response) -> String {
    let id = response
        .headers()
        .get("x-transaction-id")
        .unwrap_or_else(|| panic!("no X-Transaction-ID on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "{id}");
    assert!(
        id.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "not lowercase hex: {id}"
    );
    id
}

async fn queue_names(app: &TestApp) -> Vec<String> {
    let (status, body) = json_of(
        app.admin(Method::GET, &format!("{QUEUES}?sysparm_query=ORDERBYname"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_response_has_a_distinct_transaction_id() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "q"})).await;
    let id = sys_id_of(&queue);
    let requests = vec![
        (app.admin(Method::GET, QUEUES), StatusCode::OK),
        (app.admin(Method::GET, QUEUES), StatusCode::OK),
        (
            app.admin(Method::POST, QUEUES).json(&json!({"name": "r"})),
            StatusCode::CREATED,
        ),
        (
            app.admin(Method::DELETE, &format!("{QUEUES}/{id}")),
            StatusCode::NO_CONTENT,
        ),
        (app.anonymous(Method::GET, QUEUES), StatusCode::UNAUTHORIZED),
        (
            app.admin(Method::GET, &format!("{QUEUES}/{id}")),
            StatusCode::NOT_FOUND,
        ),
        (
            app.admin(Method::GET, "/api/now/nothing/here"),
            StatusCode::BAD_REQUEST,
        ),
        (app.admin(Method::GET, "/not/an/api"), StatusCode::NOT_FOUND),
        (
            app.admin(Method::GET, QUEUES).header(ACCEPT, "text/html"),
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            app.admin(Method::PATCH, QUEUES),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            app.admin(Method::POST, QUEUES)
                .header(CONTENT_TYPE, "text/plain")
                .body("x"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    let mut seen = HashSet::new();
    for (request, expected) in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), expected, "{:?}", response.url());
        let id = transaction_id(&response);
        assert!(seen.insert(id.clone()), "transaction id {id} repeated");
    }
}

#[tokio::test]
async fn an_unknown_api_path_is_400_with_a_null_detail() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/now/nothing",
        "/api/now/table",
        "/api/foo/bar",
        "/api",
        "/api/now/v3/table/sys_user",
        "/api/now/table/sys_user/0123456789abcdef0123456789abcdef/extra",
    ] {
        // Authenticated first, as on the platform: an anonymous caller learns nothing.
        let anonymous = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_error(
            anonymous,
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
        )
        .await;
        let wrong = app
            .as_user(("admin", "wrong"), Method::GET, path)
            .send()
            .await
            .unwrap();
        assert_error(wrong, StatusCode::UNAUTHORIZED, "User Not Authenticated").await;
        for response in [app.admin(Method::GET, path).send().await.unwrap()] {
            let (status, body) = json_of(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert_eq!(
                body,
                json!({
                    "error": {
                        "message": "Requested URI does not represent any resource",
                        "detail": null
                    },
                    "status": "failure"
                }),
                "{path}"
            );
            assert!(body["error"]["detail"].is_null());
            assert!(body["error"].get("detail").is_some(), "detail is present");
        }
    }
}

#[tokio::test]
async fn an_unknown_api_path_in_xml_has_an_empty_detail() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::GET, "/api/now/nothing")
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.text().await.unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><error><message>Requested URI does \
         not represent any resource</message><detail/></error><status>failure</status></response>"
    );
}

#[tokio::test]
async fn an_unknown_path_outside_the_api_is_404_with_the_envelope() {
    let app = TestApp::spawn().await;
    for path in ["/", "/nothing", "/apix", "/now/table/sys_user"] {
        let response = app.admin(Method::GET, path).send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json;charset=UTF-8"),
            "{path}"
        );
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["status"], "failure", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["error", "status"]
        );
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_the_envelope() {
    let app = TestApp::spawn().await;
    let user = app.user("someone", "pw", &[]).await;
    let cases = [
        (Method::POST, format!("/api/now/table/sys_user/{user}")),
        (Method::PATCH, "/api/now/table/sys_user".to_owned()),
        (Method::PUT, "/api/now/table/sys_user".to_owned()),
        (Method::DELETE, "/api/now/table/sys_user".to_owned()),
        (Method::PATCH, "/api/now/v2/table/sys_user".to_owned()),
    ];
    for (method, path) in cases {
        let response = app
            .admin(method.clone(), &path)
            .json(&json!({"first_name": "changed"}))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {body}"
        );
        assert_eq!(body["status"], "failure", "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    // Nothing changed.
    let (_, body) = json_of(
        app.admin(Method::GET, &format!("/api/now/table/sys_user/{user}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["result"]["first_name"], "someone");
}

/// A Content-Length POST of `size` bytes of JSON-looking padding, over a raw socket.
async fn post_sized(app: &TestApp, size: usize) -> RawResponse {
    let auth = basic_authorization(ADMIN);
    let length = size.to_string();
    raw(
        app,
        "POST",
        QUEUES,
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Content-Length", length.as_str()),
        ],
        padded_json(size),
    )
    .await
}

/// A valid JSON object `{"name":"x", ...}` of exactly `size` bytes (at least 14).
fn padded_json(size: usize) -> Vec<u8> {
    let head = br#"{"name":"x"}"#;
    assert!(size >= head.len());
    let mut body = head[..head.len() - 1].to_vec();
    body.resize(size - 1, b' ');
    body.push(b'}');
    assert_eq!(body.len(), size);
    body
}

fn assert_too_large(response: &RawResponse) -> String {
    assert_eq!(response.status, 400, "{}", response.text());
    let body = response.json();
    assert_eq!(body["status"], "failure", "{body}");
    assert_eq!(
        body["error"]["message"], "Exception while reading request",
        "{body}"
    );
    body["error"]["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_body_over_10_mb_with_content_length_is_refused() {
    let app = TestApp::spawn().await;
    let response = post_sized(&app, 10 * 1024 * 1024 + 1).await;
    let detail = assert_too_large(&response);
    assert_eq!(detail, LIMIT_DETAIL_10MB);
    assert!(response.header("x-transaction-id").is_some());
    assert!(queue_names(&app).await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_accepted() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 1024).await;
    let response = post_sized(&app, 1024).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let response = post_sized(&app, 1025).await;
    assert_eq!(
        assert_too_large(&response),
        "Rejected large REST payload with content-length = 1025 bytes. Max allowed: 1024 bytes."
    );
    assert_eq!(queue_names(&app).await, ["x"]);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 1024).await;
    let auth = basic_authorization(ADMIN);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Transfer-Encoding", "chunked"),
    ];
    // Under the limit, a chunked body is read like any other.
    let small = padded_json(600);
    let response = raw(
        &app,
        "POST",
        QUEUES,
        &headers,
        chunked(&[&small[..300], &small[300..]]),
    )
    .await;
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["result"]["name"], "x");

    // Over it, with no length announced, the body is cut off at the limit.
    let big = padded_json(3000);
    let parts: Vec<&[u8]> = big.chunks(500).collect();
    let response = raw(&app, "POST", QUEUES, &headers, chunked(&parts)).await;
    let detail = assert_too_large(&response);
    assert!(detail.contains("Max allowed: 1024 bytes."), "{detail}");
    assert!(
        detail.starts_with("Rejected large REST payload with content-length = "),
        "{detail}"
    );
    assert_eq!(queue_names(&app).await, ["x"], "only the small one");
}

#[tokio::test]
async fn no_response_body_on_post_answers_201_empty_and_creates() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::POST, QUEUES)
        .header("X-no-response-body", "true")
        .json(&json!({"name": "silent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    transaction_id(&response);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(queue_names(&app).await, ["silent"]);
}

#[tokio::test]
async fn no_response_body_on_put_and_patch_answers_200_empty_and_updates() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "before"})).await;
    let path = format!("{QUEUES}/{}", sys_id_of(&queue));
    for (method, name) in [(Method::PUT, "put"), (Method::PATCH, "patched")] {
        let response = app
            .admin(method.clone(), &path)
            .header("X-No-Response-Body", "TRUE")
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        assert_eq!(response.text().await.unwrap(), "", "{method}");
        assert_eq!(queue_names(&app).await, [name]);
    }
}

#[tokio::test]
async fn no_response_body_is_not_honoured_on_get_or_on_errors() {
    let app = TestApp::spawn().await;
    app.insert("awa_queue", json!({"name": "visible"})).await;
    let (status, body) = json_of(
        app.admin(Method::GET, QUEUES)
            .header("X-no-response-body", "true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"][0]["name"], "visible");
    // An error keeps its envelope: the client needs to know what went wrong.
    let response = app
        .admin(Method::POST, QUEUES)
        .header("X-no-response-body", "true")
        .header(CONTENT_TYPE, "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_unreadable_request(response).await;
    // Only "true" suppresses.
    let response = app
        .admin(Method::POST, QUEUES)
        .header("X-no-response-body", "false")
        .json(&json!({"name": "loud"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["result"]["name"], "loud");
}

#[tokio::test]
async fn method_override_patch_on_a_post_updates() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "before"})).await;
    let path = format!("{QUEUES}/{}", sys_id_of(&queue));
    for header in ["X-HTTP-Method-Override", "x-http-method-override"] {
        let (status, body) = json_of(
            app.admin(Method::POST, &path)
                .header(header, "PATCH")
                .json(&json!({"name": header}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["name"], header);
    }
    // A lowercase method name works too.
    let response = app
        .admin(Method::POST, &path)
        .header("X-HTTP-Method-Override", "put")
        .json(&json!({"name": "put"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(queue_names(&app).await, ["put"]);
}

#[tokio::test]
async fn method_override_delete_on_a_post_deletes() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "doomed"})).await;
    let path = format!("{QUEUES}/{}", sys_id_of(&queue));
    let response = app
        .admin(Method::POST, &path)
        .header("X-HTTP-Method-Override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.admin(Method::GET, &path).send().await.unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
}

#[tokio::test]
async fn method_override_on_a_get_is_ignored() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "kept"})).await;
    let path = format!("{QUEUES}/{}", sys_id_of(&queue));
    let (status, body) = json_of(
        app.admin(Method::GET, &path)
            .header("X-HTTP-Method-Override", "DELETE")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["name"], "kept");
    assert_eq!(queue_names(&app).await, ["kept"]);
}

#[tokio::test]
async fn an_unknown_override_leaves_the_post_alone() {
    // A method name that is not one leaves the request a POST, which a record path refuses.
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "kept"})).await;
    let path = format!("{QUEUES}/{}", sys_id_of(&queue));
    let response = app
        .admin(Method::POST, &path)
        .header("X-HTTP-Method-Override", "NOT A METHOD")
        .json(&json!({"name": "changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(queue_names(&app).await, ["kept"]);
}

#[tokio::test]
async fn version_prefixes_route_the_same_as_the_unversioned_api() {
    let app = TestApp::spawn().await;
    let queue = app.insert("awa_queue", json!({"name": "shared"})).await;
    let id = sys_id_of(&queue);
    let mut reads = Vec::new();
    for prefix in ["/api/now", "/api/now/v1", "/api/now/v2"] {
        let (status, body) = json_of(
            app.admin(Method::GET, &format!("{prefix}/table/awa_queue/{id}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {body}");
        reads.push(body["result"].clone());
        let (status, body) = json_of(
            app.admin(Method::GET, &format!("{prefix}/table/awa_queue"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {body}");
        assert_eq!(body["result"].as_array().unwrap().len(), 1, "{prefix}");
    }
    assert_eq!(reads[0], reads[1]);
    assert_eq!(reads[0], reads[2]);

    // Writes go through every prefix too.
    for (prefix, name) in [("/api/now/v1", "one"), ("/api/now/v2", "two")] {
        let response = app
            .admin(Method::POST, &format!("{prefix}/table/awa_queue"))
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{prefix}");
        let response = app
            .admin(Method::PATCH, &format!("{prefix}/table/awa_queue/{id}"))
            .json(&json!({"active": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{prefix}");
    }
    assert_eq!(queue_names(&app).await, ["one", "shared", "two"]);
}

#[tokio::test]
async fn an_empty_list_is_404_on_v1_and_an_empty_array_otherwise() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::GET, "/api/now/v1/table/awa_queue")
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "No Record found").await;
    for prefix in ["/api/now", "/api/now/v2"] {
        let (status, body) = json_of(
            app.admin(Method::GET, &format!("{prefix}/table/awa_queue"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{prefix}");
        assert_eq!(body, json!({"result": []}), "{prefix}");
    }
}

#[tokio::test]
async fn json_responses_carry_the_platform_content_type() {
    let app = TestApp::spawn().await;
    for (response, status) in [
        (
            app.admin(Method::GET, QUEUES).send().await.unwrap(),
            StatusCode::OK,
        ),
        (
            app.anonymous(Method::GET, QUEUES).send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            app.admin(Method::GET, "/api/now/nothing")
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(response.status(), status);
        assert_eq!(
            response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/json;charset=UTF-8")
        );
    }
}
