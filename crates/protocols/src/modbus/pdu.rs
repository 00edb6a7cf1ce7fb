//! Request and response PDUs for every public function code (AP §6).

use super::codes::{ExceptionCode, FunctionCode, MeiType, SubFunction};
use super::device_id::DeviceId;
use crate::cursor::Cursor;

/// What the parser found wrong but kept (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u32);

crate::flag_set!(Flags, u32);

impl Flags {
    /// A quantity outside the function's range (e.g. 1..=125 registers for FC 3).
    pub const QUANTITY_OUT_OF_RANGE: u32 = 1 << 0;
    /// A byte count disagrees with the quantity or with the bytes present.
    pub const BYTE_COUNT_MISMATCH: u32 = 1 << 1;
    /// FC 5 value other than 0x0000 or 0xFF00.
    pub const INVALID_COIL_VALUE: u32 = 1 << 2;
    /// Address plus quantity runs past 65535.
    pub const ADDRESS_OVERFLOW: u32 = 1 << 3;
    /// Bytes after the function's last field.
    pub const TRAILING_BYTES: u32 = 1 << 4;
    /// A response that does not answer its request (count or echo differs).
    pub const RESPONSE_MISMATCH: u32 = 1 << 5;
    /// A reserved diagnostics sub-function or MEI type.
    pub const RESERVED_SUB_FUNCTION: u32 = 1 << 6;
    /// Read Device ID code outside 1..=4.
    pub const INVALID_READ_DEVICE_ID_CODE: u32 = 1 << 7;
    /// A file record reference type other than 6, or a file number of 0.
    pub const INVALID_FILE_REFERENCE: u32 = 1 << 8;
    /// The response's function code differs from the request's.
    pub const FUNCTION_MISMATCH: u32 = 1 << 9;
    /// A request with the exception bit (0x80) set in its function code.
    pub const EXCEPTION_BIT_IN_REQUEST: u32 = 1 << 10;

    const NAMES: [(u32, &'static str); 11] = [
        (Self::QUANTITY_OUT_OF_RANGE, "quantity_out_of_range"),
        (Self::BYTE_COUNT_MISMATCH, "byte_count_mismatch"),
        (Self::INVALID_COIL_VALUE, "invalid_coil_value"),
        (Self::ADDRESS_OVERFLOW, "address_overflow"),
        (Self::TRAILING_BYTES, "trailing_bytes"),
        (Self::RESPONSE_MISMATCH, "response_mismatch"),
        (Self::RESERVED_SUB_FUNCTION, "reserved_sub_function"),
        (
            Self::INVALID_READ_DEVICE_ID_CODE,
            "invalid_read_device_id_code",
        ),
        (Self::INVALID_FILE_REFERENCE, "invalid_file_reference"),
        (Self::FUNCTION_MISMATCH, "function_mismatch"),
        (Self::EXCEPTION_BIT_IN_REQUEST, "exception_bit_in_request"),
    ];

    fn set(&mut self, bit: u32, cond: bool) {
        if cond {
            self.0 |= bit;
        }
    }
}

/// A parsed request PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The function code.
    pub function: FunctionCode,
    /// The function's fields.
    pub body: RequestBody<'a>,
    /// Findings.
    pub flags: Flags,
}

