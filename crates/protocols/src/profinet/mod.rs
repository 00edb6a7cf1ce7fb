//! PROFINET DCP, the Discovery and basic Configuration Protocol (IEC
//! 61158-6-10, "DCP" clauses; cited as "DCP"): the layer-2 frames that
//! identify PROFINET devices, read their names and addresses and set them.
//!
//! A DCP frame is an Ethernet frame of EtherType 0x8892 whose PROFINET
//! frame id is 0xFEFC (Hello), 0xFEFD (Get and Set, unicast), 0xFEFE
//! (Identify request, usually multicast) or 0xFEFF (Identify response).
//! [`DcpMessage::parse`] reads the payload after the EtherType; its
//! [`blocks`](DcpMessage::blocks) and [`BlockValue::of`] read the blocks.
//!
//! Cyclic real-time frames, alarms, PTCP and PNIO-CM over DCE/RPC share
//! the EtherType and are not decoded here.

use std::net::Ipv4Addr;

use plantshield_events::Operation;

use crate::cursor::Cursor;

/// The PROFINET EtherType.
pub const ETHERTYPE: u16 = 0x8892;
/// Frame id of DCP Hello requests.
pub const FRAME_HELLO: u16 = 0xfefc;
/// Frame id of DCP Get and Set requests and responses.
pub const FRAME_GET_SET: u16 = 0xfefd;
/// Frame id of DCP Identify requests.
pub const FRAME_IDENTIFY_REQUEST: u16 = 0xfefe;
/// Frame id of DCP Identify responses.
pub const FRAME_IDENTIFY_RESPONSE: u16 = 0xfeff;
/// Most blocks read from one message.
pub const MAX_BLOCKS: usize = 64;

/// True for the four DCP frame ids.
pub fn is_dcp_frame_id(id: u16) -> bool {
    (FRAME_HELLO..=FRAME_IDENTIFY_RESPONSE).contains(&id)
}

/// A DCP service id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u8);

impl ServiceId {
    /// Get.
    pub const GET: ServiceId = ServiceId(3);
    /// Set.
    pub const SET: ServiceId = ServiceId(4);
    /// Identify.
    pub const IDENTIFY: ServiceId = ServiceId(5);
    /// Hello.
    pub const HELLO: ServiceId = ServiceId(6);

    /// snake_case name; `reserved` for the others.
    pub fn name(self) -> &'static str {
        match self.0 {
            3 => "get",
            4 => "set",
            5 => "identify",
            6 => "hello",
            _ => "reserved",
        }
    }

    /// What the service does (`ics.operation`): Set changes a device's
    /// name, address or state (Control blocks: signal, factory reset).
    pub fn operation(self) -> Operation {
        match self.0 {
            3 => Operation::Read,
            4 => Operation::Configuration,
            5 | 6 => Operation::Discovery,
            _ => Operation::Other,
        }
    }
}

/// A DCP service type (request or response).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceType(pub u8);

impl ServiceType {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "request",
            1 => "response_success",
            5 => "response_not_supported",
            _ => "reserved",
        }
    }

    /// True for responses (bit 0).
    pub fn is_response(self) -> bool {
        self.0 & 0x01 != 0
    }
}

/// Findings of a DCP message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

crate::flag_set!(Flags, u32);

impl Flags {
    /// The DCPDataLength runs past the frame: the frame's end was used.
    pub const LENGTH_MISMATCH: u32 = 1 << 0;
    /// A block runs past the data, or more than [`MAX_BLOCKS`] blocks.
    pub const MALFORMED_BLOCK: u32 = 1 << 1;
    /// The frame id does not go with the service (Identify outside
    /// 0xFEFE/0xFEFF, Get/Set outside 0xFEFD, Hello outside 0xFEFC).
    pub const FRAME_ID_MISMATCH: u32 = 1 << 2;
    /// A service id the standard does not define.
    pub const UNKNOWN_SERVICE: u32 = 1 << 3;

