//! Object headers and object data (IEEE 1815-2012 §4.2.2.7 and the object
//! library of Annex A).
//!
//! A fragment's objects are a sequence of headers (group, variation,
//! qualifier, range field), each followed by its objects: an optional
//! prefix per object (an index or an object size) and the object data. To
//! find the next header the size of every object must be known; sizes come
//! from the object library ([`object_size`]). Data that cannot be sized,
//! ranges that do not hold and data that run past the fragment end the
//! walk with an [`ObjectError`]: the headers read until then stay valid.

use super::app::FunctionCode;
use crate::cursor::Cursor;

/// Object headers read per fragment at most; a 2048-octet fragment holds at
/// most 682 three-octet headers, so this only stops hostile input.
pub const MAX_OBJECT_HEADERS: usize = 256;

/// The qualifier octet (§4.2.2.7.3): object prefix code (bits 6-4) and
/// range specifier code (bits 3-0). Bit 7 is reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Qualifier(pub u8);

/// What precedes each object (Table 4-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// Objects are packed without a prefix.
    None,
    /// An index of 1, 2 or 4 octets.
    Index(usize),
    /// An object size of 1, 2 or 4 octets.
    Size(usize),
}

/// How the objects of a header are counted (Table 4-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeKind {
    /// Start and stop index of 1, 2 or 4 octets.
    StartStop(usize),
    /// Start and stop virtual address of 1, 2 or 4 octets.
    VirtualStartStop(usize),
    /// No range field: all objects of the type.
    All,
    /// A count of 1, 2 or 4 octets.
    Count(usize),
    /// A 1-octet count of variable-format objects (range code 0xB).
    VariableCount,
}

impl Qualifier {
    /// The object prefix code (0..=7).
    pub fn prefix_code(self) -> u8 {
        (self.0 >> 4) & 0x07
    }
    /// The range specifier code (0..=15).
    pub fn range_code(self) -> u8 {
        self.0 & 0x0f
    }
    /// The prefix, or `None` for the reserved code 7.
    pub fn prefix(self) -> Option<Prefix> {
        Some(match self.prefix_code() {
            0 => Prefix::None,
            1 => Prefix::Index(1),
            2 => Prefix::Index(2),
            3 => Prefix::Index(4),
            4 => Prefix::Size(1),
            5 => Prefix::Size(2),
            6 => Prefix::Size(4),
            _ => return None,
        })
    }
    /// The range kind, or `None` for the reserved codes 0xA and 0xC..=0xF.
    pub fn range(self) -> Option<RangeKind> {
        Some(match self.range_code() {
            0 => RangeKind::StartStop(1),
            1 => RangeKind::StartStop(2),
            2 => RangeKind::StartStop(4),
            3 => RangeKind::VirtualStartStop(1),
            4 => RangeKind::VirtualStartStop(2),
            5 => RangeKind::VirtualStartStop(4),
            6 => RangeKind::All,
            7 => RangeKind::Count(1),
            8 => RangeKind::Count(2),
            9 => RangeKind::Count(4),
            0xB => RangeKind::VariableCount,
            _ => return None,
        })
    }
}

/// The range field of a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Qualifier range code 6: no range field.
    All,
    /// Start and stop index (or virtual address), both inclusive.
    StartStop {
        /// First index.
        start: u32,
        /// Last index.
        stop: u32,
    },
    /// Number of objects.
    Count(u32),
}

impl Range {
    /// Objects that follow the header.
    pub fn count(self) -> u64 {
        match self {
            Range::All => 0,
            Range::StartStop { start, stop } => u64::from(stop) - u64::from(start) + 1,
            Range::Count(n) => u64::from(n),
        }
    }
}

