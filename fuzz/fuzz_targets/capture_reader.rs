//! Guards `plantshield_capture::CaptureReader` (pcap and pcapng) against
//! hostile files: no panic, no overflow, no allocation beyond the record and
//! block caps, whatever the headers, lengths, options and interfaces say.
//!
//! Every delivered record is read in full (so an out-of-bounds slice would
//! show), and the same input is read a second time through a reader that
//! returns at most a few bytes per `read` call: buffer refills must not
//! change what is delivered.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use plantshield_capture::{CaptureReader, MAX_BLOCK_LEN};

/// A `Read` that hands out at most `step` bytes per call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What a reader delivered: one summary line per record and the final error.
fn read_all<R: Read>(src: R) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = match CaptureReader::new(src) {
        Ok(r) => r,
        Err(e) => {
            out.push(format!("open error: {e}"));
            return out;
        }
    };
    out.push(format!("{:?}", r.format()));
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= MAX_BLOCK_LEN);
                // Touch every byte of the record.
                let sum = p
                    .data
                    .iter()
                    .fold(0u32, |a, &b| a.rotate_left(5) ^ u32::from(b));
                out.push(format!(
                    "{} {} {} {} {} {sum:08x}",
                    p.ts_ns,
                    p.link_type.0,
                    p.data.len(),
                    p.orig_len,
                    p.interface
                ));
            }
            Ok(None) => break,
            Err(e) => {
                out.push(format!("error: {e} ({})", e.code()));
                // After an error the reader is finished.
                assert!(matches!(r.next_packet(), Ok(None)));
                break;
            }
        }
    }
    out.push(format!("{} {:?}", r.records(), r.link_type()));
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = read_all(data);
    // Reads of 1 to 251 bytes: records and blocks straddle refills.
    let step = 1 + data.len() % 251;
    let trickled = read_all(Trickle { data, step });
    assert_eq!(
        whole, trickled,
        "read size changed the records (step {step})"
    );
});
