//! The passive asset inventory and communication map.
//!
//! An asset is one device. Local devices are keyed by MAC address and get
//! their IP addresses from ARP (authoritative) and from their own traffic;
//! devices seen only through a router have no MAC of their own and are kept
//! by IP address as `remote` assets. Two rules keep routed traffic from
//! inventing devices:
//!
//! - A packet whose TTL is below every common initial value (255, 128, 64,
//!   32) crossed a router, so its source MAC is the router's, not the
//!   sender's: the IP is not bound to that MAC.
//! - A MAC that traffic associates with more IPs than the router threshold,
//!   without claiming them by ARP, is a router: those IPs are moved off it
//!   into remote assets and it is marked network gear.
//!
//! Every identity attribute keeps its evidence: the source (which event
//! taught it), first and last time, the flow, and a confidence. Changes are
//! reported as [`AssetChange`]s: a new asset, a newly learned attribute, a
//! changed one (a firmware change is a security fact), a changed role, and
//! an IP address moving to another MAC (reported once per new pairing, so a
//! flapping ARP poisoning does not flood).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use plantshield_decode::MacAddr;
use plantshield_events::Operation;
use plantshield_sensor::{Envelope, Event, FlowEvent, Observation};

use crate::identity;
use crate::role::{self, Role};

/// Limits of the inventory.
#[derive(Clone, Debug)]
pub struct InventoryConfig {
    /// Assets kept; beyond it new devices are counted but not tracked.
    pub max_assets: usize,
    /// IP addresses kept per asset.
    pub max_ips_per_asset: usize,
    /// MAC addresses kept per asset.
    pub max_macs_per_asset: usize,
    /// Communication edges kept.
    pub max_edges: usize,
    /// Distinct IPs seen from one MAC (not by ARP) that make it a router.
    pub router_threshold: usize,
    /// Changes kept per asset in its history.
    pub max_history: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            max_assets: 100_000,
            max_ips_per_asset: 16,
            max_macs_per_asset: 8,
            max_edges: 500_000,
            router_threshold: 4,
            max_history: 32,
        }
    }
}

/// Index of an asset in the inventory (stable for the run).
pub type AssetId = u32;

/// One identity attribute with its evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    /// The value.
    pub value: String,
    /// What taught it, e.g. `modbus.read_device_identification`, `oui`, `arp`.
    pub source: &'static str,
    /// 0..=100: how far the source can be trusted for this attribute.
    pub confidence: u8,
    /// When first seen with this value.
    pub first_seen: i64,
    /// When last confirmed.
    pub last_seen: i64,
    /// The flow of the event that taught it, if any.
    pub flow_id: Option<u64>,
    /// How often it was confirmed.
    pub seen: u64,
}

/// A past change of an asset.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    /// When.
    pub ts: i64,
    /// Which attribute (or `role`, `ip`).
    pub attribute: String,
    /// The value before (empty when first learned).
    pub old: String,
    /// The value after.
    pub new: String,
    /// What taught it.
    pub source: &'static str,
}

/// One device.
#[derive(Clone, Debug)]
pub struct Asset {
    /// Identifier.
    pub id: AssetId,
    /// Its MAC addresses (several for multi-port devices).
    pub macs: Vec<MacAddr>,
    /// Its IP addresses.
    pub ips: Vec<IpAddr>,
    /// Known only by IP, through a router.
    pub remote: bool,
    /// First seen.
    pub first_seen: i64,
    /// Last seen.
    pub last_seen: i64,
    /// Identity attributes (vendor, model, firmware, serial_number, ...).
    pub attrs: BTreeMap<String, Attr>,
    /// Transactions served, by protocol.
    pub served: Vec<(&'static str, u64)>,
    /// Transactions initiated, by protocol.
    pub used: Vec<(&'static str, u64)>,
    /// Operations sent as a client, indexed by `Operation as usize`.
    pub ops_sent: [u64; 13],
    /// Operations received as a server, indexed by `Operation as usize`.
    pub ops_received: [u64; 13],
    /// Of the discovery operations sent, those every device or client of
    /// its protocol sends as a matter of course (see
    /// [`role::routine_discovery`]).
    pub routine_discovery: u64,
    /// Distinct remote IPs forwarded (router evidence).
    pub forwarded: usize,
    /// Distinct servers this asset polled with an industrial protocol.
    pub servers_polled: usize,
    /// Flows without an industrial protocol.
    pub it_flows: u64,
    /// Serves a historian or database TCP port.
    pub serves_historian_port: bool,
    /// The inferred role (`role::reasons` says why).
    pub role: Role,
    /// Recent changes.
    pub history: Vec<HistoryEntry>,
}

impl Asset {
    /// An asset with nothing known (no allocation).
    fn empty(id: AssetId) -> Asset {
        Asset {
            id,
            macs: Vec::new(),
            ips: Vec::new(),
            remote: false,
            first_seen: 0,
            last_seen: 0,
            attrs: BTreeMap::new(),
            served: Vec::new(),
            used: Vec::new(),
            ops_sent: [0; 13],
            ops_received: [0; 13],
            routine_discovery: 0,
            forwarded: 0,
            servers_polled: 0,
            it_flows: 0,
            serves_historian_port: false,
            role: Role::Unknown,
            history: Vec::new(),
        }
    }

    /// The first IP address, if any.
    pub fn primary_ip(&self) -> Option<IpAddr> {
        self.ips.first().copied()
    }

    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(|a| a.value.as_str())
    }

    /// Transactions served with `protocol`.
    pub fn serves(&self, protocol: &str) -> u64 {
        self.served
            .iter()
            .find(|(p, _)| *p == protocol)
            .map_or(0, |(_, n)| *n)
    }

    /// Transactions initiated with `protocol`.
    pub fn uses(&self, protocol: &str) -> u64 {
        self.used
            .iter()
            .find(|(p, _)| *p == protocol)
            .map_or(0, |(_, n)| *n)
    }

    /// Operations of a kind sent as a client.
    pub fn sent(&self, op: Operation) -> u64 {
        self.ops_sent[op as usize]
    }

    /// Operations of a kind received as a server.
    pub fn received(&self, op: Operation) -> u64 {
        self.ops_received[op as usize]
    }
}

/// Counts one more for `key`; true when it is the first.
fn bump(v: &mut Vec<(&'static str, u64)>, key: &'static str, n: u64) -> bool {
    match v.iter_mut().find(|(k, _)| *k == key) {
        Some((_, c)) => {
            *c += n;
            false
        }
        None => {
            v.push((key, n));
            true
        }
    }
}

/// `a == b`, comparing application names by address first (they are
/// static strings, and the same name is almost always the same string).
#[inline]
fn same_protocol(a: EdgeProto, b: EdgeProto) -> bool {
    match (a, b) {
        (EdgeProto::App(x), EdgeProto::App(y)) => std::ptr::eq(x, y) || x == y,
        _ => a == b,
    }
}

/// The protocol of an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeProto {
    /// A detected application protocol.
    App(&'static str),
    /// An undetected one: IP protocol and server port.
    Port(u8, u16),
}

impl std::fmt::Display for EdgeProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EdgeProto::App(a) => f.write_str(a),
            EdgeProto::Port(6, p) => write!(f, "tcp/{p}"),
            EdgeProto::Port(17, p) => write!(f, "udp/{p}"),
            EdgeProto::Port(1, _) => f.write_str("icmp"),
            EdgeProto::Port(58, _) => f.write_str("icmpv6"),
            EdgeProto::Port(n, _) => write!(f, "ip/{n}"),
        }
    }
}

