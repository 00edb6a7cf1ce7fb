//! The machinery shared by the generators of DNP3, S7comm, IEC 104 and
//! EtherNet/IP captures (`gen-dnp3`, `gen-s7comm`, `gen-iec104`,
//! `gen-enip`); `gen-modbus` predates it and keeps its own.
//!
//! The model: `connections` clients (SCADA masters, HMIs, historians,
//! engineering stations), each its own host, spread over `servers` field
//! devices listening on the protocol's port. A protocol ([`Protocol`])
//! writes the application side: what a connection says when it opens,
//! its next exchange once the previous one is over, and its goodbye. This
//! module does the rest:
//!
//! - TCP: SYN / SYN-ACK / ACK, exact sequence and acknowledgement numbers,
//!   messages longer than the MSS cut into several segments, FIN / FIN-ACK
//!   / ACK, and delayed ACKs: when a side has data to acknowledge and sends
//!   nothing itself within its delayed-ACK time (40 ms for Linux stacks,
//!   200 ms for Windows ones, 10-100 ms for embedded ones), it sends a
//!   pure ACK at the end of that time.
//! - Lifetimes: a quarter of the connections close after 5-2000 exchanges
//!   (one in five closed by the server) and reopen 0.5-10 s later, most
//!   from a new ephemeral port, some from the same 5-tuple. When the size
//!   is reached every connection finishes its exchange and closes.
//! - One capture-time clock: each connection queues its next packets in
//!   time order ([`Script`]) and a min-heap of the connections' next packet
//!   times writes the packets of all connections in time order, so
//!   exchanges of different connections interleave as on a real network.
//!
//! The same seed and options give the same bytes.

pub mod dnp3;
pub mod enip;
pub mod iec104;
pub mod s7comm;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use plantshield_capture::{LinkType, PcapWriter};
use plantshield_decode::craft::{tcp_frame_into, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};

use crate::rng::Rng;

pub use crate::gen::DEFAULT_START_NS;

/// Nanoseconds per millisecond.
pub const MS: i64 = 1_000_000;
/// Nanoseconds per microsecond.
pub const US: i64 = 1_000;
/// Nanoseconds per second.
pub const SEC: i64 = 1_000_000_000;

/// TCP payload per segment (Ethernet MTU 1500 less IPv4 and TCP headers).
pub const MSS: usize = 1460;
/// Time between the segments of one message.
const SEGMENT_GAP_NS: i64 = 20 * US;

// The same configuration and port range as the Modbus generator.
pub use crate::gen::GenConfig;
use crate::gen::{EPHEMERAL_HI, EPHEMERAL_LO};

/// What was generated.
#[derive(Clone, Debug, Default)]
pub struct GenStats {
    /// Records written.
    pub packets: u64,
    /// File bytes, headers included.
    pub bytes: u64,
    /// Transactions PlantShield is expected to report.
    pub transactions: u64,
    /// Of which with status `exception` (a refusal the traffic carries).
    pub exceptions: u64,
    /// Transactions by the `ics.function` PlantShield gives them.
    pub functions: BTreeMap<&'static str, u64>,
    /// Protocol messages that are not transactions of their own
    /// (confirms, acknowledgements, continuation units), by kind.
    pub messages: BTreeMap<&'static str, u64>,
    /// TCP connections opened (handshakes).
    pub opened: u64,
    /// TCP connections closed with FIN.
    pub closed: u64,
    /// Pure TCP ACKs (delayed ACKs and the last ACK of handshakes and closes).
    pub pure_acks: u64,
    /// Time of the first record (ns).
    pub first_ts: i64,
    /// Time of the last record (ns).
    pub last_ts: i64,
}

impl GenStats {
    /// Counts one transaction PlantShield reports as `function`.
    pub fn txn(&mut self, function: &'static str) {
        self.transactions += 1;
        *self.functions.entry(function).or_default() += 1;
    }

    /// Counts one transaction that ends with status `exception`.
    pub fn txn_exception(&mut self, function: &'static str) {
        self.txn(function);
        self.exceptions += 1;
    }

    /// Counts a message that belongs to a transaction already counted.
    pub fn msg(&mut self, kind: &'static str) {
        *self.messages.entry(kind).or_default() += 1;
    }
}

/// What a queued packet is.
enum Kind {
    Syn,
    SynAck,
    /// A pure ACK.
    Ack,
    /// PSH/ACK with payload.
    Data(Vec<u8>),
    /// FIN/ACK.
    Fin,
}

struct Pkt {
    t: i64,
    /// Sent by the server.
    server: bool,
    kind: Kind,
}

