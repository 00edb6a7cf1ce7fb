//! A minimal, allocation-free JSON writer into a reusable buffer.
//!
//! Serde would build each event through a generic serializer; events are the
//! sensor's hottest output path, so this writer appends bytes directly and
//! leaves comma placement to a one-bit-per-level stack.
//!
//! Small pieces (keys, digits, timestamps) are appended as fixed-size chunks:
//! a copy whose length the compiler knows becomes a few stores, where a
//! variable one becomes a call to `memcpy`.

use std::net::IpAddr;

use crate::TimestampCache;

/// Bytes a JSON string must escape: control characters, `"` and `\` (and
/// DEL, which this writer escapes too).
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t
};

/// True when `s` can be written between quotes as it is.
fn plain(s: &[u8]) -> bool {
    !s.iter().any(|&c| ESCAPE[usize::from(c)])
}

/// The decimal digits of `v < 10^8` as ASCII, most significant first in
/// the low bytes of the word, and how many there are. Branch-free: the two
/// halves, their hundreds and their tens are split in parallel lanes of one
/// 64-bit word (multiply-shift division; no lane overflows into the next).
#[inline]
fn digits8(v: u32) -> (u64, usize) {
    debug_assert!(v < 100_000_000);
    let v = u64::from(v);
    // Four-digit halves in 32-bit lanes, the high half first.
    let halves = (v / 10_000) | ((v % 10_000) << 32);
    // x / 100 for x < 10^4 in each lane: (x * 10486) >> 20.
    let hundreds = ((halves * 10_486) >> 20) & ((0x7f << 32) | 0x7f);
    // Two-digit pairs in 16-bit lanes, the high pair of each half first.
    let pairs = hundreds | ((halves - hundreds * 100) << 16);
    // x / 10 for x < 100 in each lane: (x * 103) >> 10.
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    let digits = tens | ((pairs - tens * 10) << 8);
    // Leading zero digits are the low zero bytes; a zero keeps one digit.
    let skip = (digits.trailing_zeros() as usize / 8).min(7);
    ((digits + 0x3030_3030_3030_3030) >> (8 * skip), 8 - skip)
}

