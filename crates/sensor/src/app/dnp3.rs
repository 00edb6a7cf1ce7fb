//! DNP3 sessions: link frames over TCP streams and UDP datagrams, transport
//! reassembly, and the pairing of application messages into transactions.
//!
//! Layers, bottom up (IEEE 1815-2012):
//!
//! - Link (§9): frames are cut from the stream by their header (start
//!   octets, length, header CRC). Only a frame split across TCP segments is
//!   copied (at most 292 octets per direction). A header that does not hold
//!   loses the framing: the session reports it and searches for the next
//!   valid header. A user data block with a bad CRC drops the frame, as a
//!   receiving station would.
//! - Transport (§8): segments are joined into application fragments per
//!   direction and per (source, destination) address pair, at most
//!   [`MAX_REASSEMBLIES`] at a time and [`MAX_FRAGMENT_LEN`] octets each.
//!   A missing or repeated-out-of-order segment discards the partial
//!   fragment (an anomaly), as the standard's receiver does.
//! - Application (§4): one event per transaction. A request pairs with the
//!   response whose sequence number equals its own, however many fragments
//!   the response has; the master's confirms of those fragments belong to
//!   the same transaction. An unsolicited response is a transaction of its
//!   own, closed by the master's confirm (UNS set, same sequence). Secure
//!   authentication challenges (function 131 to a non-authentication
//!   request) and the master's reply (function 32) stay inside the
//!   challenged request's transaction.
//! - Link services (reset link states, test link states, request link
//!   status and their secondary answers) are link-layer transactions: an
//!   event each, because a sweep of link status requests is how DNP3
//!   devices are discovered.
//!
//! Roles come from the function codes (responses are 129..=131), not from
//! ports: both ends often use port 20000. The first message sets which end
//! of the flow is the master, and events go master to outstation.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_events::{Operation, Status};
use plantshield_flow::TO_CLIENT;
use plantshield_protocols::dnp3::{
    self, link, Confirms, Flags, Fragment, Frame, FunctionCode, LinkError, LinkFunction,
    LinkHeader, Message, TransportHeader, MAX_FRAGMENT_LEN,
};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, Dnp3Event, Event, IcsSummary};

pub(crate) const DETECTOR: Detector = Detector {
    name: "dnp3",
    tcp_ports: &[dnp3::PORT],
    udp_ports: &[dnp3::PORT],
    probe: dnp3::probe,
    new: |_request_dir| Box::new(Dnp3Session::default()),
};

/// Application fragments being reassembled per direction; one more evicts
/// the oldest (`reassembly_table_full`).
pub(crate) const MAX_REASSEMBLIES: usize = 16;

/// `ics.function_code` of a link-service transaction: 256 plus the primary
/// frame's function code (272 plus the secondary code for an answer whose
/// request was not seen), so that link codes never mix with application
/// codes in statistics.
const LINK_CODE_BASE: u32 = 256;
const LINK_SECONDARY_CODE_BASE: u32 = 272;

const LAYER: &str = "dnp3";

/// A fragment being reassembled from transport segments.
struct Reassembly {
    src: u16,
    dst: u16,
    /// Sequence number of the last segment taken.
    last_seq: u8,
    /// Header of the frame of the first segment.
    first: LinkHeader,
    frames: u32,
    buf: Vec<u8>,
}

#[derive(Default)]
struct DirState {
    /// A frame split across TCP segments.
    partial: Vec<u8>,
    /// Framing lost: search for the next valid header.
    resync: bool,
    reassembly: Vec<Reassembly>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A request and its response.
    Solicited,
    /// An unsolicited response and its confirm.
    Unsolicited,
}

/// What an open transaction waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The request waits for its response (or for the SA challenge exchange).
    Response,
    /// Response fragments are arriving; the next must have sequence `next`.
    Fragment { next: u8 },
    /// The final fragment asked for a confirm.
    Confirm,
}

