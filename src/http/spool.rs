//! Spooling a large request body (an attachment's content) to a temporary file as it arrives,
//! counting and hashing it, so that it is never held whole in memory and the transaction that
//! stores it starts only once all of it is here (a slow client never holds the writer).

use std::io::SeekFrom;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

/// Why a body could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// More than the limit arrived.
    #[error("the content is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// Nothing arrived for the idle timeout.
    #[error("no part of the content arrived for {} seconds", .0.as_secs())]
    TooSlow(Duration),
    /// The client's body failed (it disconnected, or sent a malformed frame).
    #[error("the content could not be read: {0}")]
    Body(String),
    /// The temporary file could not be written (a full disk, say).
    #[error("the content could not be stored for processing: {0}")]
    Io(#[from] std::io::Error),
}

/// A body being written to an unnamed temporary file (in `TMPDIR`), which the system removes
/// when it is closed, whatever happens to the process.
pub struct Spool {
    file: BufWriter<tokio::fs::File>,
    size: u64,
    hasher: Sha256,
    limit: u64,
}

/// A spooled body, read back from its start.
pub struct Spooled {
    pub file: tokio::fs::File,
    pub size: u64,
    /// SHA-256 of the content, in lowercase hexadecimal.
    pub hash: String,
}

impl Spool {
    /// A new, empty spool refusing more than `limit` bytes.
    pub async fn new(limit: u64) -> Result<Spool, SpoolError> {
        let file = tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(|e| SpoolError::Io(std::io::Error::other(e)))??;
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file)),
            size: 0,
            hasher: Sha256::new(),
            limit,
        })
    }

    /// Appends `bytes`.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(SpoolError::TooLarge { limit: self.limit });
        }
        self.hasher.update(bytes);
        self.file.write_all(bytes).await?;
        Ok(())
    }

    /// Appends the whole of `body`, waiting at most `idle` for each part of it.
    pub async fn write_body(&mut self, mut body: Body, idle: Duration) -> Result<(), SpoolError> {
        loop {
            let next =
                std::future::poll_fn(|cx| http_body::Body::poll_frame(Pin::new(&mut body), cx));
            let frame = tokio::time::timeout(idle, next)
                .await
                .map_err(|_| SpoolError::TooSlow(idle))?;
            match frame {
                None => return Ok(()),
                Some(Err(e)) => return Err(SpoolError::Body(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.write(&data).await?;
                    }
                }
            }
        }
    }

    /// The content, flushed and read back from its start.
    pub async fn finish(self) -> Result<Spooled, SpoolError> {
        let mut file = self.file;
        file.flush().await?;
        let mut file = file.into_inner();
        file.seek(SeekFrom::Start(0)).await?;
        Ok(Spooled {
            file,
            size: self.size,
            hash: hex::encode(self.hasher.finalize()),
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_body_is_counted_hashed_and_read_back_whole() {
        let mut spool = Spool::new(1 << 20).await.unwrap();
        spool
            .write_body(Body::from("hello world"), Duration::from_secs(5))
            .await
            .unwrap();
        let mut spooled = spool.finish().await.unwrap();
        assert_eq!(spooled.size, 11);
        assert_eq!(
            spooled.hash,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let mut back = Vec::new();
        spooled.file.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"hello world");
    }

    #[tokio::test]
    async fn more_than_the_limit_is_refused() {
        let mut spool = Spool::new(4).await.unwrap();
        let refused = spool
            .write_body(Body::from("12345"), Duration::from_secs(5))
            .await;
        assert!(matches!(refused, Err(SpoolError::TooLarge { limit: 4 })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out() {
        let mut spool = Spool::new(10).await.unwrap();
        let (_sender, body) = stalled_body();
        let stalled = spool.write_body(body, Duration::from_secs(3)).await;
        assert!(matches!(stalled, Err(SpoolError::TooSlow(_))));
    }

    /// A body that never sends anything while its sender lives.
    fn stalled_body() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
        struct Stalled(tokio::sync::mpsc::Receiver<Bytes>);
        impl http_body::Body for Stalled {
            type Data = Bytes;
            type Error = std::convert::Infallible;
            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
                self.0
                    .poll_recv(cx)
                    .map(|b| b.map(|b| Ok(http_body::Frame::data(b))))
            }
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        (sender, Body::new(Stalled(receiver)))
    }
}
