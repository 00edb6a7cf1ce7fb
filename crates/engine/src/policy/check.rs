//! Checking traffic against a policy: deny rules, conduits between zones,
//! and deviations from the baseline, each raised as an alert.
//!
//! The three layers are independent: a transaction can break a deny rule,
//! cross zones without a conduit and be new to the baseline at once, and
//! each says something different to the operator. Accepting a deviation is
//! done by editing the baseline (adding the pair, function or range).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use plantshield_decode::MacAddr;
use plantshield_sensor::{Envelope, Event, IcsSummary};

use super::{
    aliases, flow_protocol, outside_policy, AddressMap, DefaultAction, Endpoint, Match, Policy,
};
use crate::alert::{Aggregator, EventRef};
use crate::detect::rule;
use crate::inventory::Asset;
use crate::target::{Access, Target, Targets};

/// Zone lookups cached; beyond it the cache restarts.
const MAX_ZONE_CACHE: usize = 65_536;

/// A policy being enforced (as alerts) on a stream of events.
pub struct PolicyCheck {
    policy: Policy,
    targets: Targets,
    known_ips: HashSet<IpAddr, ahash::RandomState>,
    known_macs: HashSet<MacAddr, ahash::RandomState>,
    /// (client, server) pairs of the baseline, any protocol.
    hosts: HashSet<(IpAddr, IpAddr), ahash::RandomState>,
    zones: HashMap<IpAddr, Option<usize>, ahash::RandomState>,
}

/// What one transaction or flow is, for matching.
struct Subject<'a> {
    src: IpAddr,
    dst: IpAddr,
    protocol: &'a str,
    ics: Option<&'a IcsSummary>,
}

