//! S7comm and S7comm-plus sessions on crafted captures: framing across
//! segments and COTP data units, resynchronisation, pairing rules, limits,
//! and the S7comm-plus rules for sessions, downloads and start/stop. Every
//! event of every crafted capture validates against the JSON Schema.

mod common;

use common::*;
use serde_json::{json, Value};

fn tpkt(cotp_and_data: &[u8]) -> Vec<u8> {
    let mut v = vec![3, 0];
    v.extend_from_slice(&((cotp_and_data.len() + 4) as u16).to_be_bytes());
    v.extend_from_slice(cotp_and_data);
    v
}

/// A COTP DT TPDU in a TPKT.
fn dt(payload: &[u8], eot: bool) -> Vec<u8> {
    let mut v = vec![2, 0xf0, if eot { 0x80 } else { 0 }];
    v.extend_from_slice(payload);
    tpkt(&v)
}

/// An S7comm PDU.
fn s7(rosctr: u8, pdu_ref: u16, param: &[u8], data: &[u8], error: Option<(u8, u8)>) -> Vec<u8> {
    let mut v = vec![0x32, rosctr, 0, 0];
    v.extend_from_slice(&pdu_ref.to_be_bytes());
    v.extend_from_slice(&(param.len() as u16).to_be_bytes());
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    if let Some((c, e)) = error {
        v.extend_from_slice(&[c, e]);
    }
    v.extend_from_slice(param);
    v.extend_from_slice(data);
    v
}

/// Read Var of DB`db`.DBB`byte`, `n` bytes.
fn read_db(pdu_ref: u16, db: u16, byte: u32, n: u16) -> Vec<u8> {
    let a = byte << 3;
    let mut p = vec![0x04, 1, 0x12, 0x0a, 0x10, 0x02];
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(&db.to_be_bytes());
    p.extend_from_slice(&[0x84, (a >> 16) as u8, (a >> 8) as u8, a as u8]);
    s7(1, pdu_ref, &p, &[], None)
}

fn read_ack(pdu_ref: u16, value: &[u8]) -> Vec<u8> {
    let mut d = vec![0xff, 0x04];
    d.extend_from_slice(&((value.len() * 8) as u16).to_be_bytes());
    d.extend_from_slice(value);
    s7(3, pdu_ref, &[0x04, 1], &d, Some((0, 0)))
}

fn cr(called: [u8; 2]) -> Vec<u8> {
    let mut v = vec![
        17, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2,
    ];
    v.extend_from_slice(&called);
    tpkt(&v)
}

fn cc() -> Vec<u8> {
    tpkt(&[
        17, 0xd0, 0, 1, 0, 2, 0, 0xc0, 1, 0x0a, 0xc1, 2, 1, 0, 0xc2, 2, 1, 2,
    ])
}

fn conv() -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 7, 20), 40100, ip4(10, 0, 7, 10), 102);
    c.handshake();
    c
}

fn run(conv: &Conversation) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    conv.write(&p);
    let r = analyze(&["--no-progress", p.to_str().unwrap()]);
    assert!(r.status.success(), "{}", r.stderr);
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("urn:plantshield:events", doc)
        .unwrap();
    let idx = compiler
        .compile("urn:plantshield:events", &mut schemas)
        .unwrap();
    for e in &r.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
    r
}

fn s7events(r: &Run) -> Vec<&Value> {
    r.of_type("s7comm")
}

