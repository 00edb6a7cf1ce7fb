//! `plantshield-bench`: tooling for the `plantshield analyze` benchmark
//! (`scripts/bench`, `docs/benchmarks.md`).
//!
//! - `gen-modbus` writes a deterministic classic-pcap capture of realistic
//!   Modbus/TCP traffic of at least a given size.
//! - `gen-dnp3`, `gen-s7comm`, `gen-iec104` and `gen-enip` do the same for
//!   DNP3, S7comm, IEC 60870-5-104 and EtherNet/IP with CIP.
//! - `walk` reads a capture and only counts records: the baseline that
//!   analysis cannot beat.
//! - `platform` loads a platform store with a million events and ten
//!   thousand alerts and times the dashboard and alert-list API calls.

#![forbid(unsafe_code)]

mod gen;
mod rng;
mod tcpgen;
mod walk;

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

/// Benchmark tooling for PlantShield.
#[derive(Parser)]
#[command(name = "plantshield-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a pcap of realistic Modbus/TCP traffic of at least SIZE bytes.
    GenModbus {
        /// Minimum file size: bytes, or with a K, M or G suffix (powers of 1024).
        #[arg(long, default_value = "200M", value_parser = parse_size)]
        size: u64,
        /// Client connections open at once (one client host each).
        #[arg(long, default_value_t = 2000)]
        connections: usize,
        /// Modbus servers (PLCs on port 502) the clients are spread over.
        #[arg(long, default_value_t = 50)]
        servers: usize,
        /// Seed; the same seed and options give the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Generate a pcap of DNP3 masters polling outstations (TCP 20000).
    GenDnp3(ProtoArgs),
    /// Generate a pcap of HMIs reading and writing S7 PLCs (S7comm, TCP 102).
    GenS7comm(ProtoArgs),
    /// Generate a pcap of IEC 60870-5-104 control centres and RTUs (TCP 2404).
    GenIec104(ProtoArgs),
    /// Generate a pcap of EtherNet/IP clients talking CIP to Logix controllers (TCP 44818).
    GenEnip(ProtoArgs),
    /// Read a capture and count its records and bytes (the record-walking baseline).
    Walk {
        /// Capture file (pcap or pcapng).
        file: PathBuf,
    },
    /// Load a platform store with synthetic events and alerts and time the
    /// dashboard and alert-list API calls (docs/benchmarks.md).
    Platform {
        /// Empty directory for the store.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Events to load.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Alerts to load.
        #[arg(long, default_value_t = 10_000)]
        alerts: u64,
        /// Assets the events and alerts are spread over.
        #[arg(long, default_value_t = 500)]
        assets: u64,
        /// Times each call is made.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

/// Options of the per-protocol generators.
#[derive(Args)]
struct ProtoArgs {
    /// Minimum file size: bytes, or with a K, M or G suffix (powers of 1024).
    #[arg(long, default_value = "200M", value_parser = parse_size)]
    size: u64,
    /// Client connections open at once (one client host each).
    #[arg(long, default_value_t = 2000)]
    connections: usize,
    /// Servers the clients are spread over [default: dnp3 1000 outstations,
    /// s7comm 200 PLCs, iec104 1000 RTUs, enip 100 controllers].
    #[arg(long)]
    servers: Option<usize>,
    /// Seed; the same seed and options give the same file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Runs one per-protocol generator and prints what it wrote.
fn gen_proto<P: tcpgen::Protocol>(name: &str, mut p: P, servers: usize, a: ProtoArgs) -> ExitCode {
    let cfg = tcpgen::GenConfig {
        size: a.size,
        connections: a.connections,
        servers: a.servers.unwrap_or(servers),
        seed: a.seed,
        start_ns: tcpgen::DEFAULT_START_NS,
    };
    let started = Instant::now();
    let file = match File::create(&a.output) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "plantshield-bench: cannot create {}: {e}",
                a.output.display()
            );
            return ExitCode::from(2);
        }
    };
    let st = match tcpgen::generate(&mut p, &cfg, BufWriter::with_capacity(8 << 20, file)) {
        Ok(st) => st,
        Err(e) => {
            eprintln!("plantshield-bench: writing {}: {e}", a.output.display());
            return ExitCode::from(2);
        }
    };
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "{name}: {} bytes, {} packets, {} transactions ({} exceptions), {} connections opened, {} closed, {} pure ACKs, {:.1} s of capture time; {:.2} s, {:.0} MB/s",
        st.bytes,
        st.packets,
        st.transactions,
        st.exceptions,
        st.opened,
        st.closed,
        st.pure_acks,
        (st.last_ts - st.first_ts) as f64 / 1e9,
        secs,
        st.bytes as f64 / 1e6 / secs
    );
    let mix: Vec<String> = st
        .functions
        .iter()
        .map(|(f, n)| {
            let pct = *n as f64 * 100.0 / st.transactions.max(1) as f64;
            format!("{f} {n} ({pct:.1}%)")
        })
        .collect();
    eprintln!("{name}: transactions: {}", mix.join(", "));
    if !st.messages.is_empty() {
        let m: Vec<String> = st
            .messages
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        eprintln!("{name}: other messages: {}", m.join(", "));
    }
    ExitCode::SUCCESS
}

