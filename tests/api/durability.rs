//! The real binary: it announces its address, survives SIGKILL without losing acknowledged
//! writes, and stops cleanly on SIGTERM.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::binary::Binary;
use super::helpers::{ADMIN, PREFACE_AND_SETTINGS, TestDb, call, sys_id_of};

/// The binary with the test admin's password.
fn start(database: &str) -> Binary {
    start_with(database, &[])
}

/// [`start`], with more arguments to `serve`.
fn start_with(database: &str, args: &[&str]) -> Binary {
    Binary::serve(database, args, &[("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)])
}

async fn create_queue(base: &str, name: &str) -> String {
    let body = json!({ "name": name });
    let (status, body) = call(
        base,
        ADMIN,
        Method::POST,
        "/api/now/table/awa_queue",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sys_id_of(&body["result"])
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let mut server = start(&db);
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create_queue(&server.base, &format!("queue {i}")).await);
    }
    server.signal("KILL");
    assert!(!server.wait().success(), "SIGKILL is not a clean exit");

    let mut server = start(&db);
    for (i, id) in ids.iter().enumerate() {
        let path = format!("/api/now/table/awa_queue/{id}");
        let (status, body) = call(&server.base, ADMIN, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{id}: {body}");
        assert_eq!(body["result"]["name"], format!("queue {i}"));
    }
    server.signal("KILL");
    server.wait();
}

#[tokio::test]
async fn sigterm_and_sigint_stop_cleanly_with_exit_code_zero() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    for signal in ["TERM", "INT"] {
        let mut server = start(&db);
        let id = create_queue(&server.base, signal).await;
        server.signal(signal);
        assert!(server.wait().success(), "SIG{signal}");
        assert!(!id.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_sigterm_is_answered_before_the_exit() {
    let test_db = TestDb::new();
    let mut server = start(&test_db.url);
    let rule = json!({"method": "GET", "path": "/api/now/table/sys_user", "latency_ms": 1500});
    let (status, body) = call(
        &server.base,
        ADMIN,
        Method::POST,
        "/_switchboard/faults",
        Some(rule),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let base = server.base.clone();
    let slow = tokio::spawn(async move {
        call(
            &base,
            ADMIN,
            Method::GET,
            "/api/now/table/sys_user?user_name=admin",
            None,
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.signal("TERM");
    assert!(server.wait().success());
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"][0]["user_name"], "admin");
}

#[tokio::test]
async fn a_client_that_never_answers_the_shutdown_does_not_hold_the_exit() {
    let test_db = TestDb::new();
    let mut server = start_with(&test_db.url, &["--header-timeout-seconds", "60"]);
    // An HTTP/2 connection that sent its preface and settings, and then never reads: it cannot
    // answer the GOAWAY's PING. (A test's own HTTP client, left on a runtime the test then
    // blocks, is such a client.)
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut idle = tokio::net::TcpStream::connect(&address).await.unwrap();
    idle.write_all(PREFACE_AND_SETTINGS).await.unwrap();
    // The connection is being served before the signal.
    let (status, _) = call(&server.base, ADMIN, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    server.signal("TERM");
    assert!(server.wait().success());
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the server took {took:?} to stop, held by a connection with nothing in flight \
         (header timeout 60 s)"
    );
    drop(idle);
}

#[tokio::test]
async fn first_start_without_a_password_logs_a_random_one_once() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let mut server = Binary::serve(&db, &[], &[]);
    server.signal("TERM");
    server.wait();
    let log = server.stderr();
    let line = log
        .iter()
        .find(|l| l.contains("created user 'admin' with password"))
        .unwrap_or_else(|| panic!("no password line in {log:?}"));
    let password = line.split('\'').nth(3).unwrap().to_owned();
    assert_eq!(password.len(), 32);

    // The printed password works, and a second start prints none.
    let mut server = Binary::serve(&db, &[], &[]);
    let response = crate::helpers::client()
        .get(server.url("/api/now/table/sys_user?user_name=admin"))
        .basic_auth("admin", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.signal("TERM");
    server.wait();
    let log = server.stderr();
    assert!(!log.iter().any(|l| l.contains("password")), "{log:?}");
}

#[test]
fn migrate_subcommand_prepares_a_database() {
    let db = TestDb::new();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["migrate", "--database", &db.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    if let Some(file) = db.sqlite_path() {
        assert!(Path::new(&file).exists());
    }
}

#[test]
fn bad_database_url_fails_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["migrate", "--database", "mysql://u:secret@h/db"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
}
