//! Messages from the specifications' layouts and from real devices (the
//! corpus captures named below), the EPATH segment kinds, and arbitrary
//! bytes through every entry point.

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

fn split(pdu: &[u8]) -> (Header, &[u8]) {
    let h = Header::parse(pdu).unwrap();
    assert_eq!(h.pdu_len(), pdu.len(), "length field covers the data");
    (h, &pdu[HEADER_LEN..])
}

/// The CIP message of a SendRRData / SendUnitData body.
fn cip_of<'a>(h: &Header, data: &'a [u8], reply: bool) -> (Message<'a>, &'a [u8]) {
    let Body::Send { cpf, .. } = parse_body(h, data, reply) else {
        panic!("not a send body")
    };
    let m = cpf.message();
    let msg = match m.address {
        Address::Connected { .. } => m.sequenced_data().unwrap().1,
        _ => m.data,
    };
    (m, msg)
}

#[test]
fn header_fields_and_round_trip() {
    // enip_test.pcap frame 6: a ListIdentity request over TCP.
    let b = hex("63000000000000000000000000000000c1debed100000000");
    let h = Header::parse(&b).unwrap();
    assert_eq!(h.command, Command::LIST_IDENTITY);
    assert_eq!(h.command.name(), "list_identity");
    assert_eq!(h.length, 0);
    assert_eq!(h.status.name(), "success");
    assert_eq!(h.sender_context, [0, 0, 0, 0, 0xc1, 0xde, 0xbe, 0xd1]);
    assert_eq!(parse_body(&h, &[], false), Body::Empty);
    let mut out = Vec::new();
    h.emit(&mut out);
    assert_eq!(out, b);

    assert_eq!(Header::parse(&b[..23]), Err(HeaderError::Incomplete));
    let mut bad = b.clone();
    bad[20] = 1;
    assert_eq!(Header::parse(&bad), Err(HeaderError::Options(1)));
    let mut long = b.clone();
    long[2] = 0xff;
    long[3] = 0xff;
    assert_eq!(Header::parse(&long), Err(HeaderError::Length(0xffff)));
    long[2] = 0xe7; // 65511: the largest data portion
    assert!(Header::parse(&long).is_ok());
}

#[test]
fn command_and_status_names() {
    let named = [
        (0x0000, "nop"),
        (0x0004, "list_services"),
        (0x0063, "list_identity"),
        (0x0064, "list_interfaces"),
        (0x0065, "register_session"),
        (0x0066, "unregister_session"),
        (0x006F, "send_rr_data"),
        (0x0070, "send_unit_data"),
        (0x0001, "reserved_legacy"),
        (0x0200, "unknown"),
    ];
    for (c, n) in named {
        assert_eq!(Command(c).name(), n);
    }
    assert_eq!(Command(0x0063).operation(), Operation::Discovery);
    assert_eq!(Command(0x0065).operation(), Operation::Session);
    assert_eq!(Command(0x0070).operation(), Operation::Other);
    assert!(!Command(0x0066).expects_reply());
    assert_eq!(EncapStatus(0x64).name(), "invalid_session_handle");
    assert_eq!(EncapStatus(0x1234).name(), "unknown");
}

#[test]
fn list_identity_reply_from_a_1756_enbt() {
    // enip_test.pcap frame 7.
    let b = hex(
        "63003300000000000000000000000000c1debed10000000001000c002d0001000002af120a0101a4\
         000000000000000001000c003a00040330008e4d52000b313735362d454e42542f4103",
    );
    let (h, data) = split(&b);
    let Body::ListIdentity {
        item_count: 1,
        identity: Some(li),
    } = parse_body(&h, data, true)
    else {
        panic!("{:?}", parse_body(&h, data, true))
    };
    assert_eq!(li.encapsulation_version, 1);
    assert_eq!((li.socket_family, li.socket_port), (2, 44818));
    assert_eq!(li.socket_addr, [10, 1, 1, 164]);
    let id = li.identity;
    assert_eq!(id.vendor_id.name(), "rockwell_automation_allen_bradley");
    assert_eq!(id.device_type.name(), "communications_adapter");
    assert_eq!(id.product_code, 58);
    assert_eq!((id.revision_major, id.revision_minor), (4, 3));
    assert_eq!(id.status, 0x0030);
    assert_eq!(id.serial_number, 0x0052_4d8e);
    assert_eq!(id.product_name, b"1756-ENBT/A");
    assert_eq!(id.state.map(|s| s.name()), Some("operational"));
    // A reply cut short: the item no longer fits its length.
    assert!(matches!(
        parse_body(&h, &data[..data.len() - 1], true),
        Body::Malformed { .. }
    ));
}

