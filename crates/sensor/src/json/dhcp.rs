//! The `dhcp` object.

use std::net::Ipv4Addr;

use plantshield_events::JsonWriter;
use plantshield_protocols::dhcp::{self, option};

use super::Bounded;
use crate::event::DhcpEvent;

/// Octets of a text option written (host name, vendor class, ...).
const MAX_TEXT: usize = 255;

fn text(w: &mut JsonWriter, key: &str, v: &[u8]) {
    // Some clients count a terminating NUL in the length.
    let v = v.strip_suffix(&[0]).unwrap_or(v);
    w.bytes_str_field(key, &v[..v.len().min(MAX_TEXT)]);
}

fn addr(w: &mut JsonWriter, key: &str, a: Ipv4Addr) {
    if !a.is_unspecified() {
        w.ip_field(key, a.into());
    }
}

fn addr_list(w: &mut JsonWriter, key: &str, v: &[u8], b: &mut Bounded) {
    w.begin_array_field(key);
    for (i, a) in v.chunks_exact(4).enumerate() {
        if i >= b.max {
            b.truncated = true;
            break;
        }
        w.ip_value(Ipv4Addr::new(a[0], a[1], a[2], a[3]).into());
    }
    w.end_array();
}

/// A NUL-terminated field of the header (sname, file), when it holds text.
fn header_text(w: &mut JsonWriter, key: &str, v: &[u8]) {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    if end > 0 {
        w.bytes_str_field(key, &v[..end]);
    }
}

/// Writes `"dhcp":{...}`.
pub(crate) fn write(w: &mut JsonWriter, ev: &DhcpEvent<'_>, max_values: usize) {
    let m = &ev.message;
    let mut b = Bounded::new(max_values);
    w.begin_object_field("dhcp");
    w.u64_field("op", u64::from(m.op.0));
    w.str_field("op_name", m.op.name());
    if let Some(t) = m.message_type() {
        w.u64_field("message_type", u64::from(t.0));
        w.str_field("message_type_name", t.name());
    }
    w.u64_field("xid", u64::from(m.xid));
    match m.client_mac() {
        Some(mac) => w.mac_field("client_mac", mac),
        None => w.hex_field("client_hardware", m.client_hardware()),
    }
    if m.hops > 0 {
        w.u64_field("hops", u64::from(m.hops));
    }
    w.u64_field("secs", u64::from(m.secs));
    w.bool_field("broadcast", m.broadcast());
    addr(w, "client_ip", m.ciaddr);
    addr(w, "assigned_ip", m.yiaddr);
    addr(w, "next_server_ip", m.siaddr);
    addr(w, "relay_ip", m.giaddr);
    // sname and file, unless they hold options.
    let overload = m
        .option(option::OVERLOAD)
        .and_then(|o| o.first().copied())
        .unwrap_or(0);
    if overload & 2 == 0 {
        header_text(w, "server_name", m.sname);
    }
    if overload & 1 == 0 {
        header_text(w, "boot_file", m.file);
    }
    if m.options_area.is_some() {
        w.begin_array_field("options");
        for (i, o) in m.options().enumerate() {
            if i >= 255 {
                break;
            }
            w.u64_value(u64::from(o.code));
        }
        w.end_array();
    }
    if let Some(v) = m.option(option::HOST_NAME) {
        text(w, "hostname", v);
    }
    if let Some((_, name)) = m.client_fqdn() {
        text(w, "client_fqdn", name.as_bytes());
    }
    if let Some(v) = m.option(option::DOMAIN_NAME) {
        text(w, "domain_name", v);
    }
    if let Some(v) = m.option(option::VENDOR_CLASS) {
        text(w, "vendor_class", v);
    }
    if let Some(v) = m.option(option::PARAMETER_REQUEST_LIST) {
        w.str_field("parameter_request_list", &dhcp::fingerprint(v));
    }
    if let Some(v) = m.option(option::CLIENT_ID) {
        w.hex_field("client_id", &v[..v.len().min(64)]);
    }
    if let Some(a) = m.address_option(option::REQUESTED_IP) {
        w.ip_field("requested_ip", a.into());
    }
    if let Some(a) = m.address_option(option::SERVER_ID) {
        w.ip_field("server_id", a.into());
    }
    if let Some(t) = m.u32_option(option::LEASE_TIME) {
        w.u64_field("lease_time", u64::from(t));
    }
    if let Some(a) = m.address_option(option::SUBNET_MASK) {
        w.ip_field("subnet_mask", a.into());
    }
    if let Some(v) = m.option(option::ROUTER) {
        addr_list(w, "routers", v, &mut b);
    }
    if let Some(v) = m.option(option::DNS_SERVERS) {
        addr_list(w, "dns_servers", v, &mut b);
    }
    if let Some(v) = m.option(option::MESSAGE) {
        text(w, "message", v);
    }
    if b.truncated {
        w.bool_field("values_truncated", true);
    }
    let mut names = ev.flags.names().peekable();
    if names.peek().is_some() {
        w.begin_array_field("flags");
        for n in names {
            w.str_value(n);
        }
        w.end_array();
    }
    w.end_object();
}
