//! Userdata PDUs (ROSCTR 7): the parameter head, the data header, and the
//! payloads PlantShield decodes: system status lists (SZL), block
//! functions and the clock.

use super::codes::{ErrorCode, FunctionGroup, ReturnCode, UserdataType};
use super::pdu::BlockFile;
use crate::cursor::Cursor;

/// Records decoded from one SZL answer; the rest are counted, not decoded.
pub const MAX_SZL_RECORDS: usize = 64;

/// The parameter of a userdata PDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserdataParam {
    /// 0x000112 for every group but the mode-transition push (0x010010).
    pub head: [u8; 3],
    /// Length of what follows the length octet: 4, or 8 with the fields below.
    pub length: u8,
    /// 0x11 request, 0x12 response, 0x00 undefined.
    pub method: u8,
    /// Push, request or response.
    pub kind: UserdataType,
    /// The function group.
    pub group: FunctionGroup,
    /// The sub-function (for mode-transition pushes: the new mode).
    pub sub_function: u8,
    /// Sequence number chosen by the CPU; a follow-up request repeats it.
    pub sequence: u8,
    /// Data unit reference number (8-octet form).
    pub data_unit_ref: Option<u8>,
    /// Whether more data units follow (8-octet form: 0x00 last, 0x01 more).
    pub last_data_unit: Option<bool>,
    /// Error code (8-octet form).
    pub error_code: Option<ErrorCode>,
}

/// Parses a userdata parameter; `None` when shorter than its fixed part.
pub fn parse_param(param: &[u8]) -> Option<UserdataParam> {
    let mut c = Cursor::new(param);
    let head = c.bytes(3)?;
    let (length, method, tg, sub_function, sequence) =
        (c.u8()?, c.u8()?, c.u8()?, c.u8()?, c.u8()?);
    let mut p = UserdataParam {
        head: [head[0], head[1], head[2]],
        length,
        method,
        kind: UserdataType(tg >> 4),
        group: FunctionGroup(tg & 0x0f),
        sub_function,
        sequence,
        data_unit_ref: None,
        last_data_unit: None,
        error_code: None,
    };
    if length >= 8 {
        if let (Some(dur), Some(ldu), Some(err)) = (c.u8(), c.u8(), c.u16()) {
            p.data_unit_ref = Some(dur);
            p.last_data_unit = Some(ldu == 0);
            p.error_code = Some(ErrorCode(err));
        }
    }
    Some(p)
}

impl UserdataParam {
    /// More data units follow this one.
    pub fn more_follows(&self) -> bool {
        self.last_data_unit == Some(false)
    }

    /// The mode-transition push has no sub-function: its octet is the mode.
    pub fn is_mode_transition(&self) -> bool {
        self.group == FunctionGroup::MODE_TRANSITION && self.kind == UserdataType::PUSH
    }
}

/// A userdata PDU the CPU sent unsolicited (neither request nor response:
/// cyclic data, alarms, diagnostic messages, mode transitions).
pub fn is_push(p: &super::Pdu<'_>) -> bool {
    p.header.rosctr == super::Rosctr::USERDATA
        && parse_param(p.param)
            .is_some_and(|u| u.kind != UserdataType::REQUEST && u.kind != UserdataType::RESPONSE)
}

/// The data header of a userdata PDU and its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserdataData<'a> {
    /// 0xFF success, 0x0A object does not exist (also used for empty requests).
    pub return_code: ReturnCode,
    /// Data transport size (0x09 octet string, 0x00 null).
    pub transport_size: u8,
    /// Octets of payload announced.
    pub length: u16,
    /// The payload present (at most `length` octets).
    pub payload: &'a [u8],
}

/// Parses the data part of a userdata PDU; `None` when it has no header.
pub fn parse_data(data: &[u8]) -> Option<UserdataData<'_>> {
    let mut c = Cursor::new(data);
    let (rc, ts, length) = (c.u8()?, c.u8()?, c.u16()?);
    let rest = c.rest();
    let payload = &rest[..rest.len().min(usize::from(length))];
    Some(UserdataData {
        return_code: ReturnCode(rc),
        transport_size: ts,
        length,
        payload,
    })
}

/// An SZL read request: which list and which part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SzlRequest {
    /// SZL id (module class, partial list extract and partial list number).
    pub id: u16,
    /// Index within the list.
    pub index: u16,
}

