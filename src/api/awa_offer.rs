//! The AWA Offer Work API (offer a document's work to an agent, or transfer it to an agent or a
//! queue, blind or as a consult) and the AWA Manual Assignment API (offer a work item to an
//! agent). Role `awa_manager` or `awa_integration_user`. Both answer
//! `{"result": {"success": ..., "message": ...}}`, Offer Work with the work item beside.
//!
//! The rules are the domain's ([`crate::domain::awa_work`]); here the body is read (each scalar
//! as its text, so `true`, `"true"` and XML's `<x>true</x>` are one), checked in the pages'
//! order, and every refusal given its status and the page's words.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::domain::awa_work::{
    self, Offer, OfferRequest, Refusal, Summary, Transfer, TransferKind, TransferTarget,
};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::model::roles::{AWA_INTEGRATION_USER, AWA_MANAGER};
use crate::state::AppState;

/// `POST /awa/documents/{document_table}/{document_sys_id}/offer`.
pub fn offer_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(offer_work))
}

/// `POST /awa/workitems/{work_item_sys_id}/assignments`.
pub fn assignment_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(assign_work_item))
}

/// Both pages' success message, with its period.
const REQUESTED: &str = "Manual assignment successfully requested.";

/// The caller, holding `awa_manager` (so `awa_admin`) or `awa_integration_user` (admin holds
/// every role). Without either, the pages' 403 in their own shape: `{"result": {"success":
/// false, "message": "Caller <sys_id> does not have ..."}}`.
pub struct Manager(pub Caller);

impl FromRequestParts<AppState> for Manager {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if caller.has_role(AWA_MANAGER) || caller.has_role(AWA_INTEGRATION_USER) {
            return Ok(Manager(caller));
        }
        tracing::info!(user = %caller.user_name, "role missing: awa_manager or awa_integration_user");
        let message = format!(
            "Caller {} does not have the awa_manager or awa_integration_user role",
            caller.sys_id
        );
        Err(refused(StatusCode::FORBIDDEN, message))
    }
}

/// A refusal: `{"result": {"success": false, "message": ...}}`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct Refused {
    success: bool,
    message: String,
}

fn refused(status: StatusCode, message: String) -> Response {
    let body = Refused {
        success: false,
        message,
    };
    respond::typed(status, &body)
}

/// The work item an offer made or changed, as Offer Work answers it.
#[derive(Debug, serde::Serialize, ToSchema)]
struct WorkItemBody {
    /// "Interaction: IMS0000001".
    display_name: String,
    sys_id: String,
    document_id: String,
    document_table: String,
    /// The queue's sys_id (also when the request named it by its provider queue id).
    queue: String,
}

