//! The server under test: a router served in-process on a free port, on a database of its own.

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use switchboard::state::{AppState, Config};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::{FORM, TestDb, form_body, json_of, on_postgres, sys_id_of};

pub const ADMIN: (&str, &str) = ("admin", "admin-password");

/// An HTTP client builder. reqwest is built with rustls but without a crypto provider of its
/// own (its default, aws-lc-rs, needs a long C build): the ring provider the server uses is
/// installed for the whole process first.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// An HTTP client with reqwest's defaults.
pub fn client() -> reqwest::Client {
    client_builder().build().expect("an HTTP client")
}

/// An HTTP client that gives up on a request after `timeout`.
pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    client_builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The server's state, for what a client cannot see (e.g. how many passwords it hashed).
    pub state: AppState,
    /// Holds the database (the first node of it); dropped when the test ends.
    _db: Option<TestDb>,
    /// Dropping it (when the test ends) shuts the server down.
    _stop: oneshot::Sender<()>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server whose config `tweak` may adjust.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new();
        let url = db.url.clone();
        Self::serve(Some(db), url, tweak).await
    }

    /// A server on a database the test made itself (and drops itself).
    pub async fn serve_database(url: String, tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::serve(None, url, tweak).await
    }

    /// Another node on this server's database, as a second process would be (PostgreSQL only:
    /// a SQLite file has one process).
    pub async fn another_node(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        assert!(on_postgres(), "several nodes need PostgreSQL");
        Self::serve(None, self.state.config.database_url.clone(), tweak).await
    }

    async fn serve(db: Option<TestDb>, url: String, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::new(url);
        config.admin_password = Some(ADMIN.1.to_owned());
        tweak(&mut config);
        let state = AppState::open(config).await.expect("server state");
        // On PostgreSQL the node listens for other nodes' identity changes; until it does, its
        // credential cache keeps nothing. Tests that count password checks need it listening.
        let listening = async {
            while state.auth.cache_suspended() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), listening).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(switchboard::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: client(),
            state,
            _db: db,
            _stop: stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// A new TCP connection to the server, for bytes written by hand.
    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr()).await.expect("connect")
    }

    /// GETs `path` with no credentials on a client that gives up after `timeout`; the response
    /// (or why none came) and how long it took.
    pub async fn timed_get(
        &self,
        path: &str,
        timeout: Duration,
    ) -> (reqwest::Result<Response>, Duration) {
        let client = client_with_timeout(timeout);
        let started = Instant::now();
        let response = client.get(self.url(path)).send().await;
        (response, started.elapsed())
    }

    /// A request with no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request authenticated as `who`.
    pub fn as_user(&self, who: (&str, &str), method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).basic_auth(who.0, Some(who.1))
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.as_user(ADMIN, method, path)
    }

    /// A form POST (`pairs` form-encoded) with no credentials of its own.
    pub fn form_post(&self, path: &str, pairs: &[(&str, &str)]) -> RequestBuilder {
        self.anonymous(Method::POST, path)
            .header(CONTENT_TYPE, FORM)
            .body(form_body(pairs))
    }

    /// The status of a GET of `path` as `who`.
    pub async fn status_as(&self, who: (&str, &str), path: &str) -> StatusCode {
        self.as_user(who, Method::GET, path)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Inserts a record through the Table API as admin and returns its `result`.
    pub async fn insert(&self, table: &str, body: Value) -> Value {
        let response = self
            .admin(Method::POST, &format!("/api/now/table/{table}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::CREATED, "insert into {table}: {body}");
        body["result"].clone()
    }

    /// Creates an active user with a password and the given roles; returns its sys_id.
    pub async fn user(&self, name: &str, password: &str, roles: &[&str]) -> String {
        let user = self
            .insert(
                "sys_user",
                json!({"user_name": name, "user_password": password, "first_name": name}),
            )
            .await;
        for role in roles {
            self.insert("sys_user_has_role", json!({"user": name, "role": role}))
                .await;
        }
        sys_id_of(&user)
    }
}
