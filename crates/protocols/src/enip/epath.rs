//! Padded EPATHs (CIP Vol. 1 Appendix C): the request paths of the
//! Message Router, the route paths of Unconnected_Send and the connection
//! paths of Forward_Open.

use std::fmt::Write as _;

use crate::cursor::Cursor;

/// Segments read from one path; a longer path is reported as an error.
pub const MAX_SEGMENTS: usize = 32;

/// The kind of a logical segment (Vol. 1 §C-1.4.2, bits 4-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalType {
    /// Class id.
    Class,
    /// Instance id.
    Instance,
    /// Member id (Logix: an array element index).
    Member,
    /// Connection point (an assembly instance in I/O connection paths).
    ConnectionPoint,
    /// Attribute id.
    Attribute,
    /// Service id.
    Service,
}

impl LogicalType {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            LogicalType::Class => "class",
            LogicalType::Instance => "instance",
            LogicalType::Member => "member",
            LogicalType::ConnectionPoint => "connection_point",
            LogicalType::Attribute => "attribute",
            LogicalType::Service => "service",
        }
    }
}

/// One path segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Port segment (§C-1.4.1): leave the device through `port` towards
    /// `link` (a node number or an IP address in ASCII).
    Port {
        /// Port identifier (1 backplane, 2 the first network port, ...).
        port: u16,
        /// Link address.
        link: &'a [u8],
    },
    /// Logical segment (§C-1.4.2) in 8, 16 or 32-bit format.
    Logical {
        /// What the value identifies.
        kind: LogicalType,
        /// The id.
        value: u32,
    },
    /// Electronic key, format 4 (§C-1.4.2): which device the originator expects.
    ElectronicKey {
        /// Vendor id.
        vendor_id: u16,
        /// Device type.
        device_type: u16,
        /// Product code.
        product_code: u16,
        /// Major revision; bit 7 is the compatibility bit.
        major_revision: u8,
        /// Minor revision.
        minor_revision: u8,
    },
    /// Network segment (§C-1.4.3): schedule, production inhibit time, safety.
    Network {
        /// The segment type byte.
        kind: u8,
        /// Its data.
        data: &'a [u8],
    },
    /// Symbolic segment (§C-1.4.4) or ANSI extended symbol data segment
    /// (§C-1.4.5, 0x91): a tag name.
    Symbolic(&'a [u8]),
    /// Simple data segment (§C-1.4.5, 0x80).
    Data(&'a [u8]),
}

/// Why a path could not be read to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// A segment runs past the path.
    Truncated,
    /// A segment type PlantShield does not decode (the byte).
    Unsupported(u8),
    /// A reserved segment type or format (the byte).
    Reserved(u8),
    /// More than [`MAX_SEGMENTS`] segments.
    TooManySegments,
}

impl PathError {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            PathError::Truncated => "truncated",
            PathError::Unsupported(_) => "unsupported_segment",
            PathError::Reserved(_) => "reserved_segment",
            PathError::TooManySegments => "too_many_segments",
        }
    }
}

/// A padded EPATH: segments aligned on 16-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Epath<'a> {
    /// The path bytes (path size in words times two).
    pub bytes: &'a [u8],
}

