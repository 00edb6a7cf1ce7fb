//! Guards `plantshield_decode`: `decode_frame` for every link type the
//! decoder reads, `decode_transport` on every IP payload, and the
//! `Defragmenter` across several packets with small caps.
//!
//! Input: one byte choosing the link type, then frames, each as
//! `[len: u16 LE][dt: u8][len bytes]` (`dt` advances capture time in 100 ms
//! steps, so the 1 s defragmentation timeout is reached). Checked: no panic,
//! reassembled datagrams within 65535 bytes, the defragmenter's caps and
//! byte accounting, and that the Ethernet/IPv4/TCP fast path
//! (`decode_eth_ipv4_tcp`) reads exactly what the general path reads
//! whenever it accepts a frame.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use plantshield_capture::LinkType;
use plantshield_decode::{
    decode_eth_ipv4_tcp, decode_frame, decode_transport, DefragConfig, DefragKey, Defragmenter,
    Net, Transport,
};

const LINKS: [u16; 9] = [0, 1, 12, 101, 108, 113, 228, 229, 276];

const CFG: DefragConfig = DefragConfig {
    max_datagrams: 4,
    max_bytes: 4096,
    max_fragments: 8,
    timeout_ns: 1_000_000_000,
};

fn transport(protocol: u8, v6: bool, payload: &[u8]) {
    match decode_transport(protocol, v6, payload) {
        Ok(Transport::Tcp(s)) => {
            assert!(s.payload.len() + 20 <= payload.len());
            std::hint::black_box((s.src_port, s.dst_port, s.seq, s.ack, s.flags.syn()));
        }
        Ok(Transport::Udp(u)) => {
            assert!(u.payload.len() + 8 <= payload.len());
            std::hint::black_box((u.src_port, u.dst_port));
        }
        Ok(t) => {
            std::hint::black_box(t);
        }
        Err(e) => {
            std::hint::black_box((e.to_string(), e.kind_code(), e.layer.name()));
        }
    }
}

/// The fast path's reading of an Ethernet frame, when it accepts it, is the
/// general path's: same addresses, VLAN, TTL, ports, numbers, flags and
/// the very same payload bytes.
fn fast_path_agrees(frame: &[u8]) {
    let Some(fast) = decode_eth_ipv4_tcp(frame) else {
        return;
    };
    let f =
        decode_frame(LinkType(1), frame).expect("fast path accepted a frame the decoder rejects");
    let Net::Ip(ip) = f.net else {
        panic!("fast path accepted a non-IP frame");
    };
    assert!(ip.fragment.is_none() && ip.protocol == 6);
    assert_eq!(
        (ip.src, ip.dst),
        (
            IpAddr::from(fast.src.to_be_bytes()),
            IpAddr::from(fast.dst.to_be_bytes())
        )
    );
    assert_eq!(
        (f.src_mac, f.dst_mac, f.vlans.key(), ip.ttl),
        (Some(fast.src_mac), Some(fast.dst_mac), fast.vlan, fast.ttl)
    );
    let Ok(Transport::Tcp(s)) = decode_transport(6, false, ip.payload) else {
        panic!("fast path accepted a segment the decoder rejects");
    };
    let a = &fast.seg;
    assert_eq!(
        (a.src_port, a.dst_port, a.seq, a.ack, a.flags, a.window),
        (s.src_port, s.dst_port, s.seq, s.ack, s.flags, s.window)
    );
    assert!(std::ptr::eq(a.payload, s.payload));
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINKS[usize::from(sel) % LINKS.len()]);
    let mut defrag = Defragmenter::new(CFG);
    let mut events = Vec::new();
    let mut ts: i64 = 1_700_000_000_000_000_000;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        ts += i64::from(rest[2]) * 100_000_000;
        let frame = &rest[3..];
        let (frame, next) = frame.split_at(len.min(frame.len()));
        rest = next;
        if link.0 == 1 {
            fast_path_agrees(frame);
        }
        let f = match decode_frame(link, frame) {
            Ok(f) => f,
            Err(e) => {
                assert!(e.offset <= frame.len());
                std::hint::black_box((e.to_string(), e.kind_code()));
                continue;
            }
        };
        std::hint::black_box((f.src_mac, f.dst_mac, f.vlans.key(), f.vlans.inner()));
        let Net::Ip(ip) = f.net else {
            continue;
        };
        assert!(ip.payload.len() <= frame.len());
        let v6 = ip.is_v6();
        match ip.fragment {
            None => transport(ip.protocol, v6, ip.payload),
            Some(frag) => {
                let key = DefragKey {
                    src: ip.src,
                    dst: ip.dst,
                    id: frag.id,
                    protocol: ip.protocol,
                };
                events.clear();
                let done = defrag.insert(ts, key, frag, ip.payload, &mut events);
                for e in &events {
                    std::hint::black_box((e.code(), e.key()));
                }
                if let Some(r) = done {
                    assert_eq!(r.key, key);
                    assert!(r.payload.len() <= 65_535);
                    transport(ip.protocol, v6, &r.payload);
                }
            }
        }
        assert!(defrag.len() <= CFG.max_datagrams);
        // Only the datagram being filled may take the byte count past the cap.
        assert!(defrag.bytes() <= CFG.max_bytes || defrag.len() <= 1);
        assert!(!defrag.is_empty() || defrag.bytes() == 0);
    }
    events.clear();
    defrag.expire(i64::MAX, &mut events);
    assert!(defrag.is_empty());
    assert_eq!(defrag.bytes(), 0);
});
