//! `gen-dnp3`: SCADA masters polling DNP3 outstations over TCP port 20000
//! (IEEE 1815-2012 with its IP networking annex).
//!
//! Every message is carried by link frames with valid header and block
//! CRCs (unconfirmed user data, DIR set from the master), split into
//! transport segments of at most 249 octets with running sequence numbers;
//! application fragments are at most 2048 octets.
//!
//! Each outstation has binary inputs and outputs, counters, analog inputs
//! and outputs (8 to 400 analog inputs, so that some integrity polls need
//! several fragments) and produces events at its own rate: binary changes
//! (class 1), analog changes (class 2) and counter changes (class 3).
//!
//! A session starts the way masters and outstations start one: the
//! outstation's null unsolicited response (IIN restart and need-time on
//! the first session after its start), confirmed by the master; the master
//! clears the restart indication (write g80v1), synchronises time if asked
//! (record current time, write g50v3), disables unsolicited reporting,
//! makes an integrity poll (class 1, 2, 3 and 0: events, then g1v2, g10v2,
//! g20v1, g30v1, g40v1) and, for the 40 % of sessions reporting by
//! exception, enables unsolicited responses again.
//!
//! Then: integrity polls every 1-15 min; polled sessions read class 1, 2
//! and 3 events every 1-10 s; unsolicited sessions get the events as
//! unsolicited responses (g2v2, g32v1 or g32v3, g22v1) 0.1-2 s after they
//! occur. A response carrying events, and every fragment but the last of a
//! multi-fragment response, asks for a confirm, which the master sends.
//! Three sessions in ten come from operator masters that also operate
//! controls every 30 s to 10 min: select and operate of a control relay
//! output block (g12v1), or a direct operate of a CROB or an analog output
//! block (g41v2); one control in a hundred is refused (status `local`).
//! A session silent for its keep-alive time (30-60 s) gets a link status
//! request, answered by the outstation's link layer.

use std::collections::VecDeque;

use plantshield_protocols::dnp3::crc::crc;
use plantshield_protocols::dnp3::{LinkControl, LinkHeader};

use super::{answer_ns, exp_ns, log_ns, log_uniform, Ctx, Protocol, MS, SEC, US};
use crate::rng::Rng;

/// TCP port of DNP3 outstations.
pub const PORT: u16 = 20000;
/// Outstations by default: two masters (a SCADA server and its standby or
/// a historian) per outstation with the default 2000 connections.
pub const DEFAULT_SERVERS: usize = 1000;

/// Largest application fragment (what common stacks use).
const MAX_FRAGMENT: usize = 2048;
/// Application octets per transport segment (250 octets of user data less
/// the transport header).
const SEGMENT_DATA: usize = 249;
/// Events buffered per session at most.
const MAX_EVENTS: usize = 256;

/// DIR, PRM, unconfirmed user data: a master's frame.
const CTRL_MASTER: u8 = 0xC4;
/// PRM, unconfirmed user data: an outstation's frame.
const CTRL_OUTSTATION: u8 = 0x44;
/// DIR, PRM, request link status.
const CTRL_REQUEST_LINK_STATUS: u8 = 0xC9;
/// Secondary frame, link status.
const CTRL_LINK_STATUS: u8 = 0x0B;

const FC_CONFIRM: u8 = 0;
const FC_READ: u8 = 1;
const FC_WRITE: u8 = 2;
const FC_SELECT: u8 = 3;
const FC_OPERATE: u8 = 4;
const FC_DIRECT_OPERATE: u8 = 5;
const FC_ENABLE_UNSOLICITED: u8 = 20;
const FC_DISABLE_UNSOLICITED: u8 = 21;
const FC_RECORD_CURRENT_TIME: u8 = 24;
const FC_RESPONSE: u8 = 129;
const FC_UNSOLICITED_RESPONSE: u8 = 130;

