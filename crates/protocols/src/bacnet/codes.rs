//! BACnet code spaces: BVLC functions (Annex J.2), network layer message
//! types (clause 6.2.4), APDU types (clause 20.1), confirmed and
//! unconfirmed service choices (clause 21, BACnetConfirmedServiceChoice and
//! BACnetUnconfirmedServiceChoice), object types, property identifiers,
//! error classes and codes, reject and abort reasons.
//!
//! Every code is an open newtype: unknown values are kept and reported by
//! number.

use plantshield_events::Operation;

/// A BVLC function (Annex J.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BvlcFunction(pub u8);

#[allow(missing_docs)]
impl BvlcFunction {
    pub const RESULT: BvlcFunction = BvlcFunction(0x00);
    pub const WRITE_BDT: BvlcFunction = BvlcFunction(0x01);
    pub const READ_BDT: BvlcFunction = BvlcFunction(0x02);
    pub const READ_BDT_ACK: BvlcFunction = BvlcFunction(0x03);
    pub const FORWARDED_NPDU: BvlcFunction = BvlcFunction(0x04);
    pub const REGISTER_FOREIGN_DEVICE: BvlcFunction = BvlcFunction(0x05);
    pub const READ_FDT: BvlcFunction = BvlcFunction(0x06);
    pub const READ_FDT_ACK: BvlcFunction = BvlcFunction(0x07);
    pub const DELETE_FDT_ENTRY: BvlcFunction = BvlcFunction(0x08);
    pub const DISTRIBUTE_BROADCAST_TO_NETWORK: BvlcFunction = BvlcFunction(0x09);
    pub const ORIGINAL_UNICAST_NPDU: BvlcFunction = BvlcFunction(0x0a);
    pub const ORIGINAL_BROADCAST_NPDU: BvlcFunction = BvlcFunction(0x0b);
    pub const SECURE_BVLL: BvlcFunction = BvlcFunction(0x0c);
}

impl BvlcFunction {
    /// snake_case name (Annex J.2), `unknown` past 0x0c.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "bvlc_result",
            0x01 => "write_broadcast_distribution_table",
            0x02 => "read_broadcast_distribution_table",
            0x03 => "read_broadcast_distribution_table_ack",
            0x04 => "forwarded_npdu",
            0x05 => "register_foreign_device",
            0x06 => "read_foreign_device_table",
            0x07 => "read_foreign_device_table_ack",
            0x08 => "delete_foreign_device_table_entry",
            0x09 => "distribute_broadcast_to_network",
            0x0a => "original_unicast_npdu",
            0x0b => "original_broadcast_npdu",
            0x0c => "secure_bvll",
            _ => "unknown",
        }
    }

    /// True for the functions that carry an NPDU.
    pub fn carries_npdu(self) -> bool {
        matches!(self.0, 0x04 | 0x09 | 0x0a | 0x0b)
    }

    /// True for the BVLL management requests a BBMD answers (with a
    /// BVLC-Result, or a table for the two reads).
    pub fn is_management_request(self) -> bool {
        matches!(self.0, 0x01 | 0x02 | 0x05 | 0x06 | 0x08)
    }

    /// True for the answers of the management requests.
    pub fn is_management_reply(self) -> bool {
        matches!(self.0, 0x00 | 0x03 | 0x07)
    }

    /// What a BVLL management message does.
    pub fn operation(self) -> Operation {
        match self.0 {
            // Changing the broadcast distribution or foreign device tables
            // changes where broadcasts go.
            0x01 | 0x08 => Operation::Configuration,
            // Reading a BBMD's tables enumerates the BACnet/IP network.
            0x02 | 0x06 => Operation::Discovery,
            // A foreign device registers for a time-to-live: a session with the BBMD.
            0x05 => Operation::Session,
            _ => Operation::Other,
        }
    }
}

/// A BVLC-Result code (Annex J.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BvlcResultCode(pub u16);

