//! The application service data unit: data unit identifier and information
//! objects (IEC 60870-5-101 §7.2 and §7.3, with the field sizes fixed by
//! IEC 60870-5-104 §9: two-octet cause of transmission, two-octet common
//! address, three-octet information object address).

use super::time::{Cp24Time2a, Cp56Time2a};
use super::types::{Cause, ElementKind, Layout, TimeTag, TypeId};
use crate::cursor::Cursor;

/// Data unit identifier length in 104: type, VSQ, COT (2), common address (2).
pub const HEADER_LEN: usize = 6;
/// Information object address length in 104.
pub const IOA_LEN: usize = 3;
/// The VSQ number field holds at most 127 objects (7 bits): the bound on
/// objects per ASDU the parser will ever walk.
pub const MAX_OBJECTS: usize = 127;

/// Variable structure qualifier (101 §7.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vsq(pub u8);

impl Vsq {
    /// SQ=1: one address, then consecutive elements at consecutive addresses.
    pub fn sq(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// Number of information objects (SQ=0) or elements (SQ=1).
    pub fn number(self) -> u8 {
        self.0 & 0x7f
    }
}

/// The first octet of the cause of transmission field (101 §7.2.3): cause,
/// P/N and T bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cot(pub u8);

impl Cot {
    /// The 6-bit cause.
    pub fn cause(self) -> Cause {
        Cause(self.0 & 0x3f)
    }
    /// P/N bit: a negative confirmation of an activation.
    pub fn negative(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// T bit: a test, not to be executed.
    pub fn test(self) -> bool {
        self.0 & 0x80 != 0
    }
}

/// What an ASDU breaks but was kept (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsduFlags(pub u16);

crate::flag_set!(AsduFlags, u16);

impl AsduFlags {
    /// The objects' octets do not match the VSQ number and the type's
    /// element length (missing or trailing octets).
    pub const OBJECT_LENGTH_MISMATCH: u16 = 1 << 0;
    /// VSQ number 0: an ASDU without information objects.
    pub const NO_OBJECTS: u16 = 1 << 1;
    /// A CP24Time2a/CP56Time2a field out of its ranges.
    pub const INVALID_TIME: u16 = 1 << 2;
    /// A type of 101 that 104 does not use (104 §8).
    pub const TYPE_NOT_IN_104: u16 = 1 << 3;
    /// A cause the specification leaves undefined (0, 14-19, 42-43).
    pub const UNDEFINED_CAUSE: u16 = 1 << 4;
    /// A double or regulating step command state 0 or 3 ("not permitted").
    pub const INVALID_COMMAND_STATE: u16 = 1 << 5;

    const NAMES: [(u16, &'static str); 6] = [
        (Self::OBJECT_LENGTH_MISMATCH, "object_length_mismatch"),
        (Self::NO_OBJECTS, "no_objects"),
        (Self::INVALID_TIME, "invalid_time"),
        (Self::TYPE_NOT_IN_104, "type_not_in_104"),
        (Self::UNDEFINED_CAUSE, "undefined_cause"),
        (Self::INVALID_COMMAND_STATE, "invalid_command_state"),
    ];
}

/// A parsed ASDU with a complete data unit identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asdu<'a> {
    /// Type identification.
    pub type_id: TypeId,
    /// Variable structure qualifier.
    pub vsq: Vsq,
    /// Cause, P/N and test bits.
    pub cot: Cot,
    /// Originator address (second COT octet; 0 when unused).
    pub originator: u8,
    /// Common address of the ASDU (station address).
    pub common_address: u16,
    /// The information objects' octets.
    pub objects: &'a [u8],
    /// Findings.
    pub flags: AsduFlags,
}

/// An ASDU too short for its data unit identifier: what could be read.
/// Wireshark counts the type and cause of such units, so they are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TruncatedAsdu {
    /// Octets present (0..=5).
    pub len: usize,
    /// Present from one octet on.
    pub type_id: Option<TypeId>,
    /// Present from two octets on.
    pub vsq: Option<Vsq>,
    /// Present from three octets on.
    pub cot: Option<Cot>,
    /// Present from four octets on.
    pub originator: Option<u8>,
}

/// Parses an ASDU; never fails on content, only on a too short header.
pub fn parse_asdu(b: &[u8]) -> Result<Asdu<'_>, TruncatedAsdu> {
    let mut c = Cursor::new(b);
    let type_id = c.u8().map(TypeId);
    let vsq = c.u8().map(Vsq);
    let cot = c.u8().map(Cot);
    let originator = c.u8();
    let ca = c.u16_le();
    let (Some(type_id), Some(vsq), Some(cot), Some(originator), Some(common_address)) =
        (type_id, vsq, cot, originator, ca)
    else {
        return Err(TruncatedAsdu {
            len: b.len().min(HEADER_LEN - 1),
            type_id,
            vsq,
            cot,
            originator,
        });
    };
    let objects = c.take_rest();
    let mut a = Asdu {
        type_id,
        vsq,
        cot,
        originator,
        common_address,
        objects,
        flags: AsduFlags::default(),
    };
    a.flags = a.validate();
    Ok(a)
}

