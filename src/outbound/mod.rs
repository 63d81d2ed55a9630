//! The deliverer: sends the outbox's events to their providers (docs/outbound-events.md).
//!
//! Every node runs one. A pass reads a page of the events due (the first waiting event of each
//! document or agent, `domain::events::outbox::due`) and starts an attempt for each: claim it
//! (one node wins), POST it, record the outcome (delivered, retried later with backoff, or
//! given up). A pass that started anything, or did not reach the end of the outbox, is
//! followed at once by another; otherwise the deliverer waits `--outbound-poll-interval-ms`.

mod request;

pub use request::{delivery, logged_headers, signature};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::domain::RecordError;
use crate::domain::events::outbox::{self, Attempt, Claimed, Settled};
use crate::http::faults::{self, Action, Fault, Faults};
use crate::journal::{self, Captured, Journal};
use crate::model::clock::Clock;
use crate::model::value::Value;
use crate::storage::Storage;

/// How many waiting events a pass reads.
const SCAN: u64 = 500;
/// How many deliveries run at once (each to a different document or agent).
const PARALLEL: usize = 32;
/// How many of them may be to one provider.
const PER_PROVIDER: usize = 8;
/// The most of a response body read (the log keeps less).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct Deliverer {
    store: Arc<dyn Storage>,
    clock: Clock,
    client: reqwest::Client,
    /// This node's name in claims: random, so a restarted node is a new one.
    node: Arc<str>,
    in_flight: InFlight,
    /// Where the next pass reads the outbox from (see `outbox::due`).
    cursor: Arc<AtomicI64>,
    /// Fault rules for outbound deliveries (`api: "outbound"`), acting on each attempt.
    faults: Arc<Faults>,
    /// Where each attempt is recorded, besides the outbox's log (`--journal-size`).
    journal: Option<Journal>,
}

