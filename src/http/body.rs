//! The request body extractor: JSON or XML by `Content-Type`, read to a JSON value, with the
//! platform's size limit and errors in the platform's envelope.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::Value as Json;

use super::error::ApiError;
use super::negotiate::{self, Format};
use super::xml;

/// A request body read as JSON (`Json::Null` when the request has no body), and the format it
/// was written in.
#[derive(Debug)]
pub struct Body {
    pub value: Json,
    pub format: Option<Format>,
}

/// Why a body could not be read. Each is an answer in the platform's envelope (through
/// [`ApiError`]); an API whose documented failures have a shape of their own (the Agent
/// Mapping API) matches on the kind instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRejection {
    /// Too large, malformed, or not an object of fields: 400 "Exception while reading request".
    Unreadable(String),
    /// The body did not arrive within the body timeout: 408.
    TooSlow(String),
    /// Neither JSON nor XML: 415.
    UnsupportedType(String),
}

impl From<BodyRejection> for ApiError {
    fn from(rejection: BodyRejection) -> ApiError {
        match rejection {
            BodyRejection::Unreadable(detail) => ApiError::unreadable(detail),
            BodyRejection::TooSlow(detail) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "Exception while reading request",
                Some(detail),
            ),
            BodyRejection::UnsupportedType(detail) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
                Some(detail),
            ),
        }
    }
}

impl axum::response::IntoResponse for BodyRejection {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}

impl Body {
    /// The body as an object of fields; an empty body is an empty object.
    pub fn into_object(self) -> Result<serde_json::Map<String, Json>, BodyRejection> {
        match self.value {
            Json::Object(map) => Ok(map),
            Json::Null => Ok(serde_json::Map::new()),
            _ => Err(BodyRejection::Unreadable(
                "The payload must be an object of fields".into(),
            )),
        }
    }

    /// The body as an API's typed request: an object of fields (an empty body is an empty
    /// object), whatever the format it came in. The request type decides how lenient each
    /// field is; what it cannot take is unreadable.
    pub fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, BodyRejection> {
        let object = Json::Object(self.into_object()?);
        serde_json::from_value(object).map_err(|e| {
            BodyRejection::Unreadable(format!("The payload does not fit this resource: {e}"))
        })
    }
}

fn too_large(length: impl std::fmt::Display, limit: usize) -> BodyRejection {
    BodyRejection::Unreadable(format!(
        "Rejected large REST payload with content-length = {length} bytes. Max allowed: {limit} bytes."
    ))
}

/// How much of a body is read, and for how long: the part of the server's state the extractor
/// needs.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bodies above this are refused (the platform's default is 10 MB).
    pub max_bytes: usize,
    /// How long a client may take to send its body.
    pub timeout: Duration,
}

impl<S: Send + Sync> FromRequest<S> for Body
where
    BodyLimits: FromRef<S>,
{
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, BodyRejection> {
        let BodyLimits {
            max_bytes: limit,
            timeout,
        } = BodyLimits::from_ref(state);
        let headers = req.headers();
        // Refuse by the announced length before reading a byte of it.
        if let Some(length) = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && length > limit as u64
        {
            return Err(too_large(length, limit));
        }
        let declared = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?"));
        // An unsupported type is refused before the body is read.
        let format = format_of(declared)?;
        // A client that trickles its body is cut off, not waited for.
        let reading = axum::body::to_bytes(req.into_body(), limit);
        let bytes: Bytes = tokio::time::timeout(timeout, reading)
            .await
            .map_err(|_| {
                BodyRejection::TooSlow(format!(
                    "The request body did not arrive within {} seconds",
                    timeout.as_secs()
                ))
            })?
            .map_err(|_| too_large(format!("more than {limit}"), limit))?;
        decode(format, &bytes)
    }
}

/// What a body reads as, given its `Content-Type` header (the header's text; `None` when there
/// is none) and its bytes: the extractor's work once the bytes have arrived, without the size
/// limit and the timeout that apply while they arrive. A 415 for a type that is neither JSON
/// nor XML, a 400 for what cannot be read.
pub fn read(content_type: Option<&str>, bytes: &[u8]) -> Result<Body, ApiError> {
    Ok(decode(format_of(content_type)?, bytes)?)
}

/// The format a `Content-Type` header names: `None` without a header, a 415 for another type.
fn format_of(declared: Option<&str>) -> Result<Option<Format>, BodyRejection> {
    negotiate::content_type(declared).map_err(|_| {
        BodyRejection::UnsupportedType(format!(
            "Content-Type '{}' is not supported: use application/json or application/xml",
            declared.unwrap_or_default()
        ))
    })
}

