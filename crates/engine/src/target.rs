//! What a transaction touches: the address spaces and ranges of its reads
//! and writes, in one protocol-independent form, so that a baseline can
//! learn "this HMI writes holding registers 10-19 of unit 1" and a policy
//! can say "writes to DB 5 bytes 0-127 only".
//!
//! Spaces are written as policy files write them:
//!
//! | protocol | space | addresses |
//! |---|---|---|
//! | Modbus | `unit 1 coil`, `unit 1 discrete_input`, `unit 1 holding_register`, `unit 1 input_register`, `unit 1 file 4` | coil, register or record numbers |
//! | S7comm | `DB 5`, `DI 5`, `M`, `I`, `Q`, `P`, `L`, `V`, `C`, `T`, `area 0x03` | byte addresses (counters and timers: their numbers) |
//! | S7comm | `block OB`, `block DB`, `block FC`, ... | block numbers (downloads, uploads, deletions) |
//! | IEC 104 | `ca 47` | information object addresses |
//! | DNP3 | `outstation 10 g12` | point indexes of the object group |
//! | CIP | `class 0x04` | instance numbers; symbolic tags are kept by name |

use std::fmt;
use std::str::FromStr;

use plantshield_events::Operation;
use plantshield_protocols::dnp3::{objects::Range as DnpRange, ControlPoint};
use plantshield_protocols::enip::{self, ServiceList};
use plantshield_protocols::modbus::{FunctionCode, RequestBody};
use plantshield_protocols::s7comm::pdu::{parse_job, BlockFile, JobParam};
use plantshield_protocols::s7comm::{self, Area};
use plantshield_sensor::Event;

use crate::ranges::parse_u32;

/// Targets kept per transaction; a transaction touching more sets `truncated`.
pub const MAX_TARGETS: usize = 64;

/// The Modbus data tables (Modbus Application Protocol §4.3) and files (§6.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModbusTable {
    /// Coils.
    Coil,
    /// Discrete inputs.
    DiscreteInput,
    /// Holding registers.
    HoldingRegister,
    /// Input registers.
    InputRegister,
    /// Records of a file (its number).
    File(u16),
}

/// An address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// A Modbus table of one unit.
    Modbus {
        /// Unit identifier.
        unit: u8,
        /// The table.
        table: ModbusTable,
    },
    /// An S7 memory area (and data block number for DB and DI).
    S7 {
        /// Area code.
        area: u8,
        /// Data block number (0 for other areas).
        db: u16,
    },
    /// S7 program blocks of one type.
    S7Block {
        /// Block type code (`0x08` OB, `0x0a` DB, ...).
        block_type: u8,
    },
    /// IEC 104 information objects of one common address.
    Iec104 {
        /// Common address of the ASDU.
        ca: u16,
    },
    /// DNP3 points of one object group of one outstation.
    Dnp3 {
        /// Outstation (link destination) address.
        outstation: u16,
        /// Object group.
        group: u8,
    },
    /// CIP instances of one class.
    Cip {
        /// Class id.
        class: u32,
    },
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Space::Modbus { unit, table } => match table {
                ModbusTable::Coil => write!(f, "unit {unit} coil"),
                ModbusTable::DiscreteInput => write!(f, "unit {unit} discrete_input"),
                ModbusTable::HoldingRegister => write!(f, "unit {unit} holding_register"),
                ModbusTable::InputRegister => write!(f, "unit {unit} input_register"),
                ModbusTable::File(n) => write!(f, "unit {unit} file {n}"),
            },
            Space::S7 { area, db } => match Area(area).mnemonic() {
                Some(m @ ("DB" | "DI")) => write!(f, "{m} {db}"),
                Some(m) => f.write_str(m),
                None => write!(f, "area {area:#04x}"),
            },
            Space::S7Block { block_type } => match s7comm::codes::block_type_name(block_type) {
                Some(n) => write!(f, "block {n}"),
                None => write!(f, "block {block_type:#04x}"),
            },
            Space::Iec104 { ca } => write!(f, "ca {ca}"),
            Space::Dnp3 { outstation, group } => write!(f, "outstation {outstation} g{group}"),
            Space::Cip { class } => write!(f, "class {class:#04x}"),
        }
    }
}

impl FromStr for Space {
    type Err = String;

