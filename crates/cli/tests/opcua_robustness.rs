//! OPC UA sessions on crafted captures with exact TCP sequencing: chunks
//! joined across segments, a chunk larger than what is kept, a gap and the
//! resynchronisation after it, Hello refused, a ServiceFault, a channel
//! opened before the capture, detection off port 4840, and what the
//! inventory learns. Every event validates against the published schema;
//! learning each capture as a baseline and checking it raises no alert.

mod common;

use common::*;
use serde_json::Value;

// ---------------------------------------------------------------- builders

fn string(v: &mut Vec<u8>, s: &str) {
    v.extend_from_slice(&(s.len() as i32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
}

fn null(v: &mut Vec<u8>) {
    v.extend_from_slice(&(-1i32).to_le_bytes());
}

fn message(kind: &[u8; 3], chunk: u8, body: &[u8]) -> Vec<u8> {
    let mut v = kind.to_vec();
    v.push(chunk);
    v.extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn hello() -> Vec<u8> {
    let mut b = Vec::new();
    for x in [0u32, 65536, 65536, 0, 0] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    string(&mut b, "opc.tcp://plc.example:4840");
    message(b"HEL", b'F', &b)
}

fn ack() -> Vec<u8> {
    let mut b = Vec::new();
    for x in [0u32, 65536, 65536, 0, 0] {
        b.extend_from_slice(&x.to_le_bytes());
    }
    message(b"ACK", b'F', &b)
}

/// A four-byte NodeId (namespace 0).
fn type_id(v: &mut Vec<u8>, id: u16) {
    v.extend_from_slice(&[0x01, 0x00]);
    v.extend_from_slice(&id.to_le_bytes());
}

fn request_header(v: &mut Vec<u8>, handle: u32) {
    v.extend_from_slice(&[0x00, 0x00]); // authentication token: null NodeId
    v.extend_from_slice(&0i64.to_le_bytes());
    v.extend_from_slice(&handle.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    null(v);
    v.extend_from_slice(&5000u32.to_le_bytes());
    v.extend_from_slice(&[0x00, 0x00, 0x00]); // additional header
}

fn response_header(v: &mut Vec<u8>, handle: u32, result: u32) {
    v.extend_from_slice(&0i64.to_le_bytes());
    v.extend_from_slice(&handle.to_le_bytes());
    v.extend_from_slice(&result.to_le_bytes());
    v.push(0x00); // diagnostic info
    null(v); // string table
    v.extend_from_slice(&[0x00, 0x00, 0x00]);
}

const POLICY_NONE: &str = "http://opcfoundation.org/UA/SecurityPolicy#None";

fn opn(request: bool, channel: u32) -> Vec<u8> {
    let mut b = channel.to_le_bytes().to_vec();
    string(&mut b, POLICY_NONE);
    null(&mut b);
    null(&mut b);
    b.extend_from_slice(&1u32.to_le_bytes()); // sequence number
    b.extend_from_slice(&1u32.to_le_bytes()); // request id
    if request {
        type_id(&mut b, 446);
        request_header(&mut b, 1);
        for x in [0u32, 0, 1] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        null(&mut b);
        b.extend_from_slice(&600_000u32.to_le_bytes());
    } else {
        type_id(&mut b, 449);
        response_header(&mut b, 1, 0);
        for x in [0u32, channel, 1] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(&0i64.to_le_bytes());
        b.extend_from_slice(&600_000u32.to_le_bytes());
        null(&mut b);
    }
    message(b"OPN", b'F', &b)
}

/// The body of a MSG chunk: sequence header and `service`.
fn msg(channel: u32, chunk: u8, seq: u32, request_id: u32, service: &[u8]) -> Vec<u8> {
    let mut b = channel.to_le_bytes().to_vec();
    b.extend_from_slice(&1u32.to_le_bytes()); // token
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&request_id.to_le_bytes());
    b.extend_from_slice(service);
    message(b"MSG", chunk, &b)
}

fn read_request(handle: u32, node: u16) -> Vec<u8> {
    let mut s = Vec::new();
    type_id(&mut s, 631);
    request_header(&mut s, handle);
    s.extend_from_slice(&0f64.to_le_bytes());
    s.extend_from_slice(&2u32.to_le_bytes());
    s.extend_from_slice(&1i32.to_le_bytes());
    s.extend_from_slice(&[0x01, 0x02]);
    s.extend_from_slice(&node.to_le_bytes());
    s.extend_from_slice(&13u32.to_le_bytes());
    null(&mut s);
    s.extend_from_slice(&[0, 0]);
    null(&mut s);
    s
}

fn read_response(handle: u32, padding: usize) -> Vec<u8> {
    let mut s = Vec::new();
    type_id(&mut s, 634);
    response_header(&mut s, handle, 0);
    s.extend_from_slice(&1i32.to_le_bytes());
    s.push(0x00); // an empty DataValue
    null(&mut s);
    s.resize(s.len() + padding, 0);
    s
}

fn app_description(v: &mut Vec<u8>, uri: &str, product: &str, name: &str, kind: u32) {
    string(v, uri);
    string(v, product);
    v.push(0x02);
    string(v, name);
    v.extend_from_slice(&kind.to_le_bytes());
    null(v);
    null(v);
    null(v);
}

fn get_endpoints_request(handle: u32) -> Vec<u8> {
    let mut s = Vec::new();
    type_id(&mut s, 428);
    request_header(&mut s, handle);
    string(&mut s, "opc.tcp://plc.example:4840");
    null(&mut s);
    null(&mut s);
    s
}

fn get_endpoints_response(handle: u32, endpoints: u32) -> Vec<u8> {
    let mut s = Vec::new();
    type_id(&mut s, 431);
    response_header(&mut s, handle, 0);
    s.extend_from_slice(&(endpoints as i32).to_le_bytes());
    for i in 0..endpoints {
        string(&mut s, "opc.tcp://plc.example:4840");
        app_description(
            &mut s,
            "urn:example:plc",
            "http://example.com/PlcServer",
            "Example PLC UA Server",
            0,
        );
        // A certificate, so the message needs several chunks.
        s.extend_from_slice(&600i32.to_le_bytes());
        s.resize(s.len() + 600, i as u8);
        s.extend_from_slice(&1u32.to_le_bytes());
        string(&mut s, POLICY_NONE);
        s.extend_from_slice(&0i32.to_le_bytes());
        null(&mut s);
        s.push(1);
    }
    s
}

fn create_session_request(handle: u32) -> Vec<u8> {
    let mut s = Vec::new();
    type_id(&mut s, 461);
    request_header(&mut s, handle);
    app_description(
        &mut s,
        "urn:example:hmi",
        "http://example.com/Hmi",
        "Example HMI",
        1,
    );
    null(&mut s);
    string(&mut s, "opc.tcp://plc.example:4840");
    string(&mut s, "hmi session");
    s
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c.compile("urn:plantshield:events", &mut schemas).unwrap();
    (schemas, idx)
}

fn run(c: &Conversation) -> (Run, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let p = dir.join("opcua.pcap");
    c.write(&p);
    let r = analyze_file(&p);
    assert!(r.status.success(), "{}", r.stderr);
    let (schemas, idx) = schema();
    for e in &r.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
    learn_then_check_raises_nothing(&p);
    (r, p)
}

fn conv(port: u16) -> Conversation {
    let mut c = Conversation::new(ip4(10, 0, 0, 20), 50123, ip4(10, 0, 0, 10), port);
    c.handshake();
    c
}

/// Hello, Acknowledge and an OpenSecureChannel with policy None.
fn opened(port: u16) -> Conversation {
    let mut c = conv(port);
    c.client(&hello()).server(&ack());
    c.client(&opn(true, 0)).server(&opn(false, 7));
    c
}

fn services(r: &Run) -> Vec<&Value> {
    r.of_type("opcua")
        .into_iter()
        .filter(|e| e["opcua"]["kind"] == "service")
        .collect()
}

// ----------------------------------------------------------------- tests

/// A GetEndpoints response in three chunks, its bytes cut into segments at
/// odd places (one cut inside a chunk header): one transaction, decoded
/// from the joined chunks.
#[test]
fn chunks_joined_across_segments() {
    let mut c = opened(4840);
    c.client(&msg(7, b'F', 2, 2, &get_endpoints_request(2)));
    let body = get_endpoints_response(2, 3);
    let third = body.len() / 3;
    let chunks = [
        msg(7, b'C', 3, 2, &body[..third]),
        msg(7, b'C', 4, 2, &body[third..2 * third]),
        msg(7, b'F', 5, 2, &body[2 * third..]),
    ];
    let stream: Vec<u8> = chunks.concat();
    for part in stream.chunks(701) {
        c.server(part);
    }
    c.fin();
    let (r, _) = run(&c);
    let s = services(&r);
    assert_eq!(s.len(), 1, "{s:#?}");
    let o = &s[0]["opcua"];
    assert_eq!(o["request_chunks"], 1);
    assert_eq!(o["response_chunks"], 3);
    assert_eq!(o["endpoint_count"], 3);
    assert_eq!(o["endpoints"].as_array().unwrap().len(), 3);
    assert_eq!(o["server"]["application_name"], "Example PLC UA Server");
    assert_eq!(s[0]["ics"]["status"], "ok");
    assert!(o.get("flags").is_none(), "{o}");
    assert!(r.of_type("anomaly").is_empty());
}

/// A response chunk of 70,000 octets: its first 64 KiB are read, the rest
/// skipped, and the next exchange is read normally.
#[test]
fn oversized_chunk_is_read_in_part() {
    let mut c = opened(4840);
    c.client(&msg(7, b'F', 2, 2, &read_request(2, 1001)));
    let big = msg(7, b'F', 3, 2, &read_response(2, 70_000));
    for part in big.chunks(1460) {
        c.server(part);
    }
    c.client(&msg(7, b'F', 3, 3, &read_request(3, 1002)));
    c.server(&msg(7, b'F', 4, 3, &read_response(3, 0)));
    c.fin();
    let (r, _) = run(&c);
    let s = services(&r);
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0]["opcua"]["flags"],
        serde_json::json!(["chunk_truncated"])
    );
    assert_eq!(s[0]["ics"]["status"], "ok");
    assert_eq!(s[0]["opcua"]["node_id"], "ns=2;i=1001");
    assert_eq!(s[1]["opcua"]["node_id"], "ns=2;i=1002");
    assert!(s[1]["opcua"].get("flags").is_none());
}

/// Octets of a response lost: the session finds the next message and the
/// request whose answer was lost ends without one.
#[test]
fn gap_then_resynchronisation() {
    let mut c = opened(4840);
    c.client(&msg(7, b'F', 2, 2, &read_request(2, 1001)));
    let lost = msg(7, b'F', 3, 2, &read_response(2, 40));
    c.server(&lost[..20]);
    c.sseq = c.sseq.wrapping_add((lost.len() - 20) as u32); // never captured
    c.client(&msg(7, b'F', 3, 3, &read_request(3, 1002)));
    // The next response starts after some junk in the same segment.
    let mut seg = vec![0xab; 5];
    seg.extend_from_slice(&msg(7, b'F', 4, 3, &read_response(3, 0)));
    c.server(&seg);
    c.fin();
    let (r, _) = run(&c);
    assert_eq!(r.anomalies("gap"), 1);
    let s = services(&r);
    let got: Vec<(&str, &str)> = s
        .iter()
        .map(|e| {
            (
                e["opcua"]["node_id"].as_str().unwrap(),
                e["ics"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("ns=2;i=1002", "ok"), ("ns=2;i=1001", "no_response")]);
}

/// A Hello refused with an Error; a Read answered by a ServiceFault.
#[test]
fn refused_hello_and_service_fault() {
    let mut c = conv(4840);
    let mut err = 0x8083_0000u32.to_le_bytes().to_vec();
    string(&mut err, "endpoint unknown");
    c.client(&hello()).server(&message(b"ERR", b'F', &err));
    c.fin();
    let (r, _) = run(&c);
    let e = &r.of_type("opcua")[0];
    assert_eq!(e["opcua"]["kind"], "connection");
    assert_eq!(e["ics"]["status"], "exception");
    assert_eq!(e["ics"]["exception_code"], 0x8083_0000u32);
    assert_eq!(e["opcua"]["error"]["reason"], "endpoint unknown");

    let mut c = opened(4840);
    c.client(&msg(7, b'F', 2, 2, &read_request(2, 1)));
    let mut fault = Vec::new();
    type_id(&mut fault, 397);
    response_header(&mut fault, 2, 0x8025_0000);
    c.server(&msg(7, b'F', 3, 2, &fault));
    c.fin();
    let (r, _) = run(&c);
    let s = services(&r);
    assert_eq!(s[0]["ics"]["function"], "read");
    assert_eq!(s[0]["ics"]["status"], "exception");
    assert_eq!(s[0]["ics"]["exception_code"], 0x8025_0000u32);
    assert_eq!(s[0]["opcua"]["response"]["service"], "service_fault");
}

/// A capture that starts inside a session (no Hello, no OpenSecureChannel)
/// on another port than 4840 is not recognised; on 4840 it is, and its
/// plain messages are read.
#[test]
fn channel_opened_before_the_capture() {
    let mut c = conv(4840);
    c.client(&msg(9, b'F', 20, 20, &read_request(20, 5)));
    c.server(&msg(9, b'F', 21, 20, &read_response(20, 0)));
    c.fin();
    let (r, _) = run(&c);
    let s = services(&r);
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0]["opcua"]["flags"],
        serde_json::json!(["unknown_channel"])
    );
    assert_eq!(s[0]["opcua"]["secure_channel"]["id"], 9);

    let mut c = conv(48010);
    c.client(&msg(9, b'F', 20, 20, &read_request(20, 5)));
    c.fin();
    let (r, _) = run(&c);
    assert!(r.of_type("opcua").is_empty());
}

/// Off port 4840 a Hello is recognised. The inventory learns the server's
/// and the client's application descriptions; serving OPC UA makes the
/// server an OPC server.
#[test]
fn identity_off_the_registered_port() {
    let mut c = opened(48010);
    c.client(&msg(7, b'F', 2, 2, &get_endpoints_request(2)));
    c.server(&msg(7, b'F', 3, 2, &get_endpoints_response(2, 1)));
    c.client(&msg(7, b'F', 3, 3, &create_session_request(3)));
    c.fin();
    let (r, p) = run(&c);
    assert_eq!(r.of_type("opcua")[0]["app_proto"], "opcua");
    let s = services(&r);
    assert_eq!(s[1]["ics"]["function"], "create_session");
    assert_eq!(s[1]["ics"]["status"], "no_response");
    assert_eq!(s[1]["opcua"]["client"]["application_name"], "Example HMI");
    let out = std::process::Command::new(bin())
        .args(["assets", "--no-progress", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |ip: &str| {
        inv["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["ips"][0] == ip)
            .unwrap()
            .clone()
    };
    let server = find("10.0.0.10");
    assert_eq!(server["role"], "opc_server");
    assert_eq!(
        server["identity"]["product"]["value"],
        "Example PLC UA Server"
    );
    assert_eq!(
        server["identity"]["product"]["source"],
        "opcua.get_endpoints"
    );
    assert_eq!(
        server["identity"]["product_uri"]["value"],
        "http://example.com/PlcServer"
    );
    assert_eq!(
        server["identity"]["application_uri"]["value"],
        "urn:example:plc"
    );
    assert_eq!(
        server["identity"]["opcua_application_type"]["value"],
        "server"
    );
    let client = find("10.0.0.20");
    assert_eq!(client["identity"]["product"]["value"], "Example HMI");
    assert_eq!(
        client["identity"]["opcua_application_type"]["value"],
        "client"
    );
    // GetEndpoints precedes every session: routine, not engineering
    // (crates/engine/src/role.rs); a client of an industrial protocol.
    assert_eq!(client["role"], "hmi");
}
