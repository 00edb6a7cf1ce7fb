//! IEC 104 sessions on crafted captures with exact TCP sequencing: framing
//! (several APDUs per segment, one APDU across segments, junk, invalid
//! lengths, gaps), sequence tracking, transaction pairing, bounds, and the
//! schema of every event.

mod common;

use common::*;
use serde_json::Value;

/// APDU bytes, written by hand from 104 §5 (independent of the parser).
fn i_apdu(ns: u16, nr: u16, asdu: &[u8]) -> Vec<u8> {
    let mut v = vec![0x68, (4 + asdu.len()) as u8];
    v.extend_from_slice(&[((ns & 0x7f) << 1) as u8, (ns >> 7) as u8]);
    v.extend_from_slice(&[((nr & 0x7f) << 1) as u8, (nr >> 7) as u8]);
    v.extend_from_slice(asdu);
    v
}

fn s_apdu(nr: u16) -> Vec<u8> {
    vec![0x68, 4, 1, 0, ((nr & 0x7f) << 1) as u8, (nr >> 7) as u8]
}

fn u_apdu(octet1: u8) -> Vec<u8> {
    vec![0x68, 4, octet1, 0, 0, 0]
}

const STARTDT_ACT: u8 = 0x07;
const STARTDT_CON: u8 = 0x0b;
const TESTFR_ACT: u8 = 0x43;
const TESTFR_CON: u8 = 0x83;

/// An ASDU with one object (SQ=0): type, cause octet, common address 1,
/// the object's address and element octets.
fn asdu(type_id: u8, cot: u8, ioa: u32, element: &[u8]) -> Vec<u8> {
    let mut v = vec![type_id, 1, cot, 0, 1, 0];
    v.extend_from_slice(&ioa.to_le_bytes()[..3]);
    v.extend_from_slice(element);
    v
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value =
        serde_json::from_str(plantshield_events::EVENT_SCHEMA).expect("schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c
        .compile("urn:plantshield:events", &mut schemas)
        .expect("schema compiles");
    (schemas, idx)
}

fn run_with(conv: &Conversation, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    conv.write(&p);
    let mut args = vec!["--no-progress"];
    args.extend_from_slice(extra);
    args.push(p.to_str().unwrap());
    let r = analyze(&args);
    assert!(r.status.success(), "{}", r.stderr);
    let (schemas, idx) = schema();
    for e in &r.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
    r
}

fn run(conv: &Conversation) -> Run {
    run_with(conv, &[])
}

fn conv() -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 40200, ip4(10, 0, 0, 10), 2404);
    c.handshake();
    c
}

/// Transactions (events with `ics`), in output order.
fn tx(r: &Run) -> Vec<&Value> {
    r.of_type("iec104")
        .into_iter()
        .filter(|e| e.get("ics").is_some())
        .collect()
}

fn link(r: &Run) -> Value {
    let l: Vec<&Value> = r
        .of_type("iec104")
        .into_iter()
        .filter(|e| e.get("ics").is_none())
        .collect();
    assert_eq!(l.len(), 1, "one link record per connection");
    l[0]["iec104"]["link"].clone()
}

