//! The `bacnet` object (docs/events.md).

use plantshield_events::JsonWriter;
use plantshield_protocols::bacnet::services::{self, AccessList, AccessResult};
use plantshield_protocols::bacnet::tags::{self, Value};
use plantshield_protocols::bacnet::{
    abort_reason_name, enable_disable_name, error_class_name, error_code_name, max_apdu_octets,
    max_segments, reinitialized_state_name, reject_reason_name, segmentation_name, Apdu, Body,
    ConfirmedService, Message, NetworkMessageType, ObjectId, PduType, PropertyId,
};

use super::Bounded;
use crate::event::BacnetEvent;

/// Longest text written for one value (octets; cut at a character boundary).
const MAX_TEXT: usize = 256;

/// Writes the `bacnet` object.
pub(super) fn write(w: &mut JsonWriter, e: &BacnetEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("bacnet");
    w.u64_field("function_code", u64::from(e.ics.function_code));
    w.str_field("function", e.ics.function);
    let req = e.request.as_ref();
    let resp = e.response.as_ref();
    let req_apdu = req.and_then(|m| m.apdu());
    let resp_apdu = resp.and_then(|m| m.apdu());
    if let Some(id) = req_apdu.or(resp_apdu).and_then(|a| a.invoke_id) {
        w.u64_field("invoke_id", u64::from(id));
    }
    if let Some(m) = req {
        w.begin_object_field("request");
        message(w, m);
        w.end_object();
    }
    if let Some(m) = resp {
        w.begin_object_field("response");
        message(w, m);
        w.end_object();
    }
    if let Some(a) = req_apdu {
        let data = e.request_data.unwrap_or(a.data);
        request_fields(w, a, data, &mut b);
    }
    if let Some(a) = resp_apdu {
        let data = e.response_data.unwrap_or(a.data);
        reply_fields(w, a, data, req_apdu.is_none(), &mut b);
    }
    for m in [req, resp].into_iter().flatten() {
        bvll_and_network(w, m);
    }
    for (k, n) in [
        ("request_segments", e.request_segments),
        ("response_segments", e.response_segments),
        ("segment_acks", e.segment_acks),
        ("segment_naks", e.segment_naks),
    ] {
        if n > 0 {
            w.u64_field(k, u64::from(n));
        }
    }
    if e.broadcast {
        w.bool_field("broadcast", true);
    }
    if e.request_from_server {
        w.bool_field("request_from_server", true);
    }
    if e.request_missing {
        w.bool_field("request_missing", true);
    }
    if e.response_missing {
        w.bool_field("response_missing", true);
    }
    if let Some(l) = e.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if b.truncated {
        w.bool_field("values_truncated", true);
    }
    if !e.flags.is_empty() {
        w.begin_array_field("flags");
        for n in e.flags.names() {
            w.str_value(n);
        }
        w.end_array();
    }
    w.end_object();
}

/// The BVLC, NPDU and APDU header fields of one message.
fn message(w: &mut JsonWriter, m: &Message<'_>) {
    w.u64_field("bvlc_function", u64::from(m.bvlc.function.0));
    w.str_field("bvlc_function_name", m.bvlc.function.name());
    if let Some((ip, port)) = m.bvlc.original_source {
        w.str_field("original_source", &format!("{ip}:{port}"));
    }
    if let Some(n) = &m.npdu {
        w.begin_object_field("npdu");
        if n.version != 1 {
            w.u64_field("version", u64::from(n.version));
        }
        w.u64_field("control", u64::from(n.control));
        if let Some((net, addr)) = n.destination {
            w.u64_field("destination_network", u64::from(net));
            w.hex_field("destination_address", &addr[..addr.len().min(16)]);
        }
        if let Some((net, addr)) = n.source {
            w.u64_field("source_network", u64::from(net));
            w.hex_field("source_address", &addr[..addr.len().min(16)]);
        }
        if let Some(h) = n.hop_count {
            w.u64_field("hop_count", u64::from(h));
        }
        if n.expecting_reply() {
            w.bool_field("expecting_reply", true);
        }
        if n.priority() != 0 {
            w.u64_field("priority", u64::from(n.priority()));
        }
        if let Some(t) = n.message_type {
            w.u64_field("message_type", u64::from(t.0));
            w.str_field("message_type_name", t.name());
        }
        if let Some(v) = n.vendor_id {
            w.u64_field("vendor_id", u64::from(v));
        }
        w.end_object();
    }
    if let Body::Apdu(a) = &m.body {
        w.u64_field("apdu_type", u64::from(a.pdu_type.0));
        w.str_field("apdu_type_name", a.pdu_type.name());
        if let Some(s) = a.service {
            w.u64_field("service_choice", u64::from(s));
        }
        if a.segmented() {
            w.bool_field("segmented", true);
            w.bool_field("more_follows", a.more_follows());
        }
        if a.segmented_response_accepted() {
            w.bool_field("segmented_response_accepted", true);
        }
        if let Some(n) = a.max_segments.and_then(max_segments) {
            w.u64_field("max_segments", u64::from(n));
        }
        if let Some(n) = a.max_apdu.and_then(max_apdu_octets) {
            w.u64_field("max_apdu", u64::from(n));
        }
        if let Some(s) = a.sequence_number {
            w.u64_field("sequence_number", u64::from(s));
        }
        if let Some(s) = a.window_size {
            w.u64_field("window_size", u64::from(s));
        }
        if matches!(a.pdu_type, PduType::SEGMENT_ACK | PduType::ABORT) {
            w.bool_field("server", a.from_server());
        }
        if a.negative() {
            w.bool_field("negative", true);
        }
    }
}