#[test]
fn register_session_and_list_services() {
    let mut b = Vec::new();
    Header {
        command: Command::REGISTER_SESSION,
        length: 4,
        session_handle: 0,
        status: EncapStatus(0),
        sender_context: [0; 8],
        options: 0,
    }
    .emit(&mut b);
    b.extend_from_slice(&[1, 0, 0, 0]);
    let (h, d) = split(&b);
    assert_eq!(
        parse_body(&h, d, false),
        Body::RegisterSession {
            protocol_version: 1,
            options_flags: 0
        }
    );
    assert!(matches!(
        parse_body(&h, &d[..3], false),
        Body::Malformed { .. }
    ));
    // ListServices reply: one item 0x0100, version 1, flags 0x0120, "Communications".
    let mut data = hex("0100 0001 1400 0100 2001");
    data.extend_from_slice(b"Communications\0\0");
    let h = Header {
        command: Command::LIST_SERVICES,
        length: data.len() as u16,
        ..h
    };
    assert_eq!(
        parse_body(&h, &data, true),
        Body::ListServices {
            item_count: 1,
            version: 1,
            capability_flags: 0x0120,
            name: b"Communications"
        }
    );
    // The same bytes in a request are not a service list.
    assert_eq!(parse_body(&h, &data, false), Body::Raw(&data));
}

#[test]
fn unconnected_send_of_get_attributes_all_to_identity() {
    // ControlLogix_Logix5000_download_upload_run.pcap frames 221 and 222.
    let q = hex(
        "6f00240000020213000000000b0000004051d20000000000000000002000020000000000b200140052022006\
         240107f9060001022001240101000100",
    );
    let (h, d) = split(&q);
    assert_eq!(h.command, Command::SEND_RR_DATA);
    assert_eq!(h.session_handle, 0x1302_0200);
    let (m, msg) = cip_of(&h, d, false);
    assert_eq!(m.address, Address::Null);
    assert_eq!(m.data_type, Some(ItemType::UNCONNECTED_DATA));
    assert!(!is_response(msg));
    let r = parse_request(msg).unwrap();
    let t = Target::of(&r.path.info());
    assert_eq!(t, Target::Class(ClassId::CONNECTION_MANAGER));
    assert_eq!(r.service.name(t), "unconnected_send");
    let us = UnconnectedSend::parse(r.data).unwrap();
    assert_eq!((us.priority_time_tick, us.timeout_ticks), (0x07, 0xf9));
    assert_eq!(us.route_path.to_text(), "port 1 link 0");
    let inner = parse_request(us.message).unwrap();
    let it = Target::of(&inner.path.info());
    assert_eq!(it, Target::Class(ClassId::IDENTITY));
    assert_eq!(inner.service.name(it), "get_attributes_all");
    assert_eq!(inner.service.operation(it), Operation::Read);
    assert_eq!(inner.path.to_text(), "class 0x01/instance 1");

    let a = hex(
        "6f00370000020213000000000b0000004051d20000000000000000002000020000000000b200270081000000\
         01000e0038000f0460318acd140014313735362d4c36332f41204c36785f31355f3331",
    );
    let (h, d) = split(&a);
    let (_, msg) = cip_of(&h, d, true);
    assert!(is_response(msg));
    let r = parse_response(msg).unwrap();
    assert_eq!(r.service, ServiceCode::GET_ATTRIBUTES_ALL);
    assert_eq!(r.general_status, GeneralStatus::SUCCESS);
    let id = Identity::parse(r.data).unwrap();
    assert_eq!(id.vendor_id.0, 1);
    assert_eq!(id.device_type.name(), "programmable_logic_controller");
    assert_eq!(id.product_code, 56);
    assert_eq!((id.revision_major, id.revision_minor), (15, 4));
    assert_eq!(id.status, 0x3160);
    assert_eq!(id.serial_number, 0x0014_cd8a);
    assert_eq!(id.product_name, b"1756-L63/A L6x_15_31");
    assert_eq!(id.state, None);
}

