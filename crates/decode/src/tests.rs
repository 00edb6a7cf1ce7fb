use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use plantshield_capture::LinkType;
use proptest::prelude::*;

use crate::craft::{self, Endpoints};
use crate::*;

fn ep4() -> Endpoints {
    Endpoints {
        src_mac: MacAddr([0, 1, 2, 3, 4, 5]),
        dst_mac: MacAddr([6, 7, 8, 9, 10, 11]),
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_port: 502,
        vlan: None,
    }
}

fn ip(frame: &Frame<'_>) -> IpPacket<'static> {
    match &frame.net {
        Net::Ip(p) => IpPacket {
            src: p.src,
            dst: p.dst,
            protocol: p.protocol,
            ttl: p.ttl,
            fragment: p.fragment,
            payload: Box::leak(p.payload.to_vec().into_boxed_slice()),
        },
        other => panic!("expected IP, got {other:?}"),
    }
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = craft::tcp_frame(&ep4(), 1000, 2000, TcpFlags::ACK | TcpFlags::PSH, b"hello");
    let fr = decode_frame(LinkType::ETHERNET, &f).unwrap();
    assert_eq!(fr.src_mac, Some(MacAddr([0, 1, 2, 3, 4, 5])));
    let p = ip(&fr);
    assert_eq!(p.src, ep4().src_ip);
    assert_eq!(p.protocol, 6);
    let Transport::Tcp(t) = decode_transport(p.protocol, false, p.payload).unwrap() else {
        panic!()
    };
    assert_eq!(
        (t.src_port, t.dst_port, t.seq, t.ack),
        (40000, 502, 1000, 2000)
    );
    assert!(t.flags.ack() && !t.flags.syn());
    assert_eq!(t.payload, b"hello");
}

#[test]
fn ethernet_padding_is_trimmed_by_ip_total_length() {
    let mut f = craft::tcp_frame(&ep4(), 1, 1, TcpFlags::ACK, b"");
    f.extend_from_slice(&[0xee; 6]); // pad to 60 bytes
    let fr = decode_frame(LinkType::ETHERNET, &f).unwrap();
    let p = ip(&fr);
    let Transport::Tcp(t) = decode_transport(6, false, p.payload).unwrap() else {
        panic!()
    };
    assert!(t.payload.is_empty());
}

#[test]
fn stacked_vlans_and_too_many() {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 12]);
    f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64]); // S-tag 100
    f.extend_from_slice(&[0x81, 0x00, 0x20, 0x0a]); // C-tag 10 (PCP 1)
    f.extend_from_slice(&[0x88, 0xb8, 1, 2, 3]); // GOOSE
    let fr = decode_frame(LinkType::ETHERNET, &f).unwrap();
    assert_eq!(fr.vlans.ids(), &[100, 10]);
    assert_eq!(fr.vlans.inner(), 10);
    match fr.net {
        Net::Other { ethertype, payload } => {
            assert_eq!(ethertype, EtherType::GOOSE);
            assert_eq!(payload, &[1, 2, 3]);
        }
        other => panic!("{other:?}"),
    }
    let mut g = vec![0xff; 12];
    for _ in 0..5 {
        g.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
    }
    g.extend_from_slice(&[0x08, 0x00]);
    let e = decode_frame(LinkType::ETHERNET, &g).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyVlanTags);
}

