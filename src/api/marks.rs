//! What the router marks a request with once its route is known: the [`Api`] extension that
//! rate limits count by, and for the request journal the API's name and the route template
//! (`journal::note_match`; nothing when the journal is off). The platform's APIs are marked by
//! their own layer ([`super::platform`]); this one marks switchboard's routes and the OpenAPI
//! document's.
//!
//! Each route is marked by the layer its API already has, not by a `route_layer` over every
//! route: each layer applied to a router's routes costs every request a clone of the route's
//! boxed service and a boxed future, and one more made a read by sys_id about 5% dearer.

use std::task::{Context, Poll};

use axum::http::{Extensions, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::rate_limit::Api;
use crate::journal;

#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// An API's routes (through [`super::platform`]): the extension and the journal's API name.
    Api(Api),
    /// Routes of no rate-limited API (OAuth, switchboard's own): the journal's API name only.
    Name(&'static str),
    /// A route of no API: the template that matched, for the journal.
    Route,
}

impl<S> Layer<S> for Mark {
    type Service = Marked<S>;

    fn layer(&self, inner: S) -> Marked<S> {
        Marked { inner, mark: *self }
    }
}

#[derive(Debug, Clone)]
pub struct Marked<S> {
    inner: S,
    mark: Mark,
}

impl<S, B> Service<Request<B>> for Marked<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        self.mark.apply(req.extensions_mut());
        self.inner.call(req)
    }
}

impl Mark {
    /// Marks a request's extensions.
    pub fn apply(self, extensions: &mut Extensions) {
        match self {
            Mark::Api(api) => {
                journal::note_match(extensions, Some(api.name()));
                extensions.insert(api);
            }
            Mark::Name(name) => journal::note_match(extensions, Some(name)),
            Mark::Route => journal::note_match(extensions, None),
        }
    }
}