#[test]
fn startdt_interrogation_and_data_one_event_each() {
    let mut c = conv();
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    c.client(&i_apdu(0, 0, &asdu(100, 6, 0, &[20])));
    // ACTCON, two interrogated ASDUs and ACTTERM in one segment.
    let mut seg = i_apdu(0, 1, &asdu(100, 7, 0, &[20]));
    seg.extend(i_apdu(1, 1, &asdu(1, 20, 100, &[0x01])));
    seg.extend(i_apdu(
        2,
        1,
        &[
            13, 0x82, 20, 0, 1, 0, 200, 0, 0, 0, 0, 0x48, 0x41, 0, 0, 0, 0xc0, 0xbf, 0x80,
        ],
    ));
    seg.extend(i_apdu(3, 1, &asdu(100, 10, 0, &[20])));
    c.server(&seg);
    c.client(&s_apdu(4));
    c.client(&u_apdu(TESTFR_ACT)).server(&u_apdu(TESTFR_CON));
    c.fin();
    let r = run(&c);
    let t = tx(&r);
    let f: Vec<&str> = t
        .iter()
        .map(|e| e["ics"]["function"].as_str().unwrap())
        .collect();
    assert_eq!(
        f,
        vec!["startdt", "m_sp_na_1", "m_me_nc_1", "c_ic_na_1", "testfr"]
    );
    assert_eq!(t[0]["ics"]["function_code"], 257);
    assert_eq!(t[0]["ics"]["operation"], "session");
    assert_eq!(t[0]["iec104"]["format"], "u");
    assert_eq!(t[4]["ics"]["function_code"], 272);
    let ic = &t[3];
    assert_eq!(ic["ics"]["operation"], "read");
    assert_eq!(ic["ics"]["status"], "ok");
    assert_eq!(ic["iec104"]["request"]["objects"][0]["value"], 20);
    assert_eq!(ic["iec104"]["confirmation"]["cause_name"], "actcon");
    assert_eq!(ic["iec104"]["termination"]["cause_name"], "actterm");
    // Interrogated data: one event per ASDU, SQ=1 objects at consecutive
    // addresses, values and quality decoded.
    let me = &t[2]["iec104"];
    assert_eq!(me["data"]["cause_name"], "inrogen");
    assert_eq!(me["data"]["sq"], true);
    let o = me["data"]["objects"].as_array().unwrap();
    assert_eq!(o.len(), 2);
    assert_eq!(
        (o[0]["ioa"].as_u64(), o[1]["ioa"].as_u64()),
        (Some(200), Some(201))
    );
    assert_eq!(o[0]["value"], 12.5);
    assert_eq!(o[1]["value"], -1.5);
    assert_eq!(o[1]["quality"], serde_json::json!(["iv"]));
    assert_eq!(t[1]["iec104"]["data"]["objects"][0]["value"], 1);
    // S-frames are no events but are counted.
    let l = link(&r);
    assert_eq!(l["toserver"]["s"], 1);
    assert_eq!(l["toserver"]["i"], 1);
    assert_eq!(l["toserver"]["u"], 2);
    assert_eq!(l["toclient"]["i"], 4);
    assert_eq!(l["toclient"]["u"], 2);
    assert_eq!(r.of_type("anomaly").len(), 0);
    let flow = &r.of_type("flow")[0]["flow"];
    assert_eq!(flow["transactions"], 5);
}

#[test]
fn select_execute_termination_and_negative_confirmations() {
    let mut c = conv();
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    // Select (S/E=1) and execute of a single command ON to IOA 5000.
    c.client(&i_apdu(0, 0, &asdu(45, 6, 5000, &[0x81])))
        .server(&i_apdu(0, 1, &asdu(45, 7, 5000, &[0x81])));
    c.client(&i_apdu(1, 1, &asdu(45, 6, 5000, &[0x01])))
        .server(&i_apdu(1, 2, &asdu(45, 7, 5000, &[0x01])))
        .server(&i_apdu(2, 2, &asdu(45, 10, 5000, &[0x01])));
    // A double command refused with a negative ACTCON, then a mirror
    // saying why (unknown IOA).
    c.client(&i_apdu(2, 3, &asdu(46, 6, 6000, &[0x02])))
        .server(&i_apdu(3, 3, &asdu(46, 0x47, 6000, &[0x02])))
        .server(&i_apdu(4, 3, &asdu(46, 47, 6000, &[0x02])));
    // A set-point refused with only a negative ACTCON; the station moves on.
    let mut sp = vec![0, 0, 0x28, 0x42];
    sp.push(0x00);
    c.client(&i_apdu(3, 5, &asdu(50, 6, 7000, &sp)))
        .server(&i_apdu(5, 4, &asdu(50, 0x47, 7000, &sp)))
        .server(&i_apdu(6, 4, &asdu(3, 3, 10, &[0x02])));
    // A clock synchronisation answered late, then a reset process never answered.
    let time = [0xc8, 0x32, 0x39, 0x08, 0x1d, 0x08, 0x18];
    c.client(&i_apdu(4, 7, &asdu(103, 6, 0, &time)))
        .server(&i_apdu(7, 5, &asdu(103, 7, 0, &time)));
    c.client(&i_apdu(5, 8, &asdu(105, 6, 0, &[1])));
    c.fin();
    let r = run(&c);
    let t = tx(&r);
    let by = |f: &str| -> Vec<&Value> {
        t.iter()
            .copied()
            .filter(|e| e["ics"]["function"] == f)
            .collect()
    };
    let sc = by("c_sc_na_1");
    assert_eq!(sc.len(), 2, "select and execute are two transactions");
    assert_eq!(sc[0]["iec104"]["request"]["objects"][0]["select"], true);
    assert!(sc[0]["iec104"].get("termination").is_none());
    assert_eq!(sc[1]["iec104"]["request"]["objects"][0]["select"], false);
    assert_eq!(sc[1]["iec104"]["termination"]["cause"], 10);
    for e in &sc {
        assert_eq!(e["ics"]["operation"], "command");
        assert_eq!(e["ics"]["status"], "ok");
        assert_eq!(e["iec104"]["ioa"], 5000);
    }
    let dc = by("c_dc_na_1");
    assert_eq!(dc.len(), 1, "the mirror belongs to the refused command");
    assert_eq!(dc[0]["ics"]["status"], "exception");
    assert_eq!(dc[0]["ics"]["exception_code"], 47);
    assert_eq!(dc[0]["iec104"]["confirmation"]["negative"], true);
    assert_eq!(dc[0]["iec104"]["rejection"]["cause_name"], "unknown_ioa");
    let se = by("c_se_nc_1");
    assert_eq!(se.len(), 1);
    assert_eq!(se[0]["ics"]["exception_code"], 7);
    assert_eq!(se[0]["iec104"]["request"]["objects"][0]["value"], 42.0);
    assert_eq!(by("m_dp_na_1").len(), 1);
    let cs = by("c_cs_na_1");
    assert_eq!(cs[0]["ics"]["operation"], "configuration");
    assert_eq!(
        cs[0]["iec104"]["request"]["objects"][0]["time"],
        "2024-08-29T08:57:13.000"
    );
    let rp = by("c_rp_na_1");
    assert_eq!(rp[0]["ics"]["operation"], "mode_change");
    assert_eq!(rp[0]["ics"]["status"], "no_response");
    assert_eq!(rp[0]["iec104"]["response_missing"], true);
    assert_eq!(t.len(), 1 + 2 + 1 + 1 + 1 + 1 + 1);
    assert_eq!(r.of_type("anomaly").len(), 0);
}

