//! EtherNet/IP sessions: encapsulation framing over the reassembled TCP
//! stream and over UDP datagrams, request/reply pairing, connection
//! tracking and implicit I/O accounting.
//!
//! Framing reads messages straight from the delivered bytes; only a
//! message split across segments is copied (at most 65535 bytes per
//! direction). A header with non-zero options or an oversized length loses
//! the framing: it is reported and the session searches for the next
//! plausible header (a defined command, status and options 0).
//!
//! Roles: a message carrying CIP is a request or a reply by the CIP
//! response bit (Vol. 1 §2-4); other messages are requests when they travel
//! towards the EtherNet/IP server (the port 44818 side).
//!
//! Pairing (Vol. 2 §2-3.4): a reply answers the oldest pending request of
//! the same command, sender context and session handle (RegisterSession
//! replies carry the new handle, so only the context counts for them), so
//! pipelined requests sharing one context pair in order. Connected
//! SendUnitData messages pair by CIP sequence count, with the connection
//! ids of the Forward_Open when it was seen on the flow; a repeated
//! sequence count on a connection is a retransmission and ends the earlier
//! copy as `no_response`. The pending cap, the transaction timeout and the
//! end of the flow end requests as `no_response` too. NOP and
//! UnRegisterSession are never answered and are logged at once.
//!
//! Connections opened by Forward_Open / Large_Forward_Open and closed by
//! Forward_Close are tracked per flow (at most [`MAX_CONNECTIONS`]).
//! Implicit I/O datagrams (UDP 2222) are counted per connection id and
//! direction (at most [`MAX_IO_CONNECTIONS`]) and reported as one `enip`
//! event per connection when the flow ends.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_events::{Operation, Status};
use plantshield_protocols::enip::{
    self, parse_body, parse_io, parse_request, parse_response, Address, Body, ClassId, Command,
    Flags, ForwardClose, ForwardCloseReply, ForwardOpen, ForwardOpenReply, GeneralStatus, Header,
    HeaderError, IoPacket, ItemType, ServiceCode, ServiceList, Target, UnconnectedSend, HEADER_LEN,
};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, EnipCip, EnipConnection, EnipEvent, EnipIo, Event, IcsSummary};

pub(crate) const DETECTOR: Detector = Detector {
    name: "enip",
    tcp_ports: &[enip::PORT],
    udp_ports: &[enip::PORT, enip::IO_PORT],
    probe: enip::probe,
    new: |request_dir| Box::new(EnipSession::new(request_dir)),
};

/// Open connections remembered per flow; the oldest is forgotten first.
pub(crate) const MAX_CONNECTIONS: usize = 128;
/// Implicit I/O connections counted per flow.
pub(crate) const MAX_IO_CONNECTIONS: usize = 256;
/// Request buffers kept for reuse.
const MAX_FREE_BUFFERS: usize = 8;

/// What pairs a reply with its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Encap {
        command: u16,
        session: u32,
        context: [u8; 8],
    },
    Connected {
        connection_id: u32,
        sequence: u16,
    },
}

/// A request waiting for its reply (the whole encapsulation message).
struct Pending {
    ts: i64,
    key: Key,
    pdu: Vec<u8>,
}

/// A connection opened by Forward_Open.
#[derive(Clone, Copy, Debug)]
struct Conn {
    o_t: u32,
    t_o: u32,
    serial: u16,
    vendor: u16,
    originator_serial: u32,
}

/// One EtherNet/IP flow (TCP, or UDP for ListIdentity and implicit I/O).
pub(crate) struct EnipSession {
    request_dir: usize,
    partial: [Vec<u8>; 2],
    resync: [bool; 2],
    pending: VecDeque<Pending>,
    free: Vec<Vec<u8>>,
    conns: VecDeque<Conn>,
    io: Vec<EnipIo>,
    io_full_reported: bool,
}

