//! PROFINET DCP frames (EtherType 0x8892, frame ids 0xFEFC..=0xFEFF) as
//! `profinet_dcp` events. DCP is layer 2: the events have no IP addresses
//! and no flow; the MAC addresses travel in the envelope (for the asset
//! inventory) and in the event object.
//!
//! Set and Get requests (unicast, frame id 0xFEFD) pair with the response
//! that carries their xid from the device they were sent to: one event per
//! exchange, ended as `no_response` when none comes within the transaction
//! timeout (checked when the next DCP frame arrives, and when the run
//! ends). Identify requests are usually multicast and answered by every
//! matching device, so Identify requests, Identify responses and Hello are
//! events of their own; a response carries its request's xid.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_decode::MacAddr;
use plantshield_events::{Operation, Status};
use plantshield_protocols::profinet::{self, BlockValue, DcpError, DcpMessage};

use crate::event::{
    AnomalyEvent, AnomalyKind, Envelope, Event, EventSink, IcsSummary, ProfinetDcpEvent,
};
use crate::Sensor;

const LAYER: &str = "profinet_dcp";

/// Octets of a Set or Get request kept while it waits (its DCP payload).
const MAX_KEPT: usize = 1500;

/// A Set or Get request waiting for its response.
struct Waiting {
    ts: i64,
    vlan: u32,
    src: MacAddr,
    dst: MacAddr,
    payload: Vec<u8>,
}

/// Set and Get requests waiting for their responses.
#[derive(Default)]
pub(crate) struct DcpState {
    waiting: VecDeque<Waiting>,
}

/// The `ics` object of a message, or of a request and its response.
fn ics(m: &DcpMessage<'_>, response: Option<&DcpMessage<'_>>, answered: bool) -> IcsSummary {
    let mut operation = m.service_id.operation();
    let mut exception_code = None;
    let mut signal_only = true;
    let mut blocks = 0;
    for b in m.blocks() {
        blocks += 1;
        if !matches!(
            BlockValue::of(&b),
            BlockValue::Signal(_) | BlockValue::Transaction(_)
        ) {
            signal_only = false;
        }
    }
    // A Set that only flashes the device's LED operates it rather than
    // configuring it.
    if m.service_id == profinet::ServiceId::SET
        && !m.service_type.is_response()
        && signal_only
        && blocks > 0
    {
        operation = Operation::Command;
    }
    for r in [Some(m), response].into_iter().flatten() {
        for b in r.blocks() {
            if let BlockValue::Response { error, .. } = BlockValue::of(&b) {
                if error != 0 {
                    exception_code.get_or_insert(u32::from(error));
                }
            }
        }
        if r.service_type.0 == 5 {
            exception_code.get_or_insert(0x100 | u32::from(r.service_type.0));
        }
    }
    let malformed = [Some(m), response]
        .into_iter()
        .flatten()
        .any(|r| r.blocks_malformed() || r.flags.has(profinet::Flags::LENGTH_MISMATCH));
    let status = if malformed {
        Status::Malformed
    } else if exception_code.is_some() {
        Status::Exception
    } else if !answered {
        Status::NoResponse
    } else {
        Status::Ok
    };
    IcsSummary {
        function_code: u32::from(m.service_id.0),
        function: m.service_id.name(),
        operation,
        status,
        exception_code,
    }
}

/// True for a Set or Get request, which waits for its response.
fn is_paired_request(m: &DcpMessage<'_>) -> bool {
    matches!(m.service_id.0, 3 | 4) && !m.service_type.is_response()
}

