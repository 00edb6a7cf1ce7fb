//! Binary time tags (IEC 60870-5-101 §7.2.6.18 CP56Time2a, §7.2.6.19
//! CP24Time2a; the octet layout is IEC 60870-5-4 §6.8).

use std::fmt::Write;

/// Seven-octet binary time: milliseconds to years. The century is not on
/// the wire; years 0..=99 are read as 2000..=2099. The time zone is not on
/// the wire either (stations usually send UTC or local time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cp56Time2a {
    /// Milliseconds within the minute, 0..=59999.
    pub ms: u16,
    /// 0..=59.
    pub minute: u8,
    /// IV: the time is invalid.
    pub invalid: bool,
    /// 0..=23.
    pub hour: u8,
    /// SU: summer time.
    pub summer: bool,
    /// Day of month, 1..=31.
    pub day: u8,
    /// Day of week, 1..=7 (0: not used).
    pub weekday: u8,
    /// 1..=12.
    pub month: u8,
    /// 0..=99.
    pub year: u8,
}

impl Cp56Time2a {
    /// Decodes seven octets (`None` for fewer).
    pub fn parse(b: &[u8]) -> Option<Cp56Time2a> {
        let b: &[u8; 7] = b.get(..7)?.try_into().ok()?;
        Some(Cp56Time2a {
            ms: u16::from_le_bytes([b[0], b[1]]),
            minute: b[2] & 0x3f,
            invalid: b[2] & 0x80 != 0,
            hour: b[3] & 0x1f,
            summer: b[3] & 0x80 != 0,
            day: b[4] & 0x1f,
            weekday: b[4] >> 5,
            month: b[5] & 0x0f,
            year: b[6] & 0x7f,
        })
    }

    /// Every field within its range (the IV bit aside).
    pub fn is_valid(&self) -> bool {
        self.ms < 60_000
            && self.minute < 60
            && self.hour < 24
            && (1..=31).contains(&self.day)
            && (1..=12).contains(&self.month)
            && self.year < 100
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmm` as on the wire (no zone), fields printed
    /// as they are even when out of range.
    pub fn format(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
            2000 + u32::from(self.year),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.ms / 1000,
            self.ms % 1000
        );
    }

    /// Writes the seven octets (for crafting).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.ms.to_le_bytes());
        out.push(self.minute | if self.invalid { 0x80 } else { 0 });
        out.push(self.hour | if self.summer { 0x80 } else { 0 });
        out.push(self.day | (self.weekday << 5));
        out.push(self.month);
        out.push(self.year);
    }
}

/// Three-octet binary time: milliseconds and minutes within the hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cp24Time2a {
    /// Milliseconds within the minute, 0..=59999.
    pub ms: u16,
    /// 0..=59.
    pub minute: u8,
    /// IV: the time is invalid.
    pub invalid: bool,
}

impl Cp24Time2a {
    /// Decodes three octets (`None` for fewer).
    pub fn parse(b: &[u8]) -> Option<Cp24Time2a> {
        let b: &[u8; 3] = b.get(..3)?.try_into().ok()?;
        Some(Cp24Time2a {
            ms: u16::from_le_bytes([b[0], b[1]]),
            minute: b[2] & 0x3f,
            invalid: b[2] & 0x80 != 0,
        })
    }

    /// Every field within its range.
    pub fn is_valid(&self) -> bool {
        self.ms < 60_000 && self.minute < 60
    }

    /// `MM:SS.mmm` within the hour.
    pub fn format(&self, out: &mut String) {
        let _ = write!(
            out,
            "{:02}:{:02}.{:03}",
            self.minute,
            self.ms / 1000,
            self.ms % 1000
        );
    }
}
