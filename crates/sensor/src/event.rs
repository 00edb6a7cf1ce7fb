//! Typed events, borrowed for the duration of one sink call.
//!
//! The sensor produces events as borrowed views (no allocation per event);
//! sinks decide what to keep: the JSON sink serialises, the counting sink
//! counts, the engine (later) learns.

use std::borrow::Cow;
use std::net::IpAddr;

use plantshield_events::{Operation, Status};
use plantshield_protocols::modbus;
use plantshield_protocols::s7comm::{self, plus};

/// The EVE envelope shared by every event.
#[derive(Clone, Copy, Debug)]
pub struct Envelope {
    /// Event time (ns since the epoch).
    pub ts_ns: i64,
    /// The flow the event belongs to.
    pub flow_id: Option<u64>,
    /// Source (the client, for transactions and flows).
    pub src: Option<(IpAddr, u16)>,
    /// Destination (the server, for transactions and flows).
    pub dst: Option<(IpAddr, u16)>,
    /// IP protocol number.
    pub proto: Option<u8>,
    /// Application protocol of the flow.
    pub app_proto: Option<&'static str>,
    /// VLAN key of the flow (0 untagged).
    pub vlan: u32,
}

impl Envelope {
    /// An envelope with only a time.
    pub fn at(ts_ns: i64) -> Self {
        Envelope {
            ts_ns,
            flow_id: None,
            src: None,
            dst: None,
            proto: None,
            app_proto: None,
            vlan: 0,
        }
    }
}

/// One event.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A Modbus transaction.
    Modbus(&'a ModbusEvent<'a>),
    /// An S7comm transaction (or a COTP connection on an S7 flow).
    S7comm(&'a S7commEvent<'a>),
    /// An S7comm-plus transaction or notification.
    S7commPlus(&'a S7commPlusEvent<'a>),
    /// A flow ended (or an interim record of a long flow).
    Flow(&'a FlowEvent),
    /// Something malformed, suspicious or over a limit.
    Anomaly(&'a AnomalyEvent<'a>),
    /// Totals at the end of a run.
    Stats(&'a crate::Stats),
}

impl Event<'_> {
    /// The `ics` object of a transaction event.
    pub fn ics(&self) -> Option<&IcsSummary> {
        match self {
            Event::Modbus(m) => Some(&m.ics),
            Event::S7comm(s) => Some(&s.ics),
            Event::S7commPlus(s) => Some(&s.ics),
            Event::Flow(_) | Event::Anomaly(_) | Event::Stats(_) => None,
        }
    }

    /// The `event_type` value.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Modbus(_) => "modbus",
            Event::S7comm(_) => "s7comm",
            Event::S7commPlus(_) => "s7comm_plus",
            Event::Flow(_) => "flow",
            Event::Anomaly(_) => "anomaly",
            Event::Stats(_) => "stats",
        }
    }
}

/// Receives events.
pub trait EventSink {
    /// One event.
    fn event(&mut self, env: &Envelope, ev: &Event<'_>);
}

/// The normalised `ics` fields of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcsSummary {
    /// The protocol's own code of the request.
    pub function_code: u32,
    /// snake_case name.
    pub function: &'static str,
    /// What it does.
    pub operation: Operation,
    /// How it ended.
    pub status: Status,
    /// Protocol error code, if any.
    pub exception_code: Option<u32>,
}

/// A Modbus transaction: a request with its response, a request that got
/// none, or a response whose request was not seen.
#[derive(Clone, Copy, Debug)]
pub struct ModbusEvent<'a> {
    /// MBAP transaction id.
    pub transaction_id: u16,
    /// MBAP unit id.
    pub unit_id: u8,
    /// The parsed request, if seen.
    pub request: Option<modbus::Request<'a>>,
    /// The parsed response, if seen.
    pub response: Option<modbus::Response<'a>>,
    /// Response time minus request time.
    pub latency_ns: Option<i64>,
    /// Findings of the request, the response and their pairing.
    pub flags: modbus::Flags,
    /// The `ics` object.
    pub ics: IcsSummary,
}

/// The COTP connection of an S7 flow: its establishment (CR answered by
/// CC, refused by DR, or unanswered) or its release (DR).
#[derive(Clone, Copy, Debug)]
pub struct CotpConnect<'a> {
    /// A disconnect request outside connection establishment.
    pub disconnect: bool,
    /// Calling transport selector (the requester's).
    pub calling_tsap: Option<&'a [u8]>,
    /// Called transport selector (the S7 TSAP names rack and slot).
    pub called_tsap: Option<&'a [u8]>,
    /// Proposed maximum TPDU size, as a power of two.
    pub tpdu_size: Option<u8>,
    /// The connection was confirmed (CC).
    pub confirmed: bool,
    /// The DR reason.
    pub reason: Option<u8>,
}