const IIN1_CLASS1: u8 = 0x02;
const IIN1_CLASS2: u8 = 0x04;
const IIN1_CLASS3: u8 = 0x08;
const IIN1_NEED_TIME: u8 = 0x10;
const IIN1_RESTART: u8 = 0x80;

/// Object flags: online.
const ONLINE: u8 = 0x01;
/// Binary object flags: state.
const STATE: u8 = 0x80;

/// Class 1, 2 and 3 objects, all of them (qualifier 0x06).
const CLASS_123: [u8; 9] = [60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06];
/// Class 1, 2, 3 and 0: the integrity poll.
const CLASS_1230: [u8; 12] = [60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06];

/// An outstation.
pub struct Outstation {
    address: u16,
    /// Binary inputs: flags with the state bit.
    bi: Vec<u8>,
    /// Binary output status: flags with the state bit.
    bo: Vec<u8>,
    counters: Vec<u32>,
    ai: Vec<i32>,
    ao: Vec<i32>,
    /// Typical answer time.
    latency: i64,
    /// Analog events without (1) or with (3) time.
    analog_event_var: u8,
    /// The restart indication was not cleared yet.
    restart: bool,
    /// The outstation asks for time synchronisation.
    need_time: bool,
}

#[derive(Clone, Copy, Debug)]
enum Ev {
    Binary { t: i64, index: u16, flags: u8 },
    Analog { t: i64, index: u16, value: i32 },
    Counter { t: i64, index: u16, value: u32 },
}

impl Ev {
    fn t(&self) -> i64 {
        match *self {
            Ev::Binary { t, .. } | Ev::Analog { t, .. } | Ev::Counter { t, .. } => t,
        }
    }

    fn class_bit(&self) -> u8 {
        match self {
            Ev::Binary { .. } => IIN1_CLASS1,
            Ev::Analog { .. } => IIN1_CLASS2,
            Ev::Counter { .. } => IIN1_CLASS3,
        }
    }
}

/// A master's session with one outstation.
pub struct Session {
    master: u16,
    /// Application sequence number of the master's next request.
    seq: u8,
    /// Sequence number of the outstation's next unsolicited response.
    uns_seq: u8,
    /// Transport sequence numbers: master to outstation, outstation to master.
    tseq: [u8; 2],
    /// Events are reported by unsolicited responses (else polled).
    unsolicited: bool,
    uns_enabled: bool,
    class_ns: i64,
    next_class: i64,
    integrity_ns: i64,
    next_integrity: i64,
    /// Interval of control operations (0: never).
    control_ns: i64,
    next_control: i64,
    keepalive_ns: i64,
    /// Mean time between events.
    event_mean: f64,
    next_event: i64,
    /// Delay before events are sent unsolicited.
    hold_ns: i64,
    events: VecDeque<Ev>,
    /// The master's processing time.
    think_ns: i64,
}

/// The DNP3 generator's scratch buffers.
#[derive(Default)]
pub struct Dnp3 {
    frags: Vec<Vec<u8>>,
    nfrags: usize,
    req: Vec<u8>,
    out: Vec<u8>,
}

type X<'a, 'b> = &'a mut Ctx<'b, Outstation, Session>;

/// Appends the link frames that carry `fragment` as transport segments.
fn link_frames(out: &mut Vec<u8>, control: u8, dst: u16, src: u16, tseq: &mut u8, fragment: &[u8]) {
    let n = fragment.len().div_ceil(SEGMENT_DATA).max(1);
    let mut user = [0u8; 1 + SEGMENT_DATA];
    for (i, chunk) in fragment.chunks(SEGMENT_DATA).enumerate() {
        let fir = if i == 0 { 0x40 } else { 0 };
        let fin = if i + 1 == n { 0x80 } else { 0 };
        user[0] = fin | fir | (*tseq & 0x3f);
        *tseq = (*tseq + 1) & 0x3f;
        user[1..1 + chunk.len()].copy_from_slice(chunk);
        let data = &user[..1 + chunk.len()];
        LinkHeader {
            length: 5 + data.len() as u8,
            control: LinkControl(control),
            destination: dst,
            source: src,
        }
        .emit(out);
        for block in data.chunks(16) {
            out.extend_from_slice(block);
            out.extend_from_slice(&crc(block).to_le_bytes());
        }
    }
}

