//! Serving HTTP on a listener: the connection-level protections a server exposed on a CI network
//! needs, and graceful shutdown.
//!
//! axum's own `serve` exposes none of hyper's limits, so connections are driven here with
//! hyper-util: a cap on concurrent connections (more wait in the kernel's accept queue), a
//! deadline for a request's headers (slow-loris), which also closes connections idle between
//! requests, and a bound on the header block's size. Each request carries its [`Connection`]
//! (the client's address).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_layer::Layer;

use crate::app::{AppState, router};

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may sit idle.
    pub header_timeout: Duration,
    /// The largest header block (request line, path and headers) accepted.
    pub max_header_bytes: usize,
    /// How long requests in flight may take to finish once shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The connection a request came on: every request carries it as an extension.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The client's address (behind a proxy, the proxy's).
    pub peer: SocketAddr,
}

/// Serves until `shutdown` completes, then finishes requests in flight and closes storage.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.limits.clone();
    let store = state.store.clone();
    let router = router(state);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper's floor is 8 KiB.
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder.http2().timer(TokioTimer::new());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        let service =
            TowerToHyperService::new(Extension(Connection { peer }).layer(router.clone()));
        let first_byte = limits.header_timeout;
        tokio::spawn(async move {
            // hyper's header timer starts with the first byte: a connection that never sends
            // one would hold its slot for ever. (`peek` waits for a byte and consumes nothing.)
            let mut byte = [0u8; 1];
            if tokio::time::timeout(first_byte, stream.peek(&mut byte))
                .await
                .is_err()
            {
                tracing::debug!("connection sent nothing within {first_byte:?}; closed");
                return;
            }
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {:?}; stopping anyway",
            limits.shutdown_grace
        );
    }
    store.close().await;
    Ok(())
}
