//! OPC UA Binary encoding of the built-in types (Part 6 §5.2): what the
//! headers and the decoded services need. Every reader returns `None`
//! past the end of the input or on an impossible length.

use crate::cursor::Cursor;

/// Deepest nesting of DiagnosticInfo followed.
pub const MAX_DIAGNOSTIC_DEPTH: u32 = 4;
/// Most array elements skipped or read in one array.
pub const MAX_ARRAY: usize = 1024;

/// A little-endian reader over the body of a message.
#[derive(Clone, Copy, Debug)]
pub struct Decoder<'a> {
    c: Cursor<'a>,
}

/// A NodeId (Part 6 §5.2.2.9): namespace and identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeId<'a> {
    /// A numeric identifier.
    Numeric(u16, u32),
    /// A string identifier (UTF-8 bytes).
    String(u16, &'a [u8]),
    /// A GUID.
    Guid(u16, [u8; 16]),
    /// An opaque identifier.
    Opaque(u16, &'a [u8]),
}

impl NodeId<'_> {
    /// The numeric identifier in namespace 0, if that is what it is.
    pub fn ns0_numeric(&self) -> Option<u32> {
        match *self {
            NodeId::Numeric(0, id) => Some(id),
            _ => None,
        }
    }

    /// The XML text form (`i=631`, `ns=2;s=Motor`, `ns=1;g=...`, `b=<hex>`).
    pub fn text(&self) -> String {
        let ns = |n: u16| {
            if n == 0 {
                String::new()
            } else {
                format!("ns={n};")
            }
        };
        match self {
            NodeId::Numeric(n, id) => format!("{}i={id}", ns(*n)),
            NodeId::String(n, s) => {
                let s = String::from_utf8_lossy(&s[..s.len().min(256)]);
                format!("{}s={s}", ns(*n))
            }
            NodeId::Guid(n, g) => {
                let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
                let d2 = u16::from_le_bytes([g[4], g[5]]);
                let d3 = u16::from_le_bytes([g[6], g[7]]);
                let h: String = g[8..].iter().map(|b| format!("{b:02x}")).collect();
                format!(
                    "{}g={d1:08x}-{d2:04x}-{d3:04x}-{}-{}",
                    ns(*n),
                    &h[..4],
                    &h[4..]
                )
            }
            NodeId::Opaque(n, b) => {
                let h: String = b.iter().take(64).map(|b| format!("{b:02x}")).collect();
                format!("{}b={h}", ns(*n))
            }
        }
    }
}

