//! TCP connection tracking: the handshake, FIN/RST, and the two reassembled
//! directions.

use plantshield_decode::{TcpFlags, TcpSegment};

use crate::stream::{Budget, Stream, StreamEvent, StreamSink};
use crate::{TO_CLIENT, TO_SERVER};

/// Coarse connection state, as reported in `flow` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// SYN seen, no SYN-ACK yet.
    SynSent,
    /// SYN-ACK seen, handshake not yet confirmed by data or ACK.
    SynReceived,
    /// Handshake complete (or data seen both ways).
    Established,
    /// Joined after the handshake.
    Midstream,
    /// One side sent FIN.
    Closing,
    /// Both sides sent FIN.
    Closed,
    /// A side sent RST.
    Reset,
}

impl TcpState {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::SynSent => "syn_sent",
            TcpState::SynReceived => "syn_received",
            TcpState::Established => "established",
            TcpState::Midstream => "midstream",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
            TcpState::Reset => "reset",
        }
    }
}

/// What the caller should do after a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpVerdict {
    /// Keep going.
    Continue,
    /// A new SYN reuses this 5-tuple: end this flow and start another.
    NewConnection,
    /// SYN together with FIN or RST: no TCP stack accepts it; ignored.
    InvalidFlags,
}

/// Both directions of one connection.
///
/// Laid out in the order of the fields: the flags, then both streams (112
/// bytes, the hot fields of both directions together), then the initial
/// sequence numbers, which only a SYN reads. They are not `Option`s: an
/// `Option<TcpConn>` keeps its tag in a niche of the first field that has
/// one, which would then be theirs, and every packet's test for TCP state
/// would read the cold line they lie in; it reads the flags' line instead.
#[repr(C)]
pub struct TcpConn {
    syn: [bool; 2],
    fin: [bool; 2],
    data_both: [bool; 2],
    rst: bool,
    /// Bit `dir` set when `isn[dir]` holds that direction's initial
    /// sequence number.
    isn_known: u8,
    /// Reassembly per direction, indexed by [`TO_SERVER`] / [`TO_CLIENT`].
    pub streams: [Stream; 2],
    isn: [u32; 2],
}

impl TcpConn {
    /// The length of the hot part: the flags and both streams.
    pub const HOT_BYTES: usize = std::mem::offset_of!(TcpConn, isn);

    /// A connection whose directions each buffer at most `max_buffer` bytes out of order.
    pub fn new(max_buffer: usize) -> Self {
        TcpConn {
            streams: [Stream::new(max_buffer), Stream::new(max_buffer)],
            syn: [false; 2],
            isn_known: 0,
            isn: [0; 2],
            fin: [false; 2],
            rst: false,
            data_both: [false; 2],
        }
    }

    /// The coarse state.
    pub fn state(&self) -> TcpState {
        if self.rst {
            TcpState::Reset
        } else if self.fin[0] && self.fin[1] {
            TcpState::Closed
        } else if self.fin[0] || self.fin[1] {
            TcpState::Closing
        } else if self.syn[TO_SERVER] && self.syn[TO_CLIENT] {
            if self.data_both[0] || self.data_both[1] {
                TcpState::Established
            } else {
                TcpState::SynReceived
            }
        } else if self.syn[TO_SERVER] {
            TcpState::SynSent
        } else if self.syn[TO_CLIENT] {
            TcpState::SynReceived
        } else {
            TcpState::Midstream
        }
    }

    /// Starts loading both directions' buffers into the caches, for a
    /// segment of this connection that comes soon.
    pub fn prefetch(&self) {
        self.streams[0].prefetch();
        self.streams[1].prefetch();
    }

    /// The initial sequence number of direction `dir`, once seen.
    fn isn(&self, dir: usize) -> Option<u32> {
        (self.isn_known >> dir & 1 == 1).then_some(self.isn[dir])
    }

    /// True once FIN both ways or RST: the flow can end soon.
    pub fn is_finished(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }

    /// True when the handshake was seen.
    pub fn saw_handshake(&self) -> bool {
        self.syn[TO_SERVER]
    }

