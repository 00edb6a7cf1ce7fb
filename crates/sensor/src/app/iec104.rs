//! IEC 60870-5-104 sessions: APDU framing over the reassembled stream,
//! per-direction sequence tracking, and transactions.
//!
//! Framing reads APDUs straight from the delivered bytes; only an APDU
//! split across segments is copied (at most 255 bytes per direction).
//! Bytes that do not start an APDU (a start byte other than 0x68, a length
//! outside 4..=253) are reported once per run and skipped up to the next
//! start byte followed by a valid length, as a receiving station would
//! resynchronise; after a stream gap the same search runs silently.
//!
//! Sequence numbers (104 §5.1): each direction's N(S) must count up by one
//! per I-format APDU (`send_sequence_gap` otherwise), and an N(R) must lie
//! between the last acknowledged number and the other direction's next
//! N(S): acknowledging I-format APDUs that were never sent is
//! `receive_sequence_out_of_window`. Tracking starts with the first APDU
//! seen in each direction (a capture can start mid-connection) and restarts
//! after a gap.
//!
//! Transactions, one event each:
//!
//! - STARTDT, STOPDT, TESTFR: the activation with its confirmation from
//!   the other side.
//! - Commands, system commands and parameters (`C_*`, `P_*`) with cause
//!   act or deact: paired with ACTCON/DEACTCON (or a negative mirror, causes
//!   44-47) from the other side by type, common address and first
//!   information object address. Interrogations (C_IC, C_CI) and executed
//!   commands may be terminated by ACTTERM: after a positive ACTCON they
//!   wait for it, and end without it at the next request for the same
//!   object, at the transaction timeout or at the end of the flow. Selects
//!   and negative confirmations end at the confirmation.
//! - C_RD_NA_1 (cause req) with the monitored data the station sends back
//!   with cause req for the same address.
//! - Everything else (monitored data, file transfer, a confirmation whose
//!   request was not seen) is one event per ASDU, however many objects it
//!   carries.
//!
//! S-format APDUs are acknowledgements, not transactions: they are counted
//! (and their N(R) checked) and reported in the link record written once
//! per connection when the flow ends.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_events::{Operation, Status};
use plantshield_protocols::iec104::{
    apdu_size, parse_apdu, parse_asdu, ApciError, ApciFlags, Asdu, Cause, Control, TypeId,
    UFunction, UProcedure, MAX_APDU_LEN, MAX_APDU_LENGTH, MAX_ASDU_LEN, MIN_APDU_LENGTH,
    SEQUENCE_MODULUS, START, U_CODE_BASE,
};

use super::{Detector, Out, Session};
use crate::event::{
    AnomalyKind, Event, IcsSummary, Iec104Asdu, Iec104Event, Iec104Flags, Iec104Link,
    Iec104LinkCounters, Iec104Transaction, Iec104UFrames,
};

const LAYER: &str = "iec104";

pub(crate) const DETECTOR: Detector = Detector {
    name: "iec104",
    tcp_ports: &[plantshield_protocols::iec104::PORT],
    udp_ports: &[],
    probe: plantshield_protocols::iec104::probe,
    new: |request_dir| Box::new(Iec104Session::new(request_dir)),
};

/// An ASDU kept while its transaction is open (inline: pairing allocates
/// only the pending entry).
#[derive(Clone)]
struct Frame {
    ts: i64,
    send: u16,
    receive: u16,
    len: u8,
    asdu: [u8; MAX_ASDU_LEN],
}

impl Frame {
    fn new(ts: i64, send: u16, receive: u16, asdu: &[u8]) -> Box<Frame> {
        let n = asdu.len().min(MAX_ASDU_LEN);
        let mut f = Box::new(Frame {
            ts,
            send,
            receive,
            len: n as u8,
            asdu: [0; MAX_ASDU_LEN],
        });
        f.asdu[..n].copy_from_slice(&asdu[..n]);
        f
    }

    fn view(&self) -> Iec104Asdu<'_> {
        Iec104Asdu {
            ts_ns: self.ts,
            send_sequence: self.send,
            receive_sequence: self.receive,
            asdu: parse_asdu(&self.asdu[..usize::from(self.len)]),
        }
    }
}

/// The pairing key: type, common address, first object address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    type_id: u8,
    common_address: u16,
    ioa: u32,
}

