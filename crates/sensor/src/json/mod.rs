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
use std::net::IpAddr;

use plantshield_events::{JsonWriter, Status};

use crate::event::{AnomalyEvent, Envelope, Event, EventSink, FlowEvent, IcsSummary};
use crate::Stats;

/// Buffered bytes before a write to the output.
const FLUSH_AT: usize = 256 * 1024;

/// Writes every event as one JSON line.
pub struct JsonSink<W: Write> {
    out: W,
    w: JsonWriter,
    /// `,"sensor":"<name>"`, escaped once.
    sensor: Vec<u8>,
    max_values: usize,
    envelopes: EnvelopeCache,
    ics: IcsCache,
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
        let mut member = JsonWriter::new();
        member.str_field("sensor", sensor);
        JsonSink {
            out,
            w: JsonWriter::new(),
            sensor: [b",", member.as_bytes()].concat(),
            max_values,
            envelopes: EnvelopeCache::default(),
            ics: IcsCache::default(),
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
        self.write_event(env, ev);
        if self.w.len() >= FLUSH_AT {
            self.flush_buf();
        }
    }

    /// Two packets ahead the slot's cached key, one packet ahead (the key
    /// came in meanwhile) the envelope members it points to: with
    /// thousands of flows both miss the caches at every event otherwise.
    fn prefetch_flow(&self, slot: u32, ahead: u8) {
        let Some(e) = self.envelopes.entries.get(slot as usize) else {
            return;
        };
        if ahead >= 2 {
            plantshield_flow::prefetch_lines(e);
        } else if e.key.is_some() {
            plantshield_flow::prefetch_lines(e.json.as_slice());
        }
    }
}

impl<W: Write> JsonSink<W> {
    /// Serialises one event (with its trailing newline), as [`write_event`]
    /// does, with the envelope members and the `ics` object copied from
    /// the caches when they were written before.
    fn write_event(&mut self, env: &Envelope, ev: &Event<'_>) {
        let w = &mut self.w;
        w.begin_object();
        w.time_field("timestamp", env.ts_ns);
        match self.envelopes.entry(env, ev.event_type()) {
            Some(Ok(json)) => w.raw(json),
            Some(Err(json)) => {
                let start = w.len();
                envelope(w, env, ev.event_type());
                w.raw(&self.sensor);
                json.extend_from_slice(&w.as_bytes()[start..]);
            }
            None => {
                envelope(w, env, ev.event_type());
                w.raw(&self.sensor);
            }
        }
        body(w, ev, self.max_values);
        if let Some(s) = ev.ics() {
            match self.ics.entry(ev.event_type(), s) {
                Ok(json) => w.raw(json),
                Err(json) => {
                    let start = w.len();
                    ics(w, ev.event_type(), s);
                    json.extend_from_slice(&w.as_bytes()[start..]);
                }
            }
        }
        w.end_object();
        w.newline();
    }
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
    envelope(w, env, ev.event_type());
    w.str_field("sensor", sensor);
    body(w, ev, max_values);
    if let Some(s) = ev.ics() {
        ics(w, ev.event_type(), s);
    }
    w.end_object();
    w.newline();
}

/// The event's own object (or members), between the envelope and `ics`.
fn body(w: &mut JsonWriter, ev: &Event<'_>, max_values: usize) {
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

/// The envelope members after the timestamp, from `,"flow_id"` to `"vlan"`
/// (`"sensor"` follows).
fn envelope(w: &mut JsonWriter, env: &Envelope, event_type: &'static str) {
    if let Some(id) = env.flow_id {
        w.u64_field("flow_id", id);
    }
    w.name_field("event_type", event_type);
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
            Some(n) => w.name_field("proto", n),
            None => w.str_field("proto", itoa::Buffer::new().format(p)),
        }
    }
    if let Some(a) = env.app_proto {
        w.name_field("app_proto", a);
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
}

/// True when two static strings are the same object (which implies the
/// same text; the same text at two addresses only costs a cache miss).
fn same(a: &'static str, b: &'static str) -> bool {
    std::ptr::eq(a, b)
}

/// What the envelope members of an event depend on.
#[derive(Clone, Copy)]
struct EnvelopeKey {
    flow_id: u64,
    event_type: &'static str,
    src: Option<(IpAddr, u16)>,
    dst: Option<(IpAddr, u16)>,
    proto: Option<u8>,
    app_proto: Option<&'static str>,
    vlan: u32,
}

