//! Function, exception, diagnostic sub-function and MEI codes (AP §5, §6, §7).

use plantshield_events::Operation;

/// A function code without the exception bit (AP §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionCode(pub u8);

/// Where a function code sits in the code space (AP §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// Defined by the specification.
    Public,
    /// 65-72 and 100-110: free for vendors, undocumented by definition.
    UserDefined,
    /// Reserved for legacy products (9, 10, 13, 14, 41, 42, 90, 91, 125-127).
    Reserved,
    /// Neither: no device should answer it.
    Unassigned,
}

#[allow(missing_docs)]
impl FunctionCode {
    pub const READ_COILS: FunctionCode = FunctionCode(1);
    pub const READ_DISCRETE_INPUTS: FunctionCode = FunctionCode(2);
    pub const READ_HOLDING_REGISTERS: FunctionCode = FunctionCode(3);
    pub const READ_INPUT_REGISTERS: FunctionCode = FunctionCode(4);
    pub const WRITE_SINGLE_COIL: FunctionCode = FunctionCode(5);
    pub const WRITE_SINGLE_REGISTER: FunctionCode = FunctionCode(6);
    pub const READ_EXCEPTION_STATUS: FunctionCode = FunctionCode(7);
    pub const DIAGNOSTICS: FunctionCode = FunctionCode(8);
    pub const GET_COMM_EVENT_COUNTER: FunctionCode = FunctionCode(11);
    pub const GET_COMM_EVENT_LOG: FunctionCode = FunctionCode(12);
    pub const WRITE_MULTIPLE_COILS: FunctionCode = FunctionCode(15);
    pub const WRITE_MULTIPLE_REGISTERS: FunctionCode = FunctionCode(16);
    pub const REPORT_SERVER_ID: FunctionCode = FunctionCode(17);
    pub const READ_FILE_RECORD: FunctionCode = FunctionCode(20);
    pub const WRITE_FILE_RECORD: FunctionCode = FunctionCode(21);
    pub const MASK_WRITE_REGISTER: FunctionCode = FunctionCode(22);
    pub const READ_WRITE_MULTIPLE_REGISTERS: FunctionCode = FunctionCode(23);
    pub const READ_FIFO_QUEUE: FunctionCode = FunctionCode(24);
    pub const ENCAPSULATED_INTERFACE_TRANSPORT: FunctionCode = FunctionCode(43);
}

impl FunctionCode {
    /// The code's place in the code space.
    pub fn kind(self) -> FunctionKind {
        match self.0 {
            1..=8 | 11 | 12 | 15..=17 | 20..=24 | 43 => FunctionKind::Public,
            65..=72 | 100..=110 => FunctionKind::UserDefined,
            9 | 10 | 13 | 14 | 41 | 42 | 90 | 91 | 125..=127 => FunctionKind::Reserved,
            _ => FunctionKind::Unassigned,
        }
    }

    /// The snake_case name from the specification, or the code-space class.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "read_coils",
            2 => "read_discrete_inputs",
            3 => "read_holding_registers",
            4 => "read_input_registers",
            5 => "write_single_coil",
            6 => "write_single_register",
            7 => "read_exception_status",
            8 => "diagnostics",
            11 => "get_comm_event_counter",
            12 => "get_comm_event_log",
            15 => "write_multiple_coils",
            16 => "write_multiple_registers",
            17 => "report_server_id",
            20 => "read_file_record",
            21 => "write_file_record",
            22 => "mask_write_register",
            23 => "read_write_multiple_registers",
            24 => "read_fifo_queue",
            43 => "encapsulated_interface_transport",
            _ => match self.kind() {
                FunctionKind::UserDefined => "user_defined",
                FunctionKind::Reserved => "reserved",
                _ => "unassigned",
            },
        }
    }

    /// What the function does; `sub` is the diagnostic sub-function or MEI
    /// type where the function has one.
    pub fn operation(self, sub: Option<u16>) -> Operation {
        match self.0 {
            1..=4 | 24 => Operation::Read,
            5 | 6 | 15 | 16 | 22 | 23 => Operation::Write,
            7 | 11 | 12 => Operation::Diagnostics,
            8 => match sub {
                // Restart communications option and force listen only mode
                // change how the device talks (AP §6.8.1).
                Some(1) | Some(4) => Operation::ModeChange,
                Some(3) => Operation::Configuration,
                _ => Operation::Diagnostics,
            },
            17 => Operation::Discovery,
            20 | 21 => Operation::File,
            43 => match sub {
                Some(14) => Operation::Discovery,
                _ => Operation::Other,
            },
            _ => Operation::Other,
        }
    }

    /// Every public function code.
    pub const PUBLIC: [u8; 19] = [
        1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43,
    ];
}

/// An exception code (AP §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExceptionCode(pub u8);

impl ExceptionCode {
    /// snake_case name, `unknown` for codes the specification does not define.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "illegal_function",
            2 => "illegal_data_address",
            3 => "illegal_data_value",
            4 => "server_device_failure",
            5 => "acknowledge",
            6 => "server_device_busy",
            8 => "memory_parity_error",
            10 => "gateway_path_unavailable",
            11 => "gateway_target_device_failed_to_respond",
            _ => "unknown",
        }
    }
}

/// A diagnostics (FC 8) sub-function code (AP §6.8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubFunction(pub u16);

impl SubFunction {
    /// snake_case name; `reserved` for undefined codes.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "return_query_data",
            1 => "restart_communications_option",
            2 => "return_diagnostic_register",
            3 => "change_ascii_input_delimiter",
            4 => "force_listen_only_mode",
            10 => "clear_counters_and_diagnostic_register",
            11 => "return_bus_message_count",
            12 => "return_bus_communication_error_count",
            13 => "return_bus_exception_error_count",
            14 => "return_server_message_count",
            15 => "return_server_no_response_count",
            16 => "return_server_nak_count",
            17 => "return_server_busy_count",
            18 => "return_bus_character_overrun_count",
            20 => "clear_overrun_counter_and_flag",
            _ => "reserved",
        }
    }
}

/// A MODBUS Encapsulated Interface type (AP §6.19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MeiType(pub u8);

impl MeiType {
    /// CANopen General Reference Request and Response (AP §6.20).
    pub const CANOPEN_GENERAL_REFERENCE: MeiType = MeiType(13);
    /// Read Device Identification (AP §6.21).
    pub const READ_DEVICE_IDENTIFICATION: MeiType = MeiType(14);

    /// snake_case name; `reserved` for the others.
    pub fn name(self) -> &'static str {
        match self.0 {
            13 => "canopen_general_reference",
            14 => "read_device_identification",
            _ => "reserved",
        }
    }
}