/// The global common address: a command to every station (a general
/// interrogation or clock synchronisation after STARTDT, typically); each
/// station confirms it with its own address.
const BROADCAST_CA: u16 = 0xFFFF;

impl Key {
    fn of(a: &Asdu<'_>) -> Key {
        Key {
            type_id: a.type_id.0,
            common_address: a.common_address,
            ioa: a.first_ioa().unwrap_or(u32::MAX),
        }
    }

    /// Whether a mirror with this key answers the request keyed `request`.
    fn answers(self, request: Key) -> bool {
        self.type_id == request.type_id
            && self.ioa == request.ioa
            && (self.common_address == request.common_address
                || request.common_address == BROADCAST_CA)
    }
}

/// A request waiting for its confirmation (and maybe its termination).
struct Pending {
    /// Flow direction the request travelled in.
    dir: usize,
    key: Key,
    request: Box<Frame>,
    confirmation: Option<Box<Frame>>,
    state: State,
    /// Capture time of the last frame: the timeout runs from here.
    last_ts: i64,
}

/// Where a pending request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Sent, not confirmed.
    Unconfirmed,
    /// Positively confirmed; an ACTTERM may follow.
    AwaitTermination,
    /// A read command confirmed; the data it asked for may follow.
    AwaitAnswer,
    /// Negatively confirmed; a mirror with cause 44-47 may follow at once
    /// (some stations send both). Ends at the controlled station's next
    /// ASDU.
    Rejected,
}

/// Sequence state of one direction.
#[derive(Clone, Copy, Default)]
struct Seq {
    /// The N(S) expected next.
    next_send: Option<u16>,
    /// The last valid N(R) sent.
    acked: Option<u16>,
}

/// One IEC 104 connection.
pub(crate) struct Iec104Session {
    request_dir: usize,
    partial: [Vec<u8>; 2],
    /// Skipping bytes up to the next plausible APDU start.
    skipping: [bool; 2],
    /// The skipping follows a stream gap: not reported again.
    quiet: [bool; 2],
    seq: [Seq; 2],
    /// Activation time of a pending U-format procedure, by direction of
    /// the activation and procedure.
    u_pending: [[Option<i64>; 3]; 2],
    pending: VecDeque<Pending>,
    link: [Iec104LinkCounters; 2],
}

fn dist(from: u16, to: u16) -> u16 {
    to.wrapping_sub(from) % SEQUENCE_MODULUS
}

/// A start byte followed by a valid length (or by the end of the bytes).
fn plausible_start(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&START)
        && b.get(i + 1)
            .is_none_or(|l| (MIN_APDU_LENGTH..=MAX_APDU_LENGTH).contains(l))
}

impl Session for Iec104Session {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.stream(dir, bytes, out);
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        self.partial[dir].clear();
        self.skipping[dir] = true;
        self.quiet[dir] = true;
        // I-format APDUs may have been lost both ways' numbering depends on.
        self.seq[dir] = Seq::default();
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        let now = out.ts;
        for dir in 0..2 {
            for p in 0..3 {
                if let Some(ts) = self.u_pending[dir][p].take() {
                    emit_u(out, dir_proc(p).act(), ts, true, false, None);
                }
            }
        }
        while let Some(p) = self.pending.pop_front() {
            end_pending(out, p);
        }
        for dir in 0..2 {
            if !self.partial[dir].is_empty() {
                let n = self.partial[dir].len();
                self.partial[dir].clear();
                self.link[dir].skipped_bytes += n as u64;
                out.anomaly(
                    AnomalyKind::Applayer,
                    LAYER,
                    "truncated_apdu",
                    Cow::Owned(format!("the connection ended inside an APDU ({n} bytes)")),
                );
            }
        }
        let l = &self.link;
        if l.iter().any(|c| c.i + c.s + c.u + c.skipped_bytes > 0) {
            let rec = Iec104Link {
                toserver: l[self.request_dir],
                toclient: l[1 - self.request_dir],
            };
            // A record of the connection, not a transaction: written to
            // the sink directly so that transaction counters ignore it.
            let env = out.envelope(now);
            out.emit(&env, &Event::Iec104(&Iec104Event::Link(rec)));
        }
    }
}

fn dir_proc(i: usize) -> UProcedure {
    match i {
        0 => UProcedure::Startdt,
        1 => UProcedure::Stopdt,
        _ => UProcedure::Testfr,
    }
}