/// DNP3 time: milliseconds since the epoch, 48 bits.
fn push_time(f: &mut Vec<u8>, t: i64) {
    f.extend_from_slice(&(t / MS).to_le_bytes()[..6]);
}

impl Dnp3 {
    /// Sends the master's fragment in `self.req`.
    fn send_master(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let (dst, src) = (x.srv.address, x.conn.master);
        self.out.clear();
        let tseq = &mut x.conn.tseq[0];
        link_frames(&mut self.out, CTRL_MASTER, dst, src, tseq, &self.req);
        x.wire.client(t, &self.out)
    }

    /// Sends the outstation's fragment `k`.
    fn send_outstation(&mut self, x: X<'_, '_>, t: i64, k: usize) -> i64 {
        let (dst, src) = (x.conn.master, x.srv.address);
        self.out.clear();
        link_frames(
            &mut self.out,
            CTRL_OUTSTATION,
            dst,
            src,
            &mut x.conn.tseq[1],
            &self.frags[k],
        );
        x.wire.server(t, &self.out)
    }

    // ------------------------------------------------------- response building

    fn begin(&mut self) {
        self.nfrags = 0;
        self.new_frag();
    }

    fn new_frag(&mut self) {
        if self.frags.len() <= self.nfrags {
            self.frags.push(Vec::with_capacity(MAX_FRAGMENT));
        }
        let f = &mut self.frags[self.nfrags];
        f.clear();
        // Application control, function code and IIN, set by `respond`.
        f.extend_from_slice(&[0; 4]);
        self.nfrags += 1;
    }

    fn room(&self) -> usize {
        MAX_FRAGMENT - self.frags[self.nfrags - 1].len()
    }

    /// Static objects `0..count` of `group`/`variation`, `size` octets each
    /// (written by `obj`), split over fragments as needed.
    fn range(
        &mut self,
        group: u8,
        variation: u8,
        count: usize,
        size: usize,
        mut obj: impl FnMut(usize, &mut Vec<u8>),
    ) {
        // One-octet start and stop (qualifier 0x00) when they fit, else two.
        let wide = count > 256;
        let hdr = if wide { 7 } else { 5 };
        let mut i = 0;
        while i < count {
            if self.room() < hdr + size {
                self.new_frag();
            }
            let n = ((self.room() - hdr) / size).min(count - i);
            let stop = i + n - 1;
            let f = &mut self.frags[self.nfrags - 1];
            f.extend_from_slice(&[group, variation]);
            if wide {
                f.push(0x01);
                f.extend_from_slice(&(i as u16).to_le_bytes());
                f.extend_from_slice(&(stop as u16).to_le_bytes());
            } else {
                f.extend_from_slice(&[0x00, i as u8, stop as u8]);
            }
            for k in i..=stop {
                obj(k, f);
            }
            i = stop + 1;
        }
    }

