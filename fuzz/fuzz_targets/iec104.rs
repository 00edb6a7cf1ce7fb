//! IEC 60870-5-104 parser entry points on arbitrary bytes: the content
//! probe, APDU framing over a byte stream, the ASDU parser with every
//! information object decoded and every name looked up. Nothing may panic,
//! and what the parsers return must stay within the input; control octets,
//! clean APDUs (`emit_apdu`), every ASDU (`emit_asdu`) and CP56Time2a
//! times round trip. Then the same
//! bytes as a TCP conversation on port 2404 through the whole sensor
//! (session, pairing, JSON): each input byte `h` heads a segment of
//! `h & 0x3f` bytes, sent by the server when `h & 0x80`, 31 s after the
//! previous one when `h & 0x40` (transaction timeouts).

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{tcp_frame, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_protocols::iec104::{
    apdu_size, emit_apdu, emit_asdu, parse_apdu, parse_asdu, probe, ApciFlags, Control, Cp56Time2a,
    Time, MAX_APDU_LEN, MAX_ASDU_LEN,
};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fuzz_target!(|data: &[u8]| {
    let _ = probe(data, true);
    let _ = probe(data, false);

    // Frame the input as a stream, as the session does: whole APDUs, and a
    // one-byte skip wherever no APDU starts.
    let mut rest = data;
    while !rest.is_empty() {
        match apdu_size(rest) {
            Ok(n) if n <= rest.len() => {
                assert!(n <= MAX_APDU_LEN);
                let apdu = parse_apdu(rest).expect("a complete APDU parses");
                assert!(apdu.asdu.len() <= MAX_ASDU_LEN);
                let _ = apdu.flags.names().count();
                // Control octets round trip unless reserved bits were set;
                // a clean APDU is rebuilt exactly by `emit_apdu`.
                let mut out = Vec::new();
                apdu.control.emit(&mut out);
                assert_eq!(Control::parse(out[..].try_into().unwrap()), apdu.control);
                if !apdu.flags.has(ApciFlags::RESERVED_CONTROL_BITS) {
                    assert_eq!(out, apdu.control_octets);
                }
                if apdu.flags.is_empty() {
                    out.clear();
                    emit_apdu(apdu.control, apdu.asdu, &mut out);
                    assert_eq!(out, rest[..n]);
                }
                match apdu.control {
                    Control::I { send, receive } => {
                        assert!(send < 0x8000 && receive < 0x8000);
                        asdu(apdu.asdu);
                    }
                    Control::S { receive } => assert!(receive < 0x8000),
                    Control::U(f) => {
                        let _ = (f.name(), f.procedure());
                    }
                }
                rest = &rest[n..];
            }
            Ok(_) => break,
            Err(_) => rest = &rest[1..],
        }
    }
    // The whole input as one ASDU too.
    asdu(data);
    session(data);
});

fn session(data: &[u8]) {
    let ep = Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 20)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)),
        src_port: 40000,
        dst_port: 2404,
        vlan: None,
    };
    let rev = ep.reversed();
    let cfg = SensorConfig {
        max_pending_transactions: 4,
        ..SensorConfig::default()
    };
    let mut sensor = Sensor::new(cfg);
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 4);
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut ts = 1_700_000_000_000_000_000i64;
    let mut feed = |sensor: &mut Sensor, ts: i64, frame: Vec<u8>| {
        let p = Packet {
            ts_ns: ts,
            link_type: LinkType::ETHERNET,
            data: &frame,
            orig_len: frame.len() as u32,
            interface: 0,
        };
        sensor.process(&p, &mut sink);
    };
    feed(&mut sensor, ts, tcp_frame(&ep, cseq, 0, TcpFlags::SYN, b""));
    cseq += 1;
    let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
    feed(&mut sensor, ts, tcp_frame(&rev, sseq, cseq, syn_ack, b""));
    sseq += 1;
    let mut rest = data;
    while let Some((&h, r)) = rest.split_first() {
        let n = usize::from(h & 0x3f).min(r.len());
        let (seg, r2) = r.split_at(n);
        rest = r2;
        ts += if h & 0x40 != 0 {
            31_000_000_000
        } else {
            1_000_000
        };
        let flags = TcpFlags::ACK | TcpFlags::PSH;
        let frame = if h & 0x80 == 0 {
            let f = tcp_frame(&ep, cseq, sseq, flags, seg);
            cseq = cseq.wrapping_add(n as u32);
            f
        } else {
            let f = tcp_frame(&rev, sseq, cseq, flags, seg);
            sseq = sseq.wrapping_add(n as u32);
            f
        };
        feed(&mut sensor, ts, frame);
    }
    sensor.finish(&mut sink);
    sink.finish().expect("io::sink never fails");
    assert_eq!(sensor.active_flows(), 0);
}

fn asdu(b: &[u8]) {
    match parse_asdu(b) {
        Ok(a) => {
            // The data unit identifier and objects rebuild the ASDU.
            let mut out = Vec::new();
            emit_asdu(
                a.type_id,
                a.vsq,
                a.cot,
                a.originator,
                a.common_address,
                a.objects,
                &mut out,
            );
            assert_eq!(out, b);
            let _ = (
                a.type_id.name(),
                a.type_id.mnemonic(),
                a.type_id.operation(),
            );
            let _ = (a.cot.cause().name(), a.flags.names().count());
            let _ = a.first_ioa();
            let mut n = 0;
            let mut s = String::new();
            for o in a.objects() {
                n += 1;
                assert!(o.ioa <= 0x00ff_ffff);
                if let Some(q) = o.element.quality {
                    let _ = q.names().count();
                }
                s.clear();
                match o.element.time {
                    Some(Time::Cp56(t)) => {
                        // Written and read again, a time is the same time.
                        let mut w = Vec::new();
                        t.emit(&mut w);
                        assert_eq!(Cp56Time2a::parse(&w), Some(t));
                        t.format(&mut s)
                    }
                    Some(Time::Cp24(t)) => t.format(&mut s),
                    None => {}
                }
            }
            assert!(n <= usize::from(a.vsq.number()));
        }
        Err(t) => assert!(t.len < 6 && t.len <= b.len()),
    }
}
