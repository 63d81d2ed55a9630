//! The command line: `switchboard serve`, `migrate`, `bench-data` and `tail`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

mod tail;

use crate::auth::rate_limit::{RateLimitSpec, RateLimits};
use crate::auth::throttle::LoginLimits;
use crate::http::PublicUrl;
use crate::server::Limits;
use crate::state::{AppState, Config, StartError};
use crate::storage::PoolSettings;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A self-hosted stand-in for the ServiceNow contact-center REST APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written to stderr: `text` for people, `json` (one JSON object a line)
    /// for log collectors.
    #[arg(long, global = true, value_enum, env = "SWITCHBOARD_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST APIs.
    Serve(Box<ServeArgs>),
    /// Run the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Load (or extend) a realistic data set for benchmarks and write a manifest of its ids.
    BenchData(BenchDataArgs),
    /// Check fixture files, load them into a database, or print the demo's.
    #[command(subcommand)]
    Fixtures(FixturesCommand),
    /// Print a running server's requests as they are answered (its request journal's stream).
    Tail(tail::TailArgs),
}

#[derive(Debug, Subcommand)]
pub enum FixturesCommand {
    /// Load fixture files into the database (all of them, or nothing), then exit.
    Load {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Fixture files (YAML or JSON), loaded in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Read fixture files and report the first mistake of each, with its line; loads nothing.
    Check {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the demo data set's fixture file, a starting point for your own.
    Demo,
}

#[derive(Debug, Args)]
pub struct BenchDataArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Agents (users with interaction_agent and awa_integration_user, each mapped).
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    /// Interactions to add, each with a conversation, an agent and an observing supervisor.
    #[arg(long, default_value_t = 100_000)]
    pub interactions: usize,
    /// Where to write the manifest (JSON) of the ids a benchmark needs.
    #[arg(long, default_value = "bench-manifest.json")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE_URL",
        default_value = "sqlite://switchboard.db"
    )]
    pub database: String,
    /// Most connections to PostgreSQL this node opens.
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub database_max_connections: u32,
    /// Seconds a request waits for a free PostgreSQL connection before failing.
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE_ACQUIRE_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub database_acquire_timeout_seconds: u64,
}

/// A number of seconds that must be at least 1.
fn at_least_one() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..)
}