    /// Events from the front of `evs` into the current fragment, in order
    /// (a header per run of one type, qualifier 0x28: two-octet count and
    /// index prefixes), as many as fit; returns how many.
    fn add_events(&mut self, evs: &VecDeque<Ev>, analog_var: u8) -> usize {
        let analog_size = if analog_var == 3 { 11 } else { 5 };
        let mut taken = 0;
        let mut run: Option<(u8, usize)> = None; // (group, offset of the count)
        for e in evs {
            let (group, variation, size) = match e {
                Ev::Binary { .. } => (2, 2, 7),
                Ev::Analog { .. } => (32, analog_var, analog_size),
                Ev::Counter { .. } => (22, 1, 5),
            };
            let same = run.is_some_and(|(g, _)| g == group);
            let need = 2 + size + if same { 0 } else { 5 };
            if self.room() < need {
                break;
            }
            let f = &mut self.frags[self.nfrags - 1];
            if !same {
                f.extend_from_slice(&[group, variation, 0x28, 0, 0]);
                run = Some((group, f.len() - 2));
            }
            if let Some((_, at)) = run {
                let n = u16::from_le_bytes([f[at], f[at + 1]]) + 1;
                f[at..at + 2].copy_from_slice(&n.to_le_bytes());
            }
            match *e {
                Ev::Binary { t, index, flags } => {
                    f.extend_from_slice(&index.to_le_bytes());
                    f.push(flags);
                    push_time(f, t);
                }
                Ev::Analog { t, index, value } => {
                    f.extend_from_slice(&index.to_le_bytes());
                    f.push(ONLINE);
                    f.extend_from_slice(&value.to_le_bytes());
                    if analog_var == 3 {
                        push_time(f, t);
                    }
                }
                Ev::Counter { index, value, .. } => {
                    f.extend_from_slice(&index.to_le_bytes());
                    f.push(ONLINE);
                    f.extend_from_slice(&value.to_le_bytes());
                }
            }
            taken += 1;
        }
        taken
    }

    /// Sends the fragments built at `t`: solicited (`uns` false, first
    /// sequence `seq`) or unsolicited. Every fragment but the last asks for
    /// a confirm, the last if `con_last`; the master confirms each.
    /// Returns the time of the last packet.
    fn respond(
        &mut self,
        x: X<'_, '_>,
        t: i64,
        seq: u8,
        uns: bool,
        con_last: bool,
        iin1: u8,
    ) -> i64 {
        let n = self.nfrags;
        let mut t = t;
        for k in 0..n {
            let last = k + 1 == n;
            let con = !last || con_last;
            let s = (seq + k as u8) & 0x0f;
            let f = &mut self.frags[k];
            f[0] = if k == 0 { 0x80 } else { 0 }
                | if last { 0x40 } else { 0 }
                | if con { 0x20 } else { 0 }
                | if uns { 0x10 } else { 0 }
                | s;
            f[1] = if uns {
                FC_UNSOLICITED_RESPONSE
            } else {
                FC_RESPONSE
            };
            f[2] = iin1;
            f[3] = 0;
            t = self.send_outstation(x, t, k);
            if con {
                // The master's confirm: FIR, FIN, UNS as the response.
                self.req.clear();
                self.req.push(0xC0 | if uns { 0x10 } else { 0 } | s);
                self.req.push(FC_CONFIRM);
                let think = answer_ns(x.rng, x.conn.think_ns);
                t = self.send_master(x, t + think);
                x.stats.msg("confirm");
                if !last {
                    // The next fragment once the confirm is in.
                    t += answer_ns(x.rng, 2 * MS);
                }
            }
        }
        t
    }

    // -------------------------------------------------------------- requests

    /// The master sends request `fc` with `objects` at `t`; returns the
    /// request's sequence number and when the outstation answers.
    fn request(&mut self, x: X<'_, '_>, t: i64, fc: u8, objects: &[u8]) -> (u8, i64) {
        let seq = x.conn.seq;
        x.conn.seq = (seq + 1) & 0x0f;
        self.req.clear();
        self.req.push(0xC0 | seq);
        self.req.push(fc);
        self.req.extend_from_slice(objects);
        let t = self.send_master(x, t);
        let lat = answer_ns(x.rng, x.srv.latency);
        (seq, t + lat)
    }

    /// A request answered by a response without objects.
    fn simple(&mut self, x: X<'_, '_>, t: i64, fc: u8, objects: &[u8], name: &'static str) -> i64 {
        let (seq, t) = self.request(x, t, fc, objects);
        self.begin();
        let iin = iin1(x.srv, &x.conn.events);
        x.stats.txn(name);
        self.respond(x, t, seq, false, false, iin)
    }

