//! The audit trail end to end: `analyze --audit DB` records exactly the
//! write, command, program, firmware and mode-change transactions of its
//! event stream, `audit verify` finds the chain intact, and every kind of
//! tampering done with a real SQLite client (Python's `sqlite3`) is found
//! and named; the independent verifier printed in docs/audit.md agrees.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

const AUDITED: [&str; 6] = [
    "write",
    "command",
    "program_download",
    "program_upload",
    "firmware",
    "mode_change",
];

/// The shipped sample and one corpus capture per other protocol, chosen
/// for their writes, commands, program transfers and mode changes.
fn captures() -> Vec<PathBuf> {
    let mut v = vec![repo().join("samples/plant-cell.pcap")];
    for f in [
        "dnp3/select_operate_and_responses.pcap",
        "dnp3/cold_restart_and_response.pcap",
        "enip/EIP-RebootorRestart.pcap",
        "iec104/TestDissectIec104.pcap",
        "s7comm/snap7.pcap",
        "s7comm/step7_s300_download.pcapng",
        "s7comm_plus/S7-1200-Uploading-OB1-TIAV12.pcap",
    ] {
        v.push(pcaps().join(f));
    }
    v
}

/// `plantshield analyze --no-progress --audit DB EXTRA... FILES...`: the
/// raw JSON lines, standard error, and the exit code.
fn analyze_audit(db: &Path, extra: &[&str], files: &[PathBuf]) -> (Vec<String>, String, i32) {
    let out = Command::new(bin())
        .args(["analyze", "--no-progress", "--audit"])
        .arg(db)
        .args(extra)
        .args(files)
        .output()
        .expect("run plantshield");
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    (
        text.lines().map(str::to_string).collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn audit_cmd(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("audit")
        .args(args)
        .output()
        .expect("run plantshield audit")
}

/// `audit verify DB [ARGS]`: exit code and the first line of standard output.
fn verify(db: &Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["verify", db.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = audit_cmd(&all);
    assert!(
        out.status.code() != Some(2),
        "verify failed to run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    (
        out.status.code().unwrap(),
        stdout.lines().next().unwrap().to_string(),
    )
}

/// One row of the `audit` table, every column.
#[derive(Debug, PartialEq)]
struct Row {
    seq: i64,
    ts: String,
    ts_ns: i64,
    sensor: String,
    flow_id: Option<i64>,
    src_ip: Option<String>,
    src_port: Option<i64>,
    dest_ip: Option<String>,
    dest_port: Option<i64>,
    protocol: String,
    function_code: i64,
    function: String,
    operation: String,
    status: String,
    event: String,
    prev_hash: String,
    hash: String,
}

fn rows(db: &Path) -> Vec<Row> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare(
            "SELECT seq, ts, ts_ns, sensor, flow_id, src_ip, src_port, dest_ip, dest_port, \
             protocol, function_code, function, operation, status, event, prev_hash, hash \
             FROM audit ORDER BY seq",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Row {
            seq: r.get(0)?,
            ts: r.get(1)?,
            ts_ns: r.get(2)?,
            sensor: r.get(3)?,
            flow_id: r.get(4)?,
            src_ip: r.get(5)?,
            src_port: r.get(6)?,
            dest_ip: r.get(7)?,
            dest_port: r.get(8)?,
            protocol: r.get(9)?,
            function_code: r.get(10)?,
            function: r.get(11)?,
            operation: r.get(12)?,
            status: r.get(13)?,
            event: r.get(14)?,
            prev_hash: r.get(15)?,
            hash: r.get(16)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Runs a Python program (`sys.argv[1]` is the database) and returns its
/// output; panics if python3 is missing or the program fails.
fn python(db: &Path, program: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(program)
        .arg(db)
        .output()
        .expect("python3 (with its sqlite3 module) is needed");
    assert!(
        out.status.success(),
        "python failed: {}\n{program}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Python: open the database with the standard `sqlite3` module, drop the
/// append-only triggers (as anyone with write access to the file can), and
/// run `sql`.
fn tamper(db: &Path, sql: &str) {
    python(
        db,
        &format!(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             for t in ('audit_no_update', 'audit_no_delete', 'audit_append_linked'):\n\
             \x20   c.execute('DROP TRIGGER IF EXISTS ' + t)\n\
             c.executescript('''{sql}''')\n"
        ),
    );
}

/// A log of the captures of [`captures`] at `dir/name`, with its rows.
fn make_log(dir: &Path, name: &str) -> (PathBuf, Vec<Row>) {
    let db = dir.join(name);
    let (_, stderr, code) = analyze_audit(&db, &["-q", "--count-only"], &captures());
    assert_eq!(code, 0, "{stderr}");
    let r = rows(&db);
    assert!(r.len() > 50, "{} records", r.len());
    (db, r)
}

#[test]
fn audit_records_are_exactly_the_audited_events_and_verify_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let files = captures();
    let (lines, stderr, code) = analyze_audit(&db, &["--sensor", "cell-7"], &files);
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<(&String, Value)> = lines
        .iter()
        .map(|l| (l, serde_json::from_str(l).unwrap()))
        .collect();
    let audited: Vec<&(&String, Value)> = events
        .iter()
        .filter(|(_, e)| {
            e["ics"]["operation"]
                .as_str()
                .is_some_and(|o| AUDITED.contains(&o))
        })
        .collect();
    let reads = events
        .iter()
        .filter(|(_, e)| e["ics"]["operation"] == "read")
        .count();
    assert!(reads > 1000, "the filter has something to leave out");
    let log = rows(&db);
    assert_eq!(log.len(), audited.len());
    assert!(
        stderr.contains(&format!("audit: {} records appended to", log.len())),
        "{stderr}"
    );
    // Same events, same order, every column from the event.
    let mut prev = "0".repeat(64);
    for (i, (row, (line, e))) in log.iter().zip(&audited).enumerate() {
        assert_eq!(row.seq, i as i64 + 1);
        assert_eq!(&row.event, *line, "the stored JSON line is the one written");
        assert_eq!(row.ts, e["timestamp"].as_str().unwrap());
        // ts_ns to the microsecond is the timestamp.
        let t = e["timestamp"].as_str().unwrap();
        let us: i64 = t[20..26].parse().unwrap();
        assert_eq!(row.ts_ns.rem_euclid(1_000_000_000) / 1000, us, "{t}");
        assert_eq!(row.sensor, "cell-7");
        assert_eq!(row.flow_id, e["flow_id"].as_i64());
        assert_eq!(row.src_ip.as_deref(), e["src_ip"].as_str());
        assert_eq!(row.src_port, e["src_port"].as_i64());
        assert_eq!(row.dest_ip.as_deref(), e["dest_ip"].as_str());
        assert_eq!(row.dest_port, e["dest_port"].as_i64());
        assert_eq!(row.protocol, e["event_type"].as_str().unwrap());
        assert_eq!(row.protocol, e["ics"]["protocol"].as_str().unwrap());
        assert_eq!(Some(row.function_code), e["ics"]["function_code"].as_i64());
        assert_eq!(row.function, e["ics"]["function"].as_str().unwrap());
        assert_eq!(row.operation, e["ics"]["operation"].as_str().unwrap());
        assert_eq!(row.status, e["ics"]["status"].as_str().unwrap());
        assert_eq!(row.prev_hash, prev);
        assert_eq!(row.hash.len(), 64);
        prev = row.hash.clone();
    }
    // Every protocol and every audited operation the captures hold.
    let count = |f: &dyn Fn(&Row) -> bool| log.iter().filter(|r| f(r)).count();
    for p in ["modbus", "dnp3", "enip", "iec104", "s7comm", "s7comm_plus"] {
        assert!(count(&|r| r.protocol == p) > 0, "no {p} record");
    }
    for op in AUDITED.iter().filter(|o| **o != "firmware") {
        assert!(count(&|r| r.operation == *op) > 0, "no {op} record");
    }
    assert!(count(&|r| r.status != "ok") > 0, "refused operations too");
    // The sample's writes and commands (samples/README.md), in order: the
    // breaker command is a select and an execute.
    let sample: Vec<(&str, i64, &str)> = log
        .iter()
        .filter(|r| {
            r.dest_ip
                .as_deref()
                .is_some_and(|d| d.starts_with("10.10.0."))
        })
        .map(|r| {
            (
                r.function.as_str(),
                r.function_code,
                r.dest_ip.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sample,
        [
            ("write_single_register", 6, "10.10.0.11"),
            ("write_tag", 77, "10.10.0.16"),
            ("write_single_coil", 5, "10.10.0.12"),
            ("c_sc_na_1", 45, "10.10.0.15"),
            ("c_sc_na_1", 45, "10.10.0.15"),
            ("write_multiple_registers", 16, "10.10.0.13"),
            ("write_var", 5, "10.10.0.14"),
            ("write_single_coil", 5, "10.10.0.12"),
            ("write_single_register", 6, "10.10.0.11"),
        ]
    );
    // Verify: intact, with the last record's hash as head.
    let (code, line) = verify(&db, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        line,
        format!("{} records, chain intact, head {}", log.len(), prev)
    );
    // The chain does not depend on the output options: counting only, or
    // without the inventory, stores the same records.
    let db2 = dir.path().join("count-only.db");
    let (_, stderr, code) = analyze_audit(
        &db2,
        &["--count-only", "--no-assets", "--sensor", "cell-7"],
        &files,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rows(&db2), log);
}

#[test]
fn list_prints_records_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    let out = audit_cmd(&["list", db.to_str().unwrap(), "--limit", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for (line, row) in lines.iter().zip(&log[log.len() - 3..]) {
        let want = format!(
            "{:>6}  {}  {} {}(",
            row.seq, row.ts, row.protocol, row.function
        );
        assert!(line.starts_with(&want), "{line}\n{want}");
        assert!(line.ends_with(&row.hash), "{line}");
    }
    let out = audit_cmd(&["list", db.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let all: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(all.len(), log.len());
    for (j, row) in all.iter().zip(&log) {
        assert_eq!(j["seq"], row.seq);
        assert_eq!(j["event"], row.event.as_str());
        assert_eq!(j["flow_id"].as_i64(), row.flow_id);
        assert_eq!(j["hash"], row.hash.as_str());
        let ev: Value = serde_json::from_str(j["event"].as_str().unwrap()).unwrap();
        assert_eq!(ev["ics"]["operation"], row.operation.as_str());
    }
}

#[test]
fn one_altered_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    // A refused or unanswered operation made to look successful.
    let r = log
        .iter()
        .find(|r| r.status != "ok")
        .expect("a refused operation");
    let k = r.seq;
    tamper(
        &db,
        &format!(
            "UPDATE audit SET status = 'ok', \
             event = replace(event, '\"status\":\"{}\"', '\"status\":\"ok\"') WHERE seq = {k};",
            r.status
        ),
    );
    assert_eq!(rows(&db)[k as usize - 1].status, "ok");
    let (code, line) = verify(&db, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        line,
        format!("record {k}: altered: its hash does not match its contents")
    );
    // One character of the stored JSON of another log.
    let (db, _) = make_log(dir.path(), "b.db");
    tamper(
        &db,
        "UPDATE audit SET event = replace(event, '\"dest_port\":', '\"dest_port\": ') WHERE seq = 3;",
    );
    assert_eq!(
        verify(&db, &[]),
        (
            1,
            "record 3: altered: its hash does not match its contents".into()
        )
    );
}

#[test]
fn a_deleted_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    let k = log.len() as i64 / 3;
    tamper(&db, &format!("DELETE FROM audit WHERE seq = {k};"));
    let (code, line) = verify(&db, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        line,
        format!(
            "record {k}: missing (deleted): record {} follows record {}",
            k + 1,
            k - 1
        )
    );
}

/// Python implementation of the documented record hash, to forge records
/// the way an attacker who read docs/audit.md would.
const FORGE: &str = r#"
import hashlib, sqlite3, struct, sys
def field(v):
    if v is None: return b"\x00"
    if isinstance(v, int): return b"\x01" + struct.pack(">q", v)
    v = v.encode()
    return b"\x03" + struct.pack(">Q", len(v)) + v
COLS = "seq, ts, ts_ns, sensor, flow_id, src_ip, src_port, dest_ip, dest_port, protocol, function_code, function, operation, status, event"
c = sqlite3.connect(sys.argv[1], isolation_level=None)
for t in ('audit_no_update', 'audit_no_delete', 'audit_append_linked'):
    c.execute('DROP TRIGGER IF EXISTS ' + t)
def forge_at(k):
    # Make room at k, then insert a record that links to record k - 1 and
    # whose own hash is right.
    c.execute("UPDATE audit SET seq = -(seq + 1) WHERE seq >= ?", (k,))
    c.execute("UPDATE audit SET seq = -seq WHERE seq < 0")
    row = list(c.execute("SELECT " + COLS + " FROM audit WHERE seq = ?", (k + 1,)).fetchone())
    row[0] = k
    row[12] = "read"  # a write passed off as a read, say
    prev = c.execute("SELECT hash FROM audit WHERE seq = ?", (k - 1,)).fetchone()[0]
    h = hashlib.sha256(bytes.fromhex(prev) + b"".join(field(v) for v in row)).hexdigest()
    c.execute("INSERT INTO audit VALUES (" + ",".join("?" * 17) + ")", row + [prev, h])
"#;

#[test]
fn inserted_and_swapped_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    let k = log.len() as i64 / 2;
    python(&db, &format!("{FORGE}\nforge_at({k})\n"));
    assert_eq!(rows(&db).len(), log.len() + 1);
    let (code, line) = verify(&db, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        line,
        format!(
            "record {k}: inserted: record {} links to record {}, so record {k} is not part of the chain",
            k + 1,
            k - 1
        )
    );
    // Two records swapped.
    let (db, log) = make_log(dir.path(), "b.db");
    let k = log.len() as i64 - 5;
    tamper(
        &db,
        &format!(
            "UPDATE audit SET seq = 0 WHERE seq = {k};
             UPDATE audit SET seq = {k} WHERE seq = {k} + 1;
             UPDATE audit SET seq = {k} + 1 WHERE seq = 0;"
        ),
    );
    let (code, line) = verify(&db, &[]);
    assert_eq!(code, 1);
    assert!(
        line.starts_with(&format!(
            "record {k}: its prev_hash is not the hash of record {}",
            k - 1
        )),
        "{line}"
    );
}

#[test]
fn a_truncated_tail_is_found_against_the_noted_head() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    let n = log.len() as i64;
    let head = log.last().unwrap().hash.clone();
    tamper(&db, &format!("DELETE FROM audit WHERE seq > {};", n - 2));
    // Alone, a shorter chain is still a chain (docs/audit.md says so).
    let (code, line) = verify(&db, &[]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with(&format!("{} records, chain intact", n - 2)));
    let (code, line) = verify(&db, &["--expect-head", &head.to_uppercase()]);
    assert_eq!(code, 1);
    assert!(
        line.starts_with(&format!(
            "record {}: missing: the expected head {head} is not the hash of any record, and the log ends at record {}",
            n - 1,
            n - 2
        )),
        "{line}"
    );
    // A malformed head is a usage error.
    let out = audit_cmd(&["verify", db.to_str().unwrap(), "--expect-head", "abc"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_second_run_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (db, first) = make_log(dir.path(), "a.db");
    let n = first.len();
    let head1 = first.last().unwrap().hash.clone();
    let plant = [repo().join("samples/plant-cell.pcap")];
    // The sample's audited operations (samples/README.md): five Modbus
    // writes, one S7 and one EtherNet/IP write, and the select and the
    // execute of the feeder breaker command.
    let (_, stderr, code) = analyze_audit(&db, &["--count-only"], &plant);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "audit: 9 records appended to {}, head record {}",
            db.display(),
            n + 9
        )),
        "{stderr}"
    );
    let all = rows(&db);
    assert_eq!(all.len(), n + 9);
    assert_eq!(all[..n], first[..]);
    assert_eq!(all[n].seq, n as i64 + 1);
    assert_eq!(all[n].prev_hash, head1);
    let head2 = all.last().unwrap().hash.clone();
    assert_eq!(
        verify(&db, &[]),
        (0, format!("{} records, chain intact, head {head2}", n + 9))
    );
    // The head noted after the first run is still in the chain.
    assert_eq!(
        verify(&db, &["--expect-head", &head1]),
        (
            0,
            format!(
                "{} records, chain intact, head {head2}, expected head at record {n}",
                n + 9
            )
        )
    );
}

#[test]
fn triggers_refuse_update_and_delete_through_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    let out = python(
        &db,
        "import sqlite3, sys\n\
         c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
         for sql in ('UPDATE audit SET status = \\'ok\\' WHERE seq = 2',\n\
         \x20           'DELETE FROM audit WHERE seq = 2', 'DELETE FROM audit',\n\
         \x20           'INSERT INTO audit SELECT seq + 1000, ts, ts_ns, sensor, flow_id, src_ip, src_port, dest_ip, dest_port, protocol, function_code, function, operation, status, event, prev_hash, hash FROM audit WHERE seq = 1'):\n\
         \x20   try:\n\
         \x20       c.execute(sql)\n\
         \x20       print('accepted:', sql)\n\
         \x20   except sqlite3.DatabaseError as e:\n\
         \x20       print('refused:', e)\n",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for l in &lines {
        assert!(
            l.starts_with("refused: the audit log is append-only"),
            "{out}"
        );
    }
    assert_eq!(rows(&db), log);
    assert_eq!(verify(&db, &[]).0, 0);
}

/// The Python verifier printed in docs/audit.md.
fn docs_verifier() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/audit.md")).unwrap();
    let start = doc
        .find("```python\n")
        .expect("a python block in docs/audit.md")
        + 10;
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_string()
}

#[test]
fn the_independent_verifier_in_the_docs_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = make_log(dir.path(), "a.db");
    let script = dir.path().join("verify.py");
    std::fs::write(&script, docs_verifier()).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("python3")
            .arg(&script)
            .arg(&db)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout)
                .unwrap()
                .trim_end()
                .to_string(),
        )
    };
    let theirs = run(&[]);
    assert_eq!(theirs, verify(&db, &[]));
    assert_eq!(theirs.0, 0);
    let head = &log.last().unwrap().hash;
    assert_eq!(run(&[head]).0, 0);
    assert_eq!(run(&[&"1".repeat(64)]).0, 1);
    tamper(
        &db,
        "UPDATE audit SET function_code = function_code + 1 WHERE seq = 7;",
    );
    let (code, line) = run(&[]);
    assert_eq!(code, 1);
    assert!(line.starts_with("record 7: "), "{line}");
}

#[test]
fn an_unusable_audit_log_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let plant = [repo().join("samples/plant-cell.pcap")];
    let events = dir.path().join("events.json");
    // Not a database: the events file given by mistake.
    std::fs::write(&events, "{\"event_type\":\"modbus\"}\n".repeat(200)).unwrap();
    let out = Command::new(bin())
        .args(["analyze", "--no-progress", "-o"])
        .arg(dir.path().join("out.json"))
        .arg("--audit")
        .arg(&events)
        .args(&plant)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("audit log"), "{stderr}");
    assert!(
        !dir.path().join("out.json").exists(),
        "nothing is written when the audit log cannot be opened"
    );
    // A directory.
    let (_, stderr, code) = analyze_audit(dir.path(), &["-q"], &plant);
    assert_eq!(code, 2, "{stderr}");
    // Verifying a file that does not exist creates nothing.
    let none = dir.path().join("none.db");
    let out = audit_cmd(&["verify", none.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!none.exists());
    let out = audit_cmd(&["list", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
