//! What every handler can reach: the storage, the authenticator, the rate limiter, the page
//! budget, the request journal and the configuration, opened from a [`Config`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;

use crate::auth::rate_limit::{RateLimiter, RateLimits};
use crate::auth::throttle::LoginLimits;
use crate::auth::{Authenticator, CallerState};
use crate::domain::awa_work;
use crate::fixtures::{LoadError, Prepared, bootstrap, demo};
use crate::http::admission::PageAdmission;
use crate::http::faults::Faults;
use crate::http::{BodyLimits, PublicUrl};
use crate::journal::Journal;
use crate::model::clock::Clock;
use crate::server::Limits;
use crate::storage::{self, IdentityNews, PoolSettings, Storage, StorageError};

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
    /// Attachments above this are refused (the platform's default is 1024 MB).
    pub attachment_max_bytes: u64,
    /// How long a verified Basic credential is trusted without re-hashing (0 disables).
    pub credential_cache_ttl: Duration,
    /// The first admin's password; random (and logged once) when absent.
    pub admin_password: Option<String>,
    /// A bearer token admitted as admin on switchboard's own routes (`/_switchboard/`) only.
    pub admin_token: Option<String>,
    /// Load (or restore) the demo data set at start.
    pub demo: bool,
    /// Fixture files loaded at start (after the demo), and again by every reset.
    pub fixtures: Vec<crate::fixtures::Fixture>,
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
    /// [`crate::http::admission`].
    pub max_records_in_flight: usize,
    /// How long a page waits for room in that budget before it is answered 503.
    pub page_wait: Duration,
    /// The base of the URLs switchboard builds (`--public-url`), for a server behind a proxy;
    /// without it, the address each request was sent to.
    pub public_url: Option<PublicUrl>,
    /// How often AWA's sweeper cancels offers whose time is up (zero: never; tests sweep by
    /// hand after moving the clock).
    pub awa_sweep_interval: Duration,
    /// How long the outbound deliverer waits for new events when it has none to send (zero:
    /// this node delivers nothing).
    pub outbound_poll_interval: Duration,
    /// Entries the request journal keeps (0: no journal); see [`crate::journal`].
    pub journal_size: usize,
    /// The most of each request and response body a journal entry keeps.
    pub journal_body_bytes: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &storage::redact(&self.database_url))
            .field("database_pool", &self.database_pool)
            .field("migrate", &self.migrate)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("attachment_max_bytes", &self.attachment_max_bytes)
            .field("credential_cache_ttl", &self.credential_cache_ttl)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("demo", &self.demo)
            .field(
                "fixtures",
                &self.fixtures.iter().map(|f| &f.name).collect::<Vec<_>>(),
            )
            .field("limits", &self.limits)
            .field("body_timeout", &self.body_timeout)
            .field("login_limits", &self.login_limits)
            .field("rate_limits", &self.rate_limits)
            .field("tls", &self.tls.is_some())
            .field("max_records_in_flight", &self.max_records_in_flight)
            .field("page_wait", &self.page_wait)
            .field("awa_sweep_interval", &self.awa_sweep_interval)
            .field("outbound_poll_interval", &self.outbound_poll_interval)
            .field("journal_size", &self.journal_size)
            .field("journal_body_bytes", &self.journal_body_bytes)
            .finish()
    }
}