#[test]
fn forward_open_and_close() {
    // ControlLogix_Logix5000_download_upload_run.pcap frames 142 and 149.
    let q = hex(
        "6f0040000001021200000000050000000000000000000000000000000000020000000000b2003000540220062401\
         069b000000004905008049054d004561fa110200000080841e00f84380841e00f843a303010020022401",
    );
    let (h, d) = split(&q);
    let (_, msg) = cip_of(&h, d, false);
    let r = parse_request(msg).unwrap();
    let t = Target::of(&r.path.info());
    assert_eq!(r.service.name(t), "forward_open");
    assert_eq!(r.service.operation(t), Operation::Session);
    let fo = ForwardOpen::parse(r.data, false).unwrap();
    assert_eq!(fo.t_o_connection_id, 0x8000_0549);
    assert_eq!(fo.connection_serial, 0x0549);
    assert_eq!(fo.originator_vendor_id, 0x004d);
    assert_eq!(fo.originator_serial, 0x11fa_6145);
    assert_eq!(fo.timeout_multiplier, 2);
    assert_eq!((fo.o_t_rpi, fo.t_o_rpi), (2_000_000, 2_000_000));
    assert_eq!((fo.o_t_parameters, fo.t_o_parameters), (0x43f8, 0x43f8));
    assert_eq!(fo.transport_class(), 3);
    assert_eq!(
        fo.connection_path.to_text(),
        "port 1 link 0/class 0x02/instance 1"
    );

    let a = hex(
        "6f002e000001021200000000050000000000000000000000000000000000020000000000b2001e00d400000004\
         0951014905008049054d004561fa1180841e0080841e000000",
    );
    let (h, d) = split(&a);
    let (_, msg) = cip_of(&h, d, true);
    let r = parse_response(msg).unwrap();
    assert_eq!(r.service, ServiceCode::FORWARD_OPEN);
    let rep = ForwardOpenReply::parse(r.data).unwrap();
    assert_eq!(rep.o_t_connection_id, 0x0151_0904);
    assert_eq!(rep.t_o_connection_id, 0x8000_0549);
    assert_eq!(rep.connection_serial, fo.connection_serial);
    assert_eq!((rep.o_t_api, rep.t_o_api), (2_000_000, 2_000_000));
    assert!(rep.application_reply.is_empty());

    // Frame 140: Forward_Close of serial 0x054a, answered by frame 146.
    let q = hex(
        "6f0028000001021200000000040000000000000000000000000000000000020000000000b20018004e022006\
         2401069b4a054d004561fa110300010020022401",
    );
    let (h, d) = split(&q);
    let (_, msg) = cip_of(&h, d, false);
    let r = parse_request(msg).unwrap();
    assert_eq!(r.service.name(Target::of(&r.path.info())), "forward_close");
    let fc = ForwardClose::parse(r.data).unwrap();
    assert_eq!(fc.connection_serial, 0x054a);
    assert_eq!(
        fc.connection_path.to_text(),
        "port 1 link 0/class 0x02/instance 1"
    );
    let a = hex(
        "6f001e000001021200000000040000000000000000000000000000000000020000000000b2000e00ce000000\
         4a054d004561fa110000",
    );
    let (h, d) = split(&a);
    let (_, msg) = cip_of(&h, d, true);
    let r = parse_response(msg).unwrap();
    let rep = ForwardCloseReply::parse(r.data).unwrap();
    assert_eq!(rep.connection_serial, 0x054a);
    assert_eq!(rep.originator_serial, 0x11fa_6145);

    // Large_Forward_Open: 32-bit parameters.
    let lfo = hex("0a 0e 00000000 01000080 0100 4d00 45610000 01 000000 40420f00 2003 0042 40420f00 2003 0042 a3 02 2004 2401");
    let fo = ForwardOpen::parse(&lfo, true).unwrap();
    assert_eq!(
        (fo.o_t_parameters, fo.t_o_parameters),
        (0x4200_0320, 0x4200_0320)
    );
    assert_eq!(fo.connection_path.info().class, Some(4));
    assert!(
        ForwardOpen::parse(&lfo, false).is_some_and(|f| f.connection_path != fo.connection_path)
    );
    // Failure reply: serial, vendor, originator serial, remaining path size.
    let f = ConnectionFailure::parse(&hex("4a05 4d00 4561fa11 03 00")).unwrap();
    assert_eq!(f.remaining_path_size, Some(3));
}

