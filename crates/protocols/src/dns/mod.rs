//! DNS messages (RFC 1035), the wire format NetBIOS name service shares
//! (RFC 1002).
//!
//! [`Message::parse`] checks the 12-octet header and walks every section
//! once, so that the iterators over questions and records cannot fail
//! later: a name that cannot be read (truncated, a pointer loop, too long,
//! an unknown label type) or a record that runs past the end stops the walk
//! there, the sections before it are kept, and [`Flags`] says what went
//! wrong. Nothing is copied: names and record data borrow the message.

mod name;

pub use name::{read_name, Labels, Name, NameError, MAX_NAME_LEN, MAX_POINTER_JUMPS, MAX_TEXT_LEN};

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::cursor::Cursor;
pub use crate::Probe;

/// UDP and TCP port of DNS (RFC 1035 §4.2).
pub const PORT: u16 = 53;
/// Header length (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Questions a query plausibly carries: every resolver sends one; the
/// probe rejects more.
pub const MAX_PROBE_QUESTIONS: u16 = 16;

/// The header (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Pairs a response with its query.
    pub id: u16,
    /// QR, Opcode, AA, TC, RD, RA, Z, AD, CD, RCODE.
    pub flags: u16,
    /// Questions.
    pub qdcount: u16,
    /// Answer records.
    pub ancount: u16,
    /// Authority records.
    pub nscount: u16,
    /// Additional records.
    pub arcount: u16,
}

impl Header {
    /// Reads the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let mut c = Cursor::new(b);
        Some(Header {
            id: c.u16()?,
            flags: c.u16()?,
            qdcount: c.u16()?,
            ancount: c.u16()?,
            nscount: c.u16()?,
            arcount: c.u16()?,
        })
    }

    /// QR: a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The kind of query.
    pub fn opcode(&self) -> Opcode {
        Opcode(((self.flags >> 11) & 0xf) as u8)
    }

    /// AA: an authoritative answer.
    pub fn authoritative(&self) -> bool {
        self.flags & 0x0400 != 0
    }

    /// TC: the message was truncated to fit the transport.
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// RD: recursion desired.
    pub fn recursion_desired(&self) -> bool {
        self.flags & 0x0100 != 0
    }

    /// RA: recursion available.
    pub fn recursion_available(&self) -> bool {
        self.flags & 0x0080 != 0
    }

    /// AD: authentic data (RFC 4035 §3.2.3).
    pub fn authentic_data(&self) -> bool {
        self.flags & 0x0020 != 0
    }

    /// CD: checking disabled (RFC 4035 §3.2.2).
    pub fn checking_disabled(&self) -> bool {
        self.flags & 0x0010 != 0
    }

    /// The Z bit (reserved, must be 0).
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }

    /// Response code (the header's four bits).
    pub fn rcode(&self) -> Rcode {
        Rcode((self.flags & 0xf) as u8)
    }
}

/// The kind of query (RFC 1035 §4.1.1; IANA DNS OpCodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Opcode = Opcode(0);

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "query",
            1 => "iquery",
            2 => "status",
            4 => "notify",
            5 => "update",
            6 => "dso",
            _ => "unassigned",
        }
    }
}

/// Response code (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8490; IANA DNS RCODEs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rcode(pub u8);

impl Rcode {
    /// No error.
    pub const NOERROR: Rcode = Rcode(0);
    /// The name does not exist.
    pub const NXDOMAIN: Rcode = Rcode(3);

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "noerror",
            1 => "formerr",
            2 => "servfail",
            3 => "nxdomain",
            4 => "notimp",
            5 => "refused",
            6 => "yxdomain",
            7 => "yxrrset",
            8 => "nxrrset",
            9 => "notauth",
            10 => "notzone",
            11 => "dsotypeni",
            _ => "unassigned",
        }
    }
}

/// A record type (RFC 1035 §3.2.2 and later; IANA Resource Record TYPEs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RrType(pub u16);

impl RrType {
    /// IPv4 address.
    pub const A: RrType = RrType(1);
    /// Name server.
    pub const NS: RrType = RrType(2);
    /// Canonical name of an alias.
    pub const CNAME: RrType = RrType(5);
    /// Start of a zone of authority.
    pub const SOA: RrType = RrType(6);
    /// Domain name pointer (reverse lookups).
    pub const PTR: RrType = RrType(12);
    /// Mail exchange.
    pub const MX: RrType = RrType(15);
    /// Text strings.
    pub const TXT: RrType = RrType(16);
    /// IPv6 address (RFC 3596).
    pub const AAAA: RrType = RrType(28);
    /// Service location (RFC 2782).
    pub const SRV: RrType = RrType(33);
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: RrType = RrType(41);

