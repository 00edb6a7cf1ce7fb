//! APCI and ASDU examples built from the specifications' field layouts,
//! the validation rules, and arbitrary bytes.

use proptest::prelude::*;

use super::*;
use plantshield_events::Operation;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn u_format_functions() {
    let cases = [
        ("68 04 07 00 00 00", 0x01, "startdt_act"),
        ("68 04 0b 00 00 00", 0x02, "startdt_con"),
        ("68 04 13 00 00 00", 0x04, "stopdt_act"),
        ("68 04 23 00 00 00", 0x08, "stopdt_con"),
        ("68 04 43 00 00 00", 0x10, "testfr_act"),
        ("68 04 83 00 00 00", 0x20, "testfr_con"),
    ];
    for (bytes, bits, name) in cases {
        let b = hex(bytes);
        let a = parse_apdu(&b).unwrap();
        assert_eq!(a.control, Control::U(UFunction(bits)), "{bytes}");
        assert!(a.flags.is_empty(), "{bytes}");
        assert!(a.asdu.is_empty());
        let Control::U(f) = a.control else { panic!() };
        assert_eq!(f.name(), name);
        let (p, con) = f.procedure().unwrap();
        assert_eq!(con, bits & 0x2a != 0);
        assert_eq!(if con { p.con() } else { p.act() }, f);
    }
    assert_eq!(UProcedure::Startdt.function_code(), 257);
    assert_eq!(UProcedure::Stopdt.function_code(), 260);
    assert_eq!(UProcedure::Testfr.function_code(), 272);
    // Two functions at once: kept, flagged, unnamed.
    let b = hex("68 04 17 00 00 00");
    let a = parse_apdu(&b).unwrap();
    assert_eq!(a.control, Control::U(UFunction(0x05)));
    assert_eq!(
        a.flags.names().collect::<Vec<_>>(),
        vec!["invalid_u_function"]
    );
    assert_eq!(UFunction(0x05).name(), "unknown");
    assert_eq!(UFunction(0).procedure(), None);
}

#[test]
fn i_and_s_format_sequence_numbers() {
    // S-format acknowledging up to N(R) = 4.
    let b = hex("68 04 01 00 08 00");
    let a = parse_apdu(&b).unwrap();
    assert_eq!(a.control, Control::S { receive: 4 });
    assert!(a.flags.is_empty());
    // I-format N(S) = 4, N(R) = 1 with a 10-octet ASDU.
    let b = hex("68 0e 08 00 02 00 64 01 0a 00 0d 91 00 00 00 14");
    let a = parse_apdu(&b).unwrap();
    assert_eq!(
        a.control,
        Control::I {
            send: 4,
            receive: 1
        }
    );
    assert_eq!(a.asdu.len(), 10);
    assert_eq!(a.length, 14);
    // The high octet carries bits 8..15: N(S) = 0x1234.
    let mut v = Vec::new();
    emit_apdu(
        Control::I {
            send: 0x1234,
            receive: 0x7fff,
        },
        &[1, 1, 3, 0, 1, 0, 1, 0, 0, 0],
        &mut v,
    );
    let a = parse_apdu(&v).unwrap();
    assert_eq!(
        a.control,
        Control::I {
            send: 0x1234,
            receive: 0x7fff
        }
    );
    assert_eq!(&v[2..6], &[0x68, 0x24, 0xfe, 0xff]);
}

#[test]
fn control_field_rules() {
    // S-format with bits in octet 1 above the format bits, and longer than 4.
    let b = hex("68 06 19 19 19 19 19 19");
    let a = parse_apdu(&b).unwrap();
    assert!(matches!(a.control, Control::S { .. }));
    assert!(a.flags.has(ApciFlags::RESERVED_CONTROL_BITS));
    assert!(a.flags.has(ApciFlags::LENGTH_MISMATCH));
    assert!(a.asdu.is_empty());
    // I-format without an ASDU.
    let b = hex("68 04 16 16 16 16");
    let a = parse_apdu(&b).unwrap();
    assert!(matches!(a.control, Control::I { .. }));
    assert_eq!(a.flags.0, ApciFlags::LENGTH_MISMATCH);
    // I-format with the reserved bit of octet 3 set.
    let b = hex("68 04 00 00 01 00");
    assert!(parse_apdu(&b)
        .unwrap()
        .flags
        .has(ApciFlags::RESERVED_CONTROL_BITS));
    // Header errors.
    assert_eq!(apdu_size(&[]), Err(ApciError::Incomplete));
    assert_eq!(apdu_size(&[0x68]), Err(ApciError::Incomplete));
    assert_eq!(apdu_size(&[0x00, 4]), Err(ApciError::StartByte(0)));
    assert_eq!(apdu_size(&[0x68, 3]), Err(ApciError::Length(3)));
    assert_eq!(apdu_size(&[0x68, 254]), Err(ApciError::Length(254)));
    assert_eq!(apdu_size(&[0x68, 253]), Ok(255));
    assert_eq!(parse_apdu(&[0x68, 4, 7, 0, 0]), Err(ApciError::Incomplete));
}