    /// Processes a segment travelling in `dir` that carries only an
    /// acknowledgement (no payload; no SYN, FIN or RST) when the direction
    /// it acknowledges holds no out-of-order data, so that nothing can be
    /// delivered: the common pure ACK, without building a sink. Returns
    /// false, having changed nothing, for any other segment (use
    /// [`TcpConn::segment`]).
    pub fn pure_ack(&mut self, dir: usize, seg: &TcpSegment<'_>) -> bool {
        let f = seg.flags;
        let other = 1 - dir;
        if !seg.payload.is_empty()
            || f.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) != 0
            || self.streams[other].buffered() > 0
        {
            return false;
        }
        if f.ack() {
            self.streams[other].note_ack(seg.ack);
        }
        self.streams[dir].empty_segment(seg.seq);
        true
    }

    /// Processes one segment travelling in `dir`.
    #[inline]
    pub fn segment(
        &mut self,
        dir: usize,
        seg: &TcpSegment<'_>,
        budget: &mut Budget,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) -> TcpVerdict {
        if self.in_order_data(dir, seg, sink) {
            return TcpVerdict::Continue;
        }
        self.segment_general(dir, seg, budget, sink, events)
    }

    /// The common segment, what [`TcpConn::segment_general`] does with
    /// it without its other cases: data with ACK and no other control
    /// bit, at the next sequence number of its direction, neither
    /// direction holding data out of order (so the acknowledgement
    /// releases nothing and the data goes straight to the sink). Returns
    /// false, having changed nothing, for any other segment.
    #[inline]
    fn in_order_data(
        &mut self,
        dir: usize,
        seg: &TcpSegment<'_>,
        sink: &mut impl StreamSink,
    ) -> bool {
        let ctl = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST | TcpFlags::ACK;
        if seg.flags.0 & ctl != TcpFlags::ACK || seg.payload.is_empty() {
            return false;
        }
        let [a, b] = &mut self.streams;
        let (s, o) = if dir == TO_SERVER { (a, b) } else { (b, a) };
        if !s.is_next(seg.seq) || !o.holds_nothing() {
            return false;
        }
        // Nothing is buffered: the acknowledgement only moves `acked`.
        let released = o.note_ack(seg.ack);
        debug_assert!(!released);
        self.data_both[dir] = true;
        s.deliver(dir, seg.payload, sink);
        true
    }

    /// [`TcpConn::segment`] for every segment, without its shortcut.
    pub(crate) fn segment_general(
        &mut self,
        dir: usize,
        seg: &TcpSegment<'_>,
        budget: &mut Budget,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) -> TcpVerdict {
        let f = seg.flags;
        let other = 1 - dir;
        if f.syn() && (f.fin() || f.rst()) {
            return TcpVerdict::InvalidFlags;
        }
        if f.syn() {
            if !f.ack() {
                if let Some(isn) = self.isn(dir) {
                    if isn != seg.seq {
                        if self.is_finished() || self.streams[dir].delivered() > 0 {
                            return TcpVerdict::NewConnection;
                        }
                        // A fresh SYN before any data: the client restarted its attempt.
                        self.isn_known &= !(1 << dir);
                    }
                }
            } else if !self.streams[other].is_init() {
                // SYN-ACK without the SYN: its ACK tells where the peer starts.
                self.streams[other].init(seg.ack);
            }
            if self.isn(dir).is_none() {
                self.isn[dir] = seg.seq;
                self.isn_known |= 1 << dir;
                self.streams[dir].init(seg.seq.wrapping_add(1));
            }
            self.syn[dir] = true;
            // Data on a SYN (TCP Fast Open) follows the ISN.
            if !seg.payload.is_empty() {
                self.data_both[dir] = true;
                let seq = seg.seq.wrapping_add(1);
                self.streams[dir].segment(seq, seg.payload, budget, dir, sink, events);
            }
            return TcpVerdict::Continue;
        }
        if f.rst() {
            self.rst = true;
            self.flush(budget, sink, events);
            return TcpVerdict::Continue;
        }
        if f.ack() {
            self.streams[other].acknowledged(seg.ack, budget, other, sink, events);
        }
        if !seg.payload.is_empty() {
            self.data_both[dir] = true;
        }
        self.streams[dir].segment(seg.seq, seg.payload, budget, dir, sink, events);
        if f.fin() {
            self.fin[dir] = true;
        }
        TcpVerdict::Continue
    }

    /// Delivers everything buffered in both directions.
    pub fn flush(
        &mut self,
        budget: &mut Budget,
        sink: &mut impl StreamSink,
        events: &mut Vec<StreamEvent>,
    ) {
        for d in [TO_SERVER, TO_CLIENT] {
            self.streams[d].flush(budget, d, sink, events);
        }
    }

    /// Returns buffered memory to the budget.
    pub fn release(&mut self, budget: &mut Budget) {
        for s in &mut self.streams {
            s.release(budget);
        }
    }
}
