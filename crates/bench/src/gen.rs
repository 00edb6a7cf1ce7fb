//! `gen-modbus`: a deterministic capture of a busy Modbus/TCP plant network.
//!
//! The model: `connections` clients (HMIs, SCADA pollers, historians), each
//! with its own MAC and IP, spread over `servers` PLCs listening on port 502.
//! Every connection opens with a SYN / SYN-ACK / ACK handshake, then polls
//! its PLC at a fixed cycle (50-500 ms, with a little jitter), one request
//! outstanding at a time. The PLC answers after 0.3-20 ms (a per-PLC scan
//! time plus jitter and the odd spike) with a correct response read from
//! its own register and coil image, which writes change and which drifts
//! like live process values. After some responses the client sends a pure
//! ACK (delayed ACK); otherwise the next request carries the ACK.
//! A quarter of the connections are closed with FIN after 5-2000
//! transactions (by the client, or by the PLC one time in five) and reopened
//! 0.5-10 s later, most from a new ephemeral port, some (devices with a
//! bound source port) from the same 5-tuple. When the size is reached every
//! connection finishes its transaction and closes with FIN.
//!
//! All connections run on one capture-time clock (a min-heap of their next
//! packet times), so the capture is in time order and requests interleave
//! across connections as on a real network. Sequence and acknowledgement
//! numbers are exact throughout. The same seed gives the same bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use plantshield_capture::{LinkType, PcapWriter};
use plantshield_decode::craft::{tcp_frame_into, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};

use crate::rng::Rng;

/// 2026-11-26T08:00:00Z, the capture's first instant.
pub const DEFAULT_START_NS: i64 = 1_795_680_000 * 1_000_000_000;

const MS: i64 = 1_000_000;
const US: i64 = 1_000;
const SEC: i64 = 1_000_000_000;

/// Registers per PLC image (holding and input each); addresses stay below it.
const IMAGE_REGS: usize = 12_288;
/// Coils and discrete inputs per PLC image.
const IMAGE_BITS: usize = 16_384;
/// Highest start address a request uses.
const MAX_START: u64 = 9_999;

/// The ephemeral port range clients take their ports from.
pub(crate) const EPHEMERAL_LO: u16 = 32_768;
/// The end of the ephemeral port range (Linux's default).
pub(crate) const EPHEMERAL_HI: u16 = 60_999;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Stop starting transactions once the file holds this many bytes.
    pub size: u64,
    /// Client connections (one client host each).
    pub connections: usize,
    /// PLCs the clients are spread over.
    pub servers: usize,
    /// Seed of everything random.
    pub seed: u64,
    /// Capture time of the first packet window (ns since the epoch).
    pub start_ns: i64,
}

/// What was generated.
#[derive(Clone, Debug, Default)]
pub struct GenStats {
    /// Records written.
    pub packets: u64,
    /// File bytes, headers included.
    pub bytes: u64,
    /// Request/response pairs.
    pub transactions: u64,
    /// Of which answered with an exception.
    pub exceptions: u64,
    /// Transactions by request function code.
    pub by_function: [u64; 24],
    /// TCP connections opened (handshakes).
    pub opened: u64,
    /// TCP connections closed with FIN.
    pub closed: u64,
    /// Pure ACKs after responses.
    pub pure_acks: u64,
    /// Time of the first record (ns).
    pub first_ts: i64,
    /// Time of the last record (ns).
    pub last_ts: i64,
}

/// The next packet a connection sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Syn,
    SynAck,
    HandshakeAck,
    Request,
    Response,
    DelayedAck,
    /// The closing side's FIN.
    Fin,
    /// The other side's FIN.
    FinReply,
    /// The closing side acknowledges the other FIN.
    LastAck,
}

/// The request in flight, kept to build a consistent response.
#[derive(Clone, Copy, Debug, Default)]
struct Req {
    fc: u8,
    addr: u16,
    qty: u16,
    /// FC 5/6: the value written (echoed).
    value: u16,
    /// 0: a normal response; otherwise the exception code.
    exception: u8,
}

