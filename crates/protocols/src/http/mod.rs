//! HTTP/1.0 and HTTP/1.1 message heads (RFC 9112) and message framing.
//!
//! A monitor needs the request line, the status line and a few header
//! fields (Host, User-Agent, Server, the framing fields), and it needs to
//! know where each message ends so that the next one on a persistent
//! connection is found: [`head_len`] finds the end of a head,
//! [`RequestHead::parse`] and [`ResponseHead::parse`] read it, and
//! [`request_body`] / [`response_body`] say how the body is delimited
//! (RFC 9112 §6.3). [`Chunked`] walks a chunked body without keeping it.
//! Everything borrows the bytes; nothing is copied.

use crate::cursor::Cursor;
pub use crate::Probe;

/// Registered TCP ports (80, and 8080 where embedded web servers of
/// plant devices often listen).
pub const PORTS: &[u16] = &[80, 8080];
/// Longest head (request or status line and header fields) a session
/// buffers; a longer one is reported and skipped.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// Header fields read per head.
pub const MAX_HEADERS: usize = 128;
/// Longest line of a chunked body's framing (chunk size with extensions,
/// trailer fields).
pub const MAX_CHUNK_LINE: usize = 4096;

/// Methods a strict probe accepts (RFC 9110 §9, RFC 5789).
pub const METHODS: &[&[u8]] = &[
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT", b"PATCH",
];

/// Findings of a head, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

crate::flag_set!(Flags, u16);

impl Flags {
    /// Lines end with a bare LF instead of CRLF.
    pub const BARE_LF: u16 = 1 << 0;
    /// A header line without a colon, or with white space before it.
    pub const BAD_HEADER_LINE: u16 = 1 << 1;
    /// A header line continued on the next (obsolete line folding).
    pub const OBS_FOLD: u16 = 1 << 2;
    /// Content-Length that is not a number, or several that differ.
    pub const BAD_CONTENT_LENGTH: u16 = 1 << 3;
    /// Both Transfer-Encoding and Content-Length (a request smuggling
    /// pattern, RFC 9112 §6.3).
    pub const TE_AND_CL: u16 = 1 << 4;
    /// More than [`MAX_HEADERS`] header fields (the rest were not read).
    pub const TOO_MANY_HEADERS: u16 = 1 << 5;
    /// A method outside RFC 9110 and RFC 5789.
    pub const NONSTANDARD_METHOD: u16 = 1 << 6;
    /// A Transfer-Encoding whose last coding is not chunked (the body then
    /// runs to the close, RFC 9112 §6.3).
    pub const UNKNOWN_TRANSFER_ENCODING: u16 = 1 << 7;
    /// A request line or status line that does not follow the grammar.
    pub const BAD_START_LINE: u16 = 1 << 8;

    const NAMES: [(u16, &'static str); 9] = [
        (Self::BARE_LF, "bare_lf"),
        (Self::BAD_HEADER_LINE, "bad_header_line"),
        (Self::OBS_FOLD, "obs_fold"),
        (Self::BAD_CONTENT_LENGTH, "bad_content_length"),
        (Self::TE_AND_CL, "te_and_cl"),
        (Self::TOO_MANY_HEADERS, "too_many_headers"),
        (Self::NONSTANDARD_METHOD, "nonstandard_method"),
        (Self::UNKNOWN_TRANSFER_ENCODING, "unknown_transfer_encoding"),
        (Self::BAD_START_LINE, "bad_start_line"),
    ];
}

/// The length of the head at the start of `b` (through the empty line
/// that ends it), or `None` when the empty line has not arrived. Lines may
/// end in CRLF or a bare LF (RFC 9112 §2.2).
pub fn head_len(b: &[u8]) -> Option<usize> {
    let mut start = 0;
    let mut started = false;
    loop {
        let i = b.get(start..)?.iter().position(|&c| c == b'\n')?;
        let l = &b[start..start + i];
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        start += i + 1;
        // Empty lines before the start line are skipped (RFC 9112 §2.2).
        if !l.is_empty() {
            started = true;
        } else if started {
            return Some(start);
        }
    }
}

/// Splits off one line (without its CRLF or LF); notes a bare LF.
fn line<'a>(c: &mut Cursor<'a>, flags: &mut Flags) -> Option<&'a [u8]> {
    let rest = c.rest();
    let i = rest.iter().position(|&b| b == b'\n')?;
    let l = c.bytes(i + 1)?;
    let l = &l[..i];
    match l.strip_suffix(b"\r") {
        Some(s) => Some(s),
        None => {
            flags.0 |= Flags::BARE_LF;
            Some(l)
        }
    }
}

