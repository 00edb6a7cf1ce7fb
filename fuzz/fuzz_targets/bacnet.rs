//! BACnet/IP: the pure parsers on arbitrary bytes (BVLL message, NPDU,
//! APDU, every service decoder, the tag reader), then the same bytes as
//! UDP datagrams on port 47808 through the whole sensor (pairing,
//! segmentation, JSON).
//!
//! Input layout: the first byte picks where datagrams are cut (0: one
//! datagram; n: every n bytes) and which side sends each; the rest is the
//! payload. Odd datagrams get a BACnet/IP BVLC header in front.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{LinkType, Packet};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::MacAddr;
use plantshield_protocols::bacnet::services::{self, AccessList};
use plantshield_protocols::bacnet::{self, tags, ConfirmedService, Message};
use plantshield_sensor::json::JsonSink;
use plantshield_sensor::{Sensor, SensorConfig};

fn parsers(data: &[u8]) {
    let _ = bacnet::probe(data, true);
    let _ = bacnet::probe(data, false);
    if let Ok(m) = Message::parse(data) {
        let _ = m.relayed();
        if let Some(a) = m.apdu() {
            service_data(a.data);
        }
    }
    // The bytes as an APDU and as service parameters.
    if let Some(a) = bacnet::parse_apdu(data) {
        service_data(a.data);
    }
    service_data(data);
}

fn service_data(d: &[u8]) {
    let _ = services::i_am(d);
    let _ = services::who_is(d);
    let _ = services::who_has(d);
    let _ = services::i_have(d);
    let _ = services::property_ref(d);
    let _ = services::error(d);
    let _ = services::reinitialize(d);
    let _ = services::communication_control(d);
    let _ = services::time_sync(d);
    let _ = services::notification_device(d);
    for s in [0u8, 1, 2, 5, 6, 7, 10, 11, 12, 15, 26, 28] {
        let _ = services::request_object(ConfirmedService(s), d);
        let _ = services::file_access(ConfirmedService(s), d);
    }
    for l in [AccessList::ReadRequest, AccessList::ReadAck, AccessList::WriteRequest] {
        let mut it = services::access_items(d, l);
        for _ in it.by_ref() {}
        let _ = it.malformed();
    }
    for v in tags::app_values(d) {
        let _ = v.text();
    }
}

fn sensor(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let ep = Endpoints {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: bacnet::PORT,
        dst_port: bacnet::PORT,
        vlan: None,
    };
    let cut = usize::from(mode & 0x3f).max(1);
    let chunks: Vec<&[u8]> = if mode & 0x3f == 0 {
        vec![payload]
    } else {
        payload.chunks(cut).collect()
    };
    let mut frames = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let e = if (i + usize::from(mode >> 6)) % 3 == 2 {
            ep.reversed()
        } else {
            ep
        };
        let d = if i % 2 == 1 {
            let mut v = vec![0x81, 0x0a];
            v.extend_from_slice(&((c.len() + 4) as u16).to_be_bytes());
            v.extend_from_slice(c);
            v
        } else {
            c.to_vec()
        };
        frames.push(craft::udp_frame(&e, &d));
    }
    let cfg = SensorConfig {
        max_pending_transactions: 4,
        ..SensorConfig::default()
    };
    let mut s = Sensor::new(cfg);
    let mut sink = JsonSink::new(std::io::sink(), "fuzz", 8);
    for (i, f) in frames.iter().enumerate() {
        let pkt = Packet {
            ts_ns: 1_700_000_000_000_000_000 + (i as i64) * 3_000_000_000,
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
