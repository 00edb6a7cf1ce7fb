//! DNP3: the pure parsers on arbitrary bytes (link frames and their CRC
//! blocks, transport headers, application fragments, object headers and
//! objects, message summaries), then the same bytes as a TCP conversation
//! and as UDP datagrams on port 20000 through the whole sensor (framing,
//! transport reassembly, pairing, JSON).
//!
//! Checks: nothing panics; every frame found parses back to itself
//! (`build_frame` of its header fields and user data gives the frame's
//! octets, `LinkHeader::emit` its header); object headers and objects lie
//! inside their fragment, at most `MAX_OBJECT_HEADERS` headers plus the
//! error that ends the walk, no more objects than the range announces;
//! message summaries stay within their caps; no flow is left after
//! `finish`.
//!
//! Input: a mode byte, then a conversation of records `[ctl][len u16
//! LE][payload]` (see `fuzz/src/lib.rs`: direction, TCP or UDP, time
//! steps). Random bytes almost never carry a valid CRC, so unless mode bit
//! 0 is set the harness rewrites the CRCs first: every 0x05 0x64 header
//! with a length of 5 or more gets its header CRC and the CRC of each
//! whole user data block recomputed, over the TCP stream of each direction
//! (frames may span segments) and over each datagram. The parsers see each
//! payload as sent, and the input after the mode byte as one stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within, Record};
use plantshield_protocols::dnp3::{
    self,
    link::{build_frame, BLOCK_LEN, HEADER_LEN, MAX_USER_DATA, MIN_LENGTH, START},
    objects::MAX_OBJECT_HEADERS,
    Fragment, Frame, FunctionCode, Headers, LinkHeader, Message,
};

fn parsers(data: &[u8]) {
    let _ = dnp3::probe(data, true);
    // Every frame found in the bytes, as a session would cut them.
    let mut rest = data;
    while !rest.is_empty() {
        match Frame::parse(rest) {
            Ok((f, len)) => {
                assert!(len <= rest.len() && len == f.header.frame_len());
                let mut h = Vec::new();
                f.header.emit(&mut h);
                assert_eq!(h, rest[..HEADER_LEN]);
                let mut buf = [0u8; MAX_USER_DATA];
                if let Ok(n) = f.user_data(&mut buf) {
                    assert_eq!(n, f.header.user_data_len());
                    let again = build_frame(
                        f.header.control,
                        f.header.destination,
                        f.header.source,
                        &buf[..n],
                    );
                    assert_eq!(again, rest[..len]);
                    if n > 1 {
                        fragment(&buf[1..n], f.header);
                    }
                }
                rest = &rest[len..];
            }
            Err(_) => rest = &rest[1..],
        }
    }
    // The bytes as one whole application fragment.
    let link = LinkHeader {
        length: 5,
        control: dnp3::LinkControl(0xC4),
        destination: 10,
        source: 1,
    };
    fragment(data, link);
    // The bytes as the objects of every function.
    if let Some((&fc, objects)) = data.split_first() {
        headers(objects, FunctionCode(fc));
    }
}

fn headers(objects: &[u8], function: FunctionCode) {
    let mut n = 0;
    for h in Headers::new(objects, function) {
        n += 1;
        let Ok(h) = h else { continue };
        within(objects, h.data);
        let mut k = 0u64;
        for (_, o) in h.objects() {
            within(h.data, o);
            k += 1;
        }
        assert!(k <= h.range.count());
    }
    assert!(n <= MAX_OBJECT_HEADERS + 1);
}

fn fragment(bytes: &[u8], link: LinkHeader) {
    if let Ok(frag) = Fragment::parse(bytes) {
        within(bytes, frag.objects);
        headers(frag.objects, frag.function);
        let mut m = Message::new(link, 1, &frag);
        m.absorb(1, &frag);
        assert!(m.headers().len() <= dnp3::summary::MAX_HEADERS_KEPT);
        assert!(m.controls().len() <= dnp3::summary::MAX_CONTROLS_KEPT);
        let _ = m.rejected_control();
    }
}

/// Recomputes the CRCs of every frame header found in `b` and of the whole
/// user data blocks that follow it.
fn fix_crcs(b: &mut [u8]) {
    let mut i = 0;
    while i + HEADER_LEN <= b.len() {
        if b[i..i + 2] != START || b[i + 2] < MIN_LENGTH {
            i += 1;
            continue;
        }
        let c = dnp3::crc::crc(&b[i..i + 8]).to_le_bytes();
        b[i + 8..i + 10].copy_from_slice(&c);
        let mut left = usize::from(b[i + 2] - MIN_LENGTH);
        let mut at = i + HEADER_LEN;
        while left > 0 {
            let n = left.min(BLOCK_LEN);
            if at + n + 2 > b.len() {
                break;
            }
            let c = dnp3::crc::crc(&b[at..at + n]).to_le_bytes();
            b[at + n..at + n + 2].copy_from_slice(&c);
            at += n + 2;
            left -= n;
        }
        i = at;
    }
}

fn sensor(mode: u8, recs: &[Record<'_>]) {
    if mode & 1 != 0 {
        return run_sensor(recs, Some(dnp3::PORT), Some((40001, dnp3::PORT)));
    }
    let mut fixed: Vec<Vec<u8>> = recs.iter().map(|r| r.payload.to_vec()).collect();
    for (i, f) in fixed.iter_mut().enumerate() {
        if recs[i].udp() {
            fix_crcs(f);
        }
    }
    // Each direction's TCP stream as a whole, then cut back into segments.
    for dir in [false, true] {
        let idx: Vec<usize> = (0..recs.len())
            .filter(|&i| !recs[i].udp() && recs[i].from_server() == dir)
            .collect();
        let mut stream: Vec<u8> = idx.iter().flat_map(|&i| fixed[i].clone()).collect();
        fix_crcs(&mut stream);
        let mut at = 0;
        for &i in &idx {
            let n = fixed[i].len();
            fixed[i].copy_from_slice(&stream[at..at + n]);
            at += n;
        }
    }
    let recs: Vec<Record<'_>> = recs
        .iter()
        .zip(&fixed)
        .map(|(r, f)| Record {
            ctl: r.ctl,
            payload: f,
        })
        .collect();
    for r in &recs {
        parsers(r.payload);
    }
    run_sensor(&recs, Some(dnp3::PORT), Some((40001, dnp3::PORT)));
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
    sensor(mode, &recs);
});
