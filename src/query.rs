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

/// A condition's operator together with its operand(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    Eq(String),
    Ne(String),
    Like(String),
    NotLike(String),
    StartsWith(String),
    EndsWith(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    IsEmpty,
    IsNotEmpty,
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
    Between(String, String),
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
const MAX_ORDER_BY: usize = 100;

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

    /// Every field named in a condition or an ordering, in query order (may repeat).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        let conditions = self
            .alternatives
            .iter()
            .flat_map(|alternative| &alternative.clauses)
            .flat_map(|clause| &clause.conditions)
            .map(|condition| condition.field.as_str());
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

/// Operators, longest first where one is a prefix of another.
const OPERATORS: &str =
    "ISNOTEMPTY|ISEMPTY|NOT LIKE|NOT IN|STARTSWITH|ENDSWITH|BETWEEN|LIKE|IN|!=|<=|>=|=|<|>";

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
    let Some((name, value)) = OPERATORS
        .split('|')
        .find_map(|op| rest.strip_prefix(op).map(|value| (op, value)))
    else {
        return Err(error(format!(
            "unknown operator in condition {}",
            quote(text)
        )));
    };
    let owned = || value.to_owned();
    let op = match name {
        "ISEMPTY" | "ISNOTEMPTY" if !value.is_empty() => {
            return Err(error(format!(
                "operator {name} takes no value, but condition {} has one",
                quote(text)
            )));
        }
        "ISEMPTY" => Operator::IsEmpty,
        "ISNOTEMPTY" => Operator::IsNotEmpty,
        "NOT LIKE" => Operator::NotLike(owned()),
        "NOT IN" => Operator::NotIn(split_list(text, value)?),
        "STARTSWITH" => Operator::StartsWith(owned()),
        "ENDSWITH" => Operator::EndsWith(owned()),
        "BETWEEN" => {
            let Some((low, high)) = value.split_once('@') else {
                return Err(error(format!(
                    "BETWEEN in condition {} needs a value of the form 'low@high'",
                    quote(text)
                )));
            };
            Operator::Between(low.to_owned(), high.to_owned())
        }
        "LIKE" => Operator::Like(owned()),
        "IN" => Operator::In(split_list(text, value)?),
        "!=" => Operator::Ne(owned()),
        "<=" => Operator::Le(owned()),
        ">=" => Operator::Ge(owned()),
        "=" => Operator::Eq(owned()),
        "<" => Operator::Lt(owned()),
        _ => Operator::Gt(owned()),
    };
    Ok(Condition {
        field: field.to_owned(),
        op,
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

/// Quotes client input for an error message: at most 60 characters, control characters
/// escaped.
fn quote(text: &str) -> String {
    let shown: String = text
        .chars()
        .take(60)
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let more = if text.chars().nth(60).is_some() {
        "…"
    } else {
        ""
    };
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
        assert!(err("stateISEMPTYx").contains("'stateISEMPTYx'"));
        assert!(err("stateISNOTEMPTY=").contains("takes no value"));
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
}
