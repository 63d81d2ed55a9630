//! Dates in encoded queries: units of time, named periods (`Today`, `Last week`), and the
//! `javascript:gs.…()` date functions that the platform's operators page and its clients write
//! into query values.
//!
//! A function is read as data, by name from a fixed list, and computed in UTC from the moment
//! the query is resolved: nothing in a query is ever run as script. Weeks start on Monday.

use time::{Date, Duration, Month, OffsetDateTime, Time};

use super::value::{format_date_time, parse_date_time};

/// A unit of time, as relative and field-to-field date conditions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    pub const ALL: [Unit; 8] = [
        Unit::Second,
        Unit::Minute,
        Unit::Hour,
        Unit::Day,
        Unit::Week,
        Unit::Month,
        Unit::Quarter,
        Unit::Year,
    ];

    /// The unit a query calls `name`. `dayofweek` is days too: the platform's own name for them
    /// in relative conditions (`RELATIVEGT@dayofweek@ago@90`), which clients copy.
    pub fn parse(name: &str) -> Option<Unit> {
        match name {
            "dayofweek" => Some(Unit::Day),
            _ => Unit::ALL.into_iter().find(|unit| unit.name() == name),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Quarter => "quarter",
            Unit::Year => "year",
        }
    }
}

/// `t` moved by `count` units (a negative count moves it earlier); `None` past the years
/// 0000–9999. Months, quarters and years keep the day of the month, or take the month's last day
/// where it has no such day (31 January plus a month is the last day of February).
pub fn shift(t: OffsetDateTime, unit: Unit, count: i64) -> Option<OffsetDateTime> {
    let by_seconds = |seconds: i64| t.checked_add(Duration::seconds(count.checked_mul(seconds)?));
    let shifted = match unit {
        Unit::Second => by_seconds(1),
        Unit::Minute => by_seconds(60),
        Unit::Hour => by_seconds(3_600),
        Unit::Day => by_seconds(86_400),
        Unit::Week => by_seconds(604_800),
        Unit::Month => add_months(t, count),
        Unit::Quarter => add_months(t, count.checked_mul(3)?),
        Unit::Year => add_months(t, count.checked_mul(12)?),
    }?;
    (0..=9999).contains(&shifted.year()).then_some(shifted)
}

fn add_months(t: OffsetDateTime, months: i64) -> Option<OffsetDateTime> {
    let index = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1;
    let index = index.checked_add(months)?;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = t.day().min(month.length(year));
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(t.replace_date(date))
}

/// The first second of the unit `t` falls in (a week starts on Monday, a quarter in January,
/// April, July or October).
pub fn start_of(t: OffsetDateTime, unit: Unit) -> Option<OffsetDateTime> {
    let date = t.date();
    let first_month = |month: Month| date.replace_day(1).ok()?.replace_month(month).ok();
    let (date, time) = match unit {
        Unit::Second => (date, Time::from_hms(t.hour(), t.minute(), t.second()).ok()?),
        Unit::Minute => (date, Time::from_hms(t.hour(), t.minute(), 0).ok()?),
        Unit::Hour => (date, Time::from_hms(t.hour(), 0, 0).ok()?),
        Unit::Day => (date, Time::MIDNIGHT),
        Unit::Week => {
            let back = Duration::days(date.weekday().number_days_from_monday().into());
            (date.checked_sub(back)?, Time::MIDNIGHT)
        }
        Unit::Month => (date.replace_day(1).ok()?, Time::MIDNIGHT),
        Unit::Quarter => {
            let month = Month::try_from((u8::from(date.month()) - 1) / 3 * 3 + 1).ok()?;
            (first_month(month)?, Time::MIDNIGHT)
        }
        Unit::Year => (first_month(Month::January)?, Time::MIDNIGHT),
    };
    Some(t.replace_date(date).replace_time(time))
}

/// The last second of the unit `t` falls in.
pub fn end_of(t: OffsetDateTime, unit: Unit) -> Option<OffsetDateTime> {
    let next = shift(start_of(t, unit)?, unit, 1)?;
    next.checked_sub(Duration::SECOND)
}

/// The start and end of the unit `offset` units away from the one `now` falls in.
fn period_around(now: OffsetDateTime, unit: Unit, offset: i64) -> Option<(String, String)> {
    let at = shift(now, unit, offset)?;
    Some((
        format_date_time(start_of(at, unit)?),
        format_date_time(end_of(at, unit)?),
    ))
}

