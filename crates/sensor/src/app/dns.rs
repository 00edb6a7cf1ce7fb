//! Name service sessions: DNS over UDP and TCP port 53, and the NetBIOS
//! name service on UDP port 137, which shares DNS's message format.
//!
//! A query waits for its response in a bounded pending table (a copy of at
//! most [`MAX_KEPT`] octets, `cfg.max_pending_transactions` queries; the
//! oldest is ended as unanswered when it is full, with a
//! `pending_table_full` anomaly). A response pairs with the pending query
//! of the same id that travelled the other way, and is checked against it
//! (same question, same opcode). A second query with the same id ends the
//! first (a retransmission: each is logged). Unanswered queries end at the
//! transaction timeout and when the flow ends; a response whose query was
//! not seen is logged on its own.
//!
//! Roles come from the QR (NetBIOS: R) bit, not from ports: NetBIOS uses
//! port 137 at both ends. A NetBIOS query or registration sent as a
//! broadcast (B bit) is logged at once: its answers come back unicast,
//! from whichever host owns the name, on another flow.
//!
//! Over TCP (RFC 1035 §4.2.2, RFC 7766) each message follows a two-octet
//! length. Only a message split across segments is copied (at most 64 KiB
//! per direction); after a stream gap the session waits for a segment that
//! starts with a plausible length and header.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_protocols::dns::{self, Flags, Message, HEADER_LEN};
use plantshield_protocols::netbios::{self, NbHeader};
use plantshield_protocols::Probe;

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, Event, NameServiceEvent};

pub(crate) const DETECTOR: Detector = Detector {
    name: "dns",
    tcp_ports: &[dns::PORT],
    udp_ports: &[dns::PORT],
    probe: dns::probe,
    new: |_request_dir| Box::new(NameSession::new(Kind::Dns)),
};

/// Octets of a query kept while it waits for its response: more than any
/// query carries but dynamic updates with signatures (the rest is not
/// reported; flag `query_cut`).
pub(crate) const MAX_KEPT: usize = 1024;

/// Which protocol a session speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dns,
    Netbios,
}

impl Kind {
    fn layer(self) -> &'static str {
        match self {
            Kind::Dns => "dns",
            Kind::Netbios => "netbios",
        }
    }
}

/// A query waiting for its response.
struct Pending {
    ts: i64,
    id: u16,
    dir: usize,
    /// Octets of the query on the wire.
    len: usize,
    /// Its first [`MAX_KEPT`] octets (queries are small: most are kept whole).
    bytes: Box<[u8]>,
}

impl Pending {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One flow of DNS or NetBIOS name service.
pub(crate) struct NameSession {
    kind: Kind,
    pending: VecDeque<Pending>,
    /// TCP: a message split across segments, per direction.
    partial: [Vec<u8>; 2],
    /// TCP: framing lost after a gap.
    resync: [bool; 2],
}

impl NameSession {
    pub(crate) fn new(kind: Kind) -> Self {
        NameSession {
            kind,
            pending: VecDeque::new(),
            partial: [Vec::new(), Vec::new()],
            resync: [false; 2],
        }
    }
}

impl Session for NameSession {
    fn data(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        if self.resync[dir] {
            // A segment that starts with a length and a plausible header.
            if bytes.len() < 2 + HEADER_LEN || dns::probe(&bytes[2..], false) != Probe::Match {
                return;
            }
            self.resync[dir] = false;
        }
        if !self.partial[dir].is_empty() {
            let p = &mut self.partial[dir];
            if p.len() < 2 {
                let take = (2 - p.len()).min(bytes.len());
                p.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if p.len() < 2 {
                    return;
                }
            }
            let want = 2 + usize::from(u16::from_be_bytes([p[0], p[1]]));
            let take = (want - p.len()).min(bytes.len());
            p.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if p.len() < want {
                return;
            }
            let msg = std::mem::take(&mut self.partial[dir]);
            self.message(dir, &msg[2..], out);
            self.partial[dir] = msg;
            self.partial[dir].clear();
        }
        while !bytes.is_empty() {
            let len = match bytes.get(..2) {
                Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
                None => usize::MAX,
            };
            match bytes.get(2..len.saturating_add(2)) {
                Some(m) if len != usize::MAX => {
                    self.message(dir, m, out);
                    bytes = &bytes[2 + len..];
                }
                _ => {
                    self.partial[dir].extend_from_slice(bytes);
                    return;
                }
            }
        }
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        self.partial[dir].clear();
        self.resync[dir] = true;
    }

