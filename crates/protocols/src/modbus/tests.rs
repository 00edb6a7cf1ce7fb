//! Request/response examples from the MODBUS Application Protocol
//! Specification V1.1b3, one per function, plus the validation rules.

use proptest::prelude::*;

use super::pdu::{parse_request_general, parse_response_general};
use super::*;
use plantshield_events::Operation;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn pair(req: &str, resp: &str) -> (Vec<u8>, Vec<u8>) {
    (hex(req), hex(resp))
}

#[test]
fn spec_examples_parse_clean_and_pair() {
    let examples = [
        pair("01 0013 0013", "01 03 CD6B05"),
        pair("02 00C4 0016", "02 03 ACDB35"),
        pair("03 006B 0003", "03 06 022B00000064"),
        pair("04 0008 0001", "04 02 000A"),
        pair("05 00AC FF00", "05 00AC FF00"),
        pair("06 0001 0003", "06 0001 0003"),
        pair("07", "07 6D"),
        pair("08 0000 A537", "08 0000 A537"),
        pair("0B", "0B FFFF 0108"),
        pair("0C", "0C 08 0000 0108 0121 2000"),
        pair("0F 0013 000A 02 CD01", "0F 0013 000A"),
        pair("10 0001 0002 04 000A 0102", "10 0001 0002"),
        pair("11", "11 03 FF FF 01"),
        pair("14 0E 06 0004 0001 0002 06 0003 0009 0002", "14 0C 05 06 0DFE 0020 05 06 33CD 0040"),
        pair("15 0D 06 0004 0007 0003 06AF 04BE 100D", "15 0D 06 0004 0007 0003 06AF 04BE 100D"),
        pair("16 0004 00F2 0025", "16 0004 00F2 0025"),
        pair("17 0003 0006 000E 0003 06 00FF 00FF 00FF", "17 0C 00FE 0ACD 0001 0003 000D 00FF"),
        pair("18 04DE", "18 0006 0002 01B8 1284"),
        pair(
            "2B 0E 01 00",
            "2B 0E 01 01 00 00 03 00 16 436F6D70616E79206964656E74696669636174696F6E 01 0F 50726F6475637420636F6465205858 02 05 56322E3131",
        ),
    ];
    for (req, resp) in &examples {
        let q = parse_request(req);
        let r = parse_response(resp);
        assert!(
            q.flags.is_empty(),
            "request {:02x}: {:?}",
            req[0],
            q.flags.names().collect::<Vec<_>>()
        );
        assert!(
            r.flags.is_empty(),
            "response {:02x}: {:?}",
            resp[0],
            r.flags.names().collect::<Vec<_>>()
        );
        assert!(
            !matches!(
                q.body,
                RequestBody::Malformed { .. } | RequestBody::Other { .. }
            ),
            "{q:?}"
        );
        assert!(
            !matches!(
                r.body,
                ResponseBody::Malformed { .. } | ResponseBody::Other { .. }
            ),
            "{r:?}"
        );
        assert!(check_pair(&q, &r).is_empty(), "pair {:02x}", req[0]);
        assert_eq!(q.function.kind(), FunctionKind::Public);
    }
}

#[test]
fn field_values() {
    let b_q = hex("03 006B 0003");
    let q = parse_request(&b_q);
    assert_eq!(
        q.body,
        RequestBody::ReadRegisters {
            address: 0x6b,
            quantity: 3
        }
    );
    assert_eq!(q.body.target(), Some((0x6b, 3)));
    let b_r = hex("03 06 022B00000064");
    let r = parse_response(&b_r);
    let ResponseBody::ReadRegisters {
        byte_count: 6,
        values,
    } = r.body
    else {
        panic!()
    };
    assert_eq!(values, hex("022B00000064"));

    let b_q = hex("17 0003 0006 000E 0003 06 00FF 00FF 00FF");
    let q = parse_request(&b_q);
    let RequestBody::ReadWriteMultipleRegisters {
        read_address,
        read_quantity,
        write_address,
        write_quantity,
        values,
        ..
    } = q.body
    else {
        panic!()
    };
    assert_eq!(
        (read_address, read_quantity, write_address, write_quantity),
        (3, 6, 14, 3)
    );
    assert_eq!(values.len(), 6);

    let b_q = hex("14 0E 06 0004 0001 0002 06 0003 0009 0002");
    let q = parse_request(&b_q);
    let RequestBody::ReadFileRecord { sub_requests, .. } = q.body else {
        panic!()
    };
    let subs: Vec<_> = sub_requests.into_iter().collect();
    assert_eq!(subs.len(), 2);
    assert_eq!(
        (
            subs[1].file_number,
            subs[1].record_number,
            subs[1].record_length
        ),
        (3, 9, 2)
    );

    let b_r = hex(
        "2B 0E 01 01 00 00 03 00 16 436F6D70616E79206964656E74696669636174696F6E 01 0F 50726F6475637420636F6465205858 02 05 56322E3131",
    );
    let r = parse_response(&b_r);
    let ResponseBody::ReadDeviceId(id) = r.body else {
        panic!()
    };
    let objs: Vec<_> = id
        .objects()
        .map(|(i, v)| (i.name(), String::from_utf8_lossy(v).to_string()))
        .collect();
    assert_eq!(
        objs,
        vec![
            ("vendor_name", "Company identification".to_string()),
            ("product_code", "Product code XX".to_string()),
            ("major_minor_revision", "V2.11".to_string()),
        ]
    );
    assert_eq!(id.conformity_level, 1);

    let b_q = hex("08 0004 0000");
    let q = parse_request(&b_q);
    assert_eq!(
        q.function.operation(q.body.sub_code()),
        Operation::ModeChange
    );
}

