//! Inbound rate limiting as the platform does it ("Inbound REST API rate limiting"): a rule
//! allows each user N requests per hour to an API; every response to a request a rule covers
//! carries `X-RateLimit-Limit`, `X-RateLimit-Reset` (UNIX time of the window's end) and
//! `X-RateLimit-Rule` (the rule's sys_id), and a request over the limit is refused with 429,
//! `Retry-After` and the platform's envelope (`Rate limit exceeded` / `Rate limit of N requests
//! per hour for Table API exceeded`).
//!
//! Windows are fixed and aligned to the clock (an hourly window resets at the top of the hour,
//! as the platform's scheduled reset does). Counts live in this process's memory: with several
//! nodes, each counts the requests it serves.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::http::ApiError;

pub const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
pub const RULE: HeaderName = HeaderName::from_static("x-ratelimit-rule");

/// Counters kept at most; past it, those of ended windows are dropped first.
const CAPACITY: usize = 100_000;

/// The APIs a rule can limit. Each route group carries its own as a request extension (the
/// router of the API layer, `api::routes`, puts it there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Table,
    Interaction,
    ConversationMember,
    AgentMapping,
    OAuth,
    Batch,
    Aggregate,
    TinyUrl,
    Attachment,
    AwaAgent,
    AwaOfferWork,
    AwaManualAssignment,
    AwaRouting,
    AwaInboxActions,
    AwaAgentConsult,
    ExternalIdMapping,
    WrapUp,
}

impl Api {
    pub const ALL: [Api; 17] = [
        Api::Table,
        Api::Interaction,
        Api::ConversationMember,
        Api::AgentMapping,
        Api::OAuth,
        Api::Batch,
        Api::Aggregate,
        Api::TinyUrl,
        Api::Attachment,
        Api::AwaAgent,
        Api::AwaOfferWork,
        Api::AwaManualAssignment,
        Api::AwaRouting,
        Api::AwaInboxActions,
        Api::AwaAgentConsult,
        Api::ExternalIdMapping,
        Api::WrapUp,
    ];

    /// The name a `--rate-limit` rule uses.
    pub fn name(self) -> &'static str {
        match self {
            Api::Table => "table",
            Api::Interaction => "interaction",
            Api::ConversationMember => "conversation_member",
            Api::AgentMapping => "agent_mapping",
            Api::OAuth => "oauth",
            Api::Batch => "batch",
            Api::Aggregate => "aggregate",
            Api::TinyUrl => "tinyurl",
            Api::Attachment => "attachment",
            Api::AwaAgent => "awa_agent",
            Api::AwaOfferWork => "awa_offer_work",
            Api::AwaManualAssignment => "awa_manual_assignment",
            Api::AwaRouting => "awa_routing",
            Api::AwaInboxActions => "awa_inbox_actions",
            Api::AwaAgentConsult => "awa_agent_consult",
            Api::ExternalIdMapping => "external_id_mapping",
            Api::WrapUp => "wrap_up",
        }
    }

    /// The name the 429's detail uses, as the platform names its APIs.
    pub fn title(self) -> &'static str {
        match self {
            Api::Table => "Table API",
            Api::Interaction => "Interaction Management API",
            Api::ConversationMember => "Conversation Member API",
            Api::AgentMapping => "Agent Mapping API",
            Api::OAuth => "OAuth API",
            Api::Batch => "Batch API",
            Api::Aggregate => "Aggregate API",
            Api::TinyUrl => "TinyURL API",
            Api::Attachment => "Attachment API",
            Api::AwaAgent => "AWA Agent API",
            Api::AwaOfferWork => "AWA Offer Work API",
            Api::AwaManualAssignment => "AWA Manual Assignment API",
            Api::AwaRouting => "AWA Routing API",
            Api::AwaInboxActions => "AWA Inbox Actions API",
            Api::AwaAgentConsult => "AWA Agent Consult API",
            Api::ExternalIdMapping => "External ID Mapping API",
            Api::WrapUp => "Wrap Up API",
        }
    }

    /// The sys_id `X-RateLimit-Rule` reports: on the platform, a `sys_rate_limit_rules`
    /// record's; here, fixed per API (the first 32 hex digits of SHA-256 of
    /// `switchboard rate limit rule <name>`).
    pub fn rule_id(self) -> String {
        let digest = Sha256::digest(format!("switchboard rate limit rule {}", self.name()));
        hex::encode(&digest[..16])
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// N requests per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u64,
    pub period: Duration,
}

