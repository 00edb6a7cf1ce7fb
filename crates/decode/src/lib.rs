//! Link, network and transport layer decoding.
//!
//! [`decode_frame`] walks a captured frame from its link layer (Ethernet with
//! stacked 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, raw IP, BSD
//! loopback) to the network layer (ARP, IPv4, IPv6 with extension headers).
//! [`decode_transport`] then reads TCP, UDP, ICMP or ICMPv6 from an IP payload,
//! which may come straight from the frame or from the [`Defragmenter`].
//! [`decode_eth_ipv4_tcp`] is both in one pass for the common Ethernet,
//! IPv4, TCP frame (the same result; `None` sends other frames to the two).
//!
//! Every length is checked before it is used: a bad length is a
//! [`DecodeError`] that names the layer, what was wrong and where, never a
//! panic. Ethernet padding is trimmed by honouring the IP total length.
//! Checksums are not verified: captures taken on the sending host carry
//! offloaded (blank) checksums, and a monitor must not drop such traffic.

#![forbid(unsafe_code)]

pub mod craft;
mod defrag;
mod error;
mod fast;
mod link;
mod net;
mod transport;

pub use defrag::{DefragConfig, DefragEvent, DefragKey, Defragmenter, Reassembled};
pub use error::{DecodeError, ErrorKind, Layer};
pub use fast::{decode_eth_ipv4_tcp, EthIpv4Tcp};
pub use link::{EtherType, MacAddr, VlanStack};
pub use net::{Arp, Fragment, IpPacket};
pub use transport::{Icmp, TcpFlags, TcpSegment, Transport, UdpDatagram};

use plantshield_capture::LinkType;

/// Most VLAN tags we walk through before calling the frame hostile.
pub const MAX_VLAN_TAGS: usize = 4;
/// Most IPv6 extension headers we walk through.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// The decoded link and network layers of one frame.
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    /// Source MAC address, when the link layer has one.
    pub src_mac: Option<MacAddr>,
    /// Destination MAC address, when the link layer has one.
    pub dst_mac: Option<MacAddr>,
    /// VLAN ids, outermost first.
    pub vlans: VlanStack,
    /// What the link layer carried.
    pub net: Net<'a>,
}

/// The network layer of a frame.
#[derive(Clone, Debug)]
pub enum Net<'a> {
    /// An ARP packet (Ethernet/IPv4 form).
    Arp(Arp),
    /// An IPv4 or IPv6 packet.
    Ip(IpPacket<'a>),
    /// A non-IP EtherType (GOOSE, PROFINET, LLDP, ...) with its payload.
    Other {
        /// The EtherType, or the 802.3 length for LLC frames.
        ethertype: EtherType,
        /// Bytes after the EtherType.
        payload: &'a [u8],
    },
    /// A link type this decoder does not read (802.11, MS/TP, ...).
    UnsupportedLink(LinkType),
}

/// Decodes the link and network layers of a frame.
#[inline]
pub fn decode_frame(link: LinkType, data: &[u8]) -> Result<Frame<'_>, DecodeError> {
    link::decode(link, data)
}

/// Decodes the transport layer of an IP payload.
#[inline]
pub fn decode_transport(
    protocol: u8,
    v6: bool,
    payload: &[u8],
) -> Result<Transport<'_>, DecodeError> {
    transport::decode(protocol, v6, payload)
}

#[cfg(test)]
mod tests;
