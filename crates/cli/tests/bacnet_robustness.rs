//! BACnet/IP sessions on crafted captures: segmented requests, aborts,
//! pairing through a router, the pending cap and the timeout, peers that
//! both request on one flow, detection off the registered port, malformed
//! datagrams, and the identity the inventory learns. Every event of every
//! capture here validates against the published schema, and learning each
//! capture as a baseline and checking it again raises no alert.

mod common;

use common::*;
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::MacAddr;
use serde_json::Value;

// ---------------------------------------------------------------- builders

const T0: i64 = 1_700_000_000_000_000_000;

fn mac(last: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, last])
}

/// Host `a` (10.0.0.a, MAC ..:a) to host `b`, both on port 47808.
fn ep(a: u8, b: u8) -> Endpoints {
    Endpoints {
        src_mac: mac(a),
        dst_mac: if b == 255 { MacAddr::BROADCAST } else { mac(b) },
        src_ip: ip4(10, 0, 0, a),
        dst_ip: ip4(10, 0, 0, b),
        src_port: 47808,
        dst_port: 47808,
        vlan: None,
    }
}

/// A BVLL message: function and body.
fn bvll(function: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0x81, function];
    v.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Original-Unicast-NPDU with a plain NPDU (control `control`) and an APDU.
fn unicast(control: u8, apdu: &[u8]) -> Vec<u8> {
    let mut b = vec![1, control];
    b.extend_from_slice(apdu);
    bvll(0x0a, &b)
}

fn broadcast(apdu: &[u8]) -> Vec<u8> {
    let mut b = vec![1, 0];
    b.extend_from_slice(apdu);
    bvll(0x0b, &b)
}

/// ReadProperty of `property` of device `instance`.
fn read_property(invoke: u8, instance: u32, property: u8) -> Vec<u8> {
    let oid = (8u32 << 22) | instance;
    let mut a = vec![0x00, 0x05, invoke, 12, 0x0c];
    a.extend_from_slice(&oid.to_be_bytes());
    a.extend_from_slice(&[0x19, property]);
    a
}

/// Its ComplexACK with a character string value.
fn read_property_ack(invoke: u8, instance: u32, property: u8, text: &str) -> Vec<u8> {
    let oid = (8u32 << 22) | instance;
    let mut a = vec![0x30, invoke, 12, 0x0c];
    a.extend_from_slice(&oid.to_be_bytes());
    a.extend_from_slice(&[0x19, property, 0x3e]);
    a.extend_from_slice(&char_string(text));
    a.push(0x3f);
    a
}

/// An application-tagged UTF-8 character string.
fn char_string(text: &str) -> Vec<u8> {
    let mut v = vec![0x75, (text.len() + 1) as u8, 0];
    v.extend_from_slice(text.as_bytes());
    v
}

fn i_am(instance: u32, vendor: u8) -> Vec<u8> {
    let oid = (8u32 << 22) | instance;
    let mut a = vec![0x10, 0x00, 0xc4];
    a.extend_from_slice(&oid.to_be_bytes());
    a.extend_from_slice(&[0x22, 0x05, 0xc4, 0x91, 0x03, 0x21, vendor]);
    a
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c.compile("urn:plantshield:events", &mut schemas).unwrap();
    (schemas, idx)
}

/// Writes the datagrams (`from`, `to`, payload), one millisecond apart
/// unless a gap in seconds is given, and runs `analyze` on them.
fn run(datagrams: &[(Endpoints, Vec<u8>, i64)], extra: &[&str]) -> (Run, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let p = dir.join("bacnet.pcap");
    let mut ts = T0;
    let frames: Vec<(i64, Vec<u8>)> = datagrams
        .iter()
        .map(|(e, d, wait_s)| {
            ts += 1_000_000 + wait_s * 1_000_000_000;
            (ts, craft::udp_frame(e, d))
        })
        .collect();
    write_pcap(&p, &frames);
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
    learn_then_check_raises_nothing(&p);
    (r, p)
}

fn bacnet(r: &Run) -> Vec<&Value> {
    r.of_type("bacnet")
}

fn assets(p: &std::path::Path) -> Vec<Value> {
    assets_json(&[p])["assets"].as_array().unwrap().clone()
}

fn asset<'a>(all: &'a [Value], ip: &str) -> &'a Value {
    all.iter()
        .find(|a| a["ips"].as_array().unwrap().iter().any(|x| x == ip))
        .unwrap_or_else(|| panic!("no asset {ip}"))
}

// ----------------------------------------------------------------- tests

