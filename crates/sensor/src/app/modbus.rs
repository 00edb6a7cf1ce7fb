//! Modbus/TCP sessions: ADU framing over the reassembled stream and
//! request/response pairing.
//!
//! Framing reads ADUs straight from the delivered bytes; only an ADU split
//! across segments is copied (at most 260 bytes per direction). An invalid
//! MBAP header or a stream gap loses the framing: the session reports it
//! and resynchronises on the next plausible header, so one bad PDU never
//! silences the rest of the connection.
//!
//! Pairing follows TCP §3.1.3: a response answers the pending request with
//! the same transaction id, unit id and function (a response of another
//! function is logged on its own). Pending requests are
//! capped per flow; the oldest is ended as `no_response` when the cap is
//! hit, when it times out, or when the flow ends. A second request with the
//! same key supersedes the first, which is ended as `no_response`: this is
//! what a function-code scan that never changes its transaction id looks
//! like, and every one of its requests stays its own transaction.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_events::{Operation, Status};
use plantshield_protocols::modbus::{
    check_pair, parse_request, parse_response, Flags, FunctionCode, FunctionKind, Mbap, MbapError,
    RequestBody, ResponseBody, MAX_ADU_LEN, MAX_PDU_LEN, MBAP_LEN,
};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, Event, IcsSummary, ModbusEvent};

pub(crate) const DETECTOR: Detector = Detector {
    name: "modbus",
    tcp_ports: &[plantshield_protocols::modbus::PORT],
    udp_ports: &[],
    probe: plantshield_protocols::modbus::probe,
    new: |request_dir| {
        Box::new(ModbusSession {
            request_dir: request_dir as u8,
            ..ModbusSession::default()
        })
    },
};

/// Request PDUs up to this length (reads, single writes: 5 bytes) are
/// kept in their [`Pending`] record, which is 32 bytes with them: pairing
/// then touches no separate PDU buffer.
const INLINE_PDU: usize = 12;

/// [`Pending::buf`] of a PDU kept inline.
const INLINE: u32 = u32::MAX;

/// A request waiting for its response.
#[derive(Clone, Copy)]
struct Pending {
    ts: i64,
    transaction_id: u16,
    unit_id: u8,
    /// The function code without the exception bit.
    function: u8,
    len: u8,
    /// The buffer in [`ModbusSession::pdus`] holding the PDU, or
    /// [`INLINE`].
    buf: u32,
    /// The PDU when it is at most [`INLINE_PDU`] bytes.
    inline: [u8; INLINE_PDU],
}

/// What a Modbus session holds beyond its first line, allocated on first
/// use: a poller with one request outstanding whose ADUs arrive whole, in
/// reads and single writes, never touches it.
#[derive(Default)]
struct ModbusCold {
    /// Unanswered requests after the oldest, oldest first.
    rest: VecDeque<Pending>,
    /// The start of an ADU split across segments, per direction.
    partial: [Vec<u8>; 2],
    /// PDU buffers of pending requests, reused: pairing copies only the
    /// PDU's bytes and allocates only when more requests than ever before
    /// are pending at once (so at most `max_pending` buffers).
    pdus: Vec<[u8; MAX_PDU_LEN]>,
    /// Buffers of `pdus` not in use.
    free: Vec<u32>,
}

/// A request as [`emit`] reads it.
struct Request<'a> {
    ts: i64,
    transaction_id: u16,
    unit_id: u8,
    pdu: &'a [u8],
}

/// One Modbus/TCP connection.
///
/// One cache line (aligned), which [`Session::prefetch`] loads: the oldest
/// unanswered request, the framing flags, and how much lies in the cold
/// part, so that a request or response of the usual poller reads nothing
/// else.
#[derive(Default)]
#[repr(C, align(64))]
pub(crate) struct ModbusSession {
    /// The oldest unanswered request.
    first: Option<Pending>,
    /// The rest, allocated on first use.
    cold: Option<Box<ModbusCold>>,
    /// Requests in `cold.rest` (bounded by `--max-pending`, a `usize`:
    /// 32 bits, which memory runs out before).
    rest_len: u32,
    /// The flow direction that carries requests (towards the Modbus server).
    request_dir: u8,
    resync: [bool; 2],
    /// Bytes of a split ADU wait in `cold.partial`, per direction.
    partial: [bool; 2],
}

