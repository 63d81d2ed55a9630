//! What a request knows of the connection it came on.

use std::net::SocketAddr;

/// The connection a request came on: every request carries it as an extension.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The client's address (behind a proxy, the proxy's).
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}
