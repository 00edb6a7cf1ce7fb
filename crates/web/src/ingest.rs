//! Ingestion: captures through the sensor and the engine into the store.
//!
//! ```text
//! capture ──> Sensor ──> Engine (inventory, detections, policy) ──> StoreSink ──> Ingest (SQLite)
//! ```
//!
//! The [`StoreSink`] stands where `analyze` puts its JSON sink, so the
//! store holds exactly the lines `analyze` writes (the same `write_event`),
//! in batches: nothing of a capture is held in memory beyond one batch and
//! the engine's bounded tables. `asset` events become asset upserts and
//! history rows, `alert` events become alerts; at the end the final
//! inventory (identity evidence, totals) and the communication edges are
//! written.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use plantshield_capture::CaptureReader;
use plantshield_engine::{output, Alert, Asset, AssetEvent, Engine, InventoryConfig, Policy};
use plantshield_events::{JsonWriter, Operation};
use plantshield_sensor::json::write_event;
use plantshield_sensor::{Envelope, Event, EventSink, Observation, Sensor, SensorConfig};
use plantshield_store::platform::{
    self, AlertRow, AssetRow, EdgeRow, EventRow, EvidenceRow, FileState, HistoryRow, Ingest,
};
use sha2::{Digest, Sha256};

/// Sensor name written in stored events.
pub const SENSOR: &str = "plantshield";
/// Values per event, as `analyze`'s default.
pub const MAX_VALUES: usize = 32;

/// The sink that writes into the store.
pub struct StoreSink {
    ingest: Ingest,
    w: JsonWriter,
    /// Run-local asset id to platform id.
    ids: HashMap<u32, i64>,
    /// The first write error (ingestion goes on; the capture is not marked done).
    pub error: Option<String>,
    file_id: i64,
}

fn key(a: &Asset, file_id: i64) -> String {
    if !a.remote {
        if let Some(m) = a.macs.first() {
            return format!("mac:{m}");
        }
    }
    match a.ips.first() {
        Some(ip) => format!("ip:{ip}"),
        None => format!("run:{file_id}:{}", a.id),
    }
}

fn asset_row(a: &Asset, detail: String, file_id: i64) -> AssetRow {
    AssetRow {
        key: key(a, file_id),
        label: output::label(a),
        ips: a.ips.iter().map(|i| i.to_string()).collect(),
        macs: a.macs.iter().map(|m| m.to_string()).collect(),
        role: a.role.name().to_string(),
        purdue_level: a.role.purdue_level(),
        vendor: output::vendor(a).map(str::to_string),
        remote: a.remote,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        detail,
        evidence: a
            .attrs
            .iter()
            .map(|(k, v)| EvidenceRow {
                attribute: k.clone(),
                value: v.value.clone(),
                source: v.source.to_string(),
                confidence: v.confidence,
                first_seen: v.first_seen,
                last_seen: v.last_seen,
                flow_id: v.flow_id,
                seen: v.seen,
            })
            .collect(),
    }
}

impl StoreSink {
    fn new(ingest: Ingest, file_id: i64) -> Self {
        StoreSink {
            ingest,
            w: JsonWriter::new(),
            ids: HashMap::new(),
            error: None,
            file_id,
        }
    }

    fn fail(&mut self, e: plantshield_store::StoreError) {
        self.error.get_or_insert_with(|| e.to_string());
    }

    fn file_id(&self) -> i64 {
        self.file_id
    }
}

impl EventSink for StoreSink {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.w.clear();
        write_event(&mut self.w, SENSOR, MAX_VALUES, env, ev);
        let line = self.w.as_bytes();
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut row = EventRow {
            ts_ns: env.ts_ns,
            event_type: ev.event_type().to_string(),
            protocol: env.app_proto.map(str::to_string),
            src_ip: env.src.map(|(ip, _)| ip.to_string()),
            dest_ip: env.dst.map(|(ip, _)| ip.to_string()),
            flow_id: env.flow_id,
            json: String::from_utf8_lossy(line).into_owned(),
            ..EventRow::default()
        };
        if let Some(ics) = ev.ics() {
            row.protocol = Some(ev.event_type().to_string());
            row.operation = Some(ics.operation.name().to_string());
            row.status = Some(ics.status.name().to_string());
        }
        if let Event::Ext(x) = ev {
            if let Some(a) = x.as_any().downcast_ref::<AssetEvent>() {
                self.asset_event(a);
            } else if let Some(a) = x.as_any().downcast_ref::<Alert>() {
                row.protocol = a.protocol.map(str::to_string);
                match self.ingest.alert(&alert_row(a)) {
                    Ok(id) => row.alert_id = Some(id),
                    Err(e) => self.fail(e),
                }
            }
        }
        if let Err(e) = self.ingest.event(row) {
            self.fail(e);
        }
    }

    fn observe(&mut self, _obs: &Observation<'_>) {}
}