#[test]
fn interrogation_command() {
    let b = hex("64 01 06 00 0d 91 00 00 00 14");
    let a = parse_asdu(&b).unwrap();
    assert_eq!(a.type_id, TypeId::C_IC_NA_1);
    assert!(!a.vsq.sq());
    assert_eq!(a.vsq.number(), 1);
    assert_eq!(a.cot.cause(), Cause::ACTIVATION);
    assert!(!a.cot.negative() && !a.cot.test());
    assert_eq!(a.originator, 0);
    assert_eq!(a.common_address, 37133);
    assert_eq!(a.first_ioa(), Some(0));
    assert!(
        a.flags.is_empty(),
        "{:?}",
        a.flags.names().collect::<Vec<_>>()
    );
    let o: Vec<_> = a.objects().collect();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].element.value, Value::Qualifier(20));
    assert_eq!(a.type_id.operation(), Operation::Read);
}

#[test]
fn single_points_in_sequence() {
    // SQ=1, nine elements from IOA 10010, interrogated by the station.
    let b = hex("01 89 14 00 0d 91 1a 27 00 d0 80 80 80 c0 80 80 80 81");
    let a = parse_asdu(&b).unwrap();
    assert!(a.vsq.sq());
    assert_eq!(a.vsq.number(), 9);
    assert_eq!(a.cot.cause().name(), "inrogen");
    assert!(a.flags.is_empty());
    let o: Vec<_> = a.objects().collect();
    assert_eq!(
        o.iter().map(|x| x.ioa).collect::<Vec<_>>(),
        (10010..10019).collect::<Vec<_>>()
    );
    let q = o[0].element.quality.unwrap();
    assert_eq!(q.names().collect::<Vec<_>>(), vec!["bl", "nt", "iv"]);
    assert_eq!(o[0].element.value, Value::State(0));
    assert_eq!(o[8].element.value, Value::State(1));
    assert_eq!(
        o[8].element.quality.unwrap().names().collect::<Vec<_>>(),
        vec!["iv"]
    );
}

#[test]
fn negative_double_command_confirmation() {
    let b = hex("2e 01 47 01 0d 91 98 3a 00 82");
    let a = parse_asdu(&b).unwrap();
    assert_eq!(a.type_id, TypeId::C_DC_NA_1);
    assert_eq!(a.cot.cause(), Cause::ACTIVATION_CON);
    assert!(a.cot.negative());
    assert_eq!(a.originator, 1);
    let o: Vec<_> = a.objects().collect();
    assert_eq!(o[0].ioa, 15000);
    assert_eq!(
        o[0].element.value,
        Value::Command {
            state: 2,
            qualifier: 0,
            select: true
        }
    );
    assert_eq!(a.type_id.operation(), Operation::Command);
    // DCS 0 is "not permitted".
    let b = hex("2e 01 06 00 01 00 98 3a 00 00");
    assert!(parse_asdu(&b)
        .unwrap()
        .flags
        .has(AsduFlags::INVALID_COMMAND_STATE));
}

