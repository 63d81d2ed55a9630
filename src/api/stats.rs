//! The Aggregate API: `GET /api/now/stats/{table}` counts the records a query selects and
//! computes avg, min, max and sum of fields, optionally in groups (`sysparm_group_by`),
//! filtered by aggregates (`sysparm_having`) and ordered (`sysparm_order_by`). The same query
//! translation as the Table API, and the same read rights.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value as Json, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::table::params::{DisplayMode, display_mode};
use super::table::render::{Displays, load_displays};
use super::table::{self, access};
use crate::auth::Caller;
use crate::http::{ApiError, ErrorEnvelope, respond};
use crate::model::aggregate::{Aggregation, Function, Group, Having, Measure, OrderKey};
use crate::model::filter::{self, Cmp, QueryContext, queryable};
use crate::model::registry::{Field, FieldType, Table};
use crate::state::AppState;
use crate::storage::Storage;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// The Aggregate API's parameters, as read. Plain `field=value` pairs filter too.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsParams {
    /// An encoded query selecting the records.
    #[param(rename = "sysparm_query")]
    query: Option<String>,
    /// `true`: answer the number of records (of each group).
    #[param(rename = "sysparm_count", value_type = Option<bool>)]
    count: bool,
    /// Fields to average (`sysparm_avg_fields`), and likewise `sysparm_min_fields`,
    /// `sysparm_max_fields`, `sysparm_sum_fields`: comma lists.
    #[param(rename = "sysparm_avg_fields", value_type = Option<String>)]
    functions: Vec<(Function, String)>,
    /// Comma list of fields to group by.
    #[param(rename = "sysparm_group_by")]
    group_by: Option<String>,
    /// `aggregate^field^operator^value`, comma separated: `count^state^>^3,avg^priority^<^2`.
    #[param(rename = "sysparm_having")]
    having: Option<String>,
    /// Groups' order: a field or an aggregate, `^DESC` for descending: `COUNT^DESC`, `AVG^priority`.
    #[param(rename = "sysparm_order_by")]
    order_by: Option<String>,
    /// `false` (values), `true` (display values) or `all` (both), for the group-by fields.
    #[param(rename = "sysparm_display_value", value_type = Option<String>, pattern = "^(true|false|all)$")]
    display: DisplayMode,
    #[param(ignore)]
    filters: Vec<(String, String)>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Invalid query", detail)
}

impl StatsParams {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut p = StatsParams::default();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned()
        {
            match name.as_str() {
                "sysparm_query" => p.query = Some(value),
                "sysparm_count" => p.count = filter::parse_bool(&value).unwrap_or(false),
                "sysparm_group_by" => p.group_by = Some(value),
                "sysparm_having" => p.having = Some(value),
                "sysparm_order_by" => p.order_by = Some(value),
                "sysparm_display_value" => p.display = display_mode(&name, &value)?,
                n if n.starts_with("sysparm_") && n.ends_with("_fields") => {
                    let function = &n["sysparm_".len()..n.len() - "_fields".len()];
                    // `sysparm_fields` and other sysparm_*_fields change nothing here.
                    if let Some(function) = Function::parse(function) {
                        p.functions.push((function, value));
                    }
                }
                n if n.starts_with("sysparm_") => {}
                _ => p.filters.push((name, value)),
            }
        }
        Ok(p)
    }
}

/// Names in a comma list, trimmed, empty ones dropped.
fn names(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|n| !n.is_empty())
}

/// A field a function can be computed over: avg and sum need numbers; min and max any field
/// that orders (not a boolean, nor JSON).
fn measured(
    table: &'static Table,
    function: Function,
    name: &str,
) -> Result<&'static Field, ApiError> {
    let field = queryable(table, name)?;
    let fits = match function {
        Function::Avg | Function::Sum => field.ty == FieldType::Integer,
        Function::Min | Function::Max => !matches!(field.ty, FieldType::Boolean | FieldType::Json),
    };
    if fits {
        Ok(field)
    } else {
        Err(invalid(format!(
            "{} cannot be computed over field '{name}' of {}",
            function.name(),
            table.name
        )))
    }
}

