//! sqlx's errors as [`StorageError`]s: the only place the PostgreSQL backend's callers learn
//! what a driver error meant (a conflict, an outage, a client's value, anything else).

use sqlx::migrate::MigrateError;
use sqlx::postgres::PgDatabaseError;

use crate::model::registry::Table;
use crate::storage::StorageError;

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Configuration(cause) = &e {
            return StorageError::InvalidUrl(cause.to_string());
        }
        let code = sqlstate(&e);
        let code = code.as_deref();
        if matches!(code, Some("40P01" | "40001")) {
            StorageError::Conflict(e.to_string())
        } else if unavailable(&e, code) {
            StorageError::Unavailable(e.to_string())
        } else {
            StorageError::Database(e.to_string())
        }
    }
}

impl From<MigrateError> for StorageError {
    fn from(e: MigrateError) -> Self {
        StorageError::Migrate(e.to_string())
    }
}

/// No connection could be had from the pool (down, refusing, or every one busy too long).
pub fn connect(e: sqlx::Error) -> StorageError {
    StorageError::Connect(e.to_string())
}

/// Whether the server cannot be reached or cannot write for now: worth a 503.
fn unavailable(e: &sqlx::Error, code: Option<&str>) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Connection exceptions (08), insufficient resources (53: a full disk, too many
        // connections), an operator's shutdown or a restart (57P01-57P03), and system or I/O
        // errors (58).
        _ => code.is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("58")
                || matches!(code, "57P01" | "57P02" | "57P03")
        }),
    }
}

/// The SQLSTATE of a database's error, if it is one.
fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// Turns a unique-key violation into [`StorageError::Unique`], naming the fields, and text
/// PostgreSQL cannot store (SQLSTATE 22021, a NUL) into [`StorageError::InvalidText`].
pub fn on_constraint(table: &Table, e: sqlx::Error) -> StorageError {
    if sqlstate(&e).as_deref() == Some("22021") {
        return StorageError::InvalidText;
    }
    if let Some(db) = e.as_database_error()
        && db.kind() == sqlx::error::ErrorKind::UniqueViolation
    {
        // PostgreSQL says "Key (a, b)=(x, y) already exists."
        let fields = db
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(|pg| pg.detail())
            .and_then(|d| d.strip_prefix("Key ("))
            .and_then(|d| d.split_once(")=").map(|(fields, _)| fields))
            .unwrap_or("key")
            .replace('"', "");
        return StorageError::Unique {
            table: table.name.to_owned(),
            fields,
        };
    }
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distinctions callers act on survive the conversion, with sqlx's words.
    #[test]
    fn pool_and_io_failures_are_outages() {
        let timed_out = StorageError::from(sqlx::Error::PoolTimedOut);
        assert!(timed_out.is_unavailable() && !timed_out.is_conflict());
        assert_eq!(
            timed_out.to_string(),
            format!("database error: {}", sqlx::Error::PoolTimedOut)
        );
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(StorageError::from(sqlx::Error::Io(io)).is_unavailable());
        let other = StorageError::from(sqlx::Error::RowNotFound);
        assert!(!other.is_unavailable() && !other.is_conflict());
        assert!(connect(sqlx::Error::PoolClosed).is_unavailable());
    }
}
