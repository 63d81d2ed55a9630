//! The request journal: every request and response this server answered (and every outbound
//! delivery attempt), kept in a bounded ring in memory, for tests and the console to ask what
//! happened (docs/control-plane.md, "The request journal").
//!
//! [`Record`] is a layer around the whole router, which the server puts on each connection's
//! service. It notes the request when it arrives, copies at most `--journal-body-bytes` of each
//! body as the body passes (never holding a whole body), and pushes one [`Entry`] when the
//! response body ends or is dropped. What only the inside knows (the caller's user name, the
//! matched API and route) is written into a [`Note`] the middleware puts on the request: by the
//! `auth::Caller` extractor ([`note_user`]) and by the layer that marks the matched route
//! ([`note_match`]). A fault-injection layer marks a response it changed with a
//! `http::faults::FaultNote` extension.
//!
//! Recording is cheap: the headers are copied as they are (sensitive ones replaced by `***`),
//! bodies up to the cap, and the lock is held only to number and push an entry. Everything
//! that costs (JSON, base64, time formatting: [`json`]) happens when someone reads the journal.

mod body;
mod filter;
mod headers;
mod json;
mod record;

pub use body::{RequestBody, ResponseBody};
pub use filter::{Compiled, Criteria, CriteriaError};
pub use headers::Headers;
pub use record::{Record, Recorded};

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::MatchedPath;
use axum::http::{Extensions, HeaderMap, Method};
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::http::conventions::TRANSACTION_ID;

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

    /// Empty again, keeping the buffer.
    fn clear(&mut self) {
        self.copied.clear();
        self.truncated = false;
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
    /// The request target: the path and the query (after a `?`); for an outbound delivery, the
    /// provider's endpoint URL. One string: [`Entry::path`] and [`Entry::query`] read it.
    target: String,
    /// Where the path ends in `target`.
    path_len: usize,
    pub request_headers: Headers,
    pub request_body: Captured,
    /// None when no response came (an outbound transport error, a client that left).
    pub status: Option<u16>,
    pub response_headers: Headers,
    pub response_body: Captured,
    /// The caller's user name; empty when none was noted. Read with [`Entry::user`].
    user: String,
    pub api: Option<&'static str>,
    /// The route template that matched; empty when none did. Read with [`Entry::route`].
    route: String,
    pub fault: Option<String>,
    /// Outbound only.
    pub outbound: Option<Outbound>,
}

impl Entry {
    /// An entry with nothing in it yet.
    fn blank() -> Entry {
        Entry {
            id: 0,
            kind: Kind::Inbound,
            time: OffsetDateTime::UNIX_EPOCH,
            duration: std::time::Duration::ZERO,
            method: Method::GET,
            target: String::new(),
            path_len: 0,
            request_headers: Headers::default(),
            request_body: Captured::default(),
            status: None,
            response_headers: Headers::default(),
            response_body: Captured::default(),
            user: String::new(),
            api: None,
            route: String::new(),
            fault: None,
            outbound: None,
        }
    }

    /// Blank again, keeping the buffers of its target, headers and bodies for the next request.
    fn recycle(&mut self) {
        self.target.clear();
        self.path_len = 0;
        self.request_headers.clear();
        self.request_body.clear();
        self.status = None;
        self.response_headers.clear();
        self.response_body.clear();
        self.user.clear();
        self.api = None;
        self.route.clear();
        self.fault = None;
        self.outbound = None;
    }

    /// Keeps `path`, and `?query` when there is one, as the request target.
    fn set_target(&mut self, path: &str, query: Option<&str>) {
        self.target.clear();
        self.target.push_str(path);
        self.path_len = path.len();
        if let Some(query) = query {
            self.target.push('?');
            self.target.push_str(query);
        }
    }

    /// The request path; for an outbound delivery, the provider's endpoint URL.
    pub fn path(&self) -> &str {
        &self.target[..self.path_len]
    }

