//! BACnet/IP (ANSI/ASHRAE 135, cited as "clause n" and "Annex J"): the
//! BACnet Virtual Link Control layer of BACnet/IP, the network layer
//! (NPDU) and the application layer (APDU), with the service parameters a
//! monitor needs: which object and property an operation touches, and what
//! devices say about themselves (I-Am, and the Device object's identity
//! properties read by ReadProperty and ReadPropertyMultiple).
//!
//! [`Message::parse`] reads one UDP datagram. Only the BVLC header can make
//! it fail; whatever follows is read as far as it goes, and anything that
//! breaks the standard is kept and flagged ([`Flags`]). Service parameters
//! are decoded on demand by the functions of [`services`] over the APDU's
//! data, through the tag reader of [`tags`] (clause 20.2).
//!
//! BACnet MS/TP (clause 9, link type 165), BACnet/Ethernet (ISO 8802-2
//! LLC, clause 7) and BACnet/IPv6 (Annex U) are not decoded.

mod codes;
mod message;
pub mod services;
pub mod tags;

pub use codes::{
    abort_reason_name, charset_name, enable_disable_name, error_class_name, error_code_name,
    max_apdu_octets, max_segments, reinitialized_state_name, reject_reason_name, segmentation_name,
    BvlcFunction, BvlcResultCode, ConfirmedService, NetworkMessageType, ObjectId, ObjectType,
    PduType, PropertyId, UnconfirmedService,
};
pub use message::{
    parse_apdu, Apdu, Body, Bvlc, BvlcError, Message, Npdu, BVLC_HEADER_LEN, BVLC_TYPE_IP,
    BVLC_TYPE_IPV6, MAX_DATAGRAM,
};
pub use tags::Value;

pub use crate::Probe;

/// UDP port registered for BACnet/IP (0xBAC0, Annex J.1).
pub const PORT: u16 = 47808;

/// Findings about a message or a transaction that break the standard but
/// were kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

crate::flag_set!(Flags, u32);

impl Flags {
    /// The BVLC length field is larger than the datagram or smaller than
    /// the header: the datagram's own length was used (Annex J.2).
    pub const BVLC_LENGTH_MISMATCH: u32 = 1 << 0;
    /// The datagram is longer than the BVLC length field says.
    pub const TRAILING_BYTES: u32 = 1 << 1;
    /// The NPDU version is not 1 (clause 6.2.1).
    pub const NPDU_VERSION: u32 = 1 << 2;
    /// Reserved bits of the NPDU control octet are set (clause 6.2.2).
    pub const RESERVED_CONTROL_BITS: u32 = 1 << 3;
    /// An NPDU source address of length 0 (clause 6.2.2: SLEN 0 is invalid).
    pub const INVALID_SOURCE_ADDRESS: u32 = 1 << 4;
    /// The BVLL message, NPDU or APDU header ends before its fixed fields.
    pub const TRUNCATED: u32 = 1 << 5;
    /// A BVLC function past 0x0c.
    pub const UNKNOWN_BVLC_FUNCTION: u32 = 1 << 6;
    /// An APDU type the standard reserves (8..=15).
    pub const RESERVED_PDU_TYPE: u32 = 1 << 7;
    /// A broadcast distribution or foreign device table whose length is
    /// not a multiple of its 10-octet entries.
    pub const MALFORMED_TABLE: u32 = 1 << 8;
    /// The service parameters do not decode as the service defines them.
    pub const MALFORMED_SERVICE: u32 = 1 << 9;
    /// A reply of another service than its request.
    pub const SERVICE_MISMATCH: u32 = 1 << 10;
    /// Segments out of order, repeated, or past the reassembly limit: the
    /// joined data is incomplete.
    pub const SEGMENTS_INCOMPLETE: u32 = 1 << 11;
    /// A segmented message ended without its last segment.
    pub const SEGMENTATION_UNFINISHED: u32 = 1 << 12;
    /// A confirmed request to a broadcast address (clause 5.4: confirmed
    /// requests are sent to one device).
    pub const CONFIRMED_BROADCAST: u32 = 1 << 13;
    /// The segments of a message, or the SegmentACKs of the transaction,
    /// came with another BVLC function than its first segment.
    pub const BVLC_FUNCTION_CHANGED: u32 = 1 << 14;

    const NAMES: [(u32, &'static str); 15] = [
        (Self::BVLC_LENGTH_MISMATCH, "bvlc_length_mismatch"),
        (Self::TRAILING_BYTES, "trailing_bytes"),
        (Self::NPDU_VERSION, "npdu_version"),
        (Self::RESERVED_CONTROL_BITS, "reserved_control_bits"),
        (Self::INVALID_SOURCE_ADDRESS, "invalid_source_address"),
        (Self::TRUNCATED, "truncated"),
        (Self::UNKNOWN_BVLC_FUNCTION, "unknown_bvlc_function"),
        (Self::RESERVED_PDU_TYPE, "reserved_pdu_type"),
        (Self::MALFORMED_TABLE, "malformed_table"),
        (Self::MALFORMED_SERVICE, "malformed_service"),
        (Self::SERVICE_MISMATCH, "service_mismatch"),
        (Self::SEGMENTS_INCOMPLETE, "segments_incomplete"),
        (Self::SEGMENTATION_UNFINISHED, "segmentation_unfinished"),
        (Self::CONFIRMED_BROADCAST, "confirmed_broadcast"),
        (Self::BVLC_FUNCTION_CHANGED, "bvlc_function_changed"),
    ];
}

/// Content check for protocol detection: is `b` (one UDP datagram) a
/// BACnet/IP BVLL message?
///
/// On the registered port the BVLC type octet decides. `strict` (any other
/// port) also wants a defined function, a length field equal to the
/// datagram, and for NPDU-carrying functions an NPDU of version 1 with its
/// reserved control bits clear.
pub fn probe(b: &[u8], strict: bool) -> Probe {
    if b.len() < BVLC_HEADER_LEN {
        return if b.first().is_some_and(|&t| t != BVLC_TYPE_IP) {
            Probe::NoMatch
        } else {
            Probe::NeedMore
        };
    }
    if b[0] != BVLC_TYPE_IP {
        return Probe::NoMatch;
    }
    if !strict {
        return Probe::Match;
    }
    let f = BvlcFunction(b[1]);
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    if f.0 > 0x0c || len != b.len() {
        return Probe::NoMatch;
    }
    if f.carries_npdu() {
        let at = if f == BvlcFunction::FORWARDED_NPDU {
            10
        } else {
            BVLC_HEADER_LEN
        };
        match (b.get(at), b.get(at + 1)) {
            (Some(1), Some(c)) if c & 0x50 == 0 => {}
            _ => return Probe::NoMatch,
        }
    }
    Probe::Match
}

#[cfg(test)]
mod tests;
