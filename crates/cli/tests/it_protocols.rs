//! The IT protocols that name plant hosts: DNS, NetBIOS name service,
//! DHCP and HTTP.
//!
//! Parity: for every corpus capture, the messages our events stand for
//! equal the frames tshark counted for the protocol (oracle
//! `frames_per_protocol`: `nbns`, `dhcp`, `dns`, `http`), one message being
//! one frame; the one difference (an HTTP request on the Modbus port) is
//! asserted with its reason.
//!
//! Crafted captures check every field of the events, pairing, framing over
//! TCP, the anomalies, the schema, and what the inventory learns.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use common::*;
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::MacAddr;
use serde_json::Value;

// ---------------------------------------------------------------- parity

/// Messages (frames) our events stand for, per oracle protocol name.
fn our_frames(run: &Run) -> BTreeMap<&'static str, u64> {
    let mut m = BTreeMap::new();
    let mut add = |k: &'static str, n: u64| *m.entry(k).or_default() += n;
    for e in run.of_type("netbios") {
        let n = &e["netbios"];
        add(
            "nbns",
            u64::from(n.get("query").is_some()) + u64::from(n.get("response").is_some()),
        );
    }
    for e in run.of_type("dns") {
        let d = &e["dns"];
        add(
            "dns",
            u64::from(d.get("query").is_some()) + u64::from(d.get("response").is_some()),
        );
    }
    for _ in run.of_type("dhcp") {
        add("dhcp", 1);
    }
    for e in run.of_type("http") {
        let h = &e["http"];
        add(
            "http",
            u64::from(h.get("method").is_some()) + u64::from(h.get("status").is_some()),
        );
    }
    m
}

