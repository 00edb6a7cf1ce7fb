use std::path::{Path, PathBuf};

use plantshield_events::{Operation, Status};
use plantshield_sensor::{Envelope, Event, EventSink, IcsSummary, ModbusEvent};
use proptest::prelude::*;
use rusqlite::Connection;

use super::*;

fn entry(i: u64) -> Entry {
    Entry {
        ts_ns: 1_700_000_000_000_000_000 + i as i64 * 1_000_123,
        sensor: "plantshield".into(),
        flow_id: Some(1000 + i),
        src_ip: Some("10.10.0.30".into()),
        src_port: Some(40000 + i as u16),
        dest_ip: Some("10.10.0.11".into()),
        dest_port: Some(502),
        protocol: "modbus".into(),
        function_code: 6,
        function: "write_single_register".into(),
        operation: "write".into(),
        status: "ok".into(),
        event: format!("{{\"n\":{i}}}"),
    }
}

/// A log of `n` records (written in batches of 3) in a temporary directory.
fn log_with(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let mut log = AuditLog::open(&path).unwrap();
    log.set_batch_size(3);
    for i in 1..=n {
        log.append(entry(i)).unwrap();
    }
    log.flush().unwrap();
    assert_eq!(log.appended(), n);
    (dir, path)
}

/// A plain SQLite connection with the append-only triggers dropped, as an
/// attacker with write access to the file would have.
fn attacker(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    for t in TRIGGERS {
        c.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    c
}

fn check(path: &Path) -> Report {
    verify(path, &VerifyOptions::default()).unwrap()
}

fn broken_at(path: &Path) -> (i64, Problem) {
    let r = check(path);
    let b = r
        .broken
        .clone()
        .unwrap_or_else(|| panic!("tampering not detected: {r:?}"));
    (b.seq, b.problem)
}

fn hash_of(path: &Path, seq: i64) -> String {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0))
        .unwrap()
}

/// The encoding pinned: this value was computed by an independent Python
/// implementation of the module documentation (hashlib, struct.pack(">q")).
#[test]
fn record_hash_matches_the_documented_construction() {
    let e = Entry {
        flow_id: None,
        src_port: None,
        ..entry(1)
    };
    let ts = ts_text(e.ts_ns);
    assert_eq!(ts, "2023-11-14T22:13:20.001000+00:00");
    let h = record_hash(&GENESIS, &e.columns(1, ts.as_bytes()));
    assert_eq!(
        to_hex(&h),
        "9d715af3a5ca7f643616eb262015fccfc0a652a013d11c0f69087c833d762534"
    );
}

#[test]
fn hashes_parse_and_print() {
    let h: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
    assert_eq!(parse_hash(to_hex(&h).as_bytes()), Some(h));
    assert_eq!(parse_hash(to_hex(&h).to_uppercase().as_bytes()), None);
    assert_eq!(parse_hash(b"00"), None);
    assert_eq!(parse_hash(&[b'g'; 64]), None);
}

