//! The layer around each platform API's routes ([`Platform`]), doing in one pass what every
//! request to them needs: the marks ([`Mark`]: the [`Api`] extension that rate limits count by,
//! and the journal's API name), fault injection ([`super::faults::inject`]) and the request's
//! metrics ([`super::metrics::count`], outside the faults, so an injected latency or status is
//! measured as the client sees it).
//!
//! Hand-written rather than `from_fn` middlewares: each `from_fn` clones the route's service
//! and boxes a future on every request, and two of them made a read by sys_id 15% dearer. With
//! no fault rule live (the usual case), a request here costs the marks, two clock reads and the
//! metric updates; only a request that a rule may touch pays for a boxed future.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::faults::{self, FaultGate};
use super::marks::Mark;
use crate::auth::rate_limit::Api;

/// The layer for one API's routes.
#[derive(Debug, Clone, Copy)]
pub struct Platform(pub Api);

impl<S> Layer<S> for Platform {
    type Service = PlatformRoute<S>;

    fn layer(&self, inner: S) -> PlatformRoute<S> {
        PlatformRoute { inner, api: self.0 }
    }
}

#[derive(Debug, Clone)]
pub struct PlatformRoute<S> {
    inner: S,
    api: Api,
}

impl<S> Service<Request> for PlatformRoute<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Observed<S::Future> {
        let api = self.api;
        // The OAuth endpoints count their requests themselves: the journal's name only.
        let mark = match api {
            Api::OAuth => Mark::Name(api.name()),
            _ => Mark::Api(api),
        };
        mark.apply(req.extensions_mut());
        let route = req.extensions().get::<MatchedPath>().cloned();
        let started = Instant::now();
        let answer = match FaultGate::live(req.extensions()) {
            None => Answer::Served {
                inner: self.inner.call(req),
            },
            Some(gate) => {
                // The service polled ready is the one that serves; a clone stays for the next.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                Answer::Faulted {
                    future: Box::pin(faults::inject(api, gate, req, inner)),
                }
            }
        };
        Observed {
            answer,
            api,
            route,
            started,
        }
    }
}

pin_project! {
    /// An answer being made, counted in the metrics once it is ready.
    pub struct Observed<F> {
        #[pin]
        answer: Answer<F>,
        api: Api,
        route: Option<MatchedPath>,
        started: Instant,
    }
}

pin_project! {
    #[project = AnswerProjection]
    enum Answer<F> {
        /// The route's own answer: no fault rule was live.
        Served {
            #[pin]
            inner: F,
        },
        /// The answer with whatever fault a rule holds for the request.
        Faulted {
            future: Pin<Box<dyn Future<Output = Response> + Send>>,
        },
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.answer.project() {
            AnswerProjection::Served { inner } => match ready!(inner.poll(cx)) {
                Ok(response) => response,
                Err(never) => match never {},
            },
            AnswerProjection::Faulted { future } => ready!(future.as_mut().poll(cx)),
        };
        let route = this.route.as_ref().map_or("", MatchedPath::as_str);
        super::metrics::count(*this.api, route, response.status(), this.started.elapsed());
        Poll::Ready(Ok(response))
    }
}
