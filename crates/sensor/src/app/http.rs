//! HTTP/1.x sessions (TCP 80 and 8080, and any port by content): request
//! and response heads, message framing, and pairing in order.
//!
//! Each direction is a sequence of messages: a head, then a body delimited
//! as RFC 9112 §6.3 says (Content-Length, chunked coding, or the end of the
//! connection). Bodies are skipped, never copied; a head is copied only
//! when it is split across segments (at most [`MAX_HEAD_LEN`] octets).
//! A head that is too long or not HTTP, a broken chunked body and a stream
//! gap lose the direction's framing: it is reported, and the session picks
//! up again at a segment that starts a message.
//!
//! Responses answer requests in order (RFC 9112 §9.3.2, pipelining
//! included): each request waits in a bounded queue
//! (`cfg.max_pending_transactions`, the oldest ends unanswered when it is
//! full) for the next final response; interim 1xx responses do not answer.
//! Unanswered requests end at the transaction timeout and when the flow
//! ends; a gap in the responses ends every waiting request, since what
//! the gap held cannot be told. After 101 Switching Protocols or a
//! successful CONNECT the connection no longer carries HTTP and is not
//! parsed further.
//!
//! A waiting request keeps its request line, Host and User-Agent (each line
//! cut to [`MAX_KEPT_LINE`] octets), not its whole head.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_protocols::http::{
    self, head_len, request_body, response_body, Body, ChunkStep, Chunked, Flags, RequestHead,
    ResponseHead, MAX_HEAD_LEN,
};
use plantshield_protocols::Probe;

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, Event, HttpEvent};

pub(crate) const DETECTOR: Detector = Detector {
    name: "http",
    tcp_ports: http::PORTS,
    udp_ports: &[],
    probe: http::probe,
    new: |request_dir| Box::new(HttpSession::new(request_dir)),
};

/// Octets kept of each line of a waiting request.
pub(crate) const MAX_KEPT_LINE: usize = 2048;

const LAYER: &str = "http";

/// Where a direction's parser is.
#[derive(Clone, Debug)]
enum State {
    /// Reading a head.
    Head,
    /// Skipping this many body octets.
    Body(u64),
    /// Walking a chunked body.
    Chunked(Chunked),
    /// Skipping everything (a body delimited by the close; a tunnel).
    Rest,
    /// Framing lost: waiting for a segment that starts a message.
    Lost,
}

/// A request waiting for its response.
struct Pending {
    ts: i64,
    /// Request line, Host and User-Agent, as a head.
    head: Vec<u8>,
    /// Length of the request target on the wire.
    uri_len: usize,
    /// Findings of the whole head.
    flags: Flags,
}

/// One HTTP connection.
pub(crate) struct HttpSession {
    request_dir: usize,
    state: [State; 2],
    /// A head split across segments, per direction.
    partial: [Vec<u8>; 2],
    pending: VecDeque<Pending>,
    /// The connection switched protocols.
    tunnel: bool,
    /// A gap hit the responses: waiting requests end at the next call.
    flush_pending: bool,
}

impl HttpSession {
    fn new(request_dir: usize) -> Self {
        HttpSession {
            request_dir,
            state: [State::Head, State::Head],
            partial: [Vec::new(), Vec::new()],
            pending: VecDeque::new(),
            tunnel: false,
            flush_pending: false,
        }
    }
}

impl Session for HttpSession {
    fn data(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        if self.flush_pending {
            self.flush_pending = false;
            while let Some(p) = self.pending.pop_front() {
                emit(out, Some(&p), None);
            }
        }
        self.expire(out);
        if self.tunnel {
            return;
        }
        if matches!(self.state[dir], State::Lost) {
            if http::probe(bytes, false) != Probe::Match {
                return;
            }
            self.state[dir] = State::Head;
        }
        while !bytes.is_empty() && !self.tunnel {
            if matches!(self.state[dir], State::Head) {
                match self.head(dir, bytes, out) {
                    Some(used) => bytes = &bytes[used..],
                    None => return,
                }
                continue;
            }
            match &mut self.state[dir] {
                State::Body(n) => {
                    let take = usize::try_from(*n).unwrap_or(usize::MAX).min(bytes.len());
                    *n -= take as u64;
                    if *n == 0 {
                        self.state[dir] = State::Head;
                    }
                    bytes = &bytes[take..];
                }
                State::Chunked(c) => match c.feed(bytes) {
                    ChunkStep::More => return,
                    ChunkStep::Done(n) => {
                        self.state[dir] = State::Head;
                        bytes = &bytes[n..];
                    }
                    ChunkStep::Error(_) => {
                        out.anomaly(
                            AnomalyKind::Applayer,
                            LAYER,
                            "bad_chunk",
                            Cow::Borrowed(
                                "a chunked HTTP body is not framed as chunks; skipped to the next message",
                            ),
                        );
                        self.state[dir] = State::Lost;
                        return;
                    }
                },
                State::Head | State::Rest | State::Lost => return,
            }
        }
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        self.partial[dir].clear();
        self.state[dir] = State::Lost;
        if dir != self.request_dir {
            self.flush_pending = true;
        }
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(p) = self.pending.pop_front() {
            emit(out, Some(&p), None);
        }
    }
}