fn object(w: &mut JsonWriter, o: ObjectId) {
    w.u64_field("object_type", u64::from(o.object_type.0));
    w.str_field("object_type_name", o.object_type.name());
    w.u64_field("object_instance", u64::from(o.instance));
}

fn property(w: &mut JsonWriter, p: PropertyId, index: Option<u64>) {
    w.u64_field("property_id", u64::from(p.0));
    w.str_field("property", p.name());
    if let Some(i) = index {
        w.u64_field("array_index", i);
    }
}

/// Text of at most [`MAX_TEXT`] octets.
fn bounded(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn date_time_text(d: [u8; 4], t: [u8; 4]) -> String {
    let part = |v: u8, w: usize| {
        if v == 255 {
            "*".repeat(w)
        } else {
            format!("{v:0w$}")
        }
    };
    let year = if d[0] == 255 {
        "****".to_string()
    } else {
        (1900 + u32::from(d[0])).to_string()
    };
    format!(
        "{year}-{}-{}T{}:{}:{}.{}",
        part(d[1], 2),
        part(d[2], 2),
        part(t[0], 2),
        part(t[1], 2),
        part(t[2], 2),
        part(t[3], 2)
    )
}

/// Writes one application value: as the field `key`, or as an array
/// element when `key` is `None`.
fn value(w: &mut JsonWriter, key: Option<&str>, v: &Value<'_>, b: &mut Bounded) {
    let text = |w: &mut JsonWriter, s: &str| match key {
        Some(k) => w.str_field(k, bounded(s)),
        None => w.str_value(bounded(s)),
    };
    match *v {
        Value::Null => match key {
            Some(k) => w.null_field(k),
            None => w.null_value(),
        },
        Value::Boolean(x) => match key {
            Some(k) => w.bool_field(k, x),
            None => w.bool_value(x),
        },
        Value::Unsigned(x) | Value::Enumerated(x) => match key {
            Some(k) => w.u64_field(k, x),
            None => w.u64_value(x),
        },
        Value::Signed(x) => match key {
            Some(k) => w.i64_field(k, x),
            None => w.i64_value(x),
        },
        Value::Real(x) => match key {
            Some(k) => w.f64_field(k, f64::from(x)),
            None => w.f64_value(f64::from(x)),
        },
        Value::Double(x) => match key {
            Some(k) => w.f64_field(k, x),
            None => w.f64_value(x),
        },
        Value::CharacterString { .. } => match v.text() {
            Some(s) => text(w, &s),
            None => {
                let Value::CharacterString { bytes, .. } = *v else {
                    return;
                };
                text(w, &hex(bytes, b))
            }
        },
        Value::OctetString(bytes) | Value::Reserved(_, bytes) => text(w, &hex(bytes, b)),
        Value::BitString { unused, bytes } => {
            let n = (bytes.len() * 8).saturating_sub(usize::from(unused.min(7)));
            let bits: String = (0..n.min(MAX_TEXT))
                .map(|i| {
                    if bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect();
            text(w, &bits)
        }
        Value::Date(d) => text(w, &date_time_text(d, [0; 4])[..10]),
        Value::Time(t) => text(w, &date_time_text([0; 4], t)[11..]),
        Value::ObjectId(o) => text(w, &format!("{}:{}", o.object_type.name(), o.instance)),
    }
}

fn hex(bytes: &[u8], b: &mut Bounded) -> String {
    let cap = MAX_TEXT / 2;
    b.truncated |= bytes.len() > cap;
    bytes[..bytes.len().min(cap)]
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// `value` (one application value) or `values` (several, bounded) of an
/// encoded property value.
fn property_value(w: &mut JsonWriter, encoded: &[u8], b: &mut Bounded) {
    let mut it = tags::app_values(encoded);
    let Some(first) = it.next() else {
        return;
    };
    let Some(second) = it.next() else {
        value(w, Some("value"), &first, b);
        return;
    };
    w.begin_array_field("values");
    for (n, v) in [first, second].into_iter().chain(it).enumerate() {
        if n == b.max {
            b.truncated = true;
            break;
        }
        value(w, None, &v, b);
    }
    w.end_array();
}

fn access_items(w: &mut JsonWriter, key: &str, data: &[u8], list: AccessList, b: &mut Bounded) {
    let mut items = services::access_items(data, list);
    w.begin_array_field(key);
    for (n, i) in items.by_ref().enumerate() {
        if n == b.max {
            b.truncated = true;
            break;
        }
        w.begin_object();
        object(w, i.object);
        property(w, i.property, i.array_index);
        match i.result {
            AccessResult::Requested => {}
            AccessResult::Value(v) => property_value(w, v, b),
            AccessResult::Error(class, code) => error(w, class, code),
        }
        if let Some(p) = i.priority {
            w.u64_field("priority", p);
        }
        w.end_object();
    }
    w.end_array();
}

fn error(w: &mut JsonWriter, class: u64, code: u64) {
    w.u64_field("error_class", class);
    w.str_field("error_class_name", error_class_name(class as u32));
    w.u64_field("error_code", code);
    w.str_field("error", error_code_name(code as u32));
}

/// What a request (confirmed or unconfirmed) says.
fn request_fields(w: &mut JsonWriter, a: &Apdu<'_>, data: &[u8], b: &mut Bounded) {
    let Some(s) = a.service else {
        return;
    };
    match a.pdu_type {
        PduType::CONFIRMED_REQUEST => {
            let c = ConfirmedService(s);
            match s {
                12 | 15 => {
                    if let Some(r) = services::property_ref(data) {
                        object(w, r.object);
                        property(w, r.property, r.array_index);
                        if let Some(v) = r.value {
                            property_value(w, v, b);
                        }
                        if let Some(p) = r.priority {
                            w.u64_field("priority", p);
                        }
                    }
                }
                14 => access_items(w, "properties", data, AccessList::ReadRequest, b),
                16 => access_items(w, "properties", data, AccessList::WriteRequest, b),
                20 => {
                    if let Some(r) = services::reinitialize(data) {
                        w.begin_object_field("reinitialize");
                        w.u64_field("state", r.state);
                        w.str_field("state_name", reinitialized_state_name(r.state as u32));
                        w.bool_field("password_sent", r.password);
                        w.end_object();
                    }
                }
                17 => {
                    if let Some(d) = services::communication_control(data) {
                        w.begin_object_field("communication_control");
                        w.u64_field("enable_disable", d.enable_disable);
                        w.str_field(
                            "enable_disable_name",
                            enable_disable_name(d.enable_disable as u32),
                        );
                        if let Some(m) = d.duration {
                            w.u64_field("duration_minutes", m);
                        }
                        w.bool_field("password_sent", d.password);
                        w.end_object();
                    }
                }
                6 | 7 => {
                    if let Some(f) = services::file_access(c, data) {
                        object(w, f.file);
                        w.begin_object_field("file_access");
                        w.str_field("access", if f.stream { "stream" } else { "record" });
                        w.i64_field("start", f.start);
                        w.u64_field("count", f.count);
                        w.end_object();
                    }
                }
                1 | 2 => {
                    if let Some(d) = services::notification_device(data) {
                        w.u64_field("initiating_device", u64::from(d.instance));
                    }
                    if let Some(o) = services::request_object(c, data) {
                        object(w, o);
                    }
                }
                _ => {
                    if let Some(o) = services::request_object(c, data) {
                        object(w, o);
                    }
                }
            }
        }
        PduType::UNCONFIRMED_REQUEST => match s {
            0 => {
                if let Some(i) = services::i_am(data) {
                    w.begin_object_field("i_am");
                    w.u64_field("device_instance", u64::from(i.device.instance));
                    w.u64_field("max_apdu", i.max_apdu);
                    w.u64_field("segmentation", i.segmentation);
                    w.str_field(
                        "segmentation_name",
                        segmentation_name(i.segmentation as u32),
                    );
                    w.u64_field("vendor_id", i.vendor_id);
                    w.end_object();
                }
            }
            1 => {
                if let Some(i) = services::i_have(data) {
                    w.begin_object_field("i_have");
                    w.u64_field("device_instance", u64::from(i.device.instance));
                    object(w, i.object);
                    value(w, Some("object_name"), &i.name, b);
                    w.end_object();
                }
            }
            7 => {
                if let Some(h) = services::who_has(data) {
                    w.begin_object_field("who_has");
                    range(w, h.range);
                    if let Some(o) = h.object {
                        object(w, o);
                    }
                    if let Some(n) = &h.name {
                        value(w, Some("object_name"), n, b);
                    }
                    w.end_object();
                }
            }
            8 => {
                if let Some(r) = services::who_is(data) {
                    w.begin_object_field("who_is");
                    range(w, r);
                    w.end_object();
                }
            }
            2 | 3 | 11 => {
                if let Some(d) = services::notification_device(data) {
                    w.u64_field("initiating_device", u64::from(d.instance));
                }
            }
            6 | 9 => {
                if let Some((d, t)) = services::time_sync(data) {
                    w.str_field("time", &date_time_text(d, t));
                }
            }
            _ => {}
        },
        _ => {}
    }
}

fn range(w: &mut JsonWriter, r: services::WhoIs) {
    if let Some(l) = r.low {
        w.u64_field("low_limit", l);
    }
    if let Some(h) = r.high {
        w.u64_field("high_limit", h);
    }
}

/// What a reply says; `alone`: its request was not seen.
fn reply_fields(w: &mut JsonWriter, a: &Apdu<'_>, data: &[u8], alone: bool, b: &mut Bounded) {
    match a.pdu_type {
        PduType::COMPLEX_ACK => match a.service {
            Some(12) => {
                if let Some(r) = services::property_ref(data) {
                    if alone {
                        object(w, r.object);
                        property(w, r.property, r.array_index);
                    }
                    if let Some(v) = r.value {
                        property_value(w, v, b);
                    }
                }
            }
            Some(14) => access_items(w, "results", data, AccessList::ReadAck, b),
            _ => {}
        },
        PduType::ERROR => {
            if let Some((class, code)) = services::error(data) {
                error(w, class, code);
            }
        }
        PduType::REJECT => {
            if let Some(r) = a.reason {
                w.u64_field("reject_reason", u64::from(r));
                w.str_field("reject_reason_name", reject_reason_name(r));
            }
        }
        PduType::ABORT => {
            if let Some(r) = a.reason {
                w.u64_field("abort_reason", u64::from(r));
                w.str_field("abort_reason_name", abort_reason_name(r));
            }
        }
        _ => {}
    }
}

/// BVLL management and network layer message fields.
fn bvll_and_network(w: &mut JsonWriter, m: &Message<'_>) {
    if let Some(r) = m.bvlc.result {
        w.u64_field("bvlc_result", u64::from(r.0));
        w.str_field("bvlc_result_name", r.name());
    }
    if let Some(t) = m.bvlc.ttl {
        w.u64_field("foreign_device_ttl", u64::from(t));
    }
    match m.bvlc.function.0 {
        0x01 | 0x03 | 0x07 => w.u64_field("table_entries", (m.bvlc.entries.len() / 10) as u64),
        _ => {}
    }
    if let (Body::Network(d), Some(t)) = (m.body, m.npdu.and_then(|n| n.message_type)) {
        match t.0 {
            // Who-Is-Router-To-Network (optional network), Router-Busy/Available,
            // What-Is/Network-Number-Is and I-Am-Router: lists of networks.
            0x00 | 0x01 | 0x04 | 0x05 | 0x13 => {
                w.begin_array_field("networks");
                for n in d.chunks_exact(2).take(64) {
                    w.u64_value(u64::from(u16::from_be_bytes([n[0], n[1]])));
                }
                w.end_array();
            }
            0x03 => {
                if let Some(&r) = d.first() {
                    w.u64_field("reject_reason", u64::from(r));
                    w.str_field(
                        "reject_reason_name",
                        NetworkMessageType::reject_reason_name(r),
                    );
                }
                if d.len() >= 3 {
                    w.u64_field(
                        "networks_rejected",
                        u64::from(u16::from_be_bytes([d[1], d[2]])),
                    );
                }
            }
            _ => {}
        }
    }
}