#[test]
fn ipv4_bad_lengths_are_errors() {
    let good = craft::tcp_frame(&ep4(), 1, 1, TcpFlags::ACK, b"abcdef");
    // Header length below 20.
    let mut f = good.clone();
    f[14] = 0x44;
    let e = decode_frame(LinkType::ETHERNET, &f).unwrap_err();
    assert_eq!(
        (e.layer, e.kind),
        (Layer::Ipv4, ErrorKind::BadHeaderLength(16))
    );
    assert_eq!(e.offset, 14);
    // Total length larger than the frame.
    let mut f = good.clone();
    f[16..18].copy_from_slice(&1500u16.to_be_bytes());
    let e = decode_frame(LinkType::ETHERNET, &f).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated { needed: 1500, .. }));
    // Total length below the header.
    let mut f = good.clone();
    f[16..18].copy_from_slice(&10u16.to_be_bytes());
    let e = decode_frame(LinkType::ETHERNET, &f).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadTotalLength(10));
    // Version 5.
    let mut f = good;
    f[14] = 0x55;
    assert_eq!(
        decode_frame(LinkType::ETHERNET, &f).unwrap_err().kind,
        ErrorKind::BadVersion(5)
    );
}

#[test]
fn tcp_data_offset_checked() {
    let mut seg = craft::tcp_bytes(1, 2, 3, 4, TcpFlags::ACK, b"xyz");
    seg[12] = 0x40;
    let e = decode_transport(6, false, &seg).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadHeaderLength(16));
    seg[12] = 0xf0;
    let e = decode_transport(6, false, &seg).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated { needed: 60, .. }));
}

#[test]
fn udp_length_trims_and_checks() {
    let f = craft::udp_frame(&ep4(), b"dnp3!");
    let p = ip(&decode_frame(LinkType::ETHERNET, &f).unwrap());
    let Transport::Udp(u) = decode_transport(17, false, p.payload).unwrap() else {
        panic!()
    };
    assert_eq!(u.payload, b"dnp3!");
    let mut bad = p.payload.to_vec();
    bad[4..6].copy_from_slice(&4u16.to_be_bytes());
    assert_eq!(
        decode_transport(17, false, &bad).unwrap_err().kind,
        ErrorKind::BadTotalLength(4)
    );
}

#[test]
fn sll_sll2_null_raw() {
    let eth = craft::tcp_frame(&ep4(), 7, 8, TcpFlags::SYN, b"");
    let ip_bytes = &eth[14..];
    // SLL v1
    let mut f = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    f.extend_from_slice(ip_bytes);
    let fr = decode_frame(LinkType::LINUX_SLL, &f).unwrap();
    assert_eq!(fr.src_mac, Some(MacAddr([1, 2, 3, 4, 5, 6])));
    assert_eq!(ip(&fr).dst, ep4().dst_ip);
    // SLL v2
    let mut f = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 9, 9, 9, 9, 9, 9, 0, 0,
    ];
    f.extend_from_slice(ip_bytes);
    let fr = decode_frame(LinkType::LINUX_SLL2, &f).unwrap();
    assert_eq!(fr.src_mac, Some(MacAddr([9; 6])));
    assert_eq!(ip(&fr).src, ep4().src_ip);
    // NULL, little- and big-endian family
    for fam in [[2, 0, 0, 0], [0, 0, 0, 2]] {
        let mut f = fam.to_vec();
        f.extend_from_slice(ip_bytes);
        assert_eq!(ip(&decode_frame(LinkType::NULL, &f).unwrap()).protocol, 6);
    }
    let mut f = vec![0x63, 0, 0, 0];
    f.extend_from_slice(ip_bytes);
    assert_eq!(
        decode_frame(LinkType::NULL, &f).unwrap_err().kind,
        ErrorKind::UnknownFamily(99)
    );
    // Raw
    assert_eq!(ip(&decode_frame(LinkType::RAW, ip_bytes).unwrap()).ttl, 64);
    assert_eq!(ip(&decode_frame(LinkType::IPV4, ip_bytes).unwrap()).ttl, 64);
    // Unsupported link types are reported, not errors.
    assert!(matches!(
        decode_frame(LinkType::IEEE802_11_RADIOTAP, b"xx")
            .unwrap()
            .net,
        Net::UnsupportedLink(_)
    ));
}

