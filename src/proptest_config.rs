//! The configuration every property test runs with.

use proptest::test_runner::Config;

/// proptest's defaults (including `PROPTEST_CASES`, for longer runs), without writing
/// regression files into the source tree: a failure's shrunk input is in the test's output.
pub fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}
