//! RFC 1001's encoding example, and name service packets laid out as
//! RFC 1002 §4.2 shows them (query, registration, positive response, node
//! status).

use proptest::prelude::*;

use super::*;
use crate::dns::{Message, RrType, Section};

/// The wire name of `name<suffix>`, first-level encoded.
pub(crate) fn nb_wire(name: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw[15] = suffix;
    let mut v = vec![32];
    for c in raw {
        v.push(b'A' + (c >> 4));
        v.push(b'A' + (c & 15));
    }
    v.push(0);
    v
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    crate::dns::tests::header(id, flags, counts)
}

#[test]
fn rfc1001_encoding_example() {
    let mut wire = vec![32];
    wire.extend_from_slice(b"EGFCEFEECACACACACACACACACACACACA");
    wire.push(0);
    let (n, _) = crate::dns::read_name(&wire, 0).unwrap();
    let nb = NbName::decode(&n).unwrap();
    assert_eq!(nb.name(), b"FRED");
    assert_eq!(nb.suffix(), 0x20);
    assert_eq!(nb.text(), "FRED");
    assert_eq!(nb_wire("FRED", 0x20), wire);
    // 31 characters, or a character past 'P', is not an encoded name.
    let (n, _) = crate::dns::read_name(&[2, b'A', b'B', 0], 0).unwrap();
    assert!(NbName::decode(&n).is_none());
    let mut bad = wire.clone();
    bad[1] = b'Q';
    let (n, _) = crate::dns::read_name(&bad, 0).unwrap();
    assert!(NbName::decode(&n).is_none());
}

#[test]
fn a_broadcast_name_query() {
    // RFC 1002 §4.2.12: opcode 0, RD and B set.
    let mut p = header(0x8a01, 0x0110, [1, 0, 0, 0]);
    p.extend_from_slice(&nb_wire("WPAD", 0x00));
    p.extend_from_slice(&[0, 0x20, 0, 1]);
    assert_eq!(probe(&p, false), Probe::Match);
    assert_eq!(probe(&p, true), Probe::NoMatch);
    let m = Message::parse(&p).unwrap();
    assert!(m.flags.is_empty());
    assert_eq!(m.header.nb_opcode(), Opcode::QUERY);
    assert!(m.header.broadcast());
    assert!(m.header.recursion_desired());
    let q = m.question().unwrap();
    assert_eq!(q.qtype, rr_type::NB);
    let nb = NbName::decode(&q.name).unwrap();
    assert_eq!((nb.text().as_str(), nb.suffix()), ("WPAD", 0));
    assert!(check(&m).is_empty());
}

#[test]
fn a_registration_names_its_owner() {
    // RFC 1002 §4.2.2: the question and an additional record pointing to
    // it, with NB_FLAGS (B node, unique) and the owner's address.
    let mut p = header(0x8a02, 0x2910, [1, 0, 0, 1]);
    p.extend_from_slice(&nb_wire("KW-VLIPC", 0x20));
    p.extend_from_slice(&[0, 0x20, 0, 1]);
    p.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6]);
    p.extend_from_slice(&[0x00, 0x00, 192, 168, 1, 1]);
    let m = Message::parse(&p).unwrap();
    assert!(m.flags.is_empty());
    assert_eq!(m.header.nb_opcode(), Opcode::REGISTRATION);
    assert!(m.header.nb_opcode().is_registration());
    let (section, r) = records(&m).next().unwrap();
    assert_eq!(section, Section::Additional);
    let nb = NbName::decode(&r.name).unwrap();
    assert_eq!(nb.text(), "KW-VLIPC");
    assert_eq!(r.ttl, 300_000);
    let a: Vec<_> = nb_addresses(r.rdata).collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].address, std::net::Ipv4Addr::new(192, 168, 1, 1));
    assert!(!a[0].group);
    assert_eq!(a[0].node_type.name(), "b_node");
    assert_eq!(name_role(&nb, false), NameRole::Host);
    // A workgroup registers as a group name with suffix 0x00.
    let wg = NbName::decode(
        &crate::dns::read_name(&nb_wire("WORKGROUP", 0), 0)
            .unwrap()
            .0,
    )
    .unwrap();
    assert_eq!(name_role(&wg, true), NameRole::Domain);
    assert_eq!(name_role(&wg, false), NameRole::Host);
    let msgr =
        NbName::decode(&crate::dns::read_name(&nb_wire("OPERATOR", 3), 0).unwrap().0).unwrap();
    assert_eq!(name_role(&msgr, false), NameRole::Other);
    assert_eq!(suffix_name(0x1c), "domain_controllers");
}

