//! OPC UA Binary: the pure parsers on arbitrary bytes (message header,
//! Hello, Acknowledge, Error, secure chunks, service bodies and the
//! service decoders), then a conversation on TCP port 4840 through the
//! whole sensor (framing, channels, chunks, pairing, JSON).
//!
//! Checks: nothing panics; message headers found in a stream have a size
//! of at least 8 and a type whose code reads back as the same type;
//! endpoint URLs, reasons, policy URIs, chunk rests, sequence bodies,
//! service parameters and the strings of endpoint descriptions lie inside
//! the bytes they were read from; an endpoint list yields no more than
//! its count; no flow is left after `finish`.
//!
//! Input: a mode byte (unused), then a conversation of records `[ctl][len
//! u16 LE][payload]` (see `fuzz/src/lib.rs`), in-order TCP segments of one
//! connection (bit 0 picks the sender). The parsers see each payload as a
//! stream of messages, and the input after the mode byte whole.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within};
use plantshield_protocols::opcua::services::{self, ServiceId};
use plantshield_protocols::opcua::{
    self, Chunk, Header, MessageType, Security, Service, HEADER_LEN,
};

fn opt(outer: &[u8], inner: Option<&[u8]>) {
    if let Some(i) = inner {
        within(outer, i);
    }
}

fn parsers(data: &[u8]) {
    let _ = opcua::probe(data, true);
    let _ = opcua::probe(data, false);
    // The bytes as a stream of messages, as the session frames them.
    let mut rest = data;
    while let Ok(h) = Header::parse(rest) {
        assert!(h.size as usize >= HEADER_LEN);
        let code: [u8; 3] = h.message_type.code().as_bytes().try_into().unwrap();
        assert_eq!(MessageType::from_bytes(code), Some(h.message_type));
        let end = (h.size as usize).min(rest.len());
        message(&rest[..end]);
        rest = &rest[end..];
    }
    message(data);
    service(data);
}

fn message(data: &[u8]) {
    let body = data.get(HEADER_LEN..).unwrap_or(&[]);
    if let Some(h) = opcua::Hello::parse(body) {
        opt(body, h.endpoint_url);
    }
    let _ = opcua::Acknowledge::parse(body);
    if let Some(e) = opcua::ErrorMessage::parse(body) {
        opt(body, e.reason);
    }
    if let Some(c) = Chunk::parse(data) {
        within(data, c.rest);
        if let Security::Asymmetric { policy_uri, .. } = c.security {
            opt(data, policy_uri);
        }
        if let Some((_, _, b)) = c.sequence() {
            within(c.rest, b);
            service(b);
        }
    }
}

fn endpoints(p: &[u8], e: services::Endpoints<'_>) {
    let count = e.count;
    let mut n = 0;
    for ep in e {
        n += 1;
        opt(p, ep.endpoint_url);
        opt(p, ep.security_policy_uri);
    }
    assert!(n <= count);
}

fn service(b: &[u8]) {
    let Some(s) = Service::parse(b) else {
        return;
    };
    within(b, s.params);
    let _ = s.type_id.text();
    let p = s.params;
    let _ = services::open_request(p);
    let _ = services::open_response(p);
    if let Some(c) = services::create_session_request(p) {
        opt(p, c.server_uri);
        opt(p, c.endpoint_url);
        opt(p, c.session_name);
    }
    if let Some((id, e)) = services::create_session_response(p) {
        let _ = id.text();
        endpoints(p, e);
    }
    if let Some(e) = services::get_endpoints_response(p) {
        endpoints(p, e);
    }
    let _ = services::activate_session_token(p);
    for id in [631, 673, 712, 527] {
        if let Some((_, a, b)) = services::first_nodes(ServiceId(id), p) {
            let _ = a.text();
            let _ = b.map(|b| b.text());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((_, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    let recs = records(rest);
    for r in &recs {
        parsers(r.payload);
    }
    run_sensor(&recs, Some(opcua::PORT), None);
});
