//! switchboard: a self-hosted stand-in for the ServiceNow contact-center REST APIs.
//!
//! The map, from the outside in. Each layer imports only the layers below it:
//!
//! | layer        | what lives there                                                        |
//! |--------------|-------------------------------------------------------------------------|
//! | [`cli`]      | the command line: `serve`, `migrate`, `bench-data`                      |
//! | [`api`]      | one module per platform API, the router, the OpenAPI document           |
//! | [`state`]    | what every handler reaches ([`state::AppState`]) and how it is opened   |
//! | [`outbound`] | the deliverer: the outbox's events POSTed to contact centers, retried   |
//! | [`fixtures`] | data a database is given: the first admin, the demo, the benchmark set  |
//! | [`auth`]     | who the caller is (Basic, bearer tokens), login throttling, rate limits |
//! | [`journal`]  | the request journal: requests, responses and deliveries, kept in a ring |
//! | [`server`]   | sockets: TLS, connection limits, timeouts, graceful shutdown            |
//! | [`http`]     | the platform's REST conventions: envelopes, negotiation, bodies, errors |
//! | [`domain`]   | rules about records: the one write path, numbering, membership, tokens  |
//! | [`storage`]  | SQLite or PostgreSQL behind one trait                                   |
//! | [`model`]    | tables and fields, record values, encoded queries and typed filters     |
//!
//! A request enters at [`server::serve`], passes the conventions of [`http`] and the caller
//! check of [`auth`], is answered by a module of [`api`], which calls [`domain`] to read or
//! write records in [`storage`], described by [`model`].
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod domain;
pub mod fixtures;
pub mod http;
pub mod journal;
pub mod model;
pub mod outbound;
pub mod server;
pub mod state;
pub mod storage;

#[cfg(test)]
mod proptest_config;

/// Serves every API of `state` on `listener` until `shutdown` completes, then lets requests in
/// flight finish and closes the storage.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: state::AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.config.clone();
    let store = state.store.clone();
    let record = journal::Record(state.journal.clone());
    let sweeper = tokio::spawn(sweep_offers(state.clone()));
    let deliverer = tokio::spawn(deliver_events(state.clone()));
    let served = server::serve(
        listener,
        api::router(state),
        record,
        &config.limits,
        config.tls.clone(),
        shutdown,
    )
    .await;
    sweeper.abort();
    // An attempt cut short here keeps its claim until it runs out; then any node sends the
    // event again (at least once).
    deliverer.abort();
    store.close().await;
    served
}

/// Serves the metrics (`GET /metrics`, no credentials) on `listener`, for as long as the
/// process runs: `serve --metrics-listen`.
pub async fn serve_metrics(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    http::metrics::install();
    axum::serve(listener, api::metrics::listener_router()).await
}

/// AWA's sweeper: cancels offers whose time is up, every `awa_sweep_interval`. Every node runs
/// one; each offer is cancelled once (see `domain::awa_work::expire_offers`).
async fn sweep_offers(state: state::AppState) {
    let interval = state.config.awa_sweep_interval;
    if interval.is_zero() {
        return;
    }
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.sweep_offers().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "AWA offers timed out"),
            Err(e) => tracing::warn!(error = %e, "AWA sweep failed; retried at the next tick"),
        }
    }
}

/// The outbound deliverer (see [`outbound`]), unless `outbound_poll_interval` is zero.
async fn deliver_events(state: state::AppState) {
    let interval = state.config.outbound_poll_interval;
    if interval.is_zero() {
        return;
    }
    outbound::Deliverer::new(state.store.clone(), state.clock.clone())
        .with_faults(state.faults.clone())
        .journal(state.journal.clone())
        .run(interval)
        .await
}
