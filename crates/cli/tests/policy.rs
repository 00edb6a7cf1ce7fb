//! Baselines and policies: `policy check` explains every error with its
//! line; learning traffic and checking the same traffic raises nothing (on
//! the sample and on every corpus capture); crafted deviations raise exactly
//! the expected alerts; zones, conduits and deny rules; and the false-alarm
//! rate of learning the first half of each corpus capture and checking the
//! second, which docs/detections.md reports.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use plantshield_capture::{CaptureReader, PcapWriter};
use plantshield_decode::MacAddr;
use serde_json::Value;

fn plantshield(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run plantshield")
}

fn check_policy(policy: &[&Path], capture: &Path) -> Run {
    let mut args: Vec<&str> = vec!["--no-progress", "-q"];
    for p in policy {
        args.push("--policy");
        args.push(p.to_str().unwrap());
    }
    args.push(capture.to_str().unwrap());
    let run = analyze(&args);
    assert!(run.status.success(), "analyze failed: {}", run.stderr);
    run
}

/// (rule id, src, dst) of every alert.
fn alert_keys(run: &Run) -> BTreeSet<(String, String, String)> {
    run.of_type("alert")
        .iter()
        .map(|e| {
            (
                e["alert"]["rule_id"].as_str().unwrap().to_string(),
                e["src_ip"].as_str().unwrap_or("").to_string(),
                e["dest_ip"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn alert<'a>(run: &'a Run, rule: &str) -> &'a Value {
    run.of_type("alert")
        .into_iter()
        .find(|e| e["alert"]["rule_id"] == rule)
        .unwrap_or_else(|| panic!("no {rule} alert"))
}

fn key(rule: &str, src: &str, dst: &str) -> (String, String, String) {
    (rule.into(), src.into(), dst.into())
}

// ---- policy check ----

#[test]
fn policy_check_explains_every_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        r#"[policy]
default = "block"

[[zone]]
name = "control"
security_level = 7
members = ["10.10.0.0/33", "10.10.0.1"]

[[conduit]]
name = "x"
from = "supervisory"
to = "control"
protocols = ["Modbus", "mqtt"]
operations = ["wirte"]
writes = { "DB 5" = ["9-3"] }

[[pair]]
client = "10.0.0.1"
server = "not-an-ip"
protocol = "modbus"

[[accept]]
rule = "ps.nope"
"#,
    )
    .unwrap();
    let o = plantshield(&["policy", "check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let expected: &[(&str, &str)] = &[
        ("2:11: error", "expected \"allow\" or \"alert\""),
        ("6:18: error", "security_level 7"),
        ("7:12: error", "`10.10.0.0/33` is not an address or network"),
        (
            "11:8: error",
            "`supervisory` is not a zone (zones: control)",
        ),
        ("13:14: error", "`Modbus` is not a protocol name"),
        ("13:24: warning", "protocol `mqtt`"),
        ("14:15: error", "`wirte` is not an operation"),
        ("15:22: error", "`9-3` is not an address range"),
        ("19:10: error", "`not-an-ip` is not an IP address"),
        ("23:8: error", "`ps.nope` is not a built-in rule id"),
    ];
    assert_eq!(lines.len(), expected.len(), "{err}");
    for (line, (at, what)) in lines.iter().zip(expected) {
        let prefix = format!("{}:{at}: ", p.display());
        assert!(
            line.starts_with(&prefix),
            "{line} should start with {prefix}"
        );
        assert!(line.contains(what), "{line} should say {what}");
    }

    // A syntax error stops the file at its position.
    std::fs::write(&p, "[[zone]]\nname = \"a\"\nmembers = [\"10.0.0.1\"\n").unwrap();
    let o = plantshield(&["policy", "check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with(&format!("{}:3:", p.display())), "{err}");

    // Unknown keys are errors, not silently ignored.
    std::fs::write(&p, "[[zone]]\nname = \"a\"\nmember = [\"10.0.0.1\"]\n").unwrap();
    let o = plantshield(&["policy", "check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("member"));

    // analyze refuses a broken policy.
    let run = analyze(&[
        "-q",
        "--policy",
        p.to_str().unwrap(),
        repo().join("samples/plant-cell.pcap").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.events.is_empty());
}

// ---- learn, then check the same traffic ----

#[test]
fn learning_the_sample_and_checking_it_raises_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("baseline.toml");
    let sample = repo().join("samples/plant-cell.pcap");
    learn(&[&sample], &base);
    let o = plantshield(&["policy", "check", base.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&base).unwrap();
    // What the sample holds (samples/README.md): six controllers polled by
    // the HMI, five of them also used by the engineering workstation.
    assert_eq!(text.matches("\n[[asset]]").count(), 8, "{text}");
    assert_eq!(text.matches("\n[[pair]]").count(), 11, "{text}");
    for range in [
        "\"unit 1 holding_register\" = [\"0-9\"]",
        // The HMI reads the recipe, DB1 bytes 0-15.
        "\"DB 1\" = [\"0-15\"]",
        // The breaker command, IOA 5001 of station 47.
        "\"ca 47\" = [\"5001\"]",
    ] {
        assert!(text.contains(range), "{range} not in {text}");
    }
    let run = check_policy(&[&base], &sample);
    assert!(run.of_type("alert").is_empty(), "{:?}", alert_keys(&run));
    assert!(!run.of_type("modbus").is_empty());
}

fn corpus_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(pcaps()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() || dir.file_name().unwrap() == "oracle" {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                files.push(f.strip_prefix(pcaps()).unwrap().to_string_lossy().into());
            }
        }
    }
    files.sort();
    files
}

/// Everything learned from a capture is normal for it, including the
/// built-in alerts it raises (accepted): checking it again raises nothing.
#[test]
fn learning_each_corpus_capture_and_checking_it_raises_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    let files = corpus_files();
    assert!(
        files.len() > 50,
        "the corpus is missing ({})",
        pcaps().display()
    );
    for rel in &files {
        let cap = pcaps().join(rel);
        let base = dir.path().join("b.toml");
        learn(&[&cap], &base);
        let run = check_policy(&[&base], &cap);
        let keys = alert_keys(&run);
        if !keys.is_empty() {
            problems.push(format!("{rel}: {keys:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- crafted deviations ----

const T0: i64 = 1_700_000_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

/// A Modbus/TCP conversation between 10.0.0.`c` and 10.0.0.`s`, each with
/// its own MAC, starting at `T0 + start` seconds.
fn conv(c: u8, s: u8, cport: u16, start: i64) -> Conversation {
    conv_port(c, s, cport, 502, start)
}

fn conv_port(c: u8, s: u8, cport: u16, sport: u16, start: i64) -> Conversation {
    let mut x = Conversation::new(ip4(10, 0, 0, c), cport, ip4(10, 0, 0, s), sport);
    x.ep.src_mac = MacAddr([2, 0, 0, 0, 0, c]);
    x.ep.dst_mac = MacAddr([2, 0, 0, 0, 0, s]);
    x.ts = T0 + start * SECOND;
    x.handshake();
    x
}

fn poll(x: &mut Conversation, tid: &mut u16, unit: u8, pdu: &[u8], answer: &[u8]) {
    *tid = tid.wrapping_add(1);
    x.client(&adu(*tid, unit, pdu));
    x.server(&adu(*tid, unit, answer));
    x.wait(SECOND / 2);
}

const READ_0_9: &[u8] = &[3, 0, 0, 0, 10];
const WRITE_REG_5: &[u8] = &[6, 0, 5, 0, 42];

fn read_answer() -> Vec<u8> {
    let mut v = vec![3, 20];
    v.extend_from_slice(&[0; 20]);
    v
}

/// Normal operation: the HMI (.20) polls PLC .10 (registers 0-9, writes
/// register 5) and PLC .11 (registers 0-9); the engineering workstation
/// (.30) reads PLC .10.
fn normal(frames: &mut Vec<(i64, Vec<u8>)>, start: i64) {
    let mut tid = 0;
    let mut a = conv(20, 10, 40000 + start as u16, start);
    let mut b = conv(20, 11, 41000 + start as u16, start);
    let mut c = conv(30, 10, 42000 + start as u16, start);
    for i in 0..10 {
        poll(&mut a, &mut tid, 1, READ_0_9, &read_answer());
        if i % 3 == 0 {
            poll(&mut a, &mut tid, 1, WRITE_REG_5, WRITE_REG_5);
        }
        poll(&mut b, &mut tid, 1, READ_0_9, &read_answer());
        if i % 5 == 0 {
            poll(&mut c, &mut tid, 1, READ_0_9, &read_answer());
        }
    }
    for x in [&mut a, &mut b, &mut c] {
        x.fin();
        frames.append(&mut x.frames);
    }
}

fn write_sorted(path: &Path, mut frames: Vec<(i64, Vec<u8>)>) {
    frames.sort_by_key(|f| f.0);
    write_pcap(path, &frames);
}

/// Normal traffic, then: the HMI writes a register it never wrote (50)
/// and uses a function it never used (16); the workstation reaches PLC .11
/// (a new pair) and PLC .10 over HTTP (a new protocol on a known pair); a
/// new device (.66) writes PLC .10.
fn deviations(dir: &Path) -> (PathBuf, PathBuf) {
    let normal_pcap = dir.join("normal.pcap");
    let mut frames = Vec::new();
    normal(&mut frames, 0);
    write_sorted(&normal_pcap, frames);

    let mut frames = Vec::new();
    normal(&mut frames, 100);
    let mut tid = 500;
    let mut hmi = conv(20, 10, 43000, 120);
    poll(&mut hmi, &mut tid, 1, &[6, 0, 50, 0, 1], &[6, 0, 50, 0, 1]);
    poll(&mut hmi, &mut tid, 1, &[6, 0, 50, 0, 2], &[6, 0, 50, 0, 2]);
    poll(
        &mut hmi,
        &mut tid,
        1,
        &[16, 0, 0, 0, 1, 2, 0, 9],
        &[16, 0, 0, 0, 1],
    );
    hmi.fin();
    let mut ews = conv(30, 11, 43001, 121);
    poll(&mut ews, &mut tid, 1, READ_0_9, &read_answer());
    ews.fin();
    let mut web = conv_port(30, 10, 43002, 80, 122);
    web.client(b"GET / HTTP/1.1\r\n\r\n");
    web.fin();
    let mut rogue = conv(66, 10, 43003, 123);
    poll(&mut rogue, &mut tid, 1, WRITE_REG_5, WRITE_REG_5);
    rogue.fin();
    for x in [&mut hmi, &mut ews, &mut web, &mut rogue] {
        frames.append(&mut x.frames);
    }
    let dev = dir.join("deviations.pcap");
    write_sorted(&dev, frames);
    (normal_pcap, dev)
}

#[test]
fn baseline_deviations_raise_exactly_the_expected_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (normal_pcap, dev) = deviations(dir.path());
    let base = dir.path().join("baseline.toml");
    learn(&[&normal_pcap], &base);
    let text = std::fs::read_to_string(&base).unwrap();
    assert!(
        text.contains("\"unit 1 holding_register\" = [\"5\"]"),
        "{text}"
    );

    assert!(check_policy(&[&base], &normal_pcap)
        .of_type("alert")
        .is_empty());

    let run = check_policy(&[&base], &dev);
    let expected: BTreeSet<_> = [
        key("ps.baseline.address_out_of_range", "10.0.0.20", "10.0.0.10"),
        key("ps.baseline.new_function", "10.0.0.20", "10.0.0.10"),
        key("ps.baseline.new_pair", "10.0.0.30", "10.0.0.11"),
        key("ps.baseline.new_protocol", "10.0.0.30", "10.0.0.10"),
        key("ps.baseline.new_asset", "10.0.0.66", ""),
        key("ps.baseline.new_pair", "10.0.0.66", "10.0.0.10"),
    ]
    .into();
    assert_eq!(alert_keys(&run), expected);
    assert_eq!(run.of_type("alert").len(), expected.len(), "aggregated");

    let oor = alert(&run, "ps.baseline.address_out_of_range");
    assert_eq!(
        oor["alert"]["mitre_attack"],
        serde_json::json!(["T0836", "T0831"])
    );
    assert_eq!(oor["alert"]["count"], 2, "both writes to register 50");
    let msg = oor["alert"]["message"].as_str().unwrap();
    assert!(
        msg.contains("unit 1 holding_register 50") && msg.contains("learned: 5"),
        "{msg}"
    );
    let nf = alert(&run, "ps.baseline.new_function");
    assert!(nf["alert"]["message"]
        .as_str()
        .unwrap()
        .contains("write_multiple_registers"));
    assert_eq!(nf["alert"]["mitre_attack"], serde_json::json!(["T0855"]));
    let na = alert(&run, "ps.baseline.new_asset");
    assert_eq!(na["alert"]["mitre_attack"], serde_json::json!(["T0864"]));
    assert!(na["alert"]["message"]
        .as_str()
        .unwrap()
        .contains("02:00:00:00:00:42"));
    let np = alert(&run, "ps.baseline.new_protocol");
    // The GET makes the flow HTTP by content, not just tcp/80.
    assert!(np["alert"]["message"]
        .as_str()
        .unwrap()
        .contains("talked http to"));

    // Accepting the deviations by editing the baseline silences them.
    let edited = text.replace(
        "\"unit 1 holding_register\" = [\"5\"]",
        "\"unit 1 holding_register\" = [\"5\", \"50\"]",
    );
    assert_ne!(edited, text);
    std::fs::write(&base, edited).unwrap();
    let run = check_policy(&[&base], &dev);
    assert!(!alert_keys(&run).contains(&key(
        "ps.baseline.address_out_of_range",
        "10.0.0.20",
        "10.0.0.10"
    )));
}

// ---- zones, conduits, deny rules ----

const ZONES: &str = r#"
[[zone]]
name = "supervisory"
security_level = 2
members = ["10.0.0.16/28", "10.0.0.30"]

[[zone]]
name = "control"
security_level = 3
members = ["10.0.0.0/28"]

[[conduit]]
name = "polling"
from = "supervisory"
to = "control"
protocols = ["modbus"]
operations = ["read"]

[[conduit]]
name = "setpoints"
from = "supervisory"
to = "control"
protocols = ["modbus"]
functions = [6]
writes = { "unit 1 holding_register" = ["0-9"] }

[[deny]]
name = "no-http-to-plcs"
to = "control"
protocols = ["tcp/80"]
"#;

#[test]
fn conduits_and_deny_rules_raise_exactly_the_expected_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (normal_pcap, dev) = deviations(dir.path());
    let zones = dir.path().join("zones.toml");
    std::fs::write(&zones, ZONES).unwrap();
    let o = plantshield(&["policy", "check", zones.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 zones, 2 conduits, 1 deny rules"));

    assert!(check_policy(&[&zones], &normal_pcap)
        .of_type("alert")
        .is_empty());
    let run = check_policy(&[&zones], &dev);
    // Register 50 is outside the setpoint conduit, function 16 in none;
    // HTTP to a PLC is denied and in no conduit; .66 is in no zone.
    let expected: BTreeSet<_> = [
        key("ps.policy.conduit_violation", "10.0.0.20", "10.0.0.10"),
        key("ps.policy.conduit_violation", "10.0.0.30", "10.0.0.10"),
        key("ps.policy.deny", "10.0.0.30", "10.0.0.10"),
        key("ps.policy.conduit_violation", "10.0.0.66", "10.0.0.10"),
    ]
    .into();
    assert_eq!(alert_keys(&run), expected);
    let hmi = run
        .of_type("alert")
        .into_iter()
        .find(|e| {
            e["alert"]["rule_id"] == "ps.policy.conduit_violation" && e["src_ip"] == "10.0.0.20"
        })
        .unwrap();
    assert_eq!(
        hmi["alert"]["count"], 3,
        "two writes to 50, one function 16"
    );
    let msg = hmi["alert"]["message"].as_str().unwrap();
    assert!(
        msg.contains("(supervisory)") && msg.contains("(control)"),
        "{msg}"
    );
    // The setpoint conduit carries function 6 but not register 50: it
    // explains the refusal better than the read-only polling conduit.
    assert!(msg.contains("conduit `setpoints`"), "{msg}");
    assert!(msg.contains("50"), "{msg}");
    let rogue = run
        .of_type("alert")
        .into_iter()
        .find(|e| e["src_ip"] == "10.0.0.66")
        .unwrap();
    assert!(rogue["alert"]["message"]
        .as_str()
        .unwrap()
        .contains("no conduit from zone (no zone) to zone control"));
    let deny = alert(&run, "ps.policy.deny");
    assert_eq!(deny["alert"]["severity"], "critical");
    assert!(deny["alert"]["message"]
        .as_str()
        .unwrap()
        .contains("no-http-to-plcs"));

    // With `default = "allow"` zones that no conduit joins are unchecked:
    // the rogue host passes; between supervisory and control the conduits
    // still say what is allowed.
    let allow = dir.path().join("allow.toml");
    std::fs::write(&allow, format!("[policy]\ndefault = \"allow\"\n{ZONES}")).unwrap();
    let run = check_policy(&[&allow], &dev);
    let expected: BTreeSet<_> = [
        key("ps.policy.conduit_violation", "10.0.0.20", "10.0.0.10"),
        key("ps.policy.conduit_violation", "10.0.0.30", "10.0.0.10"),
        key("ps.policy.deny", "10.0.0.30", "10.0.0.10"),
    ]
    .into();
    assert_eq!(alert_keys(&run), expected);

    // Policies combine: zones and a baseline, given as two files.
    let base = dir.path().join("baseline.toml");
    learn(&[&normal_pcap], &base);
    let run = check_policy(&[&zones, &base], &dev);
    let rules: BTreeSet<String> = alert_keys(&run).into_iter().map(|k| k.0).collect();
    assert!(rules.contains("ps.policy.deny") && rules.contains("ps.baseline.new_asset"));
}

// ---- false alarms of learn-then-check on the corpus ----

/// Splits a capture at its middle packet into two pcap files; `None` when
/// its packets do not share one link type (a pcap file holds one).
fn halves(src: &Path, a: &Path, b: &Path) -> Option<()> {
    let mut packets = Vec::new();
    let f = std::fs::File::open(src).unwrap();
    let mut r = CaptureReader::new(std::io::BufReader::new(f)).unwrap();
    while let Ok(Some(p)) = r.next_packet() {
        packets.push((p.ts_ns, p.link_type, p.data.to_vec()));
    }
    let link = packets.first()?.1;
    if packets.iter().any(|p| p.1 != link) {
        return None;
    }
    let mid = packets.len() / 2;
    for (path, part) in [(a, &packets[..mid]), (b, &packets[mid..])] {
        let out = std::fs::File::create(path).unwrap();
        let mut w = PcapWriter::new(std::io::BufWriter::new(out), link).unwrap();
        for (ts, _, d) in part {
            w.write_packet(*ts, d).unwrap();
        }
        w.into_inner().unwrap();
    }
    Some(())
}

const TABLE_BEGIN: &str = "<!-- false-alarm table: generated by crates/cli/tests/policy.rs -->";
const TABLE_END: &str = "<!-- end of false-alarm table -->";

/// Learns the first half of every corpus capture, checks the second, and
/// compares the outcome with the table in docs/detections.md (rewritten
/// with PLANTSHIELD_BLESS=1 after review).
#[test]
fn false_alarm_rates_on_the_corpus_match_the_documented_table() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, base) = (
        dir.path().join("a.pcap"),
        dir.path().join("b.pcap"),
        dir.path().join("b.toml"),
    );
    let mut rows = String::new();
    let (mut all_checked, mut all_alerted) = (0u64, 0u64);
    for rel in corpus_files() {
        if halves(&pcaps().join(&rel), &a, &b).is_none() {
            rows.push_str(&format!(
                "| {rel} | not split: several link types | | | |\n"
            ));
            continue;
        }
        learn(&[&a], &base);
        let run = check_policy(&[&base], &b);
        let checked = run
            .events
            .iter()
            // IGMP is outside policies (docs/policy.md).
            .filter(|e| e.get("ics").is_some() || (e["event_type"] == "flow" && e["proto"] != "2"))
            .count() as u64;
        let mut deviations: BTreeMap<String, u64> = BTreeMap::new();
        let mut builtin: BTreeMap<String, u64> = BTreeMap::new();
        let mut new_assets = 0;
        let mut alerted = 0;
        for e in run.of_type("alert") {
            let id = e["alert"]["rule_id"].as_str().unwrap();
            let n = e["alert"]["count"].as_u64().unwrap();
            let short = id.rsplit('.').next().unwrap().to_string();
            if id == "ps.baseline.new_asset" {
                new_assets += 1;
            } else if id.starts_with("ps.baseline.") {
                *deviations.entry(short).or_default() += n;
                alerted += n;
            } else {
                *builtin.entry(short).or_default() += 1;
            }
        }
        all_checked += checked;
        all_alerted += alerted;
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rate = if checked == 0 {
            "-".to_string()
        } else {
            format!("{:.1} %", 100.0 * alerted as f64 / checked as f64)
        };
        rows.push_str(&format!(
            "| {rel} | {checked} | {rate} | {} | {new_assets} | {} |\n",
            list(&deviations),
            list(&builtin)
        ));
    }
    let table = format!(
        "{TABLE_BEGIN}\n\n| capture | checked | false-alarm rate | deviations (occurrences) | new devices | built-in alerts |\n|---|---|---|---|---|---|\n{rows}| **all** | {all_checked} | {:.1} % | | | |\n\n{TABLE_END}",
        100.0 * all_alerted as f64 / all_checked.max(1) as f64
    );
    let doc_path = repo().join("docs/detections.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let (Some(s), Some(e)) = (doc.find(TABLE_BEGIN), doc.find(TABLE_END)) else {
        panic!("docs/detections.md has no false-alarm table markers");
    };
    let current = &doc[s..e + TABLE_END.len()];
    if std::env::var_os("PLANTSHIELD_BLESS").is_some() {
        let new = format!("{}{table}{}", &doc[..s], &doc[e + TABLE_END.len()..]);
        std::fs::write(&doc_path, new).unwrap();
        return;
    }
    assert_eq!(
        current, table,
        "the false-alarm table in docs/detections.md is out of date: review the new \
         outcome and rerun with PLANTSHIELD_BLESS=1"
    );
}
