//! The platform's tables: events, assets (with their evidence and history),
//! communication edges, alerts with their workflow, users, sessions, the
//! audit of user actions, policies, and the captures already ingested.
//!
//! The schema is versioned by `platform.format` in the `meta` table
//! ([`FORMAT`]). Everything written by ingestion goes through an
//! [`Ingest`], which keeps at most one batch of events in memory and
//! writes each batch in one transaction. [`queries`] reads it back as
//! JSON for the REST API.
//!
//! A capture is recorded in `ingested_files` by the SHA-256 of its content
//! before its first event is written (`status = 'running'`) and marked
//! `done` after its last; re-reading a `done` capture is skipped, and the
//! events of a capture whose ingestion was interrupted (`running` at the
//! next start) are deleted before it is read again, so a restart never
//! duplicates.

pub mod queries;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use crate::{Result, StoreError};

/// `platform.format` in the `meta` table. A store of an older format is
/// upgraded in place by [`open`] (see [`MIGRATIONS`]).
pub const FORMAT: &str = "2";

/// Upgrades from one format to the next: (from, to, SQL). Each runs in the
/// transaction that opens the store, so an upgrade happens whole or not
/// at all.
pub const MIGRATIONS: &[(&str, &str, &str)] = &[("1", "2", MIGRATE_1_TO_2)];

/// Format 1 to 2: indexes for the filtered event search; alerts merged
/// across captures (`merge_key`, `alert_sources`); login failures kept in
/// the store; users that can be disabled.
const MIGRATE_1_TO_2: &str = "
DROP INDEX IF EXISTS events_src_asset;
DROP INDEX IF EXISTS events_dest_asset;
CREATE INDEX events_src_asset_ts ON events (src_asset, ts_ns);
CREATE INDEX events_dest_asset_ts ON events (dest_asset, ts_ns);
CREATE INDEX events_proto_op_ts ON events (protocol, operation, ts_ns);
ALTER TABLE alerts ADD COLUMN merge_key TEXT;
UPDATE alerts SET merge_key = rule_id || char(31) || COALESCE(src_ip, '') || char(31) ||
    COALESCE(dest_ip, '') || CASE WHEN src_ip IS NULL AND dest_ip IS NULL
    THEN char(31) || message ELSE '' END;
CREATE INDEX alerts_merge ON alerts (merge_key, last_seen);
CREATE TABLE alert_sources (
    alert_id   INTEGER NOT NULL,
    file_id    INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    events     TEXT NOT NULL,
    PRIMARY KEY (alert_id, file_id)
) STRICT;
CREATE INDEX alert_sources_file ON alert_sources (file_id);
INSERT INTO alert_sources (alert_id, file_id, count, first_seen, last_seen, events)
    SELECT id, COALESCE(file_id, 0), count, first_seen, last_seen, events FROM alerts;
CREATE TABLE login_failures (
    kind     TEXT NOT NULL,
    key      TEXT NOT NULL,
    since    INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT;
CREATE INDEX login_failures_since ON login_failures (since);
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
";

/// Events kept in memory before a write.
pub const EVENT_BATCH: usize = 2000;

/// The schema (every statement idempotent).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ingested_files (
    id        INTEGER PRIMARY KEY,
    sha256    TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    status    TEXT NOT NULL,           -- running | done
    started   INTEGER NOT NULL,        -- wall clock, ns
    finished  INTEGER,
    events    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY,
    file_id    INTEGER,
    ts_ns      INTEGER NOT NULL,
    type       TEXT NOT NULL,
    protocol   TEXT,
    operation  TEXT,
    status     TEXT,
    src_ip     TEXT,
    dest_ip    TEXT,
    src_asset  INTEGER,
    dest_asset INTEGER,
    alert_id   INTEGER,
    flow_id    INTEGER,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ns);
