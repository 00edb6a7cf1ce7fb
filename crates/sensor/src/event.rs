//! Typed events, borrowed for the duration of one sink call.
//!
//! The sensor produces events as borrowed views (no allocation per event);
//! sinks decide what to keep: the JSON sink serialises, the counting sink
//! counts, the engine (later) learns.

use std::borrow::Cow;
use std::net::IpAddr;

use plantshield_events::{Operation, Status};
pub use plantshield_flow::Notes;
use plantshield_protocols::s7comm::{self, plus};
use plantshield_protocols::{bacnet, dhcp, dnp3, dns, enip, http, iec104, modbus, opcua, profinet};

/// The EVE envelope shared by every event.
#[derive(Clone, Copy, Debug)]
pub struct Envelope {
    /// Event time (ns since the epoch).
    pub ts_ns: i64,
    /// The flow the event belongs to.
    pub flow_id: Option<u64>,
    /// The flow's slot in the sensor's flow table: dense and reused once
    /// the flow has ended, so a consumer can keep per-flow state in an
    /// array indexed by it (checking `flow_id` to tell flows apart).
    pub flow_slot: Option<u32>,
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
    /// MAC address the source's packets came from (not written to JSON
    /// except in flow records; for consumers like the asset inventory).
    pub src_mac: Option<plantshield_decode::MacAddr>,
    /// MAC address the destination's packets came from.
    pub dst_mac: Option<plantshield_decode::MacAddr>,
    /// IP TTL / hop limit of the source's first packet (0 unknown): a value
    /// below a common initial TTL means the source is behind a router.
    pub src_ttl: u8,
    /// IP TTL / hop limit of the destination's first packet (0 unknown).
    pub dst_ttl: u8,
}

