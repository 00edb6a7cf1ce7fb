//! S7comm and S7comm-plus sessions on ISO transport over TCP (port 102).
//!
//! Framing has three layers. TPKTs (RFC 1006) are read straight from the
//! delivered bytes; only a TPKT split across segments is copied (bounded by
//! the 16-bit TPKT length). COTP DT TPDUs are joined until the one with
//! the EOT bit (bounded by [`MAX_SDU`]). An S7comm-plus PDU split into
//! fragments is joined until the fragment with the trailer (bounded by
//! [`MAX_PLUS_PDU`]). An invalid TPKT header or a stream gap loses the
//! framing: the session reports it and resynchronises on the next
//! plausible TPKT.
//!
//! Pairing. S7comm: a Job is answered by the Ack or Ack-Data carrying its
//! PDU reference, travelling the other way (during a download the CPU
//! sends Jobs too); a userdata request by the userdata response with its
//! PDU reference. A response announcing more data units keeps its
//! transaction open: the follow-up request repeating the response's
//! sequence number (same group and sub-function) joins it, and so do the
//! further responses, whose payloads are joined (bounded by
//! [`MAX_USERDATA_PAYLOAD`]) so that a system status list split over data
//! units is decoded whole. Pushes from the CPU are events of their own.
//! S7comm-plus: a response answers the request with its sequence number;
//! requests whose transport flags ask for no response, and notifications,
//! are events of their own.
//!
//! The COTP connection (CR with CC or DR) is one event too, emitted with the
//! connection's first S7 PDU so that it carries the right event type.
//! Pending transactions are capped per flow; the oldest ends as
//! `no_response` when the cap is hit, when it times out, or when the flow
//! ends.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_events::{Operation, Status};
use plantshield_protocols::s7comm::cotp::{self, CotpError, Tpdu, TpduCode};
use plantshield_protocols::s7comm::pdu::{self, AckParam, JobParam};
use plantshield_protocols::s7comm::plus::{self, Opcode, PlusFunction, PlusPdu};
use plantshield_protocols::s7comm::userdata::{self, UserdataParam};
use plantshield_protocols::s7comm::{
    self, Flags, Function, FunctionGroup, Rosctr, Tpkt, TpktError, UserdataType, TPKT_LEN,
};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, CotpConnect, Event, IcsSummary, S7commEvent, S7commPlusEvent};

/// Largest COTP service data unit joined from DT TPDUs. S7 PDUs are at
/// most 960 octets (the largest PDU size CPUs negotiate) plus headers;
/// S7comm-plus fragments stay below the negotiated TPDU size.
pub(crate) const MAX_SDU: usize = 16 * 1024;
/// Largest userdata answer joined over data units (SZL lists, block lists).
pub(crate) const MAX_USERDATA_PAYLOAD: usize = 16 * 1024;
/// Largest S7comm-plus PDU joined from fragments.
pub(crate) const MAX_PLUS_PDU: usize = 64 * 1024;
/// Transport selectors longer than this are cut (ISO 8073 allows 32 octets).
const MAX_TSAP: usize = 32;

/// Layer of TPKT and COTP anomalies.
const COTP: &str = "cotp";
/// Layer of S7comm anomalies.
const S7: &str = "s7comm";
/// Layer of S7comm-plus anomalies, and the protocol a connection speaking
/// it is named (a static, so that the flow can keep a reference to it:
/// `ProtoName`).
static S7P: &str = "s7comm_plus";

pub(crate) const DETECTOR: Detector = Detector {
    name: "s7comm",
    tcp_ports: &[s7comm::PORT],
    udp_ports: &[],
    probe: s7comm::probe,
    new: |request_dir| {
        Box::new(S7Session {
            request_dir,
            ..S7Session::default()
        })
    },
};

/// Which protocol the connection carries (decided by its first S7 PDU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    S7comm,
    Plus,
}

/// Framing state of one direction.
#[derive(Default)]
struct Dir {
    /// A TPKT split across segments.
    partial: Vec<u8>,
    /// Searching for a TPKT header (after a gap or an invalid header).
    resync: bool,
    /// DT user data waiting for the TPDU with EOT.
    sdu: Vec<u8>,
    /// The SDU being joined exceeded [`MAX_SDU`]: drop until EOT.
    sdu_overflow: bool,
    /// S7comm-plus fragments' data waiting for the last fragment.
    plus: Vec<u8>,
    /// Version of the first fragment.
    plus_version: u8,
    /// Fragments joined so far.
    plus_fragments: u16,
    /// Capture time of the first fragment.
    plus_ts: i64,
    /// The PDU being joined exceeded [`MAX_PLUS_PDU`].
    plus_overflow: bool,
}

/// The COTP connection being established (or established).
#[derive(Default)]
struct Connect {
    ts: i64,
    calling: Vec<u8>,
    called: Vec<u8>,
    tpdu_size: Option<u8>,
    confirmed: bool,
    reason: Option<u8>,
    /// CC or DR answered the CR: the event waits for the protocol to be known.
    answered: bool,
    /// Only the CC was seen so far (capture started after the CR, or
    /// detection replayed the CC first).
    cc_only: bool,
}

