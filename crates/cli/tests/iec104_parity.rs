//! Parity with Wireshark: for every IEC 104 capture of the shared corpus,
//! the APDUs by format, the U-format functions, the ASDU type
//! identifications and the causes of transmission equal what tshark
//! recorded in `oracle/` (its `iec104` section).
//!
//! How the counts are read from PlantShield's output:
//!
//! - Every ASDU is part of exactly one `iec104` transaction event, as its
//!   `request`, `confirmation`, `rejection`, `termination` or `data`
//!   frame; each frame carries the type id and the cause of transmission
//!   it had on the wire (as far as a truncated ASDU holds them, as
//!   Wireshark counts them too).
//! - I-format APDUs are those frames, plus the I-format APDUs without any
//!   ASDU, which are no transaction and only raise `missing_asdu` (counted
//!   in the `stats` record).
//! - U-format APDUs are the activations and confirmations of the U-format
//!   events (`function_code` 256 + the activation's function bits; the
//!   confirmation's bits are twice those); an undefined bit pattern is one
//!   event carrying `u_function_bits`.
//! - S-format APDUs are not transactions: they are counted in the link
//!   record each connection writes when it ends.
//!
//! The link records' I- and U-format counts must also agree with the
//! events, so the two views check each other.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

type Counts = BTreeMap<String, u64>;

#[derive(Debug, Default, PartialEq)]
struct Iec104Counts {
    apci_types: Counts,
    u_format_functions: Counts,
    asdu_type_ids: Counts,
    causes_of_transmission: Counts,
}

fn add(c: &mut Counts, k: String) {
    *c.entry(k).or_default() += 1;
}

fn ours(rel: &str) -> (Iec104Counts, Run) {
    let run = analyze_file(&pcaps().join(rel));
    assert!(run.status.success(), "{}", run.stderr);
    let mut c = Iec104Counts::default();
    let mut i_frames = 0u64;
    let mut u_frames = 0u64;
    let mut link = [0u64; 3];
    for e in run.of_type("iec104") {
        let m = &e["iec104"];
        if let Some(l) = m.get("link") {
            for d in ["toserver", "toclient"] {
                for (k, f) in ["i", "s", "u"].iter().enumerate() {
                    link[k] += l[d][*f].as_u64().unwrap();
                }
            }
            assert!(
                e.get("ics").is_none(),
                "a link record is no transaction: {e}"
            );
            continue;
        }
        let code = m["function_code"].as_u64().unwrap();
        match m["format"].as_str().unwrap() {
            "u" => {
                if let Some(bits) = m["u_function_bits"].as_u64() {
                    assert_eq!(code, 256 + bits);
                    add(&mut c.u_format_functions, format!("0x{bits:02x}"));
                    u_frames += 1;
                    continue;
                }
                let act = code - 256;
                if m.get("request_missing").is_none() {
                    add(&mut c.u_format_functions, format!("0x{act:02x}"));
                    u_frames += 1;
                }
                if m.get("response_missing").is_none() {
                    add(&mut c.u_format_functions, format!("0x{:02x}", act << 1));
                    u_frames += 1;
                }
            }
            "i" => {
                for k in [
                    "request",
                    "confirmation",
                    "rejection",
                    "termination",
                    "data",
                ] {
                    let Some(f) = m.get(k) else { continue };
                    i_frames += 1;
                    if let Some(t) = f["type_id"].as_u64() {
                        add(&mut c.asdu_type_ids, t.to_string());
                    }
                    if let Some(cause) = f["cause"].as_u64() {
                        add(&mut c.causes_of_transmission, cause.to_string());
                    }
                }
            }
            other => panic!("format {other}"),
        }
    }
    let stats = &run.of_type("stats")[0]["stats"];
    let no_asdu = stats["anomalies"]["iec104.missing_asdu"]
        .as_u64()
        .unwrap_or(0);
    i_frames += no_asdu;
    assert_eq!(
        link[0], i_frames,
        "link records and events disagree on I-format APDUs"
    );
    assert_eq!(
        link[2], u_frames,
        "link records and events disagree on U-format APDUs"
    );
    for (k, n) in [("0", link[0]), ("1", link[1]), ("3", link[2])] {
        if n > 0 {
            c.apci_types.insert(k.to_string(), n);
        }
    }
    (c, run)
}

fn theirs(rel: &str) -> Iec104Counts {
    let o = oracle(rel);
    let m = &o["protocols"]["iec104"];
    let counts = |v: &Value| -> Counts {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect()
    };
    Iec104Counts {
        apci_types: counts(&m["apci_types"]),
        u_format_functions: counts(&m["u_format_functions"]),
        asdu_type_ids: counts(&m["asdu_type_ids"]),
        causes_of_transmission: counts(&m["causes_of_transmission"]),
    }
}

