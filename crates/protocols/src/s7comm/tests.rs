//! Unit tests with PDUs recorded from real S7 stacks (snap7, STEP 7, TIA
//! Portal) in the public corpus, and property tests on arbitrary bytes.

use proptest::prelude::*;

use super::cotp::{self, Tpdu};
use super::pdu::{self, AckParam, DataItems, JobParam};
use super::plus::{self, Opcode, PlusFunction};
use super::userdata::{self, Component, Version};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The S7 PDU inside a TPKT + COTP DT packet.
fn s7(tpkt: &[u8]) -> &[u8] {
    let t = Tpkt::parse(tpkt).unwrap();
    assert_eq!(usize::from(t.length), tpkt.len());
    match parse_tpdu(&tpkt[4..]).unwrap() {
        Tpdu::Data { payload, eot, .. } => {
            assert!(eot);
            payload
        }
        other => panic!("not DT: {other:?}"),
    }
}

#[test]
fn tpkt_header() {
    assert_eq!(
        Tpkt::parse(&[3, 0, 0, 0x19]),
        Ok(Tpkt {
            version: 3,
            reserved: 0,
            length: 25
        })
    );
    assert_eq!(Tpkt::parse(&[3, 0, 0]), Err(TpktError::Incomplete));
    assert_eq!(Tpkt::parse(&[4, 0, 0, 0x19]), Err(TpktError::Version(4)));
    assert_eq!(Tpkt::parse(&[3, 0, 0, 6]), Err(TpktError::Length(6)));
}

#[test]
fn cotp_connection_request_with_s7_tsaps() {
    // s7ident.pcap frame 4: CR from a PG to rack 0, slot 1.
    let b = hex("0300001611e00000000100c0010ac1020100c2020101");
    let t = Tpkt::parse(&b).unwrap();
    assert_eq!(t.length, 22);
    let Tpdu::ConnectionRequest(c) = parse_tpdu(&b[4..]).unwrap() else {
        panic!()
    };
    assert_eq!(c.src_ref, 1);
    assert_eq!(c.tpdu_size, Some(0x0a));
    assert_eq!(c.calling_tsap.unwrap().0, &[1, 0]);
    let called = c.called_tsap.unwrap();
    assert_eq!(called.rack_slot(), Some((0, 1)));
    assert_eq!(called.connection_type(), Some("pg"));
    // Rack 1 slot 3 is 1 * 32 + 3.
    assert_eq!(Tsap(&[3, 0x23]).rack_slot(), Some((1, 3)));
    assert_eq!(Tsap(&[3, 0x23]).connection_type(), Some("s7_basic"));
    assert_eq!(Tsap(b"SIMATIC-ROOT-ES").rack_slot(), None);
    assert!(Tsap(b"SIMATIC-ROOT-ES").is_text());
}

#[test]
fn cotp_other_tpdus() {
    assert_eq!(
        parse_tpdu(&[6, 0x80, 0, 1, 0, 2, 136]),
        Ok(Tpdu::DisconnectRequest {
            dst_ref: 1,
            src_ref: 2,
            reason: 136
        })
    );
    assert_eq!(cotp::disconnect_reason_name(136), "refused");
    assert_eq!(
        parse_tpdu(&[5, 0xc0, 0, 1, 0, 2]),
        Ok(Tpdu::DisconnectConfirm {
            dst_ref: 1,
            src_ref: 2
        })
    );
    assert_eq!(
        parse_tpdu(&[4, 0x70, 0, 9, 2]),
        Ok(Tpdu::Error {
            dst_ref: 9,
            cause: 2
        })
    );
    // DT without EOT and no data (a keep-alive some HMIs send).
    assert_eq!(
        parse_tpdu(&[2, 0xf0, 0x00]),
        Ok(Tpdu::Data {
            eot: false,
            tpdu_number: 0,
            payload: &[]
        })
    );
    assert_eq!(
        parse_tpdu(&[9, 0xf0, 0x80]),
        Err(cotp::CotpError::LengthIndicator(9))
    );
    assert_eq!(
        parse_tpdu(&[2, 0x33, 0x80]),
        Err(cotp::CotpError::UnknownCode(0x33))
    );
    assert_eq!(parse_tpdu(&[]), Err(cotp::CotpError::Empty));
}