#[test]
fn clock_synchronisation() {
    let b = hex("67 01 06 04 0d 91 00 00 00 c8 32 39 08 1d 08 08");
    let a = parse_asdu(&b).unwrap();
    assert_eq!(a.type_id.name(), "c_cs_na_1");
    assert_eq!(a.type_id.operation(), Operation::Configuration);
    let o: Vec<_> = a.objects().collect();
    let Some(Time::Cp56(t)) = o[0].element.time else {
        panic!("{o:?}")
    };
    let mut s = String::new();
    t.format(&mut s);
    assert_eq!(s, "2008-08-29T08:57:13.000");
    assert!(t.is_valid() && !t.invalid && !t.summer);
    let mut back = Vec::new();
    t.emit(&mut back);
    assert_eq!(back, &b[9..]);
    // Month 13 is out of range.
    let b = hex("67 01 06 04 0d 91 00 00 00 c8 32 39 08 1d 0d 08");
    assert!(parse_asdu(&b).unwrap().flags.has(AsduFlags::INVALID_TIME));
}

#[test]
fn measured_values_and_counters() {
    // M_ME_NA_1: normalised -0.5 (0xC000) with OV.
    let b = hex("09 01 03 00 01 00 e8 03 00 00 c0 01");
    let a = parse_asdu(&b).unwrap();
    let o = a.objects().next().unwrap();
    assert_eq!(o.ioa, 1000);
    assert_eq!(o.element.value, Value::Normalized(-16384));
    assert_eq!(
        o.element.quality.unwrap().names().collect::<Vec<_>>(),
        vec!["ov"]
    );
    // M_ME_NB_1: scaled -2.
    let b = hex("0b 01 01 00 01 00 e9 03 00 fe ff 00");
    let o = parse_asdu(&b).unwrap().objects().next().unwrap();
    assert_eq!(o.element.value, Value::Scaled(-2));
    assert!(o.element.quality.unwrap().is_good());
    // M_ME_TF_1: float 12.5 with CP56Time2a, summer time.
    let mut b = hex("24 01 03 00 01 00 ea 03 00");
    b.extend_from_slice(&12.5f32.to_le_bytes());
    b.push(0x00);
    b.extend_from_slice(&hex("10 27 05 8c 2f 06 18"));
    let a = parse_asdu(&b).unwrap();
    assert!(
        a.flags.is_empty(),
        "{:?}",
        a.flags.names().collect::<Vec<_>>()
    );
    let o = a.objects().next().unwrap();
    assert_eq!(o.element.value, Value::Float(12.5));
    let Some(Time::Cp56(t)) = o.element.time else {
        panic!()
    };
    assert!(t.summer);
    assert_eq!(
        (t.year, t.month, t.day, t.weekday, t.hour),
        (24, 6, 15, 1, 12)
    );
    // M_IT_NA_1: counter -1, sequence 5, carry.
    let b = hex("0f 01 25 00 01 00 10 00 00 ff ff ff ff 25");
    let a = parse_asdu(&b).unwrap();
    assert_eq!(a.cot.cause().name(), "reqcogen");
    let o = a.objects().next().unwrap();
    assert_eq!(
        o.element.value,
        Value::Counter {
            value: -1,
            sequence: 5
        }
    );
    assert_eq!(
        o.element.quality.unwrap().names().collect::<Vec<_>>(),
        vec!["cy"]
    );
    // M_ST_NA_1: step -3, transient.
    let b = hex("05 01 03 00 01 00 01 00 00 fd 00");
    let o = parse_asdu(&b).unwrap().objects().next().unwrap();
    assert_eq!(
        o.element.value,
        Value::Step {
            value: -3,
            transient: true
        }
    );
}

#[test]
fn set_points_and_commands() {
    // C_SE_NC_1 select, QL 0, value 42.0.
    let mut b = hex("32 01 06 00 01 00 a0 0f 00");
    b.extend_from_slice(&42.0f32.to_le_bytes());
    b.push(0x80);
    let o = parse_asdu(&b).unwrap().objects().next().unwrap();
    assert_eq!(
        o.element.value,
        Value::SetPoint {
            value: SetValue::Float(42.0),
            qualifier: 0,
            select: true
        }
    );
    // C_SC_NA_1 execute ON with a long pulse (QU 2).
    let b = hex("2d 01 06 00 01 00 88 13 00 09");
    let o = parse_asdu(&b).unwrap().objects().next().unwrap();
    assert_eq!(
        o.element.value,
        Value::Command {
            state: 1,
            qualifier: 2,
            select: false
        }
    );
    assert!(TypeId::C_SC_NA_1.has_select() && !TypeId::C_BO_NA_1.has_select());
}

