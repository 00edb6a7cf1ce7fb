//! One direction of a TCP connection, reassembled into an ordered byte stream.
//!
//! In-order data is handed to the consumer straight from the packet (no
//! copy). Out-of-order data is buffered as non-overlapping pieces until the
//! hole before it fills, the receiver acknowledges past the hole (the bytes
//! were lost to the capture), the buffer cap is hit, or the stream ends; in
//! the last three cases the consumer is told about the gap and delivery goes
//! on after it. Overlapping bytes are compared with what arrived first (for
//! data already delivered, against a short history window) and a difference
//! is reported: that is how TCP-level evasion looks.

/// Bytes of delivered data kept per direction to compare retransmissions against.
pub const HISTORY_LEN: usize = 256;
/// Out-of-order pieces kept per direction.
pub const MAX_PIECES: usize = 256;

/// What the reassembler hands to the consumer, in stream order.
pub trait StreamSink {
    /// Contiguous stream bytes.
    fn data(&mut self, dir: usize, bytes: &[u8]);
    /// `len` bytes of the stream were never seen; the next data starts after them.
    fn gap(&mut self, dir: usize, len: u64);
}

/// Something worth an anomaly event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// A segment overlapped data already received, with different bytes.
    OverlapDifferentData,
    /// Bytes were skipped.
    Gap(u64),
    /// The per-direction out-of-order buffer was full.
    BufferFull,
    /// The global reassembly memory cap was reached.
    Memcap,
}

/// Shared accounting of out-of-order bytes across all streams.
#[derive(Debug)]
pub struct Budget {
    /// Bytes currently buffered.
    pub used: usize,
    /// Cap on `used`.
    pub cap: usize,
}

/// The last [`HISTORY_LEN`] delivered bytes as a ring indexed by stream
/// offset (byte at offset `o` lives at `o % HISTORY_LEN`), allocated on
/// first delivery. Appending costs one or two copies, never a shift. How
/// many bytes are valid is kept by the [`Stream`] (`history_len`), where
/// it packs with the other small fields.
#[derive(Default)]
struct History {
    buf: Option<Box<[u8; HISTORY_LEN]>>,
}

impl History {
    /// Appends `bytes`, which start at stream offset `start`; `len` is the
    /// count of valid bytes, updated.
    fn push(&mut self, len: &mut u16, start: u64, bytes: &[u8]) {
        let buf = self.buf.get_or_insert_with(|| Box::new([0; HISTORY_LEN]));
        let take = bytes.len().min(HISTORY_LEN);
        let skip = bytes.len() - take;
        let src = &bytes[skip..];
        let at = ((start + skip as u64) % HISTORY_LEN as u64) as usize;
        let first = (HISTORY_LEN - at).min(take);
        buf[at..at + first].copy_from_slice(&src[..first]);
        // The wrapped part, when there is one (a call less per segment).
        if take > first {
            buf[..take - first].copy_from_slice(&src[first..]);
        }
        *len = (usize::from(*len) + take).min(HISTORY_LEN) as u16;
    }

    /// True when `bytes`, at stream offset `start` (within the kept
    /// window), equal what was delivered there.
    fn equals(&self, start: u64, bytes: &[u8]) -> bool {
        let Some(buf) = &self.buf else {
            return true;
        };
        let at = (start % HISTORY_LEN as u64) as usize;
        let first = (HISTORY_LEN - at).min(bytes.len());
        buf[at..at + first] == bytes[..first] && buf[..bytes.len() - first] == bytes[first..]
    }
}

struct Piece {
    rel: u64,
    data: Vec<u8>,
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes delivered to the consumer.
    pub delivered: u64,
    /// Bytes skipped as gaps.
    pub gap_bytes: u64,
    /// Gaps declared.
    pub gaps: u32,
    /// Segments that carried only already-delivered bytes.
    pub retransmissions: u32,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u32,
    /// Overlaps whose bytes differed.
    pub overlap_mismatches: u32,
}

