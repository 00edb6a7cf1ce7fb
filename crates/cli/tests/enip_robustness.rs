//! EtherNet/IP sessions on crafted captures with exact TCP sequencing:
//! framing across and within segments, resynchronisation after bad headers
//! and gaps, pairing (sender context, connection and sequence count),
//! Unconnected_Send, Multiple_Service_Packet, tag values, UDP ListIdentity
//! and implicit I/O, bounded tables. Every event of every capture here also
//! validates against the published schema.

mod common;

use common::*;
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::MacAddr;
use serde_json::{json, Value};

// ---------------------------------------------------------------- builders

const SESSION: u32 = 0x1102_0300;

fn encap(command: u16, session: u32, context: u64, status: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&command.to_le_bytes());
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(&session.to_le_bytes());
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(&context.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn item(v: &mut Vec<u8>, type_id: u16, data: &[u8]) {
    v.extend_from_slice(&type_id.to_le_bytes());
    v.extend_from_slice(&(data.len() as u16).to_le_bytes());
    v.extend_from_slice(data);
}

/// SendRRData carrying `cip` in an unconnected data item.
fn rr(context: u64, cip: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 10, 0, 2, 0];
    item(&mut d, 0x0000, &[]);
    item(&mut d, 0x00b2, cip);
    encap(0x6f, SESSION, context, 0, &d)
}

/// SendUnitData on connection `conn` with CIP sequence count `seq`.
fn unit(conn: u32, seq: u16, cip: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 0, 0, 2, 0];
    item(&mut d, 0x00a1, &conn.to_le_bytes());
    let mut data = seq.to_le_bytes().to_vec();
    data.extend_from_slice(cip);
    item(&mut d, 0x00b1, &data);
    encap(0x70, SESSION, 0, 0, &d)
}

/// A Message Router request.
fn req(service: u8, path: &[u8], data: &[u8]) -> Vec<u8> {
    assert!(path.len() % 2 == 0);
    let mut v = vec![service, (path.len() / 2) as u8];
    v.extend_from_slice(path);
    v.extend_from_slice(data);
    v
}

/// A Message Router reply.
fn rsp(service: u8, status: u8, ext: &[u16], data: &[u8]) -> Vec<u8> {
    let mut v = vec![service | 0x80, 0, status, ext.len() as u8];
    for e in ext {
        v.extend_from_slice(&e.to_le_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// An ANSI extended symbol segment, padded.
fn sym(name: &str) -> Vec<u8> {
    let mut v = vec![0x91, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    if name.len() % 2 == 1 {
        v.push(0);
    }
    v
}

const IDENTITY_1: &[u8] = &[0x20, 0x01, 0x24, 0x01];
const CM: &[u8] = &[0x20, 0x06, 0x24, 0x01];
const MR: &[u8] = &[0x20, 0x02, 0x24, 0x01];

fn forward_open(serial: u16, t_o: u32) -> Vec<u8> {
    let mut d = vec![0x0a, 0x0e];
    d.extend_from_slice(&0u32.to_le_bytes());
    d.extend_from_slice(&t_o.to_le_bytes());
    d.extend_from_slice(&serial.to_le_bytes());
    d.extend_from_slice(&0x4du16.to_le_bytes());
    d.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    d.extend_from_slice(&[1, 0, 0, 0]);
    d.extend_from_slice(&500_000u32.to_le_bytes());
    d.extend_from_slice(&0x43f4u16.to_le_bytes());
    d.extend_from_slice(&500_000u32.to_le_bytes());
    d.extend_from_slice(&0x43f4u16.to_le_bytes());
    d.push(0xa3);
    d.push(3);
    d.extend_from_slice(&[0x01, 0x00, 0x20, 0x02, 0x24, 0x01]);
    req(0x54, CM, &d)
}

fn forward_open_reply(serial: u16, o_t: u32, t_o: u32) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&o_t.to_le_bytes());
    d.extend_from_slice(&t_o.to_le_bytes());
    d.extend_from_slice(&serial.to_le_bytes());
    d.extend_from_slice(&0x4du16.to_le_bytes());
    d.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    d.extend_from_slice(&500_000u32.to_le_bytes());
    d.extend_from_slice(&500_000u32.to_le_bytes());
    d.extend_from_slice(&[0, 0]);
    rsp(0x54, 0, &[], &d)
}

fn forward_close(serial: u16) -> Vec<u8> {
    let mut d = vec![0x0a, 0x0e];
    d.extend_from_slice(&serial.to_le_bytes());
    d.extend_from_slice(&0x4du16.to_le_bytes());
    d.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    d.extend_from_slice(&[3, 0, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01]);
    req(0x4e, CM, &d)
}

fn forward_close_reply(serial: u16) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&serial.to_le_bytes());
    d.extend_from_slice(&0x4du16.to_le_bytes());
    d.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    d.extend_from_slice(&[0, 0]);
    rsp(0x4e, 0, &[], &d)
}

