use super::*;
use proptest::prelude::*;

fn pcap_file(big: bool, ns: bool, link: u16, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut f = Vec::new();
    f.extend_from_slice(&w32(if ns { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&w32(65535));
    f.extend_from_slice(&w32(u32::from(link)));
    for (sec, frac, data) in recs {
        f.extend_from_slice(&w32(*sec));
        f.extend_from_slice(&w32(*frac));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(&w32(data.len() as u32 + 10));
        f.extend_from_slice(data);
    }
    f
}

type Rec = (i64, u16, Vec<u8>, u32);

fn read_all(bytes: &[u8]) -> (Vec<Rec>, Option<CaptureError>) {
    let mut r = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (vec![], Some(e)),
    };
    let mut out = vec![];
    loop {
        match r.next_packet() {
            Ok(Some(p)) => out.push((p.ts_ns, p.link_type.0, p.data.to_vec(), p.interface)),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn classic_pcap_all_four_variants() {
    for big in [false, true] {
        for ns in [false, true] {
            let f = pcap_file(big, ns, 1, &[(10, 500, b"abc"), (11, 7, b"")]);
            let (pkts, err) = read_all(&f);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(pkts.len(), 2);
            let mult = if ns { 1 } else { 1000 };
            assert_eq!(pkts[0].0, 10_000_000_000 + 500 * mult);
            assert_eq!(pkts[0].2, b"abc");
            assert_eq!(pkts[1].0, 11_000_000_000 + 7 * mult);
            assert_eq!(pkts[1].1, 1);
            let r = CaptureReader::new(&f[..]).unwrap();
            assert_eq!(
                r.format(),
                Format::Pcap {
                    nanosecond: ns,
                    big_endian: big
                }
            );
        }
    }
}

#[test]
fn truncated_last_record_is_reported_after_complete_ones() {
    let f = pcap_file(
        false,
        false,
        1,
        &[(1, 0, b"first"), (2, 0, b"second-record")],
    );
    let cut = &f[..f.len() - 4];
    let (pkts, err) = read_all(cut);
    assert_eq!(pkts.len(), 1);
    match err {
        Some(CaptureError::Truncated { needed, have, .. }) => {
            assert_eq!(needed, 16 + 13);
            assert_eq!(have, 16 + 9);
        }
        other => panic!("expected truncation, got {other:?}"),
    }
    // A cut inside the record header is a truncation too.
    let (pkts, err) = read_all(&f[..24 + 16 + 5 + 3]);
    assert_eq!(pkts.len(), 1);
    assert!(matches!(err, Some(CaptureError::Truncated { .. })));
}

#[test]
fn oversized_record_is_malformed_not_allocated() {
    let mut f = pcap_file(false, false, 1, &[]);
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    let (pkts, err) = read_all(&f);
    assert!(pkts.is_empty());
    assert!(matches!(err, Some(CaptureError::Malformed { .. })));
}

#[test]
fn unknown_magic_is_rejected() {
    let (_, err) = read_all(b"GET / HTTP/1.1\r\n\r\n plus some more bytes");
    assert!(matches!(err, Some(CaptureError::UnknownFormat { .. })));
    let (_, err) = read_all(b"ab");
    assert!(matches!(err, Some(CaptureError::ShortHeader { .. })));
}

struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn w16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, t: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        let (a, b) = (self.w32(t), self.w32(len));
        self.out.extend_from_slice(&a);
        self.out.extend_from_slice(&b);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&b);
    }
    fn shb(&mut self) {
        let mut b = vec![];
        b.extend_from_slice(&self.w32(0x1A2B_3C4D));
        b.extend_from_slice(&self.w16(1));
        b.extend_from_slice(&self.w16(0));
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0A0D_0D0A, &b);
    }
    fn idb(&mut self, link: u16, tsresol: Option<u8>) {
        let mut b = vec![];
        b.extend_from_slice(&self.w16(link));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.w32(0));
        if let Some(r) = tsresol {
            b.extend_from_slice(&self.w16(9));
            b.extend_from_slice(&self.w16(1));
            b.extend_from_slice(&[r, 0, 0, 0]);
            b.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.block(1, &b);
    }
    fn epb(&mut self, iface: u32, ts: u64, data: &[u8]) {
        let mut b = vec![];
        b.extend_from_slice(&self.w32(iface));
        b.extend_from_slice(&self.w32((ts >> 32) as u32));
        b.extend_from_slice(&self.w32(ts as u32));
        b.extend_from_slice(&self.w32(data.len() as u32));
        b.extend_from_slice(&self.w32(data.len() as u32));
        b.extend_from_slice(data);
        self.block(6, &b);
    }
    fn spb(&mut self, data: &[u8]) {
        let mut b = vec![];
        b.extend_from_slice(&self.w32(data.len() as u32));
        b.extend_from_slice(data);
        self.block(3, &b);
    }
}

