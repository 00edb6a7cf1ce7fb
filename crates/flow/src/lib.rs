//! Flows and TCP reassembly.
//!
//! A [`FlowTable`] holds bidirectional flows keyed by the 5-tuple and VLAN.
//! Each flow knows its initiator (the client): from the handshake when it was
//! seen, otherwise from well-known server ports or, failing that, the lower
//! port, and is then flagged `midstream`. Timeouts are driven by capture
//! time, so replaying a day-long capture behaves like the day did.
//!
//! Memory is bounded: the table has a hard flow cap (the least recently seen
//! flow of the shortest-lived class is evicted first), each TCP direction
//! buffers a bounded number of out-of-order bytes, and a global [`Budget`]
//! caps all out-of-order bytes together.
//!
//! The per-flow application state is a type parameter, so this crate knows
//! nothing of the protocols above it.

// One function may use `unsafe`: `prefetch_lines`, for the prefetch
// instruction (see there); everything else is safe code (`unsafe_code` is
// denied in Cargo.toml).

mod index;
mod stream;
mod table;
mod tcp;

pub use stream::{Budget, Stream, StreamEvent, StreamSink, StreamStats, HISTORY_LEN, MAX_PIECES};
pub use table::{EndReason, Flow, FlowConfig, FlowKey, FlowTable, Lookup, Notes, PacketKey};
pub use tcp::{TcpConn, TcpState, TcpVerdict};

/// Direction index of client-to-server traffic.
pub const TO_SERVER: usize = 0;
/// Direction index of server-to-client traffic.
pub const TO_CLIENT: usize = 1;

/// Starts loading every cache line of `*v` into the caches, without
/// waiting for them. Only a hint to the processor: it reads nothing and
/// cannot fault, whatever the address. A no-op on other architectures.
///
/// With about 2,000 interleaved flows, each packet's flow record, session
/// and reassembly history are cache misses; issuing their loads a packet
/// or two early (see `Sensor::prefetch`) hides them (measured in the
/// commit that added this).
#[inline]
pub fn prefetch_lines<T: ?Sized>(v: &T) {
    prefetch_prefix(v, std::mem::size_of_val(v));
}

/// [`prefetch_lines`] for the first `len` bytes of `*v` only (at most all
/// of them): for a record whose hot fields come first.
#[inline]
pub fn prefetch_prefix<T: ?Sized>(v: &T, len: usize) {
    prefetch_span(v, 0, len);
}

/// [`prefetch_lines`] for the bytes `start..end` of `*v` only (clamped to
/// its size).
#[inline]
#[allow(unsafe_code)]
pub fn prefetch_span<T: ?Sized>(v: &T, start: usize, end: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = (v as *const T).cast::<i8>();
        let len = end.min(std::mem::size_of_val(v));
        let mut off = start;
        while off < len {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86_64
            // processor has (it is in the target's baseline), and does not
            // dereference its argument: a prefetch never faults, and the
            // addresses are within `*v` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
        // The last line, when `v` does not start on a line boundary.
        if len > start {
            // SAFETY: as above.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(len - 1)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, start, end);
}

#[cfg(test)]
mod tests;
