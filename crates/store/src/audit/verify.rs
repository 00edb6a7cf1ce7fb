//! Walking the chain ([`verify`]) and reading records back ([`list`]).

use std::fmt;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{parse_hash, record_hash, to_hex, Entry, Head, Record, FORMAT, GENESIS, TRIGGERS};
use crate::Result;

const SELECT: &str = "SELECT seq, ts, ts_ns, sensor, flow_id, src_ip, src_port, dest_ip, \
     dest_port, protocol, function_code, function, operation, status, event, prev_hash, hash \
     FROM audit";

/// What [`verify`] checks besides the chain itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyOptions {
    /// A head hash noted earlier: it must be the hash of a record of the
    /// chain (the log may have grown since). Catches records removed from
    /// the tail, and a chain rewritten after that record.
    pub expect_head: Option<[u8; 32]>,
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Records found good, in chain order (all of them when intact).
    pub records: u64,
    /// The last good record: the head of the log when intact.
    pub head: Head,
    /// The first record that is not what the chain says.
    pub broken: Option<Broken>,
    /// The `seq` of the record whose hash is the expected head.
    pub expected_head_at: Option<i64>,
    /// Append-only triggers that are missing (someone dropped them).
    pub missing_triggers: Vec<&'static str>,
}

impl Report {
    /// True when the chain is intact (and the expected head, if any, found).
    pub fn intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// The first broken record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The record: the altered, inserted or first missing one.
    pub seq: i64,
    /// What is wrong with it.
    pub problem: Problem,
}

/// Why a record breaks the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Its `hash` is not the hash of its contents: the record was altered.
    Altered,
    /// Its `hash` or `prev_hash` is not 64 lower-case hex digits.
    BadHashText {
        /// The column.
        column: &'static str,
    },
    /// Records `seq..=last` are missing: deleted. `after` is the record
    /// before them (0: none), `next` the one after.
    Missing {
        /// The last missing `seq`.
        last: i64,
        /// The record before the gap (0 when the gap starts the log).
        after: i64,
        /// The record after the gap.
        next: i64,
    },
    /// Its `prev_hash` is not the hash of the record before it: a record
    /// was removed, replaced or moved there.
    Unlinked,
    /// The record after it links to the record before it: this one was
    /// inserted into the chain.
    Inserted,
    /// Its `seq` is below 1.
    BadSeq,
    /// The expected head is not the hash of any record: the log ends at
    /// record `seq - 1`; records were removed from its tail, or the log was
    /// rewritten.
    HeadNotFound {
        /// The expected head.
        expected: [u8; 32],
    },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        write!(f, "record {seq}: ")?;
        match &self.problem {
            Problem::Altered => write!(f, "altered: its hash does not match its contents"),
            Problem::BadHashText { column } => write!(
                f,
                "altered: its {column} is not 64 lower-case hexadecimal digits"
            ),
            Problem::Missing { last, after, next } => {
                let what = if last == &seq {
                    "missing (deleted)".to_string()
                } else {
                    format!("missing (records {seq} to {last} deleted)")
                };
                if *after == 0 {
                    write!(f, "{what}: the log starts at record {next}")
                } else {
                    write!(f, "{what}: record {next} follows record {after}")
                }
            }
            Problem::Unlinked if seq == 1 => {
                write!(f, "its prev_hash is not the genesis value (64 zeros)")
            }
            Problem::Unlinked => write!(
                f,
                "its prev_hash is not the hash of record {}: a record between them was \
                 removed, or one of them was replaced or moved",
                seq - 1
            ),
            Problem::Inserted => write!(
                f,
                "inserted: record {} links to record {}, so record {seq} is not part of the chain",
                seq + 1,
                seq - 1
            ),
            Problem::BadSeq => write!(f, "seq must count from 1"),
            Problem::HeadNotFound { expected } => write!(
                f,
                "missing: the expected head {} is not the hash of any record, and the log \
                 ends at record {}: records were removed from its tail, or the log was rewritten",
                to_hex(expected),
                seq - 1
            ),
        }
    }
}

/// Verifies the audit log in the store at `path` (opened read-only).
pub fn verify(path: &Path, opts: &VerifyOptions) -> Result<Report> {
    let conn = crate::open_read_only(path)?;
    verify_connection(&conn, opts)
}

