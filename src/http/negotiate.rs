//! Choosing the response format from `Accept` and the body format from `Content-Type`.

/// The two representations the platform speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=UTF-8",
            Format::Xml => "application/xml;charset=UTF-8",
        }
    }
}

/// In a handler: the response format [`super::conventions`] negotiated for this request (JSON
/// where nothing negotiated one).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Format {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Format>()
            .copied()
            .unwrap_or(Format::Json))
    }
}

/// What a media type (without parameters) names, if anything we speak.
fn media(mime: &str) -> Option<Format> {
    let mime = mime.trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" | "text/json" => Some(Format::Json),
        "application/xml" | "text/xml" => Some(Format::Xml),
        m if m.ends_with("+json") => Some(Format::Json),
        m if m.ends_with("+xml") => Some(Format::Xml),
        _ => None,
    }
}

/// The response format for an `Accept` header: the acceptable format with the highest quality
/// (earliest on a tie); JSON for no header, `*/*` or `application/*`; `None` if nothing fits.
pub fn accept(header: Option<&str>) -> Option<Format> {
    let header = match header.map(str::trim) {
        None | Some("") => return Some(Format::Json),
        Some(h) => h,
    };
    let mut best: Option<(f32, Format)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match mime.as_str() {
            "*/*" | "application/*" => Some(Format::Json),
            m => media(m),
        };
        if let Some(format) = format
            && q > 0.0
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f)
}

/// A `Content-Type` naming neither JSON nor XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unsupported media type")]
pub struct Unsupported;

/// The body format a `Content-Type` names: `Ok(None)` when absent.
pub fn content_type(header: Option<&str>) -> Result<Option<Format>, Unsupported> {
    match header {
        None => Ok(None),
        Some(h) => media(h.split(';').next().unwrap_or_default())
            .map(Some)
            .ok_or(Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_defaults_to_json() {
        assert_eq!(accept(None), Some(Format::Json));
        assert_eq!(accept(Some("*/*")), Some(Format::Json));
        assert_eq!(accept(Some("application/json")), Some(Format::Json));
    }

    #[test]
    fn accept_picks_xml_by_name_or_quality() {
        assert_eq!(accept(Some("application/xml")), Some(Format::Xml));
        assert_eq!(accept(Some("text/xml")), Some(Format::Xml));
        assert_eq!(accept(Some("application/atom+xml")), Some(Format::Xml));
        assert_eq!(
            accept(Some("application/json;q=0.5, application/xml")),
            Some(Format::Xml)
        );
        assert_eq!(
            accept(Some("text/html, application/xml;q=0.9")),
            Some(Format::Xml)
        );
    }

    #[test]
    fn accept_refuses_what_we_do_not_speak() {
        assert_eq!(accept(Some("text/html")), None);
        assert_eq!(accept(Some("application/json;q=0")), None);
        assert_eq!(accept(Some("image/png, text/plain")), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type(None), Ok(None));
        assert_eq!(
            content_type(Some("application/json; charset=utf-8")),
            Ok(Some(Format::Json))
        );
        assert_eq!(content_type(Some("TEXT/XML")), Ok(Some(Format::Xml)));
        assert_eq!(content_type(Some("text/plain")), Err(Unsupported));
        assert_eq!(
            content_type(Some("application/x-www-form-urlencoded")),
            Err(Unsupported)
        );
    }
}