impl PolicyCheck {
    /// Enforces `policy`.
    pub fn new(policy: Policy) -> Self {
        let mut known_ips = HashSet::default();
        let mut known_macs = HashSet::default();
        let mut hosts = HashSet::default();
        if let Some(b) = &policy.baseline {
            for a in &b.assets {
                known_ips.extend(a.ips.iter().copied());
                known_macs.extend(a.macs.iter().copied());
            }
            for (c, s, _) in b.pairs.keys() {
                hosts.insert((*c, *s));
            }
        }
        PolicyCheck {
            policy,
            targets: Targets::default(),
            known_ips,
            known_macs,
            hosts,
            zones: HashMap::default(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Makes `agg` drop the alerts the baseline accepts.
    pub fn install_accepts(&self, agg: &mut Aggregator) {
        if let Some(b) = &self.policy.baseline {
            for a in &b.accepts {
                agg.accept(rule(&a.rule).id, a.src, a.dst);
            }
        }
    }

    fn zone(&mut self, ip: IpAddr) -> Option<usize> {
        if let Some(z) = self.zones.get(&ip) {
            return *z;
        }
        if self.zones.len() >= MAX_ZONE_CACHE {
            self.zones.clear();
        }
        let z = self.policy.zone_of(ip);
        self.zones.insert(ip, z);
        z
    }

    fn zone_name(&self, z: Option<usize>) -> &str {
        z.and_then(|i| self.policy.zones.get(i))
            .map_or("(no zone)", |z| z.name.as_str())
    }

    /// Checks one event; violations go to `agg`.
    pub fn event(&mut self, env: &Envelope, ev: &Event<'_>, agg: &mut Aggregator) {
        let (Some((src, _)), Some((dst, dport))) = (env.src, env.dst) else {
            return;
        };
        let at = EventRef {
            flow_id: env.flow_id,
            ts: env.ts_ns,
            event_id: None,
        };
        let (protocol, ics, midstream) = match ev {
            Event::Flow(_) if outside_policy(env.proto) => return,
            Event::Flow(f) => (
                flow_protocol(env.app_proto, env.proto, dport),
                None,
                f.midstream,
            ),
            _ => match ev.ics() {
                Some(i) => (std::borrow::Cow::Borrowed(ev.event_type()), Some(i), false),
                None => return,
            },
        };
        if ics.is_some() {
            self.targets.extract(ev);
        } else {
            self.targets.list.clear();
        }
        let s = Subject {
            src,
            dst,
            protocol: &protocol,
            ics,
        };
        let proto: Option<&'static str> = match ev {
            Event::Flow(_) => env.app_proto,
            _ => Some(ev.event_type()),
        };
        let zones = if self.policy.zones.is_empty() {
            (None, None)
        } else {
            (self.zone(src), self.zone(dst))
        };
        self.denies(&s, zones, at, proto, agg);
        self.conduits(&s, zones, at, proto, agg);
        self.baseline(&s, midstream, at, proto, agg);
    }

    fn denies(
        &self,
        s: &Subject<'_>,
        (zs, zd): (Option<usize>, Option<usize>),
        at: EventRef,
        proto: Option<&'static str>,
        agg: &mut Aggregator,
    ) {
        for d in &self.policy.denies {
            if !end_matches(&d.from, s.src, zs) || !end_matches(&d.to, s.dst, zd) {
                continue;
            }
            if !forbidden(&d.forbid, s, &self.targets.list) {
                continue;
            }
            let what = describe(s);
            agg.hit(
                rule("ps.policy.deny"),
                Some(s.src),
                Some(s.dst),
                proto,
                at,
                || {
                    format!(
                        "{} -> {} {what}: forbidden by deny rule `{}` ({})",
                        s.src, s.dst, d.name, d.origin
                    )
                },
            );
        }
    }

    fn conduits(
        &self,
        s: &Subject<'_>,
        (zs, zd): (Option<usize>, Option<usize>),
        at: EventRef,
        proto: Option<&'static str>,
        agg: &mut Aggregator,
    ) {
        if self.policy.zones.is_empty() {
            return;
        }
        if zs.is_none() && zd.is_none() {
            return;
        }
        if zs == zd && self.policy.settings.intra_zone_allowed {
            return;
        }
        // Of the conduits joining the two zones, the one that got furthest
        // through its checks explains the refusal best: a conduit carrying
        // the right function but another register range says more than one
        // carrying reads only.
        let mut reason: Option<(Refusal, String)> = None;
        let mut any = false;
        for c in &self.policy.conduits {
            let from_ok = match c.from {
                Endpoint::Any => true,
                Endpoint::Zone(z) => zs == Some(z),
                Endpoint::Net(_) => false,
            };
            let to_ok = match c.to {
                Endpoint::Any => true,
                Endpoint::Zone(z) => zd == Some(z),
                Endpoint::Net(_) => false,
            };
            if !(from_ok && to_ok) {
                continue;
            }
            any = true;
            match allowed(&c.allow, s, &self.targets.list) {
                Ok(()) => return,
                Err((stage, why)) => {
                    if reason.as_ref().is_none_or(|(best, _)| stage > *best) {
                        let text = format!("conduit `{}` ({}) {why}", c.name, c.origin);
                        reason = Some((stage, text));
                    }
                }
            }
        }
        if !any && self.policy.settings.default == DefaultAction::Allow {
            return;
        }
        let (from, to) = (
            self.zone_name(zs).to_string(),
            self.zone_name(zd).to_string(),
        );
        let why = reason.map_or_else(
            || format!("no conduit from zone {from} to zone {to}"),
            |(_, why)| why,
        );
        let what = describe(s);
        agg.hit(
            rule("ps.policy.conduit_violation"),
            Some(s.src),
            Some(s.dst),
            proto,
            at,
            || format!("{} ({from}) -> {} ({to}) {what}: {why}", s.src, s.dst),
        );
    }

    fn baseline(
        &mut self,
        s: &Subject<'_>,
        midstream: bool,
        at: EventRef,
        proto: Option<&'static str>,
        agg: &mut Aggregator,
    ) {
        let Some(b) = &self.policy.baseline else {
            return;
        };
        // A flow picked up midway may have its ends guessed the wrong way.
        let ends: &[(IpAddr, IpAddr)] = if midstream {
            &[(s.src, s.dst), (s.dst, s.src)]
        } else {
            &[(s.src, s.dst)]
        };
        let pair = ends.iter().find_map(|&(c, sv)| {
            let proto = s.protocol;
            std::iter::once(proto.to_string())
                .chain(aliases(proto).map(str::to_string))
                .find_map(|p| b.pairs.get(&(c, sv, p)))
        });
        let hit = |agg: &mut Aggregator, id: &str, msg: String| {
            agg.hit(rule(id), Some(s.src), Some(s.dst), proto, at, || msg);
        };
        let Some(pair) = pair else {
            let known = self.hosts.contains(&(s.src, s.dst))
                || (midstream && self.hosts.contains(&(s.dst, s.src)));
            if known {
                hit(
                    agg,
                    "ps.baseline.new_protocol",
                    format!(
                        "{} talked {} to {} for the first time (not in the baseline)",
                        s.src, s.protocol, s.dst
                    ),
                );
            } else {
                hit(
                    agg,
                    "ps.baseline.new_pair",
                    format!(
                        "{} talked to {} ({}) for the first time (not in the baseline)",
                        s.src, s.dst, s.protocol
                    ),
                );
            }
            return;
        };
        let Some(ics) = s.ics else {
            return;
        };
        if !pair.functions.contains_key(&ics.function_code) {
            hit(
                agg,
                "ps.baseline.new_function",
                format!(
                    "{} sent {} {} ({}, code {}) to {} for the first time (not in the baseline)",
                    s.src,
                    s.protocol,
                    ics.function,
                    ics.operation.name(),
                    ics.function_code,
                    s.dst
                ),
            );
            return;
        }
        let check_reads = self.policy.settings.check_reads;
        for t in &self.targets.list {
            let (map, verb) = match access(t) {
                Access::Write => (&pair.writes, "wrote"),
                Access::Read if check_reads => (&pair.reads, "read"),
                Access::Read => continue,
            };
            if !map.covers(t) {
                let learned = learned_for(map, t);
                hit(
                    agg,
                    "ps.baseline.address_out_of_range",
                    format!(
                        "{} {verb} {} of {} ({} {}) outside the baseline ({learned})",
                        s.src,
                        target_text(t),
                        s.dst,
                        s.protocol,
                        ics.function
                    ),
                );
                return;
            }
        }
    }

    /// Checks a new asset against the baseline.
    pub fn new_asset(
        &mut self,
        asset: &Asset,
        ts: i64,
        flow_id: Option<u64>,
        agg: &mut Aggregator,
    ) {
        if self.policy.baseline.is_none() || (asset.macs.is_empty() && asset.ips.is_empty()) {
            return;
        }
        let known = asset.macs.iter().any(|m| self.known_macs.contains(m))
            || asset.ips.iter().any(|ip| self.known_ips.contains(ip));
        if known {
            return;
        }
        let ip = asset.primary_ip();
        let mac = asset.macs.first().map(|m| m.to_string());
        let at = EventRef {
            flow_id,
            ts,
            event_id: None,
        };
        agg.hit_subject(
            rule("ps.baseline.new_asset"),
            ip,
            None,
            u64::from(asset.id),
            None,
            at,
            || {
                let who = match (ip, &mac) {
                    (Some(ip), Some(m)) => format!("{ip} (MAC {m})"),
                    (Some(ip), None) => ip.to_string(),
                    (None, Some(m)) => format!("MAC {m}"),
                    (None, None) => "a device".into(),
                };
                format!("new device {who}: not in the baseline")
            },
        );
    }
}

fn end_matches(e: &Endpoint, ip: IpAddr, zone: Option<usize>) -> bool {
    match e {
        Endpoint::Any => true,
        Endpoint::Zone(z) => zone == Some(*z),
        Endpoint::Net(nets) => nets.iter().any(|n| n.contains(ip)),
    }
}

fn access(t: &Target) -> Access {
    match t {
        Target::Range { access, .. } | Target::Tag { access, .. } => *access,
    }
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Range { space, lo, hi, .. } => {
            format!("{space} {}", crate::ranges::Range((*lo, *hi)))
        }
        Target::Tag { name, .. } => format!("tag {name}"),
    }
}

fn learned_for(map: &AddressMap, t: &Target) -> String {
    match t {
        Target::Range { space, .. } => match map.ranges.get(space) {
            Some(r) => format!("learned: {}", r.to_strings().join(", ")),
            None => format!("nothing learned in {space}"),
        },
        Target::Tag { .. } => "tag not learned".into(),
    }
}

fn describe(s: &Subject<'_>) -> String {
    match s.ics {
        Some(i) => format!("{} {} ({})", s.protocol, i.function, i.operation.name()),
        None => s.protocol.to_string(),
    }
}

/// Whether `protocol` is in a rule's list, by name or by a registered port
/// (`tcp/80` lists HTTP, `modbus` lists a port-502 flow nothing parsed).
fn listed(list: &[String], protocol: &str) -> bool {
    list.iter()
        .any(|p| p == protocol || aliases(protocol).any(|a| a == p))
}

/// The check a conduit refused a transaction at, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Refusal {
    Protocol,
    Operation,
    Function,
    Target,
}