const _: () = assert!(std::mem::size_of::<ModbusSession>() == 64);

impl Session for ModbusSession {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.stream(dir, bytes, out);
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        self.clear_partial(dir);
        self.resync[dir] = true;
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(p) = self.pop_front() {
            self.unanswered(p, out);
        }
    }
}

impl ModbusSession {
    fn cold(&mut self) -> &mut ModbusCold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Unanswered requests.
    fn pending_len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest_len as usize
    }

    fn pop_front(&mut self) -> Option<Pending> {
        let f = self.first.take()?;
        if self.rest_len > 0 {
            self.rest_len -= 1;
            self.first = self.cold.as_mut().and_then(|c| c.rest.pop_front());
        }
        Some(f)
    }

    fn push_back(&mut self, p: Pending) {
        if self.first.is_none() {
            self.first = Some(p);
        } else {
            self.cold().rest.push_back(p);
            self.rest_len += 1;
        }
    }

    /// Takes the oldest request `pred` accepts out of the queue.
    #[inline]
    fn take_pending(&mut self, pred: impl Fn(&Pending) -> bool) -> Option<Pending> {
        match &self.first {
            // The usual case: the response answers the oldest request.
            Some(f) if pred(f) => self.pop_front(),
            Some(_) if self.rest_len > 0 => {
                let rest = &mut self.cold.as_mut()?.rest;
                let i = rest.iter().position(pred)?;
                self.rest_len -= 1;
                rest.remove(i)
            }
            _ => None,
        }
    }

    /// Appends bytes of a split ADU.
    fn extend_partial(&mut self, dir: usize, bytes: &[u8]) {
        self.cold().partial[dir].extend_from_slice(bytes);
        self.partial[dir] = true;
    }

    /// Drops the bytes of a split ADU (keeping the allocation).
    fn clear_partial(&mut self, dir: usize) {
        if self.partial[dir] {
            if let Some(c) = &mut self.cold {
                c.partial[dir].clear();
            }
            self.partial[dir] = false;
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
        if self.partial[dir] {
            // Complete the split ADU: first its header, then the length it announces.
            loop {
                let need = self.partial_need(dir);
                if need == 0 {
                    break;
                }
                if bytes.is_empty() {
                    return;
                }
                let take = need.min(bytes.len());
                self.extend_partial(dir, &bytes[..take]);
                bytes = &bytes[take..];
            }
            let mut adu = std::mem::take(&mut self.cold().partial[dir]);
            self.partial[dir] = false;
            let framed = Mbap::parse(&adu);
            if let Ok(m) = framed {
                self.adu(dir, m, &adu[MBAP_LEN..], out);
            }
            // Keep the allocation for the next split ADU.
            adu.clear();
            self.cold().partial[dir] = adu;
            if let Err(e) = framed {
                self.bad_header(e, out);
                self.resync[dir] = true;
                return self.stream(dir, bytes, out);
            }
        }
        while !bytes.is_empty() {
            match Mbap::parse(bytes) {
                Ok(m) if bytes.len() >= m.adu_len() => {
                    let (adu, rest) = bytes.split_at(m.adu_len());
                    self.adu(dir, m, &adu[MBAP_LEN..], out);
                    bytes = rest;
                }
                Ok(_) | Err(MbapError::Incomplete) => {
                    self.extend_partial(dir, bytes);
                    return;
                }
                Err(e) => {
                    self.bad_header(e, out);
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

    /// Bytes still missing from the partial ADU of `dir`.
    fn partial_need(&self, dir: usize) -> usize {
        let p = match &self.cold {
            Some(c) => &c.partial[dir][..],
            None => &[],
        };
        if p.len() < 6 {
            return MBAP_LEN - p.len();
        }
        let len = 6 + usize::from(u16::from_be_bytes([p[4], p[5]]));
        // An absurd length is caught by the header check once 7 bytes are in.
        let len = if len > MAX_ADU_LEN {
            MBAP_LEN
        } else {
            len.max(MBAP_LEN)
        };
        len.saturating_sub(p.len())
    }

    fn bad_header(&mut self, e: MbapError, out: &mut Out<'_>) {
        let msg = match e {
            MbapError::ProtocolId(p) => {
                Cow::Owned(format!("MBAP protocol identifier {p} is not 0"))
            }
            MbapError::Length(l) => Cow::Owned(format!("MBAP length {l} is outside 2..=254")),
            MbapError::Incomplete => Cow::Borrowed("MBAP header incomplete"),
        };
        out.anomaly(AnomalyKind::Applayer, "modbus", "invalid_mbap", msg);
    }

    fn adu(&mut self, dir: usize, mbap: Mbap, pdu: &[u8], out: &mut Out<'_>) {
        let now = out.ts;
        self.expire(now, out);
        if dir == usize::from(self.request_dir) {
            self.request(mbap, pdu, now, out);
        } else {
            self.response(mbap, pdu, now, out);
        }
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        while self
            .first
            .as_ref()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.pop_front() {
                self.unanswered(p, out);
            }
        }
    }

    /// Takes the pending request a PDU with `mbap` and function `fc`
    /// pairs with out of the queue.
    fn take(&mut self, mbap: &Mbap, fc: u8) -> Option<Pending> {
        let (tid, unit) = (mbap.transaction_id, mbap.unit_id);
        self.take_pending(|p| p.transaction_id == tid && p.unit_id == unit && p.function == fc)
    }

    fn request_of<'a>(&'a self, p: &'a Pending) -> Request<'a> {
        let len = usize::from(p.len);
        Request {
            ts: p.ts,
            transaction_id: p.transaction_id,
            unit_id: p.unit_id,
            pdu: if p.buf == INLINE {
                &p.inline[..len]
            } else {
                let buf = self.cold.as_ref().and_then(|c| c.pdus.get(p.buf as usize));
                buf.map_or(&[][..], |b| &b[..len])
            },
        }
    }

    /// Returns the buffer of a request that left the pending queue.
    fn release(&mut self, p: &Pending) {
        if p.buf != INLINE {
            self.cold().free.push(p.buf);
        }
    }

    /// Ends a request taken off the pending queue as `no_response`.
    fn unanswered(&mut self, p: Pending, out: &mut Out<'_>) {
        emit(out, Some(self.request_of(&p)), None, None);
        self.release(&p);
    }

    fn request(&mut self, mbap: Mbap, pdu: &[u8], ts: i64, out: &mut Out<'_>) {
        let fc = pdu.first().copied().unwrap_or(0) & 0x7f;
        if let Some(old) = self.take(&mbap, fc) {
            self.unanswered(old, out);
        }
        if self.pending_len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    "modbus",
                    "pending_table_full",
                    Cow::Borrowed("too many unanswered Modbus requests; the oldest was ended"),
                );
                self.unanswered(old, out);
            }
        }
        let len = pdu.len().min(MAX_PDU_LEN);
        let mut inline = [0; INLINE_PDU];
        let buf = if len <= INLINE_PDU {
            // A short copy in line, not a call to memcpy.
            for (d, s) in inline.iter_mut().zip(pdu) {
                *d = *s;
            }
            INLINE
        } else {
            let c = self.cold();
            let buf = match c.free.pop() {
                Some(b) => b,
                None => {
                    c.pdus.push([0; MAX_PDU_LEN]);
                    (c.pdus.len() - 1) as u32
                }
            };
            if let Some(b) = c.pdus.get_mut(buf as usize) {
                b[..len].copy_from_slice(&pdu[..len]);
            }
            buf
        };
        self.push_back(Pending {
            ts,
            transaction_id: mbap.transaction_id,
            unit_id: mbap.unit_id,
            function: fc,
            len: len as u8,
            buf,
            inline,
        });
    }

    fn response(&mut self, mbap: Mbap, pdu: &[u8], ts: i64, out: &mut Out<'_>) {
        let fc = pdu.first().copied().unwrap_or(0) & 0x7f;
        // A response of another function does not answer the request: it
        // is logged on its own and the request keeps waiting.
        let req = self.take(&mbap, fc);
        emit(
            out,
            req.as_ref().map(|p| self.request_of(p)),
            Some((ts, mbap, pdu)),
            req.map(|p| ts - p.ts),
        );
        if let Some(p) = req {
            self.release(&p);
        }
    }
}

