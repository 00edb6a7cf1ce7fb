// PlantShield web UI: a single page over the REST API. No framework, no
// build step. Every value from the API goes into the page as text.
"use strict";

const state = { user: null, csrf: null, stream: null, view: null, refresh: null };

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}
const SVGNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const k of kids.flat(Infinity)) if (k) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") {
    opts.headers["X-CSRF-Token"] = state.csrf || "";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opts);
  if (r.status === 401 && path !== "/api/session") {
    state.user = null;
    location.hash = "#/login";
    throw new Error("not logged in");
  }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) {
    const e = new Error((data && data.message) || r.statusText);
    e.status = r.status; e.data = data;
    throw e;
  }
  return data;
}

const main = () => document.getElementById("main");
function show(...kids) { const m = main(); m.replaceChildren(...kids); }
function fmtTime(t) { return t ? t.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC") : ""; }
function sev(sv) { return h("span", { class: "sev " + sv, text: sv }); }
function statusTag(st) { return h("span", { class: "status " + st, text: st }); }
function technique(t) {
  return h("a", { href: "https://attack.mitre.org/techniques/" + encodeURIComponent(t) + "/",
                  target: "_blank", rel: "noopener noreferrer", class: "technique", text: t });
}
function fmtBytes(n) {
  if (n > 1e9) return (n / 1e9).toFixed(1) + " GB";
  if (n > 1e6) return (n / 1e6).toFixed(1) + " MB";
  if (n > 1e3) return (n / 1e3).toFixed(1) + " kB";
  return n + " B";
}
function table(cols, rows, onclick) {
  return h("table", {},
    h("thead", {}, h("tr", {}, cols.map(c => h("th", { text: c[0] })))),
    h("tbody", {}, rows.map(r => h("tr", onclick ? { class: "click", onclick: () => onclick(r) } : {},
      cols.map(c => { const v = c[1](r); return h("td", {}, v instanceof Node ? v : (v === null || v === undefined ? "" : String(v))); })))));
}

// ---------------------------------------------------------------- charts
function barChart(items, label, value, opts = {}) {
  const w = opts.width || 520, bh = 20, pad = 150;
  const max = Math.max(1, ...items.map(value));
  const ht = Math.max(bh, items.length * (bh + 4)) + 4;
  const svg = s("svg", { viewBox: `0 0 ${w} ${ht}`, width: "100%", style: `max-width:${w}px`, role: "img", "aria-label": opts.title || "chart" });
  items.forEach((it, i) => {
    const y = i * (bh + 4);
    const len = Math.max(1, (w - pad - 70) * value(it) / max);
    svg.append(s("text", { x: 0, y: y + 14, text: String(label(it)).slice(0, 24) }),
      s("rect", { class: "bar" + (opts.alert ? " alert" : ""), x: pad, y, width: len, height: bh }),
      s("text", { x: pad + len + 4, y: y + 14, text: opts.fmt ? opts.fmt(value(it)) : value(it) }));
  });
  return svg;
}
function timeChart(points) {
  const w = 560, hgt = 150, pad = 24;
  const svg = s("svg", { viewBox: `0 0 ${w} ${hgt + 30}`, width: "100%", style: `max-width:${w}px`, role: "img", "aria-label": "alerts over time" });
  if (!points.length) { svg.append(s("text", { x: 10, y: 20, text: "no alerts" })); return svg; }
  const max = Math.max(1, ...points.map(p => p.alerts));
  const bw = Math.min(40, Math.max(2, (w - pad) / points.length - 2));
  points.forEach((p, i) => {
    const bh = (hgt - 10) * p.alerts / max;
    const x = pad + i * (bw + 2);
    svg.append(s("rect", { class: "bar alert", x, y: hgt - bh, width: bw, height: bh },
      s("title", { text: fmtTime(p.hour) + ": " + p.alerts })));
  });
  svg.append(s("text", { x: 0, y: 12, text: String(max) }), s("text", { x: 0, y: hgt, text: "0" }),
    s("text", { x: pad, y: hgt + 16, text: fmtTime(points[0].hour) }),
    s("text", { x: w - 150, y: hgt + 16, text: fmtTime(points[points.length - 1].hour) }));
  return svg;
}

// ---------------------------------------------------------------- views
async function viewLogin() {
  const err = h("p", { class: "error", id: "login-error" });
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pw = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "login", id: "login-form", onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = "";
      try {
        const r = await api("POST", "/api/session", { username: user.value, password: pw.value });
        state.user = r; state.csrf = r.csrf_token;
        startStream();
        location.hash = "#/dashboard";
      } catch (x) { err.textContent = x.status === 429 ? "Too many failed logins: wait and try again." : "Wrong username or password."; }
    } },
    h("h1", { text: "Log in to PlantShield" }),
    h("label", { for: "username", text: "User name" }), user,
    h("label", { for: "password", text: "Password" }), pw,
    h("p", {}, h("button", { class: "primary", type: "submit", id: "login-button", text: "Log in" })), err);
  show(form);
}

