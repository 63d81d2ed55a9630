//! A deadline on writes to a client: a connection whose writes make no progress for the send
//! timeout fails, so a client that asks for a large answer and stops reading it cannot hold a
//! connection slot (and the answer's memory) for ever.
//!
//! A small wrapper rather than the `tokio-io-timeout` crate: only writes need a deadline (reads
//! have the header and body timeouts), and this is one timer armed while a write is pending,
//! without a dependency.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// IO whose writes (and flushes and shutdown) fail with `TimedOut` once they have been pending,
/// with no byte written, for `timeout`.
pub struct SendTimeout<I> {
    io: I,
    timeout: Duration,
    /// Created at the first pending write; most connections never need it.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Whether `deadline` counts for a write pending now.
    armed: bool,
}

impl<I> SendTimeout<I> {
    pub fn new(io: I, timeout: Duration) -> Self {
        SendTimeout {
            io,
            timeout,
            deadline: None,
            armed: false,
        }
    }

    /// Passes a write's outcome on: progress disarms the deadline, a pending write arms it (if
    /// not already armed) and fails once it has passed.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if outcome.is_ready() {
            self.armed = false;
            return outcome;
        }
        let when = Instant::now() + self.timeout;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(when)));
        if !self.armed {
            deadline.as_mut().reset(when);
            self.armed = true;
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {:?}", self.timeout),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SendTimeout<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SendTimeout<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_after_the_timeout() {
        let (client, _server) = tokio::io::duplex(16);
        let mut io = SendTimeout::new(client, Duration::from_secs(30));
        let started = Instant::now();
        let written = io.write_all(&[0u8; 64]).await;
        assert_eq!(written.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_reader_is_not_cut_off() {
        use tokio::io::AsyncReadExt;
        let (client, mut server) = tokio::io::duplex(16);
        let mut io = SendTimeout::new(client, Duration::from_secs(30));
        let reader = async {
            let mut buffer = [0u8; 16];
            let mut total = 0;
            while total < 64 {
                tokio::time::sleep(Duration::from_secs(20)).await;
                total += server.read(&mut buffer).await.unwrap();
            }
        };
        let (written, ()) = tokio::join!(io.write_all(&[0u8; 64]), reader);
        written.expect("each write progressed within the timeout");
    }
}
