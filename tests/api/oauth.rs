//! OAuth 2.0: registering applications (`oauth_entity`), the token endpoint
//! (`/oauth_token.do`: password, refresh_token and client_credentials grants), revocation
//! (`/oauth_revoke_token.do`), `Bearer` authentication on every API with the same role checks
//! as Basic, expiry, tokens dying with their user's password or activity, and tokens kept only
//! as hashes (`oauth_credential`).

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    ADMIN, TestApp, assert_content_type, assert_error, assert_unauthenticated, basic_credentials,
    fetch_records, form_body, header, json_of, phone_connector, sorted_keys, sys_id_of, text_of,
    user_sys_id,
};

const TOKEN: &str = "/oauth_token.do";
const REVOKE: &str = "/oauth_revoke_token.do";
const ENTITIES: &str = "/api/now/table/oauth_entity";
const CREDENTIALS: &str = "/api/now/table/oauth_credential";
const USERS: &str = "/api/now/table/sys_user";
const GRANTS: &str = "/api/now/table/sys_user_has_role";
const INTERACTIONS: &str = "/api/now/table/interaction";
const QUEUES: &str = "/api/now/table/awa_queue";
const AGENT: (&str, &str) = ("agent", "agent-password");
/// The keys of a token response without a refresh token (refresh and client_credentials grants).
const ACCESS_ONLY: [&str; 4] = ["access_token", "expires_in", "scope", "token_type"];

/// A registered OAuth application.
struct Client {
    id: String,
    secret: String,
    sys_id: String,
}

/// The tokens of a password grant.
struct Tokens {
    access: String,
    refresh: String,
}

/// Registers an application as admin; `extra` adds fields (user, lifespans).
async fn register(app: &TestApp, name: &str, extra: Value) -> Client {
    let id = format!("{name}-client-id");
    let secret = format!("{name}-client-secret");
    let mut body = json!({"name": name, "client_id": id, "client_secret": secret});
    for (k, v) in extra.as_object().expect("extra fields are an object") {
        body[k] = v.clone();
    }
    let created = app.insert("oauth_entity", body).await;
    Client {
        id,
        secret,
        sys_id: sys_id_of(&created),
    }
}

async fn token_request(app: &TestApp, pairs: &[(&str, &str)]) -> Response {
    app.form_post(TOKEN, pairs).send().await.unwrap()
}

async fn password_request(app: &TestApp, client: &Client, who: (&str, &str)) -> Response {
    token_request(
        app,
        &[
            ("grant_type", "password"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("username", who.0),
            ("password", who.1),
        ],
    )
    .await
}

/// A password grant that must succeed; its two tokens.
async fn password_grant(app: &TestApp, client: &Client, who: (&str, &str)) -> Tokens {
    let (status, body) = json_of(password_request(app, client, who).await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "password grant for {}: {body}",
        who.0
    );
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn refresh_request(app: &TestApp, client: &Client, refresh: &str) -> Response {
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("refresh_token", refresh),
        ],
    )
    .await
}

async fn client_credentials_request(app: &TestApp, client: &Client) -> Response {
    token_request(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
        ],
    )
    .await
}

async fn revoke(app: &TestApp, client: &Client, token: &str) -> Response {
    app.form_post(
        REVOKE,
        &[
            ("token", token),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
        ],
    )
    .send()
    .await
    .unwrap()
}

/// Asserts a successful revocation: 200 `{}`.
async fn assert_revoked(response: Response) {
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({}));
}

