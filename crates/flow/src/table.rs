//! The bounded flow table with capture-time timeouts.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use plantshield_decode::TcpFlags;

use crate::index::Index;
use crate::stream::Budget;
use crate::tcp::TcpConn;
use crate::{prefetch_prefix, prefetch_span, TO_CLIENT, TO_SERVER};

const NIL: u32 = u32::MAX;
/// How stale a flow's place in its timeout list may get (capture time).
const LRU_GRANULARITY_NS: i64 = 1_000_000_000;
const PROTO_TCP: u8 = 6;

/// Timeout classes; each has its own least-recently-seen list.
const CLASS_CLOSED: u8 = 0;
const CLASS_SHORT: u8 = 1;
const CLASS_LONG: u8 = 2;

/// Limits and timeouts of the table.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Flows held at once; beyond it the stalest flow is evicted.
    pub max_flows: usize,
    /// Idle timeout of closed or reset TCP connections.
    pub closed_timeout_ns: i64,
    /// Idle timeout of half-open TCP connections, one-way UDP and other protocols.
    pub short_timeout_ns: i64,
    /// Idle timeout of established TCP connections and two-way UDP.
    pub long_timeout_ns: i64,
    /// Longest a flow record may run before an interim record is written.
    pub lifetime_ns: i64,
    /// Out-of-order bytes buffered per TCP direction.
    pub max_stream_buffer: usize,
    /// Out-of-order bytes buffered over all flows.
    pub reassembly_memcap: usize,
    /// Ports that identify the server side when the handshake was not seen.
    pub server_ports: Vec<u16>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 100_000,
            closed_timeout_ns: 10_000_000_000,
            short_timeout_ns: 60_000_000_000,
            long_timeout_ns: 600_000_000_000,
            lifetime_ns: 3_600_000_000_000,
            max_stream_buffer: 256 * 1024,
            reassembly_memcap: 64 << 20,
            server_ports: vec![
                20, 21, 22, 23, 25, 53, 67, 69, 80, 102, 123, 135, 137, 138, 139, 161, 389, 443,
                445, 502, 1089, 1090, 1091, 1883, 1911, 2222, 2404, 3389, 4000, 4840, 8883, 9600,
                18245, 20000, 34962, 34963, 34964, 44818, 47808,
            ],
        }
    }
}

/// The normalised flow key: the lower (address, port) endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    /// Lower endpoint.
    pub lo: (IpAddr, u16),
    /// Higher endpoint.
    pub hi: (IpAddr, u16),
    /// IP protocol.
    pub proto: u8,
    /// VLAN key (see `VlanStack::key`).
    pub vlan: u32,
}

impl Hash for FlowKey {
    /// Two or three word writes instead of the derived field-by-field walk:
    /// the lookup runs for every packet.
    fn hash<H: Hasher>(&self, h: &mut H) {
        match (self.lo.0, self.hi.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                h.write_u64((u64::from(u32::from(a)) << 32) | u64::from(u32::from(b)))
            }
            (a, b) => {
                h.write_u128(ip_bits(a));
                h.write_u128(ip_bits(b));
            }
        }
        h.write_u64(key_meta(self.lo.1, self.hi.1, self.proto, self.vlan));
    }
}

/// A key's word after the addresses, as [`Hot::meta`] holds it.
#[inline]
fn key_meta(lo_port: u16, hi_port: u16, proto: u8, vlan: u32) -> u64 {
    (u64::from(lo_port) << 48)
        | (u64::from(hi_port) << 32)
        | (u64::from(proto) << 24)
        | u64::from(vlan & 0x00ff_ffff)
}

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// The fields of one packet that select its flow.
#[derive(Clone, Copy, Debug)]
pub struct PacketKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 for portless protocols).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// VLAN key.
    pub vlan: u32,
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// No packet for the idle timeout of its class.
    Timeout,
    /// Closed by FIN or RST and quiet since.
    Closed,
    /// Pushed out because the table was full.
    Evicted,
    /// A new connection (SYN) reused the 5-tuple.
    Reused,
    /// The capture ended.
    Shutdown,
}

