//! Messages laid out as RFC 2131 §2 and RFC 2132 describe them: a Windows
//! client's DISCOVER, a server's ACK, option overload, and broken options.

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;

/// A BOOTP header with `chaddr` = 00:1c:06:0b:26:ed.
pub(crate) fn bootp(op: u8, xid: u32, ciaddr: [u8; 4], yiaddr: [u8; 4]) -> Vec<u8> {
    let mut v = vec![op, 1, 6, 0];
    v.extend_from_slice(&xid.to_be_bytes());
    v.extend_from_slice(&[0, 3, 0x80, 0]);
    v.extend_from_slice(&ciaddr);
    v.extend_from_slice(&yiaddr);
    v.extend_from_slice(&[0; 8]);
    let mut ch = [0u8; 16];
    ch[..6].copy_from_slice(&[0x00, 0x1c, 0x06, 0x0b, 0x26, 0xed]);
    v.extend_from_slice(&ch);
    v.extend_from_slice(&[0; 192]);
    assert_eq!(v.len(), HEADER_LEN);
    v
}

pub(crate) fn opt(v: &mut Vec<u8>, code: u8, value: &[u8]) {
    v.push(code);
    v.push(value.len() as u8);
    v.extend_from_slice(value);
}

fn windows_discover() -> Vec<u8> {
    let mut d = bootp(1, 0x12c1249f, [0; 4], [0; 4]);
    d.extend_from_slice(&MAGIC_COOKIE);
    opt(&mut d, 53, &[1]);
    opt(&mut d, 61, &[1, 0x00, 0x1c, 0x06, 0x0b, 0x26, 0xed]);
    opt(&mut d, 12, b"LT-US-DSWANSON");
    opt(&mut d, 60, b"MSFT 5.0");
    opt(&mut d, 55, &[1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43]);
    let mut fqdn = vec![0x00, 0, 0];
    fqdn.extend_from_slice(b"LT-US-DSWANSON.corp.example");
    opt(&mut d, 81, &fqdn);
    d.push(0);
    d.push(255);
    d.extend_from_slice(&[0; 12]);
    d
}

#[test]
fn a_windows_discover() {
    let d = windows_discover();
    assert_eq!(probe(&d, false), Probe::Match);
    assert_eq!(probe(&d, true), Probe::NoMatch);
    let m = Message::parse(&d).unwrap();
    assert_eq!(m.op, Op::REQUEST);
    assert_eq!(m.xid, 0x12c1249f);
    assert_eq!(m.secs, 3);
    assert!(m.broadcast());
    assert_eq!(m.client_mac(), Some([0x00, 0x1c, 0x06, 0x0b, 0x26, 0xed]));
    assert_eq!(m.client_hardware().len(), 6);
    assert_eq!(m.message_type(), Some(MessageType::DISCOVER));
    assert_eq!(m.message_type().unwrap().name(), "discover");
    assert_eq!(m.option(option::HOST_NAME), Some(&b"LT-US-DSWANSON"[..]));
    assert_eq!(m.option(option::VENDOR_CLASS), Some(&b"MSFT 5.0"[..]));
    let prl = m.option(option::PARAMETER_REQUEST_LIST).unwrap();
    assert_eq!(fingerprint(prl), "1,15,3,6,44,46,47,31,33,121,249,43");
    assert_eq!(
        m.client_fqdn(),
        Some((0, "LT-US-DSWANSON.corp.example".to_string()))
    );
    assert_eq!(m.options().count(), 6);
    assert!(
        m.flags().is_empty(),
        "{:?}",
        m.flags().names().collect::<Vec<_>>()
    );
}

#[test]
fn a_server_ack() {
    let mut a = bootp(2, 7, [0; 4], [192, 168, 1, 50]);
    a.extend_from_slice(&MAGIC_COOKIE);
    opt(&mut a, 53, &[5]);
    opt(&mut a, 54, &[192, 168, 1, 1]);
    opt(&mut a, 51, &86400u32.to_be_bytes());
    opt(&mut a, 1, &[255, 255, 255, 0]);
    opt(&mut a, 3, &[192, 168, 1, 1]);
    opt(&mut a, 6, &[192, 168, 1, 1, 8, 8, 8, 8]);
    // RFC 4702 §2 with the E bit: the name in DNS wire format.
    opt(
        &mut a,
        81,
        &[
            0x04, 255, 255, 3, b'p', b'l', b'c', 4, b'c', b'o', b'r', b'p', 0,
        ],
    );
    a.push(255);
    let m = Message::parse(&a).unwrap();
    assert_eq!(m.op.name(), "reply");
    assert_eq!(m.message_type(), Some(MessageType::ACK));
    assert_eq!(m.yiaddr, Ipv4Addr::new(192, 168, 1, 50));
    assert_eq!(
        m.address_option(option::SERVER_ID),
        Some(Ipv4Addr::new(192, 168, 1, 1))
    );
    assert_eq!(m.u32_option(option::LEASE_TIME), Some(86400));
    assert_eq!(m.client_fqdn(), Some((4, "plc.corp".to_string())));
    assert!(m.flags().is_empty());
}

