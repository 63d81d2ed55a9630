//! A test server per test: its own temporary SQLite database, served in-process on port 0.

use std::path::PathBuf;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use switchboard::app::{self, AppState, Config};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN: (&str, &str) = ("admin", "admin-password");

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server whose config `tweak` may adjust.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(database_url(&dir));
        config.admin_password = Some(ADMIN.1.to_owned());
        tweak(&mut config);
        let state = AppState::open(config).await.expect("server state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app::serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            dir,
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
        user["sys_id"].as_str().unwrap().to_owned()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn database_url(dir: &TempDir) -> String {
    format!("sqlite://{}", database_path(dir).display())
}

pub fn database_path(dir: &TempDir) -> PathBuf {
    dir.path().join("switchboard.db")
}

/// Status and JSON body of a response (panics with the text if it is not JSON).
pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Asserts the platform's error envelope with this status and message; returns the detail.
pub async fn assert_error(response: Response, status: StatusCode, message: &str) -> Value {
    let (got, body) = json_of(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["status"], "failure", "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
    body["error"]["detail"].clone()
}
