//! The Wrap Up API: wrap-up codes (`GET /wrapup/code/{code_id}`, `POST /wrapup/code`) and
//! wrap-up segments, one agent's wrap-up of an interaction (`POST /wrapup/segment/create`,
//! `GET /wrapup/segment/{segment_id}`, `GET /wrapup/segment/agent/{agent_id}/interaction/
//! {interaction_id}`, `PUT /wrapup/segment/update`, `PUT /wrapup/segment/update/ai`). Role
//! `interaction_integration_user`. JSON or XML both ways.
//!
//! Codes answer inside `{"result": ...}`; segments answer bare (`{"success", "message", ...}`),
//! as the page prints them. Bodies are read leniently (any JSON, or XML's text) and checked
//! here in the page's order; a mistake is a 400 in the platform's error envelope.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value as Json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::awa_fields;
use crate::auth::{Authorized, InteractionIntegrationUser};
use crate::domain::wrap_up::{
    self, AiRecommendation, AllowedCode, Closing, Code, ConfigurationSource, NewCode,
    NewConfiguration, NewSegment, Refusal, Segment, Target, Translation,
};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::model::value::{Record, is_date_time};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_code))
        .routes(routes!(post_codes))
        .routes(routes!(create_segment))
        .routes(routes!(get_segment))
        .routes(routes!(get_segment_by_agent))
        .routes(routes!(update_segment))
        .routes(routes!(update_segment_ai))
}

/// The page's messages for its successful answers.
const CODE_FOUND: &str = "Wrap up code found.";
const ALL_CREATED: &str = "All wrap up codes created successfully.";
const SOME_CREATED: &str =
    "Some wrap up codes created successfully. Validation errors occurred while creating others.";
const NONE_CREATED: &str = "No wrap up codes created.";
const SEGMENT_FOUND: &str = "Wrap up segment retrieved successfully.";
const SEGMENT_CREATED: &str = "Wrap-up segment created successfully.";
const SEGMENT_UPDATED: &str = "Wrap-up segment updated successfully.";
const AI_UPDATED: &str = "AI wrap-up data updated successfully.";

/// The longest AI notes the page allows.
const MAX_AI_NOTES: usize = 4000;

/// A 400 in the platform's error envelope, with `message` and no detail.
fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message.into(), None)
}

fn missing(name: &str) -> String {
    format!("Missing required field: {name}")
}

/// The page's refusals, each a 400 (the page documents no other failure status).
fn refused(refusal: Refusal) -> ApiError {
    bad(match refusal {
        Refusal::InteractionNotFound(id) => format!("Interaction not found: {id}"),
        Refusal::AgentNotFound(id) => format!("Agent not found: {id}"),
        Refusal::ConfigurationNotFound(id) => format!("Wrap up configuration not found: {id}"),
        Refusal::DefaultCodeNotAllowed(code) => {
            format!("Default code {code} is not one of the allowed codes")
        }
        Refusal::SegmentNotFound => "Wrap up segment not found".to_owned(),
        Refusal::SegmentClosed(id) => format!("Wrap up segment {id} is already closed"),
        Refusal::ThirdPartyAiDisabled(id) => {
            format!("Third-party AI is not enabled on the wrap up configuration of segment {id}")
        }
        Refusal::UnknownCode(code) => format!("Wrap up code not found: {code}"),
        Refusal::CodeNotAllowed(code) => {
            format!("Wrap up code {code} is not allowed for this segment")
        }
        Refusal::CodeRequired => "A wrap up code is required".to_owned(),
    })
}

// ---- Reading bodies leniently ----

/// A text field: a string (trimmed; blank is absent) or a number. Anything else is refused.
fn string(fields: &Map<String, Json>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.contains('\0') => {
            Err(bad(format!("Field {name} may not contain NUL characters")))
        }
        Some(Json::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(bad(format!("Field {name} must be a string"))),
    }
}

/// A text field the request must give.
fn required(fields: &Map<String, Json>, name: &str) -> Result<String, ApiError> {
    string(fields, name)?.ok_or_else(|| bad(missing(name)))
}

/// A flag (the AWA APIs' reading: a boolean, 1/0, or true/yes/1/false/no/0 as text).
fn flag(fields: &Map<String, Json>, name: &str) -> Result<Option<bool>, ApiError> {
    awa_fields::flag(fields.get(name)).map_err(|_| bad(format!("Field {name} must be a boolean")))
}

