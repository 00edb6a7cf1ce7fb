//! The decoder's one error type.

use std::fmt;

/// The layer at which decoding failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Ethernet II / 802.3.
    Ethernet,
    /// 802.1Q / 802.1ad tag.
    Vlan,
    /// Linux cooked capture (v1 or v2).
    Sll,
    /// BSD loopback header.
    Null,
    /// ARP.
    Arp,
    /// IPv4.
    Ipv4,
    /// IPv6 and its extension headers.
    Ipv6,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP or ICMPv6.
    Icmp,
    /// Raw IP link type with an unknown version nibble.
    Raw,
}

impl Layer {
    /// snake_case name used in anomaly event codes.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Ethernet => "ethernet",
            Layer::Vlan => "vlan",
            Layer::Sll => "sll",
            Layer::Null => "null",
            Layer::Arp => "arp",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Icmp => "icmp",
            Layer::Raw => "raw",
        }
    }
}

/// What was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Fewer bytes than the header or a length field requires.
    Truncated {
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        have: usize,
    },
    /// The version field is not the expected one.
    BadVersion(u8),
    /// A header length field is below the minimum.
    BadHeaderLength(usize),
    /// A total or payload length field is below the header length.
    BadTotalLength(usize),
    /// More VLAN tags than [`crate::MAX_VLAN_TAGS`].
    TooManyVlanTags,
    /// More IPv6 extension headers than [`crate::MAX_IPV6_EXT_HEADERS`].
    TooManyExtensionHeaders,
    /// An IPv6 jumbogram (payload length 0), which we do not read.
    Jumbogram,
    /// The loopback header names an address family we do not know.
    UnknownFamily(u32),
}

/// A decoding failure: the layer, what was wrong, and the offset of the
/// failing header within the bytes given to the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Where.
    pub layer: Layer,
    /// What.
    pub kind: ErrorKind,
    /// Byte offset of the failing header.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn truncated(layer: Layer, offset: usize, needed: usize, have: usize) -> Self {
        DecodeError {
            layer,
            kind: ErrorKind::Truncated { needed, have },
            offset,
        }
    }

    pub(crate) fn new(layer: Layer, kind: ErrorKind, offset: usize) -> Self {
        DecodeError {
            layer,
            kind,
            offset,
        }
    }

    /// The snake_case code of the kind, e.g. `truncated`.
    pub fn kind_code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Truncated { .. } => "truncated",
            ErrorKind::BadVersion(_) => "bad_version",
            ErrorKind::BadHeaderLength(_) => "bad_header_length",
            ErrorKind::BadTotalLength(_) => "bad_total_length",
            ErrorKind::TooManyVlanTags => "too_many_vlan_tags",
            ErrorKind::TooManyExtensionHeaders => "too_many_extension_headers",
            ErrorKind::Jumbogram => "jumbogram",
            ErrorKind::UnknownFamily(_) => "unknown_family",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.layer.name();
        match self.kind {
            ErrorKind::Truncated { needed, have } => write!(
                f,
                "{l} header at offset {} needs {needed} bytes, {have} present",
                self.offset
            ),
            ErrorKind::BadVersion(v) => write!(f, "{l} version {v} at offset {}", self.offset),
            ErrorKind::BadHeaderLength(n) => {
                write!(
                    f,
                    "{l} header length {n} is below the minimum (offset {})",
                    self.offset
                )
            }
            ErrorKind::BadTotalLength(n) => write!(
                f,
                "{l} length {n} is shorter than its header (offset {})",
                self.offset
            ),
            ErrorKind::TooManyVlanTags => write!(f, "more than {} VLAN tags", crate::MAX_VLAN_TAGS),
            ErrorKind::TooManyExtensionHeaders => write!(
                f,
                "more than {} IPv6 extension headers",
                crate::MAX_IPV6_EXT_HEADERS
            ),
            ErrorKind::Jumbogram => write!(f, "IPv6 jumbogram (payload length 0) not supported"),
            ErrorKind::UnknownFamily(v) => write!(f, "unknown loopback address family {v}"),
        }
    }
}

impl std::error::Error for DecodeError {}
