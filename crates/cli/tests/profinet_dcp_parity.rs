//! Parity with Wireshark: for every PROFINET capture of the shared corpus,
//! the DCP messages by service id and service type equal the oracle's
//! `profinet.dcp` list. A Set or Get exchange is one event carrying the
//! request (the event's own service type) and its `response`; every other
//! DCP message is an event of its own. The oracle's other PROFINET
//! sections (cyclic real-time frame ids, PNIO-CM DCE/RPC operations, PTCP)
//! are out of scope.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

type Counts = BTreeMap<(u64, u64), u64>;

fn ours(run: &Run) -> Counts {
    let mut c = Counts::new();
    for e in run.of_type("profinet_dcp") {
        let d = &e["profinet_dcp"];
        let sid = d["service_id"].as_u64().unwrap();
        *c.entry((sid, d["service_type"].as_u64().unwrap()))
            .or_default() += 1;
        if let Some(r) = d.get("response") {
            *c.entry((sid, r["service_type"].as_u64().unwrap()))
                .or_default() += 1;
        }
        // Layer 2: no addresses of layer 3 in the envelope.
        assert!(
            e.get("src_ip").is_none() && e.get("flow_id").is_none(),
            "{e}"
        );
    }
    c
}

fn theirs(rel: &str) -> Counts {
    oracle(rel)["protocols"]["profinet"]["dcp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                (
                    x["service_id"].as_u64().unwrap(),
                    x["service_type"].as_u64().unwrap(),
                ),
                x["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn parity(rel: &str) -> Run {
    let run = analyze_file(&pcaps().join(rel));
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(ours(&run), theirs(rel), "DCP messages differ for {rel}");
    run
}

/// Identify all, the device's response (name of station, vendor and
/// device id, role, IP), then a Set of a new IP address answered OK.
#[test]
fn change_ip_using_dcp() {
    let run = parity("profinet/ChangeIPUsingDCP.pcap");
    let ev = run.of_type("profinet_dcp");
    assert_eq!(ev.len(), 3);
    let resp = &ev[1]["profinet_dcp"];
    assert_eq!(resp["src_mac"], "08:00:06:93:cf:32");
    let blocks = resp["blocks"].as_array().unwrap();
    let find = |n: &str| blocks.iter().find(|b| b["name"] == n).unwrap();
    assert_eq!(find("name_of_station")["name_of_station"], "X208-BORD");
    assert_eq!(find("device_id")["vendor_id"], 0x2a);
    assert_eq!(
        find("device_role")["device_role_names"],
        serde_json::json!(["io_device"])
    );
    assert_eq!(find("ip_parameter")["ip_address"], "192.168.0.6");
    assert_eq!(find("ip_parameter")["ip_status"], "ip_set");
    let set = &ev[2];
    assert_eq!(set["ics"]["function"], "set");
    assert_eq!(set["ics"]["operation"], "configuration");
    assert_eq!(set["ics"]["status"], "ok");
    assert_eq!(
        set["profinet_dcp"]["blocks"][0]["ip_address"],
        "192.168.0.10"
    );
    assert_eq!(
        set["profinet_dcp"]["response"]["blocks"][0]["block_error_name"],
        "ok"
    );
    assert!(set["profinet_dcp"]["latency_us"].as_u64().is_some());
    // The inventory learns the device's new address from the confirmed Set.
    let changed: Vec<&Value> = run
        .of_type("asset")
        .into_iter()
        .filter(|e| e["asset"]["attribute"] == "profinet_ip")
        .collect();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[1]["asset"]["old"], "192.168.0.6/24");
    assert_eq!(changed[1]["asset"]["new"], "192.168.0.10/24");
    assert_eq!(changed[1]["asset"]["source"], "profinet_dcp.set");
}

/// Identify requests by name of station, multicast.
#[test]
fn identify_requests() {
    let run = parity("profinet/PROFINET-RT.pcap");
    for e in run.of_type("profinet_dcp") {
        assert_eq!(e["profinet_dcp"]["dest_mac"], "01:0e:cf:00:00:00");
        assert_eq!(e["ics"]["operation"], "discovery");
        assert!(e["profinet_dcp"]["blocks"][0]["name_of_station"].is_string());
    }
}

/// Controller start-up: Identify requests for each device name and one
/// device's response, among cyclic data, PTCP and PNIO-CM.
#[test]
fn io_cm_start_up() {
    let run = parity("profinet/profinet_io_cm_mixed_1.pcap");
    let resp: Vec<&Value> = run
        .of_type("profinet_dcp")
        .into_iter()
        .filter(|e| e["profinet_dcp"]["service_type"] == 1)
        .collect();
    assert_eq!(resp.len(), 1);
    let b = resp[0]["profinet_dcp"]["blocks"].as_array().unwrap();
    assert!(b.iter().any(|b| b["device_vendor"] == "IC200PNS001"));
}

/// No DCP at all: PNIO-CM reads over DCE/RPC only.
#[test]
fn io_cm_read_has_no_dcp() {
    let run = parity("profinet/profinet_io_cm_read.pcapng");
    assert!(run.of_type("profinet_dcp").is_empty());
}
