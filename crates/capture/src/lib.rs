//! Streaming reader for packet capture files.
//!
//! Reads classic pcap (microsecond and nanosecond resolution, either byte
//! order) and pcapng (section header, interface description, enhanced,
//! simple and obsolete packet blocks; several sections and interfaces, each
//! interface with its own link type and timestamp resolution). The format is
//! found from the magic number, never from the file name.
//!
//! Design choices:
//! - **Zero-copy, bounded.** Records are returned as slices into one internal
//!   buffer that is refilled in large reads. The buffer only grows to hold
//!   the largest record, and record sizes are capped ([`MAX_RECORD_LEN`],
//!   [`MAX_BLOCK_LEN`]), so a hostile length field cannot make us allocate
//!   more than a few megabytes.
//! - **Lending iterator.** [`CaptureReader::next_packet`] borrows the reader,
//!   so a packet must be processed before the next one is read. That is the
//!   sensor's model anyway and it saves a copy per packet.
//! - **Truncation is not fatal.** A capture cut in the middle of its last
//!   record (a full disk, a killed tcpdump) yields every complete record and
//!   then one [`CaptureError::Truncated`], after which the reader is done.

#![forbid(unsafe_code)]

mod pcap;
mod pcapng;
mod writer;

use std::io::Read;

pub use writer::PcapWriter;

/// Largest classic-pcap record we accept (libpcap's own ceiling is 256 KiB).
pub const MAX_RECORD_LEN: usize = 256 * 1024;
/// Largest pcapng block we accept. Jumbo frames and big option lists fit well within it.
pub const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;
/// Most interfaces a pcapng section may declare before we call it hostile.
pub const MAX_INTERFACES: usize = 1024;
/// Bytes asked of the source per read. Small enough that a chunk the
/// kernel just copied in is still in the core's L2 cache when the records
/// in it are decoded (a 1 MiB chunk was evicted by the per-flow state
/// first); records larger than this grow the buffer.
const READ_CHUNK: usize = 128 * 1024;
/// Earliest [`Packet::ts_ns`]: -2^62 ns, in the year 1823.
pub const MIN_TS_NS: i64 = -(1 << 62);
/// Latest [`Packet::ts_ns`]: 2^62 - 1 ns, in the year 2116. Every classic
/// pcap time lies between the two bounds; pcapng times (64-bit counts in
/// any resolution, plus any offset) are clamped to them, so that the
/// difference of any two packet times fits in an `i64`.
pub const MAX_TS_NS: i64 = (1 << 62) - 1;

/// A LINKTYPE_ value (tcpdump.org/linktypes.html): what the first byte of a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in host byte order.
    pub const NULL: LinkType = LinkType(0);
    /// IEEE 802.3 Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (OpenBSD value 12 and the common 101).
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP, version from the first nibble.
    pub const RAW: LinkType = LinkType(101);
    /// IEEE 802.11 without radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback: like NULL but the family is big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// IEEE 802.11 with a radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// BACnet MS/TP serial frames.
    pub const BACNET_MS_TP: LinkType = LinkType(165);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The conventional name, for reports.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            12 | 101 => "RAW",
            105 => "IEEE802_11",
            108 => "LOOP",
            113 => "LINUX_SLL",
            127 => "IEEE802_11_RADIOTAP",
            165 => "BACNET_MS_TP",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => "UNKNOWN",
        }
    }
}

/// One captured record.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time in nanoseconds since the Unix epoch, within
    /// [`MIN_TS_NS`]..=[`MAX_TS_NS`].
    pub ts_ns: i64,
    /// How to decode `data`.
    pub link_type: LinkType,
    /// The captured bytes (possibly fewer than `orig_len`).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// pcapng interface index (0 for classic pcap).
    pub interface: u32,
}

/// The container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap.
    Pcap {
        /// Timestamps in nanoseconds rather than microseconds.
        nanosecond: bool,
        /// Fields written most significant byte first.
        big_endian: bool,
    },
    /// pcapng (byte order may change per section).
    PcapNg,
}

