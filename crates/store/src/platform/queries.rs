//! Reading the platform tables back, as JSON for the REST API, and the
//! small writes of the API (alert workflow, users, sessions, user audit,
//! policies).

use rusqlite::types::Value as Sql;
use rusqlite::{
    params, params_from_iter, Connection, OptionalExtension, Row, Transaction, TransactionBehavior,
};
use serde_json::{json, Map, Value};

use super::now_ns;
use crate::Result;

/// RFC 3339 text (µs, UTC) of a time in ns.
pub fn time(ts_ns: i64) -> String {
    crate::audit::ts_text(ts_ns)
}

fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// A page of results.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Rows to return.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

fn page_json(total: i64, page: Page, items: Vec<Value>) -> Value {
    json!({"total": total, "limit": page.limit, "offset": page.offset, "items": items})
}

/// A WHERE clause built from optional filters.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<Sql>,
}

impl Where {
    /// Adds a clause whose `?` placeholders take `args` in order.
    fn add(&mut self, clause: &str, args: impl IntoIterator<Item = Sql>) {
        let mut args = args.into_iter();
        let mut c = String::with_capacity(clause.len() + 8);
        for ch in clause.chars() {
            if ch == '?' {
                if let Some(a) = args.next() {
                    self.args.push(a);
                }
                c.push_str(&format!("?{}", self.args.len()));
            } else {
                c.push(ch);
            }
        }
        self.clauses.push(c);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

fn like(q: &str) -> Sql {
    let esc = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Sql::Text(format!("%{esc}%"))
}

fn count(conn: &Connection, sql: &str, w: &Where) -> Result<i64> {
    Ok(conn.query_row(sql, params_from_iter(w.args.iter()), |r| r.get(0))?)
}

// ---------------------------------------------------------------- events

/// Filters of the event search.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    /// From this capture time (ns, inclusive).
    pub from: Option<i64>,
    /// Until this capture time (ns, exclusive).
    pub to: Option<i64>,
    /// `event_type`.
    pub event_type: Option<String>,
    /// Protocol.
    pub protocol: Option<String>,
    /// `ics.operation`.
    pub operation: Option<String>,
    /// A platform asset id (as source or destination).
    pub asset: Option<i64>,
    /// An alert id.
    pub alert: Option<i64>,
    /// Free text, anywhere in the event.
    pub q: Option<String>,
}

/// Searches events, newest first.
///
/// Searches by type, protocol and operation alone are counted exactly
/// from `event_counts`. Any other search makes one ordered pass over its
/// matches, newest first, that stops after [`EVENT_COUNT_CAP`] + 1: it
/// gives the total (exact up to the cap) and the page, when the page lies
/// within it.
pub fn events(conn: &Connection, f: &EventFilter, page: Page) -> Result<Value> {
    // An asset or an alert narrows a search to a few thousand events: its
    // index must drive the search, so the other columns' indexes are put
    // out of the planner's reach (unary `+`); otherwise it may walk a long
    // (operation, time) range instead.
    let narrow = f.asset.is_some() || f.alert.is_some();
    let col = |c: &str| {
        if narrow {
            format!("+{c}")
        } else {
            c.to_string()
        }
    };
    let mut w = Where::default();
    if let Some(v) = f.from {
        w.add(&format!("{} >= ?", col("ts_ns")), [Sql::Integer(v)]);
    }
    if let Some(v) = f.to {
        w.add(&format!("{} < ?", col("ts_ns")), [Sql::Integer(v)]);
    }
    for (c, v) in [
        ("type", &f.event_type),
        ("protocol", &f.protocol),
        ("operation", &f.operation),
    ] {
        if let Some(v) = v {
            w.add(&format!("{} = ?", col(c)), [Sql::Text(v.clone())]);
        }
    }
    if let Some(v) = f.asset {
        w.add(
            "(src_asset = ? OR dest_asset = ?)",
            [Sql::Integer(v), Sql::Integer(v)],
        );
    }
    if let Some(v) = f.alert {
        w.add("alert_id = ?", [Sql::Integer(v)]);
    }
    if let Some(q) = &f.q {
        w.add("json LIKE ? ESCAPE '\\'", [like(q)]);
    }
    let counted = f.from.is_none()
        && f.to.is_none()
        && f.asset.is_none()
        && f.alert.is_none()
        && f.q.is_none();
    let (total, exact, items) = if counted {
        let total = counted_total(conn, f)?;
        (total, true, event_page(conn, &w, page)?)
    } else {
        let ids: Vec<i64> = {
            let mut st = conn.prepare(&format!(
                "SELECT id FROM events{} ORDER BY ts_ns DESC, id DESC LIMIT {}",
                w.sql(),
                EVENT_COUNT_CAP + 1
            ))?;
            let rows = st.query_map(params_from_iter(w.args.iter()), |r| r.get(0))?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        let n = ids.len() as i64;
        let end = page.offset.saturating_add(page.limit);
        let items = if n <= EVENT_COUNT_CAP || end <= n {
            let from = page.offset.min(n) as usize;
            let mut st = conn.prepare_cached(
                "SELECT id, src_asset, dest_asset, alert_id, json FROM events WHERE id = ?1",
            )?;
            let mut v = Vec::new();
            for id in &ids[from..end.min(n) as usize] {
                v.push(st.query_row([id], event_row)?);
            }
            v
        } else {
            event_page(conn, &w, page)?
        };
        if n > EVENT_COUNT_CAP {
            (EVENT_COUNT_CAP, false, items)
        } else {
            (n, true, items)
        }
    };
    let mut v = page_json(total, page, items);
    v["total_exact"] = Value::Bool(exact);
    Ok(v)
}

/// Matches an event search counts exactly; beyond it, `total` is this
/// number and `total_exact` false ("more than 10,000").
pub const EVENT_COUNT_CAP: i64 = 10_000;

/// The exact total of a search by type, protocol and operation, from
/// `event_counts`.
fn counted_total(conn: &Connection, f: &EventFilter) -> Result<i64> {
    let mut c = Where::default();
    for (col, v) in [
        ("type", &f.event_type),
        ("protocol", &f.protocol),
        ("operation", &f.operation),
    ] {
        if let Some(v) = v {
            c.add(&format!("{col} = ?"), [Sql::Text(v.clone())]);
        }
    }
    count(
        conn,
        &format!("SELECT COALESCE(SUM(n), 0) FROM event_counts{}", c.sql()),
        &c,
    )
}

/// One page of a search by `LIMIT` and `OFFSET`.
fn event_page(conn: &Connection, w: &Where, page: Page) -> Result<Vec<Value>> {
    let mut args = w.args.clone();
    args.push(Sql::Integer(page.limit));
    args.push(Sql::Integer(page.offset));
    let n = args.len();
    let sql = format!(
        "SELECT id, src_asset, dest_asset, alert_id, json FROM events{} \
         ORDER BY ts_ns DESC, id DESC LIMIT ?{} OFFSET ?{}",
        w.sql(),
        n - 1,
        n
    );
    let mut st = conn.prepare(&sql)?;
    let items = st
        .query_map(params_from_iter(args.iter()), event_row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(items)
}

fn event_row(r: &Row<'_>) -> rusqlite::Result<Value> {
    let text: String = r.get(4)?;
    let event = json_text(&text);
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "src_asset": r.get::<_, Option<i64>>(1)?,
        "dest_asset": r.get::<_, Option<i64>>(2)?,
        "alert_id": r.get::<_, Option<i64>>(3)?,
        "event": event,
    }))
}

