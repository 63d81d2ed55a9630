//! The OAuth JWT bearer grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`, RFC 7523), as
//! Genesys Cloud signs in to the platform: the application's client id and secret, and an
//! `assertion` signed with the key of the application's JWT profile (`oauth_entity`'s
//! `jwt_algorithm_family`, `jwt_key`, `user_field`, `clock_skew`, `enable_jti_verification`).
//! HS, RS and ES keys; every refusal is the platform's OAuth error.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, header, json_of, sorted_keys, sys_id_of};

const TOKEN: &str = "/oauth_token.do";
const USERS: &str = "/api/now/table/sys_user";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SHARED_KEY: &str = "genesys-shared-key-of-at-least-32-bytes!";
/// A test-only RSA key pair (tests/api/keys/README.md).
const RSA_PRIVATE: &str = include_str!("keys/jwt_test_rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("keys/jwt_test_rsa_public.pem");

struct Client {
    id: String,
    secret: String,
    sys_id: String,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Registers an application with a JWT profile (`extra` adds or overrides fields).
async fn register(app: &TestApp, name: &str, extra: Value) -> Client {
    let id = format!("{name}-client-id");
    let secret = format!("{name}-client-secret");
    let mut body = json!({
        "name": name, "client_id": id, "client_secret": secret,
        "jwt_algorithm_family": "HS", "jwt_key": SHARED_KEY,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let created = app.insert("oauth_entity", body).await;
    Client {
        id,
        secret,
        sys_id: sys_id_of(&created),
    }
}

/// Claims as Genesys sends them: iss and aud the client id, sub the user, a minute to live.
fn claims(client: &Client, sub: &str) -> Value {
    let now = now();
    json!({
        "iss": client.id, "aud": client.id, "sub": sub,
        "iat": now, "exp": now + 60, "jti": format!("jti-{now}-{}", rand_suffix()),
    })
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn hs256(claims: &Value) -> String {
    sign(
        claims,
        Algorithm::HS256,
        &EncodingKey::from_secret(SHARED_KEY.as_bytes()),
    )
}

fn sign(claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

async fn jwt_request(app: &TestApp, client: &Client, assertion: &str) -> Response {
    let mut pairs = vec![
        ("grant_type", GRANT),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
    ];
    if !assertion.is_empty() {
        pairs.push(("assertion", assertion));
    }
    app.form_post(TOKEN, &pairs).send().await.unwrap()
}

/// A successful grant: an access token only, for 1799 s. Returns the token.
async fn assert_granted(response: Response) -> String {
    assert_eq!(header(&response, CACHE_CONTROL), Some("no-store"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sorted_keys(&body),
        ["access_token", "expires_in", "scope", "token_type"]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "useraccount");
    assert_eq!(body["expires_in"], 1799);
    body["access_token"].as_str().unwrap().to_owned()
}

/// The platform's OAuth refusal: 401 `server_error` / `access_denied`.
async fn assert_access_denied(response: Response) {
    assert_eq!(header(&response, CACHE_CONTROL), Some("no-store"));
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body,
        json!({"error": "server_error", "error_description": "access_denied"})
    );
}

async fn table_status(app: &TestApp, token: &str) -> StatusCode {
    app.anonymous(Method::GET, USERS)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_genesys_style_sign_in_with_hs256_works_on_the_table_api() {
    let app = TestApp::spawn().await;
    app.user("genesys.agent", "agent-pw-1", &["admin"]).await;
    let client = register(&app, "genesys", json!({})).await;
    let token =
        assert_granted(jwt_request(&app, &client, &hs256(&claims(&client, "genesys.agent"))).await)
            .await;
    assert_eq!(table_status(&app, &token).await, StatusCode::OK);
    // HS384 and HS512 with the same shared key.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let assertion = sign(
            &claims(&client, "genesys.agent"),
            alg,
            &EncodingKey::from_secret(SHARED_KEY.as_bytes()),
        );
        assert_granted(jwt_request(&app, &client, &assertion).await).await;
    }
}

#[tokio::test]
async fn rs256_with_a_public_key_and_sub_matched_on_email() {
    let app = TestApp::spawn().await;
    let user = app.user("rsa.agent", "agent-pw-1", &["admin"]).await;
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{user}"))
        .json(&json!({"email": "rsa.agent@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let client = register(
        &app,
        "genesys-rsa",
        json!({"jwt_algorithm_family": "RS", "jwt_key": RSA_PUBLIC, "user_field": "email"}),
    )
    .await;
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let assertion = sign(
        &claims(&client, "rsa.agent@example.com"),
        Algorithm::RS256,
        &key,
    );
    let token = assert_granted(jwt_request(&app, &client, &assertion).await).await;
    assert_eq!(table_status(&app, &token).await, StatusCode::OK);
    // The key is write-only, like the secret.
    let (_, body) = json_of(
        app.admin(
            Method::GET,
            &format!("/api/now/table/oauth_entity/{}", client.sys_id),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert!(body["result"].get("jwt_key").is_none(), "{body}");
    // An HS assertion signed with the public key's text is not accepted for an RS profile.
    let forged = sign(
        &claims(&client, "rsa.agent@example.com"),
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    );
    assert_access_denied(jwt_request(&app, &client, &forged).await).await;
}

/// Each refusal on an application of its own: five failures lock an application's assertions.
#[tokio::test]
async fn every_refusal_is_the_oauth_error() {
    let app = TestApp::spawn().await;
    app.user("jwt.agent", "agent-pw-1", &[]).await;
    let dormant = app.user("jwt.dormant", "dormant-pw-1", &[]).await;
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{dormant}"))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let other = register(&app, "other", json!({})).await;
    let mut n = 0;
    let mut fresh = async || {
        n += 1;
        register(&app, &format!("refusal{n}"), json!({"clock_skew": 30})).await
    };

    // A bad signature.
    let client = fresh().await;
    let key = EncodingKey::from_secret(b"not-the-shared-key-not-the-shared");
    let bad = sign(&claims(&client, "jwt.agent"), Algorithm::HS256, &key);
    assert_access_denied(jwt_request(&app, &client, &bad).await).await;
    // iss or aud not the client id.
    for claim in ["iss", "aud"] {
        let client = fresh().await;
        let mut c = claims(&client, "jwt.agent");
        c[claim] = json!(other.id);
        assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;
    }
    // Expired (past the skew), not yet valid, iat in the future beyond the skew.
    let client = fresh().await;
    let mut c = claims(&client, "jwt.agent");
    c["exp"] = json!(now() - 120);
    c["iat"] = json!(now() - 300);
    assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;
    let client = fresh().await;
    let mut c = claims(&client, "jwt.agent");
    c["nbf"] = json!(now() + 120);
    assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;
    let client = fresh().await;
    let mut c = claims(&client, "jwt.agent");
    c["iat"] = json!(now() + 120);
    assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;
    // Within the skew: accepted.
    let mut c = claims(&client, "jwt.agent");
    c["iat"] = json!(now() + 10);
    c["exp"] = json!(now() - 10);
    assert_granted(jwt_request(&app, &client, &hs256(&c)).await).await;
    // An unknown sub; an inactive user.
    let client = fresh().await;
    let c = claims(&client, "nobody");
    assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;
    let client = fresh().await;
    let c = claims(&client, "jwt.dormant");
    assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;
    // A wrong client secret, with a good assertion.
    let client = fresh().await;
    let wrong = Client {
        id: client.id.clone(),
        secret: "wrong".into(),
        sys_id: client.sys_id.clone(),
    };
    let c = claims(&client, "jwt.agent");
    assert_access_denied(jwt_request(&app, &wrong, &hs256(&c)).await).await;
    // Not a JWT at all.
    assert_access_denied(jwt_request(&app, &client, "not.a.jwt").await).await;
    // A missing assertion: invalid_request.
    let (status, body) = json_of(jwt_request(&app, &client, "").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "Missing parameter: assertion");
}

#[tokio::test]
async fn an_application_without_a_jwt_profile_is_refused() {
    let app = TestApp::spawn().await;
    app.user("jwt.agent", "agent-pw-1", &[]).await;
    let client = register(
        &app,
        "plain",
        json!({"jwt_algorithm_family": null, "jwt_key": null}),
    )
    .await;
    assert_access_denied(jwt_request(&app, &client, &hs256(&claims(&client, "jwt.agent"))).await)
        .await;
}

#[tokio::test]
async fn an_unknown_algorithm_family_is_refused_when_written() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "odd", "client_id": "odd-client", "client_secret": "s",
                      "jwt_algorithm_family": "PS", "jwt_key": SHARED_KEY});
    let response = app
        .admin(Method::POST, "/api/now/table/oauth_entity")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let said = answer["error"].to_string();
    assert!(said.contains("jwt_algorithm_family"), "{answer}");
    // Any case of a known family is kept.
    register(&app, "lower", json!({"jwt_algorithm_family": "hs"})).await;
}

#[tokio::test]
async fn a_replayed_jti_is_refused_unless_the_profile_turns_jti_checking_off() {
    let app = TestApp::spawn().await;
    app.user("jwt.agent", "agent-pw-1", &[]).await;
    let client = register(&app, "replay", json!({})).await;
    let assertion = hs256(&claims(&client, "jwt.agent"));
    assert_granted(jwt_request(&app, &client, &assertion).await).await;
    assert_access_denied(jwt_request(&app, &client, &assertion).await).await;
    // Without a jti, refused while jti verification is on.
    let mut c = claims(&client, "jwt.agent");
    c.as_object_mut().unwrap().remove("jti");
    assert_access_denied(jwt_request(&app, &client, &hs256(&c)).await).await;

    let lax = register(&app, "lax", json!({"enable_jti_verification": false})).await;
    let assertion = hs256(&claims(&lax, "jwt.agent"));
    assert_granted(jwt_request(&app, &lax, &assertion).await).await;
    assert_granted(jwt_request(&app, &lax, &assertion).await).await;
}

#[tokio::test]
async fn failed_assertions_lock_the_application_as_failed_logins_do() {
    let app = TestApp::spawn().await;
    app.user("jwt.agent", "agent-pw-1", &[]).await;
    let client = register(&app, "locked", json!({})).await;
    let mut last = StatusCode::OK;
    for _ in 0..50 {
        let response = jwt_request(&app, &client, "not.a.jwt").await;
        last = response.status();
        if last == StatusCode::TOO_MANY_REQUESTS {
            let (_, body) = json_of(response).await;
            assert_eq!(body["error"], "temporarily_unavailable", "{body}");
            break;
        }
        assert_eq!(last, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn es256_with_an_ec_public_key() {
    let app = TestApp::spawn().await;
    app.user("ec.agent", "agent-pw-1", &["admin"]).await;
    // A P-256 key pair made for this test.
    let pair = rcgen::KeyPair::generate().unwrap();
    let client = register(
        &app,
        "genesys-ec",
        json!({"jwt_algorithm_family": "ES", "jwt_key": pair.public_key_pem()}),
    )
    .await;
    let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let assertion = sign(&claims(&client, "ec.agent"), Algorithm::ES256, &key);
    let token = assert_granted(jwt_request(&app, &client, &assertion).await).await;
    assert_eq!(table_status(&app, &token).await, StatusCode::OK);
}

/// The profile's key may be the signer's X.509 certificate (PEM), as the platform's JWT
/// profile takes a certificate: the public key is read from it.
#[tokio::test]
async fn es256_with_the_signers_certificate_as_the_key() {
    let app = TestApp::spawn().await;
    app.user("cert.agent", "agent-pw-1", &[]).await;
    let pair = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["genesys.example".to_owned()]).unwrap();
    let certificate = params.self_signed(&pair).unwrap();
    let client = register(
        &app,
        "genesys-cert",
        json!({"jwt_algorithm_family": "ES", "jwt_key": certificate.pem()}),
    )
    .await;
    let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let assertion = sign(&claims(&client, "cert.agent"), Algorithm::ES256, &key);
    assert_granted(jwt_request(&app, &client, &assertion).await).await;
    // Another key's signature does not pass against the certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    let other = EncodingKey::from_ec_pem(other.serialize_pem().as_bytes()).unwrap();
    let forged = sign(&claims(&client, "cert.agent"), Algorithm::ES256, &other);
    assert_access_denied(jwt_request(&app, &client, &forged).await).await;
}

/// One assertion sent eight times at once: exactly one grant, the others refused as replays
/// (on PostgreSQL the unique index on the application and `jti` decides between transactions
/// that each found the `jti` unused).
#[tokio::test]
async fn a_jti_raced_by_concurrent_grants_is_granted_once() {
    let app = TestApp::spawn().await;
    app.user("jwt.agent", "agent-pw-1", &[]).await;
    let client = register(&app, "race", json!({})).await;
    let assertion = hs256(&claims(&client, "jwt.agent"));
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let pairs = [
            ("grant_type", GRANT),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_str()),
            ("assertion", assertion.as_str()),
        ];
        requests.spawn(app.form_post(TOKEN, &pairs).send());
    }
    let mut granted = 0;
    for response in requests.join_all().await {
        let response = response.unwrap();
        if response.status() == StatusCode::OK {
            assert_granted(response).await;
            granted += 1;
        } else {
            assert_access_denied(response).await;
        }
    }
    assert_eq!(granted, 1);
}