fn parity(rel: &str) -> Run {
    let (c, run) = ours(rel);
    let o = theirs(rel);
    assert_eq!(c.apci_types, o.apci_types, "APDU formats differ for {rel}");
    assert_eq!(
        c.u_format_functions, o.u_format_functions,
        "U-format functions differ for {rel}"
    );
    assert_eq!(
        c.asdu_type_ids, o.asdu_type_ids,
        "type ids differ for {rel}"
    );
    assert_eq!(
        c.causes_of_transmission, o.causes_of_transmission,
        "causes differ for {rel}"
    );
    run
}

/// Commands with and without time tag (select, then execute, then
/// termination), set-points, measured values, a general interrogation.
#[test]
fn diverse_commands_and_measurements() {
    let run = parity("iec104/090813_diverse.pcap");
    // The capture starts mid-connection: no anomaly for it.
    assert_eq!(run.of_type("anomaly").len(), 0);
    // The controlling station writes years since 1900 (109) into the
    // commands' CP56Time2a; the controlled station confirms with 09. The
    // request's time is flagged, the confirmation still mirrors the command.
    let ev = run.of_type("iec104");
    let timed: Vec<&&Value> = ev
        .iter()
        .filter(|e| e["ics"]["function"] == "c_sc_ta_1")
        .collect();
    assert_eq!(timed.len(), 2, "select and execute");
    for e in &timed {
        assert_eq!(e["iec104"]["flags"], serde_json::json!(["invalid_time"]));
    }
    assert_eq!(timed[1]["iec104"]["termination"]["cause"], 10);
}

/// One segment, four APDUs, each an M_SP_NA_1 with SQ=1 and 16 elements.
#[test]
fn four_apdus_in_one_segment_sq1() {
    let run = parity("iec104/IEC104_SQ.pcapng");
    let data: Vec<&Value> = run
        .of_type("iec104")
        .into_iter()
        .filter(|e| e["iec104"].get("data").is_some())
        .collect();
    assert_eq!(data.len(), 4);
    for e in data {
        let d = &e["iec104"]["data"];
        assert_eq!(d["sq"], true);
        assert_eq!(d["num_objects"], 16);
        // The default --max-values (32) holds all 16 consecutive objects.
        let o = d["objects"].as_array().unwrap();
        assert_eq!(o.len(), 16);
        let first = o[0]["ioa"].as_u64().unwrap();
        for (i, x) in o.iter().enumerate() {
            assert_eq!(x["ioa"].as_u64().unwrap(), first + i as u64);
        }
    }
}

/// IEC 104 next to Java RMI: interrogations every few seconds, TESTFR.
#[test]
fn interrogations_among_java_rmi() {
    let run = parity("iec104/JavaRMI_and_IEC_Misc.pcap");
    let ic: Vec<&Value> = run
        .of_type("iec104")
        .into_iter()
        .filter(|e| e["ics"]["function"] == "c_ic_na_1")
        .collect();
    // 21 interrogations, each one event with its ACTCON and ACTTERM.
    assert_eq!(ic.len(), 21);
    for e in ic {
        assert_eq!(e["ics"]["operation"], "read");
        assert_eq!(e["ics"]["status"], "ok");
        assert_eq!(e["iec104"]["confirmation"]["cause"], 7);
        assert_eq!(e["iec104"]["termination"]["cause"], 10);
    }
}

/// Wireshark's own robustness capture: junk before start bytes, APDU
/// lengths below 4, S- and U-frames of the wrong length, an I-frame
/// without ASDU, truncated ASDUs of reserved types 24 and 26, negative
/// confirmations, clock synchronisation. Counts agree exactly; the junk
/// is reported, never parsed.
#[test]
fn wireshark_dissector_robustness_file() {
    let run = parity("iec104/TestDissectIec104.pcap");
    assert!(run.anomalies("invalid_start_byte") > 0);
    assert!(run.anomalies("invalid_apdu_length") > 0);
    assert_eq!(run.anomalies("missing_asdu"), 1);
    assert_eq!(run.anomalies("truncated_asdu"), 4);
    let ev = run.of_type("iec104");
    let neg: Vec<&&Value> = ev
        .iter()
        .filter(|e| e["ics"]["status"] == "exception")
        .collect();
    // C_DC_NA_1 to IOA 15000 and C_SC_NA_1 (test bit) to IOA 22222 are
    // refused with negative ACTCONs.
    assert_eq!(neg.len(), 2);
    for e in &neg {
        assert_eq!(e["ics"]["exception_code"], 7);
        assert_eq!(e["iec104"]["confirmation"]["negative"], true);
    }
    let cs = ev
        .iter()
        .find(|e| e["ics"]["function"] == "c_cs_na_1")
        .unwrap();
    assert_eq!(cs["ics"]["operation"], "configuration");
    assert_eq!(
        cs["iec104"]["request"]["objects"][0]["time"],
        "2008-08-29T08:57:13.000"
    );
}
