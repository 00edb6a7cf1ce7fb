//! EtherNet/IP and CIP: encapsulation, Common Packet Format, explicit
//! messages (Message Router requests and responses, EPATHs, the Connection
//! Manager, Multiple_Service_Packet, the Logix tag services) and implicit
//! I/O datagrams.
//!
//! References: *The CIP Networks Library, Volume 2: EtherNet/IP Adaptation
//! of CIP* (cited as "Vol. 2 §n") and *Volume 1: Common Industrial
//! Protocol* ("Vol. 1 §n"); for the tag services, Rockwell's *Logix 5000
//! Controllers Data Access* (1756-PM020).
//!
//! Everything here is a checked view over borrowed bytes. Parsers return
//! `None` (or a `Malformed` variant) for data too short for its fields and
//! never panic; codes are open newtypes whose unknown values are kept.

mod cip;
mod cm;
mod cpf;
mod encap;
mod epath;
mod flags;
mod identity;
mod services;

pub use cip::{
    is_response, parse_request, parse_response, ClassId, GeneralStatus, Request, Response,
    ServiceCode, Target, RESPONSE_BIT,
};
pub use cm::{
    ConnectionFailure, ForwardClose, ForwardCloseReply, ForwardOpen, ForwardOpenReply,
    UnconnectedSend,
};
pub use cpf::{Address, Cpf, CpfError, Item, ItemType, Message, SockAddr, MAX_ITEMS};
pub use encap::{
    parse_body, Body, Command, EncapStatus, Header, HeaderError, HEADER_LEN, MAX_DATA_LEN,
};
pub use epath::{Epath, LogicalType, PathError, PathInfo, Segment, MAX_SEGMENTS};
pub use flags::Flags;
pub use identity::{DeviceState, DeviceType, Identity, ListIdentityItem, VendorId};
pub use services::{DataType, ServiceList, TagReply, TagRequest, Value, Values, MAX_SERVICES};

use crate::cursor::Cursor;
pub use crate::Probe;

/// TCP and UDP port of explicit messaging and ListIdentity (Vol. 2 §2-2).
pub const PORT: u16 = 44818;
/// UDP port of implicit (class 0/1) I/O (Vol. 2 §3-3).
pub const IO_PORT: u16 = 2222;

/// An implicit I/O datagram (Vol. 2 §3-3.2): a CPF with a sequenced (or
/// connected) address item and a connected data item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPacket<'a> {
    /// The producer's connection id.
    pub connection_id: u32,
    /// Encapsulation sequence number (sequenced address items only).
    pub sequence: Option<u32>,
    /// The connected data (class 1: a 16-bit sequence count, then the data).
    pub data: &'a [u8],
}

/// Parses an implicit I/O datagram: exactly two items, an address item
/// with a connection id and a connected data item, and nothing after them.
pub fn parse_io(b: &[u8]) -> Option<IoPacket<'_>> {
    let cpf = Cpf::parse(b).ok()?;
    if cpf.item_count != 2 || cpf.trailing != 0 {
        return None;
    }
    let m = cpf.message();
    if m.data_type != Some(ItemType::CONNECTED_DATA) {
        return None;
    }
    match m.address {
        Address::Sequenced {
            connection_id,
            sequence,
        } => Some(IoPacket {
            connection_id,
            sequence: Some(sequence),
            data: m.data,
        }),
        Address::Connected { connection_id } => Some(IoPacket {
            connection_id,
            sequence: None,
            data: m.data,
        }),
        _ => None,
    }
}

/// Content check for protocol detection: does `b` start an EtherNet/IP
/// stream, or is it an implicit I/O datagram?
///
/// On the registered ports (`strict` false) a valid encapsulation header
/// with any command (devices use the legacy codes too) or an I/O datagram
/// is enough. Elsewhere every message in `b` must be whole, with a defined
/// command and status and a body that parses, and `b` must end on a
/// message boundary, which other protocols' bytes almost never do.
pub fn probe(b: &[u8], strict: bool) -> Probe {
    if !strict && parse_io(b).is_some() {
        return Probe::Match;
    }
    match Header::parse(b) {
        Ok(_) => {}
        Err(HeaderError::Incomplete) => {
            // Judge the length and options we already have.
            let mut c = Cursor::new(b);
            let _ = c.u16_le();
            if let Some(len) = c.u16_le() {
                if usize::from(len) > MAX_DATA_LEN {
                    return Probe::NoMatch;
                }
            }
            if b.get(20..).is_some_and(|o| o.iter().any(|&x| x != 0)) {
                return Probe::NoMatch;
            }
            return Probe::NeedMore;
        }
        Err(_) => return Probe::NoMatch,
    }
    if !strict {
        return Probe::Match;
    }
    let mut rest = b;
    loop {
        match Header::parse(rest) {
            Ok(h) if rest.len() >= h.pdu_len() => {
                if !plausible(&h, &rest[HEADER_LEN..h.pdu_len()]) {
                    return Probe::NoMatch;
                }
                rest = &rest[h.pdu_len()..];
                if rest.is_empty() {
                    return Probe::Match;
                }
            }
            Ok(h) => {
                return if h.command.is_known() && h.status.name() != "unknown" {
                    Probe::NeedMore
                } else {
                    Probe::NoMatch
                }
            }
            Err(HeaderError::Incomplete) => return Probe::NeedMore,
            Err(_) => return Probe::NoMatch,
        }
    }
}

/// A whole message that looks like real EtherNet/IP (strict probing).
fn plausible(h: &Header, data: &[u8]) -> bool {
    if !h.command.is_known() || h.status.name() == "unknown" {
        return false;
    }
    // Requests and replies look alike here; try both readings.
    let ok = |reply| match parse_body(h, data, reply) {
        Body::Malformed { .. } => false,
        Body::Send {
            interface_handle,
            cpf,
            ..
        } => {
            interface_handle == 0
                && cpf.trailing == 0
                && cpf.item_count >= 2
                && cpf.items().all(|i| i.type_id.name() != "unknown")
        }
        Body::RegisterSession {
            protocol_version, ..
        } => protocol_version == 1 && data.len() == 4,
        _ => true,
    };
    ok(false) || ok(true)
}

#[cfg(test)]
mod tests;