    fn from_str(s: &str) -> Result<Space, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad = || {
            format!(
                "unknown address space `{s}` (expected e.g. `unit 1 holding_register`, `DB 5`, \
                 `M`, `block OB`, `ca 47`, `outstation 10 g12`, `class 0x04`)"
            )
        };
        let num = |w: &str| parse_u32(w).ok_or_else(bad);
        let narrow = |v: u32, max: u32| if v <= max { Ok(v) } else { Err(bad()) };
        Ok(match words.as_slice() {
            ["unit", u, rest @ ..] => {
                let unit = narrow(num(u)?, 255)? as u8;
                let table = match rest {
                    ["coil"] => ModbusTable::Coil,
                    ["discrete_input"] => ModbusTable::DiscreteInput,
                    ["holding_register"] => ModbusTable::HoldingRegister,
                    ["input_register"] => ModbusTable::InputRegister,
                    ["file", n] => ModbusTable::File(narrow(num(n)?, 0xffff)? as u16),
                    _ => return Err(bad()),
                };
                Space::Modbus { unit, table }
            }
            [m @ ("DB" | "DI"), n] => Space::S7 {
                area: if *m == "DB" { 0x84 } else { 0x85 },
                db: narrow(num(n)?, 0xffff)? as u16,
            },
            ["area", code] => Space::S7 {
                area: narrow(num(code)?, 255)? as u8,
                db: 0,
            },
            [m] if m.len() == 1 => {
                let area = (0..=255u8)
                    .find(|&a| Area(a).mnemonic() == Some(m))
                    .ok_or_else(bad)?;
                Space::S7 { area, db: 0 }
            }
            ["block", t] => {
                let block_type = (0..=255u8)
                    .find(|&c| s7comm::codes::block_type_name(c) == Some(t))
                    .map_or_else(|| narrow(num(t)?, 255).map(|v| v as u8), Ok)?;
                Space::S7Block { block_type }
            }
            ["ca", ca] => Space::Iec104 {
                ca: narrow(num(ca)?, 0xffff)? as u16,
            },
            ["outstation", a, g] => Space::Dnp3 {
                outstation: narrow(num(a)?, 0xffff)? as u16,
                group: narrow(num(g.strip_prefix('g').ok_or_else(bad)?)?, 255)? as u8,
            },
            ["class", c] => Space::Cip { class: num(c)? },
            _ => return Err(bad()),
        })
    }
}

/// Reading or changing what is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// Reads (and uploads).
    Read,
    /// Writes, commands, downloads.
    Write,
}

impl Access {
    /// The access of an operation, if it addresses anything.
    pub fn of(op: Operation) -> Option<Access> {
        match op {
            Operation::Read | Operation::ProgramUpload => Some(Access::Read),
            Operation::Write | Operation::Command | Operation::ProgramDownload => {
                Some(Access::Write)
            }
            _ => None,
        }
    }
}

/// One addressed thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Addresses `lo..=hi` of a space.
    Range {
        /// The space.
        space: Space,
        /// First address.
        lo: u32,
        /// Last address.
        hi: u32,
        /// Read or write.
        access: Access,
    },
    /// A CIP tag, by name.
    Tag {
        /// The tag name (`Program:Main.Speed`, `Valve[3]`).
        name: String,
        /// Read or write.
        access: Access,
    },
}

/// The targets of one transaction (a reused buffer).
#[derive(Debug, Default)]
pub struct Targets {
    /// The targets, at most [`MAX_TARGETS`].
    pub list: Vec<Target>,
    /// More were addressed than kept.
    pub truncated: bool,
}

impl Targets {
    fn range(&mut self, space: Space, lo: u32, hi: u32, access: Access) {
        if self.list.len() >= MAX_TARGETS {
            self.truncated = true;
            return;
        }
        self.list.push(Target::Range {
            space,
            lo: lo.min(hi),
            hi: lo.max(hi),
            access,
        });
    }

    fn tag(&mut self, name: String, access: Access) {
        if self.list.len() >= MAX_TARGETS {
            self.truncated = true;
            return;
        }
        self.list.push(Target::Tag { name, access });
    }

