//! Who is calling: Basic authentication against `sys_user`, and role guards.

pub mod cache;
pub mod jwt;
pub mod rate_limit;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

use crate::domain::{password, roles, tokens};
use crate::http::ApiError;
use crate::http::Connection;
use crate::model::filter::{Asker, Filter, Select};
use crate::model::registry::{self, field};
use crate::model::value::Record;
use crate::storage::{Storage, StorageError};
use cache::CredentialCache;
pub use cache::Verified;
use rate_limit::{Api, RateLimiter, Report};
use throttle::{Account, Lockout, LoginLimits, LoginThrottle};

/// An authenticated user, as handlers see it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sys_id: String,
    pub user_name: String,
    /// Effective roles, comma separated (the `sys_user.roles` field).
    pub roles: String,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        roles::holds(&self.roles, role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(roles::ADMIN)
    }

    /// The caller, as a query's `javascript:gs.getUserID()` and `DYNAMIC` "Me" name them.
    pub fn asker(&self) -> Asker<'_> {
        Asker::User {
            sys_id: &self.sys_id,
            user_name: &self.user_name,
        }
    }

    /// The guard for APIs that need a role: 403 without it, with the platform's answer to a
    /// failed API-level ACL (ServiceNow KB2466644).
    pub fn require(&self, role: &str) -> Result<(), ApiError> {
        if self.has_role(role) {
            Ok(())
        } else {
            tracing::info!(user = %self.user_name, role, "role missing");
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "User Not Authorized",
                Some("Failed API level ACL Validation".into()),
            ))
        }
    }
}

/// Why a login did not succeed.
#[derive(Debug)]
pub enum LoginError {
    /// No such user, a wrong password, or an inactive user: one answer for all three.
    Refused,
    /// Too many failed attempts for the account or from the address: nothing was checked.
    Locked(Lockout),
    Storage(StorageError),
}

impl From<StorageError> for LoginError {
    fn from(e: StorageError) -> Self {
        LoginError::Storage(e)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Refused => ApiError::unauthenticated(),
            LoginError::Locked(lockout) => {
                ApiError::too_many_requests(lockout.detail(), lockout.retry_after())
            }
            LoginError::Storage(e) => e.into(),
        }
    }
}

/// Checks credentials, with a cache so a steady client is not re-hashed on every request, and
/// a throttle so a guessing client is refused before anything is hashed.
pub struct Authenticator {
    store: Arc<dyn Storage>,
    cache: CredentialCache,
    throttle: LoginThrottle,
    /// Argon2 verifications run so far: what the cache and the throttle exist to save.
    password_checks: AtomicU64,
    /// Turns to verify a credential the cache does not hold, by a stripe of its cache key: the
    /// many requests a client has in flight when its credential leaves the cache wait for the
    /// first one's verification instead of each running Argon2 (p99 was over a second at 64
    /// connections).
    verifying: Vec<tokio::sync::Mutex<()>>,
}

/// How many credentials can be verified at once (more than the Argon2 pool's threads).
const VERIFYING_STRIPES: usize = 64;

