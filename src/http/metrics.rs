//! The process's metrics (docs/control-plane.md, "Metrics"): one Prometheus recorder for the
//! whole process, installed by the first server state opened ([`install`]), and its text
//! exposition ([`render`]). Code anywhere records through the `metrics` macros; this module
//! names the metrics and their buckets (the storage layer, below this one, names its own two,
//! `switchboard_sqlite_writer_queue` and `switchboard_sqlite_commit_batch_size`, as written
//! here). A metric recorded on every request is registered once and its handle kept (a
//! `LazyLock`): the process installs the recorder when it opens its state, before any request.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "switchboard_http_requests_total";
pub const HTTP_DURATION: &str = "switchboard_http_request_duration_seconds";
pub const WRITER_QUEUE: &str = "switchboard_sqlite_writer_queue";
pub const COMMIT_BATCH: &str = "switchboard_sqlite_commit_batch_size";
pub const CREDENTIAL_CACHE: &str = "switchboard_credential_cache_lookups_total";
pub const COUNT_CACHE: &str = "switchboard_count_cache_lookups_total";
pub const OUTBOUND_ATTEMPTS: &str = "switchboard_outbound_attempts_total";
pub const OUTBOUND_FAILURES: &str = "switchboard_outbound_failures_total";
pub const OUTBOUND_LAG: &str = "switchboard_outbound_delivery_lag_seconds";

/// Seconds, from half a millisecond to a minute.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];
/// Transactions in one commit.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// Outbound lag: a second to an hour (retries back off up to five minutes, Retry-After to an hour).
const LAG: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder, once (tests open many servers in one process); later calls
/// return the same handle. Where another recorder was installed first, this one only renders
/// what it is given (nothing).
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH.into()), BATCH))
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(OUTBOUND_LAG.into()), LAG))
            .expect("the buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed: /metrics shows nothing");
        }
        // Histograms keep their samples until drained: drain them now and then even when
        // nobody scrapes.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread for the metrics' upkeep");
        handle
    })
}

/// Every metric, in Prometheus's text format.
pub fn render() -> String {
    install().render()
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