/// `count`, or a function and its field.
fn measure(
    table: &'static Table,
    aggregate: &str,
    field: Option<&str>,
) -> Result<Measure, ApiError> {
    if aggregate.eq_ignore_ascii_case("count") {
        return Ok(Measure::Count);
    }
    let function = Function::parse(aggregate).ok_or_else(|| {
        invalid(format!(
            "'{aggregate}' is not an aggregate: use count, avg, min, max or sum"
        ))
    })?;
    let field = field.ok_or_else(|| invalid(format!("{aggregate} needs a field")))?;
    Ok(Measure::Of(function, measured(table, function, field)?))
}

/// The comparisons `sysparm_having` allows, by the symbols it writes them with.
fn comparison(op: &str) -> Option<Cmp> {
    Some(match op {
        "=" => Cmp::Eq,
        "!=" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        _ => return None,
    })
}

fn having(table: &'static Table, text: &str) -> Result<Vec<Having>, ApiError> {
    names(text)
        .map(|term| {
            let parts: Vec<&str> = term.split('^').collect();
            let [aggregate, field, op, value] = parts[..] else {
                return Err(invalid(format!(
                    "sysparm_having term '{term}' is not aggregate^field^operator^value"
                )));
            };
            let op = comparison(op).ok_or_else(|| {
                invalid(format!(
                    "'{op}' is not a comparison: use =, !=, <, <=, > or >="
                ))
            })?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| invalid(format!("'{value}' in sysparm_having is not a number")))?;
            let field = (!field.is_empty()).then_some(field);
            Ok(Having {
                measure: measure(table, aggregate, field)?,
                op,
                value,
            })
        })
        .collect()
}

fn order(
    table: &'static Table,
    text: &str,
    group_by: &[&'static Field],
) -> Result<Vec<(OrderKey, bool)>, ApiError> {
    names(text)
        .map(|term| {
            let mut parts: Vec<&str> = term.split('^').collect();
            let descending = parts.last().is_some_and(|p| p.eq_ignore_ascii_case("desc"));
            if descending || parts.last().is_some_and(|p| p.eq_ignore_ascii_case("asc")) {
                parts.pop();
            }
            let key = match parts[..] {
                [first] if first.eq_ignore_ascii_case("count") => OrderKey::Measure(Measure::Count),
                [aggregate, field] => OrderKey::Measure(measure(table, aggregate, Some(field))?),
                [name] => {
                    let field = queryable(table, name)?;
                    if !group_by.contains(&field) {
                        return Err(invalid(format!(
                            "groups can be ordered by a group-by field or an aggregate, not by '{name}'"
                        )));
                    }
                    OrderKey::Field(field)
                }
                _ => return Err(invalid(format!("sysparm_order_by term '{term}' is not understood"))),
            };
            Ok((key, descending))
        })
        .collect()
}

/// Compute aggregate statistics over a table's records.
#[utoipa::path(
    get,
    path = "/stats/{table}",
    tag = "Aggregate API",
    params(("table" = String, Path, description = "A table name"), StatsParams),
    responses(
        (status = 200, description = "`{\"result\": {\"stats\": {...}}}`, or with `sysparm_group_by` `{\"result\": [{\"stats\", \"groupby_fields\"}]}`", body = Object),
        (status = 400, description = "Invalid table, query, aggregate or parameter", body = ErrorEnvelope),
        (status = 401, description = "No or wrong credentials", body = ErrorEnvelope),
        (status = 403, description = "The caller may not read the table", body = ErrorEnvelope),
    )
)]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let table = table::lookup(&name)?;
    access::require_read(&caller, table)?;
    let params = StatsParams::parse(uri.query())?;
    let group_by: Vec<&'static Field> = match &params.group_by {
        Some(list) => names(list)
            .map(|n| queryable(table, n).map_err(ApiError::from))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut measures = Vec::new();
    if params.count {
        measures.push(Measure::Count);
    }
    for (function, list) in &params.functions {
        for name in names(list) {
            let m = Measure::Of(*function, measured(table, *function, name)?);
            if !measures.contains(&m) {
                measures.push(m);
            }
        }
    }
    let aggregation = Aggregation {
        filter: {
            let query = table::selection(table, params.query.as_deref(), &params.filters)?;
            filter::resolve(table, &query, &QueryContext::now(caller.asker()))?.filter
        },
        having: params
            .having
            .as_deref()
            .map(|h| having(table, h))
            .transpose()?
            .unwrap_or_default(),
        order: params
            .order_by
            .as_deref()
            .map(|o| order(table, o, &group_by))
            .transpose()?
            .unwrap_or_default(),
        group_by,
        measures,
    };
    // Nothing to compute and nothing to group by: nothing to ask the database.
    let groups = match aggregation.measures.is_empty() && aggregation.group_by.is_empty() {
        true => Vec::new(),
        false => state.store.aggregate(table, &aggregation).await?,
    };
    let result = if aggregation.group_by.is_empty() {
        let group = groups.first();
        json!({"stats": group.map_or_else(|| Json::Object(Map::new()), |g| stats_of(&aggregation, g))})
    } else {
        let shown = displays(&*state.store, &aggregation, &groups, params.display).await?;
        Json::Array(
            groups
                .iter()
                .map(|g| {
                    json!({
                        "stats": stats_of(&aggregation, g),
                        "groupby_fields": groupby_fields(&aggregation, g, &shown, params.display),
                    })
                })
                .collect(),
        )
    };
    Ok(respond::result(StatusCode::OK, Default::default(), result))
}

