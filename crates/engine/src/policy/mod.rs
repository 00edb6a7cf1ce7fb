//! Policy: zones and conduits (IEC 62443-3-2), explicit deny rules, and a
//! learned baseline, in one TOML format that people write and `learn`
//! writes (`docs/policy.md` describes every key).
//!
//! Loading validates everything and reports each error with its file, line
//! and column, so `plantshield policy check` can explain a broken file
//! instead of failing on the first problem.

mod check;
mod learn;
mod load;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;

use plantshield_decode::MacAddr;
use plantshield_events::Operation;

pub use check::PolicyCheck;
pub use learn::Learner;
pub use load::{load, load_str, Diagnostic, Loaded};

use crate::ranges::RangeSet;
use crate::target::{Space, Target};

/// Protocols the sensor names (`app_proto` and transaction event types);
/// other names draw a warning from `policy check`, since they can only
/// match flows of protocols a later version parses.
pub const KNOWN_PROTOCOLS: &[&str] = &[
    "modbus",
    "dnp3",
    "iec104",
    "s7comm",
    "s7comm_plus",
    "enip",
    "bacnet",
    "opcua",
    "dns",
    "netbios",
    "dhcp",
    "http",
];

/// An IPv4 or IPv6 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.0.1.0/24`, `fd00::/8` or a single address.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(Cidr {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// True when `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

/// What happens to traffic that no conduit covers, between zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Let it pass silently.
    Allow,
    /// Raise `ps.policy.conduit_violation`.
    Alert,
}

/// The `[policy]` settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Traffic between zones that no conduit covers.
    pub default: DefaultAction,
    /// Traffic inside one zone passes without a conduit.
    pub intra_zone_allowed: bool,
    /// Check reads against the learned read ranges too (writes always are).
    pub check_reads: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default: DefaultAction::Alert,
            intra_zone_allowed: true,
            check_reads: false,
        }
    }
}

/// Where a rule was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A zone: devices with common security requirements.
#[derive(Clone, Debug)]
pub struct Zone {
    /// Unique name.
    pub name: String,
    /// IEC 62443 target security level (1-4).
    pub security_level: Option<u8>,
    /// Member networks and addresses.
    pub members: Vec<Cidr>,
    /// Where it was written.
    pub origin: Origin,
}

/// Addresses a rule allows or forbids, per space, and CIP tags by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressMap {
    /// Ranges per space.
    pub ranges: BTreeMap<Space, RangeSet>,
    /// CIP tag names.
    pub tags: BTreeSet<String>,
    /// Tags not kept because [`MAX_TAGS`] were already held.
    pub tags_dropped: u64,
}

/// Tag names kept per address map.
pub const MAX_TAGS: usize = 1024;

impl AddressMap {
    /// True when `t` is inside.
    pub fn covers(&self, t: &Target) -> bool {
        match t {
            Target::Range { space, lo, hi, .. } => {
                self.ranges.get(space).is_some_and(|r| r.covers(*lo, *hi))
            }
            Target::Tag { name, .. } => self.tags.contains(name),
        }
    }

    /// Adds `t`.
    pub fn insert(&mut self, t: &Target) {
        match t {
            Target::Range { space, lo, hi, .. } => {
                self.ranges.entry(*space).or_default().insert(*lo, *hi)
            }
            Target::Tag { name, .. } => {
                if self.tags.contains(name) {
                } else if self.tags.len() < MAX_TAGS {
                    self.tags.insert(name.clone());
                } else {
                    self.tags_dropped += 1;
                }
            }
        }
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.tags.is_empty()
    }
}

/// Which protocols, operations, functions and addresses a rule matches;
/// `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct Match {
    /// Protocol names (`modbus`, `tcp/80`).
    pub protocols: Option<Vec<String>>,
    /// Operations.
    pub operations: Option<Vec<Operation>>,
    /// Function codes.
    pub functions: Option<Vec<u32>>,
    /// Addresses read.
    pub reads: Option<AddressMap>,
    /// Addresses written (writes, commands, downloads).
    pub writes: Option<AddressMap>,
}

/// One end of a conduit or deny rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Anything, zoned or not.
    Any,
    /// A zone, by index into [`Policy::zones`].
    Zone(usize),
    /// Addresses (deny rules only).
    Net(Vec<Cidr>),
}

/// An allowed flow between two zones.
#[derive(Clone, Debug)]
pub struct Conduit {
    /// Unique name.
    pub name: String,
    /// Client side.
    pub from: Endpoint,
    /// Server side.
    pub to: Endpoint,
    /// What it carries.
    pub allow: Match,
    /// Where it was written.
    pub origin: Origin,
}

/// Traffic that is never acceptable.
#[derive(Clone, Debug)]
pub struct Deny {
    /// Unique name.
    pub name: String,
    /// Client side.
    pub from: Endpoint,
    /// Server side.
    pub to: Endpoint,
    /// What it forbids; `writes` and `reads` here are addresses that must
    /// not be touched.
    pub forbid: Match,
    /// Where it was written.
    pub origin: Origin,
}

/// A known device.
#[derive(Clone, Debug, Default)]
pub struct KnownAsset {
    /// Its addresses.
    pub ips: Vec<IpAddr>,
    /// Its MAC addresses.
    pub macs: Vec<MacAddr>,
}