impl EndReason {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Closed => "closed",
            EndReason::Evicted => "evicted",
            EndReason::Reused => "reused",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// The fields every packet of a flow reads, in one 64-byte struct: the key
/// the table compares while probing (addresses as integers, ports,
/// protocol and VLAN), the direction, and the flow's place in its timeout
/// list.
struct Hot {
    /// Lower endpoint's address (IPv4 zero-extended).
    lo: u128,
    /// Higher endpoint's address.
    hi: u128,
    /// Lower port << 48 | higher port << 32 | protocol << 24 | VLAN key
    /// (24 bits: two 12-bit ids).
    meta: u64,
    /// The addresses are IPv6 (IPv4 ones would collide with `::a.b.c.d`).
    v6: bool,
    client_is_lo: bool,
    class: u8,
    /// Bit `dir` set once [`Flow::first_from`] was asked for `dir`.
    firsts: u8,
    prev: u32,
    next: u32,
    /// The flow's slot in the table (here, where the packet's key check
    /// has already brought the line).
    slot: u32,
    /// `last_ts` when the flow was last moved to its list's tail.
    linked_ts: i64,
}

const _: () = assert!(std::mem::size_of::<Hot>() == 64);

/// A packet's key as the table hashes and compares it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct CompactKey {
    lo: u128,
    hi: u128,
    meta: u64,
    v6: bool,
}

impl CompactKey {
    fn of(hot: &Hot) -> CompactKey {
        CompactKey {
            lo: hot.lo,
            hi: hot.hi,
            meta: hot.meta,
            v6: hot.v6,
        }
    }

    /// The key of a packet's flow, and whether the packet comes from the
    /// lower endpoint.
    #[inline]
    fn of_packet(pk: &PacketKey) -> (CompactKey, bool) {
        let (a, b) = (ip_bits(pk.src), ip_bits(pk.dst));
        // The same order as (IpAddr, port) tuples: both addresses are of
        // one family, whose order is that of their numbers.
        let src_is_lo = (a, pk.src_port) <= (b, pk.dst_port);
        let ((lo, lo_port), (hi, hi_port)) = if src_is_lo {
            ((a, pk.src_port), (b, pk.dst_port))
        } else {
            ((b, pk.dst_port), (a, pk.src_port))
        };
        let ck = CompactKey {
            lo,
            hi,
            meta: key_meta(lo_port, hi_port, pk.proto, pk.vlan),
            v6: pk.src.is_ipv6(),
        };
        (ck, src_is_lo)
    }

    /// Keyed hash; `v6` is left out (it only tells apart keys whose
    /// numbers are equal, which the comparison does).
    #[inline]
    fn hash(&self, k: &HashKeys) -> u64 {
        k.hash(self.lo, self.hi, self.meta)
    }
}

/// The flow index's hash: three folded multiplications of the key's
/// words, each mixed with secret words drawn at random per table (the
/// construction of ahash's fallback hasher, without its streaming
/// state), so that traffic cannot aim keys at one home. About 15
/// instructions where hashing the key through `ahash::RandomState` took
/// about 75; it runs for every packet (`FlowTable::prefetch_bucket_v4`).
#[derive(Clone, Copy)]
struct HashKeys([u64; 5]);

/// The 128-bit product's halves, XORed: every input bit reaches the
/// middle bits.
#[inline]
fn folded_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl HashKeys {
    fn random() -> HashKeys {
        let s = ahash::RandomState::new();
        // Odd multipliers, so that no secret word zeroes a product.
        HashKeys(std::array::from_fn(|i| s.hash_one(i) | 1))
    }

    #[inline]
    fn hash(&self, lo: u128, hi: u128, meta: u64) -> u64 {
        let k = &self.0;
        let a = folded_mul(lo as u64 ^ k[0], hi as u64 ^ k[1]);
        let (lo_hi, hi_hi) = ((lo >> 64) as u64, (hi >> 64) as u64);
        // IPv4 keys have no upper words: skip their product.
        let b = if lo_hi | hi_hi == 0 {
            a
        } else {
            a ^ folded_mul(lo_hi ^ k[2], hi_hi ^ k[3])
        };
        folded_mul(b ^ meta, k[4])
    }
}

