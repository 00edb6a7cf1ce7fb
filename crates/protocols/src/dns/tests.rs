//! Messages built after RFC 1035 (its §4.1.4 compression example among
//! them), and the limits that keep hostile names from looping.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

/// A name in wire format, uncompressed.
pub(crate) fn wire_name(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in s.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

pub(crate) fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v
}

pub(crate) fn question(v: &mut Vec<u8>, name: &[u8], t: u16) {
    v.extend_from_slice(name);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
}

pub(crate) fn record(v: &mut Vec<u8>, name: &[u8], t: u16, ttl: u32, rdata: &[u8]) {
    v.extend_from_slice(name);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
}

fn text(n: &Name<'_>) -> String {
    let mut buf = [0u8; MAX_TEXT_LEN];
    n.text(&mut buf).to_string()
}

#[test]
fn a_query_parses_clean() {
    let mut q = header(0x1234, 0x0100, [1, 0, 0, 0]);
    question(&mut q, &wire_name("www.example.com"), 1);
    let m = Message::parse(&q).unwrap();
    assert_eq!(m.header.id, 0x1234);
    assert!(!m.header.is_response());
    assert!(m.header.recursion_desired());
    assert_eq!(m.header.opcode(), Opcode::QUERY);
    assert!(
        m.flags.is_empty(),
        "{:?}",
        m.flags.names().collect::<Vec<_>>()
    );
    let qs: Vec<_> = m.questions().collect();
    assert_eq!(qs.len(), 1);
    assert_eq!(text(&qs[0].name), "www.example.com");
    assert_eq!(qs[0].qtype, RrType::A);
    assert_eq!(qs[0].qtype.name(), "A");
    assert_eq!(qs[0].qclass, 1);
    assert_eq!(probe(&q, false), Probe::Match);
    assert_eq!(probe(&q, true), Probe::NoMatch);
}

#[test]
fn a_compressed_response_reads_every_answer() {
    // www.example.com CNAME web.example.com; web.example.com A 192.0.2.7;
    // AAAA 2001:db8::7. Names after the question point into it (offset 12).
    let mut r = header(0x1234, 0x8180, [1, 3, 0, 0]);
    question(&mut r, &wire_name("www.example.com"), 1);
    // "web" + pointer to "example.com" (offset 12 + 4 = 16).
    let web_at = r.len() + 12;
    record(
        &mut r,
        &[0xc0, 0x0c],
        5,
        300,
        &[3, b'w', b'e', b'b', 0xc0, 16],
    );
    record(&mut r, &[0xc0, web_at as u8], 1, 60, &[192, 0, 2, 7]);
    let v6: Ipv6Addr = "2001:db8::7".parse().unwrap();
    record(&mut r, &[0xc0, web_at as u8], 28, 60, &v6.octets());
    let m = Message::parse(&r).unwrap();
    assert!(
        m.flags.is_empty(),
        "{:?}",
        m.flags.names().collect::<Vec<_>>()
    );
    assert!(m.header.is_response());
    assert_eq!(m.header.rcode(), Rcode::NOERROR);
    assert!(m.header.recursion_available());
    let an: Vec<_> = m.answers().collect();
    assert_eq!(an.len(), 3);
    assert_eq!(text(&an[0].name), "www.example.com");
    assert_eq!(an[0].ttl, 300);
    match an[0].data() {
        RData::Name(n) => assert_eq!(text(&n), "web.example.com"),
        d => panic!("{d:?}"),
    }
    assert_eq!(text(&an[1].name), "web.example.com");
    assert!(matches!(an[1].data(), RData::A(a) if a == Ipv4Addr::new(192, 0, 2, 7)));
    assert!(matches!(an[2].data(), RData::Aaaa(a) if a == v6));
    assert!(an[0].name.eq_ignore_case(&m.question().unwrap().name));
}

/// RFC 1035 §4.1.4: F.ISI.ARPA at offset 20, FOO.F.ISI.ARPA at 40 as
/// "FOO" and a pointer to 20, ARPA at 64 as a pointer to 26, the root at 92.
#[test]
fn rfc1035_compression_example() {
    let mut b = vec![0u8; 100];
    let f = [1, b'F', 3, b'I', b'S', b'I', 4, b'A', b'R', b'P', b'A', 0];
    b[20..32].copy_from_slice(&f);
    b[40..46].copy_from_slice(&[3, b'F', b'O', b'O', 0xc0, 20]);
    b[64..66].copy_from_slice(&[0xc0, 26]);
    b[92] = 0;
    let (n, end) = read_name(&b, 20).unwrap();
    assert_eq!((text(&n).as_str(), end), ("F.ISI.ARPA", 32));
    let (n, end) = read_name(&b, 40).unwrap();
    assert_eq!((text(&n).as_str(), end), ("FOO.F.ISI.ARPA", 46));
    let (n, end) = read_name(&b, 64).unwrap();
    assert_eq!((text(&n).as_str(), end), ("ARPA", 66));
    let (n, end) = read_name(&b, 92).unwrap();
    assert_eq!((text(&n).as_str(), end), (".", 93));
    assert!(n.is_root());
}

