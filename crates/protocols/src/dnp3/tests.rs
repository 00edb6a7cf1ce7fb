//! Frames recorded from real devices (the shared corpus) and crafted
//! frames, decoded layer by layer.

use proptest::prelude::*;

use super::link::{build_frame, MAX_USER_DATA};
use super::objects::{object_size, ObjectSize, Prefix, RangeKind};
use super::*;
use plantshield_events::Operation;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Link header, transport header and application fragment of one frame
/// holding a whole fragment.
fn decode(frame: &[u8]) -> (LinkHeader, TransportHeader, Vec<u8>) {
    let (f, len) = Frame::parse(frame).unwrap();
    assert_eq!(len, frame.len());
    let mut buf = [0u8; MAX_USER_DATA];
    let n = f.user_data(&mut buf).unwrap();
    assert!(n >= 1);
    (f.header, TransportHeader(buf[0]), buf[1..n].to_vec())
}

fn headers(frag: &Fragment<'_>) -> Vec<(u8, u8, u8, Range)> {
    frag.headers()
        .map(|h| {
            let h = h.unwrap();
            (h.group, h.variation, h.qualifier.0, h.range)
        })
        .collect()
}

#[test]
fn crc_check_value() {
    // The catalogued check value of CRC-16/DNP.
    assert_eq!(crc::crc(b"123456789"), 0xEA82);
    assert_eq!(crc::crc(&[]), 0xFFFF);
}

#[test]
fn select_request_and_response() {
    // select_operate_and_responses.pcap, frames 4 and 6.
    let (l, t, a) = decode(&hex(
        "05641ac40a0001008a1cc0c0030c012801000000030164000000fd6b6400000000005b",
    ));
    assert_eq!(
        l,
        LinkHeader {
            length: 26,
            control: LinkControl(0xc4),
            destination: 10,
            source: 1
        }
    );
    assert!(l.control.dir() && l.control.prm() && !l.control.fcv());
    assert_eq!(l.control.function(), LinkFunction::UNCONFIRMED_USER_DATA);
    assert_eq!(l.control.function().name(), "unconfirmed_user_data");
    assert!(t.fir() && t.fin());
    assert_eq!(t.seq(), 0);
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::SELECT);
    assert!(frag.control.fir() && frag.control.fin() && !frag.control.con());
    assert_eq!(frag.control.seq(), 0);
    assert_eq!(frag.iin, None);
    assert_eq!(headers(&frag), vec![(12, 1, 0x28, Range::Count(1))]);
    let m = Message::new(l, 1, &frag);
    assert_eq!(m.error, None);
    let [ControlPoint::Crob(c)] = m.controls() else {
        panic!("{:?}", m.controls())
    };
    assert_eq!(
        (c.index, c.code.op_type_name(), c.code.tcc_name(), c.count),
        (0, "latch_on", "nul", 1)
    );
    assert_eq!(
        (c.on_time, c.off_time, c.status.name()),
        (100, 100, "success")
    );
    assert_eq!(FunctionCode::SELECT.operation(m.kinds), Operation::Command);

    let (l, _, a) = decode(&hex(
        "05641c4401000a007636c6c08100000c01280100000003016400c39600006400000000005b",
    ));
    assert!(!l.control.dir() && l.control.prm());
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::RESPONSE);
    assert_eq!(frag.iin, Some(Iin(0)));
    let m = Message::new(l, 1, &frag);
    assert_eq!(m.controls().len(), 1);
    assert_eq!(m.rejected_control(), None);
}

#[test]
fn write_iin_and_multi_object_response() {
    // full_exchange.pcap: frame 10 writes IIN1.7 (device restart) to 0.
    let (_, _, a) = decode(&hex("05640ec40a0001002529c2c102500100070700c5af"));
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::WRITE);
    assert_eq!(
        headers(&frag),
        vec![(80, 1, 0x00, Range::StartStop { start: 7, stop: 7 })]
    );
    let m = Message::new(
        LinkHeader::parse(&hex("05640ec40a0001002529")).unwrap(),
        1,
        &frag,
    );
    assert_eq!(
        FunctionCode::WRITE.operation(m.kinds),
        Operation::Configuration
    );
    // Frame 4: an unsolicited null response announcing a restart (IIN1.7).
    let (_, _, a) = decode(&hex("05640a4401000a006e25c0f08280006b7d"));
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::UNSOLICITED_RESPONSE);
    assert!(frag.control.uns() && frag.control.con());
    assert_eq!(
        frag.iin.unwrap().names().collect::<Vec<_>>(),
        vec!["device_restart"]
    );
}

