//! Parity with Wireshark: for every DNP3 capture of the shared corpus, what
//! our events say was on the wire equals what tshark counted in `oracle/`:
//! application function codes (one per application fragment), fragments
//! with the UNS bit, link function codes (one per link frame, primary and
//! secondary apart) and object headers by group and variation.
//!
//! An event stands for several PDUs: its request, the outstation's
//! authentication challenge and the master's reply, every fragment of its
//! response (`fragments`), and the master's confirms (`confirm.count`). Link
//! frames are counted through `link.frames` of each message. Link-service
//! events stand for their primary and secondary frames.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// Counts in the oracle's terms.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Counts {
    /// Application function code -> fragments.
    al: BTreeMap<u64, u64>,
    /// Fragments (requests, responses, confirms) with UNS set.
    uns: u64,
    /// Primary link function code -> frames.
    link_primary: BTreeMap<u64, u64>,
    /// Secondary link function code -> frames.
    link_secondary: BTreeMap<u64, u64>,
    /// `0xGGVV` -> object headers.
    objects: BTreeMap<String, u64>,
}

fn add<K: Ord>(m: &mut BTreeMap<K, u64>, k: K, n: u64) {
    if n > 0 {
        *m.entry(k).or_default() += n;
    }
}

fn count_link(c: &mut Counts, link: &Value, frames: u64) {
    let fc = link["function_code"].as_u64().unwrap();
    if link["prm"] == true {
        add(&mut c.link_primary, fc, frames);
    } else {
        add(&mut c.link_secondary, fc, frames);
    }
}

/// Adds one application message (`fragments` fragments of one function).
fn count_message(c: &mut Counts, m: &Value) {
    let fragments = m["fragments"].as_u64().unwrap_or(1);
    let fc = m["function_code"].as_u64().unwrap();
    add(&mut c.al, fc, fragments);
    if m["control"]["uns"] == true {
        c.uns += fragments;
    }
    count_link(c, &m["link"], m["link"]["frames"].as_u64().unwrap());
    for o in m["objects"].as_array().into_iter().flatten() {
        let key = format!(
            "0x{:02x}{:02x}",
            o["group"].as_u64().unwrap(),
            o["variation"].as_u64().unwrap()
        );
        add(&mut c.objects, key, 1);
    }
}

fn ours(run: &Run) -> Counts {
    let mut c = Counts::default();
    for e in run.of_type("dnp3") {
        let d = &e["dnp3"];
        assert!(
            d.get("values_truncated").is_none(),
            "parity needs every object header: {e}"
        );
        // Counting fragments by their first one's function and UNS bit is
        // exact only while no fragment differs.
        for f in d["flags"].as_array().into_iter().flatten() {
            assert!(
                f != "uns_mismatch" && f != "fragment_function_mismatch",
                "{e}"
            );
        }
        if d.get("link_function_code").is_some() {
            for k in ["request", "response"] {
                if let Some(m) = d.get(k) {
                    count_link(&mut c, &m["link"], 1);
                }
            }
            continue;
        }
        for k in ["request", "challenge", "challenge_reply", "response"] {
            if let Some(m) = d.get(k) {
                count_message(&mut c, m);
            }
        }
        if let Some(cf) = d.get("confirm") {
            let n = cf["count"].as_u64().unwrap();
            add(&mut c.al, 0, n);
            if cf["control"]["uns"] == true {
                c.uns += n;
            }
            count_link(&mut c, &cf["link"], n);
        }
    }
    c
}

fn theirs(rel: &str) -> Counts {
    let o = oracle(rel);
    let d = &o["protocols"]["dnp3"];
    let codes = |k: &str| -> BTreeMap<u64, u64> {
        d[k].as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v["count"].as_u64().unwrap()))
            .collect()
    };
    Counts {
        al: codes("al_function_codes"),
        uns: d["unsolicited_flag_set"].as_u64().unwrap(),
        link_primary: codes("link_primary_function_codes"),
        link_secondary: codes("link_secondary_function_codes"),
        objects: d["object_headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect(),
    }
}

