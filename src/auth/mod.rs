//! Who is calling: Basic authentication against `sys_user`, and role guards.

pub mod cache;
pub mod password;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;

use crate::app::AppState;
use crate::filter::{Filter, Select};
use crate::http::ApiError;
use crate::records::{roles, tokens};
use crate::registry::table;
use crate::storage::Storage;
use cache::CredentialCache;

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

/// Checks credentials, with a cache so a steady client is not re-hashed on every request.
pub struct Authenticator {
    store: Arc<dyn Storage>,
    cache: CredentialCache,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Storage>, cache_ttl: Duration) -> Self {
        Authenticator {
            store,
            cache: CredentialCache::new(cache_ttl, 10_000),
        }
    }

    /// Called after a committed write that changed users, roles or grants.
    pub fn invalidate(&self) {
        self.cache.invalidate();
    }

    pub async fn basic(&self, user_name: &str, password: &str) -> Result<Caller, ApiError> {
        let key = CredentialCache::key(user_name, password);
        if let Some(caller) = self.cache.get(&key) {
            return Ok(caller);
        }
        let epoch = self.cache.epoch();
        let users = table("sys_user").expect("sys_user");
        let found = self
            .store
            .select(
                users,
                &Select::filter(Filter::eq(users, "user_name", user_name.into())).limit(1),
            )
            .await?
            .pop();
        let hash = found
            .as_ref()
            .and_then(|u| u.str("user_password"))
            .map(str::to_owned);
        let verified = password::verify(password.to_owned(), hash).await;
        let caller = match found {
            Some(u) if verified => active_caller(&u),
            _ => None,
        };
        let Some(caller) = caller else {
            tracing::info!(user = user_name, "authentication failed");
            return Err(ApiError::unauthenticated());
        };
        tracing::debug!(user = user_name, "authenticated");
        self.cache.put(key, caller.clone(), epoch);
        Ok(caller)
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
            Some(id) => {
                self.store
                    .get(table("sys_user").expect("sys_user"), id)
                    .await?
            }
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
fn active_caller(user: &crate::record::Record) -> Option<Caller> {
    (user.get("active") == &crate::record::Value::Bool(true)).then(|| Caller {
        sys_id: user.sys_id().to_owned(),
        user_name: user.str("user_name").unwrap_or_default().to_owned(),
        roles: user.str("roles").unwrap_or_default().to_owned(),
    })
}

/// Seconds from now until a `YYYY-MM-DD HH:MM:SS` UTC time (0 if past).
fn seconds_until(when: &str) -> Option<u64> {
    let left =
        (crate::record::parse_date_time(when)? - time::OffsetDateTime::now_utc()).whole_seconds();
    Some(u64::try_from(left).unwrap_or(0))
}

/// `user:password` from a Basic `Authorization` header.
fn basic_credentials(value: &str) -> Option<(String, String)> {
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        if let Some(token) = bearer_token(header) {
            return state.auth.bearer(token).await;
        }
        let (user, password) = basic_credentials(header).ok_or_else(ApiError::unauthenticated)?;
        state.auth.basic(&user, &password).await
    }
}

/// A role an API requires, as a type, so the check is an extractor: it runs before the body is
/// read, and a handler cannot forget it.
pub trait Role: Send + Sync {
    const NAME: &'static str;
}

/// The caller, known to hold role `R` (403 otherwise).
pub struct Authorized<R: Role>(pub Caller, pub std::marker::PhantomData<R>);

impl<R: Role> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(R::NAME)?;
        Ok(Authorized(caller, std::marker::PhantomData))
    }
}

macro_rules! roles {
    ($($(#[$doc:meta])* $name:ident = $role:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Role for $name {
            const NAME: &'static str = $role;
        }
    )*};
}

roles! {
    /// Creates and closes interactions; maps agents.
    InteractionAgent = "interaction_agent";
    /// Manages conversation members for a CCaaS integration.
    AwaIntegrationUser = "awa_integration_user";
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
    }
}
