//! The encapsulation layer: header, commands, status codes and the
//! command-specific data of every command (CIP Vol. 2, chapter 2).

use plantshield_events::Operation;

use super::cpf::{Cpf, CpfError};
use super::identity::ListIdentityItem;
use crate::cursor::Cursor;

/// Encapsulation header length (Vol. 2 §2-3.1).
pub const HEADER_LEN: usize = 24;
/// Largest data portion: a whole encapsulation message fits 65535 bytes
/// (Vol. 2 §2-3.1).
pub const MAX_DATA_LEN: usize = 65_535 - HEADER_LEN;

/// An encapsulation command code (Vol. 2 §2-3.2, Table 2-3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Command(pub u16);

#[allow(missing_docs)]
impl Command {
    pub const NOP: Command = Command(0x0000);
    pub const LIST_SERVICES: Command = Command(0x0004);
    pub const LIST_IDENTITY: Command = Command(0x0063);
    pub const LIST_INTERFACES: Command = Command(0x0064);
    pub const REGISTER_SESSION: Command = Command(0x0065);
    pub const UNREGISTER_SESSION: Command = Command(0x0066);
    pub const SEND_RR_DATA: Command = Command(0x006F);
    pub const SEND_UNIT_DATA: Command = Command(0x0070);
    pub const INDICATE_STATUS: Command = Command(0x0072);
    pub const CANCEL: Command = Command(0x0073);
    pub const START_DTLS: Command = Command(0x00C8);
}

impl Command {
    /// snake_case name; `reserved_legacy` for the codes the specification
    /// keeps for Rockwell's earlier products (0x0001-0x0003, 0x0005-0x0062,
    /// 0x0067-0x006E), `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000 => "nop",
            0x0004 => "list_services",
            0x0063 => "list_identity",
            0x0064 => "list_interfaces",
            0x0065 => "register_session",
            0x0066 => "unregister_session",
            0x006F => "send_rr_data",
            0x0070 => "send_unit_data",
            0x0072 => "indicate_status",
            0x0073 => "cancel",
            0x00C8 => "start_dtls",
            0x0001..=0x0003 | 0x0005..=0x0062 | 0x0067..=0x006E => "reserved_legacy",
            _ => "unknown",
        }
    }

    /// True for a command the specification defines.
    pub fn is_known(self) -> bool {
        !matches!(self.name(), "reserved_legacy" | "unknown")
    }

    /// What an encapsulation-only transaction of this command does.
    pub fn operation(self) -> Operation {
        match self.0 {
            0x0004 | 0x0063 | 0x0064 => Operation::Discovery,
            0x0065 | 0x0066 | 0x00C8 => Operation::Session,
            _ => Operation::Other,
        }
    }

    /// Commands that carry no reply (Vol. 2 §2-4: NOP and UnRegisterSession
    /// are never answered; SendUnitData is answered through the connection,
    /// by another SendUnitData).
    pub fn expects_reply(self) -> bool {
        !matches!(self.0, 0x0000 | 0x0066)
    }
}

/// An encapsulation status code (Vol. 2 §2-3.3, Table 2-3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncapStatus(pub u32);

impl EncapStatus {
    /// snake_case name; `unknown` for undefined codes.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000 => "success",
            0x0001 => "invalid_command",
            0x0002 => "insufficient_memory",
            0x0003 => "incorrect_data",
            0x0064 => "invalid_session_handle",
            0x0065 => "invalid_length",
            0x0069 => "unsupported_protocol_revision",
            0x006A => "encapsulated_cip_service_not_allowed_on_this_port",
            _ => "unknown",
        }
    }
}

/// The encapsulation header (Vol. 2 §2-3.1). Little-endian throughout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the message is.
    pub command: Command,
    /// Bytes of data after the header.
    pub length: u16,
    /// Session handle from RegisterSession (0 before that).
    pub session_handle: u32,
    /// 0 in requests; the receiver's verdict in replies.
    pub status: EncapStatus,
    /// Copied unchanged by the receiver into its reply.
    pub sender_context: [u8; 8],
    /// Must be 0: a receiver discards a message with other options.
    pub options: u32,
}

/// Why 24 bytes are not an encapsulation header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 24 bytes.
    Incomplete,
    /// Options field other than 0 (Vol. 2 §2-3.5: the message is discarded).
    Options(u32),
    /// Length beyond [`MAX_DATA_LEN`].
    Length(u16),
}

impl Header {
    /// Reads and validates the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        let mut c = Cursor::new(b);
        let (Some(command), Some(length), Some(session_handle), Some(status)) =
            (c.u16_le(), c.u16_le(), c.u32_le(), c.u32_le())
        else {
            return Err(HeaderError::Incomplete);
        };
        let (Some(ctx), Some(options)) = (c.bytes(8), c.u32_le()) else {
            return Err(HeaderError::Incomplete);
        };
        if options != 0 {
            return Err(HeaderError::Options(options));
        }
        if usize::from(length) > MAX_DATA_LEN {
            return Err(HeaderError::Length(length));
        }
        let mut sender_context = [0u8; 8];
        sender_context.copy_from_slice(ctx);
        Ok(Header {
            command: Command(command),
            length,
            session_handle,
            status: EncapStatus(status),
            sender_context,
            options,
        })
    }

    /// Length of the whole message (header plus data).
    pub fn pdu_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length)
    }

    /// Writes the header (for crafting).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.command.0.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.session_handle.to_le_bytes());
        out.extend_from_slice(&self.status.0.to_le_bytes());
        out.extend_from_slice(&self.sender_context);
        out.extend_from_slice(&self.options.to_le_bytes());
    }
}

