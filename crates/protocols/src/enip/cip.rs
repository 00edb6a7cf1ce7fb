//! CIP explicit messages: Message Router requests and responses (CIP Vol. 1
//! §2-4), service codes (Appendix A), general status codes (Appendix B) and
//! class ids (chapter 5).

use plantshield_events::Operation;

use super::epath::{Epath, PathInfo};
use crate::cursor::Cursor;

/// The response bit of the service byte (Vol. 1 §2-4.2).
pub const RESPONSE_BIT: u8 = 0x80;

/// A CIP object class id (Vol. 1 §5-1, Table 5-1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub u32);

#[allow(missing_docs)]
impl ClassId {
    pub const IDENTITY: ClassId = ClassId(0x01);
    pub const MESSAGE_ROUTER: ClassId = ClassId(0x02);
    pub const ASSEMBLY: ClassId = ClassId(0x04);
    pub const CONNECTION_MANAGER: ClassId = ClassId(0x06);
    pub const FILE: ClassId = ClassId(0x37);
    pub const PCCC: ClassId = ClassId(0x67);
    pub const SYMBOL: ClassId = ClassId(0x6B);
    pub const TEMPLATE: ClassId = ClassId(0x6C);
    pub const PORT: ClassId = ClassId(0xF4);
    pub const TCP_IP_INTERFACE: ClassId = ClassId(0xF5);
    pub const ETHERNET_LINK: ClassId = ClassId(0xF6);
}

impl ClassId {
    /// snake_case name; `vendor_specific` for 0x64-0xC7 and 0x300-0x4FF
    /// without a published name, `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "identity",
            0x02 => "message_router",
            0x03 => "devicenet",
            0x04 => "assembly",
            0x05 => "connection",
            0x06 => "connection_manager",
            0x07 => "register",
            0x08 => "discrete_input_point",
            0x09 => "discrete_output_point",
            0x0A => "analog_input_point",
            0x0B => "analog_output_point",
            0x0E => "presence_sensing",
            0x0F => "parameter",
            0x10 => "parameter_group",
            0x12 => "group",
            0x1D => "discrete_input_group",
            0x1E => "discrete_output_group",
            0x1F => "discrete_group",
            0x20 => "analog_input_group",
            0x21 => "analog_output_group",
            0x22 => "analog_group",
            0x23 => "position_sensor",
            0x24 => "position_controller_supervisor",
            0x25 => "position_controller",
            0x26 => "block_sequencer",
            0x27 => "command_block",
            0x28 => "motor_data",
            0x29 => "control_supervisor",
            0x2A => "ac_dc_drive",
            0x2B => "acknowledge_handler",
            0x2C => "overload",
            0x2D => "softstart",
            0x2E => "selection",
            0x30 => "s_device_supervisor",
            0x31 => "s_analog_sensor",
            0x32 => "s_analog_actor",
            0x33 => "s_single_stage_controller",
            0x34 => "s_gas_calibration",
            0x35 => "trip_point",
            0x37 => "file",
            0x38 => "s_partial_pressure",
            0x39 => "safety_supervisor",
            0x3A => "safety_validator",
            0x3B => "safety_discrete_output_point",
            0x3C => "safety_discrete_output_group",
            0x3D => "safety_discrete_input_point",
            0x3E => "safety_discrete_input_group",
            0x3F => "safety_dual_channel_output",
            0x40 => "s_sensor_calibration",
            0x41 => "event_log",
            0x42 => "motion_axis",
            0x43 => "time_sync",
            0x44 => "modbus",
            0x45 => "originator_connection_list",
            0x46 => "modbus_serial_link",
            0x47 => "device_level_ring",
            0x48 => "qos",
            0x4D => "target_connection_list",
            0x4E => "base_energy",
            0x4F => "electrical_energy",
            0x50 => "non_electrical_energy",
            0x51 => "base_switch",
            0x52 => "snmp",
            0x53 => "power_management",
            0x54 => "rstp_bridge",
            0x55 => "rstp_port",
            0x5D => "cip_security",
            0x5E => "ethernet_ip_security",
            0x5F => "certificate_management",
            // Rockwell classes documented in the Logix 5000 Data Access manual.
            0x67 => "pccc",
            0x6B => "symbol",
            0x6C => "template",
            0xF0 => "controlnet",
            0xF1 => "controlnet_keeper",
            0xF2 => "controlnet_scheduling",
            0xF3 => "connection_configuration",
            0xF4 => "port",
            0xF5 => "tcp_ip_interface",
            0xF6 => "ethernet_link",
            0xF7 => "componet_link",
            0xF8 => "componet_repeater",
            0x64..=0xC7 | 0x300..=0x4FF => "vendor_specific",
            _ => "unknown",
        }
    }

    /// A class in the vendor-specific ranges (Vol. 1 §5-1: 0x64-0xC7 and
    /// 0x300-0x4FF), where controllers keep their programs.
    pub fn is_vendor_specific(self) -> bool {
        matches!(self.0, 0x64..=0xC7 | 0x300..=0x4FF)
    }
}

