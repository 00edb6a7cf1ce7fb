//! Parity with Wireshark: for every BACnet capture of the shared corpus,
//! the BVLC functions, APDU types, confirmed and unconfirmed service
//! choices equal what tshark recorded in `oracle/` (its `bacnet` section),
//! except where a difference is written down here with its reason and
//! asserted exactly.
//!
//! How the counts are read from PlantShield's output:
//!
//! - Every BACnet/IP datagram is part of exactly one `bacnet` event, as its
//!   `request` or its `response` (each with its `bvlc_function`, and for
//!   APDUs `apdu_type` and `service_choice`); a message whose NPDU or APDU
//!   header is cut short is an event of its own with only its BVLC
//!   function, as Wireshark counts only that.
//! - A segmented message is one event: its first segment is the
//!   `request`/`response`, `request_segments`/`response_segments` count all
//!   of its segments (each carries the same APDU type and service choice),
//!   and `segment_acks`/`segment_naks` count the SegmentACKs. Segments and
//!   SegmentACKs travel with the BVLC function of the first segment, or the
//!   event says `bvlc_function_changed` (the test checks it never does).
//! - Wireshark counts a service choice wherever one is encoded: in
//!   confirmed and unconfirmed requests, SimpleACKs, ComplexACKs (every
//!   segment) and Errors.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

type Counts = BTreeMap<String, u64>;

#[derive(Debug, Default, PartialEq)]
struct BacnetCounts {
    bvlc_functions: Counts,
    apdu_types: Counts,
    confirmed_services: Counts,
    unconfirmed_services: Counts,
}

fn add(c: &mut Counts, k: String, n: u64) {
    if n > 0 {
        *c.entry(k).or_default() += n;
    }
}

/// Counts one message `n` times (a segmented message's segments).
fn count_message(c: &mut BacnetCounts, m: &Value, n: u64) {
    let f = m["bvlc_function"].as_u64().unwrap();
    add(&mut c.bvlc_functions, format!("0x{f:02x}"), n);
    let Some(t) = m["apdu_type"].as_u64() else {
        return;
    };
    add(&mut c.apdu_types, t.to_string(), n);
    if let Some(s) = m["service_choice"].as_u64() {
        match t {
            1 => add(&mut c.unconfirmed_services, s.to_string(), n),
            0 | 2 | 3 | 5 => add(&mut c.confirmed_services, s.to_string(), n),
            _ => {}
        }
    }
}

fn ours(run: &Run) -> BacnetCounts {
    let mut c = BacnetCounts::default();
    for e in run.of_type("bacnet") {
        let b = &e["bacnet"];
        let n = |k: &str| b[k].as_u64().unwrap_or(0);
        assert!(
            !b["flags"]
                .as_array()
                .is_some_and(|f| f.contains(&Value::from("bvlc_function_changed"))),
            "{e}"
        );
        if let Some(m) = b.get("request") {
            count_message(&mut c, m, n("request_segments").max(1));
        }
        if let Some(m) = b.get("response") {
            count_message(&mut c, m, n("response_segments").max(1));
        }
        let acks = n("segment_acks") + n("segment_naks");
        if acks > 0 {
            let carrier = b.get("response").or(b.get("request")).unwrap();
            let f = carrier["bvlc_function"].as_u64().unwrap();
            add(&mut c.bvlc_functions, format!("0x{f:02x}"), acks);
            add(&mut c.apdu_types, "4".to_string(), acks);
        }
    }
    c
}

fn theirs(rel: &str) -> BacnetCounts {
    let o = oracle(rel);
    let m = &o["protocols"]["bacnet"];
    let counts = |v: &Value| -> Counts {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect()
    };
    BacnetCounts {
        bvlc_functions: counts(&m["bvlc_functions"]),
        apdu_types: counts(&m["apdu_types"]),
        confirmed_services: counts(&m["confirmed_services"]),
        unconfirmed_services: counts(&m["unconfirmed_services"]),
    }
}

fn run(rel: &str) -> Run {
    let run = analyze_file(&pcaps().join(rel));
    assert!(run.status.success(), "{}", run.stderr);
    run
}

fn parity(rel: &str) -> Run {
    let run = run(rel);
    assert_eq!(ours(&run), theirs(rel), "counts differ for {rel}");
    run
}

fn events<'a>(run: &'a Run, function: &str) -> Vec<&'a Value> {
    run.of_type("bacnet")
        .into_iter()
        .filter(|e| e["ics"]["function"] == function)
        .collect()
}

