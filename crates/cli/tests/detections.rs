//! Built-in detections: what they raise on the public corpus (each capture
//! was recorded to show the operation), crafted attacks raising exactly one
//! aggregated alert each, and docs/detections.md describing every rule.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::Value;

fn alerts(run: &Run) -> Vec<&Value> {
    run.of_type("alert")
}

fn rule_ids(run: &Run) -> BTreeSet<String> {
    alerts(run)
        .iter()
        .map(|a| a["alert"]["rule_id"].as_str().unwrap().to_string())
        .collect()
}

/// Captures that raise alerts, and which rules; every other corpus capture
/// must raise none (no false alarms on ordinary traffic).
const CORPUS: &[(&str, &[&str])] = &[
    (
        "bacnet/bacnet-stack-services.cap",
        &["ps.ics.device_restart", "ps.ics.mode_change"],
    ),
    (
        "bacnet/bacnet_error_reject_abort.pcap",
        &[
            "ps.ics.device_restart",
            "ps.ics.discovery_sweep",
            "ps.ics.mode_change",
        ],
    ),
    (
        "dnp3/cold_restart_and_response.pcap",
        &["ps.ics.device_restart"],
    ),
    ("dnp3/dnp3_example.pcap", &["ps.ics.write_flood"]),
    (
        "dnp3/dnp3_test_data_part1.pcap",
        &["ps.ics.device_restart", "ps.ics.mode_change"],
    ),
    (
        "enip/EIP-RebootorRestart.pcap",
        &[
            "ps.ics.device_restart",
            "ps.ics.mode_change",
            "ps.ics.program_download",
            "ps.ics.program_upload",
        ],
    ),
    ("enip/cip_start_plc.pcap", &["ps.ics.mode_change"]),
    ("enip/cip_stop_plc.pcap", &["ps.ics.mode_change"]),
    (
        "mixed/qut_dnp3_mitm_testing_frequent_attacker.pcap",
        &["ps.ics.unanswered_storm", "ps.net.arp_spoofing"],
    ),
    ("modbus/fuzz-72.pcap", &["ps.ics.discovery_sweep"]),
    (
        "modbus/modbus_test_data_part1.pcap",
        &["ps.ics.mode_change"],
    ),
    (
        "modbus/modbus_test_data_part2.pcap",
        &["ps.ics.discovery_sweep"],
    ),
    ("s7comm/s7ident.pcap", &["ps.ics.program_upload"]),
    (
        "s7comm/snap7.pcap",
        &["ps.ics.mode_change", "ps.ics.program_upload"],
    ),
    (
        "s7comm/step7_s300_AuthPassword.pcapng",
        &["ps.ics.password"],
    ),
    (
        "s7comm/step7_s300_download.pcapng",
        &["ps.ics.program_download"],
    ),
    ("s7comm/step7_s300_stop.pcapng", &["ps.ics.mode_change"]),
    (
        "s7comm_plus/S7-1200-Uploading-OB1-TIAV12.pcap",
        &["ps.ics.program_download"],
    ),
];