/// A list: a JSON array, or one object (XML writes a one-item list as one element).
fn list<'a>(fields: &'a Map<String, Json>, name: &str) -> Result<Option<Vec<&'a Json>>, ApiError> {
    match fields.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::Array(items)) => Ok(Some(items.iter().collect())),
        Some(one @ Json::Object(_)) => Ok(Some(vec![one])),
        Some(_) => Err(bad(format!("Field {name} must be a list"))),
    }
}

/// An object field.
fn object<'a>(
    fields: &'a Map<String, Json>,
    name: &str,
) -> Result<Option<&'a Map<String, Json>>, ApiError> {
    match fields.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::Object(map)) => Ok(Some(map)),
        Some(_) => Err(bad(format!("Field {name} must be an object"))),
    }
}

/// An item of a list, which must be an object.
fn item<'a>(value: &'a Json, name: &str) -> Result<&'a Map<String, Json>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| bad(format!("Each item of {name} must be an object")))
}

/// A date-time in the platform's format, `YYYY-MM-DD HH:MM:SS`.
fn date_time(fields: &Map<String, Json>, name: &str) -> Result<Option<String>, ApiError> {
    match string(fields, name)? {
        Some(s) if !is_date_time(&s) => Err(bad(format!(
            "Field {name} must be a date and time (YYYY-MM-DD HH:MM:SS)"
        ))),
        other => Ok(other),
    }
}

/// AI notes: text of at most 4000 characters.
fn ai_notes(fields: &Map<String, Json>) -> Result<Option<String>, ApiError> {
    let notes = string(fields, "ai_notes")?;
    if notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_AI_NOTES)
    {
        return Err(bad(format!(
            "Field ai_notes exceeds the maximum length of {MAX_AI_NOTES} characters"
        )));
    }
    Ok(notes)
}

// ---- Answers ----

/// A wrap-up code.
#[derive(Debug, serde::Serialize, ToSchema)]
struct CodeOut {
    code: String,
    description: String,
    active: bool,
    external: bool,
    sys_id: String,
    /// The code's translation (its first one; the label without one).
    translated_code: String,
    translated_description: String,
}

