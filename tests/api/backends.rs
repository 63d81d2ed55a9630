//! One suite, two backends: with `SWITCHBOARD_TEST_DATABASE_URL` set to a PostgreSQL server,
//! this test runs every other test of this binary again, on PostgreSQL, each test in a schema
//! of its own (see `helpers::TestDb`), the PostgreSQL-only tests (ignored on SQLite) included.
//! Without the variable (when the binary was built), it is listed as ignored, with the reason.

use std::io::Write;
use std::process::Command;

use super::helpers::{BACKEND_VAR, POSTGRES_URL_VAR, on_postgres};

const NAME: &str = "backends::the_whole_suite_passes_on_postgres";

#[test]
#[cfg_attr(
    not(switchboard_test_database_url),
    ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_DATABASE_URL"
)]
fn the_whole_suite_passes_on_postgres() {
    assert!(
        !on_postgres(),
        "this process already runs the suite on PostgreSQL: leave this test out (--skip {NAME})"
    );
    let url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!("{POSTGRES_URL_VAR} was set when this binary was built, but is not set now")
    });
    assert!(
        url.starts_with("postgres"),
        "{POSTGRES_URL_VAR} must be a PostgreSQL URL"
    );
    // Every test but this one, the PostgreSQL-only ones (ignored on SQLite) included.
    let output = Command::new(std::env::current_exe().unwrap())
        .env(BACKEND_VAR, "postgres")
        .args(["--include-ignored", "--skip", NAME])
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
    // Nothing is left out of the pass but this test.
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("test result"))
        .unwrap_or_else(|| panic!("no summary from the PostgreSQL pass:\n{stdout}"));
    assert!(
        summary.contains(" 0 ignored;") && summary.contains(" 1 filtered out;"),
        "the PostgreSQL pass left tests out: {summary}"
    );
}
