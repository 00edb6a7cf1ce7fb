//! The `opcua` object (docs/events.md).

use plantshield_events::JsonWriter;
use plantshield_protocols::opcua::services::{self, AppDescription, Endpoints};
use plantshield_protocols::opcua::{application_type_name, LocalizedText, Service, ServiceId};

use super::Bounded;
use crate::event::{OpcuaEvent, OpcuaKind};

fn text(w: &mut JsonWriter, key: &str, v: Option<&[u8]>) {
    if let Some(v) = v {
        w.bytes_str_field(
            key,
            &v[..v.len().min(plantshield_protocols::opcua::MAX_STRING)],
        );
    }
}

fn kind_name(k: OpcuaKind) -> &'static str {
    match k {
        OpcuaKind::Connection => "connection",
        OpcuaKind::Error => "error",
        OpcuaKind::OpenSecureChannel => "open_secure_channel",
        OpcuaKind::CloseSecureChannel => "close_secure_channel",
        OpcuaKind::Service => "service",
        OpcuaKind::Encrypted => "encrypted_channel",
    }
}

fn severity(code: u32) -> &'static str {
    match code >> 30 {
        0 => "good",
        1 => "uncertain",
        _ => "bad",
    }
}

fn security_mode_name(m: u32) -> &'static str {
    match m {
        1 => "none",
        2 => "sign",
        3 => "sign_and_encrypt",
        _ => "invalid",
    }
}

