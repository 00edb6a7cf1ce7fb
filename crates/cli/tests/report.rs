//! `plantshield report`: the report's figures equal what `analyze` and
//! `assets` say of the same captures (crafted ones with known alerts and
//! policy violations, and the shipped sample); the HTML is self-contained;
//! values from traffic are escaped; recommendations appear exactly when
//! their trigger is there; the PDF through Debian's Chromium holds the
//! sections and figures (read back with pdftotext); `--pdf` without a
//! converter exits 3 and still writes the HTML; `GET /api/report` needs a
//! session and returns the same figures.

mod common;
#[path = "common/serve.rs"]
mod serve;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serve::Server;

const HOSTILE: &str = "<script>alert(1)</script>";

/// Runs `plantshield report ARGS... -o DIR/report.html`; the HTML.
fn report(dir: &Path, args: &[&str]) -> (Output, String) {
    let out_html = dir.join("report.html");
    let _ = std::fs::remove_file(&out_html);
    let out = Command::new(bin())
        .arg("report")
        .args(args)
        .arg("-o")
        .arg(&out_html)
        .output()
        .expect("run plantshield report");
    let html = std::fs::read_to_string(&out_html).unwrap_or_default();
    (out, html)
}

fn ok_report(dir: &Path, args: &[&str]) -> String {
    let (out, html) = report(dir, args);
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    html
}

/// The value of `data-figure="NAME" data-value="N"`.
fn figure(html: &str, name: &str) -> i64 {
    let key = format!("data-figure=\"{name}\" data-value=\"");
    let i = html
        .find(&key)
        .unwrap_or_else(|| panic!("no figure {name}"))
        + key.len();
    let end = html[i..].find('"').unwrap() + i;
    html[i..end].parse().unwrap()
}

/// Every value of attribute `attr` followed by the attributes `more`.
fn rows(html: &str, attr: &str, more: &[&str]) -> BTreeMap<String, Vec<i64>> {
    let key = format!(" {attr}=\"");
    let mut m = BTreeMap::new();
    let mut rest = html;
    while let Some(i) = rest.find(&key) {
        rest = &rest[i + key.len()..];
        let end = rest.find('"').unwrap();
        let name = rest[..end].to_string();
        let tag_end = rest.find('>').unwrap();
        let tag = &rest[..tag_end];
        let vals = more
            .iter()
            .map(|a| {
                let k = format!("{a}=\"");
                let j = tag.find(&k).unwrap_or_else(|| panic!("{a} in {tag}")) + k.len();
                let e = tag[j..].find('"').unwrap() + j;
                tag[j..e].parse().unwrap()
            })
            .collect();
        m.insert(name, vals);
    }
    m
}

fn recommendations(html: &str) -> BTreeSet<String> {
    rows(html, "data-rec", &[]).into_keys().collect()
}

/// What `analyze` (with the same options) says: events, alerts, and per
/// ATT&CK technique the alerts and occurrences; per rule the alerts.
struct Expected {
    events: i64,
    alerts: i64,
    techniques: BTreeMap<String, Vec<i64>>,
    rules: BTreeMap<String, i64>,
    assets: i64,
}

fn expected(captures: &[&Path], policy: Option<&Path>) -> Expected {
    let mut args: Vec<String> = vec!["--no-progress".into()];
    if let Some(p) = policy {
        args.push("--policy".into());
        args.push(p.to_str().unwrap().into());
    }
    let mut events = 0;
    let mut alerts = 0;
    let mut techniques: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut rules: BTreeMap<String, i64> = BTreeMap::new();
    for c in captures {
        let mut a = args.clone();
        a.push(c.to_str().unwrap().into());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let run = analyze(&a);
        assert!(run.status.success(), "{}", run.stderr);
        events += run.events.len() as i64;
        for al in run.of_type("alert") {
            alerts += 1;
            let al = &al["alert"];
            *rules
                .entry(al["rule_id"].as_str().unwrap().to_string())
                .or_default() += 1;
            for t in al["mitre_attack"].as_array().unwrap() {
                let e = techniques
                    .entry(t.as_str().unwrap().to_string())
                    .or_insert_with(|| vec![0, 0]);
                e[0] += 1;
                e[1] += al["count"].as_i64().unwrap();
            }
        }
    }
    let inv = assets_json(captures);
    Expected {
        events,
        alerts,
        techniques,
        rules,
        assets: inv["assets"].as_array().unwrap().len() as i64,
    }
}

