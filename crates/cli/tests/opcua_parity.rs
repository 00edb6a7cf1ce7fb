//! Parity with Wireshark: for every OPC UA capture of the shared corpus,
//! the message types and the service node ids equal what tshark recorded
//! in `oracle/` (its `opcua` section), except where a difference is
//! written down here with its reason and asserted exactly.
//!
//! How the counts are read from PlantShield's output:
//!
//! - `connection` events carry the Hello (`hello`), the Acknowledge
//!   (`acknowledge`) and an Error (`error`); `error` events an Error alone.
//! - `open_secure_channel` events count their OPN chunks in
//!   `request_chunks` and `response_chunks`, `close_secure_channel` events
//!   their CLO chunks in `request_chunks`, `service` events their MSG
//!   chunks in both.
//! - An encrypted channel's MSG chunks are counted once, in the
//!   `encrypted_channel` event of the channel (`encrypted_messages`).
//! - A service node id is counted for every `request` and `response`
//!   object (`type_id`): one per message, however many chunks, as
//!   Wireshark counts it once per reassembled message.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

type Counts = BTreeMap<String, u64>;

#[derive(Debug, Default, PartialEq)]
struct OpcuaCounts {
    message_types: Counts,
    services: Counts,
}

fn add(c: &mut Counts, k: &str, n: u64) {
    if n > 0 {
        *c.entry(k.to_string()).or_default() += n;
    }
}

fn ours(run: &Run) -> OpcuaCounts {
    let mut c = OpcuaCounts::default();
    for e in run.of_type("opcua") {
        let o = &e["opcua"];
        let n = |k: &str| o[k].as_u64().unwrap_or(0);
        for (key, t) in [("hello", "HEL"), ("acknowledge", "ACK"), ("error", "ERR")] {
            if o.get(key).is_some() {
                add(&mut c.message_types, t, 1);
            }
        }
        match o["kind"].as_str().unwrap() {
            "open_secure_channel" => add(
                &mut c.message_types,
                "OPN",
                n("request_chunks") + n("response_chunks"),
            ),
            "close_secure_channel" => add(&mut c.message_types, "CLO", n("request_chunks")),
            "service" => add(
                &mut c.message_types,
                "MSG",
                n("request_chunks") + n("response_chunks"),
            ),
            "encrypted_channel" => {
                let m = &o["encrypted_messages"];
                let total = m["toserver"].as_u64().unwrap() + m["toclient"].as_u64().unwrap();
                add(&mut c.message_types, "MSG", total);
                assert!(e.get("ics").is_none(), "{e}");
            }
            _ => {}
        }
        for side in ["request", "response"] {
            if let Some(id) = o[side]["type_id"].as_u64() {
                add(&mut c.services, &id.to_string(), 1);
            }
        }
    }
    c
}

fn theirs(rel: &str) -> OpcuaCounts {
    let o = oracle(rel);
    let m = &o["protocols"]["opcua"];
    OpcuaCounts {
        message_types: m["message_types"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect(),
        services: m["services"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect(),
    }
}

fn run(rel: &str) -> Run {
    let run = analyze_file(&pcaps().join(rel));
    assert!(run.status.success(), "{}", run.stderr);
    run
}

fn parity(rel: &str) -> Run {
    let run = run(rel);
    assert_eq!(ours(&run), theirs(rel), "counts differ for {rel}");
    run
}

fn services<'a>(run: &'a Run, function: &str) -> Vec<&'a Value> {
    run.of_type("opcua")
        .into_iter()
        .filter(|e| e["ics"]["function"] == function)
        .collect()
}

/// open62541 client and server on IPv6 loopback (BSD NULL link type): two
/// connections, GetEndpoints, a session with Browse, Read, Write, Call,
/// AddNodes, a subscription whose Publish calls end with
/// BadNoSubscription once it is deleted.
#[test]
fn open62541_minimal() {
    let run = parity("opcua/open62541_client-server_minimal.pcap");
    let ge = services(&run, "get_endpoints");
    assert_eq!(ge.len(), 2);
    let server = &ge[0]["opcua"]["server"];
    assert_eq!(
        server["application_uri"],
        "urn:open62541.server.application"
    );
    assert_eq!(server["product_uri"], "http://open62541.org");
    assert_eq!(
        server["application_name"],
        "open62541-based OPC UA Application"
    );
    assert_eq!(server["application_type_name"], "server");
    assert_eq!(ge[0]["ics"]["operation"], "discovery");
    let ops = |f: &str| services(&run, f)[0]["ics"]["operation"].clone();
    assert_eq!(ops("read"), "read");
    assert_eq!(ops("write"), "write");
    assert_eq!(ops("call"), "command");
    assert_eq!(ops("create_session"), "session");
    assert_eq!(ops("browse"), "discovery");
    assert_eq!(ops("publish"), "read");
    assert_eq!(ops("add_nodes"), "configuration");
    let call = &services(&run, "call")[0]["opcua"];
    assert_eq!(call["nodes"], 1);
    assert!(call["method_id"].is_string());
    let bad: Vec<_> = services(&run, "publish")
        .into_iter()
        .filter(|e| e["ics"]["status"] == "exception")
        .collect();
    assert_eq!(bad.len(), 10);
    // BadNoSubscription.
    assert_eq!(bad[0]["ics"]["exception_code"], 0x8079_0000u32);
    for e in run.of_type("opcua") {
        assert!(!e["opcua"]["secure_channel"]["encrypted"]
            .as_bool()
            .unwrap_or(false));
        assert!(e["opcua"].get("flags").is_none(), "{e}");
    }
}

