//! The operators of a condition, as the platform's operators page lists them (aliases
//! included), and the shapes of their operands: read without knowing any table, so a field
//! named in an operand is checked later, with the condition's own field.

use time::Weekday;

use super::{QueryError, error, is_field_char, quote};
use crate::model::dates::{self, Arg, Unit};

/// A condition's operator together with its operand(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    Eq(String),
    Ne(String),
    /// `LIKE` or `*`: contains.
    Like(String),
    /// `NOT LIKE` or `!*`: does not contain.
    NotLike(String),
    StartsWith(String),
    /// `ENDSWITH` or `%`.
    EndsWith(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    /// `ISEMPTY` or `EMPTY`.
    IsEmpty,
    /// `ISNOTEMPTY` or `NOTEMPTY`.
    IsNotEmpty,
    /// `ANYTHING`: every record, whatever the field holds.
    Anything,
    /// `EMPTYSTRING`.
    EmptyString,
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    Between(String, String),
    /// `SAMEAS`: the same value as another field of the record.
    SameAs(OtherField),
    /// `NSAMEAS`: not the same value as another field of the record.
    NotSameAs(OtherField),
    /// `GT_FIELD`: greater than another field of the record.
    GtField(String),
    /// `LT_FIELD`.
    LtField(String),
    /// `GT_OR_EQUALS_FIELD`.
    GeField(String),
    /// `LT_OR_EQUALS_FIELD`.
    LeField(String),
    /// `ON`: within a day or a named period.
    On(OnDate),
    /// `NOTON`: outside a day or a named period.
    NotOn(OnDate),
    /// `DATEPART`: a trend, by the day of the week.
    DatePart(DatePart),
    /// `RELATIVEGT`: after a moment relative to now.
    RelativeGt(Relative),
    /// `RELATIVELT`: before a moment relative to now.
    RelativeLt(Relative),
    /// `MORETHAN`: more than some units before or after another date-time field.
    MoreThan(Span),
    /// `LESSTHAN`: less than some units before or after another date-time field.
    LessThan(Span),
    /// `DYNAMIC`: the value a dynamic filter option stands for.
    Dynamic(DynamicOption),
}

/// A dynamic filter option `DYNAMIC` names by its sys_id: the ones switchboard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicOption {
    /// "Me": the caller.
    Me,
}

/// The dynamic filter options switchboard reads, by the sys_ids the platform gives them. "Me" is
/// `90d1921e…` on every instance (the operators page's `IN_HIERARCHY_DYNAMIC` example names it).
/// The page's own `DYNAMIC` example, `[Caller][is (dynamic)][Me]`, is written with `54635e96…`,
/// which is the platform's "One of My Approvals" (the caller and whoever made them their
/// approval delegate): switchboard has no delegates, so that option selects the caller too.
pub const DYNAMIC_OPTIONS: [(&str, DynamicOption); 2] = [
    ("90d1921e5f510100a9ad2572f2b477fe", DynamicOption::Me),
    ("54635e965f510100a9ad2572f2b4774c", DynamicOption::Me),
];

/// Another field of the same record, and for date-times the unit they are compared to
/// (`sla_dueSAMEASactivity_due@day`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherField {
    pub field: String,
    pub unit: Option<Unit>,
}

/// The operand of `ON`/`NOTON`: a label (`Today`, a date), and the range's start and end when
/// the query spells them out (`Today@javascript:gs.daysAgoStart(0)@javascript:gs.daysAgoEnd(0)`),
/// in which case they decide and the label is only the condition builder's caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDate {
    pub label: String,
    pub range: Option<(String, String)>,
}

/// `DATEPART`'s operand: `label@javascript:gs.datePart('dayofweek','monday','GE')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePart {
    pub label: String,
    pub weekday: Weekday,
    pub comparison: Comparison,
}

/// How a day of the week compares in `DATEPART` (`EE`, `LT`, `LE`, `GT`, `GE`); the page orders
/// the week from Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A moment `count` units before (`ago`) or after (`ahead`) now: `@hour@ago@1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relative {
    pub unit: Unit,
    pub ahead: bool,
    pub count: u32,
}

