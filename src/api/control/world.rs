//! The world a test suite works in (docs/control-plane.md): load fixtures into it, reset it to
//! how the server started, save it as a named snapshot and restore one.
//!
//! Reset, save and restore swap the whole world, so they run alone: [`super::HoldWorld`] has every
//! other request on this node hold the world for reading while it is served, and these take it
//! for writing, so a request sees the world before the swap or after it, never a mix. On
//! PostgreSQL they also lock every table, so other nodes' transactions wait for them too.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ControlAdmin;
use crate::fixtures::bootstrap::{self, FirstAdmin};
use crate::fixtures::{Fixture, LoadError, Loaded};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::model::filter::{Filter, Select};
use crate::model::registry::{self, field};
use crate::state::AppState;
use crate::storage::snapshot::{self, Snapshot, SnapshotError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(load_fixture))
        .routes(routes!(reset))
        .routes(routes!(list_snapshots, save_snapshot))
        .routes(routes!(delete_snapshot))
        .routes(routes!(restore_snapshot))
}

/// The paths that swap the world, and so take it for writing themselves.
pub(super) fn swaps_the_world(path: &str) -> bool {
    let Some(rest) = path.strip_prefix(super::PREFIX) else {
        return false;
    };
    rest == "/reset" || rest.starts_with("/snapshots")
}

fn refused(e: LoadError) -> ApiError {
    match e {
        LoadError::Fixture(e) => ApiError::bad_request("Fixture refused", e.to_string()),
        LoadError::Storage(e) => e.into(),
    }
}

fn snapshot_refused(e: SnapshotError) -> ApiError {
    match e {
        SnapshotError::NotFound(_) => ApiError::new(
            StatusCode::NOT_FOUND,
            "No Record found",
            Some(e.to_string()),
        ),
        SnapshotError::OtherSchema(_) => {
            ApiError::new(StatusCode::CONFLICT, "Invalid request", Some(e.to_string()))
        }
        SnapshotError::Storage(e) => e.into(),
    }
}

fn checked_name(name: &str) -> Result<&str, ApiError> {
    match snapshot::valid_name(name) {
        true => Ok(name),
        false => Err(ApiError::bad_request(
            "Invalid request",
            format!("'{name}' is not a snapshot name: 1 to 64 letters, digits, '-', '_' or '.'"),
        )),
    }
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
struct FixtureParams {
    /// What errors call the file (default `request`).
    name: Option<String>,
}

/// Loads a fixture (YAML or JSON, docs/fixtures.md) sent as the body: all of it, through the
/// record rules, or nothing (400 naming the line). Admin only.
#[utoipa::path(
    post,
    path = "/fixtures",
    tag = super::TAG,
    params(FixtureParams),
    request_body(content = String, description = "A fixture file", content_type = "application/yaml"),
    responses(
        (status = 200, description = "Loaded", body = ResultEnvelope<Loaded>),
        (status = 400, description = "Refused, with the line and the reason; nothing loaded", body = ErrorEnvelope),
    )
)]
async fn load_fixture(
    State(state): State<AppState>,
    _: ControlAdmin,
    Query(params): Query<FixtureParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = params.name.unwrap_or_else(|| "request".to_owned());
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("Fixture refused", format!("{name}: not UTF-8")))?;
    let fixture = Fixture::parse(&name, text).map_err(|e| refused(e.into()))?;
    let loaded = crate::fixtures::load(&*state.store, vec![fixture])
        .await
        .map_err(refused)?;
    Ok(respond::typed(StatusCode::OK, &loaded))
}

/// What a reset did.
#[derive(Debug, serde::Serialize, ToSchema)]
struct ResetOutcome {
    /// What loading the start fixtures did (the demo, `--fixtures`).
    loaded: Loaded,
}

/// Puts the world back as the server started it: every table emptied, every counter started
/// over, then the built-in roles, `admin` (keeping its password) and the fixtures given at
/// start (`--demo`, `--fixtures`). Snapshots are kept. Admin only.
#[utoipa::path(
    post,
    path = "/reset",
    tag = super::TAG,
    responses(
        (status = 200, description = "The world is as the server started it", body = ResultEnvelope<ResetOutcome>),
    )
)]
async fn reset(State(state): State<AppState>, _: ControlAdmin) -> Result<Response, ApiError> {
    let admin = kept_admin(&state).await?;
    let _world = state.world.write().await;
    let mut tx = state.store.begin().await?;
    tx.lock("bootstrap").await?;
    snapshot::wipe(&mut tx).await?;
    bootstrap::ensure(&mut tx, Some(admin)).await?;
    let loaded = state.start.apply(&mut tx).await.map_err(refused)?;
    tx.commit().await?;
    tracing::info!("the world was reset");
    Ok(respond::typed(StatusCode::OK, &ResetOutcome { loaded }))
}

