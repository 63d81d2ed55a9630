//! Serving HTTP on a listener: the connection-level protections a server exposed on a CI network
//! needs, and graceful shutdown.
//!
//! axum's own `serve` exposes none of hyper's limits, so connections are driven here with
//! hyper-util: a cap on concurrent connections (more wait in the kernel's accept queue), a
//! deadline for a request's headers (slow-loris), a bound on the header block's size, and for
//! both HTTP/1 and HTTP/2 a watchdog that shuts a connection down once it has had no request in
//! flight for the header timeout (the first request's deadline, and the idle limit), a deadline
//! on writes the client does not read, and for HTTP/2 a cap on streams and keep-alive PINGs.
//! Optionally TLS ([`tls`]), with a deadline on the handshake. Each request carries its
//! [`Connection`] (the client's address).

mod activity;
mod send_timeout;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower_layer::Layer;

use activity::Activity;
use send_timeout::SendTimeout;

use crate::http::Connection;
use crate::journal::Record;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long a connection may
    /// go without a request in flight (before its first, between two) — HTTP/1 and HTTP/2.
    pub header_timeout: Duration,
    /// The largest header block (request line, path and headers) accepted.
    pub max_header_bytes: usize,
    /// How long requests in flight may take to finish once shutdown starts.
    pub shutdown_grace: Duration,
    /// How long a write to the client may make no progress before the connection is dropped
    /// (a client that stops reading its response).
    pub send_timeout: Duration,
    /// HTTP/2 streams (requests) a connection may have open at once.
    pub max_streams_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
            max_streams_per_connection: 100,
        }
    }
}

/// Serves `router` until `shutdown` completes, then lets requests in flight finish (for up to
/// `limits.shutdown_grace`). With `tls`, every connection must speak TLS. `record` is the
/// request journal's layer, put around the router on each connection (see `journal::Record`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    record: Record,
    limits: &Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = limits.clone();
    let tls = tls.map(TlsAcceptor::from);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper's floor is 8 KiB.
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams_per_connection.max(1))
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // A PING every header timeout, answered within the send timeout: a peer that vanished
        // mid-request is noticed; one that is merely slow to read is given the send timeout.
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.send_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Each connection holds a receiver: `true` asks it to shut down, and the sender sees when
    // every connection is done (`closed`).
    let (shutting_down, _) = watch::channel(false);
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
            record: record.clone(),
            shutdown: shutting_down.subscribe(),
            limits: limits.clone(),
            peer,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            accepted.serve(stream, tls).await;
            drop(slot);
        });
    }
    drop(listener);
    shutting_down.send_replace(true);
    if tokio::time::timeout(limits.shutdown_grace, shutting_down.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {:?}; stopping anyway",
            limits.shutdown_grace
        );
    }
    Ok(())
}

/// An accepted connection and what serving it takes.
struct Accepted {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    record: Record,
    /// Becomes `true` when the server shuts down.
    shutdown: watch::Receiver<bool>,
    /// The header timeout is also the deadline for the first byte and for the TLS handshake.
    limits: Limits,
    peer: SocketAddr,
}

impl Accepted {
    async fn serve(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        // hyper's header timer starts with the first byte: a connection that never sends one
        // would hold its slot for ever. (`peek` waits for a byte and consumes nothing.)
        let mut byte = [0u8; 1];
        match tokio::time::timeout(self.limits.header_timeout, stream.peek(&mut byte)).await {
            Ok(Ok(1..)) => {}
            Ok(Ok(_)) | Ok(Err(_)) => return,
            Err(_) => {
                tracing::debug!(
                    "connection sent nothing within {:?}; closed",
                    self.limits.header_timeout
                );
                return;
            }
        }
        let Some(acceptor) = tls else {
            let stream = SendTimeout::new(stream, self.limits.send_timeout);
            return self.drive(stream, false).await;
        };
        // A TLS connection opens with a handshake record (content type 22); anything else is
        // most likely plain HTTP sent to the HTTPS port.
        if byte[0] != 0x16 {
            refuse_plain_http(stream).await;
            return;
        }
        let stream = SendTimeout::new(stream, self.limits.send_timeout);
        match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.drive(stream, true).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::debug!(
                peer = %self.peer,
                "TLS handshake not done within {:?}; closed",
                self.limits.header_timeout
            ),
        }
    }

    /// Serves HTTP/1 or HTTP/2 on the connection until it ends. Shutdown, the server's or the
    /// watchdog's (no request in flight for the header timeout), is graceful: hyper finishes
    /// what is in flight, then closes. A connection still open once it has again had nothing in
    /// flight for a while is dropped: an HTTP/2 client that never answers the shutdown's PING
    /// would otherwise keep it. That while is the header timeout, or [`SHUTDOWN_LINGER`] once
    /// the server itself is stopping (its exit waits for every connection).
    async fn drive<I>(self, io: I, tls: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Accepted {
            builder,
            router,
            record,
            mut shutdown,
            limits,
            peer,
        } = self;
        let mut activity = Activity::new();
        let service =
            activity.track(record.layer(Extension(Connection { peer, tls }).layer(router)));
        let served = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
        tokio::pin!(served);
        let mut closing = false;
        let mut stopping = false;
        loop {
            let linger = match stopping {
                true => limits.header_timeout.min(SHUTDOWN_LINGER),
                false => limits.header_timeout,
            };
            tokio::select! {
                ended = served.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                    return;
                }
                () = server_shutdown(&mut shutdown), if !stopping => {
                    stopping = true;
                    if !closing {
                        served.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
                () = activity.idle_for(linger) => {
                    if closing {
                        tracing::debug!(%peer, "connection still open after shutting down; dropped");
                        return;
                    }
                    tracing::debug!(%peer, "no request for {:?}; shutting down", limits.header_timeout);
                    served.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// How long a connection with nothing in flight is left to close by itself (an HTTP/2 client
/// answering the GOAWAY's PING) once the server is stopping: the exit waits for every
/// connection, and a client that never answers must not hold it for the header timeout.
const SHUTDOWN_LINGER: Duration = Duration::from_secs(1);

/// Completes once the server shuts down (or is gone).
async fn server_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stopping| stopping).await;
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