fn identity_reply_data(name: &str) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&1u16.to_le_bytes()); // vendor
    d.extend_from_slice(&0x0eu16.to_le_bytes()); // PLC
    d.extend_from_slice(&55u16.to_le_bytes());
    d.extend_from_slice(&[20, 11]);
    d.extend_from_slice(&0x0060u16.to_le_bytes());
    d.extend_from_slice(&0x00c0_ffeeu32.to_le_bytes());
    d.push(name.len() as u8);
    d.extend_from_slice(name.as_bytes());
    d
}

// ------------------------------------------------------------------ runs

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c.compile("urn:plantshield:events", &mut schemas).unwrap();
    (schemas, idx)
}

fn run_frames(frames: &[(i64, Vec<u8>)], extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    write_pcap(&p, frames);
    let mut args = vec!["--no-progress"];
    args.extend_from_slice(extra);
    args.push(p.to_str().unwrap());
    let r = analyze(&args);
    assert!(r.status.success(), "{}", r.stderr);
    if std::env::var_os("ENIP_DEBUG").is_some() {
        for e in &r.events {
            eprintln!("EV {e}");
        }
    }
    let (schemas, idx) = schema();
    for e in &r.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
    r
}

fn run(c: &Conversation) -> Run {
    run_frames(&c.frames, &[])
}

fn conv() -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 50123, ip4(10, 0, 0, 10), 44818);
    c.handshake();
    c
}

fn enip(r: &Run) -> Vec<&Value> {
    r.of_type("enip")
}

fn transactions(r: &Run) -> Vec<&Value> {
    enip(r)
        .into_iter()
        .filter(|e| e["enip"].get("io").is_none())
        .collect()
}

// ----------------------------------------------------------------- tests