impl Iec104Session {
    fn new(request_dir: usize) -> Self {
        Iec104Session {
            request_dir,
            partial: [Vec::new(), Vec::new()],
            skipping: [false; 2],
            quiet: [false; 2],
            seq: [Seq::default(); 2],
            u_pending: [[None; 3]; 2],
            pending: VecDeque::new(),
            link: [Iec104LinkCounters::default(); 2],
        }
    }

    /// Stream bytes in direction `dir`.
    fn stream(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        if !self.partial[dir].is_empty() {
            // Complete the split APDU: first its length octet, then the
            // octets it announces.
            loop {
                let p = &self.partial[dir];
                let need = match apdu_size(p) {
                    Ok(n) => n.saturating_sub(p.len()),
                    Err(ApciError::Incomplete) => 2 - p.len(),
                    Err(e) => {
                        // The octet after a start byte at a segment's end
                        // is not a valid length.
                        let n = p.len();
                        self.partial[dir].clear();
                        self.bad_start(dir, e, n, out);
                        break;
                    }
                };
                if need == 0 {
                    let apdu = std::mem::take(&mut self.partial[dir]);
                    self.apdu(dir, &apdu, out);
                    // Keep the allocation for the next split APDU.
                    self.partial[dir] = apdu;
                    self.partial[dir].clear();
                    break;
                }
                if bytes.is_empty() {
                    return;
                }
                let take = need.min(bytes.len());
                self.partial[dir].extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
            }
        }
        while !bytes.is_empty() {
            if self.skipping[dir] {
                match (0..bytes.len()).find(|&i| plausible_start(bytes, i)) {
                    Some(i) => {
                        self.link[dir].skipped_bytes += i as u64;
                        bytes = &bytes[i..];
                        self.skipping[dir] = false;
                        self.quiet[dir] = false;
                    }
                    None => {
                        self.link[dir].skipped_bytes += bytes.len() as u64;
                        return;
                    }
                }
            }
            match apdu_size(bytes) {
                Ok(n) if bytes.len() >= n => {
                    let (apdu, rest) = bytes.split_at(n);
                    self.apdu(dir, apdu, out);
                    bytes = rest;
                }
                Ok(_) | Err(ApciError::Incomplete) => {
                    debug_assert!(bytes.len() < MAX_APDU_LEN);
                    self.partial[dir].extend_from_slice(bytes);
                    return;
                }
                Err(e) => {
                    // Skip the offending octet, then search.
                    self.bad_start(dir, e, 1, out);
                    bytes = &bytes[1..];
                }
            }
        }
    }

    /// Reports bytes that do not start an APDU (once per run of them) and
    /// starts skipping; `n` bytes are already dropped.
    fn bad_start(&mut self, dir: usize, e: ApciError, n: usize, out: &mut Out<'_>) {
        self.link[dir].skipped_bytes += n as u64;
        let already = self.skipping[dir];
        self.skipping[dir] = true;
        if already || self.quiet[dir] {
            return;
        }
        let (code, msg) = match e {
            ApciError::StartByte(b) => (
                "invalid_start_byte",
                format!("APDU start byte 0x{b:02x} is not 0x68; skipped to the next APDU"),
            ),
            ApciError::Length(l) => (
                "invalid_apdu_length",
                format!("APDU length {l} is outside 4..=253; skipped to the next APDU"),
            ),
            ApciError::Incomplete => return,
        };
        out.anomaly(AnomalyKind::Applayer, LAYER, code, Cow::Owned(msg));
    }

