//! The platform benchmark (`plantshield-bench platform`): loads a store
//! with synthetic events, alerts, assets and edges, then times the API
//! calls the dashboard and the alert list make, in process (no TLS: the
//! time is the store's and the handler's).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use plantshield_store::platform::{
    self, queries, AlertRow, AssetRow, EdgeRow, EventRow, FileState, Ingest,
};
use serde_json::json;

use crate::api::App;
use crate::auth;
use crate::http::{Handler, Request};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const RULES: &[(&str, &str, &str, &str)] = &[
    ("ps.ics.mode_change", "PLC mode change", "high", "T0858"),
    (
        "ps.ics.program_download",
        "Program download",
        "critical",
        "T0843",
    ),
    ("ps.ics.device_restart", "Device restart", "high", "T0816"),
    (
        "ps.ics.discovery_sweep",
        "Discovery sweep",
        "medium",
        "T0846",
    ),
    ("ps.ics.write_flood", "Write flood", "medium", "T0855"),
    ("ps.net.arp_spoofing", "ARP spoofing", "high", "T0830"),
    ("ps.policy.new_asset", "New asset", "low", "T0848"),
];

const OPS: &[(&str, &str, u32)] = &[
    ("read", "read_holding_registers", 3),
    ("read", "read_coils", 1),
    ("read", "read_input_registers", 4),
    ("write", "write_single_register", 6),
    ("write", "write_multiple_registers", 16),
    ("diagnostics", "diagnostics", 8),
];

