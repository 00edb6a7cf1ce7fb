//! Real protocol stacks: cpppo's EtherNet/IP client and simulator talk over
//! loopback while tcpdump records them (`tests/stacks/enip_stack.py`). The
//! client writes down, operation by operation, what it sent (service,
//! sender context, tag or class/instance/attribute, elements, values
//! written) and what it received (status, values read, identity).
//! PlantShield must report each operation as exactly one `enip` event with
//! the same function, target and values (the reads bundled in one
//! Multiple_Service_Packet are one event, one entry each), and nothing else.
//!
//! The test needs python3, the cpppo pinned in `tests/requirements.txt` and
//! tcpdump (capturing on `lo`, so root or CAP_NET_RAW); `.ci/install`
//! provides them. When any is missing the test fails, it never skips.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

/// Runs the stack script into `dir`; returns the capture and the truth.
fn record(dir: &Path) -> (PathBuf, Value) {
    run_stack_script("enip_stack.py", dir, &[]);
    (dir.join("enip.pcap"), read_json(&dir.join("truth.json")))
}

/// The service names of the codes the client sends (to tags, and to the
/// Identity object), as the specifications name them.
fn service_name(code: u64) -> &'static str {
    match code {
        0x01 => "get_attributes_all",
        0x0E => "get_attribute_single",
        0x4C => "read_tag",
        0x4D => "write_tag",
        0x52 => "read_tag_fragmented",
        0x53 => "write_tag_fragmented",
        _ => "unexpected",
    }
}

fn operation(code: u64) -> &'static str {
    match code {
        0x4D | 0x53 => "write",
        _ => "read",
    }
}