impl DatabaseArgs {
    fn pool(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.database_max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.database_acquire_timeout_seconds),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Do not run migrations at start (run `switchboard migrate` instead).
    #[arg(long, env = "SWITCHBOARD_NO_MIGRATE")]
    pub no_migrate: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_BODY_BYTES", default_value_t = Config::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest attachment accepted, in bytes (the Attachment API spools uploads to a temporary
    /// file in TMPDIR, so that much free space there is needed too).
    #[arg(long, env = "SWITCHBOARD_ATTACHMENT_MAX_BYTES", default_value_t = Config::DEFAULT_ATTACHMENT_MAX_BYTES)]
    pub attachment_max_bytes: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers (and a connection may stay idle).
    /// At least 1: with 0 every connection would close at once.
    #[arg(long, env = "SWITCHBOARD_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_parser = at_least_one())]
    pub header_timeout_seconds: u64,
    /// Seconds a client may take to send a request's body (at least 1).
    #[arg(long, env = "SWITCHBOARD_BODY_TIMEOUT_SECONDS", default_value_t = 30, value_parser = at_least_one())]
    pub body_timeout_seconds: u64,
    /// Seconds a write of a response may make no progress (a client not reading) before the
    /// connection is dropped (at least 1: with 0 every write that waits, and every HTTP/2 PING,
    /// would fail at once).
    #[arg(long, env = "SWITCHBOARD_SEND_TIMEOUT_SECONDS", default_value_t = Limits::default().send_timeout.as_secs(), value_parser = at_least_one())]
    pub send_timeout_seconds: u64,
    /// HTTP/2 requests one connection may have in flight at once.
    #[arg(long, env = "SWITCHBOARD_MAX_STREAMS_PER_CONNECTION", default_value_t = Limits::default().max_streams_per_connection)]
    pub max_streams_per_connection: u32,
    /// Largest header block (request line, path, headers) accepted, in bytes (at least 8192).
    #[arg(long, env = "SWITCHBOARD_MAX_HEADER_BYTES", default_value_t = 65536)]
    pub max_header_bytes: usize,
    /// The URL clients reach this server by, when it is not the one they send to it (behind a
    /// proxy that rewrites Host): `https://host[:port][/prefix]`. Every URL switchboard builds
    /// (reference links, paging links, Location) starts with it.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    pub public_url: Option<PublicUrl>,
    /// Load the demo data set (idempotently) in which every sample of the API pages works,
    /// and print its credentials.
    #[arg(long, env = "SWITCHBOARD_DEMO")]
    pub demo: bool,
    /// A fixture file (YAML or JSON, docs/fixtures.md) to load at start, after the demo, and
    /// again at every reset. Repeat the flag for more; all load, or the server does not start.
    #[arg(
        long = "fixtures",
        value_name = "FILE",
        env = "SWITCHBOARD_FIXTURES",
        value_delimiter = ','
    )]
    pub fixtures: Vec<PathBuf>,
    /// Seconds a verified Basic credential is trusted without re-hashing (0 disables the cache).
    #[arg(
        long,
        env = "SWITCHBOARD_CREDENTIAL_CACHE_SECONDS",
        default_value_t = 60
    )]
    pub credential_cache_seconds: u64,
    /// Failed logins for one user name (or OAuth client id) within the window that lock it
    /// (0: no limit).
    #[arg(long, env = "SWITCHBOARD_LOGIN_FAILURES_PER_USER", default_value_t = LoginLimits::default().per_account)]
    pub login_failures_per_user: u32,
    /// Failed logins from one client address within the window that lock the address
    /// (0: no limit).
    #[arg(long, env = "SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS", default_value_t = LoginLimits::default().per_address)]
    pub login_failures_per_address: u32,
    /// Seconds failed logins are remembered; also the longest lockout.
    #[arg(long, env = "SWITCHBOARD_LOGIN_WINDOW_SECONDS", default_value_t = LoginLimits::default().window.as_secs())]
    pub login_window_seconds: u64,
    /// Seconds of the first lockout; each further failure doubles it (up to the window).
    #[arg(long, env = "SWITCHBOARD_LOGIN_LOCKOUT_SECONDS", default_value_t = LoginLimits::default().lockout.as_secs())]
    pub login_lockout_seconds: u64,
    /// A rate limit, API=N[/PERIOD]: N requests per user per PERIOD (default hour) to API
    /// (table, interaction, conversation_member, agent_mapping, oauth, or all). Repeat the flag,
    /// or separate rules with commas. None by default.
    #[arg(
        long = "rate-limit",
        value_name = "API=N[/PERIOD]",
        env = "SWITCHBOARD_RATE_LIMITS",
        value_delimiter = ','
    )]
    pub rate_limits: Vec<RateLimitSpec>,
    /// Records that Table API pages being answered may hold at once (0: no bound). A page
    /// reserves the records it will return until its body is sent; one larger than this runs
    /// alone; others wait for room.
    #[arg(long, env = "SWITCHBOARD_MAX_RECORDS_IN_FLIGHT", default_value_t = Config::DEFAULT_MAX_RECORDS_IN_FLIGHT)]
    pub max_records_in_flight: usize,
    /// Seconds a Table API page may wait for room under --max-records-in-flight before it is
    /// answered 503 with Retry-After.
    #[arg(long, env = "SWITCHBOARD_PAGE_WAIT_SECONDS", default_value_t = Config::DEFAULT_PAGE_WAIT.as_secs())]
    pub page_wait_seconds: u64,
    /// Milliseconds between passes of AWA's sweeper, which cancels offers whose timeout has
    /// passed (0: never).
    #[arg(long, env = "SWITCHBOARD_AWA_SWEEP_INTERVAL_MS", default_value_t = Config::DEFAULT_AWA_SWEEP_INTERVAL.as_millis() as u64)]
    pub awa_sweep_interval_ms: u64,
    /// Milliseconds the outbound deliverer waits, when it has nothing to send, before it looks
    /// for events to deliver again (0: this node delivers nothing; others on the database may).
    #[arg(long, env = "SWITCHBOARD_OUTBOUND_POLL_INTERVAL_MS", default_value_t = Config::DEFAULT_OUTBOUND_POLL_INTERVAL.as_millis() as u64)]
    pub outbound_poll_interval_ms: u64,
    /// A bearer token admitted as admin on switchboard's own routes (`/_switchboard/...`) only,
    /// never on the platform's APIs. Prefer the environment variable: like
    /// SWITCHBOARD_ADMIN_PASSWORD, it is not shown by `ps`, as a flag's value is.
    #[arg(
        long,
        env = "SWITCHBOARD_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
    /// Also serve the Prometheus metrics, without credentials, as `GET /metrics` on this
    /// address (its own listener: keep it private). They are on `/_switchboard/metrics` for
    /// admins either way.
    #[arg(long, env = "SWITCHBOARD_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Requests (and outbound deliveries) the request journal keeps, the oldest forgotten
    /// first (0: no journal, and its routes answer 404).
    #[arg(long, env = "SWITCHBOARD_JOURNAL_SIZE", default_value_t = Config::DEFAULT_JOURNAL_SIZE)]
    pub journal_size: usize,
    /// The most of each request and response body a journal entry keeps, in bytes; a longer
    /// body is cut and marked truncated.
    #[arg(long, env = "SWITCHBOARD_JOURNAL_BODY_BYTES", default_value_t = Config::DEFAULT_JOURNAL_BODY_BYTES)]
    pub journal_body_bytes: usize,
    /// Serve HTTPS only, with this PEM certificate chain (needs --tls-key).
    #[arg(
        long,
        env = "SWITCHBOARD_TLS_CERT",
        requires = "tls_key",
        value_name = "PATH"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "SWITCHBOARD_TLS_KEY",
        requires = "tls_cert",
        value_name = "PATH"
    )]
    pub tls_key: Option<PathBuf>,
}