/// A request authenticated by a bearer token.
fn with_bearer(app: &TestApp, token: &str, method: Method, path: &str) -> RequestBuilder {
    app.anonymous(method, path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
}

async fn bearer_status(app: &TestApp, token: &str, path: &str) -> StatusCode {
    with_bearer(app, token, Method::GET, path)
        .send()
        .await
        .unwrap()
        .status()
}

/// Asserts a successful token response: 200, `Cache-Control: no-store`, exactly `keys`
/// (sorted), scope `useraccount`, a `Bearer` access token for 1799 s of at least 43
/// characters. Returns the body.
async fn assert_token_response(response: Response, keys: &[&str]) -> Value {
    assert_eq!(header(&response, CACHE_CONTROL), Some("no-store"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sorted_keys(&body), keys, "{body}");
    assert_eq!(body["scope"], "useraccount");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1799);
    let access = body["access_token"].as_str().unwrap();
    assert!(access.len() >= 43, "{access}");
    body
}

/// Asserts the platform's OAuth refusal: 401, exactly `server_error` / `access_denied`.
async fn assert_access_denied(response: Response) {
    assert_eq!(header(&response, CACHE_CONTROL), Some("no-store"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body,
        json!({"error": "server_error", "error_description": "access_denied"})
    );
}

/// Asserts a 400 OAuth error with this `error` code (and some description).
async fn assert_oauth_400(response: Response, error: &str) {
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

/// Asserts a bearer token is refused by the Table API with the platform's 401.
async fn assert_bearer_refused(app: &TestApp, token: &str) {
    let response = with_bearer(app, token, Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

/// The oauth_credential records of a user, read as admin, references as plain sys_ids.
async fn credentials_of(app: &TestApp, user: &str) -> Vec<Value> {
    fetch_records(app, "oauth_credential", &format!("user={user}")).await
}

// --- Registering applications ---

#[tokio::test]
async fn an_application_has_default_lifespans_and_a_write_only_hashed_secret() {
    let app = TestApp::spawn().await;
    let secret = "Client-Secret-Sentinel-91c2";
    let (status, text) = text_of(
        app.admin(Method::POST, ENTITIES)
            .json(&json!({"name": "CCaaS", "client_id": "ccaas", "client_secret": secret}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let assert_hidden = |text: &str| {
        assert!(!text.contains(secret), "secret leaked: {text}");
        assert!(!text.contains("client_secret"), "field leaked: {text}");
        assert!(!text.contains("$argon2"), "hash leaked: {text}");
    };
    assert_hidden(&text);
    let created: Value = serde_json::from_str(&text).unwrap();
    let result = &created["result"];
    assert_eq!(result["name"], "CCaaS");
    assert_eq!(result["client_id"], "ccaas");
    assert_eq!(result["access_token_lifespan"], "1800", "{result}");
    assert_eq!(result["refresh_token_lifespan"], "8640000", "{result}");
    let one = format!("{ENTITIES}/{}", sys_id_of(result));

    for path in [
        one.clone(),
        format!("{one}?sysparm_display_value=all"),
        format!("{one}?sysparm_fields=client_secret,client_id"),
        ENTITIES.to_owned(),
        format!("{ENTITIES}?sysparm_display_value=all"),
        format!("{ENTITIES}?client_id=ccaas"),
    ] {
        for accept in ["application/json", "application/xml"] {
            let (status, text) = text_of(
                app.admin(Method::GET, &path)
                    .header(ACCEPT, accept)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{path} ({accept}): {text}");
            assert!(text.contains("ccaas"), "{path} ({accept}): {text}");
            assert_hidden(&text);
        }
    }
    // An update answers without it too.
    let (status, text) = text_of(
        app.admin(Method::PATCH, &one)
            .json(&json!({"client_secret": format!("{secret}-2"), "name": "CCaaS 2"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_hidden(&text);

    // Stored hashed: it cannot be queried, neither by value nor as a hash.
    for query in [
        format!("client_secret={secret}-2"),
        format!("sysparm_query=client_secret={secret}-2"),
        "sysparm_query=client_secretSTARTSWITH$argon2".to_owned(),
        "sysparm_query=client_secretISNOTEMPTY".to_owned(),
    ] {
        let response = app
            .admin(Method::GET, &format!("{ENTITIES}?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }

    // But it was stored: the new secret authenticates the application, the old one not.
    let client = Client {
        id: "ccaas".into(),
        secret: format!("{secret}-2"),
        sys_id: String::new(),
    };
    password_grant(&app, &client, ADMIN).await;
    let old = Client {
        secret: secret.into(),
        ..client
    };
    assert_access_denied(password_request(&app, &old, ADMIN).await).await;
}

#[tokio::test]
async fn only_admin_may_see_or_register_applications() {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent", "awa_manager"])
        .await;
    let response = app
        .as_user(AGENT, Method::GET, ENTITIES)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    let response = app
        .as_user(AGENT, Method::POST, ENTITIES)
        .json(&json!({"name": "x", "client_id": "x", "client_secret": "y"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    let (_, body) = json_of(app.admin(Method::GET, ENTITIES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]));
}

// --- The token endpoint ---

#[tokio::test]
async fn the_password_grant_answers_exactly_the_platform_token_response() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let response = password_request(&app, &client, ADMIN).await;
    assert_content_type(&response, "application/json");
    let keys = [
        "access_token",
        "expires_in",
        "refresh_token",
        "scope",
        "token_type",
    ];
    let body = assert_token_response(response, &keys).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.len() >= 43, "{refresh}");
    assert_ne!(access, refresh);

    // Every grant gets tokens of its own.
    let again = password_grant(&app, &client, ADMIN).await;
    assert_ne!(again.access, access);
    assert_ne!(again.refresh, refresh);
    assert_ne!(again.access, refresh);

    // Both access tokens work, as admin.
    for token in [&access, &again.access] {
        let (status, body) = json_of(
            with_bearer(&app, token, Method::GET, GRANTS)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body["result"].as_array().unwrap().is_empty(), "{body}");
    }
}

#[tokio::test]
async fn expires_in_is_one_second_less_than_the_applications_lifespan() {
    let app = TestApp::spawn().await;
    let client = register(&app, "short", json!({"access_token_lifespan": 600})).await;
    let (status, body) = json_of(password_request(&app, &client, ADMIN).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 599, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, body) = json_of(refresh_request(&app, &client, refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 599, "{body}");
}

#[tokio::test]
async fn client_credentials_may_come_in_a_basic_authorization_header() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let grant = [
        ("grant_type", "password"),
        ("username", ADMIN.0),
        ("password", ADMIN.1),
    ];
    let response = app
        .form_post(TOKEN, &grant)
        .basic_auth(&client.id, Some(&client.secret))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(bearer_status(&app, access, GRANTS).await, StatusCode::OK);
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // The refresh grant and revocation take it there too.
    let response = app
        .form_post(
            TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .basic_auth(&client.id, Some(&client.secret))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let response = app
        .form_post(REVOKE, &[("token", access)])
        .basic_auth(&client.id, Some(&client.secret))
        .send()
        .await
        .unwrap();
    assert_revoked(response).await;
    assert_bearer_refused(&app, access).await;

    // A wrong secret in the header is refused like one in the form.
    let response = app
        .form_post(TOKEN, &grant)
        .basic_auth(&client.id, Some("not-the-secret"))
        .send()
        .await
        .unwrap();
    assert_access_denied(response).await;
    let response = app
        .form_post(TOKEN, &grant)
        .basic_auth("no-such-client", Some(&client.secret))
        .send()
        .await
        .unwrap();
    assert_access_denied(response).await;
}

#[tokio::test]
async fn the_refresh_grant_issues_a_new_working_access_token_and_no_refresh_token() {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let client = register(&app, "ccaas", json!({})).await;
    let tokens = password_grant(&app, &client, AGENT).await;

    let response = refresh_request(&app, &client, &tokens.refresh).await;
    let body = assert_token_response(response, &ACCESS_ONLY).await;
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, tokens.access);
    assert_ne!(fresh, tokens.refresh);

    // The new token acts as the same user, with the same roles.
    let (status, body) = json_of(
        with_bearer(&app, &fresh, Method::GET, INTERACTIONS)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = with_bearer(&app, &fresh, Method::GET, GRANTS)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;

    // The refresh token may be used again, each time for a new access token.
    let (status, body) = json_of(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["access_token"], fresh.as_str());
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client_and_is_not_an_access_token() {
    let app = TestApp::spawn().await;
    let mine = register(&app, "mine", json!({})).await;
    let theirs = register(&app, "theirs", json!({})).await;
    let tokens = password_grant(&app, &mine, ADMIN).await;

    // Another client's credentials with my refresh token.
    assert_access_denied(refresh_request(&app, &theirs, &tokens.refresh).await).await;
    // An access token where a refresh token belongs, and made-up tokens.
    assert_access_denied(refresh_request(&app, &mine, &tokens.access).await).await;
    assert_access_denied(refresh_request(&app, &mine, "not-a-token").await).await;
    assert_access_denied(refresh_request(&app, &mine, &"A".repeat(43)).await).await;
    // The right secret is still needed.
    let wrong = Client {
        id: mine.id.clone(),
        secret: "wrong".into(),
        sys_id: String::new(),
    };
    assert_access_denied(refresh_request(&app, &wrong, &tokens.refresh).await).await;
    // A refresh token is no bearer credential either.
    assert_bearer_refused(&app, &tokens.refresh).await;

    // None of that used the token up.
    let (status, body) = json_of(refresh_request(&app, &mine, &tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn client_credentials_tokens_act_as_the_applications_user() {
    let app = TestApp::spawn().await;
    let admin_id = user_sys_id(&app, ADMIN.0).await;
    let agent_id = app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let as_admin = register(&app, "as-admin", json!({"user": admin_id})).await;
    let as_agent = register(&app, "as-agent", json!({"user": agent_id})).await;
    let nobody = register(&app, "nobody", json!({})).await;

    let response = client_credentials_request(&app, &as_admin).await;
    let body = assert_token_response(response, &ACCESS_ONLY).await;
    let admin_token = body["access_token"].as_str().unwrap().to_owned();
    // The grants table is admin only: the token has the admin's roles.
    let (status, body) = json_of(
        with_bearer(&app, &admin_token, Method::GET, GRANTS)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = json_of(client_credentials_request(&app, &as_agent).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let agent_token = body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(agent_token, admin_token);
    let response = with_bearer(&app, &agent_token, Method::GET, GRANTS)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert_eq!(
        bearer_status(&app, &agent_token, INTERACTIONS).await,
        StatusCode::OK
    );
    // Table API writes are admin's: the agent application's token may not, the admin one's may,
    // and the record names the application's user as its author.
    let response = with_bearer(&app, &agent_token, Method::POST, QUEUES)
        .json(&json!({"name": "by agent token"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    let (status, body) = json_of(
        with_bearer(&app, &admin_token, Method::POST, QUEUES)
            .json(&json!({"name": "by admin token"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["sys_created_by"], ADMIN.0, "{body}");

    // An application without a user cannot use this grant; a wrong secret neither.
    assert_access_denied(client_credentials_request(&app, &nobody).await).await;
    let wrong = Client {
        id: as_admin.id.clone(),
        secret: "wrong".into(),
        sys_id: String::new(),
    };
    assert_access_denied(client_credentials_request(&app, &wrong).await).await;
}

#[tokio::test]
async fn client_credentials_for_an_inactive_user_are_refused() {
    let app = TestApp::spawn().await;
    let id = app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let client = register(&app, "ccaas", json!({"user": id})).await;
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{id}"))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_access_denied(client_credentials_request(&app, &client).await).await;
}

#[tokio::test]
async fn bad_credentials_are_401_access_denied_and_nothing_more() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    app.user(AGENT.0, AGENT.1, &[]).await;
    app.insert(
        "sys_user",
        json!({"user_name": "dormant", "user_password": "dormant-pw", "active": false}),
    )
    .await;
    let wrong_secret = Client {
        id: client.id.clone(),
        secret: "not-the-secret".into(),
        sys_id: String::new(),
    };
    let unknown = Client {
        id: "no-such-client".into(),
        secret: client.secret.clone(),
        sys_id: String::new(),
    };
    assert_access_denied(password_request(&app, &wrong_secret, AGENT).await).await;
    assert_access_denied(password_request(&app, &unknown, AGENT).await).await;
    assert_access_denied(password_request(&app, &client, (AGENT.0, "not-the-password")).await)
        .await;
    assert_access_denied(password_request(&app, &client, ("nobody", AGENT.1)).await).await;
    assert_access_denied(password_request(&app, &client, ("dormant", "dormant-pw")).await).await;
    // None of them left a token behind.
    let (_, body) = json_of(app.admin(Method::GET, CREDENTIALS).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]));
    // The right ones pass.
    password_grant(&app, &client, AGENT).await;
}

#[tokio::test]
async fn malformed_token_requests_are_400_invalid_request() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let full = [
        ("grant_type", "password"),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
        ("username", ADMIN.0),
        ("password", ADMIN.1),
    ];
    // The same parameters as JSON.
    let as_json: serde_json::Map<String, Value> = full
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let response = app
        .anonymous(Method::POST, TOKEN)
        .json(&as_json)
        .send()
        .await
        .unwrap();
    assert_oauth_400(response, "invalid_request").await;
    // A form body without a form content type.
    let response = app
        .anonymous(Method::POST, TOKEN)
        .body(form_body(&full))
        .send()
        .await
        .unwrap();
    assert_oauth_400(response, "invalid_request").await;

    let without = |name: &str| -> Vec<(&str, &str)> {
        full.iter().copied().filter(|(k, _)| *k != name).collect()
    };
    for missing in ["grant_type", "username", "password"] {
        let response = token_request(&app, &without(missing)).await;
        assert_eq!(header(&response, CACHE_CONTROL), Some("no-store"));
        assert_oauth_400(response, "invalid_request").await;
    }
    let empty_grant: Vec<(&str, &str)> = full
        .iter()
        .map(|&(k, v)| if k == "grant_type" { (k, "") } else { (k, v) })
        .collect();
    assert_oauth_400(token_request(&app, &empty_grant).await, "invalid_request").await;

    for grant in ["implicit", "authorization_code", "PASSWORD"] {
        let mut pairs = without("grant_type");
        pairs.push(("grant_type", grant));
        assert_oauth_400(token_request(&app, &pairs).await, "unsupported_grant_type").await;
    }
    // The complete form passes.
    let (status, body) = json_of(token_request(&app, &full).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// --- Bearer authentication ---

#[tokio::test]
async fn a_bearer_token_reads_and_writes_the_table_api_with_its_users_roles() {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let client = register(&app, "ccaas", json!({})).await;
    let token = password_grant(&app, &client, AGENT).await.access;

    // Reads.
    let (status, body) = json_of(
        with_bearer(
            &app,
            &token,
            Method::GET,
            &format!("{USERS}?user_name=agent"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"][0]["user_name"], "agent", "{body}");
    assert_eq!(
        bearer_status(&app, &token, INTERACTIONS).await,
        StatusCode::OK
    );
    // Table API writes are admin's: refused to this token, as to the same user's Basic
    // credentials.
    for path in [QUEUES, INTERACTIONS] {
        let response = with_bearer(&app, &token, Method::POST, path)
            .json(&json!({"name": "sneaky", "short_description": "sneaky"}))
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
        assert_eq!(
            detail,
            "ACL Exception Insert Failed due to security constraints"
        );
    }
    let (_, body) = json_of(app.admin(Method::GET, QUEUES).send().await.unwrap()).await;
    assert_eq!(body["result"], json!([]), "nothing was inserted");
    // Admin-only tables stay closed, without a challenge: a 403 is not a 401.
    let response = with_bearer(&app, &token, Method::GET, GRANTS)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    let response = with_bearer(&app, &token, Method::GET, CREDENTIALS)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;

    // A role granted while the token is in use counts on the next request, with the same token;
    // a write then names the token's user as its author.
    app.insert(
        "sys_user_has_role",
        json!({"user": "agent", "role": "admin"}),
    )
    .await;
    assert_eq!(bearer_status(&app, &token, GRANTS).await, StatusCode::OK);
    let (status, body) = json_of(
        with_bearer(&app, &token, Method::POST, QUEUES)
            .json(&json!({"name": "by bearer"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["sys_created_by"], AGENT.0, "{body}");

    // The scheme name is case-insensitive, as for Basic.
    let response = app
        .anonymous(Method::GET, INTERACTIONS)
        .header(AUTHORIZATION, format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_interaction_api_takes_a_bearer_token_of_an_interaction_agent_only() {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    app.user("plain", "plain-password", &["awa_integration_user"])
        .await;
    let phone = phone_connector(&app).await;
    let client = register(&app, "ccaas", json!({})).await;
    let agent_token = password_grant(&app, &client, AGENT).await.access;
    let plain_token = password_grant(&app, &client, ("plain", "plain-password"))
        .await
        .access;

    let response = with_bearer(&app, &plain_token, Method::POST, "/api/now/interaction")
        .json(&json!({"channel": phone}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
    assert_eq!(detail, "Failed API level ACL Validation");

    let (status, body) = json_of(
        with_bearer(&app, &agent_token, Method::POST, "/api/now/interaction")
            .json(&json!({"channel": phone}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["channel"], phone.as_str(), "{body}");
    let id = sys_id_of(&body["result"]);
    // opened_by is the token's user.
    let (_, stored) = json_of(
        app.admin(
            Method::GET,
            &format!("{INTERACTIONS}/{id}?sysparm_display_value=true"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        stored["result"]["opened_by"]["display_value"], AGENT.0,
        "{stored}"
    );

    // An unknown token is a 401, before any role check.
    let response = with_bearer(&app, "garbage", Method::POST, "/api/now/interaction")
        .json(&json!({"channel": phone}))
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

#[tokio::test]
async fn the_agent_mapping_api_takes_a_bearer_token_of_an_interaction_agent_only() {
    let app = TestApp::spawn().await;
    app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    app.user("plain", "plain-password", &["awa_integration_user"])
        .await;
    let mapped = app
        .user("voice.agent", "voice-agent-password", &["awa_agent"])
        .await;
    app.insert(
        "sys_cs_provider_application",
        json!({"name": "Voice", "inbound_id": "Voice1", "provider": "Acme CCaaS", "active": true}),
    )
    .await;
    let client = register(&app, "ccaas", json!({})).await;
    let agent_token = password_grant(&app, &client, AGENT).await.access;
    let plain_token = password_grant(&app, &client, ("plain", "plain-password"))
        .await
        .access;
    let path = format!("/api/sn_ct_ctr_it_core/agent_mapping/agent/{mapped}/inboundId/Voice1");

    let response = with_bearer(&app, &plain_token, Method::PUT, &path)
        .json(&json!({"external_agent_id": "12345"}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "User Not Authorized").await;
    assert_eq!(detail, "Failed API level ACL Validation");

    let (status, body) = json_of(
        with_bearer(&app, &agent_token, Method::PUT, &path)
            .json(&json!({"external_agent_id": "12345"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["status"], "success", "{body}");
    assert_eq!(
        body["result"]["mappingIds"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_bearer_tokens_are_401_with_the_platform_envelope() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let tokens = password_grant(&app, &client, ADMIN).await;
    let mut altered = tokens.access.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for token in [
        "garbage".to_owned(),
        "A".repeat(43),
        altered,
        // Other secrets are not access tokens.
        tokens.refresh.clone(),
        client.secret.clone(),
        ADMIN.1.to_owned(),
        // The stored form of the token is not the token.
        hex::encode(Sha256::digest(tokens.access.as_bytes())),
    ] {
        assert_bearer_refused(&app, &token).await;
    }
    // On every API.
    for (method, path) in [
        (Method::POST, "/api/now/interaction"),
        (
            Method::PUT,
            "/api/sn_ct_ctr_it_core/agent_mapping/agent/x/inboundId/y",
        ),
        (Method::GET, "/api/now/table/no_such_table"),
    ] {
        let response = with_bearer(&app, "garbage", method, path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
    // The real token passes.
    assert_eq!(
        bearer_status(&app, &tokens.access, USERS).await,
        StatusCode::OK
    );
}

// --- Expiry ---

/// The lifespan is 2 s, not 1: expiry times are whole seconds, so a token's life ends at the
/// first whole second past issue time + lifespan, truncated; a 1 s token lives between 0 and 1 s
/// (`expires_in` 0) and "works at once" would be a race. A 2 s token surely lives for 1 s.
#[tokio::test]
async fn an_access_token_expires_after_its_lifespan_and_the_refresh_token_outlives_it() {
    let app = TestApp::spawn().await;
    let client = register(&app, "brief", json!({"access_token_lifespan": 2})).await;
    let (status, body) = json_of(password_request(&app, &client, ADMIN).await).await;
    let issued = Instant::now();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 1, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    // Works at once (and twice, so a cache holds it).
    assert_eq!(bearer_status(&app, &access, USERS).await, StatusCode::OK);
    assert_eq!(bearer_status(&app, &access, USERS).await, StatusCode::OK);

    let deadline = issued + Duration::from_secs(10);
    loop {
        let status = bearer_status(&app, &access, USERS).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "the token still works 10 s after it was issued with a 2 s lifespan"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        issued.elapsed() >= Duration::from_millis(900),
        "a 2 s token died after {:?}",
        issued.elapsed()
    );
    assert_bearer_refused(&app, &access).await;

    // The refresh token (100 days) still yields access tokens, which work.
    let (status, body) = json_of(refresh_request(&app, &client, &refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["access_token"].as_str().unwrap();
    assert_ne!(fresh, access);
    assert_eq!(body["expires_in"], 1, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(bearer_status(&app, fresh, USERS).await, StatusCode::OK);
    // The expired one stays dead.
    assert_bearer_refused(&app, &access).await;
}

// --- Revocation ---

#[tokio::test]
async fn a_revoked_access_token_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let tokens = password_grant(&app, &client, ADMIN).await;
    let other = password_grant(&app, &client, ADMIN).await;
    // Used successfully, so a cache holds it.
    assert_eq!(
        bearer_status(&app, &tokens.access, USERS).await,
        StatusCode::OK
    );
    assert_eq!(
        bearer_status(&app, &tokens.access, USERS).await,
        StatusCode::OK
    );

    let response = revoke(&app, &client, &tokens.access).await;
    assert_eq!(header(&response, CACHE_CONTROL), Some("no-store"));
    assert_revoked(response).await;
    assert_bearer_refused(&app, &tokens.access).await;
    // Revoking it again is no error.
    assert_revoked(revoke(&app, &client, &tokens.access).await).await;
    // Another grant's tokens live on.
    assert_eq!(
        bearer_status(&app, &other.access, USERS).await,
        StatusCode::OK
    );
    let response = refresh_request(&app, &client, &other.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens_and_the_refresh_grant() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let tokens = password_grant(&app, &client, ADMIN).await;
    let (status, body) = json_of(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refreshed = body["access_token"].as_str().unwrap().to_owned();
    for token in [&tokens.access, &refreshed] {
        assert_eq!(bearer_status(&app, token, USERS).await, StatusCode::OK);
    }

    assert_revoked(revoke(&app, &client, &tokens.refresh).await).await;
    for token in [&tokens.access, &refreshed] {
        assert_bearer_refused(&app, token).await;
    }
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
}

#[tokio::test]
async fn revoking_needs_the_owning_clients_credentials() {
    let app = TestApp::spawn().await;
    let client = register(&app, "ccaas", json!({})).await;
    let other = register(&app, "other", json!({})).await;
    let tokens = password_grant(&app, &client, ADMIN).await;

    // An unknown token: nothing to do, and no error.
    assert_revoked(revoke(&app, &client, "no-such-token").await).await;
    // A wrong secret or unknown client is refused, and the token lives on.
    let wrong = Client {
        id: client.id.clone(),
        secret: "not-the-secret".into(),
        sys_id: String::new(),
    };
    assert_access_denied(revoke(&app, &wrong, &tokens.access).await).await;
    let unknown = Client {
        id: "no-such-client".into(),
        secret: client.secret.clone(),
        sys_id: String::new(),
    };
    assert_access_denied(revoke(&app, &unknown, &tokens.access).await).await;
    // Another application cannot revoke this one's tokens (RFC 7009 §2.1).
    // For it, the token is as unknown as any other: 200 `{}`, and nothing revoked.
    assert_revoked(revoke(&app, &other, &tokens.access).await).await;
    assert_revoked(revoke(&app, &other, &tokens.refresh).await).await;
    assert_eq!(
        bearer_status(&app, &tokens.access, USERS).await,
        StatusCode::OK
    );
    let response = refresh_request(&app, &client, &tokens.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A missing token is a bad request.
    let response = app
        .form_post(
            REVOKE,
            &[("client_id", &client.id), ("client_secret", &client.secret)],
        )
        .send()
        .await
        .unwrap();
    assert_oauth_400(response, "invalid_request").await;
    // And the owner can.
    assert_revoked(revoke(&app, &client, &tokens.access).await).await;
    assert_bearer_refused(&app, &tokens.access).await;
}

// --- Tokens die with their user ---

/// A user "victim" with a grant of tokens, the access token already used twice.
async fn victim(app: &TestApp) -> (String, Client, Tokens) {
    let id = app
        .user("victim", "victim-pw", &["interaction_agent"])
        .await;
    let client = register(app, "ccaas", json!({})).await;
    let tokens = password_grant(app, &client, ("victim", "victim-pw")).await;
    for _ in 0..2 {
        assert_eq!(
            bearer_status(app, &tokens.access, INTERACTIONS).await,
            StatusCode::OK
        );
    }
    (id, client, tokens)
}

/// Three more grants of the victim's, each refreshed three times: the access tokens of them all.
/// A user or application with many tokens made from refresh tokens is the common case, and
/// deleting one must not depend on the order its tokens are found in.
async fn more_tokens(app: &TestApp, client: &Client) -> Vec<String> {
    let mut access = Vec::new();
    for _ in 0..3 {
        let tokens = password_grant(app, client, ("victim", "victim-pw")).await;
        for _ in 0..3 {
            let (status, body) = json_of(refresh_request(app, client, &tokens.refresh).await).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            access.push(body["access_token"].as_str().unwrap().to_owned());
        }
        access.push(tokens.access);
    }
    access
}

#[tokio::test]
async fn deactivating_a_user_kills_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let (id, client, tokens) = victim(&app).await;
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{id}"))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_bearer_refused(&app, &tokens.access).await;
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(credentials_of(&app, &id).await, Vec::<Value>::new());

    // Reactivated, the old tokens stay dead; a new grant works.
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{id}"))
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_bearer_refused(&app, &tokens.access).await;
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
    let fresh = password_grant(&app, &client, ("victim", "victim-pw")).await;
    assert_eq!(
        bearer_status(&app, &fresh.access, INTERACTIONS).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_change_kills_the_users_tokens_at_once() {
    let app = TestApp::spawn().await;
    let (id, client, tokens) = victim(&app).await;
    // Another user's tokens are not touched.
    let admins = password_grant(&app, &client, ADMIN).await;
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{id}"))
        .json(&json!({"user_password": "new-victim-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_bearer_refused(&app, &tokens.access).await;
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(credentials_of(&app, &id).await, Vec::<Value>::new());
    // The old password grants nothing, the new one does.
    assert_access_denied(password_request(&app, &client, ("victim", "victim-pw")).await).await;
    let fresh = password_grant(&app, &client, ("victim", "new-victim-pw")).await;
    assert_eq!(
        bearer_status(&app, &fresh.access, INTERACTIONS).await,
        StatusCode::OK
    );
    assert_eq!(
        bearer_status(&app, &admins.access, USERS).await,
        StatusCode::OK
    );
    let response = refresh_request(&app, &client, &admins.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn other_changes_to_the_user_leave_its_tokens_alive() {
    let app = TestApp::spawn().await;
    let (id, client, tokens) = victim(&app).await;
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{id}"))
        .json(&json!({"email": "victim@example.com", "last_name": "Victim"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        bearer_status(&app, &tokens.access, INTERACTIONS).await,
        StatusCode::OK
    );
    let response = refresh_request(&app, &client, &tokens.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_a_user_kills_its_tokens() {
    let app = TestApp::spawn().await;
    let (id, client, tokens) = victim(&app).await;
    let more = more_tokens(&app, &client).await;
    assert_eq!(credentials_of(&app, &id).await.len(), 2 + 3 * 5);
    let response = app
        .admin(Method::DELETE, &format!("{USERS}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_bearer_refused(&app, &tokens.access).await;
    for token in &more {
        assert_bearer_refused(&app, token).await;
    }
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(credentials_of(&app, &id).await, Vec::<Value>::new());
}

#[tokio::test]
async fn deleting_the_user_of_client_credentials_tokens_kills_them() {
    let app = TestApp::spawn().await;
    let id = app.user(AGENT.0, AGENT.1, &["interaction_agent"]).await;
    let client = register(&app, "ccaas", json!({"user": id})).await;
    let (status, body) = json_of(client_credentials_request(&app, &client).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(
            bearer_status(&app, &token, INTERACTIONS).await,
            StatusCode::OK
        );
    }
    let response = app
        .admin(Method::DELETE, &format!("{USERS}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_bearer_refused(&app, &token).await;
    assert_eq!(credentials_of(&app, &id).await, Vec::<Value>::new());
    // The application lost its user, so it has no identity to grant any more.
    assert_access_denied(client_credentials_request(&app, &client).await).await;
}

#[tokio::test]
async fn deleting_an_application_kills_its_tokens() {
    let app = TestApp::spawn().await;
    let (id, client, tokens) = victim(&app).await;
    let more = more_tokens(&app, &client).await;
    let response = app
        .admin(Method::DELETE, &format!("{ENTITIES}/{}", client.sys_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_bearer_refused(&app, &tokens.access).await;
    for token in &more {
        assert_bearer_refused(&app, token).await;
    }
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(credentials_of(&app, &id).await, Vec::<Value>::new());
}

// --- Tokens as records ---

#[tokio::test]
async fn tokens_are_oauth_credential_records_and_deleting_one_revokes_it() {
    let app = TestApp::spawn().await;
    let (id, client, tokens) = victim(&app).await;
    let records = credentials_of(&app, &id).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let mut types: Vec<&str> = records
        .iter()
        .map(|r| r["token_type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["access", "refresh"], "{records:?}");
    let now = time::OffsetDateTime::now_utc();
    let date_time =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    for record in &records {
        assert_eq!(record["user"], id.as_str(), "{record}");
        assert_eq!(record["client"], client.sys_id.as_str(), "{record}");
        assert!(record.get("token_hash").is_none(), "{record}");
        let expires =
            time::PrimitiveDateTime::parse(record["expires"].as_str().unwrap(), date_time)
                .unwrap_or_else(|e| panic!("expires is a date-time ({e}): {record}"))
                .assume_utc();
        let lifespan = if record["token_type"] == "access" {
            1800
        } else {
            8_640_000
        };
        let left = (expires - now).whole_seconds();
        assert!(
            (lifespan - 60..=lifespan).contains(&left),
            "{left} s left of {lifespan}: {record}"
        );
    }
    // The hash cannot be queried.
    let response = app
        .admin(
            Method::GET,
            &format!("{CREDENTIALS}?sysparm_query=token_hashISNOTEMPTY"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Deleting the access token's record revokes it at once.
    let access_id = sys_id_of(
        records
            .iter()
            .find(|r| r["token_type"] == "access")
            .unwrap(),
    );
    let refresh_id = sys_id_of(
        records
            .iter()
            .find(|r| r["token_type"] == "refresh")
            .unwrap(),
    );
    let response = app
        .admin(Method::DELETE, &format!("{CREDENTIALS}/{access_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_bearer_refused(&app, &tokens.access).await;

    // A refresh grant makes a new access record; deleting the refresh record takes it along.
    let (status, body) = json_of(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        bearer_status(&app, &fresh, INTERACTIONS).await,
        StatusCode::OK
    );
    assert_eq!(credentials_of(&app, &id).await.len(), 2);
    let response = app
        .admin(Method::DELETE, &format!("{CREDENTIALS}/{refresh_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_bearer_refused(&app, &fresh).await;
    assert_access_denied(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(credentials_of(&app, &id).await, Vec::<Value>::new());
}

#[tokio::test]
async fn token_strings_appear_in_no_table_api_response() {
    let app = TestApp::spawn().await;
    let admin_id = user_sys_id(&app, ADMIN.0).await;
    let client = register(&app, "ccaas", json!({"user": admin_id})).await;
    let tokens = password_grant(&app, &client, ADMIN).await;
    let (status, body) = json_of(refresh_request(&app, &client, &tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refreshed = body["access_token"].as_str().unwrap().to_owned();
    let (status, body) = json_of(client_credentials_request(&app, &client).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let machine = body["access_token"].as_str().unwrap().to_owned();
    let secrets = [&tokens.access, &tokens.refresh, &refreshed, &machine];
    let digests: Vec<String> = secrets
        .iter()
        .map(|t| hex::encode(Sha256::digest(t.as_bytes())))
        .collect();

    let (_, body) = json_of(app.admin(Method::GET, CREDENTIALS).send().await.unwrap()).await;
    let records = body["result"].as_array().unwrap().clone();
    assert_eq!(records.len(), 4, "{body}");
    let mut paths = vec![
        CREDENTIALS.to_owned(),
        format!("{CREDENTIALS}?sysparm_display_value=all"),
        format!("{CREDENTIALS}?sysparm_display_value=true"),
        format!("{CREDENTIALS}?sysparm_fields=token_hash,token_type,sys_id"),
    ];
    for record in &records {
        let one = format!("{CREDENTIALS}/{}", sys_id_of(record));
        paths.push(format!("{one}?sysparm_display_value=all"));
        paths.push(one);
    }
    for path in &paths {
        for accept in ["application/json", "application/xml"] {
            let (status, text) = text_of(
                app.admin(Method::GET, path)
                    .header(ACCEPT, accept)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{path} ({accept}): {text}");
            assert!(text.contains("token_type"), "{path} ({accept}): {text}");
            assert!(!text.contains("token_hash"), "{path} ({accept}): {text}");
            for secret in secrets {
                assert!(!text.contains(secret.as_str()), "token leaked: {text}");
            }
            for digest in &digests {
                assert!(!text.contains(digest.as_str()), "digest leaked: {text}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lifespan ranges (issue 12, defect 6) and the Basic scheme's case (defect 7)
// ---------------------------------------------------------------------------------------------

/// The longest lifespan an application may have: ten 365-day years, in seconds.
const MAX_LIFESPAN: i64 = 315_360_000;

#[tokio::test]
async fn lifespans_outside_their_range_are_400_naming_the_field_and_the_range() {
    let app = TestApp::spawn().await;
    let huge = json!(9_223_372_036_854_775_807_i64);
    for (field, value) in [
        ("access_token_lifespan", huge.clone()),
        ("refresh_token_lifespan", huge.clone()),
        ("access_token_lifespan", json!(0)),
        ("refresh_token_lifespan", json!(-1)),
        ("access_token_lifespan", json!(MAX_LIFESPAN + 1)),
        ("access_token_lifespan", json!("99999999999999999999")),
    ] {
        let response = app
            .admin(Method::POST, ENTITIES)
            .json(&json!({"name": "huge", "client_id": "huge", field: value}))
            .send()
            .await
            .unwrap();
        let detail = assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
        let detail = detail.as_str().unwrap_or_default().to_owned();
        assert!(detail.contains(field), "{field}={value}: {detail}");
        assert!(
            detail.contains(&format!("1 and {MAX_LIFESPAN}")),
            "{field}={value}: {detail}"
        );
    }
    // An update is checked the same way, and the record keeps its value.
    let client = register(&app, "patched", json!({})).await;
    let one = format!("{ENTITIES}/{}", client.sys_id);
    let response = app
        .admin(Method::PATCH, &one)
        .json(&json!({"access_token_lifespan": huge}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "Operation Failed").await;
    let (status, body) = json_of(app.admin(Method::GET, &one).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["access_token_lifespan"], "1800", "{body}");
    // The bounds themselves are accepted.
    let edges = register(
        &app,
        "edges",
        json!({"access_token_lifespan": 1, "refresh_token_lifespan": MAX_LIFESPAN}),
    )
    .await;
    let (status, body) = json_of(password_request(&app, &edges, ADMIN).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A lifespan stored before its range was checked (written here past the Table API, as an
/// older release could) makes no grant a 500: the lifespan is held to its range when used.
#[tokio::test]
async fn a_stored_out_of_range_lifespan_is_held_to_its_range_when_tokens_are_issued() {
    use switchboard::domain::{self, Changes};
    use switchboard::model::value::Value as Stored;
    let app = TestApp::spawn().await;
    let client = register(&app, "legacy", json!({})).await;
    let entities = &switchboard::model::registry::OAUTH_ENTITY;
    for (access, refresh, expires_in) in [
        (i64::MAX, i64::MAX, MAX_LIFESPAN - 1),
        (i64::MIN, i64::MAX, 0),
        (i64::MIN, -5, 0),
    ] {
        let mut tx = app.state.store.begin().await.unwrap();
        let changes = Changes::default()
            .set(
                entities.column("access_token_lifespan"),
                Stored::Int(access),
            )
            .set(
                entities.column("refresh_token_lifespan"),
                Stored::Int(refresh),
            );
        domain::update(&mut tx, entities, &client.sys_id, changes, "test")
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let (status, body) = json_of(password_request(&app, &client, ADMIN).await).await;
        assert_eq!(status, StatusCode::OK, "lifespan {access}: {body}");
        assert_eq!(body["expires_in"], expires_in, "{body}");
        let token = body["refresh_token"].as_str().unwrap();
        // A refresh token held to the one-second floor may be gone by the next request (its
        // expiry is stored to the second), so only a long-lived one is used again here.
        if refresh > 60 {
            let (status, body) = json_of(refresh_request(&app, &client, token).await).await;
            assert_eq!(status, StatusCode::OK, "lifespan {access}: {body}");
        }
    }
}

#[tokio::test]
async fn the_basic_scheme_name_is_case_insensitive_at_the_token_endpoint() {
    let app = TestApp::spawn().await;
    let admin_id = user_sys_id(&app, ADMIN.0).await;
    let client = register(&app, "cased", json!({"user": admin_id})).await;
    let credentials = basic_credentials((client.id.as_str(), client.secret.as_str()));
    for scheme in ["Basic", "BASIC", "basic", "bAsIc"] {
        let response = app
            .form_post(TOKEN, &[("grant_type", "client_credentials")])
            .header(AUTHORIZATION, format!("{scheme} {credentials}"))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
        assert!(body["access_token"].is_string(), "{scheme}: {body}");
        // The revocation endpoint reads the same header the same way.
        let token = body["access_token"].as_str().unwrap();
        let response = app
            .form_post(REVOKE, &[("token", token)])
            .header(AUTHORIZATION, format!("{scheme} {credentials}"))
            .send()
            .await
            .unwrap();
        assert_revoked(response).await;
    }
}