/// Whether a conduit's constraints allow `s`; the check that refused it
/// and the reason when not.
fn allowed(m: &Match, s: &Subject<'_>, targets: &[Target]) -> Result<(), (Refusal, String)> {
    if let Some(p) = &m.protocols {
        if !listed(p, s.protocol) {
            return Err((Refusal::Protocol, format!("allows {} only", p.join(", "))));
        }
    }
    let Some(ics) = s.ics else {
        // A flow: its transactions are checked one by one.
        return Ok(());
    };
    if let Some(ops) = &m.operations {
        if !ops.contains(&ics.operation) {
            let names: Vec<&str> = ops.iter().map(|o| o.name()).collect();
            return Err((
                Refusal::Operation,
                format!(
                    "allows operations {} only, not {}",
                    names.join(", "),
                    ics.operation.name()
                ),
            ));
        }
    }
    if let Some(f) = &m.functions {
        if !f.contains(&ics.function_code) {
            return Err((
                Refusal::Function,
                format!(
                    "does not allow function {} ({})",
                    ics.function_code, ics.function
                ),
            ));
        }
    }
    for t in targets {
        let map = match access(t) {
            Access::Write => &m.writes,
            Access::Read => &m.reads,
        };
        if let Some(map) = map {
            if !map.covers(t) {
                return Err((
                    Refusal::Target,
                    format!("does not allow {}", target_text(t)),
                ));
            }
        }
    }
    Ok(())
}

