//! BACnet/IP: the pure parsers on arbitrary bytes (BVLL message, NPDU,
//! APDU, every service decoder, the tag reader), then a conversation of
//! UDP datagrams on port 47808 through the whole sensor (pairing,
//! segmentation, JSON).
//!
//! Checks: nothing panics; BVLC table entries, NPDU addresses, APDU data,
//! tag contents, property values, access results and names lie inside the
//! bytes they were read from; the tag walk advances and stays in bounds;
//! the BVLC length flags agree with the datagram; object identifiers
//! round-trip through `to_u32`/`from_u32`; no flow is left after
//! `finish`.
//!
//! Input: a mode byte (bit 0: datagrams without a BVLC header get one
//! written in front, as Original-Unicast-NPDU), then a conversation of
//! records `[ctl][len u16 LE][payload]` (see `fuzz/src/lib.rs`), all UDP
//! 47808 <-> 47808 (bit 0 picks the sender). The parsers see each payload,
//! and the input after the mode byte whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within, Record};
use plantshield_protocols::bacnet::services::{self, AccessList, AccessResult};
use plantshield_protocols::bacnet::tags::{self, read_tag, Value};
use plantshield_protocols::bacnet::{self, Body, ConfirmedService, Flags, Message, ObjectId};
use plantshield_protocols::cursor::Cursor;

fn parsers(data: &[u8]) {
    let _ = bacnet::probe(data, true);
    let _ = bacnet::probe(data, false);
    if let Ok(m) = Message::parse(data) {
        let _ = m.relayed();
        within(data, m.bvlc.entries);
        let len = usize::from(m.bvlc.length);
        let mismatch = m.flags.has(Flags::BVLC_LENGTH_MISMATCH);
        assert_eq!(mismatch, len > data.len() || len < 4);
        assert_eq!(
            m.flags.has(Flags::TRAILING_BYTES),
            !mismatch && len < data.len()
        );
        if let Some(n) = m.npdu {
            for (_, mac) in [n.destination, n.source].into_iter().flatten() {
                within(data, mac);
            }
        }
        match m.body {
            Body::Apdu(a) => {
                within(data, a.data);
                service_data(a.data);
            }
            Body::Network(d) => within(data, d),
            _ => {}
        }
        let _ = m.flags.names().count();
    }
    // The bytes as an APDU and as service parameters.
    if let Some(a) = bacnet::parse_apdu(data) {
        within(data, a.data);
        service_data(a.data);
    }
    service_data(data);
}

fn object(o: ObjectId) {
    assert_eq!(ObjectId::from_u32(o.to_u32()), o);
}

fn value(v: &Value<'_>) {
    let _ = (v.text(), v.as_u64());
    if let Value::ObjectId(o) = v {
        object(*o);
    }
}

fn service_data(d: &[u8]) {
    if let Some(i) = services::i_am(d) {
        object(i.device);
    }
    let _ = services::who_is(d);
    if let Some(w) = services::who_has(d) {
        if let Some(n) = &w.name {
            value(n);
        }
    }
    if let Some(h) = services::i_have(d) {
        object(h.device);
        object(h.object);
        value(&h.name);
    }
    if let Some(p) = services::property_ref(d) {
        object(p.object);
        if let Some(v) = p.value {
            within(d, v);
        }
    }
    let _ = services::error(d);
    let _ = services::reinitialize(d);
    let _ = services::communication_control(d);
    let _ = services::time_sync(d);
    let _ = services::notification_device(d);
    for s in [0u8, 1, 2, 5, 6, 7, 10, 11, 12, 15, 26, 28] {
        let _ = services::request_object(ConfirmedService(s), d);
        let _ = services::file_access(ConfirmedService(s), d);
    }
    for l in [
        AccessList::ReadRequest,
        AccessList::ReadAck,
        AccessList::WriteRequest,
    ] {
        let mut it = services::access_items(d, l);
        for item in it.by_ref() {
            object(item.object);
            if let AccessResult::Value(v) = item.result {
                within(d, v);
            }
        }
        let _ = it.malformed();
    }
    for v in tags::app_values(d) {
        value(&v);
    }
    // The tag walk: each tag's content inside the data, progress each step.
    let mut c = Cursor::new(d);
    let mut at = 0;
    while let Some(t) = read_tag(&mut c) {
        within(d, t.content());
        assert!(c.position() > at && c.position() <= d.len());
        at = c.position();
    }
}

/// A datagram as sent: with mode bit 0, one that does not start with the
/// BACnet/IP type octet gets an Original-Unicast-NPDU header.
fn datagram(mode: u8, p: &[u8]) -> Vec<u8> {
    if mode & 1 != 0 && p.first() != Some(&0x81) {
        let mut v = vec![0x81, 0x0a];
        v.extend_from_slice(&((p.len() + 4).min(0xffff) as u16).to_be_bytes());
        v.extend_from_slice(p);
        v
    } else {
        p.to_vec()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    let recs = records(rest);
    let sent: Vec<Vec<u8>> = recs.iter().map(|r| datagram(mode, r.payload)).collect();
    let recs: Vec<Record<'_>> = recs
        .iter()
        .zip(&sent)
        .map(|(r, p)| {
            parsers(p);
            Record {
                ctl: r.ctl | 2,
                payload: p,
            }
        })
        .collect();
    run_sensor(&recs, None, Some((bacnet::PORT, bacnet::PORT)));
});
