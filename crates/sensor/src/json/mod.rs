//! JSON Lines serialisation of events (the EVE-style contract in
//! `docs/events.md`), and a counting sink for runs that keep no events.
//!
//! The envelope, `ics`, `flow`, `anomaly` and `stats` objects are written
//! here; each protocol's own object is written by its submodule.

mod bacnet;
mod dhcp;
mod dnp3;
mod dns;
mod enip;
mod http;
mod iec104;
mod modbus;
mod opcua;
mod profinet_dcp;
mod s7comm;

use std::io::{self, Write};

use plantshield_events::{JsonWriter, Status};

use crate::event::{AnomalyEvent, Envelope, Event, EventSink, FlowEvent, IcsSummary};
use crate::Stats;

/// Buffered bytes before a write to the output.
const FLUSH_AT: usize = 256 * 1024;

/// Writes every event as one JSON line.
pub struct JsonSink<W: Write> {
    out: W,
    w: JsonWriter,
    sensor: String,
    max_values: usize,
    /// Events written, by type.
    pub counts: EventCounts,
    error: Option<io::Error>,
}

/// Events seen, by type.
#[derive(Clone, Copy, Debug, Default)]
pub struct EventCounts {
    /// ICS transaction events.
    pub transactions: u64,
    /// Flow records.
    pub flows: u64,
    /// Anomalies.
    pub anomalies: u64,
    /// Stats records.
    pub stats: u64,
    /// Other records: per-connection protocol records, assets, alerts.
    pub other: u64,
}

impl EventCounts {
    fn count(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Flow(_) => self.flows += 1,
            Event::Anomaly(_) => self.anomalies += 1,
            Event::Stats(_) => self.stats += 1,
            // Protocol records that are not transactions (an IEC 104 link
            // record), assets and alerts.
            e if e.ics().is_none() => self.other += 1,
            _ => self.transactions += 1,
        }
    }

    /// All events.
    pub fn total(&self) -> u64 {
        self.transactions + self.flows + self.anomalies + self.stats + self.other
    }
}

/// Counts events without keeping them.
#[derive(Default)]
pub struct CountSink {
    /// Events seen, by type.
    pub counts: EventCounts,
}

impl EventSink for CountSink {
    fn event(&mut self, _env: &Envelope, ev: &Event<'_>) {
        self.counts.count(ev);
    }
}

impl<W: Write> JsonSink<W> {
    /// A sink writing to `out`; `max_values` bounds the register and coil
    /// values written per transaction.
    pub fn new(out: W, sensor: &str, max_values: usize) -> Self {
        JsonSink {
            out,
            w: JsonWriter::new(),
            sensor: sensor.to_string(),
            max_values,
            counts: EventCounts::default(),
            error: None,
        }
    }

    /// Writes what is buffered and returns the first write error, if any.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush_buf();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }

    fn flush_buf(&mut self) {
        if self.error.is_none() && !self.w.is_empty() {
            if let Err(e) = self.out.write_all(self.w.as_bytes()) {
                self.error = Some(e);
            }
        }
        self.w.clear();
    }
}

impl<W: Write> EventSink for JsonSink<W> {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.counts.count(ev);
        write_event(&mut self.w, &self.sensor, self.max_values, env, ev);
        if self.w.len() >= FLUSH_AT {
            self.flush_buf();
        }
    }
}

/// IANA protocol keyword as Suricata writes it.
fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        58 => "IPv6-ICMP",
        132 => "SCTP",
        _ => return None,
    })
}

