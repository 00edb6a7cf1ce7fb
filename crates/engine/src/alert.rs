//! Alerts: rule definitions (stable ids, severities, MITRE ATT&CK for ICS
//! techniques) and aggregation, so that a flood is one alert with a count
//! and a time span, not a line per packet.
//!
//! An alert opens on the first occurrence of a rule for a (source,
//! destination) pair and is written when it closes: after
//! [`AggregationConfig::idle_ns`] without a new occurrence, after
//! [`AggregationConfig::max_span_ns`] (a long flood is reported hourly), or
//! at the end of the input.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use plantshield_events::JsonWriter;
use plantshield_sensor::ExtEvent;

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Investigate.
    Medium,
    /// Investigate now.
    High,
    /// Something is being done to the process.
    Critical,
}

impl Severity {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A detection rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable identifier (`ps.<family>.<name>`): scripts and suppressions use it.
    pub id: &'static str,
    /// Short title.
    pub name: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// MITRE ATT&CK for ICS technique ids.
    pub techniques: &'static [&'static str],
    /// What it means, for docs/detections.md.
    pub description: &'static str,
    /// How to tune it.
    pub tuning: &'static str,
}

/// Aggregation windows.
#[derive(Clone, Copy, Debug)]
pub struct AggregationConfig {
    /// An alert closes after this long without a new occurrence.
    pub idle_ns: i64,
    /// An alert closes after spanning this long, however busy.
    pub max_span_ns: i64,
    /// Event references kept per alert.
    pub max_refs: usize,
    /// Alerts open at once; beyond it the oldest is closed early.
    pub max_open: usize,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        AggregationConfig {
            idle_ns: 600_000_000_000,
            max_span_ns: 3_600_000_000_000,
            max_refs: 16,
            max_open: 50_000,
        }
    }
}

/// A reference to an event behind an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef {
    /// The event's flow.
    pub flow_id: Option<u64>,
    /// The event's time.
    pub ts: i64,
    /// The event's id (`event_id`), when it has one.
    pub event_id: Option<u64>,
}

/// One (aggregated) alert.
#[derive(Clone, Debug)]
pub struct Alert {
    /// The rule.
    pub rule: &'static Rule,
    /// Source (the actor).
    pub src: Option<IpAddr>,
    /// Destination (the target).
    pub dst: Option<IpAddr>,
    /// Protocol involved, if one.
    pub protocol: Option<&'static str>,
    /// A sentence for the operator (from the first occurrence).
    pub message: String,
    /// First occurrence.
    pub first_ts: i64,
    /// Last occurrence.
    pub last_ts: i64,
    /// Occurrences.
    pub count: u64,
    /// Events behind it (the first ones, bounded).
    pub refs: Vec<EventRef>,
}

impl ExtEvent for Alert {
    fn event_type(&self) -> &'static str {
        "alert"
    }

    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object_field("alert");
        w.str_field("rule_id", self.rule.id);
        w.str_field("rule", self.rule.name);
        w.str_field("severity", self.rule.severity.name());
        w.begin_array_field("mitre_attack");
        for t in self.rule.techniques {
            w.str_value(t);
        }
        w.end_array();
        w.str_field("message", &self.message);
        if let Some(p) = self.protocol {
            w.str_field("protocol", p);
        }
        w.u64_field("count", self.count);
        w.time_field("first_seen", self.first_ts);
        w.time_field("last_seen", self.last_ts);
        w.begin_array_field("events");
        for r in &self.refs {
            w.begin_object();
            if let Some(id) = r.event_id {
                w.u64_field("event_id", id);
            }
            if let Some(f) = r.flow_id {
                w.u64_field("flow_id", f);
            }
            w.time_field("timestamp", r.ts);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Rule, source, destination, and a subject that tells apart alerts of one
/// rule on one pair (the asset of a `new_asset` alert; 0 otherwise).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key(&'static str, Option<IpAddr>, Option<IpAddr>, u64);

impl std::hash::Hash for Key {
    /// One write per member (the derived hash writes every enum tag,
    /// array length and byte run on its own): a rule that fires for every
    /// write hashes its key each time. Equal keys write equal bytes.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write(self.0.as_bytes());
        h.write(&addr_bytes(self.1));
        h.write(&addr_bytes(self.2));
        h.write_u64(self.3);
    }
}

/// An optional address as a tag and its octets.
fn addr_bytes(a: Option<IpAddr>) -> [u8; 17] {
    let mut b = [0u8; 17];
    match a {
        None => {}
        Some(IpAddr::V4(v)) => {
            b[0] = 4;
            b[1..5].copy_from_slice(&v.octets());
        }
        Some(IpAddr::V6(v)) => {
            b[0] = 6;
            b[1..].copy_from_slice(&v.octets());
        }
    }
    b
}

/// Open alerts, keyed by rule and pair.
pub struct Aggregator {
    cfg: AggregationConfig,
    open: HashMap<Key, Alert, ahash::RandomState>,
    closed: Vec<Alert>,
    /// Accepted (rule, source, destination): `None` stands for any.
    accepted: HashSet<(&'static str, Option<IpAddr>, Option<IpAddr>), ahash::RandomState>,
    /// Occurrences dropped because they were accepted.
    pub suppressed: u64,
}

impl Aggregator {
    /// Empty.
    pub fn new(cfg: AggregationConfig) -> Self {
        Aggregator {
            cfg,
            open: HashMap::default(),
            closed: Vec::new(),
            accepted: HashSet::default(),
            suppressed: 0,
        }
    }