/// HTTP version of a start line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version(pub u8, pub u8);

fn version(b: &[u8]) -> Option<Version> {
    match b {
        [b'H', b'T', b'T', b'P', b'/', a, b'.', c] if a.is_ascii_digit() && c.is_ascii_digit() => {
            Some(Version(a - b'0', c - b'0'))
        }
        _ => None,
    }
}

fn is_token(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c))
}

/// The header fields of a head.
#[derive(Clone, Copy, Debug)]
pub struct Headers<'a> {
    block: &'a [u8],
}

impl<'a> Headers<'a> {
    /// Every field as (name, value), value trimmed; at most [`MAX_HEADERS`].
    /// A continuation line (obsolete folding) and lines without a colon
    /// are skipped (the head's flags say so).
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut c = Cursor::new(self.block);
        let mut f = Flags::default();
        std::iter::from_fn(move || loop {
            let l = line(&mut c, &mut f)?;
            if l.is_empty() {
                return None;
            }
            if l[0] == b' ' || l[0] == b'\t' {
                continue;
            }
            let Some(colon) = l.iter().position(|&b| b == b':') else {
                continue;
            };
            return Some((&l[..colon], trim(&l[colon + 1..])));
        })
        .take(MAX_HEADERS)
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Checks the fields: line grammar, framing fields.
    fn check(&self) -> Flags {
        let mut f = Flags::default();
        let mut c = Cursor::new(self.block);
        let mut n = 0;
        let mut cl: Option<&[u8]> = None;
        let mut te = false;
        while let Some(l) = line(&mut c, &mut f) {
            if l.is_empty() {
                break;
            }
            if l[0] == b' ' || l[0] == b'\t' {
                f.0 |= Flags::OBS_FOLD;
                continue;
            }
            n += 1;
            if n > MAX_HEADERS {
                f.0 |= Flags::TOO_MANY_HEADERS;
                break;
            }
            let Some(colon) = l.iter().position(|&b| b == b':') else {
                f.0 |= Flags::BAD_HEADER_LINE;
                continue;
            };
            let name = &l[..colon];
            if !is_token(name) {
                f.0 |= Flags::BAD_HEADER_LINE;
            }
            let value = trim(&l[colon + 1..]);
            if name.eq_ignore_ascii_case(b"content-length") {
                if parse_length(value).is_none() || cl.is_some_and(|p| p != value) {
                    f.0 |= Flags::BAD_CONTENT_LENGTH;
                }
                cl = Some(value);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                te = true;
            }
        }
        if te && cl.is_some() {
            f.0 |= Flags::TE_AND_CL;
        }
        if self.chunked() == Some(false) {
            f.0 |= Flags::UNKNOWN_TRANSFER_ENCODING;
        }
        f
    }

    /// Content-Length, when present and a number (a list of equal values
    /// counts as one).
    pub fn content_length(&self) -> Option<u64> {
        parse_length(self.get("content-length")?)
    }

    /// The last transfer coding is chunked; `None` without Transfer-Encoding.
    pub fn chunked(&self) -> Option<bool> {
        let mut last = None;
        for (n, v) in self.iter() {
            if n.eq_ignore_ascii_case(b"transfer-encoding") {
                if let Some(c) = v.rsplit(|&b| b == b',').next() {
                    last = Some(trim(c).eq_ignore_ascii_case(b"chunked"));
                }
            }
        }
        last
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    &b[s..e.max(s)]
}

/// A Content-Length value: digits, or a comma-separated list of the same
/// digits (RFC 9110 §8.6).
fn parse_length(v: &[u8]) -> Option<u64> {
    let mut out = None;
    for part in v.split(|&b| b == b',') {
        let p = trim(part);
        if p.is_empty() || p.len() > 19 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = p.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        if out.is_some_and(|o| o != n) {
            return None;
        }
        out = Some(n);
    }
    out
}

/// A request head (RFC 9112 §3).
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    /// The method token.
    pub method: &'a [u8],
    /// The request target.
    pub uri: &'a [u8],
    /// The version; `None` for an HTTP/0.9-style line without one.
    pub version: Option<Version>,
    /// The header fields.
    pub headers: Headers<'a>,
    /// Findings.
    pub flags: Flags,
}

