//! Uploads: `POST /attachment/file` (the file is the raw body, the record and name are query
//! parameters) and `POST /attachment/upload` (a multipart form: `table_name`, `table_sys_id`,
//! then the file part). The record and the caller's rights are checked before a byte of the
//! file is read; the file is spooled to a temporary file as it arrives ([`Spool`]), with the
//! size limit (`--attachment-max-bytes`) and the body timeout applied to each part; and only
//! then does one transaction store it, so a slow client never holds the writer.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::{answer_one, may_write};
use crate::api::table::access;
use crate::auth::Caller;
use crate::domain::attachments::{self, Content, NewAttachment, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::spool::{Spool, SpoolError, Spooled};
use crate::http::{ApiError, BaseUrl, ErrorEnvelope};
use crate::model::registry::{self, Table};
use crate::model::value::is_date_time;
use crate::state::AppState;
use crate::storage::StorageError;

use super::AttachmentMetadata;

/// The type of a file part that names none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The most a form field other than the file may hold (a table name, a sys_id).
const FORM_FIELD_BYTES: usize = 64 * 1024;

fn missing(name: &str) -> ApiError {
    ApiError::bad_request(
        "Invalid request",
        format!("Mandatory parameter '{name}' is missing"),
    )
}

/// What is known of an upload before its file: the record, and the optional creation time.
#[derive(Default)]
struct Form {
    table_name: Option<String>,
    table_sys_id: Option<String>,
    creation_time: Option<String>,
}

impl Form {
    fn take(&mut self, name: &str, value: String) {
        match name {
            "table_name" => self.table_name = Some(value),
            "table_sys_id" => self.table_sys_id = Some(value),
            "creation_time" => self.creation_time = Some(value),
            // `encryption_context` is accepted and not applied (docs/attachment-api.md), as
            // is any field the page does not name.
            _ => {}
        }
    }

    /// The record to attach to, checked for `caller`: 400 when a parameter is missing or the
    /// creation time is not a date-time, 404 when the record does not exist or the caller may
    /// not read its table, 403 when it may read but not attach.
    async fn target(&self, state: &AppState, caller: &Caller) -> Result<Target, ApiError> {
        let table_name = self
            .table_name
            .as_deref()
            .ok_or_else(|| missing("table_name"))?;
        let sys_id = self
            .table_sys_id
            .as_deref()
            .ok_or_else(|| missing("table_sys_id"))?;
        if let Some(time) = &self.creation_time
            && !is_date_time(time)
        {
            return Err(ApiError::bad_request(
                "Invalid request",
                format!("creation_time '{time}' is not a date-time (YYYY-MM-DD HH:MM:SS)"),
            ));
        }
        let table = registry::table(table_name)
            .filter(|t| attachments::attachable(t) && access::can_read(caller, t))
            .ok_or_else(ApiError::not_found)?;
        if !may_write(caller, table) {
            return Err(ApiError::forbidden(
                "ACL Exception Insert Failed due to security constraints",
            ));
        }
        if state.store.get(table, sys_id).await?.is_none() {
            return Err(ApiError::not_found());
        }
        Ok(Target {
            table,
            sys_id: sys_id.to_owned(),
            created_on: self.creation_time.clone(),
        })
    }
}

/// A record a file may be attached to, checked.
struct Target {
    table: &'static Table,
    sys_id: String,
    created_on: Option<String>,
}

fn too_large(limit: u64) -> ApiError {
    ApiError::bad_request(
        "Failed to create the attachment",
        format!("The file is larger than the {limit} bytes an attachment may hold"),
    )
}

impl From<SpoolError> for ApiError {
    fn from(e: SpoolError) -> ApiError {
        match e {
            SpoolError::TooLarge { limit } => too_large(limit),
            SpoolError::TooSlow(_) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "Exception while reading request",
                Some(format!("The file did not arrive in time: {e}")),
            ),
            SpoolError::Body(_) => ApiError::unreadable(e.to_string()),
            // The server's own disk: nothing was stored, and a retry may succeed.
            SpoolError::Io(io) => ApiError::unavailable(&StorageError::Unavailable(format!(
                "spooling an upload: {io}"
            ))),
        }
    }
}

