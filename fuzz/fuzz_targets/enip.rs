//! Guards the pure EtherNet/IP and CIP parsers of
//! `plantshield_protocols::enip` (`probe`, `parse_io`, `Header::parse`,
//! `parse_body` for every command, CPF items, Message Router requests and
//! replies, EPATHs, Unconnected_Send, Forward_Open/Close, Multiple Service
//! Packet entries, Logix tag data and values, identity) and, for odd mode
//! bytes, the EtherNet/IP session through the sensor and the JSON sink.
//! Nothing may panic, every borrowed view must lie within the input, a
//! valid encapsulation header must be written back unchanged by
//! `Header::emit`, EPATHs have at most `MAX_SEGMENTS` + 1 segments, typed
//! tag values no more than their data octets, and no flow is left after
//! `finish`.
//!
//! Input: a mode byte, then
//! - the parsers see the rest whole, and as a CIP message after an
//!   encapsulation header when it has one;
//! - odd mode: the rest is also records `[len: u8][ctl][payload]` sent
//!   between 10.0.0.1 and 10.0.0.2: `ctl` bit 0 is the direction (1 = from
//!   the server), bit 1 selects UDP (bit 2 then picks port 2222 instead of
//!   44818), otherwise a TCP segment to port 44818 in sequence; bits 4-7
//!   advance time in 500 ms steps so transaction timeouts are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{CaptureReader, LinkType, PcapWriter};
use plantshield_decode::craft::{tcp_frame, udp_frame, Endpoints};
use plantshield_decode::TcpFlags;
use plantshield_fuzz::within;
use plantshield_protocols::enip::{
    parse_body, parse_io, parse_request, parse_response, probe, Body, Command, ConnectionFailure,
    EncapStatus, Epath, ForwardClose, ForwardCloseReply, ForwardOpen, ForwardOpenReply, Header,
    Identity, ListIdentityItem, ServiceList, TagReply, TagRequest, Target, UnconnectedSend,
    HEADER_LEN,
};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn path(outer: &[u8], p: Epath<'_>) {
    within(outer, p.bytes);
    let info = p.info();
    std::hint::black_box((info.error.map(|e| e.name()), p.tag_name(), p.to_text()));
    assert!(p.segments().count() <= plantshield_protocols::enip::MAX_SEGMENTS + 1);
}

/// A CIP message as a request and as a reply, one level of embedding deep.
fn cip(msg: &[u8], depth: u8) {
    if let Some(q) = parse_request(msg) {
        within(msg, q.data);
        path(msg, q.path);
        let target = Target::of(&q.path.info());
        let name = q.service.name(target);
        std::hint::black_box((name, q.service.operation(target)));
        if let Some(TagRequest::Write {
            data_type, data, ..
        }) = TagRequest::parse(name, q.data)
        {
            within(msg, data);
            if let Some(v) = data_type.values(data) {
                assert!(v.count() <= data.len());
            }
        }
        for large in [false, true] {
            if let Some(f) = ForwardOpen::parse(q.data, large) {
                path(msg, f.connection_path);
            }
        }
        if let Some(f) = ForwardClose::parse(q.data) {
            path(msg, f.connection_path);
        }
        if let Some(u) = UnconnectedSend::parse(q.data) {
            within(msg, u.message);
            path(msg, u.route_path);
            if depth > 0 {
                cip(u.message, depth - 1);
            }
        }
        entries(msg, q.data, depth);
    }
    if let Some(r) = parse_response(msg) {
        within(msg, r.data);
        within(msg, r.additional_status);
        std::hint::black_box((r.general_status.name(), r.extended_status().count()));
        std::hint::black_box(r.service.name(Target::Unknown));
        if let Some(t) = TagReply::parse(r.data) {
            within(msg, t.data);
            if let Some(v) = t.data_type.values(t.data) {
                assert!(v.count() <= t.data.len());
            }
        }
        if let Some(f) = ForwardOpenReply::parse(r.data) {
            within(msg, f.application_reply);
        }
        std::hint::black_box((
            ForwardCloseReply::parse(r.data),
            ConnectionFailure::parse(r.data),
        ));
        if let Some(id) = Identity::parse(r.data) {
            within(msg, id.product_name);
        }
        entries(msg, r.data, depth);
    }
}

fn entries(msg: &[u8], data: &[u8], depth: u8) {
    if let Some(l) = ServiceList::parse(data) {
        std::hint::black_box(l.is_well_formed());
        for e in l.entries().flatten() {
            within(msg, e);
            if depth > 0 {
                cip(e, depth - 1);
            }
        }
    }
}

