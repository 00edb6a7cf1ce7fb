//! `plantshield analyze`: captures in, JSON Lines out, a summary on stderr.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use plantshield_capture::CaptureReader;
use plantshield_sensor::json::{CountSink, EventCounts, JsonSink};
use plantshield_sensor::{EventSink, Sensor, SensorConfig};

use crate::summary;

/// Options of `plantshield analyze`.
#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Capture files (pcap or pcapng, any link type we decode); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<PathBuf>,
    /// Write events to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Count events without writing them (measures the pipeline alone).
    #[arg(long)]
    count_only: bool,
    /// Sensor name written in every event.
    #[arg(long, default_value = "plantshield")]
    sensor: String,
    /// Register and coil values written per transaction before `values_truncated` is set.
    #[arg(long, default_value_t = 32, value_name = "N")]
    max_values: usize,
    /// Flows tracked at once; the stalest is evicted beyond it.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    max_flows: usize,
    /// Unanswered requests kept per flow.
    #[arg(long, default_value_t = 64, value_name = "N")]
    max_pending: usize,
    /// Seconds of capture time after which an unanswered request is reported as `no_response`.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    transaction_timeout: f64,
    /// No summary on standard error.
    #[arg(short, long)]
    quiet: bool,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

/// Counts bytes read through it, for the progress bar.
struct Counting<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

pub fn run(args: AnalyzeArgs) -> ExitCode {
    let mut cfg = SensorConfig::default();
    cfg.flow.max_flows = args.max_flows.max(1);
    cfg.max_pending_transactions = args.max_pending.max(1);
    cfg.transaction_timeout_ns = (args.transaction_timeout.max(0.0) * 1e9) as i64;
    let mut sensor = Sensor::new(cfg);
    let started = Instant::now();

    let out: Box<dyn Write> = match &args.output {
        Some(p) => match File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("plantshield: cannot create {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => Box::new(io::stdout().lock()),
    };
    let mut json = JsonSink::new(out, &args.sensor, args.max_values.max(1));
    let mut counter = CountSink::default();

    let total: u64 = args
        .captures
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = (!args.quiet && !args.no_progress && io::stderr().is_terminal() && total > 0).then(|| {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });

    let mut failed = false;
    let mut done_before = 0u64;
    for path in &args.captures {
        let name = path.display().to_string();
        let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let src: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(io::stdin().lock())
        } else {
            match File::open(path) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    eprintln!("plantshield: cannot open {name}: {e}");
                    failed = true;
                    continue;
                }
            }
        };
        let src = Counting {
            inner: src,
            read: read.clone(),
        };
        let sink: &mut dyn EventSink = if args.count_only {
            &mut counter
        } else {
            &mut json
        };
        let mut reader = match CaptureReader::new(src) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("plantshield: {name}: {e}");
                sensor.capture_error(&name, &e, sink);
                failed = true;
                continue;
            }
        };
        let mut n = 0u64;
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => {
                    sensor.process(&p, sink);
                    n += 1;
                    if n % 8192 == 0 {
                        if let Some(b) = &bar {
                            b.set_position(done_before + read.get());
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if !args.quiet {
                        eprintln!("plantshield: {name}: {e}");
                    }
                    sensor.capture_error(&name, &e, sink);
                    break;
                }
            }
        }
        sensor.add_input_bytes(read.get());
        done_before += read.get();
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let counts: EventCounts = if args.count_only {
        sensor.finish(&mut counter);
        counter.counts
    } else {
        sensor.finish(&mut json);
        if let Err(e) = json.finish() {
            eprintln!("plantshield: writing events failed: {e}");
            return ExitCode::from(2);
        }
        json.counts
    };
    if !args.quiet {
        summary::print(
            &mut io::stderr().lock(),
            sensor.stats(),
            &counts,
            started.elapsed(),
            args.count_only,
        );
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