/// The packets a connection sends next, in time order, and what the
/// delayed-ACK rule needs.
#[derive(Default)]
pub struct Wire {
    q: VecDeque<Pkt>,
    /// Time of the last packet queued.
    last_t: i64,
    /// A side whose data the other has not acknowledged yet, and since when.
    unacked: Option<(bool, i64)>,
    /// Delayed-ACK time of the client and of the server.
    delack: [i64; 2],
}

/// Queues packets of one connection. Times never go backwards: a packet
/// asked for before the last one queued goes out right after it.
pub struct Script<'a> {
    w: &'a mut Wire,
    pool: &'a mut Vec<Vec<u8>>,
}

impl Script<'_> {
    /// Time of the last packet queued (or, with none queued, written).
    pub fn now(&self) -> i64 {
        self.w.last_t
    }

    /// Queues `payload` from the client at `t`; returns the time of its last segment.
    pub fn client(&mut self, t: i64, payload: &[u8]) -> i64 {
        self.send(t, false, payload)
    }

    /// Queues `payload` from the server at `t`; returns the time of its last segment.
    pub fn server(&mut self, t: i64, payload: &[u8]) -> i64 {
        self.send(t, true, payload)
    }

    /// Queues `payload` from one side, cut into MSS-sized segments.
    pub fn send(&mut self, t: i64, server: bool, payload: &[u8]) -> i64 {
        debug_assert!(!payload.is_empty());
        let mut t = t;
        for (i, chunk) in payload.chunks(MSS).enumerate() {
            if i > 0 {
                t = self.w.last_t + SEGMENT_GAP_NS;
            }
            let mut buf = self.pool.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(chunk);
            t = self.push(t, server, Kind::Data(buf));
        }
        t
    }

    fn push(&mut self, t: i64, server: bool, kind: Kind) -> i64 {
        let mut t = t.max(self.w.last_t);
        // Delayed ACK: data waiting longer than the receiver's delayed-ACK
        // time is acknowledged by a pure ACK at the end of that time.
        if let Some((side, since)) = self.w.unacked {
            let receiver = !side;
            let due = since + self.w.delack[usize::from(receiver)];
            if t > due {
                let at = due.max(self.w.last_t);
                self.w.q.push_back(Pkt {
                    t: at,
                    server: receiver,
                    kind: Kind::Ack,
                });
                self.w.last_t = at;
                self.w.unacked = None;
            }
        }
        t = t.max(self.w.last_t);
        // The other side's data is acknowledged by anything sent.
        if self.w.unacked.is_some_and(|(side, _)| side != server) {
            self.w.unacked = None;
        }
        if matches!(kind, Kind::Data(_)) && self.w.unacked.is_none() {
            self.w.unacked = Some((server, t));
        }
        if matches!(kind, Kind::Fin) {
            // A FIN acknowledges everything before it; its own
            // acknowledgement is part of the close.
            self.w.unacked = None;
        }
        self.w.last_t = t;
        self.w.q.push_back(Pkt { t, server, kind });
        t
    }

    fn control(&mut self, t: i64, server: bool, kind: Kind) -> i64 {
        let t = t.max(self.w.last_t);
        self.w.last_t = t;
        self.w.q.push_back(Pkt { t, server, kind });
        t
    }
}

/// What a protocol's callbacks get: randomness, the server and connection
/// state, the statistics and the connection's script.
pub struct Ctx<'a, S, C> {
    /// The generator's one random sequence.
    pub rng: &'a mut Rng,
    /// The server of the connection.
    pub srv: &'a mut S,
    /// The connection's application state.
    pub conn: &'a mut C,
    /// Statistics (expected transactions).
    pub stats: &'a mut GenStats,
    /// Queue packets here.
    pub wire: Script<'a>,
}

/// The application side of a generator.
pub trait Protocol {
    /// Per-server state (a PLC, outstation, RTU).
    type Server;
    /// Per-connection state (a client's session).
    type Conn;
    /// TCP port of the servers.
    const PORT: u16;
    /// OUIs of the servers' MAC addresses (device vendors).
    const OUIS: &'static [[u8; 3]];

    /// Server `index`.
    fn server(&mut self, index: usize, rng: &mut Rng) -> Self::Server;

    /// Connection `index` to `srv`.
    fn conn(&mut self, index: usize, srv: &Self::Server, rng: &mut Rng) -> Self::Conn;

