//! What records are, independent of where they are stored or how they are asked for: the
//! tables and their fields, the values a record holds, and the queries that select records.

/// Aggregate queries: counts and functions of fields, in groups.
pub mod aggregate;
/// The caller's values in queries: `gs.getUserID()` and its kin, read as data.
pub mod caller_values;
pub mod clock;
/// Dates in queries: units, named periods and the date functions read as data.
pub mod dates;
/// Typed, table-checked query conditions.
pub mod filter;
/// The encoded-query (`sysparm_query`) parser.
pub mod query;
/// Every table and field switchboard stores.
pub mod registry;
/// The built-in roles.
pub mod roles;
/// Record values, sys_ids and timestamps.
pub mod value;