/// Three requests in one segment, their replies in one segment, and one
/// request whose header itself is split over three segments: each is one
/// transaction, paired by sender context.
#[test]
fn several_messages_per_segment_and_one_across_three_segments() {
    let mut c = conv();
    c.client(&encap(0x65, 0, 1, 0, &[1, 0, 0, 0]))
        .server(&encap(0x65, SESSION, 1, 0, &[1, 0, 0, 0]));
    let mut three = Vec::new();
    let mut replies = Vec::new();
    for (ctx, attr) in [(10u64, 1u8), (11, 2), (12, 7)] {
        let path = [0x20, 0x01, 0x24, 0x01, 0x30, attr];
        three.extend(rr(ctx, &req(0x0e, &path, &[])));
        replies.extend(rr(ctx, &rsp(0x0e, 0, &[], &[attr, 0])));
    }
    c.client(&three);
    // Replies in another order than the requests: the context pairs them.
    let one = replies.len() / 3;
    let mut shuffled = replies[2 * one..].to_vec();
    shuffled.extend_from_slice(&replies[..2 * one]);
    c.server(&shuffled);
    let big = rr(
        13,
        &req(0x10, &[0x20, 0x01, 0x24, 0x01, 0x30, 0x07], &[b'x'; 200]),
    );
    c.client(&big[..10]).client(&big[10..20]).client(&big[20..]);
    c.server(&rr(13, &rsp(0x10, 0x0e, &[], &[])));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    assert_eq!(t.len(), 5, "{:#?}", t);
    assert_eq!(t[0]["enip"]["command_name"], "register_session");
    assert_eq!(t[0]["enip"]["session_handle"], SESSION);
    assert_eq!(t[0]["ics"]["operation"], "session");
    let ctx = |e: &Value| e["enip"]["sender_context"].as_str().unwrap().to_string();
    let mut by_ctx: Vec<(String, u64, String)> = t[1..4]
        .iter()
        .map(|e| {
            (
                ctx(e),
                e["enip"]["cip"]["attribute"].as_u64().unwrap(),
                e["enip"]["cip"]["response_data"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    by_ctx.sort();
    assert_eq!(
        by_ctx,
        vec![
            ("0a00000000000000".into(), 1, "0100".into()),
            ("0b00000000000000".into(), 2, "0200".into()),
            ("0c00000000000000".into(), 7, "0700".into()),
        ]
    );
    for e in &t[1..4] {
        assert_eq!(e["ics"]["function"], "get_attribute_single");
        assert_eq!(e["ics"]["operation"], "read");
        assert_eq!(e["ics"]["status"], "ok");
        assert!(e["enip"]["latency_us"].is_u64());
    }
    // The split request, answered with "attribute not settable".
    assert_eq!(t[4]["ics"]["function"], "set_attribute_single");
    assert_eq!(t[4]["ics"]["operation"], "write");
    assert_eq!(t[4]["ics"]["status"], "exception");
    assert_eq!(t[4]["ics"]["exception_code"], 0x0e);
    assert_eq!(
        t[4]["enip"]["cip"]["general_status_name"],
        "attribute_not_settable"
    );
    assert_eq!(r.anomalies("invalid_header"), 0);
}

/// Pipelined requests that share a sender context (here all zeros) pair
/// with their replies in order; a retransmitted connected request (same
/// sequence count) ends its earlier copy.
#[test]
fn shared_contexts_pair_in_order_and_retransmissions_supersede() {
    let mut c = conv();
    let mut two = Vec::new();
    for attr in [1u8, 2] {
        two.extend(rr(
            0,
            &req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, attr], &[]),
        ));
    }
    c.client(&two);
    c.server(&rr(0, &rsp(0x0e, 0, &[], &[1, 0])));
    c.server(&rr(0, &rsp(0x0e, 0, &[], &[2, 0])));
    let read = req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, 9], &[]);
    c.client(&unit(0x44, 5, &read));
    c.client(&unit(0x44, 5, &read));
    c.server(&unit(0x45, 5, &rsp(0x0e, 0, &[], &[9, 0])));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    assert_eq!(t.len(), 4, "{t:#?}");
    for (e, attr) in t[..2].iter().zip([1, 2]) {
        assert_eq!(e["enip"]["cip"]["attribute"], attr);
        assert_eq!(
            e["enip"]["cip"]["response_data"],
            format!("{attr:02x}00").as_str()
        );
    }
    assert_eq!(t[2]["ics"]["status"], "no_response");
    assert_eq!(t[2]["enip"]["sequence_count"], 5);
    assert_eq!(t[3]["ics"]["status"], "ok");
    assert_eq!(t[3]["enip"]["response_connection_id"], 0x45);
}

/// A header with non-zero options and one with garbage: reported, and the
/// session finds the next message in the same segment and in later ones.
#[test]
fn invalid_headers_are_reported_and_the_stream_resynchronises() {
    let mut c = conv();
    c.client(&encap(0x04, 0, 1, 0, &[]));
    c.server(&encap(0x04, 0, 1, 0, &[0, 0]));
    let mut seg = encap(0x63, 0, 1, 0, &[]);
    seg[20] = 1; // options
    seg.extend(rr(2, &req(0x01, IDENTITY_1, &[])));
    c.client(&seg);
    c.server(&rr(2, &rsp(0x01, 0, &[], &identity_reply_data("PLC-A"))));
    c.client(b"\x00\x00\xff\xff garbage with no header at all, not even close");
    c.client(&rr(3, &req(0x01, IDENTITY_1, &[])));
    c.server(&rr(3, &rsp(0x01, 0, &[], &identity_reply_data("PLC-B"))));
    let r = run(&c);
    let t = transactions(&r);
    // ListServices reply without items: malformed, and reported.
    assert_eq!(t[0]["ics"]["function"], "list_services");
    assert_eq!(t[0]["ics"]["status"], "malformed");
    assert_eq!(r.anomalies("malformed_message"), 1);
    let names: Vec<&str> = t[1..]
        .iter()
        .map(|e| {
            e["enip"]["cip"]["identity"]["product_name"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(names, ["PLC-A", "PLC-B"]);
    let id = &t[1]["enip"]["cip"]["identity"];
    assert_eq!(id["vendor_name"], "rockwell_automation_allen_bradley");
    assert_eq!(id["device_type_name"], "programmable_logic_controller");
    assert_eq!(id["revision"], "20.11");
    assert_eq!(id["serial_number"], "00c0ffee");
    assert_eq!(r.anomalies("invalid_header"), 2);
}

/// Bytes lost in the middle of a message: the session drops the partial
/// message and resumes at the next one.
#[test]
fn gap_inside_a_message_then_resynchronisation() {
    let mut c = conv();
    let lost = rr(1, &req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, 0x01], &[]));
    c.client(&lost[..30]);
    c.cseq = c.cseq.wrapping_add((lost.len() - 30) as u32); // never captured
    c.server(&rr(1, &rsp(0x0e, 0, &[], &[1, 0])));
    c.client(&rr(
        2,
        &req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, 0x07], &[]),
    ));
    c.server(&rr(2, &rsp(0x0e, 0, &[], &[7, 0])));
    c.fin();
    let r = run(&c);
    assert_eq!(r.anomalies("gap"), 1);
    let t = transactions(&r);
    // The reply to the lost request stands alone; the next pair is whole.
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(t[0]["enip"]["request_missing"], true);
    assert_eq!(t[0]["enip"]["sender_context"], "0100000000000000");
    assert_eq!(t[1]["enip"]["cip"]["attribute"], 7);
    assert_eq!(t[1]["ics"]["status"], "ok");
}

