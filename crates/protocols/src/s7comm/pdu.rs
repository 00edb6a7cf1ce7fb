//! The S7comm PDU: header, Job and Ack-Data parameters, variable items and
//! data items, block control and program invocation.

use super::codes::{
    Area, DataTransportSize, ErrorClass, ErrorCode, Function, PiService, ReturnCode, Rosctr,
    TransportSize,
};
use crate::cursor::Cursor;

/// S7comm's protocol id, the first octet of every PDU.
pub const PROTOCOL_ID: u8 = 0x32;
/// Header length of Job and Userdata PDUs.
pub const HEADER_LEN: usize = 10;
/// Header length of Ack and Ack-Data PDUs (error class and code added).
pub const ACK_HEADER_LEN: usize = 12;
/// Items per read or write request: the item count is one octet.
pub const MAX_ITEMS: usize = 255;

/// The S7comm header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The PDU type.
    pub rosctr: Rosctr,
    /// Redundancy identification (reserved, 0).
    pub redundancy_id: u16,
    /// Chosen by the requester and echoed in the reply.
    pub pdu_ref: u16,
    /// Octets of the parameter part.
    pub param_len: u16,
    /// Octets of the data part.
    pub data_len: u16,
    /// Error class of Ack and Ack-Data.
    pub error_class: Option<ErrorClass>,
    /// Error code within the class.
    pub error_code: Option<u8>,
}

impl Header {
    /// Error class and code as one 16-bit code (0 when absent).
    pub fn error(&self) -> ErrorCode {
        ErrorCode(
            u16::from(self.error_class.map_or(0, |c| c.0)) << 8
                | u16::from(self.error_code.unwrap_or(0)),
        )
    }
}

/// One S7comm PDU, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// The header.
    pub header: Header,
    /// The parameter part.
    pub param: &'a [u8],
    /// The data part.
    pub data: &'a [u8],
    /// Octets after the data part (none in a well-formed PDU).
    pub trailing: usize,
}

/// Why bytes are not an S7comm PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PduError {
    /// Shorter than its header.
    Truncated,
    /// First octet is not 0x32.
    ProtocolId(u8),
    /// Parameter and data lengths exceed the PDU.
    Lengths {
        /// Declared parameter length.
        param_len: u16,
        /// Declared data length.
        data_len: u16,
        /// Octets after the header.
        available: usize,
    },
}

/// Parses one S7comm PDU (a whole COTP service data unit).
pub fn parse_pdu(b: &[u8]) -> Result<Pdu<'_>, PduError> {
    match parse_pdu_lenient(b)? {
        (p, false) => Ok(p),
        (p, true) => Err(PduError::Lengths {
            param_len: p.header.param_len,
            data_len: p.header.data_len,
            available: p.param.len() + p.data.len(),
        }),
    }
}

/// Like [`parse_pdu`], but a PDU whose header announces more parameter or
/// data octets than it has keeps what is there; the flag says so.
pub fn parse_pdu_lenient(b: &[u8]) -> Result<(Pdu<'_>, bool), PduError> {
    let mut c = Cursor::new(b);
    let id = c.u8().ok_or(PduError::Truncated)?;
    if id != PROTOCOL_ID {
        return Err(PduError::ProtocolId(id));
    }
    let (Some(rosctr), Some(redundancy_id), Some(pdu_ref), Some(param_len), Some(data_len)) =
        (c.u8(), c.u16(), c.u16(), c.u16(), c.u16())
    else {
        return Err(PduError::Truncated);
    };
    let rosctr = Rosctr(rosctr);
    let (error_class, error_code) = if rosctr.has_error_fields() {
        let (Some(class), Some(code)) = (c.u8(), c.u8()) else {
            return Err(PduError::Truncated);
        };
        (Some(ErrorClass(class)), Some(code))
    } else {
        (None, None)
    };
    let rest = c.rest();
    let pl = usize::from(param_len).min(rest.len());
    let (param, rest) = rest.split_at(pl);
    let dl = usize::from(data_len).min(rest.len());
    let (data, rest) = rest.split_at(dl);
    let short = pl < usize::from(param_len) || dl < usize::from(data_len);
    let pdu = Pdu {
        header: Header {
            rosctr,
            redundancy_id,
            pdu_ref,
            param_len,
            data_len,
            error_class,
            error_code,
        },
        param,
        data,
        trailing: rest.len(),
    };
    Ok((pdu, short))
}