fn alert_row(a: &Alert) -> AlertRow {
    let events: Vec<serde_json::Value> = a
        .refs
        .iter()
        .map(|r| {
            serde_json::json!({
                "flow_id": r.flow_id,
                "event_id": r.event_id,
                "ts_ns": r.ts,
                "timestamp": platform::queries::time(r.ts),
            })
        })
        .collect();
    AlertRow {
        rule_id: a.rule.id.to_string(),
        rule: a.rule.name.to_string(),
        severity: a.rule.severity.name().to_string(),
        techniques: a.rule.techniques.iter().map(|t| t.to_string()).collect(),
        message: a.message.clone(),
        protocol: a.protocol.map(str::to_string),
        src_ip: a.src.map(|i| i.to_string()),
        dest_ip: a.dst.map(|i| i.to_string()),
        count: a.count,
        first_seen: a.first_ts,
        last_seen: a.last_ts,
        events: serde_json::Value::Array(events).to_string(),
    }
}

impl StoreSink {
    fn asset_event(&mut self, a: &AssetEvent) {
        let fid = self.file_id();
        let mut w = JsonWriter::new();
        w.begin_object();
        w.u64_field("id", u64::from(a.asset.id));
        output::asset_fields(&mut w, &a.asset);
        w.end_object();
        let detail = String::from_utf8_lossy(w.as_bytes()).into_owned();
        let row = asset_row(&a.asset, detail, fid);
        let id = match self.ingest.upsert_asset(&row) {
            Ok(id) => id,
            Err(e) => return self.fail(e),
        };
        self.ids.insert(a.asset.id, id);
        let c = &a.change;
        let h = HistoryRow {
            ts_ns: c.ts,
            change: c.kind.name().to_string(),
            attribute: c.attribute.clone(),
            old: c.old.clone(),
            new: c.new.clone(),
            source: c.source.to_string(),
        };
        if let Err(e) = self.ingest.history(id, &h) {
            self.fail(e);
        }
    }
}

/// What ingesting one capture did.
#[derive(Debug)]
pub struct Outcome {
    /// The capture's name.
    pub name: String,
    /// Skipped: already ingested.
    pub skipped: bool,
    /// Events written.
    pub events: u64,
    /// The error, if it failed.
    pub error: Option<String>,
}

/// SHA-256 of a file's content, streamed.
pub fn file_sha256(p: &Path) -> std::io::Result<(String, u64)> {
    let mut f = File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, n))
}

