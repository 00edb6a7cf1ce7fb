//! DNP3 sessions on crafted captures: framing across segments, damaged
//! frames, transport sequencing, pairing of multi-fragment responses,
//! confirms and unsolicited responses, and the bounds of every per-flow
//! table. Frames are built here with an independent CRC implementation.

mod common;

use common::*;
use plantshield_decode::craft;
use serde_json::Value;

const MASTER: u16 = 1;
const OUTSTATION: u16 = 10;

/// CRC-16/DNP, bit by bit (IEEE 1815-2012 §9.2.4.2).
fn crc(data: &[u8]) -> [u8; 2] {
    let mut c: u16 = 0;
    for &b in data {
        c ^= u16::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xA6BC
            } else {
                c >> 1
            };
        }
    }
    (!c).to_le_bytes()
}

/// A link frame: header, then user data in CRC-protected 16-octet blocks.
fn frame(control: u8, dst: u16, src: u16, user_data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x05, 0x64, 5 + user_data.len() as u8, control];
    f.extend_from_slice(&dst.to_le_bytes());
    f.extend_from_slice(&src.to_le_bytes());
    let c = crc(&f);
    f.extend_from_slice(&c);
    for block in user_data.chunks(16) {
        f.extend_from_slice(block);
        f.extend_from_slice(&crc(block));
    }
    f
}

/// Transport header: FIN, FIR, sequence.
fn th(fir: bool, fin: bool, seq: u8) -> u8 {
    (u8::from(fin) << 7) | (u8::from(fir) << 6) | (seq & 0x3f)
}

/// Application control: FIR, FIN, CON, UNS, sequence.
fn ac(fir: bool, fin: bool, con: bool, uns: bool, seq: u8) -> u8 {
    (u8::from(fir) << 7) | (u8::from(fin) << 6) | (u8::from(con) << 5) | (u8::from(uns) << 4) | seq
}

/// A single-segment fragment from the master.
fn request(tseq: u8, apdu: &[u8]) -> Vec<u8> {
    let mut ud = vec![th(true, true, tseq)];
    ud.extend_from_slice(apdu);
    frame(0xC4, OUTSTATION, MASTER, &ud)
}

/// A single-segment fragment from the outstation.
fn response(tseq: u8, apdu: &[u8]) -> Vec<u8> {
    let mut ud = vec![th(true, true, tseq)];
    ud.extend_from_slice(apdu);
    frame(0x44, MASTER, OUTSTATION, &ud)
}

/// Class 0 read.
fn read(seq: u8) -> Vec<u8> {
    vec![ac(true, true, false, false, seq), 1, 60, 1, 6]
}

/// Null response.
fn null_response(seq: u8) -> Vec<u8> {
    vec![ac(true, true, false, false, seq), 0x81, 0, 0]
}

fn conv(port: u16) -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 40200, ip4(10, 0, 0, 10), port);
    c.handshake();
    c
}

fn run(c: &Conversation) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    c.write(&p);
    let r = analyze(&["--no-progress", "--max-values", "1000", p.to_str().unwrap()]);
    assert!(r.status.success(), "{}", r.stderr);
    r
}

fn dnp3(r: &Run) -> Vec<&Value> {
    r.of_type("dnp3")
}

fn functions(r: &Run) -> Vec<String> {
    dnp3(r)
        .iter()
        .map(|e| e["ics"]["function"].as_str().unwrap().to_string())
        .collect()
}

/// Frames cut at every byte, and several frames in one segment, give the
/// same transactions as one frame per segment.
#[test]
fn framing_is_independent_of_segmentation() {
    let mut whole = conv(20000);
    let mut bytes = Vec::new();
    let mut replies = Vec::new();
    for seq in 0..4u8 {
        whole.client(&request(seq, &read(seq)));
        whole.server(&response(seq, &null_response(seq)));
        bytes.extend(request(seq, &read(seq)));
        replies.push(response(seq, &null_response(seq)));
    }
    let a = run(&whole);
    assert_eq!(functions(&a), vec!["read"; 4]);

    // Byte by byte, then all requests in one segment.
    let mut split = conv(20000);
    let first = request(9, &read(9));
    for b in &first {
        split.client(&[*b]);
    }
    split.server(&response(9, &null_response(9)));
    split.client(&bytes);
    for r in &replies {
        split.server(r);
    }
    let b = run(&split);
    assert_eq!(functions(&b), vec!["read"; 5]);
    assert!(
        dnp3(&b).iter().all(|e| e["ics"]["status"] == "ok"),
        "{:?}",
        dnp3(&b)
    );
    assert_eq!(b.of_type("anomaly").len(), 0);
}

