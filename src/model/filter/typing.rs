//! One parsed condition to a typed filter: which operators a field's type takes, its operands
//! in that type, the other fields an operator names, the dates it means at the context's `now`
//! and the caller's values it names.

use super::{Cmp, Filter, FilterError, Op, QueryContext, Span, Through, one_or_many, queryable};
use crate::model::caller_values;
use crate::model::dates;
use crate::model::query::{
    Comparison, Condition, OnDate, Operator, OtherField, Relative, Span as SpanOperand, quote,
};
use crate::model::registry::{Field, FieldType, Table};
use crate::model::value::{Value, format_date_time, is_date_time};

mod caller;

/// A dot-walked condition (`user.user_name=x`): each reference must point at a record of its
/// table, and the last record meet the condition on the last field. Every step is checked as a
/// field of its own table ([`super::walk`]), and the registry lets whoever reads a table read
/// what it references, so a walk reveals nothing a direct read would not.
fn walked(
    table: &'static Table,
    c: &Condition,
    context: &QueryContext,
) -> Result<Filter, FilterError> {
    let path = super::walk(table, &c.field)?;
    let at = path.steps.last().map_or(table, |(_, target)| *target);
    let last = Condition {
        field: path.last.name.to_owned(),
        op: c.op.clone(),
    };
    let mut filter = condition(at, &last, context)?;
    for (reference, target) in path.steps.into_iter().rev() {
        filter = Filter::Refers(Through {
            reference,
            target,
            matching: Box::new(filter),
        });
    }
    Ok(filter)
}

/// A field that may be walked through: a queryable reference, and the table it points into.
pub(super) fn reference(
    table: &'static Table,
    name: &str,
) -> Result<(&'static Field, &'static Table), FilterError> {
    let field = queryable(table, name)?;
    match field.ty {
        FieldType::Reference(target) => Ok((field, target)),
        _ => Err(FilterError(format!(
            "Invalid query: field '{name}' of table '{}' is not a reference, so it cannot be dot-walked",
            table.name
        ))),
    }
}

/// References a field name may walk through (`a.b.c.d` walks three), so that a query's joins
/// stay few.
pub const MAX_WALK: usize = 3;

pub(super) fn check_walk_depth(name: &str) -> Result<(), FilterError> {
    if name.matches('.').count() > MAX_WALK {
        return Err(FilterError(format!(
            "Invalid query: '{name}' walks through more than {MAX_WALK} references"
        )));
    }
    Ok(())
}

