//! Login throttling: repeated failed logins for a user (Basic, the OAuth password grant), for an
//! OAuth client, or from an address are refused with 429 and `Retry-After` before anything is
//! verified; the lockout grows while failures go on and ends, after which the right password
//! works; other users and addresses are not affected; logins are logged without secrets.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use switchboard::auth::throttle::LoginLimits;
use switchboard::state::Config;

use crate::binary::Binary;
use crate::helpers::{
    ADMIN, FORM, TestApp, TestDb, basic_credentials, client, client_builder, json_of,
};

const USERS: &str = "/api/now/table/sys_user";
const TOKEN: &str = "/oauth_token.do";
const REVOKE: &str = "/oauth_revoke_token.do";
const ANN: (&str, &str) = ("ann", "ann-password");
const BOB: (&str, &str) = ("bob", "bob-password");
const CLIENT: (&str, &str) = ("ccaas", "ccaas-secret");

fn limits(per_account: u32, per_address: u32, window: u64, lockout: u64) -> LoginLimits {
    LoginLimits {
        per_account,
        per_address,
        window: Duration::from_secs(window),
        lockout: Duration::from_secs(lockout),
    }
}

/// Three failures lock a user for one second (then two); addresses are not limited.
fn quick(config: &mut Config) {
    config.login_limits = limits(3, 1000, 2, 1);
}

fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a Retry-After in seconds: {:?}", response.headers()))
}

fn detail(whose: &str, seconds: u64) -> String {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    format!("Too many failed login attempts {whose}; retry in {seconds} {unit}")
}

/// Asserts the 429 of a locked login in the platform's envelope; returns its `Retry-After`.
async fn assert_locked(response: Response, whose: &str) -> u64 {
    let seconds = retry_after(&response);
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(
        body,
        json!({
            "error": {"message": "Rate limit exceeded", "detail": detail(whose, seconds)},
            "status": "failure"
        })
    );
    seconds
}

async fn password_grant(app: &TestApp, who: (&str, &str)) -> Response {
    let pairs = [
        ("grant_type", "password"),
        ("client_id", CLIENT.0),
        ("client_secret", CLIENT.1),
        ("username", who.0),
        ("password", who.1),
    ];
    app.form_post(TOKEN, &pairs).send().await.unwrap()
}

async fn client_credentials(app: &TestApp, secret: &str) -> Response {
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT.0),
        ("client_secret", secret),
    ];
    app.form_post(TOKEN, &pairs).send().await.unwrap()
}

/// Asserts an OAuth answer: status and body.
async fn assert_oauth(response: Response, status: StatusCode, body: Value) {
    let (got, got_body) = json_of(response).await;
    assert_eq!(got, status, "{got_body}");
    assert_eq!(got_body, body);
}

/// Asserts the 429 of a locked login at the token endpoint, in the OAuth shape.
async fn assert_oauth_locked(response: Response, whose: &str) {
    let seconds = retry_after(&response);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let expected =
        json!({"error": "temporarily_unavailable", "error_description": detail(whose, seconds)});
    assert_oauth(response, StatusCode::TOO_MANY_REQUESTS, expected).await;
}

fn access_denied() -> Value {
    json!({"error": "server_error", "error_description": "access_denied"})
}

