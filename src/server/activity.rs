//! What a connection has in flight, so that the connection can be closed once it has had
//! nothing in flight for a while.
//!
//! hyper's own idle limit (`header_read_timeout`) covers HTTP/1 only, and starts at the first
//! byte of a request head: an HTTP/2 connection that sends its preface and nothing else would
//! hold its slot for ever. Counting requests above hyper gives one rule for both protocols: a
//! connection with no request in flight for the header timeout is shut down.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::watch;
use tower_service::Service;

/// The largest piece of a response body handed to hyper at once. hyper takes a body's next
/// piece only when the previous one is (nearly) written, so in small pieces a response stays in
/// flight while it is being sent, not merely until hyper has buffered it all.
const PIECE: usize = 64 * 1024;

/// The requests in flight on one connection. Every start and end of a request is a change the
/// watchdog ([`Activity::idle_for`]) sees, even when the count comes back to the same number.
pub struct Activity {
    in_flight: Arc<watch::Sender<usize>>,
    changes: watch::Receiver<usize>,
}

impl Activity {
    pub fn new() -> Self {
        let (in_flight, changes) = watch::channel(0);
        Activity {
            in_flight: Arc::new(in_flight),
            changes,
        }
    }

    /// Wraps the connection's service so that each of its requests counts as in flight until
    /// its response body is finished or dropped.
    pub fn track<S>(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            in_flight: self.in_flight.clone(),
        }
    }

    /// Completes once no request has been in flight for `period`, counted from the later of
    /// this call and the end of the last request.
    pub async fn idle_for(&mut self, period: Duration) {
        loop {
            let busy = *self.changes.borrow_and_update() > 0;
            let changed = if busy {
                self.changes.changed().await
            } else {
                match tokio::time::timeout(period, self.changes.changed()).await {
                    Ok(changed) => changed,
                    Err(_) => return,
                }
            };
            // Unreachable while `self` holds the sender; were it gone, nothing could start.
            if changed.is_err() {
                return;
            }
        }
    }
}

/// Counts one request while it lives.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn start(in_flight: &Arc<watch::Sender<usize>>) -> Self {
        in_flight.send_modify(|n| *n += 1);
        InFlight(in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A service whose requests are counted (see [`Activity::track`]).
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    in_flight: Arc<watch::Sender<usize>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> Service<Request<B>> for Tracked<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<TrackedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Counted from here: a future dropped unfinished (a reset stream) drops the count too.
        let in_flight = InFlight::start(&self.in_flight);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody {
                body,
                piece: Bytes::new(),
                in_flight: Some(in_flight),
            }))
        })
    }
}

/// A response body that keeps its request counted until it is finished or dropped, and hands
/// its data to hyper in pieces of at most [`PIECE`] bytes. Its size hint is the wrapped body's,
/// so `Content-Length` is unchanged.
pub struct TrackedBody<B> {
    body: B,
    /// What is left of the data frame being handed out.
    piece: Bytes,
    in_flight: Option<InFlight>,
}

impl<B> TrackedBody<B> {
    fn next_piece(&mut self) -> Frame<Bytes> {
        let size = self.piece.len().min(PIECE);
        Frame::data(self.piece.split_to(size))
    }
}

impl<B> http_body::Body for TrackedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if !this.piece.is_empty() {
            return Poll::Ready(Some(Ok(this.next_piece())));
        }
        match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    this.piece = data;
                    Poll::Ready(Some(Ok(this.next_piece())))
                }
                Err(trailers) => Poll::Ready(Some(Ok(trailers))),
            },
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => {
                this.in_flight = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.piece.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.body.size_hint();
        let held = self.piece.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + held);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + held);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body::Body as _;

    #[tokio::test]
    async fn a_body_is_handed_out_in_pieces_with_its_length_unchanged() {
        let activity = Activity::new();
        let data = vec![7u8; 2 * PIECE + 10];
        let mut body = TrackedBody {
            body: Body::from(data.clone()),
            piece: Bytes::new(),
            in_flight: Some(InFlight::start(&activity.in_flight)),
        };
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut sizes = Vec::new();
        let mut received = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let chunk = frame.unwrap().into_data().unwrap();
            sizes.push(chunk.len());
            received.extend_from_slice(&chunk);
            assert_eq!(
                body.size_hint().exact(),
                Some((data.len() - received.len()) as u64)
            );
        }
        assert_eq!(sizes, [PIECE, PIECE, 10]);
        assert_eq!(received, data);
        assert_eq!(
            *activity.changes.borrow(),
            0,
            "finished, no longer in flight"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_waits_for_the_last_request_to_end() {
        let mut activity = Activity::new();
        let request = InFlight::start(&activity.in_flight);
        let period = Duration::from_secs(5);
        let started = tokio::time::Instant::now();
        let ends = async {
            tokio::time::sleep(Duration::from_secs(20)).await;
            drop(request);
        };
        tokio::join!(activity.idle_for(period), ends);
        assert_eq!(started.elapsed(), Duration::from_secs(25));
    }
}
