//! The `enip` object (docs/events.md).

use std::fmt::Write as _;

use plantshield_events::JsonWriter;
use plantshield_protocols::enip::{
    parse_request, parse_response, Body, ClassId, Command, ConnectionFailure, DataType,
    ForwardClose, ForwardCloseReply, ForwardOpen, ForwardOpenReply, GeneralStatus, Identity,
    ListIdentityItem, Message, Request, Response, ServiceCode, ServiceList, SockAddr, TagReply,
    TagRequest, Target, Value,
};

use super::Bounded;
use crate::event::{EnipEvent, EnipIo};

/// Writes the `enip` object.
pub(super) fn write(w: &mut JsonWriter, e: &EnipEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("enip");
    if let Some(io) = &e.io {
        write_io(w, io);
        w.end_object();
        return;
    }
    let command = e.command.unwrap_or(Command(0));
    w.u64_field("command", u64::from(command.0));
    w.str_field("command_name", command.name());
    w.u64_field("session_handle", u64::from(e.session_handle));
    w.hex_field("sender_context", &e.sender_context);
    if let Some((h, _)) = &e.response {
        w.u64_field("status", u64::from(h.status.0));
        w.str_field("status_name", h.status.name());
    }
    if let Some((h, _)) = &e.request {
        if h.status.0 != 0 {
            w.u64_field("request_status", u64::from(h.status.0));
        }
    }
    let mut registered = false;
    for (side, reply) in [(&e.request, false), (&e.response, true)] {
        let Some((_, body)) = side else { continue };
        let data_key = if reply { "response_data" } else { "data" };
        match *body {
            Body::RegisterSession {
                protocol_version,
                options_flags,
            } if !registered => {
                registered = true;
                w.u64_field("protocol_version", u64::from(protocol_version));
                w.u64_field("options_flags", u64::from(options_flags));
            }
            Body::ListIdentity {
                item_count,
                identity,
            } => {
                w.u64_field("item_count", u64::from(item_count));
                if let Some(li) = identity {
                    write_list_identity(w, &li);
                }
            }
            Body::ListServices {
                item_count,
                version,
                capability_flags,
                name,
            } => {
                w.u64_field("item_count", u64::from(item_count));
                w.begin_object_field("service");
                w.bytes_str_field("name", name);
                w.u64_field("version", u64::from(version));
                w.u64_field("capability_flags", u64::from(capability_flags));
                w.end_object();
            }
            Body::ListInterfaces { item_count } => w.u64_field("item_count", u64::from(item_count)),
            Body::Raw(d) => b.hex(w, data_key, d),
            Body::Malformed { data, .. } => b.hex(w, data_key, data),
            Body::Send { .. } | Body::Empty | Body::RegisterSession { .. } => {}
        }
    }
    // Socket address items (Forward_Open for UDP I/O): the reply's, else the request's.
    let sockaddr = |pick: fn(&Message<'_>) -> Option<SockAddr>| {
        [&e.response, &e.request]
            .into_iter()
            .find_map(|side| match side {
                Some((_, Body::Send { cpf, .. })) => pick(&cpf.message()),
                _ => None,
            })
    };
    for (key, sa) in [
        ("sockaddr_o_t", sockaddr(|m| m.sockaddr_o_t)),
        ("sockaddr_t_o", sockaddr(|m| m.sockaddr_t_o)),
    ] {
        if let Some(sa) = sa {
            w.begin_object_field(key);
            let a = sa.addr;
            w.ip_field(
                "address",
                std::net::IpAddr::V4(std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            );
            w.u64_field("port", u64::from(sa.port));
            w.end_object();
        }
    }
    if let Some(c) = &e.connection {
        if let Some(id) = c.connection_id {
            w.u64_field("connection_id", u64::from(id));
        }
        if let Some(id) = c.response_connection_id {
            w.u64_field("response_connection_id", u64::from(id));
        }
        w.u64_field("sequence_count", u64::from(c.sequence_count));
        if let Some(s) = c.connection_serial {
            w.u64_field("connection_serial", u64::from(s));
        }
    }
    if let Some(c) = &e.cip {
        w.begin_object_field("cip");
        let target = if c.request.is_some() {
            c.target
        } else {
            Target::Unknown
        };
        write_service(
            w,
            &mut b,
            c.request,
            c.response,
            target,
            Sides {
                request: e.request.is_some(),
                response: e.response.is_some(),
            },
            true,
        );
        if let Some(us) = &c.unconnected_send {
            w.begin_object_field("unconnected_send");
            w.u64_field("priority_time_tick", u64::from(us.priority_time_tick));
            w.u64_field("timeout_ticks", u64::from(us.timeout_ticks));
            w.str_field("route_path", &us.route_path.to_text());
            w.end_object();
        }
        w.end_object();
    }
    if e.request.is_none() {
        w.bool_field("request_missing", true);
    }
    if e.response.is_none() && e.expects_response {
        w.bool_field("response_missing", true);
    }
    if b.truncated {
        w.bool_field("values_truncated", true);
    }
    if let Some(l) = e.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
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

fn write_io(w: &mut JsonWriter, io: &EnipIo) {
    w.begin_object_field("io");
    w.u64_field("connection_id", u64::from(io.connection_id));
    w.str_field(
        "direction",
        if io.direction == 0 {
            "to_server"
        } else {
            "to_client"
        },
    );
    w.u64_field("packets", io.packets);
    w.u64_field("bytes", io.bytes);
    w.time_field("start", io.first_ts);
    w.time_field("end", io.last_ts);
    if let Some(s) = io.first_sequence {
        w.u64_field("first_sequence", u64::from(s));
    }
    if let Some(s) = io.last_sequence {
        w.u64_field("last_sequence", u64::from(s));
    }
    w.u64_field("sequence_gaps", io.sequence_gaps);
    w.end_object();
}

/// Which sides the whole transaction has (for embedded services).
#[derive(Clone, Copy)]
struct Sides {
    request: bool,
    response: bool,
}

/// The fields of one service: its request path and data, its reply status
/// and data. `top`: the message itself, not an embedded service (embedded
/// Multiple_Service_Packets are not expanded again).
fn write_service(
    w: &mut JsonWriter,
    b: &mut Bounded,
    q: Option<Request<'_>>,
    r: Option<Response<'_>>,
    target: Target,
    sides: Sides,
    top: bool,
) {
    let Some(service) = q.map(|q| q.service).or(r.map(|r| r.service)) else {
        return;
    };
    let name = service.name(target);
    w.u64_field("service", u64::from(service.0));
    w.str_field("service_name", name);
    if let Some(q) = &q {
        let info = q.path.info();
        if let Some(c) = info.class {
            w.u64_field("class", u64::from(c));
            w.str_field("class_name", ClassId(c).name());
        }
        for (k, v) in [
            ("instance", info.instance),
            ("attribute", info.attribute),
            ("member", info.member),
            ("connection_point", info.connection_point),
        ] {
            if let Some(v) = v {
                w.u64_field(k, u64::from(v));
            }
        }
        if let Some(tag) = q.path.tag_name() {
            w.str_field("tag", &tag);
        }
        w.str_field("path", &q.path.to_text());
        if let Some(e) = info.error {
            w.str_field("path_error", e.name());
        }
    }
    if let Some(r) = &r {
        if q.is_some_and(|q| q.service != r.service) {
            w.u64_field("response_service", u64::from(r.service.0));
            let t = if r.service == ServiceCode::UNCONNECTED_SEND {
                Target::Class(ClassId::CONNECTION_MANAGER)
            } else {
                Target::Unknown
            };
            w.str_field("response_service_name", r.service.name(t));
        }
        w.u64_field("general_status", u64::from(r.general_status.0));
        w.str_field("general_status_name", r.general_status.name());
        if !r.additional_status.is_empty() {
            w.begin_array_field("extended_status");
            for s in r.extended_status() {
                w.u64_value(u64::from(s));
            }
            w.end_array();
        }
    }
    let ok = r.is_some_and(|r| {
        r.general_status == GeneralStatus::SUCCESS
            || r.general_status == GeneralStatus::PARTIAL_TRANSFER
    });
    let same_service = r.is_none_or(|r| r.service == service);
    // The Logix tag data layout holds for tags and Symbol instances; on
    // other vendor classes the same codes carry undocumented data.
    let tag = matches!(target, Target::Tag | Target::Class(ClassId::SYMBOL));
    match name {
        "read_tag"
        | "read_tag_fragmented"
        | "write_tag"
        | "write_tag_fragmented"
        | "read_modify_write_tag"
            if tag =>
        {
            match q.and_then(|q| TagRequest::parse(name, q.data)) {
                Some(TagRequest::Read { elements }) => w.u64_field("elements", u64::from(elements)),
                Some(TagRequest::ReadFragmented { elements, offset }) => {
                    w.u64_field("elements", u64::from(elements));
                    w.u64_field("offset", u64::from(offset));
                }
                Some(TagRequest::Write {
                    data_type,
                    struct_handle,
                    elements,
                    offset,
                    data,
                }) => {
                    write_type(w, data_type, struct_handle);
                    w.u64_field("elements", u64::from(elements));
                    if let Some(o) = offset {
                        w.u64_field("offset", u64::from(o));
                    }
                    write_values(w, b, "values_written", "data", data_type, data);
                }
                Some(TagRequest::ReadModifyWrite {
                    mask_size,
                    or_mask,
                    and_mask,
                }) => {
                    w.u64_field("mask_size", u64::from(mask_size));
                    w.hex_field("or_mask", or_mask);
                    w.hex_field("and_mask", and_mask);
                }
                None => {
                    if let Some(q) = q.filter(|q| !q.data.is_empty()) {
                        b.hex(w, "data", q.data);
                    }
                }
            }
            if let Some(r) = r.filter(|r| ok && same_service && !r.data.is_empty()) {
                match TagReply::parse(r.data).filter(|_| name.starts_with("read_tag")) {
                    Some(t) => {
                        write_type(w, t.data_type, t.struct_handle);
                        write_values(w, b, "values_read", "response_data", t.data_type, t.data);
                    }
                    None => b.hex(w, "response_data", r.data),
                }
            }
        }
        "forward_open" | "large_forward_open" => {
            let fo = q.and_then(|q| ForwardOpen::parse(q.data, name == "large_forward_open"));
            let rep = r
                .filter(|r| r.general_status == GeneralStatus::SUCCESS && same_service)
                .and_then(|r| ForwardOpenReply::parse(r.data));
            let fail = r
                .filter(|r| r.general_status != GeneralStatus::SUCCESS && same_service)
                .and_then(|r| ConnectionFailure::parse(r.data));
            if fo.is_some() || rep.is_some() || fail.is_some() {
                w.begin_object_field("forward_open");
                if let Some(f) = &fo {
                    w.bool_field("large", f.large);
                    w.u64_field("priority_time_tick", u64::from(f.priority_time_tick));
                    w.u64_field("timeout_ticks", u64::from(f.timeout_ticks));
                }
                let ids = rep
                    .map(|p| (p.o_t_connection_id, p.t_o_connection_id))
                    .or(fo.map(|f| (f.o_t_connection_id, f.t_o_connection_id)));
                if let Some((o_t, t_o)) = ids {
                    w.u64_field("o_t_connection_id", u64::from(o_t));
                    w.u64_field("t_o_connection_id", u64::from(t_o));
                }
                let triple = fo
                    .map(|f| {
                        (
                            f.connection_serial,
                            f.originator_vendor_id,
                            f.originator_serial,
                        )
                    })
                    .or(rep.map(|p| {
                        (
                            p.connection_serial,
                            p.originator_vendor_id,
                            p.originator_serial,
                        )
                    }))
                    .or(fail.map(|p| {
                        (
                            p.connection_serial,
                            p.originator_vendor_id,
                            p.originator_serial,
                        )
                    }));
                if let Some((serial, vendor, orig)) = triple {
                    w.u64_field("connection_serial", u64::from(serial));
                    w.u64_field("originator_vendor_id", u64::from(vendor));
                    w.u64_field("originator_serial", u64::from(orig));
                }
                if let Some(f) = &fo {
                    w.u64_field("timeout_multiplier", u64::from(f.timeout_multiplier));
                    w.u64_field("o_t_rpi_us", u64::from(f.o_t_rpi));
                    w.u64_field("o_t_parameters", u64::from(f.o_t_parameters));
                    w.u64_field("t_o_rpi_us", u64::from(f.t_o_rpi));
                    w.u64_field("t_o_parameters", u64::from(f.t_o_parameters));
                    w.u64_field("transport_class", u64::from(f.transport_class()));
                    w.u64_field(
                        "transport_class_trigger",
                        u64::from(f.transport_class_trigger),
                    );
                    w.str_field("connection_path", &f.connection_path.to_text());
                }
                if let Some(p) = &rep {
                    w.u64_field("o_t_api_us", u64::from(p.o_t_api));
                    w.u64_field("t_o_api_us", u64::from(p.t_o_api));
                }
                if let Some(n) = fail.and_then(|f| f.remaining_path_size) {
                    w.u64_field("remaining_path_size", u64::from(n));
                }
                w.end_object();
            }
        }
        "forward_close" => {
            let fc = q.and_then(|q| ForwardClose::parse(q.data));
            let rep = r
                .filter(|_| same_service)
                .and_then(|r| ForwardCloseReply::parse(r.data));
            if fc.is_some() || rep.is_some() {
                w.begin_object_field("forward_close");
                let triple = fc
                    .map(|f| {
                        (
                            f.connection_serial,
                            f.originator_vendor_id,
                            f.originator_serial,
                        )
                    })
                    .or(rep.map(|p| {
                        (
                            p.connection_serial,
                            p.originator_vendor_id,
                            p.originator_serial,
                        )
                    }));
                if let Some((serial, vendor, orig)) = triple {
                    w.u64_field("connection_serial", u64::from(serial));
                    w.u64_field("originator_vendor_id", u64::from(vendor));
                    w.u64_field("originator_serial", u64::from(orig));
                }
                if let Some(f) = &fc {
                    w.str_field("connection_path", &f.connection_path.to_text());
                }
                w.end_object();
            }
        }
        "multiple_service_packet" if top => {
            write_entries(w, b, q, r.filter(|_| same_service), sides);
        }
        _ => {
            if let Some(q) = &q {
                if name == "get_attribute_list" {
                    write_attribute_ids(w, b, q.data);
                }
                if !q.data.is_empty() {
                    b.hex(w, "data", q.data);
                }
            }
            if let Some(r) = r.filter(|r| !r.data.is_empty()) {
                let identity = target == Target::Class(ClassId::IDENTITY)
                    && service == ServiceCode::GET_ATTRIBUTES_ALL
                    && ok
                    && same_service;
                match Identity::parse(r.data).filter(|_| identity) {
                    Some(id) => {
                        w.begin_object_field("identity");
                        write_identity(w, &id);
                        w.end_object();
                    }
                    None => b.hex(w, "response_data", r.data),
                }
            }
        }
    }
}

/// The embedded services of a Multiple_Service_Packet, request entry i
/// with reply entry i.
fn write_entries(
    w: &mut JsonWriter,
    b: &mut Bounded,
    q: Option<Request<'_>>,
    r: Option<Response<'_>>,
    sides: Sides,
) {
    let ql = q.and_then(|q| ServiceList::parse(q.data));
    let rl = r.and_then(|r| ServiceList::parse(r.data));
    if let Some(l) = &ql {
        w.u64_field("service_count", u64::from(l.count));
    }
    if let Some(l) = &rl {
        w.u64_field("reply_count", u64::from(l.count));
    }
    let mut qe = ql.iter().flat_map(|l| l.entries());
    let mut re = rl.iter().flat_map(|l| l.entries());
    w.begin_array_field("services");
    let mut n = 0;
    loop {
        let (a, z) = (qe.next(), re.next());
        if a.is_none() && z.is_none() {
            break;
        }
        n += 1;
        if n > b.max {
            b.truncated = true;
            break;
        }
        let eq = a.flatten().and_then(parse_request);
        let er = z.flatten().and_then(parse_response);
        w.begin_object();
        let target = eq.map_or(Target::Unknown, |e| Target::of(&e.path.info()));
        if eq.is_none() && er.is_none() {
            let first = a.flatten().or(z.flatten()).and_then(|m| m.first().copied());
            if let Some(s) = first {
                w.u64_field("service", u64::from(s & 0x7f));
                w.str_field("service_name", ServiceCode(s & 0x7f).name(Target::Unknown));
            }
        } else {
            write_service(w, b, eq, er, target, sides, false);
        }
        if (a.is_some() && a.flatten().is_some() && eq.is_none())
            || (z.is_some() && z.flatten().is_some() && er.is_none())
            || a.is_some_and(|x| x.is_none())
            || z.is_some_and(|x| x.is_none())
        {
            w.bool_field("malformed", true);
        }
        if sides.request && a.is_none() {
            w.bool_field("request_missing", true);
        }
        if sides.response && r.is_some() && z.is_none() {
            w.bool_field("response_missing", true);
        }
        w.end_object();
    }
    w.end_array();
}

/// Get_Attribute_List request data: a count and attribute ids (Vol. 1 §A-4.3).
fn write_attribute_ids(w: &mut JsonWriter, b: &mut Bounded, data: &[u8]) {
    let Some(ids) = data.get(2..) else {
        return;
    };
    let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
    w.begin_array_field("attributes");
    for (i, id) in ids.chunks_exact(2).take(n).enumerate() {
        if i >= b.max {
            b.truncated = true;
            break;
        }
        w.u64_value(u64::from(u16::from_le_bytes([id[0], id[1]])));
    }
    w.end_array();
}

fn write_type(w: &mut JsonWriter, t: DataType, handle: Option<u16>) {
    w.u64_field("data_type", u64::from(t.0));
    w.str_field("data_type_name", t.name());
    if let Some(h) = handle {
        w.u64_field("struct_handle", u64::from(h));
    }
}

/// Numeric element values as a JSON array (at most `max`), other types as hex.
fn write_values(
    w: &mut JsonWriter,
    b: &mut Bounded,
    key: &str,
    hex_key: &str,
    t: DataType,
    data: &[u8],
) {
    let Some(values) = t.values(data) else {
        b.hex(w, hex_key, data);
        return;
    };
    // Written in place, floats by the writer's shortest round-trip form
    // as every other protocol's (REAL and LREAL are numbers, not text).
    w.begin_array_field(key);
    for (i, v) in values.enumerate() {
        if i >= b.max {
            b.truncated = true;
            break;
        }
        match v {
            Value::Int(x) => w.i64_value(x),
            Value::Uint(x) => w.u64_value(x),
            Value::Float(x) => w.f64_value(x),
        }
    }
    w.end_array();
}

fn write_list_identity(w: &mut JsonWriter, li: &ListIdentityItem<'_>) {
    w.begin_object_field("identity");
    write_identity(w, &li.identity);
    w.u64_field("encapsulation_version", u64::from(li.encapsulation_version));
    let a = li.socket_addr;
    w.ip_field(
        "socket_address",
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3])),
    );
    w.u64_field("socket_port", u64::from(li.socket_port));
    w.end_object();
}