const PLC: [u8; 4] = [10, 0, 0, 10];
const HMI: [u8; 4] = [10, 0, 0, 66];

fn conv() -> Conversation {
    let mut c = Conversation::new(
        ip4(HMI[0], HMI[1], HMI[2], HMI[3]),
        40100,
        ip4(PLC[0], PLC[1], PLC[2], PLC[3]),
        502,
    );
    c.handshake();
    c
}

/// Normal polling: holding register reads, answered.
fn polling(c: &mut Conversation, from: u16) {
    for t in from..from + 20 {
        c.client(&adu(t, 1, &[3, 0, 0, 0, 2]));
        c.server(&adu(t, 1, &[3, 4, 0, 1, 0, 2]));
        c.wait(100_000_000);
    }
}

/// A unit-id scan refused by the device (a discovery sweep, T0846 T0888).
fn unit_scan(c: &mut Conversation) {
    for u in 1..=20u8 {
        c.client(&adu(1000 + u16::from(u), u, &[3, 0, 0, 0, 1]));
        c.server(&adu(1000 + u16::from(u), u, &[0x83, 0x0b]));
    }
}

/// The PLC answers a device identification request with `vendor`,
/// `product` and firmware `fw`.
fn device_id(c: &mut Conversation, vendor: &str, product: &str, fw: &str) {
    c.client(&adu(2000, 1, &[0x2b, 0x0e, 1, 0]));
    let mut r = vec![0x2b, 0x0e, 1, 1, 0, 0, 3];
    for (id, v) in [(0u8, vendor), (1, product), (2, fw)] {
        r.push(id);
        r.push(v.len() as u8);
        r.extend_from_slice(v.as_bytes());
    }
    c.server(&adu(2000, 1, &r));
}

fn write(dir: &Path, name: &str, c: &Conversation) -> PathBuf {
    let p = dir.join(name);
    c.write(&p);
    p
}

/// Zones for the two hosts, a conduit carrying reads only, and a deny
/// rule for writes to the PLC's registers 40-49.
const POLICY: &str = r#"
[[zone]]
name = "control"
members = ["10.0.0.10"]

[[zone]]
name = "supervisory"
members = ["10.0.0.66"]

[[conduit]]
name = "hmi-reads"
from = "supervisory"
to = "control"
protocols = ["modbus"]
operations = ["read"]

[[deny]]
name = "no-trip-limit-writes"
to = "10.0.0.10"
operations = ["write"]
writes = { "unit 1 holding_register" = ["40-49"] }
"#;

/// The attack capture: polling, a unit scan, writes to the trip limits,
/// and a write flood.
fn attack(dir: &Path) -> PathBuf {
    let mut c = conv();
    polling(&mut c, 1);
    unit_scan(&mut c);
    for t in 0..3u16 {
        c.client(&adu(3000 + t, 1, &[16, 0, 40, 0, 2, 4, 0, 9, 0, 9]));
        c.server(&adu(3000 + t, 1, &[16, 0, 40, 0, 2]));
    }
    for t in 0..300u16 {
        c.client(&adu(4000 + t, 1, &[6, 0, 10, 0, t as u8]));
        c.server(&adu(4000 + t, 1, &[6, 0, 10, 0, t as u8]));
    }
    polling(&mut c, 100);
    c.fin();
    write(dir, "attack.pcap", &c)
}

