//! `gen-enip`: HMIs, SCADA servers and historians reading and writing
//! Logix controllers with CIP explicit messaging over EtherNet/IP (TCP
//! port 44818).
//!
//! Each controller has an identity (Rockwell vendor id 1, programmable
//! logic controller, a product name and serial number) and a tag database
//! of 40-400 tags (BOOL, INT, DINT, REAL, and arrays of DINT and REAL).
//! Every connection registers a session (RegisterSession with the handle
//! the controller assigns); one in five first asks for the identity
//! (ListIdentity), three in ten read the Identity object
//! (Get_Attributes_All). Then:
//!
//! - Half the clients open a class 3 connection (Forward_Open to the
//!   Connection Manager, path to the backplane slot 0 Message Router,
//!   500-octet variable-size connection) and poll over it with
//!   SendUnitData: connected Read_Tag or Multiple_Service_Packet of 2-15
//!   Read_Tags, every 0.25-2 s, each with the next CIP sequence count.
//! - The others poll unconnected with SendRRData every 1-10 s: Read_Tag
//!   routed through Unconnected_Send (backplane slot 0), or a
//!   Multiple_Service_Packet to the Message Router.
//! - A quarter of the clients write tags (Write_Tag) every 10-120 s.
//! - One unconnected read in 200 names a tag the controller does not have
//!   (general status 0x04, path segment error).
//!
//! Replies carry the data type and the values from the controller's tag
//! image, which moves like process values. A client that closes its
//! connection closes the CIP connection (Forward_Close) and unregisters
//! the session first.

use super::{answer_ns, exp_ns, log_ns, log_uniform, Ctx, Protocol, MS, SEC, US};
use crate::rng::Rng;

/// TCP port of EtherNet/IP explicit messaging.
pub const PORT: u16 = 44818;
/// Controllers by default (twenty clients each with 2000 connections).
pub const DEFAULT_SERVERS: usize = 100;

const CMD_LIST_IDENTITY: u16 = 0x63;
const CMD_REGISTER_SESSION: u16 = 0x65;
const CMD_UNREGISTER_SESSION: u16 = 0x66;
const CMD_SEND_RR_DATA: u16 = 0x6f;
const CMD_SEND_UNIT_DATA: u16 = 0x70;

const READ_TAG: u8 = 0x4c;
const WRITE_TAG: u8 = 0x4d;
const MULTIPLE_SERVICE_PACKET: u8 = 0x0a;
const GET_ATTRIBUTES_ALL: u8 = 0x01;
const FORWARD_OPEN: u8 = 0x54;
const FORWARD_CLOSE: u8 = 0x4e;
const UNCONNECTED_SEND: u8 = 0x52;

const BOOL: u16 = 0xc1;
const INT: u16 = 0xc3;
const DINT: u16 = 0xc4;
const REAL: u16 = 0xca;

/// Connection Manager, instance 1.
const PATH_CM: [u8; 4] = [0x20, 0x06, 0x24, 0x01];
/// Message Router, instance 1.
const PATH_MR: [u8; 4] = [0x20, 0x02, 0x24, 0x01];
/// Identity, instance 1.
const PATH_IDENTITY: [u8; 4] = [0x20, 0x01, 0x24, 0x01];
/// Backplane port 1, slot 0, then the Message Router.
const CONNECTION_PATH: [u8; 6] = [0x01, 0x00, 0x20, 0x02, 0x24, 0x01];
/// Connection parameters: point-to-point, low priority, variable size, 500 octets.
const CONN_PARAMS: u16 = 0x43f4;
/// CIP data of a connected or unconnected message at most.
const MAX_CIP: usize = 500;

struct Tag {
    /// Symbolic segments of the path (ANSI extended symbols).
    path: Vec<u8>,
    ty: u16,
    elements: u16,
    data: Vec<u8>,
}

fn type_size(ty: u16) -> usize {
    match ty {
        BOOL => 1,
        INT => 2,
        _ => 4,
    }
}

/// A Logix controller.
pub struct Controller {
    ip: [u8; 4],
    product_code: u16,
    revision: (u8, u8),
    serial: u32,
    name: &'static str,
    tags: Vec<Tag>,
    latency: i64,
}

