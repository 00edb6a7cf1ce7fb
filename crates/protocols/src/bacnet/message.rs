//! One BACnet/IP datagram: the BVLC header (Annex J.2), the NPDU (clause
//! 6.2) and the APDU header (clause 20.1), as views over the datagram.

use std::net::Ipv4Addr;

use super::codes::{BvlcFunction, BvlcResultCode, NetworkMessageType, PduType};
use super::Flags;
use crate::cursor::Cursor;

/// BVLC type of BACnet/IP (Annex J.2).
pub const BVLC_TYPE_IP: u8 = 0x81;
/// BVLC type of BACnet/IPv6 (Annex U), not decoded.
pub const BVLC_TYPE_IPV6: u8 = 0x82;
/// Length of the BVLC header.
pub const BVLC_HEADER_LEN: usize = 4;
/// Largest BACnet/IP datagram PlantShield reads (a 1497-octet NPDU, clause
/// 6.3 and Annex J, behind the 10-octet Forwarded-NPDU header).
pub const MAX_DATAGRAM: usize = 1507;

/// The BVLC header and its function-specific fields (Annex J.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bvlc<'a> {
    /// The BVLC function.
    pub function: BvlcFunction,
    /// The length field (whole BVLL message).
    pub length: u16,
    /// Forwarded-NPDU: the B/IP address of the original sender.
    pub original_source: Option<(Ipv4Addr, u16)>,
    /// BVLC-Result: the result code.
    pub result: Option<BvlcResultCode>,
    /// Register-Foreign-Device: the time-to-live in seconds.
    pub ttl: Option<u16>,
    /// Write-BDT, Read-BDT-Ack, Read-FDT-Ack, Delete-FDT-Entry: the table
    /// entries (10 octets each for the BDT and the FDT, one 6-octet B/IP
    /// address for Delete-FDT-Entry).
    pub entries: &'a [u8],
}

/// An NPDU header (clause 6.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Npdu<'a> {
    /// Protocol version (1).
    pub version: u8,
    /// The control octet.
    pub control: u8,
    /// Destination network and MAC address (empty: a broadcast on DNET).
    pub destination: Option<(u16, &'a [u8])>,
    /// Source network and MAC address.
    pub source: Option<(u16, &'a [u8])>,
    /// Hop count (present with a destination).
    pub hop_count: Option<u8>,
    /// Network layer message type, for network layer messages.
    pub message_type: Option<NetworkMessageType>,
    /// Vendor of a proprietary network layer message (types 0x80..).
    pub vendor_id: Option<u16>,
}

impl Npdu<'_> {
    /// The NSDU is a network layer message (control bit 7).
    pub fn is_network_message(&self) -> bool {
        self.control & 0x80 != 0
    }

    /// Data expecting reply (control bit 2).
    pub fn expecting_reply(&self) -> bool {
        self.control & 0x04 != 0
    }

    /// Network priority (control bits 1-0): 0 normal, 1 urgent, 2 critical
    /// equipment, 3 life safety.
    pub fn priority(&self) -> u8 {
        self.control & 0x03
    }
}

/// An APDU header (clause 20.1) and the service octets after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Apdu<'a> {
    /// The PDU type.
    pub pdu_type: PduType,
    /// The low nibble of the first octet (SEG, MOR, SA, NAK, SRV bits).
    pub pdu_flags: u8,
    /// Invoke id (all but unconfirmed requests).
    pub invoke_id: Option<u8>,
    /// Service choice (requests, SimpleACK, ComplexACK, Error).
    pub service: Option<u8>,
    /// Confirmed request: max-segments-accepted code (0-7).
    pub max_segments: Option<u8>,
    /// Confirmed request: max-APDU-length-accepted code (0-15).
    pub max_apdu: Option<u8>,
    /// Segmented messages and SegmentACK: the sequence number.
    pub sequence_number: Option<u8>,
    /// Segmented messages: the proposed window size; SegmentACK: the actual window size.
    pub window_size: Option<u8>,
    /// Reject and Abort: the reason.
    pub reason: Option<u8>,
    /// The service request, ack or error octets (or this segment's part of them).
    pub data: &'a [u8],
}