    const NAMES: [(u32, &'static str); 4] = [
        (Self::LENGTH_MISMATCH, "length_mismatch"),
        (Self::MALFORMED_BLOCK, "malformed_block"),
        (Self::FRAME_ID_MISMATCH, "frame_id_mismatch"),
        (Self::UNKNOWN_SERVICE, "unknown_service"),
    ];
}

/// One DCP message (DCP PDU header and its block area).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DcpMessage<'a> {
    /// PROFINET frame id.
    pub frame_id: u16,
    /// ServiceID.
    pub service_id: ServiceId,
    /// ServiceType.
    pub service_type: ServiceType,
    /// Transaction id: a response carries its request's.
    pub xid: u32,
    /// Identify requests: ResponseDelayFactor; reserved otherwise.
    pub response_delay: u16,
    /// DCPDataLength.
    pub data_length: u16,
    /// The block area (bounded by the data length and the frame).
    pub data: &'a [u8],
    /// Findings.
    pub flags: Flags,
}

/// Why a frame is not a DCP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DcpError {
    /// Not one of the DCP frame ids (another PROFINET frame).
    NotDcp(u16),
    /// The frame ends inside the DCP header.
    Truncated,
}

impl<'a> DcpMessage<'a> {
    /// Reads the payload of an EtherType 0x8892 frame (from the frame id).
    pub fn parse(payload: &'a [u8]) -> Result<Self, DcpError> {
        let mut c = Cursor::new(payload);
        let frame_id = c.u16().ok_or(DcpError::Truncated)?;
        if !is_dcp_frame_id(frame_id) {
            return Err(DcpError::NotDcp(frame_id));
        }
        let (Some(sid), Some(st), Some(xid), Some(delay), Some(len)) =
            (c.u8(), c.u8(), c.u32(), c.u16(), c.u16())
        else {
            return Err(DcpError::Truncated);
        };
        let mut flags = Flags::default();
        let rest = c.rest();
        let data = if usize::from(len) > rest.len() {
            flags.0 |= Flags::LENGTH_MISMATCH;
            rest
        } else {
            &rest[..usize::from(len)]
        };
        let service_id = ServiceId(sid);
        let expected = match sid {
            3 | 4 => FRAME_GET_SET == frame_id,
            5 => matches!(frame_id, FRAME_IDENTIFY_REQUEST | FRAME_IDENTIFY_RESPONSE),
            6 => frame_id == FRAME_HELLO,
            _ => {
                flags.0 |= Flags::UNKNOWN_SERVICE;
                true
            }
        };
        if !expected {
            flags.0 |= Flags::FRAME_ID_MISMATCH;
        }
        Ok(DcpMessage {
            frame_id,
            service_id,
            service_type: ServiceType(st),
            xid,
            response_delay: delay,
            data_length: len,
            data,
            flags,
        })
    }

    /// How the blocks of this message are laid out.
    fn layout(&self) -> Layout {
        match (self.service_id.0, self.service_type.is_response()) {
            (3, false) => Layout::Pairs,
            (5, false) => Layout::Plain,
            (4, false) => Layout::Qualified,
            _ => Layout::Qualified,
        }
    }

    /// The blocks of the message.
    pub fn blocks(&self) -> Blocks<'a> {
        Blocks {
            c: Cursor::new(self.data),
            layout: self.layout(),
            count: 0,
            malformed: false,
        }
    }

    /// True when the block area does not read to its end.
    pub fn blocks_malformed(&self) -> bool {
        let mut b = self.blocks();
        for _ in b.by_ref() {}
        b.malformed
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Get requests: option and suboption pairs.
    Pairs,
    /// Identify request filters: option, suboption, length, value.
    Plain,
    /// Responses, Hello and Set requests: a BlockInfo or BlockQualifier
    /// before the value (except Control/Response blocks).
    Qualified,
}

/// One block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block<'a> {
    /// Option.
    pub option: u8,
    /// Suboption.
    pub suboption: u8,
    /// BlockInfo (responses, Hello) or BlockQualifier (Set requests).
    pub qualifier: Option<u16>,
    /// The value.
    pub data: &'a [u8],
}

/// The blocks of a message; stops at the first that runs past the data.
#[derive(Clone, Debug)]
pub struct Blocks<'a> {
    c: Cursor<'a>,
    layout: Layout,
    count: usize,
    malformed: bool,
}

