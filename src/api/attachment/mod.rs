//! The Attachment API (`/api/now/attachment`): files attached to records. Uploads
//! ([`upload`]: a raw body to `/file`, a multipart form to `/upload`) are spooled to a temporary
//! file and stored in one transaction as `sys_attachment_doc` chunks; downloads
//! ([`download`]) stream the chunks back one at a time. Metadata, renaming, deleting and
//! attributes are here.
//!
//! Who may do what: an attachment is visible to whoever may read its record's table (anyone
//! else is told it does not exist, 404), and may be added, renamed or deleted by admin and by
//! the holders of the roles that table's read rule names (the contact-center roles on their
//! tables); see docs/attachment-api.md.

mod download;
mod upload;

use axum::extract::{DefaultBodyLimit, OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::table::access;
use super::table::params::Params;
use crate::auth::Caller;
use crate::domain::{self, attachments};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, BaseUrl, Body, ErrorEnvelope, respond};
use crate::model::filter::{self, Filter, QueryContext, Select};
use crate::model::registry::{self, ReadAccess, SYS_ATTACHMENT, Table, field};
use crate::model::value::{Record, Value};
use crate::state::AppState;
use crate::storage::Storage;

pub fn router() -> OpenApiRouter<AppState> {
    // Uploads read their bodies themselves, with the attachment size limit.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload::file))
        .routes(routes!(upload::multipart))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(metadata, rename, remove))
        .routes(routes!(download::file))
        .routes(routes!(attributes, add_attribute, delete_attributes))
        .routes(routes!(attribute, set_attribute, delete_attribute))
        .merge(uploads)
}

/// Whether a request is for an attachment's file (`GET /api/now[/v1|/v2]/attachment/{sys_id}/file`),
/// whose answer is the file rather than the envelope: the conventions then answer it whatever
/// its `Accept` names ([`crate::http::conventions::OwnContent`]).
pub fn serves_content(method: &Method, path: &str) -> bool {
    // The versioned prefixes first: `/api/now/` is a prefix of theirs.
    let Some(rest) = ["/api/now/v1/", "/api/now/v2/", "/api/now/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    matches!(*method, Method::GET | Method::HEAD)
        && matches!(parts.as_slice(), ["attachment", id, "file"] if !id.is_empty())
}

/// The default page of `GET /attachment` (the platform's).
const DEFAULT_LIMIT: u64 = 1000;

/// Whether `caller` may add attachments to records of `table`, and rename or delete theirs:
/// admin, or a holder of a role the table's read rule names. Tables any user may read (users,
/// roles) take attachments from admin only.
fn may_write(caller: &Caller, table: &Table) -> bool {
    caller.is_admin()
        || matches!(table.read, ReadAccess::Roles(roles) if roles.iter().any(|r| caller.has_role(r)))
}

/// The table of an attachment, if `caller` may see the attachment (may read that table).
fn visible_table(caller: &Caller, attachment: &Record) -> Option<&'static Table> {
    let table = registry::table(attachment.str("table_name")?)?;
    access::can_read(caller, table).then_some(table)
}

/// The attachment `sys_id`, if `caller` may see it; else the platform's 404.
async fn find_visible(
    store: &dyn Storage,
    caller: &Caller,
    sys_id: &str,
) -> Result<Record, ApiError> {
    let attachment = store.get(&SYS_ATTACHMENT, sys_id).await?;
    attachment
        .filter(|a| visible_table(caller, a).is_some())
        .ok_or_else(ApiError::not_found)
}