/// Stores a spooled file as an attachment of `target`; the 201 answer with its metadata and
/// `Location`.
async fn store(
    state: &AppState,
    caller: &Caller,
    base: &str,
    target: Target,
    file_name: String,
    content_type: String,
    mut spooled: Spooled,
) -> Result<Response, ApiError> {
    let new = NewAttachment {
        sys_id: None,
        table: target.table,
        table_sys_id: target.sys_id,
        file_name,
        content_type,
        created_on: target.created_on,
    };
    let content = Content {
        reader: &mut spooled.file,
        size: spooled.size,
        hash: spooled.hash,
    };
    let mut tx = state.store.begin().await?;
    let attached = attachments::attach(&mut tx, new, content, &caller.user_name).await?;
    let attachment = match attached {
        Ok(attachment) => attachment,
        // Deleted between the check and the transaction.
        Err(Refusal::NoRecord | Refusal::AttributeExists | Refusal::NoAttribute) => {
            return Err(ApiError::not_found());
        }
    };
    tx.commit().await?;
    let mut headers = HeaderMap::new();
    let location = format!("{base}/api/now/attachment/{}", attachment.sys_id());
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    answer_one(
        &*state.store,
        base,
        StatusCode::CREATED,
        headers,
        attachment,
    )
    .await
}

/// Upload a file, sent as the request body, as an attachment of a record.
#[utoipa::path(
    post,
    path = "/attachment/file",
    tag = "Attachment API",
    params(
        ("table_name" = String, Query, description = "The table of the record to attach to"),
        ("table_sys_id" = String, Query, description = "The record's sys_id"),
        ("file_name" = String, Query, description = "The attachment's name"),
        ("creation_time" = Option<String>, Query, description = "When the file was created (YYYY-MM-DD HH:MM:SS), if not now"),
        ("encryption_context" = Option<String>, Query, description = "Accepted and not applied"),
    ),
    request_body(content = Vec<u8>, content_type = "*/*", description = "The file; `Content-Type` is its type and is required"),
    responses(
        (status = 201, description = "Attached", body = ResultEnvelope<AttachmentMetadata>,
         headers(("Location" = String, description = "The new attachment's URL"))),
        (status = 400, description = "A missing parameter or `Content-Type`, or a file over the size limit", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may read the record's table but not attach to it", body = ErrorEnvelope),
        (status = 404, description = "No such record, or the caller may not read its table", body = ErrorEnvelope),
        (status = 408, description = "The file stopped arriving for the body timeout", body = ErrorEnvelope),
    )
)]
pub(super) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let mut form = Form::default();
    let mut file_name = None;
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        match &*name {
            "file_name" => file_name = Some(value.into_owned()),
            other => form.take(other, value.into_owned()),
        }
    }
    let file_name = file_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| missing("file_name"))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "Invalid request",
                "The Content-Type header is mandatory: the type of the file, such as image/jpeg or */*",
            )
        })?
        .to_owned();
    let target = form.target(&state, &caller).await?;
    let limit = state.config.attachment_max_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let mut spool = Spool::new(limit).await?;
    spool.write_body(body, state.config.body_timeout).await?;
    let spooled = spool.finish().await?;
    store(
        &state,
        &caller,
        &base,
        target,
        file_name,
        content_type,
        spooled,
    )
    .await
}

/// A multipart upload's form, as documented for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The table of the record to attach to.
    table_name: String,
    /// The record's sys_id.
    table_sys_id: String,
    /// The file, last: its part's filename is the attachment's name and its Content-Type the
    /// attachment's type. Any field name.
    #[schema(value_type = String, format = Binary)]
    upload_file: Vec<u8>,
}

