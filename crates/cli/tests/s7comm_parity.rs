//! Parity with Wireshark: for every S7comm and S7comm-plus capture of the
//! shared corpus, the PDUs PlantShield reports equal what tshark recorded
//! in `oracle/`.
//!
//! S7comm (the `s7comm` oracle section): PDUs by ROSCTR, Job and Ack-Data
//! PDUs by function, userdata PDUs by function group and sub-function, SZL
//! ids, and non-zero header error classes. One `s7comm` event stands for
//! `request_pdus` request PDUs and `response_pdus` response PDUs (one each
//! unless the event says otherwise, none when `request_missing` or
//! `response_missing`); a push is one PDU. Wireshark counts an SZL id where
//! it decodes one: in the request, and in the answer once its data units
//! are reassembled; we count `szl_id` (request) and `szl.id` (answer).
//! The mode-transition push has no sub-function in either tool.
//!
//! S7comm-plus (the `s7commplus_raw` section, derived from raw COTP
//! payloads because stock Wireshark has no dissector): payloads starting
//! with 0x72 by protocol version, and for versions 1 and 2 by opcode (5th
//! octet) and function (8th and 9th octets). Each such payload is one
//! fragment; an event counts `request_fragments` and `response_fragments`.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// What one side counted for one capture.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    rosctr: BTreeMap<u64, u64>,
    functions: BTreeMap<(u64, u64), u64>,
    userdata: BTreeMap<(u64, Option<u64>), u64>,
    szl_ids: BTreeMap<u64, u64>,
    error_classes: BTreeMap<u64, u64>,
    plus_versions: BTreeMap<u64, u64>,
    plus_opcode_function: BTreeMap<(u64, u64), u64>,
}