/// Reassembly state of one direction.
///
/// 56 bytes, laid out in the order of the fields: what an in-order
/// segment reads and writes (and what the acknowledgement in the other
/// direction checks) comes first. Out-of-order pieces and the counters of
/// the rarer cases live apart, allocated on first use, so that both
/// directions of a connection take 112 bytes of the flow record.
#[derive(Default)]
#[repr(C)]
pub struct Stream {
    /// Next relative offset to deliver.
    next: u64,
    /// Highest relative offset the peer acknowledged.
    acked: u64,
    /// Bytes delivered to the consumer ([`StreamStats::delivered`]).
    delivered: u64,
    history: History,
    /// Sequence number of relative offset 0.
    base: u32,
    /// Bytes in the out-of-order pieces (at most `max_buffer`, itself at
    /// most `u32::MAX`); every piece holds at least one byte, so 0 exactly
    /// when there is none.
    buffered: u32,
    max_buffer: u32,
    /// Valid bytes of `history`, ending at `next`.
    history_len: u16,
    init: bool,
    /// Stop reassembling: counters only.
    bypass: bool,
    cold: Option<Box<StreamCold>>,
}

const _: () = assert!(std::mem::size_of::<Stream>() == 56);

/// The part of a [`Stream`] that in-order data never touches.
#[derive(Default)]
struct StreamCold {
    /// Out-of-order pieces, by offset, not overlapping.
    pieces: Vec<Piece>,
    gap_bytes: u64,
    gaps: u32,
    retransmissions: u32,
    out_of_order: u32,
    overlap_mismatches: u32,
}

impl Stream {
    /// A stream that buffers at most `max_buffer` out-of-order bytes.
    pub fn new(max_buffer: usize) -> Self {
        Stream {
            max_buffer: u32::try_from(max_buffer).unwrap_or(u32::MAX),
            ..Stream::default()
        }
    }

    /// True once the initial sequence number is known.
    pub fn is_init(&self) -> bool {
        self.init
    }

    /// Starts the stream at `seq` (the sequence number of the first data byte).
    pub fn init(&mut self, seq: u32) {
        self.init = true;
        self.base = seq;
        self.next = 0;
        self.acked = 0;
    }

    /// The sequence number of the next byte expected.
    pub fn next_seq(&self) -> u32 {
        self.base.wrapping_add(self.next as u32)
    }

    /// Stops buffering and delivering; frees buffers.
    pub fn set_bypass(&mut self, budget: &mut Budget) {
        self.bypass = true;
        self.release(budget);
        self.history = History::default();
        self.history_len = 0;
    }

    /// Starts loading the delivered-bytes history into the caches (see
    /// [`crate::prefetch_lines`]).
    pub fn prefetch(&self) {
        if let Some(b) = &self.history.buf {
            crate::prefetch_lines(&**b);
        }
    }

    /// Counters.
    pub fn stats(&self) -> StreamStats {
        let c = self.cold.as_deref();
        StreamStats {
            delivered: self.delivered,
            gap_bytes: c.map_or(0, |c| c.gap_bytes),
            gaps: c.map_or(0, |c| c.gaps),
            retransmissions: c.map_or(0, |c| c.retransmissions),
            out_of_order: c.map_or(0, |c| c.out_of_order),
            overlap_mismatches: c.map_or(0, |c| c.overlap_mismatches),
        }
    }

    /// Bytes delivered to the consumer so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The out-of-order pieces, by offset.
    fn pieces(&self) -> &[Piece] {
        self.cold.as_deref().map_or(&[], |c| &c.pieces)
    }

    /// The cold part, allocated on first use.
    fn cold(&mut self) -> &mut StreamCold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// True when no piece is buffered (without reaching the cold part).
    #[inline]
    fn no_pieces(&self) -> bool {
        debug_assert_eq!(self.buffered == 0, self.pieces().is_empty());
        self.buffered == 0
    }

    /// True when bypassed.
    pub fn is_bypassed(&self) -> bool {
        self.bypass
    }

    /// Bytes buffered out of order.
    pub fn buffered(&self) -> usize {
        self.buffered as usize
    }

    /// Relative offset of `seq`, interpreting it within ±2 GiB of `next`.
    fn rel(&self, seq: u32) -> i64 {
        let d = seq.wrapping_sub(self.next_seq()) as i32;
        self.next as i64 + i64::from(d)
    }

