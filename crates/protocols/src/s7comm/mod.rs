//! Siemens S7comm and S7comm-plus over ISO transport (TPKT, RFC 1006; COTP,
//! ISO 8073 / X.224 class 0) on TCP port 102.
//!
//! - [`cotp`]: TPKT headers and COTP TPDUs (CR, CC, DR, DC, DT, ER), TSAPs
//!   and the rack and slot an S7 TSAP addresses.
//! - [`pdu`]: the S7comm PDU (protocol id 0x32): header, Job and Ack-Data
//!   parameters (setup communication, read/write var items, block
//!   control, PI services, PLC stop), data items.
//! - [`userdata`]: userdata PDUs (ROSCTR 7): parameter, data header, system
//!   status lists (module and component identification), block functions,
//!   clock.
//! - [`plus`]: S7comm-plus (protocol id 0x72): fragments, header fields,
//!   return values, the few object fields an operation is judged by.
//!
//! S7comm has no public specification; the layouts follow Siemens' STEP 7
//! documentation where it describes them (system status lists, block
//! headers, error codes) and the public protocol literature elsewhere.
//! Every parser here reads through [`Cursor`](crate::cursor::Cursor) and
//! never panics; fields it cannot read make the value `None` or the body
//! `Malformed`, and the caller reports it.

pub mod codes;
pub mod cotp;
pub mod pdu;
pub mod plus;
pub mod userdata;

pub use codes::{
    Area, DataTransportSize, ErrorClass, ErrorCode, Function, FunctionGroup, PiService, ReturnCode,
    Rosctr, TransportSize, UserdataType,
};
pub use cotp::{parse_tpdu, Tpdu, Tpkt, TpktError, Tsap, TPKT_LEN};
pub use pdu::{parse_pdu, Pdu, PduError};

pub use crate::Probe;

/// TCP port of ISO transport over TCP (RFC 1006 §3, "ISO-TSAP").
pub const PORT: u16 = 102;

/// What breaks the protocol but was kept (reported as `flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

crate::flag_set!(Flags, u16);

impl Flags {
    /// Octets after the last field the header announces.
    pub const TRAILING_BYTES: u16 = 1;
    /// Items present differ from the item count.
    pub const ITEM_COUNT_MISMATCH: u16 = 1 << 1;
    /// A value is shorter than its length field.
    pub const DATA_TRUNCATED: u16 = 1 << 2;
    /// The response does not answer its request (function, item count,
    /// group or sub-function differ).
    pub const RESPONSE_MISMATCH: u16 = 1 << 3;
    /// SZL records do not match the announced length and count.
    pub const SZL_INCONSISTENT: u16 = 1 << 4;
    /// More data units were announced but never requested.
    pub const RESPONSE_INCOMPLETE: u16 = 1 << 5;
    /// A response joined over data units (or fragments) exceeded the
    /// reassembly limit; the rest was dropped.
    pub const REASSEMBLY_TRUNCATED: u16 = 1 << 6;
    /// Request and response use different S7comm-plus protocol versions.
    pub const VERSION_MISMATCH: u16 = 1 << 7;
    /// The header announces more parameter or data octets than the PDU has.
    pub const LENGTH_MISMATCH: u16 = 1 << 8;

    const NAMES: [(u16, &'static str); 9] = [
        (Self::TRAILING_BYTES, "trailing_bytes"),
        (Self::ITEM_COUNT_MISMATCH, "item_count_mismatch"),
        (Self::DATA_TRUNCATED, "data_truncated"),
        (Self::RESPONSE_MISMATCH, "response_mismatch"),
        (Self::SZL_INCONSISTENT, "szl_inconsistent"),
        (Self::RESPONSE_INCOMPLETE, "response_incomplete"),
        (Self::REASSEMBLY_TRUNCATED, "reassembly_truncated"),
        (Self::VERSION_MISMATCH, "version_mismatch"),
        (Self::LENGTH_MISMATCH, "length_mismatch"),
    ];

    /// Sets `bit`.
    pub fn set(&mut self, bit: u16) {
        self.0 |= bit;
    }
}

/// Is `b` the start of an S7comm or S7comm-plus PDU (the user data of a
/// DT TPDU)? Checks the protocol id and, for S7comm, the PDU type.
fn s7_payload(b: &[u8], whole: bool) -> Probe {
    match b.first() {
        None => Probe::NeedMore,
        Some(&pdu::PROTOCOL_ID) => {
            let Some(&rosctr) = b.get(1) else {
                return Probe::NeedMore;
            };
            if !matches!(rosctr, 1 | 2 | 3 | 7) {
                return Probe::NoMatch;
            }
            if whole && parse_pdu(b).is_err() {
                return Probe::NoMatch;
            }
            Probe::Match
        }
        Some(&plus::PROTOCOL_ID) => match b.get(1) {
            None => Probe::NeedMore,
            Some(1..=3 | 0xfe | 0xff) => Probe::Match,
            Some(_) => Probe::NoMatch,
        },
        Some(_) => Probe::NoMatch,
    }
}

/// Content check for protocol detection: do `b` start an ISO-on-TCP
/// stream carrying S7comm or S7comm-plus?
///
/// Walks whole TPKTs. A DT TPDU decides by its user data; connection
/// TPDUs are consistent but not decisive, except (on port 102) a
/// connection request to an S7 TSAP. `strict` (off port 102) also requires
/// the bytes to end on a TPKT boundary.
pub fn probe(b: &[u8], strict: bool) -> Probe {
    let mut rest = b;
    loop {
        let t = match Tpkt::parse(rest) {
            Ok(t) => t,
            Err(TpktError::Incomplete) => {
                return match rest.first() {
                    None | Some(&cotp::TPKT_VERSION) => Probe::NeedMore,
                    Some(_) => Probe::NoMatch,
                };
            }
            Err(_) => return Probe::NoMatch,
        };
        if strict && t.reserved != 0 {
            return Probe::NoMatch;
        }
        let len = usize::from(t.length);
        let Some(packet) = rest.get(..len) else {
            // A partial TPKT: judge the TPDU header if it is there.
            return match parse_tpdu(&rest[TPKT_LEN..]) {
                Ok(Tpdu::Data { payload, .. }) if !strict => s7_payload(payload, false),
                Err(cotp::CotpError::UnknownCode(_)) => Probe::NoMatch,
                _ => Probe::NeedMore,
            };
        };
        rest = &rest[len..];
        match parse_tpdu(&packet[TPKT_LEN..]) {
            Ok(Tpdu::Data { payload, eot, .. }) => {
                if payload.is_empty() {
                    continue;
                }
                return match s7_payload(payload, eot) {
                    Probe::Match if strict && !rest.is_empty() => {
                        // Off the registered port, the rest must be whole TPKTs too.
                        if whole_tpkts(rest) {
                            Probe::Match
                        } else {
                            Probe::NeedMore
                        }
                    }
                    v => v,
                };
            }
            Ok(Tpdu::ConnectionRequest(c)) if !strict => {
                let s7_tsap = c
                    .called_tsap
                    .is_some_and(|t| t.rack_slot().is_some() || t.0.starts_with(b"SIMATIC"));
                if s7_tsap {
                    return Probe::Match;
                }
            }
            Ok(_) => {}
            Err(_) => return Probe::NoMatch,
        }
        if rest.is_empty() {
            return Probe::NeedMore;
        }
    }
}

fn whole_tpkts(mut b: &[u8]) -> bool {
    while !b.is_empty() {
        match Tpkt::parse(b) {
            Ok(t) if b.len() >= usize::from(t.length) => b = &b[usize::from(t.length)..],
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests;
