//! The `modbus` object (docs/events.md).

use plantshield_events::JsonWriter;
use plantshield_protocols::modbus::{RequestBody, ResponseBody};

use super::Bounded;
use crate::event::ModbusEvent;

/// Writes the `modbus` object.
pub(super) fn write(w: &mut JsonWriter, m: &ModbusEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("modbus");
    w.u64_field("transaction_id", u64::from(m.transaction_id));
    w.u64_field("unit_id", u64::from(m.unit_id));
    w.u64_field("function_code", u64::from(m.ics.function_code));
    w.name_field("function", m.ics.function);
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
                w.name_field("sub_function_name", sub_function.name());
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
                w.name_field("exception", code.name());
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