#[test]
fn setup_communication_job_and_ack() {
    // snap7.pcap frames 1 and 2.
    let job = hex("0300001902f08032010000000000080000f0000001000101e0");
    let p = parse_pdu(s7(&job)).unwrap();
    assert_eq!(p.header.rosctr, Rosctr::JOB);
    assert_eq!(p.header.pdu_ref, 0);
    assert_eq!(p.trailing, 0);
    let Some(JobParam::Setup(s)) = pdu::parse_job(p.param) else {
        panic!()
    };
    assert_eq!(
        (s.max_amq_calling, s.max_amq_called, s.pdu_length),
        (1, 1, 480)
    );
    let ack = hex("0300001b02f080320300000000000800000000f0000001000100f0");
    let p = parse_pdu(s7(&ack)).unwrap();
    assert_eq!(p.header.rosctr, Rosctr::ACK_DATA);
    assert_eq!(p.header.error(), ErrorCode(0));
    let Some(AckParam::Setup(s)) = pdu::parse_ack(p.param) else {
        panic!()
    };
    assert_eq!(s.pdu_length, 240);
}

#[test]
fn write_var_real_to_merker() {
    // snap7.pcap frame 49: write M16.0 as REAL.
    let b = hex("0300002702f080320100001800000e00080501120a100800010000830000800007000479e9f642");
    let p = parse_pdu(s7(&b)).unwrap();
    let Some(JobParam::WriteVar(items)) = pdu::parse_job(p.param) else {
        panic!()
    };
    assert!(!items.inconsistent());
    let v: Vec<_> = items.iter().collect();
    assert_eq!(v.len(), 1);
    let a = v[0].any.unwrap();
    assert_eq!(a.area, Area::FLAGS);
    assert_eq!(a.area.name(), "flags");
    assert_eq!(a.transport_size.name(), "real");
    assert_eq!(
        (a.byte_address, a.bit_address, a.length, a.db_number),
        (16, 0, 1, 0)
    );
    let d: Vec<_> = DataItems::new(p.data).collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].value, &[0x79, 0xe9, 0xf6, 0x42]);
    assert_eq!(d[0].return_code, ReturnCode(0));
}

#[test]
fn read_var_bits_and_failed_items() {
    // 20161215185429.ChangeLowerThreshold frame 3, first item: M102.3 BIT.
    let item = hex("120a10010001000083000333");
    let mut param = vec![0x04, 1];
    param.extend_from_slice(&item);
    let Some(JobParam::ReadVar(items)) = pdu::parse_job(&param) else {
        panic!()
    };
    let a = items.iter().next().unwrap().any.unwrap();
    assert_eq!((a.byte_address, a.bit_address), (102, 3));
    // Timers are numbered, not byte addressed: s7ident frame 31, item T0.
    let t = hex("120a101d000800001d000000");
    let mut param = vec![0x04, 1];
    param.extend_from_slice(&t[..12]);
    let Some(JobParam::ReadVar(items)) = pdu::parse_job(&param) else {
        panic!()
    };
    let a = items.iter().next().unwrap().any.unwrap();
    assert_eq!(a.area, Area::TIMERS);
    assert_eq!((a.byte_address, a.bit_address), (0, 0));
    // s7ident frame 32: five failed items whose length field says 4 but
    // which carry no value.
    let d = hex("0a0000040a0000040a0000040a0000040a000004");
    let items: Vec<_> = DataItems::new(&d).collect();
    assert_eq!(items.len(), 5);
    assert!(items
        .iter()
        .all(|i| i.value.is_empty() && i.return_code.name() == "object_does_not_exist"));
    // A bit value is one octet, padded before the next item.
    let d = hex("ff0300010100ff04001000ff");
    let items: Vec<_> = DataItems::new(&d).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].value, &[1]);
    assert_eq!(items[1].value, &[0, 0xff]);
}

