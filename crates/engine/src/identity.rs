//! Identity facts carried by industrial protocol transactions: vendor,
//! product, model, firmware, serial numbers, names, protocol addresses.
//! Each fact names its source and a confidence, which the inventory keeps
//! as evidence.

use plantshield_protocols::bacnet::services::{self as bacnet_services, AccessList, AccessResult};
use plantshield_protocols::bacnet::{self, tags, ObjectId, ObjectType, PduType, PropertyId};
use plantshield_protocols::enip::{Body, ClassId, Identity, Target};
use plantshield_protocols::modbus::ResponseBody;
use plantshield_protocols::opcua::services::{self as opcua_services, AppDescription};
use plantshield_protocols::opcua::{application_type_name, ServiceId};
use plantshield_protocols::profinet::{self, BlockValue};
use plantshield_protocols::s7comm::userdata::{self, Component, Version};
use plantshield_protocols::s7comm::FunctionGroup;
use plantshield_sensor::{BacnetEvent, Event, Iec104Event, OpcuaEvent, ProfinetDcpEvent};

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
/// What a configuration command assigns to a device (a PROFINET DCP Set):
/// the device may refuse it.
const ASSIGNED: u8 = 70;

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
        Event::Bacnet(b) => bacnet_facts(b, f),
        Event::Opcua(o) => opcua_facts(o, f),
        Event::ProfinetDcp(d) => dcp_facts(d, f),
        _ => {}
    }
}

/// The identity attribute a Device object property gives (clause 12.11).
fn device_property(p: PropertyId) -> Option<&'static str> {
    Some(match p {
        PropertyId::VENDOR_NAME => "vendor",
        PropertyId::VENDOR_IDENTIFIER => "bacnet_vendor_id",
        PropertyId::MODEL_NAME => "model",
        PropertyId::FIRMWARE_REVISION => "firmware",
        PropertyId::APPLICATION_SOFTWARE_VERSION => "software_version",
        PropertyId::OBJECT_NAME => "device_name",
        PropertyId::LOCATION => "location",
        PropertyId::DESCRIPTION => "description",
        PropertyId::SERIAL_NUMBER => "serial_number",
        PropertyId::OBJECT_IDENTIFIER => "bacnet_device_instance",
        _ => return None,
    })
}

/// A property value as attribute text: strings, numbers, and a device's
/// object identifier as its instance.
fn bacnet_value(encoded: &[u8]) -> Option<String> {
    let mut it = tags::app_values(encoded);
    let v = it.next()?;
    if it.next().is_some() {
        return None;
    }
    match v {
        bacnet::Value::CharacterString { .. } => v.text(),
        bacnet::Value::Unsigned(n) | bacnet::Value::Enumerated(n) => Some(n.to_string()),
        bacnet::Value::ObjectId(o) if o.object_type == ObjectType::DEVICE => {
            Some(o.instance.to_string())
        }
        _ => None,
    }
}

/// BACnet: I-Am and I-Have tell who sent them; ReadProperty and
/// ReadPropertyMultiple acks on the Device object tell what the device
/// answering is. Messages relayed by a BBMD (Forwarded-NPDU) or routed from
/// another BACnet network (NPDU source address) are about a device behind
/// the IP sender, not the sender: they teach nothing here.
fn bacnet_facts(b: &BacnetEvent<'_>, f: &mut impl FnMut(Fact)) {
    let fact = |f: &mut dyn FnMut(Fact), attribute, value: String, source, about_client| {
        f(Fact {
            attribute,
            value,
            source,
            confidence: SELF_REPORTED,
            about_client,
        })
    };
    if let Some(req) = b.request.filter(|m| !m.relayed()) {
        if let Some(a) = req
            .apdu()
            .filter(|a| a.pdu_type == PduType::UNCONFIRMED_REQUEST)
        {
            // The sender is the event's server when the announcement was
            // oriented towards its receiver, else its client.
            let sender_is_client = !b.request_from_server;
            match a.service {
                Some(0) => {
                    if let Some(i) = bacnet_services::i_am(a.data) {
                        let source = "bacnet.i_am";
                        fact(
                            f,
                            "bacnet_device_instance",
                            i.device.instance.to_string(),
                            source,
                            sender_is_client,
                        );
                        fact(
                            f,
                            "bacnet_vendor_id",
                            i.vendor_id.to_string(),
                            source,
                            sender_is_client,
                        );
                    }
                }
                Some(1) => {
                    if let Some(i) = bacnet_services::i_have(a.data) {
                        let source = "bacnet.i_have";
                        fact(
                            f,
                            "bacnet_device_instance",
                            i.device.instance.to_string(),
                            source,
                            sender_is_client,
                        );
                    }
                }
                _ => {}
            }
        }
    }
    // Acks of reads of the Device object, about the device answering.
    let Some(resp) = b.response.filter(|m| !m.relayed()) else {
        return;
    };
    let Some(a) = resp.apdu().filter(|a| a.pdu_type == PduType::COMPLEX_ACK) else {
        return;
    };
    let data = b.response_data.unwrap_or(a.data);
    let is_device = |o: ObjectId| o.object_type == ObjectType::DEVICE;
    match a.service {
        Some(12) => {
            let source = "bacnet.read_property";
            let Some(r) = bacnet_services::property_ref(data).filter(|r| is_device(r.object))
            else {
                return;
            };
            if r.object.instance != ObjectId::WILDCARD_INSTANCE {
                fact(
                    f,
                    "bacnet_device_instance",
                    r.object.instance.to_string(),
                    source,
                    false,
                );
            }
            if let (Some(attr), None, Some(v)) =
                (device_property(r.property), r.array_index, r.value)
            {
                if let Some(text) = bacnet_value(v) {
                    fact(f, attr, text, source, false);
                }
            }
        }
        Some(14) => {
            let source = "bacnet.read_property_multiple";
            for i in bacnet_services::access_items(data, AccessList::ReadAck) {
                if !is_device(i.object) || i.array_index.is_some() {
                    continue;
                }
                if i.object.instance != ObjectId::WILDCARD_INSTANCE {
                    fact(
                        f,
                        "bacnet_device_instance",
                        i.object.instance.to_string(),
                        source,
                        false,
                    );
                }
                let (Some(attr), AccessResult::Value(v)) = (device_property(i.property), i.result)
                else {
                    continue;
                };
                if let Some(text) = bacnet_value(v) {
                    fact(f, attr, text, source, false);
                }
            }
        }
        _ => {}
    }
}

