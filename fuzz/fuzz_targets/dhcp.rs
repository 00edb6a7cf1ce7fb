//! DHCP: the pure parser on arbitrary bytes (the BOOTP header, the
//! options with overload, the findings, the typed option readers), then
//! the same bytes through the sensor as datagrams between ports 68 and 67.
//!
//! Input layout: the first byte picks where datagrams are cut and which
//! side sends each; the rest is the payload. The parsers also see the
//! payload behind a 236-octet header and the magic cookie, so that the
//! option walk is reached quickly.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_protocols::dhcp::{self, option, Message, MAX_OPTIONS};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn within(outer: &[u8], inner: &[u8]) {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    assert!(inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len()));
}

fn parsers(data: &[u8]) {
    let _ = dhcp::probe(data, false);
    let Some(m) = Message::parse(data) else {
        return;
    };
    std::hint::black_box((m.flags().names().count(), m.message_type(), m.client_mac()));
    within(data, m.client_hardware());
    assert!(m.options().count() <= MAX_OPTIONS);
    for o in m.options() {
        within(data, o.value);
    }
    std::hint::black_box((
        m.client_fqdn(),
        m.address_option(option::SERVER_ID),
        m.u32_option(option::LEASE_TIME),
    ));
    if let Some(l) = m.option(option::PARAMETER_REQUEST_LIST) {
        std::hint::black_box(dhcp::fingerprint(l));
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
    let mut framed = vec![1u8, 1, 6, 0];
    framed.resize(236, 0);
    framed.extend_from_slice(&dhcp::MAGIC_COOKIE);
    framed.extend_from_slice(data);
    parsers(&framed);
    sensor(data, None, (68, 67));
});
