//! BACnet/IP sessions: one BVLL message per UDP datagram, confirmed
//! requests paired with their replies, segmented messages joined.
//!
//! - Confirmed requests (clause 5.4) pair with the SimpleACK, ComplexACK,
//!   Error, Reject or Abort that carries the same invoke id, travels the
//!   other way, and comes from the network address the request went to
//!   (the request's DNET/DADR is the reply's SNET/SADR). A new request
//!   with a pending request's invoke id and peer ends the older one as
//!   `no_response`, as do the pending cap, the transaction timeout and the
//!   end of the flow.
//! - Segmented ComplexACKs and requests (clause 5.2) stay one transaction:
//!   the segments' service data is joined (up to [`MAX_JOINED`] octets)
//!   and the SegmentACKs are counted. The requester acknowledges the last
//!   segment too, so a segmented transaction ends with that SegmentACK (or
//!   at the timeout).
//! - Unconfirmed requests, network layer messages and lone replies are
//!   events of their own. BVLL management requests (Register-Foreign-Device,
//!   Read/Write-BDT, Read-FDT, Delete-FDT-Entry) pair with the next
//!   BVLC-Result or table ack from the other side.
//!
//! Both ends of a BACnet/IP flow usually use port 47808 and both may
//! request: each event is oriented from its requester to the device that
//! serves it. An announcement or notification (I-Am, I-Have, COV and event
//! notifications) is oriented from its receiver to the device that sent it,
//! unless the receiver is a broadcast or multicast address: an event's
//! source is never one.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::IpAddr;

use plantshield_events::{Operation, Status};
use plantshield_protocols::bacnet::{
    self, services, Apdu, Body, BvlcError, ConfirmedService, Flags, Message, NetworkMessageType,
    PduType, UnconfirmedService,
};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, BacnetEvent, Event, IcsSummary};

pub(crate) const DETECTOR: Detector = Detector {
    name: "bacnet",
    tcp_ports: &[],
    udp_ports: &[bacnet::PORT],
    probe: bacnet::probe,
    new: |_request_dir| Box::new(BacnetSession::default()),
};

const LAYER: &str = "bacnet";

/// Octets of service data joined over the segments of one message; the
/// rest is counted and flagged (`segments_incomplete`).
pub(crate) const MAX_JOINED: usize = 8 * 1024;

/// Spare datagram buffers kept for reuse.
const MAX_SPARE: usize = 8;

/// `ics.function_code` bases of the code spaces that are not confirmed
/// services (docs/protocols/bacnet.md).
pub(crate) const UNCONFIRMED_BASE: u32 = 256;
pub(crate) const NETWORK_BASE: u32 = 512;
pub(crate) const BVLL_BASE: u32 = 768;
pub(crate) const PDU_TYPE_BASE: u32 = 1024;

/// A network address as compared for pairing: network number and up to 8
/// octets of MAC address (longer addresses are compared on their first 8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Peer {
    net: Option<u16>,
    len: u8,
    addr: [u8; 8],
}