impl Apdu<'_> {
    /// SEG: this confirmed request or ComplexACK is one segment of several.
    pub fn segmented(&self) -> bool {
        matches!(self.pdu_type.0, 0 | 3) && self.pdu_flags & 0x08 != 0
    }

    /// MOR: more segments follow.
    pub fn more_follows(&self) -> bool {
        matches!(self.pdu_type.0, 0 | 3) && self.pdu_flags & 0x04 != 0
    }

    /// SA: the requester accepts a segmented response.
    pub fn segmented_response_accepted(&self) -> bool {
        self.pdu_type.0 == 0 && self.pdu_flags & 0x02 != 0
    }

    /// SRV: the SegmentACK or Abort was sent by the server.
    pub fn from_server(&self) -> bool {
        matches!(self.pdu_type.0, 4 | 7) && self.pdu_flags & 0x01 != 0
    }

    /// NAK: a SegmentACK asking for a segment again.
    pub fn negative(&self) -> bool {
        self.pdu_type.0 == 4 && self.pdu_flags & 0x02 != 0
    }

    /// True for the APDUs a server sends in answer to a confirmed request.
    pub fn is_reply(&self) -> bool {
        matches!(self.pdu_type.0, 2 | 3 | 5 | 6) || (self.pdu_type.0 == 7 && self.from_server())
    }
}

/// What a BACnet/IP datagram carries after its BVLC header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// An application PDU.
    Apdu(Apdu<'a>),
    /// A network layer message (clause 6.4): its data after the NPDU header.
    Network(&'a [u8]),
    /// A BVLL message without an NPDU (result, table management, foreign
    /// device registration).
    Bvll,
    /// The NPDU or APDU header is cut short (what was read is kept).
    Truncated,
}

/// One BACnet/IP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The BVLC header.
    pub bvlc: Bvlc<'a>,
    /// The NPDU header, for functions that carry one.
    pub npdu: Option<Npdu<'a>>,
    /// What follows.
    pub body: Body<'a>,
    /// Findings.
    pub flags: Flags,
}

/// Why a datagram is not a BACnet/IP BVLL message at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BvlcError {
    /// Fewer than 4 octets.
    Incomplete,
    /// The first octet is not 0x81 (BACnet/IPv6 is 0x82).
    Type(u8),
}

impl<'a> Message<'a> {
    /// Reads one datagram. Only a missing or foreign BVLC header is an
    /// error: anything after it that breaks the standard is flagged and
    /// kept (a length that disagrees with the datagram, an NPDU version
    /// other than 1, reserved control bits, a truncated NPDU or APDU).
    pub fn parse(datagram: &'a [u8]) -> Result<Message<'a>, BvlcError> {
        let mut c = Cursor::new(datagram);
        let (Some(t), Some(f), Some(length)) = (c.u8(), c.u8(), c.u16()) else {
            return Err(BvlcError::Incomplete);
        };
        if t != BVLC_TYPE_IP {
            return Err(BvlcError::Type(t));
        }
        let mut flags = Flags::default();
        let len = usize::from(length);
        let end = if len > datagram.len() || len < BVLC_HEADER_LEN {
            flags.0 |= Flags::BVLC_LENGTH_MISMATCH;
            datagram.len()
        } else {
            if len < datagram.len() {
                flags.0 |= Flags::TRAILING_BYTES;
            }
            len
        };
        let mut c = Cursor::new(&datagram[BVLC_HEADER_LEN..end]);
        let function = BvlcFunction(f);
        let mut bvlc = Bvlc {
            function,
            length,
            original_source: None,
            result: None,
            ttl: None,
            entries: &[],
        };
        let mut truncated = false;
        match f {
            0x00 => {
                bvlc.result = c.u16().map(BvlcResultCode);
                truncated = bvlc.result.is_none();
            }
            0x01 | 0x03 | 0x07 => {
                bvlc.entries = c.take_rest();
                if bvlc.entries.len() % 10 != 0 {
                    flags.0 |= Flags::MALFORMED_TABLE;
                }
            }
            0x05 => {
                bvlc.ttl = c.u16();
                truncated = bvlc.ttl.is_none();
            }
            0x08 => {
                bvlc.entries = c.take_rest();
                truncated = bvlc.entries.len() < 6;
            }
            0x04 => match (c.bytes(4), c.u16()) {
                (Some(ip), Some(port)) => {
                    bvlc.original_source = Some((Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]), port))
                }
                _ => truncated = true,
            },
            _ => {}
        }
        if !function.carries_npdu() {
            if f > 0x0c {
                flags.0 |= Flags::UNKNOWN_BVLC_FUNCTION;
            }
            let body = if truncated {
                flags.0 |= Flags::TRUNCATED;
                Body::Truncated
            } else {
                Body::Bvll
            };
            return Ok(Message {
                bvlc,
                npdu: None,
                body,
                flags,
            });
        }
        if truncated {
            flags.0 |= Flags::TRUNCATED;
            return Ok(Message {
                bvlc,
                npdu: None,
                body: Body::Truncated,
                flags,
            });
        }
        let Some(npdu) = parse_npdu(&mut c, &mut flags) else {
            flags.0 |= Flags::TRUNCATED;
            return Ok(Message {
                bvlc,
                npdu: None,
                body: Body::Truncated,
                flags,
            });
        };
        let body = if npdu.is_network_message() {
            Body::Network(c.take_rest())
        } else {
            match parse_apdu(c.take_rest()) {
                Some(a) => {
                    if a.pdu_type.0 > 7 {
                        flags.0 |= Flags::RESERVED_PDU_TYPE;
                    }
                    Body::Apdu(a)
                }
                None => {
                    flags.0 |= Flags::TRUNCATED;
                    Body::Truncated
                }
            }
        };
        Ok(Message {
            bvlc,
            npdu: Some(npdu),
            body,
            flags,
        })
    }

    /// The APDU, if the datagram carries one.
    pub fn apdu(&self) -> Option<&Apdu<'a>> {
        match &self.body {
            Body::Apdu(a) => Some(a),
            _ => None,
        }
    }

    /// The message was relayed or routed: it carries a Forwarded-NPDU
    /// original source or an NPDU source network address, so the IP
    /// sender is a BBMD or router, not the device that wrote the APDU.
    pub fn relayed(&self) -> bool {
        self.bvlc.original_source.is_some() || self.npdu.is_some_and(|n| n.source.is_some())
    }
}