fn run(rel: &str) -> Run {
    let r = analyze(&[
        "--no-progress",
        "--max-values",
        "100000",
        pcaps().join(rel).to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", r.stderr);
    r
}

/// Our counts equal the oracle's; returns the run for further checks.
fn parity(rel: &str) -> Run {
    let r = run(rel);
    assert_eq!(
        ours(&r),
        theirs(rel),
        "DNP3 PDUs differ from Wireshark for {rel}"
    );
    r
}

fn statuses(r: &Run) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in r.of_type("dnp3") {
        *m.entry(e["ics"]["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

fn anomaly_codes(r: &Run) -> Vec<String> {
    r.of_type("anomaly")
        .iter()
        .map(|a| a["anomaly"]["event"].as_str().unwrap().to_string())
        .collect()
}

/// Wireshark 4.0.17 does not dissect the objects of authentication
/// fragments (functions 32 and 131): it shows their application header
/// only. We parse them: the challenge carries one group 120 variation 1
/// object (qualifier 0x5B), the master's reply one group 120 variation 2.
#[test]
fn auth_control_challenge_response() {
    let rel = "dnp3/auth_control_challenge_response.pcap";
    let r = run(rel);
    let mut want = theirs(rel);
    assert_eq!(want.objects.insert("0x7801".into(), 1), None);
    assert_eq!(want.objects.insert("0x7802".into(), 1), None);
    assert_eq!(ours(&r), want);
    // One transaction: the direct operate, challenged and answered.
    let ev = r.of_type("dnp3");
    assert_eq!(ev.len(), 1);
    let d = &ev[0]["dnp3"];
    assert_eq!(d["function"], "direct_operate");
    assert_eq!(d["challenge"]["function"], "authenticate_response");
    assert_eq!(d["challenge_reply"]["function"], "authenticate_request");
    assert_eq!(d["response"]["crob"][0]["status_name"], "success");
    assert_eq!(ev[0]["ics"]["operation"], "command");
    assert!(anomaly_codes(&r).is_empty());
}

#[test]
fn cold_restart_and_response() {
    let r = parity("dnp3/cold_restart_and_response.pcap");
    let ev = r.of_type("dnp3");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["ics"]["operation"], "mode_change");
    assert!(anomaly_codes(&r).is_empty());
}

/// Two control relay output blocks are announced, one is present: the
/// object walk stops with an anomaly and the transaction is malformed; the
/// header itself still counts (as in Wireshark) and the whole block in it
/// is decoded.
#[test]
fn direct_operate_crob_malformed_but_good_crc() {
    let r = parity("dnp3/direct_operate_crob_malform_but_good_crc.pcap");
    assert_eq!(anomaly_codes(&r), vec!["object_data_truncated"]);
    let ev = r.of_type("dnp3");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["ics"]["status"], "malformed");
    assert_eq!(ev[0]["dnp3"]["response_missing"], true);
    assert_eq!(ev[0]["dnp3"]["request"]["crob"][0]["index"], 1);
    assert_eq!(ev[0]["dnp3"]["request"]["crob"][0]["op_type"], "pulse_off");
}

#[test]
fn directoperate_and_response() {
    let r = parity("dnp3/directoperate_and_response.pcap");
    let ev = r.of_type("dnp3");
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0]["dnp3"]["request"]["crob"].as_array().unwrap().len(),
        1
    );
    assert!(anomaly_codes(&r).is_empty());
}

/// Wireshark 4.0.17 mishandles the transport sequence number wrapping from
/// 63 to 0; §8.2 counts segments modulo 64, and so do we. Two kinds of
/// difference follow (tshark frame numbers):
///
/// 1. Fragments whose segments straddle the wrap are not reassembled by
///    Wireshark: the responses in frames 17-18, 113-114 and 209-210 (FIR
///    seq 63, FIN seq 0; objects g1v2, g10v2, g30v2, g40v2 each) and the
///    unsolicited response in frames 808-810 (seq 62, 63, 0; object g2v2).
///    We count three more responses, one more unsolicited response (UNS
///    set) and their object headers.
/// 2. Frame 311 is a single-segment response (transport 0xC0: FIR, FIN,
///    seq 0 after 63 in frame 309; application C8 81 00 00 0C 01 17 ...:
///    a response, sequence 8, one CROB). Wireshark reports a confirm with
///    sequence 0 and no object; we report the response and its CROB.
#[test]
fn dnp3_example_transport_sequence_wrap() {
    let rel = "dnp3/dnp3_example.pcap";
    let r = run(rel);
    let mut want = theirs(rel);
    *want.al.get_mut(&129).unwrap() += 3 + 1;
    *want.al.get_mut(&130).unwrap() += 1;
    assert_eq!(want.al.remove(&0), Some(1));
    want.uns += 1;
    for k in ["0x0102", "0x0a02", "0x1e02", "0x2802"] {
        *want.objects.get_mut(k).unwrap() += 3;
    }
    *want.objects.get_mut("0x0202").unwrap() += 1;
    *want.objects.get_mut("0x0c01").unwrap() += 1;
    assert_eq!(ours(&r), want);
    assert!(anomaly_codes(&r).is_empty(), "{:?}", anomaly_codes(&r));
}

/// Two kinds of fragment in this capture end in a reserved qualifier (0xED,
/// range code 0xD); tshark frame numbers:
///
/// 1. Frames 154 and 156 (disable unsolicited: g60v2, g60v3, then g60v4
///    with qualifier 0xED): Wireshark lists the g60v4 header before it
///    rejects the qualifier; we report the reserved qualifier and list the
///    headers before it.
/// 2. Frames 163, 166, 174 and 176 (stop application with g60v2, g1v7 and
///    g60v4/0xED): Wireshark does not dissect objects of stop application
///    requests (the function takes none); we list the two headers before
///    the reserved qualifier.
///
/// Frame 19 starts with 0x05 0x05: neither Wireshark nor we take it for a
/// link frame (we report it).
#[test]
fn dnp3_test_data_part1() {
    let rel = "dnp3/dnp3_test_data_part1.pcap";
    let r = run(rel);
    let mut want = theirs(rel);
    *want.objects.get_mut("0x3c04").unwrap() -= 2;
    *want.objects.get_mut("0x3c02").unwrap() += 4;
    assert_eq!(want.objects.insert("0x0107".into(), 4), None);
    assert_eq!(ours(&r), want);
    let mut codes = anomaly_codes(&r);
    codes.sort();
    let mut expected = vec!["reserved_qualifier"; 6];
    expected.insert(0, "invalid_start_octets");
    assert_eq!(codes, expected);
    assert_eq!(statuses(&r).get("malformed"), Some(&6));
}

#[test]
fn dnp3_udp_read() {
    let r = parity("dnp3/dnp3_udp_read.pcap");
    // The read's response spans two fragments of nine and seven segments.
    let reads: Vec<_> = r
        .of_type("dnp3")
        .into_iter()
        .filter(|e| e["dnp3"]["function"] == "read")
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["dnp3"]["response"]["fragments"], 2);
    assert_eq!(reads[0]["dnp3"]["response"]["link"]["frames"], 16);
    assert_eq!(reads[0]["proto"], "UDP");
    assert!(anomaly_codes(&r).is_empty());
}

