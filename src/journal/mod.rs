//! The request journal: every request and response this server answered (and every outbound
//! delivery attempt), kept in a bounded ring in memory, for tests and the console to ask what
//! happened (docs/control-plane.md, "The request journal").
//!
//! [`record`] is a middleware around the whole router. It notes the request when it arrives,
//! copies at most `--journal-body-bytes` of each body as the body passes (never holding a whole
//! body), and pushes one [`Entry`] when the response body ends or is dropped. What only the
//! inside knows (the caller's user name, the matched API and route) is written into a [`Note`]
//! the middleware puts on the request: by the `auth::Caller` extractor ([`note_user`]) and by
//! the router ([`note_api`], [`note_route`]). A fault-injection layer marks a response it
//! changed with a [`FaultNote`] extension.
//!
//! Recording is cheap: the headers are copied as they are (sensitive ones replaced by `***`),
//! bodies up to the cap, and the lock is held only to number and push an entry. Everything
//! that costs (JSON, base64, time formatting) happens when someone reads the journal.

mod body;
mod filter;

pub use filter::{Compiled, Criteria, CriteriaError};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Extensions, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde::ser::{SerializeMap, SerializeStruct};
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::http::conventions::TRANSACTION_ID;
use crate::http::faults::FaultNote;

/// The prefix of the journal's own routes, whose requests are not recorded.
pub const OWN_ROUTES: &str = "/_switchboard/journal";

/// An inbound request and its response, or an outbound delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Inbound,
    Outbound,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Inbound => "inbound",
            Kind::Outbound => "outbound",
        }
    }
}

/// A body as kept: at most the cap, and whether there was more.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// A copy of the first `cap` bytes. Always a copy, never the frame itself: a frame's
    /// buffer may own more than bytes (a Table API page's buffer holds the page's reservation
    /// of the records budget until it is freed), and an entry lives long after its answer.
    copied: Vec<u8>,
    pub truncated: bool,
}

impl Captured {
    /// A body known whole (an outbound request), cut at `cap`.
    pub fn of(bytes: &[u8], cap: usize) -> Captured {
        Captured {
            copied: bytes[..bytes.len().min(cap)].to_vec(),
            truncated: bytes.len() > cap,
        }
    }

    /// The bytes kept.
    pub fn bytes(&self) -> &[u8] {
        &self.copied
    }

    /// Copies what of `chunk` still fits under `cap`.
    fn take(&mut self, chunk: &Bytes, cap: usize) {
        let room = cap.saturating_sub(self.copied.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.copied
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

/// One journal entry. Serialised for readers as documented in docs/control-plane.md.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    pub kind: Kind,
    pub time: OffsetDateTime,
    pub duration: std::time::Duration,
    pub method: Method,
    /// The request path; for an outbound delivery, the provider's endpoint URL.
    pub path: String,
    pub query: Option<String>,
    pub request_headers: HeaderMap,
    pub request_body: Captured,
    /// None when no response came (an outbound transport error).
    pub status: Option<u16>,
    pub response_headers: HeaderMap,
    pub response_body: Captured,
    pub user: Option<String>,
    pub api: Option<&'static str>,
    pub route: Option<Arc<str>>,
    pub transaction_id: Option<String>,
    pub fault: Option<String>,
    /// Outbound only.
    pub outbound: Option<Outbound>,
}

/// What an outbound entry has besides the request and response.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub provider: String,
    pub event_type: String,
    pub event_id: String,
    pub attempt: i64,
    pub error: Option<String>,
}

/// The ring and the live stream. Cheap to clone.
#[derive(Clone)]
pub struct Journal(Arc<Inner>);

struct Inner {
    capacity: usize,
    body_bytes: usize,
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<Entry>>,
}

#[derive(Default)]
struct Ring {
    last_id: u64,
    entries: VecDeque<Arc<Entry>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("capacity", &self.0.capacity)
            .field("body_bytes", &self.0.body_bytes)
            .finish()
    }
}

/// How many entries a slow stream reader may fall behind before it is told it lost some.
const LIVE_BACKLOG: usize = 1024;

impl Journal {
    /// A journal keeping the last `capacity` entries (at least 1) and `body_bytes` of each body.
    pub fn new(capacity: usize, body_bytes: usize) -> Journal {
        let capacity = capacity.max(1);
        Journal(Arc::new(Inner {
            capacity,
            body_bytes,
            ring: Mutex::new(Ring {
                last_id: 0,
                entries: VecDeque::with_capacity(capacity.min(65_536)),
            }),
            live: broadcast::channel(LIVE_BACKLOG).0,
        }))
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity
    }

