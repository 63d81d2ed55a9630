//! The External ID Mapping API: a CCaaS provider's routing id for a record of any table, in the
//! CCaaS External ID Mappings table. `GET` answers JSON or XML; `PUT` reads and answers JSON only.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authorized, CtrItCoreAdmin};
use crate::domain::external_ids::{self, Mapping};
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, BodyRejection, conventions, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let mapping = OpenApiRouter::new().routes(routes!(get_mapping, put_mapping));
    OpenApiRouter::new()
        .nest("/api/sn_ct_ctr_it_core", mapping.clone())
        .nest("/api/sn_ct_ctr_it_core/v1", mapping)
        .route_layer(middleware::from_fn(put_json_only))
}

/// The page's `PUT` speaks only JSON; its `GET` also answers XML.
async fn put_json_only(req: Request, next: Next) -> Response {
    if req.method() == Method::PUT {
        conventions::json_only(req, next).await
    } else {
        next.run(req).await
    }
}

/// The longest external id the page allows.
const MAX_EXTERNAL_ID: usize = 200;

/// The body, as the page documents it. Fields are read leniently (any JSON) and checked in
/// [`PutBody::into_mapping`], so each mistake gets its own failure message.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct PutBody {
    /// The routing id from the CCaaS platform (at most 200 characters).
    #[schema(value_type = String)]
    external_id: Option<Json>,
    /// The sys_id of the provider (External Provider) that generated the id.
    #[schema(value_type = String)]
    external_provider: Option<Json>,
}

/// A mandatory, non-blank string field without NUL characters.
fn mandatory(name: &str, value: Option<Json>) -> Result<String, String> {
    match value {
        Some(Json::String(s)) if s.contains('\0') => {
            Err(format!("Field {name} may not contain NUL characters"))
        }
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Json::String(_)) | None | Some(Json::Null) => {
            Err(format!("Mandatory field {name} is missing"))
        }
        Some(_) => Err(format!("Field {name} must be a string")),
    }
}

impl PutBody {
    fn into_mapping(self, table: &str, document: &str) -> Result<Mapping, String> {
        let external_id = mandatory("external_id", self.external_id)?;
        if external_id.chars().count() > MAX_EXTERNAL_ID {
            return Err(format!(
                "Field external_id exceeds the maximum length of {MAX_EXTERNAL_ID} characters"
            ));
        }
        let external_provider = mandatory("external_provider", self.external_provider)?;
        Ok(Mapping {
            document_table: table.into(),
            document_id: document.into(),
            external_id,
            external_provider,
        })
    }
}

/// A table name as the platform spells them: a letter, then letters, digits and underscores
/// (at most 80). The table need not be one switchboard stores: the page takes any table.
fn valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 80
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks the path: the table's name and a non-blank document id.
fn check_path(table: &str, document: &str) -> Result<(), String> {
    if !valid_table_name(table) {
        return Err(format!("Invalid table name {table}"));
    }
    if document.trim().is_empty() || document.contains('\0') {
        return Err(format!("Invalid document id {document}"));
    }
    Ok(())
}

/// A mapping, as `GET` answers it.
#[derive(Debug, serde::Serialize, ToSchema)]
struct MappingData {
    document_table: String,
    document_id: String,
    external_id: String,
    external_provider: String,
}

/// `GET`'s answer: the mapping under `data`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct GetOutcome {
    data: MappingData,
}

/// `PUT`'s answer.
#[derive(Debug, serde::Serialize, ToSchema)]
struct PutOutcome {
    message: String,
    /// `success`.
    status: &'static str,
}

/// Why a request failed.
#[derive(Debug, serde::Serialize, ToSchema)]
struct FailureMessage {
    message: String,
}

/// The API's own failures (400, 404): `{"result": {"error": {"message"}, "status": "failure"}}`.
#[derive(Debug, serde::Serialize, ToSchema)]
struct FailureOutcome {
    error: FailureMessage,
    /// `failure`.
    status: &'static str,
}

fn failure(status: StatusCode, message: String) -> Response {
    let outcome = FailureOutcome {
        error: FailureMessage { message },
        status: "failure",
    };
    respond::typed(status, &outcome)
}