    /// Class 1, 2 and 3 (and with `integrity` class 0) read.
    fn poll(&mut self, x: X<'_, '_>, t: i64, integrity: bool) -> i64 {
        let objs: &[u8] = if integrity { &CLASS_1230 } else { &CLASS_123 };
        let (seq, t) = self.request(x, t, FC_READ, objs);
        x.stats.txn("read");
        self.begin();
        let srv = &mut *x.srv;
        let taken = self.add_events(&x.conn.events, srv.analog_event_var);
        if integrity {
            // Process values moved since the last look.
            for _ in 0..srv.ai.len().div_ceil(8) {
                let i = x.rng.below(srv.ai.len() as u64) as usize;
                srv.ai[i] = srv.ai[i].wrapping_add(x.rng.range_i64(-20, 20) as i32);
            }
            let s = &*srv;
            self.range(1, 2, s.bi.len(), 1, |i, f| f.push(s.bi[i]));
            self.range(10, 2, s.bo.len(), 1, |i, f| f.push(s.bo[i]));
            self.range(20, 1, s.counters.len(), 5, |i, f| {
                f.push(ONLINE);
                f.extend_from_slice(&s.counters[i].to_le_bytes());
            });
            self.range(30, 1, s.ai.len(), 5, |i, f| {
                f.push(ONLINE);
                f.extend_from_slice(&s.ai[i].to_le_bytes());
            });
            self.range(40, 1, s.ao.len(), 5, |i, f| {
                f.push(ONLINE);
                f.extend_from_slice(&s.ao[i].to_le_bytes());
            });
        }
        // The outstation takes longer to assemble a long response.
        let t = t + (self.nfrags as i64 - 1) * 3 * MS;
        let rest = x.conn.events.iter().skip(taken);
        let iin = iin_bits(x.srv) | rest.fold(0, |a, e| a | e.class_bit());
        let t = self.respond(x, t, seq, false, taken > 0, iin);
        x.conn.events.drain(..taken);
        if taken > 0 {
            x.stats.msg("polls_with_events");
        }
        t
    }

    /// An unsolicited response with the buffered events (none: the null
    /// unsolicited response of a session's start).
    fn unsolicited(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        self.begin();
        let taken = self.add_events(&x.conn.events, x.srv.analog_event_var);
        let rest = x.conn.events.iter().skip(taken);
        let iin = iin_bits(x.srv) | rest.fold(0, |a, e| a | e.class_bit());
        let seq = x.conn.uns_seq;
        x.conn.uns_seq = (seq + 1) & 0x0f;
        x.stats.txn("unsolicited_response");
        let t = self.respond(x, t, seq, true, true, iin);
        x.conn.events.drain(..taken);
        t
    }

