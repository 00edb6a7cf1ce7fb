//! Device identity: the ListIdentity reply item (CIP Vol. 2 §2-4.2.3) and
//! the Identity object's instance attributes 1-8 (CIP Vol. 1 §5A-2.2), the
//! raw material of an asset inventory.

use crate::cursor::Cursor;

/// A vendor id assigned by ODVA (Vol. 1 §5A-2.2, attribute 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VendorId(pub u16);

impl VendorId {
    /// snake_case name of the vendors PlantShield knows; `unknown` otherwise
    /// (the number is always reported).
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "rockwell_automation_allen_bradley",
            47 => "omron",
            90 => "hms_industrial_networks",
            _ => "unknown",
        }
    }
}

/// A device type: the device profile it follows (Vol. 1 §5A-2.2,
/// attribute 2; profiles in Vol. 1 chapter 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceType(pub u16);

impl DeviceType {
    /// snake_case profile name; `vendor_specific` for 0x64-0xC7, `unknown`
    /// for the rest.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "generic_device",
            0x02 => "ac_drive",
            0x03 => "motor_overload",
            0x04 => "limit_switch",
            0x05 => "inductive_proximity_switch",
            0x06 => "photoelectric_sensor",
            0x07 => "general_purpose_discrete_io",
            0x09 => "resolver",
            0x0C => "communications_adapter",
            0x0E => "programmable_logic_controller",
            0x10 => "position_controller",
            0x13 => "dc_drive",
            0x15 => "contactor",
            0x16 => "motor_starter",
            0x17 => "soft_start",
            0x18 => "human_machine_interface",
            0x1A => "mass_flow_controller",
            0x1B => "pneumatic_valve",
            0x1C => "vacuum_pressure_gauge",
            0x1D => "process_control_value",
            0x1E => "residual_gas_analyzer",
            0x1F => "dc_power_generator",
            0x20 => "rf_power_generator",
            0x21 => "turbomolecular_vacuum_pump",
            0x22 => "encoder",
            0x23 => "safety_discrete_io_device",
            0x24 => "fluid_flow_controller",
            0x25 => "cip_motion_drive",
            0x26 => "componet_repeater",
            0x27 => "mass_flow_controller_enhanced",
            0x28 => "cip_modbus_device",
            0x29 => "cip_modbus_translator",
            0x2A => "safety_analog_io_device",
            0x2B => "generic_device_keyable",
            0x2C => "managed_switch",
            0x64..=0xC7 => "vendor_specific",
            _ => "unknown",
        }
    }
}

/// The Identity object's state attribute (Vol. 1 §5A-2.2, attribute 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceState(pub u8);

impl DeviceState {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "nonexistent",
            1 => "device_self_testing",
            2 => "standby",
            3 => "operational",
            4 => "major_recoverable_fault",
            5 => "major_unrecoverable_fault",
            255 => "default_for_get_attributes_all",
            _ => "reserved",
        }
    }
}

/// Identity attributes 1-7, and 8 when present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Attribute 1.
    pub vendor_id: VendorId,
    /// Attribute 2.
    pub device_type: DeviceType,
    /// Attribute 3: the vendor's product code.
    pub product_code: u16,
    /// Attribute 4, major part.
    pub revision_major: u8,
    /// Attribute 4, minor part.
    pub revision_minor: u8,
    /// Attribute 5: status word (owned, configured, fault bits).
    pub status: u16,
    /// Attribute 6.
    pub serial_number: u32,
    /// Attribute 7: SHORT_STRING, as sent (not necessarily UTF-8).
    pub product_name: &'a [u8],
    /// Attribute 8.
    pub state: Option<DeviceState>,
}

impl<'a> Identity<'a> {
    /// Reads attributes 1-7 (and 8 when a byte follows) in Get_Attributes_All
    /// order from `c`.
    fn read(c: &mut Cursor<'a>) -> Option<Identity<'a>> {
        let vendor_id = VendorId(c.u16_le()?);
        let device_type = DeviceType(c.u16_le()?);
        let product_code = c.u16_le()?;
        let revision_major = c.u8()?;
        let revision_minor = c.u8()?;
        let status = c.u16_le()?;
        let serial_number = c.u32_le()?;
        let n = c.u8()?;
        let product_name = c.bytes(usize::from(n))?;
        let state = c.u8().map(DeviceState);
        Some(Identity {
            vendor_id,
            device_type,
            product_code,
            revision_major,
            revision_minor,
            status,
            serial_number,
            product_name,
            state,
        })
    }

    /// Parses the reply data of Get_Attributes_All on Identity instance 1.
    pub fn parse(b: &'a [u8]) -> Option<Identity<'a>> {
        Identity::read(&mut Cursor::new(b))
    }
}

/// The CIP Identity item of a ListIdentity reply (Vol. 2 §2-4.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListIdentityItem<'a> {
    /// Encapsulation protocol version the device supports.
    pub encapsulation_version: u16,
    /// The socket address item: where the device listens (big-endian).
    pub socket_family: u16,
    /// TCP/UDP port (44818).
    pub socket_port: u16,
    /// IPv4 address the device reports for itself.
    pub socket_addr: [u8; 4],
    /// Identity attributes; `state` is always present here.
    pub identity: Identity<'a>,
}

impl<'a> ListIdentityItem<'a> {
    /// Parses the item data.
    pub fn parse(b: &'a [u8]) -> Option<ListIdentityItem<'a>> {
        let mut c = Cursor::new(b);
        let encapsulation_version = c.u16_le()?;
        let socket_family = c.u16()?;
        let socket_port = c.u16()?;
        let a = c.bytes(4)?;
        c.bytes(8)?;
        let identity = Identity::read(&mut c)?;
        identity.state?;
        Some(ListIdentityItem {
            encapsulation_version,
            socket_family,
            socket_port,
            socket_addr: [a[0], a[1], a[2], a[3]],
            identity,
        })
    }
}