/// One event by id.
pub fn event(conn: &Connection, id: i64) -> Result<Option<Value>> {
    Ok(conn
        .query_row(
            "SELECT id, src_asset, dest_asset, alert_id, json FROM events WHERE id = ?1",
            [id],
            event_row,
        )
        .optional()?)
}

// ---------------------------------------------------------------- assets

/// Filters of the asset list.
#[derive(Debug, Default, Clone)]
pub struct AssetFilter {
    /// Role name.
    pub role: Option<String>,
    /// Free text in label, addresses, vendor, identity.
    pub q: Option<String>,
}

const ASSET_COLS: &str = "a.id, a.key, a.label, a.ips, a.macs, a.role, a.purdue_level, a.vendor, \
    a.remote, a.first_seen, a.last_seen, a.created, \
    (SELECT COUNT(*) FROM alerts al JOIN asset_ips ai ON ai.ip = al.src_ip \
       WHERE ai.asset_id = a.id AND al.status != 'closed') + \
    (SELECT COUNT(*) FROM alerts al JOIN asset_ips ai ON ai.ip = al.dest_ip \
       WHERE ai.asset_id = a.id AND al.status != 'closed') AS open_alerts, \
    COALESCE((SELECT SUM(CASE al.sev_rank WHEN 4 THEN 10 WHEN 3 THEN 5 WHEN 2 THEN 2 ELSE 1 END) \
       FROM alerts al JOIN asset_ips ai ON ai.ip = al.src_ip OR ai.ip = al.dest_ip \
       WHERE ai.asset_id = a.id AND al.status != 'closed'), 0) AS risk";

