//! Inbound rate limits, as the platform's rate limit rules: N requests per user per window to an
//! API; every response to a covered request carries `X-RateLimit-Limit`, `X-RateLimit-Reset`
//! and `X-RateLimit-Rule`; a request over the limit gets 429, `Retry-After` and the envelope.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::json;
use switchboard::auth::rate_limit::{Api, RateLimitSpec, RateLimits};
use switchboard::state::Config;

use crate::binary::Binary;
use crate::helpers::{ADMIN, TestApp, TestDb, client, header, json_of};

const USERS: &str = "/api/now/table/sys_user";
const ANN: (&str, &str) = ("ann", "ann-password");

fn rules(specs: &[&str]) -> impl FnOnce(&mut Config) {
    let specs: Vec<RateLimitSpec> = specs.iter().map(|s| s.parse().unwrap()).collect();
    move |config| config.rate_limits = RateLimits::from_specs(&specs)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn number(response: &Response, name: &str) -> u64 {
    header(response, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} as a number: {:?}", response.headers()))
}

/// Asserts a response carries the rule's headers: limit, the end of the current window of
/// `period` seconds (clock-aligned), and the API's rule id. Returns the reset time.
fn assert_rule_headers(response: &Response, limit: u64, period: u64, api: Api) -> u64 {
    assert_eq!(number(response, "x-ratelimit-limit"), limit);
    let reset = number(response, "x-ratelimit-reset");
    assert_eq!(reset % period, 0, "the window is aligned to the clock");
    let now = now();
    assert!(
        reset > now - 2 && reset <= now + period,
        "reset {reset}, now {now}"
    );
    assert_eq!(
        header(response, "x-ratelimit-rule"),
        Some(api.rule_id().as_str())
    );
    reset
}

/// Asserts the platform's 429: headers, `Retry-After` up to the reset, the envelope's detail.
async fn assert_limited(response: Response, limit: u64, period: u64, api: Api, detail: &str) {
    let reset = assert_rule_headers(&response, limit, period, api);
    let retry = number(&response, RETRY_AFTER.as_str());
    let now = now();
    assert!(
        retry >= 1 && retry <= reset.saturating_sub(now) + 1,
        "Retry-After {retry}, reset in {}",
        reset.saturating_sub(now)
    );
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(
        body,
        json!({"error": {"message": "Rate limit exceeded", "detail": detail}, "status": "failure"})
    );
}

fn no_rule_headers(response: &Response) -> bool {
    ["x-ratelimit-limit", "x-ratelimit-reset", "x-ratelimit-rule"]
        .iter()
        .all(|h| header(response, *h).is_none())
}

async fn get(app: &TestApp, who: (&str, &str), path: &str) -> Response {
    app.as_user(who, Method::GET, path).send().await.unwrap()
}

#[tokio::test]
async fn a_user_over_the_limit_gets_the_platforms_429_and_others_do_not() {
    let app = TestApp::spawn_with(rules(&["table=3/hour"])).await;
    app.user(ANN.0, ANN.1, &[]).await;
    for _ in 0..3 {
        let response = get(&app, ANN, USERS).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_rule_headers(&response, 3, 3600, Api::Table);
        assert!(header(&response, "retry-after").is_none());
    }
    // The version prefixes are one API: the fourth request is refused on any of them.
    let detail = "Rate limit of 3 requests per hour for Table API exceeded";
    for path in [
        USERS,
        "/api/now/v1/table/sys_user",
        "/api/now/v2/table/sys_user",
    ] {
        assert_limited(get(&app, ANN, path).await, 3, 3600, Api::Table, detail).await;
    }
    // Before any check of the request itself.
    let write = app
        .as_user(ANN, Method::POST, "/api/now/table/no_such_table")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_limited(write, 3, 3600, Api::Table, detail).await;
    // In XML when XML is asked for.
    let xml = app
        .as_user(ANN, Method::GET, USERS)
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_rule_headers(&xml, 3, 3600, Api::Table);
    assert!(header(&xml, "retry-after").is_some());
    let text = xml.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "<error><message>Rate limit exceeded</message><detail>{detail}</detail></error>"
        )),
        "{text}"
    );
    // Another user has a count of its own.
    let admin = get(&app, ADMIN, USERS).await;
    assert_eq!(admin.status(), StatusCode::OK);
    assert_rule_headers(&admin, 3, 3600, Api::Table);
}