/// Checks `c` against `table` and types its operands.
pub(super) fn condition(
    table: &'static Table,
    c: &Condition,
    context: &QueryContext,
) -> Result<Filter, FilterError> {
    if c.field.contains('.') {
        return walked(table, c, context);
    }
    let at = Typing {
        table,
        field: queryable(table, &c.field)?,
        context,
    };
    let op = match &c.op {
        // `field=` with nothing after it asks for empty values, as on the platform.
        Operator::Eq(v) if v.is_empty() => Op::IsEmpty,
        Operator::Ne(v) if v.is_empty() => Op::IsNotEmpty,
        Operator::Eq(v) => Op::Eq(at.value(v)?),
        Operator::Ne(v) => Op::Ne(at.value(v)?),
        // An empty operand is contained in, starts and ends every non-empty value (the
        // platform's `LIKE '%%'`); decided here so both backends agree.
        Operator::Like(v) | Operator::StartsWith(v) | Operator::EndsWith(v) if v.is_empty() => {
            at.text()?;
            Op::IsNotEmpty
        }
        Operator::NotLike(v) if v.is_empty() => {
            at.text()?;
            Op::IsEmpty
        }
        Operator::Like(v) => return at.text_test(v, Op::Contains),
        Operator::NotLike(v) => return at.text_test(v, Op::NotContains),
        Operator::StartsWith(v) => return at.text_test(v, Op::StartsWith),
        Operator::EndsWith(v) => return at.text_test(v, Op::EndsWith),
        Operator::In(vs) => Op::In(at.values(vs)?),
        Operator::NotIn(vs) => Op::NotIn(at.values(vs)?),
        Operator::IsEmpty => Op::IsEmpty,
        Operator::IsNotEmpty => Op::IsNotEmpty,
        Operator::Anything => return Ok(Filter::All),
        // Switchboard keeps an empty value as none at all, so an empty string is no value.
        Operator::EmptyString => {
            at.text()?;
            Op::IsEmpty
        }
        Operator::Lt(v) => Op::Lt(at.value(v)?),
        Operator::Le(v) => Op::Le(at.value(v)?),
        Operator::Gt(v) => Op::Gt(at.value(v)?),
        Operator::Ge(v) => Op::Ge(at.value(v)?),
        Operator::Between(a, b) => Op::Between(at.value(a)?, at.value(b)?),
        Operator::SameAs(other) => at.same_as(Cmp::Eq, other)?,
        Operator::NotSameAs(other) => at.same_as(Cmp::Ne, other)?,
        Operator::GtField(other) => at.number_field(Cmp::Gt, other)?,
        Operator::LtField(other) => at.number_field(Cmp::Lt, other)?,
        Operator::GeField(other) => at.number_field(Cmp::Ge, other)?,
        Operator::LeField(other) => at.number_field(Cmp::Le, other)?,
        Operator::On(on) => {
            let (start, end) = at.on(on)?;
            Op::Between(start, end)
        }
        Operator::NotOn(on) => {
            let (start, end) = at.on(on)?;
            Op::NotBetween(start, end)
        }
        Operator::DatePart(part) => {
            at.date_time()?;
            let day = i64::from(part.weekday.number_from_sunday());
            Op::Weekday(cmp(part.comparison), day)
        }
        Operator::RelativeGt(relative) => Op::Gt(at.relative(relative)?),
        Operator::RelativeLt(relative) => Op::Lt(at.relative(relative)?),
        Operator::MoreThan(span) => at.span(span, true)?,
        Operator::LessThan(span) => at.span(span, false)?,
        Operator::Dynamic(option) => Op::Eq(at.dynamic(*option)?),
    };
    Ok(Filter::Cond(at.field, op))
}

fn cmp(comparison: Comparison) -> Cmp {
    match comparison {
        Comparison::Eq => Cmp::Eq,
        Comparison::Lt => Cmp::Lt,
        Comparison::Le => Cmp::Le,
        Comparison::Gt => Cmp::Gt,
        Comparison::Ge => Cmp::Ge,
    }
}

/// How values compare: fields of one kind may be compared with each other.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Boolean,
    Integer,
    DateTime,
}

fn kind(field: &Field) -> Kind {
    match field.ty {
        FieldType::String | FieldType::Reference(_) | FieldType::Json => Kind::Text,
        FieldType::Boolean => Kind::Boolean,
        FieldType::Integer => Kind::Integer,
        FieldType::DateTime => Kind::DateTime,
    }
}

/// The condition's field, its table, and the context its dates and caller values are read in.
struct Typing<'q> {
    table: &'static Table,
    field: &'static Field,
    context: &'q QueryContext<'q>,
}