fn asset_row(r: &Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "key": r.get::<_, String>(1)?,
        "label": r.get::<_, String>(2)?,
        "ips": json_text(&r.get::<_, String>(3)?),
        "macs": json_text(&r.get::<_, String>(4)?),
        "role": r.get::<_, String>(5)?,
        "purdue_level": r.get::<_, Option<i64>>(6)?,
        "vendor": r.get::<_, Option<String>>(7)?,
        "remote": r.get::<_, bool>(8)?,
        "first_seen": time(r.get(9)?),
        "last_seen": time(r.get(10)?),
        "discovered": time(r.get(11)?),
        "open_alerts": r.get::<_, i64>(12)?,
        "risk": r.get::<_, i64>(13)?,
    }))
}

/// Lists assets by id.
pub fn assets(conn: &Connection, f: &AssetFilter, page: Page) -> Result<Value> {
    let mut w = Where::default();
    if let Some(v) = &f.role {
        w.add("a.role = ?", [Sql::Text(v.clone())]);
    }
    if let Some(q) = &f.q {
        w.add("a.detail LIKE ? ESCAPE '\\'", [like(q)]);
    }
    let total = count(
        conn,
        &format!("SELECT COUNT(*) FROM assets a{}", w.sql()),
        &w,
    )?;
    let mut args = w.args.clone();
    args.push(Sql::Integer(page.limit));
    args.push(Sql::Integer(page.offset));
    let n = args.len();
    let sql = format!(
        "SELECT {ASSET_COLS} FROM assets a{} ORDER BY a.id LIMIT ?{} OFFSET ?{}",
        w.sql(),
        n - 1,
        n
    );
    let mut st = conn.prepare(&sql)?;
    let items = st
        .query_map(params_from_iter(args.iter()), asset_row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(page_json(total, page, items))
}

/// Every asset (for the map and risk by zone), without paging.
pub fn all_assets(conn: &Connection) -> Result<Vec<Value>> {
    let mut st = conn.prepare(&format!("SELECT {ASSET_COLS} FROM assets a ORDER BY a.id"))?;
    let v = st
        .query_map([], asset_row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(v)
}

/// One asset: its summary, the inventory's detail, evidence and counts.
pub fn asset(conn: &Connection, id: i64) -> Result<Option<Value>> {
    let found = conn
        .query_row(
            &format!("SELECT {ASSET_COLS}, a.detail FROM assets a WHERE a.id = ?1"),
            [id],
            |r| {
                let mut v = asset_row(r)?;
                v["detail"] = json_text(&r.get::<_, String>(14)?);
                Ok(v)
            },
        )
        .optional()?;
    let Some(mut v) = found else {
        return Ok(None);
    };
    v["evidence"] = asset_evidence(conn, id)?;
    Ok(Some(v))
}

/// The identity evidence of an asset.
pub fn asset_evidence(conn: &Connection, id: i64) -> Result<Value> {
    let mut st = conn.prepare(
        "SELECT attribute, value, source, confidence, first_seen, last_seen, flow_id, seen \
         FROM asset_evidence WHERE asset_id = ?1 ORDER BY attribute, confidence DESC",
    )?;
    let items = st
        .query_map([id], |r| {
            Ok(json!({
                "attribute": r.get::<_, String>(0)?,
                "value": r.get::<_, String>(1)?,
                "source": r.get::<_, String>(2)?,
                "confidence": r.get::<_, i64>(3)?,
                "first_seen": time(r.get(4)?),
                "last_seen": time(r.get(5)?),
                "flow_id": r.get::<_, Option<i64>>(6)?,
                "seen": r.get::<_, i64>(7)?,
            }))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Value::Array(items))
}

/// The changes of an asset, oldest first.
pub fn asset_history(conn: &Connection, id: i64) -> Result<Value> {
    let mut st = conn.prepare(
        "SELECT ts_ns, change, attribute, old, new, source FROM asset_history \
         WHERE asset_id = ?1 ORDER BY ts_ns, id LIMIT 1000",
    )?;
    let items = st
        .query_map([id], |r| {
            Ok(json!({
                "timestamp": time(r.get(0)?),
                "change": r.get::<_, String>(1)?,
                "attribute": r.get::<_, Option<String>>(2)?,
                "old": r.get::<_, Option<String>>(3)?,
                "new": r.get::<_, Option<String>>(4)?,
                "source": r.get::<_, String>(5)?,
            }))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Value::Array(items))
}

/// Whether an asset exists.
pub fn asset_exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM assets WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )?)
}

// ---------------------------------------------------------------- edges

/// Communication edges, busiest first; only those of `asset` if given.
pub fn edges(conn: &Connection, asset: Option<i64>, page: Page) -> Result<Value> {
    let mut w = Where::default();
    if let Some(a) = asset {
        w.add(
            "(e.client_id = ? OR e.server_id = ?)",
            [Sql::Integer(a), Sql::Integer(a)],
        );
    }
    let total = count(
        conn,
        &format!("SELECT COUNT(*) FROM edges e{}", w.sql()),
        &w,
    )?;
    let mut args = w.args.clone();
    args.push(Sql::Integer(page.limit));
    args.push(Sql::Integer(page.offset));
    let n = args.len();
    let sql = format!(
        "SELECT e.id, e.client_id, c.label, e.server_id, s.label, e.protocol, e.transactions, \
         e.flows, e.bytes_toserver, e.bytes_toclient, e.first_seen, e.last_seen, e.operations \
         FROM edges e JOIN assets c ON c.id = e.client_id JOIN assets s ON s.id = e.server_id{} \
         ORDER BY e.bytes_toserver + e.bytes_toclient DESC, e.id LIMIT ?{} OFFSET ?{}",
        w.sql(),
        n - 1,
        n
    );
    let mut st = conn.prepare(&sql)?;
    let items = st
        .query_map(params_from_iter(args.iter()), |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?,
                "client": r.get::<_, i64>(1)?,
                "client_label": r.get::<_, String>(2)?,
                "server": r.get::<_, i64>(3)?,
                "server_label": r.get::<_, String>(4)?,
                "protocol": r.get::<_, String>(5)?,
                "transactions": r.get::<_, i64>(6)?,
                "flows": r.get::<_, i64>(7)?,
                "bytes_toserver": r.get::<_, i64>(8)?,
                "bytes_toclient": r.get::<_, i64>(9)?,
                "first_seen": time(r.get(10)?),
                "last_seen": time(r.get(11)?),
                "operations": json_text(&r.get::<_, String>(12)?),
            }))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(page_json(total, page, items))
}

