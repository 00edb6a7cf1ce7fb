//! Identity facts carried by industrial protocol transactions: vendor,
//! product, model, firmware, serial numbers, names, protocol addresses.
//! Each fact names its source and a confidence, which the inventory keeps
//! as evidence.

use plantshield_protocols::modbus::ResponseBody;
use plantshield_sensor::Event;

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

/// Device identification that the device reports about itself is trusted
/// highly; it can still be configured to lie, so not absolutely.
const SELF_REPORTED: u8 = 90;

/// Calls `f` with every identity fact of an event.
pub fn facts(ev: &Event<'_>, f: &mut impl FnMut(Fact)) {
    if let Event::Modbus(m) = ev {
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
                f(Fact {
                    attribute,
                    value: String::from_utf8_lossy(value).into_owned(),
                    source,
                    confidence: SELF_REPORTED,
                    about_client: false,
                });
            }
        }
    }
}