#[test]
fn epath_segment_kinds() {
    // 8/16/32-bit logical formats, padded.
    let p_bytes = hex("2001 2500 3412 2603 0000 0100 3007 2c05 2802");
    let p = Epath::new(&p_bytes);
    let info = p.info();
    assert_eq!(info.class, Some(1));
    assert_eq!(info.instance, Some(0x0001_0000)); // the last instance segment
    assert_eq!(info.attribute, Some(7));
    assert_eq!(info.connection_point, Some(5));
    assert_eq!(info.member, Some(2));
    assert_eq!(info.error, None);
    // 16-bit class; an instance before a new class is forgotten.
    let p_bytes = hex("2100 3403 2401 2068");
    let p = Epath::new(&p_bytes);
    assert_eq!((p.info().class, p.info().instance), (Some(0x68), None));
    assert_eq!(p.to_text(), "class 0x334/instance 1/class 0x68");
    // Port with an extended link address (an IP address, padded).
    let mut b = vec![0x12, 11];
    b.extend_from_slice(b"10.1.1.1:44");
    b.push(0);
    b.extend_from_slice(&hex("0102"));
    let p = Epath::new(&b);
    let segs: Vec<_> = p.segments().collect();
    assert_eq!(
        segs[0],
        Ok(Segment::Port {
            port: 2,
            link: b"10.1.1.1:44"
        })
    );
    assert_eq!(
        segs[1],
        Ok(Segment::Port {
            port: 1,
            link: &[2]
        })
    );
    assert!(p.info().port);
    // Port 15: an extended port number follows.
    let p_bytes = hex("0f 1200 05");
    let p = Epath::new(&p_bytes);
    assert_eq!(
        p.segments().next(),
        Some(Ok(Segment::Port {
            port: 0x12,
            link: &[5]
        }))
    );
    // Electronic key, network segment, simple data segment.
    let p_bytes = hex("3404 0100 0e00 3800 8f04 4305 8002 aabbccdd");
    let p = Epath::new(&p_bytes);
    let segs: Vec<_> = p.segments().map(Result::unwrap).collect();
    assert_eq!(
        segs[0],
        Segment::ElectronicKey {
            vendor_id: 1,
            device_type: 14,
            product_code: 56,
            major_revision: 0x8f,
            minor_revision: 4
        }
    );
    assert_eq!(
        segs[1],
        Segment::Network {
            kind: 0x43,
            data: &[5]
        }
    );
    assert_eq!(segs[2], Segment::Data(&hex("aabbccdd")));
    // Errors end the walk and are reported.
    assert_eq!(
        Epath::new(&hex("2401 25")).info().error,
        Some(PathError::Truncated)
    );
    assert_eq!(
        Epath::new(&hex("2303 0000")).info().error,
        Some(PathError::Reserved(0x23))
    );
    assert_eq!(
        Epath::new(&hex("e000")).info().error,
        Some(PathError::Reserved(0xe0))
    );
    let long: Vec<u8> = std::iter::repeat_n([0x24u8, 1], MAX_SEGMENTS + 1)
        .flatten()
        .collect();
    let p = Epath::new(&long);
    assert_eq!(p.segments().count(), MAX_SEGMENTS + 1);
    assert_eq!(p.info().error, Some(PathError::TooManySegments));
}