#[test]
fn class_poll_spans_link_blocks() {
    // full_exchange.pcap frame 13: read of classes 1, 2, 3 and 0.
    let (_, t, a) = decode(&hex(
        "056414c40a0001008fedc3c2013c02063c03063c04063c0106429e",
    ));
    assert_eq!(t.seq(), 3);
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(
        headers(&frag),
        vec![
            (60, 2, 6, Range::All),
            (60, 3, 6, Range::All),
            (60, 4, 6, Range::All),
            (60, 1, 6, Range::All)
        ]
    );
}

#[test]
fn file_objects_are_free_format() {
    // file_read.pcap frame 1: open file (group 70 variation 3, qualifier 0x5B).
    let (_, _, a) = decode(&hex("056436c404000300f2c0e0c11946035b0128001a000e00000000b91c0000000000000000000000000001000047e60404002e2f7465737466696c652e7478ea02741dee"));
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::OPEN_FILE);
    assert_eq!(headers(&frag), vec![(70, 3, 0x5b, Range::Count(1))]);
    // Frame 3: a read of group 70 variation 5 carries its object.
    let (_, _, a) = decode(&hex(
        "056416c4040003007031e1c20146055b010800785634120000009c1f00ffff",
    ));
    let frag = Fragment::parse(&a).unwrap();
    let h: Vec<_> = frag.headers().map(Result::unwrap).collect();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].data.len(), 10);
    assert_eq!(
        FunctionCode::OPEN_FILE.operation(ObjectKinds::default()),
        Operation::File
    );
}

#[test]
fn authentication_challenge() {
    // auth_control_challenge_response.pcap frame 2: the outstation's
    // challenge (group 120 variation 1) to a direct operate.
    let (_, _, a) = decode(&hex(
        "05641c440300040064bdc7c683900078015b010c0003000000009287000401737465768d5c",
    ));
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::AUTHENTICATE_RESPONSE);
    assert_eq!(headers(&frag), vec![(120, 1, 0x5b, Range::Count(1))]);
    assert_eq!(
        frag.iin.unwrap().names().collect::<Vec<_>>(),
        vec!["need_time", "device_restart"]
    );
}

#[test]
fn cold_restart_response_has_time_delay() {
    let (_, _, a) = decode(&hex("056408c40a000100fc42c0c00d9c86"));
    let frag = Fragment::parse(&a).unwrap();
    assert_eq!(frag.function, FunctionCode::COLD_RESTART);
    assert_eq!(frag.objects, &[] as &[u8]);
    assert_eq!(
        frag.function.operation(ObjectKinds::default()),
        Operation::ModeChange
    );
}

#[test]
fn truncated_crob_is_an_error_after_the_header() {
    // direct_operate_crob_malform_but_good_crc.pcap: two CROBs announced,
    // one present. The CRCs are right; the objects are not.
    let (_, _, a) = decode(&hex(
        "05641ac404000300c2e6e2ca050c01280200010002016400000057ab6400000000005b",
    ));
    let frag = Fragment::parse(&a).unwrap();
    let mut h = frag.headers();
    // The header is sound and reported with the data that are there...
    let first = h.next().unwrap().unwrap();
    assert_eq!(
        (first.group, first.variation, first.range),
        (12, 1, Range::Count(2))
    );
    assert!(first.truncated);
    assert_eq!(first.objects().count(), 1);
    // ...then the walk ends.
    assert_eq!(
        h.next(),
        Some(Err(ObjectError::TruncatedData {
            group: 12,
            variation: 1
        }))
    );
    assert_eq!(h.next(), None);
    let m = Message::new(
        LinkHeader::parse(&hex("05641ac404000300c2e6")).unwrap(),
        1,
        &frag,
    );
    assert_eq!(
        m.error.map(ObjectError::code),
        Some("object_data_truncated")
    );
    assert_eq!(m.headers_total, 1);
    // The one whole block is decoded: pulse off on point 1, 100 ms.
    let [ControlPoint::Crob(c)] = m.controls() else {
        panic!("{:?}", m.controls())
    };
    assert_eq!(
        (c.index, c.code.op_type_name(), c.on_time),
        (1, "pulse_off", 100)
    );
}

