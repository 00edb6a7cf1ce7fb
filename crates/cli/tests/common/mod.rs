//! Helpers shared by the integration tests: the public capture corpus, the
//! binary under test, the real-stack scripts (`tests/stacks`), and a TCP
//! conversation crafter for synthetic captures.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plantshield_capture::{LinkType, PcapWriter};
use plantshield_decode::craft::{self, Endpoints};
use plantshield_decode::{MacAddr, TcpFlags};
use serde_json::Value;

/// The shared corpus (`../shared/pcaps` next to the repository, or `$PLANTSHIELD_PCAPS`).
pub fn pcaps() -> PathBuf {
    if let Some(p) = std::env::var_os("PLANTSHIELD_PCAPS") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pcaps");
    assert!(
        p.join("oracle").is_dir(),
        "capture corpus not found at {} (set PLANTSHIELD_PCAPS)",
        p.display()
    );
    p
}

/// The oracle JSON of a corpus file (path relative to the corpus).
pub fn oracle(rel: &str) -> Value {
    let p = pcaps().join("oracle").join(format!("{rel}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// The root of the repository.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads and parses a JSON file.
pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()))
}

/// The version of the Python package `package` pinned in
/// `tests/requirements.txt`.
pub fn pinned(package: &str) -> String {
    let p = repo().join("tests/requirements.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .find_map(|l| l.trim().strip_prefix(package)?.strip_prefix("=="))
        .unwrap_or_else(|| panic!("no {package}== pin in {}", p.display()))
        .trim()
        .to_string()
}

/// The exit status of a stack script whose run says nothing (tcpdump dropped
/// packets, or a stack lost a reply that is on the wire;
/// `tests/stacks/capture.py`): EX_TEMPFAIL, run it again.
pub const STACK_TEMPFAIL: i32 = 75;

/// How many times `run_stack_script` runs a script that exits 75 before it
/// gives up.
pub const STACK_ATTEMPTS: u32 = 3;

const STACK_NEEDS: &str = "the real-stack tests need python3, the pinned packages \
     (tests/requirements.txt, installed by .ci/install), tcpdump, and root (capturing \
     on lo, network namespaces)";

/// Runs `python3 tests/stacks/SCRIPT OUT EXTRA_ARGS...` and returns its
/// output once it succeeds. A run that exits 75 (capture incomplete, or a
/// known race in a stack) is repeated, `OUT` emptied first, up to `STACK_ATTEMPTS` runs in
/// all; the number of retries goes to standard error. Any other failure,
/// or python3 missing, panics with the script's output: these tests never
/// skip.
pub fn run_stack_script(script: &str, out: &Path, extra_args: &[&str]) -> Output {
    let path = repo().join("tests/stacks").join(script);
    let mut what = format!("python3 tests/stacks/{script} {}", out.display());
    for a in extra_args {
        what = what + " " + a;
    }
    let mut incomplete = Vec::new();
    for attempt in 1..=STACK_ATTEMPTS {
        empty_dir(out);
        let output = Command::new("python3")
            .arg(&path)
            .arg(out)
            .args(extra_args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}) for {script}: {STACK_NEEDS}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(STACK_TEMPFAIL) {
            let why = stderr.lines().last().unwrap_or("").trim().to_string();
            eprintln!(
                "{script}: transient failure on attempt {attempt} of {STACK_ATTEMPTS}{}: {why}",
                if attempt < STACK_ATTEMPTS {
                    ", running it again"
                } else {
                    ""
                }
            );
            incomplete.push(why);
            continue;
        }
        assert!(
            output.status.success(),
            "{what} failed ({}); {STACK_NEEDS}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            stderr,
        );
        eprintln!(
            "{script}: recorded on attempt {attempt} of {STACK_ATTEMPTS} ({} retries)",
            attempt - 1
        );
        return output;
    }
    let log = std::fs::read_to_string(out.join("tcpdump.log")).unwrap_or_default();
    panic!(
        "{what}: a transient failure (dropped packets or a stack's lost reply) in all \
         {STACK_ATTEMPTS} runs; the machine is too loaded to record the stacks:\n  {}\n\
         the last tcpdump.log:\n{log}",
        incomplete.join("\n  ")
    );
}

/// Every capture of the shared corpus (`.pcap`, `.pcapng`, `.cap`), sorted.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = pcaps();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() || dir.file_name().unwrap() == "oracle" {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ["pcap", "pcapng", "cap"].contains(&ext) {
                out.push(f);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 80, "corpus incomplete: {} files", out.len());
    out
}

/// Creates `dir` if need be and removes everything in it.
fn empty_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = entry.unwrap().path();
        let r = if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_plantshield")
}

/// The result of one `plantshield analyze` run.
pub struct Run {
    pub events: Vec<Value>,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

impl Run {
    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["event_type"] == t)
            .collect()
    }

    pub fn anomalies(&self, code: &str) -> usize {
        self.of_type("anomaly")
            .iter()
            .filter(|e| e["anomaly"]["event"] == code)
            .count()
    }
}

/// Runs `plantshield analyze ARGS...` and parses every output line as JSON.
pub fn analyze(args: &[&str]) -> Run {
    let out = Command::new(bin())
        .arg("analyze")
        .args(args)
        .output()
        .expect("run plantshield");
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect();
    Run {
        events,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status,
    }
}