#[test]
fn exceptions() {
    let b_r = hex("81 02");
    let r = parse_response(&b_r);
    assert!(r.exception);
    assert_eq!(r.function, FunctionCode::READ_COILS);
    assert_eq!(
        r.body,
        ResponseBody::Exception {
            code: ExceptionCode(2)
        }
    );
    assert_eq!(ExceptionCode(2).name(), "illegal_data_address");
    assert_eq!(
        ExceptionCode(0x0b).name(),
        "gateway_target_device_failed_to_respond"
    );
    // An exception answers any request of its function without a mismatch.
    let b_q = hex("01 0000 0008");
    let q = parse_request(&b_q);
    assert!(check_pair(&q, &r).is_empty());
    // No exception code at all.
    let b83 = hex("83");
    assert!(matches!(
        parse_response(&b83).body,
        ResponseBody::Malformed { .. }
    ));
}

#[test]
fn validation_flags() {
    let f = |req: &str| parse_request(&hex(req)).flags;
    assert!(f("03 0000 007E").has(Flags::QUANTITY_OUT_OF_RANGE));
    assert!(f("03 0000 0000").has(Flags::QUANTITY_OUT_OF_RANGE));
    assert!(f("01 FFFF 0002").has(Flags::ADDRESS_OVERFLOW));
    assert!(f("05 0001 1234").has(Flags::INVALID_COIL_VALUE));
    assert!(f("10 0001 0002 03 000A01").has(Flags::BYTE_COUNT_MISMATCH));
    assert!(f("10 0001 0002 04 000A").has(Flags::BYTE_COUNT_MISMATCH));
    assert!(f("0F 0000 0009 01 FF").has(Flags::BYTE_COUNT_MISMATCH));
    assert!(f("06 0001 0003 00").has(Flags::TRAILING_BYTES));
    assert!(f("08 0013 0000").has(Flags::RESERVED_SUB_FUNCTION));
    assert!(f("2B 0E 05 00").has(Flags::INVALID_READ_DEVICE_ID_CODE));
    assert!(f("14 07 05 0000 0001 0002").has(Flags::INVALID_FILE_REFERENCE));
    // Too short: malformed, raw data kept.
    let b_q = hex("03 0001");
    let q = parse_request(&b_q);
    assert_eq!(q.body, RequestBody::Malformed { data: &[0, 1] });
    // Reserved, user-defined and unassigned codes are kept as such.
    for (code, kind, name) in [
        (90u8, FunctionKind::Reserved, "reserved"),
        (65, FunctionKind::UserDefined, "user_defined"),
        (100, FunctionKind::UserDefined, "user_defined"),
        (50, FunctionKind::Unassigned, "unassigned"),
    ] {
        let pdu = [code, 1, 2];
        let q = parse_request(&pdu);
        assert_eq!(q.function.kind(), kind);
        assert_eq!(q.function.name(), name);
        assert_eq!(q.body, RequestBody::Other { data: &[1, 2] });
        assert_eq!(q.function.operation(None), Operation::Other);
    }
}

/// The sawp-modbus mistake: register reads checked with the coil formula.
#[test]
fn register_read_byte_count_uses_register_formula() {
    let b_q = hex("03 0000 000A");
    let q = parse_request(&b_q);
    let b_r = hex("03 14 0001000200030004000500060007000800090010");
    let r = parse_response(&b_r);
    assert!(r.flags.is_empty());
    assert!(check_pair(&q, &r).is_empty());
    let b_coils = hex("01 0000 000A");
    let coils = parse_request(&b_coils);
    let b_r = hex("01 02 FF03");
    let r = parse_response(&b_r);
    assert!(check_pair(&coils, &r).is_empty());
    // And a real mismatch is caught.
    let b_short = hex("03 02 0001");
    let short = parse_response(&b_short);
    assert!(check_pair(&q, &short).has(Flags::RESPONSE_MISMATCH));
    let b_echo = hex("06 0002 0003");
    let echo = parse_response(&b_echo);
    let b6 = hex("06 0001 0003");
    assert!(check_pair(&parse_request(&b6), &echo).has(Flags::RESPONSE_MISMATCH));
    // File records: the registers returned must be those asked for.
    let b20 = hex("14 0E 06 0004 0001 0002 06 0003 0009 0002");
    let files = parse_request(&b20);
    let b20r = hex("14 0C 05 06 0DFE 0020 05 06 33CD 0040");
    assert!(check_pair(&files, &parse_response(&b20r)).is_empty());
    let b20bad = hex("14 10 05 06 0DFE 0020 09 06 33CD 0040 0001 0002");
    assert!(check_pair(&files, &parse_response(&b20bad)).has(Flags::RESPONSE_MISMATCH));
    let b4 = hex("04 02 0001");
    assert!(check_pair(&q, &parse_response(&b4)).has(Flags::FUNCTION_MISMATCH));
}

