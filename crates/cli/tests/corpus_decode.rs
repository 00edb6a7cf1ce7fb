//! The capture reader and the decoders against Wireshark on every file of
//! the shared corpus: record counts, first and last timestamps, container
//! format, link types, and per-protocol frame counts (ARP, IPv4, IPv6, TCP,
//! UDP) and the IPv4 addresses seen.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use plantshield_capture::{CaptureReader, Format};
use plantshield_decode::{decode_frame, decode_transport, Net, Transport};
use serde_json::Value;

fn rel(p: &Path) -> String {
    p.strip_prefix(pcaps())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// tshark prints epoch times as "seconds.nanoseconds".
fn epoch(ns: i64) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

#[derive(Default)]
struct Seen {
    frames: u64,
    first: Option<i64>,
    last: Option<i64>,
    links: BTreeSet<u16>,
    arp: u64,
    ipv4: u64,
    ipv6: u64,
    tcp: u64,
    udp: u64,
    addrs: BTreeSet<String>,
}

fn read(p: &Path) -> (Format, Seen) {
    let f = std::fs::File::open(p).unwrap();
    let mut r = CaptureReader::new(f).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let format = r.format();
    let mut s = Seen::default();
    while let Some(pkt) = r
        .next_packet()
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    {
        s.frames += 1;
        s.first.get_or_insert(pkt.ts_ns);
        s.last = Some(pkt.ts_ns);
        s.links.insert(pkt.link_type.0);
        let Ok(frame) = decode_frame(pkt.link_type, pkt.data) else {
            continue;
        };
        match frame.net {
            Net::Arp(_) => s.arp += 1,
            Net::Ip(ip) => {
                if ip.is_v6() {
                    s.ipv6 += 1;
                } else {
                    s.ipv4 += 1;
                    s.addrs.insert(ip.src.to_string());
                    s.addrs.insert(ip.dst.to_string());
                }
                if ip.fragment.is_some_and(|f| f.offset > 0) {
                    continue;
                }
                match decode_transport(ip.protocol, ip.is_v6(), ip.payload) {
                    Ok(Transport::Tcp(_)) => s.tcp += 1,
                    Ok(Transport::Udp(_)) => s.udp += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    (format, s)
}

/// Differences from tshark that are right, each with its reason. The test
/// fails if one of them disappears or changes, as well as on any other.
const JUSTIFIED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "mms/Sample_File_MMS_and_GOOSE.pcap",
        "udp frames",
        "75",
        "78",
        "three ICMP port-unreachable messages quote the header of the UDP datagram they answer; \
         tshark counts the quoted header as a UDP frame, we count the packet's own transport only",
    ),
    (
        "modbus/fuzz-72.pcap",
        "ipv4 frames",
        "34",
        "36",
        "two fuzzed frames claim an IPv4 total length beyond the frame (58 and 35124 bytes); \
         an IP stack discards them and so do we (reported as decode anomalies), tshark dissects the bytes present",
    ),
    ("modbus/fuzz-72.pcap", "tcp frames", "34", "36", "the same two frames"),
];

fn count(o: &Value, proto: &str) -> u64 {
    o["frames_per_protocol"][proto].as_u64().unwrap_or(0)
}

#[test]
fn every_corpus_capture_matches_wireshark() {
    let mut failures = Vec::new();
    for p in corpus_files() {
        let name = rel(&p);
        let o = oracle(&name);
        let (format, s) = read(&p);
        let mut check = |what: &str, ours: String, theirs: String| {
            let justified = JUSTIFIED.iter().find(|j| j.0 == name && j.1 == what);
            match justified {
                Some(j) if (j.2, j.3) == (ours.as_str(), theirs.as_str()) => {}
                Some(j) => failures.push(format!(
                    "{name}: {what}: ours {ours}, wireshark {theirs}, but the justified difference is {} vs {} ({})",
                    j.2, j.3, j.4
                )),
                None if ours != theirs => failures.push(format!("{name}: {what}: ours {ours}, wireshark {theirs}")),
                None => {}
            }
        };
        check(
            "frames",
            s.frames.to_string(),
            o["total_frames"].to_string(),
        );
        check(
            "first time",
            s.first.map(epoch).unwrap_or_default(),
            o["time"]["first_frame_epoch"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        check(
            "last time",
            s.last.map(epoch).unwrap_or_default(),
            o["time"]["last_frame_epoch"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
        let ff = o["link_layer"]["file_format"].as_str().unwrap();
        let fmt = match format {
            Format::PcapNg => "pcapng".to_string(),
            Format::Pcap {
                nanosecond,
                big_endian,
            } => format!(
                "pcap ({}-endian, {})",
                if big_endian { "big" } else { "little" },
                if nanosecond {
                    "nanosecond"
                } else {
                    "microsecond"
                }
            ),
        };
        check("format", fmt, ff.to_string());
        let links: BTreeSet<u16> = o["link_layer"]["linktypes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["value"].as_u64().unwrap() as u16)
            .collect();
        check("link types", format!("{:?}", s.links), format!("{links:?}"));
        check(
            "arp frames",
            s.arp.to_string(),
            count(&o, "arp").to_string(),
        );
        check(
            "ipv4 frames",
            s.ipv4.to_string(),
            count(&o, "ip").to_string(),
        );
        check(
            "ipv6 frames",
            s.ipv6.to_string(),
            count(&o, "ipv6").to_string(),
        );
        check(
            "tcp frames",
            s.tcp.to_string(),
            count(&o, "tcp").to_string(),
        );
        check(
            "udp frames",
            s.udp.to_string(),
            count(&o, "udp").to_string(),
        );
        let theirs: BTreeSet<String> = o["hosts"]["ip"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        check(
            "ipv4 addresses",
            format!("{:?}", s.addrs),
            format!("{theirs:?}"),
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
