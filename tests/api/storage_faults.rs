//! When storage fails under the server: a database that cannot be reached at start is named
//! in the error at once; one that goes away while serving gets clients a 503 with
//! `Retry-After` (not a 500), and the server recovers by itself when it comes back.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{POSTGRES_URL_VAR, TestApp, assert_postgres_pass, json_of};
use switchboard::state::{AppState, Config};

#[tokio::test]
async fn an_unreachable_postgresql_at_start_is_named_at_once() {
    // Port 1 on the loopback: nothing listens there, so the connection is refused.
    let mut config = Config::new("postgres://postgres:secret@127.0.0.1:1/test");
    config.database_pool.acquire_timeout = Duration::from_secs(30);
    let started = Instant::now();
    let Err(e) = AppState::open(config).await else {
        panic!("opened a database that is not there");
    };
    let message = e.to_string();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?} to give up",
        started.elapsed()
    );
    assert!(
        message.contains("cannot reach the database at postgres://postgres:***@127.0.0.1:1/test"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
}

/// Runs statements on the PostgreSQL server's maintenance connection.
async fn pg(statements: &[&str]) {
    use sqlx::Connection;
    let server = std::env::var(POSTGRES_URL_VAR).expect("the PostgreSQL URL");
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]
async fn a_database_that_goes_away_is_a_503_with_retry_after_until_it_is_back() {
    assert_postgres_pass();
    let name = format!("sb_gone_{}", switchboard::model::value::new_sys_id());
    pg(&[&format!("CREATE DATABASE {name}")]).await;
    let server = std::env::var(POSTGRES_URL_VAR).unwrap();
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    let url = format!("{base}/{name}");
    let app = TestApp::serve_database(url, |config| {
        config.database_pool.acquire_timeout = Duration::from_secs(2);
    })
    .await;
    let read = || app.admin(Method::GET, "/api/now/table/sys_user_role?sysparm_limit=1");
    let write = || {
        app.admin(Method::POST, "/api/now/table/awa_queue")
            .json(&json!({"name": "while away"}))
    };
    assert_eq!(read().send().await.unwrap().status(), StatusCode::OK);

    pg(&[
        &format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"),
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    ])
    .await;
    for request in [read(), write()] {
        let response = request.send().await.unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "failure");
        assert_eq!(body["error"]["message"], "Service Unavailable");
        assert!(
            body["error"]["detail"]
                .as_str()
                .unwrap()
                .starts_with("Storage is unavailable"),
            "{body}"
        );
        assert_eq!(retry_after.as_deref(), Some("2"));
    }

    pg(&[&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    )])
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = write().send().await.unwrap().status();
        if status == StatusCode::CREATED {
            break;
        }
        assert!(Instant::now() < deadline, "not back: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(app);
    // Lets the server's connections close before the database is dropped.
    tokio::time::sleep(Duration::from_millis(200)).await;
    pg(&[&format!("DROP DATABASE {name} WITH (FORCE)")]).await;
}
