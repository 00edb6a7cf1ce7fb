//! NetBIOS name service: the pure parser on arbitrary bytes (the DNS
//! format, first-level name decoding, NB and NBSTAT data, findings), then
//! the same bytes through the sensor as datagrams between ports 137
//! (pairing, broadcasts, JSON).
//!
//! Checks: nothing panics; record data and NBSTAT statistics lie inside
//! the message; decoded names have at most 15 characters; a node status
//! lists no more names than it announces; no flow is left after `finish`.
//!
//! Input: a mode byte (unused), then a conversation of records `[ctl][len
//! u16 LE][payload]` (see `fuzz/src/lib.rs`), every record a datagram
//! 137 <-> 137 (bit 0 picks the sender). The parsers see each payload, and
//! the input after the mode byte whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within};
use plantshield_protocols::dns::Message;
use plantshield_protocols::netbios::{self, NbName, NodeStatus};

fn parsers(data: &[u8]) {
    let _ = netbios::probe(data, false);
    if let Some(m) = Message::parse(data) {
        std::hint::black_box(netbios::check(&m).names().count());
        for q in m.questions() {
            if let Some(nb) = NbName::decode(&q.name) {
                assert!(nb.name().len() <= 15);
                std::hint::black_box((nb.text(), netbios::suffix_name(nb.suffix())));
            }
        }
        for (_, r) in netbios::records(&m) {
            within(data, r.rdata);
            for a in netbios::nb_addresses(r.rdata) {
                std::hint::black_box((a.address, a.node_type.name(), a.group));
            }
            let st = NodeStatus::parse(r.rdata);
            within(data, st.statistics);
            for n in st.names() {
                std::hint::black_box(netbios::name_role(&n.name, n.group()));
            }
            let _ = st.unit_id();
        }
    }
    let st = NodeStatus::parse(data);
    assert!(st.names().count() <= usize::from(st.num_names));
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
    run_sensor(&recs, None, Some((137, 137)));
});