/// One bidirectional flow.
///
/// Laid out in the order of the fields, from a cache-line boundary, so
/// that what a data segment touches comes first and close together: the
/// key (with the slot and the timeout list) fills the first line; then
/// the counters `touch` updates and the application state, whose layer
/// keeps in the line's rest what every segment reads ([`Flow::HEAD_BYTES`]);
/// the rest of the application state and the id, which events read; the
/// record's start and the TCP state, its hot fields first (the tail,
/// [`Flow::TAIL`]); then what only a SYN or the flow's end reads; last, on
/// a line of their own, the notes of the layer above. A segment of the
/// usual connection touches the head and the tail, four of the seven
/// lines, which is what the prefetch loads ([`FlowTable::prefetch_flow`]);
/// an event also the line between them and the notes
/// ([`FlowTable::prefetch_event`]).
#[repr(C, align(64))]
pub struct Flow<S> {
    hot: Hot,
    /// Last packet time (ns).
    pub last_ts: i64,
    /// Packets per direction ([`TO_SERVER`], [`TO_CLIENT`]).
    pub pkts: [u64; 2],
    /// IP bytes per direction.
    pub bytes: [u64; 2],
    /// Application-layer state owned by the layer above.
    pub app: S,
    /// Stable identifier (53 bits, safe in JSON numbers).
    pub id: u64,
    /// Start of the current record (moves on interim records): every
    /// packet compares its time with it (the lifetime timeout).
    pub record_ts: i64,
    /// TCP state, for TCP flows.
    pub tcp: Option<TcpConn>,
    /// First packet time (ns).
    pub first_ts: i64,
    /// The initiator was guessed, not seen.
    pub midstream: bool,
    /// Kept for the layer above (see [`Notes`]).
    pub notes: Notes,
}

/// Eight words that the layer above keeps with one flow for whoever it
/// lends them to (the sensor: its event sink, whose per-flow state then
/// lies beside the flow record instead of in a table of its own). Zero
/// when the flow starts, dropped with it; the table never reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Notes(pub [u64; 8]);

impl<S> Flow<S> {
    /// The length of the record's head: the key, the counters, and the
    /// application state up to the end of the line it starts in.
    pub const HEAD_BYTES: usize = (std::mem::offset_of!(Flow<S>, app) / 64 + 1) * 64;

    /// The record's hot tail: the record's start and the TCP state up to
    /// the end of its hot part (the initial sequence numbers and the first
    /// packet's time follow).
    pub const TAIL: std::ops::Range<usize> = std::mem::offset_of!(Flow<S>, record_ts)
        ..std::mem::offset_of!(Flow<S>, tcp) + TcpConn::HOT_BYTES;

    /// The notes are the record's last line, also in a table slot.
    const NOTES_LAST: bool = std::mem::offset_of!(Flow<S>, notes) + std::mem::size_of::<Notes>()
        == std::mem::size_of::<Flow<S>>()
        && std::mem::size_of::<Option<Flow<S>>>() == std::mem::size_of::<Flow<S>>();

    /// True the first time it is asked for direction `dir` ([`TO_SERVER`],
    /// [`TO_CLIENT`]), false after: for the layer above to record what the
    /// first packet each way carries (its MAC address and TTL) with a
    /// test on the key's line, which every packet reads anyway.
    #[inline]
    pub fn first_from(&mut self, dir: usize) -> bool {
        let bit = 1 << (dir & 1);
        let first = self.hot.firsts & bit == 0;
        self.hot.firsts |= bit;
        first
    }

    /// The flow's slot in its table: dense (below the number of flows held
    /// at once) and reused once the flow has ended.
    pub fn slot(&self) -> u32 {
        self.hot.slot
    }