#[test]
fn block_control_upload_and_download() {
    // snap7.pcap frames 17 and 18: start upload of SDB0, and its answer.
    let job = hex("0300002302f080320100000800001200001d00000000000000095f3042303030303041");
    let p = parse_pdu(s7(&job)).unwrap();
    let Some(JobParam::BlockControl(f, bc)) = pdu::parse_job(p.param) else {
        panic!()
    };
    assert_eq!(f, Function::START_UPLOAD);
    let file = bc.file.unwrap();
    assert_eq!(file.raw, b"_0B00000A");
    assert_eq!(file.block_type, Some(0x0b));
    assert_eq!(codes::block_type_name(0x0b), Some("SDB"));
    assert_eq!(file.block_number, Some(0));
    assert_eq!(file.filesystem, Some(b'A'));
    let ack = hex("0300002302f0803203000008000010000000001d000100000000070730303030323136");
    let p = parse_pdu(s7(&ack)).unwrap();
    assert_eq!(
        pdu::parse_ack(p.param),
        Some(AckParam::StartUpload {
            status: 0,
            upload_id: 7,
            block_length: Some(216)
        })
    );
    // step7_s300_download frame 87: request download of DB1.
    let param = hex("1a0001000000000009" /* func .. len */);
    let mut param = param;
    param.extend_from_slice(b"_0A00001P");
    param.push(13);
    param.extend_from_slice(b"1000216000088");
    let Some(JobParam::BlockControl(_, bc)) = pdu::parse_job(&param) else {
        panic!()
    };
    assert_eq!(bc.file.unwrap().block_type, Some(0x0a));
    assert_eq!(bc.file.unwrap().block_number, Some(1));
    assert_eq!(bc.load_memory_length, Some(216));
    assert_eq!(bc.mc7_length, Some(88));
}

#[test]
fn pi_services_and_plc_stop() {
    // snap7.pcap frame 57: PLC stop; 59: copy RAM to ROM; 63: cold start.
    let stop = hex("0300002102f080320100001c000010000029000000000009505f50524f4752414d");
    let p = parse_pdu(s7(&stop)).unwrap();
    let Some(JobParam::Pi(f, pi)) = pdu::parse_job(p.param) else {
        panic!()
    };
    assert_eq!(f, Function::PLC_STOP);
    assert_eq!(pi.service.0, b"P_PROGRAM");
    let modu = hex("0300002302f080320100001d000012000028000000000000fd00024550055f4d4f4455");
    let p = parse_pdu(s7(&modu)).unwrap();
    let Some(JobParam::Pi(_, pi)) = pdu::parse_job(p.param) else {
        panic!()
    };
    assert_eq!(pi.service.name(), "copy_ram_to_rom");
    assert_eq!(pi.argument(), Some(&b"EP"[..]));
    assert_eq!(
        pi.service.operation(),
        plantshield_events::Operation::Configuration
    );
    let cold =
        hex("0300002702f080320100001f000016000028000000000000fd0002432009505f50524f4752414d");
    let p = parse_pdu(s7(&cold)).unwrap();
    let Some(JobParam::Pi(_, pi)) = pdu::parse_job(p.param) else {
        panic!()
    };
    assert_eq!(pi.argument(), Some(&b"C "[..]));
    assert_eq!(
        pi.service.operation(),
        plantshield_events::Operation::ModeChange
    );
    // step7_s300_download frame 93: _INSE of DB1.
    let inse = hex("28000000000000fd000a01003041303030303150055f494e5345");
    let Some(JobParam::Pi(_, pi)) = pdu::parse_job(&inse) else {
        panic!()
    };
    assert_eq!(pi.service.name(), "activate_blocks");
    let blocks: Vec<_> = pi.blocks().collect();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].block_type, Some(0x0a));
    assert_eq!(blocks[0].block_number, Some(1));
    assert_eq!(pi.argument(), None);
}

#[test]
fn szl_module_identification() {
    // snap7.pcap frame 4.
    let b = hex("0300009902f080320700000100000c007c000112081284010200000000ff09007800110000001c0004000136455337203331352d32454831342d304142302000c000030001000636455337203331352d32454831342d304142302000c0000300010007202020202020202020202020202020202020202000c0560302070081426f6f74204c6f61646572202020202020202020000041200909");
    let p = parse_pdu(s7(&b)).unwrap();
    let up = userdata::parse_param(p.param).unwrap();
    assert_eq!(up.kind, UserdataType::RESPONSE);
    assert_eq!(up.group, FunctionGroup::CPU_FUNCTIONS);
    assert_eq!(up.sub_function, 1);
    assert_eq!(up.sequence, 2);
    assert_eq!(up.last_data_unit, Some(true));
    assert_eq!(up.error_code, Some(ErrorCode(0)));
    let d = userdata::parse_data(p.data).unwrap();
    assert_eq!(d.return_code, ReturnCode::SUCCESS);
    let szl = userdata::szl_response(d.payload).unwrap();
    assert_eq!(
        (szl.id, szl.record_length, szl.record_count),
        (0x0011, 28, 4)
    );
    assert!(!szl.inconsistent());
    let recs: Vec<_> = szl
        .records()
        .map(|r| userdata::module_identification(r).unwrap())
        .collect();
    assert_eq!(recs[0].index_name(), "module");
    assert_eq!(recs[0].order_number, b"6ES7 315-2EH14-0AB0");
    assert_eq!(recs[1].version(), Version::Number(1));
    assert_eq!(recs[2].order_number, b"");
    assert_eq!(recs[2].version(), Version::Firmware(3, 2, 7));
    assert_eq!(recs[3].order_number, b"Boot Loader");
}