/// An application transaction in progress.
struct Txn {
    kind: Kind,
    master: u16,
    outstation: u16,
    /// Time of the first message.
    ts: i64,
    /// Time of the last message (for the transaction timeout).
    last_ts: i64,
    // Boxed: a message keeps its object headers and control points inline
    // (about 1 KB), and a transaction is moved into and out of the pending
    // queue whole.
    request: Option<Box<Message>>,
    challenge: Option<Box<Message>>,
    challenge_reply: Option<Box<Message>>,
    response: Option<Box<Message>>,
    response_ts: Option<i64>,
    confirms: Option<Confirms>,
    /// Response fragments that asked for a confirm.
    confirms_expected: u32,
    stage: Stage,
    flags: Flags,
}

// Moved whole into and out of the pending queue: kept small (it was
// 3.9 KB with the messages inline, and those copies were a quarter of
// DNP3's count-only time).
const _: () = assert!(std::mem::size_of::<Txn>() <= 128);

impl Txn {
    fn new(kind: Kind, master: u16, outstation: u16, ts: i64) -> Self {
        Txn {
            kind,
            master,
            outstation,
            ts,
            last_ts: ts,
            request: None,
            challenge: None,
            challenge_reply: None,
            response: None,
            response_ts: None,
            confirms: None,
            confirms_expected: 0,
            stage: Stage::Response,
            flags: Flags::default(),
        }
    }

    /// Sequence number a confirm of the last response fragment carries.
    fn last_response_seq(&self) -> Option<u8> {
        self.response.as_ref().map(|r| r.last_control.seq())
    }
}

/// A link-layer service request waiting for its secondary frame.
struct LinkTxn {
    ts: i64,
    header: LinkHeader,
    /// A confirmed user data frame: its ACK is not an event.
    confirmed_data: bool,
}

/// One DNP3 flow (TCP connection or UDP exchange).
#[derive(Default)]
pub(crate) struct Dnp3Session {
    dirs: [DirState; 2],
    pending: VecDeque<Txn>,
    links: VecDeque<LinkTxn>,
    /// Which flow direction carries the master's messages, once known.
    master_dir: Option<usize>,
}

impl Session for Dnp3Session {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.stream(dir, bytes, out);
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        self.dirs[dir].partial.clear();
        self.dirs[dir].resync = true;
    }

    fn datagram(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        let mut b = bytes;
        while !b.is_empty() {
            match Frame::parse(b) {
                Ok((f, len)) => {
                    self.frame(dir, f, out);
                    b = &b[len..];
                }
                Err(LinkError::Incomplete) => {
                    out.anomaly(
                        AnomalyKind::Applayer,
                        LAYER,
                        "truncated_frame",
                        Cow::Borrowed("a UDP datagram ends inside a DNP3 link frame"),
                    );
                    return;
                }
                Err(e) => {
                    bad_frame(e, out);
                    match find_frame(&b[1..]) {
                        Some(i) => b = &b[1 + i..],
                        None => return,
                    }
                }
            }
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(t) = self.pending.pop_front() {
            emit(out, &t);
        }
        while let Some(l) = self.links.pop_front() {
            if !l.confirmed_data {
                emit_link(out, l.ts, Some(l.header), None);
            }
        }
    }
}

/// The first offset in `b` where a valid link header starts.
fn find_frame(b: &[u8]) -> Option<usize> {
    (0..b.len().saturating_sub(link::HEADER_LEN - 1))
        .find(|&i| b[i] == link::START[0] && LinkHeader::parse(&b[i..]).is_ok())
}

fn bad_frame(e: LinkError, out: &mut Out<'_>) {
    let (code, msg): (&'static str, Cow<'static, str>) = match e {
        LinkError::StartOctets => (
            "invalid_start_octets",
            Cow::Borrowed("bytes that do not start a DNP3 link frame (0x05 0x64); skipped"),
        ),
        LinkError::Length(l) => (
            "invalid_length",
            Cow::Owned(format!("DNP3 link length {l} is below 5")),
        ),
        LinkError::HeaderCrc => (
            "header_crc_error",
            Cow::Borrowed("DNP3 link header CRC does not match; frame skipped"),
        ),
        LinkError::BlockCrc(i) => (
            "block_crc_error",
            Cow::Owned(format!(
                "CRC of DNP3 user data block {i} does not match; frame discarded"
            )),
        ),
        LinkError::Incomplete => (
            "truncated_frame",
            Cow::Borrowed("a DNP3 link frame is cut short"),
        ),
    };
    out.anomaly(AnomalyKind::Applayer, LAYER, code, msg);
}