// ---------------------------------------------------------------- alerts

/// Filters of the alert list.
#[derive(Debug, Default, Clone)]
pub struct AlertFilter {
    /// open, acknowledged, closed.
    pub status: Option<String>,
    /// Severity name.
    pub severity: Option<String>,
    /// Rule id.
    pub rule_id: Option<String>,
    /// A platform asset id (source or destination).
    pub asset: Option<i64>,
    /// Assignee.
    pub assignee: Option<String>,
    /// Free text in the message.
    pub q: Option<String>,
}

const ALERT_COLS: &str = "id, rule_id, rule, severity, techniques, message, protocol, src_ip, \
    dest_ip, count, first_seen, last_seen, events, status, assignee, updated";

fn alert_row(r: &Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "rule_id": r.get::<_, String>(1)?,
        "rule": r.get::<_, String>(2)?,
        "severity": r.get::<_, String>(3)?,
        "mitre_attack": json_text(&r.get::<_, String>(4)?),
        "message": r.get::<_, String>(5)?,
        "protocol": r.get::<_, Option<String>>(6)?,
        "src_ip": r.get::<_, Option<String>>(7)?,
        "dest_ip": r.get::<_, Option<String>>(8)?,
        "count": r.get::<_, i64>(9)?,
        "first_seen": time(r.get(10)?),
        "last_seen": time(r.get(11)?),
        "events": json_text(&r.get::<_, String>(12)?),
        "status": r.get::<_, String>(13)?,
        "assignee": r.get::<_, Option<String>>(14)?,
        "updated": r.get::<_, Option<i64>>(15)?.map(time),
    }))
}