fn corpus_files() -> Vec<String> {
    let mut v = Vec::new();
    for dir in std::fs::read_dir(pcaps()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() || dir.file_name().unwrap() == "oracle" {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                v.push(
                    f.strip_prefix(pcaps())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    v.sort();
    v
}

#[test]
fn corpus_parity_with_the_oracle() {
    let mut checked = BTreeMap::new();
    for rel in corpus_files() {
        let o = oracle(&rel);
        let fpp = &o["frames_per_protocol"];
        let theirs: BTreeMap<&str, u64> = ["nbns", "dns", "dhcp", "http"]
            .into_iter()
            .map(|p| (p, fpp[p].as_u64().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let run = analyze_file(&pcaps().join(&rel));
        assert!(run.status.success(), "{rel}: {}", run.stderr);
        let ours = our_frames(&run);
        let mut expected = theirs.clone();
        if rel == "modbus/modbus-and-non-modbus-p502.pcap" {
            // tshark dissects a scanner's `GET / HTTP/1.1` sent to port
            // 502 as HTTP; PlantShield gives the registered port to Modbus
            // and reports the bytes as not Modbus, unparsed.
            assert_eq!(expected.remove("http"), Some(1), "{rel}");
            let mismatch = run
                .of_type("anomaly")
                .into_iter()
                .filter(|e| {
                    e["anomaly"]["event"] == "app_proto_mismatch"
                        && e["anomaly"]["layer"] == "modbus"
                        && e["src_port"] == 60293
                })
                .count();
            assert_eq!(mismatch, 1, "{rel}: the HTTP request is a Modbus mismatch");
        }
        assert_eq!(ours, expected, "{rel}: our messages vs tshark's frames");
        for (p, n) in theirs {
            *checked.entry(p).or_insert(0u64) += n;
        }
        // Every datagram on the name service and DHCP ports was a message.
        for layer in ["dns", "netbios", "dhcp", "http"] {
            let bad: Vec<_> = run
                .of_type("anomaly")
                .into_iter()
                .filter(|e| e["anomaly"]["layer"] == layer)
                .collect();
            assert!(bad.is_empty(), "{rel}: {bad:?}");
        }
    }
    // The corpus exercises NetBIOS and DHCP (and HTTP only on port 502).
    assert_eq!(checked.get("nbns"), Some(&(8 + 2346 + 6 + 2 + 731)));
    assert_eq!(checked.get("dhcp"), Some(&62));
    assert_eq!(checked.get("dns"), None);
}

/// The corpus's names, as tshark shows them: the registering host and a
/// positive name query response.
#[test]
fn corpus_names() {
    let run = analyze_file(&pcaps().join("profinet/profinet_io_cm_mixed_1.pcap"));
    let regs: Vec<&Value> = run
        .of_type("netbios")
        .into_iter()
        .filter(|e| e["netbios"]["opcode_name"] == "registration")
        .collect();
    assert_eq!(regs.len(), 24);
    let names: std::collections::BTreeSet<String> = regs
        .iter()
        .map(|e| {
            format!(
                "{}<{:02x}>",
                e["netbios"]["name"].as_str().unwrap(),
                e["netbios"]["suffix"].as_u64().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["KW-VLIPC<00>", "KW-VLIPC<20>", "WORKGROUP<00>"]
    );
    for e in &regs {
        assert_eq!(e["src_ip"], "192.168.1.1");
        assert_eq!(e["netbios"]["broadcast"], true);
        let a = &e["netbios"]["query"]["records"][0]["addresses"][0];
        assert_eq!(a["address"], "192.168.1.1");
        assert_eq!(a["group"], e["netbios"]["name"] == "WORKGROUP");
    }
    let dhcp = run.of_type("dhcp");
    assert!(dhcp
        .iter()
        .all(|e| e["dhcp"]["message_type_name"] == "discover"));
    let win: Vec<_> = dhcp
        .iter()
        .filter(|e| e["dhcp"]["client_mac"] == "e4:11:5b:5a:d9:73")
        .collect();
    assert_eq!(win.len(), 16);
    assert_eq!(win[0]["dhcp"]["hostname"], "LT-US-DSWANSON");
    assert_eq!(win[0]["dhcp"]["vendor_class"], "MSFT 5.0");
    assert_eq!(
        win[0]["dhcp"]["parameter_request_list"],
        "1,15,3,6,44,46,47,31,33,121,249,43"
    );
    let run = analyze_file(&pcaps().join("modbus/CnC_uploading_exe_modbus_6RTU_with_operate.pcap"));
    let answer = run
        .of_type("netbios")
        .into_iter()
        .find(|e| e["netbios"].get("response").is_some())
        .unwrap()
        .clone();
    assert_eq!(answer["src_ip"], "192.168.1.104");
    assert_eq!(answer["netbios"]["request_missing"], true);
    let r = &answer["netbios"]["response"]["records"][0];
    assert_eq!(r["name"], "CONTROLL-F7B112");
    assert_eq!(r["suffix_name"], "file_server");
    assert_eq!(r["addresses"][0]["address"], "192.168.1.104");
}

// ---------------------------------------------------------------- crafting

fn mac(n: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, n])
}

const T0: i64 = 1_700_000_000_000_000_000;

/// Frames with times 1 ms apart.
#[derive(Default)]
struct Capture {
    frames: Vec<(i64, Vec<u8>)>,
}

impl Capture {
    fn push(&mut self, f: Vec<u8>) {
        let t = T0 + self.frames.len() as i64 * 1_000_000;
        self.frames.push((t, f));
    }

    fn udp(&mut self, ep: &Endpoints, payload: &[u8]) {
        self.push(craft::udp_frame(ep, payload));
    }

    /// An ARP reply: `ip` is at `m`.
    fn arp(&mut self, m: MacAddr, ip: [u8; 4]) {
        let mut f = Vec::new();
        craft::ethernet(&mut f, m, MacAddr::BROADCAST, None, 0x0806);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        f.extend_from_slice(&m.0);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&m.0);
        f.extend_from_slice(&ip);
        self.push(f);
    }

    /// A TCP conversation's frames, re-timed after what is here.
    fn conversation(&mut self, c: &Conversation) {
        for (_, f) in &c.frames {
            self.push(f.clone());
        }
    }

    fn write(&self, p: &Path) {
        write_pcap(p, &self.frames);
    }
}

fn udp_ep(smac: u8, src: IpAddr, sport: u16, dmac: MacAddr, dst: IpAddr, dport: u16) -> Endpoints {
    Endpoints {
        src_mac: mac(smac),
        dst_mac: dmac,
        src_ip: src,
        dst_ip: dst,
        src_port: sport,
        dst_port: dport,
        vlan: None,
    }
}

fn wire_name(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in s.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// A DNS message: header, questions, then answer records given as
/// (owner name in wire format, type, ttl, data).
fn dns(
    id: u16,
    flags: u16,
    qs: &[(Vec<u8>, u16)],
    ans: &[(Vec<u8>, u16, u32, Vec<u8>)],
) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    for n in [qs.len(), ans.len(), 0, 0] {
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }
    for (name, t) in qs {
        v.extend_from_slice(name);
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
    }
    for (name, t, ttl, rdata) in ans {
        v.extend_from_slice(name);
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
    }
    v
}

/// A first-level encoded NetBIOS name.
fn nb_name(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw[15] = suffix;
    if name == "*" {
        raw[1..15].fill(0);
    }
    let mut v = vec![32];
    for c in raw {
        v.push(b'A' + (c >> 4));
        v.push(b'A' + (c & 15));
    }
    v.push(0);
    v
}

/// A broadcast NetBIOS registration of `name<suffix>` at `ip`.
fn nb_registration(id: u16, name: &str, suffix: u8, group: bool, ip: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&0x2910u16.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&nb_name(name, suffix));
    v.extend_from_slice(&[0, 0x20, 0, 1]);
    v.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6]);
    v.extend_from_slice(&(if group { 0x8000u16 } else { 0 }).to_be_bytes());
    v.extend_from_slice(&ip);
    v
}

fn dhcp_msg(
    op: u8,
    xid: u32,
    chaddr: MacAddr,
    yiaddr: [u8; 4],
    options: &[(u8, Vec<u8>)],
) -> Vec<u8> {
    let mut v = vec![op, 1, 6, 0];
    v.extend_from_slice(&xid.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0x80, 0]);
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&yiaddr);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&chaddr.0);
    v.extend_from_slice(&[0; 10 + 192]);
    v.extend_from_slice(&[99, 130, 83, 99]);
    for (code, value) in options {
        v.push(*code);
        v.push(value.len() as u8);
        v.extend_from_slice(value);
    }
    v.push(255);
    v
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c.compile("urn:plantshield:events", &mut schemas).unwrap();
    (schemas, idx)
}