#[tokio::test]
async fn basic_and_bearer_requests_of_one_user_share_a_count() {
    let app = TestApp::spawn_with(rules(&["table=2"])).await;
    app.user(ANN.0, ANN.1, &[]).await;
    app.insert(
        "oauth_entity",
        json!({"name": "CCaaS", "client_id": "ccaas", "client_secret": "s3cret"}),
    )
    .await;
    let granted = app
        .anonymous(Method::POST, "/oauth_token.do")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("grant_type=password&client_id=ccaas&client_secret=s3cret&username=ann&password=ann-password")
        .send()
        .await
        .unwrap();
    let (status, tokens) = json_of(granted).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let bearer = |path: &str| {
        app.anonymous(Method::GET, path)
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
    };
    assert_eq!(bearer(USERS).await.unwrap().status(), StatusCode::OK);
    assert_eq!(get(&app, ANN, USERS).await.status(), StatusCode::OK);
    assert_eq!(
        bearer(USERS).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_count_starts_again_when_the_window_ends() {
    let app = TestApp::spawn_with(rules(&["table=2/2s"])).await;
    // Start just after a window began, so that the two requests fall in one window.
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into_window = Duration::from_millis((since.as_millis() % 2000) as u64);
    tokio::time::sleep(Duration::from_secs(2) - into_window + Duration::from_millis(50)).await;
    for _ in 0..2 {
        assert_eq!(get(&app, ADMIN, USERS).await.status(), StatusCode::OK);
    }
    let limited = get(&app, ADMIN, USERS).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let reset = number(&limited, "x-ratelimit-reset");
    let retry = number(&limited, RETRY_AFTER.as_str());
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_limited(
        limited,
        2,
        2,
        Api::Table,
        "Rate limit of 2 requests per 2 seconds for Table API exceeded",
    )
    .await;
    // Wait for the reset the headers announced.
    while now() < reset {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = get(&app, ADMIN, USERS).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(number(&again, "x-ratelimit-reset"), reset + 2);
}

/// One request allowed per API; the second is refused, naming the API.
#[tokio::test]
async fn every_api_can_be_limited_and_counts_apart() {
    let app = TestApp::spawn_with(rules(&["all=1"])).await;
    app.insert(
        "oauth_entity",
        json!({"name": "CCaaS", "client_id": "ccaas", "client_secret": "s3cret", "user": "admin"}),
    )
    .await;
    // (the API, a request to it, what the first answers whatever the limit)
    type Make<'a> = Box<dyn Fn() -> RequestBuilder + 'a>;
    let cases: Vec<(Api, Make, StatusCode)> = vec![
        (
            Api::Interaction,
            Box::new(|| {
                app.admin(
                    Method::POST,
                    "/api/now/interaction/0123456789abcdef0123456789abcdef/close",
                )
            }),
            StatusCode::NOT_FOUND,
        ),
        (
            Api::ConversationMember,
            Box::new(|| {
                app.admin(Method::POST, "/api/now/v1/conversation/member/u/drop")
                    .json(&json!({}))
            }),
            StatusCode::BAD_REQUEST,
        ),
        (
            Api::AgentMapping,
            Box::new(|| {
                app.admin(
                    Method::PUT,
                    "/api/sn_ct_ctr_it_core/agent_mapping/agent/x/inboundId/y",
                )
                .json(&json!({}))
            }),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (api, make, first) in cases {
        let response = make().send().await.unwrap();
        assert_eq!(response.status(), first, "{api:?}");
        assert_rule_headers(&response, 1, 3600, api);
        let detail = format!(
            "Rate limit of 1 requests per hour for {} exceeded",
            api.title()
        );
        assert_limited(make().send().await.unwrap(), 1, 3600, api, &detail).await;
    }
    // The Table API's count is its own: the insert above was admin's only Table API request.
    let response = get(&app, ADMIN, USERS).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // OAuth: counted per application, answered in the OAuth shape.
    let token = || {
        app.anonymous(Method::POST, "/oauth_token.do")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=ccaas&client_secret=s3cret")
            .send()
    };
    let granted = token().await.unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    assert_rule_headers(&granted, 1, 3600, Api::OAuth);
    let refused = token().await.unwrap();
    assert_rule_headers(&refused, 1, 3600, Api::OAuth);
    assert!(number(&refused, RETRY_AFTER.as_str()) >= 1);
    let (status, body) = json_of(refused).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "Rate limit of 1 requests per hour for OAuth API exceeded"
        })
    );
}

#[tokio::test]
async fn requests_no_rule_covers_carry_no_rate_limit_headers() {
    let app = TestApp::spawn_with(rules(&["interaction=1"])).await;
    for _ in 0..3 {
        let response = get(&app, ADMIN, USERS).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(no_rule_headers(&response), "{:?}", response.headers());
    }
    // Unauthenticated requests are no user's: not counted, no headers.
    let response = app
        .anonymous(Method::POST, "/api/now/interaction")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(no_rule_headers(&response));
    // Nor are paths that name no API.
    let response = get(&app, ADMIN, "/api/now/nothing").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(no_rule_headers(&response));
    // Without any rule, nothing is limited.
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        let response = get(&app, ADMIN, USERS).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(no_rule_headers(&response));
    }
}

#[tokio::test]
async fn the_binary_takes_rules_from_flags_and_the_environment() {
    let db = TestDb::new();
    let server = Binary::serve(
        &db.url,
        &["--rate-limit", "table=1/hour"],
        &[
            ("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1),
            ("SWITCHBOARD_RATE_LIMITS", "table=5,interaction=9/minute"),
        ],
    );
    let http = client();
    let get = || {
        http.get(server.url(USERS))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
    };
    // The flag wins over the environment.
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    assert_eq!(get().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    server.stop();
    let server = Binary::serve(
        &db.url,
        &[],
        &[
            ("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1),
            ("SWITCHBOARD_RATE_LIMITS", "table=5,interaction=9/minute"),
        ],
    );
    let response = http
        .post(server.url("/api/now/interaction"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(number(&response, "x-ratelimit-limit"), 9);
    assert_eq!(number(&response, "x-ratelimit-reset") % 60, 0);
    server.stop();
}

#[test]
fn a_malformed_rule_is_refused_at_start() {
    for (rule, says) in [
        ("tables=5", "unknown API \"tables\""),
        ("table=many", "whole number"),
        ("table=5/fortnight", "unknown period"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--rate-limit", rule])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{rule}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{rule}: {stderr}");
    }
}

/// A batch counts against the Batch API's rule, and each of its calls against the rule of the
/// API it calls: the third table read of a batch under `table=2` is a 429 in its place.
#[tokio::test]
async fn a_batch_and_each_of_its_calls_count_against_their_own_rules() {
    let app = TestApp::spawn_with(rules(&["table=2", "batch=1"])).await;
    let read = |id: &str| json!({"id": id, "method": "GET", "url": "/api/now/table/sys_user?sysparm_limit=1"});
    let batch = json!({"rest_requests": [read("1"), read("2"), read("3")]});
    let response = app
        .admin(Method::POST, "/api/now/batch")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_rule_headers(&response, 1, 3600, Api::Batch);
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<u64> = body["serviced_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    let again = app
        .admin(Method::POST, "/api/now/batch")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_limited(
        again,
        1,
        3600,
        Api::Batch,
        "Rate limit of 1 requests per hour for Batch API exceeded",
    )
    .await;
}