#[test]
fn dnp3_udp_select_operate() {
    let r = parity("dnp3/dnp3_udp_select_operate.pcap");
    let f: Vec<_> = r
        .of_type("dnp3")
        .iter()
        .map(|e| e["ics"]["function"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(f, vec!["select", "operate", "read", "request_link_status"]);
    assert!(anomaly_codes(&r).is_empty());
}

#[test]
fn file_read() {
    let r = parity("dnp3/file_read.pcap");
    let ops: Vec<_> = r
        .of_type("dnp3")
        .iter()
        .map(|e| e["ics"]["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ops, vec!["file", "read", "file"]);
}

#[test]
fn full_exchange() {
    let r = parity("dnp3/full_exchange.pcap");
    assert!(anomaly_codes(&r).is_empty());
}

#[test]
fn select_operate_and_responses() {
    let r = parity("dnp3/select_operate_and_responses.pcap");
    assert_eq!(r.of_type("dnp3").len(), 2);
    assert!(anomaly_codes(&r).is_empty());
}

#[test]
fn unsolicited_response_and_confirm() {
    let r = parity("dnp3/unsolcited_response_and_confirm.pcap");
    let ev = r.of_type("dnp3");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["dnp3"]["function"], "unsolicited_response");
    assert_eq!(ev[0]["dnp3"]["confirm"]["count"], 1);
    assert!(ev[0]["dnp3"].get("request_missing").is_none());
    assert_eq!(ev[0]["ics"]["operation"], "read");
}

/// The QUT substation capture records an ARP-spoofing man in the middle
/// from a mirror port: most DNP3 segments appear twice, once as sent and
/// once as the attacker forwards them, and the endpoints retransmit. We
/// deliver every byte of a TCP stream once (the first copy; a later copy
/// with other bytes is an `overlap_different_data` anomaly); Wireshark's
/// sequence analysis dissects some copies again and skips others. The
/// differences, established from the tshark dissection of every segment:
///
/// 1. 43 segments are exact copies (same stream, direction, sequence number
///    and bytes) of a segment Wireshark already dissected, and it dissects
///    them again (e.g. frame 59493 repeats 59488, 59502 repeats 59496):
///    16 reads, 15 responses, 12 confirms, one link frame each; object
///    headers g60v2, g60v3, g60v4 12 each, g2v1 7, g60v1, g1v2, g20v2 1
///    each.
/// 2. In some streams the attacker forwards the outstation's responses
///    modified and at shifted sequence numbers (frame 59670: 35 bytes at
///    relative sequence 129; the attacker's copy, frame 59672: 36 bytes at
///    130, other values). The first-copy stream then holds bytes of both
///    versions: we lose the framing there (39 `invalid_start_octets`
///    anomalies) and pick up again at the next valid link header, while
///    Wireshark dissects from one copy or the other. Per stream (client
///    port), Wireshark has responses we do not in 56581 (1), 56593 (4),
///    56624 (5) and 56627 (6), unsolicited responses in 56624 (2) and a
///    confirm in 56628; we have responses it does not in 56603 (2),
///    unsolicited responses in 56621 and 56628 and an integrity read in
///    56612. Net: 14 responses (with four g1v2, four g20v2 and one g2v1
///    headers) and one confirm more for Wireshark, one read (g60v1-v4)
///    more for us.
#[test]
fn qut_mitm_frequent_attacker_mixed() {
    let rel = "mixed/qut_dnp3_mitm_testing_frequent_attacker.pcap";
    let r = run(rel);
    let mut want = theirs(rel);
    let sub = |m: &mut BTreeMap<u64, u64>, k: u64, n: i64| {
        let v = m.get_mut(&k).unwrap();
        *v = (*v as i64 - n) as u64;
    };
    // 1. Exact copies dissected twice.
    sub(&mut want.al, 1, 16);
    sub(&mut want.al, 129, 15);
    sub(&mut want.al, 0, 12);
    sub(&mut want.link_primary, 4, 43);
    let mut sub_obj = |k: &str, n: i64| {
        let v = want.objects.get_mut(k).unwrap();
        *v = (*v as i64 - n) as u64;
    };
    for (k, n) in [
        ("0x3c02", 12),
        ("0x3c03", 12),
        ("0x3c04", 12),
        ("0x0201", 7),
        ("0x3c01", 1),
        ("0x0102", 1),
        ("0x1402", 1),
    ] {
        sub_obj(k, n);
    }
    // 2. Streams holding both versions of the attacker's rewrites.
    for (k, n) in [
        ("0x0102", 4),
        ("0x1402", 4),
        ("0x0201", 1),
        ("0x3c01", -1),
        ("0x3c02", -1),
        ("0x3c03", -1),
        ("0x3c04", -1),
    ] {
        sub_obj(k, n);
    }
    sub(&mut want.al, 129, 14);
    sub(&mut want.al, 0, 1);
    sub(&mut want.al, 1, -1);
    sub(&mut want.link_primary, 4, 14);
    assert_eq!(ours(&r), want);
    assert_eq!(r.anomalies("overlap_different_data"), 901);
    assert_eq!(r.anomalies("invalid_start_octets"), 39);
}