impl Envelope {
    /// An envelope with only a time.
    pub fn at(ts_ns: i64) -> Self {
        Envelope {
            src_mac: None,
            dst_mac: None,
            src_ttl: 0,
            dst_ttl: 0,
            ts_ns,
            flow_id: None,
            flow_slot: None,
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
    /// An IEC 60870-5-104 transaction, or a connection's link record.
    Iec104(&'a Iec104Event<'a>),
    /// A DNP3 transaction.
    Dnp3(&'a Dnp3Event<'a>),
    /// An EtherNet/IP transaction, or the report of one implicit I/O connection.
    Enip(&'a EnipEvent<'a>),
    /// An S7comm transaction (or a COTP connection on an S7 flow).
    S7comm(&'a S7commEvent<'a>),
    /// An S7comm-plus transaction or notification.
    S7commPlus(&'a S7commPlusEvent<'a>),
    /// A BACnet/IP transaction, unconfirmed service, network layer or BVLL message.
    Bacnet(&'a BacnetEvent<'a>),
    /// An OPC UA transaction (or connection, secure channel or message
    /// count of an encrypted channel).
    Opcua(&'a OpcuaEvent<'a>),
    /// One PROFINET DCP message (a layer-2 frame: the envelope has no IPs).
    ProfinetDcp(&'a ProfinetDcpEvent<'a>),
    /// A DNS query with its response (no `ics`).
    Dns(&'a NameServiceEvent<'a>),
    /// A NetBIOS name service query, registration or response (no `ics`).
    Netbios(&'a NameServiceEvent<'a>),
    /// A DHCP message (no `ics`).
    Dhcp(&'a DhcpEvent<'a>),
    /// An HTTP request with its response (no `ics`).
    Http(&'a HttpEvent<'a>),
    /// A flow ended (or an interim record of a long flow).
    Flow(&'a FlowEvent),
    /// Something malformed, suspicious or over a limit.
    Anomaly(&'a AnomalyEvent<'a>),
    /// Totals at the end of a run.
    Stats(&'a crate::Stats),
    /// An event made above the sensor (asset, alert), which writes its own object.
    Ext(&'a dyn ExtEvent),
}

/// An event type defined by a layer above the sensor. It names itself and
/// writes its own object; typed consumers downcast through `as_any`.
pub trait ExtEvent: std::fmt::Debug {
    /// The `event_type` value, which is also the name of its object.
    fn event_type(&self) -> &'static str;
    /// Writes the event's object (`"<event_type>":{...}`) into `w`.
    fn write_json(&self, w: &mut plantshield_events::JsonWriter);
    /// For typed consumers.
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Event<'_> {
    /// The `ics` object of a transaction event.
    pub fn ics(&self) -> Option<&IcsSummary> {
        match self {
            Event::Modbus(m) => Some(&m.ics),
            Event::Iec104(e) => e.ics(),
            Event::Dnp3(d) => Some(&d.ics),
            Event::Enip(e) => e.ics.as_ref(),
            Event::S7comm(s) => Some(&s.ics),
            Event::S7commPlus(s) => Some(&s.ics),
            Event::Bacnet(b) => Some(&b.ics),
            Event::Opcua(o) => o.ics.as_ref(),
            Event::ProfinetDcp(d) => Some(&d.ics),
            Event::Dns(_)
            | Event::Netbios(_)
            | Event::Dhcp(_)
            | Event::Http(_)
            | Event::Flow(_)
            | Event::Anomaly(_)
            | Event::Stats(_)
            | Event::Ext(_) => None,
        }
    }

    /// The `event_type` value.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Modbus(_) => "modbus",
            Event::Iec104(_) => "iec104",
            Event::Dnp3(_) => "dnp3",
            Event::Enip(_) => "enip",
            Event::S7comm(_) => "s7comm",
            Event::S7commPlus(_) => "s7comm_plus",
            Event::Bacnet(_) => "bacnet",
            Event::Opcua(_) => "opcua",
            Event::ProfinetDcp(_) => "profinet_dcp",
            Event::Dns(_) => "dns",
            Event::Netbios(_) => "netbios",
            Event::Dhcp(_) => "dhcp",
            Event::Http(_) => "http",
            Event::Flow(_) => "flow",
            Event::Anomaly(_) => "anomaly",
            Event::Stats(_) => "stats",
            Event::Ext(e) => e.event_type(),
        }
    }
}

/// Receives events.
pub trait EventSink {
    /// One event.
    fn event(&mut self, env: &Envelope, ev: &Event<'_>);

    /// A fact about the network that is not an event of its own (not
    /// written to JSON), for consumers such as the asset inventory.
    fn observe(&mut self, _obs: &Observation<'_>) {}

    /// A hint that events of the flow in `slot` ([`Envelope::flow_slot`])
    /// may follow after `ahead` packets (1 or 2; see `Sensor::prefetch`):
    /// a sink that keeps per-flow state can start loading it into the
    /// caches, the records the flow's slot points to when the slot's own
    /// record was hinted a packet earlier (`ahead` 1). The slot may be
    /// wrong or stale; nothing observable may change.
    fn prefetch_flow(&self, _slot: u32, _ahead: u8) {}

    /// One event of a flow, with the flow's [`Notes`]: words the sensor
    /// keeps with the flow record for its sink, where a sink can keep its
    /// per-flow state (the line beside the record the sensor already
    /// holds, rather than a table of its own). They are zero when the flow
    /// starts and again whenever its application protocol is named (found,
    /// or refined by its session), and between two such times every event
    /// given with them has the same `flow_id` and `app_proto`, and the
    /// flow's two ends as `src` and `dst`, either way round (BACnet peers
    /// both request). A wrapper that does not use them passes them on; one
    /// that does keeps them from the sinks behind it (which then get
    /// [`EventSink::event`]).
    fn flow_event(&mut self, env: &Envelope, ev: &Event<'_>, _notes: &mut Notes) {
        self.event(env, ev);
    }

    /// A hint that an event may follow with `notes` a packet from now:
    /// the records they point to can start loading. Nothing observable
    /// may change; the notes may be those of another flow.
    fn prefetch_notes(&self, _notes: &Notes) {}
}

/// A sink borrowed mutably is a sink, so that wrappers (the engine, the
/// audit trail) can sit in front of a `&mut dyn EventSink`.
impl<S: EventSink + ?Sized> EventSink for &mut S {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        (**self).event(env, ev);
    }

    fn observe(&mut self, obs: &Observation<'_>) {
        (**self).observe(obs);
    }

    fn prefetch_flow(&self, slot: u32, ahead: u8) {
        (**self).prefetch_flow(slot, ahead);
    }

    fn flow_event(&mut self, env: &Envelope, ev: &Event<'_>, notes: &mut Notes) {
        (**self).flow_event(env, ev, notes);
    }

    fn prefetch_notes(&self, notes: &Notes) {
        (**self).prefetch_notes(notes);
    }
}

/// Network facts below the event level.
#[derive(Clone, Copy, Debug)]
pub enum Observation<'a> {
    /// An ARP packet: who claims which IPv4 address.
    Arp {
        /// Capture time.
        ts: i64,
        /// VLAN key.
        vlan: u32,
        /// The packet.
        arp: &'a plantshield_decode::Arp,
    },
    /// A frame that is neither IP nor ARP (GOOSE, Sampled Values,
    /// PROFINET, LLDP, spanning tree, ...): its sender exists even if it
    /// never speaks IP.
    Frame {
        /// Capture time.
        ts: i64,
        /// VLAN key.
        vlan: u32,
        /// Source MAC.
        src: plantshield_decode::MacAddr,
        /// Destination MAC.
        dst: plantshield_decode::MacAddr,
        /// EtherType, or the 802.3 length for LLC frames.
        ethertype: u16,
    },
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

/// An IEC 60870-5-104 event: a transaction, or the link record written
/// once per connection when it ends.
// Built on the stack for one sink call; boxing the larger variant would
// allocate per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Iec104Event<'a> {
    /// A U-format procedure or an ASDU exchange.
    Transaction(Iec104Transaction<'a>),
    /// APDUs counted per direction: S-format acknowledgements are counted
    /// here and never logged as transactions.
    Link(Iec104Link),
}

impl Iec104Event<'_> {
    /// The `ics` object (transactions only).
    pub fn ics(&self) -> Option<&IcsSummary> {
        match self {
            Iec104Event::Transaction(t) => Some(&t.ics),
            Iec104Event::Link(_) => None,
        }
    }
}

/// One ASDU of a transaction, as carried by an I-format APDU.
#[derive(Clone, Copy, Debug)]
pub struct Iec104Asdu<'a> {
    /// Capture time of the APDU.
    pub ts_ns: i64,
    /// N(S).
    pub send_sequence: u16,
    /// N(R).
    pub receive_sequence: u16,
    /// The parsed ASDU, or what a too-short one held.
    pub asdu: Result<iec104::Asdu<'a>, iec104::TruncatedAsdu>,
}

/// The U-format frames of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iec104UFrames {
    /// The function bits of the first frame seen.
    pub function: iec104::UFunction,
    /// The activation was seen.
    pub act: bool,
    /// The confirmation was seen.
    pub con: bool,
}

/// An IEC 60870-5-104 transaction: a STARTDT/STOPDT/TESTFR activation with
/// its confirmation; a command, interrogation or parameter activation with
/// its confirmation and, where it comes, its termination; a read command
/// with its answer; or one ASDU of its own (monitored data, file transfer,
/// an unanswered confirmation).
#[derive(Clone, Copy, Debug)]
pub struct Iec104Transaction<'a> {
    /// U-format procedure (`None` for ASDU transactions).
    pub u: Option<Iec104UFrames>,
    /// The controlling station's activation, deactivation or read request.
    pub request: Option<Iec104Asdu<'a>>,
    /// ACTCON/DEACTCON or a negative mirror (causes 44-47).
    pub confirmation: Option<Iec104Asdu<'a>>,
    /// A mirror with cause 44-47 following the confirmation (a station
    /// saying why it refused).
    pub rejection: Option<Iec104Asdu<'a>>,
    /// ACTTERM.
    pub termination: Option<Iec104Asdu<'a>>,
    /// Monitored data (or the answer to a read command).
    pub data: Option<Iec104Asdu<'a>>,
    /// Confirmation time minus request time.
    pub latency_ns: Option<i64>,
    /// Findings (`Iec104Flags`).
    pub flags: Iec104Flags,
    /// The `ics` object.
    pub ics: IcsSummary,
}