impl EnvelopeKey {
    fn same(&self, o: &EnvelopeKey) -> bool {
        self.flow_id == o.flow_id
            && same(self.event_type, o.event_type)
            && self.src == o.src
            && self.dst == o.dst
            && self.proto == o.proto
            && match (self.app_proto, o.app_proto) {
                (Some(a), Some(b)) => same(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
            && self.vlan == o.vlan
    }
}

/// JSON written once for a key and copied while the key stays the same.
struct Cached<K> {
    key: Option<K>,
    json: Vec<u8>,
}

impl<K> Default for Cached<K> {
    fn default() -> Self {
        Cached {
            key: None,
            json: Vec::new(),
        }
    }
}

impl<K> Cached<K> {
    /// `Ok(json)` when `hit`, otherwise the buffer to fill (emptied) for `key`.
    fn get(&mut self, key: K, hit: bool) -> Result<&[u8], &mut Vec<u8>> {
        if hit {
            return Ok(&self.json);
        }
        self.key = Some(key);
        self.json.clear();
        Err(&mut self.json)
    }
}

/// Flows (by slot) whose envelope members are cached.
const ENVELOPE_SLOTS: usize = 1 << 16;

/// The envelope members of each flow's events, by flow slot: written at
/// the flow's first event and copied for the others. A changed key (a new
/// flow in the slot, the application protocol decided) writes them again.
#[derive(Default)]
struct EnvelopeCache {
    entries: Vec<Cached<EnvelopeKey>>,
}

impl EnvelopeCache {
    /// `Some(Ok(members))` to copy, `Some(Err(buffer))` to fill (emptied),
    /// `None` for events not cached (without a flow, or in a slot beyond
    /// the cache).
    fn entry(
        &mut self,
        env: &Envelope,
        event_type: &'static str,
    ) -> Option<Result<&[u8], &mut Vec<u8>>> {
        let (Some(flow_id), Some(slot)) = (env.flow_id, env.flow_slot) else {
            return None;
        };
        let slot = slot as usize;
        if slot >= ENVELOPE_SLOTS {
            return None;
        }
        if slot >= self.entries.len() {
            self.entries.resize_with(slot + 1, Default::default);
        }
        let key = EnvelopeKey {
            flow_id,
            event_type,
            src: env.src,
            dst: env.dst,
            proto: env.proto,
            app_proto: env.app_proto,
            vlan: env.vlan,
        };
        let e = &mut self.entries[slot];
        let hit = e.key.is_some_and(|k| k.same(&key));
        Some(e.get(key, hit))
    }
}

/// Cached `ics` objects.
const ICS_SLOTS: usize = 64;

/// `,"ics":{...}` by content: transactions repeat a few combinations of
/// function and status, so each object is written once and copied.
/// Direct-mapped; a collision only costs writing the object again.
#[derive(Default)]
struct IcsCache {
    entries: Vec<Cached<(&'static str, IcsSummary)>>,
}

impl IcsCache {
    /// `Ok(object)` to copy, or `Err(buffer)` to fill (emptied).
    fn entry(&mut self, protocol: &'static str, s: &IcsSummary) -> Result<&[u8], &mut Vec<u8>> {
        if self.entries.is_empty() {
            self.entries.resize_with(ICS_SLOTS, Default::default);
        }
        let h = s
            .function_code
            .wrapping_mul(0x9e37_79b9)
            .wrapping_add(((s.status as u32) << 3) ^ s.exception_code.unwrap_or(0));
        let e = &mut self.entries[h as usize % ICS_SLOTS];
        let hit = e.key.is_some_and(|(p, k)| {
            same(p, protocol)
                && k.function_code == s.function_code
                && same(k.function, s.function)
                && k.operation == s.operation
                && k.status == s.status
                && k.exception_code == s.exception_code
        });
        e.get((protocol, *s), hit)
    }
}

fn ics(w: &mut JsonWriter, protocol: &'static str, s: &IcsSummary) {
    w.begin_object_field("ics");
    w.name_field("protocol", protocol);
    w.u64_field("function_code", u64::from(s.function_code));
    w.name_field("function", s.function);
    w.name_field("operation", s.operation.name());
    w.name_field("status", s.status.name());
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
        self.truncated |= bytes.len() / 2 > self.max;
        w.u16_be_array_field(key, bytes, self.max);
    }

    /// `count` bits, least significant bit of each byte first.
    pub fn bits(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8], count: usize) {
        let count = count.min(bytes.len() * 8);
        self.truncated |= count > self.max;
        w.bits_field(key, bytes, count.min(self.max));
    }

    /// Raw bytes as hex, at most `2 * max` bytes.
    pub fn hex(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8]) {
        let cap = self.max * 2;
        w.hex_field(key, &bytes[..bytes.len().min(cap)]);
        self.truncated |= bytes.len() > cap;
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::event::AnomalyKind;

    fn anomaly() -> AnomalyEvent<'static> {
        AnomalyEvent {
            kind: AnomalyKind::Applayer,
            layer: "modbus",
            code: "invalid_mbap",
            message: Cow::Borrowed("m"),
        }
    }

    fn flow_env(ts: i64, slot: u32, id: u64, src: IpAddr, app: Option<&'static str>) -> Envelope {
        let mut env = Envelope::at(ts);
        env.flow_id = Some(id);
        env.flow_slot = Some(slot);
        env.src = Some((src, 50_000));
        env.dst = Some((IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 502));
        env.proto = Some(6);
        env.app_proto = app;
        env
    }

    /// The sink (with its envelope cache) writes what `write_event` writes:
    /// IPv4 and IPv6 flows in their slots, a slot whose key changes (the
    /// protocol decided, another flow), and an event without a flow.
    fn check(sensor: &str) {
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x1234, 0x5678, 0x9abc, 1, 2, 3, 4));
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 20, 30, 40));
        let envs = [
            flow_env(1, 0, 7, v4, None),
            flow_env(2, 0, 7, v4, Some("modbus")),
            flow_env(3, 0, 7, v4, Some("modbus")),
            flow_env(4, 3, 9, v6, Some("modbus")),
            flow_env(5, 3, 9, v6, Some("modbus")),
            flow_env(6, 0, 8, v4, Some("modbus")),
            flow_env(7, 0, 8, v4, Some("modbus")),
            Envelope::at(8),
        ];
        let a = anomaly();
        let mut sink = JsonSink::new(Vec::new(), sensor, 10);
        let mut want = JsonWriter::new();
        for env in &envs {
            sink.event(env, &Event::Anomaly(&a));
            write_event(&mut want, sensor, 10, env, &Event::Anomaly(&a));
        }
        sink.finish().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&sink.out),
            String::from_utf8_lossy(want.as_bytes())
        );
    }

    #[test]
    fn envelope_cache_writes_what_write_event_writes() {
        check("plantshield");
        // A long sensor name, and one that needs escaping.
        check(&"s".repeat(300));
        check("a\"b\\c");
    }
}