CREATE INDEX IF NOT EXISTS events_type ON events (type, ts_ns);
CREATE INDEX IF NOT EXISTS events_protocol ON events (protocol, ts_ns);
CREATE INDEX IF NOT EXISTS events_operation ON events (operation, ts_ns);
CREATE INDEX IF NOT EXISTS events_src_ip ON events (src_ip);
CREATE INDEX IF NOT EXISTS events_dest_ip ON events (dest_ip);
CREATE INDEX IF NOT EXISTS events_src_asset_ts ON events (src_asset, ts_ns);
CREATE INDEX IF NOT EXISTS events_dest_asset_ts ON events (dest_asset, ts_ns);
CREATE INDEX IF NOT EXISTS events_proto_op_ts ON events (protocol, operation, ts_ns);
CREATE INDEX IF NOT EXISTS events_alert ON events (alert_id);
CREATE INDEX IF NOT EXISTS events_flow ON events (flow_id, ts_ns);
CREATE INDEX IF NOT EXISTS events_file ON events (file_id);
CREATE TABLE IF NOT EXISTS event_counts (
    file_id   INTEGER NOT NULL,
    type      TEXT NOT NULL,
    protocol  TEXT NOT NULL,             -- '' when none
    operation TEXT NOT NULL,             -- '' when none
    n         INTEGER NOT NULL,
    PRIMARY KEY (file_id, type, protocol, operation)
) STRICT;
CREATE TABLE IF NOT EXISTS assets (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,  -- mac:<first MAC> or ip:<first IP>
    label        TEXT NOT NULL,
    ips          TEXT NOT NULL,         -- JSON array
    macs         TEXT NOT NULL,         -- JSON array
    role         TEXT NOT NULL,
    purdue_level INTEGER,
    vendor       TEXT,
    remote       INTEGER NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    created      INTEGER NOT NULL,      -- wall clock, ns: when the platform first saw it
    detail       TEXT NOT NULL          -- the inventory's JSON of the asset
) STRICT;
CREATE INDEX IF NOT EXISTS assets_first_seen ON assets (first_seen);
CREATE TABLE IF NOT EXISTS asset_ips (
    ip       TEXT PRIMARY KEY,
    asset_id INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS asset_ips_asset ON asset_ips (asset_id);
CREATE TABLE IF NOT EXISTS asset_evidence (
    asset_id   INTEGER NOT NULL,
    attribute  TEXT NOT NULL,
    value      TEXT NOT NULL,
    source     TEXT NOT NULL,
    confidence INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    flow_id    INTEGER,
    seen       INTEGER NOT NULL,
    PRIMARY KEY (asset_id, attribute, value, source)
) STRICT;
CREATE TABLE IF NOT EXISTS asset_history (
    id        INTEGER PRIMARY KEY,
    asset_id  INTEGER NOT NULL,
    ts_ns     INTEGER NOT NULL,
    change    TEXT NOT NULL,
    attribute TEXT,
    old       TEXT,
    new       TEXT,
    source    TEXT NOT NULL,
    file_id   INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS asset_history_asset ON asset_history (asset_id, ts_ns);
CREATE TABLE IF NOT EXISTS edges (
    id             INTEGER PRIMARY KEY,
    client_id      INTEGER NOT NULL,
    server_id      INTEGER NOT NULL,
    protocol       TEXT NOT NULL,
    transactions   INTEGER NOT NULL,
    flows          INTEGER NOT NULL,
    bytes_toserver INTEGER NOT NULL,
    bytes_toclient INTEGER NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    operations     TEXT NOT NULL,       -- JSON object operation -> count
    UNIQUE (client_id, server_id, protocol)
) STRICT;
CREATE TABLE IF NOT EXISTS alerts (
    id         INTEGER PRIMARY KEY,
    rule_id    TEXT NOT NULL,
    rule       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    sev_rank   INTEGER NOT NULL,        -- low 1 .. critical 4
    techniques TEXT NOT NULL,           -- JSON array of ATT&CK for ICS ids
    message    TEXT NOT NULL,
    protocol   TEXT,
    src_ip     TEXT,
    dest_ip    TEXT,
    count      INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    events     TEXT NOT NULL,           -- JSON array of {flow_id, timestamp, event_id}
    status     TEXT NOT NULL DEFAULT 'open',   -- open | acknowledged | closed
    assignee   TEXT,
    updated    INTEGER,                 -- wall clock, ns, of the last workflow change
    file_id    INTEGER,                 -- the capture that raised it first
    merge_key  TEXT                     -- rule, source, destination: the same alert in later captures
) STRICT;
CREATE INDEX IF NOT EXISTS alerts_merge ON alerts (merge_key, last_seen);
CREATE TABLE IF NOT EXISTS alert_sources (
    alert_id   INTEGER NOT NULL,
    file_id    INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    events     TEXT NOT NULL,           -- JSON array: the events behind it in this capture
    PRIMARY KEY (alert_id, file_id)
) STRICT;
CREATE INDEX IF NOT EXISTS alert_sources_file ON alert_sources (file_id);
CREATE INDEX IF NOT EXISTS alerts_first_seen ON alerts (first_seen);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status, first_seen);
CREATE INDEX IF NOT EXISTS alerts_src ON alerts (src_ip);
CREATE INDEX IF NOT EXISTS alerts_dest ON alerts (dest_ip);
CREATE TABLE IF NOT EXISTS alert_comments (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,             -- acknowledge | close | assign | comment
    text     TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS alert_comments_alert ON alert_comments (alert_id);
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,        -- argon2id PHC string
    role          TEXT NOT NULL,        -- admin | analyst | viewer
    created       INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS login_failures (
    kind     TEXT NOT NULL,             -- user | address
    key      TEXT NOT NULL,
    since    INTEGER NOT NULL,          -- wall clock, ns: start of the window
    failures INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT;
CREATE INDEX IF NOT EXISTS login_failures_since ON login_failures (since);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,        -- SHA-256 of the cookie value, hex
    user_id    INTEGER NOT NULL,
    csrf       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS user_audit (
    id       INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT,
    detail   TEXT,
    remote   TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS policies (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    text     TEXT NOT NULL,
    uploaded INTEGER NOT NULL,
    username TEXT NOT NULL
) STRICT;
";

/// Opens the platform store at `path` (creating file and tables) and
/// checks its format.
pub fn open(path: &Path) -> Result<Connection> {
    let mut conn = crate::open(path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    migrate(&tx)?;
    tx.commit()?;
    // Readers of a busy store are many; the WAL keeps them apart from the
    // writer, `NORMAL` sync is enough for data that can be re-ingested.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Brings the platform tables to [`FORMAT`]: creates them in a store
/// without them, upgrades an older format step by step, refuses a newer
/// or unknown one.
fn migrate(conn: &Connection) -> Result<()> {
    const KEY: &str = "platform.format";
    let mut at = crate::meta(conn, KEY)?;
    while let Some(v) = at.as_deref().filter(|v| *v != FORMAT) {
        let Some((_, to, sql)) = MIGRATIONS.iter().find(|(from, _, _)| *from == v) else {
            return crate::check_format(conn, KEY, FORMAT);
        };
        conn.execute_batch(sql)?;
        conn.execute("UPDATE meta SET value = ?2 WHERE key = ?1", [KEY, to])?;
        at = Some(to.to_string());
    }
    conn.execute_batch(SCHEMA)?;
    crate::claim_format(conn, KEY, FORMAT)
}

/// Wall-clock time, ns since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// What the store says about a capture before it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Fully ingested before: skip it.
    Done(i64),
    /// New (or interrupted, its partial records removed): read it as `file_id`.
    Ingest(i64),
}

/// Claims a capture by content hash: a `done` capture is not read again;
/// an interrupted one loses its partial records and is read again.
pub fn begin_file(
    conn: &mut Connection,
    sha256: &str,
    name: &str,
    bytes: u64,
) -> Result<FileState> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, status FROM ingested_files WHERE sha256 = ?1",
            [sha256],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let state = match found {
        Some((id, s)) if s == "done" => FileState::Done(id),
        Some((id, _)) => {
            for t in ["events", "event_counts", "asset_history", "alert_sources"] {
                tx.execute(&format!("DELETE FROM {t} WHERE file_id = ?1"), [id])?;
            }
            // Alerts it raised go, those it added to are what the other
            // captures make them.
            tx.execute(
                "DELETE FROM alerts WHERE file_id = ?1 AND NOT EXISTS \
                 (SELECT 1 FROM alert_sources s WHERE s.alert_id = alerts.id)",
                [id],
            )?;
            tx.execute(
                "UPDATE alerts SET \
                 count = (SELECT SUM(count) FROM alert_sources s WHERE s.alert_id = alerts.id), \
                 first_seen = (SELECT MIN(first_seen) FROM alert_sources s WHERE s.alert_id = alerts.id), \
                 last_seen = (SELECT MAX(last_seen) FROM alert_sources s WHERE s.alert_id = alerts.id) \
                 WHERE count != (SELECT SUM(count) FROM alert_sources s WHERE s.alert_id = alerts.id)",
                [],
            )?;
            tx.execute(
                "UPDATE ingested_files SET started = ?2, events = 0 WHERE id = ?1",
                params![id, now_ns()],
            )?;
            FileState::Ingest(id)
        }
        None => {
            tx.execute(
                "INSERT INTO ingested_files (sha256, name, bytes, status, started) \
                 VALUES (?1, ?2, ?3, 'running', ?4)",
                params![sha256, name, bytes as i64, now_ns()],
            )?;
            FileState::Ingest(tx.last_insert_rowid())
        }
    };
    tx.commit()?;
    Ok(state)
}

/// One event row.
#[derive(Debug, Clone, Default)]
pub struct EventRow {
    /// Capture time, ns.
    pub ts_ns: i64,
    /// `event_type`.
    pub event_type: String,
    /// `ics.protocol` (or the flow's `app_proto`).
    pub protocol: Option<String>,
    /// `ics.operation`.
    pub operation: Option<String>,
    /// `ics.status`.
    pub status: Option<String>,
    /// Source address.
    pub src_ip: Option<String>,
    /// Destination address.
    pub dest_ip: Option<String>,
    /// The platform alert this event is (for `alert` events).
    pub alert_id: Option<i64>,
    /// Flow id.
    pub flow_id: Option<u64>,
    /// The JSON line, without its newline.
    pub json: String,
}

/// An asset as ingestion hands it over.
#[derive(Debug, Clone, Default)]
pub struct AssetRow {
    /// `mac:..` or `ip:..`: what makes it the same device across runs.
    pub key: String,
    /// Short label.
    pub label: String,
    /// IP addresses.
    pub ips: Vec<String>,
    /// MAC addresses.
    pub macs: Vec<String>,
    /// Role name.
    pub role: String,
    /// Purdue level.
    pub purdue_level: Option<u8>,
    /// Vendor.
    pub vendor: Option<String>,
    /// Known only through a router.
    pub remote: bool,
    /// First seen (capture time, ns).
    pub first_seen: i64,
    /// Last seen.
    pub last_seen: i64,
    /// The inventory's full JSON of the asset.
    pub detail: String,
    /// Identity evidence.
    pub evidence: Vec<EvidenceRow>,
}

/// One identity fact with its evidence.
#[derive(Debug, Clone, Default)]
pub struct EvidenceRow {
    /// Attribute (vendor, model, firmware, ...).
    pub attribute: String,
    /// Value.
    pub value: String,
    /// Where it came from.
    pub source: String,
    /// Confidence, 0..=100.
    pub confidence: u8,
    /// First seen.
    pub first_seen: i64,
    /// Last seen.
    pub last_seen: i64,
    /// Flow of the evidence.
    pub flow_id: Option<u64>,
    /// Times seen.
    pub seen: u64,
}

/// One change of an asset.
#[derive(Debug, Clone, Default)]
pub struct HistoryRow {
    /// Capture time.
    pub ts_ns: i64,
    /// new, identified, changed, ip_moved.
    pub change: String,
    /// Attribute changed.
    pub attribute: Option<String>,
    /// Old value.
    pub old: Option<String>,
    /// New value.
    pub new: Option<String>,
    /// Source of the change.
    pub source: String,
}

/// One communication edge between platform assets.
#[derive(Debug, Clone, Default)]
pub struct EdgeRow {
    /// Client asset (platform id).
    pub client_id: i64,
    /// Server asset (platform id).
    pub server_id: i64,
    /// Protocol.
    pub protocol: String,
    /// Transactions.
    pub transactions: u64,
    /// Flows.
    pub flows: u64,
    /// Bytes client to server.
    pub bytes_toserver: u64,
    /// Bytes server to client.
    pub bytes_toclient: u64,
    /// First seen.
    pub first_seen: i64,
    /// Last seen.
    pub last_seen: i64,
    /// JSON object operation -> count.
    pub operations: String,
}

/// One alert.
#[derive(Debug, Clone, Default)]
pub struct AlertRow {
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub rule: String,
    /// Severity name.
    pub severity: String,
    /// ATT&CK for ICS technique ids.
    pub techniques: Vec<String>,
    /// Message.
    pub message: String,
    /// Protocol.
    pub protocol: Option<String>,
    /// Source.
    pub src_ip: Option<String>,
    /// Destination.
    pub dest_ip: Option<String>,
    /// Occurrences.
    pub count: u64,
    /// First occurrence.
    pub first_seen: i64,
    /// Last occurrence.
    pub last_seen: i64,
    /// JSON array of the events behind it.
    pub events: String,
}

/// What makes two alerts of different captures the same alert: the rule
/// and the pair, as the engine aggregates them within one run (its
/// per-asset subject, a run-local id, is not stable across runs: an alert
/// without any address is told apart by its message instead).
pub fn merge_key(rule_id: &str, src: Option<&str>, dst: Option<&str>, message: &str) -> String {
    let sep = '\u{1f}';
    let mut k = format!(
        "{rule_id}{sep}{}{sep}{}",
        src.unwrap_or(""),
        dst.unwrap_or("")
    );
    if src.is_none() && dst.is_none() {
        k.push(sep);
        k.push_str(message);
    }
    k
}

/// Event references kept per alert across captures.
pub const ALERT_REFS: usize = 32;

/// Adds the per-operation counts of the JSON object `add` to `base`.
pub fn sum_operations(base: &str, add: &str) -> String {
    let mut m = match serde_json::from_str::<Value>(base) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if let Ok(Value::Object(a)) = serde_json::from_str::<Value>(add) {
        for (k, v) in a {
            let n = m.get(&k).and_then(Value::as_u64).unwrap_or(0) + v.as_u64().unwrap_or(0);
            m.insert(k, n.into());
        }
    }
    Value::Object(m).to_string()
}

fn write_edge(conn: &Connection, e: &EdgeRow) -> Result<()> {
    let old: Option<String> = conn
        .query_row(
            "SELECT operations FROM edges WHERE client_id = ?1 AND server_id = ?2 AND protocol = ?3",
            params![e.client_id, e.server_id, e.protocol],
            |r| r.get(0),
        )
        .optional()?;
    let ops = match old {
        Some(o) => sum_operations(&o, &e.operations),
        None => sum_operations("{}", &e.operations),
    };
    conn.execute(
        "INSERT INTO edges (client_id, server_id, protocol, transactions, flows, \
         bytes_toserver, bytes_toclient, first_seen, last_seen, operations) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (client_id, server_id, protocol) DO UPDATE SET \
         transactions = transactions + excluded.transactions, flows = flows + excluded.flows, \
         bytes_toserver = bytes_toserver + excluded.bytes_toserver, \
         bytes_toclient = bytes_toclient + excluded.bytes_toclient, \
         first_seen = MIN(first_seen, excluded.first_seen), \
         last_seen = MAX(last_seen, excluded.last_seen), operations = excluded.operations",
        params![
            e.client_id,
            e.server_id,
            e.protocol,
            e.transactions as i64,
            e.flows as i64,
            e.bytes_toserver as i64,
            e.bytes_toclient as i64,
            e.first_seen,
            e.last_seen,
            ops
        ],
    )?;
    Ok(())
}

/// Rank of a severity name (for sorting and risk).
pub fn severity_rank(s: &str) -> i64 {
    match s {
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => 0,
    }
}

const INSERT_EVENT: &str = "INSERT INTO events (file_id, ts_ns, type, protocol, operation, \
    status, src_ip, dest_ip, alert_id, flow_id, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
    ?9, ?10, ?11)";

/// Writes one capture's records: events in batches, assets, edges and
/// alerts as they come.
pub struct Ingest {
    conn: Connection,
    file_id: Option<i64>,
    batch: Vec<EventRow>,
    batch_size: usize,
    written: u64,
    edges: Vec<EdgeRow>,
}

impl Ingest {
    /// Ingestion on `conn` for the capture `file_id` (from [`begin_file`]);
    /// `None` for records that belong to no capture.
    pub fn new(conn: Connection, file_id: Option<i64>) -> Self {
        Ingest {
            conn,
            file_id,
            batch: Vec::with_capacity(EVENT_BATCH),
            batch_size: EVENT_BATCH,
            written: 0,
            edges: Vec::new(),
        }
    }

    /// Events kept in memory before a write (at least 1).
    pub fn set_batch_size(&mut self, n: usize) {
        self.batch_size = n.max(1);
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The connection (for callers that read between writes).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Adds an event; writes the batch when it is full.
    pub fn event(&mut self, row: EventRow) -> Result<()> {
        self.batch.push(row);
        if self.batch.len() >= self.batch_size {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Writes the pending events in one transaction.
    pub fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(INSERT_EVENT)?;
            let mut counts: std::collections::HashMap<(&str, &str, &str), i64> =
                std::collections::HashMap::new();
            for e in &batch {
                *counts
                    .entry((
                        e.event_type.as_str(),
                        e.protocol.as_deref().unwrap_or(""),
                        e.operation.as_deref().unwrap_or(""),
                    ))
                    .or_default() += 1;
                st.execute(params![
                    self.file_id,
                    e.ts_ns,
                    e.event_type,
                    e.protocol,
                    e.operation,
                    e.status,
                    e.src_ip,
                    e.dest_ip,
                    e.alert_id,
                    e.flow_id.map(|f| f as i64),
                    e.json,
                ])?;
            }
            let mut c = tx.prepare_cached(
                "INSERT INTO event_counts (file_id, type, protocol, operation, n) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (file_id, type, protocol, operation) \
                 DO UPDATE SET n = n + excluded.n",
            )?;
            for ((t, p, o), n) in counts {
                c.execute(params![self.file_id.unwrap_or(0), t, p, o, n])?;
            }
        }
        tx.commit()?;
        self.written += batch.len() as u64;
        self.batch = batch;
        self.batch.clear();
        Ok(())
    }

    /// Inserts or updates an asset by its key; returns its platform id.
    /// Its addresses point at it from now on.
    pub fn upsert_asset(&mut self, a: &AssetRow) -> Result<i64> {
        let ips = Value::from(a.ips.clone()).to_string();
        let macs = Value::from(a.macs.clone()).to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: i64 = tx.query_row(
            "INSERT INTO assets (key, label, ips, macs, role, purdue_level, vendor, remote, \
             first_seen, last_seen, created, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (key) DO UPDATE SET label = excluded.label, ips = excluded.ips, \
             macs = excluded.macs, role = excluded.role, purdue_level = excluded.purdue_level, \
             vendor = excluded.vendor, remote = excluded.remote, \
             first_seen = MIN(first_seen, excluded.first_seen), \
             last_seen = MAX(last_seen, excluded.last_seen), detail = excluded.detail \
             RETURNING id",
            params![
                a.key,
                a.label,
                ips,
                macs,
                a.role,
                a.purdue_level,
                a.vendor,
                a.remote,
                a.first_seen,
                a.last_seen,
                now_ns(),
                a.detail
            ],
            |r| r.get(0),
        )?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO asset_ips (ip, asset_id) VALUES (?1, ?2) \
                 ON CONFLICT (ip) DO UPDATE SET asset_id = excluded.asset_id",
            )?;
            for ip in &a.ips {
                st.execute(params![ip, id])?;
            }
            let mut ev = tx.prepare_cached(
                "INSERT INTO asset_evidence (asset_id, attribute, value, source, confidence, \
                 first_seen, last_seen, flow_id, seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (asset_id, attribute, value, source) DO UPDATE SET \
                 confidence = excluded.confidence, first_seen = MIN(first_seen, excluded.first_seen), \
                 last_seen = MAX(last_seen, excluded.last_seen), flow_id = excluded.flow_id, \
                 seen = MAX(seen, excluded.seen)",
            )?;
            for e in &a.evidence {
                ev.execute(params![
                    id,
                    e.attribute,
                    e.value,
                    e.source,
                    e.confidence,
                    e.first_seen,
                    e.last_seen,
                    e.flow_id.map(|f| f as i64),
                    e.seen as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// Records a change of the asset `asset_id`.
    pub fn history(&mut self, asset_id: i64, h: &HistoryRow) -> Result<()> {
        self.conn.execute(
            "INSERT INTO asset_history (asset_id, ts_ns, change, attribute, old, new, source, \
             file_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                asset_id,
                h.ts_ns,
                h.change,
                h.attribute,
                h.old,
                h.new,
                h.source,
                self.file_id
            ],
        )?;
        Ok(())
    }

    /// Adds an edge's totals (and its per-operation counts) to the edge
    /// between the same assets and protocol, now.
    pub fn upsert_edge(&mut self, e: &EdgeRow) -> Result<()> {
        write_edge(&self.conn, e)
    }

    /// Adds an edge's totals as [`Ingest::upsert_edge`] does, in the
    /// transaction of [`Ingest::finish`]: a capture's edges count once,
    /// with the capture marked done.
    pub fn edge(&mut self, e: EdgeRow) {
        self.edges.push(e);
    }

    /// Records an alert; returns its platform id. The same alert (rule and
    /// pair, [`merge_key`]) already raised by another capture gets this
    /// one's count, times and events added instead: an acknowledged alert
    /// stays acknowledged, a closed one is reopened (with a `reopen` step
    /// by `system` in its comments and the user audit).
    pub fn alert(&mut self, a: &AlertRow) -> Result<i64> {
        let key = merge_key(
            &a.rule_id,
            a.src_ip.as_deref(),
            a.dest_ip.as_deref(),
            &a.message,
        );
        let file = self.file_id.unwrap_or(0);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT id, status, events FROM alerts WHERE merge_key = ?1 \
                 AND COALESCE(file_id, 0) != ?2 ORDER BY last_seen DESC, id DESC LIMIT 1",
                params![key, file],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let id = match found {
            Some((id, status, events)) => {
                let mut refs = match serde_json::from_str::<Value>(&events) {
                    Ok(Value::Array(v)) => v,
                    _ => Vec::new(),
                };
                if let Ok(Value::Array(new)) = serde_json::from_str::<Value>(&a.events) {
                    refs.extend(new);
                }
                refs.truncate(ALERT_REFS);
                let reopen = status == "closed";
                tx.execute(
                    "UPDATE alerts SET count = count + ?2, first_seen = MIN(first_seen, ?3), \
                     last_seen = MAX(last_seen, ?4), events = ?5, \
                     status = CASE WHEN ?6 THEN 'open' ELSE status END, \
                     updated = CASE WHEN ?6 THEN ?7 ELSE updated END WHERE id = ?1",
                    params![
                        id,
                        a.count as i64,
                        a.first_seen,
                        a.last_seen,
                        Value::Array(refs).to_string(),
                        reopen,
                        now_ns()
                    ],
                )?;
                if reopen {
                    let name: String = tx
                        .query_row(
                            "SELECT name FROM ingested_files WHERE id = ?1",
                            [file],
                            |r| r.get(0),
                        )
                        .optional()?
                        .unwrap_or_default();
                    let text = format!("reopened: it recurred ({} more) in {name}", a.count);
                    tx.execute(
                        "INSERT INTO alert_comments (alert_id, ts, username, action, text) \
                         VALUES (?1, ?2, 'system', 'reopen', ?3)",
                        params![id, now_ns(), text],
                    )?;
                    tx.execute(
                        "INSERT INTO user_audit (ts, username, action, target, detail) \
                         VALUES (?1, 'system', 'alert_reopen', ?2, ?3)",
                        params![now_ns(), format!("alert/{id}"), text],
                    )?;
                }
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO alerts (rule_id, rule, severity, sev_rank, techniques, message, \
                     protocol, src_ip, dest_ip, count, first_seen, last_seen, events, file_id, \
                     merge_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
                     ?14, ?15)",
                    params![
                        a.rule_id,
                        a.rule,
                        a.severity,
                        severity_rank(&a.severity),
                        Value::from(a.techniques.clone()).to_string(),
                        a.message,
                        a.protocol,
                        a.src_ip,
                        a.dest_ip,
                        a.count as i64,
                        a.first_seen,
                        a.last_seen,
                        a.events,
                        self.file_id,
                        key
                    ],
                )?;
                tx.last_insert_rowid()
            }
        };
        // What this capture contributed (to undo an interrupted ingestion
        // and to point its events at the alert).
        let old: Option<String> = tx
            .query_row(
                "SELECT events FROM alert_sources WHERE alert_id = ?1 AND file_id = ?2",
                params![id, file],
                |r| r.get(0),
            )
            .optional()?;
        let events = match old {
            Some(o) => {
                let mut v = match serde_json::from_str::<Value>(&o) {
                    Ok(Value::Array(v)) => v,
                    _ => Vec::new(),
                };
                if let Ok(Value::Array(new)) = serde_json::from_str::<Value>(&a.events) {
                    v.extend(new);
                }
                Value::Array(v).to_string()
            }
            None => a.events.clone(),
        };
        tx.execute(
            "INSERT INTO alert_sources (alert_id, file_id, count, first_seen, last_seen, events) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (alert_id, file_id) DO UPDATE SET \
             count = count + excluded.count, first_seen = MIN(first_seen, excluded.first_seen), \
             last_seen = MAX(last_seen, excluded.last_seen), events = excluded.events",
            params![id, file, a.count as i64, a.first_seen, a.last_seen, events],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes what is pending, resolves the events' assets and alerts,
    /// and marks the capture done.
    pub fn finish(&mut self) -> Result<()> {
        self.flush()?;
        let Some(file) = self.file_id else {
            for e in std::mem::take(&mut self.edges) {
                write_edge(&self.conn, &e)?;
            }
            return Ok(());
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in std::mem::take(&mut self.edges) {
            write_edge(&tx, &e)?;
        }
        tx.execute(
            "UPDATE events SET \
             src_asset = (SELECT asset_id FROM asset_ips WHERE ip = events.src_ip), \
             dest_asset = (SELECT asset_id FROM asset_ips WHERE ip = events.dest_ip) \
             WHERE file_id = ?1",
            [file],
        )?;
        // The events behind each alert point at it.
        let refs: Vec<(i64, String)> = {
            let mut st =
                tx.prepare("SELECT alert_id, events FROM alert_sources WHERE file_id = ?1")?;
            let rows = st.query_map([file], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        {
            let mut st = tx.prepare(
                "UPDATE events SET alert_id = ?1 WHERE file_id = ?2 AND flow_id = ?3 \
                 AND ts_ns = ?4 AND alert_id IS NULL AND type != 'alert'",
            )?;
            for (id, evs) in refs {
                let v: Value = serde_json::from_str(&evs).unwrap_or(Value::Null);
                for r in v.as_array().into_iter().flatten() {
                    if let (Some(f), Some(ts)) = (r["flow_id"].as_i64(), r["ts_ns"].as_i64()) {
                        st.execute(params![id, file, f, ts])?;
                    }
                }
            }
        }
        tx.execute(
            "UPDATE ingested_files SET status = 'done', finished = ?2, \
             events = (SELECT COUNT(*) FROM events WHERE file_id = ?1) WHERE id = ?1",
            params![file, now_ns()],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Maps a store error to a message (for callers without `Display` in scope).
pub fn describe(e: &StoreError) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ts: i64) -> EventRow {
        EventRow {
            ts_ns: ts,
            event_type: "modbus".into(),
            protocol: Some("modbus".into()),
            operation: Some("read".into()),
            json: "{}".into(),
            ..EventRow::default()
        }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_capture_is_ingested_once_and_an_interrupted_one_again() {
        let dir = std::env::temp_dir().join(format!("ps-platform-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("p.db");
        let _ = std::fs::remove_file(&db);
        let mut conn = open(&db).unwrap();
        let FileState::Ingest(id) = begin_file(&mut conn, "aa", "a.pcap", 10).unwrap() else {
            panic!("new capture");
        };
        // Interrupted: some events written, never finished.
        let mut ing = Ingest::new(open(&db).unwrap(), Some(id));
        ing.set_batch_size(2);
        for t in 0..5 {
            ing.event(event(t)).unwrap();
        }
        drop(ing);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM events"), 4);
        // Read again: the partial events go, the same id is reused.
        assert_eq!(
            begin_file(&mut conn, "aa", "a.pcap", 10).unwrap(),
            FileState::Ingest(id)
        );
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM events"), 0);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM event_counts"), 0);
        let mut ing = Ingest::new(open(&db).unwrap(), Some(id));
        for t in 0..5 {
            ing.event(event(t)).unwrap();
        }
        ing.finish().unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM events"), 5);
        assert_eq!(count(&conn, "SELECT SUM(n) FROM event_counts"), 5);
        // Done: skipped from now on; another content is a new capture.
        assert_eq!(
            begin_file(&mut conn, "aa", "renamed.pcap", 10).unwrap(),
            FileState::Done(id)
        );
        assert!(matches!(
            begin_file(&mut conn, "bb", "a.pcap", 10).unwrap(),
            FileState::Ingest(n) if n != id
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn temp_db(tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ps-platform-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("p.db");
        (dir, db)
    }

    #[test]
    fn a_format_1_store_is_upgraded_in_place() {
        let (dir, db) = temp_db("v1");
        {
            // A store as the previous version wrote it.
            let c = crate::open(&db).unwrap();
            c.execute_batch(include_str!("platform/format1.sql"))
                .unwrap();
            crate::claim_format(&c, "platform.format", "1").unwrap();
            c.execute_batch(
                "INSERT INTO ingested_files (sha256, name, bytes, status, started) \
                   VALUES ('aa', 'a.pcap', 1, 'done', 0);
                 INSERT INTO events (file_id, ts_ns, type, protocol, operation, src_asset, json) \
                   VALUES (1, 5, 'modbus', 'modbus', 'write', 1, '{}');
                 INSERT INTO alerts (rule_id, rule, severity, sev_rank, techniques, message, \
                   src_ip, dest_ip, count, first_seen, last_seen, events, status, file_id) \
                   VALUES ('ps.x', 'X', 'high', 3, '[]', 'm', '10.0.0.1', '10.0.0.2', 3, 10, 20, \
                   '[]', 'acknowledged', 1);
                 INSERT INTO users (username, password_hash, role, created) \
                   VALUES ('admin', 'h', 'admin', 0);",
            )
            .unwrap();
        }
        let conn = open(&db).unwrap();
        assert_eq!(
            crate::meta(&conn, "platform.format").unwrap().as_deref(),
            Some(FORMAT)
        );
        // The data is kept; the new columns and tables are filled.
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM events"), 1);
        assert_eq!(count(&conn, "SELECT disabled FROM users"), 0);
        let key: String = conn
            .query_row("SELECT merge_key FROM alerts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            key,
            merge_key("ps.x", Some("10.0.0.1"), Some("10.0.0.2"), "m")
        );
        assert_eq!(
            count(
                &conn,
                "SELECT count FROM alert_sources WHERE alert_id = 1 AND file_id = 1"
            ),
            3
        );
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM login_failures"), 0);
        let idx: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(idx.contains(&"events_proto_op_ts".to_string()), "{idx:?}");
        assert!(!idx.contains(&"events_src_asset".to_string()), "{idx:?}");
        drop(conn);
        // Opening again changes nothing; a newer format is refused.
        let conn = open(&db).unwrap();
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM alert_sources"), 1);
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'platform.format'",
            [],
        )
        .unwrap();
        drop(conn);
        assert!(open(&db).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn filtered_searches_use_their_indexes() {
        let (dir, db) = temp_db("plan");
        let conn = open(&db).unwrap();
        let plan = |sql: &str| -> String {
            let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows: Vec<String> = st
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            rows.join("; ")
        };
        let p = plan(
            "SELECT id FROM events WHERE protocol = 'modbus' AND operation = 'write' \
             ORDER BY ts_ns DESC, id DESC LIMIT 100",
        );
        assert!(p.contains("events_proto_op_ts"), "{p}");
        let p = plan(
            "SELECT id FROM events WHERE +operation = 'write' AND (src_asset = 1 OR dest_asset = 1) \
             ORDER BY ts_ns DESC, id DESC LIMIT 10001",
        );
        assert!(
            p.contains("events_src_asset_ts") && p.contains("events_dest_asset_ts"),
            "{p}"
        );
        let p = plan("SELECT COUNT(*) FROM events WHERE src_asset = 1 OR dest_asset = 1");
        assert!(
            p.contains("events_src_asset_ts") && p.contains("events_dest_asset_ts"),
            "{p}"
        );
        let p = plan("SELECT COUNT(*) FROM events WHERE ts_ns >= 1 AND ts_ns < 2");
        assert!(p.contains("USING COVERING INDEX events_ts"), "{p}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn event_totals_are_exact_or_capped() {
        let (dir, db) = temp_db("cap");
        let mut ing = Ingest::new(open(&db).unwrap(), None);
        let n = queries::EVENT_COUNT_CAP + 50;
        for t in 0..n {
            ing.event(event(t)).unwrap();
        }
        ing.flush().unwrap();
        let conn = open(&db).unwrap();
        let page = queries::Page {
            limit: 1,
            offset: 0,
        };
        let search = |f: queries::EventFilter| queries::events(&conn, &f, page).unwrap();
        // Type, protocol and operation alone: exact, from event_counts.
        let v = search(queries::EventFilter {
            protocol: Some("modbus".into()),
            operation: Some("read".into()),
            ..Default::default()
        });
        assert_eq!(
            (v["total"].as_i64(), v["total_exact"].as_bool()),
            (Some(n), Some(true))
        );
        // Anything else counts up to the cap.
        let v = search(queries::EventFilter {
            q: Some("{}".into()),
            ..Default::default()
        });
        assert_eq!(
            (v["total"].as_i64(), v["total_exact"].as_bool()),
            (Some(queries::EVENT_COUNT_CAP), Some(false))
        );
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        // Pages come newest first, within the counted pass and beyond it.
        for (offset, limit) in [(5, 3), (queries::EVENT_COUNT_CAP - 1, 4), (n - 2, 5)] {
            let v = queries::events(
                &conn,
                &queries::EventFilter {
                    q: Some("{}".into()),
                    ..Default::default()
                },
                queries::Page { limit, offset },
            )
            .unwrap();
            let ids: Vec<i64> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap())
                .collect();
            // Event ids follow time here (id = ts + 1).
            let want: Vec<i64> = (0..limit)
                .map(|k| n - offset - k)
                .filter(|id| *id >= 1)
                .collect();
            assert_eq!(ids, want, "offset {offset} limit {limit}");
        }
        let v = search(queries::EventFilter {
            from: Some(n - 7),
            ..Default::default()
        });
        assert_eq!(
            (v["total"].as_i64(), v["total_exact"].as_bool()),
            (Some(7), Some(true))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn file(conn: &mut Connection, sha: &str) -> i64 {
        match begin_file(conn, sha, &format!("{sha}.pcap"), 1).unwrap() {
            FileState::Ingest(id) => id,
            FileState::Done(_) => panic!("{sha} already done"),
        }
    }

    #[test]
    fn edge_operations_add_up_across_captures_and_count_once_per_capture() {
        let (dir, db) = temp_db("edges");
        let mut conn = open(&db).unwrap();
        let edge = |tx: u64, ops: &str| EdgeRow {
            client_id: 1,
            server_id: 2,
            protocol: "modbus".into(),
            transactions: tx,
            operations: ops.into(),
            ..EdgeRow::default()
        };
        let a = file(&mut conn, "a");
        let mut ing = Ingest::new(open(&db).unwrap(), Some(a));
        ing.edge(edge(4, r#"{"read":3,"write":1}"#));
        ing.finish().unwrap();
        let b = file(&mut conn, "b");
        let mut ing = Ingest::new(open(&db).unwrap(), Some(b));
        ing.edge(edge(3, r#"{"read":2,"diagnostics":1}"#));
        // Interrupted before finishing: its edge is not counted.
        drop(ing);
        let ops = |c: &Connection| -> (i64, Value) {
            c.query_row("SELECT transactions, operations FROM edges", [], |r| {
                Ok((
                    r.get(0)?,
                    serde_json::from_str(&r.get::<_, String>(1)?).unwrap(),
                ))
            })
            .unwrap()
        };
        assert_eq!(ops(&conn).0, 4);
        assert_eq!(
            begin_file(&mut conn, "b", "b.pcap", 1).unwrap(),
            FileState::Ingest(b)
        );
        let mut ing = Ingest::new(open(&db).unwrap(), Some(b));
        ing.edge(edge(3, r#"{"read":2,"diagnostics":1}"#));
        ing.finish().unwrap();
        let want = serde_json::json!({"read": 5, "write": 1, "diagnostics": 1});
        assert_eq!(ops(&conn), (7, want.clone()));
        // Reading A again (a restart with the same --read) changes nothing.
        assert_eq!(
            begin_file(&mut conn, "a", "a.pcap", 1).unwrap(),
            FileState::Done(a)
        );
        assert_eq!(ops(&conn), (7, want));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_same_alert_in_later_captures_is_merged_and_keeps_its_workflow() {
        let (dir, db) = temp_db("alerts");
        let mut conn = open(&db).unwrap();
        let alert = |count: u64, first: i64, last: i64| AlertRow {
            rule_id: "ps.ics.mode_change".into(),
            rule: "PLC mode change".into(),
            severity: "high".into(),
            message: format!("stop at {first}"),
            src_ip: Some("10.0.0.5".into()),
            dest_ip: Some("10.0.0.10".into()),
            count,
            first_seen: first,
            last_seen: last,
            events: format!(r#"[{{"flow_id":1,"ts_ns":{first}}}]"#),
            ..AlertRow::default()
        };
        let row = |c: &Connection, id: i64| -> (i64, i64, i64, String) {
            c.query_row(
                "SELECT count, first_seen, last_seen, status FROM alerts WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap()
        };
        let ingest = |conn: &mut Connection, sha: &str, rows: &[AlertRow]| -> Vec<i64> {
            let f = file(conn, sha);
            let mut ing = Ingest::new(open(&db).unwrap(), Some(f));
            let ids = rows.iter().map(|a| ing.alert(a).unwrap()).collect();
            ing.finish().unwrap();
            ids
        };
        // Capture A: the engine split the alert in two (idle gap): two alerts.
        let a = ingest(&mut conn, "a", &[alert(2, 100, 200), alert(1, 5000, 5000)]);
        assert_ne!(
            a[0], a[1],
            "alerts within one capture stay as the engine made them"
        );
        let id = a[1];
        assert!(queries::alert_action(
            &conn,
            id,
            "ana",
            "acknowledge",
            Some("acknowledged"),
            None,
            ""
        )
        .unwrap());
        // Capture B: the same rule and pair; another pair is another alert.
        let mut other = alert(1, 50, 60);
        other.dest_ip = Some("10.0.0.11".into());
        let b = ingest(&mut conn, "b", &[alert(3, 40, 9000), other]);
        assert_eq!(
            b[0], id,
            "merged into the newest alert of the same rule and pair"
        );
        assert_ne!(b[1], id);
        assert_eq!(row(&conn, id), (4, 40, 9000, "acknowledged".into()));
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM alerts"), 3);
        // Closed, then it recurs in C: reopened, with a system comment.
        assert!(
            queries::alert_action(&conn, id, "ana", "close", Some("closed"), None, "done").unwrap()
        );
        let c = ingest(&mut conn, "c", &[alert(2, 9500, 9600)]);
        assert_eq!(c[0], id);
        assert_eq!(row(&conn, id), (6, 40, 9600, "open".into()));
        let v = queries::alert(&conn, id).unwrap().unwrap();
        let last = v["comments"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["username"].as_str(), last["action"].as_str()),
            (Some("system"), Some("reopen"))
        );
        assert_eq!(v["events"].as_array().unwrap().len(), 3);
        // D is interrupted after adding to it: read again, it counts once.
        let d = file(&mut conn, "d");
        let mut ing = Ingest::new(open(&db).unwrap(), Some(d));
        ing.alert(&alert(5, 20_000, 20_000)).unwrap();
        drop(ing);
        assert_eq!(row(&conn, id).0, 11);
        assert_eq!(
            begin_file(&mut conn, "d", "d.pcap", 1).unwrap(),
            FileState::Ingest(d)
        );
        assert_eq!(row(&conn, id), (6, 40, 9600, "open".into()));
        let mut ing = Ingest::new(open(&db).unwrap(), Some(d));
        ing.alert(&alert(5, 20_000, 20_000)).unwrap();
        ing.finish().unwrap();
        assert_eq!(row(&conn, id), (11, 40, 20_000, "open".into()));
        // Read again after it was done: skipped, nothing added.
        assert_eq!(
            begin_file(&mut conn, "d", "d.pcap", 1).unwrap(),
            FileState::Done(d)
        );
        assert_eq!(row(&conn, id).0, 11);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn assets_are_upserted_by_key_and_edges_add_up() {
        let dir = std::env::temp_dir().join(format!("ps-platform-a-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("p.db");
        let _ = std::fs::remove_file(&db);
        let mut ing = Ingest::new(open(&db).unwrap(), None);
        let mut a = AssetRow {
            key: "mac:02:00:00:00:00:01".into(),
            label: "10.0.0.1".into(),
            ips: vec!["10.0.0.1".into()],
            role: "plc".into(),
            first_seen: 5,
            last_seen: 6,
            detail: "{}".into(),
            ..AssetRow::default()
        };
        let id = ing.upsert_asset(&a).unwrap();
        a.first_seen = 1;
        a.last_seen = 3;
        a.ips.push("10.0.0.2".into());
        assert_eq!(ing.upsert_asset(&a).unwrap(), id);
        let b = AssetRow {
            key: "ip:10.9.9.9".into(),
            ..a.clone()
        };
        let other = ing.upsert_asset(&b).unwrap();
        assert_ne!(other, id);
        let conn = open(&db).unwrap();
        let (first, last): (i64, i64) = conn
            .query_row(
                "SELECT first_seen, last_seen FROM assets WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((first, last), (1, 6));
        let e = EdgeRow {
            client_id: id,
            server_id: other,
            protocol: "modbus".into(),
            transactions: 10,
            operations: "{}".into(),
            ..EdgeRow::default()
        };
        ing.upsert_edge(&e).unwrap();
        ing.upsert_edge(&e).unwrap();
        assert_eq!(count(&conn, "SELECT transactions FROM edges"), 20);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
