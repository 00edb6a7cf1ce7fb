//! The transport function (IEEE 1815-2012 §8): one header octet in front
//! of every link frame's user data splits application fragments into
//! segments.

/// The transport header (§8.2): FIN, FIR and a 6-bit sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TransportHeader(pub u8);

impl TransportHeader {
    /// FIN: the last segment of a fragment.
    pub fn fin(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// FIR: the first segment of a fragment.
    pub fn fir(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// The sequence number (0..=63), incremented per segment modulo 64.
    pub fn seq(self) -> u8 {
        self.0 & 0x3f
    }
    /// The sequence number that must follow `seq`.
    pub fn next_seq(seq: u8) -> u8 {
        (seq + 1) & 0x3f
    }
    /// A header from its parts (for crafting).
    pub fn new(fir: bool, fin: bool, seq: u8) -> Self {
        TransportHeader((u8::from(fin) << 7) | (u8::from(fir) << 6) | (seq & 0x3f))
    }
}

/// Largest application fragment accepted by default. Devices choose their
/// fragment size; 2048 octets is the customary maximum (and what common
/// stacks default to), so a larger fragment is discarded to bound memory.
pub const MAX_FRAGMENT_LEN: usize = 2048;