impl<'a> Epath<'a> {
    /// A path over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Epath { bytes }
    }

    /// The segments, in order; an error ends the iteration.
    pub fn segments(&self) -> Segments<'a> {
        Segments {
            c: Cursor::new(self.bytes),
            n: 0,
            done: false,
        }
    }

    /// What the path addresses (the last segment of each logical kind) and
    /// whether it could be read to its end.
    pub fn info(&self) -> PathInfo {
        let mut p = PathInfo::default();
        for s in self.segments() {
            match s {
                Ok(Segment::Logical { kind, value }) => match kind {
                    LogicalType::Class => {
                        p.class = Some(value);
                        // A new class scopes what follows.
                        p.instance = None;
                        p.attribute = None;
                        p.member = None;
                    }
                    LogicalType::Instance => p.instance = Some(value),
                    LogicalType::Attribute => p.attribute = Some(value),
                    LogicalType::Member => p.member = Some(value),
                    LogicalType::ConnectionPoint => p.connection_point = Some(value),
                    LogicalType::Service => {}
                },
                Ok(Segment::Symbolic(_)) => p.symbolic = true,
                Ok(Segment::Port { .. }) => p.port = true,
                Ok(_) => {}
                Err(e) => p.error = Some(e),
            }
        }
        p
    }

    /// The tag name of a symbolic path: symbols joined with `.`, member
    /// (element) segments after a symbol as `[i]` or `[i,j]`. `None` when the
    /// path has no symbolic segment.
    pub fn tag_name(&self) -> Option<String> {
        let mut s = String::new();
        let mut any = false;
        let mut in_index = false;
        for seg in self.segments() {
            match seg {
                Ok(Segment::Symbolic(name)) => {
                    if in_index {
                        s.push(']');
                        in_index = false;
                    }
                    if any {
                        s.push('.');
                    }
                    any = true;
                    s.push_str(&String::from_utf8_lossy(name));
                }
                Ok(Segment::Logical {
                    kind: LogicalType::Member,
                    value,
                }) if any => {
                    s.push(if in_index { ',' } else { '[' });
                    in_index = true;
                    let _ = write!(s, "{value}");
                }
                _ => {
                    if in_index {
                        s.push(']');
                        in_index = false;
                    }
                }
            }
        }
        if in_index {
            s.push(']');
        }
        any.then_some(s)
    }

    /// The path as text, segment by segment (`class 0x01/instance 1/attribute 7`,
    /// `port 1 link 0`, `symbol Tag`), for people and rules.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for seg in self.segments() {
            if !s.is_empty() {
                s.push('/');
            }
            match seg {
                Ok(Segment::Port { port, link }) => {
                    let _ = write!(s, "port {port} link ");
                    if link.len() == 1 {
                        let _ = write!(s, "{}", link[0]);
                    } else {
                        s.push_str(&String::from_utf8_lossy(link));
                    }
                }
                Ok(Segment::Logical { kind, value }) => match kind {
                    LogicalType::Class => {
                        let _ = write!(s, "class 0x{value:02x}");
                    }
                    _ => {
                        let _ = write!(s, "{} {value}", kind.name());
                    }
                },
                Ok(Segment::ElectronicKey {
                    vendor_id,
                    device_type,
                    product_code,
                    major_revision,
                    minor_revision,
                }) => {
                    let _ = write!(
                        s,
                        "key vendor {vendor_id} device_type {device_type} product_code {product_code} revision {}.{minor_revision}",
                        major_revision & 0x7f
                    );
                }
                Ok(Segment::Network { kind, .. }) => {
                    let _ = write!(s, "network 0x{kind:02x}");
                }
                Ok(Segment::Symbolic(name)) => {
                    s.push_str("symbol ");
                    s.push_str(&String::from_utf8_lossy(name));
                }
                Ok(Segment::Data(d)) => {
                    let _ = write!(s, "data {} bytes", d.len());
                }
                Err(e) => s.push_str(e.name()),
            }
        }
        s
    }
}

/// What a path addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PathInfo {
    /// The (last) class id.
    pub class: Option<u32>,
    /// The instance id after that class.
    pub instance: Option<u32>,
    /// The attribute id.
    pub attribute: Option<u32>,
    /// The member id.
    pub member: Option<u32>,
    /// The connection point.
    pub connection_point: Option<u32>,
    /// The path names a tag.
    pub symbolic: bool,
    /// The path routes through a port.
    pub port: bool,
    /// Why the path could not be read to its end.
    pub error: Option<PathError>,
}

/// Iterator over the segments of a path.
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    c: Cursor<'a>,
    n: usize,
    done: bool,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, PathError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.c.remaining() == 0 {
            return None;
        }
        if self.n >= MAX_SEGMENTS {
            self.done = true;
            return Some(Err(PathError::TooManySegments));
        }
        self.n += 1;
        let r = segment(&mut self.c);
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

