//! PROFINET DCP on crafted captures: VLAN-tagged frames, Set and Get
//! paired with their responses (refused, unanswered, signal only), Hello,
//! truncated frames, and what the inventory learns (and does not) from
//! each. Every event validates against the published schema; learning
//! each capture as a baseline and checking it raises no alert.

mod common;

use common::*;
use plantshield_decode::craft;
use plantshield_decode::MacAddr;
use serde_json::{json, Value};

const T0: i64 = 1_700_000_000_000_000_000;
const MULTICAST: MacAddr = MacAddr([0x01, 0x0e, 0xcf, 0, 0, 0]);

fn mac(last: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, last])
}

/// A block: option, suboption, value (padded to an even length).
fn block(option: u8, suboption: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![option, suboption];
    v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    v.extend_from_slice(value);
    if value.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// A block with a BlockInfo or BlockQualifier before its value.
fn qblock(option: u8, suboption: u8, qualifier: u16, value: &[u8]) -> Vec<u8> {
    let mut q = qualifier.to_be_bytes().to_vec();
    q.extend_from_slice(value);
    block(option, suboption, &q)
}

fn dcp(frame_id: u16, service: u8, kind: u8, xid: u32, blocks: &[Vec<u8>]) -> Vec<u8> {
    let data: Vec<u8> = blocks.concat();
    let mut v = frame_id.to_be_bytes().to_vec();
    v.extend_from_slice(&[service, kind]);
    v.extend_from_slice(&xid.to_be_bytes());
    v.extend_from_slice(&[0, if frame_id == 0xfefe { 1 } else { 0 }]);
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(&data);
    v
}

fn frame(src: MacAddr, dst: MacAddr, vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    craft::ethernet(&mut f, src, dst, vlan, 0x8892);
    f.extend_from_slice(payload);
    // Ethernet minimum frame length.
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

fn ip_block(qualifier: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut v = ip.to_vec();
    v.extend_from_slice(&[255, 255, 255, 0, ip[0], ip[1], ip[2], 1]);
    qblock(1, 2, qualifier, &v)
}

fn identify_response(xid: u32, name: &str, ip: [u8; 4], role: u8) -> Vec<u8> {
    dcp(
        0xfeff,
        5,
        1,
        xid,
        &[
            qblock(2, 2, 0, name.as_bytes()),
            qblock(2, 1, 0, b"S7-1500"),
            qblock(2, 3, 0, &[0x00, 0x2a, 0x01, 0x0e]),
            qblock(2, 4, 0, &[role, 0]),
            ip_block(1, ip),
        ],
    )
}

fn set_response(xid: u32, option: u8, suboption: u8, error: u8) -> Vec<u8> {
    dcp(
        0xfefd,
        4,
        1,
        xid,
        &[block(5, 4, &[option, suboption, error])],
    )
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c.compile("urn:plantshield:events", &mut schemas).unwrap();
    (schemas, idx)
}

fn run(frames: &[Vec<u8>]) -> (Run, Value) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dcp.pcap");
    let frames: Vec<(i64, Vec<u8>)> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (T0 + i as i64 * 1_000_000, f.clone()))
        .collect();
    write_pcap(&p, &frames);
    let r = analyze_file(&p);
    assert!(r.status.success(), "{}", r.stderr);
    let (schemas, idx) = schema();
    for e in &r.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
    learn_then_check_raises_nothing(&p);
    let out = std::process::Command::new(bin())
        .args(["assets", "--no-progress", "--format", "json"])
        .arg(&p)
        .output()
        .unwrap();
    (r, serde_json::from_slice(&out.stdout).unwrap())
}

