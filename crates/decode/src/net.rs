//! Network layer: ARP (RFC 826), IPv4 (RFC 791), IPv6 (RFC 8200).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{DecodeError, ErrorKind, Layer};
use crate::link::MacAddr;
use crate::{Net, MAX_IPV6_EXT_HEADERS};

/// An ARP packet for Ethernet hardware and IPv4 protocol addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// 1 request, 2 reply.
    pub operation: u16,
    /// Sender hardware address.
    pub sender_mac: MacAddr,
    /// Sender protocol address.
    pub sender_ip: Ipv4Addr,
    /// Target hardware address.
    pub target_mac: MacAddr,
    /// Target protocol address.
    pub target_ip: Ipv4Addr,
}

/// One IP packet (or fragment).
#[derive(Clone, Debug)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The transport protocol (IPv6: the last next-header value).
    pub protocol: u8,
    /// Time to live / hop limit.
    pub ttl: u8,
    /// Set when this packet is one fragment of a larger datagram.
    pub fragment: Option<Fragment>,
    /// Transport bytes (or this fragment's bytes), padding removed.
    pub payload: &'a [u8],
}

impl IpPacket<'_> {
    /// True for IPv6.
    pub fn is_v6(&self) -> bool {
        self.src.is_ipv6()
    }
}

/// Fragmentation fields of an IPv4 header or an IPv6 Fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// Identification (16 bits for IPv4, 32 for IPv6).
    pub id: u32,
    /// Offset of this fragment's data in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
}

const IPV4_MIN_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const ARP_ETH_IPV4_LEN: usize = 28;

pub(crate) fn arp(b: &[u8], off: usize) -> Result<Net<'_>, DecodeError> {
    if b.len() < 8 {
        return Err(DecodeError::truncated(Layer::Arp, off, 8, b.len()));
    }
    let htype = u16::from_be_bytes([b[0], b[1]]);
    let ptype = u16::from_be_bytes([b[2], b[3]]);
    let (hlen, plen) = (b[4], b[5]);
    if htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 {
        // Another hardware/protocol pairing: keep it as an opaque frame.
        return Ok(Net::Other {
            ethertype: crate::EtherType::ARP,
            payload: b,
        });
    }
    if b.len() < ARP_ETH_IPV4_LEN {
        return Err(DecodeError::truncated(
            Layer::Arp,
            off,
            ARP_ETH_IPV4_LEN,
            b.len(),
        ));
    }
    let mac = |i: usize| {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[i..i + 6]);
        MacAddr(m)
    };
    let ip = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
    Ok(Net::Arp(Arp {
        operation: u16::from_be_bytes([b[6], b[7]]),
        sender_mac: mac(8),
        sender_ip: ip(14),
        target_mac: mac(18),
        target_ip: ip(24),
    }))
}

#[inline]
pub(crate) fn ipv4(b: &[u8], off: usize) -> Result<Net<'_>, DecodeError> {
    if b.len() < IPV4_MIN_HEADER {
        return Err(DecodeError::truncated(
            Layer::Ipv4,
            off,
            IPV4_MIN_HEADER,
            b.len(),
        ));
    }
    let version = b[0] >> 4;
    if version != 4 {
        return Err(DecodeError::new(
            Layer::Ipv4,
            ErrorKind::BadVersion(version),
            off,
        ));
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    if ihl < IPV4_MIN_HEADER {
        return Err(DecodeError::new(
            Layer::Ipv4,
            ErrorKind::BadHeaderLength(ihl),
            off,
        ));
    }
    let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
    if total < ihl {
        return Err(DecodeError::new(
            Layer::Ipv4,
            ErrorKind::BadTotalLength(total),
            off,
        ));
    }
    if total > b.len() {
        return Err(DecodeError::truncated(Layer::Ipv4, off, total, b.len()));
    }
    let flags_frag = u16::from_be_bytes([b[6], b[7]]);
    let more = flags_frag & 0x2000 != 0;
    let frag_off = usize::from(flags_frag & 0x1fff) * 8;
    let fragment = (more || frag_off != 0).then_some(Fragment {
        id: u32::from(u16::from_be_bytes([b[4], b[5]])),
        offset: frag_off,
        more,
    });
    Ok(Net::Ip(IpPacket {
        src: IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])),
        dst: IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
        protocol: b[9],
        ttl: b[8],
        fragment,
        payload: &b[ihl..total],
    }))
}