/// A client's connection.
pub struct Client {
    session: u32,
    context: u64,
    connected: bool,
    /// Connection ids (O->T chosen by the controller, T->O by the client).
    o_t: u32,
    t_o: u32,
    serial: u16,
    vendor: u16,
    originator_serial: u32,
    sequence: u16,
    /// Poll groups: tag indexes read together.
    groups: Vec<Vec<usize>>,
    next_group: usize,
    /// Unconnected reads go through Unconnected_Send.
    routed: bool,
    /// Polls over a class 3 connection.
    class3: bool,
    poll_ns: i64,
    next_poll: i64,
    write_ns: i64,
    next_write: i64,
    list_identity: bool,
    identity: bool,
}

/// The EtherNet/IP generator's scratch buffers.
#[derive(Default)]
pub struct Enip {
    cip: Vec<u8>,
    tmp: Vec<u8>,
    out: Vec<u8>,
}

type X<'a, 'b> = &'a mut Ctx<'b, Controller, Client>;

const NAMES: [&str; 10] = [
    "Line", "Tank", "Pump", "Valve", "Motor", "Conv", "Boiler", "Mixer", "Press", "Oven",
];
const SUFFIXES: [&str; 12] = [
    "Speed", "Level", "Temp", "Pressure", "Flow", "Run", "Fault", "Cmd", "SP", "PV", "Count",
    "Status",
];

/// Appends an ANSI extended symbol segment.
fn symbol(p: &mut Vec<u8>, name: &[u8]) {
    p.push(0x91);
    p.push(name.len() as u8);
    p.extend_from_slice(name);
    if name.len() % 2 == 1 {
        p.push(0);
    }
}

/// Appends a Message Router request: service, path size in words, path.
fn request(p: &mut Vec<u8>, service: u8, path: &[u8]) {
    p.push(service);
    p.push((path.len() / 2) as u8);
    p.extend_from_slice(path);
}

/// Appends a Message Router reply header (general status, no additional status).
fn reply(p: &mut Vec<u8>, service: u8, status: u8) {
    p.extend_from_slice(&[service | 0x80, 0, status, 0]);
}

impl Controller {
    fn tag_len(&self, i: usize) -> usize {
        let t = &self.tags[i];
        type_size(t.ty) * usize::from(t.elements)
    }
}

impl Enip {
    /// Writes an encapsulation message of `command` around `data` into `out`.
    fn encap(&mut self, command: u16, session: u32, context: u64, data_from_tmp: bool) {
        let data = if data_from_tmp { &self.tmp } else { &self.cip };
        self.out.clear();
        self.out.extend_from_slice(&command.to_le_bytes());
        self.out
            .extend_from_slice(&(data.len() as u16).to_le_bytes());
        self.out.extend_from_slice(&session.to_le_bytes());
        self.out.extend_from_slice(&0u32.to_le_bytes());
        self.out.extend_from_slice(&context.to_le_bytes());
        self.out.extend_from_slice(&0u32.to_le_bytes());
        self.out.extend_from_slice(data);
    }

    /// SendRRData (unconnected) or SendUnitData (connected, with the
    /// connection id and sequence count) around the CIP message in `cip`.
    fn send_data(&mut self, x: X<'_, '_>, connected: Option<(u32, u16)>, reply: bool) {
        self.tmp.clear();
        self.tmp.extend_from_slice(&0u32.to_le_bytes()); // interface handle
        let timeout: u16 = if reply || connected.is_some() { 0 } else { 10 };
        self.tmp.extend_from_slice(&timeout.to_le_bytes());
        self.tmp.extend_from_slice(&2u16.to_le_bytes());
        let command = match connected {
            Some((id, seq)) => {
                self.tmp.extend_from_slice(&[0xa1, 0x00, 4, 0]);
                self.tmp.extend_from_slice(&id.to_le_bytes());
                self.tmp.extend_from_slice(&[0xb1, 0x00]);
                self.tmp
                    .extend_from_slice(&(2 + self.cip.len() as u16).to_le_bytes());
                self.tmp.extend_from_slice(&seq.to_le_bytes());
                CMD_SEND_UNIT_DATA
            }
            None => {
                self.tmp.extend_from_slice(&[0, 0, 0, 0, 0xb2, 0x00]);
                self.tmp
                    .extend_from_slice(&(self.cip.len() as u16).to_le_bytes());
                CMD_SEND_RR_DATA
            }
        };
        self.tmp.extend_from_slice(&self.cip);
        let (session, context) = (x.conn.session, x.conn.context);
        self.encap(command, session, context, true);
    }

