//! Parity with Wireshark: for every Modbus capture of the shared corpus, the
//! Modbus PDUs by function code and kind (request, response, exception) and
//! the exception codes equal what tshark recorded in `oracle/`.
//!
//! A transaction event stands for its request (unless `request_missing`)
//! and its response (unless `response_missing`); a response carrying
//! `exception_code` is an exception. Wireshark's rule for direction (to port
//! 502 is a request) and ours (towards the Modbus server) agree on these files.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

type Counts = BTreeMap<(u64, &'static str), u64>;

fn ours(rel: &str) -> (Counts, BTreeMap<u64, u64>) {
    let run = analyze_file(&pcaps().join(rel));
    assert!(run.status.success(), "{}", run.stderr);
    let mut c = Counts::new();
    let mut exc = BTreeMap::new();
    for e in modbus(&run) {
        let m = &e["modbus"];
        let fc = m["function_code"].as_u64().unwrap();
        if m.get("request_missing").is_none() {
            *c.entry((fc, "request")).or_default() += 1;
        }
        if m.get("response_missing").is_none() {
            if let Some(code) = m["exception_code"].as_u64() {
                *c.entry((fc, "exception")).or_default() += 1;
                *exc.entry(code).or_default() += 1;
            } else {
                *c.entry((fc, "response")).or_default() += 1;
            }
        }
    }
    (c, exc)
}

fn theirs(rel: &str) -> (Counts, BTreeMap<u64, u64>) {
    let o = oracle(rel);
    let m = &o["protocols"]["modbus"];
    let mut c = Counts::new();
    for (fc, v) in m["by_function_code"].as_object().unwrap() {
        for kind in ["request", "response", "exception"] {
            if let Some(n) = v.get(kind).and_then(Value::as_u64) {
                c.insert((fc.parse().unwrap(), kind), n);
            }
        }
    }
    let exc = m["exception_codes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v["count"].as_u64().unwrap()))
        .collect();
    (c, exc)
}

fn parity(rel: &str) {
    let (c, e) = ours(rel);
    let (oc, oe) = theirs(rel);
    assert_eq!(
        c, oc,
        "PDUs by (function, kind) differ from Wireshark for {rel}"
    );
    assert_eq!(e, oe, "exception codes differ from Wireshark for {rel}");
}

#[test]
fn geeklounge_read_write_multiple_gateway_exception() {
    parity("modbus/4SICS-GeekLounge-151022-min.pcap");
}

#[test]
fn cnc_uploading_exe_six_rtus() {
    parity("modbus/CnC_uploading_exe_modbus_6RTU_with_operate.pcap");
}

#[test]
fn non_modbus_bytes_on_port_502() {
    parity("modbus/modbus-and-non-modbus-p502.pcap");
}

#[test]
fn encapsulated_interface_transport() {
    parity("modbus/modbus-eit.pcap");
}

#[test]
fn every_public_function() {
    parity("modbus/modbus_example.pcap");
}

#[test]
fn test_data_part1_diagnostics_and_reverse_connection() {
    parity("modbus/modbus_test_data_part1.pcap");
}

#[test]
fn test_data_part2_function_code_scan() {
    parity("modbus/modbus_test_data_part2.pcap");
}

/// `fuzz-72.pcap` is a fuzzer's capture: IP total lengths, TCP sequence and
/// acknowledgment numbers are randomised. Wireshark dissects segments in
/// arrival order and skips those its sequence analysis calls
/// retransmissions; we reassemble by sequence number as the receiving stack
/// would. Three justified differences (tshark frame numbers):
///
/// 1. Frame 1, the server's SYN, claims an IPv4 total length beyond the
///    frame. An IP stack discards it and so does our decoder (an anomaly).
///    Wireshark keeps its sequence number as the stream base and calls
///    frame 2 out of order; for us frame 2 is the first server segment, and
///    its exception response to function 28 counts.
/// 2. Frame 20 (a function 50 request) also claims an IPv4 total length
///    (35124) beyond its 52 captured bytes: discarded, as a host would.
/// 3. Frame 12 carries a server sequence number 128 KiB ahead. Wireshark's
///    analysis then takes frames 19 and 21 (exceptions to functions 47 and
///    51) for retransmissions and does not dissect them; they are in
///    sequence, so we parse both.
#[test]
fn fuzz_72_randomised_tcp_fields() {
    let rel = "modbus/fuzz-72.pcap";
    let (c, e) = ours(rel);
    let (mut oc, mut oe) = theirs(rel);
    // Difference 2: the request in the over-long IP packet.
    assert_eq!(oc.remove(&(50, "request")), Some(1));
    // Differences 1 and 3: exception responses Wireshark skipped.
    for fc in [28, 47, 51] {
        assert_eq!(oc.insert((fc, "exception"), 1), None);
    }
    *oe.entry(1).or_default() += 3;
    assert_eq!(c, oc);
    assert_eq!(e, oe);
    // The randomised IP lengths are reported, not silently dropped.
    let run = analyze_file(&pcaps().join(rel));
    assert_eq!(run.anomalies("truncated"), 2);
}
