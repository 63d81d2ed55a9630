//! OAuth 2.0 as the platform does it: `POST /oauth_token.do` (password, refresh_token and
//! client_credentials grants) and `POST /oauth_revoke_token.do`, form-encoded only, answering
//! in the platform's OAuth shapes rather than the REST envelope.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::rate_limit::{self, Api, Report, Verdict};
use crate::auth::throttle::{self, Account, Lockout};
use crate::auth::{LoginError, basic_credentials};
use crate::domain::password;
use crate::domain::tokens;
use crate::http::Connection;
use crate::model::filter::{Filter, RowLock, Select};
use crate::model::registry;
use crate::model::value::{Record, Value};
use crate::state::AppState;
use crate::storage::Tx;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(revoke))
}

/// A token request (form-encoded).
#[derive(ToSchema)]
#[allow(dead_code)]
struct TokenRequest {
    /// `password`, `refresh_token` or `client_credentials`.
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// `password` grant.
    username: Option<String>,
    /// `password` grant.
    password: Option<String>,
    /// `refresh_token` grant.
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// The platform's token response.
#[derive(ToSchema)]
#[allow(dead_code)]
struct TokenResponse {
    access_token: String,
    /// The `password` grant only.
    refresh_token: Option<String>,
    #[schema(example = "useraccount")]
    scope: String,
    #[schema(example = "Bearer")]
    token_type: String,
    #[schema(example = 1799)]
    expires_in: i64,
}

/// The platform's OAuth error.
#[derive(ToSchema)]
#[allow(dead_code)]
struct OAuthErrorBody {
    error: String,
    error_description: String,
}

/// A revocation request (form-encoded).
#[derive(ToSchema)]
#[allow(dead_code)]
struct RevokeRequest {
    token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An OAuth error, in the platform's shape: `{"error_description": ..., "error": ...}`.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// `Retry-After`, `X-RateLimit-*`; a list, to keep the error small.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The transaction lost a conflict: the request may run again.
    conflict: bool,
}

impl OAuthError {
    /// Wrong client or user credentials, an unknown or expired refresh token: what the platform
    /// answers (401 `server_error` / `access_denied`), saying no more.
    fn access_denied() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "server_error", "access_denied")
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "token endpoint failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }

    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            headers: Vec::new(),
            conflict: false,
        }
    }

    /// Storage cannot serve the request now: 503 `temporarily_unavailable` with `Retry-After`
    /// (RFC 6749's error for a server that cannot take the request now).
    fn unavailable(cause: &crate::storage::StorageError) -> Self {
        tracing::warn!(cause = %cause, "token endpoint: storage unavailable");
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Storage is unavailable; retry later",
        );
        error.headers.push((
            header::RETRY_AFTER,
            HeaderValue::from(crate::http::error::STORAGE_RETRY_AFTER),
        ));
        error.conflict = cause.is_conflict();
        error
    }

    /// 429 in the OAuth shape (`temporarily_unavailable`, RFC 6749's error for a server that
    /// cannot take the request now), with `Retry-After`.
    fn too_many_requests(description: String, wait: Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            description,
        );
        error.headers.push(rate_limit::retry_after(wait));
        error
    }

    /// The client or the user is locked after too many failed logins.
    fn locked(lockout: Lockout) -> Self {
        Self::too_many_requests(lockout.detail(), lockout.retry_after())
    }

    /// The application is over the `oauth` rate limit.
    fn rate_limited(verdict: &Verdict, wait: Duration) -> Self {
        let mut error = Self::too_many_requests(verdict.detail(), wait);
        error.headers.extend(
            verdict
                .headers()
                .into_iter()
                .filter_map(|(name, value)| Some((name?, value))),
        );
        error
    }
}

impl From<LoginError> for OAuthError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Refused => Self::access_denied(),
            LoginError::Locked(lockout) => Self::locked(lockout),
            LoginError::Storage(e) => e.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error_description": self.description, "error": self.error});
        let mut response = oauth_json(self.status, body);
        if self.conflict {
            response
                .extensions_mut()
                .insert(crate::http::replay::Conflict);
        }
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Who sent a token or revocation request: its address, and where a rate limit's verdict goes.
struct Origin {
    from: Option<IpAddr>,
    report: Option<Report>,
}

impl Origin {
    fn of(connection: Option<Extension<Connection>>, report: Option<Extension<Report>>) -> Self {
        Origin {
            from: connection.map(|Extension(c)| c.peer.ip()),
            report: report.map(|Extension(r)| r),
        }
    }
}

impl From<crate::storage::StorageError> for OAuthError {
    fn from(e: crate::storage::StorageError) -> Self {
        if e.is_conflict() || e.is_unavailable() {
            Self::unavailable(&e)
        } else {
            Self::internal(e)
        }
    }
}

