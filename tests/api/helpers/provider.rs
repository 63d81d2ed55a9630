//! A contact center's event endpoint, for the outbound event tests: an HTTP server on a free
//! port that records every delivery it receives, answers from a script (a status, perhaps with
//! `Retry-After`, or a delay; 200 once the script is used up), and may react to an event (as a
//! contact center calls `/update` after a join request).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tokio::sync::Notify;

use super::TestApp;

/// One delivery as the provider received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub json: Json,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn event_type(&self) -> &str {
        self.json["event_type"].as_str().unwrap_or_default()
    }

    pub fn event_id(&self) -> &str {
        self.json["event_id"].as_str().unwrap_or_default()
    }

    /// Whether the signature header holds the HMAC-SHA256 of the body under `secret`,
    /// checked as a provider would: recomputed and compared.
    pub fn signed_with(&self, header: &str, secret: &str) -> bool {
        self.header(header)
            == Some(switchboard::outbound::signature(secret.as_bytes(), &self.body).as_str())
    }
}

/// How the provider answers one delivery.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// A status with `Retry-After: seconds`.
    RetryAfter(u16, u64),
    /// 200, after this long (the request is recorded when it arrives).
    Slow(Duration),
}

type Reaction = Arc<dyn Fn(Json) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    arrived: Arc<Notify>,
    reaction: Option<Reaction>,
}

pub struct ProviderServer {
    /// The endpoint URL to give the provider record.
    pub url: String,
    shared: Shared,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ProviderServer {
    pub async fn start() -> ProviderServer {
        Self::serve(None).await
    }

    /// A provider that runs `reaction` on every event it accepts (after answering it).
    pub async fn reacting<F, Fut>(reaction: F) -> ProviderServer
    where
        F: Fn(Json) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let reaction: Reaction = Arc::new(move |event| Box::pin(reaction(event)));
        Self::serve(Some(reaction)).await
    }

    async fn serve(reaction: Option<Reaction>) -> ProviderServer {
        let shared = Shared {
            received: Arc::default(),
            script: Arc::default(),
            arrived: Arc::default(),
            reaction,
        };
        let handler_state = shared.clone();
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                receive(handler_state.clone(), headers, body)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        ProviderServer {
            url,
            shared,
            _stop: stop,
        }
    }

    /// The next deliveries are answered with `answers`, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().unwrap().extend(answers);
    }

    /// Drops what is left of the script: the deliveries from now on are answered 200 at once.
    pub fn clear_script(&self) {
        self.shared.script.lock().unwrap().clear();
    }

    /// Every delivery received so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until `n` deliveries have arrived (panics after `timeout`), and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let what = format!("{n} deliveries");
        self.wait_until(&what, timeout, |received| received.len() >= n)
            .await
    }

    /// Waits until a delivery of `event_type` has arrived, and returns it.
    pub async fn wait_for_event(&self, event_type: &str, timeout: Duration) -> Received {
        let is_it = |r: &Received| r.event_type() == event_type;
        let received = self
            .wait_until(event_type, timeout, |received| received.iter().any(is_it))
            .await;
        received.into_iter().find(is_it).unwrap()
    }

    /// Waits until what has arrived satisfies `done` (panics after `timeout`, naming `what`).
    async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            let received = self.received();
            if done(&received) {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let types: Vec<&str> = received.iter().map(Received::event_type).collect();
                panic!("{what} expected in {timeout:?}; came: {types:?}");
            }
        }
    }
}

async fn receive(shared: Shared, headers: HeaderMap, body: Bytes) -> Response {
    let answer = shared.script.lock().unwrap().pop_front();
    let json: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
    // Recorded on arrival: a slow answer's request counts even if the sender gives up on it.
    let received = Received {
        headers,
        body,
        json: json.clone(),
    };
    shared.received.lock().unwrap().push(received);
    shared.arrived.notify_waiters();
    match answer {
        Some(Answer::Status(status)) => status_response(status, None),
        Some(Answer::RetryAfter(status, seconds)) => status_response(status, Some(seconds)),
        Some(Answer::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, axum::Json(json!({"received": true}))).into_response()
        }
        None => {
            if let Some(reaction) = &shared.reaction {
                tokio::spawn(reaction(json));
            }
            (StatusCode::OK, axum::Json(json!({"received": true}))).into_response()
        }
    }
}

fn status_response(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let mut response = (status, "not now").into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", seconds.to_string().parse().unwrap());
    }
    response
}

/// The secret the tests' HMAC providers sign with.
pub const SECRET: &str = "provider-shared-secret";
/// The header they sign in.
pub const SIGNATURE_HEADER: &str = "X-CC-Signature";

/// Registers `server` as an external provider (HMAC-signed, every event type, a 2 s timeout)
/// through the Table API, and returns its sys_id.
pub async fn register(app: &TestApp, name: &str, server: &ProviderServer) -> String {
    register_with(app, name, server, json!({})).await
}

/// As [`register`], with `extra` fields over the defaults.
pub async fn register_with(
    app: &TestApp,
    name: &str,
    server: &ProviderServer,
    extra: Json,
) -> String {
    let mut body = json!({
        "name": name,
        "endpoint_url": server.url,
        "authentication": "hmac",
        "secret": SECRET,
        "signature_header": SIGNATURE_HEADER,
        "timeout": 2,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    super::sys_id_of(&app.insert("awa_external_provider", body).await)
}

/// The AWA world with `server` registered as a provider (with `extra` fields) of both Chat
/// queues: (world, provider sys_id).
pub async fn world_reporting_to(
    server: &ProviderServer,
    extra: Json,
) -> (super::awa::AwaWorld, String) {
    let world = super::awa::AwaWorld::new().await;
    let provider = register_with(&world.app, "Contact center", server, extra).await;
    for queue in [&world.queue, &world.other_queue] {
        let path = format!("/api/now/table/awa_queue/{queue}");
        let response = world.app.admin(reqwest::Method::PATCH, &path);
        let response = response
            .json(&json!({"external_provider": provider}))
            .send();
        let (status, body) = super::json_of(response.await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (world, provider)
}
