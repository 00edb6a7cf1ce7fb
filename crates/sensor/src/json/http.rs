//! The `http` object.

use plantshield_events::JsonWriter;
use plantshield_protocols::http::Version;

use crate::event::HttpEvent;

/// Octets written of the request target.
const MAX_URI: usize = 1024;
/// Octets written of other header values.
const MAX_VALUE: usize = 512;

fn bounded(w: &mut JsonWriter, key: &str, v: &[u8], max: usize) -> bool {
    w.bytes_str_field(key, &v[..v.len().min(max)]);
    v.len() > max
}

fn version(w: &mut JsonWriter, key: &str, v: Version) {
    let s = format!("HTTP/{}.{}", v.0, v.1);
    w.str_field(key, &s);
}

fn flags<'a>(w: &mut JsonWriter, key: &str, names: impl Iterator<Item = &'a str>) {
    let mut names = names.peekable();
    if names.peek().is_some() {
        w.begin_array_field(key);
        for n in names {
            w.str_value(n);
        }
        w.end_array();
    }
}

/// Writes `"http":{...}`.
pub(crate) fn write(w: &mut JsonWriter, ev: &HttpEvent<'_>) {
    w.begin_object_field("http");
    let mut truncated = false;
    if let Some(r) = &ev.request {
        w.bytes_str_field("method", &r.method[..r.method.len().min(32)]);
        bounded(w, "uri", r.uri, MAX_URI);
        if ev.uri_len > r.uri.len().min(MAX_URI) {
            w.u64_field("uri_length", ev.uri_len as u64);
            truncated = true;
        }
        if let Some(v) = r.version {
            version(w, "protocol", v);
        }
        if let Some(h) = r.host() {
            truncated |= bounded(w, "host", h, MAX_VALUE);
        }
        if let Some(ua) = r.user_agent() {
            truncated |= bounded(w, "user_agent", ua, MAX_VALUE);
        }
        flags(w, "flags", r.flags.names());
    }
    if let Some(r) = &ev.response {
        w.u64_field("status", u64::from(r.status));
        truncated |= bounded(w, "reason", r.reason, 128);
        version(w, "response_protocol", r.version);
        if let Some(s) = r.server() {
            truncated |= bounded(w, "server", s, MAX_VALUE);
        }
        if let Some(c) = r.headers.get("content-type") {
            truncated |= bounded(w, "content_type", c, 128);
        }
        if let Some(n) = r.headers.content_length() {
            w.u64_field("content_length", n);
        }
        if let Some(l) = r.headers.get("location") {
            truncated |= bounded(w, "location", l, MAX_URI);
        }
        flags(w, "response_flags", r.flags.names());
    }
    if ev.request.is_none() {
        w.bool_field("request_missing", true);
    }
    if ev.response.is_none() {
        w.bool_field("response_missing", true);
    }
    if let Some(l) = ev.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if truncated {
        w.bool_field("values_truncated", true);
    }
    w.end_object();
}
