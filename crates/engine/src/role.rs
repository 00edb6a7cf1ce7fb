//! Role inference from behaviour: who serves which protocol, who sends
//! programs and mode changes, who polls whom. Roles follow the vocabulary of
//! ISA-95 / IEC 62443 asset inventories, with a Purdue level estimate.

use plantshield_events::Operation;

use crate::inventory::Asset;

/// What a device does in the plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Not enough evidence.
    Unknown,
    /// Programmable logic controller: serves a field protocol.
    Plc,
    /// Remote terminal unit: a DNP3 outstation or IEC 104 controlled station.
    Rtu,
    /// Intelligent electronic device (protection relay, meter): IEC 61850.
    Ied,
    /// Human-machine interface: polls controllers and writes or commands.
    Hmi,
    /// Engineering workstation: downloads or uploads programs, changes modes or firmware.
    EngineeringWorkstation,
    /// Historian: polls controllers and serves a historian or database port.
    Historian,
    /// OPC server.
    OpcServer,
    /// A host without industrial protocols.
    ItHost,
    /// Router, gateway or other network equipment.
    NetworkGear,
}

impl Role {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Unknown => "unknown",
            Role::Plc => "plc",
            Role::Rtu => "rtu",
            Role::Ied => "ied",
            Role::Hmi => "hmi",
            Role::EngineeringWorkstation => "engineering_workstation",
            Role::Historian => "historian",
            Role::OpcServer => "opc_server",
            Role::ItHost => "it_host",
            Role::NetworkGear => "network_gear",
        }
    }

    /// Purdue model level: 1 basic control, 2 supervisory, 3 operations
    /// management, 4 enterprise.
    pub fn purdue_level(self) -> Option<u8> {
        match self {
            Role::Plc | Role::Rtu | Role::Ied => Some(1),
            Role::Hmi | Role::EngineeringWorkstation | Role::OpcServer => Some(2),
            Role::Historian => Some(3),
            Role::ItHost => Some(4),
            Role::Unknown | Role::NetworkGear => None,
        }
    }
}

/// Field protocols a controller serves.
const FIELD: &[&str] = &["modbus", "s7comm", "s7comm_plus", "enip", "fins", "bacnet"];
/// Telecontrol protocols an RTU serves.
const TELECONTROL: &[&str] = &["dnp3", "iec104"];
/// Substation protocols an IED serves (GOOSE and Sampled Values publishers).
const SUBSTATION: &[&str] = &["mms", "goose", "sv"];
/// Every industrial protocol (the others are IT protocols: DNS, HTTP, ...).
pub fn is_ics(p: &str) -> bool {
    FIELD.contains(&p) || TELECONTROL.contains(&p) || SUBSTATION.contains(&p) || p == "opcua"
}

/// Operations engineering tools send and operator stations do not:
/// programs, firmware, modes, and reading device identities. Not
/// configuration: SCADA masters set their stations' clocks (IEC 104
/// C_CS_NA_1, DNP3 record current time), which the protocols file under
/// configuration, as routinely as they poll.
const ENGINEERING: [Operation; 5] = [
    Operation::ProgramDownload,
    Operation::ProgramUpload,
    Operation::Firmware,
    Operation::ModeChange,
    Operation::Discovery,
];

/// Protocols whose discovery every participant sends in ordinary
/// operation, so it says nothing about an engineering tool: BACnet devices
/// broadcast Who-Is and Who-Has to find their peers, and every OPC UA client
/// asks for the server's endpoints before opening a session.
pub fn routine_discovery(protocol: &str) -> bool {
    matches!(protocol, "bacnet" | "opcua")
}

/// Operations of a kind sent that count as engineering evidence.
fn engineering(a: &Asset, op: Operation) -> u64 {
    let n = a.sent(op);
    if op == Operation::Discovery {
        n.saturating_sub(a.routine_discovery)
    } else {
        n
    }
}

/// TCP ports of historian and database servers (OSIsoft PI, MS SQL,
/// PostgreSQL, MySQL, InfluxDB).
const HISTORIAN_PORTS: &[u16] = &[5450, 1433, 5432, 3306, 8086];

/// The role the evidence supports, strongest evidence first.
pub fn infer(a: &Asset) -> Role {
    if a.forwarded > 0 || a.serves("stp") > 0 {
        return Role::NetworkGear;
    }
    if ENGINEERING.iter().any(|op| engineering(a, *op) > 0) {
        return Role::EngineeringWorkstation;
    }
    let serves = |set: &[&str]| a.served.iter().any(|(p, _)| set.contains(p));
    if serves(TELECONTROL) {
        return Role::Rtu;
    }
    if serves(SUBSTATION) {
        return Role::Ied;
    }
    if serves(FIELD) {
        return Role::Plc;
    }
    if a.serves("opcua") > 0 {
        return Role::OpcServer;
    }
    if a.used.iter().any(|(p, _)| is_ics(p)) {
        // Polling alone does not tell an operator station from a
        // historian; serving a historian or database port does.
        return if a.serves_historian_port {
            Role::Historian
        } else {
            Role::Hmi
        };
    }
    if a.it_flows > 0 {
        return Role::ItHost;
    }
    Role::Unknown
}

/// Why the asset has its role, in sentences.
pub fn reasons(a: &Asset) -> Vec<String> {
    let mut r = Vec::new();
    let list = |v: &[(&'static str, u64)], pred: &dyn Fn(&str) -> bool| {
        v.iter()
            .filter(|(p, _)| pred(p))
            .map(|(p, n)| format!("{p} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match a.role {
        Role::NetworkGear => r.push(format!(
            "forwards traffic of {} hosts behind it",
            a.forwarded
        )),
        Role::EngineeringWorkstation => {
            for op in ENGINEERING {
                let n = engineering(a, op);
                if n > 0 {
                    r.push(format!("sent {n} {} operations", op.name()));
                }
            }
        }
        Role::Plc | Role::Rtu | Role::Ied | Role::OpcServer => {
            r.push(format!("serves {}", list(&a.served, &is_ics)));
        }
        Role::Hmi | Role::Historian => {
            r.push(format!(
                "polls {} devices with {}",
                a.servers_polled,
                list(&a.used, &is_ics)
            ));
            let w = a.sent(Operation::Write) + a.sent(Operation::Command);
            if w > 0 {
                r.push(format!("sent {w} writes and commands"));
            }
            if a.role == Role::Historian {
                r.push("serves a historian or database port".to_string());
            }
        }
        Role::ItHost => r.push(format!("{} flows, no industrial protocol", a.it_flows)),
        Role::Unknown => r.push("not enough traffic to tell".to_string()),
    }
    r
}

/// True for a TCP port historians and databases listen on.
pub fn is_historian_port(port: u16) -> bool {
    HISTORIAN_PORTS.contains(&port)
}
