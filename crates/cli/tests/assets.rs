//! The asset inventory and the communication map: routed traffic makes no
//! phantom assets, an IP moving to another MAC is reported once, the map
//! renders with Graphviz, and the inventory of every corpus capture matches
//! a reviewed table of expected devices.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Command;

use common::*;
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use serde_json::Value;

fn mac(last: u8) -> MacAddr {
    MacAddr([0x02, 0, 0, 0, 0, last])
}

/// An ARP frame (reply, or gratuitous when target = sender).
fn arp(op: u16, sender: MacAddr, sip: [u8; 4], target: MacAddr, tip: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    let dst = if op == 1 { MacAddr::BROADCAST } else { target };
    craft::ethernet(&mut f, sender, dst, None, 0x0806);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sender.0);
    f.extend_from_slice(&sip);
    f.extend_from_slice(&target.0);
    f.extend_from_slice(&tip);
    f
}

/// Sets the IPv4 TTL of an untagged Ethernet frame.
fn with_ttl(mut f: Vec<u8>, ttl: u8) -> Vec<u8> {
    f[14 + 8] = ttl;
    f
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// A local HMI and PLC; 20 remote clients reach the PLC through a router
/// (their packets carry the router's MAC and a decremented TTL), and 8
/// more through a second router that does not decrement the TTL (so only
/// the number of IPs behind one MAC gives it away).
#[test]
fn routed_traffic_makes_no_phantom_assets() {
    let plc = ip4(10, 0, 0, 10);
    let mut frames = Vec::new();
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut push = |frames: &mut Vec<(i64, Vec<u8>)>, f: Vec<u8>| {
        ts += 1_000_000;
        frames.push((ts, f));
    };
    push(
        &mut frames,
        arp(2, mac(1), [10, 0, 0, 1], mac(10), [10, 0, 0, 10]),
    );
    push(
        &mut frames,
        arp(2, mac(10), [10, 0, 0, 10], mac(1), [10, 0, 0, 1]),
    );
    let local = Endpoints {
        src_mac: mac(5),
        dst_mac: mac(10),
        src_ip: ip4(10, 0, 0, 5),
        dst_ip: plc,
        src_port: 40000,
        dst_port: 502,
        vlan: None,
    };
    let req = adu(1, 1, &[3, 0, 0, 0, 1]);
    let resp = adu(1, 1, &[3, 2, 0, 7]);
    push(
        &mut frames,
        craft::tcp_frame(&local, 1, 1, TcpFlags::ACK | TcpFlags::PSH, &req),
    );
    push(
        &mut frames,
        craft::tcp_frame(
            &local.reversed(),
            1,
            13,
            TcpFlags::ACK | TcpFlags::PSH,
            &resp,
        ),
    );
    for (router, count, decrement) in [(mac(1), 20u8, true), (mac(2), 8u8, false)] {
        for i in 0..count {
            let remote = Endpoints {
                src_mac: router,
                dst_mac: mac(10),
                src_ip: ip4(192, 168, if decrement { 50 } else { 60 }, 1 + i),
                dst_ip: plc,
                src_port: 41000 + u16::from(i),
                dst_port: 502,
                vlan: None,
            };
            let ttl = if decrement { 61 } else { 64 };
            push(
                &mut frames,
                with_ttl(
                    craft::tcp_frame(&remote, 1, 1, TcpFlags::ACK | TcpFlags::PSH, &req),
                    ttl,
                ),
            );
            let back = craft::tcp_frame(
                &remote.reversed(),
                1,
                13,
                TcpFlags::ACK | TcpFlags::PSH,
                &resp,
            );
            push(&mut frames, back);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("routed.pcap");
    write_pcap(&p, &frames);
    let inv = assets_json(&[&p]);
    let assets = inv["assets"].as_array().unwrap();
    // Two routers, the HMI, the PLC, and one remote asset per remote host.
    assert_eq!(assets.len(), 4 + 20 + 8, "{inv}");
    for a in assets {
        let macs = strs(&a["macs"]);
        let ips = strs(&a["ips"]);
        if a["remote"] == true {
            assert!(macs.is_empty());
            assert_eq!(ips.len(), 1, "one remote host per asset: {a}");
            assert!(ips[0].starts_with("192.168."), "{a}");
        } else {
            // No local asset carries a remote address.
            assert!(ips.iter().all(|ip| ip.starts_with("10.0.0.")), "{a}");
            assert_eq!(macs.len(), 1);
        }
    }
    let by_mac = |m: MacAddr| {
        assets
            .iter()
            .find(|a| strs(&a["macs"]) == [m.to_string()])
            .unwrap()
    };
    assert_eq!(
        strs(&by_mac(mac(1))["ips"]),
        ["10.0.0.1"],
        "the router keeps only its own ARP address"
    );
    assert_eq!(by_mac(mac(1))["role"], "network_gear");
    assert!(strs(&by_mac(mac(2))["ips"]).is_empty());
    assert_eq!(by_mac(mac(2))["role"], "network_gear");
    assert_eq!(by_mac(mac(10))["role"], "plc");
    assert_eq!(strs(&by_mac(mac(10))["ips"]), ["10.0.0.10"]);
    assert_eq!(by_mac(mac(5))["role"], "hmi");
}

/// An IP address that moves to another MAC (ARP poisoning flapping between
/// the owner and an attacker) is reported once, not on every flap.
#[test]
fn ip_moving_to_another_mac_is_reported_once() {
    let (owner, attacker) = (mac(10), mac(66));
    let mut frames = Vec::new();
    for i in 0..20i64 {
        let who = if i % 2 == 0 { owner } else { attacker };
        frames.push((
            1_700_000_000_000_000_000 + i * 1_000_000_000,
            arp(2, who, [10, 0, 0, 10], who, [10, 0, 0, 10]),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("arp.pcap");
    write_pcap(&p, &frames);
    let run = analyze_file(&p);
    let moved: Vec<&Value> = run
        .of_type("asset")
        .into_iter()
        .filter(|e| e["asset"]["change"] == "ip_moved")
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["asset"]["macs"][0], attacker.to_string());
    assert_eq!(moved[0]["asset"]["old"], owner.to_string());
    assert_eq!(moved[0]["asset"]["new"], format!("10.0.0.10 at {attacker}"));
    let news = run
        .of_type("asset")
        .into_iter()
        .filter(|e| e["asset"]["change"] == "new")
        .count();
    assert_eq!(news, 2, "two devices, however often they flap");
}

/// The map of the sample plant cell renders with Graphviz into a valid PNG
/// with one node per device the sample contains (samples/README.md: three
/// Modbus PLCs, an S7 PLC, an IEC 104 RTU, an EtherNet/IP PLC, an HMI and
/// an engineering workstation).
#[test]
fn map_renders_with_graphviz() {
    let sample = repo().join("samples/plant-cell.pcap");
    let out = Command::new(bin())
        .args(["map", "--no-progress", "--format", "dot"])
        .arg(&sample)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).unwrap();
    let nodes: BTreeSet<&str> = dot
        .lines()
        .filter_map(|l| l.trim().strip_prefix('a'))
        .filter(|l| l.contains("[label="))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(nodes.len(), 8, "{dot}");
    let edges = dot.lines().filter(|l| l.contains("->")).count();
    // The HMI to each of the six servers, the workstation to each PLC
    // (not to the RTU).
    assert_eq!(edges, 11, "{dot}");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("map.png");
    let mut child = Command::new("dot")
        .args(["-Tpng", "-o"])
        .arg(&png)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("Graphviz `dot` is needed (apt-get install graphviz; .ci/install does it)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let img = std::fs::read(&png).unwrap();
    assert_eq!(&img[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&img[12..16], b"IHDR");
    let width = u32::from_be_bytes(img[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(img[20..24].try_into().unwrap());
    assert!(width > 100 && height > 100, "{width}x{height}");
    // The JSON map agrees with the dot one.
    let out = Command::new(bin())
        .args(["map", "--no-progress", "--format", "json"])
        .arg(&sample)
        .output()
        .unwrap();
    let map: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(map["nodes"].as_array().unwrap().len(), 8);
    assert_eq!(map["edges"].as_array().unwrap().len(), 11);
    let out = Command::new(bin())
        .args(["map", "--no-progress", "--format", "graphml"])
        .arg(&sample)
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert_eq!(xml.matches("<node ").count(), 8);
    assert_eq!(xml.matches("<edge ").count(), 11);
}

/// The sample's identities, as the stacks that recorded it were configured
/// (scripts/plant_cell.py), and the roles their behaviour shows.
#[test]
fn sample_inventory_has_the_configured_identities() {
    let inv = assets_json(&[&repo().join("samples/plant-cell.pcap")]);
    let find = |ip: &str| {
        inv["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| strs(&a["ips"]).contains(&ip.to_string()))
            .unwrap()
            .clone()
    };
    let plc1 = find("10.10.0.11");
    assert_eq!(plc1["role"], "plc");
    assert_eq!(plc1["identity"]["vendor"]["value"], "Northwind Controls");
    assert_eq!(
        plc1["identity"]["vendor"]["source"],
        "modbus.read_device_identification"
    );
    assert_eq!(plc1["identity"]["firmware"]["value"], "3.10");
    assert_eq!(plc1["identity"]["product_code"]["value"], "NWC-M340-2020");
    assert_eq!(
        find("10.10.0.13")["identity"]["vendor"]["value"],
        "Aster Automation"
    );
    // The S7 PLC: python-snap7's server answers the SZL reads with its
    // built-in identity, the one its own client reports (get_order_code,
    // get_cpu_info); the locally administered MAC has no vendor.
    let s7 = find("10.10.0.14");
    assert_eq!(s7["role"], "plc");
    let id = |a: &Value, k: &str| a["identity"][k]["value"].clone();
    assert_eq!(id(&s7, "order_number"), "6ES7 315-2EH14-0AB0");
    assert_eq!(id(&s7, "firmware"), "V3.2.6");
    assert_eq!(id(&s7, "serial_number"), "S C-C2UR28922012");
    assert_eq!(id(&s7, "system_name"), "SNAP7-SERVER");
    assert_eq!(id(&s7, "vendor"), "Siemens");
    // The RTU: common address 47, also when the SCADA master interrogates
    // and synchronises the global address 65535.
    let rtu = find("10.10.0.15");
    assert_eq!(rtu["role"], "rtu");
    assert_eq!(id(&rtu, "iec104_common_address"), "47");
    // The EtherNet/IP PLC: cpppo's default identity object (vendor 1,
    // product code 0x36, revision 20.11, serial 0x006c061a).
    let logix = find("10.10.0.16");
    assert_eq!(logix["role"], "plc");
    assert_eq!(id(&logix, "product"), "1756-L61/B LOGIX5561");
    assert_eq!(id(&logix, "product_code"), "54");
    assert_eq!(id(&logix, "firmware"), "20.011");
    assert_eq!(id(&logix, "serial_number"), "006c061a");
    // The HMI also commands the RTU and sets its clock: still an HMI.
    assert_eq!(find("10.10.0.20")["role"], "hmi");
    assert_eq!(find("10.10.0.30")["role"], "engineering_workstation");
    assert_eq!(inv["assets"].as_array().unwrap().len(), 8);
}

/// One line per asset: what identifies it and what the inventory says.
fn describe(a: &Value) -> String {
    let mut parts = vec![
        strs(&a["ips"]).join(","),
        if a["remote"] == true {
            "remote".to_string()
        } else {
            strs(&a["macs"]).join(",")
        },
        a["role"].as_str().unwrap().to_string(),
    ];
    for key in [
        "vendor",
        "product",
        "model",
        "firmware",
        "order_number",
        "serial_number",
        "dnp3_address",
        "iec104_common_address",
        "hostname",
        "netbios_name",
        "netbios_domain",
        "dns_name",
        "os",
        "http_server",
        "dhcp_ip",
        "device_name",
        "station_name",
        "bacnet_device_instance",
        "bacnet_vendor_id",
        "profinet_vendor_id",
        "profinet_device_id",
        "profinet_role",
        "profinet_ip",
        "application_uri",
        "opcua_application_type",
    ] {
        if let Some(v) = a["identity"][key]["value"].as_str() {
            parts.push(format!("{key}={v}"));
        }
    }
    parts.join(" ")
}

/// The inventory of every corpus capture equals the reviewed table in
/// tests/data/expected_assets.txt. Set PLANTSHIELD_BLESS=1 to print the
/// current table instead (then review it before committing).
///
/// Independently of the table, every unicast IPv4 address tshark saw in a
/// capture (oracle `hosts.ip`) must belong to exactly one asset, except
/// those only quoted inside ICMP errors.
#[test]
fn corpus_inventories_match_the_reviewed_table() {
    let table = std::fs::read_to_string(repo().join("crates/cli/tests/data/expected_assets.txt"))
        .unwrap_or_default();
    let mut got = String::new();
    let mut files: Vec<String> = Vec::new();
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
                files.push(
                    f.strip_prefix(pcaps())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    files.sort();
    let mut problems = Vec::new();
    for rel in &files {
        let inv = assets_json(&[&pcaps().join(rel)]);
        got.push_str(rel);
        got.push('\n');
        let assets = inv["assets"].as_array().unwrap();
        for a in assets {
            got.push_str("  ");
            got.push_str(&describe(a));
            got.push('\n');
        }
        let o = oracle(rel);
        let icmp_errors = o["frames_per_protocol"]["icmp"].as_u64().unwrap_or(0) > 0;
        for ip in o["hosts"]["ip"].as_array().unwrap() {
            let ip = ip.as_str().unwrap();
            let v4: Ipv4Addr = ip.parse().unwrap();
            if v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.octets()[3] == 255
            {
                continue;
            }
            let holders = assets
                .iter()
                .filter(|a| strs(&a["ips"]).contains(&ip.to_string()))
                .count();
            if holders != 1 && !(holders == 0 && icmp_errors) {
                problems.push(format!("{rel}: {ip} held by {holders} assets"));
            }
        }
    }
    if std::env::var_os("PLANTSHIELD_BLESS").is_some() {
        print!("{got}");
        return;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let diff: Vec<String> = table
        .lines()
        .zip(got.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("expected: {a}\n     got: {b}"))
        .take(20)
        .collect();
    assert!(
        diff.is_empty() && table.lines().count() == got.lines().count(),
        "inventory differs from tests/data/expected_assets.txt ({} vs {} lines):\n{}",
        table.lines().count(),
        got.lines().count(),
        diff.join("\n")
    );
}
