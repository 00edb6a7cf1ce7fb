//! The `profinet_dcp` object (docs/events.md).

use plantshield_events::JsonWriter;
use plantshield_protocols::profinet::{
    block_error_name, block_name, ip_block_info_name, role_names, Block, BlockValue, DcpMessage,
    Flags,
};

use super::Bounded;
use crate::event::ProfinetDcpEvent;

/// Longest name written (octets).
const MAX_NAME: usize = 240;

fn name(w: &mut JsonWriter, key: &str, v: &[u8]) {
    w.bytes_str_field(key, &v[..v.len().min(MAX_NAME)]);
}

/// Writes the `profinet_dcp` object.
pub(super) fn write(w: &mut JsonWriter, e: &ProfinetDcpEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    let m = &e.message;
    w.begin_object_field("profinet_dcp");
    w.mac_field("src_mac", e.src_mac.0);
    w.mac_field("dest_mac", e.dst_mac.0);
    w.u64_field("frame_id", u64::from(m.frame_id));
    w.u64_field("service_id", u64::from(m.service_id.0));
    w.str_field("service", m.service_id.name());
    w.u64_field("xid", u64::from(m.xid));
    let mut flags = m.flags;
    message(w, m, &mut b, &mut flags);
    if let Some(r) = &e.response {
        w.begin_object_field("response");
        message(w, r, &mut b, &mut flags);
        w.end_object();
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
    if !flags.is_empty() {
        w.begin_array_field("flags");
        for n in flags.names() {
            w.str_value(n);
        }
        w.end_array();
    }
    w.end_object();
}

/// The service type and blocks of one message.
fn message(w: &mut JsonWriter, m: &DcpMessage<'_>, b: &mut Bounded, flags: &mut Flags) {
    w.u64_field("service_type", u64::from(m.service_type.0));
    w.str_field("service_type_name", m.service_type.name());
    if m.service_id.0 == 5 && !m.service_type.is_response() {
        w.u64_field("response_delay", u64::from(m.response_delay));
    }
    flags.0 |= m.flags.0;
    w.begin_array_field("blocks");
    let mut blocks = m.blocks();
    for (n, blk) in blocks.by_ref().enumerate() {
        if n == b.max {
            b.truncated = true;
            break;
        }
        w.begin_object();
        block(w, m, &blk, b);
        w.end_object();
    }
    w.end_array();
    if blocks.malformed() {
        flags.0 |= Flags::MALFORMED_BLOCK;
    }
}

fn block(w: &mut JsonWriter, m: &DcpMessage<'_>, blk: &Block<'_>, b: &mut Bounded) {
    w.u64_field("option", u64::from(blk.option));
    w.u64_field("suboption", u64::from(blk.suboption));
    w.str_field("name", block_name(blk.option, blk.suboption));
    if let Some(q) = blk.qualifier {
        w.u64_field("qualifier", u64::from(q));
    }
    match BlockValue::of(blk) {
        BlockValue::Mac(mac) => w.mac_field("mac_address", mac),
        BlockValue::Ip { ip, mask, gateway } => {
            w.ip_field("ip_address", ip.into());
            w.ip_field("netmask", mask.into());
            w.ip_field("gateway", gateway.into());
            if m.service_type.is_response() || m.service_id.0 == 6 {
                if let Some(q) = blk.qualifier {
                    w.str_field("ip_status", ip_block_info_name(q));
                    if q & 0x80 != 0 {
                        w.bool_field("ip_conflict", true);
                    }
                }
            }
        }
        BlockValue::VendorValue(v) => name(w, "device_vendor", v),
        BlockValue::NameOfStation(v) => name(w, "name_of_station", v),
        BlockValue::Alias(v) => name(w, "alias_name", v),
        BlockValue::DeviceId {
            vendor_id,
            device_id,
        }
        | BlockValue::OemDeviceId {
            vendor_id,
            device_id,
        } => {
            w.u64_field("vendor_id", u64::from(vendor_id));
            w.u64_field("device_id", u64::from(device_id));
        }
        BlockValue::Role(r) => {
            w.u64_field("device_role", u64::from(r));
            w.begin_array_field("device_role_names");
            for n in role_names(r) {
                w.str_value(n);
            }
            w.end_array();
        }
        BlockValue::Options(o) => {
            w.begin_array_field("options");
            for p in o.chunks_exact(2).take(b.max) {
                w.str_value(block_name(p[0], p[1]));
            }
            w.end_array();
            b.truncated |= o.len() / 2 > b.max;
        }
        BlockValue::Instance(h, l) => {
            w.u64_field("device_instance", u64::from(u16::from_be_bytes([h, l])))
        }
        BlockValue::Dhcp(code, v) => {
            w.u64_field("dhcp_option", u64::from(code));
            b.hex(w, "value", v);
        }
        BlockValue::Signal(v) => w.u64_field("signal", u64::from(v)),
        BlockValue::Response {
            option,
            suboption,
            error,
        } => {
            w.str_field("response_to", block_name(option, suboption));
            w.u64_field("block_error", u64::from(error));
            w.str_field("block_error_name", block_error_name(error));
        }
        BlockValue::DeviceInitiative(v) => w.u64_field("device_initiative", u64::from(v)),
        BlockValue::Transaction(_) | BlockValue::FactoryReset(..) | BlockValue::All => {}
        BlockValue::Other => {
            if !blk.data.is_empty() {
                b.hex(w, "value", blk.data);
            }
        }
    }
}