async function viewDashboard() {
  const st = await api("GET", "/api/stats");
  const t = st.totals;
  const card = (n, label, id) => h("div", { class: "card", id }, h("div", { class: "n", text: n }), h("div", { class: "muted", text: label }));
  show(h("h1", { text: "Dashboard" }),
    h("div", { class: "cards" },
      card(t.assets, "assets", "card-assets"), card(t.alerts.open || 0, "open alerts", "card-open-alerts"),
      card(t.alerts.acknowledged || 0, "acknowledged", "card-ack"), card(t.events, "events", "card-events"),
      card(t.edges, "communication pairs", "card-edges"), card(t.captures, "captures ingested", "card-captures")),
    h("div", { class: "grid" },
      h("section", { class: "panel", id: "alerts-over-time" }, h("h2", { text: "Alerts over time (hourly, capture time)" }), timeChart(st.alerts_over_time)),
      h("section", { class: "panel", id: "risk-by-zone" }, h("h2", { text: "Risk by zone" + (st.zones_from === "subnet" ? " (subnets; upload a policy for zones)" : "") }),
        st.risk_by_zone.length ? barChart(st.risk_by_zone, z => z.zone, z => z.risk, { alert: true, title: "risk by zone" }) : h("p", { class: "muted", text: "no assets" })),
      h("section", { class: "panel", id: "protocol-mix" }, h("h2", { text: "Protocol mix (events)" }),
        st.protocol_mix.length ? barChart(st.protocol_mix, p => p.protocol, p => p.events, { title: "protocol mix" }) : h("p", { class: "muted", text: "no protocol events" })),
      h("section", { class: "panel", id: "top-talkers" }, h("h2", { text: "Top talkers" }),
        barChart(st.top_talkers, t => t.label, t => t.bytes, { fmt: fmtBytes, title: "top talkers" })),
      h("section", { class: "panel", id: "new-assets" }, h("h2", { text: "New assets" }),
        table([["Asset", a => h("a", { href: "#/assets/" + a.id, text: a.label })], ["Role", a => a.role], ["Vendor", a => a.vendor], ["First seen", a => fmtTime(a.first_seen)]], st.new_assets))));
}

async function viewAssets() {
  const q = h("input", { id: "asset-filter", placeholder: "filter (address, vendor, model…)" });
  const holder = h("div", {});
  async function load() {
    const r = await api("GET", "/api/assets?limit=1000" + (q.value ? "&q=" + encodeURIComponent(q.value) : ""));
    holder.replaceChildren(h("p", { class: "muted", id: "asset-count", text: r.total + " assets" }),
      table([["Id", a => a.id], ["Asset", a => h("a", { href: "#/assets/" + a.id, text: a.label })], ["IP", a => a.ips.join(", ")],
             ["MAC", a => a.macs.join(", ")], ["Vendor", a => a.vendor], ["Role", a => a.role], ["Purdue", a => a.purdue_level],
             ["Zone", a => a.zone], ["Open alerts", a => a.open_alerts], ["Risk", a => a.risk]], r.items, a => { location.hash = "#/assets/" + a.id; }));
  }
  show(h("h1", { text: "Assets" }), h("form", { class: "inline", onsubmit: e => { e.preventDefault(); load(); } }, q, h("button", { class: "primary", text: "Filter" })), holder);
  await load();
}

