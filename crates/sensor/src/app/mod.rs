//! The application layer of a flow: protocol detection, then the protocol's
//! session (stream framing and transaction pairing).
//!
//! Every protocol registers a [`Detector`] in [`DETECTORS`]: its name, its
//! registered TCP and UDP ports, a content probe and a session constructor.
//! Detection uses port AND content:
//!
//! - On a protocol's registered port a lenient probe decides. Bytes that are
//!   not that protocol are reported once (`app_proto_mismatch`) and never
//!   parsed; later segments are probed again, so a junk first segment does
//!   not blind the monitor to what follows.
//! - On any other port, strict probes (whole PDUs, known function codes)
//!   find the protocol by content alone; if none matches the flow is left
//!   alone and its reassembly bypassed.
//!
//! A device on a registered server port that opens the TCP connection (a
//! reverse connection) is still the protocol's server: the session is told
//! that requests travel towards the TCP client (`reverse`).

mod bacnet;
mod dhcp;
mod dnp3;
mod dns;
mod enip;
mod http;
mod iec104;
mod modbus;
mod netbios;
mod opcua;
mod s7comm;

use std::borrow::Cow;

use plantshield_flow::{StreamSink, TO_CLIENT, TO_SERVER};
use plantshield_protocols::Probe;

use crate::event::{AnomalyEvent, AnomalyKind, Envelope, Event, EventSink, Notes};
use crate::{SensorConfig, Stats};

/// Bytes buffered per direction while detection waits for more.
const MAX_PROBE_BYTES: usize = 512;

/// One protocol's session on one flow.
pub(crate) trait Session {
    /// Reassembled TCP bytes travelling in `dir`.
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>);
    /// `len` bytes of direction `dir` were never seen; framing is lost.
    fn gap(&mut self, dir: usize, len: u64);
    /// One UDP datagram travelling in `dir` (a message boundary).
    fn datagram(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.data(dir, bytes, out);
    }
    /// The flow ended: report what is still pending.
    fn finish(&mut self, out: &mut Out<'_>);
    /// Starts loading the session into the caches, for a segment of its
    /// flow that comes soon (see `Sensor::prefetch`). Instantiated for each
    /// session type, so the number of lines is a constant: no loop through
    /// the size in the vtable.
    #[inline]
    fn prefetch(&self) {
        plantshield_flow::prefetch_lines(self);
    }
}

/// How a protocol is recognised and started.
pub(crate) struct Detector {
    /// `app_proto` and `event_type`.
    pub name: &'static str,
    /// Registered TCP server ports.
    pub tcp_ports: &'static [u16],
    /// Registered UDP ports.
    pub udp_ports: &'static [u16],
    /// Content check; `strict` off the registered ports.
    pub probe: fn(&[u8], bool) -> Probe,
    /// A session; `request_dir` is the flow direction carrying requests.
    pub new: fn(request_dir: usize) -> Box<dyn Session>,
}

/// Every protocol PlantShield parses, in probing order.
pub(crate) static DETECTORS: &[Detector] = &[
    modbus::DETECTOR,
    dnp3::DETECTOR,
    iec104::DETECTOR,
    s7comm::DETECTOR,
    enip::DETECTOR,
    bacnet::DETECTOR,
    opcua::DETECTOR,
    // IT protocols that name hosts; only HTTP is found by content off its ports.
    dns::DETECTOR,
    netbios::DETECTOR,
    dhcp::DETECTOR,
    http::DETECTOR,
];

/// What the flow's application layer is.
pub(crate) enum AppState {
    /// Not decided yet.
    Detecting(Box<Detect>),
    /// A protocol session.
    Active(Box<dyn Session>),
    /// Nothing we parse: reassembly can be bypassed.
    None,
}

#[derive(Default)]
pub(crate) struct Detect {
    buf: [Vec<u8>; 2],
    mismatch_reported: bool,
}

/// A protocol name, by reference to where it is kept (a detector's name,
/// or a session's static): half the size of the name itself.
pub(crate) type ProtoName = &'static &'static str;

