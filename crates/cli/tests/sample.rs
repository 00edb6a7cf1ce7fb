//! The shipped sample, samples/plant-cell.pcap, holds what the stacks that
//! recorded it were scripted to do (scripts/plant_cell.py, summarised in
//! samples/README.md): every operation once, nothing invented, no anomaly
//! and no alert.

mod common;

use std::collections::BTreeMap;

use common::{analyze, repo};
use serde_json::Value;

const HMI: &str = "10.10.0.20";
const EWS: &str = "10.10.0.30";

/// (protocol, function, status) -> count, of the transactions a client sent.
fn by_function(events: &[Value], client: &str) -> BTreeMap<(String, String, String), usize> {
    let mut m = BTreeMap::new();
    for e in events {
        let ics = &e["ics"];
        if ics.is_null() || e["src_ip"] != client {
            continue;
        }
        let key = (
            ics["protocol"].as_str().unwrap().to_string(),
            ics["function"].as_str().unwrap().to_string(),
            ics["status"].as_str().unwrap().to_string(),
        );
        *m.entry(key).or_default() += 1;
    }
    m
}

fn key(p: &str, f: &str, s: &str) -> (String, String, String) {
    (p.into(), f.into(), s.into())
}

#[test]
fn the_sample_holds_exactly_the_scripted_operations() {
    let sample = repo().join("samples/plant-cell.pcap");
    let run = analyze(&["--no-progress", sample.to_str().unwrap()]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.of_type("anomaly").is_empty(),
        "{:?}",
        run.of_type("anomaly")
    );
    assert!(
        run.of_type("alert").is_empty(),
        "{:?}",
        run.of_type("alert")
    );

    // The engineering workstation's sessions, each exactly once.
    let ews = by_function(&run.events, EWS);
    let expected: BTreeMap<_, usize> = [
        // Modbus: three identifications, set point reads (one refused:
        // register 4000 does not exist), five writes.
        (key("modbus", "encapsulated_interface_transport", "ok"), 3),
        (key("modbus", "read_holding_registers", "ok"), 2),
        (key("modbus", "read_holding_registers", "exception"), 1),
        (key("modbus", "write_single_register", "ok"), 2),
        (key("modbus", "write_single_coil", "ok"), 2),
        (key("modbus", "write_multiple_registers", "ok"), 1),
        // S7: three connections (COTP connect and setup communication each),
        // the CPU's identity (SZL 0x0011 and 0x001C), the recipe read, the
        // press time write, the block list.
        (key("s7comm", "cotp_connect", "ok"), 3),
        (key("s7comm", "setup_communication", "ok"), 3),
        (key("s7comm", "read_szl", "ok"), 2),
        (key("s7comm", "read_var", "ok"), 1),
        (key("s7comm", "write_var", "ok"), 1),
        (key("s7comm", "list_blocks", "ok"), 1),
        // EtherNet/IP: a session, ListIdentity, the line speed write.
        (key("enip", "register_session", "ok"), 1),
        (key("enip", "list_identity", "ok"), 1),
        (key("enip", "write_tag", "ok"), 1),
    ]
    .into();
    assert_eq!(ews, expected);

    // The HMI: polling, and its SCADA session with the RTU.
    let hmi = by_function(&run.events, HMI);
    let n = |p: &str, f: &str| hmi.get(&key(p, f, "ok")).copied().unwrap_or(0);
    for (p, f, count) in [
        ("iec104", "startdt", 1),
        // c104's Init.ALL: interrogation and clock synchronisation of the
        // global address 65535, confirmed by station 47.
        ("iec104", "c_ic_na_1", 1),
        ("iec104", "c_cs_na_1", 1),
        // The feeder breaker: select, then execute.
        ("iec104", "c_sc_na_1", 2),
        ("s7comm", "cotp_connect", 1),
        ("s7comm", "setup_communication", 1),
        ("enip", "register_session", 1),
    ] {
        assert_eq!(n(p, f), count, "{p} {f}");
    }
    // Every polling request was answered, and the cycles are whole: per
    // Modbus PLC as many holding register, input register and coil reads,
    // discrete inputs every fifth cycle; both tags every second.
    assert!(hmi.keys().all(|(_, _, s)| s == "ok"), "{hmi:?}");
    let polls = |ip: &str, f: &str| {
        run.events
            .iter()
            .filter(|e| e["src_ip"] == HMI && e["dest_ip"] == ip && e["ics"]["function"] == f)
            .count()
    };
    for plc in ["10.10.0.11", "10.10.0.12", "10.10.0.13"] {
        let cycles = polls(plc, "read_holding_registers");
        assert!(cycles > 100, "{plc}: {cycles} cycles in 40 s");
        assert_eq!(polls(plc, "read_input_registers"), cycles, "{plc}");
        assert_eq!(polls(plc, "read_coils"), cycles, "{plc}");
        assert_eq!(
            polls(plc, "read_discrete_inputs"),
            cycles.div_ceil(5),
            "{plc}"
        );
    }
    let s7_reads = polls("10.10.0.14", "read_var");
    assert!(
        (35..=41).contains(&s7_reads),
        "{s7_reads} recipe reads in 40 s"
    );
    let tag_reads = polls("10.10.0.16", "read_tag");
    assert!(
        tag_reads % 2 == 0 && (70..=82).contains(&tag_reads),
        "{tag_reads} tag reads in 40 s"
    );
    // The interrogation of the global address is one transaction: its
    // request, station 47's confirmation and termination.
    let gi: Vec<_> = run
        .of_type("iec104")
        .into_iter()
        .filter(|e| e["ics"]["function"] == "c_ic_na_1")
        .collect();
    assert_eq!(gi.len(), 1);
    assert_eq!(gi[0]["iec104"]["request"]["common_address"], 65535);
    assert_eq!(gi[0]["iec104"]["confirmation"]["common_address"], 47);
    assert_eq!(gi[0]["iec104"]["termination"]["cause_name"], "actterm");
}