impl Typing<'_> {
    fn refuse(&self, what: &str) -> FilterError {
        FilterError(format!(
            "Invalid query: {what} (field '{}')",
            self.field.name
        ))
    }

    /// Text tests (`LIKE` and its family, `EMPTYSTRING`) need a field that holds text.
    fn text(&self) -> Result<(), FilterError> {
        match kind(self.field) {
            Kind::Boolean | Kind::Integer => Err(FilterError(format!(
                "Invalid query: operator on '{}' needs a text field",
                self.field.name
            ))),
            _ => Ok(()),
        }
    }

    fn date_time(&self) -> Result<(), FilterError> {
        match self.field.ty {
            FieldType::DateTime => Ok(()),
            _ => Err(self.refuse("date operators need a date-time field")),
        }
    }

    /// A text test; on a reference it reads the referenced record's display value, as the
    /// operators page describes (`caller_idSTARTSWITHDon`: the caller's name starts with Don).
    fn text_test(&self, v: &str, op: fn(String) -> Op) -> Result<Filter, FilterError> {
        self.text()?;
        self.no_script(v)?;
        let FieldType::Reference(target) = self.field.ty else {
            return Ok(Filter::Cond(self.field, op(v.to_owned())));
        };
        let through = |op| Through {
            reference: self.field,
            target,
            matching: Box::new(display_test(target, op)),
        };
        Ok(match op(v.to_owned()) {
            Op::NotContains(s) => Filter::NotRefers(through(Op::Contains(s))),
            positive => Filter::Refers(through(positive)),
        })
    }

    /// A `javascript:` operand of a text test: switchboard runs no script, so it says so
    /// rather than compare the script's text.
    fn no_script(&self, v: &str) -> Result<(), FilterError> {
        match dates::script(v) {
            Some(_) => Err(self.refuse(
                "a LIKE-style operand is text, never a function; switchboard runs no script",
            )),
            None => Ok(()),
        }
    }

    /// A value in the field's type: a date function's date on a date-time field, a caller
    /// function's value on a text field or a reference to users. Any other `javascript:` value
    /// is refused rather than compared as text.
    fn value(&self, v: &str) -> Result<Value, FilterError> {
        let Some(script) = dates::script(v) else {
            return typed_value(self.field, v);
        };
        if let Some(function) = caller_values::function(script) {
            return self.caller_value(function);
        }
        match dates::evaluate(script, self.context.now) {
            Some(date) if self.field.ty == FieldType::DateTime => Ok(Value::Text(date)),
            Some(_) => Err(self.refuse(&format!(
                "{} is a date function, for date-time fields",
                quote(v)
            ))),
            None => Err(self.refuse(&format!("{} is not a function switchboard reads", quote(v)))),
        }
    }

    fn values(&self, vs: &[String]) -> Result<Vec<Value>, FilterError> {
        vs.iter().map(|v| self.value(v)).collect()
    }

    /// Another field of the record, named by an operand: checked as the condition's own is
    /// (so a write-only field is no more usable here than anywhere else in a query).
    fn other(&self, name: &str) -> Result<&'static Field, FilterError> {
        queryable(self.table, name)
    }

    /// `SAMEAS`/`NSAMEAS`: the other field must hold the same kind of value; a unit applies to
    /// date-times.
    fn same_as(&self, cmp: Cmp, other: &OtherField) -> Result<Op, FilterError> {
        let field = self.other(&other.field)?;
        if kind(field) != kind(self.field) {
            return Err(self.refuse(&format!(
                "'{}' holds another type of value and cannot be compared with it",
                field.name
            )));
        }
        if other.unit.is_some() {
            self.date_time()?;
        }
        Ok(Op::Field(cmp, field, other.unit))
    }

    /// `GT_FIELD` and its family compare numbers, as the page lists them.
    fn number_field(&self, cmp: Cmp, other: &str) -> Result<Op, FilterError> {
        let field = self.other(other)?;
        match (kind(self.field), kind(field)) {
            (Kind::Integer, Kind::Integer) => Ok(Op::Field(cmp, field, None)),
            _ => Err(self.refuse(&format!(
                "comparing with a field needs two integer fields ('{}')",
                field.name
            ))),
        }
    }

    /// The first and last second `ON`/`NOTON` mean: the range when the query gives one, else
    /// what the label names.
    fn on(&self, on: &OnDate) -> Result<(Value, Value), FilterError> {
        self.date_time()?;
        if let Some((start, end)) = &on.range {
            return Ok((self.value(start)?, self.value(end)?));
        }
        let labels: Vec<&str> = dates::PERIODS.iter().map(|p| p.0).collect();
        let (start, end) = dates::period(&on.label, self.context.now).ok_or_else(|| {
            self.refuse(&format!(
                "ON needs label@start@end, or a date or one of {} alone",
                labels.join(", ")
            ))
        })?;
        Ok((Value::Text(start), Value::Text(end)))
    }

    /// The moment `RELATIVEGT`/`RELATIVELT` compare with.
    fn relative(&self, relative: &Relative) -> Result<Value, FilterError> {
        self.date_time()?;
        let count = i64::from(relative.count);
        let count = if relative.ahead { count } else { -count };
        let at = dates::shift(self.context.now, relative.unit, count)
            .ok_or_else(|| self.refuse("the relative date is out of range"))?;
        Ok(Value::Text(format_date_time(at)))
    }

    /// `MORETHAN`/`LESSTHAN`: both fields date-times.
    fn span(&self, span: &SpanOperand, more: bool) -> Result<Op, FilterError> {
        self.date_time()?;
        let other = self.other(&span.field)?;
        if other.ty != FieldType::DateTime {
            return Err(self.refuse(&format!("'{}' is not a date-time field", other.name)));
        }
        Ok(Op::Span(Span {
            other,
            unit: span.unit,
            after: span.after,
            more,
            count: i64::from(span.count),
        }))
    }
}

