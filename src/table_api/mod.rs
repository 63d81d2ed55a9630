//! The Table API: list, read, create, update and delete records of every registry table.

pub mod access;
pub mod params;
pub mod render;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::Value as Json;

use crate::app::{ApiVersion, AppState};
use crate::auth::Caller;
use crate::filter;
use crate::http::{ApiError, Body, respond};
use crate::query::{self, Condition, EncodedQuery, Operator};
use crate::records::{self, input};
use crate::registry::{self, Table};
use params::Params;
use render::Renderer;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/table/{table}", get(list).post(create))
        .route(
            "/table/{table}/{sys_id}",
            get(read).put(update).patch(update).delete(remove),
        )
}

fn lookup(name: &str) -> Result<&'static Table, ApiError> {
    registry::table(name).ok_or_else(|| {
        ApiError::bad_request(format!("Invalid table {name}"), "The table does not exist")
    })
}

/// `scheme://host` as the client addressed us, for reference links and paging links.
fn base_url(headers: &HeaderMap) -> String {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    format!(
        "{scheme}://{}",
        header(header::HOST.as_str()).unwrap_or("localhost")
    )
}

fn renderer<'a>(params: &'a Params, base: &'a str) -> Renderer<'a> {
    Renderer {
        display: params.display,
        exclude_reference_link: params.exclude_reference_link,
        fields: params.fields.as_deref(),
        base,
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Extension(version): Extension<ApiVersion>,
    Path(name): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_read(&caller, table)?;
    let params = Params::parse(uri.query())?;
    let mut query = match &params.query {
        Some(q) => query::parse(q)?,
        None => EncodedQuery::default(),
    };
    // Plain `field=value` parameters filter too; ones naming no field are ignored.
    for (field, value) in &params.filters {
        if table.field(field).is_some() {
            query = query.and(Condition {
                field: field.clone(),
                op: Operator::Eq(value.clone()),
            });
        }
    }
    let mut select = filter::resolve(table, &query)?;
    select.limit = Some(params.limit);
    select.offset = params.offset;
    let records = state.store.select(table, &select).await?;
    if records.is_empty() && version == ApiVersion::V1 {
        return Err(ApiError::not_found());
    }
    let total = match params.no_count {
        true => None,
        false => Some(state.store.count(table, &select.filter).await?),
    };
    let base = base_url(&headers);
    let rendered = renderer(&params, &base)
        .render(&*state.store, table, &records)
        .await?;
    let mut out = HeaderMap::new();
    if let Some(total) = total {
        out.insert("x-total-count", HeaderValue::from(total));
    }
    if !params.suppress_pagination_header {
        let more = records.len() as u64 == params.limit;
        let link = paging_links(&format!("{base}{}", uri.path()), &params, total, more);
        if let Ok(v) = HeaderValue::from_str(&link) {
            out.insert(header::LINK, v);
        }
    }
    Ok(respond::result(StatusCode::OK, out, Json::Array(rendered)))
}

/// The `Link` header: first, prev (past the first page), next (when more remain), last (when
/// the total is known).
fn paging_links(url: &str, params: &Params, total: Option<u64>, more: bool) -> String {
    let (limit, offset) = (params.limit, params.offset);
    let page = |offset: u64, rel: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params.raw {
            if k != "sysparm_offset" && k != "sysparm_limit" {
                q.append_pair(k, v);
            }
        }
        q.append_pair("sysparm_limit", &limit.to_string());
        q.append_pair("sysparm_offset", &offset.to_string());
        format!("<{url}?{}>;rel=\"{rel}\"", q.finish())
    };
    let mut links = vec![page(0, "first")];
    if offset > 0 {
        links.push(page(offset.saturating_sub(limit), "prev"));
    }
    let has_next = match total {
        Some(total) => offset.saturating_add(limit) < total,
        None => more,
    };
    if has_next {
        links.push(page(offset.saturating_add(limit), "next"));
    }
    if let Some(total) = total {
        links.push(page(total.saturating_sub(1) / limit * limit, "last"));
    }
    links.join(",")
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, sys_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_read(&caller, table)?;
    let params = Params::parse(uri.query())?;
    let record = state
        .store
        .get(table, &sys_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    render_one(&state, table, &params, &headers, record, StatusCode::OK).await
}

async fn render_one(
    state: &AppState,
    table: &'static Table,
    params: &Params,
    headers: &HeaderMap,
    record: crate::record::Record,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let base = base_url(headers);
    let mut out = HeaderMap::new();
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{base}/api/now/table/{}/{}",
            table.name,
            record.sys_id()
        ))
    {
        out.insert(header::LOCATION, v);
    }
    let mut rendered = renderer(params, &base)
        .render(&*state.store, table, std::slice::from_ref(&record))
        .await?;
    Ok(respond::result(
        status,
        out,
        rendered.pop().unwrap_or_default(),
    ))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_write(&caller, "Insert")?;
    let params = Params::parse(uri.query())?;
    let body = body.into_object()?;
    let sys_id = match body.get("sys_id") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.is_empty() => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => return Err(records::RecordError::invalid("sys_id", "must be a string").into()),
    };
    let changes = input::from_json(table, &body).await?;
    let mut tx = state.store.begin().await?;
    let (record, effects) =
        records::insert(&mut *tx, table, sys_id, changes, &caller.user_name).await?;
    state.commit(tx, effects).await?;
    render_one(
        &state,
        table,
        &params,
        &headers,
        record,
        StatusCode::CREATED,
    )
    .await
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, sys_id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_write(&caller, "Update")?;
    let params = Params::parse(uri.query())?;
    let changes = input::from_json(table, &body.into_object()?).await?;
    let mut tx = state.store.begin().await?;
    let (record, effects) =
        records::update(&mut *tx, table, &sys_id, changes, &caller.user_name).await?;
    state.commit(tx, effects).await?;
    render_one(&state, table, &params, &headers, record, StatusCode::OK).await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, sys_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_write(&caller, "Delete")?;
    let mut tx = state.store.begin().await?;
    let effects = records::delete(&mut *tx, table, &sys_id).await?;
    state.commit(tx, effects).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