/// Ingests one capture into the store at `db` (skipped when its content
/// was ingested before).
pub fn ingest_file(db: &Path, capture: &Path, policy: Option<&Policy>) -> Outcome {
    let name = capture.display().to_string();
    let fail = |e: String| Outcome {
        name: name.clone(),
        skipped: false,
        events: 0,
        error: Some(e),
    };
    let (sha, bytes) = match file_sha256(capture) {
        Ok(x) => x,
        Err(e) => return fail(format!("cannot read {name}: {e}")),
    };
    let mut conn = match platform::open(db) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let base = capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let file_id = match platform::begin_file(&mut conn, &sha, &base, bytes) {
        Ok(FileState::Done(_)) => {
            return Outcome {
                name,
                skipped: true,
                events: 0,
                error: None,
            }
        }
        Ok(FileState::Ingest(id)) => id,
        Err(e) => return fail(e.to_string()),
    };
    let reader = match File::open(capture)
        .map_err(|e| e.to_string())
        .and_then(|f| CaptureReader::new(std::io::BufReader::new(f)).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return fail(format!("{name}: {e}")),
    };
    let mut sink = StoreSink::new(Ingest::new(conn, Some(file_id)), file_id);
    let mut engine = Engine::new(&mut sink, InventoryConfig::default());
    if let Some(p) = policy {
        engine.set_policy(p.clone());
    }
    let mut sensor = Sensor::new(SensorConfig::default());
    let mut reader = reader;
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => sensor.process(&p, &mut engine),
            Ok(None) => break,
            Err(e) => {
                sensor.capture_error(&base, &e, &mut engine);
                break;
            }
        }
    }
    sensor.add_input_bytes(bytes);
    sensor.finish(&mut engine);
    let Engine { inventory, .. } = engine;
    let sink = &mut sink;
    // The final inventory: identity with evidence, totals, edges.
    for a in inventory.assets() {
        let mut w = JsonWriter::new();
        output::asset_json(&mut w, a, &inventory);
        let detail = String::from_utf8_lossy(w.as_bytes()).into_owned();
        match sink.ingest.upsert_asset(&asset_row(a, detail, file_id)) {
            Ok(id) => {
                sink.ids.insert(a.id, id);
            }
            Err(e) => sink.fail(e),
        }
    }
    for e in inventory.edges() {
        let (Some(&c), Some(&s)) = (sink.ids.get(&e.client), sink.ids.get(&e.server)) else {
            continue;
        };
        let mut ops = serde_json::Map::new();
        for op in Operation::ALL {
            let n = e.operations[op as usize];
            if n > 0 {
                ops.insert(op.name().into(), n.into());
            }
        }
        let row = EdgeRow {
            client_id: c,
            server_id: s,
            protocol: e.protocol.to_string(),
            transactions: e.transactions,
            flows: e.flows,
            bytes_toserver: e.bytes_toserver,
            bytes_toclient: e.bytes_toclient,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            operations: serde_json::Value::Object(ops).to_string(),
        };
        sink.ingest.edge(row);
    }
    if sink.error.is_none() {
        if let Err(e) = sink.ingest.finish() {
            sink.fail(e);
        }
    } else if let Err(e) = sink.ingest.flush() {
        sink.fail(e);
    }
    Outcome {
        name,
        skipped: false,
        events: sink.ingest.written(),
        error: sink.error.take(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The shipped sample split into its first and second half of records
    /// (classic pcap): two captures with the same pairs.
    fn halves(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/plant-cell.pcap");
        let b = std::fs::read(p).unwrap();
        assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
        let mut recs = Vec::new();
        let mut i = 24;
        while i + 16 <= b.len() {
            let n = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
            recs.push(&b[i..i + 16 + n]);
            i += 16 + n;
        }
        let mid = recs.len() / 2;
        let write = |name: &str, rs: &[&[u8]]| {
            let mut out = b[..24].to_vec();
            for r in rs {
                out.extend_from_slice(r);
            }
            let p = dir.join(name);
            std::fs::write(&p, out).unwrap();
            p
        };
        (write("a.pcap", &recs[..mid]), write("b.pcap", &recs[mid..]))
    }

    /// (client key, server key, protocol) to (transactions, operations).
    type Edges = BTreeMap<(String, String, String), (i64, BTreeMap<String, i64>)>;

    /// Edges by (client key, server key, protocol): transactions and operations.
    fn edges(db: &Path) -> Edges {
        let c = platform::open(db).unwrap();
        let mut st = c
            .prepare(
                "SELECT a.key, b.key, e.protocol, e.transactions, e.operations FROM edges e \
                 JOIN assets a ON a.id = e.client_id JOIN assets b ON b.id = e.server_id",
            )
            .unwrap();
        let rows = st
            .query_map([], |r| {
                let ops: String = r.get(4)?;
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?),
                    (r.get(3)?, serde_json::from_str(&ops).unwrap()),
                ))
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    #[test]
    fn a_second_capture_adds_to_edge_operation_counts_and_a_reread_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = halves(dir.path());
        let db_a = dir.path().join("a.db");
        let db_b = dir.path().join("b.db");
        let db = dir.path().join("ab.db");
        for (db, caps) in [(&db_a, vec![&a]), (&db_b, vec![&b]), (&db, vec![&a, &b])] {
            for c in caps {
                let o = ingest_file(db, c, None);
                assert!(o.error.is_none() && !o.skipped, "{o:?}");
            }
        }
        let (ea, eb, both) = (edges(&db_a), edges(&db_b), edges(&db));
        // Some pair talks in both halves, with operations.
        let shared: Vec<_> = ea
            .keys()
            .filter(|k| !ea[*k].1.is_empty() && eb.get(*k).is_some_and(|e| !e.1.is_empty()))
            .collect();
        assert!(!shared.is_empty(), "{ea:?} / {eb:?}");
        for (k, (tx, ops)) in &both {
            let (ta, oa) = ea.get(k).cloned().unwrap_or_default();
            let (tb, ob) = eb.get(k).cloned().unwrap_or_default();
            assert_eq!(*tx, ta + tb, "{k:?}");
            let mut want = oa.clone();
            for (op, n) in ob {
                *want.entry(op).or_default() += n;
            }
            assert_eq!(ops, &want, "{k:?}");
        }
        assert!(both
            .keys()
            .all(|k| ea.contains_key(k) || eb.contains_key(k)));
        // A restart that reads A again: skipped, the counts stay.
        let o = ingest_file(&db, &a, None);
        assert!(o.skipped, "{o:?}");
        assert_eq!(edges(&db), both);
    }
}
