//! The application layer of a flow: protocol detection, then the protocol's
//! session (stream framing and transaction pairing).
//!
//! Detection uses port AND content. A flow on a protocol's registered port
//! is checked with a lenient probe and, if the bytes are not that protocol,
//! reported (`app_proto_mismatch`) and left alone rather than parsed into
//! garbage operations. A flow on any other port is checked with a strict
//! probe, so Modbus on port 5020 is still found.

mod modbus;

use std::borrow::Cow;

use plantshield_flow::{StreamSink, TO_CLIENT, TO_SERVER};
use plantshield_protocols::Probe;

use crate::event::{AnomalyEvent, AnomalyKind, Envelope, Event, EventSink};
use crate::{SensorConfig, Stats};

pub(crate) use modbus::ModbusSession;

/// Bytes buffered per direction while detection waits for more.
const MAX_PROBE_BYTES: usize = 512;

/// What the flow's application layer is.
pub(crate) enum AppState {
    /// Not decided yet.
    Detecting(Box<Detect>),
    /// Modbus/TCP.
    Modbus(Box<ModbusSession>),
    /// Nothing we parse: reassembly can be bypassed.
    None,
}

#[derive(Default)]
pub(crate) struct Detect {
    buf: [Vec<u8>; 2],
    mismatch_reported: bool,
}

/// Per-flow state kept next to the app state: counters for the flow record.
pub(crate) struct FlowApp {
    pub state: AppState,
    pub app_proto: Option<&'static str>,
    /// The application's client is the TCP responder (a server-side port
    /// opened the connection, e.g. a Modbus device connecting out).
    pub reverse: bool,
    pub transactions: u64,
    pub anomalies: u32,
}

impl FlowApp {
    pub fn new(tcp: bool) -> Self {
        FlowApp {
            state: if tcp {
                AppState::Detecting(Box::default())
            } else {
                AppState::None
            },
            app_proto: None,
            reverse: false,
            transactions: 0,
            anomalies: 0,
        }
    }
}

/// Flow identity copied out for event envelopes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlowMeta {
    pub id: u64,
    pub client: (std::net::IpAddr, u16),
    pub server: (std::net::IpAddr, u16),
    pub proto: u8,
    pub vlan: u32,
}

/// Everything a session needs to report: where events go, the counters,
/// the configuration and the flow's identity.
pub(crate) struct Out<'a> {
    pub meta: &'a FlowMeta,
    pub sink: &'a mut dyn EventSink,
    pub stats: &'a mut Stats,
    pub cfg: &'a SensorConfig,
    pub ts: i64,
    pub app_proto: Option<&'static str>,
    pub reverse: bool,
    pub transactions: &'a mut u64,
    pub anomalies: &'a mut u32,
}

impl Out<'_> {
    /// The envelope of a transaction at `ts`: application client to server.
    pub fn envelope(&self, ts: i64) -> Envelope {
        let (src, dst) = if self.reverse {
            (self.meta.server, self.meta.client)
        } else {
            (self.meta.client, self.meta.server)
        };
        Envelope {
            ts_ns: ts,
            flow_id: Some(self.meta.id),
            src: Some(src),
            dst: Some(dst),
            proto: Some(self.meta.proto),
            app_proto: self.app_proto,
            vlan: self.meta.vlan,
        }
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
        self.sink.event(&env, &Event::Anomaly(&ev));
    }
}

/// The stream sink handed to TCP reassembly for one segment.
pub(crate) struct AppCtx<'a> {
    pub state: &'a mut AppState,
    pub out: Out<'a>,
}

impl AppCtx<'_> {
    fn detect(&mut self, dir: usize, bytes: &[u8]) {
        let AppState::Detecting(det) = self.state else {
            return;
        };
        let port = plantshield_protocols::modbus::PORT;
        let (cport, sport) = (self.out.meta.client.1, self.out.meta.server.1);
        let on_port = sport == port || cport == port;
        let buf = &mut det.buf[dir];
        let copied = bytes.len().min(MAX_PROBE_BYTES.saturating_sub(buf.len()));
        buf.extend_from_slice(&bytes[..copied]);
        let verdict = match plantshield_protocols::modbus::probe(buf, !on_port) {
            Probe::NeedMore if buf.len() >= MAX_PROBE_BYTES => Probe::NoMatch,
            v => v,
        };
        match verdict {
            Probe::Match => {
                let mut det = std::mem::replace(self.state, AppState::Modbus(Box::default()));
                self.out.app_proto = Some("modbus");
                // A device on the Modbus port that opened the connection is
                // still the Modbus server: requests travel towards it.
                self.out.reverse = cport == port && sport != port;
                if let (AppState::Detecting(d), AppState::Modbus(s)) = (&mut det, &mut *self.state)
                {
                    s.set_request_dir(if self.out.reverse {
                        TO_CLIENT
                    } else {
                        TO_SERVER
                    });
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
            }
            Probe::NoMatch if on_port => {
                // Not Modbus, but keep looking at later segments: a junk
                // first segment must not blind the monitor to what follows.
                buf.clear();
                if !det.mismatch_reported {
                    det.mismatch_reported = true;
                    self.out.anomaly(
                        AnomalyKind::Applayer,
                        "modbus",
                        "app_proto_mismatch",
                        Cow::Borrowed("bytes on the Modbus port are not Modbus/TCP; not parsed"),
                    );
                }
            }
            Probe::NoMatch => *self.state = AppState::None,
            Probe::NeedMore => {}
        }
    }
}

impl StreamSink for AppCtx<'_> {
    fn data(&mut self, dir: usize, bytes: &[u8]) {
        match self.state {
            AppState::Modbus(s) => s.data(dir, bytes, &mut self.out),
            AppState::Detecting(_) => self.detect(dir, bytes),
            AppState::None => {}
        }
    }

    fn gap(&mut self, dir: usize, len: u64) {
        match self.state {
            AppState::Modbus(s) => s.gap(dir, len),
            AppState::Detecting(d) => {
                // Detection restarts after a hole.
                d.buf[TO_SERVER].clear();
                d.buf[TO_CLIENT].clear();
                let _ = dir;
            }
            AppState::None => {}
        }
    }
}

/// Ends the application layer of a flow: unanswered requests become
/// `no_response` transactions.
pub(crate) fn finish(state: &mut AppState, out: &mut Out<'_>) {
    if let AppState::Modbus(s) = state {
        s.finish(out);
    }
}
