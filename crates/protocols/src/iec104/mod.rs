//! IEC 60870-5-104: APCI framing over TCP and the ASDUs of
//! IEC 60870-5-101 as 104 uses them.
//!
//! References: *IEC 60870-5-104:2006 Transmission protocols - Network
//! access for IEC 60870-5-101 using standard transport profiles* (cited as
//! "104 §n") and *IEC 60870-5-101:2003 Companion standard for basic
//! telecontrol tasks* ("101 §n"); the secure authentication types are from
//! IEC 60870-5-7.
//!
//! [`parse_apdu`] reads one APDU (start byte, length, control field) and
//! [`parse_asdu`] the ASDU an I-format APDU carries. Neither rejects
//! content: what breaks the specification is kept and flagged
//! ([`ApciFlags`], [`AsduFlags`]); only a header too short to read is an
//! error, and even then the octets that were present are returned
//! ([`TruncatedAsdu`]). Information objects are decoded lazily by
//! [`Asdu::objects`], at most [`MAX_OBJECTS`] per ASDU.

mod apci;
mod asdu;
mod time;
mod types;

pub use apci::{
    apdu_size, emit_apdu, parse_apdu, ApciError, ApciFlags, Apdu, Control, MAX_APDU_LEN,
    MAX_APDU_LENGTH, MAX_ASDU_LEN, MIN_APDU_LENGTH, SEQUENCE_MODULUS, START,
};
pub use asdu::{
    emit_asdu, parse_asdu, Asdu, AsduFlags, Cot, Element, InformationObject, Objects, Quality,
    QualityKind, SetValue, Time, TruncatedAsdu, Value, Vsq, HEADER_LEN, IOA_LEN, MAX_OBJECTS,
};
pub use time::{Cp24Time2a, Cp56Time2a};
pub use types::{
    Cause, ElementKind, Layout, TimeTag, TypeClass, TypeId, UFunction, UProcedure, U_CODE_BASE,
};

pub use crate::Probe;

/// TCP port registered for IEC 60870-5-104 (104 §10).
pub const PORT: u16 = 2404;

/// Content check for protocol detection: do `b` start with 104 APDUs?
///
/// Lenient (on port 2404): a start byte and a length in 4..=253. Strict
/// (elsewhere): every APDU up to the end of `b` must be whole and well
/// formed: a clean control field, S- and U-frames of length 4 with one
/// defined U function, I-frames with a complete data unit identifier of a
/// defined type and cause.
pub fn probe(b: &[u8], strict: bool) -> Probe {
    match apdu_size(b) {
        Ok(_) => {}
        Err(ApciError::Incomplete) => {
            return if b.first().is_some_and(|&x| x != START) {
                Probe::NoMatch
            } else {
                Probe::NeedMore
            }
        }
        Err(_) => return Probe::NoMatch,
    }
    if !strict {
        return Probe::Match;
    }
    let mut rest = b;
    loop {
        let size = match apdu_size(rest) {
            Ok(n) if rest.len() >= n => n,
            Ok(_) | Err(ApciError::Incomplete) => return Probe::NeedMore,
            Err(_) => return Probe::NoMatch,
        };
        let Ok(apdu) = parse_apdu(rest) else {
            return Probe::NoMatch;
        };
        if !apdu.flags.is_empty() {
            return Probe::NoMatch;
        }
        if let Control::I { .. } = apdu.control {
            let Ok(asdu) = parse_asdu(apdu.asdu) else {
                return Probe::NoMatch;
            };
            if asdu.type_id.mnemonic().is_none()
                || asdu.cot.cause().is_undefined()
                || asdu.cot.cause().name() == "private"
                || asdu.vsq.number() == 0
                || asdu.flags.has(AsduFlags::OBJECT_LENGTH_MISMATCH)
            {
                return Probe::NoMatch;
            }
        }
        rest = &rest[size..];
        if rest.is_empty() {
            return Probe::Match;
        }
    }
}

#[cfg(test)]
mod tests;
