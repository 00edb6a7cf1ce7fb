//! Domain names in DNS messages (RFC 1035 §3.1, §4.1.4): labels, and
//! pointers to earlier names (message compression).

/// Longest name on the wire, length octets included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Compression pointers followed in one name. A loop of pointers (or a
/// chain longer than any encoder makes) stops here.
pub const MAX_POINTER_JUMPS: usize = 16;
/// Longest text of a name: every octet escaped as `\DDD`, plus the dots.
pub const MAX_TEXT_LEN: usize = MAX_NAME_LEN * 4;

/// Why a name cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The message ends inside the name.
    Truncated,
    /// More than [`MAX_POINTER_JUMPS`] compression pointers: a loop.
    PointerLoop,
    /// Longer than 255 octets (RFC 1035 §2.3.4).
    TooLong,
    /// A label type other than a plain label (00) or a pointer (11):
    /// the extended and obsolete binary label types (RFC 6891 §5).
    BadLabelType,
}

impl NameError {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            NameError::Truncated => "truncated",
            NameError::PointerLoop => "pointer_loop",
            NameError::TooLong => "too_long",
            NameError::BadLabelType => "bad_label_type",
        }
    }
}

/// A validated name inside a message: where it starts and the message it
/// may point into. Reading it again cannot fail.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a> {
    msg: &'a [u8],
    start: usize,
}

/// Reads the name at `pos` of `msg`. Returns it and the offset after its
/// in-place part (after the first pointer, or after the root label).
pub fn read_name(msg: &[u8], pos: usize) -> Result<(Name<'_>, usize), NameError> {
    let mut at = pos;
    let mut end = None;
    let mut jumps = 0;
    // Octets of the name in its uncompressed form, the root included.
    let mut len = 1usize;
    loop {
        let &l = msg.get(at).ok_or(NameError::Truncated)?;
        match l >> 6 {
            0 => {
                if l == 0 {
                    let end = end.unwrap_or(at + 1);
                    return Ok((Name { msg, start: pos }, end));
                }
                let n = usize::from(l);
                len += n + 1;
                if len > MAX_NAME_LEN {
                    return Err(NameError::TooLong);
                }
                if msg.len() < at + 1 + n {
                    return Err(NameError::Truncated);
                }
                at += 1 + n;
            }
            3 => {
                let &lo = msg.get(at + 1).ok_or(NameError::Truncated)?;
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err(NameError::PointerLoop);
                }
                if end.is_none() {
                    end = Some(at + 2);
                }
                at = usize::from(u16::from_be_bytes([l & 0x3f, lo]));
            }
            _ => return Err(NameError::BadLabelType),
        }
    }
}

impl<'a> Name<'a> {
    /// The labels, first to last (the root excluded).
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            msg: self.msg,
            at: self.start,
            jumps: 0,
        }
    }

    /// True for the root name (no labels).
    pub fn is_root(&self) -> bool {
        self.labels().next().is_none()
    }

    /// The name in presentation format (RFC 1035 §5.1): labels joined by
    /// dots, without the final dot; `.` for the root. Octets outside
    /// printable ASCII are written `\DDD`, dots and backslashes inside a
    /// label are escaped. The text is ASCII and at most
    /// [`MAX_TEXT_LEN`] octets.
    pub fn text<'b>(&self, buf: &'b mut [u8; MAX_TEXT_LEN]) -> &'b str {
        let mut n = 0;
        let mut push = |b: u8, n: &mut usize| {
            if let Some(slot) = buf.get_mut(*n) {
                *slot = b;
                *n += 1;
            }
        };
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                push(b'.', &mut n);
            }
            for &c in label {
                match c {
                    b'.' | b'\\' => {
                        push(b'\\', &mut n);
                        push(c, &mut n);
                    }
                    0x21..=0x7e => push(c, &mut n),
                    _ => {
                        push(b'\\', &mut n);
                        push(b'0' + c / 100, &mut n);
                        push(b'0' + c / 10 % 10, &mut n);
                        push(b'0' + c % 10, &mut n);
                    }
                }
            }
        }
        if n == 0 {
            push(b'.', &mut n);
        }
        // Only ASCII was written.
        std::str::from_utf8(&buf[..n]).unwrap_or("")
    }

    /// Compares two names label by label, ASCII case-insensitively
    /// (RFC 4343).
    pub fn eq_ignore_case(&self, other: &Name<'_>) -> bool {
        let mut a = self.labels();
        let mut b = other.labels();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
                _ => return false,
            }
        }
    }
}

/// The labels of a [`Name`].
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    msg: &'a [u8],
    at: usize,
    jumps: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // The name was validated by `read_name`; the checks below only keep
        // a hand-made `Name` from panicking.
        loop {
            let l = *self.msg.get(self.at)?;
            match l >> 6 {
                0 if l == 0 => return None,
                0 => {
                    let s = self.msg.get(self.at + 1..self.at + 1 + usize::from(l))?;
                    self.at += 1 + usize::from(l);
                    return Some(s);
                }
                3 => {
                    self.jumps += 1;
                    if self.jumps > MAX_POINTER_JUMPS {
                        return None;
                    }
                    let lo = *self.msg.get(self.at + 1)?;
                    self.at = usize::from(u16::from_be_bytes([l & 0x3f, lo]));
                }
                _ => return None,
            }
        }
    }
}