impl Authenticator {
    pub fn new(store: Arc<dyn Storage>, cache_ttl: Duration, login_limits: LoginLimits) -> Self {
        Authenticator {
            store,
            cache: CredentialCache::new(cache_ttl, 10_000),
            throttle: LoginThrottle::new(login_limits),
            password_checks: AtomicU64::new(0),
            verifying: (0..VERIFYING_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// How many passwords this authenticator has verified with Argon2.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    /// Called after a committed write that changed users, roles or grants.
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    /// Holds the credential cache (it answers and keeps nothing) until
    /// [`Self::release_cache`], which empties it: with several nodes, while this node cannot
    /// hear the others' identity changes.
    pub fn suspend_cache(&self) {
        self.cache.hold();
    }

    /// Whether the credential cache is suspended: at start and whenever this node cannot hear
    /// other nodes' identity changes (PostgreSQL's listener is not listening).
    pub fn cache_suspended(&self) -> bool {
        self.cache.held()
    }

    /// Ends one [`Self::suspend_cache`].
    pub fn release_cache(&self) {
        self.cache.release();
    }

    /// Refuses (and logs) an attempt while the account or the address is locked.
    fn admit(&self, account: Account<'_>, from: Option<IpAddr>) -> Result<(), LoginError> {
        self.throttle.admit(account, from).map_err(|lockout| {
            let address = throttle::show_address(from);
            let retry_after = crate::http::error::retry_after_seconds(lockout.retry_after());
            match account {
                Account::User(_) => tracing::info!(
                    user = ?account.name(),
                    address = %address,
                    retry_after,
                    "login refused: locked after too many failures"
                ),
                Account::Client(_) | Account::Assertion(_) => tracing::info!(
                    client_id = ?account.name(),
                    address = %address,
                    retry_after,
                    "OAuth client refused: locked after too many failures"
                ),
            }
            LoginError::Locked(lockout)
        })
    }

    /// An OAuth application (`oauth_entity`) by its client id and secret, from `from`. Refused
    /// without a lookup while the client id or the address is locked after failed logins;
    /// never cached: a token request is rare, and the secret is checked again (by the grant,
    /// inside its transaction) against what it was verified against here.
    pub async fn client(
        &self,
        client_id: &str,
        secret: &str,
        from: Option<IpAddr>,
    ) -> Result<Record, LoginError> {
        let account = Account::Client(client_id);
        self.admit(account, from)?;
        let entities = &registry::OAUTH_ENTITY;
        let select = Select::filter(Filter::eq(
            field!(OAUTH_ENTITY, client_id),
            client_id.into(),
        ))
        .limit(1);
        let found = self.store.select(entities, &select).await?.pop();
        let hash = found
            .as_ref()
            .and_then(|c| c.str("client_secret"))
            .map(str::to_owned);
        // Verified even when the client is unknown (against a dummy hash): same time either way.
        let verified = password::verify(secret.to_owned(), hash).await;
        let address = throttle::show_address(from);
        let client = match found {
            Some(client) if verified => client,
            found => {
                let reason = match found {
                    Some(_) => "wrong client secret",
                    None => "unknown client",
                };
                tracing::info!(client_id = ?account.name(), address = %address, reason, "OAuth client authentication failed");
                self.throttle.failed(account, from);
                return Err(LoginError::Refused);
            }
        };
        tracing::info!(client_id = ?account.name(), address = %address, "OAuth client authenticated");
        self.throttle.succeeded(account);
        Ok(client)
    }

    /// A user name and password, from `from` (the client's address, when known). Refused
    /// without a lookup while the user or the address is locked; a verified password is cached,
    /// and a cached one is not hashed again.
    pub async fn basic(
        &self,
        user_name: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<Caller, LoginError> {
        Ok(self.password(user_name, password, from).await?.caller)
    }

    /// The user a JWT bearer grant's `assertion` signs in, for `client` (already authenticated
    /// with its secret), from `from`. Refused, logged and counted against the application as a
    /// failed login, when the assertion does not verify against the application's JWT profile
    /// (`jwt::verify`) or its `sub` names no one active in the profile's user field (or more
    /// than one user). The `jti` is recorded by the grant, in its transaction.
    pub async fn assertion(
        &self,
        client: &Record,
        assertion: &str,
        from: Option<IpAddr>,
    ) -> Result<(Record, jwt::Assertion), LoginError> {
        let client_id = client.str("client_id").unwrap_or_default();
        let account = Account::Assertion(client_id);
        self.admit(account, from)?;
        let refuse = |reason: &str| {
            let address = throttle::show_address(from);
            tracing::info!(client_id = ?account.name(), address = %address, reason, "OAuth JWT bearer assertion refused");
            self.throttle.failed(account, from);
            LoginError::Refused
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let verified = jwt::verify(client, assertion, now).map_err(refuse)?;
        let field = registry::SYS_USER
            .field(jwt::user_field(client))
            .filter(|f| f.access != registry::Access::WriteOnly)
            .ok_or_else(|| refuse("the JWT profile's user field is not a sys_user field"))?;
        let select = Select::filter(Filter::eq(
            field,
            crate::model::value::Value::text(verified.sub.clone()),
        ))
        .limit(2);
        let mut found = self.store.select(&registry::SYS_USER, &select).await?;
        if found.len() != 1 {
            return Err(refuse("sub matches no user, or more than one"));
        }
        let user = found.pop().expect("one user");
        if user.get("active") != &crate::model::value::Value::Bool(true) {
            return Err(refuse("the user is inactive"));
        }
        let address = throttle::show_address(from);
        tracing::info!(client_id = ?account.name(), user = ?user.str("user_name"), address = %address, "OAuth JWT bearer assertion verified");
        self.throttle.succeeded(account);
        Ok((user, verified))
    }

    /// Like [`Self::basic`], with the password hash the password was verified against, for a
    /// caller that must check, inside its transaction, that it still holds (the token
    /// endpoint's password grant).
    pub async fn password(
        &self,
        user_name: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<Verified, LoginError> {
        let account = Account::User(user_name);
        // Before the cache: while locked, a cache lookup would let guesses through for free.
        self.admit(account, from)?;
        let key = CredentialCache::key(user_name, password);
        // A cached credential is a success like any other: the user's failures are forgotten.
        let cached = || {
            let verified = self.cache.get_verified(&key)?;
            self.throttle.succeeded(account);
            Some(verified)
        };
        if let Some(caller) = cached() {
            return Ok(caller);
        }
        let stripe = usize::from(key[0]) % VERIFYING_STRIPES;
        let _turn = self.verifying[stripe].lock().await;
        // Whoever had the turn before may have verified this very credential, or failed with
        // it often enough to lock it.
        if let Some(caller) = cached() {
            return Ok(caller);
        }
        self.admit(account, from)?;
        let epoch = self.cache.epoch();
        let users = &registry::SYS_USER;
        let found = self
            .store
            .select(
                users,
                &Select::filter(Filter::eq(field!(SYS_USER, user_name), user_name.into())).limit(1),
            )
            .await?
            .pop();
        let hash = found
            .as_ref()
            .and_then(|u| u.str("user_password"))
            .map(str::to_owned);
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        let verified = password::verify(password.to_owned(), hash.clone()).await;
        let (caller, reason) = match &found {
            None => (None, "unknown user"),
            Some(_) if !verified => (None, "wrong password"),
            Some(u) => (active_caller(u), "inactive user"),
        };
        let Some(caller) = caller else {
            tracing::info!(
                user = ?account.name(),
                address = %throttle::show_address(from),
                reason,
                "login failed"
            );
            self.throttle.failed(account, from);
            return Err(LoginError::Refused);
        };
        tracing::info!(
            user = ?account.name(),
            address = %throttle::show_address(from),
            "login succeeded"
        );
        self.throttle.succeeded(account);
        let verified = Verified {
            caller,
            stamp: hash.map(Arc::from),
        };
        self.cache.put_verified(key, verified.clone(), epoch, None);
        Ok(verified)
    }

    /// An OAuth access token: unexpired, unrevoked, of an active user. Checking one reads the
    /// token and its user (or the cache), never a password hash.
    pub async fn bearer(&self, token: &str) -> Result<Caller, ApiError> {
        let key = CredentialCache::bearer_key(token);
        if let Some(caller) = self.cache.get(&key) {
            return Ok(caller);
        }
        let epoch = self.cache.epoch();
        let record = tokens::find_access(&*self.store, token).await?;
        let user = match record.as_ref().and_then(|t| t.str("user")) {
            Some(id) => self.store.get(&registry::SYS_USER, id).await?,
            None => None,
        };
        let Some(caller) = user.as_ref().and_then(active_caller) else {
            tracing::info!("bearer token refused");
            return Err(ApiError::unauthenticated());
        };
        // Cached no longer than the token lives.
        let until = record
            .as_ref()
            .and_then(|t| t.str("expires"))
            .and_then(seconds_until)
            .map(|s| std::time::Instant::now() + Duration::from_secs(s));
        self.cache.put_until(key, caller.clone(), epoch, until);
        Ok(caller)
    }
}

/// The caller a user record stands for, if the user is active.
fn active_caller(user: &crate::model::value::Record) -> Option<Caller> {
    (user.get("active") == &crate::model::value::Value::Bool(true)).then(|| Caller {
        sys_id: user.sys_id().to_owned(),
        user_name: user.str("user_name").unwrap_or_default().to_owned(),
        roles: user.str("roles").unwrap_or_default().to_owned(),
    })
}

/// Seconds from now until a `YYYY-MM-DD HH:MM:SS` UTC time (0 if past).
fn seconds_until(when: &str) -> Option<u64> {
    let left = (crate::model::value::parse_date_time(when)? - time::OffsetDateTime::now_utc())
        .whole_seconds();
    Some(u64::try_from(left).unwrap_or(0))
}

/// `user:password` from a Basic `Authorization` header: the one Basic parser of the server
/// (the Table API, the other APIs and the OAuth endpoints' client credentials). The scheme
/// name is case-insensitive (RFC 9110 §11.1); credentials that are not UTF-8, have no `:` or
/// hold a NUL are no credentials.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    if text.contains('\0') {
        return None;
    }
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The token of a `Bearer` `Authorization` header.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The address of the client that sent a request, when the server knows it.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<Connection>().map(|c| c.peer.ip())
}

/// What the caller extractors need of a server's state: implemented by the state type of the
/// layer above, so this layer never names it.
pub trait CallerState: Send + Sync {
    fn authenticator(&self) -> &Authenticator;
    fn rate_limiter(&self) -> &RateLimiter;
    /// The token that admits a request to switchboard's own routes as admin
    /// (`--admin-token`), if one is set. See [`ControlAdmin`].
    fn admin_token(&self) -> Option<&str> {
        None
    }
}

/// A caller the server has already authenticated, put on a request it makes itself: the items
/// of a batch run as the batch's caller. Only switchboard's own code can set it (a client
/// cannot put an extension on a request).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

/// The caller of a request: one already authenticated, else by its `Authorization` header.
async fn authenticate(parts: &Parts, state: &impl CallerState) -> Result<Caller, ApiError> {
    if let Some(Authenticated(caller)) = parts.extensions.get::<Authenticated>() {
        return Ok(caller.clone());
    }
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthenticated)?;
    if let Some(token) = bearer_token(header) {
        return state.authenticator().bearer(token).await;
    }
    let (user, password) = basic_credentials(header).ok_or_else(ApiError::unauthenticated)?;
    Ok(state
        .authenticator()
        .basic(&user, &password, client_address(parts))
        .await?)
}

/// The user name a request names, for fault rules that match on it (`api::faults`), without
/// a login: a batch item's caller, a Basic header's user name (not verified: the fault acts
/// before authentication), or a bearer token's user (looked up as authentication does, through
/// the credential cache). None when the request names no one, or the token is refused.
pub async fn named_user(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    authenticator: &Authenticator,
) -> Option<String> {
    if let Some(Authenticated(caller)) = extensions.get::<Authenticated>() {
        return Some(caller.user_name.clone());
    }
    let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = bearer_token(header) {
        return authenticator.bearer(token).await.ok().map(|c| c.user_name);
    }
    basic_credentials(header).map(|(user, _)| user)
}

/// Authenticates, then counts the request against the rate limit of the API its route belongs
/// to (the [`Api`] extension), if a rule covers it: over the limit is a 429 before the handler
/// runs; an admitted request's verdict goes to [`Report`] for the response's headers.
impl<S: CallerState> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        crate::journal::note_user(&parts.extensions, &caller.user_name);
        if let Some(&api) = parts.extensions.get::<Api>() {
            let report = parts.extensions.get::<Report>();
            state
                .rate_limiter()
                .check(api, &caller.sys_id, &caller.user_name, report)?;
        }
        Ok(caller)
    }
}

/// A role an API requires, as a type, so the check is an extractor: it runs before the body is
/// read, and a handler cannot forget it.
pub trait Role: Send + Sync {
    const NAME: &'static str;
}

/// The caller, known to hold role `R` (403 otherwise).
pub struct Authorized<R: Role>(pub Caller, pub std::marker::PhantomData<R>);

impl<R: Role, S: CallerState> FromRequestParts<S> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(R::NAME)?;
        Ok(Authorized(caller, std::marker::PhantomData))
    }
}

