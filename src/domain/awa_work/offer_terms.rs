//! The terms of an offer as a client sends them (Offer Work's `assignment`, Manual Assignment's
//! body), checked without the database: booleans, the display option, the timeout and the
//! offer time. Pure, so every documented refusal of the body is a unit test.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use super::Refusal;

/// The offer time's format on the pages: `yyyy-MM-dd'T'HH:mm:ss.SSS`, UTC.
const OFFERED_ON: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]");

/// The display options of an auto-assigned work item.
pub const DISPLAY_OPTIONS: [&str; 2] = ["card_only", "card_and_tab"];

/// An offer's terms, as sent: each scalar as its text (a JSON `true` is `"true"`, `30` is `"30"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferRequest {
    pub agent: Option<String>,
    pub allowed_to_decline: Option<String>,
    pub enable_auto_assign: Option<String>,
    pub display_option: Option<String>,
    pub timeout: Option<String>,
    pub offered_on: Option<String>,
    pub after_timeout_presence: Option<String>,
}

/// When an offer expires, and what the agent's presence becomes then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub seconds: i64,
    pub offered_on: OffsetDateTime,
    /// `offered_on` plus the timeout.
    pub expires: OffsetDateTime,
    pub after_timeout_presence: Option<String>,
}

/// Checked terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub agent: String,
    pub allowed_to_decline: bool,
    pub auto_assign: bool,
    pub display_option: String,
    /// None: the offer waits for the agent without a time limit.
    pub deadline: Option<Deadline>,
}

/// The pages' booleans: `true/yes/1` and `false/no/0`, in any case.
pub fn parse_flag(text: &str) -> Result<bool, Refusal> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(Refusal::NotABoolean(text.to_owned())),
    }
}

/// An offer time in the pages' format.
pub fn parse_offered_on(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text, OFFERED_ON)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// A time in the pages' format, as the refusals quote it.
pub fn format_offered_on(t: OffsetDateTime) -> String {
    t.format(OFFERED_ON)
        .expect("the offer-time format has only numeric components")
}