/// A PDU split over three COTP DTs, a TPKT split over two TCP segments,
/// two TPKTs in one segment, and an empty DT without EOT between them.
#[test]
fn framing_across_segments_and_data_units() {
    let mut c = conv();
    c.client(&cr([1, 2])).server(&cc());
    let req = read_db(7, 3, 4, 2);
    let (a, rest) = req.split_at(5);
    let (b, d) = rest.split_at(9);
    let mut seg = dt(a, false);
    seg.extend_from_slice(&dt(b, false));
    c.client(&seg);
    let last = dt(d, true);
    c.client(&last[..3]).client(&last[3..]);
    let mut resp = dt(&read_ack(7, &[0xab, 0xcd]), true);
    resp.extend_from_slice(&dt(&[], false));
    c.server(&resp);
    c.client(&dt(&read_db(8, 3, 6, 1), true))
        .server(&dt(&read_ack(8, &[0x01]), true));
    let r = run(&c);
    let e = s7events(&r);
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(e[0]["s7comm"]["function"], "cotp_connect");
    assert_eq!(e[0]["s7comm"]["slot"], 2);
    assert_eq!(e[1]["s7comm"]["items"][0]["address"], "DB3.4.0");
    assert_eq!(e[1]["s7comm"]["items"][0]["value"], "abcd");
    assert_eq!(e[1]["s7comm"]["rack"], 0);
    assert_eq!(e[2]["s7comm"]["items"][0]["value"], "01");
    assert!(e.iter().all(|x| x["ics"]["status"] == "ok"));
    assert!(
        r.of_type("anomaly").is_empty(),
        "{:?}",
        r.of_type("anomaly")
    );
}

/// Invalid TPKT headers and a stream gap: reported, and the session picks
/// up at the next TPKT.
#[test]
fn invalid_tpkt_and_gap_then_resync() {
    let mut c = conv();
    c.client(&dt(&read_db(1, 1, 0, 1), true))
        .server(&dt(&read_ack(1, &[9]), true));
    // Version 4, then garbage, then a valid TPKT in the same segment.
    let mut bad = vec![4, 0, 0, 9, 1, 2, 3, 4, 5, 0x55, 0x66];
    bad.extend_from_slice(&dt(&read_db(2, 1, 1, 1), true));
    c.client(&bad).server(&dt(&read_ack(2, &[8]), true));
    // A lost request: only its answer is seen.
    let lost = dt(&read_db(3, 1, 2, 1), true);
    c.cseq += lost.len() as u32;
    c.server(&dt(&read_ack(3, &[7]), true));
    c.client(&dt(&read_db(4, 1, 3, 1), true))
        .server(&dt(&read_ack(4, &[6]), true));
    let r = run(&c);
    let e = s7events(&r);
    let values: Vec<&Value> = e.iter().map(|x| &x["s7comm"]["items"]).collect();
    assert_eq!(e.len(), 4);
    assert_eq!(values[0][0]["value"], "09");
    assert_eq!(values[1][0]["value"], "08");
    assert_eq!(e[2]["s7comm"]["request_missing"], true);
    assert_eq!(e[2]["s7comm"]["items"][0]["value"], "07");
    assert_eq!(values[3][0]["value"], "06");
    assert_eq!(r.anomalies("invalid_tpkt"), 1);
    assert_eq!(r.anomalies("gap"), 1);
}

/// Jobs sent by the PLC (download block) pair with Ack-Data from the
/// programming device; unanswered jobs end as no_response; a repeated PDU
/// reference supersedes; the pending table is bounded.
#[test]
fn pairing_rules_and_limits() {
    let mut c = conv();
    // PLC -> PG: Download block of DB1, answered by the PG.
    let mut p = vec![0x1b, 0, 0, 0, 0, 0, 0, 0, 9];
    p.extend_from_slice(b"_0A00001P");
    c.server(&dt(&s7(1, 0x6501, &p, &[], None), true));
    let mut d = vec![0, 4, 0, 0xfb];
    d.extend_from_slice(&[1, 2, 3, 4]);
    c.client(&dt(&s7(3, 0x6501, &[0x1b, 0], &d, Some((0, 0))), true));
    // A job never answered, then the same reference again (answered).
    c.client(&dt(&read_db(0x10, 1, 0, 1), true));
    c.client(&dt(&read_db(0x10, 1, 1, 1), true))
        .server(&dt(&read_ack(0x10, &[5]), true));
    // 70 pipelined jobs against a cap of 64.
    for i in 0..70u16 {
        c.client(&dt(&read_db(0x100 + i, 2, u32::from(i), 1), true));
    }
    let r = run(&c);
    let e = s7events(&r);
    assert_eq!(e[0]["s7comm"]["function"], "download_block");
    assert_eq!(e[0]["s7comm"]["block_type"], "DB");
    assert_eq!(e[0]["s7comm"]["block_data_length"], 4);
    assert_eq!(e[0]["ics"]["operation"], "program_download");
    assert_eq!(e[0]["ics"]["status"], "ok");
    // The superseded job, then its successor with the answer.
    assert_eq!(e[1]["ics"]["status"], "no_response");
    assert_eq!(e[1]["s7comm"]["items"][0]["byte_address"], 0);
    assert_eq!(e[2]["s7comm"]["items"][0]["value"], "05");
    assert_eq!(e.len(), 3 + 70);
    assert_eq!(
        e.iter()
            .filter(|x| x["ics"]["status"] == "no_response")
            .count(),
        71
    );
    assert_eq!(r.anomalies("pending_table_full"), 6);
}

