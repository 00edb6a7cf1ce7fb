//! Attack scenarios on a plant of real stacks (`tests/stacks/scenarios.py`:
//! a pymodbus PLC, a python-snap7 S7 PLC, an HMI and an engineering
//! workstation, each in its own network namespace on a bridge, recorded by
//! tcpdump): learn a baseline on the benign capture, then check that the
//! benign capture raises nothing and that every attack capture raises
//! exactly the alerts of `SCENARIOS`, each once (aggregated), with its
//! ATT&CK techniques, the attacker as source and the target as
//! destination, and nothing else; then the same with zones, conduits and a
//! deny rule on top of the baseline. The scenario table of
//! docs/detections.md is checked against `SCENARIOS`.
//!
//! The script records once (about 80 s); everything is checked in one test.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// One expected alert: the rule, its techniques, and the hosts (names in
/// truth.json) that must be its source and destination.
struct Expect {
    rule: &'static str,
    techniques: &'static [&'static str],
    src: &'static str,
    /// None for rules about one device (`new_asset`).
    dst: Option<&'static str>,
}

const fn e(
    rule: &'static str,
    techniques: &'static [&'static str],
    src: &'static str,
    dst: Option<&'static str>,
) -> Expect {
    Expect {
        rule,
        techniques,
        src,
        dst,
    }
}

struct Scenario {
    /// The capture (without `.pcap`), the phase in truth.json.
    name: &'static str,
    /// What the real stacks did (the docs table).
    did: &'static str,
    /// Alerts with `--policy baseline.toml` (the learned baseline).
    baseline: &'static [Expect],
    /// Alerts the zones policy (zones, conduits and a deny rule, which
    /// includes the baseline) raises on top of those.
    zones: &'static [Expect],
}

const ADDRESS_OUT_OF_RANGE: &str = "ps.baseline.address_out_of_range";
const NEW_FUNCTION: &str = "ps.baseline.new_function";
const NEW_PAIR: &str = "ps.baseline.new_pair";
const NEW_ASSET: &str = "ps.baseline.new_asset";
const MODE_CHANGE: &str = "ps.ics.mode_change";
const PROGRAM_DOWNLOAD: &str = "ps.ics.program_download";
const DISCOVERY_SWEEP: &str = "ps.ics.discovery_sweep";
const UNANSWERED_STORM: &str = "ps.ics.unanswered_storm";
const WRITE_FLOOD: &str = "ps.ics.write_flood";
const CONDUIT: &str = "ps.policy.conduit_violation";
const DENY: &str = "ps.policy.deny";