#[test]
fn pcapng_interfaces_with_own_link_types_and_resolutions() {
    for big in [false, true] {
        let mut ng = Ng { big, out: vec![] };
        ng.shb();
        ng.idb(1, None); // microseconds
        ng.idb(113, Some(9)); // nanoseconds
        ng.idb(101, Some(0x80 | 10)); // 1/1024 s
        ng.epb(0, 1_500_000, b"eth");
        ng.epb(1, 2_000_000_123, b"sll!");
        ng.epb(2, 3 * 1024 + 512, b"raw");
        ng.block(0x0000_0005, b"statistics block is skipped");
        ng.spb(b"simple");
        let (pkts, err) = read_all(&ng.out);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(pkts.len(), 4);
        assert_eq!((pkts[0].0, pkts[0].1, pkts[0].3), (1_500_000_000, 1, 0));
        assert_eq!((pkts[1].0, pkts[1].1, pkts[1].3), (2_000_000_123, 113, 1));
        assert_eq!((pkts[2].0, pkts[2].1), (3_500_000_000, 101));
        assert_eq!(pkts[2].2, b"raw");
        // The simple packet block belongs to interface 0 and inherits the last time.
        assert_eq!(
            (pkts[3].0, pkts[3].1, &pkts[3].2[..]),
            (3_500_000_000, 1, &b"simple"[..])
        );
    }
}

#[test]
fn pcapng_second_section_may_change_byte_order() {
    let mut a = Ng {
        big: false,
        out: vec![],
    };
    a.shb();
    a.idb(1, None);
    a.epb(0, 1, b"one");
    let mut b = Ng {
        big: true,
        out: vec![],
    };
    b.shb();
    b.idb(228, None);
    b.epb(0, 2, b"two");
    let mut f = a.out;
    f.extend_from_slice(&b.out);
    let (pkts, err) = read_all(&f);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[1].1, 228);
    assert_eq!(pkts[1].0, 2_000);
}

#[test]
fn pcapng_packet_for_undeclared_interface_is_malformed() {
    let mut ng = Ng {
        big: false,
        out: vec![],
    };
    ng.shb();
    ng.epb(3, 1, b"x");
    let (pkts, err) = read_all(&ng.out);
    assert!(pkts.is_empty());
    assert!(matches!(err, Some(CaptureError::Malformed { .. })));
}

#[test]
fn writer_round_trips() {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
    w.write_packet(1_700_000_000_123_456_789, b"hello").unwrap();
    w.write_packet(1_700_000_001_000_000_000, &[0u8; 1500])
        .unwrap();
    let bytes = w.into_inner().unwrap();
    let (pkts, err) = read_all(&bytes);
    assert!(err.is_none());
    assert_eq!(pkts[0].0, 1_700_000_000_123_456_789);
    assert_eq!(pkts[0].2, b"hello");
    assert_eq!(pkts[1].2.len(), 1500);
}

/// Reads larger than the internal buffer: records straddle refills.
#[test]
fn records_straddling_buffer_refills() {
    let payload: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    let recs: Vec<(u32, u32, &[u8])> = (0..40)
        .map(|i| (i, 0, &payload[..(i as usize * 997) % 70_000]))
        .collect();
    let f = pcap_file(false, false, 1, &recs);
    let (pkts, err) = read_all(&f);
    assert!(err.is_none());
    assert_eq!(pkts.len(), 40);
    for (i, p) in pkts.iter().enumerate() {
        assert_eq!(p.2, &payload[..(i * 997) % 70_000]);
    }
}

/// Reads every record, checking before each that what `peek(k)` shows
/// for k = 0..3 is the data of the record `k` places ahead (or `None`).
fn read_all_peeking(bytes: &[u8]) -> Vec<Vec<u8>> {
    let Ok(mut r) = CaptureReader::new(bytes) else {
        return vec![];
    };
    let mut peeked: Vec<(usize, Vec<u8>)> = vec![];
    let mut out = vec![];
    loop {
        for k in 0..3 {
            if let Some(d) = r.peek(k) {
                peeked.push((out.len() + k, d.to_vec()));
            }
        }
        match r.next_packet() {
            Ok(Some(p)) => out.push(p.data.to_vec()),
            _ => break,
        }
    }
    for (i, d) in peeked {
        assert_eq!(out.get(i), Some(&d), "peek of record {i}");
    }
    out
}