/// Lists alerts, newest first.
pub fn alerts(conn: &Connection, f: &AlertFilter, page: Page) -> Result<Value> {
    let mut w = Where::default();
    if let Some(v) = &f.status {
        w.add("status = ?", [Sql::Text(v.clone())]);
    }
    if let Some(v) = &f.severity {
        w.add("severity = ?", [Sql::Text(v.clone())]);
    }
    if let Some(v) = &f.rule_id {
        w.add("rule_id = ?", [Sql::Text(v.clone())]);
    }
    if let Some(v) = &f.assignee {
        w.add("assignee = ?", [Sql::Text(v.clone())]);
    }
    if let Some(a) = f.asset {
        w.add(
            "(src_ip IN (SELECT ip FROM asset_ips WHERE asset_id = ?) \
             OR dest_ip IN (SELECT ip FROM asset_ips WHERE asset_id = ?))",
            [Sql::Integer(a), Sql::Integer(a)],
        );
    }
    if let Some(q) = &f.q {
        w.add("message LIKE ? ESCAPE '\\'", [like(q)]);
    }
    let total = count(conn, &format!("SELECT COUNT(*) FROM alerts{}", w.sql()), &w)?;
    let mut args = w.args.clone();
    args.push(Sql::Integer(page.limit));
    args.push(Sql::Integer(page.offset));
    let n = args.len();
    let sql = format!(
        "SELECT {ALERT_COLS} FROM alerts{} ORDER BY first_seen DESC, id DESC LIMIT ?{} OFFSET ?{}",
        w.sql(),
        n - 1,
        n
    );
    let mut st = conn.prepare(&sql)?;
    let items = st
        .query_map(params_from_iter(args.iter()), alert_row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(page_json(total, page, items))
}

/// One alert with its workflow comments.
pub fn alert(conn: &Connection, id: i64) -> Result<Option<Value>> {
    let found = conn
        .query_row(
            &format!("SELECT {ALERT_COLS} FROM alerts WHERE id = ?1"),
            [id],
            alert_row,
        )
        .optional()?;
    let Some(mut v) = found else {
        return Ok(None);
    };
    let mut st = conn.prepare(
        "SELECT ts, username, action, text FROM alert_comments WHERE alert_id = ?1 ORDER BY id",
    )?;
    let comments = st
        .query_map([id], |r| {
            Ok(json!({
                "timestamp": time(r.get(0)?),
                "username": r.get::<_, String>(1)?,
                "action": r.get::<_, String>(2)?,
                "text": r.get::<_, String>(3)?,
            }))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    v["comments"] = Value::Array(comments);
    Ok(Some(v))
}

/// A workflow step on an alert: `status` and/or `assignee` change, with a
/// comment. Returns false when there is no such alert.
pub fn alert_action(
    conn: &Connection,
    id: i64,
    user: &str,
    action: &str,
    status: Option<&str>,
    assignee: Option<&str>,
    comment: &str,
) -> Result<bool> {
    let n = conn.execute(
        "UPDATE alerts SET status = COALESCE(?2, status), assignee = COALESCE(?3, assignee), \
         updated = ?4 WHERE id = ?1",
        params![id, status, assignee, now_ns()],
    )?;
    if n == 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO alert_comments (alert_id, ts, username, action, text) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, now_ns(), user, action, comment],
    )?;
    Ok(true)
}

// ---------------------------------------------------------------- statistics

/// Everything the dashboard shows but risk by zone (the caller knows the
/// zones): totals, alerts over time, protocol mix, top talkers, new assets.
pub fn stats(conn: &Connection) -> Result<Value> {
    let events: i64 = conn.query_row("SELECT COALESCE(SUM(n), 0) FROM event_counts", [], |r| {
        r.get(0)
    })?;
    let assets: i64 = conn.query_row("SELECT COUNT(*) FROM assets", [], |r| r.get(0))?;
    let edges: i64 = conn.query_row("SELECT COUNT(*) FROM edges", [], |r| r.get(0))?;
    let mut by_status = Map::new();
    for s in ["open", "acknowledged", "closed"] {
        by_status.insert(s.into(), json!(0));
    }
    {
        let mut st = conn.prepare("SELECT status, COUNT(*) FROM alerts GROUP BY status")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (s, n) = row?;
            by_status.insert(s, json!(n));
        }
    }
    let mut by_severity = Map::new();
    {
        let mut st = conn.prepare(
            "SELECT severity, COUNT(*) FROM alerts WHERE status != 'closed' GROUP BY severity",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (s, n) = row?;
            by_severity.insert(s, json!(n));
        }
    }
    // Alerts over time: hourly buckets of capture time, the last 72 that have any.
    let over_time = {
        let mut st = conn.prepare(
            "SELECT first_seen / 3600000000000 AS h, COUNT(*) FROM alerts \
             GROUP BY h ORDER BY h DESC LIMIT 72",
        )?;
        let mut v = st
            .query_map([], |r| {
                let h: i64 = r.get(0)?;
                Ok(json!({"hour": time(h * 3_600_000_000_000), "alerts": r.get::<_, i64>(1)?}))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v.reverse();
        v
    };
    let protocols = {
        let mut st = conn.prepare(
            "SELECT protocol, SUM(n) AS c FROM event_counts WHERE protocol != '' \
             AND type NOT IN ('flow', 'anomaly', 'asset', 'alert', 'stats') \
             GROUP BY protocol ORDER BY c DESC",
        )?;
        let v = st
            .query_map([], |r| {
                Ok(json!({"protocol": r.get::<_, String>(0)?, "events": r.get::<_, i64>(1)?}))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v
    };
    let event_types = {
        let mut st = conn
            .prepare("SELECT type, SUM(n) AS c FROM event_counts GROUP BY type ORDER BY c DESC")?;
        let v = st
            .query_map([], |r| {
                Ok(json!({"type": r.get::<_, String>(0)?, "events": r.get::<_, i64>(1)?}))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v
    };
    let top_talkers = {
        let mut st = conn.prepare(
            "SELECT t.asset, a.label, SUM(t.b) AS bytes, SUM(t.tx) FROM ( \
               SELECT client_id AS asset, bytes_toserver + bytes_toclient AS b, transactions AS tx FROM edges \
               UNION ALL \
               SELECT server_id, bytes_toserver + bytes_toclient, transactions FROM edges) t \
             JOIN assets a ON a.id = t.asset GROUP BY t.asset ORDER BY bytes DESC LIMIT 10",
        )?;
        let v = st
            .query_map([], |r| {
                Ok(
                    json!({"asset": r.get::<_, i64>(0)?, "label": r.get::<_, String>(1)?,
                      "bytes": r.get::<_, i64>(2)?, "transactions": r.get::<_, i64>(3)?}),
                )
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v
    };
    let new_assets = {
        let mut st = conn.prepare(
            "SELECT id, label, role, vendor, first_seen FROM assets ORDER BY first_seen DESC, id DESC LIMIT 10",
        )?;
        let v = st
            .query_map([], |r| {
                Ok(
                    json!({"id": r.get::<_, i64>(0)?, "label": r.get::<_, String>(1)?,
                      "role": r.get::<_, String>(2)?, "vendor": r.get::<_, Option<String>>(3)?,
                      "first_seen": time(r.get(4)?)}),
                )
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v
    };
    let files: i64 = conn.query_row(
        "SELECT COUNT(*) FROM ingested_files WHERE status = 'done'",
        [],
        |r| r.get(0),
    )?;
    Ok(json!({
        "totals": {"events": events, "assets": assets, "edges": edges, "captures": files,
                   "alerts": Value::Object(by_status.clone())},
        "alerts_by_status": Value::Object(by_status),
        "open_alerts_by_severity": Value::Object(by_severity),
        "alerts_over_time": over_time,
        "protocol_mix": protocols,
        "event_types": event_types,
        "top_talkers": top_talkers,
        "new_assets": new_assets,
    }))
}

/// The addresses of an asset as [`all_assets`] returns it.
pub fn asset_ips(asset: &Value) -> Vec<std::net::IpAddr> {
    asset["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_str()?.parse().ok())
        .collect()
}

/// Risk by zone over `assets` (from [`all_assets`]), riskiest first: per
/// zone (named by `zone_of`) its assets, risk (the sum of its assets') and
/// open alerts. The dashboard and the security report show it.
pub fn risk_by_zone(assets: &[Value], zone_of: impl Fn(&Value) -> String) -> Vec<Value> {
    let mut zones: std::collections::BTreeMap<String, (i64, i64, i64)> = Default::default();
    for a in assets {
        let e = zones.entry(zone_of(a)).or_default();
        e.0 += 1;
        e.1 += a["risk"].as_i64().unwrap_or(0);
        e.2 += a["open_alerts"].as_i64().unwrap_or(0);
    }
    let mut rz: Vec<Value> = zones
        .into_iter()
        .map(|(z, (n, r, o))| json!({"zone": z, "assets": n, "risk": r, "open_alerts": o}))
        .collect();
    rz.sort_by_key(|z| -z["risk"].as_i64().unwrap_or(0));
    rz
}

/// A fingerprint of what changed (for live updates): the last event,
/// alert, workflow change and asset.
pub fn change_marker(conn: &Connection) -> Result<(i64, i64, i64, i64)> {
    Ok(conn.query_row(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM events), (SELECT COALESCE(MAX(id), 0) FROM alerts), \
         (SELECT COALESCE(MAX(id), 0) FROM alert_comments), (SELECT COALESCE(MAX(id), 0) FROM assets)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?)
}

/// The captures ingested.
pub fn files(conn: &Connection) -> Result<Value> {
    let mut st = conn.prepare(
        "SELECT id, sha256, name, bytes, status, started, finished, events FROM ingested_files ORDER BY id",
    )?;
    let v = st
        .query_map([], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?, "sha256": r.get::<_, String>(1)?,
                "name": r.get::<_, String>(2)?, "bytes": r.get::<_, i64>(3)?,
                "status": r.get::<_, String>(4)?, "started": time(r.get(5)?),
                "finished": r.get::<_, Option<i64>>(6)?.map(time), "events": r.get::<_, i64>(7)?,
            }))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Value::Array(v))
}

// ---------------------------------------------------------------- users

/// A user as the server needs it.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// admin, analyst or viewer.
    pub role: String,
    /// Disabled: cannot log in, has no session.
    pub disabled: bool,
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        role: r.get(3)?,
        disabled: r.get(4)?,
    })
}

/// A user by id.
pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            "SELECT id, username, password_hash, role, disabled FROM users WHERE id = ?1",
            [id],
            user_row,
        )
        .optional()?)
}

/// What a change of a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    /// Done.
    Done,
    /// No such user.
    NotFound,
    /// Refused: it would leave no enabled admin.
    LastAdmin,
}

/// Whether a change that takes admin power from user `id` would leave no
/// enabled admin.
fn last_admin(conn: &Connection, id: i64) -> Result<bool> {
    let others: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(others == 0)
}

/// Changes a user's role and/or disabled flag, refusing to remove the
/// last enabled admin. Disabling ends the user's sessions.
pub fn update_user(
    conn: &Connection,
    id: i64,
    role: Option<&str>,
    disabled: Option<bool>,
) -> Result<UserChange> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let Some(u) = user_by_id(&tx, id)? else {
        return Ok(UserChange::NotFound);
    };
    let role = role.unwrap_or(&u.role);
    let disabled = disabled.unwrap_or(u.disabled);
    let was_admin = u.role == "admin" && !u.disabled;
    let is_admin = role == "admin" && !disabled;
    if was_admin && !is_admin && last_admin(&tx, id)? {
        return Ok(UserChange::LastAdmin);
    }
    tx.execute(
        "UPDATE users SET role = ?2, disabled = ?3 WHERE id = ?1",
        params![id, role, disabled],
    )?;
    if disabled {
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    }
    tx.commit()?;
    Ok(UserChange::Done)
}

