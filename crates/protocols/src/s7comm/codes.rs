//! S7comm codes: PDU types, job functions, userdata groups and
//! sub-functions, memory areas, transport sizes, return and error codes.
//!
//! Siemens has never published S7comm as a standard; the names follow
//! Siemens' own terms as they appear in the STEP 7 documentation (system
//! software reference for S7-300/400, "System Status Lists", error code
//! tables of the system functions) and in the public S7 literature.

use plantshield_events::Operation;

/// The type of an S7comm PDU, "ROSCTR" (remote operating service control).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rosctr(pub u8);

#[allow(missing_docs)]
impl Rosctr {
    pub const JOB: Rosctr = Rosctr(1);
    pub const ACK: Rosctr = Rosctr(2);
    pub const ACK_DATA: Rosctr = Rosctr(3);
    pub const USERDATA: Rosctr = Rosctr(7);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "job",
            2 => "ack",
            3 => "ack_data",
            7 => "userdata",
            _ => "unknown",
        }
    }

    /// Ack and Ack-Data carry the error class and code in their header.
    pub fn has_error_fields(self) -> bool {
        matches!(self.0, 2 | 3)
    }
}

/// The function of a Job or Ack-Data PDU (first parameter byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Function(pub u8);

#[allow(missing_docs)]
impl Function {
    pub const CPU_SERVICES: Function = Function(0x00);
    pub const READ_VAR: Function = Function(0x04);
    pub const WRITE_VAR: Function = Function(0x05);
    pub const REQUEST_DOWNLOAD: Function = Function(0x1a);
    pub const DOWNLOAD_BLOCK: Function = Function(0x1b);
    pub const DOWNLOAD_ENDED: Function = Function(0x1c);
    pub const START_UPLOAD: Function = Function(0x1d);
    pub const UPLOAD: Function = Function(0x1e);
    pub const END_UPLOAD: Function = Function(0x1f);
    pub const PI_SERVICE: Function = Function(0x28);
    pub const PLC_STOP: Function = Function(0x29);
    pub const SETUP_COMMUNICATION: Function = Function(0xf0);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "cpu_services",
            0x04 => "read_var",
            0x05 => "write_var",
            0x1a => "request_download",
            0x1b => "download_block",
            0x1c => "download_ended",
            0x1d => "start_upload",
            0x1e => "upload",
            0x1f => "end_upload",
            0x28 => "pi_service",
            0x29 => "plc_stop",
            0xf0 => "setup_communication",
            _ => "unknown",
        }
    }

    /// What the function does; `pi` is the PI service of 0x28.
    pub fn operation(self, pi: Option<&[u8]>) -> Operation {
        match self.0 {
            0x04 => Operation::Read,
            0x05 => Operation::Write,
            0x1a..=0x1c => Operation::ProgramDownload,
            0x1d..=0x1f => Operation::ProgramUpload,
            0x28 => pi.map_or(Operation::Command, |s| PiService(s).operation()),
            0x29 => Operation::ModeChange,
            0xf0 => Operation::Session,
            _ => Operation::Other,
        }
    }
}

/// A program invocation service name (Job 0x28 and 0x29).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiService<'a>(pub &'a [u8]);

impl PiService<'_> {
    /// snake_case meaning of the service; `unknown` otherwise. Names
    /// starting with `_N_` are services of SINUMERIK NC controls.
    pub fn name(self) -> &'static str {
        match self.0 {
            b"P_PROGRAM" => "program_start_stop",
            b"_INSE" => "activate_blocks",
            b"_DELE" => "delete_blocks",
            b"_MODU" => "copy_ram_to_rom",
            b"_GARB" => "compress_memory",
            b"_EXEC" => "execute",
            b"_CLRP" => "clear_program",
            b"_CANC" => "cancel",
            s if s.starts_with(b"_N_") => "nc_service",
            _ => "unknown",
        }
    }

    /// Starting or stopping the program changes the mode, activating or
    /// deleting blocks changes the program, compressing and copying RAM to
    /// ROM reorganise the memory.
    pub fn operation(self) -> Operation {
        match self.0 {
            b"P_PROGRAM" => Operation::ModeChange,
            b"_INSE" | b"_DELE" | b"_CLRP" => Operation::ProgramDownload,
            b"_MODU" | b"_GARB" => Operation::Configuration,
            _ => Operation::Command,
        }
    }
}