impl From<crate::domain::RecordError> for OAuthError {
    fn from(e: crate::domain::RecordError) -> Self {
        match e {
            crate::domain::RecordError::Storage(e) => e.into(),
            other => Self::internal(other),
        }
    }
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1).
fn oauth_json(status: StatusCode, body: Json) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The form parameters of a token request; any other body is refused.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "The request body must be application/x-www-form-urlencoded",
        ));
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if form
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(OAuthError::invalid_request(
            "Parameters may not contain NUL characters",
        ));
    }
    Ok(form)
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("Missing parameter: {name}")))
}

/// The application making the request, by `client_id` and `client_secret` in the form or in a
/// Basic `Authorization` header (RFC 6749 §2.3.1 allows both).
///
/// Refused (429) without a lookup while the client id or the address is locked after failed
/// logins; once authenticated, the request counts against the application's `oauth` rate limit.
async fn client(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    origin: &Origin,
) -> Result<Record, OAuthError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let (id, secret) = match from_header {
        Some(pair) => pair,
        None => (
            required(form, "client_id")?.to_owned(),
            required(form, "client_secret")?.to_owned(),
        ),
    };
    let account = Account::Client(&id);
    let address = throttle::show_address(origin.from);
    let throttle = state.auth.throttle();
    if let Err(lockout) = throttle.admit(account, origin.from) {
        tracing::info!(
            client_id = ?account.name(),
            address = %address,
            "OAuth client refused: locked after too many failures"
        );
        return Err(OAuthError::locked(lockout));
    }
    let entities = &registry::OAUTH_ENTITY;
    let select =
        Select::filter(Filter::eq(entities, "client_id", Value::text(id.as_str()))).limit(1);
    let found = state.store.select(entities, &select).await?.pop();
    let hash = found
        .as_ref()
        .and_then(|c| c.str("client_secret"))
        .map(str::to_owned);
    // Verified against a dummy hash when the client is unknown, so timing tells nothing.
    if !password::verify(secret, hash).await {
        let reason = match found {
            Some(_) => "wrong client secret",
            None => "unknown client",
        };
        tracing::info!(client_id = ?account.name(), address = %address, reason, "OAuth client authentication failed");
        throttle.failed(account, origin.from);
        return Err(OAuthError::access_denied());
    }
    tracing::info!(client_id = ?account.name(), address = %address, "OAuth client authenticated");
    throttle.succeeded(account);
    let client = found.expect("a verified secret belongs to a client");
    if let Some(verdict) = state.rate_limits.admit(Api::OAuth, client.sys_id()) {
        if let Some(wait) = verdict.refused {
            tracing::info!(client_id = ?account.name(), "rate limit exceeded");
            return Err(OAuthError::rate_limited(&verdict, wait));
        }
        if let Some(report) = &origin.report {
            report.set(verdict);
        }
    }
    Ok(client)
}

/// The token response: `scope` is always `useraccount`, `token_type` always `Bearer`.
fn granted(client: &Record, access: &str, refresh: Option<&str>) -> Response {
    // The platform reports one second less than the lifespan (1799 for 1800).
    let expires_in = (tokens::lifespan(client, tokens::ACCESS) - 1).max(0);
    let mut body = json!({
        "access_token": access,
        "scope": tokens::SCOPE,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = Json::String(refresh.to_owned());
    }
    oauth_json(StatusCode::OK, body)
}

/// Issue tokens: `password`, `refresh_token` and `client_credentials` grants.
#[utoipa::path(
    post,
    path = "/oauth_token.do",
    tag = "OAuth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "invalid_request or unsupported_grant_type", body = OAuthErrorBody),
        (status = 401, description = "Wrong client or user credentials, or an unusable refresh token", body = OAuthErrorBody),
        (status = 429, description = "Locked after too many failed logins, or over the oauth rate limit (see Retry-After)", body = OAuthErrorBody),
        (status = 500, description = "A fault of switchboard's", body = OAuthErrorBody),
    )
)]
async fn token(
    State(state): State<AppState>,
    connection: Option<Extension<Connection>>,
    report: Option<Extension<Report>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let origin = Origin::of(connection, report);
    let form = form(&headers, &body)?;
    let grant = required(&form, "grant_type")?.to_owned();
    if !matches!(
        grant.as_str(),
        "password" | "refresh_token" | "client_credentials"
    ) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Unsupported grant type: {grant}"),
        ));
    }
    let client = client(&state, &headers, &form, &origin).await?;
    // The password grant's user is verified before the transaction opens, so that Argon2
    // never holds a database connection (on SQLite, the writer); the transaction then checks
    // that what was verified still holds.
    let password_grant = match grant.as_str() {
        "password" => {
            let (user, secret) = (required(&form, "username")?, required(&form, "password")?);
            Some(state.auth.password(user, secret, origin.from).await?)
        }
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let response = match password_grant {
        Some(verified) => {
            let user = hold_user(&mut tx, &verified.caller.sys_id, verified.stamp).await?;
            let client = hold_client(&mut tx, &client).await?;
            let actor = user.str("user_name").unwrap_or_default();
            let refresh = tokens::issue(
                &mut tx,
                &client,
                user.sys_id(),
                tokens::REFRESH,
                None,
                actor,
            )
            .await?;
            let access = tokens::issue(
                &mut tx,
                &client,
                user.sys_id(),
                tokens::ACCESS,
                Some(&refresh.sys_id),
                actor,
            )
            .await?;
            granted(&client, &access.token, Some(&refresh.token))
        }
        None if grant == "refresh_token" => {
            let given = required(&form, "refresh_token")?;
            // Read once to learn its user, then held in the order every transaction takes
            // (user, application, token), and read again.
            let user_id = tokens::find(&mut tx, given, tokens::REFRESH)
                .await?
                .and_then(|r| r.str("user").map(str::to_owned))
                .ok_or_else(OAuthError::access_denied)?;
            let user = hold_user(&mut tx, &user_id, None).await?;
            let client = hold_client(&mut tx, &client).await?;
            let refresh = tokens::find_held(&mut tx, given, tokens::REFRESH)
                .await?
                .filter(|r| r.str("client") == Some(client.sys_id()))
                .filter(|r| r.str("user") == Some(user.sys_id()))
                .ok_or_else(OAuthError::access_denied)?;
            let actor = user.str("user_name").unwrap_or_default();
            let access = tokens::issue(
                &mut tx,
                &client,
                user.sys_id(),
                tokens::ACCESS,
                Some(refresh.sys_id()),
                actor,
            )
            .await?;
            granted(&client, &access.token, None)
        }
        None => {
            // client_credentials: the token acts as the application's user.
            let user_id = client
                .str("user")
                .ok_or_else(OAuthError::access_denied)?
                .to_owned();
            let user = hold_user(&mut tx, &user_id, None).await?;
            let client = hold_client(&mut tx, &client).await?;
            if client.str("user") != Some(user.sys_id()) {
                return Err(OAuthError::access_denied());
            }
            let actor = user.str("user_name").unwrap_or_default();
            let access =
                tokens::issue(&mut tx, &client, user.sys_id(), tokens::ACCESS, None, actor).await?;
            granted(&client, &access.token, None)
        }
    };
    // A new token makes no cached credential stale.
    tx.commit().await?;
    Ok(response)
}

