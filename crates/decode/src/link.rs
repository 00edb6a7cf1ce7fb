//! Link layers: Ethernet II with 802.1Q/802.1ad tags, Linux SLL and SLL2,
//! BSD loopback, raw IP.

use std::fmt;

use plantshield_capture::LinkType;

use crate::error::{DecodeError, ErrorKind, Layer};
use crate::{net, Frame, Net, MAX_VLAN_TAGS};

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// Group (multicast or broadcast) bit set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    fn from_slice(b: &[u8]) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[..6]);
        MacAddr(m)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An EtherType (or, below 0x0600, an 802.3 length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP.
    pub const ARP: EtherType = EtherType(0x0806);
    /// 802.1Q customer VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IPv6.
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// 802.1ad service VLAN tag (QinQ).
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// Pre-standard QinQ tag used by some switches.
    pub const QINQ_OLD: EtherType = EtherType(0x9100);
    /// PROFINET real-time and DCP.
    pub const PROFINET: EtherType = EtherType(0x8892);
    /// IEC 61850 GOOSE.
    pub const GOOSE: EtherType = EtherType(0x88b8);
    /// IEC 61850-9-2 Sampled Values.
    pub const SV: EtherType = EtherType(0x88ba);
    /// IEEE 1588 PTP over Ethernet.
    pub const PTP: EtherType = EtherType(0x88f7);
    /// LLDP.
    pub const LLDP: EtherType = EtherType(0x88cc);
}

/// Up to [`MAX_VLAN_TAGS`] VLAN ids, outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VlanStack {
    ids: [u16; MAX_VLAN_TAGS],
    len: u8,
}

impl VlanStack {
    /// The ids, outermost first.
    pub fn ids(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }

    /// The innermost id (the customer VLAN), 0 when untagged.
    pub fn inner(&self) -> u16 {
        if self.len == 0 {
            0
        } else {
            self.ids[self.len as usize - 1]
        }
    }

    /// A key combining all ids, for flow separation.
    pub fn key(&self) -> u32 {
        match self.len {
            0 => 0,
            1 => u32::from(self.ids[0]),
            _ => (u32::from(self.ids[0]) << 12) | u32::from(self.ids[self.len as usize - 1]),
        }
    }

    fn push(&mut self, id: u16) -> bool {
        if (self.len as usize) < MAX_VLAN_TAGS {
            self.ids[self.len as usize] = id;
            self.len += 1;
            true
        } else {
            false
        }
    }
}

const ETH_HEADER_LEN: usize = 14;
const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

#[inline]
pub(crate) fn decode(link: LinkType, data: &[u8]) -> Result<Frame<'_>, DecodeError> {
    match link {
        LinkType::ETHERNET => ethernet(data),
        LinkType::LINUX_SLL => sll(data),
        LinkType::LINUX_SLL2 => sll2(data),
        LinkType::NULL | LinkType::LOOP => null(data, link == LinkType::LOOP),
        LinkType::RAW | LinkType::RAW_12 => raw(data),
        LinkType::IPV4 => Ok(bare(net::ipv4(data, 0)?)),
        LinkType::IPV6 => Ok(bare(net::ipv6(data, 0)?)),
        other => Ok(Frame {
            src_mac: None,
            dst_mac: None,
            vlans: VlanStack::default(),
            net: Net::UnsupportedLink(other),
        }),
    }
}

