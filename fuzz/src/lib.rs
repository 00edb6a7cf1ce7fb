//! Helpers shared by the fuzz targets: the view check and the
//! "conversation" input format that the DNP3, DNS, NetBIOS, DHCP and HTTP
//! targets drive through the whole sensor.
//!
//! A conversation is a sequence of records `[ctl][len: u16 LE][payload]`
//! (a `len` past the end of the input takes what is left; a record cut
//! inside its three header bytes takes the rest as payload):
//!
//! - `ctl` bit 0: direction, 1 = from the server (10.0.0.2, the protocol's
//!   port) to the client (10.0.0.1);
//! - `ctl` bit 1: a UDP datagram between the target's UDP ports instead of
//!   the next in-sequence TCP segment of the connection to its TCP port
//!   (targets with only one transport use it for every record);
//! - `ctl` bits 4-7: capture time advanced by that many 250 ms steps before
//!   the record (the harness's transaction timeout is 1 s, so unanswered
//!   requests expire).
//!
//! The TCP connection opens with a three-way handshake before the first
//! record; the sensor's `finish` ends it.

use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{tcp_frame, udp_frame, Endpoints};
use plantshield_decode::TcpFlags;
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

/// Asserts that `inner` is empty or lies inside `outer` (a borrowed view
/// of the input, not of some other buffer).
pub fn within(outer: &[u8], inner: &[u8]) {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    assert!(
        inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len()),
        "view outside its input"
    );
}

/// One record of a conversation.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The control octet (see the module documentation).
    pub ctl: u8,
    /// The segment or datagram.
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Sent by the server.
    pub fn from_server(&self) -> bool {
        self.ctl & 1 != 0
    }
    /// A UDP datagram rather than a TCP segment.
    pub fn udp(&self) -> bool {
        self.ctl & 2 != 0
    }
}

/// Splits a conversation input into its records.
pub fn records(mut data: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    while let Some((&ctl, rest)) = data.split_first() {
        let (payload, tail) = match rest {
            [lo, hi, body @ ..] => {
                let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(body.len());
                body.split_at(n)
            }
            _ => (rest, &[][..]),
        };
        out.push(Record { ctl, payload });
        data = tail;
    }
    out
}

/// The sensor configuration of the conversation targets: small pending
/// tables, a 1 s transaction timeout, few anomaly events per flow.
pub fn config() -> SensorConfig {
    SensorConfig {
        max_pending_transactions: 4,
        transaction_timeout_ns: 1_000_000_000,
        max_anomalies_per_flow: 16,
        ..SensorConfig::default()
    }
}

/// Plays `records` through a fresh sensor into a JSON sink writing to
/// `io::sink()`: TCP segments of one connection 10.0.0.1:40000 ->
/// 10.0.0.2:`tcp_port`, UDP datagrams between `udp.0` (client) and
/// `udp.1` (server). A record whose transport is missing uses the other.
/// After `finish` no flow may remain.
pub fn run_sensor(records: &[Record<'_>], tcp_port: Option<u16>, udp: Option<(u16, u16)>) {
    let ep = |sport, dport| Endpoints::local(sport, dport);
    let mut sensor = Sensor::new(config());
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 8);
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut feed = |sensor: &mut Sensor, ts: i64, frame: &[u8]| {
        let pkt = Packet {
            ts_ns: ts,
            link_type: LinkType::ETHERNET,
            data: frame,
            orig_len: frame.len() as u32,
            interface: 0,
        };
        sensor.process(&pkt, &mut sink);
    };
    let tcp = tcp_port.map(|p| ep(40000, p));
    // Next sequence numbers: client, server.
    let mut next = [1000u32, 5000u32];
    if let Some(e) = &tcp {
        feed(
            &mut sensor,
            ts,
            &tcp_frame(e, next[0] - 1, 0, TcpFlags::SYN, b""),
        );
        let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
        feed(
            &mut sensor,
            ts,
            &tcp_frame(&e.reversed(), next[1] - 1, next[0], syn_ack, b""),
        );
        feed(
            &mut sensor,
            ts,
            &tcp_frame(e, next[0], next[1], TcpFlags::ACK, b""),
        );
    }
    let dgram = udp.map(|(c, s)| ep(c, s));
    for r in records {
        ts += i64::from(r.ctl >> 4) * 250_000_000 + 1_000_000;
        let dir = usize::from(r.from_server());
        let frame = match (&tcp, &dgram) {
            (None, None) => return,
            (None, Some(u)) | (Some(_), Some(u)) if r.udp() || tcp.is_none() => {
                udp_frame(&if dir == 1 { u.reversed() } else { *u }, r.payload)
            }
            (Some(t), _) => {
                let e = if dir == 1 { t.reversed() } else { *t };
                let flags = TcpFlags::ACK | TcpFlags::PSH;
                let f = tcp_frame(&e, next[dir], next[1 - dir], flags, r.payload);
                next[dir] = next[dir].wrapping_add(r.payload.len() as u32);
                f
            }
            (None, Some(_)) => unreachable!("handled by the UDP arm"),
        };
        feed(&mut sensor, ts, &frame);
    }
    sensor.finish(&mut sink);
    sink.finish().expect("io::sink never fails");
    assert_eq!(sensor.active_flows(), 0, "flows left after finish");
}
