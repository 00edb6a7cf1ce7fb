//! OPC UA Binary over TCP (OPC 10000-6, "Part 6"; services from OPC
//! 10000-4, "Part 4"): the UA Connection Protocol messages (Hello,
//! Acknowledge, Error, ReverseHello), the Secure Conversation headers of
//! OpenSecureChannel, CloseSecureChannel and MSG chunks, the service type
//! of unencrypted messages with their request and response headers, and
//! the ApplicationDescriptions that GetEndpoints and CreateSession carry.
//!
//! [`Header::parse`] reads the 8-octet message header; [`Chunk::parse`] a
//! whole chunk of a secure channel. Nothing after the security header of
//! a channel whose security policy is not `None` is read: it is signed
//! and usually encrypted.

mod encoding;
pub mod services;

pub use encoding::{Decoder, LocalizedText, NodeId, MAX_ARRAY};
pub use services::{
    application_type_name, status_is_bad, AppDescription, CreateSessionRequest, OpenChannel,
    RequestHeader, ResponseHeader, Service, ServiceId,
};

use crate::cursor::Cursor;
pub use crate::Probe;

/// TCP port registered for OPC UA Binary (IANA "opcua-tcp").
pub const PORT: u16 = 4840;
/// Length of the message header.
pub const HEADER_LEN: usize = 8;
/// The security policy URI of unsecured channels (Part 7).
pub const POLICY_NONE: &[u8] = b"http://opcfoundation.org/UA/SecurityPolicy#None";
/// Longest string copied from a message into an event (octets).
pub const MAX_STRING: usize = 512;

/// The message type of a header (Part 6 §7.1.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Hello (HEL).
    Hello,
    /// Acknowledge (ACK).
    Acknowledge,
    /// Error (ERR).
    Error,
    /// ReverseHello (RHE).
    ReverseHello,
    /// OpenSecureChannel (OPN).
    Open,
    /// A service message (MSG).
    Message,
    /// CloseSecureChannel (CLO).
    Close,
}

impl MessageType {
    /// From the three ASCII octets.
    pub fn from_bytes(b: [u8; 3]) -> Option<Self> {
        Some(match &b {
            b"HEL" => MessageType::Hello,
            b"ACK" => MessageType::Acknowledge,
            b"ERR" => MessageType::Error,
            b"RHE" => MessageType::ReverseHello,
            b"OPN" => MessageType::Open,
            b"MSG" => MessageType::Message,
            b"CLO" => MessageType::Close,
            _ => return None,
        })
    }

    /// The three letters.
    pub fn code(self) -> &'static str {
        match self {
            MessageType::Hello => "HEL",
            MessageType::Acknowledge => "ACK",
            MessageType::Error => "ERR",
            MessageType::ReverseHello => "RHE",
            MessageType::Open => "OPN",
            MessageType::Message => "MSG",
            MessageType::Close => "CLO",
        }
    }

    /// The three letters as a 24-bit number (`HEL` is 0x48454C): the
    /// `ics.function_code` of connection-protocol messages, which have no
    /// service node id.
    pub fn number(self) -> u32 {
        let b = self.code().as_bytes();
        (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
    }

    /// True for the secure-conversation messages (OPN, MSG, CLO).
    pub fn is_secure(self) -> bool {
        matches!(
            self,
            MessageType::Open | MessageType::Message | MessageType::Close
        )
    }
}

/// The message header (Part 6 §7.1.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub message_type: MessageType,
    /// Chunk type: `F` final, `C` intermediate, `A` abort (secure messages).
    pub chunk_type: u8,
    /// Length of the whole chunk, header included.
    pub size: u32,
}

/// Why octets do not start a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 8 octets.
    Incomplete,
    /// Not one of the seven message types.
    MessageType,
    /// Chunk type other than F (or C and A for secure messages).
    ChunkType(u8),
    /// Size smaller than the header.
    Size(u32),
}

