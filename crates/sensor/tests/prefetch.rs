//! `Sensor::prefetch` is a hint: a capture gives the same events whether
//! the sensor is told about the records ahead (rightly or wrongly) or not.

use std::net::{IpAddr, Ipv4Addr};

use plantshield_capture::{CaptureReader, LinkType, PcapWriter};
use plantshield_decode::craft::{tcp_frame, udp_frame, Endpoints};
use plantshield_decode::MacAddr;
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

/// How the records ahead are shown to the sensor.
#[derive(Clone, Copy)]
enum Hints {
    None,
    /// The record three ahead, as `input::feed` does.
    Right,
    /// Another record than the one three ahead.
    Wrong(usize),
}

fn analyze(capture: &[u8], hints: Hints) -> Vec<u8> {
    let mut out = Vec::new();
    let mut sensor = Sensor::new(SensorConfig::default());
    let mut sink = JsonSink::new(&mut out, "prefetch", 32);
    let mut reader = CaptureReader::new(capture).expect("capture header");
    loop {
        match hints {
            Hints::None => {}
            Hints::Right => sensor.prefetch(LinkType::ETHERNET, reader.peek(3), &sink),
            Hints::Wrong(k) => sensor.prefetch(LinkType::ETHERNET, reader.peek(k), &sink),
        }
        match reader.next_packet() {
            Ok(Some(p)) => sensor.process(&p, &mut sink),
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    sensor.finish(&mut sink);
    sink.finish().expect("write to a Vec");
    drop(sink);
    out
}

/// 400 Modbus/TCP connections (more than the flows below which the
/// prefetch is off), interleaved, some tagged, some closed and reopened
/// from the same port, with UDP datagrams and a truncated frame between.
fn capture() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).expect("pcap header");
    let mut ts = 1_700_000_000_000_000_000i64;
    let ep = |i: u32| Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
        dst_mac: MacAddr([2, 1, 0, 0, 0, (i % 7) as u8]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 20, (i >> 8) as u8, i as u8)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 10, 0, (i % 7) as u8 + 1)),
        src_port: 40_000 + (i % 13) as u16,
        dst_port: 502,
        vlan: (i % 5 == 0).then_some(100 + (i % 3) as u16),
    };
    let mut put = |w: &mut PcapWriter<Vec<u8>>, f: &[u8]| {
        ts += 137_000;
        w.write_packet(ts, f).expect("write");
    };
    let n = 400u32;
    for i in 0..n {
        let c = ep(i);
        put(&mut w, &tcp_frame(&c, 1000, 0, 0x02, &[]));
        put(&mut w, &tcp_frame(&c.reversed(), 5000, 1001, 0x12, &[]));
        put(&mut w, &tcp_frame(&c, 1001, 5001, 0x10, &[]));
    }
    let (mut cseq, mut sseq) = (vec![1001u32; n as usize], vec![5001u32; n as usize]);
    for round in 0..6u16 {
        for i in 0..n {
            let c = ep(i);
            let k = i as usize;
            let req = [
                (round >> 8) as u8,
                round as u8,
                0,
                0,
                0,
                6,
                1,
                3,
                0,
                (i % 50) as u8,
                0,
                2,
            ];
            let resp = [
                (round >> 8) as u8,
                round as u8,
                0,
                0,
                0,
                7,
                1,
                3,
                4,
                0,
                round as u8,
                0,
                i as u8,
            ];
            put(&mut w, &tcp_frame(&c, cseq[k], sseq[k], 0x18, &req));
            cseq[k] += req.len() as u32;
            if i % 11 != 3 {
                put(
                    &mut w,
                    &tcp_frame(&c.reversed(), sseq[k], cseq[k], 0x18, &resp),
                );
                sseq[k] += resp.len() as u32;
            }
            if i % 3 == 0 {
                put(&mut w, &tcp_frame(&c, cseq[k], sseq[k], 0x10, &[]));
            }
            if i % 97 == 0 {
                put(&mut w, &udp_frame(&c, b"not modbus"));
                put(&mut w, &tcp_frame(&c, cseq[k], sseq[k], 0x18, &req)[..40]);
            }
        }
        // Every 7th connection closes and reopens from the same port.
        for i in (0..n).filter(|i| i % 7 == u32::from(round) % 7) {
            let c = ep(i);
            let k = i as usize;
            put(&mut w, &tcp_frame(&c, cseq[k], sseq[k], 0x11, &[]));
            put(
                &mut w,
                &tcp_frame(&c.reversed(), sseq[k], cseq[k] + 1, 0x11, &[]),
            );
            let isn = 90_000 * (u32::from(round) + 1);
            put(&mut w, &tcp_frame(&c, isn, 0, 0x02, &[]));
            put(&mut w, &tcp_frame(&c.reversed(), isn, isn + 1, 0x12, &[]));
            (cseq[k], sseq[k]) = (isn + 1, isn + 1);
        }
    }
    w.into_inner().expect("flush")
}

#[test]
fn prefetch_hints_do_not_change_the_events() {
    let cap = capture();
    let plain = analyze(&cap, Hints::None);
    let lines = plain.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 2_000, "{lines} events");
    assert!(plain == analyze(&cap, Hints::Right), "right hints");
    for k in [0, 1, 2, 7] {
        assert!(plain == analyze(&cap, Hints::Wrong(k)), "hints {k} ahead");
    }
}