pub fn analyze_file(p: &Path) -> Run {
    analyze(&["--no-progress", p.to_str().unwrap()])
}

/// The inventory of `captures`, as `plantshield assets --format json`
/// prints it.
pub fn assets_json(captures: &[&Path]) -> Value {
    let out = Command::new(bin())
        .args(["assets", "--no-progress", "--format", "json"])
        .args(captures)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `plantshield learn` on `captures`, the baseline written to `out`.
pub fn learn(captures: &[&Path], out: &Path) {
    let o = Command::new(bin())
        .args(["learn", "--no-progress", "-o"])
        .arg(out)
        .args(captures)
        .output()
        .expect("run plantshield learn");
    assert!(
        o.status.success(),
        "learn failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `plantshield learn` on a capture, then `analyze --policy` with that
/// baseline on the same capture: learning benign traffic and checking it
/// must raise no alert.
pub fn learn_then_check_raises_nothing(p: &Path) {
    let base = p.with_extension("baseline.toml");
    learn(&[p], &base);
    let r = analyze(&[
        "--no-progress",
        "--policy",
        base.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", r.stderr);
    let alerts = r.of_type("alert");
    assert!(alerts.is_empty(), "{} raised {alerts:#?}", p.display());
}

/// Crafts a TCP conversation between a client and a server with correct
/// sequence and acknowledgment numbers, written as an Ethernet pcap.
pub struct Conversation {
    pub ep: Endpoints,
    pub cseq: u32,
    pub sseq: u32,
    pub ts: i64,
    pub frames: Vec<(i64, Vec<u8>)>,
}

pub fn ip4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

impl Conversation {
    pub fn new(client: IpAddr, cport: u16, server: IpAddr, sport: u16) -> Self {
        Conversation {
            ep: Endpoints {
                src_mac: MacAddr([0x02, 0, 0, 0, 0, 1]),
                dst_mac: MacAddr([0x02, 0, 0, 0, 0, 2]),
                src_ip: client,
                dst_ip: server,
                src_port: cport,
                dst_port: sport,
                vlan: None,
            },
            cseq: 1000,
            sseq: 5000,
            ts: 1_700_000_000_000_000_000,
            frames: Vec::new(),
        }
    }

    fn tick(&mut self) -> i64 {
        self.ts += 1_000_000;
        self.ts
    }

    pub fn handshake(&mut self) -> &mut Self {
        let t = self.tick();
        self.frames.push((
            t,
            craft::tcp_frame(&self.ep, self.cseq, 0, TcpFlags::SYN, b""),
        ));
        self.cseq += 1;
        let t = self.tick();
        let r = self.ep.reversed();
        self.frames.push((
            t,
            craft::tcp_frame(&r, self.sseq, self.cseq, TcpFlags::SYN | TcpFlags::ACK, b""),
        ));
        self.sseq += 1;
        let t = self.tick();
        self.frames.push((
            t,
            craft::tcp_frame(&self.ep, self.cseq, self.sseq, TcpFlags::ACK, b""),
        ));
        self
    }

    /// One client segment.
    pub fn client(&mut self, payload: &[u8]) -> &mut Self {
        let t = self.tick();
        let f = craft::tcp_frame(
            &self.ep,
            self.cseq,
            self.sseq,
            TcpFlags::ACK | TcpFlags::PSH,
            payload,
        );
        self.frames.push((t, f));
        self.cseq = self.cseq.wrapping_add(payload.len() as u32);
        self
    }

    /// One server segment.
    pub fn server(&mut self, payload: &[u8]) -> &mut Self {
        let t = self.tick();
        let r = self.ep.reversed();
        let f = craft::tcp_frame(
            &r,
            self.sseq,
            self.cseq,
            TcpFlags::ACK | TcpFlags::PSH,
            payload,
        );
        self.frames.push((t, f));
        self.sseq = self.sseq.wrapping_add(payload.len() as u32);
        self
    }

    /// Advances time without a packet.
    pub fn wait(&mut self, ns: i64) -> &mut Self {
        self.ts += ns;
        self
    }

    pub fn fin(&mut self) -> &mut Self {
        let t = self.tick();
        self.frames.push((
            t,
            craft::tcp_frame(
                &self.ep,
                self.cseq,
                self.sseq,
                TcpFlags::FIN | TcpFlags::ACK,
                b"",
            ),
        ));
        self.cseq += 1;
        let t = self.tick();
        let r = self.ep.reversed();
        self.frames.push((
            t,
            craft::tcp_frame(&r, self.sseq, self.cseq, TcpFlags::FIN | TcpFlags::ACK, b""),
        ));
        self.sseq += 1;
        self
    }

    /// Writes the frames (in order) to `path`.
    pub fn write(&self, path: &Path) {
        write_pcap(path, &self.frames);
    }
}

pub fn write_pcap(path: &Path, frames: &[(i64, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f), LinkType::ETHERNET).unwrap();
    for (t, d) in frames {
        w.write_packet(*t, d).unwrap();
    }
    w.into_inner().unwrap();
}

/// A Modbus/TCP ADU.
pub fn adu(tid: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(7 + pdu.len());
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    v.push(unit);
    v.extend_from_slice(pdu);
    v
}

/// Modbus transaction events of a run.
pub fn modbus(run: &Run) -> Vec<&Value> {
    run.of_type("modbus")
}