#[test]
fn peek_shows_the_records_ahead() {
    let payload: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    let recs: Vec<(u32, u32, &[u8])> = (0..60)
        .map(|i| (i, 0, &payload[..(i as usize * 4_999) % 70_000]))
        .collect();
    let f = pcap_file(false, false, 1, &recs);
    let pkts = read_all_peeking(&f);
    assert_eq!(pkts.len(), 60);
    let two = pcap_file(true, true, 1, &[(1, 0, b"ab"), (2, 0, b"c")]);
    let mut small = CaptureReader::new(&two[..]).unwrap();
    assert_eq!(small.peek(0), Some(&b"ab"[..]));
    assert_eq!(small.peek(1), Some(&b"c"[..]));
    assert_eq!(small.peek(2), None);
    let mut n = Ng {
        big: false,
        out: vec![],
    };
    n.shb();
    n.idb(1, None);
    n.epb(0, 5, b"xyz");
    let ng = CaptureReader::new(&n.out[..]).unwrap();
    assert_eq!(ng.peek(0), None, "pcapng is not peeked");
    let _ = small.next_packet();
    assert_eq!(small.peek(0), Some(&b"c"[..]));
}

/// Found by the `sensor` fuzz target: two pcapng interfaces whose timestamp
/// offsets put one packet at the top of the i64 range and the next at the
/// bottom, so that the sensor's `response.ts - request.ts` (and a flow's
/// `end - start`) overflowed. Packet times are clamped to
/// `MIN_TS_NS..=MAX_TS_NS`, where every difference fits in an i64.
#[test]
fn pcapng_timestamps_are_clamped_so_differences_fit() {
    #[rustfmt::skip]
    const INPUT: &[u8] = &[
    0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0x00, 0x00, 0x00, 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x20, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x2c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
    0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00,
    0x42, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x34, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0x0a, 0x00,
    0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x9c, 0x40, 0x01, 0xf6, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00,
    0x13, 0x88, 0x50, 0x18, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06,
    0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x64, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x41, 0x00, 0x00, 0x00, 0x41, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x33, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06,
    0x00, 0x00, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x01, 0xf6, 0x9c, 0x40, 0x00, 0x00,
    0x13, 0x88, 0x00, 0x00, 0x03, 0xf4, 0x50, 0x18, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x05, 0x01, 0x03, 0x02, 0x00, 0xff, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00,
    ];
    let (pkts, err) = read_all(INPUT);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].0, MAX_TS_NS);
    assert_eq!(pkts[1].0, MIN_TS_NS);
    assert_eq!(pkts[1].0.checked_sub(pkts[0].0), Some(-i64::MAX));
    assert_eq!(MAX_TS_NS.checked_sub(MIN_TS_NS), Some(i64::MAX));

    // A 64-bit count of seconds (if_tsresol 10^0) is clamped too.
    let mut ng = Ng {
        big: true,
        out: vec![],
    };
    ng.shb();
    ng.idb(1, Some(0));
    ng.epb(0, u64::MAX, b"x");
    let (pkts, err) = read_all(&ng.out);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pkts[0].0, MAX_TS_NS);

    // Every classic pcap time is within the bounds.
    let f = pcap_file(false, false, 1, &[(u32::MAX, u32::MAX, b"x")]);
    let (pkts, _) = read_all(&f);
    assert!(pkts[0].0 <= MAX_TS_NS);
}

proptest! {
    /// Whatever the bytes, the reader terminates without panicking and never
    /// returns a record longer than the input.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (pkts, _) = read_all(&data);
        for p in pkts {
            prop_assert!(p.2.len() <= data.len());
        }
    }

    /// Arbitrary bytes behind a valid header, in both formats.
    #[test]
    fn arbitrary_records_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..4096), ng in any::<bool>()) {
        let mut f = if ng {
            let mut n = Ng { big: false, out: vec![] };
            n.shb();
            n.idb(1, Some(9));
            n.out
        } else {
            pcap_file(false, true, 1, &[])
        };
        f.extend_from_slice(&tail);
        let _ = read_all(&f);
        let _ = read_all_peeking(&f);
    }
}