    /// A control: select and operate a CROB, or a direct operate of a CROB
    /// or an analog output block.
    fn control(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let srv = &*x.srv;
        let crob = srv.ao.is_empty() || x.rng.chance(700);
        // Header (qualifier 0x28: count 1, two-octet index) and one block;
        // the block's last octet is its status.
        let mut buf = [0u8; 18];
        let len = if crob {
            let index = x.rng.below(srv.bo.len() as u64) as u16;
            let (code, on) = match x.rng.below(4) {
                0 => (0x41, 1000u32), // pulse on, close
                1 => (0x81, 1000),    // pulse on, trip
                2 => (0x03, 0),       // latch on
                _ => (0x04, 0),       // latch off
            };
            buf[..5].copy_from_slice(&[12, 1, 0x28, 1, 0]);
            buf[5..7].copy_from_slice(&index.to_le_bytes());
            buf[7] = code;
            buf[8] = 1; // count
            buf[9..13].copy_from_slice(&on.to_le_bytes());
            // Off time 0 (13..17), status 0 (17).
            18
        } else {
            let index = x.rng.below(srv.ao.len() as u64) as u16;
            let value = x.rng.range_i64(0, 4000) as i16;
            buf[..5].copy_from_slice(&[41, 2, 0x28, 1, 0]);
            buf[5..7].copy_from_slice(&index.to_le_bytes());
            buf[7..9].copy_from_slice(&value.to_le_bytes());
            // Status 0 (9).
            10
        };
        let objs = &buf[..len];
        let sbo = crob && x.rng.chance(600);
        let refused = x.rng.chance(10);
        let mut t = t;
        let fcs: &[(u8, &'static str)] = if sbo {
            &[(FC_SELECT, "select"), (FC_OPERATE, "operate")]
        } else {
            &[(FC_DIRECT_OPERATE, "direct_operate")]
        };
        for (k, &(fc, name)) in fcs.iter().enumerate() {
            if k > 0 {
                // The operator's operate follows the select.
                t += x.rng.range_i64(5 * MS, 60 * MS);
            }
            let (seq, tr) = self.request(x, t, fc, objs);
            self.begin();
            self.frags[0].extend_from_slice(objs);
            if refused {
                // Status 7, local: the device is in local control.
                *self.frags[0].last_mut().expect("echoed block") = 7;
                x.stats.txn_exception(name);
            } else {
                x.stats.txn(name);
            }
            let iin = iin1(x.srv, &x.conn.events);
            t = self.respond(x, tr, seq, false, false, iin);
            if refused {
                return t;
            }
        }
        let index = usize::from(u16::from_le_bytes([objs[5], objs[6]]));
        if crob {
            // The output moved: its status, and the input wired to it.
            let srv = &mut *x.srv;
            srv.bo[index] ^= STATE;
            let bi = index % srv.bi.len();
            srv.bi[bi] ^= STATE;
            if x.conn.events.len() < MAX_EVENTS {
                x.conn.events.push_back(Ev::Binary {
                    t,
                    index: bi as u16,
                    flags: srv.bi[bi],
                });
            }
        } else {
            x.srv.ao[index] = i32::from(i16::from_le_bytes([objs[7], objs[8]]));
        }
        t
    }

    fn link_status(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        self.out.clear();
        LinkHeader {
            length: 5,
            control: LinkControl(CTRL_REQUEST_LINK_STATUS),
            destination: x.srv.address,
            source: x.conn.master,
        }
        .emit(&mut self.out);
        let t = x.wire.client(t, &self.out);
        self.out.clear();
        LinkHeader {
            length: 5,
            control: LinkControl(CTRL_LINK_STATUS),
            destination: x.conn.master,
            source: x.srv.address,
        }
        .emit(&mut self.out);
        x.stats.txn("request_link_status");
        let lat = answer_ns(x.rng, x.srv.latency / 4);
        x.wire.server(t + lat, &self.out)
    }
}

/// IIN1 bits of the outstation's condition.
fn iin_bits(s: &Outstation) -> u8 {
    (if s.restart { IIN1_RESTART } else { 0 }) | if s.need_time { IIN1_NEED_TIME } else { 0 }
}

/// IIN1 with the classes of the buffered events.
fn iin1(s: &Outstation, evs: &VecDeque<Ev>) -> u8 {
    iin_bits(s) | evs.iter().fold(0, |a, e| a | e.class_bit())
}

/// Generates the session's events up to `until`.
fn advance_events(x: X<'_, '_>, until: i64) {
    let c = &mut *x.conn;
    let s = &mut *x.srv;
    while c.next_event <= until {
        let t = c.next_event;
        c.next_event += exp_ns(x.rng, c.event_mean);
        if c.events.len() >= MAX_EVENTS {
            continue;
        }
        let r = x.rng.below(100);
        let ev = if r < 25 {
            let i = x.rng.below(s.bi.len() as u64) as usize;
            s.bi[i] ^= STATE;
            Ev::Binary {
                t,
                index: i as u16,
                flags: s.bi[i],
            }
        } else if r < 90 || s.counters.is_empty() {
            let i = x.rng.below(s.ai.len() as u64) as usize;
            let step = x.rng.range_i64(1, 300) as i32;
            s.ai[i] = if x.rng.chance(500) {
                s.ai[i].wrapping_add(step)
            } else {
                s.ai[i].wrapping_sub(step)
            };
            Ev::Analog {
                t,
                index: i as u16,
                value: s.ai[i],
            }
        } else {
            let i = x.rng.below(s.counters.len() as u64) as usize;
            s.counters[i] = s.counters[i].wrapping_add(x.rng.range(1, 100) as u32);
            Ev::Counter {
                t,
                index: i as u16,
                value: s.counters[i],
            }
        };
        c.events.push_back(ev);
    }
}

fn points(rng: &mut Rng, lo: f64, hi: f64) -> usize {
    log_uniform(rng, lo, hi) as usize
}

impl Protocol for Dnp3 {
    type Server = Outstation;
    type Conn = Session;
    const PORT: u16 = PORT;
    const OUIS: &'static [[u8; 3]] = &[
        [0x00, 0x30, 0xa7], // Schweitzer Engineering
        [0x00, 0x90, 0x4f], // ABB Power T&D
        [0x08, 0x00, 0x19], // General Electric
        [0x00, 0x90, 0xe8], // Moxa
    ];