impl<'a> Asdu<'a> {
    /// Octets the objects should take, when the type's layout is known.
    pub fn expected_objects_len(&self) -> Option<usize> {
        let layout = self.type_id.layout()?;
        let n = usize::from(self.vsq.number());
        Some(if self.vsq.sq() {
            if n == 0 {
                0
            } else {
                IOA_LEN + n * layout.len()
            }
        } else {
            n * (IOA_LEN + layout.len())
        })
    }

    fn validate(&self) -> AsduFlags {
        let mut f = 0;
        if self.vsq.number() == 0 {
            f |= AsduFlags::NO_OBJECTS;
        }
        if let Some(n) = self.expected_objects_len() {
            if n != self.objects.len() {
                f |= AsduFlags::OBJECT_LENGTH_MISMATCH;
            }
        }
        if self.type_id.not_in_104() {
            f |= AsduFlags::TYPE_NOT_IN_104;
        }
        if self.cot.cause().is_undefined() {
            f |= AsduFlags::UNDEFINED_CAUSE;
        }
        for o in self.objects() {
            if o.element.time.is_some_and(|t| !t.is_valid()) {
                f |= AsduFlags::INVALID_TIME;
            }
            if let Value::Command { state, .. } = o.element.value {
                let two_bit = matches!(
                    self.type_id.layout().map(|l| l.element),
                    Some(ElementKind::Dco | ElementKind::Rco)
                );
                if two_bit && (state == 0 || state == 3) {
                    f |= AsduFlags::INVALID_COMMAND_STATE;
                }
            }
        }
        AsduFlags(f)
    }

    /// The address of the first information object, if there is one.
    pub fn first_ioa(&self) -> Option<u32> {
        let b = self.objects.get(..IOA_LEN)?;
        Some(ioa(b))
    }

    /// The information objects, as far as whole ones are present (none
    /// when the type's layout is unknown or variable).
    pub fn objects(&self) -> Objects<'a> {
        Objects {
            c: Cursor::new(self.objects),
            layout: self.type_id.layout(),
            sq: self.vsq.sq(),
            left: usize::from(self.vsq.number()).min(MAX_OBJECTS),
            next_ioa: None,
        }
    }
}

fn ioa(b: &[u8]) -> u32 {
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

/// Iterator over information objects (101 §7.3, 104 §9).
#[derive(Clone, Debug)]
pub struct Objects<'a> {
    c: Cursor<'a>,
    layout: Option<Layout>,
    sq: bool,
    left: usize,
    next_ioa: Option<u32>,
}

/// One information object: address and element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InformationObject<'a> {
    /// Information object address (for SQ=1, the first address plus the
    /// element's index).
    pub ioa: u32,
    /// The element.
    pub element: Element<'a>,
}

impl<'a> Iterator for Objects<'a> {
    type Item = InformationObject<'a>;
    fn next(&mut self) -> Option<InformationObject<'a>> {
        let layout = self.layout?;
        if self.left == 0 {
            return None;
        }
        let mut c = self.c;
        let addr = match (self.sq, self.next_ioa) {
            (true, Some(a)) => a,
            _ => ioa(c.bytes(IOA_LEN)?),
        };
        let raw = c.bytes(layout.len())?;
        self.c = c;
        self.left -= 1;
        self.next_ioa = Some(addr.wrapping_add(1) & 0x00ff_ffff);
        Some(InformationObject {
            ioa: addr,
            element: Element::decode(layout, raw),
        })
    }
}