/// A connection request refused with DR is one event with the reason; an
/// unknown protocol id inside COTP data is reported, not parsed; a
/// truncated PDU is malformed.
#[test]
fn refused_connection_unknown_payload_and_malformed_pdu() {
    let mut c = conv();
    c.client(&cr([1, 0x24]));
    c.server(&tpkt(&[6, 0x80, 0, 1, 0, 2, 136]));
    let r = run(&c);
    let e = s7events(&r);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["ics"]["status"], "exception");
    assert_eq!(e[0]["ics"]["exception_code"], 136);
    assert_eq!(e[0]["s7comm"]["rack"], 1);
    assert_eq!(e[0]["s7comm"]["slot"], 4);
    assert_eq!(e[0]["s7comm"]["cotp"]["disconnect_reason_name"], "refused");

    let mut c = conv();
    c.client(&cr([1, 2])).server(&cc());
    c.client(&dt(&read_db(1, 1, 0, 1), true));
    c.client(&dt(&[0x0d, 1, 2, 3], true));
    // Header says 14 parameter octets; only 4 follow.
    let mut short = s7(1, 9, &[0x04, 1, 0x12, 0x0a], &[], None);
    short[7] = 14;
    c.client(&dt(&short, true));
    c.server(&dt(&read_ack(1, &[3]), true));
    let r = run(&c);
    let e = s7events(&r);
    assert_eq!(e.len(), 3, "{e:?}");
    assert_eq!(e[1]["s7comm"]["items"][0]["value"], "03");
    assert_eq!(r.anomalies("unknown_protocol_id"), 1);
    let bad = e
        .iter()
        .find(|x| x["s7comm"]["pdu_reference"] == 9)
        .unwrap();
    assert_eq!(bad["ics"]["status"], "malformed");
    assert!(bad["s7comm"]["flags"]
        .as_array()
        .unwrap()
        .contains(&json!("length_mismatch")));
    assert_eq!(r.anomalies("malformed_pdu"), 1);
}

/// Bytes on port 102 that are ISO transport but not S7 (an ISO session
/// SPDU, as MMS sends) and plain junk are not S7 events; S7comm on another
/// port is found by content.
#[test]
fn detection_by_port_and_content() {
    let mut c = conv();
    c.client(&tpkt(&[2, 0xf0, 0x80, 0x0d, 0x02, 0x03]));
    c.client(b"GET / HTTP/1.1\r\n\r\n");
    let r = run(&c);
    assert!(s7events(&r).is_empty());
    assert_eq!(r.anomalies("app_proto_mismatch"), 1);

    let mut c = Conversation::new(ip4(10, 0, 7, 20), 40100, ip4(10, 0, 7, 10), 10102);
    c.handshake();
    c.client(&cr([1, 2])).server(&cc());
    c.client(&dt(&read_db(1, 5, 0, 2), true))
        .server(&dt(&read_ack(1, &[1, 2]), true));
    let r = run(&c);
    let e = s7events(&r);
    assert_eq!(e.len(), 2);
    assert_eq!(e[1]["dest_port"], 10102);
    assert_eq!(e[1]["app_proto"], "s7comm");
}

