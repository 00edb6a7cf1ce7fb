//! The PlantShield embedded store: one SQLite file.
//!
//! A single plant keeps what PlantShield records in one SQLite database
//! (the bundled SQLite, so no system library is needed). Each kind of
//! record is one module with its own tables; they share the connection
//! set-up ([`open`], [`open_read_only`]), the `meta` table of format
//! versions, and one error type ([`StoreError`]).
//!
//! | module | tables | holds |
//! |---|---|---|
//! | [`audit`] | `audit` | the hash-chained, append-only audit trail of control operations |
//! | [`platform`] | `events`, `assets`, `edges`, `alerts`, `users`, `sessions`, ... | what `plantshield serve` shows: events, inventory, alerts with their workflow, users |
//!
//! # The connection
//!
//! Writers open the file with WAL journalling (readers such as
//! `plantshield audit verify` are not blocked by a writer, and a writer
//! commits by appending to the write-ahead log), `synchronous=FULL` (a
//! committed batch survives a power cut), and a busy timeout, so that two
//! processes appending to the same file take turns instead of failing.
//! Readers that must not change the file (verification) open it read-only.
//!
//! # Format versions
//!
//! `meta(key TEXT PRIMARY KEY, value TEXT)` holds one row per module,
//! `<module>.format` (`audit.format` = `1`). A module refuses a file whose
//! format it does not know rather than guessing.

#![forbid(unsafe_code)]

pub mod audit;
pub mod platform;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// How long a writer waits for another process's write transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error (I/O, a locked or corrupt file, a
    /// constraint or trigger).
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file is not a store this version can use, or a record cannot be
    /// read as one.
    #[error("{0}")]
    Format(String),
    /// Reading or writing something other than the database failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The store's result type.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Opens (creating it if need be) the store at `path` for writing.
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Reading the journal mode back also checks that the file is a
    // database at all (a JSON file given by mistake fails here).
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Format(format!(
            "cannot use write-ahead logging (journal mode stays {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;",
    )?;
    Ok(conn)
}

/// Opens an existing store read-only: never creates the file, never writes.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// The value of `key` in the `meta` table (`None` without the key, or
/// without a `meta` table: not a store).
pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Records a module's format version in a new store, or checks it in an
/// existing one.
pub fn claim_format(conn: &Connection, key: &str, version: &str) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
        [key, version],
    )?;
    check_format(conn, key, version)
}

/// Checks that the store holds `key` at format `version`.
pub fn check_format(conn: &Connection, key: &str, version: &str) -> Result<()> {
    match meta(conn, key)? {
        Some(v) if v == version => Ok(()),
        Some(v) => Err(StoreError::Format(format!(
            "{key} is {v}; this PlantShield reads format {version}"
        ))),
        None => Err(StoreError::Format(format!(
            "not a PlantShield store with {key} (no such entry in its meta table)"
        ))),
    }
}
