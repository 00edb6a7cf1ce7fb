//! Classic libpcap format (the tcpdump.org "pcap savefile" layout).
//!
//! Global header (24 bytes): magic, version major/minor, thiszone, sigfigs,
//! snaplen, network (link type in the low 16 bits; the upper bits carry FCS
//! information we do not need). Record header (16 bytes): ts_sec, ts_frac,
//! incl_len, orig_len.

use crate::{CaptureError, Format, LinkType, MAX_RECORD_LEN};

pub(crate) const GLOBAL_HEADER_LEN: usize = 24;
pub(crate) const RECORD_HEADER_LEN: usize = 16;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;

#[derive(Clone, Copy, Debug)]
pub(crate) struct PcapState {
    pub(crate) link_type: LinkType,
    big_endian: bool,
    nanosecond: bool,
}

pub(crate) struct RecordHeader {
    pub(crate) ts_ns: i64,
    pub(crate) incl_len: usize,
    pub(crate) orig_len: u32,
}

impl PcapState {
    pub(crate) fn from_header(head: &[u8]) -> Result<(PcapState, Format), CaptureError> {
        if head.len() < GLOBAL_HEADER_LEN {
            let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            if known_magic(magic) || known_magic(magic.swap_bytes()) {
                return Err(CaptureError::ShortHeader { have: head.len() });
            }
            return Err(CaptureError::UnknownFormat { magic });
        }
        let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let (magic, big_endian) = if known_magic(be) {
            (be, true)
        } else if known_magic(le) {
            (le, false)
        } else {
            return Err(CaptureError::UnknownFormat { magic: be });
        };
        let network = read_u32(&head[20..24], big_endian);
        let state = PcapState {
            link_type: LinkType((network & 0xffff) as u16),
            big_endian,
            nanosecond: magic == MAGIC_NS,
        };
        Ok((
            state,
            Format::Pcap {
                nanosecond: state.nanosecond,
                big_endian,
            },
        ))
    }

    /// Parses a record header from the first 16 bytes of `b`.
    pub(crate) fn record_header(
        &self,
        b: &[u8],
        offset: u64,
    ) -> Result<RecordHeader, CaptureError> {
        let hdr = self.parse(header(b).expect("a whole record header"));
        if hdr.incl_len > MAX_RECORD_LEN {
            return Err(CaptureError::Malformed {
                offset,
                reason: "record length exceeds 256 KiB",
            });
        }
        Ok(hdr)
    }

    /// The header of the record `b` starts with, when `b` holds the whole
    /// record and its length is within the cap; otherwise `None`, and
    /// [`PcapState::record_header`] with a refill decides.
    #[inline]
    pub(crate) fn whole_record(&self, b: &[u8]) -> Option<RecordHeader> {
        let hdr = self.parse(header(b)?);
        (hdr.incl_len <= MAX_RECORD_LEN && RECORD_HEADER_LEN + hdr.incl_len <= b.len())
            .then_some(hdr)
    }

    /// The captured length of the record whose header is `h`.
    #[inline]
    pub(crate) fn incl_len(&self, h: &[u8; RECORD_HEADER_LEN]) -> usize {
        self.words(h)[2] as usize
    }

    /// The four 32-bit fields of a record header: one 16-byte load, the
    /// byte order decided once.
    #[inline]
    fn words(&self, h: &[u8; RECORD_HEADER_LEN]) -> [u32; 4] {
        let w = u128::from_le_bytes(*h);
        let le = [
            w as u32,
            (w >> 32) as u32,
            (w >> 64) as u32,
            (w >> 96) as u32,
        ];
        if self.big_endian {
            le.map(u32::swap_bytes)
        } else {
            le
        }
    }

    /// The fields of a record header.
    #[inline]
    fn parse(&self, h: &[u8; RECORD_HEADER_LEN]) -> RecordHeader {
        let [sec, frac, incl, orig] = self.words(h);
        let (sec, frac, incl) = (i64::from(sec), i64::from(frac), incl as usize);
        let ts_ns = if self.nanosecond {
            sec * 1_000_000_000 + frac
        } else {
            sec * 1_000_000_000 + frac * 1_000
        };
        RecordHeader {
            ts_ns,
            incl_len: incl,
            orig_len: orig,
        }
    }
}

/// The record header `b` starts with, when it holds one.
#[inline]
pub(crate) fn header(b: &[u8]) -> Option<&[u8; RECORD_HEADER_LEN]> {
    b.get(..RECORD_HEADER_LEN)?.try_into().ok()
}

fn known_magic(m: u32) -> bool {
    m == MAGIC_US || m == MAGIC_NS
}

pub(crate) fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

pub(crate) fn read_u16(b: &[u8], big_endian: bool) -> u16 {
    let a = [b[0], b[1]];
    if big_endian {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}
