//! `walk`: reads a capture record by record and only counts, the floor under
//! any analysis of the same file.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use plantshield_capture::{CaptureError, CaptureReader};

/// What a walk saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct WalkStats {
    /// Records read.
    pub records: u64,
    /// Captured bytes in those records (record headers excluded).
    pub packet_bytes: u64,
    /// Bytes of the file consumed.
    pub file_bytes: u64,
    /// Time spent.
    pub elapsed: Duration,
}

/// Walks every record of the capture at `path`.
pub fn walk(path: &Path) -> Result<WalkStats, CaptureError> {
    let started = Instant::now();
    let mut reader = CaptureReader::new(File::open(path)?)?;
    let mut s = WalkStats::default();
    while let Some(p) = reader.next_packet()? {
        s.records += 1;
        s.packet_bytes += p.data.len() as u64;
    }
    s.file_bytes = reader.position();
    s.elapsed = started.elapsed();
    Ok(s)
}