async function viewAsset(id) {
  const [a, edges, alerts, hist] = await Promise.all([
    api("GET", "/api/assets/" + id), api("GET", "/api/edges?asset=" + id),
    api("GET", "/api/alerts?asset=" + id), api("GET", "/api/assets/" + id + "/history")]);
  const d = a.detail || {};
  const comm = table([["Client", e => h("a", { href: "#/assets/" + e.client, text: e.client_label })], ["Server", e => h("a", { href: "#/assets/" + e.server, text: e.server_label })],
    ["Protocol", e => e.protocol], ["Transactions", e => e.transactions], ["Operations", e => Object.entries(e.operations).map(([k, v]) => k + " " + v).join(", ")],
    ["Bytes", e => fmtBytes(e.bytes_toserver + e.bytes_toclient)]], edges.items);
  comm.id = "communications";
  const kv = (k, v) => [h("dt", { text: k }), h("dd", {}, v === null || v === undefined ? "" : v)];
  show(h("h1", { id: "asset-title", text: "Asset " + a.label }),
    h("div", { class: "grid" },
      h("section", { class: "panel", id: "identity" }, h("h2", { text: "Identity" }),
        h("dl", { class: "kv" }, kv("IP", a.ips.join(", ")), kv("MAC", a.macs.join(", ")), kv("Vendor", a.vendor), kv("Role", a.role),
          kv("Purdue level", a.purdue_level), kv("Zone", a.zone), kv("Risk", a.risk), kv("First seen", fmtTime(a.first_seen)), kv("Last seen", fmtTime(a.last_seen)),
          kv("Why this role", (d.role_reasons || []).join("; ")))),
      h("section", { class: "panel", id: "evidence" }, h("h2", { text: "Identity evidence" }),
        a.evidence.length ? table([["Attribute", e => e.attribute], ["Value", e => e.value], ["Source", e => e.source], ["Confidence", e => e.confidence], ["Seen", e => e.seen], ["Last seen", e => fmtTime(e.last_seen)]], a.evidence)
          : h("p", { class: "muted", text: "no identity facts seen" }))),
    h("h2", { text: "Communications" }),
    comm,
    h("h2", { text: "Alerts" }),
    alertTable(alerts.items, "asset-alerts"),
    h("h2", { text: "Firmware and identity history" }),
    hist.items.length ? table([["Time", x => fmtTime(x.timestamp)], ["Change", x => x.change], ["Attribute", x => x.attribute], ["Old", x => x.old], ["New", x => x.new], ["Source", x => x.source]], hist.items)
      : h("p", { class: "muted", text: "no changes" }));
}

function alertTable(items, id) {
  const t = table([["Id", a => a.id], ["Severity", a => sev(a.severity)], ["Rule", a => a.rule], ["Message", a => a.message],
    ["ATT&CK", a => h("span", {}, a.mitre_attack.map((t, i) => [i ? " " : "", technique(t)]))], ["Status", a => statusTag(a.status)],
    ["Assignee", a => a.assignee], ["Count", a => a.count], ["First seen", a => fmtTime(a.first_seen)]], items, a => { location.hash = "#/alerts/" + a.id; });
  if (id) t.id = id;
  return t;
}

async function viewAlerts() {
  const sel = h("select", { id: "alert-status" }, ["", "open", "acknowledged", "closed"].map(v => h("option", { value: v, text: v || "any status" })));
  const holder = h("div", {});
  async function load() {
    const r = await api("GET", "/api/alerts?limit=500" + (sel.value ? "&status=" + sel.value : ""));
    holder.replaceChildren(h("p", { class: "muted", id: "alert-count", text: r.total + " alerts" }), alertTable(r.items, "alert-list"));
  }
  sel.addEventListener("change", load);
  show(h("h1", { text: "Alerts" }), h("form", { class: "inline" }, sel), holder);
  await load();
}