impl Peer {
    fn of(a: Option<(u16, &[u8])>) -> Self {
        let Some((net, mac)) = a else {
            return Peer::default();
        };
        let mut p = Peer {
            net: Some(net),
            len: mac.len().min(8) as u8,
            addr: [0; 8],
        };
        p.addr[..usize::from(p.len)].copy_from_slice(&mac[..usize::from(p.len)]);
        p
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// More request segments are due.
    RequestSegments,
    /// The request waits for its reply.
    Reply,
    /// More ComplexACK segments are due.
    ReplySegments,
    /// The last ComplexACK segment came; its SegmentACK is due.
    FinalSegmentAck,
}

/// A confirmed request in progress.
struct Pending {
    ts: i64,
    last_ts: i64,
    /// Flow direction of the request.
    dir: usize,
    invoke_id: u8,
    /// Where the request went (its DNET/DADR).
    peer: Peer,
    stage: Stage,
    /// The request datagram (its first segment).
    request: Vec<u8>,
    /// Joined service data of a segmented request.
    request_data: Vec<u8>,
    request_segments: u32,
    /// The first segment of a segmented ComplexACK.
    response: Vec<u8>,
    response_data: Vec<u8>,
    response_segments: u32,
    response_ts: Option<i64>,
    /// The next segment's expected sequence number.
    next_seq: u8,
    /// The BVLC function of the segments.
    bvlc_function: u8,
    segment_acks: u32,
    segment_naks: u32,
    flags: Flags,
}

/// A BVLL management request waiting for its result.
struct PendingBvll {
    ts: i64,
    dir: usize,
    request: Vec<u8>,
}

/// One BACnet/IP flow.
#[derive(Default)]
pub(crate) struct BacnetSession {
    pending: VecDeque<Pending>,
    bvll: VecDeque<PendingBvll>,
    spare: Vec<Vec<u8>>,
    /// The flow's orientation (`Out::reverse`), set by the first event.
    reverse: Option<bool>,
    /// Time of the event being emitted, when not the current packet's.
    event_ts: Option<i64>,
}

impl Session for BacnetSession {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        // BACnet/IP is UDP only; bytes reaching here are treated as one message.
        self.datagram(dir, bytes, out);
    }

    fn gap(&mut self, _dir: usize, _len: u64) {}

    fn datagram(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        let now = out.ts;
        self.expire(now, out);
        let m = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                let msg = match e {
                    BvlcError::Incomplete => Cow::Borrowed(
                        "a datagram on a BACnet/IP flow is shorter than a BVLC header",
                    ),
                    BvlcError::Type(t) => Cow::Owned(format!(
                        "BVLC type 0x{t:02x} is not BACnet/IP (0x81); not parsed"
                    )),
                };
                out.anomaly(AnomalyKind::Applayer, LAYER, "invalid_bvlc", msg);
                return;
            }
        };
        if m.body == Body::Truncated {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "truncated_message",
                Cow::Owned(format!(
                    "BACnet {} ends inside its NPDU or APDU header",
                    m.bvlc.function.name()
                )),
            );
        }
        match m.body {
            Body::Apdu(a) => self.apdu(dir, bytes, &m, a, out),
            Body::Bvll if m.bvlc.function.is_management_request() => {
                self.bvll_request(dir, bytes, out)
            }
            Body::Bvll if m.bvlc.function.is_management_reply() => self.bvll_reply(dir, &m, out),
            _ => {
                // Network layer messages, other BVLL messages and truncated
                // ones: an event each.
                let ev = single(&m, dir, out);
                self.emit(ev, out);
            }
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(p) = self.pending.pop_front() {
            self.end(p, None, out);
        }
        while let Some(p) = self.bvll.pop_front() {
            self.end_bvll(p, None, out);
        }
    }
}

/// True when `ip` is a broadcast or multicast address (IPv4: also an
/// address ending in .255, as directed broadcasts usually do).
fn is_group(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            v.is_broadcast() || v.is_multicast() || v.is_unspecified() || v.octets()[3] == 255
        }
        IpAddr::V6(v) => v.is_multicast(),
    }
}

/// The receiver of a message travelling in `dir`.
fn receiver(out: &Out<'_>, dir: usize) -> IpAddr {
    if dir == plantshield_flow::TO_SERVER {
        out.meta.server.0
    } else {
        out.meta.client.0
    }
}

fn pending_full(out: &mut Out<'_>) {
    out.anomaly(
        AnomalyKind::Resource,
        LAYER,
        "pending_table_full",
        Cow::Borrowed("too many unanswered BACnet requests; the oldest was ended"),
    );
}

