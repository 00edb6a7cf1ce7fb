//! OPC UA Binary sessions (OPC 10000-6): message framing over the TCP
//! stream, secure channels, chunk joining and request/response pairing.
//!
//! - Framing: every message starts with an 8-octet header whose size
//!   covers the whole chunk. A chunk longer than [`MAX_KEPT`] is read up
//!   to that length and the rest skipped, so a huge chunk costs no memory.
//!   After a stream gap, or a header that does not hold, the session
//!   searches for the next plausible header (a known message type, chunk
//!   type and size, and for secure messages a known channel id).
//! - Connection: Hello pairs with Acknowledge (or Error).
//! - Secure channels: OpenSecureChannel requests pair with their responses
//!   (by request id when readable, else in order); the response's channel
//!   id names the channel, its policy decides whether it is readable. A
//!   channel whose security policy is not `None` is treated as encrypted:
//!   its MSG chunks are only counted (reported once per channel when the
//!   flow ends) and nothing after their security header is read.
//! - Services: chunks of one message (same request id, chunk types C then
//!   F) are joined up to [`MAX_KEPT`] octets. A request pairs with the
//!   response carrying its request id (the RequestHandles are compared and
//!   a difference flagged). Requests are kept up to
//!   [`MAX_KEPT_REQUEST`] octets while they wait. CloseSecureChannel has no
//!   response.

use std::borrow::Cow;
use std::collections::VecDeque;

use plantshield_events::{Operation, Status};
use plantshield_flow::TO_CLIENT;
use plantshield_protocols::opcua::{
    self, Chunk, ErrorMessage, Header, HeaderError, MessageType, Security, Service, ServiceId,
    HEADER_LEN, POLICY_NONE,
};

use super::{Detector, Out, Session};
use crate::event::{AnomalyKind, Event, IcsSummary, OpcuaChannel, OpcuaEvent, OpcuaKind};

pub(crate) const DETECTOR: Detector = Detector {
    name: "opcua",
    tcp_ports: &[opcua::PORT],
    udp_ports: &[],
    probe: opcua::probe,
    new: |request_dir| {
        Box::new(OpcuaSession {
            request_dir,
            ..OpcuaSession::default()
        })
    },
};

const LAYER: &str = "opcua";

/// Octets of one chunk (or of one message's joined chunks) kept for
/// decoding; the rest is skipped.
pub(crate) const MAX_KEPT: usize = 64 * 1024;
/// Octets of a request body kept while it waits for its response.
pub(crate) const MAX_KEPT_REQUEST: usize = 4096;
/// Secure channels remembered per connection.
const MAX_CHANNELS: usize = 8;
/// Largest chunk size believed when searching for a header after a gap.
const MAX_RESYNC_SIZE: u32 = 16 << 20;

#[derive(Default)]
struct Dir {
    /// The start of a message split across segments (at most its first
    /// [`MAX_KEPT`] octets).
    partial: Vec<u8>,
    /// Size of the message in `partial` (0: none).
    want: usize,
    /// Octets still to skip of a message longer than [`MAX_KEPT`].
    skip: usize,
    /// Framing lost: search for the next header.
    resync: bool,
    /// Chunks of a message being joined: request id, chunks, body, flags.
    assembly: Option<(u32, u32, Vec<u8>, u32)>,
}

struct Channel {
    id: u32,
    policy: Option<Vec<u8>>,
    encrypted: bool,
    /// Seen only through its messages (its OPN was not captured).
    unknown: bool,
    msgs: [u64; 2],
}

/// A request waiting for its response.
struct Pending {
    ts: i64,
    kind: OpcuaKind,
    channel: u32,
    request_id: Option<u32>,
    chunks: u32,
    /// The message (Hello, OPN chunk) or the service body, bounded.
    bytes: Vec<u8>,
    flags: opcua::Flags,
}

/// One OPC UA connection.
#[derive(Default)]
pub(crate) struct OpcuaSession {
    dirs: [Dir; 2],
    channels: Vec<Channel>,
    pending: VecDeque<Pending>,
    /// The flow direction carrying the client's messages.
    request_dir: usize,
    /// Set once the first message showed who the client is.
    oriented: bool,
}

impl Session for OpcuaSession {
    fn data(&mut self, dir: usize, bytes: &[u8], out: &mut Out<'_>) {
        self.stream(dir, bytes, out);
    }