impl BvlcResultCode {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000 => "successful_completion",
            0x0010 => "write_broadcast_distribution_table_nak",
            0x0020 => "read_broadcast_distribution_table_nak",
            0x0030 => "register_foreign_device_nak",
            0x0040 => "read_foreign_device_table_nak",
            0x0050 => "delete_foreign_device_table_entry_nak",
            0x0060 => "distribute_broadcast_to_network_nak",
            _ => "unknown",
        }
    }
}

/// A network layer message type (clause 6.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetworkMessageType(pub u8);

impl NetworkMessageType {
    /// snake_case name; `reserved` for 0x14..=0x7f, `proprietary` above.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "who_is_router_to_network",
            0x01 => "i_am_router_to_network",
            0x02 => "i_could_be_router_to_network",
            0x03 => "reject_message_to_network",
            0x04 => "router_busy_to_network",
            0x05 => "router_available_to_network",
            0x06 => "initialize_routing_table",
            0x07 => "initialize_routing_table_ack",
            0x08 => "establish_connection_to_network",
            0x09 => "disconnect_connection_to_network",
            0x0a => "challenge_request",
            0x0b => "security_payload",
            0x0c => "security_response",
            0x0d => "request_key_update",
            0x0e => "update_key_set",
            0x0f => "update_distribution_key",
            0x10 => "request_master_key",
            0x11 => "set_master_key",
            0x12 => "what_is_network_number",
            0x13 => "network_number_is",
            0x80..=0xff => "proprietary",
            _ => "reserved",
        }
    }

    /// What the message does.
    pub fn operation(self) -> Operation {
        match self.0 {
            // Finding routers and network numbers.
            0x00 | 0x01 | 0x02 | 0x12 | 0x13 => Operation::Discovery,
            // Changing or reading a router's routing table.
            0x06 | 0x07 => Operation::Configuration,
            // Dial-up connections and network security.
            0x08..=0x11 => Operation::Session,
            _ => Operation::Other,
        }
    }

    /// Reasons of Reject-Message-To-Network (clause 6.4.4).
    pub fn reject_reason_name(reason: u8) -> &'static str {
        match reason {
            0 => "other",
            1 => "not_directly_connected",
            2 => "router_busy",
            3 => "unknown_network_message_type",
            4 => "message_too_long",
            5 => "security_error",
            6 => "addressing_error",
            _ => "unknown",
        }
    }
}

/// The APDU type: the high nibble of the first octet (clause 20.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PduType(pub u8);

#[allow(missing_docs)]
impl PduType {
    pub const CONFIRMED_REQUEST: PduType = PduType(0);
    pub const UNCONFIRMED_REQUEST: PduType = PduType(1);
    pub const SIMPLE_ACK: PduType = PduType(2);
    pub const COMPLEX_ACK: PduType = PduType(3);
    pub const SEGMENT_ACK: PduType = PduType(4);
    pub const ERROR: PduType = PduType(5);
    pub const REJECT: PduType = PduType(6);
    pub const ABORT: PduType = PduType(7);
}

impl PduType {
    /// snake_case name; `reserved` for 8..=15.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "confirmed_request",
            1 => "unconfirmed_request",
            2 => "simple_ack",
            3 => "complex_ack",
            4 => "segment_ack",
            5 => "error",
            6 => "reject",
            7 => "abort",
            _ => "reserved",
        }
    }
}

/// A confirmed service choice (clause 21, BACnetConfirmedServiceChoice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfirmedService(pub u8);