/// Whether a deny rule's constraints all hold for `s`.
fn forbidden(m: &Match, s: &Subject<'_>, targets: &[Target]) -> bool {
    if let Some(p) = &m.protocols {
        if !listed(p, s.protocol) {
            return false;
        }
    }
    let needs_tx =
        m.operations.is_some() || m.functions.is_some() || m.reads.is_some() || m.writes.is_some();
    let Some(ics) = s.ics else {
        return !needs_tx;
    };
    if let Some(ops) = &m.operations {
        if !ops.contains(&ics.operation) {
            return false;
        }
    }
    if let Some(f) = &m.functions {
        if !f.contains(&ics.function_code) {
            return false;
        }
    }
    if m.reads.is_none() && m.writes.is_none() {
        return true;
    }
    targets.iter().any(|t| {
        let map = match access(t) {
            Access::Write => &m.writes,
            Access::Read => &m.reads,
        };
        map.as_ref().is_some_and(|map| touches(map, t))
    })
}

fn touches(map: &AddressMap, t: &Target) -> bool {
    match t {
        Target::Range { space, lo, hi, .. } => map
            .ranges
            .get(space)
            .is_some_and(|r| r.intersects(*lo, *hi)),
        Target::Tag { name, .. } => map.tags.contains(name),
    }
}