impl From<Code> for CodeOut {
    fn from(c: Code) -> CodeOut {
        CodeOut {
            code: c.code,
            description: c.description,
            active: c.active,
            external: c.external,
            sys_id: c.sys_id,
            translated_code: c.translated_code,
            translated_description: c.translated_description,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct CodeMap {
    wrap_up_code: CodeOut,
}

/// `GET /wrapup/code/{code_id}`'s answer.
#[derive(Debug, serde::Serialize, ToSchema)]
struct CodeOutcome {
    message: &'static str,
    result_map: CodeMap,
    success: bool,
}

/// A code `POST /wrapup/code` could not create, and why.
#[derive(Debug, serde::Serialize, ToSchema)]
struct FailedCode {
    /// The code's label as given ("" without one).
    code: String,
    message: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct CreatedMap {
    created_wrap_up_codes: Vec<CodeOut>,
    /// 207 only: the codes refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed_wrap_up_codes: Vec<FailedCode>,
}

/// `POST /wrapup/code`'s answer (200, or 207 with the codes refused).
#[derive(Debug, serde::Serialize, ToSchema)]
struct CodesOutcome {
    message: &'static str,
    result_map: CreatedMap,
    success: bool,
}

/// A segment's wrap-up configuration.
#[derive(Debug, serde::Serialize, ToSchema)]
struct ConfigurationOut {
    enable_codes: bool,
    allowed_codes: Vec<CodeOut>,
    /// Absent when the configuration has no default code.
    #[serde(skip_serializing_if = "Option::is_none")]
    default_code: Option<CodeOut>,
    enable_ai_code: bool,
    enable_ai_notes: bool,
    use_ai_as_default: bool,
    use_third_party_ai: bool,
}

/// A wrap-up segment, as every segment answer but `update/ai`'s gives it.
#[derive(Debug, serde::Serialize, ToSchema)]
struct SegmentOut {
    agent: String,
    segment_table: String,
    segment_id: String,
    external: bool,
    interaction: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_up_configuration: Option<ConfigurationOut>,
    /// The code the agent closed the segment with; absent until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<CodeOut>,
    notes: String,
    segmented: bool,
    sys_id: String,
    opened_on: String,
    submitted_on: String,
    confirmed_on: String,
    awaiting_confirmation: bool,
    ai_wrap_up_code: String,
    ai_notes: String,
    /// Unix epoch milliseconds.
    ai_code_defined_at: String,
    ai_notes_defined_at: String,
}

fn segment_out(segment: Segment) -> SegmentOut {
    let configuration = segment.configuration.clone().map(|c| ConfigurationOut {
        enable_codes: c.enable_codes,
        allowed_codes: c.allowed_codes.into_iter().map(CodeOut::from).collect(),
        default_code: c.default_code.map(CodeOut::from),
        enable_ai_code: c.enable_ai_code,
        enable_ai_notes: c.enable_ai_notes,
        use_ai_as_default: c.use_ai_as_default,
        use_third_party_ai: c.use_third_party_ai,
    });
    SegmentOut {
        agent: segment.text("agent"),
        segment_table: segment.text("segment_table"),
        segment_id: segment.text("segment_id"),
        external: segment.flag("external"),
        interaction: segment.text("interaction"),
        state: segment.text("state"),
        wrap_up_configuration: configuration,
        code: segment.code.clone().map(CodeOut::from),
        notes: segment.text("notes"),
        segmented: segment.flag("segmented"),
        sys_id: segment.text("sys_id"),
        opened_on: segment.text("opened_on"),
        submitted_on: segment.text("submitted_on"),
        confirmed_on: segment.text("confirmed_on"),
        awaiting_confirmation: segment.flag("awaiting_confirmation"),
        ai_wrap_up_code: segment.text("ai_wrap_up_code"),
        ai_notes: segment.text("ai_notes"),
        ai_code_defined_at: segment.text("ai_code_defined_at"),
        ai_notes_defined_at: segment.text("ai_notes_defined_at"),
    }
}

/// A segment answer: `segment_id` (the GETs) or `sys_id` (create, update), and the segment.
/// Bare, not inside `result`, as the page prints it.
#[derive(Debug, serde::Serialize, ToSchema)]
struct SegmentOutcome {
    success: bool,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sys_id: Option<String>,
    segment: SegmentOut,
}

/// The segment `update/ai` answers: its AI fields.
#[derive(Debug, serde::Serialize, ToSchema)]
struct AiSegmentOut {
    sys_id: String,
    agent: String,
    interaction: String,
    ai_wrap_up_code: String,
    ai_notes: String,
    ai_code_defined_at: String,
    ai_notes_defined_at: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct AiOutcome {
    success: bool,
    message: &'static str,
    segment: AiSegmentOut,
}

fn ai_out(record: &Record) -> AiSegmentOut {
    let text = |name: &str| record.get(name).to_api_string();
    AiSegmentOut {
        sys_id: text("sys_id"),
        agent: text("agent"),
        interaction: text("interaction"),
        ai_wrap_up_code: text("ai_wrap_up_code"),
        ai_notes: text("ai_notes"),
        ai_code_defined_at: text("ai_code_defined_at"),
        ai_notes_defined_at: text("ai_notes_defined_at"),
    }
}

// ---- Codes ----

/// Retrieves a wrap-up code (role `interaction_integration_user`).
#[utoipa::path(
    get,
    path = "/wrapup/code/{code_id}",
    tag = "Wrap Up",
    params(("code_id" = String, Path, description = "sys_id of the wrap-up code")),
    responses(
        (status = 200, description = "The code", body = ResultEnvelope<CodeOutcome>),
        (status = 400, description = "No such code", body = ErrorEnvelope),
    )
)]
async fn get_code(
    State(state): State<AppState>,
    Authorized(_, _): Authorized<InteractionIntegrationUser>,
    Path(code_id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let found = wrap_up::find_code(&mut tx, &code_id).await?;
    tx.commit().await?;
    let Some(code) = found else {
        return Err(bad(format!("Wrap up code not found: {code_id}")));
    };
    let outcome = CodeOutcome {
        message: CODE_FOUND,
        result_map: CodeMap {
            wrap_up_code: code.into(),
        },
        success: true,
    };
    Ok(respond::typed(StatusCode::OK, &outcome))
}

/// A translation of `POST /wrapup/code`, as documented.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct TranslationIn {
    /// Two-letter language code.
    language: String,
    code: String,
    /// Required when the code has a description.
    description: Option<String>,
}

/// A code of `POST /wrapup/code`, as documented.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct CodeIn {
    code: String,
    description: Option<String>,
    /// Default true.
    active: Option<bool>,
    translations: Option<Vec<TranslationIn>>,
}

/// `POST /wrapup/code`'s body, as documented (read leniently).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct CodesIn {
    codes: Vec<CodeIn>,
}

/// A two-letter language code.
fn is_language(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic())
}