/// SZL answers in several data units are one transaction; a push is its own
/// event; the password is never logged.
#[test]
fn userdata_data_units_pushes_and_password() {
    fn ud(
        pdu_ref: u16,
        kind: u8,
        group: u8,
        sub: u8,
        seq: u8,
        ext: Option<(u8, u8)>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut p = vec![0x00, 0x01, 0x12];
        p.push(if ext.is_some() { 8 } else { 4 });
        p.push(if kind == 8 { 0x12 } else { 0x11 });
        p.extend_from_slice(&[kind << 4 | group, sub, seq]);
        if let Some((dur, last)) = ext {
            p.extend_from_slice(&[dur, last, 0, 0]);
        }
        s7(7, pdu_ref, &p, data, None)
    }
    fn data(payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0xff, 0x09];
        d.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        d.extend_from_slice(payload);
        d
    }
    // SZL 0x001C index 0, two records of 34 octets split over two units.
    let mut answer = vec![0x00, 0x1c, 0, 0, 0, 34, 0, 2];
    let mut rec = vec![0, 1];
    rec.extend_from_slice(b"Plant line 4");
    rec.resize(34, 0);
    answer.extend_from_slice(&rec);
    let mut rec = vec![0, 7];
    rec.extend_from_slice(b"CPU 1516-3 PN/DP");
    rec.resize(34, 0);
    answer.extend_from_slice(&rec);
    let (part1, part2) = answer.split_at(40);
    let mut c = conv();
    c.client(&dt(
        &ud(0x100, 4, 4, 1, 0, None, &data(&[0, 0x1c, 0, 0])),
        true,
    ));
    c.server(&dt(
        &ud(0x100, 8, 4, 1, 5, Some((0x33, 1)), &data(part1)),
        true,
    ));
    c.client(&dt(
        &ud(0x200, 4, 4, 1, 5, Some((0, 0)), &[0x0a, 0, 0, 0]),
        true,
    ));
    c.server(&dt(
        &ud(0x200, 8, 4, 1, 5, Some((0x33, 0)), &data(part2)),
        true,
    ));
    // A diagnostic message pushed by the CPU.
    c.server(&dt(
        &ud(0, 0, 4, 3, 0, None, &data(&[0x43, 0x04, 0, 0])),
        true,
    ));
    // The password, obfuscated.
    c.client(&dt(
        &ud(
            0x300,
            4,
            5,
            1,
            0,
            None,
            &data(&[0x21, 0x3a, 0x1b, 0x1d, 0x6e, 0x68, 0x1b, 0x1d]),
        ),
        true,
    ));
    c.server(&dt(
        &ud(0x300, 8, 5, 1, 1, Some((0, 0)), &[0x0a, 0, 0, 0]),
        true,
    ));
    let r = run(&c);
    let e = s7events(&r);
    assert_eq!(e.len(), 3, "{e:?}");
    let szl = &e[0]["s7comm"];
    assert_eq!(szl["request_pdus"], 2);
    assert_eq!(szl["response_pdus"], 2);
    assert_eq!(
        szl["szl"]["component_identification"]["automation_system_name"],
        "Plant line 4"
    );
    assert_eq!(
        szl["szl"]["component_identification"]["module_type_name"],
        "CPU 1516-3 PN/DP"
    );
    assert!(szl.get("flags").is_none(), "{szl}");
    assert_eq!(e[1]["s7comm"]["userdata_type"], "push");
    assert_eq!(e[1]["s7comm"]["sub_function_name"], "diagnostic_message");
    assert!(e[1]["s7comm"].get("response_missing").is_none());
    assert_eq!(e[2]["s7comm"]["password_sent"], true);
    assert!(!r.events.iter().any(|x| x.to_string().contains("213a1b1d")));
}