/// (a) On crafted captures with known alerts and a policy, the report's
/// assets, events, alerts, alerts per technique and violations equal what
/// `analyze --policy` and `assets` say; on the shipped sample too.
#[test]
fn figures_equal_analyze_with_and_without_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack(dir.path());
    let pol = dir.path().join("plant.toml");
    std::fs::write(&pol, POLICY).unwrap();

    let html = ok_report(
        dir.path(),
        &["--policy", pol.to_str().unwrap(), cap.to_str().unwrap()],
    );
    let e = expected(&[&cap], Some(&pol));
    // The capture raises what it was built to raise.
    for r in [
        "ps.ics.discovery_sweep",
        "ps.ics.write_flood",
        "ps.policy.conduit_violation",
        "ps.policy.deny",
    ] {
        assert!(e.rules.contains_key(r), "{r} not raised: {:?}", e.rules);
    }
    assert_eq!(figure(&html, "assets"), e.assets);
    assert_eq!(figure(&html, "events"), e.events);
    assert_eq!(figure(&html, "alerts"), e.alerts);
    assert_eq!(
        rows(
            &html,
            "data-technique",
            &["data-alerts", "data-occurrences"]
        ),
        e.techniques
    );
    let rule = |r: &str| e.rules.get(r).copied().unwrap_or(0);
    assert_eq!(
        figure(&html, "conduit-violations"),
        rule("ps.policy.conduit_violation")
    );
    assert_eq!(figure(&html, "deny-hits"), rule("ps.policy.deny"));
    let baseline: i64 = e
        .rules
        .iter()
        .filter(|(r, _)| r.starts_with("ps.baseline."))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(figure(&html, "baseline-deviations"), baseline);
    // Severities add up to the alerts.
    let sev: i64 = ["critical", "high", "medium", "low"]
        .iter()
        .map(|s| figure(&html, &format!("severity-{s}")))
        .sum();
    assert_eq!(sev, e.alerts);
    // Zones from the policy; the HMI's zone carries risk, and an asset's
    // risk is what its drivers add up to.
    let zones = rows(&html, "data-zone", &["data-risk"]);
    assert!(
        zones.contains_key("control") && zones.contains_key("supervisory"),
        "{zones:?}"
    );
    assert!(zones["supervisory"][0] > 0, "{zones:?}");
    let assets = rows(&html, "data-asset", &["data-risk", "data-driven"]);
    assert!(assets.values().any(|v| v[0] > 0), "{assets:?}");
    for (a, v) in &assets {
        assert_eq!(v[0], v[1], "{a}: risk and what drives it");
    }
    // Zone risk is the sum of its assets' (every asset is in the table here).
    assert_eq!(
        zones.values().map(|v| v[0]).sum::<i64>(),
        assets.values().map(|v| v[0]).sum::<i64>()
    );
    assert!(html.contains("Conduit violations") && html.contains("Deny rule hits"));

    // Without the policy: no violations section, built-in alerts only.
    let html = ok_report(dir.path(), &[cap.to_str().unwrap()]);
    let e = expected(&[&cap], None);
    assert_eq!(figure(&html, "alerts"), e.alerts);
    assert_eq!(
        rows(
            &html,
            "data-technique",
            &["data-alerts", "data-occurrences"]
        ),
        e.techniques
    );
    assert!(!html.contains("id=\"violations\""));

    // The shipped sample of real stacks.
    let sample = repo().join("samples/plant-cell.pcap");
    let html = ok_report(dir.path(), &["--site", "Cell 1", sample.to_str().unwrap()]);
    let e = expected(&[&sample], None);
    assert_eq!(figure(&html, "assets"), e.assets);
    assert_eq!(figure(&html, "events"), e.events);
    assert_eq!(figure(&html, "alerts"), e.alerts);
    assert_eq!(figure(&html, "captures"), 1);
    assert!(figure(&html, "assets-with-firmware") > 0);
    // The period runs from the first to the last event of analyze.
    let run = analyze_file(&sample);
    let times: Vec<&str> = run
        .events
        .iter()
        .filter_map(|e| e["timestamp"].as_str())
        .collect();
    let first = times.iter().min().unwrap();
    let last = times.iter().max().unwrap();
    assert!(
        html.contains(&format!("data-from=\"{first}\" data-to=\"{last}\"")),
        "period {first} .. {last}"
    );
    assert!(html.contains("data-figure=\"site\">Cell 1<"));
}

