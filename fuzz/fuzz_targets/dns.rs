//! DNS: the pure parser on arbitrary bytes (header, every question and
//! record, names with compression, record data by type, presentation
//! text), then the same bytes through the sensor as UDP datagrams on port
//! 53 and as a TCP stream to port 53 (length framing, pairing, JSON).
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
use plantshield_protocols::dns::{self, read_name, Message, RData, Section, MAX_TEXT_LEN};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn within(outer: &[u8], inner: &[u8]) {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    assert!(inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len()));
}

fn parsers(data: &[u8]) {
    let _ = dns::probe(data, false);
    let _ = dns::probe(data, true);
    let mut buf = [0u8; MAX_TEXT_LEN];
    if let Some(mut m) = Message::parse(data) {
        m.check_rdata();
        std::hint::black_box((m.flags.names().count(), m.is_complete(), m.counts_read()));
        for q in m.questions() {
            assert!(q.name.text(&mut buf).len() <= MAX_TEXT_LEN);
            std::hint::black_box(q.qtype.name());
        }
        for s in [Section::Answer, Section::Authority, Section::Additional] {
            for r in m.records(s) {
                within(data, r.rdata);
                let _ = r.name.text(&mut buf);
                match r.data() {
                    RData::Name(n) | RData::Mx(_, n) | RData::Srv(_, _, _, n) => {
                        let _ = n.text(&mut buf);
                    }
                    RData::Txt(d) | RData::Other(d) | RData::Malformed(d) => within(data, d),
                    RData::A(_) | RData::Aaaa(_) => {}
                }
            }
        }
    }
    // A name at each of the first offsets.
    for i in 0..data.len().min(32) {
        if let Ok((n, end)) = read_name(data, i) {
            assert!(end <= data.len());
            for l in n.labels() {
                within(data, l);
            }
        }
    }
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
    sensor(data, Some(53), (40001, 53));
});