#[allow(missing_docs)]
impl ConfirmedService {
    pub const ACKNOWLEDGE_ALARM: ConfirmedService = ConfirmedService(0);
    pub const SUBSCRIBE_COV: ConfirmedService = ConfirmedService(5);
    pub const ATOMIC_READ_FILE: ConfirmedService = ConfirmedService(6);
    pub const ATOMIC_WRITE_FILE: ConfirmedService = ConfirmedService(7);
    pub const CREATE_OBJECT: ConfirmedService = ConfirmedService(10);
    pub const DELETE_OBJECT: ConfirmedService = ConfirmedService(11);
    pub const READ_PROPERTY: ConfirmedService = ConfirmedService(12);
    pub const READ_PROPERTY_MULTIPLE: ConfirmedService = ConfirmedService(14);
    pub const WRITE_PROPERTY: ConfirmedService = ConfirmedService(15);
    pub const WRITE_PROPERTY_MULTIPLE: ConfirmedService = ConfirmedService(16);
    pub const DEVICE_COMMUNICATION_CONTROL: ConfirmedService = ConfirmedService(17);
    pub const REINITIALIZE_DEVICE: ConfirmedService = ConfirmedService(20);
}

impl ConfirmedService {
    /// snake_case name from the standard; `unknown` for codes it does not define.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "acknowledge_alarm",
            1 => "confirmed_cov_notification",
            2 => "confirmed_event_notification",
            3 => "get_alarm_summary",
            4 => "get_enrollment_summary",
            5 => "subscribe_cov",
            6 => "atomic_read_file",
            7 => "atomic_write_file",
            8 => "add_list_element",
            9 => "remove_list_element",
            10 => "create_object",
            11 => "delete_object",
            12 => "read_property",
            13 => "read_property_conditional",
            14 => "read_property_multiple",
            15 => "write_property",
            16 => "write_property_multiple",
            17 => "device_communication_control",
            18 => "confirmed_private_transfer",
            19 => "confirmed_text_message",
            20 => "reinitialize_device",
            21 => "vt_open",
            22 => "vt_close",
            23 => "vt_data",
            24 => "authenticate",
            25 => "request_key",
            26 => "read_range",
            27 => "life_safety_operation",
            28 => "subscribe_cov_property",
            29 => "get_event_information",
            30 => "subscribe_cov_property_multiple",
            31 => "confirmed_cov_notification_multiple",
            32 => "confirmed_audit_notification",
            33 => "audit_log_query",
            _ => "unknown",
        }
    }

    /// What the service does (`ics.operation`).
    pub fn operation(self) -> Operation {
        match self.0 {
            // Reads, and the change-of-value and event reporting that
            // delivers process data (subscriptions included).
            1..=5 | 12 | 13 | 14 | 26 | 28..=31 | 33 => Operation::Read,
            8 | 9 | 15 | 16 => Operation::Write,
            // An operator acknowledging an alarm; a life safety operation
            // (silence, reset) acts on equipment.
            0 | 27 => Operation::Command,
            6 | 7 => Operation::File,
            10 | 11 => Operation::Configuration,
            // DeviceCommunicationControl silences a device; ReinitializeDevice restarts it.
            17 | 20 => Operation::ModeChange,
            21 | 22 | 24 | 25 => Operation::Session,
            _ => Operation::Other,
        }
    }
}

/// An unconfirmed service choice (clause 21, BACnetUnconfirmedServiceChoice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnconfirmedService(pub u8);

#[allow(missing_docs)]
impl UnconfirmedService {
    pub const I_AM: UnconfirmedService = UnconfirmedService(0);
    pub const I_HAVE: UnconfirmedService = UnconfirmedService(1);
    pub const UNCONFIRMED_COV_NOTIFICATION: UnconfirmedService = UnconfirmedService(2);
    pub const TIME_SYNCHRONIZATION: UnconfirmedService = UnconfirmedService(6);
    pub const WHO_HAS: UnconfirmedService = UnconfirmedService(7);
    pub const WHO_IS: UnconfirmedService = UnconfirmedService(8);
    pub const UTC_TIME_SYNCHRONIZATION: UnconfirmedService = UnconfirmedService(9);
}