#[test]
fn tag_names_and_tag_services() {
    // Symbolic segments (ANSI extended, odd length padded), member segments.
    let mut b = vec![0x91, 12];
    b.extend_from_slice(b"Program:Main");
    b.extend_from_slice(&[0x91, 5]);
    b.extend_from_slice(b"Motor");
    b.push(0);
    b.extend_from_slice(&hex("2803 2904 0001"));
    b.extend_from_slice(&[0x91, 2]);
    b.extend_from_slice(b"Sp");
    let p = Epath::new(&b);
    assert_eq!(
        p.tag_name().as_deref(),
        Some("Program:Main.Motor[3,256].Sp")
    );
    assert_eq!(Target::of(&p.info()), Target::Tag);
    // A 0x60 symbolic segment.
    let p = Epath::new(&[0x63, b'a', b'b', b'c']);
    assert_eq!(p.tag_name().as_deref(), Some("abc"));
    assert_eq!(Epath::new(&hex("2001")).tag_name(), None);

    let t = Target::Tag;
    assert_eq!(ServiceCode(0x4c).name(t), "read_tag");
    assert_eq!(ServiceCode(0x4d).name(t), "write_tag");
    assert_eq!(ServiceCode(0x4e).name(t), "read_modify_write_tag");
    assert_eq!(ServiceCode(0x52).name(t), "read_tag_fragmented");
    assert_eq!(ServiceCode(0x53).name(t), "write_tag_fragmented");
    assert_eq!(ServiceCode(0x4d).operation(t), Operation::Write);
    assert_eq!(ServiceCode(0x52).operation(t), Operation::Read);

    assert_eq!(
        TagRequest::parse("read_tag", &hex("0a00")),
        Some(TagRequest::Read { elements: 10 })
    );
    let w = hex("c400 0200 ffffffff 05000000");
    let Some(TagRequest::Write {
        data_type,
        elements: 2,
        offset: None,
        data,
        ..
    }) = TagRequest::parse("write_tag", &w)
    else {
        panic!()
    };
    assert_eq!(data_type.name(), "dint");
    let v: Vec<Value> = data_type.values(data).unwrap().collect();
    assert_eq!(v, vec![Value::Int(-1), Value::Int(5)]);
    let w = hex("a002 3412 0100 08000000 0102");
    let Some(TagRequest::Write {
        struct_handle: Some(0x1234),
        offset: Some(8),
        data,
        ..
    }) = TagRequest::parse("write_tag_fragmented", &w)
    else {
        panic!()
    };
    assert_eq!(data, [1, 2]);
    // ndpi_ethernetIP.pcap frame 37: Read_Modify_Write_Tag data.
    assert_eq!(
        TagRequest::parse("read_modify_write_tag", &hex("0100 01 ff")),
        Some(TagRequest::ReadModifyWrite {
            mask_size: 1,
            or_mask: &[1],
            and_mask: &[0xff]
        })
    );
    let r_bytes = hex("ca00 0000c03f 000020c1");
    let r = TagReply::parse(&r_bytes).unwrap();
    let v: Vec<Value> = r.data_type.values(r.data).unwrap().collect();
    assert_eq!(v, vec![Value::Float(1.5), Value::Float(-10.0)]);
    let r_bytes = hex("c700 ffff");
    let r = TagReply::parse(&r_bytes).unwrap();
    assert_eq!(
        r.data_type.values(r.data).unwrap().collect::<Vec<_>>(),
        vec![Value::Uint(65535)]
    );
    assert!(DataType(0xd0).values(&[1, 2]).is_none());
}

#[test]
fn multiple_service_packet_entries() {
    // ndpi_ethernetIP.pcap frame 37: four Read_Modify_Write_Tag requests.
    let b = hex(
        "0a022002240104000a00280046006a004e0c91164c4d535f44495341424c455f3244534341\
         4e4e45523101 0001ff4e0c91164c4d535f44495341424c455f32445343414e4e455232010001ff4e0f911b\
         4c4d535f44495341424c455f424152434f44455f5343414e4e4552000100 00fe4e0f911b4c4d535f5345\
         54504f494e544348414e47455f5245434549564544000100 00fe",
    );
    let r = parse_request(&b).unwrap();
    let t = Target::of(&r.path.info());
    assert_eq!(t, Target::Class(ClassId::MESSAGE_ROUTER));
    assert_eq!(r.service.name(t), "multiple_service_packet");
    let l = ServiceList::parse(r.data).unwrap();
    assert_eq!(l.count, 4);
    assert!(l.is_well_formed());
    let names: Vec<String> = l
        .entries()
        .map(|e| {
            let q = parse_request(e.unwrap()).unwrap();
            assert_eq!(
                q.service.name(Target::of(&q.path.info())),
                "read_modify_write_tag"
            );
            q.path.tag_name().unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "LMS_DISABLE_2DSCANNER1",
            "LMS_DISABLE_2DSCANNER2",
            "LMS_DISABLE_BARCODE_SCANNER",
            "LMS_SETPOINTCHANGE_RECEIVED"
        ]
    );
    // An offset into the offset table, and one past the end.
    let bad = hex("0200 0400 0900 0e0220012401");
    let l = ServiceList::parse(&bad).unwrap();
    assert!(!l.is_well_formed());
    assert_eq!(l.entries().collect::<Vec<_>>(), vec![None, None]);
    let bad = hex("0200 0600 0c00 0e0220012401");
    let l = ServiceList::parse(&bad).unwrap();
    assert_eq!(l.entries().filter(Option::is_some).count(), 1);
    assert!(ServiceList::parse(&hex("0300 0800")).is_none());
}

