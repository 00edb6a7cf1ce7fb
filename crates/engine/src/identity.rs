//! Identity facts carried by industrial protocol transactions (vendor,
//! product, model, firmware, serial numbers, names, protocol addresses)
//! and by the IT protocols that name hosts (host names and OS hints from
//! DHCP, NetBIOS, DNS and HTTP). Each fact names its source and a
//! confidence, which the inventory keeps as evidence.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use plantshield_decode::MacAddr;
use plantshield_protocols::bacnet::services::{self as bacnet_services, AccessList, AccessResult};
use plantshield_protocols::bacnet::{self, tags, ObjectId, ObjectType, PduType, PropertyId};
use plantshield_protocols::dhcp::{self, MessageType, Op};
use plantshield_protocols::dns::{self, RData, Rcode, MAX_TEXT_LEN};
use plantshield_protocols::enip::{Body, ClassId, Identity, Target};
use plantshield_protocols::modbus::ResponseBody;
use plantshield_protocols::netbios::{self, NameRole, NbHeader, NbName, NodeStatus};
use plantshield_protocols::opcua::services::{self as opcua_services, AppDescription};
use plantshield_protocols::opcua::{application_type_name, ServiceId};
use plantshield_protocols::profinet::{self, BlockValue};
use plantshield_protocols::s7comm::userdata::{self, Component, Version};
use plantshield_protocols::s7comm::FunctionGroup;
use plantshield_sensor::{
    BacnetEvent, DhcpEvent, Event, HttpEvent, Iec104Event, NameServiceEvent, OpcuaEvent,
    ProfinetDcpEvent,
};

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
    /// The fact is about the client (otherwise about the server), unless
    /// `about` names the device.
    pub about_client: bool,
    /// The device the fact is about, when it is neither end of the event:
    /// a DHCP client by its hardware address, the owner of an address a
    /// name service answered for.
    pub about: Option<About>,
}

/// A device named inside an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    /// The device with this MAC address.
    Mac(MacAddr),
    /// The device holding this IP address.
    Ip(IpAddr),
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
/// A name service vouching for another host's name (a NetBIOS answer, a
/// DNS PTR record): authoritative for the name, but not the host itself.
const NAME_SERVICE: u8 = 85;
/// A DNS A or AAAA answer: the name resolves to the address, but many
/// names may share one address (aliases, virtual hosts).
const RESOLVED: u8 = 60;
/// An OS family from the DHCP vendor class: set by the client's DHCP
/// software, coarse (`MSFT 5.0` is every Windows since 2000).
const OS_FROM_DHCP: u8 = 70;
/// An OS from an HTTP User-Agent: browsers say it, other clients may lie
/// or run elsewhere.
const OS_FROM_USER_AGENT: u8 = 60;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

/// False when [`facts`] has certainly nothing to say about `ev`: a cheap
/// test for the common transactions (a Modbus transaction other than a
/// device identification response), true for every other event.
#[inline]
pub fn may_have_facts(ev: &Event<'_>) -> bool {
    match ev {
        Event::Modbus(m) => matches!(
            m.response.as_ref().map(|r| &r.body),
            Some(ResponseBody::ReadDeviceId(_))
        ),
        _ => true,
    }
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
            about: None,
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
                    about: None,
                });
            }
        }
        Event::Iec104(Iec104Event::Transaction(t)) => {
            // A request to the global address (65535) says nothing about
            // the station; its confirmation carries the station's own.
            let asdu = [t.request, t.confirmation, t.data]
                .into_iter()
                .flatten()
                .filter_map(|a| a.asdu.ok())
                .find(|a| a.common_address != 0xFFFF);
            if let Some(a) = asdu {
                server(
                    "iec104_common_address",
                    a.common_address.to_string(),
                    "iec104.asdu",
                    OBSERVED,
                );
            }
        }
        Event::Dhcp(d) => dhcp_facts(d, f),
        Event::Netbios(n) => netbios_facts(n, f),
        Event::Dns(d) => dns_facts(d, f),
        Event::Http(h) => http_facts(h, f),
        Event::Bacnet(b) => bacnet_facts(b, f),
        Event::Opcua(o) => opcua_facts(o, f),
        Event::ProfinetDcp(d) => dcp_facts(d, f),
        _ => {}
    }
}