/// A service code without the response bit (Vol. 1 Appendix A).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceCode(pub u8);

#[allow(missing_docs)]
impl ServiceCode {
    pub const GET_ATTRIBUTES_ALL: ServiceCode = ServiceCode(0x01);
    pub const SET_ATTRIBUTES_ALL: ServiceCode = ServiceCode(0x02);
    pub const GET_ATTRIBUTE_LIST: ServiceCode = ServiceCode(0x03);
    pub const SET_ATTRIBUTE_LIST: ServiceCode = ServiceCode(0x04);
    pub const RESET: ServiceCode = ServiceCode(0x05);
    pub const START: ServiceCode = ServiceCode(0x06);
    pub const STOP: ServiceCode = ServiceCode(0x07);
    pub const CREATE: ServiceCode = ServiceCode(0x08);
    pub const DELETE: ServiceCode = ServiceCode(0x09);
    pub const MULTIPLE_SERVICE_PACKET: ServiceCode = ServiceCode(0x0A);
    pub const APPLY_ATTRIBUTES: ServiceCode = ServiceCode(0x0D);
    pub const GET_ATTRIBUTE_SINGLE: ServiceCode = ServiceCode(0x0E);
    pub const SET_ATTRIBUTE_SINGLE: ServiceCode = ServiceCode(0x10);
    /// Object specific: Execute_PCCC on the PCCC object.
    pub const EXECUTE_PCCC: ServiceCode = ServiceCode(0x4B);
    /// Object specific: Logix Read_Tag.
    pub const READ_TAG: ServiceCode = ServiceCode(0x4C);
    /// Object specific: Logix Write_Tag.
    pub const WRITE_TAG: ServiceCode = ServiceCode(0x4D);
    /// Object specific: Forward_Close (Connection Manager), Read_Modify_Write_Tag (Logix).
    pub const FORWARD_CLOSE: ServiceCode = ServiceCode(0x4E);
    /// Object specific: Unconnected_Send (Connection Manager), Read_Tag_Fragmented (Logix).
    pub const UNCONNECTED_SEND: ServiceCode = ServiceCode(0x52);
    /// Object specific: Logix Write_Tag_Fragmented.
    pub const WRITE_TAG_FRAGMENTED: ServiceCode = ServiceCode(0x53);
    /// Object specific: Forward_Open (Connection Manager).
    pub const FORWARD_OPEN: ServiceCode = ServiceCode(0x54);
    /// Object specific: Large_Forward_Open (Connection Manager).
    pub const LARGE_FORWARD_OPEN: ServiceCode = ServiceCode(0x5B);
}

/// What a service is addressed to, for naming object-specific codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A logical path ending at this class.
    Class(ClassId),
    /// A tag (symbolic path).
    Tag,
    /// Not known (a response whose request was not seen, or a path without class).
    Unknown,
}

impl Target {
    /// The target of a request path.
    pub fn of(p: &PathInfo) -> Target {
        if p.symbolic {
            Target::Tag
        } else {
            match p.class {
                Some(c) => Target::Class(ClassId(c)),
                None => Target::Unknown,
            }
        }
    }

    fn class(self) -> Option<u32> {
        match self {
            Target::Class(c) => Some(c.0),
            _ => None,
        }
    }
}