/// Deletes a user and their sessions, refusing to remove the last
/// enabled admin.
pub fn delete_user(conn: &Connection, id: i64) -> Result<UserChange> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let Some(u) = user_by_id(&tx, id)? else {
        return Ok(UserChange::NotFound);
    };
    if u.role == "admin" && !u.disabled && last_admin(&tx, id)? {
        return Ok(UserChange::LastAdmin);
    }
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(UserChange::Done)
}

/// Sets a user's password hash and ends their sessions but `keep` (the
/// session of an admin setting their own); false when there is no such
/// user.
pub fn set_password(conn: &Connection, id: i64, hash: &str, keep: &str) -> Result<bool> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2",
        params![id, keep],
    )?;
    tx.commit()?;
    Ok(n == 1)
}

/// Number of users.
pub fn user_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

/// A user by name.
pub fn user_by_name(conn: &Connection, name: &str) -> Result<Option<User>> {
    Ok(conn
        .query_row(
            "SELECT id, username, password_hash, role, disabled FROM users WHERE username = ?1",
            [name],
            user_row,
        )
        .optional()?)
}

/// Creates a user; false when the name is taken.
pub fn create_user(conn: &Connection, name: &str, hash: &str, role: &str) -> Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO users (username, password_hash, role, created) VALUES (?1, ?2, ?3, ?4)",
        params![name, hash, role, now_ns()],
    )?;
    Ok(n == 1)
}