impl Sensor {
    /// A frame of EtherType 0x8892: a DCP message becomes (part of) an
    /// event; other PROFINET frames are left alone.
    pub(crate) fn profinet_frame(
        &mut self,
        ts: i64,
        vlan: u32,
        src: MacAddr,
        dst: MacAddr,
        payload: &[u8],
        sink: &mut dyn EventSink,
    ) {
        self.dcp_expire(ts, sink);
        let m = match DcpMessage::parse(payload) {
            Ok(m) => m,
            Err(DcpError::NotDcp(_)) => return,
            Err(DcpError::Truncated) => {
                self.dcp_anomaly(
                    &envelope(ts, vlan, src, dst),
                    "truncated_header",
                    Cow::Owned(format!(
                        "PROFINET DCP frame from {src} ends inside its header"
                    )),
                    sink,
                );
                return;
            }
        };
        if m.blocks_malformed() {
            self.dcp_anomaly(
                &envelope(ts, vlan, src, dst),
                "malformed_blocks",
                Cow::Owned(format!(
                    "PROFINET DCP {} from {src}: a block runs past the data",
                    m.service_id.name()
                )),
                sink,
            );
        }
        if is_paired_request(&m) {
            let w = &mut self.dcp.waiting;
            // The same exchange sent again replaces the first.
            if let Some(i) = w
                .iter()
                .position(|p| p.src == src && p.dst == dst && xid(&p.payload) == Some(m.xid))
            {
                if let Some(old) = w.remove(i) {
                    self.dcp_end(old, None, sink);
                }
            }
            if self.dcp.waiting.len() >= self.cfg.max_pending_transactions.max(1) {
                if let Some(old) = self.dcp.waiting.pop_front() {
                    self.dcp_anomaly(
                        &envelope(ts, vlan, src, dst),
                        "pending_table_full",
                        Cow::Borrowed(
                            "too many unanswered PROFINET DCP requests; the oldest was ended",
                        ),
                        sink,
                    );
                    self.dcp_end(old, None, sink);
                }
            }
            self.dcp.waiting.push_back(Waiting {
                ts,
                vlan,
                src,
                dst,
                payload: payload[..payload.len().min(MAX_KEPT)].to_vec(),
            });
            return;
        }
        if matches!(m.service_id.0, 3 | 4) {
            // A response: to the request its sender got from its destination.
            let pos = self
                .dcp
                .waiting
                .iter()
                .position(|p| p.src == dst && p.dst == src && xid(&p.payload) == Some(m.xid));
            if let Some(p) = pos.and_then(|i| self.dcp.waiting.remove(i)) {
                self.dcp_end(p, Some((ts, m)), sink);
                return;
            }
        }
        let ev = ProfinetDcpEvent {
            src_mac: src,
            dst_mac: dst,
            message: m,
            response: None,
            response_missing: false,
            latency_ns: None,
            ics: ics(&m, None, true),
        };
        self.dcp_emit(&envelope(ts, vlan, src, dst), &ev, sink);
    }

    /// Ends a Set or Get exchange.
    fn dcp_end(
        &mut self,
        p: Waiting,
        response: Option<(i64, DcpMessage<'_>)>,
        sink: &mut dyn EventSink,
    ) {
        let Ok(m) = DcpMessage::parse(&p.payload) else {
            return;
        };
        let ev = ProfinetDcpEvent {
            src_mac: p.src,
            dst_mac: p.dst,
            message: m,
            response: response.map(|r| r.1),
            response_missing: response.is_none(),
            latency_ns: response.map(|r| r.0 - p.ts),
            ics: ics(&m, response.as_ref().map(|r| &r.1), response.is_some()),
        };
        self.dcp_emit(&envelope(p.ts, p.vlan, p.src, p.dst), &ev, sink);
    }

    fn dcp_emit(&mut self, env: &Envelope, ev: &ProfinetDcpEvent<'_>, sink: &mut dyn EventSink) {
        self.stats
            .transaction(LAYER, ev.ics.function_code, ev.ics.function, ev.ics.status);
        sink.event(env, &Event::ProfinetDcp(ev));
    }

    /// Ends the requests older than the transaction timeout.
    fn dcp_expire(&mut self, now: i64, sink: &mut dyn EventSink) {
        let timeout = self.cfg.transaction_timeout_ns;
        while self
            .dcp
            .waiting
            .front()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.dcp.waiting.pop_front() {
                self.dcp_end(p, None, sink);
            }
        }
    }

    /// The end of the run: unanswered requests end as `no_response`.
    pub(crate) fn dcp_finish(&mut self, sink: &mut dyn EventSink) {
        while let Some(p) = self.dcp.waiting.pop_front() {
            self.dcp_end(p, None, sink);
        }
    }

    fn dcp_anomaly(
        &mut self,
        env: &Envelope,
        code: &'static str,
        message: Cow<'static, str>,
        sink: &mut dyn EventSink,
    ) {
        self.stats.anomaly(LAYER, code);
        self.decode_anomalies += 1;
        if self.decode_anomalies > self.cfg.max_decode_anomalies {
            self.stats.anomalies_suppressed += 1;
            return;
        }
        let ev = AnomalyEvent {
            kind: AnomalyKind::Applayer,
            layer: LAYER,
            code,
            message,
        };
        sink.event(env, &Event::Anomaly(&ev));
    }
}

fn envelope(ts: i64, vlan: u32, src: MacAddr, dst: MacAddr) -> Envelope {
    let mut env = Envelope::at(ts);
    env.vlan = vlan;
    env.src_mac = Some(src);
    env.dst_mac = Some(dst);
    env
}

/// The xid of a stored request.
fn xid(payload: &[u8]) -> Option<u32> {
    let b = payload.get(4..8)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}