impl Dnp3Session {
    /// Stream bytes in direction `dir`.
    fn stream(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        if self.dirs[dir].resync {
            match find_frame(bytes) {
                Some(i) => {
                    self.dirs[dir].resync = false;
                    bytes = &bytes[i..];
                }
                None => return,
            }
        }
        if !self.dirs[dir].partial.is_empty() {
            loop {
                let need = partial_need(&self.dirs[dir].partial);
                if need == 0 {
                    break;
                }
                if bytes.is_empty() {
                    return;
                }
                let take = need.min(bytes.len());
                self.dirs[dir].partial.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
            }
            let mut buf = std::mem::take(&mut self.dirs[dir].partial);
            match Frame::parse(&buf) {
                Ok((f, _)) => self.frame(dir, f, out),
                Err(e) => {
                    bad_frame(e, out);
                    // Search the held bytes after the bad start, then the rest.
                    match find_frame(&buf[1..]) {
                        Some(i) => {
                            let held = buf.split_off(1 + i);
                            buf.clear();
                            self.dirs[dir].partial = buf;
                            self.stream(dir, &held, out);
                        }
                        None => self.dirs[dir].resync = true,
                    }
                    return self.stream(dir, bytes, out);
                }
            }
            buf.clear();
            self.dirs[dir].partial = buf;
        }
        while !bytes.is_empty() {
            match Frame::parse(bytes) {
                Ok((f, len)) => {
                    self.frame(dir, f, out);
                    bytes = &bytes[len..];
                }
                Err(LinkError::Incomplete) => {
                    self.dirs[dir].partial.extend_from_slice(bytes);
                    return;
                }
                Err(e) => {
                    bad_frame(e, out);
                    match find_frame(&bytes[1..]) {
                        Some(i) => bytes = &bytes[1 + i..],
                        None => {
                            self.dirs[dir].resync = true;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// One whole link frame (header valid, blocks not yet checked).
    fn frame(&mut self, dir: usize, f: Frame<'_>, out: &mut Out<'_>) {
        let h = f.header;
        let lf = h.control.function();
        if h.user_data_len() == 0 {
            if lf.carries_user_data() {
                out.anomaly(
                    AnomalyKind::Applayer,
                    LAYER,
                    "empty_user_data",
                    Cow::Borrowed("a DNP3 user data frame without user data"),
                );
            } else {
                self.link_service(h, out);
            }
            return;
        }
        let mut buf = [0u8; link::MAX_USER_DATA];
        let n = match f.user_data(&mut buf) {
            Ok(n) => n,
            Err(e) => return bad_frame(e, out),
        };
        if !lf.carries_user_data() {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "unexpected_user_data",
                Cow::Owned(format!(
                    "DNP3 link function {} carries user data; data ignored",
                    lf.name()
                )),
            );
            self.link_service(h, out);
            return;
        }
        if lf == LinkFunction::CONFIRMED_USER_DATA {
            self.link_request(h, true, out);
        }
        let th = TransportHeader(buf[0]);
        self.segment(dir, h, th, &buf[1..n], out);
    }

    /// One transport segment (§8.2).
    fn segment(
        &mut self,
        dir: usize,
        h: LinkHeader,
        th: TransportHeader,
        seg: &[u8],
        out: &mut Out<'_>,
    ) {
        let d = &mut self.dirs[dir];
        let pos = d
            .reassembly
            .iter()
            .position(|r| r.src == h.source && r.dst == h.destination);
        if th.fir() {
            if let Some(i) = pos {
                d.reassembly.swap_remove(i);
                out.anomaly(
                    AnomalyKind::Applayer,
                    LAYER,
                    "incomplete_fragment_discarded",
                    Cow::Borrowed(
                        "a DNP3 transport segment with FIR arrived before the previous \
                         fragment's final segment; the partial fragment was discarded",
                    ),
                );
            }
            if th.fin() {
                return self.fragment(dir, h, 1, seg, out);
            }
            if d.reassembly.len() >= MAX_REASSEMBLIES {
                d.reassembly.remove(0);
                out.anomaly(
                    AnomalyKind::Resource,
                    LAYER,
                    "reassembly_table_full",
                    Cow::Owned(format!(
                        "more than {MAX_REASSEMBLIES} DNP3 fragments in reassembly; \
                         the oldest was discarded"
                    )),
                );
            }
            d.reassembly.push(Reassembly {
                src: h.source,
                dst: h.destination,
                last_seq: th.seq(),
                first: h,
                frames: 1,
                buf: seg.to_vec(),
            });
            return;
        }
        let Some(i) = pos else {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "transport_missing_first",
                Cow::Borrowed(
                    "a DNP3 transport segment without FIR and no fragment in progress; discarded",
                ),
            );
            return;
        };
        let r = &mut d.reassembly[i];
        if th.seq() == r.last_seq {
            // A repeated segment (§8.2): the receiver ignores it.
            return;
        }
        if th.seq() != TransportHeader::next_seq(r.last_seq) {
            let msg = format!(
                "DNP3 transport segment {} where {} was due; the partial fragment was discarded",
                th.seq(),
                TransportHeader::next_seq(r.last_seq)
            );
            d.reassembly.swap_remove(i);
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "transport_out_of_sequence",
                Cow::Owned(msg),
            );
            return;
        }
        if r.buf.len() + seg.len() > MAX_FRAGMENT_LEN {
            d.reassembly.swap_remove(i);
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "fragment_too_large",
                Cow::Owned(format!(
                    "a DNP3 application fragment exceeds {MAX_FRAGMENT_LEN} octets; discarded"
                )),
            );
            return;
        }
        r.buf.extend_from_slice(seg);
        r.last_seq = th.seq();
        r.frames += 1;
        if th.fin() {
            let r = d.reassembly.swap_remove(i);
            self.fragment(dir, r.first, r.frames, &r.buf, out);
        }
    }

    /// Notes which flow direction the master uses, once: events then go
    /// from the master to the outstation whoever opened the connection.
    fn learn_roles(&mut self, dir: usize, from_master: bool, out: &mut Out<'_>) {
        if self.master_dir.is_none() {
            let master_dir = if from_master { dir } else { 1 - dir };
            self.master_dir = Some(master_dir);
            *out.reverse = master_dir == TO_CLIENT;
        }
    }

    /// One whole application fragment.
    fn fragment(
        &mut self,
        dir: usize,
        link: LinkHeader,
        frames: u32,
        bytes: &[u8],
        out: &mut Out<'_>,
    ) {
        let frag = match Fragment::parse(bytes) {
            Ok(f) => f,
            Err(_) => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    LAYER,
                    "fragment_too_short",
                    Cow::Owned(format!(
                        "a DNP3 application fragment of {} octets is too short for its header",
                        bytes.len()
                    )),
                );
                return;
            }
        };
        let now = out.ts;
        self.expire(now, out);
        let fc = frag.function;
        self.learn_roles(dir, !fc.is_response(), out);
        let msg = Message::new(link, frames, &frag);
        if let Some(e) = msg.error {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                e.code(),
                Cow::Owned(format!("DNP3 {}: {e}; object parsing stopped", fc.name())),
            );
        }
        let mut flags = Flags::default();
        flags.set(Flags::RESERVED_FUNCTION, !fc.is_defined());
        flags.set(
            Flags::DIRECTION_MISMATCH,
            link.control.dir() == fc.is_response(),
        );
        match fc {
            FunctionCode::CONFIRM => self.confirm(link, msg, flags, now, out),
            FunctionCode::RESPONSE | FunctionCode::AUTHENTICATE_RESPONSE => {
                flags.set(Flags::UNS_MISMATCH, frag.control.uns());
                self.response(link, frag, msg, flags, now, out)
            }
            FunctionCode::UNSOLICITED_RESPONSE => {
                flags.set(Flags::UNS_MISMATCH, !frag.control.uns());
                self.unsolicited(link, msg, flags, now, out)
            }
            _ => {
                flags.set(Flags::UNS_MISMATCH, frag.control.uns());
                flags.set(
                    Flags::MULTI_FRAGMENT_REQUEST,
                    !(frag.control.fir() && frag.control.fin()),
                );
                self.request(link, msg, flags, now, out)
            }
        }
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        let mut i = 0;
        while i < self.pending.len() {
            if now.saturating_sub(self.pending[i].last_ts) > timeout {
                if let Some(t) = self.pending.remove(i) {
                    emit(out, &t);
                }
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.links.len() {
            if now.saturating_sub(self.links[i].ts) > timeout {
                if let Some(l) = self.links.remove(i) {
                    if !l.confirmed_data {
                        emit_link(out, l.ts, Some(l.header), None);
                    }
                }
            } else {
                i += 1;
            }
        }
    }

    /// Adds a transaction, ending the oldest when the table is full.
    fn push(&mut self, t: Txn, out: &mut Out<'_>) {
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    LAYER,
                    "pending_table_full",
                    Cow::Borrowed("too many open DNP3 transactions; the oldest was ended"),
                );
                emit(out, &old);
            }
        }
        self.pending.push_back(t);
    }

    /// Ends the transaction at `i` and writes its event.
    fn close(&mut self, i: usize, out: &mut Out<'_>) {
        if let Some(t) = self.pending.remove(i) {
            emit(out, &t);
        }
    }

    fn request(
        &mut self,
        link: LinkHeader,
        msg: Message,
        flags: Flags,
        ts: i64,
        out: &mut Out<'_>,
    ) {
        let (master, outstation) = (link.source, link.destination);
        let fc = msg.function;
        // The master's reply to an authentication challenge stays in the
        // challenged transaction.
        if fc == FunctionCode::AUTHENTICATE_REQUEST {
            if let Some(t) = self.pending.iter_mut().find(|t| {
                t.kind == Kind::Solicited
                    && (t.master, t.outstation) == (master, outstation)
                    && t.challenge.is_some()
                    && t.challenge_reply.is_none()
            }) {
                t.challenge_reply = Some(Box::new(msg));
                t.flags.0 |= flags.0;
                t.last_ts = ts;
                return;
            }
        }
        // The master moved on: a response still waiting for its confirm
        // will not get one. Requests still waiting for their response stay:
        // some masters send the next request before the response (a
        // select and its operate back to back); each pairs by sequence
        // number.
        while let Some(i) = self.pending.iter().position(|t| {
            t.kind == Kind::Solicited
                && (t.master, t.outstation) == (master, outstation)
                && t.stage == Stage::Confirm
        }) {
            self.close(i, out);
        }
        let mut t = Txn::new(Kind::Solicited, master, outstation, ts);
        t.flags = flags;
        let broadcast = link::is_broadcast(outstation);
        t.flags.set(Flags::BROADCAST, broadcast);
        let answered = fc.expects_response() && !broadcast;
        t.request = Some(Box::new(msg));
        if answered {
            self.push(t, out);
        } else {
            emit(out, &t);
        }
    }

    fn response(
        &mut self,
        link: LinkHeader,
        frag: Fragment<'_>,
        msg: Message,
        flags: Flags,
        ts: i64,
        out: &mut Out<'_>,
    ) {
        let (master, outstation) = (link.destination, link.source);
        let seq = frag.control.seq();
        let fir = frag.control.fir();
        let ours =
            |t: &Txn| t.kind == Kind::Solicited && (t.master, t.outstation) == (master, outstation);
        let pos = self.pending.iter().position(|t| {
            ours(t)
                && match t.stage {
                    Stage::Response => {
                        fir && t.request.as_ref().map(|r| r.control.seq()) == Some(seq)
                    }
                    Stage::Fragment { next } => !fir && next == seq,
                    Stage::Confirm => false,
                }
        });
        if let Some(i) = pos {
            let t = &mut self.pending[i];
            t.last_ts = ts;
            t.flags.0 |= flags.0;
            let challenge = frag.function == FunctionCode::AUTHENTICATE_RESPONSE
                && t.stage == Stage::Response
                && t.challenge.is_none()
                && !matches!(
                    t.request.as_ref().map(|r| r.function),
                    Some(FunctionCode::AUTHENTICATE_REQUEST)
                        | Some(FunctionCode::AUTHENTICATE_REQUEST_NO_ACK)
                );
            if challenge {
                // Secure authentication: the outstation challenges the
                // request before executing it; the response comes after
                // the master's reply.
                t.challenge = Some(Box::new(msg));
                return;
            }
            match &mut t.response {
                Some(r) => {
                    r.absorb(msg.link_frames, &frag);
                }
                None => {
                    t.response = Some(Box::new(msg));
                    t.response_ts = Some(ts);
                }
            }
            return self.advance(i, &frag, out);
        }
        // Not the continuation of anything: a response whose request was not
        // seen. A fragment with FIR ends an unfinished response first.
        if fir {
            if let Some(i) = self
                .pending
                .iter()
                .position(|t| ours(t) && matches!(t.stage, Stage::Fragment { .. }))
            {
                self.close(i, out);
            }
        }
        let mut t = Txn::new(Kind::Solicited, master, outstation, ts);
        t.flags = flags;
        t.flags.set(Flags::MISSING_FIRST_FRAGMENT, !fir);
        t.response = Some(Box::new(msg));
        t.response_ts = Some(ts);
        self.push(t, out);
        let i = self.pending.len() - 1;
        self.advance(i, &frag, out);
    }

    /// After a response fragment was added to transaction `i`: wait for
    /// more fragments, for a confirm, or end it.
    fn advance(&mut self, i: usize, frag: &Fragment<'_>, out: &mut Out<'_>) {
        let t = &mut self.pending[i];
        let c = frag.control;
        if c.con() {
            t.confirms_expected += 1;
        }
        if let Some(r) = &t.response {
            t.flags
                .set(Flags::FRAGMENT_FUNCTION_MISMATCH, r.function_changes > 0);
        }
        if !c.fin() {
            t.stage = Stage::Fragment {
                next: dnp3::AppControl::next_seq(c.seq()),
            };
        } else if c.con() {
            t.stage = Stage::Confirm;
        } else {
            self.close(i, out);
        }
    }

    fn unsolicited(
        &mut self,
        link: LinkHeader,
        msg: Message,
        flags: Flags,
        ts: i64,
        out: &mut Out<'_>,
    ) {
        let (master, outstation) = (link.destination, link.source);
        // A new unsolicited response (or a retry) ends the one still
        // waiting for its confirm.
        while let Some(i) = self.pending.iter().position(|t| {
            t.kind == Kind::Unsolicited && (t.master, t.outstation) == (master, outstation)
        }) {
            self.close(i, out);
        }
        let mut t = Txn::new(Kind::Unsolicited, master, outstation, ts);
        t.flags = flags;
        t.response_ts = Some(ts);
        let con = msg.control.con();
        t.response = Some(Box::new(msg));
        if con {
            t.confirms_expected = 1;
            t.stage = Stage::Confirm;
            self.push(t, out);
        } else {
            emit(out, &t);
        }
    }

    fn confirm(
        &mut self,
        link: LinkHeader,
        msg: Message,
        flags: Flags,
        ts: i64,
        out: &mut Out<'_>,
    ) {
        let (master, outstation) = (link.source, link.destination);
        let (seq, uns) = (msg.control.seq(), msg.control.uns());
        let kind = if uns {
            Kind::Unsolicited
        } else {
            Kind::Solicited
        };
        let pos = self.pending.iter().position(|t| {
            t.kind == kind
                && (t.master, t.outstation) == (master, outstation)
                && t.stage != Stage::Response
                && t.last_response_seq() == Some(seq)
        });
        let Some(i) = pos else {
            // A confirm of nothing we saw: its own transaction.
            let mut t = Txn::new(Kind::Solicited, master, outstation, ts);
            t.flags = flags;
            t.request = Some(Box::new(msg));
            return emit(out, &t);
        };
        let t = &mut self.pending[i];
        t.last_ts = ts;
        t.flags.0 |= flags.0;
        let c = t.confirms.get_or_insert(Confirms {
            link,
            control: msg.control,
            count: 0,
            uns_count: 0,
        });
        c.link = link;
        c.control = msg.control;
        c.count += 1;
        c.uns_count += u32::from(uns);
        if t.stage == Stage::Confirm {
            self.close(i, out);
        }
    }

    /// A primary link frame that asks for a secondary answer.
    fn link_request(&mut self, h: LinkHeader, confirmed_data: bool, out: &mut Out<'_>) {
        let now = out.ts;
        self.expire(now, out);
        if let Some(i) = self
            .links
            .iter()
            .position(|l| (l.header.source, l.header.destination) == (h.source, h.destination))
        {
            if let Some(old) = self.links.remove(i) {
                if !old.confirmed_data {
                    emit_link(out, old.ts, Some(old.header), None);
                }
            }
        }
        if link::is_broadcast(h.destination) {
            if !confirmed_data {
                emit_link(out, now, Some(h), None);
            }
            return;
        }
        if self.links.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.links.pop_front() {
                if !old.confirmed_data {
                    out.anomaly(
                        AnomalyKind::Resource,
                        LAYER,
                        "pending_table_full",
                        Cow::Borrowed(
                            "too many unanswered DNP3 link requests; the oldest was ended",
                        ),
                    );
                    emit_link(out, old.ts, Some(old.header), None);
                }
            }
        }
        self.links.push_back(LinkTxn {
            ts: now,
            header: h,
            confirmed_data,
        });
    }

    /// A frame without user data: a link service request or answer.
    fn link_service(&mut self, h: LinkHeader, out: &mut Out<'_>) {
        if h.control.prm() {
            return self.link_request(h, false, out);
        }
        let now = out.ts;
        self.expire(now, out);
        let pos = self
            .links
            .iter()
            .position(|l| (l.header.source, l.header.destination) == (h.destination, h.source));
        match pos.and_then(|i| self.links.remove(i)) {
            // The link acknowledgment of confirmed user data.
            Some(l) if l.confirmed_data => {}
            Some(l) => emit_link(out, l.ts, Some(l.header), Some((now, h))),
            None => emit_link(out, now, None, Some((now, h))),
        }
    }
}