#[test]
fn a_node_status_response_lists_the_name_table() {
    // RFC 1002 §4.2.18: NBSTAT answer for "*", two names and the unit id.
    let mut p = header(0x0001, 0x8400, [0, 1, 0, 0]);
    let mut star = [0u8; 16];
    star[0] = b'*';
    let mut wire = vec![32];
    for c in star {
        wire.push(b'A' + (c >> 4));
        wire.push(b'A' + (c & 15));
    }
    wire.push(0);
    p.extend_from_slice(&wire);
    let mut rdata = vec![2];
    let mut entry = |name: &str, suffix: u8, flags: u16| {
        let mut raw = [b' '; 16];
        raw[..name.len()].copy_from_slice(name.as_bytes());
        raw[15] = suffix;
        rdata.extend_from_slice(&raw);
        rdata.extend_from_slice(&flags.to_be_bytes());
    };
    entry("PLC-GW", 0x00, 0x0400);
    entry("PLANT", 0x00, 0x8400);
    rdata.extend_from_slice(&[0x00, 0x1c, 0x06, 0x0b, 0x26, 0xed]);
    rdata.extend_from_slice(&[0; 40]);
    p.extend_from_slice(&[0, 0x21, 0, 1, 0, 0, 0, 0]);
    p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    p.extend_from_slice(&rdata);
    let m = Message::parse(&p).unwrap();
    assert!(
        m.flags.is_empty(),
        "{:?}",
        m.flags.names().collect::<Vec<_>>()
    );
    assert!(check(&m).is_empty());
    let r = m.answers().next().unwrap();
    assert_eq!(r.rtype, rr_type::NBSTAT);
    let nb = NbName::decode(&r.name).unwrap();
    assert_eq!(nb.name(), b"*");
    assert_eq!(name_role(&nb, false), NameRole::Other);
    let st = NodeStatus::parse(r.rdata);
    assert!(!st.truncated);
    let names: Vec<_> = st.names().collect();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0].name.text(), "PLC-GW");
    assert!(names[0].active() && !names[0].group());
    assert!(names[1].group());
    assert_eq!(st.unit_id(), Some([0x00, 0x1c, 0x06, 0x0b, 0x26, 0xed]));
    // Cut inside the second name.
    let st = NodeStatus::parse(&r.rdata[..30]);
    assert!(st.truncated);
    assert_eq!(st.names().count(), 1);
    assert_eq!(st.unit_id(), None);
}

#[test]
fn findings() {
    let mut p = header(1, 0x8500, [0, 1, 0, 0]);
    p.extend_from_slice(&nb_wire("HOST", 0));
    p.extend_from_slice(&[0, 0x20, 0, 1, 0, 0, 0, 0, 0, 5, 0, 0, 10, 0, 0]);
    let m = Message::parse(&p).unwrap();
    assert_eq!(check(&m).names().collect::<Vec<_>>(), ["nb_length"]);
    let mut p = header(1, 0x0000, [1, 0, 0, 0]);
    p.extend_from_slice(&crate::dns::tests::wire_name("not.netbios"));
    p.extend_from_slice(&[0, 0x20, 0, 1]);
    let m = Message::parse(&p).unwrap();
    assert_eq!(check(&m).names().collect::<Vec<_>>(), ["bad_encoding"]);
    // Opcode 3 is not NetBIOS; the probe refuses it and more than one question.
    assert_eq!(
        probe(&header(1, 0x1800, [1, 0, 0, 0]), false),
        Probe::NoMatch
    );
    assert_eq!(
        probe(&header(1, 0x0000, [2, 0, 0, 0]), false),
        Probe::NoMatch
    );
    assert_eq!(probe(&[0; 11], false), Probe::NoMatch);
    assert_eq!(rr_type::name(RrType(0x21)), "NBSTAT");
}

proptest! {
    #[test]
    fn arbitrary_packets_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = probe(&b, false);
        if let Some(m) = Message::parse(&b) {
            let _ = check(&m);
            for q in m.questions() {
                if let Some(nb) = NbName::decode(&q.name) {
                    prop_assert!(nb.name().len() <= 15);
                    let _ = nb.text();
                }
            }
            for (_, r) in records(&m) {
                let _ = nb_addresses(r.rdata).count();
                let st = NodeStatus::parse(r.rdata);
                for n in st.names() {
                    let _ = name_role(&n.name, n.group());
                }
                let _ = st.unit_id();
            }
        }
        let _ = NodeStatus::parse(&b).names().count();
    }

    /// Every 16-octet name survives encoding and decoding.
    #[test]
    fn names_round_trip(raw in proptest::array::uniform16(any::<u8>())) {
        let mut wire = vec![32];
        for c in raw {
            wire.push(b'A' + (c >> 4));
            wire.push(b'A' + (c & 15));
        }
        wire.push(0);
        let (n, _) = crate::dns::read_name(&wire, 0).unwrap();
        prop_assert_eq!(NbName::decode(&n).unwrap().raw, raw);
    }
}