/// (b) One file: no script, no stylesheet, image, font or frame from
/// anywhere; the only addresses are ATT&CK technique links.
#[test]
fn the_report_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack(dir.path());
    let html = ok_report(dir.path(), &[cap.to_str().unwrap()]);
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        " src=",
        "@import",
        "url(",
        "@font-face",
    ] {
        assert!(!lower.contains(bad), "{bad} in the report");
    }
    assert!(lower.contains("<style>") && lower.contains("<svg"));
    let mut links = 0;
    for (i, _) in lower.match_indices("http") {
        let rest = &lower[i..];
        assert!(
            rest.starts_with("https://attack.mitre.org/techniques/t0"),
            "external address: {}",
            &rest[..rest.len().min(60)]
        );
        links += 1;
    }
    // T0846 and T0888 (the sweep), T0806 (the flood): a link each.
    assert!(links >= 3, "{links} technique links");
    for (i, _) in lower.match_indices("href=") {
        assert!(lower[i..].starts_with("href=\"https://attack.mitre.org/"));
    }
    // A4 print rules and a page break before each section.
    assert!(html.contains("@page{size:A4"));
    assert!(html.contains("break-before:page"));
}

/// (c) A device identification carrying markup (vendor and product) and
/// a hostile site name: escaped wherever they appear.
#[test]
fn values_from_traffic_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = conv();
    polling(&mut c, 1);
    device_id(
        &mut c,
        HOSTILE,
        "\"><img src=x onerror=alert(2)>",
        "V1.<b>2",
    );
    c.fin();
    let cap = write(dir.path(), "hostile.pcap", &c);
    // The inventory took the hostile vendor.
    assert!(assets_json(&[&cap]).to_string().contains("alert(1)"));
    let html = ok_report(dir.path(), &["--site", HOSTILE, cap.to_str().unwrap()]);
    assert!(!html.contains(HOSTILE), "raw markup in the report");
    assert!(!html.contains("<img"), "raw markup in the report");
    assert!(!html.contains("<b>2"), "raw markup in the report");
    assert!(!html.to_ascii_lowercase().contains("<script"));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    // Site (title and title page), vendor chart, firmware table.
    assert!(
        html.matches(escaped).count() >= 3,
        "{}",
        html.matches(escaped).count()
    );
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(html.contains("V1.&lt;b&gt;2"));
}

/// (d) Recommendations appear exactly when their trigger is there: the
/// scan one with a unit scan only; the firmware one for a PLC that never
/// told its firmware only; the policy one without a policy only.
#[test]
fn recommendations_follow_their_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = conv();
    polling(&mut c, 1);
    c.fin();
    let quiet = write(dir.path(), "quiet.pcap", &c);
    let mut c = conv();
    polling(&mut c, 1);
    unit_scan(&mut c);
    device_id(&mut c, "Acme", "PLC-9", "2.0.1");
    c.fin();
    let scanned = write(dir.path(), "scanned.pcap", &c);

    let q = ok_report(dir.path(), &[quiet.to_str().unwrap()]);
    let rq = recommendations(&q);
    let s = ok_report(dir.path(), &[scanned.to_str().unwrap()]);
    let rs = recommendations(&s);

    assert!(!rq.contains("scans"), "{rq:?}");
    assert!(rs.contains("scans"), "{rs:?}");
    // The evidence names the scanning alert's source and target.
    let rec = &s[s.find("data-rec=\"scans\"").unwrap()..];
    let rec = &rec[..rec.find("</article>").unwrap()];
    assert!(
        rec.contains("ps.ics.discovery_sweep") && rec.contains("10.0.0.66"),
        "{rec}"
    );

    assert!(rq.contains("firmware-unknown"), "{rq:?}");
    assert!(!rs.contains("firmware-unknown"), "{rs:?}");
    let rec = &q[q.find("data-rec=\"firmware-unknown\"").unwrap()..];
    assert!(rec[..rec.find("</article>").unwrap()].contains("10.0.0.10"));

    assert!(rq.contains("no-policy"), "{rq:?}");
    assert_eq!(figure(&q, "recommendations"), rq.len() as i64);
    // With a policy (and its baseline) the policy recommendations go.
    let base = dir.path().join("baseline.toml");
    learn(&[&quiet], &base);
    let p = ok_report(
        dir.path(),
        &["--policy", base.to_str().unwrap(), quiet.to_str().unwrap()],
    );
    let rp = recommendations(&p);
    assert!(
        !rp.contains("no-policy") && !rp.contains("no-baseline"),
        "{rp:?}"
    );
    // Zones but no baseline: learn one.
    let zones = dir.path().join("zones.toml");
    std::fs::write(&zones, POLICY).unwrap();
    let z = ok_report(
        dir.path(),
        &["--policy", zones.to_str().unwrap(), quiet.to_str().unwrap()],
    );
    assert!(recommendations(&z).contains("no-baseline"));
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed: .ci/install installs it");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// (e) The PDF through Debian's Chromium: a PDF whose text holds every
/// section title and the asset count.
#[test]
fn pdf_through_chromium_holds_the_sections_and_figures() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium must be installed (.ci/install)"
    );
    let dir = tempfile::tempdir().unwrap();
    let cap = attack(dir.path());
    let pdf = dir.path().join("report.pdf");
    let html = ok_report(
        dir.path(),
        &[
            "--site",
            "Line 3",
            "--pdf",
            pdf.to_str().unwrap(),
            cap.to_str().unwrap(),
        ],
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    let text = pdftotext(&pdf);
    for title in [
        "Plant security report",
        "Line 3",
        "Executive summary",
        "Inventory summary",
        "Risk by asset and zone",
        "Alerts by ATT&CK for ICS technique",
        "Communications",
        "Recommendations",
        "Remote System Discovery",
    ] {
        assert!(text.contains(title), "{title} not in the PDF text");
    }
    let assets = figure(&html, "assets");
    assert!(
        text.contains(&format!("{assets} assets, identified passively")),
        "asset count {assets} not in the PDF text"
    );
}