/// The periods an `ON` label may name alone, and the `gs.beginningOf…()`/`gs.endOf…()`
/// functions name: (label, name in the functions, unit, offset from the current one).
pub const PERIODS: [(&str, &str, Unit, i64); 15] = [
    ("Today", "Today", Unit::Day, 0),
    ("Yesterday", "Yesterday", Unit::Day, -1),
    ("Tomorrow", "Tomorrow", Unit::Day, 1),
    ("This week", "ThisWeek", Unit::Week, 0),
    ("Last week", "LastWeek", Unit::Week, -1),
    ("Next week", "NextWeek", Unit::Week, 1),
    ("This month", "ThisMonth", Unit::Month, 0),
    ("Last month", "LastMonth", Unit::Month, -1),
    ("Next month", "NextMonth", Unit::Month, 1),
    ("This quarter", "ThisQuarter", Unit::Quarter, 0),
    ("Last quarter", "LastQuarter", Unit::Quarter, -1),
    ("Next quarter", "NextQuarter", Unit::Quarter, 1),
    ("This year", "ThisYear", Unit::Year, 0),
    ("Last year", "LastYear", Unit::Year, -1),
    ("Next year", "NextYear", Unit::Year, 1),
];

/// The first and last second of what an `ON` label names by itself: one of the [`PERIODS`], or
/// the day of a date (`2024-01-15`) or date-time (`2024-01-15 10:00:00`, as aiosnow sends it).
pub fn period(label: &str, now: OffsetDateTime) -> Option<(String, String)> {
    if let Some((_, _, unit, offset)) = PERIODS.iter().find(|p| p.0 == label) {
        return period_around(now, *unit, *offset);
    }
    period_around(date_or_date_time(label)?, Unit::Day, 0)
}

/// `YYYY-MM-DD HH:MM:SS`, or `YYYY-MM-DD` as the start of that day.
fn date_or_date_time(text: &str) -> Option<OffsetDateTime> {
    parse_date_time(text).or_else(|| parse_date_time(&format!("{text} 00:00:00")))
}

/// The script a query value holds, if it is one (`javascript:…`).
pub fn script(value: &str) -> Option<&str> {
    value.strip_prefix("javascript:")
}

/// A function call read as data: `gs.name(arguments)`.
#[derive(Debug, PartialEq, Eq)]
pub struct Call<'a> {
    pub name: &'a str,
    pub args: Vec<Arg<'a>>,
}

/// An argument: a quoted string (`'…'` or `"…"`) or a whole number.
#[derive(Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

/// Reads `gs.name(arguments)`, spaces allowed around the name and the arguments.
pub fn call(script: &str) -> Option<Call<'_>> {
    let inner = script.trim().strip_prefix("gs.")?;
    let (name, args) = inner.split_once('(')?;
    let name = name.trim_end();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let args = args.trim_end().strip_suffix(')')?;
    let args = match args.trim() {
        "" => Vec::new(),
        _ => args.split(',').map(arg).collect::<Option<_>>()?,
    };
    Some(Call { name, args })
}

fn arg(text: &str) -> Option<Arg<'_>> {
    let text = text.trim();
    for quote in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return (!inner.contains(quote)).then_some(Arg::Text(inner));
        }
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    numeric
        .then(|| text.parse().ok())
        .flatten()
        .map(Arg::Number)
}

/// What an `…Ago` function gives: the moment itself, or the start or end of its unit.
#[derive(Clone, Copy)]
enum Edge {
    Moment,
    Start,
    End,
}