/// An S7comm transaction waiting for its response (or further data units).
struct Pending {
    ts: i64,
    /// Time of the last PDU of the transaction (for the timeout).
    last_ts: i64,
    /// Direction of the request.
    dir: usize,
    pdu_ref: u16,
    userdata: bool,
    req: Vec<u8>,
    resp: Vec<u8>,
    resp_ts: i64,
    payload: Vec<u8>,
    payload_truncated: bool,
    req_pdus: u16,
    resp_pdus: u16,
    /// (group, sub-function, sequence) a follow-up request must repeat.
    awaiting: Option<(u8, u8, u8)>,
}

/// An S7comm-plus request waiting for its response.
struct PlusPending {
    ts: i64,
    dir: usize,
    sequence: u16,
    version: u8,
    fragments: u16,
    data: Vec<u8>,
    truncated: bool,
    download: bool,
}

/// One ISO-on-TCP connection carrying S7comm or S7comm-plus.
#[derive(Default)]
pub(crate) struct S7Session {
    dirs: [Dir; 2],
    /// The flow direction towards the registered port (the PLC).
    request_dir: usize,
    proto: Option<Proto>,
    connect: Option<Connect>,
    rack_slot: Option<(u8, u8)>,
    pending: VecDeque<Pending>,
    plus_pending: VecDeque<PlusPending>,
    /// Nesting of S7comm-plus sequences inside a download transaction.
    download_depth: u32,
    /// Buffers kept for reuse by pending transactions.
    spare: Vec<Vec<u8>>,
}

impl Session for S7Session {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.stream(dir, bytes, out);
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        let d = &mut self.dirs[dir];
        d.partial.clear();
        d.sdu.clear();
        d.sdu_overflow = false;
        d.plus.clear();
        d.plus_fragments = 0;
        d.plus_overflow = false;
        d.resync = true;
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        self.flush_connect(out, true);
        while let Some(p) = self.pending.pop_front() {
            self.emit(out, p);
        }
        while let Some(p) = self.plus_pending.pop_front() {
            self.emit_plus_pending(out, p, None);
        }
    }
}