/// An AtomicWriteFile request in three segments, each acknowledged by the
/// server, then its ComplexACK: one transaction.
#[test]
fn segmented_request_is_one_transaction() {
    let (c, s) = (ep(1, 2), ep(2, 1));
    // AtomicWriteFile of file 3, stream access from 0, 12 octets, in 3 segments.
    let mut data = vec![0xc4, 0x02, 0x80, 0x00, 0x03, 0x0e, 0x31, 0x00, 0x65, 0x0c];
    data.extend_from_slice(b"0123456789ab");
    data.push(0x0f);
    let parts = [&data[..8], &data[8..14], &data[14..]];
    let mut d = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let more = if i < 2 { 0x04 } else { 0 };
        let mut a = vec![0x08 | more | 0x02, 0x05, 9, i as u8, 2, 7];
        a.extend_from_slice(part);
        d.push((c, unicast(0x04, &a), 0));
        // SegmentACK from the server (SRV set).
        d.push((s, unicast(0, &[0x41, 9, i as u8, 2]), 0));
    }
    d.push((s, unicast(0, &[0x30, 9, 7, 0x0e, 0x31, 0x00, 0x0f]), 0));
    let (r, _) = run(&d, &[]);
    let b = bacnet(&r);
    assert_eq!(b.len(), 1, "{b:#?}");
    let e = &b[0]["bacnet"];
    assert_eq!(b[0]["ics"]["function"], "atomic_write_file");
    assert_eq!(b[0]["ics"]["status"], "ok");
    assert_eq!(e["request_segments"], 3);
    assert_eq!(e["segment_acks"], 3);
    // The joined request decodes: 12 octets written from 0 to file 3.
    assert_eq!(e["object_instance"], 3);
    assert_eq!(e["file_access"]["count"], 12);
    assert!(e.get("flags").is_none(), "{e}");
}

