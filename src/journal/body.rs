//! The body taps: a request or response body passed on frame by frame while at most the cap
//! of it is copied. A response's entry is pushed when its body ends, or is dropped unfinished
//! (the client went away): never later than the last byte is handed to the connection.
//!
//! Both are concrete types around the body they tap, not boxed bodies: [`super::Record`] wraps
//! the connection's service, so a tapped request is boxed once (by the router, as any request
//! is) and a tapped response not at all.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;

use super::record::Answered;
use super::{Captured, Note};

pin_project! {
    /// A request body, copying up to the cap into the request's note as the handler reads it;
    /// or passed on untouched (a request not recorded, or one with no body).
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        tap: Option<(usize, Arc<Note>)>,
    }
}

impl<B: http_body::Body> RequestBody<B> {
    /// `body`, copying up to `cap` bytes into `into`.
    pub(super) fn tapped(body: B, cap: usize, into: Arc<Note>) -> Self {
        let tap = match body.size_hint().exact() {
            Some(0) => None,
            _ => Some((cap, into)),
        };
        RequestBody { inner: body, tap }
    }

    pub(super) fn untouched(body: B) -> Self {
        RequestBody {
            inner: body,
            tap: None,
        }
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for RequestBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && let Some((cap, into)) = this.tap
        {
            into.lock().request_body.take(data, *cap);
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

/// A response body, copying up to the cap; the entry is pushed at its end. Untouched (no tap)
/// when the request is not recorded or the body was empty.
pub struct ResponseBody {
    inner: Body,
    tap: Option<ResponseTap>,
}

struct ResponseTap {
    cap: usize,
    captured: Captured,
    answered: Answered,
}

impl ResponseBody {
    /// `body`, copying up to `cap` bytes; `answered` is finished when it ends.
    pub(super) fn tapped(body: Body, cap: usize, mut answered: Answered) -> Self {
        let captured = answered.body_buffer();
        if http_body::Body::is_end_stream(&body) {
            answered.finish(captured);
            return ResponseBody::untouched(body);
        }
        ResponseBody {
            inner: body,
            tap: Some(ResponseTap {
                cap,
                captured,
                answered,
            }),
        }
    }

    pub(super) fn untouched(body: Body) -> Self {
        ResponseBody {
            inner: body,
            tap: None,
        }
    }

    fn finish(&mut self) {
        if let Some(tap) = self.tap.take() {
            tap.answered.finish(tap.captured);
        }
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let Some(tap) = this.tap.as_mut() else {
            return polled;
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    tap.captured.take(data, tap.cap);
                }
                // The connection may stop polling once the body says it has ended.
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(_) => this.finish(),
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

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish();
    }
}
