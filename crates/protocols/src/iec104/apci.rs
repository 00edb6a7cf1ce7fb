//! The application protocol control information: start byte, APDU length
//! and the four control octets (IEC 60870-5-104 §5).

use super::types::UFunction;
use crate::cursor::Cursor;

/// Start byte of every APDU (104 §5, Figure 6).
pub const START: u8 = 0x68;
/// Smallest APDU length: the four control octets alone (S- and U-format).
pub const MIN_APDU_LENGTH: u8 = 4;
/// Largest APDU length (104 §5: at most 253 octets follow the length).
pub const MAX_APDU_LENGTH: u8 = 253;
/// Largest APDU on the wire: start byte, length octet and 253 octets.
pub const MAX_APDU_LEN: usize = 2 + MAX_APDU_LENGTH as usize;
/// Largest ASDU: the APDU length less the control field.
pub const MAX_ASDU_LEN: usize = (MAX_APDU_LENGTH - MIN_APDU_LENGTH) as usize;
/// Sequence numbers count modulo 32768 (104 §5.1).
pub const SEQUENCE_MODULUS: u16 = 0x8000;

/// The three frame formats, told apart by the low bits of control octet 1
/// (104 §5.1-§5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Numbered information transfer: carries an ASDU.
    I {
        /// N(S): the sender's send sequence number.
        send: u16,
        /// N(R): the next N(S) the sender expects (acknowledges all below).
        receive: u16,
    },
    /// Numbered supervisory function: an acknowledgement.
    S {
        /// N(R).
        receive: u16,
    },
    /// Unnumbered control function: STARTDT, STOPDT, TESTFR.
    U(UFunction),
}

impl Control {
    /// Decodes the four control octets.
    pub fn parse(c: [u8; 4]) -> Control {
        let n = |lo: u8, hi: u8| (u16::from(hi) << 7) | u16::from(lo >> 1);
        if c[0] & 1 == 0 {
            Control::I {
                send: n(c[0], c[1]),
                receive: n(c[2], c[3]),
            }
        } else if c[0] & 3 == 1 {
            Control::S {
                receive: n(c[2], c[3]),
            }
        } else {
            Control::U(UFunction(c[0] >> 2))
        }
    }

    /// The format letter (`i`, `s`, `u`).
    pub fn format(self) -> &'static str {
        match self {
            Control::I { .. } => "i",
            Control::S { .. } => "s",
            Control::U(_) => "u",
        }
    }

    /// Writes the four octets (for crafting).
    pub fn emit(self, out: &mut Vec<u8>) {
        let n = |v: u16| [((v & 0x7f) << 1) as u8, (v >> 7) as u8];
        match self {
            Control::I { send, receive } => {
                out.extend_from_slice(&n(send));
                out.extend_from_slice(&n(receive));
            }
            Control::S { receive } => {
                out.extend_from_slice(&[1, 0]);
                out.extend_from_slice(&n(receive));
            }
            Control::U(f) => out.extend_from_slice(&[(f.0 << 2) | 3, 0, 0, 0]),
        }
    }
}

/// What the APCI breaks but was kept (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApciFlags(pub u8);

crate::flag_set!(ApciFlags, u8);

impl ApciFlags {
    /// Bits the control field must leave 0 are set: octet 3 bit 1 of I-
    /// and S-format, octet 1 bits 3-8 and octet 2 of S-format, octets 2-4
    /// of U-format (104 §5.1-§5.3).
    pub const RESERVED_CONTROL_BITS: u8 = 1 << 0;
    /// An S- or U-format APDU longer than its control field, or an
    /// I-format APDU without an ASDU.
    pub const LENGTH_MISMATCH: u8 = 1 << 1;
    /// A U-format frame with no function bit or more than one.
    pub const INVALID_U_FUNCTION: u8 = 1 << 2;

