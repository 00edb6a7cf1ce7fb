use proptest::prelude::*;

use super::services::{self, ServiceId};
use super::*;

/// Test vectors live for the whole test run.
fn hex(s: &str) -> &'static [u8] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.leak()
}

// Messages of a python-opcua session (Hello, OpenSecureChannel with policy
// None, CreateSession, ActivateSession) and an open62541 GetEndpoints
// response, as captured (shared corpus, opcua/).
const HEL: &str = "48454c464a00000000000000000001000000010000000000000000002a0000006f70632e7463703a2f2f6c6f63616c686f73743a343834302f667265656f706375612f7365727665722f";
const OPN: &str = "4f504e4684000000000000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100be010000647cf1a8e973d5010100000000000000ffffffffe80300000000000000000000000000010000000000000080ee3600";
const OPN_RESPONSE: &str = "4f504e4687000000090000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65ffffffffffffffff01000000010000000100c1017e94f1a8e973d5010100000000000000000000000000000000000000090000000e0000001a94f1a8e973d50180ee360000000000";
const CREATE_SESSION: &str = "4d5347461f010000090000000e00000002000000020000000100cd01000038b2f1a8e973d5010200000000000000ffffffffe80300000000001400000075726e3a667265656f706375613a636c69656e741e00000075726e3a667265656f706375612e6769746875622e696f3a636c69656e7402120000005075726520507974686f6e20436c69656e7401000000ffffffffffffffff00000000ffffffff2a0000006f70632e7463703a2f2f6c6f63616c686f73743a343834302f667265656f706375612f7365727665722f1b0000005075726520507974686f6e20436c69656e742053657373696f6e3120000000c544de7293e5170aaeadb0abec732f035e0b82fed67c1c4728b2a9b3953f0a88ffffffff0000000040774b4100000000";
const CREATE_SESSION_RESPONSE: &str = "4d5347466a020000090000000e00000002000000020000000100d00172d2f1a8e973d501020000000000000000000000000000000200000e000000020000ec0300000000000040774b4120000000664e801ed546fa9aca0d082d04bda28cf690b22cead9a8a4b22bac523b91cfbfffffffff010000002a0000006f70632e7463703a2f2f3132372e302e302e313a343834302f667265656f706375612f7365727665722f1b00000075726e3a667265656f706375613a707974686f6e3a7365727665722500000075726e3a667265656f706375612e6769746875622e696f3a707974686f6e3a7365727665720217000000467265654f7063556120507974686f6e2053657276657202000000ffffffffffffffff01000000280000006f70632e7463703a2f2f302e302e302e303a343834302f667265656f706375612f7365727665722fffffffff010000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e650300000009000000616e6f6e796d6f757300000000ffffffffffffffffffffffff1a00000063657274696669636174655f626173696332353673686132353602000000ffffffffffffffffffffffff08000000757365726e616d6501000000ffffffffffffffffffffffff41000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412d50726f66696c652f5472616e73706f72742f75617463702d756173632d756162696e61727900000000002a000000687474703a2f2f7777772e77332e6f72672f323030302f30392f786d6c64736967237273612d736861310000000000000100";
const ACTIVATE_SESSION: &str = "4d5347469c000000090000000e00000003000000030000000100d301020000ec030000e004f2a8e973d5010300000000000000ffffffffe80300000000002a000000687474703a2f2f7777772e77332e6f72672f323030302f30392f786d6c64736967237273612d7368613100000000000000000100000002000000656e01004101010d00000009000000616e6f6e796d6f7573ffffffffffffffff";
const GET_ENDPOINTS_RESPONSE: &str = "4d534746dc010000050000000500000002000000020000000100af016289a5f275cad501010000000000000000ffffffff00000001000000180000006f70632e7463703a2f2f6c6f63616c686f73743a343834302000000075726e3a6f70656e36323534312e7365727665722e6170706c69636174696f6e14000000687474703a2f2f6f70656e36323534312e6f72670302000000656e220000006f70656e36323534312d6261736564204f5043205541204170706c69636174696f6e00000000ffffffffffffffffffffffffffffffff010000002f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e65020000001a0000006f70656e36323534312d616e6f6e796d6f75732d706f6c69637900000000ffffffffffffffffffffffff190000006f70656e36323534312d757365726e616d652d706f6c69637901000000ffffffffffffffff2f000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412f5365637572697479506f6c696379234e6f6e6541000000687474703a2f2f6f7063666f756e646174696f6e2e6f72672f55412d50726f66696c652f5472616e73706f72742f75617463702d756173632d756162696e61727901";