/// Writes the `opcua` object.
pub(super) fn write(w: &mut JsonWriter, e: &OpcuaEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("opcua");
    w.str_field("kind", kind_name(e.kind));
    if let Some(ics) = &e.ics {
        w.u64_field("function_code", u64::from(ics.function_code));
        w.str_field("function", ics.function);
    }
    if let Some(h) = &e.hello {
        w.begin_object_field("hello");
        w.u64_field("protocol_version", u64::from(h.protocol_version));
        w.u64_field("receive_buffer_size", u64::from(h.receive_buffer_size));
        w.u64_field("send_buffer_size", u64::from(h.send_buffer_size));
        w.u64_field("max_message_size", u64::from(h.max_message_size));
        w.u64_field("max_chunk_count", u64::from(h.max_chunk_count));
        text(w, "endpoint_url", h.endpoint_url);
        w.end_object();
    }
    if let Some(a) = &e.acknowledge {
        w.begin_object_field("acknowledge");
        w.u64_field("protocol_version", u64::from(a.protocol_version));
        w.u64_field("receive_buffer_size", u64::from(a.receive_buffer_size));
        w.u64_field("send_buffer_size", u64::from(a.send_buffer_size));
        w.u64_field("max_message_size", u64::from(a.max_message_size));
        w.u64_field("max_chunk_count", u64::from(a.max_chunk_count));
        w.end_object();
    }
    if let Some(x) = &e.error {
        w.begin_object_field("error");
        w.u64_field("status_code", u64::from(x.error));
        text(w, "reason", x.reason);
        w.end_object();
    }
    if let Some(c) = &e.channel {
        w.begin_object_field("secure_channel");
        w.u64_field("id", u64::from(c.id));
        text(w, "security_policy_uri", c.policy_uri);
        w.bool_field("encrypted", c.encrypted);
        if let Some(r) = c.request_id {
            w.u64_field("request_id", u64::from(r));
        }
        w.end_object();
    }
    if let Some(s) = &e.request {
        w.begin_object_field("request");
        service_header(w, s);
        w.end_object();
    }
    if let Some(s) = &e.response {
        w.begin_object_field("response");
        service_header(w, s);
        w.end_object();
    }
    if matches!(
        e.kind,
        OpcuaKind::Service | OpcuaKind::OpenSecureChannel | OpcuaKind::CloseSecureChannel
    ) {
        w.u64_field("request_chunks", u64::from(e.chunks.0));
        w.u64_field("response_chunks", u64::from(e.chunks.1));
    }
    if let Some(s) = &e.request {
        request_details(w, s);
    }
    if let Some(s) = &e.response {
        response_details(w, s, &mut b);
    }
    if let Some((c, s)) = e.encrypted_messages {
        w.begin_object_field("encrypted_messages");
        w.u64_field("toserver", c);
        w.u64_field("toclient", s);
        w.end_object();
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

fn service_header(w: &mut JsonWriter, s: &Service<'_>) {
    match s.id {
        Some(id) => {
            w.u64_field("type_id", u64::from(id.0));
            w.str_field("service", id.name());
        }
        None => w.str_field("type_id_text", &s.type_id.text()),
    }
    if let Some(h) = &s.request_header {
        w.u64_field("request_handle", u64::from(h.request_handle));
        if h.timeout_hint != 0 {
            w.u64_field("timeout_hint_ms", u64::from(h.timeout_hint));
        }
    }
    if let Some(h) = &s.response_header {
        w.u64_field("request_handle", u64::from(h.request_handle));
        w.u64_field("service_result", u64::from(h.service_result));
        w.str_field("service_result_severity", severity(h.service_result));
    }
}

fn localized(w: &mut JsonWriter, key: &str, t: &LocalizedText<'_>) {
    text(w, key, t.text);
    text(w, &format!("{key}_locale"), t.locale);
}

fn application(w: &mut JsonWriter, key: &str, a: &AppDescription<'_>) {
    w.begin_object_field(key);
    text(w, "application_uri", a.application_uri);
    text(w, "product_uri", a.product_uri);
    localized(w, "application_name", &a.application_name);
    w.u64_field("application_type", u64::from(a.application_type));
    w.str_field(
        "application_type_name",
        application_type_name(a.application_type),
    );
    text(w, "gateway_server_uri", a.gateway_server_uri);
    w.end_object();
}

fn endpoints(w: &mut JsonWriter, eps: Endpoints<'_>, b: &mut Bounded) {
    let mut first_server = None;
    w.begin_array_field("endpoints");
    let count = eps.count;
    for (i, e) in eps.enumerate() {
        if first_server.is_none() {
            first_server = Some(e.server);
        }
        if i == b.max {
            b.truncated = true;
            break;
        }
        w.begin_object();
        text(w, "endpoint_url", e.endpoint_url);
        w.str_field("security_mode", security_mode_name(e.security_mode));
        text(w, "security_policy_uri", e.security_policy_uri);
        w.u64_field("security_level", u64::from(e.security_level));
        w.end_object();
    }
    w.end_array();
    w.u64_field("endpoint_count", count as u64);
    if let Some(s) = first_server {
        application(w, "server", &s);
    }
}

fn request_details(w: &mut JsonWriter, s: &Service<'_>) {
    let Some(id) = s.id else {
        return;
    };
    match id {
        ServiceId::OPEN_SECURE_CHANNEL_REQUEST => {
            if let Some(o) = services::open_request(s.params) {
                if let Some(t) = o.request_type {
                    w.str_field("request_type", if t == 0 { "issue" } else { "renew" });
                }
                if let Some(m) = o.security_mode {
                    w.str_field("security_mode", security_mode_name(m));
                }
                w.u64_field("requested_lifetime_ms", u64::from(o.lifetime));
            }
        }
        ServiceId::CREATE_SESSION_REQUEST => {
            if let Some(c) = services::create_session_request(s.params) {
                application(w, "client", &c.client);
                text(w, "endpoint_url", c.endpoint_url);
                text(w, "session_name", c.session_name);
            }
        }
        ServiceId::ACTIVATE_SESSION_REQUEST => {
            if let Some(t) = services::activate_session_token(s.params) {
                w.str_field("identity_token", services::identity_token_name(t));
            }
        }
        _ => {
            if let Some((n, first, second)) = services::first_nodes(id, s.params) {
                w.u64_field("nodes", n as u64);
                w.str_field(
                    if id == ServiceId::CALL_REQUEST {
                        "object_id"
                    } else {
                        "node_id"
                    },
                    &first.text(),
                );
                if let Some(m) = second {
                    w.str_field("method_id", &m.text());
                }
            }
        }
    }
}

fn response_details(w: &mut JsonWriter, s: &Service<'_>, b: &mut Bounded) {
    let Some(id) = s.id else {
        return;
    };
    match id {
        ServiceId::OPEN_SECURE_CHANNEL_RESPONSE => {
            if let Some(o) = services::open_response(s.params) {
                if let Some((_, token)) = o.token {
                    w.u64_field("token_id", u64::from(token));
                }
                w.u64_field("revised_lifetime_ms", u64::from(o.lifetime));
            }
        }
        ServiceId::GET_ENDPOINTS_RESPONSE => {
            if let Some(eps) = services::get_endpoints_response(s.params) {
                endpoints(w, eps, b);
            }
        }
        ServiceId::CREATE_SESSION_RESPONSE => {
            if let Some((session, eps)) = services::create_session_response(s.params) {
                w.str_field("session_id", &session.text());
                endpoints(w, eps, b);
            }
        }
        _ => {}
    }
}