/// python-opcua on IPv4 loopback (after a refused IPv6 attempt): the
/// CreateSession request names the client application, the response the
/// server's.
#[test]
fn python_opcua_minimal() {
    let run = parity("opcua/python_opcua-client-server_minimal.pcap");
    let cs = &services(&run, "create_session")[0]["opcua"];
    assert_eq!(cs["client"]["application_uri"], "urn:freeopcua:client");
    assert_eq!(cs["client"]["application_type_name"], "client");
    assert_eq!(
        cs["server"]["product_uri"],
        "urn:freeopcua.github.io:python:server"
    );
    assert_eq!(cs["server"]["application_type_name"], "client_and_server");
    assert_eq!(cs["session_name"], "Pure Python Client Session1");
    let act = &services(&run, "activate_session")[0];
    assert_eq!(act["opcua"]["identity_token"], "anonymous");
    let hello = &services(&run, "hello")[0];
    assert_eq!(
        hello["opcua"]["hello"]["endpoint_url"],
        "opc.tcp://localhost:4840/freeopcua/server/"
    );
    assert_eq!(hello["ics"]["function_code"], 0x48454c);
}

/// A second connection opens a Basic128Rsa15 channel: its MSG chunks are
/// counted, never decoded (Wireshark cannot decode them either, so the
/// service counts come from the first, unsecured, connection only).
#[test]
fn encrypted_channel() {
    let run = parity("opcua/open62541_client-server_encrypted.pcap");
    let enc: Vec<_> = run
        .of_type("opcua")
        .into_iter()
        .filter(|e| e["opcua"]["kind"] == "encrypted_channel")
        .collect();
    assert_eq!(enc.len(), 1);
    let ch = &enc[0]["opcua"]["secure_channel"];
    assert_eq!(
        ch["security_policy_uri"],
        "http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15"
    );
    assert_eq!(enc[0]["opcua"]["encrypted_messages"]["toserver"], 4);
    assert_eq!(enc[0]["opcua"]["encrypted_messages"]["toclient"], 4);
    let opn = services(&run, "open_secure_channel");
    assert_eq!(opn.len(), 2);
    assert_eq!(opn[1]["opcua"]["secure_channel"]["encrypted"], true);
    assert!(opn[1]["opcua"].get("request").is_none());
    // Encrypted-channel reports are not transactions.
    let stats = &run.of_type("stats")[0]["stats"]["transactions"]["opcua"];
    assert_eq!(stats["total"], run.of_type("opcua").len() as u64 - 1);
}

/// A session with many Reads and Publishes. Wireshark marks frame 26 a
/// spurious retransmission and gives up reassembling the 14,000-octet
/// CreateSessionResponse across it, so it counts neither that MSG nor its
/// service id 464. The retransmitted octets equal those first sent, so
/// PlantShield's stream has no hole (no gap, no overlap anomaly) and the
/// response decodes whole: one MSG and one 464 more than the oracle, and
/// the server's application description.
#[test]
fn spurious_retransmission_is_no_gap() {
    let rel = "opcua/opcua_with-gap.pcap";
    let run = run(rel);
    let c = ours(&run);
    let mut o = theirs(rel);
    *o.message_types.get_mut("MSG").unwrap() += 1;
    o.services.insert("464".to_string(), 1);
    assert_eq!(c, o);
    assert!(run.of_type("anomaly").is_empty());
    let cs = &services(&run, "create_session")[0];
    assert_eq!(cs["ics"]["status"], "ok");
    assert_eq!(
        cs["opcua"]["server"]["application_name"],
        "Softing OPC UA Gateway"
    );
    assert_eq!(cs["opcua"]["endpoint_count"], 7);
    // Two Publish requests are still outstanding when the capture ends.
    let publish = services(&run, "publish");
    assert_eq!(publish.len(), 50);
    let open: Vec<_> = publish
        .iter()
        .filter(|e| e["ics"]["status"] == "no_response")
        .collect();
    assert_eq!(open.len(), 2);
}
