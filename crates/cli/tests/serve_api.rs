//! `plantshield serve` end to end: the real binary on loopback over HTTPS,
//! its store in a temporary directory. Health without a session, 401 on
//! every other documented route without one, counts equal to `analyze`,
//! roles, CSRF, login rate limiting, live updates, persistence across a
//! restart without duplicates, and schemathesis against the served
//! OpenAPI document.

mod common;
#[path = "common/serve.rs"]
mod serve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};
use serve::*;

fn sample() -> PathBuf {
    repo().join("samples/plant-cell.pcap")
}

/// A corpus capture that raises alerts (restart, mode change, program
/// download and upload over EtherNet/IP).
fn alert_capture() -> PathBuf {
    pcaps().join("enip/EIP-RebootorRestart.pcap")
}

/// What `plantshield analyze` and `plantshield assets` say of a capture.
struct Expected {
    events: usize,
    by_type: BTreeMap<String, usize>,
    alerts: usize,
    assets: usize,
}

fn expected(p: &Path) -> Expected {
    let run = analyze_file(p);
    assert!(run.status.success(), "{}", run.stderr);
    let mut by_type = BTreeMap::new();
    for e in &run.events {
        *by_type
            .entry(e["event_type"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let out = Command::new(bin())
        .args(["assets", "--no-progress", "--format", "json"])
        .arg(p)
        .output()
        .unwrap();
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap();
    Expected {
        events: run.events.len(),
        alerts: run.of_type("alert").len(),
        by_type,
        assets: inv["assets"].as_array().unwrap().len(),
    }
}

/// Events of `analyze`'s output that are not transactions but belong to
/// flows of `app_proto` (flow records, anomalies): the store's `protocol`
/// column is `ics.protocol` for transactions and the flow's `app_proto`
/// otherwise.
fn run_flows_of(p: &Path, app_proto: &str) -> usize {
    analyze_file(p)
        .events
        .iter()
        .filter(|e| e.get("ics").is_none() && e["event_type"] != "alert")
        .filter(|e| e["app_proto"] == app_proto)
        .count()
}

fn total(s: &Server, path: &str, session: &Session) -> u64 {
    let r = s.get(path, Some(session));
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()["total"].as_u64().unwrap()
}

#[test]
fn api_health_auth_counts_roles_csrf_rate_limit_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let caps = [sample(), alert_capture()];
    let exp: Vec<Expected> = caps.iter().map(|p| expected(p)).collect();
    assert!(exp[1].alerts > 0, "the alert capture raises alerts");

    // Each capture in its own store, so that counts compare one to one.
    let data_alerts = dir.path().join("data-alerts");
    let s2 = Server::start(&data_alerts, &[&caps[1]], &[]);
    s2.wait_ingested();
    let admin2 = s2.admin();
    assert_eq!(
        total(&s2, "/api/alerts?limit=1", &admin2) as usize,
        exp[1].alerts
    );
    assert_eq!(
        total(&s2, "/api/events?limit=1", &admin2) as usize,
        exp[1].events
    );
    assert_eq!(
        total(&s2, "/api/assets?limit=1", &admin2) as usize,
        exp[1].assets
    );
    drop(s2);

    let s = Server::start(&data, &[&caps[0]], &[]);
    // Health needs no session.
    let h = s.get("/api/health", None);
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    let health = s.wait_ingested();
    assert_eq!(health["captures"][0]["skipped"], false, "{health}");

    // Every documented route but the public ones answers 401 without a session.
    let doc = s.get("/api/openapi.json", None).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let public = [
        ("get", "/api/health"),
        ("get", "/api/openapi.json"),
        ("post", "/api/session"),
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method == "parameters" || public.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            let p = path.replace("{id}", "1");
            let r = s.request(&method.to_uppercase(), &p, &[], Some(&json!({})));
            assert_eq!(
                r.status,
                401,
                "{method} {p} without a session: {}",
                r.text()
            );
            // A forged cookie is no session either.
            let r = s.request(
                &method.to_uppercase(),
                &p,
                &[("Cookie", "plantshield_session=00ff")],
                Some(&json!({})),
            );
            assert_eq!(r.status, 401, "{method} {p} with a forged cookie");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} routes documented");

    // Log in: wrong password, then right; the cookie's attributes.
    let bad = s
        .login("admin", "wrong")
        .err()
        .expect("wrong password refused");
    assert_eq!(bad.status, 401);
    let admin = s.admin();
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(admin.set_cookie.contains(attr), "{}", admin.set_cookie);
    }
    assert_eq!(admin.role, "admin");

    // Counts equal what analyze and assets say of the same capture.
    let e = &exp[0];
    assert_eq!(total(&s, "/api/events?limit=1", &admin) as usize, e.events);
    assert_eq!(total(&s, "/api/assets?limit=1", &admin) as usize, e.assets);
    assert_eq!(total(&s, "/api/alerts?limit=1", &admin) as usize, e.alerts);
    for (t, n) in &e.by_type {
        assert_eq!(
            total(&s, &format!("/api/events?type={t}&limit=1"), &admin) as usize,
            *n,
            "events of type {t}"
        );
    }
    // Search: paging, protocol, operation, time range, free text, asset.
    let page = s.get("/api/events?limit=7&offset=3", Some(&admin)).json();
    assert_eq!(page["items"].as_array().unwrap().len(), 7);
    let modbus = e.by_type.get("modbus").copied().unwrap_or(0);
    assert!(modbus > 0);
    assert_eq!(
        total(
            &s,
            "/api/events?protocol=modbus&type=modbus&limit=1",
            &admin
        ) as usize,
        modbus
    );
    // The protocol filter also finds the flow records and anomalies of Modbus flows.
    let flows = run_flows_of(&sample(), "modbus");
    assert_eq!(
        total(&s, "/api/events?protocol=modbus&limit=1", &admin) as usize,
        modbus + flows
    );
    let writes = total(
        &s,
        "/api/events?protocol=modbus&operation=write&limit=1",
        &admin,
    );
    assert!(writes > 0 && (writes as usize) < modbus);
    let first = s
        .get("/api/events?limit=1&type=modbus", Some(&admin))
        .json();
    let ts = first["items"][0]["event"]["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let enc = ts.replace('+', "%2B");
    assert!(total(&s, &format!("/api/events?from={enc}&limit=1"), &admin) >= 1);
    assert!(
        total(&s, &format!("/api/events?to={enc}&limit=1"), &admin) < e.events as u64,
        "to excludes the newest"
    );
    assert_eq!(
        s.get("/api/events?from=yesterday", Some(&admin)).status,
        400
    );
    assert!(total(&s, "/api/events?q=write_multiple_registers&limit=1", &admin) >= 1);
    let assets = s.get("/api/assets?limit=1000", Some(&admin)).json();
    let plc = assets["items"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|a| {
            total(
                &s,
                &format!("/api/events?asset={}&limit=1", a["id"]),
                &admin,
            )
        })
        .unwrap()
        .clone();
    let id = plc["id"].as_i64().unwrap();
    assert!(total(&s, &format!("/api/events?asset={id}&limit=1"), &admin) > 0);
    let detail = s.get(&format!("/api/assets/{id}"), Some(&admin)).json();
    assert_eq!(detail["id"], id);
    assert!(detail["zone"].is_string());
    assert_eq!(
        s.get(&format!("/api/assets/{id}/evidence"), Some(&admin))
            .status,
        200
    );
    assert_eq!(
        s.get(&format!("/api/assets/{id}/history"), Some(&admin))
            .status,
        200
    );
    assert!(total(&s, &format!("/api/edges?asset={id}"), &admin) > 0);
    assert_eq!(s.get("/api/assets/999999", Some(&admin)).status, 404);
    let stats = s.get("/api/stats", Some(&admin)).json();
    assert_eq!(
        stats["totals"]["events"].as_u64().unwrap() as usize,
        e.events
    );
    assert!(!stats["protocol_mix"].as_array().unwrap().is_empty());
    assert!(!stats["risk_by_zone"].as_array().unwrap().is_empty());
    let map = s.get("/api/map", Some(&admin)).json();
    assert_eq!(map["nodes"].as_array().unwrap().len(), e.assets);

    // Users of each role (admin only).
    for (u, role) in [("ana", "analyst"), ("vic", "viewer")] {
        let r = s.send(
            "POST",
            "/api/users",
            &admin,
            &json!({"username": u, "password": "a long password", "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let analyst = s.login("ana", "a long password").ok().unwrap();
    let viewer = s.login("vic", "a long password").ok().unwrap();
    let r = s.send(
        "POST",
        "/api/users",
        &analyst,
        &json!({"username": "x", "password": "a long password", "role": "admin"}),
    );
    assert_eq!(r.status, 403, "an analyst cannot create users");
    assert_eq!(s.get("/api/users", Some(&viewer)).status, 403);
    assert_eq!(s.get("/api/audit", Some(&viewer)).status, 403);
    assert_eq!(s.get("/api/alerts", Some(&viewer)).status, 200);

    // User management (admin only): role, disable, password, delete; the
    // last enabled admin stays.
    user_management(&s, &admin, &analyst, &viewer);

    // The alert workflow runs on the alert capture, added to this store.
    drop(s);
    // A long window, so that the lock below outlasts the restart whatever the machine's speed.
    let window = ["--login-window", "3600"];
    let s = Server::start(&data, &[&caps[0], &caps[1]], &window);
    let health = s.wait_ingested();
    assert_eq!(health["captures"][0]["skipped"], true, "{health}");
    assert_eq!(health["captures"][1]["skipped"], false, "{health}");
    let admin = s.admin();
    let analyst = s.login("ana", "a long password").ok().unwrap();
    let viewer = s.login("vic", "a long password").ok().unwrap();
    let all_alerts = total(&s, "/api/alerts?limit=1", &admin) as usize;
    assert_eq!(all_alerts, exp[0].alerts + exp[1].alerts);
    let alert = s
        .get("/api/alerts?status=open&limit=1", Some(&admin))
        .json()["items"][0]
        .clone();
    let aid = alert["id"].as_i64().unwrap();
    assert!(alert["mitre_attack"].as_array().is_some());
    assert!(
        total(&s, &format!("/api/events?alert={aid}&limit=1"), &admin) >= 1,
        "events behind the alert"
    );
    let ack = format!("/api/alerts/{aid}/acknowledge");

    // A viewer cannot acknowledge (403), even with a valid CSRF token.
    let r = s.send("POST", &ack, &viewer, &json!({"comment": "mine"}));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "forbidden");
    // CSRF: an analyst's request without the token, or with another's, is refused.
    let cookie = format!("plantshield_session={}", analyst.cookie);
    let r = s.request("POST", &ack, &[("Cookie", &cookie)], Some(&json!({})));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "csrf");
    let r = s.request(
        "POST",
        &ack,
        &[("Cookie", &cookie), ("X-CSRF-Token", &admin.csrf)],
        Some(&json!({})),
    );
    assert_eq!(r.json()["error"], "csrf");
    assert_eq!(
        s.get(&format!("/api/alerts/{aid}"), Some(&admin)).json()["status"],
        "open"
    );
    // The analyst can.
    let r = s.send("POST", &ack, &analyst, &json!({"comment": "looking"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "acknowledged");
    let r = s.send(
        "POST",
        &format!("/api/alerts/{aid}/assign"),
        &analyst,
        &json!({"assignee": "ana"}),
    );
    assert_eq!(r.json()["assignee"], "ana");
    let r = s.send(
        "POST",
        &format!("/api/alerts/{aid}/assign"),
        &analyst,
        &json!({"assignee": "nobody"}),
    );
    assert_eq!(r.status, 422);
    let r = s.send(
        "POST",
        &format!("/api/alerts/{aid}/close"),
        &analyst,
        &json!({"comment": "planned maintenance restart"}),
    );
    assert_eq!(r.json()["status"], "closed");
    let comments = r.json()["comments"].clone();
    assert_eq!(comments.as_array().unwrap().len(), 3, "{comments}");
    assert_eq!(comments[2]["text"], "planned maintenance restart");
    assert_eq!(comments[2]["username"], "ana");
    assert_eq!(total(&s, "/api/alerts?status=closed&limit=1", &admin), 1);

    // Policy: validate and upload (analyst), view (viewer); a broken one is refused.
    let good = "[[zone]]\nname = \"cell\"\nmembers = [\"10.0.0.0/8\"]\n";
    let r = s.send(
        "POST",
        "/api/policy/validate",
        &analyst,
        &json!({"text": "[[zone]]\nname = 1\n"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["valid"], false);
    assert!(!r.json()["diagnostics"].as_array().unwrap().is_empty());
    let r = s.send(
        "PUT",
        "/api/policy",
        &analyst,
        &json!({"text": "[policy]\ninclude = [\"/etc/passwd\"]\n"}),
    );
    assert_eq!(r.status, 422, "include refused: {}", r.text());
    let r = s.send("PUT", "/api/policy", &viewer, &json!({"text": good}));
    assert_eq!(r.status, 403);
    let r = s.send(
        "PUT",
        "/api/policy",
        &analyst,
        &json!({"name": "cell.toml", "text": good}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let p = s.get("/api/policy", Some(&viewer)).json();
    assert_eq!(p["name"], "cell.toml");
    assert_eq!(p["summary"]["zones"][0], "cell");

    // The audit trail has the user actions.
    let audit = s.get("/api/audit?limit=100", Some(&admin)).json();
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["username"].as_str().unwrap().into(),
                a["action"].as_str().unwrap().into(),
            )
        })
        .collect();
    for want in [
        ("ana", "alert_acknowledge"),
        ("ana", "alert_close"),
        ("ana", "policy_upload"),
        ("admin", "create_user"),
        ("admin", "login_failed"),
    ] {
        assert!(
            actions.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in {actions:?}"
        );
    }

    // Live updates: the stream's first event says where the store is.
    let stream = s.get_stream_first_event(&admin);
    assert!(stream.contains("event: update"), "{stream}");
    assert!(stream.contains("last_event"), "{stream}");

    // Rate limiting: after 5 failures the right password is refused too.
    for _ in 0..5 {
        assert_eq!(s.login("vic", "nope").err().unwrap().status, 401);
    }
    let r = s.login("vic", "a long password").err().expect("locked");
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // Other users are not locked out by it.
    assert!(s.login("ana", "a long password").is_ok());

    // Logout ends the session.
    let r = s.send("DELETE", "/api/session", &viewer, &json!({}));
    assert_eq!(r.status, 204);
    assert_eq!(s.get("/api/alerts", Some(&viewer)).status, 401);

    // Restart on the same store with the same captures: same data, no duplicates.
    let before: Vec<u64> = [
        "/api/events?limit=1",
        "/api/assets?limit=1",
        "/api/alerts?limit=1",
        "/api/edges?limit=1",
    ]
    .iter()
    .map(|p| total(&s, p, &admin))
    .collect();
    s.stop();
    let s = Server::start(&data, &[&caps[0], &caps[1]], &window);
    let health = s.wait_ingested();
    assert_eq!(health["captures"][0]["skipped"], true);
    assert_eq!(health["captures"][1]["skipped"], true);
    // The login lock survives the restart (it is in the store).
    let r = s
        .login("vic", "a long password")
        .err()
        .expect("still locked");
    assert_eq!(r.status, 429);
    let admin = s.admin();
    let after: Vec<u64> = [
        "/api/events?limit=1",
        "/api/assets?limit=1",
        "/api/alerts?limit=1",
        "/api/edges?limit=1",
    ]
    .iter()
    .map(|p| total(&s, p, &admin))
    .collect();
    assert_eq!(before, after);
    assert_eq!(
        s.get(&format!("/api/alerts/{aid}"), Some(&admin)).json()["status"],
        "closed"
    );
    assert!(s.login("ana", "a long password").is_ok(), "users persist");
    assert_eq!(
        s.get("/api/policy", Some(&admin)).json()["name"],
        "cell.toml"
    );
    let caps_list = s.get("/api/captures", Some(&admin)).json();
    assert_eq!(caps_list["items"].as_array().unwrap().len(), 2);
    // The first start printed no generated password: it came from the environment.
    assert!(!s
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("with password")));
}

fn user_id(s: &Server, admin: &Session, name: &str) -> i64 {
    let users = s.get("/api/users", Some(admin)).json();
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("{name} not in {users}"))["id"]
        .as_i64()
        .unwrap()
}

fn user_management(s: &Server, admin: &Session, analyst: &Session, viewer: &Session) {
    let pw = "a long password";
    let r = s.send(
        "POST",
        "/api/users",
        admin,
        &json!({"username": "tmp", "password": pw, "role": "viewer"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = user_id(s, admin, "tmp");
    let path = format!("/api/users/{id}");
    // Only an admin may.
    for who in [analyst, viewer] {
        assert_eq!(
            s.send("PUT", &path, who, &json!({"role": "admin"})).status,
            403
        );
        assert_eq!(s.send("DELETE", &path, who, &json!({})).status, 403);
        let r = s.send(
            "POST",
            &format!("{path}/password"),
            who,
            &json!({"password": pw}),
        );
        assert_eq!(r.status, 403);
    }
    // Role.
    let tmp = s.login("tmp", pw).ok().unwrap();
    let r = s.send("PUT", &path, admin, &json!({"role": "analyst"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["role"], "analyst");
    assert_eq!(s.get("/api/session", Some(&tmp)).json()["role"], "analyst");
    assert_eq!(
        s.send("PUT", &path, admin, &json!({"role": "root"})).status,
        400
    );
    assert_eq!(s.send("PUT", &path, admin, &json!({})).status, 400);
    // Disabled: the session ends, the right password no longer logs in.
    let r = s.send("PUT", &path, admin, &json!({"disabled": true}));
    assert_eq!(r.json()["disabled"], true);
    assert_eq!(s.get("/api/session", Some(&tmp)).status, 401);
    assert_eq!(s.login("tmp", pw).err().expect("disabled").status, 401);
    let r = s.send("PUT", &path, admin, &json!({"disabled": false}));
    assert_eq!(r.json()["disabled"], false);
    // Password reset: the old one stops working, sessions end.
    let tmp = s.login("tmp", pw).ok().unwrap();
    let r = s.send(
        "POST",
        &format!("{path}/password"),
        admin,
        &json!({"password": "another long one"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.get("/api/session", Some(&tmp)).status, 401);
    assert!(s.login("tmp", pw).is_err());
    assert!(s.login("tmp", "another long one").is_ok());
    let r = s.send(
        "POST",
        &format!("{path}/password"),
        admin,
        &json!({"password": "short"}),
    );
    assert_eq!(r.status, 400);
    // The last enabled admin cannot be demoted, disabled or deleted.
    let me = user_id(s, admin, "admin");
    let mine = format!("/api/users/{me}");
    let r = s.send("PUT", &mine, admin, &json!({"role": "analyst"}));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"], "last_admin");
    assert_eq!(
        s.send("PUT", &mine, admin, &json!({"disabled": true}))
            .status,
        409
    );
    assert_eq!(s.send("DELETE", &mine, admin, &json!({})).status, 409);
    // With a second admin, the first can be demoted, but not the second then.
    assert_eq!(
        s.send("PUT", &path, admin, &json!({"role": "admin"}))
            .status,
        200
    );
    let tmp = s.login("tmp", "another long one").ok().unwrap();
    assert_eq!(
        s.send("PUT", &mine, &tmp, &json!({"role": "analyst"}))
            .status,
        200
    );
    let r = s.send("PUT", &path, &tmp, &json!({"role": "viewer"}));
    assert_eq!(r.json()["error"], "last_admin");
    assert_eq!(
        s.send("PUT", &mine, &tmp, &json!({"role": "admin"})).status,
        200
    );
    // Delete.
    assert_eq!(s.send("DELETE", &path, admin, &json!({})).status, 204);
    assert_eq!(s.get("/api/session", Some(&tmp)).status, 401);
    assert!(s.login("tmp", "another long one").is_err());
    assert_eq!(s.send("DELETE", &path, admin, &json!({})).status, 404);
    // Every step is audited.
    let audit = s.get("/api/audit?limit=200", Some(admin)).json();
    for (who, action) in [
        ("admin", "update_user"),
        ("admin", "reset_password"),
        ("admin", "delete_user"),
        ("tmp", "update_user"),
    ] {
        assert!(
            audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["username"] == who && a["action"] == action && a["target"].is_string()),
            "{who} {action}: {audit}"
        );
    }
}

#[test]
fn first_start_prints_a_generated_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let run = |env_pw: bool| {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data);
        if !env_pw {
            cmd.env_remove("PLANTSHIELD_ADMIN_PASSWORD");
        }
        let mut child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = Vec::new();
        for l in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let done = l.contains("serving https://");
            lines.push(l);
            if done {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        lines
    };
    let first = run(false);
    let line = first
        .iter()
        .find(|l| l.contains("created user admin with password"))
        .unwrap_or_else(|| panic!("{first:?}"));
    let pw = line
        .split("with password ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(pw.len() >= 16);
    let second = run(false);
    assert!(!second.iter().any(|l| l.contains("password")), "{second:?}");
    // The printed password works.
    let s = Server::start(&data, &[], &[]);
    assert!(s.login("admin", &pw).is_ok());
    assert!(
        s.login("admin", ADMIN_PASSWORD).is_err(),
        "the environment does not reset it"
    );
}

#[test]
fn schemathesis_finds_no_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start(&data, &[&sample()], &["--login-attempts", "1000"]);
    s.wait_ingested();
    let admin = s.admin();
    let version = pinned("schemathesis");
    let check = Command::new("python3")
        .args([
            "-c",
            "import schemathesis, sys; print(schemathesis.__version__)",
        ])
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "schemathesis is missing: install tests/requirements.txt (.ci/install): {}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), version);
    // Every check. The session is given as the document's security
    // schemes (not as raw headers), so that schemathesis knows it is the
    // authentication: its negative cases then leave it alone instead of
    // "dropping" a cookie that a raw header would put back. 422 is an
    // accepted answer to schema-valid data: the server refuses, with its
    // reasons, a policy that does not load and an assignee that is no user,
    // which no schema can express.
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.openapi.session]\napi_key = \"{}\"\n\n[auth.openapi.csrf]\napi_key = \"{}\"\n\n\
             [checks.positive_data_acceptance]\n\
             expected-statuses = [\"2xx\", \"401\", \"403\", \"404\", \"409\", \"422\", \"429\"]\n",
            admin.cookie, admin.csrf
        ),
    )
    .unwrap();
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .arg("run")
        .arg(format!("{}/api/openapi.json", s.base()))
        .args(["--checks", "all", "--max-examples", "25", "--seed", "1"])
        .arg("--tls-verify")
        .arg(data.join("tls-cert.pem"))
        // The stream never ends by design, and logging out would end the
        // session the run uses; both are tested above.
        .args([
            "--exclude-name",
            "GET /api/stream",
            "--exclude-name",
            "DELETE /api/session",
        ])
        .env("NO_COLOR", "1")
        // Its cache (.schemathesis/) goes to the temporary directory.
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "schemathesis failed:\n{text}");
    // It tested the operations (a run that tested nothing passes too).
    assert!(text.contains("Test cases:"), "{text}");
    assert!(!text.contains(" 0 generated"), "{text}");
    assert!(!text.contains("Server error"), "{text}");
}