/// Request fields by function (AP §6.1-§6.21).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody<'a> {
    /// FC 1, 2.
    ReadBits { address: u16, quantity: u16 },
    /// FC 3, 4.
    ReadRegisters { address: u16, quantity: u16 },
    /// FC 5: value 0xFF00 is ON, 0x0000 OFF.
    WriteSingleCoil { address: u16, value: u16 },
    /// FC 6.
    WriteSingleRegister { address: u16, value: u16 },
    /// FC 7, 11, 12, 17: no fields.
    NoData,
    /// FC 8.
    Diagnostics {
        sub_function: SubFunction,
        data: &'a [u8],
    },
    /// FC 15: packed coil values, LSB first.
    WriteMultipleCoils {
        address: u16,
        quantity: u16,
        byte_count: u8,
        values: &'a [u8],
    },
    /// FC 16: big-endian register values.
    WriteMultipleRegisters {
        address: u16,
        quantity: u16,
        byte_count: u8,
        values: &'a [u8],
    },
    /// FC 20.
    ReadFileRecord {
        byte_count: u8,
        sub_requests: FileSubRequests<'a>,
    },
    /// FC 21.
    WriteFileRecord {
        data_length: u8,
        sub_requests: FileSubRequests<'a>,
    },
    /// FC 22: result = (current AND and_mask) OR (or_mask AND NOT and_mask).
    MaskWriteRegister {
        address: u16,
        and_mask: u16,
        or_mask: u16,
    },
    /// FC 23: the write happens before the read.
    ReadWriteMultipleRegisters {
        read_address: u16,
        read_quantity: u16,
        write_address: u16,
        write_quantity: u16,
        byte_count: u8,
        values: &'a [u8],
    },
    /// FC 24.
    ReadFifoQueue { address: u16 },
    /// FC 43 / MEI 14.
    ReadDeviceId { read_code: u8, object_id: u8 },
    /// FC 43 with another MEI type.
    Mei { mei_type: MeiType, data: &'a [u8] },
    /// Reserved, user-defined and unassigned functions: raw data.
    Other { data: &'a [u8] },
    /// Too short for the function's fixed fields.
    Malformed { data: &'a [u8] },
}

/// A parsed response PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    /// The function code, exception bit removed.
    pub function: FunctionCode,
    /// The exception bit (0x80) was set.
    pub exception: bool,
    /// The function's fields.
    pub body: ResponseBody<'a>,
    /// Findings.
    pub flags: Flags,
}

/// Response fields by function.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseBody<'a> {
    /// Function code with bit 0x80 and an exception code (AP §7).
    Exception { code: ExceptionCode },
    /// FC 1, 2.
    ReadBits { byte_count: u8, values: &'a [u8] },
    /// FC 3, 4, 23.
    ReadRegisters { byte_count: u8, values: &'a [u8] },
    /// FC 5, 6: echo.
    WriteSingle { address: u16, value: u16 },
    /// FC 15, 16.
    WriteMultiple { address: u16, quantity: u16 },
    /// FC 7.
    ExceptionStatus { status: u8 },
    /// FC 8.
    Diagnostics {
        sub_function: SubFunction,
        data: &'a [u8],
    },
    /// FC 11.
    CommEventCounter { status: u16, event_count: u16 },
    /// FC 12.
    CommEventLog {
        byte_count: u8,
        status: u16,
        event_count: u16,
        message_count: u16,
        events: &'a [u8],
    },
    /// FC 17: device specific server id, run indicator and data.
    ReportServerId { byte_count: u8, data: &'a [u8] },
    /// FC 20: sub-responses (file response length, reference type, data).
    ReadFileRecord { data_length: u8, data: &'a [u8] },
    /// FC 21: echo.
    WriteFileRecord {
        data_length: u8,
        sub_requests: FileSubRequests<'a>,
    },
    /// FC 22: echo.
    MaskWriteRegister {
        address: u16,
        and_mask: u16,
        or_mask: u16,
    },
    /// FC 24.
    ReadFifoQueue {
        byte_count: u16,
        fifo_count: u16,
        values: &'a [u8],
    },
    /// FC 43 / MEI 14.
    ReadDeviceId(DeviceId<'a>),
    /// FC 43 with another MEI type.
    Mei { mei_type: MeiType, data: &'a [u8] },
    /// Reserved, user-defined and unassigned functions.
    Other { data: &'a [u8] },
    /// Too short for the function's fixed fields.
    Malformed { data: &'a [u8] },
}

/// The sub-requests of FC 20 / FC 21 (AP §6.14, §6.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSubRequests<'a> {
    bytes: &'a [u8],
    with_data: bool,
}

/// One file record sub-request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSubRequest<'a> {
    /// Always 6.
    pub reference_type: u8,
    /// File number (1..=0xFFFF).
    pub file_number: u16,
    /// Starting record (0..=0x270F).
    pub record_number: u16,
    /// Registers to read or write.
    pub record_length: u16,
    /// FC 21 only: the register data.
    pub data: &'a [u8],
}

impl<'a> IntoIterator for FileSubRequests<'a> {
    type Item = FileSubRequest<'a>;
    type IntoIter = FileIter<'a>;
    fn into_iter(self) -> FileIter<'a> {
        FileIter {
            c: Cursor::new(self.bytes),
            with_data: self.with_data,
        }
    }
}

/// Iterator over file sub-requests; stops at the first truncated one.
#[derive(Clone, Debug)]
pub struct FileIter<'a> {
    c: Cursor<'a>,
    with_data: bool,
}

impl<'a> Iterator for FileIter<'a> {
    type Item = FileSubRequest<'a>;
    fn next(&mut self) -> Option<FileSubRequest<'a>> {
        let mut c = self.c;
        let reference_type = c.u8()?;
        let file_number = c.u16()?;
        let record_number = c.u16()?;
        let record_length = c.u16()?;
        let data = if self.with_data {
            c.bytes(usize::from(record_length) * 2)?
        } else {
            &[]
        };
        self.c = c;
        Some(FileSubRequest {
            reference_type,
            file_number,
            record_number,
            record_length,
            data,
        })
    }
}

impl<'a> FileSubRequests<'a> {
    /// Bytes not consumed by whole sub-requests (non-zero means malformed).
    fn leftover(&self) -> usize {
        let mut it = self.into_iter();
        while it.next().is_some() {}
        it.c.remaining()
    }

    fn any_invalid(&self) -> bool {
        self.into_iter()
            .any(|s| s.reference_type != 6 || s.file_number == 0)
    }
}

fn range_check(flags: &mut Flags, address: u16, quantity: u16, max: u16) {
    flags.set(
        Flags::QUANTITY_OUT_OF_RANGE,
        quantity == 0 || quantity > max,
    );
    flags.set(
        Flags::ADDRESS_OVERFLOW,
        u32::from(address) + u32::from(quantity) > 0x1_0000,
    );
}

/// Parses a request PDU (function code first). Never fails.
///
/// Codes 128-255 are exception responses; a request carrying one is parsed
/// as the code without the bit (as Wireshark reports it) and flagged.
#[inline]
pub fn parse_request(pdu: &[u8]) -> Request<'_> {
    // The requests of polling (reads, single writes) are five bytes with
    // two fixed fields: read without the general path's cursor. Gives
    // the same result (a property test compares the two).
    if let [fc @ 1..=6, a0, a1, b0, b1] = *pdu {
        let (a, b) = (u16::from_be_bytes([a0, a1]), u16::from_be_bytes([b0, b1]));
        let mut flags = Flags::default();
        let body = match fc {
            1 | 2 => {
                range_check(&mut flags, a, b, 2000);
                RequestBody::ReadBits {
                    address: a,
                    quantity: b,
                }
            }
            3 | 4 => {
                range_check(&mut flags, a, b, 125);
                RequestBody::ReadRegisters {
                    address: a,
                    quantity: b,
                }
            }
            5 => {
                flags.set(Flags::INVALID_COIL_VALUE, b != 0 && b != 0xff00);
                RequestBody::WriteSingleCoil {
                    address: a,
                    value: b,
                }
            }
            _ => RequestBody::WriteSingleRegister {
                address: a,
                value: b,
            },
        };
        return Request {
            function: FunctionCode(fc),
            body,
            flags,
        };
    }
    parse_request_general(pdu)
}

/// [`parse_request`] for any PDU.
pub(crate) fn parse_request_general(pdu: &[u8]) -> Request<'_> {
    let fc = pdu.first().copied().unwrap_or(0);
    let data = pdu.get(1..).unwrap_or(&[]);
    let function = FunctionCode(fc & 0x7f);
    let mut flags = Flags::default();
    flags.set(Flags::EXCEPTION_BIT_IN_REQUEST, fc & 0x80 != 0);
    let body = request_body(function, data, &mut flags).unwrap_or(RequestBody::Malformed { data });
    Request {
        function,
        body,
        flags,
    }
}

fn request_body<'a>(f: FunctionCode, data: &'a [u8], flags: &mut Flags) -> Option<RequestBody<'a>> {
    let mut c = Cursor::new(data);
    let body = match f.0 {
        1..=4 => {
            let (address, quantity) = (c.u16()?, c.u16()?);
            let max = if f.0 <= 2 { 2000 } else { 125 };
            range_check(flags, address, quantity, max);
            if f.0 <= 2 {
                RequestBody::ReadBits { address, quantity }
            } else {
                RequestBody::ReadRegisters { address, quantity }
            }
        }
        5 => {
            let (address, value) = (c.u16()?, c.u16()?);
            flags.set(Flags::INVALID_COIL_VALUE, value != 0 && value != 0xff00);
            RequestBody::WriteSingleCoil { address, value }
        }
        6 => RequestBody::WriteSingleRegister {
            address: c.u16()?,
            value: c.u16()?,
        },
        7 | 11 | 12 | 17 => RequestBody::NoData,
        8 => {
            let sub_function = SubFunction(c.u16()?);
            flags.set(
                Flags::RESERVED_SUB_FUNCTION,
                sub_function.name() == "reserved",
            );
            RequestBody::Diagnostics {
                sub_function,
                data: c.take_rest(),
            }
        }
        15 | 16 => {
            let (address, quantity, byte_count) = (c.u16()?, c.u16()?, c.u8()?);
            let values = c.take_rest();
            let (max, expect) = if f.0 == 15 {
                (1968, quantity.div_ceil(8))
            } else {
                (123, quantity.saturating_mul(2))
            };
            range_check(flags, address, quantity, max);
            flags.set(
                Flags::BYTE_COUNT_MISMATCH,
                u16::from(byte_count) != expect || values.len() < usize::from(byte_count),
            );
            flags.set(
                Flags::TRAILING_BYTES,
                values.len() > usize::from(byte_count),
            );
            let values = &values[..values.len().min(usize::from(byte_count))];
            if f.0 == 15 {
                RequestBody::WriteMultipleCoils {
                    address,
                    quantity,
                    byte_count,
                    values,
                }
            } else {
                RequestBody::WriteMultipleRegisters {
                    address,
                    quantity,
                    byte_count,
                    values,
                }
            }
        }
        20 | 21 => {
            let n = c.u8()?;
            let rest = c.take_rest();
            let sub_requests = FileSubRequests {
                bytes: &rest[..rest.len().min(usize::from(n))],
                with_data: f.0 == 21,
            };
            flags.set(
                Flags::BYTE_COUNT_MISMATCH,
                rest.len() < usize::from(n) || sub_requests.leftover() != 0,
            );
            flags.set(Flags::TRAILING_BYTES, rest.len() > usize::from(n));
            flags.set(Flags::INVALID_FILE_REFERENCE, sub_requests.any_invalid());
            if f.0 == 20 {
                flags.set(Flags::QUANTITY_OUT_OF_RANGE, !(7..=0xf5).contains(&n));
                RequestBody::ReadFileRecord {
                    byte_count: n,
                    sub_requests,
                }
            } else {
                RequestBody::WriteFileRecord {
                    data_length: n,
                    sub_requests,
                }
            }
        }
        22 => RequestBody::MaskWriteRegister {
            address: c.u16()?,
            and_mask: c.u16()?,
            or_mask: c.u16()?,
        },
        23 => {
            let (read_address, read_quantity) = (c.u16()?, c.u16()?);
            let (write_address, write_quantity, byte_count) = (c.u16()?, c.u16()?, c.u8()?);
            let values = c.take_rest();
            flags.set(
                Flags::QUANTITY_OUT_OF_RANGE,
                read_quantity == 0
                    || read_quantity > 125
                    || write_quantity == 0
                    || write_quantity > 121,
            );
            flags.set(
                Flags::ADDRESS_OVERFLOW,
                u32::from(read_address) + u32::from(read_quantity) > 0x1_0000
                    || u32::from(write_address) + u32::from(write_quantity) > 0x1_0000,
            );
            flags.set(
                Flags::BYTE_COUNT_MISMATCH,
                u16::from(byte_count) != write_quantity.saturating_mul(2)
                    || values.len() < usize::from(byte_count),
            );
            flags.set(
                Flags::TRAILING_BYTES,
                values.len() > usize::from(byte_count),
            );
            RequestBody::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                write_address,
                write_quantity,
                byte_count,
                values: &values[..values.len().min(usize::from(byte_count))],
            }
        }
        24 => RequestBody::ReadFifoQueue { address: c.u16()? },
        43 => {
            let mei_type = MeiType(c.u8()?);
            if mei_type == MeiType::READ_DEVICE_IDENTIFICATION {
                let (read_code, object_id) = (c.u8()?, c.u8()?);
                flags.set(
                    Flags::INVALID_READ_DEVICE_ID_CODE,
                    !(1..=4).contains(&read_code),
                );
                RequestBody::ReadDeviceId {
                    read_code,
                    object_id,
                }
            } else {
                flags.set(
                    Flags::RESERVED_SUB_FUNCTION,
                    mei_type != MeiType::CANOPEN_GENERAL_REFERENCE,
                );
                RequestBody::Mei {
                    mei_type,
                    data: c.take_rest(),
                }
            }
        }
        _ => RequestBody::Other {
            data: c.take_rest(),
        },
    };
    flags.set(Flags::TRAILING_BYTES, c.remaining() > 0);
    Some(body)
}

