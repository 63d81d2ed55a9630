//! Reset and named snapshots (docs/control-plane.md): the world put back as the server started
//! it, or as a snapshot holds it, with its numbers and tokens; atomic under concurrent load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::fixtures::Fixture;

use crate::fixtures::WORLD;
use crate::helpers::{ADMIN, TestApp, json_of};

async fn control(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.admin(method, &format!("/_switchboard{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = match text.is_empty() {
        true => Value::Null,
        false => serde_json::from_str(&text).unwrap_or(Value::String(text)),
    };
    (status, body)
}

async fn save(app: &TestApp, name: &str) -> Value {
    let (status, body) =
        control(app, Method::POST, "/snapshots", Some(json!({"name": name}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["result"].clone()
}

async fn restore(app: &TestApp, name: &str) -> (StatusCode, Value) {
    control(
        app,
        Method::POST,
        &format!("/snapshots/{name}/restore"),
        None,
    )
    .await
}

async fn queue_names(app: &TestApp) -> Vec<String> {
    let response = app
        .admin(
            Method::GET,
            "/api/now/table/awa_queue?sysparm_fields=name&sysparm_query=ORDERBYname",
        )
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn new_interaction_number(app: &TestApp) -> String {
    let created = app.insert("interaction", json!({"type": "chat"})).await;
    created["number"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn reset_puts_back_the_start_fixtures_and_numbers_and_keeps_the_admin() {
    let world = Fixture::parse("world.yaml", WORLD).unwrap();
    let app = TestApp::spawn_with(|c| c.fixtures = vec![world]).await;
    let first = new_interaction_number(&app).await;
    app.insert("awa_queue", json!({"name": "Made by a test"}))
        .await;
    app.user("made.by.test", "made-password", &["interaction_agent"])
        .await;
    // A fixture record changed by a client.
    let response = app
        .admin(Method::GET, "/api/now/table/sys_user?user_name=ana.agent")
        .send()
        .await
        .unwrap();
    let (_, ana) = json_of(response).await;
    let ana = ana["result"][0]["sys_id"].as_str().unwrap().to_owned();
    let response = app
        .admin(Method::DELETE, &format!("/api/now/table/sys_user/{ana}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let (status, body) = control(&app, Method::POST, "/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["loaded"]["created"], 10, "{body}");
    assert_eq!(queue_names(&app).await, ["Fixture queue"]);
    // The admin (who reset) still signs in; the test's user is gone; the fixture's is back,
    // and its credentials work at once (no credential cached before the reset survives it).
    assert_eq!(
        app.status_as(ADMIN, "/api/now/table/sys_user").await,
        StatusCode::OK
    );
    assert_eq!(
        app.status_as(
            ("made.by.test", "made-password"),
            "/api/now/table/interaction"
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.status_as(("ana.agent", "ana-password"), "/api/now/table/interaction")
            .await,
        StatusCode::OK
    );
    // Numbers start over as they did at start.
    assert_eq!(new_interaction_number(&app).await, first);
}

#[tokio::test]
async fn reset_without_fixtures_leaves_only_the_built_ins() {
    let app = TestApp::spawn().await;
    app.insert("awa_queue", json!({"name": "Gone after reset"}))
        .await;
    let (status, body) = control(&app, Method::POST, "/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(queue_names(&app).await.is_empty());
    let response = app
        .admin(Method::GET, "/api/now/table/sys_user")
        .send()
        .await
        .unwrap();
    let (_, users) = json_of(response).await;
    let names: Vec<&str> = users["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin"]);
    let response = app
        .admin(Method::GET, "/api/now/table/sys_user_role?name=awa_agent")
        .send()
        .await
        .unwrap();
    let (_, roles) = json_of(response).await;
    assert_eq!(
        roles["result"].as_array().unwrap().len(),
        1,
        "built-in roles stay: {roles}"
    );
}

#[tokio::test]
async fn a_snapshot_restores_records_numbers_and_tokens_and_is_listed_and_deleted() {
    let app = TestApp::spawn().await;
    app.insert("awa_queue", json!({"name": "Before"})).await;
    let before = new_interaction_number(&app).await;
    let saved = save(&app, "before-the-test").await;
    assert_eq!(saved["name"], "before-the-test");
    assert!(saved["records"].as_u64().unwrap() > 0, "{saved}");

    // After the snapshot: a record, a number and an OAuth token.
    app.insert("awa_queue", json!({"name": "After"})).await;
    let after = new_interaction_number(&app).await;
    app.insert(
        "oauth_entity",
        json!({"name": "App", "client_id": "snap-client", "client_secret": "snap-secret"}),
    )
    .await;
    let token = app
        .form_post(
            "/oauth_token.do",
            &[
                ("grant_type", "password"),
                ("client_id", "snap-client"),
                ("client_secret", "snap-secret"),
                ("username", ADMIN.0),
                ("password", ADMIN.1),
            ],
        )
        .send()
        .await
        .unwrap();
    let (status, token) = json_of(token).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let with_token = || {
        app.anonymous(Method::GET, "/api/now/table/awa_queue")
            .bearer_auth(&bearer)
            .send()
    };
    assert_eq!(with_token().await.unwrap().status(), StatusCode::OK);

    let (status, body) = restore(&app, "before-the-test").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(queue_names(&app).await, ["Before"]);
    assert_eq!(
        with_token().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // The number the restored world gives next is the one it gave after `before` first.
    assert_eq!(new_interaction_number(&app).await, after);
    assert!(after > before);

    // Saved under a name again, a snapshot is replaced; the list names each once.
    save(&app, "second").await;
    save(&app, "second").await;
    let (status, list) = control(&app, Method::GET, "/snapshots", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before-the-test", "second"]);

    let (status, _) = control(&app, Method::DELETE, "/snapshots/second", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = restore(&app, "second").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "failure");
    let (status, body) = control(&app, Method::DELETE, "/snapshots/second", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A name that is not one is refused before anything runs.
    let (status, body) = control(
        &app,
        Method::POST,
        "/snapshots",
        Some(json!({"name": "a b'; --"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = control(&app, Method::POST, "/snapshots", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn only_an_admin_resets_or_restores() {
    let app = TestApp::spawn().await;
    save(&app, "kept").await;
    app.user("not.admin", "not-admin-password", &["interaction_admin"])
        .await;
    for (method, path) in [
        (Method::POST, "/_switchboard/reset"),
        (Method::POST, "/_switchboard/snapshots/kept/restore"),
        (Method::GET, "/_switchboard/snapshots"),
        (Method::DELETE, "/_switchboard/snapshots/kept"),
    ] {
        let response = app
            .as_user(("not.admin", "not-admin-password"), method.clone(), path)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    assert_eq!(
        app.status_as(
            ("not.admin", "not-admin-password"),
            "/api/now/table/awa_queue"
        )
        .await,
        StatusCode::OK,
        "nothing was reset"
    );
}

/// Two worlds, A (3 queues named A...) and B (7 named B...), swapped by restores and resets
/// while readers list queues with their count. A page whose count is not its length, or that
/// holds queues of both worlds, saw a mixed world.
#[tokio::test]
async fn reset_and_restore_under_concurrent_load_never_show_a_mixed_world() {
    let app = Arc::new(TestApp::spawn().await);
    for n in 0..7 {
        app.insert("awa_queue", json!({"name": format!("B{n}")}))
            .await;
    }
    save(&app, "b").await;
    control(&app, Method::POST, "/reset", None).await;
    for n in 0..3 {
        app.insert("awa_queue", json!({"name": format!("A{n}")}))
            .await;
    }
    save(&app, "a").await;

    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..6 {
        let (app, stop, pages) = (app.clone(), stop.clone(), pages.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = app
                    .admin(Method::GET, "/api/now/table/awa_queue?sysparm_fields=name")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let total: usize = response.headers()["x-total-count"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let body: Value = response.json().await.unwrap();
                let names: Vec<String> = body["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| q["name"].as_str().unwrap().to_owned())
                    .collect();
                let world: Vec<char> = names.iter().map(|n| n.chars().next().unwrap()).collect();
                let whole = match world.first() {
                    Some('A') => names.len() == 3 && world.iter().all(|w| *w == 'A'),
                    Some('B') => names.len() == 7 && world.iter().all(|w| *w == 'B'),
                    _ => names.is_empty(),
                };
                assert!(
                    whole && total == names.len(),
                    "a mixed world: count {total}, {names:?}"
                );
                seen.push(world.first().copied());
                pages.fetch_add(1, Ordering::Relaxed);
            }
            seen
        }));
    }
    // Writers too: their records land in whichever world they commit in, never half.
    let writer = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let response = app
                    .admin(Method::POST, "/api/now/table/interaction")
                    .json(&json!({"type": "chat", "short_description": format!("load {n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                n += 1;
            }
        })
    };
    for round in 0..12 {
        let name = if round % 2 == 0 { "b" } else { "a" };
        let (status, body) = restore(&app, name).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if round % 4 == 3 {
            let (status, body) = control(&app, Method::POST, "/reset", None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    restore(&app, "a").await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let mut worlds = std::collections::HashSet::new();
    for reader in readers {
        worlds.extend(reader.await.unwrap());
    }
    assert!(pages.load(Ordering::Relaxed) > 12, "the readers read");
    assert!(
        worlds.contains(&Some('B')),
        "the readers saw world B: {worlds:?}"
    );
    assert_eq!(queue_names(&app).await, ["A0", "A1", "A2"]);
}