#[test]
fn szl_component_identification_reassembled() {
    // snap7.pcap frames 6 and 8: the answer to SZL 0x001C in two data units.
    let f6 = hex("030000f702f080320700000200000c00da0001120812840102d5010000ff0900d6001c00000022000a000153373330302f45543230304d2073746174696f6e5f31000000000000000000000002504c435f310000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000000000044f726967696e616c205369656d656e732045717569706d656e7400000000000000055320432d423155333933313432303131000000000000000000000000000000000007435055203331352d3220504e2f445000000000000000000000000000000000000008");
    let f8 = hex("030000a702f080320700000300000c008a0001120812840102d5000000ff0900864d4d4320344131414330313900000000000000000000000000000000000000000009002af60000010000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000000b0000000000000000000000000000000000000000000000000000000000000000");
    let p6 = parse_pdu(s7(&f6)).unwrap();
    let u6 = userdata::parse_param(p6.param).unwrap();
    assert!(u6.more_follows());
    assert_eq!(u6.data_unit_ref, Some(0xd5));
    let p8 = parse_pdu(s7(&f8)).unwrap();
    assert!(!userdata::parse_param(p8.param).unwrap().more_follows());
    let mut all = userdata::parse_data(p6.data).unwrap().payload.to_vec();
    all.extend_from_slice(userdata::parse_data(p8.data).unwrap().payload);
    let szl = userdata::szl_response(&all).unwrap();
    assert_eq!(
        (szl.id, szl.record_length, szl.record_count),
        (0x001c, 34, 10)
    );
    assert!(!szl.inconsistent());
    let c: Vec<_> = szl
        .records()
        .map(|r| userdata::component(r).unwrap())
        .collect();
    assert_eq!(
        c[0],
        Component::Text("automation_system_name", b"S7300/ET200M station_1")
    );
    assert_eq!(c[1], Component::Text("module_name", b"PLC_1"));
    assert_eq!(c[2], Component::Text("plant_identification", b""));
    assert_eq!(
        c[3],
        Component::Text("copyright", b"Original Siemens Equipment")
    );
    assert_eq!(c[4], Component::Text("serial_number", b"S C-B1U393142011"));
    assert_eq!(
        c[5],
        Component::Text("module_type_name", b"CPU 315-2 PN/DP")
    );
    assert_eq!(
        c[6],
        Component::Text("memory_card_serial_number", b"MMC 4A1AC019")
    );
    assert_eq!(
        c[7],
        Component::Manufacturer {
            manufacturer_id: 0x2a,
            profile_id: 0xf600,
            profile_specific_type: 1
        }
    );
}

