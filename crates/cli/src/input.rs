//! Feeding capture files through the sensor into a sink, with a progress
//! bar on a terminal. Shared by every command that reads captures.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use plantshield_capture::CaptureReader;
use plantshield_sensor::{EventSink, Sensor, SensorConfig};

/// Options shared by every command that reads captures.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Capture files (pcap or pcapng); `-` reads standard input.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    /// Flows tracked at once; the stalest is evicted beyond it.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_flows: usize,
    /// Unanswered requests kept per flow.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_pending: usize,
    /// Seconds of capture time after which an unanswered request is reported as `no_response`.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub transaction_timeout: f64,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

impl InputArgs {
    /// The sensor configured from these options.
    pub fn sensor(&self) -> Sensor {
        let mut cfg = SensorConfig::default();
        cfg.flow.max_flows = self.max_flows.max(1);
        cfg.max_pending_transactions = self.max_pending.max(1);
        cfg.transaction_timeout_ns = (self.transaction_timeout.max(0.0) * 1e9) as i64;
        Sensor::new(cfg)
    }
}

/// Counts bytes read through it, for the progress bar and throughput.
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

/// Runs every capture through `sensor` into `sink` (without finishing the
/// sensor). Problems are printed unless `quiet`, and reported as anomaly
/// events. Returns false when a capture could not be read at all.
pub fn feed(args: &InputArgs, sensor: &mut Sensor, sink: &mut dyn EventSink, quiet: bool) -> bool {
    let total: u64 = args
        .captures
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = (!quiet && !args.no_progress && io::stderr().is_terminal() && total > 0).then(|| {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let mut ok = true;
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
                    ok = false;
                    continue;
                }
            }
        };
        let src = Counting {
            inner: src,
            read: read.clone(),
        };
        let mut reader = match CaptureReader::new(src) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("plantshield: {name}: {e}");
                sensor.capture_error(&name, &e, sink);
                ok = false;
                continue;
            }
        };
        let mut n = 0u64;
        loop {
            // The record three ahead, as a hint (see `Sensor::prefetch`).
            if let Some(link) = reader.link_type() {
                sensor.prefetch(link, reader.peek(3), &*sink);
            }
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
                    if !quiet {
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
    ok
}
