//! Serving HTTP on a listener: the connection-level protections a server exposed on a CI network
//! needs, and graceful shutdown.
//!
//! axum's own `serve` exposes none of hyper's limits, so connections are driven here with
//! hyper-util: a cap on concurrent connections (more wait in the kernel's accept queue), a
//! deadline for a request's headers (slow-loris), which also closes connections idle between
//! requests, and a bound on the header block's size. Optionally TLS ([`crate::tls`]), with a
//! deadline on the handshake. Each request carries its [`Connection`] (the client's address).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
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
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// Serves until `shutdown` completes, then finishes requests in flight and closes storage.
/// With `config.tls`, every connection must speak TLS.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.limits.clone();
    let tls = state.config.tls.clone().map(TlsAcceptor::from);
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
        let accepted = Accepted {
            builder: builder.clone(),
            router: router.clone(),
            watcher: graceful.watcher(),
            deadline: limits.header_timeout,
            peer,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            accepted.serve(stream, tls).await;
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

/// An accepted connection and what serving it takes.
struct Accepted {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    watcher: Watcher,
    /// For the first byte, and for the TLS handshake (the header timeout).
    deadline: Duration,
    peer: SocketAddr,
}

impl Accepted {
    async fn serve(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        // hyper's header timer starts with the first byte: a connection that never sends one
        // would hold its slot for ever. (`peek` waits for a byte and consumes nothing.)
        let mut byte = [0u8; 1];
        match tokio::time::timeout(self.deadline, stream.peek(&mut byte)).await {
            Ok(Ok(1..)) => {}
            Ok(Ok(_)) | Ok(Err(_)) => return,
            Err(_) => {
                tracing::debug!("connection sent nothing within {:?}; closed", self.deadline);
                return;
            }
        }
        let Some(acceptor) = tls else {
            return self.drive(stream, false).await;
        };
        // A TLS connection opens with a handshake record (content type 22); anything else is
        // most likely plain HTTP sent to the HTTPS port.
        if byte[0] != 0x16 {
            refuse_plain_http(stream).await;
            return;
        }
        match tokio::time::timeout(self.deadline, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.drive(stream, true).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::debug!(
                peer = %self.peer,
                "TLS handshake not done within {:?}; closed",
                self.deadline
            ),
        }
    }

    /// Serves HTTP/1 or HTTP/2 on the connection until it ends (or shutdown ends it).
    async fn drive<I>(self, io: I, tls: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connection = Connection {
            peer: self.peer,
            tls,
        };
        let service = TowerToHyperService::new(Extension(connection).layer(self.router));
        let served = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        if let Err(e) = self.watcher.watch(served.into_owned()).await {
            tracing::debug!("connection ended: {e}");
        }
    }
}

/// Answers plain HTTP on the TLS port with a 400 in the envelope, then closes.
async fn refuse_plain_http(mut stream: TcpStream) {
    const BODY: &str = r#"{"error":{"message":"Exception while reading request","detail":"This port speaks HTTPS: send the request with https://"},"status":"failure"}"#;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json;charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut buffer = [0u8; 8192];
    // Take what the client sent before answering: closing with unread input resets the
    // connection, and the client may lose the answer.
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await;
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let drain = async { while let Ok(1..) = stream.read(&mut buffer).await {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