impl From<Summary> for WorkItemBody {
    fn from(s: Summary) -> Self {
        WorkItemBody {
            display_name: s.display_name,
            sys_id: s.sys_id,
            document_id: s.document_id,
            document_table: s.document_table,
            queue: s.queue,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct Offered {
    work_item: WorkItemBody,
    success: bool,
    message: &'static str,
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct Assigned {
    success: bool,
    message: &'static str,
}

/// A 400: a documented refusal of the body, or, in the error envelope, a body that cannot be
/// read at all. Named only in the OpenAPI document, which must allow both.
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum OfferBadRequest {
    Refused(ResultEnvelope<Refused>),
    Unreadable(ErrorEnvelope<'static>),
}

/// The status and the page's message of each refusal.
fn answer(refusal: Refusal) -> (StatusCode, String) {
    use StatusCode as S;
    match refusal {
        Refusal::Missing(name) => (S::BAD_REQUEST, format!("{name} is required")),
        Refusal::NotABoolean(v) => (S::BAD_REQUEST, format!("{v} is not a valid boolean value")),
        Refusal::NotADisplayOption(v) => {
            (S::BAD_REQUEST, format!("{v} is not a valid display option"))
        }
        Refusal::NegativeTimeout => (S::BAD_REQUEST, "Timeout value cannot be negative".into()),
        Refusal::NotATimeout(v) => (S::BAD_REQUEST, format!("{v} is not a valid timeout value")),
        Refusal::OfferedOnFormat(v) => (
            S::BAD_REQUEST,
            format!(
                "Offered time ({v}) must be in the following format: yyyy-MM-dd'T'HH:mm:ss.SSS"
            ),
        ),
        Refusal::OfferedOnInFuture(v) => (
            S::BAD_REQUEST,
            format!(
                "Offered time ({v}) must be before the current time, otherwise agent will have \
                 more time to accept the work item"
            ),
        ),
        Refusal::NoTimeLeft(v) => (
            S::BAD_REQUEST,
            format!(
                "Timestamp after timeout ({v}) must be after the current time, otherwise agent \
                 has no time to accept the work item"
            ),
        ),
        Refusal::NoPresenceState(v) => {
            (S::BAD_REQUEST, format!("{v} is not a valid presence state"))
        }
        Refusal::NoWorkItem(v) => (S::NOT_FOUND, format!("{v} is not a valid work item")),
        Refusal::NoDocument(v) => (S::NOT_FOUND, format!("{v} is not a valid document")),
        Refusal::NoQueue(v) => (S::NOT_FOUND, format!("{v} is not a valid queue")),
        Refusal::NoChannel(v) => (S::NOT_FOUND, format!("{v} is not a valid service channel")),
        Refusal::NoRejectReason(v) => (S::NOT_FOUND, format!("{v} is not a valid reject reason")),
        Refusal::NoConsult(v) => (
            S::NOT_FOUND,
            format!("Cannot find the work item for document ID: {v}"),
        ),
        Refusal::NoUser(v) | Refusal::NotAnAgent(v) => {
            (S::CONFLICT, format!("{v} is not a valid agent"))
        }
        Refusal::NotAnExternalUser => (
            S::CONFLICT,
            "The user does not have the 'awa_external_user' role".into(),
        ),
        Refusal::AcceptedCannotBeAssigned => {
            (S::CONFLICT, "Work Item accepted can not be assigned".into())
        }
        Refusal::CannotBeAssigned(v) => (S::CONFLICT, format!("Work item {v} cannot be assigned")),
        Refusal::AlreadyAssignedTo(v) => {
            (S::CONFLICT, format!("Work Item is already assigned to {v}"))
        }
        Refusal::AgentNotAvailable => (S::CONFLICT, "Agent is not available".into()),
        Refusal::BlindTransferFailed => (
            S::CONFLICT,
            "Transfer failed - couldn't blind transfer to agent".into(),
        ),
        Refusal::DocumentNotActive => (S::CONFLICT, "Document is not active".into()),
        // The inbox's refusals: no offer gives them.
        Refusal::AssignedToOther => (
            S::CONFLICT,
            "Work item is assigned to a different agent".into(),
        ),
        Refusal::NotPendingAccept => (
            S::CONFLICT,
            "Work item is not in pending accept state".into(),
        ),
        Refusal::MayNotDecline => (
            S::CONFLICT,
            "The agent is not allowed to decline the work item".into(),
        ),
    }
}

/// A refusal ready to be sent: its status and message (small, unlike a response, so the checks
/// can return it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rejected {
    status: StatusCode,
    message: String,
}

impl From<Refusal> for Rejected {
    fn from(refusal: Refusal) -> Self {
        let (status, message) = answer(refusal);
        Rejected { status, message }
    }
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        refused(self.status, self.message)
    }
}

/// A body refusal of this layer's own (a wrong type, an unknown transfer kind): 400.
fn bad_request(message: String) -> Rejected {
    Rejected {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

/// A scalar of the body as its text: a string as it is, a number or a boolean as JSON writes
/// it (`30`, `true`), nothing for null. An object or a list is refused.
fn scalar(name: &str, value: Option<&Json>) -> Result<Option<String>, String> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(Json::Bool(b)) => Ok(Some(b.to_string())),
        Some(Json::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{name} must be a string, number or boolean")),
    }
}

/// A required scalar: missing, null or blank is the pages' "<name> is required".
fn required(name: &str, value: Option<&Json>) -> Result<String, Rejected> {
    match scalar(name, value).map_err(bad_request)? {
        Some(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        _ => Err(Rejected::from(Refusal::Missing(name.to_owned()))),
    }
}

/// An object of the body: absent, null or an empty XML element is none.
fn object<'a>(
    name: &str,
    value: Option<&'a Json>,
) -> Result<Option<&'a serde_json::Map<String, Json>>, Rejected> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::Object(map)) => Ok(Some(map)),
        Some(_) => Err(bad_request(format!("{name} must be an object"))),
    }
}

/// The terms of an offer: Manual Assignment's body, Offer Work's `assignment`. Read leniently
/// (any JSON; XML sends text): each scalar is taken as its text and checked by the domain.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct AssignmentInput {
    /// sys_id of the agent: a user with `awa_agent` (and, for Offer Work, `awa_external_user`),
    /// Available on the work item's channel.
    #[schema(value_type = String)]
    agent_sys_id: Option<Json>,
    /// `true/yes/1` (default) or `false/no/0`: whether the agent may reject the offer.
    #[schema(value_type = Option<bool>)]
    allowed_to_decline: Option<Json>,
    /// `true/yes/1` to accept at once on the agent's behalf (the timeout is then ignored);
    /// default false.
    #[schema(value_type = Option<bool>)]
    enable_auto_assign: Option<Json>,
    /// `card_only` (default) or `card_and_tab`.
    #[schema(value_type = Option<String>)]
    display_option: Option<Json>,
    /// Seconds the agent has to accept; absent or 0: no limit.
    #[schema(value_type = Option<i64>)]
    timeout: Option<Json>,
    /// When the offer was made, UTC `yyyy-MM-dd'T'HH:mm:ss.SSS`; default now. Only with a timeout.
    #[schema(value_type = Option<String>)]
    offered_on: Option<Json>,
    /// sys_id of the presence state the agent is put in when the offer times out. Only with a
    /// timeout.
    #[schema(value_type = Option<String>)]
    after_timeout_presence: Option<Json>,
}

/// The scalars of an offer's terms, from an object of them (`prefix` names them in messages).
fn offer_request(
    terms: Option<&serde_json::Map<String, Json>>,
    prefix: &str,
) -> Result<OfferRequest, Rejected> {
    let get = |name: &str| -> Result<Option<String>, Rejected> {
        scalar(&format!("{prefix}{name}"), terms.and_then(|t| t.get(name))).map_err(bad_request)
    };
    Ok(OfferRequest {
        agent: get("agent_sys_id")?,
        allowed_to_decline: get("allowed_to_decline")?,
        enable_auto_assign: get("enable_auto_assign")?,
        display_option: get("display_option")?,
        timeout: get("timeout")?,
        offered_on: get("offered_on")?,
        after_timeout_presence: get("after_timeout_presence")?,
    })
}

/// A transfer: to an agent or a queue, blind or as a consult.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct TransferInput {
    /// The queue (sys_id or provider queue id) a work item is made in first when the document
    /// has no active one (an outbound call); required only then.
    #[schema(value_type = Option<String>)]
    source_queue_id: Option<Json>,
    /// sys_id of the agent, or the queue's sys_id or provider queue id.
    #[schema(value_type = String)]
    target_id: Option<Json>,
    /// `agent` or `queue`.
    #[schema(value_type = String)]
    target_type: Option<Json>,
    /// `blind` or `consult`.
    #[schema(value_type = String)]
    transfer_type: Option<Json>,
}

