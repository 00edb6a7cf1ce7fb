//! Real protocol stacks: a pymodbus client and server talk over loopback
//! while tcpdump records them (`tests/stacks/modbus_stack.py`). The client
//! writes down, operation by operation, what it sent and what it received;
//! PlantShield must report each operation as exactly one `modbus` event, in
//! order, with the same function, addresses, quantities, values, exception
//! codes and device identification, and nothing else.
//!
//! The test needs python3, the pymodbus pinned in `tests/requirements.txt`
//! and tcpdump (capturing on `lo`, so root or CAP_NET_RAW); `.ci/install`
//! provides them. When any is missing the test fails, it never skips.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// Runs the stack script into `dir`; returns the capture and the truth.
fn record(dir: &Path) -> (PathBuf, Value) {
    run_stack_script("modbus_stack.py", dir, &[]);
    (dir.join("modbus.pcap"), read_json(&dir.join("truth.json")))
}

/// Device identification object ids and the names PlantShield gives them.
fn object_name(id: &str) -> String {
    match id {
        "0" => "vendor_name".into(),
        "1" => "product_code".into(),
        "2" => "major_minor_revision".into(),
        "3" => "vendor_url".into(),
        "4" => "product_name".into(),
        "5" => "model_name".into(),
        "6" => "user_application_name".into(),
        n => format!("object_{n}"),
    }
}

/// Flags the pinned pymodbus earns, by operation; every other operation
/// must have none.
fn expected_flags(op: &str) -> &'static [&'static str] {
    match op {
        // Sub-functions 0x13 and 0x15 are reserved in the Modbus
        // specification (V1.1b3); pymodbus still offers the older Modicon
        // meanings (IOP overrun count, Modbus Plus statistics).
        "diag_iop_overrun_count" | "diag_get_clear_modbus_plus" => &["reserved_sub_function"],
        // pymodbus writes the FIFO count in bytes (8) for 4 registers.
        "read_fifo_queue" => &["byte_count_mismatch"],
        // The server answers 5 coils (one byte) for the 10 asked.
        "read_coils_beyond_datastore" => &["response_mismatch"],
        // The pymodbus server answers more registers than each file
        // sub-request asked for (it takes record lengths for byte counts).
        "read_file_record" => &["response_mismatch"],
        // Read device id code 5 does not exist (the server says so too).
        "exception_read_device_id_bad_code" => &["invalid_read_device_id_code"],
        _ => &[],
    }
}

/// Fields copied from the truth that must equal the event's `modbus` field.
const SAME: &[&str] = &[
    "transaction_id",
    "unit_id",
    "function_code",
    "address",
    "quantity",
    "values_written",
    "values_read",
    "exception_code",
    "sub_function",
    "data",
    "response_data",
    "mei_type",
    "read_device_id_code",
    "object_id",
    "write_address",
    "write_quantity",
    "and_mask",
    "or_mask",
    "exception_status",
    "status_word",
    "event_count",
    "message_count",
    "events",
    "server_id",
    "file_records",
];

/// Fields that must be present in the event exactly when the truth has them.
const PRESENCE: &[&str] = &[
    "address",
    "quantity",
    "values_written",
    "values_read",
    "exception_code",
    "sub_function",
    "mei_type",
    "file_records",
];

/// The record data of a read file record response (`response_data` is the
/// sub-responses: length, reference type, data).
fn file_records_read(hex: &str) -> Vec<String> {
    let b: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut v = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let len = usize::from(b[i]);
        let end = (i + 1 + len).min(b.len());
        let data = b.get(i + 2..end).unwrap_or_default();
        v.push(data.iter().map(|x| format!("{x:02x}")).collect());
        i += 1 + len.max(1);
    }
    v
}

