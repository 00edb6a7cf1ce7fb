//! The engine keeps its per-flow state (the inventory's resolution of a
//! flow, the detections' sweep and window) in the flows' notes, which the
//! sensor lends with each event (`EventSink::flow_event`). Without them it
//! resolves each flow again through a cache by flow id. Both ways must
//! write the same events (assets, alerts and all) on every capture of the
//! shared corpus and the shipped samples: the notes are only a shortcut,
//! and this holds only if the sensor keeps their contract (they start
//! again whenever a flow's protocol is named or renamed).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use plantshield_capture::CaptureReader;
use plantshield_engine::{Engine, InventoryConfig};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Envelope, Event, EventSink, Notes, Observation, Sensor, SensorConfig};

/// Passes events on without the flows' notes.
struct WithoutNotes<S>(S);

impl<S: EventSink> EventSink for WithoutNotes<S> {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.0.event(env, ev);
    }

    fn observe(&mut self, obs: &Observation<'_>) {
        self.0.observe(obs);
    }
}

/// The JSON lines of the sensor and the engine on one capture, sorted
/// (alerts that close together leave a hash map in its random order).
fn events(path: &Path, notes: bool) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut engine = Engine::new(
        JsonSink::new(&mut out, "test", 32),
        InventoryConfig::default(),
    );
    let mut without = WithoutNotes(&mut engine);
    let sink: &mut dyn EventSink = if notes { without.0 } else { &mut without };
    let mut sensor = Sensor::new(SensorConfig::default());
    if let Ok(mut reader) = CaptureReader::new(&data[..]) {
        while let Ok(Some(p)) = reader.next_packet() {
            sensor.process(&p, sink);
        }
    }
    sensor.finish(sink);
    engine.inner.finish().unwrap();
    drop(engine);
    let mut lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// Flows whose events change protocol or direction when the protocol is
/// found: junk on port 502 (reported with no protocol) before Modbus, in
/// a connection from the master and in one the device opened (whose
/// events then run from the TCP responder).
fn crafted() -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join(format!("plantshield-flow-notes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = b"GET / HTTP/1.0\r\n\r\n";
    let mut forward = Conversation::new(ip4(10, 0, 0, 20), 40100, ip4(10, 0, 0, 10), 502);
    forward.handshake().client(junk);
    let mut reverse = Conversation::new(ip4(10, 0, 0, 10), 502, ip4(10, 0, 0, 20), 4446);
    reverse.handshake().client(junk);
    for tid in 1..=20 {
        forward
            .client(&adu(tid, 1, &[3, 0, 0, 0, 1]))
            .server(&adu(tid, 1, &[3, 2, 0, 5]))
            .client(&adu(tid, 1, &[6, 0, 1, 0, 9]))
            .server(&adu(tid, 1, &[6, 0, 1, 0, 9]));
        reverse
            .server(&adu(tid, 1, &[3, 0, 0, 0, 1]))
            .client(&adu(tid, 1, &[3, 2, 0, 5]));
    }
    let paths = [dir.join("forward.pcap"), dir.join("reverse.pcap")];
    forward.fin().write(&paths[0]);
    reverse.fin().write(&paths[1]);
    paths.into()
}

#[test]
fn notes_change_no_event() {
    let samples = repo().join("samples");
    let mut files = corpus_files();
    files.extend(crafted());
    for f in std::fs::read_dir(&samples).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
            files.push(f);
        }
    }
    let mut assets = 0;
    for f in &files {
        let (with, without) = (events(f, true), events(f, false));
        assert!(
            with == without,
            "{}: {} events with the notes, {} without; the first that differs:\n{:?}",
            f.display(),
            with.len(),
            without.len(),
            with.iter().zip(&without).find(|(a, b)| a != b)
        );
        assets += with
            .iter()
            .filter(|l| l.contains(r#""event_type":"asset""#))
            .count();
    }
    // The comparison saw the engine at work, not only the sensor.
    assert!(assets > 100, "only {assets} asset events");
}

/// Checks the notes' contract on every event given with them: since they
/// were last zero, the same flow and protocol, and the flow's two ends
/// either way round (BACnet peers both request). It writes what it saw
/// into them.
#[derive(Default)]
struct Contract {
    checked: usize,
    broken: Vec<String>,
}

/// What [`Contract`] writes into a flow's notes about one event.
fn mark(env: &Envelope) -> [u64; 4] {
    let word = |s: &str| {
        s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let mut ends = [format!("{:?}", env.src), format!("{:?}", env.dst)];
    ends.sort();
    [
        env.flow_id.unwrap_or(u64::MAX),
        word(env.app_proto.unwrap_or("-")),
        word(&ends[0]),
        word(&ends[1]),
    ]
}

impl EventSink for Contract {
    fn event(&mut self, _env: &Envelope, _ev: &Event<'_>) {}

    fn flow_event(&mut self, env: &Envelope, ev: &Event<'_>, notes: &mut Notes) {
        let m = mark(env);
        if notes.0[..4] != [0; 4] && notes.0[..4] != m {
            self.broken
                .push(format!("{} event of {:?}", ev.event_type(), env));
        }
        notes.0[..4].copy_from_slice(&m);
        self.checked += 1;
    }
}

#[test]
fn notes_hold_one_flow_and_protocol() {
    let mut checked = 0;
    for f in corpus_files().into_iter().chain(crafted()) {
        let data = std::fs::read(&f).unwrap();
        let mut sink = Contract::default();
        let mut sensor = Sensor::new(SensorConfig::default());
        if let Ok(mut reader) = CaptureReader::new(&data[..]) {
            while let Ok(Some(p)) = reader.next_packet() {
                sensor.process(&p, &mut sink);
            }
        }
        sensor.finish(&mut sink);
        assert!(
            sink.broken.is_empty(),
            "{}: {:?}",
            f.display(),
            &sink.broken[..1]
        );
        checked += sink.checked;
    }
    assert!(checked > 5_000, "only {checked} events with notes");
}
