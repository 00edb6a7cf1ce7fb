//! Bounded IPv4 and IPv6 fragment reassembly.
//!
//! Datagrams are keyed by source, destination, identification and protocol
//! (RFC 791 §3.2, RFC 8200 §4.5). Overlapping fragments are reassembled
//! first-arrival-wins and reported, with a separate report when the
//! overlapping bytes differ (the classic IDS-evasion case). Memory is capped
//! by datagram count, buffered bytes and fragments per datagram; the oldest
//! datagram is evicted first, and incomplete datagrams expire after a
//! timeout driven by capture time.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::net::Fragment;

/// Largest reassembled IP payload (the 16-bit length limit).
const MAX_DATAGRAM: usize = 65_535;

/// Limits of the defragmenter.
#[derive(Clone, Copy, Debug)]
pub struct DefragConfig {
    /// Datagrams under reassembly at once.
    pub max_datagrams: usize,
    /// Fragment bytes buffered in total.
    pub max_bytes: usize,
    /// Fragments accepted per datagram.
    pub max_fragments: usize,
    /// Capture-time nanoseconds after which an incomplete datagram is dropped.
    pub timeout_ns: i64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_datagrams: 4096,
            max_bytes: 32 << 20,
            max_fragments: 256,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Identifies a datagram under reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DefragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP identification.
    pub id: u32,
    /// Transport protocol.
    pub protocol: u8,
}

/// Something the defragmenter reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefragEvent {
    /// A fragment overlapped one already received.
    Overlap {
        /// The datagram.
        key: DefragKey,
        /// The overlapping bytes differ.
        different_data: bool,
    },
    /// An incomplete datagram timed out.
    Timeout(DefragKey),
    /// An incomplete datagram was evicted to stay within the memory caps.
    Evicted(DefragKey),
    /// A datagram exceeded the fragment count cap and was dropped.
    TooManyFragments(DefragKey),
    /// A fragment reaches beyond 65535 bytes (ping of death) and was dropped.
    Oversized(DefragKey),
    /// Two fragments claim different datagram ends.
    InconsistentLength(DefragKey),
}

impl DefragEvent {
    /// snake_case code for anomaly events.
    pub fn code(&self) -> &'static str {
        match self {
            DefragEvent::Overlap {
                different_data: true,
                ..
            } => "fragment_overlap_different_data",
            DefragEvent::Overlap { .. } => "fragment_overlap",
            DefragEvent::Timeout(_) => "fragment_timeout",
            DefragEvent::Evicted(_) => "fragment_memcap",
            DefragEvent::TooManyFragments(_) => "too_many_fragments",
            DefragEvent::Oversized(_) => "fragment_oversized",
            DefragEvent::InconsistentLength(_) => "fragment_inconsistent_length",
        }
    }

    /// The datagram concerned.
    pub fn key(&self) -> &DefragKey {
        match self {
            DefragEvent::Overlap { key, .. }
            | DefragEvent::Timeout(key)
            | DefragEvent::Evicted(key)
            | DefragEvent::TooManyFragments(key)
            | DefragEvent::Oversized(key)
            | DefragEvent::InconsistentLength(key) => key,
        }
    }
}

/// A complete datagram.
#[derive(Debug)]
pub struct Reassembled {
    /// Which datagram.
    pub key: DefragKey,
    /// The transport payload, from offset 0.
    pub payload: Vec<u8>,
}

struct Datagram {
    first_ts: i64,
    /// (offset, bytes) in arrival order.
    pieces: Vec<(usize, Vec<u8>)>,
    total: Option<usize>,
    bytes: usize,
}

/// The reassembly table.
pub struct Defragmenter {
    cfg: DefragConfig,
    table: HashMap<DefragKey, Datagram>,
    /// Creation order, for timeouts and eviction; entries may be stale.
    order: VecDeque<(i64, DefragKey)>,
    bytes: usize,
}