/// How large one object of a group and variation is (Annex A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectSize {
    /// A fixed number of octets.
    Fixed(usize),
    /// Packed bits per object (binary inputs and outputs, IIN, pattern masks).
    Bits(usize),
    /// A device attribute (group 0): data type, length and value.
    Attribute,
    /// No data (class objects, group 60).
    Empty,
    /// Variable size: only a size prefix can tell it.
    Variable,
    /// Not in the object library (or variation 0, which never carries data).
    Unknown,
}

/// The size of one object of `group`/`variation` when it carries data.
pub fn object_size(group: u8, variation: u8) -> ObjectSize {
    use ObjectSize::*;
    match (group, variation) {
        (0, 1..=253) => Attribute,
        // Binary inputs, double-bit inputs, binary outputs.
        (1, 1) | (10, 1) => Bits(1),
        (3, 1) => Bits(2),
        (1, 2) | (3, 2) | (10, 2) => Fixed(1),
        // Binary input and output events: flags, flags + 48-bit time,
        // flags + 16-bit relative time.
        (2, 1) | (4, 1) | (11, 1) | (13, 1) => Fixed(1),
        (2, 2) | (4, 2) | (11, 2) | (13, 2) => Fixed(7),
        (2, 3) | (4, 3) => Fixed(3),
        // Control relay output block, pattern control block, pattern mask.
        (12, 1) | (12, 2) => Fixed(11),
        (12, 3) => Bits(1),
        // Counters and counter events: 32/16-bit with flag, delta, without flag.
        (20, 1) | (20, 3) => Fixed(5),
        (20, 2) | (20, 4) => Fixed(3),
        (20, 5) | (20, 7) => Fixed(4),
        (20, 6) | (20, 8) => Fixed(2),
        (21, 1) | (21, 3) => Fixed(5),
        (21, 2) | (21, 4) => Fixed(3),
        (21, 5) | (21, 7) => Fixed(11),
        (21, 6) | (21, 8) => Fixed(9),
        (21, 9) | (21, 11) => Fixed(4),
        (21, 10) | (21, 12) => Fixed(2),
        (22, 1) | (22, 3) | (23, 1) | (23, 3) => Fixed(5),
        (22, 2) | (22, 4) | (23, 2) | (23, 4) => Fixed(3),
        (22, 5) | (22, 7) | (23, 5) | (23, 7) => Fixed(11),
        (22, 6) | (22, 8) | (23, 6) | (23, 8) => Fixed(9),
        // Analog inputs.
        (30, 1) | (30, 5) => Fixed(5),
        (30, 2) => Fixed(3),
        (30, 3) => Fixed(4),
        (30, 4) => Fixed(2),
        (30, 6) => Fixed(9),
        (31, 1) | (31, 7) => Fixed(5),
        (31, 2) => Fixed(3),
        (31, 3) => Fixed(11),
        (31, 4) => Fixed(9),
        (31, 5) => Fixed(4),
        (31, 6) => Fixed(2),
        (31, 8) => Fixed(9),
        // Analog input, frozen analog, analog output and analog command events.
        (32 | 33 | 42 | 43, 1) | (32 | 33 | 42 | 43, 5) => Fixed(5),
        (32 | 33 | 42 | 43, 2) => Fixed(3),
        (32 | 33 | 42 | 43, 3) | (32 | 33 | 42 | 43, 7) => Fixed(11),
        (32 | 33 | 42 | 43, 4) | (32 | 33 | 42 | 43, 6) => Fixed(9),
        (32 | 33 | 42 | 43, 8) => Fixed(15),
        // Analog input deadbands.
        (34, 1) => Fixed(2),
        (34, 2) | (34, 3) => Fixed(4),
        // Analog output status and analog output blocks.
        (40, 1) | (40, 3) => Fixed(5),
        (40, 2) => Fixed(3),
        (40, 4) => Fixed(9),
        (41, 1) | (41, 3) => Fixed(5),
        (41, 2) => Fixed(3),
        (41, 4) => Fixed(9),
        // Time and date, time and interval, CTO, time delay.
        (50, 1) | (50, 3) => Fixed(6),
        (50, 2) | (50, 4) => Fixed(11),
        (51, 1) | (51, 2) => Fixed(6),
        (52, 1) | (52, 2) => Fixed(2),
        // Class objects carry no data.
        (60, 1..=4) => Empty,
        // File control, data sets, application identifier, status of
        // requested operation, authentication: free format.
        (70, 1..=8) | (85, 1) | (86, 1) | (86, 3) | (87, 1) | (88, 1) | (90, 1) | (91, 1) => {
            Variable
        }
        (86, 2) => Fixed(1),
        // Internal indications.
        (80, 1) => Bits(1),
        // Binary-coded decimal integers, unsigned 8-bit integer.
        (101, 1) => Fixed(2),
        (101, 2) => Fixed(4),
        (101, 3) => Fixed(8),
        (102, 1) => Fixed(1),
        // Octet strings and virtual terminal blocks: the variation is the length.
        (110..=113, 1..=255) => Fixed(usize::from(variation)),
        // Secure authentication: aggressive mode request (sequence 4 + user 2),
        // session key status request (user 2), statistics; the rest free format.
        (120, 3) => Fixed(6),
        (120, 4) => Fixed(2),
        (120, 1 | 2 | 5..=15) => Variable,
        (121, 1) => Fixed(7),
        (122, 1) => Fixed(7),
        (122, 2) => Fixed(13),
        _ => Unknown,
    }
}

