//! Real protocol stacks: a c104 client (controlling station) and server
//! (controlled station) talk IEC 60870-5-104 over loopback while tcpdump
//! records them (`tests/stacks/iec104_stack.py`). The client records every
//! APDU it sent and received (c104's raw callbacks, decoded by c104's own
//! decoder) and groups them into the transactions it performed. PlantShield
//! must report each of them as exactly one `iec104` event, with the same
//! function, target (common address, information object address), causes,
//! sequence numbers and values, and nothing else; its link record must
//! count the APDUs the client counted.
//!
//! The test needs python3, the c104 pinned in `tests/requirements.txt` and
//! tcpdump (capturing on `lo`, so root or CAP_NET_RAW); `.ci/install`
//! provides them. When any is missing the test fails, it never skips.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// Runs the stack script into `dir`; returns the capture and the truth.
fn record(dir: &Path) -> (PathBuf, Value) {
    run_stack_script("iec104_stack.py", dir, &[]);
    (dir.join("iec104.pcap"), read_json(&dir.join("truth.json")))
}

/// Compares one frame of an event with the frame the client saw.
fn same_frame(what: &str, ours: &Value, theirs: &Value, errs: &mut Vec<String>) {
    for (k, t) in [
        ("send_sequence", "send_sequence"),
        ("receive_sequence", "receive_sequence"),
        ("type_id", "type_id"),
        ("cause", "cause"),
        ("originator_address", "originator_address"),
        ("common_address", "common_address"),
        ("num_objects", "num_objects"),
        ("sq", "sq"),
    ] {
        if ours[k] != theirs[t] {
            errs.push(format!(
                "{what}: {k} is {}, the client saw {}",
                ours[k], theirs[t]
            ));
        }
    }
    for k in ["negative", "test"] {
        let o = ours.get(k).and_then(Value::as_bool).unwrap_or(false);
        if Some(o) != theirs[k].as_bool() {
            errs.push(format!("{what}: {k} is {o}, the client saw {}", theirs[k]));
        }
    }
}

fn first_object(frame: &Value) -> &Value {
    &frame["objects"][0]
}

/// Compares a request operation with its event; returns the differences.
fn compare_request(op: &Value, ev: &Value, errs: &mut Vec<String>) {
    let name = op["name"].as_str().unwrap();
    let m = &ev["iec104"];
    let req = &op["request"];
    let type_id = req["type_id"].as_u64().unwrap();
    let mut diff = |what: &str, ours: &Value, truth: &Value| {
        if ours != truth {
            errs.push(format!("{name}: {what} is {ours}, the client saw {truth}"));
        }
    };
    diff(
        "ics.function_code",
        &ev["ics"]["function_code"],
        &req["type_id"],
    );
    diff(
        "ics.function",
        &ev["ics"]["function"],
        &Value::from(req["type"].as_str().unwrap().to_ascii_lowercase()),
    );
    diff("iec104.type", &m["type"], &req["type"]);
    diff(
        "iec104.common_address",
        &m["common_address"],
        &req["common_address"],
    );
    diff("iec104.ioa", &m["ioa"], &req["ioa"]);
    same_frame(&format!("{name} request"), &m["request"], req, errs);
    let mut diff = |what: &str, ours: &Value, truth: &Value| {
        if ours != truth {
            errs.push(format!("{name}: {what} is {ours}, the client saw {truth}"));
        }
    };
    if let Some(sel) = req.get("select") {
        diff(
            "request object select",
            &first_object(&m["request"])["select"],
            sel,
        );
    }
    if let Some(v) = op.get("value") {
        let ours = &first_object(&m["request"])["value"];
        if ours.as_f64() != v.as_f64() {
            errs.push(format!(
                "{name}: commanded value {ours}, the client sent {v}"
            ));
        }
    }
    // Replies: the first ACTCON/DEACTCON (or mirror) is the confirmation,
    // a mirror (44-47) after it the rejection, ACTTERM the termination.
    let replies = op["replies"].as_array().unwrap();
    let mut expect: Vec<(&str, &Value)> = Vec::new();
    for r in replies {
        let c = r["cause"].as_u64().unwrap();
        let slot = match c {
            10 => "termination",
            44..=47 if expect.iter().any(|(k, _)| *k == "confirmation") => "rejection",
            _ => "confirmation",
        };
        expect.push((slot, r));
    }
    for slot in ["confirmation", "rejection", "termination"] {
        match (expect.iter().find(|(k, _)| *k == slot), m.get(slot)) {
            (Some((_, t)), Some(o)) => same_frame(&format!("{name} {slot}"), o, t, errs),
            (None, None) => {}
            (Some(_), None) => errs.push(format!("{name}: no {slot} in the event")),
            (None, Some(o)) => errs.push(format!("{name}: unexpected {slot} {o}")),
        }
    }
    match (op["answer"].as_object(), m.get("data")) {
        (Some(_), Some(o)) => same_frame(&format!("{name} answer"), o, &op["answer"], errs),
        (None, None) => {}
        (Some(_), None) => errs.push(format!("{name}: the read answer is missing")),
        (None, Some(o)) => errs.push(format!("{name}: unexpected data {o}")),
    }
    let negative = replies
        .iter()
        .find(|r| r["negative"] == true || (44..=47).contains(&r["cause"].as_u64().unwrap()));
    let status = if negative.is_some() {
        "exception"
    } else if replies.is_empty() && op["answer"].is_null() {
        "no_response"
    } else {
        "ok"
    };
    if ev["ics"]["status"] != status {
        errs.push(format!(
            "{name}: status {}, the client's replies make it {status}",
            ev["ics"]["status"]
        ));
    }
    if status == "exception" {
        // The station's mirror says why (47 unknown IOA here).
        let why = replies
            .iter()
            .rev()
            .find(|r| (44..=47).contains(&r["cause"].as_u64().unwrap()))
            .or(negative)
            .unwrap();
        if ev["ics"]["exception_code"] != why["cause"] {
            errs.push(format!(
                "{name}: exception_code {}, the client saw cause {}",
                ev["ics"]["exception_code"], why["cause"]
            ));
        }
    }
    let operation = match type_id {
        45..=51 | 58..=64 => "command",
        100..=102 => "read",
        103 => "configuration",
        107 => "diagnostics",
        _ => "?",
    };
    if ev["ics"]["operation"] != operation {
        errs.push(format!(
            "{name}: operation {}, expected {operation}",
            ev["ics"]["operation"]
        ));
    }
    if m.get("flags").is_some() {
        errs.push(format!("{name}: flags {}", m["flags"]));
    }
}

