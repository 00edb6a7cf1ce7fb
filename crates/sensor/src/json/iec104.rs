//! The `iec104` object (docs/events.md).

use plantshield_events::JsonWriter;
use plantshield_protocols::iec104::{Asdu, Cause, SetValue, Time, Value};

use crate::event::{Iec104Asdu, Iec104Event, Iec104Link, Iec104LinkCounters, Iec104Transaction};

/// Writes the `iec104` object.
pub(super) fn write(w: &mut JsonWriter, e: &Iec104Event<'_>, max_values: usize) {
    match e {
        Iec104Event::Transaction(t) => transaction(w, t, max_values),
        Iec104Event::Link(l) => link(w, l),
    }
}

fn transaction(w: &mut JsonWriter, t: &Iec104Transaction<'_>, max_values: usize) {
    w.begin_object_field("iec104");
    w.str_field("format", if t.u.is_some() { "u" } else { "i" });
    w.u64_field("function_code", u64::from(t.ics.function_code));
    w.str_field("function", t.ics.function);
    let mut truncated = false;
    if let Some(u) = t.u {
        if u.function.procedure().is_none() {
            w.u64_field("u_function_bits", u64::from(u.function.0));
        } else {
            if !u.act {
                w.bool_field("request_missing", true);
            }
            if !u.con {
                w.bool_field("response_missing", true);
            }
        }
    } else {
        let primary = t
            .request
            .or(t.confirmation)
            .or(t.rejection)
            .or(t.termination)
            .or(t.data);
        if let Some(Ok(a)) = primary.map(|f| f.asdu) {
            w.u64_field("type_id", u64::from(a.type_id.0));
            if let Some(m) = a.type_id.mnemonic() {
                w.str_field("type", m);
            }
            w.u64_field("common_address", u64::from(a.common_address));
            if let Some(ioa) = a.first_ioa() {
                w.u64_field("ioa", u64::from(ioa));
            }
        } else if let Some(Err(tr)) = primary.map(|f| f.asdu) {
            if let Some(tid) = tr.type_id {
                w.u64_field("type_id", u64::from(tid.0));
                if let Some(m) = tid.mnemonic() {
                    w.str_field("type", m);
                }
            }
        }
        // Objects are written once: from the request, else the reply that
        // mirrors it; the data (or read answer) always.
        let objects_in_reply = t.request.is_none();
        for (key, f, objects) in [
            ("request", t.request, true),
            ("confirmation", t.confirmation, objects_in_reply),
            ("rejection", t.rejection, false),
            (
                "termination",
                t.termination,
                objects_in_reply && t.confirmation.is_none(),
            ),
            ("data", t.data, true),
        ] {
            if let Some(f) = f {
                truncated |= frame(w, key, &f, objects, max_values);
            }
        }
        let expects_request = t.confirmation.is_some() || t.termination.is_some();
        if expects_request && t.request.is_none() {
            w.bool_field("request_missing", true);
        }
        let answered = t.confirmation.is_some()
            || t.rejection.is_some()
            || t.termination.is_some()
            || t.data.is_some();
        if t.request.is_some() && !answered {
            w.bool_field("response_missing", true);
        }
    }
    if truncated {
        w.bool_field("values_truncated", true);
    }
    if let Some(l) = t.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if !t.flags.is_empty() {
        w.begin_array_field("flags");
        for n in t.flags.names() {
            w.str_value(n);
        }
        w.end_array();
    }
    w.end_object();
}

/// One ASDU of a transaction; returns whether objects were left out.
fn frame(
    w: &mut JsonWriter,
    key: &str,
    f: &Iec104Asdu<'_>,
    with_objects: bool,
    max_values: usize,
) -> bool {
    w.begin_object_field(key);
    w.u64_field("send_sequence", u64::from(f.send_sequence));
    w.u64_field("receive_sequence", u64::from(f.receive_sequence));
    let mut truncated = false;
    match f.asdu {
        Ok(a) => {
            w.u64_field("type_id", u64::from(a.type_id.0));
            cause(w, a.cot.cause().0, a.cot.negative(), a.cot.test());
            w.u64_field("originator_address", u64::from(a.originator));
            w.u64_field("common_address", u64::from(a.common_address));
            w.bool_field("sq", a.vsq.sq());
            w.u64_field("num_objects", u64::from(a.vsq.number()));
            if with_objects {
                truncated = objects(w, &a, max_values);
            }
        }
        Err(t) => {
            w.bool_field("truncated", true);
            if let Some(tid) = t.type_id {
                w.u64_field("type_id", u64::from(tid.0));
            }
            if let Some(c) = t.cot {
                cause(w, c.cause().0, c.negative(), c.test());
            }
            if let Some(o) = t.originator {
                w.u64_field("originator_address", u64::from(o));
            }
            if let Some(v) = t.vsq {
                w.bool_field("sq", v.sq());
                w.u64_field("num_objects", u64::from(v.number()));
            }
        }
    }
    w.end_object();
    truncated
}