impl S7Session {
    /// Stream bytes in direction `dir`: TPKT framing.
    fn stream(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        if self.dirs[dir].resync {
            match resync_point(bytes, true) {
                Some(i) => {
                    self.dirs[dir].resync = false;
                    bytes = &bytes[i..];
                }
                None => return,
            }
        }
        if !self.dirs[dir].partial.is_empty() {
            loop {
                let need = self.partial_need(dir);
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
            let packet = std::mem::take(&mut self.dirs[dir].partial);
            match Tpkt::parse(&packet) {
                Ok(_) => self.tpkt(dir, &packet, out),
                Err(e) => {
                    self.bad_tpkt(e, out);
                    self.dirs[dir].resync = true;
                }
            }
            // Keep the allocation for the next split TPKT.
            self.dirs[dir].partial = packet;
            self.dirs[dir].partial.clear();
            if self.dirs[dir].resync {
                return self.stream(dir, bytes, out);
            }
        }
        while !bytes.is_empty() {
            match Tpkt::parse(bytes) {
                Ok(t) if bytes.len() >= usize::from(t.length) => {
                    let (packet, rest) = bytes.split_at(usize::from(t.length));
                    self.tpkt(dir, packet, out);
                    bytes = rest;
                }
                Ok(_) | Err(TpktError::Incomplete) => {
                    self.dirs[dir].partial.extend_from_slice(bytes);
                    return;
                }
                Err(e) => {
                    self.bad_tpkt(e, out);
                    match resync_point(&bytes[1..], false) {
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

    /// Bytes still missing from the split TPKT of `dir`.
    fn partial_need(&self, dir: usize) -> usize {
        let p = &self.dirs[dir].partial;
        if p.len() < TPKT_LEN {
            return TPKT_LEN - p.len();
        }
        let len = usize::from(u16::from_be_bytes([p[2], p[3]]));
        // A bad header is caught by the check once 4 bytes are in.
        if Tpkt::parse(p).is_err() {
            return 0;
        }
        len.saturating_sub(p.len())
    }

    fn bad_tpkt(&mut self, e: TpktError, out: &mut Out<'_>) {
        let msg = match e {
            TpktError::Version(v) => Cow::Owned(format!("TPKT version {v} is not 3")),
            TpktError::Length(l) => Cow::Owned(format!("TPKT length {l} is below 7")),
            TpktError::Incomplete => Cow::Borrowed("TPKT header incomplete"),
        };
        out.anomaly(AnomalyKind::Applayer, COTP, "invalid_tpkt", msg);
    }

    /// One whole TPKT.
    fn tpkt(&mut self, dir: usize, packet: &[u8], out: &mut Out<'_>) {
        let now = out.ts;
        self.expire(now, out);
        let tpdu = match cotp::parse_tpdu(&packet[TPKT_LEN..]) {
            Ok(t) => t,
            Err(e) => {
                let msg = match e {
                    CotpError::Empty => Cow::Borrowed("TPKT without a COTP TPDU"),
                    CotpError::LengthIndicator(li) => Cow::Owned(format!(
                        "COTP length indicator {li} does not fit the TPKT or the TPDU type"
                    )),
                    CotpError::UnknownCode(c) => {
                        Cow::Owned(format!("COTP TPDU code 0x{c:02x} is not defined"))
                    }
                };
                out.anomaly(AnomalyKind::Applayer, COTP, "invalid_cotp", msg);
                return;
            }
        };
        match tpdu {
            Tpdu::ConnectionRequest(c) => {
                // Detection replays the other direction first, so the CC
                // can come before its CR: complete that connection.
                if let Some(conn) = self.connect.as_mut().filter(|c| c.cc_only) {
                    conn.cc_only = false;
                    conn.ts = now;
                    conn.calling = tsap_bytes(c.calling_tsap);
                    conn.called = tsap_bytes(c.called_tsap);
                    self.rack_slot = c.called_tsap.and_then(|t| t.rack_slot());
                    return;
                }
                // A new connection request: whatever came before is done.
                self.flush_connect(out, true);
                self.connect = Some(Connect {
                    ts: now,
                    calling: tsap_bytes(c.calling_tsap),
                    called: tsap_bytes(c.called_tsap),
                    tpdu_size: c.tpdu_size,
                    ..Connect::default()
                });
                self.rack_slot = c.called_tsap.and_then(|t| t.rack_slot());
            }
            Tpdu::ConnectionConfirm(c) => {
                let conn = self.connect.get_or_insert_with(|| Connect {
                    ts: now,
                    calling: tsap_bytes(c.calling_tsap),
                    called: tsap_bytes(c.called_tsap),
                    cc_only: true,
                    ..Connect::default()
                });
                if conn.answered {
                    return;
                }
                conn.confirmed = true;
                conn.answered = true;
                if c.tpdu_size.is_some() {
                    conn.tpdu_size = c.tpdu_size;
                }
                if self.rack_slot.is_none() {
                    self.rack_slot = c.called_tsap.and_then(|t| t.rack_slot());
                }
            }
            Tpdu::DisconnectRequest { reason, .. } => {
                match &mut self.connect {
                    Some(c) if !c.answered => {
                        // The CR is refused.
                        c.reason = Some(reason);
                        c.answered = true;
                        self.flush_connect(out, true);
                    }
                    _ => {
                        self.flush_connect(out, true);
                        let ev = CotpConnect {
                            disconnect: true,
                            calling_tsap: None,
                            called_tsap: None,
                            tpdu_size: None,
                            confirmed: false,
                            reason: Some(reason),
                        };
                        self.emit_cotp(out, now, &ev, Status::Ok);
                    }
                }
            }
            Tpdu::Error { cause, .. } => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    COTP,
                    "tpdu_error",
                    Cow::Owned(format!(
                        "the peer rejected a TPDU: {}",
                        cotp::reject_cause_name(cause)
                    )),
                );
            }
            Tpdu::Data { eot, payload, .. } => self.dt(dir, eot, payload, now, out),
            Tpdu::DisconnectConfirm { .. } | Tpdu::Other { .. } => {}
        }
    }

    /// A DT TPDU: join user data until EOT.
    fn dt(&mut self, dir: usize, eot: bool, payload: &[u8], now: i64, out: &mut Out<'_>) {
        let d = &mut self.dirs[dir];
        if d.sdu_overflow {
            if eot {
                d.sdu_overflow = false;
            }
            return;
        }
        if d.sdu.is_empty() && eot {
            // The common case: one DT carries the whole PDU.
            self.sdu(dir, payload, now, out);
            return;
        }
        if d.sdu.len() + payload.len() > MAX_SDU {
            d.sdu.clear();
            d.sdu_overflow = !eot;
            out.anomaly(
                AnomalyKind::Resource,
                COTP,
                "sdu_too_long",
                Cow::Owned(format!(
                    "COTP data units joined exceed {MAX_SDU} octets; the PDU was dropped"
                )),
            );
            return;
        }
        d.sdu.extend_from_slice(payload);
        if eot {
            let sdu = std::mem::take(&mut self.dirs[dir].sdu);
            self.sdu(dir, &sdu, now, out);
            let mut sdu = sdu;
            sdu.clear();
            self.dirs[dir].sdu = sdu;
        }
    }

    /// A whole COTP service data unit: an S7comm PDU or S7comm-plus fragment.
    fn sdu(&mut self, dir: usize, b: &[u8], now: i64, out: &mut Out<'_>) {
        let Some(&id) = b.first() else {
            return;
        };
        let proto = match id {
            pdu::PROTOCOL_ID => Proto::S7comm,
            plus::PROTOCOL_ID => Proto::Plus,
            _ => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    S7,
                    "unknown_protocol_id",
                    Cow::Owned(format!(
                        "COTP data starts with 0x{id:02x}, neither S7comm (0x32) nor S7comm-plus (0x72)"
                    )),
                );
                return;
            }
        };
        if self.proto.is_none() {
            self.proto = Some(proto);
            if proto == Proto::Plus {
                out.set_app_proto(&S7P);
            }
        }
        self.flush_connect(out, false);
        match proto {
            Proto::S7comm => self.s7_pdu(dir, b, now, out),
            Proto::Plus => self.plus_fragment(dir, b, now, out),
        }
    }

    // ---------------------------------------------------------------- S7comm

    fn s7_pdu(&mut self, dir: usize, b: &[u8], now: i64, out: &mut Out<'_>) {
        let p = match pdu::parse_pdu_lenient(b) {
            Ok((p, _)) => p,
            Err(e) => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    S7,
                    "malformed_pdu",
                    Cow::Owned(format!("S7comm PDU unreadable: {e:?}")),
                );
                return;
            }
        };
        let rosctr = p.header.rosctr;
        match rosctr {
            Rosctr::JOB => self.s7_request(dir, p.header.pdu_ref, false, b, now, out),
            Rosctr::ACK | Rosctr::ACK_DATA => {
                let pos = self
                    .pending
                    .iter()
                    .position(|q| q.dir != dir && !q.userdata && q.pdu_ref == p.header.pdu_ref);
                match pos.and_then(|i| self.pending.remove(i)) {
                    Some(mut q) => {
                        q.resp.clear();
                        q.resp.extend_from_slice(b);
                        q.resp_ts = now;
                        q.resp_pdus += 1;
                        self.emit(out, q);
                    }
                    None => self.emit_lone(out, dir, b, now),
                }
            }
            Rosctr::USERDATA => {
                let Some(up) = userdata::parse_param(p.param) else {
                    self.emit_lone(out, dir, b, now);
                    return;
                };
                match up.kind {
                    UserdataType::REQUEST => {
                        // A follow-up request asks for the next data unit.
                        let key = (up.group.0, up.sub_function, up.sequence);
                        let pos = self
                            .pending
                            .iter()
                            .position(|q| q.dir == dir && q.userdata && q.awaiting == Some(key));
                        match pos {
                            Some(i) => {
                                let q = &mut self.pending[i];
                                q.pdu_ref = p.header.pdu_ref;
                                q.req_pdus += 1;
                                q.awaiting = None;
                                q.last_ts = now;
                            }
                            None => self.s7_request(dir, p.header.pdu_ref, true, b, now, out),
                        }
                    }
                    UserdataType::RESPONSE => {
                        let pos = self.pending.iter().position(|q| {
                            q.dir != dir
                                && q.userdata
                                && q.awaiting.is_none()
                                && q.pdu_ref == p.header.pdu_ref
                        });
                        let Some(i) = pos else {
                            self.emit_lone(out, dir, b, now);
                            return;
                        };
                        let q = &mut self.pending[i];
                        q.resp.clear();
                        q.resp.extend_from_slice(b);
                        q.resp_ts = now;
                        q.last_ts = now;
                        q.resp_pdus += 1;
                        if let Some(d) = userdata::parse_data(p.data) {
                            let room = MAX_USERDATA_PAYLOAD.saturating_sub(q.payload.len());
                            if d.payload.len() > room {
                                q.payload_truncated = true;
                            }
                            q.payload
                                .extend_from_slice(&d.payload[..d.payload.len().min(room)]);
                        }
                        if up.more_follows() {
                            q.awaiting = Some((up.group.0, up.sub_function, up.sequence));
                        } else if let Some(q) = self.pending.remove(i) {
                            self.emit(out, q);
                        }
                    }
                    // Pushes (cyclic data, alarms, mode transitions) stand alone.
                    _ => self.emit_lone(out, dir, b, now),
                }
            }
            _ => self.emit_lone(out, dir, b, now),
        }
    }