/// An admin of switchboard's own routes (`/_switchboard/`): a caller holding `admin` (Basic or
/// an OAuth token, as [`Authorized<Admin>`]), or a request whose `Authorization` is
/// `Bearer` and the token set with `--admin-token` (compared in constant time). Only the
/// control routes take this extractor: on a platform API, a bearer token is an OAuth token
/// and nothing else.
pub struct ControlAdmin(pub Caller);

/// The user name the admin token acts as (in logs and the records it writes).
pub const ADMIN_TOKEN_USER: &str = "admin-token";

impl<S: CallerState> FromRequestParts<S> for ControlAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Some(expected) = state.admin_token()
            && parts.extensions.get::<Authenticated>().is_none()
            && let Some(token) = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
            && same_secret(token, expected)
        {
            return Ok(ControlAdmin(Caller {
                sys_id: String::new(),
                user_name: ADMIN_TOKEN_USER.to_owned(),
                roles: crate::model::roles::ADMIN.to_owned(),
            }));
        }
        let Authorized(caller, _) = Authorized::<Admin>::from_request_parts(parts, state).await?;
        Ok(ControlAdmin(caller))
    }
}

/// Whether two secrets are equal, in a time that does not depend on where they differ: their
/// SHA-256 digests (of a fixed length, whatever the secrets') compared byte by byte to the end.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