    /// The handshake ended at `t`: queue the session's opening.
    fn open(&mut self, x: &mut Ctx<'_, Self::Server, Self::Conn>, t: i64);

    /// Everything queued was sent, the last packet at `t`: queue the next
    /// exchange (at least one packet).
    fn next(&mut self, x: &mut Ctx<'_, Self::Server, Self::Conn>, t: i64);

    /// The connection closes after `t` (by the server if `by_server`):
    /// queue the application's goodbye, if it has one.
    fn close(&mut self, _x: &mut Ctx<'_, Self::Server, Self::Conn>, _t: i64, _by_server: bool) {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The handshake is queued; the protocol opens once it was sent (so
    /// that nothing is counted for a reopen the end of the capture cancels).
    Opening,
    Open,
    Closing,
}

struct Slot<C> {
    app: C,
    server: usize,
    /// Client to server.
    ep: Endpoints,
    /// Server to client.
    rev: Endpoints,
    /// Next client sequence number.
    cseq: u32,
    /// Next server sequence number.
    sseq: u32,
    wire: Wire,
    state: State,
    /// Exchanges before the connection closes (`u32::MAX`: never).
    remaining: u32,
    /// The client binds a fixed source port (a reopen reuses the 5-tuple).
    fixed_port: bool,
    /// Dropped for good (the capture is complete).
    done: bool,
}

/// Exchanges a new connection lives for.
fn lifetime(rng: &mut Rng) -> u32 {
    if rng.chance(250) {
        // Log-uniform between 5 and 2000 exchanges.
        (5.0 * 400f64.powf(rng.unit())) as u32
    } else {
        u32::MAX
    }
}

/// Log-uniform in `lo..=hi` (both positive).
pub fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo * (hi / lo).powf(rng.unit())
}

/// Log-uniform nanoseconds in `lo..=hi`.
pub fn log_ns(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    log_uniform(rng, lo as f64, hi as f64) as i64
}

/// An exponentially distributed interval with mean `mean_ns` (Poisson
/// arrivals), at least 1 µs.
pub fn exp_ns(rng: &mut Rng, mean_ns: f64) -> i64 {
    let u = 1.0 - rng.unit(); // (0, 1]
    ((-u.ln()) * mean_ns).max(1e3) as i64
}

/// A device's answer time: `typical` scaled by 0.6-1.8, with the odd
/// spike of 5-40 ms.
pub fn answer_ns(rng: &mut Rng, typical: i64) -> i64 {
    let mut t = (typical as f64 * (0.6 + 1.2 * rng.unit())) as i64;
    if rng.chance(15) {
        t += rng.range_i64(5 * MS, 40 * MS);
    }
    t.max(150 * US)
}

/// The IPv4 address of server `s`.
pub fn server_ip(s: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 10, (s / 250) as u8, (10 + s % 250) as u8)
}

/// The MAC and IPv4 address of server `s`.
fn server_host(s: usize, ouis: &[[u8; 3]]) -> (MacAddr, Ipv4Addr) {
    let o = ouis[s % ouis.len()];
    let mac = MacAddr([
        o[0],
        o[1],
        o[2],
        0x10 | (s >> 16) as u8,
        (s >> 8) as u8,
        s as u8,
    ]);
    (mac, server_ip(s))
}

/// The MAC and IPv4 address of client `c`.
fn client_host(c: usize) -> (MacAddr, Ipv4Addr) {
    let mac = MacAddr([
        0x02,
        0x50,
        (c >> 24) as u8,
        (c >> 16) as u8,
        (c >> 8) as u8,
        c as u8,
    ]);
    let ip = Ipv4Addr::new(
        10,
        (20 + c / 64_000) as u8,
        ((c / 250) % 256) as u8,
        (10 + c % 250) as u8,
    );
    (mac, ip)
}

/// Queues the three-way handshake at `t`; returns when it ends.
fn handshake(s: &mut Script<'_>, rng: &mut Rng, t: i64) -> i64 {
    let t = s.control(t, false, Kind::Syn);
    let t = s.control(t + rng.range_i64(100 * US, MS), true, Kind::SynAck);
    s.control(t + rng.range_i64(30 * US, 300 * US), false, Kind::Ack)
}

/// Writes the capture of protocol `p` to `out` and returns what it holds.
pub fn generate<P: Protocol, W: Write>(p: &mut P, cfg: &GenConfig, out: W) -> io::Result<GenStats> {
    if cfg.connections == 0 || cfg.servers == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "at least one connection and one server are needed",
        ));
    }
    let mut rng = Rng::new(cfg.seed);
    let mut w = PcapWriter::new(out, LinkType::ETHERNET)?;
    let mut st = GenStats {
        bytes: 24,
        first_ts: i64::MAX,
        ..GenStats::default()
    };
    let mut hosts = Vec::with_capacity(cfg.servers);
    let mut servers = Vec::with_capacity(cfg.servers);
    for s in 0..cfg.servers {
        hosts.push(server_host(s, P::OUIS));
        servers.push(p.server(s, &mut rng));
    }
    let mut slots: Vec<Slot<P::Conn>> = Vec::with_capacity(cfg.connections);
    for c in 0..cfg.connections {
        let s = c % cfg.servers;
        let (mac, ip) = client_host(c);
        let (smac, sip) = hosts[s];
        let port = rng.range(u64::from(EPHEMERAL_LO), u64::from(EPHEMERAL_HI)) as u16;
        let ep = Endpoints {
            src_mac: mac,
            dst_mac: smac,
            src_ip: IpAddr::V4(ip),
            dst_ip: IpAddr::V4(sip),
            src_port: port,
            dst_port: P::PORT,
            vlan: None,
        };
        // Clients: Linux (40 ms) or Windows (200 ms) delayed ACKs;
        // servers: embedded stacks, 10-100 ms.
        let client_delack = if rng.chance(500) { 40 * MS } else { 200 * MS };
        let server_delack = rng.range_i64(10 * MS, 100 * MS);
        let app = p.conn(c, &servers[s], &mut rng);
        slots.push(Slot {
            app,
            server: s,
            ep,
            rev: ep.reversed(),
            cseq: 0,
            sseq: 0,
            wire: Wire {
                delack: [client_delack, server_delack],
                ..Wire::default()
            },
            state: State::Opening,
            remaining: lifetime(&mut rng),
            fixed_port: rng.chance(100),
            done: false,
        });
    }
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::with_capacity(cfg.connections);
    for (i, slot) in slots.iter_mut().enumerate() {
        let t = cfg.start_ns + rng.range_i64(0, 3 * SEC);
        slot.wire.last_t = t;
        let mut x = Ctx {
            rng: &mut rng,
            srv: &mut servers[slot.server],
            conn: &mut slot.app,
            stats: &mut st,
            wire: Script {
                w: &mut slot.wire,
                pool: &mut pool,
            },
        };
        handshake(&mut x.wire, x.rng, t);
        slot.state = State::Opening;
        heap.push(Reverse((slot.wire.q[0].t, i as u32)));
    }
    let mut frame = Vec::with_capacity(2048);
    let mut stopping = false;
    let ack = TcpFlags::ACK;
    let psh_ack = TcpFlags::PSH | TcpFlags::ACK;
    let fin_ack = TcpFlags::FIN | TcpFlags::ACK;

    while let Some(Reverse((t, ci))) = heap.pop() {
        let i = ci as usize;
        let slot = &mut slots[i];
        let Some(pkt) = slot.wire.q.pop_front() else {
            continue;
        };
        debug_assert_eq!(pkt.t, t);
        if matches!(pkt.kind, Kind::Syn) && stopping {
            // A reopen after the capture is complete: the connection is done.
            for p in slot.wire.q.drain(..) {
                if let Kind::Data(b) = p.kind {
                    pool.push(b);
                }
            }
            slot.done = true;
            continue;
        }
        let (ep, rev) = (&slot.ep, &slot.rev);
        match pkt.kind {
            Kind::Syn => {
                slot.cseq = rng.next_u32();
                tcp_frame_into(&mut frame, ep, slot.cseq, 0, TcpFlags::SYN, &[]);
                slot.cseq = slot.cseq.wrapping_add(1);
                st.opened += 1;
            }
            Kind::SynAck => {
                slot.sseq = rng.next_u32();
                let flags = TcpFlags::SYN | TcpFlags::ACK;
                tcp_frame_into(&mut frame, rev, slot.sseq, slot.cseq, flags, &[]);
                slot.sseq = slot.sseq.wrapping_add(1);
            }
            Kind::Ack => {
                if pkt.server {
                    tcp_frame_into(&mut frame, rev, slot.sseq, slot.cseq, ack, &[]);
                } else {
                    tcp_frame_into(&mut frame, ep, slot.cseq, slot.sseq, ack, &[]);
                }
                st.pure_acks += 1;
            }
            Kind::Data(buf) => {
                if pkt.server {
                    tcp_frame_into(&mut frame, rev, slot.sseq, slot.cseq, psh_ack, &buf);
                    slot.sseq = slot.sseq.wrapping_add(buf.len() as u32);
                } else {
                    tcp_frame_into(&mut frame, ep, slot.cseq, slot.sseq, psh_ack, &buf);
                    slot.cseq = slot.cseq.wrapping_add(buf.len() as u32);
                }
                pool.push(buf);
            }
            Kind::Fin => {
                if pkt.server {
                    tcp_frame_into(&mut frame, rev, slot.sseq, slot.cseq, fin_ack, &[]);
                    slot.sseq = slot.sseq.wrapping_add(1);
                } else {
                    tcp_frame_into(&mut frame, ep, slot.cseq, slot.sseq, fin_ack, &[]);
                    slot.cseq = slot.cseq.wrapping_add(1);
                }
            }
        }
        w.write_packet(t, &frame)?;
        st.packets += 1;
        st.bytes += 16 + frame.len() as u64;
        st.first_ts = st.first_ts.min(t);
        st.last_ts = t;
        if st.bytes >= cfg.size {
            stopping = true;
        }
        if slot.wire.q.is_empty() {
            refill(
                p,
                slot,
                &mut servers,
                &mut rng,
                &mut st,
                &mut pool,
                stopping,
                t,
            );
        }
        if let Some(front) = slot.wire.q.front() {
            heap.push(Reverse((front.t, ci)));
        }
    }
    w.into_inner()?.flush()?;
    if st.packets == 0 {
        st.first_ts = cfg.start_ns;
        st.last_ts = cfg.start_ns;
    }
    Ok(st)
}