    fn s7_request(
        &mut self,
        dir: usize,
        pdu_ref: u16,
        userdata: bool,
        b: &[u8],
        now: i64,
        out: &mut Out<'_>,
    ) {
        // A repeated reference supersedes the unanswered request.
        if let Some(i) = self
            .pending
            .iter()
            .position(|q| q.dir == dir && q.userdata == userdata && q.pdu_ref == pdu_ref)
        {
            if let Some(old) = self.pending.remove(i) {
                self.emit(out, old);
            }
        }
        if self.pending.len() + self.plus_pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                self.pending_full(out);
                self.emit(out, old);
            }
        }
        let mut req = self.spare.pop().unwrap_or_default();
        req.extend_from_slice(b);
        self.pending.push_back(Pending {
            ts: now,
            last_ts: now,
            dir,
            pdu_ref,
            userdata,
            req,
            resp: self.spare.pop().unwrap_or_default(),
            resp_ts: now,
            payload: self.spare.pop().unwrap_or_default(),
            payload_truncated: false,
            req_pdus: 1,
            resp_pdus: 0,
            awaiting: None,
        });
    }

    fn pending_full(&self, out: &mut Out<'_>) {
        out.anomaly(
            AnomalyKind::Resource,
            S7,
            "pending_table_full",
            Cow::Borrowed("too many unanswered S7 requests; the oldest was ended"),
        );
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| now.saturating_sub(p.last_ts) > timeout)
        {
            if let Some(p) = self.pending.remove(i) {
                self.emit(out, p);
            }
        }
        while let Some(i) = self
            .plus_pending
            .iter()
            .position(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.plus_pending.remove(i) {
                self.emit_plus_pending(out, p, None);
            }
        }
    }

    /// A PDU whose partner was not seen, or a push.
    fn emit_lone(&mut self, out: &mut Out<'_>, dir: usize, b: &[u8], now: i64) {
        let Ok((p, _)) = pdu::parse_pdu_lenient(b) else {
            return;
        };
        let is_request = match p.header.rosctr {
            Rosctr::JOB => true,
            Rosctr::USERDATA => match userdata::parse_param(p.param) {
                Some(u) => u.kind != UserdataType::RESPONSE,
                None => dir == self.request_dir,
            },
            Rosctr::ACK | Rosctr::ACK_DATA => false,
            // Unknown PDU types: judged by direction.
            _ => dir == self.request_dir,
        };
        let mut payload = Vec::new();
        if p.header.rosctr == Rosctr::USERDATA {
            if let Some(d) = userdata::parse_data(p.data) {
                payload.extend_from_slice(d.payload);
            }
        }
        let q = Pending {
            ts: now,
            last_ts: now,
            dir,
            pdu_ref: p.header.pdu_ref,
            userdata: p.header.rosctr == Rosctr::USERDATA,
            req: if is_request { b.to_vec() } else { Vec::new() },
            resp: if is_request { Vec::new() } else { b.to_vec() },
            resp_ts: now,
            payload,
            payload_truncated: false,
            req_pdus: u16::from(is_request),
            resp_pdus: u16::from(!is_request),
            awaiting: None,
        };
        self.emit(out, q);
    }

    /// Emits one S7comm transaction and recycles its buffers.
    fn emit(&mut self, out: &mut Out<'_>, mut q: Pending) {
        emit_s7(out, &q, self.rack_slot);
        for mut v in [
            std::mem::take(&mut q.req),
            std::mem::take(&mut q.resp),
            std::mem::take(&mut q.payload),
        ] {
            if self.spare.len() < 16 && v.capacity() <= 4096 {
                v.clear();
                self.spare.push(v);
            }
        }
    }

    // ----------------------------------------------------------- COTP events

    /// Emits the connection event once its outcome is known, or (`force`)
    /// whatever is known now.
    fn flush_connect(&mut self, out: &mut Out<'_>, force: bool) {
        let Some(c) = &self.connect else {
            return;
        };
        if !c.answered && !force {
            return;
        }
        let Some(c) = self.connect.take() else {
            return;
        };
        let ev = CotpConnect {
            disconnect: false,
            calling_tsap: (!c.calling.is_empty()).then_some(&c.calling[..]),
            called_tsap: (!c.called.is_empty()).then_some(&c.called[..]),
            tpdu_size: c.tpdu_size,
            confirmed: c.confirmed,
            reason: c.reason,
        };
        let status = if c.reason.is_some() {
            Status::Exception
        } else if !c.confirmed {
            Status::NoResponse
        } else {
            Status::Ok
        };
        self.emit_cotp(out, c.ts, &ev, status);
    }

    fn emit_cotp(&self, out: &mut Out<'_>, ts: i64, ev: &CotpConnect<'_>, status: Status) {
        let (code, name) = if ev.disconnect {
            (TpduCode::DR.0, "cotp_disconnect")
        } else {
            (TpduCode::CR.0, "cotp_connect")
        };
        let ics = IcsSummary {
            function_code: u32::from(code),
            function: name,
            operation: Operation::Session,
            status,
            exception_code: if status == Status::Exception {
                ev.reason.map(u32::from)
            } else {
                None
            },
        };
        if self.proto == Some(Proto::Plus) {
            let e = S7commPlusEvent {
                cotp: Some(*ev),
                version: None,
                request: None,
                response: None,
                notification: None,
                request_fragments: 0,
                response_fragments: 0,
                no_response_expected: false,
                download: false,
                rack_slot: self.rack_slot,
                latency_ns: None,
                flags: Flags::default(),
                ics,
            };
            out.transaction(ts, &Event::S7commPlus(&e));
        } else {
            let e = S7commEvent {
                cotp: Some(*ev),
                request: None,
                response: None,
                payload: None,
                request_pdus: 0,
                response_pdus: 0,
                rack_slot: self.rack_slot,
                latency_ns: None,
                flags: Flags::default(),
                ics,
            };
            out.transaction(ts, &Event::S7comm(&e));
        }
    }

    // ----------------------------------------------------------- S7comm-plus

    fn plus_fragment(&mut self, dir: usize, b: &[u8], now: i64, out: &mut Out<'_>) {
        let f = match plus::parse_fragment(b) {
            Ok(f) => f,
            Err(e) => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    S7P,
                    "malformed_pdu",
                    Cow::Owned(format!("S7comm-plus fragment unreadable: {e:?}")),
                );
                return;
            }
        };
        let d = &mut self.dirs[dir];
        if d.plus_fragments == 0 {
            d.plus_version = f.version;
            d.plus_ts = now;
            d.plus_overflow = false;
        }
        d.plus_fragments = d.plus_fragments.saturating_add(1);
        if d.plus.len() + f.data.len() > MAX_PLUS_PDU {
            if !d.plus_overflow {
                d.plus_overflow = true;
                out.anomaly(
                    AnomalyKind::Resource,
                    S7P,
                    "pdu_too_long",
                    Cow::Owned(format!(
                        "S7comm-plus fragments joined exceed {MAX_PLUS_PDU} octets; the rest was dropped"
                    )),
                );
            }
        } else {
            d.plus.extend_from_slice(f.data);
        }
        let mut flags = Flags::default();
        if f.trailing > 0 {
            flags.set(Flags::TRAILING_BYTES);
        }
        if !f.last && f.trailing == 0 {
            return;
        }
        let d = &mut self.dirs[dir];
        let data = std::mem::take(&mut d.plus);
        let (version, fragments, ts, truncated) =
            (d.plus_version, d.plus_fragments, d.plus_ts, d.plus_overflow);
        d.plus_fragments = 0;
        d.plus_overflow = false;
        if truncated {
            flags.set(Flags::REASSEMBLY_TRUNCATED);
        }
        self.plus_pdu(dir, version, fragments, &data, ts, flags, out);
        let mut data = data;
        data.clear();
        self.dirs[dir].plus = data;
    }

    #[allow(clippy::too_many_arguments)]
    fn plus_pdu(
        &mut self,
        dir: usize,
        version: u8,
        fragments: u16,
        data: &[u8],
        ts: i64,
        flags: Flags,
        out: &mut Out<'_>,
    ) {
        let p = match plus::parse_pdu(version, data) {
            Ok(p) => p,
            Err(_) => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    S7P,
                    "malformed_pdu",
                    Cow::Borrowed("S7comm-plus PDU too short for its opcode's fields"),
                );
                let ev = S7commPlusEvent {
                    cotp: None,
                    version: Some(version),
                    request: None,
                    response: None,
                    notification: None,
                    request_fragments: fragments,
                    response_fragments: 0,
                    no_response_expected: false,
                    download: false,
                    rack_slot: self.rack_slot,
                    latency_ns: None,
                    flags,
                    ics: IcsSummary {
                        function_code: 0,
                        function: "unknown",
                        operation: Operation::Other,
                        status: Status::Malformed,
                        exception_code: None,
                    },
                };
                out.transaction(ts, &Event::S7commPlus(&ev));
                return;
            }
        };
        match p.opcode {
            Opcode::REQUEST => {
                let download = self.download_context(&p);
                if p.no_response_expected() {
                    let ev = plus_event(
                        Some((&p, fragments)),
                        None,
                        None,
                        flags,
                        download,
                        true,
                        self.rack_slot,
                    );
                    out.transaction(ts, &Event::S7commPlus(&ev));
                    return;
                }
                let seq = p.sequence.unwrap_or(0);
                if let Some(i) = self
                    .plus_pending
                    .iter()
                    .position(|q| q.dir == dir && q.sequence == seq)
                {
                    if let Some(old) = self.plus_pending.remove(i) {
                        self.emit_plus_pending(out, old, None);
                    }
                }
                if self.pending.len() + self.plus_pending.len()
                    >= out.cfg.max_pending_transactions.max(1)
                {
                    if let Some(old) = self.plus_pending.pop_front() {
                        self.pending_full(out);
                        self.emit_plus_pending(out, old, None);
                    }
                }
                let mut buf = self.spare.pop().unwrap_or_default();
                buf.extend_from_slice(data);
                self.plus_pending.push_back(PlusPending {
                    ts,
                    dir,
                    sequence: seq,
                    version,
                    fragments,
                    data: buf,
                    truncated: flags.0 & Flags::REASSEMBLY_TRUNCATED != 0,
                    download,
                });
            }
            Opcode::RESPONSE | Opcode::RESPONSE2 => {
                let seq = p.sequence.unwrap_or(0);
                let pos = self
                    .plus_pending
                    .iter()
                    .position(|q| q.dir != dir && q.sequence == seq);
                match pos.and_then(|i| self.plus_pending.remove(i)) {
                    Some(q) => self.emit_plus_pending(out, q, Some((&p, fragments, ts, flags))),
                    None => {
                        let ev = plus_event(
                            None,
                            Some((&p, fragments, ts)),
                            None,
                            flags,
                            false,
                            false,
                            self.rack_slot,
                        );
                        out.transaction(ts, &Event::S7commPlus(&ev));
                    }
                }
            }
            _ => {
                let ev = plus_event(
                    None,
                    None,
                    Some((&p, fragments)),
                    flags,
                    false,
                    false,
                    self.rack_slot,
                );
                out.transaction(ts, &Event::S7commPlus(&ev));
            }
        }
    }

    /// Tracks the download transaction of TIA Portal: a BeginSequence
    /// naming "DLTransaction" opens it, nested sequences count, and the
    /// matching EndSequence closes it. Returns whether `p` belongs to it.
    fn download_context(&mut self, p: &PlusPdu<'_>) -> bool {
        match p.function {
            Some(PlusFunction::BEGIN_SEQUENCE) => {
                if self.download_depth > 0 || p.names_download_transaction() {
                    self.download_depth = self.download_depth.saturating_add(1);
                    return true;
                }
                false
            }
            Some(PlusFunction::END_SEQUENCE) if self.download_depth > 0 => {
                self.download_depth -= 1;
                true
            }
            _ => self.download_depth > 0,
        }
    }

    fn emit_plus_pending(
        &mut self,
        out: &mut Out<'_>,
        mut q: PlusPending,
        resp: Option<(&PlusPdu<'_>, u16, i64, Flags)>,
    ) {
        let mut flags = resp.map(|r| r.3).unwrap_or_default();
        if q.truncated {
            flags.set(Flags::REASSEMBLY_TRUNCATED);
        }
        match plus::parse_pdu(q.version, &q.data) {
            Ok(req) => {
                let mut ev = plus_event(
                    Some((&req, q.fragments)),
                    resp.map(|(p, f, t, _)| (p, f, t)),
                    None,
                    flags,
                    q.download,
                    false,
                    self.rack_slot,
                );
                if let Some((_, _, t, _)) = resp {
                    ev.latency_ns = Some(t - q.ts);
                }
                out.transaction(q.ts, &Event::S7commPlus(&ev));
            }
            Err(_) => {
                // Stored requests always parsed once; nothing to report.
            }
        }
        let mut v = std::mem::take(&mut q.data);
        if self.spare.len() < 16 && v.capacity() <= 4096 {
            v.clear();
            self.spare.push(v);
        }
    }
}

