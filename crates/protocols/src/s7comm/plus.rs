//! S7comm-plus (protocol id 0x72), the protocol of S7-1200 and S7-1500
//! CPUs and TIA Portal.
//!
//! Siemens publishes no specification. The layout here is the one the
//! public reverse-engineering work documents and the corpus confirms: a
//! 4-octet header (id 0x72, protocol version, data length); version 3
//! starts the data with an integrity part (digest length and digest); a
//! request carries opcode 0x31, two reserved octets, the 16-bit function
//! code, two reserved octets, a sequence number, the session id and a
//! transport flags octet; a response (0x32) the same without the session
//! id and with a variable-length return value; a notification (0x33) the
//! id of the subscription object. A PDU larger than the negotiated size is
//! split into fragments that each start with the header; only the last one
//! ends with the 4-octet trailer (0x72, version, length 0).
//!
//! Object trees are not decoded: only the fields needed to say what an
//! operation does (target object, addresses, a scalar value), bounded.

use plantshield_events::Operation;

use crate::cursor::Cursor;

/// S7comm-plus protocol id.
pub const PROTOCOL_ID: u8 = 0x72;
/// Header and trailer length.
pub const HEADER_LEN: usize = 4;
/// Addresses decoded from a SetVariable request.
pub const MAX_ADDRESSES: usize = 8;

/// One fragment: header, data and whether the trailer closes the PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Protocol version (1, 2 or 3 in the field; 0xFE and 0xFF are used
    /// by keep-alive and system messages).
    pub version: u8,
    /// The data length field.
    pub data_len: u16,
    /// The data.
    pub data: &'a [u8],
    /// The trailer follows the data: this is the last fragment.
    pub last: bool,
    /// Octets after the data that are not a trailer.
    pub trailing: usize,
}

/// Why bytes are not an S7comm-plus fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentError {
    /// Shorter than the header.
    Truncated,
    /// First octet is not 0x72.
    ProtocolId(u8),
    /// The data length exceeds the bytes present.
    Length(u16),
}

/// Parses one fragment (one COTP service data unit).
pub fn parse_fragment(b: &[u8]) -> Result<Fragment<'_>, FragmentError> {
    let mut c = Cursor::new(b);
    let (Some(id), Some(version), Some(data_len)) = (c.u8(), c.u8(), c.u16()) else {
        return Err(FragmentError::Truncated);
    };
    if id != PROTOCOL_ID {
        return Err(FragmentError::ProtocolId(id));
    }
    let data = c
        .bytes(usize::from(data_len))
        .ok_or(FragmentError::Length(data_len))?;
    let rest = c.rest();
    let last = matches!(rest, [PROTOCOL_ID, v, 0, 0] if *v == version);
    Ok(Fragment {
        version,
        data_len,
        data,
        last,
        trailing: if last || rest.is_empty() {
            0
        } else {
            rest.len()
        },
    })
}

/// An S7comm-plus opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

#[allow(missing_docs)]
impl Opcode {
    pub const REQUEST: Opcode = Opcode(0x31);
    pub const RESPONSE: Opcode = Opcode(0x32);
    pub const NOTIFICATION: Opcode = Opcode(0x33);
    pub const RESPONSE2: Opcode = Opcode(0x02);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x31 => "request",
            0x32 => "response",
            0x33 => "notification",
            0x02 => "response2",
            _ => "unknown",
        }
    }
}

/// An S7comm-plus function code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlusFunction(pub u16);

#[allow(missing_docs)]
impl PlusFunction {
    pub const EXPLORE: PlusFunction = PlusFunction(0x04bb);
    pub const CREATE_OBJECT: PlusFunction = PlusFunction(0x04ca);
    pub const DELETE_OBJECT: PlusFunction = PlusFunction(0x04d4);
    pub const SET_VARIABLE: PlusFunction = PlusFunction(0x04f2);
    pub const GET_VARIABLE: PlusFunction = PlusFunction(0x04fc);
    pub const ADD_LINK: PlusFunction = PlusFunction(0x0506);
    pub const REMOVE_LINK: PlusFunction = PlusFunction(0x051a);
    pub const GET_LINK: PlusFunction = PlusFunction(0x0524);
    pub const SET_MULTI_VARIABLES: PlusFunction = PlusFunction(0x0542);
    pub const GET_MULTI_VARIABLES: PlusFunction = PlusFunction(0x054c);
    pub const BEGIN_SEQUENCE: PlusFunction = PlusFunction(0x0556);
    pub const END_SEQUENCE: PlusFunction = PlusFunction(0x0560);
    pub const INVOKE: PlusFunction = PlusFunction(0x056b);
    pub const SET_VAR_SUB_STREAMED: PlusFunction = PlusFunction(0x057c);
    pub const GET_VAR_SUB_STREAMED: PlusFunction = PlusFunction(0x0586);
    pub const GET_VARIABLES_ADDRESS: PlusFunction = PlusFunction(0x0590);
    pub const ABORT: PlusFunction = PlusFunction(0x059a);
    pub const ERROR: PlusFunction = PlusFunction(0x05a9);
    pub const INIT_SSL: PlusFunction = PlusFunction(0x05b3);

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x04bb => "explore",
            0x04ca => "create_object",
            0x04d4 => "delete_object",
            0x04f2 => "set_variable",
            0x04fc => "get_variable",
            0x0506 => "add_link",
            0x051a => "remove_link",
            0x0524 => "get_link",
            0x0542 => "set_multi_variables",
            0x054c => "get_multi_variables",
            0x0556 => "begin_sequence",
            0x0560 => "end_sequence",
            0x056b => "invoke",
            0x057c => "set_var_sub_streamed",
            0x0586 => "get_var_sub_streamed",
            0x0590 => "get_variables_address",
            0x059a => "abort",
            0x05a9 => "error",
            0x05b3 => "init_ssl",
            _ => "unknown",
        }
    }

    /// What the function does in general; the session refines it with
    /// the context (the session object, a download transaction, the CPU
    /// state attribute).
    pub fn operation(self) -> Operation {
        match self.0 {
            0x04bb => Operation::Discovery,
            0x04f2 | 0x0542 | 0x057c => Operation::Write,
            0x04fc | 0x054c | 0x0586 | 0x0590 | 0x0524 => Operation::Read,
            0x056b => Operation::Command,
            0x05b3 => Operation::Session,
            _ => Operation::Other,
        }
    }
}