    /// The mnemonic as the IANA registry writes it (`A`, `AAAA`, `PTR`);
    /// `unknown` for other codes.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "A",
            2 => "NS",
            5 => "CNAME",
            6 => "SOA",
            10 => "NULL",
            12 => "PTR",
            13 => "HINFO",
            15 => "MX",
            16 => "TXT",
            17 => "RP",
            18 => "AFSDB",
            24 => "SIG",
            25 => "KEY",
            28 => "AAAA",
            29 => "LOC",
            33 => "SRV",
            35 => "NAPTR",
            36 => "KX",
            37 => "CERT",
            39 => "DNAME",
            41 => "OPT",
            42 => "APL",
            43 => "DS",
            44 => "SSHFP",
            45 => "IPSECKEY",
            46 => "RRSIG",
            47 => "NSEC",
            48 => "DNSKEY",
            49 => "DHCID",
            50 => "NSEC3",
            51 => "NSEC3PARAM",
            52 => "TLSA",
            53 => "SMIMEA",
            55 => "HIP",
            59 => "CDS",
            60 => "CDNSKEY",
            61 => "OPENPGPKEY",
            62 => "CSYNC",
            63 => "ZONEMD",
            64 => "SVCB",
            65 => "HTTPS",
            99 => "SPF",
            249 => "TKEY",
            250 => "TSIG",
            251 => "IXFR",
            252 => "AXFR",
            255 => "ANY",
            256 => "URI",
            257 => "CAA",
            _ => "unknown",
        }
    }
}

/// A question (RFC 1035 §4.1.2).
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    /// QNAME.
    pub name: Name<'a>,
    /// QTYPE.
    pub qtype: RrType,
    /// QCLASS (1 IN); for mDNS-style stacks the top bit asks for a unicast answer.
    pub qclass: u16,
}

/// A resource record (RFC 1035 §4.1.3).
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// NAME.
    pub name: Name<'a>,
    /// TYPE.
    pub rtype: RrType,
    /// CLASS.
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// RDATA.
    pub rdata: &'a [u8],
    msg: &'a [u8],
    rdata_at: usize,
}

