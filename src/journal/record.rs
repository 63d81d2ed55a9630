//! The recording layer ([`Record`]): notes a request when it arrives, taps its body and its
//! response's body ([`super::body`]), and pushes its entry when the response body ends or is
//! dropped, or when the request is dropped unanswered (the client went away first).
//!
//! It wraps the connection's service (`server::serve` puts it around the whole router), not a
//! layer inside the router: there its response body is a type of its own rather than boxed
//! again, and the router's per-request clone of its layers does not count the journal. A
//! hand-written layer rather than a `from_fn` middleware, which would box a future for each
//! request.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, Response};
use pin_project_lite::pin_project;
use time::OffsetDateTime;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::{Captured, Entry, Journal, Kind, Note, is_own};
use crate::http::faults::FaultNote;

/// The layer: records every request but the journal's own in the journal, if there is one
/// (`None`: the journal is off, and requests pass through untouched).
#[derive(Clone)]
pub struct Record(pub Option<Journal>);

impl<S> Layer<S> for Record {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            journal: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Recorded<S> {
    inner: S,
    journal: Option<Journal>,
}

impl<S, B> Service<Request<B>> for Recorded<S>
where
    S: Service<Request<RequestBody<B>>, Response = Response<Body>, Error = Infallible>,
    B: http_body::Body,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Recording<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Recording<S::Future> {
        let journal = match &self.journal {
            Some(journal) if !is_own(req.uri().path()) => journal,
            _ => {
                return Recording {
                    inner: self.inner.call(req.map(RequestBody::untouched)),
                    unanswered: Unanswered(None),
                };
            }
        };
        let started = Instant::now();
        let (mut parts, body) = req.into_parts();
        let mut entry = journal.blank();
        let blank = Arc::get_mut(&mut entry).expect("a blank entry has one owner");
        blank.kind = Kind::Inbound;
        blank.time = OffsetDateTime::now_utc();
        blank.method = parts.method.clone();
        blank.set_target(parts.uri.path(), parts.uri.query());
        blank.request_headers.fill(&parts.headers);
        // The bodies are copied into the entry's own buffers, lent to the taps meanwhile.
        let note = Arc::new(Note::lent_by(blank));
        let response_body = std::mem::take(&mut blank.response_body);
        parts.extensions.insert(note.clone());
        let body = RequestBody::tapped(body, journal.body_bytes(), note.clone());
        let pending = Pending {
            journal: journal.clone(),
            started,
            entry,
            response_body,
            note,
        };
        Recording {
            inner: self.inner.call(Request::from_parts(parts, body)),
            unanswered: Unanswered(Some(pending)),
        }
    }
}

pin_project! {
    /// A request being answered; once the answer's head is ready, its body is tapped.
    pub struct Recording<F> {
        #[pin]
        inner: F,
        unanswered: Unanswered,
    }
}

impl<F> Future for Recording<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match ready!(this.inner.poll(cx)) {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let Some(mut pending) = this.unanswered.0.take() else {
            return Poll::Ready(Ok(response.map(ResponseBody::untouched)));
        };
        let (parts, body) = response.into_parts();
        if let Some(entry) = Arc::get_mut(&mut pending.entry) {
            entry.response_headers.fill(&parts.headers);
        }
        let cap = pending.journal.body_bytes();
        let answered = Answered {
            pending,
            status: parts.status.as_u16(),
            fault: parts.extensions.get::<FaultNote>().map(|f| f.0.clone()),
        };
        let body = ResponseBody::tapped(body, cap, answered);
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}

/// What is known of a request once it arrived: its entry, filled as the answer comes.
struct Pending {
    journal: Journal,
    started: Instant,
    /// Held by nothing else until it is pushed.
    entry: Arc<Entry>,
    /// The entry's buffer for the response body, until the response's tap takes it.
    response_body: Captured,
    note: Arc<Note>,
}

impl Pending {
    /// Records the request with what came of it: its status, response body and fault, or no
    /// answer (`None`).
    fn record(self, answer: Option<(u16, Captured, Option<String>)>) {
        let noted = self.note.take();
        let mut entry = self.entry;
        if let Some(e) = Arc::get_mut(&mut entry) {
            e.duration = self.started.elapsed();
            e.request_body = noted.request_body;
            e.user = noted.user;
            e.api = noted.api;
            e.route = noted.route;
            match answer {
                Some((status, body, fault)) => {
                    e.status = Some(status);
                    e.response_body = body;
                    e.fault = fault.or(noted.fault);
                }
                None => {
                    e.status = None;
                    e.response_headers.clear();
                    e.response_body = self.response_body;
                    e.fault = noted.fault;
                }
            }
        }
        self.journal.push_filled(entry);
    }
}

/// A request not answered yet (None: not recorded). When the client goes away first, the
/// request is dropped before it has an answer, and so is this: the entry is recorded then,
/// without a status.
struct Unanswered(Option<Pending>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
            pending.record(None);
        }
    }
}

/// What is known once the response's head is out; the body follows.
pub(super) struct Answered {
    pending: Pending,
    status: u16,
    fault: Option<String>,
}

impl Answered {
    /// The buffer the response body is copied into.
    pub(super) fn body_buffer(&mut self) -> Captured {
        std::mem::take(&mut self.pending.response_body)
    }

    /// The response body ended (or was dropped): the entry is complete.
    pub(super) fn finish(self, response_body: Captured) {
        self.pending
            .record(Some((self.status, response_body, self.fault)));
    }
}