/// One object header and the bytes of its objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectHeader<'a> {
    /// Object group.
    pub group: u8,
    /// Object variation (0: any, in requests).
    pub variation: u8,
    /// The qualifier.
    pub qualifier: Qualifier,
    /// The range field.
    pub range: Range,
    /// Whether the objects carry data in this fragment (see
    /// [`FunctionCode::header_has_data`]).
    pub has_data: bool,
    /// Prefixes and object data of every object of this header.
    pub data: &'a [u8],
    /// The objects run past the end of the fragment: `data` holds what is
    /// there, and the walk ends with [`ObjectError::TruncatedData`].
    pub truncated: bool,
}

/// Why the object walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// The fragment ends inside a header or its range field.
    TruncatedHeader,
    /// A reserved qualifier: bit 7, prefix code 7 or range codes 0xA, 0xC-0xF.
    ReservedQualifier(u8),
    /// A stop index below the start index.
    InvalidRange {
        /// The start index.
        start: u32,
        /// The stop index.
        stop: u32,
    },
    /// A group and variation whose data size is unknown.
    UnknownObject {
        /// Object group.
        group: u8,
        /// Object variation.
        variation: u8,
    },
    /// The objects run past the end of the fragment.
    TruncatedData {
        /// Object group.
        group: u8,
        /// Object variation.
        variation: u8,
    },
    /// A packed-bit object with an index or size prefix.
    PrefixOnPackedObject(u8),
    /// More than [`MAX_OBJECT_HEADERS`] headers.
    TooManyHeaders,
}

impl ObjectError {
    /// The anomaly code (snake_case).
    pub fn code(self) -> &'static str {
        match self {
            ObjectError::TruncatedHeader => "object_header_truncated",
            ObjectError::ReservedQualifier(_) => "reserved_qualifier",
            ObjectError::InvalidRange { .. } => "invalid_range",
            ObjectError::UnknownObject { .. } => "unknown_object",
            ObjectError::TruncatedData { .. } => "object_data_truncated",
            ObjectError::PrefixOnPackedObject(_) => "invalid_qualifier",
            ObjectError::TooManyHeaders => "too_many_object_headers",
        }
    }
}

