//! The engine: what PlantShield learns from the sensor's events.
//!
//! It sits downstream of the sensor as an [`EventSink`] ([`Engine`]): every
//! event passes through to the next sink unchanged, feeds the asset
//! inventory on the way, and the inventory's changes are emitted as `asset`
//! events into the same stream.

#![forbid(unsafe_code)]

pub mod identity;
pub mod inventory;
pub mod oui;
pub mod output;
pub mod role;

use plantshield_events::JsonWriter;
use plantshield_sensor::{Envelope, Event, EventSink, ExtEvent, Observation};

pub use inventory::{
    Asset, AssetChange, AssetId, ChangeKind, Edge, EdgeProto, Inventory, InventoryConfig,
};
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
/// `asset` events.
pub struct Engine<S> {
    /// The next sink.
    pub inner: S,
    /// The asset inventory.
    pub inventory: Inventory,
    /// Write `asset` events into the stream.
    pub emit_assets: bool,
}

impl<S: EventSink> Engine<S> {
    /// An engine in front of `inner`.
    pub fn new(inner: S, cfg: InventoryConfig) -> Self {
        Engine {
            inner,
            inventory: Inventory::new(cfg),
            emit_assets: true,
        }
    }

    fn emit_changes(&mut self) {
        let changes = self.inventory.take_changes();
        if !self.emit_assets {
            return;
        }
        for change in changes {
            let Some(asset) = self.inventory.asset(change.asset).cloned() else {
                continue;
            };
            // Created and merged into another within one event: nothing to say.
            if asset.macs.is_empty() && asset.ips.is_empty() {
                continue;
            }
            let mut env = Envelope::at(change.ts);
            env.flow_id = change.flow_id;
            env.src = asset.primary_ip().map(|ip| (ip, 0));
            let ev = AssetEvent { change, asset };
            self.inner.event(&env, &Event::Ext(&ev));
        }
    }
}

impl<S: EventSink> EventSink for Engine<S> {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.inner.event(env, ev);
        self.inventory.event(env, ev);
        if let Event::Stats(_) = ev {
            // The end of a run: make the per-asset totals current.
            self.inventory.sync_totals();
        }
        self.emit_changes();
    }

    fn observe(&mut self, obs: &Observation<'_>) {
        self.inner.observe(obs);
        self.inventory.observe(obs);
        self.emit_changes();
    }
}