    /// Replaces the contents with the targets of `ev`'s request.
    pub fn extract(&mut self, ev: &Event<'_>) {
        self.list.clear();
        self.truncated = false;
        let Some(ics) = ev.ics() else {
            return;
        };
        let Some(access) = Access::of(ics.operation) else {
            return;
        };
        match ev {
            Event::Modbus(m) => {
                if let Some(r) = &m.request {
                    self.modbus(m.unit_id, r.function, &r.body);
                }
            }
            Event::S7comm(s) => {
                if let Some(req) = s.request {
                    self.s7(req.param, access);
                }
            }
            Event::Iec104(e) => {
                let plantshield_sensor::Iec104Event::Transaction(t) = e else {
                    return;
                };
                if let Some(Ok(asdu)) = t.request.map(|r| r.asdu) {
                    for o in asdu.objects() {
                        self.range(
                            Space::Iec104 {
                                ca: asdu.common_address,
                            },
                            o.ioa,
                            o.ioa,
                            access,
                        );
                    }
                }
            }
            Event::Dnp3(d) => {
                if let Some(req) = d.request {
                    self.dnp3(req, access);
                }
            }
            Event::Enip(e) => {
                if let Some(req) = e.cip.and_then(|c| c.request) {
                    self.cip(&req, 0);
                }
            }
            _ => {}
        }
    }

    fn modbus(&mut self, unit: u8, f: FunctionCode, body: &RequestBody<'_>) {
        use Access::{Read, Write};
        use ModbusTable::*;
        let sp = |table| Space::Modbus { unit, table };
        let span = |a: u16, q: u16| {
            let a = u32::from(a);
            (a, a + u32::from(q.max(1)) - 1)
        };
        match *body {
            RequestBody::ReadBits { address, quantity } => {
                let t = if f == FunctionCode::READ_COILS {
                    Coil
                } else {
                    DiscreteInput
                };
                let (lo, hi) = span(address, quantity);
                self.range(sp(t), lo, hi, Read);
            }
            RequestBody::ReadRegisters { address, quantity } => {
                let t = if f == FunctionCode::READ_HOLDING_REGISTERS {
                    HoldingRegister
                } else {
                    InputRegister
                };
                let (lo, hi) = span(address, quantity);
                self.range(sp(t), lo, hi, Read);
            }
            RequestBody::WriteSingleCoil { address, .. } => {
                self.range(sp(Coil), address.into(), address.into(), Write);
            }
            RequestBody::WriteSingleRegister { address, .. }
            | RequestBody::MaskWriteRegister { address, .. } => {
                self.range(sp(HoldingRegister), address.into(), address.into(), Write);
            }
            RequestBody::WriteMultipleCoils {
                address, quantity, ..
            } => {
                let (lo, hi) = span(address, quantity);
                self.range(sp(Coil), lo, hi, Write);
            }
            RequestBody::WriteMultipleRegisters {
                address, quantity, ..
            } => {
                let (lo, hi) = span(address, quantity);
                self.range(sp(HoldingRegister), lo, hi, Write);
            }
            RequestBody::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                write_address,
                write_quantity,
                ..
            } => {
                let (lo, hi) = span(read_address, read_quantity);
                self.range(sp(HoldingRegister), lo, hi, Read);
                let (lo, hi) = span(write_address, write_quantity);
                self.range(sp(HoldingRegister), lo, hi, Write);
            }
            RequestBody::ReadFifoQueue { address } => {
                self.range(sp(HoldingRegister), address.into(), address.into(), Read);
            }
            RequestBody::ReadFileRecord { sub_requests, .. }
            | RequestBody::WriteFileRecord { sub_requests, .. } => {
                let access = if f == FunctionCode::READ_FILE_RECORD {
                    Read
                } else {
                    Write
                };
                for s in sub_requests {
                    let (lo, hi) = span(s.record_number, s.record_length);
                    self.range(sp(File(s.file_number)), lo, hi, access);
                }
            }
            _ => {}
        }
    }

    fn s7(&mut self, param: &[u8], access: Access) {
        let Some(job) = parse_job(param) else {
            return;
        };
        match job {
            JobParam::ReadVar(items) | JobParam::WriteVar(items) => {
                for it in items.iter() {
                    let Some(a) = it.any else {
                        continue;
                    };
                    let numbered = matches!(a.area.0, 0x84 | 0x85);
                    let space = Space::S7 {
                        area: a.area.0,
                        db: if numbered { a.db_number } else { 0 },
                    };
                    let n = u32::from(a.length.max(1));
                    let width = element_bytes(a.transport_size.0);
                    let lo = a.byte_address;
                    let hi = if a.area.numbered() || width == 0 {
                        // Counters and timers by number; bits within one byte.
                        lo.saturating_add(if width == 0 { 0 } else { n - 1 })
                    } else {
                        lo.saturating_add((n * width).saturating_sub(1))
                    };
                    self.range(space, lo, hi, access);
                }
            }
            JobParam::BlockControl(_, bc) => {
                if let Some(b) = bc.file {
                    self.block(b, access);
                }
            }
            JobParam::Pi(_, pi) => {
                for b in pi.blocks() {
                    self.block(b, Access::Write);
                }
            }
            _ => {}
        }
    }

    fn block(&mut self, b: BlockFile<'_>, access: Access) {
        if let (Some(t), Some(n)) = (b.block_type, b.block_number) {
            self.range(Space::S7Block { block_type: t }, n, n, access);
        }
    }

    fn dnp3(&mut self, req: &plantshield_protocols::dnp3::Message, access: Access) {
        let outstation = req.link.destination;
        let controls = req.controls();
        if !controls.is_empty() {
            for c in controls {
                let (group, index) = match c {
                    ControlPoint::Crob(c) => (12, c.index),
                    ControlPoint::AnalogOutput(a) => (41, a.index),
                };
                self.range(Space::Dnp3 { outstation, group }, index, index, access);
            }
            return;
        }
        for h in req.headers() {
            let (lo, hi) = match h.range {
                DnpRange::StartStop { start, stop } => (start, stop),
                DnpRange::All | DnpRange::Count(_) => (0, u32::MAX),
            };
            let space = Space::Dnp3 {
                outstation,
                group: h.group,
            };
            self.range(space, lo, hi, access);
        }
    }

    fn cip(&mut self, req: &enip::Request<'_>, depth: u8) {
        if req.service == enip::ServiceCode::MULTIPLE_SERVICE_PACKET && depth == 0 {
            if let Some(list) = ServiceList::parse(req.data) {
                for inner in list.entries().flatten() {
                    if let Some(r) = enip::parse_request(inner) {
                        self.cip(&r, 1);
                    }
                }
            }
            return;
        }
        let info = req.path.info();
        let target = enip::Target::of(&info);
        let Some(access) = Access::of(req.service.operation(target)) else {
            return;
        };
        if let Some(name) = req.path.tag_name() {
            self.tag(name, access);
        } else if let Some(class) = info.class {
            let i = info.instance.unwrap_or(0);
            self.range(Space::Cip { class }, i, i, access);
        }
    }
}