impl Session for EnipSession {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.stream(dir, bytes, out);
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        self.partial[dir].clear();
        self.resync[dir] = true;
    }

    fn datagram(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        if let Some(p) = parse_io(bytes) {
            self.io_packet(dir, p, out);
            return;
        }
        match Header::parse(bytes) {
            Ok(h) if bytes.len() >= h.pdu_len() => {
                if bytes.len() > h.pdu_len() {
                    out.anomaly(
                        AnomalyKind::Applayer,
                        "enip",
                        "trailing_bytes",
                        Cow::Owned(format!(
                            "{} bytes after the encapsulation message in a UDP datagram",
                            bytes.len() - h.pdu_len()
                        )),
                    );
                }
                self.message(dir, h, &bytes[..h.pdu_len()], out);
            }
            Ok(h) => out.anomaly(
                AnomalyKind::Applayer,
                "enip",
                "truncated_datagram",
                Cow::Owned(format!(
                    "UDP datagram of {} bytes shorter than its encapsulation length {}",
                    bytes.len(),
                    h.pdu_len()
                )),
            ),
            Err(e) => bad_header(e, true, out),
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(p) = self.pending.pop_front() {
            self.emit(out, Some((p.ts, &p.pdu)), None);
        }
        for io in std::mem::take(&mut self.io) {
            let ev = EnipEvent {
                command: None,
                session_handle: 0,
                sender_context: [0; 8],
                request: None,
                response: None,
                connection: None,
                cip: None,
                io: Some(io),
                latency_ns: None,
                expects_response: false,
                flags: Flags::default(),
                ics: None,
            };
            // A report, not a transaction: it is not counted as one.
            let env = out.envelope(io.last_ts);
            out.emit(&env, &Event::Enip(&ev));
        }
    }
}

impl EnipSession {
    fn new(request_dir: usize) -> Self {
        EnipSession {
            request_dir,
            partial: [Vec::new(), Vec::new()],
            resync: [false; 2],
            pending: VecDeque::new(),
            free: Vec::new(),
            conns: VecDeque::new(),
            io: Vec::new(),
            io_full_reported: false,
        }
    }