/// Findings of an IEC 104 transaction: the APCI's, the ASDUs' and the
/// pairing's, as one bit set (APCI bits 0-7, ASDU bits 8-23, pairing 24-31).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iec104Flags(pub u32);

impl Iec104Flags {
    /// The confirmation does not mirror the request's information objects.
    pub const CONFIRMATION_MISMATCH: u32 = 1 << 24;
    /// ACTTERM without a preceding ACTCON.
    pub const TERMINATION_WITHOUT_CONFIRMATION: u32 = 1 << 25;

    /// Adds APCI findings.
    pub fn apci(&mut self, f: iec104::ApciFlags) {
        self.0 |= u32::from(f.0);
    }

    /// Adds ASDU findings.
    pub fn asdu(&mut self, f: iec104::AsduFlags) {
        self.0 |= u32::from(f.0) << 8;
    }

    /// True when nothing was flagged.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The snake_case names of the set flags.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let apci = iec104::ApciFlags((self.0 & 0xff) as u8).names();
        let asdu = iec104::AsduFlags(((self.0 >> 8) & 0xffff) as u16).names();
        let pair = [
            (Self::CONFIRMATION_MISMATCH, "confirmation_mismatch"),
            (
                Self::TERMINATION_WITHOUT_CONFIRMATION,
                "termination_without_confirmation",
            ),
        ]
        .into_iter()
        .filter(move |(b, _)| self.0 & b != 0)
        .map(|(_, n)| n);
        apci.chain(asdu).chain(pair)
    }
}