/// What a record's data says, for the types a monitor reads.
#[derive(Clone, Copy, Debug)]
pub enum RData<'a> {
    /// A.
    A(Ipv4Addr),
    /// AAAA.
    Aaaa(Ipv6Addr),
    /// CNAME, PTR, NS: a name.
    Name(Name<'a>),
    /// MX: preference and exchange.
    Mx(u16, Name<'a>),
    /// SRV: priority, weight, port, target.
    Srv(u16, u16, u16, Name<'a>),
    /// TXT: the character-strings, unparsed.
    Txt(&'a [u8]),
    /// Another type: the raw data.
    Other(&'a [u8]),
    /// The data does not fit its type (an A record of 5 octets, a PTR whose
    /// name runs past its data).
    Malformed(&'a [u8]),
}

impl<'a> Record<'a> {
    /// The data read by type.
    pub fn data(&self) -> RData<'a> {
        let d = self.rdata;
        let bad = RData::Malformed(d);
        // A name inside RDATA may point anywhere into the message; it must
        // end inside the RDATA.
        let name_at = |off: usize| -> Option<Name<'a>> {
            let (n, end) = read_name(self.msg, self.rdata_at + off).ok()?;
            (end <= self.rdata_at + d.len()).then_some(n)
        };
        match self.rtype {
            RrType::A => match <[u8; 4]>::try_from(d) {
                Ok(a) => RData::A(Ipv4Addr::from(a)),
                Err(_) => bad,
            },
            RrType::AAAA => match <[u8; 16]>::try_from(d) {
                Ok(a) => RData::Aaaa(Ipv6Addr::from(a)),
                Err(_) => bad,
            },
            RrType::CNAME | RrType::PTR | RrType::NS => name_at(0).map_or(bad, RData::Name),
            RrType::MX => {
                let mut c = Cursor::new(d);
                match (c.u16(), name_at(2)) {
                    (Some(p), Some(n)) => RData::Mx(p, n),
                    _ => bad,
                }
            }
            RrType::SRV => {
                let mut c = Cursor::new(d);
                match (c.u16(), c.u16(), c.u16(), name_at(6)) {
                    (Some(p), Some(w), Some(port), Some(n)) => RData::Srv(p, w, port, n),
                    _ => bad,
                }
            }
            RrType::TXT => RData::Txt(d),
            _ => RData::Other(d),
        }
    }

    /// Where the RDATA starts in the message (NetBIOS reads its own types).
    pub fn rdata_offset(&self) -> usize {
        self.rdata_at
    }
}

/// Findings of a message, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

crate::flag_set!(Flags, u16);

impl Flags {
    /// The message ends before the questions and records its header counts.
    pub const TRUNCATED: u16 = 1 << 0;
    /// A name could not be read (pointer loop, too long, bad label type).
    pub const BAD_NAME: u16 = 1 << 1;
    /// Octets after the last counted record.
    pub const TRAILING_BYTES: u16 = 1 << 2;
    /// A record's data does not fit its type.
    pub const RDATA_MISMATCH: u16 = 1 << 3;
    /// The reserved Z bit is set.
    pub const Z_BIT: u16 = 1 << 4;
    /// A response whose question differs from its query's.
    pub const QUESTION_MISMATCH: u16 = 1 << 5;
    /// A response of another opcode than its query.
    pub const OPCODE_MISMATCH: u16 = 1 << 6;
    /// The query was longer than a session keeps while it waits for the
    /// response; what is reported of it comes from its start.
    pub const QUERY_CUT: u16 = 1 << 7;

    const NAMES: [(u16, &'static str); 8] = [
        (Self::TRUNCATED, "truncated"),
        (Self::BAD_NAME, "bad_name"),
        (Self::TRAILING_BYTES, "trailing_bytes"),
        (Self::RDATA_MISMATCH, "rdata_mismatch"),
        (Self::Z_BIT, "z_bit"),
        (Self::QUESTION_MISMATCH, "question_mismatch"),
        (Self::OPCODE_MISMATCH, "opcode_mismatch"),
        (Self::QUERY_CUT, "query_cut"),
    ];
}

/// A message section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Answer records.
    Answer,
    /// Authority records.
    Authority,
    /// Additional records.
    Additional,
}

/// A parsed message: the header, and where each section starts.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// The whole message.
    pub bytes: &'a [u8],
    /// The header.
    pub header: Header,
    /// Findings.
    pub flags: Flags,
    /// The name error that stopped the walk, if any.
    pub name_error: Option<NameError>,
    /// Questions and records read (at most what the header counts).
    counts: [u16; 4],
    /// Offsets where the questions and the three record sections start.
    starts: [usize; 4],
}

impl<'a> Message<'a> {
    /// Parses a message. `None` only when it is shorter than the header;
    /// anything else is kept and flagged.
    pub fn parse(bytes: &'a [u8]) -> Option<Message<'a>> {
        let header = Header::parse(bytes)?;
        let mut m = Message {
            bytes,
            header,
            flags: Flags::default(),
            name_error: None,
            counts: [0; 4],
            starts: [HEADER_LEN; 4],
        };
        if header.z() {
            m.flags.0 |= Flags::Z_BIT;
        }
        let wanted = [
            header.qdcount,
            header.ancount,
            header.nscount,
            header.arcount,
        ];
        let mut pos = HEADER_LEN;
        'walk: for (s, &want) in wanted.iter().enumerate() {
            m.starts[s] = pos;
            for _ in 0..want {
                let next = if s == 0 {
                    question_at(bytes, pos).map(|(_, p)| p)
                } else {
                    record_at(bytes, pos).map(|(_, p)| p)
                };
                match next {
                    Ok(p) => {
                        pos = p;
                        m.counts[s] += 1;
                    }
                    Err(e) => {
                        match e {
                            None | Some(NameError::Truncated) => m.flags.0 |= Flags::TRUNCATED,
                            Some(e) => {
                                m.flags.0 |= Flags::BAD_NAME;
                                m.name_error = Some(e);
                            }
                        }
                        for later in m.starts.iter_mut().skip(s + 1) {
                            *later = pos;
                        }
                        break 'walk;
                    }
                }
            }
        }
        if m.is_complete() && pos < bytes.len() {
            m.flags.0 |= Flags::TRAILING_BYTES;
        }
        Some(m)
    }

    /// Checks every record's data against its DNS type (an A record of 4
    /// octets, a PTR holding a name) and flags `rdata_mismatch`. Not part of
    /// [`Message::parse`]: NetBIOS gives some of the same type codes other
    /// meanings.
    pub fn check_rdata(&mut self) {
        let sections = [Section::Answer, Section::Authority, Section::Additional];
        if sections
            .into_iter()
            .flat_map(|s| self.records(s))
            .any(|r| matches!(r.data(), RData::Malformed(_)))
        {
            self.flags.0 |= Flags::RDATA_MISMATCH;
        }
    }

    /// Every question and record the header counts was read.
    pub fn is_complete(&self) -> bool {
        !self.flags.has(Flags::TRUNCATED) && !self.flags.has(Flags::BAD_NAME)
    }

    /// The questions read.
    pub fn questions(&self) -> impl Iterator<Item = Question<'a>> + 'a {
        let (bytes, mut pos) = (self.bytes, self.starts[0]);
        (0..self.counts[0]).map_while(move |_| {
            let (q, next) = question_at(bytes, pos).ok()?;
            pos = next;
            Some(q)
        })
    }

    /// The first question.
    pub fn question(&self) -> Option<Question<'a>> {
        self.questions().next()
    }

    /// The records read of one section.
    pub fn records(&self, section: Section) -> impl Iterator<Item = Record<'a>> + 'a {
        let i = match section {
            Section::Answer => 1,
            Section::Authority => 2,
            Section::Additional => 3,
        };
        let (bytes, mut pos) = (self.bytes, self.starts[i]);
        (0..self.counts[i]).map_while(move |_| {
            let (r, next) = record_at(bytes, pos).ok()?;
            pos = next;
            Some(r)
        })
    }

    /// The answer records read.
    pub fn answers(&self) -> impl Iterator<Item = Record<'a>> + 'a {
        self.records(Section::Answer)
    }

    /// Questions, answer, authority and additional records read.
    pub fn counts_read(&self) -> [u16; 4] {
        self.counts
    }
}

/// The question at `pos`: it and the offset after it. The error is the
/// name's, or `None` when the fixed fields are cut.
fn question_at(b: &[u8], pos: usize) -> Result<(Question<'_>, usize), Option<NameError>> {
    let (name, at) = read_name(b, pos).map_err(Some)?;
    let mut c = Cursor::new(b.get(at..).ok_or(None)?);
    let (Some(t), Some(class)) = (c.u16(), c.u16()) else {
        return Err(None);
    };
    Ok((
        Question {
            name,
            qtype: RrType(t),
            qclass: class,
        },
        at + 4,
    ))
}

/// The record at `pos`: it and the offset after it.
fn record_at(b: &[u8], pos: usize) -> Result<(Record<'_>, usize), Option<NameError>> {
    let (name, at) = read_name(b, pos).map_err(Some)?;
    let mut c = Cursor::new(b.get(at..).ok_or(None)?);
    let (Some(t), Some(class), Some(ttl), Some(len)) = (c.u16(), c.u16(), c.u32(), c.u16()) else {
        return Err(None);
    };
    let rdata = c.bytes(usize::from(len)).ok_or(None)?;
    Ok((
        Record {
            name,
            rtype: RrType(t),
            class,
            ttl,
            rdata,
            msg: b,
            rdata_at: at + 10,
        },
        at + 10 + usize::from(len),
    ))
}

/// Content check for DNS. `bytes` is a UDP datagram, or the start of a TCP
/// stream (each message behind a two-octet length, RFC 1035 §4.2.2).
/// DNS is recognised only on its port, so `strict` (another port) never
/// matches: DNS-shaped bytes are too common to claim by content alone.
pub fn probe(bytes: &[u8], strict: bool) -> Probe {
    if strict {
        return Probe::NoMatch;
    }
    if plausible(bytes) {
        return Probe::Match;
    }
    // A TCP stream: the length, then the header.
    let Some(len) = bytes
        .get(..2)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    else {
        return Probe::NeedMore;
    };
    if len < HEADER_LEN {
        return Probe::NoMatch;
    }
    match bytes.get(2..2 + HEADER_LEN) {
        None => Probe::NeedMore,
        Some(h) if plausible(h) => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

/// A header a DNS stack would send: a defined opcode, a query with one
/// question or a response with a handful.
fn plausible(b: &[u8]) -> bool {
    let Some(h) = Header::parse(b) else {
        return false;
    };
    let op = h.opcode().0;
    if !matches!(op, 0 | 1 | 2 | 4 | 5 | 6) || h.qdcount > MAX_PROBE_QUESTIONS {
        return false;
    }
    // A query asks something (UPDATE counts zones in qdcount, DSO may ask nothing).
    h.is_response() || h.qdcount >= 1 || op == 6
}

#[cfg(test)]
pub(crate) mod tests;