/// Bytes still missing from a split frame.
fn partial_need(p: &[u8]) -> usize {
    if p.len() < link::HEADER_LEN {
        return link::HEADER_LEN - p.len();
    }
    match LinkHeader::parse(p) {
        Ok(h) => h.frame_len().saturating_sub(p.len()),
        // Parsed (and reported) by the caller.
        Err(_) => 0,
    }
}

/// Writes the event of an application transaction.
fn emit(out: &mut Out<'_>, t: &Txn) {
    let request = t.request.as_deref();
    let response = t.response.as_deref();
    let lone_confirm = request.is_some_and(|r| r.function == FunctionCode::CONFIRM);
    let expects_response = t.kind == Kind::Solicited
        && request.is_some_and(|r| r.function.expects_response())
        && !t.flags.has(Flags::BROADCAST);
    let request_missing = t.kind == Kind::Solicited && request.is_none();
    let response_missing = expects_response && response.is_none();
    let mut flags = t.flags;
    let confirmed = t.confirms.map_or(0, |c| c.count);
    flags.set(Flags::CONFIRM_MISSING, t.confirms_expected > confirmed);
    flags.set(
        Flags::INCOMPLETE_RESPONSE,
        matches!(t.stage, Stage::Fragment { .. }) && response.is_some(),
    );
    let function = request
        .or(response)
        .map(|m| m.function)
        .unwrap_or(FunctionCode::CONFIRM);
    let malformed = [
        request,
        t.challenge.as_deref(),
        t.challenge_reply.as_deref(),
        response,
    ]
    .into_iter()
    .flatten()
    .any(|m| m.error.is_some());
    let (rejected, iin_error) = match (t.kind, response) {
        (Kind::Solicited, Some(r)) => {
            (r.rejected_control(), r.iin.is_some_and(dnp3::Iin::is_error))
        }
        _ => (None, false),
    };
    let status = if malformed {
        Status::Malformed
    } else if rejected.is_some() || iin_error {
        Status::Exception
    } else if response_missing {
        Status::NoResponse
    } else {
        Status::Ok
    };
    let kinds = request.map(|r| r.kinds).unwrap_or_default();
    let operation = if lone_confirm || (request.is_none() && function == FunctionCode::RESPONSE) {
        Operation::Other
    } else {
        function.operation(kinds)
    };
    let ts = if request.is_some() {
        t.ts
    } else {
        t.response_ts.unwrap_or(t.ts)
    };
    let ev = Dnp3Event {
        request,
        challenge: t.challenge.as_deref(),
        challenge_reply: t.challenge_reply.as_deref(),
        response,
        confirms: t.confirms,
        link_request: None,
        link_response: None,
        request_missing,
        response_missing,
        latency_ns: match (request, t.response_ts) {
            (Some(_), Some(r)) => Some(r - t.ts),
            _ => None,
        },
        flags,
        ics: IcsSummary {
            function_code: u32::from(function.0),
            function: function.name(),
            operation,
            status,
            exception_code: rejected.map(|s| u32::from(s.0)),
        },
    };
    out.transaction(ts, &Event::Dnp3(&ev));
}