fn fact(
    attribute: &'static str,
    value: String,
    source: &'static str,
    confidence: u8,
    about_client: bool,
    about: Option<About>,
) -> Fact {
    Fact {
        attribute,
        value,
        source,
        confidence,
        about_client,
        about,
    }
}

/// Facts per event: enough for any real message, a bound for hostile ones.
const MAX_FACTS: usize = 32;

/// DHCP: what a client says about itself (host name, vendor class and the
/// OS it implies, the parameter request list as a fingerprint, its FQDN),
/// about the client by its hardware address; and the address a server's
/// ACK binds to that hardware address (`dhcp_ip`).
fn dhcp_facts(d: &DhcpEvent<'_>, f: &mut impl FnMut(Fact)) {
    let m = &d.message;
    let Some(mac) = m.client_mac().map(MacAddr) else {
        return;
    };
    if mac.is_multicast() || mac == MacAddr::default() {
        return;
    }
    let about = Some(About::Mac(mac));
    let t = m.message_type();
    if m.op == Op::REPLY {
        if t == Some(MessageType::ACK) && !m.yiaddr.is_unspecified() {
            f(fact(
                "dhcp_ip",
                m.yiaddr.to_string(),
                "dhcp.ack",
                OBSERVED,
                true,
                about,
            ));
        }
        return;
    }
    let source = match t {
        Some(MessageType::DISCOVER) => "dhcp.discover",
        Some(MessageType::REQUEST) => "dhcp.request",
        Some(MessageType::INFORM) => "dhcp.inform",
        _ => return,
    };
    let mut client = |attribute, value: String, source, confidence| {
        f(fact(attribute, value, source, confidence, true, about))
    };
    if let Some(v) = m.option(dhcp::option::HOST_NAME) {
        client(
            "hostname",
            text(v.strip_suffix(&[0]).unwrap_or(v)),
            source,
            SELF_REPORTED,
        );
    }
    if let Some(v) = m.option(dhcp::option::VENDOR_CLASS) {
        let v = v.strip_suffix(&[0]).unwrap_or(v);
        client("dhcp_vendor_class", text(v), source, SELF_REPORTED);
        if let Some(os) = os_from_vendor_class(&String::from_utf8_lossy(v)) {
            client("os", os, "dhcp.vendor_class", OS_FROM_DHCP);
        }
    }
    if let Some(v) = m.option(dhcp::option::PARAMETER_REQUEST_LIST) {
        client(
            "dhcp_fingerprint",
            dhcp::fingerprint(v),
            source,
            SELF_REPORTED,
        );
    }
    if let Some((_, name)) = m.client_fqdn() {
        // A bare host name repeats option 12; only a dotted name adds a domain.
        let name = name.trim().trim_end_matches('.');
        if name.contains('.') {
            client("dns_name", name.to_ascii_lowercase(), source, SELF_REPORTED);
        }
    }
}

/// The OS a DHCP vendor class identifier (option 60) names: `MSFT 5.0`
/// (Windows), `android-dhcp-<version>`, `dhcpcd-<version>:<os>-<release>:...`
/// and `udhcp <version>` (BusyBox). `None` for vendor classes that name a
/// product rather than an OS.
pub fn os_from_vendor_class(v: &str) -> Option<String> {
    let v = v.trim();
    if let Some(rest) = v.strip_prefix("MSFT") {
        return Some(match rest.trim() {
            "98" => "Windows 98".to_string(),
            _ => "Windows".to_string(),
        });
    }
    if let Some(ver) = v.strip_prefix("android-dhcp-") {
        let ver: String = ver
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        return Some(if ver.is_empty() {
            "Android".to_string()
        } else {
            format!("Android {ver}")
        });
    }
    if v.starts_with("dhcpcd") {
        // dhcpcd-9.4.1:Linux-5.15.0-1034-raspi:aarch64:BCM2835
        let os = v.split(':').nth(1)?;
        let (name, release) = os.split_once('-').unwrap_or((os, ""));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let version: Vec<&str> = release
            .split(|c: char| !c.is_ascii_digit())
            .take(2)
            .take_while(|p| !p.is_empty())
            .collect();
        return Some(if version.is_empty() {
            name.to_string()
        } else {
            format!("{name} {}", version.join("."))
        });
    }
    if v.starts_with("udhcp") {
        return Some("Linux (BusyBox)".to_string());
    }
    None
}

