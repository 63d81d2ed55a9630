//! The Interaction Management API: `POST /api/now/interaction` and `.../interaction/{id}/close`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authorized, InteractionAgent};
use serde_json::Value as Json;

use crate::domain::RecordError;
use crate::domain::interactions::{self, Attachment, NewInteraction, OpenError, Refusal};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::model::value::Record;
use crate::state::AppState;
use crate::storage::Tx;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(close))
}

/// The body of `POST /interaction`, as the page documents it. Fields are read leniently (any
/// JSON) and checked in [`InteractionRequest::into_new`], so each mistake gets its own message.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct InteractionRequest {
    /// sys_id of an `interaction_connector`.
    #[schema(value_type = String)]
    channel: Option<Json>,
    /// sys_id of an `awa_queue`: the state becomes `queued`.
    #[schema(value_type = Option<String>)]
    queue: Option<Json>,
    /// Context, stored in a new `interaction_json_blob` (or give `context_table` + `context_id`).
    #[schema(value_type = Option<Object>)]
    context: Option<Json>,
    #[schema(value_type = Option<String>)]
    context_table: Option<Json>,
    #[schema(value_type = Option<String>)]
    context_id: Option<Json>,
    /// Channel metadata, stored in a new `live_group_profile`.
    #[schema(value_type = Option<Object>)]
    channel_metadata: Option<Json>,
    #[schema(value_type = Option<String>)]
    channel_metadata_table: Option<Json>,
    #[schema(value_type = Option<String>)]
    channel_metadata_id: Option<Json>,
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>)]
    kind: Option<Json>,
    #[schema(value_type = Option<String>)]
    short_description: Option<Json>,
    /// sys_id of a `sys_user`.
    #[schema(value_type = Option<String>)]
    opened_for: Option<Json>,
}

/// A text parameter: a string or a number; empty is absent.
fn text(value: Option<Json>, name: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() => Ok(None),
        Some(Json::String(s)) if s.contains('\0') => {
            Err(format!("Parameter '{name}' may not contain NUL characters"))
        }
        Some(Json::String(s)) => Ok(Some(s)),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("Parameter '{name}' must be a string")),
    }
}

/// An object given inline, or a `table` + `id` pair; both or neither of the pair.
fn attachment(
    object: (Option<Json>, &str),
    table: (Option<Json>, &str),
    id: (Option<Json>, &str),
) -> Result<Attachment, String> {
    let (object, object_name) = object;
    let (table_name, id_name) = (table.1, id.1);
    let pair = (text(table.0, table_name)?, text(id.0, id_name)?);
    let invalid = || format!("Parameter '{object_name}' must be an object");
    let inline = match object {
        None | Some(Json::Null) => None,
        Some(Json::Object(map)) => Some(map),
        // The page types it as a string: a string holding a JSON object is accepted too.
        Some(Json::String(s)) if s.is_empty() => None,
        Some(Json::String(s)) => match serde_json::from_str(&s) {
            Ok(Json::Object(map)) => Some(map),
            _ => return Err(invalid()),
        },
        Some(_) => return Err(invalid()),
    };
    match (inline, pair) {
        (Some(_), (Some(_), _) | (_, Some(_))) => Err(format!(
            "Give either '{object_name}' or '{table_name}' and '{id_name}', not both"
        )),
        (Some(map), _) => Ok(Attachment::Object(map)),
        (None, (Some(table), Some(id))) => Ok(Attachment::Existing { table, id }),
        (None, (None, None)) => Ok(Attachment::Default),
        (None, _) => Err(format!(
            "Parameters '{table_name}' and '{id_name}' must be given together"
        )),
    }
}

impl InteractionRequest {
    /// The request, checked for shape (not yet against the database), in the order the
    /// parameters are documented.
    fn into_new(self) -> Result<NewInteraction, String> {
        let channel = text(self.channel, "channel")?
            .ok_or_else(|| "Mandatory parameter 'channel' is missing".to_owned())?;
        Ok(NewInteraction {
            channel,
            queue: text(self.queue, "queue")?,
            context: attachment(
                (self.context, "context"),
                (self.context_table, "context_table"),
                (self.context_id, "context_id"),
            )?,
            channel_metadata: attachment(
                (self.channel_metadata, "channel_metadata"),
                (self.channel_metadata_table, "channel_metadata_table"),
                (self.channel_metadata_id, "channel_metadata_id"),
            )?,
            kind: text(self.kind, "type")?,
            short_description: text(self.short_description, "short_description")?,
            opened_for: text(self.opened_for, "opened_for")?,
        })
    }
}

/// An interaction as the page's samples show it: exactly these keys.
#[derive(Debug, serde::Serialize, ToSchema)]
#[allow(non_snake_case)]
struct InteractionView {
    channel: String,
    #[schema(value_type = Object)]
    context: Json,
    queue: String,
    state: String,
    #[schema(example = "IMS0000075")]
    number: String,
    contextDocument: String,
    contextTable: String,
    channelMetadataDocument: String,
    channelMetadataTable: String,
    #[schema(value_type = Object)]
    channel_metadata: Json,
    sys_id: String,
    assigned_to: String,
    closed_by: String,
    opened_for: String,
}

