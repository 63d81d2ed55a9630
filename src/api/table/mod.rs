//! The Table API: list, read, create, update and delete records of every registry table.

pub mod access;
pub mod params;
pub mod render;

use axum::Extension;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiVersion;
use crate::auth::Caller;
use crate::domain::{self, input, tiny_urls};
use crate::http::BaseUrl;
use crate::http::ErrorEnvelope;
use crate::http::respond::{Payload, ResultEnvelope};
use crate::http::{ApiError, Body, Format, respond};
use crate::model::filter::{self, QueryContext};
use crate::model::query::{self, Condition, EncodedQuery, Operator};
use crate::model::registry::{self, Table};
use crate::model::value::Record;
use crate::state::AppState;
use params::{Params, Shape};
use render::Renderer;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
}

/// A record is what the Table API sends, written by [`crate::http::records_writer`] rather
/// than serde (it streams pages of thousands); its schema is given here, by hand, under the
/// name `TableRecord`. `ComposeSchema` is what lets `ResultEnvelope<Vec<Record>>` name it.
impl utoipa::__dev::ComposeSchema for Record {
    fn compose(_: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "A record: its fields by name. Every value is a string; a reference is \
                 `{\"link\", \"value\"}` unless `sysparm_exclude_reference_link`; with \
                 `sysparm_display_value=all` each value is `{\"display_value\", \"value\"}`.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl utoipa::ToSchema for Record {
    fn name() -> std::borrow::Cow<'static, str> {
        "TableRecord".into()
    }
}

/// The registry table a path names, or the platform's 400.
pub fn lookup(name: &str) -> Result<&'static Table, ApiError> {
    registry::table(name).ok_or_else(|| {
        ApiError::bad_request(format!("Invalid table {name}"), "The table does not exist")
    })
}

fn renderer<'a>(params: &'a Params, base: &'a str, format: Format) -> Renderer<'a> {
    Renderer {
        display: params.shape.display,
        exclude_reference_link: params.shape.exclude_reference_link,
        fields: params.shape.fields.as_deref(),
        base,
        format,
    }
}

/// List the records of a table that match a query.
#[utoipa::path(
    get,
    path = "/table/{table}",
    tag = "Table API",
    params(("table" = String, Path, description = "A table name"), Params, Shape),
    responses(
        (status = 200, description = "The page of records", body = ResultEnvelope<Vec<Record>>,
         headers(("X-Total-Count" = u64), ("Link" = String))),
        (status = 400, description = "Invalid table, query or parameter", body = ErrorEnvelope),
        (status = 404, description = "v1 only: no record matches", body = ErrorEnvelope),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Extension(version): Extension<ApiVersion>,
    Path(name): Path<String>,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    format: Format,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_read(&caller, table)?;
    let params = list_params(&state, uri.query()).await?;
    let query = selection(table, params.query.as_deref(), &params.filters)?;
    let mut select = filter::resolve(table, &query, &QueryContext::now(caller.asker()))?;
    select.limit = Some(params.limit);
    select.offset = params.offset;
    // Counted before the rows are read: the count says how many this page will hold, which is
    // what it reserves (a query without `sysparm_limit` asks for 10,000 but may match three).
    let total = match params.no_count {
        true => None,
        false => Some(state.store.count(table, &select.filter).await?),
    };
    let admission = state.pages.admit(page_size(&params, total)).await?;
    let records = state.store.select(table, &select).await?;
    if records.is_empty() && version == ApiVersion::V1 {
        return Err(ApiError::not_found());
    }
    let more = records.len() as u64 == params.limit;
    let writer = renderer(&params, &base, format)
        .list(&*state.store, table, records)
        .await?;
    let mut out = HeaderMap::new();
    if let Some(total) = total {
        out.insert("x-total-count", HeaderValue::from(total));
    }
    if !params.suppress_pagination_header
        && let Some(link) = paging_links(&format!("{base}{}", uri.path()), &params, total, more)
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        out.insert(header::LINK, v);
    }
    let (format, body) = writer.finish();
    let body = match admission {
        Some(admission) => admission.hold(body),
        None => body.into(),
    };
    Ok(respond::encoded(
        StatusCode::OK,
        out,
        Payload::Encoded { format, body },
    ))
}

/// The records a request selects: its `sysparm_query`, and plain `field=value` parameters
/// (ones naming no field are ignored). The Table API's lists and the Aggregate API share it.
pub fn selection(
    table: &'static Table,
    query: Option<&str>,
    filters: &[(String, String)],
) -> Result<EncodedQuery, ApiError> {
    let mut selection = match query {
        Some(q) => query::parse(q)?,
        None => EncodedQuery::default(),
    };
    for (field, value) in filters {
        if table.field(field).is_some() {
            selection = selection.and(Condition {
                field: field.clone(),
                op: Operator::Eq(value.clone()),
            });
        }
    }
    Ok(selection)
}

