//! Parser for ServiceNow "encoded queries" (the `sysparm_query` parameter).
//!
//! An encoded query is a list of terms separated by `^` (a literal `^` is written `^^`).
//! A term is a condition such as `active=true`, a condition ORed with the previous one
//! (`ORpriority=1`), the start of a new ORed query (`NQstate=2`), an ordering
//! (`ORDERBYnumber`, `ORDERBYDESCsys_created_on`) or the end marker `EQ`.
//!
//! The result is a table-agnostic AST: field names are not checked against any table and
//! values are returned verbatim (after `^^` unescaping) for the SQL layer to bind as
//! parameters. Input is untrusted: parsing never panics, runs in linear time and enforces
//! [`MAX_CONDITIONS`] and [`MAX_IN_VALUES`].

use std::fmt;

mod operators;

pub use operators::{
    Comparison, DYNAMIC_OPTIONS, DatePart, DynamicOption, OnDate, Operator, OtherField, Relative,
    Span,
};

/// A parsed encoded query: `alternatives` are ORed together (`^NQ` separates them);
/// an empty list matches every record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodedQuery {
    pub alternatives: Vec<Conjunction>,
    pub order_by: Vec<OrderBy>,
}

/// Clauses that must all hold (joined by `^`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conjunction {
    pub clauses: Vec<Disjunction>,
}

/// Conditions of which one must hold (joined by `^OR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disjunction {
    pub conditions: Vec<Condition>,
}

/// One `field` + operator (+ value) condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub op: Operator,
}

/// One `ORDERBY` / `ORDERBYDESC` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub field: String,
    pub descending: bool,
}

/// Why an encoded query was rejected; `message` is a sentence fit for an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// Limits, so a hostile query cannot make us build huge SQL.
pub const MAX_CONDITIONS: usize = 100; // total conditions across the whole query
pub const MAX_IN_VALUES: usize = 1000; // values in one IN / NOT IN list
/// Maximum number of `ORDERBY`/`ORDERBYDESC` terms (same reasoning as the limits above).
pub const MAX_ORDER_BY: usize = 100;

impl EncodedQuery {
    /// ANDs `extra` onto every alternative (creating one alternative if there are none).
    pub fn and(mut self, extra: Condition) -> Self {
        if self.alternatives.is_empty() {
            self.alternatives.push(Conjunction::default());
        }
        for alternative in &mut self.alternatives {
            alternative.clauses.push(Disjunction {
                conditions: vec![extra.clone()],
            });
        }
        self
    }

    /// Every field named in a condition (its own, and another it is compared with) or an
    /// ordering, in query order (may repeat).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        let conditions = self
            .alternatives
            .iter()
            .flat_map(|alternative| &alternative.clauses)
            .flat_map(|clause| &clause.conditions)
            .flat_map(|condition| {
                std::iter::once(condition.field.as_str()).chain(condition.op.other_field())
            });
        conditions.chain(self.order_by.iter().map(|order| order.field.as_str()))
    }
}

/// Parses an encoded query such as `active=true^priority=1^ORpriority=2^ORDERBYnumber`.
pub fn parse(input: &str) -> Result<EncodedQuery, QueryError> {
    let mut query = EncodedQuery::default();
    let mut current = Conjunction::default();
    let mut conditions = 0usize;
    let terms = Terms { rest: Some(input) };
    for term in terms {
        // `NQ` closes the current alternative; whatever follows it is an ordinary term.
        let mut rest = term.as_str();
        while let Some(after) = rest.strip_prefix("NQ") {
            finish_alternative(&mut query, &mut current);
            rest = after;
        }
        if rest.is_empty() || rest == "EQ" {
            continue;
        }
        if let Some(field) = rest.strip_prefix("ORDERBYDESC") {
            push_order(&mut query, &term, field, true)?;
            continue;
        }
        if let Some(field) = rest.strip_prefix("ORDERBY") {
            push_order(&mut query, &term, field, false)?;
            continue;
        }
        if conditions == MAX_CONDITIONS {
            return Err(error(format!(
                "the query has more than {MAX_CONDITIONS} conditions"
            )));
        }
        conditions += 1;
        if let Some(text) = rest.strip_prefix("OR") {
            let Some(previous) = current.clauses.last_mut() else {
                return Err(error(format!(
                    "term {} starts with OR but has no preceding condition to join",
                    quote(&term)
                )));
            };
            if text.is_empty() {
                return Err(error(format!("term {} has no condition", quote(&term))));
            }
            previous.conditions.push(parse_condition(text)?);
        } else {
            current.clauses.push(Disjunction {
                conditions: vec![parse_condition(rest)?],
            });
        }
    }
    finish_alternative(&mut query, &mut current);
    Ok(query)
}

