//! The real binary: it announces its address, survives SIGKILL without losing acknowledged
//! writes, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::helpers::{ADMIN, TestDb, json_of};

/// A `switchboard serve` process on a free port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database: &str) -> Server {
        Self::start_with(database, &[("SWITCHBOARD_ADMIN_PASSWORD", ADMIN.1)])
    }

    fn start_with(database: &str, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start switchboard");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the first line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child, base }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(mut self) -> std::process::ExitStatus {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().ok();
        panic!("server did not stop within 10 s");
    }
}

async fn create_queue(client: &reqwest::Client, base: &str, name: &str) -> String {
    let response = client
        .request(Method::POST, format!("{base}/api/now/table/awa_queue"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["result"]["sys_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let client = reqwest::Client::new();
    let server = Server::start(&db);
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create_queue(&client, &server.base, &format!("queue {i}")).await);
    }
    server.signal("KILL");
    assert!(!server.wait().success(), "SIGKILL is not a clean exit");

    let server = Server::start(&db);
    for (i, id) in ids.iter().enumerate() {
        let response = client
            .get(format!("{}/api/now/table/awa_queue/{id}", server.base))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
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
        let server = Server::start(&db);
        let id = create_queue(&reqwest::Client::new(), &server.base, signal).await;
        server.signal(signal);
        assert!(server.wait().success(), "SIG{signal}");
        assert!(!id.is_empty());
    }
}

#[tokio::test]
async fn first_start_without_a_password_logs_a_random_one_once() {
    let test_db = TestDb::new();
    let db = test_db.url.clone();
    let mut server = Server::start_with(&db, &[]);
    let stderr = server.child.stderr.take().unwrap();
    server.signal("TERM");
    server.wait();
    let log: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    let line = log
        .iter()
        .find(|l| l.contains("created user 'admin' with password"))
        .unwrap_or_else(|| panic!("no password line in {log:?}"));
    let password = line.split('\'').nth(3).unwrap().to_owned();
    assert_eq!(password.len(), 32);

    // The printed password works, and a second start prints none.
    let mut server = Server::start_with(&db, &[]);
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/now/table/sys_user?user_name=admin",
            server.base
        ))
        .basic_auth("admin", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stderr = server.child.stderr.take().unwrap();
    server.signal("TERM");
    server.wait();
    let log: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
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
