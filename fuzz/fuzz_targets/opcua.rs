//! OPC UA Binary: the pure parsers on arbitrary bytes (message header,
//! Hello, Acknowledge, Error, secure chunks, service bodies and the
//! service decoders), then the same bytes as a TCP conversation on port
//! 4840 through the whole sensor (framing, channels, chunks, pairing,
//! JSON).
//!
//! Input layout: the first byte picks where segments are cut (0: one
//! segment; n: every n bytes) and which side sends each; the rest is the
//! stream.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_protocols::opcua::services::{self, ServiceId};
use plantshield_protocols::opcua::{self, Chunk, Header, Service, HEADER_LEN};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn parsers(data: &[u8]) {
    let _ = opcua::probe(data, true);
    let _ = opcua::probe(data, false);
    let _ = Header::parse(data);
    let body = data.get(HEADER_LEN..).unwrap_or(&[]);
    let _ = opcua::Hello::parse(body);
    let _ = opcua::Acknowledge::parse(body);
    let _ = opcua::ErrorMessage::parse(body);
    if let Some(c) = Chunk::parse(data) {
        if let Some((_, _, b)) = c.sequence() {
            service(b);
        }
    }
    service(data);
}

fn service(b: &[u8]) {
    let Some(s) = Service::parse(b) else {
        return;
    };
    let _ = s.type_id.text();
    let p = s.params;
    let _ = services::open_request(p);
    let _ = services::open_response(p);
    let _ = services::create_session_request(p);
    if let Some((id, e)) = services::create_session_response(p) {
        let _ = id.text();
        for _ in e {}
    }
    if let Some(e) = services::get_endpoints_response(p) {
        for _ in e {}
    }
    let _ = services::activate_session_token(p);
    for id in [631, 673, 712, 527] {
        if let Some((_, a, b)) = services::first_nodes(ServiceId(id), p) {
            let _ = a.text();
            let _ = b.map(|b| b.text());
        }
    }
}

fn sensor(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let ep = Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_port: opcua::PORT,
        vlan: None,
    };
    let cut = usize::from(mode & 0x3f).max(1);
    let chunks: Vec<&[u8]> = if mode & 0x3f == 0 {
        vec![payload]
    } else {
        payload.chunks(cut).collect()
    };
    let mut frames = Vec::new();
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let r = ep.reversed();
    frames.push(craft::tcp_frame(&ep, cseq, 0, TcpFlags::SYN, b""));
    cseq += 1;
    frames.push(craft::tcp_frame(&r, sseq, cseq, TcpFlags::SYN | TcpFlags::ACK, b""));
    sseq += 1;
    for (i, c) in chunks.iter().enumerate() {
        let from_client = (i + usize::from(mode >> 6)) % 3 != 2;
        let flags = TcpFlags::ACK | TcpFlags::PSH;
        if from_client {
            frames.push(craft::tcp_frame(&ep, cseq, sseq, flags, c));
            cseq = cseq.wrapping_add(c.len() as u32);
        } else {
            frames.push(craft::tcp_frame(&r, sseq, cseq, flags, c));
            sseq = sseq.wrapping_add(c.len() as u32);
        }
    }
    let cfg = SensorConfig {
        max_pending_transactions: 4,
        ..SensorConfig::default()
    };
    let mut s = Sensor::new(cfg);
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 8);
    for (i, f) in frames.iter().enumerate() {
        let pkt = Packet {
            ts_ns: 1_700_000_000_000_000_000 + (i as i64) * 1_000_000,
            link_type: LinkType::ETHERNET,
            data: f,
            orig_len: f.len() as u32,
            interface: 0,
        };
        s.process(&pkt, &mut sink);
    }
    s.finish(&mut sink);
    let _ = sink.finish();
}

fuzz_target!(|data: &[u8]| {
    parsers(data);
    sensor(data);
});