/// Reads the bytes of a body in `format`; a blank body is no body (`Json::Null`).
fn decode(format: Option<Format>, bytes: &[u8]) -> Result<Body, BodyRejection> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Body {
            value: Json::Null,
            format,
        });
    }
    let value = match format {
        None => {
            return Err(BodyRejection::Unreadable(
                "A request with a body must have a Content-Type header (application/json or application/xml)".into(),
            ));
        }
        // Numbers keep their text as sent (serde_json's `arbitrary_precision`, see Cargo.toml):
        // a text field stores the digits, an integer field refuses what does not fit its range.
        Some(Format::Json) => serde_json::from_slice::<Json>(bytes).map_err(|e| {
            BodyRejection::Unreadable(format!("The payload is not valid JSON: {e}"))
        })?,
        Some(Format::Xml) => xml::read(bytes)
            .map_err(|e| BodyRejection::Unreadable(format!("The payload is not valid XML: {e}")))?,
    };
    Ok(Body { value, format })
}

#[cfg(test)]
mod properties {
    //! Property tests (proptest) of the body extractor, called as axum calls it
    //! (`Body::from_request` on a built request, with the limits as its state). Each property runs 256 cases; set
    //! `PROPTEST_CASES` (read by proptest itself) for a longer run, e.g.
    //! `PROPTEST_CASES=100000 cargo test --lib body::properties`.

    use proptest::prelude::*;
    use proptest::test_runner::{TestCaseError, TestRunner};

    use super::*;

    /// A small body limit, so that properties reach it.
    const LIMIT: usize = 2048;

    /// serde_json's nesting limit: 127 levels of arrays or objects are read, 128 are refused.
    const JSON_DEPTH: usize = 127;

    const JSON_TYPES: &[&str] = &[
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/json",
        "application/vnd.api+json",
    ];
    const XML_TYPES: &[&str] = &[
        "application/xml",
        "text/xml; charset=UTF-8",
        "application/atom+xml",
    ];

    /// The limits `Body` reads, and a runtime to call it on.
    struct Reader {
        runtime: tokio::runtime::Runtime,
        limits: BodyLimits,
    }

    impl Reader {
        fn new() -> Reader {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let limits = BodyLimits {
                max_bytes: LIMIT,
                timeout: Duration::from_secs(30),
            };
            Reader { runtime, limits }
        }

        fn read(&self, headers: &[(&str, String)], body: Vec<u8>) -> Result<Body, ApiError> {
            let mut request = Request::builder()
                .method("POST")
                .uri("/api/now/table/sys_user");
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let request = request
                .body(axum::body::Body::from(body))
                .expect("a request");
            self.runtime
                .block_on(Body::from_request(request, &self.limits))
                .map_err(ApiError::from)
        }
    }

    /// Runs `test` on `strategy`'s values against one `Reader`, with proptest's defaults
    /// (including `PROPTEST_CASES`), writing no regression files into the source tree.
    fn check<S: Strategy>(
        strategy: S,
        test: impl Fn(&Reader, S::Value) -> Result<(), TestCaseError>,
    ) {
        let reader = Reader::new();
        let mut runner = TestRunner::new(crate::proptest_config::config());
        if let Err(e) = runner.run(&strategy, |value| test(&reader, value)) {
            panic!("{e}");
        }
    }

    fn unreadable(e: &ApiError) -> bool {
        e.status == StatusCode::BAD_REQUEST && e.message == "Exception while reading request"
    }

