//! RFC 3339 timestamps with microseconds, in UTC.

/// Formats nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn format_rfc3339_micros(ts_ns: i64, out: &mut Vec<u8>) {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let micros = ts_ns.rem_euclid(1_000_000_000) / 1000;
    push_seconds(secs, out);
    push_micros(micros as u32, out);
}

fn push_seconds(secs: i64, out: &mut Vec<u8>) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    push_n(out, y, 4);
    out.push(b'-');
    push_n(out, m, 2);
    out.push(b'-');
    push_n(out, d, 2);
    out.push(b'T');
    push_n(out, (sod / 3600) as u32, 2);
    out.push(b':');
    push_n(out, (sod % 3600 / 60) as u32, 2);
    out.push(b':');
    push_n(out, (sod % 60) as u32, 2);
}

fn push_micros(us: u32, out: &mut Vec<u8>) {
    out.push(b'.');
    push_n(out, us, 6);
    out.extend_from_slice(b"+00:00");
}

fn push_n(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for i in (0..width).rev() {
        out[start + i] = b'0' + (v % 10) as u8;
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
    text: Vec<u8>,
}

impl TimestampCache {
    /// Appends the RFC 3339 text of `ts_ns`.
    pub fn push(&mut self, ts_ns: i64, out: &mut Vec<u8>) {
        let secs = ts_ns.div_euclid(1_000_000_000);
        if self.sec != Some(secs) {
            self.text.clear();
            push_seconds(secs, &mut self.text);
            self.sec = Some(secs);
        }
        out.extend_from_slice(&self.text);
        push_micros((ts_ns.rem_euclid(1_000_000_000) / 1000) as u32, out);
    }
}