    /// The query string of an inbound request, if it had one.
    pub fn query(&self) -> Option<&str> {
        self.target.get(self.path_len + 1..)
    }

    /// The authenticated caller's user name, if there was one.
    pub fn user(&self) -> Option<&str> {
        Some(self.user.as_str()).filter(|u| !u.is_empty())
    }

    /// The route template that matched (`/api/now/table/{table}`), if one did.
    pub fn route(&self) -> Option<&str> {
        Some(self.route.as_str()).filter(|r| !r.is_empty())
    }

    /// The `X-Transaction-ID` of the answer.
    pub fn transaction_id(&self) -> Option<&str> {
        let value = self.response_headers.get(TRANSACTION_ID)?;
        std::str::from_utf8(value).ok()
    }
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
    /// Live readers ([`Journal::subscribe`]): a push sends to the stream only when there are
    /// some. The broadcast's own count is behind a lock of its own.
    listeners: AtomicUsize,
}

#[derive(Default)]
struct Ring {
    last_id: u64,
    entries: VecDeque<Arc<Entry>>,
    /// Entries the ring let go that no reader holds, beyond each thread's own ([`SPARE`]):
    /// the next requests fill them again ([`Journal::blank`]) instead of allocating (and the
    /// ring freeing) a dozen buffers each.
    spares: Vec<Arc<Entry>>,
}

/// The most entries kept for reuse: more than the requests in flight at once on a busy node
/// need, few enough to weigh nothing.
const SPARES: usize = 64;

thread_local! {
    /// The entry this thread's last push let go, for this thread's next request: on a busy
    /// node each request takes the entry the one before it freed, without the ring's lock, in
    /// memory this core wrote last. Any journal's entry will do: a blank entry is only
    /// buffers.
    static SPARE: Cell<Option<Arc<Entry>>> = const { Cell::new(None) };
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
                spares: Vec::with_capacity(SPARES),
            }),
            live: broadcast::channel(LIVE_BACKLOG).0,
            listeners: AtomicUsize::new(0),
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

    /// An entry to fill, with no other owner: one the ring let go (its buffers reused), or a new
    /// one.
    fn blank(&self) -> Arc<Entry> {
        let spare = SPARE.take().or_else(|| self.ring().spares.pop());
        if let Some(mut entry) = spare
            && let Some(blank) = Arc::get_mut(&mut entry)
        {
            blank.recycle();
            return entry;
        }
        Arc::new(Entry::blank())
    }

    /// Numbers `entry`, keeps it (dropping the oldest past the capacity) and sends it to the
    /// live readers.
    pub fn push(&self, entry: Entry) {
        self.push_filled(Arc::new(entry));
    }

    /// [`Journal::push`] for an entry filled in place; `entry` has no other owner.
    fn push_filled(&self, mut entry: Arc<Entry>) {
        let mut freed = None;
        {
            let mut ring = self.ring();
            ring.last_id += 1;
            let id = ring.last_id;
            if let Some(filled) = Arc::get_mut(&mut entry) {
                filled.id = id;
            }
            if ring.entries.len() >= self.0.capacity
                && let Some(mut oldest) = ring.entries.pop_front()
            {
                // Out of the ring, it can gain no reader: unless one holds it already (a list
                // being written, the live stream's backlog), it is spare, this thread's first.
                if Arc::get_mut(&mut oldest).is_some() {
                    match SPARE.replace(Some(oldest)) {
                        Some(more) if ring.spares.len() < SPARES => ring.spares.push(more),
                        more => freed = more,
                    }
                } else {
                    freed = Some(oldest);
                }
            }
            // Under the lock, so that readers receive entries in the order of their ids.
            if self.0.listeners.load(Ordering::Relaxed) > 0 {
                let _ = self.0.live.send(entry.clone());
            }
            ring.entries.push_back(entry);
        }
        // Freed outside the lock.
        drop(freed);
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

    /// The entries pushed from now on, as long as the [`Listening`] is kept.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Entry>>, Listening) {
        // Under the ring's lock, which pushes read the count under: a push after this sees it.
        let _ring = self.ring();
        self.0.listeners.fetch_add(1, Ordering::Relaxed);
        (self.0.live.subscribe(), Listening(self.clone()))
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
        let (status, response_headers, response_body) = match answer {
            Some((status, headers, body)) => (Some(status), Headers::masked(&headers), body),
            None => (None, Headers::default(), Captured::default()),
        };
        let time = OffsetDateTime::now_utc() - duration;
        self.push(Entry {
            id: 0,
            kind: Kind::Outbound,
            time,
            duration,
            method: Method::POST,
            target: url.to_owned(),
            path_len: url.len(),
            request_headers: Headers::masked(&request_headers),
            request_body: Captured::of(request_body, self.0.body_bytes),
            status,
            response_headers,
            response_body,
            user: String::new(),
            api: None,
            route: String::new(),
            fault: None,
            outbound: Some(outbound),
        })
    }
}