struct Server {
    mac: MacAddr,
    ip: Ipv4Addr,
    holding: Vec<u16>,
    input: Vec<u16>,
    coils: Vec<u8>,
    discrete: Vec<u8>,
    /// Typical answer time (the PLC's scan time).
    latency_ns: i64,
}

impl Server {
    fn new(s: usize, rng: &mut Rng) -> Server {
        const OUIS: [[u8; 3]; 5] = [
            [0x00, 0x1b, 0x1b], // Siemens
            [0x00, 0x80, 0xf4], // Schneider Electric
            [0x00, 0x00, 0xbc], // Rockwell Automation
            [0x00, 0x30, 0xde], // WAGO
            [0x00, 0x0e, 0x8c], // Siemens (older)
        ];
        let o = OUIS[s % OUIS.len()];
        let mac = MacAddr([
            o[0],
            o[1],
            o[2],
            0x10 | (s >> 16) as u8,
            (s >> 8) as u8,
            s as u8,
        ]);
        let ip = Ipv4Addr::new(10, 10, (s / 250) as u8, (10 + s % 250) as u8);
        let regs = |rng: &mut Rng| -> Vec<u16> {
            (0..IMAGE_REGS)
                .map(|_| match rng.below(10) {
                    0..=2 => 0,
                    3..=6 => rng.below(1000) as u16,
                    _ => rng.next_u32() as u16,
                })
                .collect()
        };
        let holding = regs(rng);
        let input = regs(rng);
        let bits = |rng: &mut Rng| -> Vec<u8> {
            // Sparse: most coils are off.
            (0..IMAGE_BITS / 8)
                .map(|_| (rng.next_u32() & rng.next_u32() & rng.next_u32()) as u8)
                .collect()
        };
        let coils = bits(rng);
        let discrete = bits(rng);
        // Log-uniform scan time between 0.5 and 8 ms.
        let latency_ns = (500_000.0 * 16f64.powf(rng.unit())) as i64;
        Server {
            mac,
            ip,
            holding,
            input,
            coils,
            discrete,
            latency_ns,
        }
    }
}

struct Conn {
    server: usize,
    /// Client to server.
    ep: Endpoints,
    /// Server to client.
    rev: Endpoints,
    /// Next client sequence number.
    cseq: u32,
    /// Next server sequence number.
    sseq: u32,
    next: Action,
    interval_ns: i64,
    next_poll: i64,
    tid: u16,
    unit: u8,
    /// Transactions before this connection closes (`u32::MAX`: never).
    remaining: u32,
    /// The client binds a fixed source port (a reopen reuses the 5-tuple).
    fixed_port: bool,
    server_closes: bool,
    req: Req,
}

impl Conn {
    fn new(c: usize, server: &Server, server_idx: usize, rng: &mut Rng) -> Conn {
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
        let port = rng.range(u64::from(EPHEMERAL_LO), u64::from(EPHEMERAL_HI)) as u16;
        let ep = Endpoints {
            src_mac: mac,
            dst_mac: server.mac,
            src_ip: IpAddr::V4(ip),
            dst_ip: IpAddr::V4(server.ip),
            src_port: port,
            dst_port: 502,
            vlan: None,
        };
        let unit = match rng.below(10) {
            0..=6 => 1,
            7 => 255,
            8 => 0,
            _ => rng.range(2, 32) as u8,
        };
        Conn {
            server: server_idx,
            ep,
            rev: ep.reversed(),
            cseq: 0,
            sseq: 0,
            next: Action::Syn,
            interval_ns: rng.range_i64(50 * MS, 500 * MS),
            next_poll: 0,
            tid: 0,
            unit,
            remaining: lifetime(rng),
            fixed_port: rng.chance(100),
            server_closes: false,
            req: Req::default(),
        }
    }

    fn set_port(&mut self, port: u16) {
        self.ep.src_port = port;
        self.rev = self.ep.reversed();
    }
}

