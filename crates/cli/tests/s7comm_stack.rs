//! Real protocol stacks: a snap7 client and server (python-snap7, whose
//! wheel bundles the snap7 C library) talk S7comm on port 102 inside a
//! network namespace while tcpdump records them
//! (`tests/stacks/s7comm_stack.py`). The client writes down, operation by
//! operation, what it asked for and what it got; PlantShield must report
//! each operation as exactly one `s7comm` event, in order, with the same
//! function, target (area, DB, address, size; SZL id and index; block) and
//! values, and nothing else.
//!
//! The test needs python3, the python-snap7 pinned in
//! `tests/requirements.txt`, tcpdump and iproute2 (`ip netns`, as root);
//! `.ci/install` provides them. When any is missing the test fails, it
//! never skips.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// Runs the stack script into `dir`; returns the capture and the truth.
fn record(dir: &Path) -> (PathBuf, Value) {
    run_stack_script("s7comm_stack.py", dir, &[]);
    (dir.join("s7comm.pcap"), read_json(&dir.join("truth.json")))
}

/// Octets `from..to` of a hex string, as an integer.
fn hex_u64(hex: &str, from: usize, to: usize) -> Option<u64> {
    u64::from_str_radix(hex.get(2 * from..2 * to)?, 16).ok()
}