impl<'a> RequestHead<'a> {
    /// Reads a complete head (see [`head_len`]). `None` when the first line
    /// is not a request line (a method token, a space, a target).
    pub fn parse(head: &'a [u8]) -> Option<RequestHead<'a>> {
        let mut f = Flags::default();
        let mut c = Cursor::new(head);
        let mut l = line(&mut c, &mut f)?;
        while l.is_empty() {
            l = line(&mut c, &mut f)?;
        }
        let mut parts = l.splitn(3, |&b| b == b' ');
        let method = parts.next()?;
        let uri = parts.next()?;
        if !is_token(method) || uri.is_empty() {
            return None;
        }
        let version = match parts.next() {
            Some(v) => {
                let v = version(v);
                if v.is_none() {
                    f.0 |= Flags::BAD_START_LINE;
                }
                v
            }
            None => {
                f.0 |= Flags::BAD_START_LINE;
                None
            }
        };
        if !METHODS.contains(&method) {
            f.0 |= Flags::NONSTANDARD_METHOD;
        }
        let headers = Headers { block: c.rest() };
        f.0 |= headers.check().0;
        Some(RequestHead {
            method,
            uri,
            version,
            headers,
            flags: f,
        })
    }

    /// The Host field.
    pub fn host(&self) -> Option<&'a [u8]> {
        self.headers.get("host")
    }

    /// The User-Agent field.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.headers.get("user-agent")
    }
}

/// A response head (RFC 9112 §4).
#[derive(Clone, Copy, Debug)]
pub struct ResponseHead<'a> {
    /// The version.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: &'a [u8],
    /// The header fields.
    pub headers: Headers<'a>,
    /// Findings.
    pub flags: Flags,
}

impl<'a> ResponseHead<'a> {
    /// Reads a complete head. `None` when the first line is not a status
    /// line (`HTTP/x.y`, a space, three digits).
    pub fn parse(head: &'a [u8]) -> Option<ResponseHead<'a>> {
        let mut f = Flags::default();
        let mut c = Cursor::new(head);
        let mut l = line(&mut c, &mut f)?;
        while l.is_empty() {
            l = line(&mut c, &mut f)?;
        }
        let v = version(l.get(..8)?)?;
        let code = l.get(9..12)?;
        if l.get(8) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let status = code.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
        let reason = match l.get(12..) {
            Some([b' ', r @ ..]) => r,
            Some([]) | None => &[],
            Some(_) => {
                f.0 |= Flags::BAD_START_LINE;
                &l[12..]
            }
        };
        let headers = Headers { block: c.rest() };
        f.0 |= headers.check().0;
        Some(ResponseHead {
            version: v,
            status,
            reason,
            headers,
            flags: f,
        })
    }

    /// The Server field.
    pub fn server(&self) -> Option<&'a [u8]> {
        self.headers.get("server")
    }

    /// A 1xx interim response (a final one follows), 101 excepted.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// How a message body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// This many octets.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes.
    UntilClose,
    /// The connection stops speaking HTTP (101 Switching Protocols, a
    /// successful CONNECT): the rest is not parsed.
    Tunnel,
}

/// A request's body (RFC 9112 §6.3 rules 4-7; a request without framing
/// fields has none).
pub fn request_body(r: &RequestHead<'_>) -> Body {
    match r.headers.chunked() {
        Some(true) => Body::Chunked,
        // A request whose coding is not chunked cannot be delimited.
        Some(false) => Body::UntilClose,
        None => match r.headers.content_length() {
            Some(0) | None => Body::None,
            Some(n) => Body::Length(n),
        },
    }
}

/// A response's body, given the method of its request (RFC 9112 §6.3
/// rules 1-8).
pub fn response_body(r: &ResponseHead<'_>, method: Option<&[u8]>) -> Body {
    let method = method.unwrap_or_default();
    if method == b"HEAD" || (100..200).contains(&r.status) || r.status == 204 || r.status == 304 {
        return if r.status == 101 {
            Body::Tunnel
        } else {
            Body::None
        };
    }
    if method == b"CONNECT" && (200..300).contains(&r.status) {
        return Body::Tunnel;
    }
    match r.headers.chunked() {
        Some(true) => Body::Chunked,
        Some(false) => Body::UntilClose,
        None => match r.headers.content_length() {
            Some(0) => Body::None,
            Some(n) => Body::Length(n),
            None => Body::UntilClose,
        },
    }
}

/// Walks a chunked body (RFC 9112 §7.1) across segments without keeping it.
#[derive(Clone, Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    /// Octets of the current framing line seen so far.
    line: usize,
    /// The chunk size being read.
    size: u64,
    /// The size line has ended its digits (extensions follow).
    digits_done: bool,
    /// Digits read.
    digits: u8,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

/// What feeding bytes to [`Chunked`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkStep {
    /// All bytes consumed; the body goes on.
    More,
    /// The body ended after this many bytes.
    Done(usize),
    /// The framing is broken at this offset.
    Error(usize),
}