#[tokio::test]
async fn repeated_failures_lock_the_user_until_the_lockout_ends() {
    let app = TestApp::spawn_with(quick).await;
    app.user(ANN.0, ANN.1, &[]).await;
    app.user(BOB.0, BOB.1, &[]).await;
    for _ in 0..3 {
        assert_eq!(
            app.status_as((ANN.0, "guess"), USERS).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right password is refused, with the platform's 429.
    let locked = app.as_user(ANN, Method::GET, USERS).send().await.unwrap();
    assert_eq!(assert_locked(locked, "for this user").await, 1);
    // In XML when XML is asked for.
    let locked = app
        .as_user(ANN, Method::GET, USERS)
        .header(ACCEPT, "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&locked), 1);
    let xml = locked.text().await.unwrap();
    assert!(
        xml.contains("<error><message>Rate limit exceeded</message><detail>Too many failed login attempts for this user")
            && xml.contains("<status>failure</status>"),
        "{xml}"
    );
    // Other users are not affected.
    assert_eq!(app.status_as(BOB, USERS).await, StatusCode::OK);
    assert_eq!(app.status_as(ADMIN, USERS).await, StatusCode::OK);
    // Once the lockout ends, the right password works...
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.status_as(ANN, USERS).await, StatusCode::OK);
    // ... and the success forgot the failures: two more are not enough to lock again.
    for _ in 0..2 {
        assert_eq!(
            app.status_as((ANN.0, "guess"), USERS).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.status_as(ANN, USERS).await, StatusCode::OK);
}

#[tokio::test]
async fn the_lockout_grows_while_failures_go_on_and_never_lasts() {
    let app = TestApp::spawn_with(quick).await;
    app.user(ANN.0, ANN.1, &[]).await;
    for _ in 0..3 {
        app.as_user((ANN.0, "guess"), Method::GET, USERS)
            .send()
            .await
            .unwrap();
    }
    let locked = app.as_user(ANN, Method::GET, USERS).send().await.unwrap();
    assert_eq!(assert_locked(locked, "for this user").await, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // One more failure right after a lockout locks again, twice as long (at most the window).
    assert_eq!(
        app.status_as((ANN.0, "guess"), USERS).await,
        StatusCode::UNAUTHORIZED
    );
    let locked = app.as_user(ANN, Method::GET, USERS).send().await.unwrap();
    assert_eq!(assert_locked(locked, "for this user").await, 2);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.status_as(ANN, USERS).await, StatusCode::OK);
}

#[tokio::test]
async fn a_user_name_that_does_not_exist_is_counted_like_one_that_does() {
    let app = TestApp::spawn_with(quick).await;
    for _ in 0..3 {
        assert_eq!(
            app.status_as(("nobody", "guess"), USERS).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // The same 429 as for a real user: it tells nothing about which names exist.
    let locked = app
        .as_user(("nobody", "guess"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_locked(locked, "for this user").await;
}

#[tokio::test]
async fn failures_from_one_address_lock_that_address_for_every_user() {
    let app = TestApp::spawn_with(|c| c.login_limits = limits(1000, 4, 60, 60)).await;
    // Password spraying: one guess each for many names.
    for name in ["a1", "a2", "a3", "a4"] {
        assert_eq!(
            app.status_as((name, "Winter2026!"), USERS).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = app.admin(Method::GET, USERS).send().await.unwrap();
    assert_eq!(assert_locked(locked, "from this address").await, 60);
    // Another address is not affected (every 127.x address is this machine).
    let elsewhere = client_builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let response = elsewhere
        .get(app.url(USERS))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_locked_attempt_is_refused_without_hashing_anything() {
    // Each name locks at its first failure.
    let app = TestApp::spawn_with(|c| c.login_limits = limits(1, 1000, 60, 60)).await;
    // A failed login costs an Argon2 verification (against a dummy hash for an unknown name)...
    let before = app.state.auth.password_checks();
    assert_eq!(
        app.status_as(("u1", "guess"), USERS).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.state.auth.password_checks(), before + 1);
    // ...a locked name is refused without one, whatever password it tries.
    for password in ["guess", "another guess", ADMIN.1] {
        for _ in 0..5 {
            assert_eq!(
                app.status_as(("u1", password), USERS).await,
                StatusCode::TOO_MANY_REQUESTS
            );
        }
    }
    assert_eq!(app.state.auth.password_checks(), before + 1);
}

#[tokio::test]
async fn oauth_logins_are_throttled_and_answer_in_the_oauth_shape() {
    let app = TestApp::spawn_with(quick).await;
    app.user(ANN.0, ANN.1, &[]).await;
    app.insert(
        "oauth_entity",
        json!({"name": "CCaaS", "client_id": CLIENT.0, "client_secret": CLIENT.1, "user": ANN.0}),
    )
    .await;
    // The password grant's user: its failures and Basic's add up.
    for _ in 0..2 {
        assert_oauth(
            password_grant(&app, (ANN.0, "guess")).await,
            StatusCode::UNAUTHORIZED,
            access_denied(),
        )
        .await;
    }
    assert_eq!(
        app.status_as((ANN.0, "guess"), USERS).await,
        StatusCode::UNAUTHORIZED
    );
    assert_oauth_locked(password_grant(&app, ANN).await, "for this user").await;
    let basic = app.as_user(ANN, Method::GET, USERS).send().await.unwrap();
    assert_locked(basic, "for this user").await;
    // The client: wrong secrets at the token and revocation endpoints add up.
    for _ in 0..2 {
        assert_oauth(
            client_credentials(&app, "guess").await,
            StatusCode::UNAUTHORIZED,
            access_denied(),
        )
        .await;
    }
    let revoke = app.form_post(
        REVOKE,
        &[
            ("token", "t"),
            ("client_id", CLIENT.0),
            ("client_secret", "guess"),
        ],
    );
    assert_eq!(
        revoke.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_oauth_locked(
        client_credentials(&app, CLIENT.1).await,
        "for this OAuth client",
    )
    .await;
    // A user of the same name as the client is another account.
    assert_eq!(app.status_as(ADMIN, USERS).await, StatusCode::OK);
    // Both work again once their lockouts end.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        client_credentials(&app, CLIENT.1).await.status(),
        StatusCode::OK
    );
    assert_eq!(password_grant(&app, ANN).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn zero_limits_turn_throttling_off() {
    let app = TestApp::spawn_with(|c| c.login_limits = LoginLimits::off()).await;
    app.user(ANN.0, ANN.1, &[]).await;
    for _ in 0..12 {
        assert_eq!(
            app.status_as((ANN.0, "guess"), USERS).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.status_as(ANN, USERS).await, StatusCode::OK);
}

#[tokio::test]
async fn logins_are_logged_with_user_and_address_and_without_secrets() {
    let db = TestDb::new();
    let mut server = Binary::serve(
        &db.url,
        &[
            "--login-failures-per-user",
            "2",
            "--login-lockout-seconds",
            "60",
        ],
        &[
            ("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1),
            ("RUST_LOG", "info"),
        ],
    );
    let http = client();
    let as_admin = |method: Method, path: &str| {
        http.request(method, server.url(path))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
    };
    let created = as_admin(Method::POST, USERS)
        .json(&json!({"user_name": ANN.0, "user_password": ANN.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = as_admin(Method::POST, "/api/now/table/oauth_entity")
        .json(&json!({"name": "CCaaS", "client_id": CLIENT.0, "client_secret": CLIENT.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let guess = "Wr0ng-Guess-9d1c";
    let ann = |password: &str| {
        http.get(server.url(USERS))
            .basic_auth(ANN.0, Some(password))
            .send()
    };
    assert_eq!(ann(guess).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ann(guess).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        ann(ANN.1).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // An OAuth password grant, and its token used.
    let granted = http
        .post(server.url(TOKEN))
        .header(CONTENT_TYPE, FORM)
        .body(format!(
            "grant_type=password&client_id={}&client_secret={}&username={}&password={}",
            CLIENT.0, CLIENT.1, ADMIN.0, ADMIN.1
        ))
        .send()
        .await
        .unwrap();
    let (status, tokens) = json_of(granted).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let with_token = http
        .get(server.url(USERS))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    server.signal("TERM");
    assert!(server.wait().success());
    let log = server.stderr();
    let has = |parts: &[&str]| log.iter().any(|l| parts.iter().all(|p| l.contains(p)));
    assert!(
        has(&["login failed", "ann", "address=127.0.0.1", "wrong password"]),
        "{log:#?}"
    );
    assert!(has(&["login locked", "ann"]), "{log:#?}");
    assert!(has(&["login refused", "ann", "127.0.0.1"]), "{log:#?}");
    assert!(has(&["login succeeded", "admin", "127.0.0.1"]), "{log:#?}");
    assert!(has(&["OAuth client authenticated", "ccaas"]), "{log:#?}");
    for secret in [
        guess,
        ANN.1,
        ADMIN.1,
        CLIENT.1,
        &access,
        &refresh,
        &basic_credentials((ANN.0, guess)),
        &basic_credentials(ADMIN),
    ] {
        assert!(
            !log.iter().any(|l| l.contains(secret)),
            "{secret} appears in the log: {log:#?}"
        );
    }
}