impl Deliverer {
    pub fn new(store: Arc<dyn Storage>, clock: Clock) -> Deliverer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with the ring provider");
        let node = format!("node-{}", &crate::model::value::new_sys_id()[..12]);
        Deliverer {
            store,
            clock,
            client,
            node: node.into(),
            in_flight: InFlight::default(),
            cursor: Arc::default(),
            faults: Arc::default(),
            journal: None,
        }
    }

    /// The deliverer, its attempts subject to `faults` (the node's fault rules).
    pub fn with_faults(mut self, faults: Arc<Faults>) -> Deliverer {
        self.faults = faults;
        self
    }

    /// Records every attempt in `journal` too.
    pub fn journal(mut self, journal: Option<Journal>) -> Deliverer {
        self.journal = journal;
        self
    }

    /// Delivers until the task is dropped (which drops the attempts in flight: their claims
    /// run out and the events are sent again); every `interval` when there is nothing to send.
    pub async fn run(self, interval: Duration) {
        let mut attempts = JoinSet::new();
        loop {
            while let Some(done) = attempts.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "outbound delivery task panicked");
                }
            }
            match self.pass(&mut attempts).await {
                // Nothing started, and the pass read to the end of the outbox.
                Ok(0) if self.cursor.load(Ordering::Relaxed) == 0 => {
                    tokio::time::sleep(interval).await
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "outbound delivery pass failed; retried shortly");
                    tokio::time::sleep(interval).await;
                }
            }
        }
    }

    /// One pass: starts an attempt (in `attempts`) for every event due now in the next page of
    /// the outbox, as far as there is room: [`PARALLEL`] at once, [`PER_PROVIDER`] for one
    /// provider, so that a slow provider holds up only its own events. Returns how many it
    /// started; it does not wait for them.
    async fn pass(&self, attempts: &mut JoinSet<()>) -> Result<usize, RecordError> {
        let after = self.cursor.load(Ordering::Relaxed);
        let due = outbox::due(&*self.store, self.clock.now(), SCAN, after).await?;
        self.cursor.store(due.next, Ordering::Relaxed);
        let mut started = 0;
        for event in due.events {
            let provider = event.str("provider").unwrap_or_default().to_owned();
            let Some(slot) = self.in_flight.take(event.sys_id(), &provider) else {
                continue;
            };
            let deliverer = self.clone();
            attempts.spawn(async move {
                let _slot = slot;
                if let Err(e) = deliverer.attempt(event.sys_id()).await {
                    tracing::warn!(error = %e, "outbound delivery failed to record");
                }
            });
            started += 1;
        }
        Ok(started)
    }

    /// Claims, sends and settles one event (nothing, when another node has it).
    async fn attempt(&self, id: &str) -> Result<(), RecordError> {
        let Some(claimed) = outbox::claim(&*self.store, id, &self.node, self.clock.now()).await?
        else {
            return Ok(());
        };
        let attempt = self.send(&claimed).await;
        let settled = outbox::settle(
            &*self.store,
            &claimed,
            &self.node,
            &attempt,
            self.clock.now(),
        );
        let event = claimed.event.str("event_type").unwrap_or_default();
        let settled = settled.await?;
        self.measure(&claimed, &settled);
        match settled {
            Settled::Delivered => {
                tracing::debug!(event_id = id, event, "outbound event delivered")
            }
            Settled::Retry => tracing::info!(
                event_id = id,
                event,
                attempt = claimed.attempt,
                status = attempt.status,
                error = attempt.error.as_deref(),
                "outbound event not delivered; retried later"
            ),
            Settled::GaveUp => tracing::warn!(
                event_id = id,
                event,
                attempts = claimed.attempt,
                "outbound event given up after its last attempt"
            ),
            Settled::Lost => tracing::info!(
                event_id = id,
                "outbound event's claim passed to another node during the attempt"
            ),
        }
        Ok(())
    }

    /// POSTs the claimed event and reads the answer; never fails (a failure is the attempt's).
    async fn send(&self, claimed: &Claimed) -> Attempt {
        let body = match claimed.event.get("payload") {
            Value::Text(json) => json.clone(),
            _ => String::new(),
        };
        let delivery = delivery(
            &claimed.provider,
            &claimed.event,
            claimed.attempt,
            body.as_bytes(),
        );
        let mut attempt = Attempt {
            url: delivery.url.clone(),
            request_headers: logged_headers(&delivery.headers),
            request_body: body.clone(),
            ..Attempt::default()
        };
        let url = match reqwest::Url::parse(&delivery.url) {
            Ok(url) => url,
            Err(e) => {
                attempt.error = Some(format!("invalid endpoint URL: {e}"));
                return attempt;
            }
        };
        attempt.scheme = url.scheme().to_owned();
        attempt.hostname = url.host_str().unwrap_or_default().to_owned();
        attempt.path = url.path().to_owned();
        let timeout = outbox::delivery_timeout(&claimed.provider).unsigned_abs();
        let timeout = Duration::from_secs(timeout);
        let started = Instant::now();
        if let Some(fault) = self.fault(claimed, url.path()) {
            let done = injected(&fault, timeout, &mut attempt).await;
            attempt.elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            if done {
                return attempt;
            }
        }
        let mut request = self.client.post(url).timeout(timeout).body(body);
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        let outcome = read_answer(request.send().await, &mut attempt).await;
        let elapsed = started.elapsed();
        attempt.elapsed_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        let response_headers = match outcome {
            Ok(headers) => Some(headers),
            Err(e) => {
                attempt.error = Some(describe(&e));
                None
            }
        };
        if let Some(journal) = &self.journal {
            record(
                journal,
                claimed,
                &delivery,
                &attempt,
                response_headers,
                elapsed,
            );
        }
        attempt
    }
}