/// Moves `current` into the query's alternatives unless it is empty (a bare `NQ`, or an
/// alternative holding only orderings, adds nothing).
fn finish_alternative(query: &mut EncodedQuery, current: &mut Conjunction) {
    if !current.clauses.is_empty() {
        query.alternatives.push(std::mem::take(current));
    }
}

fn push_order(
    query: &mut EncodedQuery,
    term: &str,
    field: &str,
    descending: bool,
) -> Result<(), QueryError> {
    if field.is_empty() || !field.chars().all(is_field_char) {
        return Err(error(format!(
            "ordering term {} needs a field name made of lowercase letters, digits, '_' and '.'",
            quote(term)
        )));
    }
    if query.order_by.len() == MAX_ORDER_BY {
        return Err(error(format!(
            "the query has more than {MAX_ORDER_BY} ORDERBY terms"
        )));
    }
    query.order_by.push(OrderBy {
        field: field.to_owned(),
        descending,
    });
    Ok(())
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
}

fn parse_condition(text: &str) -> Result<Condition, QueryError> {
    let split = text.find(|c| !is_field_char(c)).unwrap_or(text.len());
    let (field, rest) = text.split_at(split);
    if field.is_empty() {
        return Err(error(format!(
            "condition {} has no field name",
            quote(text)
        )));
    }
    if rest.is_empty() {
        return Err(error(format!("condition {} has no operator", quote(text))));
    }
    Ok(Condition {
        field: field.to_owned(),
        op: operators::operator(text, rest)?,
    })
}

fn split_list(text: &str, value: &str) -> Result<Vec<String>, QueryError> {
    let values: Vec<String> = value
        .split(',')
        .take(MAX_IN_VALUES + 1)
        .map(str::to_owned)
        .collect();
    if values.len() > MAX_IN_VALUES {
        return Err(error(format!(
            "condition {} lists more than {MAX_IN_VALUES} values",
            quote(text)
        )));
    }
    Ok(values)
}

/// Splits on `^` not followed by `^`, turning each `^^` into `^` (so `^^^` is a literal
/// `^` followed by a separator).
struct Terms<'a> {
    rest: Option<&'a str>,
}

impl Iterator for Terms<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let input = self.rest?;
        let bytes = input.as_bytes();
        let mut term = String::new();
        let (mut start, mut i) = (0, 0);
        // `^` is ASCII, so every index where it is found is a char boundary.
        while let Some(offset) = bytes[i..].iter().position(|&b| b == b'^') {
            i += offset;
            if bytes.get(i + 1) == Some(&b'^') {
                term.push_str(&input[start..=i]);
                i += 2;
                start = i;
            } else {
                term.push_str(&input[start..i]);
                self.rest = Some(&input[i + 1..]);
                return Some(term);
            }
        }
        term.push_str(&input[start..]);
        self.rest = None;
        Some(term)
    }
}

fn error(message: String) -> QueryError {
    QueryError { message }
}

