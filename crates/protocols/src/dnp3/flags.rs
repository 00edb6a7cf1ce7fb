//! Findings about a transaction that break the standard but were kept.

/// A set of findings (bits), named in snake_case for events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

crate::flag_set!(Flags, u32);

impl Flags {
    /// A fragment asked for an application confirm (CON) that never came
    /// (§4.2.2.4).
    pub const CONFIRM_MISSING: u32 = 1 << 0;
    /// A multi-fragment response ended before its final (FIN) fragment.
    pub const INCOMPLETE_RESPONSE: u32 = 1 << 1;
    /// A response fragment without FIR arrived with no response in progress.
    pub const MISSING_FIRST_FRAGMENT: u32 = 1 << 2;
    /// The UNS bit contradicts the function: a solicited response or a
    /// request with UNS, an unsolicited response without it (§4.2.2.4).
    pub const UNS_MISMATCH: u32 = 1 << 3;
    /// The link DIR bit contradicts the function: requests come from the
    /// master (DIR set), responses from the outstation (§9.2.4.1.3).
    pub const DIRECTION_MISMATCH: u32 = 1 << 4;
    /// A request split over several fragments (requests are one fragment,
    /// §4.2).
    pub const MULTI_FRAGMENT_REQUEST: u32 = 1 << 5;
    /// A request to a broadcast address (0xFFFD..=0xFFFF): no response is
    /// expected.
    pub const BROADCAST: u32 = 1 << 6;
    /// A function code the standard does not define.
    pub const RESERVED_FUNCTION: u32 = 1 << 7;
    /// Fragments of one response carry different function codes.
    pub const FRAGMENT_FUNCTION_MISMATCH: u32 = 1 << 8;

    const NAMES: [(u32, &'static str); 9] = [
        (Self::CONFIRM_MISSING, "confirm_missing"),
        (Self::INCOMPLETE_RESPONSE, "incomplete_response"),
        (Self::MISSING_FIRST_FRAGMENT, "missing_first_fragment"),
        (Self::UNS_MISMATCH, "uns_mismatch"),
        (Self::DIRECTION_MISMATCH, "direction_mismatch"),
        (Self::MULTI_FRAGMENT_REQUEST, "multi_fragment_request"),
        (Self::BROADCAST, "broadcast"),
        (Self::RESERVED_FUNCTION, "reserved_function"),
        (
            Self::FRAGMENT_FUNCTION_MISMATCH,
            "fragment_function_mismatch",
        ),
    ];

    /// Sets `bit` when `cond` holds.
    pub fn set(&mut self, bit: u32, cond: bool) {
        if cond {
            self.0 |= bit;
        }
    }
}