/// Copies a TSAP (bounded).
fn tsap_bytes(t: Option<s7comm::Tsap<'_>>) -> Vec<u8> {
    t.map(|t| t.0[..t.0.len().min(MAX_TSAP)].to_vec())
        .unwrap_or_default()
}

/// Where a TPKT header starts: at the segment start after a gap (delivery
/// resumes on a segment boundary) when it is valid, else the first offset
/// with a valid TPKT header followed by a known COTP TPDU code whose length
/// indicator fits.
fn resync_point(b: &[u8], at_start: bool) -> Option<usize> {
    let plausible = |s: &[u8]| -> bool {
        let Ok(t) = Tpkt::parse(s) else {
            return false;
        };
        if t.reserved != 0 {
            return false;
        }
        let (Some(&li), Some(&code)) = (s.get(4), s.get(5)) else {
            return false;
        };
        usize::from(li) < usize::from(t.length) - TPKT_LEN
            && TpduCode::of(code).is_known()
            && (TpduCode::of(code) != TpduCode::DT || li == 2)
    };
    if at_start && plausible(b) {
        return Some(0);
    }
    (0..b.len().saturating_sub(5)).find(|&i| plausible(&b[i..]))
}

/// The S7comm function code of a userdata transaction: 0x7000, the group in
/// bits 8-11 and the sub-function in bits 0-7 (0x7401 read SZL). The
/// mode-transition push has no sub-function: 0x7000.
pub(crate) fn userdata_code(u: &UserdataParam) -> u32 {
    let sub = if u.is_mode_transition() {
        0
    } else {
        u32::from(u.sub_function)
    };
    0x7000 | u32::from(u.group.0 & 0x0f) << 8 | sub
}