#[test]
fn link_errors() {
    let good = hex("05641ac40a0001008a1cc0c0030c012801000000030164000000fd6b6400000000005b");
    assert!(Frame::parse(&good).is_ok());
    // Header CRC.
    let mut b = good.clone();
    b[4] ^= 1;
    assert_eq!(Frame::parse(&b).unwrap_err(), LinkError::HeaderCrc);
    // Block CRC: the frame is delimited but its data are refused.
    let mut b = good.clone();
    b[12] ^= 0x40;
    let (f, _) = Frame::parse(&b).unwrap();
    let mut buf = [0u8; MAX_USER_DATA];
    assert_eq!(f.user_data(&mut buf), Err(LinkError::BlockCrc(0)));
    let mut b = good.clone();
    let last = b.len() - 3;
    b[last] ^= 1;
    let (f, _) = Frame::parse(&b).unwrap();
    assert_eq!(f.user_data(&mut buf), Err(LinkError::BlockCrc(1)));
    // Incomplete, start octets, length.
    assert_eq!(
        Frame::parse(&good[..20]).unwrap_err(),
        LinkError::Incomplete
    );
    assert_eq!(Frame::parse(&good[..5]).unwrap_err(), LinkError::Incomplete);
    assert_eq!(
        Frame::parse(&[0x05, 0x65]).unwrap_err(),
        LinkError::StartOctets
    );
    let mut short = build_frame(LinkControl(0xc9), 1, 2, &[]);
    short[2] = 4;
    let c = crc::crc(&short[..8]).to_le_bytes();
    short[8..10].copy_from_slice(&c);
    assert_eq!(Frame::parse(&short).unwrap_err(), LinkError::Length(4));
}

#[test]
fn build_and_parse_round_trip() {
    for n in [0usize, 1, 15, 16, 17, 32, 33, 249, 250] {
        let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let f = build_frame(LinkControl(0x44), 0x1234, 0xfffd, &data);
        let (frame, len) = Frame::parse(&f).unwrap();
        assert_eq!(len, f.len());
        assert_eq!(frame.header.destination, 0x1234);
        assert!(!link::is_broadcast(frame.header.destination));
        assert!(link::is_broadcast(frame.header.source));
        let mut buf = [0u8; MAX_USER_DATA];
        let got = frame.user_data(&mut buf).unwrap();
        assert_eq!(&buf[..got], &data[..]);
    }
    assert_eq!(link::MAX_FRAME_LEN, 292);
}

#[test]
fn link_service_functions() {
    // dnp3_udp_read.pcap: request link status and its answer.
    let f = build_frame(LinkControl(0x49), 100, 1, &[]);
    let h = LinkHeader::parse(&f).unwrap();
    assert_eq!(h.control.function(), LinkFunction::REQUEST_LINK_STATUS);
    assert_eq!(h.control.function().name(), "request_link_status");
    assert_eq!(LinkControl(0x0b).function().name(), "link_status");
    assert_eq!(LinkControl(0x00).function().name(), "ack");
    assert_eq!(LinkControl(0x01).function().name(), "nack");
    assert_eq!(LinkControl(0x0f).function().name(), "not_supported");
    assert_eq!(LinkControl(0x40).function().name(), "reset_link_states");
    assert_eq!(LinkControl(0x42).function().name(), "test_link_states");
    assert_eq!(LinkControl(0x73).function().name(), "confirmed_user_data");
    assert!(LinkControl(0x73).fcv() && LinkControl(0x73).fcb());
    assert_eq!(LinkControl(0x45).function().name(), "reserved");
    assert!(LinkControl(0x10).dfc());
}

