//! The engine: what PlantShield learns from the sensor's events.
//!
//! It sits downstream of the sensor as an [`EventSink`] ([`Engine`]): every
//! event passes through to the next sink unchanged, feeds the asset
//! inventory on the way, and the inventory's changes are emitted as `asset`
//! events into the same stream.

#![forbid(unsafe_code)]

pub mod alert;
pub mod detect;
pub mod identity;
pub mod inventory;
pub mod oui;
pub mod output;
pub mod policy;
pub mod ranges;
pub mod role;
pub mod target;

use plantshield_events::JsonWriter;
use plantshield_sensor::{Envelope, Event, EventSink, ExtEvent, Notes, Observation};

pub use alert::{AggregationConfig, Aggregator, Alert, EventRef, Rule, Severity};
pub use detect::{DetectConfig, Detections};
pub use inventory::{
    Asset, AssetChange, AssetId, ChangeKind, Edge, EdgeProto, Inventory, InventoryConfig,
};
pub use policy::{Learner, Policy, PolicyCheck};
pub use role::Role;

/// An `asset` event: one change of the inventory, with the asset as it is now.
#[derive(Debug)]
pub struct AssetEvent {
    /// The change.
    pub change: AssetChange,
    /// The asset after the change.
    pub asset: Asset,
}