/// Transactions a new connection lives for.
fn lifetime(rng: &mut Rng) -> u32 {
    if rng.chance(250) {
        // Log-uniform between 5 and 2000 transactions.
        (5.0 * 400f64.powf(rng.unit())) as u32
    } else {
        u32::MAX
    }
}

/// Function codes and their weights (per 9900): 55 % FC 3, 15 % FC 4,
/// 5 % each FC 1 and 2, 8 % FC 6, 6 % FC 16, 2 % each FC 5 and 15, 1 % FC 23.
const MIX: [(u8, u64); 9] = [
    (3, 5500),
    (4, 1500),
    (1, 500),
    (2, 500),
    (6, 800),
    (16, 600),
    (5, 200),
    (15, 200),
    (23, 100),
];

fn pick_function(rng: &mut Rng) -> u8 {
    let total: u64 = MIX.iter().map(|m| m.1).sum();
    let mut x = rng.below(total);
    for (fc, w) in MIX {
        if x < w {
            return fc;
        }
        x -= w;
    }
    3
}

/// Register quantity of a read: 1-125, mostly 10-60.
fn read_quantity(rng: &mut Rng) -> u16 {
    match rng.below(10) {
        0 => rng.range(1, 9) as u16,
        1 => rng.range(61, 125) as u16,
        _ => rng.range(10, 60) as u16,
    }
}

/// Bit quantity of a coil or discrete-input read: up to 2000.
fn bit_quantity(rng: &mut Rng) -> u16 {
    match rng.below(10) {
        0..=6 => rng.range(1, 64) as u16,
        7 | 8 => rng.range(65, 512) as u16,
        _ => rng.range(513, 2000) as u16,
    }
}

fn start_address(rng: &mut Rng, qty: u16, image: usize) -> u16 {
    let a = rng.below(MAX_START + 1) as usize;
    a.min(image - usize::from(qty)) as u16
}

fn exception_code(rng: &mut Rng) -> u8 {
    match rng.below(20) {
        0..=11 => 2, // illegal data address
        12..=14 => 3,
        15 | 16 => 1,
        17 => 4,
        18 => 6,
        _ => 0x0b,
    }
}

fn begin_adu(p: &mut Vec<u8>, tid: u16, unit: u8) {
    p.clear();
    p.extend_from_slice(&tid.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, unit]);
}

fn end_adu(p: &mut [u8]) {
    let len = (p.len() - 6) as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
}

fn push_u16(p: &mut Vec<u8>, v: u16) {
    p.extend_from_slice(&v.to_be_bytes());
}

/// Appends `qty` bits of `image` from bit `addr`, packed LSB first.
fn push_bits(p: &mut Vec<u8>, image: &[u8], addr: u16, qty: u16) {
    let (addr, qty) = (usize::from(addr), usize::from(qty));
    let (byte, shift) = (addr / 8, addr % 8);
    let n = qty.div_ceil(8);
    for j in 0..n {
        let lo = image[byte + j] >> shift;
        let hi = if shift == 0 {
            0
        } else {
            image.get(byte + j + 1).copied().unwrap_or(0) << (8 - shift)
        };
        p.push(lo | hi);
    }
    if qty % 8 != 0 {
        if let Some(last) = p.last_mut() {
            *last &= (1u8 << (qty % 8)) - 1;
        }
    }
}

fn set_bit(image: &mut [u8], i: usize, on: bool) {
    if on {
        image[i / 8] |= 1 << (i % 8);
    } else {
        image[i / 8] &= !(1 << (i % 8));
    }
}

/// A process value that moved a little since the last poll.
fn drift(rng: &mut Rng, regs: &mut [u16], addr: u16, qty: u16) {
    let i = usize::from(addr) + rng.below(u64::from(qty)) as usize;
    regs[i] = regs[i].wrapping_add(rng.below(7) as u16).wrapping_sub(3);
}