    /// One CIP exchange: the request in `self.cip` (built by the caller),
    /// the reply built by `answer` into `self.cip`.
    fn exchange(
        &mut self,
        x: X<'_, '_>,
        t: i64,
        connected: bool,
        answer: impl FnOnce(&mut Vec<u8>, X<'_, '_>),
    ) -> i64 {
        x.conn.context = x.conn.context.wrapping_add(1);
        let conn = if connected {
            x.conn.sequence = x.conn.sequence.wrapping_add(1);
            Some((x.conn.o_t, x.conn.sequence))
        } else {
            None
        };
        self.send_data(x, conn, false);
        let t = x.wire.client(t, &self.out);
        self.cip.clear();
        answer(&mut self.cip, &mut *x);
        let conn = conn.map(|(_, seq)| (x.conn.t_o, seq));
        self.send_data(x, conn, true);
        let lat = answer_ns(x.rng, x.srv.latency);
        x.wire.server(t + lat, &self.out)
    }

    fn register(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        x.conn.context = x.rng.next_u32() as u64;
        self.cip.clear();
        self.cip.extend_from_slice(&[1, 0, 0, 0]);
        let ctx = x.conn.context;
        self.encap(CMD_REGISTER_SESSION, 0, ctx, false);
        let t = x.wire.client(t, &self.out);
        x.conn.session = x.rng.next_u32().max(1);
        self.encap(CMD_REGISTER_SESSION, x.conn.session, ctx, false);
        x.stats.txn("register_session");
        let lat = answer_ns(x.rng, x.srv.latency / 2);
        x.wire.server(t + lat, &self.out)
    }

    fn list_identity(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        self.cip.clear();
        let ctx = x.rng.next_u32() as u64;
        self.encap(CMD_LIST_IDENTITY, 0, ctx, false);
        let t = x.wire.client(t, &self.out);
        let s = &*x.srv;
        let mut item = Vec::with_capacity(64);
        item.extend_from_slice(&1u16.to_le_bytes());
        item.extend_from_slice(&2u16.to_be_bytes());
        item.extend_from_slice(&PORT.to_be_bytes());
        item.extend_from_slice(&s.ip);
        item.extend_from_slice(&[0; 8]);
        Self::identity_attrs(&mut item, s);
        item.push(3); // state: operational
        self.cip.extend_from_slice(&1u16.to_le_bytes());
        self.cip.extend_from_slice(&0x0cu16.to_le_bytes());
        self.cip
            .extend_from_slice(&(item.len() as u16).to_le_bytes());
        self.cip.extend_from_slice(&item);
        self.encap(CMD_LIST_IDENTITY, 0, ctx, false);
        x.stats.txn("list_identity");
        let lat = answer_ns(x.rng, x.srv.latency / 2);
        x.wire.server(t + lat, &self.out)
    }

    /// Identity attributes 1-7: vendor, device type, product code,
    /// revision, status, serial number, product name.
    fn identity_attrs(p: &mut Vec<u8>, s: &Controller) {
        p.extend_from_slice(&1u16.to_le_bytes()); // Rockwell Automation
        p.extend_from_slice(&0x0eu16.to_le_bytes()); // programmable logic controller
        p.extend_from_slice(&s.product_code.to_le_bytes());
        p.extend_from_slice(&[s.revision.0, s.revision.1]);
        p.extend_from_slice(&0x3060u16.to_le_bytes());
        p.extend_from_slice(&s.serial.to_le_bytes());
        p.push(s.name.len() as u8);
        p.extend_from_slice(s.name.as_bytes());
    }