fn validate(run: &Run) {
    let (schemas, idx) = schema();
    for e in &run.events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
}

const CLIENT: [u8; 4] = [10, 0, 0, 20];
const PLC: [u8; 4] = [10, 0, 0, 10];
const HMI: [u8; 4] = [10, 0, 0, 30];
const RESOLVER: [u8; 4] = [10, 0, 0, 53];
const DHCP_SERVER: [u8; 4] = [10, 0, 0, 1];

fn ip(a: [u8; 4]) -> IpAddr {
    ip4(a[0], a[1], a[2], a[3])
}

const WINDOWS_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

/// A small plant network: ARP announcements, then DHCP, NetBIOS, DNS (UDP
/// and TCP) and HTTP, each with the cases the tests below check.
fn plant_capture() -> Capture {
    let mut cap = Capture::default();
    for (m, a) in [
        (10, PLC),
        (20, CLIENT),
        (30, HMI),
        (53, RESOLVER),
        (1, DHCP_SERVER),
        (11, [10, 0, 0, 11]),
    ] {
        cap.arp(mac(m), a);
    }
    // DHCP: the HMI's exchange, then a datagram too short for BOOTP.
    let bcast = ip4(255, 255, 255, 255);
    let zero = ip4(0, 0, 0, 0);
    let to_server = udp_ep(30, zero, 68, MacAddr::BROADCAST, bcast, 67);
    let from_server = udp_ep(1, ip(DHCP_SERVER), 67, MacAddr::BROADCAST, bcast, 68);
    let client_opts = |t: u8| {
        vec![
            (53, vec![t]),
            (61, [&[1][..], &mac(30).0].concat()),
            (12, b"KW-HMI".to_vec()),
            (60, b"MSFT 5.0".to_vec()),
            (55, vec![1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43]),
        ]
    };
    cap.udp(
        &to_server,
        &dhcp_msg(1, 0xfeed, mac(30), [0; 4], &client_opts(1)),
    );
    let server_opts = |t: u8| {
        vec![
            (53, vec![t]),
            (54, DHCP_SERVER.to_vec()),
            (51, 86400u32.to_be_bytes().to_vec()),
            (1, vec![255, 255, 255, 0]),
            (3, DHCP_SERVER.to_vec()),
        ]
    };
    cap.udp(
        &from_server,
        &dhcp_msg(2, 0xfeed, mac(30), HMI, &server_opts(2)),
    );
    let mut req = client_opts(3);
    req.push((50, HMI.to_vec()));
    cap.udp(&to_server, &dhcp_msg(1, 0xfeed, mac(30), [0; 4], &req));
    cap.udp(
        &from_server,
        &dhcp_msg(2, 0xfeed, mac(30), HMI, &server_opts(5)),
    );
    cap.udp(&to_server, &[1; 100]);

    // NetBIOS: broadcast registrations, a node status request and response.
    let nb_bcast = udp_ep(
        30,
        ip(HMI),
        137,
        MacAddr::BROADCAST,
        ip4(10, 0, 0, 255),
        137,
    );
    cap.udp(
        &nb_bcast,
        &nb_registration(0x100, "KW-HMI", 0x20, false, HMI),
    );
    cap.udp(
        &nb_bcast,
        &nb_registration(0x101, "WORKGROUP", 0x00, true, HMI),
    );
    let nb_uni = udp_ep(20, ip(CLIENT), 137, mac(30), ip(HMI), 137);
    let mut q = dns(0x200, 0x0000, &[(nb_name("*", 0), 0x21)], &[]);
    cap.udp(&nb_uni, &q);
    let mut rdata = vec![2];
    for (n, s, flags) in [("KW-HMI", 0x00u8, 0x0400u16), ("WORKGROUP", 0x00, 0x8400)] {
        let mut raw = [b' '; 16];
        raw[..n.len()].copy_from_slice(n.as_bytes());
        raw[15] = s;
        rdata.extend_from_slice(&raw);
        rdata.extend_from_slice(&flags.to_be_bytes());
    }
    rdata.extend_from_slice(&mac(30).0);
    rdata.extend_from_slice(&[0; 40]);
    q = dns(0x200, 0x8400, &[], &[(nb_name("*", 0), 0x21, 0, rdata)]);
    cap.udp(&nb_uni.reversed(), &q);

    // DNS over UDP.
    let d = udp_ep(20, ip(CLIENT), 50000, mac(53), ip(RESOLVER), 53);
    let plc_name = wire_name("plc1.plant.example");
    let canon = wire_name("ctl1.plant.example");
    cap.udp(&d, &dns(1, 0x0100, &[(plc_name.clone(), 1)], &[]));
    cap.udp(
        &d.reversed(),
        &dns(
            1,
            0x8180,
            &[(plc_name.clone(), 1)],
            &[
                (vec![0xc0, 12], 5, 300, canon.clone()),
                (canon.clone(), 1, 60, PLC.to_vec()),
            ],
        ),
    );
    let rev = wire_name("10.0.0.10.in-addr.arpa");
    cap.udp(&d, &dns(2, 0x0100, &[(rev.clone(), 12)], &[]));
    cap.udp(
        &d.reversed(),
        &dns(
            2,
            0x8580,
            &[(rev, 12)],
            &[(vec![0xc0, 12], 12, 3600, canon.clone())],
        ),
    );
    // An address the inventory does not hold.
    let www = wire_name("www.example.com");
    cap.udp(&d, &dns(3, 0x0100, &[(www.clone(), 1)], &[]));
    cap.udp(
        &d.reversed(),
        &dns(
            3,
            0x8180,
            &[(www.clone(), 1)],
            &[(vec![0xc0, 12], 1, 60, vec![93, 184, 216, 34])],
        ),
    );
    let nope = wire_name("nope.example");
    cap.udp(&d, &dns(4, 0x0100, &[(nope.clone(), 1)], &[]));
    cap.udp(&d.reversed(), &dns(4, 0x8183, &[(nope, 1)], &[]));
    // A retransmission, then the answer.
    let hist = wire_name("historian.plant.example");
    cap.udp(&d, &dns(5, 0x0100, &[(hist.clone(), 28)], &[]));
    cap.udp(&d, &dns(5, 0x0100, &[(hist.clone(), 28)], &[]));
    let v6: std::net::Ipv6Addr = "fd00::5".parse().unwrap();
    cap.udp(
        &d.reversed(),
        &dns(
            5,
            0x8180,
            &[(hist, 28)],
            &[(vec![0xc0, 12], 28, 60, v6.octets().to_vec())],
        ),
    );
    // A response whose query was not seen, a query never answered, a
    // question whose name points to itself.
    cap.udp(
        &d.reversed(),
        &dns(9, 0x8180, &[(wire_name("late.example"), 1)], &[]),
    );
    cap.udp(&d, &dns(6, 0x0100, &[(wire_name("lost.example"), 1)], &[]));
    let mut looped = dns(7, 0x0100, &[], &[]);
    looped[5] = 1;
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    cap.udp(&d, &looped);

    // DNS over TCP: two queries in one segment, a response split in two.
    let mut c = Conversation::new(ip(CLIENT), 50001, ip(RESOLVER), 53);
    c.ep.src_mac = mac(20);
    c.ep.dst_mac = mac(53);
    let framed = |m: Vec<u8>| [(m.len() as u16).to_be_bytes().to_vec(), m].concat();
    let scada = wire_name("scada.plant.example");
    let q10 = framed(dns(10, 0x0100, &[(scada.clone(), 1)], &[]));
    let q11 = framed(dns(11, 0x0100, &[(plc_name.clone(), 1)], &[]));
    let r10 = framed(dns(
        10,
        0x8180,
        &[(scada, 1)],
        &[(vec![0xc0, 12], 1, 60, vec![10, 0, 0, 40])],
    ));
    let r11 = framed(dns(
        11,
        0x8180,
        &[(plc_name, 1)],
        &[(vec![0xc0, 12], 1, 60, PLC.to_vec())],
    ));
    c.handshake().client(&[q10, q11].concat());
    c.server(&r10[..7])
        .server(&[&r10[7..], &r11[..]].concat())
        .fin();
    cap.conversation(&c);

    // HTTP: pipelined requests, a chunked response split mid-chunk, HEAD,
    // 100-continue, one never answered.
    let mut h = Conversation::new(ip(CLIENT), 50100, ip(PLC), 80);
    h.ep.src_mac = mac(20);
    h.ep.dst_mac = mac(10);
    let get = format!("GET /a HTTP/1.1\r\nHost: 10.0.0.10\r\nUser-Agent: {WINDOWS_UA}\r\n\r\n");
    let head = "HEAD /b HTTP/1.1\r\nHost: 10.0.0.10\r\n\r\n";
    h.handshake().client(format!("{get}{head}").as_bytes());
    let chunked = b"HTTP/1.1 200 OK\r\nServer: Siemens-S7-Webserver\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
    h.server(chunked);
    h.server(b"lo\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nServer: Siemens-S7-Webserver\r\nContent-Length: 999\r\n\r\n");
    h.client(
        b"POST /c HTTP/1.1\r\nHost: 10.0.0.10\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    h.server(b"HTTP/1.1 100 Continue\r\n\r\n");
    h.client(b"abcde");
    h.server(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    h.client(b"GET /never HTTP/1.1\r\nHost: 10.0.0.10\r\n\r\n");
    h.fin();
    cap.conversation(&h);
    // HTTP found by content on port 8888.
    let mut g = Conversation::new(ip(CLIENT), 50200, ip4(10, 0, 0, 11), 8888);
    g.ep.src_mac = mac(20);
    g.ep.dst_mac = mac(11);
    g.handshake()
        .client(b"GET /status HTTP/1.0\r\nUser-Agent: curl/8.0\r\n\r\n");
    g.server(b"HTTP/1.0 200 OK\r\nServer: GoAhead-Webs\r\n\r\nrunning");
    g.fin();
    cap.conversation(&g);
    cap
}

fn plant_run() -> (tempfile::TempDir, std::path::PathBuf, Run) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plant.pcap");
    plant_capture().write(&p);
    let run = analyze_file(&p);
    assert!(run.status.success(), "{}", run.stderr);
    validate(&run);
    (dir, p, run)
}

fn find<'a>(events: &[&'a Value], pred: impl Fn(&Value) -> bool) -> &'a Value {
    let v: Vec<&&Value> = events.iter().filter(|e| pred(e)).collect();
    assert_eq!(v.len(), 1, "expected one match among {events:#?}");
    v[0]
}