/// The command-specific data of one encapsulation message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// No data (requests of NOP, the List commands, UnRegisterSession).
    Empty,
    /// RegisterSession request and reply (Vol. 2 §2-4.4).
    RegisterSession {
        /// Encapsulation protocol version (1).
        protocol_version: u16,
        /// Options flags (0).
        options_flags: u16,
    },
    /// ListIdentity reply (Vol. 2 §2-4.2): the first CIP Identity item.
    ListIdentity {
        /// Items announced.
        item_count: u16,
        /// The identity item, if the reply carries a well-formed one.
        identity: Option<ListIdentityItem<'a>>,
    },
    /// ListServices reply (Vol. 2 §2-4.6): the communications service.
    ListServices {
        /// Items announced.
        item_count: u16,
        /// Version of the first service item.
        version: u16,
        /// Capability flags (bit 5: CIP over TCP, bit 8: class 0/1 over UDP).
        capability_flags: u16,
        /// Name of the service, NUL-padded ("Communications").
        name: &'a [u8],
    },
    /// ListInterfaces reply (Vol. 2 §2-4.3).
    ListInterfaces {
        /// Interfaces announced (usually 0).
        item_count: u16,
    },
    /// SendRRData and SendUnitData (Vol. 2 §2-4.7, §2-4.8).
    Send {
        /// 0 for CIP.
        interface_handle: u32,
        /// Seconds (SendRRData; 0 for SendUnitData).
        timeout: u16,
        /// The Common Packet Format items.
        cpf: Cpf<'a>,
    },
    /// Data of a command without a defined layout (NOP, unknown commands).
    Raw(&'a [u8]),
    /// Data too short for the command's fields, or a broken item list.
    Malformed {
        /// The data.
        data: &'a [u8],
        /// What is wrong.
        reason: &'static str,
    },
}

/// Parses the data of a message with header `h`. `reply` tells a reply
/// (towards the originator) from a request; the List commands carry data
/// only in replies. Never fails: broken data becomes [`Body::Malformed`].
pub fn parse_body<'a>(h: &Header, data: &'a [u8], reply: bool) -> Body<'a> {
    body(h, data, reply).unwrap_or_else(|reason| Body::Malformed { data, reason })
}

fn body<'a>(h: &Header, data: &'a [u8], reply: bool) -> Result<Body<'a>, &'static str> {
    let mut c = Cursor::new(data);
    let short = "data too short for the command's fields";
    if data.is_empty() && h.status.0 != 0 {
        // An error reply carries no command-specific data (Vol. 2 §2-3.3).
        return Ok(Body::Empty);
    }
    match h.command {
        Command::REGISTER_SESSION => Ok(Body::RegisterSession {
            protocol_version: c.u16_le().ok_or(short)?,
            options_flags: c.u16_le().ok_or(short)?,
        }),
        Command::LIST_IDENTITY | Command::LIST_SERVICES | Command::LIST_INTERFACES
            if !reply || data.is_empty() =>
        {
            if data.is_empty() {
                Ok(Body::Empty)
            } else {
                Ok(Body::Raw(data))
            }
        }
        Command::LIST_IDENTITY => {
            let cpf = Cpf::parse(data).map_err(CpfError::reason)?;
            let identity = cpf
                .items()
                .find(|i| i.type_id == super::cpf::ItemType::LIST_IDENTITY)
                .and_then(|i| ListIdentityItem::parse(i.data));
            Ok(Body::ListIdentity {
                item_count: cpf.item_count,
                identity,
            })
        }
        Command::LIST_SERVICES => {
            let cpf = Cpf::parse(data).map_err(CpfError::reason)?;
            let item = cpf.items().next().ok_or("no service item")?;
            let mut s = Cursor::new(item.data);
            Ok(Body::ListServices {
                item_count: cpf.item_count,
                version: s.u16_le().ok_or(short)?,
                capability_flags: s.u16_le().ok_or(short)?,
                name: trim_nul(s.take_rest()),
            })
        }
        Command::LIST_INTERFACES => Ok(Body::ListInterfaces {
            item_count: c.u16_le().ok_or(short)?,
        }),
        Command::SEND_RR_DATA | Command::SEND_UNIT_DATA => {
            let interface_handle = c.u32_le().ok_or(short)?;
            let timeout = c.u16_le().ok_or(short)?;
            let cpf = Cpf::parse(c.rest()).map_err(CpfError::reason)?;
            Ok(Body::Send {
                interface_handle,
                timeout,
                cpf,
            })
        }
        _ if data.is_empty() => Ok(Body::Empty),
        _ => Ok(Body::Raw(data)),
    }
}

/// Drops trailing NUL padding from a fixed-size name field.
pub(crate) fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    &b[..end]
}