/// Connected messages pair by sequence count, on the connection the
/// Forward_Open set up; a reply on another connection does not pair.
#[test]
fn connected_messages_pair_by_connection_and_sequence_count() {
    let (o_t, t_o) = (0x0011_2233u32, 0x8000_0007u32);
    let mut c = conv();
    c.client(&rr(1, &forward_open(7, t_o)));
    c.server(&rr(1, &forward_open_reply(7, o_t, t_o)));
    let read = |attr: u8| req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, attr], &[]);
    let mut two = unit(o_t, 1, &read(1));
    two.extend(unit(o_t, 2, &read(2)));
    c.client(&two);
    c.server(&unit(t_o, 2, &rsp(0x0e, 0, &[], &[2, 0])));
    c.server(&unit(t_o, 1, &rsp(0x0e, 0, &[], &[1, 0])));
    // Same sequence count, but the reply comes on a foreign connection.
    c.client(&unit(o_t, 3, &read(3)));
    c.server(&unit(0x0bad_0bad, 3, &rsp(0x0e, 0, &[], &[3, 0])));
    c.client(&rr(2, &forward_close(7)));
    c.server(&rr(2, &forward_close_reply(7)));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    let fo = &t[0]["enip"]["cip"];
    assert_eq!(t[0]["ics"]["function"], "forward_open");
    assert_eq!(t[0]["ics"]["operation"], "session");
    assert_eq!(fo["forward_open"]["o_t_connection_id"], o_t);
    assert_eq!(fo["forward_open"]["t_o_connection_id"], t_o);
    assert_eq!(fo["forward_open"]["connection_serial"], 7);
    assert_eq!(fo["forward_open"]["o_t_rpi_us"], 500_000);
    assert_eq!(fo["forward_open"]["transport_class"], 3);
    assert_eq!(
        fo["forward_open"]["connection_path"],
        "port 1 link 0/class 0x02/instance 1"
    );
    let connected: Vec<&&Value> = t.iter().filter(|e| e["enip"]["command"] == 0x70).collect();
    let pairs: Vec<(Value, Value, Value)> = connected
        .iter()
        .map(|e| {
            (
                e["enip"]["sequence_count"].clone(),
                e["enip"]["cip"]["attribute"].clone(),
                e["enip"]["cip"]["response_data"].clone(),
            )
        })
        .collect();
    // Seq 2 is answered first; seq 3's request ends unanswered at flow end
    // and the foreign reply stands alone.
    assert!(
        pairs.contains(&(json!(1), json!(1), json!("0100"))),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&(json!(2), json!(2), json!("0200"))),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&(json!(3), Value::Null, json!("0300"))),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&(json!(3), json!(3), Value::Null)),
        "{pairs:?}"
    );
    for e in &connected {
        let x = &e["enip"];
        match x["sequence_count"].as_u64() {
            // Paired on the open connection.
            Some(1 | 2) => {
                assert_eq!(x["connection_serial"], 7, "{e}");
                assert_eq!(x["connection_id"], o_t);
                assert_eq!(x["response_connection_id"], t_o);
            }
            // The foreign reply, and the request ended after the close.
            _ => assert!(x.get("connection_serial").is_none(), "{e}"),
        }
    }
    let close = t
        .iter()
        .find(|e| e["ics"]["function"] == "forward_close")
        .unwrap();
    assert_eq!(close["ics"]["status"], "ok");
    assert_eq!(
        close["enip"]["cip"]["forward_close"]["connection_serial"],
        7
    );
    assert_eq!(t.last().unwrap()["ics"]["status"], "no_response");
}