/// The parameters of Setup Communication (Job and Ack-Data alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Parallel jobs the calling side accepts ("max AmQ calling").
    pub max_amq_calling: u16,
    /// Parallel jobs the called side accepts ("max AmQ called").
    pub max_amq_called: u16,
    /// Largest PDU proposed (Job) or granted (Ack-Data).
    pub pdu_length: u16,
}

/// The address of one variable (S7ANY syntax: type, count, DB, area, bit address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnyAddress {
    /// Data type of the elements.
    pub transport_size: TransportSize,
    /// Number of elements.
    pub length: u16,
    /// Data block number (areas DB and DI).
    pub db_number: u16,
    /// Memory area.
    pub area: Area,
    /// Byte address (for counters and timers: their number).
    pub byte_address: u32,
    /// Bit within the byte.
    pub bit_address: u8,
}

/// One variable specification of Read Var or Write Var.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarItem<'a> {
    /// Syntax of the address that follows (0x10 S7ANY; 0xB0 DBREAD, 0xA2
    /// drive parameters, 0x82 and 0xB2 symbolic 1200 access, ...).
    pub syntax_id: u8,
    /// The address when the syntax is S7ANY.
    pub any: Option<AnyAddress>,
    /// The address bytes after the syntax id (every syntax).
    pub spec: &'a [u8],
}

/// Syntax id of the classic S7ANY address.
pub const SYNTAX_S7ANY: u8 = 0x10;

/// The variable specifications of a Read or Write Var parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarItems<'a> {
    /// The item count octet.
    pub count: u8,
    rest: &'a [u8],
}

impl<'a> VarItems<'a> {
    /// The items that can be read (at most `count`).
    pub fn iter(&self) -> VarItemIter<'a> {
        VarItemIter {
            c: Cursor::new(self.rest),
            left: self.count,
        }
    }

    /// True when the items present are fewer than `count` or bytes are left over.
    pub fn inconsistent(&self) -> bool {
        let mut it = self.iter();
        let n = it.by_ref().count();
        n != usize::from(self.count) || it.c.remaining() != 0
    }
}

/// Iterator over [`VarItems`].
pub struct VarItemIter<'a> {
    c: Cursor<'a>,
    left: u8,
}

impl<'a> Iterator for VarItemIter<'a> {
    type Item = VarItem<'a>;
    fn next(&mut self) -> Option<VarItem<'a>> {
        if self.left == 0 {
            return None;
        }
        let mut c = self.c;
        // Variable specification 0x12, length of what follows, syntax id.
        let _spec_type = c.u8()?;
        let len = c.u8()?;
        let body = c.bytes(usize::from(len))?;
        self.c = c;
        self.left -= 1;
        let mut b = Cursor::new(body);
        let syntax_id = b.u8()?;
        let spec = b.rest();
        let any = if syntax_id == SYNTAX_S7ANY {
            let (Some(ts), Some(length), Some(db), Some(area), Some(addr)) =
                (b.u8(), b.u16(), b.u16(), b.u8(), b.bytes(3))
            else {
                return Some(VarItem {
                    syntax_id,
                    any: None,
                    spec,
                });
            };
            let a = u32::from(addr[0]) << 16 | u32::from(addr[1]) << 8 | u32::from(addr[2]);
            let area = Area(area);
            let (byte_address, bit_address) = if area.numbered() {
                (a & 0xffff, 0)
            } else {
                ((a >> 3) & 0xffff, (a & 7) as u8)
            };
            Some(AnyAddress {
                transport_size: TransportSize(ts),
                length,
                db_number: db,
                area,
                byte_address,
                bit_address,
            })
        } else {
            None
        };
        Some(VarItem {
            syntax_id,
            any,
            spec,
        })
    }
}