/// Why a capture could not be read further.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The operating system failed a read.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    /// The first four bytes are no known capture magic.
    #[error("not a pcap or pcapng capture (magic {magic:08x})")]
    UnknownFormat {
        /// The first four bytes, big-endian.
        magic: u32,
    },
    /// The file ended before the global header was complete.
    #[error("capture too short for a file header ({have} bytes)")]
    ShortHeader {
        /// Bytes available.
        have: usize,
    },
    /// The input ends inside a record; everything before it was delivered.
    #[error("capture truncated at byte {offset}: record needs {needed} bytes, {have} present")]
    Truncated {
        /// File offset of the incomplete record.
        offset: u64,
        /// Length the record header announced.
        needed: usize,
        /// Bytes actually present.
        have: usize,
    },
    /// A length or field that makes the rest of the file unreadable.
    #[error("malformed capture at byte {offset}: {reason}")]
    Malformed {
        /// File offset of the bad record or block.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
    },
}

impl CaptureError {
    /// Short snake_case code for anomaly events.
    pub fn code(&self) -> &'static str {
        match self {
            CaptureError::Io(_) => "read_error",
            CaptureError::UnknownFormat { .. } => "unknown_format",
            CaptureError::ShortHeader { .. } => "short_header",
            CaptureError::Truncated { .. } => "truncated_record",
            CaptureError::Malformed { .. } => "malformed_capture",
        }
    }
}

enum State {
    Pcap(pcap::PcapState),
    PcapNg(pcapng::PcapNgState),
    Done,
}

