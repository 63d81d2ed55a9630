//! Replaying a write that lost a race the database could not order.
//!
//! On PostgreSQL two transactions can deadlock, or a serializable check can fail; the database
//! then rolls one of them back whole. The request that lost changed nothing, so running it again
//! is exactly what its client would do, and it is done here, before the client sees an error:
//! the handler's error carries a [`Conflict`] mark, and this middleware sends the same request
//! (method, URI, headers, and the body bytes the handler read) through the router again, a few
//! times with a short random wait. Only when every attempt lost does the client get the 503
//! (with `Retry-After`) that the error renders as.
//!
//! The body is recorded as the handler reads it, so nothing about how bodies are read (size
//! limit, timeout, format) changes; the recording is the frames themselves (`Bytes` share
//! their buffers), not a copy. It holds at most [`ReplayLimit`] bytes: a larger body (an
//! attachment's file, which its handler spools to disk) is not kept in memory, and a request
//! that sent one is not replayed (its client gets the 503 and retries).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// Marks a response whose transaction was rolled back by the database to break a deadlock or
/// a serialization failure: nothing was written, and the request may run again.
#[derive(Debug, Clone, Copy)]
pub struct Conflict;

/// Attempts after the first.
const RETRIES: u32 = 4;

/// The largest body recorded for a replay (the server's body limit: every body an API reads
/// whole fits).
#[derive(Debug, Clone, Copy)]
pub struct ReplayLimit(pub usize);

/// Runs a write request, and again while it loses to a conflict (at most [`RETRIES`] more).
pub async fn replay_conflicts(
    State(ReplayLimit(limit)): State<ReplayLimit>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let tape = Tape::new(limit);
    let recording = Recording::new(body, tape.clone());
    let mut response = next
        .clone()
        .run(Request::from_parts(parts.clone(), Body::new(recording)))
        .await;
    for attempt in 1..=RETRIES {
        if response.extensions().get::<Conflict>().is_none() {
            break;
        }
        // A handler that failed before reading all of the body, or read more than the tape
        // holds, cannot be replayed faithfully.
        let Some(body) = tape.played() else { break };
        tracing::info!(
            attempt,
            "transaction lost a conflict; running the request again"
        );
        tokio::time::sleep(backoff(attempt)).await;
        response = next
            .clone()
            .run(Request::from_parts(parts.clone(), Body::from(body)))
            .await;
    }
    response
}

/// A random wait that grows with the attempt (5-10 ms, 10-20 ms, ...), so the transactions
/// that collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.saturating_sub(1).min(6);
    Duration::from_millis(base + rand::random_range(0..=base))
}

/// The frames of a request body as the handler read them.
#[derive(Clone)]
struct Tape(Arc<Mutex<Recorded>>);

struct Recorded {
    frames: Vec<Bytes>,
    /// Bytes the frames hold.
    length: usize,
    /// The most they may hold; past it, the recording stops.
    limit: usize,
    /// More than `limit` was read: the frames were dropped.
    overflowed: bool,
    /// The body was read to its end.
    finished: bool,
}

impl Tape {
    fn new(limit: usize) -> Self {
        Tape(Arc::new(Mutex::new(Recorded {
            frames: Vec::new(),
            length: 0,
            limit,
            overflowed: false,
            finished: false,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The whole body, if it was read to its end and kept.
    fn played(&self) -> Option<Bytes> {
        self.with(|r| {
            (r.finished && !r.overflowed).then(|| match r.frames.as_slice() {
                [one] => one.clone(),
                frames => Bytes::from(frames.concat()),
            })
        })
    }
}

impl Recorded {
    fn record(&mut self, data: &Bytes) {
        if self.overflowed {
            return;
        }
        self.length += data.len();
        if self.length > self.limit {
            self.overflowed = true;
            self.frames = Vec::new();
        } else {
            self.frames.push(data.clone());
        }
    }
}

/// A request body that records what is read from it on a [`Tape`].
struct Recording {
    inner: Body,
    tape: Tape,
}

impl Recording {
    fn new(inner: Body, tape: Tape) -> Self {
        // A request without a body (a DELETE, say) is complete before anyone reads it.
        if http_body::Body::is_end_stream(&inner) {
            tape.with(|r| r.finished = true);
        }
        Recording { inner, tape }
    }
}

impl http_body::Body for Recording {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.tape.with(|r| r.record(data));
                }
            }
            Poll::Ready(None) => self.tape.with(|r| r.finished = true),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tower::ServiceExt;

    /// A handler that loses `losses` times, then echoes the body it read.
    fn app(losses: u32) -> (Router, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = calls.clone();
        let router = Router::new()
            .route(
                "/",
                post(move |body: Bytes| {
                    let calls = counted.clone();
                    async move {
                        let n = calls.fetch_add(1, Ordering::SeqCst);
                        let mut response = Response::new(Body::from(body));
                        if n < losses {
                            response.extensions_mut().insert(Conflict);
                        }
                        response
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                ReplayLimit(16),
                replay_conflicts,
            ));
        (router, calls)
    }

    async fn send(router: Router, body: &'static str) -> (Bytes, bool) {
        let request = Request::post("/").body(Body::from(body)).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let conflict = response.extensions().get::<Conflict>().is_some();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        (body, conflict)
    }

    #[tokio::test]
    async fn a_lost_conflict_runs_again_with_the_same_body() {
        let (router, calls) = app(2);
        let (body, conflict) = send(router, "the body").await;
        assert_eq!(body, "the body");
        assert!(!conflict);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn replays_stop_after_the_last_retry() {
        let (router, calls) = app(100);
        let (_, conflict) = send(router, "x").await;
        assert!(conflict, "the last answer is the conflict's");
        assert_eq!(calls.load(Ordering::SeqCst), 1 + RETRIES);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_not_kept_nor_replayed() {
        let (router, calls) = app(1);
        let (body, conflict) = send(router, "seventeen bytes!!").await;
        assert_eq!(body, "seventeen bytes!!");
        assert!(conflict, "the conflict's answer stands");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_success_runs_once() {
        let (router, calls) = app(0);
        let (body, _) = send(router, "x").await;
        assert_eq!(body, "x");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