impl Chunked {
    /// Consumes body bytes.
    pub fn feed(&mut self, b: &[u8]) -> ChunkStep {
        let mut i = 0;
        while i < b.len() {
            match self.state {
                ChunkState::Data(n) => {
                    let take = (b.len() - i).min(usize::try_from(n).unwrap_or(usize::MAX));
                    i += take;
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    self.line = 0;
                }
                ChunkState::DataEnd => {
                    // CRLF (or LF) after the data.
                    let c = b[i];
                    i += 1;
                    match (c, self.line) {
                        (b'\r', 0) => self.line = 1,
                        (b'\n', _) => {
                            self.state = ChunkState::Size;
                            self.reset_line();
                        }
                        _ => return ChunkStep::Error(i - 1),
                    }
                }
                ChunkState::Size => {
                    let c = b[i];
                    i += 1;
                    self.line += 1;
                    if self.line > MAX_CHUNK_LINE {
                        return ChunkStep::Error(i - 1);
                    }
                    if c == b'\n' {
                        if self.digits == 0 {
                            return ChunkStep::Error(i - 1);
                        }
                        self.state = if self.size == 0 {
                            ChunkState::Trailer
                        } else {
                            ChunkState::Data(self.size)
                        };
                        self.reset_line();
                        continue;
                    }
                    if self.digits_done {
                        continue;
                    }
                    match (c as char).to_digit(16) {
                        Some(d) => {
                            self.digits += 1;
                            if self.digits > 15 {
                                return ChunkStep::Error(i - 1);
                            }
                            self.size = self.size << 4 | u64::from(d);
                        }
                        None if self.digits > 0 && matches!(c, b';' | b' ' | b'\t' | b'\r') => {
                            self.digits_done = true
                        }
                        None => return ChunkStep::Error(i - 1),
                    }
                }
                ChunkState::Trailer => {
                    let c = b[i];
                    i += 1;
                    if c == b'\n' {
                        if self.line == 0 {
                            return ChunkStep::Done(i);
                        }
                        self.line = 0;
                    } else if c != b'\r' || self.line > 0 {
                        self.line += 1;
                        if self.line > MAX_CHUNK_LINE {
                            return ChunkStep::Error(i - 1);
                        }
                    }
                }
            }
        }
        ChunkStep::More
    }

    fn reset_line(&mut self) {
        self.line = 0;
        self.size = 0;
        self.digits = 0;
        self.digits_done = false;
    }
}

/// Content check. On the registered ports (`strict` false) a method token
/// followed by a space, or `HTTP/1.`, is enough. Elsewhere the whole
/// request line must be there (a method of [`METHODS`], a target,
/// `HTTP/1.0` or `HTTP/1.1`), or a status line (`HTTP/1.x` and three
/// digits).
pub fn probe(b: &[u8], strict: bool) -> Probe {
    const STATUS: &[u8] = b"HTTP/1.";
    if b.len() < STATUS.len() && STATUS.starts_with(b) && !b.is_empty() {
        return Probe::NeedMore;
    }
    if b.starts_with(STATUS) {
        return match b.get(..12) {
            None => Probe::NeedMore,
            Some(s)
                if s[7].is_ascii_digit()
                    && s[8] == b' '
                    && s[9..12].iter().all(u8::is_ascii_digit) =>
            {
                Probe::Match
            }
            Some(_) => Probe::NoMatch,
        };
    }
    let token_len = b
        .iter()
        .position(|&c| !(c.is_ascii_uppercase() || c == b'-' || c == b'_'))
        .unwrap_or(b.len());
    if token_len > 20 || token_len == 0 && !b.is_empty() {
        return Probe::NoMatch;
    }
    if token_len == b.len() {
        // Only a method-like prefix so far.
        if strict && !METHODS.iter().any(|m| m.starts_with(b)) {
            return Probe::NoMatch;
        }
        return Probe::NeedMore;
    }
    if b[token_len] != b' ' {
        return Probe::NoMatch;
    }
    if !strict {
        return Probe::Match;
    }
    if !METHODS.contains(&&b[..token_len]) {
        return Probe::NoMatch;
    }
    let Some(eol) = b.iter().position(|&c| c == b'\n') else {
        return if b.iter().all(|&c| c >= 0x20 && c != 0x7f) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    };
    let l = &b[..eol];
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    match l
        .strip_suffix(b" HTTP/1.1")
        .or(l.strip_suffix(b" HTTP/1.0"))
    {
        Some(rest) if rest.len() > token_len + 1 && !rest[token_len + 1..].contains(&b' ') => {
            Probe::Match
        }
        _ => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests;