    /// Stream bytes in direction `dir`.
    fn stream(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        if self.resync[dir] {
            match resync_point(bytes) {
                Some(i) => {
                    self.resync[dir] = false;
                    bytes = &bytes[i..];
                }
                None => return,
            }
        }
        if !self.partial[dir].is_empty() {
            // Complete the split message: its header, then its data.
            loop {
                let need = self.partial_need(dir);
                if need == 0 {
                    break;
                }
                if bytes.is_empty() {
                    return;
                }
                let take = need.min(bytes.len());
                self.partial[dir].extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
            }
            let pdu = std::mem::take(&mut self.partial[dir]);
            let ok = match Header::parse(&pdu) {
                Ok(h) => {
                    self.message(dir, h, &pdu, out);
                    true
                }
                Err(e) => {
                    bad_header(e, false, out);
                    false
                }
            };
            // Keep the allocation for the next split message.
            self.partial[dir] = pdu;
            self.partial[dir].clear();
            if !ok {
                self.resync[dir] = true;
                return self.stream(dir, bytes, out);
            }
        }
        while !bytes.is_empty() {
            match Header::parse(bytes) {
                Ok(h) if bytes.len() >= h.pdu_len() => {
                    let (pdu, rest) = bytes.split_at(h.pdu_len());
                    self.message(dir, h, pdu, out);
                    bytes = rest;
                }
                Ok(_) | Err(HeaderError::Incomplete) => {
                    self.partial[dir].extend_from_slice(bytes);
                    return;
                }
                Err(e) => {
                    bad_header(e, false, out);
                    match find_header(&bytes[1..]) {
                        Some(i) => bytes = &bytes[1 + i..],
                        None => {
                            self.resync[dir] = true;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Bytes still missing from the split message of `dir`.
    fn partial_need(&self, dir: usize) -> usize {
        let p = &self.partial[dir];
        if p.len() < HEADER_LEN {
            return HEADER_LEN - p.len();
        }
        // A bad header is caught by the caller once 24 bytes are in.
        Header::parse(p).map_or(0, |h| h.pdu_len().saturating_sub(p.len()))
    }

    /// One whole encapsulation message.
    fn message(&mut self, dir: usize, h: Header, pdu: &[u8], out: &mut Out<'_>) {
        let now = out.ts;
        self.expire(now, out);
        let is_request = match cip_message(&h, &pdu[HEADER_LEN..]) {
            Some(c) if !c.msg.is_empty() => !enip::is_response(c.msg),
            _ => dir == self.request_dir,
        };
        if is_request {
            self.request(h, pdu, now, out);
        } else {
            self.response(h, pdu, now, out);
        }
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        while self
            .pending
            .front()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.pending.pop_front() {
                self.emit(out, Some((p.ts, &p.pdu)), None);
                self.recycle(p.pdu);
            }
        }
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        if self.free.len() < MAX_FREE_BUFFERS {
            self.free.push(buf);
        }
    }

    fn request(&mut self, h: Header, pdu: &[u8], ts: i64, out: &mut Out<'_>) {
        if !h.command.expects_reply() {
            self.emit(out, Some((ts, pdu)), None);
            return;
        }
        let key = key_of(&h, pdu);
        // A connected request repeating a pending sequence count is a
        // retransmission (Vol. 1 chapter 3, transport class 3: the count
        // identifies duplicates): the earlier copy is ended.
        // Unconnected requests may share a context (often all zeros) and
        // be pipelined: they queue, and replies pair in order.
        let repeated = matches!(key, Key::Connected { .. })
            .then(|| self.pending.iter().position(|p| p.key == key))
            .flatten();
        if let Some(i) = repeated {
            if let Some(old) = self.pending.remove(i) {
                self.emit(out, Some((old.ts, &old.pdu)), None);
                self.recycle(old.pdu);
            }
        }
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    "enip",
                    "pending_table_full",
                    Cow::Borrowed("too many unanswered EtherNet/IP requests; the oldest was ended"),
                );
                self.emit(out, Some((old.ts, &old.pdu)), None);
                self.recycle(old.pdu);
            }
        }
        let mut buf = self.free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(pdu);
        self.pending.push_back(Pending { ts, key, pdu: buf });
    }

    fn response(&mut self, h: Header, pdu: &[u8], ts: i64, out: &mut Out<'_>) {
        let key = key_of(&h, pdu);
        let pos = self.pending.iter().position(|p| match (p.key, key) {
            (
                Key::Connected {
                    connection_id: q,
                    sequence: s,
                },
                Key::Connected {
                    connection_id: r,
                    sequence,
                },
            ) => s == sequence && self.same_connection(q, r),
            (a, b) => a == b,
        });
        match pos.and_then(|i| self.pending.remove(i)) {
            Some(p) => {
                self.emit(out, Some((p.ts, &p.pdu)), Some((ts, pdu)));
                self.recycle(p.pdu);
            }
            None => self.emit(out, None, Some((ts, pdu))),
        }
    }

    /// Could a reply on connection id `r` answer a request on `q`? Yes
    /// unless a tracked connection says otherwise.
    fn same_connection(&self, q: u32, r: u32) -> bool {
        match self.conns.iter().find(|c| c.o_t == q || c.t_o == r) {
            Some(c) => c.o_t == q && c.t_o == r,
            None => true,
        }
    }

    fn io_packet(&mut self, dir: usize, p: IoPacket<'_>, out: &mut Out<'_>) {
        let ts = out.ts;
        let bytes = p.data.len() as u64;
        if let Some(io) = self
            .io
            .iter_mut()
            .find(|c| c.connection_id == p.connection_id && c.direction == dir)
        {
            io.packets += 1;
            io.bytes += bytes;
            io.last_ts = ts;
            if let (Some(last), Some(seq)) = (io.last_sequence, p.sequence) {
                if seq != last.wrapping_add(1) {
                    io.sequence_gaps += 1;
                }
            }
            if p.sequence.is_some() {
                io.last_sequence = p.sequence;
            }
            return;
        }
        if self.io.len() >= MAX_IO_CONNECTIONS {
            if !self.io_full_reported {
                self.io_full_reported = true;
                out.anomaly(
                    AnomalyKind::Resource,
                    "enip",
                    "io_connection_table_full",
                    Cow::Owned(format!(
                        "more than {MAX_IO_CONNECTIONS} implicit I/O connections on one flow; later ones are not counted"
                    )),
                );
            }
            return;
        }
        self.io.push(EnipIo {
            connection_id: p.connection_id,
            direction: dir,
            packets: 1,
            bytes,
            first_ts: ts,
            last_ts: ts,
            first_sequence: p.sequence,
            last_sequence: p.sequence,
            sequence_gaps: 0,
        });
    }

    /// Builds, reports and counts one transaction, and tracks the
    /// connections it opens or closes.
    fn emit(&mut self, out: &mut Out<'_>, req: Option<(i64, &[u8])>, resp: Option<(i64, &[u8])>) {
        let rq = req.and_then(|(_, p)| side(p, false));
        let rs = resp.and_then(|(_, p)| side(p, true));
        let Some((h0, _)) = rq.or(rs) else {
            return;
        };
        let command = h0.command;
        let mut flags = Flags::default();
        flags.set(Flags::UNKNOWN_COMMAND, !command.is_known());
        if let Some((h, _)) = &rq {
            flags.set(Flags::NONZERO_REQUEST_STATUS, h.status.0 != 0);
        }
        if let (Some((q, _)), Some((r, _))) = (&rq, &rs) {
            flags.set(
                Flags::SESSION_MISMATCH,
                command != Command::REGISTER_SESSION && q.session_handle != r.session_handle,
            );
        }
        let mut malformed = false;
        for (h, b) in rq.iter().chain(rs.iter()) {
            match b {
                Body::Malformed { .. } => malformed = true,
                Body::Send { cpf, .. } => {
                    flags.set(Flags::TRAILING_BYTES, cpf.trailing > 0);
                    let m = cpf.message();
                    let expected = if h.command == Command::SEND_UNIT_DATA {
                        matches!(m.address, Address::Connected { .. })
                    } else {
                        m.address == Address::Null
                    };
                    flags.set(Flags::UNEXPECTED_ADDRESS_ITEM, !expected);
                }
                _ => {}
            }
        }

        // The CIP messages.
        let qmsg = rq.as_ref().and_then(|(h, b)| cip_of_body(h, b));
        let rmsg = rs.as_ref().and_then(|(h, b)| cip_of_body(h, b));
        let mut cip = None;
        if qmsg.is_some() || rmsg.is_some() {
            let mut c = EnipCip {
                request: None,
                unconnected_send: None,
                response: None,
                target: Target::Unknown,
            };
            if let Some(m) = qmsg {
                match unwrap_request(m.msg, &mut flags) {
                    Some((r, us, target)) => {
                        c.request = Some(r);
                        c.unconnected_send = us;
                        c.target = target;
                    }
                    None => malformed = true,
                }
            }
            if let Some(m) = rmsg {
                match parse_response(m.msg) {
                    Some(r) => c.response = Some(r),
                    None => malformed = true,
                }
            }
            check_cip(&c, &mut flags);
            cip = Some(c);
        }

        // Connected messaging.
        let connection = match (qmsg.and_then(|m| m.seq), rmsg.and_then(|m| m.seq)) {
            (None, None) => None,
            (qs, rs_) => {
                let connection_id = qmsg.and_then(|m| m.address.connection_id());
                let response_connection_id = rmsg.and_then(|m| m.address.connection_id());
                let connection_serial = self
                    .conns
                    .iter()
                    .find(|c| Some(c.o_t) == connection_id || Some(c.t_o) == response_connection_id)
                    .map(|c| c.serial);
                Some(EnipConnection {
                    connection_id,
                    response_connection_id,
                    sequence_count: qs.or(rs_).unwrap_or(0),
                    connection_serial,
                })
            }
        };
        if let Some(c) = &cip {
            self.track_connections(c, &mut flags, out);
        }

        let expects_response = command.expects_reply();
        let ics = summary(command, cip.as_ref(), &rs, malformed, expects_response);
        let (ts, latency_ns) = match (req, resp) {
            (Some((t, _)), Some((r, _))) => (t, Some(r - t)),
            (Some((t, _)), None) | (None, Some((t, _))) => (t, None),
            (None, None) => return,
        };
        let ev = EnipEvent {
            command: Some(command),
            session_handle: rs.map_or(h0.session_handle, |(h, _)| h.session_handle),
            sender_context: h0.sender_context,
            request: rq,
            response: rs,
            connection,
            cip,
            io: None,
            latency_ns,
            expects_response,
            flags,
            ics: Some(ics),
        };
        if ics.status == Status::Malformed {
            out.anomaly(
                AnomalyKind::Applayer,
                "enip",
                "malformed_message",
                Cow::Owned(format!(
                    "EtherNet/IP {} ({}) too short for its fields",
                    ics.function,
                    command.name()
                )),
            );
        }
        out.transaction(ts, &Event::Enip(&ev));
    }

    /// Remembers connections a successful Forward_Open opens and forgets
    /// those a successful Forward_Close closes.
    fn track_connections(&mut self, c: &EnipCip<'_>, flags: &mut Flags, out: &mut Out<'_>) {
        let Some(r) = c.response else {
            return;
        };
        let name = r.service.name(match c.request {
            Some(_) => c.target,
            None => Target::Unknown,
        });
        if r.general_status != GeneralStatus::SUCCESS {
            return;
        }
        match name {
            "forward_open" | "large_forward_open" => {
                let Some(rep) = ForwardOpenReply::parse(r.data) else {
                    return;
                };
                if let Some(q) = c.request.and_then(|q| {
                    ForwardOpen::parse(q.data, q.service == ServiceCode::LARGE_FORWARD_OPEN)
                }) {
                    flags.set(
                        Flags::CONNECTION_MISMATCH,
                        (
                            q.connection_serial,
                            q.originator_vendor_id,
                            q.originator_serial,
                        ) != (
                            rep.connection_serial,
                            rep.originator_vendor_id,
                            rep.originator_serial,
                        ),
                    );
                }
                self.conns.retain(|k| {
                    (k.serial, k.vendor, k.originator_serial)
                        != (
                            rep.connection_serial,
                            rep.originator_vendor_id,
                            rep.originator_serial,
                        )
                });
                if self.conns.len() >= MAX_CONNECTIONS {
                    self.conns.pop_front();
                    out.anomaly(
                        AnomalyKind::Resource,
                        "enip",
                        "connection_table_full",
                        Cow::Owned(format!(
                            "more than {MAX_CONNECTIONS} open CIP connections on one flow; the oldest is forgotten"
                        )),
                    );
                }
                self.conns.push_back(Conn {
                    o_t: rep.o_t_connection_id,
                    t_o: rep.t_o_connection_id,
                    serial: rep.connection_serial,
                    vendor: rep.originator_vendor_id,
                    originator_serial: rep.originator_serial,
                });
            }
            "forward_close" => {
                let Some(rep) = ForwardCloseReply::parse(r.data) else {
                    return;
                };
                if let Some(q) = c.request.and_then(|q| ForwardClose::parse(q.data)) {
                    flags.set(
                        Flags::CONNECTION_MISMATCH,
                        (
                            q.connection_serial,
                            q.originator_vendor_id,
                            q.originator_serial,
                        ) != (
                            rep.connection_serial,
                            rep.originator_vendor_id,
                            rep.originator_serial,
                        ),
                    );
                }
                self.conns.retain(|k| {
                    (k.serial, k.vendor, k.originator_serial)
                        != (
                            rep.connection_serial,
                            rep.originator_vendor_id,
                            rep.originator_serial,
                        )
                });
            }
            _ => {}
        }
    }
}

/// The header and data of a whole message.
fn side(pdu: &[u8], reply: bool) -> Option<(Header, Body<'_>)> {
    let h = Header::parse(pdu).ok()?;
    let data = pdu.get(HEADER_LEN..h.pdu_len())?;
    Some((h, parse_body(&h, data, reply)))
}

/// The CIP message of a SendRRData / SendUnitData.
#[derive(Clone, Copy)]
struct CipMsg<'a> {
    address: Address,
    seq: Option<u16>,
    msg: &'a [u8],
}

fn cip_of_body<'a>(h: &Header, b: &Body<'a>) -> Option<CipMsg<'a>> {
    if !matches!(h.command, Command::SEND_RR_DATA | Command::SEND_UNIT_DATA) {
        return None;
    }
    let Body::Send { cpf, .. } = b else {
        return None;
    };
    let m = cpf.message();
    match m.data_type {
        Some(ItemType::CONNECTED_DATA) => {
            let (seq, msg) = m.sequenced_data().unwrap_or((0, &[]));
            Some(CipMsg {
                address: m.address,
                seq: Some(seq),
                msg,
            })
        }
        Some(ItemType::UNCONNECTED_DATA) => Some(CipMsg {
            address: m.address,
            seq: None,
            msg: m.data,
        }),
        _ => None,
    }
}