impl Header {
    /// Reads and checks the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        let mut c = Cursor::new(b);
        let (Some(t), Some(ct), Some(size)) = (c.bytes(3), c.u8(), c.u32_le()) else {
            return Err(HeaderError::Incomplete);
        };
        let message_type =
            MessageType::from_bytes([t[0], t[1], t[2]]).ok_or(HeaderError::MessageType)?;
        let chunk_ok = match message_type {
            MessageType::Message | MessageType::Open | MessageType::Close => {
                matches!(ct, b'F' | b'C' | b'A')
            }
            _ => ct == b'F',
        };
        if !chunk_ok {
            return Err(HeaderError::ChunkType(ct));
        }
        if (size as usize) < HEADER_LEN {
            return Err(HeaderError::Size(size));
        }
        Ok(Header {
            message_type,
            chunk_type: ct,
            size,
        })
    }
}

/// Hello (Part 6 §7.1.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Protocol version.
    pub protocol_version: u32,
    /// Receive buffer size.
    pub receive_buffer_size: u32,
    /// Send buffer size.
    pub send_buffer_size: u32,
    /// Max message size (0: no limit).
    pub max_message_size: u32,
    /// Max chunk count (0: no limit).
    pub max_chunk_count: u32,
    /// The endpoint URL the client connects to.
    pub endpoint_url: Option<&'a [u8]>,
}

impl<'a> Hello<'a> {
    /// Reads the body after the header.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut d = Decoder::new(body);
        Some(Hello {
            protocol_version: d.u32()?,
            receive_buffer_size: d.u32()?,
            send_buffer_size: d.u32()?,
            max_message_size: d.u32()?,
            max_chunk_count: d.u32()?,
            endpoint_url: d.string()?,
        })
    }
}

/// Acknowledge (Part 6 §7.1.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acknowledge {
    /// Protocol version.
    pub protocol_version: u32,
    /// Receive buffer size.
    pub receive_buffer_size: u32,
    /// Send buffer size.
    pub send_buffer_size: u32,
    /// Max message size.
    pub max_message_size: u32,
    /// Max chunk count.
    pub max_chunk_count: u32,
}

impl Acknowledge {
    /// Reads the body after the header.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let mut d = Decoder::new(body);
        Some(Acknowledge {
            protocol_version: d.u32()?,
            receive_buffer_size: d.u32()?,
            send_buffer_size: d.u32()?,
            max_message_size: d.u32()?,
            max_chunk_count: d.u32()?,
        })
    }
}

/// Error (Part 6 §7.1.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorMessage<'a> {
    /// The StatusCode.
    pub error: u32,
    /// Reason text.
    pub reason: Option<&'a [u8]>,
}

impl<'a> ErrorMessage<'a> {
    /// Reads the body after the header.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut d = Decoder::new(body);
        Some(ErrorMessage {
            error: d.u32()?,
            reason: d.string()?,
        })
    }
}

/// The security header of a secure-conversation chunk (Part 6 §6.7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security<'a> {
    /// OPN: asymmetric algorithm security header.
    Asymmetric {
        /// SecurityPolicyUri.
        policy_uri: Option<&'a [u8]>,
        /// Octets of the sender certificate (0 when none).
        certificate_len: usize,
        /// A receiver certificate thumbprint was sent.
        thumbprint: bool,
    },
    /// MSG and CLO: the token id.
    Symmetric {
        /// TokenId.
        token_id: u32,
    },
}

/// One chunk of a secure channel (OPN, MSG, CLO), read up to its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The header.
    pub header: Header,
    /// SecureChannelId.
    pub channel_id: u32,
    /// The security header.
    pub security: Security<'a>,
    /// What follows the security header: the sequence header and the body
    /// (plain), or encrypted octets.
    pub rest: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// Reads a chunk (the whole message, header included).
    pub fn parse(b: &'a [u8]) -> Option<Self> {
        let header = Header::parse(b).ok()?;
        if !header.message_type.is_secure() {
            return None;
        }
        let mut d = Decoder::new(b.get(HEADER_LEN..)?);
        let channel_id = d.u32()?;
        let security = if header.message_type == MessageType::Open {
            let policy_uri = d.string()?;
            let certificate_len = d.string()?.map_or(0, <[u8]>::len);
            let thumbprint = d.string()?.is_some_and(|t| !t.is_empty());
            Security::Asymmetric {
                policy_uri,
                certificate_len,
                thumbprint,
            }
        } else {
            Security::Symmetric { token_id: d.u32()? }
        };
        Some(Chunk {
            header,
            channel_id,
            security,
            rest: d.rest(),
        })
    }

    /// The sequence header (sequence number, request id) and the body of a
    /// plain chunk.
    pub fn sequence(&self) -> Option<(u32, u32, &'a [u8])> {
        let mut d = Decoder::new(self.rest);
        let seq = d.u32()?;
        let req = d.u32()?;
        Some((seq, req, d.rest()))
    }
}