/// The date-time a script stands for at `now`, in the platform's format, when it is one of the
/// date functions switchboard reads (listed in docs/table-api.md):
/// - `gs.beginningOf<Period>()`, `gs.endOf<Period>()` for the [`PERIODS`];
/// - `gs.<units>Ago(n)`, `gs.<units>AgoStart(n)`, `gs.<units>AgoEnd(n)` for minutes, hours,
///   days, months, quarters and years (a negative `n` is ahead);
/// - `gs.dateGenerate('YYYY-MM-DD', 'start' | 'end' | 'HH:MM:SS')` and
///   `gs.dateGenerate('YYYY-MM-DD[ HH:MM:SS]')`;
/// - `gs.nowDateTime()`, `gs.nowNoTZ()` (now) and `gs.now()` (the start of today).
pub fn evaluate(script: &str, now: OffsetDateTime) -> Option<String> {
    let Call { name, args } = call(script)?;
    let at = match (name, args.as_slice()) {
        ("now", []) => start_of(now, Unit::Day),
        ("nowDateTime" | "nowNoTZ", []) => Some(now),
        ("dateGenerate", [Arg::Text(at)]) => date_or_date_time(at),
        ("dateGenerate", [Arg::Text(date), Arg::Text(time)]) => generated(date, time),
        (_, []) => period_edge(name, now),
        (_, [Arg::Number(count)]) => units_ago(name, *count, now),
        _ => None,
    }?;
    Some(format_date_time(at))
}

/// `gs.beginningOfToday()`, `gs.endOfLastMonth()`, ...
fn period_edge(name: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let (end, period) = match name.strip_prefix("beginningOf") {
        Some(period) => (false, period),
        None => (true, name.strip_prefix("endOf")?),
    };
    let (_, _, unit, offset) = PERIODS.iter().find(|p| p.1 == period)?;
    let at = shift(now, *unit, *offset)?;
    match end {
        false => start_of(at, *unit),
        true => end_of(at, *unit),
    }
}

/// `gs.daysAgo(n)`, `gs.hoursAgoStart(n)`, `gs.monthsAgoEnd(n)`, ...
fn units_ago(name: &str, count: i64, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let (units, edge) = [
        ("AgoStart", Edge::Start),
        ("AgoEnd", Edge::End),
        ("Ago", Edge::Moment),
    ]
    .into_iter()
    .find_map(|(suffix, edge)| Some((name.strip_suffix(suffix)?, edge)))?;
    let unit = match units {
        "minutes" => Unit::Minute,
        "hours" => Unit::Hour,
        "days" => Unit::Day,
        "months" => Unit::Month,
        "quarters" => Unit::Quarter,
        "years" => Unit::Year,
        _ => return None,
    };
    let at = shift(now, unit, count.checked_neg()?)?;
    match edge {
        Edge::Moment => Some(at),
        Edge::Start => start_of(at, unit),
        Edge::End => end_of(at, unit),
    }
}