fn cip_message<'a>(h: &Header, data: &'a [u8]) -> Option<CipMsg<'a>> {
    cip_of_body(h, &parse_body(h, data, false))
}

fn key_of(h: &Header, pdu: &[u8]) -> Key {
    if h.command == Command::SEND_UNIT_DATA {
        if let Some(CipMsg {
            address: Address::Connected { connection_id },
            seq: Some(sequence),
            ..
        }) = pdu.get(HEADER_LEN..).and_then(|d| cip_message(h, d))
        {
            return Key::Connected {
                connection_id,
                sequence,
            };
        }
    }
    Key::Encap {
        command: h.command.0,
        // RegisterSession replies carry the handle the request asked for.
        session: if h.command == Command::REGISTER_SESSION {
            0
        } else {
            h.session_handle
        },
        context: h.sender_context,
    }
}

/// Parses a request, unwrapping an Unconnected_Send to the request it carries.
#[allow(clippy::type_complexity)]
fn unwrap_request<'a>(
    msg: &'a [u8],
    flags: &mut Flags,
) -> Option<(enip::Request<'a>, Option<UnconnectedSend<'a>>, Target)> {
    let r = parse_request(msg)?;
    let info = r.path.info();
    flags.set(Flags::PATH_ERROR, info.error.is_some());
    let target = Target::of(&info);
    if r.service == ServiceCode::UNCONNECTED_SEND
        && target == Target::Class(ClassId::CONNECTION_MANAGER)
    {
        let us = UnconnectedSend::parse(r.data)?;
        flags.set(Flags::PATH_ERROR, us.route_path.info().error.is_some());
        let inner = parse_request(us.message)?;
        let info = inner.path.info();
        flags.set(Flags::PATH_ERROR, info.error.is_some());
        return Some((inner, Some(us), Target::of(&info)));
    }
    Some((r, None, target))
}