/// The memory area of a variable address (S7ANY syntax).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Area(pub u8);

#[allow(missing_docs)]
impl Area {
    pub const PERIPHERAL: Area = Area(0x80);
    pub const INPUTS: Area = Area(0x81);
    pub const OUTPUTS: Area = Area(0x82);
    pub const FLAGS: Area = Area(0x83);
    pub const DATA_BLOCKS: Area = Area(0x84);
    pub const INSTANCE_DATA_BLOCKS: Area = Area(0x85);
    pub const LOCAL_DATA: Area = Area(0x86);
    pub const COUNTERS: Area = Area(0x1c);
    pub const TIMERS: Area = Area(0x1d);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x03 => "system_info_200",
            0x05 => "system_flags_200",
            0x06 => "analog_inputs_200",
            0x07 => "analog_outputs_200",
            0x1c => "counters",
            0x1d => "timers",
            0x1e => "iec_counters_200",
            0x1f => "iec_timers_200",
            0x80 => "peripheral",
            0x81 => "inputs",
            0x82 => "outputs",
            0x83 => "flags",
            0x84 => "data_blocks",
            0x85 => "instance_data_blocks",
            0x86 => "local_data",
            0x87 => "previous_local_data",
            _ => "unknown",
        }
    }

    /// The STEP 7 operand letters (`M` for flags, `DB` for data blocks).
    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self.0 {
            0x1c => "C",
            0x1d => "T",
            0x80 => "P",
            0x81 => "I",
            0x82 => "Q",
            0x83 => "M",
            0x84 => "DB",
            0x85 => "DI",
            0x86 => "L",
            0x87 => "V",
            _ => return None,
        })
    }

    /// Counters and timers are addressed by number, not byte and bit.
    pub fn numbered(self) -> bool {
        matches!(self.0, 0x1c..=0x1f)
    }
}

/// The transport size of a variable specification (its data type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TransportSize(pub u8);

impl TransportSize {
    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "bit",
            0x02 => "byte",
            0x03 => "char",
            0x04 => "word",
            0x05 => "int",
            0x06 => "dword",
            0x07 => "dint",
            0x08 => "real",
            0x09 => "date",
            0x0a => "tod",
            0x0b => "time",
            0x0c => "s5time",
            0x0f => "date_and_time",
            0x1c => "counter",
            0x1d => "timer",
            0x1e => "iec_timer",
            0x1f => "iec_counter",
            0x20 => "hs_counter",
            _ => "unknown",
        }
    }
}

/// The transport size of a data item: how its length field counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataTransportSize(pub u8);

impl DataTransportSize {
    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "null",
            0x03 => "bit",
            0x04 => "byte_word_dword",
            0x05 => "integer",
            0x06 => "dinteger",
            0x07 => "real",
            0x09 => "octet_string",
            _ => "unknown",
        }
    }

    /// Bytes of data for a length field of `len`: bit, byte/word/dword and
    /// integer items count bits, the others count bytes.
    pub fn byte_len(self, len: u16) -> usize {
        match self.0 {
            0x03..=0x05 => usize::from(len).div_ceil(8),
            _ => usize::from(len),
        }
    }
}

/// The return code of a data item (success or why the item failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReturnCode(pub u8);

impl ReturnCode {
    /// The item was read or written.
    pub const SUCCESS: ReturnCode = ReturnCode(0xff);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "reserved",
            0x01 => "hardware_fault",
            0x03 => "access_not_allowed",
            0x05 => "address_out_of_range",
            0x06 => "data_type_not_supported",
            0x07 => "data_type_inconsistent",
            0x0a => "object_does_not_exist",
            0xff => "success",
            _ => "unknown",
        }
    }
}

