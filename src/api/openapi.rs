//! The OpenAPI 3 document of every route, served at `/api/openapi.json` by [`super`].
//!
//! The routes and their operations come from the handlers' `#[utoipa::path]` attributes through
//! [`crate::api::routes`], the same routes the server serves. What every operation shares (the
//! error responses, XML beside JSON, security, the table names) is added here from the code that
//! decides it, rather than repeated on every handler.

use serde_json::{Map, Value as Json, json};
use utoipa::PartialSchema;

use crate::http::error::{ErrorBody, ErrorEnvelope};
use crate::model::registry::TABLES;

/// The served document: what `generated` (the routes' own document) lacks added.
pub fn document(generated: utoipa::openapi::OpenApi) -> String {
    let mut doc = serde_json::to_value(&generated).expect("the OpenAPI document serialises");
    complete(&mut doc);
    doc.to_string()
}

/// Adds what every operation shares.
fn complete(doc: &mut Json) {
    doc["info"] = json!({
        "title": "switchboard",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "A self-hosted stand-in for the ServiceNow contact-center REST APIs: the \
            Table API, the Interaction Management, Conversation Member and Agent Mapping APIs, and \
            OAuth 2.0. Every /api/now operation also answers in XML (Accept: application/xml). \
            Operations tagged `switchboard` (under /_switchboard/) are switchboard's own, not the \
            platform's, and need the admin role.",
    });
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut schemas = schemas;
    schemas.insert("ErrorEnvelope".into(), to_json(ErrorEnvelope::schema()));
    schemas.insert("ErrorBody".into(), to_json(ErrorBody::schema()));
    doc["components"]["schemas"] = Json::Object(schemas);
    doc["components"]["securitySchemes"] = json!({
        "basic": {"type": "http", "scheme": "basic"},
        "bearer": {"type": "http", "scheme": "bearer", "description": "An access token from /oauth_token.do"},
    });
    let tables: Vec<Json> = TABLES.iter().map(|t| Json::String(t.name.into())).collect();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let Some(op) = operation.as_object_mut() else {
                continue;
            };
            op.insert(
                "operationId".into(),
                Json::String(operation_id(method, path)),
            );
            // switchboard's own operations need admin, but for the health checks.
            let own = path.starts_with(super::control::PREFIX)
                && !path[super::control::PREFIX.len()..].starts_with("/health");
            if (path.starts_with("/api/") && path != "/api/openapi.json") || own {
                op.insert("security".into(), json!([{"basic": []}, {"bearer": []}]));
                add_common_responses(op, path.starts_with("/api/now") || own);
            } else {
                op.insert("security".into(), json!([]));
            }
            for parameter in op
                .get_mut("parameters")
                .and_then(Json::as_array_mut)
                .into_iter()
                .flatten()
            {
                if parameter["name"] == "table" && parameter["in"] == "path" {
                    parameter["schema"] = json!({"type": "string", "enum": tables});
                }
            }
        }
    }
}

fn to_json(schema: impl serde::Serialize) -> Json {
    serde_json::to_value(schema).expect("schemas serialise")
}

/// Unique across the version prefixes: `post_api_now_v1_interaction`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = String::from(method);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(
            part.trim_matches(|c| c == '{' || c == '}')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

fn envelope(description: &str) -> Json {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    })
}

/// The answers any API operation may give whatever it does: authentication, negotiation,
/// unreadable bodies, faults. `xml` adds the XML rendering beside each JSON body.
fn add_common_responses(op: &mut Map<String, Json>, xml: bool) {
    let has_body = op.contains_key("requestBody");
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    let mut common = vec![
        (
            "401",
            "No, wrong or expired credentials, or an inactive user",
        ),
        ("403", "The caller lacks a role this operation needs"),
        (
            "429",
            "Locked after too many failed logins, or over a rate limit; Retry-After says how long to wait",
        ),
        (
            "406",
            "The Accept header names no format this operation serves",
        ),
        (
            "500",
            "A fault of switchboard's; the cause is logged, not sent",
        ),
    ];
    if has_body {
        common.push((
            "400",
            "The body is missing a required value, malformed, or too large",
        ));
        common.push((
            "415",
            "The Content-Type names no format this operation reads",
        ));
    }
    for (status, description) in common {
        responses
            .entry(status)
            .or_insert_with(|| envelope(description));
    }
    if xml {
        for response in responses.values_mut() {
            if let Some(content) = response.get_mut("content").and_then(Json::as_object_mut)
                && let Some(json_body) = content.get("application/json").cloned()
            {
                content.entry("application/xml").or_insert(json_body);
            }
        }
        if let Some(content) = op
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Json::as_object_mut)
            && let Some(json_body) = content.get("application/json").cloned()
        {
            content.entry("application/xml").or_insert(json_body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_name_method_and_path() {
        assert_eq!(
            operation_id("post", "/api/now/v1/interaction/{id}/close"),
            "post_api_now_v1_interaction_id_close"
        );
    }
}