    fn server(&mut self, index: usize, rng: &mut Rng) -> Outstation {
        let bi = points(rng, 8.0, 256.0);
        let bo = points(rng, 4.0, 32.0);
        let counters = if rng.chance(600) {
            points(rng, 2.0, 32.0)
        } else {
            0
        };
        let ai = points(rng, 8.0, 400.0);
        let ao = if rng.chance(500) {
            points(rng, 1.0, 16.0)
        } else {
            0
        };
        Outstation {
            address: 10 + index as u16,
            bi: (0..bi)
                .map(|_| ONLINE | if rng.chance(300) { STATE } else { 0 })
                .collect(),
            bo: (0..bo)
                .map(|_| ONLINE | if rng.chance(300) { STATE } else { 0 })
                .collect(),
            counters: (0..counters).map(|_| rng.below(100_000) as u32).collect(),
            ai: (0..ai)
                .map(|_| rng.range_i64(-2000, 30_000) as i32)
                .collect(),
            ao: (0..ao).map(|_| rng.range_i64(0, 4000) as i32).collect(),
            latency: log_ns(rng, 3 * MS, 40 * MS),
            analog_event_var: if rng.chance(500) { 3 } else { 1 },
            restart: true,
            need_time: rng.chance(700),
        }
    }

    fn conn(&mut self, index: usize, _srv: &Outstation, rng: &mut Rng) -> Session {
        Session {
            // SCADA servers 1 and 2, historians 3.
            master: 1 + (index % 3) as u16,
            seq: 0,
            uns_seq: 0,
            tseq: [0; 2],
            unsolicited: rng.chance(400),
            uns_enabled: false,
            class_ns: log_ns(rng, SEC, 10 * SEC),
            next_class: 0,
            integrity_ns: log_ns(rng, 60 * SEC, 900 * SEC),
            next_integrity: 0,
            control_ns: if rng.chance(300) {
                log_ns(rng, 30 * SEC, 600 * SEC)
            } else {
                0
            },
            next_control: 0,
            keepalive_ns: rng.range_i64(30 * SEC, 60 * SEC),
            event_mean: log_uniform(rng, 0.5, 30.0) * SEC as f64,
            next_event: 0,
            hold_ns: log_ns(rng, 100 * MS, 2 * SEC),
            events: VecDeque::new(),
            think_ns: log_ns(rng, 200 * US, 3 * MS),
        }
    }

