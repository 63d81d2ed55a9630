//! The body taps: a request or response body passed on frame by frame while at most the cap
//! of it is copied. A response's entry is pushed when its body ends, or is dropped unfinished
//! (the client went away): never later than the last byte is handed to the connection.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

use super::record::Answered;
use super::{Captured, Note};

/// The request body, copying up to `cap` bytes into `into` as the handler reads it.
pub(super) fn tap_request(body: Body, cap: usize, into: Arc<Note>) -> Body {
    if http_body::Body::size_hint(&body).exact() == Some(0) {
        return body;
    }
    Body::new(RequestTap {
        inner: body,
        cap,
        into,
    })
}

struct RequestTap {
    inner: Body,
    cap: usize,
    into: Arc<Note>,
}

impl http_body::Body for RequestTap {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let cap = self.cap;
            self.into.lock().request_body.take(data, cap);
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

/// The response body, copying up to `cap` bytes; the entry is pushed at its end.
pub(super) fn tap_response(body: Body, cap: usize, mut answered: Answered) -> Body {
    let captured = answered.body_buffer();
    if http_body::Body::is_end_stream(&body) {
        answered.finish(captured);
        return body;
    }
    Body::new(ResponseTap {
        inner: body,
        cap,
        captured,
        answered: Some(answered),
    })
}

struct ResponseTap {
    inner: Body,
    cap: usize,
    captured: Captured,
    answered: Option<Answered>,
}

impl ResponseTap {
    fn finish(&mut self) {
        if let Some(answered) = self.answered.take() {
            answered.finish(std::mem::take(&mut self.captured));
        }
    }
}

impl http_body::Body for ResponseTap {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let cap = self.cap;
                    self.captured.take(data, cap);
                }
                // The connection may stop polling once the body says it has ended.
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(_) => self.finish(),
            Poll::Pending => {}
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

impl Drop for ResponseTap {
    fn drop(&mut self) {
        self.finish();
    }
}
