//! OAuth 2.0 as the platform does it: `POST /oauth_token.do` (password, refresh_token and
//! client_credentials grants) and `POST /oauth_revoke_token.do`, form-encoded only, answering
//! in the platform's OAuth shapes rather than the REST envelope.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value as Json, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::password;
use crate::filter::{Filter, Select};
use crate::record::{Record, Value};
use crate::records::{Effects, tokens};
use crate::registry::table;

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
}

impl OAuthError {
    /// Wrong client or user credentials, an unknown or expired refresh token: what the platform
    /// answers (401 `server_error` / `access_denied`), saying no more.
    fn access_denied() -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "server_error",
            description: "access_denied".into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: description.into(),
        }
    }

    fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "token endpoint failed");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "internal error".into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error_description": self.description, "error": self.error});
        oauth_json(self.status, body)
    }
}

impl From<crate::storage::StorageError> for OAuthError {
    fn from(e: crate::storage::StorageError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::records::RecordError> for OAuthError {
    fn from(e: crate::records::RecordError) -> Self {
        Self::internal(e)
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
async fn client(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Record, OAuthError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let (id, secret) = match from_header {
        Some(pair) => pair,
        None => (
            required(form, "client_id")?.to_owned(),
            required(form, "client_secret")?.to_owned(),
        ),
    };
    let entities = table("oauth_entity").expect("oauth_entity");
    let select =
        Select::filter(Filter::eq(entities, "client_id", Value::text(id.as_str()))).limit(1);
    let found = state.store.select(entities, &select).await?.pop();
    let hash = found
        .as_ref()
        .and_then(|c| c.str("client_secret"))
        .map(str::to_owned);
    // Verified against a dummy hash when the client is unknown, so timing tells nothing.
    if password::verify(secret, hash).await {
        Ok(found.expect("a verified secret belongs to a client"))
    } else {
        tracing::info!(client_id = %id, "OAuth client authentication failed");
        Err(OAuthError::access_denied())
    }
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
        (status = 500, description = "A fault of switchboard's", body = OAuthErrorBody),
    )
)]
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = form(&headers, &body)?;
    let grant = required(&form, "grant_type")?.to_owned();
    if !matches!(
        grant.as_str(),
        "password" | "refresh_token" | "client_credentials"
    ) {
        return Err(OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
            description: format!("Unsupported grant type: {grant}"),
        });
    }
    let client = client(&state, &headers, &form).await?;
    let users = table("sys_user").expect("sys_user");
    let mut tx = state.store.begin().await?;
    let response = match grant.as_str() {
        "password" => {
            let (user, secret) = (required(&form, "username")?, required(&form, "password")?);
            let caller = state
                .auth
                .basic(user, secret)
                .await
                .map_err(|_| OAuthError::access_denied())?;
            let refresh = tokens::issue(
                &mut *tx,
                &client,
                &caller.sys_id,
                tokens::REFRESH,
                None,
                user,
            )
            .await?;
            let access = tokens::issue(
                &mut *tx,
                &client,
                &caller.sys_id,
                tokens::ACCESS,
                Some(&refresh.sys_id),
                user,
            )
            .await?;
            granted(&client, &access.token, Some(&refresh.token))
        }
        "refresh_token" => {
            let given = required(&form, "refresh_token")?;
            let refresh = tokens::find(&mut *tx, given, tokens::REFRESH)
                .await?
                .filter(|r| r.str("client") == Some(client.sys_id()))
                .ok_or_else(OAuthError::access_denied)?;
            let user_id = refresh.str("user").unwrap_or_default().to_owned();
            let user = tx
                .get(users, &user_id)
                .await?
                .filter(is_active)
                .ok_or_else(OAuthError::access_denied)?;
            let actor = user.str("user_name").unwrap_or_default();
            let access = tokens::issue(
                &mut *tx,
                &client,
                &user_id,
                tokens::ACCESS,
                Some(refresh.sys_id()),
                actor,
            )
            .await?;
            granted(&client, &access.token, None)
        }
        _ => {
            // client_credentials: the token acts as the application's user.
            let user = match client.str("user") {
                Some(id) => tx.get(users, id).await?.filter(is_active),
                None => None,
            };
            let user = user.ok_or_else(OAuthError::access_denied)?;
            let actor = user.str("user_name").unwrap_or_default();
            let access = tokens::issue(
                &mut *tx,
                &client,
                user.sys_id(),
                tokens::ACCESS,
                None,
                actor,
            )
            .await?;
            granted(&client, &access.token, None)
        }
    };
    // A new token makes no cached credential stale.
    state.commit(tx, Effects::default()).await?;
    Ok(response)
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
        (status = 500, description = "A fault of switchboard's", body = OAuthErrorBody),
    )
)]
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = form(&headers, &body)?;
    let token = required(&form, "token")?.to_owned();
    let client = client(&state, &headers, &form).await?;
    let mut tx = state.store.begin().await?;
    let revoked = tokens::revoke(&mut *tx, &token, client.sys_id()).await?;
    let effects = Effects {
        identity_changed: revoked,
    };
    state.commit(tx, effects).await?;
    Ok(oauth_json(StatusCode::OK, json!({})))
}