#[test]
fn truncated_and_inconsistent_asdus() {
    assert_eq!(
        parse_asdu(&[24, 24]),
        Err(TruncatedAsdu {
            len: 2,
            type_id: Some(TypeId(24)),
            vsq: Some(Vsq(24)),
            cot: None,
            originator: None,
        })
    );
    let t = parse_asdu(&[26, 26, 26, 26]).unwrap_err();
    assert_eq!(t.cot.map(|c| c.cause().0), Some(26));
    assert_eq!(parse_asdu(&[]).unwrap_err().type_id, None);
    // One object announced, two present.
    let b = hex("01 01 03 00 01 00 01 00 00 01 02 00 00 00");
    let a = parse_asdu(&b).unwrap();
    assert!(a.flags.has(AsduFlags::OBJECT_LENGTH_MISMATCH));
    assert_eq!(a.objects().count(), 1);
    // Three announced, one present: only whole objects are yielded.
    let b = hex("01 03 03 00 01 00 01 00 00 01");
    let a = parse_asdu(&b).unwrap();
    assert!(a.flags.has(AsduFlags::OBJECT_LENGTH_MISMATCH));
    assert_eq!(a.objects().count(), 1);
    // A CP24Time2a type, not used in 104, with an undefined cause.
    let b = hex("02 01 0e 00 01 00 01 00 00 01 00 00 00");
    let a = parse_asdu(&b).unwrap();
    assert_eq!(
        a.flags.names().collect::<Vec<_>>(),
        vec!["type_not_in_104", "undefined_cause"]
    );
    // No objects at all.
    let b = hex("64 00 06 00 01 00");
    assert!(parse_asdu(&b).unwrap().flags.has(AsduFlags::NO_OBJECTS));
    // A variable-length type yields no objects but keeps its first address.
    let b = hex("7d 01 0d 00 01 00 05 00 00 01 00 01 02 aa bb");
    let a = parse_asdu(&b).unwrap();
    assert_eq!(a.objects().count(), 0);
    assert_eq!(a.first_ioa(), Some(5));
    assert!(a.flags.is_empty());
}

#[test]
fn every_type_and_cause_is_named() {
    for t in 0..=255u8 {
        let id = TypeId(t);
        let name = id.name();
        assert!(!name.is_empty());
        match id.mnemonic() {
            Some(m) => {
                assert_eq!(m.to_ascii_lowercase(), name);
                let class = id.class();
                let prefix = &m[..2];
                match prefix {
                    "M_" => assert_eq!(class, TypeClass::Monitor, "{m}"),
                    "C_" => assert!(
                        matches!(class, TypeClass::Command | TypeClass::System),
                        "{m}"
                    ),
                    "P_" => assert_eq!(class, TypeClass::Parameter, "{m}"),
                    "F_" => assert_eq!(class, TypeClass::File, "{m}"),
                    "S_" => assert_eq!(class, TypeClass::Security, "{m}"),
                    _ => panic!("{m}"),
                }
                // Every type with a fixed layout has one; only F_SG_NA_1
                // and the secure authentication types are variable.
                assert_eq!(
                    id.layout().is_none(),
                    t == 125 || class == TypeClass::Security,
                    "{m}"
                );
            }
            None => assert!(matches!(name, "reserved" | "private" | "not_used"), "{t}"),
        }
    }
    let named = (1..=127u8)
        .filter(|&t| TypeId(t).mnemonic().is_some())
        .count();
    // 101's 58 types, the 9 that 104 §8 adds (the CP56Time2a commands
    // 58-64, C_TS_TA_1, F_SC_NB_1) and the 14 of IEC 60870-5-7.
    assert_eq!(named, 58 + 9 + 14);
    assert_eq!(TypeId(24).name(), "reserved");
    assert_eq!(TypeId(200).name(), "private");
    let expected = [
        (1, "per_cyc"),
        (3, "spont"),
        (5, "req"),
        (6, "act"),
        (7, "actcon"),
        (10, "actterm"),
        (20, "inrogen"),
        (21, "inro1"),
        (26, "inro6"),
        (36, "inro16"),
        (37, "reqcogen"),
        (41, "reqco4"),
        (44, "unknown_type"),
        (47, "unknown_ioa"),
        (15, "reserved"),
        (50, "private"),
    ];
    for (c, n) in expected {
        assert_eq!(Cause(c).name(), n);
    }
}