#[test]
fn appends_are_chained_and_verify_intact() {
    let (_d, path) = log_with(10);
    let r = check(&path);
    assert!(r.intact(), "{r:?}");
    assert_eq!(r.records, 10);
    assert_eq!(r.head.seq, 10);
    assert_eq!(r.head.hex(), hash_of(&path, 10));
    assert!(r.missing_triggers.is_empty());
    let mut seen = Vec::new();
    list(&path, None, |rec| {
        seen.push(rec.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[0].prev_hash, to_hex(&GENESIS));
    for (i, w) in seen.windows(2).enumerate() {
        assert_eq!(w[0].seq, i as i64 + 1);
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(seen[3].entry, entry(4));
    assert_eq!(seen[3].ts, ts_text(entry(4).ts_ns));
    // --limit: the newest, oldest first.
    let mut last = Vec::new();
    list(&path, Some(3), |rec| {
        last.push(rec.seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(last, [8, 9, 10]);
}

#[test]
fn empty_log_is_intact_at_genesis() {
    let (_d, path) = log_with(0);
    let r = check(&path);
    assert!(r.intact());
    assert_eq!((r.records, r.head), (0, Head::EMPTY));
}

#[test]
fn reopening_continues_the_chain() {
    let (_d, path) = log_with(4);
    let head = check(&path).head;
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.head(), head);
    for i in 5..=7 {
        log.append(entry(i)).unwrap();
    }
    drop(log); // flushes
    let r = check(&path);
    assert!(r.intact(), "{r:?}");
    assert_eq!(r.records, 7);
    // The old head is still in the chain.
    let r = verify(
        &path,
        &VerifyOptions {
            expect_head: Some(head.hash),
        },
    )
    .unwrap();
    assert!(r.intact());
    assert_eq!(r.expected_head_at, Some(4));
}

#[test]
fn two_logs_on_one_file_take_turns() {
    let (_d, path) = log_with(0);
    let mut a = AuditLog::open(&path).unwrap();
    let mut b = AuditLog::open(&path).unwrap();
    for i in 0..5 {
        a.append(entry(i)).unwrap();
        a.flush().unwrap();
        b.append(entry(100 + i)).unwrap();
        b.flush().unwrap();
    }
    let r = check(&path);
    assert!(r.intact(), "{r:?}");
    assert_eq!(r.records, 10);
}

#[test]
fn triggers_refuse_update_delete_and_unlinked_inserts() {
    let (_d, path) = log_with(3);
    let c = Connection::open(&path).unwrap();
    let refused = |sql: &str| {
        let e = c.execute_batch(sql).unwrap_err().to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    };
    refused("UPDATE audit SET status = 'exception' WHERE seq = 2");
    refused("DELETE FROM audit WHERE seq = 3");
    refused("DELETE FROM audit");
    // A copy of record 3 at seq 5 (a gap), or at seq 4 without linking.
    let cols = "ts, ts_ns, sensor, flow_id, src_ip, src_port, dest_ip, dest_port, protocol, \
                function_code, function, operation, status, event";
    refused(&format!(
        "INSERT INTO audit SELECT 5, {cols}, hash, hash FROM audit WHERE seq = 3"
    ));
    refused(&format!(
        "INSERT INTO audit SELECT 4, {cols}, prev_hash, hash FROM audit WHERE seq = 3"
    ));
    refused(&format!(
        "INSERT INTO audit SELECT NULL, {cols}, hash, hash FROM audit WHERE seq = 3"
    ));
    assert!(check(&path).intact());
    assert_eq!(check(&path).records, 3);
}

#[test]
fn altered_record_is_named() {
    let (_d, path) = log_with(10);
    attacker(&path)
        .execute("UPDATE audit SET status = 'exception' WHERE seq = 6", [])
        .unwrap();
    assert_eq!(broken_at(&path), (6, Problem::Altered));
    let r = check(&path);
    assert_eq!(r.records, 5);
    assert_eq!(r.head.seq, 5);
    assert_eq!(r.missing_triggers.len(), 3, "dropped triggers are reported");
    assert!(r
        .broken
        .unwrap()
        .to_string()
        .starts_with("record 6: altered"));
}

#[test]
fn a_rewritten_hash_breaks_the_next_link() {
    let (_d, path) = log_with(10);
    let c = attacker(&path);
    c.execute("UPDATE audit SET event = '{\"n\":99}' WHERE seq = 4", [])
        .unwrap();
    // The attacker recomputes record 4's hash but not the rest of the chain.
    let rec4: (String, Entry) = {
        let mut found = None;
        list(&path, None, |r| {
            if r.seq == 4 {
                found = Some((r.prev_hash.clone(), r.entry.clone()));
            }
            Ok(())
        })
        .unwrap();
        found.unwrap()
    };
    let prev = parse_hash(rec4.0.as_bytes()).unwrap();
    let ts = ts_text(rec4.1.ts_ns);
    let h = record_hash(&prev, &rec4.1.columns(4, ts.as_bytes()));
    c.execute("UPDATE audit SET hash = ?1 WHERE seq = 4", [to_hex(&h)])
        .unwrap();
    assert_eq!(broken_at(&path), (5, Problem::Unlinked));
}

#[test]
fn deleted_records_are_named() {
    let (_d, path) = log_with(10);
    let c = attacker(&path);
    c.execute("DELETE FROM audit WHERE seq = 5", []).unwrap();
    assert_eq!(
        broken_at(&path),
        (
            5,
            Problem::Missing {
                last: 5,
                after: 4,
                next: 6
            }
        )
    );
    c.execute("DELETE FROM audit WHERE seq IN (1, 2)", [])
        .unwrap();
    let (seq, p) = broken_at(&path);
    assert_eq!(
        (seq, &p),
        (
            1,
            &Problem::Missing {
                last: 2,
                after: 0,
                next: 3
            }
        )
    );
    assert_eq!(
        Broken { seq, problem: p }.to_string(),
        "record 1: missing (records 1 to 2 deleted): the log starts at record 3"
    );
}

/// Shifts records `k..` up by one and inserts a record at `k` that links
/// correctly to record `k - 1` and has a correct hash of its own.
fn insert_forged(path: &Path, k: i64) {
    let c = attacker(path);
    c.execute_batch(&format!(
        "UPDATE audit SET seq = -(seq + 1) WHERE seq >= {k};
         UPDATE audit SET seq = -seq WHERE seq < 0;"
    ))
    .unwrap();
    let prev: String = if k == 1 {
        to_hex(&GENESIS)
    } else {
        hash_of(path, k - 1)
    };
    let forged = Entry {
        event: "{\"forged\":true}".into(),
        ..entry(77)
    };
    let ts = ts_text(forged.ts_ns);
    let prev_raw = parse_hash(prev.as_bytes()).unwrap();
    let h = record_hash(&prev_raw, &forged.columns(k, ts.as_bytes()));
    let mut cols = forged.columns(k, ts.as_bytes()).to_vec();
    let prev_v = prev.clone();
    let h_hex = to_hex(&h);
    cols.push(ValueRef::Text(prev_v.as_bytes()));
    cols.push(ValueRef::Text(h_hex.as_bytes()));
    let values = cols.into_iter().map(rusqlite::types::ToSqlOutput::Borrowed);
    c.execute(INSERT, rusqlite::params_from_iter(values))
        .unwrap();
}

#[test]
fn inserted_record_is_named() {
    for k in [1, 4, 10] {
        let (_d, path) = log_with(10);
        insert_forged(&path, k);
        assert_eq!(broken_at(&path), (k, Problem::Inserted), "inserted at {k}");
    }
}

#[test]
fn swapped_records_are_named() {
    let (_d, path) = log_with(10);
    attacker(&path)
        .execute_batch(
            "UPDATE audit SET seq = 0 WHERE seq = 3;
             UPDATE audit SET seq = 3 WHERE seq = 4;
             UPDATE audit SET seq = 4 WHERE seq = 0;",
        )
        .unwrap();
    assert_eq!(broken_at(&path), (3, Problem::Unlinked));
}

#[test]
fn truncated_tail_needs_the_expected_head() {
    let (_d, path) = log_with(10);
    let head = check(&path).head;
    attacker(&path)
        .execute("DELETE FROM audit WHERE seq > 7", [])
        .unwrap();
    // Without an anchor the shorter log is a valid log.
    assert!(check(&path).intact());
    let r = verify(
        &path,
        &VerifyOptions {
            expect_head: Some(head.hash),
        },
    )
    .unwrap();
    let b = r.broken.unwrap();
    assert_eq!(
        b,
        Broken {
            seq: 8,
            problem: Problem::HeadNotFound {
                expected: head.hash
            }
        }
    );
    assert!(b.to_string().contains("ends at record 7"), "{b}");
}

#[test]
fn not_an_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    // No file: nothing is created by verify.
    let none = dir.path().join("none.db");
    assert!(verify(&none, &VerifyOptions::default()).is_err());
    assert!(!none.exists());
    // Some other SQLite database.
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let e = verify(&other, &VerifyOptions::default()).unwrap_err();
    assert!(matches!(e, StoreError::Format(_)), "{e}");
    // Not a database at all.
    let json = dir.path().join("events.json");
    std::fs::write(&json, "{\"event_type\":\"modbus\"}\n".repeat(100)).unwrap();
    assert!(AuditLog::open(&json).is_err());
    assert!(verify(&json, &VerifyOptions::default()).is_err());
    // A newer format.
    let (_d, path) = log_with(1);
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE meta SET value = '2' WHERE key = 'audit.format'", [])
        .unwrap();
    assert!(AuditLog::open(&path).is_err());
    assert!(verify(&path, &VerifyOptions::default()).is_err());
}

#[test]
fn a_failed_batch_is_counted_and_the_chain_stays_whole() {
    let (_d, path) = log_with(2);
    let mut log = AuditLog::open(&path).unwrap();
    log.set_busy_timeout(std::time::Duration::from_millis(50))
        .unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    log.append(entry(3)).unwrap();
    log.append(entry(4)).unwrap();
    assert!(log.flush().is_err());
    assert_eq!((log.lost(), log.appended(), log.pending()), (2, 0, 0));
    blocker.execute_batch("COMMIT").unwrap();
    log.append(entry(5)).unwrap();
    log.flush().unwrap();
    assert_eq!(log.head().seq, 3);
    let r = check(&path);
    assert!(r.intact(), "{r:?}");
    assert_eq!(r.records, 3);
}

/// A recording sink, to see what passes through.
#[derive(Default)]
struct Seen(Vec<(i64, Option<Operation>)>);

impl EventSink for Seen {
    fn event(&mut self, env: &Envelope, ev: &Event<'_>) {
        self.0.push((env.ts_ns, ev.ics().map(|i| i.operation)));
    }
}

fn modbus_event(op: Operation, status: Status, code: u32) -> ModbusEvent<'static> {
    ModbusEvent {
        transaction_id: 7,
        unit_id: 1,
        request: None,
        response: None,
        latency_ns: None,
        flags: Default::default(),
        ics: IcsSummary {
            function_code: code,
            function: "some_function",
            operation: op,
            status,
            exception_code: None,
        },
    }
}

#[test]
fn sink_passes_everything_on_and_logs_the_audited_operations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let log = AuditLog::open(&path).unwrap();
    let mut sink = AuditSink::new(Seen::default(), log, "cell-7", 4);
    let mut n = 0;
    let mut audited = Vec::new();
    for op in Operation::ALL {
        for status in [Status::Ok, Status::Exception] {
            n += 1;
            let mut env = Envelope::at(1_000_000_000 * n);
            env.flow_id = Some(n as u64);
            env.src = Some(("10.0.0.1".parse().unwrap(), 1234));
            env.dst = Some(("10.0.0.2".parse().unwrap(), 502));
            env.proto = Some(6);
            let m = modbus_event(op, status, n as u32);
            sink.event(&env, &Event::Modbus(&m));
            if is_audited(op) {
                audited.push((n, op.name(), status.name()));
            }
        }
    }
    let out = sink.finish();
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.appended, 12);
    assert_eq!(sink.inner.0.len(), 26, "every event passes");
    let mut got = Vec::new();
    list(&path, None, |r| {
        let e = &r.entry;
        assert_eq!(e.sensor, "cell-7");
        assert_eq!(e.src_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!((e.src_port, e.dest_port), (Some(1234), Some(502)));
        assert_eq!(e.protocol, "modbus");
        assert_eq!(e.function, "some_function");
        assert_eq!(e.flow_id, Some(e.function_code.into()));
        assert!(e.event.starts_with("{\"timestamp\":\""), "{}", e.event);
        assert!(e.event.contains("\"sensor\":\"cell-7\""), "{}", e.event);
        assert!(!e.event.ends_with('\n'));
        got.push((
            e.ts_ns / 1_000_000_000,
            e.operation.clone(),
            e.status.clone(),
        ));
        Ok(())
    })
    .unwrap();
    let want: Vec<_> = audited
        .iter()
        .map(|(n, o, s)| (*n, o.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        want.iter().map(|w| w.1.as_str()).collect::<Vec<_>>(),
        [
            "write",
            "write",
            "command",
            "command",
            "program_download",
            "program_download",
            "program_upload",
            "program_upload",
            "firmware",
            "firmware",
            "mode_change",
            "mode_change"
        ]
    );
    assert!(check(&path).intact());
}

#[test]
fn sink_failures_are_counted_not_fatal() {
    let (_d, path) = log_with(0);
    let mut log = AuditLog::open(&path).unwrap();
    log.set_batch_size(2);
    log.set_busy_timeout(std::time::Duration::from_millis(20))
        .unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut sink = AuditSink::new(Seen::default(), log, "s", 4);
    let m = modbus_event(Operation::Write, Status::Ok, 6);
    for i in 0..5 {
        sink.event(&Envelope::at(i), &Event::Modbus(&m));
    }
    let out = sink.finish();
    assert!(!out.ok());
    assert_eq!((out.appended, out.lost, out.failures), (0, 5, 3));
    assert!(out.error.is_some());
    assert_eq!(sink.inner.0.len(), 5);
}

/// A value of `column` different from `v`, of a type the STRICT table
/// accepts there (NULL where the column allows it).
fn mutate(column: &str, v: &rusqlite::types::Value, r: u64) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    let nullable = ["flow_id", "src_ip", "src_port", "dest_ip", "dest_port"].contains(&column);
    let text = ![
        "seq",
        "ts_ns",
        "flow_id",
        "src_port",
        "dest_port",
        "function_code",
    ]
    .contains(&column);
    if nullable && r % 4 == 0 && *v != Value::Null {
        return Value::Null;
    }
    match v {
        Value::Integer(i) => Value::Integer(i.wrapping_add(1 + (r % 1000) as i64)),
        Value::Text(s) if s.is_empty() => Value::Text("x".into()),
        Value::Text(s) => {
            // Change one character.
            let mut c: Vec<char> = s.chars().collect();
            let at = (r as usize / 4) % c.len();
            c[at] = if c[at] == 'a' { 'b' } else { 'a' };
            Value::Text(c.into_iter().collect())
        }
        Value::Null if text => Value::Text(format!("{r}")),
        Value::Null => Value::Integer(r as i64),
        other => panic!("unexpected value {other:?}"),
    }
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        any::<i64>(),
        "[a-z0-9-]{0,8}",
        proptest::option::of(0u64..(1 << 53)),
        proptest::option::of("[0-9.:a-f]{0,15}"),
        proptest::option::of(any::<u16>()),
        any::<u32>(),
        "\\PC{0,40}",
    )
        .prop_map(|(ts_ns, sensor, flow_id, ip, port, code, event)| Entry {
            ts_ns,
            sensor,
            flow_id,
            src_ip: ip.clone(),
            src_port: port,
            dest_ip: ip,
            dest_port: port.map(|p| p ^ 1),
            protocol: "dnp3".into(),
            function_code: code,
            function: "direct_operate".into(),
            operation: "command".into(),
            status: "ok".into(),
            event,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any single-field change of any record is reported at that record.
    #[test]
    fn any_single_field_mutation_is_named(
        entries in proptest::collection::vec(arb_entry(), 1..12),
        pick in any::<(u64, u64, u64)>(),
        batch in 1usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut log = AuditLog::open(&path).unwrap();
        log.set_batch_size(batch);
        for e in &entries {
            log.append(e.clone()).unwrap();
        }
        log.flush().unwrap();
        drop(log);
        prop_assert!(check(&path).intact());
        let n = entries.len() as i64;
        let k = 1 + (pick.0 % n as u64) as i64;
        let all: Vec<&str> = COLUMNS.iter().copied().chain(["prev_hash", "hash"]).collect();
        let column = all[(pick.1 % all.len() as u64) as usize];
        let c = attacker(&path);
        let old: rusqlite::types::Value = c
            .query_row(&format!("SELECT {column} FROM audit WHERE seq = ?1"), [k], |r| r.get(0))
            .unwrap();
        let new = if column == "seq" {
            // Renumbering a record moves it past the end.
            rusqlite::types::Value::Integer(n + 1 + (pick.2 % 5) as i64)
        } else {
            mutate(column, &old, pick.2)
        };
        prop_assert_ne!(&old, &new);
        c.execute(&format!("UPDATE audit SET {column} = ?1 WHERE seq = ?2"), rusqlite::params![new, k])
            .unwrap();
        let r = check(&path);
        let b = r.broken.clone();
        prop_assert!(b.is_some(), "{} of record {} changed, not detected", column, k);
        let b = b.unwrap();
        prop_assert_eq!(b.seq, k, "{} of record {} changed: {}", column, k, b);
        prop_assert_eq!(r.records, (k - 1) as u64);
    }
}
