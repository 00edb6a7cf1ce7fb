//! Learning a baseline from traffic, and writing it as a policy file that
//! people review and edit: every entry says what it came from.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

use plantshield_sensor::{Envelope, Event, EventSink};

use super::{flow_protocol, Pair, PairKey};
use crate::alert::Alert;
use crate::inventory::Inventory;
use crate::target::{Access, Targets};

/// Pairs learned at most; more are counted as dropped.
pub const MAX_PAIRS: usize = 100_000;
/// Function codes learned per pair.
pub const MAX_FUNCTIONS: usize = 512;

#[derive(Default)]
struct Stats {
    pair: Pair,
    transactions: u64,
    flows: u64,
    first: i64,
    last: i64,
    last_request: Option<i64>,
    interval_sum_ns: i128,
    intervals: u64,
}

/// An [`EventSink`] that learns pairs, their functions and addresses, and
/// the built-in alerts that fired, from a stream of events (put it behind
/// the [`crate::Engine`], which adds the assets and alerts).
#[derive(Default)]
pub struct Learner {
    pairs: HashMap<PairKey, Stats>,
    /// Pairs not learned because [`MAX_PAIRS`] were held.
    pub pairs_dropped: u64,
    accepts: BTreeMap<(&'static str, Option<IpAddr>, Option<IpAddr>), u64>,
    targets: Targets,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl Learner {
    /// Empty.
    pub fn new() -> Self {
        Learner::default()
    }

    fn stats(&mut self, key: PairKey, ts: i64) -> Option<&mut Stats> {
        if !self.pairs.contains_key(&key) {
            if self.pairs.len() >= MAX_PAIRS {
                self.pairs_dropped += 1;
                return None;
            }
            self.pairs.insert(
                key.clone(),
                Stats {
                    first: ts,
                    last: ts,
                    ..Stats::default()
                },
            );
        }
        let s = self.pairs.get_mut(&key)?;
        s.first = s.first.min(ts);
        s.last = s.last.max(ts);
        Some(s)
    }

    /// Pairs learned so far.
    pub fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// Writes the baseline: the assets of `inventory`, the pairs and the
    /// accepted alerts, as a commented policy file.
    pub fn write_baseline(&self, inventory: &Inventory, sources: &[String]) -> String {
        let mut o = String::new();
        let time = |ts: Option<i64>| ts.map(time_text).unwrap_or_default();
        let mut assets: Vec<_> = inventory
            .assets()
            .filter(|a| !a.macs.is_empty() || !a.ips.is_empty())
            .collect();
        assets.sort_by_key(|a| (a.ips.first().copied(), a.macs.first().copied()));
        let mut pairs: Vec<_> = self.pairs.iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let _ = writeln!(o, "# PlantShield baseline: what normal looked like.");
        let _ = writeln!(
            o,
            "# Learned by `plantshield learn` from {} capture file(s), capture time {} to {}:",
            sources.len(),
            time(self.first_ts),
            time(self.last_ts)
        );
        let _ = writeln!(
            o,
            "# {} assets, {} communication pairs, {} accepted alerts.",
            assets.len(),
            pairs.len(),
            self.accepts.len()
        );
        let _ = writeln!(
            o,
            "# Every entry is an allowance: review it, delete what should not be normal, add what\n\
             # is. `plantshield analyze --policy FILE` alerts on anything outside it, and\n\
             # `plantshield policy check FILE` validates it (docs/policy.md explains every key)."
        );
        if self.pairs_dropped > 0 {
            let _ = writeln!(
                o,
                "# WARNING: {} pairs were not learned (more than {MAX_PAIRS}).",
                self.pairs_dropped
            );
        }
        let _ = writeln!(o, "\n[baseline]");
        let _ = writeln!(o, "learned_from = {}", str_array(sources));
        let _ = writeln!(o, "first_seen = {}", quote(&time(self.first_ts)));
        let _ = writeln!(o, "last_seen = {}", quote(&time(self.last_ts)));

        let _ = writeln!(
            o,
            "\n# Assets: the devices seen. A device not listed raises ps.baseline.new_asset."
        );
        let names: HashMap<IpAddr, String> = assets
            .iter()
            .flat_map(|a| {
                let n = a.role.name().to_string();
                a.ips.iter().map(move |ip| (*ip, n.clone()))
            })
            .collect();
        for a in &assets {
            let _ = writeln!(o, "\n[[asset]]");
            let mut about = vec![a.role.name().to_string()];
            for attr in ["vendor", "model", "name", "hostname", "firmware"] {
                if let Some(v) = a.attr(attr) {
                    about.push(format!("{attr} {}", one_line(v)));
                }
            }
            if a.remote {
                about.push("behind a router".into());
            }
            about.push(format!(
                "seen {} to {}",
                time_text(a.first_seen),
                time_text(a.last_seen)
            ));
            let _ = writeln!(o, "# {}", about.join(", "));
            if !a.ips.is_empty() {
                let ips: Vec<String> = a.ips.iter().map(|i| i.to_string()).collect();
                let _ = writeln!(o, "ips = {}", str_array(&ips));
            }
            if !a.macs.is_empty() {
                let macs: Vec<String> = a.macs.iter().map(|m| m.to_string()).collect();
                let _ = writeln!(o, "macs = {}", str_array(&macs));
            }
        }

        let _ = writeln!(
            o,
            "\n# Pairs: who talks to whom, with what. Traffic outside them raises\n\
             # ps.baseline.new_pair, new_protocol, new_function or address_out_of_range."
        );
        for ((client, server, proto), s) in pairs {
            let role = |ip: &IpAddr| names.get(ip).map_or("unknown", String::as_str);
            let _ = writeln!(o, "\n[[pair]]");
            let _ = writeln!(
                o,
                "# {client} ({}) -> {server} ({})",
                role(client),
                role(server)
            );
            let _ = writeln!(o, "client = {}", quote(&client.to_string()));
            let _ = writeln!(o, "server = {}", quote(&server.to_string()));
            let _ = writeln!(o, "protocol = {}", quote(proto));
            let p = &s.pair;
            if !p.operations.is_empty() {
                let ops: Vec<String> = p.operations.iter().map(|o| o.name().to_string()).collect();
                let _ = writeln!(o, "operations = {}", str_array(&ops));
            }
            if !p.functions.is_empty() {
                let _ = writeln!(o, "functions = [");
                for (code, name) in &p.functions {
                    let _ = writeln!(o, "    {code}, # {}", one_line(name));
                }
                let _ = writeln!(o, "]");
            }
            if s.transactions > 0 {
                let _ = writeln!(o, "transactions = {}", s.transactions);
            }
            if s.flows > 0 {
                let _ = writeln!(o, "flows = {}", s.flows);
            }
            let _ = writeln!(o, "first_seen = {}", quote(&time_text(s.first)));
            let _ = writeln!(o, "last_seen = {}", quote(&time_text(s.last)));
            if s.intervals > 0 {
                let mean = s.interval_sum_ns as f64 / s.intervals as f64 / 1e6;
                let _ = writeln!(o, "interval_ms = {mean:.1} # mean time between requests");
            }
            for (title, map) in [("reads", &p.reads), ("writes", &p.writes)] {
                if map.is_empty() {
                    continue;
                }
                let _ = writeln!(o, "\n[pair.{title}]");
                for (space, set) in &map.ranges {
                    let _ = writeln!(
                        o,
                        "{} = {}",
                        quote(&space.to_string()),
                        str_array(&set.to_strings())
                    );
                }
                if !map.tags.is_empty() {
                    let tags: Vec<String> = map.tags.iter().cloned().collect();
                    let _ = writeln!(o, "tags = {}", str_array(&tags));
                }
                if map.tags_dropped > 0 {
                    let _ = writeln!(
                        o,
                        "# {} more tags were not learned (limit {})",
                        map.tags_dropped,
                        super::MAX_TAGS
                    );
                }
            }
        }

        if !self.accepts.is_empty() {
            let _ = writeln!(
                o,
                "\n# Accepted alerts: built-in detections that fired while learning. They are\n\
                 # silenced for these addresses; delete an entry to be alerted again."
            );
        }
        for ((rule, src, dst), count) in &self.accepts {
            let _ = writeln!(o, "\n[[accept]]");
            let _ = writeln!(o, "# {}", crate::detect::rule(rule).name);
            let _ = writeln!(o, "rule = {}", quote(rule));
            if let Some(s) = src {
                let _ = writeln!(o, "src = {}", quote(&s.to_string()));
            }
            if let Some(d) = dst {
                let _ = writeln!(o, "dst = {}", quote(&d.to_string()));
            }
            let _ = writeln!(o, "count = {count}");
        }
        o
    }
}

impl EventSink for Learner {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        if let Event::Ext(e) = ev {
            if let Some(a) = e.as_any().downcast_ref::<Alert>() {
                *self.accepts.entry((a.rule.id, a.src, a.dst)).or_default() += a.count;
            }
            return;
        }
        let (Some((src, _)), Some((dst, dport))) = (env.src, env.dst) else {
            return;
        };
        let ts = env.ts_ns;
        if !matches!(ev, Event::Stats(_)) {
            self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
            self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        }
        if let Event::Flow(_) = ev {
            if super::outside_policy(env.proto) {
                return;
            }
            let proto = flow_protocol(env.app_proto, env.proto, dport).into_owned();
            if let Some(s) = self.stats((src, dst, proto), ts) {
                s.flows += 1;
            }
            return;
        }
        let Some(ics) = ev.ics() else {
            return;
        };
        self.targets.extract(ev);
        let targets = std::mem::take(&mut self.targets);
        if let Some(s) = self.stats((src, dst, ev.event_type().to_string()), ts) {
            s.transactions += 1;
            if let Some(prev) = s.last_request {
                if ts > prev {
                    s.interval_sum_ns += i128::from(ts - prev);
                    s.intervals += 1;
                }
            }
            s.last_request = Some(ts);
            let p = &mut s.pair;
            p.operations.insert(ics.operation);
            if p.functions.len() < MAX_FUNCTIONS || p.functions.contains_key(&ics.function_code) {
                p.functions
                    .entry(ics.function_code)
                    .or_insert_with(|| ics.function.to_string());
            }
            for t in &targets.list {
                match t {
                    crate::target::Target::Range { access, .. }
                    | crate::target::Target::Tag { access, .. } => match access {
                        Access::Read => p.reads.insert(t),
                        Access::Write => p.writes.insert(t),
                    },
                }
            }
        }
        self.targets = targets;
    }
}

fn time_text(ts: i64) -> String {
    let mut b = Vec::with_capacity(32);
    plantshield_events::format_rfc3339_micros(ts, &mut b);
    String::from_utf8_lossy(&b).into_owned()
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn str_array(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", v.join(", "))
}

/// Text safe to put in a comment.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