/// Object id of the null server session: CreateObject addressed to it
/// opens a session (the response carries the new session id).
pub const OBJECT_NULL_SERVER_SESSION: u32 = 0x0120;
/// Object id of the CPU execution unit ("NativeObjects.theCPUexecUnit").
pub const OBJECT_CPU_EXEC_UNIT: u32 = 52;
/// Attribute of the CPU execution unit holding the requested operating
/// state ("CPUexecUnit.operatingStateREQ"); writing it starts or stops
/// the CPU.
pub const ATTRIBUTE_OPERATING_STATE_REQ: u32 = 2167;
/// The name TIA Portal gives the sequence that wraps a program download.
pub const DOWNLOAD_TRANSACTION: &[u8] = b"DLTransaction";

/// The fields of one reassembled S7comm-plus PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlusPdu<'a> {
    /// Protocol version of the first fragment.
    pub version: u8,
    /// The version 3 integrity digest, when present.
    pub digest: Option<&'a [u8]>,
    /// Request, response or notification.
    pub opcode: Opcode,
    /// Function code (requests and responses).
    pub function: Option<PlusFunction>,
    /// Sequence number (requests and responses).
    pub sequence: Option<u16>,
    /// Session id (requests).
    pub session_id: Option<u32>,
    /// Transport flags (requests and responses).
    pub transport_flags: Option<u8>,
    /// Return value (responses); negative (bit 63) means the request failed.
    pub return_value: Option<u64>,
    /// Subscription object id (notifications).
    pub subscription_id: Option<u32>,
    /// Everything after the fields above.
    pub body: &'a [u8],
}

/// Why reassembled data is not a PDU this parser understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlusError {
    /// Too short for the opcode's fixed fields.
    Truncated,
}

/// Parses the reassembled data of a PDU (the data of its fragments, joined).
pub fn parse_pdu(version: u8, data: &[u8]) -> Result<PlusPdu<'_>, PlusError> {
    let mut c = Cursor::new(data);
    let digest = if version == 3 {
        let n = c.u8().ok_or(PlusError::Truncated)?;
        Some(c.bytes(usize::from(n)).ok_or(PlusError::Truncated)?)
    } else {
        None
    };
    let opcode = Opcode(c.u8().ok_or(PlusError::Truncated)?);
    let mut p = PlusPdu {
        version,
        digest,
        opcode,
        function: None,
        sequence: None,
        session_id: None,
        transport_flags: None,
        return_value: None,
        subscription_id: None,
        body: &[],
    };
    match opcode {
        Opcode::REQUEST => {
            let (Some(_), Some(f), Some(_), Some(seq), Some(sid), Some(fl)) =
                (c.u16(), c.u16(), c.u16(), c.u16(), c.u32(), c.u8())
            else {
                return Err(PlusError::Truncated);
            };
            p.function = Some(PlusFunction(f));
            p.sequence = Some(seq);
            p.session_id = Some(sid);
            p.transport_flags = Some(fl);
        }
        Opcode::RESPONSE | Opcode::RESPONSE2 => {
            let (Some(_), Some(f), Some(_), Some(seq), Some(fl)) =
                (c.u16(), c.u16(), c.u16(), c.u16(), c.u8())
            else {
                return Err(PlusError::Truncated);
            };
            p.function = Some(PlusFunction(f));
            p.sequence = Some(seq);
            p.transport_flags = Some(fl);
            p.return_value = vlq_u64(&mut c);
        }
        Opcode::NOTIFICATION => {
            p.subscription_id = Some(c.u32().ok_or(PlusError::Truncated)?);
        }
        _ => {}
    }
    p.body = c.rest();
    Ok(p)
}

