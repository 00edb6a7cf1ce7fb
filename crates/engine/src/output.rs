//! Renderings of the inventory and the communication map: JSON, CSV and a
//! text table for assets; Graphviz dot, GraphML and JSON for the map.

use std::fmt::Write as _;

use plantshield_events::{JsonWriter, Operation};

use crate::inventory::{Asset, Edge, Inventory};
use crate::role;

fn time(ts: i64) -> String {
    let mut v = Vec::new();
    plantshield_events::format_rfc3339_micros(ts, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

/// The best vendor name: self-reported first, then the MAC registry.
pub fn vendor(a: &Asset) -> Option<&str> {
    a.attr("vendor").or_else(|| a.attr("mac_vendor"))
}

/// A short label: the first IP, else the first MAC, else the id.
pub fn label(a: &Asset) -> String {
    match (a.ips.first(), a.macs.first()) {
        (Some(ip), _) => ip.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => format!("asset-{}", a.id),
    }
}

/// Writes the fields describing an asset into an open JSON object.
pub fn asset_fields(w: &mut JsonWriter, a: &Asset) {
    w.begin_array_field("macs");
    for m in &a.macs {
        w.mac_value(m.0);
    }
    w.end_array();
    w.begin_array_field("ips");
    for ip in &a.ips {
        w.ip_value(*ip);
    }
    w.end_array();
    w.bool_field("remote", a.remote);
    w.str_field("role", a.role.name());
    if let Some(l) = a.role.purdue_level() {
        w.u64_field("purdue_level", u64::from(l));
    }
    if let Some(v) = vendor(a) {
        w.str_field("vendor", v);
    }
}

/// One asset as a full JSON object (identity with evidence, behaviour, history).
pub fn asset_json(w: &mut JsonWriter, a: &Asset, inv: &Inventory) {
    w.begin_object();
    w.u64_field("id", u64::from(a.id));
    asset_fields(w, a);
    w.time_field("first_seen", a.first_seen);
    w.time_field("last_seen", a.last_seen);
    w.begin_array_field("role_reasons");
    for r in role::reasons(a) {
        w.str_value(&r);
    }
    w.end_array();
    w.begin_object_field("identity");
    for (k, v) in &a.attrs {
        w.begin_object_field(k);
        w.str_field("value", &v.value);
        w.str_field("source", v.source);
        w.u64_field("confidence", u64::from(v.confidence));
        w.time_field("first_seen", v.first_seen);
        w.time_field("last_seen", v.last_seen);
        if let Some(f) = v.flow_id {
            w.u64_field("flow_id", f);
        }
        w.u64_field("seen", v.seen);
        w.end_object();
    }
    w.end_object();
    w.begin_object_field("serves");
    for (p, n) in &a.served {
        w.u64_field(p, *n);
    }
    w.end_object();
    w.begin_object_field("uses");
    for (p, n) in &a.used {
        w.u64_field(p, *n);
    }
    w.end_object();
    ops(w, "operations_sent", &a.ops_sent);
    ops(w, "operations_received", &a.ops_received);
    w.begin_array_field("peers");
    for e in inv.edges() {
        let other = if e.client == a.id {
            e.server
        } else if e.server == a.id {
            e.client
        } else {
            continue;
        };
        w.begin_object();
        w.u64_field("asset", u64::from(other));
        w.str_field(
            "direction",
            if e.client == a.id { "client" } else { "server" },
        );
        w.str_field("protocol", &e.protocol.to_string());
        w.end_object();
    }
    w.end_array();
    w.begin_array_field("history");
    for h in &a.history {
        w.begin_object();
        w.time_field("timestamp", h.ts);
        w.str_field("attribute", &h.attribute);
        if !h.old.is_empty() {
            w.str_field("old", &h.old);
        }
        w.str_field("new", &h.new);
        w.str_field("source", h.source);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

fn ops(w: &mut JsonWriter, key: &str, counts: &[u64; 13]) {
    w.begin_object_field(key);
    for op in Operation::ALL {
        let n = counts[op as usize];
        if n > 0 {
            w.u64_field(op.name(), n);
        }
    }
    w.end_object();
}

/// The whole inventory as one JSON document.
pub fn inventory_json(inv: &Inventory) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.begin_array_field("assets");
    for a in inv.assets() {
        asset_json(&mut w, a, inv);
    }
    w.end_array();
    w.u64_field("untracked", inv.dropped);
    w.end_object();
    w.newline();
    String::from_utf8_lossy(w.as_bytes()).into_owned()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

const COLUMNS: [&str; 8] = [
    "vendor",
    "product",
    "model",
    "product_code",
    "firmware",
    "order_number",
    "serial_number",
    "hostname",
];

/// The inventory as CSV, one asset per row.
pub fn inventory_csv(inv: &Inventory) -> String {
    let mut out = String::from("id,macs,ips,remote,role,purdue_level,");
    out.push_str(&COLUMNS.join(","));
    out.push_str(",serves,uses,first_seen,last_seen\n");
    for a in inv.assets() {
        let macs: Vec<String> = a.macs.iter().map(|m| m.to_string()).collect();
        let ips: Vec<String> = a.ips.iter().map(|m| m.to_string()).collect();
        let mut row = vec![
            a.id.to_string(),
            macs.join(" "),
            ips.join(" "),
            a.remote.to_string(),
            a.role.name().to_string(),
            a.role
                .purdue_level()
                .map(|l| l.to_string())
                .unwrap_or_default(),
        ];
        for c in COLUMNS {
            let v = if c == "vendor" { vendor(a) } else { a.attr(c) };
            row.push(v.unwrap_or("").to_string());
        }
        row.push(
            a.served
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(" "),
        );
        row.push(a.used.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(" "));
        row.push(time(a.first_seen));
        row.push(time(a.last_seen));
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The inventory as a text table.
pub fn inventory_table(inv: &Inventory) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "ID".into(),
        "IP".into(),
        "MAC".into(),
        "ROLE".into(),
        "VENDOR".into(),
        "PRODUCT / FIRMWARE".into(),
        "PROTOCOLS".into(),
    ]];
    for a in inv.assets() {
        let product = [a.attr("product").or(a.attr("model")), a.attr("firmware")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let protos: Vec<String> = a
            .served
            .iter()
            .map(|(p, _)| format!("{p}(srv)"))
            .chain(a.used.iter().map(|(p, _)| p.to_string()))
            .collect();
        rows.push([
            a.id.to_string(),
            a.ips
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            if a.remote {
                "(remote)".into()
            } else {
                a.macs
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            a.role.name().into(),
            vendor(a).unwrap_or("").chars().take(32).collect(),
            product,
            protos.join(" "),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            out.push_str(c);
            if i + 1 < r.len() {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{} assets", rows.len() - 1);
    out
}

/// Edges between assets that exist (both ends tracked).
fn map_edges(inv: &Inventory) -> Vec<&Edge> {
    inv.edges()
        .into_iter()
        .filter(|e| inv.asset(e.client).is_some() && inv.asset(e.server).is_some())
        .collect()
}

fn map_nodes(inv: &Inventory) -> Vec<&Asset> {
    let edges = map_edges(inv);
    inv.assets()
        .filter(|a| edges.iter().any(|e| e.client == a.id || e.server == a.id))
        .collect()
}

fn edge_ops(e: &Edge) -> String {
    Operation::ALL
        .iter()
        .filter(|op| e.operations[**op as usize] > 0)
        .map(|op| format!("{} {}", op.name(), e.operations[*op as usize]))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The communication map in Graphviz dot, clustered by Purdue level.
pub fn map_dot(inv: &Inventory) -> String {
    let mut out = String::from("digraph plantshield {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    let nodes = map_nodes(inv);
    let levels: std::collections::BTreeSet<Option<u8>> =
        nodes.iter().map(|a| a.role.purdue_level()).collect();
    for level in levels {
        let name = level.map_or("unassigned".to_string(), |l| format!("level{l}"));
        let title = level.map_or("No Purdue level".to_string(), |l| {
            format!("Purdue level {l}")
        });
        let _ = writeln!(out, "  subgraph cluster_{name} {{\n    label=\"{title}\";");
        for a in nodes.iter().filter(|a| a.role.purdue_level() == level) {
            let mut l = format!("{}\\n{}", label(a), a.role.name());
            if let Some(v) = vendor(a) {
                let _ = write!(l, "\\n{}", dot_escape(v));
            }
            let _ = writeln!(out, "    a{} [label=\"{}\"];", a.id, l);
        }
        out.push_str("  }\n");
    }
    for e in map_edges(inv) {
        let ops = edge_ops(e);
        let lbl = if ops.is_empty() {
            e.protocol.to_string()
        } else {
            format!("{}: {}", e.protocol, ops)
        };
        let _ = writeln!(
            out,
            "  a{} -> a{} [label=\"{}\"];",
            e.client,
            e.server,
            dot_escape(&lbl)
        );
    }
    out.push_str("}\n");
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The communication map in GraphML.
pub fn map_graphml(inv: &Inventory) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n\
         <key id=\"label\" for=\"node\" attr.name=\"label\" attr.type=\"string\"/>\n\
         <key id=\"role\" for=\"node\" attr.name=\"role\" attr.type=\"string\"/>\n\
         <key id=\"vendor\" for=\"node\" attr.name=\"vendor\" attr.type=\"string\"/>\n\
         <key id=\"purdue\" for=\"node\" attr.name=\"purdue_level\" attr.type=\"int\"/>\n\
         <key id=\"protocol\" for=\"edge\" attr.name=\"protocol\" attr.type=\"string\"/>\n\
         <key id=\"transactions\" for=\"edge\" attr.name=\"transactions\" attr.type=\"long\"/>\n\
         <key id=\"bytes\" for=\"edge\" attr.name=\"bytes\" attr.type=\"long\"/>\n\
         <key id=\"operations\" for=\"edge\" attr.name=\"operations\" attr.type=\"string\"/>\n\
         <graph id=\"plantshield\" edgedefault=\"directed\">\n",
    );
    for a in map_nodes(inv) {
        let _ = write!(
            out,
            "  <node id=\"a{}\"><data key=\"label\">{}</data><data key=\"role\">{}</data>",
            a.id,
            xml_escape(&label(a)),
            a.role.name()
        );
        if let Some(v) = vendor(a) {
            let _ = write!(out, "<data key=\"vendor\">{}</data>", xml_escape(v));
        }
        if let Some(l) = a.role.purdue_level() {
            let _ = write!(out, "<data key=\"purdue\">{l}</data>");
        }
        out.push_str("</node>\n");
    }
    for (i, e) in map_edges(inv).iter().enumerate() {
        let _ = writeln!(
            out,
            "  <edge id=\"e{i}\" source=\"a{}\" target=\"a{}\"><data key=\"protocol\">{}</data><data key=\"transactions\">{}</data><data key=\"bytes\">{}</data><data key=\"operations\">{}</data></edge>",
            e.client,
            e.server,
            xml_escape(&e.protocol.to_string()),
            e.transactions,
            e.bytes_toserver + e.bytes_toclient,
            xml_escape(&edge_ops(e))
        );
    }
    out.push_str("</graph>\n</graphml>\n");
    out
}

/// The communication map as one JSON document: nodes and edges.
pub fn map_json(inv: &Inventory) -> String {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.begin_array_field("nodes");
    for a in map_nodes(inv) {
        w.begin_object();
        w.u64_field("id", u64::from(a.id));
        w.str_field("label", &label(a));
        asset_fields(&mut w, a);
        w.end_object();
    }
    w.end_array();
    w.begin_array_field("edges");
    for e in map_edges(inv) {
        w.begin_object();
        w.u64_field("client", u64::from(e.client));
        w.u64_field("server", u64::from(e.server));
        w.str_field("protocol", &e.protocol.to_string());
        w.u64_field("transactions", e.transactions);
        w.u64_field("flows", e.flows);
        w.u64_field("bytes_toserver", e.bytes_toserver);
        w.u64_field("bytes_toclient", e.bytes_toclient);
        ops(&mut w, "operations", &e.operations);
        w.time_field("first_seen", e.first_seen);
        w.time_field("last_seen", e.last_seen);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.newline();
    String::from_utf8_lossy(w.as_bytes()).into_owned()
}