/// A list's parameters: its own, or, with `sysparm_tiny`, the query string stored under that
/// tiny URL followed by its own (which win). Paging links keep the request's own parameters,
/// `sysparm_tiny` included, so they stay short.
async fn list_params(state: &AppState, query: Option<&str>) -> Result<Params, ApiError> {
    let params = Params::parse(query)?;
    let Some(tiny) = &params.tiny else {
        return Ok(params);
    };
    let stored = tiny_urls::expand(&*state.store, tiny)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "Invalid parameter",
                format!("sysparm_tiny='{tiny}' is not valid: no tiny URL has this id"),
            )
        })?;
    let mut combined = form_urlencoded::Serializer::new(String::new());
    combined.extend_pairs(form_urlencoded::parse(stored.as_bytes()));
    combined.extend_pairs(params.raw.iter().filter(|(k, _)| k != "sysparm_tiny"));
    let mut expanded = Params::parse(Some(&combined.finish()))?;
    expanded.raw = params.raw;
    Ok(expanded)
}

/// The most records a page can hold: its limit, or fewer when the count leaves fewer past its
/// offset. Records inserted between the count and the read can exceed it (by as many).
fn page_size(params: &Params, total: Option<u64>) -> u64 {
    total.map_or(params.limit, |total| {
        total.saturating_sub(params.offset).min(params.limit)
    })
}

/// The longest `Link` header sent, in bytes. Python's http.client (under requests, so under
/// pysnow) refuses a header line over 64 KiB; each link repeats the request's parameters, so a
/// `sysparm_query` of 1,000 sys_ids makes links of about 35 KB each. 48 KiB holds one such link
/// with room to spare under that limit.
const LINK_BOUND: usize = 48 * 1024;

/// The `Link` header: first, prev (past the first page), next (when more remain), last (when
/// the total is known); `None` for no header.
///
/// Over [`LINK_BOUND`], relations are kept by use, `next` first (the one a client follows to read
/// a whole result), then `prev`, `first`, `last`, each if it still fits. If `next` itself does
/// not fit there is no header at all: links without `next` would say this is the last page.
fn paging_links(url: &str, params: &Params, total: Option<u64>, more: bool) -> Option<String> {
    let links = page_links(url, params, total, more);
    let header = |links: &[(&str, String)]| {
        let texts: Vec<&str> = links.iter().map(|(_, text)| text.as_str()).collect();
        texts.join(",")
    };
    let full = header(&links);
    if full.len() <= LINK_BOUND {
        return Some(full);
    }
    let mut kept = Vec::new();
    let mut length = 0;
    for rel in ["next", "prev", "first", "last"] {
        let Some(i) = links.iter().position(|(r, _)| *r == rel) else {
            continue;
        };
        // One comma before every link but the first.
        let added = links[i].1.len() + usize::from(!kept.is_empty());
        if length + added <= LINK_BOUND {
            kept.push(i);
            length += added;
        } else if rel == "next" {
            return None;
        }
    }
    kept.sort_unstable();
    let kept: Vec<_> = kept.into_iter().map(|i| links[i].clone()).collect();
    (!kept.is_empty()).then(|| header(&kept))
}

/// Every paging link as (rel, `<url>;rel="rel"`), in the header's order.
fn page_links(
    url: &str,
    params: &Params,
    total: Option<u64>,
    more: bool,
) -> Vec<(&'static str, String)> {
    let (limit, offset) = (params.limit, params.offset);
    let page = |offset: u64, rel: &'static str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params.raw {
            if k != "sysparm_offset" && k != "sysparm_limit" {
                q.append_pair(k, v);
            }
        }
        q.append_pair("sysparm_limit", &limit.to_string());
        q.append_pair("sysparm_offset", &offset.to_string());
        (rel, format!("<{url}?{}>;rel=\"{rel}\"", q.finish()))
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
    links
}

/// Read one record.
#[utoipa::path(
    get,
    path = "/table/{table}/{sys_id}",
    tag = "Table API",
    params(("table" = String, Path), ("sys_id" = String, Path), Shape),
    responses(
        (status = 200, description = "The record", body = ResultEnvelope<Record>),
        (status = 400, description = "Invalid table or parameter", body = ErrorEnvelope),
        (status = 404, description = "No Record found", body = ErrorEnvelope),
    )
)]
async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, sys_id)): Path<(String, String)>,
    BaseUrl(base): BaseUrl,
    uri: Uri,
    format: Format,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_read(&caller, table)?;
    let params = Params::parse(uri.query())?;
    let record = state
        .store
        .get(table, &sys_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let renderer = renderer(&params, &base, format);
    render_one(&state, table, &renderer, record, StatusCode::OK).await
}

async fn render_one(
    state: &AppState,
    table: &'static Table,
    renderer: &Renderer<'_>,
    record: crate::model::value::Record,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let mut out = HeaderMap::new();
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{}/api/now/table/{}/{}",
            renderer.base,
            table.name,
            record.sys_id()
        ))
    {
        out.insert(header::LOCATION, v);
    }
    let writer = renderer.one(&*state.store, table, record).await?;
    Ok(writer.into_response(status, out))
}