async function viewAlert(id) {
  const [a, evs] = await Promise.all([api("GET", "/api/alerts/" + id), api("GET", "/api/events?alert=" + id + "&limit=50")]);
  const comment = h("textarea", { id: "alert-comment", rows: 2, cols: 60, placeholder: "comment" });
  const assignee = h("input", { id: "alert-assignee", placeholder: "user name" });
  const msg = h("p", { id: "alert-message", class: "muted" });
  const act = (what, body) => async () => {
    try {
      await api("POST", "/api/alerts/" + id + "/" + what, body());
      await viewAlert(id);
      document.getElementById("alert-message").textContent = "Done: " + what;
    } catch (e) { msg.textContent = "Failed: " + e.message; msg.className = "error"; }
  };
  const canAct = state.user && state.user.role !== "viewer";
  show(h("h1", { id: "alert-title", text: "Alert " + a.id + ": " + a.rule }),
    h("dl", { class: "kv", id: "alert-detail" },
      h("dt", { text: "Severity" }), h("dd", {}, sev(a.severity)),
      h("dt", { text: "Status" }), h("dd", { id: "alert-status-value" }, statusTag(a.status)),
      h("dt", { text: "Assignee" }), h("dd", { text: a.assignee || "—" }),
      h("dt", { text: "Message" }), h("dd", { text: a.message }),
      h("dt", { text: "Rule" }), h("dd", { text: a.rule_id }),
      h("dt", { text: "ATT&CK for ICS" }), h("dd", { id: "alert-techniques" }, a.mitre_attack.map((t, i) => [i ? ", " : "", technique(t)])),
      h("dt", { text: "Source → destination" }), h("dd", { text: (a.src_ip || "?") + " → " + (a.dest_ip || "?") }),
      h("dt", { text: "Occurrences" }), h("dd", { text: a.count + " (" + fmtTime(a.first_seen) + " – " + fmtTime(a.last_seen) + ")" })),
    canAct ? h("section", { class: "panel", id: "workflow" }, h("h2", { text: "Workflow" }), comment, h("p", {},
      h("button", { class: "act", id: "ack-button", onclick: act("acknowledge", () => ({ comment: comment.value })), text: "Acknowledge" }), " ",
      h("button", { class: "act warn", id: "close-button", onclick: act("close", () => ({ comment: comment.value })), text: "Close" }), " ",
      assignee, " ", h("button", { class: "act", id: "assign-button", onclick: act("assign", () => ({ assignee: assignee.value, comment: comment.value })), text: "Assign" })), msg)
      : h("p", { class: "muted", text: "Viewers cannot change alerts." }),
    h("h2", { text: "Comments" }),
    a.comments.length ? table([["Time", c => fmtTime(c.timestamp)], ["User", c => c.username], ["Action", c => c.action], ["Text", c => c.text]], a.comments) : h("p", { class: "muted", text: "none" }),
    h("h2", { text: "Events behind it" }),
    table([["Time", e => fmtTime(e.event.timestamp)], ["Type", e => e.event.event_type], ["Source", e => e.event.src_ip], ["Destination", e => e.event.dest_ip],
           ["Function", e => e.event.ics ? e.event.ics.function : ""]], evs.items, e => showJson(e.event)));
}

function showJson(ev) {
  const pre = document.getElementById("event-json") || h("pre", { id: "event-json" });
  pre.textContent = JSON.stringify(ev, null, 2);
  main().append(pre);
}

