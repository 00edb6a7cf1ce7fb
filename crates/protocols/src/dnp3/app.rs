//! The application layer header (IEEE 1815-2012 §4.2.2): application
//! control, function code and, in responses, the internal indications.

use plantshield_events::Operation;

use crate::cursor::Cursor;

/// The application control octet (§4.2.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct AppControl(pub u8);

impl AppControl {
    /// FIR: the first fragment of a message.
    pub fn fir(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// FIN: the last fragment of a message.
    pub fn fin(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// CON: the sender wants an application confirm.
    pub fn con(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// UNS: an unsolicited response, or the confirm of one.
    pub fn uns(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// The sequence number (0..=15) that pairs responses and confirms.
    pub fn seq(self) -> u8 {
        self.0 & 0x0f
    }
    /// The sequence number after `seq`, as consecutive fragments use.
    pub fn next_seq(seq: u8) -> u8 {
        (seq + 1) & 0x0f
    }
    /// A control octet from its parts (for crafting).
    pub fn new(fir: bool, fin: bool, con: bool, uns: bool, seq: u8) -> Self {
        AppControl(
            (u8::from(fir) << 7)
                | (u8::from(fin) << 6)
                | (u8::from(con) << 5)
                | (u8::from(uns) << 4)
                | (seq & 0x0f),
        )
    }
}

/// An application function code (§4.2.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionCode(pub u8);

#[allow(missing_docs)]
impl FunctionCode {
    pub const CONFIRM: FunctionCode = FunctionCode(0);
    pub const READ: FunctionCode = FunctionCode(1);
    pub const WRITE: FunctionCode = FunctionCode(2);
    pub const SELECT: FunctionCode = FunctionCode(3);
    pub const OPERATE: FunctionCode = FunctionCode(4);
    pub const DIRECT_OPERATE: FunctionCode = FunctionCode(5);
    pub const DIRECT_OPERATE_NO_ACK: FunctionCode = FunctionCode(6);
    pub const IMMEDIATE_FREEZE: FunctionCode = FunctionCode(7);
    pub const IMMEDIATE_FREEZE_NO_ACK: FunctionCode = FunctionCode(8);
    pub const FREEZE_AND_CLEAR: FunctionCode = FunctionCode(9);
    pub const FREEZE_AND_CLEAR_NO_ACK: FunctionCode = FunctionCode(10);
    pub const FREEZE_AT_TIME: FunctionCode = FunctionCode(11);
    pub const FREEZE_AT_TIME_NO_ACK: FunctionCode = FunctionCode(12);
    pub const COLD_RESTART: FunctionCode = FunctionCode(13);
    pub const WARM_RESTART: FunctionCode = FunctionCode(14);
    pub const INITIALIZE_DATA: FunctionCode = FunctionCode(15);
    pub const INITIALIZE_APPLICATION: FunctionCode = FunctionCode(16);
    pub const START_APPLICATION: FunctionCode = FunctionCode(17);
    pub const STOP_APPLICATION: FunctionCode = FunctionCode(18);
    pub const SAVE_CONFIGURATION: FunctionCode = FunctionCode(19);
    pub const ENABLE_UNSOLICITED: FunctionCode = FunctionCode(20);
    pub const DISABLE_UNSOLICITED: FunctionCode = FunctionCode(21);
    pub const ASSIGN_CLASS: FunctionCode = FunctionCode(22);
    pub const DELAY_MEASURE: FunctionCode = FunctionCode(23);
    pub const RECORD_CURRENT_TIME: FunctionCode = FunctionCode(24);
    pub const OPEN_FILE: FunctionCode = FunctionCode(25);
    pub const CLOSE_FILE: FunctionCode = FunctionCode(26);
    pub const DELETE_FILE: FunctionCode = FunctionCode(27);
    pub const GET_FILE_INFO: FunctionCode = FunctionCode(28);
    pub const AUTHENTICATE_FILE: FunctionCode = FunctionCode(29);
    pub const ABORT_FILE: FunctionCode = FunctionCode(30);
    pub const ACTIVATE_CONFIG: FunctionCode = FunctionCode(31);
    pub const AUTHENTICATE_REQUEST: FunctionCode = FunctionCode(32);
    pub const AUTHENTICATE_REQUEST_NO_ACK: FunctionCode = FunctionCode(33);
    pub const RESPONSE: FunctionCode = FunctionCode(129);
    pub const UNSOLICITED_RESPONSE: FunctionCode = FunctionCode(130);
    pub const AUTHENTICATE_RESPONSE: FunctionCode = FunctionCode(131);
}

/// What the object headers of a request say about its targets, for
/// [`FunctionCode::operation`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectKinds {
    /// Some header names a control object: a control relay output block
    /// (group 12) or an analog output block (group 41).
    pub control: bool,
    /// Some header names an object outside the configuration groups
    /// (device attributes 0, deadbands 34, time 50, data set prototypes
    /// and descriptors 85 and 86, internal indications 80).
    pub non_configuration: bool,
    /// At least one header was read.
    pub any: bool,
}

impl ObjectKinds {
    /// Adds the group of one object header.
    pub fn add(&mut self, group: u8) {
        self.any = true;
        self.control |= matches!(group, 12 | 41);
        self.non_configuration |= !matches!(group, 0 | 34 | 50 | 80 | 85 | 86);
    }
}

impl FunctionCode {
    /// The snake_case name from the standard; `reserved` for undefined codes.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "confirm",
            1 => "read",
            2 => "write",
            3 => "select",
            4 => "operate",
            5 => "direct_operate",
            6 => "direct_operate_no_ack",
            7 => "immediate_freeze",
            8 => "immediate_freeze_no_ack",
            9 => "freeze_and_clear",
            10 => "freeze_and_clear_no_ack",
            11 => "freeze_at_time",
            12 => "freeze_at_time_no_ack",
            13 => "cold_restart",
            14 => "warm_restart",
            15 => "initialize_data",
            16 => "initialize_application",
            17 => "start_application",
            18 => "stop_application",
            19 => "save_configuration",
            20 => "enable_unsolicited",
            21 => "disable_unsolicited",
            22 => "assign_class",
            23 => "delay_measure",
            24 => "record_current_time",
            25 => "open_file",
            26 => "close_file",
            27 => "delete_file",
            28 => "get_file_info",
            29 => "authenticate_file",
            30 => "abort_file",
            31 => "activate_config",
            32 => "authenticate_request",
            33 => "authenticate_request_no_ack",
            129 => "response",
            130 => "unsolicited_response",
            131 => "authenticate_response",
            _ => "reserved",
        }
    }

    /// Defined by the standard.
    pub fn is_defined(self) -> bool {
        matches!(self.0, 0..=33 | 129..=131)
    }

    /// Sent by an outstation (responses); every other code is sent by a master.
    pub fn is_response(self) -> bool {
        self.0 >= 129
    }

    /// A request the outstation answers with a response (§4.2.2.5: the
    /// `_no_ack` functions and confirms get none).
    pub fn expects_response(self) -> bool {
        !matches!(self.0, 0 | 6 | 8 | 10 | 12 | 33) && !self.is_response()
    }

    /// Object headers of this request carry no object data, only ranges
    /// (§4.2.2.7: read, freeze, unsolicited control, assign class).
    /// Freeze at time (11, 12) carries data in its time object (group 50)
    /// only; see [`FunctionCode::header_has_data`].
    fn headers_only(self) -> bool {
        matches!(self.0, 1 | 7..=12 | 20..=22)
    }

    /// Whether objects of `group` in a fragment of this function carry data.
    pub fn header_has_data(self, group: u8) -> bool {
        if self.headers_only() {
            matches!(self.0, 11 | 12) && group == 50
        } else {
            true
        }
    }

    /// What the function does to the outstation (docs/protocols/dnp3.md).
    /// `objects` classifies writes and controls: a write that touches only
    /// configuration objects is `configuration`, a select or operate on a
    /// control block is `command`.
    pub fn operation(self, objects: ObjectKinds) -> Operation {
        match self.0 {
            1 => Operation::Read,
            2 => {
                if objects.any && !objects.non_configuration {
                    Operation::Configuration
                } else {
                    Operation::Write
                }
            }
            3..=6 => {
                if objects.control {
                    Operation::Command
                } else {
                    Operation::Write
                }
            }
            7..=12 => Operation::Command,
            13..=18 => Operation::ModeChange,
            19..=22 | 24 | 31 => Operation::Configuration,
            23 => Operation::Diagnostics,
            25..=30 => Operation::File,
            32 | 33 | 131 => Operation::Session,
            130 => Operation::Read,
            _ => Operation::Other,
        }
    }
}

/// Internal indications (§4.2.2.6): IIN1 in the high octet, IIN2 low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Iin(pub u16);

impl Iin {
    /// IIN1.0: a broadcast message was received.
    pub const BROADCAST: u16 = 0x0100;
    /// IIN1.7: the outstation restarted.
    pub const DEVICE_RESTART: u16 = 0x8000;
    /// IIN2.0: the function code is not implemented.
    pub const NO_FUNC_CODE_SUPPORT: u16 = 0x0001;
    /// IIN2.1: an object or range in the request is unknown.
    pub const OBJECT_UNKNOWN: u16 = 0x0002;
    /// IIN2.2: a parameter in the request is invalid.
    pub const PARAMETER_ERROR: u16 = 0x0004;
    /// The bits by which an outstation rejects a request.
    pub const REQUEST_ERRORS: u16 =
        Self::NO_FUNC_CODE_SUPPORT | Self::OBJECT_UNKNOWN | Self::PARAMETER_ERROR;