    /// The table key, rebuilt from the compact one the record keeps (it
    /// loses nothing: the VLAN key is 24 bits wide).
    pub fn key(&self) -> FlowKey {
        FlowKey {
            lo: self.endpoint(true),
            hi: self.endpoint(false),
            proto: self.proto(),
            vlan: self.vlan(),
        }
    }

    /// Initiator address and port.
    pub fn client(&self) -> (IpAddr, u16) {
        self.endpoint(self.hot.client_is_lo)
    }

    /// Responder address and port.
    pub fn server(&self) -> (IpAddr, u16) {
        self.endpoint(!self.hot.client_is_lo)
    }

    /// IP protocol.
    pub fn proto(&self) -> u8 {
        (self.hot.meta >> 24) as u8
    }

    /// VLAN key (see `VlanStack::key`).
    pub fn vlan(&self) -> u32 {
        (self.hot.meta & 0x00ff_ffff) as u32
    }

    /// The lower or the higher endpoint of the key.
    #[inline]
    fn endpoint(&self, lo: bool) -> (IpAddr, u16) {
        let h = &self.hot;
        let (bits, port) = if lo {
            (h.lo, (h.meta >> 48) as u16)
        } else {
            (h.hi, (h.meta >> 32) as u16)
        };
        let addr = if h.v6 {
            IpAddr::V6(bits.into())
        } else {
            IpAddr::V4((bits as u32).into())
        };
        (addr, port)
    }

    /// The direction of a packet sent from `src`:`src_port`.
    pub fn direction(&self, src: IpAddr, src_port: u16) -> usize {
        let from_lo = (src, src_port) == self.endpoint(true);
        if from_lo == self.hot.client_is_lo {
            TO_SERVER
        } else {
            TO_CLIENT
        }
    }

    #[inline]
    fn wanted_class(&self) -> u8 {
        match &self.tcp {
            Some(t) if t.is_finished() => CLASS_CLOSED,
            Some(t) => {
                if t.saw_handshake() && self.pkts[TO_CLIENT] == 0 {
                    CLASS_SHORT
                } else if self.pkts[TO_CLIENT] > 0 && self.pkts[TO_SERVER] > 0 {
                    CLASS_LONG
                } else {
                    CLASS_SHORT
                }
            }
            None if self.pkts[TO_CLIENT] > 0 && self.pkts[TO_SERVER] > 0 => CLASS_LONG,
            None => CLASS_SHORT,
        }
    }
}

/// The result of [`FlowTable::lookup`].
#[derive(Clone, Copy, Debug)]
pub struct Lookup {
    /// Slot of the flow, valid until the flow is removed.
    pub idx: u32,
    /// Direction of the packet.
    pub dir: usize,
    /// The flow was created by this packet.
    pub created: bool,
}

