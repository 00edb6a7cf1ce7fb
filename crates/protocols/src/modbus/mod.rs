//! Modbus/TCP: MBAP framing and every public function code.
//!
//! References: *MODBUS Application Protocol Specification V1.1b3* (cited
//! below as "AP §n") and *MODBUS Messaging on TCP/IP Implementation Guide
//! V1.0b* ("TCP §n").
//!
//! [`parse_request`] and [`parse_response`] read one PDU (function code and
//! data). They never fail: a PDU too short for its function's fixed fields
//! becomes [`RequestBody::Malformed`] / [`ResponseBody::Malformed`], and
//! values outside the specification's ranges are kept and flagged in
//! [`Flags`]. [`check_pair`] cross-checks a response against its request
//! (byte counts against quantities, echoes against requests).

mod codes;
mod device_id;
mod pdu;

pub use codes::{ExceptionCode, FunctionCode, FunctionKind, MeiType, SubFunction};
pub use device_id::{DeviceId, DeviceObjects, ObjectId};
pub use pdu::{
    check_pair, parse_request, parse_response, FileSubRequest, FileSubRequests, Flags, Request,
    RequestBody, Response, ResponseBody,
};

use crate::cursor::Cursor;
pub use crate::Probe;

/// TCP port registered for Modbus/TCP (TCP §4.1.2).
pub const PORT: u16 = 502;
/// MBAP header length: transaction id, protocol id, length, unit id (TCP §3.1.3).
pub const MBAP_LEN: usize = 7;
/// Largest PDU: 253 bytes (AP §4.1, inherited from the serial ADU limit).
pub const MAX_PDU_LEN: usize = 253;
/// Largest ADU: MBAP plus the largest PDU.
pub const MAX_ADU_LEN: usize = MBAP_LEN + MAX_PDU_LEN;

/// The Modbus Application Protocol header (TCP §3.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mbap {
    /// Pairs a response with its request.
    pub transaction_id: u16,
    /// 0 for Modbus.
    pub protocol_id: u16,
    /// Bytes following this field: unit id plus PDU.
    pub length: u16,
    /// Addresses a device behind a gateway (255 or 0 for direct connections).
    pub unit_id: u8,
}

/// Why an MBAP header is not Modbus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MbapError {
    /// Fewer than 7 bytes.
    Incomplete,
    /// Protocol identifier other than 0.
    ProtocolId(u16),
    /// Length field outside 2..=254 (unit id plus a 1..=253 byte PDU).
    Length(u16),
}

impl Mbap {
    /// Reads and validates the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Mbap, MbapError> {
        let mut c = Cursor::new(b);
        let (Some(tid), Some(pid), Some(len), Some(unit)) = (c.u16(), c.u16(), c.u16(), c.u8())
        else {
            return Err(MbapError::Incomplete);
        };
        if pid != 0 {
            return Err(MbapError::ProtocolId(pid));
        }
        if !(2..=(MAX_PDU_LEN as u16 + 1)).contains(&len) {
            return Err(MbapError::Length(len));
        }
        Ok(Mbap {
            transaction_id: tid,
            protocol_id: pid,
            length: len,
            unit_id: unit,
        })
    }

    /// Length of the whole ADU (header plus PDU).
    pub fn adu_len(&self) -> usize {
        6 + usize::from(self.length)
    }

    /// Writes the header (for crafting).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.transaction_id.to_be_bytes());
        out.extend_from_slice(&self.protocol_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
        out.push(self.unit_id);
    }
}

/// Content check for protocol detection: does `b` start with a Modbus/TCP ADU?
///
/// `strict` (used off port 502) also requires a public function code and the
/// segment to end exactly on an ADU boundary, which random bytes almost never do.
pub fn probe(b: &[u8], strict: bool) -> Probe {
    match Mbap::parse(b) {
        Ok(_) => {}
        Err(MbapError::Incomplete) => {
            // Judge what we have: a non-zero protocol id already disqualifies.
            if b.len() >= 4 && (b[2] != 0 || b[3] != 0) {
                return Probe::NoMatch;
            }
            return Probe::NeedMore;
        }
        Err(_) => return Probe::NoMatch,
    }
    let Some(&fc) = b.get(MBAP_LEN) else {
        return Probe::NeedMore;
    };
    // On the registered port any function code is accepted (a function
    // code scan starts at 0); elsewhere only public codes count.
    if strict && FunctionCode(fc & 0x7f).kind() != FunctionKind::Public {
        return Probe::NoMatch;
    }
    if !strict {
        return Probe::Match;
    }
    // Walk whole ADUs: the segment must end on a boundary.
    let mut rest = b;
    loop {
        match Mbap::parse(rest) {
            Ok(m) if rest.len() >= m.adu_len() => {
                rest = &rest[m.adu_len()..];
                if rest.is_empty() {
                    return Probe::Match;
                }
            }
            Ok(_) | Err(MbapError::Incomplete) => return Probe::NeedMore,
            Err(_) => return Probe::NoMatch,
        }
    }
}

#[cfg(test)]
mod tests;
