//! DHCP (RFC 2131) and its options (RFC 2132), over the BOOTP message
//! format (RFC 951).
//!
//! [`Message::parse`] reads the fixed 236-octet header and finds the
//! options after the magic cookie. Options are walked lazily
//! ([`Message::options`]); the walk follows option overload (RFC 2132
//! §9.3) into the `file` and `sname` fields and stops at the end option,
//! at the end of the data, or at an option whose length runs past it
//! ([`Message::flags`] records that). Values borrow the datagram.

use std::net::Ipv4Addr;

use crate::cursor::Cursor;
pub use crate::Probe;

/// Server port (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// Client port.
pub const CLIENT_PORT: u16 = 68;
/// Fixed BOOTP header: op to file (RFC 2131 §2, figure 1).
pub const HEADER_LEN: usize = 236;
/// The magic cookie that starts the options (RFC 2131 §3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Options walked per message, pads excluded: more than any client sends.
pub const MAX_OPTIONS: usize = 255;

/// BOOTP op (RFC 951).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op(pub u8);

impl Op {
    /// BOOTREQUEST (client to server).
    pub const REQUEST: Op = Op(1);
    /// BOOTREPLY (server to client).
    pub const REPLY: Op = Op(2);

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "request",
            2 => "reply",
            _ => "unknown",
        }
    }
}

/// DHCP message type, option 53 (RFC 2132 §9.6, RFC 3203, RFC 4388, RFC 6926).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageType(pub u8);

impl MessageType {
    /// DHCPDISCOVER.
    pub const DISCOVER: MessageType = MessageType(1);
    /// DHCPOFFER.
    pub const OFFER: MessageType = MessageType(2);
    /// DHCPREQUEST.
    pub const REQUEST: MessageType = MessageType(3);
    /// DHCPDECLINE.
    pub const DECLINE: MessageType = MessageType(4);
    /// DHCPACK.
    pub const ACK: MessageType = MessageType(5);
    /// DHCPNAK.
    pub const NAK: MessageType = MessageType(6);
    /// DHCPRELEASE.
    pub const RELEASE: MessageType = MessageType(7);
    /// DHCPINFORM.
    pub const INFORM: MessageType = MessageType(8);

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "discover",
            2 => "offer",
            3 => "request",
            4 => "decline",
            5 => "ack",
            6 => "nak",
            7 => "release",
            8 => "inform",
            9 => "force_renew",
            10 => "lease_query",
            11 => "lease_unassigned",
            12 => "lease_unknown",
            13 => "lease_active",
            14 => "bulk_lease_query",
            15 => "lease_query_done",
            16 => "active_lease_query",
            17 => "lease_query_status",
            18 => "tls",
            _ => "unknown",
        }
    }
}

/// Option codes this crate reads (RFC 2132 unless noted).
pub mod option {
    /// Padding.
    pub const PAD: u8 = 0;
    /// Subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// Routers.
    pub const ROUTER: u8 = 3;
    /// Domain name servers.
    pub const DNS_SERVERS: u8 = 6;
    /// Host name.
    pub const HOST_NAME: u8 = 12;
    /// Domain name.
    pub const DOMAIN_NAME: u8 = 15;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time.
    pub const LEASE_TIME: u8 = 51;
    /// Option overload.
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list.
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Message (an error text in a NAK).
    pub const MESSAGE: u8 = 56;
    /// Vendor class identifier.
    pub const VENDOR_CLASS: u8 = 60;
    /// Client identifier.
    pub const CLIENT_ID: u8 = 61;
    /// Client FQDN (RFC 4702).
    pub const CLIENT_FQDN: u8 = 81;
    /// End.
    pub const END: u8 = 255;
}

/// One option: its code and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// The code.
    pub code: u8,
    /// The value (without code and length).
    pub value: &'a [u8],
}

/// Findings of a message, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

crate::flag_set!(Flags, u16);

impl Flags {
    /// An option's length runs past the end of its field.
    pub const OPTION_OVERRUN: u16 = 1 << 0;
    /// The options end without the end option (255).
    pub const MISSING_END: u16 = 1 << 1;
    /// More than [`MAX_OPTIONS`] options (the rest were not read).
    pub const TOO_MANY_OPTIONS: u16 = 1 << 2;
    /// An option of fixed size has another length (message type not 1
    /// octet, an address not 4).
    pub const BAD_OPTION_LENGTH: u16 = 1 << 3;
    /// A DHCP option (the magic cookie is there) without a message type.
    pub const MISSING_MESSAGE_TYPE: u16 = 1 << 4;
    /// An op other than 1 or 2, or a message type sent the wrong way
    /// (an OFFER in a BOOTREQUEST).
    pub const OP_MISMATCH: u16 = 1 << 5;
    /// A hardware address length over 16.
    pub const BAD_HLEN: u16 = 1 << 6;