    fn open(&mut self, x: &mut Ctx<'_, Outstation, Session>, t: i64) {
        let c = &mut *x.conn;
        c.seq = x.rng.below(16) as u8;
        c.uns_seq = x.rng.below(16) as u8;
        c.tseq = [x.rng.below(64) as u8, x.rng.below(64) as u8];
        c.uns_enabled = false;
        c.events.clear();
        c.next_event = t + exp_ns(x.rng, c.event_mean);
        // The outstation's null unsolicited response.
        let t0 = t + x.rng.range_i64(2 * MS, 30 * MS);
        let mut t = self.unsolicited(x, t0);
        let gap = |rng: &mut Rng| rng.range_i64(MS, 20 * MS);
        if x.srv.restart {
            // Clear IIN1.7 (device restart): g80v1, index 7, value 0.
            let t0 = t + gap(x.rng);
            x.srv.restart = false;
            t = self.simple(x, t0, FC_WRITE, &[80, 1, 0x00, 7, 7, 0x00], "write");
        }
        if x.srv.need_time {
            // LAN time synchronisation: record current time, then write the
            // time of that recording (g50v3).
            let t0 = t + gap(x.rng);
            t = self.simple(x, t0, FC_RECORD_CURRENT_TIME, &[], "record_current_time");
            let mut objs = vec![50, 3, 0x07, 1];
            push_time(&mut objs, t0);
            x.srv.need_time = false;
            let t1 = t + gap(x.rng);
            t = self.simple(x, t1, FC_WRITE, &objs, "write");
        }
        let t0 = t + gap(x.rng);
        t = self.simple(
            x,
            t0,
            FC_DISABLE_UNSOLICITED,
            &CLASS_123,
            "disable_unsolicited",
        );
        let t0 = t + gap(x.rng);
        advance_events(x, t0);
        t = self.poll(x, t0, true);
        if x.conn.unsolicited {
            let t0 = t + gap(x.rng);
            t = self.simple(
                x,
                t0,
                FC_ENABLE_UNSOLICITED,
                &CLASS_123,
                "enable_unsolicited",
            );
            x.conn.uns_enabled = true;
        }
        let c = &mut *x.conn;
        c.next_integrity = t + c.integrity_ns;
        c.next_class = t + x.rng.range_i64(0, c.class_ns);
        c.next_control = t + x.rng.range_i64(c.control_ns / 4, c.control_ns.max(1));
    }

    fn next(&mut self, x: &mut Ctx<'_, Outstation, Session>, t: i64) {
        #[derive(Clone, Copy)]
        enum What {
            Integrity,
            Class,
            Unsolicited,
            Control,
            LinkStatus,
        }
        let c = &*x.conn;
        let mut what = (c.next_integrity, What::Integrity);
        if !c.unsolicited && c.next_class < what.0 {
            what = (c.next_class, What::Class);
        }
        if c.control_ns > 0 && c.next_control < what.0 {
            what = (c.next_control, What::Control);
        }
        if c.uns_enabled {
            let first = c.events.front().map_or(c.next_event, Ev::t);
            let at = first + c.hold_ns;
            if at < what.0 {
                what = (at, What::Unsolicited);
            }
        }
        if what.0 > t + c.keepalive_ns {
            what = (t + c.keepalive_ns, What::LinkStatus);
        }
        let at = what.0.max(t + 50 * US);
        advance_events(x, at);
        match what.1 {
            What::Integrity => {
                self.poll(x, at, true);
                x.conn.next_integrity = at + x.conn.integrity_ns;
            }
            What::Class => {
                self.poll(x, at, false);
                let jitter = 0.98 + 0.04 * x.rng.unit();
                x.conn.next_class = at + (x.conn.class_ns as f64 * jitter) as i64;
            }
            What::Unsolicited => {
                self.unsolicited(x, at);
            }
            What::Control => {
                self.control(x, at);
                let mean = x.conn.control_ns as f64;
                x.conn.next_control = at + exp_ns(x.rng, mean);
            }
            What::LinkStatus => {
                self.link_status(x, at);
            }
        }
    }
}
