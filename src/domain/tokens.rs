//! OAuth tokens: issuing, finding and revoking them. Tokens are 256 random bits, handed to the
//! client once and stored only as a SHA-256 digest (a fast hash suffices for secrets that
//! random), so a stolen database holds no usable token.

use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{Changes, Result};
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry::{self, field};
use crate::model::value::{self, Record, Value};
use crate::storage::Tx;

/// The two kinds of token, as `oauth_credential.token_type` stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Access,
    Refresh,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Refresh => "refresh",
        }
    }

    /// The `oauth_entity` field holding an application's lifespan for this kind.
    fn lifespan_field(self) -> &'static str {
        match self {
            Kind::Access => "access_token_lifespan",
            Kind::Refresh => "refresh_token_lifespan",
        }
    }
}

/// The platform's one scope.
pub const SCOPE: &str = "useraccount";

/// A new token: 32 random bytes, URL-safe base64.
pub fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What is stored instead of the token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An application's lifespan for a kind of token, in seconds, held to the field's range: a
/// record written before ranges were checked may hold any integer. Without one, the field's
/// default in the registry.
pub fn lifespan(client: &Record, kind: Kind) -> i64 {
    let name = kind.lifespan_field();
    let field = registry::OAUTH_ENTITY
        .field(name)
        .expect("lifespans are fields of oauth_entity");
    let (min, max) = field.range.expect("lifespans have a range");
    match client.get(name) {
        Value::Int(n) => (*n).clamp(min, max),
        _ => field.integer_default().unwrap_or(min),
    }
}

/// A token as handed out, and the sys_id of its record.
pub struct Issued {
    pub token: String,
    pub sys_id: String,
}

/// Stores a new token of `kind` for `user` issued to `client`.
pub async fn issue(
    tx: &mut Tx,
    client: &Record,
    user: &str,
    kind: Kind,
    refresh: Option<&str>,
    actor: &str,
) -> Result<Issued> {
    let token = new_token();
    // Saturating, so no lifespan can make issuing a token panic.
    let expires =
        OffsetDateTime::now_utc().saturating_add(time::Duration::seconds(lifespan(client, kind)));
    let t = &registry::OAUTH_CREDENTIAL;
    let changes = Changes::default()
        .set(
            field!(OAUTH_CREDENTIAL, token_hash),
            Value::Text(digest(&token)),
        )
        .set(
            field!(OAUTH_CREDENTIAL, token_type),
            Value::text(kind.as_str()),
        )
        .set(
            field!(OAUTH_CREDENTIAL, client),
            Value::text(client.sys_id()),
        )
        .set(field!(OAUTH_CREDENTIAL, user), Value::text(user))
        .set(
            field!(OAUTH_CREDENTIAL, expires),
            Value::Text(value::format_date_time(expires)),
        )
        .set(field!(OAUTH_CREDENTIAL, scope), Value::text(SCOPE))
        .set(
            field!(OAUTH_CREDENTIAL, refresh),
            refresh.map_or(Value::Null, Value::text),
        );
    let rec = super::insert(tx, t, None, changes, actor).await?;
    Ok(Issued {
        token,
        sys_id: rec.sys_id().to_owned(),
    })
}

fn unexpired(token: &Record) -> bool {
    token
        .str("expires")
        .is_some_and(|e| e > value::now().as_str())
}

fn by_digest(token: &str, kind: Option<Kind>) -> Select {
    let mut filter = Filter::eq(
        field!(OAUTH_CREDENTIAL, token_hash),
        Value::Text(digest(token)),
    );
    if let Some(kind) = kind {
        filter = filter.and(Filter::eq(
            field!(OAUTH_CREDENTIAL, token_type),
            kind.as_str().into(),
        ));
    }
    Select::filter(filter).limit(1)
}

/// The unexpired token record of `kind` for this token, read inside a transaction.
pub async fn find(tx: &mut Tx, token: &str, kind: Kind) -> Result<Option<Record>> {
    let found = tx
        .select(&registry::OAUTH_CREDENTIAL, &by_digest(token, Some(kind)))
        .await?
        .pop();
    Ok(found.filter(unexpired))
}

/// Like [`find`], holding the token until the transaction ends, so a revocation waits for it
/// (and then revokes what was made from the token) or is seen.
pub async fn find_held(tx: &mut Tx, token: &str, kind: Kind) -> Result<Option<Record>> {
    let select = by_digest(token, Some(kind)).locked_as(RowLock::Share);
    let found = tx.select(&registry::OAUTH_CREDENTIAL, &select).await?.pop();
    Ok(found.filter(unexpired))
}

/// The unexpired access token record for a bearer token, read outside any transaction.
pub async fn find_access(
    store: &dyn crate::storage::Storage,
    token: &str,
) -> Result<Option<Record>> {
    let found = store
        .select(
            &registry::OAUTH_CREDENTIAL,
            &by_digest(token, Some(Kind::Access)),
        )
        .await?
        .pop();
    Ok(found.filter(unexpired))
}

/// Revokes a token of `client` (and, for a refresh token, the access tokens made from it).
/// Returns whether there was such a token.
pub async fn revoke(tx: &mut Tx, token: &str, client: &str) -> Result<bool> {
    let Some(found) = tx
        .select(&registry::OAUTH_CREDENTIAL, &by_digest(token, None))
        .await?
        .pop()
    else {
        return Ok(false);
    };
    if found.str("client") != Some(client) {
        return Ok(false);
    }
    super::delete(tx, &registry::OAUTH_CREDENTIAL, found.sys_id()).await?;
    Ok(true)
}

/// Revokes every token of a user: its password changed or it was deactivated.
pub async fn revoke_all_of(tx: &mut Tx, user: &str) -> Result<()> {
    let t = &registry::OAUTH_CREDENTIAL;
    let tokens = tx
        .select(
            t,
            &Select::filter(Filter::eq(field!(OAUTH_CREDENTIAL, user), user.into())),
        )
        .await?;
    for token in tokens {
        super::delete_if_present(tx, t, token.sys_id()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_256_bits_and_stored_as_digests() {
        let a = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_token());
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), a);
    }

    #[test]
    fn lifespans_come_from_the_application_or_the_defaults() {
        let client = Record::new().with("access_token_lifespan", Value::Int(60));
        assert_eq!(lifespan(&client, Kind::Access), 60);
        assert_eq!(lifespan(&client, Kind::Refresh), 8_640_000);
        assert_eq!(lifespan(&Record::new(), Kind::Access), 1800);
    }

    #[test]
    fn stored_lifespans_outside_the_range_are_held_to_it() {
        let max = crate::model::registry::MAX_TOKEN_LIFESPAN;
        let client = Record::new()
            .with("access_token_lifespan", Value::Int(i64::MAX))
            .with("refresh_token_lifespan", Value::Int(i64::MIN));
        assert_eq!(lifespan(&client, Kind::Access), max);
        assert_eq!(lifespan(&client, Kind::Refresh), 1);
    }
}