/// Compares the CIP fields of one operation with a service of an event
/// (the event's `cip` object or one of its `services` entries).
fn compare_service(name: &str, op: &Value, cip: &Value, errs: &mut Vec<String>) {
    let mut diff = |what: &str, ours: &Value, truth: &Value| {
        if ours != truth {
            errs.push(format!("{name}: {what} is {ours}, the client saw {truth}"));
        }
    };
    let code = op["service"].as_u64().unwrap();
    diff("service", &cip["service"], &op["service"]);
    diff(
        "service_name",
        &cip["service_name"],
        &json!(service_name(code)),
    );
    for k in [
        "tag",
        "class",
        "instance",
        "attribute",
        "elements",
        "offset",
        "data_type",
        "values_written",
    ] {
        diff(k, &cip[k], op.get(k).unwrap_or(&Value::Null));
    }
    match code {
        // Attribute data is not typed on the wire: compare the bytes.
        0x0E => {
            let bytes: Vec<u8> = op["values_read"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            diff("response_data", &cip["response_data"], &json!(hex));
        }
        0x01 => {}
        _ => diff(
            "values_read",
            &cip["values_read"],
            op.get("values_read").unwrap_or(&Value::Null),
        ),
    }
    if op.get("status").is_some() {
        diff("general_status", &cip["general_status"], &op["status"]);
    }
}

#[test]
fn cpppo_client_and_simulator() {
    let dir = tempfile::Builder::new()
        .prefix("plantshield-enip-stack-")
        .tempdir()
        .unwrap();
    let (pcap, truth) = record(dir.path());
    let pin = pinned("cpppo");
    assert_eq!(
        truth["cpppo"].as_str(),
        Some(pin.as_str()),
        "the installed cpppo is not the version pinned in tests/requirements.txt \
         (run .ci/install); the expectations of this test are for {pin}"
    );
    let run = analyze(&[
        "--no-progress",
        "--max-values",
        "1000",
        pcap.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "plantshield failed: {}", run.stderr);
    let events: Vec<&Value> = run
        .of_type("enip")
        .into_iter()
        .filter(|e| e["enip"].get("io").is_none())
        .collect();
    let ops = truth["operations"].as_array().unwrap();
    let (host, port) = (&truth["host"], &truth["port"]);

    // The script covers what the task asks for.
    let names: Vec<&str> = ops.iter().map(|o| o["op"].as_str().unwrap()).collect();
    for want in [
        "register_session",
        "list_identity",
        "list_services",
        "read_tag",
        "read_tag_array",
        "write_tag",
        "write_tag_real",
        "read_tag_fragmented",
        "write_tag_fragmented",
        "read_tag_unknown",
        "get_attribute_single",
        "get_attributes_all",
        "multiple_service_packet",
    ] {
        assert!(names.contains(&want), "the script no longer does {want}");
    }

    let mut errs = Vec::new();
    let mut used = vec![false; events.len()];
    let mut expected_events = 0;
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        let name = op["op"].as_str().unwrap();
        // Operations bundled in one Multiple_Service_Packet share its context.
        let mut group = vec![op];
        while op["multiple"] == true
            && ops
                .get(i + group.len())
                .is_some_and(|n| n["sender_context"] == op["sender_context"])
        {
            group.push(&ops[i + group.len()]);
        }
        i += group.len();
        expected_events += 1;
        let matches: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                let x = &e["enip"];
                match name {
                    "register_session" => {
                        x["command"] == 0x65 && x["session_handle"] == op["session_handle"]
                    }
                    "list_identity" => {
                        x["command"] == 0x63 && x["sender_context"] == op["sender_context"]
                    }
                    "list_services" => {
                        x["command"] == 0x04 && x["sender_context"] == op["sender_context"]
                    }
                    _ => x["command"] == 0x6f && x["sender_context"] == op["sender_context"],
                }
            })
            .map(|(k, _)| k)
            .collect();
        if matches.len() != 1 {
            errs.push(format!(
                "{name}: {} events, expected exactly one",
                matches.len()
            ));
            continue;
        }
        let k = matches[0];
        used[k] = true;
        let ev = events[k];
        let x = &ev["enip"];
        let ics = &ev["ics"];
        let mut diff = |what: &str, ours: &Value, truth: &Value| {
            if ours != truth {
                errs.push(format!("{name}: {what} is {ours}, the client saw {truth}"));
            }
        };
        if &ev["dest_ip"] != host || &ev["dest_port"] != port {
            diff(
                "server",
                &json!([ev["dest_ip"], ev["dest_port"]]),
                &json!([host, port]),
            );
        }
        for k in [
            "request_missing",
            "response_missing",
            "values_truncated",
            "flags",
        ] {
            diff(k, &x[k], &Value::Null);
        }
        match name {
            "register_session" => {
                diff("ics.function", &ics["function"], &json!("register_session"));
                diff("ics.operation", &ics["operation"], &json!("session"));
                diff("ics.status", &ics["status"], &json!("ok"));
                diff("protocol_version", &x["protocol_version"], &json!(1));
            }
            "list_identity" => {
                let proto = if op["transport"] == "udp" {
                    "UDP"
                } else {
                    "TCP"
                };
                diff("proto", &ev["proto"], &json!(proto));
                diff("ics.function", &ics["function"], &json!("list_identity"));
                diff("ics.operation", &ics["operation"], &json!("discovery"));
                diff("ics.status", &ics["status"], &json!("ok"));
                for k in [
                    "vendor_id",
                    "device_type",
                    "product_code",
                    "revision",
                    "status",
                    "state",
                    "serial_number",
                    "product_name",
                ] {
                    if let Some(t) = op.get(k) {
                        diff(k, &x["identity"][k], t);
                    }
                }
            }
            "list_services" => {
                diff("ics.function", &ics["function"], &json!("list_services"));
                diff("service.name", &x["service"]["name"], &op["service_name"]);
                diff(
                    "service.capability_flags",
                    &x["service"]["capability_flags"],
                    &op["capability"],
                );
            }
            _ if group.len() > 1 => {
                diff(
                    "ics.function",
                    &ics["function"],
                    &json!("multiple_service_packet"),
                );
                diff("ics.operation", &ics["operation"], &json!("read"));
                diff("ics.status", &ics["status"], &json!("ok"));
                let entries = x["cip"]["services"].as_array().cloned().unwrap_or_default();
                diff(
                    "number of services",
                    &json!(entries.len()),
                    &json!(group.len()),
                );
                for (o, e) in group.iter().zip(&entries) {
                    compare_service(name, o, e, &mut errs);
                }
            }
            _ => {
                let code = op["service"].as_u64().unwrap();
                let cip = &x["cip"];
                diff("ics.function_code", &ics["function_code"], &op["service"]);
                diff("ics.function", &ics["function"], &json!(service_name(code)));
                diff("ics.operation", &ics["operation"], &json!(operation(code)));
                // cpppo's client routes every request through the
                // Connection Manager (send path @6/1, route path 1/0).
                diff(
                    "unconnected_send.route_path",
                    &cip["unconnected_send"]["route_path"],
                    &json!("port 1 link 0"),
                );
                match op.get("encapsulation_status") {
                    Some(s) => {
                        diff("status", &x["status"], s);
                        diff("ics.status", &ics["status"], &json!("exception"));
                        diff("ics.exception_code", &ics["exception_code"], s);
                    }
                    None => {
                        diff("status", &x["status"], &json!(0));
                        diff("ics.status", &ics["status"], &json!("ok"));
                    }
                }
                compare_service(name, op, cip, &mut errs);
                if code == 0x01 {
                    // The device the client identified over ListIdentity.
                    let li = ops.iter().find(|o| o["op"] == "list_identity").unwrap();
                    for k in ["vendor_id", "product_code", "serial_number", "product_name"] {
                        if cip["identity"][k] != li[k] {
                            errs.push(format!(
                                "{name}: identity.{k} is {}, ListIdentity said {}",
                                cip["identity"][k], li[k]
                            ));
                        }
                    }
                }
            }
        }
    }
    for (k, e) in events.iter().enumerate() {
        if !used[k] {
            errs.push(format!("extra enip event: {e}"));
        }
    }
    for a in run.of_type("anomaly") {
        errs.push(format!("anomaly: {a}"));
    }
    match run.of_type("stats").last() {
        Some(s) => {
            let t = &s["stats"]["transactions"]["enip"];
            if t["total"].as_u64() != Some(expected_events) {
                errs.push(format!(
                    "stats: {} enip transactions, the client made {expected_events}",
                    t["total"]
                ));
            }
        }
        None => errs.push("no stats event".into()),
    }
    if !errs.is_empty() {
        let kept = dir.keep();
        panic!(
            "PlantShield disagrees with the cpppo client ({} differences; capture and \
             truth kept in {}):\n  {}",
            errs.len(),
            kept.display(),
            errs.join("\n  ")
        );
    }
}