/// Findings of the CIP request and reply.
fn check_cip(c: &EnipCip<'_>, flags: &mut Flags) {
    if let Some(q) = &c.request {
        let name = q.service.name(c.target);
        flags.set(Flags::RESERVED_SERVICE, name == "reserved");
        flags.set(Flags::EXECUTE_PCCC, name == "execute_pccc");
        if q.service == ServiceCode::MULTIPLE_SERVICE_PACKET {
            let ok = ServiceList::parse(q.data).is_some_and(|l| l.is_well_formed());
            flags.set(Flags::MALFORMED_SERVICE_LIST, !ok);
            if ok {
                for e in ServiceList::parse(q.data)
                    .iter()
                    .flat_map(|l| l.entries())
                    .flatten()
                {
                    if let Some(r) = parse_request(e) {
                        flags.set(Flags::PATH_ERROR, r.path.info().error.is_some());
                    }
                }
            }
        }
    }
    if let Some(r) = &c.response {
        if let Some(q) = &c.request {
            // An Unconnected_Send that failed on the way is answered by the
            // Connection Manager itself (service 0x52 | 0x80).
            let routing_error =
                c.unconnected_send.is_some() && r.service == ServiceCode::UNCONNECTED_SEND;
            flags.set(
                Flags::RESPONSE_MISMATCH,
                r.service != q.service && !routing_error,
            );
            if q.service == ServiceCode::MULTIPLE_SERVICE_PACKET
                && r.service == q.service
                && matches!(r.general_status.0, 0x00 | 0x1E)
            {
                let ql = ServiceList::parse(q.data);
                let rl = ServiceList::parse(r.data);
                flags.set(
                    Flags::MALFORMED_SERVICE_LIST,
                    !rl.is_some_and(|l| l.is_well_formed()),
                );
                if let (Some(ql), Some(rl)) = (ql, rl) {
                    flags.set(Flags::RESPONSE_MISMATCH, ql.count != rl.count);
                }
            }
        }
    }
}