impl Lookup {
    /// An existing flow in slot `idx`, for a packet from the lower
    /// endpoint of its key or not.
    #[inline]
    fn found(idx: u32, src_is_lo: bool, hot: &Hot) -> Lookup {
        Lookup {
            idx,
            dir: if src_is_lo == hot.client_is_lo {
                TO_SERVER
            } else {
                TO_CLIENT
            },
            created: false,
        }
    }
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// The flow table.
pub struct FlowTable<S> {
    cfg: FlowConfig,
    timeouts: [i64; 3],
    server_ports: Box<[u64; 1024]>,
    /// Slots of the flows, by the hash of their key (compared with the
    /// key in the flow's first cache line).
    index: Index,
    hasher: HashKeys,
    slots: Vec<Option<Flow<S>>>,
    free: Vec<u32>,
    lists: [List; 3],
    /// Out-of-order byte accounting shared by all TCP streams.
    pub budget: Budget,
    /// Flows evicted because the table was full.
    pub evictions: u64,
}

impl<S> FlowTable<S> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        let mut ports = Box::new([0u64; 1024]);
        for p in &cfg.server_ports {
            ports[usize::from(*p) / 64] |= 1 << (p % 64);
        }
        FlowTable {
            timeouts: [
                cfg.closed_timeout_ns,
                cfg.short_timeout_ns,
                cfg.long_timeout_ns,
            ],
            server_ports: ports,
            index: Index::new(),
            hasher: HashKeys::random(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; 3],
            budget: Budget {
                used: 0,
                cap: cfg.reassembly_memcap,
            },
            evictions: 0,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Flows currently held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    /// True when `port` is a well-known server port.
    pub fn is_server_port(&self, port: u16) -> bool {
        self.server_ports[usize::from(port) / 64] & (1 << (port % 64)) != 0
    }

    /// The flow in slot `idx`.
    pub fn get_mut(&mut self, idx: u32) -> Option<&mut Flow<S>> {
        self.slots.get_mut(idx as usize).and_then(Option::as_mut)
    }

    /// The flow in slot `idx` together with the reassembly budget.
    pub fn flow_and_budget(&mut self, idx: u32) -> Option<(&mut Flow<S>, &mut Budget)> {
        let f = self.slots.get_mut(idx as usize)?.as_mut()?;
        Some((f, &mut self.budget))
    }

    /// The flow in slot `idx`, shared.
    pub fn get(&self, idx: u32) -> Option<&Flow<S>> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    /// Finds or creates the flow of a packet. `flags` are the TCP flags, if
    /// TCP. Creating a flow in a full table first evicts one and hands it to
    /// `ended`.
    pub fn lookup(
        &mut self,
        ts: i64,
        pk: &PacketKey,
        flags: Option<TcpFlags>,
        make_app: impl FnOnce() -> S,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) -> Lookup {
        self.lookup_with_hint(ts, pk, flags, None, make_app, ended)
    }

    /// [`FlowTable::lookup`] given the slot where the flow probably is
    /// (what [`FlowTable::prefetch`] returned for this packet): when the
    /// flow in that slot has the packet's key it is the packet's flow
    /// (keys are unique in the table), found without hashing and probing;
    /// otherwise the lookup goes on as without a hint. Any hint gives the
    /// same result.
    pub fn lookup_with_hint(
        &mut self,
        ts: i64,
        pk: &PacketKey,
        flags: Option<TcpFlags>,
        hint: Option<u32>,
        make_app: impl FnOnce() -> S,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) -> Lookup {
        let (ck, src_is_lo) = CompactKey::of_packet(pk);
        if let Some(f) = hint.and_then(|i| self.slots.get(i as usize)?.as_ref()) {
            if CompactKey::of(&f.hot) == ck {
                return Lookup::found(f.hot.slot, src_is_lo, &f.hot);
            }
        }
        let hash = ck.hash(&self.hasher);
        let slots = &self.slots;
        let found = self.index.find(hash, |i| {
            slots[i as usize]
                .as_ref()
                .is_some_and(|f| CompactKey::of(&f.hot) == ck)
        });
        if let Some(idx) = found {
            if let Some(f) = self.slots[idx as usize].as_ref() {
                return Lookup::found(idx, src_is_lo, &f.hot);
            }
        }
        self.create(ts, pk, flags, ck, hash, src_is_lo, make_app, ended)
    }

    /// The flow in slot `hint`, when it is that of an IPv4 packet with
    /// these header fields (addresses as numbers, `Ipv4Addr::from`), and
    /// the packet's direction: what [`FlowTable::lookup_with_hint`] finds
    /// through a right hint, by comparing the packet's fields with the
    /// flow's key as they are, without building a [`PacketKey`]. `None`
    /// when the slot holds another flow or none (then look up).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn hinted_v4(
        &self,
        hint: u32,
        src: u32,
        dst: u32,
        src_port: u16,
        dst_port: u16,
        proto: u8,
        vlan: u32,
    ) -> Option<Lookup> {
        let h = &self.slots.get(hint as usize)?.as_ref()?.hot;
        let (src, dst) = (u128::from(src), u128::from(dst));
        // Keys are stored lower endpoint first; equal endpoints match the
        // first way, as `CompactKey::of_packet` orders them.
        let src_is_lo = if h.lo == src
            && h.hi == dst
            && h.meta == key_meta(src_port, dst_port, proto, vlan)
        {
            true
        } else if h.lo == dst && h.hi == src && h.meta == key_meta(dst_port, src_port, proto, vlan)
        {
            false
        } else {
            return None;
        };
        if h.v6 {
            return None;
        }
        Some(Lookup::found(hint, src_is_lo, h))
    }