/// The body of Offer Work: a new assignment (`queue_id` and `assignment`), or a transfer
/// (`transfer`, with `assignment` as the terms offered to an agent target).
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct OfferWorkInput {
    /// The queue (sys_id or provider queue id); required for a new assignment.
    #[schema(value_type = Option<String>)]
    queue_id: Option<Json>,
    /// The contact center's id of the call segment, stored on the work item.
    #[schema(value_type = Option<String>)]
    external_segment_id: Option<Json>,
    /// The offer's terms; `agent_sys_id` required for a new assignment.
    #[schema(value_type = Option<AssignmentInput>)]
    assignment: Option<Json>,
    /// Present: the request is a transfer.
    #[schema(value_type = Option<TransferInput>)]
    transfer: Option<Json>,
}

/// What Offer Work was asked to do, checked.
enum OfferWork {
    New {
        queue: String,
        offer: Offer,
        external_segment_id: Option<String>,
    },
    Transfer(Transfer),
}

impl OfferWorkInput {
    /// The request, or its first refusal, in order: the required keys, the transfer's kinds,
    /// then the terms.
    fn check(self, now: time::OffsetDateTime) -> Result<OfferWork, Rejected> {
        let segment = scalar("external_segment_id", self.external_segment_id.as_ref())
            .map_err(bad_request)?
            .filter(|s| !s.trim().is_empty());
        let assignment = object("assignment", self.assignment.as_ref())?;
        let Some(transfer) = object("transfer", self.transfer.as_ref())? else {
            let queue = required("queue_id", self.queue_id.as_ref())?;
            let offer = offer_request(assignment, "assignment.")?
                .check("assignment.agent_sys_id", now)
                .map_err(Rejected::from)?;
            return Ok(OfferWork::New {
                queue,
                offer,
                external_segment_id: segment,
            });
        };
        let field = |name: &str| transfer.get(name);
        let target = required("transfer.target_id", field("target_id"))?;
        let target_type = required("transfer.target_type", field("target_type"))?;
        let transfer_type = required("transfer.transfer_type", field("transfer_type"))?;
        let source_queue = scalar("transfer.source_queue_id", field("source_queue_id"))
            .map_err(bad_request)?
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let to_agent = match target_type.to_ascii_lowercase().as_str() {
            "agent" => true,
            "queue" => false,
            _ => {
                let message = format!("{target_type} is not a valid target type");
                return Err(bad_request(message));
            }
        };
        let kind = match transfer_type.to_ascii_lowercase().as_str() {
            "blind" => TransferKind::Blind,
            "consult" => TransferKind::Consult,
            _ => {
                let message = format!("{transfer_type} is not a valid transfer type");
                return Err(bad_request(message));
            }
        };
        let (target, terms) = if to_agent {
            // The target is the agent offered to, whatever `assignment` names.
            let mut request = offer_request(assignment, "assignment.")?;
            request.agent = Some(target.clone());
            let terms = request
                .check("transfer.target_id", now)
                .map_err(Rejected::from)?;
            (TransferTarget::Agent(target), terms)
        } else {
            // A queue is offered nothing: the terms are not read.
            let request = OfferRequest {
                agent: Some(target.clone()),
                ..OfferRequest::default()
            };
            let terms = request
                .check("transfer.target_id", now)
                .map_err(Rejected::from)?;
            (TransferTarget::Queue(target), terms)
        };
        Ok(OfferWork::Transfer(Transfer {
            source_queue,
            target,
            kind,
            terms,
            external_segment_id: segment,
        }))
    }
}

