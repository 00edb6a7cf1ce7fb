//! Identity facts carried by industrial protocol transactions: vendor,
//! product, model, firmware, serial numbers, names, protocol addresses.
//! Each fact names its source and a confidence, which the inventory keeps
//! as evidence.

use plantshield_protocols::enip::{Body, ClassId, Identity, Target};
use plantshield_protocols::modbus::ResponseBody;
use plantshield_protocols::s7comm::userdata::{self, Component, Version};
use plantshield_protocols::s7comm::FunctionGroup;
use plantshield_sensor::{Event, Iec104Event};

/// One thing a transaction says about a device.
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    /// Attribute name (`vendor`, `product_code`, `firmware`, ...).
    pub attribute: &'static str,
    /// Its value.
    pub value: String,
    /// Evidence source, `protocol.function`.
    pub source: &'static str,
    /// 0..=100.
    pub confidence: u8,
    /// The fact is about the client (otherwise about the server).
    pub about_client: bool,
}

/// What a device reports about itself is trusted highly; it can still be
/// configured to lie, so not absolutely.
const SELF_REPORTED: u8 = 90;
/// A protocol address seen in use is certain for what it is.
const OBSERVED: u8 = 95;
/// What only the protocol implies (S7 means Siemens, or a clone).
const IMPLIED: u8 = 60;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

/// Calls `f` with every identity fact of an event.
pub fn facts(ev: &Event<'_>, f: &mut impl FnMut(Fact)) {
    let mut server = |attribute, value: String, source, confidence| {
        f(Fact {
            attribute,
            value,
            source,
            confidence,
            about_client: false,
        })
    };
    match ev {
        Event::Modbus(m) => {
            if let Some(ResponseBody::ReadDeviceId(id)) = m.response.map(|r| r.body) {
                let source = "modbus.read_device_identification";
                for (oid, value) in id.objects() {
                    let attribute = match oid.0 {
                        0 => "vendor",
                        1 => "product_code",
                        2 => "firmware",
                        3 => "vendor_url",
                        4 => "product",
                        5 => "model",
                        6 => "application_name",
                        _ => continue,
                    };
                    server(attribute, text(value), source, SELF_REPORTED);
                }
            }
        }
        Event::S7comm(s) => {
            if let Some((rack, slot)) = s.rack_slot {
                server(
                    "s7_rack_slot",
                    format!("{rack}/{slot}"),
                    "s7comm.cotp_connect",
                    OBSERVED,
                );
            }
            let Some(req) = s.request else {
                return;
            };
            let Some(u) = userdata::parse_param(req.param) else {
                return;
            };
            if (u.group, u.sub_function) != (FunctionGroup::CPU_FUNCTIONS, 1)
                || userdata::is_push(&req)
            {
                return;
            }
            let Some(szl) = s.payload.and_then(userdata::szl_response) else {
                return;
            };
            let source = "s7comm.read_szl";
            server("vendor", "Siemens".into(), "s7comm", IMPLIED);
            match szl.id & 0x00ff {
                // Module identification (0x0011 and its partial lists).
                0x11 => {
                    for r in szl.records().filter_map(userdata::module_identification) {
                        match (r.index, r.version()) {
                            (0x0001, _) => {
                                server("order_number", text(r.order_number), source, SELF_REPORTED)
                            }
                            (0x0006, Version::Number(n)) => {
                                server("hardware_version", n.to_string(), source, SELF_REPORTED)
                            }
                            (0x0007, Version::Firmware(a, b, c)) => {
                                server("firmware", format!("V{a}.{b}.{c}"), source, SELF_REPORTED)
                            }
                            _ => {}
                        }
                    }
                }
                // Component identification (0x001C).
                0x1c => {
                    for r in szl.records().filter_map(userdata::component) {
                        let Component::Text(name, value) = r else {
                            continue;
                        };
                        let attribute = match name {
                            "automation_system_name" => "system_name",
                            "module_name" => "module_name",
                            "plant_identification" => "plant_id",
                            "serial_number" => "serial_number",
                            "module_type_name" => "model",
                            "location_designation" => "location",
                            _ => continue,
                        };
                        server(attribute, text(value), source, SELF_REPORTED);
                    }
                }
                _ => {}
            }
        }
        Event::Enip(e) => {
            let identity = match e.response.map(|r| r.1) {
                Some(Body::ListIdentity {
                    identity: Some(li), ..
                }) => Some((li.identity, "enip.list_identity")),
                _ => e
                    .cip
                    .and_then(|c| {
                        let req = c.request?;
                        let resp = c.response?;
                        // Get_Attributes_All on the Identity object (class 1).
                        (req.service.0 == 0x01 && c.target == Target::Class(ClassId::IDENTITY))
                            .then(|| Identity::parse(resp.data))
                            .flatten()
                    })
                    .map(|id| (id, "enip.identity_get_attributes_all")),
            };
            if let Some((id, source)) = identity {
                let vendor = match id.vendor_id.0 {
                    1 => "Rockwell Automation/Allen-Bradley".to_string(),
                    47 => "OMRON Corporation".to_string(),
                    90 => "HMS Industrial Networks".to_string(),
                    n => format!("CIP vendor {n}"),
                };
                server("vendor", vendor, source, SELF_REPORTED);
                server(
                    "device_type",
                    id.device_type.name().to_string(),
                    source,
                    SELF_REPORTED,
                );
                server(
                    "product_code",
                    id.product_code.to_string(),
                    source,
                    SELF_REPORTED,
                );
                server(
                    "firmware",
                    format!("{}.{:03}", id.revision_major, id.revision_minor),
                    source,
                    SELF_REPORTED,
                );
                server(
                    "serial_number",
                    format!("{:08x}", id.serial_number),
                    source,
                    SELF_REPORTED,
                );
                server("product", text(id.product_name), source, SELF_REPORTED);
            }
        }
        Event::Dnp3(d) => {
            // The master's request names both link addresses.
            if let Some(r) = d.request {
                server(
                    "dnp3_address",
                    r.link.destination.to_string(),
                    "dnp3.link",
                    OBSERVED,
                );
                f(Fact {
                    attribute: "dnp3_address",
                    value: r.link.source.to_string(),
                    source: "dnp3.link",
                    confidence: OBSERVED,
                    about_client: true,
                });
            }
        }
        Event::Iec104(Iec104Event::Transaction(t)) => {
            let asdu = [t.request, t.confirmation, t.data]
                .into_iter()
                .flatten()
                .find_map(|a| a.asdu.ok());
            if let Some(a) = asdu {
                server(
                    "iec104_common_address",
                    a.common_address.to_string(),
                    "iec104.asdu",
                    OBSERVED,
                );
            }
        }
        _ => {}
    }
}