/// A Forward_Open for class 1 I/O: the reply's socket address items say
/// where each direction's datagrams go.
#[test]
fn forward_open_for_io_reports_socket_addresses() {
    let mut fo = forward_open(9, 0x8000_0009);
    let n = fo.len();
    fo[n - 8] = 0x01; // transport class 1, cyclic trigger
    let sockaddr = |ip: [u8; 4]| {
        let mut v = vec![0, 2, 0x08, 0xae];
        v.extend_from_slice(&ip);
        v.extend_from_slice(&[0; 8]);
        v
    };
    let mut d = vec![0, 0, 0, 0, 0, 0, 4, 0];
    item(&mut d, 0x0000, &[]);
    item(&mut d, 0x00b2, &forward_open_reply(9, 0x2001, 0x8000_0009));
    item(&mut d, 0x8000, &sockaddr([10, 0, 0, 10]));
    item(&mut d, 0x8001, &sockaddr([239, 192, 1, 2]));
    let mut c = conv();
    c.client(&rr(1, &fo));
    c.server(&encap(0x6f, SESSION, 1, 0, &d));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    assert_eq!(t.len(), 1);
    let x = &t[0]["enip"];
    assert_eq!(x["cip"]["forward_open"]["transport_class"], 1);
    assert_eq!(
        x["sockaddr_o_t"],
        json!({"address": "10.0.0.10", "port": 2222})
    );
    assert_eq!(
        x["sockaddr_t_o"],
        json!({"address": "239.192.1.2", "port": 2222})
    );
    assert!(x.get("flags").is_none(), "{x}");
}

/// An Unconnected_Send is reported as the request it carries; a routing
/// failure answered by the Connection Manager is an exception.
#[test]
fn unconnected_send_is_unwrapped_and_routing_errors_are_exceptions() {
    let wrap = |inner: &[u8]| {
        let mut d = vec![0x07, 0xe9];
        d.extend_from_slice(&(inner.len() as u16).to_le_bytes());
        d.extend_from_slice(inner);
        if inner.len() % 2 == 1 {
            d.push(0);
        }
        d.extend_from_slice(&[1, 0, 0x01, 0x00]);
        req(0x52, CM, &d)
    };
    let mut c = conv();
    let gas = req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, 0x07], &[]);
    c.client(&rr(1, &wrap(&gas)));
    c.server(&rr(1, &rsp(0x0e, 0, &[], &[4, b'P', b'L', b'C', b'1'])));
    c.client(&rr(2, &wrap(&gas)));
    c.server(&rr(2, &rsp(0x52, 0x01, &[0x0204], &[1, 0])));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    assert_eq!(t.len(), 2);
    for e in &t {
        assert_eq!(e["ics"]["function_code"], 0x0e);
        assert_eq!(e["ics"]["function"], "get_attribute_single");
        let us = &e["enip"]["cip"]["unconnected_send"];
        assert_eq!(us["route_path"], "port 1 link 0");
        assert_eq!(us["timeout_ticks"], 0xe9);
        assert!(e["enip"].get("flags").is_none(), "{e}");
    }
    assert_eq!(t[0]["ics"]["status"], "ok");
    assert_eq!(t[1]["ics"]["status"], "exception");
    assert_eq!(t[1]["ics"]["exception_code"], 1);
    let cip = &t[1]["enip"]["cip"];
    assert_eq!(cip["response_service"], 0x52);
    assert_eq!(cip["response_service_name"], "unconnected_send");
    assert_eq!(cip["extended_status"], json!([0x0204]));
}