/// Every user (without password hashes).
pub fn users(conn: &Connection) -> Result<Value> {
    let mut st =
        conn.prepare("SELECT id, username, role, created, disabled FROM users ORDER BY id")?;
    let v = st
        .query_map([], |r| {
            Ok(
                json!({"id": r.get::<_, i64>(0)?, "username": r.get::<_, String>(1)?,
                      "role": r.get::<_, String>(2)?, "created": time(r.get(3)?),
                      "disabled": r.get::<_, bool>(4)?}),
            )
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Value::Array(v))
}

/// Stores a session.
pub fn create_session(
    conn: &Connection,
    token_hash: &str,
    user_id: i64,
    csrf: &str,
    expires: i64,
) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE expires < ?1", params![now_ns()])?;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, user_id, csrf, now_ns(), expires],
    )?;
    Ok(())
}

/// The user and CSRF token of a live session.
pub fn session(conn: &Connection, token_hash: &str) -> Result<Option<(User, String)>> {
    Ok(conn
        .query_row(
            "SELECT u.id, u.username, u.password_hash, u.role, u.disabled, s.csrf FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires > ?2 \
             AND u.disabled = 0",
            params![token_hash, now_ns()],
            |r| Ok((user_row(r)?, r.get::<_, String>(5)?)),
        )
        .optional()?)
}

/// Ends a session.
pub fn delete_session(conn: &Connection, token_hash: &str) -> Result<()> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

/// Records a user action.
pub fn audit_user(
    conn: &Connection,
    user: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
    remote: Option<&str>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO user_audit (ts, username, action, target, detail, remote) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now_ns(), user, action, target, detail, remote],
    )?;
    Ok(())
}

