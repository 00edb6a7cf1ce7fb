//! The `dnp3` object (docs/events.md).

use plantshield_events::JsonWriter;
use plantshield_protocols::dnp3::{
    AnalogValue, AppControl, ControlPoint, LinkHeader, Message, Range,
};

use super::Bounded;
use crate::event::Dnp3Event;

/// Writes the `dnp3` object.
pub(super) fn write(w: &mut JsonWriter, d: &Dnp3Event<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("dnp3");
    if d.link_request.is_some() || d.link_response.is_some() {
        let f = d
            .link_request
            .or(d.link_response)
            .map(|h| h.control.function());
        if let Some(f) = f {
            w.u64_field("link_function_code", u64::from(f.code));
            w.str_field("link_function", f.name());
        }
        if let Some(h) = &d.link_request {
            w.begin_object_field("request");
            link(w, h, 1);
            w.end_object();
        }
        if let Some(h) = &d.link_response {
            w.begin_object_field("response");
            link(w, h, 1);
            w.end_object();
        }
    } else {
        w.u64_field("function_code", u64::from(d.ics.function_code));
        w.str_field("function", d.ics.function);
        for (key, m) in [
            ("request", d.request),
            ("challenge", d.challenge),
            ("challenge_reply", d.challenge_reply),
            ("response", d.response),
        ] {
            if let Some(m) = m {
                w.begin_object_field(key);
                message(w, m, &mut b);
                w.end_object();
            }
        }
        if let Some(c) = &d.confirms {
            w.begin_object_field("confirm");
            w.u64_field("count", u64::from(c.count));
            link(w, &c.link, c.count);
            control(w, c.control);
            w.end_object();
        }
    }
    if d.request_missing {
        w.bool_field("request_missing", true);
    }
    if d.response_missing {
        w.bool_field("response_missing", true);
    }
    if b.truncated {
        w.bool_field("values_truncated", true);
    }
    if let Some(l) = d.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if !d.flags.is_empty() {
        w.begin_array_field("flags");
        for n in d.flags.names() {
            w.str_value(n);
        }
        w.end_array();
    }
    w.end_object();
}

/// The `link` object of a message carried by `frames` link frames.
fn link(w: &mut JsonWriter, h: &LinkHeader, frames: u32) {
    let c = h.control;
    let f = c.function();
    w.begin_object_field("link");
    w.u64_field("src", u64::from(h.source));
    w.u64_field("dst", u64::from(h.destination));
    w.u64_field("function_code", u64::from(f.code));
    w.str_field("function", f.name());
    w.bool_field("dir", c.dir());
    w.bool_field("prm", c.prm());
    if c.prm() {
        w.bool_field("fcb", c.fcb());
        w.bool_field("fcv", c.fcv());
    } else {
        w.bool_field("dfc", c.dfc());
    }
    w.u64_field("frames", u64::from(frames));
    w.end_object();
}

fn control(w: &mut JsonWriter, c: AppControl) {
    w.begin_object_field("control");
    w.bool_field("fir", c.fir());
    w.bool_field("fin", c.fin());
    w.bool_field("con", c.con());
    w.bool_field("uns", c.uns());
    w.u64_field("seq", u64::from(c.seq()));
    w.end_object();
}

/// The fields of one application message.
fn message(w: &mut JsonWriter, m: &Message, b: &mut Bounded) {
    link(w, &m.link, m.link_frames);
    control(w, m.control);
    w.u64_field("function_code", u64::from(m.function.0));
    w.str_field("function", m.function.name());
    if m.function.is_response() || m.fragments > 1 {
        w.u64_field("fragments", u64::from(m.fragments));
    }
    if let Some(iin) = m.iin {
        w.begin_array_field("iin");
        for n in iin.names() {
            w.str_value(n);
        }
        w.end_array();
    }
    let headers = m.headers();
    if m.headers_total > 0 {
        w.begin_array_field("objects");
        for h in headers.iter().take(b.max) {
            w.begin_object();
            w.u64_field("group", u64::from(h.group));
            w.u64_field("variation", u64::from(h.variation));
            w.u64_field("qualifier", u64::from(h.qualifier));
            match h.range {
                Range::All => {}
                Range::StartStop { start, stop } => {
                    w.u64_field("start", u64::from(start));
                    w.u64_field("stop", u64::from(stop));
                }
                Range::Count(n) => w.u64_field("count", u64::from(n)),
            }
            w.end_object();
        }
        w.end_array();
        b.truncated |= m.headers_total as usize > headers.len().min(b.max);
    }
    let controls = m.controls();
    let crobs = controls
        .iter()
        .filter(|c| matches!(c, ControlPoint::Crob(_)))
        .count();
    let mut written = 0;
    if crobs > 0 {
        w.begin_array_field("crob");
        for c in controls.iter() {
            let ControlPoint::Crob(c) = c else { continue };
            if written >= b.max {
                break;
            }
            written += 1;
            w.begin_object();
            w.u64_field("index", u64::from(c.index));
            w.u64_field("control_code", u64::from(c.code.0));
            w.str_field("op_type", c.code.op_type_name());
            w.str_field("tcc", c.code.tcc_name());
            w.bool_field("clear", c.code.clear());
            w.bool_field("queue", c.code.queue());
            w.u64_field("count", u64::from(c.count));
            w.u64_field("on_time", u64::from(c.on_time));
            w.u64_field("off_time", u64::from(c.off_time));
            w.u64_field("status", u64::from(c.status.0));
            w.str_field("status_name", c.status.name());
            w.end_object();
        }
        w.end_array();
    }
    if crobs < controls.len() {
        w.begin_array_field("analog_outputs");
        for c in controls.iter() {
            let ControlPoint::AnalogOutput(a) = c else {
                continue;
            };
            if written >= b.max {
                break;
            }
            written += 1;
            w.begin_object();
            w.u64_field("index", u64::from(a.index));
            w.u64_field("variation", u64::from(a.variation));
            match a.value {
                AnalogValue::Int(v) => w.i64_field("value", i64::from(v)),
                AnalogValue::Float(v) => w.f64_field("value", f64::from(v)),
                AnalogValue::Double(v) => w.f64_field("value", v),
            }
            w.u64_field("status", u64::from(a.status.0));
            w.str_field("status_name", a.status.name());
            w.end_object();
        }
        w.end_array();
    }
    b.truncated |= m.controls_total as usize > written;
}