/// An event of one message with no counterpart: an unconfirmed request, a
/// network layer message, a BVLL message, a lone reply, a truncated message.
fn single<'a>(m: &Message<'a>, dir: usize, out: &Out<'_>) -> (BacnetEvent<'a>, usize) {
    let broadcast = is_group(receiver(out, dir));
    let mut flags = m.flags;
    let (code, name, op) = function_of(m);
    let mut status = if m.body == Body::Truncated {
        Status::Malformed
    } else {
        Status::Ok
    };
    let mut exception_code = None;
    // Who requested: the sender of a request, the receiver of a reply or
    // of a device's announcement; never a broadcast address. A message is
    // the event's `request` unless it is a reply (or a server's SegmentACK
    // or Abort).
    let (is_request, sender_serves) = match m.body {
        Body::Apdu(a) => match a.pdu_type {
            PduType::UNCONFIRMED_REQUEST => (
                true,
                UnconfirmedService(a.service.unwrap_or(0)).sent_by_device(),
            ),
            PduType::CONFIRMED_REQUEST => (true, false),
            PduType::SEGMENT_ACK | PduType::ABORT => (!a.from_server(), a.from_server()),
            PduType::SIMPLE_ACK | PduType::COMPLEX_ACK | PduType::ERROR | PduType::REJECT => {
                (false, true)
            }
            _ => (true, false),
        },
        Body::Bvll if m.bvlc.function.is_management_reply() => (false, true),
        _ => (true, false),
    };
    let req_dir = if sender_serves && !broadcast {
        1 - dir
    } else {
        dir
    };
    if let Body::Apdu(a) = m.body {
        match a.pdu_type {
            PduType::ERROR => {
                status = Status::Exception;
                exception_code = services::error(a.data).map(|(c, e)| error_code(c, e));
            }
            PduType::REJECT | PduType::ABORT => {
                status = Status::Exception;
                exception_code = a.reason.map(u32::from);
            }
            _ => {}
        }
        flags.0 |= service_flags(&a, m.apdu().map(|a| a.data).unwrap_or(&[]));
    }
    if let (Body::Network(d), Some(t)) = (m.body, m.npdu.and_then(|n| n.message_type)) {
        if t.0 == 3 {
            status = Status::Exception;
            exception_code = d.first().map(|&r| u32::from(r));
        }
    }
    if let Some(r) = m.bvlc.result.filter(|r| r.0 != 0) {
        status = Status::Exception;
        exception_code = Some(u32::from(r.0));
    }
    let (request, response) = if is_request {
        (Some(*m), None)
    } else {
        (None, Some(*m))
    };
    let ev = BacnetEvent {
        request,
        request_data: None,
        response,
        response_data: None,
        request_from_server: is_request && req_dir != dir,
        request_segments: 0,
        response_segments: 0,
        segment_acks: 0,
        segment_naks: 0,
        broadcast,
        request_missing: !is_request,
        response_missing: false,
        latency_ns: None,
        flags,
        ics: IcsSummary {
            function_code: code,
            function: name,
            operation: op,
            status,
            exception_code,
        },
    };
    (ev, req_dir)
}

/// `ics.exception_code` of an Error PDU: class << 16 | code.
fn error_code(class: u64, code: u64) -> u32 {
    ((class.min(0xffff) as u32) << 16) | (code.min(0xffff) as u32)
}

/// Flags for service parameters that do not decode.
fn service_flags(a: &Apdu<'_>, data: &[u8]) -> u32 {
    let bad = match (a.pdu_type, a.service) {
        (PduType::UNCONFIRMED_REQUEST, Some(0)) => services::i_am(data).is_none(),
        (PduType::UNCONFIRMED_REQUEST, Some(1)) => services::i_have(data).is_none(),
        (PduType::UNCONFIRMED_REQUEST, Some(7)) => services::who_has(data).is_none(),
        (PduType::UNCONFIRMED_REQUEST, Some(8)) => services::who_is(data).is_none(),
        (PduType::CONFIRMED_REQUEST, Some(12 | 15)) if !a.segmented() => {
            services::property_ref(data).is_none()
        }
        (PduType::COMPLEX_ACK, Some(12)) if !a.segmented() => {
            services::property_ref(data).is_none()
        }
        _ => false,
    };
    if bad {
        Flags::MALFORMED_SERVICE
    } else {
        0
    }
}

