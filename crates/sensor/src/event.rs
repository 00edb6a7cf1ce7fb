//! Typed events, borrowed for the duration of one sink call.
//!
//! The sensor produces events as borrowed views (no allocation per event);
//! sinks decide what to keep: the JSON sink serialises, the counting sink
//! counts, the engine (later) learns.

use std::borrow::Cow;
use std::net::IpAddr;

use plantshield_events::{Operation, Status};
use plantshield_protocols::{enip, modbus};

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
    /// An EtherNet/IP transaction, or the report of one implicit I/O connection.
    Enip(&'a EnipEvent<'a>),
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
            Event::Enip(e) => e.ics.as_ref(),
            Event::Flow(_) | Event::Anomaly(_) | Event::Stats(_) => None,
        }
    }

    /// The `event_type` value.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Modbus(_) => "modbus",
            Event::Enip(_) => "enip",
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

/// An EtherNet/IP transaction (a request with its reply, a request that
/// got none, a reply whose request was not seen), or, with `io`, the report
/// of one implicit I/O connection at the end of its flow.
#[derive(Clone, Copy, Debug)]
pub struct EnipEvent<'a> {
    /// The encapsulation command (none for I/O reports).
    pub command: Option<enip::Command>,
    /// Session handle (of the reply when both were seen: RegisterSession assigns it).
    pub session_handle: u32,
    /// Sender context of the request (echoed by the reply).
    pub sender_context: [u8; 8],
    /// The request's header and data, if seen.
    pub request: Option<(enip::Header, enip::Body<'a>)>,
    /// The reply's header and data, if seen.
    pub response: Option<(enip::Header, enip::Body<'a>)>,
    /// Connected messaging: the connection and the CIP sequence count.
    pub connection: Option<EnipConnection>,
    /// The CIP request and reply carried, if any.
    pub cip: Option<EnipCip<'a>>,
    /// Implicit I/O report.
    pub io: Option<EnipIo>,
    /// Reply time minus request time.
    pub latency_ns: Option<i64>,
    /// False for requests that are never answered (NOP, UnRegisterSession).
    pub expects_response: bool,
    /// Findings of the messages and their pairing.
    pub flags: enip::Flags,
    /// The `ics` object (none for I/O reports).
    pub ics: Option<IcsSummary>,
}

/// The connection of a connected (class 3) message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnipConnection {
    /// Connection id of the request (O->T).
    pub connection_id: Option<u32>,
    /// Connection id of the reply (T->O).
    pub response_connection_id: Option<u32>,
    /// CIP sequence count shared by request and reply.
    pub sequence_count: u16,
    /// Connection serial number, when the Forward_Open was seen on the flow.
    pub connection_serial: Option<u16>,
}

/// The CIP part of a transaction.
#[derive(Clone, Copy, Debug)]
pub struct EnipCip<'a> {
    /// The request (the embedded one, for an Unconnected_Send).
    pub request: Option<enip::Request<'a>>,
    /// The Unconnected_Send that carried the request.
    pub unconnected_send: Option<enip::UnconnectedSend<'a>>,
    /// The reply.
    pub response: Option<enip::Response<'a>>,
    /// What the request addressed (names object-specific services).
    pub target: enip::Target,
}

/// Traffic of one implicit I/O connection on a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnipIo {
    /// Connection id of the producer.
    pub connection_id: u32,
    /// Flow direction of the datagrams (0 to the server, 1 to the client).
    pub direction: usize,
    /// Datagrams.
    pub packets: u64,
    /// Connected data bytes.
    pub bytes: u64,
    /// First datagram.
    pub first_ts: i64,
    /// Last datagram.
    pub last_ts: i64,
    /// First encapsulation sequence number.
    pub first_sequence: Option<u32>,
    /// Last encapsulation sequence number.
    pub last_sequence: Option<u32>,
    /// Datagrams whose sequence number did not follow the previous one.
    pub sequence_gaps: u64,
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
