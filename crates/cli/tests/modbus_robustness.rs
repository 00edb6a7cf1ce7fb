//! Known failures of other monitors must not happen here. Each test crafts a
//! capture with exact TCP sequencing and checks the events.

mod common;

use common::*;
use plantshield_decode::craft;
use plantshield_decode::TcpFlags;

fn run(conv: &Conversation) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    conv.write(&p);
    let r = analyze_file(&p);
    assert!(r.status.success(), "{}", r.stderr);
    r
}

fn conv() -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 40100, ip4(10, 0, 0, 10), 502);
    c.handshake();
    c
}

/// A malformed PDU and an invalid MBAP header in the middle of a connection:
/// the connection keeps being reported afterwards.
#[test]
fn connection_survives_malformed_and_invalid_pdus() {
    let mut c = conv();
    c.client(&adu(1, 1, &[3, 0, 0, 0, 2]))
        .server(&adu(1, 1, &[3, 4, 0, 1, 0, 2]));
    // FC 3 with a truncated body: malformed, answered with an exception.
    c.client(&adu(2, 1, &[3, 0])).server(&adu(2, 1, &[0x83, 3]));
    // Invalid protocol id: not a Modbus ADU at all.
    c.client(&[0, 3, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1]);
    // Valid traffic after both.
    c.client(&adu(4, 1, &[6, 0, 9, 0, 42]))
        .server(&adu(4, 1, &[6, 0, 9, 0, 42]));
    c.client(&adu(5, 1, &[1, 0, 0, 0, 8]))
        .server(&adu(5, 1, &[1, 1, 0xa5]));
    let r = run(&c);
    let m = modbus(&r);
    let tids: Vec<u64> = m
        .iter()
        .map(|e| e["modbus"]["transaction_id"].as_u64().unwrap())
        .collect();
    assert_eq!(tids, vec![1, 2, 4, 5]);
    assert_eq!(m[1]["ics"]["status"], "malformed");
    assert_eq!(m[1]["modbus"]["exception_code"], 3);
    assert_eq!(m[2]["modbus"]["values_written"], serde_json::json!([42]));
    assert_eq!(
        m[3]["modbus"]["values_read"],
        serde_json::json!([1, 0, 1, 0, 0, 1, 0, 1])
    );
    assert_eq!(r.anomalies("malformed_pdu"), 1);
    assert_eq!(r.anomalies("invalid_mbap"), 1);
}

/// All 256 function codes against one unit, with one fixed transaction id
/// (as scanners do): every request is its own transaction.
#[test]
fn function_code_scan_gives_one_transaction_per_request() {
    let mut c = conv();
    for fc in 0..=255u8 {
        c.client(&adu(0x77, 1, &[fc, 0, 0, 0, 1]));
        if fc % 3 == 0 {
            // Some answered with an exception, the rest never answered.
            c.server(&adu(0x77, 1, &[fc | 0x80, 1]));
        }
    }
    c.fin();
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 256, "one event per request");
    let mut codes: Vec<u64> = m
        .iter()
        .map(|e| e["modbus"]["function_code"].as_u64().unwrap())
        .collect();
    codes.sort_unstable();
    // Codes 128..=255 are the same functions with the exception bit set:
    // the function code reported is the code without it (0..=127), twice.
    let mut want: Vec<u64> = (0..=255u64).map(|c| c & 0x7f).collect();
    want.sort_unstable();
    assert_eq!(codes, want);
    let answered = m
        .iter()
        .filter(|e| e["modbus"]["exception_code"] == 1)
        .count();
    let silent = m
        .iter()
        .filter(|e| e["modbus"]["response_missing"] == true)
        .count();
    assert_eq!(answered + silent, 256);
    assert_eq!(answered, (0..=255).filter(|f| f % 3 == 0).count());
    // Requests too short for their function are malformed, whatever the answer.
    let malformed = m
        .iter()
        .filter(|e| e["ics"]["status"] == "malformed")
        .count();
    assert_eq!(malformed, 2 * [15, 16, 22, 23].len());
    // Reserved and user-defined codes are named as such.
    let f = |code: u64| {
        m.iter()
            .find(|e| e["modbus"]["function_code"] == code)
            .unwrap()["modbus"]["function"]
            .clone()
    };
    assert_eq!(f(90), "reserved");
    assert_eq!(f(66), "user_defined");
    assert_eq!(f(50), "unassigned");
}