/// Parses a response PDU (function code first). Never fails.
#[inline]
pub fn parse_response(pdu: &[u8]) -> Response<'_> {
    // Normal responses to polling: reads whose byte count matches the
    // bytes present, and the echoes of writes. Same result as the general
    // path (a property test compares the two).
    match *pdu {
        [fc @ 1..=4, byte_count, ref values @ ..] if values.len() == usize::from(byte_count) => {
            let mut flags = Flags::default();
            let body = if fc <= 2 {
                ResponseBody::ReadBits { byte_count, values }
            } else {
                flags.set(Flags::BYTE_COUNT_MISMATCH, byte_count % 2 != 0);
                ResponseBody::ReadRegisters { byte_count, values }
            };
            return Response {
                function: FunctionCode(fc),
                exception: false,
                body,
                flags,
            };
        }
        [fc @ (5 | 6 | 15 | 16), a0, a1, b0, b1] => {
            let (a, b) = (u16::from_be_bytes([a0, a1]), u16::from_be_bytes([b0, b1]));
            let body = if fc <= 6 {
                ResponseBody::WriteSingle {
                    address: a,
                    value: b,
                }
            } else {
                ResponseBody::WriteMultiple {
                    address: a,
                    quantity: b,
                }
            };
            return Response {
                function: FunctionCode(fc),
                exception: false,
                body,
                flags: Flags::default(),
            };
        }
        _ => {}
    }
    parse_response_general(pdu)
}