    /// Tells the table that a packet with key `pk` comes soon (the caller
    /// peeked at its capture record): the cache lines of the flow it will
    /// probably find are loaded in the background while the packets before
    /// it are processed. Returns the slot of that flow, unverified (the key is not compared:
    /// that would wait for the very load being started); use it only as a
    /// hint. Changes nothing a lookup could observe.
    pub fn prefetch(&self, pk: &PacketKey) -> Option<u32> {
        self.prefetch_key(CompactKey::of_packet(pk).0)
    }

    /// [`FlowTable::prefetch`] in two stages, for an IPv4 packet from the
    /// header fields as they are on the wire (addresses in network byte
    /// order, no [`PacketKey`]). This first stage, a packet earlier,
    /// starts loading the index line where the lookup of the packet's key
    /// will begin, and returns the key's hash for
    /// [`FlowTable::prefetch_flow`], the second stage, which probes that
    /// line once it is in the cache. Changes nothing a lookup could observe.
    #[inline]
    pub fn prefetch_bucket_v4(
        &self,
        src: [u8; 4],
        dst: [u8; 4],
        src_port: u16,
        dst_port: u16,
        proto: u8,
        vlan: u32,
    ) -> u64 {
        let (a, b) = (u32::from_be_bytes(src), u32::from_be_bytes(dst));
        // The order of `CompactKey::of_packet`: addresses as numbers, then ports.
        let ((lo, lo_port), (hi, hi_port)) = if (a, src_port) <= (b, dst_port) {
            ((a, src_port), (b, dst_port))
        } else {
            ((b, dst_port), (a, src_port))
        };
        let hash = CompactKey {
            lo: u128::from(lo),
            hi: u128::from(hi),
            meta: key_meta(lo_port, hi_port, proto, vlan),
            v6: false,
        }
        .hash(&self.hasher);
        self.index.prefetch(hash);
        hash
    }

    /// The second stage: the slot of the first flow under `hash` (what
    /// [`FlowTable::prefetch_bucket_v4`] returned), whose cache lines
    /// start loading. Unverified: use it only as a hint.
    #[inline]
    pub fn prefetch_flow(&self, hash: u64) -> Option<u32> {
        let idx = self.index.first(hash)?;
        let f = self.slots.get(idx as usize)?;
        // An occupied slot holds the record at its start (`Option` uses a
        // niche of the record: no tag before it), as `NOTES_LAST` checks.
        const { assert!(Flow::<S>::NOTES_LAST) };
        prefetch_prefix(f, Flow::<S>::HEAD_BYTES);
        prefetch_span(f, Flow::<S>::TAIL.start, Flow::<S>::TAIL.end);
        Some(idx)
    }

    /// Starts loading what an event of the flow in `idx` reads beyond
    /// what [`FlowTable::prefetch_flow`] loaded: the lines between the
    /// head and the tail (the rest of the application state, the id) and
    /// the notes. `idx` may be wrong or empty (a hint, as
    /// [`FlowTable::prefetch_flow`]'s slot is).
    #[inline]
    pub fn prefetch_event(&self, idx: u32) {
        if let Some(f) = self.slots.get(idx as usize) {
            const { assert!(Flow::<S>::NOTES_LAST) };
            prefetch_span(f, Flow::<S>::HEAD_BYTES, Flow::<S>::TAIL.start);
            let end = std::mem::size_of_val(f);
            prefetch_span(f, end - std::mem::size_of::<Notes>(), end);
        }
    }

    #[inline]
    fn prefetch_key(&self, ck: CompactKey) -> Option<u32> {
        self.prefetch_flow(ck.hash(&self.hasher))
    }