    fn gap(&mut self, dir: usize, _len: u64) {
        let d = &mut self.dirs[dir];
        d.partial.clear();
        d.want = 0;
        d.skip = 0;
        d.resync = true;
        d.assembly = None;
    }

    fn finish(&mut self, out: &mut Out<'_>) {
        while let Some(p) = self.pending.pop_front() {
            self.emit_pending(p, None, out);
        }
        for c in std::mem::take(&mut self.channels) {
            if c.encrypted && c.msgs != [0, 0] {
                let ev = OpcuaEvent {
                    kind: OpcuaKind::Encrypted,
                    channel: Some(OpcuaChannel {
                        id: c.id,
                        policy_uri: c.policy.as_deref(),
                        encrypted: true,
                        request_id: None,
                    }),
                    encrypted_messages: Some((c.msgs[0], c.msgs[1])),
                    flags: opcua::Flags(if c.unknown {
                        opcua::Flags::UNKNOWN_CHANNEL
                    } else {
                        0
                    }),
                    ..empty()
                };
                out.transaction(out.ts, &Event::Opcua(&ev));
            }
        }
    }
}

fn empty<'a>() -> OpcuaEvent<'a> {
    OpcuaEvent {
        kind: OpcuaKind::Service,
        hello: None,
        acknowledge: None,
        error: None,
        channel: None,
        request: None,
        response: None,
        chunks: (0, 0),
        encrypted_messages: None,
        request_missing: false,
        response_missing: false,
        latency_ns: None,
        flags: opcua::Flags::default(),
        ics: None,
    }
}

fn bounded(b: &[u8], max: usize) -> Vec<u8> {
    b[..b.len().min(max)].to_vec()
}