/// `gs.dateGenerate(date, time)`: `time` is `start`, `end` or `HH:MM:SS`.
fn generated(date: &str, time: &str) -> Option<OffsetDateTime> {
    let time = match time {
        "start" => "00:00:00",
        "end" => "23:59:59",
        other => other,
    };
    parse_date_time(&format!("{date} {time}"))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    /// Wednesday 2024-02-28 13:45:30 UTC, in a leap year.
    const NOW: OffsetDateTime = datetime!(2024-02-28 13:45:30 UTC);

    fn at(script: &str) -> Option<String> {
        evaluate(script, NOW)
    }

    fn text(t: Option<OffsetDateTime>) -> String {
        format_date_time(t.unwrap())
    }

    #[test]
    fn units_by_name() {
        for unit in Unit::ALL {
            assert_eq!(Unit::parse(unit.name()), Some(unit));
        }
        assert_eq!(Unit::parse("dayofweek"), Some(Unit::Day));
        for name in ["Hour", "days", "", "hours ", "fortnight"] {
            assert_eq!(Unit::parse(name), None, "{name}");
        }
    }

    #[test]
    fn shifting_keeps_the_day_or_takes_the_months_last() {
        let jan31 = datetime!(2023-01-31 10:00:00 UTC);
        assert_eq!(text(shift(jan31, Unit::Month, 1)), "2023-02-28 10:00:00");
        assert_eq!(text(shift(NOW, Unit::Month, 1)), "2024-03-28 13:45:30");
        let leap_day = datetime!(2024-02-29 00:00:00 UTC);
        assert_eq!(text(shift(leap_day, Unit::Year, 1)), "2025-02-28 00:00:00");
        assert_eq!(text(shift(NOW, Unit::Quarter, -1)), "2023-11-28 13:45:30");
        assert_eq!(text(shift(NOW, Unit::Week, 1)), "2024-03-06 13:45:30");
        assert_eq!(text(shift(NOW, Unit::Hour, -14)), "2024-02-27 23:45:30");
        assert_eq!(text(shift(NOW, Unit::Second, 30)), "2024-02-28 13:46:00");
        assert_eq!(shift(NOW, Unit::Year, 8000), None);
        assert_eq!(shift(NOW, Unit::Day, i64::MAX), None);
        assert_eq!(shift(NOW, Unit::Month, i64::MIN), None);
    }

    #[test]
    fn units_start_and_end() {
        let cases = [
            (Unit::Second, "2024-02-28 13:45:30", "2024-02-28 13:45:30"),
            (Unit::Minute, "2024-02-28 13:45:00", "2024-02-28 13:45:59"),
            (Unit::Hour, "2024-02-28 13:00:00", "2024-02-28 13:59:59"),
            (Unit::Day, "2024-02-28 00:00:00", "2024-02-28 23:59:59"),
            (Unit::Week, "2024-02-26 00:00:00", "2024-03-03 23:59:59"),
            (Unit::Month, "2024-02-01 00:00:00", "2024-02-29 23:59:59"),
            (Unit::Quarter, "2024-01-01 00:00:00", "2024-03-31 23:59:59"),
            (Unit::Year, "2024-01-01 00:00:00", "2024-12-31 23:59:59"),
        ];
        for (unit, start, end) in cases {
            assert_eq!(text(start_of(NOW, unit)), start, "{unit:?}");
            assert_eq!(text(end_of(NOW, unit)), end, "{unit:?}");
        }
        // A Monday starts its own week; a Sunday ends it.
        let monday = datetime!(2024-02-26 08:00:00 UTC);
        assert_eq!(text(start_of(monday, Unit::Week)), "2024-02-26 00:00:00");
        let sunday = datetime!(2024-03-03 08:00:00 UTC);
        assert_eq!(text(start_of(sunday, Unit::Week)), "2024-02-26 00:00:00");
    }

    #[test]
    fn named_periods_and_dates() {
        let cases = [
            ("Today", "2024-02-28 00:00:00", "2024-02-28 23:59:59"),
            ("Yesterday", "2024-02-27 00:00:00", "2024-02-27 23:59:59"),
            ("Tomorrow", "2024-02-29 00:00:00", "2024-02-29 23:59:59"),
            ("Last week", "2024-02-19 00:00:00", "2024-02-25 23:59:59"),
            ("Next month", "2024-03-01 00:00:00", "2024-03-31 23:59:59"),
            ("Last quarter", "2023-10-01 00:00:00", "2023-12-31 23:59:59"),
            ("This year", "2024-01-01 00:00:00", "2024-12-31 23:59:59"),
            ("2023-07-04", "2023-07-04 00:00:00", "2023-07-04 23:59:59"),
            (
                "2019-12-24 02:03:04",
                "2019-12-24 00:00:00",
                "2019-12-24 23:59:59",
            ),
        ];
        for (label, start, end) in cases {
            let expected = (start.to_owned(), end.to_owned());
            assert_eq!(period(label, NOW), Some(expected), "{label}");
        }
        for label in ["today", "Last Week", "", "2024-02-30", "Last 7 days"] {
            assert_eq!(period(label, NOW), None, "{label}");
        }
    }

    #[test]
    fn the_operators_page_functions() {
        assert_eq!(at("gs.daysAgoStart(0)").unwrap(), "2024-02-28 00:00:00");
        assert_eq!(at("gs.daysAgoEnd(0)").unwrap(), "2024-02-28 23:59:59");
        assert_eq!(at("gs.daysAgoStart(1)").unwrap(), "2024-02-27 00:00:00");
        assert_eq!(at("gs.daysAgoEnd(-1)").unwrap(), "2024-02-29 23:59:59");
    }

    #[test]
    fn every_function_on_the_list() {
        let cases = [
            ("gs.beginningOfToday()", "2024-02-28 00:00:00"),
            ("gs.endOfToday()", "2024-02-28 23:59:59"),
            ("gs.beginningOfYesterday()", "2024-02-27 00:00:00"),
            ("gs.endOfTomorrow()", "2024-02-29 23:59:59"),
            ("gs.beginningOfThisWeek()", "2024-02-26 00:00:00"),
            ("gs.endOfLastWeek()", "2024-02-25 23:59:59"),
            ("gs.beginningOfNextWeek()", "2024-03-04 00:00:00"),
            ("gs.endOfThisMonth()", "2024-02-29 23:59:59"),
            ("gs.beginningOfLastMonth()", "2024-01-01 00:00:00"),
            ("gs.endOfNextMonth()", "2024-03-31 23:59:59"),
            ("gs.beginningOfThisQuarter()", "2024-01-01 00:00:00"),
            ("gs.endOfNextQuarter()", "2024-06-30 23:59:59"),
            ("gs.beginningOfLastYear()", "2023-01-01 00:00:00"),
            ("gs.endOfNextYear()", "2025-12-31 23:59:59"),
            ("gs.minutesAgo(15)", "2024-02-28 13:30:30"),
            ("gs.minutesAgoStart(15)", "2024-02-28 13:30:00"),
            ("gs.hoursAgo(2)", "2024-02-28 11:45:30"),
            ("gs.hoursAgoEnd(2)", "2024-02-28 11:59:59"),
            ("gs.daysAgo(30)", "2024-01-29 13:45:30"),
            ("gs.monthsAgo(1)", "2024-01-28 13:45:30"),
            ("gs.monthsAgoStart(1)", "2024-01-01 00:00:00"),
            ("gs.quartersAgoEnd(1)", "2023-12-31 23:59:59"),
            ("gs.yearsAgo(1)", "2023-02-28 13:45:30"),
            ("gs.yearsAgoStart(-1)", "2025-01-01 00:00:00"),
            ("gs.nowDateTime()", "2024-02-28 13:45:30"),
            ("gs.nowNoTZ()", "2024-02-28 13:45:30"),
            ("gs.now()", "2024-02-28 00:00:00"),
            (
                "gs.dateGenerate('2024-01-15','start')",
                "2024-01-15 00:00:00",
            ),
            (
                "gs.dateGenerate('2024-01-15', 'end')",
                "2024-01-15 23:59:59",
            ),
            (
                "gs.dateGenerate('2024-01-15','10:20:30')",
                "2024-01-15 10:20:30",
            ),
            (
                "gs.dateGenerate(\"2024-01-15 10:20:30\")",
                "2024-01-15 10:20:30",
            ),
            ("gs.dateGenerate('2024-01-15')", "2024-01-15 00:00:00"),
            (" gs.daysAgoStart( 0 ) ", "2024-02-28 00:00:00"),
        ];
        for (script, expected) in cases {
            assert_eq!(at(script).as_deref(), Some(expected), "{script}");
        }
    }

    #[test]
    fn anything_else_is_not_read() {
        for script in [
            "gs.getUserID()",
            "gs.daysAgo()",
            "gs.daysAgo('1')",
            "gs.daysAgo(1, 2)",
            "gs.daysAgo(1.5)",
            "gs.daysAgo(+1)",
            "gs.daysAgo(99999999)",
            "gs.daysAgo(-9223372036854775808)",
            "gs.weeksAgo(1)",
            "gs.beginningOfToday(1)",
            "gs.beginningOfLast7Days()",
            "gs.dateGenerate('2024-02-30','start')",
            "gs.dateGenerate('2024-01-15','noon')",
            "gs.dateGenerate('2024-01-15)",
            "gs.datePart('dayofweek','monday','GE')",
            "gs.daysAgo(1);",
            "gs.daysAgo(1); gs.sleep(1)",
            "new GlideDateTime()",
            "daysAgo(1)",
            "gs.days Ago(1)",
            "",
            "gs.(1)",
        ] {
            assert_eq!(at(script), None, "{script}");
        }
    }

    #[test]
    fn calls_are_read_as_data() {
        assert_eq!(
            call("gs.datePart('dayofweek', \"monday\",'GE')"),
            Some(Call {
                name: "datePart",
                args: vec![Arg::Text("dayofweek"), Arg::Text("monday"), Arg::Text("GE")],
            })
        );
        assert_eq!(call("gs.daysAgo(-3)").unwrap().args, vec![Arg::Number(-3)]);
        for script in ["gs.x('a'')", "gs.x('a'b')", "gs.x(')", "gs.x(-)", "gs.x"] {
            assert_eq!(call(script), None, "{script}");
        }
        assert_eq!(script("javascript:gs.now()"), Some("gs.now()"));
        assert_eq!(script("JavaScript:gs.now()"), None);
    }
}
