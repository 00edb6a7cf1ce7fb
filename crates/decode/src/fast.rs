//! One straight-line decoder for the most common frame of an industrial
//! network: Ethernet (untagged or one 802.1Q tag), IPv4 without
//! fragmentation, TCP. It reads the fields [`crate::decode_frame`] and
//! [`crate::decode_transport`] would give and makes the same checks, in one
//! pass with no intermediate `Result`, enum or address conversion, and
//! gives up (`None`) on anything else, valid or not: the caller then takes
//! the general path, which decodes other frames and reports errors.

use crate::link::MacAddr;
use crate::transport::{TcpFlags, TcpSegment};

/// An unfragmented IPv4 TCP segment in an Ethernet frame.
#[derive(Clone, Copy, Debug)]
pub struct EthIpv4Tcp<'a> {
    /// Source MAC address.
    pub src_mac: MacAddr,
    /// Destination MAC address.
    pub dst_mac: MacAddr,
    /// The VLAN key (`VlanStack::key`): the tag's id, 0 when untagged.
    pub vlan: u32,
    /// Source address, as a number (`Ipv4Addr::from`).
    pub src: u32,
    /// Destination address, as a number.
    pub dst: u32,
    /// Time to live.
    pub ttl: u8,
    /// The segment, as [`crate::decode_transport`] decodes it.
    pub seg: TcpSegment<'a>,
}

const ETH: usize = 14;
const TAG: usize = 4;
const IPV4_MIN: usize = 20;
const TCP_MIN: usize = 20;

/// The frame as an [`EthIpv4Tcp`], when it is one that the general path
/// decodes without error; `None` for every other frame, valid or not.
#[inline]
pub fn decode_eth_ipv4_tcp(data: &[u8]) -> Option<EthIpv4Tcp<'_>> {
    let eth: &[u8; ETH] = data.get(..ETH)?.try_into().ok()?;
    let (vlan, ip) = match [eth[12], eth[13]] {
        [0x08, 0x00] => (0, &data[ETH..]),
        [0x81, 0x00] => {
            let t: &[u8; TAG] = data.get(ETH..ETH + TAG)?.try_into().ok()?;
            if t[2..] != [0x08, 0x00] {
                return None;
            }
            let id = u16::from_be_bytes([t[0], t[1]]) & 0x0fff;
            (u32::from(id), &data[ETH + TAG..])
        }
        _ => return None,
    };
    let h: &[u8; IPV4_MIN] = ip.get(..IPV4_MIN)?.try_into().ok()?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Version 4, TCP, no more-fragments flag and no offset.
    if h[0] >> 4 != 4 || h[9] != 6 || (h[6] & 0x3f) | h[7] != 0 || ihl < IPV4_MIN {
        return None;
    }
    // `total < ihl` or beyond the frame: the general path's error.
    let tcp = ip.get(ihl..total)?;
    let t: &[u8; TCP_MIN] = tcp.get(..TCP_MIN)?.try_into().ok()?;
    let data_off = usize::from(t[12] >> 4) * 4;
    if data_off < TCP_MIN {
        return None;
    }
    let payload = tcp.get(data_off..)?;
    let mac = |i: usize| {
        MacAddr([
            eth[i],
            eth[i + 1],
            eth[i + 2],
            eth[i + 3],
            eth[i + 4],
            eth[i + 5],
        ])
    };
    Some(EthIpv4Tcp {
        src_mac: mac(6),
        dst_mac: mac(0),
        vlan,
        src: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
        dst: u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
        ttl: h[8],
        seg: TcpSegment {
            src_port: u16::from_be_bytes([t[0], t[1]]),
            dst_port: u16::from_be_bytes([t[2], t[3]]),
            seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
            ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
            flags: TcpFlags(t[13]),
            window: u16::from_be_bytes([t[14], t[15]]),
            payload,
        },
    })
}