impl Deliverer {
    /// Counts a settled attempt by outcome; a delivery's lag is the time from its event's
    /// creation (whole seconds) to now.
    fn measure(&self, claimed: &Claimed, settled: &Settled) {
        use crate::http::metrics::{OUTBOUND_ATTEMPTS, OUTBOUND_FAILURES, OUTBOUND_LAG};
        let outcome = match settled {
            Settled::Delivered => "delivered",
            Settled::Retry => "retry",
            Settled::GaveUp => "gave_up",
            Settled::Lost => "lost",
        };
        metrics::counter!(OUTBOUND_ATTEMPTS, "outcome" => outcome).increment(1);
        match settled {
            Settled::Retry | Settled::GaveUp => metrics::counter!(OUTBOUND_FAILURES).increment(1),
            Settled::Delivered => {
                let created = claimed.event.str("sys_created_on");
                if let Some(created) = created.and_then(crate::model::value::parse_date_time) {
                    let lag = (self.clock.now() - created).as_seconds_f64().max(0.0);
                    metrics::histogram!(OUTBOUND_LAG).record(lag);
                }
            }
            Settled::Lost => {}
        }
    }

    /// The fault a rule holds for this attempt, if any (logged).
    fn fault(&self, claimed: &Claimed, path: &str) -> Option<Fault> {
        if self.faults.is_empty() {
            return None;
        }
        let provider = &claimed.provider;
        let target = faults::Target {
            api: faults::OUTBOUND,
            method: "POST",
            path,
            user: None,
            provider: Some((provider.str("name").unwrap_or_default(), provider.sys_id())),
        };
        let fault = self.faults.decide(&target)?;
        let event_id = claimed.event.sys_id();
        tracing::info!(fault = %fault.note().0, event_id, "fault injected in an outbound delivery");
        Some(fault)
    }
}

/// Acts out `fault` on an attempt: waits its latency (no longer than the provider's
/// `timeout`, past which the attempt times out as a slow provider's would), then, but for a
/// delay, fills the attempt as if the provider had answered the rule's status (without
/// sending) or the connection had dropped. True when the attempt is over.
async fn injected(fault: &Fault, timeout: Duration, attempt: &mut Attempt) -> bool {
    let note = fault.note().0;
    if let Some(latency) = fault.latency {
        tokio::time::sleep(latency.min(timeout)).await;
        if latency >= timeout {
            attempt.error = Some(format!("timed out ({note})"));
            return true;
        }
    }
    match fault.action {
        Action::Delay | Action::Truncate => false,
        Action::Respond => {
            let status = fault.status.map_or(500, |s| s.as_u16());
            attempt.status = Some(status);
            attempt.retry_after = fault.retry_after.map(|s| time::Duration::seconds(s as i64));
            attempt.response_headers = format!("X-Switchboard-Fault: {note}");
            let body = fault.message();
            attempt.response_length = i64::try_from(body.len()).unwrap_or(i64::MAX);
            attempt.response_body = body;
            true
        }
        Action::Drop => {
            attempt.error = Some(format!("request failed: connection closed ({note})"));
            true
        }
    }
}

/// One attempt as a journal entry: the request as sent (credentials and the provider's
/// signature header masked), the answer if one came, or the error.
fn record(
    journal: &Journal,
    claimed: &Claimed,
    delivery: &request::Delivery,
    attempt: &Attempt,
    response_headers: Option<reqwest::header::HeaderMap>,
    elapsed: Duration,
) {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let signature_header = claimed.provider.str("signature_header").unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in &delivery.headers {
        let (Ok(name), Ok(mut value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) else {
            continue;
        };
        if name.as_str().eq_ignore_ascii_case(signature_header) {
            value = HeaderValue::from_static("***");
        }
        headers.append(name, value);
    }
    let cap = journal.body_bytes();
    let answer = attempt.status.map(|status| {
        let mut body = Captured::of(attempt.response_body.as_bytes(), cap);
        body.truncated |= usize::try_from(attempt.response_length).unwrap_or(usize::MAX) > cap;
        (status, response_headers.unwrap_or_default(), body)
    });
    let text = |r: &crate::model::value::Record, f: &str| r.str(f).unwrap_or_default().to_owned();
    journal.outbound(
        &delivery.url,
        headers,
        attempt.request_body.as_bytes(),
        answer,
        elapsed,
        journal::Outbound {
            provider: text(&claimed.provider, "name"),
            event_type: text(&claimed.event, "event_type"),
            event_id: claimed.event.sys_id().to_owned(),
            attempt: claimed.attempt,
            error: attempt.error.clone(),
        },
    );
}

/// Fills the attempt from the response: status, headers, `Retry-After`, and the body's start.
/// Returns the response's headers.
async fn read_answer(
    sent: reqwest::Result<reqwest::Response>,
    attempt: &mut Attempt,
) -> reqwest::Result<reqwest::header::HeaderMap> {
    let mut response = sent?;
    attempt.status = Some(response.status().as_u16());
    let headers = response.headers().clone();
    attempt.response_headers = response
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("(binary)")))
        .collect::<Vec<_>>()
        .join("\n");
    attempt.retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(time::Duration::seconds);
    let mut kept = Vec::new();
    let mut length = 0usize;
    while let Some(chunk) = response.chunk().await? {
        length += chunk.len();
        let room = MAX_RESPONSE_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    attempt.response_length = i64::try_from(length).unwrap_or(i64::MAX);
    attempt.response_body = String::from_utf8_lossy(&kept).into_owned();
    Ok(headers)
}