/// Parses the payload of an SZL read request.
pub fn szl_request(payload: &[u8]) -> Option<SzlRequest> {
    let mut c = Cursor::new(payload);
    Some(SzlRequest {
        id: c.u16()?,
        index: c.u16()?,
    })
}

/// An SZL answer: a header and fixed-length records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SzlResponse<'a> {
    /// SZL id.
    pub id: u16,
    /// Index.
    pub index: u16,
    /// Octets per record ("LENTHDR").
    pub record_length: u16,
    /// Records announced ("N_DR").
    pub record_count: u16,
    /// The record octets present.
    pub records: &'a [u8],
}

/// Parses an SZL answer (the reassembled payload of a read-SZL response).
pub fn szl_response(payload: &[u8]) -> Option<SzlResponse<'_>> {
    let mut c = Cursor::new(payload);
    Some(SzlResponse {
        id: c.u16()?,
        index: c.u16()?,
        record_length: c.u16()?,
        record_count: c.u16()?,
        records: c.rest(),
    })
}

impl<'a> SzlResponse<'a> {
    /// The records present, at most [`MAX_SZL_RECORDS`] and `record_count`.
    pub fn records(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let len = usize::from(self.record_length).max(1);
        self.records
            .chunks_exact(len)
            .take(usize::from(self.record_count).min(MAX_SZL_RECORDS))
    }

    /// True when the records present do not match the announced count and length.
    pub fn inconsistent(&self) -> bool {
        self.record_length == 0
            || self.records.len()
                != usize::from(self.record_length) * usize::from(self.record_count)
    }
}

/// Text of a fixed-size SZL string field: trailing spaces and NULs removed.
pub fn text(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|&x| x != 0 && x != b' ')
        .map_or(0, |i| i + 1);
    let s = &b[..end];
    // Some fields are NUL-terminated before their padding.
    match s.iter().position(|&x| x == 0) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// One record of SZL 0x0011 "module identification" (28 octets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleIdentification<'a> {
    /// 0x0001 module, 0x0006 basic hardware, 0x0007 basic firmware, 0x0081 firmware extension.
    pub index: u16,
    /// Order number ("MlfB"), trimmed.
    pub order_number: &'a [u8],
    /// Module type id ("BGTyp").
    pub module_type: u16,
    /// "Ausbg": version of the module or release of the operating system.
    pub ausbg: u16,
    /// "Ausbe": release of the PG description file, or the minor version.
    pub ausbe: u16,
}

/// Parses one SZL 0x0011 record.
pub fn module_identification(r: &[u8]) -> Option<ModuleIdentification<'_>> {
    let mut c = Cursor::new(r);
    Some(ModuleIdentification {
        index: c.u16()?,
        order_number: text(c.bytes(20)?),
        module_type: c.u16()?,
        ausbg: c.u16()?,
        ausbe: c.u16()?,
    })
}

impl ModuleIdentification<'_> {
    /// Firmware records write `V` and the major version in Ausbg and the
    /// minor and patch versions in Ausbe (`V3.2.7`); hardware records
    /// write the version number in Ausbe.
    pub fn version(&self) -> Version {
        let [a, b] = self.ausbg.to_be_bytes();
        let [c, d] = self.ausbe.to_be_bytes();
        if a == b'V' {
            Version::Firmware(b, c, d)
        } else {
            Version::Number(self.ausbe)
        }
    }

    /// snake_case meaning of the record's index.
    pub fn index_name(&self) -> &'static str {
        match self.index {
            0x0001 => "module",
            0x0006 => "basic_hardware",
            0x0007 => "basic_firmware",
            0x0081 => "firmware_extension",
            0x0082 => "firmware_extension_2",
            _ => "unknown",
        }
    }
}

/// A version as SZL 0x0011 writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `Vmajor.minor.patch`.
    Firmware(u8, u8, u8),
    /// A plain number (hardware product version).
    Number(u16),
}