/// One code of the request, checked in the page's order: `active`, `code`, `description`,
/// `translations` (each: `code`, `description` when the code has one, `language`).
fn read_code(value: &Json) -> Result<NewCode, String> {
    let message = |e: ApiError| e.message.to_string();
    let fields = item(value, "codes").map_err(message)?;
    let active = flag(fields, "active").map_err(message)?;
    let code = required(fields, "code").map_err(message)?;
    let description = string(fields, "description").map_err(message)?;
    let mut translations = Vec::new();
    for t in list(fields, "translations")
        .map_err(message)?
        .unwrap_or_default()
    {
        let t = item(t, "translations").map_err(message)?;
        let translated = required(t, "code").map_err(|_| missing("translations.code"))?;
        let translated_description = string(t, "description").map_err(message)?;
        if description.is_some() && translated_description.is_none() {
            return Err(missing("translations.description"));
        }
        let language = required(t, "language").map_err(|_| missing("translations.language"))?;
        if !is_language(&language) {
            return Err(format!(
                "Field translations.language must be a two-letter language code: {language}"
            ));
        }
        translations.push(Translation {
            language: language.to_ascii_lowercase(),
            code: translated,
            description: translated_description,
        });
    }
    Ok(NewCode {
        code,
        description,
        active,
        translations,
    })
}

/// Creates or updates wrap-up codes by label (role `interaction_integration_user`): 200 when
/// every code was written, 207 when some were refused (listed with why), 400 when none was.
#[utoipa::path(
    post,
    path = "/wrapup/code",
    tag = "Wrap Up",
    request_body(content = CodesIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Every code was created or updated", body = ResultEnvelope<CodesOutcome>),
        (status = 207, description = "Some codes were created; the others are listed with why", body = ResultEnvelope<CodesOutcome>),
        (status = 400, description = "No code could be created, or an unreadable body", body = ErrorEnvelope),
    )
)]
async fn post_codes(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionIntegrationUser>,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = body.into_object()?;
    let Some(codes) = list(&fields, "codes")? else {
        return Err(bad(missing("codes")));
    };
    if codes.is_empty() {
        return Err(bad(missing("codes")));
    }
    let mut valid = Vec::new();
    let mut failed = Vec::new();
    for value in codes {
        match read_code(value) {
            Ok(code) => valid.push(code),
            Err(message) => {
                let code = value
                    .get("code")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                failed.push(FailedCode { code, message });
            }
        }
    }
    if valid.is_empty() {
        let detail: Vec<String> = failed.into_iter().map(|f| f.message).collect();
        return Err(ApiError::bad_request(NONE_CREATED, detail.join("; ")));
    }
    let mut tx = state.store.begin().await?;
    let created = wrap_up::put_codes(&mut tx, valid, &caller.user_name).await?;
    tx.commit().await?;
    let (status, message) = match failed.is_empty() {
        true => (StatusCode::OK, ALL_CREATED),
        false => (StatusCode::MULTI_STATUS, SOME_CREATED),
    };
    let outcome = CodesOutcome {
        message,
        result_map: CreatedMap {
            created_wrap_up_codes: created.into_iter().map(CodeOut::from).collect(),
            failed_wrap_up_codes: failed,
        },
        success: true,
    };
    Ok(respond::typed(status, &outcome))
}

// ---- Segments ----

/// An allowed code of the create request's configuration.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct AllowedCodeIn {
    code: String,
    /// `{"code", "language"}`.
    #[schema(value_type = Option<Object>)]
    translation: Option<Json>,
}

/// An external segment's configuration, as documented.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct ConfigurationIn {
    allowed_codes: Option<Vec<AllowedCodeIn>>,
    /// Label of the default code.
    default_code: Option<String>,
    /// Seconds; needs `show_timer`.
    duration: Option<String>,
    enable_codes: Option<bool>,
    enable_ai_code: Option<bool>,
    enable_ai_notes: Option<bool>,
    show_timer: Option<bool>,
    use_ai_as_default: Option<bool>,
    use_third_party_ai: Option<bool>,
}

/// `POST /wrapup/segment/create`'s body, as documented (read leniently).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct CreateIn {
    agent_sys_id: String,
    ai_wrap_up_code: Option<String>,
    /// At most 4000 characters.
    ai_notes: Option<String>,
    /// Required when `external`.
    configuration: Option<ConfigurationIn>,
    external: Option<bool>,
    /// Required when `external`.
    external_segment_id: Option<String>,
    interaction_sys_id: String,
    /// `YYYY-MM-DD HH:MM:SS`; required with `configuration.duration`.
    opened_on: Option<String>,
    segmented: Option<bool>,
    /// Required when `external` and `segmented`.
    segment_id: Option<String>,
    segment_table: Option<String>,
    /// Required unless `external`.
    wrap_up_configuration_sys_id: Option<String>,
}