impl ServiceCode {
    /// The snake_case name of the service sent to `target`.
    ///
    /// Codes 0x01-0x31 are common services; 0x4B-0x63 are object specific
    /// and named per class: the Connection Manager's (Vol. 1 §3-5.5), the
    /// File object's (Vol. 1 §5A-42), and otherwise the Logix tag services
    /// (Logix 5000 Data Access), which is what 0x4C-0x55 mean on tags and on
    /// the Logix controllers' vendor classes. Unnamed object-specific codes
    /// are `object_specific`; 0x32-0x4A and 0x64-0x7F are `reserved`.
    pub fn name(self, target: Target) -> &'static str {
        match self.0 {
            0x01 => "get_attributes_all",
            0x02 => "set_attributes_all",
            0x03 => "get_attribute_list",
            0x04 => "set_attribute_list",
            0x05 => "reset",
            0x06 => "start",
            0x07 => "stop",
            0x08 => "create",
            0x09 => "delete",
            0x0A => "multiple_service_packet",
            0x0D => "apply_attributes",
            0x0E => "get_attribute_single",
            0x10 => "set_attribute_single",
            0x11 => "find_next_object_instance",
            0x14 => "error_response",
            0x15 => "restore",
            0x16 => "save",
            0x17 => "no_operation",
            0x18 => "get_member",
            0x19 => "set_member",
            0x1A => "insert_member",
            0x1B => "remove_member",
            0x1C => "group_sync",
            0x00 | 0x0B | 0x0C | 0x0F | 0x12 | 0x13 | 0x1D..=0x31 => "reserved",
            0x32..=0x4A | 0x64..=0x7F => "reserved",
            code => object_specific_name(code, target),
        }
    }

    /// What the service does when sent to `target`.
    pub fn operation(self, target: Target) -> Operation {
        let vendor_class = target
            .class()
            .is_some_and(|c| ClassId(c).is_vendor_specific());
        match (self.0, self.name(target)) {
            (0x01 | 0x03 | 0x0E | 0x18, _) => Operation::Read,
            (0x02 | 0x04 | 0x10 | 0x19 | 0x1A | 0x1B, _) => Operation::Write,
            (0x05..=0x07, _) => Operation::ModeChange,
            // Creating objects in a controller's vendor classes (programs,
            // routines, tasks, tags) is what a project download consists
            // of (EIP-RebootorRestart.pcap: Create on classes 0x68-0x7E and
            // 0xAC between Stop and Start).
            (0x08, _) if vendor_class => Operation::ProgramDownload,
            (0x08 | 0x09 | 0x0D | 0x15 | 0x16, _) => Operation::Configuration,
            (0x11, _) => Operation::Discovery,
            (_, "read_tag" | "read_tag_fragmented" | "get_instance_attribute_list") => {
                Operation::Read
            }
            (_, "write_tag" | "write_tag_fragmented" | "read_modify_write_tag") => Operation::Write,
            (_, "forward_open" | "large_forward_open" | "forward_close") => Operation::Session,
            (_, "get_connection_data" | "search_connection_data" | "get_connection_owner") => {
                Operation::Diagnostics
            }
            // The File object's transfers: on the File object itself they
            // move files (EDS, firmware images); on a controller's vendor
            // classes they carry program logic (EIP-RebootorRestart.pcap:
            // 0x50 on class 0x6A carries routine data after the Creates).
            (0x4B..=0x51, "initiate_download" | "download_transfer" | "initiate_partial_write")
                if vendor_class =>
            {
                Operation::ProgramDownload
            }
            (0x4B..=0x51, "initiate_upload" | "upload_transfer" | "initiate_partial_read")
                if vendor_class =>
            {
                Operation::ProgramUpload
            }
            (_, name) if name.starts_with("initiate_") || name.ends_with("_transfer") => {
                Operation::File
            }
            (_, "clear_file") => Operation::File,
            _ => Operation::Other,
        }
    }
}

fn object_specific_name(code: u8, target: Target) -> &'static str {
    match target.class() {
        Some(0x06) => match code {
            0x4E => "forward_close",
            0x52 => "unconnected_send",
            0x54 => "forward_open",
            0x56 => "get_connection_data",
            0x57 => "search_connection_data",
            0x5A => "get_connection_owner",
            0x5B => "large_forward_open",
            _ => "object_specific",
        },
        Some(0x37) => file_service(code),
        Some(0x67) if code == 0x4B => "execute_pccc",
        // Rockwell's controller classes reuse the File object's transfer
        // codes for program data.
        Some(c) if ClassId(c).is_vendor_specific() && matches!(code, 0x4F | 0x50) => {
            file_service(code)
        }
        _ => match (code, target) {
            // Without a request path these codes only have one meaning.
            (0x54, Target::Unknown) => "forward_open",
            (0x5B, Target::Unknown) => "large_forward_open",
            (0x4B, Target::Unknown | Target::Tag) => "execute_pccc",
            (0x4C, _) => "read_tag",
            (0x4D, _) => "write_tag",
            (0x4E, _) => "read_modify_write_tag",
            (0x52, _) => "read_tag_fragmented",
            (0x53, _) => "write_tag_fragmented",
            (0x55, _) => "get_instance_attribute_list",
            _ => "object_specific",
        },
    }
}

fn file_service(code: u8) -> &'static str {
    match code {
        0x4B => "initiate_upload",
        0x4C => "initiate_download",
        0x4D => "initiate_partial_read",
        0x4E => "initiate_partial_write",
        0x4F => "upload_transfer",
        0x50 => "download_transfer",
        0x51 => "clear_file",
        _ => "object_specific",
    }
}