/// Compares one operation with its event; returns the differences.
fn compare(op: &Value, ev: &Value, configured_id: &Value) -> Vec<String> {
    let name = op["name"].as_str().unwrap();
    let m = &ev["modbus"];
    let mut errs = Vec::new();
    let mut diff = |what: &str, ours: &Value, truth: &Value| {
        if ours != truth {
            errs.push(format!("{name}: {what} is {ours}, the client saw {truth}"));
        }
    };
    for k in SAME {
        if let Some(t) = op.get(*k) {
            diff(k, &m[*k], t);
        }
    }
    for k in PRESENCE {
        if op.get(*k).is_none() && m.get(*k).is_some() {
            diff(k, &m[*k], &Value::Null);
        }
    }
    diff("ics.status", &ev["ics"]["status"], &op["status"]);
    diff(
        "ics.function_code",
        &ev["ics"]["function_code"],
        &op["function_code"],
    );
    if op["status"] == "exception" {
        diff(
            "ics.exception_code",
            &ev["ics"]["exception_code"],
            &op["exception_code"],
        );
    }
    for k in ["request_missing", "response_missing", "values_truncated"] {
        if m.get(k).is_some() {
            diff(k, &m[k], &Value::Null);
        }
    }
    let flags: Vec<&str> = m["flags"]
        .as_array()
        .map(|a| a.iter().map(|f| f.as_str().unwrap()).collect())
        .unwrap_or_default();
    if flags != expected_flags(name) {
        errs.push(format!(
            "{name}: flags {flags:?}, expected {:?}",
            expected_flags(name)
        ));
    }
    if let Some(recs) = op.get("records_read") {
        let ours = file_records_read(m["response_data"].as_str().unwrap_or(""));
        let ours = Value::from(ours);
        if &ours != recs {
            errs.push(format!(
                "{name}: records read {ours}, the client saw {recs}"
            ));
        }
    }
    if let Some(id) = op.get("device_id").and_then(Value::as_object) {
        let want: serde_json::Map<String, Value> = id
            .iter()
            .map(|(k, v)| (object_name(k), v.clone()))
            .collect();
        let ours = &m["device_id"]["objects"];
        if ours != &Value::Object(want.clone()) {
            errs.push(format!(
                "{name}: device_id.objects {ours}, the client saw {}",
                Value::Object(want)
            ));
        }
        for (k, v) in id {
            if &configured_id[k] != v {
                errs.push(format!(
                    "{name}: object {k} is {v}, the server was configured with {}",
                    configured_id[k]
                ));
            }
        }
    } else if m.get("device_id").is_some() {
        errs.push(format!("{name}: unexpected device_id {}", m["device_id"]));
    }
    errs
}

#[test]
fn pymodbus_client_and_server_every_function() {
    let dir = tempfile::Builder::new()
        .prefix("plantshield-modbus-stack-")
        .tempdir()
        .unwrap();
    let (pcap, truth) = record(dir.path());

    let pin = pinned("pymodbus");
    assert_eq!(
        truth["pymodbus"].as_str(),
        Some(pin.as_str()),
        "the installed pymodbus is not the version pinned in tests/requirements.txt \
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
    let events = modbus(&run);
    let server_ip = &truth["server"]["ip"];
    let server_port = &truth["server"]["port"];
    let configured_id = &truth["device_id"];

    let mut errs = Vec::new();
    // The scripted sequence covers every function code the client can send.
    let fcs: std::collections::BTreeSet<u64> = ops
        .iter()
        .map(|o| o["function_code"].as_u64().unwrap())
        .collect();
    let all: std::collections::BTreeSet<u64> = [
        1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43,
    ]
    .into_iter()
    .collect();
    assert_eq!(fcs, all, "the script no longer covers every function code");
    assert!(
        ops.iter().any(|o| o["status"] == "exception"),
        "the script provoked no exception"
    );

    if events.len() != ops.len() {
        errs.push(format!(
            "{} modbus events for {} client operations",
            events.len(),
            ops.len()
        ));
    }
    for (i, (op, ev)) in ops.iter().zip(&events).enumerate() {
        if op["transaction_id"] != ev["modbus"]["transaction_id"] {
            errs.push(format!(
                "event {i} is transaction {} where the client's operation {i} ({}) is {}: \
                 events out of order or missing",
                ev["modbus"]["transaction_id"], op["name"], op["transaction_id"]
            ));
            break;
        }
        errs.extend(compare(op, ev, configured_id));
        if &ev["dest_ip"] != server_ip || &ev["dest_port"] != server_port {
            errs.push(format!(
                "{}: event goes to {}:{}, the server is {server_ip}:{server_port}",
                op["name"], ev["dest_ip"], ev["dest_port"]
            ));
        }
    }
    for ev in events.iter().skip(ops.len()) {
        errs.push(format!("extra modbus event: {ev}"));
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
        if f["transactions"].as_u64() != Some(ops.len() as u64)
            || f["gaps"] != 0
            || f["midstream"] != false
        {
            errs.push(format!("flow record: {f}"));
        }
    }
    let stats = run.of_type("stats");
    let mut by_status = BTreeMap::new();
    for op in ops {
        *by_status
            .entry(op["status"].as_str().unwrap().to_string())
            .or_insert(0u64) += 1;
    }
    match stats.last() {
        Some(s) => {
            let t = &s["stats"]["transactions"]["modbus"];
            if t["total"].as_u64() != Some(ops.len() as u64)
                || t["by_status"]["ok"].as_u64() != by_status.get("ok").copied()
                || t["by_status"]["exception"].as_u64() != by_status.get("exception").copied()
            {
                errs.push(format!("stats: {t}, the client saw {by_status:?}"));
            }
        }
        None => errs.push("no stats event".into()),
    }

    if !errs.is_empty() {
        let kept = dir.keep();
        panic!(
            "PlantShield disagrees with the pymodbus client ({} differences; capture and \
             truth kept in {}):\n  {}",
            errs.len(),
            kept.display(),
            errs.join("\n  ")
        );
    }
}
