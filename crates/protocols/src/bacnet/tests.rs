use proptest::prelude::*;

use super::services::{self, AccessList, AccessResult};
use super::tags::{self, Value};
use super::*;

/// Test vectors live for the whole test run.
fn hex(s: &str) -> &'static [u8] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.leak()
}

#[test]
fn i_am_broadcast() {
    // A device announcing itself (Original-Broadcast-NPDU, global broadcast DNET).
    let d = hex("810b00190120ffff000e1000c40200007b2205c49103220104");
    let m = Message::parse(d).unwrap();
    assert_eq!(m.bvlc.function, BvlcFunction::ORIGINAL_BROADCAST_NPDU);
    assert!(m.flags.is_empty());
    let n = m.npdu.unwrap();
    assert_eq!(n.destination, Some((0xffff, &[][..])));
    assert_eq!(n.hop_count, Some(0x0e));
    let a = m.apdu().unwrap();
    assert_eq!(a.pdu_type, PduType::UNCONFIRMED_REQUEST);
    assert_eq!(a.service, Some(0));
    let i = services::i_am(a.data).unwrap();
    assert_eq!(i.device, ObjectId::from_u32(0x0200_007b));
    assert_eq!(i.device.object_type, ObjectType::DEVICE);
    assert_eq!(i.device.instance, 123);
    assert_eq!(i.max_apdu, 1476);
    assert_eq!(i.segmentation, 3);
    assert_eq!(i.vendor_id, 260);
    assert!(!m.relayed());
}

#[test]
fn forwarded_npdu_names_the_original_source() {
    let d = hex("8104001fc0a80069bac00120ffff000e1000c40200007b2205c49103220104");
    let m = Message::parse(d).unwrap();
    assert_eq!(m.bvlc.function, BvlcFunction::FORWARDED_NPDU);
    assert_eq!(
        m.bvlc.original_source,
        Some(("192.168.0.105".parse().unwrap(), 47808))
    );
    assert!(m.relayed());
    assert_eq!(m.apdu().unwrap().service, Some(0));
}

#[test]
fn bvll_management() {
    let m = Message::parse(hex("81050006ea60")).unwrap();
    assert_eq!(m.bvlc.function, BvlcFunction::REGISTER_FOREIGN_DEVICE);
    assert_eq!(m.bvlc.ttl, Some(60000));
    assert_eq!(m.body, Body::Bvll);
    let r = Message::parse(hex("810000060030")).unwrap();
    assert_eq!(r.bvlc.result, Some(BvlcResultCode(0x30)));
    assert_eq!(r.bvlc.result.unwrap().name(), "register_foreign_device_nak");
    // A Read-BDT-Ack with one entry, and one cut short.
    let t = Message::parse(hex("8103000ec0a80001bac0ffffff00")).unwrap();
    assert_eq!(t.bvlc.entries.len(), 10);
    assert!(t.flags.is_empty());
    let t = Message::parse(hex("8103000dc0a80001bac0ffffff")).unwrap();
    assert!(t.flags.has(Flags::MALFORMED_TABLE));
}

#[test]
fn read_property_of_the_device_vendor_name() {
    let req = hex("810a001101040005010c0c023fffff1979");
    let m = Message::parse(req).unwrap();
    let a = m.apdu().unwrap();
    assert_eq!(a.pdu_type, PduType::CONFIRMED_REQUEST);
    assert_eq!(a.invoke_id, Some(1));
    assert_eq!(a.max_apdu.and_then(max_apdu_octets), Some(1476));
    assert_eq!(a.service, Some(ConfirmedService::READ_PROPERTY.0));
    let r = services::property_ref(a.data).unwrap();
    assert_eq!(r.object.instance, ObjectId::WILDCARD_INSTANCE);
    assert_eq!(r.property, PropertyId::VENDOR_NAME);
    assert_eq!(r.value, None);

    let ack = hex("810a001b010030010c0c023fffff19793e750704004a004300493f");
    let m = Message::parse(ack).unwrap();
    let a = m.apdu().unwrap();
    assert_eq!(a.pdu_type, PduType::COMPLEX_ACK);
    let r = services::property_ref(a.data).unwrap();
    let v = tags::app_values(r.value.unwrap()).next().unwrap();
    assert_eq!(
        v,
        Value::CharacterString {
            charset: 4,
            bytes: hex("004a00430049")
        }
    );
    assert_eq!(v.text().unwrap(), "JCI");
}