/// A whole number of seconds, as a number or as text.
fn seconds(fields: &Map<String, Json>, name: &str) -> Result<Option<i64>, ApiError> {
    let invalid = || bad(format!("Field {name} must be a whole number of seconds"));
    match string(fields, name)? {
        None => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n)),
            _ => Err(invalid()),
        },
    }
}

/// The create request's configuration, checked in the page's order.
fn read_configuration(
    fields: &Map<String, Json>,
    external: bool,
) -> Result<(NewConfiguration, bool), ApiError> {
    let named = |name: &str| format!("configuration.{name}");
    let flag_of = |name: &str| {
        flag(fields, name).map_err(|_| bad(format!("Field {} must be a boolean", named(name))))
    };
    let enable_codes = flag_of("enable_codes")?.unwrap_or(false);
    let mut allowed_codes = Vec::new();
    let listed = list(fields, "allowed_codes")
        .map_err(|_| bad(format!("Field {} must be a list", named("allowed_codes"))))?;
    for value in listed.unwrap_or_default() {
        let code = item(value, "configuration.allowed_codes")?;
        let label = string(code, "code")?
            .ok_or_else(|| bad(missing("configuration.allowed_codes.code")))?;
        let translation = match object(code, "translation")? {
            None => None,
            Some(t) => {
                let translated = string(t, "code")?;
                let language = string(t, "language")?;
                match (translated, language) {
                    (Some(code), Some(language)) if is_language(&language) => {
                        Some((language.to_ascii_lowercase(), code))
                    }
                    (Some(_), Some(language)) => {
                        return Err(bad(format!(
                            "Field configuration.allowed_codes.translation.language must be a two-letter language code: {language}"
                        )));
                    }
                    (None, _) => {
                        return Err(bad(missing("configuration.allowed_codes.translation.code")));
                    }
                    (_, None) => {
                        return Err(bad(missing(
                            "configuration.allowed_codes.translation.language",
                        )));
                    }
                }
            }
        };
        allowed_codes.push(AllowedCode {
            code: label,
            translation,
        });
    }
    let default_code = string(fields, "default_code")?;
    if external && enable_codes {
        if allowed_codes.is_empty() {
            return Err(bad(missing("configuration.allowed_codes")));
        }
        if default_code.is_none() {
            return Err(bad(missing("configuration.default_code")));
        }
    }
    let duration = seconds(fields, "duration").map_err(|_| {
        bad("Field configuration.duration must be a whole number of seconds".to_owned())
    })?;
    let enable_ai_code = flag_of("enable_ai_code")?.unwrap_or(false);
    let enable_ai_notes = flag_of("enable_ai_notes")?.unwrap_or(false);
    let use_ai_as_default = flag_of("use_ai_as_default")?.unwrap_or(false);
    let show_timer = flag_of("show_timer")?;
    if duration.is_some() && show_timer.is_none() {
        return Err(bad(missing("configuration.show_timer")));
    }
    let use_third_party_ai = flag_of("use_third_party_ai")?.unwrap_or(false);
    let config = NewConfiguration {
        enable_codes,
        allowed_codes,
        default_code,
        duration,
        show_timer: show_timer.unwrap_or(false),
        enable_ai_code,
        enable_ai_notes,
        use_ai_as_default,
        use_third_party_ai,
    };
    Ok((config, duration.is_some()))
}

