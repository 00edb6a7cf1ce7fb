//! The plant security report: one self-contained HTML file drawn from the
//! platform store (`plantshield report`, `GET /api/report`).
//!
//! [`collect`] reads the store with the same queries as the platform's
//! dashboard ([`queries::stats`], [`queries::all_assets`],
//! [`queries::risk_by_zone`], [`queries::edges`]) and zones named by
//! [`policy::zone_name`], so the report and the dashboard agree;
//! [`Report::to_html`] writes the page: inline CSS with A4 print rules,
//! charts as inline SVG, no script and no external resource but the links
//! to ATT&CK for ICS techniques. Every value that comes from traffic is
//! escaped ([`html::esc`]).
//!
//! The key figures carry `data-figure`/`data-value` attributes (and table
//! rows `data-technique`, `data-asset`, `data-zone`; recommendations
//! `data-rec`) so that scripts and tests can read them back.

#![forbid(unsafe_code)]

pub mod html;
mod techniques;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use plantshield_engine::policy::{self, Policy};
use plantshield_store::platform::queries;
use plantshield_store::Result;
use rusqlite::Connection;
use serde_json::Value;

use html::{bar_chart, esc, table, technique_link, Bar};
pub use techniques::technique_name;

/// The PlantShield version written on the title page.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Rows shown in the longer tables (the counts above them are complete).
pub const TABLE_ROWS: usize = 25;

/// What the title page says besides the data.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The site's name.
    pub site: Option<String>,
    /// When the report was made, ns since the epoch.
    pub generated_ns: i64,
}

/// One alert as the report uses it.
#[derive(Debug, Clone)]
pub struct AlertInfo {
    /// Platform id.
    pub id: i64,
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub rule: String,
    /// Severity name.
    pub severity: String,
    /// Severity rank, low 1 .. critical 4.
    pub sev_rank: i64,
    /// ATT&CK for ICS technique ids.
    pub techniques: Vec<String>,
    /// Message.
    pub message: String,
    /// Protocol.
    pub protocol: Option<String>,
    /// Source address.
    pub src_ip: Option<String>,
    /// Destination address.
    pub dest_ip: Option<String>,
    /// Occurrences.
    pub count: i64,
    /// open, acknowledged, closed.
    pub status: String,
}

impl AlertInfo {
    /// Risk weight: critical 10, high 5, medium 2, low 1 (the dashboard's).
    pub fn weight(&self) -> i64 {
        match self.sev_rank {
            4 => 10,
            3 => 5,
            2 => 2,
            _ => 1,
        }
    }
}

/// One communication edge.
#[derive(Debug, Clone)]
pub struct EdgeInfo {
    /// Client asset id.
    pub client: i64,
    /// Server asset id.
    pub server: i64,
    /// Protocol.
    pub protocol: String,
    /// Transactions.
    pub transactions: i64,
    /// Operation name to count.
    pub operations: BTreeMap<String, i64>,
}

/// One recommendation, with the evidence that triggered it.
#[derive(Debug, Clone)]
pub struct Recommendation {
    /// Stable id (`data-rec`).
    pub id: &'static str,
    /// What to do, in a line.
    pub title: &'static str,
    /// Why and how.
    pub advice: &'static str,
    /// What in the data triggered it (plain text; escaped when written).
    pub evidence: Vec<String>,
}

/// Everything the report shows, read from the store.
#[derive(Debug, Clone)]
pub struct Report {
    /// First and last event (capture time, ns), when there are events.
    pub period: Option<(i64, i64)>,
    /// The dashboard's statistics ([`queries::stats`]).
    pub stats: Value,
    /// Every asset ([`queries::all_assets`]) with its `zone`.
    pub assets: Vec<Value>,
    /// Risk by zone ([`queries::risk_by_zone`]).
    pub zones: Vec<Value>,
    /// Zones from the policy (true) or subnets.
    pub zones_from_policy: bool,
    /// The policy's summary line, when there is one.
    pub policy: Option<PolicySummary>,
    /// Every alert.
    pub alerts: Vec<AlertInfo>,
    /// Every edge.
    pub edges: Vec<EdgeInfo>,
    /// The busiest edges ([`queries::edges`]).
    pub top_edges: Vec<Value>,
    /// Identity per asset id: attribute (firmware, model, product,
    /// product_code) to its most confident value.
    pub identity: HashMap<i64, BTreeMap<String, String>>,
    /// Address to asset id.
    pub ip_asset: HashMap<String, i64>,
    /// The captures ingested.
    pub captures: Vec<Value>,
}

/// What the report says about the policy.
#[derive(Debug, Clone)]
pub struct PolicySummary {
    /// Zones.
    pub zones: usize,
    /// Conduits.
    pub conduits: usize,
    /// Deny rules.
    pub denies: usize,
    /// Baseline assets (None: no baseline).
    pub baseline_assets: Option<usize>,
}

fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// Reads what the report needs from the platform store; `policy` names
/// the zones (the platform's current policy, or the one given to
/// `plantshield report`).
pub fn collect(conn: &Connection, policy: Option<&Policy>) -> Result<Report> {
    let stats = queries::stats(conn)?;
    let mut assets = queries::all_assets(conn)?;
    for a in &mut assets {
        let z = policy::zone_name(policy, &queries::asset_ips(a));
        a["zone"] = Value::String(z);
    }
    let zones = queries::risk_by_zone(&assets, |a| a["zone"].as_str().unwrap_or("").to_string());
    let period: (Option<i64>, Option<i64>) =
        conn.query_row("SELECT MIN(ts_ns), MAX(ts_ns) FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let period = match period {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let alerts = {
        let mut st = conn.prepare(
            "SELECT id, rule_id, rule, severity, sev_rank, techniques, message, protocol, \
             src_ip, dest_ip, count, status FROM alerts ORDER BY id",
        )?;
        let v = st
            .query_map([], |r| {
                let t: String = r.get(5)?;
                Ok(AlertInfo {
                    id: r.get(0)?,
                    rule_id: r.get(1)?,
                    rule: r.get(2)?,
                    severity: r.get(3)?,
                    sev_rank: r.get(4)?,
                    techniques: json_text(&t)
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                    message: r.get(6)?,
                    protocol: r.get(7)?,
                    src_ip: r.get(8)?,
                    dest_ip: r.get(9)?,
                    count: r.get(10)?,
                    status: r.get(11)?,
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v
    };
    let edges = {
        let mut st = conn.prepare(
            "SELECT client_id, server_id, protocol, transactions, operations FROM edges ORDER BY id",
        )?;
        let v = st
            .query_map([], |r| {
                let ops: String = r.get(4)?;
                let operations = json_text(&ops)
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(EdgeInfo {
                    client: r.get(0)?,
                    server: r.get(1)?,
                    protocol: r.get(2)?,
                    transactions: r.get(3)?,
                    operations,
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        v
    };
    let top_edges = queries::edges(
        conn,
        None,
        queries::Page {
            limit: TABLE_ROWS as i64,
            offset: 0,
        },
    )?["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut identity: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
    {
        let mut st = conn.prepare(
            "SELECT asset_id, attribute, value FROM asset_evidence WHERE attribute IN \
             ('firmware', 'model', 'product', 'product_code') \
             ORDER BY asset_id, attribute, confidence DESC, last_seen DESC",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, attr, value) = row?;
            identity.entry(id).or_default().entry(attr).or_insert(value);
        }
    }
    let ip_asset = {
        let mut st = conn.prepare("SELECT ip, asset_id FROM asset_ips")?;
        let v = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<std::result::Result<HashMap<_, _>, _>>()?;
        v
    };
    let captures = queries::files(conn)?
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(Report {
        period,
        stats,
        assets,
        zones,
        zones_from_policy: policy.is_some(),
        policy: policy.map(|p| PolicySummary {
            zones: p.zones.len(),
            conduits: p.conduits.len(),
            denies: p.denies.len(),
            baseline_assets: p.baseline.as_ref().map(|b| b.assets.len()),
        }),
        alerts,
        edges,
        top_edges,
        identity,
        ip_asset,
        captures,
    })
}

/// Reads the store and writes the report's HTML.
pub fn render(conn: &Connection, policy: Option<&Policy>, opts: &Options) -> Result<String> {
    Ok(collect(conn, policy)?.to_html(opts))
}

const SEVERITIES: [(&str, &str); 4] = [
    ("critical", "#7f1d1d"),
    ("high", "#dc2626"),
    ("medium", "#f59e0b"),
    ("low", "#3b82f6"),
];

const BLUE: &str = "#2563eb";
const TEAL: &str = "#0f766e";
const RED: &str = "#b91c1c";

/// Protocols whose messages carry no authentication of the sender (in
/// the form PlantShield decodes): anyone who reaches the device can send
/// what its master sends.
pub const UNAUTHENTICATED: &[&str] = &["modbus", "dnp3", "iec104", "s7comm", "enip", "bacnet"];

/// Operations that change a device's state.
const CHANGING: &[&str] = &[
    "write",
    "command",
    "program_download",
    "mode_change",
    "firmware",
];

/// Rules about controlling or reprogramming a device, which should come
/// from engineering workstations only.
const ENGINEERING_RULES: &[&str] = &[
    "ps.ics.program_download",
    "ps.ics.mode_change",
    "ps.ics.firmware",
    "ps.ics.device_restart",
];

/// Controller roles, whose firmware should be known.
const CONTROLLERS: &[&str] = &["plc", "rtu", "ied"];

fn time_text(ns: i64) -> String {
    let t = queries::time(ns);
    format!(
        "{} UTC",
        t.get(..19).unwrap_or(t.as_str()).replace('T', " ")
    )
}

fn figure(name: &str, value: i64) -> String {
    format!("<span class=\"fig\" data-figure=\"{name}\" data-value=\"{value}\">{value}</span>")
}

fn count_by<'a>(it: impl Iterator<Item = &'a str>) -> Vec<(String, i64)> {
    let mut m: BTreeMap<String, i64> = BTreeMap::new();
    for k in it {
        *m.entry(k.to_string()).or_default() += 1;
    }
    let mut v: Vec<(String, i64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn purdue_name(level: Option<i64>) -> String {
    match level {
        Some(0) => "Level 0: process".into(),
        Some(1) => "Level 1: basic control".into(),
        Some(2) => "Level 2: supervisory control".into(),
        Some(3) => "Level 3: site operations".into(),
        Some(n) => format!("Level {n}: enterprise"),
        None => "unknown".into(),
    }
}

/// A finding: the alerts of one rule.
struct Finding<'a> {
    rule_id: &'a str,
    rule: &'a str,
    severity: &'a str,
    sev_rank: i64,
    alerts: i64,
    occurrences: i64,
    pairs: BTreeSet<String>,
}

impl Report {
    fn asset_label(&self, ip: Option<&str>) -> String {
        let Some(ip) = ip else {
            return "—".into();
        };
        let label = self
            .ip_asset
            .get(ip)
            .and_then(|id| self.assets.iter().find(|a| a["id"].as_i64() == Some(*id)))
            .and_then(|a| a["label"].as_str());
        match label {
            Some(l) if l != ip => format!("{l} ({ip})"),
            _ => ip.to_string(),
        }
    }

    fn asset_by_ip(&self, ip: Option<&str>) -> Option<&Value> {
        let id = *self.ip_asset.get(ip?)?;
        self.assets.iter().find(|a| a["id"].as_i64() == Some(id))
    }

    /// Alerts by technique: technique, alerts, occurrences, rules.
    pub fn techniques(&self) -> Vec<(String, i64, i64, BTreeSet<String>)> {
        let mut m: BTreeMap<String, (i64, i64, BTreeSet<String>)> = BTreeMap::new();
        for a in &self.alerts {
            for t in &a.techniques {
                let e = m.entry(t.clone()).or_default();
                e.0 += 1;
                e.1 += a.count;
                e.2.insert(a.rule_id.clone());
            }
        }
        let mut v: Vec<_> = m.into_iter().map(|(t, (n, c, r))| (t, n, c, r)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    fn findings(&self) -> Vec<Finding<'_>> {
        let mut m: BTreeMap<&str, Finding<'_>> = BTreeMap::new();
        for a in &self.alerts {
            let f = m.entry(&a.rule_id).or_insert_with(|| Finding {
                rule_id: &a.rule_id,
                rule: &a.rule,
                severity: &a.severity,
                sev_rank: a.sev_rank,
                alerts: 0,
                occurrences: 0,
                pairs: BTreeSet::new(),
            });
            f.alerts += 1;
            f.occurrences += a.count;
            f.pairs.insert(format!(
                "{} → {}",
                self.asset_label(a.src_ip.as_deref()),
                self.asset_label(a.dest_ip.as_deref())
            ));
        }
        let mut v: Vec<_> = m.into_values().collect();
        v.sort_by(|a, b| {
            b.sev_rank
                .cmp(&a.sev_rank)
                .then(b.alerts.cmp(&a.alerts))
                .then(b.occurrences.cmp(&a.occurrences))
                .then(a.rule_id.cmp(b.rule_id))
        });
        v
    }

    /// What drives each asset's risk: per asset id, rule id to (alerts,
    /// risk points), over the alerts that are not closed (the alerts the
    /// dashboard's risk counts, with the same weights).
    pub fn risk_drivers(&self) -> HashMap<i64, BTreeMap<String, (i64, i64)>> {
        let mut m: HashMap<i64, BTreeMap<String, (i64, i64)>> = HashMap::new();
        for a in self.alerts.iter().filter(|a| a.status != "closed") {
            let mut ips: Vec<&str> = [a.src_ip.as_deref(), a.dest_ip.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            ips.dedup();
            for ip in ips {
                if let Some(id) = self.ip_asset.get(ip) {
                    let e = m
                        .entry(*id)
                        .or_default()
                        .entry(a.rule_id.clone())
                        .or_default();
                    e.0 += 1;
                    e.1 += a.weight();
                }
            }
        }
        m
    }

    fn alerts_of(&self, prefix: &str) -> Vec<&AlertInfo> {
        self.alerts
            .iter()
            .filter(|a| a.rule_id.starts_with(prefix))
            .collect()
    }

    /// The recommendations the data triggers, each with its evidence.
    pub fn recommendations(&self) -> Vec<Recommendation> {
        let mut out = Vec::new();
        let line = |a: &AlertInfo| {
            format!(
                "alert #{} {} ({}): {} → {}, {} time{}",
                a.id,
                a.rule_id,
                a.severity,
                self.asset_label(a.src_ip.as_deref()),
                self.asset_label(a.dest_ip.as_deref()),
                a.count,
                if a.count == 1 { "" } else { "s" }
            )
        };
        // Programming and mode changes from hosts that are not engineering workstations.
        let ev: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| ENGINEERING_RULES.contains(&a.rule_id.as_str()))
            .filter(|a| {
                self.asset_by_ip(a.src_ip.as_deref())
                    .and_then(|s| s["role"].as_str())
                    != Some("engineering_workstation")
            })
            .map(|a| {
                let role = self
                    .asset_by_ip(a.src_ip.as_deref())
                    .and_then(|s| s["role"].as_str())
                    .unwrap_or("unknown");
                format!("{} (source role: {role})", line(a))
            })
            .collect();
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "engineering-only",
                title: "Allow program downloads, mode changes, restarts and firmware changes from engineering workstations only",
                advice: "These operations came from hosts that are not engineering workstations. Confirm with the control engineers whether each was planned; if not, treat the source as compromised. Then enforce it: a conduit that carries these operations from the engineering workstation only, and a deny rule for every other source (docs/policy.md).",
                evidence: ev,
            });
        }
        // Scans and unanswered request storms.
        let ev: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| {
                a.rule_id == "ps.ics.discovery_sweep" || a.rule_id == "ps.ics.unanswered_storm"
            })
            .map(|a| format!("{}: {}", line(a), a.message))
            .collect();
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "scans",
                title: "Find out why hosts probe devices that refuse or do not answer",
                advice: "Sweeps across addresses, unit ids or function codes, and requests left unanswered, are how reconnaissance looks on the wire (or a misconfigured master). Identify the process on the source host; if it is an asset management tool, accept it for that host in the policy; otherwise isolate the host.",
                evidence: ev,
            });
        }
        // State-changing operations over protocols without authentication.
        let label = |id: i64| {
            self.assets
                .iter()
                .find(|a| a["id"].as_i64() == Some(id))
                .and_then(|a| a["label"].as_str())
                .unwrap_or("?")
                .to_string()
        };
        let mut ev: Vec<(i64, String)> = self
            .edges
            .iter()
            .filter(|e| UNAUTHENTICATED.contains(&e.protocol.as_str()))
            .filter_map(|e| {
                let ops: Vec<String> = CHANGING
                    .iter()
                    .filter_map(|o| e.operations.get(*o).filter(|n| **n > 0).map(|n| (o, n)))
                    .map(|(o, n)| format!("{n} {o}"))
                    .collect();
                let total: i64 = CHANGING.iter().filter_map(|o| e.operations.get(*o)).sum();
                (total > 0).then(|| {
                    (
                        total,
                        format!(
                            "{} → {} over {}: {}",
                            label(e.client),
                            label(e.server),
                            e.protocol,
                            ops.join(", ")
                        ),
                    )
                })
            })
            .collect();
        ev.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "cleartext-control",
                title: "Restrict who may send writes and commands over unauthenticated protocols",
                advice: "These protocols carry no proof of who sent a message: any host that reaches the device can write and command like its master. Limit each to its known masters with zones and conduits (operations and address ranges), and plan the authenticated variants where the devices support them (Modbus/TCP Security, DNP3 Secure Authentication, IEC 62351 for IEC 104, CIP Security, S7 protection levels).",
                evidence: ev.into_iter().map(|(_, s)| s).collect(),
            });
        }
        // Controllers whose firmware is unknown.
        let ev: Vec<String> = self
            .assets
            .iter()
            .filter(|a| CONTROLLERS.contains(&a["role"].as_str().unwrap_or("")))
            .filter(|a| {
                a["id"]
                    .as_i64()
                    .and_then(|id| self.identity.get(&id))
                    .is_none_or(|m| !m.contains_key("firmware"))
            })
            .map(|a| {
                format!(
                    "{} ({}, vendor {})",
                    a["label"].as_str().unwrap_or("?"),
                    a["role"].as_str().unwrap_or("?"),
                    a["vendor"].as_str().unwrap_or("unknown")
                )
            })
            .collect();
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "firmware-unknown",
                title: "Record the firmware of controllers whose version the traffic did not reveal",
                advice: "Vulnerability advisories name firmware versions; without them these controllers cannot be checked. Read the versions with the vendor's tools (or let PlantShield see an identification request) and keep them in the asset register.",
                evidence: ev,
            });
        }
        // Policy gaps.
        match &self.policy {
            None if !self.assets.is_empty() => {
                out.push(Recommendation {
                    id: "no-policy",
                    title: "Define zones and conduits, and learn a baseline",
                    advice: "No policy was in force, so no traffic was checked against what should happen. Group the assets into zones (IEC 62443), write the conduits between them, and learn a baseline from a normal week (`plantshield learn`).",
                    evidence: vec![format!(
                        "{} assets in {} subnets, no zones, conduits or baseline",
                        self.assets.len(),
                        self.zones.len()
                    )],
                });
            }
            Some(p) if p.baseline_assets.is_none() => {
                out.push(Recommendation {
                    id: "no-baseline",
                    title: "Learn a baseline to add to the policy",
                    advice: "The policy checks zones and conduits but no baseline: new devices, new pairs and new function codes inside a zone go unnoticed. Learn one from normal traffic (`plantshield learn`) and give it with the policy.",
                    evidence: vec![format!(
                        "the policy has {} zones, {} conduits, {} deny rules and no baseline",
                        p.zones, p.conduits, p.denies
                    )],
                });
            }
            _ => {}
        }
        let ev: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| a.rule_id == "ps.policy.conduit_violation" || a.rule_id == "ps.policy.deny")
            .map(|a| format!("{}: {}", line(a), a.message))
            .collect();
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "policy-violations",
                title: "Resolve every conduit violation and deny hit",
                advice: "Each is traffic the policy forbids. Either it is legitimate and the policy has a gap (add or widen the conduit), or it is not and the source must be stopped: decide for each pair, so that violations mean something again.",
                evidence: ev,
            });
        }
        let ev: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| a.rule_id == "ps.baseline.new_asset")
            .map(|a| format!("{}: {}", line(a), a.message))
            .collect();
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "new-devices",
                title: "Identify the devices the baseline does not know",
                advice: "A device that appears on the control network is a laptop, a replaced part or a rogue device. Find its owner; add it to the baseline once approved, remove it otherwise.",
                evidence: ev,
            });
        }
        let ev: Vec<String> = self
            .alerts
            .iter()
            .filter(|a| a.rule_id == "ps.net.arp_spoofing")
            .map(|a| format!("{}: {}", line(a), a.message))
            .collect();
        if !ev.is_empty() {
            out.push(Recommendation {
                id: "arp-spoofing",
                title: "Check for a man in the middle where addresses changed hands",
                advice: "ARP said an address moved to another MAC. If no device was replaced, a host is intercepting traffic: find the MAC's switch port, and use port security, DHCP snooping with dynamic ARP inspection, or static ARP entries on the controllers' segment.",
                evidence: ev,
            });
        }
        out
    }

    /// The report as one self-contained HTML page.
    pub fn to_html(&self, opts: &Options) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let site = opts.site.as_deref().unwrap_or("PlantShield plant");
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"generator\" content=\"PlantShield {VERSION}\">\
             <title>Plant security report: {}</title><style>{CSS}</style></head><body>",
            esc(site)
        );
        self.title_page(&mut h, site, opts);
        self.summary(&mut h);
        self.inventory(&mut h);
        self.risk(&mut h);
        self.by_technique(&mut h);
        self.violations(&mut h);
        self.communications(&mut h);
        self.recommendations_section(&mut h);
        h.push_str("</body></html>\n");
        h
    }

    fn title_page(&self, h: &mut String, site: &str, opts: &Options) {
        let period = match self.period {
            Some((a, b)) => format!(
                "<span data-figure=\"period\" data-from=\"{}\" data-to=\"{}\">{} to {}</span>",
                queries::time(a),
                queries::time(b),
                time_text(a),
                time_text(b)
            ),
            None => "no events".into(),
        };
        let caps = self.captures.len();
        let _ = write!(
            h,
            "<section id=\"title\" class=\"title\"><h1>Plant security report</h1>\
             <p class=\"site\" data-figure=\"site\">{}</p><table class=\"meta\">\
             <tr><th>Period covered</th><td>{period}</td></tr>\
             <tr><th>Generated</th><td>{}</td></tr>\
             <tr><th>Captures</th><td>{}</td></tr>\
             <tr><th>PlantShield</th><td>version <span data-figure=\"version\">{VERSION}</span></td></tr>\
             </table><p class=\"note\">The period is capture time, from the first to the last event \
             in the store. Risk: the sum over an asset's alerts that are not closed, weighted critical 10, \
             high 5, medium 2, low 1; a zone's risk is the sum over its assets.</p></section>",
            esc(site),
            time_text(opts.generated_ns),
            figure("captures", caps as i64),
        );
    }

    fn summary(&self, h: &mut String) {
        let totals = &self.stats["totals"];
        let n_alerts = self.alerts.len() as i64;
        let open = self.alerts.iter().filter(|a| a.status == "open").count() as i64;
        let _ = write!(
            h,
            "<section id=\"summary\"><h2>Executive summary</h2><div class=\"cards\">\
             <div class=\"card\"><b>{}</b>assets</div>\
             <div class=\"card\"><b>{}</b>alerts ({} open)</div>\
             <div class=\"card\"><b>{}</b>events</div>\
             <div class=\"card\"><b>{}</b>communication edges</div></div>",
            figure("assets", self.assets.len() as i64),
            figure("alerts", n_alerts),
            figure("alerts-open", open),
            figure("events", totals["events"].as_i64().unwrap_or(0)),
            figure("edges", totals["edges"].as_i64().unwrap_or(0)),
        );
        h.push_str("<h3>Alerts by severity</h3>");
        let bars: Vec<Bar> = SEVERITIES
            .iter()
            .map(|(s, c)| Bar {
                label: s.to_string(),
                value: self.alerts.iter().filter(|a| a.severity == *s).count() as i64,
                color: c,
            })
            .collect();
        h.push_str("<p>");
        for b in &bars {
            let _ = write!(
                h,
                "{}: {} &nbsp; ",
                b.label,
                figure(&format!("severity-{}", b.label), b.value)
            );
        }
        h.push_str("</p>");
        h.push_str(&bar_chart("Alerts by severity", &bars));
        h.push_str("<h3>Top findings</h3>");
        let f = self.findings();
        if f.is_empty() {
            h.push_str("<p>No alert was raised in the period.</p>");
        } else {
            h.push_str("<ol class=\"findings\">");
            for x in f.iter().take(3) {
                let pairs: Vec<&String> = x.pairs.iter().take(3).collect();
                let more = x.pairs.len().saturating_sub(3);
                let _ = write!(
                    h,
                    "<li data-finding=\"{}\"><b>{}</b> <span class=\"sev {}\">{}</span>: {} alert{}, \
                     {} occurrence{}; {}{}</li>",
                    esc(x.rule_id),
                    esc(x.rule),
                    esc(x.severity),
                    esc(x.severity),
                    x.alerts,
                    if x.alerts == 1 { "" } else { "s" },
                    x.occurrences,
                    if x.occurrences == 1 { "" } else { "s" },
                    pairs.iter().map(|p| esc(p)).collect::<Vec<_>>().join("; "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                );
            }
            h.push_str("</ol>");
        }
        h.push_str("<h3>Highest risk</h3><div class=\"two\"><div><h4>Assets</h4>");
        let mut ranked: Vec<&Value> = self
            .assets
            .iter()
            .filter(|a| a["risk"].as_i64().unwrap_or(0) > 0)
            .collect();
        ranked.sort_by_key(|a| -a["risk"].as_i64().unwrap_or(0));
        if ranked.is_empty() {
            h.push_str("<p>No asset has open alerts.</p>");
        } else {
            h.push_str("<ol>");
            for a in ranked.iter().take(5) {
                let _ = write!(
                    h,
                    "<li>{} ({}): risk {}</li>",
                    esc(a["label"].as_str().unwrap_or("")),
                    esc(a["role"].as_str().unwrap_or("")),
                    a["risk"]
                );
            }
            h.push_str("</ol>");
        }
        h.push_str("</div><div><h4>Zones</h4>");
        let zones: Vec<&Value> = self
            .zones
            .iter()
            .filter(|z| z["risk"].as_i64().unwrap_or(0) > 0)
            .collect();
        if zones.is_empty() {
            h.push_str("<p>No zone has open alerts.</p>");
        } else {
            h.push_str("<ol>");
            for z in zones.iter().take(5) {
                let _ = write!(
                    h,
                    "<li>{}: risk {} ({} assets)</li>",
                    esc(z["zone"].as_str().unwrap_or("")),
                    z["risk"],
                    z["assets"]
                );
            }
            h.push_str("</ol>");
        }
        h.push_str("</div></div></section>");
    }

    fn inventory(&self, h: &mut String) {
        let _ = write!(
            h,
            "<section id=\"inventory\"><h2>Inventory summary</h2><p>{} assets, identified \
             passively from the traffic (identity, role and Purdue level with their evidence in \
             the platform's asset pages).</p>",
            self.assets.len()
        );
        let chart = |h: &mut String, title: &str, key: &str, rows: Vec<(String, i64)>| {
            let bars: Vec<Bar> = rows
                .into_iter()
                .take(15)
                .map(|(l, v)| Bar {
                    label: l,
                    value: v,
                    color: BLUE,
                })
                .collect();
            let _ = write!(
                h,
                "<div class=\"chartbox\" data-breakdown=\"{key}\"><h3>{title}</h3>"
            );
            h.push_str(&bar_chart(title, &bars));
            h.push_str("</div>");
        };
        chart(
            h,
            "By role",
            "role",
            count_by(
                self.assets
                    .iter()
                    .map(|a| a["role"].as_str().unwrap_or("unknown")),
            ),
        );
        chart(
            h,
            "By vendor",
            "vendor",
            count_by(
                self.assets
                    .iter()
                    .map(|a| a["vendor"].as_str().unwrap_or("unknown")),
            ),
        );
        let levels: Vec<String> = self
            .assets
            .iter()
            .map(|a| purdue_name(a["purdue_level"].as_i64()))
            .collect();
        chart(
            h,
            "By Purdue level",
            "purdue",
            count_by(levels.iter().map(String::as_str)),
        );
        let zone_title = if self.zones_from_policy {
            "By zone (policy zones)"
        } else {
            "By zone (subnets: no policy)"
        };
        chart(
            h,
            zone_title,
            "zone",
            self.zones
                .iter()
                .map(|z| {
                    (
                        z["zone"].as_str().unwrap_or("").to_string(),
                        z["assets"].as_i64().unwrap_or(0),
                    )
                })
                .collect(),
        );
        let mut by_proto: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
        for e in &self.edges {
            let s = by_proto.entry(&e.protocol).or_default();
            s.insert(e.client);
            s.insert(e.server);
        }
        let mut pr: Vec<(String, i64)> = by_proto
            .into_iter()
            .map(|(p, s)| (p.to_string(), s.len() as i64))
            .collect();
        pr.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        chart(h, "Assets by protocol spoken", "protocol", pr);
        // Firmware versions: vendor, model, firmware -> assets.
        let mut fw: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for a in &self.assets {
            let Some(id) = a["id"].as_i64() else { continue };
            let Some(m) = self.identity.get(&id) else {
                continue;
            };
            let Some(f) = m.get("firmware") else { continue };
            let model = m
                .get("model")
                .or_else(|| m.get("product"))
                .or_else(|| m.get("product_code"))
                .cloned()
                .unwrap_or_default();
            fw.entry((
                a["vendor"].as_str().unwrap_or("").to_string(),
                model,
                f.clone(),
            ))
            .or_default()
            .push(a["label"].as_str().unwrap_or("").to_string());
        }
        let n_fw: usize = fw.values().map(Vec::len).sum();
        let _ = write!(
            h,
            "<h3>Firmware versions</h3><p>{} assets report a firmware version.</p>",
            figure("assets-with-firmware", n_fw as i64)
        );
        if !fw.is_empty() {
            let rows: Vec<(String, Vec<String>)> = fw
                .iter()
                .take(TABLE_ROWS * 2)
                .map(|((v, m, f), labels)| {
                    (
                        String::new(),
                        vec![
                            esc(v),
                            esc(m),
                            format!("<code>{}</code>", esc(f)),
                            esc(&labels.join(", ")),
                        ],
                    )
                })
                .collect();
            h.push_str(&table(
                &["vendor", "model or product", "firmware", "assets"],
                &rows,
            ));
        }
        h.push_str(
            "<h3>Newest assets</h3><p>The assets seen last for the first time (capture time).</p>",
        );
        let rows: Vec<(String, Vec<String>)> = self.stats["new_assets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    String::new(),
                    vec![
                        esc(a["label"].as_str().unwrap_or("")),
                        esc(a["role"].as_str().unwrap_or("")),
                        esc(a["vendor"].as_str().unwrap_or("")),
                        esc(&a["first_seen"]
                            .as_str()
                            .map(|t| format!("{} UTC", t.get(..19).unwrap_or(t).replace('T', " ")))
                            .unwrap_or_default()),
                    ],
                )
            })
            .collect();
        h.push_str(&table(&["asset", "role", "vendor", "first seen"], &rows));
        h.push_str("</section>");
    }

    fn risk(&self, h: &mut String) {
        let drivers = self.risk_drivers();
        let driver_text = |id: i64| -> String {
            let Some(m) = drivers.get(&id) else {
                return String::new();
            };
            let mut v: Vec<(&String, &(i64, i64))> = m.iter().collect();
            v.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(b.0)));
            v.iter()
                .map(|(r, (n, p))| format!("{} ×{n} ({p})", esc(r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        h.push_str(
            "<section id=\"risk\"><h2>Risk by asset and zone</h2><p>What drives each score: \
             the rules of its active alerts (open or acknowledged), with their number and the points they add.</p>\
             <h3>Assets</h3>",
        );
        let mut ranked: Vec<&Value> = self.assets.iter().collect();
        ranked.sort_by_key(|a| {
            (
                -a["risk"].as_i64().unwrap_or(0),
                a["id"].as_i64().unwrap_or(0),
            )
        });
        let at_risk = ranked
            .iter()
            .filter(|a| a["risk"].as_i64().unwrap_or(0) > 0)
            .count();
        let bars: Vec<Bar> = ranked
            .iter()
            .take_while(|a| a["risk"].as_i64().unwrap_or(0) > 0)
            .take(15)
            .map(|a| Bar {
                label: a["label"].as_str().unwrap_or("").to_string(),
                value: a["risk"].as_i64().unwrap_or(0),
                color: RED,
            })
            .collect();
        let _ = write!(
            h,
            "<p>{} assets carry risk.</p>",
            figure("assets-at-risk", at_risk as i64)
        );
        if !bars.is_empty() {
            h.push_str(&bar_chart("Risk by asset", &bars));
        }
        let rows: Vec<(String, Vec<String>)> = ranked
            .iter()
            .take(TABLE_ROWS)
            .map(|a| {
                let id = a["id"].as_i64().unwrap_or(0);
                let ips: Vec<&str> = a["ips"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                (
                    format!(
                        " data-asset=\"{}\" data-risk=\"{}\" data-driven=\"{}\"",
                        esc(a["label"].as_str().unwrap_or("")),
                        a["risk"],
                        drivers
                            .get(&id)
                            .map_or(0, |m| m.values().map(|(_, p)| p).sum::<i64>())
                    ),
                    vec![
                        {
                            let label = a["label"].as_str().unwrap_or("");
                            if ips.len() == 1 && ips[0] == label || ips.is_empty() {
                                esc(label)
                            } else {
                                format!("{}<br><small>{}</small>", esc(label), esc(&ips.join(", ")))
                            }
                        },
                        esc(a["role"].as_str().unwrap_or("")),
                        esc(a["zone"].as_str().unwrap_or("")),
                        a["open_alerts"].to_string(),
                        format!("<b>{}</b>", a["risk"]),
                        driver_text(id),
                    ],
                )
            })
            .collect();
        h.push_str(&table(
            &[
                "asset",
                "role",
                "zone",
                "active alerts",
                "risk",
                "driven by",
            ],
            &rows,
        ));
        if ranked.len() > TABLE_ROWS {
            let _ = write!(
                h,
                "<p class=\"note\">{} more assets.</p>",
                ranked.len() - TABLE_ROWS
            );
        }
        h.push_str("<h3>Zones</h3>");
        let bars: Vec<Bar> = self
            .zones
            .iter()
            .take(15)
            .map(|z| Bar {
                label: z["zone"].as_str().unwrap_or("").to_string(),
                value: z["risk"].as_i64().unwrap_or(0),
                color: RED,
            })
            .collect();
        h.push_str(&bar_chart("Risk by zone", &bars));
        let rows: Vec<(String, Vec<String>)> = self
            .zones
            .iter()
            .map(|z| {
                let name = z["zone"].as_str().unwrap_or("");
                let mut members: Vec<&Value> = self
                    .assets
                    .iter()
                    .filter(|a| {
                        a["zone"].as_str() == Some(name) && a["risk"].as_i64().unwrap_or(0) > 0
                    })
                    .collect();
                members.sort_by_key(|a| -a["risk"].as_i64().unwrap_or(0));
                let driven: Vec<String> = members
                    .iter()
                    .take(5)
                    .map(|a| format!("{} ({})", esc(a["label"].as_str().unwrap_or("")), a["risk"]))
                    .collect();
                (
                    format!(" data-zone=\"{}\" data-risk=\"{}\"", esc(name), z["risk"]),
                    vec![
                        esc(name),
                        z["assets"].to_string(),
                        z["open_alerts"].to_string(),
                        format!("<b>{}</b>", z["risk"]),
                        driven.join(", "),
                    ],
                )
            })
            .collect();
        h.push_str(&table(
            &["zone", "assets", "active alerts", "risk", "driven by"],
            &rows,
        ));
        h.push_str("</section>");
    }

    fn by_technique(&self, h: &mut String) {
        let t = self.techniques();
        h.push_str(
            "<section id=\"techniques\"><h2>Alerts by ATT&amp;CK for ICS technique</h2>\
             <p>An alert maps to one or more techniques, so the rows can add up to more than the alerts.</p>",
        );
        if t.is_empty() {
            h.push_str(
                "<p data-figure=\"techniques\" data-value=\"0\">No alert was raised.</p></section>",
            );
            return;
        }
        let bars: Vec<Bar> = t
            .iter()
            .map(|(id, n, _, _)| Bar {
                label: match technique_name(id) {
                    Some(name) => format!("{id} {name}"),
                    None => id.clone(),
                },
                value: *n,
                color: TEAL,
            })
            .collect();
        h.push_str(&bar_chart("Alerts by technique", &bars));
        let rows: Vec<(String, Vec<String>)> = t
            .iter()
            .map(|(id, n, c, rules)| {
                (
                    format!(
                        " data-technique=\"{}\" data-alerts=\"{n}\" data-occurrences=\"{c}\"",
                        esc(id)
                    ),
                    vec![
                        technique_link(id),
                        esc(technique_name(id).unwrap_or("")),
                        n.to_string(),
                        c.to_string(),
                        esc(&rules.iter().cloned().collect::<Vec<_>>().join(", ")),
                    ],
                )
            })
            .collect();
        h.push_str(&table(
            &["technique", "name", "alerts", "occurrences", "rules"],
            &rows,
        ));
        h.push_str("</section>");
    }

    fn violations(&self, h: &mut String) {
        let conduit = self.alerts_of("ps.policy.conduit_violation");
        let deny = self.alerts_of("ps.policy.deny");
        let baseline = self.alerts_of("ps.baseline.");
        if self.policy.is_none() && conduit.is_empty() && deny.is_empty() && baseline.is_empty() {
            return;
        }
        h.push_str("<section id=\"violations\"><h2>Policy violations</h2>");
        match &self.policy {
            Some(p) => {
                let _ = write!(
                    h,
                    "<p>Policy: {} zones, {} conduits, {} deny rules, {}.</p>",
                    p.zones,
                    p.conduits,
                    p.denies,
                    match p.baseline_assets {
                        Some(n) => format!("a baseline of {n} assets"),
                        None => "no baseline".into(),
                    }
                );
            }
            None => h.push_str(
                "<p>No policy is in force now; these alerts were raised by the policy in force when the traffic was ingested.</p>",
            ),
        }
        let _ = write!(
            h,
            "<div class=\"cards\"><div class=\"card\"><b>{}</b>conduit violations</div>\
             <div class=\"card\"><b>{}</b>deny rule hits</div>\
             <div class=\"card\"><b>{}</b>baseline deviations</div></div>",
            figure("conduit-violations", conduit.len() as i64),
            figure("deny-hits", deny.len() as i64),
            figure("baseline-deviations", baseline.len() as i64),
        );
        for (title, list) in [
            ("Conduit violations", &conduit),
            ("Deny rule hits", &deny),
            ("Baseline deviations", &baseline),
        ] {
            if list.is_empty() {
                continue;
            }
            let _ = write!(h, "<h3>{title}</h3>");
            let rows: Vec<(String, Vec<String>)> = list
                .iter()
                .take(TABLE_ROWS)
                .map(|a| {
                    (
                        format!(" data-alert=\"{}\"", a.id),
                        vec![
                            esc(&a.rule_id),
                            esc(&self.asset_label(a.src_ip.as_deref())),
                            esc(&self.asset_label(a.dest_ip.as_deref())),
                            esc(a.protocol.as_deref().unwrap_or("")),
                            a.count.to_string(),
                            esc(&a.message),
                        ],
                    )
                })
                .collect();
            h.push_str(&table(
                &["rule", "source", "destination", "protocol", "times", "what"],
                &rows,
            ));
            if list.len() > TABLE_ROWS {
                let _ = write!(h, "<p class=\"note\">{} more.</p>", list.len() - TABLE_ROWS);
            }
        }
        h.push_str("</section>");
    }

    fn communications(&self, h: &mut String) {
        h.push_str("<section id=\"communications\"><h2>Communications</h2><h3>Protocol mix</h3><p>Transactions (events) per protocol.</p>");
        let bars: Vec<Bar> = self.stats["protocol_mix"]
            .as_array()
            .into_iter()
            .flatten()
            .take(15)
            .map(|p| Bar {
                label: p["protocol"].as_str().unwrap_or("").to_string(),
                value: p["events"].as_i64().unwrap_or(0),
                color: BLUE,
            })
            .collect();
        if bars.is_empty() {
            h.push_str("<p>No industrial protocol transactions.</p>");
        } else {
            h.push_str(&bar_chart("Protocol mix", &bars));
        }
        h.push_str("<h3>Busiest communication edges</h3>");
        let rows: Vec<(String, Vec<String>)> = self
            .top_edges
            .iter()
            .map(|e| {
                let ops: Vec<String> = e["operations"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| format!("{} {v}", esc(k))).collect())
                    .unwrap_or_default();
                (
                    String::new(),
                    vec![
                        esc(e["client_label"].as_str().unwrap_or("")),
                        esc(e["server_label"].as_str().unwrap_or("")),
                        esc(e["protocol"].as_str().unwrap_or("")),
                        e["transactions"].to_string(),
                        (e["bytes_toserver"].as_i64().unwrap_or(0)
                            + e["bytes_toclient"].as_i64().unwrap_or(0))
                        .to_string(),
                        ops.join(", "),
                    ],
                )
            })
            .collect();
        h.push_str(&table(
            &[
                "client",
                "server",
                "protocol",
                "transactions",
                "bytes",
                "operations",
            ],
            &rows,
        ));
        let total = self.stats["totals"]["edges"].as_i64().unwrap_or(0);
        if total > self.top_edges.len() as i64 {
            let _ = write!(
                h,
                "<p class=\"note\">{} more edges.</p>",
                total - self.top_edges.len() as i64
            );
        }
        h.push_str("</section>");
    }

    fn recommendations_section(&self, h: &mut String) {
        let recs = self.recommendations();
        let _ = write!(
            h,
            "<section id=\"recommendations\"><h2>Recommendations</h2><p>{} recommendations, \
             each from what was found; the evidence follows each.</p>",
            figure("recommendations", recs.len() as i64)
        );
        for (i, r) in recs.iter().enumerate() {
            let _ = write!(
                h,
                "<article class=\"rec\" id=\"rec-{}\" data-rec=\"{}\"><h3>{}. {}</h3><p>{}</p>\
                 <p class=\"ev\">Evidence ({}):</p><ul>",
                r.id,
                r.id,
                i + 1,
                esc(r.title),
                esc(r.advice),
                r.evidence.len()
            );
            for e in r.evidence.iter().take(TABLE_ROWS) {
                let _ = write!(h, "<li>{}</li>", esc(e));
            }
            if r.evidence.len() > TABLE_ROWS {
                let _ = write!(h, "<li>and {} more</li>", r.evidence.len() - TABLE_ROWS);
            }
            h.push_str("</ul></article>");
        }
        h.push_str("</section>");
    }
}

const CSS: &str = "
:root{--ink:#111827;--mute:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{font:11pt/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:var(--ink);max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:28pt;margin:0 0 8px}h2{font-size:18pt;border-bottom:2px solid var(--ink);padding-bottom:4px;margin-top:0}
h3{font-size:13pt;margin:18px 0 6px}h4{margin:8px 0 4px}
section{margin-bottom:40px}
.title{min-height:60vh;display:flex;flex-direction:column;justify-content:center}
.site{font-size:18pt;color:var(--mute);margin:0 0 24px}
.meta th{text-align:left;padding-right:16px}
.note{color:var(--mute);font-size:9.5pt}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:10px 16px;min-width:150px;color:var(--mute)}
.card b{display:block;font-size:20pt;color:var(--ink)}
.two{display:flex;gap:32px}.two>div{flex:1}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:9.5pt}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
thead th{background:#f3f4f6}
.chart{max-width:100%;height:auto;display:block;margin:6px 0}
.chart .l{font-size:11px;fill:var(--ink)}.chart .v{font-size:11px;fill:var(--mute)}
.chartbox{display:inline-block;vertical-align:top;width:100%}
.sev{padding:0 6px;border-radius:3px;color:#fff;font-size:9pt}
.sev.critical{background:#7f1d1d}.sev.high{background:#dc2626}.sev.medium{background:#b45309}.sev.low{background:#1d4ed8}
.rec{border-left:4px solid #0f766e;padding:2px 12px;margin:12px 0;break-inside:avoid}
.rec .ev{font-weight:600;margin-bottom:2px}
a{color:#1d4ed8}
@page{size:A4;margin:15mm 14mm}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 section{break-before:page;page-break-before:always;margin:0}
 section.title{break-before:auto;page-break-before:auto;min-height:240mm}
 tr,li,.chart{break-inside:avoid;page-break-inside:avoid}
 h2,h3{break-after:avoid;page-break-after:avoid}
 a{color:inherit;text-decoration:none}
}
";