impl Config {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    /// The platform's `com.glide.attachment.max_size`: 1024 MB.
    pub const DEFAULT_ATTACHMENT_MAX_BYTES: u64 = 1024 * 1024 * 1024;
    /// Two default pages (10,000 records each) at once.
    pub const DEFAULT_MAX_RECORDS_IN_FLIGHT: usize = 20_000;
    pub const DEFAULT_PAGE_WAIT: Duration = Duration::from_secs(10);
    pub const DEFAULT_AWA_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
    pub const DEFAULT_OUTBOUND_POLL_INTERVAL: Duration = Duration::from_millis(200);
    pub const DEFAULT_JOURNAL_SIZE: usize = 1000;
    pub const DEFAULT_JOURNAL_BODY_BYTES: usize = 4096;

    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            database_pool: PoolSettings::default(),
            migrate: true,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            attachment_max_bytes: Self::DEFAULT_ATTACHMENT_MAX_BYTES,
            credential_cache_ttl: Duration::from_secs(60),
            admin_password: None,
            admin_token: None,
            demo: false,
            fixtures: Vec::new(),
            limits: Limits::default(),
            body_timeout: Duration::from_secs(30),
            login_limits: LoginLimits::default(),
            rate_limits: RateLimits::default(),
            tls: None,
            max_records_in_flight: Self::DEFAULT_MAX_RECORDS_IN_FLIGHT,
            page_wait: Self::DEFAULT_PAGE_WAIT,
            public_url: None,
            awa_sweep_interval: Self::DEFAULT_AWA_SWEEP_INTERVAL,
            outbound_poll_interval: Self::DEFAULT_OUTBOUND_POLL_INTERVAL,
            journal_size: Self::DEFAULT_JOURNAL_SIZE,
            journal_body_bytes: Self::DEFAULT_JOURNAL_BODY_BYTES,
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
    /// The time AWA's offers are measured against.
    pub clock: Clock,
    /// Held for reading by every request while it is served, and for writing by what swaps
    /// the whole world (reset, snapshots): see `api::control::HoldWorld`.
    pub world: Arc<tokio::sync::RwLock<()>>,
    /// The fixtures given at start (the demo, `--fixtures`), checked and hashed once: every
    /// reset loads them again.
    pub start: Arc<Prepared>,
    /// The fault rules of this node (`/_switchboard/faults`), for the platform's routes and
    /// the outbound deliverer.
    pub faults: Arc<Faults>,
    /// The request journal, unless `journal_size` is 0.
    pub journal: Option<Journal>,
}

impl AppState {
    /// Opens the database, migrates it, and makes sure the built-in roles and first admin exist.
    pub async fn open(config: Config) -> Result<AppState, StartError> {
        // Before anything records a metric.
        crate::http::metrics::install();
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
        let mut fixtures = Vec::new();
        if config.demo {
            fixtures.push(demo::fixture());
        }
        fixtures.extend(config.fixtures.iter().cloned());
        let start = Prepared::new(fixtures).await?;
        let mut tx = store.begin().await?;
        tx.lock("bootstrap").await?;
        start.apply(&mut tx).await?;
        tx.commit().await?;
        let auth = Arc::new(Authenticator::new(
            store.clone(),
            config.credential_cache_ttl,
            config.login_limits.clone(),
        ));
        let rate_limits = Arc::new(RateLimiter::new(config.rate_limits.clone()));
        // An identity change committed here or on another node empties this node's cache. Held
        // weakly: the store keeps the listener, and the authenticator keeps the store.
        let cache = Arc::downgrade(&auth);
        store.watch_identity_changes(Arc::new(move |news| {
            let Some(cache) = cache.upgrade() else {
                return;
            };
            match news {
                IdentityNews::Changed => cache.invalidate(),
                IdentityNews::Deaf => cache.suspend_cache(),
                IdentityNews::Listening => cache.release_cache(),
            }
        }));
        let pages = Arc::new(PageAdmission::new(
            config.max_records_in_flight,
            config.page_wait,
        ));
        let journal = (config.journal_size > 0)
            .then(|| Journal::new(config.journal_size, config.journal_body_bytes));
        Ok(AppState {
            journal,
            store,
            auth,
            rate_limits,
            pages,
            config: Arc::new(config),
            clock: Clock::default(),
            world: Arc::default(),
            start: Arc::new(start),
            faults: Arc::new(Faults::new()),
        })
    }

    /// One pass of AWA's sweeper at the clock's time: the offers it cancelled.
    pub async fn sweep_offers(&self) -> Result<usize, crate::domain::RecordError> {
        awa_work::expire_offers(&*self.store, self.clock.now()).await
    }
}

impl From<LoadError> for StartError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Fixture(e) => StartError::Fixture(e),
            LoadError::Storage(e) => StartError::Storage(e),
        }
    }
}

impl CallerState for AppState {
    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn rate_limiter(&self) -> &RateLimiter {
        &self.rate_limits
    }

    fn admin_token(&self) -> Option<&str> {
        self.config.admin_token.as_deref()
    }
}

impl FromRef<AppState> for Option<PublicUrl> {
    fn from_ref(state: &AppState) -> Option<PublicUrl> {
        state.config.public_url.clone()
    }
}

impl FromRef<AppState> for BodyLimits {
    fn from_ref(state: &AppState) -> BodyLimits {
        BodyLimits {
            max_bytes: state.config.max_body_bytes,
            timeout: state.config.body_timeout,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("could not prepare the database: {0}")]
    Records(#[from] crate::domain::RecordError),
    #[error("could not listen: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::server::tls::TlsError),
    #[error("fixture refused: {0}")]
    Fixture(#[from] crate::fixtures::FixtureError),
    /// A command that talks to a running server (`switchboard tail`) could not.
    #[error("{0}")]
    Client(String),
}