impl OpcuaSession {
    fn stream(&mut self, dir: usize, mut bytes: &[u8], out: &mut Out<'_>) {
        while !bytes.is_empty() {
            let d = &mut self.dirs[dir];
            if d.skip > 0 {
                let n = d.skip.min(bytes.len());
                d.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            if d.resync {
                match self.resync_point(bytes) {
                    Some(i) => {
                        self.dirs[dir].resync = false;
                        bytes = &bytes[i..];
                    }
                    None => return,
                }
                continue;
            }
            let d = &mut self.dirs[dir];
            if d.want > 0 || !d.partial.is_empty() {
                // Complete the header, then the message (up to MAX_KEPT).
                if d.partial.len() < HEADER_LEN {
                    let n = (HEADER_LEN - d.partial.len()).min(bytes.len());
                    d.partial.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if d.partial.len() < HEADER_LEN {
                        return;
                    }
                    match Header::parse(&d.partial) {
                        Ok(h) => d.want = h.size as usize,
                        Err(e) => {
                            d.partial.clear();
                            d.want = 0;
                            d.resync = true;
                            self.bad_header(e, out);
                            continue;
                        }
                    }
                }
                let d = &mut self.dirs[dir];
                let keep = d.want.min(MAX_KEPT);
                let n = keep.saturating_sub(d.partial.len()).min(bytes.len());
                d.partial.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if d.partial.len() < keep {
                    return;
                }
                let cut = d.want > keep;
                d.skip = d.want - keep;
                d.want = 0;
                let msg = std::mem::take(&mut self.dirs[dir].partial);
                self.message(dir, &msg, cut, out);
                let mut msg = msg;
                msg.clear();
                self.dirs[dir].partial = msg;
                continue;
            }
            match Header::parse(bytes) {
                Ok(h) => {
                    let size = h.size as usize;
                    if bytes.len() >= size {
                        let (m, rest) = bytes.split_at(size);
                        if size > MAX_KEPT {
                            self.message(dir, &m[..MAX_KEPT], true, out);
                        } else {
                            self.message(dir, m, false, out);
                        }
                        bytes = rest;
                    } else {
                        let d = &mut self.dirs[dir];
                        d.want = size;
                        let n = bytes.len().min(MAX_KEPT);
                        d.partial.extend_from_slice(&bytes[..n]);
                        if bytes.len() > MAX_KEPT {
                            // More than we keep already arrived: the rest of it is skipped.
                            d.skip = size - bytes.len();
                            d.want = 0;
                            let msg = std::mem::take(&mut d.partial);
                            self.message(dir, &msg, true, out);
                        }
                        return;
                    }
                }
                Err(HeaderError::Incomplete) => {
                    self.dirs[dir].partial.extend_from_slice(bytes);
                    return;
                }
                Err(e) => {
                    self.bad_header(e, out);
                    self.dirs[dir].resync = true;
                }
            }
        }
    }

    fn bad_header(&mut self, e: HeaderError, out: &mut Out<'_>) {
        let msg = match e {
            HeaderError::MessageType => Cow::Borrowed("not an OPC UA message type"),
            HeaderError::ChunkType(c) => Cow::Owned(format!("OPC UA chunk type 0x{c:02x}")),
            HeaderError::Size(s) => Cow::Owned(format!("OPC UA message size {s}")),
            HeaderError::Incomplete => Cow::Borrowed("OPC UA header incomplete"),
        };
        out.anomaly(AnomalyKind::Applayer, LAYER, "invalid_header", msg);
    }

    /// Where the next plausible message starts in `b`.
    fn resync_point(&self, b: &[u8]) -> Option<usize> {
        (0..b.len().saturating_sub(HEADER_LEN - 1)).find(|&i| {
            let Ok(h) = Header::parse(&b[i..]) else {
                return false;
            };
            if h.size > MAX_RESYNC_SIZE {
                return false;
            }
            if !h.message_type.is_secure() || self.channels.is_empty() {
                return true;
            }
            let id = b
                .get(i + HEADER_LEN..i + HEADER_LEN + 4)
                .map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]));
            // An OPN may open a new channel (id 0).
            id.is_some_and(|id| {
                self.channels.iter().any(|c| c.id == id)
                    || (h.message_type == MessageType::Open && id == 0)
            })
        })
    }

    /// Sets which flow direction is the client's from the first message.
    fn orient(&mut self, dir: usize, from_client: bool, out: &mut Out<'_>) {
        if self.oriented {
            return;
        }
        self.oriented = true;
        let client_dir = if from_client { dir } else { 1 - dir };
        self.request_dir = client_dir;
        *out.reverse = client_dir == TO_CLIENT;
    }

    fn channel(&mut self, id: u32) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|c| c.id == id)
    }

    fn add_channel(&mut self, c: Channel) {
        self.channels.retain(|x| x.id != c.id);
        if self.channels.len() >= MAX_CHANNELS {
            self.channels.remove(0);
        }
        self.channels.push(c);
    }

    fn push_pending(&mut self, p: Pending, out: &mut Out<'_>) {
        let now = out.ts;
        let timeout = out.cfg.transaction_timeout_ns;
        while self
            .pending
            .front()
            .is_some_and(|p| now.saturating_sub(p.ts) > timeout)
        {
            if let Some(old) = self.pending.pop_front() {
                self.emit_pending(old, None, out);
            }
        }
        if self.pending.len() >= out.cfg.max_pending_transactions.max(1) {
            if let Some(old) = self.pending.pop_front() {
                out.anomaly(
                    AnomalyKind::Resource,
                    LAYER,
                    "pending_table_full",
                    Cow::Borrowed("too many unanswered OPC UA requests; the oldest was ended"),
                );
                self.emit_pending(old, None, out);
            }
        }
        self.pending.push_back(p);
    }

    /// One whole message (or its first [`MAX_KEPT`] octets when `cut`).
    fn message(&mut self, dir: usize, m: &[u8], cut: bool, out: &mut Out<'_>) {
        let Ok(h) = Header::parse(m) else {
            return;
        };
        let body = &m[HEADER_LEN..];
        let mut flags = opcua::Flags::default();
        if cut {
            flags.0 |= opcua::Flags::CHUNK_TRUNCATED;
        }
        match h.message_type {
            MessageType::Hello => {
                self.orient(dir, true, out);
                self.push_pending(
                    Pending {
                        ts: out.ts,
                        kind: OpcuaKind::Connection,
                        channel: 0,
                        request_id: None,
                        chunks: 1,
                        bytes: bounded(body, MAX_KEPT_REQUEST),
                        flags,
                    },
                    out,
                );
            }
            MessageType::Acknowledge | MessageType::Error => {
                self.orient(dir, false, out);
                let hello = self
                    .pending
                    .iter()
                    .position(|p| p.kind == OpcuaKind::Connection)
                    .and_then(|i| self.pending.remove(i));
                match hello {
                    Some(p) => self.emit_pending(p, Some((h, body, flags)), out),
                    None => self.lone(h, body, flags, out),
                }
            }
            MessageType::ReverseHello => {
                self.orient(dir, false, out);
                self.lone(h, body, flags, out);
            }
            MessageType::Open => self.open(dir, m, flags, out),
            MessageType::Close | MessageType::Message => self.secure(dir, m, flags, out),
        }
    }

    /// A message with no counterpart (ACK or ERR without Hello, RHE).
    fn lone(&mut self, h: Header, body: &[u8], flags: opcua::Flags, out: &mut Out<'_>) {
        let t = h.message_type;
        let error = (t == MessageType::Error)
            .then(|| ErrorMessage::parse(body))
            .flatten();
        let ev = OpcuaEvent {
            kind: if t == MessageType::Error {
                OpcuaKind::Error
            } else {
                OpcuaKind::Connection
            },
            acknowledge: (t == MessageType::Acknowledge)
                .then(|| opcua::Acknowledge::parse(body))
                .flatten(),
            error,
            request_missing: t != MessageType::ReverseHello,
            flags,
            ics: Some(IcsSummary {
                function_code: if t == MessageType::Acknowledge {
                    MessageType::Hello.number()
                } else {
                    t.number()
                },
                function: match t {
                    MessageType::Error => "error",
                    MessageType::ReverseHello => "reverse_hello",
                    _ => "hello",
                },
                operation: Operation::Session,
                status: if error.is_some() {
                    Status::Exception
                } else {
                    Status::Ok
                },
                exception_code: error.map(|e| e.error),
            }),
            ..empty()
        };
        out.transaction(out.ts, &Event::Opcua(&ev));
    }

    fn open(&mut self, dir: usize, m: &[u8], mut flags: opcua::Flags, out: &mut Out<'_>) {
        let Some(chunk) = Chunk::parse(m) else {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "malformed_message",
                Cow::Borrowed("OpenSecureChannel chunk too short for its security header"),
            );
            return;
        };
        let Security::Asymmetric { policy_uri, .. } = chunk.security else {
            return;
        };
        let plain = policy_uri == Some(POLICY_NONE);
        let seq = if plain { chunk.sequence() } else { None };
        let service = seq.and_then(|(_, _, body)| Service::parse(body));
        let is_response = match service.and_then(|s| s.id) {
            Some(id) => id.is_response(),
            // Encrypted: the client opens (channel id 0 for a new channel,
            // or the channel it renews); the first OPN on a connection is
            // the client's.
            None => {
                if self.oriented {
                    dir != self.request_dir
                } else {
                    false
                }
            }
        };
        self.orient(dir, !is_response, out);
        if chunk.header.chunk_type != b'F' {
            flags.0 |= opcua::Flags::ABORTED;
        }
        let request_id = seq.map(|s| s.1);
        if !is_response {
            self.push_pending(
                Pending {
                    ts: out.ts,
                    kind: OpcuaKind::OpenSecureChannel,
                    channel: chunk.channel_id,
                    request_id,
                    chunks: 1,
                    bytes: bounded(m, MAX_KEPT_REQUEST),
                    flags,
                },
                out,
            );
            return;
        }
        // The response names the channel.
        self.add_channel(Channel {
            id: chunk.channel_id,
            policy: policy_uri.map(|p| bounded(p, opcua::MAX_STRING)),
            encrypted: !plain,
            unknown: false,
            msgs: [0, 0],
        });
        let pos = self.pending.iter().position(|p| {
            p.kind == OpcuaKind::OpenSecureChannel
                && (request_id.is_none() || p.request_id.is_none() || p.request_id == request_id)
        });
        match pos.and_then(|i| self.pending.remove(i)) {
            Some(p) => self.emit_pending(p, Some((chunk.header, m, flags)), out),
            None => {
                let ev = OpcuaEvent {
                    kind: OpcuaKind::OpenSecureChannel,
                    channel: Some(OpcuaChannel {
                        id: chunk.channel_id,
                        policy_uri,
                        encrypted: !plain,
                        request_id,
                    }),
                    response: service,
                    chunks: (0, 1),
                    request_missing: true,
                    flags,
                    ics: Some(service_ics(
                        ServiceId::OPEN_SECURE_CHANNEL_REQUEST,
                        None,
                        service.as_ref(),
                    )),
                    ..empty()
                };
                out.transaction(out.ts, &Event::Opcua(&ev));
            }
        }
    }

    /// MSG and CLO chunks.
    fn secure(&mut self, dir: usize, m: &[u8], mut flags: opcua::Flags, out: &mut Out<'_>) {
        let Some(chunk) = Chunk::parse(m) else {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "malformed_message",
                Cow::Borrowed("OPC UA chunk too short for its security header"),
            );
            return;
        };
        let is_close = chunk.header.message_type == MessageType::Close;
        let known = self.channel(chunk.channel_id).map(|c| c.encrypted);
        let plain_body = chunk
            .sequence()
            .and_then(|(_, req, body)| Some((req, body, Service::parse(body)?)))
            .filter(|(_, _, s)| s.id.is_some_and(|i| i.is_request() || i.is_response()));
        let encrypted = match known {
            Some(e) => e,
            None => {
                // A channel opened before the capture: readable if its
                // body starts with a known service type.
                flags.0 |= opcua::Flags::UNKNOWN_CHANNEL;
                let enc = plain_body.is_none();
                self.add_channel(Channel {
                    id: chunk.channel_id,
                    policy: None,
                    encrypted: enc,
                    unknown: true,
                    msgs: [0, 0],
                });
                enc
            }
        };
        if encrypted {
            let side = usize::from(dir != self.request_dir);
            if let Some(c) = self.channel(chunk.channel_id) {
                c.msgs[side] += u64::from(!is_close);
            }
            if is_close {
                let policy = self
                    .channels
                    .iter()
                    .find(|c| c.id == chunk.channel_id)
                    .and_then(|c| c.policy.clone());
                let ev = OpcuaEvent {
                    kind: OpcuaKind::CloseSecureChannel,
                    channel: Some(OpcuaChannel {
                        id: chunk.channel_id,
                        policy_uri: policy.as_deref(),
                        encrypted: true,
                        request_id: None,
                    }),
                    chunks: (1, 0),
                    flags,
                    ics: Some(service_ics(
                        ServiceId::CLOSE_SECURE_CHANNEL_REQUEST,
                        None,
                        None,
                    )),
                    ..empty()
                };
                out.transaction(out.ts, &Event::Opcua(&ev));
            }
            return;
        }
        let Some((_, request_id, _)) = chunk.sequence() else {
            out.anomaly(
                AnomalyKind::Applayer,
                LAYER,
                "malformed_message",
                Cow::Borrowed("OPC UA chunk too short for its sequence header"),
            );
            return;
        };
        let Some((_, _, body)) = chunk.sequence() else {
            return;
        };
        // Join chunks: C chunks gather, F completes, A aborts.
        let d = &mut self.dirs[dir];
        let (body_owned, chunks) = match chunk.header.chunk_type {
            b'C' => {
                match &mut d.assembly {
                    Some((id, n, buf, f)) if *id == request_id => {
                        *n += 1;
                        let room = MAX_KEPT.saturating_sub(buf.len());
                        if body.len() > room {
                            *f |= opcua::Flags::CHUNKS_INCOMPLETE;
                        }
                        buf.extend_from_slice(&body[..body.len().min(room)]);
                        *f |= flags.0;
                    }
                    _ => {
                        // Another message's chunks were left unfinished.
                        if d.assembly.is_some() {
                            flags.0 |= opcua::Flags::CHUNKS_INCOMPLETE;
                        }
                        d.assembly = Some((request_id, 1, bounded(body, MAX_KEPT), flags.0));
                    }
                }
                return;
            }
            b'A' => {
                d.assembly = None;
                flags.0 |= opcua::Flags::ABORTED;
                (None, 1)
            }
            _ => match d.assembly.take() {
                Some((id, n, mut buf, f)) if id == request_id => {
                    flags.0 |= f;
                    let room = MAX_KEPT.saturating_sub(buf.len());
                    if body.len() > room {
                        flags.0 |= opcua::Flags::CHUNKS_INCOMPLETE;
                    }
                    buf.extend_from_slice(&body[..body.len().min(room)]);
                    (Some(buf), n + 1)
                }
                other => {
                    if other.is_some() {
                        flags.0 |= opcua::Flags::CHUNKS_INCOMPLETE;
                    }
                    (None, 1)
                }
            },
        };
        let body: &[u8] = body_owned.as_deref().unwrap_or(body);
        let service = Service::parse(body);
        let id = service.and_then(|s| s.id);
        let is_response = id.is_some_and(|i| i.is_response());
        let from_client = match id {
            Some(i) if i.is_request() => true,
            Some(_) => false,
            None => !self.oriented || dir == self.request_dir,
        };
        self.orient(dir, from_client && !is_response, out);
        if service.is_some_and(|s| s.malformed) {
            flags.0 |= opcua::Flags::MALFORMED_BODY;
        }
        if is_close {
            let ev = OpcuaEvent {
                kind: OpcuaKind::CloseSecureChannel,
                channel: Some(self.channel_view(chunk.channel_id, Some(request_id))),
                request: service,
                chunks: (chunks, 0),
                flags,
                ics: Some(service_ics(
                    ServiceId::CLOSE_SECURE_CHANNEL_REQUEST,
                    service.as_ref(),
                    None,
                )),
                ..empty()
            };
            out.transaction(out.ts, &Event::Opcua(&ev));
            return;
        }
        if !is_response {
            self.push_pending(
                Pending {
                    ts: out.ts,
                    kind: OpcuaKind::Service,
                    channel: chunk.channel_id,
                    request_id: Some(request_id),
                    chunks,
                    bytes: bounded(body, MAX_KEPT_REQUEST),
                    flags,
                },
                out,
            );
            return;
        }
        let pos = self.pending.iter().position(|p| {
            p.kind == OpcuaKind::Service
                && p.channel == chunk.channel_id
                && p.request_id == Some(request_id)
        });
        match pos.and_then(|i| self.pending.remove(i)) {
            Some(p) => self.emit_service(p, Some((body, chunks, flags)), out),
            None => {
                let ev = OpcuaEvent {
                    kind: OpcuaKind::Service,
                    channel: Some(self.channel_view(chunk.channel_id, Some(request_id))),
                    response: service,
                    chunks: (0, chunks),
                    request_missing: true,
                    flags,
                    ics: Some(service_ics(
                        id.and_then(|i| i.request())
                            .unwrap_or(ServiceId(id.map_or(0, |i| i.0))),
                        None,
                        service.as_ref(),
                    )),
                    ..empty()
                };
                out.transaction(out.ts, &Event::Opcua(&ev));
            }
        }
    }

    fn channel_view(&self, id: u32, request_id: Option<u32>) -> OpcuaChannel<'_> {
        let c = self.channels.iter().find(|c| c.id == id);
        OpcuaChannel {
            id,
            policy_uri: c.and_then(|c| c.policy.as_deref()),
            encrypted: c.is_some_and(|c| c.encrypted),
            request_id,
        }
    }

    /// Ends a pending exchange with its answer (`None`: no response).
    fn emit_pending(
        &mut self,
        p: Pending,
        answer: Option<(Header, &[u8], opcua::Flags)>,
        out: &mut Out<'_>,
    ) {
        match p.kind {
            OpcuaKind::Connection => {
                let hello = opcua::Hello::parse(&p.bytes);
                let (ack, error, rflags) = match answer {
                    Some((h, body, f)) if h.message_type == MessageType::Acknowledge => {
                        (opcua::Acknowledge::parse(body), None, f)
                    }
                    Some((_, body, f)) => (None, ErrorMessage::parse(body), f),
                    None => (None, None, opcua::Flags::default()),
                };
                let status = if error.is_some() {
                    Status::Exception
                } else if answer.is_none() {
                    Status::NoResponse
                } else {
                    Status::Ok
                };
                let ev = OpcuaEvent {
                    kind: OpcuaKind::Connection,
                    hello,
                    acknowledge: ack,
                    error,
                    response_missing: answer.is_none(),
                    latency_ns: answer.map(|_| out.ts - p.ts),
                    flags: opcua::Flags(p.flags.0 | rflags.0),
                    ics: Some(IcsSummary {
                        function_code: MessageType::Hello.number(),
                        function: "hello",
                        operation: Operation::Session,
                        status,
                        exception_code: error.map(|e| e.error),
                    }),
                    ..empty()
                };
                out.transaction(p.ts, &Event::Opcua(&ev));
            }
            OpcuaKind::OpenSecureChannel => {
                let req = Chunk::parse(&p.bytes);
                let policy_uri = req.and_then(|c| match c.security {
                    Security::Asymmetric { policy_uri, .. } => policy_uri,
                    _ => None,
                });
                let plain = policy_uri == Some(POLICY_NONE);
                let req_service = req
                    .filter(|_| plain)
                    .and_then(|c| c.sequence())
                    .and_then(|(_, _, b)| Service::parse(b));
                let resp = answer.and_then(|(_, m, _)| Chunk::parse(m));
                let resp_service = resp
                    .filter(|_| plain)
                    .and_then(|c| c.sequence())
                    .and_then(|(_, _, b)| Service::parse(b));
                let channel_id = resp.map_or(p.channel, |c| c.channel_id);
                let ev = OpcuaEvent {
                    kind: OpcuaKind::OpenSecureChannel,
                    channel: Some(OpcuaChannel {
                        id: channel_id,
                        policy_uri,
                        encrypted: !plain,
                        request_id: p.request_id,
                    }),
                    request: req_service,
                    response: resp_service,
                    chunks: (1, u32::from(answer.is_some())),
                    response_missing: answer.is_none(),
                    latency_ns: answer.map(|_| out.ts - p.ts),
                    flags: opcua::Flags(p.flags.0 | answer.map_or(0, |a| a.2 .0)),
                    ics: Some(service_ics_status(
                        ServiceId::OPEN_SECURE_CHANNEL_REQUEST,
                        req_service.as_ref(),
                        resp_service.as_ref(),
                        answer.is_some(),
                    )),
                    ..empty()
                };
                out.transaction(p.ts, &Event::Opcua(&ev));
            }
            _ => self.emit_service(p, None, out),
        }
    }

    fn emit_service(
        &mut self,
        p: Pending,
        answer: Option<(&[u8], u32, opcua::Flags)>,
        out: &mut Out<'_>,
    ) {
        let request = Service::parse(&p.bytes);
        let response = answer.and_then(|(b, _, _)| Service::parse(b));
        let mut flags = opcua::Flags(p.flags.0 | answer.map_or(0, |a| a.2 .0));
        if let (Some(q), Some(r)) = (&request, &response) {
            if let (Some(qh), Some(rh)) = (q.request_header, r.response_header) {
                if qh.request_handle != rh.request_handle {
                    flags.0 |= opcua::Flags::REQUEST_HANDLE_MISMATCH;
                }
            }
            let (qi, ri) = (q.id, r.id);
            if ri != Some(ServiceId::SERVICE_FAULT)
                && ri.and_then(|i| i.request()) != qi.and_then(|i| i.request())
            {
                flags.0 |= opcua::Flags::SERVICE_MISMATCH;
            }
        }
        if response.is_some_and(|r| r.malformed) {
            flags.0 |= opcua::Flags::MALFORMED_BODY;
        }
        let id = request
            .and_then(|s| s.id)
            .or(response.and_then(|s| s.id.and_then(|i| i.request())))
            .unwrap_or(ServiceId(0));
        let ev = OpcuaEvent {
            kind: OpcuaKind::Service,
            channel: Some(self.channel_view(p.channel, p.request_id)),
            request,
            response,
            chunks: (p.chunks, answer.map_or(0, |a| a.1)),
            response_missing: answer.is_none(),
            latency_ns: answer.map(|_| out.ts - p.ts),
            flags,
            ics: Some(service_ics_status(
                id,
                request.as_ref(),
                response.as_ref(),
                answer.is_some(),
            )),
            ..empty()
        };
        out.transaction(p.ts, &Event::Opcua(&ev));
    }
}

