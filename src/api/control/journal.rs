//! The request journal's routes (docs/control-plane.md, "The request journal"): list, count,
//! verify, clear and a live stream of the entries [`crate::journal`] keeps. Admin only. Their
//! own requests are not recorded.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ControlAdmin;
use crate::http::respond::ResultEnvelope;
use crate::http::{ApiError, Body, ErrorEnvelope, respond};
use crate::journal::{Compiled, Criteria, Entry, Journal, Kind};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, clear))
        .routes(routes!(count))
        .routes(routes!(verify))
        .routes(routes!(stream))
}

/// The stream's path under the prefix.
pub const STREAM_PATH: &str = "/journal/stream";

/// The entries a list answers when the request names no `limit`.
const DEFAULT_LIMIT: usize = 100;
/// The matching entries a failed verification lists.
const LISTED: usize = 20;

/// The filters, as query parameters. All optional; every one given must hold.
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters; `Criteria` reads them.
struct Filters {
    /// HTTP method, any case.
    method: Option<String>,
    /// A glob on the path: `*` is any run of characters (`/api/now/table/*`). An outbound
    /// entry's path is its endpoint URL.
    path: Option<String>,
    /// A status (`404`) or a class (`4xx`).
    status: Option<String>,
    /// The authenticated user's name.
    user: Option<String>,
    /// The API whose route matched: `table`, `interaction`, ..., `oauth`, `switchboard`.
    api: Option<String>,
    /// `inbound` or `outbound`.
    kind: Option<String>,
    /// RFC 3339: entries that started at or after this time.
    since: Option<String>,
    /// RFC 3339: entries that started at or before this time.
    until: Option<String>,
    /// Entries numbered above this id.
    after_id: Option<u64>,
    /// `true`: requests no route matched (404, 400 fallbacks); `false`: those a route matched.
    unmatched: Option<bool>,
    /// The most entries listed (the newest; default 100).
    limit: Option<usize>,
}

/// The query string: the filters and, for the list, `limit`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Listing {
    method: Option<String>,
    path: Option<String>,
    status: Option<String>,
    user: Option<String>,
    api: Option<String>,
    kind: Option<Kind>,
    since: Option<String>,
    until: Option<String>,
    after_id: Option<u64>,
    unmatched: Option<bool>,
    limit: Option<usize>,
}

impl Listing {
    fn criteria(self) -> (Criteria, Option<usize>) {
        let criteria = Criteria {
            method: self.method,
            path: self.path,
            status: self.status,
            user: self.user,
            api: self.api,
            kind: self.kind,
            since: self.since,
            until: self.until,
            after_id: self.after_id,
            unmatched: self.unmatched,
        };
        (criteria, self.limit)
    }
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Invalid journal filter", detail)
}

/// The query string's filters, checked; a malformed one is a 400.
fn read_query(
    query: Result<Query<Listing>, axum::extract::rejection::QueryRejection>,
) -> Result<(Criteria, Compiled, Option<usize>), ApiError> {
    let Query(listing) = query.map_err(|e| invalid(e.body_text()))?;
    let (criteria, limit) = listing.criteria();
    let compiled = criteria.compile().map_err(|e| invalid(e.0))?;
    Ok((criteria, compiled, limit))
}

/// The journal, or the 404 that says it is off.
fn journal(state: &AppState) -> Result<&Journal, ApiError> {
    state.journal.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "Journal off",
            Some("The request journal is off (--journal-size 0): nothing is recorded".into()),
        )
    })
}

/// Entries as JSON values (for the envelope, which XML renders too).
fn values(entries: &[Arc<Entry>]) -> Json {
    Json::Array(
        entries
            .iter()
            .map(|e| serde_json::to_value(&**e).unwrap_or_default())
            .collect(),
    )
}

/// An entry of the journal, as documented in docs/control-plane.md.
#[derive(ToSchema)]
#[allow(dead_code)]
struct JournalEntry {
    id: u64,
    /// `inbound` or `outbound`.
    kind: String,
    /// When the request started, RFC 3339 UTC with milliseconds.
    time: String,
    duration_ms: f64,
    method: String,
    path: String,
    query: Option<String>,
    #[schema(value_type = Object)]
    request_headers: Json,
    request_body: String,
    /// `text`, or `base64` for a body that is not UTF-8.
    request_body_encoding: String,
    request_body_truncated: bool,
    status: Option<u16>,
    #[schema(value_type = Object)]
    response_headers: Json,
    response_body: String,
    response_body_encoding: String,
    response_body_truncated: bool,
    user: Option<String>,
    api: Option<String>,
    route: Option<String>,
    transaction_id: Option<String>,
    fault: Option<String>,
    provider: Option<String>,
    event_type: Option<String>,
    event_id: Option<String>,
    attempt: Option<i64>,
    error: Option<String>,
}