impl HttpSession {
    /// Reads a head from `bytes`, after what `partial` holds. Returns the
    /// octets of `bytes` it used, or `None` when it took them all (the head
    /// goes on, or the framing was lost).
    fn head(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) -> Option<usize> {
        let old = self.partial[dir].len();
        if old == 0 {
            if let Some(n) = head_len(bytes).filter(|n| *n <= MAX_HEAD_LEN) {
                self.message(dir, &bytes[..n], out);
                return Some(n);
            }
            if bytes.len() <= MAX_HEAD_LEN {
                self.partial[dir].extend_from_slice(bytes);
                return None;
            }
            self.too_long(dir, out);
            return None;
        }
        let add = bytes.len().min(MAX_HEAD_LEN.saturating_sub(old));
        self.partial[dir].extend_from_slice(&bytes[..add]);
        match head_len(&self.partial[dir]) {
            Some(n) => {
                let head = std::mem::take(&mut self.partial[dir]);
                self.message(dir, &head[..n], out);
                self.partial[dir] = head;
                self.partial[dir].clear();
                Some(n.saturating_sub(old).min(bytes.len()))
            }
            None if add < bytes.len() || self.partial[dir].len() >= MAX_HEAD_LEN => {
                self.too_long(dir, out);
                None
            }
            None => None,
        }
    }

    fn too_long(&mut self, dir: usize, out: &mut Out<'_>) {
        self.partial[dir].clear();
        self.state[dir] = State::Lost;
        out.anomaly(
            AnomalyKind::Applayer,
            LAYER,
            "head_too_long",
            Cow::Owned(format!(
                "an HTTP {} head is longer than {MAX_HEAD_LEN} octets; skipped to the next message",
                if dir == self.request_dir {
                    "request"
                } else {
                    "response"
                }
            )),
        );
    }

    /// One complete head.
    fn message(&mut self, dir: usize, head: &[u8], out: &mut Out<'_>) {
        let now = out.ts;
        if dir == self.request_dir {
            let Some(r) = RequestHead::parse(head) else {
                self.not_http(dir, head, out);
                return;
            };
            let body = request_body(&r);
            self.request(&r, now, out);
            self.body(dir, body);
        } else {
            let Some(r) = ResponseHead::parse(head) else {
                self.not_http(dir, head, out);
                return;
            };
            if r.is_interim() {
                self.state[dir] = State::Head;
                return;
            }
            let p = self.pending.pop_front();
            let req = p.as_ref().and_then(|p| RequestHead::parse(&p.head));
            let body = response_body(&r, req.map(|q| q.method));
            emit(out, p.as_ref(), Some((now, r)));
            self.body(dir, body);
        }
    }

    fn not_http(&mut self, dir: usize, head: &[u8], out: &mut Out<'_>) {
        self.state[dir] = State::Lost;
        let what = if dir == self.request_dir {
            "invalid_request_line"
        } else {
            "invalid_status_line"
        };
        let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
        let shown = &first[..first.len().min(64)];
        out.anomaly(
            AnomalyKind::Applayer,
            LAYER,
            what,
            Cow::Owned(format!(
                "not an HTTP {} line: {:?}; skipped to the next message",
                if dir == self.request_dir {
                    "request"
                } else {
                    "status"
                },
                String::from_utf8_lossy(shown)
            )),
        );
    }

    fn body(&mut self, dir: usize, body: Body) {
        self.state[dir] = match body {
            Body::None => State::Head,
            Body::Length(n) => State::Body(n),
            Body::Chunked => State::Chunked(Chunked::default()),
            Body::UntilClose => State::Rest,
            Body::Tunnel => {
                self.tunnel = true;
                State::Rest
            }
        };
    }

    /// Queues a request.
    fn request(&mut self, r: &RequestHead<'_>, ts: i64, out: &mut Out<'_>) {
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    LAYER,
                    "pending_table_full",
                    Cow::Borrowed("too many unanswered HTTP requests; the oldest was ended"),
                );
                emit(out, Some(&old), None);
            }
        }
        let cut = |b: &[u8]| b.len().min(MAX_KEPT_LINE);
        let mut head = Vec::with_capacity(128);
        head.extend_from_slice(&r.method[..cut(r.method)]);
        head.push(b' ');
        head.extend_from_slice(&r.uri[..cut(r.uri)]);
        if let Some(v) = r.version {
            head.extend_from_slice(format!(" HTTP/{}.{}", v.0, v.1).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        for (name, value) in [("Host", r.host()), ("User-Agent", r.user_agent())] {
            if let Some(v) = value {
                head.extend_from_slice(name.as_bytes());
                head.extend_from_slice(b": ");
                head.extend_from_slice(&v[..cut(v)]);
                head.extend_from_slice(b"\r\n");
            }
        }
        head.extend_from_slice(b"\r\n");
        self.pending.push_back(Pending {
            ts,
            head,
            uri_len: r.uri.len(),
            flags: r.flags,
        });
    }

    fn expire(&mut self, out: &mut Out<'_>) {
        let (now, timeout) = (out.ts, out.cfg.transaction_timeout_ns);
        while self
            .pending
            .front()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(p) = self.pending.pop_front() {
                emit(out, Some(&p), None);
            }
        }
    }
}

/// Emits a transaction: a request and its response, or either alone.
fn emit(out: &mut Out<'_>, req: Option<&Pending>, resp: Option<(i64, ResponseHead<'_>)>) {
    let request = req.and_then(|p| {
        let mut r = RequestHead::parse(&p.head)?;
        r.flags = p.flags;
        Some(r)
    });
    let ts = req.map(|p| p.ts).or(resp.map(|(t, _)| t)).unwrap_or(out.ts);
    let ev = HttpEvent {
        request,
        uri_len: req.map_or(0, |p| p.uri_len),
        response: resp.map(|(_, r)| r),
        latency_ns: match (req, &resp) {
            (Some(p), Some((t, _))) => Some(t - p.ts),
            _ => None,
        },
    };
    out.transaction(ts, &Event::Http(&ev));
}
