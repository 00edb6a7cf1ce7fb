//! The `analyze` command as scripts use it: every event of every corpus
//! file validates against the published JSON Schema, several files go
//! through one run, standard input works, a truncated capture is reported
//! and not fatal, and the summary says what happened.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value =
        serde_json::from_str(plantshield_events::EVENT_SCHEMA).expect("schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c
        .compile("urn:plantshield:events", &mut schemas)
        .expect("schema compiles");
    (schemas, idx)
}

fn all_captures() -> Vec<String> {
    let mut v = Vec::new();
    for dir in std::fs::read_dir(pcaps()).unwrap() {
        let dir = dir.unwrap().path();
        if dir.file_name().unwrap() == "oracle" || !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir).unwrap() {
            let f = f.unwrap().path();
            if matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                v.push(f.to_string_lossy().into_owned());
            }
        }
    }
    v.sort();
    v
}

#[test]
fn every_event_of_the_corpus_validates_against_the_schema() {
    let files = all_captures();
    let mut args: Vec<&str> = vec!["--no-progress"];
    args.extend(files.iter().map(String::as_str));
    let run = analyze(&args);
    assert!(run.status.success(), "{}", run.stderr);
    let (schemas, idx) = schema();
    let mut types = std::collections::BTreeMap::new();
    for e in &run.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
        *types
            .entry(e["event_type"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    // Several files in one run: one stats record, every frame counted.
    assert_eq!(types["stats"], 1);
    let stats = &run.of_type("stats")[0]["stats"];
    let frames: u64 = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&format!("{}/", pcaps().display())).unwrap();
            oracle(rel)["total_frames"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(stats["packets"], frames);
    assert!(
        types["modbus"] > 300 && types["flow"] > 100 && types["anomaly"] > 0,
        "{types:?}"
    );
}

/// Within one capture a flow id names one flow; a day-long flow has interim
/// records for distinct periods. (Across files in one run, identical
/// traffic in two files is one flow, as with a rotated capture set.)
#[test]
fn flow_ids_name_one_flow() {
    let run = analyze_file(&pcaps().join("mixed/qut_dnp3_mitm_testing_frequent_attacker.pcap"));
    let flows = run.of_type("flow");
    let mut by_id: std::collections::BTreeMap<u64, Vec<(String, String)>> = Default::default();
    for e in &flows {
        by_id
            .entry(e["flow_id"].as_u64().unwrap())
            .or_default()
            .push((
                e["flow"]["start"].as_str().unwrap().into(),
                e["flow"]["end"].as_str().unwrap().into(),
            ));
    }
    let interim = flows
        .iter()
        .filter(|e| e["flow"]["reason"] == "lifetime")
        .count();
    assert!(interim > 0);
    // The records of one flow tile its life without overlap.
    for periods in by_id.values() {
        for w in periods.windows(2) {
            assert!(w[0].1 <= w[1].0, "overlapping records {w:?}");
        }
    }
    assert_eq!(by_id.len() + interim, flows.len());
}

#[test]
fn crafted_events_validate_too() {
    // Every Modbus body shape, including flags, device ids and file records.
    let mut c = Conversation::new(ip4(10, 1, 0, 2), 40000, ip4(10, 1, 0, 1), 502);
    c.handshake();
    let pairs: &[(&[u8], &[u8])] = &[
        (
            &[0x14, 7, 6, 0, 4, 0, 1, 0, 2],
            &[0x14, 6, 5, 6, 0x0d, 0xfe, 0, 0x20],
        ),
        (
            &[0x15, 9, 6, 0, 4, 0, 7, 0, 1, 0x06, 0xaf],
            &[0x15, 9, 6, 0, 4, 0, 7, 0, 1, 0x06, 0xaf],
        ),
        (
            &[0x2b, 0x0e, 1, 0],
            &[
                0x2b, 0x0e, 1, 1, 0, 0, 2, 0, 3, b'A', b'C', b'M', 0x80, 2, b'x', 0xff,
            ],
        ),
        (&[0x08, 0, 4, 0, 0], &[0x08, 0, 4, 0, 0]),
        (&[0x0c], &[0x0c, 8, 0, 0, 1, 8, 1, 0x21, 0x20, 0]),
        (&[0x0b], &[0x0b, 0xff, 0xff, 1, 8]),
        (&[0x11], &[0x11, 3, 0xff, 0xff, 1]),
        (&[0x18, 4, 0xde], &[0x18, 0, 6, 0, 2, 1, 0xb8, 0x12, 0x84]),
        (
            &[0x16, 0, 4, 0, 0xf2, 0, 0x25],
            &[0x16, 0, 4, 0, 0xf2, 0, 0x25],
        ),
        (&[0x05, 0, 1, 0x12, 0x34], &[0x05, 0, 2, 0x12, 0x34]),
        (&[0x03, 0, 1, 0, 200], &[0x83, 3]),
        (&[0x64, 1, 2, 3], &[0x64, 9]),
    ];
    for (i, (q, r)) in pairs.iter().enumerate() {
        c.client(&adu(i as u16, 1, q)).server(&adu(i as u16, 1, r));
    }
    c.server(&adu(999, 1, &[3, 2, 0, 1]));
    c.client(&adu(1000, 1, &[7]));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("all.pcap");
    c.write(&p);
    let run = analyze_file(&p);
    let (schemas, idx) = schema();
    for e in &run.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
    let m = modbus(&run);
    assert_eq!(m.len(), pairs.len() + 2);
    assert_eq!(m[2]["modbus"]["device_id"]["objects"]["vendor_name"], "ACM");
    assert_eq!(
        m[2]["modbus"]["device_id"]["objects"]["object_128"],
        "x\u{fffd}"
    );
    assert_eq!(m[2]["modbus"]["device_id"]["more_follows"], false);
    assert_eq!(m[3]["ics"]["operation"], "mode_change");
    assert_eq!(
        m[9]["modbus"]["flags"],
        serde_json::json!(["invalid_coil_value", "response_mismatch"])
    );
    assert_eq!(
        m[10]["modbus"]["flags"],
        serde_json::json!(["quantity_out_of_range"])
    );
}

#[test]
fn stdin_output_file_and_summary() {
    let src = pcaps().join("modbus/modbus_example.pcap");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let mut child = Command::new(bin())
        .args(["analyze", "--no-progress", "-", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&src).unwrap())
        .unwrap();
    let res = child.wait_with_output().unwrap();
    assert!(res.status.success());
    assert!(res.stdout.is_empty(), "events go to the file, not stdout");
    let text = std::fs::read_to_string(&out).unwrap();
    let from_stdin: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let from_file = analyze_file(&src);
    assert_eq!(from_stdin.len(), from_file.events.len());
    let summary = String::from_utf8(res.stderr).unwrap();
    assert!(summary.contains("100 packets"), "{summary}");
    assert!(summary.contains("modbus transactions: 24"), "{summary}");
    assert!(summary.contains("read_holding_registers"), "{summary}");
    assert!(summary.contains("MB/s"), "{summary}");
    assert!(summary.contains("peak RSS"), "{summary}");
}

/// `-o -` writes to standard output, as `-` reads standard input: it
/// creates no file named `-`.
#[test]
fn dash_output_is_standard_output() {
    let src = pcaps().join("modbus/modbus_example.pcap");
    let dir = tempfile::tempdir().unwrap();
    let res = Command::new(bin())
        .current_dir(dir.path())
        .args(["analyze", "--no-progress", "-q", "-o", "-"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(res.status.success());
    assert!(!dir.path().join("-").exists(), "no file named -");
    let text = String::from_utf8(res.stdout).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events, analyze_file(&src).events);
}

#[test]
fn truncated_capture_is_reported_not_fatal() {
    let src = std::fs::read(pcaps().join("modbus/modbus_example.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &src[..src.len() - 30]).unwrap();
    let run = analyze(&["--no-progress", cut.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "truncation is not fatal: {}",
        run.stderr
    );
    assert_eq!(run.anomalies("truncated_record"), 1);
    assert_eq!(run.of_type("stats")[0]["stats"]["packets"], 99);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    // A file that is no capture at all fails the run but not the others.
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file").unwrap();
    let good = pcaps().join("modbus/modbus-eit.pcap");
    let run = analyze(&[
        "--no-progress",
        junk.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(modbus(&run).len(), 2);
    assert_eq!(run.anomalies("unknown_format"), 1);
}

#[test]
fn count_only_writes_nothing_but_counts_the_same() {
    let src = pcaps().join("modbus/modbus_test_data_part2.pcap");
    let out = Command::new(bin())
        .args(["analyze", "--no-progress", "--count-only"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let summary = String::from_utf8(out.stderr).unwrap();
    let full = analyze_file(&src);
    let want = format!("events counted: {}", full.events.len());
    assert!(summary.contains(&want), "{summary}");
}