/// APDUs of one direction of a 104 connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iec104LinkCounters {
    /// I-format APDUs.
    pub i: u64,
    /// S-format APDUs.
    pub s: u64,
    /// U-format APDUs.
    pub u: u64,
    /// Bytes skipped because they did not start a valid APDU.
    pub skipped_bytes: u64,
    /// N(S) of the last I-format APDU.
    pub last_send_sequence: Option<u16>,
    /// N(R) of the last I- or S-format APDU.
    pub last_receive_sequence: Option<u16>,
}

/// The link record of a 104 connection, written when the flow ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Iec104Link {
    /// Towards the controlled station (the 104 server).
    pub toserver: Iec104LinkCounters,
    /// Towards the controlling station.
    pub toclient: Iec104LinkCounters,
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

/// A DNP3 transaction: a request with its response (all fragments) and the
/// master's confirms, an unsolicited response with its confirm, a message
/// whose counterpart was not seen, or a link-layer service exchange.
#[derive(Clone, Copy, Debug)]
pub struct Dnp3Event<'a> {
    /// The master's request (or a confirm that answered nothing seen).
    pub request: Option<&'a dnp3::Message>,
    /// Secure authentication: the outstation's challenge to the request.
    pub challenge: Option<&'a dnp3::Message>,
    /// Secure authentication: the master's reply to the challenge.
    pub challenge_reply: Option<&'a dnp3::Message>,
    /// The response (solicited or unsolicited), all fragments.
    pub response: Option<&'a dnp3::Message>,
    /// The master's confirms of the response's fragments.
    pub confirms: Option<dnp3::Confirms>,
    /// Link-service transactions: the primary frame.
    pub link_request: Option<dnp3::LinkHeader>,
    /// Link-service transactions: the secondary frame.
    pub link_response: Option<dnp3::LinkHeader>,
    /// Only the outstation's side was seen.
    pub request_missing: bool,
    /// A request that expects a response got none.
    pub response_missing: bool,
    /// First response fragment time minus request time.
    pub latency_ns: Option<i64>,
    /// Findings.
    pub flags: dnp3::Flags,
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