impl Blocks<'_> {
    /// True when the block area stopped reading before its end.
    pub fn malformed(&self) -> bool {
        self.malformed
    }
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Block<'a>;

    fn next(&mut self) -> Option<Block<'a>> {
        if self.c.remaining() == 0 || self.malformed {
            return None;
        }
        if self.count == MAX_BLOCKS {
            self.malformed = true;
            return None;
        }
        self.count += 1;
        let (Some(option), Some(suboption)) = (self.c.u8(), self.c.u8()) else {
            self.malformed = true;
            return None;
        };
        if self.layout == Layout::Pairs {
            return Some(Block {
                option,
                suboption,
                qualifier: None,
                data: &[],
            });
        }
        let Some(body) = self.c.u16().and_then(|n| self.c.bytes(usize::from(n))) else {
            self.malformed = true;
            return None;
        };
        // Blocks are padded to an even length.
        if body.len() % 2 == 1 && self.c.remaining() > 0 {
            self.c.u8();
        }
        let qualified = self.layout == Layout::Qualified && (option, suboption) != (5, 4);
        if qualified {
            let Some((q, data)) = body.split_first_chunk::<2>() else {
                self.malformed = true;
                return None;
            };
            return Some(Block {
                option,
                suboption,
                qualifier: Some(u16::from_be_bytes(*q)),
                data,
            });
        }
        Some(Block {
            option,
            suboption,
            qualifier: None,
            data: body,
        })
    }
}

