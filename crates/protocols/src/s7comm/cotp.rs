//! ISO transport over TCP: TPKT (RFC 1006 §6) and the COTP TPDUs of ISO
//! 8073 / X.224 class 0 that S7 connections use.

use crate::cursor::Cursor;

/// TPKT header length (RFC 1006 §6).
pub const TPKT_LEN: usize = 4;
/// The only TPKT version (RFC 1006 §6).
pub const TPKT_VERSION: u8 = 3;
/// Smallest TPKT we accept: the header plus a class 0 DT TPDU header
/// (length indicator, code, EOT/number).
pub const MIN_TPKT_LEN: u16 = 7;

/// A TPKT header (RFC 1006 §6): version 3, reserved, length of the whole
/// packet including this header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tpkt {
    /// Always 3.
    pub version: u8,
    /// Zero by RFC 1006; kept to flag senders that set it.
    pub reserved: u8,
    /// Octets in the packet, header included.
    pub length: u16,
}

/// Why bytes are not a TPKT header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TpktError {
    /// Fewer than 4 bytes.
    Incomplete,
    /// Version other than 3.
    Version(u8),
    /// Length below the smallest TPDU.
    Length(u16),
}

impl Tpkt {
    /// Reads and validates the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Tpkt, TpktError> {
        let mut c = Cursor::new(b);
        let (Some(version), Some(reserved), Some(length)) = (c.u8(), c.u8(), c.u16()) else {
            return Err(TpktError::Incomplete);
        };
        if version != TPKT_VERSION {
            return Err(TpktError::Version(version));
        }
        if length < MIN_TPKT_LEN {
            return Err(TpktError::Length(length));
        }
        Ok(Tpkt {
            version,
            reserved,
            length,
        })
    }
}

/// A COTP TPDU code (ISO 8073 §13.1, table 8; the low nibble of CR and CC
/// is the credit and is masked off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TpduCode(pub u8);

#[allow(missing_docs)]
impl TpduCode {
    pub const CR: TpduCode = TpduCode(0xe0);
    pub const CC: TpduCode = TpduCode(0xd0);
    pub const DR: TpduCode = TpduCode(0x80);
    pub const DC: TpduCode = TpduCode(0xc0);
    pub const DT: TpduCode = TpduCode(0xf0);
    pub const ED: TpduCode = TpduCode(0x10);
    pub const AK: TpduCode = TpduCode(0x60);
    pub const EA: TpduCode = TpduCode(0x20);
    pub const RJ: TpduCode = TpduCode(0x50);
    pub const ER: TpduCode = TpduCode(0x70);

    /// The code of a TPDU's second octet.
    pub fn of(b: u8) -> TpduCode {
        match b & 0xf0 {
            0xe0 | 0xd0 | 0x60 | 0x50 => TpduCode(b & 0xf0),
            _ => TpduCode(b),
        }
    }

    /// Is this a TPDU type ISO 8073 defines?
    pub fn is_known(self) -> bool {
        matches!(
            self.0,
            0xe0 | 0xd0 | 0x80 | 0xc0 | 0xf0 | 0x10 | 0x60 | 0x20 | 0x50 | 0x70
        )
    }

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0xe0 => "connection_request",
            0xd0 => "connection_confirm",
            0x80 => "disconnect_request",
            0xc0 => "disconnect_confirm",
            0xf0 => "data",
            0x10 => "expedited_data",
            0x60 => "data_acknowledgement",
            0x20 => "expedited_data_acknowledgement",
            0x50 => "reject",
            0x70 => "tpdu_error",
            _ => "unknown",
        }
    }
}

/// A transport selector (ISO 8073 §13.3.4 b, parameters 0xC1 calling and
/// 0xC2 called).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tsap<'a>(pub &'a [u8]);

impl Tsap<'_> {
    /// For S7 TSAPs (two bytes, first 0x01 programming device, 0x02
    /// operator panel, 0x03 other S7 connection), the rack and slot the
    /// connection addresses: the second byte is rack * 32 + slot.
    pub fn rack_slot(self) -> Option<(u8, u8)> {
        match self.0 {
            [1..=3, rs] => Some((rs >> 5, rs & 0x1f)),
            _ => None,
        }
    }

    /// The S7 connection resource of a two-byte TSAP.
    pub fn connection_type(self) -> Option<&'static str> {
        match self.0 {
            [1, _] => Some("pg"),
            [2, _] => Some("op"),
            [3, _] => Some("s7_basic"),
            _ => None,
        }
    }

    /// S7-1200/1500 and other stacks use ASCII selectors
    /// (`SIMATIC-ROOT-ES`): true when every byte is printable.
    pub fn is_text(self) -> bool {
        self.0.len() > 2 && self.0.iter().all(|b| (0x20..0x7f).contains(b))
    }
}

/// The fixed and variable parts of a CR or CC TPDU (ISO 8073 §13.3, §13.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection<'a> {
    /// Reference chosen by the peer that receives this TPDU (0 in a CR).
    pub dst_ref: u16,
    /// Reference chosen by the sender.
    pub src_ref: u16,
    /// Protocol class (high nibble) and options (low nibble).
    pub class_option: u8,
    /// Calling transport selector (parameter 0xC1).
    pub calling_tsap: Option<Tsap<'a>>,
    /// Called transport selector (parameter 0xC2).
    pub called_tsap: Option<Tsap<'a>>,
    /// Proposed maximum TPDU size as a power of two (parameter 0xC0).
    pub tpdu_size: Option<u8>,
}