/// Builds and emits one S7comm event from a pending transaction.
fn emit_s7(out: &mut Out<'_>, q: &Pending, rack_slot: Option<(u8, u8)>) {
    fn parse(b: &[u8]) -> Option<(s7comm::Pdu<'_>, bool)> {
        if b.is_empty() {
            None
        } else {
            pdu::parse_pdu_lenient(b).ok()
        }
    }
    let req = parse(&q.req);
    let resp = parse(&q.resp);
    let mut flags = Flags::default();
    let mut malformed = false;
    for (p, short) in [req, resp].into_iter().flatten() {
        if short {
            flags.set(Flags::LENGTH_MISMATCH);
            malformed = true;
        }
        if p.trailing > 0 {
            flags.set(Flags::TRAILING_BYTES);
        }
    }
    let request = req.map(|r| r.0);
    let response = resp.map(|r| r.0);
    if q.payload_truncated {
        flags.set(Flags::REASSEMBLY_TRUNCATED);
    }
    if q.awaiting.is_some() {
        flags.set(Flags::RESPONSE_INCOMPLETE);
    }
    let first = request.or(response);
    let Some(first) = first else {
        return;
    };
    let mut exception_code = None;
    let (function_code, function, operation);
    if first.header.rosctr == Rosctr::USERDATA {
        let qp = request.and_then(|r| userdata::parse_param(r.param));
        let rp = response.and_then(|r| userdata::parse_param(r.param));
        match qp.or(rp) {
            Some(u) => {
                function_code = userdata_code(&u);
                function = if u.is_mode_transition() {
                    "mode_transition"
                } else {
                    u.group.sub_function_name(u.sub_function)
                };
                operation = u.group.operation(u.sub_function);
                if let (Some(a), Some(b)) = (qp, rp) {
                    if a.group != b.group || a.sub_function != b.sub_function {
                        flags.set(Flags::RESPONSE_MISMATCH);
                    }
                }
            }
            None => {
                malformed = true;
                function_code = 0x7000;
                function = "unknown";
                operation = Operation::Other;
            }
        }
        if let Some(e) = rp.and_then(|u| u.error_code).filter(|e| e.0 != 0) {
            exception_code = Some(u32::from(e.0));
        }
        let szl_read =
            rp.is_some_and(|u| u.group == FunctionGroup::CPU_FUNCTIONS && u.sub_function == 1);
        if szl_read && q.awaiting.is_none() && !q.payload_truncated {
            if let Some(s) = userdata::szl_response(&q.payload) {
                if s.inconsistent() {
                    flags.set(Flags::SZL_INCONSISTENT);
                }
            }
        }
    } else {
        let job = request.and_then(|r| pdu::parse_job(r.param));
        let ack = response.and_then(|r| pdu::parse_ack(r.param));
        let f = job.map(|j| j.function()).or(ack.map(|a| a.function()));
        match f {
            Some(f) => {
                function_code = u32::from(f.0);
                function = f.name();
                let pi = match job {
                    Some(JobParam::Pi(_, pi)) => Some(pi.service.0),
                    _ => None,
                };
                operation = f.operation(pi);
            }
            None => {
                function_code = 0;
                function = "unknown";
                operation = Operation::Other;
            }
        }
        if matches!(job, Some(JobParam::Malformed(..)))
            || matches!(ack, Some(AckParam::Malformed(..)))
            || (request.is_some() && job.is_none())
        {
            malformed = true;
        }
        if let (Some(j), Some(a)) = (job, ack) {
            if j.function() != a.function() {
                flags.set(Flags::RESPONSE_MISMATCH);
            }
        }
        // Item checks: counts and values against the request.
        let req_items = match job {
            Some(JobParam::ReadVar(i)) | Some(JobParam::WriteVar(i)) => {
                if i.inconsistent() {
                    flags.set(Flags::ITEM_COUNT_MISMATCH);
                }
                Some(i.count)
            }
            _ => None,
        };
        if let Some(JobParam::WriteVar(_)) = job {
            if let Some(r) = request {
                let mut it = pdu::DataItems::new(r.data);
                let n = it.by_ref().count();
                if it.truncated {
                    flags.set(Flags::DATA_TRUNCATED);
                }
                if Some(n) != req_items.map(usize::from) {
                    flags.set(Flags::ITEM_COUNT_MISMATCH);
                }
            }
        }
        if let (Some(AckParam::Items(f, n)), Some(r)) = (ack, response) {
            if req_items.is_some_and(|c| c != n) {
                flags.set(Flags::RESPONSE_MISMATCH);
            }
            if f == Function::READ_VAR {
                let mut it = pdu::DataItems::new(r.data);
                let mut failed = None;
                let mut count = 0;
                for i in it.by_ref() {
                    count += 1;
                    if i.return_code.0 != 0xff && failed.is_none() {
                        failed = Some(u32::from(i.return_code.0));
                    }
                }
                if it.truncated {
                    flags.set(Flags::DATA_TRUNCATED);
                }
                if count != usize::from(n) {
                    flags.set(Flags::ITEM_COUNT_MISMATCH);
                }
                exception_code = exception_code.or(failed);
            } else if f == Function::WRITE_VAR {
                if r.data.len() != usize::from(n) {
                    flags.set(Flags::ITEM_COUNT_MISMATCH);
                }
                if let Some(&rc) = r.data.iter().find(|&&rc| rc != 0xff) {
                    exception_code = exception_code.or(Some(u32::from(rc)));
                }
            }
        }
        // The header error outranks item return codes.
        if let Some(r) = response {
            let e = r.header.error();
            if e.0 != 0 {
                exception_code = Some(u32::from(e.0));
            }
        }
    }
    let status = if malformed {
        Status::Malformed
    } else if exception_code.is_some() {
        Status::Exception
    } else if response.is_none() && !userdata::is_push(&first) {
        Status::NoResponse
    } else {
        Status::Ok
    };
    let ev = S7commEvent {
        cotp: None,
        request,
        response,
        payload: (first.header.rosctr == Rosctr::USERDATA).then_some(&q.payload[..]),
        request_pdus: q.req_pdus,
        response_pdus: q.resp_pdus,
        rack_slot,
        latency_ns: (request.is_some() && response.is_some()).then(|| q.resp_ts - q.ts),
        flags,
        ics: IcsSummary {
            function_code,
            function,
            operation,
            status,
            exception_code,
        },
    };
    if malformed {
        out.anomaly(
            AnomalyKind::Applayer,
            S7,
            "malformed_pdu",
            Cow::Owned(format!("S7comm {function} PDU too short for its fields")),
        );
    }
    out.transaction(q.ts, &Event::S7comm(&ev));
}