/// [`parse_response`] for any PDU.
pub(crate) fn parse_response_general(pdu: &[u8]) -> Response<'_> {
    let fc = pdu.first().copied().unwrap_or(0);
    let data = pdu.get(1..).unwrap_or(&[]);
    let function = FunctionCode(fc & 0x7f);
    let exception = fc & 0x80 != 0;
    let mut flags = Flags::default();
    let body = if exception {
        match data {
            [code] => Some(ResponseBody::Exception {
                code: ExceptionCode(*code),
            }),
            [code, ..] => {
                flags.set(Flags::TRAILING_BYTES, true);
                Some(ResponseBody::Exception {
                    code: ExceptionCode(*code),
                })
            }
            [] => None,
        }
    } else {
        response_body(function, data, &mut flags)
    };
    Response {
        function,
        exception,
        body: body.unwrap_or(ResponseBody::Malformed { data }),
        flags,
    }
}

fn counted<'a>(c: &mut Cursor<'a>, n: usize, flags: &mut Flags) -> &'a [u8] {
    let rest = c.take_rest();
    flags.set(Flags::BYTE_COUNT_MISMATCH, rest.len() < n);
    flags.set(Flags::TRAILING_BYTES, rest.len() > n);
    &rest[..rest.len().min(n)]
}