/// A foreign device registers with a BBMD and asks it to distribute a
/// Who-Is; the BBMD forwards the I-Ams of its subnet (Forwarded-NPDU with
/// the original B/IP source) and routes one from another network.
#[test]
fn bbmd_on_the_same_subnet() {
    let run = parity("bacnet/BACnet-BBMD-on-same-subnet.cap");
    let reg = &events(&run, "register_foreign_device")[0];
    assert_eq!(reg["bacnet"]["foreign_device_ttl"], 60000);
    assert_eq!(reg["ics"]["status"], "ok");
    assert_eq!(
        reg["bacnet"]["response"]["bvlc_function_name"],
        "bvlc_result"
    );
    let i_am = events(&run, "i_am");
    assert_eq!(i_am.len(), 10);
    let forwarded: Vec<_> = i_am
        .iter()
        .filter(|e| e["bacnet"]["request"].get("original_source").is_some())
        .collect();
    assert_eq!(forwarded.len(), 5);
    assert_eq!(
        forwarded[0]["bacnet"]["request"]["original_source"],
        "192.168.0.105:47808"
    );
    // Forwarded to the foreign device: oriented from it to the BBMD.
    assert_eq!(forwarded[0]["dest_ip"], "192.168.0.24");
    assert_eq!(forwarded[0]["bacnet"]["request_from_server"], true);
    // Broadcast I-Ams keep their sender as source.
    let local = i_am
        .iter()
        .find(|e| e["src_ip"] == "192.168.0.105")
        .unwrap();
    assert_eq!(local["bacnet"]["broadcast"], true);
    assert_eq!(local["bacnet"]["i_am"]["device_instance"], 123);
    assert_eq!(local["ics"]["operation"], "discovery");
    assert_eq!(local["ics"]["function_code"], 256);
}

/// The BACnet-stack demo tools against a device behind a BACnet router
/// (DNET 13), and back. Wireshark also decodes the BACnet/Ethernet (ISO
/// 8802-2 LLC) copies of the broadcasts that the router 192.168.0.5
/// repeats onto its Ethernet port; PlantShield reads BACnet/IP only, so
/// exactly those 26 unconfirmed requests are missing from our counts:
/// 11 I-Am, 1 I-Have, 1 UnconfirmedCOVNotification, 2
/// TimeSynchronization, 3 Who-Has, 8 Who-Is. Everything carried over UDP
/// agrees, including an NPDU of version 0x10 (read and flagged, as
/// Wireshark reads it) and four datagrams whose NPDU has no APDU after it
/// (Wireshark: malformed; here: truncated_message anomalies and malformed
/// events that still count their BVLC function).
#[test]
fn bacnet_stack_services() {
    let rel = "bacnet/bacnet-stack-services.cap";
    let run = run(rel);
    let c = ours(&run);
    let mut o = theirs(rel);
    let ethernet_only = [("0", 11), ("1", 1), ("2", 1), ("6", 2), ("7", 3), ("8", 8)];
    for (svc, n) in ethernet_only {
        *o.unconfirmed_services.get_mut(svc).unwrap() -= n;
    }
    *o.apdu_types.get_mut("1").unwrap() -= 26;
    assert_eq!(c, o);
    assert_eq!(run.anomalies("truncated_message"), 4);
    let malformed: Vec<_> = run
        .of_type("bacnet")
        .into_iter()
        .filter(|e| e["ics"]["status"] == "malformed")
        .collect();
    assert_eq!(malformed.len(), 4);
    let first = &run.of_type("bacnet")[0];
    assert_eq!(
        first["bacnet"]["flags"],
        serde_json::json!(["npdu_version"])
    );
    assert_eq!(first["bacnet"]["request_missing"], true);
    // The reinitialisation and communication control requests carry a
    // password: its presence is reported, never its text.
    let reinit = events(&run, "reinitialize_device");
    assert_eq!(reinit.len(), 3);
    for e in &reinit {
        assert_eq!(e["ics"]["operation"], "mode_change");
        assert_eq!(e["bacnet"]["reinitialize"]["password_sent"], true);
        assert!(!e.to_string().contains("filister"));
    }
    assert_eq!(reinit[0]["bacnet"]["error"], "password_failure");
    assert_eq!(reinit[0]["ics"]["exception_code"], (5 << 16) | 26);
    let dcc = events(&run, "device_communication_control");
    assert_eq!(dcc.len(), 8);
    let statuses: Vec<&str> = dcc
        .iter()
        .map(|e| e["ics"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "ok",
            "exception",
            "no_response",
            "no_response",
            "no_response",
            "no_response",
            "exception",
            "ok"
        ]
    );
    // Requests to the device behind the router name it; its replies come
    // back from the router with SNET 13.
    let wf = &events(&run, "atomic_write_file")[0];
    assert_eq!(wf["bacnet"]["request"]["npdu"]["destination_network"], 13);
    assert_eq!(wf["bacnet"]["response"]["npdu"]["source_network"], 13);
    assert_eq!(wf["ics"]["operation"], "file");
    let rpm = &events(&run, "read_property_multiple")[0];
    assert_eq!(rpm["bacnet"]["reject_reason_name"], "unrecognized_service");
}

