//! Frame crafting: the inverse of decoding, for tests, fuzz seeds and
//! benchmark captures. Checksums are left zero (the decoder ignores them).

use std::net::IpAddr;

use crate::link::MacAddr;

/// Endpoints and link details of a crafted frame.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    /// Source MAC.
    pub src_mac: MacAddr,
    /// Destination MAC.
    pub dst_mac: MacAddr,
    /// Source IP (v4 or v6; both must be the same family).
    pub src_ip: IpAddr,
    /// Destination IP.
    pub dst_ip: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
}

impl Endpoints {
    /// The client 10.0.0.1 (MAC 02:00:00:00:00:01) talking to the server
    /// 10.0.0.2 (02:00:00:00:00:02), untagged: the pair most crafted
    /// traffic needs.
    pub fn local(src_port: u16, dst_port: u16) -> Endpoints {
        Endpoints {
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            src_ip: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
            dst_ip: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)),
            src_port,
            dst_port,
            vlan: None,
        }
    }

    /// The same endpoints seen from the other side.
    pub fn reversed(&self) -> Endpoints {
        Endpoints {
            src_mac: self.dst_mac,
            dst_mac: self.src_mac,
            src_ip: self.dst_ip,
            dst_ip: self.src_ip,
            src_port: self.dst_port,
            dst_port: self.src_port,
            vlan: self.vlan,
        }
    }
}

/// Appends an Ethernet header (with an optional VLAN tag) for `ethertype`.
pub fn ethernet(out: &mut Vec<u8>, src: MacAddr, dst: MacAddr, vlan: Option<u16>, ethertype: u16) {
    out.extend_from_slice(&dst.0);
    out.extend_from_slice(&src.0);
    if let Some(v) = vlan {
        out.extend_from_slice(&0x8100u16.to_be_bytes());
        out.extend_from_slice(&(v & 0x0fff).to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// Appends an IP header for a payload of `payload_len` bytes.
pub fn ip_header(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload_len: usize,
    id: u16,
) {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + payload_len) as u16;
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&[0x40, 0, 64, protocol, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&(payload_len as u16).to_be_bytes());
            out.extend_from_slice(&[protocol, 64]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        _ => panic!("crafting needs both addresses of one family"),
    }
}

/// A complete Ethernet/IP/TCP frame.
pub fn tcp_frame(ep: &Endpoints, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 + 40 + 20 + payload.len());
    tcp_frame_into(&mut f, ep, seq, ack, flags, payload);
    f
}

/// Like [`tcp_frame`], into a reused buffer (cleared first).
pub fn tcp_frame_into(
    f: &mut Vec<u8>,
    ep: &Endpoints,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) {
    f.clear();
    let et = if ep.src_ip.is_ipv4() { 0x0800 } else { 0x86dd };
    ethernet(f, ep.src_mac, ep.dst_mac, ep.vlan, et);
    ip_header(f, ep.src_ip, ep.dst_ip, 6, 20 + payload.len(), 0);
    f.extend_from_slice(&ep.src_port.to_be_bytes());
    f.extend_from_slice(&ep.dst_port.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags]);
    f.extend_from_slice(&64240u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
}

/// A complete Ethernet/IP/UDP frame.
pub fn udp_frame(ep: &Endpoints, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 + 40 + 8 + payload.len());
    let et = if ep.src_ip.is_ipv4() { 0x0800 } else { 0x86dd };
    ethernet(&mut f, ep.src_mac, ep.dst_mac, ep.vlan, et);
    ip_header(&mut f, ep.src_ip, ep.dst_ip, 17, 8 + payload.len(), 0);
    f.extend_from_slice(&ep.src_port.to_be_bytes());
    f.extend_from_slice(&ep.dst_port.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Splits an IPv4 payload into Ethernet/IPv4 fragments of at most `chunk`
/// bytes (rounded down to a multiple of 8).
pub fn ipv4_fragments(
    ep: &Endpoints,
    protocol: u8,
    id: u16,
    payload: &[u8],
    chunk: usize,
) -> Vec<Vec<u8>> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ep.src_ip, ep.dst_ip) else {
        panic!("ipv4_fragments needs IPv4 endpoints");
    };
    let chunk = (chunk / 8).max(1) * 8;
    let mut out = Vec::new();
    let mut off = 0;
    while off < payload.len() || out.is_empty() {
        let end = (off + chunk).min(payload.len());
        let more = end < payload.len();
        let mut f = Vec::new();
        ethernet(&mut f, ep.src_mac, ep.dst_mac, ep.vlan, 0x0800);
        let total = (20 + end - off) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        let fo = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        f.extend_from_slice(&fo.to_be_bytes());
        f.extend_from_slice(&[64, protocol, 0, 0]);
        f.extend_from_slice(&s.octets());
        f.extend_from_slice(&d.octets());
        f.extend_from_slice(&payload[off..end]);
        out.push(f);
        off = end;
        if !more {
            break;
        }
    }
    out
}

/// A TCP header plus payload (no IP), for building fragmented segments.
pub fn tcp_bytes(
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(20 + payload.len());
    f.extend_from_slice(&src_port.to_be_bytes());
    f.extend_from_slice(&dst_port.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags]);
    f.extend_from_slice(&64240u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}