/// Non-Modbus bytes on port 502 do not become Modbus events; Modbus after
/// them on the same connection still does.
#[test]
fn non_modbus_on_port_502_is_reported_not_parsed() {
    let mut c = conv();
    c.client(b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n");
    c.server(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    c.client(&[0x16, 3, 1, 0, 0x85, 1, 0, 0, 0x81, 3, 3]);
    let r = run(&c);
    assert!(modbus(&r).is_empty());
    assert_eq!(r.anomalies("app_proto_mismatch"), 1);
    let mut c2 = conv();
    c2.client(b"\x03\x00\x00\x2b junk first");
    c2.client(&adu(9, 1, &[3, 0, 0, 0, 1]))
        .server(&adu(9, 1, &[3, 2, 0, 7]));
    let r = run(&c2);
    assert_eq!(modbus(&r).len(), 1);
    assert_eq!(
        modbus(&r)[0]["modbus"]["values_read"],
        serde_json::json!([7])
    );
}

/// One transaction is one event however many registers it touches; values
/// are bounded and the truncation is said.
#[test]
fn one_event_per_transaction_not_per_register() {
    let mut c = conv();
    let mut regs = vec![3, 250];
    for i in 0..125u16 {
        regs.extend_from_slice(&i.to_be_bytes());
    }
    c.client(&adu(1, 1, &[3, 0, 0, 0, 125]))
        .server(&adu(1, 1, &regs));
    let mut w = vec![16, 0, 10, 0, 100, 200];
    for i in 0..100u16 {
        w.extend_from_slice(&(1000 + i).to_be_bytes());
    }
    c.client(&adu(2, 1, &w))
        .server(&adu(2, 1, &[16, 0, 10, 0, 100]));
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["modbus"]["quantity"], 125);
    assert_eq!(m[0]["modbus"]["values_read"].as_array().unwrap().len(), 32);
    assert_eq!(m[0]["modbus"]["values_truncated"], true);
    assert_eq!(m[1]["modbus"]["values_written"][0], 1000);
    assert_eq!(m[1]["ics"]["operation"], "write");
    assert!(
        m.iter().all(|e| e["modbus"].get("flags").is_none()),
        "{m:?}"
    );
}

/// Pipelined requests, several ADUs in one segment, one ADU across three
/// segments, responses out of request order.
#[test]
fn pipelining_and_segmentation() {
    let mut c = conv();
    let mut two = adu(1, 1, &[3, 0, 0, 0, 1]);
    two.extend_from_slice(&adu(2, 1, &[4, 0, 5, 0, 1]));
    c.client(&two);
    let third = adu(3, 2, &[6, 0, 1, 0x12, 0x34]);
    c.client(&third[..3])
        .client(&third[3..8])
        .client(&third[8..]);
    // Responses in another order, two in one segment, one split.
    let mut resp = adu(3, 2, &[6, 0, 1, 0x12, 0x34]);
    resp.extend_from_slice(&adu(2, 1, &[4, 2, 0, 9]));
    c.server(&resp);
    let r1 = adu(1, 1, &[3, 2, 0, 8]);
    c.server(&r1[..9]).server(&r1[9..]);
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 3);
    let by_tid = |t: u64| {
        m.iter()
            .find(|e| e["modbus"]["transaction_id"] == t)
            .unwrap()
    };
    assert_eq!(by_tid(1)["modbus"]["values_read"], serde_json::json!([8]));
    assert_eq!(by_tid(2)["modbus"]["values_read"], serde_json::json!([9]));
    assert_eq!(
        by_tid(3)["modbus"]["values_written"],
        serde_json::json!([0x1234])
    );
    assert_eq!(by_tid(3)["modbus"]["unit_id"], 2);
    assert!(m.iter().all(|e| e["ics"]["status"] == "ok"));
}

/// Modbus on a non-standard port is found by content.
#[test]
fn modbus_on_other_port_found_by_content() {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 40100, ip4(10, 0, 0, 10), 5020);
    c.handshake();
    c.client(&adu(1, 1, &[3, 0, 0, 0, 2]))
        .server(&adu(1, 1, &[3, 4, 0, 1, 0, 2]));
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["dest_port"], 5020);
    assert_eq!(m[0]["app_proto"], "modbus");
    // Random bytes on another port are not taken for Modbus.
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 40100, ip4(10, 0, 0, 10), 5020);
    c.handshake();
    c.client(&[0, 1, 0, 0, 0, 9, 1, 3, 0])
        .client(b"something else entirely");
    assert!(modbus(&run(&c)).is_empty());
}

/// A segment lost to the capture: the receiver's ACK shows the hole, the
/// gap is reported, and parsing resumes at the next ADU.
#[test]
fn capture_loss_gap_then_resync() {
    let mut c = conv();
    c.client(&adu(1, 1, &[3, 0, 0, 0, 1]))
        .server(&adu(1, 1, &[3, 2, 0, 1]));
    // Request 2 is sent but not captured; its response is.
    let lost = adu(2, 1, &[3, 0, 1, 0, 1]);
    c.cseq += lost.len() as u32;
    c.server(&adu(2, 1, &[3, 2, 0, 2]));
    c.client(&adu(3, 1, &[3, 0, 2, 0, 1]))
        .server(&adu(3, 1, &[3, 2, 0, 3]));
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 3);
    assert_eq!(m[1]["modbus"]["request_missing"], true);
    assert_eq!(m[1]["modbus"]["values_read"], serde_json::json!([2]));
    assert_eq!(m[2]["modbus"]["values_read"], serde_json::json!([3]));
    assert_eq!(r.anomalies("gap"), 1);
    let flow = &r.of_type("flow")[0]["flow"];
    assert_eq!(flow["gaps"], 1);
    assert_eq!(flow["gap_bytes"], lost.len());
}

