//! The audit trail: every write, command, program transfer, firmware and
//! mode-change operation, in an append-only, hash-chained SQLite table.
//!
//! [`AuditSink`] picks the audited transactions out of the event stream,
//! [`AuditLog`] appends them in batches, [`verify`] walks the chain and
//! names the first broken record, [`list`] reads records back.
//!
//! # The table
//!
//! ```sql
//! CREATE TABLE audit (
//!     seq           INTEGER PRIMARY KEY, -- 1, 2, 3, ... without gaps
//!     ts            TEXT NOT NULL,       -- the event's timestamp, RFC 3339, µs, UTC
//!     ts_ns         INTEGER NOT NULL,    -- the same, ns since the Unix epoch
//!     sensor        TEXT NOT NULL,
//!     flow_id       INTEGER,             -- NULL when the event has none
//!     src_ip        TEXT,                -- the requester
//!     src_port      INTEGER,
//!     dest_ip       TEXT,                -- the device operated on
//!     dest_port     INTEGER,
//!     protocol      TEXT NOT NULL,       -- ics.protocol (= event_type)
//!     function_code INTEGER NOT NULL,    -- ics.function_code
//!     function      TEXT NOT NULL,       -- ics.function
//!     operation     TEXT NOT NULL,       -- ics.operation
//!     status        TEXT NOT NULL,       -- ics.status
//!     event         TEXT NOT NULL,       -- the event's whole JSON line, no newline
//!     prev_hash     TEXT NOT NULL,       -- 64 lower-case hex digits
//!     hash          TEXT NOT NULL        -- 64 lower-case hex digits
//! ) STRICT;
//! ```
//!
//! The `meta` table of the store holds `audit.format` = `1`.
//!
//! # The hash chain
//!
//! For the record with sequence number `seq`:
//!
//! ```text
//! hash = SHA-256( P || F(seq) || F(ts) || F(ts_ns) || F(sensor) || F(flow_id)
//!                 || F(src_ip) || F(src_port) || F(dest_ip) || F(dest_port)
//!                 || F(protocol) || F(function_code) || F(function)
//!                 || F(operation) || F(status) || F(event) )
//! ```
//!
//! - `P` is the 32 bytes whose hex is `prev_hash`: the `hash` of record
//!   `seq - 1`, and for record 1 the genesis value, 32 zero bytes
//!   ([`GENESIS`]).
//! - `F(v)` encodes one column value as SQLite stores it, by its storage
//!   class: NULL is the byte `00`; INTEGER is `01` and the value as 8
//!   bytes, big-endian two's complement; REAL is `02` and the 8 bytes of
//!   the IEEE 754 double, big-endian; TEXT is `03`, its length in bytes as
//!   8 bytes big-endian, and its UTF-8 bytes; BLOB is `04`, its length the
//!   same way, and its bytes. The writer stores only NULL, INTEGER and
//!   TEXT; the verifier hashes whatever it finds, so changing a value's type
//!   changes the hash too.
//! - `hash` and `prev_hash` are stored as lower-case hex text.
//!
//! Every column takes part (the fixed column order above, then the type and
//! length prefixes, make the encoding unambiguous: no two different rows
//! hash the same input). `seq` is hashed too, so moving a record changes
//! its hash. The genesis is a constant rather than a per-log random value:
//! without a secret, a random start adds nothing an attacker could not
//! recompute, and a constant lets anyone verify a log from the file alone.
//!
//! # What the chain shows, and what it does not
//!
//! [`verify`] walks the records in `seq` order and stops at the first one
//! that is not what the chain says: a record whose `hash` does not match
//! its contents was altered; a `seq` that skips numbers shows deleted
//! records; a `prev_hash` that is not the previous record's `hash` shows a
//! record removed, replaced or moved before it (or, when it names the
//! record before the previous one, that the previous one was inserted).
//!
//! The chain has no secret: whoever can write the file can rewrite every
//! hash from the first changed record onwards, or remove records from the
//! tail, and the log verifies again. Both are caught only against a head
//! hash recorded somewhere the attacker cannot reach: note
//! [`Report::head`] (`plantshield audit verify` prints it, `analyze
//! --audit` too) and verify later with [`VerifyOptions::expect_head`],
//! which requires that hash to still be a record of the chain (the log may
//! have grown since). Forged records appended after the noted head cannot
//! be told from real ones.
//!
//! # Defence in depth
//!
//! Triggers refuse `UPDATE` and `DELETE` on `audit` and any `INSERT` that
//! does not continue the chain (`seq` one past the last, `prev_hash` the
//! last `hash`), so an SQL client cannot change the log by mistake. Anyone
//! who drops the triggers or edits the file directly is caught by the
//! chain, not by them.
//!
//! # Writing
//!
//! [`AuditLog`] keeps at most a batch of records in memory (1000 by
//! default) and writes each batch in one `BEGIN IMMEDIATE` transaction: it
//! reads the last record's `seq` and `hash` inside the transaction, so a
//! log reopened later, or appended to by two processes in turn, continues
//! one chain. A batch that fails to commit is rolled back and counted as
//! lost ([`AuditLog::lost`]); the chain stays whole.