    /// The most of a body an entry keeps.
    pub fn body_bytes(&self) -> usize {
        self.0.body_bytes
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic while the lock is held leaves a ring that is still whole.
        self.0.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers `entry`, keeps it (dropping the oldest past the capacity) and sends it to the
    /// live readers.
    pub fn push(&self, mut entry: Entry) {
        let evicted;
        {
            let mut ring = self.ring();
            ring.last_id += 1;
            entry.id = ring.last_id;
            let entry = Arc::new(entry);
            evicted = match ring.entries.len() >= self.0.capacity {
                true => ring.entries.pop_front(),
                false => None,
            };
            // Under the lock, so that readers receive entries in the order of their ids.
            if self.0.live.receiver_count() > 0 {
                let _ = self.0.live.send(entry.clone());
            }
            ring.entries.push_back(entry);
        }
        // Freed outside the lock.
        drop(evicted);
    }

    /// Every entry kept, oldest first.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.ring().entries.iter().cloned().collect()
    }

    /// The entries matching `criteria`, oldest first: the newest `limit` of them.
    pub fn select(&self, criteria: &Compiled, limit: usize) -> Vec<Arc<Entry>> {
        let all = self.entries();
        let mut found: Vec<Arc<Entry>> = all
            .into_iter()
            .rev()
            .filter(|e| criteria.matches(e))
            .take(limit)
            .collect();
        found.reverse();
        found
    }

    /// How many entries match `criteria`.
    pub fn count(&self, criteria: &Compiled) -> usize {
        self.entries()
            .iter()
            .filter(|e| criteria.matches(e))
            .count()
    }

    /// Forgets every entry (ids keep increasing).
    pub fn clear(&self) {
        let old = std::mem::take(&mut self.ring().entries);
        drop(old);
    }

    /// The entries pushed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Entry>> {
        self.0.live.subscribe()
    }

    /// Records an outbound delivery attempt.
    #[allow(clippy::too_many_arguments)]
    pub fn outbound(
        &self,
        url: &str,
        request_headers: HeaderMap,
        request_body: &[u8],
        answer: Option<(u16, HeaderMap, Captured)>,
        duration: std::time::Duration,
        outbound: Outbound,
    ) {
        let request_headers = masked(&request_headers);
        let (status, response_headers, response_body) = match answer {
            Some((status, headers, body)) => (Some(status), masked(&headers), body),
            None => (None, HeaderMap::new(), Captured::default()),
        };
        let time = OffsetDateTime::now_utc() - duration;
        self.push(Entry {
            id: 0,
            kind: Kind::Outbound,
            time,
            duration,
            method: Method::POST,
            path: url.to_owned(),
            query: None,
            request_headers,
            request_body: Captured::of(request_body, self.0.body_bytes),
            status,
            response_headers,
            response_body,
            user: None,
            api: None,
            route: None,
            transaction_id: None,
            fault: None,
            outbound: Some(outbound),
        })
    }
}

/// What the inside of the router learns about a request: its caller, API and route. Put on
/// the request by [`record`]; absent when the journal is off (the writers then do nothing).
#[derive(Debug, Default)]
pub struct Note(Mutex<Noted>);

#[derive(Debug, Default)]
struct Noted {
    user: Option<String>,
    api: Option<&'static str>,
    route: Option<Arc<str>>,
    /// A fault injected for the request, known before any answer (a request whose client
    /// left during an injected latency has none).
    fault: Option<String>,
}