/// A communication edge: a client asset using a protocol on a server asset.
///
/// Laid out for the transaction path, which counts a transaction on its
/// edge: the total, the last time and the first six operations (reads,
/// writes, commands, ...) share the record's first cache line.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Edge {
    /// Transactions in total.
    pub transactions: u64,
    /// Last seen.
    pub last_seen: i64,
    /// Transactions by operation, indexed by `Operation as usize`.
    pub operations: [u64; 13],
    /// Client.
    pub client: AssetId,
    /// Server.
    pub server: AssetId,
    /// Application protocol, or the transport and server port.
    pub protocol: EdgeProto,
    /// Flows.
    pub flows: u64,
    /// Bytes client to server.
    pub bytes_toserver: u64,
    /// Bytes server to client.
    pub bytes_toclient: u64,
    /// First seen.
    pub first_seen: i64,
}

const _: () = assert!(std::mem::size_of::<Edge>() == 192);

/// What changed, for `asset` events.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeKind {
    /// A device seen for the first time.
    New,
    /// An attribute learned for the first time.
    Identified,
    /// An attribute whose value changed (firmware, order number, role, ...).
    Changed,
    /// An IP address now claimed by another MAC.
    IpMoved,
}

impl ChangeKind {
    /// snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Identified => "identified",
            ChangeKind::Changed => "changed",
            ChangeKind::IpMoved => "ip_moved",
        }
    }
}

/// One change of the inventory.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetChange {
    /// When.
    pub ts: i64,
    /// Which asset.
    pub asset: AssetId,
    /// What kind of change.
    pub kind: ChangeKind,
    /// The attribute concerned (`ip` for moves, `role` for roles).
    pub attribute: Option<String>,
    /// Value before.
    pub old: Option<String>,
    /// Value after.
    pub new: Option<String>,
    /// The evidence source.
    pub source: &'static str,
    /// The flow of the evidence, if any.
    pub flow_id: Option<u64>,
}

/// Hash maps keyed by addresses and ids that traffic controls: ahash with
/// a random key resists collision flooding and is fast.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
type HashSet<K> = std::collections::HashSet<K, ahash::RandomState>;

/// Routers crossed, from a TTL / hop limit: the distance to the nearest
/// common initial value at or above it (Siemens 30, 32, 60, Linux 64,
/// 100, Windows 128, 200, network gear 255), when that is at most 16.
/// `None` when unknown (0) or unlike any initial value.
fn hops(ttl: u8) -> Option<u8> {
    if ttl == 0 {
        return None;
    }
    [30u8, 32, 60, 64, 100, 128, 200, 255]
        .into_iter()
        .find(|&init| ttl <= init)
        .map(|init| init - ttl)
        .filter(|h| *h <= 16)
}

fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            !(v.is_broadcast() || v.is_multicast() || v.is_unspecified() || v.octets()[3] == 255)
        }
        IpAddr::V6(v) => !(v.is_multicast() || v.is_unspecified()),
    }
}

/// What the flow cache remembers of a flow.
#[derive(Clone, Copy)]
struct Cached {
    client: AssetId,
    server: AssetId,
    protocol: EdgeProto,
    edge: Option<u32>,
    /// The envelope source the entry was made for: protocols whose peers
    /// both request (BACnet) orient each event from its requester, so one
    /// flow's events can come either way.
    src: (IpAddr, u16),
}

/// A [`Cached`] resolution kept in a flow's notes (four words; see
/// `Engine`): read with the edge by every transaction of the flow, from
/// the line beside the flow record. The notes hold the events of one flow
/// and protocol (`EventSink::flow_event`), so the protocol is not kept,
/// and the source only as which end of the flow it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Noted {
    client: AssetId,
    server: AssetId,
    /// The edge, [`NO_EDGE`] for none.
    edge: u32,
    /// [`crate::src_first`] of the events it was made for.
    src_first: bool,
    /// `flow_gen` when it was made.
    gen: u64,
}

/// `Noted::edge` of a resolution without an edge (edge indexes are
/// below `max_edges`, far below it).
const NO_EDGE: u32 = u32::MAX;

impl Noted {
    /// What `note` holds: nothing while the generation word is zero.
    fn load(note: &[u64; 4]) -> Option<Noted> {
        let gen = note[2].checked_sub(1)?;
        Some(Noted {
            client: note[0] as u32,
            server: (note[0] >> 32) as u32,
            edge: note[1] as u32,
            src_first: note[1] >> 32 & 1 == 1,
            gen,
        })
    }

    fn store(&self, note: &mut [u64; 4]) {
        *note = [
            u64::from(self.client) | u64::from(self.server) << 32,
            u64::from(self.edge) | u64::from(self.src_first) << 32,
            self.gen.wrapping_add(1),
            0,
        ];
    }
}

