//! The Table API's query parameters (`sysparm_*` and plain `field=value` filters).

use utoipa::IntoParams;

use crate::http::ApiError;
use crate::model::filter::parse_bool;

/// `sysparm_display_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisplayMode {
    #[default]
    Value,
    Display,
    All,
}

/// How records are shaped in an answer: the parameters every Table API method reads.
#[derive(Debug, Clone, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Shape {
    /// Comma list of fields to return.
    #[param(rename = "sysparm_fields", value_type = Option<String>)]
    pub fields: Option<Vec<String>>,
    /// `false` (values), `true` (display values) or `all` (both).
    #[param(rename = "sysparm_display_value", value_type = Option<String>, pattern = "^(true|false|all)$")]
    pub display: DisplayMode,
    /// References as plain values, without links.
    #[param(rename = "sysparm_exclude_reference_link", value_type = Option<bool>)]
    pub exclude_reference_link: bool,
}

/// The query parameters of a request, as read; the ones only a list uses are documented here,
/// the rest by [`Shape`].
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Params {
    #[param(ignore)]
    pub shape: Shape,
    /// An encoded query: `active=true^user_nameSTARTSWITHa^ORDERBYuser_name`.
    #[param(rename = "sysparm_query")]
    pub query: Option<String>,
    /// Page size (default 10000).
    #[param(rename = "sysparm_limit", value_type = Option<u64>, minimum = 1)]
    pub limit: u64,
    /// Records to skip.
    #[param(rename = "sysparm_offset", value_type = Option<u64>)]
    pub offset: u64,
    /// No `Link` header.
    #[param(rename = "sysparm_suppress_pagination_header", value_type = Option<bool>)]
    pub suppress_pagination_header: bool,
    /// No count: no `X-Total-Count`, no `last` link.
    #[param(rename = "sysparm_no_count", value_type = Option<bool>)]
    pub no_count: bool,
    /// A tiny URL's id (`POST /api/now/tinyurl`): the list reads as if sent with the query
    /// string stored under it, followed by this request's other parameters, which win.
    #[param(rename = "sysparm_tiny")]
    pub tiny: Option<String>,
    /// Plain `name=value` pairs; those naming a field of the table filter the list.
    #[param(ignore)]
    pub filters: Vec<(String, String)>,
    /// Every pair as received, for paging links.
    #[param(ignore)]
    pub raw: Vec<(String, String)>,
}

pub const DEFAULT_LIMIT: u64 = 10_000;

fn invalid(name: &str, value: &str, what: &str) -> ApiError {
    ApiError::bad_request(
        "Invalid parameter",
        format!("{name}='{value}' is not valid: {what}"),
    )
}

/// `sysparm_display_value`: `false` (or nothing), `true` or `all`, in any case.
pub fn display_mode(name: &str, value: &str) -> Result<DisplayMode, ApiError> {
    match value.to_ascii_lowercase().as_str() {
        "false" | "" => Ok(DisplayMode::Value),
        "true" => Ok(DisplayMode::Display),
        "all" => Ok(DisplayMode::All),
        _ => Err(invalid(name, value, "expected true, false or all")),
    }
}

fn flag(name: &str, value: &str) -> Result<bool, ApiError> {
    parse_bool(value).ok_or_else(|| invalid(name, value, "expected true or false"))
}

impl Params {
    pub fn parse(raw_query: Option<&str>) -> Result<Params, ApiError> {
        let raw: Vec<(String, String)> =
            form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let mut p = Params {
            shape: Shape::default(),
            query: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
            suppress_pagination_header: false,
            no_count: false,
            tiny: None,
            filters: Vec::new(),
            raw: raw.clone(),
        };
        for (name, value) in raw {
            match name.as_str() {
                "sysparm_query" => p.query = Some(value),
                "sysparm_fields" => {
                    let fields: Vec<String> = value
                        .split(',')
                        .map(|f| f.trim().to_owned())
                        .filter(|f| !f.is_empty())
                        .collect();
                    // An empty list (pysnow sends `sysparm_fields=` on every call) means all.
                    p.shape.fields = (!fields.is_empty()).then_some(fields);
                }
                "sysparm_limit" => {
                    p.limit = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid(&name, &value, "expected a positive integer"))?;
                }
                "sysparm_offset" => {
                    p.offset = value
                        .parse()
                        .map_err(|_| invalid(&name, &value, "expected a non-negative integer"))?;
                }
                "sysparm_display_value" => p.shape.display = display_mode(&name, &value)?,
                "sysparm_exclude_reference_link" => {
                    p.shape.exclude_reference_link = flag(&name, &value)?
                }
                "sysparm_suppress_pagination_header" => {
                    p.suppress_pagination_header = flag(&name, &value)?;
                }
                "sysparm_no_count" => p.no_count = flag(&name, &value)?,
                "sysparm_tiny" => p.tiny = Some(value),
                // Other sysparm_* (view, input_display_value, ...) change nothing here.
                n if n.starts_with("sysparm_") => {}
                _ => p.filters.push((name, value)),
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = Params::parse(None).unwrap();
        assert_eq!(p.limit, DEFAULT_LIMIT);
        assert_eq!(p.offset, 0);
        assert_eq!(p.shape.display, DisplayMode::Value);
    }

    #[test]
    fn reads_every_parameter() {
        let p = Params::parse(Some(
            "sysparm_query=active%3Dtrue%5EnameSTARTSWITHa&sysparm_fields=name,%20sys_id&sysparm_limit=5\
             &sysparm_offset=10&sysparm_display_value=all&sysparm_exclude_reference_link=true\
             &sysparm_suppress_pagination_header=true&sysparm_no_count=true&user_name=x&sysparm_view=y",
        ))
        .unwrap();
        assert_eq!(p.query.as_deref(), Some("active=true^nameSTARTSWITHa"));
        assert_eq!(p.shape.fields.unwrap(), ["name", "sys_id"]);
        assert_eq!((p.limit, p.offset), (5, 10));
        assert_eq!(p.shape.display, DisplayMode::All);
        assert!(p.shape.exclude_reference_link && p.suppress_pagination_header && p.no_count);
        assert_eq!(p.filters, [("user_name".to_owned(), "x".to_owned())]);
    }

    #[test]
    fn an_empty_field_list_means_every_field() {
        assert_eq!(
            Params::parse(Some("sysparm_fields=")).unwrap().shape.fields,
            None
        );
        assert_eq!(
            Params::parse(Some("sysparm_fields=%20,"))
                .unwrap()
                .shape
                .fields,
            None
        );
    }

    #[test]
    fn rejects_bad_numbers_and_modes() {
        for q in [
            "sysparm_limit=0",
            "sysparm_limit=-1",
            "sysparm_limit=x",
            "sysparm_offset=-5",
            "sysparm_display_value=maybe",
            "sysparm_no_count=perhaps",
        ] {
            assert!(Params::parse(Some(q)).is_err(), "{q}");
        }
    }
}