#[test]
fn dhcp_messages_are_events_of_their_own() {
    let (_d, _p, run) = plant_run();
    let ev = run.of_type("dhcp");
    let types: Vec<&str> = ev
        .iter()
        .map(|e| e["dhcp"]["message_type_name"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["discover", "offer", "request", "ack"]);
    for e in &ev {
        assert_eq!(e["app_proto"], "dhcp");
        assert_eq!(e["dhcp"]["xid"], 0xfeed);
        assert_eq!(e["dhcp"]["client_mac"], "02:00:00:00:00:1e");
        assert_eq!(e["dhcp"]["broadcast"], true);
        assert_eq!(
            e["src_port"], 68,
            "the envelope's source is the client side"
        );
        assert!(e.get("ics").is_none());
    }
    let d = &ev[0]["dhcp"];
    assert_eq!(ev[0]["src_ip"], "0.0.0.0");
    assert_eq!(d["op_name"], "request");
    assert_eq!(d["hostname"], "KW-HMI");
    assert_eq!(d["vendor_class"], "MSFT 5.0");
    assert_eq!(
        d["parameter_request_list"],
        "1,15,3,6,44,46,47,31,33,121,249,43"
    );
    assert_eq!(d["client_id"], "0102000000001e");
    assert_eq!(d["options"], serde_json::json!([53, 61, 12, 60, 55]));
    assert!(d.get("flags").is_none());
    let ack = &ev[3]["dhcp"];
    assert_eq!(ev[3]["dest_ip"], "10.0.0.1");
    assert_eq!(ack["op_name"], "reply");
    assert_eq!(ack["assigned_ip"], "10.0.0.30");
    assert_eq!(ack["server_id"], "10.0.0.1");
    assert_eq!(ack["lease_time"], 86400);
    assert_eq!(ack["subnet_mask"], "255.255.255.0");
    assert_eq!(ack["routers"], serde_json::json!(["10.0.0.1"]));
    assert_eq!(ev[2]["dhcp"]["requested_ip"], "10.0.0.30");
    let bad: Vec<_> = run
        .of_type("anomaly")
        .into_iter()
        .filter(|e| e["anomaly"]["layer"] == "dhcp")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["anomaly"]["event"], "malformed_message");
}