/// A general status code (Vol. 1 Appendix B, Table B-1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GeneralStatus(pub u8);

impl GeneralStatus {
    /// Success.
    pub const SUCCESS: GeneralStatus = GeneralStatus(0);
    /// Only part of the data was transferred: more fragments follow.
    pub const PARTIAL_TRANSFER: GeneralStatus = GeneralStatus(0x06);

    /// snake_case name; `reserved` for undefined codes, `object_specific`
    /// for 0xD0-0xFF.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "success",
            0x01 => "connection_failure",
            0x02 => "resource_unavailable",
            0x03 => "invalid_parameter_value",
            0x04 => "path_segment_error",
            0x05 => "path_destination_unknown",
            0x06 => "partial_transfer",
            0x07 => "connection_lost",
            0x08 => "service_not_supported",
            0x09 => "invalid_attribute_value",
            0x0A => "attribute_list_error",
            0x0B => "already_in_requested_mode",
            0x0C => "object_state_conflict",
            0x0D => "object_already_exists",
            0x0E => "attribute_not_settable",
            0x0F => "privilege_violation",
            0x10 => "device_state_conflict",
            0x11 => "reply_data_too_large",
            0x12 => "fragmentation_of_a_primitive_value",
            0x13 => "not_enough_data",
            0x14 => "attribute_not_supported",
            0x15 => "too_much_data",
            0x16 => "object_does_not_exist",
            0x17 => "service_fragmentation_sequence_not_in_progress",
            0x18 => "no_stored_attribute_data",
            0x19 => "store_operation_failure",
            0x1A => "routing_failure_request_packet_too_large",
            0x1B => "routing_failure_response_packet_too_large",
            0x1C => "missing_attribute_list_entry_data",
            0x1D => "invalid_attribute_value_list",
            0x1E => "embedded_service_error",
            0x1F => "vendor_specific_error",
            0x20 => "invalid_parameter",
            0x21 => "write_once_value_or_medium_already_written",
            0x22 => "invalid_reply_received",
            0x23 => "buffer_overflow",
            0x24 => "message_format_error",
            0x25 => "key_failure_in_path",
            0x26 => "path_size_invalid",
            0x27 => "unexpected_attribute_in_list",
            0x28 => "invalid_member_id",
            0x29 => "member_not_settable",
            0x2A => "group_2_only_server_general_failure",
            0x2B => "unknown_modbus_error",
            0x2C => "attribute_not_gettable",
            0x2D => "instance_not_deletable",
            0x2E => "service_not_supported_for_specified_path",
            0xD0..=0xFF => "object_specific",
            _ => "reserved",
        }
    }
}

/// A Message Router request (Vol. 1 §2-4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The service.
    pub service: ServiceCode,
    /// The request path.
    pub path: Epath<'a>,
    /// Service-specific data after the path.
    pub data: &'a [u8],
}

/// A Message Router response (Vol. 1 §2-4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The reply service, response bit removed.
    pub service: ServiceCode,
    /// Reserved byte (0).
    pub reserved: u8,
    /// General status.
    pub general_status: GeneralStatus,
    /// Additional status words (little-endian UINTs).
    pub additional_status: &'a [u8],
    /// Service-specific reply data.
    pub data: &'a [u8],
}

impl Response<'_> {
    /// The additional status words.
    pub fn extended_status(&self) -> impl Iterator<Item = u16> + '_ {
        self.additional_status
            .chunks_exact(2)
            .map(|w| u16::from_le_bytes([w[0], w[1]]))
    }
}

/// True when the first byte of a message has the response bit.
pub fn is_response(msg: &[u8]) -> bool {
    msg.first().is_some_and(|b| b & RESPONSE_BIT != 0)
}

/// Parses a request; `None` when the message is shorter than its path.
pub fn parse_request(msg: &[u8]) -> Option<Request<'_>> {
    let mut c = Cursor::new(msg);
    let service = ServiceCode(c.u8()? & !RESPONSE_BIT);
    let words = c.u8()?;
    let path = Epath::new(c.bytes(usize::from(words) * 2)?);
    Some(Request {
        service,
        path,
        data: c.rest(),
    })
}

/// Parses a response; `None` when the message is shorter than its status.
pub fn parse_response(msg: &[u8]) -> Option<Response<'_>> {
    let mut c = Cursor::new(msg);
    let service = ServiceCode(c.u8()? & !RESPONSE_BIT);
    let reserved = c.u8()?;
    let general_status = GeneralStatus(c.u8()?);
    let words = c.u8()?;
    let additional_status = c.bytes(usize::from(words) * 2)?;
    Some(Response {
        service,
        reserved,
        general_status,
        additional_status,
        data: c.rest(),
    })
}
