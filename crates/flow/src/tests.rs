use std::net::{IpAddr, Ipv4Addr};

use plantshield_decode::{TcpFlags, TcpSegment};
use proptest::prelude::*;

use crate::*;

/// Collects the delivered stream; gaps become `None` bytes.
#[derive(Default)]
struct Collect {
    out: [Vec<Option<u8>>; 2],
    gaps: [Vec<u64>; 2],
}

impl StreamSink for Collect {
    fn data(&mut self, dir: usize, bytes: &[u8]) {
        self.out[dir].extend(bytes.iter().map(|b| Some(*b)));
    }
    fn gap(&mut self, dir: usize, len: u64) {
        self.gaps[dir].push(len);
        self.out[dir].extend(std::iter::repeat_n(None, len as usize));
    }
}

fn budget() -> Budget {
    Budget {
        used: 0,
        cap: 1 << 30,
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn in_order_delivery_is_direct() {
    let d = data(100);
    let mut s = Stream::new(1 << 20);
    let mut sink = Collect::default();
    let mut b = budget();
    let mut ev = vec![];
    s.init(1000);
    for (i, c) in d.chunks(10).enumerate() {
        s.segment(1000 + 10 * i as u32, c, &mut b, 0, &mut sink, &mut ev);
    }
    assert_eq!(
        sink.out[0].iter().map(|b| b.unwrap()).collect::<Vec<_>>(),
        d
    );
    assert!(ev.is_empty());
    assert_eq!(b.used, 0);
}

#[test]
fn sequence_wraparound() {
    let d = data(300);
    let mut s = Stream::new(1 << 20);
    let mut sink = Collect::default();
    let mut b = budget();
    let mut ev = vec![];
    let isn = u32::MAX - 150;
    s.init(isn);
    // Second chunk first (after the wrap), then the first.
    s.segment(
        isn.wrapping_add(150),
        &d[150..],
        &mut b,
        0,
        &mut sink,
        &mut ev,
    );
    assert!(sink.out[0].is_empty());
    s.segment(isn, &d[..150], &mut b, 0, &mut sink, &mut ev);
    assert_eq!(sink.out[0].len(), 300);
    assert!(sink.out[0].iter().zip(&d).all(|(a, b)| *a == Some(*b)));
}

#[test]
fn overlap_with_different_data_is_reported_first_wins() {
    let d = data(60);
    let mut s = Stream::new(1 << 20);
    let mut sink = Collect::default();
    let mut b = budget();
    let mut ev = vec![];
    s.init(0);
    s.segment(0, &d[..20], &mut b, 0, &mut sink, &mut ev);
    // A retransmission of delivered bytes with other content.
    let mut evil = d[10..20].to_vec();
    evil[3] ^= 1;
    s.segment(10, &evil, &mut b, 0, &mut sink, &mut ev);
    assert_eq!(ev, vec![StreamEvent::OverlapDifferentData]);
    // Out of order pieces that overlap each other with different bytes.
    ev.clear();
    s.segment(40, &d[40..60], &mut b, 0, &mut sink, &mut ev);
    let mut evil = d[30..50].to_vec();
    evil[15] ^= 0xff;
    s.segment(30, &evil, &mut b, 0, &mut sink, &mut ev);
    assert_eq!(ev, vec![StreamEvent::OverlapDifferentData]);
    s.segment(20, &d[20..30], &mut b, 0, &mut sink, &mut ev);
    let got: Vec<u8> = sink.out[0].iter().map(|b| b.unwrap()).collect();
    assert_eq!(got, d, "first arrival wins");
    assert_eq!(b.used, 0);
}

#[test]
fn keep_alive_octet_is_not_an_overlap() {
    let d = data(40);
    let mut s = Stream::new(1 << 20);
    let mut sink = Collect::default();
    let mut b = budget();
    let mut ev = vec![];
    s.init(0);
    s.segment(0, &d, &mut b, 0, &mut sink, &mut ev);
    // One garbage octet at the last acknowledged byte: a keep-alive.
    s.segment(39, &[d[39] ^ 0xff], &mut b, 0, &mut sink, &mut ev);
    assert!(ev.is_empty());
    // Two differing octets are a real conflicting retransmission.
    s.segment(38, &[0, 0], &mut b, 0, &mut sink, &mut ev);
    assert_eq!(ev, vec![StreamEvent::OverlapDifferentData]);
}

#[test]
fn acknowledged_hole_becomes_gap() {
    let d = data(90);
    let mut s = Stream::new(1 << 20);
    let mut sink = Collect::default();
    let mut b = budget();
    let mut ev = vec![];
    s.init(0);
    s.segment(0, &d[..30], &mut b, 0, &mut sink, &mut ev);
    s.segment(60, &d[60..90], &mut b, 0, &mut sink, &mut ev);
    assert_eq!(sink.out[0].len(), 30);
    // The receiver acknowledges everything: bytes 30..60 were lost to the capture.
    s.acknowledged(90, &mut b, 0, &mut sink, &mut ev);
    assert_eq!(sink.gaps[0], vec![30]);
    assert_eq!(sink.out[0].len(), 90);
    assert!(sink.out[0][60..]
        .iter()
        .zip(&d[60..])
        .all(|(a, b)| *a == Some(*b)));
    assert_eq!(ev, vec![StreamEvent::Gap(30)]);
    // After an ACK past a hole, new data beyond the hole is a gap at once.
    s.acknowledged(120, &mut b, 0, &mut sink, &mut ev);
    s.segment(120, b"next", &mut b, 0, &mut sink, &mut ev);
    assert_eq!(sink.gaps[0], vec![30, 30]);
}

#[test]
fn buffer_cap_forces_gap_and_memcap_is_respected() {
    let d = data(400);
    let mut s = Stream::new(100);
    let mut sink = Collect::default();
    let mut b = budget();
    let mut ev = vec![];
    s.init(0);
    s.segment(50, &d[50..150], &mut b, 0, &mut sink, &mut ev);
    assert_eq!(s.buffered(), 100);
    s.segment(150, &d[150..200], &mut b, 0, &mut sink, &mut ev);
    assert!(ev.contains(&StreamEvent::BufferFull));
    assert_eq!(sink.gaps[0], vec![50]);
    assert_eq!(sink.out[0].len(), 200);
    assert_eq!(s.buffered(), 0);
    assert_eq!(b.used, 0);

    let mut small = Budget { used: 0, cap: 10 };
    let mut s = Stream::new(1000);
    let mut ev = vec![];
    let mut sink = Collect::default();
    s.init(0);
    s.segment(50, &d[50..80], &mut small, 0, &mut sink, &mut ev);
    assert!(ev.contains(&StreamEvent::Memcap));
    assert!(small.used <= small.cap);
}

fn seg(seq: u32, ack: u32, flags: u8, payload: &[u8]) -> TcpSegment<'_> {
    TcpSegment {
        src_port: 0,
        dst_port: 0,
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 0,
        payload,
    }
}

#[test]
fn handshake_data_fin_states() {
    let mut c = TcpConn::new(1 << 16);
    let mut b = budget();
    let mut sink = Collect::default();
    let mut ev = vec![];
    assert_eq!(c.state(), TcpState::Midstream);
    c.segment(
        TO_SERVER,
        &seg(100, 0, TcpFlags::SYN, b""),
        &mut b,
        &mut sink,
        &mut ev,
    );
    assert_eq!(c.state(), TcpState::SynSent);
    c.segment(
        TO_CLIENT,
        &seg(500, 101, TcpFlags::SYN | TcpFlags::ACK, b""),
        &mut b,
        &mut sink,
        &mut ev,
    );
    c.segment(
        TO_SERVER,
        &seg(101, 501, TcpFlags::ACK, b"req"),
        &mut b,
        &mut sink,
        &mut ev,
    );
    assert_eq!(c.state(), TcpState::Established);
    c.segment(
        TO_CLIENT,
        &seg(501, 104, TcpFlags::ACK, b"resp"),
        &mut b,
        &mut sink,
        &mut ev,
    );
    c.segment(
        TO_SERVER,
        &seg(104, 505, TcpFlags::FIN | TcpFlags::ACK, b""),
        &mut b,
        &mut sink,
        &mut ev,
    );
    assert_eq!(c.state(), TcpState::Closing);
    c.segment(
        TO_CLIENT,
        &seg(505, 105, TcpFlags::FIN | TcpFlags::ACK, b""),
        &mut b,
        &mut sink,
        &mut ev,
    );
    assert_eq!(c.state(), TcpState::Closed);
    assert!(c.is_finished());
    assert_eq!(sink.out[0].len(), 3);
    assert_eq!(sink.out[1].len(), 4);
    assert!(ev.is_empty(), "{ev:?}");
    // A new SYN with another ISN is a new connection.
    let v = c.segment(
        TO_SERVER,
        &seg(9000, 0, TcpFlags::SYN, b""),
        &mut b,
        &mut sink,
        &mut ev,
    );
    assert_eq!(v, TcpVerdict::NewConnection);
}

fn pk(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, proto: u8) -> PacketKey {
    PacketKey {
        src: IpAddr::V4(Ipv4Addr::from(src)),
        dst: IpAddr::V4(Ipv4Addr::from(dst)),
        src_port: sport,
        dst_port: dport,
        proto,
        vlan: 0,
    }
}

proptest! {
    /// The record keeps only the compact key: the key, the endpoints and
    /// the direction read back from it are the packet's, for both address
    /// families, any ports and protocol and any 24-bit VLAN key.
    #[test]
    fn key_and_endpoints_read_back_from_the_compact_key(
        a in any::<u128>(),
        b in any::<u128>(),
        v6 in any::<bool>(),
        ports in any::<(u16, u16)>(),
        proto in any::<u8>(),
        vlan in 0u32..1 << 24,
        syn in any::<bool>(),
    ) {
        let addr = |x: u128| if v6 { IpAddr::V6(x.into()) } else { IpAddr::V4((x as u32).into()) };
        let k = PacketKey { src: addr(a), dst: addr(b), src_port: ports.0, dst_port: ports.1, proto, vlan };
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let flags = syn.then_some(TcpFlags(TcpFlags::SYN));
        let l = t.lookup(0, &k, flags, || (), &mut |_f: Flow<()>, _r: EndReason| {});
        let f = t.get(l.idx).unwrap();
        let (s, d) = ((k.src, k.src_port), (k.dst, k.dst_port));
        let key = f.key();
        prop_assert_eq!((key.lo, key.hi), if s <= d { (s, d) } else { (d, s) });
        prop_assert_eq!((key.proto, key.vlan), (proto, vlan));
        let (client, server) = if l.dir == TO_SERVER { (s, d) } else { (d, s) };
        prop_assert_eq!((f.client(), f.server()), (client, server));
        prop_assert_eq!(f.direction(k.src, k.src_port), l.dir);
        if s != d {
            prop_assert_eq!(f.direction(k.dst, k.dst_port), 1 - l.dir);
        }
    }
}

#[test]
fn initiator_from_syn_ports_and_direction() {
    let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
    let mut ended = |_f: Flow<()>, _r: EndReason| panic!("nothing should end");
    // Midstream: the response (from port 502) is seen first.
    let l = t.lookup(
        0,
        &pk([10, 0, 0, 2], 502, [10, 0, 0, 1], 40000, 6),
        Some(TcpFlags(TcpFlags::ACK)),
        || (),
        &mut ended,
    );
    assert!(l.created);
    assert_eq!(l.dir, TO_CLIENT);
    let f = t.get(l.idx).unwrap();
    assert!(f.midstream);
    assert_eq!(f.server().1, 502);
    // Same flow from the other side.
    let l2 = t.lookup(
        1,
        &pk([10, 0, 0, 1], 40000, [10, 0, 0, 2], 502, 6),
        Some(TcpFlags(TcpFlags::ACK)),
        || (),
        &mut ended,
    );
    assert_eq!((l2.idx, l2.dir, l2.created), (l.idx, TO_SERVER, false));
    // A SYN names the client even on unknown ports.
    let l3 = t.lookup(
        2,
        &pk([10, 0, 0, 9], 1000, [10, 0, 0, 8], 60000, 6),
        Some(TcpFlags(TcpFlags::SYN)),
        || (),
        &mut ended,
    );
    let f = t.get(l3.idx).unwrap();
    assert!(!f.midstream);
    assert_eq!(f.client().1, 1000);
    // A VLAN separates flows.
    let mut k = pk([10, 0, 0, 1], 40000, [10, 0, 0, 2], 502, 6);
    k.vlan = 7;
    assert!(t.lookup(3, &k, None, || (), &mut ended).created);
    assert_eq!(t.len(), 3);
}

#[test]
fn timeouts_by_class_and_eviction() {
    let cfg = FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    };
    let s = 1_000_000_000i64;
    let mut t: FlowTable<u32> = FlowTable::new(cfg);
    let gone: std::cell::RefCell<Vec<(u32, EndReason)>> = Default::default();
    let mut ended = |f: Flow<u32>, r: EndReason| gone.borrow_mut().push((f.app, r));
    // UDP both ways: long class (600 s).
    let a = t.lookup(
        0,
        &pk([1, 1, 1, 1], 5000, [2, 2, 2, 2], 20000, 17),
        None,
        || 1,
        &mut ended,
    );
    t.touch(a.idx, 0, a.dir, 100);
    let a2 = t.lookup(
        0,
        &pk([2, 2, 2, 2], 20000, [1, 1, 1, 1], 5000, 17),
        None,
        || 99,
        &mut ended,
    );
    t.touch(a2.idx, 0, a2.dir, 100);
    // UDP one way: short class (60 s).
    let b = t.lookup(
        s,
        &pk([3, 3, 3, 3], 5000, [4, 4, 4, 4], 161, 17),
        None,
        || 2,
        &mut ended,
    );
    t.touch(b.idx, s, b.dir, 100);
    t.expire(30 * s, &mut ended);
    assert!(gone.borrow().is_empty());
    t.expire(62 * s, &mut ended);
    assert_eq!(*gone.borrow(), vec![(2, EndReason::Timeout)]);
    // Fill the table; the one-way flow goes first when a fourth arrives.
    let c = t.lookup(
        70 * s,
        &pk([5, 5, 5, 5], 1, [6, 6, 6, 6], 2, 17),
        None,
        || 3,
        &mut ended,
    );
    t.touch(c.idx, 70 * s, c.dir, 1);
    let d = t.lookup(
        71 * s,
        &pk([7, 7, 7, 7], 1, [8, 8, 8, 8], 2, 17),
        None,
        || 4,
        &mut ended,
    );
    t.touch(d.idx, 71 * s, d.dir, 1);
    let e = t.lookup(
        72 * s,
        &pk([9, 9, 9, 9], 1, [8, 8, 8, 8], 2, 17),
        None,
        || 5,
        &mut ended,
    );
    t.touch(e.idx, 72 * s, e.dir, 1);
    assert_eq!(gone.borrow()[1..], [(3, EndReason::Evicted)]);
    assert_eq!(t.len(), 3);
    t.expire(700 * s, &mut ended);
    assert_eq!(t.len(), 0);
    assert!(gone.borrow().contains(&(1, EndReason::Timeout)));
}