impl Rule {
    /// `per hour`, `per 10 seconds`...
    fn per(&self) -> String {
        match self.period.as_secs() {
            1 => "per second".into(),
            60 => "per minute".into(),
            3600 => "per hour".into(),
            86400 => "per day".into(),
            s if s % 3600 == 0 => format!("per {} hours", s / 3600),
            s if s % 60 == 0 => format!("per {} minutes", s / 60),
            s => format!("per {s} seconds"),
        }
    }
}

/// One `--rate-limit` value: `API=N[/PERIOD]`, where API is a name of [`Api::name`] or `all`,
/// and PERIOD is `hour` (the default, as on the platform), `minute`, `second`, `day`, or a
/// number with a unit: `30s`, `5m`, `2h`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// `None` for `all`.
    pub api: Option<Api>,
    pub rule: Rule,
}

impl FromStr for RateLimitSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let names = || {
            Api::ALL
                .iter()
                .map(|a| a.name())
                .chain(["all"])
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (name, rule) = s
            .trim()
            .split_once('=')
            .ok_or_else(|| format!("expected API=N[/PERIOD] (e.g. table=1000/hour), got {s:?}"))?;
        let api = match name.trim() {
            "all" => None,
            name => Some(
                Api::ALL
                    .into_iter()
                    .find(|a| a.name() == name)
                    .ok_or_else(|| format!("unknown API {name:?}: one of {}", names()))?,
            ),
        };
        let (limit, period) = rule.split_once('/').unwrap_or((rule, "hour"));
        let limit: u64 = limit
            .trim()
            .parse()
            .map_err(|_| format!("the limit must be a whole number of requests, got {limit:?}"))?;
        let period = parse_period(period.trim()).ok_or_else(|| {
            format!(
                "unknown period {period:?}: hour, minute, second, day, or a number with s, m or h (30s, 5m)"
            )
        })?;
        Ok(RateLimitSpec {
            api,
            rule: Rule { limit, period },
        })
    }
}

fn parse_period(p: &str) -> Option<Duration> {
    let seconds = match p {
        "hour" | "h" => 3600,
        "minute" | "min" | "m" => 60,
        "second" | "sec" | "s" => 1,
        "day" | "d" => 86400,
        _ => {
            let unit_at = p.find(|c: char| !c.is_ascii_digit())?;
            let (n, unit) = p.split_at(unit_at);
            let n: u64 = n.parse().ok()?;
            n.checked_mul(match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86400,
                _ => return None,
            })?
        }
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// The rule of each API, if any. Empty by default: a stand-in limits nothing unless asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    rules: [Option<Rule>; Api::ALL.len()],
}

impl RateLimits {
    /// From `--rate-limit` values: a rule for one API wins over `all`, whatever the order; of
    /// two for the same API, the later wins.
    pub fn from_specs(specs: &[RateLimitSpec]) -> Self {
        let mut limits = RateLimits::default();
        for spec in specs.iter().filter(|s| s.api.is_none()) {
            for api in Api::ALL {
                limits.set(api, spec.rule);
            }
        }
        for spec in specs {
            if let Some(api) = spec.api {
                limits.set(api, spec.rule);
            }
        }
        limits
    }

    pub fn set(&mut self, api: Api, rule: Rule) {
        self.rules[api.index()] = Some(rule);
    }

    pub fn get(&self, api: Api) -> Option<Rule> {
        self.rules[api.index()]
    }

    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(Option::is_none)
    }
}

