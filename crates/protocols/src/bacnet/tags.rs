//! The tagged encoding of service parameters (clause 20.2): tag octets,
//! application-tagged primitive values and context tags.

use super::codes::ObjectId;
use crate::cursor::Cursor;

/// Most opening/closing tag nesting followed inside one value.
pub const MAX_DEPTH: u32 = 16;

/// Whether a tag is an application or a context tag (clause 20.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Application tag: the tag number is the datatype.
    Application,
    /// Context-specific tag: the number names the parameter.
    Context,
}

/// What follows a tag octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A primitive value (for an application boolean, `len` is its value
    /// and `content` is empty).
    Primitive {
        /// The length/value/type field.
        len: u32,
        /// The content octets.
        content: &'a [u8],
    },
    /// An opening tag (context tags only, LVT 6).
    Opening,
    /// A closing tag (LVT 7).
    Closing,
}

/// One tag with its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Tag number (extended numbers included).
    pub number: u8,
    /// Application or context.
    pub class: Class,
    /// Content, opening or closing.
    pub kind: Kind<'a>,
}

impl<'a> Tag<'a> {
    /// True for a context tag `n` with primitive content.
    pub fn is_context(&self, n: u8) -> bool {
        self.class == Class::Context
            && self.number == n
            && matches!(self.kind, Kind::Primitive { .. })
    }

    /// True for the opening tag `n`.
    pub fn is_opening(&self, n: u8) -> bool {
        self.class == Class::Context && self.number == n && self.kind == Kind::Opening
    }

    /// True for the closing tag `n`.
    pub fn is_closing(&self, n: u8) -> bool {
        self.number == n && self.kind == Kind::Closing
    }

    /// True for an application tag of datatype `t`.
    pub fn is_app(&self, t: u8) -> bool {
        self.class == Class::Application
            && self.number == t
            && matches!(self.kind, Kind::Primitive { .. })
    }

    /// The content octets of a primitive tag (empty otherwise).
    pub fn content(&self) -> &'a [u8] {
        match self.kind {
            Kind::Primitive { content, .. } => content,
            _ => &[],
        }
    }

    /// The content as an unsigned integer (1..=8 octets).
    pub fn unsigned(&self) -> Option<u64> {
        unsigned(self.content())
    }

    /// The application value of this tag, when it is a primitive
    /// application tag.
    pub fn value(&self) -> Option<Value<'a>> {
        let Kind::Primitive { len, content } = self.kind else {
            return None;
        };
        if self.class != Class::Application {
            return None;
        }
        Value::decode(self.number, len, content)
    }
}

/// Reads one tag (and its primitive content) from `c`.
pub fn read_tag<'a>(c: &mut Cursor<'a>) -> Option<Tag<'a>> {
    let first = c.u8()?;
    let mut number = first >> 4;
    let class = if first & 0x08 != 0 {
        Class::Context
    } else {
        Class::Application
    };
    if number == 15 {
        number = c.u8()?;
    }
    let lvt = first & 0x07;
    // An application boolean keeps its value in the LVT field.
    if class == Class::Application && number == 1 {
        return Some(Tag {
            number,
            class,
            kind: Kind::Primitive {
                len: u32::from(lvt),
                content: &[],
            },
        });
    }
    let len = match lvt {
        0..=4 => u32::from(lvt),
        5 => match c.u8()? {
            254 => u32::from(c.u16()?),
            255 => c.u32()?,
            n => u32::from(n),
        },
        6 if class == Class::Context => {
            return Some(Tag {
                number,
                class,
                kind: Kind::Opening,
            })
        }
        7 if class == Class::Context => {
            return Some(Tag {
                number,
                class,
                kind: Kind::Closing,
            })
        }
        // Application tags never open or close.
        _ => return None,
    };
    let content = c.bytes(usize::try_from(len).ok()?)?;
    Some(Tag {
        number,
        class,
        kind: Kind::Primitive { len, content },
    })
}