#[test]
fn hello() {
    let b = hex(HEL);
    let h = Header::parse(b).unwrap();
    assert_eq!(h.message_type, MessageType::Hello);
    assert_eq!((h.chunk_type, h.size as usize), (b'F', b.len()));
    let hello = Hello::parse(&b[HEADER_LEN..]).unwrap();
    assert_eq!(hello.protocol_version, 0);
    assert_eq!(hello.receive_buffer_size, 65536);
    assert_eq!(
        hello.endpoint_url.unwrap(),
        b"opc.tcp://localhost:4840/freeopcua/server/"
    );
    assert_eq!(MessageType::Hello.number(), 0x48454c);
    assert_eq!(probe(b, true), Probe::Match);
    assert_eq!(probe(&b[..20], true), Probe::NeedMore);
    assert_eq!(probe(b"HE", true), Probe::NeedMore);
    assert_eq!(probe(b"GET / HTTP/1.1\r\n", false), Probe::NoMatch);
}

#[test]
fn open_secure_channel_with_policy_none() {
    let c = Chunk::parse(hex(OPN)).unwrap();
    assert_eq!(c.channel_id, 0);
    let Security::Asymmetric {
        policy_uri,
        certificate_len,
        thumbprint,
    } = c.security
    else {
        panic!()
    };
    assert_eq!(policy_uri, Some(POLICY_NONE));
    assert_eq!((certificate_len, thumbprint), (0, false));
    let (seq, req, body) = c.sequence().unwrap();
    assert_eq!((seq, req), (1, 1));
    let s = Service::parse(body).unwrap();
    assert_eq!(s.id, Some(ServiceId::OPEN_SECURE_CHANNEL_REQUEST));
    assert_eq!(s.request_header.unwrap().request_handle, 1);
    let o = services::open_request(s.params).unwrap();
    assert_eq!(
        (o.request_type, o.security_mode, o.lifetime),
        (Some(0), Some(1), 3_600_000)
    );
    assert_eq!(probe(hex(OPN), true), Probe::Match);

    let c = Chunk::parse(hex(OPN_RESPONSE)).unwrap();
    let (_, req, body) = c.sequence().unwrap();
    assert_eq!(req, 1);
    let s = Service::parse(body).unwrap();
    assert_eq!(s.id, Some(ServiceId::OPEN_SECURE_CHANNEL_RESPONSE));
    assert!(s.id.unwrap().is_response());
    assert_eq!(s.response_header.unwrap().service_result, 0);
    let o = services::open_response(s.params).unwrap();
    assert_eq!(o.token, Some((9, 14)));
}

#[test]
fn create_and_activate_session() {
    let c = Chunk::parse(hex(CREATE_SESSION)).unwrap();
    assert_eq!(c.channel_id, 9);
    assert_eq!(c.security, Security::Symmetric { token_id: 14 });
    let (_, req, body) = c.sequence().unwrap();
    assert_eq!(req, 2);
    let s = Service::parse(body).unwrap();
    assert_eq!(s.id, Some(ServiceId::CREATE_SESSION_REQUEST));
    let r = services::create_session_request(s.params).unwrap();
    assert_eq!(r.client.application_uri.unwrap(), b"urn:freeopcua:client");
    assert_eq!(
        r.client.product_uri.unwrap(),
        b"urn:freeopcua.github.io:client"
    );
    assert_eq!(
        r.client.application_name.text.unwrap(),
        b"Pure Python Client"
    );
    assert_eq!(application_type_name(r.client.application_type), "client");
    assert_eq!(r.session_name.unwrap(), b"Pure Python Client Session1");

    let c = Chunk::parse(hex(CREATE_SESSION_RESPONSE)).unwrap();
    let (_, req, body) = c.sequence().unwrap();
    assert_eq!(req, 2);
    let s = Service::parse(body).unwrap();
    assert_eq!(s.id, Some(ServiceId::CREATE_SESSION_RESPONSE));
    let (_, mut endpoints) = services::create_session_response(s.params).unwrap();
    assert!(endpoints.count >= 1);
    let e = endpoints.next().unwrap();
    // python-opcua's server calls itself a client and server.
    assert_eq!(
        application_type_name(e.server.application_type),
        "client_and_server"
    );
    assert_eq!(
        e.server.application_uri.unwrap(),
        b"urn:freeopcua:python:server"
    );
    assert_eq!(
        e.server.application_name.text.unwrap(),
        b"FreeOpcUa Python Server"
    );

    let c = Chunk::parse(hex(ACTIVATE_SESSION)).unwrap();
    let (_, _, body) = c.sequence().unwrap();
    let s = Service::parse(body).unwrap();
    assert_eq!(s.id, Some(ServiceId::ACTIVATE_SESSION_REQUEST));
    let t = services::activate_session_token(s.params).unwrap();
    assert_eq!(services::identity_token_name(t), "anonymous");
}