/// Logix tag services: tag names, element counts, types and values;
/// a fragmented read that says "more follows" is not an exception.
#[test]
fn tag_reads_and_writes_carry_names_and_values() {
    let mut c = conv();
    let speed = [sym("Line1"), sym("Speed")].concat();
    c.client(&rr(1, &req(0x4c, &speed, &[1, 0])));
    c.server(&rr(1, &rsp(0x4c, 0, &[], &[0xca, 0, 0, 0, 0x48, 0x41])));
    let counts = [sym("Counts"), vec![0x28, 2]].concat();
    let mut w = vec![0xc4, 0, 3, 0];
    for v in [-1i32, 0, 7] {
        w.extend_from_slice(&v.to_le_bytes());
    }
    c.client(&rr(2, &req(0x4d, &counts, &w)));
    c.server(&rr(2, &rsp(0x4d, 0, &[], &[])));
    let big = sym("Recipe");
    c.client(&rr(3, &req(0x52, &big, &[100, 0, 0, 0, 0, 0])));
    c.server(&rr(3, &rsp(0x52, 0x06, &[], &[0xc3, 0, 5, 0, 0xfb, 0xff])));
    c.client(&rr(4, &req(0x4e, &sym("Flags"), &[1, 0, 0x04, 0xfe])));
    c.server(&rr(4, &rsp(0x4e, 0, &[], &[])));
    c.client(&rr(5, &req(0x4c, &sym("Missing"), &[1, 0])));
    c.server(&rr(5, &rsp(0x4c, 0x04, &[0x0000], &[])));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    assert_eq!(t.len(), 5);
    let cip = |i: usize| &t[i]["enip"]["cip"];
    assert_eq!(cip(0)["tag"], "Line1.Speed");
    assert_eq!(cip(0)["elements"], 1);
    assert_eq!(cip(0)["data_type_name"], "real");
    assert_eq!(cip(0)["values_read"], json!([12.5]));
    assert_eq!(t[0]["ics"]["operation"], "read");
    assert_eq!(cip(1)["tag"], "Counts[2]");
    assert_eq!(cip(1)["data_type_name"], "dint");
    assert_eq!(cip(1)["elements"], 3);
    assert_eq!(cip(1)["values_written"], json!([-1, 0, 7]));
    assert_eq!(t[1]["ics"]["function"], "write_tag");
    assert_eq!(t[1]["ics"]["operation"], "write");
    assert_eq!(t[2]["ics"]["function"], "read_tag_fragmented");
    assert_eq!(t[2]["ics"]["status"], "ok");
    assert_eq!(cip(2)["general_status_name"], "partial_transfer");
    assert_eq!(cip(2)["values_read"], json!([5, -5]));
    assert_eq!(t[3]["ics"]["function"], "read_modify_write_tag");
    assert_eq!(t[3]["ics"]["operation"], "write");
    assert_eq!(cip(3)["or_mask"], "04");
    assert_eq!(cip(3)["and_mask"], "fe");
    assert_eq!(t[4]["ics"]["status"], "exception");
    assert_eq!(t[4]["ics"]["exception_code"], 4);
    assert_eq!(cip(4)["general_status_name"], "path_segment_error");
}

fn msp(entries: &[Vec<u8>]) -> Vec<u8> {
    let n = entries.len();
    let mut d = (n as u16).to_le_bytes().to_vec();
    let mut off = 2 + 2 * n;
    for e in entries {
        d.extend_from_slice(&(off as u16).to_le_bytes());
        off += e.len();
    }
    for e in entries {
        d.extend_from_slice(e);
    }
    d
}

/// A Multiple_Service_Packet lists each embedded service with its reply;
/// its operation is the weightiest embedded one; entries are bounded.
#[test]
fn multiple_service_packet_entries_and_bounds() {
    let n = 40;
    let mut qs: Vec<Vec<u8>> = (0..n)
        .map(|i| req(0x0e, &[0x20, 0x01, 0x24, 0x01, 0x30, i as u8], &[]))
        .collect();
    qs.push(req(
        0x10,
        &[0x20, 0xf5, 0x24, 0x01, 0x30, 0x05],
        &[1, 2, 3, 4],
    ));
    let mut rs: Vec<Vec<u8>> = (0..n).map(|i| rsp(0x0e, 0, &[], &[i as u8])).collect();
    rs.push(rsp(0x10, 0x0f, &[], &[]));
    let mut c = conv();
    c.client(&rr(9, &req(0x0a, MR, &msp(&qs))));
    c.server(&rr(9, &rsp(0x0a, 0x1e, &[], &msp(&rs))));
    c.fin();
    let small = run_frames(&c.frames, &[]);
    let e = &transactions(&small)[0];
    assert_eq!(e["ics"]["function"], "multiple_service_packet");
    assert_eq!(e["ics"]["operation"], "write");
    assert_eq!(e["ics"]["status"], "exception");
    assert_eq!(e["ics"]["exception_code"], 0x1e);
    assert_eq!(e["enip"]["cip"]["service_count"], n + 1);
    assert_eq!(e["enip"]["cip"]["reply_count"], n + 1);
    assert_eq!(e["enip"]["cip"]["services"].as_array().unwrap().len(), 32);
    assert_eq!(e["enip"]["values_truncated"], true);
    let all = run_frames(&c.frames, &["--max-values", "100"]);
    let e = &transactions(&all)[0];
    let s = e["enip"]["cip"]["services"].as_array().unwrap();
    assert_eq!(s.len(), n + 1);
    assert!(e["enip"].get("values_truncated").is_none());
    assert_eq!(s[5]["attribute"], 5);
    assert_eq!(s[5]["response_data"], "05");
    let last = &s[n];
    assert_eq!(last["service_name"], "set_attribute_single");
    assert_eq!(last["class_name"], "tcp_ip_interface");
    assert_eq!(last["general_status_name"], "privilege_violation");
}