impl core::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ObjectError::TruncatedHeader => {
                f.write_str("the fragment ends inside an object header")
            }
            ObjectError::ReservedQualifier(q) => write!(f, "qualifier 0x{q:02x} is reserved"),
            ObjectError::InvalidRange { start, stop } => {
                write!(f, "range stop {stop} is below start {start}")
            }
            ObjectError::UnknownObject { group, variation } => write!(
                f,
                "object group {group} variation {variation} has no known size"
            ),
            ObjectError::TruncatedData { group, variation } => write!(
                f,
                "objects of group {group} variation {variation} run past the end of the fragment"
            ),
            ObjectError::PrefixOnPackedObject(q) => {
                write!(f, "qualifier 0x{q:02x} puts a prefix on packed objects")
            }
            ObjectError::TooManyHeaders => {
                write!(f, "more than {MAX_OBJECT_HEADERS} object headers")
            }
        }
    }
}

/// Iterator over the object headers of a fragment. After an error it ends.
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    c: Cursor<'a>,
    function: FunctionCode,
    read: usize,
    done: bool,
    /// The error that follows a truncated header.
    pending: Option<ObjectError>,
}

impl<'a> Headers<'a> {
    /// The headers in `objects` (the fragment after its application header)
    /// of a fragment with function `function`.
    pub fn new(objects: &'a [u8], function: FunctionCode) -> Self {
        Headers {
            c: Cursor::new(objects),
            function,
            read: 0,
            done: false,
            pending: None,
        }
    }

    fn next_header(&mut self) -> Result<ObjectHeader<'a>, ObjectError> {
        if self.read >= MAX_OBJECT_HEADERS {
            return Err(ObjectError::TooManyHeaders);
        }
        let c = &mut self.c;
        let (Some(group), Some(variation), Some(q)) = (c.u8(), c.u8(), c.u8()) else {
            return Err(ObjectError::TruncatedHeader);
        };
        let qualifier = Qualifier(q);
        let (Some(prefix), Some(kind), false) =
            (qualifier.prefix(), qualifier.range(), q & 0x80 != 0)
        else {
            return Err(ObjectError::ReservedQualifier(q));
        };
        let uint = |c: &mut Cursor<'a>, n: usize| -> Option<u32> {
            match n {
                1 => c.u8().map(u32::from),
                2 => c.u16_le().map(u32::from),
                _ => c.u32_le(),
            }
        };
        let range = match kind {
            RangeKind::StartStop(n) | RangeKind::VirtualStartStop(n) => {
                let (Some(start), Some(stop)) = (uint(c, n), uint(c, n)) else {
                    return Err(ObjectError::TruncatedHeader);
                };
                if stop < start {
                    return Err(ObjectError::InvalidRange { start, stop });
                }
                Range::StartStop { start, stop }
            }
            RangeKind::All => Range::All,
            RangeKind::Count(n) => Range::Count(uint(c, n).ok_or(ObjectError::TruncatedHeader)?),
            RangeKind::VariableCount => {
                Range::Count(uint(c, 1).ok_or(ObjectError::TruncatedHeader)?)
            }
        };
        let has_data = self.function.header_has_data(group);
        let (data, truncated) =
            match data_len(c.rest(), group, variation, prefix, range.count(), has_data) {
                Ok(len) => (
                    c.bytes(len)
                        .ok_or(ObjectError::TruncatedData { group, variation })?,
                    false,
                ),
                // The header itself is sound: report it with what is there,
                // then the error.
                Err(e @ ObjectError::TruncatedData { .. }) => {
                    self.pending = Some(e);
                    (c.take_rest(), true)
                }
                Err(ObjectError::PrefixOnPackedObject(_)) => {
                    return Err(ObjectError::PrefixOnPackedObject(q))
                }
                Err(e) => return Err(e),
            };
        self.read += 1;
        Ok(ObjectHeader {
            group,
            variation,
            qualifier,
            range,
            has_data,
            data,
            truncated,
        })
    }
}