/// A test of a record's display value: its first non-empty display field, else its sys_id
/// (what the Table API shows as the `display_value` of a reference to it).
fn display_test(target: &'static Table, op: Op) -> Filter {
    let mut shown: Vec<&'static Field> = target
        .display
        .iter()
        .filter_map(|name| target.field(name))
        .collect();
    shown.push(target.sys_id());
    let alternatives = (0..shown.len())
        .map(|i| {
            let mut parts: Vec<Filter> = shown[..i]
                .iter()
                .map(|earlier| Filter::Cond(earlier, Op::IsEmpty))
                .collect();
            parts.push(Filter::Cond(shown[i], op.clone()));
            one_or_many(parts, Filter::And)
        })
        .collect();
    one_or_many(alternatives, Filter::Or)
}

/// Converts a query value to the field's type.
fn typed_value(field: &Field, v: &str) -> Result<Value, FilterError> {
    let bad = |what: &str| {
        FilterError(format!(
            "Invalid query: '{v}' is not {what} (field '{}')",
            field.name
        ))
    };
    match field.ty {
        FieldType::Boolean => super::parse_bool(v)
            .map(Value::Bool)
            .ok_or_else(|| bad("a boolean")),
        FieldType::Integer => v
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| bad("an integer")),
        // A date alone compares as the start of that day.
        FieldType::DateTime if is_date_time(v) || is_date(v) => Ok(Value::Text(v.to_owned())),
        FieldType::DateTime => Err(bad(
            "a date-time (YYYY-MM-DD HH:MM:SS, YYYY-MM-DD, or a date function)",
        )),
        _ => Ok(Value::Text(v.to_owned())),
    }
}