#[test]
fn every_function_code_is_named() {
    for fc in 0..=255u8 {
        let f = FunctionCode(fc);
        let named = f.name() != "reserved";
        assert_eq!(named, f.is_defined(), "{fc}");
    }
    let ops: Vec<(u8, Operation)> = [
        (0, Operation::Other),
        (1, Operation::Read),
        (7, Operation::Command),
        (12, Operation::Command),
        (13, Operation::ModeChange),
        (18, Operation::ModeChange),
        (19, Operation::Configuration),
        (20, Operation::Configuration),
        (22, Operation::Configuration),
        (23, Operation::Diagnostics),
        (24, Operation::Configuration),
        (25, Operation::File),
        (30, Operation::File),
        (31, Operation::Configuration),
        (32, Operation::Session),
        (33, Operation::Session),
        (129, Operation::Other),
        (130, Operation::Read),
        (131, Operation::Session),
        (200, Operation::Other),
    ]
    .to_vec();
    for (fc, op) in ops {
        assert_eq!(
            FunctionCode(fc).operation(ObjectKinds::default()),
            op,
            "{fc}"
        );
    }
    let mut crob = ObjectKinds::default();
    crob.add(12);
    let mut ao = ObjectKinds::default();
    ao.add(41);
    let mut bo = ObjectKinds::default();
    bo.add(10);
    for fc in 3..=6 {
        assert_eq!(FunctionCode(fc).operation(crob), Operation::Command);
        assert_eq!(FunctionCode(fc).operation(ao), Operation::Command);
        assert_eq!(FunctionCode(fc).operation(bo), Operation::Write);
    }
    let mut time = ObjectKinds::default();
    time.add(50);
    assert_eq!(
        FunctionCode::WRITE.operation(time),
        Operation::Configuration
    );
    time.add(110);
    assert_eq!(FunctionCode::WRITE.operation(time), Operation::Write);
    assert!(FunctionCode::READ.expects_response());
    assert!(!FunctionCode::DIRECT_OPERATE_NO_ACK.expects_response());
    assert!(!FunctionCode::CONFIRM.expects_response());
    assert!(!FunctionCode::RESPONSE.expects_response());
}

#[test]
fn qualifiers() {
    assert_eq!(Qualifier(0x28).prefix(), Some(Prefix::Index(2)));
    assert_eq!(Qualifier(0x28).range(), Some(RangeKind::Count(2)));
    assert_eq!(Qualifier(0x5b).prefix(), Some(Prefix::Size(2)));
    assert_eq!(Qualifier(0x5b).range(), Some(RangeKind::VariableCount));
    assert_eq!(Qualifier(0x06).range(), Some(RangeKind::All));
    assert_eq!(Qualifier(0x01).range(), Some(RangeKind::StartStop(2)));
    assert_eq!(Qualifier(0x0a).range(), None);
    assert_eq!(Qualifier(0x70).prefix(), None);
}

/// Objects of one header, crafted.
fn one(function: u8, objects: &[u8]) -> Vec<Result<(u8, u8, usize), ObjectError>> {
    Headers::new(objects, FunctionCode(function))
        .map(|h| h.map(|h| (h.group, h.variation, h.data.len())))
        .collect()
}