fn asset(inv: &Value, m: MacAddr) -> Value {
    inv["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["macs"][0] == m.to_string())
        .unwrap()
        .clone()
}

fn dcp_events(r: &Run) -> Vec<&Value> {
    r.of_type("profinet_dcp")
}

/// An Identify on VLAN 10 answered by two devices; the filter name of the
/// request is not the requester's identity.
#[test]
fn identify_on_a_vlan() {
    let (pg, plc, io) = (mac(1), mac(2), mac(3));
    let req = dcp(0xfefe, 5, 0, 77, &[block(2, 2, b"plc-1")]);
    let (r, inv) = run(&[
        frame(pg, MULTICAST, Some(10), &req),
        frame(
            plc,
            pg,
            Some(10),
            &identify_response(77, "plc-1", [10, 1, 0, 5], 0x02),
        ),
        frame(
            io,
            pg,
            Some(10),
            &identify_response(77, "et200-3", [10, 1, 0, 6], 0x01),
        ),
    ]);
    let ev = dcp_events(&r);
    assert_eq!(ev.len(), 3);
    for e in &ev {
        assert_eq!(e["vlan"], json!([10]));
        assert_eq!(e["profinet_dcp"]["xid"], 77);
        assert!(e.get("src_ip").is_none());
    }
    assert_eq!(ev[0]["profinet_dcp"]["dest_mac"], "01:0e:cf:00:00:00");
    let p = asset(&inv, plc);
    let id = &p["identity"];
    assert_eq!(id["station_name"]["value"], "plc-1");
    assert_eq!(id["station_name"]["source"], "profinet_dcp.identify");
    assert_eq!(id["model"]["value"], "S7-1500");
    assert_eq!(id["vendor"]["value"], "Siemens");
    assert_eq!(id["profinet_vendor_id"]["value"], "0x002a");
    assert_eq!(id["profinet_device_id"]["value"], "0x010e");
    assert_eq!(id["profinet_role"]["value"], "io_controller");
    assert_eq!(id["profinet_ip"]["value"], "10.1.0.5/24");
    assert_eq!(id["profinet_gateway"]["value"], "10.1.0.1");
    // DCP does not bind the address to the MAC: only ARP and traffic do.
    assert_eq!(p["ips"], json!([]));
    assert_eq!(
        asset(&inv, io)["identity"]["profinet_role"]["value"],
        "io_device"
    );
    assert!(asset(&inv, pg)["identity"].get("station_name").is_none());
}

/// A name Set refused by the device, a name Set that gets no answer, and
/// a Set that only flashes the LED.
#[test]
fn sets_refused_unanswered_and_signal() {
    let (pg, dev) = (mac(1), mac(2));
    let (r, inv) = run(&[
        frame(
            dev,
            pg,
            None,
            &identify_response(1, "old-name", [10, 1, 0, 9], 0x01),
        ),
        frame(
            pg,
            dev,
            None,
            &dcp(0xfefd, 4, 0, 2, &[qblock(2, 2, 1, b"refused-name")]),
        ),
        frame(dev, pg, None, &set_response(2, 2, 2, 6)),
        frame(
            pg,
            dev,
            None,
            &dcp(0xfefd, 4, 0, 3, &[qblock(5, 3, 0, &[0x01, 0x00])]),
        ),
        frame(dev, pg, None, &set_response(3, 5, 3, 0)),
        frame(
            pg,
            dev,
            None,
            &dcp(0xfefd, 4, 0, 4, &[qblock(2, 2, 1, b"new-name")]),
        ),
    ]);
    let ev = dcp_events(&r);
    let got: Vec<(&str, &str, &str)> = ev
        .iter()
        .map(|e| {
            (
                e["ics"]["function"].as_str().unwrap(),
                e["ics"]["operation"].as_str().unwrap(),
                e["ics"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("identify", "discovery", "ok"),
            ("set", "configuration", "exception"),
            ("set", "command", "ok"),
            ("set", "configuration", "no_response"),
        ]
    );
    assert_eq!(ev[1]["ics"]["exception_code"], 6);
    assert_eq!(
        ev[1]["profinet_dcp"]["response"]["blocks"][0]["block_error_name"],
        "in_operation"
    );
    assert_eq!(ev[3]["profinet_dcp"]["response_missing"], true);
    // The refused name is not learned; the unanswered one is weaker than
    // what the device reported itself, so the reported one stays.
    let d = asset(&inv, dev);
    assert_eq!(d["identity"]["station_name"]["value"], "old-name");
    let history: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["attribute"] == "station_name")
        .map(|h| h["new"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["old-name"]);
}

/// A confirmed Set of a name to a device never identified, a Get of its
/// name, and a Hello from a device that starts up.
#[test]
fn set_get_and_hello() {
    let (pg, dev, fresh) = (mac(1), mac(2), mac(3));
    let (r, inv) = run(&[
        frame(
            pg,
            dev,
            None,
            &dcp(0xfefd, 4, 0, 5, &[qblock(2, 2, 1, b"conveyor-io")]),
        ),
        frame(dev, pg, None, &set_response(5, 2, 2, 0)),
        frame(pg, dev, None, &dcp(0xfefd, 3, 0, 6, &[vec![2, 2]])),
        frame(
            dev,
            pg,
            None,
            &dcp(0xfefd, 3, 1, 6, &[qblock(2, 2, 0, b"conveyor-io")]),
        ),
        frame(
            fresh,
            MULTICAST,
            None,
            &dcp(
                0xfefc,
                6,
                0,
                9,
                &[qblock(2, 2, 0, b"press-7"), ip_block(0, [0, 0, 0, 0])],
            ),
        ),
    ]);
    let ev = dcp_events(&r);
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0]["ics"]["status"], "ok");
    assert_eq!(ev[1]["ics"]["function"], "get");
    assert_eq!(ev[1]["ics"]["operation"], "read");
    assert_eq!(
        ev[1]["profinet_dcp"]["blocks"][0]["name"],
        "name_of_station"
    );
    assert_eq!(
        ev[1]["profinet_dcp"]["response"]["blocks"][0]["name_of_station"],
        "conveyor-io"
    );
    assert_eq!(ev[2]["ics"]["function"], "hello");
    let d = asset(&inv, dev);
    assert_eq!(d["identity"]["station_name"]["value"], "conveyor-io");
    assert_eq!(d["identity"]["station_name"]["source"], "profinet_dcp.set");
    assert_eq!(d["identity"]["station_name"]["confidence"], 90);
    let f = asset(&inv, fresh);
    assert_eq!(f["identity"]["station_name"]["value"], "press-7");
    // 0.0.0.0: no address yet.
    assert!(f["identity"].get("profinet_ip").is_none());
}

/// Truncated and malformed frames are reported; other PROFINET frames
/// (cyclic data) are left alone.
#[test]
fn truncated_malformed_and_other_frames() {
    let (a, b) = (mac(1), mac(2));
    let mut bad = dcp(0xfeff, 5, 1, 1, &[qblock(2, 2, 0, b"name")]);
    let n = bad.len();
    bad[n - 7] = 0x40; // a block length past the data
                       // A frame cut short (by the capture's snap length): no padding.
    let mut cut = Vec::new();
    craft::ethernet(&mut cut, a, b, None, 0x8892);
    cut.extend_from_slice(&[0xfe, 0xfe, 0x05]);
    let (r, _) = run(&[
        cut,
        frame(a, b, None, &bad),
        frame(a, b, None, &[0xc0, 0x00, 1, 2, 3, 4]),
    ]);
    assert_eq!(r.anomalies("truncated_header"), 1);
    assert_eq!(r.anomalies("malformed_blocks"), 1);
    let ev = dcp_events(&r);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["ics"]["status"], "malformed");
    assert_eq!(ev[0]["profinet_dcp"]["flags"], json!(["malformed_block"]));
    let stats = &r.of_type("stats")[0]["stats"];
    assert_eq!(stats["other_ethertype"], 3);
    assert_eq!(stats["transactions"]["profinet_dcp"]["total"], 1);
}