/// The next chunk of a form field, waiting at most `idle` for it.
async fn next_chunk(field: &mut Field<'_>, idle: Duration) -> Result<Option<Bytes>, ApiError> {
    let chunk = tokio::time::timeout(idle, field.chunk())
        .await
        .map_err(|_| SpoolError::TooSlow(idle))?;
    chunk.map_err(|e| ApiError::unreadable(format!("The multipart body is malformed: {e}")))
}

/// Reads a form field that is not the file, refusing more than [`FORM_FIELD_BYTES`].
async fn small_field(field: &mut Field<'_>, idle: Duration) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(field, idle).await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > FORM_FIELD_BYTES {
            return Err(ApiError::unreadable(format!(
                "The form field '{}' holds more than {FORM_FIELD_BYTES} bytes",
                field.name().unwrap_or_default()
            )));
        }
    }
    String::from_utf8(bytes).map_err(|_| {
        ApiError::unreadable(format!(
            "The form field '{}' is not UTF-8 text",
            field.name().unwrap_or_default()
        ))
    })
}

/// Upload a file as an attachment of a record, in a multipart form.
#[utoipa::path(
    post,
    path = "/attachment/upload",
    tag = "Attachment API",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Attached", body = ResultEnvelope<AttachmentMetadata>,
         headers(("Location" = String, description = "The new attachment's URL"))),
        (status = 400, description = "Not a multipart form, a missing field or file, or a file over the size limit", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may read the record's table but not attach to it", body = ErrorEnvelope),
        (status = 404, description = "No such record, or the caller may not read its table", body = ErrorEnvelope),
        (status = 408, description = "The form stopped arriving for the body timeout", body = ErrorEnvelope),
    )
)]
pub(super) async fn multipart(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::unreadable(format!("The body must be a multipart/form-data form: {e}"))
    })?;
    let idle = state.config.body_timeout;
    let limit = state.config.attachment_max_bytes;
    let mut form = Form::default();
    let mut file: Option<(String, String, Spooled)> = None;
    // The target is checked once, before the file is read, when the form names it first (as
    // the page requires); a form that names it later is checked once it has.
    let mut target: Option<Target> = None;
    loop {
        let next = tokio::time::timeout(idle, multipart.next_field())
            .await
            .map_err(|_| SpoolError::TooSlow(idle))?
            .map_err(|e| ApiError::unreadable(format!("The multipart body is malformed: {e}")))?;
        let Some(mut field) = next else { break };
        // A part with an empty filename is a file input left empty (as a browser sends it):
        // no file, like a part with none.
        let file_name = field
            .file_name()
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned);
        let Some(file_name) = file_name else {
            let name = field.name().unwrap_or_default().to_owned();
            let value = small_field(&mut field, idle).await?;
            form.take(&name, value);
            continue;
        };
        if file.is_some() {
            return Err(ApiError::bad_request(
                "Invalid request",
                "The form holds more than one file: upload one file per request",
            ));
        }
        if target.is_none() && form.table_name.is_some() && form.table_sys_id.is_some() {
            target = Some(form.target(&state, &caller).await?);
        }
        let content_type = field
            .content_type()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_CONTENT_TYPE)
            .to_owned();
        let mut spool = Spool::new(limit).await?;
        while let Some(chunk) = next_chunk(&mut field, idle).await? {
            spool.write(&chunk).await?;
        }
        file = Some((file_name, content_type, spool.finish().await?));
    }
    let Some((file_name, content_type, spooled)) = file else {
        return Err(ApiError::bad_request(
            "Invalid request",
            "The form holds no file: send it as the last part, with a filename",
        ));
    };
    let target = match target {
        Some(target) => target,
        None => form.target(&state, &caller).await?,
    };
    store(
        &state,
        &caller,
        &base,
        target,
        file_name,
        content_type,
        spooled,
    )
    .await
}