/// Findings about a message or transaction that break the specification
/// but were kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

crate::flag_set!(Flags, u32);

impl Flags {
    /// The response's RequestHandle differs from the request's.
    pub const REQUEST_HANDLE_MISMATCH: u32 = 1 << 0;
    /// The response is of another service than the request.
    pub const SERVICE_MISMATCH: u32 = 1 << 1;
    /// A chunk larger than what is kept: the rest was skipped unread.
    pub const CHUNK_TRUNCATED: u32 = 1 << 2;
    /// The body did not decode as its service defines it.
    pub const MALFORMED_BODY: u32 = 1 << 3;
    /// The sender aborted the message (chunk type A).
    pub const ABORTED: u32 = 1 << 4;
    /// Chunks of a message joined past the limit, or a final chunk whose
    /// first was not seen.
    pub const CHUNKS_INCOMPLETE: u32 = 1 << 5;
    /// A message on a secure channel whose OpenSecureChannel was not seen.
    pub const UNKNOWN_CHANNEL: u32 = 1 << 6;

    const NAMES: [(u32, &'static str); 7] = [
        (Self::REQUEST_HANDLE_MISMATCH, "request_handle_mismatch"),
        (Self::SERVICE_MISMATCH, "service_mismatch"),
        (Self::CHUNK_TRUNCATED, "chunk_truncated"),
        (Self::MALFORMED_BODY, "malformed_body"),
        (Self::ABORTED, "aborted"),
        (Self::CHUNKS_INCOMPLETE, "chunks_incomplete"),
        (Self::UNKNOWN_CHANNEL, "unknown_channel"),
    ];
}

/// Largest message size a probe accepts as plausible (16 MiB).
const MAX_PLAUSIBLE_SIZE: u32 = 16 << 20;

/// Content check for protocol detection: does `b` start an OPC UA Binary
/// stream?
///
/// On the registered port any valid message header decides (captures
/// often start mid-connection). `strict` (any other port) wants a Hello
/// with protocol version 0 and an `opc.tcp://` endpoint URL, or an
/// OpenSecureChannel whose security policy URI is an OPC Foundation one,
/// both final chunks of a plausible size.
pub fn probe(b: &[u8], strict: bool) -> Probe {
    let h = match Header::parse(b) {
        Ok(h) => h,
        Err(HeaderError::Incomplete) => {
            let known = [b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"MSG", b"CLO"];
            let n = b.len().min(3);
            return if known.iter().any(|k| k[..n] == b[..n]) {
                Probe::NeedMore
            } else {
                Probe::NoMatch
            };
        }
        Err(_) => return Probe::NoMatch,
    };
    if h.size > MAX_PLAUSIBLE_SIZE {
        return Probe::NoMatch;
    }
    if !strict {
        return Probe::Match;
    }
    let need = (h.size as usize).min(512);
    match h.message_type {
        MessageType::Hello => {
            if b.len() < need {
                return Probe::NeedMore;
            }
            match Hello::parse(&b[HEADER_LEN..need]) {
                Some(hello)
                    if hello.protocol_version == 0
                        && hello
                            .endpoint_url
                            .is_some_and(|u| u.starts_with(b"opc.tcp://")) =>
                {
                    Probe::Match
                }
                _ => Probe::NoMatch,
            }
        }
        MessageType::Open => {
            let mut d = Decoder::new(b.get(HEADER_LEN..).unwrap_or(&[]));
            let policy = d.u32().and_then(|_| d.string());
            match policy {
                Some(Some(p)) if p.starts_with(b"http://opcfoundation.org/UA/SecurityPolicy#") => {
                    Probe::Match
                }
                None if b.len() < need => Probe::NeedMore,
                _ => Probe::NoMatch,
            }
        }
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests;