#[test]
fn arp_reply() {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[1, 1, 1, 1, 1, 1, 0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&[1, 1, 1, 1, 1, 1, 192, 168, 0, 1]);
    f.extend_from_slice(&[2, 2, 2, 2, 2, 2, 192, 168, 0, 2]);
    let Net::Arp(a) = decode_frame(LinkType::ETHERNET, &f).unwrap().net else {
        panic!()
    };
    assert_eq!(a.operation, 2);
    assert_eq!(a.sender_ip, Ipv4Addr::new(192, 168, 0, 1));
    assert_eq!(a.target_mac, MacAddr([2; 6]));
    let e = decode_frame(LinkType::ETHERNET, &f[..30]).unwrap_err();
    assert_eq!(e.layer, Layer::Arp);
}

fn ep6() -> Endpoints {
    Endpoints {
        src_ip: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        dst_ip: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2)),
        ..ep4()
    }
}

#[test]
fn ipv6_extension_headers_and_fragment() {
    let f = craft::tcp_frame(&ep6(), 5, 6, TcpFlags::ACK, b"v6data");
    let p = ip(&decode_frame(LinkType::ETHERNET, &f).unwrap());
    assert!(p.is_v6());
    assert_eq!(p.protocol, 6);
    // Insert hop-by-hop (8 bytes) and a fragment header (offset 0, more).
    let mut g = f[..14].to_vec();
    let mut ip6 = f[14..54].to_vec();
    let tcp = &f[54..];
    ip6[6] = 0; // next: hop-by-hop
    let mut ext = vec![44, 0, 1, 4, 0, 0, 0, 0]; // hbh -> fragment
    ext.extend_from_slice(&[6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]); // fragment: offset 0, M=1
    let plen = (ext.len() + tcp.len()) as u16;
    ip6[4..6].copy_from_slice(&plen.to_be_bytes());
    g.extend_from_slice(&ip6);
    g.extend_from_slice(&ext);
    g.extend_from_slice(tcp);
    let p = ip(&decode_frame(LinkType::ETHERNET, &g).unwrap());
    assert_eq!(p.protocol, 6);
    assert_eq!(
        p.fragment,
        Some(Fragment {
            id: 0xdead_beef,
            offset: 0,
            more: true
        })
    );
    assert_eq!(p.payload, tcp);
    // A chain of nine extension headers is refused.
    let mut h = f[..14].to_vec();
    let mut ip6 = f[14..54].to_vec();
    ip6[6] = 60;
    let mut ext = Vec::new();
    for _ in 0..9 {
        ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
    }
    ip6[4..6].copy_from_slice(&(ext.len() as u16).to_be_bytes());
    h.extend_from_slice(&ip6);
    h.extend_from_slice(&ext);
    assert_eq!(
        decode_frame(LinkType::ETHERNET, &h).unwrap_err().kind,
        ErrorKind::TooManyExtensionHeaders
    );
}

fn key() -> DefragKey {
    DefragKey {
        src: ep4().src_ip,
        dst: ep4().dst_ip,
        id: 7,
        protocol: 6,
    }
}

fn feed(
    d: &mut Defragmenter,
    frames: &[Vec<u8>],
    ev: &mut Vec<DefragEvent>,
) -> Option<Reassembled> {
    let mut out = None;
    for f in frames {
        let p = ip(&decode_frame(LinkType::ETHERNET, f).unwrap());
        let frag = p.fragment.expect("fragment");
        if let Some(r) = d.insert(1, key(), frag, p.payload, ev) {
            out = Some(r);
        }
    }
    out
}