/// What a block holds, for the blocks PlantShield reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockValue<'a> {
    /// IP / MAC address.
    Mac([u8; 6]),
    /// IP / IP parameter (and full IP suite): address, mask, gateway.
    Ip {
        /// IP address.
        ip: Ipv4Addr,
        /// Subnet mask.
        mask: Ipv4Addr,
        /// Standard gateway.
        gateway: Ipv4Addr,
    },
    /// Device properties / manufacturer specific: the DeviceVendorValue
    /// (type of station).
    VendorValue(&'a [u8]),
    /// Device properties / NameOfStation.
    NameOfStation(&'a [u8]),
    /// Device properties / Device ID.
    DeviceId {
        /// Vendor id (PI assigned).
        vendor_id: u16,
        /// Device id (vendor assigned).
        device_id: u16,
    },
    /// Device properties / Device role bits.
    Role(u8),
    /// Device properties / Device options: option and suboption pairs.
    Options(&'a [u8]),
    /// Device properties / AliasName.
    Alias(&'a [u8]),
    /// Device properties / Device instance (high, low).
    Instance(u8, u8),
    /// Device properties / OEM device id.
    OemDeviceId {
        /// Vendor id.
        vendor_id: u16,
        /// Device id.
        device_id: u16,
    },
    /// DHCP: a DHCP option (suboption = option code) and its value.
    Dhcp(u8, &'a [u8]),
    /// Control / Start or End transaction.
    Transaction(bool),
    /// Control / Signal (flash the device's LED): the signal value.
    Signal(u16),
    /// Control / Response: the option and suboption answered and the BlockError.
    Response {
        /// Option answered.
        option: u8,
        /// Suboption answered.
        suboption: u8,
        /// BlockError (0 ok).
        error: u8,
    },
    /// Control / Factory reset or Reset to factory: the mode.
    FactoryReset(u8, Option<u16>),
    /// Device initiative: 1 when the device sends Hello at start-up.
    DeviceInitiative(u16),
    /// All selector (Identify all).
    All,
    /// Anything else.
    Other,
}

impl<'a> BlockValue<'a> {
    /// Reads a block's value.
    pub fn of(b: &Block<'a>) -> BlockValue<'a> {
        let d = b.data;
        let u16_at = |i: usize| d.get(i..i + 2).map(|x| u16::from_be_bytes([x[0], x[1]]));
        let ip_at = |i: usize| {
            d.get(i..i + 4)
                .map(|x| Ipv4Addr::new(x[0], x[1], x[2], x[3]))
        };
        match (b.option, b.suboption) {
            (1, 1) => d
                .get(..6)
                .and_then(|m| m.try_into().ok())
                .map_or(BlockValue::Other, BlockValue::Mac),
            (1, 2) | (1, 3) => match (ip_at(0), ip_at(4), ip_at(8)) {
                (Some(ip), Some(mask), Some(gateway)) => BlockValue::Ip { ip, mask, gateway },
                _ => BlockValue::Other,
            },
            (2, 1) => BlockValue::VendorValue(d),
            (2, 2) => BlockValue::NameOfStation(d),
            (2, 3) | (2, 8) => match (u16_at(0), u16_at(2)) {
                (Some(vendor_id), Some(device_id)) if b.suboption == 3 => BlockValue::DeviceId {
                    vendor_id,
                    device_id,
                },
                (Some(vendor_id), Some(device_id)) => BlockValue::OemDeviceId {
                    vendor_id,
                    device_id,
                },
                _ => BlockValue::Other,
            },
            (2, 4) => d
                .first()
                .map_or(BlockValue::Other, |&r| BlockValue::Role(r)),
            (2, 5) => BlockValue::Options(d),
            (2, 6) => BlockValue::Alias(d),
            (2, 7) => match d {
                [h, l, ..] => BlockValue::Instance(*h, *l),
                _ => BlockValue::Other,
            },
            (3, s) => BlockValue::Dhcp(s, d),
            (5, 1) => BlockValue::Transaction(true),
            (5, 2) => BlockValue::Transaction(false),
            (5, 3) => u16_at(0).map_or(BlockValue::Other, BlockValue::Signal),
            (5, 4) => match d {
                [option, suboption, error, ..] => BlockValue::Response {
                    option: *option,
                    suboption: *suboption,
                    error: *error,
                },
                _ => BlockValue::Other,
            },
            (5, 5) | (5, 6) => BlockValue::FactoryReset(b.suboption, b.qualifier),
            (6, 1) => u16_at(0).map_or(BlockValue::Other, BlockValue::DeviceInitiative),
            (255, 255) => BlockValue::All,
            _ => BlockValue::Other,
        }
    }
}

/// snake_case name of an option and suboption.
pub fn block_name(option: u8, suboption: u8) -> &'static str {
    match (option, suboption) {
        (1, 1) => "mac_address",
        (1, 2) => "ip_parameter",
        (1, 3) => "full_ip_suite",
        (2, 1) => "device_vendor",
        (2, 2) => "name_of_station",
        (2, 3) => "device_id",
        (2, 4) => "device_role",
        (2, 5) => "device_options",
        (2, 6) => "alias_name",
        (2, 7) => "device_instance",
        (2, 8) => "oem_device_id",
        (2, 9) => "standard_gateway",
        (2, 10) => "rsi_properties",
        (3, _) => "dhcp",
        (5, 1) => "start_transaction",
        (5, 2) => "end_transaction",
        (5, 3) => "signal",
        (5, 4) => "response",
        (5, 5) => "factory_reset",
        (5, 6) => "reset_to_factory",
        (6, 1) => "device_initiative",
        (255, 255) => "all",
        (128..=254, _) => "manufacturer_specific",
        _ => "unknown",
    }
}

/// Names of the device role bits (DeviceRoleDetails).
pub fn role_names(role: u8) -> impl Iterator<Item = &'static str> {
    [
        (0x01, "io_device"),
        (0x02, "io_controller"),
        (0x04, "io_multidevice"),
        (0x08, "io_supervisor"),
    ]
    .into_iter()
    .filter(move |(b, _)| role & b != 0)
    .map(|(_, n)| n)
}

/// Name of a BlockError of a Set or Get response.
pub fn block_error_name(e: u8) -> &'static str {
    match e {
        0 => "ok",
        1 => "option_not_supported",
        2 => "suboption_not_supported",
        3 => "suboption_not_set",
        4 => "resource_error",
        5 => "set_not_possible",
        6 => "in_operation",
        _ => "unknown",
    }
}

/// Name of the BlockInfo of an IP parameter block in a response.
pub fn ip_block_info_name(info: u16) -> &'static str {
    match info & 0x7f {
        0 => "ip_not_set",
        1 => "ip_set",
        2 => "ip_set_by_dhcp",
        _ => "reserved",
    }
}

#[cfg(test)]
mod tests;