/// Retransmissions are not new operations; a retransmission with other
/// bytes is an anomaly and the first version stands.
#[test]
fn retransmissions_and_conflicting_overlap() {
    let mut c = conv();
    let req = adu(1, 1, &[6, 0, 1, 0, 5]);
    c.client(&req);
    // Same bytes again (retransmission), then different bytes at the same sequence.
    c.cseq -= req.len() as u32;
    c.client(&req);
    c.cseq -= req.len() as u32;
    c.client(&adu(1, 1, &[6, 0, 1, 0, 99]));
    c.server(&adu(1, 1, &[6, 0, 1, 0, 5]));
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["modbus"]["values_written"], serde_json::json!([5]));
    assert_eq!(r.anomalies("overlap_different_data"), 1);
}

/// Unanswered requests end as no_response at the transaction timeout and at
/// the end of the flow; the pending table is bounded.
#[test]
fn unanswered_requests_and_pending_cap() {
    let mut c = conv();
    c.client(&adu(1, 1, &[3, 0, 0, 0, 1]));
    c.wait(40_000_000_000);
    c.client(&adu(2, 1, &[3, 0, 0, 0, 1]))
        .server(&adu(2, 1, &[3, 2, 0, 0]));
    for t in 10..90u16 {
        c.client(&adu(t, 1, &[1, 0, 0, 0, 1]));
    }
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 82);
    assert_eq!(m[0]["modbus"]["transaction_id"], 1);
    assert_eq!(m[0]["ics"]["status"], "no_response");
    assert_eq!(
        m.iter()
            .filter(|e| e["ics"]["status"] == "no_response")
            .count(),
        81
    );
    // 80 pipelined requests against a cap of 64: 16 evicted early, reported.
    assert_eq!(r.anomalies("pending_table_full"), 16);
}

/// A device on port 502 that opens the connection is still the server:
/// its PDUs are responses, and the event's source is the requester.
#[test]
fn reverse_connection_from_port_502() {
    let mut c = Conversation::new(ip4(10, 0, 0, 10), 502, ip4(10, 0, 0, 20), 4446);
    c.handshake();
    // The TCP responder (port 4446) sends requests.
    c.server(&adu(7, 1, &[3, 0, 0, 0, 1]))
        .client(&adu(7, 1, &[3, 2, 0, 5]));
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["ics"]["status"], "ok");
    assert_eq!(m[0]["src_port"], 4446);
    assert_eq!(m[0]["dest_port"], 502);
    assert_eq!(m[0]["modbus"]["values_read"], serde_json::json!([5]));
}

/// Fragmented IPv4 carrying a Modbus request is reassembled.
#[test]
fn ip_fragments_reassembled() {
    let mut c = conv();
    let req = adu(
        1,
        1,
        &[
            16, 0, 0, 0, 20, 40, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10, 0,
            11, 0, 12, 0, 13, 0, 14, 0, 15, 0, 16, 0, 17, 0, 18, 0, 19, 0, 20,
        ],
    );
    let seg = craft::tcp_bytes(
        40100,
        502,
        c.cseq,
        c.sseq,
        TcpFlags::ACK | TcpFlags::PSH,
        &req,
    );
    for f in craft::ipv4_fragments(&c.ep, 6, 77, &seg, 24)
        .into_iter()
        .rev()
    {
        c.ts += 1000;
        c.frames.push((c.ts, f));
    }
    c.cseq += req.len() as u32;
    c.server(&adu(1, 1, &[16, 0, 0, 0, 20]));
    let r = run(&c);
    let m = modbus(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["modbus"]["quantity"], 20);
    assert_eq!(
        m[0]["modbus"]["values_written"].as_array().unwrap().len(),
        20
    );
}

/// A connection polled every 5 minutes for 2.5 hours: never idle, so the
/// lifetime timeout writes interim flow records, each covering its period,
/// and the Modbus session carries on across them.
#[test]
fn long_flow_gets_interim_records() {
    let mut c = conv();
    for t in 0..31u16 {
        c.client(&adu(t, 1, &[3, 0, 0, 0, 1]))
            .server(&adu(t, 1, &[3, 2, 0, 1]));
        c.wait(300_000_000_000);
    }
    let r = run(&c);
    assert_eq!(modbus(&r).len(), 31);
    assert!(modbus(&r).iter().all(|e| e["ics"]["status"] == "ok"));
    let flows = r.of_type("flow");
    let reasons: Vec<&str> = flows
        .iter()
        .map(|f| f["flow"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, vec!["lifetime", "lifetime", "shutdown"]);
    assert!(flows.iter().all(|f| f["flow_id"] == flows[0]["flow_id"]));
    let txs: u64 = flows
        .iter()
        .map(|f| f["flow"]["transactions"].as_u64().unwrap())
        .sum();
    assert_eq!(txs, 31);
    let pkts: u64 = flows
        .iter()
        .map(|f| {
            f["flow"]["pkts_toserver"].as_u64().unwrap()
                + f["flow"]["pkts_toclient"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(pkts as usize, c.frames.len());
}
