//! Industrial protocol parsers, and the IT protocols that name plant hosts
//! (DHCP, NetBIOS name service, DNS, HTTP).
//!
//! Every parser here is pure: bytes in, typed values out, no I/O and no
//! state. Views borrow from the input (zero-copy) and never panic, whatever
//! the bytes. Protocol codes are open newtypes with named constants, so an
//! unknown code is kept and reported rather than rejected. Values that break
//! the specification are flagged, not discarded: a monitor must record what
//! was on the wire.
//!
//! Stateful work (stream framing, request/response pairing) lives in the
//! sensor, above these parsers.

#![forbid(unsafe_code)]

/// The methods of a flag set: a newtype over an integer whose associated
/// `NAMES` table pairs each bit with its snake_case name (the names an
/// event's `flags` array carries).
macro_rules! flag_set {
    ($ty:ident, $int:ty) => {
        impl $ty {
            /// True when nothing was flagged.
            pub fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// True when `bit` is set.
            pub fn has(self, bit: $int) -> bool {
                self.0 & bit != 0
            }

            /// The snake_case names of the set flags.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMES
                    .into_iter()
                    .filter(move |(b, _)| self.0 & b != 0)
                    .map(|(_, n)| n)
            }
        }
    };
}
pub(crate) use flag_set;

pub mod bacnet;
pub mod cursor;
pub mod dhcp;
pub mod dnp3;
pub mod dns;
pub mod enip;
pub mod http;
pub mod iec104;
pub mod modbus;
pub mod netbios;
pub mod opcua;
pub mod profinet;
pub mod s7comm;

/// How sure a content probe is that bytes start a given protocol's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The bytes are this protocol.
    Match,
    /// Consistent so far, but too short to decide.
    NeedMore,
    /// Not this protocol.
    NoMatch,
}
