//! What a query's values depend on besides its text: the moment it is resolved at, and who
//! asks.

use time::OffsetDateTime;

/// The circumstances a query is resolved in: dates relative to now are taken from `now`, the
/// caller's values (`javascript:gs.getUserID()`, `DYNAMIC` "Me") from `asker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryContext<'a> {
    /// The current time (UTC): one instant for the whole query.
    pub now: OffsetDateTime,
    pub asker: Asker<'a>,
}

/// Who a query is resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker<'a> {
    /// An authenticated user: the one a caller value stands for.
    User { sys_id: &'a str, user_name: &'a str },
    /// No one: the query is resolved outside any request (a test, the fuzzer). A value that
    /// names the caller is refused, never given some stand-in user's value.
    Nobody,
}

impl<'a> QueryContext<'a> {
    /// Resolving for `asker` at the current time.
    pub fn now(asker: Asker<'a>) -> Self {
        QueryContext {
            now: OffsetDateTime::now_utc(),
            asker,
        }
    }

    /// Resolving for `asker` at `now`.
    pub fn at(now: OffsetDateTime, asker: Asker<'a>) -> Self {
        QueryContext { now, asker }
    }
}