fn v6addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

pub(crate) fn ipv6(b: &[u8], off: usize) -> Result<Net<'_>, DecodeError> {
    if b.len() < IPV6_HEADER {
        return Err(DecodeError::truncated(
            Layer::Ipv6,
            off,
            IPV6_HEADER,
            b.len(),
        ));
    }
    let version = b[0] >> 4;
    if version != 6 {
        return Err(DecodeError::new(
            Layer::Ipv6,
            ErrorKind::BadVersion(version),
            off,
        ));
    }
    let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
    if plen == 0 && b[6] == 0 {
        return Err(DecodeError::new(Layer::Ipv6, ErrorKind::Jumbogram, off));
    }
    if IPV6_HEADER + plen > b.len() {
        return Err(DecodeError::truncated(
            Layer::Ipv6,
            off,
            IPV6_HEADER + plen,
            b.len(),
        ));
    }
    let body = &b[IPV6_HEADER..IPV6_HEADER + plen];
    let mut next = b[6];
    let mut pos = 0usize;
    let mut fragment = None;
    let mut count = 0;
    loop {
        match next {
            // Hop-by-hop, routing, destination options, mobility: (next, len in 8-octet units - 1).
            0 | 43 | 60 | 135 | 139 | 140 => {
                if body.len() < pos + 2 {
                    return Err(DecodeError::truncated(
                        Layer::Ipv6,
                        off + IPV6_HEADER + pos,
                        2,
                        body.len() - pos,
                    ));
                }
                let len = (usize::from(body[pos + 1]) + 1) * 8;
                if body.len() < pos + len {
                    return Err(DecodeError::truncated(
                        Layer::Ipv6,
                        off + IPV6_HEADER + pos,
                        len,
                        body.len() - pos,
                    ));
                }
                next = body[pos];
                pos += len;
            }
            // Authentication header: length in 4-octet units - 2.
            51 => {
                if body.len() < pos + 2 {
                    return Err(DecodeError::truncated(
                        Layer::Ipv6,
                        off + IPV6_HEADER + pos,
                        2,
                        body.len() - pos,
                    ));
                }
                let len = (usize::from(body[pos + 1]) + 2) * 4;
                if body.len() < pos + len {
                    return Err(DecodeError::truncated(
                        Layer::Ipv6,
                        off + IPV6_HEADER + pos,
                        len,
                        body.len() - pos,
                    ));
                }
                next = body[pos];
                pos += len;
            }
            // Fragment header (RFC 8200 §4.5), fixed 8 bytes.
            44 => {
                if body.len() < pos + 8 {
                    return Err(DecodeError::truncated(
                        Layer::Ipv6,
                        off + IPV6_HEADER + pos,
                        8,
                        body.len() - pos,
                    ));
                }
                let h = &body[pos..pos + 8];
                let fo = u16::from_be_bytes([h[2], h[3]]);
                let offset = usize::from(fo >> 3) * 8;
                let more = fo & 1 == 1;
                next = h[0];
                pos += 8;
                // An atomic fragment (offset 0, no more) is a whole datagram.
                if offset != 0 || more {
                    fragment = Some(Fragment {
                        id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                        offset,
                        more,
                    });
                    // The rest is fragment data; later headers are inside the datagram.
                    break;
                }
            }
            _ => break,
        }
        count += 1;
        if count > MAX_IPV6_EXT_HEADERS {
            return Err(DecodeError::new(
                Layer::Ipv6,
                ErrorKind::TooManyExtensionHeaders,
                off + IPV6_HEADER + pos,
            ));
        }
    }
    Ok(Net::Ip(IpPacket {
        src: IpAddr::V6(v6addr(&b[8..24])),
        dst: IpAddr::V6(v6addr(&b[24..40])),
        protocol: next,
        ttl: b[7],
        fragment,
        payload: &body[pos..],
    }))
}