fn empty_as_none(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

impl OfferRequest {
    /// The terms, or the first documented refusal. `agent_field` names the agent's key in the
    /// refusal for a missing agent (`agent_sys_id`, `assignment.agent_sys_id`).
    pub fn check(&self, agent_field: &str, now: OffsetDateTime) -> Result<Offer, Refusal> {
        let Some(agent) = empty_as_none(&self.agent) else {
            return Err(Refusal::Missing(agent_field.to_owned()));
        };
        let allowed_to_decline = match empty_as_none(&self.allowed_to_decline) {
            Some(v) => parse_flag(v)?,
            None => true,
        };
        let auto_assign = match empty_as_none(&self.enable_auto_assign) {
            Some(v) => parse_flag(v)?,
            None => false,
        };
        let display_option = match empty_as_none(&self.display_option) {
            Some(v) if DISPLAY_OPTIONS.contains(&v) => v.to_owned(),
            Some(v) => return Err(Refusal::NotADisplayOption(v.to_owned())),
            None => DISPLAY_OPTIONS[0].to_owned(),
        };
        let deadline = self.deadline(now)?;
        Ok(Offer {
            agent: agent.to_owned(),
            allowed_to_decline,
            auto_assign,
            display_option,
            // An automatic accept leaves nothing to time out.
            deadline: if auto_assign { None } else { deadline },
        })
    }

    fn deadline(&self, now: OffsetDateTime) -> Result<Option<Deadline>, Refusal> {
        let Some(timeout) = empty_as_none(&self.timeout) else {
            return Ok(None);
        };
        let seconds: i64 = match timeout.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s < 0.0 => return Err(Refusal::NegativeTimeout),
            Ok(s) if s.is_finite() && s <= i32::MAX as f64 => s.ceil() as i64,
            _ => return Err(Refusal::NotATimeout(timeout.to_owned())),
        };
        if seconds == 0 {
            return Ok(None);
        }
        let offered_on = match empty_as_none(&self.offered_on) {
            None => now,
            Some(text) => {
                let Some(at) = parse_offered_on(text) else {
                    return Err(Refusal::OfferedOnFormat(text.to_owned()));
                };
                if at > now {
                    return Err(Refusal::OfferedOnInFuture(text.to_owned()));
                }
                at
            }
        };
        let expires = offered_on + Duration::seconds(seconds);
        if expires <= now {
            return Err(Refusal::NoTimeLeft(format_offered_on(expires)));
        }
        Ok(Some(Deadline {
            seconds,
            offered_on,
            expires,
            after_timeout_presence: empty_as_none(&self.after_timeout_presence).map(str::to_owned),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 10:00:00 UTC);

    fn request(agent: &str) -> OfferRequest {
        OfferRequest {
            agent: Some(agent.into()),
            ..OfferRequest::default()
        }
    }

    #[test]
    fn defaults_are_the_pages_defaults() {
        let offer = request("a").check("agent_sys_id", NOW).unwrap();
        assert_eq!(
            offer,
            Offer {
                agent: "a".into(),
                allowed_to_decline: true,
                auto_assign: false,
                display_option: "card_only".into(),
                deadline: None,
            }
        );
    }

    #[test]
    fn a_missing_agent_is_named() {
        let refusal = OfferRequest::default().check("assignment.agent_sys_id", NOW);
        assert_eq!(
            refusal,
            Err(Refusal::Missing("assignment.agent_sys_id".into()))
        );
    }

    #[test]
    fn booleans_are_true_yes_1_and_false_no_0_in_any_case() {
        for (text, value) in [
            ("true", true),
            ("YES", true),
            ("1", true),
            ("False", false),
            ("no", false),
            ("0", false),
        ] {
            assert_eq!(parse_flag(text), Ok(value), "{text}");
        }
        let mut r = request("a");
        r.allowed_to_decline = Some("maybe".into());
        assert_eq!(
            r.check("agent_sys_id", NOW),
            Err(Refusal::NotABoolean("maybe".into()))
        );
    }

    #[test]
    fn the_display_option_is_one_of_two() {
        let mut r = request("a");
        r.display_option = Some("card_and_tab".into());
        assert_eq!(
            r.check("x", NOW).unwrap().display_option,
            "card_and_tab".to_owned()
        );
        r.display_option = Some("tab_only".into());
        assert_eq!(
            r.check("x", NOW),
            Err(Refusal::NotADisplayOption("tab_only".into()))
        );
    }

    #[test]
    fn a_timeout_counts_from_now_or_from_the_offer_time() {
        let mut r = request("a");
        r.timeout = Some("30".into());
        r.after_timeout_presence = Some("away".into());
        let deadline = r.check("x", NOW).unwrap().deadline.unwrap();
        assert_eq!(deadline.expires, datetime!(2026-11-28 10:00:30 UTC));
        assert_eq!(deadline.after_timeout_presence.as_deref(), Some("away"));
        r.offered_on = Some("2026-11-28T09:59:45.000".into());
        let deadline = r.check("x", NOW).unwrap().deadline.unwrap();
        assert_eq!(deadline.offered_on, datetime!(2026-11-28 09:59:45 UTC));
        assert_eq!(deadline.expires, datetime!(2026-11-28 10:00:15 UTC));
    }

    #[test]
    fn without_a_timeout_the_offer_time_and_presence_are_ignored() {
        let mut r = request("a");
        r.offered_on = Some("not a time".into());
        r.after_timeout_presence = Some("nothing".into());
        assert_eq!(r.check("x", NOW).unwrap().deadline, None);
        r.timeout = Some("0".into());
        assert_eq!(r.check("x", NOW).unwrap().deadline, None);
    }

    #[test]
    fn timeouts_are_refused_when_negative_or_not_numbers() {
        let mut r = request("a");
        r.timeout = Some("-1".into());
        assert_eq!(r.check("x", NOW), Err(Refusal::NegativeTimeout));
        r.timeout = Some("soon".into());
        assert_eq!(r.check("x", NOW), Err(Refusal::NotATimeout("soon".into())));
    }

    #[test]
    fn the_offer_time_has_one_format_and_is_not_in_the_future() {
        let mut r = request("a");
        r.timeout = Some("30".into());
        r.offered_on = Some("2026-11-28 09:59:45".into());
        assert_eq!(
            r.check("x", NOW),
            Err(Refusal::OfferedOnFormat("2026-11-28 09:59:45".into()))
        );
        r.offered_on = Some("2026-11-28T10:00:01.000".into());
        assert_eq!(
            r.check("x", NOW),
            Err(Refusal::OfferedOnInFuture("2026-11-28T10:00:01.000".into()))
        );
    }

    #[test]
    fn an_offer_that_would_already_have_expired_is_refused_with_its_expiry() {
        // The Offer Work page's sample: offered in 2024 with 30 seconds to accept.
        let mut r = request("a");
        r.timeout = Some("30".into());
        r.offered_on = Some("2024-04-03T23:09:31.000".into());
        assert_eq!(
            r.check("x", NOW),
            Err(Refusal::NoTimeLeft("2024-04-03T23:10:01.000".into()))
        );
    }

    #[test]
    fn auto_assign_drops_the_deadline() {
        let mut r = request("a");
        r.enable_auto_assign = Some("yes".into());
        r.timeout = Some("30".into());
        let offer = r.check("x", NOW).unwrap();
        assert!(offer.auto_assign);
        assert_eq!(offer.deadline, None);
    }
}