impl InteractionView {
    /// The view of `interaction`, with its context and channel metadata as stored.
    async fn of(tx: &mut Tx, interaction: &Record) -> Result<InteractionView, RecordError> {
        let s = |name: &str| interaction.get(name).to_api_string();
        let context = interactions::attachment_echo(
            tx,
            interaction.str("context_table"),
            interaction.str("context_document"),
        )
        .await?;
        let channel_metadata = interactions::attachment_echo(
            tx,
            interaction.str("channel_metadata_table"),
            interaction.str("channel_metadata_document"),
        )
        .await?;
        Ok(InteractionView {
            channel: s("channel"),
            context,
            queue: s("queue"),
            state: s("state"),
            number: s("number"),
            contextDocument: s("context_document"),
            contextTable: s("context_table"),
            channelMetadataDocument: s("channel_metadata_document"),
            channelMetadataTable: s("channel_metadata_table"),
            channel_metadata,
            sys_id: s("sys_id"),
            assigned_to: s("assigned_to"),
            closed_by: s("closed_by"),
            opened_for: s("opened_for"),
        })
    }
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Invalid request", detail)
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Refused(Refusal::Unknown { what, table, id }) => invalid(format!(
                "Invalid {what}: no {table} record with sys_id '{id}'"
            )),
            OpenError::Record(record) => record.into(),
        }
    }
}

/// Create an interaction (role `interaction_agent`).
#[utoipa::path(
    post,
    path = "/interaction",
    tag = "Interaction Management",
    request_body(content = InteractionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The new interaction", body = ResultEnvelope<InteractionView>),
        (status = 400, description = "Missing or unknown channel, unknown queue, half pair, context not an object", body = ErrorEnvelope),
    )
)]
async fn create(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    body: Body,
) -> Result<Response, ApiError> {
    let new = body
        .parse::<InteractionRequest>()?
        .into_new()
        .map_err(invalid)?;
    let mut tx = state.store.begin().await?;
    let interaction = interactions::open(&mut tx, new, &caller.sys_id, &caller.user_name).await?;
    let view = InteractionView::of(&mut tx, &interaction).await?;
    tx.commit().await?;
    Ok(respond::typed(StatusCode::CREATED, &view))
}

/// Close an interaction and its conversation (role `interaction_agent`); closing a closed
/// interaction changes nothing.
#[utoipa::path(
    post,
    path = "/interaction/{id}/close",
    tag = "Interaction Management",
    params(("id" = String, Path, description = "sys_id of the interaction")),
    responses(
        (status = 200, description = "The closed interaction", body = ResultEnvelope<InteractionView>),
        (status = 404, description = "No Record found", body = ErrorEnvelope),
    )
)]
async fn close(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<InteractionAgent>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin().await?;
    let interaction = interactions::close(&mut tx, &id, &caller.sys_id, &caller.user_name).await?;
    let view = InteractionView::of(&mut tx, &interaction).await?;
    tx.commit().await?;
    Ok(respond::typed(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Json) -> Result<NewInteraction, String> {
        serde_json::from_value::<InteractionRequest>(v)
            .unwrap()
            .into_new()
    }

    #[test]
    fn channel_is_mandatory() {
        let e = parse(json!({"queue": "q"})).unwrap_err();
        assert!(e.contains("channel"), "{e}");
        assert!(parse(json!({"channel": ""})).is_err());
        assert!(parse(json!({"channel": {"a": 1}})).is_err());
    }

    #[test]
    fn context_is_an_object_or_a_whole_pair() {
        let ok = |v: Json| parse(v).map(|n| n.context);
        let object = |v: Json| v.as_object().unwrap().clone();
        assert_eq!(ok(json!({"channel": "c"})), Ok(Attachment::Default));
        assert_eq!(
            ok(json!({"channel": "c", "context": {"a": "b"}})),
            Ok(Attachment::Object(object(json!({"a": "b"}))))
        );
        assert_eq!(
            ok(json!({"channel": "c", "context": "{\"a\":\"b\"}"})),
            Ok(Attachment::Object(object(json!({"a": "b"}))))
        );
        assert_eq!(
            ok(json!({"channel": "c", "context_table": "incident", "context_id": "x"})),
            Ok(Attachment::Existing {
                table: "incident".into(),
                id: "x".into()
            })
        );
        for bad in [
            json!({"channel": "c", "context": [1]}),
            json!({"channel": "c", "context": "not json"}),
            json!({"channel": "c", "context": 5}),
            json!({"channel": "c", "context_table": "incident"}),
            json!({"channel": "c", "context_id": "x"}),
            json!({"channel": "c", "context": {"a": 1}, "context_id": "x"}),
            json!({"channel": "c", "channel_metadata_id": "x"}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
