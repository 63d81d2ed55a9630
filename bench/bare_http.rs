//! The physical limit of switchboard's HTTP layer, for `bench/run.sh`: the same stack (tokio's
//! multi-threaded runtime through `#[tokio::main]`, an axum `Router`, connections driven by
//! hyper-util's auto builder as `src/server.rs` drives them: TCP_NODELAY, a header-read timeout,
//! a header-size bound, a connection cap) answering every method on every path with one fixed
//! JSON body built once at start, and nothing else: no authentication, no database, no logging,
//! no per-request serialisation.
//!
//! ```sh
//! cargo run --release --example bare_http -- --listen 127.0.0.1:18090 --body-bytes 491
//! ```
//! It reads the request body (as switchboard does) and answers `200` with
//! `Content-Type: application/json;charset=UTF-8` and exactly `--body-bytes` bytes of valid JSON
//! (`{"result":{"pad":"xxx..."}}`, at least 21 bytes), so each scenario's baseline moves the
//! same bytes as the scenario's mean response. Like switchboard, it prints
//! `listening on http://ADDR` on standard output once it accepts connections.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Valid JSON of exactly `size` bytes (or the smallest envelope, when `size` is smaller).
fn body_of(size: usize) -> Bytes {
    let envelope = r#"{"result":{"pad":""}}"#;
    let pad = size.saturating_sub(envelope.len());
    let body = format!(r#"{{"result":{{"pad":"{}"}}}}"#, "x".repeat(pad));
    debug_assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
    Bytes::from(body)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = arg(&args, "--listen").unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let size = arg(&args, "--body-bytes")
        .map(|s| s.parse::<usize>().expect("--body-bytes takes a number"))
        .unwrap_or(512);
    let body = body_of(size);
    let app = Router::new().fallback(move |request: Bytes| {
        let body = body.clone();
        async move {
            drop(request);
            (
                [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
                body,
            )
                .into_response()
        }
    });

    // The same connection handling as src/server.rs (its default limits).
    let service = TowerToHyperService::new(app);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024);
    builder.http2().timer(TokioTimer::new());
    let slots = Arc::new(Semaphore::new(1024));

    let listener = TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
}