fn u(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn ours(run: &Run) -> Counts {
    let mut c = Counts::default();
    for e in run.of_type("s7comm") {
        let s = &e["s7comm"];
        if s.get("cotp").is_some() {
            continue;
        }
        let n_req = u(&s["request_pdus"]).unwrap_or(u64::from(s.get("rosctr").is_some()));
        let n_resp =
            u(&s["response_pdus"]).unwrap_or(u64::from(s.get("response_rosctr").is_some()));
        if let Some(r) = u(&s["rosctr"]) {
            *c.rosctr.entry(r).or_default() += n_req;
        }
        if let Some(r) = u(&s["response_rosctr"]) {
            *c.rosctr.entry(r).or_default() += n_resp;
        }
        let fc = u(&s["function_code"]).unwrap();
        if s["rosctr"] == 7 || s["response_rosctr"] == 7 {
            let group = u(&s["function_group"]).unwrap();
            let sub = u(&s["sub_function"]);
            *c.userdata.entry((group, sub)).or_default() += n_req + n_resp;
            if let Some(id) = u(&s["szl_id"]) {
                *c.szl_ids.entry(id).or_default() += 1;
            }
            if let Some(id) = u(&s["szl"]["id"]) {
                *c.szl_ids.entry(id).or_default() += 1;
            }
        } else {
            if s["rosctr"] == 1 {
                *c.functions.entry((1, fc)).or_default() += n_req;
            }
            if s["response_rosctr"] == 3 {
                *c.functions.entry((3, fc)).or_default() += n_resp;
            }
        }
        if let Some(class) = u(&s["error_class"]).filter(|&x| x != 0) {
            *c.error_classes.entry(class).or_default() += n_resp;
        }
    }
    for e in run.of_type("s7comm_plus") {
        let s = &e["s7comm_plus"];
        if s.get("cotp").is_some() {
            continue;
        }
        let version = u(&s["protocol_version"]).unwrap();
        let opcode = u(&s["opcode"]).unwrap();
        let fc = u(&s["function_code"]).unwrap();
        let notification = opcode == 0x33;
        let has_request = !notification && s.get("request_missing").is_none();
        let has_response = !notification
            && s.get("response_missing").is_none()
            && s.get("no_response_expected").is_none();
        let n_req = u(&s["request_fragments"]).unwrap_or(1);
        let n_resp = u(&s["response_fragments"]).unwrap_or(1);
        let resp_version = u(&s["response_protocol_version"]).unwrap_or(version);
        if notification || has_request {
            *c.plus_versions.entry(version).or_default() += n_req;
        }
        if has_response {
            *c.plus_versions.entry(resp_version).or_default() += n_resp;
        }
        // The oracle reads opcode and function from the first fragment.
        if (1..=2).contains(&version) && (notification || has_request) {
            *c.plus_opcode_function.entry((opcode, fc)).or_default() += 1;
        }
        if (1..=2).contains(&resp_version) && has_response {
            *c.plus_opcode_function.entry((0x32, fc)).or_default() += 1;
        }
    }
    c
}

fn theirs(rel: &str) -> Counts {
    let o = oracle(rel);
    let mut c = Counts::default();
    if let Some(s) = o["protocols"].get("s7comm") {
        for (k, v) in s["rosctr"].as_object().unwrap() {
            c.rosctr.insert(k.parse().unwrap(), u(&v["count"]).unwrap());
        }
        for f in s["job_ack_functions"].as_array().unwrap() {
            c.functions.insert(
                (u(&f["rosctr"]).unwrap(), hex(f["func"].as_str().unwrap())),
                u(&f["count"]).unwrap(),
            );
        }
        for f in s["userdata_functions"].as_array().unwrap() {
            c.userdata.insert(
                (u(&f["funcgroup"]).unwrap(), u(&f["subfunc"])),
                u(&f["count"]).unwrap(),
            );
        }
        for (k, v) in s["szl_ids"].as_object().unwrap() {
            c.szl_ids.insert(hex(k), u(v).unwrap());
        }
        for (k, v) in s["error_classes"].as_object().unwrap() {
            c.error_classes.insert(hex(k), u(v).unwrap());
        }
    }
    if let Some(s) = o["protocols"].get("s7commplus_raw") {
        for (k, v) in s["by_protocol_version"].as_object().unwrap() {
            c.plus_versions.insert(hex(k), u(v).unwrap());
        }
        for f in s["v1_v2_opcode_function"].as_array().unwrap() {
            c.plus_opcode_function.insert(
                (
                    hex(f["opcode"].as_str().unwrap()),
                    hex(f["function"].as_str().unwrap()),
                ),
                u(&f["count"]).unwrap(),
            );
        }
    }
    c
}

fn run(rel: &str) -> Run {
    let r = analyze_file(&pcaps().join(rel));
    assert!(r.status.success(), "{}", r.stderr);
    r
}

/// Anomalies of the run by (layer, event).
fn anomalies(r: &Run) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for a in r.of_type("anomaly") {
        let a = &a["anomaly"];
        *m.entry((
            a["layer"].as_str().unwrap().to_string(),
            a["event"].as_str().unwrap().to_string(),
        ))
        .or_default() += 1;
    }
    m
}

/// Equal counts and no anomaly at all.
fn parity(rel: &str) -> Run {
    let r = run(rel);
    assert_eq!(
        ours(&r),
        theirs(rel),
        "PDU counts differ from Wireshark for {rel}"
    );
    assert_eq!(anomalies(&r), BTreeMap::new(), "anomalies in {rel}");
    r
}

fn events<'a>(r: &'a Run, t: &str) -> Vec<&'a Value> {
    r.of_type(t)
        .into_iter()
        .filter(|e| e[t].get("cotp").is_none())
        .collect()
}

fn count(r: &Run, t: &str, f: impl Fn(&Value) -> bool) -> usize {
    events(r, t).into_iter().filter(|e| f(e)).count()
}