    /// Adds the flow of a packet that found none (apart from `lookup`, so
    /// that the path of every other packet stays small).
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    fn create(
        &mut self,
        ts: i64,
        pk: &PacketKey,
        flags: Option<TcpFlags>,
        ck: CompactKey,
        hash: u64,
        src_is_lo: bool,
        make_app: impl FnOnce() -> S,
        ended: &mut impl FnMut(Flow<S>, EndReason),
    ) -> Lookup {
        if self.index.len() >= self.cfg.max_flows.max(1) {
            self.evict_one(ended);
        }
        let (sender_is_client, midstream) = self.guess_initiator(pk, flags);
        let client_is_lo = src_is_lo == sender_is_client;
        let (sa, sb) = ((pk.src, pk.src_port), (pk.dst, pk.dst_port));
        let key = FlowKey {
            lo: if src_is_lo { sa } else { sb },
            hi: if src_is_lo { sb } else { sa },
            proto: pk.proto,
            vlan: pk.vlan,
        };
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let flow = Flow {
            hot: Hot {
                lo: ck.lo,
                hi: ck.hi,
                meta: ck.meta,
                v6: ck.v6,
                client_is_lo,
                class: CLASS_SHORT,
                firsts: 0,
                prev: NIL,
                next: NIL,
                slot: idx,
                linked_ts: ts,
            },
            last_ts: ts,
            pkts: [0; 2],
            bytes: [0; 2],
            record_ts: ts,
            tcp: (pk.proto == PROTO_TCP).then(|| TcpConn::new(self.cfg.max_stream_buffer)),
            app: make_app(),
            id: flow_id(&key, ts),
            first_ts: ts,
            midstream,
            notes: Notes::default(),
        };
        self.slots[idx as usize] = Some(flow);
        self.index.insert(hash, idx);
        self.link_tail(idx, CLASS_SHORT);
        Lookup {
            idx,
            dir: if sender_is_client {
                TO_SERVER
            } else {
                TO_CLIENT
            },
            created: true,
        }
    }

    fn guess_initiator(&self, pk: &PacketKey, flags: Option<TcpFlags>) -> (bool, bool) {
        if let Some(f) = flags.filter(|f| !(f.fin() || f.rst())) {
            if f.syn() && !f.ack() {
                return (true, false);
            }
            if f.syn() && f.ack() {
                return (false, false);
            }
        }
        let (ss, ds) = (
            self.is_server_port(pk.src_port),
            self.is_server_port(pk.dst_port),
        );
        let sender_is_client = if ds && !ss {
            true
        } else if ss && !ds {
            false
        } else if flags.is_some() {
            pk.dst_port <= pk.src_port
        } else {
            true
        };
        (sender_is_client, flags.is_some())
    }

    /// Records a packet on the flow: time, counters and its place in the
    /// timeout lists. Call after the packet was processed.
    #[inline]
    pub fn touch(&mut self, idx: u32, ts: i64, dir: usize, ip_bytes: u64) {
        let Some(f) = self.slots.get_mut(idx as usize).and_then(Option::as_mut) else {
            return;
        };
        f.last_ts = f.last_ts.max(ts);
        f.pkts[dir] += 1;
        f.bytes[dir] += ip_bytes;
        let class = f.wanted_class();
        // Moving to the tail of the list touches two neighbours: do it only
        // when the class changes or the position is a second stale. Expiry
        // then runs at most a second late, and busy flows cost less.
        if class == f.hot.class && f.last_ts - f.hot.linked_ts < LRU_GRANULARITY_NS {
            return;
        }
        f.hot.linked_ts = f.last_ts;
        self.move_to_tail(idx, class);
    }

    /// Moves a flow to the tail of the list of `class` (out of line: most
    /// packets do not move their flow).
    #[cold]
    #[inline(never)]
    fn move_to_tail(&mut self, idx: u32, class: u8) {
        self.unlink(idx);
        self.link_tail(idx, class);
    }

