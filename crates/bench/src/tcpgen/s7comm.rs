//! `gen-s7comm`: HMIs, SCADA servers and historians reading and writing
//! Siemens S7 PLCs with S7comm over ISO-on-TCP (TPKT and COTP class 0,
//! TCP port 102).
//!
//! Every connection opens with a COTP connection request to an S7 TSAP
//! (PG, OP or other S7 connection, rack 0 and the CPU's slot) answered by
//! a connection confirm, then an S7 setup communication job whose ack-data
//! grants the PDU size (240 for S7-300 and S7-1200 CPUs, 480 for S7-400,
//! 960 for S7-1500). Some clients then identify the CPU with SZL reads
//! (userdata, CPU functions): module identification (0x0011) and
//! component identification (0x001C), which does not fit a 240-octet PDU
//! and comes in two data units, the second asked for by a follow-up
//! request.
//!
//! Then each client polls its tag groups round robin every 0.1-2 s, one
//! job outstanding: read-var jobs of up to 20 items (data blocks, merkers,
//! inputs and outputs as bits, bytes, words, double words and reals) that
//! fill the negotiated PDU at most, answered by ack-data with one data
//! item per variable from the PLC's memory image, which moves like process
//! values. A quarter of the clients are operator stations that write
//! (write-var, one to three items) every 10-120 s; three in ten check the
//! operating mode (SZL 0x0424) every 10-60 s. One poll in 200 reads a data
//! block the CPU does not have (item return code 0x0A, object does not
//! exist).

use super::{answer_ns, exp_ns, log_ns, Ctx, Protocol, MS, SEC, US};
use crate::rng::Rng;

/// TCP port of ISO-on-TCP.
pub const PORT: u16 = 102;
/// PLCs by default (ten clients each with the default 2000 connections).
pub const DEFAULT_SERVERS: usize = 200;

/// S7 transport sizes of variable specifications.
const TS_BIT: u8 = 0x01;
const TS_BYTE: u8 = 0x02;
const TS_WORD: u8 = 0x04;
const TS_INT: u8 = 0x05;
const TS_DWORD: u8 = 0x06;
const TS_REAL: u8 = 0x08;

/// Memory areas.
const AREA_I: u8 = 0x81;
const AREA_Q: u8 = 0x82;
const AREA_M: u8 = 0x83;
const AREA_DB: u8 = 0x84;

/// A CPU model: order number, module type name, firmware, PDU size.
struct Model {
    order: &'static str,
    name: &'static str,
    firmware: (u8, u8, u8),
    pdu: u16,
    /// Slot of the CPU in rack 0.
    slot: u8,
}

const MODELS: [Model; 5] = [
    Model {
        order: "6ES7 315-2EH14-0AB0",
        name: "CPU 315-2 PN/DP",
        firmware: (3, 2, 8),
        pdu: 240,
        slot: 2,
    },
    Model {
        order: "6ES7 317-2EK14-0AB0",
        name: "CPU 317-2 PN/DP",
        firmware: (3, 2, 17),
        pdu: 240,
        slot: 2,
    },
    Model {
        order: "6ES7 416-3ES07-0AB0",
        name: "CPU 416-3 PN/DP",
        firmware: (7, 0, 1),
        pdu: 480,
        slot: 3,
    },
    Model {
        order: "6ES7 516-3AN01-0AB0",
        name: "CPU 1516-3 PN/DP",
        firmware: (2, 9, 4),
        pdu: 960,
        slot: 1,
    },
    Model {
        order: "6ES7 214-1AG40-0XB0",
        name: "CPU 1214C DC/DC/DC",
        firmware: (4, 5, 2),
        pdu: 240,
        slot: 1,
    },
];

/// A PLC.
pub struct Plc {
    model: &'static Model,
    slot: u8,
    serial: [u8; 16],
    /// Data blocks: number and contents.
    dbs: Vec<(u16, Vec<u8>)>,
    m: Vec<u8>,
    i: Vec<u8>,
    q: Vec<u8>,
    latency: i64,
    /// Userdata sequence numbers of multi-unit answers.
    ud_seq: u8,
}

