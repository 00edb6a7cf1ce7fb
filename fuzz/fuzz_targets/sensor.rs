//! Guards the whole pipeline, `plantshield_sensor::Sensor` with the engine
//! in front of the JSON sink: capture, decode, defragmentation, flow
//! table, TCP reassembly, detection, the protocol sessions, the asset
//! inventory and the detections (with their per-flow state in the flows'
//! notes) and event serialisation, under small caps so that evictions,
//! memcaps, pending-table limits and timeouts are reached.
//!
//! Input: a mode byte, then
//! - odd mode: a capture file (pcap or pcapng) read by `CaptureReader`;
//! - even mode: records `[len: u16 LE][len bytes]`, written into an
//!   Ethernet pcap built in memory with `PcapWriter`. A record is
//!   `[ctl][flags][seq: i16 LE][ack: i8][payload]`: a TCP segment between
//!   client 10.0.0.1:(40000 + client) and server 10.0.0.2:502 crafted with
//!   `craft::tcp_frame`. `ctl` bit 0 is the direction (1 = server to client),
//!   bits 1-2 the client (four flows), bits 4-7 the time step in 250 ms
//!   units; when bit 3 is set the bytes after `ctl` are a raw Ethernet
//!   frame instead. seq and ack are offsets from the next sequence number
//!   the harness expects in that direction, so 0 means in order and Modbus
//!   ADUs in the payload reach the Modbus session.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{CaptureReader, LinkType, PcapWriter};
use plantshield_decode::craft::{tcp_frame, Endpoints};
use plantshield_decode::{DefragConfig, MacAddr};
use plantshield_engine::{Engine, InventoryConfig};
use plantshield_flow::FlowConfig;
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn config() -> SensorConfig {
    SensorConfig {
        flow: FlowConfig {
            max_flows: 3,
            closed_timeout_ns: 2_000_000_000,
            short_timeout_ns: 5_000_000_000,
            long_timeout_ns: 20_000_000_000,
            lifetime_ns: 60_000_000_000,
            max_stream_buffer: 512,
            reassembly_memcap: 1024,
            ..FlowConfig::default()
        },
        defrag: DefragConfig {
            max_datagrams: 4,
            max_bytes: 4096,
            max_fragments: 8,
            timeout_ns: 1_000_000_000,
        },
        max_pending_transactions: 4,
        transaction_timeout_ns: 1_000_000_000,
        max_anomalies_per_flow: 16,
        max_decode_anomalies: 64,
    }
}

/// Builds the pcap of an even-mode input.
fn crafted(mut rest: &[u8]) -> Vec<u8> {
    let server = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 502u16);
    // Next sequence number expected per client and direction.
    let mut next = [[1000u32, 5000u32]; 4];
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).expect("in-memory write");
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        let (rec, tail) = body.split_at(len.min(body.len()));
        rest = tail;
        let Some((&ctl, rec)) = rec.split_first() else {
            continue;
        };
        ts += i64::from(ctl >> 4) * 250_000_000;
        if ctl & 8 != 0 {
            w.write_packet(ts, rec).expect("in-memory write");
            continue;
        }
        if rec.len() < 4 {
            continue;
        }
        let dir = usize::from(ctl & 1);
        let client = usize::from((ctl >> 1) & 3);
        let flags = rec[0];
        let seq_off = i16::from_le_bytes([rec[1], rec[2]]);
        let ack_off = rec[3] as i8;
        // Keep frames within one IPv4 datagram.
        let payload = &rec[4..rec.len().min(4 + 65_000)];
        let ep = Endpoints {
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst_ip: server.0,
            src_port: 40000 + client as u16,
            dst_port: server.1,
            vlan: None,
        };
        let ep = if dir == 1 { ep.reversed() } else { ep };
        let seq = next[client][dir].wrapping_add(seq_off as i32 as u32);
        let ack = next[client][1 - dir].wrapping_add(ack_off as i32 as u32);
        // SYN and FIN take a sequence number each.
        let ctl_len = u32::from(flags & 0x03 != 0);
        next[client][dir] = seq.wrapping_add(payload.len() as u32).wrapping_add(ctl_len);
        w.write_packet(ts, &tcp_frame(&ep, seq, ack, flags, payload))
            .expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let pcap;
    let capture = if mode & 1 == 1 {
        rest
    } else {
        pcap = crafted(rest);
        &pcap[..]
    };
    let mut sensor = Sensor::new(config());
    let json = JsonSink::new(std::io::sink(), "fuzz", 4);
    let mut sink = Engine::new(json, InventoryConfig::default());
    match CaptureReader::new(capture) {
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
    sensor.add_input_bytes(capture.len() as u64);
    sensor.finish(&mut sink);
    sink.inner.finish().expect("io::sink never fails");
    assert_eq!(sensor.active_flows(), 0);
    assert!(sink.inner.counts.stats == 1);
});