/// The facts of an OPC UA ApplicationDescription.
fn application_facts(
    a: &AppDescription<'_>,
    source: &'static str,
    about_client: bool,
    f: &mut impl FnMut(Fact),
) {
    let mut fact = |attribute, value: Option<&[u8]>| {
        if let Some(v) = value {
            f(Fact {
                attribute,
                value: text(&v[..v.len().min(plantshield_protocols::opcua::MAX_STRING)]),
                source,
                confidence: SELF_REPORTED,
                about_client,
            });
        }
    };
    fact("product", a.application_name.text);
    fact("product_uri", a.product_uri);
    fact("application_uri", a.application_uri);
    fact(
        "opcua_application_type",
        Some(application_type_name(a.application_type).as_bytes()),
    );
}

/// OPC UA: the ApplicationDescriptions of GetEndpoints responses and
/// CreateSession (the client's in the request, the server's in the
/// response's endpoints). Encrypted channels are never decoded.
fn opcua_facts(o: &OpcuaEvent<'_>, f: &mut impl FnMut(Fact)) {
    if let Some(req) = &o.request {
        if req.id == Some(ServiceId::CREATE_SESSION_REQUEST) {
            if let Some(c) = opcua_services::create_session_request(req.params) {
                application_facts(&c.client, "opcua.create_session", true, f);
            }
        }
    }
    let Some(resp) = &o.response else {
        return;
    };
    let endpoints = match resp.id {
        Some(ServiceId::GET_ENDPOINTS_RESPONSE) => {
            opcua_services::get_endpoints_response(resp.params).map(|e| (e, "opcua.get_endpoints"))
        }
        Some(ServiceId::CREATE_SESSION_RESPONSE) => {
            opcua_services::create_session_response(resp.params)
                .map(|(_, e)| (e, "opcua.create_session"))
        }
        _ => None,
    };
    if let Some((mut endpoints, source)) = endpoints {
        if let Some(e) = endpoints.next() {
            application_facts(&e.server, source, false, f);
        }
    }
}

/// Vendor names of the PROFINET vendor ids PlantShield knows.
fn profinet_vendor(id: u16) -> Option<&'static str> {
    match id {
        0x002a => Some("Siemens"),
        _ => None,
    }
}

/// PROFINET DCP: what a device reports about itself (Identify response,
/// Hello, Get response), and what a Set assigns to the device it was sent
/// to: confirmed by the device's response without error as strongly as
/// what it reports; unanswered more weakly (the device may have refused).
/// Identify requests name the device searched for, not the sender: nothing.
fn dcp_facts(d: &ProfinetDcpEvent<'_>, f: &mut impl FnMut(Fact)) {
    let m = &d.message;
    let (source, about_client, confidence, blocks) = match (m.service_id.0, m.service_type.0) {
        (5, 1) => ("profinet_dcp.identify", true, SELF_REPORTED, m),
        (3, 1) => ("profinet_dcp.get", true, SELF_REPORTED, m),
        (6, 0) => ("profinet_dcp.hello", true, SELF_REPORTED, m),
        (3, 0) => match &d.response {
            Some(r) if r.service_type.0 == 1 => ("profinet_dcp.get", false, SELF_REPORTED, r),
            _ => return,
        },
        (4, 0) => match (&d.response, d.ics.status) {
            (Some(r), plantshield_events::Status::Ok) if r.service_type.0 == 1 => {
                ("profinet_dcp.set", false, SELF_REPORTED, m)
            }
            (None, _) => ("profinet_dcp.set", false, ASSIGNED, m),
            _ => return,
        },
        _ => return,
    };
    let mut fact = |attribute, value: String| {
        f(Fact {
            attribute,
            value,
            source,
            confidence,
            about_client,
        })
    };
    for b in blocks.blocks() {
        match BlockValue::of(&b) {
            BlockValue::NameOfStation(n) => fact("station_name", text(n)),
            BlockValue::VendorValue(v) => fact("model", text(v)),
            BlockValue::DeviceId {
                vendor_id,
                device_id,
            } => {
                fact("profinet_vendor_id", format!("0x{vendor_id:04x}"));
                fact("profinet_device_id", format!("0x{device_id:04x}"));
                if let Some(v) = profinet_vendor(vendor_id) {
                    fact("vendor", v.to_string());
                }
            }
            BlockValue::Role(r) => {
                let roles: Vec<&str> = profinet::role_names(r).collect();
                if !roles.is_empty() {
                    fact("profinet_role", roles.join(","));
                }
            }
            BlockValue::Ip { ip, mask, gateway } if !ip.is_unspecified() => {
                let bits = u32::from(mask);
                let value = if bits.leading_ones() + bits.trailing_zeros() == 32 {
                    format!("{ip}/{}", bits.leading_ones())
                } else {
                    format!("{ip}/{mask}")
                };
                fact("profinet_ip", value);
                if !gateway.is_unspecified() && gateway != ip {
                    fact("profinet_gateway", gateway.to_string());
                }
            }
            _ => {}
        }
    }
}