/// Queues what a connection does once everything queued was sent at `t`.
#[allow(clippy::too_many_arguments)]
fn refill<P: Protocol>(
    p: &mut P,
    slot: &mut Slot<P::Conn>,
    servers: &mut [P::Server],
    rng: &mut Rng,
    st: &mut GenStats,
    pool: &mut Vec<Vec<u8>>,
    stopping: bool,
    t: i64,
) {
    let mut x = Ctx {
        rng,
        srv: &mut servers[slot.server],
        conn: &mut slot.app,
        stats: st,
        wire: Script {
            w: &mut slot.wire,
            pool,
        },
    };
    match slot.state {
        State::Opening => {
            p.open(&mut x, t);
            slot.state = State::Open;
        }
        State::Open if stopping || slot.remaining == 0 => {
            let by_server = !stopping && x.rng.chance(200);
            p.close(&mut x, t, by_server);
            let s = &mut x.wire;
            let t1 = s.now().max(t) + x.rng.range_i64(500 * US, 50 * MS);
            let t1 = s.push(t1, by_server, Kind::Fin);
            let t2 = s.push(t1 + x.rng.range_i64(30 * US, 2 * MS), !by_server, Kind::Fin);
            s.control(
                t2 + x.rng.range_i64(30 * US, 500 * US),
                by_server,
                Kind::Ack,
            );
            slot.state = State::Closing;
        }
        State::Open => {
            slot.remaining = slot.remaining.saturating_sub(1);
            p.next(&mut x, t);
            assert!(!slot.wire.q.is_empty(), "next() queued nothing");
        }
        State::Closing => {
            x.stats.closed += 1;
            if stopping {
                slot.done = true;
                return;
            }
            if !slot.fixed_port {
                let port = slot.ep.src_port;
                slot.ep.src_port = if port >= EPHEMERAL_HI {
                    EPHEMERAL_LO
                } else {
                    port + 1
                };
                slot.rev = slot.ep.reversed();
            }
            let t0 = t + x.rng.range_i64(500 * MS, 10 * SEC);
            x.wire.w.unacked = None;
            handshake(&mut x.wire, x.rng, t0);
            slot.remaining = lifetime(x.rng);
            slot.state = State::Opening;
        }
    }
}

/// Civil date and time of `ns` since the epoch (UTC): year, month (1-12),
/// day (1-31), hour, minute, second, millisecond, weekday (1 Monday .. 7
/// Sunday).
pub fn civil(ns: i64) -> (i32, u8, u8, u8, u8, u8, u16, u8) {
    let ms_total = ns.div_euclid(MS);
    let days = ms_total.div_euclid(86_400_000);
    let ms_day = ms_total.rem_euclid(86_400_000);
    // Days to civil date (proleptic Gregorian), eras of 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    // 1970-01-01 was a Thursday (4).
    let weekday = ((days + 3).rem_euclid(7) + 1) as u8;
    (
        year,
        month,
        day,
        (ms_day / 3_600_000) as u8,
        (ms_day / 60_000 % 60) as u8,
        (ms_day / 1000 % 60) as u8,
        (ms_day % 1000) as u16,
        weekday,
    )
}