    fn apdu(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        let Ok(apdu) = parse_apdu(bytes) else {
            return;
        };
        let now = out.ts;
        self.expire(now, out);
        if !apdu.flags.is_empty() {
            let names: Vec<&str> = apdu.flags.names().collect();
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "invalid_control_field",
                Cow::Owned(format!(
                    "{}-format APDU breaks the control field rules: {}",
                    apdu.control.format().to_uppercase(),
                    names.join(", ")
                )),
            );
        }
        match apdu.control {
            Control::I { send, receive } => {
                self.link[dir].i += 1;
                self.link[dir].last_send_sequence = Some(send);
                self.link[dir].last_receive_sequence = Some(receive);
                self.check_send(dir, send, out);
                self.check_ack(dir, receive, out);
                self.i_frame(dir, send, receive, apdu.asdu, apdu.flags, now, out);
            }
            Control::S { receive } => {
                self.link[dir].s += 1;
                self.link[dir].last_receive_sequence = Some(receive);
                self.check_ack(dir, receive, out);
            }
            Control::U(f) => {
                self.link[dir].u += 1;
                self.u_frame(dir, f, apdu.flags, now, out);
            }
        }
    }

    fn check_send(&mut self, dir: usize, send: u16, out: &mut Out<'_>) {
        if let Some(exp) = self.seq[dir].next_send {
            if exp != send {
                out.anomaly(
                    AnomalyKind::Applayer,
                    LAYER,
                    "send_sequence_gap",
                    Cow::Owned(format!("N(S) {send} where {exp} was expected")),
                );
            }
        }
        self.seq[dir].next_send = Some((send + 1) % SEQUENCE_MODULUS);
    }

    fn check_ack(&mut self, dir: usize, receive: u16, out: &mut Out<'_>) {
        let sent = self.seq[1 - dir].next_send;
        let ok = match (self.seq[dir].acked, sent) {
            (Some(lo), Some(hi)) => dist(lo, receive) <= dist(lo, hi),
            // Nothing acknowledged seen yet: only "ahead of what was sent"
            // can be told (within half the sequence space).
            (None, Some(hi)) => !(1..SEQUENCE_MODULUS / 2).contains(&dist(hi, receive)),
            (_, None) => true,
        };
        if ok {
            self.seq[dir].acked = Some(receive);
        } else {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "receive_sequence_out_of_window",
                Cow::Owned(format!(
                    "N(R) {receive} acknowledges I-format APDUs never sent (next N(S) {})",
                    sent.unwrap_or(0)
                )),
            );
        }
    }

    fn u_frame(&mut self, dir: usize, f: UFunction, flags: ApciFlags, now: i64, out: &mut Out<'_>) {
        let Some((p, con)) = f.procedure() else {
            emit_u_invalid(out, f, flags, now);
            return;
        };
        let i = p.index();
        if !con {
            if let Some(old) = self.u_pending[dir][i].replace(now) {
                emit_u(out, f, old, true, false, None);
            }
            return;
        }
        match self.u_pending[1 - dir][i].take() {
            Some(act_ts) => emit_u(out, p.act(), act_ts, true, true, Some(now - act_ts)),
            None => emit_u(out, p.act(), now, false, true, None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn i_frame(
        &mut self,
        dir: usize,
        send: u16,
        receive: u16,
        asdu_bytes: &[u8],
        apci: ApciFlags,
        now: i64,
        out: &mut Out<'_>,
    ) {
        if asdu_bytes.is_empty() {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "missing_asdu",
                Cow::Borrowed("I-format APDU without an ASDU"),
            );
            return;
        }
        let view = Iec104Asdu {
            ts_ns: now,
            send_sequence: send,
            receive_sequence: receive,
            asdu: parse_asdu(asdu_bytes),
        };
        let mirror = match view.asdu {
            Ok(a) if a.cot.cause().is_unknown_mirror() => Some(Key::of(&a)),
            _ => None,
        };
        self.end_rejected(dir, mirror, out);
        let asdu = match view.asdu {
            Ok(a) => a,
            Err(t) => {
                out.anomaly(
                    AnomalyKind::Applayer,
                    LAYER,
                    "truncated_asdu",
                    Cow::Owned(format!(
                        "ASDU of {} octets, shorter than its 6-octet data unit identifier",
                        t.len
                    )),
                );
                emit_single(out, view, apci);
                return;
            }
        };
        let cause = asdu.cot.cause();
        let t = asdu.type_id;
        let is_request = t.is_control()
            && (cause == Cause::ACTIVATION
                || cause == Cause::DEACTIVATION
                || (t == TypeId::C_RD_NA_1 && cause == Cause::REQUEST));
        let is_reply = cause == Cause::ACTIVATION_CON
            || cause == Cause::DEACTIVATION_CON
            || cause == Cause::ACTIVATION_TERMINATION
            || cause.is_unknown_mirror();
        if is_request {
            self.request(dir, Key::of(&asdu), send, receive, asdu_bytes, now, out);
        } else if is_reply {
            self.reply(dir, &asdu, asdu_bytes, view, apci, out);
        } else if cause == Cause::REQUEST {
            self.read_answer(dir, &asdu, view, apci, out);
        } else {
            emit_single(out, view, apci);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        dir: usize,
        key: Key,
        send: u16,
        receive: u16,
        bytes: &[u8],
        now: i64,
        out: &mut Out<'_>,
    ) {
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.dir == dir && p.key == key)
        {
            if let Some(old) = self.pending.remove(i) {
                end_pending(out, old);
            }
        }
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    LAYER,
                    "pending_table_full",
                    Cow::Borrowed("too many unconfirmed IEC 104 requests; the oldest was ended"),
                );
                end_pending(out, old);
            }
        }
        self.pending.push_back(Pending {
            dir,
            key,
            request: Frame::new(now, send, receive, bytes),
            confirmation: None,
            state: State::Unconfirmed,
            last_ts: now,
        });
    }

    /// ACTCON, DEACTCON, ACTTERM or a negative mirror.
    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        dir: usize,
        asdu: &Asdu<'_>,
        bytes: &[u8],
        view: Iec104Asdu<'_>,
        apci: ApciFlags,
        out: &mut Out<'_>,
    ) {
        let key = Key::of(asdu);
        let cause = asdu.cot.cause();
        let now = view.ts_ns;
        let found = self
            .pending
            .iter()
            .position(|p| p.dir != dir && key.answers(p.key));
        // A second ACTCON/DEACTCON for a confirmed request answers nothing
        // that is pending: it is logged on its own.
        let duplicate = found.is_some_and(|i| {
            self.pending[i].confirmation.is_some()
                && (cause == Cause::ACTIVATION_CON || cause == Cause::DEACTIVATION_CON)
        });
        let Some(i) = found.filter(|_| !duplicate) else {
            // The request was not seen (or already ended).
            let mut ev = single(view);
            if cause == Cause::ACTIVATION_TERMINATION {
                ev.termination = ev.data.take();
            } else {
                ev.confirmation = ev.data.take();
            }
            finish_tx(&mut ev, apci);
            emit_tx(out, ev);
            return;
        };
        if cause == Cause::ACTIVATION_TERMINATION {
            if let Some(p) = self.pending.remove(i) {
                let mut ev = pending_tx(&p);
                ev.termination = Some(view);
                finish_tx(&mut ev, apci);
                emit_tx(out, ev);
            }
            return;
        }
        if cause.is_unknown_mirror() && self.pending[i].confirmation.is_some() {
            // The mirror after a (negative) confirmation: why it failed.
            if let Some(p) = self.pending.remove(i) {
                let mut ev = pending_tx(&p);
                ev.rejection = Some(view);
                finish_tx(&mut ev, apci);
                emit_tx(out, ev);
            }
            return;
        }
        let p = &mut self.pending[i];
        let next = if asdu.cot.negative() {
            Some(State::Rejected)
        } else if cause.is_unknown_mirror() || cause != Cause::ACTIVATION_CON {
            None
        } else {
            match p.request.view().asdu {
                Ok(r) if r.type_id == TypeId::C_RD_NA_1 => Some(State::AwaitAnswer),
                Ok(r)
                    if r.type_id.may_terminate()
                        && r.cot.cause() == Cause::ACTIVATION
                        && !is_select(&r) =>
                {
                    Some(State::AwaitTermination)
                }
                _ => None,
            }
        };
        if let Some(state) = next {
            p.confirmation = Some(Frame::new(
                now,
                view.send_sequence,
                view.receive_sequence,
                bytes,
            ));
            p.state = state;
            p.last_ts = now;
            return;
        }
        if let Some(p) = self.pending.remove(i) {
            let mut ev = pending_tx(&p);
            ev.confirmation = Some(view);
            ev.latency_ns = Some(now - p.request.ts);
            finish_tx(&mut ev, apci);
            emit_tx(out, ev);
        }
    }

    /// Ends the rejected requests of the other direction: the controlled
    /// station moved on without a mirror (`except` is the key of the
    /// mirror being processed, if the current ASDU is one).
    fn end_rejected(&mut self, dir: usize, except: Option<Key>, out: &mut Out<'_>) {
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| p.dir != dir && p.state == State::Rejected && Some(p.key) != except)
        {
            if let Some(p) = self.pending.remove(i) {
                end_pending(out, p);
            }
        }
    }

    /// A monitored-data ASDU with cause req: the answer to a read command.
    fn read_answer(
        &mut self,
        dir: usize,
        asdu: &Asdu<'_>,
        view: Iec104Asdu<'_>,
        apci: ApciFlags,
        out: &mut Out<'_>,
    ) {
        let ioa = asdu.first_ioa().unwrap_or(u32::MAX);
        let Some(i) = self.pending.iter().position(|p| {
            p.dir != dir
                && p.key.type_id == TypeId::C_RD_NA_1.0
                && p.key.common_address == asdu.common_address
                && p.key.ioa == ioa
        }) else {
            emit_single(out, view, apci);
            return;
        };
        if let Some(p) = self.pending.remove(i) {
            let mut ev = pending_tx(&p);
            ev.data = Some(view);
            if ev.latency_ns.is_none() {
                ev.latency_ns = Some(view.ts_ns - p.request.ts);
            }
            finish_tx(&mut ev, apci);
            emit_tx(out, ev);
        }
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        for dir in 0..2 {
            for p in 0..3 {
                if let Some(ts) = self.u_pending[dir][p] {
                    if now.saturating_sub(ts) > timeout {
                        self.u_pending[dir][p] = None;
                        emit_u(out, dir_proc(p).act(), ts, true, false, None);
                    }
                }
            }
        }
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| now.saturating_sub(p.last_ts) > timeout)
        {
            if let Some(p) = self.pending.remove(i) {
                end_pending(out, p);
            }
        }
    }
}

