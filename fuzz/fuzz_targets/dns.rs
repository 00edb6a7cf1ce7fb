//! DNS: the pure parser on arbitrary bytes (header, every question and
//! record, names with compression, record data by type, presentation
//! text), then the same bytes through the sensor as UDP datagrams on port
//! 53 and as a TCP stream to port 53 (length framing, pairing, JSON).
//!
//! Checks: nothing panics; record data, TXT and unknown data and every
//! label lie inside the message; presentation names fit `MAX_TEXT_LEN`;
//! no flow is left after `finish`.
//!
//! Input: a mode byte (unused), then a conversation of records `[ctl][len
//! u16 LE][payload]` (see `fuzz/src/lib.rs`): TCP segments of a connection
//! to port 53 (two-octet length framing) or UDP datagrams 40001 <-> 53.
//! The parsers see each payload, and the input after the mode byte whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within};
use plantshield_protocols::dns::{self, read_name, Message, RData, Section, MAX_TEXT_LEN};

fn parsers(data: &[u8]) {
    let _ = dns::probe(data, false);
    let _ = dns::probe(data, true);
    let mut buf = [0u8; MAX_TEXT_LEN];
    if let Some(mut m) = Message::parse(data) {
        m.check_rdata();
        std::hint::black_box((m.flags.names().count(), m.is_complete(), m.counts_read()));
        for q in m.questions() {
            assert!(q.name.text(&mut buf).len() <= MAX_TEXT_LEN);
            std::hint::black_box(q.qtype.name());
        }
        for s in [Section::Answer, Section::Authority, Section::Additional] {
            for r in m.records(s) {
                within(data, r.rdata);
                let _ = r.name.text(&mut buf);
                match r.data() {
                    RData::Name(n) | RData::Mx(_, n) | RData::Srv(_, _, _, n) => {
                        let _ = n.text(&mut buf);
                    }
                    RData::Txt(d) | RData::Other(d) | RData::Malformed(d) => within(data, d),
                    RData::A(_) | RData::Aaaa(_) => {}
                }
            }
        }
    }
    // A name at each of the first offsets.
    for i in 0..data.len().min(32) {
        if let Ok((n, end)) = read_name(data, i) {
            assert!(end <= data.len());
            for l in n.labels() {
                within(data, l);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((_, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    let recs = records(rest);
    for r in &recs {
        parsers(r.payload);
    }
    run_sensor(&recs, Some(53), Some((40001, 53)));
});