/// `ics` of a service exchange seen on one side only.
fn service_ics(
    id: ServiceId,
    request: Option<&Service<'_>>,
    response: Option<&Service<'_>>,
) -> IcsSummary {
    let mut s = service_ics_status(id, request, response, response.is_some());
    if request.is_none() && response.is_none() {
        s.status = Status::Ok;
    }
    if response.is_none() && id == ServiceId::CLOSE_SECURE_CHANNEL_REQUEST {
        s.status = Status::Ok;
    }
    s
}

fn service_ics_status(
    id: ServiceId,
    request: Option<&Service<'_>>,
    response: Option<&Service<'_>>,
    answered: bool,
) -> IcsSummary {
    let result = response.and_then(|r| r.response_header.map(|h| h.service_result));
    let fault = response.is_some_and(|r| r.id == Some(ServiceId::SERVICE_FAULT));
    let malformed = request.is_some_and(|r| r.malformed) || response.is_some_and(|r| r.malformed);
    let status = if malformed {
        Status::Malformed
    } else if fault || result.is_some_and(opcua::status_is_bad) {
        Status::Exception
    } else if !answered {
        Status::NoResponse
    } else {
        Status::Ok
    };
    IcsSummary {
        function_code: id.0,
        function: id.name(),
        operation: id.operation(),
        status,
        exception_code: result.filter(|r| *r != 0),
    }
}
