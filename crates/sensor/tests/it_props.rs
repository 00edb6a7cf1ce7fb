//! The DNS, NetBIOS, DHCP and HTTP sessions never panic, write valid JSON
//! and stay within their bounds, whatever the bytes and however they are cut
//! into TCP segments or UDP datagrams: random bytes, and well-formed heads
//! and messages around random content.

use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::TcpFlags;
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};
use proptest::prelude::*;

fn endpoints(sport: u16, dport: u16) -> Endpoints {
    Endpoints::local(sport, dport)
}

/// Sends `chunks` (direction, bytes) over a TCP connection to each TCP port
/// and as datagrams to each UDP port; returns the JSON lines written.
fn run(chunks: &[(bool, Vec<u8>)], tcp_ports: &[u16], udp_ports: &[(u16, u16)]) -> String {
    let mut frames = Vec::new();
    for (i, &port) in tcp_ports.iter().enumerate() {
        let ep = endpoints(40000 + i as u16, port);
        let r = ep.reversed();
        let (mut cseq, mut sseq) = (1000u32, 5000u32);
        frames.push(craft::tcp_frame(&ep, cseq, 0, TcpFlags::SYN, b""));
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
    }
    for &(sport, dport) in udp_ports {
        let udp = endpoints(sport, dport);
        for (from_client, c) in chunks {
            let e = if *from_client { udp } else { udp.reversed() };
            frames.push(craft::udp_frame(&e, c));
        }
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

fn check(out: &str) -> Result<(), TestCaseError> {
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l)
            .map_err(|e| TestCaseError::fail(format!("bad JSON {l}: {e}")))?;
        // Bounded output: at most 4 answers, records, addresses per list.
        if let Some(a) = v["dns"]["response"]["answers"].as_array() {
            prop_assert!(a.len() <= 4);
        }
        for side in ["query", "response"] {
            if let Some(r) = v["netbios"][side]["records"].as_array() {
                prop_assert!(r.len() <= 4);
            }
        }
        if let Some(u) = v["http"]["uri"].as_str() {
            prop_assert!(u.len() <= 1024 * 3);
        }
    }
    Ok(())
}

const TCP: &[u16] = &[53, 80, 8080, 9999];
const UDP: &[(u16, u16)] = &[(40100, 53), (137, 137), (68, 67), (67, 68)];

/// An HTTP message: a head around random parts, then a body framed as the
/// head says (or not).
fn http_message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just("GET / HTTP/1.1\r\n"),
            Just("HTTP/1.1 200 OK\r\n"),
            Just("POST /x HTTP/1.0\r\n"),
            Just("HTTP/1.1 100 Continue\r\n")
        ],
        prop_oneof![
            Just(String::new()),
            (0u32..40).prop_map(|n| format!("Content-Length: {n}\r\n")),
            Just("Transfer-Encoding: chunked\r\n".to_string()),
            "[ -~]{0,30}".prop_map(|s| format!("X: {s}\r\n")),
        ],
        proptest::collection::vec(any::<u8>(), 0..60),
    )
        .prop_map(|(start, field, body)| {
            let mut v = start.as_bytes().to_vec();
            v.extend_from_slice(field.as_bytes());
            v.extend_from_slice(b"\r\n");
            v.extend_from_slice(&body);
            v
        })
}

/// A DNS-shaped message: a header with small counts, then random bytes.
fn dns_message() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u16>(),
        any::<u16>(),
        proptest::array::uniform4(0u8..4),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(id, flags, counts, rest)| {
            let mut v = id.to_be_bytes().to_vec();
            v.extend_from_slice(&flags.to_be_bytes());
            for c in counts {
                v.extend_from_slice(&[0, c]);
            }
            v.extend_from_slice(&rest);
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes(chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..8)) {
        check(&run(&chunks, TCP, UDP))?;
    }

    #[test]
    fn http_messages_cut_anywhere(msgs in proptest::collection::vec((any::<bool>(), http_message()), 1..8), cut in 1usize..40) {
        let mut chunks = Vec::new();
        for (dir, m) in msgs {
            for c in m.chunks(cut) {
                chunks.push((dir, c.to_vec()));
            }
        }
        check(&run(&chunks, &[80, 9999], &[]))?;
    }

    #[test]
    fn name_service_messages(msgs in proptest::collection::vec((any::<bool>(), dns_message()), 1..12)) {
        let out = run(&msgs, &[], &[(40100, 53), (137, 137)]);
        check(&out)?;
        // Over TCP, each message behind its length.
        let framed: Vec<(bool, Vec<u8>)> = msgs
            .iter()
            .map(|(d, m)| (*d, [(m.len() as u16).to_be_bytes().to_vec(), m.clone()].concat()))
            .collect();
        check(&run(&framed, &[53], &[]))?;
    }

    #[test]
    fn dhcp_headers_with_random_options(head in proptest::collection::vec(any::<u8>(), 236), opts in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut m = head;
        m[0] = 1 + (m[0] & 1);
        m[2] &= 15;
        m.extend_from_slice(&[99, 130, 83, 99]);
        m.extend_from_slice(&opts);
        check(&run(&[(true, m.clone()), (false, m)], &[], &[(68, 67), (67, 68)]))?;
    }
}