async function viewEvents() {
  const f = { q: h("input", { id: "ev-q", placeholder: "free text" }), protocol: h("input", { id: "ev-protocol", placeholder: "protocol", size: 10 }),
              operation: h("input", { id: "ev-operation", placeholder: "operation", size: 10 }),
              from: h("input", { id: "ev-from", placeholder: "from (RFC 3339)", size: 22 }), to: h("input", { id: "ev-to", placeholder: "to", size: 22 }) };
  const holder = h("div", {});
  let offset = 0;
  async function load() {
    const qs = Object.entries(f).filter(([, el]) => el.value).map(([k, el]) => k + "=" + encodeURIComponent(el.value)).join("&");
    const r = await api("GET", "/api/events?limit=50&offset=" + offset + (qs ? "&" + qs : ""));
    holder.replaceChildren(h("div", { class: "pager" },
        h("button", { onclick: () => { offset = Math.max(0, offset - 50); load(); }, text: "‹ newer" }),
        h("span", { id: "event-count", text: (r.total_exact === false ? "more than " + r.total : r.total) + " events, " + (r.items.length ? offset + 1 : 0) + "–" + (offset + r.items.length) }),
        h("button", { onclick: () => { if (r.items.length === 50) { offset += 50; load(); } }, text: "older ›" })),
      table([["Time", e => fmtTime(e.event.timestamp)], ["Type", e => e.event.event_type], ["Source", e => e.event.src_ip], ["Destination", e => e.event.dest_ip],
             ["Operation", e => e.event.ics ? e.event.ics.operation : ""], ["Function", e => e.event.ics ? e.event.ics.function : ""], ["Status", e => e.event.ics ? e.event.ics.status : ""]],
        r.items, e => showJson(e.event)));
  }
  show(h("h1", { text: "Events" }), h("form", { class: "inline", onsubmit: e => { e.preventDefault(); offset = 0; load(); } }, Object.values(f), h("button", { class: "primary", text: "Search" })), holder);
  await load();
}

const LEVELS = [[0, "Level 0–1: process and control"], [1, "Level 1: controllers"], [2, "Level 2: supervisory"], [3, "Level 3: operations"], [4, "Level 4+: enterprise"], [-1, "Unknown level"]];
async function viewMap() {
  const m = await api("GET", "/api/map");
  const by = h("select", { id: "map-group" }, h("option", { value: "purdue", text: "group by Purdue level" }), h("option", { value: "zone", text: "group by zone" }));
  const holder = h("div", { id: "map-holder" });
  function draw() {
    const groups = new Map();
    for (const n of m.nodes) {
      const k = by.value === "zone" ? n.zone : (n.purdue_level === null ? -1 : n.purdue_level);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(n);
    }
    let keys = [...groups.keys()];
    keys.sort((a, b) => by.value === "zone" ? String(a).localeCompare(String(b)) : ((b < 0 ? -99 : b) - (a < 0 ? -99 : a)));
    const W = 1100, bandH = 120, r = 9;
    const svg = s("svg", { id: "network-map", width: W, height: Math.max(1, keys.length) * bandH + 10, role: "img", "aria-label": "network map" });
    const pos = new Map();
    const bands = s("g", {}), edges = s("g", {}), nodes = s("g", {});
    keys.forEach((k, i) => {
      const y0 = i * bandH + 5;
      const label = by.value === "zone" ? "Zone " + k : ((LEVELS.find(l => l[0] === k) || [0, "Level " + k])[1]);
      bands.append(s("rect", { class: "band", x: 0, y: y0, width: W, height: bandH - 8, rx: 6 }), s("text", { class: "bandlabel", x: 8, y: y0 + 16, text: label }));
      const list = groups.get(k);
      list.forEach((n, j) => {
        const x = 180 + (j + 0.5) * ((W - 200) / list.length);
        const y = y0 + bandH / 2 + ((j % 2) ? 14 : -6);
        pos.set(n.id, [x, y]);
        const color = n.open_alerts > 0 ? "#d9480f" : (n.remote ? "#868e96" : "#0b6bcb");
        nodes.append(s("g", { class: "node", "data-id": n.id, onclick: () => { location.hash = "#/assets/" + n.id; } },
          s("circle", { cx: x, cy: y, r: r + Math.min(8, n.risk), fill: color }, s("title", { text: n.label + " (" + n.role + ")" })),
          s("text", { x: x + 12, y: y + 4, text: n.label })));
      });
    });
    for (const e of m.edges) {
      const a = pos.get(e.client), b = pos.get(e.server);
      if (a && b) edges.append(s("line", { class: "edge", x1: a[0], y1: a[1], x2: b[0], y2: b[1], "stroke-width": Math.min(6, 1 + Math.log10(1 + e.transactions)) },
        s("title", { text: e.client_label + " → " + e.server_label + " " + e.protocol })));
    }
    svg.append(bands, edges, nodes);
    holder.replaceChildren(h("p", { class: "muted", id: "map-summary", text: m.nodes.length + " assets, " + m.edges.length + " communication edges; click an asset to open it" }), svg);
  }
  by.addEventListener("change", draw);
  show(h("h1", { text: "Network map" }), h("form", { class: "inline" }, by), holder);
  draw();
}