#[test]
fn pointer_loops_and_long_names_stop() {
    // A pointer to itself.
    let mut q = header(1, 0, [1, 0, 0, 0]);
    q.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let m = Message::parse(&q).unwrap();
    assert_eq!(m.name_error, Some(NameError::PointerLoop));
    assert!(m.flags.has(Flags::BAD_NAME));
    assert_eq!(m.questions().count(), 0);
    // Two pointers to each other.
    let mut q = header(1, 0, [1, 0, 0, 0]);
    q.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(read_name(&q, 12).unwrap_err(), NameError::PointerLoop);
    // 128 one-octet labels: 257 octets.
    let mut long = Vec::new();
    for _ in 0..128 {
        long.extend_from_slice(&[1, b'a']);
    }
    long.push(0);
    assert_eq!(read_name(&long, 0).unwrap_err(), NameError::TooLong);
    // 127 labels: 255 octets, the limit.
    assert!(read_name(&long[2..], 0).is_ok());
    // Label types 01 and 10.
    assert_eq!(
        read_name(&[0x41, 0], 0).unwrap_err(),
        NameError::BadLabelType
    );
    assert_eq!(
        read_name(&[0x80, 0], 0).unwrap_err(),
        NameError::BadLabelType
    );
    // Cut inside a label, inside a pointer, and a pointer past the end.
    assert_eq!(read_name(&[3, b'a'], 0).unwrap_err(), NameError::Truncated);
    assert_eq!(read_name(&[0xc0], 0).unwrap_err(), NameError::Truncated);
    assert_eq!(read_name(&[0xc0, 9], 0).unwrap_err(), NameError::Truncated);
}

#[test]
fn counts_past_the_end_and_trailing_bytes_are_flagged() {
    let mut r = header(7, 0x8180, [1, 2, 0, 0]);
    question(&mut r, &wire_name("plc.local"), 1);
    record(&mut r, &[0xc0, 12], 1, 60, &[10, 0, 0, 5]);
    let m = Message::parse(&r).unwrap();
    assert!(m.flags.has(Flags::TRUNCATED));
    assert!(!m.is_complete());
    assert_eq!(m.answers().count(), 1);
    assert_eq!(m.counts_read(), [1, 1, 0, 0]);
    // The record's data cut short.
    let mut cut = r.clone();
    cut.truncate(cut.len() - 2);
    let m = Message::parse(&cut).unwrap();
    assert!(m.flags.has(Flags::TRUNCATED));
    assert_eq!(m.answers().count(), 0);
    // Fixed counts, an extra octet.
    let mut r = header(7, 0x8180, [1, 1, 0, 0]);
    question(&mut r, &wire_name("plc.local"), 1);
    record(&mut r, &[0xc0, 12], 1, 60, &[10, 0, 0, 5]);
    r.push(0);
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.flags.names().collect::<Vec<_>>(), ["trailing_bytes"]);
    assert!(Message::parse(&r[..11]).is_none());
}

#[test]
fn record_data_by_type() {
    let mut r = header(9, 0x8400, [1, 3, 0, 0]);
    question(&mut r, &wire_name("5.0.0.10.in-addr.arpa"), 12);
    record(
        &mut r,
        &[0xc0, 12],
        12,
        3600,
        &wire_name("hmi1.plant.example"),
    );
    // An A record of 5 octets, an MX.
    record(&mut r, &[0xc0, 12], 1, 1, &[1, 2, 3, 4, 5]);
    let mut mx = vec![0, 10];
    mx.extend_from_slice(&wire_name("mail.example"));
    record(&mut r, &[0xc0, 12], 15, 1, &mx);
    let mut m = Message::parse(&r).unwrap();
    assert!(m.header.authoritative());
    assert!(m.flags.is_empty());
    m.check_rdata();
    assert_eq!(m.flags.names().collect::<Vec<_>>(), ["rdata_mismatch"]);
    let an: Vec<_> = m.answers().collect();
    match an[0].data() {
        RData::Name(n) => assert_eq!(text(&n), "hmi1.plant.example"),
        d => panic!("{d:?}"),
    }
    assert!(matches!(an[1].data(), RData::Malformed(d) if d.len() == 5));
    match an[2].data() {
        RData::Mx(10, n) => assert_eq!(text(&n), "mail.example"),
        d => panic!("{d:?}"),
    }
    // A PTR whose name runs past its data is malformed.
    let mut r = header(9, 0x8400, [0, 1, 0, 0]);
    let name = wire_name("x.example");
    r.extend_from_slice(&[0, 0, 12, 0, 1, 0, 0, 0, 1]);
    r.extend_from_slice(&2u16.to_be_bytes());
    r.extend_from_slice(&name);
    let mut m = Message::parse(&r).unwrap();
    m.check_rdata();
    assert!(m.flags.has(Flags::TRAILING_BYTES));
    assert!(m.flags.has(Flags::RDATA_MISMATCH));
    assert!(matches!(
        m.answers().next().unwrap().data(),
        RData::Malformed(_)
    ));
}