/// NOP and UnRegisterSession are never answered: logged at once, not as
/// missing replies. An error status without data is an exception.
#[test]
fn unanswered_commands_and_encapsulation_errors() {
    let mut c = conv();
    c.client(&encap(0x00, SESSION, 0, 0, b"keepalive"));
    let mut bad = rr(4, &req(0x01, IDENTITY_1, &[]));
    bad[4..8].copy_from_slice(&0xdead_beefu32.to_le_bytes());
    c.client(&bad);
    c.server(&encap(0x6f, 0xdead_beef, 4, 0x64, &[]));
    c.client(&encap(0x66, SESSION, 0, 0, &[]));
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    assert_eq!(t.len(), 3);
    assert_eq!(t[0]["ics"]["function"], "nop");
    assert_eq!(t[0]["ics"]["status"], "ok");
    assert_eq!(t[0]["enip"]["data"], "6b656570616c697665");
    assert!(t[0]["enip"].get("response_missing").is_none());
    assert_eq!(t[1]["ics"]["status"], "exception");
    assert_eq!(t[1]["ics"]["exception_code"], 0x64);
    assert_eq!(t[1]["enip"]["status_name"], "invalid_session_handle");
    assert_eq!(t[1]["ics"]["function"], "get_attributes_all");
    assert_eq!(t[2]["ics"]["function"], "unregister_session");
    assert_eq!(t[2]["ics"]["operation"], "session");
    assert!(t[2]["enip"].get("response_missing").is_none());
}

fn ep(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Endpoints {
    Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: ip4(src[0], src[1], src[2], src[3]),
        dst_ip: ip4(dst[0], dst[1], dst[2], dst[3]),
        src_port: sport,
        dst_port: dport,
        vlan: None,
    }
}

fn io_datagram(conn: u32, seq: u32, data: &[u8]) -> Vec<u8> {
    let mut v = 2u16.to_le_bytes().to_vec();
    let mut a = conn.to_le_bytes().to_vec();
    a.extend_from_slice(&seq.to_le_bytes());
    item(&mut v, 0x8002, &a);
    item(&mut v, 0x00b1, data);
    v
}