fn response_body<'a>(
    f: FunctionCode,
    data: &'a [u8],
    flags: &mut Flags,
) -> Option<ResponseBody<'a>> {
    let mut c = Cursor::new(data);
    let body = match f.0 {
        1 | 2 => {
            let byte_count = c.u8()?;
            let values = counted(&mut c, usize::from(byte_count), flags);
            ResponseBody::ReadBits { byte_count, values }
        }
        3 | 4 | 23 => {
            let byte_count = c.u8()?;
            flags.set(Flags::BYTE_COUNT_MISMATCH, byte_count % 2 != 0);
            let values = counted(&mut c, usize::from(byte_count), flags);
            ResponseBody::ReadRegisters { byte_count, values }
        }
        5 | 6 => ResponseBody::WriteSingle {
            address: c.u16()?,
            value: c.u16()?,
        },
        15 | 16 => ResponseBody::WriteMultiple {
            address: c.u16()?,
            quantity: c.u16()?,
        },
        7 => ResponseBody::ExceptionStatus { status: c.u8()? },
        8 => ResponseBody::Diagnostics {
            sub_function: SubFunction(c.u16()?),
            data: c.take_rest(),
        },
        11 => ResponseBody::CommEventCounter {
            status: c.u16()?,
            event_count: c.u16()?,
        },
        12 => {
            let byte_count = c.u8()?;
            let (status, event_count, message_count) = (c.u16()?, c.u16()?, c.u16()?);
            let events = counted(&mut c, usize::from(byte_count).saturating_sub(6), flags);
            flags.set(Flags::BYTE_COUNT_MISMATCH, byte_count < 6);
            ResponseBody::CommEventLog {
                byte_count,
                status,
                event_count,
                message_count,
                events,
            }
        }
        17 => {
            let byte_count = c.u8()?;
            let data = counted(&mut c, usize::from(byte_count), flags);
            ResponseBody::ReportServerId { byte_count, data }
        }
        20 => {
            let data_length = c.u8()?;
            let data = counted(&mut c, usize::from(data_length), flags);
            ResponseBody::ReadFileRecord { data_length, data }
        }
        21 => {
            let data_length = c.u8()?;
            let bytes = counted(&mut c, usize::from(data_length), flags);
            let sub_requests = FileSubRequests {
                bytes,
                with_data: true,
            };
            flags.set(Flags::BYTE_COUNT_MISMATCH, sub_requests.leftover() != 0);
            ResponseBody::WriteFileRecord {
                data_length,
                sub_requests,
            }
        }
        22 => ResponseBody::MaskWriteRegister {
            address: c.u16()?,
            and_mask: c.u16()?,
            or_mask: c.u16()?,
        },
        24 => {
            let (byte_count, fifo_count) = (c.u16()?, c.u16()?);
            let values = counted(&mut c, usize::from(fifo_count) * 2, flags);
            flags.set(
                Flags::BYTE_COUNT_MISMATCH,
                u32::from(byte_count) != 2 + 2 * u32::from(fifo_count),
            );
            flags.set(Flags::QUANTITY_OUT_OF_RANGE, fifo_count > 31);
            ResponseBody::ReadFifoQueue {
                byte_count,
                fifo_count,
                values,
            }
        }
        43 => {
            let mei_type = MeiType(c.u8()?);
            if mei_type == MeiType::READ_DEVICE_IDENTIFICATION {
                let id = DeviceId::parse(c.take_rest())?;
                flags.set(Flags::BYTE_COUNT_MISMATCH, !id.is_well_formed());
                ResponseBody::ReadDeviceId(id)
            } else {
                ResponseBody::Mei {
                    mei_type,
                    data: c.take_rest(),
                }
            }
        }
        _ => ResponseBody::Other {
            data: c.take_rest(),
        },
    };
    flags.set(Flags::TRAILING_BYTES, c.remaining() > 0);
    Some(body)
}