/// Runs a parsed command line to completion.
pub async fn run(cli: Cli) -> Result<(), StartError> {
    // The admin password comes only from the environment, never a flag visible in `ps`.
    let admin_password = std::env::var("SWITCHBOARD_ADMIN_PASSWORD").ok();
    match cli.command {
        Command::Migrate(db) => {
            let store = crate::storage::open_with(&db.database, &db.pool()).await?;
            store.migrate().await?;
            store.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::BenchData(args) => {
            let store = crate::storage::open_with(&args.db.database, &args.db.pool()).await?;
            store.migrate().await?;
            crate::fixtures::bootstrap::run(&*store, admin_password.as_deref()).await?;
            let started = std::time::Instant::now();
            let manifest =
                crate::fixtures::bench_data::load(&*store, args.users, args.interactions).await?;
            store.close().await;
            let json = serde_json::to_vec(&manifest).expect("the manifest serialises");
            std::fs::write(&args.out, json)?;
            println!(
                "bench data: {} agents, {} interactions in {:.1} s; manifest {}",
                manifest.users.len(),
                manifest.interactions.len(),
                started.elapsed().as_secs_f64(),
                args.out.display()
            );
            Ok(())
        }
        Command::Fixtures(FixturesCommand::Demo) => {
            print!("{}", crate::fixtures::demo::FILE);
            Ok(())
        }
        Command::Fixtures(FixturesCommand::Check { files }) => {
            let fixtures = read_fixtures(&files)?;
            for fixture in fixtures {
                println!("{}: {} records", fixture.name, fixture.records.len());
            }
            Ok(())
        }
        Command::Fixtures(FixturesCommand::Load { db, files }) => {
            let fixtures = read_fixtures(&files)?;
            let store = crate::storage::open_with(&db.database, &db.pool()).await?;
            store.migrate().await?;
            crate::fixtures::bootstrap::run(&*store, admin_password.as_deref()).await?;
            let loaded = crate::fixtures::load(&*store, fixtures).await;
            store.close().await;
            let loaded = loaded?;
            println!(
                "fixtures loaded: {} created, {} updated, {} removed, {} attachments",
                loaded.created, loaded.updated, loaded.removed, loaded.attachments
            );
            Ok(())
        }
        Command::Tail(args) => tail::run(args).await,
        Command::Serve(args) => {
            // Before the database: a bad certificate should fail fast, with nothing changed.
            let tls = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(crate::server::tls::server_config(cert, key)?),
                _ => None,
            };
            let config = Config {
                database_pool: args.db.pool(),
                database_url: args.db.database,
                migrate: !args.no_migrate,
                max_body_bytes: args.max_body_bytes,
                attachment_max_bytes: args.attachment_max_bytes,
                credential_cache_ttl: Duration::from_secs(args.credential_cache_seconds),
                admin_password,
                admin_token: args.admin_token.clone().filter(|t| !t.is_empty()),
                demo: args.demo,
                fixtures: read_fixtures(&args.fixtures)?,
                limits: Limits {
                    max_connections: args.max_connections,
                    header_timeout: Duration::from_secs(args.header_timeout_seconds),
                    max_header_bytes: args.max_header_bytes,
                    send_timeout: Duration::from_secs(args.send_timeout_seconds),
                    max_streams_per_connection: args.max_streams_per_connection,
                    ..Limits::default()
                },
                body_timeout: Duration::from_secs(args.body_timeout_seconds),
                login_limits: LoginLimits {
                    per_account: args.login_failures_per_user,
                    per_address: args.login_failures_per_address,
                    window: Duration::from_secs(args.login_window_seconds),
                    lockout: Duration::from_secs(args.login_lockout_seconds),
                },
                rate_limits: RateLimits::from_specs(&args.rate_limits),
                tls,
                max_records_in_flight: args.max_records_in_flight,
                page_wait: Duration::from_secs(args.page_wait_seconds),
                public_url: args.public_url,
                awa_sweep_interval: Duration::from_millis(args.awa_sweep_interval_ms),
                outbound_poll_interval: Duration::from_millis(args.outbound_poll_interval_ms),
                journal_size: args.journal_size,
                journal_body_bytes: args.journal_body_bytes,
            };
            if config.admin_token.is_some() {
                tracing::info!("switchboard's own routes admit the admin token");
            }
            tracing::debug!(?config, "starting");
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            let state = AppState::open(config).await?;
            if let Some(addr) = args.metrics_listen {
                let metrics = TcpListener::bind(addr).await?;
                println!("metrics on http://{}/metrics", metrics.local_addr()?);
                tokio::spawn(async move {
                    if let Err(e) = crate::serve_metrics(metrics).await {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                });
            }
            let listener = TcpListener::bind(args.listen).await?;
            let base = format!("{scheme}://{}", listener.local_addr()?);
            println!("listening on {base}");
            if args.demo {
                println!("{}", crate::fixtures::demo::banner(&base));
            }
            crate::serve(listener, state, shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Reads and parses fixture files; the first refused names its file and line.
fn read_fixtures(paths: &[PathBuf]) -> Result<Vec<crate::fixtures::Fixture>, StartError> {
    paths
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| {
                StartError::Fixture(crate::fixtures::FixtureError {
                    file: name.clone(),
                    line: None,
                    reason: e.to_string(),
                })
            })?;
            Ok(crate::fixtures::Fixture::parse(&name, &text)?)
        })
        .collect()
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler succeeds");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    #[test]
    fn the_admin_token_is_a_flag_or_the_environment() {
        let parsed = Cli::try_parse_from(["switchboard", "serve", "--admin-token", "t0ken"]);
        let super::Command::Serve(args) = parsed.unwrap().command else {
            panic!("serve");
        };
        assert_eq!(args.admin_token.as_deref(), Some("t0ken"));
    }

    #[test]
    fn timeouts_of_zero_seconds_are_refused() {
        for flag in [
            "--header-timeout-seconds",
            "--body-timeout-seconds",
            "--send-timeout-seconds",
        ] {
            let parsed = Cli::try_parse_from(["switchboard", "serve", flag, "0"]);
            assert!(parsed.is_err(), "{flag} 0 was accepted");
            let parsed = Cli::try_parse_from(["switchboard", "serve", flag, "1"]);
            assert!(parsed.is_ok(), "{flag} 1: {:?}", parsed.err());
        }
    }
}
