//! The TinyURL endpoint: `POST /api/now/tinyurl` stores a long URL's query string under a short
//! id and answers with a page URL carrying it (`incident_list.do?sysparm_tiny=<id>`); a Table
//! API list given `sysparm_tiny=<id>` then reads as if sent with that query string. Ansible's
//! servicenow.itsm uses it for GET URLs over 2,048 characters.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value as Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::domain::tiny_urls;
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(shorten))
}

/// The URL to shorten.
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(default)]
struct TinyUrlRequest {
    /// A URL of this instance (absolute, or a path), with the query to keep.
    #[schema(value_type = String)]
    url: Option<Json>,
}

/// The page a tiny URL stands for: `{table}_list.do` for a Table API URL (what the platform
/// answers), else the URL's own path.
fn page_of(path: &str) -> String {
    let path = path.trim_start_matches('/');
    let table = ["api/now/table/", "api/now/v1/table/", "api/now/v2/table/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))
        .filter(|rest| !rest.is_empty() && !rest.contains('/'));
    match table {
        Some(table) => format!("{table}_list.do"),
        None => path.to_owned(),
    }
}

/// The path and query of a URL given absolute (`https://host/path?query`) or as a path.
fn path_and_query(url: &str) -> (&str, &str) {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| {
        rest.find(['/', '?', '#']).map_or("", |at| &rest[at..])
    });
    let without_fragment = without_scheme.split('#').next().unwrap_or_default();
    without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""))
}

/// Shorten a URL's query string; any authenticated user.
#[utoipa::path(
    post,
    path = "/tinyurl",
    tag = "TinyURL",
    request_body(content = TinyUrlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`{page}?sysparm_tiny={id}`", body = ResultEnvelope<String>),
        (status = 400, description = "No `url`", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
    )
)]
async fn shorten(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let request: TinyUrlRequest = body.parse()?;
    let url = match &request.url {
        Some(Json::String(url)) if !url.trim().is_empty() => url.trim(),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid request",
                "Mandatory parameter 'url' is missing or not a string",
            ));
        }
    };
    let (path, query) = path_and_query(url);
    let mut tx = state.store.begin().await?;
    let tiny = tiny_urls::shorten(&mut tx, query, &caller.user_name).await?;
    tx.commit().await?;
    let result = format!("{}?sysparm_tiny={tiny}", page_of(path));
    Ok(respond::typed(StatusCode::OK, &result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_query_however_they_are_given() {
        assert_eq!(
            path_and_query("https://sb:8080/api/now/table/incident?sysparm_query=a%3Db&x=1#frag"),
            ("/api/now/table/incident", "sysparm_query=a%3Db&x=1")
        );
        assert_eq!(path_and_query("/api/now/table/x"), ("/api/now/table/x", ""));
        assert_eq!(path_and_query("https://sb?q=1"), ("", "q=1"));
        assert_eq!(
            path_and_query("incident_list.do?q=1"),
            ("incident_list.do", "q=1")
        );
    }

    #[test]
    fn a_table_api_url_stands_for_the_tables_list_page() {
        assert_eq!(page_of("/api/now/table/incident"), "incident_list.do");
        assert_eq!(page_of("/api/now/v2/table/sys_user"), "sys_user_list.do");
        assert_eq!(page_of("/api/now/table/x/abc"), "api/now/table/x/abc");
        assert_eq!(page_of("incident_list.do"), "incident_list.do");
    }
}
