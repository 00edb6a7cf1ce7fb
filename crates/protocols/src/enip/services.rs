//! Service data: Multiple_Service_Packet (CIP Vol. 1 § ), the Logix
//! tag services (Logix 5000 Controllers Data Access, Rockwell publication
//! 1756-PM020) and the elementary data types they carry (Vol. 1 §C-6.1).

use crate::cursor::Cursor;

/// Embedded services read from one Multiple_Service_Packet; a 4000-byte
/// Large_Forward_Open connection cannot hold more than about 1000.
pub const MAX_SERVICES: u16 = 1024;

/// The embedded requests or replies of a Multiple_Service_Packet: a count,
/// an offset table (from the count field) and the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceList<'a> {
    /// Services announced.
    pub count: u16,
    data: &'a [u8],
}

impl<'a> ServiceList<'a> {
    /// Parses request or reply data; `None` when the offset table does not fit.
    pub fn parse(data: &'a [u8]) -> Option<ServiceList<'a>> {
        let mut c = Cursor::new(data);
        let count = c.u16_le()?;
        c.bytes(usize::from(count) * 2)?;
        Some(ServiceList { count, data })
    }

    /// The embedded messages in order; `None` for an entry whose offset is
    /// out of range (then every later entry is `None` as well). At most
    /// [`MAX_SERVICES`] entries.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            list: *self,
            i: 0,
            broken: false,
        }
    }

    /// True when every offset is in range and increasing, and the count is
    /// within [`MAX_SERVICES`].
    pub fn is_well_formed(&self) -> bool {
        self.count <= MAX_SERVICES && self.entries().all(|e| e.is_some())
    }

    fn offset(&self, i: u16) -> Option<usize> {
        let p = 2 + usize::from(i) * 2;
        let b = self.data.get(p..p + 2)?;
        Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
    }
}

/// Iterator over the entries of a [`ServiceList`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    list: ServiceList<'a>,
    i: u16,
    broken: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Option<&'a [u8]>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.i >= self.list.count.min(MAX_SERVICES) {
            return None;
        }
        let i = self.i;
        self.i += 1;
        if self.broken {
            return Some(None);
        }
        let table_end = 2 + usize::from(self.list.count) * 2;
        let data = self.list.data;
        let start = self.list.offset(i).unwrap_or(usize::MAX);
        let end = if i + 1 < self.list.count {
            self.list.offset(i + 1).unwrap_or(usize::MAX)
        } else {
            data.len()
        };
        match data.get(start..end) {
            Some(m) if start >= table_end && !m.is_empty() => Some(Some(m)),
            _ => {
                self.broken = true;
                Some(None)
            }
        }
    }
}

/// A CIP elementary data type code as the Logix services send it (a UINT
/// whose low byte is the type of Vol. 1 §C-6.1; 0x02A0 is a structure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataType(pub u16);

impl DataType {
    /// The structure type code; a structure handle follows it.
    pub const STRUCT: u16 = 0x02A0;

    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0xC1 => "bool",
            0xC2 => "sint",
            0xC3 => "int",
            0xC4 => "dint",
            0xC5 => "lint",
            0xC6 => "usint",
            0xC7 => "uint",
            0xC8 => "udint",
            0xC9 => "ulint",
            0xCA => "real",
            0xCB => "lreal",
            0xCC => "stime",
            0xCD => "date",
            0xCE => "time_of_day",
            0xCF => "date_and_time",
            0xD0 => "string",
            0xD1 => "byte",
            0xD2 => "word",
            0xD3 => "dword",
            0xD4 => "lword",
            0xD5 => "string2",
            0xD6 => "ftime",
            0xD7 => "ltime",
            0xD8 => "itime",
            0xD9 => "stringn",
            0xDA => "short_string",
            0xDB => "time",
            0xDC => "epath",
            0xDD => "engunit",
            0xDE => "stringi",
            Self::STRUCT => "struct",
            _ => "unknown",
        }
    }

    /// Bytes per element of the numeric types whose values are decoded.
    pub fn element_size(self) -> Option<usize> {
        Some(match self.0 {
            0xC1 | 0xC2 | 0xC6 | 0xD1 => 1,
            0xC3 | 0xC7 | 0xD2 => 2,
            0xC4 | 0xC8 | 0xCA | 0xD3 => 4,
            0xC5 | 0xC9 | 0xCB | 0xD4 => 8,
            _ => return None,
        })
    }

    /// The element values of `data`, for the numeric types; `None` for the
    /// others (strings, structures), which are reported as bytes.
    pub fn values(self, data: &[u8]) -> Option<Values<'_>> {
        let size = self.element_size()?;
        Some(Values {
            ty: self,
            chunks: data.chunks_exact(size),
        })
    }
}

