//! NetBIOS name service over UDP port 137 (RFC 1001 §15, RFC 1002 §4.2):
//! name queries, registrations, releases, refreshes and node status.
//!
//! The packets are DNS messages (RFC 1002 §4.2.1 takes RFC 1035's format)
//! with their own header bits, opcodes and record types, so they are read
//! with [`crate::dns::Message`]; this module adds what NetBIOS defines on
//! top: the first-level encoding of names (§4.1), the NB and NBSTAT
//! resource data (§4.2.1.3, §4.2.18), and the codes' names.

use std::net::Ipv4Addr;

use crate::cursor::Cursor;
use crate::dns::{Header, Message, Name, Record, Section};
pub use crate::Probe;

/// UDP port of the name service (RFC 1002 §4.2.1).
pub const PORT: u16 = 137;
/// Length of a NetBIOS name: 15 characters and the suffix octet (RFC 1001 §14.1).
pub const NAME_LEN: usize = 16;
/// Length of an encoded name's first label (RFC 1001 §14.1).
pub const ENCODED_LEN: usize = 32;

/// Header bits of a name service packet (RFC 1002 §4.2.1.1).
pub trait NbHeader {
    /// The operation.
    fn nb_opcode(&self) -> Opcode;
    /// B: sent as a broadcast.
    fn broadcast(&self) -> bool;
    /// The response code.
    fn nb_rcode(&self) -> Rcode;
}

impl NbHeader for Header {
    fn nb_opcode(&self) -> Opcode {
        Opcode(((self.flags >> 11) & 0xf) as u8)
    }

    fn broadcast(&self) -> bool {
        self.flags & 0x0010 != 0
    }

    fn nb_rcode(&self) -> Rcode {
        Rcode((self.flags & 0xf) as u8)
    }
}

/// The operation (RFC 1002 §4.2.1.1; 9 and 15 are Microsoft's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    /// Name query (and node status).
    pub const QUERY: Opcode = Opcode(0);
    /// Name registration.
    pub const REGISTRATION: Opcode = Opcode(5);
    /// Name release.
    pub const RELEASE: Opcode = Opcode(6);
    /// Wait for acknowledgement.
    pub const WACK: Opcode = Opcode(7);
    /// Name refresh.
    pub const REFRESH: Opcode = Opcode(8);
    /// Name refresh, the code Windows sends.
    pub const REFRESH_ALT: Opcode = Opcode(9);
    /// Multi-homed name registration (Windows).
    pub const MULTIHOMED_REGISTRATION: Opcode = Opcode(15);

    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "query",
            5 => "registration",
            6 => "release",
            7 => "wack",
            8 => "refresh",
            9 => "refresh_alt",
            15 => "multihomed_registration",
            _ => "unknown",
        }
    }

    /// A host claiming its own names: registration, refresh.
    pub fn is_registration(self) -> bool {
        matches!(self.0, 5 | 8 | 9 | 15)
    }
}

/// Response code (RFC 1002 §4.2.6 and the following sections).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rcode(pub u8);

impl Rcode {
    /// snake_case name (RFC 1002's FMT_ERR, SRV_ERR, NAM_ERR, IMP_ERR,
    /// RFS_ERR, ACT_ERR, CFT_ERR).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "noerror",
            1 => "format_error",
            2 => "server_failure",
            3 => "name_error",
            4 => "unsupported",
            5 => "refused",
            6 => "active",
            7 => "conflict",
            _ => "unknown",
        }
    }
}

/// Record types (RFC 1002 §4.2.1.2).
pub mod rr_type {
    use crate::dns::RrType;
    /// IP address (RFC 1002 names it, never used on the wire).
    pub const A: RrType = RrType(0x0001);
    /// Name server (redirects).
    pub const NS: RrType = RrType(0x0002);
    /// NULL (WACK and negative responses).
    pub const NULL: RrType = RrType(0x000a);
    /// NetBIOS general name service resource record.
    pub const NB: RrType = RrType(0x0020);
    /// NetBIOS node status resource record.
    pub const NBSTAT: RrType = RrType(0x0021);

    /// The name RFC 1002 gives the type.
    pub fn name(t: RrType) -> &'static str {
        match t.0 {
            0x0001 => "A",
            0x0002 => "NS",
            0x000a => "NULL",
            0x0020 => "NB",
            0x0021 => "NBSTAT",
            _ => "unknown",
        }
    }
}

/// A decoded NetBIOS name: 15 characters padded with spaces, and the
/// suffix octet that says which service registered it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NbName {
    /// The 16 octets.
    pub raw: [u8; NAME_LEN],
}

impl NbName {
    /// Decodes the first label of a name (RFC 1001 §14.1: each half-octet
    /// plus `A`). `None` when it is not 32 characters from `A` to `P`.
    pub fn decode(name: &Name<'_>) -> Option<NbName> {
        let label = name.labels().next()?;
        let enc: &[u8; ENCODED_LEN] = label.try_into().ok()?;
        let mut raw = [0u8; NAME_LEN];
        for (i, pair) in enc.chunks_exact(2).enumerate() {
            let hi = pair[0].to_ascii_uppercase().wrapping_sub(b'A');
            let lo = pair[1].to_ascii_uppercase().wrapping_sub(b'A');
            if hi > 15 || lo > 15 {
                return None;
            }
            raw[i] = hi << 4 | lo;
        }
        Some(NbName { raw })
    }

