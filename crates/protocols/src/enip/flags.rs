//! Findings that break the specifications but do not stop parsing.

/// What was found wrong but kept (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

crate::flag_set!(Flags, u32);

impl Flags {
    /// Bytes after the last item or field.
    pub const TRAILING_BYTES: u32 = 1 << 0;
    /// A request with a non-zero encapsulation status (Vol. 2 §2-3.3: 0 in requests).
    pub const NONZERO_REQUEST_STATUS: u32 = 1 << 1;
    /// A reply that does not answer its request: another service, another
    /// number of embedded replies, echoes that differ.
    pub const RESPONSE_MISMATCH: u32 = 1 << 2;
    /// A request, route or connection path that cannot be read to its end.
    pub const PATH_ERROR: u32 = 1 << 3;
    /// Execute_PCCC: legacy PLC-5/SLC commands tunnelled through CIP.
    pub const EXECUTE_PCCC: u32 = 1 << 4;
    /// An encapsulation command the specification does not define.
    pub const UNKNOWN_COMMAND: u32 = 1 << 5;
    /// A reply with another session handle than its request.
    pub const SESSION_MISMATCH: u32 = 1 << 6;
    /// SendRRData without a null address item, SendUnitData without a
    /// connected address item (Vol. 2 §2-6.2).
    pub const UNEXPECTED_ADDRESS_ITEM: u32 = 1 << 7;
    /// A Multiple_Service_Packet whose offsets do not fit its data.
    pub const MALFORMED_SERVICE_LIST: u32 = 1 << 8;
    /// A service code in a reserved range.
    pub const RESERVED_SERVICE: u32 = 1 << 9;
    /// A Forward_Open or Forward_Close reply that echoes another connection.
    pub const CONNECTION_MISMATCH: u32 = 1 << 10;

    const NAMES: [(u32, &'static str); 11] = [
        (Self::TRAILING_BYTES, "trailing_bytes"),
        (Self::NONZERO_REQUEST_STATUS, "nonzero_request_status"),
        (Self::RESPONSE_MISMATCH, "response_mismatch"),
        (Self::PATH_ERROR, "path_error"),
        (Self::EXECUTE_PCCC, "execute_pccc"),
        (Self::UNKNOWN_COMMAND, "unknown_command"),
        (Self::SESSION_MISMATCH, "session_mismatch"),
        (Self::UNEXPECTED_ADDRESS_ITEM, "unexpected_address_item"),
        (Self::MALFORMED_SERVICE_LIST, "malformed_service_list"),
        (Self::RESERVED_SERVICE, "reserved_service"),
        (Self::CONNECTION_MISMATCH, "connection_mismatch"),
    ];

    /// Sets `bit` when `cond` holds.
    pub fn set(&mut self, bit: u32, cond: bool) {
        if cond {
            self.0 |= bit;
        }
    }
}