/// The error class of an Ack or Ack-Data header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorClass(pub u8);

impl ErrorClass {
    /// snake_case name; `unknown` for classes outside the documented ones
    /// (PLCs also put the high byte of a function-specific code here).
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "no_error",
            0x81 => "application_relationship_error",
            0x82 => "object_definition_error",
            0x83 => "no_resources_available",
            0x84 => "error_on_service_processing",
            0x85 => "error_on_supplies",
            0x87 => "access_error",
            _ => "unknown",
        }
    }
}

/// A 16-bit S7 error code: error class and code of a header, or the error
/// code of a userdata parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// snake_case meaning of the codes PLCs commonly return; `unknown`
    /// otherwise (the number is always reported).
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000 => "no_error",
            0x0110 => "invalid_block_number",
            0x0111 => "invalid_request_length",
            0x0112 => "invalid_parameter",
            0x0113 => "invalid_block_type",
            0x0114 => "block_not_found",
            0x0115 => "block_already_exists",
            0x0116 => "block_write_protected",
            0x0117 => "block_too_large",
            0x0119 => "incorrect_password",
            0x011a => "pg_resource_error",
            0x011b => "plc_resource_error",
            0x011c => "protocol_error",
            0x011d => "too_many_blocks",
            0x011f => "result_buffer_too_small",
            0x0120 => "end_of_block_list",
            0x0140 => "insufficient_memory",
            0x0141 => "lack_of_resources",
            0x8001 => "not_possible_in_block_status",
            0x8003 => "block_transfer_error",
            0x8100 => "service_unknown",
            0x8104 => "service_not_implemented",
            0x8204 => "object_type_inconsistent",
            0x8205 => "copied_block_exists",
            0x8301 => "insufficient_memory",
            0x8302 => "too_few_resources",
            0x8304 => "no_further_parallel_upload",
            0x8305 => "function_not_available",
            0x8306 => "insufficient_work_memory",
            0x8307 => "insufficient_retentive_memory",
            0x8401 => "invalid_service_sequence",
            0x8402 => "object_state_prevents_service",
            0x8404 => "function_cannot_be_performed",
            0x8405 => "remote_block_disabled",
            0x8500 => "wrong_frames",
            0x8503 => "service_canceled",
            0x8701 => "object_addressing_error",
            0x8702 => "service_not_supported",
            0x8703 => "access_denied",
            0x8704 => "object_damaged",
            0xd001 => "illegal_job_number",
            0xd002 => "illegal_job_variant",
            0xd004 => "illegal_job_status",
            0xd03f => "parameter_coding_error",
            0xd041 => "illegal_szl_id",
            0xd042 => "illegal_tag_address",
            0xd05f => "data_coding_error",
            0xd061 => "no_memory_for_job",
            0xd062 => "job_list_full",
            0xd081 => "not_permitted_in_current_mode",
            0xd0a1 => "not_permitted_in_protection_level",
            0xd0ad => "operating_mode_already_set",
            0xd201 => "block_name_syntax_error",
            0xd202 => "function_parameter_syntax_error",
            0xd209 => "block_not_found",
            0xd20c => "priority_class_missing",
            0xd20e => "no_further_block",
            0xd210 => "invalid_block_number",
            0xd234 => "block_exists_twice",
            0xd235 => "block_checksum_incorrect",
            0xd240 => "coordination_rules_violated",
            0xd241 => "not_permitted_in_protection_level",
            0xd242 => "f_block_protection_violation",
            0xd401 | 0xd402 => "information_function_unavailable",
            0xd403 => "service_already_logged_on",
            0xd404 => "maximum_nodes_reached",
            0xd405 => "service_not_supported",
            0xd406 => "information_currently_unavailable",
            0xd601 => "function_parameter_syntax_error",
            0xd602 => "incorrect_password",
            0xd603 => "connection_already_legitimized",
            0xd604 => "connection_already_enabled",
            0xd605 => "no_password_set",
            0xd801 => "invalid_tag_address",
            0xd802 => "job_does_not_exist",
            0xd804 => "illegal_cycle_time",
            0xd805 => "no_more_cyclic_read_jobs",
            0xdc01 => "invalid_date_or_time",
            _ => "unknown",
        }
    }
}