    /// A data-bearing (or pure ACK) segment of this direction.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        budget: &mut Budget,
        dir: usize,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) {
        if !self.init {
            self.init(seq);
        }
        let start = self.rel(seq);
        if payload.is_empty() || self.bypass {
            self.skip(start, payload.len());
            return;
        }
        let end = start + payload.len() as i64;
        let next = self.next as i64;
        if end <= next {
            self.cold().retransmissions += 1;
            // A keep-alive (RFC 9293 §3.8.4) carries at most one octet at
            // the last acknowledged position, and that octet is garbage by
            // design: comparing it would report an overlap that is not one.
            let keep_alive = payload.len() == 1 && end == next;
            if !keep_alive {
                self.compare_history(start, payload, events);
            }
            return;
        }
        let (start, payload) = if start < next {
            let skip = (next - start) as usize;
            self.compare_history(start, &payload[..skip], events);
            (next, &payload[skip..])
        } else {
            (start, payload)
        };
        let start = start as u64;
        if start == self.next {
            self.deliver(dir, payload, sink);
            if !self.no_pieces() {
                self.drain(dir, sink, budget, events);
            }
            return;
        }
        // Ahead of a hole. If the receiver already acknowledged past the
        // hole, the missing bytes were lost to the capture: skip them now.
        self.cold().out_of_order += 1;
        if self.insert_piece(start, payload, budget, events) {
            if self.acked >= start {
                self.skip_to_first(dir, sink, events);
                self.drain(dir, sink, budget, events);
            }
            return;
        }
        // No room: give up on the hole, deliver what we hold, then this segment.
        self.skip_to_first(dir, sink, events);
        self.drain(dir, sink, budget, events);
        if start > self.next {
            self.gap_to(start, dir, sink, events);
        }
        let end = start + payload.len() as u64;
        if end > self.next {
            let skip = (self.next - start) as usize;
            self.deliver(dir, &payload[skip..], sink);
        }
    }

    /// True when a segment starting at `seq` would be delivered at once
    /// and alone: the stream is started and not bypassed, nothing is
    /// buffered, and `seq` is the next byte expected.
    #[inline]
    pub(crate) fn is_next(&self, seq: u32) -> bool {
        self.init && !self.bypass && self.no_pieces() && seq == self.next_seq()
    }

    /// True when nothing is buffered out of order.
    #[inline]
    pub(crate) fn holds_nothing(&self) -> bool {
        self.no_pieces()
    }

    /// A segment without payload (nothing to deliver, no sink needed).
    pub(crate) fn empty_segment(&mut self, seq: u32) {
        if !self.init {
            self.init(seq);
        }
        let start = self.rel(seq);
        self.skip(start, 0);
    }

    /// A segment whose `len` bytes at relative `start` are not delivered:
    /// none, or the stream is bypassed (then they count as delivered).
    fn skip(&mut self, start: i64, len: usize) {
        if self.bypass {
            let end = start + len as i64;
            if end > self.next as i64 {
                self.delivered += (end - self.next as i64) as u64;
                self.next = end as u64;
            }
        }
    }

    /// The peer acknowledged up to `ack` in this direction.
    pub fn acknowledged(
        &mut self,
        ack: u32,
        budget: &mut Budget,
        dir: usize,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) {
        if self.note_ack(ack) {
            // Buffered data behind an acknowledged hole: the hole will not be filled.
            self.skip_to_first(dir, sink, events);
            self.drain(dir, sink, budget, events);
        }
    }

    /// Records an acknowledgement; true when buffered data now waits
    /// behind an acknowledged hole (never when nothing is buffered).
    pub(crate) fn note_ack(&mut self, ack: u32) -> bool {
        if !self.init || self.bypass {
            return false;
        }
        let r = self.rel(ack);
        if r <= self.next as i64 {
            return false;
        }
        self.acked = self.acked.max(r as u64);
        self.pieces()
            .first()
            .is_some_and(|first| first.rel <= self.acked && first.rel > self.next)
    }

    /// End of the connection: deliver everything buffered, gaps included.
    pub fn flush(
        &mut self,
        budget: &mut Budget,
        dir: usize,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) {
        while !self.pieces().is_empty() {
            self.skip_to_first(dir, sink, events);
            self.drain(dir, sink, budget, events);
        }
    }

    /// Returns buffered bytes to the budget (the stream is being dropped).
    pub fn release(&mut self, budget: &mut Budget) {
        budget.used = budget.used.saturating_sub(self.buffered as usize);
        self.buffered = 0;
        if let Some(c) = &mut self.cold {
            c.pieces = Vec::new();
        }
    }

    #[inline]
    pub(crate) fn deliver(&mut self, dir: usize, bytes: &[u8], sink: &mut impl StreamSink) {
        sink.data(dir, bytes);
        self.next += bytes.len() as u64;
        self.delivered += bytes.len() as u64;
        // Keep the tail for retransmission comparison.
        self.history
            .push(&mut self.history_len, self.next - bytes.len() as u64, bytes);
    }

    /// Compares bytes at relative `start` with the delivered history.
    fn compare_history(&mut self, start: i64, bytes: &[u8], events: &mut Vec<StreamEvent>) {
        let hist_start = self.next as i64 - i64::from(self.history_len);
        let s = start.max(hist_start);
        let e = (start + bytes.len() as i64).min(self.next as i64);
        if s >= e {
            return;
        }
        let a = &bytes[(s - start) as usize..(e - start) as usize];
        if !self.history.equals(s as u64, a) {
            self.cold().overlap_mismatches += 1;
            events.push(StreamEvent::OverlapDifferentData);
        }
    }

    /// Buffers `[start, start+len)` minus what is already buffered. Returns
    /// false when a cap prevented it.
    fn insert_piece(
        &mut self,
        start: u64,
        bytes: &[u8],
        budget: &mut Budget,
        events: &mut Vec<StreamEvent>,
    ) -> bool {
        let end = start + bytes.len() as u64;
        // Compare with overlapping pieces; collect the uncovered sub-ranges.
        let mut uncovered: Vec<(u64, u64)> = vec![(start, end)];
        let mut mismatch = false;
        for p in self.pieces() {
            let (ps, pe) = (p.rel, p.rel + p.data.len() as u64);
            if pe <= start || ps >= end {
                continue;
            }
            let (s, e) = (start.max(ps), end.min(pe));
            if bytes[(s - start) as usize..(e - start) as usize]
                != p.data[(s - ps) as usize..(e - ps) as usize]
            {
                mismatch = true;
            }
            let mut next_unc = Vec::with_capacity(uncovered.len() + 1);
            for (us, ue) in uncovered {
                if ue <= ps || us >= pe {
                    next_unc.push((us, ue));
                    continue;
                }
                if us < ps {
                    next_unc.push((us, ps));
                }
                if ue > pe {
                    next_unc.push((pe, ue));
                }
            }
            uncovered = next_unc;
        }
        if mismatch {
            self.cold().overlap_mismatches += 1;
            events.push(StreamEvent::OverlapDifferentData);
        }
        let add: usize = uncovered.iter().map(|(s, e)| (e - s) as usize).sum();
        if add == 0 {
            return true;
        }
        if self.buffered as usize + add > self.max_buffer as usize
            || self.pieces().len() + uncovered.len() > MAX_PIECES
        {
            events.push(StreamEvent::BufferFull);
            return false;
        }
        if budget.used + add > budget.cap {
            events.push(StreamEvent::Memcap);
            return false;
        }
        let pieces = &mut self.cold().pieces;
        for (s, e) in uncovered {
            let data = bytes[(s - start) as usize..(e - start) as usize].to_vec();
            let pos = pieces.partition_point(|p| p.rel < s);
            pieces.insert(pos, Piece { rel: s, data });
        }
        // Within `max_buffer`, checked above.
        self.buffered += add as u32;
        budget.used += add;
        true
    }

    /// Delivers buffered pieces that are contiguous with `next`.
    fn drain(
        &mut self,
        dir: usize,
        sink: &mut impl StreamSink,
        budget: &mut Budget,
        events: &mut Vec<StreamEvent>,
    ) {
        let mut taken = 0;
        let mut i = 0;
        while i < self.pieces().len() {
            let next = self.next;
            let p = &mut self.cold().pieces[i];
            let (rel, len) = (p.rel, p.data.len() as u64);
            if rel > next {
                break;
            }
            let data = std::mem::take(&mut p.data);
            taken += data.len();
            let skip = ((self.next - rel) as usize).min(data.len());
            if skip > 0 {
                // Already delivered from a later segment: check it said the same.
                self.compare_history(rel as i64, &data[..skip], events);
            }
            if rel + len > self.next {
                self.deliver(dir, &data[skip..], sink);
            }
            i += 1;
        }
        if let Some(c) = &mut self.cold {
            c.pieces.drain(..i);
        }
        self.buffered -= taken as u32;
        budget.used = budget.used.saturating_sub(taken);
    }

    /// Declares the hole before the first buffered piece a gap.
    fn skip_to_first(
        &mut self,
        dir: usize,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) {
        if let Some(first) = self.pieces().first() {
            let to = first.rel;
            if to > self.next {
                self.gap_to(to, dir, sink, events);
            }
        }
    }

    fn gap_to(
        &mut self,
        to: u64,
        dir: usize,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) {
        let len = to - self.next;
        sink.gap(dir, len);
        events.push(StreamEvent::Gap(len));
        let c = self.cold();
        c.gaps += 1;
        c.gap_bytes += len;
        self.next = to;
        self.history_len = 0;
    }
}