#[test]
fn error_reject_abort() {
    // Error of ReinitializeDevice from a device behind a router (SNET 13).
    let m = Message::parse(hex("810a00110108000d013d5001149105911a")).unwrap();
    let n = m.npdu.unwrap();
    assert_eq!(n.source, Some((13, &[0x3d][..])));
    assert!(m.relayed());
    let a = m.apdu().unwrap();
    assert_eq!(a.pdu_type, PduType::ERROR);
    assert_eq!(a.service, Some(20));
    assert_eq!(services::error(a.data), Some((5, 26)));
    assert_eq!(error_code_name(26), "password_failure");
    let m = Message::parse(hex("810a000e0120000d013dff603a09")).unwrap();
    let a = m.apdu().unwrap();
    assert_eq!(
        (a.pdu_type, a.invoke_id, a.reason),
        (PduType::REJECT, Some(0x3a), Some(9))
    );
    assert_eq!(reject_reason_name(9), "unrecognized_service");
    let m = Message::parse(hex("810b00090100710100")).unwrap();
    let a = m.apdu().unwrap();
    assert_eq!(a.pdu_type, PduType::ABORT);
    assert!(a.from_server());
    assert!(a.is_reply());
}

#[test]
fn device_communication_control_keeps_no_password() {
    let m = Message::parse(hex(
        "810a001c0124000d013dff0003011119002d090066696c6973746572",
    ))
    .unwrap();
    let n = m.npdu.unwrap();
    assert_eq!(n.destination, Some((13, &[0x3d][..])));
    assert!(n.expecting_reply());
    let a = m.apdu().unwrap();
    let c = services::communication_control(a.data).unwrap();
    assert_eq!(c.duration, None);
    assert_eq!(enable_disable_name(c.enable_disable as u32), "enable");
    assert!(c.password);
    let r = services::reinitialize(hex("0900")).unwrap();
    assert_eq!((r.state, r.password), (0, false));
}

#[test]
fn read_and_write_property_multiple() {
    let m = Message::parse(hex("810a001901040005010e0c020000651e09790946091c094c1f")).unwrap();
    let a = m.apdu().unwrap();
    let props: Vec<u32> = services::access_items(a.data, AccessList::ReadRequest)
        .map(|i| {
            assert_eq!(i.object.instance, 101);
            i.property.0
        })
        .collect();
    assert_eq!(props, [121, 70, 28, 76]);

    let w = hex("0c010000001e09552e44000000002f39051f0c010000011e09552e44000000002f39051f");
    let items: Vec<_> = services::access_items(w, AccessList::WriteRequest).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].object.instance, 1);
    assert_eq!(items[1].priority, Some(5));
    let AccessResult::Value(v) = items[0].result else {
        panic!()
    };
    assert_eq!(tags::app_values(v).next(), Some(Value::Real(0.0)));

    // An ack with a value (vendor-name "ABC") and an error (model-name).
    let ack = hex("0c020000651e29794e74004142434f29465e910291205f1f");
    let mut it = services::access_items(ack, AccessList::ReadAck);
    let first = it.next().unwrap();
    let AccessResult::Value(v) = first.result else {
        panic!()
    };
    assert_eq!(tags::app_values(v).next().unwrap().text().unwrap(), "ABC");
    assert_eq!(it.next().unwrap().result, AccessResult::Error(2, 32));
    assert_eq!(it.next(), None);
    assert!(!it.malformed());
}

