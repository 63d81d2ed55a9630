//! One suite, two backends: with `SWITCHBOARD_TEST_DATABASE_URL` set to a PostgreSQL server,
//! this test runs every other test of this binary again, on PostgreSQL, each test in a schema
//! of its own (see `helpers::TestDb`).

use std::io::Write;
use std::process::Command;

use super::helpers::{BACKEND_VAR, POSTGRES_URL_VAR, on_postgres};

const NAME: &str = "backends::the_whole_suite_passes_on_postgres";

#[test]
fn the_whole_suite_passes_on_postgres() {
    if on_postgres() {
        return; // This is the PostgreSQL pass itself.
    }
    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        // Not a silent pass: say so where a person running the suite sees it.
        let _ = writeln!(
            std::io::stderr(),
            "note: {POSTGRES_URL_VAR} is not set; the PostgreSQL pass did not run"
        );
        return;
    };
    assert!(
        url.starts_with("postgres"),
        "{POSTGRES_URL_VAR} must be a PostgreSQL URL"
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .env(BACKEND_VAR, "postgres")
        .args(["--skip", NAME])
        .output()
        .expect("run the suite again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The pass's own summary, written past the test harness's capture so CI logs show it.
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("test result") || l.contains("FAILED"))
    {
        let _ = writeln!(std::io::stderr(), "postgres pass: {line}");
    }
    assert!(
        output.status.success(),
        "the suite failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