#[test]
fn netbios_broadcasts_and_node_status() {
    let (_d, _p, run) = plant_run();
    let ev = run.of_type("netbios");
    assert_eq!(ev.len(), 3);
    let reg = find(&ev, |e| e["netbios"]["name"] == "KW-HMI");
    let n = &reg["netbios"];
    assert_eq!(n["opcode_name"], "registration");
    assert_eq!(n["suffix"], 0x20);
    assert_eq!(n["suffix_name"], "file_server");
    assert_eq!(n["name_type_name"], "NB");
    assert_eq!(n["broadcast"], true);
    assert!(
        n.get("response_missing").is_none(),
        "broadcasts expect no answer here"
    );
    let rec = &n["query"]["records"][0];
    assert_eq!(rec["section"], "additional");
    assert_eq!(rec["ttl"], 300000);
    assert_eq!(
        rec["addresses"],
        serde_json::json!([{"address": "10.0.0.30", "group": false, "node_type": "b_node"}])
    );
    let wg = find(&ev, |e| e["netbios"]["name"] == "WORKGROUP");
    assert_eq!(
        wg["netbios"]["query"]["records"][0]["addresses"][0]["group"],
        true
    );
    let st = find(&ev, |e| e["netbios"]["name_type_name"] == "NBSTAT");
    let n = &st["netbios"];
    assert_eq!(st["src_ip"], "10.0.0.20");
    assert_eq!(n["transaction_id"], 0x200);
    assert_eq!(n["name"], "*");
    assert_eq!(n["latency_us"], 1000);
    let r = &n["response"];
    assert_eq!(r["rcode_name"], "noerror");
    assert_eq!(r["authoritative"], true);
    let rec = &r["records"][0];
    assert_eq!(rec["type_name"], "NBSTAT");
    assert_eq!(rec["unit_id"], "02:00:00:00:00:1e");
    assert_eq!(rec["names"][0]["name"], "KW-HMI");
    assert_eq!(rec["names"][0]["active"], true);
    assert_eq!(rec["names"][1]["group"], true);
}