#[test]
fn names_are_written_in_presentation_format() {
    let b = [3, b'a', b'.', b'b', 2, b' ', 0xff, 1, b'\\', 0];
    let (n, _) = read_name(&b, 0).unwrap();
    assert_eq!(text(&n), "a\\.b.\\032\\255.\\\\");
    let (upper, _) = read_name(&[2, b'P', b'L', 0], 0).unwrap();
    let (lower, _) = read_name(&[2, b'p', b'l', 0], 0).unwrap();
    assert!(upper.eq_ignore_case(&lower));
    let (other, _) = read_name(&[2, b'p', b'm', 0], 0).unwrap();
    assert!(!upper.eq_ignore_case(&other));
    // The longest name fits the text buffer: 63-octet labels of 0xff.
    let mut long = Vec::new();
    for _ in 0..3 {
        long.push(63);
        long.extend_from_slice(&[0xff; 63]);
    }
    long.push(61);
    long.extend_from_slice(&[0xff; 61]);
    long.push(0);
    assert_eq!(long.len(), 255);
    let (n, _) = read_name(&long, 0).unwrap();
    assert_eq!(text(&n).len(), 250 * 4 + 3);
}

#[test]
fn probe_judges_udp_and_tcp_starts() {
    let mut q = header(1, 0x0100, [1, 0, 0, 0]);
    question(&mut q, &wire_name("a.example"), 1);
    let mut tcp = (q.len() as u16).to_be_bytes().to_vec();
    tcp.extend_from_slice(&q);
    assert_eq!(probe(&tcp, false), Probe::Match);
    assert_eq!(probe(&tcp[..5], false), Probe::NeedMore);
    // Opcode 3 is unassigned; a query without a question.
    assert_eq!(
        probe(&header(1, 0x1800, [1, 0, 0, 0]), false),
        Probe::NoMatch
    );
    assert_eq!(
        probe(&header(1, 0x0000, [0, 0, 0, 0]), false),
        Probe::NoMatch
    );
    assert_eq!(probe(&[0, 4, 1, 2, 3, 4], false), Probe::NoMatch);
    assert_eq!(probe(b"GET / HTTP/1.1\r\n\r\n", false), Probe::NoMatch);
}

proptest! {
    #[test]
    fn arbitrary_messages_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = probe(&b, false);
        if let Some(m) = Message::parse(&b) {
            let mut buf = [0u8; MAX_TEXT_LEN];
            for q in m.questions() {
                prop_assert!(q.name.text(&mut buf).len() <= MAX_TEXT_LEN);
            }
            for s in [Section::Answer, Section::Authority, Section::Additional] {
                for r in m.records(s) {
                    let _ = r.name.text(&mut buf);
                    prop_assert!(r.rdata.len() <= b.len());
                    match r.data() {
                        RData::Name(n) | RData::Mx(_, n) | RData::Srv(_, _, _, n) => {
                            let _ = n.text(&mut buf);
                        }
                        _ => {}
                    }
                }
            }
        }
        for i in 0..b.len().min(64) {
            if let Ok((n, end)) = read_name(&b, i) {
                prop_assert!(end <= b.len());
                prop_assert!(n.labels().map(|l| l.len() + 1).sum::<usize>() < MAX_NAME_LEN);
            }
        }
    }

    /// Names of random labels survive a write and a read.
    #[test]
    fn names_round_trip(labels in proptest::collection::vec("[a-z0-9-]{1,20}", 1..8)) {
        let s = labels.join(".");
        let mut q = header(1, 0x0100, [1, 0, 0, 0]);
        question(&mut q, &wire_name(&s), 28);
        let m = Message::parse(&q).unwrap();
        prop_assert!(m.flags.is_empty());
        prop_assert_eq!(text(&m.question().unwrap().name), s);
    }
}