/// Serialises one event (with its trailing newline) into `w`.
pub fn write_event(
    w: &mut JsonWriter,
    sensor: &str,
    max_values: usize,
    env: &Envelope,
    ev: &Event<'_>,
) {
    w.begin_object();
    w.time_field("timestamp", env.ts_ns);
    if let Some(id) = env.flow_id {
        w.u64_field("flow_id", id);
    }
    w.str_field("event_type", ev.event_type());
    if let Some((ip, port)) = env.src {
        w.ip_field("src_ip", ip);
        if env.proto.is_some() {
            w.u64_field("src_port", u64::from(port));
        }
    }
    if let Some((ip, port)) = env.dst {
        w.ip_field("dest_ip", ip);
        if env.proto.is_some() {
            w.u64_field("dest_port", u64::from(port));
        }
    }
    if let Some(p) = env.proto {
        match proto_name(p) {
            Some(n) => w.str_field("proto", n),
            None => w.str_field("proto", itoa::Buffer::new().format(p)),
        }
    }
    if let Some(a) = env.app_proto {
        w.str_field("app_proto", a);
    }
    if env.vlan != 0 {
        w.begin_array_field("vlan");
        if env.vlan < 4096 {
            w.u64_value(u64::from(env.vlan));
        } else {
            w.u64_value(u64::from(env.vlan >> 12));
            w.u64_value(u64::from(env.vlan & 0xfff));
        }
        w.end_array();
    }
    w.str_field("sensor", sensor);
    match ev {
        Event::Modbus(m) => modbus::write(w, m, max_values),
        Event::Dnp3(d) => dnp3::write(w, d, max_values),
        Event::Enip(e) => enip::write(w, e, max_values),
        Event::Iec104(e) => iec104::write(w, e, max_values),
        Event::S7comm(e) => s7comm::write(w, e, max_values),
        Event::S7commPlus(e) => s7comm::write_plus(w, e, max_values),
        Event::Bacnet(e) => bacnet::write(w, e, max_values),
        Event::Opcua(e) => opcua::write(w, e, max_values),
        Event::ProfinetDcp(e) => profinet_dcp::write(w, e, max_values),
        Event::Dns(e) => dns::write(w, e, max_values),
        Event::Netbios(e) => dns::write_netbios(w, e, max_values),
        Event::Dhcp(e) => dhcp::write(w, e, max_values),
        Event::Http(e) => http::write(w, e),
        Event::Flow(f) => flow(w, f),
        Event::Anomaly(a) => anomaly(w, a),
        Event::Stats(s) => stats(w, s),
        Event::Ext(e) => e.write_json(w),
    }
    if let Some(s) = ev.ics() {
        ics(w, ev.event_type(), s);
    }
    w.end_object();
    w.newline();
}

fn ics(w: &mut JsonWriter, protocol: &str, s: &IcsSummary) {
    w.begin_object_field("ics");
    w.str_field("protocol", protocol);
    w.u64_field("function_code", u64::from(s.function_code));
    w.str_field("function", s.function);
    w.str_field("operation", s.operation.name());
    w.str_field("status", s.status.name());
    if let Some(c) = s.exception_code {
        w.u64_field("exception_code", u64::from(c));
    }
    w.end_object();
}

fn flow(w: &mut JsonWriter, f: &FlowEvent) {
    w.begin_object_field("flow");
    w.u64_field("pkts_toserver", f.pkts_toserver);
    w.u64_field("pkts_toclient", f.pkts_toclient);
    w.u64_field("bytes_toserver", f.bytes_toserver);
    w.u64_field("bytes_toclient", f.bytes_toclient);
    w.time_field("start", f.start_ns);
    w.time_field("end", f.end_ns);
    w.u64_field(
        "age",
        ((f.end_ns - f.start_ns).max(0) / 1_000_000_000) as u64,
    );
    w.str_field("state", f.state);
    w.str_field("reason", f.reason);
    w.bool_field("midstream", f.midstream);
    w.u64_field("gaps", u64::from(f.gaps));
    w.u64_field("gap_bytes", f.gap_bytes);
    w.u64_field("transactions", f.transactions);
    w.u64_field("anomalies", u64::from(f.anomalies));
    if let Some(m) = f.src_mac {
        w.mac_field("src_mac", m.0);
    }
    if let Some(m) = f.dest_mac {
        w.mac_field("dest_mac", m.0);
    }
    w.end_object();
}

