//! PROFINET DCP: the pure parser on arbitrary bytes (header, blocks, block
//! values), then the same bytes cut into Ethernet frames of EtherType
//! 0x8892 through the whole sensor (pairing of Set and Get, JSON).
//!
//! Input layout: the first byte picks where frames are cut (0: one frame;
//! n: every n bytes), which side sends each and whether it is VLAN tagged;
//! each frame gets a DCP frame id chosen by its position.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft;
use plantshield_decode::MacAddr;
use plantshield_protocols::profinet::{self, BlockValue, DcpMessage};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn parsers(data: &[u8]) {
    if let Ok(m) = DcpMessage::parse(data) {
        for b in m.blocks() {
            let _ = BlockValue::of(&b);
            let _ = profinet::block_name(b.option, b.suboption);
        }
        let _ = m.blocks_malformed();
    }
}

fn sensor(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let (a, b) = (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2]));
    let cut = usize::from(mode & 0x1f).max(1);
    let chunks: Vec<&[u8]> = if mode & 0x1f == 0 {
        vec![payload]
    } else {
        payload.chunks(cut * 4).collect()
    };
    let mut frames = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let (s, d) = if (i + usize::from(mode >> 6)) % 2 == 0 {
            (a, b)
        } else {
            (b, a)
        };
        let vlan = (mode & 0x20 != 0).then_some(7);
        let mut f = Vec::new();
        craft::ethernet(&mut f, s, d, vlan, profinet::ETHERTYPE);
        f.extend_from_slice(&(profinet::FRAME_HELLO + (i % 4) as u16).to_be_bytes());
        f.extend_from_slice(c);
        frames.push(f);
    }
    let cfg = SensorConfig {
        max_pending_transactions: 4,
        ..SensorConfig::default()
    };
    let mut s = Sensor::new(cfg);
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 8);
    for (i, f) in frames.iter().enumerate() {
        let pkt = Packet {
            ts_ns: 1_700_000_000_000_000_000 + (i as i64) * 11_000_000_000,
            link_type: LinkType::ETHERNET,
            data: f,
            orig_len: f.len() as u32,
            interface: 0,
        };
        s.process(&pkt, &mut sink);
    }
    s.finish(&mut sink);
    let _ = sink.finish();
}

fuzz_target!(|data: &[u8]| {
    parsers(data);
    sensor(data);
});
