//! The BACnet/IP, OPC UA and PROFINET DCP code never panics and stays
//! within its bounds, whatever the bytes: random datagrams and
//! well-formed BVLL/NPDU/APDU headers around random service data on UDP
//! 47808; random bytes and well-formed OPC UA headers around random bodies
//! on TCP 4840, cut anywhere; random DCP payloads (tagged and untagged).
//! Every line written is JSON, and lists stay within `--max-values`.

use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};
use proptest::prelude::*;

const MAX_VALUES: usize = 4;

fn endpoints(sport: u16, dport: u16) -> Endpoints {
    Endpoints::local(sport, dport)
}

/// Runs Ethernet frames through a sensor; returns the JSON lines.
fn run(frames: &[Vec<u8>]) -> String {
    let cfg = SensorConfig {
        max_pending_transactions: 4,
        ..SensorConfig::default()
    };
    let mut s = Sensor::new(cfg);
    let mut out = Vec::new();
    let mut sink = JsonSink::new(&mut out, "t", MAX_VALUES);
    for (i, f) in frames.iter().enumerate() {
        let pkt = Packet {
            // Some frames far apart, so timeouts fire too.
            ts_ns: 1_700_000_000_000_000_000 + (i as i64) * 7_000_000_000,
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

/// Every line is JSON; arrays of values in protocol objects stay bounded.
fn check(out: &str) -> Result<(), TestCaseError> {
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        for key in ["bacnet", "opcua", "profinet_dcp"] {
            let o = &v[key];
            for list in ["values", "properties", "results", "endpoints", "blocks"] {
                if let Some(a) = o[list].as_array() {
                    prop_assert!(a.len() <= MAX_VALUES, "{line}");
                }
            }
        }
    }
    Ok(())
}

/// UDP datagrams between two BACnet/IP hosts, each direction by a flag.
fn bacnet_frames(datagrams: &[(bool, Vec<u8>)]) -> Vec<Vec<u8>> {
    let ep = endpoints(47808, 47808);
    datagrams
        .iter()
        .map(|(fwd, d)| {
            let e = if *fwd { ep } else { ep.reversed() };
            craft::udp_frame(&e, d)
        })
        .collect()
}

/// A BVLL message with a plausible NPDU and APDU header around random
/// service data.
fn bvll_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(0x0au8),
            Just(0x0b),
            Just(0x04),
            Just(0x00),
            Just(0x05),
            Just(0x03),
            any::<u8>()
        ],
        prop_oneof![
            Just(0x00u8),
            Just(0x04),
            Just(0x08),
            Just(0x20),
            Just(0x24),
            Just(0x80),
            any::<u8>()
        ],
        (0u8..8, 0u8..16),
        any::<u8>(),
        0u8..4,
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(
            |(function, control, (pdu, flags), invoke, seq, service, data)| {
                let mut body = Vec::new();
                if function == 0x04 {
                    body.extend_from_slice(&[10, 0, 0, 9, 0xba, 0xc0]);
                }
                body.extend_from_slice(&[1, control]);
                if control & 0x20 != 0 {
                    body.extend_from_slice(&[0, 13, 1, 0x3d]);
                }
                if control & 0x08 != 0 {
                    body.extend_from_slice(&[0, 13, 1, 0x3d]);
                }
                if control & 0x20 != 0 {
                    body.push(255);
                }
                if control & 0x80 != 0 {
                    body.push(service);
                } else {
                    body.push((pdu << 4) | flags);
                    match pdu {
                        0 => body.extend_from_slice(&[0x05, invoke, seq, 2, service]),
                        1 => body.push(service % 16),
                        3 => body.extend_from_slice(&[invoke, seq, 2, service]),
                        4 => body.extend_from_slice(&[invoke, seq, 2]),
                        _ => body.extend_from_slice(&[invoke, service]),
                    }
                }
                body.extend_from_slice(&data);
                let mut v = vec![0x81, function];
                v.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
                v.extend_from_slice(&body);
                v
            },
        )
}

/// A TCP connection to port 4840 carrying `chunks` each way.
fn tcp_frames(port: u16, chunks: &[(bool, Vec<u8>)]) -> Vec<Vec<u8>> {
    let ep = endpoints(50000, port);
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
    frames
}