/// A learned (or hand-written) communication pair.
#[derive(Clone, Debug, Default)]
pub struct Pair {
    /// Operations seen.
    pub operations: BTreeSet<Operation>,
    /// Function codes seen, with their names.
    pub functions: BTreeMap<u32, String>,
    /// Addresses read.
    pub reads: AddressMap,
    /// Addresses written.
    pub writes: AddressMap,
    /// Where it was written.
    pub origin: Origin,
}

/// (client, server, protocol).
pub type PairKey = (IpAddr, IpAddr, String);

/// An accepted built-in alert: seen while learning, or tuned away.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Accept {
    /// Rule id.
    pub rule: String,
    /// Source, or any.
    pub src: Option<IpAddr>,
    /// Destination, or any.
    pub dst: Option<IpAddr>,
}

/// The baseline: what normal looks like.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// Known devices.
    pub assets: Vec<KnownAsset>,
    /// Known pairs.
    pub pairs: HashMap<PairKey, Pair>,
    /// Accepted alerts.
    pub accepts: Vec<Accept>,
}

/// A loaded policy: zones, conduits, deny rules and a baseline.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Settings.
    pub settings: Settings,
    /// Zones.
    pub zones: Vec<Zone>,
    /// Conduits.
    pub conduits: Vec<Conduit>,
    /// Deny rules.
    pub denies: Vec<Deny>,
    /// The baseline, when any `asset`, `pair` or `accept` entry was given.
    pub baseline: Option<Baseline>,
}

impl Policy {
    /// The zone of `ip`: the most specific member network, first zone on a tie.
    pub fn zone_of(&self, ip: IpAddr) -> Option<usize> {
        let mut best: Option<(usize, u8)> = None;
        for (i, z) in self.zones.iter().enumerate() {
            for m in &z.members {
                if m.contains(ip) && best.is_none_or(|(_, p)| m.prefix > p) {
                    best = Some((i, m.prefix));
                }
            }
        }
        best.map(|(i, _)| i)
    }
}

/// The zone name of an asset with addresses `ips`: the policy zone of its
/// first address that has one, else that address's /24 (IPv4) or /64
/// (IPv6) network, else `unaddressed`. The platform's dashboard and the
/// security report group assets by it.
pub fn zone_name(policy: Option<&Policy>, ips: &[IpAddr]) -> String {
    if let Some(p) = policy {
        for ip in ips {
            if let Some(z) = p.zone_of(*ip) {
                return p.zones[z].name.clone();
            }
        }
    }
    match ips.first() {
        Some(IpAddr::V4(v)) => {
            let o = v.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Some(IpAddr::V6(v)) => {
            let s = v.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unaddressed".into(),
    }
}

/// The protocol name of a flow: its application protocol, else the
/// transport and the server port (`tcp/80`, `udp/53`), else the IP protocol.
pub fn flow_protocol(app: Option<&'static str>, proto: Option<u8>, port: u16) -> Cow {
    if let Some(a) = app {
        return Cow::Borrowed(a);
    }
    match proto {
        Some(6) => Cow::Owned(format!("tcp/{port}")),
        Some(17) => Cow::Owned(format!("udp/{port}")),
        Some(1) => Cow::Borrowed("icmp"),
        Some(58) => Cow::Borrowed("icmpv6"),
        Some(p) => Cow::Owned(format!("ip/{p}")),
        None => Cow::Borrowed("unknown"),
    }
}

/// IGMP reports are a host's link-local signalling of its multicast groups
/// (TTL 1, answered by no one), not communication between assets: policies
/// neither learn nor check them.
pub fn outside_policy(proto: Option<u8>) -> bool {
    proto == Some(2)
}

/// Registered ports of the protocols the sensor names: a flow that ended
/// before its protocol was recognised (a connection without payload) is
/// named by its port, and matches a pair of the protocol registered there.
const SERVICE_PORTS: &[(&str, &[&str])] = &[
    ("modbus", &["tcp/502", "udp/502"]),
    ("dnp3", &["tcp/20000", "udp/20000"]),
    ("iec104", &["tcp/2404"]),
    ("s7comm", &["tcp/102"]),
    ("s7comm_plus", &["tcp/102"]),
    ("enip", &["tcp/44818", "udp/44818", "udp/2222"]),
    ("bacnet", &["udp/47808"]),
    ("opcua", &["tcp/4840"]),
    ("dns", &["udp/53", "tcp/53"]),
    ("netbios", &["udp/137"]),
    ("dhcp", &["udp/67", "udp/68"]),
    ("http", &["tcp/80", "tcp/8080"]),
];

/// Other names of the same service: the registered ports of a protocol,
/// or the protocols registered on a port.
pub fn aliases(protocol: &str) -> impl Iterator<Item = &'static str> + '_ {
    SERVICE_PORTS.iter().flat_map(move |(name, ports)| {
        let by_name = (*name == protocol)
            .then_some(*ports)
            .into_iter()
            .flatten()
            .copied();
        let by_port = ports.contains(&protocol).then_some(*name).into_iter();
        by_name.chain(by_port)
    })
}

/// A protocol name, borrowed when static.
pub type Cow = std::borrow::Cow<'static, str>;