/// A general status that ends a service well: success, or partial
/// transfer for the fragmented services (more fragments follow).
fn status_ok(service_name: &str, gs: GeneralStatus) -> bool {
    gs == GeneralStatus::SUCCESS
        || (gs == GeneralStatus::PARTIAL_TRANSFER
            && matches!(
                service_name,
                "read_tag_fragmented" | "write_tag_fragmented" | "get_instance_attribute_list"
            ))
}

/// Priority of operations when one message holds several services.
fn rank(o: Operation) -> u8 {
    match o {
        Operation::ProgramDownload => 12,
        Operation::ProgramUpload => 11,
        Operation::Firmware => 10,
        Operation::ModeChange => 9,
        Operation::Write => 8,
        Operation::Configuration => 7,
        Operation::Command => 6,
        Operation::File => 5,
        Operation::Session => 4,
        Operation::Read => 3,
        Operation::Discovery => 2,
        Operation::Diagnostics => 1,
        Operation::Other => 0,
    }
}

/// The operation of a request: its service's, or for a
/// Multiple_Service_Packet the weightiest of its embedded services'.
fn request_operation(q: &enip::Request<'_>, target: Target) -> Operation {
    if q.service != ServiceCode::MULTIPLE_SERVICE_PACKET {
        return q.service.operation(target);
    }
    ServiceList::parse(q.data)
        .iter()
        .flat_map(|l| l.entries())
        .flatten()
        .filter_map(parse_request)
        .map(|e| e.service.operation(Target::of(&e.path.info())))
        .max_by_key(|o| rank(*o))
        .unwrap_or(Operation::Other)
}