/// Per-flow state kept next to the app state: counters for the flow record.
/// Laid out in the order of the fields: the session, which every segment
/// reads, in the flow record's head; then what events read (the protocol,
/// the direction, the first packets' MACs and TTLs, the counters), in the
/// record's next line with the flow's id (see `Flow`).
#[repr(C)]
pub(crate) struct FlowApp {
    pub state: AppState,
    pub app_proto: Option<ProtoName>,
    pub transactions: u64,
    /// Gaps already reported in interim flow records.
    pub gaps_reported: (u32, u64),
    /// Source MAC of each direction's first packet.
    pub macs: [Option<plantshield_decode::MacAddr>; 2],
    /// IP TTL of each direction's first packet (0 not seen).
    pub ttls: [u8; 2],
    /// The application's client is the TCP responder (a server-side port
    /// opened the connection, e.g. a Modbus device connecting out).
    pub reverse: bool,
    pub anomalies: u32,
}

/// Seven cache lines (see `Flow`): the head (the key, the counters and the
/// session) in the first two, what events read in the third, the tail (the
/// record's start, the TCP state's hot part) in the fourth and fifth, the
/// sink's notes in the last. A change that moves any of them should be
/// measured.
const _: () = assert!(std::mem::size_of::<plantshield_flow::Flow<FlowApp>>() == 448);
const _: () = assert!(plantshield_flow::Flow::<FlowApp>::HEAD_BYTES == 128);
const _: () = assert!(std::mem::offset_of!(plantshield_flow::Flow<FlowApp>, app) + 24 == 128);
const _: () = assert!(plantshield_flow::Flow::<FlowApp>::TAIL.start == 192);
const _: () = assert!(plantshield_flow::Flow::<FlowApp>::TAIL.end == 320);

impl FlowApp {
    /// Application state for a new flow of IP protocol `proto`.
    pub fn new(proto: u8) -> Self {
        FlowApp {
            state: if proto == 6 || proto == 17 {
                AppState::Detecting(Box::default())
            } else {
                AppState::None
            },
            app_proto: None,
            reverse: false,
            transactions: 0,
            anomalies: 0,
            gaps_reported: (0, 0),
            macs: [None; 2],
            ttls: [0; 2],
        }
    }
}

/// Flow identity copied out for event envelopes (the id by reference:
/// it lies in the record's line that only events read).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlowMeta<'a> {
    pub id: &'a u64,
    pub slot: u32,
    pub client: (std::net::IpAddr, u16),
    pub server: (std::net::IpAddr, u16),
    pub proto: u8,
    pub vlan: u32,
}

/// Everything a session needs to report: where events go, the counters,
/// the configuration and the flow's identity.
pub(crate) struct Out<'a> {
    pub meta: &'a FlowMeta<'a>,
    pub sink: &'a mut dyn EventSink,
    /// The flow's notes, lent to the sink with each event.
    pub notes: &'a mut Notes,
    pub stats: &'a mut Stats,
    pub cfg: &'a SensorConfig,
    /// Capture time of the packet being processed.
    pub ts: i64,
    pub app_proto: &'a mut Option<ProtoName>,
    pub reverse: &'a mut bool,
    pub transactions: &'a mut u64,
    pub anomalies: &'a mut u32,
    pub macs: &'a [Option<plantshield_decode::MacAddr>; 2],
    pub ttls: &'a [u8; 2],
}

/// The envelope of an event of a flow at `ts`: application client to server.
pub(crate) fn envelope(meta: &FlowMeta<'_>, app: &FlowApp, ts: i64) -> Envelope {
    envelope_of(
        meta,
        app.app_proto.copied(),
        app.reverse,
        &app.macs,
        &app.ttls,
        ts,
    )
}

