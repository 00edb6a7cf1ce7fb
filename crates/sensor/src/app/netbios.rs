//! NetBIOS name service sessions (UDP port 137): the DNS session's pairing
//! over NetBIOS packets (see [`super::dns`]).

use plantshield_protocols::netbios;

use super::dns::{Kind, NameSession};
use super::Detector;

pub(crate) const DETECTOR: Detector = Detector {
    name: "netbios",
    tcp_ports: &[],
    udp_ports: &[netbios::PORT],
    probe: netbios::probe,
    new: |_request_dir| Box::new(NameSession::new(Kind::Netbios)),
};