#[test]
fn object_sizes() {
    // Ten packed binary inputs take two octets; a 16-bit analog with flag three.
    assert_eq!(
        one(
            129,
            &[1, 1, 0, 0, 9, 0xff, 0x03, 30, 2, 0, 5, 5, 1, 0x34, 0x12]
        ),
        vec![Ok((1, 1, 2)), Ok((30, 2, 3))]
    );
    // A read by index (qualifier 0x17) carries the indexes but no data.
    assert_eq!(one(1, &[1, 2, 0x17, 2, 3, 9]), vec![Ok((1, 2, 2))]);
    // The same header in a response carries flags after each index.
    assert_eq!(one(129, &[1, 2, 0x17, 2, 3, 1, 9, 1]), vec![Ok((1, 2, 4))]);
    // Freeze at time: the time-and-interval object has data, the counters none.
    assert_eq!(
        one(
            11,
            &[50, 2, 0x07, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 0, 6]
        ),
        vec![Ok((50, 2, 11)), Ok((20, 0, 0))]
    );
    // Device attributes: type, length, value.
    assert_eq!(
        one(129, &[0, 250, 0x00, 0, 0, 1, 3, b'a', b'b', b'c']),
        vec![Ok((0, 250, 5))]
    );
    // Octet strings: the variation is the length.
    assert_eq!(
        one(2, &[110, 3, 0x00, 0, 1, 1, 2, 3, 4, 5, 6]),
        vec![Ok((110, 3, 6))]
    );
    // Unknown sizes stop the walk; so do bad ranges and reserved qualifiers.
    assert_eq!(
        one(129, &[30, 99, 0x00, 0, 0, 1, 2, 3]),
        vec![Err(ObjectError::UnknownObject {
            group: 30,
            variation: 99
        })]
    );
    assert_eq!(
        one(129, &[1, 2, 0x00, 5, 4]),
        vec![Err(ObjectError::InvalidRange { start: 5, stop: 4 })]
    );
    assert_eq!(
        one(1, &[60, 1, 0x06, 1, 2, 0x8a]),
        vec![Ok((60, 1, 0)), Err(ObjectError::ReservedQualifier(0x8a))]
    );
    assert_eq!(
        one(129, &[1, 1, 0x17, 1, 0, 1]),
        vec![Err(ObjectError::PrefixOnPackedObject(0x17))]
    );
    assert_eq!(one(1, &[60, 1]), vec![Err(ObjectError::TruncatedHeader)]);
    // A 4-octet count of 2^32-1 objects never overflows the arithmetic.
    assert_eq!(
        one(129, &[30, 1, 0x09, 0xff, 0xff, 0xff, 0xff, 0]),
        vec![
            Ok((30, 1, 1)),
            Err(ObjectError::TruncatedData {
                group: 30,
                variation: 1
            })
        ]
    );
    assert_eq!(object_size(12, 1), ObjectSize::Fixed(11));
    assert_eq!(object_size(110, 0), ObjectSize::Unknown);
}

#[test]
fn header_count_is_bounded() {
    let mut b = Vec::new();
    for _ in 0..300 {
        b.extend_from_slice(&[60, 1, 6]);
    }
    let r = one(1, &b);
    assert_eq!(r.len(), objects::MAX_OBJECT_HEADERS + 1);
    assert_eq!(r.last(), Some(&Err(ObjectError::TooManyHeaders)));
}

#[test]
fn analog_output_blocks() {
    let mut b = vec![0xc0, 5];
    // g41v1 index 3 (qualifier 0x17): 100000; g41v2 index 7: -2;
    // g41v3 index 1: 1.5; g41v4 index 0: -0.25.
    b.extend_from_slice(&[41, 1, 0x17, 1, 3]);
    b.extend_from_slice(&100000i32.to_le_bytes());
    b.push(0);
    b.extend_from_slice(&[41, 2, 0x17, 1, 7]);
    b.extend_from_slice(&(-2i16).to_le_bytes());
    b.push(0);
    b.extend_from_slice(&[41, 3, 0x28, 1, 0, 1, 0]);
    b.extend_from_slice(&1.5f32.to_le_bytes());
    b.push(4);
    b.extend_from_slice(&[41, 4, 0x00, 0, 0]);
    b.extend_from_slice(&(-0.25f64).to_le_bytes());
    b.push(0);
    let frag = Fragment::parse(&b).unwrap();
    let link = LinkHeader::parse(&build_frame(LinkControl(0xc4), 1, 2, &[0])).unwrap();
    let m = Message::new(link, 1, &frag);
    assert_eq!(m.error, None);
    let got: Vec<(u32, u8, AnalogValue, u8)> = m
        .controls()
        .iter()
        .map(|c| match c {
            ControlPoint::AnalogOutput(a) => (a.index, a.variation, a.value, a.status.0),
            ControlPoint::Crob(_) => panic!(),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (3, 1, AnalogValue::Int(100000), 0),
            (7, 2, AnalogValue::Int(-2), 0),
            (1, 3, AnalogValue::Float(1.5), 4),
            (0, 4, AnalogValue::Double(-0.25), 0),
        ]
    );
    assert_eq!(m.rejected_control(), Some(CommandStatus(4)));
    assert_eq!(CommandStatus(4).name(), "not_supported");
    assert_eq!(
        FunctionCode::DIRECT_OPERATE.operation(m.kinds),
        Operation::Command
    );
}