macro_rules! roles {
    ($($(#[$doc:meta])* $name:ident = $role:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Role for $name {
            const NAME: &'static str = $role;
        }
    )*};
}

roles! {
    /// Everything; switchboard's own API (`/_switchboard/`) needs it.
    Admin = crate::model::roles::ADMIN;
    /// Creates and closes interactions; maps agents.
    InteractionAgent = crate::model::roles::INTERACTION_AGENT;
    /// Manages conversation members for a CCaaS integration.
    AwaIntegrationUser = crate::model::roles::AWA_INTEGRATION_USER;
    /// Reads and writes external id mappings (Contact Center Integration Core).
    CtrItCoreAdmin = crate::model::roles::SN_CT_CTR_IT_CORE_ADMIN;
    /// Reads and writes wrap-up codes and segments (the Wrap Up API).
    InteractionIntegrationUser = crate::model::roles::INTERACTION_INTEGRATION_USER;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_headers() {
        assert_eq!(
            basic_credentials("Basic YWRtaW46cDpx"),
            Some(("admin".into(), "p:q".into()))
        );
        assert_eq!(
            basic_credentials("basic YTpi"),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(basic_credentials("Basic YWRtaW4="), None);
        for scheme in ["BASIC", "bAsIc"] {
            assert_eq!(
                basic_credentials(&format!("{scheme} YTpi")),
                Some(("a".into(), "b".into()))
            );
        }
        // "a\0:b" and invalid UTF-8 ("\xff:b") are no credentials.
        assert_eq!(basic_credentials("Basic YQA6Yg=="), None);
        assert_eq!(basic_credentials("Basic /zpi"), None);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-token", "s3cret-tokeN"));
        assert!(!same_secret("s3cret", "s3cret-token"));
        assert!(!same_secret("", "x"));
    }
}