    fn get_identity(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        self.cip.clear();
        request(&mut self.cip, GET_ATTRIBUTES_ALL, &PATH_IDENTITY);
        x.stats.txn("get_attributes_all");
        self.exchange(x, t, false, |c, x| {
            reply(c, GET_ATTRIBUTES_ALL, 0);
            Self::identity_attrs(c, x.srv);
        })
    }

    fn forward_open(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let c = &mut *x.conn;
        c.t_o = x.rng.next_u32();
        c.serial = x.rng.next_u32() as u16;
        c.sequence = 0;
        let rpi: u32 = 2_000_000;
        self.cip.clear();
        request(&mut self.cip, FORWARD_OPEN, &PATH_CM);
        let p = &mut self.cip;
        p.extend_from_slice(&[0x0a, 0x0e]);
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&c.t_o.to_le_bytes());
        p.extend_from_slice(&c.serial.to_le_bytes());
        p.extend_from_slice(&c.vendor.to_le_bytes());
        p.extend_from_slice(&c.originator_serial.to_le_bytes());
        p.extend_from_slice(&[3, 0, 0, 0]);
        p.extend_from_slice(&rpi.to_le_bytes());
        p.extend_from_slice(&CONN_PARAMS.to_le_bytes());
        p.extend_from_slice(&rpi.to_le_bytes());
        p.extend_from_slice(&CONN_PARAMS.to_le_bytes());
        p.push(0xa3); // server, application object trigger, class 3
        p.push((CONNECTION_PATH.len() / 2) as u8);
        p.extend_from_slice(&CONNECTION_PATH);
        let o_t = x.rng.next_u32();
        x.stats.txn("forward_open");
        let t = self.exchange(x, t, false, |p, x| {
            let c = &mut *x.conn;
            c.o_t = o_t;
            reply(p, FORWARD_OPEN, 0);
            p.extend_from_slice(&c.o_t.to_le_bytes());
            p.extend_from_slice(&c.t_o.to_le_bytes());
            p.extend_from_slice(&c.serial.to_le_bytes());
            p.extend_from_slice(&c.vendor.to_le_bytes());
            p.extend_from_slice(&c.originator_serial.to_le_bytes());
            p.extend_from_slice(&rpi.to_le_bytes());
            p.extend_from_slice(&rpi.to_le_bytes());
            p.extend_from_slice(&[0, 0]);
        });
        x.conn.connected = true;
        t
    }

    fn forward_close(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let c = &*x.conn;
        self.cip.clear();
        request(&mut self.cip, FORWARD_CLOSE, &PATH_CM);
        let p = &mut self.cip;
        p.extend_from_slice(&[0x0a, 0x0e]);
        p.extend_from_slice(&c.serial.to_le_bytes());
        p.extend_from_slice(&c.vendor.to_le_bytes());
        p.extend_from_slice(&c.originator_serial.to_le_bytes());
        p.push((CONNECTION_PATH.len() / 2) as u8);
        p.push(0);
        p.extend_from_slice(&CONNECTION_PATH);
        x.stats.txn("forward_close");
        let t = self.exchange(x, t, false, |p, x| {
            let c = &*x.conn;
            reply(p, FORWARD_CLOSE, 0);
            p.extend_from_slice(&c.serial.to_le_bytes());
            p.extend_from_slice(&c.vendor.to_le_bytes());
            p.extend_from_slice(&c.originator_serial.to_le_bytes());
            p.extend_from_slice(&[0, 0]);
        });
        x.conn.connected = false;
        t
    }

    /// A poll: the next group's tags, as one Read_Tag or a
    /// Multiple_Service_Packet; unconnected single reads are routed through
    /// Unconnected_Send by some clients; one in 200 unconnected single
    /// reads names a tag the controller does not have.
    fn poll(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let g = x.conn.next_group % x.conn.groups.len();
        x.conn.next_group = g + 1;
        let group = std::mem::take(&mut x.conn.groups[g]);
        // Values moved since the last poll.
        for &i in &group {
            let tag = &mut x.srv.tags[i];
            if tag.ty == BOOL {
                if x.rng.chance(50) {
                    tag.data[0] ^= 1;
                }
                continue;
            }
            if !x.rng.chance(300) {
                continue;
            }
            let size = type_size(tag.ty);
            let k = x.rng.below(u64::from(tag.elements)) as usize * size;
            let v = &mut tag.data[k..k + size];
            let step = x.rng.range_i64(-10, 10);
            match tag.ty {
                INT => {
                    let n = i16::from_le_bytes([v[0], v[1]]).wrapping_add(step as i16);
                    v.copy_from_slice(&n.to_le_bytes());
                }
                DINT => {
                    let n = i32::from_le_bytes([v[0], v[1], v[2], v[3]]).wrapping_add(step as i32);
                    v.copy_from_slice(&n.to_le_bytes());
                }
                _ => {
                    let f = f32::from_le_bytes([v[0], v[1], v[2], v[3]]) + step as f32 / 10.0;
                    v.copy_from_slice(&f.to_le_bytes());
                }
            }
        }
        let connected = x.conn.connected;
        let t = if group.len() == 1 {
            let i = group[0];
            let missing = !connected && x.rng.chance(5);
            self.cip.clear();
            self.tmp.clear();
            if missing {
                symbol(&mut self.tmp, b"Old_Tag_Removed");
            } else {
                self.tmp.extend_from_slice(&x.srv.tags[i].path);
            }
            let mut inner = Vec::with_capacity(self.tmp.len() + 4);
            request(&mut inner, READ_TAG, &self.tmp);
            inner.extend_from_slice(&x.srv.tags[i].elements.to_le_bytes());
            if !connected && x.conn.routed {
                request(&mut self.cip, UNCONNECTED_SEND, &PATH_CM);
                self.cip.extend_from_slice(&[0x0a, 0x0e]);
                self.cip
                    .extend_from_slice(&(inner.len() as u16).to_le_bytes());
                self.cip.extend_from_slice(&inner);
                if inner.len() % 2 == 1 {
                    self.cip.push(0);
                }
                // Route: backplane, slot 0.
                self.cip.extend_from_slice(&[1, 0, 0x01, 0x00]);
            } else {
                self.cip.extend_from_slice(&inner);
            }
            if missing {
                x.stats.txn_exception("read_tag");
            } else {
                x.stats.txn("read_tag");
            }
            self.exchange(x, t, connected, |p, x| {
                if missing {
                    // Path segment error, one word of additional status.
                    p.extend_from_slice(&[READ_TAG | 0x80, 0, 0x04, 1, 0, 0]);
                } else {
                    reply(p, READ_TAG, 0);
                    let tag = &x.srv.tags[i];
                    p.extend_from_slice(&tag.ty.to_le_bytes());
                    p.extend_from_slice(&tag.data);
                }
            })
        } else {
            self.cip.clear();
            request(&mut self.cip, MULTIPLE_SERVICE_PACKET, &PATH_MR);
            let n = group.len();
            self.cip.extend_from_slice(&(n as u16).to_le_bytes());
            let table = self.cip.len();
            self.cip.extend(std::iter::repeat_n(0, 2 * n));
            for (k, &i) in group.iter().enumerate() {
                let off = (self.cip.len() - table + 2) as u16;
                self.cip[table + 2 * k..table + 2 * k + 2].copy_from_slice(&off.to_le_bytes());
                let tag = &x.srv.tags[i];
                request(&mut self.cip, READ_TAG, &tag.path);
                self.cip.extend_from_slice(&tag.elements.to_le_bytes());
            }
            x.stats.txn("multiple_service_packet");
            self.exchange(x, t, connected, |p, x| {
                reply(p, MULTIPLE_SERVICE_PACKET, 0);
                p.extend_from_slice(&(n as u16).to_le_bytes());
                let table = p.len();
                p.extend(std::iter::repeat_n(0, 2 * n));
                for (k, &i) in group.iter().enumerate() {
                    let off = (p.len() - table + 2) as u16;
                    p[table + 2 * k..table + 2 * k + 2].copy_from_slice(&off.to_le_bytes());
                    let tag = &x.srv.tags[i];
                    reply(p, READ_TAG, 0);
                    p.extend_from_slice(&tag.ty.to_le_bytes());
                    p.extend_from_slice(&tag.data);
                }
            })
        };
        x.conn.groups[g] = group;
        t
    }

    /// A Write_Tag of one scalar tag.
    fn write(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let s = &mut *x.srv;
        let Some(i) = (0..8)
            .map(|_| x.rng.below(s.tags.len() as u64) as usize)
            .find(|&i| s.tags[i].elements == 1)
        else {
            return self.poll(x, t);
        };
        let tag = &mut s.tags[i];
        let size = type_size(tag.ty);
        let mut v = [0u8; 4];
        match tag.ty {
            BOOL => v[0] = tag.data[0] ^ 1,
            REAL => v = (x.rng.range(0, 10_000) as f32 / 10.0).to_le_bytes(),
            _ => v[..size].copy_from_slice(&(x.rng.range(0, 1000) as u32).to_le_bytes()[..size]),
        }
        tag.data.copy_from_slice(&v[..size]);
        self.cip.clear();
        request(&mut self.cip, WRITE_TAG, &tag.path);
        self.cip.extend_from_slice(&tag.ty.to_le_bytes());
        self.cip.extend_from_slice(&1u16.to_le_bytes());
        self.cip.extend_from_slice(&v[..size]);
        x.stats.txn("write_tag");
        let connected = x.conn.connected;
        self.exchange(x, t, connected, |p, _| reply(p, WRITE_TAG, 0))
    }

    /// Groups of tags read together, each reply within a CIP message.
    fn groups(s: &Controller, rng: &mut Rng) -> Vec<Vec<usize>> {
        let n = rng.range(1, 4) as usize;
        (0..n)
            .map(|_| {
                let want = if rng.chance(300) {
                    1
                } else {
                    rng.range(2, 15) as usize
                };
                let mut g = Vec::new();
                // Multiple_Service_Packet request and reply: header, count,
                // then per entry an offset and the request or reply.
                let (mut req, mut resp) = (8usize, 6usize);
                for _ in 0..want * 2 {
                    if g.len() >= want {
                        break;
                    }
                    let i = rng.below(s.tags.len() as u64) as usize;
                    if g.contains(&i) {
                        continue;
                    }
                    let q = 2 + 4 + s.tags[i].path.len();
                    let r = 2 + 6 + s.tag_len(i);
                    if req + q > MAX_CIP || resp + r > MAX_CIP {
                        break;
                    }
                    req += q;
                    resp += r;
                    g.push(i);
                }
                if g.is_empty() {
                    // The smallest tag alone.
                    let i = (0..s.tags.len()).min_by_key(|&i| s.tag_len(i)).unwrap_or(0);
                    g.push(i);
                }
                g
            })
            .collect()
    }
}