/// The OS an HTTP User-Agent names, for the common browser and system
/// tokens: `Windows NT x.y` (10.0 is Windows 10 or 11), `Android x`,
/// `iPhone OS x_y` / `CPU OS x_y` (iOS, iPadOS), `Mac OS X x_y`, `CrOS`,
/// `Linux`. `None` when none is there (most non-browser clients).
pub fn os_from_user_agent(ua: &str) -> Option<String> {
    let after = |token: &str| -> Option<&str> {
        let i = ua.find(token)?;
        let rest = &ua[i + token.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        Some(&rest[..end])
    };
    if let Some(v) = after("Windows NT ") {
        return Some(
            match v {
                "10.0" => "Windows 10/11",
                "6.3" => "Windows 8.1",
                "6.2" => "Windows 8",
                "6.1" => "Windows 7",
                "6.0" => "Windows Vista",
                "5.1" | "5.2" => "Windows XP",
                _ => "Windows",
            }
            .to_string(),
        );
    }
    if ua.contains("Windows") {
        return Some("Windows".to_string());
    }
    if let Some(v) = after("Android ") {
        return Some(if v.is_empty() {
            "Android".to_string()
        } else {
            format!("Android {v}")
        });
    }
    if ua.contains("Android") {
        return Some("Android".to_string());
    }
    if let Some(v) = after("iPhone OS ").or_else(|| after("CPU OS ")) {
        return Some(format!("iOS {}", v.replace('_', ".")).trim().to_string());
    }
    if let Some(v) = after("Mac OS X ") {
        return Some(format!("macOS {}", v.replace('_', ".")));
    }
    if ua.contains("Macintosh") {
        return Some("macOS".to_string());
    }
    if ua.contains("CrOS") {
        return Some("ChromeOS".to_string());
    }
    if ua.contains("Linux") {
        return Some("Linux".to_string());
    }
    None
}

/// NetBIOS: the names a host registers for itself (about the address in
/// the registration), the names a positive query response binds to
/// addresses, and the name table a node status response lists (about the
/// responder). Unique 0x00/0x20 names are the computer's `netbios_name`,
/// group 0x00/0x1C/0x1E and unique 0x1B/0x1D names its `netbios_domain`
/// (workgroup or domain).
fn netbios_facts(ev: &NameServiceEvent<'_>, f: &mut impl FnMut(Fact)) {
    let mut out = Vec::new();
    if let Some(q) = &ev.query {
        if q.header.nb_opcode().is_registration() {
            nb_by_address(q, "netbios.registration", SELF_REPORTED, &mut out);
        }
    }
    if let Some(r) = ev.response.filter(|r| r.header.nb_rcode().0 == 0) {
        let op = r.header.nb_opcode();
        if op == netbios::Opcode::QUERY {
            nb_by_address(&r, "netbios.name_query", NAME_SERVICE, &mut out);
        } else if op.is_registration() {
            nb_by_address(&r, "netbios.registration", NAME_SERVICE, &mut out);
        }
        for a in r.answers() {
            if a.rtype != netbios::rr_type::NBSTAT {
                continue;
            }
            for name in NodeStatus::parse(a.rdata).names() {
                if name.conflict() || name.deregistering() {
                    continue;
                }
                if let Some(attr) = nb_attribute(netbios::name_role(&name.name, name.group())) {
                    out.push(fact(
                        attr,
                        name.name.text(),
                        "netbios.node_status",
                        SELF_REPORTED,
                        ev.response_from_client,
                        None,
                    ));
                }
            }
        }
    }
    out.into_iter().take(MAX_FACTS).for_each(f);
}

fn nb_attribute(role: NameRole) -> Option<&'static str> {
    match role {
        NameRole::Host => Some("netbios_name"),
        NameRole::Domain => Some("netbios_domain"),
        NameRole::Other => None,
    }
}