/// The expected alerts, from the rules' documented semantics
/// (docs/detections.md, docs/policy.md) applied to what each attack does.
///
/// The attacker is the HMI (a compromised HMI: a known host on known pairs)
/// except in new_device. The baseline was learned from the benign capture,
/// where the HMI reads both Modbus units (functions 1, 3, 4), writes only
/// its set point (function 16, unit 1 holding registers 10-11) and reads
/// DB1 of the S7 PLC (COTP connect, setup communication, read var); the
/// engineering workstation does its allowed writes. Benign traffic raises
/// no built-in alert, so the baseline accepts none.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "benign",
        did: "HMI polls both Modbus units every 250 ms and writes its set point (unit 1 registers 10-11, function 16) every 2 s, reads S7 DB1 every 500 ms; the engineering workstation reads the device identification, writes tuning registers and DB1",
        baseline: &[],
        zones: &[],
    },
    // Known host, known pair, known function (16), new addresses: the only
    // tell-tale is the address, so address_out_of_range and not
    // new_function (the more dangerous case: a host allowed to write
    // changes what it writes). Not a new pair: the HMI is known.
    Scenario {
        name: "unauthorised_write",
        did: "the HMI raises the trip limits (unit 1 registers 40-41) and disables an alarm (register 44) with function 16, its own set-point function",
        baseline: &[e(
            ADDRESS_OUT_OF_RANGE,
            &["T0836", "T0831"],
            "hmi",
            Some("plc"),
        )],
        // The set-point conduit allows registers 10-11 only.
        zones: &[e(CONDUIT, &["T0855"], "hmi", Some("plc"))],
    },
    // Request download (0x1a), refused by the snap7 server: the operation is
    // on the wire, so program_download; the HMI never used 0x1a in the
    // baseline, so new_function too (the layers are independent).
    Scenario {
        name: "program_download",
        did: "the HMI downloads OB1 to the S7 PLC with snap7's Client.download; the server refuses the request download (protection level)",
        baseline: &[
            e(PROGRAM_DOWNLOAD, &["T0843"], "hmi", Some("s7plc")),
            e(NEW_FUNCTION, &["T0855"], "hmi", Some("s7plc")),
        ],
        // Not a read: outside the HMI's conduit; and the deny rule.
        zones: &[
            e(CONDUIT, &["T0855"], "hmi", Some("s7plc")),
            e(DENY, &["T0855"], "hmi", Some("s7plc")),
        ],
    },
    // Unit ids 1-32 (function 3) then 21 function codes of unit 1. pymodbus
    // answers an unserved unit id with function code 0x80 (exception 11)
    // and an unsupported function with 0xa8 (exception 1, transaction id 0):
    // neither echoes the request's function code, so by Modbus/TCP pairing
    // every such request stays unanswered (45 of them in under a second:
    // unanswered_storm, whose threshold is 20) and each reply is a
    // transaction of its own, refused (the sweep counts 8 unit ids). The
    // codes 0 and 40 of those replies and the 21 probed codes are all new
    // on the HMI's pair: new_function. Reads are not checked against the
    // learned read ranges (check_reads is off), so the new unit ids raise
    // no address_out_of_range.
    Scenario {
        name: "scan",
        did: "a raw Modbus/TCP scanner on the HMI probes unit ids 1-32 (function 3) and 21 function codes of unit 1 (6 supported ones the HMI never uses, 15 unsupported); pymodbus answers unserved units with 0x80 and unsupported functions with 0xa8",
        baseline: &[
            e(DISCOVERY_SWEEP, &["T0846", "T0888"], "hmi", Some("plc")),
            e(UNANSWERED_STORM, &["T0814"], "hmi", Some("plc")),
            e(NEW_FUNCTION, &["T0855"], "hmi", Some("plc")),
        ],
        // Diagnostics, discovery and unknown functions are no reads.
        zones: &[e(CONDUIT, &["T0855"], "hmi", Some("plc"))],
    },
    // The set point at its learned address with its learned function: only
    // the rate is abnormal.
    Scenario {
        name: "write_flood",
        did: "the HMI writes its set point (unit 1 registers 10-11, function 16) 400 times as fast as the PLC answers",
        baseline: &[e(WRITE_FLOOD, &["T0806"], "hmi", Some("plc"))],
        // The writes are inside the set-point conduit: conduits do not rate-limit.
        zones: &[],
    },
    // An unknown MAC and IP (new_asset, about the device alone) talking to
    // the PLC (new_pair); new_pair is all the baseline says about the
    // pair's transactions.
    Scenario {
        name: "new_device",
        did: "a new host (its own namespace, MAC and IP) is plugged into the bridge and reads holding registers of the Modbus PLC three times",
        baseline: &[
            e(NEW_ASSET, &["T0864"], "rogue", None),
            e(NEW_PAIR, &["T0848"], "rogue", Some("plc")),
        ],
        // In no zone, towards the control zone: no conduit.
        zones: &[e(CONDUIT, &["T0855"], "rogue", Some("plc"))],
    },
    // PLC stop (0x29), accepted by the snap7 server: mode_change; the HMI
    // never stopped the PLC in the baseline: new_function too.
    Scenario {
        name: "s7_stop",
        did: "the HMI stops the S7 PLC with snap7's Client.plc_stop; the server accepts it",
        baseline: &[
            e(MODE_CHANGE, &["T0858"], "hmi", Some("s7plc")),
            e(NEW_FUNCTION, &["T0855"], "hmi", Some("s7plc")),
        ],
        zones: &[
            e(CONDUIT, &["T0855"], "hmi", Some("s7plc")),
            e(DENY, &["T0855"], "hmi", Some("s7plc")),
        ],
    },
];

/// An alert as compared: rule, techniques, source and destination.
type Key = (String, Vec<String>, Option<String>, Option<String>);