    /// Drops every future occurrence of `rule` from `src` to `dst` (`None`
    /// matching any address): a baseline's accepted alerts.
    pub fn accept(&mut self, rule: &'static str, src: Option<IpAddr>, dst: Option<IpAddr>) {
        self.accepted.insert((rule, src, dst));
    }

    fn is_accepted(&self, rule: &'static str, src: Option<IpAddr>, dst: Option<IpAddr>) -> bool {
        !self.accepted.is_empty()
            && [(src, dst), (None, dst), (src, None), (None, None)]
                .iter()
                .any(|&(s, d)| self.accepted.contains(&(rule, s, d)))
    }

    /// Records one occurrence; `message` is built only for a new alert.
    #[allow(clippy::too_many_arguments)]
    pub fn hit(
        &mut self,
        rule: &'static Rule,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        protocol: Option<&'static str>,
        at: EventRef,
        message: impl FnOnce() -> String,
    ) {
        self.hit_subject(rule, src, dst, 0, protocol, at, message);
    }

    /// [`Aggregator::hit`] for alerts told apart by `subject` as well.
    #[allow(clippy::too_many_arguments)]
    pub fn hit_subject(
        &mut self,
        rule: &'static Rule,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        subject: u64,
        protocol: Option<&'static str>,
        at: EventRef,
        message: impl FnOnce() -> String,
    ) {
        if self.is_accepted(rule.id, src, dst) {
            self.suppressed += 1;
            return;
        }
        let key = Key(rule.id, src, dst, subject);
        if let Some(a) = self.open.get_mut(&key) {
            if at.ts.saturating_sub(a.first_ts) < self.cfg.max_span_ns {
                a.count += 1;
                a.last_ts = a.last_ts.max(at.ts);
                if a.refs.len() < self.cfg.max_refs {
                    a.refs.push(at);
                }
                return;
            }
            if let Some(done) = self.open.remove(&key) {
                self.closed.push(done);
            }
        }
        if self.open.len() >= self.cfg.max_open {
            // Close the stalest to stay bounded.
            if let Some(k) = self
                .open
                .iter()
                .min_by_key(|(_, a)| a.last_ts)
                .map(|(k, _)| *k)
            {
                if let Some(done) = self.open.remove(&k) {
                    self.closed.push(done);
                }
            }
        }
        self.open.insert(
            key,
            Alert {
                rule,
                src,
                dst,
                protocol,
                message: message(),
                first_ts: at.ts,
                last_ts: at.ts,
                count: 1,
                refs: vec![at],
            },
        );
    }

    /// Closes alerts idle since before `now - idle`.
    pub fn expire(&mut self, now: i64) {
        let idle = self.cfg.idle_ns;
        let done: Vec<Key> = self
            .open
            .iter()
            .filter(|(_, a)| now.saturating_sub(a.last_ts) >= idle)
            .map(|(k, _)| *k)
            .collect();
        for k in done {
            if let Some(a) = self.open.remove(&k) {
                self.closed.push(a);
            }
        }
    }

    /// Closes every open alert (end of input).
    pub fn flush(&mut self) {
        let mut all: Vec<Alert> = self.open.drain().map(|(_, a)| a).collect();
        sort_alerts(&mut all);
        self.closed.extend(all);
    }

    /// Takes the closed alerts, oldest first.
    pub fn take_closed(&mut self) -> Vec<Alert> {
        let mut v = std::mem::take(&mut self.closed);
        sort_alerts(&mut v);
        v
    }
}

/// Oldest first, then by rule, addresses and message: alerts opened at
/// the same instant leave the open map in its (per-process random) order,
/// and the output must not depend on it.
fn sort_alerts(v: &mut [Alert]) {
    v.sort_by(|a, b| {
        (a.first_ts, a.rule.id, a.src, a.dst, a.message.as_str()).cmp(&(
            b.first_ts,
            b.rule.id,
            b.src,
            b.dst,
            b.message.as_str(),
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// Alerts of one rule opened at one instant for many pairs come out
    /// ordered by address, not in the open map's order (random per map).
    #[test]
    fn alerts_of_one_instant_are_ordered_by_address() {
        let rule = crate::detect::rule(crate::detect::RULES[0].id);
        let at = EventRef {
            flow_id: None,
            ts: 5,
            event_id: None,
        };
        let ip = |i: u8| Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)));
        for closing in ["flush", "expire"] {
            let mut agg = Aggregator::new(AggregationConfig::default());
            for i in (1..=40u8).rev() {
                agg.hit(rule, ip(i), ip(200), None, at, String::new);
                agg.hit(rule, ip(i), ip(100), None, at, String::new);
            }
            match closing {
                "flush" => agg.flush(),
                _ => agg.expire(i64::MAX),
            }
            let got: Vec<_> = agg.take_closed().iter().map(|a| (a.src, a.dst)).collect();
            let mut want = got.clone();
            want.sort();
            assert_eq!(got.len(), 80, "{closing}");
            assert_eq!(got, want, "{closing}");
        }
    }
}
