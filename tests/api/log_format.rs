//! `--log-format json`: every line the server logs is one JSON object (for log collectors);
//! the default stays text for people.

use std::time::Duration;

use super::binary::Binary;
use super::helpers::TestDb;

/// The server's log lines after a start (with `args`), a failed login and a SIGTERM, at level
/// info.
async fn log_lines(args: &[&str]) -> Vec<String> {
    let db = TestDb::new();
    let mut binary = Binary::serve(
        &db.url,
        args,
        &[
            ("SWITCHBOARD_ADMIN_PASSWORD", "admin-password"),
            ("RUST_LOG", "info"),
        ],
    );
    // A failed login is logged (at info) with its reason.
    let response = super::helpers::client()
        .get(binary.url("/api/now/table/sys_user"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(100)).await;
    binary.signal("TERM");
    assert!(binary.wait().success());
    binary.stderr()
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_level_and_message() {
    let lines = log_lines(&["--log-format", "json"]).await;
    assert!(!lines.is_empty(), "no log lines");
    for line in &lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(object["timestamp"].is_string(), "{line}");
        assert!(object["level"].is_string(), "{line}");
        assert!(object["fields"]["message"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn text_logs_are_the_default() {
    let lines = log_lines(&[]).await;
    assert!(!lines.is_empty(), "no log lines");
    assert!(lines.iter().all(|l| !l.starts_with('{')), "{lines:?}");
}