/// Identity attributes (the caller opens and closes the object).
fn write_identity(w: &mut JsonWriter, id: &Identity<'_>) {
    w.u64_field("vendor_id", u64::from(id.vendor_id.0));
    w.str_field("vendor_name", id.vendor_id.name());
    w.u64_field("device_type", u64::from(id.device_type.0));
    w.str_field("device_type_name", id.device_type.name());
    w.u64_field("product_code", u64::from(id.product_code));
    let mut rev = String::new();
    let _ = write!(rev, "{}.{}", id.revision_major, id.revision_minor);
    w.str_field("revision", &rev);
    w.u64_field("status", u64::from(id.status));
    let mut serial = String::new();
    let _ = write!(serial, "{:08x}", id.serial_number);
    w.str_field("serial_number", &serial);
    w.bytes_str_field("product_name", id.product_name);
    if let Some(s) = id.state {
        w.u64_field("state", u64::from(s.0));
        w.str_field("state_name", s.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values_json(t: u16, data: &[u8], max: usize) -> (String, bool) {
        let mut w = JsonWriter::new();
        let mut b = Bounded::new(max);
        w.begin_object();
        write_values(&mut w, &mut b, "v", "hex", DataType(t), data);
        w.end_object();
        (
            String::from_utf8(w.as_bytes().to_vec()).unwrap(),
            b.truncated,
        )
    }

    #[test]
    fn reals_are_numbers_in_the_writers_float_form() {
        let data: Vec<u8> = [1.5f32, f32::NAN, 0.0, 164.91, -2.0e-7]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let (json, truncated) = values_json(0xCA, &data, 32);
        // REAL widened to f64 exactly, as the other protocols' floats;
        // not-a-number is null.
        assert_eq!(
            json,
            r#"{"v":[1.5,null,0.0,164.91000366210938,-2.0000000233721948e-7]}"#
        );
        assert!(!truncated);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["v"][3].as_f64(), Some(f64::from(164.91f32)));
        assert_eq!(parsed["v"][4].as_f64(), Some(f64::from(-2.0e-7f32)));
    }

    #[test]
    fn integers_and_the_bound() {
        let data: Vec<u8> = [-1i32, 7, 9].iter().flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(
            values_json(0xC4, &data, 2),
            (r#"{"v":[-1,7]}"#.into(), true)
        );
        // A type without a numeric form is written as bytes.
        assert_eq!(values_json(0xD0, &[0x41], 2).0, r#"{"hex":"41"}"#);
    }
}