/// Lists the entries matching the filters, oldest first: the newest `limit` (default 100) of
/// them. Admin only.
#[utoipa::path(
    get,
    path = "/journal",
    tag = super::TAG,
    params(Filters),
    responses(
        (status = 200, description = "The matching entries", body = ResultEnvelope<Vec<JournalEntry>>),
        (status = 400, description = "A malformed filter", body = ErrorEnvelope),
        (status = 403, description = "The caller is not an admin", body = ErrorEnvelope),
        (status = 404, description = "The journal is off (--journal-size 0)", body = ErrorEnvelope),
    )
)]
async fn list(
    _admin: ControlAdmin,
    State(state): State<AppState>,
    query: Result<Query<Listing>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let journal = journal(&state)?;
    let (_, compiled, limit) = read_query(query)?;
    let found = journal.select(&compiled, limit.unwrap_or(DEFAULT_LIMIT));
    Ok(respond::ok(values(&found)))
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct Count {
    count: usize,
}

/// How many entries match the filters. Admin only.
#[utoipa::path(
    get,
    path = "/journal/count",
    tag = super::TAG,
    params(Filters),
    responses(
        (status = 200, description = "How many entries match", body = ResultEnvelope<Count>),
        (status = 400, description = "A malformed filter", body = ErrorEnvelope),
        (status = 403, description = "The caller is not an admin", body = ErrorEnvelope),
        (status = 404, description = "The journal is off (--journal-size 0)", body = ErrorEnvelope),
    )
)]
async fn count(
    _admin: ControlAdmin,
    State(state): State<AppState>,
    query: Result<Query<Listing>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let journal = journal(&state)?;
    let (_, compiled, _) = read_query(query)?;
    let count = journal.count(&compiled);
    Ok(respond::typed(StatusCode::OK, &Count { count }))
}