/// Builds the request ADU of connection `c` into `p` and records it in `c.req`.
fn build_request(rng: &mut Rng, srv: &mut Server, c: &mut Conn, p: &mut Vec<u8>) {
    let fc = pick_function(rng);
    c.tid = c.tid.wrapping_add(1);
    begin_adu(p, c.tid, c.unit);
    p.push(fc);
    let mut req = Req {
        fc,
        ..Req::default()
    };
    match fc {
        1 | 2 => {
            req.qty = bit_quantity(rng);
            req.addr = start_address(rng, req.qty, IMAGE_BITS);
            push_u16(p, req.addr);
            push_u16(p, req.qty);
        }
        3 | 4 => {
            req.qty = read_quantity(rng);
            req.addr = start_address(rng, req.qty, IMAGE_REGS);
            push_u16(p, req.addr);
            push_u16(p, req.qty);
        }
        5 => {
            req.addr = start_address(rng, 1, IMAGE_BITS);
            let on = rng.chance(500);
            req.value = if on { 0xff00 } else { 0 };
            set_bit(&mut srv.coils, usize::from(req.addr), on);
            push_u16(p, req.addr);
            push_u16(p, req.value);
        }
        6 => {
            req.addr = start_address(rng, 1, IMAGE_REGS);
            req.value = if rng.chance(700) {
                rng.below(1000) as u16
            } else {
                rng.next_u32() as u16
            };
            srv.holding[usize::from(req.addr)] = req.value;
            push_u16(p, req.addr);
            push_u16(p, req.value);
        }
        15 => {
            req.qty = if rng.chance(800) {
                rng.range(1, 32) as u16
            } else {
                rng.range(33, 800) as u16
            };
            req.addr = start_address(rng, req.qty, IMAGE_BITS);
            push_u16(p, req.addr);
            push_u16(p, req.qty);
            let n = usize::from(req.qty).div_ceil(8);
            p.push(n as u8);
            for i in 0..n {
                let mut b = rng.next_u32() as u8;
                if i == n - 1 && req.qty % 8 != 0 {
                    b &= (1u8 << (req.qty % 8)) - 1;
                }
                p.push(b);
                for bit in 0..8 {
                    let k = i * 8 + bit;
                    if k < usize::from(req.qty) {
                        set_bit(&mut srv.coils, usize::from(req.addr) + k, b >> bit & 1 == 1);
                    }
                }
            }
        }
        16 => {
            req.qty = if rng.chance(600) {
                rng.range(1, 10) as u16
            } else {
                rng.range(11, 60) as u16
            };
            req.addr = start_address(rng, req.qty, IMAGE_REGS);
            push_u16(p, req.addr);
            push_u16(p, req.qty);
            p.push((2 * req.qty) as u8);
            for i in 0..usize::from(req.qty) {
                let v = rng.below(4000) as u16;
                srv.holding[usize::from(req.addr) + i] = v;
                push_u16(p, v);
            }
        }
        23 => {
            // Read quantity in `qty`; the write goes elsewhere and is
            // performed before the read (AP §6.17).
            req.qty = rng.range(1, 60) as u16;
            req.addr = start_address(rng, req.qty, IMAGE_REGS);
            let wqty = rng.range(1, 30) as u16;
            let waddr = start_address(rng, wqty, IMAGE_REGS);
            push_u16(p, req.addr);
            push_u16(p, req.qty);
            push_u16(p, waddr);
            push_u16(p, wqty);
            p.push((2 * wqty) as u8);
            for i in 0..usize::from(wqty) {
                let v = rng.below(4000) as u16;
                srv.holding[usize::from(waddr) + i] = v;
                push_u16(p, v);
            }
        }
        _ => unreachable!("function {fc} is not in the mix"),
    }
    if rng.chance(10) {
        req.exception = exception_code(rng);
    }
    end_adu(p);
    c.req = req;
}