/// `{"count": "3", "avg": {"field": "1.5000"}, ...}`: numbers as text, as the platform sends them;
/// averages with four decimals.
fn stats_of(aggregation: &Aggregation, group: &Group) -> Json {
    let mut stats = Map::new();
    for (measure, value) in aggregation.measures.iter().zip(&group.measures) {
        match measure {
            Measure::Count => {
                stats.insert(
                    "count".into(),
                    Json::String(value.clone().unwrap_or_else(|| "0".into())),
                );
            }
            Measure::Of(function, field) => {
                let text = match (function, value) {
                    (Function::Avg, Some(v)) => v
                        .parse::<f64>()
                        .map_or_else(|_| v.clone(), |n| format!("{n:.4}")),
                    (_, Some(v)) => v.clone(),
                    (_, None) => String::new(),
                };
                let by_field = stats
                    .entry(function.name())
                    .or_insert_with(|| Json::Object(Map::new()));
                if let Json::Object(by_field) = by_field {
                    by_field.insert(field.name.into(), Json::String(text));
                }
            }
        }
    }
    Json::Object(stats)
}

/// Display values of the group keys of reference fields (none unless asked for).
async fn displays(
    store: &dyn Storage,
    aggregation: &Aggregation,
    groups: &[Group],
    display: DisplayMode,
) -> Result<Displays, ApiError> {
    if display == DisplayMode::Value {
        return Ok(Displays::new());
    }
    let mut wanted = Vec::new();
    for (i, field) in aggregation.group_by.iter().enumerate() {
        if let FieldType::Reference(target) = field.ty {
            let keys = groups.iter().map(|g| &g.keys[i]).filter(|k| !k.is_empty());
            wanted.extend(keys.map(|k| (target, k.clone())));
        }
    }
    Ok(load_displays(store, wanted).await?)
}

fn groupby_fields(
    aggregation: &Aggregation,
    group: &Group,
    shown: &Displays,
    display: DisplayMode,
) -> Json {
    let fields = aggregation
        .group_by
        .iter()
        .zip(&group.keys)
        .map(|(field, value)| {
            let display_value = match field.ty {
                FieldType::Reference(target) => {
                    shown.get(target.name).and_then(|ids| ids.get(value))
                }
                _ => None,
            }
            .unwrap_or(value);
            match display {
                DisplayMode::Value => json!({"value": value, "field": field.name}),
                DisplayMode::Display => json!({"value": display_value, "field": field.name}),
                DisplayMode::All => {
                    json!({"display_value": display_value, "value": value, "field": field.name})
                }
            }
        })
        .collect();
    Json::Array(fields)
}