/// Nearly every confirmed and unconfirmed service once, and lone Error,
/// Reject and Abort PDUs (their requests are not in the capture).
#[test]
fn error_reject_abort() {
    let run = parity("bacnet/bacnet_error_reject_abort.pcap");
    let ev = run.of_type("bacnet");
    let lone: Vec<_> = ev
        .iter()
        .filter(|e| e["bacnet"]["request_missing"] == true)
        .collect();
    assert_eq!(lone.len(), 3);
    let names: Vec<&str> = lone
        .iter()
        .map(|e| e["ics"]["function"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reinitialize_device", "reject", "abort"]);
    assert_eq!(lone[1]["ics"]["function_code"], 1030);
    assert_eq!(lone[2]["ics"]["function_code"], 1031);
    for e in &lone {
        assert_eq!(e["ics"]["status"], "exception");
    }
    let ops = |f: &str| events(&run, f)[0]["ics"]["operation"].clone();
    assert_eq!(ops("write_property"), "write");
    assert_eq!(ops("write_property_multiple"), "write");
    assert_eq!(ops("create_object"), "configuration");
    assert_eq!(ops("delete_object"), "configuration");
    assert_eq!(ops("subscribe_cov_property"), "read");
    assert_eq!(ops("time_synchronization"), "configuration");
    assert_eq!(ops("who_am_i"), "discovery");
    let wp = &events(&run, "write_property")[0]["bacnet"];
    assert_eq!(wp["property"], "present_value");
    assert_eq!(wp["value"], 80.0);
    assert_eq!(wp["priority"], 5);
}

/// A segmented ComplexACK (three segments, window 3) with its SegmentACKs
/// is one transaction whose joined data decodes as one object list.
#[test]
fn segmented_complex_ack() {
    let run = parity("bacnet/bacnet_segmented_data.pcap");
    let rp = events(&run, "read_property");
    assert_eq!(rp.len(), 2);
    let seg = &rp[1]["bacnet"];
    assert_eq!(seg["response_segments"], 3);
    assert_eq!(seg["segment_acks"], 2);
    assert_eq!(seg["response"]["segmented"], true);
    assert_eq!(seg["property"], "object_list");
    // The object list, from the joined segments, cut at --max-values.
    assert_eq!(seg["values"].as_array().unwrap().len(), 32);
    assert_eq!(seg["values"][0], "binary_input:0");
    assert_eq!(seg["values_truncated"], true);
    assert!(seg.get("flags").is_none(), "{seg}");
}

/// ReadProperty of the Device object's identity properties (the
/// nmap-style scan of a Johnson Controls NAE), a BDT read refused and a
/// foreign device registration refused by a device that is no BBMD.
#[test]
fn device_identity_reads() {
    let run = parity("bacnet/bacnet_test.pcap");
    let values: BTreeMap<String, Value> = events(&run, "read_property")
        .iter()
        .map(|e| {
            (
                e["bacnet"]["property"].as_str().unwrap().to_string(),
                e["bacnet"]["value"].clone(),
            )
        })
        .collect();
    assert_eq!(values["vendor_name"], "JCI");
    assert_eq!(values["vendor_identifier"], 5);
    assert_eq!(values["model_name"], "MS-NAE4510-2");
    assert_eq!(values["firmware_revision"], "5.1.0.4400");
    assert_eq!(values["object_name"], "KBRNAE");
    assert_eq!(values["object_identifier"], "device:500");
    let bdt = &events(&run, "read_broadcast_distribution_table")[0];
    assert_eq!(bdt["ics"]["status"], "exception");
    assert_eq!(bdt["ics"]["exception_code"], 0x20);
    assert_eq!(bdt["ics"]["function_code"], 768 + 2);
    // Four empty datagrams to port 47808 are not BACnet.
    assert_eq!(run.anomalies("app_proto_mismatch"), 4);
}

/// BACnet MS/TP (link type 165) is a serial bus, not BACnet/IP: out of
/// scope, so nothing is decoded from it, although Wireshark reads its
/// ReadProperty requests and acks. The records are counted as frames of a
/// link type the decoder does not read.
#[test]
fn mstp_is_not_decoded() {
    let rel = "bacnet/mstp_20090227094623.pcap";
    let run = run(rel);
    assert_eq!(ours(&run), BacnetCounts::default());
    assert!(run.of_type("bacnet").is_empty());
    let o = theirs(rel);
    assert_eq!(o.confirmed_services["12"], 402);
    let stats = &run.of_type("stats")[0]["stats"];
    assert_eq!(stats["unsupported_link"], 666);
}