fn bare(net: Net<'_>) -> Frame<'_> {
    Frame {
        src_mac: None,
        dst_mac: None,
        vlans: VlanStack::default(),
        net,
    }
}

#[inline]
fn ethernet(data: &[u8]) -> Result<Frame<'_>, DecodeError> {
    if data.len() < ETH_HEADER_LEN {
        return Err(DecodeError::truncated(
            Layer::Ethernet,
            0,
            ETH_HEADER_LEN,
            data.len(),
        ));
    }
    let dst = MacAddr::from_slice(&data[0..6]);
    let src = MacAddr::from_slice(&data[6..12]);
    let mut vlans = VlanStack::default();
    let mut ethertype = EtherType(u16::from_be_bytes([data[12], data[13]]));
    let mut off = ETH_HEADER_LEN;
    while matches!(
        ethertype,
        EtherType::VLAN | EtherType::QINQ | EtherType::QINQ_OLD
    ) {
        if data.len() < off + 4 {
            return Err(DecodeError::truncated(
                Layer::Vlan,
                off,
                4,
                data.len() - off,
            ));
        }
        let tci = u16::from_be_bytes([data[off], data[off + 1]]);
        if !vlans.push(tci & 0x0fff) {
            return Err(DecodeError::new(
                Layer::Vlan,
                ErrorKind::TooManyVlanTags,
                off,
            ));
        }
        ethertype = EtherType(u16::from_be_bytes([data[off + 2], data[off + 3]]));
        off += 4;
    }
    let net = network(ethertype, &data[off..], off)?;
    Ok(Frame {
        src_mac: Some(src),
        dst_mac: Some(dst),
        vlans,
        net,
    })
}

#[inline]
fn network(ethertype: EtherType, payload: &[u8], off: usize) -> Result<Net<'_>, DecodeError> {
    match ethertype {
        EtherType::IPV4 => net::ipv4(payload, off),
        EtherType::IPV6 => net::ipv6(payload, off),
        EtherType::ARP => net::arp(payload, off),
        other => Ok(Net::Other {
            ethertype: other,
            payload,
        }),
    }
}

fn sll(data: &[u8]) -> Result<Frame<'_>, DecodeError> {
    if data.len() < SLL_HEADER_LEN {
        return Err(DecodeError::truncated(
            Layer::Sll,
            0,
            SLL_HEADER_LEN,
            data.len(),
        ));
    }
    let addr_len = u16::from_be_bytes([data[4], data[5]]);
    let src = (addr_len == 6).then(|| MacAddr::from_slice(&data[6..12]));
    let proto = EtherType(u16::from_be_bytes([data[14], data[15]]));
    let net = network(proto, &data[SLL_HEADER_LEN..], SLL_HEADER_LEN)?;
    Ok(Frame {
        src_mac: src,
        dst_mac: None,
        vlans: VlanStack::default(),
        net,
    })
}

fn sll2(data: &[u8]) -> Result<Frame<'_>, DecodeError> {
    if data.len() < SLL2_HEADER_LEN {
        return Err(DecodeError::truncated(
            Layer::Sll,
            0,
            SLL2_HEADER_LEN,
            data.len(),
        ));
    }
    let proto = EtherType(u16::from_be_bytes([data[0], data[1]]));
    let addr_len = data[11];
    let src = (addr_len == 6).then(|| MacAddr::from_slice(&data[12..18]));
    let net = network(proto, &data[SLL2_HEADER_LEN..], SLL2_HEADER_LEN)?;
    Ok(Frame {
        src_mac: src,
        dst_mac: None,
        vlans: VlanStack::default(),
        net,
    })
}

fn null(data: &[u8], big_endian: bool) -> Result<Frame<'_>, DecodeError> {
    if data.len() < 4 {
        return Err(DecodeError::truncated(Layer::Null, 0, 4, data.len()));
    }
    let raw = [data[0], data[1], data[2], data[3]];
    // DLT_NULL stores the family in the capturing host's byte order, which the
    // file does not record: a family fits in the low 16 bits, so pick the
    // order that makes it small.
    let mut family = if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    if family > 0xffff {
        family = family.swap_bytes();
    }
    let body = &data[4..];
    let net = match family {
        2 => net::ipv4(body, 4)?,
        // AF_INET6 differs between BSDs: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
        10 | 24 | 28 | 30 => net::ipv6(body, 4)?,
        other => {
            return Err(DecodeError::new(
                Layer::Null,
                ErrorKind::UnknownFamily(other),
                0,
            ))
        }
    };
    Ok(bare(net))
}

fn raw(data: &[u8]) -> Result<Frame<'_>, DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Ok(bare(net::ipv4(data, 0)?)),
        Some(6) => Ok(bare(net::ipv6(data, 0)?)),
        Some(v) => Err(DecodeError::new(Layer::Raw, ErrorKind::BadVersion(v), 0)),
        None => Err(DecodeError::truncated(Layer::Raw, 0, 1, 0)),
    }
}