fn is_select(a: &Asdu<'_>) -> bool {
    a.type_id.has_select()
        && a.objects().next().is_some_and(|o| {
            matches!(
                o.element.value,
                plantshield_protocols::iec104::Value::Command { select: true, .. }
                    | plantshield_protocols::iec104::Value::SetPoint { select: true, .. }
            )
        })
}

/// The transaction of a pending request (with its confirmation if one came).
fn pending_tx(p: &Pending) -> Iec104Transaction<'_> {
    Iec104Transaction {
        u: None,
        request: Some(p.request.view()),
        confirmation: p.confirmation.as_ref().map(|c| c.view()),
        rejection: None,
        termination: None,
        data: None,
        latency_ns: p.confirmation.as_ref().map(|c| c.ts - p.request.ts),
        flags: Iec104Flags::default(),
        ics: blank_ics(),
    }
}

/// Ends a pending request without a new frame: `no_response` when it was
/// never confirmed, else as its confirmation says (without termination).
fn end_pending(out: &mut Out<'_>, p: Pending) {
    let mut ev = pending_tx(&p);
    finish_tx(&mut ev, ApciFlags::default());
    emit_tx(out, ev);
}

fn single(view: Iec104Asdu<'_>) -> Iec104Transaction<'_> {
    Iec104Transaction {
        u: None,
        request: None,
        confirmation: None,
        rejection: None,
        termination: None,
        data: Some(view),
        latency_ns: None,
        flags: Iec104Flags::default(),
        ics: blank_ics(),
    }
}

fn emit_single(out: &mut Out<'_>, view: Iec104Asdu<'_>, apci: ApciFlags) {
    let mut ev = single(view);
    finish_tx(&mut ev, apci);
    emit_tx(out, ev);
}

fn blank_ics() -> IcsSummary {
    IcsSummary {
        function_code: 0,
        function: "not_used",
        operation: Operation::Other,
        status: Status::Ok,
        exception_code: None,
    }
}

/// True when a confirmation carries the request's objects: same addresses,
/// values and qualifiers. Time tags are left aside: stations confirm with
/// their own clock (and C_CS_NA_1's time is its only element).
fn mirrors(q: &Asdu<'_>, c: &Asdu<'_>) -> bool {
    if q.type_id.layout().is_none() {
        return q.objects == c.objects;
    }
    let (mut a, mut b) = (q.objects(), c.objects());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y))
                if x.ioa == y.ioa
                    && x.element.value == y.element.value
                    && x.element.quality == y.element.quality => {}
            _ => return false,
        }
    }
}