    /// A name as carried in a node status response (16 octets, not encoded).
    pub fn from_raw(raw: [u8; NAME_LEN]) -> Self {
        NbName { raw }
    }

    /// The name without its padding (trailing spaces, and the NULs of the
    /// `*` wildcard).
    pub fn name(&self) -> &[u8] {
        let n = &self.raw[..NAME_LEN - 1];
        let end = n
            .iter()
            .rposition(|&c| c != b' ' && c != 0)
            .map_or(0, |i| i + 1);
        &n[..end]
    }

    /// The suffix (16th octet).
    pub fn suffix(&self) -> u8 {
        self.raw[NAME_LEN - 1]
    }

    /// The name as text: printable ASCII kept, other octets as `\xHH`.
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(NAME_LEN);
        for &c in self.name() {
            if (0x20..0x7f).contains(&c) && c != b'\\' {
                s.push(char::from(c));
            } else {
                s.push_str(&format!("\\x{c:02x}"));
            }
        }
        s
    }
}

/// The conventional meaning of a suffix (Microsoft's table of NetBIOS
/// suffixes; RFC 1001 leaves the 16th octet to applications). A group
/// name with suffix 0x00 is a workgroup or domain name.
pub fn suffix_name(suffix: u8) -> &'static str {
    match suffix {
        0x00 => "workstation",
        0x01 => "msbrowse",
        0x03 => "messenger",
        0x06 => "ras_server",
        0x1b => "domain_master_browser",
        0x1c => "domain_controllers",
        0x1d => "master_browser",
        0x1e => "browser_election",
        0x1f => "netdde",
        0x20 => "file_server",
        0x21 => "ras_client",
        0xbe => "network_monitor_agent",
        0xbf => "network_monitor_application",
        _ => "unknown",
    }
}

/// What a name says about its owner, for an inventory: the host's own
/// name (unique, suffix 0x00 or 0x20), or the workgroup or domain it
/// belongs to (a group 0x00, 0x1C or 0x1E name; a unique 0x1B or 0x1D name,
/// which the master browser of that workgroup registers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRole {
    /// The computer name.
    Host,
    /// The workgroup or domain name.
    Domain,
    /// Neither (messenger names carry user names; services).
    Other,
}

/// The role of `name` registered as unique (`group` false) or group.
pub fn name_role(name: &NbName, group: bool) -> NameRole {
    if name.name().is_empty() || name.raw[0] == b'*' || name.raw[0] < 0x20 {
        return NameRole::Other;
    }
    match (name.suffix(), group) {
        (0x00 | 0x20, false) => NameRole::Host,
        (0x00 | 0x1c | 0x1e, true) | (0x1b | 0x1d, false) => NameRole::Domain,
        _ => NameRole::Other,
    }
}

/// One entry of NB resource data (RFC 1002 §4.2.1.3, NB_FLAGS and NB_ADDRESS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NbAddress {
    /// G: a group name.
    pub group: bool,
    /// ONT: owner node type.
    pub node_type: NodeType,
    /// The owner's address.
    pub address: Ipv4Addr,
}

/// Owner node type (RFC 1002 §4.2.1.3; 3 is Microsoft's hybrid node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeType(pub u8);

impl NodeType {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "b_node",
            1 => "p_node",
            2 => "m_node",
            _ => "h_node",
        }
    }
}

/// The entries of NB resource data; a partial entry at the end is ignored
/// ([`nb_length_ok`] says whether there is one).
pub fn nb_addresses(rdata: &[u8]) -> impl Iterator<Item = NbAddress> + '_ {
    rdata.chunks_exact(6).map(|e| {
        let flags = u16::from_be_bytes([e[0], e[1]]);
        NbAddress {
            group: flags & 0x8000 != 0,
            node_type: NodeType(((flags >> 13) & 3) as u8),
            address: Ipv4Addr::new(e[2], e[3], e[4], e[5]),
        }
    })
}

/// NB resource data is a whole number of 6-octet entries.
pub fn nb_length_ok(rdata: &[u8]) -> bool {
    rdata.len() % 6 == 0
}

/// One name of a node status response (RFC 1002 §4.2.18, NODE_NAME entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeName {
    /// The name (not encoded).
    pub name: NbName,
    /// NAME_FLAGS: G, ONT, DRG, CNF, ACT, PRM.
    pub flags: u16,
}