/// The create request, checked in the page's order (its parameters, alphabetically, with what
/// one requires checked where it is listed).
fn read_create(fields: &Map<String, Json>) -> Result<NewSegment, ApiError> {
    let agent = required(fields, "agent_sys_id")?;
    let ai_wrap_up_code = string(fields, "ai_wrap_up_code")?;
    let ai_notes = ai_notes(fields)?;
    // `external` decides what the configuration must hold: read first, refused in its place.
    let external_flag = flag(fields, "external");
    let external = *external_flag.as_ref().unwrap_or(&None);
    let external = external.unwrap_or(false);
    let configuration = match object(fields, "configuration")? {
        Some(config) if external => Some(read_configuration(config, true)?),
        Some(_) => None,
        None if external_flag.is_ok() && external => {
            return Err(bad(missing("configuration")));
        }
        None => None,
    };
    external_flag?;
    let external_segment_id = string(fields, "external_segment_id")?;
    if external && external_segment_id.is_none() {
        return Err(bad(missing("external_segment_id")));
    }
    let interaction = required(fields, "interaction_sys_id")?;
    let opened_on = date_time(fields, "opened_on")?;
    if configuration.as_ref().is_some_and(|(_, timed)| *timed) && opened_on.is_none() {
        return Err(bad(missing("opened_on")));
    }
    let segmented = flag(fields, "segmented")?.unwrap_or(false);
    let segment_id = string(fields, "segment_id")?;
    let segment_table = string(fields, "segment_table")?;
    if external && segmented {
        if segment_id.is_none() {
            return Err(bad(missing("segment_id")));
        }
        if segment_table.is_none() {
            return Err(bad(missing("segment_table")));
        }
    }
    let configuration_id = string(fields, "wrap_up_configuration_sys_id")?;
    let configuration = match (configuration, configuration_id) {
        (Some((config, _)), _) => ConfigurationSource::New(config),
        (None, Some(id)) if !external => ConfigurationSource::Existing(id),
        (None, _) => return Err(bad(missing("wrap_up_configuration_sys_id"))),
    };
    Ok(NewSegment {
        agent,
        interaction,
        configuration,
        external,
        external_segment_id,
        segmented,
        segment_id,
        segment_table,
        opened_on,
        ai_wrap_up_code,
        ai_notes,
    })
}

/// Opens a wrap-up segment for an interaction (role `interaction_integration_user`). An
/// external segment's configuration is made from the request (its codes found or created by
/// label); an internal one names an existing configuration. AI fields given are stored as
/// given when the configuration enables them (switchboard runs no Now Assist).
#[utoipa::path(
    post,
    path = "/wrapup/segment/create",
    tag = "Wrap Up",
    request_body(content = CreateIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The open segment (bare, not inside `result`)", body = SegmentOutcome),
        (status = 400, description = "A missing or invalid field, an unknown interaction, agent or configuration, or an unreadable body", body = ErrorEnvelope),
    )
)]
async fn create_segment(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionIntegrationUser>,
    body: Body,
) -> Result<Response, ApiError> {
    let new = read_create(&body.into_object()?)?;
    let mut tx = state.store.begin().await?;
    let created = wrap_up::create_segment(&mut tx, new, &caller.user_name).await?;
    let segment = match created {
        Ok(segment) => segment,
        Err(refusal) => return Err(refused(refusal)),
    };
    tx.commit().await?;
    let outcome = SegmentOutcome {
        success: true,
        message: SEGMENT_CREATED,
        segment_id: None,
        sys_id: Some(segment.text("sys_id")),
        segment: segment_out(segment),
    };
    Ok(respond::bare(StatusCode::OK, &outcome))
}