/// One record of SZL 0x001C "component identification" (34 octets:
/// index and 32 octets whose layout depends on the index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component<'a> {
    /// A text field, named by its index.
    Text(&'static str, &'a [u8]),
    /// Index 9: manufacturer and profile of a CPU module.
    Manufacturer {
        /// PROFIBUS manufacturer id.
        manufacturer_id: u16,
        /// Profile id.
        profile_id: u16,
        /// Profile-specific type.
        profile_specific_type: u16,
    },
    /// Index 10: OEM identification.
    Oem {
        /// OEM copyright string.
        copyright: &'a [u8],
        /// OEM id.
        oem_id: u16,
        /// OEM additional id.
        oem_additional_id: u32,
    },
    /// An index this decoder does not know.
    Unknown(u16, &'a [u8]),
}

/// Parses one SZL 0x001C record.
pub fn component(r: &[u8]) -> Option<Component<'_>> {
    let mut c = Cursor::new(r);
    let index = c.u16()?;
    let body = c.rest();
    let field = |n: usize| text(&body[..body.len().min(n)]);
    Some(match index {
        1 => Component::Text("automation_system_name", field(24)),
        2 => Component::Text("module_name", field(24)),
        3 => Component::Text("plant_identification", field(32)),
        4 => Component::Text("copyright", field(26)),
        5 => Component::Text("serial_number", field(24)),
        7 => Component::Text("module_type_name", field(32)),
        8 => Component::Text("memory_card_serial_number", field(32)),
        9 => {
            let (Some(m), Some(p), Some(t)) = (c.u16(), c.u16(), c.u16()) else {
                return Some(Component::Unknown(index, body));
            };
            Component::Manufacturer {
                manufacturer_id: m,
                profile_id: p,
                profile_specific_type: t,
            }
        }
        10 => {
            let (Some(cr), Some(id), Some(add)) = (c.bytes(26), c.u16(), c.u32()) else {
                return Some(Component::Unknown(index, body));
            };
            Component::Oem {
                copyright: text(cr),
                oem_id: id,
                oem_additional_id: add,
            }
        }
        11 => Component::Text("location_designation", field(32)),
        _ => Component::Unknown(index, body),
    })
}

/// Block type as userdata block functions write it: `0` and an ASCII hex
/// digit (`0x30 0x38` for OB).
pub fn block_type_code(b: [u8; 2]) -> Option<u8> {
    super::pdu::hex2(&b)
}

/// One entry of "list blocks": a block type and how many blocks of it exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockCount {
    /// Block type code (`0x08` OB).
    pub block_type: Option<u8>,
    /// The two type octets as sent.
    pub raw_type: [u8; 2],
    /// Number of blocks.
    pub count: u16,
}

/// The entries of a "list blocks" answer.
pub fn block_counts(payload: &[u8]) -> impl Iterator<Item = BlockCount> + '_ {
    payload.chunks_exact(4).map(|e| {
        let raw_type = [e[0], e[1]];
        BlockCount {
            block_type: block_type_code(raw_type),
            raw_type,
            count: u16::from_be_bytes([e[2], e[3]]),
        }
    })
}

/// One entry of "list blocks of type".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// Block number.
    pub number: u16,
    /// Block flags.
    pub flags: u8,
    /// Programming language.
    pub language: u8,
}

/// The entries of a "list blocks of type" answer.
pub fn block_entries(payload: &[u8]) -> impl Iterator<Item = BlockEntry> + '_ {
    payload.chunks_exact(4).map(|e| BlockEntry {
        number: u16::from_be_bytes([e[0], e[1]]),
        flags: e[2],
        language: e[3],
    })
}

/// The block a "get block info" request names (type, number, file system
/// as 8 ASCII octets).
pub fn block_info_request(payload: &[u8]) -> Option<BlockFile<'_>> {
    payload.get(..8).map(BlockFile::parse)
}

/// The answer to "get block info" (what PlantShield reports of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo<'a> {
    /// Block flags (bit 0 linked, bit 1 standard block, bit 3 non-retain).
    pub flags: u8,
    /// Programming language.
    pub language: u8,
    /// Sub-block type (block type code).
    pub sub_block_type: u8,
    /// Block number.
    pub number: u16,
    /// Length in load memory.
    pub load_memory_length: u32,
    /// Know-how protection (non-zero when protected).
    pub block_security: u32,
    /// Last code change: milliseconds since midnight and days since 1984-01-01.
    pub code_timestamp: (u32, u16),
    /// Last interface change.
    pub interface_timestamp: (u32, u16),
    /// Local data length.
    pub local_data_length: u16,
    /// MC7 code length.
    pub mc7_length: u16,
    /// Author (8 characters).
    pub author: &'a [u8],
    /// Family (8 characters).
    pub family: &'a [u8],
    /// Name (8 characters).
    pub name: &'a [u8],
    /// Version: major in the high nibble, minor in the low.
    pub version: u8,
    /// Checksum.
    pub checksum: u16,
}

