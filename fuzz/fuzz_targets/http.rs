//! HTTP/1.x: the pure parsers on arbitrary bytes (head length, request
//! and response heads, header fields, body framing, the chunked walker
//! fed in pieces), then the same bytes through the sensor as a TCP stream
//! to port 80 (framing, pairing in order, JSON) and to an unregistered port
//! (detection by content).
//!
//! Checks: nothing panics; the head length lies inside the input; method,
//! URI, reason, header names and values lie inside the input; the chunked
//! walker gives the same result fed whole and in 7-byte pieces; no flow is
//! left after `finish`.
//!
//! Input: a mode byte (bit 0: the connection goes to port 9999, where HTTP
//! is found by content, instead of port 80), then a conversation of
//! records `[ctl][len u16 LE][payload]` (see `fuzz/src/lib.rs`), in-order
//! TCP segments of one connection (bit 0 picks the sender). The parsers
//! see each payload, and the input after the mode byte whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within};
use plantshield_protocols::http::{
    self, head_len, request_body, response_body, ChunkStep, Chunked, RequestHead, ResponseHead,
};

fn parsers(data: &[u8]) {
    let _ = http::probe(data, false);
    let _ = http::probe(data, true);
    if let Some(n) = head_len(data) {
        assert!(n <= data.len());
    }
    if let Some(r) = RequestHead::parse(data) {
        within(data, r.method);
        within(data, r.uri);
        for (k, v) in r.headers.iter() {
            within(data, k);
            within(data, v);
        }
        std::hint::black_box((
            request_body(&r),
            r.host(),
            r.user_agent(),
            r.flags.names().count(),
        ));
    }
    if let Some(r) = ResponseHead::parse(data) {
        within(data, r.reason);
        std::hint::black_box((
            response_body(&r, Some(b"GET")),
            response_body(&r, None),
            r.server(),
        ));
    }
    // The chunked walker, whole and in pieces, agrees with itself.
    let whole = Chunked::default().feed(data);
    let mut c = Chunked::default();
    let mut at = 0;
    let mut pieces = ChunkStep::More;
    for p in data.chunks(7) {
        match c.feed(p) {
            ChunkStep::More => at += p.len(),
            ChunkStep::Done(n) => {
                pieces = ChunkStep::Done(at + n);
                break;
            }
            ChunkStep::Error(n) => {
                pieces = ChunkStep::Error(at + n);
                break;
            }
        }
    }
    assert_eq!(whole, pieces);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    let recs = records(rest);
    for r in &recs {
        parsers(r.payload);
    }
    let port = if mode & 1 == 0 { 80 } else { 9999 };
    run_sensor(&recs, Some(port), None);
});