/// The information of one element, decoded (101 §7.2.6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// SPI (0/1), DPI (0..=3, §7.2.6.2), ES of a protection event.
    State(u8),
    /// VTI: a step position -64..=63 and the transient bit.
    Step {
        /// Position.
        value: i8,
        /// The equipment is moving.
        transient: bool,
    },
    /// BSI: 32 bits (first octet least significant), SCD, SPE, OCI.
    Bits(u32),
    /// NVA: a normalised value, raw (value = raw / 32768, in [-1, 1)).
    Normalized(i16),
    /// SVA: a scaled value.
    Scaled(i16),
    /// IEEE 754 short floating point.
    Float(f32),
    /// BCR: a counter reading and its sequence number (0..=31).
    Counter {
        /// The reading.
        value: i32,
        /// Sequence notation.
        sequence: u8,
    },
    /// SCO/DCO/RCO: the command state (SCS 0/1, DCS or RCS 0..=3), QU
    /// qualifier of command and the S/E bit.
    Command {
        /// SCS, DCS or RCS.
        state: u8,
        /// QU: 0 no additional definition, 1 short pulse, 2 long pulse,
        /// 3 persistent output.
        qualifier: u8,
        /// S/E = 1: select; 0: execute.
        select: bool,
    },
    /// A set-point: normalised, scaled or float value with its QOS (QL and S/E).
    SetPoint {
        /// The value.
        value: SetValue,
        /// QL: qualifier of set-point command.
        qualifier: u8,
        /// S/E = 1: select.
        select: bool,
    },
    /// A parameter of measured value with its QPM (kind, LPC, POP).
    Parameter {
        /// The value.
        value: SetValue,
        /// QPM octet.
        qualifier: u8,
    },
    /// One-octet qualifiers and codes: COI, QOI, QCC, QRP, QPA.
    Qualifier(u8),
    /// Two-octet values: FBP test pattern, TSC test sequence counter,
    /// CP16 delay.
    Word(u16),
    /// No value (C_RD_NA_1, C_CS_NA_1 whose time is the element).
    None,
    /// Raw element octets (file transfer).
    Raw(&'a [u8]),
}

/// The value of a set-point or parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SetValue {
    /// NVA, raw.
    Normalized(i16),
    /// SVA.
    Scaled(i16),
    /// Short float.
    Float(f32),
}

/// Which quality names apply to a quality octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QualityKind {
    /// QDS (§7.2.6.3): OV BL SB NT IV.
    Qds,
    /// SIQ/DIQ (§7.2.6.1-2): BL SB NT IV.
    Siq,
    /// QDP and SEP (§7.2.6.4, §7.2.6.10): EI BL SB NT IV.
    Qdp,
    /// BCR (§7.2.6.9): CY CA IV.
    Bcr,
}

/// A quality descriptor octet with its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quality {
    /// The octet, value bits masked off.
    pub bits: u8,
    /// Which names apply.
    pub kind: QualityKind,
}

impl Quality {
    fn new(octet: u8, kind: QualityKind) -> Quality {
        let mask = match kind {
            QualityKind::Qds => 0xf1,
            QualityKind::Siq => 0xf0,
            QualityKind::Qdp => 0xf8,
            QualityKind::Bcr => 0xe0,
        };
        Quality {
            bits: octet & mask,
            kind,
        }
    }

    /// True when every flag is clear (a good value).
    pub fn is_good(self) -> bool {
        self.bits == 0
    }

    /// The set flags' names: `ov` overflow, `ei` elapsed time invalid, `bl`
    /// blocked, `sb` substituted, `nt` not topical, `iv` invalid, `cy`
    /// carry, `ca` counter adjusted.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let table: &'static [(u8, &'static str)] = match self.kind {
            QualityKind::Bcr => &[(0x20, "cy"), (0x40, "ca"), (0x80, "iv")],
            _ => &[
                (0x01, "ov"),
                (0x08, "ei"),
                (0x10, "bl"),
                (0x20, "sb"),
                (0x40, "nt"),
                (0x80, "iv"),
            ],
        };
        table
            .iter()
            .filter(move |(b, _)| self.bits & b != 0)
            .map(|(_, n)| *n)
    }
}

/// A time tag, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// CP24Time2a.
    Cp24(Cp24Time2a),
    /// CP56Time2a.
    Cp56(Cp56Time2a),
}

impl Time {
    /// True when every field is within its range.
    pub fn is_valid(self) -> bool {
        match self {
            Time::Cp24(t) => t.is_valid(),
            Time::Cp56(t) => t.is_valid(),
        }
    }
}

/// One element: value, quality, time tag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Element<'a> {
    /// The information.
    pub value: Value<'a>,
    /// The quality descriptor, where the element has one.
    pub quality: Option<Quality>,
    /// CP16Time2a of protection equipment (elapsed or relay time, ms).
    pub elapsed_ms: Option<u16>,
    /// The time tag (or C_CS_NA_1's clock time).
    pub time: Option<Time>,
}