    const NAMES: [(u16, &'static str); 7] = [
        (Self::OPTION_OVERRUN, "option_overrun"),
        (Self::MISSING_END, "missing_end"),
        (Self::TOO_MANY_OPTIONS, "too_many_options"),
        (Self::BAD_OPTION_LENGTH, "bad_option_length"),
        (Self::MISSING_MESSAGE_TYPE, "missing_message_type"),
        (Self::OP_MISMATCH, "op_mismatch"),
        (Self::BAD_HLEN, "bad_hlen"),
    ];
}

/// A DHCP or BOOTP message (RFC 2131 §2).
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// BOOTREQUEST or BOOTREPLY.
    pub op: Op,
    /// Hardware address type (1 Ethernet).
    pub htype: u8,
    /// Hardware address length.
    pub hlen: u8,
    /// Relay agents crossed.
    pub hops: u8,
    /// Transaction id, chosen by the client.
    pub xid: u32,
    /// Seconds since the client began.
    pub secs: u16,
    /// Bit 15: the client asks for broadcast replies.
    pub bootp_flags: u16,
    /// ciaddr: the client's address, when it has one (renewals, INFORM).
    pub ciaddr: Ipv4Addr,
    /// yiaddr: the address the server gives.
    pub yiaddr: Ipv4Addr,
    /// siaddr: the next server (boot file server).
    pub siaddr: Ipv4Addr,
    /// giaddr: the relay agent.
    pub giaddr: Ipv4Addr,
    /// chaddr (16 octets; the first `hlen` are the address).
    pub chaddr: &'a [u8],
    /// sname.
    pub sname: &'a [u8],
    /// file.
    pub file: &'a [u8],
    /// Options after the magic cookie; `None` for plain BOOTP.
    pub options_area: Option<&'a [u8]>,
}

impl<'a> Message<'a> {
    /// Parses the fixed header. `None` when the datagram is shorter than
    /// 236 octets.
    pub fn parse(b: &'a [u8]) -> Option<Message<'a>> {
        let mut c = Cursor::new(b);
        let addr = |c: &mut Cursor<'_>| c.u32().map(Ipv4Addr::from);
        let m = Message {
            op: Op(c.u8()?),
            htype: c.u8()?,
            hlen: c.u8()?,
            hops: c.u8()?,
            xid: c.u32()?,
            secs: c.u16()?,
            bootp_flags: c.u16()?,
            ciaddr: addr(&mut c)?,
            yiaddr: addr(&mut c)?,
            siaddr: addr(&mut c)?,
            giaddr: addr(&mut c)?,
            chaddr: c.bytes(16)?,
            sname: c.bytes(64)?,
            file: c.bytes(128)?,
            options_area: None,
        };
        let rest = c.rest();
        Some(Message {
            options_area: rest.strip_prefix(&MAGIC_COOKIE[..]),
            ..m
        })
    }

    /// The client's hardware address (the first `hlen` octets of chaddr).
    pub fn client_hardware(&self) -> &'a [u8] {
        &self.chaddr[..usize::from(self.hlen).min(16)]
    }

    /// The client's MAC address, for Ethernet (htype 1, hlen 6).
    pub fn client_mac(&self) -> Option<[u8; 6]> {
        if self.htype != 1 || self.hlen != 6 {
            return None;
        }
        self.chaddr.get(..6)?.try_into().ok()
    }

    /// The client asks for broadcast replies.
    pub fn broadcast(&self) -> bool {
        self.bootp_flags & 0x8000 != 0
    }