/// ListIdentity over UDP broadcast (the reply comes back on another flow,
/// so it stands alone) and implicit I/O datagrams counted per connection.
#[test]
fn udp_list_identity_and_implicit_io() {
    let t0 = 1_700_000_000_000_000_000i64;
    let mut frames = Vec::new();
    let client = [10, 0, 0, 20];
    let plc = [10, 0, 0, 10];
    frames.push((
        t0,
        craft::udp_frame(
            &ep(client, 50000, [255, 255, 255, 255], 44818),
            &encap(0x63, 0, 7, 0, &[]),
        ),
    ));
    let mut li = 1u16.to_le_bytes().to_vec();
    li.extend_from_slice(&[0, 2, 0xaf, 0x12, 10, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0]);
    li.extend_from_slice(&identity_reply_data("1769-L33ER"));
    li.push(3);
    let mut d = 1u16.to_le_bytes().to_vec();
    item(&mut d, 0x000c, &li);
    frames.push((
        t0 + 1_000_000,
        craft::udp_frame(&ep(plc, 44818, client, 50000), &encap(0x63, 0, 7, 0, &d)),
    ));
    // I/O: 3 datagrams O->T on one connection, 4 T->O with one lost.
    for (i, seq) in [100u32, 101, 102].into_iter().enumerate() {
        frames.push((
            t0 + 2_000_000 + i as i64,
            craft::udp_frame(
                &ep(client, 2222, plc, 2222),
                &io_datagram(0x0011_0001, seq, &[1, 0, 0, 0, 0, 0, 9, 9]),
            ),
        ));
    }
    for (i, seq) in [500u32, 501, 503, 504].into_iter().enumerate() {
        frames.push((
            t0 + 3_000_000 + i as i64,
            craft::udp_frame(
                &ep(plc, 2222, client, 2222),
                &io_datagram(0x8000_0002, seq, &[seq as u8, 0, 1, 2]),
            ),
        ));
    }
    // A datagram on the I/O port that is neither I/O nor encapsulation.
    frames.push((
        t0 + 4_000_000,
        craft::udp_frame(&ep(client, 2222, plc, 2222), &[1, 2, 3]),
    ));
    let r = run_frames(&frames, &[]);
    let mut t = transactions(&r);
    assert_eq!(t.len(), 2);
    // The lone reply is logged when it arrives, the request when the flow ends.
    t.reverse();
    assert_eq!(t[0]["ics"]["function"], "list_identity");
    assert_eq!(t[0]["ics"]["operation"], "discovery");
    assert_eq!(t[0]["ics"]["status"], "no_response");
    assert_eq!(t[0]["dest_ip"], "255.255.255.255");
    assert_eq!(t[0]["proto"], "UDP");
    assert_eq!(t[1]["enip"]["request_missing"], true);
    assert_eq!(t[1]["src_ip"], "10.0.0.20");
    let id = &t[1]["enip"]["identity"];
    assert_eq!(id["product_name"], "1769-L33ER");
    assert_eq!(id["socket_address"], "10.0.0.10");
    assert_eq!(id["socket_port"], 44818);
    assert_eq!(id["state_name"], "operational");
    let io: Vec<&Value> = enip(&r)
        .into_iter()
        .filter(|e| e["enip"].get("io").is_some())
        .collect();
    assert_eq!(io.len(), 2);
    for e in &io {
        assert!(e.get("ics").is_none());
    }
    let o_t = io
        .iter()
        .find(|e| e["enip"]["io"]["connection_id"] == 0x0011_0001u32)
        .unwrap();
    assert_eq!(o_t["enip"]["io"]["packets"], 3);
    assert_eq!(o_t["enip"]["io"]["bytes"], 24);
    assert_eq!(o_t["enip"]["io"]["sequence_gaps"], 0);
    assert_eq!(o_t["enip"]["io"]["first_sequence"], 100);
    assert_eq!(o_t["enip"]["io"]["last_sequence"], 102);
    let t_o = io
        .iter()
        .find(|e| e["enip"]["io"]["connection_id"] == 0x8000_0002u32)
        .unwrap();
    assert_eq!(t_o["enip"]["io"]["packets"], 4);
    assert_eq!(t_o["enip"]["io"]["sequence_gaps"], 1);
    assert_ne!(
        t_o["enip"]["io"]["direction"],
        o_t["enip"]["io"]["direction"]
    );
    assert_eq!(r.anomalies("invalid_header"), 1);
    // The I/O flow logs no transactions: the reports are not transactions.
    let io_flow = r
        .of_type("flow")
        .into_iter()
        .find(|f| f["src_port"] == 2222)
        .unwrap();
    assert_eq!(io_flow["flow"]["transactions"], 0);
}

/// More unanswered requests than the pending cap, more Forward_Opens than
/// the connection table: bounded, reported, every request still logged.
#[test]
fn pending_and_connection_tables_are_bounded() {
    let mut c = conv();
    for ctx in 0..70u64 {
        c.client(&rr(1000 + ctx, &req(0x01, IDENTITY_1, &[])));
    }
    for serial in 0..130u16 {
        let t_o = 0x8000_0000 | u32::from(serial);
        c.client(&rr(u64::from(serial), &forward_open(serial, t_o)));
        c.server(&rr(
            u64::from(serial),
            &forward_open_reply(serial, 0x10_0000 + u32::from(serial), t_o),
        ));
    }
    c.fin();
    let r = run(&c);
    let t = transactions(&r);
    let unanswered = t
        .iter()
        .filter(|e| e["ics"]["status"] == "no_response")
        .count();
    assert_eq!(unanswered, 70);
    // 70 waiting plus the Forward_Opens arriving: the oldest are ended.
    assert_eq!(r.anomalies("pending_table_full"), 70 - 63);
    assert_eq!(
        t.iter()
            .filter(|e| e["ics"]["function"] == "forward_open" && e["ics"]["status"] == "ok")
            .count(),
        130
    );
    assert_eq!(r.anomalies("connection_table_full"), 130 - 128);
}
