//! What the router marks a request with once its route is known: the [`Api`] extension that
//! rate limits count by, and for the request journal the API's name and the route template
//! (`journal::note_api`, `journal::note_route`; nothing when the journal is off). The platform's
//! APIs are marked by their own layer ([`super::platform`]); this one marks switchboard's
//! routes and the route templates.

use std::task::{Context, Poll};

use axum::extract::MatchedPath;
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
    /// Every route: the template that matched, for the journal.
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
                journal::note_api(extensions, api.name());
                extensions.insert(api);
            }
            Mark::Name(name) => journal::note_api(extensions, name),
            Mark::Route => {
                if let Some(route) = extensions.get::<MatchedPath>() {
                    journal::note_route(extensions, route);
                }
            }
        }
    }
}