/// What a rule said about one request.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub api: Api,
    pub rule: Rule,
    /// UNIX time at which the window ends.
    pub reset: u64,
    /// Over the limit: how long until the window ends.
    pub refused: Option<Duration>,
}

impl Verdict {
    /// `X-RateLimit-Limit`, `X-RateLimit-Reset`, `X-RateLimit-Rule`.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(LIMIT, HeaderValue::from(self.rule.limit));
        headers.insert(RESET, HeaderValue::from(self.reset));
        if let Ok(rule) = HeaderValue::from_str(&self.api.rule_id()) {
            headers.insert(RULE, rule);
        }
        headers
    }

    /// The platform's detail: `Rate limit of 10 requests per hour for Table API exceeded`.
    pub fn detail(&self) -> String {
        format!(
            "Rate limit of {} requests {} for {} exceeded",
            self.rule.limit,
            self.rule.per(),
            self.api.title()
        )
    }

    /// The 429, with every rate-limit header and `Retry-After`.
    pub fn error(&self, retry_after: Duration) -> ApiError {
        let mut error = ApiError::too_many_requests(self.detail(), retry_after);
        for (name, value) in &self.headers() {
            error = error.with_header(name.clone(), value.clone());
        }
        error
    }
}

/// Counts requests per (API, user) in the current window of each API's rule.
pub struct RateLimiter {
    limits: RateLimits,
    counters: Mutex<HashMap<(Api, String), Counter>>,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    /// Which window (UNIX time / period) the count belongs to.
    window: u64,
    count: u64,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            counters: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// Counts a request of `who` (a user's sys_id, or an OAuth application's) to `api`, now.
    /// `None` when no rule covers the API.
    pub fn admit(&self, api: Api, who: &str) -> Option<Verdict> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.admit_at(api, who, since_epoch)
    }

    /// [`Self::admit`], decided: over the limit is the 429 to answer (logged with `shown`, the
    /// name a log gives `who`); an admitted request's verdict goes to `report`, for the
    /// response's headers. Every place a rule applies goes through here.
    pub fn check(
        &self,
        api: Api,
        who: &str,
        shown: &str,
        report: Option<&Report>,
    ) -> Result<(), ApiError> {
        let Some(verdict) = self.admit(api, who) else {
            return Ok(());
        };
        if let Some(wait) = verdict.refused {
            tracing::info!(caller = ?shown, api = api.name(), "rate limit exceeded");
            return Err(verdict.error(wait));
        }
        if let Some(report) = report {
            report.set(verdict);
        }
        Ok(())
    }

    fn admit_at(&self, api: Api, who: &str, since_epoch: Duration) -> Option<Verdict> {
        let rule = self.limits.get(api)?;
        let period = rule.period.as_secs().max(1);
        let window = since_epoch.as_secs() / period;
        let reset = (window + 1) * period;
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() >= CAPACITY && !counters.contains_key(&(api, who.to_owned())) {
            self.prune(&mut counters, since_epoch.as_secs());
        }
        let counter = counters
            .entry((api, who.to_owned()))
            .or_insert(Counter { window, count: 0 });
        if counter.window != window {
            *counter = Counter { window, count: 0 };
        }
        let refused = if counter.count < rule.limit {
            counter.count += 1;
            None
        } else {
            Some(Duration::from_secs(reset).saturating_sub(since_epoch))
        };
        Some(Verdict {
            api,
            rule,
            reset,
            refused,
        })
    }

    /// Drops counters of ended windows; if that frees nothing, all of them (a burst of new
    /// users then gets a fresh window, rather than memory growing without bound).
    fn prune(&self, counters: &mut HashMap<(Api, String), Counter>, now: u64) {
        counters.retain(|(api, _), c| {
            let period = self
                .limits
                .get(*api)
                .map_or(1, |r| r.period.as_secs().max(1));
            c.window == now / period
        });
        if counters.len() >= CAPACITY {
            counters.clear();
        }
    }
}