/// The four decimal digits of `v < 10^4`, zero-padded, as ASCII in the low
/// bytes of the word (most significant first) before the `'0'` offset is
/// added: the two pairs in 16-bit lanes, then their tens (multiply-shift
/// division, as in [`digits8`]).
#[inline]
pub(crate) fn digits4_raw(v: u32) -> u32 {
    debug_assert!(v < 10_000);
    let pairs = (v / 100) | ((v % 100) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000f_000f;
    tens | ((pairs - tens * 10) << 8)
}

/// The decimal digits of `v < 10^5`, as [`digits8`] gives them, with
/// fewer steps: the common register and port values take this path.
#[inline]
fn digits5(v: u32) -> (u64, usize) {
    debug_assert!(v < 100_000);
    if v < 10_000 {
        let digits = digits4_raw(v);
        // A zero keeps one digit.
        let skip = (digits.trailing_zeros() as usize / 8).min(3);
        (u64::from((digits + 0x3030_3030) >> (8 * skip)), 4 - skip)
    } else {
        let low = digits4_raw(v % 10_000) + 0x3030_3030;
        (u64::from(v / 10_000 + 0x30) | (u64::from(low) << 8), 5)
    }
}

/// The digits of two numbers below 10^4 at once, as [`digits5`] gives
/// each: the four-digit split of [`digits8`]'s low half, run on both
/// numbers in the two 32-bit lanes of one word.
#[inline]
fn digits4x2(a: u32, b: u32) -> ((u64, usize), (u64, usize)) {
    debug_assert!(a < 10_000 && b < 10_000);
    let x = u64::from(a) | (u64::from(b) << 32);
    // x / 100 in each lane: (x * 10486) >> 20, no lane overflows.
    let hundreds = ((x * 10_486) >> 20) & ((0x7f << 32) | 0x7f);
    let pairs = hundreds | ((x - hundreds * 100) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    let digits = tens | ((pairs - tens * 10) << 8);
    let one = |d: u32| {
        // A zero keeps one digit.
        let skip = (d.trailing_zeros() as usize / 8).min(3);
        (u64::from((d + 0x3030_3030) >> (8 * skip)), 4 - skip)
    };
    (one(digits as u32), one((digits >> 32) as u32))
}

/// The five decimal digits (zero-padded, most significant in the low
/// byte, before the `'0'` offset) and a comma after them, of each of the
/// eight big-endian 16-bit values in `block`, computed in the eight 16-bit
/// lanes of an SSE2 register (every x86_64 processor has SSE2). Value
/// arrays are the bulk of transaction events; this takes a fraction of the
/// instructions of [`digits4x2`] per value. The divisions are
/// multiply-high and shift, exact for every 16-bit value (see the tests).
#[cfg(target_arch = "x86_64")]
#[inline]
fn digits_x8(block: &[u8]) -> [u64; 8] {
    use safe_arch::*;
    let k = |c: u16| m128i::from([c; 8]);
    let lanes: [u8; 16] = std::array::from_fn(|i| block[i]);
    let x = m128i::from(lanes);
    // Big-endian lanes to values.
    let v = shl_imm_u16_m128i::<8>(x) | shr_imm_u16_m128i::<8>(x);
    let div = |x: m128i, m: u16| mul_u16_keep_high_m128i(x, k(m));
    // v / 10^4 = (v >> 4) / 625: 839 / 2^19 is exact below 2^12.
    let d0 = shr_imm_u16_m128i::<3>(div(shr_imm_u16_m128i::<4>(v), 839));
    let r = sub_i16_m128i(v, mul_i16_keep_low_m128i(d0, k(10_000)));
    // r / 100 for r < 10^4: 5243 / 2^19.
    let h = shr_imm_u16_m128i::<3>(div(r, 5243));
    let l = sub_i16_m128i(r, mul_i16_keep_low_m128i(h, k(100)));
    // n / 10 for n < 100: 6554 / 2^16.
    let d1 = div(h, 6554);
    let d2 = sub_i16_m128i(h, mul_i16_keep_low_m128i(d1, k(10)));
    let d3 = div(l, 6554);
    let d4 = sub_i16_m128i(l, mul_i16_keep_low_m128i(d3, k(10)));
    // Bytes d0 d1 | d2 d3 | d4 ',' in three 16-bit lanes per value,
    // interleaved into one 64-bit lane per value.
    let w0 = d0 | shl_imm_u16_m128i::<8>(d1);
    let w1 = d2 | shl_imm_u16_m128i::<8>(d3);
    let w2 = d4 | k(u16::from(b',') << 8);
    let zero = zeroed_m128i();
    let (a_lo, a_hi) = (unpack_low_i16_m128i(w0, w1), unpack_high_i16_m128i(w0, w1));
    let (b_lo, b_hi) = (
        unpack_low_i16_m128i(w2, zero),
        unpack_high_i16_m128i(w2, zero),
    );
    let mut out = [0u64; 8];
    let pairs = [
        unpack_low_i32_m128i(a_lo, b_lo),
        unpack_high_i32_m128i(a_lo, b_lo),
        unpack_low_i32_m128i(a_hi, b_hi),
        unpack_high_i32_m128i(a_hi, b_hi),
    ];
    for (o, p) in out.chunks_exact_mut(2).zip(pairs) {
        let p: [u64; 2] = p.into();
        o.copy_from_slice(&p);
    }
    out
}

/// [`digits_x8`] elsewhere: the eight values one at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn digits_x8_portable(block: &[u8]) -> [u64; 8] {
    std::array::from_fn(|i| {
        let v = u32::from(u16::from_be_bytes([block[2 * i], block[2 * i + 1]]));
        let low = digits4_raw(v % 10_000);
        u64::from(v / 10_000) | u64::from(low) << 8 | u64::from(b',') << 40
    })
}

#[cfg(not(target_arch = "x86_64"))]
use digits_x8_portable as digits_x8;

/// Appends `v < 10^8`.
#[inline]
fn put_digits8(buf: &mut Vec<u8>, v: u32) {
    let (word, len) = digits8(v);
    let end = buf.len() + len;
    buf.extend_from_slice(&word.to_le_bytes());
    buf.truncate(end);
}

/// Appends `v < 10^5` followed by the byte `then`, in one 8-byte store.
#[inline]
fn put_small(buf: &mut Vec<u8>, v: u32, then: u8) {
    debug_assert!(v < 100_000);
    let (word, len) = digits5(v);
    let word = word | (u64::from(then) << (8 * len));
    let end = buf.len() + len + 1;
    buf.extend_from_slice(&word.to_le_bytes());
    buf.truncate(end);
}

/// Appends the decimal text of `v`: values below 10^5 inline, larger ones
/// through a call.
#[inline(always)]
fn put_u64(buf: &mut Vec<u8>, v: u64) {
    if v < 100_000 {
        let (word, len) = digits5(v as u32);
        let end = buf.len() + len;
        buf.extend_from_slice(&word.to_le_bytes());
        buf.truncate(end);
    } else {
        put_u64_large(buf, v);
    }
}

/// Appends the decimal text of `v >= 10^5`.
#[inline(never)]
fn put_u64_large(buf: &mut Vec<u8>, v: u64) {
    if v < 100_000_000 {
        put_digits8(buf, v as u32);
    } else {
        buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
}

/// Appends `"a.b.c.d"` without the quotes.
fn put_ipv4(buf: &mut Vec<u8>, o: [u8; 4]) {
    put_small(buf, u32::from(o[0]), b'.');
    put_small(buf, u32::from(o[1]), b'.');
    put_small(buf, u32::from(o[2]), b'.');
    put_digits8(buf, u32::from(o[3]));
}

/// Appends the lower-case hex digits of `v` without leading zeros (one
/// digit for zero), as `{:x}` writes them.
#[inline]
fn put_hex16(buf: &mut Vec<u8>, v: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = u32::from(v);
    // Significant nibbles, at least one.
    let nibbles = (35 - (v | 1).leading_zeros()) / 4;
    let mut word = [0u8; 4];
    for (i, d) in word.iter_mut().enumerate() {
        *d = HEX[((v >> (12 - 4 * i)) & 15) as usize];
    }
    buf.extend_from_slice(&word[4 - nibbles as usize..]);
}

/// Appends the RFC 5952 text of an IPv6 address without the quotes, as
/// `Display for Ipv6Addr` writes it: IPv4-mapped addresses as
/// `::ffff:a.b.c.d`, the first longest run of two or more zero segments
/// as `::`, the other segments in lower-case hex without leading zeros.
fn put_ipv6(buf: &mut Vec<u8>, ip: std::net::Ipv6Addr) {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        buf.extend_from_slice(b"::ffff:");
        put_ipv4(buf, v4.octets());
        return;
    }
    // The first longest run of zero segments.
    let (mut start, mut len) = (0, 0);
    let mut run = 0;
    for (i, &seg) in s.iter().enumerate() {
        if seg == 0 {
            run += 1;
            if run > len {
                len = run;
                start = i + 1 - run;
            }
        } else {
            run = 0;
        }
    }
    let segments = |buf: &mut Vec<u8>, part: &[u16]| {
        for (i, &seg) in part.iter().enumerate() {
            if i > 0 {
                buf.push(b':');
            }
            put_hex16(buf, seg);
        }
    };
    if len > 1 {
        segments(buf, &s[..start]);
        buf.extend_from_slice(b"::");
        segments(buf, &s[start + len..]);
    } else {
        segments(buf, &s);
    }
}

/// Appends `aa:bb:cc:dd:ee:ff` without the quotes, in one 17-byte copy.
#[inline]
fn put_mac(buf: &mut Vec<u8>, mac: [u8; 6]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = *b"00:00:00:00:00:00";
    for (i, b) in mac.iter().enumerate() {
        t[3 * i] = HEX[usize::from(b >> 4)];
        t[3 * i + 1] = HEX[usize::from(b & 15)];
    }
    buf.extend_from_slice(&t);
}

/// Appends the text of an address without the quotes.
#[inline]
fn put_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => put_ipv4(buf, v4.octets()),
        IpAddr::V6(v6) => put_ipv6(buf, v6),
    }
}

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

    #[inline]
    fn sep(&mut self) {
        let bit = 1u64 << (self.depth & 63);
        if self.need_comma & bit != 0 {
            self.buf.push(b',');
        } else {
            self.need_comma |= bit;
        }
    }

    #[inline]
    fn open(&mut self, c: u8) {
        self.buf.push(c);
        self.depth += 1;
        self.need_comma &= !(1u64 << (self.depth & 63));
    }

    #[inline]
    fn close(&mut self, c: u8) {
        self.buf.push(c);
        self.depth = self.depth.saturating_sub(1);
    }

    /// `{` as a value.
    #[inline]
    pub fn begin_object(&mut self) {
        self.sep();
        self.open(b'{');
    }

    /// `"key":{`.
    #[inline(always)]
    pub fn begin_object_field(&mut self, key: &str) {
        self.key(key);
        self.open(b'{');
    }

    /// `}`.
    #[inline]
    pub fn end_object(&mut self) {
        self.close(b'}');
    }

    /// `"key":[`.
    #[inline(always)]
    pub fn begin_array_field(&mut self, key: &str) {
        self.key(key);
        self.open(b'[');
    }

    /// `[` as a value.
    #[inline]
    pub fn begin_array(&mut self) {
        self.sep();
        self.open(b'[');
    }

    /// `]`.
    #[inline]
    pub fn end_array(&mut self) {
        self.close(b']');
    }

    /// Ends one JSON Lines record.
    #[inline]
    pub fn newline(&mut self) {
        self.buf.push(b'\n');
        self.need_comma = 0;
        self.depth = 0;
    }

    /// Inlined into the field methods, so that a literal key is copied
    /// with a known length.
    ///
    /// `,"key":` (or `"key":` for a first member) is assembled on the stack
    /// and appended as one copy: with a literal key both lengths are
    /// constants, so that is a few stores and one capacity check instead of
    /// four appends.
    #[inline(always)]
    fn key(&mut self, key: &str) {
        const MAX: usize = 28;
        let k = key.as_bytes();
        if k.len() > MAX {
            self.sep();
            self.buf.push(b'"');
            self.buf.extend_from_slice(k);
            self.buf.extend_from_slice(b"\":");
            return;
        }
        let mut t = [0u8; MAX + 4];
        t[0] = b',';
        t[1] = b'"';
        t[2..2 + k.len()].copy_from_slice(k);
        t[2 + k.len()] = b'"';
        t[3 + k.len()] = b':';
        let bit = 1u64 << (self.depth & 63);
        if self.need_comma & bit != 0 {
            self.buf.extend_from_slice(&t[..4 + k.len()]);
        } else {
            self.need_comma |= bit;
            self.buf.extend_from_slice(&t[1..4 + k.len()]);
        }
    }

    /// `"key":"value"` (escaped).
    #[inline(always)]
    pub fn str_field(&mut self, key: &str, v: &str) {
        self.key(key);
        self.escaped(v.as_bytes());
    }

    /// `"key":"name"` for a name of the event vocabulary (static ASCII
    /// with nothing to escape: snake_case names, protocol keywords), copied
    /// without the escaping scan.
    #[inline(always)]
    pub fn name_field(&mut self, key: &str, name: &'static str) {
        debug_assert!(plain(name.as_bytes()), "{name:?} needs escaping");
        self.key(key);
        self.buf.push(b'"');
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(b'"');
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
    #[inline(always)]
    pub fn u64_field(&mut self, key: &str, v: u64) {
        self.key(key);
        put_u64(&mut self.buf, v);
    }

    /// `"key":value` for a signed integer.
    pub fn i64_field(&mut self, key: &str, v: i64) {
        self.key(key);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// An unsigned integer array element.
    #[inline]
    pub fn u64_value(&mut self, v: u64) {
        self.sep();
        put_u64(&mut self.buf, v);
    }

    /// `"key":[v,...]`: a whole array of 16-bit values. Elements are
    /// formatted into a stack chunk (each one 8-byte store) that is appended
    /// when full, rather than element by element into the buffer.
    pub fn u16_array_field(&mut self, key: &str, values: impl Iterator<Item = u16>) {
        const CHUNK: usize = 256;
        self.key(key);
        let mut chunk = [0u8; CHUNK];
        chunk[0] = b'[';
        let mut n = 1;
        for v in values {
            if n > CHUNK - 8 {
                self.buf.extend_from_slice(&chunk[..n]);
                n = 0;
            }
            let (word, len) = digits5(u32::from(v));
            let word = word | (u64::from(b',') << (8 * len));
            chunk[n..n + 8].copy_from_slice(&word.to_le_bytes());
            n += len + 1;
        }
        // A value was written last (its comma becomes the bracket), or the
        // chunk still holds only the opening bracket.
        if chunk[n - 1] == b',' {
            chunk[n - 1] = b']';
        } else {
            chunk[n] = b']';
            n += 1;
        }
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// `"key":[v,...]`: the big-endian 16-bit values in `bytes` (an odd
    /// last byte is ignored), at most `max` of them. As
    /// [`u16_array_field`](Self::u16_array_field), with the values taken
    /// eight at a time ([`digits_x8`]), and the last few two at a time:
    /// two below 10^4 share one digit split.
    pub fn u16_be_array_field(&mut self, key: &str, bytes: &[u8], max: usize) {
        const CHUNK: usize = 256;
        let bytes = &bytes[..(bytes.len() / 2).min(max) * 2];
        self.key(key);
        let mut chunk = [0u8; CHUNK];
        chunk[0] = b'[';
        let mut n = 1;
        let put = |chunk: &mut [u8; CHUNK], n: &mut usize, (word, len): (u64, usize)| {
            let word = word | (u64::from(b',') << (8 * len));
            chunk[*n..*n + 8].copy_from_slice(&word.to_le_bytes());
            *n += len + 1;
        };
        let bytes = {
            let mut blocks = bytes.chunks_exact(16);
            for block in &mut blocks {
                // Eight values take at most 48 bytes; the last store writes
                // eight from the last value's start.
                if n > CHUNK - 56 {
                    self.buf.extend_from_slice(&chunk[..n]);
                    n = 0;
                }
                for word in digits_x8(block) {
                    // Leading zero digits dropped, one kept for a zero.
                    let skip = (word.trailing_zeros() as usize / 8).min(4);
                    let text = (word + 0x30_3030_3030) >> (8 * skip);
                    chunk[n..n + 8].copy_from_slice(&text.to_le_bytes());
                    n += 6 - skip;
                }
            }
            blocks.remainder()
        };
        let mut quads = bytes.chunks_exact(4);
        for q in &mut quads {
            if n > CHUNK - 16 {
                self.buf.extend_from_slice(&chunk[..n]);
                n = 0;
            }
            let a = u32::from(u16::from_be_bytes([q[0], q[1]]));
            let b = u32::from(u16::from_be_bytes([q[2], q[3]]));
            let (da, db) = if a < 10_000 && b < 10_000 {
                digits4x2(a, b)
            } else {
                (digits5(a), digits5(b))
            };
            put(&mut chunk, &mut n, da);
            put(&mut chunk, &mut n, db);
        }
        if let [hi, lo] = *quads.remainder() {
            if n > CHUNK - 8 {
                self.buf.extend_from_slice(&chunk[..n]);
                n = 0;
            }
            put(
                &mut chunk,
                &mut n,
                digits5(u32::from(u16::from_be_bytes([hi, lo]))),
            );
        }
        // A value was written last (its comma becomes the bracket), or the
        // chunk holds only the opening bracket.
        if n > 0 && chunk[n - 1] == b',' {
            chunk[n - 1] = b']';
        } else {
            chunk[n] = b']';
            n += 1;
        }
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// `"key":[b,...]`: the first `count` bits of `bytes` (least
    /// significant bit of each byte first) as 0 and 1. Whole bytes are
    /// written 16 output bytes at a time from a table of `b,b,b,b,` for
    /// each nibble.
    pub fn bits_field(&mut self, key: &str, bytes: &[u8], count: usize) {
        /// `b0,b1,b2,b3,` of each nibble, low bit first.
        const NIBBLES: [[u8; 8]; 16] = {
            let mut t = [[0u8; 8]; 16];
            let mut n = 0;
            while n < 16 {
                let mut i = 0;
                while i < 4 {
                    t[n][2 * i] = b'0' + ((n >> i) & 1) as u8;
                    t[n][2 * i + 1] = b',';
                    i += 1;
                }
                n += 1;
            }
            t
        };
        let count = count.min(bytes.len() * 8);
        self.key(key);
        self.buf.push(b'[');
        for &x in &bytes[..count / 8] {
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(&NIBBLES[usize::from(x & 15)]);
            t[8..].copy_from_slice(&NIBBLES[usize::from(x >> 4)]);
            self.buf.extend_from_slice(&t);
        }
        for i in count / 8 * 8..count {
            self.buf
                .extend_from_slice(&[b'0' + ((bytes[i / 8] >> (i % 8)) & 1), b',']);
        }
        match self.buf.last_mut() {
            // The last value's comma becomes the bracket.
            Some(c) if count > 0 => *c = b']',
            _ => self.buf.push(b']'),
        }
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
    #[inline(always)]
    pub fn bool_field(&mut self, key: &str, v: bool) {
        self.key(key);
        if v {
            self.buf.extend_from_slice(b"true");
        } else {
            self.buf.extend_from_slice(b"false");
        }
    }

    /// `"key":"<RFC 3339 with microseconds>"`.
    #[inline(always)]
    pub fn time_field(&mut self, key: &str, ts_ns: i64) {
        self.key(key);
        self.ts.push_quoted(ts_ns, &mut self.buf);
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
        put_ip(&mut self.buf, ip);
        self.buf.push(b'"');
    }

    /// An address array element, `"a.b.c.d"` or the RFC 5952 IPv6 text.
    pub fn ip_value(&mut self, ip: IpAddr) {
        self.sep();
        self.buf.push(b'"');
        put_ip(&mut self.buf, ip);
        self.buf.push(b'"');
    }

    /// `"key":"aa:bb:cc:dd:ee:ff"`.
    pub fn mac_field(&mut self, key: &str, mac: [u8; 6]) {
        self.key(key);
        self.buf.push(b'"');
        put_mac(&mut self.buf, mac);
        self.buf.push(b'"');
    }

    /// A MAC address array element, `"aa:bb:cc:dd:ee:ff"`.
    pub fn mac_value(&mut self, mac: [u8; 6]) {
        self.sep();
        self.buf.push(b'"');
        put_mac(&mut self.buf, mac);
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

    /// Bytes that continue the open object or array as they are, their
    /// separators included (`,"a":1,"b":2` after a first member): for
    /// members written once and reused.
    pub fn raw(&mut self, json: &[u8]) {
        self.buf.extend_from_slice(json);
    }

    fn escaped(&mut self, s: &[u8]) {
        self.buf.push(b'"');
        if plain(s) {
            self.buf.extend_from_slice(s);
        } else {
            self.escape_slow(s);
        }
        self.buf.push(b'"');
    }

    #[cold]
    fn escape_slow(&mut self, s: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_of_every_small_number() {
        let check = |v: u32| {
            let (word, len) = digits8(v);
            assert_eq!(&word.to_le_bytes()[..len], v.to_string().as_bytes());
        };
        (0..1_000_000).for_each(check);
        (0..100_000_000).step_by(9_973).for_each(check);
        check(99_999_999);
    }

    #[test]
    fn digits5_of_every_number_below_10_5() {
        for v in 0..100_000u32 {
            let (word, len) = digits5(v);
            assert_eq!(&word.to_le_bytes()[..len], v.to_string().as_bytes());
            // Nothing above the digits (a separator is or-ed in there).
            assert_eq!(word >> (8 * len), 0, "{v}");
        }
    }

    fn ip_text(ip: IpAddr) -> String {
        let mut b = Vec::new();
        put_ip(&mut b, ip);
        String::from_utf8(b).unwrap()
    }

    /// IPv6 addresses built from segments that are each zero, one of a few
    /// edge values or random, so that zero runs of every length and place
    /// (ties, the first run winning, a single zero not compressed) occur.
    fn v6_strategy() -> impl proptest::strategy::Strategy<Value = [u16; 8]> {
        use proptest::prelude::*;
        let seg = prop_oneof![
            4 => Just(0u16),
            1 => Just(1u16),
            1 => Just(0xffffu16),
            1 => Just(0x10u16),
            1 => Just(0xabcu16),
            2 => any::<u16>(),
        ];
        proptest::array::uniform8(seg)
    }

    proptest::proptest! {
        #[test]
        fn ipv6_text_is_std_display(s in v6_strategy()) {
            let ip = std::net::Ipv6Addr::from(s);
            proptest::prop_assert_eq!(ip_text(IpAddr::V6(ip)), ip.to_string());
        }

        #[test]
        fn ipv4_text_is_std_display(o in proptest::prelude::any::<[u8; 4]>()) {
            let ip = std::net::Ipv4Addr::from(o);
            proptest::prop_assert_eq!(ip_text(IpAddr::V4(ip)), ip.to_string());
            // Mapped into IPv6, too.
            let v6 = ip.to_ipv6_mapped();
            proptest::prop_assert_eq!(ip_text(IpAddr::V6(v6)), v6.to_string());
            let compat = ip.to_ipv6_compatible();
            proptest::prop_assert_eq!(ip_text(IpAddr::V6(compat)), compat.to_string());
        }

        #[test]
        fn hex16_is_std_lower_hex(v in proptest::prelude::any::<u16>()) {
            let mut b = Vec::new();
            put_hex16(&mut b, v);
            proptest::prop_assert_eq!(String::from_utf8(b).unwrap(), format!("{v:x}"));
        }

        #[test]
        fn mac_text(m in proptest::prelude::any::<[u8; 6]>()) {
            let mut b = Vec::new();
            put_mac(&mut b, m);
            let want = m.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":");
            proptest::prop_assert_eq!(String::from_utf8(b).unwrap(), want);
        }
    }

    #[test]
    fn ip_edge_cases_are_std_display() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let v6 = [
            Ipv6Addr::UNSPECIFIED,
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::new(1, 0, 0, 0, 0, 0, 0, 0),
            Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1),
            Ipv6Addr::new(1, 0, 1, 0, 1, 0, 1, 0),
            Ipv6Addr::new(1, 0, 0, 1, 0, 0, 1, 1),
            Ipv6Addr::new(0, 0, 1, 0, 0, 0, 1, 0),
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0202, 0xb3ff, 0xfe1e, 0x8329),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1),
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0001),
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xfffe, 0xc0a8, 0x0001),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc0a8, 1),
            Ipv6Addr::new(
                0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
            ),
        ];
        for ip in v6 {
            assert_eq!(ip_text(IpAddr::V6(ip)), ip.to_string());
        }
        for ip in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(10, 0, 100, 9),
            Ipv4Addr::new(100, 99, 10, 255),
        ] {
            assert_eq!(ip_text(IpAddr::V4(ip)), ip.to_string());
        }
        let mut w = JsonWriter::new();
        w.begin_array();
        w.ip_value(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
        w.ip_value(IpAddr::V6(Ipv6Addr::LOCALHOST));
        w.mac_value([0, 0x1b, 0xff, 0xa0, 9, 0x10]);
        w.end_array();
        assert_eq!(w.as_bytes(), br#"["1.2.3.4","::1","00:1b:ff:a0:09:10"]"#);
    }

    /// Every 16-bit value in every position of an eight-value block, and
    /// arrays of every length around the block size, as the one-value
    /// formatting writes them.
    #[test]
    fn u16_be_arrays_match_value_by_value_formatting() {
        let all: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_be_bytes).collect();
        for shift in 0..8 {
            let bytes = &all[2 * shift..];
            let mut w = JsonWriter::new();
            w.u16_be_array_field("v", bytes, usize::MAX);
            let mut expected = JsonWriter::new();
            expected.u16_array_field(
                "v",
                bytes
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]])),
            );
            assert!(w.as_bytes() == expected.as_bytes(), "shift {shift}");
        }
        for len in 0..40 {
            for max in [0, 1, 7, 8, 9, 16, 17, usize::MAX] {
                let bytes = &all[65_500 * 2..][..len];
                let mut w = JsonWriter::new();
                w.u16_be_array_field("v", bytes, max);
                let values = bytes.chunks_exact(2).take(max);
                let text: Vec<String> = values
                    .map(|c| u16::from_be_bytes([c[0], c[1]]).to_string())
                    .collect();
                let expected = format!(r#""v":[{}]"#, text.join(","));
                assert_eq!(std::str::from_utf8(w.as_bytes()).unwrap(), expected);
            }
        }
    }

    #[test]
    fn digits_x8_is_the_portable_split() {
        let all: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_be_bytes).collect();
        for block in all.chunks_exact(16) {
            assert_eq!(digits_x8(block), digits_x8_portable(block));
        }
    }

    #[test]
    fn digits4x2_of_pairs_below_10_4() {
        let check = |a: u32, b: u32| {
            let (da, db) = digits4x2(a, b);
            assert_eq!((da, db), (digits5(a), digits5(b)), "{a} {b}");
        };
        for a in 0..10_000 {
            check(a, 9_999 - a);
            check(a, (a * 7_919) % 10_000);
            check(a, 0);
        }
    }

    proptest::proptest! {
        /// The big-endian array writer against std's formatting, for
        /// values of every length, odd byte counts, bounds that cut the
        /// array, arrays longer than one stack chunk, and both the first
        /// and a later member of an object.
        #[test]
        fn u16_be_array_is_std_formatting(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u16>(),
                    0u16..10,
                    0u16..10_000,
                    proptest::strategy::Just(65_535u16),
                ],
                0..200,
            ),
            odd in proptest::prelude::any::<bool>(),
            max in 0usize..250,
            first in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            if odd {
                bytes.push(7);
            }
            let mut w = JsonWriter::new();
            w.begin_object();
            if !first {
                w.u64_field("x", 1);
            }
            w.u16_be_array_field("a", &bytes, max);
            w.end_object();
            let list: Vec<String> = values.iter().take(max).map(|v| v.to_string()).collect();
            let want = format!(
                "{{{}\"a\":[{}]}}",
                if first { "" } else { "\"x\":1," },
                list.join(",")
            );
            proptest::prop_assert_eq!(String::from_utf8(w.as_bytes().to_vec()).unwrap(), want);
        }
    }

    proptest::proptest! {
        /// The bit array writer against the iterator version, for counts
        /// below, at and beyond the bytes given.
        #[test]
        fn bits_are_the_iterator_version(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            count in 0usize..340,
        ) {
            let mut w = JsonWriter::new();
            w.begin_object();
            w.bits_field("b", &bytes, count);
            w.end_object();
            let n = count.min(bytes.len() * 8);
            let mut want = JsonWriter::new();
            want.begin_object();
            want.u16_array_field("b", (0..n).map(|i| u16::from((bytes[i / 8] >> (i % 8)) & 1)));
            want.end_object();
            proptest::prop_assert_eq!(w.as_bytes(), want.as_bytes());
        }
    }

    #[test]
    fn small_numbers_and_arrays() {
        for v in [
            0u32, 7, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 65_535, 99_999,
        ] {
            let mut b = Vec::new();
            put_small(&mut b, v, b',');
            assert_eq!(b, format!("{v},").as_bytes());
        }
        for v in [
            0u64,
            5,
            10,
            9_999,
            10_000,
            65_535,
            99_999,
            100_000,
            12_345_678,
            99_999_999,
            100_000_000,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_u64(&mut b, v);
            assert_eq!(b, v.to_string().as_bytes());
        }
        let mut w = JsonWriter::new();
        w.begin_object();
        w.u16_array_field("a", [1u16, 65_535, 0].into_iter());
        w.u16_array_field("e", std::iter::empty::<u16>());
        w.end_object();
        assert_eq!(w.as_bytes(), b"{\"a\":[1,65535,0],\"e\":[]}");
    }
}