#[test]
fn service_and_class_names_by_target() {
    let cm = Target::Class(ClassId::CONNECTION_MANAGER);
    assert_eq!(ServiceCode(0x4e).name(cm), "forward_close");
    assert_eq!(ServiceCode(0x52).name(cm), "unconnected_send");
    assert_eq!(ServiceCode(0x5b).name(cm), "large_forward_open");
    assert_eq!(ServiceCode(0x5b).operation(cm), Operation::Session);
    assert_eq!(
        ServiceCode(0x4e).name(Target::Unknown),
        "read_modify_write_tag"
    );
    assert_eq!(ServiceCode(0x54).name(Target::Unknown), "forward_open");
    let pccc = Target::Class(ClassId::PCCC);
    assert_eq!(ServiceCode(0x4b).name(pccc), "execute_pccc");
    assert_eq!(ServiceCode(0x4b).operation(pccc), Operation::Other);
    let file = Target::Class(ClassId::FILE);
    assert_eq!(ServiceCode(0x50).name(file), "download_transfer");
    assert_eq!(ServiceCode(0x50).operation(file), Operation::File);
    let logix = Target::Class(ClassId(0x6a));
    assert_eq!(ServiceCode(0x50).name(logix), "download_transfer");
    assert_eq!(
        ServiceCode(0x50).operation(logix),
        Operation::ProgramDownload
    );
    assert_eq!(ServiceCode(0x4f).operation(logix), Operation::ProgramUpload);
    assert_eq!(
        ServiceCode(0x08).operation(logix),
        Operation::ProgramDownload
    );
    assert_eq!(
        ServiceCode(0x08).operation(Target::Class(ClassId::ASSEMBLY)),
        Operation::Configuration
    );
    assert_eq!(
        ServiceCode(0x4b).name(Target::Class(ClassId(0xac))),
        "object_specific"
    );
    let id = Target::Class(ClassId::IDENTITY);
    for (code, op) in [
        (0x01, Operation::Read),
        (0x0e, Operation::Read),
        (0x10, Operation::Write),
        (0x04, Operation::Write),
        (0x05, Operation::ModeChange),
        (0x06, Operation::ModeChange),
        (0x07, Operation::ModeChange),
        (0x0a, Operation::Other),
    ] {
        assert_eq!(ServiceCode(code).operation(id), op, "{code:#x}");
    }
    assert_eq!(ServiceCode(0x40).name(id), "reserved");
    assert_eq!(ServiceCode(0x60).name(id), "object_specific");
    assert_eq!(ClassId(0x06).name(), "connection_manager");
    assert_eq!(ClassId(0xf5).name(), "tcp_ip_interface");
    assert_eq!(ClassId(0xac).name(), "vendor_specific");
    assert_eq!(ClassId(0x2000).name(), "unknown");
    assert_eq!(GeneralStatus(0x05).name(), "path_destination_unknown");
    assert_eq!(GeneralStatus(0x1e).name(), "embedded_service_error");
    assert_eq!(GeneralStatus(0x30).name(), "reserved");
    assert_eq!(GeneralStatus(0xd0).name(), "object_specific");
}

#[test]
fn response_with_extended_status() {
    // Forward_Open refused: connection in use (0x01 / 0x0100), with the
    // failure data and remaining path size.
    let b = hex("d4 00 01 01 0001 4a05 4d00 4561fa11 00 00");
    let r = parse_response(&b).unwrap();
    assert_eq!(r.general_status.name(), "connection_failure");
    assert_eq!(r.extended_status().collect::<Vec<_>>(), vec![0x0100]);
    let f = ConnectionFailure::parse(r.data).unwrap();
    assert_eq!(f.connection_serial, 0x054a);
    assert!(parse_response(&hex("d4 00 01 02 0001")).is_none());
    assert!(parse_request(&hex("0e 03 2001 24")).is_none());
}