/// The `ics` function of a message seen on its own (or of a request).
fn function_of(m: &Message<'_>) -> (u32, &'static str, Operation) {
    match m.body {
        Body::Apdu(a) => match (a.pdu_type.0, a.service) {
            (1, Some(s)) => {
                let u = UnconfirmedService(s);
                (UNCONFIRMED_BASE + u32::from(s), u.name(), u.operation())
            }
            (0 | 2 | 3 | 5, Some(s)) => {
                let c = ConfirmedService(s);
                (u32::from(s), c.name(), c.operation())
            }
            (t, _) => (
                PDU_TYPE_BASE + u32::from(t),
                PduType(t).name(),
                Operation::Other,
            ),
        },
        Body::Network(_) => {
            let t = m
                .npdu
                .and_then(|n| n.message_type)
                .unwrap_or(NetworkMessageType(0));
            (NETWORK_BASE + u32::from(t.0), t.name(), t.operation())
        }
        Body::Bvll | Body::Truncated => {
            let f = m.bvlc.function;
            (BVLL_BASE + u32::from(f.0), f.name(), f.operation())
        }
    }
}

fn peer_of_request(m: &Message<'_>) -> Peer {
    Peer::of(m.npdu.and_then(|n| n.destination))
}

fn peer_of_reply(m: &Message<'_>) -> Peer {
    Peer::of(m.npdu.and_then(|n| n.source))
}

impl BacnetSession {
    fn buffer(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(&bytes[..bytes.len().min(bacnet::MAX_DATAGRAM)]);
        v
    }

    fn recycle(&mut self, mut v: Vec<u8>) {
        if self.spare.len() < MAX_SPARE && v.capacity() <= 2 * bacnet::MAX_DATAGRAM {
            v.clear();
            self.spare.push(v);
        }
    }

    /// Emits an event oriented from its requester (`req_dir` is the flow
    /// direction the requester sends in), stamped with the request's time
    /// (`event_ts`) or the current packet's.
    fn emit(&mut self, (ev, req_dir): (BacnetEvent<'_>, usize), out: &mut Out<'_>) {
        let reverse = req_dir == plantshield_flow::TO_CLIENT;
        let flow_reverse = *self.reverse.get_or_insert(reverse);
        *out.reverse = reverse;
        let ts = self.event_ts.take().unwrap_or(out.ts);
        out.transaction(ts, &Event::Bacnet(&ev));
        *out.reverse = flow_reverse;
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        while self
            .pending
            .front()
            .is_some_and(|p| now.saturating_sub(p.last_ts) > timeout)
        {
            if let Some(p) = self.pending.pop_front() {
                self.end(p, None, out);
            }
        }
        while self
            .bvll
            .front()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.bvll.pop_front() {
                self.end_bvll(p, None, out);
            }
        }
    }