#[test]
fn segmented_complex_ack_and_segment_ack() {
    let m = Message::parse(hex("810a000a0100405e0003")).unwrap();
    let a = m.apdu().unwrap();
    assert_eq!(a.pdu_type, PduType::SEGMENT_ACK);
    assert_eq!(
        (a.invoke_id, a.sequence_number, a.window_size),
        (Some(0x5e), Some(0), Some(3))
    );
    assert!(!a.from_server() && !a.negative());
    let m = Message::parse(hex("810a000f01043c5e01030c02c000de")).unwrap();
    let a = m.apdu().unwrap();
    assert!(a.segmented() && a.more_follows());
    assert_eq!((a.sequence_number, a.service), (Some(1), Some(12)));
    assert_eq!(a.data, hex("02c000de"));
}

#[test]
fn npdu_version_and_missing_apdu_are_flagged() {
    // NPDU version 0x10: Wireshark still reads the APDU; so do we, flagged.
    let m = Message::parse(hex("810a000b10072c0200003d")).unwrap();
    assert!(m.flags.has(Flags::NPDU_VERSION));
    assert_eq!(m.apdu().unwrap().pdu_type, PduType::SIMPLE_ACK);
    // An NPDU with no APDU after it.
    let m = Message::parse(hex("810a000b0120000d013dff")).unwrap();
    assert_eq!(m.body, Body::Truncated);
    assert!(m.flags.has(Flags::TRUNCATED));
    // A length field past the datagram.
    let m = Message::parse(hex("810a00ff01001008")).unwrap();
    assert!(m.flags.has(Flags::BVLC_LENGTH_MISMATCH));
    assert_eq!(m.apdu().unwrap().service, Some(8));
    assert_eq!(Message::parse(hex("8204")), Err(BvlcError::Incomplete));
    assert_eq!(Message::parse(hex("82040004")), Err(BvlcError::Type(0x82)));
}

#[test]
fn network_layer_message() {
    // Who-Is-Router-To-Network, broadcast.
    let m = Message::parse(hex("810b000801800000")).unwrap();
    let n = m.npdu.unwrap();
    assert_eq!(n.message_type, Some(NetworkMessageType(0)));
    assert_eq!(n.message_type.unwrap().name(), "who_is_router_to_network");
    assert_eq!(m.body, Body::Network(&[0][..]));
}

#[test]
fn who_is_who_has_i_have() {
    assert_eq!(
        services::who_is(hex("093d193d")),
        Some(services::WhoIs {
            low: Some(61),
            high: Some(61)
        })
    );
    assert_eq!(services::who_is(&[]), Some(services::WhoIs::default()));
    assert_eq!(services::who_is(hex("093d")), None);
    let h = services::who_has(hex("2c0200003d")).unwrap();
    assert_eq!(h.object.unwrap().instance, 61);
    let h = services::who_has(hex("3c00414243")).unwrap();
    assert_eq!(h.name.unwrap().text().unwrap(), "ABC");
    let i = services::i_have(hex("c40200003dc40200003d73004142")).unwrap();
    assert_eq!(i.device.instance, 61);
    assert_eq!(i.name.text().unwrap(), "AB");
}

#[test]
fn tags_and_values() {
    // Extended length (5 + 254 + 2 octets) and extended tag numbers.
    let mut b = vec![0x75, 254, 0x01, 0x00, 0x00];
    b.extend(std::iter::repeat_n(b'x', 255));
    let mut c = crate::cursor::Cursor::new(&b);
    let t = tags::read_tag(&mut c).unwrap();
    assert_eq!(t.value().unwrap().text().unwrap().len(), 255);
    let mut c = crate::cursor::Cursor::new(&[0xf9, 0x20, 0x07]);
    let t = tags::read_tag(&mut c).unwrap();
    assert_eq!((t.number, t.class), (0x20, tags::Class::Context));
    assert_eq!(t.unsigned(), Some(7));
    assert_eq!(tags::signed(&[0xff, 0x38]), Some(-200));
    assert_eq!(tags::decode_text(5, &[0x41, 0xe9]).unwrap(), "Aé");
    assert_eq!(tags::decode_text(2, b"x"), None);
    // Booleans carry their value in the tag octet.
    let mut c = crate::cursor::Cursor::new(&[0x11]);
    assert_eq!(
        tags::read_tag(&mut c).unwrap().value(),
        Some(Value::Boolean(true))
    );
}