/// `MORETHAN`/`LESSTHAN`'s operand: `activity_due@day@before@1`, `count` whole units before
/// (or `after`) another date-time field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub field: String,
    pub unit: Unit,
    pub after: bool,
    pub count: u32,
}

impl Operator {
    /// The other field of the record an operator names, if any.
    pub fn other_field(&self) -> Option<&str> {
        match self {
            Operator::SameAs(other) | Operator::NotSameAs(other) => Some(&other.field),
            Operator::GtField(field)
            | Operator::LtField(field)
            | Operator::GeField(field)
            | Operator::LeField(field) => Some(field),
            Operator::MoreThan(span) | Operator::LessThan(span) => Some(&span.field),
            _ => None,
        }
    }
}

/// What an operator token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Eq,
    Ne,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Anything,
    EmptyString,
    Lt,
    Le,
    Gt,
    Ge,
    Between,
    SameAs,
    NotSameAs,
    GtField,
    LtField,
    GeField,
    LeField,
    On,
    NotOn,
    DatePart,
    RelativeGt,
    RelativeLt,
    MoreThan,
    LessThan,
    Dynamic,
    /// On the page, but not for querying stored records here; the reason says why.
    Elsewhere(&'static str),
}

const CHANGES: Token = Token::Elsewhere("matches changes being saved, not records");
const TAGS: Token = Token::Elsewhere("filters by tags, which switchboard lacks");
const HIERARCHY: Token = Token::Elsewhere("needs hierarchies, which switchboard lacks");

/// Every operator on the page, as it is spelt there (case included), longest first where one
/// is a prefix of another (`NOT IN` before `IN`, `<=` before `<`).
const TOKENS: &[(&str, Token)] = &[
    ("ISNOTEMPTY", Token::IsNotEmpty),
    ("ISEMPTY", Token::IsEmpty),
    ("NOTEMPTY", Token::IsNotEmpty),
    ("EMPTYSTRING", Token::EmptyString),
    ("EMPTY", Token::IsEmpty),
    ("ANYTHING", Token::Anything),
    ("NOT LIKE", Token::NotLike),
    ("NOT IN", Token::NotIn),
    ("NOTON", Token::NotOn),
    ("NSAMEAS", Token::NotSameAs),
    ("SAMEAS", Token::SameAs),
    ("STARTSWITH", Token::StartsWith),
    ("ENDSWITH", Token::EndsWith),
    ("BETWEEN", Token::Between),
    ("LIKE", Token::Like),
    ("IN_HIERARCHY_DYNAMIC", HIERARCHY),
    ("IN_HIERARCHY", HIERARCHY),
    ("IN", Token::In),
    ("ON", Token::On),
    ("DATEPART", Token::DatePart),
    ("RELATIVEGT", Token::RelativeGt),
    ("RELATIVELT", Token::RelativeLt),
    ("MORETHAN", Token::MoreThan),
    ("LESSTHAN", Token::LessThan),
    ("GT_OR_EQUALS_FIELD", Token::GeField),
    ("GT_FIELD", Token::GtField),
    ("LT_OR_EQUALS_FIELD", Token::LeField),
    ("LT_FIELD", Token::LtField),
    ("VALCHANGES", CHANGES),
    ("CHANGESFROM", CHANGES),
    ("CHANGESTO", CHANGES),
    ("DYNAMIC", Token::Dynamic),
    ("DOESNOTHAVE", TAGS),
    ("EXCLUDING", TAGS),
    ("!*", Token::NotLike),
    ("!=", Token::Ne),
    ("<=", Token::Le),
    (">=", Token::Ge),
    ("=", Token::Eq),
    ("<", Token::Lt),
    (">", Token::Gt),
    ("*", Token::Like),
    ("%", Token::EndsWith),
];