/// Where to pick up after a stream gap. Delivery resumes at a segment
/// boundary, which is almost always an ADU boundary, so a valid header right
/// there is taken whatever its function code; otherwise the bytes are
/// searched with the stricter [`find_header`].
fn resync_point(b: &[u8]) -> Option<usize> {
    if Mbap::parse(b).is_ok() {
        return Some(0);
    }
    find_header(b)
}

/// Finds the first offset where a plausible ADU starts: a valid MBAP header
/// followed by a public function code (or its exception).
fn find_header(b: &[u8]) -> Option<usize> {
    (0..b.len().saturating_sub(MBAP_LEN)).find(|&i| {
        Mbap::parse(&b[i..]).is_ok()
            && FunctionCode(b[i + MBAP_LEN] & 0x7f).kind() == FunctionKind::Public
    })
}

/// Builds and reports one transaction: a request with its response, a
/// request without one, or a response whose request was not seen. The
/// PDUs are parsed straight into the event, and everything else is read
/// from it there: no copies of the parsed request and response. In line
/// in each caller, where it is known which of the two there are.
#[inline(always)]
fn emit(
    out: &mut Out<'_>,
    req: Option<Request<'_>>,
    resp: Option<(i64, Mbap, &[u8])>,
    latency_ns: Option<i64>,
) {
    let (transaction_id, unit_id, ts) = match (&req, &resp) {
        (Some(p), _) => (p.transaction_id, p.unit_id, p.ts),
        (None, Some((ts, m, _))) => (m.transaction_id, m.unit_id, *ts),
        (None, None) => return,
    };
    let mut ev = ModbusEvent {
        transaction_id,
        unit_id,
        request: req.map(|p| parse_request(p.pdu)),
        response: resp.map(|(_, _, pdu)| parse_response(pdu)),
        latency_ns,
        flags: Flags::default(),
        ics: IcsSummary {
            function_code: 0,
            function: "",
            operation: Operation::Other,
            status: Status::Ok,
            exception_code: None,
        },
    };
    let mut flags = 0;
    let mut malformed_req = false;
    let mut malformed_resp = false;
    let mut exception_code = None;
    let mut sub = None;
    let mut function = FunctionCode(0);
    if let Some(r) = &ev.response {
        flags |= r.flags.0;
        function = r.function;
        match r.body {
            ResponseBody::Malformed { .. } => malformed_resp = true,
            ResponseBody::Exception { code } => exception_code = Some(u32::from(code.0)),
            ResponseBody::Diagnostics { sub_function, .. } => sub = Some(sub_function.0),
            ResponseBody::ReadDeviceId(_) => sub = Some(14),
            ResponseBody::Mei { mei_type, .. } => sub = Some(u16::from(mei_type.0)),
            _ => {}
        }
    }
    if let Some(q) = &ev.request {
        flags |= q.flags.0;
        function = q.function;
        malformed_req = matches!(q.body, RequestBody::Malformed { .. });
        if let Some(s) = q.body.sub_code() {
            sub = Some(s);
        }
        if let Some(r) = &ev.response {
            flags |= check_pair(q, r).0;
        }
    }
    let status = if malformed_req || malformed_resp {
        Status::Malformed
    } else if exception_code.is_some() {
        Status::Exception
    } else if ev.response.is_none() {
        Status::NoResponse
    } else {
        Status::Ok
    };
    ev.flags = Flags(flags);
    ev.ics = IcsSummary {
        function_code: u32::from(function.0),
        function: function.name(),
        operation: function.operation(sub),
        status,
        exception_code,
    };
    if malformed_req || malformed_resp {
        out.anomaly(
            AnomalyKind::Applayer,
            "modbus",
            "malformed_pdu",
            Cow::Owned(format!(
                "Modbus {} {} too short for its fields",
                function.name(),
                if malformed_req { "request" } else { "response" }
            )),
        );
    }
    out.transaction(ts, &Event::Modbus(&ev));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: u16) -> Pending {
        Pending {
            ts: i64::from(id),
            transaction_id: id,
            unit_id: 1,
            function: 3,
            len: 0,
            buf: INLINE,
            inline: [0; INLINE_PDU],
        }
    }

    fn ids(q: &mut ModbusSession) -> Vec<u16> {
        std::iter::from_fn(|| q.pop_front().map(|p| p.transaction_id)).collect()
    }

    #[test]
    fn pending_requests_are_fifo_with_removal_anywhere() {
        let mut q = ModbusSession::default();
        assert_eq!(q.pending_len(), 0);
        assert!(q.first.as_ref().is_none() && q.pop_front().is_none());
        for id in 1..=5 {
            q.push_back(req(id));
        }
        assert_eq!(q.pending_len(), 5);
        assert_eq!(q.first.as_ref().map(|p| p.transaction_id), Some(1));
        assert!(q.take_pending(|p| p.transaction_id == 9).is_none());
        assert_eq!(
            q.take_pending(|p| p.transaction_id == 4)
                .map(|p| p.transaction_id),
            Some(4)
        );
        assert_eq!(
            q.take_pending(|p| p.transaction_id == 1)
                .map(|p| p.transaction_id),
            Some(1)
        );
        assert_eq!(q.first.as_ref().map(|p| p.transaction_id), Some(2));
        q.push_back(req(6));
        assert_eq!(q.pending_len(), 4);
        assert_eq!(ids(&mut q), [2, 3, 5, 6]);
        q.push_back(req(7));
        assert_eq!(
            q.take_pending(|p| p.transaction_id == 7)
                .map(|p| p.transaction_id),
            Some(7)
        );
        assert_eq!(q.pending_len(), 0);
    }

    proptest::proptest! {
        /// The pending requests (the first in the session, the rest in its
        /// cold part) behave as one double-ended queue, oldest first.
        #[test]
        fn pending_requests_are_a_deque(ops in proptest::collection::vec((0u8..3, 0u16..6), 0..60)) {
            let mut q = ModbusSession::default();
            let mut model: VecDeque<u16> = VecDeque::new();
            for (op, id) in ops {
                match op {
                    0 => {
                        q.push_back(req(id));
                        model.push_back(id);
                    }
                    1 => {
                        let want = model.pop_front();
                        proptest::prop_assert_eq!(q.pop_front().map(|p| p.transaction_id), want);
                    }
                    _ => {
                        let want = model.iter().position(|&m| m == id).and_then(|i| model.remove(i));
                        proptest::prop_assert_eq!(q.take_pending(|p| p.transaction_id == id).map(|p| p.transaction_id), want);
                    }
                }
                proptest::prop_assert_eq!(q.pending_len(), model.len());
                // The count kept in the hot line is the cold queue's length.
                let rest = q.cold.as_ref().map_or(0, |c| c.rest.len());
                proptest::prop_assert_eq!(q.rest_len as usize, rest);
                proptest::prop_assert_eq!(q.first.as_ref().map(|p| p.transaction_id), model.front().copied());
            }
        }
    }
}