impl UnconfirmedService {
    /// snake_case name from the standard; `unknown` for codes it does not define.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "i_am",
            1 => "i_have",
            2 => "unconfirmed_cov_notification",
            3 => "unconfirmed_event_notification",
            4 => "unconfirmed_private_transfer",
            5 => "unconfirmed_text_message",
            6 => "time_synchronization",
            7 => "who_has",
            8 => "who_is",
            9 => "utc_time_synchronization",
            10 => "write_group",
            11 => "unconfirmed_cov_notification_multiple",
            12 => "unconfirmed_audit_notification",
            13 => "who_am_i",
            14 => "you_are",
            _ => "unknown",
        }
    }

    /// What the service does (`ics.operation`).
    pub fn operation(self) -> Operation {
        match self.0 {
            0 | 1 | 7 | 8 | 13 => Operation::Discovery,
            2 | 3 | 11 => Operation::Read,
            // Setting a device's clock; You-Are assigns a device its identity.
            6 | 9 | 14 => Operation::Configuration,
            10 => Operation::Write,
            _ => Operation::Other,
        }
    }

    /// True for the services a device sends about itself or its objects
    /// (announcements and notifications): the sender is the device that
    /// serves, the receiver its client. Who-Is, Who-Has, time
    /// synchronisation, WriteGroup and the rest come from clients.
    pub fn sent_by_device(self) -> bool {
        matches!(self.0, 0 | 1 | 2 | 3 | 11 | 12 | 13)
    }
}

/// A BACnet object type (clause 21, BACnetObjectType).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectType(pub u16);

impl ObjectType {
    /// The Device object.
    pub const DEVICE: ObjectType = ObjectType(8);

    /// snake_case name; `proprietary` for 128..=1023, `unknown` otherwise.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 65] = [
            "analog_input",
            "analog_output",
            "analog_value",
            "binary_input",
            "binary_output",
            "binary_value",
            "calendar",
            "command",
            "device",
            "event_enrollment",
            "file",
            "group",
            "loop",
            "multi_state_input",
            "multi_state_output",
            "notification_class",
            "program",
            "schedule",
            "averaging",
            "multi_state_value",
            "trend_log",
            "life_safety_point",
            "life_safety_zone",
            "accumulator",
            "pulse_converter",
            "event_log",
            "global_group",
            "trend_log_multiple",
            "load_control",
            "structured_view",
            "access_door",
            "timer",
            "access_credential",
            "access_point",
            "access_rights",
            "access_user",
            "access_zone",
            "credential_data_input",
            "network_security",
            "bitstring_value",
            "characterstring_value",
            "date_pattern_value",
            "date_value",
            "datetime_pattern_value",
            "datetime_value",
            "integer_value",
            "large_analog_value",
            "octetstring_value",
            "positive_integer_value",
            "time_pattern_value",
            "time_value",
            "notification_forwarder",
            "alert_enrollment",
            "channel",
            "lighting_output",
            "binary_lighting_output",
            "network_port",
            "elevator_group",
            "escalator",
            "lift",
            "staging",
            "audit_log",
            "audit_reporter",
            "color",
            "color_temperature",
        ];
        match NAMES.get(usize::from(self.0)) {
            Some(n) => n,
            None if (128..=1023).contains(&self.0) => "proprietary",
            None => "unknown",
        }
    }
}

/// A BACnet object identifier: 10-bit type and 22-bit instance (clause 20.2.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// Object type.
    pub object_type: ObjectType,
    /// Instance number (4194303 is the wildcard "this device").
    pub instance: u32,
}

impl ObjectId {
    /// The wildcard instance (clause 12.11.1: a request to the device instance 4194303 addresses whatever device receives it).
    pub const WILDCARD_INSTANCE: u32 = 0x3f_ffff;

    /// From the encoded 32-bit value.
    pub fn from_u32(v: u32) -> Self {
        ObjectId {
            object_type: ObjectType((v >> 22) as u16),
            instance: v & 0x3f_ffff,
        }
    }

    /// The encoded 32-bit value.
    pub fn to_u32(self) -> u32 {
        (u32::from(self.object_type.0) << 22) | (self.instance & 0x3f_ffff)
    }
}

/// A property identifier (clause 21, BACnetPropertyIdentifier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropertyId(pub u32);

