//! A minimal, allocation-free JSON writer into a reusable buffer.
//!
//! Serde would build each event through a generic serializer; events are the
//! sensor's hottest output path, so this writer appends bytes directly and
//! leaves comma placement to a one-bit-per-level stack.

use std::net::IpAddr;

use crate::TimestampCache;

/// Appends JSON to a byte buffer. Keys are trusted static strings; string
/// values are escaped.
#[derive(Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// Bit i set: level i already has a member (a comma is due).
    need_comma: u64,
    depth: u32,
    ts: TimestampCache,
}

impl JsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        JsonWriter {
            buf: Vec::with_capacity(1 << 16),
            need_comma: 0,
            depth: 0,
            ts: TimestampCache::default(),
        }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Empties the buffer (keeps its capacity).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.need_comma = 0;
        self.depth = 0;
    }

    /// Drops everything after byte `len` (to undo a partly written event).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
        self.need_comma = 0;
        self.depth = 0;
    }

    fn sep(&mut self) {
        let bit = 1u64 << (self.depth & 63);
        if self.need_comma & bit != 0 {
            self.buf.push(b',');
        } else {
            self.need_comma |= bit;
        }
    }

    fn open(&mut self, c: u8) {
        self.buf.push(c);
        self.depth += 1;
        self.need_comma &= !(1u64 << (self.depth & 63));
    }

    fn close(&mut self, c: u8) {
        self.buf.push(c);
        self.depth = self.depth.saturating_sub(1);
    }

    /// `{` as a value.
    pub fn begin_object(&mut self) {
        self.sep();
        self.open(b'{');
    }

    /// `"key":{`.
    pub fn begin_object_field(&mut self, key: &str) {
        self.key(key);
        self.open(b'{');
    }

    /// `}`.
    pub fn end_object(&mut self) {
        self.close(b'}');
    }

    /// `"key":[`.
    pub fn begin_array_field(&mut self, key: &str) {
        self.key(key);
        self.open(b'[');
    }

    /// `[` as a value.
    pub fn begin_array(&mut self) {
        self.sep();
        self.open(b'[');
    }

    /// `]`.
    pub fn end_array(&mut self) {
        self.close(b']');
    }

    /// Ends one JSON Lines record.
    pub fn newline(&mut self) {
        self.buf.push(b'\n');
        self.need_comma = 0;
        self.depth = 0;
    }

    fn key(&mut self, key: &str) {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// `"key":"value"` (escaped).
    pub fn str_field(&mut self, key: &str, v: &str) {
        self.key(key);
        self.escaped(v.as_bytes());
    }

    /// `"key":"value"` from bytes that may not be UTF-8 (invalid bytes become U+FFFD).
    pub fn bytes_str_field(&mut self, key: &str, v: &[u8]) {
        self.key(key);
        match std::str::from_utf8(v) {
            Ok(s) => self.escaped(s.as_bytes()),
            Err(_) => {
                let s = String::from_utf8_lossy(v);
                self.escaped(s.as_bytes());
            }
        }
    }

    /// A string array element.
    pub fn str_value(&mut self, v: &str) {
        self.sep();
        self.escaped(v.as_bytes());
    }

    /// `"key":value` for an unsigned integer.
    pub fn u64_field(&mut self, key: &str, v: u64) {
        self.key(key);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// `"key":value` for a signed integer.
    pub fn i64_field(&mut self, key: &str, v: i64) {
        self.key(key);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// An unsigned integer array element.
    pub fn u64_value(&mut self, v: u64) {
        self.sep();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// A signed integer array element.
    pub fn i64_value(&mut self, v: i64) {
        self.sep();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// A boolean array element.
    pub fn bool_value(&mut self, v: bool) {
        self.sep();
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A null array element.
    pub fn null_value(&mut self) {
        self.sep();
        self.buf.extend_from_slice(b"null");
    }

    /// `"key":value` for a float (non-finite values become null).
    pub fn f64_field(&mut self, key: &str, v: f64) {
        self.key(key);
        self.f64_raw(v);
    }

    /// A float array element.
    pub fn f64_value(&mut self, v: f64) {
        self.sep();
        self.f64_raw(v);
    }

    fn f64_raw(&mut self, v: f64) {
        if v.is_finite() {
            self.buf
                .extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
    }

    /// `"key":true|false`.
    pub fn bool_field(&mut self, key: &str, v: bool) {
        self.key(key);
        self.buf
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// `"key":"<RFC 3339 with microseconds>"`.
    pub fn time_field(&mut self, key: &str, ts_ns: i64) {
        self.key(key);
        self.buf.push(b'"');
        self.ts.push(ts_ns, &mut self.buf);
        self.buf.push(b'"');
    }

    /// `"key":null`.
    pub fn null_field(&mut self, key: &str) {
        self.key(key);
        self.buf.extend_from_slice(b"null");
    }

    /// `"key":"a.b.c.d"` or the RFC 5952 IPv6 text.
    pub fn ip_field(&mut self, key: &str, ip: IpAddr) {
        self.key(key);
        self.buf.push(b'"');
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                let mut b = itoa::Buffer::new();
                for (i, x) in o.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b'.');
                    }
                    self.buf.extend_from_slice(b.format(*x).as_bytes());
                }
            }
            IpAddr::V6(v6) => {
                use std::io::Write;
                let _ = write!(self.buf, "{v6}");
            }
        }
        self.buf.push(b'"');
    }

    /// `"key":"aa:bb:cc:dd:ee:ff"`.
    pub fn mac_field(&mut self, key: &str, mac: [u8; 6]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.key(key);
        self.buf.push(b'"');
        for (i, b) in mac.iter().enumerate() {
            if i > 0 {
                self.buf.push(b':');
            }
            self.buf.push(HEX[usize::from(b >> 4)]);
            self.buf.push(HEX[usize::from(b & 15)]);
        }
        self.buf.push(b'"');
    }

    /// `"key":"0011aabb..."`, lower-case hex.
    pub fn hex_field(&mut self, key: &str, v: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.key(key);
        self.buf.push(b'"');
        for b in v {
            self.buf.push(HEX[usize::from(b >> 4)]);
            self.buf.push(HEX[usize::from(b & 15)]);
        }
        self.buf.push(b'"');
    }

    /// `"key":` followed by raw, already valid JSON.
    pub fn raw_field(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.buf.extend_from_slice(json);
    }

    fn escaped(&mut self, s: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.buf.push(b'"');
        let mut start = 0;
        for (i, &c) in s.iter().enumerate() {
            let esc: &[u8] = match c {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f | 0x7f => b"",
                _ => continue,
            };
            self.buf.extend_from_slice(&s[start..i]);
            if esc.is_empty() {
                self.buf.extend_from_slice(b"\\u00");
                self.buf.push(HEX[usize::from(c >> 4)]);
                self.buf.push(HEX[usize::from(c & 15)]);
            } else {
                self.buf.extend_from_slice(esc);
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&s[start..]);
        self.buf.push(b'"');
    }
}