/// The events of a run of one type.
fn events(out: &str, t: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == t)
        .collect()
}

/// Whatever the segment boundaries, HTTP framing finds every message:
/// pipelined requests, a chunked response with extensions and trailers, a
/// HEAD response with a length and no body, an interim response.
#[test]
fn http_framing_survives_every_cut() {
    let requests: &[u8] = b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nHEAD /two HTTP/1.1\r\nHost: a\r\n\r\nPOST /three HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
    let responses: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    for cut in 1..=48 {
        let mut chunks: Vec<(bool, Vec<u8>)> =
            requests.chunks(cut).map(|c| (true, c.to_vec())).collect();
        chunks.extend(responses.chunks(cut).map(|c| (false, c.to_vec())));
        let out = run(&chunks, &[80], &[]);
        let ev = events(&out, "http");
        let got: Vec<(String, u64)> = ev
            .iter()
            .map(|e| {
                (
                    e["http"]["uri"].as_str().unwrap_or("-").to_string(),
                    e["http"]["status"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let want = [("/one", 200), ("/two", 200), ("/three", 201)].map(|(u, s)| (u.to_string(), s));
        assert_eq!(got, want, "cut {cut}");
        assert!(events(&out, "anomaly").is_empty(), "cut {cut}: {out}");
    }
}

/// DNS over TCP: messages behind their lengths, cut anywhere.
#[test]
fn dns_tcp_framing_survives_every_cut() {
    let msg = |id: u16, qr: u16| {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&(qr | 0x0100).to_be_bytes());
        v.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        v.extend_from_slice(b"\x03plc\x07example\x00\x00\x01\x00\x01");
        [(v.len() as u16).to_be_bytes().to_vec(), v].concat()
    };
    let queries = [msg(1, 0), msg(2, 0), msg(3, 0)].concat();
    let responses = [msg(1, 0x8000), msg(2, 0x8000), msg(3, 0x8000)].concat();
    for cut in 1..=40 {
        let mut chunks: Vec<(bool, Vec<u8>)> =
            queries.chunks(cut).map(|c| (true, c.to_vec())).collect();
        chunks.extend(responses.chunks(cut).map(|c| (false, c.to_vec())));
        let out = run(&chunks, &[53], &[]);
        let ev = events(&out, "dns");
        let ids: Vec<u64> = ev
            .iter()
            .map(|e| e["dns"]["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1, 2, 3], "cut {cut}");
        assert!(
            ev.iter().all(|e| e["dns"]["latency_us"].is_u64()),
            "cut {cut}"
        );
    }
}

/// The pending table holds `max_pending` queries (4 here): a fifth ends
/// the oldest with an anomaly. A query longer than what is kept is paired
/// and reported from its start (`query_cut`), not as truncated.
#[test]
fn dns_pending_bounds() {
    let query = |id: u16, extra: usize| {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&[
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            if extra > 0 { 1 } else { 0 },
        ]);
        v.extend_from_slice(b"\x03plc\x07example\x00\x00\x01\x00\x01");
        if extra > 0 {
            // An additional record with `extra` octets of data.
            v.extend_from_slice(&[0, 0, 16, 0, 1, 0, 0, 0, 0]);
            v.extend_from_slice(&(extra as u16).to_be_bytes());
            v.extend(std::iter::repeat_n(b'x', extra));
        }
        v
    };
    let mut chunks: Vec<(bool, Vec<u8>)> = (1..=5).map(|id| (true, query(id, 0))).collect();
    chunks.push((true, query(9, 2000)));
    let mut resp = query(9, 0);
    resp[2] |= 0x80;
    chunks.push((false, resp));
    let out = run(&chunks, &[], &[(40100, 53)]);
    let anomalies = events(&out, "anomaly");
    let codes: Vec<&str> = anomalies
        .iter()
        .map(|a| a["anomaly"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["pending_table_full", "pending_table_full"], "{out}");
    let ev = events(&out, "dns");
    let ids: Vec<u64> = ev
        .iter()
        .map(|e| e["dns"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 9, 3, 4, 5], "{out}");
    let big = &ev[2]["dns"];
    assert_eq!(big["flags"], serde_json::json!(["query_cut"]));
    assert!(big["query"].get("flags").is_none(), "{big}");
    assert_eq!(big["rrname"], "plc.example");
    assert!(ev
        .iter()
        .filter(|e| e["dns"]["id"] != 9)
        .all(|e| e["dns"]["response_missing"] == true));
}