/// Parses `123`, `64K`, `200M`, `1G` (binary multiples; a trailing `B` or `iB` is accepted).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        Some('t' | 'T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 4096, 50M or 1G"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("`{s}` is not a size like 4096, 50M or 1G"));
    }
    Ok((n * mult as f64).ceil() as u64)
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::GenModbus {
            size,
            connections,
            servers,
            seed,
            output,
        } => {
            let cfg = gen::GenConfig {
                size,
                connections,
                servers,
                seed,
                start_ns: gen::DEFAULT_START_NS,
            };
            let started = Instant::now();
            let file = match File::create(&output) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("plantshield-bench: cannot create {}: {e}", output.display());
                    return ExitCode::from(2);
                }
            };
            let st = match gen::generate(&cfg, BufWriter::with_capacity(8 << 20, file)) {
                Ok(st) => st,
                Err(e) => {
                    eprintln!("plantshield-bench: writing {}: {e}", output.display());
                    return ExitCode::from(2);
                }
            };
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "gen-modbus: {} bytes, {} packets, {} transactions ({} exceptions), {} connections opened, {} closed, {} pure ACKs, {:.1} s of capture time; {:.2} s, {:.0} MB/s",
                st.bytes,
                st.packets,
                st.transactions,
                st.exceptions,
                st.opened,
                st.closed,
                st.pure_acks,
                (st.last_ts - st.first_ts) as f64 / 1e9,
                secs,
                st.bytes as f64 / 1e6 / secs
            );
            let mix: Vec<String> = st
                .by_function
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(fc, n)| format!("FC{fc} {:.1}%", *n as f64 * 100.0 / st.transactions as f64))
                .collect();
            eprintln!("gen-modbus: function mix: {}", mix.join(", "));
            ExitCode::SUCCESS
        }
        Command::GenDnp3(a) => gen_proto(
            "gen-dnp3",
            tcpgen::dnp3::Dnp3::default(),
            tcpgen::dnp3::DEFAULT_SERVERS,
            a,
        ),
        Command::GenS7comm(a) => gen_proto(
            "gen-s7comm",
            tcpgen::s7comm::S7comm::default(),
            tcpgen::s7comm::DEFAULT_SERVERS,
            a,
        ),
        Command::GenIec104(a) => gen_proto(
            "gen-iec104",
            tcpgen::iec104::Iec104::default(),
            tcpgen::iec104::DEFAULT_SERVERS,
            a,
        ),
        Command::GenEnip(a) => gen_proto(
            "gen-enip",
            tcpgen::enip::Enip::default(),
            tcpgen::enip::DEFAULT_SERVERS,
            a,
        ),
        Command::Platform {
            dir,
            events,
            alerts,
            assets,
            runs,
        } => match plantshield_web::bench::run(&dir, events, alerts, assets.max(1), runs) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("plantshield-bench: platform: {e}");
                ExitCode::from(2)
            }
        },
        Command::Walk { file } => match walk::walk(&file) {
            Ok(s) => {
                let secs = s.elapsed.as_secs_f64().max(1e-9);
                println!(
                    "records={} packet_bytes={} file_bytes={} seconds={:.6} mb_per_s={:.1}",
                    s.records,
                    s.packet_bytes,
                    s.file_bytes,
                    secs,
                    s.file_bytes as f64 / 1e6 / secs
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("plantshield-bench: {}: {e}", file.display());
                ExitCode::from(1)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65_536));
        assert_eq!(parse_size("200M"), Ok(200 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0.5M"), Ok(1 << 19));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1M").is_err());
    }
}
