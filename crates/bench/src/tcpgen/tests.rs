//! The generated traffic must be what it claims: PlantShield's own parsers
//! decode every generated capture without an anomaly or a validation flag,
//! report exactly the transactions the generator counted, and see every
//! connection opened and closed.

use std::collections::BTreeMap;

use plantshield_capture::CaptureReader;
use plantshield_sensor::{Envelope, Event, EventSink, Iec104Event, Sensor, SensorConfig};

use super::{generate, GenConfig, GenStats, Protocol, DEFAULT_START_NS};

#[derive(Default)]
struct Tally {
    /// Transactions by event type and `ics.function`.
    functions: BTreeMap<(&'static str, String), u64>,
    statuses: BTreeMap<&'static str, u64>,
    /// Transactions with validation flags (first few).
    flagged: Vec<String>,
    flagged_total: u64,
    anomalies: Vec<String>,
    flow_states: BTreeMap<&'static str, u64>,
    flow_reasons: BTreeMap<&'static str, u64>,
    midstream: u64,
    gaps: u64,
    /// Records that are not transactions (IEC 104 link records, ...).
    records: u64,
}

fn flags(ev: &Event<'_>) -> Option<String> {
    let names: Vec<&str> = match ev {
        Event::Dnp3(d) => d.flags.names().collect(),
        Event::S7comm(s) => s.flags.names().collect(),
        Event::S7commPlus(s) => s.flags.names().collect(),
        Event::Iec104(Iec104Event::Transaction(t)) => t.flags.names().collect(),
        Event::Enip(e) => e.flags.names().collect(),
        Event::Modbus(m) => m.flags.names().collect(),
        _ => Vec::new(),
    };
    (!names.is_empty()).then(|| names.join(","))
}

impl EventSink for Tally {
    fn event(&mut self, _env: &Envelope, ev: &Event<'_>) {
        match ev {
            Event::Flow(f) => {
                *self.flow_states.entry(f.state).or_default() += 1;
                *self.flow_reasons.entry(f.reason).or_default() += 1;
                self.midstream += u64::from(f.midstream);
                self.gaps += u64::from(f.gaps);
            }
            Event::Anomaly(a) => self
                .anomalies
                .push(format!("{}.{}: {}", a.layer, a.code, a.message)),
            Event::Stats(_) => {}
            _ => match ev.ics() {
                Some(ics) => {
                    let key = (ev.event_type(), ics.function.to_string());
                    *self.functions.entry(key).or_default() += 1;
                    *self.statuses.entry(ics.status.name()).or_default() += 1;
                    if let Some(f) = flags(ev) {
                        self.flagged_total += 1;
                        if self.flagged.len() < 10 {
                            self.flagged.push(format!("{}: {f}", ics.function));
                        }
                    }
                }
                None => self.records += 1,
            },
        }
    }
}

fn run<P: Protocol>(p: &mut P, cfg: &GenConfig) -> (Vec<u8>, GenStats, Tally) {
    let mut buf = Vec::new();
    let st = generate(p, cfg, &mut buf).expect("generate");
    let mut sensor = Sensor::new(SensorConfig::default());
    let mut tally = Tally::default();
    let mut reader = CaptureReader::new(&buf[..]).expect("pcap header");
    let mut last = i64::MIN;
    while let Some(pkt) = reader.next_packet().expect("complete records") {
        assert!(pkt.ts_ns >= last, "records out of time order");
        last = pkt.ts_ns;
        sensor.process(&pkt, &mut tally);
    }
    sensor.finish(&mut tally);
    (buf, st, tally)
}

fn small(seed: u64) -> GenConfig {
    GenConfig {
        size: 3 << 20,
        connections: 150,
        servers: 20,
        seed,
        start_ns: DEFAULT_START_NS,
    }
}

/// Generates a small capture of `p`, runs the sensor over it and checks
/// it against the generator's own count; returns both for more checks.
fn check<P: Protocol>(p: &mut P, event_type: &'static str, seed: u64) -> (GenStats, Tally) {
    let cfg = small(seed);
    let (buf, st, t) = run(p, &cfg);
    assert!(buf.len() as u64 >= cfg.size);
    assert_eq!(buf.len() as u64, st.bytes);
    assert!(
        t.anomalies.is_empty(),
        "{} anomalies: {:?}",
        t.anomalies.len(),
        &t.anomalies[..t.anomalies.len().min(10)]
    );
    assert_eq!(
        t.flagged_total, 0,
        "transactions with validation flags: {:?}",
        t.flagged
    );
    let expected: BTreeMap<(&'static str, String), u64> = st
        .functions
        .iter()
        .map(|(f, n)| ((event_type, f.to_string()), *n))
        .collect();
    assert_eq!(t.functions, expected, "transactions by function");
    let total: u64 = t.statuses.values().sum();
    assert_eq!(total, st.transactions);
    assert_eq!(
        t.statuses.get("exception").copied().unwrap_or(0),
        st.exceptions,
        "{:?}",
        t.statuses
    );
    assert_eq!(
        t.statuses.get("ok").copied().unwrap_or(0),
        st.transactions - st.exceptions,
        "{:?}",
        t.statuses
    );
    // Every connection was opened with a handshake and closed with FIN.
    assert_eq!(t.midstream, 0);
    assert_eq!(t.gaps, 0);
    let flows: u64 = t.flow_states.values().sum();
    assert_eq!(flows, st.opened);
    assert_eq!(st.opened, st.closed);
    assert_eq!(
        t.flow_states.get("closed").copied(),
        Some(flows),
        "{:?}",
        t.flow_states
    );
    assert!(st.opened > cfg.connections as u64, "no reopened connection");
    (st, t)
}

fn same_seed_same_bytes<P: Protocol>(mut new: impl FnMut() -> P) {
    let cfg = GenConfig {
        size: 256 << 10,
        ..small(9)
    };
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    generate(&mut new(), &cfg, &mut a).expect("generate");
    generate(&mut new(), &cfg, &mut b).expect("generate");
    assert_eq!(a, b);
    generate(&mut new(), &GenConfig { seed: 10, ..cfg }, &mut c).expect("generate");
    assert_ne!(a, c);
}

fn has(st: &GenStats, functions: &[&str]) {
    for f in functions {
        assert!(
            st.functions.get(f).copied().unwrap_or(0) > 0,
            "no {f} in {:?}",
            st.functions
        );
    }
}

#[test]
fn dnp3_traffic_is_clean_and_counted() {
    let (st, _) = check(&mut super::dnp3::Dnp3::default(), "dnp3", 1);
    has(
        &st,
        &[
            "read",
            "write",
            "unsolicited_response",
            "disable_unsolicited",
            "enable_unsolicited",
            "record_current_time",
            "select",
            "operate",
            "direct_operate",
            "request_link_status",
        ],
    );
    assert!(st.messages.get("confirm").copied().unwrap_or(0) > 0);
}

#[test]
fn dnp3_same_seed_same_bytes() {
    same_seed_same_bytes(super::dnp3::Dnp3::default);
}

#[test]
fn s7comm_traffic_is_clean_and_counted() {
    let (st, _) = check(&mut super::s7comm::S7comm::default(), "s7comm", 2);
    has(
        &st,
        &[
            "cotp_connect",
            "setup_communication",
            "read_var",
            "write_var",
            "read_szl",
        ],
    );
    assert!(st.exceptions > 0, "no failed read");
    assert!(st.messages.get("szl_follow_up").copied().unwrap_or(0) > 0);
}

#[test]
fn s7comm_same_seed_same_bytes() {
    same_seed_same_bytes(super::s7comm::S7comm::default);
}

#[test]
fn iec104_traffic_is_clean_and_counted() {
    let (st, t) = check(&mut super::iec104::Iec104::default(), "iec104", 3);
    has(
        &st,
        &[
            "startdt",
            "stopdt",
            "testfr",
            "c_ic_na_1",
            "c_cs_na_1",
            "c_sc_na_1",
            "c_dc_na_1",
            "m_ei_na_1",
            "m_sp_na_1",
            "m_dp_na_1",
        ],
    );
    assert!(st.messages.get("s_frame").copied().unwrap_or(0) > 0);
    // One link record per connection.
    assert_eq!(t.records, st.opened);
}

#[test]
fn iec104_same_seed_same_bytes() {
    same_seed_same_bytes(super::iec104::Iec104::default);
}

#[test]
fn enip_traffic_is_clean_and_counted() {
    let (st, _) = check(&mut super::enip::Enip::default(), "enip", 4);
    has(
        &st,
        &[
            "register_session",
            "list_identity",
            "get_attributes_all",
            "forward_open",
            "forward_close",
            "read_tag",
            "write_tag",
            "multiple_service_packet",
            "unregister_session",
        ],
    );
}

#[test]
fn enip_same_seed_same_bytes() {
    same_seed_same_bytes(super::enip::Enip::default);
}