fn anomaly(w: &mut JsonWriter, a: &AnomalyEvent<'_>) {
    w.begin_object_field("anomaly");
    w.str_field("type", a.kind.name());
    w.str_field("layer", a.layer);
    w.str_field("event", a.code);
    w.str_field("message", &a.message);
    w.end_object();
}

fn stats(w: &mut JsonWriter, s: &Stats) {
    w.begin_object_field("stats");
    w.u64_field("packets", s.packets);
    w.u64_field("bytes", s.bytes);
    w.u64_field("ipv4", s.ipv4);
    w.u64_field("ipv6", s.ipv6);
    w.u64_field("arp", s.arp);
    w.u64_field("other_ethertype", s.other_ethertype);
    w.u64_field("unsupported_link", s.unsupported_link);
    w.u64_field("tcp", s.tcp);
    w.u64_field("udp", s.udp);
    w.u64_field("icmp", s.icmp);
    w.u64_field("fragments", s.fragments);
    w.u64_field("reassembled", s.reassembled);
    w.u64_field("flows", s.flows);
    w.u64_field("flows_evicted", s.flows_evicted);
    w.begin_object_field("anomalies");
    let mut key = String::new();
    for ((layer, code), n) in &s.anomalies {
        key.clear();
        key.push_str(layer);
        key.push('.');
        key.push_str(code);
        w.u64_field(&key, *n);
    }
    w.end_object();
    w.u64_field("anomalies_suppressed", s.anomalies_suppressed);
    w.begin_object_field("transactions");
    for p in &s.protocols {
        w.begin_object_field(p.protocol);
        w.u64_field("total", p.transactions);
        w.begin_object_field("by_status");
        for st in [
            Status::Ok,
            Status::Exception,
            Status::NoResponse,
            Status::Malformed,
        ] {
            w.u64_field(st.name(), p.by_status[st as usize]);
        }
        w.end_object();
        // Keyed "code:name" (a code can carry two meanings, e.g. CIP
        // class-specific services).
        w.begin_object_field("by_function");
        let mut key = String::new();
        for ((code, name), n) in &p.by_function {
            key.clear();
            key.push_str(itoa::Buffer::new().format(*code));
            key.push(':');
            key.push_str(name);
            w.u64_field(&key, *n);
        }
        w.end_object();
        w.end_object();
    }
    w.end_object();
    w.end_object();
}

/// Writes up to `max` values of an array field; remembers whether some
/// were left out (the protocol object then says `values_truncated`).
pub(crate) struct Bounded {
    pub max: usize,
    pub truncated: bool,
}

impl Bounded {
    pub fn new(max: usize) -> Self {
        Bounded {
            max,
            truncated: false,
        }
    }

    /// Big-endian 16-bit registers.
    pub fn registers(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8]) {
        w.begin_array_field(key);
        let n = bytes.len() / 2;
        for r in bytes.chunks_exact(2).take(self.max) {
            w.u64_value(u64::from(u16::from_be_bytes([r[0], r[1]])));
        }
        w.end_array();
        self.truncated |= n > self.max;
    }

    /// `count` bits, least significant bit of each byte first.
    pub fn bits(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8], count: usize) {
        w.begin_array_field(key);
        let count = count.min(bytes.len() * 8);
        for i in 0..count.min(self.max) {
            w.u64_value(u64::from((bytes[i / 8] >> (i % 8)) & 1));
        }
        w.end_array();
        self.truncated |= count > self.max;
    }

    /// Raw bytes as hex, at most `2 * max` bytes.
    pub fn hex(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8]) {
        let cap = self.max * 2;
        w.hex_field(key, &bytes[..bytes.len().min(cap)]);
        self.truncated |= bytes.len() > cap;
    }
}