/// Insert a record (the caller may choose its `sys_id`). Admin only.
#[utoipa::path(
    post,
    path = "/table/{table}",
    tag = "Table API",
    params(("table" = String, Path), Shape),
    request_body(content = Object, description = "Field values", content_type = "application/json"),
    responses(
        (status = 201, description = "The new record", body = ResultEnvelope<Record>, headers(("Location" = String))),
        (status = 400, description = "Invalid table or field value, or a duplicate key", body = ErrorEnvelope),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    BaseUrl(base): BaseUrl,
    uri: Uri,
    format: Format,
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
        Some(_) => return Err(domain::RecordError::invalid("sys_id", "must be a string").into()),
    };
    let changes = input::from_json(table, &body).await?;
    let mut tx = state.store.begin().await?;
    let record = domain::insert(&mut tx, table, sys_id, changes, &caller.user_name).await?;
    tx.commit().await?;
    let renderer = renderer(&params, &base, format);
    render_one(&state, table, &renderer, record, StatusCode::CREATED).await
}

/// Change the given fields of a record (PUT and PATCH alike). Admin only.
#[utoipa::path(
    method(put, patch),
    path = "/table/{table}/{sys_id}",
    tag = "Table API",
    params(("table" = String, Path), ("sys_id" = String, Path), Shape),
    request_body(content = Object, description = "Field values", content_type = "application/json"),
    responses(
        (status = 200, description = "The record", body = ResultEnvelope<Record>),
        (status = 400, description = "Invalid table or field value, or a duplicate key", body = ErrorEnvelope),
        (status = 404, description = "No Record found", body = ErrorEnvelope),
    )
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, sys_id)): Path<(String, String)>,
    BaseUrl(base): BaseUrl,
    uri: Uri,
    format: Format,
    body: Body,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_write(&caller, "Update")?;
    let params = Params::parse(uri.query())?;
    let changes = input::from_json(table, &body.into_object()?).await?;
    let mut tx = state.store.begin().await?;
    let record = domain::update(&mut tx, table, &sys_id, changes, &caller.user_name).await?;
    tx.commit().await?;
    let renderer = renderer(&params, &base, format);
    render_one(&state, table, &renderer, record, StatusCode::OK).await
}

/// Delete a record; records that belong to it go too. Admin only.
#[utoipa::path(
    delete,
    path = "/table/{table}/{sys_id}",
    tag = "Table API",
    params(("table" = String, Path), ("sys_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid table", body = ErrorEnvelope),
        (status = 404, description = "No Record found", body = ErrorEnvelope),
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, sys_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let table = lookup(&name)?;
    access::require_write(&caller, "Delete")?;
    let mut tx = state.store.begin().await?;
    domain::delete(&mut tx, table, &sys_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://h/api/now/table/t";

    fn links(query: &str, total: u64) -> Option<String> {
        let params = Params::parse(Some(query)).unwrap();
        paging_links(URL, &params, Some(total), false)
    }

    fn rels(header: &str) -> Vec<&str> {
        header
            .split(">;rel=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect()
    }

    /// A `sysparm_query` whose links are each about `bytes` long.
    fn long_query(bytes: usize) -> String {
        format!("sysparm_query=name={}", "x".repeat(bytes))
    }

    #[test]
    fn short_headers_carry_every_relation_in_order() {
        let header = links("sysparm_limit=1&sysparm_offset=1", 3).unwrap();
        assert_eq!(
            header,
            "<http://h/api/now/table/t?sysparm_limit=1&sysparm_offset=0>;rel=\"first\",\
             <http://h/api/now/table/t?sysparm_limit=1&sysparm_offset=0>;rel=\"prev\",\
             <http://h/api/now/table/t?sysparm_limit=1&sysparm_offset=2>;rel=\"next\",\
             <http://h/api/now/table/t?sysparm_limit=1&sysparm_offset=2>;rel=\"last\""
        );
    }

    #[test]
    fn long_headers_keep_next_then_prev_first_last_within_the_bound() {
        let q = |bytes| format!("{}&sysparm_limit=1&sysparm_offset=1", long_query(bytes));
        // Each link a third of the bound: three fit, `last` is dropped.
        let header = links(&q(LINK_BOUND / 3 - 200), 3).unwrap();
        assert!(header.len() <= LINK_BOUND);
        assert_eq!(rels(&header), ["first", "prev", "next"]);
        // Each link over half the bound: `next` alone.
        let header = links(&q(LINK_BOUND / 2 + 10), 3).unwrap();
        assert_eq!(rels(&header), ["next"]);
        // `next` does not fit: no header, rather than one that looks like the last page.
        assert_eq!(links(&q(LINK_BOUND), 3), None);
        // On the last page there is no `next`; `prev` comes first.
        let last = format!(
            "{}&sysparm_limit=1&sysparm_offset=2",
            long_query(LINK_BOUND / 2 + 10)
        );
        assert_eq!(rels(&links(&last, 3).unwrap()), ["prev"]);
    }
}