/// Where the caller's extractor leaves the verdict of an admitted request, so that
/// [`report`] can put its headers on the response.
#[derive(Clone, Default)]
pub struct Report(Arc<Mutex<Option<Verdict>>>);

impl Report {
    pub fn set(&self, verdict: Verdict) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(verdict);
    }
}

/// Middleware (only installed when some rule exists): every response to a request a rule
/// covered carries the rule's `X-RateLimit-*` headers, whatever its status.
pub async fn report(mut req: Request, next: Next) -> Response {
    let slot = Report::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    let verdict = slot.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(verdict) = verdict {
        for (name, value) in &verdict.headers() {
            response
                .headers_mut()
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> RateLimitSpec {
        s.parse().unwrap()
    }

    #[test]
    fn parses_rules() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            spec("table=1000/hour"),
            RateLimitSpec {
                api: Some(Api::Table),
                rule: Rule {
                    limit: 1000,
                    period: hour
                }
            }
        );
        assert_eq!(spec("oauth=5").rule.period, hour);
        assert_eq!(spec("all=5/30s").api, None);
        assert_eq!(spec("all=5/30s").rule.period, Duration::from_secs(30));
        assert_eq!(
            spec("interaction=1/2m").rule.period,
            Duration::from_secs(120)
        );
        assert_eq!(
            spec("agent_mapping=1/minute").rule.period,
            Duration::from_secs(60)
        );
        for bad in [
            "table",
            "tables=1",
            "table=x",
            "table=-1",
            "table=1/fortnight",
            "table=1/0s",
            "table=1/5x",
        ] {
            assert!(bad.parse::<RateLimitSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rule_for_one_api_wins_over_all() {
        let limits = RateLimits::from_specs(&[spec("table=7"), spec("all=3")]);
        assert_eq!(limits.get(Api::Table).unwrap().limit, 7);
        assert_eq!(limits.get(Api::OAuth).unwrap().limit, 3);
        assert!(RateLimits::from_specs(&[]).is_empty());
    }

    #[test]
    fn counts_per_user_and_api_in_clock_aligned_windows() {
        let mut limits = RateLimits::default();
        limits.set(
            Api::Table,
            Rule {
                limit: 2,
                period: Duration::from_secs(3600),
            },
        );
        let limiter = RateLimiter::new(limits);
        let t = Duration::from_secs(10 * 3600 + 1000);
        let first = limiter.admit_at(Api::Table, "u", t).unwrap();
        assert_eq!(first.reset, 11 * 3600);
        assert!(first.refused.is_none());
        assert!(
            limiter
                .admit_at(Api::Table, "u", t)
                .unwrap()
                .refused
                .is_none()
        );
        let third = limiter.admit_at(Api::Table, "u", t).unwrap();
        assert_eq!(third.refused, Some(Duration::from_secs(2600)));
        assert_eq!(
            third.detail(),
            "Rate limit of 2 requests per hour for Table API exceeded"
        );
        // Another user, and another API, are counted apart.
        assert!(
            limiter
                .admit_at(Api::Table, "v", t)
                .unwrap()
                .refused
                .is_none()
        );
        assert!(limiter.admit_at(Api::OAuth, "u", t).is_none());
        // The next window starts afresh.
        let next = limiter
            .admit_at(Api::Table, "u", Duration::from_secs(11 * 3600))
            .unwrap();
        assert!(next.refused.is_none());
        assert_eq!(next.reset, 12 * 3600);
    }

    #[test]
    fn rule_ids_look_like_sys_ids_and_differ() {
        let ids: Vec<String> = Api::ALL.iter().map(|a| a.rule_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn periods_read_as_the_platform_writes_them() {
        let rule = |s| Rule {
            limit: 1,
            period: Duration::from_secs(s),
        };
        assert_eq!(rule(3600).per(), "per hour");
        assert_eq!(rule(60).per(), "per minute");
        assert_eq!(rule(2).per(), "per 2 seconds");
        assert_eq!(rule(7200).per(), "per 2 hours");
    }
}
