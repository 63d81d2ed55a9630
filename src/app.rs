//! The application: shared state, the router, and serving on a listener until shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Extension, Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::throttle::LoginLimits;
use crate::auth::{Authenticator, Caller};
use crate::http::{ApiError, conventions, replay};
use crate::ratelimit::{self, Api, RateLimiter, RateLimits};
use crate::records::Effects;
use crate::server::Limits;
use crate::storage::{self, IdentityNews, PoolSettings, Storage, StorageError, Tx};
use crate::table_api::admission::PageAdmission;
use crate::{bootstrap, demo, interaction_api, mapping_api, member_api, oauth, openapi, table_api};
use utoipa_axum::router::OpenApiRouter;

/// Settings that shape a running server.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    /// Pool size and timeouts (PostgreSQL).
    pub database_pool: PoolSettings,
    /// Run migrations at start.
    pub migrate: bool,
    /// Request bodies above this are refused (the platform's default is 10 MB).
    pub max_body_bytes: usize,
    /// How long a verified Basic credential is trusted without re-hashing (0 disables).
    pub credential_cache_ttl: Duration,
    /// The first admin's password; random (and logged once) when absent.
    pub admin_password: Option<String>,
    /// Load (or restore) the demo data set at start.
    pub demo: bool,
    /// Connection-level limits (timeouts, connection cap, header size).
    pub limits: Limits,
    /// How long a client may take to send a request body.
    pub body_timeout: Duration,
    /// When failed logins lock a user (or OAuth client) or an address.
    pub login_limits: LoginLimits,
    /// Requests per user per API and window (none by default).
    pub rate_limits: RateLimits,
    /// Serve TLS only, with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Records that Table API pages being answered may hold at once (0: no bound); see
    /// [`table_api::admission`].
    pub max_records_in_flight: usize,
    /// How long a page waits for room in that budget before it is answered 503.
    pub page_wait: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &storage::redact(&self.database_url))
            .field("database_pool", &self.database_pool)
            .field("migrate", &self.migrate)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("credential_cache_ttl", &self.credential_cache_ttl)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field("demo", &self.demo)
            .field("limits", &self.limits)
            .field("body_timeout", &self.body_timeout)
            .field("login_limits", &self.login_limits)
            .field("rate_limits", &self.rate_limits)
            .field("tls", &self.tls.is_some())
            .field("max_records_in_flight", &self.max_records_in_flight)
            .field("page_wait", &self.page_wait)
            .finish()
    }
}

impl Config {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    /// Two default pages (10,000 records each) at once.
    pub const DEFAULT_MAX_RECORDS_IN_FLIGHT: usize = 20_000;
    pub const DEFAULT_PAGE_WAIT: Duration = Duration::from_secs(10);

    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            database_pool: PoolSettings::default(),
            migrate: true,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            credential_cache_ttl: Duration::from_secs(60),
            admin_password: None,
            demo: false,
            limits: Limits::default(),
            body_timeout: Duration::from_secs(30),
            login_limits: LoginLimits::default(),
            rate_limits: RateLimits::default(),
            tls: None,
            max_records_in_flight: Self::DEFAULT_MAX_RECORDS_IN_FLIGHT,
            page_wait: Self::DEFAULT_PAGE_WAIT,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Storage>,
    pub auth: Arc<Authenticator>,
    pub rate_limits: Arc<RateLimiter>,
    /// The budget of records Table API pages hold while they are answered.
    pub pages: Arc<PageAdmission>,
    pub config: Arc<Config>,
}