/// The attachment `sys_id`, locked in `tx` for a change `caller` makes (`verb` names it in a
/// refusal): 404 if the caller may not see it, 403 if it may see but not change it.
async fn find_for_change(
    tx: &mut crate::storage::Tx,
    caller: &Caller,
    sys_id: &str,
    verb: &str,
) -> Result<Record, ApiError> {
    let attachment = attachments::find_locked(tx, sys_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let table = visible_table(caller, &attachment).ok_or_else(ApiError::not_found)?;
    if !may_write(caller, table) {
        return Err(ApiError::forbidden(format!(
            "ACL Exception {verb} Failed due to security constraints"
        )));
    }
    Ok(attachment)
}

/// Attachments' metadata as the API answers it: every field of `sys_attachment` as text, the
/// download link, the creator's and updater's full names, and the platform's image and tag
/// fields (empty: switchboard reads no images and keeps no tags).
async fn describe(
    store: &dyn Storage,
    base: &str,
    attachments: &[Record],
) -> Result<Vec<Json>, ApiError> {
    let names = full_names(store, attachments).await?;
    let full_name = |user: &Value| {
        let user = user.as_str().unwrap_or_default();
        names.get(user).cloned().unwrap_or_default()
    };
    Ok(attachments
        .iter()
        .map(|attachment| {
            let mut out = Map::new();
            for f in SYS_ATTACHMENT.readable_fields() {
                out.insert(
                    f.name.into(),
                    Json::String(attachment.get(f.name).to_api_string()),
                );
            }
            let link = format!("{base}/api/now/attachment/{}/file", attachment.sys_id());
            out.insert("download_link".into(), Json::String(link));
            let created = full_name(attachment.get("sys_created_by"));
            out.insert("created_by_name".into(), Json::String(created));
            let updated = full_name(attachment.get("sys_updated_by"));
            out.insert("updated_by_name".into(), Json::String(updated));
            for empty in [
                "image_width",
                "image_height",
                "average_image_color",
                "sys_tags",
            ] {
                out.insert(empty.into(), Json::String(String::new()));
            }
            Json::Object(out)
        })
        .collect())
}

/// The full name (`sys_user.name`) of each user who created or last updated an attachment,
/// by user name.
async fn full_names(
    store: &dyn Storage,
    attachments: &[Record],
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let mut users: Vec<Value> = attachments
        .iter()
        .flat_map(|a| [a.get("sys_created_by"), a.get("sys_updated_by")])
        .filter(|v| !v.is_null())
        .cloned()
        .collect();
    users.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    users.dedup();
    if users.is_empty() {
        return Ok(Default::default());
    }
    let select = Select::filter(Filter::one_of(field!(SYS_USER, user_name), users));
    let found = store.select(&registry::SYS_USER, &select).await?;
    Ok(found
        .iter()
        .filter_map(|u| Some((u.str("user_name")?.to_owned(), u.str("name")?.to_owned())))
        .collect())
}

/// One attachment's metadata in the envelope.
async fn answer_one(
    store: &dyn Storage,
    base: &str,
    status: StatusCode,
    headers: HeaderMap,
    attachment: Record,
) -> Result<Response, ApiError> {
    let mut described = describe(store, base, &[attachment]).await?;
    let one = described.pop().unwrap_or_default();
    Ok(respond::result(status, headers, one))
}

/// An attachment's metadata, as the OpenAPI document describes it (every value is text).
#[derive(serde::Serialize, ToSchema)]
#[allow(dead_code)]
struct AttachmentMetadata {
    sys_id: String,
    file_name: String,
    content_type: String,
    table_name: String,
    table_sys_id: String,
    size_bytes: String,
    /// Empty: switchboard stores content uncompressed.
    size_compressed: String,
    compressed: String,
    chunk_size_bytes: String,
    /// SHA-256 of the content, hexadecimal.
    hash: String,
    download_link: String,
    created_by_name: String,
    updated_by_name: String,
    sys_created_on: String,
    sys_created_by: String,
    sys_updated_on: String,
    sys_updated_by: String,
    sys_mod_count: String,
    image_width: String,
    image_height: String,
    average_image_color: String,
    sys_tags: String,
}

/// List the metadata of attachments the caller may see.
#[utoipa::path(
    get,
    path = "/attachment",
    tag = "Attachment API",
    params(
        ("sysparm_query" = Option<String>, Query, description = "Encoded query over sys_attachment, ORDERBY included"),
        ("sysparm_limit" = Option<u64>, Query, description = "Page size (default 1000)"),
        ("sysparm_offset" = Option<u64>, Query, description = "Attachments to skip"),
        ("sysparm_no_count" = Option<bool>, Query, description = "No `X-Total-Count`"),
    ),
    responses(
        (status = 200, description = "The attachments' metadata", body = ResultEnvelope<Vec<AttachmentMetadata>>,
         headers(("X-Total-Count" = u64, description = "How many attachments the query matches"))),
        (status = 400, description = "Invalid query or parameter", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query())?;
    let limit_given = params.raw.iter().any(|(k, _)| k == "sysparm_limit");
    let query = super::table::selection(&SYS_ATTACHMENT, params.query.as_deref(), &[])?;
    let context = QueryContext::now(caller.asker());
    let mut select = filter::resolve(&SYS_ATTACHMENT, &query, &context)?;
    if !caller.is_admin() {
        let readable: Vec<Value> = registry::TABLES
            .iter()
            .filter(|t| access::can_read(&caller, t))
            .map(|t| Value::text(t.name))
            .collect();
        let of_readable = Filter::one_of(field!(SYS_ATTACHMENT, table_name), readable);
        select.filter = select.filter.and(of_readable);
    }
    select.limit = Some(if limit_given {
        params.limit
    } else {
        DEFAULT_LIMIT
    });
    select.offset = params.offset;
    // pysnc pages attachments by this count, as it does records.
    let mut headers = HeaderMap::new();
    if !params.no_count {
        let total = state.store.count(&SYS_ATTACHMENT, &select.filter).await?;
        headers.insert("x-total-count", HeaderValue::from(total));
    }
    let records = state.store.select(&SYS_ATTACHMENT, &select).await?;
    let described = describe(&*state.store, &base, &records).await?;
    Ok(respond::result(
        StatusCode::OK,
        headers,
        Json::Array(described),
    ))
}

/// An attachment's metadata.
#[utoipa::path(
    get,
    path = "/attachment/{sys_id}",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    responses(
        (status = 200, description = "The attachment's metadata", body = ResultEnvelope<AttachmentMetadata>),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
async fn metadata(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(sys_id): Path<String>,
) -> Result<Response, ApiError> {
    let attachment = find_visible(&*state.store, &caller, &sys_id).await?;
    answer_one(
        &*state.store,
        &base,
        StatusCode::OK,
        HeaderMap::new(),
        attachment,
    )
    .await
}

/// Delete an attachment, its content and its attributes.
#[utoipa::path(
    delete,
    path = "/attachment/{sys_id}",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may see the attachment but not delete it", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(sys_id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    find_for_change(&mut tx, &caller, &sys_id, "Delete").await?;
    domain::delete(&mut tx, &SYS_ATTACHMENT, &sys_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The new name of an attachment.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct RenameRequest {
    /// Required: the new file name.
    #[schema(value_type = String)]
    file_name: Option<Json>,
}

/// A required text member of a request body: present, a string, not blank.
fn required_text(value: Option<&Json>, name: &str) -> Result<String, ApiError> {
    match value {
        Some(Json::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        _ => Err(ApiError::bad_request(
            "Invalid request",
            format!("Mandatory parameter '{name}' is missing or not a string"),
        )),
    }
}

/// Rename an attachment.
#[utoipa::path(
    patch,
    path = "/attachment/{sys_id}",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    request_body(content = RenameRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Renamed"),
        (status = 400, description = "No `file_name`, or an unreadable body", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may see the attachment but not rename it", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(sys_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: RenameRequest = body.parse()?;
    let file_name = required_text(request.file_name.as_ref(), "file_name")?;
    let mut tx = state.store.begin().await?;
    find_for_change(&mut tx, &caller, &sys_id, "Update").await?;
    attachments::rename(&mut tx, &sys_id, &file_name, &caller.user_name).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An attribute of an attachment.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Attribute {
    key: String,
    value: String,
}

/// An attribute to add.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct AttributeRequest {
    /// Required: the attribute's key.
    #[schema(value_type = String)]
    key: Option<Json>,
    /// Required: its value.
    #[schema(value_type = String)]
    value: Option<Json>,
}

/// An attribute's new value.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct AttributeValueRequest {
    /// Required: the new value.
    #[schema(value_type = String)]
    value: Option<Json>,
}

/// A value member: text; an empty string is a value (alt text may be empty).
fn value_text(value: Option<&Json>) -> Result<String, ApiError> {
    match value {
        Some(Json::String(text)) => Ok(text.clone()),
        _ => Err(ApiError::bad_request(
            "Invalid request",
            "Mandatory parameter 'value' is missing or not a string",
        )),
    }
}

fn no_attribute(key: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some(format!("The attachment has no attribute '{key}'")),
    )
}

/// Every attribute of an attachment.
#[utoipa::path(
    get,
    path = "/attachment/{sys_id}/attributes",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    responses(
        (status = 200, description = "The attributes, by key", body = ResultEnvelope<Vec<Attribute>>),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
async fn attributes(
    State(state): State<AppState>,
    caller: Caller,
    Path(sys_id): Path<String>,
) -> Result<Response, ApiError> {
    find_visible(&*state.store, &caller, &sys_id).await?;
    let found = attachments::attributes(&*state.store, &sys_id).await?;
    let list: Vec<Attribute> = found
        .into_iter()
        .map(|(key, value)| Attribute { key, value })
        .collect();
    Ok(respond::typed(StatusCode::OK, &list))
}

/// Add an attribute to an attachment.
#[utoipa::path(
    post,
    path = "/attachment/{sys_id}/attributes",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    request_body(content = AttributeRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Added", body = ResultEnvelope<Attribute>),
        (status = 400, description = "No `key` or `value`, an unreadable body, or the key exists", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may see the attachment but not change it", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
async fn add_attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path(sys_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: AttributeRequest = body.parse()?;
    let key = required_text(request.key.as_ref(), "key")?;
    let value = value_text(request.value.as_ref())?;
    let mut tx = state.store.begin().await?;
    find_for_change(&mut tx, &caller, &sys_id, "Insert").await?;
    let added =
        attachments::add_attribute(&mut tx, &sys_id, &key, &value, &caller.user_name).await?;
    if added.is_err() {
        return Err(ApiError::bad_request(
            "Attribute already exists",
            format!("The attachment has an attribute '{key}' already: change its value with PUT"),
        ));
    }
    tx.commit().await?;
    Ok(respond::typed(
        StatusCode::CREATED,
        &Attribute { key, value },
    ))
}

/// Delete every attribute of an attachment.
#[utoipa::path(
    delete,
    path = "/attachment/{sys_id}/attributes",
    tag = "Attachment API",
    params(("sys_id" = String, Path, description = "The attachment's sys_id")),
    responses(
        (status = 204, description = "Deleted (also when there were none)"),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may see the attachment but not change it", body = ErrorEnvelope),
        (status = 404, description = "No such attachment, or the caller may not read its record's table", body = ErrorEnvelope),
    )
)]
async fn delete_attributes(
    State(state): State<AppState>,
    caller: Caller,
    Path(sys_id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    find_for_change(&mut tx, &caller, &sys_id, "Delete").await?;
    attachments::delete_attributes(&mut tx, &sys_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One attribute of an attachment.
#[utoipa::path(
    get,
    path = "/attachment/{sys_id}/attributes/{attribute_key}",
    tag = "Attachment API",
    params(
        ("sys_id" = String, Path, description = "The attachment's sys_id"),
        ("attribute_key" = String, Path, description = "The attribute's key"),
    ),
    responses(
        (status = 200, description = "The attribute", body = ResultEnvelope<Attribute>),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 404, description = "No such attachment or attribute", body = ErrorEnvelope),
    )
)]
async fn attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path((sys_id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    find_visible(&*state.store, &caller, &sys_id).await?;
    let found = attachments::attributes(&*state.store, &sys_id).await?;
    let (key, value) = found
        .into_iter()
        .find(|(k, _)| *k == key)
        .ok_or_else(|| no_attribute(&key))?;
    Ok(respond::typed(StatusCode::OK, &Attribute { key, value }))
}

/// Change the value of an attribute.
#[utoipa::path(
    put,
    path = "/attachment/{sys_id}/attributes/{attribute_key}",
    tag = "Attachment API",
    params(
        ("sys_id" = String, Path, description = "The attachment's sys_id"),
        ("attribute_key" = String, Path, description = "The attribute's key"),
    ),
    request_body(content = AttributeValueRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The attribute as changed", body = ResultEnvelope<Attribute>),
        (status = 400, description = "No `value`, or an unreadable body", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may see the attachment but not change it", body = ErrorEnvelope),
        (status = 404, description = "No such attachment or attribute", body = ErrorEnvelope),
    )
)]
async fn set_attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path((sys_id, key)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: AttributeValueRequest = body.parse()?;
    let value = value_text(request.value.as_ref())?;
    let mut tx = state.store.begin().await?;
    find_for_change(&mut tx, &caller, &sys_id, "Update").await?;
    attachments::set_attribute(&mut tx, &sys_id, &key, &value, &caller.user_name)
        .await?
        .map_err(|_| no_attribute(&key))?;
    tx.commit().await?;
    Ok(respond::typed(StatusCode::OK, &Attribute { key, value }))
}

/// Delete one attribute.
#[utoipa::path(
    delete,
    path = "/attachment/{sys_id}/attributes/{attribute_key}",
    tag = "Attachment API",
    params(
        ("sys_id" = String, Path, description = "The attachment's sys_id"),
        ("attribute_key" = String, Path, description = "The attribute's key"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may see the attachment but not change it", body = ErrorEnvelope),
        (status = 404, description = "No such attachment or attribute", body = ErrorEnvelope),
    )
)]
async fn delete_attribute(
    State(state): State<AppState>,
    caller: Caller,
    Path((sys_id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    find_for_change(&mut tx, &caller, &sys_id, "Delete").await?;
    attachments::delete_attribute(&mut tx, &sys_id, &key)
        .await?
        .map_err(|_| no_attribute(&key))?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_files_download_serves_content_of_its_own() {
        for path in [
            "/api/now/attachment/abc/file",
            "/api/now/v1/attachment/abc/file",
            "/api/now/v2/attachment/abc/file",
        ] {
            assert!(serves_content(&Method::GET, path), "{path}");
            assert!(serves_content(&Method::HEAD, path), "{path}");
            assert!(!serves_content(&Method::DELETE, path), "{path}");
        }
        for path in [
            "/api/now/attachment/file",
            "/api/now/attachment//file",
            "/api/now/attachment/abc",
            "/api/now/attachment/abc/file/x",
            "/api/now/table/attachment/abc/file",
            "/api/now/v3/attachment/abc/file",
            "/api/now/attachment",
        ] {
            assert!(!serves_content(&Method::GET, path), "{path}");
        }
    }
}