/// A userdata function group (low nibble of the type/group byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionGroup(pub u8);

#[allow(missing_docs)]
impl FunctionGroup {
    pub const MODE_TRANSITION: FunctionGroup = FunctionGroup(0);
    pub const PROGRAMMER_COMMANDS: FunctionGroup = FunctionGroup(1);
    pub const CYCLIC_DATA: FunctionGroup = FunctionGroup(2);
    pub const BLOCK_FUNCTIONS: FunctionGroup = FunctionGroup(3);
    pub const CPU_FUNCTIONS: FunctionGroup = FunctionGroup(4);
    pub const SECURITY: FunctionGroup = FunctionGroup(5);
    pub const PBC: FunctionGroup = FunctionGroup(6);
    pub const TIME_FUNCTIONS: FunctionGroup = FunctionGroup(7);
    pub const NC_PROGRAMMING: FunctionGroup = FunctionGroup(0xf);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "mode_transition",
            1 => "programmer_commands",
            2 => "cyclic_data",
            3 => "block_functions",
            4 => "cpu_functions",
            5 => "security",
            6 => "pbc_bsend_brecv",
            7 => "time_functions",
            0xf => "nc_programming",
            _ => "unknown",
        }
    }

    /// The sub-function's name within this group; `unknown` otherwise.
    pub fn sub_function_name(self, sub: u8) -> &'static str {
        match (self.0, sub) {
            // Test and installation (TIS) jobs of the programming device.
            (1, 0x01) => "block_status",
            (1, 0x02) => "variable_status",
            (1, 0x03) => "output_istack",
            (1, 0x04) => "output_bstack",
            (1, 0x05) => "output_lstack",
            (1, 0x06) => "time_measurement",
            (1, 0x07) => "force_selection",
            (1, 0x08) => "modify_variable",
            (1, 0x09) => "force",
            (1, 0x0a) => "breakpoint",
            (1, 0x0b) => "exit_hold",
            (1, 0x0c) => "memory_reset",
            (1, 0x0d) => "disable_job",
            (1, 0x0e) => "enable_job",
            (1, 0x0f) => "delete_job",
            (1, 0x10) => "read_job_list",
            (1, 0x11) => "read_job",
            (1, 0x12) => "replace_job",
            (1, 0x13) => "block_status_v2",
            (1, 0x16) => "flash_led",
            (2, 0x01) => "cyclic_read",
            (2, 0x04) => "unsubscribe",
            (2, 0x05) => "change_driven_read",
            (3, 0x01) => "list_blocks",
            (3, 0x02) => "list_blocks_of_type",
            (3, 0x03) => "get_block_info",
            (4, 0x01) => "read_szl",
            (4, 0x02) => "message_service",
            (4, 0x03) => "diagnostic_message",
            (4, 0x05) => "alarm_8_indication",
            (4, 0x06) => "notify_indication",
            (4, 0x07) => "alarm_8_lock",
            (4, 0x08) => "alarm_8_unlock",
            (4, 0x09) => "scan_indication",
            (4, 0x0b) => "alarm_ack",
            (4, 0x0c) => "alarm_ack_indication",
            (4, 0x0d) => "alarm_lock_indication",
            (4, 0x0e) => "alarm_unlock_indication",
            (4, 0x11) => "alarm_sq_indication",
            (4, 0x12) => "alarm_s_indication",
            (4, 0x13) => "alarm_query",
            (4, 0x16) => "notify_8_indication",
            (5, 0x01) => "plc_password",
            (5, 0x02) => "clear_password",
            (6, 0x01) => "bsend_brecv",
            (7, 0x01) => "read_clock",
            (7, 0x02) => "set_clock",
            (7, 0x03) => "read_clock_following",
            (7, 0x04) => "set_clock_2",
            _ => "unknown",
        }
    }

    /// What a userdata function does.
    pub fn operation(self, sub: u8) -> Operation {
        match (self.0, sub) {
            // Mode-transition pushes report a mode the CPU entered.
            (0, _) => Operation::Diagnostics,
            (1, 0x08 | 0x09) => Operation::Write,
            (1, 0x0c) => Operation::Configuration,
            (1, 0x0a | 0x0b) => Operation::Command,
            (1, _) => Operation::Diagnostics,
            (2, _) => Operation::Read,
            (3, _) => Operation::Discovery,
            (4, 0x01) => Operation::Discovery,
            (4, _) => Operation::Diagnostics,
            (5, _) => Operation::Session,
            (7, 0x02 | 0x04) => Operation::Configuration,
            (7, _) => Operation::Read,
            _ => Operation::Other,
        }
    }
}