#[test]
fn corpus_alerts_are_the_expected_ones_and_only_those() {
    let want: BTreeMap<&str, BTreeSet<String>> = CORPUS
        .iter()
        .map(|(f, r)| (*f, r.iter().map(|s| s.to_string()).collect()))
        .collect();
    let mut problems = Vec::new();
    for dir in std::fs::read_dir(pcaps()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() || dir.file_name().unwrap() == "oracle" {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if !matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                continue;
            }
            let rel = f
                .strip_prefix(pcaps())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let got = rule_ids(&analyze_file(&f));
            let expected = want.get(rel.as_str()).cloned().unwrap_or_default();
            if got != expected {
                problems.push(format!("{rel}: got {got:?}, expected {expected:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The MITM capture: the attacker takes over two addresses by ARP, which
/// is two arp_spoofing alerts (one per address), each with T0830.
#[test]
fn arp_poisoning_in_the_substation_capture() {
    let run = analyze_file(&pcaps().join("mixed/qut_dnp3_mitm_testing_frequent_attacker.pcap"));
    let spoof: Vec<&Value> = alerts(&run)
        .into_iter()
        .filter(|a| a["alert"]["rule_id"] == "ps.net.arp_spoofing")
        .collect();
    assert_eq!(spoof.len(), 2);
    let ips: BTreeSet<&str> = spoof
        .iter()
        .map(|a| a["src_ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, BTreeSet::from(["192.168.10.221", "192.168.10.222"]));
    for a in spoof {
        assert_eq!(a["alert"]["mitre_attack"], serde_json::json!(["T0830"]));
        assert!(
            a["alert"]["message"]
                .as_str()
                .unwrap()
                .contains("00:10:18:cb:8c:13"),
            "{a}"
        );
    }
}

fn modbus_conv() -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 0, 66), 40100, ip4(10, 0, 0, 10), 502);
    c.handshake();
    c
}

fn run(c: &Conversation) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    c.write(&p);
    analyze_file(&p)
}

/// 1000 register writes in two seconds: one write_flood alert whose count
/// is the writes above the threshold, nothing else.
#[test]
fn write_flood_is_one_aggregated_alert() {
    let mut c = modbus_conv();
    for t in 0..1000u16 {
        c.client(&adu(t, 1, &[6, 0, 1, (t >> 8) as u8, t as u8]));
        c.server(&adu(t, 1, &[6, 0, 1, (t >> 8) as u8, t as u8]));
    }
    let r = run(&c);
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{a:?}");
    let a = &a[0]["alert"];
    assert_eq!(a["rule_id"], "ps.ics.write_flood");
    assert_eq!(a["mitre_attack"], serde_json::json!(["T0806"]));
    // 100 writes are allowed per 10 s window; the other 900 are the flood.
    assert_eq!(a["count"], 900);
    assert_eq!(a["events"].as_array().unwrap().len(), 16);
    assert_eq!(alerts(&r)[0]["src_ip"], "10.0.0.66");
    assert_eq!(alerts(&r)[0]["dest_ip"], "10.0.0.10");
}

/// A write to Modbus unit 0 (broadcast).
#[test]
fn broadcast_write() {
    let mut c = modbus_conv();
    c.client(&adu(1, 0, &[16, 0, 0, 0, 1, 2, 0, 9]));
    c.client(&adu(2, 0, &[16, 0, 0, 0, 1, 2, 0, 9]));
    let r = run(&c);
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["alert"]["rule_id"], "ps.ics.broadcast_write");
    assert_eq!(a[0]["alert"]["count"], 2);
    assert_eq!(a[0]["alert"]["mitre_attack"], serde_json::json!(["T0855"]));
}

/// A scan across unit ids (refused by a gateway) and one across function
/// codes (refused as illegal) are one discovery_sweep alert per target.
#[test]
fn unit_and_function_scans() {
    let mut c = modbus_conv();
    for u in 1..=20u8 {
        c.client(&adu(u16::from(u), u, &[3, 0, 0, 0, 1]));
        c.server(&adu(u16::from(u), u, &[0x83, 0x0b]));
    }
    for f in 30..60u8 {
        c.client(&adu(100 + u16::from(f), 1, &[f, 0, 0]));
        c.server(&adu(100 + u16::from(f), 1, &[f | 0x80, 1]));
    }
    let r = run(&c);
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{a:?}");
    let a = &a[0]["alert"];
    assert_eq!(a["rule_id"], "ps.ics.discovery_sweep");
    assert_eq!(a["mitre_attack"], serde_json::json!(["T0846", "T0888"]));
    assert!(a["message"].as_str().unwrap().contains("unit ids"), "{a}");
    // Units 8..=20 and then every function code beyond the threshold.
    assert_eq!(a["count"], 13 + 30);
}

/// A slow unit-id scan whose probes go unanswered, one every 3 s: the
/// unanswered requests (rate window, 10 s) do not restart the sweep window
/// (60 s), so the 12 unit ids make one sweep.
#[test]
fn slow_unanswered_unit_scan_is_a_sweep() {
    let mut c = modbus_conv();
    for u in 1..=12u8 {
        c.client(&adu(u16::from(u), u, &[3, 0, 0, 0, 1]));
        c.wait(3_000_000_000);
    }
    c.fin();
    let r = run(&c);
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["alert"]["rule_id"], "ps.ics.discovery_sweep");
    assert!(
        a[0]["alert"]["message"]
            .as_str()
            .unwrap()
            .contains("8 unit ids"),
        "{}",
        a[0]
    );
    // Unit ids 8 to 12.
    assert_eq!(a[0]["alert"]["count"], 5);
}

/// A sweep alert counts the refused probes, not the prober's transactions
/// that succeed in the same window.
#[test]
fn sweep_counts_refused_probes_only() {
    let mut c = modbus_conv();
    for u in 1..=10u8 {
        let t = u16::from(u);
        c.client(&adu(t, u + 10, &[3, 0, 0, 0, 1]));
        c.server(&adu(t, u + 10, &[0x83, 0x0b]));
        c.client(&adu(100 + t, 1, &[3, 0, 0, 0, 1]));
        c.server(&adu(100 + t, 1, &[3, 2, 0, 5]));
        c.client(&adu(200 + t, 1, &[3, 0, 0, 0, 1]));
        c.server(&adu(200 + t, 1, &[3, 2, 0, 5]));
    }
    let r = run(&c);
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["alert"]["rule_id"], "ps.ics.discovery_sweep");
    // Unit ids 18, 19 and 20; none of the 20 reads that were answered.
    assert_eq!(a[0]["alert"]["count"], 3);
}

/// Polling many units that answer is no scan; neither is reading many
/// supported functions.
#[test]
fn busy_legitimate_polling_raises_nothing() {
    let mut c = modbus_conv();
    for round in 0..20u16 {
        for u in 1..=30u8 {
            let t = round * 100 + u16::from(u);
            c.client(&adu(t, u, &[3, 0, 0, 0, 1]));
            c.server(&adu(t, u, &[3, 2, 0, 5]));
        }
        c.wait(1_000_000_000);
    }
    assert!(alerts(&run(&c)).is_empty());
}

/// Every rule is documented with its techniques in docs/detections.md.
#[test]
fn detections_doc_describes_every_rule() {
    let doc = std::fs::read_to_string(repo().join("docs/detections.md")).unwrap();
    for r in plantshield_engine::detect::RULES {
        let line = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", r.id)))
            .unwrap_or_else(|| panic!("{} missing from docs/detections.md", r.id));
        for t in r.techniques {
            assert!(line.contains(t), "{}: {t} missing", r.id);
        }
        assert!(line.contains(r.severity.name()), "{}: severity", r.id);
    }
}