    fn datagram(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.message(dir, bytes, out);
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(p) = self.pending.pop_front() {
            self.emit(out, Some(&p), None);
        }
        if self.partial.iter().any(|p| !p.is_empty()) {
            out.anomaly(
                AnomalyKind::Applayer,
                self.kind.layer(),
                "truncated_message",
                Cow::Borrowed("the TCP connection ended inside a DNS message"),
            );
        }
    }
}

impl NameSession {
    fn message(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        let now = out.ts;
        self.expire(now, out);
        let Some(mut m) = Message::parse(bytes) else {
            out.anomaly(
                AnomalyKind::Applayer,
                self.kind.layer(),
                "malformed_message",
                Cow::Owned(format!(
                    "a {} message of {} octets is shorter than its 12-octet header",
                    self.kind.layer(),
                    bytes.len()
                )),
            );
            return;
        };
        if self.kind == Kind::Dns {
            m.check_rdata();
        }
        if !m.is_complete() {
            let why = match m.name_error {
                Some(e) => format!("a name cannot be read ({})", e.name().replace('_', " ")),
                None => "it ends before the records its header counts".to_string(),
            };
            out.anomaly(
                AnomalyKind::Applayer,
                self.kind.layer(),
                "malformed_message",
                Cow::Owned(format!(
                    "{} message id {}: {why}",
                    self.kind.layer(),
                    m.header.id
                )),
            );
        }
        if m.header.is_response() {
            self.response(dir, &m, now, out);
        } else {
            self.query(dir, bytes, &m, now, out);
        }
    }

    fn expire(&mut self, now: i64, out: &mut Out<'_>) {
        let timeout = out.cfg.transaction_timeout_ns;
        while self
            .pending
            .front()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.pending.pop_front() {
                self.emit(out, Some(&p), None);
            }
        }
    }

    fn query(&mut self, dir: usize, bytes: &[u8], m: &Message<'_>, ts: i64, out: &mut Out<'_>) {
        if self.kind == Kind::Netbios && m.header.broadcast() {
            // Answered by the name's owner, unicast, on another flow.
            let ev = NameServiceEvent {
                query: Some(*m),
                response: None,
                latency_ns: None,
                flags: Flags::default(),
                broadcast: true,
                response_from_client: false,
            };
            self.send(out, ts, &ev);
            return;
        }
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.id == m.header.id && p.dir == dir)
        {
            if let Some(old) = self.pending.remove(i) {
                self.emit(out, Some(&old), None);
            }
        }
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    self.kind.layer(),
                    "pending_table_full",
                    Cow::Owned(format!(
                        "too many unanswered {} queries; the oldest was ended",
                        self.kind.layer()
                    )),
                );
                self.emit(out, Some(&old), None);
            }
        }
        self.pending.push_back(Pending {
            ts,
            id: m.header.id,
            dir,
            len: bytes.len(),
            bytes: bytes[..bytes.len().min(MAX_KEPT)].into(),
        });
    }

    fn response(&mut self, dir: usize, m: &Message<'_>, ts: i64, out: &mut Out<'_>) {
        // A NetBIOS WACK asks the requester to wait: the final answer follows.
        let wack = self.kind == Kind::Netbios && m.header.nb_opcode() == netbios::Opcode::WACK;
        let pos = self
            .pending
            .iter()
            .position(|p| p.id == m.header.id && p.dir != dir);
        let q = match pos {
            Some(i) if !wack => self.pending.remove(i),
            _ => None,
        };
        match q {
            Some(p) => self.emit(out, Some(&p), Some((ts, dir, *m))),
            None => self.emit(out, None, Some((ts, dir, *m))),
        }
    }

    /// Emits a transaction of a kept query and/or a response.
    fn emit(&self, out: &mut Out<'_>, q: Option<&Pending>, r: Option<(i64, usize, Message<'_>)>) {
        let mut flags = Flags::default();
        let query = q.and_then(|p| {
            let mut m = Message::parse(p.bytes())?;
            if self.kind == Kind::Dns {
                m.check_rdata();
            }
            if p.len > p.bytes.len() {
                // What was cut is not missing from the wire.
                m.flags.0 &= !(Flags::TRUNCATED | Flags::TRAILING_BYTES);
                flags.0 |= Flags::QUERY_CUT;
            }
            Some(m)
        });
        let response = r.map(|(_, _, m)| m);
        if let (Some(q), Some(r)) = (&query, &response) {
            let same = match (q.question(), r.question()) {
                (Some(a), Some(b)) => {
                    a.qtype == b.qtype && a.qclass == b.qclass && a.name.eq_ignore_case(&b.name)
                }
                // A response may leave the question out (NetBIOS always does).
                (_, None) => true,
                (None, Some(_)) => false,
            };
            if !same {
                flags.0 |= Flags::QUESTION_MISMATCH;
            }
            if q.header.opcode() != r.header.opcode() {
                flags.0 |= Flags::OPCODE_MISMATCH;
            }
        }
        let ts = q.map(|p| p.ts).or(r.map(|(t, _, _)| t)).unwrap_or(out.ts);
        let latency_ns = match (q, r) {
            (Some(p), Some((t, _, _))) => Some(t - p.ts),
            _ => None,
        };
        let ev = NameServiceEvent {
            query,
            response,
            latency_ns,
            flags,
            broadcast: false,
            response_from_client: r.is_some_and(|(_, d, _)| d == plantshield_flow::TO_SERVER),
        };
        self.send(out, ts, &ev);
    }

    fn send(&self, out: &mut Out<'_>, ts: i64, ev: &NameServiceEvent<'_>) {
        match self.kind {
            Kind::Dns => out.transaction(ts, &Event::Dns(ev)),
            Kind::Netbios => out.transaction(ts, &Event::Netbios(ev)),
        }
    }
}