/// A BACnet/IP event: a confirmed request with its reply (all segments,
/// and the segment acknowledgements), an unconfirmed request, a network
/// layer message, a BVLL management request with its result, or a
/// message whose counterpart was not seen.
#[derive(Clone, Copy, Debug)]
pub struct BacnetEvent<'a> {
    /// The message that opened the transaction (the first segment of a
    /// segmented request).
    pub request: Option<bacnet::Message<'a>>,
    /// A segmented request: its service data joined over the segments.
    pub request_data: Option<&'a [u8]>,
    /// The reply (the first segment of a segmented ComplexACK), or the
    /// Abort that ended the transaction (from either side).
    pub response: Option<bacnet::Message<'a>>,
    /// A segmented ComplexACK: its service data joined over the segments.
    pub response_data: Option<&'a [u8]>,
    /// The request travelled from the event's destination to its source: an
    /// announcement or notification (I-Am, I-Have, COV and event
    /// notifications) sent by the device, which is the event's server.
    pub request_from_server: bool,
    /// Segments of the request (0 when not segmented).
    pub request_segments: u32,
    /// Segments of the ComplexACK (0 when not segmented).
    pub response_segments: u32,
    /// SegmentACKs (positive) exchanged in the transaction.
    pub segment_acks: u32,
    /// Negative SegmentACKs.
    pub segment_naks: u32,
    /// The destination is a broadcast or multicast address.
    pub broadcast: bool,
    /// Only the reply was seen.
    pub request_missing: bool,
    /// A request that expects a reply got none.
    pub response_missing: bool,
    /// Reply time minus request time.
    pub latency_ns: Option<i64>,
    /// Findings of the messages and their pairing.
    pub flags: bacnet::Flags,
    /// The `ics` object.
    pub ics: IcsSummary,
}

/// An OPC UA binary event: a service request with its response, a
/// secure channel opened or closed, the Hello/Acknowledge of a connection,
/// an error message, or the message count of an encrypted channel.
#[derive(Clone, Copy, Debug)]
pub struct OpcuaEvent<'a> {
    /// What kind of exchange.
    pub kind: OpcuaKind,
    /// The Hello message (connection events).
    pub hello: Option<opcua::Hello<'a>>,
    /// The Acknowledge message (connection events).
    pub acknowledge: Option<opcua::Acknowledge>,
    /// An Error message.
    pub error: Option<opcua::ErrorMessage<'a>>,
    /// The secure channel (OPN/CLO/MSG).
    pub channel: Option<OpcuaChannel<'a>>,
    /// The request (service node id and body; the first chunk's when chunked).
    pub request: Option<opcua::Service<'a>>,
    /// The response.
    pub response: Option<opcua::Service<'a>>,
    /// Chunks of the request and of the response.
    pub chunks: (u32, u32),
    /// Encrypted channel report: MSG chunks from the client and from the server.
    pub encrypted_messages: Option<(u64, u64)>,
    /// Only the response was seen.
    pub request_missing: bool,
    /// The request got no response.
    pub response_missing: bool,
    /// Response time minus request time.
    pub latency_ns: Option<i64>,
    /// Findings.
    pub flags: opcua::Flags,
    /// The `ics` object (none for encrypted-channel reports).
    pub ics: Option<IcsSummary>,
}

/// What an OPC UA event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpcuaKind {
    /// Hello and Acknowledge.
    Connection,
    /// An ERR message.
    Error,
    /// OpenSecureChannel.
    OpenSecureChannel,
    /// CloseSecureChannel.
    CloseSecureChannel,
    /// A service call over MSG.
    Service,
    /// The message count of an encrypted channel (no `ics`).
    Encrypted,
}