/// The inventory.
pub struct Inventory {
    cfg: InventoryConfig,
    assets: Vec<Asset>,
    by_mac: HashMap<MacAddr, AssetId>,
    by_ip: HashMap<IpAddr, AssetId>,
    /// IPs each MAC was seen sending from or to, by traffic only.
    traffic_ips: HashMap<MacAddr, BTreeSet<IpAddr>>,
    /// IPs each MAC claimed by ARP.
    arp_ips: HashMap<MacAddr, BTreeSet<IpAddr>>,
    /// IPs whose packets came from each MAC with a decremented TTL.
    routed: HashMap<MacAddr, BTreeSet<IpAddr>>,
    /// MACs recognised as routers.
    routers: BTreeSet<MacAddr>,
    /// Every MAC that ever claimed each IP (to report a move once).
    ip_macs: HashMap<IpAddr, Vec<MacAddr>>,
    edges: Vec<Edge>,
    edge_index: HashMap<(AssetId, AssetId, EdgeProto), u32>,
    changes: Vec<AssetChange>,
    /// Flow id -> (client, server, protocol, edge): transactions of a
    /// known flow skip endpoint resolution and the edge lookup. Cleared when
    /// assets merge or split. For the events that come without notes.
    flow_cache: HashMap<u64, Cached>,
    /// Bumped where `flow_cache` is cleared: resolutions in flow notes
    /// made before are stale.
    flow_gen: u64,
    /// (client, server) pairs that spoke an industrial protocol.
    ics_pairs: HashSet<(AssetId, AssetId)>,
    /// Devices not tracked because `max_assets` was reached.
    pub dropped: u64,
}

impl Inventory {
    /// An empty inventory.
    pub fn new(cfg: InventoryConfig) -> Self {
        Inventory {
            cfg,
            assets: Vec::new(),
            by_mac: HashMap::default(),
            by_ip: HashMap::default(),
            traffic_ips: HashMap::default(),
            arp_ips: HashMap::default(),
            routed: HashMap::default(),
            routers: BTreeSet::new(),
            ip_macs: HashMap::default(),
            edges: Vec::new(),
            edge_index: HashMap::default(),
            changes: Vec::new(),
            flow_cache: HashMap::default(),
            flow_gen: 0,
            ics_pairs: HashSet::default(),
            dropped: 0,
        }
    }

    /// All assets, in order of discovery (merged assets are left empty and skipped).
    pub fn assets(&self) -> impl Iterator<Item = &Asset> {
        self.assets
            .iter()
            .filter(|a| !a.macs.is_empty() || !a.ips.is_empty())
    }

    /// One asset.
    pub fn asset(&self, id: AssetId) -> Option<&Asset> {
        self.assets.get(id as usize)
    }

    /// Takes asset `id` out of the inventory, leaving an empty record in
    /// its place until [`Inventory::return_asset`] puts it back: for
    /// handing it to an event without cloning its attributes and lists.
    pub(crate) fn lend_asset(&mut self, id: AssetId) -> Option<Asset> {
        let slot = self.assets.get_mut(id as usize)?;
        Some(std::mem::replace(slot, Asset::empty(id)))
    }

    /// Puts back an asset taken by [`Inventory::lend_asset`].
    pub(crate) fn return_asset(&mut self, asset: Asset) {
        let id = asset.id as usize;
        self.assets[id] = asset;
    }

    /// The engine's prefetch hint ([`plantshield_sensor::EventSink::prefetch_notes`],
    /// a packet ahead): the edge a flow's notes name. The notes are not
    /// checked for validity: stale or empty ones (whose edge is
    /// [`NO_EDGE`] or some other edge) cost one useless prefetch, while
    /// the checks would cost instructions at every packet.
    #[inline]
    pub fn prefetch_edge(&self, note: &[u64; 4]) {
        if let Some(edge) = self.edges.get(note[1] as u32 as usize) {
            plantshield_flow::prefetch_lines(&edge.transactions);
        }
    }

    /// The asset holding an IP address.
    pub fn by_ip(&self, ip: IpAddr) -> Option<&Asset> {
        self.by_ip.get(&ip).and_then(|id| self.asset(*id))
    }

    /// Communication edges, sorted by client, server, protocol.
    pub fn edges(&self) -> Vec<&Edge> {
        let mut v: Vec<&Edge> = self.edges.iter().filter(|e| e.client != e.server).collect();
        v.sort_by(|a, b| (a.client, a.server, &a.protocol).cmp(&(b.client, b.server, &b.protocol)));
        v
    }

    /// Recomputes every asset's traffic totals (transactions by protocol,
    /// operations, last seen) from the edges. Transactions update only
    /// their edge, so call this before reading those totals.
    pub fn sync_totals(&mut self) {
        for a in &mut self.assets {
            for (_, n) in a.served.iter_mut().chain(a.used.iter_mut()) {
                *n = 0;
            }
            a.ops_sent = [0; 13];
            a.ops_received = [0; 13];
            a.routine_discovery = 0;
        }
        for e in &self.edges {
            if e.client == e.server || e.transactions == 0 {
                continue;
            }
            let EdgeProto::App(p) = e.protocol else {
                continue;
            };
            for (id, client) in [(e.client, true), (e.server, false)] {
                let Some(a) = self.assets.get_mut(id as usize) else {
                    continue;
                };
                a.last_seen = a.last_seen.max(e.last_seen);
                let (list, ops) = if client {
                    (&mut a.used, &mut a.ops_sent)
                } else {
                    (&mut a.served, &mut a.ops_received)
                };
                match list.iter_mut().find(|(k, _)| *k == p) {
                    Some((_, n)) => *n += e.transactions,
                    None => list.push((p, e.transactions)),
                }
                for (o, n) in e.operations.iter().enumerate() {
                    ops[o] += n;
                }
                if client && role::routine_discovery(p) {
                    a.routine_discovery += e.operations[Operation::Discovery as usize];
                }
            }
        }
    }

    /// Whether changes were recorded since the last [`Inventory::take_changes`].
    #[inline]
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Takes the changes recorded since the last call.
    pub fn take_changes(&mut self) -> Vec<AssetChange> {
        std::mem::take(&mut self.changes)
    }

    /// A network observation (ARP, or a frame of another layer-2 protocol).
    pub fn observe(&mut self, obs: &Observation<'_>) {
        let (ts, arp) = match *obs {
            Observation::Arp { ts, arp, .. } => (ts, arp),
            Observation::Frame {
                ts,
                src,
                dst,
                ethertype,
                ..
            } => return self.frame(ts, src, dst, ethertype),
        };
        let ip = IpAddr::V4(arp.sender_ip);
        if arp.sender_mac.is_multicast() || arp.sender_mac == MacAddr::default() {
            return;
        }
        let Some(id) = self.asset_for_mac(arp.sender_mac, ts) else {
            return;
        };
        if !is_unicast(ip) || arp.sender_ip.is_unspecified() {
            return;
        }
        self.claim(arp.sender_mac, ip);
        self.bind_ip(id, arp.sender_mac, ip, ts, "arp", None);
    }

