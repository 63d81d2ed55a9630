//! The base of every URL switchboard builds (reference links, paging links, `Location`): the
//! address the client used to reach it, or the one the operator gave (`--public-url`).
//!
//! HTTP/1.1 names the host in the `Host` header; HTTP/2 has no `Host` header and names it in
//! the request's authority (`:authority`), which is also where an HTTP/1.1 request in absolute
//! form puts it. The authority wins when both are present (RFC 9112 §3.2.2, RFC 9113
//! §8.3.1). Behind a proxy neither is the public address, hence `--public-url`.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::uri::{Authority, Scheme, Uri};
use axum::http::{HeaderValue, header};

use super::Connection;

/// The operator's public base URL: `scheme://host[:port][/prefix]`, kept without a trailing
/// slash so that a request's path can be appended to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(Arc<str>);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PublicUrl {
    type Err = String;

    fn from_str(given: &str) -> Result<Self, String> {
        let uri: Uri = given
            .parse()
            .map_err(|e| format!("'{given}' is not a URL: {e}"))?;
        let scheme = uri
            .scheme()
            .filter(|s| **s == Scheme::HTTP || **s == Scheme::HTTPS);
        if scheme.is_none() || uri.authority().is_none() {
            return Err(format!(
                "'{given}' must be an absolute http or https URL, such as https://switchboard.example.com"
            ));
        }
        if uri.query().is_some() || given.contains('#') {
            return Err(format!("'{given}' may not have a query or a fragment"));
        }
        Ok(PublicUrl(given.trim_end_matches('/').into()))
    }
}

/// `scheme://host[:port][/prefix]` for this request: the public URL when one is configured;
/// otherwise https on a TLS connection or when a proxy says so (`X-Forwarded-Proto: https`),
/// and the request's authority, else its `Host`, else `localhost`.
pub struct BaseUrl(pub String);

impl<S> FromRequestParts<S> for BaseUrl
where
    S: Send + Sync,
    Option<PublicUrl>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(public) = Option::<PublicUrl>::from_ref(state) {
            return Ok(BaseUrl(public.as_str().to_owned()));
        }
        Ok(BaseUrl(of_request(parts)))
    }
}

/// The base URL a request's own headers and connection give.
fn of_request(parts: &Parts) -> String {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let tls = parts.extensions.get::<Connection>().is_some_and(|c| c.tls);
    let scheme = match tls || header("x-forwarded-proto") == Some("https") {
        true => "https",
        false => "http",
    };
    let host = parts
        .uri
        .authority()
        .map(host_and_port)
        .or_else(|| {
            // Checked as an authority, so that a forged `Host` cannot put anything else into
            // the URLs built from it.
            header(header::HOST.as_str())
                .and_then(|h| h.parse::<Authority>().ok())
                .map(|a| host_and_port(&a))
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{scheme}://{host}")
}

/// An authority without its user information (`user@` has no place in a link).
fn host_and_port(authority: &Authority) -> String {
    let text = authority.as_str();
    text.rsplit_once('@')
        .map_or(text, |(_, host)| host)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn base(request: Request<()>, tls: bool) -> String {
        let (mut parts, ()) = request.into_parts();
        parts.extensions.insert(Connection {
            peer: "127.0.0.1:1".parse().unwrap(),
            tls,
        });
        of_request(&parts)
    }

    #[test]
    fn the_authority_wins_over_host_and_host_over_nothing() {
        let h2 = Request::get("https://sb.test:8443/api/now/table/x")
            .body(())
            .unwrap();
        assert_eq!(base(h2, true), "https://sb.test:8443");
        let both = Request::get("http://a.test:1/x")
            .header("host", "b.test:2")
            .body(())
            .unwrap();
        assert_eq!(base(both, false), "http://a.test:1");
        let host = Request::get("/x")
            .header("host", "b.test:2")
            .body(())
            .unwrap();
        assert_eq!(base(host, false), "http://b.test:2");
        let none = Request::get("/x").body(()).unwrap();
        assert_eq!(base(none, false), "http://localhost");
    }

    #[test]
    fn user_information_and_forged_hosts_stay_out() {
        let userinfo = Request::get("http://u:p@a.test/x").body(()).unwrap();
        assert_eq!(base(userinfo, false), "http://a.test");
        let forged = Request::get("/x")
            .header("host", "a.test/evil?x")
            .body(())
            .unwrap();
        assert_eq!(base(forged, false), "http://localhost");
        let proxied = Request::get("/x")
            .header("host", "a.test")
            .header("x-forwarded-proto", "https")
            .body(())
            .unwrap();
        assert_eq!(base(proxied, false), "https://a.test");
    }

    #[test]
    fn a_public_url_is_absolute_http_without_query_and_loses_its_trailing_slash() {
        let public: PublicUrl = "https://sb.example.com/servicenow/".parse().unwrap();
        assert_eq!(public.as_str(), "https://sb.example.com/servicenow");
        assert_eq!(
            "http://sb:8080".parse::<PublicUrl>().unwrap().as_str(),
            "http://sb:8080"
        );
        for bad in [
            "sb.example.com",
            "/prefix",
            "ftp://sb",
            "https://sb/?q=1",
            "https://sb/#f",
            "",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad}");
        }
    }
}
