//! The audit trail as an event sink.

use plantshield_events::JsonWriter;
use plantshield_sensor::json::write_event;
use plantshield_sensor::{Envelope, Event, EventSink, IcsSummary, Notes, Observation};

use super::{is_audited, AuditLog, Entry, Head};
use crate::StoreError;

/// Passes every event on to `inner` unchanged and appends the audited
/// transactions ([`super::AUDITED`], every status) to an [`AuditLog`], each
/// with its JSON line as the JSON sink writes it.
///
/// Writing the log never panics and never stops the pipeline: failures are
/// counted and reported by [`AuditSink::finish`].
pub struct AuditSink<S> {
    /// The next sink.
    pub inner: S,
    log: AuditLog,
    sensor: String,
    max_values: usize,
    w: JsonWriter,
    failures: u64,
    first_error: Option<StoreError>,
}

/// What an [`AuditSink`] did.
#[derive(Debug)]
pub struct AuditOutcome {
    /// Records written.
    pub appended: u64,
    /// Records that could not be written.
    pub lost: u64,
    /// Failed writes (a failed write loses its whole batch).
    pub failures: u64,
    /// The first error.
    pub error: Option<StoreError>,
    /// The head of the log after the last successful write.
    pub head: Head,
}

impl AuditOutcome {
    /// True when every audited event was written.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.error.is_none()
    }
}

impl<S: EventSink> AuditSink<S> {
    /// A sink in front of `inner`, writing to `log`. `sensor` and
    /// `max_values` must be those of the JSON output, so that the stored
    /// JSON lines are the ones written there.
    pub fn new(inner: S, log: AuditLog, sensor: &str, max_values: usize) -> Self {
        AuditSink {
            inner,
            log,
            sensor: sensor.to_string(),
            max_values,
            w: JsonWriter::new(),
            failures: 0,
            first_error: None,
        }
    }

    /// Writes what is pending and says what was done. Call it once, at
    /// the end of the run.
    pub fn finish(&mut self) -> AuditOutcome {
        if let Err(e) = self.log.flush() {
            self.failed(e);
        }
        AuditOutcome {
            appended: self.log.appended(),
            lost: self.log.lost(),
            failures: self.failures,
            error: self.first_error.take(),
            head: self.log.head(),
        }
    }

    fn failed(&mut self, e: StoreError) {
        self.failures += 1;
        self.first_error.get_or_insert(e);
    }

    fn entry(&mut self, env: &Envelope, ev: &Event<'_>, ics: &IcsSummary) -> Entry {
        self.w.clear();
        write_event(&mut self.w, &self.sensor, self.max_values, env, ev);
        let line = self.w.as_bytes();
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        // Only ports of a known IP protocol are written, as in the JSON.
        let port = |ep: Option<(std::net::IpAddr, u16)>| ep.filter(|_| env.proto.is_some());
        Entry {
            ts_ns: env.ts_ns,
            sensor: self.sensor.clone(),
            flow_id: env.flow_id,
            src_ip: env.src.map(|(ip, _)| ip.to_string()),
            src_port: port(env.src).map(|(_, p)| p),
            dest_ip: env.dst.map(|(ip, _)| ip.to_string()),
            dest_port: port(env.dst).map(|(_, p)| p),
            protocol: ev.event_type().to_string(),
            function_code: ics.function_code,
            function: ics.function.to_string(),
            operation: ics.operation.name().to_string(),
            status: ics.status.name().to_string(),
            event: String::from_utf8_lossy(line).into_owned(),
        }
    }
}

impl<S: EventSink> AuditSink<S> {
    /// Appends the entry of an audited operation.
    fn audit(&mut self, env: &Envelope, ev: &Event<'_>) {
        if let Some(ics) = ev.ics().filter(|i| is_audited(i.operation)) {
            let entry = self.entry(env, ev, ics);
            if let Err(e) = self.log.append(entry) {
                self.failed(e);
            }
        }
    }
}

impl<S: EventSink> EventSink for AuditSink<S> {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.audit(env, ev);
        self.inner.event(env, ev);
    }

    fn observe(&mut self, obs: &Observation<'_>) {
        self.inner.observe(obs);
    }

    // The trail keeps no per-flow state: the flow's notes and the hints
    // are the sink's behind it.
    fn flow_event(&mut self, env: &Envelope, ev: &Event<'_>, notes: &mut Notes) {
        self.audit(env, ev);
        self.inner.flow_event(env, ev, notes);
    }

    fn prefetch_flow(&self, slot: u32, ahead: u8) {
        self.inner.prefetch_flow(slot, ahead);
    }

    fn prefetch_notes(&self, notes: &Notes) {
        self.inner.prefetch_notes(notes);
    }
}