/// A segmented ComplexACK whose service data exceeds the joining cap
/// (8 KiB): still one transaction, every segment and SegmentACK counted,
/// the rest of the data dropped and flagged `segments_incomplete`.
#[test]
fn segmented_reply_past_the_joining_cap_is_flagged() {
    let (c, s) = (ep(1, 2), ep(2, 1));
    let mut d = vec![(c, unicast(0x04, &read_property(4, 5, 28)), 0)];
    // 7 segments of 1400 octets: 9800 > 8192.
    for i in 0..7u8 {
        let more = if i < 6 { 0x04 } else { 0 };
        let mut a = vec![0x38 | more, 4, i, 7, 12];
        a.extend(std::iter::repeat_n(0x41, 1400));
        d.push((s, unicast(0, &a), 0));
        // SegmentACK from the client (SRV clear).
        d.push((c, unicast(0, &[0x40, 4, i, 7]), 0));
    }
    let (r, _) = run(&d, &[]);
    let b = bacnet(&r);
    assert_eq!(b.len(), 1, "{b:#?}");
    let e = &b[0]["bacnet"];
    assert_eq!(b[0]["ics"]["function"], "read_property");
    assert_eq!(e["response_segments"], 7);
    assert_eq!(e["segment_acks"], 7);
    let flags: Vec<&str> = e["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(flags.contains(&"segments_incomplete"), "{e}");
    assert!(!flags.contains(&"segmentation_unfinished"), "{e}");
}

/// A client's Abort ends its request; a server's Abort does too; an Abort
/// from the wrong side (SRV set, travelling the request's way) does not.
#[test]
fn aborts_end_transactions_from_either_side() {
    let (c, s) = (ep(1, 2), ep(2, 1));
    let d = vec![
        (c, unicast(0x04, &read_property(1, 5, 77)), 0),
        (c, unicast(0, &[0x70, 1, 4]), 0),
        (c, unicast(0x04, &read_property(2, 5, 77)), 0),
        (s, unicast(0, &[0x71, 2, 9]), 0),
        (c, unicast(0x04, &read_property(3, 5, 77)), 0),
        (c, unicast(0, &[0x71, 3, 1]), 0),
    ];
    let (r, _) = run(&d, &[]);
    let b = bacnet(&r);
    let summary: Vec<(String, String, Value)> = b
        .iter()
        .map(|e| {
            (
                e["ics"]["function"].as_str().unwrap().to_string(),
                e["ics"]["status"].as_str().unwrap().to_string(),
                e["bacnet"]["abort_reason_name"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "read_property".into(),
                "exception".into(),
                "segmentation_not_supported".into()
            ),
            (
                "read_property".into(),
                "exception".into(),
                "out_of_resources".into()
            ),
            // The misdirected server Abort stands alone...
            ("abort".into(), "exception".into(), "buffer_overflow".into()),
            // ... and the request it did not answer ends with the flow.
            ("read_property".into(), "no_response".into(), Value::Null),
        ]
    );
    assert_eq!(b[0]["bacnet"]["response"]["server"], false);
    assert_eq!(b[1]["bacnet"]["response"]["server"], true);
}

/// Through a BACnet router: requests name DNET/DADR, replies come back
/// with SNET/SADR. Two devices behind the router answer with the same
/// invoke id; each reply pairs with the request sent to it. Their identity
/// is not the router's.
#[test]
fn routed_devices_pair_by_network_address() {
    let (c, s) = (ep(1, 2), ep(2, 1));
    let to = |dadr: u8, apdu: &[u8]| {
        let mut b = vec![1, 0x24, 0x00, 0x0d, 1, dadr, 255];
        b.extend_from_slice(apdu);
        bvll(0x0a, &b)
    };
    let from = |sadr: u8, apdu: &[u8]| {
        let mut b = vec![1, 0x08, 0x00, 0x0d, 1, sadr];
        b.extend_from_slice(apdu);
        bvll(0x0a, &b)
    };
    let d = vec![
        (c, to(0x3d, &read_property(7, 61, 121)), 0),
        (c, to(0x3e, &read_property(7, 62, 121)), 0),
        (s, from(0x3e, &read_property_ack(7, 62, 121, "Beta")), 0),
        (s, from(0x3d, &read_property_ack(7, 61, 121, "Alpha")), 0),
    ];
    let (r, p) = run(&d, &[]);
    let b = bacnet(&r);
    assert_eq!(b.len(), 2);
    let by_instance = |n: u64| {
        b.iter()
            .find(|e| e["bacnet"]["object_instance"] == n)
            .unwrap()
    };
    assert_eq!(by_instance(61)["bacnet"]["value"], "Alpha");
    assert_eq!(by_instance(62)["bacnet"]["value"], "Beta");
    assert_eq!(
        by_instance(62)["bacnet"]["response"]["npdu"]["source_address"],
        "3e"
    );
    let a = assets(&p);
    let router = asset(&a, "10.0.0.2");
    assert!(router["identity"].get("vendor").is_none(), "{router}");
    assert!(router["identity"].get("bacnet_device_instance").is_none());
}

/// With --max-pending 2 the third unanswered request ends the first; a
/// request unanswered for longer than the transaction timeout ends when the
/// next datagram arrives.
#[test]
fn pending_cap_and_timeout() {
    let c = ep(1, 2);
    let d = vec![
        (c, unicast(0x04, &read_property(1, 5, 70)), 0),
        (c, unicast(0x04, &read_property(2, 5, 70)), 0),
        (c, unicast(0x04, &read_property(3, 5, 70)), 0),
        (c, broadcast(&[0x10, 0x08]), 31),
    ];
    let (r, _) = run(&d, &["--max-pending", "2"]);
    assert_eq!(r.anomalies("pending_table_full"), 1);
    let ids: Vec<(u64, &str)> = bacnet(&r)
        .iter()
        .map(|e| {
            (
                e["bacnet"]["invoke_id"].as_u64().unwrap_or(0),
                e["ics"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    // Request 1 by the cap; 2 and 3 by the timeout, before the Who-Is.
    assert_eq!(
        ids,
        [
            (1, "no_response"),
            (2, "no_response"),
            (3, "no_response"),
            (0, "ok")
        ]
    );
}

/// Two controllers on one flow (both port 47808) that each read the
/// other: every event is oriented from its requester, and the inventory
/// keeps an edge each way. A unicast I-Am goes from its receiver to its
/// sender; to a broadcast address it keeps its sender as source.
#[test]
fn peers_that_both_request_on_one_flow() {
    let (a, b) = (ep(1, 2), ep(2, 1));
    let d = vec![
        (b, unicast(0, &i_am(200, 7)), 0),
        (a, unicast(0x04, &read_property(1, 200, 77)), 0),
        (b, unicast(0, &read_property_ack(1, 200, 77, "AHU-2")), 0),
        (b, unicast(0x04, &read_property(9, 100, 77)), 0),
        (a, unicast(0, &read_property_ack(9, 100, 77, "AHU-1")), 0),
        (ep(1, 255), broadcast(&i_am(100, 7)), 0),
    ];
    let (r, p) = run(&d, &[]);
    let dirs: Vec<(&str, &str, &str)> = bacnet(&r)
        .iter()
        .map(|e| {
            (
                e["src_ip"].as_str().unwrap(),
                e["dest_ip"].as_str().unwrap(),
                e["ics"]["function"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        dirs,
        [
            ("10.0.0.1", "10.0.0.2", "i_am"),
            ("10.0.0.1", "10.0.0.2", "read_property"),
            ("10.0.0.2", "10.0.0.1", "read_property"),
            ("10.0.0.1", "10.0.0.255", "i_am"),
        ]
    );
    assert_eq!(bacnet(&r)[0]["bacnet"]["request_from_server"], true);
    assert_eq!(bacnet(&r)[3]["bacnet"]["broadcast"], true);
    let flow = r.of_type("flow");
    let f = flow.iter().find(|f| f["dest_ip"] == "10.0.0.2").unwrap();
    assert_eq!(f["flow"]["transactions"], 3);
    let a = assets(&p);
    let one = asset(&a, "10.0.0.1");
    let two = asset(&a, "10.0.0.2");
    assert_eq!(one["identity"]["device_name"]["value"], "AHU-1");
    assert_eq!(one["identity"]["bacnet_device_instance"]["value"], "100");
    assert_eq!(two["identity"]["device_name"]["value"], "AHU-2");
    assert_eq!(two["identity"]["bacnet_device_instance"]["value"], "200");
    assert_eq!(two["identity"]["bacnet_vendor_id"]["value"], "7");
    assert_eq!(two["identity"]["bacnet_vendor_id"]["source"], "bacnet.i_am");
    assert_eq!(two["role"], "plc");
    // 10.0.0.1 serves BACnet too; the unicast I-Am it received makes it
    // the client of a discovery exchange, but BACnet discovery is routine
    // for every device, not engineering (crates/engine/src/role.rs).
    assert_eq!(one["role"], "plc");
    let mut dirs: Vec<&str> = one["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["direction"].as_str().unwrap())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["client", "server"]);
}

/// The identity a ReadPropertyMultiple of the Device object answers.
#[test]
fn read_property_multiple_of_the_device_object() {
    let (c, s) = (ep(1, 2), ep(2, 1));
    let oid = ((8u32 << 22) | 1234).to_be_bytes();
    let mut req = vec![0x00, 0x05, 4, 14, 0x0c];
    req.extend_from_slice(&oid);
    req.extend_from_slice(&[
        0x1e, 0x09, 0x79, 0x09, 0x46, 0x09, 0x2c, 0x09, 0x4d, 0x09, 0x3a, 0x1f,
    ]);
    let mut ack = vec![0x30, 4, 14, 0x0c];
    ack.extend_from_slice(&oid);
    ack.push(0x1e);
    for (p, v) in [
        (0x79u8, "Acme Controls"),
        (0x46, "AC-3000"),
        (0x2c, "2.4.1"),
        (0x4d, "Boiler room controller"),
    ] {
        ack.extend_from_slice(&[0x29, p, 0x4e]);
        ack.extend_from_slice(&char_string(v));
        ack.push(0x4f);
    }
    // location: unknown property error.
    ack.extend_from_slice(&[0x29, 0x3a, 0x5e, 0x91, 0x02, 0x91, 0x20, 0x5f, 0x1f]);
    let d = vec![(c, unicast(0x04, &req), 0), (s, unicast(0, &ack), 0)];
    let (r, p) = run(&d, &[]);
    let e = &bacnet(&r)[0]["bacnet"];
    assert_eq!(e["properties"].as_array().unwrap().len(), 5);
    assert_eq!(e["results"][1]["value"], "AC-3000");
    assert_eq!(e["results"][4]["error"], "unknown_property");
    let a = assets(&p);
    let dev = asset(&a, "10.0.0.2");
    let id = &dev["identity"];
    assert_eq!(id["vendor"]["value"], "Acme Controls");
    assert_eq!(id["vendor"]["source"], "bacnet.read_property_multiple");
    assert_eq!(id["vendor"]["confidence"], 90);
    assert_eq!(id["model"]["value"], "AC-3000");
    assert_eq!(id["firmware"]["value"], "2.4.1");
    assert_eq!(id["device_name"]["value"], "Boiler room controller");
    assert_eq!(id["bacnet_device_instance"]["value"], "1234");
    assert!(id.get("location").is_none());
}

/// Off the registered port a whole BVLL message is still BACnet; a
/// BACnet/IPv6 datagram on a BACnet flow and an NPDU cut short are
/// reported.
#[test]
fn detection_and_malformed_datagrams() {
    let mut c = ep(1, 2);
    c.src_port = 47809;
    c.dst_port = 47809;
    let s = c.reversed();
    let d = vec![
        (c, unicast(0x04, &read_property(1, 5, 121)), 0),
        (s, unicast(0, &read_property_ack(1, 5, 121, "X")), 0),
        (c, vec![0x82, 0x0a, 0x00, 0x06, 0x01, 0x00], 0),
        (s, bvll(0x0a, &[0x01, 0x20, 0x00, 0x0d]), 0),
    ];
    let (r, _) = run(&d, &[]);
    let b = bacnet(&r);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0]["app_proto"], "bacnet");
    assert_eq!(b[0]["bacnet"]["value"], "X");
    assert_eq!(r.anomalies("invalid_bvlc"), 1);
    assert_eq!(r.anomalies("truncated_message"), 1);
    assert_eq!(b[1]["ics"]["status"], "malformed");
    assert_eq!(b[1]["ics"]["function_code"], 768 + 0x0a);
    assert_eq!(b[1]["bacnet"]["flags"], serde_json::json!(["truncated"]));
}
