//! Real stacks: an authoritative DNS server built with dnspython answers
//! dnspython's queries over UDP and TCP, and Python's http.server answers
//! http.client on port 80 and on a port no protocol registers, while
//! tcpdump records them (`tests/stacks/it_stack.py`). The clients write
//! down what they asked and got; PlantShield must report each DNS query as
//! exactly one `dns` event with the same question, response code and
//! answers, each HTTP request as one `http` event with the same method,
//! target, status and Server field, in order, and nothing malformed; and
//! the inventory must learn the server's software and the client's OS.
//!
//! The test needs python3, dnspython pinned in `tests/requirements.txt`,
//! tcpdump and root (ports 53 and 80, capturing on `lo`); `.ci/install`
//! provides them. When any is missing the test fails, it never skips.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn validate(events: &[Value]) {
    let doc: Value = serde_json::from_str(plantshield_events::EVENT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut c = boon::Compiler::new();
    c.add_resource("urn:plantshield:events", doc).unwrap();
    let idx = c.compile("urn:plantshield:events", &mut schemas).unwrap();
    for e in events {
        if let Err(err) = schemas.validate(e, idx) {
            panic!("event does not validate: {err}\n{e}");
        }
    }
}

/// The answer fields the truth records.
fn answer(a: &Value) -> Value {
    let mut o = serde_json::Map::new();
    for k in ["rrname", "rrtype_name", "ttl", "data", "preference"] {
        if let Some(v) = a.get(k) {
            o.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(o)
}

#[test]
fn real_dns_and_http_stacks() {
    let dir = tempfile::tempdir().unwrap();
    run_stack_script("it_stack.py", dir.path(), &[]);
    let truth = read_json(&dir.path().join("truth.json"));
    let pcap = dir.path().join("it.pcap");
    let run = analyze_file(&pcap);
    assert!(run.status.success(), "{}", run.stderr);
    validate(&run.events);
    let bad: Vec<&Value> = run
        .of_type("anomaly")
        .into_iter()
        .filter(|e| e["anomaly"]["layer"] != "tcp")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");

    // DNS: one event per query, everything the client saw.
    let dns = run.of_type("dns");
    let queries = truth["dns"].as_array().unwrap();
    assert_eq!(dns.len(), queries.len(), "{dns:#?}");
    for q in queries {
        let proto = q["transport"].as_str().unwrap().to_uppercase();
        let ev: Vec<&&Value> = dns
            .iter()
            .filter(|e| e["proto"] == proto.as_str() && e["dns"]["id"] == q["id"])
            .collect();
        assert_eq!(ev.len(), 1, "{q}");
        let d = &ev[0]["dns"];
        assert_eq!(ev[0]["dest_ip"], truth["dns_host"]);
        assert_eq!(d["rrname"], q["rrname"], "{q}");
        assert_eq!(d["rrtype_name"], q["rrtype_name"], "{q}");
        assert_eq!(d["response"]["rcode_name"], q["rcode_name"], "{q}");
        let ours: Vec<Value> = d["response"]["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(answer)
            .collect();
        assert_eq!(&Value::Array(ours), &q["answers"], "{q}");
        assert!(d.get("flags").is_none(), "{d}");
        assert!(d["query"].get("flags").is_none(), "{d}");
        assert!(d["response"].get("flags").is_none(), "{d}");
        assert!(d["latency_us"].is_u64());
    }

    // HTTP: one event per request, in order.
    let http: Vec<&Value> = run.of_type("http");
    let reqs = truth["http"].as_array().unwrap();
    assert_eq!(http.len(), reqs.len(), "{http:#?}");
    for (e, t) in http.iter().zip(reqs) {
        let h = &e["http"];
        assert_eq!(e["dest_ip"], truth["web_host"]);
        assert_eq!(e["dest_port"], t["port"]);
        assert_eq!(e["app_proto"], "http");
        assert_eq!(h["method"], t["method"]);
        assert_eq!(h["uri"], t["uri"]);
        assert_eq!(h["status"], t["status"]);
        assert_eq!(h["server"], t["server"]);
        assert_eq!(h["user_agent"], truth["user_agent"]);
        assert_eq!(h["protocol"], "HTTP/1.1");
        assert!(
            h.get("flags").is_none() && h.get("response_flags").is_none(),
            "{h}"
        );
    }

    // The inventory: the server's software, the client's OS.
    let out = Command::new(bin())
        .args(["assets", "--no-progress", "--format", "json"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap();
    let holding = |ip: &Value| {
        inv["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["ips"].as_array().unwrap().contains(ip))
            .unwrap_or_else(|| panic!("no asset holds {ip}"))
            .clone()
    };
    let server = holding(&truth["web_host"]);
    assert_eq!(server["identity"]["http_server"]["value"], truth["server"]);
    let client_ip = http[0]["src_ip"].clone();
    let client = holding(&client_ip);
    assert_eq!(client["identity"]["os"]["value"], "Windows 10/11");
}