#[test]
fn hmi_read_and_write_var_midstream() {
    // A WinCC HMI polling 19 merker bits per Read Var, and one Write Var.
    let r = parity("s7comm/20161215185429.ChangeLowerThreshold.master.pcap");
    assert_eq!(count(&r, "s7comm", |e| e["ics"]["operation"] == "write"), 1);
    assert_eq!(count(&r, "s7comm", |e| e["ics"]["status"] == "ok"), 17);
}

#[test]
fn s7comm_and_s7comm_plus_v3_side_by_side() {
    let r = parity("s7comm/s7comm_plus.pcap");
    // Version 3: 79 notifications, 26 subscription credits (SetVariable
    // that asks for no response), and 8 answered requests.
    assert_eq!(
        count(&r, "s7comm_plus", |e| e["s7comm_plus"]["opcode"] == 0x33),
        79
    );
    assert_eq!(
        count(&r, "s7comm_plus", |e| e["s7comm_plus"]
            ["no_response_expected"]
            == true),
        26
    );
    assert_eq!(
        count(&r, "s7comm_plus", |e| e["ics"]["status"] == "no_response"),
        0
    );
}

#[test]
fn program_block_list_online_view() {
    let r = parity("s7comm/s7comm_program_blocklist_onlineview.pcap");
    // Five connections to rack 0, slot 2, each a COTP connection event.
    let cotp: Vec<_> = r
        .of_type("s7comm")
        .into_iter()
        .filter(|e| e["s7comm"].get("cotp").is_some())
        .collect();
    assert_eq!(cotp.len(), 5);
    assert!(cotp
        .iter()
        .all(|e| e["s7comm"]["slot"] == 2 && e["s7comm"]["cotp"]["called_tsap"] == "0102"));
    // Lists of blocks of a type split over two data units are one event.
    assert_eq!(
        count(&r, "s7comm", |e| e["s7comm"]["response_pdus"] == 2),
        2
    );
}

#[test]
fn reading_plc_status() {
    let r = parity("s7comm/s7comm_reading_plc_status.pcap");
    // SZL 0x0C91 is refused with userdata error 0xD402.
    assert_eq!(
        count(&r, "s7comm", |e| e["ics"]["exception_code"] == 0xd402),
        1
    );
}

#[test]
fn s7ident_fingerprinting() {
    let r = parity("s7comm/s7ident.pcap");
    let szl = events(&r, "s7comm")
        .into_iter()
        .find(|e| e["s7comm"]["szl"]["id"] == 0x1c)
        .unwrap();
    assert!(
        szl["s7comm"]["szl"]["component_identification"]["module_type_name"]
            .as_str()
            .is_some()
    );
    // Four start-upload jobs refused by Ack with error 0xD241.
    assert_eq!(
        count(&r, "s7comm", |e| e["ics"]["exception_code"] == 0xd241),
        4
    );
}

#[test]
fn snap7_client_functions() {
    let r = parity("s7comm/snap7.pcap");
    let ops: Vec<&str> = events(&r, "s7comm")
        .iter()
        .map(|e| e["ics"]["operation"].as_str().unwrap())
        .collect();
    for op in [
        "read",
        "write",
        "program_upload",
        "mode_change",
        "configuration",
        "discovery",
    ] {
        assert!(ops.contains(&op), "no {op} in {ops:?}");
    }
}

/// These two captures are excerpts of longer STEP 7 sessions: frames
/// were left out (tshark flags "previous segment not captured" on exactly
/// `gaps` frames, and the sequence numbers skip `gap_bytes` octets in
/// total). We report each hole as a gap, resume at the next TPKT, and count
/// every S7 PDU that is there, as Wireshark does.
fn excerpt(rel: &str, gaps: u64, gap_bytes: u64) -> Run {
    let r = run(rel);
    assert_eq!(ours(&r), theirs(rel));
    let mut want = BTreeMap::new();
    want.insert(("tcp".to_string(), "gap".to_string()), gaps);
    assert_eq!(anomalies(&r), want);
    let flow = &r.of_type("flow")[0]["flow"];
    assert_eq!(flow["gaps"], gaps);
    assert_eq!(flow["gap_bytes"], gap_bytes);
    r
}