/// Octets taken by `count` objects at the start of `rest`.
fn data_len(
    rest: &[u8],
    group: u8,
    variation: u8,
    prefix: Prefix,
    count: u64,
    has_data: bool,
) -> Result<usize, ObjectError> {
    let truncated = ObjectError::TruncatedData { group, variation };
    let fits = |n: u64| -> Result<usize, ObjectError> {
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= rest.len())
            .ok_or(truncated)
    };
    if count == 0 {
        return Ok(0);
    }
    if let Prefix::Size(w) = prefix {
        // Each object says its own size: walk them.
        let mut c = Cursor::new(rest);
        for _ in 0..count {
            let size = match w {
                1 => c.u8().map(u32::from),
                2 => c.u16_le().map(u32::from),
                _ => c.u32_le(),
            }
            .ok_or(truncated)?;
            c.bytes(size as usize).ok_or(truncated)?;
        }
        return Ok(c.position());
    }
    let index = match prefix {
        Prefix::Index(n) => n as u64,
        _ => 0,
    };
    if !has_data {
        return fits(count.saturating_mul(index));
    }
    match object_size(group, variation) {
        ObjectSize::Fixed(s) => fits(count.saturating_mul(index + s as u64)),
        ObjectSize::Empty => fits(count.saturating_mul(index)),
        ObjectSize::Bits(b) => {
            if index != 0 {
                return Err(ObjectError::PrefixOnPackedObject(0));
            }
            fits(count.saturating_mul(b as u64).div_ceil(8))
        }
        ObjectSize::Attribute => {
            // Data type code, length, value.
            let mut c = Cursor::new(rest);
            for _ in 0..count {
                c.bytes(index as usize).ok_or(truncated)?;
                let (Some(_ty), Some(len)) = (c.u8(), c.u8()) else {
                    return Err(truncated);
                };
                c.bytes(usize::from(len)).ok_or(truncated)?;
            }
            Ok(c.position())
        }
        ObjectSize::Variable | ObjectSize::Unknown => {
            Err(ObjectError::UnknownObject { group, variation })
        }
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = Result<ObjectHeader<'a>, ObjectError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done || self.c.remaining() == 0 {
            return None;
        }
        let r = self.next_header();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl<'a> ObjectHeader<'a> {
    /// The objects of this header with their indexes (from the prefix, or
    /// counted from the range start). Empty when the objects carry no data
    /// or are packed bits.
    pub fn objects(&self) -> Objects<'a> {
        let size = match object_size(self.group, self.variation) {
            ObjectSize::Fixed(s) if self.has_data => s,
            _ => 0,
        };
        let index_len = match self.qualifier.prefix() {
            Some(Prefix::Index(n)) => n,
            _ => 0,
        };
        let (first, count) = match self.range {
            Range::StartStop { start, .. } => (start, self.range.count()),
            r => (0, r.count()),
        };
        Objects {
            c: Cursor::new(self.data),
            size,
            index_len,
            next_index: first,
            left: if size == 0 { 0 } else { count },
        }
    }
}

/// Iterator over fixed-size objects: (index, object octets).
#[derive(Clone, Debug)]
pub struct Objects<'a> {
    c: Cursor<'a>,
    size: usize,
    index_len: usize,
    next_index: u32,
    left: u64,
}

impl<'a> Iterator for Objects<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<(u32, &'a [u8])> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let index = match self.index_len {
            0 => {
                let i = self.next_index;
                self.next_index = self.next_index.wrapping_add(1);
                i
            }
            1 => u32::from(self.c.u8()?),
            2 => u32::from(self.c.u16_le()?),
            _ => self.c.u32_le()?,
        };
        Some((index, self.c.bytes(self.size)?))
    }
}

/// The control code of a control relay output block (Annex A, group 12
/// variation 1): operation type, queue, clear and trip-close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ControlCode(pub u8);