/// Loads `events` events, `alerts` alerts over `assets` assets into a new
/// store in `dir`, then times the dashboard (`GET /api/stats`) and alert
/// list (`GET /api/alerts`) calls `runs` times each. Returns a report.
pub fn run(
    dir: &Path,
    events: u64,
    alerts: u64,
    assets: u64,
    runs: usize,
) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let db = crate::db_path(dir);
    if db.exists() {
        return Err(format!("{} exists: give an empty directory", db.display()));
    }
    let mut out = String::new();
    let mut conn = platform::open(&db).map_err(|e| e.to_string())?;
    let FileState::Ingest(file_id) =
        platform::begin_file(&mut conn, "bench", "bench.pcap", 0).map_err(|e| e.to_string())?
    else {
        return Err("bench file already ingested".into());
    };
    let mut ing = Ingest::new(conn, Some(file_id));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t0 = Instant::now();
    let ip = |i: u64| {
        format!(
            "10.{}.{}.{}",
            10 + i / 65536 % 200,
            i / 256 % 256,
            i % 256 + 1
        )
    };
    let start_ns: i64 = 1_795_651_200_000_000_000; // 2026-11-26T00:00:00Z
    let span_ns: i64 = 30 * 86_400 * 1_000_000_000;
    let mut ids = Vec::new();
    for i in 0..assets {
        let a = AssetRow {
            key: format!("ip:{}", ip(i)),
            label: ip(i),
            ips: vec![ip(i)],
            macs: vec![],
            role: if i % 10 == 0 { "plc" } else { "hmi" }.into(),
            purdue_level: Some(if i % 10 == 0 { 1 } else { 2 }),
            vendor: Some("Bench".into()),
            remote: false,
            first_seen: start_ns,
            last_seen: start_ns + span_ns,
            detail: json!({"id": i}).to_string(),
            evidence: vec![],
        };
        ids.push(ing.upsert_asset(&a).map_err(|e| e.to_string())?);
    }
    for i in 0..assets * 4 {
        let c = ids[rng.below(assets) as usize];
        let s = ids[rng.below(assets) as usize];
        let e = EdgeRow {
            client_id: c,
            server_id: s,
            protocol: "modbus".into(),
            transactions: 1000 + i,
            flows: 3,
            bytes_toserver: 10_000 + rng.below(1_000_000),
            bytes_toclient: 10_000 + rng.below(1_000_000),
            first_seen: start_ns,
            last_seen: start_ns + span_ns,
            operations: json!({"read": 900, "write": 100}).to_string(),
        };
        ing.upsert_edge(&e).map_err(|e| e.to_string())?;
    }
    for i in 0..alerts {
        let (id, name, sev, tech) = RULES[rng.below(RULES.len() as u64) as usize];
        let ts = start_ns + (rng.below(span_ns as u64) as i64);
        let a = AlertRow {
            rule_id: id.into(),
            rule: name.into(),
            severity: sev.into(),
            techniques: vec![tech.into()],
            message: format!("bench alert {i}"),
            protocol: Some("modbus".into()),
            src_ip: Some(ip(rng.below(assets))),
            dest_ip: Some(ip(rng.below(assets))),
            count: 1 + rng.below(20),
            first_seen: ts,
            last_seen: ts + 1_000_000_000,
            events: "[]".into(),
        };
        ing.alert(&a).map_err(|e| e.to_string())?;
    }
    let t_meta = t0.elapsed();
    let t1 = Instant::now();
    for i in 0..events {
        let (op, func, fc) = OPS[rng.below(OPS.len() as u64) as usize];
        let src = ip(rng.below(assets));
        let dst = ip(rng.below(assets));
        let ts = start_ns + (i as i64) * (span_ns / events.max(1) as i64);
        let line = format!(
            "{{\"timestamp\":\"{}\",\"flow_id\":{},\"event_type\":\"modbus\",\"src_ip\":\"{src}\",\"src_port\":40000,\"dest_ip\":\"{dst}\",\"dest_port\":502,\"proto\":\"TCP\",\"app_proto\":\"modbus\",\"sensor\":\"plantshield\",\"modbus\":{{\"transaction_id\":{},\"unit_id\":1,\"function_code\":{fc},\"function\":\"{func}\",\"address\":{},\"quantity\":10}},\"ics\":{{\"protocol\":\"modbus\",\"function_code\":{fc},\"function\":\"{func}\",\"operation\":\"{op}\",\"status\":\"ok\"}}}}",
            queries::time(ts),
            i % 5000,
            i % 65536,
            rng.below(1000)
        );
        ing.event(EventRow {
            ts_ns: ts,
            event_type: "modbus".into(),
            protocol: Some("modbus".into()),
            operation: Some(op.into()),
            status: Some("ok".into()),
            src_ip: Some(src),
            dest_ip: Some(dst),
            alert_id: None,
            flow_id: Some(i % 5000),
            json: line,
        })
        .map_err(|e| e.to_string())?;
    }
    ing.flush().map_err(|e| e.to_string())?;
    let t_events = t1.elapsed();
    let t2 = Instant::now();
    ing.finish().map_err(|e| e.to_string())?;
    let t_finish = t2.elapsed();
    drop(ing);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let _ = writeln!(
        out,
        "loaded {assets} assets, {} edges, {alerts} alerts in {:.1} s; {events} events in {:.1} s ({:.0} events/s); \
         resolving asset ids and finishing: {:.1} s; store {:.0} MiB",
        assets * 4,
        t_meta.as_secs_f64(),
        t_events.as_secs_f64(),
        events as f64 / t_events.as_secs_f64().max(1e-9),
        t_finish.as_secs_f64(),
        size as f64 / 1048576.0
    );
    // A session, as a logged-in browser has.
    let app = App::new(db.clone(), auth::Limits::default())?;
    let token = auth::random_hex(32);
    {
        let c = plantshield_store::open(&db).map_err(|e| e.to_string())?;
        let hash = auth::hash_password("bench password").map_err(|e| e.to_string())?;
        queries::create_user(&c, "bench", &hash, "viewer").map_err(|e| e.to_string())?;
        let u = queries::user_by_name(&c, "bench")
            .map_err(|e| e.to_string())?
            .ok_or("no user")?;
        queries::create_session(
            &c,
            &auth::token_hash(&token),
            u.id,
            "x",
            platform::now_ns() + 3_600_000_000_000,
        )
        .map_err(|e| e.to_string())?;
    }
    // An asset in the middle of the id range, a day of the 30, an hour.
    let asset = ids[ids.len() / 2];
    let calls: Vec<String> = vec![
        "/api/stats".into(),
        "/api/alerts".into(),
        "/api/alerts?status=open&limit=100".into(),
        "/api/assets".into(),
        "/api/events?limit=100".into(),
        // The filtered searches of the event page.
        "/api/events?protocol=modbus&operation=write&limit=100".into(),
        "/api/events?protocol=modbus&operation=diagnostics&limit=100".into(),
        format!("/api/events?asset={asset}&limit=100"),
        format!("/api/events?asset={asset}&operation=write&limit=100"),
        "/api/events?from=2026-12-10&to=2026-12-11&limit=100".into(),
        "/api/events?from=2026-12-10T05:00:00Z&to=2026-12-10T06:00:00Z&limit=100".into(),
        "/api/events?from=2026-12-10&to=2026-12-11&operation=write&limit=100".into(),
        "/api/events?q=write_multiple_registers&limit=100".into(),
        "/api/events?q=10.10.1.77&limit=100".into(),
        "/api/events?q=transaction_id%22:65000,&limit=100".into(),
        "/api/events?q=no-such-text&limit=100".into(),
    ];
    let _ = writeln!(
        out,
        "{:<75} {:>9} {:>9} {:>9} {:>7} {:>6}",
        "call", "first ms", "median ms", "max ms", "total", "exact"
    );
    for path in &calls {
        let path = path.as_str();
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        let req = Request {
            method: "GET".into(),
            path: p.into(),
            query: q
                .split('&')
                .filter(|s| !s.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| {
                    let v = crate::http::percent_decode(v, true).unwrap_or_default();
                    (k.to_string(), v)
                })
                .collect(),
            headers: vec![("cookie".into(), format!("{}={token}", auth::COOKIE))],
            body: vec![],
            remote: "127.0.0.1".parse().map_err(|_| "ip")?,
        };
        let mut times: Vec<Duration> = Vec::new();
        let mut total = (String::new(), String::new());
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let r = app.handle(&req);
            times.push(t.elapsed());
            if r.status != 200 {
                return Err(format!("{path}: status {}", r.status));
            }
            if let crate::http::Body::Bytes(b) = &r.body {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap_or_default();
                total = (
                    v["total"]
                        .as_i64()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    v["total_exact"]
                        .as_bool()
                        .map(|b| b.to_string())
                        .unwrap_or_default(),
                );
            }
        }
        let first = times[0];
        times.sort();
        let _ = writeln!(
            out,
            "{:<75} {:>9.1} {:>9.1} {:>9.1} {:>7} {:>6}",
            path,
            first.as_secs_f64() * 1e3,
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            total.0,
            total.1
        );
    }
    Ok(out)
}