/// Reads the operator and operand(s) in `rest`, what follows the field name in `condition`
/// (which error messages quote).
pub(super) fn operator(condition: &str, rest: &str) -> Result<Operator, QueryError> {
    let Some((name, token, value)) = TOKENS
        .iter()
        .find_map(|(name, token)| rest.strip_prefix(name).map(|value| (*name, *token, value)))
    else {
        return Err(error(format!(
            "unknown operator in condition {}",
            quote(condition)
        )));
    };
    let owned = || value.to_owned();
    let at = Operand {
        condition,
        name,
        value,
    };
    Ok(match token {
        Token::Eq => Operator::Eq(owned()),
        Token::Ne => Operator::Ne(owned()),
        Token::Like => Operator::Like(owned()),
        Token::NotLike => Operator::NotLike(owned()),
        Token::StartsWith => Operator::StartsWith(owned()),
        Token::EndsWith => Operator::EndsWith(owned()),
        Token::In => Operator::In(at.list()?),
        Token::NotIn => Operator::NotIn(at.list()?),
        // These take no operand; one written after them is ignored, as the platform does.
        Token::IsEmpty => Operator::IsEmpty,
        Token::IsNotEmpty => Operator::IsNotEmpty,
        Token::Anything => Operator::Anything,
        Token::EmptyString => Operator::EmptyString,
        Token::Lt => Operator::Lt(owned()),
        Token::Le => Operator::Le(owned()),
        Token::Gt => Operator::Gt(owned()),
        Token::Ge => Operator::Ge(owned()),
        Token::Between => {
            let Some((low, high)) = value.split_once('@') else {
                return Err(at.needs("low@high"));
            };
            Operator::Between(low.to_owned(), high.to_owned())
        }
        Token::SameAs => Operator::SameAs(at.other_field()?),
        Token::NotSameAs => Operator::NotSameAs(at.other_field()?),
        Token::GtField => Operator::GtField(at.field(value, "field")?),
        Token::LtField => Operator::LtField(at.field(value, "field")?),
        Token::GeField => Operator::GeField(at.field(value, "field")?),
        Token::LeField => Operator::LeField(at.field(value, "field")?),
        Token::On => Operator::On(at.on_date()?),
        Token::NotOn => Operator::NotOn(at.on_date()?),
        Token::DatePart => Operator::DatePart(at.date_part()?),
        Token::RelativeGt => Operator::RelativeGt(at.relative()?),
        Token::RelativeLt => Operator::RelativeLt(at.relative()?),
        Token::MoreThan => Operator::MoreThan(at.span()?),
        Token::LessThan => Operator::LessThan(at.span()?),
        Token::Dynamic => Operator::Dynamic(at.dynamic()?),
        Token::Elsewhere(reason) => {
            return Err(error(format!(
                "operator {name} {reason} (condition {})",
                quote(condition)
            )));
        }
    })
}

/// An operator's operand, with what error messages need to say where it was.
struct Operand<'a> {
    condition: &'a str,
    name: &'a str,
    value: &'a str,
}