/// The names NB records of a packet bind to unicast addresses.
fn nb_by_address(m: &dns::Message<'_>, source: &'static str, confidence: u8, out: &mut Vec<Fact>) {
    for (_, r) in netbios::records(m) {
        if r.rtype != netbios::rr_type::NB || out.len() >= MAX_FACTS {
            continue;
        }
        let Some(nb) = NbName::decode(&r.name) else {
            continue;
        };
        for a in netbios::nb_addresses(r.rdata).take(MAX_FACTS) {
            let ip = a.address;
            if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
                continue;
            }
            if let Some(attr) = nb_attribute(netbios::name_role(&nb, a.group)) {
                let about = Some(About::Ip(IpAddr::V4(ip)));
                out.push(fact(attr, nb.text(), source, confidence, false, about));
            }
        }
    }
}

/// The address a reverse-lookup name stands for: `d.c.b.a.in-addr.arpa`
/// or 32 nibbles and `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name_ip(name: &str) -> Option<IpAddr> {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(v4) = lower.strip_suffix(".in-addr.arpa") {
        let parts: Vec<&str> = v4.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut o = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            o[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(o)));
    }
    if let Some(v6) = lower.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = v6.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let mut o = [0u8; 16];
        for (i, n) in nibbles.iter().rev().enumerate() {
            let d = u8::from_str_radix(n, 16).ok().filter(|_| n.len() == 1)?;
            o[i / 2] |= if i % 2 == 0 { d << 4 } else { d };
        }
        return Some(IpAddr::V6(Ipv6Addr::from(o)));
    }
    None
}

/// DNS: the host name of an address, from a PTR answer (about the address
/// the PTR name stands for) or from an A/AAAA answer (about the answered
/// address, with less confidence: addresses are shared). Only answers of
/// successful responses; the inventory applies them to assets it already
/// holds under that address.
fn dns_facts(ev: &NameServiceEvent<'_>, f: &mut impl FnMut(Fact)) {
    let Some(r) = &ev.response else {
        return;
    };
    if r.header.rcode() != Rcode::NOERROR {
        return;
    }
    let mut buf = [0u8; MAX_TEXT_LEN];
    for a in r.answers().take(MAX_FACTS) {
        let owner = a.name.text(&mut buf).to_ascii_lowercase();
        let (ip, name, source, confidence) = match a.data() {
            RData::A(ip) => (IpAddr::V4(ip), owner, "dns.a", RESOLVED),
            RData::Aaaa(ip) => (IpAddr::V6(ip), owner, "dns.aaaa", RESOLVED),
            RData::Name(target) if a.rtype == dns::RrType::PTR => {
                let Some(ip) = reverse_name_ip(&owner) else {
                    continue;
                };
                let mut tbuf = [0u8; MAX_TEXT_LEN];
                let name = target.text(&mut tbuf).to_ascii_lowercase();
                (ip, name, "dns.ptr", NAME_SERVICE)
            }
            _ => continue,
        };
        if name.is_empty() || name == "." || ip.is_unspecified() || ip.is_multicast() {
            continue;
        }
        f(fact(
            "dns_name",
            name,
            source,
            confidence,
            false,
            Some(About::Ip(ip)),
        ));
    }
}