#[test]
fn block_functions_and_clock() {
    // snap7.pcap frame 16: list blocks.
    let b = hex("0300003d02f080320700000700000c0020000112081283010000000000ff09001c30380001304500013043000030410002304200083044004d3046000f");
    let p = parse_pdu(s7(&b)).unwrap();
    let d = userdata::parse_data(p.data).unwrap();
    let counts: Vec<_> = userdata::block_counts(d.payload)
        .map(|c| {
            (
                codes::block_type_name(c.block_type.unwrap()).unwrap(),
                c.count,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("OB", 1),
            ("FB", 1),
            ("FC", 0),
            ("DB", 2),
            ("SDB", 8),
            ("SFC", 77),
            ("SFB", 15)
        ]
    );
    // snap7.pcap frame 23: get block info of DB0 in the active file system.
    let f = userdata::block_info_request(b"0A00000A").unwrap();
    assert_eq!(
        (f.block_type, f.block_number, f.filesystem),
        (Some(0x0a), Some(0), Some(b'A'))
    );
    // snap7.pcap frame 46: read clock answer.
    let t = userdata::s7_time(&hex("00191602081451379162")).unwrap();
    assert_eq!(t.iso(), "2016-02-08T14:51:37.916");
    assert_eq!(t.weekday, 2);
    assert_eq!(userdata::s7_time(&hex("001916020814513791")), None);
    assert_eq!(userdata::s7_time(&hex("00191613081451379162")), None);
    // Block timestamps count days from 1984-01-01.
    assert_eq!(userdata::block_timestamp(0, 0), "1984-01-01T00:00:00.000");
    assert_eq!(
        userdata::block_timestamp(37_119_000, 11_294),
        "2014-12-03T10:18:39.000"
    );
}

#[test]
fn mode_transition_push() {
    // step7_s300_stop frame 4: the CPU announces STOP.
    let p = hex("010010000000000000000000");
    let u = userdata::parse_param(&p[..8]).unwrap();
    assert_eq!(u.head, [1, 0, 0x10]);
    assert!(u.is_mode_transition());
    assert_eq!(codes::cpu_mode_name(u.sub_function), "stop");
}

#[test]
fn s7comm_plus_fragments_and_pdus() {
    // S7-1200-Uploading-OB1 frame 11: SetMultiVariables response, v2.
    let b = hex("720200103200000542000000023400000000000072020000");
    let f = plus::parse_fragment(&b).unwrap();
    assert!(f.last);
    assert_eq!((f.version, f.data_len, f.trailing), (2, 16, 0));
    let p = plus::parse_pdu(f.version, f.data).unwrap();
    assert_eq!(p.opcode, Opcode::RESPONSE);
    assert_eq!(p.function, Some(PlusFunction::SET_MULTI_VARIABLES));
    assert_eq!(p.sequence, Some(2));
    assert_eq!(p.return_value, Some(0));
    assert!(!p.is_error());
    // Frame 23: GetVarSubStreamed answered with a negative return value.
    let b = hex("7202001a32000005860000000634c08895b080ef91fff40000000000000072020000");
    let f = plus::parse_fragment(&b).unwrap();
    let p = plus::parse_pdu(f.version, f.data).unwrap();
    assert!(p.is_error());
    assert_eq!(p.error_code(), Some(-12));
    // Frame 146: DeleteObject of the session 0x3c0.
    let b = hex("7202002e31000004d40000002b000003c034000003c000000004e88969001200000000896a001300896b000400000000000072020000");
    let f = plus::parse_fragment(&b).unwrap();
    let p = plus::parse_pdu(f.version, f.data).unwrap();
    assert_eq!(p.session_id, Some(0x3c0));
    assert_eq!(p.object_id(), Some(0x3c0));
    assert_eq!(p.transport_flags, Some(0x34));
    // A first fragment has no trailer.
    let first = hex("72020009310000056000000028");
    let f = plus::parse_fragment(&first).unwrap();
    assert!(!f.last);
    assert_eq!(f.trailing, 0);
    // Frame 121: BeginSequence naming the download transaction.
    let b = hex("72020033310000055600000025000003c03602000100a17fffc0018d240000a3816900150d444c5472616e73616374696f6ea20000000072020000");
    let f = plus::parse_fragment(&b).unwrap();
    let p = plus::parse_pdu(f.version, f.data).unwrap();
    assert_eq!(p.function, Some(PlusFunction::BEGIN_SEQUENCE));
    assert!(p.names_download_transaction());
}

#[test]
fn s7comm_plus_version_3_integrity_and_set_variable() {
    // s7comm/s7comm_plus.pcap frame 7: SetVariable (a subscription credit)
    // behind a 32-octet digest; the request expects no response.
    let mut d = vec![0x20];
    d.extend_from_slice(&[0xab; 32]);
    d.extend_from_slice(&hex(
        "31000004f20000831a70000e4d7470000e5101881d000700ce000004e8",
    ));
    let p = plus::parse_pdu(3, &d).unwrap();
    assert_eq!(p.digest.map(<[u8]>::len), Some(32));
    assert_eq!(p.function, Some(PlusFunction::SET_VARIABLE));
    assert_eq!(p.sequence, Some(0x831a));
    assert!(p.no_response_expected());
    let sv = p.set_variable().unwrap();
    assert_eq!(sv.object_id, 0x70000e51);
    assert_eq!(sv.addresses(), &[1053]);
    assert_eq!((sv.datatype, sv.value), (0x07, Some(0xce)));
    assert!(!sv.is_operating_state_request());
    // A stop request: object 52, attribute 2167 (VLQ 0x90 0x77), UDInt 1.
    let mut d = hex("31000004f200000005000003c034");
    d.extend_from_slice(&hex("0000003401907700040100000000"));
    let p = plus::parse_pdu(2, &d).unwrap();
    let sv = p.set_variable().unwrap();
    assert!(sv.is_operating_state_request());
    assert_eq!(sv.value, Some(1));
}

#[test]
fn vlq() {
    let mut c = crate::cursor::Cursor::new(&[0x87, 0x40]);
    assert_eq!(plus::vlq_u32(&mut c), Some(960));
    let mut c = crate::cursor::Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(plus::vlq_u32(&mut c), None);
    let mut c = crate::cursor::Cursor::new(&[0xff; 9]);
    assert_eq!(plus::vlq_u64(&mut c), Some(u64::MAX));
}

#[test]
fn probe_decides_by_the_s7_payload() {
    let setup = hex("0300001902f08032010000000000080000f0000001000101e0");
    assert_eq!(probe(&setup, false), Probe::Match);
    assert_eq!(probe(&setup, true), Probe::Match);
    assert_eq!(probe(&setup[..10], false), Probe::Match);
    assert_eq!(probe(&setup[..3], false), Probe::NeedMore);
    let cr = hex("0300001611e00000000100c0010ac1020100c2020101");
    assert_eq!(probe(&cr, false), Probe::Match);
    assert_eq!(probe(&cr, true), Probe::NeedMore);
    let mut cr_dt = cr.clone();
    cr_dt.extend_from_slice(&setup);
    assert_eq!(probe(&cr_dt, true), Probe::Match);
    // ISO transport carrying an ISO session SPDU (MMS), not S7.
    let mms = hex("0300000b02f0800d0203");
    assert_eq!(probe(&mms, false), Probe::NoMatch);
    assert_eq!(probe(b"GET / HTTP/1.1\r\n", false), Probe::NoMatch);
    let plus = hex("720200103200000542000000023400000000000072020000");
    let mut t = hex("0300001f02f080");
    t.extend_from_slice(&plus);
    assert_eq!(probe(&t, true), Probe::Match);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = probe(&b, true);
        let _ = probe(&b, false);
        let _ = Tpkt::parse(&b);
        let _ = parse_tpdu(&b);
        if let Ok(p) = parse_pdu(&b) {
            if let Some(j) = pdu::parse_job(p.param) {
                if let JobParam::ReadVar(i) | JobParam::WriteVar(i) = j {
                    let _ = i.iter().count();
                    let _ = i.inconsistent();
                }
                if let JobParam::Pi(_, pi) = j {
                    let _ = pi.blocks().count();
                }
            }
            let _ = pdu::parse_ack(p.param);
            let _ = DataItems::new(p.data).count();
            let _ = pdu::block_data(p.data);
        }
        if let Some(j) = pdu::parse_job(&b) {
            let _ = j.function();
        }
        let _ = userdata::parse_param(&b);
        if let Some(d) = userdata::parse_data(&b) {
            if let Some(s) = userdata::szl_response(d.payload) {
                for r in s.records() {
                    let _ = userdata::module_identification(r).map(|m| m.version());
                    let _ = userdata::component(r);
                }
            }
            let _ = userdata::block_counts(d.payload).count();
            let _ = userdata::block_entries(d.payload).count();
            let _ = userdata::block_info(d.payload);
            let _ = userdata::s7_time(d.payload);
        }
        if let Ok(f) = plus::parse_fragment(&b) {
            if let Ok(p) = plus::parse_pdu(f.version, f.data) {
                let _ = p.set_variable();
                let _ = p.object_id();
                let _ = p.names_download_transaction();
            }
        }
        for v in [1u8, 2, 3] {
            if let Ok(p) = plus::parse_pdu(v, &b) {
                let _ = p.set_variable();
            }
        }
    }

    #[test]
    fn block_timestamps_never_panic(ms in any::<u32>(), days in any::<u16>()) {
        let s = userdata::block_timestamp(ms, days);
        prop_assert_eq!(s.len(), 23);
    }
}