impl NodeName {
    /// G: a group name.
    pub fn group(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// ONT: owner node type.
    pub fn node_type(&self) -> NodeType {
        NodeType(((self.flags >> 13) & 3) as u8)
    }
    /// DRG: being deregistered.
    pub fn deregistering(&self) -> bool {
        self.flags & 0x1000 != 0
    }
    /// CNF: in conflict.
    pub fn conflict(&self) -> bool {
        self.flags & 0x0800 != 0
    }
    /// ACT: active.
    pub fn active(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// PRM: the permanent node name.
    pub fn permanent(&self) -> bool {
        self.flags & 0x0200 != 0
    }
}

/// NBSTAT resource data (RFC 1002 §4.2.18): the node's name table and
/// statistics.
#[derive(Clone, Copy, Debug)]
pub struct NodeStatus<'a> {
    /// NUM_NAMES as sent.
    pub num_names: u8,
    names: &'a [u8],
    /// The statistics after the names (UNIT_ID first).
    pub statistics: &'a [u8],
    /// The data ends before NUM_NAMES entries.
    pub truncated: bool,
}

impl<'a> NodeStatus<'a> {
    /// Reads NBSTAT resource data.
    pub fn parse(rdata: &'a [u8]) -> NodeStatus<'a> {
        let mut c = Cursor::new(rdata);
        let num_names = c.u8().unwrap_or(0);
        let want = usize::from(num_names) * 18;
        let have = c.remaining().min(want) / 18 * 18;
        let names = c.bytes(have).unwrap_or_default();
        let truncated = have < want || rdata.is_empty();
        NodeStatus {
            num_names,
            names,
            // What follows a partial name is not the statistics.
            statistics: if truncated { &[] } else { c.take_rest() },
            truncated,
        }
    }

    /// The names present.
    pub fn names(&self) -> impl Iterator<Item = NodeName> + 'a {
        self.names.chunks_exact(18).map(|e| {
            let mut raw = [0u8; NAME_LEN];
            raw.copy_from_slice(&e[..NAME_LEN]);
            NodeName {
                name: NbName { raw },
                flags: u16::from_be_bytes([e[16], e[17]]),
            }
        })
    }

    /// UNIT_ID: the node's MAC address (all zeros on some stacks).
    pub fn unit_id(&self) -> Option<[u8; 6]> {
        self.statistics.get(..6)?.try_into().ok()
    }
}

/// Findings of a NetBIOS packet, beyond the DNS format's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u16);

crate::flag_set!(Flags, u16);

impl Flags {
    /// A name is not a first-level encoded NetBIOS name.
    pub const BAD_ENCODING: u16 = 1 << 0;
    /// NB data is not a whole number of entries.
    pub const NB_LENGTH: u16 = 1 << 1;
    /// NBSTAT data ends before its names.
    pub const NBSTAT_TRUNCATED: u16 = 1 << 2;
    /// An opcode RFC 1002 and Windows do not define.
    pub const UNKNOWN_OPCODE: u16 = 1 << 3;

    const NAMES: [(u16, &'static str); 4] = [
        (Self::BAD_ENCODING, "bad_encoding"),
        (Self::NB_LENGTH, "nb_length"),
        (Self::NBSTAT_TRUNCATED, "nbstat_truncated"),
        (Self::UNKNOWN_OPCODE, "unknown_opcode"),
    ];
}

/// Every record of the three record sections, in order.
pub fn records<'a>(m: &Message<'a>) -> impl Iterator<Item = (Section, Record<'a>)> + 'a {
    let an = m.records(Section::Answer).map(|r| (Section::Answer, r));
    let ns = m
        .records(Section::Authority)
        .map(|r| (Section::Authority, r));
    let ar = m
        .records(Section::Additional)
        .map(|r| (Section::Additional, r));
    an.chain(ns).chain(ar)
}

/// Checks a packet's NetBIOS parts.
pub fn check(m: &Message<'_>) -> Flags {
    let mut f = Flags::default();
    if m.header.nb_opcode().name() == "unknown" {
        f.0 |= Flags::UNKNOWN_OPCODE;
    }
    for q in m.questions() {
        if NbName::decode(&q.name).is_none() {
            f.0 |= Flags::BAD_ENCODING;
        }
    }
    for (_, r) in records(m) {
        // NULL records of WACK and NS redirects name what they like.
        if matches!(r.rtype, rr_type::NB | rr_type::NBSTAT) && NbName::decode(&r.name).is_none() {
            f.0 |= Flags::BAD_ENCODING;
        }
        match r.rtype {
            rr_type::NB if !nb_length_ok(r.rdata) => f.0 |= Flags::NB_LENGTH,
            rr_type::NBSTAT if NodeStatus::parse(r.rdata).truncated => {
                f.0 |= Flags::NBSTAT_TRUNCATED
            }
            _ => {}
        }
    }
    f
}

/// Content check on port 137: a header with a NetBIOS opcode and at most
/// one question. NetBIOS is recognised only on its port (`strict` never
/// matches).
pub fn probe(bytes: &[u8], strict: bool) -> Probe {
    if strict {
        return Probe::NoMatch;
    }
    let Some(h) = Header::parse(bytes) else {
        return Probe::NoMatch;
    };
    let known = h.nb_opcode().name() != "unknown";
    let small = h.qdcount <= 1 && h.ancount <= 16 && h.nscount <= 16 && h.arcount <= 16;
    if known && small {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests;
