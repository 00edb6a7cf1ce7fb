//! `plantshield audit`: check and read the hash-chained audit log that
//! `plantshield analyze --audit DB` writes (docs/audit.md), and the glue
//! for `analyze --audit`.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use plantshield_events::JsonWriter;
use plantshield_store::audit::{
    list, parse_hash, verify, AuditLog, AuditOutcome, Record, VerifyOptions,
};

/// Options of `plantshield audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the hash chain of an audit log; exit 1 naming the first broken record.
    Verify(VerifyArgs),
    /// Print the records of an audit log, oldest first.
    List(ListArgs),
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The SQLite file written by `analyze --audit DB` (opened read-only).
    #[arg(value_name = "DB")]
    db: PathBuf,
    /// A head hash noted earlier: it must still be the hash of a record of the chain (the log may have grown since). Detects records removed from the tail.
    #[arg(long, value_name = "HASH", value_parser = parse_head)]
    expect_head: Option<[u8; 32]>,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// The SQLite file written by `analyze --audit DB` (opened read-only).
    #[arg(value_name = "DB")]
    db: PathBuf,
    /// Only the last N records.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// One JSON object per record, with every column (`event` as a JSON string).
    #[arg(long)]
    json: bool,
}

fn parse_head(s: &str) -> Result<[u8; 32], String> {
    parse_hash(s.trim().to_ascii_lowercase().as_bytes())
        .ok_or_else(|| "a head hash is 64 hexadecimal digits".to_string())
}

pub fn run(args: AuditArgs) -> ExitCode {
    match args.command {
        AuditCommand::Verify(a) => run_verify(a),
        AuditCommand::List(a) => run_list(a),
    }
}

fn run_verify(args: VerifyArgs) -> ExitCode {
    let opts = VerifyOptions {
        expect_head: args.expect_head,
    };
    let report = match verify(&args.db, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("plantshield: {}: {e}", args.db.display());
            return ExitCode::from(2);
        }
    };
    if !report.missing_triggers.is_empty() {
        eprintln!(
            "plantshield: warning: {}: the append-only triggers {} are missing (dropped by someone)",
            args.db.display(),
            report.missing_triggers.join(", ")
        );
    }
    match &report.broken {
        None => {
            let mut line = format!(
                "{} records, chain intact, head {}",
                report.records,
                report.head.hex()
            );
            if let Some(at) = report.expected_head_at {
                line += &format!(", expected head at record {at}");
            }
            println!("{line}");
            ExitCode::SUCCESS
        }
        Some(b) => {
            println!("{b}");
            ExitCode::from(1)
        }
    }
}

fn run_list(args: ListArgs) -> ExitCode {
    let mut out = BufWriter::new(io::stdout().lock());
    let mut w = JsonWriter::new();
    let r = list(&args.db, args.limit, |rec| {
        if args.json {
            w.clear();
            json_record(&mut w, rec);
            out.write_all(w.as_bytes())?;
        } else {
            writeln!(out, "{}", text_record(rec))?;
        }
        Ok(())
    })
    .and_then(|()| Ok(out.flush()?));
    match r {
        Ok(()) => ExitCode::SUCCESS,
        // `plantshield audit list DB | head`
        Err(plantshield_store::StoreError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("plantshield: {}: {e}", args.db.display());
            ExitCode::from(2)
        }
    }
}

fn endpoint(ip: &Option<String>, port: Option<u16>) -> String {
    match (ip, port) {
        (Some(ip), Some(p)) if ip.contains(':') => format!("[{ip}]:{p}"),
        (Some(ip), Some(p)) => format!("{ip}:{p}"),
        (Some(ip), None) => ip.clone(),
        (None, _) => "-".into(),
    }
}

/// `SEQ  TS  PROTOCOL FUNCTION(CODE) OPERATION STATUS  SRC -> DEST  flow ID  HASH`.
fn text_record(r: &Record) -> String {
    let e = &r.entry;
    format!(
        "{:>6}  {}  {} {}({}) {} {}  {} -> {}  flow {}  {}",
        r.seq,
        r.ts,
        e.protocol,
        e.function,
        e.function_code,
        e.operation,
        e.status,
        endpoint(&e.src_ip, e.src_port),
        endpoint(&e.dest_ip, e.dest_port),
        e.flow_id.map_or("-".into(), |f| f.to_string()),
        r.hash
    )
}

fn json_record(w: &mut JsonWriter, r: &Record) {
    let e = &r.entry;
    w.begin_object();
    w.i64_field("seq", r.seq);
    w.str_field("ts", &r.ts);
    w.i64_field("ts_ns", e.ts_ns);
    w.str_field("sensor", &e.sensor);
    opt_u64(w, "flow_id", e.flow_id);
    opt_str(w, "src_ip", &e.src_ip);
    opt_u64(w, "src_port", e.src_port.map(u64::from));
    opt_str(w, "dest_ip", &e.dest_ip);
    opt_u64(w, "dest_port", e.dest_port.map(u64::from));
    w.str_field("protocol", &e.protocol);
    w.u64_field("function_code", u64::from(e.function_code));
    w.str_field("function", &e.function);
    w.str_field("operation", &e.operation);
    w.str_field("status", &e.status);
    w.str_field("event", &e.event);
    w.str_field("prev_hash", &r.prev_hash);
    w.str_field("hash", &r.hash);
    w.end_object();
    w.newline();
}

fn opt_str(w: &mut JsonWriter, key: &str, v: &Option<String>) {
    match v {
        Some(v) => w.str_field(key, v),
        None => w.null_field(key),
    }
}

fn opt_u64(w: &mut JsonWriter, key: &str, v: Option<u64>) {
    match v {
        Some(v) => w.u64_field(key, v),
        None => w.null_field(key),
    }
}

/// Opens the log of `analyze --audit DB`, or says why it cannot.
pub fn open_log(path: &Path) -> Option<AuditLog> {
    match AuditLog::open(path) {
        Ok(log) => Some(log),
        Err(e) => {
            eprintln!("plantshield: audit log {}: {e}", path.display());
            None
        }
    }
}

/// Says what the audit sink wrote; false when records were lost.
pub fn report(path: &Path, out: &AuditOutcome, quiet: bool) -> bool {
    if let Some(e) = &out.error {
        eprintln!(
            "plantshield: audit log {}: {} records could not be written ({} failed writes; first error: {e})",
            path.display(),
            out.lost,
            out.failures
        );
    }
    if !quiet {
        eprintln!(
            "audit: {} records appended to {}, head record {} {}",
            out.appended,
            path.display(),
            out.head.seq,
            out.head.hex()
        );
    }
    out.ok()
}