fn segment<'a>(c: &mut Cursor<'a>) -> Result<Segment<'a>, PathError> {
    let t = PathError::Truncated;
    let b = c.u8().ok_or(t)?;
    match b >> 5 {
        0 => {
            let extended_link = b & 0x10 != 0;
            let id = u16::from(b & 0x0f);
            let link_size = if extended_link { c.u8().ok_or(t)? } else { 1 };
            let port = if id == 15 { c.u16_le().ok_or(t)? } else { id };
            let link = c.bytes(usize::from(link_size)).ok_or(t)?;
            let len = 1 + usize::from(extended_link) + if id == 15 { 2 } else { 0 } + link.len();
            if len % 2 == 1 {
                c.u8().ok_or(t)?;
            }
            Ok(Segment::Port { port, link })
        }
        1 => {
            let kind = match (b >> 2) & 7 {
                0 => LogicalType::Class,
                1 => LogicalType::Instance,
                2 => LogicalType::Member,
                3 => LogicalType::ConnectionPoint,
                4 => LogicalType::Attribute,
                5 => return electronic_key(b, c),
                6 => LogicalType::Service,
                _ => return Err(PathError::Unsupported(b)),
            };
            let value = match b & 3 {
                0 => u32::from(c.u8().ok_or(t)?),
                1 => {
                    c.u8().ok_or(t)?;
                    u32::from(c.u16_le().ok_or(t)?)
                }
                2 => {
                    c.u8().ok_or(t)?;
                    c.u32_le().ok_or(t)?
                }
                _ => return Err(PathError::Reserved(b)),
            };
            if kind == LogicalType::Service && b & 3 != 0 {
                return Err(PathError::Reserved(b));
            }
            Ok(Segment::Logical { kind, value })
        }
        2 => {
            let data = if b & 0x10 == 0 {
                c.bytes(1).ok_or(t)?
            } else {
                let words = c.u8().ok_or(t)?;
                c.bytes(usize::from(words) * 2).ok_or(t)?
            };
            Ok(Segment::Network { kind: b, data })
        }
        3 => {
            let n = usize::from(b & 0x1f);
            if n == 0 {
                // Extended string formats (double-byte, numeric symbols).
                return Err(PathError::Unsupported(b));
            }
            let name = c.bytes(n).ok_or(t)?;
            if (1 + n) % 2 == 1 {
                c.u8().ok_or(t)?;
            }
            Ok(Segment::Symbolic(name))
        }
        4 => match b {
            0x80 => {
                let words = c.u8().ok_or(t)?;
                Ok(Segment::Data(c.bytes(usize::from(words) * 2).ok_or(t)?))
            }
            0x91 => {
                let n = usize::from(c.u8().ok_or(t)?);
                let name = c.bytes(n).ok_or(t)?;
                if n % 2 == 1 {
                    c.u8().ok_or(t)?;
                }
                Ok(Segment::Symbolic(name))
            }
            _ => Err(PathError::Unsupported(b)),
        },
        5 | 6 => Err(PathError::Unsupported(b)),
        _ => Err(PathError::Reserved(b)),
    }
}

fn electronic_key<'a>(b: u8, c: &mut Cursor<'a>) -> Result<Segment<'a>, PathError> {
    let t = PathError::Truncated;
    if b != 0x34 {
        return Err(PathError::Reserved(b));
    }
    let format = c.u8().ok_or(t)?;
    if format != 4 {
        return Err(PathError::Unsupported(b));
    }
    Ok(Segment::ElectronicKey {
        vendor_id: c.u16_le().ok_or(t)?,
        device_type: c.u16_le().ok_or(t)?,
        product_code: c.u16_le().ok_or(t)?,
        major_revision: c.u8().ok_or(t)?,
        minor_revision: c.u8().ok_or(t)?,
    })
}