/// An S7comm transaction: a Job with its Ack or Ack-Data, a userdata
/// request with its response (joined over data units), a push from the
/// CPU, a lone PDU whose partner was not seen, or a COTP connection.
#[derive(Clone, Copy, Debug)]
pub struct S7commEvent<'a> {
    /// Set for COTP connection events (no S7 PDU).
    pub cotp: Option<CotpConnect<'a>>,
    /// The Job or userdata request (the first, for follow-ups); a push.
    pub request: Option<s7comm::Pdu<'a>>,
    /// The Ack, Ack-Data or (last) userdata response.
    pub response: Option<s7comm::Pdu<'a>>,
    /// Userdata: the response payload joined over its data units.
    pub payload: Option<&'a [u8]>,
    /// Request PDUs in the transaction (follow-ups included).
    pub request_pdus: u16,
    /// Response PDUs in the transaction.
    pub response_pdus: u16,
    /// Rack and slot from the connection's S7 TSAP.
    pub rack_slot: Option<(u8, u8)>,
    /// Response time minus request time.
    pub latency_ns: Option<i64>,
    /// Validation findings.
    pub flags: s7comm::Flags,
    /// The `ics` object.
    pub ics: IcsSummary,
}

/// An S7comm-plus transaction, notification, or COTP connection.
#[derive(Clone, Copy, Debug)]
pub struct S7commPlusEvent<'a> {
    /// Set for COTP connection events.
    pub cotp: Option<CotpConnect<'a>>,
    /// Protocol version of the first PDU.
    pub version: Option<u8>,
    /// The request.
    pub request: Option<plus::PlusPdu<'a>>,
    /// The response.
    pub response: Option<plus::PlusPdu<'a>>,
    /// A notification from the CPU.
    pub notification: Option<plus::PlusPdu<'a>>,
    /// Fragments of the request (or of the lone PDU).
    pub request_fragments: u16,
    /// Fragments of the response.
    pub response_fragments: u16,
    /// The request asked for no response.
    pub no_response_expected: bool,
    /// Part of a program download transaction.
    pub download: bool,
    /// Rack and slot from the connection's S7 TSAP.
    pub rack_slot: Option<(u8, u8)>,
    /// Response time minus request time.
    pub latency_ns: Option<i64>,
    /// Validation findings.
    pub flags: s7comm::Flags,
    /// The `ics` object.
    pub ics: IcsSummary,
}

/// A flow record.
#[derive(Clone, Copy, Debug)]
pub struct FlowEvent {
    /// First packet of this record.
    pub start_ns: i64,
    /// Last packet.
    pub end_ns: i64,
    /// Packets client to server.
    pub pkts_toserver: u64,
    /// Packets server to client.
    pub pkts_toclient: u64,
    /// Bytes client to server (frame lengths).
    pub bytes_toserver: u64,
    /// Bytes server to client.
    pub bytes_toclient: u64,
    /// TCP state name, or `new`/`established` for other protocols.
    pub state: &'static str,
    /// Why the record was written.
    pub reason: &'static str,
    /// The initiator was guessed.
    pub midstream: bool,
    /// TCP reassembly gaps, both directions.
    pub gaps: u32,
    /// Bytes skipped in gaps.
    pub gap_bytes: u64,
    /// Application transactions logged.
    pub transactions: u64,
    /// Anomalies raised on this flow.
    pub anomalies: u32,
}

/// Where an anomaly was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnomalyKind {
    /// Reading the capture file.
    Capture,
    /// Link, network or transport decoding (including defragmentation).
    Decode,
    /// TCP reassembly.
    Stream,
    /// An application protocol.
    Applayer,
    /// A table or memory limit.
    Resource,
}

impl AnomalyKind {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Capture => "capture",
            AnomalyKind::Decode => "decode",
            AnomalyKind::Stream => "stream",
            AnomalyKind::Applayer => "applayer",
            AnomalyKind::Resource => "resource",
        }
    }
}

/// An anomaly event.
#[derive(Clone, Debug)]
pub struct AnomalyEvent<'a> {
    /// Where.
    pub kind: AnomalyKind,
    /// The layer or protocol (`ipv4`, `tcp`, `modbus`, `flow_table`, ...).
    pub layer: &'static str,
    /// snake_case code, stable for rules and dashboards.
    pub code: &'static str,
    /// A sentence for people.
    pub message: Cow<'a, str>,
}