/// The user a token is about to be issued for, held until the transaction ends (a password
/// change, a deactivation or a delete waits for it, then revokes or deletes what it issued),
/// and still active; with `stamp`, its password must still be the one verified. Otherwise
/// the grant is refused as any failed login is.
///
/// Locks are taken user first, then application, then token: the order of every delete's
/// cascade (a user's applications and tokens, an application's tokens), so none can wait on
/// another in a cycle.
async fn hold_user(
    tx: &mut Tx,
    user_id: &str,
    stamp: Option<std::sync::Arc<str>>,
) -> Result<Record, OAuthError> {
    let users = &registry::SYS_USER;
    let user = tx
        .get_held(users, user_id, RowLock::Share)
        .await?
        .filter(is_active)
        .ok_or_else(OAuthError::access_denied)?;
    if let Some(stamp) = stamp
        && user.str("user_password") != Some(&*stamp)
    {
        tracing::info!(user = ?user.str("user_name"), "password changed during the grant; refused");
        return Err(OAuthError::access_denied());
    }
    Ok(user)
}

/// The application, held until the transaction ends and still as verified (same secret): an
/// application deleted or given a new secret meanwhile issues nothing.
async fn hold_client(tx: &mut Tx, verified: &Record) -> Result<Record, OAuthError> {
    let entities = &registry::OAUTH_ENTITY;
    tx.get_held(entities, verified.sys_id(), RowLock::Share)
        .await?
        .filter(|now| now.str("client_secret") == verified.str("client_secret"))
        .ok_or_else(|| {
            tracing::info!(client_id = ?verified.str("client_id"), "application changed during the grant; refused");
            OAuthError::access_denied()
        })
}

fn is_active(user: &Record) -> bool {
    user.get("active") == &Value::Bool(true)
}

/// Revokes an access or refresh token of the requesting client (a refresh token takes its
/// access tokens with it). An unknown token is not an error (RFC 7009 §2.2).
/// Revoke an access or refresh token of the requesting client.
#[utoipa::path(
    post,
    path = "/oauth_revoke_token.do",
    tag = "OAuth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked (or no such token)", body = Object),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "Wrong client credentials", body = OAuthErrorBody),
        (status = 429, description = "Locked after too many failed logins, or over the oauth rate limit (see Retry-After)", body = OAuthErrorBody),
        (status = 500, description = "A fault of switchboard's", body = OAuthErrorBody),
    )
)]
async fn revoke(
    State(state): State<AppState>,
    connection: Option<Extension<Connection>>,
    report: Option<Extension<Report>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let origin = Origin::of(connection, report);
    let form = form(&headers, &body)?;
    let token = required(&form, "token")?.to_owned();
    let client = client(&state, &headers, &form, &origin).await?;
    let mut tx = state.store.begin().await?;
    tokens::revoke(&mut tx, &token, client.sys_id()).await?;
    tx.commit().await?;
    Ok(oauth_json(StatusCode::OK, json!({})))
}