#[test]
fn c104_client_and_server() {
    let dir = tempfile::Builder::new()
        .prefix("plantshield-iec104-stack-")
        .tempdir()
        .unwrap();
    let (pcap, truth) = record(dir.path());

    let pin = pinned("c104");
    assert_eq!(
        truth["c104"].as_str(),
        Some(pin.as_str()),
        "the installed c104 is not the version pinned in tests/requirements.txt \
         (run .ci/install); the expectations of this test are for {pin}"
    );

    let run = analyze(&[
        "--no-progress",
        "--max-values",
        "1000",
        pcap.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "plantshield failed: {}", run.stderr);

    let ops = truth["operations"].as_array().unwrap();
    let frames = truth["frames"].as_array().unwrap();
    let server_ip = &truth["server"]["ip"];
    let server_port = &truth["server"]["port"];
    let all = run.of_type("iec104");
    let events: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|e| e.get("ics").is_some())
        .collect();
    let links: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|e| e.get("ics").is_none())
        .collect();

    // The script covers what it promises.
    let names: BTreeSet<&str> = ops.iter().filter_map(|o| o["name"].as_str()).collect();
    for n in [
        "general_interrogation",
        "counter_interrogation",
        "read_scaled",
        "single_command_select",
        "single_command_execute",
        "double_command",
        "setpoint_float",
        "setpoint_normalized",
        "command_unknown_ioa",
        "clock_sync",
        "test_command",
    ] {
        assert!(names.contains(n), "the script no longer performs {n}");
    }
    let u: Vec<&str> = ops
        .iter()
        .filter(|o| o["kind"] == "u")
        .map(|o| o["function"].as_str().unwrap())
        .collect();
    assert_eq!(
        u.first(),
        Some(&"startdt"),
        "the client starts with STARTDT"
    );
    assert_eq!(u.last(), Some(&"stopdt"), "the client ends with STOPDT");
    let causes: BTreeSet<u64> = ops
        .iter()
        .filter(|o| o["kind"] == "data")
        .map(|o| o["data"]["cause"].as_u64().unwrap())
        .collect();
    for (c, what) in [
        (1, "periodic"),
        (3, "spontaneous"),
        (20, "interrogated"),
        (37, "counter"),
    ] {
        assert!(causes.contains(&c), "no {what} data (cause {c}) in the run");
    }

    let mut errs = Vec::new();
    let mut used = vec![false; events.len()];
    let mut take = |pred: &dyn Fn(&Value) -> bool| -> Option<usize> {
        let i = (0..events.len()).find(|&i| !used[i] && pred(events[i]))?;
        used[i] = true;
        Some(i)
    };
    for op in ops {
        match op["kind"].as_str().unwrap() {
            "u" => {
                let f = op["function"].as_str().unwrap();
                let Some(i) = take(&|e| e["iec104"]["format"] == "u" && e["ics"]["function"] == f)
                else {
                    errs.push(format!("no event for {f}"));
                    continue;
                };
                let e = events[i];
                let con = op["con"].as_bool().unwrap();
                let status = if con { "ok" } else { "no_response" };
                if e["ics"]["status"] != status || e["ics"]["operation"] != "session" {
                    errs.push(format!("{f}: {}, the client saw con={con}", e["ics"]));
                }
                if e["iec104"].get("request_missing").is_some() {
                    errs.push(format!("{f}: request_missing"));
                }
            }
            "request" => {
                let ns = &op["request"]["send_sequence"];
                let Some(i) = take(&|e| &e["iec104"]["request"]["send_sequence"] == ns) else {
                    errs.push(format!("no event for {} (N(S) {ns})", op["name"]));
                    continue;
                };
                compare_request(op, events[i], &mut errs);
            }
            "data" => {
                let d = &op["data"];
                let ns = &d["send_sequence"];
                let Some(i) = take(&|e| {
                    e["iec104"].get("request").is_none()
                        && &e["iec104"]["data"]["send_sequence"] == ns
                }) else {
                    errs.push(format!("no event for the data ASDU N(S) {ns}"));
                    continue;
                };
                let e = events[i];
                let what = format!("{} N(S) {ns}", d["type"]);
                same_frame(&what, &e["iec104"]["data"], d, &mut errs);
                if e["ics"]["function_code"] != d["type_id"]
                    || e["ics"]["operation"] != "read"
                    || e["ics"]["status"] != "ok"
                    || e["iec104"]["ioa"] != d["ioa"]
                {
                    errs.push(format!(
                        "{what}: ics {} ioa {}",
                        e["ics"], e["iec104"]["ioa"]
                    ));
                }
                let objects = e["iec104"]["data"]["objects"].as_array();
                if objects.map(Vec::len) != d["num_objects"].as_u64().map(|n| n as usize) {
                    errs.push(format!("{what}: objects {:?}", objects));
                }
                if d["cause"] == 20 {
                    let want = &truth["interrogated"][d["ioa"].to_string()];
                    let ours = &e["iec104"]["data"]["objects"][0]["value"];
                    if !want.is_null() && ours.as_f64() != want.as_f64() {
                        errs.push(format!(
                            "{what}: interrogated value {ours}, the server was configured with {want}"
                        ));
                    }
                }
            }
            k => panic!("operation kind {k}"),
        }
    }
    for (i, e) in events.iter().enumerate() {
        if !used[i] {
            errs.push(format!("extra iec104 event: {e}"));
        }
        if &e["dest_ip"] != server_ip || &e["dest_port"] != server_port {
            errs.push(format!(
                "event goes to {}:{}, the server is {server_ip}:{server_port}",
                e["dest_ip"], e["dest_port"]
            ));
        }
    }

    // The link record counts the APDUs the client sent and received.
    if links.len() != 1 {
        errs.push(format!("{} link records, expected 1", links.len()));
    }
    for l in &links {
        for (dir, key) in [("sent", "toserver"), ("received", "toclient")] {
            for (fmt, k) in [("I", "i"), ("S", "s"), ("U", "u")] {
                let n = frames
                    .iter()
                    .filter(|f| f["dir"] == dir && f["format"] == fmt)
                    .count() as u64;
                let ours = &l["iec104"]["link"][key][k];
                if ours.as_u64() != Some(n) {
                    errs.push(format!("link {key}.{k} is {ours}, the client {dir} {n}"));
                }
            }
        }
    }

    // Two well-behaved stacks on loopback: one clean flow, no anomaly.
    for a in run.of_type("anomaly") {
        errs.push(format!("anomaly: {a}"));
    }
    let flows = run.of_type("flow");
    if flows.len() != 1 {
        errs.push(format!("{} flow events, expected 1", flows.len()));
    }
    for f in &flows {
        let f = &f["flow"];
        if f["transactions"].as_u64() != Some(events.len() as u64)
            || f["gaps"] != 0
            || f["midstream"] != false
        {
            errs.push(format!("flow record: {f}"));
        }
    }

    if !errs.is_empty() {
        let kept = dir.keep();
        panic!(
            "PlantShield disagrees with the c104 client ({} differences; capture and \
             truth kept in {}):\n  {}",
            errs.len(),
            kept.display(),
            errs.join("\n  ")
        );
    }
}
