//! Races on credentials and references: a grant racing the change that should stop it, and a
//! delete racing the writes that reference what it deletes. Whatever the interleaving, once
//! the change has been answered nothing it should have stopped may work, no reference may
//! outlive its target, and no request may get a 500. Each test runs on one node and, in the
//! PostgreSQL pass, on two nodes sharing the database (requests alternate between them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, assert_postgres_pass, fetch_records, json_of, sys_id_of};
use switchboard::auth::throttle::LoginLimits;
use switchboard::state::Config;

/// Rounds per test: each round is one race.
const ROUNDS: usize = 6;
/// Clients asking for tokens at once.
const GRANTERS: usize = 6;
/// Grants each client still asks for once the change has been answered.
const AFTER_CHANGE: usize = 3;

/// The nodes a test runs on: one, or two on one PostgreSQL database. Failed logins are not
/// throttled: the refused grants of a race are failures by design.
async fn nodes(two: bool, tweak: fn(&mut Config)) -> Vec<Arc<TestApp>> {
    let tweaked = |config: &mut Config| {
        config.login_limits = LoginLimits::off();
        tweak(config);
    };
    let first = TestApp::spawn_with(tweaked).await;
    let mut nodes = Vec::new();
    if two {
        nodes.push(Arc::new(first.another_node(tweaked).await));
    }
    nodes.insert(0, Arc::new(first));
    nodes
}

fn no_cache(config: &mut Config) {
    config.credential_cache_ttl = Duration::ZERO;
}

fn default_cache(_: &mut Config) {}

/// Tokens a grant handed out.
#[derive(Debug, Clone)]
struct Issued {
    access: String,
    refresh: Option<String>,
}

async fn token(node: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = node
        .anonymous(Method::POST, "/oauth_token.do")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

/// Runs `grant` from [`GRANTERS`] clients in a loop on alternating nodes while `change` runs;
/// each client goes on for [`AFTER_CHANGE`] grants after the change was answered. Returns the
/// tokens handed out. No answer may be a 5xx.
async fn grants_racing(
    nodes: &[Arc<TestApp>],
    grant: Vec<(&'static str, String)>,
    change: impl Future<Output = ()>,
) -> Vec<Issued> {
    let grant = Arc::new(grant);
    let changed = Arc::new(AtomicBool::new(false));
    let mut clients = JoinSet::new();
    for i in 0..GRANTERS {
        let (grant, changed) = (grant.clone(), changed.clone());
        let nodes = nodes.to_vec();
        clients.spawn(async move {
            let mut issued = Vec::new();
            let mut after = 0;
            for n in 0..200 {
                if changed.load(Ordering::SeqCst) {
                    after += 1;
                    if after > AFTER_CHANGE {
                        break;
                    }
                }
                let node = nodes[(i + n) % nodes.len()].clone();
                let pairs: Vec<(&str, &str)> =
                    grant.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (status, body) = token(&node, &pairs).await;
                assert!(
                    !status.is_server_error(),
                    "a grant answered {status}: {body}"
                );
                if status == StatusCode::OK {
                    issued.push(Issued {
                        access: body["access_token"].as_str().unwrap().to_owned(),
                        refresh: body["refresh_token"].as_str().map(str::to_owned),
                    });
                }
            }
            issued
        });
    }
    // Let the grants get going, then make the change.
    tokio::time::sleep(Duration::from_millis(30)).await;
    change.await;
    changed.store(true, Ordering::SeqCst);
    let mut issued = Vec::new();
    while let Some(done) = clients.join_next().await {
        issued.extend(done.unwrap());
    }
    issued
}

/// Every token in `issued` is dead on every node: the access token opens nothing and the
/// refresh token (if any) gets no new access token.
async fn assert_all_dead(nodes: &[Arc<TestApp>], issued: &[Issued], client: &(String, String)) {
    for node in nodes {
        for tokens in issued {
            let response = node
                .anonymous(Method::GET, "/api/now/table/sys_user_role?sysparm_limit=1")
                .bearer_auth(&tokens.access)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "an access token issued during the change still works ({} issued)",
                issued.len()
            );
            if let Some(refresh) = &tokens.refresh {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", client.0.as_str()),
                    ("client_secret", client.1.as_str()),
                    ("refresh_token", refresh.as_str()),
                ];
                let (status, body) = token(node, &form).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "a refresh token issued during the change still works: {body}"
                );
            }
        }
    }
}

/// Registers an OAuth application acting as `user`; its (client_id, client_secret, sys_id).
async fn register(app: &TestApp, name: &str, user: &str) -> (String, String, String) {
    let (id, secret) = (format!("{name}-id"), format!("{name}-secret"));
    let created = app
        .insert(
            "oauth_entity",
            json!({"name": name, "client_id": id, "client_secret": secret, "user": user}),
        )
        .await;
    (id, secret, sys_id_of(&created))
}

