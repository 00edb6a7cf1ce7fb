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

#![forbid(unsafe_code)]

mod stream;
mod table;
mod tcp;

pub use stream::{Budget, Stream, StreamEvent, StreamSink, StreamStats, HISTORY_LEN, MAX_PIECES};
pub use table::{EndReason, Flow, FlowConfig, FlowKey, FlowTable, Lookup, PacketKey};
pub use tcp::{TcpConn, TcpState, TcpVerdict};

/// Direction index of client-to-server traffic.
pub const TO_SERVER: usize = 0;
/// Direction index of server-to-client traffic.
pub const TO_CLIENT: usize = 1;

#[cfg(test)]
mod tests;
