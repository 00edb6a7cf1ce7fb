//! Parity with Wireshark: for every EtherNet/IP capture of the shared
//! corpus, the encapsulation commands, encapsulation status codes, CIP
//! services by direction, CIP general status codes and implicit I/O
//! datagrams equal what tshark recorded in `oracle/`.
//!
//! A transaction event stands for its request (unless `request_missing`)
//! and its reply (when `enip.status`, the reply's encapsulation status, is
//! present). Wireshark counts every CIP service it dissects, so the counts
//! here are too: an Unconnected_Send request is the 0x52 service and the
//! request it carries, its reply is the carried request's reply (or 0x52
//! when routing failed, `cip.response_service`); a Multiple_Service_Packet
//! is 0x0A and each embedded service (`cip.services`). Direction is the CIP
//! response bit for both. Implicit I/O datagrams are Wireshark's `cipio`
//! frames; the oracle's `frames_without_encapsulation_command` (EtherNet/IP
//! frames it could not find a command in) is 0 for every file, and here
//! every EtherNet/IP byte on TCP frames as an encapsulation message (no
//! `invalid_header` anomaly).

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    commands: BTreeMap<u64, u64>,
    status: BTreeMap<u64, u64>,
    services: BTreeMap<(u64, &'static str), u64>,
    general_status: BTreeMap<u64, u64>,
    io_datagrams: u64,
    without_command: u64,
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn ours(rel: &str) -> Counts {
    // Enough room for every embedded service of every packet.
    let run = analyze(&[
        "--no-progress",
        "--max-values",
        "100000",
        pcaps().join(rel).to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", run.stderr);
    let mut c = Counts::default();
    for e in run.of_type("enip") {
        let x = &e["enip"];
        if let Some(io) = x.get("io") {
            c.io_datagrams += u(&io["packets"]);
            continue;
        }
        assert!(x.get("values_truncated").is_none(), "{e}");
        let cmd = u(&x["command"]);
        let req = x.get("request_missing").is_none();
        let resp = x.get("status").is_some();
        if req {
            *c.commands.entry(cmd).or_default() += 1;
            *c.status
                .entry(x.get("request_status").map_or(0, u))
                .or_default() += 1;
        }
        if resp {
            *c.commands.entry(cmd).or_default() += 1;
            *c.status.entry(u(&x["status"])).or_default() += 1;
        }
        let Some(cip) = x.get("cip") else { continue };
        let mut service = |s: u64, dir| *c.services.entry((s, dir)).or_default() += 1;
        // The request was parsed when its path is there.
        if req && cip.get("path").is_some() {
            if cip.get("unconnected_send").is_some() {
                service(0x52, "request");
            }
            service(u(&cip["service"]), "request");
        }
        if resp && cip.get("general_status").is_some() {
            let s = cip.get("response_service").unwrap_or(&cip["service"]);
            service(u(s), "response");
            *c.general_status
                .entry(u(&cip["general_status"]))
                .or_default() += 1;
        }
        for s in cip
            .get("services")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if req && s.get("request_missing").is_none() && s.get("path").is_some() {
                service(u(&s["service"]), "request");
            }
            if resp && s.get("general_status").is_some() {
                let sc = s.get("response_service").unwrap_or(&s["service"]);
                service(u(sc), "response");
                *c.general_status.entry(u(&s["general_status"])).or_default() += 1;
            }
        }
    }
    c.without_command = run.anomalies("invalid_header") as u64;
    c
}

fn hex(k: &str) -> u64 {
    u64::from_str_radix(k.trim_start_matches("0x"), 16).unwrap()
}

fn theirs(rel: &str) -> Counts {
    let o = oracle(rel);
    let mut c = Counts {
        io_datagrams: o["frames_per_protocol"].get("cipio").map_or(0, u),
        ..Counts::default()
    };
    let Some(e) = o["protocols"].get("enip") else {
        return c;
    };
    for (k, v) in e["encapsulation_commands"].as_object().unwrap() {
        c.commands.insert(hex(k), u(&v["count"]));
    }
    for (k, v) in e["encapsulation_status"].as_object().unwrap() {
        c.status.insert(hex(k), u(v));
    }
    for s in e["cip_services"].as_array().unwrap() {
        let dir = match s["direction"].as_str().unwrap() {
            "request" => "request",
            "response" => "response",
            d => panic!("direction {d}"),
        };
        c.services
            .insert((hex(s["service"].as_str().unwrap()), dir), u(&s["count"]));
    }
    for (k, v) in e["cip_general_status"].as_object().unwrap() {
        c.general_status.insert(hex(k), u(&v["count"]));
    }
    c.without_command = u(&e["frames_without_encapsulation_command"]);
    c
}

fn parity(rel: &str) {
    assert_eq!(ours(rel), theirs(rel), "differs from Wireshark for {rel}");
}

#[test]
fn controllogix_download_upload_run() {
    parity("enip/ControlLogix_Logix5000_download_upload_run.pcap");
}

#[test]
fn reboot_or_restart_engineering_session() {
    parity("enip/EIP-RebootorRestart.pcap");
}

#[test]
fn cip_start_plc() {
    parity("enip/cip_start_plc.pcap");
}

#[test]
fn cip_stop_plc() {
    parity("enip/cip_stop_plc.pcap");
}

#[test]
fn connected_messaging_and_implicit_io() {
    parity("enip/enip_cip_example.pcap");
}

#[test]
fn list_identity_over_tcp() {
    parity("enip/enip_test.pcap");
}

#[test]
fn multiple_service_packet() {
    parity("enip/multiple_service_packet_cip.pcapng");
}

#[test]
fn implicit_io_only() {
    parity("enip/ndpi_cip_io.pcap");
}

#[test]
fn several_messages_per_segment() {
    parity("enip/ndpi_ethernetIP.pcap");
}

#[test]
fn set_attribute_single_on_a_vlan() {
    parity("enip/set_attribute_single_service_cip.pcapng");
}