/// The provider a `GET` asks for (`?external_provider=`), if any.
fn provider_of(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "external_provider")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The external routing id stored for a record (role `sn_ct_ctr_it_core.admin`): of the
/// provider named by `external_provider` if given, else the record's most recently written one.
#[utoipa::path(
    get,
    path = "/external_id_mapping/table/{tableName}/documentId/{documentId}",
    tag = "External ID Mapping",
    params(
        ("tableName" = String, Path, description = "Name of the table holding the record (any table)"),
        ("documentId" = String, Path, description = "sys_id of the record"),
        ("external_provider" = Option<String>, Query, description = "sys_id of the provider whose mapping to answer (switchboard's addition; default: the most recently written)"),
    ),
    responses(
        (status = 200, description = "The mapping", body = ResultEnvelope<GetOutcome>),
        (status = 400, description = "An invalid table name or document id", body = ResultEnvelope<FailureOutcome>),
        (status = 404, description = "The record has no mapping", body = ResultEnvelope<FailureOutcome>),
    )
)]
async fn get_mapping(
    State(state): State<AppState>,
    Authorized(_, _): Authorized<CtrItCoreAdmin>,
    Path((table, document)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if let Err(message) = check_path(&table, &document) {
        return Ok(failure(StatusCode::BAD_REQUEST, message));
    }
    let provider = provider_of(query.as_deref());
    let mut tx = state.store.begin().await?;
    let found = external_ids::find(&mut tx, &table, &document, provider.as_deref()).await?;
    tx.commit().await?;
    Ok(match found {
        Some(m) => {
            let outcome = GetOutcome {
                data: MappingData {
                    document_table: m.document_table,
                    document_id: m.document_id,
                    external_id: m.external_id,
                    external_provider: m.external_provider,
                },
            };
            respond::typed(StatusCode::OK, &outcome)
        }
        None => failure(
            StatusCode::NOT_FOUND,
            format!("No external ID mapping found for {table} [{document}]"),
        ),
    })
}

/// Creates (201) or updates (200) the mapping of a record for a provider (role
/// `sn_ct_ctr_it_core.admin`): one mapping per table, document and provider. JSON only.
#[utoipa::path(
    put,
    path = "/external_id_mapping/table/{tableName}/documentId/{documentId}",
    tag = "External ID Mapping",
    params(
        ("tableName" = String, Path, description = "Name of the table holding the record (any table)"),
        ("documentId" = String, Path, description = "sys_id of the record"),
    ),
    request_body(content = PutBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The mapping was created", body = ResultEnvelope<PutOutcome>),
        (status = 200, description = "The mapping existed and was updated", body = ResultEnvelope<PutOutcome>),
        (status = 400, description = "An invalid path or body", body = ResultEnvelope<FailureOutcome>),
    )
)]
async fn put_mapping(
    State(state): State<AppState>,
    Authorized(caller, _): Authorized<CtrItCoreAdmin>,
    Path((table, document)): Path<(String, String)>,
    body: Result<Body, BodyRejection>,
) -> Result<Response, ApiError> {
    if let Err(message) = check_path(&table, &document) {
        return Ok(failure(StatusCode::BAD_REQUEST, message));
    }
    // An unreadable body is this API's own 400 failure; other refusals (408, 415) stand.
    let body = match body.and_then(Body::parse::<PutBody>) {
        Ok(body) => body,
        Err(BodyRejection::Unreadable(detail)) => {
            return Ok(failure(StatusCode::BAD_REQUEST, detail));
        }
        Err(other) => return Err(other.into()),
    };
    let mapping = match body.into_mapping(&table, &document) {
        Ok(mapping) => mapping,
        Err(message) => return Ok(failure(StatusCode::BAD_REQUEST, message)),
    };
    let mut tx = state.store.begin().await?;
    let created = external_ids::put(&mut tx, mapping, &caller.user_name).await?;
    tx.commit().await?;
    let (status, verb) = match created {
        true => (StatusCode::CREATED, "inserted"),
        false => (StatusCode::OK, "updated"),
    };
    let outcome = PutOutcome {
        message: format!("External ID mapping record {verb} for {table} [{document}]"),
        status: "success",
    };
    Ok(respond::typed(status, &outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Json) -> Result<Mapping, String> {
        serde_json::from_value::<PutBody>(v)
            .unwrap()
            .into_mapping("incident", "abc")
    }

    #[test]
    fn external_id_and_provider_are_mandatory_strings() {
        let ok = parse(json!({"external_id": "200", "external_provider": "p"})).unwrap();
        assert_eq!(
            (ok.external_id.as_str(), ok.external_provider.as_str()),
            ("200", "p")
        );
        assert_eq!(
            parse(json!({"external_provider": "p"})).unwrap_err(),
            "Mandatory field external_id is missing"
        );
        assert_eq!(
            parse(json!({"external_id": "1"})).unwrap_err(),
            "Mandatory field external_provider is missing"
        );
        assert!(parse(json!({"external_id": 200, "external_provider": "p"})).is_err());
        assert!(parse(json!({"external_id": " ", "external_provider": "p"})).is_err());
    }

    #[test]
    fn external_id_is_at_most_200_characters() {
        let at = "é".repeat(200);
        assert!(parse(json!({"external_id": at, "external_provider": "p"})).is_ok());
        let over = "x".repeat(201);
        assert!(parse(json!({"external_id": over, "external_provider": "p"})).is_err());
    }

    #[test]
    fn any_well_formed_table_name_is_accepted() {
        for ok in [
            "sn_customerservice_case",
            "interaction",
            "u_custom_table",
            "x_acme_t2",
        ] {
            assert!(valid_table_name(ok), "{ok}");
        }
        for bad in ["", "1abc", "a-b", "a b", "a;drop", &"a".repeat(81)] {
            assert!(!valid_table_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_provider_is_read_from_the_query() {
        assert_eq!(
            provider_of(Some("external_provider=a%20b")).as_deref(),
            Some("a b")
        );
        assert_eq!(provider_of(Some("external_provider=")), None);
        assert_eq!(provider_of(None), None);
    }
}