/// One data item of Write Var (request) or Read Var (response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataItem<'a> {
    /// 0x00 in requests; 0xFF success or an error in responses.
    pub return_code: ReturnCode,
    /// How the length counts.
    pub transport_size: DataTransportSize,
    /// The length field as sent.
    pub length: u16,
    /// The value bytes (none when the item failed).
    pub value: &'a [u8],
}

/// Iterator over the data items of a data part.
#[derive(Clone, Copy, Debug)]
pub struct DataItems<'a> {
    c: Cursor<'a>,
    /// A value shorter than its length field was cut off.
    pub truncated: bool,
}

impl<'a> DataItems<'a> {
    /// The items of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        DataItems {
            c: Cursor::new(data),
            truncated: false,
        }
    }
}

impl<'a> Iterator for DataItems<'a> {
    type Item = DataItem<'a>;
    fn next(&mut self) -> Option<DataItem<'a>> {
        let (Some(rc), Some(ts), Some(length)) = (self.c.u8(), self.c.u8(), self.c.u16()) else {
            return None;
        };
        let return_code = ReturnCode(rc);
        let transport_size = DataTransportSize(ts);
        // A failed item (response code other than success, and not the
        // 0x00 of a request) carries no value whatever its length says.
        let n = if rc == 0xff || rc == 0x00 {
            transport_size.byte_len(length)
        } else {
            0
        };
        let value = match self.c.bytes(n) {
            Some(v) => v,
            None => {
                self.truncated = true;
                self.c.take_rest()
            }
        };
        // Values of odd length are padded to an even boundary, except after
        // the last item.
        if n % 2 == 1 && self.c.remaining() > 0 {
            self.c.u8();
        }
        Some(DataItem {
            return_code,
            transport_size,
            length,
            value,
        })
    }
}

/// A block file name (`_0800001P`: file identifier, block type, number,
/// destination file system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockFile<'a> {
    /// The name as sent.
    pub raw: &'a [u8],
    /// Block type code (`08` OB, `0A` DB, ...), when the name is well formed.
    pub block_type: Option<u8>,
    /// Block number.
    pub block_number: Option<u32>,
    /// `P` passive, `A` active, `B` both.
    pub filesystem: Option<u8>,
}

impl<'a> BlockFile<'a> {
    /// Parses `raw`; the leading file identifier (`_`) is optional so that
    /// the 8-octet names of PI services and block info parse alike.
    pub fn parse(raw: &'a [u8]) -> BlockFile<'a> {
        let body = match raw {
            [b'_', rest @ ..] => rest,
            other => other,
        };
        let block_type = body.get(0..2).and_then(hex2);
        let block_number = body.get(2..7).and_then(decimal);
        let filesystem = body.get(7).copied().filter(u8::is_ascii_alphabetic);
        BlockFile {
            raw,
            block_type,
            block_number,
            filesystem,
        }
    }
}

/// Two ASCII hex digits.
pub(crate) fn hex2(b: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(b).ok()?;
    u8::from_str_radix(s, 16).ok()
}

/// ASCII decimal digits (at most 9).
pub(crate) fn decimal(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// The parameter of a block control job (0x1A-0x1F).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockControl<'a> {
    /// Function status: bit 0 more data follows, bit 1 error.
    pub status: u8,
    /// Error code (End Upload, Download Ended) or unknown octets.
    pub error_code: u16,
    /// Upload id (upload functions).
    pub upload_id: u32,
    /// The block file, when the function names one.
    pub file: Option<BlockFile<'a>>,
    /// Request Download: load memory length (from part 2).
    pub load_memory_length: Option<u32>,
    /// Request Download: MC7 code length (from part 2).
    pub mc7_length: Option<u32>,
}

/// A PI service (Job 0x28) or PLC stop (Job 0x29) parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiRequest<'a> {
    /// The service name (`P_PROGRAM`, `_INSE`, ...).
    pub service: PiService<'a>,
    /// The parameter block (arguments), empty for PLC stop.
    pub parameter_block: &'a [u8],
}