#[test]
fn io_datagrams_and_probe() {
    // ndpi_cip_io.pcap frame 1.
    let io = hex("020002800800787b3a00e8cb5e04b1000c000300fdffffffffffffff0000");
    let p = parse_io(&io).unwrap();
    assert_eq!(p.connection_id, 0x003a_7b78);
    assert_eq!(p.sequence, Some(73_321_448));
    assert_eq!(p.data.len(), 12);
    assert_eq!(probe(&io, false), Probe::Match);
    assert_eq!(probe(&io, true), Probe::NoMatch);
    assert!(parse_io(&io[..io.len() - 1]).is_none());
    let mut extra = io.clone();
    extra.push(0);
    assert!(parse_io(&extra).is_none());

    let li = hex("63000000000000000000000000000000c1debed100000000");
    assert_eq!(probe(&li, true), Probe::Match);
    assert_eq!(probe(&li[..10], true), Probe::NeedMore);
    // A legacy command is accepted on the registered port only.
    let mut legacy = li.clone();
    legacy[0] = 1;
    assert_eq!(probe(&legacy, false), Probe::Match);
    assert_eq!(probe(&legacy, true), Probe::NoMatch);
    // Two messages, the second cut: wait for more.
    let mut two = li.clone();
    two.extend_from_slice(&li[..12]);
    assert_eq!(probe(&two, true), Probe::NeedMore);
    // Text is not EtherNet/IP.
    assert_eq!(
        probe(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false),
        Probe::NoMatch
    );
    assert_eq!(probe(b"GET / HTTP/1.1\r\nHost:", false), Probe::NoMatch);
    // A SendRRData whose item list does not fit is not probed as EtherNet/IP.
    let mut rr = hex("6f00 1000 00000000 00000000 0000000000000000 00000000 00000000 0000 0200 0000 0000 b200 0400");
    assert_eq!(probe(&rr, true), Probe::NoMatch);
    rr[2] = 0x14;
    rr.extend_from_slice(&[0x0e, 0x01, 0x20, 0x01]);
    assert_eq!(probe(&rr, true), Probe::Match);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = probe(&b, true);
        let _ = probe(&b, false);
        let _ = parse_io(&b);
        if let Ok(h) = Header::parse(&b) {
            let data = &b[HEADER_LEN..b.len().min(h.pdu_len())];
            for reply in [false, true] {
                if let Body::Send { cpf, .. } = parse_body(&h, data, reply) {
                    let m = cpf.message();
                    let _ = m.sequenced_data();
                    prop_assert!(m.data.len() <= data.len());
                }
            }
        }
        for reply in [false, true] {
            for cmd in [0x04u16, 0x63, 0x64, 0x65, 0x6f, 0x70] {
                let h = Header { command: Command(cmd), length: 0, session_handle: 0, status: EncapStatus(0), sender_context: [0; 8], options: 0 };
                let _ = parse_body(&h, &b, reply);
            }
        }
        if let Some(r) = parse_request(&b) {
            let info = r.path.info();
            let _ = r.path.tag_name();
            let _ = r.path.to_text();
            let t = Target::of(&info);
            let name = r.service.name(t);
            let _ = r.service.operation(t);
            let _ = TagRequest::parse(name, r.data);
            let _ = ForwardOpen::parse(r.data, true);
            let _ = ForwardOpen::parse(r.data, false);
            let _ = ForwardClose::parse(r.data);
            if let Some(u) = UnconnectedSend::parse(r.data) {
                prop_assert!(u.message.len() <= b.len());
                let _ = u.route_path.to_text();
            }
            if let Some(l) = ServiceList::parse(r.data) {
                let _ = l.is_well_formed();
                for e in l.entries().flatten() {
                    prop_assert!(e.len() <= b.len());
                    let _ = parse_request(e);
                }
            }
        }
        if let Some(r) = parse_response(&b) {
            let _ = r.extended_status().count();
            let _ = ForwardOpenReply::parse(r.data);
            let _ = ForwardCloseReply::parse(r.data);
            let _ = ConnectionFailure::parse(r.data);
            let _ = Identity::parse(r.data);
            if let Some(t) = TagReply::parse(r.data) {
                if let Some(v) = t.data_type.values(t.data) {
                    prop_assert!(v.count() <= b.len());
                }
            }
        }
        let _ = ListIdentityItem::parse(&b);
        let _ = SockAddr::parse(&b);
    }

    #[test]
    fn paths_of_arbitrary_segments_never_panic(b in proptest::collection::vec(any::<u8>(), 0..120)) {
        let p = Epath::new(&b);
        let n = p.segments().count();
        prop_assert!(n <= MAX_SEGMENTS + 1);
        let _ = p.info();
        let _ = p.tag_name();
        let _ = p.to_text();
    }
}
