//! Running `plantshield serve` in tests: the real binary on 127.0.0.1 with
//! an ephemeral port and a temporary data directory, and a small HTTPS
//! client that trusts the server's self-signed certificate (read from the
//! data directory) and nothing else.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A running server.
pub struct Server {
    child: Child,
    pub port: u16,
    pub data: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
    tls: Arc<rustls::ClientConfig>,
}

impl Server {
    /// Starts `plantshield serve --data DATA --listen 127.0.0.1:0 --read R...`
    /// and waits until it listens.
    pub fn start(data: &Path, reads: &[&Path], extra: &[&str]) -> Server {
        let mut cmd = Command::new(crate::common::bin());
        cmd.arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("PLANTSHIELD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for r in reads {
            cmd.arg("--read").arg(r);
        }
        let mut child = cmd.spawn().expect("start plantshield serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving https://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                l2.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", log.lock().unwrap()));
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(data.join("tls-cert.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Server {
            child,
            port,
            data: data.to_path_buf(),
            log,
            tls: Arc::new(tls),
        }
    }

    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL: the store must survive it).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends one request (a fresh TLS connection each, `Connection: close`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.tls.clone(), name).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        s.write_all(req.as_bytes()).unwrap();
        s.flush().unwrap();
        let mut raw = Vec::new();
        // The server closes after the response; an unclean close after a
        // complete response is fine.
        let _ = s.read_to_end(&mut raw);
        parse(&raw)
    }

    pub fn get(&self, path: &str, session: Option<&Session>) -> Resp {
        let cookie = session.map(|s| format!("plantshield_session={}", s.cookie));
        let mut h = Vec::new();
        if let Some(c) = &cookie {
            h.push(("Cookie", c.as_str()));
        }
        self.request("GET", path, &h, None)
    }

    /// A state-changing request with the session's cookie and CSRF token.
    pub fn send(&self, method: &str, path: &str, s: &Session, body: &Value) -> Resp {
        let cookie = format!("plantshield_session={}", s.cookie);
        self.request(
            method,
            path,
            &[("Cookie", &cookie), ("X-CSRF-Token", &s.csrf)],
            Some(body),
        )
    }

    /// Opens the live stream and returns what it sent up to its first event.
    pub fn get_stream_first_event(&self, session: &Session) -> String {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.tls.clone(), name).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let req = format!(
            "GET /api/stream HTTP/1.1\r\nHost: localhost\r\nCookie: plantshield_session={}\r\n\r\n",
            session.cookie
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let t = String::from_utf8_lossy(&got);
            if let Some(i) = t.find("event: update") {
                if t[i..].contains("\n\n") {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    pub fn login(&self, user: &str, password: &str) -> Result<Session, Resp> {
        let r = self.request(
            "POST",
            "/api/session",
            &[],
            Some(&serde_json::json!({"username": user, "password": password})),
        );
        if r.status != 200 {
            return Err(r);
        }
        let set = r.header("set-cookie").expect("Set-Cookie").to_string();
        let cookie = set
            .split(';')
            .next()
            .unwrap()
            .strip_prefix("plantshield_session=")
            .unwrap()
            .to_string();
        Ok(Session {
            cookie,
            set_cookie: set,
            csrf: r.json()["csrf_token"].as_str().unwrap().to_string(),
            role: r.json()["role"].as_str().unwrap().to_string(),
        })
    }

    pub fn admin(&self) -> Session {
        self.login("admin", ADMIN_PASSWORD)
            .unwrap_or_else(|r| panic!("admin login: {} {}", r.status, r.text()))
    }

    /// Waits until every `--read` capture is ingested.
    pub fn wait_ingested(&self) -> Value {
        let t = Instant::now();
        loop {
            let h = self.get("/api/health", None).json();
            if h["ingesting"] == false {
                return h;
            }
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "ingestion did not finish: {h}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Session {
    pub cookie: String,
    pub set_cookie: String,
    pub csrf: String,
    pub role: String,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
}

fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = raw[end + 4..].to_vec();
    if let Some(n) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(n);
    }
    Resp {
        status,
        headers,
        body,
    }
}
