//! DHCP sessions (UDP ports 67 and 68): one event per message.
//!
//! The steps of one exchange travel on different flows: a client without
//! an address sends DISCOVER and REQUEST from 0.0.0.0:68 to
//! 255.255.255.255:67, the server answers from its address to the
//! broadcast address or to the offered one, and relay agents talk 67 to 67.
//! A per-flow session cannot pair them, so each message is an event of its
//! own; the transaction id (`xid`) ties an exchange together downstream.
//! Nothing is kept between datagrams.

use std::borrow::Cow;

use plantshield_protocols::dhcp::{self, Flags, Message};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, DhcpEvent, Event};

pub(crate) const DETECTOR: Detector = Detector {
    name: "dhcp",
    tcp_ports: &[],
    udp_ports: &[dhcp::SERVER_PORT, dhcp::CLIENT_PORT],
    probe: dhcp::probe,
    new: |_request_dir| Box::new(DhcpSession),
};

/// A DHCP flow: stateless.
pub(crate) struct DhcpSession;

impl Session for DhcpSession {
    fn data(&mut self, _dir: usize, _bytes: &[u8], _out: &mut Out<'_>) {}

    fn gap(&mut self, _dir: usize, _len: u64) {}

    fn datagram(&mut self, _dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        let Some(m) = Message::parse(bytes) else {
            out.anomaly(
                AnomalyKind::Applayer,
                "dhcp",
                "malformed_message",
                Cow::Owned(format!(
                    "a datagram of {} octets on a DHCP port is shorter than the 236-octet BOOTP header",
                    bytes.len()
                )),
            );
            return;
        };
        let flags = m.flags();
        if flags.0 & (Flags::OPTION_OVERRUN | Flags::TOO_MANY_OPTIONS) != 0 {
            out.anomaly(
                AnomalyKind::Applayer,
                "dhcp",
                "malformed_options",
                Cow::Owned(format!(
                    "DHCP message xid {:#010x}: {}; the options after it were not read",
                    m.xid,
                    if flags.0 & Flags::OPTION_OVERRUN != 0 {
                        "an option runs past the end of the message"
                    } else {
                        "too many options"
                    }
                )),
            );
        }
        let ev = DhcpEvent { message: m, flags };
        out.transaction(out.ts, &Event::Dhcp(&ev));
    }

    fn finish(&mut self, _out: &mut Out<'_>) {}
}