fn envelope_of(
    meta: &FlowMeta<'_>,
    app_proto: Option<&'static str>,
    reverse: bool,
    macs: &[Option<plantshield_decode::MacAddr>; 2],
    ttls: &[u8; 2],
    ts: i64,
) -> Envelope {
    let (s, d) = if reverse { (1, 0) } else { (0, 1) };
    let ends = [meta.client, meta.server];
    Envelope {
        ts_ns: ts,
        flow_id: Some(*meta.id),
        flow_slot: Some(meta.slot),
        src: Some(ends[s]),
        dst: Some(ends[d]),
        proto: Some(meta.proto),
        app_proto,
        vlan: meta.vlan,
        src_mac: macs[s],
        dst_mac: macs[d],
        src_ttl: ttls[s],
        dst_ttl: ttls[d],
    }
}

impl Out<'_> {
    /// The envelope of an event at `ts`: application client to server.
    pub fn envelope(&self, ts: i64) -> Envelope {
        envelope_of(
            self.meta,
            self.app_proto.copied(),
            *self.reverse,
            self.macs,
            self.ttls,
            ts,
        )
    }

    /// Counts an anomaly and, under the per-flow cap, emits it.
    pub fn anomaly(
        &mut self,
        kind: AnomalyKind,
        layer: &'static str,
        code: &'static str,
        message: Cow<'_, str>,
    ) {
        self.stats.anomaly(layer, code);
        *self.anomalies += 1;
        if *self.anomalies > self.cfg.max_anomalies_per_flow {
            self.stats.anomalies_suppressed += 1;
            return;
        }
        let ev = AnomalyEvent {
            kind,
            layer,
            code,
            message,
        };
        let env = self.envelope(self.ts);
        self.emit(&env, &Event::Anomaly(&ev));
    }

    /// Names the flow's application protocol (found, or refined by its
    /// session). The events' protocol, and maybe their direction, change:
    /// the sink's notes start again (see `EventSink::flow_event`).
    pub fn set_app_proto(&mut self, name: ProtoName) {
        *self.app_proto = Some(name);
        *self.notes = Notes::default();
    }

    /// Passes an event of this flow to the sink, with the flow's notes.
    pub fn emit(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.sink.flow_event(env, ev, self.notes);
    }

    /// Counts and emits one transaction event.
    pub fn transaction(&mut self, ts: i64, ev: &Event<'_>) {
        if let Some(ics) = ev.ics() {
            self.stats
                .transaction(ev.event_type(), ics.function_code, ics.function, ics.status);
        }
        *self.transactions += 1;
        let env = self.envelope(ts);
        self.emit(&env, ev);
    }
}

/// The stream sink handed to TCP reassembly for one segment (and used for
/// UDP datagrams).
pub(crate) struct AppCtx<'a> {
    pub state: &'a mut AppState,
    pub out: Out<'a>,
}

impl<'a> AppCtx<'a> {
    /// The context of one flow's application layer.
    pub fn new(
        app: &'a mut FlowApp,
        notes: &'a mut Notes,
        meta: &'a FlowMeta<'a>,
        sink: &'a mut dyn EventSink,
        stats: &'a mut Stats,
        cfg: &'a SensorConfig,
        ts: i64,
    ) -> Self {
        let FlowApp {
            state,
            app_proto,
            reverse,
            transactions,
            anomalies,
            macs,
            ttls,
            ..
        } = app;
        AppCtx {
            state,
            out: Out {
                meta,
                sink,
                notes,
                stats,
                cfg,
                ts,
                app_proto,
                reverse,
                transactions,
                anomalies,
                macs,
                ttls,
            },
        }
    }