/// Builds an S7comm-plus event from its parts.
fn plus_event<'a>(
    req: Option<(&PlusPdu<'a>, u16)>,
    resp: Option<(&PlusPdu<'a>, u16, i64)>,
    notification: Option<(&PlusPdu<'a>, u16)>,
    mut flags: Flags,
    download: bool,
    no_response_expected: bool,
    rack_slot: Option<(u8, u8)>,
) -> S7commPlusEvent<'a> {
    let request = req.map(|r| *r.0);
    let response = resp.map(|r| *r.0);
    let notification_pdu = notification.map(|n| *n.0);
    let first = request.or(response).or(notification_pdu);
    if let (Some(a), Some(b)) = (request, response) {
        if a.function != b.function {
            flags.set(Flags::RESPONSE_MISMATCH);
        }
        if a.version != b.version {
            flags.set(Flags::VERSION_MISMATCH);
        }
    }
    let (function_code, function, mut operation) = match first {
        Some(p) if p.opcode == Opcode::NOTIFICATION => (0, "notification", Operation::Other),
        Some(p) => match p.function {
            Some(f) => (u32::from(f.0), f.name(), f.operation()),
            None => (0, "unknown", Operation::Other),
        },
        None => (0, "unknown", Operation::Other),
    };
    if let Some(r) = request {
        match r.function {
            // Opening a session: CreateObject on the null server session.
            Some(PlusFunction::CREATE_OBJECT)
                if r.object_id() == Some(plus::OBJECT_NULL_SERVER_SESSION)
                    || r.session_id == Some(plus::OBJECT_NULL_SERVER_SESSION) =>
            {
                operation = Operation::Session
            }
            // Closing it, or setting up its attributes.
            Some(PlusFunction::DELETE_OBJECT) | Some(PlusFunction::SET_MULTI_VARIABLES)
                if r.object_id().is_some() && r.object_id() == r.session_id =>
            {
                operation = Operation::Session
            }
            Some(PlusFunction::SET_VARIABLE)
                if r.set_variable()
                    .is_some_and(|s| s.is_operating_state_request()) =>
            {
                operation = Operation::ModeChange
            }
            _ => {}
        }
    }
    if download {
        operation = Operation::ProgramDownload;
    }
    let error = response.filter(|r| r.is_error());
    let status = if error.is_some() {
        Status::Exception
    } else if request.is_some() && response.is_none() && !no_response_expected {
        Status::NoResponse
    } else {
        Status::Ok
    };
    S7commPlusEvent {
        cotp: None,
        version: first.map(|p| p.version),
        request,
        response,
        notification: notification_pdu,
        request_fragments: req.map_or(notification.map_or(0, |n| n.1), |r| r.1),
        response_fragments: resp.map_or(0, |r| r.1),
        no_response_expected,
        download,
        rack_slot,
        latency_ns: None,
        flags,
        ics: IcsSummary {
            function_code,
            function,
            operation,
            status,
            exception_code: error
                .and_then(|r| r.return_value)
                .map(|v| u32::from(v as u16)),
        },
    }
}
