//! `plantshield serve`: the platform (HTTPS, REST API, web UI) over the
//! embedded store in a data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use plantshield_web::{auth::Limits, serve, ServeConfig};

/// Options of `plantshield serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Data directory: the SQLite store, the TLS certificate (created if missing).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Address and port to listen on (port 0 picks a free one, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8443")]
    listen: String,
    /// Ingest this capture (pcap or pcapng) at start; repeatable. A capture
    /// ingested before (same content) is skipped.
    #[arg(long = "read", value_name = "FILE")]
    reads: Vec<PathBuf>,
    /// TLS certificate chain (PEM) instead of the self-signed one.
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,
    /// TLS private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Failed logins per user name before it is locked for the window.
    #[arg(long, default_value_t = 5, value_name = "N")]
    login_attempts: u32,
    /// Seconds a login lock lasts (and the window failures are counted in).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    login_window: u64,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let cfg = ServeConfig {
        data: args.data,
        listen: args.listen,
        reads: args.reads,
        cert: args.cert,
        key: args.key,
        admin_password: std::env::var("PLANTSHIELD_ADMIN_PASSWORD").ok(),
        limits: Limits {
            per_user: args.login_attempts.max(1),
            per_address: args.login_attempts.max(1).saturating_mul(4),
            window: std::time::Duration::from_secs(args.login_window.max(1)),
        },
    };
    match serve(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plantshield: serve: {e}");
            ExitCode::from(2)
        }
    }
}