    /// True when nothing above the transport is parsed on this flow.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, AppState::None)
    }

    /// Tries to recognise the protocol from bytes travelling in `dir`.
    /// `datagram`: the bytes are one UDP datagram, judged on its own.
    fn detect(&mut self, dir: usize, bytes: &[u8], datagram: bool) {
        let AppState::Detecting(det) = self.state else {
            return;
        };
        let (cport, sport) = (self.out.meta.client.1, self.out.meta.server.1);
        let udp = self.out.meta.proto == 17;
        let ports = |d: &Detector| if udp { d.udp_ports } else { d.tcp_ports };
        let on_port: Vec<&Detector> = DETECTORS
            .iter()
            .filter(|d| ports(d).contains(&sport) || ports(d).contains(&cport))
            .collect();
        let buf = &mut det.buf[dir];
        let copied = if datagram {
            buf.clear();
            0
        } else {
            let n = bytes.len().min(MAX_PROBE_BYTES.saturating_sub(buf.len()));
            buf.extend_from_slice(&bytes[..n]);
            n
        };
        let probe_bytes: &[u8] = if datagram { bytes } else { buf };
        let full = !datagram && buf.len() >= MAX_PROBE_BYTES;
        let judge = |d: &Detector, strict: bool| match (d.probe)(probe_bytes, strict) {
            Probe::NeedMore if full || datagram => Probe::NoMatch,
            v => v,
        };
        let mut found = None;
        let mut waiting = false;
        let candidates: Vec<(&Detector, bool)> = if on_port.is_empty() {
            DETECTORS.iter().map(|d| (d, true)).collect()
        } else {
            on_port.iter().map(|d| (*d, false)).collect()
        };
        for (d, strict) in &candidates {
            match judge(d, *strict) {
                Probe::Match => {
                    found = Some(*d);
                    break;
                }
                Probe::NeedMore => waiting = true,
                Probe::NoMatch => {}
            }
        }
        if let Some(d) = found {
            let mut det = std::mem::replace(self.state, AppState::None);
            // A device on the registered port that opened the connection is
            // still the server: requests travel towards it.
            let reverse = ports(d).contains(&cport) && !ports(d).contains(&sport);
            self.out.set_app_proto(&d.name);
            *self.out.reverse = reverse;
            let mut s = (d.new)(if reverse { TO_CLIENT } else { TO_SERVER });
            if datagram {
                s.datagram(dir, bytes, &mut self.out);
            } else if let AppState::Detecting(d) = &mut det {
                // Replay what detection buffered, the other direction first.
                let other = 1 - dir;
                let (a, b) = (
                    std::mem::take(&mut d.buf[other]),
                    std::mem::take(&mut d.buf[dir]),
                );
                if !a.is_empty() {
                    s.data(other, &a, &mut self.out);
                }
                s.data(dir, &b, &mut self.out);
                if bytes.len() > copied {
                    s.data(dir, &bytes[copied..], &mut self.out);
                }
            }
            *self.state = AppState::Active(s);
            return;
        }
        if waiting {
            return;
        }
        match on_port.first() {
            Some(d) => {
                // Not the registered protocol: report once, keep looking.
                buf.clear();
                if !det.mismatch_reported {
                    det.mismatch_reported = true;
                    let msg = format!("bytes on a {} port are not {}; not parsed", d.name, d.name);
                    self.out.anomaly(
                        AnomalyKind::Applayer,
                        d.name,
                        "app_proto_mismatch",
                        Cow::Owned(msg),
                    );
                }
            }
            None => *self.state = AppState::None,
        }
    }

    /// One UDP datagram.
    pub fn datagram(&mut self, dir: usize, bytes: &[u8]) {
        match self.state {
            AppState::Active(s) => s.datagram(dir, bytes, &mut self.out),
            AppState::Detecting(_) => self.detect(dir, bytes, true),
            AppState::None => {}
        }
    }
}

impl StreamSink for AppCtx<'_> {
    fn data(&mut self, dir: usize, bytes: &[u8]) {
        match self.state {
            AppState::Active(s) => s.data(dir, bytes, &mut self.out),
            AppState::Detecting(_) => self.detect(dir, bytes, false),
            AppState::None => {}
        }
    }

    fn gap(&mut self, dir: usize, len: u64) {
        match self.state {
            AppState::Active(s) => s.gap(dir, len),
            AppState::Detecting(d) => {
                // Detection restarts after a hole.
                d.buf[TO_SERVER].clear();
                d.buf[TO_CLIENT].clear();
            }
            AppState::None => {}
        }
    }
}

/// Ends the application layer of a flow: unanswered requests become
/// `no_response` transactions.
pub(crate) fn finish(state: &mut AppState, out: &mut Out<'_>) {
    if let AppState::Active(s) = state {
        s.finish(out);
    }
}