impl<'a> Element<'a> {
    /// Decodes `raw`, exactly `layout.len()` octets.
    pub fn decode(layout: Layout, raw: &'a [u8]) -> Element<'a> {
        let mut c = Cursor::new(raw);
        let mut quality = None;
        let mut elapsed_ms = None;
        let mut time = None;
        let q = |c: &mut Cursor<'_>, kind| c.u8().map(|o| Quality::new(o, kind));
        let u8v = |c: &mut Cursor<'_>| c.u8().unwrap_or(0);
        let i16v = |c: &mut Cursor<'_>| c.u16_le().unwrap_or(0) as i16;
        let f32v = |c: &mut Cursor<'_>| f32::from_bits(c.u32_le().unwrap_or(0));
        use ElementKind as E;
        let value = match layout.element {
            E::Siq | E::Diq => {
                let o = u8v(&mut c);
                quality = Some(Quality::new(o, QualityKind::Siq));
                Value::State(if layout.element == E::Siq {
                    o & 1
                } else {
                    o & 3
                })
            }
            E::VtiQds => {
                let o = u8v(&mut c);
                quality = q(&mut c, QualityKind::Qds);
                // Seven-bit two's complement.
                let v = ((o << 1) as i8) >> 1;
                Value::Step {
                    value: v,
                    transient: o & 0x80 != 0,
                }
            }
            E::BsiQds => {
                let v = c.u32_le().unwrap_or(0);
                quality = q(&mut c, QualityKind::Qds);
                Value::Bits(v)
            }
            E::NvaQds => {
                let v = i16v(&mut c);
                quality = q(&mut c, QualityKind::Qds);
                Value::Normalized(v)
            }
            E::SvaQds => {
                let v = i16v(&mut c);
                quality = q(&mut c, QualityKind::Qds);
                Value::Scaled(v)
            }
            E::R32Qds => {
                let v = f32v(&mut c);
                quality = q(&mut c, QualityKind::Qds);
                Value::Float(v)
            }
            E::Bcr => {
                let v = c.u32_le().unwrap_or(0) as i32;
                let o = u8v(&mut c);
                quality = Some(Quality::new(o, QualityKind::Bcr));
                Value::Counter {
                    value: v,
                    sequence: o & 0x1f,
                }
            }
            E::SepCp16 => {
                let o = u8v(&mut c);
                quality = Some(Quality::new(o, QualityKind::Qdp));
                elapsed_ms = c.u16_le();
                Value::State(o & 3)
            }
            E::SpeQdpCp16 | E::OciQdpCp16 => {
                let o = u8v(&mut c);
                quality = q(&mut c, QualityKind::Qdp);
                elapsed_ms = c.u16_le();
                Value::Bits(u32::from(o))
            }
            E::ScdQds => {
                let v = c.u32_le().unwrap_or(0);
                quality = q(&mut c, QualityKind::Qds);
                Value::Bits(v)
            }
            E::Nva => Value::Normalized(i16v(&mut c)),
            E::Sco | E::Dco | E::Rco => {
                let o = u8v(&mut c);
                Value::Command {
                    state: if layout.element == E::Sco {
                        o & 1
                    } else {
                        o & 3
                    },
                    qualifier: (o >> 2) & 0x1f,
                    select: o & 0x80 != 0,
                }
            }
            E::NvaQos | E::SvaQos | E::R32Qos => {
                let value = match layout.element {
                    E::NvaQos => SetValue::Normalized(i16v(&mut c)),
                    E::SvaQos => SetValue::Scaled(i16v(&mut c)),
                    _ => SetValue::Float(f32v(&mut c)),
                };
                let o = u8v(&mut c);
                Value::SetPoint {
                    value,
                    qualifier: o & 0x7f,
                    select: o & 0x80 != 0,
                }
            }
            E::NvaQpm | E::SvaQpm | E::R32Qpm => {
                let value = match layout.element {
                    E::NvaQpm => SetValue::Normalized(i16v(&mut c)),
                    E::SvaQpm => SetValue::Scaled(i16v(&mut c)),
                    _ => SetValue::Float(f32v(&mut c)),
                };
                Value::Parameter {
                    value,
                    qualifier: u8v(&mut c),
                }
            }
            E::Bsi => Value::Bits(c.u32_le().unwrap_or(0)),
            E::Coi | E::Qoi | E::Qcc | E::Qrp | E::Qpa => Value::Qualifier(u8v(&mut c)),
            E::Fbp | E::Cp16 | E::Tsc => Value::Word(c.u16_le().unwrap_or(0)),
            E::Empty => Value::None,
            E::Cp56 => {
                time = c.bytes(7).and_then(Cp56Time2a::parse).map(Time::Cp56);
                Value::None
            }
            E::FileRaw(n) => Value::Raw(c.bytes(usize::from(n)).unwrap_or_default()),
        };
        match layout.time {
            TimeTag::None => {}
            TimeTag::Cp24 => time = c.bytes(3).and_then(Cp24Time2a::parse).map(Time::Cp24),
            TimeTag::Cp56 => time = c.bytes(7).and_then(Cp56Time2a::parse).map(Time::Cp56),
        }
        Element {
            value,
            quality,
            elapsed_ms,
            time,
        }
    }
}

/// Writes an ASDU (for crafting): header and raw object octets.
pub fn emit_asdu(
    type_id: TypeId,
    vsq: Vsq,
    cot: Cot,
    originator: u8,
    common_address: u16,
    objects: &[u8],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&[type_id.0, vsq.0, cot.0, originator]);
    out.extend_from_slice(&common_address.to_le_bytes());
    out.extend_from_slice(objects);
}
