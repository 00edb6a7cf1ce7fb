//! JSON Lines serialisation of events (the EVE-style contract in
//! `docs/events.md`), and a counting sink for runs that keep no events.

use std::io::{self, Write};

use plantshield_events::{JsonWriter, Status};
use plantshield_protocols::modbus::{RequestBody, ResponseBody};

use crate::event::{AnomalyEvent, Envelope, Event, EventSink, FlowEvent, IcsSummary, ModbusEvent};
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
}

impl EventCounts {
    fn count(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Modbus(_) => self.transactions += 1,
            Event::Flow(_) => self.flows += 1,
            Event::Anomaly(_) => self.anomalies += 1,
            Event::Stats(_) => self.stats += 1,
        }
    }

    /// All events.
    pub fn total(&self) -> u64 {
        self.transactions + self.flows + self.anomalies + self.stats
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
        Event::Modbus(m) => {
            modbus(w, m, max_values);
            ics(w, "modbus", &m.ics);
        }
        Event::Flow(f) => flow(w, f),
        Event::Anomaly(a) => anomaly(w, a),
        Event::Stats(s) => stats(w, s),
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

/// Writes up to `max` values; returns true when some were left out.
struct Bounded {
    max: usize,
    truncated: bool,
}

impl Bounded {
    fn registers(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8]) {
        w.begin_array_field(key);
        let n = bytes.len() / 2;
        for r in bytes.chunks_exact(2).take(self.max) {
            w.u64_value(u64::from(u16::from_be_bytes([r[0], r[1]])));
        }
        w.end_array();
        self.truncated |= n > self.max;
    }

    fn bits(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8], count: usize) {
        w.begin_array_field(key);
        let count = count.min(bytes.len() * 8);
        for i in 0..count.min(self.max) {
            w.u64_value(u64::from((bytes[i / 8] >> (i % 8)) & 1));
        }
        w.end_array();
        self.truncated |= count > self.max;
    }

    fn hex(&mut self, w: &mut JsonWriter, key: &str, bytes: &[u8]) {
        let cap = self.max * 2;
        w.hex_field(key, &bytes[..bytes.len().min(cap)]);
        self.truncated |= bytes.len() > cap;
    }
}