mod sink;
mod verify;

use std::path::Path;

use plantshield_events::{format_rfc3339_micros, Operation};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

pub use sink::{AuditOutcome, AuditSink};
pub use verify::{list, verify, verify_connection, Broken, Problem, Report, VerifyOptions};

/// `audit.format` in the `meta` table.
pub const FORMAT: &str = "1";

/// `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// Records kept in memory before they are written.
pub const DEFAULT_BATCH: usize = 1000;

/// The operations that are audited: everything that changes a device's
/// data, state, logic or firmware, and program uploads (logic leaving the
/// device). Every status is audited: a refused write is an attempt.
pub const AUDITED: [Operation; 6] = [
    Operation::Write,
    Operation::Command,
    Operation::ProgramDownload,
    Operation::ProgramUpload,
    Operation::Firmware,
    Operation::ModeChange,
];

/// Whether transactions of `op` go into the audit log.
pub fn is_audited(op: Operation) -> bool {
    AUDITED.contains(&op)
}

/// The hashed columns, in hash order (`prev_hash` and `hash` follow).
pub const COLUMNS: [&str; 15] = [
    "seq",
    "ts",
    "ts_ns",
    "sensor",
    "flow_id",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "protocol",
    "function_code",
    "function",
    "operation",
    "status",
    "event",
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq           INTEGER PRIMARY KEY,
    ts            TEXT NOT NULL,
    ts_ns         INTEGER NOT NULL,
    sensor        TEXT NOT NULL,
    flow_id       INTEGER,
    src_ip        TEXT,
    src_port      INTEGER,
    dest_ip       TEXT,
    dest_port     INTEGER,
    protocol      TEXT NOT NULL,
    function_code INTEGER NOT NULL,
    function      TEXT NOT NULL,
    operation     TEXT NOT NULL,
    status        TEXT NOT NULL,
    event         TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused');
END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused');
END;
CREATE TRIGGER IF NOT EXISTS audit_append_linked BEFORE INSERT ON audit
WHEN NEW.seq IS NOT (SELECT IFNULL(MAX(seq), 0) + 1 FROM audit)
  OR NEW.prev_hash IS NOT IFNULL(
         (SELECT hash FROM audit WHERE seq = NEW.seq - 1),
         '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: a new record must follow the last (seq, prev_hash)');
END;
";

const INSERT: &str = "INSERT INTO audit (seq, ts, ts_ns, sensor, flow_id, src_ip, src_port, \
     dest_ip, dest_port, protocol, function_code, function, operation, status, event, \
     prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
     ?15, ?16, ?17)";

/// The names of the triggers that make `audit` append-only.
pub const TRIGGERS: [&str; 3] = ["audit_no_update", "audit_no_delete", "audit_append_linked"];