/// The user actions, newest first.
pub fn user_audit(conn: &Connection, page: Page) -> Result<Value> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM user_audit", [], |r| r.get(0))?;
    let mut st = conn.prepare(
        "SELECT id, ts, username, action, target, detail, remote FROM user_audit \
         ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    )?;
    let items = st
        .query_map(params![page.limit, page.offset], |r| {
            Ok(json!({
                "id": r.get::<_, i64>(0)?, "timestamp": time(r.get(1)?),
                "username": r.get::<_, String>(2)?, "action": r.get::<_, String>(3)?,
                "target": r.get::<_, Option<String>>(4)?, "detail": r.get::<_, Option<String>>(5)?,
                "remote": r.get::<_, Option<String>>(6)?,
            }))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(page_json(total, page, items))
}

// ---------------------------------------------------------------- login failures

/// Failed logins for a user name (`kind` "user") or an address
/// ("address"): (start of the window, failures), wall clock ns.
pub fn login_failures(conn: &Connection, kind: &str, key: &str) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .query_row(
            "SELECT since, failures FROM login_failures WHERE kind = ?1 AND key = ?2",
            [kind, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Counts a failed login at `now`: a window older than `window_ns` starts
/// again. The table stays bounded: expired windows are dropped, and beyond
/// `max_keys` rows per kind the oldest go.
pub fn login_failure(
    conn: &Connection,
    kind: &str,
    key: &str,
    now: i64,
    window_ns: i64,
    max_keys: i64,
) -> Result<()> {
    conn.execute(
        "DELETE FROM login_failures WHERE since <= ?1",
        [now.saturating_sub(window_ns)],
    )?;
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE kind = ?1",
        [kind],
        |r| r.get(0),
    )?;
    if n >= max_keys {
        conn.execute(
            "DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures \
             WHERE kind = ?1 AND key != ?2 ORDER BY since LIMIT ?3)",
            params![kind, key, n - max_keys + 1],
        )?;
    }
    conn.execute(
        "INSERT INTO login_failures (kind, key, since, failures) VALUES (?1, ?2, ?3, 1) \
         ON CONFLICT (kind, key) DO UPDATE SET \
         failures = CASE WHEN since <= ?3 - ?4 THEN 1 ELSE failures + 1 END, \
         since = CASE WHEN since <= ?3 - ?4 THEN ?3 ELSE since END",
        params![kind, key, now, window_ns],
    )?;
    Ok(())
}

/// Forgets the failures of one key (a successful login).
pub fn login_failures_clear(conn: &Connection, kind: &str, key: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM login_failures WHERE kind = ?1 AND key = ?2",
        [kind, key],
    )?;
    Ok(())
}

// ---------------------------------------------------------------- policies

/// Stores a policy as the current one.
pub fn save_policy(conn: &Connection, name: &str, text: &str, user: &str) -> Result<i64> {
    conn.execute(
        "INSERT INTO policies (name, text, uploaded, username) VALUES (?1, ?2, ?3, ?4)",
        params![name, text, now_ns(), user],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A stored policy: (id, name, TOML text, uploaded (RFC 3339), uploader).
pub type PolicyRecord = (i64, String, String, String, String);

/// The current policy.
pub fn current_policy(conn: &Connection) -> Result<Option<PolicyRecord>> {
    Ok(conn
        .query_row(
            "SELECT id, name, text, uploaded, username FROM policies ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, time(r.get(3)?), r.get(4)?)),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut w = Where::default();
        w.add("a = ?", [Sql::Integer(1)]);
        w.add("(b = ? OR c = ?)", [Sql::Integer(2), Sql::Integer(3)]);
        assert_eq!(w.sql(), " WHERE a = ?1 AND (b = ?2 OR c = ?3)");
        assert_eq!(w.args.len(), 3);
    }

    #[test]
    fn filters_run_against_the_schema() {
        let dir = std::env::temp_dir().join(format!("ps-queries-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        let _ = std::fs::remove_file(&db);
        let conn = crate::platform::open(&db).unwrap();
        let page = Page {
            limit: 10,
            offset: 0,
        };
        let f = EventFilter {
            from: Some(0),
            to: Some(1),
            event_type: Some("modbus".into()),
            protocol: Some("modbus".into()),
            operation: Some("write".into()),
            asset: Some(1),
            alert: Some(1),
            q: Some("50%_\\".into()),
        };
        assert_eq!(events(&conn, &f, page).unwrap()["total"], 0);
        let a = AlertFilter {
            status: Some("open".into()),
            severity: Some("high".into()),
            rule_id: Some("r".into()),
            asset: Some(1),
            assignee: Some("x".into()),
            q: Some("m".into()),
        };
        assert_eq!(alerts(&conn, &a, page).unwrap()["total"], 0);
        let af = AssetFilter {
            role: Some("plc".into()),
            q: Some("x".into()),
        };
        assert_eq!(assets(&conn, &af, page).unwrap()["total"], 0);
        assert_eq!(edges(&conn, Some(1), page).unwrap()["total"], 0);
        assert!(stats(&conn).unwrap()["totals"]["events"] == 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