    /// A layer-2 frame: its sender is a device, and some protocols say what
    /// kind (GOOSE and Sampled Values publishers are IEDs or merging units,
    /// spanning-tree BPDUs come from switches).
    fn frame(&mut self, ts: i64, src: MacAddr, dst: MacAddr, ethertype: u16) {
        if src.is_multicast() || src == MacAddr::default() {
            return;
        }
        let Some(id) = self.asset_for_mac(src, ts) else {
            return;
        };
        self.touch(id, ts);
        let protocol = match ethertype {
            0x88b8 => "goose",
            0x88ba => "sv",
            0x8892 => "profinet",
            // IEEE 802.1D spanning tree: LLC frames to the bridge group address.
            n if n <= 1500 && dst.0 == [0x01, 0x80, 0xc2, 0, 0, 0] => "stp",
            _ => return,
        };
        let a = &mut self.assets[id as usize];
        if bump(&mut a.served, protocol, 1) {
            self.update_role(id, ts);
        }
    }

    /// An event from the sensor.
    #[inline]
    pub fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.event_general(env, ev, None);
    }

    /// Updates the inventory from one event of a flow, with the four words
    /// of the flow's notes that belong to the inventory (see
    /// [`plantshield_sensor::EventSink::flow_event`]), where it keeps the
    /// flow's resolution.
    pub fn flow_event(&mut self, env: &Envelope, ev: &Event<'_>, note: &mut [u64; 4]) {
        if self.transaction_noted(env, ev, note) {
            return;
        }
        self.event_general(env, ev, Some(note));
    }

    /// The usual event, taken here: a transaction of a flow whose notes
    /// hold a current resolution with an edge, made for the same source.
    /// Counts it on that edge, as [`Inventory::event_general`] would with
    /// the flow's resolution; false (nothing done) for any other event.
    #[inline]
    fn transaction_noted(&mut self, env: &Envelope, ev: &Event<'_>, note: &[u64; 4]) -> bool {
        let (Some(ics), Some(n), Some(_), Some(_), Some(_)) =
            (ev.ics(), Noted::load(note), env.flow_id, env.src, env.dst)
        else {
            return false;
        };
        if !(n.gen == self.flow_gen && n.edge != NO_EDGE && n.src_first == crate::src_first(env)) {
            return false;
        }
        let ts = env.ts_ns;
        self.transaction_on(
            n.edge,
            n.client,
            n.server,
            ts,
            ev.event_type(),
            ics.operation,
        );
        self.facts(ev, Some(n.client), Some(n.server), ts, env.flow_id);
        true
    }

    /// [`Inventory::event`] in every case, with the flow's notes if any.
    #[inline(never)]
    fn event_general(&mut self, env: &Envelope, ev: &Event<'_>, mut note: Option<&mut [u64; 4]>) {
        let (Some(src), Some(dst)) = (env.src, env.dst) else {
            // Layer-2 protocol events (PROFINET DCP) name their MACs only.
            if env.src.is_none() && ev.ics().is_some() {
                self.layer2_facts(env, ev);
            }
            return;
        };
        if let Event::Anomaly(_) | Event::Stats(_) | Event::Ext(_) = ev {
            return;
        }
        let ts = env.ts_ns;
        let protocol = match env.app_proto {
            Some(a) => EdgeProto::App(a),
            None => EdgeProto::Port(env.proto.unwrap_or(0), dst.1),
        };
        let ics = ev.ics();
        if let (Event::Flow(_), Some(id)) = (ev, env.flow_id) {
            match note.as_deref_mut() {
                Some(n) => *n = [0; 4],
                None => {
                    self.flow_cache.remove(&id);
                }
            }
        }
        // Fast path: a transaction of a flow already resolved (with
        // notes, `transaction_noted` took every such one).
        if let (Some(ics), Some(id), None) = (ics, env.flow_id, &note) {
            if let Some(c) = self.flow_cache.get(&id).copied() {
                if same_protocol(c.protocol, protocol) && c.src == src {
                    if let Some(e) = c.edge {
                        self.transaction_on(
                            e,
                            c.client,
                            c.server,
                            ts,
                            ev.event_type(),
                            ics.operation,
                        );
                        self.facts(ev, Some(c.client), Some(c.server), ts, env.flow_id);
                        return;
                    }
                }
            }
        }
        let c = self.endpoint(src.0, env.src_mac, env.src_ttl, ts, env.flow_id);
        let s = self.endpoint(dst.0, env.dst_mac, env.dst_ttl, ts, env.flow_id);
        let (Some(c), Some(s)) = (c, s) else {
            // A broadcast is no asset, but facts that name their device by
            // MAC or IP still apply. A sender without an address yet (a
            // DHCP client, 0.0.0.0) is a local device, known by its MAC.
            let c = match (c, env.src_mac) {
                (None, Some(m))
                    if src.0.is_unspecified() && !m.is_multicast() && m != MacAddr::default() =>
                {
                    self.asset_for_mac(m, ts)
                }
                (c, _) => c,
            };
            if !matches!(ev, Event::Flow(_)) {
                self.facts(ev, c, s, ts, env.flow_id);
            }
            return;
        };
        let edge = self.edge(c, s, protocol, ts);
        if let (Some(id), false) = (env.flow_id, matches!(ev, Event::Flow(_))) {
            match note {
                Some(n) => Noted {
                    client: c,
                    server: s,
                    edge: edge.unwrap_or(NO_EDGE),
                    src_first: crate::src_first(env),
                    gen: self.flow_gen,
                }
                .store(n),
                None => {
                    let cached = Cached {
                        client: c,
                        server: s,
                        protocol,
                        edge,
                        src,
                    };
                    if self.flow_cache.len() >= 100_000 {
                        self.clear_flow_cache();
                    }
                    self.flow_cache.insert(id, cached);
                }
            }
        }
        match ev {
            Event::Flow(f) => self.flow(c, s, protocol, dst.1, edge, ts, f),
            _ => {
                if let (Some(ics), Some(e)) = (ics, edge) {
                    self.transaction_on(e, c, s, ts, ev.event_type(), ics.operation);
                }
                self.facts(ev, Some(c), Some(s), ts, env.flow_id);
            }
        }
    }

    /// Applies the identity facts of an event: to its client or server, or
    /// to the asset a fact names by MAC or IP address (only one the
    /// inventory already holds: a name service answer does not make a
    /// device).
    // Always inlined: the call alone cost more than the test.
    #[inline(always)]
    fn facts(
        &mut self,
        ev: &Event<'_>,
        c: Option<AssetId>,
        s: Option<AssetId>,
        ts: i64,
        flow: Option<u64>,
    ) {
        if identity::may_have_facts(ev) {
            self.apply_facts(ev, c, s, ts, flow);
        }
    }

    /// [`Inventory::facts`] for an event that may have some.
    fn apply_facts(
        &mut self,
        ev: &Event<'_>,
        c: Option<AssetId>,
        s: Option<AssetId>,
        ts: i64,
        flow: Option<u64>,
    ) {
        identity::facts(ev, &mut |f| self.apply_fact(f, c, s, ts, flow));
    }

    /// One fact of an event whose ends are `c` and `s`.
    fn apply_fact(
        &mut self,
        f: identity::Fact,
        c: Option<AssetId>,
        s: Option<AssetId>,
        ts: i64,
        flow: Option<u64>,
    ) {
        // Both ends are one asset (loopback, or hosts behind one MAC):
        // what the client says would overwrite what the server says
        // about the same attributes; the server's identity is kept.
        if f.about.is_none() && f.about_client && c.is_some() && c == s {
            return;
        }
        let id = match f.about {
            Some(identity::About::Mac(m)) => self.by_mac.get(&m).copied(),
            Some(identity::About::Ip(ip)) => self.by_ip.get(&ip).copied(),
            None if f.about_client => c,
            None => s,
        };
        let Some(id) = id else {
            return;
        };
        // A DHCP server's ACK binds an address to the client's MAC: as
        // authoritative as the client's own ARP.
        if let (Some(identity::About::Mac(m)), "dhcp_ip") = (f.about, f.attribute) {
            if let Ok(ip) = f.value.parse::<IpAddr>() {
                if is_unicast(ip) && !ip.is_unspecified() {
                    self.claim(m, ip);
                    self.bind_ip(id, m, ip, ts, "dhcp", flow);
                }
            }
        }
        self.learn(id, f.attribute, f.value, f.source, f.confidence, ts, flow);
    }

    /// The facts of a layer-2 event: its "client" is the sending MAC, its
    /// "server" the destination MAC (unless a group address).
    fn layer2_facts(&mut self, env: &Envelope, ev: &Event<'_>) {
        let ts = env.ts_ns;
        let mut end = |mac: Option<MacAddr>| {
            let m = mac.filter(|m| !m.is_multicast() && *m != MacAddr::default())?;
            let id = self.asset_for_mac(m, ts)?;
            self.touch(id, ts);
            Some(id)
        };
        let c = end(env.src_mac);
        let s = end(env.dst_mac);
        self.facts(ev, c, s, ts, None);
    }

    /// The edge of (client, server, protocol), created if there is room.
    fn edge(&mut self, c: AssetId, s: AssetId, protocol: EdgeProto, ts: i64) -> Option<u32> {
        if c == s {
            return None;
        }
        let full = self.edges.len() >= self.cfg.max_edges;
        match self.edge_index.entry((c, s, protocol)) {
            Entry::Occupied(o) => Some(*o.get()),
            Entry::Vacant(_) if full => None,
            Entry::Vacant(v) => {
                let i = self.edges.len() as u32;
                v.insert(i);
                self.edges.push(Edge {
                    client: c,
                    server: s,
                    protocol,
                    operations: [0; 13],
                    transactions: 0,
                    flows: 0,
                    bytes_toserver: 0,
                    bytes_toclient: 0,
                    first_seen: ts,
                    last_seen: ts,
                });
                Some(i)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn flow(
        &mut self,
        c: AssetId,
        s: AssetId,
        protocol: EdgeProto,
        port: u16,
        edge: Option<u32>,
        ts: i64,
        f: &FlowEvent,
    ) {
        // An IT protocol (HTTP, DNS, ...) or none that was detected.
        let it = match protocol {
            EdgeProto::Port(..) => true,
            EdgeProto::App(p) => !role::is_ics(p),
        };
        let tcp = matches!(protocol, EdgeProto::Port(6, _))
            || matches!(protocol, EdgeProto::App(p) if p == "http");
        if tcp && it {
            let a = &mut self.assets[s as usize];
            if role::is_historian_port(port) && !a.serves_historian_port {
                a.serves_historian_port = true;
                self.update_role(s, ts);
            }
        }
        if it {
            for id in [c, s] {
                let a = &mut self.assets[id as usize];
                a.it_flows += 1;
                if a.it_flows == 1 {
                    self.update_role(id, ts);
                }
            }
        }
        if let Some(e) = edge.and_then(|i| self.edges.get_mut(i as usize)) {
            e.flows += 1;
            e.bytes_toserver += f.bytes_toserver;
            e.bytes_toclient += f.bytes_toclient;
            e.first_seen = e.first_seen.min(f.start_ns);
            e.last_seen = e.last_seen.max(ts);
        }
    }

    /// Counts a transaction on its edge. Assets are only touched when the
    /// edge sees something for the first time (a new protocol, operation or
    /// pair), since roles depend only on what occurs; totals come from
    /// [`Inventory::sync_totals`].
    fn transaction_on(
        &mut self,
        edge: u32,
        c: AssetId,
        s: AssetId,
        ts: i64,
        proto: &'static str,
        op: Operation,
    ) {
        let o = op as usize;
        let Some(e) = self.edges.get_mut(edge as usize) else {
            return;
        };
        e.transactions += 1;
        e.operations[o] += 1;
        e.last_seen = e.last_seen.max(ts);
        let (first_on_edge, first_op) = (e.transactions == 1, e.operations[o] == 1);
        if !first_on_edge && !first_op {
            return;
        }
        let new_pair =
            first_on_edge && self.ics_pairs.len() < 1_000_000 && self.ics_pairs.insert((c, s));
        let client_new = {
            let a = &mut self.assets[c as usize];
            a.ops_sent[o] += 1;
            if op == Operation::Discovery && role::routine_discovery(proto) {
                a.routine_discovery += 1;
            }
            if new_pair {
                a.servers_polled += 1;
            }
            bump(&mut a.used, proto, 1) | (a.ops_sent[o] == 1) | new_pair
        };
        let server_new = {
            let a = &mut self.assets[s as usize];
            a.ops_received[o] += 1;
            bump(&mut a.served, proto, 1) | (a.ops_received[o] == 1)
        };
        if client_new {
            self.update_role(c, ts);
        }
        if server_new {
            self.update_role(s, ts);
        }
    }

    /// Finds or creates the asset of one end of a flow.
    fn endpoint(
        &mut self,
        ip: IpAddr,
        mac: Option<MacAddr>,
        ttl: u8,
        ts: i64,
        flow: Option<u64>,
    ) -> Option<AssetId> {
        if !is_unicast(ip) {
            return None;
        }
        // Loopback traffic says nothing of the MACs of a capture host.
        let mac =
            mac.filter(|m| !m.is_multicast() && *m != MacAddr::default() && !ip.is_loopback());
        let bound_mac = match mac {
            None => None,
            Some(m) if self.arp_claims(m, ip) => Some(m),
            // Behind a router's MAC are many hosts: only ARP says which
            // addresses are the router's own.
            Some(m) if self.routers.contains(&m) => None,
            Some(m) => {
                let cap = 4 * self.cfg.router_threshold;
                let ips = self.traffic_ips.entry(m).or_default();
                if ips.len() < cap {
                    ips.insert(ip);
                }
                let seen = ips.len() + self.arp_ips.get(&m).map_or(0, BTreeSet::len);
                let many = ips.len() > self.cfg.router_threshold;
                let routed = self.routed.entry(m).or_default();
                if hops(ttl).is_some_and(|h| h > 0) && routed.len() < cap {
                    routed.insert(ip);
                }
                // A MAC is a router when it carries several addresses and
                // some arrived with a decremented TTL, or more addresses
                // than a host plausibly has. One address behind a MAC is
                // that host's, whatever its TTL: stacks' initial TTLs vary
                // too much (Siemens CPUs send 30) to judge one alone.
                if (seen >= 2 && !routed.is_empty()) || many {
                    self.make_router(m, ts);
                    None
                } else {
                    Some(m)
                }
            }
        };
        let id = match bound_mac {
            Some(m) => {
                let id = self.asset_for_mac(m, ts)?;
                self.bind_ip(id, m, ip, ts, "traffic", flow);
                id
            }
            None => match self.by_ip.get(&ip) {
                Some(id) => *id,
                None => self.remote_asset(ip, ts)?,
            },
        };
        self.touch(id, ts);
        Some(id)
    }

    fn arp_claims(&self, mac: MacAddr, ip: IpAddr) -> bool {
        self.arp_ips.get(&mac).is_some_and(|s| s.contains(&ip))
    }

    fn touch(&mut self, id: AssetId, ts: i64) {
        let a = &mut self.assets[id as usize];
        a.last_seen = a.last_seen.max(ts);
        a.first_seen = a.first_seen.min(ts);
    }

    fn new_asset(&mut self, ts: i64, mac: Option<MacAddr>, ip: Option<IpAddr>) -> Option<AssetId> {
        if self.assets.len() >= self.cfg.max_assets {
            self.dropped += 1;
            return None;
        }
        let id = self.assets.len() as AssetId;
        self.assets.push(Asset {
            macs: mac.into_iter().collect(),
            ips: ip.into_iter().collect(),
            remote: mac.is_none(),
            first_seen: ts,
            last_seen: ts,
            ..Asset::empty(id)
        });
        self.changes.push(AssetChange {
            ts,
            asset: id,
            kind: ChangeKind::New,
            attribute: None,
            old: None,
            new: None,
            source: if mac.is_some() {
                "traffic"
            } else {
                "routed_traffic"
            },
            flow_id: None,
        });
        if let Some(m) = mac {
            self.by_mac.insert(m, id);
            if let Some(v) = crate::oui::vendor(m) {
                // Part of the `new` event's description, not a change of its own.
                self.assets[id as usize].attrs.insert(
                    "mac_vendor".into(),
                    Attr {
                        value: v.to_string(),
                        source: "oui",
                        confidence: 90,
                        first_seen: ts,
                        last_seen: ts,
                        flow_id: None,
                        seen: 1,
                    },
                );
            }
        }
        if let Some(ip) = ip {
            self.by_ip.insert(ip, id);
        }
        Some(id)
    }

    fn asset_for_mac(&mut self, mac: MacAddr, ts: i64) -> Option<AssetId> {
        match self.by_mac.get(&mac) {
            Some(id) => Some(*id),
            None => self.new_asset(ts, Some(mac), None),
        }
    }

    fn remote_asset(&mut self, ip: IpAddr, ts: i64) -> Option<AssetId> {
        if let Some(id) = self.by_ip.get(&ip) {
            return Some(*id);
        }
        self.new_asset(ts, None, Some(ip))
    }

    /// Records that `mac` claims `ip` (ARP, DHCP), up to the per-asset
    /// address cap: a host flooding claims cannot grow the table.
    fn claim(&mut self, mac: MacAddr, ip: IpAddr) {
        let cap = self.cfg.max_ips_per_asset;
        let set = self.arp_ips.entry(mac).or_default();
        if set.len() < cap {
            set.insert(ip);
        }
    }

    /// Binds `ip` to the asset of `mac`, moving it from another asset if needed.
    fn bind_ip(
        &mut self,
        id: AssetId,
        mac: MacAddr,
        ip: IpAddr,
        ts: i64,
        source: &'static str,
        flow: Option<u64>,
    ) {
        let seen = self.ip_macs.entry(ip).or_default();
        let new_pair = !seen.contains(&mac);
        if new_pair && seen.len() < 16 {
            seen.push(mac);
        }
        let first_mac = seen.len() == 1;
        match self.by_ip.get(&ip).copied() {
            Some(old) if old == id => {}
            Some(old) => {
                let old_remote = self.assets[old as usize].remote;
                // Drop the address from where it was.
                self.assets[old as usize].ips.retain(|x| *x != ip);
                if old_remote {
                    // A remote IP-only asset turns out to be this local one:
                    // merge, and judge the role on the joined evidence.
                    self.merge(old, id);
                    self.update_role(id, ts);
                } else if new_pair && !first_mac {
                    let old_mac = self.assets[old as usize]
                        .macs
                        .first()
                        .map(|m| m.to_string());
                    self.record(AssetChange {
                        ts,
                        asset: id,
                        kind: ChangeKind::IpMoved,
                        attribute: Some("ip".into()),
                        old: old_mac,
                        new: Some(format!("{ip} at {mac}")),
                        source,
                        flow_id: flow,
                    });
                }
                self.attach_ip(id, ip);
            }
            None => self.attach_ip(id, ip),
        }
    }

    fn attach_ip(&mut self, id: AssetId, ip: IpAddr) {
        let cap = self.cfg.max_ips_per_asset;
        let a = &mut self.assets[id as usize];
        if !a.ips.contains(&ip) && a.ips.len() < cap {
            a.ips.push(ip);
        }
        self.by_ip.insert(ip, id);
    }

    /// Forgets every flow's resolution (assets merged or split).
    fn clear_flow_cache(&mut self) {
        self.flow_cache.clear();
        // 64 bits: no generation comes back.
        self.flow_gen += 1;
    }

    /// Moves everything of asset `from` into `into` and empties `from`.
    fn merge(&mut self, from: AssetId, into: AssetId) {
        if from == into {
            return;
        }
        self.clear_flow_cache();
        let emptied = Asset {
            macs: Vec::new(),
            ips: Vec::new(),
            attrs: BTreeMap::new(),
            ..self.assets[from as usize].clone()
        };
        let src = std::mem::replace(&mut self.assets[from as usize], emptied);
        for ip in &src.ips {
            self.by_ip.insert(*ip, into);
        }
        let cap = self.cfg.max_ips_per_asset;
        let a = &mut self.assets[into as usize];
        for ip in src.ips {
            if !a.ips.contains(&ip) && a.ips.len() < cap {
                a.ips.push(ip);
            }
        }
        for (k, v) in src.attrs {
            a.attrs.entry(k).or_insert(v);
        }
        for (k, v) in src.served {
            bump(&mut a.served, k, v);
        }
        for (k, v) in src.used {
            bump(&mut a.used, k, v);
        }
        for i in 0..13 {
            a.ops_sent[i] += src.ops_sent[i];
            a.ops_received[i] += src.ops_received[i];
        }
        a.routine_discovery += src.routine_discovery;
        a.servers_polled += src.servers_polled;
        a.it_flows += src.it_flows;
        a.serves_historian_port |= src.serves_historian_port;
        a.first_seen = a.first_seen.min(src.first_seen);
        a.last_seen = a.last_seen.max(src.last_seen);
        // Re-key the edges of the merged asset, combining duplicates.
        let old = std::mem::take(&mut self.edges);
        self.edge_index.clear();
        for mut e in old {
            if e.client == from {
                e.client = into;
            }
            if e.server == from {
                e.server = into;
            }
            if e.client == e.server {
                continue;
            }
            match self.edge_index.get(&(e.client, e.server, e.protocol)) {
                Some(&i) => {
                    let slot = &mut self.edges[i as usize];
                    slot.flows += e.flows;
                    slot.transactions += e.transactions;
                    slot.bytes_toserver += e.bytes_toserver;
                    slot.bytes_toclient += e.bytes_toclient;
                    for i in 0..13 {
                        slot.operations[i] += e.operations[i];
                    }
                    slot.first_seen = slot.first_seen.min(e.first_seen);
                    slot.last_seen = slot.last_seen.max(e.last_seen);
                }
                None => {
                    self.edge_index
                        .insert((e.client, e.server, e.protocol), self.edges.len() as u32);
                    self.edges.push(e);
                }
            }
        }
    }

    /// `mac` forwards for many IPs: unbind what traffic (not ARP) gave it.
    fn make_router(&mut self, mac: MacAddr, ts: i64) {
        if !self.routers.insert(mac) {
            return;
        }
        self.clear_flow_cache();
        let Some(&id) = self.by_mac.get(&mac) else {
            return;
        };
        let traffic: Vec<IpAddr> = self
            .traffic_ips
            .get(&mac)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let claimed = self.arp_ips.get(&mac).cloned().unwrap_or_default();
        for ip in traffic {
            if claimed.contains(&ip) {
                continue;
            }
            if self.by_ip.get(&ip) == Some(&id) {
                self.assets[id as usize].ips.retain(|x| *x != ip);
                self.by_ip.remove(&ip);
                // Learned attributes stayed with the router asset; a
                // remote asset for the IP starts clean.
                self.remote_asset(ip, ts);
            }
        }
        let n = self.traffic_ips.get(&mac).map_or(0, BTreeSet::len);
        self.assets[id as usize].forwarded = n;
        self.update_role(id, ts);
    }

    /// Records an identity attribute; reports it when new or changed.
    #[allow(clippy::too_many_arguments)]
    pub fn learn(
        &mut self,
        id: AssetId,
        attribute: &str,
        value: String,
        source: &'static str,
        confidence: u8,
        ts: i64,
        flow_id: Option<u64>,
    ) {
        let v = value.trim();
        if v.is_empty() {
            return;
        }
        let Some(a) = self.assets.get_mut(id as usize) else {
            return;
        };
        match a.attrs.get_mut(attribute) {
            // The usual case, a fact seen again: no allocation.
            Some(old) if old.value == v => {
                old.last_seen = old.last_seen.max(ts);
                old.seen += 1;
                // Stronger evidence of the same value: it is now the source.
                if confidence > old.confidence {
                    old.confidence = confidence;
                    old.source = source;
                }
            }
            Some(old) if confidence < old.confidence => {
                // A weaker source disagrees: keep the stronger evidence.
            }
            prev => {
                let value = if v.len() == value.len() {
                    value
                } else {
                    v.to_string()
                };
                let before = prev.map(|p| p.value.clone());
                a.attrs.insert(
                    attribute.to_string(),
                    Attr {
                        value: value.clone(),
                        source,
                        confidence,
                        first_seen: ts,
                        last_seen: ts,
                        flow_id,
                        seen: 1,
                    },
                );
                let kind = if before.is_some() {
                    ChangeKind::Changed
                } else {
                    ChangeKind::Identified
                };
                self.record(AssetChange {
                    ts,
                    asset: id,
                    kind,
                    attribute: Some(attribute.to_string()),
                    old: before,
                    new: Some(value),
                    source,
                    flow_id,
                });
            }
        }
    }

    fn update_role(&mut self, id: AssetId, ts: i64) {
        let role = role::infer(&self.assets[id as usize]);
        let a = &mut self.assets[id as usize];
        if role == a.role {
            return;
        }
        let old = a.role;
        a.role = role;
        // A role settling from unknown is identification; a change between
        // known roles is a change worth an event.
        let kind = if old == Role::Unknown {
            ChangeKind::Identified
        } else {
            ChangeKind::Changed
        };
        self.record(AssetChange {
            ts,
            asset: id,
            kind,
            attribute: Some("role".into()),
            old: (old != Role::Unknown).then(|| old.name().to_string()),
            new: Some(role.name().to_string()),
            source: "behaviour",
            flow_id: None,
        });
    }

    fn record(&mut self, c: AssetChange) {
        if let Some(a) = self.assets.get_mut(c.asset as usize) {
            if c.kind != ChangeKind::New {
                if a.history.len() >= self.cfg.max_history {
                    a.history.remove(0);
                }
                a.history.push(HistoryEntry {
                    ts: c.ts,
                    attribute: c.attribute.clone().unwrap_or_default(),
                    old: c.old.clone().unwrap_or_default(),
                    new: c.new.clone().unwrap_or_default(),
                    source: c.source,
                });
            }
        }
        self.changes.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plantshield_sensor::{IcsSummary, ModbusEvent};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    /// One generated event: flow id (which gives the client and the
    /// server: a flow is one 5-tuple), whether it is the flow's record,
    /// reversed direction, application protocol or none (for a flow
    /// record), operation, time step (ms).
    /// Each host keeps its MAC and TTL: when addresses move between MACs,
    /// resolving a flow again is not the same as using its cached
    /// resolution, so which flows stay cached matters and the two caches
    /// (in the flow's notes, by flow id) may differ.
    type Step = (u64, bool, bool, bool, u8, u32);

    /// Everything the inventory tells: assets, edges, changes.
    fn run(steps: &[Step], notes: bool) -> String {
        let cfg = InventoryConfig {
            max_assets: 12,
            max_edges: 10,
            router_threshold: 2,
            ..InventoryConfig::default()
        };
        let mut inv = Inventory::new(cfg);
        let mut out = String::new();
        let mut ts = 0i64;
        // Each flow's notes, and the protocol of their events: they start
        // again when it changes, as the sensor's do.
        let mut kept: HashMap<u64, ([u64; 4], Option<&str>)> = HashMap::default();
        for &(flow, record, reversed, app, op, dt) in steps {
            let (c, s) = (1 + (flow % 7) as u8, 20 + (flow % 3) as u8);
            ts += i64::from(dt) * 1_000_000;
            let ip = |n: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n));
            let mut env = Envelope::at(ts);
            env.flow_id = Some(flow);
            // (address, MAC, TTL) of the client and the server.
            let a = (
                (ip(c), 40000 + u16::from(c)),
                MacAddr([0, 0x1b, 0x1b, 0, 0, c]),
                if c == 3 { 63 } else { 64 },
            );
            let b = ((ip(s), 502), MacAddr([0, 0x1b, 0x1b, 0, 1, s]), 64);
            let (x, y) = if reversed { (b, a) } else { (a, b) };
            (env.src, env.src_mac, env.src_ttl) = (Some(x.0), Some(x.1), x.2);
            (env.dst, env.dst_mac, env.dst_ttl) = (Some(y.0), Some(y.1), y.2);
            env.proto = Some(6);
            // Transactions come from a detected protocol; a flow record
            // may have none.
            env.app_proto = (app || !record).then_some("modbus");
            let (note, proto) = kept.entry(flow).or_default();
            if *proto != env.app_proto {
                (*note, *proto) = ([0; 4], env.app_proto);
            }
            // Hints from these and other (maybe empty or stale) notes
            // change nothing.
            inv.prefetch_edge(note);
            inv.prefetch_edge(&[flow; 4]);
            let mut take = |inv: &mut Inventory, ev: &Event<'_>| {
                if notes {
                    inv.flow_event(&env, ev, note);
                } else {
                    inv.event(&env, ev);
                }
            };
            if record {
                let f = FlowEvent {
                    start_ns: ts - 1000,
                    end_ns: ts,
                    pkts_toserver: 1,
                    pkts_toclient: 1,
                    bytes_toserver: 100,
                    bytes_toclient: 200,
                    state: "closed",
                    reason: "end",
                    midstream: false,
                    gaps: 0,
                    gap_bytes: 0,
                    gaps_total: (0, 0),
                    transactions: 1,
                    anomalies: 0,
                    src_mac: env.src_mac,
                    dest_mac: env.dst_mac,
                };
                take(&mut inv, &Event::Flow(&f));
            } else {
                let m = ModbusEvent {
                    transaction_id: 1,
                    unit_id: 1,
                    request: None,
                    response: None,
                    latency_ns: None,
                    flags: Default::default(),
                    ics: IcsSummary {
                        function_code: u32::from(op % 8),
                        function: "read_holding_registers",
                        operation: [Operation::Read, Operation::Write, Operation::Discovery]
                            [usize::from(op % 3)],
                        status: plantshield_events::Status::Ok,
                        exception_code: None,
                    },
                };
                take(&mut inv, &Event::Modbus(&m));
            }
            for c in inv.take_changes() {
                out.push_str(&format!("{c:?}\n"));
            }
        }
        inv.sync_totals();
        for a in inv.assets() {
            out.push_str(&format!("{a:?}\n"));
        }
        for e in inv.edges() {
            out.push_str(&format!("{e:?}\n"));
        }
        out
    }

    proptest! {
        /// A resolution packed into notes comes back unchanged.
        #[test]
        fn noted_round_trip(
            client in any::<u32>(), server in any::<u32>(), edge in any::<u32>(),
            src_first in any::<bool>(), gen in 0..u64::MAX,
        ) {
            let n = Noted { client, server, edge, src_first, gen };
            let mut note = [0; 4];
            prop_assert_eq!(Noted::load(&note), None);
            n.store(&mut note);
            prop_assert_eq!(Noted::load(&note), Some(n));
        }

        /// The flow cache in the flow's notes (beside the flow record)
        /// gives what the cache by flow id gives: the same assets, edges
        /// and changes.
        #[test]
        fn noted_cache_is_a_shortcut(steps in proptest::collection::vec(
            (0u64..12, proptest::bool::weighted(0.1),
             proptest::bool::weighted(0.1), proptest::bool::weighted(0.9), any::<u8>(), 0u32..2000),
            0..150,
        )) {
            prop_assert_eq!(run(&steps, true), run(&steps, false));
        }
    }
}