fn key(a: &Value) -> Key {
    let ip = |f: &str| a[f].as_str().map(str::to_string);
    (
        a["alert"]["rule_id"].as_str().unwrap_or("?").to_string(),
        a["alert"]["mitre_attack"]
            .as_array()
            .map(|t| t.iter().map(|t| t.as_str().unwrap_or("?").into()).collect())
            .unwrap_or_default(),
        ip("src_ip"),
        ip("dest_ip"),
    )
}

struct Plant {
    out: std::path::PathBuf,
    truth: Value,
}

impl Plant {
    fn ip(&self, host: &str) -> String {
        self.truth["hosts"][host]["ip"]
            .as_str()
            .unwrap_or_else(|| panic!("no host {host} in truth.json"))
            .to_string()
    }

    fn path(&self, f: &str) -> String {
        self.out.join(f).to_str().unwrap().to_string()
    }

    fn phase(&self, name: &str) -> &Value {
        &self.truth["phases"][name]
    }

    fn expected(&self, list: &[&[Expect]]) -> Vec<Key> {
        let mut v: Vec<Key> = list
            .iter()
            .flat_map(|l| l.iter())
            .map(|x| {
                (
                    x.rule.to_string(),
                    x.techniques.iter().map(|t| t.to_string()).collect(),
                    Some(self.ip(x.src)),
                    x.dst.map(|d| self.ip(d)),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// `plantshield analyze --policy POLICY CAPTURE`: its alerts.
    fn alerts(&self, policy: Option<&str>, capture: &str) -> Vec<Value> {
        let pcap = self.path(&format!("{capture}.pcap"));
        let mut args = vec!["--no-progress", "-q"];
        let policy = policy.map(|p| self.path(p));
        if let Some(p) = &policy {
            args.extend(["--policy", p.as_str()]);
        }
        args.push(&pcap);
        let run = analyze(&args);
        assert!(
            run.status.success(),
            "analyze {args:?}: {}\n{}",
            run.status,
            run.stderr
        );
        run.of_type("alert").into_iter().cloned().collect()
    }
}

fn plantshield(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run plantshield")
}

/// Every IPv4 address but `ip`, as the 32 networks that cover them.
fn all_but(ip: Ipv4Addr) -> String {
    let a = u32::from(ip);
    (0..32)
        .map(|i| {
            let prefix = i + 1;
            // The first i bits of `a`, bit i flipped.
            let net = (a ^ (1u32 << (31 - i))) & (u32::MAX << (32 - prefix));
            format!("{}/{prefix}", Ipv4Addr::from(net))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Zones and conduits of the plant (IEC 62443-3-2) on top of the learned
/// baseline: the PLCs in a control zone, the HMI in a supervisory zone
/// whose conduit carries reads (and session set-up) and the set-point
/// writes only, the engineering workstation in its own zone with an
/// unconstrained conduit; mode changes and program downloads are denied
/// from every address but the engineering workstation's.
fn zones_policy(p: &Plant) -> String {
    let ews: Ipv4Addr = p.ip("ews").parse().unwrap();
    let sp = &p.truth["setpoint"];
    let sp_unit = sp["unit"].as_u64().unwrap();
    let sp_fc = sp["function_code"].as_u64().unwrap();
    let sp_lo = sp["addresses"][0].as_u64().unwrap();
    let sp_hi = sp["addresses"][1].as_u64().unwrap();
    format!(
        r#"# The scenario plant's zones and conduits, with the learned baseline.
[policy]
default = "alert"
include = ["baseline.toml"]

[[zone]]
name = "control"
security_level = 3
members = ["{plc}", "{s7plc}"]

[[zone]]
name = "supervisory"
security_level = 2
members = ["{hmi}"]

[[zone]]
name = "engineering"
security_level = 3
members = ["{ews}"]

[[conduit]]
name = "hmi-reads"
from = "supervisory"
to = "control"
protocols = ["modbus", "s7comm"]
operations = ["read", "session"]

[[conduit]]
name = "hmi-setpoint"
from = "supervisory"
to = "control"
protocols = ["modbus"]
functions = [{sp_fc}]
writes = {{ "unit {sp_unit} holding_register" = ["{sp_lo}-{sp_hi}"] }}

[[conduit]]
name = "engineering"
from = "engineering"
to = "control"

[[deny]]
name = "program-and-mode-changes-only-from-the-engineering-workstation"
from = "{not_ews}"
to = "control"
operations = ["mode_change", "program_download"]
"#,
        plc = p.ip("plc"),
        s7plc = p.ip("s7plc"),
        hmi = p.ip("hmi"),
        not_ews = all_but(ews),
    )
}

fn count_of(alerts: &[Value], rule: &str) -> u64 {
    alerts
        .iter()
        .find(|a| a["alert"]["rule_id"] == rule)
        .and_then(|a| a["alert"]["count"].as_u64())
        .unwrap_or(0)
}

fn describe(alerts: &[Value]) -> String {
    alerts
        .iter()
        .map(|a| {
            let (r, t, s, d) = key(a);
            format!(
                "    {r} {t:?} {} -> {} count {}: {}",
                s.unwrap_or_default(),
                d.unwrap_or_default(),
                a["alert"]["count"],
                a["alert"]["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares the alerts of one run with the expected set: each exactly
/// once, nothing else.
fn compare(what: &str, got: &[Value], want: Vec<Key>, problems: &mut Vec<String>) {
    let mut g: Vec<Key> = got.iter().map(key).collect();
    g.sort();
    if g != want {
        problems.push(format!(
            "{what}: expected {want:#?}\n  got:\n{}",
            describe(got)
        ));
    }
}

/// The alerts of a row of the docs table.
fn doc_alerts(list: &[Expect]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|x| format!("`{}` ({})", x.rule, x.techniques.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

const DOC_HEADER: &str = "| scenario | what the real stacks did | alerts with the learned baseline | and with zones, conduits and the deny rule |";

fn doc_table() -> String {
    let mut t = vec![DOC_HEADER.to_string(), "|---|---|---|---|".to_string()];
    for s in SCENARIOS {
        t.push(format!(
            "| `{}` | {} | {} | {} |",
            s.name,
            s.did,
            doc_alerts(s.baseline),
            if s.zones.is_empty() {
                "no more".to_string()
            } else {
                doc_alerts(s.zones)
            }
        ));
    }
    t.join("\n")
}

/// The table of docs/detections.md is the one `SCENARIOS` gives.
fn check_doc(problems: &mut Vec<String>) {
    let doc = std::fs::read_to_string(repo().join("docs/detections.md")).unwrap();
    let want = doc_table();
    let got: Vec<&str> = doc
        .lines()
        .skip_while(|l| *l != DOC_HEADER)
        .take_while(|l| l.starts_with('|'))
        .collect();
    if got.join("\n") != want {
        problems.push(format!(
            "docs/detections.md: the \"Attack scenarios\" table differs from SCENARIOS in \
             crates/cli/tests/scenarios.rs; it should read:\n{want}"
        ));
    }
}

#[test]
fn scenarios_doc_table_matches_the_expectations() {
    let mut problems = Vec::new();
    check_doc(&mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Plausible counts, from what the clients did (truth.json).
fn check_counts(p: &Plant, name: &str, alerts: &[Value], problems: &mut Vec<String>) {
    let attack = &p.phase(name)["attack"];
    let mut expect = |rule: &str, ok: &dyn Fn(u64) -> bool, why: String| {
        let n = count_of(alerts, rule);
        if !ok(n) {
            problems.push(format!("{name}: {rule} count {n}, expected {why}"));
        }
    };
    match name {
        "unauthorised_write" => {
            let n = attack["writes"].as_array().unwrap().len() as u64;
            expect(
                ADDRESS_OUT_OF_RANGE,
                &|c| c == n,
                format!("{n} (one per write outside the learned range)"),
            );
        }
        "program_download" => {
            // One Client.download: one request download on the wire (the
            // refusal ends it).
            assert_eq!(attack["download"]["status"], "refused", "{attack}");
            expect(PROGRAM_DOWNLOAD, &|c| c == 1, "1".into());
            expect(NEW_FUNCTION, &|c| c == 1, "1".into());
        }
        "s7_stop" => {
            assert_eq!(attack["stop"]["status"], "ok", "{attack}");
            expect(MODE_CHANGE, &|c| c == 1, "1 (one PLC stop)".into());
            expect(NEW_FUNCTION, &|c| c == 1, "1".into());
        }
        "write_flood" => {
            let n = attack["writes"].as_u64().unwrap();
            let benign = p.phase(name)["benign"]["hmi"]["setpoint_writes"]
                .as_array()
                .unwrap()
                .len() as u64;
            let lasted = attack["last"].as_f64().unwrap() - attack["first"].as_f64().unwrap();
            assert!(lasted < 10.0, "the flood took {lasted} s: {attack}");
            // 100 writes per 10 s window are allowed; the flood is shorter
            // than a window, so it spans at most two.
            let (lo, hi) = (n.saturating_sub(200), n + benign - 100);
            expect(
                WRITE_FLOOD,
                &|c| (lo..=hi).contains(&c),
                format!("{lo}..={hi} ({n} flood writes, {benign} set-point writes)"),
            );
        }
        "new_device" => {
            // Each read and the connection (a flow) are new to the baseline.
            let reads = attack["reads"].as_array().unwrap().len() as u64;
            expect(
                NEW_PAIR,
                &|c| c == reads + 1,
                format!("{} ({reads} reads and one flow)", reads + 1),
            );
            expect(NEW_ASSET, &|c| c == 1, "1".into());
        }
        "scan" => {
            let probes = attack["probes"].as_array().unwrap();
            // A reply pairs with its request when it echoes the
            // transaction id, unit id and function code (with or without
            // the exception bit).
            let paired = |q: &Value| {
                q["response_transaction_id"] == q["transaction_id"]
                    && q["response_unit"] == q["unit"]
                    && q["response_function_code"]
                        .as_u64()
                        .is_some_and(|f| Some(f & 0x7f) == q["function_code"].as_u64())
            };
            let unpaired = probes.iter().filter(|q| !paired(q)).count() as u64;
            let exceptions = probes
                .iter()
                .filter(|q| paired(q) && q["exception_code"].is_u64())
                .count() as u64;
            let refused = unpaired + exceptions;
            // The storm counts from its 20th unanswered request on (all
            // within one 10 s window).
            expect(
                UNANSWERED_STORM,
                &|c| c == unpaired.saturating_sub(19),
                format!(
                    "{} ({unpaired} unanswered requests)",
                    unpaired.saturating_sub(19)
                ),
            );
            // Every refused request, and every unpaired exception reply, is
            // a refused transaction; the sweep counts them from the 8th
            // unit id on.
            expect(
                DISCOVERY_SWEEP,
                &|c| c >= refused.saturating_sub(8) && c <= 2 * refused,
                format!(
                    "{}..={} ({refused} refused probes)",
                    refused.saturating_sub(8),
                    2 * refused
                ),
            );
            // The HMI's learned functions on the pair: the probes of other
            // codes, and the unpaired replies (codes 0 and 40), are new.
            let learned = [1u64, 3, 4, 16];
            let new_requests = probes
                .iter()
                .filter(|q| !learned.contains(&q["function_code"].as_u64().unwrap()))
                .count() as u64;
            let new_replies = probes
                .iter()
                .filter(|q| !paired(q))
                .filter(|q| {
                    q["response_function_code"]
                        .as_u64()
                        .is_some_and(|f| !learned.contains(&(f & 0x7f)))
                })
                .count() as u64;
            expect(
                NEW_FUNCTION,
                &|c| c == new_requests + new_replies,
                format!(
                    "{} ({new_requests} probes and {new_replies} replies with new codes)",
                    new_requests + new_replies
                ),
            );
        }
        _ => {}
    }
}

/// The learned baseline is what the benign traffic was: every plant host,
/// the HMI's set-point writes only at their addresses, no accepted alert.
fn check_baseline(p: &Plant, problems: &mut Vec<String>) {
    let check = plantshield(&["policy", "check", &p.path("baseline.toml")]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    if !check.status.success() {
        problems.push(format!(
            "policy check baseline.toml: {}\n{}{}",
            check.status,
            stdout,
            String::from_utf8_lossy(&check.stderr)
        ));
    }
    if !stdout.contains("baseline: 4 assets, 4 pairs, 0 accepted alerts") {
        problems.push(format!(
            "policy check baseline.toml: expected the 4 hosts, 4 pairs (HMI and engineering \
             workstation to each PLC) and no accepted alert: {stdout}"
        ));
    }
    let text = std::fs::read_to_string(p.path("baseline.toml")).unwrap();
    let sp = &p.truth["setpoint"];
    let line = format!(
        "\"unit {} holding_register\" = [\"{}-{}\"]",
        sp["unit"], sp["addresses"][0], sp["addresses"][1]
    );
    let hmi_plc = format!(
        "client = \"{}\"\nserver = \"{}\"\nprotocol = \"modbus\"",
        p.ip("hmi"),
        p.ip("plc")
    );
    let Some(pair) = text.split("[[pair]]").find(|s| s.contains(&hmi_plc)) else {
        problems.push(format!("baseline.toml: no HMI -> PLC Modbus pair:\n{text}"));
        return;
    };
    let writes = pair.split("[pair.writes]").nth(1).unwrap_or("");
    if writes.trim() != line {
        problems.push(format!(
            "baseline.toml: the HMI's learned writes should be {line} only:\n{pair}"
        ));
    }
}

#[test]
fn attack_scenarios_raise_exactly_the_expected_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scenarios");
    let started = std::time::Instant::now();
    run_stack_script("scenarios.py", &out, &[]);
    let recorded = started.elapsed();
    let truth = read_json(&out.join("truth.json"));
    let p = Plant { out, truth };
    for s in SCENARIOS {
        assert!(
            p.phase(s.name)["pcap"].is_string(),
            "truth.json has no phase {}",
            s.name
        );
    }
    let mut problems = Vec::new();

    // Learn on the benign traffic.
    let learn = plantshield(&[
        "learn",
        "--no-progress",
        &p.path("benign.pcap"),
        "-o",
        &p.path("baseline.toml"),
    ]);
    assert!(
        learn.status.success(),
        "learn: {}\n{}",
        learn.status,
        String::from_utf8_lossy(&learn.stderr)
    );
    check_baseline(&p, &mut problems);
    std::fs::write(p.out.join("zones.toml"), zones_policy(&p)).unwrap();
    let check = plantshield(&["policy", "check", &p.path("zones.toml")]);
    if !check.status.success() {
        problems.push(format!(
            "policy check zones.toml: {}\n{}{}",
            check.status,
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        ));
    }

    // The benign capture raises nothing, even without a baseline.
    compare(
        "benign without a policy",
        &p.alerts(None, "benign"),
        Vec::new(),
        &mut problems,
    );
    let mut counts: BTreeMap<&str, String> = BTreeMap::new();
    for s in SCENARIOS {
        let base = p.alerts(Some("baseline.toml"), s.name);
        compare(
            &format!("{} with the baseline", s.name),
            &base,
            p.expected(&[s.baseline]),
            &mut problems,
        );
        check_counts(&p, s.name, &base, &mut problems);
        let zoned = p.alerts(Some("zones.toml"), s.name);
        compare(
            &format!("{} with zones, conduits and the baseline", s.name),
            &zoned,
            p.expected(&[s.baseline, s.zones]),
            &mut problems,
        );
        for (rule, n) in [(DENY, 1u64), (CONDUIT, 1)] {
            // A PLC stop or a download is one transaction: one violation.
            if matches!(s.name, "s7_stop" | "program_download") && count_of(&zoned, rule) != n {
                problems.push(format!(
                    "{}: {rule} count {}, expected {n}",
                    s.name,
                    count_of(&zoned, rule)
                ));
            }
        }
        counts.insert(s.name, describe(&zoned));
    }
    eprintln!(
        "scenarios: recorded in {:.1} s, checked in {:.1} s",
        recorded.as_secs_f64(),
        (started.elapsed() - recorded).as_secs_f64()
    );
    for (name, alerts) in &counts {
        eprintln!("{name}:\n{alerts}");
    }
    if !problems.is_empty() {
        // Keep the captures to look at.
        let keep = std::env::temp_dir().join("plantshield-scenarios-failed");
        let _ = std::fs::remove_dir_all(&keep);
        let kept = copy_dir(&p.out, &keep).is_ok();
        panic!(
            "{}\n(captures, truth.json and policies {})",
            problems.join("\n"),
            if kept {
                format!("kept in {}", keep.display())
            } else {
                "not kept".to_string()
            }
        );
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}