impl AppState {
    /// Opens the database, migrates it, and makes sure the built-in roles and first admin exist.
    pub async fn open(config: Config) -> Result<AppState, StartError> {
        let store = storage::open_with(&config.database_url, &config.database_pool).await?;
        if config.migrate {
            store.migrate().await?;
        }
        // The demo's admin is admin/admin: do not generate (and log) a password it replaces.
        let admin_password = match config.demo {
            true => Some("admin"),
            false => config.admin_password.as_deref(),
        };
        bootstrap::run(&*store, admin_password).await?;
        if config.demo {
            demo::load(&*store).await?;
        }
        let auth = Arc::new(Authenticator::new(
            store.clone(),
            config.credential_cache_ttl,
            config.login_limits.clone(),
        ));
        let rate_limits = Arc::new(RateLimiter::new(config.rate_limits.clone()));
        // Another node's identity change empties this node's cache too.
        let cache = auth.clone();
        store.watch_identity_changes(Arc::new(move |news| match news {
            IdentityNews::Changed => cache.invalidate(),
            IdentityNews::Deaf => cache.suspend_cache(),
            IdentityNews::Listening => cache.release_cache(),
        }));
        let pages = Arc::new(PageAdmission::new(
            config.max_records_in_flight,
            config.page_wait,
        ));
        Ok(AppState {
            store,
            auth,
            rate_limits,
            pages,
            config: Arc::new(config),
        })
    }

    /// Commits a write transaction. When it changed users, roles or grants, every node's
    /// credential cache is emptied: this one's at once, the others' through the notification
    /// the transaction sends on commit.
    ///
    /// The cache is emptied before the response is sent, so a request that starts after it
    /// never passes on the old credentials. One that overlaps the change may (it is ordered
    /// before it); anything that acts on a credential inside a transaction (the token
    /// endpoint) checks it there again.
    pub async fn commit(&self, mut tx: Box<dyn Tx>, effects: Effects) -> Result<(), StorageError> {
        if effects.identity_changed {
            tx.notify(storage::IDENTITY_CHANNEL).await?;
        }
        let committed = tx.commit().await;
        if effects.identity_changed {
            // Even when the commit failed: it may have been kept (a lost connection at commit).
            self.auth.invalidate();
        }
        committed
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("could not prepare the database: {0}")]
    Records(#[from] crate::records::RecordError),
    #[error("could not listen: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Which version prefix a request came in on: `/api/now/`, `/api/now/v1/` or `/api/now/v2/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    Latest,
    V1,
    V2,
}

/// Every documented route, without state. The router and the OpenAPI document
/// ([`crate::openapi`]) are both made from it, so they cannot disagree. Each API's routes carry
/// their [`Api`] as an extension, which rate limits count by.
pub fn api() -> OpenApiRouter<AppState> {
    let mut api = OpenApiRouter::new();
    for (prefix, version) in [
        ("/api/now", ApiVersion::Latest),
        ("/api/now/v1", ApiVersion::V1),
        ("/api/now/v2", ApiVersion::V2),
    ] {
        let apis = table_api::router()
            .layer(Extension(Api::Table))
            .merge(interaction_api::router().layer(Extension(Api::Interaction)))
            .merge(member_api::router().layer(Extension(Api::ConversationMember)));
        api = api.nest(prefix, apis.layer(Extension(version)));
    }
    api.merge(mapping_api::router().layer(Extension(Api::AgentMapping)))
        .merge(oauth::router())
        .merge(openapi::router())
}

/// Every route, behind the platform's conventions.
pub fn router(state: AppState) -> Router {
    let (routed, _) = api().split_for_parts();
    let rate_limited = !state.rate_limits.is_empty();
    let routed = routed
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    // The method override must act before routing, so it wraps the routed service. A write that
    // lost a database conflict runs again inside every other convention (one transaction id).
    let mut app = Router::new()
        .fallback_service(routed)
        .layer(middleware::from_fn(replay::replay_conflicts));
    if rate_limited {
        app = app.layer(middleware::from_fn(ratelimit::report));
    }
    app.layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(conventions::conventions))
        .layer(middleware::from_fn(conventions::method_override))
}

/// A path that names nothing. Under `/api/`, as on the platform, the caller is authenticated
/// first (401), and only then told the resource does not exist (400); clients such as
/// servicenow-api probe credentials this way.
async fn unknown_path(uri: Uri, caller: Result<Caller, ApiError>) -> ApiError {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        match caller {
            Ok(_) => ApiError::invalid_uri(),
            Err(unauthenticated) => unauthenticated,
        }
    } else {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            Some(format!("No resource at {}", uri.path())),
        )
    }
}

/// A panic in a handler is a bug: log it and answer 500 in the envelope, keeping the connection.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not Supported",
        Some("The HTTP method is not supported by this resource".into()),
    )
}

pub use crate::server::serve;