async function viewAudit() {
  const r = await api("GET", "/api/audit?limit=200");
  show(h("h1", { text: "Audit trail" }), h("p", { class: "muted", text: "User actions on this platform, newest first. Control operations seen on the network are in the hash-chained log (plantshield audit)." }),
    (() => { const t = table([["Time", x => fmtTime(x.timestamp)], ["User", x => x.username], ["Action", x => x.action], ["Target", x => x.target], ["Detail", x => x.detail], ["From", x => x.remote]], r.items); t.id = "audit-list"; return t; })());
}

async function viewPolicy() {
  const p = await api("GET", "/api/policy");
  const text = h("textarea", { id: "policy-text", rows: 18, cols: 100 });
  text.value = p.text || "";
  const out = h("div", { id: "policy-result" });
  const report = r => out.replaceChildren(h("p", { class: r.valid ? "" : "error", text: r.valid ? "Valid." : "Invalid." }),
    r.diagnostics.length ? table([["Line", d => d.line], ["Column", d => d.column], ["Kind", d => d.warning ? "warning" : "error"], ["Message", d => d.message]], r.diagnostics) : "");
  const run = put => async () => {
    try { report(await api(put ? "PUT" : "POST", put ? "/api/policy" : "/api/policy/validate", { name: "policy.toml", text: text.value })); }
    catch (e) { if (e.data && e.data.diagnostics) report(e.data); else out.textContent = e.message; }
  };
  show(h("h1", { text: "Policy" }), h("p", { class: "muted", text: p.name ? "Current: " + p.name + ", uploaded " + fmtTime(p.uploaded) + " by " + p.uploaded_by : "No policy uploaded: zones are subnets." }),
    text, h("p", {}, h("button", { class: "act", onclick: run(false), text: "Validate" }), " ", h("button", { class: "act warn", onclick: run(true), text: "Upload" })), out);
}

