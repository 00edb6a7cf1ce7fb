//! The generated traffic must be what it claims: every transaction paired
//! and consistent, exact TCP, no anomaly, every connection closed.

use std::collections::HashMap;

use plantshield_capture::CaptureReader;
use plantshield_sensor::{Envelope, Event, EventSink, Sensor, SensorConfig};

use super::{generate, GenConfig, GenStats, DEFAULT_START_NS};

#[derive(Default)]
struct Tally {
    statuses: HashMap<&'static str, u64>,
    functions: HashMap<u32, u64>,
    flagged: u64,
    anomalies: Vec<String>,
    flow_states: HashMap<&'static str, u64>,
    flow_reasons: HashMap<&'static str, u64>,
    midstream: u64,
    gaps: u64,
}

impl EventSink for Tally {
    fn event(&mut self, _env: &Envelope, ev: &Event<'_>) {
        match ev {
            Event::Modbus(m) => {
                *self.statuses.entry(m.ics.status.name()).or_default() += 1;
                *self.functions.entry(m.ics.function_code).or_default() += 1;
                if !m.flags.is_empty() {
                    self.flagged += 1;
                }
            }
            Event::Flow(f) => {
                *self.flow_states.entry(f.state).or_default() += 1;
                *self.flow_reasons.entry(f.reason).or_default() += 1;
                self.midstream += u64::from(f.midstream);
                self.gaps += u64::from(f.gaps);
            }
            Event::Anomaly(a) => self
                .anomalies
                .push(format!("{}.{}: {}", a.layer, a.code, a.message)),
            _ => {}
        }
    }
}

fn run(cfg: &GenConfig) -> (Vec<u8>, GenStats, Tally) {
    let mut buf = Vec::new();
    let st = generate(cfg, &mut buf).expect("generate");
    let mut sensor = Sensor::new(SensorConfig::default());
    let mut tally = Tally::default();
    let mut reader = CaptureReader::new(&buf[..]).expect("pcap header");
    let mut last = i64::MIN;
    while let Some(p) = reader.next_packet().expect("complete records") {
        assert!(p.ts_ns >= last, "records out of time order");
        last = p.ts_ns;
        sensor.process(&p, &mut tally);
    }
    sensor.finish(&mut tally);
    (buf, st, tally)
}

fn small(seed: u64) -> GenConfig {
    GenConfig {
        size: 6 << 20,
        connections: 200,
        servers: 7,
        seed,
        start_ns: DEFAULT_START_NS,
    }
}

#[test]
fn traffic_is_clean_and_consistent() {
    let (buf, st, t) = run(&small(1));
    assert!(buf.len() as u64 >= 6 << 20);
    assert_eq!(buf.len() as u64, st.bytes);
    assert!(
        t.anomalies.is_empty(),
        "anomalies: {:?}",
        &t.anomalies[..t.anomalies.len().min(10)]
    );
    assert_eq!(t.flagged, 0, "transactions with validation flags");
    let total: u64 = t.statuses.values().sum();
    assert_eq!(total, st.transactions);
    assert_eq!(
        t.statuses.get("exception").copied().unwrap_or(0),
        st.exceptions
    );
    assert_eq!(
        t.statuses.get("ok").copied().unwrap_or(0),
        st.transactions - st.exceptions
    );
    for (fc, n) in &t.functions {
        assert_eq!(st.by_function[*fc as usize], *n, "FC {fc}");
    }
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
    // Some connections were reopened, some on the same 5-tuple.
    assert!(st.opened > 200, "no reopened connection");
    assert!(
        t.flow_reasons.contains_key("reused"),
        "{:?}",
        t.flow_reasons
    );
}

#[test]
fn mix_is_roughly_as_documented() {
    let (_, st, _) = run(&small(2));
    let pct = |fc: usize| st.by_function[fc] as f64 * 100.0 / st.transactions as f64;
    assert!((50.0..60.0).contains(&pct(3)), "FC3 {}", pct(3));
    assert!((12.0..18.0).contains(&pct(4)), "FC4 {}", pct(4));
    assert!((8.0..12.0).contains(&(pct(1) + pct(2))));
    assert!((6.0..10.0).contains(&pct(6)));
    assert!((4.0..8.0).contains(&pct(16)));
    for fc in [5, 15, 23] {
        assert!(pct(fc) > 0.3, "FC{fc} {}", pct(fc));
    }
    let exc = st.exceptions as f64 * 100.0 / st.transactions as f64;
    assert!((0.5..1.6).contains(&exc), "exceptions {exc}%");
}

#[test]
fn same_seed_same_bytes() {
    let cfg = GenConfig {
        size: 256 << 10,
        ..small(9)
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    generate(&cfg, &mut a).expect("generate");
    generate(&cfg, &mut b).expect("generate");
    assert_eq!(a, b);
    let mut c = Vec::new();
    generate(&GenConfig { seed: 10, ..cfg }, &mut c).expect("generate");
    assert_ne!(a, c);
}
