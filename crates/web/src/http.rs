//! A small HTTP/1.1 server over rustls: one thread per connection (with a
//! cap), keep-alive, `Content-Length` bodies only, bounded header and body
//! sizes, timeouts. Enough for an API and a single-page UI on a plant
//! network, with a dependency footprint of `httparse` alone.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// Largest request head (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body (a policy upload).
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Idle time before a kept-alive connection is closed.
pub const IDLE: Duration = Duration::from_secs(30);

/// A request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, upper case.
    pub method: String,
    /// Path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers (names lower case).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Peer address.
    pub remote: IpAddr,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// A query parameter (the first of that name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a streaming response writes: it gets the connection and returns
/// when the stream ends (the connection is then closed).
pub type Streamer = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// A response body.
pub enum Body {
    /// All at once.
    Bytes(Vec<u8>),
    /// Written as it comes (server-sent events).
    Stream(Streamer),
}

/// A response.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers besides the ones every response gets.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
}

impl Response {
    /// A response with a body of `content_type`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body.into()),
        }
    }

    /// JSON.
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Response::new(status, "application/json", v.to_string())
    }

    /// An error as `{"error": code, "message": text}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Response::json(
            status,
            &serde_json::json!({"error": code, "message": message}),
        )
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Headers every response carries.
const SECURITY_HEADERS: &str = "Strict-Transport-Security: max-age=31536000\r\n\
X-Content-Type-Options: nosniff\r\n\
X-Frame-Options: DENY\r\n\
Referrer-Policy: no-referrer\r\n\
Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'\r\n";

/// Decodes `%XX` escapes (and `+` as space when `plus`); `None` when the
/// result is not UTF-8.
pub fn percent_decode(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn parse_query(q: &str) -> Option<Vec<(String, String)>> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

/// Why a request could not be read.
enum ReadError {
    /// The peer closed or went idle: close quietly.
    Closed,
    /// Answer with this status, then close.
    Bad(u16, &'static str),
}

fn read_request<S: Read>(
    s: &mut S,
    buf: &mut Vec<u8>,
    remote: IpAddr,
) -> Result<Request, ReadError> {
    let mut chunk = [0u8; 8192];
    let head_len = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Bad(431, "request head too large"));
        }
        match s.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        }
    };
    let mut hdrs = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut hdrs);
    match req.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(ReadError::Bad(400, "malformed request")),
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("/");
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if headers.iter().any(|(k, _)| k == "transfer-encoding") {
        return Err(ReadError::Bad(
            411,
            "chunked bodies are not accepted; send Content-Length",
        ));
    }
    let len = match headers.iter().find(|(k, _)| k == "content-length") {
        Some((_, v)) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| ReadError::Bad(400, "bad Content-Length"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(ReadError::Bad(413, "request body too large"));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(raw_path, false).ok_or(ReadError::Bad(400, "bad path encoding"))?;
    let query = parse_query(raw_query).ok_or(ReadError::Bad(400, "bad query encoding"))?;
    buf.drain(..head_len);
    while buf.len() < len {
        match s.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        }
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    Ok(Request {
        method,
        path,
        query,
        headers,
        body,
        remote,
    })
}

fn write_head<W: Write>(w: &mut W, r: &Response, len: Option<usize>, keep: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n{SECURITY_HEADERS}",
        r.status,
        reason(r.status)
    );
    for (k, v) in &r.headers {
        // Header values never carry line breaks.
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = len {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str(if keep {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    w.write_all(head.as_bytes())
}

/// The request handler.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: &Request) -> Response;
}

fn serve_connection<H: Handler>(tcp: TcpStream, tls: Arc<ServerConfig>, h: &H) {
    let remote = match tcp.peer_addr() {
        Ok(a) => a.ip(),
        Err(_) => return,
    };
    let _ = tcp.set_read_timeout(Some(IDLE));
    let _ = tcp.set_write_timeout(Some(IDLE));
    let _ = tcp.set_nodelay(true);
    let Ok(conn) = ServerConnection::new(tls) else {
        return;
    };
    let mut s = StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut s, &mut buf, remote) {
            Ok(r) => r,
            Err(ReadError::Closed) => break,
            Err(ReadError::Bad(status, msg)) => {
                let r = Response::error(status, "bad_request", msg);
                if let Body::Bytes(b) = &r.body {
                    let _ = write_head(&mut s, &r, Some(b.len()), false)
                        .and_then(|_| s.write_all(b))
                        .and_then(|_| s.flush());
                }
                break;
            }
        };
        let keep = !req
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let resp = h.handle(&req);
        let head_only = req.method == "HEAD";
        let ok = match resp.body {
            Body::Bytes(ref b) => write_head(&mut s, &resp, Some(b.len()), keep)
                .and_then(|_| if head_only { Ok(()) } else { s.write_all(b) })
                .and_then(|_| s.flush())
                .is_ok(),
            Body::Stream(_) => {
                let r = write_head(&mut s, &resp, None, false).and_then(|_| s.flush());
                if r.is_ok() {
                    if let Body::Stream(f) = resp.body {
                        let _ = s.sock.set_read_timeout(None);
                        let _ = f(&mut s);
                    }
                }
                false
            }
        };
        if !ok || !keep {
            break;
        }
    }
    s.conn.send_close_notify();
    let _ = s.flush();
}

/// Accepts connections on `listener` forever, one thread each.
pub fn run<H: Handler>(listener: TcpListener, tls: Arc<ServerConfig>, handler: Arc<H>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(tcp) = stream else { continue };
        if active.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            drop(tcp);
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (tls, h, count) = (tls.clone(), handler.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("plantshield-http".into())
            .spawn(move || {
                serve_connection(tcp, tls, &*h);
                count.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            // The closure, and its decrement, never ran.
            active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(percent_decode("a%20b+c", true).as_deref(), Some("a b c"));
        assert_eq!(percent_decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%zz", true), None);
        assert_eq!(percent_decode("%4", true).as_deref(), Some("%4"));
        assert_eq!(percent_decode("%ff", true), None);
    }

    #[test]
    fn reads_pipelined_requests() {
        let raw = b"GET /a?x=1&y=%41 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n";
        let mut src = &raw[..];
        let mut buf = Vec::new();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let r = read_request(&mut src, &mut buf, ip).ok().unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/a"));
        assert_eq!(r.param("y"), Some("A"));
        assert_eq!(r.body, b"hi");
        let r = read_request(&mut src, &mut buf, ip).ok().unwrap();
        assert_eq!(r.path, "/b");
    }
}
