//! A test server per test: its own temporary SQLite database, served in-process on port 0.

use std::path::PathBuf;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use switchboard::state::{AppState, Config};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

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
}

/// The variable naming the PostgreSQL server the PostgreSQL pass of this suite runs against.
pub const POSTGRES_URL_VAR: &str = "SWITCHBOARD_TEST_DATABASE_URL";
/// Set (by `backends::the_whole_suite_passes_on_postgres`) in the process that runs the suite
/// on PostgreSQL.
pub const BACKEND_VAR: &str = "SWITCHBOARD_TEST_BACKEND";

/// Whether this process runs the suite on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(BACKEND_VAR).as_deref() == Ok("postgres")
}

/// The first line of every PostgreSQL-only test (several nodes on one database, a server to
/// take away). Such a test is marked
/// `#[ignore = "PostgreSQL only: runs in the PostgreSQL pass (set SWITCHBOARD_TEST_DATABASE_URL)"]`:
/// on SQLite it is listed as ignored, with that reason, and the PostgreSQL pass runs it
/// (`--include-ignored`). Run on SQLite all the same (`--include-ignored` by hand), it fails
/// here rather than test nothing.
pub fn assert_postgres_pass() {
    assert!(
        on_postgres(),
        "PostgreSQL only: this test runs in the PostgreSQL pass \
         ({POSTGRES_URL_VAR}=postgres://... cargo test), not on SQLite"
    );
}

/// A database of a test's own: a temporary SQLite file, or, in the PostgreSQL pass, a fresh
/// schema of the PostgreSQL database, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    /// The SQLite file's folder, or the PostgreSQL (server URL, schema).
    place: Place,
}

enum Place {
    Sqlite(TempDir),
    Postgres { server: String, schema: String },
}

impl TestDb {
    pub fn new() -> TestDb {
        if !on_postgres() {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
            return TestDb {
                url,
                place: Place::Sqlite(dir),
            };
        }
        let server = std::env::var(POSTGRES_URL_VAR).expect("the PostgreSQL pass needs its URL");
        let schema = format!("test_{}", switchboard::model::value::new_sys_id());
        postgres(&server, &format!("CREATE SCHEMA {schema}"));
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
        TestDb {
            url,
            place: Place::Postgres { server, schema },
        }
    }

    /// The SQLite file, when the test runs on SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.place {
            Place::Sqlite(dir) => Some(dir.path().join("switchboard.db")),
            Place::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Postgres { server, schema } = &self.place {
            postgres(server, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Runs one statement on the PostgreSQL server, from any context (async or not).
fn postgres(server: &str, statement: &str) {
    let (server, statement) = (server.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&server)
                .await
                .expect("connect to PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .expect("schema statement");
        });
    })
    .join()
    .expect("schema thread");
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

/// A response read off a raw socket (see [`raw`]).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends an HTTP/1.1 request written by hand, for full control of its headers and framing:
/// `headers` and `body` go out verbatim (add `Content-Length` or `Transfer-Encoding` yourself;
/// [`chunked`] encodes a chunked body); `Host` and `Connection: close` are added. The response
/// is read while the body is still being written, so an early answer is not lost.
pub async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let write = tokio::spawn(async move {
        // The server may answer and close before reading everything: ignore write errors.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            let _ = writer.write_all(&body).await;
            let _ = writer.flush().await;
        }
        writer
    });
    let mut received = Vec::new();
    let read = reader.read_to_end(&mut received);
    // Bytes read before a reset are kept in `received`; only a hang is an error.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("the server answered within a minute");
    write.abort();
    parse_raw(&received)
}

/// Encodes `parts` as a chunked body, one chunk per part, with the final empty chunk.
pub fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn parse_raw(bytes: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(bytes);
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {text:?}"));
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut rest = &bytes[end + 4..];
    let is_chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body = if is_chunked {
        let mut body = Vec::new();
        loop {
            let line_end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size line");
            let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body
    } else {
        match length {
            Some(n) => {
                assert!(rest.len() >= n, "truncated response body in {text:?}");
                rest[..n].to_vec()
            }
            None => rest.to_vec(),
        }
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

// --- Seed API helpers (interaction_api, member_api, mapping_api, demo) ---

/// One record read through the Table API as admin, references as plain sys_ids;
/// `None` when the Table API answers 404.
pub async fn fetch_record(app: &TestApp, table: &str, sys_id: &str) -> Option<Value> {
    let path = format!("/api/now/table/{table}/{sys_id}?sysparm_exclude_reference_link=true");
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    match status {
        StatusCode::OK => Some(body["result"].clone()),
        StatusCode::NOT_FOUND => None,
        other => panic!("GET {path}: {other} {body}"),
    }
}

/// The records of `table` matching `query` (a Table API query string such as
/// `interaction=<id>`, or ""), read as admin, references as plain sys_ids.
pub async fn fetch_records(app: &TestApp, table: &str, query: &str) -> Vec<Value> {
    let path = format!(
        "/api/now/table/{table}?sysparm_exclude_reference_link=true&sysparm_limit=10000&{query}"
    );
    let (status, body) = json_of(app.admin(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body["result"].as_array().expect("a list").clone()
}
// --- end of seed API helpers ---
