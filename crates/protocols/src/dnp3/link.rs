//! The data link layer frame (IEEE 1815-2012 §9.2).
//!
//! A frame is a 10-octet header (start octets 0x05 0x64, length, control,
//! destination, source, header CRC) followed by the user data in blocks of
//! 16 octets, each followed by its own CRC; the last block holds the
//! remaining 1 to 16 octets. The length counts control, addresses and user
//! data (5 to 255), never the CRCs.

use super::crc;
use crate::cursor::Cursor;

/// The two start octets of every frame (§9.2.4.1.1).
pub const START: [u8; 2] = [0x05, 0x64];
/// Octets of the header, its CRC included.
pub const HEADER_LEN: usize = 10;
/// Smallest length field: control and both addresses, no user data.
pub const MIN_LENGTH: u8 = 5;
/// User data octets per CRC block (§9.2.4.2).
pub const BLOCK_LEN: usize = 16;
/// Largest user data of one frame: 255 - 5.
pub const MAX_USER_DATA: usize = 250;
/// Largest frame: header, 250 octets of user data and 16 block CRCs.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_USER_DATA + 2 * MAX_USER_DATA.div_ceil(BLOCK_LEN);

/// Destination addresses 0xFFFD..=0xFFFF are broadcasts (§9.2.5); no
/// outstation answers them.
pub fn is_broadcast(address: u16) -> bool {
    address >= 0xFFFD
}

/// The link control octet (§9.2.4.1.3): DIR, PRM, FCB/FCV or DFC, and the
/// function code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct LinkControl(pub u8);

impl LinkControl {
    /// DIR: set on frames from a master station.
    pub fn dir(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// PRM: set on primary (initiating) frames, clear on secondary replies.
    pub fn prm(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// FCB (primary frames): the frame count bit that detects lost or
    /// repeated confirmed frames.
    pub fn fcb(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// FCV (primary frames): whether FCB is to be checked.
    pub fn fcv(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// DFC (secondary frames): data flow control, the receiver's buffers are full.
    pub fn dfc(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// The function code, with its meaning set by PRM.
    pub fn function(self) -> LinkFunction {
        LinkFunction {
            primary: self.prm(),
            code: self.0 & 0x0f,
        }
    }
}

/// A link function code: primary codes (Table 9-1) or secondary codes
/// (Table 9-2), told apart by the PRM bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkFunction {
    /// From a primary frame.
    pub primary: bool,
    /// The four-bit code.
    pub code: u8,
}

#[allow(missing_docs)]
impl LinkFunction {
    pub const RESET_LINK_STATES: LinkFunction = LinkFunction::primary(0);
    pub const TEST_LINK_STATES: LinkFunction = LinkFunction::primary(2);
    pub const CONFIRMED_USER_DATA: LinkFunction = LinkFunction::primary(3);
    pub const UNCONFIRMED_USER_DATA: LinkFunction = LinkFunction::primary(4);
    pub const REQUEST_LINK_STATUS: LinkFunction = LinkFunction::primary(9);
    pub const ACK: LinkFunction = LinkFunction::secondary(0);
    pub const NACK: LinkFunction = LinkFunction::secondary(1);
    pub const LINK_STATUS: LinkFunction = LinkFunction::secondary(11);
    pub const NOT_SUPPORTED: LinkFunction = LinkFunction::secondary(15);

    const fn primary(code: u8) -> Self {
        LinkFunction {
            primary: true,
            code,
        }
    }
    const fn secondary(code: u8) -> Self {
        LinkFunction {
            primary: false,
            code,
        }
    }

    /// snake_case name from Tables 9-1 and 9-2; codes the standard does
    /// not use are `reserved` (1, reset of user process, is obsolete).
    pub fn name(self) -> &'static str {
        match (self.primary, self.code) {
            (true, 0) => "reset_link_states",
            (true, 2) => "test_link_states",
            (true, 3) => "confirmed_user_data",
            (true, 4) => "unconfirmed_user_data",
            (true, 9) => "request_link_status",
            (false, 0) => "ack",
            (false, 1) => "nack",
            (false, 11) => "link_status",
            (false, 15) => "not_supported",
            _ => "reserved",
        }
    }

    /// Frames of this function carry user data (a transport segment).
    pub fn carries_user_data(self) -> bool {
        self == Self::CONFIRMED_USER_DATA || self == Self::UNCONFIRMED_USER_DATA
    }
}

/// A validated link header (§9.2.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkHeader {
    /// Octets of control, destination, source and user data (5..=255).
    pub length: u8,
    /// The control octet.
    pub control: LinkControl,
    /// Destination address (little-endian on the wire).
    pub destination: u16,
    /// Source address.
    pub source: u16,
}

/// Why bytes are not a usable link frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Fewer bytes than the header or the frame needs.
    Incomplete,
    /// The first two octets are not 0x05 0x64.
    StartOctets,
    /// Length below 5.
    Length(u8),
    /// The header CRC does not match.
    HeaderCrc,
    /// The CRC of user data block `block` (0-based) does not match.
    BlockCrc(usize),
}

impl LinkHeader {
    /// Reads and validates the header (start octets, length, CRC) at the
    /// start of `b`.
    pub fn parse(b: &[u8]) -> Result<LinkHeader, LinkError> {
        let mut c = Cursor::new(b);
        match c.bytes(2) {
            Some(s) if s == START => {}
            Some(_) => return Err(LinkError::StartOctets),
            None => {
                return Err(match b.first() {
                    Some(&x) if x != START[0] => LinkError::StartOctets,
                    _ => LinkError::Incomplete,
                })
            }
        }
        let (Some(length), Some(control), Some(destination), Some(source), Some(crc_octets)) =
            (c.u8(), c.u8(), c.u16_le(), c.u16_le(), c.bytes(2))
        else {
            return Err(LinkError::Incomplete);
        };
        if length < MIN_LENGTH {
            return Err(LinkError::Length(length));
        }
        if !crc::check(&b[..HEADER_LEN - 2], crc_octets) {
            return Err(LinkError::HeaderCrc);
        }
        Ok(LinkHeader {
            length,
            control: LinkControl(control),
            destination,
            source,
        })
    }

