use proptest::prelude::*;

use super::*;

/// Test vectors live for the whole test run.
fn hex(s: &str) -> &'static [u8] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.leak()
}

// Payloads after the EtherType of frames of the shared corpus
// (profinet/ChangeIPUsingDCP.pcap and profinet_io_cm_mixed_1.pcap).
const IDENTIFY_ALL: &str =
    "fefe05000100000100010004ffff00000000000000000000000000000000000000000000000000000000";
const IDENTIFY_RESPONSE: &str = "feff0501010000010000005e0205001c00000101010202010202020302040205033d0501050205030504ffff020100050000494e43000202000b0000583230382d424f524400020300060000002a0a0102040004000001000102000e0001c0a80006ffffff00c0a80001";
const SET_IP: &str =
    "fefd040001000001000000120102000e0001c0a8000affffff00c0a80001000000000000000000000000";
const SET_RESPONSE: &str =
    "fefd0401010000010000000805040003010200000000000000000000000000000000000000000000000000000000";

#[test]
fn identify_all_request() {
    let m = DcpMessage::parse(hex(IDENTIFY_ALL)).unwrap();
    assert_eq!(m.frame_id, FRAME_IDENTIFY_REQUEST);
    assert_eq!(
        (m.service_id, m.service_type),
        (ServiceId::IDENTIFY, ServiceType(0))
    );
    assert_eq!(
        (m.xid, m.response_delay, m.data_length),
        (0x0100_0001, 1, 4)
    );
    assert!(m.flags.is_empty());
    let b: Vec<Block> = m.blocks().collect();
    assert_eq!(b.len(), 1);
    assert_eq!(BlockValue::of(&b[0]), BlockValue::All);
    assert!(!m.blocks_malformed());
}

#[test]
fn identify_response_names_the_device() {
    let m = DcpMessage::parse(hex(IDENTIFY_RESPONSE)).unwrap();
    assert_eq!(m.frame_id, FRAME_IDENTIFY_RESPONSE);
    assert!(m.service_type.is_response());
    assert_eq!(m.service_type.name(), "response_success");
    let values: Vec<BlockValue> = m.blocks().map(|b| BlockValue::of(&b)).collect();
    assert_eq!(values.len(), 6);
    assert!(matches!(values[0], BlockValue::Options(o) if o.len() == 26));
    assert_eq!(values[1], BlockValue::VendorValue(b"INC"));
    assert_eq!(values[2], BlockValue::NameOfStation(b"X208-BORD"));
    assert_eq!(
        values[3],
        BlockValue::DeviceId {
            vendor_id: 0x002a,
            device_id: 0x0a01
        }
    );
    assert_eq!(values[4], BlockValue::Role(1));
    assert_eq!(role_names(1).collect::<Vec<_>>(), ["io_device"]);
    assert_eq!(
        values[5],
        BlockValue::Ip {
            ip: Ipv4Addr::new(192, 168, 0, 6),
            mask: Ipv4Addr::new(255, 255, 255, 0),
            gateway: Ipv4Addr::new(192, 168, 0, 1)
        }
    );
    let ip_block = m.blocks().last().unwrap();
    assert_eq!(ip_block.qualifier.map(ip_block_info_name), Some("ip_set"));
    assert!(!m.blocks_malformed());
}

#[test]
fn set_ip_and_its_response() {
    let m = DcpMessage::parse(hex(SET_IP)).unwrap();
    assert_eq!(
        (m.service_id.name(), m.service_type.name()),
        ("set", "request")
    );
    let b = m.blocks().next().unwrap();
    assert_eq!(b.qualifier, Some(1));
    assert_eq!(block_name(b.option, b.suboption), "ip_parameter");
    assert!(
        matches!(BlockValue::of(&b), BlockValue::Ip { ip, .. } if ip == Ipv4Addr::new(192, 168, 0, 10))
    );
    assert_eq!(ServiceId::SET.operation(), Operation::Configuration);

    let r = DcpMessage::parse(hex(SET_RESPONSE)).unwrap();
    let b: Vec<BlockValue> = r.blocks().map(|b| BlockValue::of(&b)).collect();
    assert_eq!(
        b,
        [BlockValue::Response {
            option: 1,
            suboption: 2,
            error: 0
        }]
    );
    assert_eq!(r.xid, m.xid);
}

#[test]
fn identify_filter_by_name() {
    // The block length (0x13 = 19) covers "siemens-x208-switch"; one pad octet follows.
    let mut v = hex("fefe05000300000400010018020200").to_vec();
    v.push(0x13);
    v.extend_from_slice(b"siemens-x208-switch");
    v.push(0);
    let m = DcpMessage::parse(&v).unwrap();
    let b: Vec<BlockValue> = m.blocks().map(|b| BlockValue::of(&b)).collect();
    assert_eq!(b, [BlockValue::NameOfStation(b"siemens-x208-switch")]);
}

#[test]
fn truncated_and_foreign_frames() {
    assert_eq!(
        DcpMessage::parse(hex("c000")),
        Err(DcpError::NotDcp(0xc000))
    );
    assert_eq!(DcpMessage::parse(hex("fefe0500")), Err(DcpError::Truncated));
    // Data length past the frame.
    let m = DcpMessage::parse(hex("fefe050001000001000100ffffff0000")).unwrap();
    assert!(m.flags.has(Flags::LENGTH_MISMATCH));
    // A block running past the data.
    let m = DcpMessage::parse(hex("feff050100000001000000060202000a0000")).unwrap();
    assert!(m.blocks_malformed());
    // Identify on the Get/Set frame id.
    let m = DcpMessage::parse(hex("fefd05000000000100000000")).unwrap();
    assert!(m.flags.has(Flags::FRAME_ID_MISMATCH));
}

#[test]
fn get_request_lists_pairs() {
    let m = DcpMessage::parse(hex("fefd0300000000070000000402020203")).unwrap();
    let b: Vec<(u8, u8)> = m.blocks().map(|b| (b.option, b.suboption)).collect();
    assert_eq!(b, [(2, 2), (2, 3)]);
}

proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = DcpMessage::parse(&b) {
            let mut n = 0;
            for blk in m.blocks() {
                let _ = BlockValue::of(&blk);
                let _ = block_name(blk.option, blk.suboption);
                n += 1;
            }
            prop_assert!(n <= MAX_BLOCKS);
            let _ = m.blocks_malformed();
        }
        let mut v = vec![0xfe, 0xfc + (b.first().copied().unwrap_or(0) & 3)];
        v.extend_from_slice(&b);
        if let Ok(m) = DcpMessage::parse(&v) {
            for blk in m.blocks() {
                let _ = BlockValue::of(&blk);
            }
        }
    }
}
