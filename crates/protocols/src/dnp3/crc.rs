//! The DNP3 CRC (IEEE 1815-2012 §9.2.4.2).
//!
//! CRC-16 with the generator polynomial x^16 + x^13 + x^12 + x^11 + x^10 +
//! x^8 + x^6 + x^5 + x^2 + 1 (0x3D65), computed least significant bit first
//! (the reflected form 0xA6BC), initial value 0 and the result complemented.
//! It is transmitted low octet first after the link header and after every
//! block of user data.

/// The reflected generator polynomial.
const POLY_REFLECTED: u16 = 0xA6BC;

/// One table entry per octet value, built at compile time.
const TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[i] = crc;
        i += 1;
    }
    t
};

/// The DNP3 CRC of `data`.
pub fn crc(data: &[u8]) -> u16 {
    let mut c: u16 = 0;
    for &b in data {
        c = (c >> 8) ^ TABLE[usize::from((c ^ u16::from(b)) as u8)];
    }
    !c
}

/// True when the first two of `crc_octets` (low octet first) are the CRC of `data`.
pub fn check(data: &[u8], crc_octets: &[u8]) -> bool {
    match crc_octets {
        [lo, hi, ..] => crc(data) == u16::from_le_bytes([*lo, *hi]),
        _ => false,
    }
}