/// Reads records from any byte source; see the crate documentation.
pub struct CaptureReader<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]`.
    offset: u64,
    format: Format,
    state: State,
    records: u64,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header and detects the format.
    pub fn new(src: R) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            src,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            format: Format::PcapNg,
            state: State::Done,
            records: 0,
        };
        r.fill(24)?;
        let avail = r.end - r.start;
        if avail < 4 {
            return Err(CaptureError::ShortHeader { have: avail });
        }
        let head = &r.buf[r.start..r.end];
        let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if magic == pcapng::SHB_TYPE {
            r.format = Format::PcapNg;
            r.state = State::PcapNg(pcapng::PcapNgState::default());
        } else {
            let (state, format) = pcap::PcapState::from_header(head)?;
            r.format = format;
            r.state = State::Pcap(state);
            r.consume(pcap::GLOBAL_HEADER_LEN);
        }
        Ok(r)
    }

    /// The detected container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes of input consumed so far (for progress reporting).
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Records delivered so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The link type of a classic pcap, or of the first interface of a pcapng seen so far.
    pub fn link_type(&self) -> Option<LinkType> {
        match &self.state {
            State::Pcap(p) => Some(p.link_type),
            State::PcapNg(s) => s.first_link_type(),
            State::Done => None,
        }
    }

    /// The captured bytes of the record `k` places after the next one
    /// ([`CaptureReader::next_packet`] returns the next one, `k` = 0), when
    /// it and the records before it lie whole in the buffer of a classic
    /// pcap; `None` otherwise (pcapng, a refill due, the end). It reads
    /// nothing and changes nothing: a hint for prefetching what the record
    /// will need, so that the caller can start those loads while it
    /// processes the records before it. Its link type is the capture's.
    #[inline]
    pub fn peek(&self, k: usize) -> Option<&[u8]> {
        let State::Pcap(st) = &self.state else {
            return None;
        };
        // Only the lengths are read: the records are parsed when they come.
        let mut rest = &self.buf[self.start..self.end];
        for _ in 0..k {
            let len = st.incl_len(pcap::header(rest)?);
            rest = rest.get(pcap::RECORD_HEADER_LEN..)?.get(len..)?;
        }
        let len = st.incl_len(pcap::header(rest)?);
        rest.get(pcap::RECORD_HEADER_LEN..)?.get(..len)
    }

    /// The next record, `Ok(None)` at the end of the input.
    ///
    /// After an error the reader is finished and returns `Ok(None)`.
    ///
    /// In line, with the rest out of line: thin LTO otherwise inlines it
    /// into the capture loop in one build and not in the next, about 150
    /// instructions per packet apart.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        // Most classic pcap records lie whole in the buffer: take them
        // without the refill checks and the step dispatch.
        if let State::Pcap(st) = self.state {
            if let Some(hdr) = st.whole_record(&self.buf[self.start..self.end]) {
                let at = self.start + pcap::RECORD_HEADER_LEN;
                self.consume(pcap::RECORD_HEADER_LEN + hdr.incl_len);
                self.records += 1;
                return Ok(Some(Packet {
                    ts_ns: hdr.ts_ns,
                    link_type: st.link_type,
                    data: &self.buf[at..at + hdr.incl_len],
                    orig_len: hdr.orig_len,
                    interface: 0,
                }));
            }
        }
        self.next_packet_general()
    }

    /// [`CaptureReader::next_packet`] for every record that is not a whole
    /// classic pcap record in the buffer: refills, pcapng blocks, the end.
    #[inline(never)]
    fn next_packet_general(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        loop {
            let step = match &mut self.state {
                State::Done => return Ok(None),
                State::Pcap(_) => self.step_pcap(),
                State::PcapNg(_) => self.step_pcapng(),
            };
            match step {
                Ok(Step::Record { at, len, meta }) => {
                    self.records += 1;
                    return Ok(Some(Packet {
                        ts_ns: meta.ts_ns,
                        link_type: meta.link_type,
                        data: &self.buf[at..at + len],
                        orig_len: meta.orig_len,
                        interface: meta.interface,
                    }));
                }
                Ok(Step::Skipped) => continue,
                Ok(Step::End) => {
                    self.state = State::Done;
                    return Ok(None);
                }
                Err(e) => {
                    self.state = State::Done;
                    return Err(e);
                }
            }
        }
    }

    /// Makes at least `want` bytes available from `start` unless the input ends first.
    fn fill(&mut self, want: usize) -> Result<(), CaptureError> {
        if self.end - self.start >= want || self.eof {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < want {
            // Bounded by the record caps checked before every call.
            self.buf.resize(want.max(READ_CHUNK), 0);
        }
        while self.end < want {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn truncated(&self, needed: usize) -> CaptureError {
        CaptureError::Truncated {
            offset: self.offset,
            needed,
            have: self.end - self.start,
        }
    }

    fn step_pcap(&mut self) -> Result<Step, CaptureError> {
        let State::Pcap(st) = &self.state else {
            return Ok(Step::End);
        };
        let st = *st;
        self.fill(pcap::RECORD_HEADER_LEN)?;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(Step::End);
        }
        if avail < pcap::RECORD_HEADER_LEN {
            return Err(self.truncated(pcap::RECORD_HEADER_LEN));
        }
        let hdr = st.record_header(self.available(), self.offset)?;
        let total = pcap::RECORD_HEADER_LEN + hdr.incl_len;
        self.fill(total)?;
        if self.end - self.start < total {
            return Err(self.truncated(total));
        }
        let at = self.start + pcap::RECORD_HEADER_LEN;
        self.consume(total);
        Ok(Step::Record {
            at,
            len: hdr.incl_len,
            meta: Meta {
                ts_ns: hdr.ts_ns,
                link_type: st.link_type,
                orig_len: hdr.orig_len,
                interface: 0,
            },
        })
    }

    fn step_pcapng(&mut self) -> Result<Step, CaptureError> {
        self.fill(12)?;
        let avail = self.end - self.start;
        if avail == 0 {
            return Ok(Step::End);
        }
        if avail < 12 {
            return Err(self.truncated(12));
        }
        let offset = self.offset;
        let State::PcapNg(st) = &mut self.state else {
            return Ok(Step::End);
        };
        let len = st.block_len(&self.buf[self.start..self.end], offset)?;
        self.fill(len)?;
        if self.end - self.start < len {
            return Err(self.truncated(len));
        }
        let State::PcapNg(st) = &mut self.state else {
            return Ok(Step::End);
        };
        let block = &self.buf[self.start..self.start + len];
        let out = st.block(block, offset)?;
        let step = match out {
            Some((rel, dlen, meta)) => Step::Record {
                at: self.start + rel,
                len: dlen,
                meta,
            },
            None => Step::Skipped,
        };
        self.consume(len);
        Ok(step)
    }
}

/// Per-record metadata shared by both formats.
#[derive(Clone, Copy, Debug)]
struct Meta {
    ts_ns: i64,
    link_type: LinkType,
    orig_len: u32,
    interface: u32,
}

enum Step {
    Record { at: usize, len: usize, meta: Meta },
    Skipped,
    End,
}

#[cfg(test)]
mod tests;