    fn apdu(&mut self, dir: usize, bytes: &[u8], m: &Message<'_>, a: Apdu<'_>, out: &mut Out<'_>) {
        let invoke = a.invoke_id.unwrap_or(0);
        match a.pdu_type {
            PduType::CONFIRMED_REQUEST => {
                if a.segmented() && a.sequence_number != Some(0) {
                    // A later segment of a segmented request.
                    let peer = peer_of_request(m);
                    if let Some(i) = self.find(dir, invoke, peer, &[Stage::RequestSegments]) {
                        let p = &mut self.pending[i];
                        p.last_ts = out.ts;
                        p.request_segments += 1;
                        join(p, &a, m, true);
                        if !a.more_follows() {
                            p.stage = Stage::Reply;
                        }
                        return;
                    }
                }
                self.request(dir, bytes, m, a, out);
            }
            PduType::COMPLEX_ACK if a.segmented() && a.sequence_number != Some(0) => {
                let peer = peer_of_reply(m);
                match self.find(1 - dir, invoke, peer, &[Stage::ReplySegments]) {
                    Some(i) => {
                        let p = &mut self.pending[i];
                        p.last_ts = out.ts;
                        p.response_segments += 1;
                        join(p, &a, m, false);
                        if !a.more_follows() {
                            p.stage = Stage::FinalSegmentAck;
                        }
                    }
                    None => {
                        let ev = single(m, dir, out);
                        self.emit(ev, out);
                    }
                }
            }
            PduType::SEGMENT_ACK => {
                // A client's SegmentACK travels the request's way; a server's the other.
                let (req_dir, peer) = if a.from_server() {
                    (1 - dir, peer_of_reply(m))
                } else {
                    (dir, peer_of_request(m))
                };
                let stages: &[Stage] = if a.from_server() {
                    &[Stage::RequestSegments, Stage::Reply]
                } else {
                    &[Stage::ReplySegments, Stage::FinalSegmentAck]
                };
                match self.find(req_dir, invoke, peer, stages) {
                    Some(i) => {
                        let p = &mut self.pending[i];
                        p.last_ts = out.ts;
                        if m.bvlc.function.0 != p.bvlc_function {
                            p.flags.0 |= Flags::BVLC_FUNCTION_CHANGED;
                        }
                        if a.negative() {
                            p.segment_naks += 1;
                        } else {
                            p.segment_acks += 1;
                        }
                        let last = p.next_seq.wrapping_sub(1);
                        if p.stage == Stage::FinalSegmentAck
                            && !a.negative()
                            && a.sequence_number == Some(last)
                        {
                            if let Some(p) = self.pending.remove(i) {
                                self.end(p, None, out);
                            }
                        }
                    }
                    None => {
                        let ev = single(m, dir, out);
                        self.emit(ev, out);
                    }
                }
            }
            PduType::ABORT => {
                let (req_dir, peer) = if a.from_server() {
                    (1 - dir, peer_of_reply(m))
                } else {
                    (dir, peer_of_request(m))
                };
                match self.find(req_dir, invoke, peer, &[]) {
                    Some(i) => {
                        if let Some(p) = self.pending.remove(i) {
                            self.end(p, Some(m), out);
                        }
                    }
                    None => {
                        let ev = single(m, dir, out);
                        self.emit(ev, out);
                    }
                }
            }
            PduType::SIMPLE_ACK | PduType::COMPLEX_ACK | PduType::ERROR | PduType::REJECT => {
                let peer = peer_of_reply(m);
                match self.find(1 - dir, invoke, peer, &[Stage::Reply]) {
                    Some(i) => {
                        if a.pdu_type == PduType::COMPLEX_ACK && a.segmented() {
                            // The first segment of a segmented ComplexACK.
                            let first = self.buffer(bytes);
                            let p = &mut self.pending[i];
                            p.response = first;
                            p.response_ts = Some(out.ts);
                            p.last_ts = out.ts;
                            p.response_segments = 1;
                            p.next_seq = 0;
                            p.bvlc_function = m.bvlc.function.0;
                            join(p, &a, m, false);
                            p.stage = if a.more_follows() {
                                Stage::ReplySegments
                            } else {
                                Stage::FinalSegmentAck
                            };
                            return;
                        }
                        if let Some(p) = self.pending.remove(i) {
                            self.end(p, Some(m), out);
                        }
                    }
                    None => {
                        let ev = single(m, dir, out);
                        self.emit(ev, out);
                    }
                }
            }
            _ => {
                let ev = single(m, dir, out);
                self.emit(ev, out);
            }
        }
    }

    /// The pending request sent in `dir` with this invoke id and peer, in
    /// one of `stages` (any stage when empty).
    fn find(&self, dir: usize, invoke: u8, peer: Peer, stages: &[Stage]) -> Option<usize> {
        self.pending.iter().position(|p| {
            p.dir == dir
                && p.invoke_id == invoke
                && p.peer == peer
                && (stages.is_empty() || stages.contains(&p.stage))
        })
    }