impl Note {
    fn with(extensions: &Extensions, write: impl FnOnce(&mut Noted)) {
        if let Some(note) = extensions.get::<Arc<Note>>() {
            write(&mut note.0.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    fn take(&self) -> Noted {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The authenticated caller's user name (the first one noted: a batch's own caller).
pub fn note_user(extensions: &Extensions, user_name: &str) {
    Note::with(extensions, |n| {
        if n.user.is_none() {
            n.user = Some(user_name.to_owned());
        }
    });
}

/// The name of the API whose route matched (`auth::rate_limit::Api::name`, or `switchboard`).
pub fn note_api(extensions: &Extensions, api: &'static str) {
    Note::with(extensions, |n| n.api = Some(api));
}

/// The route template that matched (axum's `MatchedPath`).
pub fn note_route(extensions: &Extensions, route: &str) {
    Note::with(extensions, |n| {
        if n.route.is_none() {
            n.route = Some(route.into());
        }
    });
}

/// A fault injected for the request (`http::faults::FaultNote`'s words).
pub fn note_fault(extensions: &Extensions, fault: &str) {
    Note::with(extensions, |n| n.fault = Some(fault.to_owned()));
}

/// Whether a request path is one of the journal's own routes (not recorded).
fn is_own(path: &str) -> bool {
    path.strip_prefix(OWN_ROUTES)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The value a sensitive header is shown as.
const MASK: HeaderValue = HeaderValue::from_static("***");

/// Whether a header's value is a credential: shown as `***`.
pub fn is_sensitive(name: &HeaderName) -> bool {
    if matches!(
        *name,
        header::AUTHORIZATION | header::COOKIE | header::SET_COOKIE | header::PROXY_AUTHORIZATION
    ) {
        return true;
    }
    // Header names are lower case.
    let name = name.as_str();
    name == "x-usertoken"
        || ["token", "secret", "password", "signature"]
            .iter()
            .any(|word| name.contains(word))
}

/// A copy of `headers` with every credential's value replaced by `***`.
pub fn masked(headers: &HeaderMap) -> HeaderMap {
    let mut copy = headers.clone();
    for (name, value) in copy.iter_mut() {
        if is_sensitive(name) {
            *value = MASK;
        }
    }
    copy
}

/// The middleware: records every request but the journal's own.
pub async fn record(State(journal): State<Journal>, req: Request, next: Next) -> Response {
    if is_own(req.uri().path()) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let time = OffsetDateTime::now_utc();
    let (mut parts, body) = req.into_parts();
    let note = Arc::new(Note::default());
    parts.extensions.insert(note.clone());
    let request_body = Arc::new(Mutex::new(Captured::default()));
    let body = body::tap_request(body, journal.0.body_bytes, request_body.clone());
    let pending = Pending {
        journal: journal.clone(),
        started,
        time,
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        request_headers: masked(&parts.headers),
        request_body,
        note,
    };
    let mut unanswered = Unanswered(Some(pending));
    let response = next.run(Request::from_parts(parts, body)).await;
    let pending = unanswered.0.take().expect("taken once, here");
    let (parts, body) = response.into_parts();
    let answered = Answered {
        pending,
        status: parts.status.as_u16(),
        response_headers: masked(&parts.headers),
        transaction_id: parts
            .headers
            .get(TRANSACTION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        fault: parts.extensions.get::<FaultNote>().map(|f| f.0.clone()),
    };
    let body = body::tap_response(body, journal.0.body_bytes, answered);
    Response::from_parts(parts, body)
}

/// What is known of a request once it arrived.
struct Pending {
    journal: Journal,
    started: Instant,
    time: OffsetDateTime,
    method: Method,
    path: String,
    query: Option<String>,
    request_headers: HeaderMap,
    request_body: Arc<Mutex<Captured>>,
    note: Arc<Note>,
}

impl Pending {
    /// Records the request with what came of it: its answer, or none (`status` None).
    fn record(self, answer: Option<Answer>) {
        let noted = self.note.take();
        let request_body =
            std::mem::take(&mut *self.request_body.lock().unwrap_or_else(|e| e.into_inner()));
        let answer = answer.unwrap_or_default();
        self.journal.push(Entry {
            id: 0,
            kind: Kind::Inbound,
            time: self.time,
            duration: self.started.elapsed(),
            method: self.method,
            path: self.path,
            query: self.query,
            request_headers: self.request_headers,
            request_body,
            status: answer.status,
            response_headers: answer.headers,
            response_body: answer.body,
            user: noted.user,
            api: noted.api,
            route: noted.route,
            transaction_id: answer.transaction_id,
            fault: answer.fault.or(noted.fault),
            outbound: None,
        });
    }
}

/// What came back for a request.
#[derive(Default)]
struct Answer {
    status: Option<u16>,
    headers: HeaderMap,
    body: Captured,
    transaction_id: Option<String>,
    fault: Option<String>,
}

/// A request not answered yet. When the client goes away first, the request is dropped before
/// it has an answer, and so is this: the entry is recorded then, without a status.
struct Unanswered(Option<Pending>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
            pending.record(None);
        }
    }
}

/// What is known once the response's head is out; the body follows.
struct Answered {
    pending: Pending,
    status: u16,
    response_headers: HeaderMap,
    transaction_id: Option<String>,
    fault: Option<String>,
}

impl Answered {
    /// The response body ended (or was dropped): the entry is complete.
    fn finish(self, response_body: Captured) {
        self.pending.record(Some(Answer {
            status: Some(self.status),
            headers: self.response_headers,
            body: response_body,
            transaction_id: self.transaction_id,
            fault: self.fault,
        }));
    }
}

// Reading the journal: entries as JSON.

/// `2026-11-28T12:34:56.789Z`.
pub fn rfc3339_ms(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Headers as a JSON object; a repeated header's values joined with `, `.
struct HeadersJson<'a>(&'a HeaderMap);

impl serde::Serialize for HeadersJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.keys_len()))?;
        for name in self.0.keys() {
            let values: Vec<String> = self
                .0
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            map.serialize_entry(name.as_str(), &values.join(", "))?;
        }
        map.end()
    }
}