#[test]
fn dns_queries_pair_with_their_responses() {
    let (_d, _p, run) = plant_run();
    let ev = run.of_type("dns");
    let udp: Vec<&Value> = ev.iter().copied().filter(|e| e["proto"] == "UDP").collect();
    // Ids 1-4, 5 twice (a retransmission), the lone response 9, the
    // unanswered 6 and the unreadable 7.
    assert_eq!(udp.len(), 9, "{udp:#?}");
    let by_id = |id: u64| -> Vec<&Value> {
        udp.iter()
            .copied()
            .filter(|e| e["dns"]["id"] == id)
            .collect()
    };
    let a = &by_id(1)[0]["dns"];
    assert_eq!(a["rrname"], "plc1.plant.example");
    assert_eq!(a["rrtype_name"], "A");
    assert_eq!(a["query"]["recursion_desired"], true);
    assert_eq!(a["latency_us"], 1000);
    let r = &a["response"];
    assert_eq!(r["rcode_name"], "noerror");
    assert_eq!(r["answer_count"], 2);
    assert_eq!(
        r["answers"],
        serde_json::json!([
            {"rrname": "plc1.plant.example", "rrtype": 5, "rrtype_name": "CNAME", "ttl": 300, "data": "ctl1.plant.example"},
            {"rrname": "ctl1.plant.example", "rrtype": 1, "rrtype_name": "A", "ttl": 60, "data": "10.0.0.10"}
        ])
    );
    let ptr = &by_id(2)[0]["dns"];
    assert_eq!(ptr["rrname"], "10.0.0.10.in-addr.arpa");
    assert_eq!(ptr["response"]["authoritative"], true);
    assert_eq!(ptr["response"]["answers"][0]["data"], "ctl1.plant.example");
    let nx = &by_id(4)[0]["dns"];
    assert_eq!(nx["response"]["rcode_name"], "nxdomain");
    assert_eq!(nx["response"]["answers"], serde_json::json!([]));
    let retrans = by_id(5);
    assert_eq!(retrans.len(), 2);
    assert_eq!(retrans[0]["dns"]["response_missing"], true);
    assert_eq!(
        retrans[1]["dns"]["response"]["answers"][0]["data"],
        "fd00::5"
    );
    assert_eq!(by_id(9)[0]["dns"]["request_missing"], true);
    assert_eq!(by_id(9)[0]["dns"]["rrname"], "late.example");
    assert_eq!(by_id(6)[0]["dns"]["response_missing"], true);
    let looped = &by_id(7)[0]["dns"];
    assert_eq!(looped["query"]["flags"], serde_json::json!(["bad_name"]));
    assert!(looped.get("rrname").is_none());
    let bad: Vec<_> = run
        .of_type("anomaly")
        .into_iter()
        .filter(|e| e["anomaly"]["layer"] == "dns")
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["anomaly"]["event"], "malformed_message");
    assert!(bad[0]["anomaly"]["message"]
        .as_str()
        .unwrap()
        .contains("pointer loop"));
    // Over TCP: both queries of one segment, the split response joined.
    let tcp: Vec<&Value> = ev.iter().copied().filter(|e| e["proto"] == "TCP").collect();
    assert_eq!(tcp.len(), 2);
    assert_eq!(tcp[0]["dns"]["id"], 10);
    assert_eq!(tcp[0]["dns"]["response"]["answers"][0]["data"], "10.0.0.40");
    assert_eq!(tcp[1]["dns"]["id"], 11);
    assert_eq!(tcp[1]["dns"]["response"]["answers"][0]["data"], "10.0.0.10");
    for e in &ev {
        assert!(e.get("ics").is_none());
        assert_eq!(e["app_proto"], "dns");
    }
}