/// The secure channel of an OPC UA message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpcuaChannel<'a> {
    /// SecureChannelId.
    pub id: u32,
    /// The security policy URI of the OPN that opened it, when seen.
    pub policy_uri: Option<&'a [u8]>,
    /// Messages are signed and encrypted (policy other than None, or the
    /// OPN bodies did not decode as plain text).
    pub encrypted: bool,
    /// Request id of the request (sequence header).
    pub request_id: Option<u32>,
}

/// A PROFINET DCP event (IEC 61158-6-10, DCP): a Set or Get request with
/// its response (paired by xid and MAC addresses), or one message of its
/// own (Identify requests and responses, Hello, a Set or Get response whose
/// request was not seen).
#[derive(Clone, Copy, Debug)]
pub struct ProfinetDcpEvent<'a> {
    /// Sender of `message`.
    pub src_mac: plantshield_decode::MacAddr,
    /// Destination of `message`.
    pub dst_mac: plantshield_decode::MacAddr,
    /// The request, or the message seen on its own.
    pub message: profinet::DcpMessage<'a>,
    /// The response to a Set or Get request.
    pub response: Option<profinet::DcpMessage<'a>>,
    /// A Set or Get request got no response.
    pub response_missing: bool,
    /// Response time minus request time.
    pub latency_ns: Option<i64>,
    /// The `ics` object.
    pub ics: IcsSummary,
}

/// A DNS or NetBIOS name service transaction: a query with its response,
/// a query that got none, a response whose query was not seen, or a
/// NetBIOS broadcast (answered on another flow).
#[derive(Clone, Copy, Debug)]
pub struct NameServiceEvent<'a> {
    /// The query (a NetBIOS registration, release or refresh request too).
    pub query: Option<dns::Message<'a>>,
    /// The response.
    pub response: Option<dns::Message<'a>>,
    /// Response time minus query time.
    pub latency_ns: Option<i64>,
    /// Findings of the pairing (`question_mismatch`, `opcode_mismatch`,
    /// `query_cut`); each message has its own.
    pub flags: dns::Flags,
    /// A NetBIOS query or registration sent as a broadcast: logged at once,
    /// no response expected on this flow.
    pub broadcast: bool,
    /// The response travelled from the flow's client to its server (the
    /// responder is the event's source). NetBIOS uses port 137 at both
    /// ends, so the flow's client is whoever sent first.
    pub response_from_client: bool,
}

/// A DHCP message (one event per message: the steps of an exchange travel
/// on different flows).
#[derive(Clone, Copy, Debug)]
pub struct DhcpEvent<'a> {
    /// The message.
    pub message: dhcp::Message<'a>,
    /// Its findings.
    pub flags: dhcp::Flags,
}

/// An HTTP transaction: a request with its final response, a request that
/// got none, or a response whose request was not seen.
#[derive(Clone, Copy, Debug)]
pub struct HttpEvent<'a> {
    /// The request: its line, Host and User-Agent (other fields are not
    /// kept while it waits), with the findings of its whole head.
    pub request: Option<http::RequestHead<'a>>,
    /// Length of the request target on the wire (it is kept cut to 2048 octets).
    pub uri_len: usize,
    /// The response head.
    pub response: Option<http::ResponseHead<'a>>,
    /// Response time minus request time.
    pub latency_ns: Option<i64>,
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
    /// Gaps and gap bytes since the flow started (for interim records).
    pub gaps_total: (u32, u64),
    /// Application transactions logged.
    pub transactions: u64,
    /// Anomalies raised on this flow.
    pub anomalies: u32,
    /// MAC address the client's packets came from (first seen).
    pub src_mac: Option<plantshield_decode::MacAddr>,
    /// MAC address the server's packets came from (first seen).
    pub dest_mac: Option<plantshield_decode::MacAddr>,
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