/// The operation of a reply whose request was not seen: its service's,
/// or for a Multiple_Service_Packet the weightiest of its embedded replies'.
fn reply_operation(r: &enip::Response<'_>) -> Operation {
    if r.service != ServiceCode::MULTIPLE_SERVICE_PACKET {
        return r.service.operation(Target::Unknown);
    }
    ServiceList::parse(r.data)
        .iter()
        .flat_map(|l| l.entries())
        .flatten()
        .filter_map(parse_response)
        .map(|e| e.service.operation(Target::Unknown))
        .max_by_key(|o| rank(*o))
        .unwrap_or(Operation::Other)
}

fn summary(
    command: Command,
    cip: Option<&EnipCip<'_>>,
    rs: &Option<(Header, Body<'_>)>,
    malformed: bool,
    expects_response: bool,
) -> IcsSummary {
    let encap_status = rs.as_ref().map_or(0, |(h, _)| h.status.0);
    let (function_code, function, operation) = match cip {
        Some(c) => match (&c.request, &c.response) {
            (Some(q), _) => (
                q.service,
                q.service.name(c.target),
                request_operation(q, c.target),
            ),
            (None, Some(r)) => (
                r.service,
                r.service.name(Target::Unknown),
                reply_operation(r),
            ),
            (None, None) => (ServiceCode(0), "unknown", Operation::Other),
        },
        None => (ServiceCode(0), command.name(), command.operation()),
    };
    let function_code = if cip.is_some() {
        u32::from(function_code.0)
    } else {
        u32::from(command.0)
    };
    let general = cip
        .and_then(|c| c.response)
        .map(|r| r.general_status)
        .filter(|g| !status_ok(function, *g));
    let exception_code = match general {
        Some(g) => Some(u32::from(g.0)),
        None if encap_status != 0 => Some(encap_status),
        None => None,
    };
    let status = if malformed {
        Status::Malformed
    } else if exception_code.is_some() {
        Status::Exception
    } else if rs.is_none() && expects_response {
        Status::NoResponse
    } else {
        Status::Ok
    };
    IcsSummary {
        function_code,
        function,
        operation,
        status,
        exception_code,
    }
}

fn bad_header(e: HeaderError, datagram: bool, out: &mut Out<'_>) {
    let msg = match e {
        HeaderError::Options(o) => Cow::Owned(format!(
            "encapsulation options {o:#x} are not 0 (the message is discarded by devices)"
        )),
        HeaderError::Length(l) => Cow::Owned(format!(
            "encapsulation length {l} exceeds {}",
            enip::MAX_DATA_LEN
        )),
        HeaderError::Incomplete if datagram => {
            Cow::Borrowed("UDP datagram is neither an encapsulation message nor implicit I/O")
        }
        HeaderError::Incomplete => Cow::Borrowed("encapsulation header incomplete"),
    };
    out.anomaly(AnomalyKind::Applayer, "enip", "invalid_header", msg);
}

/// Where to pick up after a stream gap: a valid header right at the
/// segment start is taken whatever its command; otherwise the bytes are
/// searched with the stricter [`find_header`].
fn resync_point(b: &[u8]) -> Option<usize> {
    if Header::parse(b).is_ok() {
        return Some(0);
    }
    find_header(b)
}

/// The first offset where a plausible message starts: a valid header with
/// a defined command and status.
fn find_header(b: &[u8]) -> Option<usize> {
    (0..b.len().saturating_sub(HEADER_LEN - 1)).find(|&i| {
        Header::parse(&b[i..]).is_ok_and(|h| h.command.is_known() && h.status.name() != "unknown")
    })
}