impl<'a> PiRequest<'a> {
    /// Blocks named by `_INSE` and `_DELE`: a count, a reserved octet,
    /// then 8-octet block names.
    pub fn blocks(&self) -> impl Iterator<Item = BlockFile<'a>> + 'a {
        let pb = self.parameter_block;
        let is_block_service = matches!(self.service.0, b"_INSE" | b"_DELE");
        let n = if is_block_service {
            usize::from(pb.first().copied().unwrap_or(0))
        } else {
            0
        };
        pb.get(2..)
            .unwrap_or_default()
            .chunks_exact(8)
            .take(n)
            .map(BlockFile::parse)
    }

    /// The arguments of other services, separated as sent: a list of
    /// length-prefixed strings is not used by S7-300/400 PI services; the
    /// block is one string (`C ` for a cold start, `EP` for copy RAM to ROM).
    pub fn argument(&self) -> Option<&'a [u8]> {
        if matches!(self.service.0, b"_INSE" | b"_DELE") || self.parameter_block.is_empty() {
            None
        } else {
            Some(self.parameter_block)
        }
    }
}

/// The parameter of a Job PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobParam<'a> {
    /// 0xF0.
    Setup(Setup),
    /// 0x04.
    ReadVar(VarItems<'a>),
    /// 0x05.
    WriteVar(VarItems<'a>),
    /// 0x1A-0x1F.
    BlockControl(Function, BlockControl<'a>),
    /// 0x28 and 0x29.
    Pi(Function, PiRequest<'a>),
    /// Any other function: its parameter bytes.
    Other(Function, &'a [u8]),
    /// The parameter is shorter than its function's fixed fields.
    Malformed(Function, &'a [u8]),
}

impl JobParam<'_> {
    /// The function.
    pub fn function(&self) -> Function {
        match *self {
            JobParam::Setup(_) => Function::SETUP_COMMUNICATION,
            JobParam::ReadVar(_) => Function::READ_VAR,
            JobParam::WriteVar(_) => Function::WRITE_VAR,
            JobParam::BlockControl(f, _)
            | JobParam::Pi(f, _)
            | JobParam::Other(f, _)
            | JobParam::Malformed(f, _) => f,
        }
    }
}

/// Interprets the parameter part of a Job PDU.
pub fn parse_job(param: &[u8]) -> Option<JobParam<'_>> {
    let mut c = Cursor::new(param);
    let f = Function(c.u8()?);
    let rest = c.rest();
    let malformed = JobParam::Malformed(f, rest);
    Some(match f.0 {
        0xf0 => match parse_setup(rest) {
            Some(s) => JobParam::Setup(s),
            None => malformed,
        },
        0x04 | 0x05 => {
            let Some(count) = c.u8() else {
                return Some(malformed);
            };
            let items = VarItems {
                count,
                rest: c.rest(),
            };
            if f.0 == 0x04 {
                JobParam::ReadVar(items)
            } else {
                JobParam::WriteVar(items)
            }
        }
        0x1a..=0x1f => match parse_block_control(f, rest) {
            Some(b) => JobParam::BlockControl(f, b),
            None => malformed,
        },
        0x28 => {
            // Seven unknown octets, parameter block length and block,
            // service name length and name.
            let (Some(_), Some(pbl)) = (c.bytes(7), c.u16()) else {
                return Some(malformed);
            };
            let (Some(parameter_block), Some(sl)) = (c.bytes(usize::from(pbl)), c.u8()) else {
                return Some(malformed);
            };
            let Some(service) = c.bytes(usize::from(sl)) else {
                return Some(malformed);
            };
            JobParam::Pi(
                f,
                PiRequest {
                    service: PiService(service),
                    parameter_block,
                },
            )
        }
        0x29 => {
            // Five unknown octets, then the PI service name with its length.
            let (Some(_), Some(sl)) = (c.bytes(5), c.u8()) else {
                return Some(malformed);
            };
            let Some(service) = c.bytes(usize::from(sl)) else {
                return Some(malformed);
            };
            JobParam::Pi(
                f,
                PiRequest {
                    service: PiService(service),
                    parameter_block: &[],
                },
            )
        }
        _ => JobParam::Other(f, rest),
    })
}

fn parse_setup(b: &[u8]) -> Option<Setup> {
    let mut c = Cursor::new(b);
    let (_reserved, max_amq_calling, max_amq_called, pdu_length) =
        (c.u8()?, c.u16()?, c.u16()?, c.u16()?);
    Some(Setup {
        max_amq_calling,
        max_amq_called,
        pdu_length,
    })
}

fn parse_block_control<'a>(f: Function, b: &'a [u8]) -> Option<BlockControl<'a>> {
    let mut c = Cursor::new(b);
    // Function status, two octets (unknown, or End Upload's error code),
    // the upload id, then (except Upload and End Upload) the file name.
    let (status, error_code, upload_id) = (c.u8()?, c.u16()?, c.u32()?);
    let mut bc = BlockControl {
        status,
        error_code,
        upload_id,
        file: None,
        load_memory_length: None,
        mc7_length: None,
    };
    if matches!(f.0, 0x1a..=0x1d) {
        let n = c.u8()?;
        bc.file = Some(BlockFile::parse(c.bytes(usize::from(n))?));
    }
    if f.0 == 0x1a {
        // Part 2: one character, then load memory and MC7 lengths as six
        // ASCII digits each.
        if let Some(n) = c.u8() {
            if let Some(p2) = c.bytes(usize::from(n)) {
                bc.load_memory_length = p2.get(1..7).and_then(decimal);
                bc.mc7_length = p2.get(7..13).and_then(decimal);
            }
        }
    }
    Some(bc)
}

/// The parameter of an Ack-Data PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckParam<'a> {
    /// 0xF0: what the partner granted.
    Setup(Setup),
    /// 0x04 and 0x05: the item count; the data part holds the items.
    Items(Function, u8),
    /// Start Upload: the upload id and the block length (ASCII decimal).
    StartUpload {
        /// Function status.
        status: u8,
        /// Identifies the upload in later Upload jobs.
        upload_id: u32,
        /// Block length in octets.
        block_length: Option<u32>,
    },
    /// Upload and Download Block: function status (bit 0: more data).
    BlockData(Function, u8),
    /// Any other function: its remaining parameter bytes.
    Other(Function, &'a [u8]),
    /// Shorter than the function's fixed fields.
    Malformed(Function, &'a [u8]),
}

impl AckParam<'_> {
    /// The function.
    pub fn function(&self) -> Function {
        match *self {
            AckParam::Setup(_) => Function::SETUP_COMMUNICATION,
            AckParam::StartUpload { .. } => Function::START_UPLOAD,
            AckParam::Items(f, _)
            | AckParam::BlockData(f, _)
            | AckParam::Other(f, _)
            | AckParam::Malformed(f, _) => f,
        }
    }
}

/// Interprets the parameter part of an Ack-Data PDU (empty for Ack).
pub fn parse_ack(param: &[u8]) -> Option<AckParam<'_>> {
    let mut c = Cursor::new(param);
    let f = Function(c.u8()?);
    let rest = c.rest();
    let malformed = AckParam::Malformed(f, rest);
    Some(match f.0 {
        0xf0 => match parse_setup(rest) {
            Some(s) => AckParam::Setup(s),
            None => malformed,
        },
        0x04 | 0x05 => match c.u8() {
            Some(n) => AckParam::Items(f, n),
            None => malformed,
        },
        0x1d => {
            let (Some(status), Some(_), Some(upload_id)) = (c.u8(), c.u16(), c.u32()) else {
                return Some(malformed);
            };
            let block_length = c
                .u8()
                .and_then(|n| c.bytes(usize::from(n)))
                .and_then(decimal);
            AckParam::StartUpload {
                status,
                upload_id,
                block_length,
            }
        }
        0x1b | 0x1e => match c.u8() {
            Some(s) => AckParam::BlockData(f, s),
            None => malformed,
        },
        _ => AckParam::Other(f, rest),
    })
}

/// The data part of Upload and Download Block acknowledgements: a length,
/// two unknown octets, then the block bytes.
pub fn block_data(data: &[u8]) -> Option<(u16, &[u8])> {
    let mut c = Cursor::new(data);
    let len = c.u16()?;
    c.u16()?;
    Some((len, c.rest()))
}
