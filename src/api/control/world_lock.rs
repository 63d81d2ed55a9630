//! The world lock around every request ([`HoldWorld`]): a request holds the world for reading
//! while it is served, and reset, save and restore take it for writing (see [`super::world`]),
//! so a request sees the world before a swap or after it, never a mix.
//!
//! A hand-written layer rather than a `from_fn` middleware: every request passes here, and on
//! the usual path (no swap running or waiting) it takes the lock without waiting, so it needs
//! neither a clone of the router nor a boxed future. Only a request that must wait behind a swap
//! pays for those.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};
use tower_layer::Layer;
use tower_service::Service;

/// The layer: `AppState::world`, held for reading by each request but the swaps themselves.
#[derive(Clone)]
pub struct HoldWorld(pub Arc<RwLock<()>>);

impl<S> Layer<S> for HoldWorld {
    type Service = WorldHeld<S>;

    fn layer(&self, inner: S) -> WorldHeld<S> {
        WorldHeld {
            inner,
            world: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct WorldHeld<S> {
    inner: S,
    world: Arc<RwLock<()>>,
}

impl<S> Service<Request> for WorldHeld<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Held<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Held<S::Future> {
        if super::world::swaps_the_world(request.uri().path()) {
            return Held::Serving {
                inner: self.inner.call(request),
                guard: None,
            };
        }
        // Fair: this fails while a swap holds the lock or waits for it.
        match self.world.clone().try_read_owned() {
            Ok(guard) => Held::Serving {
                inner: self.inner.call(request),
                guard: Some(guard),
            },
            Err(_) => {
                // The service polled ready is the one that serves; a clone stays for the next.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let world = self.world.clone();
                Held::Waiting {
                    future: Box::pin(async move {
                        let _guard = world.read_owned().await;
                        inner.call(request).await
                    }),
                }
            }
        }
    }
}

pin_project! {
    /// A request's answer, with the world held until it is ready.
    #[project = HeldProjection]
    pub enum Held<F> {
        Serving {
            #[pin]
            inner: F,
            guard: Option<OwnedRwLockReadGuard<()>>,
        },
        Waiting {
            future: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
        },
    }
}

impl<F> Future for Held<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            HeldProjection::Serving { inner, guard } => {
                let answer = ready!(inner.poll(cx));
                // Released with the answer, as the middleware did, not when the future goes.
                guard.take();
                Poll::Ready(answer)
            }
            HeldProjection::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}