    /// Octets of user data (0..=250).
    pub fn user_data_len(&self) -> usize {
        usize::from(self.length - MIN_LENGTH)
    }

    /// Octets of the whole frame, CRCs included.
    pub fn frame_len(&self) -> usize {
        let n = self.user_data_len();
        HEADER_LEN + n + 2 * n.div_ceil(BLOCK_LEN)
    }

    /// Writes the header with its CRC (for crafting).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&START);
        out.push(self.length);
        out.push(self.control.0);
        out.extend_from_slice(&self.destination.to_le_bytes());
        out.extend_from_slice(&self.source.to_le_bytes());
        let c = crc::crc(&out[start..]);
        out.extend_from_slice(&c.to_le_bytes());
    }
}

/// One whole frame, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The validated header.
    pub header: LinkHeader,
    /// The user data blocks with their CRCs (not yet checked).
    blocks: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Reads the frame at the start of `b`: the header is validated, the
    /// user data blocks are only delimited (see [`Frame::user_data`]).
    /// Returns the frame and its length in `b`.
    pub fn parse(b: &'a [u8]) -> Result<(Frame<'a>, usize), LinkError> {
        let header = LinkHeader::parse(b)?;
        let len = header.frame_len();
        let blocks = b.get(HEADER_LEN..len).ok_or(LinkError::Incomplete)?;
        Ok((Frame { header, blocks }, len))
    }

    /// Checks every block CRC and copies the user data into `out`
    /// (contiguous, without CRCs); returns the number of octets copied.
    /// The data are copied because the CRCs interleave them on the wire.
    pub fn user_data(&self, out: &mut [u8; MAX_USER_DATA]) -> Result<usize, LinkError> {
        let mut n = 0;
        for (i, chunk) in self.blocks.chunks(BLOCK_LEN + 2).enumerate() {
            let Some(split) = chunk.len().checked_sub(2) else {
                return Err(LinkError::BlockCrc(i));
            };
            let (data, crc_octets) = chunk.split_at(split);
            if !crc::check(data, crc_octets) {
                return Err(LinkError::BlockCrc(i));
            }
            let dst = out
                .get_mut(n..n + data.len())
                .ok_or(LinkError::Incomplete)?;
            dst.copy_from_slice(data);
            n += data.len();
        }
        Ok(n)
    }
}

/// Builds a whole frame around `user_data` (for crafting and tests).
///
/// `user_data` longer than 250 octets is cut to 250.
pub fn build_frame(
    control: LinkControl,
    destination: u16,
    source: u16,
    user_data: &[u8],
) -> Vec<u8> {
    let data = &user_data[..user_data.len().min(MAX_USER_DATA)];
    let mut out = Vec::with_capacity(MAX_FRAME_LEN);
    LinkHeader {
        length: MIN_LENGTH + data.len() as u8,
        control,
        destination,
        source,
    }
    .emit(&mut out);
    for block in data.chunks(BLOCK_LEN) {
        out.extend_from_slice(block);
        out.extend_from_slice(&crc::crc(block).to_le_bytes());
    }
    out
}