fn parse_npdu<'a>(c: &mut Cursor<'a>, flags: &mut Flags) -> Option<Npdu<'a>> {
    let version = c.u8()?;
    let control = c.u8()?;
    if version != 1 {
        flags.0 |= Flags::NPDU_VERSION;
    }
    if control & 0x50 != 0 {
        flags.0 |= Flags::RESERVED_CONTROL_BITS;
    }
    let mut n = Npdu {
        version,
        control,
        destination: None,
        source: None,
        hop_count: None,
        message_type: None,
        vendor_id: None,
    };
    if control & 0x20 != 0 {
        let net = c.u16()?;
        let len = c.u8()?;
        n.destination = Some((net, c.bytes(usize::from(len))?));
    }
    if control & 0x08 != 0 {
        let net = c.u16()?;
        let len = c.u8()?;
        if len == 0 {
            flags.0 |= Flags::INVALID_SOURCE_ADDRESS;
        }
        n.source = Some((net, c.bytes(usize::from(len))?));
    }
    if n.destination.is_some() {
        n.hop_count = Some(c.u8()?);
    }
    if control & 0x80 != 0 {
        let t = NetworkMessageType(c.u8()?);
        n.message_type = Some(t);
        if t.0 >= 0x80 {
            n.vendor_id = Some(c.u16()?);
        }
    }
    Some(n)
}

/// Reads an APDU header (clause 20.1.2 to 20.1.9); `None` when `b` is too
/// short for its type's fixed fields.
pub fn parse_apdu(b: &[u8]) -> Option<Apdu<'_>> {
    let mut c = Cursor::new(b);
    let first = c.u8()?;
    let pdu_type = PduType(first >> 4);
    let pdu_flags = first & 0x0f;
    let mut a = Apdu {
        pdu_type,
        pdu_flags,
        invoke_id: None,
        service: None,
        max_segments: None,
        max_apdu: None,
        sequence_number: None,
        window_size: None,
        reason: None,
        data: &[],
    };
    match pdu_type.0 {
        0 => {
            let m = c.u8()?;
            a.max_segments = Some((m >> 4) & 0x07);
            a.max_apdu = Some(m & 0x0f);
            a.invoke_id = Some(c.u8()?);
            if pdu_flags & 0x08 != 0 {
                a.sequence_number = Some(c.u8()?);
                a.window_size = Some(c.u8()?);
            }
            a.service = Some(c.u8()?);
        }
        1 => a.service = Some(c.u8()?),
        2 | 5 => {
            a.invoke_id = Some(c.u8()?);
            a.service = Some(c.u8()?);
        }
        3 => {
            a.invoke_id = Some(c.u8()?);
            if pdu_flags & 0x08 != 0 {
                a.sequence_number = Some(c.u8()?);
                a.window_size = Some(c.u8()?);
            }
            a.service = Some(c.u8()?);
        }
        4 => {
            a.invoke_id = Some(c.u8()?);
            a.sequence_number = Some(c.u8()?);
            a.window_size = Some(c.u8()?);
        }
        6 | 7 => {
            a.invoke_id = Some(c.u8()?);
            a.reason = Some(c.u8()?);
        }
        _ => {}
    }
    a.data = c.take_rest();
    Some(a)
}