#[test]
fn http_requests_pair_in_order() {
    let (_d, _p, run) = plant_run();
    let ev = run.of_type("http");
    assert_eq!(ev.len(), 5, "{ev:#?}");
    let on80: Vec<&Value> = ev
        .iter()
        .copied()
        .filter(|e| e["dest_port"] == 80)
        .collect();
    let uris: Vec<&str> = on80
        .iter()
        .map(|e| e["http"]["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["/a", "/b", "/c", "/never"]);
    let a = &on80[0]["http"];
    assert_eq!(a["method"], "GET");
    assert_eq!(a["protocol"], "HTTP/1.1");
    assert_eq!(a["host"], "10.0.0.10");
    assert_eq!(a["user_agent"], WINDOWS_UA);
    assert_eq!(a["status"], 200);
    assert_eq!(a["server"], "Siemens-S7-Webserver");
    let b = &on80[1]["http"];
    assert_eq!(b["method"], "HEAD");
    assert_eq!(b["content_length"], 999);
    let c = &on80[2]["http"];
    assert_eq!(
        (c["method"].as_str(), c["status"].as_u64()),
        (Some("POST"), Some(404))
    );
    assert_eq!(c["reason"], "Not Found");
    assert_eq!(on80[3]["http"]["response_missing"], true);
    let g = find(&ev, |e| e["dest_port"] == 8888);
    assert_eq!(g["app_proto"], "http");
    assert_eq!(g["http"]["server"], "GoAhead-Webs");
    assert_eq!(g["http"]["protocol"], "HTTP/1.0");
    for e in &ev {
        assert!(e.get("ics").is_none());
        assert!(e["http"].get("flags").is_none(), "{e}");
    }
    assert!(run
        .of_type("anomaly")
        .iter()
        .all(|e| e["anomaly"]["layer"] != "http"));
}

fn assets(p: &Path) -> Value {
    assets_json(&[p])
}

/// What the inventory learns: each attribute on the right device, with
/// its source and confidence.
#[test]
fn the_inventory_learns_names_and_os_hints() {
    let (_d, p, _run) = plant_run();
    let inv = assets(&p);
    let all = inv["assets"].as_array().unwrap();
    let by_mac = |n: u8| {
        all.iter()
            .find(|a| a["macs"][0] == mac(n).to_string())
            .unwrap_or_else(|| panic!("no asset {}", mac(n)))
    };
    let attr = |a: &Value, k: &str| -> (String, String, u64) {
        let v = &a["identity"][k];
        assert!(v.is_object(), "{k} missing: {a:#}");
        (
            v["value"].as_str().unwrap().to_string(),
            v["source"].as_str().unwrap().to_string(),
            v["confidence"].as_u64().unwrap(),
        )
    };
    let own = |v: &str, s: &str, c: u64| (v.to_string(), s.to_string(), c);
    let hmi = by_mac(30);
    assert_eq!(attr(hmi, "hostname"), own("KW-HMI", "dhcp.discover", 90));
    assert_eq!(
        attr(hmi, "dhcp_vendor_class"),
        own("MSFT 5.0", "dhcp.discover", 90)
    );
    assert_eq!(attr(hmi, "os"), own("Windows", "dhcp.vendor_class", 70));
    assert_eq!(
        attr(hmi, "dhcp_fingerprint"),
        own("1,15,3,6,44,46,47,31,33,121,249,43", "dhcp.discover", 90)
    );
    assert_eq!(attr(hmi, "dhcp_ip"), own("10.0.0.30", "dhcp.ack", 95));
    assert_eq!(
        attr(hmi, "netbios_name"),
        own("KW-HMI", "netbios.registration", 90)
    );
    assert_eq!(
        attr(hmi, "netbios_domain"),
        own("WORKGROUP", "netbios.registration", 90)
    );
    let plc = by_mac(10);
    // The A answer came first; the PTR answer confirms it with more weight.
    assert_eq!(
        attr(plc, "dns_name"),
        own("ctl1.plant.example", "dns.ptr", 85)
    );
    assert_eq!(
        attr(plc, "http_server"),
        own("Siemens-S7-Webserver", "http.server", 90)
    );
    let client = by_mac(20);
    assert_eq!(
        attr(client, "os"),
        own("Windows 10/11", "http.user_agent", 60)
    );
    assert!(client["identity"].get("http_server").is_none());
    assert_eq!(
        attr(by_mac(11), "http_server"),
        own("GoAhead-Webs", "http.server", 90)
    );
    // Answers about addresses the inventory does not hold make no asset.
    for gone in ["93.184.216.34", "fd00::5", "10.0.0.40"] {
        assert!(
            all.iter()
                .all(|a| !a["ips"].as_array().unwrap().iter().any(|i| i == gone)),
            "{gone} became an asset"
        );
    }
    // The resolver and the clients of IT protocols are IT hosts.
    assert_eq!(by_mac(53)["role"], "it_host");
    assert_eq!(client["role"], "it_host");
}

/// A DHCP server's ACK gives a device its address: a device seen only by
/// MAC (its DISCOVER comes from 0.0.0.0) gets the address the ACK binds,
/// without ARP, and later traffic from that address is the same asset.
#[test]
fn a_dhcp_ack_binds_the_address_to_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::default();
    cap.arp(mac(1), DHCP_SERVER);
    let bcast = ip4(255, 255, 255, 255);
    let to_server = udp_ep(40, ip4(0, 0, 0, 0), 68, MacAddr::BROADCAST, bcast, 67);
    let from_server = udp_ep(1, ip(DHCP_SERVER), 67, MacAddr::BROADCAST, bcast, 68);
    let new_ip = [10, 0, 0, 40];
    cap.udp(
        &to_server,
        &dhcp_msg(1, 7, mac(40), [0; 4], &[(53, vec![1])]),
    );
    // An OFFER binds nothing; the ACK does.
    cap.udp(
        &from_server,
        &dhcp_msg(2, 7, mac(40), new_ip, &[(53, vec![2])]),
    );
    let offered = dir.path().join("offer.pcap");
    cap.write(&offered);
    let ack = [(53, vec![5]), (54, DHCP_SERVER.to_vec())];
    cap.udp(&from_server, &dhcp_msg(2, 7, mac(40), new_ip, &ack));
    let acked = dir.path().join("ack.pcap");
    cap.write(&acked);
    // The device then talks from its address (a DNS query to the server).
    let query = udp_ep(40, ip(new_ip), 5353, mac(1), ip(DHCP_SERVER), 53);
    cap.udp(&query, &[0; 12]);
    let talked = dir.path().join("talk.pcap");
    cap.write(&talked);

    let device = |p: &Path| -> Value {
        let inv = assets(p);
        let all = inv["assets"].as_array().unwrap();
        let d: Vec<_> = all
            .iter()
            .filter(|a| a["macs"][0] == mac(40).to_string())
            .collect();
        assert_eq!(d.len(), 1, "{inv:#}");
        // No other asset holds the address.
        let others = all
            .iter()
            .filter(|a| a["macs"][0] != mac(40).to_string())
            .filter(|a| {
                a["ips"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i == "10.0.0.40")
            })
            .count();
        assert_eq!(others, 0, "{inv:#}");
        d[0].clone()
    };
    // Known by MAC from its DISCOVER, with no address yet.
    assert_eq!(device(&offered)["ips"], serde_json::json!([]));
    for p in [&acked, &talked] {
        let d = device(p);
        assert_eq!(d["ips"], serde_json::json!(["10.0.0.40"]));
        assert_eq!(d["identity"]["dhcp_ip"]["source"], "dhcp.ack");
    }
}
