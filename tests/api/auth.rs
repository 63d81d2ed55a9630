//! Authentication and authorization: Basic credentials, the 401 envelope, inactive users,
//! password and role changes taking effect at once, role containment, and secrecy of passwords.

use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN, TestApp, assert_error, assert_unauthenticated, base64, basic_credentials, json_of,
    sys_id_of, text_of,
};

const USERS: &str = "/api/now/table/sys_user";
const INTERACTIONS: &str = "/api/now/table/interaction";

/// A Basic `Authorization` header value holding `text`, whatever it is.
fn basic(text: &str) -> String {
    format!("Basic {}", base64(text))
}

#[tokio::test]
async fn no_credentials_is_401_with_the_platform_envelope_and_challenge() {
    let app = TestApp::spawn().await;
    let response = app.anonymous(Method::GET, USERS).send().await.unwrap();
    assert_unauthenticated(response).await;
    // Also for a write, and for a table that does not exist: authentication comes first.
    let response = app
        .anonymous(Method::POST, "/api/now/table/awa_queue")
        .json(&json!({"name": "q"}))
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    let response = app
        .anonymous(Method::GET, "/api/now/table/no_such_table")
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    // Nothing was written.
    let (status, body) = json_of(
        app.admin(Method::GET, "/api/now/table/awa_queue")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"], json!([]));
}

#[tokio::test]
async fn wrong_password_is_401() {
    let app = TestApp::spawn().await;
    let response = app
        .as_user((ADMIN.0, "not-the-password"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    // An empty password, and the right password with different case, are wrong too.
    let response = app
        .as_user((ADMIN.0, ""), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    let response = app
        .as_user(
            (ADMIN.0, ADMIN.1.to_uppercase().as_str()),
            Method::GET,
            USERS,
        )
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

#[tokio::test]
async fn unknown_user_is_401() {
    let app = TestApp::spawn().await;
    let response = app
        .as_user(("nobody", ADMIN.1), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let app = TestApp::spawn().await;
    let user_pass = format!("{}:{}", ADMIN.0, ADMIN.1);
    let no_colon = format!("{}{}", ADMIN.0, ADMIN.1);
    let malformed = [
        "Basic !!!not-base64!!!".to_owned(),
        basic(&no_colon),
        "Basic".to_owned(),
        "Basic ".to_owned(),
        // The right credentials, but not encoded.
        format!("Basic {user_pass}"),
        // The right credentials under another scheme.
        format!("Digest {}", base64(&user_pass)),
        // A bearer token that no token endpoint issued.
        "Bearer 0123456789abcdef0123456789abcdef".to_owned(),
        "Bearer".to_owned(),
    ];
    for header in malformed {
        let response = app
            .anonymous(Method::GET, USERS)
            .header(AUTHORIZATION, &header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert_unauthenticated(response).await;
    }
    // The same credentials, well formed, pass: the refusals above are about the header.
    let response = app
        .anonymous(Method::GET, USERS)
        .header(AUTHORIZATION, basic(&user_pass))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_basic_scheme_name_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let credentials = basic_credentials(ADMIN);
    for scheme in ["basic", "BASIC", "Basic"] {
        let response = app
            .anonymous(Method::GET, USERS)
            .header(AUTHORIZATION, format!("{scheme} {credentials}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "scheme {scheme}");
    }
}

#[tokio::test]
async fn a_password_may_contain_colons() {
    let app = TestApp::spawn().await;
    app.user("colon", "a:b:c", &[]).await;
    assert_eq!(
        app.status_as(("colon", "a:b:c"), USERS).await,
        StatusCode::OK
    );
    assert_eq!(
        app.status_as(("colon", "a"), USERS).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_inactive_user_cannot_authenticate_even_right_after_succeeding() {
    let app = TestApp::spawn().await;
    let id = app.user("alice", "alice-pw", &[]).await;
    // Authenticate successfully first, so a credential cache would hold alice.
    assert_eq!(
        app.status_as(("alice", "alice-pw"), USERS).await,
        StatusCode::OK
    );
    assert_eq!(
        app.status_as(("alice", "alice-pw"), USERS).await,
        StatusCode::OK
    );

    let (status, body) = json_of(
        app.admin(Method::PUT, &format!("{USERS}/{id}"))
            .json(&json!({"active": false}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["active"], "false");

    let response = app
        .as_user(("alice", "alice-pw"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;

    // Reactivated, she is let in again.
    let response = app
        .admin(Method::PUT, &format!("{USERS}/{id}"))
        .json(&json!({"active": "true"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.status_as(("alice", "alice-pw"), USERS).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_user_created_inactive_cannot_authenticate() {
    let app = TestApp::spawn().await;
    app.insert(
        "sys_user",
        json!({"user_name": "dormant", "user_password": "dormant-pw", "active": "false"}),
    )
    .await;
    let response = app
        .as_user(("dormant", "dormant-pw"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

#[tokio::test]
async fn a_user_without_a_password_cannot_authenticate() {
    let app = TestApp::spawn().await;
    app.insert("sys_user", json!({"user_name": "nopass"})).await;
    for password in ["", "nopass", "null"] {
        let response = app
            .as_user(("nopass", password), Method::GET, USERS)
            .send()
            .await
            .unwrap();
        assert_unauthenticated(response).await;
    }
}

#[tokio::test]
async fn a_deleted_user_cannot_authenticate_right_after_succeeding() {
    let app = TestApp::spawn().await;
    let id = app.user("gone", "gone-pw", &["interaction_agent"]).await;
    assert_eq!(
        app.status_as(("gone", "gone-pw"), USERS).await,
        StatusCode::OK
    );
    let response = app
        .admin(Method::DELETE, &format!("{USERS}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .as_user(("gone", "gone-pw"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
}

#[tokio::test]
async fn a_renamed_user_must_use_the_new_name_at_once() {
    let app = TestApp::spawn().await;
    let id = app.user("oldname", "same-pw", &[]).await;
    assert_eq!(
        app.status_as(("oldname", "same-pw"), USERS).await,
        StatusCode::OK
    );
    let response = app
        .admin(Method::PATCH, &format!("{USERS}/{id}"))
        .json(&json!({"user_name": "newname"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .as_user(("oldname", "same-pw"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    assert_eq!(
        app.status_as(("newname", "same-pw"), USERS).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_change_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let id = app.user("bob", "old-secret", &[]).await;
    assert_eq!(
        app.status_as(("bob", "old-secret"), USERS).await,
        StatusCode::OK
    );

    let response = app
        .admin(Method::PUT, &format!("{USERS}/{id}"))
        .json(&json!({"user_password": "new-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app
        .as_user(("bob", "old-secret"), Method::GET, USERS)
        .send()
        .await
        .unwrap();
    assert_unauthenticated(response).await;
    assert_eq!(
        app.status_as(("bob", "new-secret"), USERS).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_missing_role_is_403_operation_failed() {
    let app = TestApp::spawn().await;
    app.user("carol", "carol-pw", &[]).await;
    let response = app
        .as_user(("carol", "carol-pw"), Method::GET, INTERACTIONS)
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert!(detail.is_string(), "{detail}");
    // A 403 is not a 401: no challenge.
    let response = app
        .as_user(("carol", "carol-pw"), Method::GET, INTERACTIONS)
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn an_insert_without_rights_is_403_with_the_platform_detail() {
    let app = TestApp::spawn().await;
    app.user("dave", "dave-pw", &["interaction_agent"]).await;
    let response = app
        .as_user(
            ("dave", "dave-pw"),
            Method::POST,
            "/api/now/table/awa_queue",
        )
        .json(&json!({"name": "sneaky"}))
        .send()
        .await
        .unwrap();
    let detail = assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
    assert_eq!(
        detail,
        "ACL Exception Insert Failed due to security constraints"
    );
    let (_, body) = json_of(
        app.admin(Method::GET, "/api/now/table/awa_queue")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["result"], json!([]), "nothing was inserted");
}

#[tokio::test]
async fn a_role_granted_or_revoked_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    app.user("erin", "erin-pw", &[]).await;
    let erin = ("erin", "erin-pw");
    // Cached as roleless.
    assert_eq!(
        app.status_as(erin, INTERACTIONS).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.status_as(erin, INTERACTIONS).await,
        StatusCode::FORBIDDEN
    );

    let grant = app
        .insert(
            "sys_user_has_role",
            json!({"user": "erin", "role": "interaction_agent"}),
        )
        .await;
    let grant_id = sys_id_of(&grant);
    let (status, body) = json_of(
        app.as_user(erin, Method::GET, INTERACTIONS)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], json!([]));

    let response = app
        .admin(
            Method::DELETE,
            &format!("/api/now/table/sys_user_has_role/{grant_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .as_user(erin, Method::GET, INTERACTIONS)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "Operation Failed").await;
}

#[tokio::test]
async fn a_role_held_through_containment_passes() {
    let app = TestApp::spawn().await;
    app.user("frank", "frank-pw", &["awa_manager"]).await;
    app.user("gina", "gina-pw", &["awa_admin"]).await;
    // awa_manager contains interaction_agent; awa_admin contains awa_manager.
    assert_eq!(
        app.status_as(("frank", "frank-pw"), INTERACTIONS).await,
        StatusCode::OK
    );
    assert_eq!(
        app.status_as(("gina", "gina-pw"), INTERACTIONS).await,
        StatusCode::OK
    );
    // Containment does not make them admins.
    assert_eq!(
        app.status_as(("frank", "frank-pw"), "/api/now/table/oauth_entity")
            .await,
        StatusCode::FORBIDDEN
    );
    // Their effective roles show the contained ones.
    let (_, body) = json_of(
        app.admin(Method::GET, &format!("{USERS}?user_name=frank"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let roles = body["result"][0]["roles"].as_str().unwrap().to_owned();
    let roles: Vec<&str> = roles.split(',').collect();
    assert!(roles.contains(&"awa_manager"), "{roles:?}");
    assert!(roles.contains(&"interaction_agent"), "{roles:?}");
}

#[tokio::test]
async fn a_containment_added_later_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    app.user("hank", "hank-pw", &["awa_agent"]).await;
    let hank = ("hank", "hank-pw");
    let grants = "/api/now/table/sys_user_has_role";
    assert_eq!(app.status_as(hank, grants).await, StatusCode::FORBIDDEN);
    // awa_agent now contains admin: hank becomes an admin through containment.
    app.insert(
        "sys_user_role_contains",
        json!({"role": "awa_agent", "contains": "admin"}),
    )
    .await;
    assert_eq!(app.status_as(hank, grants).await, StatusCode::OK);
}

#[tokio::test]
async fn admin_passes_every_check() {
    let app = TestApp::spawn().await;
    for table in [
        "sys_user",
        "sys_user_role",
        "sys_user_role_contains",
        "sys_user_has_role",
        "interaction",
        "interaction_connector",
        "awa_queue",
        "sys_cs_conversation_member",
        "external_agent_mapping",
        "oauth_entity",
    ] {
        let (status, body) = json_of(
            app.admin(Method::GET, &format!("/api/now/table/{table}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{table}: {body}");
    }
    // Writes too.
    let queue = app
        .insert("awa_queue", json!({"name": "admin queue"}))
        .await;
    let id = sys_id_of(&queue);
    let response = app
        .admin(Method::PATCH, &format!("/api/now/table/awa_queue/{id}"))
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .admin(Method::DELETE, &format!("/api/now/table/awa_queue/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_bootstrapped_admin_exists_with_the_configured_password_and_role_admin() {
    let app = TestApp::spawn().await;
    let (status, body) = json_of(
        app.admin(Method::GET, &format!("{USERS}?user_name=admin"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let users = body["result"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{body}");
    assert_eq!(users[0]["user_name"], "admin");
    assert_eq!(users[0]["roles"], "admin");
    assert_eq!(users[0]["active"], "true");
    assert!(users[0].get("user_password").is_none(), "{body}");
    // The grant is a real sys_user_has_role record.
    let (_, grants) = json_of(
        app.admin(
            Method::GET,
            "/api/now/table/sys_user_has_role?sysparm_display_value=true",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let grants = grants["result"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["role"]["display_value"], "admin");
}

#[tokio::test]
async fn a_random_admin_password_is_generated_when_none_is_configured() {
    let app = TestApp::spawn_with(|c| c.admin_password = None).await;
    // Whatever the password is, it is not empty and not the test one.
    assert_eq!(app.status_as(ADMIN, USERS).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.status_as(("admin", ""), USERS).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Asserts `text` carries neither the plaintext nor any Argon2 hash.
fn assert_no_secret(text: &str, plaintext: &str) {
    assert!(!text.contains(plaintext), "password leaked: {text}");
    assert!(!text.contains("$argon2"), "hash leaked: {text}");
    assert!(!text.contains("user_password"), "field leaked: {text}");
}

#[tokio::test]
async fn the_password_never_appears_in_a_response() {
    let app = TestApp::spawn().await;
    let secret = "Plaintext-Sentinel-7f3a";
    let (status, text) = text_of(
        app.admin(Method::POST, USERS)
            .json(&json!({"user_name": "ivy", "user_password": secret}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_no_secret(&text, secret);
    let created: Value = serde_json::from_str(&text).unwrap();
    let id = sys_id_of(&created["result"]);
    let one = format!("{USERS}/{id}");

    let (status, text) = text_of(
        app.admin(Method::PUT, &one)
            .json(&json!({"user_password": format!("{secret}-2"), "email": "ivy@example.com"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_no_secret(&text, secret);

    for path in [
        one.clone(),
        format!("{one}?sysparm_fields=user_password,user_name"),
        format!("{one}?sysparm_display_value=all"),
        format!("{USERS}?user_name=ivy"),
        format!("{USERS}?sysparm_fields=user_password"),
    ] {
        for accept in ["application/json", "application/xml"] {
            let (status, text) = text_of(
                app.admin(Method::GET, &path)
                    .header("accept", accept)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{path}: {text}");
            assert_no_secret(&text, secret);
        }
    }
    // The new password works; so it was stored, just never shown.
    assert_eq!(
        app.status_as(("ivy", format!("{secret}-2").as_str()), USERS)
            .await,
        StatusCode::OK
    );
    // The same for the admin's own record.
    let (_, text) = text_of(app.admin(Method::GET, USERS).send().await.unwrap()).await;
    assert_no_secret(&text, ADMIN.1);
}

#[tokio::test]
async fn the_password_hash_cannot_be_probed_by_query() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(
            Method::GET,
            &format!("{USERS}?sysparm_query=user_passwordSTARTSWITH$argon2"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// When a credential is not in the cache (first use, or after it expired), the requests a
/// client has in flight with it wait for one Argon2 verification instead of each running one.
#[tokio::test]
async fn concurrent_requests_with_an_uncached_credential_verify_it_once() {
    let app = TestApp::spawn().await;
    app.user("ann", "Secret#123", &["interaction_agent"]).await;
    let at_once = |password: &str, n: usize| {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..n {
            let request = app.as_user(("ann", password), Method::GET, INTERACTIONS);
            requests.spawn(async move { request.send().await.unwrap().status() });
        }
        requests.join_all()
    };
    let before = app.state.auth.password_checks();
    let statuses = at_once("Secret#123", 16).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(app.state.auth.password_checks(), before + 1);
    // A wrong password is verified (and fails) every time: no failure is cached.
    let statuses = at_once("guess", 3).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(app.state.auth.password_checks(), before + 4);
}