/// Fills flags and the `ics` object from the frames of an ASDU transaction.
fn finish_tx(ev: &mut Iec104Transaction<'_>, apci: ApciFlags) {
    let mut flags = Iec104Flags::default();
    flags.apci(apci);
    let frames = [
        ev.request,
        ev.confirmation,
        ev.rejection,
        ev.termination,
        ev.data,
    ];
    let mut malformed = false;
    for f in frames.iter().flatten() {
        match f.asdu {
            Ok(a) => flags.asdu(a.flags),
            Err(_) => malformed = true,
        }
    }
    if let (Some(q), Some(c)) = (ev.request, ev.confirmation) {
        if let (Ok(q), Ok(c)) = (q.asdu, c.asdu) {
            if !mirrors(&q, &c) {
                flags.0 |= Iec104Flags::CONFIRMATION_MISMATCH;
            }
        }
    }
    if ev.termination.is_some() && ev.confirmation.is_none() && ev.request.is_some() {
        flags.0 |= Iec104Flags::TERMINATION_WITHOUT_CONFIRMATION;
    }
    // The primary ASDU names the transaction: the request, else the reply,
    // else the data.
    let primary = ev
        .request
        .or(ev.confirmation)
        .or(ev.rejection)
        .or(ev.termination)
        .or(ev.data);
    let type_id = primary.map(|f| match f.asdu {
        Ok(a) => Some(a.type_id),
        Err(t) => t.type_id,
    });
    let type_id = type_id.flatten().unwrap_or(TypeId(0));
    // The exception code is the cause of the negative reply: the mirror's
    // (44-47, saying why) when there is one, else the confirmation's.
    let negative_cause = |f: Option<Iec104Asdu<'_>>| {
        f.and_then(|c| match c.asdu {
            Ok(a) if a.cot.negative() || a.cot.cause().is_unknown_mirror() => {
                Some(u32::from(a.cot.cause().0))
            }
            _ => None,
        })
    };
    let negative = negative_cause(ev.rejection).or(negative_cause(ev.confirmation));
    let status = if malformed {
        Status::Malformed
    } else if negative.is_some() {
        Status::Exception
    } else if ev.request.is_some()
        && ev.confirmation.is_none()
        && ev.rejection.is_none()
        && ev.data.is_none()
        && ev.termination.is_none()
    {
        Status::NoResponse
    } else {
        Status::Ok
    };
    ev.flags = flags;
    ev.ics = IcsSummary {
        function_code: u32::from(type_id.0),
        function: type_id.name(),
        operation: type_id.operation(),
        status,
        exception_code: negative,
    };
}