/// (f) `--pdf` with no converter on PATH: exit 3, a message naming what
/// to install, the HTML written, no PDF.
#[test]
fn pdf_without_a_converter_exits_3_and_keeps_the_html() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack(dir.path());
    let empty = dir.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let pdf = dir.path().join("report.pdf");
    let html_path = dir.path().join("out.html");
    let out = Command::new(bin())
        .arg("report")
        .arg(&cap)
        .arg("-o")
        .arg(&html_path)
        .arg("--pdf")
        .arg(&pdf)
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no PDF converter") && err.contains("chromium"),
        "{err}"
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.trim_end().ends_with("</html>"));
    assert!(figure(&html, "assets") > 0);
    assert!(!pdf.exists());
    // Other errors are another status.
    let out = Command::new(bin())
        .args(["report", "--data"])
        .arg(dir.path().join("nothing-here"))
        .arg("-o")
        .arg(&html_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// (g) `GET /api/report`: 401 without a session; with one, an HTML
/// attachment whose figures equal the store's (stats, alerts) and
/// `plantshield report --data` on the same directory.
#[test]
fn api_report_needs_a_session_and_matches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let cap = attack(dir.path());
    let data = dir.path().join("data");
    let s = Server::start(&data, &[&cap], &[]);
    s.wait_ingested();
    let r = s.get("/api/report", None);
    assert_eq!(r.status, 401);
    let admin = s.admin();
    let r = s.get("/api/report", Some(&admin));
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r
        .header("Content-Disposition")
        .unwrap()
        .starts_with("attachment"));
    let html = r.text();
    let stats = s.get("/api/stats", Some(&admin)).json();
    assert_eq!(
        figure(&html, "assets"),
        stats["totals"]["assets"].as_i64().unwrap()
    );
    assert_eq!(
        figure(&html, "events"),
        stats["totals"]["events"].as_i64().unwrap()
    );
    let alerts = s.get("/api/alerts?limit=1", Some(&admin)).json()["total"]
        .as_i64()
        .unwrap();
    assert_eq!(figure(&html, "alerts"), alerts);
    let e = expected(&[&cap], None);
    assert_eq!(figure(&html, "alerts"), e.alerts);
    assert_eq!(
        rows(
            &html,
            "data-technique",
            &["data-alerts", "data-occurrences"]
        ),
        e.techniques
    );
    // Risk by zone equals the dashboard's.
    let zones = rows(&html, "data-zone", &["data-risk"]);
    let dash: BTreeMap<String, Vec<i64>> = stats["risk_by_zone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            (
                z["zone"].as_str().unwrap().to_string(),
                vec![z["risk"].as_i64().unwrap()],
            )
        })
        .collect();
    assert_eq!(zones, dash);
    // The command line on the same store says the same.
    let cli = ok_report(dir.path(), &["--data", data.to_str().unwrap()]);
    for f in ["assets", "events", "alerts", "edges", "recommendations"] {
        assert_eq!(figure(&cli, f), figure(&html, f), "{f}");
    }
    s.stop();
}