/// Verifies the audit log on an open connection.
pub fn verify_connection(conn: &Connection, opts: &VerifyOptions) -> Result<Report> {
    crate::check_format(conn, "audit.format", FORMAT)?;
    let mut report = Report {
        records: 0,
        head: Head::EMPTY,
        broken: None,
        expected_head_at: None,
        missing_triggers: missing_triggers(conn)?,
    };
    if opts.expect_head == Some(GENESIS) {
        report.expected_head_at = Some(0);
    }
    // The hash of the record before the head, to recognise an insertion.
    let mut before_head: Option<[u8; 32]> = None;
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let broken = |problem| {
            Some(Broken {
                seq: if matches!(problem, Problem::Inserted) {
                    seq - 1
                } else {
                    seq
                },
                problem,
            })
        };
        let expected = report.head.seq + 1;
        if seq < expected {
            // Only possible for the first row: the primary key is unique
            // and rows come in order.
            report.broken = broken(Problem::BadSeq);
            break;
        }
        if seq > expected {
            report.broken = Some(Broken {
                seq: expected,
                problem: Problem::Missing {
                    last: seq - 1,
                    after: report.head.seq,
                    next: seq,
                },
            });
            break;
        }
        let Some(prev) = row.get_ref(15)?.as_bytes().ok().and_then(parse_hash) else {
            report.broken = broken(Problem::BadHashText {
                column: "prev_hash",
            });
            break;
        };
        if prev != report.head.hash {
            report.broken = if Some(prev) == before_head {
                broken(Problem::Inserted)
            } else {
                broken(Problem::Unlinked)
            };
            break;
        }
        let mut columns = [ValueRef::Null; 15];
        for (i, c) in columns.iter_mut().enumerate() {
            *c = row.get_ref(i)?;
        }
        let computed = record_hash(&prev, &columns);
        let Some(stored) = row.get_ref(16)?.as_bytes().ok().and_then(parse_hash) else {
            report.broken = broken(Problem::BadHashText { column: "hash" });
            break;
        };
        if stored != computed {
            report.broken = broken(Problem::Altered);
            break;
        }
        if opts.expect_head == Some(stored) {
            report.expected_head_at = Some(seq);
        }
        before_head = Some(report.head.hash);
        report.head = Head { seq, hash: stored };
        report.records += 1;
    }
    if report.broken.is_none() {
        if let (Some(expected), None) = (opts.expect_head, report.expected_head_at) {
            report.broken = Some(Broken {
                seq: report.head.seq + 1,
                problem: Problem::HeadNotFound { expected },
            });
        }
    }
    Ok(report)
}

fn missing_triggers(conn: &Connection) -> Result<Vec<&'static str>> {
    let mut stmt = conn.prepare(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema \
         WHERE type = 'trigger' AND tbl_name = 'audit' AND name = ?1)",
    )?;
    let mut missing = Vec::new();
    for t in TRIGGERS {
        if !stmt.query_row([t], |r| r.get::<_, bool>(0))? {
            missing.push(t);
        }
    }
    Ok(missing)
}

/// Calls `f` with the records of the audit log at `path` in `seq` order,
/// the last `limit` only when given. Reads one record at a time.
pub fn list(
    path: &Path,
    limit: Option<u64>,
    mut f: impl FnMut(&Record) -> Result<()>,
) -> Result<()> {
    let conn = crate::open_read_only(path)?;
    crate::check_format(&conn, "audit.format", FORMAT)?;
    let sql = match limit {
        Some(n) => format!(
            "SELECT * FROM ({SELECT} ORDER BY seq DESC LIMIT {}) ORDER BY seq",
            n.min(i64::MAX as u64)
        ),
        None => format!("{SELECT} ORDER BY seq"),
    };
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let rec = Record {
            seq: r.get(0)?,
            ts: r.get(1)?,
            entry: Entry {
                ts_ns: r.get(2)?,
                sensor: r.get(3)?,
                flow_id: r.get::<_, Option<i64>>(4)?.map(|f| f as u64),
                src_ip: r.get(5)?,
                src_port: r.get(6)?,
                dest_ip: r.get(7)?,
                dest_port: r.get(8)?,
                protocol: r.get(9)?,
                function_code: r.get(10)?,
                function: r.get(11)?,
                operation: r.get(12)?,
                status: r.get(13)?,
                event: r.get(14)?,
            },
            prev_hash: r.get(15)?,
            hash: r.get(16)?,
        };
        f(&rec)?;
    }
    Ok(())
}