    fn too_large(e: &ApiError) -> bool {
        unreadable(e)
            && e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("Rejected large REST payload"))
    }

    fn content_type(types: Vec<&'static str>) -> impl Strategy<Value = (&'static str, String)> {
        prop::sample::select(types).prop_map(|t| ("content-type", t.to_owned()))
    }

    fn json_or_xml() -> Vec<&'static str> {
        [JSON_TYPES, XML_TYPES].concat()
    }

    /// Any JSON whose numbers are integers (serde_json's default float parsing is best-effort,
    /// not a round trip).
    fn any_json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<String>().prop_map(Json::String),
        ];
        leaf.prop_recursive(6, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..5)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn json_bodies_read_as_the_value_sent() {
        let strategy = (
            any_json(),
            any::<bool>(),
            any::<bool>(),
            content_type(JSON_TYPES.to_vec()),
        );
        check(
            strategy,
            |reader, (value, pretty, with_length, content_type)| {
                let bytes = match pretty {
                    true => serde_json::to_vec_pretty(&value).unwrap(),
                    false => serde_json::to_vec(&value).unwrap(),
                };
                let mut headers = vec![content_type];
                if with_length {
                    headers.push(("content-length", bytes.len().to_string()));
                }
                let size = bytes.len();
                match reader.read(&headers, bytes) {
                    Ok(body) => {
                        prop_assert!(size <= LIMIT);
                        prop_assert_eq!(body.value, value);
                        prop_assert_eq!(body.format, Some(Format::Json));
                    }
                    Err(e) => {
                        prop_assert!(size > LIMIT && too_large(&e), "{} bytes: {:?}", size, e)
                    }
                }
                Ok(())
            },
        );
    }

    #[test]
    fn any_bytes_are_read_or_refused_with_a_400() {
        let strategy = (
            prop::collection::vec(any::<u8>(), 0..1024),
            content_type(json_or_xml()),
        );
        check(strategy, |reader, (bytes, content_type)| {
            if let Err(e) = reader.read(&[content_type], bytes) {
                prop_assert!(unreadable(&e), "{:?}", e);
            }
            Ok(())
        });
    }

    #[test]
    fn blank_bodies_are_no_body_whatever_the_type() {
        let blank = prop::collection::vec(prop::sample::select(&b" \t\n\r\x0c"[..]), 0..64);
        let strategy = (blank, prop::option::of(content_type(json_or_xml())));
        check(strategy, |reader, (bytes, content_type)| {
            let headers: Vec<_> = content_type.into_iter().collect();
            let body = reader.read(&headers, bytes);
            prop_assert!(
                matches!(
                    body,
                    Ok(Body {
                        value: Json::Null,
                        ..
                    })
                ),
                "{:?}",
                body
            );
            Ok(())
        });
    }

    #[test]
    fn bodies_over_the_limit_are_refused_announced_or_not() {
        let strategy = (
            LIMIT + 1..4 * LIMIT,
            prop::option::of(0u64..u64::MAX),
            content_type(JSON_TYPES.to_vec()),
        );
        check(strategy, |reader, (size, announced, content_type)| {
            // A JSON string of exactly `size` bytes.
            let bytes = format!("\"{}\"", "x".repeat(size - 2)).into_bytes();
            let mut headers = vec![content_type.clone()];
            if let Some(length) = announced {
                headers.push(("content-length", length.to_string()));
            }
            let e = reader.read(&headers, bytes).expect_err("over the limit");
            prop_assert!(too_large(&e), "{:?}", e);
            // Announcing more than the limit is refused before a byte is read.
            let headers = [content_type, ("content-length", (size as u64).to_string())];
            let e = reader
                .read(&headers, b"{}".to_vec())
                .expect_err("announced too large");
            prop_assert!(too_large(&e), "{:?}", e);
            Ok(())
        });
    }

    #[test]
    fn json_nesting_is_bounded() {
        let strategy = (
            1usize..=4 * JSON_DEPTH,
            any::<bool>(),
            content_type(JSON_TYPES.to_vec()),
        );
        check(strategy, |reader, (depth, objects, content_type)| {
            let (open, close) = match objects {
                true => ("{\"a\":", "}"),
                false => ("[", "]"),
            };
            let bytes = format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes();
            let size = bytes.len();
            match reader.read(&[content_type], bytes) {
                Ok(_) => prop_assert!(depth <= JSON_DEPTH && size <= LIMIT, "depth {}", depth),
                Err(e) => {
                    prop_assert!(unreadable(&e), "{:?}", e);
                    prop_assert!(
                        depth > JSON_DEPTH || size > LIMIT,
                        "depth {}: {:?}",
                        depth,
                        e
                    );
                }
            }
            Ok(())
        });
    }

    #[test]
    fn other_media_types_are_415_and_a_body_without_a_type_is_400() {
        let other = "[a-z]{1,10}/[a-z.-]{1,12}".prop_filter("names neither JSON nor XML", |t| {
            !(t.ends_with("json") || t.ends_with("xml"))
        });
        let strategy = (other, prop::collection::vec(any::<u8>(), 0..64));
        check(strategy, |reader, (media, bytes)| {
            let e = reader
                .read(&[("content-type", media.clone())], bytes.clone())
                .expect_err("an unsupported type");
            prop_assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", media);
            let mut text = bytes;
            text.push(b'x');
            let e = reader.read(&[], text).expect_err("a body without a type");
            prop_assert!(unreadable(&e), "{:?}", e);
            Ok(())
        });
    }
}
