//! Guards TCP reassembly (`plantshield_flow::TcpConn` and its two `Stream`s)
//! with a small out-of-order buffer and a small global `Budget`.
//!
//! Input: two bytes choosing the per-direction buffer and the budget cap
//! (multiples of 16 bytes, zero included), then operations:
//! - `op & 7 < 6`: a segment in direction `op >> 7`:
//!   `[flags][seq: i32 LE][ack: i32 LE][len][len payload bytes]`, where seq
//!   and ack are offsets from the next sequence number each direction
//!   expects (0 = in order), so the fuzzer reaches in-order, overlapping,
//!   out-of-order and wrapped segments alike;
//! - `op & 7 == 6`: flush both directions;
//! - `op & 7 == 7`: bypass direction `op >> 7`.
//!
//! The connection is flushed at the end. After every operation: the budget
//! stays within its cap and equals what the streams hold (this is its only
//! connection), each stream stays within its buffer, the bytes and gaps the
//! sink saw equal the streams' counters, and nothing is held after a flush.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_decode::{TcpFlags, TcpSegment};
use plantshield_flow::{Budget, StreamEvent, StreamSink, TcpConn, TcpVerdict};

#[derive(Default)]
struct Counter {
    bytes: [u64; 2],
    gap_bytes: [u64; 2],
    gaps: [u32; 2],
}

impl StreamSink for Counter {
    fn data(&mut self, dir: usize, bytes: &[u8]) {
        assert!(!bytes.is_empty(), "empty delivery");
        self.bytes[dir] += bytes.len() as u64;
    }
    fn gap(&mut self, dir: usize, len: u64) {
        assert!(len > 0, "empty gap");
        self.gap_bytes[dir] += len;
        self.gaps[dir] += 1;
    }
}

struct Harness {
    conn: TcpConn,
    max_buffer: usize,
    budget: Budget,
    sink: Counter,
    bypassed: [bool; 2],
    events: Vec<StreamEvent>,
}

impl Harness {
    fn check(&self) {
        assert!(self.budget.used <= self.budget.cap, "budget over its cap");
        let held: usize = self.conn.streams.iter().map(|s| s.buffered()).sum();
        assert_eq!(self.budget.used, held, "budget differs from buffered bytes");
        for d in 0..2 {
            let s = &self.conn.streams[d];
            assert!(s.buffered() <= self.max_buffer, "stream over its buffer");
            if !self.bypassed[d] {
                assert_eq!(self.sink.bytes[d], s.stats().delivered, "delivered count");
            }
            assert_eq!(self.sink.gap_bytes[d], s.stats().gap_bytes, "gap bytes");
            assert_eq!(self.sink.gaps[d], s.stats().gaps, "gap count");
        }
        for e in &self.events {
            if let StreamEvent::Gap(n) = e {
                assert!(*n > 0);
            }
        }
    }

    fn flush(&mut self) {
        self.conn
            .flush(&mut self.budget, &mut self.sink, &mut self.events);
        self.check();
        for s in &self.conn.streams {
            assert_eq!(s.buffered(), 0, "bytes held after a flush");
        }
        assert_eq!(self.budget.used, 0);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max_buffer = usize::from(data[0]) * 16;
    let cap = usize::from(data[1]) * 16;
    let mut h = Harness {
        conn: TcpConn::new(max_buffer),
        max_buffer,
        budget: Budget { used: 0, cap },
        sink: Counter::default(),
        bypassed: [false; 2],
        events: Vec::new(),
    };
    let mut rest = &data[2..];
    while let Some((&op, r)) = rest.split_first() {
        rest = r;
        let dir = usize::from(op >> 7);
        match op & 7 {
            6 => h.flush(),
            7 => {
                h.conn.streams[dir].set_bypass(&mut h.budget);
                h.bypassed[dir] = true;
            }
            _ => {
                if rest.len() < 10 {
                    break;
                }
                let flags = TcpFlags(rest[0]);
                let seq_off = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]);
                let ack_off = u32::from_le_bytes([rest[5], rest[6], rest[7], rest[8]]);
                let len = usize::from(rest[9]).min(rest.len() - 10);
                let payload = &rest[10..10 + len];
                rest = &rest[10 + len..];
                let seg = TcpSegment {
                    src_port: 40000,
                    dst_port: 502,
                    seq: h.conn.streams[dir].next_seq().wrapping_add(seq_off),
                    ack: h.conn.streams[1 - dir].next_seq().wrapping_add(ack_off),
                    flags,
                    window: 64240,
                    payload,
                };
                h.events.clear();
                let v = h
                    .conn
                    .segment(dir, &seg, &mut h.budget, &mut h.sink, &mut h.events);
                if v == TcpVerdict::NewConnection {
                    // What the sensor does: end the flow, start another.
                    h.flush();
                    h.conn.release(&mut h.budget);
                    h.conn = TcpConn::new(max_buffer);
                    h.sink = Counter::default();
                    h.bypassed = [false; 2];
                    h.events.clear();
                    let v2 = h
                        .conn
                        .segment(dir, &seg, &mut h.budget, &mut h.sink, &mut h.events);
                    assert_eq!(v2, TcpVerdict::Continue);
                }
                std::hint::black_box((h.conn.state().name(), h.conn.is_finished()));
            }
        }
        h.check();
    }
    h.flush();
});