/// Retrieves a wrap-up segment by its sys_id, the external system's id for it, or the id of
/// the interaction segment it wraps up (role `interaction_integration_user`).
#[utoipa::path(
    get,
    path = "/wrapup/segment/{segment_id}",
    tag = "Wrap Up",
    params(("segment_id" = String, Path, description = "sys_id of the wrap-up segment, or the external system's id for it")),
    responses(
        (status = 200, description = "The segment (bare, not inside `result`)", body = SegmentOutcome),
        (status = 400, description = "No such segment", body = ErrorEnvelope),
    )
)]
async fn get_segment(
    State(state): State<AppState>,
    Authorized(_, _): Authorized<InteractionIntegrationUser>,
    Path(segment_id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let found = wrap_up::find_segment(&mut tx, &segment_id).await?;
    tx.commit().await?;
    let Some(segment) = found else {
        return Err(bad(format!("Wrap up segment not found: {segment_id}")));
    };
    Ok(found_segment(segment))
}

fn found_segment(segment: Segment) -> Response {
    let outcome = SegmentOutcome {
        success: true,
        message: SEGMENT_FOUND,
        segment_id: Some(segment.text("sys_id")),
        sys_id: None,
        segment: segment_out(segment),
    };
    respond::bare(StatusCode::OK, &outcome)
}

/// Retrieves an agent's most recent wrap-up segment of an interaction (role
/// `interaction_integration_user`).
#[utoipa::path(
    get,
    path = "/wrapup/segment/agent/{agent_id}/interaction/{interaction_id}",
    tag = "Wrap Up",
    params(
        ("agent_id" = String, Path, description = "sys_id of the agent"),
        ("interaction_id" = String, Path, description = "sys_id of the interaction"),
    ),
    responses(
        (status = 200, description = "The segment (bare, not inside `result`)", body = SegmentOutcome),
        (status = 400, description = "The agent has no segment in the interaction", body = ErrorEnvelope),
    )
)]
async fn get_segment_by_agent(
    State(state): State<AppState>,
    Authorized(_, _): Authorized<InteractionIntegrationUser>,
    Path((agent, interaction)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let found = wrap_up::find_by_agent(&mut tx, &agent, &interaction).await?;
    tx.commit().await?;
    let Some(segment) = found else {
        return Err(bad(format!(
            "Wrap up segment not found for agent {agent} and interaction {interaction}"
        )));
    };
    Ok(found_segment(segment))
}

/// The segment an update names, from the query (update) or the body (both): `segment_sys_id`,
/// else `external_segment_id`, else `agent_sys_id` with `interaction_sys_id`.
fn read_target(query: &Map<String, Json>, body: &Map<String, Json>) -> Result<Target, ApiError> {
    let field = |name: &str| -> Result<Option<String>, ApiError> {
        match string(query, name)? {
            Some(v) => Ok(Some(v)),
            None => string(body, name),
        }
    };
    if let Some(id) = field("segment_sys_id")? {
        return Ok(Target::SysId(id));
    }
    if let Some(id) = field("external_segment_id")? {
        return Ok(Target::External(id));
    }
    let agent = field("agent_sys_id")?;
    let interaction = field("interaction_sys_id")?;
    match (agent, interaction) {
        (Some(agent), Some(interaction)) => Ok(Target::AgentInteraction { agent, interaction }),
        (None, _) => Err(bad(missing(
            "agent_sys_id (with interaction_sys_id, when neither segment_sys_id nor external_segment_id is given)",
        ))),
        (_, None) => Err(bad(missing(
            "interaction_sys_id (with agent_sys_id, when neither segment_sys_id nor external_segment_id is given)",
        ))),
    }
}

fn query_fields(query: Option<&str>) -> Map<String, Json> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), Json::String(v.into_owned())))
        .collect()
}

/// `PUT /wrapup/segment/update`'s body, as documented (the segment is named in the query).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct UpdateIn {
    /// `YYYY-MM-DD HH:MM:SS`: when the external system processed the wrap-up.
    confirmed_on: Option<String>,
    notes: Option<String>,
    /// Label of the code the agent chose; the configured default without one.
    wrap_up_code: Option<String>,
}

/// Closes a wrap-up segment with the agent's code and notes (role
/// `interaction_integration_user`).
#[utoipa::path(
    put,
    path = "/wrapup/segment/update",
    tag = "Wrap Up",
    params(
        ("segment_sys_id" = Option<String>, Query, description = "sys_id of the wrap-up segment"),
        ("external_segment_id" = Option<String>, Query, description = "The external system's id for the segment, without segment_sys_id"),
        ("agent_sys_id" = Option<String>, Query, description = "With interaction_sys_id, without either id above"),
        ("interaction_sys_id" = Option<String>, Query, description = "With agent_sys_id, without either id above"),
    ),
    request_body(content = UpdateIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The closed segment (bare, not inside `result`)", body = SegmentOutcome),
        (status = 400, description = "No segment named, a closed segment, a code not allowed or missing, or an unreadable body", body = ErrorEnvelope),
    )
)]
async fn update_segment(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionIntegrationUser>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = body.into_object()?;
    let target = read_target(&query_fields(query.as_deref()), &fields)?;
    let closing = Closing {
        confirmed_on: date_time(&fields, "confirmed_on")?,
        notes: string(&fields, "notes")?,
        wrap_up_code: string(&fields, "wrap_up_code")?,
    };
    let mut tx = state.store.begin().await?;
    let closed = wrap_up::close_segment(&mut tx, &target, closing, &caller.user_name).await?;
    let segment = match closed {
        Ok(segment) => segment,
        Err(refusal) => return Err(refused(refusal)),
    };
    tx.commit().await?;
    let outcome = SegmentOutcome {
        success: true,
        message: SEGMENT_UPDATED,
        segment_id: None,
        sys_id: Some(segment.text("sys_id")),
        segment: segment_out(segment),
    };
    Ok(respond::bare(StatusCode::OK, &outcome))
}

/// `PUT /wrapup/segment/update/ai`'s body, as documented.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
struct AiIn {
    agent_sys_id: Option<String>,
    ai_wrap_up_code: Option<String>,
    /// At most 4000 characters.
    ai_notes: Option<String>,
    interaction_sys_id: Option<String>,
    segment_sys_id: Option<String>,
    external_segment_id: Option<String>,
}