/// Quotes client input for an error message: at most 60 characters shown, control characters
/// escaped (an escape counts its length, so the quote stays short whatever the input).
pub(crate) fn quote(text: &str) -> String {
    const SHOWN: usize = 60;
    let mut shown = String::new();
    let mut length = 0;
    let mut more = "";
    for c in text.chars() {
        let piece = if c.is_control() {
            c.escape_default().to_string()
        } else {
            c.to_string()
        };
        let width = piece.chars().count();
        if length + width > SHOWN {
            more = "…";
            break;
        }
        shown.push_str(&piece);
        length += width;
    }
    format!("'{shown}{more}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: &str, op: Operator) -> Condition {
        Condition {
            field: field.to_owned(),
            op,
        }
    }

    fn eq(field: &str, value: &str) -> Condition {
        cond(field, Operator::Eq(value.to_owned()))
    }

    fn clause(conditions: Vec<Condition>) -> Disjunction {
        Disjunction { conditions }
    }

    fn and(clauses: Vec<Disjunction>) -> Conjunction {
        Conjunction { clauses }
    }

    fn order(field: &str, descending: bool) -> OrderBy {
        OrderBy {
            field: field.to_owned(),
            descending,
        }
    }

    /// Parses a single-condition query and returns its operator.
    fn op(input: &str) -> Operator {
        let query = parse(input).unwrap();
        assert_eq!(query.alternatives.len(), 1, "{input}");
        let conditions = &query.alternatives[0].clauses[0].conditions;
        assert_eq!(conditions.len(), 1, "{input}");
        conditions[0].op.clone()
    }

    fn err(input: &str) -> String {
        parse(input).unwrap_err().message
    }

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn each_operator() {
        use Operator::*;
        assert_eq!(op("state=1"), Eq(s("1")));
        assert_eq!(op("state="), Eq(s("")));
        assert_eq!(op("state!=1"), Ne(s("1")));
        assert_eq!(op("short_descriptionLIKEdisk"), Like(s("disk")));
        assert_eq!(op("short_descriptionNOT LIKEdisk"), NotLike(s("disk")));
        assert_eq!(op("nameSTARTSWITHab"), StartsWith(s("ab")));
        assert_eq!(op("nameENDSWITHyz"), EndsWith(s("yz")));
        assert_eq!(op("stateIN1,2,,3"), In(vec![s("1"), s("2"), s(""), s("3")]));
        assert_eq!(op("stateNOT IN 1, 2"), NotIn(vec![s(" 1"), s(" 2")]));
        assert_eq!(op("stateIN"), In(vec![s("")]));
        assert_eq!(op("assigned_toISEMPTY"), IsEmpty);
        assert_eq!(op("assigned_toISNOTEMPTY"), IsNotEmpty);
        assert_eq!(op("priority<3"), Lt(s("3")));
        assert_eq!(op("priority<=3"), Le(s("3")));
        assert_eq!(op("priority>3"), Gt(s("3")));
        assert_eq!(op("priority>=3"), Ge(s("3")));
        assert_eq!(op("priority==3"), Eq(s("=3")));
        assert_eq!(
            op("openedBETWEEN2024-01-01@2024-12-31"),
            Between(s("2024-01-01"), s("2024-12-31"))
        );
        assert_eq!(op("xBETWEEN@a@b"), Between(s(""), s("a@b")));
        assert_eq!(op("caller_id.department.name=IT"), Eq(s("IT")));
        assert_eq!(
            parse("caller_id.name=x").unwrap().alternatives[0].clauses[0].conditions[0].field,
            "caller_id.name"
        );
    }

    #[test]
    fn and_or_grouping() {
        assert_eq!(
            parse("a=1^b=2^ORc=3").unwrap().alternatives,
            vec![and(vec![
                clause(vec![eq("a", "1")]),
                clause(vec![eq("b", "2"), eq("c", "3")])
            ])]
        );
        assert_eq!(
            parse("a=1^ORb=2^c=3^ORd=4").unwrap().alternatives,
            vec![and(vec![
                clause(vec![eq("a", "1"), eq("b", "2")]),
                clause(vec![eq("c", "3"), eq("d", "4")]),
            ])]
        );
        assert_eq!(
            parse("a=1^ORb=2^ORc=3").unwrap().alternatives[0].clauses[0]
                .conditions
                .len(),
            3
        );
    }

    #[test]
    fn new_query_alternatives() {
        let query = parse("a=1^ORb=2^NQc=3^d=4").unwrap();
        assert_eq!(
            query.alternatives,
            vec![
                and(vec![clause(vec![eq("a", "1"), eq("b", "2")])]),
                and(vec![clause(vec![eq("c", "3")]), clause(vec![eq("d", "4")])]),
            ]
        );
        // A bare NQ term, or an empty alternative, adds nothing.
        assert_eq!(parse("a=1^NQ^b=2").unwrap().alternatives.len(), 2);
        assert_eq!(parse("a=1^NQ").unwrap().alternatives.len(), 1);
        assert_eq!(parse("NQa=1^NQ^NQ").unwrap().alternatives.len(), 1);
        assert_eq!(parse("^NQ").unwrap(), EncodedQuery::default());
    }

    #[test]
    fn ordering() {
        let query = parse("ORDERBYnumber^a=1^ORDERBYDESCsys_created_on^ORb=2").unwrap();
        assert_eq!(
            query.order_by,
            vec![order("number", false), order("sys_created_on", true)]
        );
        // An ORDERBY between two conditions does not break the OR chain.
        assert_eq!(
            query.alternatives,
            vec![and(vec![clause(vec![eq("a", "1"), eq("b", "2")])])]
        );
        let alone = parse("ORDERBYDESCpriority^ORDERBYcaller_id.name").unwrap();
        assert!(alone.alternatives.is_empty());
        assert_eq!(
            alone.order_by,
            vec![order("priority", true), order("caller_id.name", false)]
        );
        assert_eq!(
            parse("a=1^NQORDERBYx").unwrap().order_by,
            vec![order("x", false)]
        );
        // `ORDERBYor` is ordering by the field `or`, not an OR.
        assert_eq!(
            parse("ORDERBYor").unwrap().order_by,
            vec![order("or", false)]
        );
        assert!(err("ORDERBY").contains("'ORDERBY'"));
        assert!(err("ORDERBYDESC").contains("'ORDERBYDESC'"));
        assert!(err("ORDERBYName").contains("field name"));
        assert!(err(&"^ORDERBYa".repeat(MAX_ORDER_BY + 1)).contains("ORDERBY terms"));
    }

    #[test]
    fn markers_empty_terms_and_escapes() {
        assert_eq!(parse("").unwrap(), EncodedQuery::default());
        assert_eq!(parse("^").unwrap(), EncodedQuery::default());
        assert_eq!(parse("EQ").unwrap(), EncodedQuery::default());
        let plain = parse("a=1").unwrap();
        assert_eq!(parse("a=1^EQ").unwrap(), plain);
        assert_eq!(parse("a=1^").unwrap(), plain);
        assert_eq!(
            parse("^a=1^^^").unwrap().alternatives[0].clauses[0].conditions[0],
            eq("a", "1^")
        );
        assert_eq!(op("a=x^^y"), Operator::Eq(s("x^y")));
        assert_eq!(op("a=1^^ORb=2"), Operator::Eq(s("1^ORb=2")));
        assert_eq!(op("a=^^^^"), Operator::Eq(s("^^")));
        assert_eq!(op("aIN^^,b"), Operator::In(vec![s("^"), s("b")]));
        assert!(err("a=1^EQx").contains("no field name"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("^ORa=1"),
            "term 'ORa=1' starts with OR but has no preceding condition to join"
        );
        assert!(err("a=1^NQ^ORb=2").contains("no preceding condition"));
        assert!(err("a=1^NQORb=2").contains("no preceding condition"));
        assert!(err("ORDERBYx^ORb=2").contains("no preceding condition"));
        assert_eq!(err("a=1^OR"), "term 'OR' has no condition");
        assert_eq!(
            err("stateFOOx"),
            "unknown operator in condition 'stateFOOx'"
        );
        assert_eq!(err("state"), "condition 'state' has no operator");
        assert_eq!(err("=5"), "condition '=5' has no field name");
        assert_eq!(err("a=1^OR=5"), "condition '=5' has no field name");
        assert!(err("openedBETWEEN2024").contains("'low@high'"));
        assert!(err("Active=true").contains("no field name"));
        assert!(err("a=1^b=2^ORstate like x").contains("unknown operator"));
    }

    #[test]
    fn limits() {
        let at_limit = vec!["a=1"; MAX_CONDITIONS].join("^");
        assert!(parse(&at_limit).is_ok());
        assert!(err(&format!("{at_limit}^ORb=2")).contains("more than 100 conditions"));
        let values = vec!["x"; MAX_IN_VALUES].join(",");
        assert_eq!(
            op(&format!("aIN{values}")),
            Operator::In(vec![s("x"); MAX_IN_VALUES])
        );
        assert!(err(&format!("aNOT IN{values},x")).contains("more than 1000 values"));
    }

    #[test]
    fn hostile_inputs() {
        assert_eq!(
            op("short_description=x' OR '1'='1"),
            Operator::Eq(s("x' OR '1'='1"))
        );
        assert_eq!(
            op("a='; DROP TABLE x; --"),
            Operator::Eq(s("'; DROP TABLE x; --"))
        );
        assert_eq!(op("a=100%_\"é\0"), Operator::Eq(s("100%_\"é\0")));
        assert!(err("námé=x").contains("unknown operator"));
        assert!(err("éa=x").contains("no field name"));
        assert!(err("a;DROP=1").contains("unknown operator"));
        assert!(err("a=1^ORa\u{0}=1").contains("'a\\u{0}=1'"));
        for input in [
            "^",
            "^^",
            "^^^",
            "^OR",
            "^NQ",
            "OR",
            "NQ",
            "^EQ",
            "é",
            "\0",
            "ORDERBYé",
        ] {
            let _ = parse(input);
        }
        // Error messages quote at most 60 characters of client input.
        let long = format!("a{}", "!".repeat(1000));
        assert!(err(&long).chars().count() < 100);
        // Megabyte inputs are handled promptly.
        let mb = 1 << 20;
        assert_eq!(
            op(&format!("a={}", "x".repeat(mb))),
            Operator::Eq("x".repeat(mb))
        );
        assert_eq!(
            op(&format!("a={}", "^^".repeat(mb / 2))),
            Operator::Eq("^".repeat(mb / 2))
        );
        // Runs of `^` are escapes, so this is one term of literal carets.
        assert!(err(&"^".repeat(mb + 1)).contains("no field name"));
        assert_eq!(
            parse(&"^NQ^EQ".repeat(mb / 6)).unwrap(),
            EncodedQuery::default()
        );
        assert_eq!(
            parse(&"NQ".repeat(mb / 2)).unwrap(),
            EncodedQuery::default()
        );
        assert!(parse(&"a=1^".repeat(mb / 4)).is_err());
        assert!(parse(&"^OR".repeat(mb / 3)).is_err());
        assert!(parse(&format!("aIN{}", ",".repeat(mb))).is_err());
    }

    #[test]
    fn fuzz_never_panics() {
        const ALPHABET: [&str; 21] = [
            "a", "=", "^", "OR", "NQ", "!", "<", ">", "@", ",", "IN", " ", "LIKE", "é", "\0", "'",
            "b.c", "ORDERBY", "DESC", "EQ", "ISEMPTY",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = 0;
        for _ in 0..5000 {
            let len = next() % 24;
            let input: String = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            if let Ok(query) = parse(&input) {
                parsed += 1;
                let total: usize = query
                    .alternatives
                    .iter()
                    .flat_map(|a| &a.clauses)
                    .inspect(|c| assert!(!c.conditions.is_empty()))
                    .map(|c| c.conditions.len())
                    .sum();
                assert!(total <= MAX_CONDITIONS);
                assert!(query.alternatives.iter().all(|a| !a.clauses.is_empty()));
                assert!(
                    query
                        .fields()
                        .all(|f| !f.is_empty() && f.chars().all(is_field_char))
                );
            }
        }
        // The alphabet is rich enough that a fair share of inputs are valid queries.
        assert!(parsed > 250, "only {parsed} fuzz inputs parsed");
    }

    #[test]
    fn and_adds_to_every_alternative() {
        let extra = eq("active", "true");
        let query = EncodedQuery::default().and(extra.clone());
        assert_eq!(
            query.alternatives,
            vec![and(vec![clause(vec![extra.clone()])])]
        );
        let query = parse("a=1^NQb=2^ORc=3^ORDERBYd")
            .unwrap()
            .and(extra.clone());
        assert_eq!(
            query.alternatives,
            vec![
                and(vec![
                    clause(vec![eq("a", "1")]),
                    clause(vec![extra.clone()])
                ]),
                and(vec![
                    clause(vec![eq("b", "2"), eq("c", "3")]),
                    clause(vec![extra])
                ]),
            ]
        );
        assert_eq!(query.order_by, vec![order("d", false)]);
    }

    #[test]
    fn fields_lists_conditions_and_ordering() {
        let query = parse("a=1^ORb.c=2^NQdISEMPTY^ORDERBYDESCe^ORDERBYa").unwrap();
        assert_eq!(
            query.fields().collect::<Vec<_>>(),
            ["a", "b.c", "d", "e", "a"]
        );
        assert_eq!(EncodedQuery::default().fields().count(), 0);
    }

    #[test]
    fn error_traits() {
        let e = parse("=1").unwrap_err();
        assert_eq!(e.to_string(), e.message);
        let _: &dyn std::error::Error = &e;
    }

    /// Found by `fuzz/run.sh` (encoded_query; input kept in
    /// `fuzz/regressions/encoded_query/`): control characters are quoted escaped, `\0` as
    /// `\u{0}`, and 60 of them made a 400-character message. The quote is now bounded by what
    /// it shows.
    #[test]
    fn quoted_control_characters_keep_error_messages_short() {
        let fuzzed = "nameNOT LIK\0\0z\0\0E".to_owned() + &"\0".repeat(34) + "\u{1}{\0\0\0\0\0\0zz";
        for input in [
            fuzzed,
            "\0".repeat(200),
            "\u{85}".repeat(61),
            "x\u{1}".repeat(100),
        ] {
            let message = parse(&input).unwrap_err().message;
            assert!(message.chars().count() < 160, "{message}");
            let quoted = message.split('\'').nth(1).unwrap();
            assert!(quoted.chars().count() <= 61, "{message}");
        }
        assert_eq!(quote("a\0b"), "'a\\u{0}b'");
        assert_eq!(quote(&"x".repeat(60)), format!("'{}'", "x".repeat(60)));
        assert_eq!(quote(&"x".repeat(61)), format!("'{}…'", "x".repeat(60)));
    }
}

#[cfg(test)]
mod properties {
    //! Property tests (proptest) of the parser: it never panics, a query rendered from a random
    //! AST parses back to that AST, and its limits hold. Each property runs 256 cases; set
    //! `PROPTEST_CASES` (read by proptest itself) for a longer run, e.g.
    //! `PROPTEST_CASES=100000 cargo test --lib query::properties`.

    use proptest::prelude::*;

    use super::*;
    use crate::model::dates::Unit;

    /// Pieces of the encoded-query syntax, so random input reaches past the first error.
    const SNIPPETS: &[&str] = &[
        "a",
        "b.c",
        "_1",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "^",
        "^^",
        "^OR",
        "^NQ",
        "OR",
        "NQ",
        "EQ",
        "^EQ",
        "LIKE",
        "NOT LIKE",
        "NOT IN",
        "IN",
        "STARTSWITH",
        "ENDSWITH",
        "BETWEEN",
        "ISEMPTY",
        "ISNOTEMPTY",
        "EMPTY",
        "NOTEMPTY",
        "ANYTHING",
        "EMPTYSTRING",
        "*",
        "!*",
        "%",
        "SAMEAS",
        "NSAMEAS",
        "GT_FIELD",
        "LT_OR_EQUALS_FIELD",
        "ON",
        "NOTON",
        "Today",
        "javascript:gs.daysAgoStart(0)",
        "DATEPART",
        "javascript:gs.datePart('dayofweek','monday','GE')",
        "RELATIVEGT",
        "@hour@ago@1",
        "MORETHAN",
        "@day@before@1",
        "VALCHANGES",
        "DYNAMIC",
        "90d1921e5f510100a9ad2572f2b477fe",
        "ORDERBY",
        "ORDERBYDESC",
        "@",
        ",",
        " ",
        "é",
        "\0",
        "'",
        "x",
    ];

    fn syntax_soup() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(SNIPPETS), 0..48).prop_map(|s| s.concat())
    }

    fn field() -> impl Strategy<Value = String> {
        "[a-z0-9_.]{1,10}"
    }

    /// Any text, or text made of the characters the syntax gives meaning to.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[\\^,@=<>! ORNQEa-z]{0,10}"]
    }

    /// Operands of an operator, restricted only where the syntax itself cannot say otherwise:
    /// `IN` values hold no `,`, a `BETWEEN` low bound no `@`, a `<` or `>` operand cannot
    /// start with `=` (that would be `<=` or `>=`), an `ON` label alone holds no `@` and is not
    /// empty, and an `ON` range's ends hold no `@`.
    fn operator() -> impl Strategy<Value = Operator> {
        let list = || prop::collection::vec(text().prop_map(|s| s.replace(',', "")), 1..5);
        let no_leading_eq = || text().prop_map(|s| s.trim_start_matches('=').to_owned());
        prop_oneof![
            text().prop_map(Operator::Eq),
            text().prop_map(Operator::Ne),
            text().prop_map(Operator::Like),
            text().prop_map(Operator::NotLike),
            text().prop_map(Operator::StartsWith),
            text().prop_map(Operator::EndsWith),
            list().prop_map(Operator::In),
            list().prop_map(Operator::NotIn),
            Just(Operator::IsEmpty),
            Just(Operator::IsNotEmpty),
            Just(Operator::Anything),
            Just(Operator::EmptyString),
            no_leading_eq().prop_map(Operator::Lt),
            text().prop_map(Operator::Le),
            no_leading_eq().prop_map(Operator::Gt),
            text().prop_map(Operator::Ge),
            (no_at(), text()).prop_map(|(low, high)| Operator::Between(low, high)),
            other_field().prop_map(Operator::SameAs),
            other_field().prop_map(Operator::NotSameAs),
            field().prop_map(Operator::GtField),
            field().prop_map(Operator::LtField),
            field().prop_map(Operator::GeField),
            field().prop_map(Operator::LeField),
            on_date().prop_map(Operator::On),
            on_date().prop_map(Operator::NotOn),
            date_part(),
            relative().prop_map(Operator::RelativeGt),
            relative().prop_map(Operator::RelativeLt),
            span().prop_map(Operator::MoreThan),
            span().prop_map(Operator::LessThan),
            Just(Operator::Dynamic(DynamicOption::Me)),
        ]
    }

    fn unit() -> impl Strategy<Value = Unit> {
        prop::sample::select(&Unit::ALL[..])
    }

    fn other_field() -> impl Strategy<Value = OtherField> {
        (field(), prop::option::of(unit())).prop_map(|(field, unit)| OtherField { field, unit })
    }

    /// Text without `@`.
    fn no_at() -> impl Strategy<Value = String> {
        text().prop_map(|s| s.replace('@', ""))
    }

    fn on_date() -> impl Strategy<Value = OnDate> {
        let label_alone = no_at().prop_filter("a label", |l| !l.is_empty());
        prop_oneof![
            label_alone.prop_map(|label| OnDate { label, range: None }),
            (text(), no_at(), no_at()).prop_map(|(label, start, end)| OnDate {
                label,
                range: Some((start, end)),
            }),
        ]
    }

    fn date_part() -> impl Strategy<Value = Operator> {
        use time::Weekday::*;
        let days = vec![
            Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday,
        ];
        let comparisons = vec![
            Comparison::Eq,
            Comparison::Lt,
            Comparison::Le,
            Comparison::Gt,
            Comparison::Ge,
        ];
        (
            text(),
            prop::sample::select(days),
            prop::sample::select(comparisons),
        )
            .prop_map(|(label, weekday, comparison)| {
                Operator::DatePart(DatePart {
                    label,
                    weekday,
                    comparison,
                })
            })
    }

    fn relative() -> impl Strategy<Value = Relative> {
        (unit(), any::<bool>(), any::<u32>()).prop_map(|(unit, ahead, count)| Relative {
            unit,
            ahead,
            count,
        })
    }

    fn span() -> impl Strategy<Value = Span> {
        (field(), unit(), any::<bool>(), any::<u32>()).prop_map(|(field, unit, after, count)| {
            Span {
                field,
                unit,
                after,
                count,
            }
        })
    }

    fn condition() -> impl Strategy<Value = Condition> {
        (field(), operator()).prop_map(|(field, op)| Condition { field, op })
    }

    fn conjunction() -> impl Strategy<Value = Conjunction> {
        let clause = prop::collection::vec(condition(), 1..4)
            .prop_map(|conditions| Disjunction { conditions });
        prop::collection::vec(clause, 1..4).prop_map(|clauses| Conjunction { clauses })
    }

    fn query() -> impl Strategy<Value = EncodedQuery> {
        let order =
            (field(), any::<bool>()).prop_map(|(field, descending)| OrderBy { field, descending });
        (
            prop::collection::vec(conjunction(), 0..4),
            prop::collection::vec(order, 0..4),
        )
            .prop_map(|(alternatives, order_by)| EncodedQuery {
                alternatives,
                order_by,
            })
    }

    /// How a query is written out, beyond its AST: where the orderings go among the
    /// conditions, and the optional leading `^` and trailing `^EQ`.
    #[derive(Debug, Clone)]
    struct Layout {
        /// For each ordering, where among the condition terms it goes (modulo their count + 1).
        order_positions: Vec<usize>,
        leading_caret: bool,
        trailing_eq: bool,
    }

    fn layout() -> impl Strategy<Value = Layout> {
        (
            prop::collection::vec(any::<usize>(), 4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(order_positions, leading_caret, trailing_eq)| Layout {
                order_positions,
                leading_caret,
                trailing_eq,
            })
    }

    /// The renderer: each condition a term (`OR` before the second and later of a clause, `NQ`
    /// before the first of each later alternative), `^` in operands written `^^`.
    fn render(query: &EncodedQuery, layout: &Layout) -> String {
        let mut terms = Vec::new();
        for (a, alternative) in query.alternatives.iter().enumerate() {
            for (c, clause) in alternative.clauses.iter().enumerate() {
                for (k, condition) in clause.conditions.iter().enumerate() {
                    let prefix = match (a, c, k) {
                        (_, _, 1..) => "OR",
                        (1.., 0, 0) => "NQ",
                        _ => "",
                    };
                    let operand = operators::render(&condition.op);
                    terms.push(format!("{prefix}{}{operand}", condition.field));
                }
            }
        }
        // Orderings may stand anywhere among the conditions (they neither end an alternative
        // nor break an OR chain), in their own order.
        let mut positions: Vec<usize> = layout
            .order_positions
            .iter()
            .take(query.order_by.len())
            .map(|p| p % (terms.len() + 1))
            .collect();
        positions.sort_unstable();
        for (inserted, (order, position)) in query.order_by.iter().zip(positions).enumerate() {
            let desc = if order.descending { "DESC" } else { "" };
            terms.insert(position + inserted, format!("ORDERBY{desc}{}", order.field));
        }
        if layout.trailing_eq {
            terms.push("EQ".to_owned());
        }
        let text = terms.join("^");
        match layout.leading_caret {
            true => format!("^{text}"),
            false => text,
        }
    }

    /// The parser's limits, checked on anything it accepts.
    fn within_limits(query: &EncodedQuery) -> bool {
        let conditions = query
            .alternatives
            .iter()
            .flat_map(|a| &a.clauses)
            .map(|c| c.conditions.len())
            .sum::<usize>();
        let lists_ok = query
            .alternatives
            .iter()
            .flat_map(|a| &a.clauses)
            .flat_map(|c| &c.conditions)
            .all(|c| match &c.op {
                Operator::In(vs) | Operator::NotIn(vs) => vs.len() <= MAX_IN_VALUES,
                _ => true,
            });
        conditions <= MAX_CONDITIONS && query.order_by.len() <= MAX_ORDER_BY && lists_ok
    }

    fn conditions(n: usize, ored: &[bool]) -> String {
        (0..n)
            .map(|i| {
                let or = i > 0 && ored[i % ored.len()];
                format!("{}f{i}=v", if or { "OR" } else { "" })
            })
            .collect::<Vec<_>>()
            .join("^")
    }

    proptest! {
        #![proptest_config(crate::proptest_config::config())]

        #[test]
        fn never_panics_on_any_string(input in any::<String>()) {
            let _ = parse(&input);
        }

        #[test]
        fn never_panics_on_syntax_soup_and_respects_its_limits(input in syntax_soup()) {
            if let Ok(query) = parse(&input) {
                prop_assert!(within_limits(&query));
                prop_assert!(query.alternatives.iter().all(|a| !a.clauses.is_empty()));
                prop_assert!(query.fields().all(|f| !f.is_empty() && f.chars().all(is_field_char)));
            }
        }

        #[test]
        fn a_rendered_query_parses_back_to_its_ast(query in query(), layout in layout()) {
            let text = render(&query, &layout);
            prop_assert_eq!(parse(&text), Ok(query), "rendered as {:?}", text);
        }

        /// Whatever parses, rendered again, parses to the same AST (the renderer can write
        /// every AST the parser produces).
        #[test]
        fn parse_render_parse_is_stable(input in prop_oneof![syntax_soup(), any::<String>()]) {
            if let Ok(query) = parse(&input) {
                // Orderings last, no leading `^`, no trailing `EQ`.
                let layout = Layout {
                    order_positions: vec![usize::MAX; query.order_by.len()],
                    leading_caret: false,
                    trailing_eq: false,
                };
                let text = render(&query, &layout);
                prop_assert_eq!(parse(&text), Ok(query), "re-rendered as {:?}", text);
            }
        }

        #[test]
        fn at_most_max_conditions(
            n in 1usize..=2 * MAX_CONDITIONS,
            ored in prop::collection::vec(any::<bool>(), 1..8),
        ) {
            match parse(&conditions(n, &ored)) {
                Ok(query) => {
                    prop_assert!(n <= MAX_CONDITIONS);
                    prop_assert_eq!(query.fields().count(), n);
                }
                Err(e) => {
                    prop_assert!(n > MAX_CONDITIONS);
                    prop_assert!(e.message.contains("more than 100 conditions"), "{}", e);
                }
            }
        }

        #[test]
        fn at_most_max_in_values(n in 1usize..=2 * MAX_IN_VALUES, negated in any::<bool>()) {
            let op = if negated { "NOT IN" } else { "IN" };
            let text = format!("a{op}{}", vec!["v"; n].join(","));
            match parse(&text) {
                Ok(_) => prop_assert!(n <= MAX_IN_VALUES),
                Err(e) => {
                    prop_assert!(n > MAX_IN_VALUES);
                    prop_assert!(e.message.contains("more than 1000 values"), "{}", e);
                }
            }
        }

        #[test]
        fn at_most_max_orderings(n in 1usize..=2 * MAX_ORDER_BY, desc in any::<bool>()) {
            let term = if desc { "ORDERBYDESCa" } else { "ORDERBYa" };
            match parse(&vec![term; n].join("^")) {
                Ok(query) => {
                    prop_assert!(n <= MAX_ORDER_BY);
                    prop_assert_eq!(query.order_by.len(), n);
                }
                Err(e) => {
                    prop_assert!(n > MAX_ORDER_BY);
                    prop_assert!(e.message.contains("ORDERBY terms"), "{}", e);
                }
            }
        }

        /// Error messages quote at most 60 characters of client input.
        #[test]
        fn error_messages_stay_short(
            input in prop_oneof![syntax_soup(), any::<String>()],
            padding in 0usize..2000,
        ) {
            let input = format!("{input}{}", "!".repeat(padding));
            if let Err(e) = parse(&input) {
                prop_assert!(e.message.chars().count() < 160, "{}", e.message);
            }
        }
    }
}
