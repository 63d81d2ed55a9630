//! Several switchboard nodes on one PostgreSQL database: what one node writes, every node sees
//! at once; numbers, mappings and role grants stay right when requests race across nodes.
//! These run in the PostgreSQL pass (see `backends.rs`); SQLite serves one node per file.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::binary::Binary;
use super::helpers::{ADMIN, TestDb, assert_postgres_pass, call, sys_id_of};

/// Two nodes on one fresh database, started at the same time.
fn two_nodes(db: &TestDb) -> (Binary, Binary) {
    let env = [("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)];
    let (url, url2) = (db.url.clone(), db.url.clone());
    let first = std::thread::spawn(move || Binary::serve(&url, &[], &env));
    let second = std::thread::spawn(move || Binary::serve(&url2, &[], &env));
    (first.join().unwrap(), second.join().unwrap())
}

async fn insert(node: &Binary, table: &str, body: Value) -> String {
    let (status, body) = call(
        &node.base,
        ADMIN,
        Method::POST,
        &format!("/api/now/table/{table}"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{table}: {body}");
    sys_id_of(&body["result"])
}

#[tokio::test]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn nodes_starting_together_migrate_and_bootstrap_once() {
    assert_postgres_pass();
    let db = TestDb::new();
    let (a, b) = two_nodes(&db);
    for node in [&a, &b] {
        let (status, admins) = call(
            &node.base,
            ADMIN,
            Method::GET,
            "/api/now/table/sys_user?user_name=admin",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{admins}");
        assert_eq!(admins["result"].as_array().unwrap().len(), 1, "{admins}");
        let (_, roles) = call(
            &node.base,
            ADMIN,
            Method::GET,
            "/api/now/table/sys_user_role",
            None,
        )
        .await;
        // Each built-in role once, however many nodes bootstrapped together.
        let built_in = switchboard::model::roles::BUILT_IN.len();
        assert_eq!(
            roles["result"].as_array().unwrap().len(),
            built_in,
            "{roles}"
        );
    }
    a.stop();
    b.stop();
}

#[tokio::test]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_write_on_one_node_reads_on_the_other_at_once() {
    assert_postgres_pass();
    let db = TestDb::new();
    let (a, b) = two_nodes(&db);
    for i in 0..10 {
        let id = insert(&a, "awa_queue", json!({"name": format!("queue {i}")})).await;
        let (status, body) = call(
            &b.base,
            ADMIN,
            Method::GET,
            &format!("/api/now/table/awa_queue/{id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["name"], format!("queue {i}"));
    }
    a.stop();
    b.stop();
}

#[tokio::test]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn parallel_creates_over_two_nodes_get_distinct_increasing_numbers() {
    assert_postgres_pass();
    let db = TestDb::new();
    let (a, b) = two_nodes(&db);
    let channel = insert(
        &a,
        "interaction_connector",
        json!({"name": "chat", "type": "chat"}),
    )
    .await;
    let bases = [a.base.clone(), b.base.clone()];
    let mut creates = JoinSet::new();
    for i in 0..40 {
        let (base, channel) = (bases[i % 2].clone(), channel.clone());
        creates.spawn(async move {
            let body = json!({ "channel": channel });
            call(
                &base,
                ADMIN,
                Method::POST,
                "/api/now/interaction",
                Some(body),
            )
            .await
        });
    }
    let mut numbers = BTreeSet::new();
    while let Some(done) = creates.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let number = body["result"]["number"].as_str().unwrap().to_owned();
        assert!(number.starts_with("IMS") && number.len() == 10, "{number}");
        numbers.insert(number);
    }
    assert_eq!(numbers.len(), 40, "{numbers:?}");
    // A later create, on either node, is numbered after all of them.
    let (_, later) = call(
        &b.base,
        ADMIN,
        Method::POST,
        "/api/now/interaction",
        Some(json!({"channel": channel})),
    )
    .await;
    let later = later["result"]["number"].as_str().unwrap().to_owned();
    assert!(
        numbers.iter().all(|n| *n < later),
        "{later} after {numbers:?}"
    );
    a.stop();
    b.stop();
}

#[tokio::test]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn parallel_first_mappings_over_two_nodes_make_one_record_and_one_201() {
    assert_postgres_pass();
    let db = TestDb::new();
    let (a, b) = two_nodes(&db);
    let agent = insert(
        &a,
        "sys_user",
        json!({"user_name": "agent", "first_name": "Agent"}),
    )
    .await;
    insert(
        &a,
        "sys_cs_provider_application",
        json!({"name": "Voice", "inbound_id": "Voice1"}),
    )
    .await;
    let path = format!("/api/sn_ct_ctr_it_core/agent_mapping/agent/{agent}/inboundId/Voice1");
    let bases = [a.base.clone(), b.base.clone()];
    let mut maps = JoinSet::new();
    for i in 0..16 {
        let (base, path) = (bases[i % 2].clone(), path.clone());
        maps.spawn(async move {
            let body = json!({"external_agent_id": "12345"});
            call(&base, ADMIN, Method::PUT, &path, Some(body)).await
        });
    }
    let mut statuses = Vec::new();
    let mut ids = BTreeSet::new();
    while let Some(done) = maps.join_next().await {
        let (status, body) = done.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}: {body}"
        );
        statuses.push(status);
        for id in body["result"]["mappingIds"].as_array().unwrap() {
            ids.insert(id.as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(ids.len(), 1, "{ids:?}");
    let (_, all) = call(
        &b.base,
        ADMIN,
        Method::GET,
        "/api/now/table/external_agent_mapping",
        None,
    )
    .await;
    assert_eq!(all["result"].as_array().unwrap().len(), 1, "{all}");
    a.stop();
    b.stop();
}

#[tokio::test]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn concurrent_role_grants_over_two_nodes_all_count() {
    assert_postgres_pass();
    let db = TestDb::new();
    let (a, b) = two_nodes(&db);
    insert(
        &a,
        "sys_user",
        json!({"user_name": "agent", "first_name": "Agent"}),
    )
    .await;
    let roles = [
        "interaction_agent",
        "awa_integration_user",
        "awa_agent",
        "awa_manager",
    ];
    let bases = [a.base.clone(), b.base.clone()];
    let mut grants = JoinSet::new();
    for (i, role) in roles.iter().enumerate() {
        let (base, role) = (bases[i % 2].clone(), role.to_string());
        grants.spawn(async move {
            let body = json!({"user": "agent", "role": role});
            call(
                &base,
                ADMIN,
                Method::POST,
                "/api/now/table/sys_user_has_role",
                Some(body),
            )
            .await
            .0
        });
    }
    while let Some(status) = grants.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::CREATED);
    }
    let (_, user) = call(
        &b.base,
        ADMIN,
        Method::GET,
        "/api/now/table/sys_user?user_name=agent&sysparm_fields=roles",
        None,
    )
    .await;
    assert_eq!(
        user["result"][0]["roles"], "awa_agent,awa_integration_user,awa_manager,interaction_agent",
        "no grant may be lost to a concurrent one: {user}"
    );
    a.stop();
    b.stop();
}

#[tokio::test]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn an_identity_change_on_one_node_reaches_the_others_credential_cache() {
    assert_postgres_pass();
    let db = TestDb::new();
    let (a, b) = two_nodes(&db);
    let agent = insert(
        &a,
        "sys_user",
        json!({"user_name": "agent", "user_password": "pw"}),
    )
    .await;
    let who = ("agent", "pw");
    // Node B verifies (and caches) the credential.
    let (status, _) = call(
        &b.base,
        who,
        Method::GET,
        "/api/now/table/sys_user?user_name=agent",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Node A deactivates the user; node B must refuse it well before its cache would expire
    // (60 s): the change is announced to every node on commit.
    let (status, _) = call(
        &a.base,
        ADMIN,
        Method::PATCH,
        &format!("/api/now/table/sys_user/{agent}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    loop {
        let (status, _) = call(
            &b.base,
            who,
            Method::GET,
            "/api/now/table/sys_user?user_name=agent",
            None,
        )
        .await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "node B still accepts a deactivated user; its log: {:?}",
            b.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.stop();
    b.stop();
}