/// Userdata PDU type (high nibble of the type/group byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserdataType(pub u8);

impl UserdataType {
    /// Sent unsolicited by the CPU (cyclic data, alarms, mode changes).
    pub const PUSH: UserdataType = UserdataType(0);
    /// A request.
    pub const REQUEST: UserdataType = UserdataType(4);
    /// A response.
    pub const RESPONSE: UserdataType = UserdataType(8);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "push",
            3 => "nc_push",
            4 => "request",
            8 => "response",
            _ => "unknown",
        }
    }
}

/// CPU operating modes reported by mode-transition pushes.
pub fn cpu_mode_name(mode: u8) -> &'static str {
    match mode {
        0 => "stop",
        1 => "warm_restart",
        2 => "run",
        3 => "hot_restart",
        4 => "hold",
        6 => "cold_restart",
        9 => "run_r",
        11 => "link_up",
        12 => "update",
        _ => "unknown",
    }
}

/// The name of a system status list (SZL) by its partial list number
/// (low byte of the SZL id); `unknown` otherwise.
pub fn szl_name(id: u16) -> &'static str {
    match id & 0xff {
        0x00 => "szl_ids",
        0x11 => "module_identification",
        0x12 => "cpu_characteristics",
        0x13 => "user_memory_areas",
        0x14 => "system_areas",
        0x15 => "block_types",
        0x19 => "module_led_status",
        0x1c => "component_identification",
        0x22 => "interrupt_status",
        0x24 => "operating_mode",
        0x25 => "process_image_partitions",
        0x31 => "communication_capability",
        0x32 => "communication_status",
        0x37 => "ethernet_details",
        0x74 => "led_status",
        0x90 => "dp_master_system",
        0x91 => "module_status",
        0x92 => "rack_status",
        0x94 => "station_status",
        0x96 => "module_status_profinet",
        0xa0 => "diagnostic_buffer",
        0xb1..=0xb4 => "module_diagnostic_data",
        _ => "unknown",
    }
}

/// A block type as written in block file names and userdata (two ASCII hex
/// digits, `08` for OB); `None` for unknown codes.
pub fn block_type_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x08 => "OB",
        0x0a => "DB",
        0x0b => "SDB",
        0x0c => "FC",
        0x0d => "SFC",
        0x0e => "FB",
        0x0f => "SFB",
        _ => return None,
    })
}

/// The programming language of a block.
pub fn block_language_name(code: u8) -> &'static str {
    match code {
        0x00 => "not_defined",
        0x01 => "awl",
        0x02 => "kop",
        0x03 => "fup",
        0x04 => "scl",
        0x05 => "db",
        0x06 => "graph",
        0x07 => "sdb",
        0x08 => "cpu_db",
        0x11 => "sdb_after_overall_reset",
        0x12 => "sdb_routing",
        0x29 => "encrypted",
        _ => "unknown",
    }
}