#[test]
fn mbap_and_probe() {
    let adu = hex("0001 0000 0006 0A 03 0000 0001");
    let m = Mbap::parse(&adu).unwrap();
    assert_eq!((m.transaction_id, m.unit_id, m.adu_len()), (1, 10, 12));
    let mut out = vec![];
    m.emit(&mut out);
    assert_eq!(out, adu[..7]);
    assert_eq!(
        Mbap::parse(&hex("0001 0001 0006 0A")),
        Err(MbapError::ProtocolId(1))
    );
    assert_eq!(
        Mbap::parse(&hex("0001 0000 0001 0A")),
        Err(MbapError::Length(1))
    );
    assert_eq!(
        Mbap::parse(&hex("0001 0000 00FF 0A")),
        Err(MbapError::Length(255))
    );
    assert_eq!(
        Mbap::parse(&hex("0001 0000 00")),
        Err(MbapError::Incomplete)
    );

    assert_eq!(probe(&adu, true), Probe::Match);
    let mut two = adu.clone();
    two.extend_from_slice(&adu);
    assert_eq!(probe(&two, true), Probe::Match);
    assert_eq!(probe(&two[..15], true), Probe::NeedMore);
    assert_eq!(
        probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false),
        Probe::NoMatch
    );
    assert_eq!(probe(&hex("160301008501000081"), false), Probe::NoMatch);
    // Strict mode wants a public function code.
    assert_eq!(probe(&hex("0001 0000 0002 01 5A"), true), Probe::NoMatch);
    assert_eq!(probe(&hex("0001 0000 0002 01 5A"), false), Probe::Match);
    assert_eq!(probe(&hex("0001 00"), false), Probe::NeedMore);
    // A function code scan starts at 0: accepted on the registered port only.
    assert_eq!(
        probe(&hex("0000 0000 0006 01 00 00000000"), false),
        Probe::Match
    );
    assert_eq!(
        probe(&hex("0000 0000 0006 01 00 00000000"), true),
        Probe::NoMatch
    );
}

proptest! {
    #[test]
    fn arbitrary_pdus_never_panic(pdu in proptest::collection::vec(any::<u8>(), 0..300)) {
        let q = parse_request(&pdu);
        let r = parse_response(&pdu);
        let _ = check_pair(&q, &r);
        let _ = q.body.target();
        if let RequestBody::ReadFileRecord { sub_requests, .. } | RequestBody::WriteFileRecord { sub_requests, .. } = q.body {
            for s in sub_requests { prop_assert!(s.data.len() <= pdu.len()); }
        }
        if let ResponseBody::ReadDeviceId(id) = r.body {
            for (_, v) in id.objects() { prop_assert!(v.len() <= pdu.len()); }
        }
        let _ = probe(&pdu, true);
        let _ = probe(&pdu, false);
    }

    /// Every well-formed read request parses back to its fields.
    #[test]
    fn read_requests_round_trip(fc in prop::sample::select(vec![1u8, 2, 3, 4]), address in any::<u16>(), quantity in 1u16..=125) {
        let mut pdu = vec![fc];
        pdu.extend_from_slice(&address.to_be_bytes());
        pdu.extend_from_slice(&quantity.to_be_bytes());
        let q = parse_request(&pdu);
        prop_assert_eq!(q.body.target(), Some((address, quantity)));
        prop_assert_eq!(q.flags.has(Flags::ADDRESS_OVERFLOW), u32::from(address) + u32::from(quantity) > 65536);
    }

    /// The fast paths for short PDUs give what the general parsers give.
    #[test]
    fn fast_paths_match_general_parsers(
        fc in prop_oneof![0u8..=24, any::<u8>()],
        rest in proptest::collection::vec(any::<u8>(), 0..12),
    ) {
        let mut pdu = vec![fc];
        pdu.extend_from_slice(&rest);
        prop_assert_eq!(parse_request(&pdu), parse_request_general(&pdu));
        prop_assert_eq!(parse_response(&pdu), parse_response_general(&pdu));
        prop_assert_eq!(parse_request(&pdu[1..]), parse_request_general(&pdu[1..]));
        prop_assert_eq!(parse_response(&pdu[1..]), parse_response_general(&pdu[1..]));
    }

    /// Read responses whose byte count is right or nearly right.
    #[test]
    fn fast_read_responses_match_general_parser(
        fc in 0u8..=6,
        byte_count in any::<u8>(),
        delta in -2i32..=2,
        fill in any::<u8>(),
    ) {
        let n = (i32::from(byte_count) + delta).max(0) as usize;
        let mut pdu = vec![fc, byte_count];
        pdu.extend(std::iter::repeat_n(fill, n));
        prop_assert_eq!(parse_response(&pdu), parse_response_general(&pdu));
        prop_assert_eq!(parse_request(&pdu), parse_request_general(&pdu));
    }
}