#[test]
fn get_endpoints_response_names_the_server() {
    let c = Chunk::parse(hex(GET_ENDPOINTS_RESPONSE)).unwrap();
    let (_, _, body) = c.sequence().unwrap();
    let s = Service::parse(body).unwrap();
    assert_eq!(s.id, Some(ServiceId::GET_ENDPOINTS_RESPONSE));
    assert_eq!(s.response_header.unwrap().request_handle, 1);
    let mut it = services::get_endpoints_response(s.params).unwrap();
    assert_eq!(it.count, 1);
    let e = it.next().unwrap();
    assert_eq!(e.endpoint_url.unwrap(), b"opc.tcp://localhost:4840");
    assert_eq!(
        e.server.application_uri.unwrap(),
        b"urn:open62541.server.application"
    );
    assert_eq!(e.server.product_uri.unwrap(), b"http://open62541.org");
    assert_eq!(e.server.application_name.locale.unwrap(), b"en");
    assert_eq!(
        e.server.application_name.text.unwrap(),
        b"open62541-based OPC UA Application"
    );
    assert_eq!(e.server.application_type, 0);
    assert_eq!(e.security_mode, 1);
    assert_eq!(e.security_policy_uri.unwrap(), POLICY_NONE);
    assert_eq!(e.security_level, 1);
    assert!(it.next().is_none());
}

#[test]
fn service_names_and_operations() {
    use plantshield_events::Operation;
    assert_eq!(ServiceId(631).name(), "read");
    assert_eq!(ServiceId(634).name(), "read");
    assert_eq!(ServiceId(634).request(), Some(ServiceId(631)));
    assert_eq!(ServiceId(631).operation(), Operation::Read);
    assert_eq!(ServiceId(676).operation(), Operation::Write);
    assert_eq!(ServiceId(712).operation(), Operation::Command);
    assert_eq!(ServiceId(461).operation(), Operation::Session);
    assert_eq!(ServiceId(428).operation(), Operation::Discovery);
    assert_eq!(ServiceId(826).operation(), Operation::Read);
    assert_eq!(ServiceId(397).name(), "service_fault");
    assert!(ServiceId(397).is_response());
    assert_eq!(ServiceId(1).name(), "unknown");
    assert!(status_is_bad(0x8034_0000));
}

#[test]
fn headers_are_checked() {
    assert_eq!(
        Header::parse(b"MSGX\x10\0\0\0"),
        Err(HeaderError::ChunkType(b'X'))
    );
    assert_eq!(
        Header::parse(b"HELC\x10\0\0\0"),
        Err(HeaderError::ChunkType(b'C'))
    );
    assert_eq!(Header::parse(b"MSGF\x04\0\0\0"), Err(HeaderError::Size(4)));
    assert_eq!(
        Header::parse(b"XYZF\x10\0\0\0"),
        Err(HeaderError::MessageType)
    );
    assert_eq!(Header::parse(b"MSG"), Err(HeaderError::Incomplete));
    assert!(Header::parse(b"MSGC\x10\0\0\0").is_ok());
}

#[test]
fn node_ids() {
    let mut d = Decoder::new(&[0x01, 0x00, 0x77, 0x02]);
    assert_eq!(d.node_id(), Some(NodeId::Numeric(0, 631)));
    let mut d = Decoder::new(&[0x03, 0x02, 0x00, 0x03, 0, 0, 0, b'a', b'b', b'c']);
    let n = d.node_id().unwrap();
    assert_eq!(n.text(), "ns=2;s=abc");
    assert_eq!(NodeId::Numeric(0, 85).text(), "i=85");
    let mut d = Decoder::new(&[0x06]);
    assert_eq!(d.node_id(), None);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = probe(&b, true);
        let _ = probe(&b, false);
        let _ = Header::parse(&b);
        let body = b.get(HEADER_LEN..).unwrap_or(&[]);
        let _ = Hello::parse(body);
        let _ = Acknowledge::parse(body);
        let _ = ErrorMessage::parse(body);
        if let Some(c) = Chunk::parse(&b) {
            if let Some((_, _, body)) = c.sequence() {
                if let Some(s) = Service::parse(body) {
                    let _ = services::open_request(s.params);
                    let _ = services::open_response(s.params);
                    let _ = services::create_session_request(s.params);
                    if let Some((_, e)) = services::create_session_response(s.params) {
                        for _ in e {}
                    }
                    if let Some(e) = services::get_endpoints_response(s.params) {
                        for _ in e {}
                    }
                    let _ = services::activate_session_token(s.params);
                    for id in [631, 673, 712, 527] {
                        let _ = services::first_nodes(ServiceId(id), s.params);
                    }
                }
            }
        }
        // The same bytes as service bodies.
        if let Some(s) = Service::parse(&b) {
            let _ = s.type_id.text();
            let _ = services::create_session_request(&b);
            if let Some(e) = services::get_endpoints_response(&b) {
                prop_assert!(e.count <= b.len());
                for _ in e {}
            }
        }
    }
}