/// A body as text when it is UTF-8 (a character cut by the cap is dropped), else base64.
fn body_text(captured: &Captured) -> (String, &'static str) {
    let bytes = captured.bytes();
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), "text"),
        Err(e) if captured.truncated && e.error_len().is_none() => {
            let text = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            (text.to_owned(), "text")
        }
        Err(_) => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            (encoded, "base64")
        }
    }
}

impl serde::Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut e = s.serialize_struct("Entry", 27)?;
        e.serialize_field("id", &self.id)?;
        e.serialize_field("kind", &self.kind)?;
        e.serialize_field("time", &rfc3339_ms(self.time))?;
        let ms = (self.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        e.serialize_field("duration_ms", &ms)?;
        e.serialize_field("method", self.method.as_str())?;
        e.serialize_field("path", &self.path)?;
        e.serialize_field("query", &self.query)?;
        e.serialize_field("request_headers", &HeadersJson(&self.request_headers))?;
        let (text, encoding) = body_text(&self.request_body);
        e.serialize_field("request_body", &text)?;
        e.serialize_field("request_body_encoding", encoding)?;
        e.serialize_field("request_body_truncated", &self.request_body.truncated)?;
        e.serialize_field("status", &self.status)?;
        e.serialize_field("response_headers", &HeadersJson(&self.response_headers))?;
        let (text, encoding) = body_text(&self.response_body);
        e.serialize_field("response_body", &text)?;
        e.serialize_field("response_body_encoding", encoding)?;
        e.serialize_field("response_body_truncated", &self.response_body.truncated)?;
        e.serialize_field("user", &self.user)?;
        e.serialize_field("api", &self.api)?;
        e.serialize_field("route", &self.route.as_deref())?;
        e.serialize_field("transaction_id", &self.transaction_id)?;
        e.serialize_field("fault", &self.fault)?;
        let outbound = self.outbound.as_ref();
        e.serialize_field("provider", &outbound.map(|o| &o.provider))?;
        e.serialize_field("event_type", &outbound.map(|o| &o.event_type))?;
        e.serialize_field("event_id", &outbound.map(|o| &o.event_id))?;
        e.serialize_field("attempt", &outbound.map(|o| o.attempt))?;
        e.serialize_field("error", &outbound.and_then(|o| o.error.as_ref()))?;
        e.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        let mut headers = HeaderMap::new();
        for name in [
            "authorization",
            "cookie",
            "set-cookie",
            "x-usertoken",
            "x-api-token",
            "x-client-secret",
            "x-password",
            "x-sn-signature",
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from_static("s"));
        }
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let shown = masked(&headers);
        for (name, value) in &shown {
            match *name {
                header::ACCEPT => assert_eq!(value, "application/json"),
                _ => assert_eq!(value, "***", "{name}"),
            }
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_numbers_them() {
        let journal = Journal::new(3, 16);
        for _ in 0..5 {
            journal.outbound(
                "http://x/",
                HeaderMap::new(),
                b"{}",
                None,
                std::time::Duration::ZERO,
                Outbound {
                    provider: "p".into(),
                    event_type: "t".into(),
                    event_id: "e".into(),
                    attempt: 1,
                    error: None,
                },
            );
        }
        let ids: Vec<u64> = journal.entries().iter().map(|e| e.id).collect();
        assert_eq!(ids, [3, 4, 5]);
        journal.clear();
        assert!(journal.entries().is_empty());
    }

    #[test]
    fn bodies_are_text_or_base64() {
        let cut = Captured::of("héllo".as_bytes(), 2);
        assert_eq!(body_text(&cut), ("h".into(), "text"));
        let binary = Captured::of(&[0xff, 0x00], 10);
        assert_eq!(body_text(&binary), ("/wA=".into(), "base64"));
        assert!(is_own("/_switchboard/journal"));
        assert!(is_own("/_switchboard/journal/count"));
        assert!(!is_own("/_switchboard/journals"));
    }
}