/// Offers a document's work to an agent (a new assignment), or transfers it to an agent or a
/// queue, blind or as a consult.
#[utoipa::path(
    post,
    path = "/awa/documents/{document_table}/{document_sys_id}/offer",
    tag = "AWA Offer Work",
    params(
        ("document_table" = String, Path, description = "The document's table: a table with an `active` field, such as `interaction` or `incident`"),
        ("document_sys_id" = String, Path, description = "sys_id of the document"),
    ),
    request_body(content = OfferWorkInput, content_type = "application/json"),
    responses(
        (status = 200, description = "`Manual assignment successfully requested.` and the work item offered (or, for a transfer to a queue, queued)", body = ResultEnvelope<Offered>),
        (status = 400, description = "A required key missing, a value the page's types do not fit, an offer time or timeout refused, an unknown presence state; or an unreadable body", body = OfferBadRequest),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "`Caller <sys_id> does not have the awa_manager or awa_integration_user role`", body = ResultEnvelope<Refused>),
        (status = 404, description = "`<id> is not a valid document`, `<id> is not a valid queue`", body = ResultEnvelope<Refused>),
        (status = 409, description = "Not a valid agent, no `awa_external_user`, work item accepted or already assigned, agent not available, blind transfer failed, document not active", body = ResultEnvelope<Refused>),
    )
)]
async fn offer_work(
    State(state): State<AppState>,
    Path((table, document)): Path<(String, String)>,
    Manager(caller): Manager,
    body: Body,
) -> Result<Response, ApiError> {
    let input = body.parse::<OfferWorkInput>()?;
    let mut tx = state.store.begin().await?;
    if !awa_work::is_document(&mut tx, &table, &document).await? {
        return Ok(Rejected::from(Refusal::NoDocument(document)).into_response());
    }
    let now = state.clock.now();
    let request = match input.check(now) {
        Ok(request) => request,
        Err(answer) => return Ok(answer.into_response()),
    };
    let (who, actor) = (caller.sys_id.as_str(), caller.user_name.as_str());
    let outcome = match request {
        OfferWork::New {
            queue,
            offer,
            external_segment_id,
        } => {
            let segment = external_segment_id.as_deref();
            awa_work::offer_document(
                &mut tx, &table, &document, &queue, &offer, segment, who, now, actor,
            )
            .await?
        }
        OfferWork::Transfer(transfer) => {
            awa_work::transfer(&mut tx, &table, &document, &transfer, who, now, actor).await?
        }
    };
    match outcome {
        Ok(summary) => {
            tx.commit().await?;
            let body = Offered {
                work_item: summary.into(),
                success: true,
                message: REQUESTED,
            };
            Ok(respond::typed(StatusCode::OK, &body))
        }
        // Dropped, the transaction rolls back: a refused request leaves nothing behind.
        Err(why) => Ok(Rejected::from(why).into_response()),
    }
}

