//! Transport layer: TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792), ICMPv6 (RFC 4443).

use crate::error::{DecodeError, ErrorKind, Layer};

/// IP protocol numbers we decode.
pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_ICMPV6: u8 = 58;

/// The decoded transport layer.
#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram.
    Udp(UdpDatagram<'a>),
    /// An ICMP or ICMPv6 message.
    Icmp(Icmp),
    /// Another IP protocol, undecoded.
    Other(u8),
}

/// TCP control bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field significant.
    pub const URG: u8 = 0x20;

    /// FIN set.
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    /// SYN set.
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    /// RST set.
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    /// ACK set.
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Receive window.
    pub window: u16,
    /// Segment data.
    pub payload: &'a [u8],
}

/// A UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Datagram data, trimmed to the UDP length.
    pub payload: &'a [u8],
}

/// An ICMP or ICMPv6 message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    /// Message type.
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
}

const TCP_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

#[inline]
pub(crate) fn decode(protocol: u8, v6: bool, b: &[u8]) -> Result<Transport<'_>, DecodeError> {
    match protocol {
        PROTO_TCP => tcp(b).map(Transport::Tcp),
        PROTO_UDP => udp(b).map(Transport::Udp),
        PROTO_ICMP | PROTO_ICMPV6 => {
            if b.len() < 4 {
                return Err(DecodeError::truncated(Layer::Icmp, 0, 4, b.len()));
            }
            Ok(Transport::Icmp(Icmp {
                v6: protocol == PROTO_ICMPV6 || v6,
                icmp_type: b[0],
                code: b[1],
            }))
        }
        other => Ok(Transport::Other(other)),
    }
}

#[inline]
fn tcp(b: &[u8]) -> Result<TcpSegment<'_>, DecodeError> {
    if b.len() < TCP_MIN_HEADER {
        return Err(DecodeError::truncated(
            Layer::Tcp,
            0,
            TCP_MIN_HEADER,
            b.len(),
        ));
    }
    let data_off = usize::from(b[12] >> 4) * 4;
    if data_off < TCP_MIN_HEADER {
        return Err(DecodeError::new(
            Layer::Tcp,
            ErrorKind::BadHeaderLength(data_off),
            0,
        ));
    }
    if data_off > b.len() {
        return Err(DecodeError::truncated(Layer::Tcp, 0, data_off, b.len()));
    }
    Ok(TcpSegment {
        src_port: u16::from_be_bytes([b[0], b[1]]),
        dst_port: u16::from_be_bytes([b[2], b[3]]),
        seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ack: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        flags: TcpFlags(b[13]),
        window: u16::from_be_bytes([b[14], b[15]]),
        payload: &b[data_off..],
    })
}

fn udp(b: &[u8]) -> Result<UdpDatagram<'_>, DecodeError> {
    if b.len() < UDP_HEADER {
        return Err(DecodeError::truncated(Layer::Udp, 0, UDP_HEADER, b.len()));
    }
    let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
    if len < UDP_HEADER {
        return Err(DecodeError::new(
            Layer::Udp,
            ErrorKind::BadTotalLength(len),
            0,
        ));
    }
    if len > b.len() {
        return Err(DecodeError::truncated(Layer::Udp, 0, len, b.len()));
    }
    Ok(UdpDatagram {
        src_port: u16::from_be_bytes([b[0], b[1]]),
        dst_port: u16::from_be_bytes([b[2], b[3]]),
        payload: &b[UDP_HEADER..len],
    })
}