/// One audited operation, before it has a place in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The event's time (ns since the epoch).
    pub ts_ns: i64,
    /// The sensor that saw it.
    pub sensor: String,
    /// The event's flow (53 bits, stored as an INTEGER).
    pub flow_id: Option<u64>,
    /// The requester's address.
    pub src_ip: Option<String>,
    /// The requester's port.
    pub src_port: Option<u16>,
    /// The address of the device operated on.
    pub dest_ip: Option<String>,
    /// Its port.
    pub dest_port: Option<u16>,
    /// `ics.protocol`.
    pub protocol: String,
    /// `ics.function_code`.
    pub function_code: u32,
    /// `ics.function`.
    pub function: String,
    /// `ics.operation`.
    pub operation: String,
    /// `ics.status`.
    pub status: String,
    /// The event's JSON line, without its newline.
    pub event: String,
}

/// A record of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its place in the chain, from 1.
    pub seq: i64,
    /// `ts`: the time as RFC 3339 text.
    pub ts: String,
    /// The other columns.
    pub entry: Entry,
    /// The previous record's hash (hex).
    pub prev_hash: String,
    /// This record's hash (hex).
    pub hash: String,
}

/// The last record of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Its `seq` (0 for an empty log).
    pub seq: i64,
    /// Its hash ([`GENESIS`] for an empty log).
    pub hash: [u8; 32],
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: GENESIS,
    };

    /// The hash as lower-case hex.
    pub fn hex(&self) -> String {
        to_hex(&self.hash)
    }
}

/// Lower-case hex of a hash.
pub fn to_hex(h: &[u8; 32]) -> String {
    String::from_utf8_lossy(&hex_bytes(h)).into_owned()
}

fn hex_bytes(h: &[u8; 32]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in h.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

/// Parses 64 lower-case hex digits (the stored form of a hash).
pub fn parse_hash(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// Feeds one column value, encoded as the module documentation says.
fn encode(h: &mut Sha256, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => h.update([0u8]),
        ValueRef::Integer(i) => {
            h.update([1u8]);
            h.update(i.to_be_bytes());
        }
        ValueRef::Real(f) => {
            h.update([2u8]);
            h.update(f.to_bits().to_be_bytes());
        }
        ValueRef::Text(t) => {
            h.update([3u8]);
            h.update((t.len() as u64).to_be_bytes());
            h.update(t);
        }
        ValueRef::Blob(b) => {
            h.update([4u8]);
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }
    }
}

/// The hash of a record: its predecessor's hash and its [`COLUMNS`].
pub fn record_hash(prev: &[u8; 32], columns: &[ValueRef<'_>; 15]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    for v in columns {
        encode(&mut h, *v);
    }
    h.finalize().into()
}

fn opt_text(s: &Option<String>) -> ValueRef<'_> {
    s.as_deref()
        .map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes()))
}

fn opt_int(v: Option<u16>) -> ValueRef<'static> {
    v.map_or(ValueRef::Null, |v| ValueRef::Integer(i64::from(v)))
}

impl Entry {
    /// The values of [`COLUMNS`] for this entry at `seq`, `ts` being its
    /// time as text.
    pub fn columns<'a>(&'a self, seq: i64, ts: &'a [u8]) -> [ValueRef<'a>; 15] {
        [
            ValueRef::Integer(seq),
            ValueRef::Text(ts),
            ValueRef::Integer(self.ts_ns),
            ValueRef::Text(self.sensor.as_bytes()),
            // Flow ids have 53 bits; a larger one would be stored as its
            // two's complement.
            self.flow_id
                .map_or(ValueRef::Null, |f| ValueRef::Integer(f as i64)),
            opt_text(&self.src_ip),
            opt_int(self.src_port),
            opt_text(&self.dest_ip),
            opt_int(self.dest_port),
            ValueRef::Text(self.protocol.as_bytes()),
            ValueRef::Integer(i64::from(self.function_code)),
            ValueRef::Text(self.function.as_bytes()),
            ValueRef::Text(self.operation.as_bytes()),
            ValueRef::Text(self.status.as_bytes()),
            ValueRef::Text(self.event.as_bytes()),
        ]
    }
}

