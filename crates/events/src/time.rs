//! RFC 3339 timestamps with microseconds, in UTC.

/// Formats nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn format_rfc3339_micros(ts_ns: i64, out: &mut Vec<u8>) {
    TimestampCache::default().push(ts_ns, out);
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch (the year clamped to
/// 0000..=9999, so the text is always 19 bytes).
fn seconds_text(secs: i64) -> [u8; 19] {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut t = *b"0000-00-00T00:00:00";
    put_digits(&mut t[0..4], y.clamp(0, 9999) as u32);
    put_digits(&mut t[5..7], m);
    put_digits(&mut t[8..10], d);
    put_digits(&mut t[11..13], (sod / 3600) as u32);
    put_digits(&mut t[14..16], (sod % 3600 / 60) as u32);
    put_digits(&mut t[17..19], (sod % 60) as u32);
    t
}

/// Writes `v` as exactly `out.len()` digits, zero-padded.
#[inline]
fn put_digits(out: &mut [u8], mut v: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats timestamps, reusing the date-time text while the second is unchanged.
#[derive(Default)]
pub struct TimestampCache {
    sec: Option<i64>,
    /// The date-time text of `sec`.
    text: [u8; 19],
}

impl TimestampCache {
    /// Appends the RFC 3339 text of `ts_ns`.
    pub fn push(&mut self, ts_ns: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.quoted(ts_ns)[1..33]);
    }

    /// Appends the RFC 3339 text of `ts_ns` between quotes, as one
    /// fixed-size copy.
    #[inline]
    pub fn push_quoted(&mut self, ts_ns: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.quoted(ts_ns));
    }

    /// `"YYYY-MM-DDTHH:MM:SS.ffffff+00:00"`, quotes included.
    #[inline]
    fn quoted(&mut self, ts_ns: i64) -> [u8; 34] {
        let secs = ts_ns.div_euclid(1_000_000_000);
        if self.sec != Some(secs) {
            self.text = seconds_text(secs);
            self.sec = Some(secs);
        }
        let mut t = *b"\"0000-00-00T00:00:00.000000+00:00\"";
        t[1..20].copy_from_slice(&self.text);
        put_micros(&mut t, (ts_ns.rem_euclid(1_000_000_000) / 1000) as u32);
        t
    }
}

/// Writes `micros < 10^6` as six zero-padded digits into `t[21..27]`: the
/// first two by one division, the last four by the writer's lane split.
#[inline]
fn put_micros(t: &mut [u8; 34], micros: u32) {
    debug_assert!(micros < 1_000_000);
    let hi = micros / 10_000;
    t[21] = b'0' + (hi / 10) as u8;
    t[22] = b'0' + (hi % 10) as u8;
    let lo = crate::json::digits4_raw(micros % 10_000) + 0x3030_3030;
    t[23..27].copy_from_slice(&lo.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_of_every_value() {
        let mut t = [0u8; 34];
        for m in 0..1_000_000 {
            put_micros(&mut t, m);
            assert_eq!(&t[21..27], format!("{m:06}").as_bytes());
        }
    }

    #[test]
    fn timestamps() {
        let mut c = TimestampCache::default();
        for (ts, want) in [
            (0, "1970-01-01T00:00:00.000000+00:00"),
            (999, "1970-01-01T00:00:00.000000+00:00"),
            (1_000, "1970-01-01T00:00:00.000001+00:00"),
            (-1_000, "1969-12-31T23:59:59.999999+00:00"),
            (
                1_795_680_000_032_329_000,
                "2026-11-26T08:00:00.032329+00:00",
            ),
            (
                1_795_680_000_999_999_999,
                "2026-11-26T08:00:00.999999+00:00",
            ),
        ] {
            let mut v = Vec::new();
            c.push(ts, &mut v);
            assert_eq!(String::from_utf8(v).unwrap(), want, "{ts}");
        }
    }
}