/// Forgets every entry (ids keep increasing). Admin only.
#[utoipa::path(
    delete,
    path = "/journal",
    tag = super::TAG,
    responses(
        (status = 204, description = "The journal is empty"),
        (status = 403, description = "The caller is not an admin", body = ErrorEnvelope),
        (status = 404, description = "The journal is off (--journal-size 0)", body = ErrorEnvelope),
    )
)]
async fn clear(_admin: ControlAdmin, State(state): State<AppState>) -> Result<Response, ApiError> {
    journal(&state)?.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A verification: the filters, and exactly one of `count`, `at_least`, `at_most` (or
/// `at_least` and `at_most` together, a range).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
struct VerifyRequest {
    method: Option<String>,
    /// A glob on the path.
    path: Option<String>,
    /// `404`, or a class: `4xx`.
    status: Option<String>,
    user: Option<String>,
    api: Option<String>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after_id: Option<u64>,
    unmatched: Option<bool>,
    /// Exactly this many entries match.
    count: Option<u64>,
    /// At least this many.
    at_least: Option<u64>,
    /// At most this many.
    at_most: Option<u64>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
struct Verified {
    verified: bool,
    count: usize,
}

/// Reads a bound (`count`, `at_least`, `at_most`) out of the body.
fn bound(body: &mut serde_json::Map<String, Json>, name: &str) -> Result<Option<usize>, ApiError> {
    match body.remove(name) {
        None | Some(Json::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be a whole number, not {v}"))),
    }
}

/// Checks that the number of entries matching the filters is as expected: 200 with the count
/// when it is, 409 when not, its detail giving the expectation, the count and the matching
/// entries (method, path, status; the first 20). Admin only.
#[utoipa::path(
    post,
    path = "/journal/verify",
    tag = super::TAG,
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "The expectation holds", body = ResultEnvelope<Verified>),
        (status = 400, description = "A malformed filter or expectation", body = ErrorEnvelope),
        (status = 403, description = "The caller is not an admin", body = ErrorEnvelope),
        (status = 404, description = "The journal is off (--journal-size 0)", body = ErrorEnvelope),
        (status = 409, description = "The expectation does not hold", body = ErrorEnvelope),
    )
)]
async fn verify(
    _admin: ControlAdmin,
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, ApiError> {
    let journal = journal(&state)?;
    let Json::Object(mut fields) = body.parse::<Json>()? else {
        return Err(invalid(
            "The body must be a JSON object of filters and an expectation",
        ));
    };
    let exactly = bound(&mut fields, "count")?;
    let at_least = bound(&mut fields, "at_least")?;
    let at_most = bound(&mut fields, "at_most")?;
    let expectation = match (exactly, at_least, at_most) {
        (Some(n), None, None) => Expect::Exactly(n),
        (None, Some(low), high) => Expect::Range(Some(low), high),
        (None, None, Some(high)) => Expect::Range(None, Some(high)),
        _ => {
            return Err(invalid(
                "Give exactly one expectation: count, or at_least and/or at_most",
            ));
        }
    };
    // A status may be sent as a number.
    if let Some(Json::Number(n)) = fields.get("status") {
        let text = n.to_string();
        fields.insert("status".into(), Json::String(text));
    }
    let criteria: Criteria =
        serde_json::from_value(Json::Object(fields)).map_err(|e| invalid(e.to_string()))?;
    let compiled = criteria.compile().map_err(|e| invalid(e.0))?;
    let matching = journal.select(&compiled, usize::MAX);
    let found = matching.len();
    if expectation.holds(found) {
        return Ok(respond::typed(
            StatusCode::OK,
            &Verified {
                verified: true,
                count: found,
            },
        ));
    }
    let mut detail = format!(
        "Expected {} matching {}; found {found}",
        expectation.describe(),
        criteria.describe()
    );
    if !matching.is_empty() {
        detail.push(':');
        for e in matching.iter().take(LISTED) {
            let status = e.status.map_or("-".to_owned(), |s| s.to_string());
            detail.push_str(&format!("\n  #{} {} {} {status}", e.id, e.method, e.path()));
        }
        if found > LISTED {
            detail.push_str(&format!("\n  ... and {} more", found - LISTED));
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "Journal verification failed",
        Some(detail),
    ))
}

enum Expect {
    Exactly(usize),
    Range(Option<usize>, Option<usize>),
}

impl Expect {
    fn holds(&self, n: usize) -> bool {
        match *self {
            Expect::Exactly(e) => n == e,
            Expect::Range(low, high) => low.is_none_or(|l| n >= l) && high.is_none_or(|h| n <= h),
        }
    }

    fn describe(&self) -> String {
        let requests = |n: usize| match n {
            1 => "1 request".to_owned(),
            n => format!("{n} requests"),
        };
        match *self {
            Expect::Exactly(n) => format!("exactly {}", requests(n)),
            Expect::Range(Some(l), None) => format!("at least {}", requests(l)),
            Expect::Range(None, Some(h)) => format!("at most {}", requests(h)),
            Expect::Range(Some(l), Some(h)) => format!("between {l} and {}", requests(h)),
            Expect::Range(None, None) => "any number of requests".to_owned(),
        }
    }
}

/// Server-Sent Events: each entry recorded from now on that matches the filters, as an
/// `entry` event whose data is the entry's JSON; a `lagged` event (data: how many) when the
/// reader fell so far behind that entries were skipped; a comment every 15 s to keep the
/// connection open. Admin only.
#[utoipa::path(
    get,
    path = "/journal/stream",
    tag = super::TAG,
    params(Filters),
    responses(
        (status = 200, description = "An event stream of new entries", content_type = "text/event-stream"),
        (status = 400, description = "A malformed filter", body = ErrorEnvelope),
        (status = 403, description = "The caller is not an admin", body = ErrorEnvelope),
        (status = 404, description = "The journal is off (--journal-size 0)", body = ErrorEnvelope),
    )
)]
async fn stream(
    _admin: ControlAdmin,
    State(state): State<AppState>,
    query: Result<Query<Listing>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let journal = journal(&state)?;
    let (_, compiled, _) = read_query(query)?;
    let (entries, listening) = journal.subscribe();
    let events = BroadcastStream::new(entries).filter_map(move |received| {
        // Counted as a live reader while the stream lives.
        let _listening = &listening;
        let event = match received {
            Ok(entry) if compiled.matches(&entry) => {
                let data = serde_json::to_string(&*entry).unwrap_or_default();
                Event::default().event("entry").data(data)
            }
            Ok(_) => return None,
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
        };
        Some(Ok::<_, Infallible>(event))
    });
    let keep_alive = KeepAlive::new().interval(Duration::from_secs(15));
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}