/// The `ts` text of a time.
pub fn ts_text(ts_ns: i64) -> String {
    let mut v = Vec::with_capacity(32);
    format_rfc3339_micros(ts_ns, &mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// The last record of the log, read on `conn`.
fn read_head(conn: &Connection) -> Result<Head> {
    let last = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get_ref(1)?.as_bytes().ok().map(parse_hash),
                ))
            },
        )
        .optional()?;
    match last {
        None => Ok(Head::EMPTY),
        Some((seq, Some(Some(hash)))) => Ok(Head { seq, hash }),
        Some((seq, _)) => Err(StoreError::Format(format!(
            "record {seq}, the last of the audit log, has no valid hash: \
             run `plantshield audit verify` on the log"
        ))),
    }
}

/// An audit log open for appending.
pub struct AuditLog {
    conn: Connection,
    batch: Vec<Entry>,
    batch_size: usize,
    head: Head,
    appended: u64,
    lost: u64,
}

impl AuditLog {
    /// Opens the audit log in the store at `path`, creating the file or
    /// the table if need be. Appending continues the existing chain.
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = crate::open(path)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(SCHEMA)?;
        crate::claim_format(&tx, "audit.format", FORMAT)?;
        tx.commit()?;
        let head = read_head(&conn)?;
        Ok(AuditLog {
            conn,
            batch: Vec::with_capacity(DEFAULT_BATCH),
            batch_size: DEFAULT_BATCH,
            head,
            appended: 0,
            lost: 0,
        })
    }

    /// Records kept in memory before a write (at least 1).
    pub fn set_batch_size(&mut self, n: usize) {
        self.batch_size = n.max(1);
    }

    /// How long to wait for another writer before a batch fails.
    pub fn set_busy_timeout(&mut self, t: std::time::Duration) -> Result<()> {
        Ok(self.conn.busy_timeout(t)?)
    }

    /// Adds a record; writes the batch when it is full.
    pub fn append(&mut self, e: Entry) -> Result<()> {
        self.batch.push(e);
        if self.batch.len() >= self.batch_size {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Writes the records kept in memory, in one transaction. On failure
    /// they are dropped and counted in [`AuditLog::lost`].
    pub fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let n = self.batch.len() as u64;
        let r = write_batch(&mut self.conn, &self.batch);
        self.batch.clear();
        match r {
            Ok(head) => {
                self.head = head;
                self.appended += n;
                Ok(())
            }
            Err(e) => {
                self.lost += n;
                Err(e)
            }
        }
    }

    /// The last record written (by this log or, as of the last write,
    /// anyone).
    pub fn head(&self) -> Head {
        self.head
    }

    /// Records written by this log.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// Records that could not be written.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Records kept in memory, not yet written.
    pub fn pending(&self) -> usize {
        self.batch.len()
    }
}

impl Drop for AuditLog {
    /// Writes what is pending; call [`AuditLog::flush`] first to see errors.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn write_batch(conn: &mut Connection, batch: &[Entry]) -> Result<Head> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read inside the write transaction: another process may have appended
    // since the last batch.
    let mut head = read_head(&tx)?;
    {
        let mut insert = tx.prepare_cached(INSERT)?;
        let mut ts = Vec::with_capacity(32);
        for e in batch {
            let seq = head.seq + 1;
            ts.clear();
            format_rfc3339_micros(e.ts_ns, &mut ts);
            let columns = e.columns(seq, &ts);
            let hash = record_hash(&head.hash, &columns);
            let prev_hex = hex_bytes(&head.hash);
            let hash_hex = hex_bytes(&hash);
            let hashes = [ValueRef::Text(&prev_hex), ValueRef::Text(&hash_hex)];
            let values = columns
                .iter()
                .chain(&hashes)
                .map(|v| ToSqlOutput::Borrowed(*v));
            insert.execute(rusqlite::params_from_iter(values))?;
            head = Head { seq, hash };
        }
    }
    tx.commit()?;
    Ok(head)
}

#[cfg(test)]
mod tests;