#[test]
fn step7_password() {
    let r = excerpt("s7comm/step7_s300_AuthPassword.pcapng", 2, 14);
    let pw: Vec<_> = events(&r, "s7comm")
        .into_iter()
        .filter(|e| e["s7comm"]["function"] == "plc_password")
        .collect();
    assert_eq!(pw.len(), 1);
    assert_eq!(pw[0]["s7comm"]["password_sent"], true);
    // The obfuscated password bytes appear nowhere.
    assert!(!pw[0].to_string().contains("213a1b1d"));
}

#[test]
fn step7_download() {
    let r = excerpt("s7comm/step7_s300_download.pcapng", 59, 16_583);
    assert_eq!(
        count(&r, "s7comm", |e| e["ics"]["operation"]
            == "program_download"),
        4
    );
}

#[test]
fn step7_stop() {
    let r = parity("s7comm/step7_s300_stop.pcapng");
    let modes: Vec<_> = events(&r, "s7comm")
        .into_iter()
        .filter(|e| e["s7comm"]["current_mode_name"] == "stop")
        .collect();
    assert_eq!(modes.len(), 1);
}

/// The 2 KiB CreateObject of the download travels in three fragments
/// (tshark frames 127, 128, 129). The oracle reads an opcode and function
/// from each of them: the second and third start mid-object, giving
/// (0x00, 0x9800) and (0xbe, 0x7b86). We join the fragments into one
/// request of CreateObject (0x31, 0x04ca) with `request_fragments: 3`.
#[test]
fn s7_1200_program_download_by_tia_portal() {
    let rel = "s7comm_plus/S7-1200-Uploading-OB1-TIAV12.pcap";
    let r = run(rel);
    let mut theirs = theirs(rel);
    assert_eq!(theirs.plus_opcode_function.remove(&(0x00, 0x9800)), Some(1));
    assert_eq!(theirs.plus_opcode_function.remove(&(0xbe, 0x7b86)), Some(1));
    assert_eq!(ours(&r), theirs);
    assert_eq!(anomalies(&r), BTreeMap::new());
    let create: Vec<_> = events(&r, "s7comm_plus")
        .into_iter()
        .filter(|e| e["s7comm_plus"]["request_fragments"] == 3)
        .collect();
    assert_eq!(create.len(), 1);
    assert_eq!(create[0]["s7comm_plus"]["function"], "create_object");
    // BeginSequence "DLTransaction" to the last EndSequence: 5 operations.
    assert_eq!(
        count(&r, "s7comm_plus", |e| e["ics"]["operation"]
            == "program_download"),
        5
    );
    assert_eq!(
        count(&r, "s7comm_plus", |e| e["ics"]["operation"] == "session"),
        3
    );
}

/// Every client segment appears twice in this capture (a mirror port
/// copying both directions of the client's link); the copies are
/// retransmissions with the same bytes and change nothing. Frame 59 is a
/// TCP keep-alive from the PLC carrying one garbage octet at the last
/// acknowledged sequence number; it is recognised as such and raises no
/// overlap anomaly.
#[test]
fn s7_1511_opc_server_reads_all_types() {
    let rel = "s7comm_plus/S7-1511-opc-request-all-types.pcap";
    let r = run(rel);
    assert_eq!(ours(&r), theirs(rel));
    assert_eq!(anomalies(&r), BTreeMap::new());
}

#[test]
fn s7_1200_hmi() {
    let r = parity("s7comm_plus/s7-1200-hmi.pcap");
    // Session setup (CreateObject, SetMultiVariables on the session), nine
    // reads and one write, all answered.
    assert_eq!(count(&r, "s7comm_plus", |e| e["ics"]["status"] == "ok"), 12);
    assert_eq!(
        count(&r, "s7comm_plus", |e| e["ics"]["operation"] == "write"),
        1
    );
}