impl ExtEvent for AssetEvent {
    fn event_type(&self) -> &'static str {
        "asset"
    }

    fn write_json(&self, w: &mut JsonWriter) {
        let c = &self.change;
        let a = &self.asset;
        w.begin_object_field("asset");
        w.u64_field("id", u64::from(a.id));
        w.str_field("change", c.kind.name());
        if let Some(attr) = &c.attribute {
            w.str_field("attribute", attr);
        }
        if let Some(v) = &c.old {
            w.str_field("old", v);
        }
        if let Some(v) = &c.new {
            w.str_field("new", v);
        }
        w.str_field("source", c.source);
        output::asset_fields(w, a);
        w.end_object();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The engine as a sink: passes every event on, learns from it, and adds
/// `asset` and `alert` events.
pub struct Engine<S> {
    /// The next sink.
    pub inner: S,
    /// The asset inventory.
    pub inventory: Inventory,
    /// Write `asset` events into the stream.
    pub emit_assets: bool,
    /// The built-in detections.
    pub detections: Detections,
    /// Open and closed alerts.
    pub alerts: Aggregator,
    /// The policy checked, if one was given.
    pub policy: Option<PolicyCheck>,
    /// Capture time of the last alert expiry pass.
    last_expire: i64,
}

impl<S: EventSink> Engine<S> {
    /// An engine in front of `inner`.
    pub fn new(inner: S, cfg: InventoryConfig) -> Self {
        Engine {
            inner,
            inventory: Inventory::new(cfg),
            emit_assets: true,
            detections: Detections::new(DetectConfig::default()),
            alerts: Aggregator::new(AggregationConfig::default()),
            policy: None,
            last_expire: i64::MIN,
        }
    }

    /// Checks traffic against `policy` from now on (its accepted alerts are
    /// silenced).
    pub fn set_policy(&mut self, policy: Policy) {
        let check = PolicyCheck::new(policy);
        check.install_accepts(&mut self.alerts);
        self.policy = Some(check);
    }

    fn emit_changes(&mut self) {
        if !self.inventory.has_changes() {
            return;
        }
        let changes = self.inventory.take_changes();
        for c in &changes {
            if let (ChangeKind::New, Some(p)) = (&c.kind, &mut self.policy) {
                if let Some(asset) = self.inventory.asset(c.asset) {
                    p.new_asset(asset, c.ts, c.flow_id, &mut self.alerts);
                }
            }
            // ARP is where poisoning happens; an address moving with
            // traffic alone (a DHCP reassignment) is only an asset event.
            if c.kind == ChangeKind::IpMoved && c.source == "arp" {
                let asset = self.inventory.asset(c.asset);
                let ip = c
                    .new
                    .as_deref()
                    .and_then(|n| n.split(' ').next())
                    .and_then(|i| i.parse().ok());
                let mac = asset
                    .and_then(|a| a.macs.first())
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                let old = c.old.clone().unwrap_or_default();
                let at = EventRef {
                    flow_id: c.flow_id,
                    ts: c.ts,
                    event_id: None,
                };
                self.alerts.hit(
                    detect::rule("ps.net.arp_spoofing"),
                    ip,
                    None,
                    None,
                    at,
                    || {
                        format!(
                            "{} moved from MAC {old} to MAC {mac}",
                            ip.map(|i: std::net::IpAddr| i.to_string())
                                .unwrap_or_default()
                        )
                    },
                );
            }
        }
        if !self.emit_assets {
            return;
        }
        for change in changes {
            // The asset is lent to the event, not cloned: the next sink
            // cannot reach the inventory while it has it.
            let Some(asset) = self.inventory.lend_asset(change.asset) else {
                continue;
            };
            // Created and merged into another within one event: nothing to say.
            if asset.macs.is_empty() && asset.ips.is_empty() {
                self.inventory.return_asset(asset);
                continue;
            }
            let mut env = Envelope::at(change.ts);
            env.flow_id = change.flow_id;
            env.src = asset.primary_ip().map(|ip| (ip, 0));
            let ev = AssetEvent { change, asset };
            self.inner.event(&env, &Event::Ext(&ev));
            self.inventory.return_asset(ev.asset);
        }
    }
}

impl<S: EventSink> Engine<S> {
    fn emit_alerts(&mut self) {
        for a in self.alerts.take_closed() {
            let mut env = Envelope::at(a.first_ts);
            env.flow_id = a.refs.first().and_then(|r| r.flow_id);
            env.src = a.src.map(|ip| (ip, 0));
            env.dst = a.dst.map(|ip| (ip, 0));
            self.inner.event(&env, &Event::Ext(&a));
        }
    }
}

impl<S: EventSink> Engine<S> {
    /// One event, with its flow's notes if it came with them.
    #[inline]
    fn take(&mut self, env: &Envelope, ev: &Event<'_>, notes: Option<&mut Notes>) {
        if let Event::Stats(_) = ev {
            // The end of a run: make the per-asset totals current and close
            // every alert, before the stats record.
            self.inventory.sync_totals();
            self.alerts.flush();
            self.emit_alerts();
            self.inner.event(env, ev);
            return;
        }
        self.inner.event(env, ev);
        match notes.and_then(split_notes) {
            Some((inv, det)) => {
                self.inventory.flow_event(env, ev, inv);
                self.detections.flow_event(env, ev, &mut self.alerts, det);
            }
            None => {
                self.inventory.event(env, ev);
                self.detections.event(env, ev, &mut self.alerts);
            }
        }
        if let Some(p) = &mut self.policy {
            p.event(env, ev, &mut self.alerts);
        }
        // Tested here: almost no event changes the inventory.
        if self.inventory.has_changes() {
            self.emit_changes();
        }
        if env.ts_ns.saturating_sub(self.last_expire) >= 1_000_000_000 {
            self.last_expire = env.ts_ns;
            self.alerts.expire(env.ts_ns);
            self.emit_alerts();
        }
    }
}

/// How the engine shares a flow's notes: the first four words are the
/// inventory's, the last four the detections'.
fn split_notes(notes: &mut Notes) -> Option<(&mut [u64; 4], &mut [u64; 4])> {
    let (inv, rest) = notes.0.split_first_chunk_mut::<4>()?;
    Some((inv, rest.first_chunk_mut::<4>()?))
}

/// Which end of its flow an event comes from, as a bit: the notes of a
/// flow hold events of its two ends only, either way round (BACnet peers
/// both request), and this tells the two apart. Ports first: they differ
/// in most flows, and compare in one instruction.
#[inline]
pub(crate) fn src_first(env: &Envelope) -> bool {
    match (env.src, env.dst) {
        (Some(s), Some(d)) if s.1 != d.1 => s.1 < d.1,
        (s, d) => s.map(|s| s.0) < d.map(|d| d.0),
    }
}

impl<S: EventSink> EventSink for Engine<S> {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.take(env, ev, None);
    }

    fn flow_event(&mut self, env: &Envelope, ev: &Event<'_>, notes: &mut Notes) {
        self.take(env, ev, Some(notes));
    }

    fn observe(&mut self, obs: &Observation<'_>) {
        self.inner.observe(obs);
        self.inventory.observe(obs);
        self.emit_changes();
    }

    fn prefetch_flow(&self, slot: u32, ahead: u8) {
        self.inner.prefetch_flow(slot, ahead);
    }

    fn prefetch_notes(&self, notes: &Notes) {
        // The words as `split_notes` shares them.
        if let Some((inv, rest)) = notes.0.split_first_chunk::<4>() {
            self.inventory.prefetch_edge(inv);
            if let Some(det) = rest.first_chunk::<4>() {
                self.detections.prefetch_sweep(det);
            }
        }
    }
}