/// Big-endian unsigned integer of 1..=8 octets.
pub fn unsigned(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// Big-endian two's complement integer of 1..=8 octets.
pub fn signed(b: &[u8]) -> Option<i64> {
    let u = unsigned(b)?;
    let bits = 8 * b.len() as u32;
    if bits == 64 {
        return Some(u as i64);
    }
    let shift = 64 - bits;
    Some(((u << shift) as i64) >> shift)
}

/// An application-tagged primitive value (clause 20.2.2 to 20.2.14).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// Null.
    Null,
    /// Boolean.
    Boolean(bool),
    /// Unsigned integer.
    Unsigned(u64),
    /// Signed integer.
    Signed(i64),
    /// IEEE 754 single precision.
    Real(f32),
    /// IEEE 754 double precision.
    Double(f64),
    /// Octet string.
    OctetString(&'a [u8]),
    /// Character string: the character set and the encoded characters.
    CharacterString {
        /// Character set (clause 20.2.9).
        charset: u8,
        /// The characters as encoded.
        bytes: &'a [u8],
    },
    /// Bit string: unused bits in the last octet, and the octets.
    BitString {
        /// Unused bits of the last octet.
        unused: u8,
        /// The bits, first bit in the high bit of the first octet.
        bytes: &'a [u8],
    },
    /// Enumerated.
    Enumerated(u64),
    /// Date: year - 1900, month, day, day of week (255 = unspecified).
    Date([u8; 4]),
    /// Time: hour, minute, second, hundredths (255 = unspecified).
    Time([u8; 4]),
    /// Object identifier.
    ObjectId(ObjectId),
    /// An application tag number the standard reserves (13-15).
    Reserved(u8, &'a [u8]),
}

impl<'a> Value<'a> {
    /// Decodes application datatype `tag` from its content.
    pub fn decode(tag: u8, len: u32, b: &'a [u8]) -> Option<Value<'a>> {
        let four = |b: &[u8]| -> Option<[u8; 4]> { b.try_into().ok() };
        Some(match tag {
            0 => Value::Null,
            1 => Value::Boolean(len != 0),
            2 => Value::Unsigned(unsigned(b)?),
            3 => Value::Signed(signed(b)?),
            4 => Value::Real(f32::from_be_bytes(four(b)?)),
            5 => Value::Double(f64::from_be_bytes(b.try_into().ok()?)),
            6 => Value::OctetString(b),
            7 => {
                let (&charset, bytes) = b.split_first()?;
                Value::CharacterString { charset, bytes }
            }
            8 => {
                let (&unused, bytes) = b.split_first()?;
                Value::BitString { unused, bytes }
            }
            9 => Value::Enumerated(unsigned(b)?),
            10 => Value::Date(four(b)?),
            11 => Value::Time(four(b)?),
            12 => Value::ObjectId(ObjectId::from_u32(u32::from_be_bytes(four(b)?))),
            n => Value::Reserved(n, b),
        })
    }

    /// The characters of a character string as text, for the character
    /// sets that map to Unicode without tables (UTF-8, UCS-2, UCS-4,
    /// ISO 8859-1); invalid sequences become U+FFFD. `None` for other
    /// values and character sets.
    pub fn text(&self) -> Option<String> {
        let Value::CharacterString { charset, bytes } = *self else {
            return None;
        };
        decode_text(charset, bytes)
    }

    /// The value as an unsigned number (unsigned and enumerated values).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Unsigned(v) | Value::Enumerated(v) => Some(v),
            _ => None,
        }
    }
}

/// Characters of a character string in `charset` as text (see [`Value::text`]).
pub fn decode_text(charset: u8, bytes: &[u8]) -> Option<String> {
    let from_units = |units: &mut dyn Iterator<Item = u32>| -> String {
        units
            .map(|u| char::from_u32(u).unwrap_or('\u{fffd}'))
            .collect()
    };
    match charset {
        0 => Some(String::from_utf8_lossy(bytes).into_owned()),
        5 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        4 => Some(from_units(
            &mut bytes
                .chunks_exact(2)
                .map(|p| u32::from(u16::from_be_bytes([p[0], p[1]]))),
        )),
        3 => Some(from_units(
            &mut bytes
                .chunks_exact(4)
                .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]])),
        )),
        _ => None,
    }
}

/// Skips the rest of a constructed value after its opening tag `n`, up to
/// and including the matching closing tag; returns the enclosed octets.
pub fn enclosed<'a>(c: &mut Cursor<'a>, n: u8) -> Option<&'a [u8]> {
    let start = c.rest();
    let begin = c.position();
    let mut depth = 0u32;
    loop {
        let before = c.position();
        let t = read_tag(c)?;
        match t.kind {
            Kind::Opening => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
            }
            Kind::Closing if depth == 0 => {
                if t.number != n {
                    return None;
                }
                return start.get(..before - begin);
            }
            Kind::Closing => depth -= 1,
            Kind::Primitive { .. } => {}
        }
    }
}

/// The application values in `b` (a property value between its opening and
/// closing tags), in order; constructed parts (context tags) are skipped.
/// Stops at the first octet that is not a tag.
pub fn app_values(b: &[u8]) -> impl Iterator<Item = Value<'_>> {
    let mut c = Cursor::new(b);
    std::iter::from_fn(move || loop {
        let t = read_tag(&mut c)?;
        if let Some(v) = t.value() {
            return Some(v);
        }
    })
}