// ---------------------------------------------------------------------------------------------
// A password grant racing a password change
// ---------------------------------------------------------------------------------------------

/// Password grants with the old password race an admin's change of it: once the change has
/// been answered, no token pair those grants got may work, whichever side of the change's
/// commit each grant fell on (issued before: revoked by the change; after: refused).
async fn password_grants_racing_a_password_change(two_nodes: bool, tweak: fn(&mut Config)) {
    let nodes = nodes(two_nodes, tweak).await;
    let app = nodes[0].clone();
    let owner = app.user("oauth.owner", "owner-password", &[]).await;
    let (id, secret, _) = register(&app, "racer", &owner).await;
    let mut raced = 0;
    for round in 0..ROUNDS {
        let name = format!("agent{round}");
        let user = app.user(&name, "old-password", &["awa_agent"]).await;
        let form = vec![
            ("grant_type", "password".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
            ("username", name.clone()),
            ("password", "old-password".to_owned()),
        ];
        let admin = nodes[round % nodes.len()].clone();
        let change = async move {
            let response = admin
                .admin(Method::PATCH, &format!("/api/now/table/sys_user/{user}"))
                .json(&json!({"user_password": "new-password"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "round {round}");
        };
        let issued = grants_racing(&nodes, form, change).await;
        raced += usize::from(!issued.is_empty());
        assert_all_dead(&nodes, &issued, &(id.clone(), secret.clone())).await;
    }
    assert!(
        raced > 0,
        "no grant succeeded before a change: nothing raced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_grant_racing_a_password_change_leaves_no_working_token_uncached() {
    password_grants_racing_a_password_change(false, no_cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_grant_racing_a_password_change_leaves_no_working_token_cached() {
    password_grants_racing_a_password_change(false, default_cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_password_grant_racing_a_password_change_on_two_nodes_leaves_no_working_token() {
    assert_postgres_pass();
    password_grants_racing_a_password_change(true, default_cache).await;
}

// ---------------------------------------------------------------------------------------------
// Client-credentials grants racing the application's delete
// ---------------------------------------------------------------------------------------------

/// `client_credentials` grants race the application's delete: once the delete has been
/// answered, no token of the application exists or works.
async fn grants_racing_an_application_delete(two_nodes: bool) {
    let nodes = nodes(two_nodes, default_cache).await;
    let app = nodes[0].clone();
    let user = app.user("integration", "integration-password", &[]).await;
    let mut raced = 0;
    for round in 0..ROUNDS {
        let (id, secret, entity) = register(&app, &format!("doomed{round}"), &user).await;
        let form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ];
        let admin = nodes[round % nodes.len()].clone();
        let doomed = entity.clone();
        let change = async move {
            let response = admin
                .admin(
                    Method::DELETE,
                    &format!("/api/now/table/oauth_entity/{doomed}"),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "round {round}");
        };
        let issued = grants_racing(&nodes, form, change).await;
        raced += usize::from(!issued.is_empty());
        let left = fetch_records(&app, "oauth_credential", &format!("client={entity}")).await;
        assert!(
            left.is_empty(),
            "round {round}: tokens of a deleted application remain: {left:?}"
        );
        assert_all_dead(&nodes, &issued, &(id, secret)).await;
    }
    assert!(
        raced > 0,
        "no grant succeeded before a delete: nothing raced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grants_racing_an_application_delete_leave_no_token() {
    grants_racing_an_application_delete(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn grants_racing_an_application_delete_on_two_nodes_leave_no_token() {
    assert_postgres_pass();
    grants_racing_an_application_delete(true).await;
}

// ---------------------------------------------------------------------------------------------
// A user's delete racing writes that reference the user
// ---------------------------------------------------------------------------------------------

const MAPPER: (&str, &str) = ("mapper", "mapper-password");

/// A user's delete races, all at once, agent mapping upserts, role grants and interactions
/// opened for the user. Each referencing write either lands before the delete (and is then
/// deleted or cleared by it) or is refused with a 400; the delete succeeds; afterwards
/// nothing refers to the user, and no answer was a 5xx.
async fn a_delete_racing_references(two_nodes: bool) {
    let nodes = nodes(two_nodes, default_cache).await;
    let app = nodes[0].clone();
    app.user(MAPPER.0, MAPPER.1, &["interaction_agent"]).await;
    let roles = ["awa_agent", "awa_manager", "interaction_agent"];
    for round in 0..ROUNDS * 2 {
        let inbound = format!("Voice{round}");
        app.insert(
            "sys_cs_provider_application",
            json!({"name": format!("Voice {round}"), "inbound_id": inbound,
                   "provider": "Acme", "active": true}),
        )
        .await;
        let user = app
            .user(&format!("leaving{round}"), "leaving-password", &[])
            .await;
        let node = |i: usize| nodes[(round + i) % nodes.len()].clone();
        let mut requests =
            vec![node(0).admin(Method::DELETE, &format!("/api/now/table/sys_user/{user}"))];
        for (i, role) in roles.iter().enumerate() {
            requests.push(
                node(i + 1)
                    .admin(Method::POST, "/api/now/table/sys_user_has_role")
                    .json(&json!({"user": user, "role": role})),
            );
            requests.push(
                node(i)
                    .as_user(
                        MAPPER,
                        Method::PUT,
                        &format!(
                            "/api/sn_ct_ctr_it_core/agent_mapping/agent/{user}/inboundId/{inbound}"
                        ),
                    )
                    .json(&json!({"external_agent_id": format!("ext-{round}-{i}")})),
            );
            requests.push(
                node(i + 1)
                    .admin(Method::POST, "/api/now/table/interaction")
                    .json(&json!({"opened_for": user, "short_description": "race"})),
            );
        }
        let mut sent = JoinSet::new();
        let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
        for (i, request) in requests.into_iter().enumerate() {
            let barrier = barrier.clone();
            sent.spawn(async move {
                barrier.wait().await;
                let response = request.send().await.unwrap();
                let status = response.status();
                (i, status, response.text().await.unwrap())
            });
        }
        while let Some(done) = sent.join_next().await {
            let (i, status, body) = done.unwrap();
            assert!(
                !status.is_server_error(),
                "round {round}: request {i} answered {status}: {body}"
            );
            if i == 0 {
                assert_eq!(status, StatusCode::NO_CONTENT, "round {round}: {body}");
            } else {
                assert!(
                    status.is_success() || status == StatusCode::BAD_REQUEST,
                    "round {round}: request {i} answered {status}: {body}"
                );
            }
        }
        for (table, field) in [
            ("sys_user_has_role", "user"),
            ("external_agent_mapping", "user"),
            ("interaction", "opened_for"),
            ("sys_user", "sys_id"),
        ] {
            let left = fetch_records(&app, table, &format!("{field}={user}")).await;
            assert!(
                left.is_empty(),
                "round {round}: {table} still refers to the deleted user: {left:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_delete_racing_references_leaves_no_orphan() {
    a_delete_racing_references(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_user_delete_racing_references_on_two_nodes_leaves_no_orphan() {
    assert_postgres_pass();
    a_delete_racing_references(true).await;
}

// ---------------------------------------------------------------------------------------------
// A node that cannot hear the others
// ---------------------------------------------------------------------------------------------

/// Runs `statement` on the PostgreSQL server and returns the first column of its first row.
async fn pg_scalar(statement: &str) -> i64 {
    use sqlx::Connection;
    let server = std::env::var(crate::helpers::POSTGRES_URL_VAR).expect("the PostgreSQL URL");
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(statement.to_owned()))
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Node B loses the connection it LISTENs on. While it reconnects, a client uses a password on
/// B (B checks it against the database), then node A changes that password; the notification
/// is lost with B's connection. Once B listens again, the old password must not open B: what
/// B learnt while deaf is not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_node_that_lost_its_listener_keeps_nothing_it_learnt_while_deaf() {
    assert_postgres_pass();
    let a = TestApp::spawn().await;
    let name = format!("sb_{}", switchboard::model::value::new_sys_id());
    let b = a
        .another_node(|config| {
            config
                .database_url
                .push_str(&format!("&application_name={name}"))
        })
        .await;
    let user = a.user("agent", "old-password", &[]).await;
    let listening = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}' \
         AND query ILIKE 'LISTEN%'"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pg_scalar(&listening).await == 0 {
        assert!(std::time::Instant::now() < deadline, "B never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = pg_scalar(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = '{name}' AND query ILIKE 'LISTEN%'"
    ))
    .await;
    assert_eq!(killed, 1, "B's listening connection");
    // B notices at once and waits a second before listening again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = |node: &TestApp| {
        node.as_user(
            ("agent", "old-password"),
            Method::GET,
            "/api/now/table/sys_user_role?sysparm_limit=1",
        )
        .send()
    };
    assert_eq!(probe(&b).await.unwrap().status(), StatusCode::OK);
    let response = a
        .admin(Method::PATCH, &format!("/api/now/table/sys_user/{user}"))
        .json(&json!({"user_password": "new-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pg_scalar(&listening).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "B never listened again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Listening again; its cache was emptied when it did (give it a moment to say so).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        probe(&b).await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "B still takes the old password"
    );
    assert_eq!(probe(&a).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}