    fn request(
        &mut self,
        dir: usize,
        bytes: &[u8],
        m: &Message<'_>,
        a: Apdu<'_>,
        out: &mut Out<'_>,
    ) {
        let invoke = a.invoke_id.unwrap_or(0);
        let peer = peer_of_request(m);
        if let Some(i) = self.find(dir, invoke, peer, &[]) {
            if let Some(old) = self.pending.remove(i) {
                self.end(old, None, out);
            }
        }
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                pending_full(out);
                self.end(old, None, out);
            }
        }
        let request = self.buffer(bytes);
        let mut p = Pending {
            ts: out.ts,
            last_ts: out.ts,
            dir,
            invoke_id: invoke,
            peer,
            stage: if a.segmented() && a.more_follows() {
                Stage::RequestSegments
            } else {
                Stage::Reply
            },
            request,
            request_data: Vec::new(),
            request_segments: 0,
            response: Vec::new(),
            response_data: Vec::new(),
            response_segments: 0,
            response_ts: None,
            next_seq: 0,
            bvlc_function: m.bvlc.function.0,
            segment_acks: 0,
            segment_naks: 0,
            flags: Flags::default(),
        };
        if is_group(receiver(out, dir)) {
            p.flags.0 |= Flags::CONFIRMED_BROADCAST;
        }
        if a.segmented() {
            p.request_segments = 1;
            join(&mut p, &a, m, true);
        }
        self.pending.push_back(p);
    }

    /// Ends a confirmed transaction with `reply` (None: whatever was
    /// gathered, or no response).
    fn end(&mut self, mut p: Pending, reply: Option<&Message<'_>>, out: &mut Out<'_>) {
        let dir = p.dir;
        let request = Message::parse(&p.request).ok();
        let stored_reply = if p.response.is_empty() {
            None
        } else {
            Message::parse(&p.response).ok()
        };
        let response = reply.copied().or(stored_reply);
        if p.stage == Stage::ReplySegments || p.stage == Stage::RequestSegments {
            p.flags.0 |= Flags::SEGMENTATION_UNFINISHED;
        }
        let mut flags = p.flags;
        if let Some(r) = &request {
            flags.0 |= r.flags.0;
            if let Some(a) = r.apdu() {
                if p.request_segments == 0 {
                    flags.0 |= service_flags(a, a.data);
                }
            }
        }
        if let Some(r) = &response {
            flags.0 |= r.flags.0;
            if let Some(a) = r.apdu() {
                if p.response_segments == 0 {
                    flags.0 |= service_flags(a, a.data);
                }
            }
        }
        let req_apdu = request.as_ref().and_then(|r| r.apdu().copied());
        let resp_apdu = response.as_ref().and_then(|r| r.apdu().copied());
        let service = req_apdu.and_then(|a| a.service).unwrap_or(0);
        if let (Some(q), Some(r)) = (req_apdu, resp_apdu) {
            if r.service.is_some_and(|s| Some(s) != q.service) {
                flags.0 |= Flags::SERVICE_MISMATCH;
            }
        }
        let (status, exception_code) = match resp_apdu {
            _ if request.is_none() => (Status::Malformed, None),
            None => (Status::NoResponse, None),
            Some(r) => match r.pdu_type {
                PduType::ERROR => (
                    Status::Exception,
                    services::error(r.data).map(|(c, e)| error_code(c, e)),
                ),
                PduType::REJECT | PduType::ABORT => (Status::Exception, r.reason.map(u32::from)),
                _ => (Status::Ok, None),
            },
        };
        let c = ConfirmedService(service);
        let response_ts = p.response_ts.unwrap_or(out.ts);
        let ev = BacnetEvent {
            request,
            request_data: (p.request_segments > 0).then_some(p.request_data.as_slice()),
            response,
            response_data: (p.response_segments > 0).then_some(p.response_data.as_slice()),
            request_from_server: false,
            request_segments: p.request_segments,
            response_segments: p.response_segments,
            segment_acks: p.segment_acks,
            segment_naks: p.segment_naks,
            broadcast: flags.has(Flags::CONFIRMED_BROADCAST),
            request_missing: false,
            response_missing: response.is_none(),
            latency_ns: response.is_some().then(|| response_ts - p.ts),
            flags,
            ics: IcsSummary {
                function_code: u32::from(service),
                function: c.name(),
                operation: c.operation(),
                status,
                exception_code,
            },
        };
        self.event_ts = Some(p.ts);
        self.emit((ev, dir), out);
        let Pending {
            request, response, ..
        } = p;
        self.recycle(request);
        self.recycle(response);
    }

    fn bvll_request(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        if self.bvll.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.bvll.pop_front() {
                pending_full(out);
                self.end_bvll(old, None, out);
            }
        }
        let request = self.buffer(bytes);
        self.bvll.push_back(PendingBvll {
            ts: out.ts,
            dir,
            request,
        });
    }

    fn bvll_reply(&mut self, dir: usize, m: &Message<'_>, out: &mut Out<'_>) {
        // A table ack answers its read; a result answers any request.
        let answers = |p: &PendingBvll| {
            p.dir != dir
                && match m.bvlc.function.0 {
                    0x03 => p.request.get(1) == Some(&0x02),
                    0x07 => p.request.get(1) == Some(&0x06),
                    _ => true,
                }
        };
        match self.bvll.iter().position(answers) {
            Some(i) => {
                if let Some(p) = self.bvll.remove(i) {
                    self.end_bvll(p, Some(m), out);
                }
            }
            None => {
                let ev = single(m, dir, out);
                self.emit(ev, out);
            }
        }
    }

    fn end_bvll(&mut self, p: PendingBvll, reply: Option<&Message<'_>>, out: &mut Out<'_>) {
        let Ok(request) = Message::parse(&p.request) else {
            return;
        };
        let f = request.bvlc.function;
        let mut flags = request.flags;
        let mut status = if reply.is_some() {
            Status::Ok
        } else {
            Status::NoResponse
        };
        let mut exception_code = None;
        if let Some(r) = reply {
            flags.0 |= r.flags.0;
            if let Some(code) = r.bvlc.result.filter(|c| c.0 != 0) {
                status = Status::Exception;
                exception_code = Some(u32::from(code.0));
            }
        }
        let ev = BacnetEvent {
            request: Some(request),
            request_data: None,
            response: reply.copied(),
            response_data: None,
            request_from_server: false,
            request_segments: 0,
            response_segments: 0,
            segment_acks: 0,
            segment_naks: 0,
            broadcast: false,
            request_missing: false,
            response_missing: reply.is_none(),
            latency_ns: reply.map(|_| out.ts - p.ts),
            flags,
            ics: IcsSummary {
                function_code: BVLL_BASE + u32::from(f.0),
                function: f.name(),
                operation: f.operation(),
                status,
                exception_code,
            },
        };
        self.event_ts = Some(p.ts);
        self.emit((ev, p.dir), out);
        self.recycle(p.request);
    }
}

/// Adds one segment's service data to a transaction.
fn join(p: &mut Pending, a: &Apdu<'_>, m: &Message<'_>, request: bool) {
    if m.bvlc.function.0 != p.bvlc_function {
        p.flags.0 |= Flags::BVLC_FUNCTION_CHANGED;
    }
    let expected = p.next_seq;
    let seq = a.sequence_number.unwrap_or(0);
    if seq != expected {
        p.flags.0 |= Flags::SEGMENTS_INCOMPLETE;
    }
    p.next_seq = seq.wrapping_add(1);
    let buf = if request {
        &mut p.request_data
    } else {
        &mut p.response_data
    };
    let room = MAX_JOINED.saturating_sub(buf.len());
    if a.data.len() > room {
        p.flags.0 |= Flags::SEGMENTS_INCOMPLETE;
    }
    buf.extend_from_slice(&a.data[..a.data.len().min(room)]);
}