    /// Ends flows idle for longer than their class's timeout.
    pub fn expire(&mut self, now: i64, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        for class in [CLASS_CLOSED, CLASS_SHORT, CLASS_LONG] {
            loop {
                let head = self.lists[usize::from(class)].head;
                if head == NIL {
                    break;
                }
                let Some(f) = self.slots[head as usize].as_ref() else {
                    break;
                };
                if now.saturating_sub(f.last_ts) < self.timeouts[usize::from(class)] {
                    break;
                }
                let reason = if class == CLASS_CLOSED {
                    EndReason::Closed
                } else {
                    EndReason::Timeout
                };
                if let Some(f) = self.remove(head) {
                    ended(f, reason);
                }
            }
        }
    }

    /// Removes a flow.
    pub fn remove(&mut self, idx: u32) -> Option<Flow<S>> {
        let f = self.slots.get_mut(idx as usize)?.take()?;
        // Unlink by hand: the slot is already empty.
        let (p, n, c) = (f.hot.prev, f.hot.next, f.hot.class);
        self.relink(p, n, c);
        let hash = CompactKey::of(&f.hot).hash(&self.hasher);
        self.index.remove(hash, idx);
        self.free.push(idx);
        // The flow leaves the table's accounting; its buffered bytes stay
        // with it so that the caller can still flush them.
        if let Some(t) = f.tcp.as_ref() {
            let held: usize = t.streams.iter().map(|s| s.buffered()).sum();
            self.budget.used = self.budget.used.saturating_sub(held);
        }
        Some(f)
    }

    /// Ends every flow (end of input), oldest first.
    pub fn drain(&mut self, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        let mut idx: Vec<(i64, u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|f| (f.first_ts, f.id, i as u32)))
            .collect();
        idx.sort_unstable();
        for (_, _, i) in idx {
            if let Some(f) = self.remove(i) {
                ended(f, EndReason::Shutdown);
            }
        }
    }

    fn evict_one(&mut self, ended: &mut impl FnMut(Flow<S>, EndReason)) {
        for class in [CLASS_CLOSED, CLASS_SHORT, CLASS_LONG] {
            let head = self.lists[usize::from(class)].head;
            if head != NIL {
                if let Some(f) = self.remove(head) {
                    self.evictions += 1;
                    ended(f, EndReason::Evicted);
                }
                return;
            }
        }
    }

    fn link_tail(&mut self, idx: u32, class: u8) {
        let list = &mut self.lists[usize::from(class)];
        let tail = list.tail;
        if tail == NIL {
            list.head = idx;
        }
        list.tail = idx;
        if let Some(f) = self.slots[idx as usize].as_mut() {
            f.hot.class = class;
            f.hot.prev = tail;
            f.hot.next = NIL;
        }
        if tail != NIL {
            if let Some(t) = self.slots[tail as usize].as_mut() {
                t.hot.next = idx;
            }
        }
    }

    fn unlink(&mut self, idx: u32) {
        let Some(f) = self.slots[idx as usize].as_ref() else {
            return;
        };
        let (p, n, c) = (f.hot.prev, f.hot.next, f.hot.class);
        self.relink(p, n, c);
    }

    fn relink(&mut self, p: u32, n: u32, class: u8) {
        let list = &mut self.lists[usize::from(class)];
        if p == NIL {
            list.head = n;
        }
        if n == NIL {
            list.tail = p;
        }
        if p != NIL {
            if let Some(pf) = self.slots[p as usize].as_mut() {
                pf.hot.next = n;
            }
        }
        if n != NIL {
            if let Some(nf) = self.slots[n as usize].as_mut() {
                nf.hot.prev = p;
            }
        }
    }
}

/// A deterministic 53-bit id from the key and start time.
fn flow_id(key: &FlowKey, ts: i64) -> u64 {
    let mut h = FnvHasher(0xcbf2_9ce4_8422_2325);
    key.hash(&mut h);
    ts.hash(&mut h);
    // Finalise (splitmix64) so that close keys spread.
    let mut z = h.0;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z & ((1 << 53) - 1)
}

struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