/// S7comm-plus: a PDU in two fragments, the session opened and closed, a
/// download transaction, a CPU stop, an error return value, a notification.
#[test]
fn s7comm_plus_rules() {
    fn frag(version: u8, data: &[u8], last: bool) -> Vec<u8> {
        let mut v = vec![0x72, version];
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        if last {
            v.extend_from_slice(&[0x72, version, 0, 0]);
        }
        v
    }
    fn req(function: u16, seq: u16, session: u32, flags: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0x31, 0, 0];
        v.extend_from_slice(&function.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&session.to_be_bytes());
        v.push(flags);
        v.extend_from_slice(body);
        v
    }
    fn resp(function: u16, seq: u16, ret: &[u8]) -> Vec<u8> {
        let mut v = vec![0x32, 0, 0];
        v.extend_from_slice(&function.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&seq.to_be_bytes());
        v.push(0x34);
        v.extend_from_slice(ret);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }
    let mut c = conv();
    // Open the session (CreateObject on the null session), split in two.
    let open = req(
        0x04ca,
        1,
        0x120,
        0x36,
        &[0, 0, 1, 0x1d, 0, 4, 1, 2, 3, 4, 5, 6],
    );
    let (a, b) = open.split_at(10);
    c.client(&dt(&frag(1, a, false), true));
    c.client(&dt(&frag(1, b, true), true));
    c.server(&dt(
        &frag(1, &resp(0x04ca, 1, &[0x00, 0x02, 0x87, 0x40]), true),
        true,
    ));
    // Download: BeginSequence "DLTransaction", CreateObject, EndSequence.
    let mut body = vec![0x02, 0, 1, 0];
    body.extend_from_slice(b"DLTransaction");
    c.client(&dt(&frag(2, &req(0x0556, 2, 960, 0x36, &body), true), true));
    c.server(&dt(&frag(2, &resp(0x0556, 2, &[0]), true), true));
    c.client(&dt(
        &frag(2, &req(0x04ca, 3, 960, 0x34, &[0, 0, 0, 3, 9, 9]), true),
        true,
    ));
    c.server(&dt(&frag(2, &resp(0x04ca, 3, &[0]), true), true));
    c.client(&dt(
        &frag(2, &req(0x0560, 4, 960, 0x36, &[0, 0]), true),
        true,
    ));
    c.server(&dt(&frag(2, &resp(0x0560, 4, &[0]), true), true));
    // A read afterwards is a read again; it fails (negative return value).
    c.client(&dt(
        &frag(2, &req(0x054c, 5, 960, 0x34, &[0, 0, 0, 0]), true),
        true,
    ));
    let err = [0xc0, 0x88, 0x95, 0xb0, 0x80, 0xef, 0x91, 0xff, 0xf4];
    c.server(&dt(&frag(2, &resp(0x054c, 5, &err), true), true));
    // Stop the CPU: SetVariable on object 52, attribute 2167.
    let stop = [0, 0, 0, 0x34, 1, 0x90, 0x77, 0, 0x04, 1];
    c.client(&dt(&frag(2, &req(0x04f2, 6, 960, 0x34, &stop), true), true));
    c.server(&dt(&frag(2, &resp(0x04f2, 6, &[0]), true), true));
    // A notification from the CPU.
    c.server(&dt(
        &frag(2, &[0x33, 0x70, 0, 0x0e, 0x51, 4, 0, 0], true),
        true,
    ));
    // Close the session.
    c.client(&dt(
        &frag(2, &req(0x04d4, 7, 960, 0x34, &[0, 0, 3, 0xc0]), true),
        true,
    ));
    c.server(&dt(&frag(2, &resp(0x04d4, 7, &[0]), true), true));
    let r = run(&c);
    assert!(
        r.of_type("anomaly").is_empty(),
        "{:?}",
        r.of_type("anomaly")
    );
    let e = r.of_type("s7comm_plus");
    let ops: Vec<(&str, &str, &str)> = e
        .iter()
        .map(|x| {
            (
                x["ics"]["function"].as_str().unwrap(),
                x["ics"]["operation"].as_str().unwrap(),
                x["ics"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            ("create_object", "session", "ok"),
            ("begin_sequence", "program_download", "ok"),
            ("create_object", "program_download", "ok"),
            ("end_sequence", "program_download", "ok"),
            ("get_multi_variables", "read", "exception"),
            ("set_variable", "mode_change", "ok"),
            ("notification", "other", "ok"),
            ("delete_object", "session", "ok"),
        ]
    );
    assert_eq!(e[0]["s7comm_plus"]["request_fragments"], 2);
    assert_eq!(e[0]["app_proto"], "s7comm_plus");
    assert_eq!(e[4]["s7comm_plus"]["error_code"], -12);
    assert_eq!(e[4]["ics"]["exception_code"], 0xfff4);
    assert_eq!(e[5]["s7comm_plus"]["attribute_ids"], json!([2167]));
    assert_eq!(e[5]["s7comm_plus"]["value"], 1);
    assert_eq!(e[6]["s7comm_plus"]["subscription_id"], 0x70000e51u32);
    assert!(r.of_type("s7comm").is_empty());
}