#[test]
fn file_access_and_objects() {
    // AtomicReadFile stream access of file 0 from 0, 1024 octets.
    let f = services::file_access(
        ConfirmedService::ATOMIC_READ_FILE,
        hex("c4028000000e31002204000f"),
    )
    .unwrap();
    assert!(f.stream);
    assert_eq!((f.file.instance, f.start, f.count), (0, 0, 1024));
    assert_eq!(
        services::request_object(ConfirmedService::DELETE_OBJECT, hex("c400000001"))
            .unwrap()
            .instance,
        1
    );
    let o = services::request_object(ConfirmedService::CREATE_OBJECT, hex("0e09000f")).unwrap();
    assert_eq!(o.object_type.name(), "analog_input");
    assert_eq!(o.instance, ObjectId::WILDCARD_INSTANCE);
}

#[test]
fn probe_is_strict_off_port() {
    let d = hex("810b00190120ffff000e1000c40200007b2205c49103220104");
    assert_eq!(probe(d, true), Probe::Match);
    assert_eq!(probe(&d[..10], true), Probe::NoMatch);
    assert_eq!(probe(&d[..10], false), Probe::Match);
    assert_eq!(probe(&[0x81], false), Probe::NeedMore);
    assert_eq!(probe(&[0x45, 0, 0, 4], false), Probe::NoMatch);
    assert_eq!(probe(hex("810b00060200"), true), Probe::NoMatch);
}

#[test]
fn names() {
    assert_eq!(ConfirmedService(14).name(), "read_property_multiple");
    assert_eq!(
        ConfirmedService(20).operation(),
        plantshield_events::Operation::ModeChange
    );
    assert_eq!(UnconfirmedService(8).name(), "who_is");
    assert_eq!(UnconfirmedService(13).name(), "who_am_i");
    assert_eq!(
        UnconfirmedService(0).operation(),
        plantshield_events::Operation::Discovery
    );
    assert_eq!(ObjectType(8).name(), "device");
    assert_eq!(ObjectType(200).name(), "proprietary");
    assert_eq!(PropertyId(372).name(), "serial_number");
    assert_eq!(BvlcFunction(0x0b).name(), "original_broadcast_npdu");
}

proptest! {
    #[test]
    fn arbitrary_datagrams_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = probe(&b, true);
        let _ = probe(&b, false);
        if let Ok(m) = Message::parse(&b) {
            if let Some(a) = m.apdu() {
                let _ = services::i_am(a.data);
                let _ = services::who_is(a.data);
                let _ = services::who_has(a.data);
                let _ = services::i_have(a.data);
                let _ = services::property_ref(a.data);
                let _ = services::error(a.data);
                let _ = services::reinitialize(a.data);
                let _ = services::communication_control(a.data);
                let _ = services::time_sync(a.data);
                let _ = services::notification_device(a.data);
                for s in 0..=40u8 {
                    let _ = services::request_object(ConfirmedService(s), a.data);
                    let _ = services::file_access(ConfirmedService(s), a.data);
                }
                for l in [AccessList::ReadRequest, AccessList::ReadAck, AccessList::WriteRequest] {
                    for _ in services::access_items(a.data, l) {}
                }
                for v in tags::app_values(a.data) {
                    let _ = v.text();
                }
            }
        }
    }

    #[test]
    fn arbitrary_service_data_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        for l in [AccessList::ReadRequest, AccessList::ReadAck, AccessList::WriteRequest] {
            let n = services::access_items(&b, l).count();
            prop_assert!(n <= b.len());
        }
        let _ = services::property_ref(&b);
        let mut c = crate::cursor::Cursor::new(&b);
        let _ = tags::enclosed(&mut c, 3);
        for v in tags::app_values(&b) {
            let _ = v.text();
        }
    }
}