/// A failed request in words, with its cause (reqwest's own message names only the URL).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    match cause.is_empty() {
        true => what.to_owned(),
        false => format!("{what}: {cause}"),
    }
}

/// The events this node is delivering, and how many per provider: a pass starts no second
/// attempt of an event in flight, no more than [`PARALLEL`] in all, and no more than
/// [`PER_PROVIDER`] to one provider.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<InFlightSets>>);

#[derive(Default)]
struct InFlightSets {
    events: HashSet<String>,
    per_provider: HashMap<String, usize>,
}

impl InFlight {
    /// A place for `event` to `provider`, held until the returned slot is dropped; None when
    /// it is already in flight, or the node or its provider has no room.
    fn take(&self, event: &str, provider: &str) -> Option<InFlightSlot> {
        let mut sets = self
            .0
            .lock()
            .expect("the in-flight sets are never poisoned");
        let busy = sets.per_provider.get(provider).copied().unwrap_or(0);
        let full = sets.events.len() >= PARALLEL || busy >= PER_PROVIDER;
        if full || sets.events.contains(event) {
            return None;
        }
        sets.events.insert(event.to_owned());
        *sets.per_provider.entry(provider.to_owned()).or_default() += 1;
        Some(InFlightSlot {
            sets: self.clone(),
            event: event.to_owned(),
            provider: provider.to_owned(),
        })
    }
}

/// An attempt's place in [`InFlight`], given back when the attempt ends (or is dropped).
struct InFlightSlot {
    sets: InFlight,
    event: String,
    provider: String,
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        let mut sets = self
            .sets
            .0
            .lock()
            .expect("the in-flight sets are never poisoned");
        sets.events.remove(&self.event);
        if let Some(n) = sets.per_provider.get_mut(&self.provider) {
            *n -= 1;
            if *n == 0 {
                sets.per_provider.remove(&self.provider);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_in_flight_is_not_started_twice_and_a_provider_has_its_share() {
        let in_flight = InFlight::default();
        let first = in_flight.take("e1", "p").unwrap();
        assert!(in_flight.take("e1", "p").is_none());
        let mut held: Vec<_> = (2..=PER_PROVIDER)
            .map(|i| in_flight.take(&format!("e{i}"), "p").unwrap())
            .collect();
        assert!(
            in_flight.take("e-more", "p").is_none(),
            "the provider is full"
        );
        assert!(
            in_flight.take("e-other", "q").is_some(),
            "another provider has room"
        );
        drop(first);
        assert!(
            in_flight.take("e1", "p").is_some(),
            "a place was given back"
        );
        held.clear();
        // No more than PARALLEL at once, whatever the providers.
        let all: Vec<_> = (0..PARALLEL)
            .map(|i| in_flight.take(&format!("a{i}"), &format!("p{i}")).unwrap())
            .collect();
        assert!(
            in_flight.take("one-more", "fresh").is_none(),
            "the node is full"
        );
        drop(all);
    }
}