impl Protocol for Enip {
    type Server = Controller;
    type Conn = Client;
    const PORT: u16 = PORT;
    const OUIS: &'static [[u8; 3]] = &[
        [0x00, 0x00, 0xbc], // Rockwell Automation
        [0x00, 0x1d, 0x9c], // Rockwell Automation
    ];

    fn server(&mut self, index: usize, rng: &mut Rng) -> Controller {
        const MODELS: [(&str, u16, (u8, u8)); 4] = [
            ("1756-L71/B LOGIX5571", 0x0037, (20, 11)),
            ("1756-L83E/B", 0x00a6, (32, 11)),
            ("1769-L33ER/A LOGIX5333ER", 0x0069, (30, 14)),
            ("5069-L320ER/A", 0x00bb, (33, 13)),
        ];
        let (name, product_code, revision) = MODELS[rng.below(4) as usize];
        let ntags = log_uniform(rng, 40.0, 400.0) as usize;
        let mut tags = Vec::with_capacity(ntags);
        for k in 0..ntags {
            let base = format!(
                "{}{}_{}",
                NAMES[rng.below(NAMES.len() as u64) as usize],
                1 + k % 20,
                SUFFIXES[rng.below(SUFFIXES.len() as u64) as usize]
            );
            let (ty, elements) = match rng.below(20) {
                0..=4 => (REAL, 1),
                5..=8 => (DINT, 1),
                9..=12 => (BOOL, 1),
                13..=14 => (INT, 1),
                15..=17 => (REAL, rng.range(2, 50) as u16),
                _ => (DINT, rng.range(2, 30) as u16),
            };
            let mut path = Vec::with_capacity(40);
            if rng.chance(300) {
                // A program-scoped tag.
                symbol(&mut path, b"Program:MainProgram");
            }
            symbol(&mut path, base.as_bytes());
            let mut data = Vec::with_capacity(type_size(ty) * usize::from(elements));
            for _ in 0..elements {
                match ty {
                    BOOL => data.push(u8::from(rng.chance(300))),
                    INT => data.extend_from_slice(&(rng.range(0, 1000) as i16).to_le_bytes()),
                    DINT => data.extend_from_slice(&(rng.range(0, 100_000) as i32).to_le_bytes()),
                    _ => data
                        .extend_from_slice(&(rng.range(0, 100_000) as f32 / 100.0).to_le_bytes()),
                }
            }
            tags.push(Tag {
                path,
                ty,
                elements,
                data,
            });
        }
        let ip = super::server_ip(index).octets();
        Controller {
            ip,
            product_code,
            revision,
            serial: rng.next_u32(),
            name,
            tags,
            latency: log_ns(rng, MS, 15 * MS),
        }
    }

    fn conn(&mut self, _index: usize, srv: &Controller, rng: &mut Rng) -> Client {
        let class3 = rng.chance(500);
        Client {
            session: 0,
            context: 0,
            connected: false,
            o_t: 0,
            t_o: 0,
            serial: 0,
            vendor: if rng.chance(500) { 0x0001 } else { 0x0123 },
            originator_serial: rng.next_u32(),
            sequence: 0,
            groups: Self::groups(srv, rng),
            next_group: 0,
            routed: rng.chance(600),
            class3,
            poll_ns: if class3 {
                log_ns(rng, 250 * MS, 2 * SEC)
            } else {
                log_ns(rng, SEC, 10 * SEC)
            },
            next_poll: 0,
            write_ns: if rng.chance(250) {
                log_ns(rng, 10 * SEC, 120 * SEC)
            } else {
                0
            },
            next_write: 0,
            list_identity: rng.chance(200),
            identity: rng.chance(300),
        }
    }

    fn open(&mut self, x: &mut Ctx<'_, Controller, Client>, t: i64) {
        x.conn.connected = false;
        let mut t = t + x.rng.range_i64(200 * US, 2 * MS);
        if x.conn.list_identity {
            t = self.list_identity(x, t);
            t += x.rng.range_i64(MS, 10 * MS);
        }
        t = self.register(x, t);
        if x.conn.identity {
            let t0 = t + x.rng.range_i64(MS, 10 * MS);
            t = self.get_identity(x, t0);
        }
        if x.conn.class3 {
            let t0 = t + x.rng.range_i64(MS, 10 * MS);
            t = self.forward_open(x, t0);
        }
        let c = &mut *x.conn;
        c.next_poll = t + x.rng.range_i64(MS, c.poll_ns);
        c.next_write = t + exp_ns(x.rng, c.write_ns as f64);
    }

    fn next(&mut self, x: &mut Ctx<'_, Controller, Client>, t: i64) {
        let c = &*x.conn;
        if c.write_ns > 0 && c.next_write <= c.next_poll {
            let at = c.next_write.max(t + 100 * US);
            self.write(x, at);
            let m = x.conn.write_ns as f64;
            x.conn.next_write = at + exp_ns(x.rng, m);
            return;
        }
        let at = c.next_poll.max(t + 100 * US);
        self.poll(x, at);
        let jitter = 0.98 + 0.04 * x.rng.unit();
        x.conn.next_poll = at + (x.conn.poll_ns as f64 * jitter) as i64;
    }

    fn close(&mut self, x: &mut Ctx<'_, Controller, Client>, t: i64, by_server: bool) {
        if by_server {
            return;
        }
        let mut t = t + x.rng.range_i64(MS, 20 * MS);
        if x.conn.connected {
            t = self.forward_close(x, t);
            t += x.rng.range_i64(200 * US, 2 * MS);
        }
        self.cip.clear();
        let (s, ctx) = (x.conn.session, x.conn.context.wrapping_add(1));
        self.encap(CMD_UNREGISTER_SESSION, s, ctx, false);
        x.stats.txn("unregister_session");
        x.wire.client(t, &self.out);
    }
}
