//! The DNP3 session never panics and stays within its bounds, whatever the
//! bytes and however they are cut into TCP segments or UDP datagrams:
//! random bytes, and link frames with valid CRCs around random transport
//! and application content.

use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::TcpFlags;
use plantshield_protocols::dnp3::link::build_frame;
use plantshield_protocols::dnp3::LinkControl;
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};
use proptest::prelude::*;

fn endpoints(port: u16) -> Endpoints {
    Endpoints::local(port, 20000)
}

/// Sends `chunks` (direction, bytes) over one TCP connection and as UDP
/// datagrams; returns the JSON lines written.
fn run(chunks: &[(bool, Vec<u8>)]) -> String {
    let ep = endpoints(40000);
    let r = ep.reversed();
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut frames = vec![craft::tcp_frame(&ep, cseq, 0, TcpFlags::SYN, b"")];
    cseq += 1;
    frames.push(craft::tcp_frame(
        &r,
        sseq,
        cseq,
        TcpFlags::SYN | TcpFlags::ACK,
        b"",
    ));
    sseq += 1;
    let flags = TcpFlags::ACK | TcpFlags::PSH;
    for (from_client, c) in chunks {
        if *from_client {
            frames.push(craft::tcp_frame(&ep, cseq, sseq, flags, c));
            cseq = cseq.wrapping_add(c.len() as u32);
        } else {
            frames.push(craft::tcp_frame(&r, sseq, cseq, flags, c));
            sseq = sseq.wrapping_add(c.len() as u32);
        }
    }
    let udp = endpoints(40001);
    for (from_client, c) in chunks {
        let e = if *from_client { udp } else { udp.reversed() };
        frames.push(craft::udp_frame(&e, c));
    }
    let cfg = SensorConfig {
        max_pending_transactions: 4,
        ..SensorConfig::default()
    };
    let mut s = Sensor::new(cfg);
    let mut out = Vec::new();
    let mut sink = JsonSink::new(&mut out, "t", 4);
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
    sink.finish().unwrap();
    drop(sink);
    String::from_utf8(out).unwrap()
}

/// A link frame with valid CRCs around `user_data`.
fn frame_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(0xC4u8),
            Just(0x44),
            Just(0xC9),
            Just(0x0B),
            any::<u8>()
        ],
        prop_oneof![Just(1u16), Just(10), Just(0xFFFF), any::<u16>()],
        prop_oneof![Just(1u16), Just(10)],
        prop_oneof![
            Just(0xC0u8),
            Just(0x40),
            Just(0x80),
            Just(0x00),
            any::<u8>()
        ],
        prop_oneof![
            Just(0xC0u8),
            Just(0xE0),
            Just(0xF0),
            Just(0x80),
            any::<u8>()
        ],
        prop_oneof![
            Just(0u8),
            Just(1),
            Just(3),
            Just(5),
            Just(129),
            Just(130),
            Just(131),
            any::<u8>()
        ],
        proptest::collection::vec(any::<u8>(), 0..240),
    )
        .prop_map(|(ctl, dst, src, th, ac, fc, rest)| {
            let mut ud = vec![th, ac, fc];
            ud.extend_from_slice(&rest);
            let control = LinkControl(ctl);
            if control.prm() {
                build_frame(control, dst, src, &ud)
            } else {
                build_frame(control, dst, src, &[])
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes(chunks in proptest::collection::vec(
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 1..300)), 0..12)) {
        let mut first = vec![(true, plantshield_protocols::dnp3::link::build_frame(
            LinkControl(0xC4), 10, 1, &[0xC0, 0xC0, 1, 60, 1, 6]))];
        first.extend(chunks);
        let out = run(&first);
        // The read that opens the connection is always reported.
        prop_assert!(out.contains(r#""ics":{"protocol":"dnp3","function_code":1,"function":"read""#), "{out}");
    }

    #[test]
    fn frames_with_valid_crcs(
        frames in proptest::collection::vec((any::<bool>(), frame_strategy()), 1..40),
        cut in 1usize..64,
    ) {
        // The frames of each direction, cut every `cut` bytes.
        let mut chunks = Vec::new();
        for (dir, f) in &frames {
            for c in f.chunks(cut) {
                chunks.push((*dir, c.to_vec()));
            }
        }
        let out = run(&chunks);
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["event_type"] == "dnp3" {
                let objects = v["dnp3"]["request"]["objects"].as_array().map_or(0, Vec::len);
                prop_assert!(objects <= 4, "--max-values bounds the list: {line}");
            }
        }
    }
}
