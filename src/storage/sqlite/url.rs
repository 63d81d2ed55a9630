//! The file a `sqlite:` URL names.
//!
//! Read as sqlx read it when it opened this backend: `sqlite://PATH` or `sqlite:PATH`, the path
//! percent-decoded (so it may hold `?` or `#`), then optional `?key=value` options. The options
//! sqlx knew are still accepted, and refused with its words when their values are not, but, as
//! before, none changes how the store opens its file (read-write, created if missing). An
//! in-memory database is refused: the store's writer and readers are separate connections, so
//! each would see a database of its own.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::storage::{Result, StorageError};

/// The database file of a `sqlite:` URL.
pub fn path(url: &str) -> Result<PathBuf> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (file, options) = match rest.split_once('?') {
        Some((file, options)) => (file, Some(options)),
        None => (rest, None),
    };
    let file = percent_decode_str(file)
        .decode_utf8()
        .map_err(|e| StorageError::InvalidUrl(e.to_string()))?;
    if file.is_empty() || file == ":memory:" {
        return Err(in_memory());
    }
    for (key, value) in form_urlencoded::parse(options.unwrap_or_default().as_bytes()) {
        let known: &[&str] = match &*key {
            "mode" if value == "memory" => return Err(in_memory()),
            "mode" => &["ro", "rw", "rwc"],
            "cache" => &["private", "shared"],
            "immutable" => &["true", "1", "false", "0"],
            "vfs" => continue,
            _ => {
                return Err(StorageError::InvalidUrl(format!(
                    "unknown query parameter `{key}` while parsing connection URL"
                )));
            }
        };
        if !known.contains(&&*value) {
            return Err(StorageError::InvalidUrl(format!(
                "unknown value {value:?} for `{key}`"
            )));
        }
    }
    Ok(PathBuf::from(file.into_owned()))
}

fn in_memory() -> StorageError {
    StorageError::InvalidUrl("an in-memory SQLite database is not supported: name a file".into())
}

#[cfg(test)]
mod tests {
    use super::path;

    #[test]
    fn both_prefixes_and_percent_escapes() {
        assert_eq!(path("sqlite://a/b.db").unwrap().to_str(), Some("a/b.db"));
        assert_eq!(
            path("sqlite:///tmp/b.db").unwrap().to_str(),
            Some("/tmp/b.db")
        );
        assert_eq!(path("sqlite:b.db").unwrap().to_str(), Some("b.db"));
        assert_eq!(path("sqlite://x%3Fy.db").unwrap().to_str(), Some("x?y.db"));
    }

    #[test]
    fn the_options_sqlx_knew_are_accepted_and_others_refused() {
        let accepted = "sqlite://a.db?mode=rwc&cache=shared&immutable=false&vfs=unix";
        assert_eq!(path(accepted).unwrap().to_str(), Some("a.db"));
        assert_eq!(
            path("sqlite://a.db?mode=xyz").unwrap_err().to_string(),
            "database error: error with configuration: unknown value \"xyz\" for `mode`"
        );
        assert_eq!(
            path("sqlite://a.db?journal=wal").unwrap_err().to_string(),
            "database error: error with configuration: \
             unknown query parameter `journal` while parsing connection URL"
        );
    }

    #[test]
    fn in_memory_databases_are_refused() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://",
            "sqlite://a?mode=memory",
        ] {
            assert!(path(url).is_err(), "{url}");
        }
    }
}
