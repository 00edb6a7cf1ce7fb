//! PROFINET DCP frames (EtherType 0x8892, frame ids 0xFEFC..=0xFEFF): one
//! `profinet_dcp` event per message. DCP is layer 2: the events have no IP
//! addresses and no flow; the MAC addresses travel in the envelope (for
//! the asset inventory) and in the event object.
//!
//! Requests and responses are not paired: an Identify request is usually
//! multicast and answered by every matching device, and a response carries
//! its request's `xid`, which consumers can join on.

use std::borrow::Cow;

use plantshield_decode::MacAddr;
use plantshield_events::{Operation, Status};
use plantshield_protocols::profinet::{self, BlockValue, DcpError, DcpMessage};

use crate::event::{
    AnomalyEvent, AnomalyKind, Envelope, Event, EventSink, IcsSummary, ProfinetDcpEvent,
};
use crate::Sensor;

const LAYER: &str = "profinet_dcp";

/// The `ics` object of a DCP message.
fn ics(m: &DcpMessage<'_>) -> IcsSummary {
    let mut operation = m.service_id.operation();
    let mut exception_code = None;
    let mut signal_only = true;
    let mut blocks = 0;
    for b in m.blocks() {
        blocks += 1;
        match BlockValue::of(&b) {
            BlockValue::Response { error, .. } if error != 0 => {
                exception_code.get_or_insert(u32::from(error));
            }
            BlockValue::Signal(_) | BlockValue::Transaction(_) => {}
            _ => signal_only = false,
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
    if m.service_type.0 == 5 {
        exception_code.get_or_insert(5);
    }
    let status = if m.blocks_malformed() || m.flags.has(profinet::Flags::LENGTH_MISMATCH) {
        Status::Malformed
    } else if exception_code.is_some() {
        Status::Exception
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

impl Sensor {
    /// A frame of EtherType 0x8892: a DCP message becomes an event; other
    /// PROFINET frames are left alone.
    pub(crate) fn profinet_frame(
        &mut self,
        ts: i64,
        vlan: u32,
        src: MacAddr,
        dst: MacAddr,
        payload: &[u8],
        sink: &mut dyn EventSink,
    ) {
        let mut env = Envelope::at(ts);
        env.vlan = vlan;
        env.src_mac = Some(src);
        env.dst_mac = Some(dst);
        let m = match DcpMessage::parse(payload) {
            Ok(m) => m,
            Err(DcpError::NotDcp(_)) => return,
            Err(DcpError::Truncated) => {
                self.dcp_anomaly(
                    &env,
                    "truncated_header",
                    Cow::Owned(format!(
                        "PROFINET DCP frame from {src} ends inside its header"
                    )),
                    sink,
                );
                return;
            }
        };
        let ics = ics(&m);
        if ics.status == Status::Malformed {
            self.dcp_anomaly(
                &env,
                "malformed_blocks",
                Cow::Owned(format!(
                    "PROFINET DCP {} from {src}: a block runs past the data",
                    m.service_id.name()
                )),
                sink,
            );
        }
        self.stats
            .transaction(LAYER, ics.function_code, ics.function, ics.status);
        let ev = ProfinetDcpEvent {
            src_mac: src,
            dst_mac: dst,
            dcp: m,
            ics,
        };
        sink.event(&env, &Event::ProfinetDcp(&ev));
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