/// Offers a work item (queued, or pending accept by nobody) to an available agent.
#[utoipa::path(
    post,
    path = "/awa/workitems/{work_item_sys_id}/assignments",
    tag = "AWA Manual Assignment",
    params(("work_item_sys_id" = String, Path, description = "sys_id of the work item")),
    request_body(content = AssignmentInput, content_type = "application/json"),
    responses(
        (status = 200, description = "`Manual assignment successfully requested.`", body = ResultEnvelope<Assigned>),
        (status = 400, description = "`agent_sys_id is required`, a value the page's types do not fit, an offer time or timeout refused, an unknown presence state; or an unreadable body", body = OfferBadRequest),
        (status = 401, description = "Not authenticated", body = ErrorEnvelope),
        (status = 403, description = "`Caller <sys_id> does not have the awa_manager or awa_integration_user role`", body = ResultEnvelope<Refused>),
        (status = 404, description = "`<work_item_sys_id> is not a valid work item`", body = ResultEnvelope<Refused>),
        (status = 409, description = "Not a valid agent, work item accepted or cancelled, already assigned, agent not available", body = ResultEnvelope<Refused>),
    )
)]
async fn assign_work_item(
    State(state): State<AppState>,
    Path(item): Path<String>,
    Manager(caller): Manager,
    body: Body,
) -> Result<Response, ApiError> {
    let input = Json::Object(body.into_object()?);
    let mut tx = state.store.begin().await?;
    if !awa_work::is_work_item(&mut tx, &item).await? {
        return Ok(Rejected::from(Refusal::NoWorkItem(item)).into_response());
    }
    let now = state.clock.now();
    let offer = match offer_request(input.as_object(), "") {
        Ok(request) => match request.check("agent_sys_id", now) {
            Ok(offer) => offer,
            Err(why) => return Ok(Rejected::from(why).into_response()),
        },
        Err(answer) => return Ok(answer.into_response()),
    };
    let (who, actor) = (caller.sys_id.as_str(), caller.user_name.as_str());
    match awa_work::offer_work_item(&mut tx, &item, &offer, who, now, actor).await? {
        Ok(_) => {
            tx.commit().await?;
            let body = Assigned {
                success: true,
                message: REQUESTED,
            };
            Ok(respond::typed(StatusCode::OK, &body))
        }
        Err(why) => Ok(Rejected::from(why).into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: time::OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);

    fn check(body: Json) -> Result<OfferWork, Rejected> {
        let input: OfferWorkInput = serde_json::from_value(body).unwrap();
        input.check(NOW)
    }

    fn message(body: Json) -> String {
        let rejected = check(body).err().expect("refused");
        assert_eq!(rejected.status, StatusCode::BAD_REQUEST);
        rejected.message
    }

    #[test]
    fn scalars_are_taken_as_their_text() {
        assert_eq!(scalar("x", Some(&json!(true))), Ok(Some("true".into())));
        assert_eq!(scalar("x", Some(&json!(30))), Ok(Some("30".into())));
        assert_eq!(scalar("x", Some(&json!(1.5))), Ok(Some("1.5".into())));
        assert_eq!(scalar("x", Some(&json!("yes"))), Ok(Some("yes".into())));
        assert_eq!(scalar("x", Some(&Json::Null)), Ok(None));
        assert_eq!(scalar("x", None), Ok(None));
        assert!(scalar("x", Some(&json!([1]))).is_err());
        assert!(scalar("x", Some(&json!({"a": 1}))).is_err());
    }

    #[test]
    fn a_new_assignment_needs_a_queue_then_an_agent() {
        assert_eq!(message(json!({})), "queue_id is required");
        assert_eq!(
            message(json!({"queue_id": "q"})),
            "assignment.agent_sys_id is required"
        );
        assert_eq!(
            message(json!({"queue_id": "q", "assignment": {"agent_sys_id": "a",
                "enable_auto_assign": "perhaps"}})),
            "perhaps is not a valid boolean value"
        );
        assert_eq!(
            message(json!({"queue_id": "q", "assignment": "a"})),
            "assignment must be an object"
        );
        let Ok(OfferWork::New { queue, offer, .. }) = check(json!({"queue_id": "q",
            "assignment": {"agent_sys_id": "a", "allowed_to_decline": false, "timeout": 30}}))
        else {
            panic!("a new assignment")
        };
        assert_eq!(queue, "q");
        assert!(!offer.allowed_to_decline);
        assert_eq!(offer.deadline.unwrap().seconds, 30);
    }

    #[test]
    fn a_transfer_needs_a_target_of_a_known_type_and_kind() {
        let t = |transfer: Json| json!({"transfer": transfer});
        assert_eq!(message(t(json!({}))), "transfer.target_id is required");
        assert_eq!(
            message(t(json!({"target_id": "x"}))),
            "transfer.target_type is required"
        );
        assert_eq!(
            message(t(json!({"target_id": "x", "target_type": "agent"}))),
            "transfer.transfer_type is required"
        );
        assert_eq!(
            message(t(
                json!({"target_id": "x", "target_type": "team", "transfer_type": "blind"})
            )),
            "team is not a valid target type"
        );
        assert_eq!(
            message(t(
                json!({"target_id": "x", "target_type": "agent", "transfer_type": "warm"})
            )),
            "warm is not a valid transfer type"
        );
        let Ok(OfferWork::Transfer(transfer)) = check(json!({"transfer": {"target_id": "a",
            "target_type": "Agent", "transfer_type": "consult"},
            "assignment": {"agent_sys_id": "ignored", "timeout": "0"}}))
        else {
            panic!("a transfer")
        };
        assert_eq!(transfer.target, TransferTarget::Agent("a".into()));
        assert_eq!(transfer.kind, TransferKind::Consult);
        assert_eq!(transfer.terms.agent, "a");
        assert_eq!(transfer.source_queue, None);
        // An empty XML element is no transfer: a new assignment.
        assert_eq!(message(json!({"transfer": ""})), "queue_id is required");
    }
}