/// A LocalizedText (Part 6 §5.2.2.14).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalizedText<'a> {
    /// Locale.
    pub locale: Option<&'a [u8]>,
    /// Text.
    pub text: Option<&'a [u8]>,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Decoder { c: Cursor::new(b) }
    }

    /// Octets left.
    pub fn remaining(&self) -> usize {
        self.c.remaining()
    }

    /// The unread octets.
    pub fn rest(&self) -> &'a [u8] {
        self.c.rest()
    }

    /// Byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.c.u8()
    }

    /// UInt16.
    pub fn u16(&mut self) -> Option<u16> {
        self.c.u16_le()
    }

    /// UInt32.
    pub fn u32(&mut self) -> Option<u32> {
        self.c.u32_le()
    }

    /// Int32.
    pub fn i32(&mut self) -> Option<i32> {
        self.c.u32_le().map(|v| v as i32)
    }

    /// Int64 / DateTime.
    pub fn i64(&mut self) -> Option<i64> {
        let b = self.c.bytes(8)?;
        Some(i64::from_le_bytes(b.try_into().ok()?))
    }

    /// Double.
    pub fn f64(&mut self) -> Option<f64> {
        let b = self.c.bytes(8)?;
        Some(f64::from_le_bytes(b.try_into().ok()?))
    }

    /// `n` raw octets.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        self.c.bytes(n)
    }

    /// String or ByteString: Int32 length (-1: null) and the octets.
    pub fn string(&mut self) -> Option<Option<&'a [u8]>> {
        let n = self.i32()?;
        if n < 0 {
            return Some(None);
        }
        self.c.bytes(usize::try_from(n).ok()?).map(Some)
    }

    /// An array length (-1: null, read as 0), capped at [`MAX_ARRAY`].
    pub fn array_len(&mut self) -> Option<usize> {
        let n = self.i32()?;
        let n = usize::try_from(n.max(0)).ok()?;
        // Every element takes at least one octet.
        if n > MAX_ARRAY || n > self.remaining() {
            return None;
        }
        Some(n)
    }

    /// A NodeId (Part 6 §5.2.2.9).
    pub fn node_id(&mut self) -> Option<NodeId<'a>> {
        let enc = self.u8()?;
        self.node_id_body(enc & 0x3f)
    }

    fn node_id_body(&mut self, enc: u8) -> Option<NodeId<'a>> {
        Some(match enc {
            0x00 => NodeId::Numeric(0, u32::from(self.u8()?)),
            0x01 => {
                let ns = self.u8()?;
                NodeId::Numeric(u16::from(ns), u32::from(self.u16()?))
            }
            0x02 => {
                let ns = self.u16()?;
                NodeId::Numeric(ns, self.u32()?)
            }
            0x03 => {
                let ns = self.u16()?;
                NodeId::String(ns, self.string()?.unwrap_or(&[]))
            }
            0x04 => {
                let ns = self.u16()?;
                NodeId::Guid(ns, self.bytes(16)?.try_into().ok()?)
            }
            0x05 => {
                let ns = self.u16()?;
                NodeId::Opaque(ns, self.string()?.unwrap_or(&[]))
            }
            _ => return None,
        })
    }

    /// An ExpandedNodeId (Part 6 §5.2.2.10): the NodeId (namespace URI
    /// and server index skipped).
    pub fn expanded_node_id(&mut self) -> Option<NodeId<'a>> {
        let enc = self.u8()?;
        let id = self.node_id_body(enc & 0x3f)?;
        if enc & 0x80 != 0 {
            self.string()?;
        }
        if enc & 0x40 != 0 {
            self.u32()?;
        }
        Some(id)
    }

    /// A LocalizedText.
    pub fn localized_text(&mut self) -> Option<LocalizedText<'a>> {
        let mask = self.u8()?;
        let mut t = LocalizedText::default();
        if mask & 0x01 != 0 {
            t.locale = self.string()?;
        }
        if mask & 0x02 != 0 {
            t.text = self.string()?;
        }
        Some(t)
    }

    /// Skips a DiagnosticInfo (Part 6 §5.2.2.12).
    pub fn diagnostic_info(&mut self) -> Option<()> {
        self.diagnostic_info_at(0)
    }

    fn diagnostic_info_at(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DIAGNOSTIC_DEPTH {
            return None;
        }
        let mask = self.u8()?;
        for bit in [0x01, 0x02, 0x08, 0x04] {
            if mask & bit != 0 {
                self.i32()?;
            }
        }
        if mask & 0x10 != 0 {
            self.string()?;
        }
        if mask & 0x20 != 0 {
            self.u32()?;
        }
        if mask & 0x40 != 0 {
            self.diagnostic_info_at(depth + 1)?;
        }
        Some(())
    }

    /// Skips an ExtensionObject (Part 6 §5.2.2.15); returns its type id.
    pub fn extension_object(&mut self) -> Option<NodeId<'a>> {
        let id = self.node_id()?;
        match self.u8()? {
            0 => {}
            1 | 2 => {
                self.string()?;
            }
            _ => return None,
        }
        Some(id)
    }

    /// Skips a String array.
    pub fn string_array(&mut self) -> Option<()> {
        for _ in 0..self.array_len()? {
            self.string()?;
        }
        Some(())
    }
}