/// Junk between frames, a header with a bad CRC and a data block with a
/// bad CRC are reported; the frames after them are parsed.
#[test]
fn damaged_frames_are_reported_and_skipped() {
    let mut c = conv(20000);
    c.client(&request(0, &read(0)));
    c.server(&response(0, &null_response(0)));
    // Junk, then a valid request in the same segment.
    let mut junk = b"\x00\x01\x02garbage".to_vec();
    junk.extend(request(1, &read(1)));
    c.client(&junk);
    c.server(&response(1, &null_response(1)));
    // A header CRC error.
    let mut bad = request(2, &read(2));
    bad[8] ^= 0xff;
    c.client(&bad);
    // A block CRC error: the frame is dropped, not parsed.
    let mut bad = request(3, &read(3));
    bad[11] ^= 0x01;
    c.client(&bad);
    c.client(&request(4, &read(4)));
    c.server(&response(4, &null_response(4)));
    let r = run(&c);
    let seqs: Vec<u64> = dnp3(&r)
        .iter()
        .map(|e| e["dnp3"]["request"]["control"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![0, 1, 4]);
    assert_eq!(r.anomalies("invalid_start_octets"), 1);
    assert_eq!(r.anomalies("header_crc_error"), 1);
    assert_eq!(r.anomalies("block_crc_error"), 1);
}

/// A response in three segments, a repeated segment (ignored), then a
/// segment out of sequence (the partial fragment is discarded) and a
/// continuation segment with nothing in progress.
#[test]
fn transport_reassembly_and_sequence_errors() {
    let mut c = conv(20000);
    c.client(&request(0, &read(3)));
    let mut apdu = vec![ac(true, true, false, false, 3), 0x81, 0, 0, 30, 1, 0, 0, 99];
    for i in 0..100u32 {
        apdu.extend_from_slice(&i.to_le_bytes());
        apdu.push(1);
    }
    let seg = |fir, fin, s, part: &[u8]| {
        let mut ud = vec![th(fir, fin, s)];
        ud.extend_from_slice(part);
        frame(0x44, MASTER, OUTSTATION, &ud)
    };
    let parts: Vec<&[u8]> = apdu.chunks(249).collect();
    assert_eq!(parts.len(), 3);
    c.server(&seg(true, false, 62, parts[0]));
    c.server(&seg(false, false, 63, parts[1]));
    c.server(&seg(false, false, 63, parts[1]));
    c.server(&seg(false, true, 0, parts[2]));
    // Out of sequence: 5 then 7.
    c.client(&request(1, &read(4)));
    c.server(&seg(true, false, 5, parts[0]));
    c.server(&seg(false, true, 7, parts[2]));
    c.server(&seg(false, true, 8, parts[2]));
    let r = run(&c);
    let ev = dnp3(&r);
    assert_eq!(ev.len(), 2);
    let resp = &ev[0]["dnp3"]["response"];
    assert_eq!(resp["link"]["frames"], 3);
    assert_eq!(resp["objects"][0]["stop"], 99);
    assert_eq!(ev[0]["ics"]["status"], "ok");
    assert_eq!(ev[1]["ics"]["status"], "no_response");
    assert_eq!(r.anomalies("transport_out_of_sequence"), 1);
    assert_eq!(r.anomalies("transport_missing_first"), 1);
}

/// A two-fragment response whose fragments ask for confirms: one event
/// with both fragments and both confirms. An unsolicited response with its
/// confirm, and a confirm of nothing, are events of their own.
#[test]
fn multi_fragment_response_confirms_and_unsolicited() {
    let mut c = conv(20000);
    c.client(&request(0, &read(5)));
    c.server(&response(
        0,
        &[
            ac(true, false, true, false, 5),
            0x81,
            0,
            0,
            1,
            2,
            0,
            0,
            1,
            1,
            1,
        ],
    ));
    c.client(&request(1, &[ac(true, true, false, false, 5), 0]));
    c.server(&response(
        1,
        &[
            ac(false, true, true, false, 6),
            0x81,
            0x02,
            0,
            2,
            1,
            0x17,
            1,
            4,
            0x81,
        ],
    ));
    c.client(&request(2, &[ac(true, true, false, false, 6), 0]));
    // Unsolicited, confirmed.
    c.server(&response(
        2,
        &[
            ac(true, true, true, true, 9),
            0x82,
            0x02,
            0,
            2,
            1,
            0x17,
            1,
            7,
            0x01,
        ],
    ));
    c.client(&request(3, &[ac(true, true, false, true, 9), 0]));
    // A confirm of nothing.
    c.client(&request(4, &[ac(true, true, false, false, 12), 0]));
    let r = run(&c);
    let ev = dnp3(&r);
    assert_eq!(
        functions(&r),
        vec!["read", "unsolicited_response", "confirm"]
    );
    let d = &ev[0]["dnp3"];
    assert_eq!(d["response"]["fragments"], 2);
    assert_eq!(d["response"]["iin"], serde_json::json!(["class_1_events"]));
    assert_eq!(d["confirm"]["count"], 2);
    assert!(d.get("flags").is_none(), "{d}");
    let u = &ev[1];
    assert_eq!(u["dnp3"]["confirm"]["count"], 1);
    assert_eq!(u["ics"]["operation"], "read");
    assert!(u["dnp3"].get("request_missing").is_none());
    assert_eq!(ev[2]["ics"]["operation"], "other");
    assert!(ev[2]["dnp3"].get("response_missing").is_none());
}

/// An unsolicited response that asks for a confirm and gets none, and a
/// response that stops after its first fragment, are flagged.
#[test]
fn missing_confirms_and_fragments_are_flagged() {
    let mut c = conv(20000);
    c.server(&response(0, &[ac(true, true, true, true, 1), 0x82, 0, 0]));
    c.client(&request(0, &read(2)));
    c.server(&response(
        1,
        &[ac(true, false, false, false, 2), 0x81, 0, 0],
    ));
    c.fin();
    let r = run(&c);
    let ev = dnp3(&r);
    let flags: Vec<&Value> = ev.iter().map(|e| &e["dnp3"]["flags"]).collect();
    assert!(
        flags.contains(&&serde_json::json!(["confirm_missing"])),
        "{flags:?}"
    );
    assert!(
        flags.contains(&&serde_json::json!(["incomplete_response"])),
        "{flags:?}"
    );
}

/// The outstation opened the connection (it is the TCP client): events
/// still go from the master to the outstation.
#[test]
fn roles_come_from_function_codes() {
    let mut c = Conversation::new(ip4(10, 0, 0, 10), 20000, ip4(10, 0, 0, 20), 20000);
    c.handshake();
    // The TCP client is the outstation.
    c.client(&response(
        0,
        &[ac(true, true, false, true, 0), 0x82, 0x80, 0],
    ));
    c.server(&request(0, &read(1)));
    c.client(&response(1, &null_response(1)));
    let r = run(&c);
    for e in dnp3(&r) {
        assert_eq!(e["src_ip"], "10.0.0.20", "{e}");
        assert_eq!(e["dest_ip"], "10.0.0.10", "{e}");
    }
    assert_eq!(functions(&r), vec!["unsolicited_response", "read"]);
}

/// DNP3 is found on any port by its link header.
#[test]
fn detection_off_the_registered_port() {
    let mut c = conv(4711);
    c.client(&request(0, &read(0)));
    c.server(&response(0, &null_response(0)));
    let r = run(&c);
    assert_eq!(functions(&r), vec!["read"]);
    assert_eq!(dnp3(&r)[0]["app_proto"], "dnp3");
}

/// Requests without responses fill the pending table up to --max-pending;
/// the oldest is ended as no_response with an anomaly.
#[test]
fn pending_table_is_bounded() {
    let mut c = conv(20000);
    // 16 sequence numbers, then again: 40 requests, none answered, to 40
    // outstations (one open request each).
    for i in 0..40u16 {
        let mut ud = vec![th(true, true, 0)];
        ud.extend_from_slice(&read((i % 16) as u8));
        c.client(&frame(0xC4, 100 + i, MASTER, &ud));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    c.write(&p);
    let r = analyze(&["--no-progress", "--max-pending", "8", p.to_str().unwrap()]);
    assert_eq!(dnp3(&r).len(), 40);
    assert!(dnp3(&r).iter().all(|e| e["ics"]["status"] == "no_response"));
    assert_eq!(r.anomalies("pending_table_full"), 32);
}

/// Fragments in reassembly are bounded per direction (16) and in size
/// (2048 octets); going over either is an anomaly, never a crash.
#[test]
fn reassembly_is_bounded() {
    let mut c = conv(20000);
    // 17 first segments from 17 source addresses, none finished.
    for src in 0..17u16 {
        c.client(&frame(
            0xC4,
            OUTSTATION,
            200 + src,
            &[th(true, false, 0), 0xC0, 1],
        ));
    }
    // One fragment growing past 2048 octets: 9 segments of 249.
    c.client(&frame(0xC4, OUTSTATION, MASTER, &[th(true, false, 0); 250]));
    for s in 1..10u8 {
        let mut ud = vec![th(false, false, s)];
        ud.extend_from_slice(&[0u8; 249]);
        c.client(&frame(0xC4, OUTSTATION, MASTER, &ud));
    }
    let r = run(&c);
    // The 17th first segment and the master's evict the two oldest.
    assert_eq!(r.anomalies("reassembly_table_full"), 2);
    // Segment 8 takes the fragment past 2048 octets; segment 9 then
    // continues nothing.
    assert_eq!(r.anomalies("fragment_too_large"), 1);
    assert_eq!(r.anomalies("transport_missing_first"), 1);
    assert!(dnp3(&r).is_empty());
}

/// A UDP datagram cut inside a frame: the whole frames before the cut are
/// parsed, the cut is reported.
#[test]
fn udp_datagrams() {
    let ep = plantshield_decode::craft::Endpoints {
        src_mac: plantshield_decode::MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: plantshield_decode::MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: ip4(10, 0, 0, 20),
        src_port: 5000,
        dst_ip: ip4(10, 0, 0, 10),
        dst_port: 20000,
        vlan: None,
    };
    let t0 = 1_700_000_000_000_000_000i64;
    let mut two = request(0, &read(0));
    two.extend(request(1, &read(1)));
    let mut cut = request(2, &read(2));
    cut.truncate(cut.len() - 3);
    let mut reply = response(0, &null_response(0));
    reply.extend(response(1, &null_response(1)));
    let frames = vec![
        (t0, craft::udp_frame(&ep, &two)),
        (t0 + 1_000_000, craft::udp_frame(&ep.reversed(), &reply)),
        (t0 + 2_000_000, craft::udp_frame(&ep, &cut)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("u.pcap");
    write_pcap(&p, &frames);
    let r = analyze(&["--no-progress", p.to_str().unwrap()]);
    assert_eq!(functions(&r), vec!["read", "read"]);
    assert!(dnp3(&r)
        .iter()
        .all(|e| e["ics"]["status"] == "ok" && e["proto"] == "UDP"));
    assert_eq!(r.anomalies("truncated_frame"), 1);
}

/// After a hole in the TCP stream the session resynchronises on the next
/// link header.
#[test]
fn resynchronises_after_a_gap() {
    let mut c = conv(20000);
    c.client(&request(0, &read(0)));
    c.server(&response(0, &null_response(0)));
    // Skip 7 bytes of the client stream (never captured).
    let lost = request(1, &read(1));
    c.cseq = c.cseq.wrapping_add(7);
    c.client(&lost[7..]);
    c.client(&request(2, &read(2)));
    c.server(&response(2, &null_response(2)));
    c.fin();
    let r = run(&c);
    assert_eq!(functions(&r), vec!["read", "read"]);
    assert!(dnp3(&r).iter().all(|e| e["ics"]["status"] == "ok"));
    assert_eq!(r.anomalies("gap"), 1);
}