/// Compares one operation with its event; returns the differences.
fn compare(op: &Value, ev: &Value, truth: &Value) -> Vec<String> {
    let name = op["name"].as_str().unwrap();
    let s = &ev["s7comm"];
    let mut errs = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let mut diff = |what: &str, ours: &Value, want: &Value| {
        if ours != want {
            errs.push(format!("{name}: {what} is {ours}, the client saw {want}"));
        }
    };
    diff("event_type", &ev["event_type"], &Value::from("s7comm"));
    diff("ics.function", &ev["ics"]["function"], &op["function"]);
    diff(
        "ics.function_code",
        &ev["ics"]["function_code"],
        &op["function_code"],
    );
    diff("ics.operation", &ev["ics"]["operation"], &op["operation"]);
    diff("ics.status", &ev["ics"]["status"], &op["status"]);
    diff("rack", &s["rack"], &truth["rack"]);
    diff("slot", &s["slot"], &truth["slot"]);
    diff("dest_ip", &ev["dest_ip"], &truth["server"]["ip"]);
    diff("dest_port", &ev["dest_port"], &truth["server"]["port"]);
    for k in [
        "request_missing",
        "response_missing",
        "flags",
        "values_truncated",
    ] {
        if s.get(k).is_some() {
            diff(k, &s[k], &Value::Null);
        }
    }
    match op["function"].as_str().unwrap() {
        "cotp_connect" => {
            diff("called_tsap", &s["cotp"]["called_tsap"], &op["called_tsap"]);
            diff("confirmed", &s["cotp"]["confirmed"], &Value::from(true));
        }
        "setup_communication" => diff(
            "negotiated_pdu_length",
            &s["negotiated_pdu_length"],
            &op["negotiated_pdu_length"],
        ),
        "read_var" | "write_var" => {
            diff("item_count", &s["item_count"], &Value::from(1));
            let it = &s["items"][0];
            diff("area_name", &it["area_name"], &op["area"]);
            diff("byte_address", &it["byte_address"], &op["start"]);
            diff("length", &it["length"], &op["size"]);
            diff(
                "transport_size_name",
                &it["transport_size_name"],
                &op["transport_size_name"],
            );
            diff(
                "db_number",
                &it["db_number"],
                op.get("db_number").unwrap_or(&Value::Null),
            );
            diff("value", &it["value"], &op["value"]);
            diff(
                "return_code_name",
                &it["return_code_name"],
                &Value::from("success"),
            );
        }
        "read_szl" => {
            diff("szl_id", &s["szl_id"], &op["szl_id"]);
            diff("szl_index", &s["szl_index"], &op["szl_index"]);
            diff("szl.id", &s["szl"]["id"], &op["szl_id"]);
            let records = s["szl"]["records"].as_str().unwrap_or("");
            if let Some(want) = op.get("order_number") {
                let module = s["szl"]["module_identification"]
                    .as_array()
                    .and_then(|a| a.iter().find(|r| r["index_name"] == "module"));
                diff(
                    "order_number",
                    module.map_or(&Value::Null, |m| &m["order_number"]),
                    want,
                );
            }
            if let Some(want) = op
                .get("component_identification")
                .and_then(Value::as_object)
            {
                for (k, v) in want {
                    diff(k, &s["szl"]["component_identification"][k], v);
                }
            }
            if let Some(want) = op.get("szl_record_count") {
                diff("szl.record_count", &s["szl"]["record_count"], want);
            }
            // SZL 0x0424: the fourth octet of the record is the CPU mode,
            // 0x08 RUN and 0x04 STOP (snap7's S7CpuStatusRun/Stop).
            if let Some(want) = op["cpu_state"].as_str() {
                let mode = match want {
                    "S7CpuStatusRun" => 8,
                    "S7CpuStatusStop" => 4,
                    other => panic!("{name}: unexpected CPU state {other}"),
                };
                diff(
                    "mode octet",
                    &Value::from(hex_u64(records, 3, 4)),
                    &Value::from(mode),
                );
            }
            // SZL 0x0131 index 1: the maximum PDU length follows the index.
            if let Some(want) = op.get("max_pdu_length") {
                diff("max PDU length", &Value::from(hex_u64(records, 2, 4)), want);
            }
            // SZL 0x0232 index 4: index, key switch, parameter, valid level.
            if let Some(want) = op.get("protection") {
                diff(
                    "protection level",
                    &Value::from(hex_u64(records, 6, 8)),
                    want,
                );
            }
        }
        "list_blocks" => diff("block_counts", &s["block_counts"], &op["block_counts"]),
        "list_blocks_of_type" => {
            diff("block_type", &s["block_type"], &op["block_type"]);
            let numbers: Vec<Value> = s["block_list"]
                .as_array()
                .map(|a| a.iter().map(|b| b["number"].clone()).collect())
                .unwrap_or_default();
            diff("block numbers", &Value::from(numbers), &op["block_numbers"]);
        }
        "get_block_info" => {
            diff("block_type", &s["block_type"], &op["block_type"]);
            diff("block_number", &s["block_number"], &op["block_number"]);
            diff(
                "mc7_code_length",
                &s["block_info"]["mc7_code_length"],
                &op["mc7_code_length"],
            );
            diff(
                "block_info.number",
                &s["block_info"]["number"],
                &op["block_info_number"],
            );
        }
        "read_clock" | "set_clock" => {
            let t = s["plc_time"].as_str().and_then(|t| t.get(..19));
            diff("plc_time", &Value::from(t), &op["plc_time"]);
        }
        "plc_stop" | "pi_service" => {
            diff("pi_service", &s["pi_service"], &op["pi_service"]);
            if let Some(a) = op.get("pi_argument") {
                diff("pi_argument", &s["pi_argument"], a);
            }
        }
        "plc_password" => {
            diff("password_sent", &s["password_sent"], &op["password_sent"]);
            let text = ev.to_string();
            let secret = op["obfuscated_password"].as_str().unwrap();
            if text.contains(secret) {
                extra.push(format!(
                    "{name}: the obfuscated password {secret} is in the event"
                ));
            }
        }
        "clear_password" => {}
        "start_upload" => {
            let block = format!(
                "{}{}",
                op["block_type"].as_str().unwrap(),
                op["block_number"]
            );
            diff("block", &s["block"], &Value::from(block));
            diff("block_type", &s["block_type"], &op["block_type"]);
            diff("block_number", &s["block_number"], &op["block_number"]);
            let text = op["error_text"].as_str().unwrap_or("");
            if !text.contains("protection level") {
                extra.push(format!(
                    "{name}: the client saw {text:?}, expected a protection error"
                ));
            }
            diff(
                "error",
                &s["error"],
                &Value::from("not_permitted_in_protection_level"),
            );
        }
        f => extra.push(format!(
            "{name}: the script uses {f}, which this test does not check"
        )),
    }
    errs.extend(extra);
    errs
}