impl ControlCode {
    /// Operation type (bits 0-3).
    pub fn op_type(self) -> u8 {
        self.0 & 0x0f
    }
    /// snake_case name of the operation type.
    pub fn op_type_name(self) -> &'static str {
        match self.op_type() {
            0 => "nul",
            1 => "pulse_on",
            2 => "pulse_off",
            3 => "latch_on",
            4 => "latch_off",
            _ => "undefined",
        }
    }
    /// QU (bit 4, obsolete): queue the operation.
    pub fn queue(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// CR (bit 5): clear queued operations.
    pub fn clear(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// Trip-close code (bits 6-7).
    pub fn tcc(self) -> u8 {
        self.0 >> 6
    }
    /// snake_case name of the trip-close code.
    pub fn tcc_name(self) -> &'static str {
        match self.tcc() {
            0 => "nul",
            1 => "close",
            2 => "trip",
            _ => "reserved",
        }
    }
}

/// A command status: the 7-bit status field of control relay output
/// blocks and analog output blocks (Annex A, object groups 12 and 41).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommandStatus(pub u8);

impl CommandStatus {
    /// snake_case name; `reserved` for codes the standard does not define.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "success",
            1 => "timeout",
            2 => "no_select",
            3 => "format_error",
            4 => "not_supported",
            5 => "already_active",
            6 => "hardware_error",
            7 => "local",
            8 => "too_many_objs",
            9 => "not_authorized",
            10 => "automation_inhibit",
            11 => "processing_limited",
            12 => "out_of_range",
            13 => "downstream_local",
            14 => "already_complete",
            15 => "blocked",
            16 => "cancelled",
            17 => "blocked_other_master",
            18 => "downstream_fail",
            126 => "non_participating",
            127 => "undefined",
            _ => "reserved",
        }
    }
}

/// A control relay output block (group 12 variation 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crob {
    /// Point index.
    pub index: u32,
    /// Control code.
    pub code: ControlCode,
    /// Times to repeat the operation.
    pub count: u8,
    /// On time, ms.
    pub on_time: u32,
    /// Off time, ms.
    pub off_time: u32,
    /// Command status (0 in requests, the outcome in responses).
    pub status: CommandStatus,
}

impl Crob {
    /// Decodes the 11 octets of one block.
    pub fn parse(index: u32, b: &[u8]) -> Option<Crob> {
        let mut c = Cursor::new(b);
        Some(Crob {
            index,
            code: ControlCode(c.u8()?),
            count: c.u8()?,
            on_time: c.u32_le()?,
            off_time: c.u32_le()?,
            status: CommandStatus(c.u8()? & 0x7f),
        })
    }
}

/// The value of an analog output block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnalogValue {
    /// Variations 1 (32-bit) and 2 (16-bit).
    Int(i32),
    /// Variation 3 (single precision).
    Float(f32),
    /// Variation 4 (double precision).
    Double(f64),
}

/// An analog output block (group 41, variations 1 to 4).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalogOutput {
    /// Point index.
    pub index: u32,
    /// The variation (1..=4).
    pub variation: u8,
    /// Requested value.
    pub value: AnalogValue,
    /// Command status.
    pub status: CommandStatus,
}

impl AnalogOutput {
    /// Decodes one block of `variation`.
    pub fn parse(index: u32, variation: u8, b: &[u8]) -> Option<AnalogOutput> {
        let mut c = Cursor::new(b);
        let value = match variation {
            1 => AnalogValue::Int(c.u32_le()? as i32),
            2 => AnalogValue::Int(i32::from(c.u16_le()? as i16)),
            3 => AnalogValue::Float(f32::from_bits(c.u32_le()?)),
            4 => {
                let lo = c.u32_le()?;
                let hi = c.u32_le()?;
                AnalogValue::Double(f64::from_bits(u64::from(lo) | (u64::from(hi) << 32)))
            }
            _ => return None,
        };
        Some(AnalogOutput {
            index,
            variation,
            value,
            status: CommandStatus(c.u8()? & 0x7f),
        })
    }
}
