//! DNP3: the pure parsers on arbitrary bytes (link frames and their CRC
//! blocks, transport headers, application fragments, object headers and
//! objects, message summaries), then the same bytes as a TCP conversation
//! and as UDP datagrams on port 20000 through the whole sensor (framing,
//! transport reassembly, pairing, JSON).
//!
//! Input layout: the first byte picks where segments are cut (0: one
//! segment; n: every n bytes) and which side sends each segment; the rest
//! is the payload.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_protocols::dnp3::{
    self, link::MAX_USER_DATA, Fragment, Frame, FunctionCode, Headers, LinkHeader, Message,
};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn parsers(data: &[u8]) {
    let _ = dnp3::probe(data, true);
    // Every frame found in the bytes, as a session would cut them.
    let mut rest = data;
    while !rest.is_empty() {
        match Frame::parse(rest) {
            Ok((f, len)) => {
                let mut buf = [0u8; MAX_USER_DATA];
                if let Ok(n) = f.user_data(&mut buf) {
                    if n > 1 {
                        fragment(&buf[1..n], f.header);
                    }
                }
                rest = &rest[len..];
            }
            Err(_) => rest = &rest[1..],
        }
    }
    // The bytes as one whole application fragment.
    let link = LinkHeader {
        length: 5,
        control: dnp3::LinkControl(0xC4),
        destination: 10,
        source: 1,
    };
    fragment(data, link);
    // The bytes as the objects of every function.
    if let Some((&fc, objects)) = data.split_first() {
        for h in Headers::new(objects, FunctionCode(fc)).flatten() {
            for _ in h.objects() {}
        }
    }
}

fn fragment(bytes: &[u8], link: LinkHeader) {
    if let Ok(frag) = Fragment::parse(bytes) {
        let mut m = Message::new(link, 1, &frag);
        m.absorb(1, &frag);
        assert!(m.headers().len() <= dnp3::summary::MAX_HEADERS_KEPT);
        assert!(m.controls().len() <= dnp3::summary::MAX_CONTROLS_KEPT);
        let _ = m.rejected_control();
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
        dst_port: 20000,
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
        // Bit 6 and 7 of the mode and the chunk index choose the sender.
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
    let mut udp = ep;
    udp.src_port = 40001;
    for (i, c) in chunks.iter().enumerate() {
        let e = if i % 2 == 0 { udp } else { udp.reversed() };
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
    sensor(data);
});
