//! OAuth 2.0 as the platform does it: `POST /oauth_token.do` (password, refresh_token,
//! client_credentials and JWT bearer grants) and `POST /oauth_revoke_token.do`, form-encoded only, answering
//! in the platform's OAuth shapes rather than the REST envelope.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::rate_limit::{Api, Report};
use crate::auth::{LoginError, basic_credentials};
use crate::domain::grants::{self, Grant, GrantError, Granted};
use crate::domain::{RecordError, tokens};
use crate::http::{ApiError, Connection};
use crate::model::value::Record;
use crate::state::AppState;
use crate::storage::StorageError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(token))
        .routes(routes!(revoke))
}

/// The parameters of a token request (form-encoded). Others, such as `scope`, are ignored:
/// the platform has one scope. An empty parameter counts as missing.
#[derive(Debug, Default, ToSchema)]
struct TokenRequest {
    /// `password`, `refresh_token`, `client_credentials` or
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer`.
    #[schema(value_type = String)]
    grant_type: Option<String>,
    /// Or in a Basic `Authorization` header, with the secret (RFC 6749 §2.3.1); the header wins.
    client_id: Option<String>,
    client_secret: Option<String>,
    /// `password` grant.
    username: Option<String>,
    /// `password` grant.
    password: Option<String>,
    /// `refresh_token` grant.
    refresh_token: Option<String>,
    /// JWT bearer grant: the signed JWT (RFC 7523), verified against the application's JWT
    /// profile.
    assertion: Option<String>,
}

/// The parameters of a revocation request (form-encoded).
#[derive(Debug, Default, ToSchema)]
struct RevokeRequest {
    /// An access or refresh token of the requesting application.
    #[schema(value_type = String)]
    token: Option<String>,
    /// Or in a Basic `Authorization` header, as for a token request.
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The grant types the endpoint knows: the one place the form's `grant_type` is matched.
#[derive(Debug, Clone, Copy)]
enum GrantType {
    Password,
    RefreshToken,
    ClientCredentials,
    JwtBearer,
}

/// The JWT bearer grant's `grant_type` (RFC 7523 §2.1).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

impl GrantType {
    fn parse(name: &str) -> Result<Self, OAuthError> {
        match name {
            "password" => Ok(GrantType::Password),
            "refresh_token" => Ok(GrantType::RefreshToken),
            "client_credentials" => Ok(GrantType::ClientCredentials),
            JWT_BEARER => Ok(GrantType::JwtBearer),
            other => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("Unsupported grant type: {other}"),
                ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", None),
            )),
        }
    }
}

/// The platform's token response (`scope` is always `useraccount`, `token_type` always
/// `Bearer`). Fields in name order, as the platform sends them.
#[derive(Debug, serde::Serialize, ToSchema)]
struct TokenResponse {
    access_token: String,
    /// Seconds: one less than the lifespan, as the platform reports it (1799 for 1800).
    #[schema(example = 1799)]
    expires_in: i64,
    /// The `password` grant only.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[schema(example = "useraccount")]
    scope: &'static str,
    #[schema(example = "Bearer")]
    token_type: &'static str,
}

impl From<Granted> for TokenResponse {
    fn from(granted: Granted) -> Self {
        TokenResponse {
            access_token: granted.access.token,
            expires_in: (granted.lifespan - 1).max(0),
            refresh_token: granted.refresh.map(|r| r.token),
            scope: tokens::SCOPE,
            token_type: "Bearer",
        }
    }
}

/// A revocation's answer: `{}`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Revoked {}

/// The platform's OAuth error body.
#[derive(Debug, serde::Serialize, ToSchema)]
struct OAuthErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// An OAuth error: the body in OAuth's shape, around an [`ApiError`] that gives the status,
/// the headers (`Retry-After`, `X-RateLimit-*`), the logging of a 5xx and the replay marker.
/// Every refusal is made by the shared mechanisms as an `ApiError` and reshaped here.
#[derive(Debug)]
pub struct OAuthError {
    error: &'static str,
    description: String,
    /// Boxed: an error is the rare path, and keeps every `Result` of this module small.
    base: Box<ApiError>,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>, base: ApiError) -> Self {
        OAuthError {
            error,
            description: description.into(),
            base: Box::new(base),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        let description = description.into();
        let base = ApiError::bad_request("Bad Request", description.clone());
        Self::new("invalid_request", description, base)
    }

    /// Wrong client or user credentials, an unknown or expired refresh token: what the platform
    /// answers (401 `server_error` / `access_denied`), saying no more.
    fn access_denied() -> Self {
        ApiError::unauthenticated().into()
    }
}

/// The OAuth shape of every error the shared mechanisms make.
impl From<ApiError> for OAuthError {
    fn from(base: ApiError) -> Self {
        let (error, description) = match base.status {
            StatusCode::UNAUTHORIZED => ("server_error", "access_denied".to_owned()),
            // Locked after failed logins, or over the `oauth` rate limit.
            StatusCode::TOO_MANY_REQUESTS => (
                "temporarily_unavailable",
                base.detail.clone().unwrap_or_default(),
            ),
            // RFC 6749's error for a server that cannot take the request now.
            StatusCode::SERVICE_UNAVAILABLE => (
                "temporarily_unavailable",
                "Storage is unavailable; retry later".to_owned(),
            ),
            status if status.is_client_error() => {
                ("invalid_request", base.detail.clone().unwrap_or_default())
            }
            _ => ("server_error", "internal error".to_owned()),
        };
        Self::new(error, description, base)
    }
}

/// Errors that become OAuth errors by way of the `ApiError` they make.
macro_rules! through_api_error {
    ($($from:ty),*) => {$(
        impl From<$from> for OAuthError {
            fn from(e: $from) -> Self {
                ApiError::from(e).into()
            }
        }
    )*};
}

through_api_error!(LoginError, StorageError, RecordError);

impl From<GrantError> for OAuthError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::Denied => Self::access_denied(),
            GrantError::Record(e) => e.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody {
            error: self.error,
            error_description: &self.description,
        };
        let body = oauth_json(StatusCode::OK, &body);
        (*self.base).respond_with(body)
    }
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1).
fn oauth_json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(body).expect("OAuth bodies serialise");
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The form parameters of a request; any other body is refused.
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

/// Takes a parameter out of the form; an empty one is none.
fn take(form: &mut HashMap<String, String>, name: &str) -> Option<String> {
    form.remove(name).filter(|v| !v.is_empty())
}

/// A parameter a request cannot do without.
fn required(value: Option<String>, name: &str) -> Result<String, OAuthError> {
    value.ok_or_else(|| OAuthError::invalid_request(format!("Missing parameter: {name}")))
}

impl TokenRequest {
    fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let mut form = form(headers, body)?;
        Ok(TokenRequest {
            grant_type: take(&mut form, "grant_type"),
            client_id: take(&mut form, "client_id"),
            client_secret: take(&mut form, "client_secret"),
            username: take(&mut form, "username"),
            password: take(&mut form, "password"),
            refresh_token: take(&mut form, "refresh_token"),
            assertion: take(&mut form, "assertion"),
        })
    }
}

impl RevokeRequest {
    fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let mut form = form(headers, body)?;
        Ok(RevokeRequest {
            token: take(&mut form, "token"),
            client_id: take(&mut form, "client_id"),
            client_secret: take(&mut form, "client_secret"),
        })
    }
}

/// Who sent a request: its address, and where a rate limit's verdict goes.
struct Origin {
    connection: Option<Extension<Connection>>,
    report: Option<Extension<Report>>,
}

/// The application making the request, authenticated by the authenticator (throttled and
/// logged as every login is), then counted against its `oauth` rate limit. Its credentials
/// come from a Basic `Authorization` header or else from the form's `client_id` and
/// `client_secret`.
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form: (Option<String>, Option<String>),
    origin: &Origin,
) -> Result<Record, OAuthError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let (id, secret) = match from_header {
        Some(pair) => pair,
        None => (
            required(form.0, "client_id")?,
            required(form.1, "client_secret")?,
        ),
    };
    let from = origin.connection.as_ref().map(|Extension(c)| c.peer.ip());
    let client = state.auth.client(&id, &secret, from).await?;
    let report = origin.report.as_ref().map(|Extension(r)| r);
    state
        .rate_limits
        .check(Api::OAuth, client.sys_id(), &id, report)?;
    Ok(client)
}

/// Issue tokens: `password`, `refresh_token`, `client_credentials` and JWT bearer
/// (`urn:ietf:params:oauth:grant-type:jwt-bearer`) grants.
#[utoipa::path(
    post,
    path = "/oauth_token.do",
    tag = "OAuth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "invalid_request or unsupported_grant_type", body = OAuthErrorBody),
        (status = 401, description = "Wrong client or user credentials, an unusable refresh token, or a refused JWT assertion", body = OAuthErrorBody),
        (status = 429, description = "Locked after too many failed logins, or over the oauth rate limit (see Retry-After)", body = OAuthErrorBody),
        (status = 500, description = "A fault of switchboard's", body = OAuthErrorBody),
        (status = 503, description = "Storage is unavailable (see Retry-After)", body = OAuthErrorBody),
    )
)]
async fn token(
    State(state): State<AppState>,
    connection: Option<Extension<Connection>>,
    report: Option<Extension<Report>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let origin = Origin { connection, report };
    let request = TokenRequest::read(&headers, &body)?;
    let grant_type = GrantType::parse(&required(request.grant_type, "grant_type")?)?;
    let client = authenticate_client(
        &state,
        &headers,
        (request.client_id, request.client_secret),
        &origin,
    )
    .await?;
    let grant = match grant_type {
        GrantType::Password => {
            let user = required(request.username, "username")?;
            let password = required(request.password, "password")?;
            let from = origin.connection.as_ref().map(|Extension(c)| c.peer.ip());
            let verified = state.auth.password(&user, &password, from).await?;
            Grant::Password {
                user: verified.caller.sys_id,
                stamp: verified.stamp,
            }
        }
        GrantType::RefreshToken => {
            Grant::RefreshToken(required(request.refresh_token, "refresh_token")?)
        }
        GrantType::ClientCredentials => Grant::ClientCredentials,
        GrantType::JwtBearer => {
            let assertion = required(request.assertion, "assertion")?;
            let from = origin.connection.as_ref().map(|Extension(c)| c.peer.ip());
            let (user, verified) = state.auth.assertion(&client, &assertion, from).await?;
            Grant::JwtBearer {
                user: user.sys_id().to_owned(),
                jti: verified.jti,
            }
        }
    };
    let mut tx = state.store.begin().await?;
    let granted = grants::grant(&mut tx, &client, grant).await?;
    // A new token makes no cached credential stale.
    tx.commit().await?;
    Ok(oauth_json(StatusCode::OK, &TokenResponse::from(granted)))
}

/// Revokes an access or refresh token of the requesting client (a refresh token takes its
/// access tokens with it). An unknown token is not an error (RFC 7009 §2.2).
#[utoipa::path(
    post,
    path = "/oauth_revoke_token.do",
    tag = "OAuth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked (or no such token)", body = Revoked),
        (status = 400, description = "invalid_request", body = OAuthErrorBody),
        (status = 401, description = "Wrong client credentials", body = OAuthErrorBody),
        (status = 429, description = "Locked after too many failed logins, or over the oauth rate limit (see Retry-After)", body = OAuthErrorBody),
        (status = 500, description = "A fault of switchboard's", body = OAuthErrorBody),
        (status = 503, description = "Storage is unavailable (see Retry-After)", body = OAuthErrorBody),
    )
)]
async fn revoke(
    State(state): State<AppState>,
    connection: Option<Extension<Connection>>,
    report: Option<Extension<Report>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let origin = Origin { connection, report };
    let request = RevokeRequest::read(&headers, &body)?;
    let token = required(request.token, "token")?;
    let client = authenticate_client(
        &state,
        &headers,
        (request.client_id, request.client_secret),
        &origin,
    )
    .await?;
    let mut tx = state.store.begin().await?;
    tokens::revoke(&mut tx, &token, client.sys_id()).await?;
    tx.commit().await?;
    Ok(oauth_json(StatusCode::OK, &Revoked {}))
}