/// `admin` after a reset: with the password it has now (so whoever reset can go on), or the
/// configured one, or (no admin at all) a new one, shown once.
async fn kept_admin(state: &AppState) -> Result<FirstAdmin, ApiError> {
    let admin = Select::filter(Filter::eq(field!(SYS_USER, user_name), "admin".into())).limit(1);
    let current = state.store.select(&registry::SYS_USER, &admin).await?;
    if let Some(hash) = current
        .first()
        .and_then(|a| a.str("user_password"))
        .filter(|h| !h.is_empty())
    {
        return Ok(FirstAdmin {
            hash: hash.to_owned(),
            shown: None,
        });
    }
    Ok(FirstAdmin::chosen(state.config.admin_password.as_deref()).await?)
}

/// Names the snapshot to save.
#[derive(Debug, serde::Deserialize, ToSchema)]
struct SaveRequest {
    /// 1 to 64 letters, digits, `-`, `_` or `.`; a snapshot of that name is replaced.
    name: String,
}

/// Every saved snapshot, oldest first. Admin only.
#[utoipa::path(
    get,
    path = "/snapshots",
    tag = super::TAG,
    responses((status = 200, description = "The snapshots", body = ResultEnvelope<Vec<Snapshot>>))
)]
async fn list_snapshots(
    State(state): State<AppState>,
    _: ControlAdmin,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let snapshots = snapshot::list(&mut tx).await?;
    tx.commit().await?;
    Ok(respond::typed(StatusCode::OK, &snapshots))
}

/// Saves the world as a named snapshot (in the database: it outlives a restart), replacing one
/// of that name. 201. Admin only.
#[utoipa::path(
    post,
    path = "/snapshots",
    tag = super::TAG,
    request_body(content = SaveRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Saved", body = ResultEnvelope<Snapshot>),
        (status = 400, description = "No name, or not a valid one", body = ErrorEnvelope),
    )
)]
async fn save_snapshot(
    State(state): State<AppState>,
    _: ControlAdmin,
    body: Body,
) -> Result<Response, ApiError> {
    let request = body.parse::<SaveRequest>()?;
    let name = checked_name(&request.name)?;
    let now = crate::model::value::now();
    let _world = state.world.write().await;
    let mut tx = state.store.begin().await?;
    snapshot::lock_everything(&mut tx).await?;
    let saved = snapshot::save(&mut tx, name, &now).await?;
    tx.commit().await?;
    tracing::info!(snapshot = name, records = saved.records, "snapshot saved");
    Ok(respond::typed(StatusCode::CREATED, &saved))
}

/// Puts the world back as the snapshot holds it: every record and counter (tokens, queued
/// outbound events and numbers with them). Admin only.
#[utoipa::path(
    post,
    path = "/snapshots/{name}/restore",
    tag = super::TAG,
    params(("name" = String, Path, description = "The snapshot's name")),
    responses(
        (status = 200, description = "Restored", body = ResultEnvelope<Snapshot>),
        (status = 404, description = "No such snapshot", body = ErrorEnvelope),
        (status = 409, description = "Saved by a build with another schema", body = ErrorEnvelope),
    )
)]
async fn restore_snapshot(
    State(state): State<AppState>,
    _: ControlAdmin,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = checked_name(&name)?;
    let _world = state.world.write().await;
    let mut tx = state.store.begin().await?;
    snapshot::restore(&mut tx, name)
        .await
        .map_err(snapshot_refused)?;
    let listed = snapshot::list(&mut tx).await?;
    tx.commit().await?;
    tracing::info!(snapshot = name, "snapshot restored");
    let restored = listed.into_iter().find(|s| s.name == name);
    Ok(respond::typed(StatusCode::OK, &restored))
}

/// Deletes a snapshot. 204. Admin only.
#[utoipa::path(
    delete,
    path = "/snapshots/{name}",
    tag = super::TAG,
    params(("name" = String, Path, description = "The snapshot's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such snapshot", body = ErrorEnvelope),
    )
)]
async fn delete_snapshot(
    State(state): State<AppState>,
    _: ControlAdmin,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = checked_name(&name)?;
    let mut tx = state.store.begin().await?;
    snapshot::delete(&mut tx, name)
        .await
        .map_err(snapshot_refused)?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
