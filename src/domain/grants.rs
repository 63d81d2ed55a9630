//! OAuth grants: what the token endpoint issues, and to whom, once the application is
//! authenticated. One function over one [`Grant`] enum, so a new grant type (the JWT bearer
//! grant) is one more variant and one more arm.
//!
//! Secrets are verified before the transaction opens (Argon2 must never hold a database
//! connection, on SQLite the writer); the transaction then holds the user and the application
//! and checks that what was verified still holds.
//!
//! Locks are taken user first, then application, then token: the order of every delete's
//! cascade (a user's applications and tokens, an application's tokens), so no two
//! transactions can wait on each other in a cycle.

use std::sync::Arc;

use super::tokens::{self, Issued, Kind};
use super::{Changes, RecordError, Result};
use time::OffsetDateTime;

use crate::model::filter::{Filter, Op, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::{self, Record, Value};
use crate::storage::{StorageError, Tx};

/// What a token request asks for, its secrets already verified.
#[derive(Debug, Clone)]
pub enum Grant {
    /// `password`: a user whose password was verified against `stamp` (its stored hash).
    /// Issues an access token and a refresh token.
    Password {
        user: String,
        stamp: Option<Arc<str>>,
    },
    /// `refresh_token`: a refresh token, as the client sent it. Issues an access token.
    RefreshToken(String),
    /// `client_credentials`: the application acts as its own user. Issues an access token.
    ClientCredentials,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer`: a user whose assertion was verified
    /// against the application's JWT profile, and the assertion's `jti` with its `exp` (Unix
    /// seconds) when the profile verifies `jti`s: used once, it is refused after. Issues an
    /// access token.
    JwtBearer {
        user: String,
        jti: Option<(String, i64)>,
    },
}

/// Tokens issued by a grant (no `Debug`: they are secrets).
pub struct Granted {
    pub access: Issued,
    /// The `password` grant's.
    pub refresh: Option<Issued>,
    /// The access token's lifespan in seconds.
    pub lifespan: i64,
}

/// Why a grant issued nothing.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The user, the application or the refresh token is unknown, inactive, expired or
    /// changed since it was verified: one refusal for all, as for any failed login.
    #[error("access denied")]
    Denied,
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl From<StorageError> for GrantError {
    fn from(e: StorageError) -> Self {
        GrantError::Record(e.into())
    }
}

/// Issues the tokens `grant` asks for to `client` (an authenticated `oauth_entity`), in `tx`.
pub async fn grant(
    tx: &mut Tx,
    client: &Record,
    grant: Grant,
) -> std::result::Result<Granted, GrantError> {
    // Each grant holds its user and application; the password grant also issues the refresh
    // token the access token is made from, the refresh grant names the one it was sent.
    let (user, client, refresh, made_from) = match grant {
        Grant::Password { user, stamp } => {
            let user = hold_user(tx, &user, stamp).await?;
            let client = hold_client(tx, client).await?;
            let refresh = issue(tx, &client, &user, Kind::Refresh, None).await?;
            let made_from = refresh.sys_id.clone();
            (user, client, Some(refresh), Some(made_from))
        }
        Grant::RefreshToken(given) => {
            // Read once to learn its user, then held in the lock order and read again.
            let user_id = tokens::find(tx, &given, Kind::Refresh)
                .await?
                .and_then(|r| r.str("user").map(str::to_owned))
                .ok_or(GrantError::Denied)?;
            let user = hold_user(tx, &user_id, None).await?;
            let client = hold_client(tx, client).await?;
            let refresh = tokens::find_held(tx, &given, Kind::Refresh)
                .await?
                .filter(|r| r.str("client") == Some(client.sys_id()))
                .filter(|r| r.str("user") == Some(user.sys_id()))
                .ok_or(GrantError::Denied)?;
            let made_from = refresh.sys_id().to_owned();
            (user, client, None, Some(made_from))
        }
        Grant::ClientCredentials => {
            let user_id = client.str("user").ok_or(GrantError::Denied)?.to_owned();
            let user = hold_user(tx, &user_id, None).await?;
            let client = hold_client(tx, client).await?;
            if client.str("user") != Some(user.sys_id()) {
                return Err(GrantError::Denied);
            }
            (user, client, None, None)
        }
        Grant::JwtBearer { user, jti } => {
            let user = hold_user(tx, &user, None).await?;
            let client = hold_client(tx, client).await?;
            if let Some((jti, exp)) = jti {
                use_jti(tx, &client, &jti, exp, &user).await?;
            }
            (user, client, None, None)
        }
    };
    let access = issue(tx, &client, &user, Kind::Access, made_from.as_deref()).await?;
    Ok(Granted {
        access,
        refresh,
        lifespan: tokens::lifespan(&client, Kind::Access),
    })
}

/// Records that `jti` was used with `client` until `exp` (Unix seconds), refusing it if it
/// already was; first prunes the application's `jti`s whose assertions have expired. The
/// unique index on (client, jti) refuses a concurrent second use on any node.
async fn use_jti(
    tx: &mut Tx,
    client: &Record,
    jti: &str,
    exp: i64,
    user: &Record,
) -> std::result::Result<(), GrantError> {
    let t = &registry::OAUTH_JWT_JTI;
    let now = value::format_date_time(OffsetDateTime::now_utc());
    let of_client = Filter::eq(field!(OAUTH_JWT_JTI, client), Value::text(client.sys_id()));
    let expired = of_client.clone().and(Filter::Cond(
        field!(OAUTH_JWT_JTI, expires),
        Op::Lt(Value::Text(now)),
    ));
    tx.delete_where(t, &expired).await?;
    let used = of_client.and(Filter::eq(field!(OAUTH_JWT_JTI, jti), Value::text(jti)));
    if !tx
        .select(t, &Select::filter(used).limit(1))
        .await?
        .is_empty()
    {
        tracing::info!(client_id = ?client.str("client_id"), jti, "OAuth JWT bearer assertion replayed; refused");
        return Err(GrantError::Denied);
    }
    let expires = OffsetDateTime::from_unix_timestamp(exp).unwrap_or(OffsetDateTime::now_utc());
    let changes = Changes::default()
        .set(field!(OAUTH_JWT_JTI, client), Value::text(client.sys_id()))
        .set(field!(OAUTH_JWT_JTI, jti), Value::text(jti))
        .set(
            field!(OAUTH_JWT_JTI, expires),
            Value::Text(value::format_date_time(expires)),
        );
    let actor = user.str("user_name").unwrap_or_default();
    match super::insert(tx, t, None, changes, actor).await {
        Ok(_) => Ok(()),
        Err(RecordError::Storage(StorageError::Unique { .. })) => {
            tracing::info!(client_id = ?client.str("client_id"), jti, "OAuth JWT bearer assertion replayed; refused");
            Err(GrantError::Denied)
        }
        Err(e) => Err(e.into()),
    }
}

/// A token of `kind` for `user`, written by that user.
async fn issue(
    tx: &mut Tx,
    client: &Record,
    user: &Record,
    kind: Kind,
    refresh: Option<&str>,
) -> Result<Issued> {
    let actor = user.str("user_name").unwrap_or_default();
    tokens::issue(tx, client, user.sys_id(), kind, refresh, actor).await
}

/// The user a token is about to be issued for, held until the transaction ends (a password
/// change, a deactivation or a delete waits for it, then revokes or deletes what it issued),
/// and still active; with `stamp`, its password must still be the one verified.
async fn hold_user(
    tx: &mut Tx,
    user_id: &str,
    stamp: Option<Arc<str>>,
) -> std::result::Result<Record, GrantError> {
    let user = tx
        .get_held(&registry::SYS_USER, user_id, RowLock::Share)
        .await?
        .filter(|u| u.get("active") == &Value::Bool(true))
        .ok_or(GrantError::Denied)?;
    if let Some(stamp) = stamp
        && user.str("user_password") != Some(&*stamp)
    {
        tracing::info!(user = ?user.str("user_name"), "password changed during the grant; refused");
        return Err(GrantError::Denied);
    }
    Ok(user)
}

/// The application, held until the transaction ends and still as verified (same secret): an
/// application deleted or given a new secret meanwhile issues nothing.
async fn hold_client(tx: &mut Tx, verified: &Record) -> std::result::Result<Record, GrantError> {
    let held = tx
        .get_held(&registry::OAUTH_ENTITY, verified.sys_id(), RowLock::Share)
        .await?;
    held.filter(|now| {
        now.str("client_secret") == verified.str("client_secret")
            && now.str("jwt_key") == verified.str("jwt_key")
    })
        .ok_or_else(|| {
            tracing::info!(client_id = ?verified.str("client_id"), "application changed during the grant; refused");
            GrantError::Denied
        })
}