/// Builds the response ADU to `c.req` into `p`.
fn build_response(rng: &mut Rng, srv: &mut Server, c: &Conn, p: &mut Vec<u8>) {
    let r = c.req;
    begin_adu(p, c.tid, c.unit);
    if r.exception != 0 {
        p.push(r.fc | 0x80);
        p.push(r.exception);
        end_adu(p);
        return;
    }
    p.push(r.fc);
    match r.fc {
        1 | 2 => {
            let image = if r.fc == 1 {
                &mut srv.coils
            } else {
                &mut srv.discrete
            };
            if rng.chance(50) {
                let i = usize::from(r.addr) + rng.below(u64::from(r.qty)) as usize;
                image[i / 8] ^= 1 << (i % 8);
            }
            p.push(usize::from(r.qty).div_ceil(8) as u8);
            push_bits(p, image, r.addr, r.qty);
        }
        3 | 4 | 23 => {
            let regs = if r.fc == 4 {
                &mut srv.input
            } else {
                &mut srv.holding
            };
            drift(rng, regs, r.addr, r.qty);
            p.push((2 * r.qty) as u8);
            let a = usize::from(r.addr);
            for v in &regs[a..a + usize::from(r.qty)] {
                push_u16(p, *v);
            }
        }
        5 | 6 => {
            push_u16(p, r.addr);
            push_u16(p, r.value);
        }
        15 | 16 => {
            push_u16(p, r.addr);
            push_u16(p, r.qty);
        }
        _ => unreachable!("function {} is not in the mix", r.fc),
    }
    end_adu(p);
}