    /// Every option, in order: the options area, then `file` and `sname`
    /// when option 52 says they hold options. Pads and the end option are
    /// not yielded.
    pub fn options(&self) -> Options<'a> {
        Options {
            fields: [self.options_area, None, None],
            field: 0,
            at: 0,
            overload: None,
            file: self.file,
            sname: self.sname,
            count: 0,
            flags: Flags::default(),
            ended: [false; 3],
        }
    }

    /// The first option with `code`.
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        self.options().find(|o| o.code == code).map(|o| o.value)
    }

    /// Option 53, when present and one octet long.
    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(option::MESSAGE_TYPE)? {
            [t] => Some(MessageType(*t)),
            _ => None,
        }
    }

    /// An option holding one IPv4 address.
    pub fn address_option(&self, code: u8) -> Option<Ipv4Addr> {
        let v: [u8; 4] = self.option(code)?.try_into().ok()?;
        Some(Ipv4Addr::from(v))
    }

    /// An option holding a 32-bit number (lease time).
    pub fn u32_option(&self, code: u8) -> Option<u32> {
        let v: [u8; 4] = self.option(code)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// Option 81 (RFC 4702 §2): flags and the name, as text. The name is in
    /// DNS wire format when the E flag is set, ASCII otherwise.
    pub fn client_fqdn(&self) -> Option<(u8, String)> {
        let v = self.option(option::CLIENT_FQDN)?;
        let (&flags, rest) = v.split_first()?;
        let name = rest.get(2..)?;
        let text = if flags & 0x04 != 0 {
            let mut out = String::new();
            let mut c = Cursor::new(name);
            while let Some(l) = c.u8() {
                if l == 0 || l > 63 {
                    break;
                }
                let Some(label) = c.bytes(usize::from(l)) else {
                    break;
                };
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&String::from_utf8_lossy(label));
            }
            out
        } else {
            String::from_utf8_lossy(name).into_owned()
        };
        Some((flags, text))
    }

    /// Findings: walks every option once.
    pub fn flags(&self) -> Flags {
        let mut f = Flags::default();
        let mut it = self.options();
        let mut has_type = false;
        for o in it.by_ref() {
            let fixed = match o.code {
                option::MESSAGE_TYPE | option::OVERLOAD => Some(1),
                option::SUBNET_MASK
                | option::REQUESTED_IP
                | option::LEASE_TIME
                | option::SERVER_ID => Some(4),
                _ => None,
            };
            if fixed.is_some_and(|n| n != o.value.len()) {
                f.0 |= Flags::BAD_OPTION_LENGTH;
            }
            has_type |= o.code == option::MESSAGE_TYPE;
        }
        f.0 |= it.flags.0;
        if self.options_area.is_some() && !has_type {
            f.0 |= Flags::MISSING_MESSAGE_TYPE;
        }
        if self.hlen > 16 {
            f.0 |= Flags::BAD_HLEN;
        }
        let from_server = matches!(
            self.message_type().map(|t| t.0),
            Some(2 | 5 | 6 | 9 | 11..=13 | 15 | 17)
        );
        let wrong_way = match self.op {
            Op::REQUEST => from_server,
            Op::REPLY => self
                .message_type()
                .is_some_and(|t| matches!(t.0, 1 | 3 | 4 | 7 | 8 | 10 | 14 | 16)),
            _ => true,
        };
        if wrong_way {
            f.0 |= Flags::OP_MISMATCH;
        }
        f
    }
}

/// The options of a message (see [`Message::options`]).
#[derive(Clone, Debug)]
pub struct Options<'a> {
    fields: [Option<&'a [u8]>; 3],
    field: usize,
    at: usize,
    overload: Option<u8>,
    file: &'a [u8],
    sname: &'a [u8],
    count: usize,
    /// What the walk found wrong so far.
    pub flags: Flags,
    ended: [bool; 3],
}

impl<'a> Iterator for Options<'a> {
    type Item = DhcpOption<'a>;

    fn next(&mut self) -> Option<DhcpOption<'a>> {
        loop {
            if self.field >= 3 {
                return None;
            }
            let Some(area) = self.fields[self.field] else {
                self.next_field();
                continue;
            };
            let Some(&code) = area.get(self.at) else {
                if !self.ended[self.field] && self.field == 0 {
                    self.flags.0 |= Flags::MISSING_END;
                }
                self.next_field();
                continue;
            };
            match code {
                option::PAD => self.at += 1,
                option::END => {
                    self.ended[self.field] = true;
                    self.next_field();
                }
                _ => {
                    let Some(&len) = area.get(self.at + 1) else {
                        self.flags.0 |= Flags::OPTION_OVERRUN;
                        self.next_field();
                        continue;
                    };
                    let start = self.at + 2;
                    let Some(value) = area.get(start..start + usize::from(len)) else {
                        self.flags.0 |= Flags::OPTION_OVERRUN;
                        self.next_field();
                        continue;
                    };
                    self.at = start + usize::from(len);
                    self.count += 1;
                    if self.count > MAX_OPTIONS {
                        self.flags.0 |= Flags::TOO_MANY_OPTIONS;
                        self.field = 3;
                        return None;
                    }
                    if code == option::OVERLOAD && self.field == 0 {
                        self.overload = value.first().copied();
                    }
                    return Some(DhcpOption { code, value });
                }
            }
        }
    }
}

impl Options<'_> {
    /// Moves on to the next field holding options: after the options
    /// area, `file` (overload 1 or 3), then `sname` (2 or 3).
    fn next_field(&mut self) {
        self.field += 1;
        self.at = 0;
        if self.field == 1 {
            let o = self.overload.unwrap_or(0);
            self.fields[1] = (o & 1 != 0).then_some(self.file);
            self.fields[2] = (o & 2 != 0).then_some(self.sname);
        }
    }
}

/// Content check on ports 67 and 68: a BOOTP header with a request or
/// reply op and a hardware address length that fits. DHCP is recognised
/// only on its ports (`strict` never matches).
pub fn probe(bytes: &[u8], strict: bool) -> Probe {
    if strict {
        return Probe::NoMatch;
    }
    match Message::parse(bytes) {
        Some(m) if matches!(m.op.0, 1 | 2) && m.hlen <= 16 => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// A parameter request list as the fingerprint string DHCP fingerprinting
/// uses: the codes in order, joined by commas (`1,3,6,15`).
pub fn fingerprint(list: &[u8]) -> String {
    let mut s = String::with_capacity(list.len() * 4);
    for (i, c) in list.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&c.to_string());
    }
    s
}

#[cfg(test)]
mod tests;