/// Checks that a normal response answers its request; returns the findings.
///
/// Read responses must carry exactly the bytes the requested quantity needs:
/// ceil(quantity / 8) for coils and discrete inputs, 2 x quantity for
/// registers. Echoing responses must echo.
pub fn check_pair(req: &Request<'_>, resp: &Response<'_>) -> Flags {
    let mut f = Flags::default();
    if req.function != resp.function {
        f.set(Flags::FUNCTION_MISMATCH, true);
        return f;
    }
    if resp.exception {
        return f;
    }
    use RequestBody as Q;
    use ResponseBody as R;
    let ok = match (&req.body, &resp.body) {
        (Q::ReadBits { quantity, .. }, R::ReadBits { byte_count, .. }) => {
            u16::from(*byte_count) == quantity.div_ceil(8)
        }
        (Q::ReadRegisters { quantity, .. }, R::ReadRegisters { byte_count, .. }) => {
            u32::from(*byte_count) == 2 * u32::from(*quantity)
        }
        (
            Q::ReadWriteMultipleRegisters { read_quantity, .. },
            R::ReadRegisters { byte_count, .. },
        ) => u32::from(*byte_count) == 2 * u32::from(*read_quantity),
        (
            Q::WriteSingleCoil { address, value },
            R::WriteSingle {
                address: a,
                value: v,
            },
        )
        | (
            Q::WriteSingleRegister { address, value },
            R::WriteSingle {
                address: a,
                value: v,
            },
        ) => address == a && value == v,
        (
            Q::WriteMultipleCoils {
                address, quantity, ..
            },
            R::WriteMultiple {
                address: a,
                quantity: q,
            },
        )
        | (
            Q::WriteMultipleRegisters {
                address, quantity, ..
            },
            R::WriteMultiple {
                address: a,
                quantity: q,
            },
        ) => address == a && quantity == q,
        (
            Q::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            },
            R::MaskWriteRegister {
                address: a,
                and_mask: am,
                or_mask: om,
            },
        ) => address == a && and_mask == am && or_mask == om,
        (
            Q::Diagnostics { sub_function, .. },
            R::Diagnostics {
                sub_function: s, ..
            },
        ) => sub_function == s,
        (Q::ReadFileRecord { sub_requests, .. }, R::ReadFileRecord { data, .. }) => {
            // One sub-response per sub-request: length, reference type,
            // then exactly the registers asked for (AP §6.14).
            let mut c = Cursor::new(data);
            let answered = sub_requests.into_iter().all(|s| match (c.u8(), c.u8()) {
                (Some(len), Some(_)) if len >= 1 => {
                    let n = usize::from(len - 1);
                    c.bytes(n).is_some() && n == usize::from(s.record_length) * 2
                }
                _ => false,
            });
            answered && c.remaining() == 0
        }
        _ => true,
    };
    f.set(Flags::RESPONSE_MISMATCH, !ok);
    f
}

impl<'a> RequestBody<'a> {
    /// The primary (address, quantity) the request touches, if any.
    pub fn target(&self) -> Option<(u16, u16)> {
        match *self {
            RequestBody::ReadBits { address, quantity }
            | RequestBody::ReadRegisters { address, quantity }
            | RequestBody::WriteMultipleCoils {
                address, quantity, ..
            }
            | RequestBody::WriteMultipleRegisters {
                address, quantity, ..
            } => Some((address, quantity)),
            RequestBody::WriteSingleCoil { address, .. }
            | RequestBody::WriteSingleRegister { address, .. }
            | RequestBody::MaskWriteRegister { address, .. }
            | RequestBody::ReadFifoQueue { address } => Some((address, 1)),
            RequestBody::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                ..
            } => Some((read_address, read_quantity)),
            _ => None,
        }
    }

    /// The sub-function or MEI type, where the function has one.
    pub fn sub_code(&self) -> Option<u16> {
        match *self {
            RequestBody::Diagnostics { sub_function, .. } => Some(sub_function.0),
            RequestBody::ReadDeviceId { .. } => Some(14),
            RequestBody::Mei { mei_type, .. } => Some(u16::from(mei_type.0)),
            _ => None,
        }
    }
}