    const NAMES: [(u8, &'static str); 3] = [
        (Self::RESERVED_CONTROL_BITS, "reserved_control_bits"),
        (Self::LENGTH_MISMATCH, "apdu_length_mismatch"),
        (Self::INVALID_U_FUNCTION, "invalid_u_function"),
    ];
}

/// One APDU: control field and the ASDU it carries (I-format only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Apdu<'a> {
    /// The length octet: control field plus ASDU.
    pub length: u8,
    /// The decoded control field.
    pub control: Control,
    /// The raw control octets.
    pub control_octets: [u8; 4],
    /// The ASDU (empty for S and U, and for a malformed I-format frame).
    pub asdu: &'a [u8],
    /// Findings.
    pub flags: ApciFlags,
}

/// Why bytes do not start an APDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApciError {
    /// Fewer bytes than the header or its announced length.
    Incomplete,
    /// The first byte is not 0x68.
    StartByte(u8),
    /// The length octet is outside 4..=253.
    Length(u8),
}

/// Reads the two header octets at the start of `b`; returns the whole
/// APDU's size (2 + length) when they are valid.
pub fn apdu_size(b: &[u8]) -> Result<usize, ApciError> {
    let mut c = Cursor::new(b);
    match c.u8() {
        None => return Err(ApciError::Incomplete),
        Some(START) => {}
        Some(x) => return Err(ApciError::StartByte(x)),
    }
    match c.u8() {
        None => Err(ApciError::Incomplete),
        Some(l) if (MIN_APDU_LENGTH..=MAX_APDU_LENGTH).contains(&l) => Ok(2 + usize::from(l)),
        Some(l) => Err(ApciError::Length(l)),
    }
}

/// Parses the APDU at the start of `b` (bytes after it are ignored).
pub fn parse_apdu(b: &[u8]) -> Result<Apdu<'_>, ApciError> {
    let size = apdu_size(b)?;
    let mut c = Cursor::new(b);
    let (Some(_), Some(length), Some(ctl)) = (c.u8(), c.u8(), c.bytes(4)) else {
        return Err(ApciError::Incomplete);
    };
    let octets = [ctl[0], ctl[1], ctl[2], ctl[3]];
    let Some(asdu) = c.bytes(size - 6) else {
        return Err(ApciError::Incomplete);
    };
    let control = Control::parse(octets);
    let mut flags = 0;
    match control {
        Control::I { .. } => {
            if octets[2] & 1 != 0 {
                flags |= ApciFlags::RESERVED_CONTROL_BITS;
            }
            if asdu.is_empty() {
                flags |= ApciFlags::LENGTH_MISMATCH;
            }
        }
        Control::S { .. } => {
            if octets[0] != 1 || octets[1] != 0 || octets[2] & 1 != 0 {
                flags |= ApciFlags::RESERVED_CONTROL_BITS;
            }
            if !asdu.is_empty() {
                flags |= ApciFlags::LENGTH_MISMATCH;
            }
        }
        Control::U(f) => {
            if octets[1..] != [0, 0, 0] {
                flags |= ApciFlags::RESERVED_CONTROL_BITS;
            }
            if !asdu.is_empty() {
                flags |= ApciFlags::LENGTH_MISMATCH;
            }
            if f.procedure().is_none() {
                flags |= ApciFlags::INVALID_U_FUNCTION;
            }
        }
    }
    Ok(Apdu {
        length,
        control,
        control_octets: octets,
        // S and U frames carry no ASDU, whatever their length says.
        asdu: if matches!(control, Control::I { .. }) {
            asdu
        } else {
            &[]
        },
        flags: ApciFlags(flags),
    })
}

/// Writes an APDU (for crafting): start, length, control, ASDU.
pub fn emit_apdu(control: Control, asdu: &[u8], out: &mut Vec<u8>) {
    out.push(START);
    out.push((4 + asdu.len()).min(255) as u8);
    control.emit(out);
    out.extend_from_slice(asdu);
}