#[test]
fn defrag_out_of_order_and_overlap_with_different_data() {
    let seg = craft::tcp_bytes(40000, 502, 1, 1, TcpFlags::ACK, &[0x11; 100]);
    let mut frags = craft::ipv4_fragments(&ep4(), 6, 7, &seg, 32);
    assert_eq!(frags.len(), 4);
    frags.reverse();
    let mut d = Defragmenter::new(DefragConfig::default());
    let mut ev = vec![];
    let r = feed(&mut d, &frags, &mut ev).expect("complete");
    assert_eq!(r.payload, seg);
    assert!(ev.is_empty());
    assert!(d.is_empty() && d.bytes() == 0);

    // Overlap: the second fragment sent twice, once with other bytes.
    let mut frags = craft::ipv4_fragments(&ep4(), 6, 7, &seg, 32);
    let mut evil = frags[1].clone();
    let n = evil.len();
    evil[n - 1] ^= 0xff;
    frags.insert(2, evil);
    let r = feed(&mut d, &frags, &mut ev).expect("complete");
    assert_eq!(r.payload, seg, "first arrival wins");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].code(), "fragment_overlap_different_data");
}

#[test]
fn defrag_timeout_caps_and_ping_of_death() {
    let seg = vec![0u8; 64];
    let frags = craft::ipv4_fragments(&ep4(), 6, 7, &seg, 16);
    let mut d = Defragmenter::new(DefragConfig {
        max_datagrams: 2,
        ..DefragConfig::default()
    });
    let mut ev = vec![];
    let p = ip(&decode_frame(LinkType::ETHERNET, &frags[0]).unwrap());
    for id in 0..3 {
        let k = DefragKey { id, ..key() };
        assert!(d
            .insert(id as i64, k, p.fragment.unwrap(), p.payload, &mut ev)
            .is_none());
    }
    assert_eq!(d.len(), 2);
    assert_eq!(ev, vec![DefragEvent::Evicted(DefragKey { id: 0, ..key() })]);
    ev.clear();
    d.expire(60_000_000_000, &mut ev);
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.code() == "fragment_timeout"));
    assert!(d.is_empty());
    ev.clear();
    let big = Fragment {
        id: 1,
        offset: 65_528,
        more: false,
    };
    assert!(d.insert(0, key(), big, &[0; 16], &mut ev).is_none());
    assert_eq!(ev[0].code(), "fragment_oversized");
}

proptest! {
    #[test]
    fn decode_arbitrary_bytes_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..256),
        link in prop::sample::select(vec![0u16, 1, 12, 101, 108, 113, 228, 229, 276]),
    ) {
        if let Ok(Frame { net: Net::Ip(p), .. }) = decode_frame(LinkType(link), &data) {
            let _ = decode_transport(p.protocol, p.is_v6(), p.payload);
        }
    }

    #[test]
    fn defrag_any_order_reassembles(
        len in 1usize..3000,
        chunk in 16usize..600,
        seed in any::<u64>(),
        dup in any::<bool>(),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut frags = craft::ipv4_fragments(&ep4(), 6, 7, &payload, chunk);
        if dup { let f = frags[0].clone(); frags.push(f); }
        // Deterministic shuffle from the seed.
        let mut s = seed | 1;
        for i in (1..frags.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            frags.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut d = Defragmenter::new(DefragConfig::default());
        let mut ev = vec![];
        let mut got = None;
        for f in &frags {
            let p = ip(&decode_frame(LinkType::ETHERNET, f).unwrap());
            match p.fragment {
                Some(fr) => if let Some(r) = d.insert(1, key(), fr, p.payload, &mut ev) { got = Some(r.payload) },
                None => got = Some(p.payload.to_vec()),
            }
        }
        // A duplicate arriving after completion starts a new datagram; the first completion counts.
        prop_assert_eq!(got, Some(payload));
    }
}