async function viewUsers() {
  const r = await api("GET", "/api/users");
  const msg = h("p", { id: "users-message", role: "status" });
  const roles = cur => h("select", {}, ["viewer", "analyst", "admin"].map(x => h("option", { value: x, selected: x === cur, text: x })));
  // After each action the list is read again, so that it shows what the
  // server holds (a refused change leaves the old values), then the outcome.
  const run = (what, f) => async () => {
    let text = "Done: " + what, error = false;
    try { await f(); } catch (e) { text = "Failed: " + what + ": " + e.message; error = true; }
    await viewUsers();
    const m = document.getElementById("users-message");
    m.textContent = text; m.className = error ? "error" : "";
  };
  const rows = r.items.map(u => {
    const role = roles(u.role);
    const pw = h("input", { type: "password", placeholder: "new password", autocomplete: "new-password", class: "reset-password" });
    return h("tr", { "data-username": u.username },
      h("td", { class: "username", text: u.username }),
      h("td", {}, role, " ", h("button", { class: "act set-role", onclick: run("role of " + u.username, () => api("PUT", "/api/users/" + u.id, { role: role.value })), text: "Set role" })),
      h("td", { class: "user-status", text: u.disabled ? "disabled" : "enabled" }),
      h("td", { text: fmtTime(u.created) }),
      h("td", {},
        h("button", { class: "act toggle-user", onclick: run((u.disabled ? "enable " : "disable ") + u.username, () => api("PUT", "/api/users/" + u.id, { disabled: !u.disabled })), text: u.disabled ? "Enable" : "Disable" }), " ",
        pw, " ", h("button", { class: "act reset-button", onclick: run("password of " + u.username, () => api("POST", "/api/users/" + u.id + "/password", { password: pw.value })), text: "Reset password" }), " ",
        h("button", { class: "act warn delete-user", onclick: run("delete " + u.username, () => api("DELETE", "/api/users/" + u.id)), text: "Delete" })));
  });
  const name = h("input", { id: "new-username", placeholder: "user name", autocomplete: "off" });
  const pass = h("input", { id: "new-password", type: "password", placeholder: "password (8+ characters)", autocomplete: "new-password" });
  const role = roles("viewer"); role.id = "new-role";
  const create = h("button", { class: "act", id: "create-user", text: "Create user", onclick: run("create user", () => api("POST", "/api/users", { username: name.value, password: pass.value, role: role.value })) });
  show(h("h1", { text: "Users" }),
    h("p", { class: "muted", text: "Every change is in the audit trail. The last enabled admin cannot be demoted, disabled or deleted." }),
    msg,
    h("table", { id: "user-list" },
      h("thead", {}, h("tr", {}, ["User", "Role", "Status", "Created", "Actions"].map(c => h("th", { text: c })))),
      h("tbody", {}, rows)),
    h("section", { class: "panel", id: "new-user" }, h("h2", { text: "New user" }), h("p", {}, name, " ", role, " ", pass, " ", create)));
}

// ---------------------------------------------------------------- shell
function startStream() {
  if (state.stream || !window.EventSource) return;
  const live = document.getElementById("live");
  const es = new EventSource("/api/stream");
  state.stream = es;
  let first = true;
  es.addEventListener("update", () => {
    live.textContent = "● live " + new Date().toLocaleTimeString();
    if (first) { first = false; return; }
    if (state.view === "dashboard" || state.view === "alerts") route();
  });
  es.onerror = () => { live.textContent = "○ reconnecting"; };
}

async function route() {
  const hash = location.hash || "#/dashboard";
  const parts = hash.slice(2).split("/");
  if (!state.user) {
    try {
      const r = await api("GET", "/api/session");
      state.user = r; state.csrf = r.csrf_token; startStream();
    } catch (e) { state.user = null; }
  }
  const nav = document.getElementById("nav");
  const logout = document.getElementById("logout");
  if (!state.user || parts[0] === "login") {
    nav.hidden = true; logout.hidden = true; document.getElementById("who").textContent = "";
    state.view = "login";
    if (state.user) { location.hash = "#/dashboard"; return; }
    return viewLogin();
  }
  nav.hidden = false; logout.hidden = false;
  document.getElementById("who").textContent = state.user.username + " (" + state.user.role + ")";
  document.getElementById("nav-users").hidden = state.user.role !== "admin";
  state.view = parts[0];
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.dataset.view === parts[0]);
  const views = { dashboard: viewDashboard, assets: () => parts[1] ? viewAsset(parts[1]) : viewAssets(), map: viewMap,
                  alerts: () => parts[1] ? viewAlert(parts[1]) : viewAlerts(), events: viewEvents, audit: viewAudit, policy: viewPolicy,
                  users: viewUsers };
  const v = views[parts[0]] || viewDashboard;
  try { await v(); }
  catch (e) { if (state.user) show(h("p", { class: "error", text: "Could not load: " + e.message })); }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("DELETE", "/api/session"); } catch (e) { /* already gone */ }
    state.user = null; state.csrf = null;
    if (state.stream) { state.stream.close(); state.stream = null; }
    location.hash = "#/login";
  });
  window.addEventListener("hashchange", route);
  route();
});