/// HTTP: the client's OS from its User-Agent, the server's software from
/// its Server field (`http_server`, kept as sent: embedded web servers of
/// PLCs and HMIs name themselves there).
fn http_facts(ev: &HttpEvent<'_>, f: &mut impl FnMut(Fact)) {
    if let Some(ua) = ev.request.and_then(|r| r.user_agent()) {
        if let Some(os) = os_from_user_agent(&String::from_utf8_lossy(ua)) {
            f(fact(
                "os",
                os,
                "http.user_agent",
                OS_FROM_USER_AGENT,
                true,
                None,
            ));
        }
    }
    if let Some(server) = ev.response.and_then(|r| r.server()) {
        let server = &server[..server.len().min(256)];
        f(fact(
            "http_server",
            text(server),
            "http.server",
            SELF_REPORTED,
            false,
            None,
        ));
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
            about: None,
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
                about: None,
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
            about: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use plantshield_protocols::dns::Message;

    #[test]
    fn vendor_classes() {
        let os = |v| os_from_vendor_class(v);
        assert_eq!(os("MSFT 5.0").as_deref(), Some("Windows"));
        assert_eq!(os("MSFT 98").as_deref(), Some("Windows 98"));
        assert_eq!(os("android-dhcp-13").as_deref(), Some("Android 13"));
        assert_eq!(os("android-dhcp-").as_deref(), Some("Android"));
        assert_eq!(
            os("dhcpcd-9.4.1:Linux-5.15.0-1034-raspi:aarch64:BCM2835").as_deref(),
            Some("Linux 5.15")
        );
        assert_eq!(
            os("dhcpcd-6.0:NetBSD-9.3:amd64").as_deref(),
            Some("NetBSD 9.3")
        );
        assert_eq!(os("dhcpcd 5.5.6").as_deref(), None);
        assert_eq!(os("udhcp 1.30.1").as_deref(), Some("Linux (BusyBox)"));
        assert_eq!(os("Cisco Systems, Inc. IP Phone CP-7960"), None);
    }

    #[test]
    fn user_agents() {
        let os = |v| os_from_user_agent(v);
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
                Some("Windows 10/11"),
            ),
            (
                "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
                Some("Windows 7"),
            ),
            (
                "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
                Some("Windows XP"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-G991B) AppleWebKit/537.36",
                Some("Android 13"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit",
                Some("iOS 16.5"),
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 15_7 like Mac OS X)",
                Some("iOS 15.7"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit",
                Some("macOS 10.15.7"),
            ),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", Some("ChromeOS")),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko Firefox/121.0",
                Some("Linux"),
            ),
            ("curl/8.0.1", None),
            ("Mozilla/5.0 zgrab/0.x", None),
        ];
        for (ua, want) in cases {
            assert_eq!(os(ua).as_deref(), want, "{ua}");
        }
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name_ip("10.0.0.192.in-addr.arpa"),
            Some("192.0.0.10".parse().unwrap())
        );
        assert_eq!(
            reverse_name_ip(
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.IP6.ARPA."
            ),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(reverse_name_ip("0.0.192.in-addr.arpa"), None);
        assert_eq!(reverse_name_ip("300.0.0.1.in-addr.arpa"), None);
        assert_eq!(reverse_name_ip("x.0.0.1.in-addr.arpa"), None);
        assert_eq!(reverse_name_ip("plc.example"), None);
    }

    fn collect(ev: &Event<'_>) -> Vec<Fact> {
        let mut v = Vec::new();
        facts(ev, &mut |f| v.push(f));
        v
    }

    #[test]
    fn dns_answers_name_addresses() {
        // 5.0.0.10.in-addr.arpa PTR hmi.example; hmi.example A 10.0.0.5;
        // a failed response says nothing.
        let mut r = vec![0, 1, 0x84, 0x00, 0, 0, 0, 2, 0, 0, 0, 0];
        let ptr = b"\x015\x010\x010\x0210\x07in-addr\x04arpa\x00";
        let name = b"\x03HMI\x07example\x00";
        r.extend_from_slice(ptr);
        r.extend_from_slice(&[0, 12, 0, 1, 0, 0, 0, 60, 0, name.len() as u8]);
        r.extend_from_slice(name);
        r.extend_from_slice(name);
        r.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 5]);
        let m = Message::parse(&r).unwrap();
        assert!(m.flags.is_empty());
        let ev = NameServiceEvent {
            query: None,
            response: Some(m),
            latency_ns: None,
            flags: dns::Flags::default(),
            broadcast: false,
            response_from_client: false,
        };
        let f = collect(&Event::Dns(&ev));
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(
            f,
            [
                fact(
                    "dns_name",
                    "hmi.example".into(),
                    "dns.ptr",
                    85,
                    false,
                    Some(About::Ip(ip))
                ),
                fact(
                    "dns_name",
                    "hmi.example".into(),
                    "dns.a",
                    60,
                    false,
                    Some(About::Ip(ip))
                ),
            ]
        );
        let mut nx = r.clone();
        nx[3] = 0x03;
        let ev = NameServiceEvent {
            response: Some(Message::parse(&nx).unwrap()),
            ..ev
        };
        assert!(collect(&Event::Dns(&ev)).is_empty());
    }
}