fn cause(w: &mut JsonWriter, c: u8, negative: bool, test: bool) {
    let cause = Cause(c);
    w.u64_field("cause", u64::from(c));
    w.str_field("cause_name", cause.name());
    if negative {
        w.bool_field("negative", true);
    }
    if test {
        w.bool_field("test", true);
    }
}

/// The information objects, at most `max` of them; returns whether some
/// were left out. Types whose elements have no fixed layout give the raw
/// object octets instead.
fn objects(w: &mut JsonWriter, a: &Asdu<'_>, max: usize) -> bool {
    if a.type_id.layout().is_none() {
        let cap = max * 2;
        w.hex_field("raw", &a.objects[..a.objects.len().min(cap)]);
        return a.objects.len() > cap;
    }
    w.begin_array_field("objects");
    let mut n = 0;
    let mut truncated = false;
    let mut s = String::new();
    for o in a.objects() {
        n += 1;
        if n > max {
            truncated = true;
            break;
        }
        w.begin_object();
        w.u64_field("ioa", u64::from(o.ioa));
        let e = o.element;
        match e.value {
            Value::State(v) => w.u64_field("value", u64::from(v)),
            Value::Step { value, transient } => {
                w.i64_field("value", i64::from(value));
                if transient {
                    w.bool_field("transient", true);
                }
            }
            Value::Bits(v) => w.u64_field("value", u64::from(v)),
            Value::Normalized(v) => w.f64_field("value", normalized(v)),
            Value::Scaled(v) => w.i64_field("value", i64::from(v)),
            Value::Float(v) => w.f64_field("value", f64::from(v)),
            Value::Counter { value, sequence } => {
                w.i64_field("value", i64::from(value));
                w.u64_field("sequence", u64::from(sequence));
            }
            Value::Command {
                state,
                qualifier,
                select,
            } => {
                w.u64_field("value", u64::from(state));
                w.u64_field("qualifier", u64::from(qualifier));
                w.bool_field("select", select);
            }
            Value::SetPoint {
                value,
                qualifier,
                select,
            } => {
                set_value(w, value);
                w.u64_field("qualifier", u64::from(qualifier));
                w.bool_field("select", select);
            }
            Value::Parameter { value, qualifier } => {
                set_value(w, value);
                w.u64_field("qualifier", u64::from(qualifier));
            }
            Value::Qualifier(q) => w.u64_field("value", u64::from(q)),
            Value::Word(v) => w.u64_field("value", u64::from(v)),
            Value::None => {}
            Value::Raw(b) => w.hex_field("raw", b),
        }
        if let Some(q) = e.quality {
            if !q.is_good() {
                w.begin_array_field("quality");
                for n in q.names() {
                    w.str_value(n);
                }
                w.end_array();
            }
        }
        if let Some(ms) = e.elapsed_ms {
            w.u64_field("elapsed_ms", u64::from(ms));
        }
        if let Some(t) = e.time {
            s.clear();
            let (invalid, summer) = match t {
                Time::Cp56(t) => {
                    t.format(&mut s);
                    (t.invalid, t.summer)
                }
                Time::Cp24(t) => {
                    t.format(&mut s);
                    (t.invalid, false)
                }
            };
            w.str_field("time", &s);
            if invalid {
                w.bool_field("time_invalid", true);
            }
            if summer {
                w.bool_field("summer_time", true);
            }
        }
        w.end_object();
    }
    w.end_array();
    truncated
}

/// NVA: a fraction of full scale, raw / 32768 (101 §7.2.6.6).
fn normalized(v: i16) -> f64 {
    f64::from(v) / 32768.0
}

fn set_value(w: &mut JsonWriter, v: SetValue) {
    match v {
        SetValue::Normalized(v) => w.f64_field("value", normalized(v)),
        SetValue::Scaled(v) => w.i64_field("value", i64::from(v)),
        SetValue::Float(v) => w.f64_field("value", f64::from(v)),
    }
}

fn link(w: &mut JsonWriter, l: &Iec104Link) {
    w.begin_object_field("iec104");
    w.begin_object_field("link");
    counters(w, "toserver", &l.toserver);
    counters(w, "toclient", &l.toclient);
    w.end_object();
    w.end_object();
}

fn counters(w: &mut JsonWriter, key: &str, c: &Iec104LinkCounters) {
    w.begin_object_field(key);
    w.u64_field("i", c.i);
    w.u64_field("s", c.s);
    w.u64_field("u", c.u);
    w.u64_field("skipped_bytes", c.skipped_bytes);
    if let Some(n) = c.last_send_sequence {
        w.u64_field("last_send_sequence", u64::from(n));
    }
    if let Some(n) = c.last_receive_sequence {
        w.u64_field("last_receive_sequence", u64::from(n));
    }
    w.end_object();
}