/// What the general path makes of an Ethernet frame, in the fast path's
/// terms, when it is an unfragmented IPv4 TCP segment decoded without
/// error; also whether the frame has the link layout the fast path reads
/// (untagged or one 802.1Q tag).
fn general_eth_ipv4_tcp(data: &[u8]) -> Option<(EthIpv4Tcp<'_>, bool)> {
    let fr = decode_frame(LinkType::ETHERNET, data).ok()?;
    let Net::Ip(p) = &fr.net else { return None };
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (p.src, p.dst) else {
        return None;
    };
    if p.fragment.is_some() || p.protocol != 6 {
        return None;
    }
    let Ok(Transport::Tcp(seg)) = decode_transport(p.protocol, false, p.payload) else {
        return None;
    };
    let layout = match fr.vlans.ids().len() {
        0 => true,
        1 => data[12..14] == [0x81, 0x00],
        _ => false,
    };
    let e = EthIpv4Tcp {
        src_mac: fr.src_mac?,
        dst_mac: fr.dst_mac?,
        vlan: fr.vlans.key(),
        src: u32::from(src),
        dst: u32::from(dst),
        ttl: p.ttl,
        seg,
    };
    Some((e, layout))
}

fn same_segment(a: &TcpSegment<'_>, b: &TcpSegment<'_>) -> bool {
    (a.src_port, a.dst_port, a.seq, a.ack, a.flags, a.window)
        == (b.src_port, b.dst_port, b.seq, b.ack, b.flags, b.window)
        && std::ptr::eq(a.payload, b.payload)
}

#[test]
fn fast_path_reads_the_common_frame() {
    let mut ep = ep4();
    for vlan in [None, Some(42)] {
        ep.vlan = vlan;
        let f = craft::tcp_frame(&ep, 1000, 2000, TcpFlags::ACK | TcpFlags::PSH, b"hello");
        let p = decode_eth_ipv4_tcp(&f).unwrap();
        assert_eq!(p.vlan, u32::from(vlan.unwrap_or(0)));
        assert_eq!(p.src, u32::from(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            (p.seg.src_port, p.seg.dst_port, p.seg.seq),
            (40000, 502, 1000)
        );
        assert_eq!(p.seg.payload, b"hello");
    }
    // UDP, a fragment: the general path's.
    assert!(decode_eth_ipv4_tcp(&craft::udp_frame(&ep4(), b"x")).is_none());
    let frags = craft::ipv4_fragments(&ep4(), 6, 7, &[1; 100], 32);
    assert!(frags.iter().all(|f| decode_eth_ipv4_tcp(f).is_none()));
}

proptest! {
    /// On well-formed frames with random bytes changed (and on random
    /// bytes), the fast path gives exactly what the general path gives,
    /// and gives up only on frames outside its layout or that the general
    /// path does not decode as an unfragmented IPv4 TCP segment.
    #[test]
    fn fast_path_is_the_general_path(
        vlan in prop::option::of(0u16..4096),
        payload in proptest::collection::vec(any::<u8>(), 0..40),
        edits in proptest::collection::vec((0usize..80, any::<u8>()), 0..4),
        cut in 0usize..100,
        random in proptest::collection::vec(any::<u8>(), 0..80),
        use_random in any::<bool>(),
    ) {
        let mut ep = ep4();
        ep.vlan = vlan;
        let mut f = if use_random {
            random
        } else {
            craft::tcp_frame(&ep, 7, 9, TcpFlags::ACK, &payload)
        };
        for (at, b) in edits {
            if let Some(x) = f.get_mut(at) {
                *x = b;
            }
        }
        // Trailing bytes cut off, or left as padding.
        let keep = f.len().saturating_sub(cut % 8 * (cut / 50));
        f.truncate(keep);
        let fast = decode_eth_ipv4_tcp(&f);
        let general = general_eth_ipv4_tcp(&f);
        match (fast, general) {
            (Some(a), Some((b, layout))) => {
                prop_assert!(layout);
                prop_assert_eq!((a.src_mac, a.dst_mac, a.vlan), (b.src_mac, b.dst_mac, b.vlan));
                prop_assert_eq!((a.src, a.dst, a.ttl), (b.src, b.dst, b.ttl));
                prop_assert!(same_segment(&a.seg, &b.seg));
            }
            (None, Some((_, layout))) => prop_assert!(!layout, "fast path missed a common frame"),
            (Some(_), None) => prop_assert!(false, "fast path decoded what the general path does not"),
            (None, None) => {}
        }
    }
}
