//! PROFINET DCP: the pure parser on arbitrary bytes (header, blocks, block
//! values), then a sequence of Ethernet frames of EtherType 0x8892 through
//! the whole sensor (pairing of Set and Get by xid, Identify, Hello,
//! transaction timeouts, JSON).
//!
//! Checks: nothing panics; a message's data lies inside the payload and is
//! no longer than its length field (the length mismatch flag set exactly
//! when the field promises more); blocks lie inside the data, at most
//! `MAX_BLOCKS` of them; block values that borrow (names, vendor values,
//! options, alias, DHCP) lie inside their block; no flow is left after
//! `finish`.
//!
//! Input: a mode byte (unused), then records `[ctl][len u16 LE][payload]`,
//! each an Ethernet frame whose payload starts at the DCP frame id:
//! `ctl` bit 0 is the sender (0: the controller 02:00:00:00:00:01, 1: the
//! device 02:00:00:00:00:02), bit 1 sends to the DCP multicast address
//! 01:0e:cf:00:00:00 instead, bit 2 adds a VLAN tag, bits 4-7 advance time
//! in 250 ms steps (the transaction timeout is 1 s).

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft;
use plantshield_decode::MacAddr;
use plantshield_fuzz::{config, records, within};
use plantshield_protocols::profinet::{self, BlockValue, DcpMessage, Flags, MAX_BLOCKS};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::Sensor;

fn parsers(data: &[u8]) {
    let Ok(m) = DcpMessage::parse(data) else {
        return;
    };
    within(data, m.data);
    assert!(m.data.len() <= usize::from(m.data_length));
    assert_eq!(
        m.flags.has(Flags::LENGTH_MISMATCH),
        m.data.len() < usize::from(m.data_length)
    );
    let _ = m.flags.names().count();
    let mut n = 0;
    for b in m.blocks() {
        n += 1;
        within(m.data, b.data);
        let v = BlockValue::of(&b);
        match v {
            BlockValue::VendorValue(x)
            | BlockValue::NameOfStation(x)
            | BlockValue::Options(x)
            | BlockValue::Alias(x)
            | BlockValue::Dhcp(_, x) => within(b.data, x),
            BlockValue::Role(r) => {
                let _ = profinet::role_names(r).count();
            }
            BlockValue::Response { error, .. } => {
                let _ = profinet::block_error_name(error);
            }
            _ => {}
        }
        let _ = profinet::block_name(b.option, b.suboption);
    }
    assert!(n <= MAX_BLOCKS);
    let _ = m.blocks_malformed();
}

fuzz_target!(|data: &[u8]| {
    let Some((_, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    let recs = records(rest);
    let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
    let multicast = MacAddr([0x01, 0x0e, 0xcf, 0, 0, 0]);
    let mut s = Sensor::new(config());
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 8);
    let mut ts = 1_700_000_000_000_000_000i64;
    for r in &recs {
        parsers(r.payload);
        let (src, mut dst) = if r.ctl & 1 == 0 { (a, b) } else { (b, a) };
        if r.ctl & 2 != 0 {
            dst = multicast;
        }
        let vlan = (r.ctl & 4 != 0).then_some(7);
        let mut f = Vec::new();
        craft::ethernet(&mut f, src, dst, vlan, profinet::ETHERTYPE);
        f.extend_from_slice(r.payload);
        ts += i64::from(r.ctl >> 4) * 250_000_000 + 1_000_000;
        let pkt = Packet {
            ts_ns: ts,
            link_type: LinkType::ETHERNET,
            data: &f,
            orig_len: f.len() as u32,
            interface: 0,
        };
        s.process(&pkt, &mut sink);
    }
    s.finish(&mut sink);
    sink.finish().expect("io::sink never fails");
    assert_eq!(s.active_flows(), 0);
});
