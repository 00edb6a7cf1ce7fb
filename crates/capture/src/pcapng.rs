//! pcapng (IETF draft-ietf-opsawg-pcapng).
//!
//! Every block is `type:u32, total_length:u32, body, total_length:u32`, in the
//! byte order set by the enclosing Section Header Block. We read SHB (§4.1),
//! IDB (§4.2, options `if_tsresol` and `if_tsoffset`), EPB (§4.3), SPB (§4.4)
//! and the obsolete Packet Block (appendix); all other blocks are skipped.

use crate::pcap::{read_u16, read_u32};
use crate::{CaptureError, LinkType, Meta, MAX_BLOCK_LEN, MAX_INTERFACES, MAX_TS_NS, MIN_TS_NS};

pub(crate) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 0x0000_0001;
const OPB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: LinkType,
    snaplen: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp.
    offset_sec: i64,
}

impl Interface {
    fn ts_ns(&self, raw: u64) -> i64 {
        let ups = self.units_per_sec;
        let ns = if ups == 1_000_000_000 {
            raw as i128
        } else {
            let secs = (raw / ups) as i128;
            let frac = (raw % ups) as i128;
            secs * 1_000_000_000 + frac * 1_000_000_000 / ups as i128
        };
        let ns = ns + self.offset_sec as i128 * 1_000_000_000;
        // Not the whole i64 range: the pipeline subtracts packet times.
        ns.clamp(i128::from(MIN_TS_NS), i128::from(MAX_TS_NS)) as i64
    }
}

#[derive(Default)]
pub(crate) struct PcapNgState {
    /// Byte order of the current section; `None` before the first SHB.
    big_endian: Option<bool>,
    interfaces: Vec<Interface>,
    first_link_type: Option<LinkType>,
    last_ts_ns: i64,
}

impl PcapNgState {
    pub(crate) fn first_link_type(&self) -> Option<LinkType> {
        self.first_link_type
    }

    /// Total length of the block starting at `b` (at least 12 bytes available).
    pub(crate) fn block_len(&mut self, b: &[u8], offset: u64) -> Result<usize, CaptureError> {
        let btype_be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if btype_be == SHB_TYPE {
            // A new section may switch byte order: read it from the magic.
            let magic_be = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            let big = if magic_be == BYTE_ORDER_MAGIC {
                true
            } else if magic_be.swap_bytes() == BYTE_ORDER_MAGIC {
                false
            } else {
                return Err(CaptureError::Malformed {
                    offset,
                    reason: "section header has a bad byte-order magic",
                });
            };
            self.big_endian = Some(big);
        }
        let Some(big) = self.big_endian else {
            return Err(CaptureError::Malformed {
                offset,
                reason: "pcapng data before the first section header",
            });
        };
        let len = read_u32(&b[4..8], big) as usize;
        if len < 12 || len % 4 != 0 {
            return Err(CaptureError::Malformed {
                offset,
                reason: "block length is not a multiple of 4 of at least 12",
            });
        }
        if len > MAX_BLOCK_LEN {
            return Err(CaptureError::Malformed {
                offset,
                reason: "block length exceeds 16 MiB",
            });
        }
        Ok(len)
    }

