//! S7comm and S7comm-plus: every parser entry point on arbitrary bytes (the
//! bytes as a stream of TPKTs, each TPDU, and what DT TPDUs carry as an
//! S7comm PDU and an S7comm-plus fragment; the bytes themselves as a TPDU,
//! a PDU and a fragment), then the same bytes as a TCP conversation on
//! port 102 through the sensor (TPKT framing, COTP joining, pairing,
//! S7comm-plus fragments, JSON).
//!
//! Checks: nothing panics; every borrowed view (TSAPs, DT payloads,
//! parameter and data parts, variable specifications, PI blocks, data
//! items, block data, userdata payloads, SZL records, plus fragment data,
//! digests and bodies) lies inside the bytes it was parsed from; lenient
//! and strict PDU parsing agree, and a PDU that is not short has exactly
//! the announced parameter and data lengths; counts stay within the
//! announced item count, `MAX_SZL_RECORDS` and `MAX_ADDRESSES`.
//!
//! Input: the parsers see the whole input; the session sees it as
//! segments (below).

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::TcpFlags;
use plantshield_fuzz::within;
use plantshield_protocols::s7comm::{self, cotp, pdu, plus, userdata};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::Sensor;

fn parsers(data: &[u8]) {
    let _ = s7comm::probe(data, true);
    let _ = s7comm::probe(data, false);
    // Every TPKT of the bytes as a stream, its TPDU and the data it carries.
    let mut rest = data;
    while !rest.is_empty() {
        match cotp::Tpkt::parse(rest) {
            Ok(t) => {
                assert!(t.version == 3 && t.length >= cotp::MIN_TPKT_LEN);
                let end = usize::from(t.length).min(rest.len());
                tpdu(&rest[4..end]);
                rest = &rest[end..];
            }
            Err(_) => rest = &rest[1..],
        }
    }
    tpdu(data);
    pdu_and_plus(data);
}

/// A TPKT payload: the TPDU, and what a DT TPDU carries.
fn tpdu(b: &[u8]) {
    match cotp::parse_tpdu(b) {
        Ok(cotp::Tpdu::Data { payload, .. }) => {
            within(b, payload);
            pdu_and_plus(payload);
        }
        Ok(cotp::Tpdu::ConnectionRequest(c) | cotp::Tpdu::ConnectionConfirm(c)) => {
            for t in [c.calling_tsap, c.called_tsap].into_iter().flatten() {
                within(b, t.0);
                std::hint::black_box((t.rack_slot(), t.connection_type(), t.is_text()));
            }
        }
        _ => {}
    }
}

/// One COTP service data unit as an S7comm PDU and as an S7comm-plus
/// fragment.
fn pdu_and_plus(data: &[u8]) {
    if let Ok((p, short)) = pdu::parse_pdu_lenient(data) {
        within(data, p.param);
        within(data, p.data);
        // Lenient parsing keeps what is there: a short PDU is flagged, and
        // a strict parse agrees.
        assert_eq!(pdu::parse_pdu(data).is_err(), short);
        if !short {
            assert_eq!(usize::from(p.header.param_len), p.param.len());
            assert_eq!(usize::from(p.header.data_len), p.data.len());
        }
        if let Some(j) = pdu::parse_job(p.param) {
            match j {
                pdu::JobParam::ReadVar(i) | pdu::JobParam::WriteVar(i) => {
                    let n = i.iter().inspect(|v| within(p.param, v.spec)).count();
                    assert!(n <= usize::from(i.count));
                    let _ = i.inconsistent();
                }
                pdu::JobParam::Pi(_, pi) => {
                    within(p.param, pi.parameter_block);
                    for b in pi.blocks() {
                        within(p.param, b.raw);
                    }
                    if let Some(a) = pi.argument() {
                        within(p.param, a);
                    }
                }
                _ => {}
            }
        }
        let _ = pdu::parse_ack(p.param);
        for d in pdu::DataItems::new(p.data) {
            within(p.data, d.value);
        }
        if let Some((_, b)) = pdu::block_data(p.data) {
            within(p.data, b);
        }
        let _ = userdata::is_push(&p);
        let _ = userdata::parse_param(p.param);
        userdata_part(p.data);
    }
    userdata_part(data);
    if let Ok(f) = plus::parse_fragment(data) {
        within(data, f.data);
        assert_eq!(usize::from(f.data_len), f.data.len());
        plus_pdu(f.version, f.data);
    }
    for v in 1..=3 {
        plus_pdu(v, data);
    }
}

fn userdata_part(data: &[u8]) {
    if let Some(d) = userdata::parse_data(data) {
        within(data, d.payload);
        assert!(d.payload.len() <= usize::from(d.length));
        let _ = userdata::szl_request(d.payload);
        if let Some(s) = userdata::szl_response(d.payload) {
            within(d.payload, s.records);
            let _ = s.inconsistent();
            assert!(s.records().count() <= userdata::MAX_SZL_RECORDS);
            for r in s.records() {
                within(s.records, r);
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
}

fn plus_pdu(version: u8, data: &[u8]) {
    if let Ok(p) = plus::parse_pdu(version, data) {
        within(data, p.body);
        if let Some(d) = p.digest {
            within(data, d);
        }
        if let Some(s) = p.set_variable() {
            within(data, s.rest);
            assert!(s.addresses().len() <= plus::MAX_ADDRESSES);
            let _ = s.is_operating_state_request();
        }
        let _ = p.object_id();
        let _ = p.names_download_transaction();
        let _ = p.error_code();
    }
}

/// The bytes as segments of one connection: each control octet picks the
/// direction (bit 0) and the length (the other bits, plus one) of the next
/// segment.
fn session(data: &[u8]) {
    let ep = Endpoints::local(40000, s7comm::PORT);
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
    frames.push(craft::tcp_frame(
        &ep,
        cseq,
        sseq,
        TcpFlags::FIN | TcpFlags::ACK,
        b"",
    ));
    let mut sensor = Sensor::new(plantshield_fuzz::config());
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
    sink.finish().expect("io::sink never fails");
    assert_eq!(sensor.active_flows(), 0);
}

fuzz_target!(|data: &[u8]| {
    parsers(data);
    session(data);
});