#[test]
fn crob_control_code_fields() {
    let c = ControlCode(0x81);
    assert_eq!((c.op_type_name(), c.tcc_name()), ("pulse_on", "trip"));
    let c = ControlCode(0x64);
    assert_eq!(
        (c.op_type_name(), c.tcc_name(), c.clear(), c.queue()),
        ("latch_off", "close", true, false)
    );
    assert_eq!(ControlCode(0x0f).op_type_name(), "undefined");
    assert_eq!(ControlCode(0xc0).tcc_name(), "reserved");
}

#[test]
fn summary_bounds_and_multi_fragment() {
    // Forty class reads in one fragment: 32 kept, 40 counted.
    let mut b = vec![0xc0, 1];
    for _ in 0..40 {
        b.extend_from_slice(&[60, 2, 6]);
    }
    let frag = Fragment::parse(&b).unwrap();
    let link = LinkHeader::parse(&build_frame(LinkControl(0xc4), 1, 2, &[0])).unwrap();
    let m = Message::new(link, 9, &frag);
    assert_eq!(m.headers().len(), summary::MAX_HEADERS_KEPT);
    assert_eq!(m.headers_total, 40);
    // Two response fragments: IIN bits are merged, fragments counted.
    let f1 = [0x81u8, 0x81, 0x80, 0x00, 1, 2, 0, 0, 0, 1];
    let f2 = [0x42u8, 0x81, 0x00, 0x02, 30, 4, 0, 0, 0, 7, 0];
    let mut m = Message::new(link, 3, &Fragment::parse(&f1).unwrap());
    assert_eq!(m.absorb(2, &Fragment::parse(&f2).unwrap()), None);
    assert_eq!((m.fragments, m.link_frames), (2, 5));
    assert_eq!(m.iin, Some(Iin(0x8002)));
    assert!(m.iin.unwrap().is_error());
    assert_eq!(m.headers().len(), 2);
    assert_eq!(m.last_control.seq(), 2);
    assert!(m.control.fir() && !m.control.fin() && m.last_control.fin());
}

#[test]
fn probe_detects_frames() {
    let f = hex("05640b c4 0500 6400 6f36 d5c8 013c 0106 fe85");
    assert_eq!(probe(&f, true), Probe::Match);
    assert_eq!(probe(&f[..10], false), Probe::Match);
    assert_eq!(probe(&f[..9], false), Probe::NeedMore);
    assert_eq!(probe(&f[..1], false), Probe::NeedMore);
    assert_eq!(probe(&[0x05, 0x65], false), Probe::NoMatch);
    assert_eq!(probe(b"GET / HTTP/1.1", false), Probe::NoMatch);
    let mut bad = f.clone();
    bad[9] ^= 1;
    assert_eq!(probe(&bad, false), Probe::NoMatch);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = probe(&b, true);
        if let Ok((f, _)) = Frame::parse(&b) {
            let mut buf = [0u8; MAX_USER_DATA];
            let _ = f.user_data(&mut buf);
        }
        if let Ok(frag) = Fragment::parse(&b) {
            let link = LinkHeader { length: 5, control: LinkControl(0), destination: 0, source: 0 };
            let m = Message::new(link, 1, &frag);
            prop_assert!(m.headers().len() <= summary::MAX_HEADERS_KEPT);
            for h in frag.headers().flatten() {
                for _ in h.objects() {}
            }
        }
    }

    #[test]
    fn arbitrary_objects_under_every_function(
        fc in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut consumed = 0usize;
        for h in Headers::new(&body, FunctionCode(fc)) {
            match h {
                Ok(h) => consumed += h.data.len(),
                Err(_) => break,
            }
        }
        prop_assert!(consumed <= body.len());
    }

    #[test]
    fn crafted_frames_round_trip(
        data in proptest::collection::vec(any::<u8>(), 0..=250),
        dst in any::<u16>(),
        src in any::<u16>(),
    ) {
        let f = build_frame(LinkControl(0xc4), dst, src, &data);
        let (frame, len) = Frame::parse(&f).unwrap();
        prop_assert_eq!(len, f.len());
        let mut buf = [0u8; MAX_USER_DATA];
        let n = frame.user_data(&mut buf).unwrap();
        prop_assert_eq!(&buf[..n], &data[..]);
    }
}
