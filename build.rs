//! Rebuilds when a migration is added or changed: `sqlx::migrate!` embeds the migrations at
//! compile time, and cargo would not otherwise notice a new file.
//!
//! Sets `cfg(switchboard_test_database_url)` when `SWITCHBOARD_TEST_DATABASE_URL` is set (and
//! not empty): the integration suite's PostgreSQL pass (`tests/api/backends.rs`) runs then, and
//! is listed as ignored, with the reason, when it is not. A cfg is a compile option, so
//! setting, unsetting or changing the variable rebuilds the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_TEST_DATABASE_URL");
    println!("cargo:rustc-check-cfg=cfg(switchboard_test_database_url)");
    if std::env::var_os("SWITCHBOARD_TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=switchboard_test_database_url");
    }
}
