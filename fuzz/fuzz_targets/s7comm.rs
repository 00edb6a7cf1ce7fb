//! S7comm and S7comm-plus: every parser entry point on arbitrary bytes, then
//! the same bytes as a TCP conversation on port 102 through the sensor
//! (TPKT framing, COTP joining, pairing, S7comm-plus fragments, JSON).
//!
//! Wiring (not done here): a `[[bin]] name = "s7comm"` entry in
//! `fuzz/Cargo.toml`; the dependencies it already lists suffice.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_protocols::s7comm::{self, cotp, pdu, plus, userdata};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn parsers(data: &[u8]) {
    let _ = s7comm::probe(data, true);
    let _ = s7comm::probe(data, false);
    let _ = cotp::Tpkt::parse(data);
    let _ = cotp::parse_tpdu(data);
    if let Ok((p, _)) = pdu::parse_pdu_lenient(data) {
        if let Some(j) = pdu::parse_job(p.param) {
            match j {
                pdu::JobParam::ReadVar(i) | pdu::JobParam::WriteVar(i) => {
                    let _ = i.iter().count();
                    let _ = i.inconsistent();
                }
                pdu::JobParam::Pi(_, pi) => {
                    let _ = pi.blocks().count();
                    let _ = pi.argument();
                }
                _ => {}
            }
        }
        let _ = pdu::parse_ack(p.param);
        let _ = pdu::DataItems::new(p.data).count();
        let _ = pdu::block_data(p.data);
        let _ = userdata::is_push(&p);
        let _ = userdata::parse_param(p.param);
    }
    if let Some(d) = userdata::parse_data(data) {
        let _ = userdata::szl_request(d.payload);
        if let Some(s) = userdata::szl_response(d.payload) {
            let _ = s.inconsistent();
            for r in s.records() {
                let _ = userdata::module_identification(r).map(|m| (m.version(), m.index_name()));
                let _ = userdata::component(r);
            }
        }
        let _ = userdata::block_counts(d.payload).count();
        let _ = userdata::block_entries(d.payload).count();
        let _ = userdata::block_info_request(d.payload);
        if let Some(i) = userdata::block_info(d.payload) {
            let _ = userdata::block_timestamp(i.code_timestamp.0, i.code_timestamp.1);
        }
        let _ = userdata::s7_time(d.payload).map(|t| t.iso());
    }
    if let Ok(f) = plus::parse_fragment(data) {
        if let Ok(p) = plus::parse_pdu(f.version, f.data) {
            let _ = p.set_variable().map(|s| s.is_operating_state_request());
            let _ = p.object_id();
            let _ = p.names_download_transaction();
            let _ = p.error_code();
        }
    }
    for v in 1..=3 {
        let _ = plus::parse_pdu(v, data);
    }
}

/// The bytes as segments of one connection: each control octet picks the
/// direction (bit 0) and the length (the other bits, plus one) of the next
/// segment.
fn session(data: &[u8]) {
    let ep = Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_port: s7comm::PORT,
        vlan: None,
    };
    let rev = ep.reversed();
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut frames = vec![
        craft::tcp_frame(&ep, cseq, 0, TcpFlags::SYN, b""),
        craft::tcp_frame(&rev, sseq, cseq + 1, TcpFlags::SYN | TcpFlags::ACK, b""),
    ];
    cseq += 1;
    sseq += 1;
    frames.push(craft::tcp_frame(&ep, cseq, sseq, TcpFlags::ACK, b""));
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let n = (usize::from(ctl >> 1) + 1).min(tail.len());
        let (seg, tail) = tail.split_at(n);
        rest = tail;
        let flags = TcpFlags::ACK | TcpFlags::PSH;
        if ctl & 1 == 0 {
            frames.push(craft::tcp_frame(&ep, cseq, sseq, flags, seg));
            cseq = cseq.wrapping_add(seg.len() as u32);
        } else {
            frames.push(craft::tcp_frame(&rev, sseq, cseq, flags, seg));
            sseq = sseq.wrapping_add(seg.len() as u32);
        }
    }
    frames.push(craft::tcp_frame(&ep, cseq, sseq, TcpFlags::FIN | TcpFlags::ACK, b""));
    let mut sensor = Sensor::new(SensorConfig::default());
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 32);
    for (i, f) in frames.iter().enumerate() {
        let pkt = Packet {
            ts_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_000,
            link_type: LinkType::ETHERNET,
            data: f,
            orig_len: f.len() as u32,
            interface: 0,
        };
        sensor.process(&pkt, &mut sink);
    }
    sensor.finish(&mut sink);
    let _ = sink.finish();
}

fuzz_target!(|data: &[u8]| {
    parsers(data);
    session(data);
});