impl<'a> PlusPdu<'a> {
    /// The request asks for no response (transport flag 0x40: the
    /// subscription credit SetVariable of HMIs is never answered).
    pub fn no_response_expected(&self) -> bool {
        self.opcode == Opcode::REQUEST && self.transport_flags.is_some_and(|f| f & 0x40 != 0)
    }

    /// The response reports an error (negative return value).
    pub fn is_error(&self) -> bool {
        self.return_value.is_some_and(|v| v >> 63 == 1)
    }

    /// The low 16 bits of a return value: the error code.
    pub fn error_code(&self) -> Option<i16> {
        self.return_value.map(|v| v as u16 as i16)
    }

    /// The object a request acts on, for functions whose body starts with
    /// it (CreateObject: the parent; DeleteObject, SetVariable,
    /// SetMultiVariables: the target).
    pub fn object_id(&self) -> Option<u32> {
        let f = self.function?;
        if self.opcode != Opcode::REQUEST
            || !matches!(
                f,
                PlusFunction::CREATE_OBJECT
                    | PlusFunction::DELETE_OBJECT
                    | PlusFunction::SET_VARIABLE
                    | PlusFunction::SET_MULTI_VARIABLES
            )
        {
            return None;
        }
        Cursor::new(self.body).u32()
    }

    /// A SetVariable request: the attribute addresses (VLQ) and the value.
    pub fn set_variable(&self) -> Option<SetVariable<'a>> {
        if self.opcode != Opcode::REQUEST || self.function != Some(PlusFunction::SET_VARIABLE) {
            return None;
        }
        let mut c = Cursor::new(self.body);
        let object_id = c.u32()?;
        let n = vlq_u32(&mut c)?;
        let mut addresses = [0u32; MAX_ADDRESSES];
        let mut count = 0;
        for i in 0..n {
            let a = vlq_u32(&mut c)?;
            if (i as usize) < MAX_ADDRESSES {
                addresses[i as usize] = a;
                count += 1;
            }
        }
        let flags = c.u8()?;
        let datatype = c.u8()?;
        let value = scalar(datatype, &mut c);
        Some(SetVariable {
            object_id,
            address_count: n,
            addresses,
            count,
            flags,
            datatype,
            value,
            rest: c.rest(),
        })
    }

    /// True when the request body names the download transaction.
    pub fn names_download_transaction(&self) -> bool {
        self.body
            .windows(DOWNLOAD_TRANSACTION.len())
            .any(|w| w == DOWNLOAD_TRANSACTION)
    }
}

/// The decoded head of a SetVariable request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetVariable<'a> {
    /// Object written.
    pub object_id: u32,
    /// Addresses announced.
    pub address_count: u32,
    addresses: [u32; MAX_ADDRESSES],
    count: usize,
    /// Value flags.
    pub flags: u8,
    /// Value data type.
    pub datatype: u8,
    /// The value, for integer and boolean types.
    pub value: Option<u64>,
    /// Octets after the value.
    pub rest: &'a [u8],
}

impl SetVariable<'_> {
    /// The attribute addresses (at most [`MAX_ADDRESSES`]).
    pub fn addresses(&self) -> &[u32] {
        &self.addresses[..self.count]
    }

    /// Writing the CPU's requested operating state (start or stop).
    pub fn is_operating_state_request(&self) -> bool {
        self.object_id == OBJECT_CPU_EXEC_UNIT
            && self.addresses().first() == Some(&ATTRIBUTE_OPERATING_STATE_REQ)
    }
}

/// A scalar value of the integer and boolean data types: fixed-size for
/// 8- and 16-bit types, VLQ for 32- and 64-bit types.
fn scalar(datatype: u8, c: &mut Cursor<'_>) -> Option<u64> {
    match datatype {
        0x01 | 0x02 | 0x06 | 0x0a => c.u8().map(u64::from),
        0x03 | 0x07 | 0x0b => c.u16().map(u64::from),
        0x04 | 0x08 => vlq_u32(c).map(u64::from),
        0x05 | 0x09 => vlq_u64(c),
        0x0c => c.u32().map(u64::from),
        _ => None,
    }
}

/// A variable-length unsigned 32-bit integer: 7 bits per octet, most
/// significant first, high bit set on every octet but the last (at most 5).
pub fn vlq_u32(c: &mut Cursor<'_>) -> Option<u32> {
    let mut v: u32 = 0;
    for _ in 0..5 {
        let b = c.u8()?;
        v = (v << 7) | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// A variable-length unsigned 64-bit integer: like [`vlq_u32`], except
/// that a ninth octet contributes all 8 bits.
pub fn vlq_u64(c: &mut Cursor<'_>) -> Option<u64> {
    let mut v: u64 = 0;
    for _ in 0..8 {
        let b = c.u8()?;
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    let b = c.u8()?;
    Some((v << 8) | u64::from(b))
}