/// One variable of a tag group.
#[derive(Clone, Copy, Debug)]
struct Item {
    area: u8,
    db: u16,
    /// Index into `Plc::dbs` (data blocks).
    dbi: usize,
    byte: u32,
    bit: u8,
    /// Transport size of the request.
    ts: u8,
    /// Elements.
    count: u16,
}

impl Item {
    /// Octets of the value.
    fn len(&self) -> usize {
        let n = usize::from(self.count);
        match self.ts {
            TS_BIT | TS_BYTE => n,
            TS_WORD | TS_INT => 2 * n,
            _ => 4 * n,
        }
    }

    /// Transport size and length field of the value's data item.
    fn data_ts(&self) -> (u8, u16) {
        let n = self.len() as u16;
        match self.ts {
            TS_BIT => (0x03, 1),
            TS_REAL => (0x07, n),
            TS_INT => (0x05, 8 * n),
            _ => (0x04, 8 * n),
        }
    }

    fn image<'a>(&self, p: &'a mut Plc) -> &'a mut [u8] {
        let b = self.byte as usize;
        let img = match self.area {
            AREA_I => &mut p.i,
            AREA_Q => &mut p.q,
            AREA_M => &mut p.m,
            _ => &mut p.dbs[self.dbi].1,
        };
        &mut img[b..b + self.len()]
    }
}

/// A client's connection.
pub struct Client {
    /// Calling and called TSAP.
    calling: [u8; 2],
    called: [u8; 2],
    src_ref: u16,
    /// PDU size the client proposes.
    want_pdu: u16,
    pdu: u16,
    pdu_ref: u16,
    groups: Vec<Vec<Item>>,
    next_group: usize,
    poll_ns: i64,
    next_poll: i64,
    write_ns: i64,
    next_write: i64,
    status_ns: i64,
    next_status: i64,
    /// Identifies the CPU when connecting (SZL 0x0011, maybe 0x001C).
    identify: u8,
}

/// The S7comm generator's scratch buffers.
#[derive(Default)]
pub struct S7comm {
    pdu: Vec<u8>,
    out: Vec<u8>,
    payload: Vec<u8>,
}

type X<'a, 'b> = &'a mut Ctx<'b, Plc, Client>;