impl Operand<'_> {
    /// The operand does not have the shape `form`.
    fn needs(&self, form: &str) -> QueryError {
        error(format!(
            // Short: with the longest form and a 60-character quote it stays under 160.
            "{} in condition {} needs '{form}'",
            self.name,
            quote(self.condition)
        ))
    }

    fn list(&self) -> Result<Vec<String>, QueryError> {
        super::split_list(self.condition, self.value)
    }

    /// A field name, as a condition's own is spelt.
    fn field(&self, name: &str, form: &str) -> Result<String, QueryError> {
        match !name.is_empty() && name.chars().all(is_field_char) {
            true => Ok(name.to_owned()),
            false => Err(self.needs(form)),
        }
    }

    fn unit(&self, name: &str) -> Result<Unit, QueryError> {
        Unit::parse(name).ok_or_else(|| {
            let units: Vec<_> = Unit::ALL.iter().map(|u| u.name()).collect();
            error(format!(
                "condition {} names no unit of time ({})",
                quote(self.condition),
                units.join(", ")
            ))
        })
    }

    /// A count of units: digits only.
    fn count(&self, digits: &str, form: &str) -> Result<u32, QueryError> {
        let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        numeric
            .then(|| digits.parse().ok())
            .flatten()
            .ok_or_else(|| self.needs(form))
    }

    /// `field` or `field@unit`.
    fn other_field(&self) -> Result<OtherField, QueryError> {
        const FORM: &str = "field or field@unit";
        let (field, unit) = match self.value.split_once('@') {
            Some((field, unit)) => (field, Some(self.unit(unit)?)),
            None => (self.value, None),
        };
        Ok(OtherField {
            field: self.field(field, FORM)?,
            unit,
        })
    }

    /// `label` or `label@start@end` (the label may hold `@` when the range follows it).
    fn on_date(&self) -> Result<OnDate, QueryError> {
        const FORM: &str = "label or label@start@end";
        if !self.value.contains('@') {
            return match self.value.is_empty() {
                true => Err(self.needs(FORM)),
                false => Ok(OnDate {
                    label: self.value.to_owned(),
                    range: None,
                }),
            };
        }
        let mut parts = self.value.rsplitn(3, '@');
        let (Some(end), Some(start), Some(label)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(self.needs(FORM));
        };
        Ok(OnDate {
            label: label.to_owned(),
            range: Some((start.to_owned(), end.to_owned())),
        })
    }

    /// `label@javascript:gs.datePart('dayofweek','monday','GE')`.
    fn date_part(&self) -> Result<DatePart, QueryError> {
        const FORM: &str = "label@javascript:gs.datePart('dayofweek','monday','GE')";
        let Some((label, script)) = self.value.rsplit_once('@') else {
            return Err(self.needs(FORM));
        };
        let call = dates::script(script).and_then(dates::call);
        let Some([Arg::Text(part), Arg::Text(day), Arg::Text(code)]) = call
            .as_ref()
            .filter(|call| call.name == "datePart")
            .map(|call| call.args.as_slice())
        else {
            return Err(self.needs(FORM));
        };
        if *part != "dayofweek" {
            return Err(error(format!(
                "DATEPART reads only the day of the week ('dayofweek'), in condition {}",
                quote(self.condition)
            )));
        }
        let (Some(weekday), Some(comparison)) = (weekday(day), comparison(code)) else {
            return Err(self.needs(FORM));
        };
        Ok(DatePart {
            label: label.to_owned(),
            weekday,
            comparison,
        })
    }

    /// `@unit@ago@count` or `@unit@ahead@count`.
    fn relative(&self) -> Result<Relative, QueryError> {
        const FORM: &str = "@unit@ago@count";
        let parts: Vec<&str> = self.value.splitn(5, '@').collect();
        let ["", unit, direction, count] = parts.as_slice() else {
            return Err(self.needs(FORM));
        };
        let ahead = match *direction {
            "ago" => false,
            "ahead" => true,
            _ => return Err(self.needs(FORM)),
        };
        Ok(Relative {
            unit: self.unit(unit)?,
            ahead,
            count: self.count(count, FORM)?,
        })
    }

    /// The sys_id of one of the [`DYNAMIC_OPTIONS`].
    fn dynamic(&self) -> Result<DynamicOption, QueryError> {
        DYNAMIC_OPTIONS
            .iter()
            .find(|(sys_id, _)| *sys_id == self.value)
            .map(|(_, option)| *option)
            .ok_or_else(|| {
                error(format!(
                    "DYNAMIC in condition {} names a dynamic filter option switchboard lacks \
                     (it has only Me)",
                    quote(self.condition)
                ))
            })
    }

    /// `field@unit@before@count` or `field@unit@after@count`.
    fn span(&self) -> Result<Span, QueryError> {
        const FORM: &str = "field@unit@before@count";
        let parts: Vec<&str> = self.value.splitn(5, '@').collect();
        let [field, unit, direction, count] = parts.as_slice() else {
            return Err(self.needs(FORM));
        };
        let after = match *direction {
            "before" => false,
            "after" => true,
            _ => return Err(self.needs(FORM)),
        };
        Ok(Span {
            field: self.field(field, FORM)?,
            unit: self.unit(unit)?,
            after,
            count: self.count(count, FORM)?,
        })
    }
}