/// Stores an external system's AI recommendations on an open segment whose configuration takes
/// third-party AI (role `interaction_integration_user`).
#[utoipa::path(
    put,
    path = "/wrapup/segment/update/ai",
    tag = "Wrap Up",
    request_body(content = AiIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The segment's AI fields (bare, not inside `result`)", body = AiOutcome),
        (status = 400, description = "No segment named, nothing to store, a closed segment, third-party AI not enabled, or an unreadable body", body = ErrorEnvelope),
    )
)]
async fn update_segment_ai(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionIntegrationUser>,
    body: Body,
) -> Result<Response, ApiError> {
    let fields = body.into_object()?;
    let target = read_target(&Map::new(), &fields)?;
    let ai = AiRecommendation {
        ai_wrap_up_code: string(&fields, "ai_wrap_up_code")?,
        ai_notes: ai_notes(&fields)?,
    };
    if ai.ai_wrap_up_code.is_none() && ai.ai_notes.is_none() {
        return Err(bad(missing("ai_wrap_up_code or ai_notes")));
    }
    let mut tx = state.store.begin().await?;
    let stored = wrap_up::recommend(&mut tx, &target, ai, &caller.user_name).await?;
    let record = match stored {
        Ok(record) => record,
        Err(refusal) => return Err(refused(refusal)),
    };
    tx.commit().await?;
    let outcome = AiOutcome {
        success: true,
        message: AI_UPDATED,
        segment: ai_out(&record),
    };
    Ok(respond::bare(StatusCode::OK, &outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    fn create_error(v: Json) -> String {
        read_create(&fields(v)).unwrap_err().message.to_string()
    }

    #[test]
    fn create_checks_come_in_the_pages_order() {
        assert_eq!(create_error(json!({})), missing("agent_sys_id"));
        assert_eq!(
            create_error(json!({"agent_sys_id": "a", "ai_notes": "x".repeat(4001)})),
            "Field ai_notes exceeds the maximum length of 4000 characters"
        );
        assert_eq!(
            create_error(json!({"agent_sys_id": "a", "external": true})),
            missing("configuration")
        );
        assert_eq!(
            create_error(json!({"agent_sys_id": "a", "external": true,
                                 "configuration": {"enable_codes": true}})),
            missing("configuration.allowed_codes")
        );
        assert_eq!(
            create_error(json!({"agent_sys_id": "a", "external": true,
                                 "configuration": {}})),
            missing("external_segment_id")
        );
        assert_eq!(
            create_error(json!({"agent_sys_id": "a"})),
            missing("interaction_sys_id")
        );
        assert_eq!(
            create_error(json!({"agent_sys_id": "a", "interaction_sys_id": "i"})),
            missing("wrap_up_configuration_sys_id")
        );
        assert_eq!(
            create_error(json!({"agent_sys_id": "a", "interaction_sys_id": "i",
                                 "external": "maybe"})),
            "Field external must be a boolean"
        );
    }

    #[test]
    fn a_code_needs_a_label_and_complete_translations() {
        let ok = read_code(&json!({"code": "Billing", "translations": [
            {"language": "DE", "code": "Abrechnung"}]}))
        .unwrap();
        assert_eq!(ok.translations[0].language, "de");
        assert_eq!(read_code(&json!({})).unwrap_err(), missing("code"));
        assert_eq!(
            read_code(&json!({"code": "B", "description": "d",
                              "translations": [{"language": "de", "code": "X"}]}))
            .unwrap_err(),
            missing("translations.description")
        );
        assert_eq!(
            read_code(&json!({"code": "B", "translations": [{"code": "X"}]})).unwrap_err(),
            missing("translations.language")
        );
        assert!(read_code(&json!("text")).is_err());
    }

    #[test]
    fn an_update_names_its_segment_by_precedence() {
        let query = fields(json!({"segment_sys_id": "s", "agent_sys_id": "a"}));
        assert_eq!(
            read_target(&query, &Map::new()).unwrap(),
            Target::SysId("s".into())
        );
        let body = fields(json!({"external_segment_id": "e"}));
        assert_eq!(
            read_target(&Map::new(), &body).unwrap(),
            Target::External("e".into())
        );
        let body = fields(json!({"agent_sys_id": "a", "interaction_sys_id": "i"}));
        assert!(matches!(
            read_target(&Map::new(), &body).unwrap(),
            Target::AgentInteraction { .. }
        ));
        assert!(read_target(&Map::new(), &fields(json!({"agent_sys_id": "a"}))).is_err());
    }
}