/// Wraps the S7 PDU in `pdu` into a TPKT with a COTP DT (EOT) into `out`.
fn tpkt_dt(out: &mut Vec<u8>, pdu: &[u8]) {
    out.clear();
    out.extend_from_slice(&[3, 0]);
    out.extend_from_slice(&((4 + 3 + pdu.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[0x02, 0xf0, 0x80]);
    out.extend_from_slice(pdu);
}

/// Starts an S7 PDU: protocol id, ROSCTR, redundancy id, reference,
/// parameter and data lengths (patched by `end`), error class and code
/// for ack-data.
fn begin(p: &mut Vec<u8>, rosctr: u8, pdu_ref: u16) {
    p.clear();
    p.extend_from_slice(&[0x32, rosctr, 0, 0]);
    p.extend_from_slice(&pdu_ref.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    if rosctr == 2 || rosctr == 3 {
        p.extend_from_slice(&[0, 0]);
    }
}

/// Sets the parameter and data lengths (`param` octets of parameter, the
/// rest data).
fn end(p: &mut [u8], param: usize) {
    let hdr = if p[1] == 2 || p[1] == 3 { 12 } else { 10 };
    let data = p.len() - hdr - param;
    p[6..8].copy_from_slice(&(param as u16).to_be_bytes());
    p[8..10].copy_from_slice(&(data as u16).to_be_bytes());
}

/// Appends a variable specification (S7ANY).
fn push_spec(p: &mut Vec<u8>, it: &Item) {
    p.extend_from_slice(&[0x12, 0x0a, 0x10, it.ts]);
    p.extend_from_slice(&it.count.to_be_bytes());
    p.extend_from_slice(&it.db.to_be_bytes());
    p.push(it.area);
    let addr = it.byte * 8 + u32::from(it.bit);
    p.extend_from_slice(&addr.to_be_bytes()[1..]);
}

/// Octets of the value part of a data item with `len` value octets
/// (padded to even unless last).
fn item_data_len(len: usize, last: bool) -> usize {
    4 + len + usize::from(len % 2 == 1 && !last)
}

/// Text field of `n` octets, padded with spaces.
fn text(p: &mut Vec<u8>, s: &str, n: usize) {
    let b = s.as_bytes();
    let k = b.len().min(n);
    p.extend_from_slice(&b[..k]);
    p.extend(std::iter::repeat_n(b' ', n - k));
}

/// Text field of `n` octets, padded with NULs.
fn text0(p: &mut Vec<u8>, s: &[u8], n: usize) {
    let k = s.len().min(n);
    p.extend_from_slice(&s[..k]);
    p.extend(std::iter::repeat_n(0, n - k));
}

fn bcd(v: u32) -> u8 {
    (((v / 10 % 10) << 4) | (v % 10)) as u8
}

impl Plc {
    /// A random variable the client's tag list could hold.
    fn random_item(&self, rng: &mut Rng) -> Item {
        let r = rng.below(100);
        let (area, dbi) = match r {
            0..=59 => (AREA_DB, rng.below(self.dbs.len() as u64) as usize),
            60..=79 => (AREA_M, 0),
            80..=89 => (AREA_I, 0),
            _ => (AREA_Q, 0),
        };
        let size = match area {
            AREA_I => self.i.len(),
            AREA_Q => self.q.len(),
            AREA_M => self.m.len(),
            _ => self.dbs[dbi].1.len(),
        };
        let (ts, count) = match rng.below(100) {
            0..=14 => (TS_BIT, 1),
            15..=39 => (TS_BYTE, rng.range(1, 64) as u16),
            40..=59 => (TS_WORD, rng.range(1, 16) as u16),
            60..=69 => (TS_INT, rng.range(1, 16) as u16),
            70..=79 => (TS_DWORD, rng.range(1, 8) as u16),
            _ => (TS_REAL, rng.range(1, 10) as u16),
        };
        let mut it = Item {
            area,
            db: if area == AREA_DB { self.dbs[dbi].0 } else { 0 },
            dbi,
            byte: 0,
            bit: 0,
            ts,
            count,
        };
        let len = it.len().min(size);
        if it.len() > size {
            it.ts = TS_BYTE;
            it.count = len as u16;
        }
        // Word-aligned starts for multi-octet values.
        let mut byte = rng.below((size - it.len() + 1) as u64) as u32;
        if it.ts != TS_BIT && it.ts != TS_BYTE {
            byte &= !1;
        }
        it.byte = byte;
        if ts == TS_BIT && it.ts == TS_BIT {
            it.bit = rng.below(8) as u8;
        }
        it
    }

    /// Process values move: flip a bit or nudge a word somewhere.
    fn drift(&mut self, rng: &mut Rng) {
        let img = match rng.below(4) {
            0 => &mut self.i,
            1 => &mut self.m,
            _ => {
                let k = rng.below(self.dbs.len() as u64) as usize;
                &mut self.dbs[k].1
            }
        };
        let k = rng.below(img.len() as u64) as usize;
        img[k] = img[k].wrapping_add(rng.range(1, 5) as u8);
    }
}

impl S7comm {
    fn client_send(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        tpkt_dt(&mut self.out, &self.pdu);
        x.wire.client(t, &self.out)
    }

    fn plc_send(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        tpkt_dt(&mut self.out, &self.pdu);
        x.wire.server(t, &self.out)
    }

    fn next_ref(x: X<'_, '_>) -> u16 {
        x.conn.pdu_ref = x.conn.pdu_ref.wrapping_add(1).max(1);
        x.conn.pdu_ref
    }

    /// COTP CR / CC, then setup communication.
    fn connect(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let c = &*x.conn;
        let cr = |code: u8, dst: u16, src: u16, out: &mut Vec<u8>| {
            out.clear();
            out.extend_from_slice(&[3, 0, 0, 22, 17, code]);
            out.extend_from_slice(&dst.to_be_bytes());
            out.extend_from_slice(&src.to_be_bytes());
            out.extend_from_slice(&[0x00, 0xc0, 1, 0x0a, 0xc1, 2]);
            out.extend_from_slice(&c.calling);
            out.extend_from_slice(&[0xc2, 2]);
            out.extend_from_slice(&c.called);
        };
        cr(0xe0, 0, c.src_ref, &mut self.out);
        let t = x.wire.client(t, &self.out);
        let plc_ref = (x.rng.next_u32() as u16).max(1);
        cr(0xd0, c.src_ref, plc_ref, &mut self.out);
        let t = x.wire.server(t + answer_ns(x.rng, MS), &self.out);
        x.stats.txn("cotp_connect");
        // Setup communication: one job in parallel each way, PDU size.
        let r = Self::next_ref(x);
        let want = x.conn.want_pdu;
        begin(&mut self.pdu, 1, r);
        self.pdu.extend_from_slice(&[0xf0, 0, 0, 1, 0, 1]);
        self.pdu.extend_from_slice(&want.to_be_bytes());
        end(&mut self.pdu, 8);
        let t0 = t + x.rng.range_i64(200 * US, 2 * MS);
        let t = self.client_send(x, t0);
        let granted = want.min(x.srv.model.pdu);
        x.conn.pdu = granted;
        begin(&mut self.pdu, 3, r);
        self.pdu.extend_from_slice(&[0xf0, 0, 0, 1, 0, 1]);
        self.pdu.extend_from_slice(&granted.to_be_bytes());
        end(&mut self.pdu, 8);
        x.stats.txn("setup_communication");
        let lat = answer_ns(x.rng, x.srv.latency);
        self.plc_send(x, t + lat)
    }

    /// A read-var job of `items` and its ack-data; `missing_db` reads a
    /// data block the CPU does not have (the last item fails).
    fn read(&mut self, x: X<'_, '_>, t: i64, items: &[Item], missing: Option<Item>) -> i64 {
        let r = Self::next_ref(x);
        let n = items.len() + usize::from(missing.is_some());
        begin(&mut self.pdu, 1, r);
        self.pdu.extend_from_slice(&[0x04, n as u8]);
        for it in items.iter().chain(missing.iter()) {
            push_spec(&mut self.pdu, it);
        }
        end(&mut self.pdu, 2 + 12 * n);
        let t = self.client_send(x, t);
        let lat = answer_ns(x.rng, x.srv.latency);
        begin(&mut self.pdu, 3, r);
        self.pdu.extend_from_slice(&[0x04, n as u8]);
        for (k, it) in items.iter().enumerate() {
            let last = k + 1 == n;
            let (ts, len) = it.data_ts();
            self.pdu.extend_from_slice(&[0xff, ts]);
            self.pdu.extend_from_slice(&len.to_be_bytes());
            let v = it.image(x.srv);
            self.pdu.extend_from_slice(v);
            if it.ts == TS_BIT {
                let l = self.pdu.len() - 1;
                self.pdu[l] = (v[0] >> it.bit) & 1;
            }
            if v.len() % 2 == 1 && !last {
                self.pdu.push(0);
            }
        }
        if missing.is_some() {
            // Object does not exist: no value.
            self.pdu.extend_from_slice(&[0x0a, 0x00, 0, 0]);
            x.stats.txn_exception("read_var");
        } else {
            x.stats.txn("read_var");
        }
        end(&mut self.pdu, 2);
        self.plc_send(x, t + lat)
    }

    /// A write-var job of one to three items and its ack-data.
    fn write(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let n = x.rng.range(1, 3) as usize;
        let mut items = [Item {
            area: 0,
            db: 0,
            dbi: 0,
            byte: 0,
            bit: 0,
            ts: 0,
            count: 0,
        }; 3];
        for it in items.iter_mut().take(n) {
            let mut v = x.srv.random_item(x.rng);
            // Operators write single values: a bit, a word, a real.
            v.count = 1;
            if v.ts == TS_BYTE {
                v.ts = TS_WORD;
                v.byte &= !1;
            }
            let size = match v.area {
                AREA_I => x.srv.i.len(),
                AREA_Q => x.srv.q.len(),
                AREA_M => x.srv.m.len(),
                _ => x.srv.dbs[v.dbi].1.len(),
            };
            if v.byte as usize + v.len() > size {
                v.byte = (size - v.len()) as u32 & !1;
            }
            *it = v;
        }
        let items = &items[..n];
        let r = Self::next_ref(x);
        begin(&mut self.pdu, 1, r);
        self.pdu.extend_from_slice(&[0x05, n as u8]);
        for it in items {
            push_spec(&mut self.pdu, it);
        }
        let param = 2 + 12 * n;
        for (k, it) in items.iter().enumerate() {
            let (ts, len) = it.data_ts();
            self.pdu.extend_from_slice(&[0x00, ts]);
            self.pdu.extend_from_slice(&len.to_be_bytes());
            let vlen = it.len();
            let at = self.pdu.len();
            for _ in 0..vlen {
                self.pdu.push(x.rng.next_u32() as u8);
            }
            if it.ts == TS_BIT {
                self.pdu[at] &= 1;
            }
            // The PLC takes the value.
            let value = self.pdu[at..at + vlen].to_vec();
            let img = it.image(x.srv);
            if it.ts == TS_BIT {
                img[0] = (img[0] & !(1 << it.bit)) | (value[0] << it.bit);
            } else {
                img.copy_from_slice(&value);
            }
            if vlen % 2 == 1 && k + 1 < n {
                self.pdu.push(0);
            }
        }
        end(&mut self.pdu, param);
        let t = self.client_send(x, t);
        begin(&mut self.pdu, 3, r);
        self.pdu.extend_from_slice(&[0x05, n as u8]);
        self.pdu.extend(std::iter::repeat_n(0xff, n));
        end(&mut self.pdu, 2);
        x.stats.txn("write_var");
        let lat = answer_ns(x.rng, x.srv.latency);
        self.plc_send(x, t + lat)
    }

    /// An SZL read (userdata, CPU functions, read SZL) of `id`/`index`,
    /// answered in as many data units as the PDU size needs.
    fn read_szl(&mut self, x: X<'_, '_>, t: i64, id: u16, index: u16) -> i64 {
        self.szl_payload(x.srv, id, index, t);
        // Payload octets per data unit: the PDU less the header (10), the
        // response parameter (12) and the data header (4).
        let unit = usize::from(x.conn.pdu) - 26;
        let units = self.payload.len().div_ceil(unit).max(1);
        let seq = if units > 1 {
            x.srv.ud_seq = x.srv.ud_seq.wrapping_add(1).max(1);
            x.srv.ud_seq
        } else {
            0
        };
        let mut t = t;
        for k in 0..units {
            let r = Self::next_ref(x);
            begin(&mut self.pdu, 7, r);
            if k == 0 {
                self.pdu
                    .extend_from_slice(&[0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00]);
                self.pdu.extend_from_slice(&[0xff, 0x09, 0x00, 0x04]);
                self.pdu.extend_from_slice(&id.to_be_bytes());
                self.pdu.extend_from_slice(&index.to_be_bytes());
            } else {
                // Follow-up: asks for the next data unit of sequence `seq`.
                self.pdu.extend_from_slice(&[
                    0x00, 0x01, 0x12, 0x08, 0x12, 0x44, 0x01, seq, 0x00, 0x00, 0x00, 0x00,
                ]);
                self.pdu.extend_from_slice(&[0x0a, 0x00, 0x00, 0x00]);
                x.stats.msg("szl_follow_up");
                t += answer_ns(x.rng, MS);
            }
            let param = if k == 0 { 8 } else { 12 };
            end(&mut self.pdu, param);
            t = self.client_send(x, t);
            let last = k + 1 == units;
            let part = &self.payload[k * unit..((k + 1) * unit).min(self.payload.len())];
            begin(&mut self.pdu, 7, r);
            self.pdu.extend_from_slice(&[
                0x00,
                0x01,
                0x12,
                0x08,
                0x12,
                0x84,
                0x01,
                seq,
                if units > 1 { k as u8 + 1 } else { 0 },
                if last { 0x00 } else { 0x01 },
                0x00,
                0x00,
            ]);
            self.pdu.extend_from_slice(&[0xff, 0x09]);
            self.pdu
                .extend_from_slice(&(part.len() as u16).to_be_bytes());
            self.pdu.extend_from_slice(part);
            end(&mut self.pdu, 12);
            let lat = answer_ns(x.rng, x.srv.latency);
            t = self.plc_send(x, t + lat);
        }
        x.stats.txn("read_szl");
        t
    }

    /// The answer to an SZL read, header included, into `self.payload`.
    fn szl_payload(&mut self, plc: &Plc, id: u16, index: u16, t: i64) {
        let p = &mut self.payload;
        p.clear();
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&index.to_be_bytes());
        let m = plc.model;
        match id {
            0x0011 => {
                p.extend_from_slice(&[0, 28, 0, 3]);
                let (a, b, c) = m.firmware;
                for (idx, order, ausbg, ausbe) in [
                    (1u16, m.order, 0x0000u16, 0x0001u16),
                    (6, m.order, 0x0000, 0x0001),
                    (
                        7,
                        "",
                        u16::from_be_bytes([b'V', a]),
                        u16::from_be_bytes([b, c]),
                    ),
                ] {
                    p.extend_from_slice(&idx.to_be_bytes());
                    text(p, order, 20);
                    p.extend_from_slice(&[0, 0]);
                    p.extend_from_slice(&ausbg.to_be_bytes());
                    p.extend_from_slice(&ausbe.to_be_bytes());
                }
            }
            0x001c => {
                p.extend_from_slice(&[0, 34, 0, 10]);
                let name = format!(
                    "PLC_{}",
                    u16::from_be_bytes([plc.serial[14], plc.serial[15]])
                );
                for idx in [1u16, 2, 3, 4, 5, 7, 8, 9, 10, 11] {
                    p.extend_from_slice(&idx.to_be_bytes());
                    match idx {
                        1 => text0(p, b"S7-Station", 32),
                        2 => text0(p, name.as_bytes(), 32),
                        3 => text0(p, b"", 32),
                        4 => text0(p, b"Original Siemens Equipment", 32),
                        5 => text0(p, &plc.serial, 32),
                        7 => text0(p, m.name.as_bytes(), 32),
                        8 => text0(p, b"MMC 2E4C1B0D", 32),
                        9 => {
                            // Manufacturer 0x002A (Siemens), profile 0xF600, type 0x0001.
                            p.extend_from_slice(&[0x00, 0x2a, 0xf6, 0x00, 0x00, 0x01]);
                            p.extend(std::iter::repeat_n(0, 26));
                        }
                        10 => {
                            text0(p, b"", 26);
                            p.extend_from_slice(&[0; 6]);
                        }
                        _ => text0(p, b"", 32),
                    }
                }
            }
            _ => {
                // 0x0424: operating mode, one 20-octet record: event id,
                // mode (RUN), previous mode and the time of the change.
                p.extend_from_slice(&[0, 20, 0, 1]);
                p.extend_from_slice(&[0x51, 0x00, 0xff, 0x08, 0x43, 0x02, 0x00, 0x00]);
                p.extend_from_slice(&[0, 0, 0, 0]);
                let (y, mo, d, h, mi, s, ms, wd) = super::civil(t - 3600 * SEC);
                p.extend_from_slice(&[
                    bcd(y as u32 % 100),
                    bcd(u32::from(mo)),
                    bcd(u32::from(d)),
                    bcd(u32::from(h)),
                    bcd(u32::from(mi)),
                    bcd(u32::from(s)),
                    bcd(u32::from(ms / 10)),
                    ((ms % 10) as u8) << 4 | (wd % 7 + 1),
                ]);
            }
        }
    }

    /// Builds the client's tag groups, each filling at most one PDU.
    fn groups(plc: &Plc, pdu: u16, rng: &mut Rng) -> Vec<Vec<Item>> {
        let ngroups = rng.range(1, 4) as usize;
        (0..ngroups)
            .map(|_| {
                let want = rng.range(1, 20) as usize;
                let mut items = Vec::new();
                let mut req = 10 + 2;
                let mut resp = 12 + 2;
                // Room for the item a failed read adds.
                let limit = usize::from(pdu) - 12 - 4;
                while items.len() < want {
                    let it = plc.random_item(rng);
                    let r = item_data_len(it.len(), true) + 1;
                    if req + 12 > limit || resp + r > limit {
                        break;
                    }
                    req += 12;
                    resp += r;
                    items.push(it);
                }
                if items.is_empty() {
                    let mut it = plc.random_item(rng);
                    it.ts = TS_WORD;
                    it.count = 1;
                    it.byte &= !1;
                    items.push(it);
                }
                items
            })
            .collect()
    }
}

impl Protocol for S7comm {
    type Server = Plc;
    type Conn = Client;
    const PORT: u16 = PORT;
    const OUIS: &'static [[u8; 3]] = &[
        [0x00, 0x1b, 0x1b], // Siemens AG
        [0x00, 0x0e, 0x8c], // Siemens AG
        [0x00, 0x01, 0xe3], // Siemens AG
        [0x08, 0x00, 0x06], // Siemens AG
    ];

    fn server(&mut self, index: usize, rng: &mut Rng) -> Plc {
        let model = &MODELS[rng.below(MODELS.len() as u64) as usize];
        let ndb = rng.range(3, 20) as usize;
        let mut used = Vec::new();
        let dbs = (0..ndb)
            .map(|_| {
                let mut n = rng.range(1, 400) as u16;
                while used.contains(&n) {
                    n += 1;
                }
                used.push(n);
                let len = rng.range(64, 2048) as usize;
                let mut b = vec![0u8; len];
                for v in b.iter_mut() {
                    if rng.chance(400) {
                        *v = rng.next_u32() as u8;
                    }
                }
                (n, b)
            })
            .collect();
        let mut serial = [0u8; 16];
        let s = format!("S C-{:08X}{:04}", rng.next_u32(), index % 10_000);
        serial.copy_from_slice(&s.as_bytes()[..16]);
        let img = |rng: &mut Rng, lo, hi| -> Vec<u8> {
            (0..rng.range(lo, hi))
                .map(|_| (rng.next_u32() & rng.next_u32()) as u8)
                .collect()
        };
        Plc {
            model,
            slot: model.slot,
            serial,
            dbs,
            m: img(rng, 256, 4096),
            i: img(rng, 64, 512),
            q: img(rng, 64, 512),
            latency: log_ns(rng, 2 * MS, 30 * MS),
            ud_seq: 0,
        }
    }

    fn conn(&mut self, _index: usize, srv: &Plc, rng: &mut Rng) -> Client {
        // PG, OP or other S7 connection to rack 0, the CPU's slot.
        let kind = match rng.below(10) {
            0..=3 => 1,
            4..=7 => 2,
            _ => 3,
        };
        let want_pdu = if rng.chance(500) { 480 } else { 960 };
        let groups = Self::groups(srv, want_pdu.min(srv.model.pdu), rng);
        Client {
            calling: [kind, 0x00],
            called: [kind, srv.slot],
            src_ref: 0,
            want_pdu,
            pdu: 240,
            pdu_ref: 0,
            groups,
            next_group: 0,
            poll_ns: log_ns(rng, 100 * MS, 2 * SEC),
            next_poll: 0,
            write_ns: if rng.chance(250) {
                log_ns(rng, 10 * SEC, 120 * SEC)
            } else {
                0
            },
            next_write: 0,
            status_ns: if rng.chance(300) {
                log_ns(rng, 10 * SEC, 60 * SEC)
            } else {
                0
            },
            next_status: 0,
            identify: match rng.below(10) {
                0..=3 => 0,
                4..=6 => 1,
                _ => 2,
            },
        }
    }

    fn open(&mut self, x: &mut Ctx<'_, Plc, Client>, t: i64) {
        x.conn.src_ref = (x.rng.next_u32() as u16).max(1);
        x.conn.pdu_ref = x.rng.next_u32() as u16;
        let t0 = t + x.rng.range_i64(100 * US, MS);
        let mut t = self.connect(x, t0);
        if x.conn.identify > 0 {
            let t0 = t + x.rng.range_i64(MS, 10 * MS);
            t = self.read_szl(x, t0, 0x0011, 0x0000);
        }
        if x.conn.identify > 1 {
            let t0 = t + x.rng.range_i64(MS, 10 * MS);
            t = self.read_szl(x, t0, 0x001c, 0x0000);
        }
        let c = &mut *x.conn;
        c.next_poll = t + x.rng.range_i64(MS, c.poll_ns);
        c.next_write = t + exp_ns(x.rng, c.write_ns as f64);
        c.next_status = t + x.rng.range_i64(0, c.status_ns.max(1));
    }

    fn next(&mut self, x: &mut Ctx<'_, Plc, Client>, t: i64) {
        let c = &*x.conn;
        let at = c.next_poll.max(t + 100 * US);
        if c.write_ns > 0 && c.next_write <= at {
            let at = c.next_write.max(t + 100 * US);
            self.write(x, at);
            let mean = x.conn.write_ns as f64;
            x.conn.next_write = at + exp_ns(x.rng, mean);
            return;
        }
        if c.status_ns > 0 && c.next_status <= at {
            let at = c.next_status.max(t + 100 * US);
            self.read_szl(x, at, 0x0424, 0x0000);
            x.conn.next_status = at + x.conn.status_ns;
            return;
        }
        x.srv.drift(x.rng);
        let g = x.conn.next_group % x.conn.groups.len();
        x.conn.next_group = g + 1;
        let missing = x.rng.chance(5).then(|| Item {
            area: AREA_DB,
            // A data block number the CPU does not have.
            db: 60_000 + x.rng.below(1000) as u16,
            dbi: 0,
            byte: 0,
            bit: 0,
            ts: TS_WORD,
            count: 1,
        });
        let items = std::mem::take(&mut x.conn.groups[g]);
        // A group that fills the PDU has no room for the failed item.
        let missing = missing.filter(|_| {
            let req = 12 + 12 * (items.len() + 1);
            let resp = 14 + items.iter().map(|i| i.len() + 5).sum::<usize>() + 4;
            req <= usize::from(x.conn.pdu) && resp <= usize::from(x.conn.pdu)
        });
        self.read(x, at, &items, missing);
        x.conn.groups[g] = items;
        let jitter = 0.98 + 0.04 * x.rng.unit();
        x.conn.next_poll = at + (x.conn.poll_ns as f64 * jitter) as i64;
    }
}