    /// IIN1.0 to IIN1.7, then IIN2.0 to IIN2.7.
    const NAMES: [(u16, &'static str); 16] = [
        (0x0100, "broadcast"),
        (0x0200, "class_1_events"),
        (0x0400, "class_2_events"),
        (0x0800, "class_3_events"),
        (0x1000, "need_time"),
        (0x2000, "local_control"),
        (0x4000, "device_trouble"),
        (0x8000, "device_restart"),
        (0x0001, "no_func_code_support"),
        (0x0002, "object_unknown"),
        (0x0004, "parameter_error"),
        (0x0008, "event_buffer_overflow"),
        (0x0010, "already_executing"),
        (0x0020, "config_corrupt"),
        (0x0040, "reserved_2"),
        (0x0080, "reserved_1"),
    ];

    /// The snake_case names of the set bits, IIN1.0 first.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(b, _)| self.0 & b != 0)
            .map(|(_, n)| n)
    }

    /// The outstation rejected the request (IIN2.0, 2.1 or 2.2).
    pub fn is_error(self) -> bool {
        self.0 & Self::REQUEST_ERRORS != 0
    }
}

/// One application fragment (§4.2.2): its header and the object bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Application control.
    pub control: AppControl,
    /// Function code.
    pub function: FunctionCode,
    /// Internal indications (responses only).
    pub iin: Option<Iin>,
    /// Object headers and data after the header.
    pub objects: &'a [u8],
}

/// Why a fragment has no usable header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentError {
    /// Fewer than 2 octets (request) or 4 octets (response).
    TooShort,
}

impl<'a> Fragment<'a> {
    /// Reads the application header of a whole (reassembled) fragment.
    pub fn parse(b: &'a [u8]) -> Result<Fragment<'a>, FragmentError> {
        let mut c = Cursor::new(b);
        let (Some(control), Some(function)) = (c.u8(), c.u8()) else {
            return Err(FragmentError::TooShort);
        };
        let function = FunctionCode(function);
        let iin = if function.is_response() {
            let (Some(i1), Some(i2)) = (c.u8(), c.u8()) else {
                return Err(FragmentError::TooShort);
            };
            Some(Iin(u16::from_be_bytes([i1, i2])))
        } else {
            None
        };
        Ok(Fragment {
            control: AppControl(control),
            function,
            iin,
            objects: c.take_rest(),
        })
    }

    /// The object headers of this fragment.
    pub fn headers(&self) -> super::objects::Headers<'a> {
        super::objects::Headers::new(self.objects, self.function)
    }
}