#[test]
fn operations() {
    let op = |t: u8| TypeId(t).operation();
    assert_eq!(op(1), Operation::Read);
    assert_eq!(op(70), Operation::Read);
    for t in [45, 46, 47, 48, 49, 50, 51, 58, 59, 60, 61, 62, 63, 64] {
        assert_eq!(op(t), Operation::Command, "{t}");
    }
    assert_eq!(op(100), Operation::Read);
    assert_eq!(op(101), Operation::Read);
    assert_eq!(op(102), Operation::Read);
    assert_eq!(op(103), Operation::Configuration);
    assert_eq!(op(105), Operation::ModeChange);
    assert_eq!(op(107), Operation::Diagnostics);
    assert_eq!(op(110), Operation::Configuration);
    assert_eq!(op(122), Operation::File);
    assert_eq!(op(81), Operation::Session);
    assert_eq!(op(24), Operation::Other);
}

#[test]
fn probes() {
    let startdt = hex("68 04 07 00 00 00");
    assert_eq!(probe(&startdt, false), Probe::Match);
    assert_eq!(probe(&startdt, true), Probe::Match);
    assert_eq!(probe(&startdt[..1], true), Probe::NeedMore);
    assert_eq!(probe(&startdt[..4], true), Probe::NeedMore);
    assert_eq!(probe(b"GET / HTTP/1.1\r\n", false), Probe::NoMatch);
    assert_eq!(probe(&[0x68, 2], false), Probe::NoMatch);
    // Two APDUs in one segment.
    let mut two = startdt.clone();
    two.extend_from_slice(&hex("68 0e 00 00 00 00 64 01 06 00 01 00 00 00 00 14"));
    assert_eq!(probe(&two, true), Probe::Match);
    // Off port: a U-frame with two function bits, a reserved type or a
    // private cause are not taken for 104.
    assert_eq!(probe(&hex("68 04 17 00 00 00"), true), Probe::NoMatch);
    assert_eq!(probe(&hex("68 04 17 00 00 00"), false), Probe::Match);
    assert_eq!(
        probe(
            &hex("68 0e 00 00 00 00 18 01 06 00 01 00 00 00 00 14"),
            true
        ),
        Probe::NoMatch
    );
    assert_eq!(
        probe(
            &hex("68 0e 00 00 00 00 64 01 30 00 01 00 00 00 00 14"),
            true
        ),
        Probe::NoMatch
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = probe(&b, true);
        let _ = probe(&b, false);
        if let Ok(a) = parse_apdu(&b) {
            prop_assert!(a.asdu.len() <= MAX_ASDU_LEN);
        }
        let mut with_start = vec![START, (b.len().min(253)) as u8];
        with_start.extend_from_slice(&b);
        let _ = parse_apdu(&with_start);
        match parse_asdu(&b) {
            Ok(a) => {
                let n = a.objects().count();
                prop_assert!(n <= usize::from(a.vsq.number()));
                let _ = a.first_ioa();
                for o in a.objects() {
                    let mut s = String::new();
                    match o.element.time {
                        Some(Time::Cp56(t)) => t.format(&mut s),
                        Some(Time::Cp24(t)) => t.format(&mut s),
                        None => {}
                    }
                    if let Some(q) = o.element.quality {
                        let _ = q.names().count();
                    }
                }
            }
            Err(t) => prop_assert!(t.len < HEADER_LEN),
        }
    }

    #[test]
    fn control_round_trip(send in 0u16..0x8000, receive in 0u16..0x8000, s in any::<bool>()) {
        let ctl = if s { Control::S { receive } } else { Control::I { send, receive } };
        let mut v = Vec::new();
        let asdu: &[u8] = if s { &[] } else { &[100, 1, 6, 0, 1, 0, 0, 0, 0, 20] };
        emit_apdu(ctl, asdu, &mut v);
        let a = parse_apdu(&v).unwrap();
        prop_assert_eq!(a.control, ctl);
        prop_assert!(a.flags.is_empty());
        prop_assert_eq!(a.asdu, asdu);
    }
}