fn parsers(b: &[u8]) {
    std::hint::black_box((probe(b, true), probe(b, false)));
    if let Some(io) = parse_io(b) {
        within(b, io.data);
    }
    if let Some(li) = ListIdentityItem::parse(b) {
        within(b, li.identity.product_name);
    }
    cip(b, 2);
    let Ok(h) = Header::parse(b) else {
        return;
    };
    // A valid header is written back octet for octet.
    let mut out = Vec::new();
    h.emit(&mut out);
    assert_eq!(out, b[..HEADER_LEN]);
    std::hint::black_box((h.command.name(), h.status.name(), h.command.operation()));
    let data = &b[HEADER_LEN..b.len().min(h.pdu_len())];
    for command in [
        h.command,
        Command::SEND_RR_DATA,
        Command::LIST_IDENTITY,
        Command::LIST_SERVICES,
    ] {
        for reply in [false, true] {
            let h = Header {
                command,
                status: EncapStatus(u32::from(reply)),
                ..h
            };
            match parse_body(&h, data, reply) {
                Body::Send { cpf, .. } => {
                    for i in cpf.items() {
                        within(data, i.data);
                        std::hint::black_box(i.type_id.name());
                    }
                    let m = cpf.message();
                    within(data, m.data);
                    if let Some((_, msg)) = m.sequenced_data() {
                        within(data, msg);
                        cip(msg, 2);
                    }
                    cip(m.data, 2);
                }
                Body::ListIdentity {
                    identity: Some(li), ..
                } => within(data, li.identity.product_name),
                Body::ListServices { name, .. } => within(data, name),
                Body::Raw(d) | Body::Malformed { data: d, .. } => within(data, d),
                _ => {}
            }
        }
    }
}

fn config() -> SensorConfig {
    SensorConfig {
        max_pending_transactions: 4,
        transaction_timeout_ns: 1_000_000_000,
        max_anomalies_per_flow: 16,
        ..SensorConfig::default()
    }
}

/// The records of an odd-mode input as an Ethernet pcap.
fn crafted(mut rest: &[u8]) -> Vec<u8> {
    let ep = Endpoints::local(50000, 44818);
    let mut next = [1000u32, 5000u32];
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).expect("in-memory write");
    let syn = tcp_frame(&ep, next[0] - 1, 0, TcpFlags::SYN, &[]);
    w.write_packet(ts, &syn).expect("in-memory write");
    let syn_ack = tcp_frame(
        &ep.reversed(),
        next[1] - 1,
        next[0],
        TcpFlags::SYN | TcpFlags::ACK,
        &[],
    );
    w.write_packet(ts, &syn_ack).expect("in-memory write");
    while let Some((&len, body)) = rest.split_first() {
        let (rec, tail) = body.split_at(usize::from(len).min(body.len()));
        rest = tail;
        let Some((&ctl, payload)) = rec.split_first() else {
            continue;
        };
        ts += i64::from(ctl >> 4) * 500_000_000;
        let dir = usize::from(ctl & 1);
        let frame = if ctl & 2 != 0 {
            let port = if ctl & 4 != 0 { 2222 } else { 44818 };
            let e = Endpoints {
                src_port: port,
                dst_port: port,
                ..ep
            };
            let e = if dir == 1 { e.reversed() } else { e };
            udp_frame(&e, payload)
        } else {
            let e = if dir == 1 { ep.reversed() } else { ep };
            let f = tcp_frame(
                &e,
                next[dir],
                next[1 - dir],
                TcpFlags::ACK | TcpFlags::PSH,
                payload,
            );
            next[dir] = next[dir].wrapping_add(payload.len() as u32);
            f
        };
        w.write_packet(ts, &frame).expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    if mode & 1 == 0 {
        return;
    }
    let pcap = crafted(rest);
    let mut sensor = Sensor::new(config());
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 4);
    match CaptureReader::new(&pcap[..]) {
        Ok(mut reader) => loop {
            match reader.next_packet() {
                Ok(Some(p)) => sensor.process(&p, &mut sink),
                Ok(None) => break,
                Err(e) => {
                    sensor.capture_error("fuzz", &e, &mut sink);
                    break;
                }
            }
        },
        Err(e) => sensor.capture_error("fuzz", &e, &mut sink),
    }
    sensor.finish(&mut sink);
    sink.finish().expect("io::sink never fails");
    assert_eq!(sensor.active_flows(), 0);
});