/// One decoded element value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// Signed integer types.
    Int(i64),
    /// Unsigned integer and bit-string types (BOOL as the byte sent).
    Uint(u64),
    /// REAL and LREAL.
    Float(f64),
}

/// Iterator over the element values of a numeric type.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    ty: DataType,
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for Values<'_> {
    type Item = Value;
    fn next(&mut self) -> Option<Value> {
        let b = self.chunks.next()?;
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        let u = u64::from_le_bytes(w);
        Some(match self.ty.0 {
            0xC2 => Value::Int(i64::from(u as u8 as i8)),
            0xC3 => Value::Int(i64::from(u as u16 as i16)),
            0xC4 => Value::Int(i64::from(u as u32 as i32)),
            0xC5 => Value::Int(u as i64),
            0xCA => Value::Float(f64::from(f32::from_bits(u as u32))),
            0xCB => Value::Float(f64::from_bits(u)),
            _ => Value::Uint(u),
        })
    }
}

/// A data type with the structure handle that follows a structure type.
fn data_type(c: &mut Cursor<'_>) -> Option<(DataType, Option<u16>)> {
    let t = DataType(c.u16_le()?);
    let handle = if t.0 == DataType::STRUCT {
        Some(c.u16_le()?)
    } else {
        None
    };
    Some((t, handle))
}

/// The request data of a Logix tag service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagRequest<'a> {
    /// Read_Tag (0x4C): elements to read.
    Read {
        /// Elements.
        elements: u16,
    },
    /// Read_Tag_Fragmented (0x52).
    ReadFragmented {
        /// Elements.
        elements: u16,
        /// Byte offset of this fragment.
        offset: u32,
    },
    /// Write_Tag (0x4D) and Write_Tag_Fragmented (0x53).
    Write {
        /// Type of the data.
        data_type: DataType,
        /// Structure handle, for structures.
        struct_handle: Option<u16>,
        /// Elements.
        elements: u16,
        /// Byte offset (fragmented writes only).
        offset: Option<u32>,
        /// The data written.
        data: &'a [u8],
    },
    /// Read_Modify_Write_Tag (0x4E): value = (value OR or_mask) AND and_mask.
    ReadModifyWrite {
        /// Bytes per mask (1, 2, 4, 8).
        mask_size: u16,
        /// Bits to set.
        or_mask: &'a [u8],
        /// Bits to keep.
        and_mask: &'a [u8],
    },
}

impl<'a> TagRequest<'a> {
    /// Parses the request data of the service named `name` (a Logix tag
    /// service name from [`super::ServiceCode::name`]).
    pub fn parse(name: &str, data: &'a [u8]) -> Option<TagRequest<'a>> {
        let mut c = Cursor::new(data);
        match name {
            "read_tag" => Some(TagRequest::Read {
                elements: c.u16_le()?,
            }),
            "read_tag_fragmented" => Some(TagRequest::ReadFragmented {
                elements: c.u16_le()?,
                offset: c.u32_le()?,
            }),
            "write_tag" | "write_tag_fragmented" => {
                let (data_type, struct_handle) = data_type(&mut c)?;
                let elements = c.u16_le()?;
                let offset = if name == "write_tag_fragmented" {
                    Some(c.u32_le()?)
                } else {
                    None
                };
                Some(TagRequest::Write {
                    data_type,
                    struct_handle,
                    elements,
                    offset,
                    data: c.rest(),
                })
            }
            "read_modify_write_tag" => {
                let mask_size = c.u16_le()?;
                let or_mask = c.bytes(usize::from(mask_size))?;
                let and_mask = c.bytes(usize::from(mask_size))?;
                Some(TagRequest::ReadModifyWrite {
                    mask_size,
                    or_mask,
                    and_mask,
                })
            }
            _ => None,
        }
    }
}

/// The reply data of Read_Tag and Read_Tag_Fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagReply<'a> {
    /// Type of the data.
    pub data_type: DataType,
    /// Structure handle, for structures.
    pub struct_handle: Option<u16>,
    /// The data read.
    pub data: &'a [u8],
}

impl<'a> TagReply<'a> {
    /// Parses the reply data.
    pub fn parse(data: &'a [u8]) -> Option<TagReply<'a>> {
        let mut c = Cursor::new(data);
        let (data_type, struct_handle) = data_type(&mut c)?;
        Some(TagReply {
            data_type,
            struct_handle,
            data: c.rest(),
        })
    }
}