#[test]
fn option_overload_continues_in_file_and_sname() {
    let mut d = bootp(1, 1, [0; 4], [0; 4]);
    // file (offset 108) holds the host name, sname (offset 44) the vendor class.
    let file = 108;
    d[file..file + 6].copy_from_slice(&[12, 3, b'r', b't', b'u', 255]);
    let sname = 44;
    d[sname..sname + 7].copy_from_slice(&[60, 4, b'u', b'd', b'h', b'c', 255]);
    d.extend_from_slice(&MAGIC_COOKIE);
    opt(&mut d, 53, &[3]);
    opt(&mut d, 52, &[3]);
    d.push(255);
    let m = Message::parse(&d).unwrap();
    let codes: Vec<u8> = m.options().map(|o| o.code).collect();
    assert_eq!(codes, [53, 52, 12, 60]);
    assert_eq!(m.option(option::HOST_NAME), Some(&b"rtu"[..]));
    assert!(m.flags().is_empty());
}

#[test]
fn broken_options_are_flagged() {
    // An option running past the end, no end option.
    let mut d = bootp(1, 1, [0; 4], [0; 4]);
    d.extend_from_slice(&MAGIC_COOKIE);
    opt(&mut d, 53, &[1]);
    d.extend_from_slice(&[12, 40, b'x']);
    let m = Message::parse(&d).unwrap();
    assert_eq!(m.options().count(), 1);
    assert_eq!(m.flags().names().collect::<Vec<_>>(), ["option_overrun"]);
    // No end, a message type of two octets, an ACK in a BOOTREQUEST.
    let mut d = bootp(1, 1, [0; 4], [0; 4]);
    d.extend_from_slice(&MAGIC_COOKIE);
    opt(&mut d, 53, &[5, 0]);
    let m = Message::parse(&d).unwrap();
    assert_eq!(m.message_type(), None);
    assert_eq!(
        m.flags().names().collect::<Vec<_>>(),
        ["missing_end", "bad_option_length"]
    );
    let mut d = bootp(1, 1, [0; 4], [0; 4]);
    d.extend_from_slice(&MAGIC_COOKIE);
    opt(&mut d, 53, &[5]);
    d.push(255);
    assert_eq!(
        Message::parse(&d)
            .unwrap()
            .flags()
            .names()
            .collect::<Vec<_>>(),
        ["op_mismatch"]
    );
    // Plain BOOTP: no cookie, no options, nothing wrong.
    let b = bootp(1, 1, [0; 4], [0; 4]);
    let m = Message::parse(&b).unwrap();
    assert!(m.options_area.is_none());
    assert!(m.flags().is_empty());
    assert!(Message::parse(&b[..235]).is_none());
    assert_eq!(probe(&b[..235], false), Probe::NoMatch);
    let mut weird = b.clone();
    weird[0] = 3;
    assert_eq!(probe(&weird, false), Probe::NoMatch);
}

proptest! {
    #[test]
    fn arbitrary_messages_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400), head in proptest::collection::vec(any::<u8>(), 236)) {
        let mut b = head.clone();
        if tail.first().is_some_and(|t| t & 1 == 1) {
            b.extend_from_slice(&MAGIC_COOKIE);
        }
        b.extend_from_slice(&tail);
        let _ = probe(&b, false);
        let m = Message::parse(&b).unwrap();
        let _ = m.flags();
        prop_assert!(m.options().count() <= MAX_OPTIONS);
        let _ = m.client_fqdn();
        let _ = m.message_type();
        let _ = m.client_mac();
        prop_assert!(m.client_hardware().len() <= 16);
        let _ = Message::parse(&tail);
    }
}