    /// Interprets one whole block. Returns the packet's position within the
    /// block, its captured length and its metadata, or `None` for blocks
    /// without a packet.
    pub(crate) fn block(
        &mut self,
        b: &[u8],
        offset: u64,
    ) -> Result<Option<(usize, usize, Meta)>, CaptureError> {
        let big = self.big_endian.unwrap_or(false);
        let len = b.len();
        let btype = read_u32(&b[0..4], big);
        let trailer = read_u32(&b[len - 4..], big) as usize;
        if trailer != len {
            return Err(CaptureError::Malformed {
                offset,
                reason: "block trailing length differs from leading length",
            });
        }
        let body = &b[8..len - 4];
        let malformed = |reason| CaptureError::Malformed { offset, reason };
        match btype {
            SHB_TYPE => {
                if body.len() < 16 {
                    return Err(malformed("section header block too short"));
                }
                let major = read_u16(&body[4..6], big);
                if major != 1 {
                    return Err(malformed("unsupported pcapng major version"));
                }
                self.interfaces.clear();
                Ok(None)
            }
            IDB_TYPE => {
                if body.len() < 8 {
                    return Err(malformed("interface description block too short"));
                }
                if self.interfaces.len() >= MAX_INTERFACES {
                    return Err(malformed("more than 1024 interfaces in one section"));
                }
                let link_type = LinkType(read_u16(&body[0..2], big));
                let snaplen = read_u32(&body[4..8], big);
                let mut iface = Interface {
                    link_type,
                    snaplen,
                    units_per_sec: 1_000_000,
                    offset_sec: 0,
                };
                for (code, val) in Options::new(&body[8..], big) {
                    match code {
                        OPT_IF_TSRESOL if !val.is_empty() => {
                            let r = val[0];
                            let exp = u32::from(r & 0x7f);
                            let ups = if r & 0x80 == 0 {
                                10u64.checked_pow(exp)
                            } else {
                                2u64.checked_pow(exp)
                            };
                            match ups {
                                Some(u) if u > 0 => iface.units_per_sec = u,
                                _ => return Err(malformed("if_tsresol out of range")),
                            }
                        }
                        OPT_IF_TSOFFSET if val.len() >= 8 => {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(&val[..8]);
                            let v = if big {
                                i64::from_be_bytes(a)
                            } else {
                                i64::from_le_bytes(a)
                            };
                            iface.offset_sec = v;
                        }
                        _ => {}
                    }
                }
                if self.first_link_type.is_none() {
                    self.first_link_type = Some(link_type);
                }
                self.interfaces.push(iface);
                Ok(None)
            }
            EPB_TYPE | OPB_TYPE => {
                if body.len() < 20 {
                    return Err(malformed("packet block too short"));
                }
                let (if_id, ts_hi, ts_lo) = if btype == EPB_TYPE {
                    (
                        read_u32(&body[0..4], big),
                        read_u32(&body[4..8], big),
                        read_u32(&body[8..12], big),
                    )
                } else {
                    (
                        u32::from(read_u16(&body[0..2], big)),
                        read_u32(&body[4..8], big),
                        read_u32(&body[8..12], big),
                    )
                };
                let cap_len = read_u32(&body[12..16], big) as usize;
                let orig_len = read_u32(&body[16..20], big);
                let Some(iface) = self.interfaces.get(if_id as usize) else {
                    return Err(malformed("packet refers to an undeclared interface"));
                };
                if cap_len > body.len() - 20 {
                    return Err(malformed("captured length exceeds the block"));
                }
                let ts_ns = iface.ts_ns((u64::from(ts_hi) << 32) | u64::from(ts_lo));
                self.last_ts_ns = ts_ns;
                Ok(Some((
                    8 + 20,
                    cap_len,
                    Meta {
                        ts_ns,
                        link_type: iface.link_type,
                        orig_len,
                        interface: if_id,
                    },
                )))
            }
            SPB_TYPE => {
                if body.len() < 4 {
                    return Err(malformed("simple packet block too short"));
                }
                let Some(iface) = self.interfaces.first() else {
                    return Err(malformed("simple packet block without an interface"));
                };
                let orig_len = read_u32(&body[0..4], big);
                let mut cap = (orig_len as usize).min(body.len() - 4);
                if iface.snaplen > 0 {
                    cap = cap.min(iface.snaplen as usize);
                }
                Ok(Some((
                    8 + 4,
                    cap,
                    Meta {
                        // Simple packet blocks carry no timestamp: keep the last one.
                        ts_ns: self.last_ts_ns,
                        link_type: iface.link_type,
                        orig_len,
                        interface: 0,
                    },
                )))
            }
            _ => Ok(None),
        }
    }
}

/// Iterator over a TLV option list (code:u16, length:u16, value padded to 4).
struct Options<'a> {
    b: &'a [u8],
    big: bool,
}

impl<'a> Options<'a> {
    fn new(b: &'a [u8], big: bool) -> Self {
        Options { b, big }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.b.len() < 4 {
            return None;
        }
        let code = read_u16(&self.b[0..2], self.big);
        let len = read_u16(&self.b[2..4], self.big) as usize;
        if code == OPT_ENDOFOPT {
            return None;
        }
        let padded = (len + 3) & !3;
        if 4 + len > self.b.len() {
            self.b = &[];
            return None;
        }
        let val = &self.b[4..4 + len];
        self.b = self.b.get(4 + padded..).unwrap_or(&[]);
        Some((code, val))
    }
}