#[test]
fn snap7_client_and_server() {
    let dir = tempfile::Builder::new()
        .prefix("plantshield-s7comm-stack-")
        .tempdir()
        .unwrap();
    let (pcap, truth) = record(dir.path());
    let pin = pinned("python-snap7");
    assert_eq!(
        truth["python_snap7"].as_str(),
        Some(pin.as_str()),
        "the installed python-snap7 is not the version pinned in tests/requirements.txt \
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
    // The script covers what the brief asks of the real stack.
    let names: std::collections::BTreeSet<&str> = ops
        .iter()
        .map(|o| o["function"].as_str().unwrap())
        .collect();
    for f in [
        "cotp_connect",
        "setup_communication",
        "read_var",
        "write_var",
        "read_szl",
        "list_blocks",
        "list_blocks_of_type",
        "get_block_info",
        "read_clock",
        "set_clock",
        "plc_stop",
        "pi_service",
        "plc_password",
        "start_upload",
    ] {
        assert!(names.contains(f), "the script no longer covers {f}");
    }
    let szl: Vec<u64> = ops.iter().filter_map(|o| o["szl_id"].as_u64()).collect();
    assert!(szl.contains(&0x11) && szl.contains(&0x1c), "{szl:?}");

    let events = run.of_type("s7comm");
    let mut errs = Vec::new();
    if events.len() != ops.len() {
        errs.push(format!(
            "{} s7comm events for {} client operations",
            events.len(),
            ops.len()
        ));
    }
    for (op, ev) in ops.iter().zip(&events) {
        let e = compare(op, ev, &truth);
        let out_of_step = e.iter().any(|m| m.contains("ics.function is"));
        errs.extend(e);
        if out_of_step {
            errs.push("events out of step with the operations; stopping".into());
            break;
        }
    }
    for ev in events.iter().skip(ops.len()) {
        errs.push(format!("extra s7comm event: {ev}"));
    }
    if !run.of_type("s7comm_plus").is_empty() {
        errs.push("s7comm_plus events on an S7comm connection".into());
    }
    // Two well-behaved stacks: one clean flow, no anomaly.
    for a in run.of_type("anomaly") {
        errs.push(format!("anomaly: {a}"));
    }
    let flows = run.of_type("flow");
    if flows.len() != 1 {
        errs.push(format!("{} flow events, expected 1", flows.len()));
    }
    for f in &flows {
        let f = &f["flow"];
        if f["transactions"].as_u64() != Some(ops.len() as u64)
            || f["gaps"] != 0
            || f["midstream"] != false
        {
            errs.push(format!("flow record: {f}"));
        }
    }
    let exceptions = ops.iter().filter(|o| o["status"] == "exception").count() as u64;
    match run.of_type("stats").last() {
        Some(s) => {
            let t = &s["stats"]["transactions"]["s7comm"];
            if t["total"].as_u64() != Some(ops.len() as u64)
                || t["by_status"]["exception"].as_u64() != Some(exceptions)
            {
                errs.push(format!(
                    "stats: {t}, the client saw {exceptions} exceptions"
                ));
            }
        }
        None => errs.push("no stats event".into()),
    }
    if !errs.is_empty() {
        let kept = dir.keep();
        panic!(
            "PlantShield disagrees with the snap7 client ({} differences; capture and \
             truth kept in {}):\n  {}",
            errs.len(),
            kept.display(),
            errs.join("\n  ")
        );
    }
}