/// One COTP TPDU, borrowed from the TPKT payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tpdu<'a> {
    /// CR: a connection request.
    ConnectionRequest(Connection<'a>),
    /// CC: the connection is accepted.
    ConnectionConfirm(Connection<'a>),
    /// DR: disconnect (or refusal of a CR), with its reason (§13.5.3 e).
    DisconnectRequest {
        /// Reference of the receiving side.
        dst_ref: u16,
        /// Reference of the sender.
        src_ref: u16,
        /// Why.
        reason: u8,
    },
    /// DC: the disconnection is confirmed.
    DisconnectConfirm {
        /// Reference of the receiving side.
        dst_ref: u16,
        /// Reference of the sender.
        src_ref: u16,
    },
    /// DT: user data; `eot` marks the last TPDU of a transport service
    /// data unit (§13.7.3 c).
    Data {
        /// Last data unit.
        eot: bool,
        /// Send sequence number (7 bits in normal format).
        tpdu_number: u8,
        /// The user data.
        payload: &'a [u8],
    },
    /// ER: the peer received an invalid TPDU (§13.12), with its cause.
    Error {
        /// Reference of the receiving side.
        dst_ref: u16,
        /// Reject cause.
        cause: u8,
    },
    /// Any other TPDU (not used by class 0).
    Other {
        /// The TPDU code.
        code: TpduCode,
    },
}

/// Why a TPKT payload is not a valid TPDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CotpError {
    /// Empty payload.
    Empty,
    /// The length indicator exceeds the payload or is too small for the
    /// TPDU's fixed part.
    LengthIndicator(u8),
    /// A TPDU code ISO 8073 does not define.
    UnknownCode(u8),
}

/// Parses one TPDU from a TPKT payload (everything after the 4-byte TPKT
/// header).
pub fn parse_tpdu(b: &[u8]) -> Result<Tpdu<'_>, CotpError> {
    let mut c = Cursor::new(b);
    let li = c.u8().ok_or(CotpError::Empty)?;
    // The header is LI octets after the LI octet itself (§13.2.1).
    let header = c
        .bytes(usize::from(li))
        .ok_or(CotpError::LengthIndicator(li))?;
    let payload = c.rest();
    let mut h = Cursor::new(header);
    let first = h.u8().ok_or(CotpError::LengthIndicator(li))?;
    let code = TpduCode::of(first);
    let bad_li = CotpError::LengthIndicator(li);
    match code {
        TpduCode::CR | TpduCode::CC => {
            let (Some(dst_ref), Some(src_ref), Some(class_option)) = (h.u16(), h.u16(), h.u8())
            else {
                return Err(bad_li);
            };
            let mut conn = Connection {
                dst_ref,
                src_ref,
                class_option,
                calling_tsap: None,
                called_tsap: None,
                tpdu_size: None,
            };
            // Variable part: parameters of code, length and value (§13.2.3).
            while h.remaining() >= 2 {
                let (Some(pc), Some(pl)) = (h.u8(), h.u8()) else {
                    break;
                };
                let Some(v) = h.bytes(usize::from(pl)) else {
                    break;
                };
                match pc {
                    0xc0 => conn.tpdu_size = v.first().copied(),
                    0xc1 => conn.calling_tsap = Some(Tsap(v)),
                    0xc2 => conn.called_tsap = Some(Tsap(v)),
                    _ => {}
                }
            }
            Ok(if code == TpduCode::CR {
                Tpdu::ConnectionRequest(conn)
            } else {
                Tpdu::ConnectionConfirm(conn)
            })
        }
        TpduCode::DR => {
            let (Some(dst_ref), Some(src_ref), Some(reason)) = (h.u16(), h.u16(), h.u8()) else {
                return Err(bad_li);
            };
            Ok(Tpdu::DisconnectRequest {
                dst_ref,
                src_ref,
                reason,
            })
        }
        TpduCode::DC => {
            let (Some(dst_ref), Some(src_ref)) = (h.u16(), h.u16()) else {
                return Err(bad_li);
            };
            Ok(Tpdu::DisconnectConfirm { dst_ref, src_ref })
        }
        TpduCode::DT => {
            // Class 0 and 1 use the normal format: one octet of EOT and
            // TPDU number (§13.7.3); classes 2-4 add a destination reference
            // before it, which an LI of 4 (or 7 extended) shows.
            let nr = if li >= 4 {
                h.u16();
                h.u8()
            } else {
                h.u8()
            }
            .ok_or(bad_li)?;
            Ok(Tpdu::Data {
                eot: nr & 0x80 != 0,
                tpdu_number: nr & 0x7f,
                payload,
            })
        }
        TpduCode::ER => {
            let (Some(dst_ref), Some(cause)) = (h.u16(), h.u8()) else {
                return Err(bad_li);
            };
            Ok(Tpdu::Error { dst_ref, cause })
        }
        c if c.is_known() => Ok(Tpdu::Other { code: c }),
        _ => Err(CotpError::UnknownCode(first)),
    }
}

/// Name of a DR reason (ISO 8073 §13.5.3 e).
pub fn disconnect_reason_name(reason: u8) -> &'static str {
    match reason {
        0 => "not_specified",
        1 => "congestion_at_tsap",
        2 => "session_entity_not_attached",
        3 => "address_unknown",
        128 => "normal",
        129 => "remote_congestion",
        130 => "negotiation_failed",
        131 => "duplicate_source_reference",
        132 => "mismatched_references",
        133 => "protocol_error",
        135 => "reference_overflow",
        136 => "refused",
        138 => "invalid_length",
        _ => "unknown",
    }
}

/// Name of an ER reject cause (ISO 8073 §13.12.3 c).
pub fn reject_cause_name(cause: u8) -> &'static str {
    match cause {
        0 => "not_specified",
        1 => "invalid_parameter_code",
        2 => "invalid_tpdu_type",
        3 => "invalid_parameter_value",
        _ => "unknown",
    }
}
