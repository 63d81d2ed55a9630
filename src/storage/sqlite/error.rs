//! rusqlite's errors as [`StorageError`]s: the only place the SQLite backend's callers learn
//! what a driver error meant (an outage, a taken unique key, anything else).

use rusqlite::ErrorCode;

use crate::model::registry::Table;
use crate::storage::StorageError;

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        if unavailable(&e) {
            StorageError::Unavailable(e.to_string())
        } else {
            StorageError::Database(e.to_string())
        }
    }
}

/// Whether SQLite cannot write (or open) for now: a full disk, an I/O error, a lock held too
/// long, a file it may not write, no memory. Worth a 503, not the request's fault.
fn unavailable(e: &rusqlite::Error) -> bool {
    let rusqlite::Error::SqliteFailure(failure, _) = e else {
        return false;
    };
    matches!(
        failure.code,
        ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::ReadOnly
            | ErrorCode::OutOfMemory
    )
}

/// Turns a unique-key violation into [`StorageError::Unique`], naming the fields.
pub fn on_statement(table: &Table, e: rusqlite::Error) -> StorageError {
    if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &e
        && failure.code == ErrorCode::ConstraintViolation
        && matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        // SQLite says "UNIQUE constraint failed: t.a, t.b".
        let fields = message
            .rsplit(": ")
            .next()
            .unwrap_or_default()
            .split(", ")
            .map(|c| c.rsplit('.').next().unwrap_or(c))
            .collect::<Vec<_>>()
            .join(", ");
        return StorageError::Unique {
            table: table.name.to_owned(),
            fields,
        };
    }
    e.into()
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    fn failure(code: std::os::raw::c_int, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(message.into()))
    }

    /// The distinctions callers act on survive the conversion, with rusqlite's words.
    #[test]
    fn a_full_disk_is_an_outage_and_a_taken_key_names_its_fields() {
        let full = StorageError::from(failure(ffi::SQLITE_FULL, "database or disk is full"));
        assert!(full.is_unavailable() && !full.is_conflict());
        assert_eq!(full.to_string(), "database error: database or disk is full");
        let syntax = StorageError::from(failure(ffi::SQLITE_ERROR, "near \"x\": syntax error"));
        assert!(!syntax.is_unavailable());

        let queues = &crate::model::registry::AWA_QUEUE;
        let taken = failure(
            ffi::SQLITE_CONSTRAINT_UNIQUE,
            "UNIQUE constraint failed: awa_queue.a, awa_queue.b",
        );
        let StorageError::Unique { table, fields } = on_statement(queues, taken) else {
            panic!("not a unique-key error");
        };
        assert_eq!((table.as_str(), fields.as_str()), ("awa_queue", "a, b"));
    }
}
