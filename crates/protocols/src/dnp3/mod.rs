//! DNP3 (IEEE 1815-2012): data link frames, the transport function and the
//! application layer, carried over TCP or UDP (port 20000, per the
//! standard's annex on IP networking).
//!
//! The layers are separate pure pieces; the sensor's session strings them
//! together:
//!
//! - [`link`]: frame header (start octets, length, control, addresses,
//!   header CRC) and the CRC-protected user data blocks (§9.2);
//! - [`transport`]: the one-octet header that splits application fragments
//!   into segments (§8);
//! - [`app`]: application control, function code and internal indications
//!   (§4.2.2);
//! - [`objects`]: object headers, object sizes and the decoded control
//!   relay output blocks and analog output blocks (§4.2.2.7, Annex A);
//! - [`summary`]: a bounded owned summary of a (multi-fragment) message.
//!
//! Nothing here panics or allocates on untrusted input: every read goes
//! through [`crate::cursor::Cursor`], every count is checked against the
//! bytes present, and walks are bounded ([`objects::MAX_OBJECT_HEADERS`]).

pub mod app;
pub mod crc;
pub mod flags;
pub mod link;
pub mod objects;
pub mod summary;
pub mod transport;

pub use app::{AppControl, Fragment, FragmentError, FunctionCode, Iin, ObjectKinds};
pub use flags::Flags;
pub use link::{Frame, LinkControl, LinkError, LinkFunction, LinkHeader};
pub use objects::{
    AnalogOutput, AnalogValue, CommandStatus, ControlCode, Crob, Headers, ObjectError,
    ObjectHeader, Qualifier, Range,
};
pub use summary::{Confirms, ControlPoint, HeaderInfo, Message};
pub use transport::{TransportHeader, MAX_FRAGMENT_LEN};

pub use crate::Probe;

/// The TCP and UDP port registered for DNP3 (IEEE 1815-2012, IP networking annex).
pub const PORT: u16 = 20000;

/// Content check for protocol detection: does `b` start with a DNP3 link
/// frame? Start octets 0x05 0x64, a length of at least 5 and a matching
/// header CRC: random bytes pass with a probability of about 2^-32, so the
/// check is the same on and off the registered port (`strict` is unused).
pub fn probe(b: &[u8], _strict: bool) -> Probe {
    match LinkHeader::parse(b) {
        Ok(_) => Probe::Match,
        Err(LinkError::Incomplete) => {
            if b.len() >= 2 && b[..2] != link::START {
                Probe::NoMatch
            } else {
                Probe::NeedMore
            }
        }
        Err(_) => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests;