#[allow(missing_docs)]
impl PropertyId {
    pub const APPLICATION_SOFTWARE_VERSION: PropertyId = PropertyId(12);
    pub const DESCRIPTION: PropertyId = PropertyId(28);
    pub const FIRMWARE_REVISION: PropertyId = PropertyId(44);
    pub const LOCATION: PropertyId = PropertyId(58);
    pub const MODEL_NAME: PropertyId = PropertyId(70);
    pub const OBJECT_IDENTIFIER: PropertyId = PropertyId(75);
    pub const OBJECT_NAME: PropertyId = PropertyId(77);
    pub const VENDOR_IDENTIFIER: PropertyId = PropertyId(120);
    pub const VENDOR_NAME: PropertyId = PropertyId(121);
    pub const SERIAL_NUMBER: PropertyId = PropertyId(372);
}

impl PropertyId {
    /// snake_case name of the properties PlantShield names (the device
    /// identity and the most common process properties); `proprietary` for
    /// 512 and above; `unknown` for the other standard ones (the number is
    /// always reported).
    pub fn name(self) -> &'static str {
        match self.0 {
            8 => "all",
            11 => "apdu_timeout",
            12 => "application_software_version",
            28 => "description",
            30 => "device_address_binding",
            36 => "event_state",
            44 => "firmware_revision",
            56 => "local_date",
            57 => "local_time",
            58 => "location",
            62 => "max_apdu_length_accepted",
            70 => "model_name",
            73 => "number_of_apdu_retries",
            75 => "object_identifier",
            76 => "object_list",
            77 => "object_name",
            79 => "object_type",
            80 => "optional",
            81 => "out_of_service",
            85 => "present_value",
            87 => "priority_array",
            96 => "protocol_object_types_supported",
            97 => "protocol_services_supported",
            98 => "protocol_version",
            103 => "reliability",
            104 => "relinquish_default",
            105 => "required",
            107 => "segmentation_supported",
            111 => "status_flags",
            112 => "system_status",
            117 => "units",
            120 => "vendor_identifier",
            121 => "vendor_name",
            131 => "log_buffer",
            139 => "protocol_revision",
            155 => "database_revision",
            167 => "max_segments_accepted",
            168 => "profile_name",
            371 => "property_list",
            372 => "serial_number",
            512.. => "proprietary",
            _ => "unknown",
        }
    }
}

/// An error class (clause 21, BACnetErrorClass).
pub fn error_class_name(class: u32) -> &'static str {
    match class {
        0 => "device",
        1 => "object",
        2 => "property",
        3 => "resources",
        4 => "security",
        5 => "services",
        6 => "vt",
        7 => "communication",
        64.. => "proprietary",
        _ => "unknown",
    }
}

/// An error code (clause 21, BACnetErrorCode, the codes of the 1995 to
/// 2004 editions); `proprietary` for 256..=65535.
pub fn error_code_name(code: u32) -> &'static str {
    const NAMES: [&str; 51] = [
        "other",
        "authentication_failed",
        "configuration_in_progress",
        "device_busy",
        "dynamic_creation_not_supported",
        "file_access_denied",
        "incompatible_security_levels",
        "inconsistent_parameters",
        "inconsistent_selection_criterion",
        "invalid_data_type",
        "invalid_file_access_method",
        "invalid_file_start_position",
        "invalid_operator_name",
        "invalid_parameter_data_type",
        "invalid_time_stamp",
        "key_generation_error",
        "missing_required_parameter",
        "no_objects_of_specified_type",
        "no_space_for_object",
        "no_space_to_add_list_element",
        "no_space_to_write_property",
        "no_vt_sessions_available",
        "property_is_not_a_list",
        "object_deletion_not_permitted",
        "object_identifier_already_exists",
        "operational_problem",
        "password_failure",
        "read_access_denied",
        "security_not_supported",
        "service_request_denied",
        "timeout",
        "unknown_object",
        "unknown_property",
        "unknown",
        "unknown_vt_class",
        "unknown_vt_session",
        "unsupported_object_type",
        "value_out_of_range",
        "vt_session_already_closed",
        "vt_session_termination_failure",
        "write_access_denied",
        "character_set_not_supported",
        "invalid_array_index",
        "cov_subscription_failed",
        "not_cov_property",
        "optional_functionality_not_supported",
        "invalid_configuration_data",
        "datatype_not_supported",
        "duplicate_name",
        "duplicate_object_id",
        "property_is_not_an_array",
    ];
    match NAMES.get(code as usize) {
        Some(n) => n,
        None if (256..=65535).contains(&code) => "proprietary",
        None => "unknown",
    }
}