/// An OPC UA message with a valid header around a random body; secure
/// messages name channel 7 and a small request id, and often start with a
/// known service type.
fn opcua_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(*b"HEL"),
            Just(*b"ACK"),
            Just(*b"ERR"),
            Just(*b"OPN"),
            Just(*b"MSG"),
            Just(*b"CLO"),
            Just(*b"RHE")
        ],
        prop_oneof![Just(b'F'), Just(b'C'), Just(b'A')],
        0u32..4,
        prop_oneof![
            Just(631u16),
            Just(634),
            Just(428),
            Just(431),
            Just(461),
            Just(464),
            Just(397),
            any::<u16>()
        ],
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(kind, chunk, req, service, data)| {
            let mut body = Vec::new();
            if &kind == b"OPN" {
                body.extend_from_slice(&7u32.to_le_bytes());
                let p = b"http://opcfoundation.org/UA/SecurityPolicy#None";
                body.extend_from_slice(&(p.len() as i32).to_le_bytes());
                body.extend_from_slice(p);
                body.extend_from_slice(&(-1i32).to_le_bytes());
                body.extend_from_slice(&(-1i32).to_le_bytes());
            } else if &kind == b"MSG" || &kind == b"CLO" {
                body.extend_from_slice(&7u32.to_le_bytes());
                body.extend_from_slice(&1u32.to_le_bytes());
            }
            if kind == *b"OPN" || kind == *b"MSG" || kind == *b"CLO" {
                body.extend_from_slice(&req.to_le_bytes());
                body.extend_from_slice(&req.to_le_bytes());
                body.extend_from_slice(&[0x01, 0x00]);
                body.extend_from_slice(&service.to_le_bytes());
            }
            body.extend_from_slice(&data);
            let mut v = kind.to_vec();
            v.push(chunk);
            v.extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
            v.extend_from_slice(&body);
            v
        })
}

/// DCP frames: a frame id 0xFEFC..=0xFEFF and random header and blocks.
fn dcp_frames(payloads: &[(bool, u8, Vec<u8>)]) -> Vec<Vec<u8>> {
    let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
    payloads
        .iter()
        .map(|(fwd, id, p)| {
            let (s, d) = if *fwd { (a, b) } else { (b, a) };
            let mut f = Vec::new();
            let vlan = (id & 4 != 0).then_some(10);
            craft::ethernet(&mut f, s, d, vlan, 0x8892);
            f.extend_from_slice(&[0xfe, 0xfc + (id & 3)]);
            f.extend_from_slice(p);
            f
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn bacnet_random_datagrams(d in proptest::collection::vec(
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..20)) {
        let mut d = d;
        for (_, x) in d.iter_mut().step_by(2) {
            // Half of them start like BACnet/IP.
            if x.len() >= 2 { x[0] = 0x81; }
        }
        check(&run(&bacnet_frames(&d)))?;
    }

    #[test]
    fn bacnet_plausible_messages(d in proptest::collection::vec((any::<bool>(), bvll_strategy()), 1..40)) {
        let out = run(&bacnet_frames(&d));
        check(&out)?;
        prop_assert!(out.contains("\"event_type\":\"bacnet\"") || out.contains("invalid_bvlc"), "{out}");
    }

    #[test]
    fn opcua_random_bytes(chunks in proptest::collection::vec(
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 1..300)), 0..12)) {
        check(&run(&tcp_frames(4840, &chunks)))?;
    }

    #[test]
    fn opcua_plausible_messages_cut_anywhere(
        msgs in proptest::collection::vec((any::<bool>(), opcua_strategy()), 1..30),
        cut in 1usize..97,
    ) {
        let mut chunks = Vec::new();
        for (dir, m) in &msgs {
            for c in m.chunks(cut) {
                chunks.push((*dir, c.to_vec()));
            }
        }
        check(&run(&tcp_frames(4840, &chunks)))?;
        // And off the registered port, found by content or not at all.
        check(&run(&tcp_frames(40840, &chunks)))?;
    }

    #[test]
    fn dcp_random_payloads(p in proptest::collection::vec(
        (any::<bool>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..120)), 0..30)) {
        check(&run(&dcp_frames(&p)))?;
    }
}