/// The days of the week, as `gs.datePart` names them, Sunday first.
const WEEKDAYS: [(&str, Weekday); 7] = [
    ("sunday", Weekday::Sunday),
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
];

fn weekday(name: &str) -> Option<Weekday> {
    WEEKDAYS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, day)| *day)
}

/// `gs.datePart`'s comparison codes.
const COMPARISONS: [(&str, Comparison); 5] = [
    ("EE", Comparison::Eq),
    ("LT", Comparison::Lt),
    ("LE", Comparison::Le),
    ("GT", Comparison::Gt),
    ("GE", Comparison::Ge),
];

fn comparison(code: &str) -> Option<Comparison> {
    COMPARISONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, comparison)| *comparison)
}

/// Writes an operator and its operands back as the query text that parses to it (aliases in
/// their long form, a `^` in an operand as `^^`): the property tests' renderer.
#[cfg(test)]
pub(super) fn render(op: &Operator) -> String {
    let escape = |s: &str| s.replace('^', "^^");
    let other = |o: &OtherField| match o.unit {
        Some(unit) => format!("{}@{}", o.field, unit.name()),
        None => o.field.clone(),
    };
    let on = |o: &OnDate| match &o.range {
        Some((start, end)) => escape(&format!("{}@{start}@{end}", o.label)),
        None => escape(&o.label),
    };
    let relative = |r: &Relative| {
        let direction = if r.ahead { "ahead" } else { "ago" };
        format!("@{}@{direction}@{}", r.unit.name(), r.count)
    };
    let span = |s: &Span| {
        let direction = if s.after { "after" } else { "before" };
        format!("{}@{}@{direction}@{}", s.field, s.unit.name(), s.count)
    };
    match op {
        Operator::Eq(v) => format!("={}", escape(v)),
        Operator::Ne(v) => format!("!={}", escape(v)),
        Operator::Like(v) => format!("LIKE{}", escape(v)),
        Operator::NotLike(v) => format!("NOT LIKE{}", escape(v)),
        Operator::StartsWith(v) => format!("STARTSWITH{}", escape(v)),
        Operator::EndsWith(v) => format!("ENDSWITH{}", escape(v)),
        Operator::In(vs) => format!("IN{}", escape(&vs.join(","))),
        Operator::NotIn(vs) => format!("NOT IN{}", escape(&vs.join(","))),
        Operator::IsEmpty => "ISEMPTY".to_owned(),
        Operator::IsNotEmpty => "ISNOTEMPTY".to_owned(),
        Operator::Anything => "ANYTHING".to_owned(),
        Operator::EmptyString => "EMPTYSTRING".to_owned(),
        Operator::Lt(v) => format!("<{}", escape(v)),
        Operator::Le(v) => format!("<={}", escape(v)),
        Operator::Gt(v) => format!(">{}", escape(v)),
        Operator::Ge(v) => format!(">={}", escape(v)),
        Operator::Between(low, high) => format!("BETWEEN{}@{}", escape(low), escape(high)),
        Operator::SameAs(o) => format!("SAMEAS{}", other(o)),
        Operator::NotSameAs(o) => format!("NSAMEAS{}", other(o)),
        Operator::GtField(f) => format!("GT_FIELD{f}"),
        Operator::LtField(f) => format!("LT_FIELD{f}"),
        Operator::GeField(f) => format!("GT_OR_EQUALS_FIELD{f}"),
        Operator::LeField(f) => format!("LT_OR_EQUALS_FIELD{f}"),
        Operator::On(o) => format!("ON{}", on(o)),
        Operator::NotOn(o) => format!("NOTON{}", on(o)),
        Operator::DatePart(d) => {
            let day = WEEKDAYS
                .iter()
                .find(|(_, w)| *w == d.weekday)
                .map(|(n, _)| *n);
            let code = COMPARISONS.iter().find(|(_, c)| *c == d.comparison);
            format!(
                "DATEPART{}@javascript:gs.datePart('dayofweek','{}','{}')",
                escape(&d.label),
                day.unwrap_or_default(),
                code.map(|(c, _)| *c).unwrap_or_default()
            )
        }
        Operator::RelativeGt(r) => format!("RELATIVEGT{}", relative(r)),
        Operator::RelativeLt(r) => format!("RELATIVELT{}", relative(r)),
        Operator::MoreThan(s) => format!("MORETHAN{}", span(s)),
        Operator::LessThan(s) => format!("LESSTHAN{}", span(s)),
        Operator::Dynamic(option) => {
            let sys_id = DYNAMIC_OPTIONS.iter().find(|(_, o)| o == option);
            format!("DYNAMIC{}", sys_id.map(|(id, _)| *id).unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::query::parse;

    /// The operator of a one-condition query.
    fn op(input: &str) -> Operator {
        let query = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        query.alternatives[0].clauses[0].conditions[0].op.clone()
    }

    fn err(input: &str) -> String {
        parse(input).unwrap_err().message
    }

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn tokens_that_extend_another_come_first() {
        for (i, (name, _)) in TOKENS.iter().enumerate() {
            for (longer, _) in &TOKENS[i + 1..] {
                assert!(
                    !(longer.starts_with(name) && longer != name),
                    "{longer} must come before {name}"
                );
            }
        }
    }

    #[test]
    fn the_pages_aliases() {
        use Operator::*;
        assert_eq!(op("short_description*io-0"), Like(s("io-0")));
        assert_eq!(op("short_description!*SAP"), NotLike(s("SAP")));
        assert_eq!(op("short_description%outage"), EndsWith(s("outage")));
        assert_eq!(op("impactEMPTY"), IsEmpty);
        assert_eq!(op("impactNOTEMPTY"), IsNotEmpty);
        assert_eq!(op("a*"), Like(s("")));
        assert_eq!(op("a%%"), EndsWith(s("%")));
        assert_eq!(op("a!*!*"), NotLike(s("!*")));
    }

    #[test]
    fn operators_without_an_operand_ignore_one_written_after_them() {
        use Operator::*;
        assert_eq!(op("short_descriptionANYTHING"), Anything);
        assert_eq!(op("caller_idEMPTYSTRING"), EmptyString);
        for (input, expected) in [
            ("stateISEMPTYx", IsEmpty),
            ("stateISNOTEMPTY=", IsNotEmpty),
            ("stateISNOTEMPTYtrue", IsNotEmpty),
            ("stateEMPTYSTRING@", EmptyString),
            ("stateANYTHINGat all", Anything),
            ("stateNOTEMPTY^^", IsNotEmpty),
        ] {
            assert_eq!(op(input), expected, "{input}");
        }
    }

    #[test]
    fn field_to_field_operators() {
        use Operator::*;
        let other = |field: &str, unit| OtherField {
            field: s(field),
            unit,
        };
        assert_eq!(
            op("short_descriptionSAMEASdescription"),
            SameAs(other("description", None))
        );
        assert_eq!(
            op("caller_idNSAMEASassigned_to"),
            NotSameAs(other("assigned_to", None))
        );
        assert_eq!(
            op("sla_dueSAMEASactivity_due@day"),
            SameAs(other("activity_due", Some(Unit::Day)))
        );
        assert_eq!(op("aGT_FIELDb"), GtField(s("b")));
        assert_eq!(op("aLT_FIELDb"), LtField(s("b")));
        assert_eq!(op("aGT_OR_EQUALS_FIELDb"), GeField(s("b")));
        assert_eq!(op("aLT_OR_EQUALS_FIELDb"), LeField(s("b")));
        assert_eq!(op("aSAMEASb.c"), SameAs(other("b.c", None)));
        for input in [
            "aSAMEAS",
            "aSAMEASB",
            "aNSAMEASb c",
            "aGT_FIELD",
            "aLT_FIELDx=1",
        ] {
            assert!(err(input).contains(" needs '"), "{input}");
        }
        assert!(err("aSAMEASb@fortnight").contains("names no unit of time"));
    }

    #[test]
    fn on_and_not_on() {
        let on = |label: &str, range: Option<(&str, &str)>| OnDate {
            label: s(label),
            range: range.map(|(a, b)| (s(a), s(b))),
        };
        assert_eq!(
            op("sla_dueONToday@javascript:gs.daysAgoStart(0)@javascript:gs.daysAgoEnd(0)"),
            Operator::On(on(
                "Today",
                Some((
                    "javascript:gs.daysAgoStart(0)",
                    "javascript:gs.daysAgoEnd(0)"
                ))
            ))
        );
        assert_eq!(op("sla_dueNOTONToday"), Operator::NotOn(on("Today", None)));
        assert_eq!(
            op("aON2019-12-24 02:03:04"),
            Operator::On(on("2019-12-24 02:03:04", None))
        );
        assert_eq!(op("aONa@b@c@d"), Operator::On(on("a@b", Some(("c", "d")))));
        assert_eq!(op("aON@@"), Operator::On(on("", Some(("", "")))));
        assert!(err("aON").contains("'label or label@start@end'"));
        assert!(err("aNOTONToday@x").contains("'label or label@start@end'"));
    }

    #[test]
    fn date_part() {
        let part = |comparison| {
            Operator::DatePart(DatePart {
                label: s("Monday"),
                weekday: Weekday::Monday,
                comparison,
            })
        };
        for (code, comparison) in COMPARISONS {
            let input = format!(
                "sla_dueDATEPARTMonday@javascript:gs.datePart('dayofweek','monday','{code}')"
            );
            assert_eq!(op(&input), part(comparison), "{input}");
        }
        assert_eq!(
            op("aDATEPART@javascript:gs.datePart( \"dayofweek\" , 'saturday', 'LT' )"),
            Operator::DatePart(DatePart {
                label: s(""),
                weekday: Weekday::Saturday,
                comparison: Comparison::Lt,
            })
        );
        for input in [
            "aDATEPARTMonday",
            "aDATEPARTMonday@gs.datePart('dayofweek','monday','GE')",
            "aDATEPARTMonday@javascript:gs.datePart('dayofweek','Monday','GE')",
            "aDATEPARTMonday@javascript:gs.datePart('dayofweek','monday','NE')",
            "aDATEPARTMonday@javascript:gs.datePart('dayofweek','monday')",
            "aDATEPARTMonday@javascript:gs.daysAgo(1)",
        ] {
            assert!(err(input).contains(" needs '"), "{input}");
        }
        let input = "aDATEPARTMay@javascript:gs.datePart('month','may','EE')";
        assert!(err(input).contains("only the day of the week"));
    }

    #[test]
    fn relative() {
        let relative = |unit, ahead, count| Relative { unit, ahead, count };
        assert_eq!(
            op("sla_dueRELATIVEGT@hour@ago@1"),
            Operator::RelativeGt(relative(Unit::Hour, false, 1))
        );
        assert_eq!(
            op("sla_dueRELATIVELT@dayofweek@ahead@90"),
            Operator::RelativeLt(relative(Unit::Day, true, 90))
        );
        for input in [
            "aRELATIVEGT",
            "aRELATIVEGThour@ago@1",
            "aRELATIVEGT@hour@ago",
            "aRELATIVEGT@hour@ago@1@2",
            "aRELATIVEGT@hour@since@1",
            "aRELATIVEGT@hour@ago@-1",
            "aRELATIVEGT@hour@ago@+1",
            "aRELATIVEGT@hour@ago@4294967296",
        ] {
            assert!(err(input).contains("'@unit@ago@count'"), "{input}");
        }
        assert!(err("aRELATIVEGT@Hour@ago@1").contains("names no unit of time"));
        assert!(err("aRELATIVEGE@hour@ago@1").contains("unknown operator"));
    }

    #[test]
    fn more_and_less_than() {
        let span = |field: &str, unit, after, count| Span {
            field: s(field),
            unit,
            after,
            count,
        };
        assert_eq!(
            op("sla_dueMORETHANactivity_due@day@before@1"),
            Operator::MoreThan(span("activity_due", Unit::Day, false, 1))
        );
        assert_eq!(
            op("sla_dueLESSTHANactivity_due@hour@after@3"),
            Operator::LessThan(span("activity_due", Unit::Hour, true, 3))
        );
        for input in [
            "aMORETHAN",
            "aMORETHANb@day@before",
            "aMORETHAN@day@before@1",
            "aMORETHANb@day@later@1",
            "aLESSTHANb@day@before@x",
        ] {
            assert!(err(input).contains("'field@unit@before@count'"), "{input}");
        }
    }

    #[test]
    fn operators_that_do_not_query_stored_records_say_why() {
        for (input, why) in [
            ("stateVALCHANGES", "changes being saved"),
            ("stateCHANGESFROM4", "changes being saved"),
            ("stateCHANGESTO4", "changes being saved"),
            ("managerIN_HIERARCHYa%40b", "hierarchies"),
            ("managerIN_HIERARCHY_DYNAMICa%40b", "hierarchies"),
            ("sys_tags.aDOESNOTHAVEa", "tags"),
            ("sys_tags.aEXCLUDINGa", "tags"),
        ] {
            let message = err(input);
            assert!(message.contains(why), "{input}: {message}");
            assert!(message.contains(&quote(input)), "{input}: {message}");
        }
    }

    #[test]
    fn dynamic_reads_the_me_options_by_sys_id() {
        for input in [
            "caller_idDYNAMIC90d1921e5f510100a9ad2572f2b477fe",
            "caller_idDYNAMIC54635e965f510100a9ad2572f2b4774c",
        ] {
            assert_eq!(op(input), Operator::Dynamic(DynamicOption::Me), "{input}");
        }
        for input in [
            // One of My Groups, One of My Assignments, Users With Roles: not here.
            "assignment_groupDYNAMICd6435e965f510100a9ad2572f2b47744",
            "assigned_toDYNAMIC0f63961e5f510100a9ad2572f2b47745",
            "assigned_toDYNAMIC32a39a165f510100a9ad2572f2b477a0",
            "caller_idDYNAMIC",
            "caller_idDYNAMICMe",
            "caller_idDYNAMIC90D1921E5F510100A9AD2572F2B477FE",
            "caller_idDYNAMIC 90d1921e5f510100a9ad2572f2b477fe",
            "caller_idDYNAMIC90d1921e5f510100a9ad2572f2b477fe@x",
        ] {
            let message = err(input);
            assert!(
                message.contains("option switchboard lacks"),
                "{input}: {message}"
            );
            assert!(message.contains("only Me"), "{input}: {message}");
            assert!(message.contains(&quote(input)), "{input}: {message}");
        }
        let long = format!("{}DYNAMIC{}", "f".repeat(200), "0".repeat(200));
        assert!(err(&long).chars().count() < 160, "{}", err(&long));
    }

    #[test]
    fn operators_are_spelt_as_on_the_page() {
        for input in [
            "aNOTLIKEx",
            "a Anything",
            "aAnything",
            "aOn2024-01-01",
            "aRelativeGT@hour@ago@1",
            "aNOT  LIKEx",
            "aLE_OR_EQUALS_FIELDb",
        ] {
            assert!(err(input).contains("unknown operator"), "{input}");
        }
    }

    #[test]
    fn render_writes_what_parses_back() {
        for input in [
            "a*x",
            "a!*x",
            "a%x",
            "aEMPTY",
            "aANYTHING",
            "aEMPTYSTRING",
            "aSAMEASb@week",
            "aNSAMEASb",
            "aGT_OR_EQUALS_FIELDb",
            "aONLast week",
            "aNOTONx^^y@javascript:gs.daysAgoStart(1)@2024-01-01",
            "aDATEPARTSun^^day@javascript:gs.datePart('dayofweek','sunday','LE')",
            "aRELATIVELT@quarter@ahead@2",
            "aLESSTHANb@year@after@0",
            "aDYNAMIC54635e965f510100a9ad2572f2b4774c",
        ] {
            let parsed = op(input);
            let rendered = format!("a{}", render(&parsed));
            assert_eq!(op(&rendered), parsed, "{input} rendered as {rendered}");
        }
    }
}