fn is_date(v: &str) -> bool {
    is_date_time(&format!("{v} 00:00:00"))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use time::OffsetDateTime;

    use super::*;
    use crate::model::dates::Unit;
    use crate::model::filter::{Asker, FilterError, resolve};
    use crate::model::query::parse;
    use crate::model::registry::{SYS_USER, TABLES, field, table};

    /// Wednesday 2024-02-28 13:45:30 UTC.
    const NOW: OffsetDateTime = datetime!(2024-02-28 13:45:30 UTC);

    pub(super) const MY_SYS_ID: &str = "0123456789abcdef0123456789abcdef";
    pub(super) const MY_USER_NAME: &str = "dgoodliffe";

    /// The user the tests' queries are resolved for.
    const ME: Asker<'static> = Asker::User {
        sys_id: MY_SYS_ID,
        user_name: MY_USER_NAME,
    };

    pub(super) fn resolved_for(asker: Asker, t: &str, q: &str) -> Result<Filter, FilterError> {
        let query = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let context = QueryContext::at(NOW, asker);
        resolve(table(t).unwrap(), &query, &context).map(|select| select.filter)
    }

    pub(super) fn resolved(t: &str, q: &str) -> Result<Filter, FilterError> {
        resolved_for(ME, t, q)
    }

    /// The one condition `q` resolves to on `t`.
    pub(super) fn op(t: &str, q: &str) -> Op {
        match resolved(t, q) {
            Ok(Filter::Cond(_, op)) => op,
            other => panic!("{q}: {other:?}"),
        }
    }

    pub(super) fn refused(t: &str, q: &str) -> String {
        resolved(t, q).unwrap_err().0
    }

    pub(super) fn text(v: &str) -> Value {
        Value::Text(v.to_owned())
    }

    #[test]
    fn aliases_resolve_as_their_long_forms() {
        for (short, long) in [
            ("name*Chat", "nameLIKEChat"),
            ("name!*Chat", "nameNOT LIKEChat"),
            ("name%Chat", "nameENDSWITHChat"),
            ("typeEMPTY", "typeISEMPTY"),
            ("typeNOTEMPTY", "typeISNOTEMPTY"),
            ("typeEMPTYSTRING", "typeISEMPTY"),
        ] {
            let table = "interaction_connector";
            assert_eq!(resolved(table, short), resolved(table, long), "{short}");
        }
    }

    #[test]
    fn anything_matches_every_record_but_its_field_must_exist() {
        assert_eq!(resolved("sys_user", "emailANYTHING"), Ok(Filter::All));
        assert!(refused("sys_user", "nopeANYTHING").contains("'nope'"));
        assert!(refused("sys_user", "user_passwordANYTHING").contains("'user_password'"));
    }

    #[test]
    fn empty_string_is_a_text_test() {
        assert_eq!(op("sys_user", "emailEMPTYSTRING"), Op::IsEmpty);
        for q in ["activeEMPTYSTRING", "sys_mod_countEMPTYSTRING"] {
            assert!(refused("sys_user", q).contains("needs a text field"), "{q}");
        }
    }

    #[test]
    fn same_as_compares_fields_of_one_kind() {
        let other = |name| SYS_USER.field(name).unwrap();
        assert_eq!(
            op("sys_user", "first_nameSAMEASlast_name"),
            Op::Field(Cmp::Eq, other("last_name"), None)
        );
        assert_eq!(
            op("sys_user", "first_nameNSAMEASlast_name"),
            Op::Field(Cmp::Ne, other("last_name"), None)
        );
        assert_eq!(
            op("interaction", "opened_atSAMEASclosed_at@day"),
            Op::Field(Cmp::Eq, field!(INTERACTION, closed_at), Some(Unit::Day))
        );
        // A reference and a string are both text; a boolean and a string are not.
        assert!(resolved("interaction", "assigned_toSAMEASshort_description").is_ok());
        let detail = refused("sys_user", "activeSAMEASemail");
        assert!(detail.contains("another type of value"), "{detail}");
        let detail = refused("sys_user", "emailSAMEASfirst_name@day");
        assert!(detail.contains("date-time"), "{detail}");
        // A field no query may name is no more usable as the other field.
        let detail = refused("sys_user", "user_nameSAMEASuser_password");
        assert!(
            detail.contains("'user_password' does not exist"),
            "{detail}"
        );
        assert!(refused("sys_user", "emailNSAMEASnope").contains("'nope'"));
    }

    #[test]
    fn field_comparisons_take_integers() {
        let refresh = field!(OAUTH_ENTITY, refresh_token_lifespan);
        for (q, cmp) in [
            ("GT_FIELD", Cmp::Gt),
            ("LT_FIELD", Cmp::Lt),
            ("GT_OR_EQUALS_FIELD", Cmp::Ge),
            ("LT_OR_EQUALS_FIELD", Cmp::Le),
        ] {
            let q = format!("access_token_lifespan{q}refresh_token_lifespan");
            assert_eq!(op("oauth_entity", &q), Op::Field(cmp, refresh, None), "{q}");
        }
        let detail = refused("sys_user", "user_nameGT_FIELDemail");
        assert!(detail.contains("two integer fields"), "{detail}");
        let detail = refused("oauth_entity", "sys_mod_countGT_FIELDname");
        assert!(detail.contains("two integer fields"), "{detail}");
    }

    #[test]
    fn on_and_not_on_are_ranges() {
        let today = (text("2024-02-28 00:00:00"), text("2024-02-28 23:59:59"));
        let page = "opened_atONToday@javascript:gs.daysAgoStart(0)@javascript:gs.daysAgoEnd(0)";
        assert_eq!(
            op("interaction", page),
            Op::Between(today.0.clone(), today.1.clone())
        );
        assert_eq!(
            op("interaction", "opened_atONToday"),
            Op::Between(today.0.clone(), today.1.clone())
        );
        assert_eq!(
            op("interaction", "opened_atNOTONToday"),
            Op::NotBetween(today.0, today.1)
        );
        // With a range, the range decides and the label is a caption.
        assert_eq!(
            op(
                "interaction",
                "opened_atONToday@2024-01-01@2024-01-31 12:00:00"
            ),
            Op::Between(text("2024-01-01"), text("2024-01-31 12:00:00"))
        );
        assert_eq!(
            op("interaction", "opened_atON2019-12-24 02:03:04"),
            Op::Between(text("2019-12-24 00:00:00"), text("2019-12-24 23:59:59"))
        );
        for q in [
            "opened_atONSometime",
            "opened_atONtoday",
            "opened_atONToday@x@y",
        ] {
            assert!(refused("interaction", q).contains("opened_at"), "{q}");
        }
        let detail = refused("interaction", "short_descriptionONToday");
        assert!(detail.contains("need a date-time field"), "{detail}");
    }

    #[test]
    fn date_functions_are_values_of_date_time_fields_only() {
        assert_eq!(
            op("interaction", "opened_at>=javascript:gs.beginningOfToday()"),
            Op::Ge(text("2024-02-28 00:00:00"))
        );
        assert_eq!(
            op(
                "interaction",
                "opened_atBETWEENjavascript:gs.daysAgoStart(1)@javascript:gs.daysAgoEnd(0)"
            ),
            Op::Between(text("2024-02-27 00:00:00"), text("2024-02-28 23:59:59"))
        );
        assert_eq!(
            op(
                "interaction",
                "opened_atINjavascript:gs.nowNoTZ(),2024-01-01"
            ),
            Op::In(vec![text("2024-02-28 13:45:30"), text("2024-01-01")])
        );
        for (q, words) in [
            (
                "short_description=javascript:gs.beginningOfToday()",
                "is a date function, for date-time fields",
            ),
            (
                "sys_mod_count<javascript:gs.daysAgo(1)",
                "is a date function, for date-time fields",
            ),
            ("short_descriptionLIKEjavascript:gs.now()", "runs no script"),
            (
                "opened_at<javascript:gs.daysAgo(1); gs.log('x')",
                "'javascript:gs.daysAgo(1); gs.log('x')' is not a function switchboard reads",
            ),
            (
                "opened_at<javascript:new GlideDateTime()",
                "not a function switchboard reads",
            ),
        ] {
            let detail = refused("interaction", q);
            assert!(detail.contains(words), "{q}: {detail}");
        }
    }

    /// Refusals of a `javascript:` value or a `DYNAMIC` option quote at most 60 characters of
    /// it, so with any field of any table they stay under 160 characters.
    #[test]
    fn refusals_of_scripts_stay_short() {
        let long = "x".repeat(300);
        let spaced = " ".repeat(300);
        for table in TABLES {
            for field in table.readable_fields() {
                let f = field.name;
                for q in [
                    format!("{f}=javascript:{long}"),
                    format!("{f}INa,javascript:gs.{long}()"),
                    format!("{f}=javascript:gs.daysAgo(1{spaced})"),
                    format!("{f}=javascript:gs.getUserName({spaced})"),
                    format!("{f}LIKEjavascript:{long}"),
                    format!("{f}DYNAMIC90d1921e5f510100a9ad2572f2b477fe"),
                ] {
                    for asker in [ME, Asker::Nobody] {
                        if let Err(e) = resolved_for(asker, table.name, &q) {
                            assert!(e.0.chars().count() < 160, "{}: {}", table.name, e.0);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn relative_dates_are_from_now() {
        assert_eq!(
            op("interaction", "opened_atRELATIVEGT@hour@ago@1"),
            Op::Gt(text("2024-02-28 12:45:30"))
        );
        assert_eq!(
            op("interaction", "opened_atRELATIVELT@dayofweek@ahead@2"),
            Op::Lt(text("2024-03-01 13:45:30"))
        );
        let detail = refused("interaction", "opened_atRELATIVEGT@year@ago@9000");
        assert!(detail.contains("out of range"), "{detail}");
        assert!(refused("sys_user", "nameRELATIVEGT@hour@ago@1").contains("date-time"));
    }

    #[test]
    fn date_part_is_the_day_of_the_week_from_sunday() {
        let q = "opened_atDATEPARTMonday@javascript:gs.datePart('dayofweek','monday','GE')";
        assert_eq!(op("interaction", q), Op::Weekday(Cmp::Ge, 2));
        let q = "opened_atDATEPARTSat@javascript:gs.datePart('dayofweek','saturday','EE')";
        assert_eq!(op("interaction", q), Op::Weekday(Cmp::Eq, 7));
        let q = "activeDATEPARTSat@javascript:gs.datePart('dayofweek','saturday','EE')";
        assert!(refused("interaction", q).contains("date-time"));
    }

    #[test]
    fn more_and_less_than_span_two_date_times() {
        let closed = field!(INTERACTION, closed_at);
        let span = |unit, after, more, count| {
            Op::Span(Span {
                other: closed,
                unit,
                after,
                more,
                count,
            })
        };
        assert_eq!(
            op("interaction", "opened_atMORETHANclosed_at@day@before@1"),
            span(Unit::Day, false, true, 1)
        );
        assert_eq!(
            op("interaction", "opened_atLESSTHANclosed_at@week@after@3"),
            span(Unit::Week, true, false, 3)
        );
        let detail = refused("interaction", "opened_atMORETHANnumber@day@before@1");
        assert!(detail.contains("'number' is not a date-time"), "{detail}");
    }

    #[test]
    fn text_tests_on_a_reference_read_its_display_value() {
        let user = |name| SYS_USER.field(name).unwrap();
        let display = |op: Op| {
            Filter::Or(vec![
                Filter::Cond(user("name"), op.clone()),
                Filter::And(vec![
                    Filter::Cond(user("name"), Op::IsEmpty),
                    Filter::Cond(user("user_name"), op.clone()),
                ]),
                Filter::And(vec![
                    Filter::Cond(user("name"), Op::IsEmpty),
                    Filter::Cond(user("user_name"), Op::IsEmpty),
                    Filter::Cond(user("sys_id"), op),
                ]),
            ])
        };
        let through = |op| Through {
            reference: field!(INTERACTION, assigned_to),
            target: &SYS_USER,
            matching: Box::new(display(op)),
        };
        assert_eq!(
            resolved("interaction", "assigned_toSTARTSWITHDon"),
            Ok(Filter::Refers(through(Op::StartsWith("Don".into()))))
        );
        assert_eq!(
            resolved("interaction", "assigned_to*on"),
            Ok(Filter::Refers(through(Op::Contains("on".into()))))
        );
        assert_eq!(
            resolved("interaction", "assigned_to!*on"),
            Ok(Filter::NotRefers(through(Op::Contains("on".into()))))
        );
        // A table without display fields shows its sys_id.
        let Ok(Filter::Refers(through)) = resolved("sys_user_has_role", "userLIKEx") else {
            panic!()
        };
        let Ok(Filter::Refers(inner)) = resolved("oauth_credential", "refreshLIKEx") else {
            panic!()
        };
        assert_eq!(through.target.name, "sys_user");
        assert_eq!(
            *inner.matching,
            Filter::Cond(field!(OAUTH_CREDENTIAL, sys_id), Op::Contains("x".into()))
        );
        // Equality and lists still compare sys_ids.
        assert_eq!(op("interaction", "assigned_to=abc"), Op::Eq(text("abc")));
    }
}
