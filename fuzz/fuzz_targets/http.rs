//! HTTP/1.x: the pure parsers on arbitrary bytes (head length, request
//! and response heads, header fields, body framing, the chunked walker
//! fed in pieces), then the same bytes through the sensor as a TCP stream
//! to port 80 (framing, pairing in order, JSON) and to an unregistered port
//! (detection by content).
//!
//! Input layout: the first byte picks where segments are cut (0: one
//! segment; n: every n bytes) and which side sends each; the rest is the
//! payload.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_protocols::http::{
    self, head_len, request_body, response_body, ChunkStep, Chunked, RequestHead, ResponseHead,
};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn within(outer: &[u8], inner: &[u8]) {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    assert!(inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len()));
}

fn parsers(data: &[u8]) {
    let _ = http::probe(data, false);
    let _ = http::probe(data, true);
    if let Some(n) = head_len(data) {
        assert!(n <= data.len());
    }
    if let Some(r) = RequestHead::parse(data) {
        within(data, r.method);
        within(data, r.uri);
        for (k, v) in r.headers.iter() {
            within(data, k);
            within(data, v);
        }
        std::hint::black_box((
            request_body(&r),
            r.host(),
            r.user_agent(),
            r.flags.names().count(),
        ));
    }
    if let Some(r) = ResponseHead::parse(data) {
        within(data, r.reason);
        std::hint::black_box((
            response_body(&r, Some(b"GET")),
            response_body(&r, None),
            r.server(),
        ));
    }
    // The chunked walker, whole and in pieces, agrees with itself.
    let whole = Chunked::default().feed(data);
    let mut c = Chunked::default();
    let mut at = 0;
    let mut pieces = ChunkStep::More;
    for p in data.chunks(7) {
        match c.feed(p) {
            ChunkStep::More => at += p.len(),
            ChunkStep::Done(n) => {
                pieces = ChunkStep::Done(at + n);
                break;
            }
            ChunkStep::Error(n) => {
                pieces = ChunkStep::Error(at + n);
                break;
            }
        }
    }
    assert_eq!(whole, pieces);
}

/// The payload through the whole sensor: cut into segments of a TCP
/// connection to `tcp_port` (if any) and into datagrams between the UDP
/// ports, both directions. The first byte picks the cut and the senders.
fn sensor(data: &[u8], tcp_port: Option<u16>, udp: (u16, u16)) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let ep = |sport, dport| Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: sport,
        dst_port: dport,
        vlan: None,
    };
    let cut = usize::from(mode & 0x3f).max(1);
    let chunks: Vec<&[u8]> = if mode & 0x3f == 0 {
        vec![payload]
    } else {
        payload.chunks(cut).collect()
    };
    let from_client = |i: usize| (i + usize::from(mode >> 6)) % 3 != 2;
    let mut frames = Vec::new();
    if let Some(port) = tcp_port {
        let e = ep(40000, port);
        let r = e.reversed();
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        frames.push(craft::tcp_frame(&e, cseq, 0, TcpFlags::SYN, b""));
        cseq += 1;
        frames.push(craft::tcp_frame(
            &r,
            sseq,
            cseq,
            TcpFlags::SYN | TcpFlags::ACK,
            b"",
        ));
        sseq += 1;
        for (i, c) in chunks.iter().enumerate() {
            let flags = TcpFlags::ACK | TcpFlags::PSH;
            if from_client(i) {
                frames.push(craft::tcp_frame(&e, cseq, sseq, flags, c));
                cseq = cseq.wrapping_add(c.len() as u32);
            } else {
                frames.push(craft::tcp_frame(&r, sseq, cseq, flags, c));
                sseq = sseq.wrapping_add(c.len() as u32);
            }
        }
    }
    let u = ep(udp.0, udp.1);
    for (i, c) in chunks.iter().enumerate() {
        let e = if from_client(i) { u } else { u.reversed() };
        frames.push(craft::udp_frame(&e, c));
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
    sensor(data, Some(80), (40001, 40002));
    sensor(data, Some(9999), (40001, 40002));
});