impl Defragmenter {
    /// An empty table with the given limits.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            table: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Datagrams currently under reassembly.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Fragment bytes currently buffered.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds one fragment; returns the datagram when it is complete.
    pub fn insert(
        &mut self,
        ts: i64,
        key: DefragKey,
        frag: Fragment,
        data: &[u8],
        events: &mut Vec<DefragEvent>,
    ) -> Option<Reassembled> {
        self.expire(ts, events);
        let end = frag.offset + data.len();
        if end > MAX_DATAGRAM {
            self.drop_datagram(&key);
            events.push(DefragEvent::Oversized(key));
            return None;
        }
        if !self.table.contains_key(&key) {
            while self.table.len() >= self.cfg.max_datagrams
                || (self.bytes + data.len() > self.cfg.max_bytes && !self.table.is_empty())
            {
                if !self.evict_oldest(events) {
                    break;
                }
            }
            self.table.insert(
                key,
                Datagram {
                    first_ts: ts,
                    pieces: Vec::new(),
                    total: None,
                    bytes: 0,
                },
            );
            self.order.push_back((ts, key));
            if self.order.len() > 4 * self.cfg.max_datagrams.max(1) {
                let table = &self.table;
                self.order
                    .retain(|(t, k)| table.get(k).is_some_and(|d| d.first_ts == *t));
            }
        } else {
            while self.bytes + data.len() > self.cfg.max_bytes && self.table.len() > 1 {
                if !self.evict_oldest_except(&key, events) {
                    break;
                }
            }
        }
        let dg = self.table.get_mut(&key)?;
        if dg.pieces.len() >= self.cfg.max_fragments {
            self.drop_datagram(&key);
            events.push(DefragEvent::TooManyFragments(key));
            return None;
        }
        if !frag.more {
            match dg.total {
                Some(t) if t != end => events.push(DefragEvent::InconsistentLength(key)),
                _ => dg.total = Some(end),
            }
        }
        // Overlap check against what we already hold.
        let mut overlap = None;
        for (off, bytes) in &dg.pieces {
            let (s, e) = (frag.offset.max(*off), end.min(off + bytes.len()));
            if s < e {
                let differs = data[s - frag.offset..e - frag.offset] != bytes[s - off..e - off];
                overlap = Some(overlap.unwrap_or(false) || differs);
            }
        }
        if let Some(different_data) = overlap {
            events.push(DefragEvent::Overlap {
                key,
                different_data,
            });
        }
        dg.pieces.push((frag.offset, data.to_vec()));
        dg.bytes += data.len();
        self.bytes += data.len();
        let total = dg.total?;
        if !covers(&dg.pieces, total) {
            return None;
        }
        let dg = self.table.remove(&key)?;
        self.bytes -= dg.bytes;
        let mut payload = vec![0u8; total];
        // Later arrivals first, so that the first arrival's bytes win.
        for (off, bytes) in dg.pieces.iter().rev() {
            let e = (off + bytes.len()).min(total);
            if *off < e {
                payload[*off..e].copy_from_slice(&bytes[..e - off]);
            }
        }
        Some(Reassembled { key, payload })
    }

    /// Drops datagrams older than the timeout.
    pub fn expire(&mut self, now: i64, events: &mut Vec<DefragEvent>) {
        while let Some(&(t, k)) = self.order.front() {
            let live = self.table.get(&k).is_some_and(|d| d.first_ts == t);
            if !live {
                self.order.pop_front();
                continue;
            }
            if now.saturating_sub(t) < self.cfg.timeout_ns {
                break;
            }
            self.order.pop_front();
            self.drop_datagram(&k);
            events.push(DefragEvent::Timeout(k));
        }
    }

    fn evict_oldest(&mut self, events: &mut Vec<DefragEvent>) -> bool {
        while let Some((t, k)) = self.order.pop_front() {
            if self.table.get(&k).is_some_and(|d| d.first_ts == t) {
                self.drop_datagram(&k);
                events.push(DefragEvent::Evicted(k));
                return true;
            }
        }
        false
    }

    fn evict_oldest_except(&mut self, keep: &DefragKey, events: &mut Vec<DefragEvent>) -> bool {
        let pos = self
            .order
            .iter()
            .position(|(t, k)| k != keep && self.table.get(k).is_some_and(|d| d.first_ts == *t));
        match pos {
            Some(i) => {
                if let Some((_, k)) = self.order.remove(i) {
                    self.drop_datagram(&k);
                    events.push(DefragEvent::Evicted(k));
                }
                true
            }
            None => false,
        }
    }

    fn drop_datagram(&mut self, key: &DefragKey) {
        if let Some(dg) = self.table.remove(key) {
            self.bytes -= dg.bytes;
        }
    }
}

/// True when the pieces cover `0..total` without a hole.
fn covers(pieces: &[(usize, Vec<u8>)], total: usize) -> bool {
    let mut spans: Vec<(usize, usize)> = pieces.iter().map(|(o, b)| (*o, o + b.len())).collect();
    spans.sort_unstable();
    let mut reach = 0;
    for (s, e) in spans {
        if s > reach {
            return false;
        }
        reach = reach.max(e);
    }
    reach >= total
}