#[test]
fn read_command_with_confirmation_and_answer() {
    let mut c = conv();
    c.client(&i_apdu(0, 0, &[102, 1, 5, 0, 1, 0, 0x6f, 0, 0]));
    c.server(&i_apdu(0, 1, &[102, 1, 7, 0, 1, 0, 0x6f, 0, 0]));
    // Spontaneous data in between, then the answer (cause req).
    c.server(&i_apdu(1, 1, &asdu(13, 3, 112, &[0, 0, 0x48, 0x41, 0])));
    c.server(&i_apdu(2, 1, &asdu(11, 5, 111, &[0x2e, 0xfb, 0])));
    c.fin();
    let r = run(&c);
    let t = tx(&r);
    assert_eq!(t.len(), 2);
    let rd = t
        .iter()
        .find(|e| e["ics"]["function"] == "c_rd_na_1")
        .unwrap();
    assert_eq!(rd["ics"]["status"], "ok");
    assert_eq!(rd["iec104"]["data"]["type_id"], 11);
    assert_eq!(rd["iec104"]["data"]["objects"][0]["value"], -1234);
    assert_eq!(rd["iec104"]["confirmation"]["cause"], 7);
}

#[test]
fn apdus_across_and_within_segments() {
    let mut c = conv();
    let mut all = u_apdu(STARTDT_ACT);
    for n in 0..20u16 {
        all.extend(i_apdu(n, 0, &asdu(100, 6, 0, &[20 + (n % 16) as u8])));
    }
    // Cut into awkward pieces: 1 byte, 2 bytes, 5, 7, ... so APDUs split
    // at every offset, headers included.
    let mut i = 0;
    let mut k = 1;
    while i < all.len() {
        let end = (i + k).min(all.len());
        c.client(&all[i..end]);
        i = end;
        k = k % 9 + 1;
    }
    c.fin();
    let r = run(&c);
    let t = tx(&r);
    assert_eq!(t.len(), 21);
    // Each interrogation was superseded by the next (same key) and ends
    // unanswered: every one is its own transaction, in order.
    let q: Vec<u64> = t
        .iter()
        .filter(|e| e["ics"]["function"] == "c_ic_na_1")
        .map(|e| {
            e["iec104"]["request"]["objects"][0]["value"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(q, (0..20).map(|n| 20 + n % 16).collect::<Vec<u64>>());
    let seqs: Vec<u64> = t
        .iter()
        .filter_map(|e| e["iec104"]["request"]["send_sequence"].as_u64())
        .collect();
    assert_eq!(seqs, (0..20).collect::<Vec<u64>>());
    assert_eq!(r.of_type("anomaly").len(), 0);
}

#[test]
fn junk_and_invalid_lengths_are_reported_and_skipped() {
    let mut c = conv();
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    let mut seg = vec![0x11, 0x22, 0x33];
    seg.extend(u_apdu(TESTFR_ACT));
    c.client(&seg).server(&u_apdu(TESTFR_CON));
    // A length of 2 and one of 254 (one run of skipped bytes: one
    // anomaly), then valid traffic.
    c.client(&[0x68, 2, 0xaa, 0xbb]);
    c.client(&[0x68, 254, 0, 0]);
    c.client(&i_apdu(0, 0, &asdu(45, 6, 1, &[0x01])))
        .server(&i_apdu(0, 1, &asdu(45, 7, 1, &[0x01])));
    // An I-format APDU without ASDU, and a truncated ASDU.
    c.client(&i_apdu(1, 1, &[]));
    c.client(&i_apdu(2, 1, &[24, 24]));
    c.fin();
    let r = run(&c);
    assert_eq!(r.anomalies("invalid_start_byte"), 1);
    assert_eq!(r.anomalies("invalid_apdu_length"), 1);
    assert_eq!(r.anomalies("missing_asdu"), 1);
    assert_eq!(r.anomalies("truncated_asdu"), 1);
    assert_eq!(r.anomalies("invalid_control_field"), 1);
    let t = tx(&r);
    let f: Vec<&str> = t
        .iter()
        .map(|e| e["ics"]["function"].as_str().unwrap())
        .collect();
    assert_eq!(f, vec!["startdt", "testfr", "reserved", "c_sc_na_1"]);
    let tr = t[2];
    assert_eq!(tr["ics"]["status"], "malformed");
    assert_eq!(tr["ics"]["function_code"], 24);
    assert_eq!(tr["iec104"]["data"]["truncated"], true);
    assert_eq!(link(&r)["toserver"]["skipped_bytes"], 3 + 4 + 4);
}

#[test]
fn sequence_gaps_and_acknowledgements_out_of_window() {
    let mut c = conv();
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    c.server(&i_apdu(0, 0, &asdu(1, 3, 1, &[1])));
    c.server(&i_apdu(1, 0, &asdu(1, 3, 1, &[0])));
    // N(S) 2 was never sent (or lost): a gap.
    c.server(&i_apdu(3, 0, &asdu(1, 3, 1, &[1])));
    c.client(&s_apdu(4));
    // The server sent N(S) up to 3: acknowledging 9 is out of window.
    c.client(&s_apdu(9));
    c.fin();
    let r = run(&c);
    assert_eq!(r.anomalies("send_sequence_gap"), 1);
    assert_eq!(r.anomalies("receive_sequence_out_of_window"), 1);
    assert_eq!(tx(&r).len(), 1 + 3);
    let l = link(&r);
    assert_eq!(l["toserver"]["s"], 2);
    assert_eq!(l["toclient"]["last_send_sequence"], 3);
}

#[test]
fn stream_gap_resynchronises_silently() {
    let mut c = conv();
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    c.server(&i_apdu(0, 0, &asdu(1, 3, 1, &[1])));
    // Forty server bytes are never captured; the client acknowledges past
    // them, so reassembly declares a gap.
    c.sseq = c.sseq.wrapping_add(40);
    c.server(&i_apdu(9, 0, &asdu(1, 3, 1, &[0])));
    c.client(&s_apdu(10));
    c.fin();
    let r = run(&c);
    assert_eq!(r.anomalies("gap"), 1);
    // After the gap, the N(S) jump from 0 to 9 is not a sequence anomaly.
    assert_eq!(r.anomalies("send_sequence_gap"), 0);
    assert_eq!(tx(&r).len(), 3);
}

#[test]
fn pending_requests_are_bounded_and_time_out() {
    let mut c = conv();
    for n in 0..10u16 {
        c.client(&i_apdu(n, 0, &asdu(45, 6, 100 + u32::from(n), &[0x01])));
    }
    // 31 s later a confirmation for the last one: the earlier ones timed out.
    c.wait(31_000_000_000);
    c.server(&i_apdu(0, 10, &asdu(45, 7, 109, &[0x01])));
    c.fin();
    let r = run_with(&c, &["--max-pending", "4"]);
    assert_eq!(r.anomalies("pending_table_full"), 6);
    let t = tx(&r);
    assert_eq!(t.len(), 11);
    let no_resp = t
        .iter()
        .filter(|e| e["ics"]["status"] == "no_response")
        .count();
    assert_eq!(no_resp, 10);
    // The late confirmation answers nothing pending any more.
    let lone = t
        .iter()
        .filter(|e| e["iec104"]["request_missing"] == true)
        .count();
    assert_eq!(lone, 1);
}

#[test]
fn objects_are_bounded_by_max_values() {
    let mut c = conv();
    // 100 single points with SQ=1.
    let mut a = vec![1, 0x80 | 100, 3, 0, 1, 0, 0, 0, 0];
    a.extend(std::iter::repeat_n(1u8, 100));
    c.server(&i_apdu(0, 0, &a));
    c.fin();
    let r = run_with(&c, &["--max-values", "10"]);
    let t = tx(&r);
    assert_eq!(t.len(), 1);
    let d = &t[0]["iec104"];
    assert_eq!(d["data"]["num_objects"], 100);
    assert_eq!(d["data"]["objects"].as_array().unwrap().len(), 10);
    assert_eq!(d["values_truncated"], true);
}

#[test]
fn detected_by_content_off_port_and_mismatch_on_port() {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 40300, ip4(10, 0, 0, 10), 12404);
    c.handshake();
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    c.client(&i_apdu(0, 0, &asdu(100, 6, 0, &[20])))
        .server(&i_apdu(0, 1, &asdu(100, 7, 0, &[20])));
    let r = run(&c);
    assert_eq!(tx(&r).len(), 2);
    assert_eq!(tx(&r)[0]["app_proto"], "iec104");
    assert_eq!(tx(&r)[0]["dest_port"], 12404);

    let mut c = conv();
    c.client(b"GET / HTTP/1.1\r\n\r\n");
    c.client(&u_apdu(STARTDT_ACT)).server(&u_apdu(STARTDT_CON));
    let r = run(&c);
    assert_eq!(r.anomalies("app_proto_mismatch"), 1);
    assert_eq!(tx(&r).len(), 1);
}

#[test]
fn reverse_connection_from_the_controlled_station() {
    // The device on port 2404 opens the connection: it is still the server.
    let mut c = Conversation::new(ip4(10, 0, 0, 10), 2404, ip4(10, 0, 0, 20), 40400);
    c.handshake();
    c.server(&u_apdu(STARTDT_ACT)).client(&u_apdu(STARTDT_CON));
    c.server(&i_apdu(0, 0, &asdu(45, 6, 1, &[0x81])))
        .client(&i_apdu(0, 1, &asdu(45, 7, 1, &[0x81])));
    let r = run(&c);
    let t = tx(&r);
    assert_eq!(t.len(), 2);
    for e in &t {
        assert_eq!(e["dest_port"], 2404);
        assert_eq!(e["ics"]["status"], "ok");
    }
}

#[test]
fn confirmations_must_mirror_the_command_time_tags_aside() {
    let mut c = conv();
    // C_SC_TA_1: the station confirms with its own time: no finding.
    let mut cmd = vec![0x81];
    cmd.extend_from_slice(&[0x08, 0x00, 0x17, 0x13, 0x0d, 0x08, 0x09]);
    let mut con = vec![0x81];
    con.extend_from_slice(&[0x10, 0x27, 0x17, 0x13, 0x0d, 0x08, 0x09]);
    c.client(&i_apdu(0, 0, &asdu(58, 6, 4501, &cmd)))
        .server(&i_apdu(0, 1, &asdu(58, 7, 4501, &con)));
    // C_SE_NB_1: confirmed with another value than commanded.
    c.client(&i_apdu(1, 1, &asdu(49, 6, 4600, &[100, 0, 0x80])))
        .server(&i_apdu(1, 2, &asdu(49, 7, 4600, &[200, 0, 0x80])));
    let r = run(&c);
    let t = tx(&r);
    assert_eq!(t.len(), 2);
    assert!(t[0]["iec104"].get("flags").is_none(), "{}", t[0]);
    assert_eq!(
        t[1]["iec104"]["flags"],
        serde_json::json!(["confirmation_mismatch"])
    );
    assert_eq!(t[1]["iec104"]["request"]["objects"][0]["value"], 100);
}