/// A live reader of the journal, counted while it is kept ([`Journal::subscribe`]).
pub struct Listening(Journal);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.0.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the inside of the router learns about a request (its caller, API and route), and its
/// body as the handler reads it. Put on the request by [`Record`]; absent when the journal is
/// off (the writers then do nothing).
#[derive(Debug, Default)]
pub struct Note(Mutex<Noted>);

#[derive(Debug, Default)]
struct Noted {
    /// Empty until noted.
    user: String,
    api: Option<&'static str>,
    /// Empty until noted.
    route: String,
    /// A fault injected for the request, known before any answer (a request whose client
    /// left during an injected latency has none).
    fault: Option<String>,
    /// What of the request body the handler has read, up to the cap.
    request_body: Captured,
}

impl Note {
    /// A note written into the buffers of `entry` (blank), lent until [`Note::take`]: the
    /// user name, the route and the request body are copied into buffers an earlier request
    /// left, not allocated (nor the route's shared name counted) for each request.
    fn lent_by(entry: &mut Entry) -> Note {
        Note(Mutex::new(Noted {
            user: std::mem::take(&mut entry.user),
            api: None,
            route: std::mem::take(&mut entry.route),
            fault: None,
            request_body: std::mem::take(&mut entry.request_body),
        }))
    }

    fn with(extensions: &Extensions, write: impl FnOnce(&mut Noted)) {
        if let Some(note) = extensions.get::<Arc<Note>>() {
            write(&mut note.lock());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Noted> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self) -> Noted {
        std::mem::take(&mut self.lock())
    }
}

/// The authenticated caller's user name (the first one noted: a batch's own caller).
pub fn note_user(extensions: &Extensions, user_name: &str) {
    Note::with(extensions, |n| {
        if n.user.is_empty() {
            n.user.push_str(user_name);
        }
    });
}

/// The route that matched: its API's name (`auth::rate_limit::Api::name`, or `switchboard`),
/// when it has one, and its template (axum's `MatchedPath`). The first noted stays.
pub fn note_match(extensions: &Extensions, api: Option<&'static str>) {
    Note::with(extensions, |n| {
        if n.api.is_none() {
            n.api = api;
        }
        if n.route.is_empty()
            && let Some(route) = extensions.get::<MatchedPath>()
        {
            n.route.push_str(route.as_str());
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_live_reader_is_sent_entries_while_it_listens() {
        let journal = Journal::new(3, 16);
        let (mut entries, listening) = journal.subscribe();
        journal.push(Entry::blank());
        assert_eq!(entries.try_recv().unwrap().id, 1);
        drop(listening);
        assert_eq!(journal.0.listeners.load(Ordering::Relaxed), 0);
        journal.push(Entry::blank());
        assert!(entries.try_recv().is_err(), "sent with no one listening");
    }

    #[test]
    fn the_journal_does_not_record_its_own_routes() {
        assert!(is_own("/_switchboard/journal"));
        assert!(is_own("/_switchboard/journal/count"));
        assert!(!is_own("/_switchboard/journals"));
    }
}