/// Writes the capture to `out` and returns what it holds.
pub fn generate<W: Write>(cfg: &GenConfig, out: W) -> io::Result<GenStats> {
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
    let mut servers: Vec<Server> = (0..cfg.servers).map(|s| Server::new(s, &mut rng)).collect();
    let mut conns: Vec<Conn> = (0..cfg.connections)
        .map(|c| {
            let s = c % cfg.servers;
            Conn::new(c, &servers[s], s, &mut rng)
        })
        .collect();
    let mut heap: BinaryHeap<Reverse<(i64, u32)>> = (0..cfg.connections)
        .map(|c| Reverse((cfg.start_ns + rng.range_i64(0, 3 * SEC), c as u32)))
        .collect();
    let mut frame = Vec::with_capacity(2048);
    let mut payload = Vec::with_capacity(512);
    let mut stopping = false;
    let ack = TcpFlags::ACK;
    let psh_ack = TcpFlags::PSH | TcpFlags::ACK;
    let fin_ack = TcpFlags::FIN | TcpFlags::ACK;

    while let Some(Reverse((t, ci))) = heap.pop() {
        let c = &mut conns[ci as usize];
        let srv = &mut servers[c.server];
        let mut action = c.next;
        if action == Action::Request && (stopping || c.remaining == 0) {
            action = Action::Fin;
            c.server_closes = !stopping && rng.chance(200);
        }
        let next_t: Option<i64> = match action {
            Action::Syn => {
                if stopping {
                    None
                } else {
                    c.cseq = rng.next_u32();
                    tcp_frame_into(&mut frame, &c.ep, c.cseq, 0, TcpFlags::SYN, &[]);
                    c.cseq = c.cseq.wrapping_add(1);
                    c.tid = 0;
                    st.opened += 1;
                    c.next = Action::SynAck;
                    Some(t + rng.range_i64(100 * US, MS))
                }
            }
            Action::SynAck => {
                c.sseq = rng.next_u32();
                let flags = TcpFlags::SYN | TcpFlags::ACK;
                tcp_frame_into(&mut frame, &c.rev, c.sseq, c.cseq, flags, &[]);
                c.sseq = c.sseq.wrapping_add(1);
                c.next = Action::HandshakeAck;
                Some(t + rng.range_i64(30 * US, 300 * US))
            }
            Action::HandshakeAck => {
                tcp_frame_into(&mut frame, &c.ep, c.cseq, c.sseq, ack, &[]);
                c.next = Action::Request;
                c.next_poll = t + rng.range_i64(MS, c.interval_ns);
                Some(c.next_poll)
            }
            Action::Request => {
                build_request(&mut rng, srv, c, &mut payload);
                tcp_frame_into(&mut frame, &c.ep, c.cseq, c.sseq, psh_ack, &payload);
                c.cseq = c.cseq.wrapping_add(payload.len() as u32);
                c.remaining = c.remaining.saturating_sub(1);
                let jitter = 0.98 + 0.04 * rng.unit();
                c.next_poll = t + (c.interval_ns as f64 * jitter) as i64;
                let mut lat = (srv.latency_ns as f64 * (0.6 + 1.2 * rng.unit())) as i64;
                if rng.chance(20) {
                    lat += rng.range_i64(5 * MS, 20 * MS);
                }
                c.next = Action::Response;
                Some(t + lat.clamp(300 * US, 20 * MS))
            }
            Action::Response => {
                build_response(&mut rng, srv, c, &mut payload);
                tcp_frame_into(&mut frame, &c.rev, c.sseq, c.cseq, psh_ack, &payload);
                c.sseq = c.sseq.wrapping_add(payload.len() as u32);
                st.transactions += 1;
                st.by_function[usize::from(c.req.fc)] += 1;
                if c.req.exception != 0 {
                    st.exceptions += 1;
                }
                c.next_poll = c.next_poll.max(t + MS);
                if rng.chance(350) {
                    let hi = (40 * MS).min((c.next_poll - t) / 2).max(200 * US);
                    c.next = Action::DelayedAck;
                    Some(t + rng.range_i64(200 * US, hi))
                } else {
                    c.next = Action::Request;
                    Some(c.next_poll)
                }
            }
            Action::DelayedAck => {
                tcp_frame_into(&mut frame, &c.ep, c.cseq, c.sseq, ack, &[]);
                st.pure_acks += 1;
                c.next = Action::Request;
                Some(c.next_poll)
            }
            Action::Fin => {
                if c.server_closes {
                    tcp_frame_into(&mut frame, &c.rev, c.sseq, c.cseq, fin_ack, &[]);
                    c.sseq = c.sseq.wrapping_add(1);
                } else {
                    tcp_frame_into(&mut frame, &c.ep, c.cseq, c.sseq, fin_ack, &[]);
                    c.cseq = c.cseq.wrapping_add(1);
                }
                c.next = Action::FinReply;
                Some(t + rng.range_i64(100 * US, 2 * MS))
            }
            Action::FinReply => {
                if c.server_closes {
                    tcp_frame_into(&mut frame, &c.ep, c.cseq, c.sseq, fin_ack, &[]);
                    c.cseq = c.cseq.wrapping_add(1);
                } else {
                    tcp_frame_into(&mut frame, &c.rev, c.sseq, c.cseq, fin_ack, &[]);
                    c.sseq = c.sseq.wrapping_add(1);
                }
                c.next = Action::LastAck;
                Some(t + rng.range_i64(30 * US, 500 * US))
            }
            Action::LastAck => {
                if c.server_closes {
                    tcp_frame_into(&mut frame, &c.rev, c.sseq, c.cseq, ack, &[]);
                } else {
                    tcp_frame_into(&mut frame, &c.ep, c.cseq, c.sseq, ack, &[]);
                }
                st.closed += 1;
                c.next = Action::Syn;
                c.remaining = lifetime(&mut rng);
                if !c.fixed_port {
                    let p = c.ep.src_port;
                    c.set_port(if p >= EPHEMERAL_HI {
                        EPHEMERAL_LO
                    } else {
                        p + 1
                    });
                }
                (!stopping).then(|| t + rng.range_i64(500 * MS, 10 * SEC))
            }
        };
        if !(action == Action::Syn && stopping) {
            w.write_packet(t, &frame)?;
            st.packets += 1;
            st.bytes += 16 + frame.len() as u64;
            st.first_ts = st.first_ts.min(t);
            st.last_ts = t;
            if st.bytes >= cfg.size {
                stopping = true;
            }
        }
        if let Some(nt) = next_t {
            heap.push(Reverse((nt, ci)));
        }
    }
    w.into_inner()?.flush()?;
    if st.packets == 0 {
        st.first_ts = cfg.start_ns;
        st.last_ts = cfg.start_ns;
    }
    Ok(st)
}

#[cfg(test)]
mod tests;