fn modbus(w: &mut JsonWriter, m: &ModbusEvent<'_>, max_values: usize) {
    let mut b = Bounded {
        max: max_values,
        truncated: false,
    };
    w.begin_object_field("modbus");
    w.u64_field("transaction_id", u64::from(m.transaction_id));
    w.u64_field("unit_id", u64::from(m.unit_id));
    w.u64_field("function_code", u64::from(m.ics.function_code));
    w.str_field("function", m.ics.function);
    let mut quantity = None;
    if let Some(q) = &m.request {
        match q.body {
            RequestBody::ReadBits {
                address,
                quantity: n,
            }
            | RequestBody::ReadRegisters {
                address,
                quantity: n,
            } => {
                w.u64_field("address", u64::from(address));
                w.u64_field("quantity", u64::from(n));
                quantity = Some(n);
            }
            RequestBody::WriteSingleCoil { address, value } => {
                w.u64_field("address", u64::from(address));
                w.u64_field("quantity", 1);
                w.begin_array_field("values_written");
                w.u64_value(match value {
                    0xff00 => 1,
                    0 => 0,
                    v => u64::from(v),
                });
                w.end_array();
            }
            RequestBody::WriteSingleRegister { address, value } => {
                w.u64_field("address", u64::from(address));
                w.u64_field("quantity", 1);
                w.begin_array_field("values_written");
                w.u64_value(u64::from(value));
                w.end_array();
            }
            RequestBody::WriteMultipleCoils {
                address,
                quantity: n,
                values,
                ..
            } => {
                w.u64_field("address", u64::from(address));
                w.u64_field("quantity", u64::from(n));
                b.bits(w, "values_written", values, usize::from(n));
            }
            RequestBody::WriteMultipleRegisters {
                address,
                quantity: n,
                values,
                ..
            } => {
                w.u64_field("address", u64::from(address));
                w.u64_field("quantity", u64::from(n));
                b.registers(w, "values_written", values);
            }
            RequestBody::Diagnostics { sub_function, data } => {
                w.u64_field("sub_function", u64::from(sub_function.0));
                w.str_field("sub_function_name", sub_function.name());
                b.hex(w, "data", data);
            }
            RequestBody::ReadFileRecord { sub_requests, .. }
            | RequestBody::WriteFileRecord { sub_requests, .. } => {
                w.begin_array_field("file_records");
                let mut n = 0;
                for s in sub_requests {
                    n += 1;
                    if n > max_values {
                        b.truncated = true;
                        break;
                    }
                    w.begin_object();
                    w.u64_field("reference_type", u64::from(s.reference_type));
                    w.u64_field("file_number", u64::from(s.file_number));
                    w.u64_field("record_number", u64::from(s.record_number));
                    w.u64_field("record_length", u64::from(s.record_length));
                    if !s.data.is_empty() {
                        b.registers(w, "values_written", s.data);
                    }
                    w.end_object();
                }
                w.end_array();
            }
            RequestBody::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            } => {
                w.u64_field("address", u64::from(address));
                w.u64_field("quantity", 1);
                w.u64_field("and_mask", u64::from(and_mask));
                w.u64_field("or_mask", u64::from(or_mask));
            }
            RequestBody::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                write_address,
                write_quantity,
                values,
                ..
            } => {
                w.u64_field("address", u64::from(read_address));
                w.u64_field("quantity", u64::from(read_quantity));
                w.u64_field("write_address", u64::from(write_address));
                w.u64_field("write_quantity", u64::from(write_quantity));
                b.registers(w, "values_written", values);
                quantity = Some(read_quantity);
            }
            RequestBody::ReadFifoQueue { address } => w.u64_field("address", u64::from(address)),
            RequestBody::ReadDeviceId {
                read_code,
                object_id,
            } => {
                w.u64_field("mei_type", 14);
                w.str_field("mei_type_name", "read_device_identification");
                w.u64_field("read_device_id_code", u64::from(read_code));
                w.u64_field("object_id", u64::from(object_id));
            }
            RequestBody::Mei { mei_type, data } => {
                w.u64_field("mei_type", u64::from(mei_type.0));
                w.str_field("mei_type_name", mei_type.name());
                b.hex(w, "data", data);
            }
            RequestBody::Other { data } | RequestBody::Malformed { data } => b.hex(w, "data", data),
            RequestBody::NoData => {}
        }
    }
    if let Some(r) = &m.response {
        match r.body {
            ResponseBody::Exception { code } => {
                w.u64_field("exception_code", u64::from(code.0));
                w.str_field("exception", code.name());
            }
            ResponseBody::ReadBits { byte_count, values } => {
                let n = quantity.map_or(usize::from(byte_count) * 8, usize::from);
                b.bits(w, "values_read", values, n);
            }
            ResponseBody::ReadRegisters { values, .. } => b.registers(w, "values_read", values),
            ResponseBody::ExceptionStatus { status } => {
                w.u64_field("exception_status", u64::from(status))
            }
            ResponseBody::Diagnostics { data, .. } => b.hex(w, "response_data", data),
            ResponseBody::CommEventCounter {
                status,
                event_count,
            } => {
                w.u64_field("status_word", u64::from(status));
                w.u64_field("event_count", u64::from(event_count));
            }
            ResponseBody::CommEventLog {
                status,
                event_count,
                message_count,
                events,
                ..
            } => {
                w.u64_field("status_word", u64::from(status));
                w.u64_field("event_count", u64::from(event_count));
                w.u64_field("message_count", u64::from(message_count));
                b.hex(w, "events", events);
            }
            ResponseBody::ReportServerId { data, .. } => b.hex(w, "server_id", data),
            ResponseBody::ReadFileRecord { data, .. } => b.hex(w, "response_data", data),
            ResponseBody::ReadFifoQueue {
                fifo_count, values, ..
            } => {
                w.u64_field("fifo_count", u64::from(fifo_count));
                b.registers(w, "values_read", values);
            }
            ResponseBody::ReadDeviceId(id) => {
                if m.request.is_none() {
                    w.u64_field("mei_type", 14);
                    w.str_field("mei_type_name", "read_device_identification");
                }
                w.begin_object_field("device_id");
                w.u64_field("conformity_level", u64::from(id.conformity_level));
                w.bool_field("more_follows", id.more_follows == 0xff);
                w.u64_field("next_object_id", u64::from(id.next_object_id));
                w.begin_object_field("objects");
                let mut key = String::new();
                for (oid, val) in id.objects() {
                    match oid.name() {
                        "reserved" | "private" => {
                            key.clear();
                            key.push_str("object_");
                            key.push_str(itoa::Buffer::new().format(oid.0));
                            w.bytes_str_field(&key, val);
                        }
                        name => w.bytes_str_field(name, val),
                    }
                }
                w.end_object();
                w.end_object();
            }
            ResponseBody::Mei { data, .. }
            | ResponseBody::Other { data }
            | ResponseBody::Malformed { data } => b.hex(w, "response_data", data),
            ResponseBody::WriteSingle { .. }
            | ResponseBody::WriteMultiple { .. }
            | ResponseBody::WriteFileRecord { .. }
            | ResponseBody::MaskWriteRegister { .. } => {}
        }
    }
    if m.request.is_none() {
        w.bool_field("request_missing", true);
    }
    if m.response.is_none() {
        w.bool_field("response_missing", true);
    }
    if b.truncated {
        w.bool_field("values_truncated", true);
    }
    if let Some(l) = m.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if !m.flags.is_empty() {
        w.begin_array_field("flags");
        for n in m.flags.names() {
            w.str_value(n);
        }
        w.end_array();
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
        w.begin_object_field("by_function");
        let mut buf = itoa::Buffer::new();
        for (code, (_, n)) in &p.by_function {
            w.u64_field(buf.format(*code), *n);
        }
        w.end_object();
        w.end_object();
    }
    w.end_object();
    w.end_object();
}