proptest! {
    /// Reordered, duplicated, overlapping and gapped segments: the delivered
    /// stream equals the original wherever bytes were delivered, every byte
    /// up to the last delivered one is either data or a reported gap, and
    /// identical overlaps raise nothing.
    #[test]
    fn reassembly_matches_original(
        len in 1usize..4000,
        cuts in proptest::collection::vec(1usize..400, 1..60),
        seed in any::<u64>(),
        dups in 0usize..10,
        drop_mask in any::<u64>(),
        isn in any::<u32>(),
        cap in prop::sample::select(vec![64usize, 1000, 1 << 20]),
    ) {
        let d = data(len);
        // Segment boundaries from the cuts.
        let mut segs: Vec<(usize, usize)> = vec![];
        let mut pos = 0;
        for c in cuts.iter().cycle() {
            if pos >= len { break; }
            let end = (pos + c).min(len);
            segs.push((pos, end));
            pos = end;
        }
        // Overlapping re-sends with identical data.
        let mut rng = seed | 1;
        let mut next = || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        for _ in 0..dups {
            let s = (next() % len as u64) as usize;
            let e = (s + 1 + (next() % 300) as usize).min(len);
            segs.push((s, e));
        }
        // Shuffle.
        for i in (1..segs.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            segs.swap(i, j);
        }
        // Drop some segments (only from the original cuts, so gaps are real).
        let n_orig = segs.len();
        let kept: Vec<(usize, usize)> = segs.iter().enumerate()
            .filter(|(i, _)| *i >= 64 || drop_mask & (1 << i) == 0 || n_orig < 3)
            .map(|(_, s)| *s).collect();
        let mut s = Stream::new(cap);
        let mut sink = Collect::default();
        let mut b = budget();
        let mut ev = vec![];
        s.init(isn);
        for (a, e) in &kept {
            s.segment(isn.wrapping_add(*a as u32), &d[*a..*e], &mut b, 0, &mut sink, &mut ev);
            prop_assert!(s.buffered() <= cap);
        }
        s.flush(&mut b, 0, &mut sink, &mut ev);
        prop_assert_eq!(b.used, 0);
        prop_assert!(!ev.contains(&StreamEvent::OverlapDifferentData));
        let out = &sink.out[0];
        prop_assert!(out.len() <= len);
        for (i, v) in out.iter().enumerate() {
            if let Some(v) = v {
                prop_assert_eq!(*v, d[i], "byte {} differs", i);
            }
        }
        // With room to buffer and nothing dropped, everything arrives, gap-free.
        if cap == 1 << 20 && kept.len() == segs.len() {
            prop_assert_eq!(out.len(), len);
            prop_assert!(sink.gaps[0].is_empty());
        }
    }

    /// Prefetch and lookup hints change nothing: a table told about the
    /// next packets and looking up with any hint (right or wrong) makes
    /// the same flows, slots and directions as one that is not, and for
    /// a packet of a held flow alone in its hash group the hint names its
    /// slot.
    #[test]
    fn prefetch_hints_change_nothing(
        ops in proptest::collection::vec((0u8..6, 0u16..4, any::<bool>(), 0u8..4, 0u32..12), 1..300),
    ) {
        let cfg = FlowConfig { max_flows: 8, ..FlowConfig::default() };
        let mut plain: FlowTable<u32> = FlowTable::new(cfg.clone());
        let mut hinted: FlowTable<u32> = FlowTable::new(cfg);
        let key = |h: u8, p: u16, rev: bool| {
            let (a, b) = ([10, 0, 0, h], [10, 0, 1, 1]);
            if rev { pk(b, 502, a, 40000 + p, 6) } else { pk(a, 40000 + p, b, 502, 6) }
        };
        let mut ended_a = vec![];
        let mut ended_b = vec![];
        for (i, &(h, p, rev, what, any_slot)) in ops.iter().enumerate() {
            let k = key(h, p, rev);
            let ts = i as i64 * 1_000_000;
            // A hint for this packet, another one's, or none.
            // A hint for this packet, another one's, any slot (in use,
            // free or out of range), or none.
            let hint = match what {
                0 => hinted.prefetch(&k),
                1 => hinted.prefetch(&key(h ^ 1, p, !rev)),
                2 => Some(any_slot),
                _ => None,
            };
            if let (Some(slot), true) = (hint, what < 2) {
                // The hint is unverified, but it names a slot in use.
                prop_assert!(hinted.get(slot).is_some());
            }
            let a = plain.lookup(ts, &k, None, || i as u32, &mut |f, r| ended_a.push((f.app, r)));
            let b = hinted.lookup_with_hint(ts, &k, None, hint, || i as u32, &mut |f, r| ended_b.push((f.app, r)));
            prop_assert_eq!((a.idx, a.dir, a.created), (b.idx, b.dir, b.created));
            if !b.created && hinted.len() == 1 {
                prop_assert_eq!(hinted.prefetch(&k), Some(b.idx));
            }
            plain.touch(a.idx, ts, a.dir, 60);
            hinted.touch(b.idx, ts, b.dir, 60);
            if i % 7 == 6 {
                plain.expire(ts + 70_000_000_000, &mut |f, r| ended_a.push((f.app, r)));
                hinted.expire(ts + 70_000_000_000, &mut |f, r| ended_b.push((f.app, r)));
            }
        }
        prop_assert_eq!(plain.len(), hinted.len());
        prop_assert_eq!(ended_a, ended_b);
    }

    /// The IPv4 shortcut finds what the general prefetch finds.
    #[test]
    fn prefetch_stages_v4_are_prefetch(
        flows in proptest::collection::vec((any::<[u8; 4]>(), any::<[u8; 4]>(), 0u16..4, 0u16..4, any::<bool>()), 1..40),
    ) {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        for &(a, b, pa, pb, udp) in &flows {
            let proto = if udp { 17 } else { 6 };
            t.lookup(0, &pk(a, pa, b, pb, proto), None, || (), &mut |_, _| {});
        }
        for &(a, b, pa, pb, udp) in &flows {
            let proto = if udp { 17 } else { 6 };
            for (s, d, ps, pd) in [(a, b, pa, pb), (b, a, pb, pa)] {
                let mut k = pk(s, ps, d, pd, proto);
                k.vlan = u32::from(pa);
                prop_assert_eq!(t.prefetch_flow(t.prefetch_bucket_v4(s, d, ps, pd, proto, k.vlan)), t.prefetch(&k));
            }
        }
    }

    /// The IPv4 hint check finds a flow exactly where the lookup does,
    /// with the same direction, whatever slot it is given, IPv6 flows
    /// with the same numbers held alongside.
    #[test]
    fn hinted_v4_is_lookup(
        flows in proptest::collection::vec((0u8..3, 0u8..3, 0u16..3, 0u16..3, any::<bool>(), 0u32..2), 1..30),
        packets in proptest::collection::vec((0u8..3, 0u8..3, 0u16..3, 0u16..3, 0u32..2, 0u32..40), 1..60),
    ) {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let v4 = |a: u8| std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, a));
        let v6 = |a: u8| std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(0x0a00_0000u32 + u32::from(a))));
        for &(a, b, pa, pb, six, vlan) in &flows {
            let (s, d) = if six { (v6(a), v6(b)) } else { (v4(a), v4(b)) };
            let k = PacketKey { src: s, dst: d, src_port: pa, dst_port: pb, proto: 6, vlan };
            t.lookup(0, &k, None, || (), &mut |_, _| {});
        }
        for &(a, b, pa, pb, vlan, slot) in &packets {
            let k = PacketKey { src: v4(a), dst: v4(b), src_port: pa, dst_port: pb, proto: 6, vlan };
            let (sa, sb) = (u32::from_be_bytes([10, 0, 0, a]), u32::from_be_bytes([10, 0, 0, b]));
            let held = t.len();
            let found = t.lookup(0, &k, None, || (), &mut |_, _| {});
            if held != t.len() {
                continue;
            }
            for s in [slot, found.idx] {
                let h = t.hinted_v4(s, sa, sb, pa, pb, 6, vlan);
                if s == found.idx {
                    prop_assert_eq!(h.map(|l| (l.idx, l.dir, l.created)), Some((found.idx, found.dir, false)));
                } else {
                    prop_assert!(h.is_none());
                }
            }
        }
    }

    /// The in-order shortcut of `TcpConn::segment` does what the general
    /// path does: the same bytes, gaps, events, verdicts, budget, state
    /// and counters, on random segments near and away from the expected
    /// sequence numbers, with every combination of control bits.
    #[test]
    fn tcp_in_order_shortcut_is_general(
        ops in proptest::collection::vec((any::<bool>(), 0u8..6, 0u8..5, 0u8..64, 0usize..24), 1..120),
        cap in prop::sample::select(vec![16usize, 1 << 16]),
    ) {
        let mut fast = TcpConn::new(cap);
        let mut slow = TcpConn::new(cap);
        let (mut bf, mut bs) = (budget(), budget());
        let (mut sf, mut ss) = (Collect::default(), Collect::default());
        let (mut ef, mut es) = (vec![], vec![]);
        let d = data(4096);
        for (i, &(to_client, at, ack_at, flags, len)) in ops.iter().enumerate() {
            let dir = usize::from(to_client);
            let next = slow.streams[dir].next_seq();
            let peer = slow.streams[1 - dir].next_seq();
            let seq = match at {
                0..=2 => next,
                3 => next.wrapping_add(len as u32 + 3),
                4 => next.wrapping_sub(5),
                _ => 1000 + 7 * i as u32,
            };
            let ack = match ack_at {
                0 | 1 => peer,
                2 => peer.wrapping_add(20),
                3 => peer.wrapping_sub(3),
                _ => 77,
            };
            // Mostly ACK alone; sometimes any bits.
            let flags = if flags < 40 { TcpFlags::ACK | (flags & TcpFlags::PSH) } else { flags };
            let off = i * 13 % 4000;
            let s = seg(seq, ack, flags, &d[off..off + len]);
            let vf = fast.segment(dir, &s, &mut bf, &mut sf, &mut ef);
            let vs = slow.segment_general(dir, &s, &mut bs, &mut ss, &mut es);
            prop_assert_eq!(vf, vs);
            prop_assert_eq!(&sf.out, &ss.out);
            prop_assert_eq!(&sf.gaps, &ss.gaps);
            prop_assert_eq!(&ef, &es);
            prop_assert_eq!(bf.used, bs.used);
            prop_assert_eq!(fast.state(), slow.state());
            for k in 0..2 {
                let (a, b) = (&fast.streams[k], &slow.streams[k]);
                prop_assert_eq!(a.stats(), b.stats());
                prop_assert_eq!((a.next_seq(), a.buffered(), a.is_init()), (b.next_seq(), b.buffered(), b.is_init()));
            }
        }
    }
}