/// Parses a "get block info" answer.
pub fn block_info(payload: &[u8]) -> Option<BlockInfo<'_>> {
    let mut c = Cursor::new(payload);
    // Block type (2), info length (2), unknown (2), constant "pp" (2),
    // unknown (1), then the fields.
    c.bytes(9)?;
    let flags = c.u8()?;
    let language = c.u8()?;
    let sub_block_type = c.u8()?;
    let number = c.u16()?;
    let load_memory_length = c.u32()?;
    let block_security = c.u32()?;
    let code_timestamp = (c.u32()?, c.u16()?);
    let interface_timestamp = (c.u32()?, c.u16()?);
    let _ssb = c.u16()?;
    let _add = c.u16()?;
    let local_data_length = c.u16()?;
    let mc7_length = c.u16()?;
    let author = text(c.bytes(8)?);
    let family = text(c.bytes(8)?);
    let name = text(c.bytes(8)?);
    let version = c.u8()?;
    let _unknown = c.u8()?;
    let checksum = c.u16()?;
    Some(BlockInfo {
        flags,
        language,
        sub_block_type,
        number,
        load_memory_length,
        block_security,
        code_timestamp,
        interface_timestamp,
        local_data_length,
        mc7_length,
        author,
        family,
        name,
        version,
        checksum,
    })
}

/// A calendar time as the S7 clock functions carry it (BCD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct S7Time {
    /// Year (four digits).
    pub year: u16,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
    /// Hour 0-23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Milliseconds.
    pub millisecond: u16,
    /// Weekday, 1 Sunday to 7 Saturday.
    pub weekday: u8,
}

fn bcd(b: u8) -> Option<u8> {
    let (h, l) = (b >> 4, b & 0x0f);
    (h < 10 && l < 10).then_some(h * 10 + l)
}

/// Parses the 10-octet clock value (reserved, a second reserved octet
/// stacks fill with 0x19 or 0x20, year, month, day, hour, minute, second,
/// milliseconds and weekday, all BCD); `None` when any digit is not BCD or
/// a field is out of range. The two-digit year follows DATE_AND_TIME:
/// 90-99 are 1990-1999, 00-89 are 2000-2089.
pub fn s7_time(b: &[u8]) -> Option<S7Time> {
    let b = b.get(..10)?;
    bcd(b[1])?;
    let y = u16::from(bcd(b[2])?);
    let year = if y >= 90 { 1900 + y } else { 2000 + y };
    let (month, day, hour, minute, second) =
        (bcd(b[3])?, bcd(b[4])?, bcd(b[5])?, bcd(b[6])?, bcd(b[7])?);
    let ms_hi = bcd(b[8])?;
    let ms_lo = b[9] >> 4;
    if ms_lo > 9 {
        return None;
    }
    let t = S7Time {
        year,
        month,
        day,
        hour,
        minute,
        second,
        millisecond: u16::from(ms_hi) * 10 + u16::from(ms_lo),
        weekday: b[9] & 0x0f,
    };
    let valid = (1..=12).contains(&t.month)
        && (1..=31).contains(&t.day)
        && t.hour < 24
        && t.minute < 60
        && t.second < 60;
    valid.then_some(t)
}

impl S7Time {
    /// `YYYY-MM-DDTHH:MM:SS.mmm` (the PLC's local time; no zone is sent).
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond
        )
    }
}

/// A block timestamp (milliseconds since midnight, days since
/// 1984-01-01) as `YYYY-MM-DDTHH:MM:SS.mmm`.
pub fn block_timestamp(ms: u32, days: u16) -> String {
    // Days since 1984-01-01 to a civil date (proleptic Gregorian).
    let z = i64::from(days) + days_from_civil(1984, 1, 1);
    let (y, m, d) = civil_from_days(z);
    let ms = ms.min(86_399_999);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        y,
        m,
        d,
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