/// A reject reason (clause 21, BACnetRejectReason).
pub fn reject_reason_name(reason: u8) -> &'static str {
    match reason {
        0 => "other",
        1 => "buffer_overflow",
        2 => "inconsistent_parameters",
        3 => "invalid_parameter_data_type",
        4 => "invalid_tag",
        5 => "missing_required_parameter",
        6 => "parameter_out_of_range",
        7 => "too_many_arguments",
        8 => "undefined_enumeration",
        9 => "unrecognized_service",
        64.. => "proprietary",
        _ => "unknown",
    }
}

/// An abort reason (clause 21, BACnetAbortReason).
pub fn abort_reason_name(reason: u8) -> &'static str {
    match reason {
        0 => "other",
        1 => "buffer_overflow",
        2 => "invalid_apdu_in_this_state",
        3 => "preempted_by_higher_priority_task",
        4 => "segmentation_not_supported",
        5 => "security_error",
        6 => "insufficient_security",
        7 => "window_size_out_of_range",
        8 => "application_exceeded_reply_time",
        9 => "out_of_resources",
        10 => "tsm_timeout",
        11 => "apdu_too_long",
        64.. => "proprietary",
        _ => "unknown",
    }
}

/// BACnetSegmentation (clause 21).
pub fn segmentation_name(v: u32) -> &'static str {
    match v {
        0 => "segmented_both",
        1 => "segmented_transmit",
        2 => "segmented_receive",
        3 => "no_segmentation",
        _ => "unknown",
    }
}

/// ReinitializeDevice's reinitializedStateOfDevice (clause 16.4.1.1.1).
pub fn reinitialized_state_name(v: u32) -> &'static str {
    match v {
        0 => "coldstart",
        1 => "warmstart",
        2 => "start_backup",
        3 => "end_backup",
        4 => "start_restore",
        5 => "end_restore",
        6 => "abort_restore",
        7 => "activate_changes",
        _ => "unknown",
    }
}

/// DeviceCommunicationControl's enable-disable (clause 16.1.1.1.2).
pub fn enable_disable_name(v: u32) -> &'static str {
    match v {
        0 => "enable",
        1 => "disable",
        2 => "disable_initiation",
        _ => "unknown",
    }
}

/// The character sets of a CharacterString (clause 20.2.9).
pub fn charset_name(c: u8) -> &'static str {
    match c {
        0 => "utf_8",
        1 => "ibm_microsoft_dbcs",
        2 => "jis_x_0208",
        3 => "ucs_4",
        4 => "ucs_2",
        5 => "iso_8859_1",
        _ => "unknown",
    }
}

/// Max-APDU-length-accepted codes of a confirmed request (clause 20.1.2.5).
pub fn max_apdu_octets(code: u8) -> Option<u16> {
    Some(match code {
        0 => 50,
        1 => 128,
        2 => 206,
        3 => 480,
        4 => 1024,
        5 => 1476,
        _ => return None,
    })
}

/// Max-segments-accepted codes of a confirmed request (clause 20.1.2.4);
/// `None` for 0 (unspecified) and for more than 64.
pub fn max_segments(code: u8) -> Option<u8> {
    match code {
        1 => Some(2),
        2 => Some(4),
        3 => Some(8),
        4 => Some(16),
        5 => Some(32),
        6 => Some(64),
        _ => None,
    }
}