/// Bytes per element of an S7ANY transport size (0: bits).
fn element_bytes(ts: u8) -> u32 {
    match ts {
        0x01 => 0,
        0x02 | 0x03 => 1,
        0x04 | 0x05 | 0x09 | 0x0c | 0x1c | 0x1d => 2,
        0x06 | 0x07 | 0x08 | 0x0a | 0x0b => 4,
        0x0f => 8,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_round_trip_through_their_names() {
        let spaces = [
            Space::Modbus {
                unit: 1,
                table: ModbusTable::HoldingRegister,
            },
            Space::Modbus {
                unit: 255,
                table: ModbusTable::File(4),
            },
            Space::Modbus {
                unit: 0,
                table: ModbusTable::Coil,
            },
            Space::S7 { area: 0x84, db: 5 },
            Space::S7 { area: 0x85, db: 9 },
            Space::S7 { area: 0x83, db: 0 },
            Space::S7 { area: 0x03, db: 0 },
            Space::S7Block { block_type: 0x08 },
            Space::S7Block { block_type: 0x42 },
            Space::Iec104 { ca: 47 },
            Space::Dnp3 {
                outstation: 10,
                group: 12,
            },
            Space::Cip { class: 0x6b },
        ];
        for s in spaces {
            let text = s.to_string();
            assert_eq!(text.parse::<Space>(), Ok(s), "{text}");
        }
        assert_eq!(
            Space::S7 { area: 0x83, db: 0 }.to_string(),
            "M",
            "STEP 7 operand letters"
        );
        for bad in [
            "unit 300 coil",
            "unit 1 registers",
            "DB",
            "X",
            "g12",
            "ca -1",
        ] {
            assert!(bad.parse::<Space>().is_err(), "{bad}");
        }
    }
}