/// Writes the event of a link-service transaction: a primary frame and
/// its secondary answer, either of which may be missing.
fn emit_link(
    out: &mut Out<'_>,
    ts: i64,
    request: Option<LinkHeader>,
    response: Option<(i64, LinkHeader)>,
) {
    let (code, name) = match (request, response) {
        (Some(r), _) => {
            let f = r.control.function();
            (LINK_CODE_BASE + u32::from(f.code), f.name())
        }
        (None, Some((_, s))) => {
            let f = s.control.function();
            (LINK_SECONDARY_CODE_BASE + u32::from(f.code), f.name())
        }
        (None, None) => return,
    };
    let answer = response.map(|(_, s)| s.control.function());
    let refused = answer.filter(|a| *a == LinkFunction::NACK || *a == LinkFunction::NOT_SUPPORTED);
    let broadcast = request.is_some_and(|r| link::is_broadcast(r.destination));
    let response_missing = request.is_some() && response.is_none() && !broadcast;
    let operation = match request.map(|r| r.control.function()) {
        Some(LinkFunction::REQUEST_LINK_STATUS) | Some(LinkFunction::TEST_LINK_STATES) => {
            Operation::Diagnostics
        }
        Some(LinkFunction::RESET_LINK_STATES) => Operation::Session,
        _ => Operation::Other,
    };
    let status = if refused.is_some() {
        Status::Exception
    } else if response_missing {
        Status::NoResponse
    } else {
        Status::Ok
    };
    let mut flags = Flags::default();
    flags.set(Flags::BROADCAST, broadcast);
    let ev = Dnp3Event {
        request: None,
        challenge: None,
        challenge_reply: None,
        response: None,
        confirms: None,
        link_request: request,
        link_response: response.map(|(_, s)| s),
        request_missing: request.is_none(),
        response_missing,
        latency_ns: match (request, response) {
            (Some(_), Some((rts, _))) => Some(rts - ts),
            _ => None,
        },
        flags,
        ics: IcsSummary {
            function_code: code,
            function: name,
            operation,
            status,
            exception_code: refused.map(|a| u32::from(a.code)),
        },
    };
    out.transaction(ts, &Event::Dnp3(&ev));
}