fn emit_tx(out: &mut Out<'_>, ev: Iec104Transaction<'_>) {
    let ts = ev
        .request
        .or(ev.confirmation)
        .or(ev.termination)
        .or(ev.data)
        .map_or(out.ts, |f| f.ts_ns);
    out.transaction(ts, &Event::Iec104(&Iec104Event::Transaction(ev)));
}

/// A STARTDT/STOPDT/TESTFR transaction; `f` is the activation's bits.
fn emit_u(out: &mut Out<'_>, f: UFunction, ts: i64, act: bool, con: bool, latency: Option<i64>) {
    let Some((p, _)) = f.procedure() else {
        return;
    };
    let ev = Iec104Transaction {
        u: Some(Iec104UFrames {
            function: f,
            act,
            con,
        }),
        request: None,
        confirmation: None,
        rejection: None,
        termination: None,
        data: None,
        latency_ns: latency,
        flags: Iec104Flags::default(),
        ics: IcsSummary {
            function_code: p.function_code(),
            function: p.name(),
            operation: Operation::Session,
            status: if con { Status::Ok } else { Status::NoResponse },
            exception_code: None,
        },
    };
    out.transaction(ts, &Event::Iec104(&Iec104Event::Transaction(ev)));
}

/// A U-format frame without exactly one defined function bit.
fn emit_u_invalid(out: &mut Out<'_>, f: UFunction, flags: ApciFlags, ts: i64) {
    let mut fl = Iec104Flags::default();
    fl.apci(flags);
    let ev = Iec104Transaction {
        u: Some(Iec104UFrames {
            function: f,
            act: true,
            con: false,
        }),
        request: None,
        confirmation: None,
        rejection: None,
        termination: None,
        data: None,
        latency_ns: None,
        flags: fl,
        ics: IcsSummary {
            function_code: U_CODE_BASE + u32::from(f.0),
            function: "unknown",
            operation: Operation::Session,
            status: Status::Malformed,
            exception_code: None,
        },
    };
    out.transaction(ts, &Event::Iec104(&Iec104Event::Transaction(ev)));
}
