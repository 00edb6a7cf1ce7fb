//! The web UI in headless Chromium (Debian's chromium, driven by Python
//! Playwright: tests/ui/browser_test.py): log in, dashboard, asset list,
//! one asset, map, one alert, acknowledge it; create a viewer on the users
//! page, log in as it, and find it cannot acknowledge an alert. Each step
//! asserts what the page shows and saves a screenshot.

mod common;
#[path = "common/serve.rs"]
mod serve;

use std::process::Command;

use common::*;
use serve::*;

#[test]
fn browser_walks_through_the_ui_and_acknowledges_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sample = repo().join("samples/plant-cell.pcap");
    let alerts = pcaps().join("enip/EIP-RebootorRestart.pcap");
    let s = Server::start(&data, &[&sample, &alerts], &[]);
    s.wait_ingested();
    let shots = std::env::var_os("PLANTSHIELD_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("python3")
        .arg(repo().join("tests/ui/browser_test.py"))
        .arg(s.base())
        .arg(data.join("tls-cert.pem"))
        .arg(ADMIN_PASSWORD)
        .arg(&shots)
        .output()
        .expect("python3 (with playwright from tests/requirements.txt and Debian's chromium, installed by .ci/install)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser test failed:\n{text}");
    for name in [
        "01-login",
        "02-dashboard",
        "03-assets",
        "04-asset",
        "05-map",
        "06-alert",
        "07-acknowledged",
        "08-audit",
        "09-users",
        "10-viewer-alert",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            std::fs::metadata(&p)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "{}",
            p.display()
        );
    }
    // The acknowledgement reached the store.
    let admin = s.admin();
    let r = s
        .get("/api/alerts?status=acknowledged", Some(&admin))
        .json();
    assert_eq!(r["total"], 1, "{r}: the viewer acknowledged nothing");
    // The viewer made on the page exists, and its creation is audited.
    let users = s.get("/api/users", Some(&admin)).json();
    assert!(
        users["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "vera" && u["role"] == "viewer"),
        "{users}"
    );
    let audit = s.get("/api/audit?limit=1000", Some(&admin)).json();
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["username"] == "admin"
                && a["action"] == "create_user"
                && a["target"] == "vera"),
        "{audit}"
    );
}
