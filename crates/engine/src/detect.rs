//! Built-in behaviour detections: known attack behaviours against
//! industrial control systems, which need no baseline. Every rule has a
//! stable id, a severity and its MITRE ATT&CK for ICS techniques; see
//! `docs/detections.md`.

use std::net::IpAddr;

use plantshield_events::{Operation, Status};
use plantshield_sensor::{Envelope, Event};

use crate::alert::{Aggregator, EventRef, Rule, Severity};

/// Every built-in rule.
pub static RULES: &[Rule] = &[
    Rule {
        id: "ps.ics.mode_change",
        name: "Controller operating mode changed",
        severity: Severity::High,
        techniques: &["T0858"],
        description: "A controller was told to stop, start, enter program or listen-only mode (S7 PLC stop and PI start services, CIP Start/Stop, DNP3 start/stop application and initialize, Modbus force listen only, S7comm-plus operating state). Stopping a PLC halts the process it controls.",
        tuning: "Expected from engineering workstations during maintenance windows: accept them for that workstation in the policy (an `[[accept]]` entry with its `src`) rather than silencing the rule.",
    },
    Rule {
        id: "ps.ics.device_restart",
        name: "Device restart",
        severity: Severity::High,
        techniques: &["T0816"],
        description: "A device was told to restart: DNP3 cold or warm restart, CIP Reset, Modbus restart communications option, IEC 104 reset process command.",
        tuning: "Restarts are rare in operation; accept them for the engineering workstation in the policy (`[[accept]]` with `src`) if they are part of a procedure.",
    },
    Rule {
        id: "ps.ics.program_download",
        name: "Program download",
        severity: Severity::High,
        techniques: &["T0843"],
        description: "Control logic was sent to a controller (S7 request download/download block, CIP download transfer, S7comm-plus download transaction). This is how Stuxnet-class attacks change what a PLC does.",
        tuning: "Accept the engineering workstation in the policy (`[[accept]]` with `src`) for planned changes; any other source is suspect.",
    },
    Rule {
        id: "ps.ics.program_upload",
        name: "Program upload",
        severity: Severity::Medium,
        techniques: &["T0845"],
        description: "Control logic was read from a controller (S7 upload, CIP upload transfer): reconnaissance before tampering, or intellectual property theft.",
        tuning: "Backups by the engineering workstation are normal; accept them in the policy (`[[accept]]` with `src`).",
    },
    Rule {
        id: "ps.ics.firmware",
        name: "Firmware change",
        severity: Severity::Critical,
        techniques: &["T0857"],
        description: "An operation that changes device firmware.",
        tuning: "Should only occur in maintenance windows from the engineering workstation.",
    },
    Rule {
        id: "ps.ics.discovery_sweep",
        name: "Discovery sweep",
        severity: Severity::Medium,
        techniques: &["T0846", "T0888"],
        description: "One host probing many devices (industrial protocols towards many addresses), or many unit ids, function codes or S7 SZL lists of one device that it refuses or leaves unanswered (what scanners trying what a device supports look like): the reconnaissance phase of an attack (T0846 remote system discovery, T0888 remote system information discovery).",
        tuning: "Thresholds: sweep_hosts, sweep_units, sweep_functions, sweep_szl within sweep_window. Asset management tools that scan on purpose can be accepted in the policy (`[[accept]]` with `src`).",
    },
    Rule {
        id: "ps.ics.password",
        name: "Controller password operation",
        severity: Severity::Medium,
        techniques: &["T0859"],
        description: "A password was sent to, set on or cleared from a controller (S7 security functions).",
        tuning: "Normal when an engineer logs in to a protected CPU; many of them in a short time raise ps.ics.password_bruteforce instead.",
    },
    Rule {
        id: "ps.ics.password_bruteforce",
        name: "Controller password brute force",
        severity: Severity::High,
        techniques: &["T0859"],
        description: "Many password operations towards one controller in a short time: guessing its password.",
        tuning: "Threshold: password_attempts within flood_window.",
    },
    Rule {
        id: "ps.ics.write_flood",
        name: "Write or command flood",
        severity: Severity::High,
        techniques: &["T0806"],
        description: "Writes or commands from one host to one device at a rate far above normal operation: brute-forcing I/O values or a denial of service.",
        tuning: "Threshold: flood_writes within flood_window. Raise it for fast closed loops driven over the network.",
    },
    Rule {
        id: "ps.ics.broadcast_write",
        name: "Broadcast write or command",
        severity: Severity::High,
        techniques: &["T0855"],
        description: "A write or command addressed to every device at once (Modbus unit 0, DNP3 broadcast addresses 0xFFFD-0xFFFF): rarely legitimate on TCP networks.",
        tuning: "Accept it in the policy (`[[accept]]` with `src`) if a master really uses broadcast writes.",
    },
    Rule {
        id: "ps.ics.malformed_stream",
        name: "Stream of malformed messages",
        severity: Severity::Medium,
        techniques: &["T0814"],
        description: "Many malformed industrial protocol messages between two hosts: fuzzing, exploitation attempts, or a device pushed towards a crash.",
        tuning: "Threshold: malformed_messages within flood_window.",
    },
    Rule {
        id: "ps.ics.unanswered_storm",
        name: "Unanswered request storm",
        severity: Severity::Medium,
        techniques: &["T0814"],
        description: "Many requests that get no answer: a device overwhelmed or down, or a flood aimed at it.",
        tuning: "Threshold: unanswered_requests within flood_window.",
    },
    Rule {
        id: "ps.net.arp_spoofing",
        name: "IP address taken over by another MAC",
        severity: Severity::High,
        techniques: &["T0830"],
        description: "ARP says an IP address now belongs to another device: ARP poisoning to place a man in the middle, or a device replaced.",
        tuning: "A replaced device raises it once; repeated changes between the same addresses do not raise it again.",
    },
    Rule {
        id: "ps.baseline.new_asset",
        name: "New device",
        severity: Severity::Medium,
        techniques: &["T0864"],
        description: "A device that the baseline does not list (by MAC, or by IP for devices behind a router) appeared: a laptop plugged into the control network, a replaced controller, a rogue device. Needs a policy with a baseline (`analyze --policy`).",
        tuning: "Add the device to the baseline (`[[asset]]`) once it is approved.",
    },
    Rule {
        id: "ps.baseline.new_pair",
        name: "New communication pair",
        severity: Severity::Medium,
        techniques: &["T0848"],
        description: "A host talked to a device it never talked to in the baseline: the way a rogue master or a new engineering tool first shows up.",
        tuning: "Add the pair (`[[pair]]`) once approved, or re-learn after planned changes.",
    },
    Rule {
        id: "ps.baseline.new_protocol",
        name: "New protocol on a known pair",
        severity: Severity::Medium,
        techniques: &["T0869"],
        description: "Two hosts that talk in the baseline used a protocol (or server port) they never used before.",
        tuning: "Add a `[[pair]]` for the new protocol once approved.",
    },
    Rule {
        id: "ps.baseline.new_function",
        name: "New function code on a known pair",
        severity: Severity::High,
        techniques: &["T0855"],
        description: "A client used a function code towards a device that the baseline never saw it use (a write from a host that only read, a diagnostic or programming function from an HMI).",
        tuning: "Add the code to the pair's `functions` once approved.",
    },
    Rule {
        id: "ps.baseline.address_out_of_range",
        name: "Write outside the learned address ranges",
        severity: Severity::High,
        techniques: &["T0836", "T0831"],
        description: "A write or command touched registers, coils, data block bytes, information objects, points, CIP instances or tags that the pair never wrote in the baseline: a changed parameter or manipulated control. With `check_reads = true`, reads outside the learned read ranges raise it too.",
        tuning: "Widen the pair's `[pair.writes]` ranges once approved.",
    },
    Rule {
        id: "ps.policy.conduit_violation",
        name: "Traffic between zones outside the conduits",
        severity: Severity::High,
        techniques: &["T0855"],
        description: "Traffic crossed from one zone to another without a conduit that allows it, or broke a conduit's protocol, operation, function-code or address constraints (IEC 62443 zones and conduits).",
        tuning: "Add or widen a `[[conduit]]`; `default = \"allow\"` in `[policy]` keeps only the conduits' constraints.",
    },
    Rule {
        id: "ps.policy.deny",
        name: "Traffic forbidden by a deny rule",
        severity: Severity::Critical,
        techniques: &["T0855"],
        description: "Traffic matched an explicit `[[deny]]` rule of the policy.",
        tuning: "Narrow the deny rule.",
    },
];

/// The rule with this id.
pub fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).unwrap_or(&RULES[0])
}

/// Thresholds of the rate- and sweep-based rules.
#[derive(Clone, Copy, Debug)]
pub struct DetectConfig {
    /// Window of the rate rules (ns).
    pub flood_window_ns: i64,
    /// Writes and commands per window per pair that make a flood.
    pub flood_writes: u32,
    /// Password operations per window per pair that make a brute force.
    pub password_attempts: u32,
    /// Malformed messages per window per pair.
    pub malformed_messages: u32,
    /// Unanswered requests per window per pair.
    pub unanswered_requests: u32,
    /// Window of the sweep rules (ns).
    pub sweep_window_ns: i64,
    /// Distinct devices probed by one host.
    pub sweep_hosts: usize,
    /// Distinct unit ids of one device that were refused or unanswered.
    pub sweep_units: usize,
    /// Distinct function codes on one device that were refused or unanswered.
    pub sweep_functions: usize,
    /// Distinct S7 SZL lists asked of one device that were refused or unanswered.
    pub sweep_szl: usize,
    /// Pairs and hosts tracked; beyond it the counters restart.
    pub max_tracked: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            flood_window_ns: 10_000_000_000,
            flood_writes: 100,
            password_attempts: 5,
            malformed_messages: 10,
            unanswered_requests: 20,
            sweep_window_ns: 60_000_000_000,
            sweep_hosts: 16,
            sweep_units: 8,
            sweep_functions: 8,
            sweep_szl: 8,
            max_tracked: 100_000,
        }
    }
}

type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
type HashSet<K> = std::collections::HashSet<K, ahash::RandomState>;

/// Rate counters of one pair, over `flood_window`.
#[derive(Default)]
#[repr(C)]
struct Rates {
    start: i64,
    writes: u32,
    passwords: u32,
    malformed: u32,
    unanswered: u32,
}

/// What one host probed of one device and was refused, over `sweep_window`.
#[derive(Default)]
struct Probes {
    start: i64,
    units: HashSet<u32>,
    functions: HashSet<u32>,
    szl: HashSet<u16>,
}

/// The two windows of a pair run on their own: a write or an unanswered
/// request must not restart a sweep window (a scan whose probes go
/// unanswered would otherwise never last more than `flood_window`). The
/// rates come first, in the line a write's quiet path reads.
#[derive(Default)]
#[repr(C)]
struct Window {
    rates: Rates,
    probes: Probes,
}

/// The hosts one source reached within `sweep_window`. The start and the
/// count of hosts, which every transaction reads, come first and share a
/// cache line; the set itself (a second line) is read only when a flow
/// adds its server.
#[derive(Default)]
#[repr(C, align(16))]
struct Sweep {
    start: i64,
    /// `hosts.len()`.
    hosts_len: u32,
    hosts: HashSet<IpAddr>,
}

type Pair = (IpAddr, IpAddr);

const NIL: u32 = u32::MAX;

/// What one flow's events find directly, valid while the generation
/// (bumped when the sweeps or the windows are cleared) is the same: its
/// client's sweep and its pair's window. Saves hashing the client's
/// address, the pair and the server's address (into the sweep's host set)
/// for every transaction. Kept in the flow's notes (four words; see
/// `Engine`), beside the flow record; the notes hold the events of one
/// flow and protocol (`EventSink::flow_event`), so the pair is kept only
/// as which end of the flow the source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowSweep {
    /// The `start` of the sweep into whose host set the server went (or
    /// found it full), when `host_in`: inserting it again changes nothing
    /// until the sweep restarts.
    host_in_start: i64,
    gen: u32,
    sweep: u32,
    window: u32,
    host_in: bool,
    /// [`crate::src_first`] of the events it was made for.
    src_first: bool,
    /// False for empty notes.
    valid: bool,
}

impl FlowSweep {
    const EMPTY: FlowSweep = FlowSweep {
        host_in_start: 0,
        gen: 0,
        sweep: NIL,
        window: NIL,
        host_in: false,
        src_first: false,
        valid: false,
    };

    /// What `note` holds ([`FlowSweep::EMPTY`] for zero words).
    fn load(note: &[u64; 4]) -> FlowSweep {
        if note[2] >> 33 & 1 == 0 {
            return FlowSweep::EMPTY;
        }
        FlowSweep {
            host_in_start: note[0] as i64,
            sweep: note[1] as u32,
            window: (note[1] >> 32) as u32,
            gen: note[2] as u32,
            host_in: note[2] >> 32 & 1 == 1,
            valid: true,
            src_first: note[2] >> 34 & 1 == 1,
        }
    }

    fn store(&self, note: &mut [u64; 4]) {
        *note = [
            self.host_in_start as u64,
            u64::from(self.sweep) | u64::from(self.window) << 32,
            u64::from(self.gen)
                | u64::from(self.host_in) << 32
                | u64::from(self.valid) << 33
                | u64::from(self.src_first) << 34,
            0,
        ];
    }

    /// Makes the entry current for generation `gen`: indexes of an older
    /// one are forgotten.
    fn renew(&mut self, gen: u32) {
        if self.gen != gen {
            self.gen = gen;
            self.sweep = NIL;
            self.window = NIL;
            self.host_in = false;
        }
    }
}

/// Entries of [`Detections::password`]'s table: more than the function
/// names of the protocols a flow mix usually speaks.
const PASSWORD_NAMES: usize = 32;

/// The built-in detections' state.
pub struct Detections {
    cfg: DetectConfig,
    /// Window of each pair, as an index into `windows`.
    pairs: HashMap<Pair, u32>,
    windows: Vec<Window>,
    /// Bumped where `pairs` or `sweeps` is cleared: older cached indexes
    /// are stale.
    gen: u32,
    /// Sweep of each source, as an index into `sweep_state`.
    sweeps: HashMap<IpAddr, u32>,
    sweep_state: Vec<Sweep>,
    /// The record of the event being looked at, from its flow's notes
    /// (none for an event without them).
    cur: Option<FlowSweep>,
    /// Whether a function name contains `password`, by the name's address
    /// and length: an open-addressing table keeping every name met (an
    /// address is never 0, which marks an empty entry), emptied when full.
    password_names: [(usize, usize, bool); PASSWORD_NAMES],
}

fn restart(function: &str) -> bool {
    matches!(
        function,
        "cold_restart"
            | "warm_restart"
            | "reset"
            | "restart_communications_option"
            | "c_rp_na_1"
            | "reinitialize_device"
    )
}

impl Detections {
    /// Fresh state.
    pub fn new(cfg: DetectConfig) -> Self {
        Detections {
            cfg,
            pairs: HashMap::default(),
            windows: Vec::new(),
            gen: 0,
            sweeps: HashMap::default(),
            sweep_state: Vec::new(),
            cur: None,
            password_names: [(0, 0, false); PASSWORD_NAMES],
        }
    }

    /// Makes the record of the event's flow (if it has notes) one for
    /// its source: reset when it was empty or made for the other end.
    fn open_record(&mut self, src_first: bool) {
        if let Some(c) = &mut self.cur {
            if !(c.valid && c.src_first == src_first) {
                *c = FlowSweep {
                    valid: true,
                    src_first,
                    ..FlowSweep::EMPTY
                };
            }
        }
    }

    /// The engine's prefetch hint ([`plantshield_sensor::EventSink::prefetch_notes`],
    /// a packet ahead): the sweep and the window a flow's notes name. The
    /// notes are not checked for validity: stale or empty ones (whose
    /// indexes are [`NIL`] or another client's) cost useless prefetches,
    /// while the checks would cost instructions at every packet.
    #[inline]
    pub fn prefetch_sweep(&self, note: &[u64; 4]) {
        if let Some(s) = self.sweep_state.get(note[1] as u32 as usize) {
            // The line the quiet path reads (`start`, `hosts_len`).
            plantshield_flow::prefetch_lines(&s.start);
        }
        // And the pair's write rates, which a write reads (a read's
        // response wastes this prefetch, a write's would miss).
        if let Some(w) = self.windows.get((note[1] >> 32) as usize) {
            plantshield_flow::prefetch_lines(&w.rates.start);
        }
    }

    /// True when the function name contains `password` (cached by the
    /// name's address: names are static strings).
    #[inline(always)]
    fn password(&mut self, f: &'static str) -> bool {
        let key = (f.as_ptr() as usize, f.len());
        // Where the name's probe starts: the address's top bits after a
        // multiplication (names lie close together in the binary, so its
        // low bits alone would send several to one entry).
        let home = ((key.0 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 59) as usize;
        let e = self.password_names[home % PASSWORD_NAMES];
        if (e.0, e.1) == key {
            return e.2;
        }
        self.password_probe(f, home)
    }

    /// [`Detections::password`] for a name away from its first entry, or
    /// met for the first time.
    #[cold]
    #[inline(never)]
    fn password_probe(&mut self, f: &'static str, home: usize) -> bool {
        let key = (f.as_ptr() as usize, f.len());
        for k in 0..PASSWORD_NAMES {
            let e = &mut self.password_names[(home + k) % PASSWORD_NAMES];
            if (e.0, e.1) == key {
                return e.2;
            }
            if e.0 == 0 {
                *e = (key.0, key.1, contains_password(f));
                return e.2;
            }
        }
        // Full (a run with more names than entries): start again.
        self.password_names = [(0, 0, false); PASSWORD_NAMES];
        let e = &mut self.password_names[home % PASSWORD_NAMES];
        *e = (key.0, key.1, contains_password(f));
        e.2
    }

    fn window(&mut self, pair: Pair) -> &mut Window {
        let gen = self.gen;
        let i = match self.cur.as_mut() {
            Some(c) if c.window != NIL && c.gen == gen => c.window,
            _ => {
                let i = match self.pairs.get(&pair) {
                    Some(&i) => i,
                    None => {
                        if self.pairs.len() >= self.cfg.max_tracked {
                            self.pairs.clear();
                            self.windows.clear();
                            self.gen = self.gen.wrapping_add(1);
                        }
                        let i = self.windows.len() as u32;
                        self.windows.push(Window::default());
                        self.pairs.insert(pair, i);
                        i
                    }
                };
                let gen = self.gen;
                if let Some(c) = self.cur.as_mut() {
                    c.renew(gen);
                    c.window = i;
                }
                i
            }
        };
        &mut self.windows[i as usize]
    }

    /// The pair's rate counters, restarted when `flood_window` has passed.
    fn rates(&mut self, pair: Pair, ts: i64) -> &mut Rates {
        let span = self.cfg.flood_window_ns;
        let r = &mut self.window(pair).rates;
        if ts.saturating_sub(r.start) >= span {
            *r = Rates {
                start: ts,
                ..Rates::default()
            };
        }
        r
    }

    /// The pair's refused probes, restarted when `sweep_window` has passed.
    fn probes(&mut self, pair: Pair, ts: i64) -> &mut Probes {
        let span = self.cfg.sweep_window_ns;
        let p = &mut self.window(pair).probes;
        if ts.saturating_sub(p.start) >= span {
            *p = Probes {
                start: ts,
                ..Probes::default()
            };
        }
        p
    }

    /// Looks at one event; alerts go to `agg`.
    pub fn event(&mut self, env: &Envelope, ev: &Event<'_>, agg: &mut Aggregator) {
        self.cur = None;
        self.event_general(env, ev, agg);
    }

    /// Looks at one event of a flow, with the four words of the flow's
    /// notes that belong to the detections (see
    /// [`plantshield_sensor::EventSink::flow_event`]), where they keep the
    /// flow's record; alerts go to `agg`.
    #[inline]
    pub fn flow_event(
        &mut self,
        env: &Envelope,
        ev: &Event<'_>,
        agg: &mut Aggregator,
        note: &mut [u64; 4],
    ) {
        if self.quiet(env, ev, note) {
            return;
        }
        self.cur = Some(FlowSweep::load(note));
        self.event_general(env, ev, agg);
        if let Some(c) = self.cur.take() {
            c.store(note);
        }
    }

    /// The usual transaction, decided and counted here: one that succeeded,
    /// whose operation no rule alerts on at once (a read, or a write or
    /// command below the flood threshold, not broadcast), with no
    /// password function, on a flow whose record is current, when the
    /// server is already in the client's sweep and the sweep is below its
    /// threshold. Returns false, having changed nothing, for any other
    /// event: [`Detections::event_general`] then looks at it. For the
    /// events it takes, [`Detections::event_general`] would count the
    /// same write and hit nothing.
    #[inline]
    fn quiet(&mut self, env: &Envelope, ev: &Event<'_>, note: &[u64; 4]) -> bool {
        let Some(ics) = ev.ics() else {
            return false;
        };
        let write = match ics.operation {
            Operation::ModeChange
            | Operation::ProgramDownload
            | Operation::ProgramUpload
            | Operation::Firmware => return false,
            Operation::Write | Operation::Command => true,
            _ => false,
        };
        if ics.status != Status::Ok {
            return false;
        }
        let (Some(_), Some(_), Some(_)) = (env.flow_id, env.src, env.dst) else {
            return false;
        };
        let span = self.cfg.sweep_window_ns;
        let c = FlowSweep::load(note);
        if !(c.valid
            && c.host_in
            && c.sweep != NIL
            && c.gen == self.gen
            && span > 0
            && c.src_first == crate::src_first(env))
        {
            return false;
        }
        let (window, host_in_start) = (c.window, c.host_in_start);
        let Some(s) = self.sweep_state.get(c.sweep as usize) else {
            return false;
        };
        let ts = env.ts_ns;
        debug_assert_eq!(s.hosts_len as usize, s.hosts.len());
        if !(host_in_start == s.start
            && ts.saturating_sub(s.start) < span
            && (s.hosts_len as usize) < self.cfg.sweep_hosts
            && !self.password(ics.function))
        {
            return false;
        }
        if write {
            if window == NIL || broadcast(ev) {
                return false;
            }
            let (flood, flood_writes) = (self.cfg.flood_window_ns, self.cfg.flood_writes);
            let Some(w) = self.windows.get_mut(window as usize) else {
                return false;
            };
            let r = &mut w.rates;
            let restart = ts.saturating_sub(r.start) >= flood;
            let writes = if restart { 1 } else { r.writes + 1 };
            if writes > flood_writes {
                return false;
            }
            if restart {
                *r = Rates {
                    start: ts,
                    ..Rates::default()
                };
            }
            r.writes = writes;
        }
        true
    }

    /// [`Detections::event`] in every case.
    #[inline(never)]
    fn event_general(&mut self, env: &Envelope, ev: &Event<'_>, agg: &mut Aggregator) {
        let (Some(src), Some(dst)) = (env.src.map(|s| s.0), env.dst.map(|d| d.0)) else {
            return;
        };
        let at = EventRef {
            flow_id: env.flow_id,
            ts: env.ts_ns,
            event_id: None,
        };
        let ts = env.ts_ns;
        self.open_record(crate::src_first(env));
        if let Event::Flow(_) = ev {
            // Connections to industrial ports count towards host sweeps even
            // when no transaction followed (a SYN scan, a refused connect).
            if env.dst.is_some_and(|d| ICS_PORTS.contains(&d.1)) {
                self.host_sweep(src, dst, ts, env.app_proto.unwrap_or("tcp"), at, agg);
            }
            return;
        }
        if let Event::Anomaly(a) = ev {
            if a.kind == plantshield_sensor::AnomalyKind::Applayer {
                self.malformed(src, dst, ts, at, env.app_proto, agg);
            }
            return;
        }
        let Some(ics) = ev.ics() else {
            return;
        };
        let proto = ev.event_type();
        let f = ics.function;
        // The message is only built when the hit opens an alert: a rule
        // that fires for every write must not format a sentence each time.
        let hit = |agg: &mut Aggregator, id: &str, msg: &dyn Fn() -> String| {
            agg.hit(rule(id), Some(src), Some(dst), Some(proto), at, msg);
        };
        match ics.operation {
            Operation::ModeChange if restart(f) => hit(agg, "ps.ics.device_restart", &|| {
                format!("{src} told {dst} to restart ({proto} {f})")
            }),
            Operation::ModeChange => hit(agg, "ps.ics.mode_change", &|| {
                format!("{src} changed the operating mode of {dst} ({proto} {f})")
            }),
            Operation::ProgramDownload => hit(agg, "ps.ics.program_download", &|| {
                format!("{src} downloaded control logic to {dst} ({proto} {f})")
            }),
            Operation::ProgramUpload => hit(agg, "ps.ics.program_upload", &|| {
                format!("{src} uploaded control logic from {dst} ({proto} {f})")
            }),
            Operation::Firmware => hit(agg, "ps.ics.firmware", &|| {
                format!("{src} changed the firmware of {dst} ({proto} {f})")
            }),
            _ => {}
        }
        if ics.status == Status::Malformed {
            self.malformed(src, dst, ts, at, Some(proto), agg);
        }
        // Fields, not a copy of the whole config: this runs per transaction.
        let flood = self.cfg.flood_window_ns;
        if matches!(ics.operation, Operation::Write | Operation::Command) {
            if broadcast(ev) {
                hit(agg, "ps.ics.broadcast_write", &|| {
                    format!("{src} sent a broadcast {f} ({proto}) through {dst}")
                });
            }
            let flood_writes = self.cfg.flood_writes;
            let w = self.rates((src, dst), ts);
            w.writes += 1;
            if w.writes > flood_writes {
                hit(agg, "ps.ics.write_flood", &|| {
                    format!(
                        "{src} sent more than {} writes or commands to {dst} within {} s ({proto})",
                        flood_writes,
                        flood / 1_000_000_000
                    )
                });
            }
        }
        if self.password(f) {
            hit(agg, "ps.ics.password", &|| {
                format!("{src} sent a password operation to {dst} ({proto} {f})")
            });
            let password_attempts = self.cfg.password_attempts;
            let w = self.rates((src, dst), ts);
            w.passwords += 1;
            if w.passwords >= password_attempts {
                hit(agg, "ps.ics.password_bruteforce", &|| {
                    format!(
                        "{src} tried {} password operations on {dst} in {} s",
                        w.passwords,
                        flood / 1_000_000_000
                    )
                });
            }
        }
        if ics.status == Status::NoResponse {
            let unanswered_requests = self.cfg.unanswered_requests;
            let w = self.rates((src, dst), ts);
            w.unanswered += 1;
            if w.unanswered >= unanswered_requests {
                hit(agg, "ps.ics.unanswered_storm", &|| {
                    format!(
                        "{dst} left more than {} {proto} requests from {src} unanswered",
                        unanswered_requests
                    )
                });
            }
        }
        self.sweep(src, dst, ts, ev, proto, ics.function_code, at, agg);
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn sweep(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        ts: i64,
        ev: &Event<'_>,
        proto: &'static str,
        code: u32,
        at: EventRef,
        agg: &mut Aggregator,
    ) {
        self.host_sweep(src, dst, ts, proto, at, agg);
        // Scanners probe what a device does not support: only unit ids and
        // function codes that were refused or left unanswered count, so an
        // engineering tool using many supported functions is no sweep; and
        // only they count towards the alert, not the transactions that
        // succeed in the same window (the prober's ordinary polling).
        let refused = ev
            .ics()
            .is_some_and(|i| matches!(i.status, Status::Exception | Status::NoResponse));
        if !refused {
            return;
        }
        let cfg = self.cfg;
        let span = cfg.sweep_window_ns;
        let unit = match ev {
            Event::Modbus(m) => Some(u32::from(m.unit_id)),
            _ => None,
        };
        let szl = szl_id(ev);
        let w = self.probes((src, dst), ts);
        let cap = 4 * cfg.sweep_functions.max(cfg.sweep_units);
        if let Some(u) = unit {
            if w.units.len() < cap {
                w.units.insert(u);
            }
        }
        if w.functions.len() < cap {
            w.functions.insert(code);
        }
        if let Some(id) = szl {
            if w.szl.len() < cap {
                w.szl.insert(id);
            }
        }
        let what = if w.units.len() >= cfg.sweep_units {
            Some(format!("{} unit ids", w.units.len()))
        } else if w.functions.len() >= cfg.sweep_functions {
            Some(format!("{} function codes", w.functions.len()))
        } else if w.szl.len() >= cfg.sweep_szl {
            Some(format!("{} SZL lists", w.szl.len()))
        } else {
            None
        };
        if let Some(what) = what {
            agg.hit(
                rule("ps.ics.discovery_sweep"),
                Some(src),
                Some(dst),
                Some(proto),
                at,
                || {
                    format!(
                        "{src} probed {what} of {dst} with {proto} within {} s",
                        span / 1_000_000_000
                    )
                },
            );
        }
    }

    /// One host reaching many devices with industrial protocols.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn host_sweep(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        ts: i64,
        proto: &'static str,
        at: EventRef,
        agg: &mut Aggregator,
    ) {
        // The usual case, decided from the flow's record and its sweep:
        // the server is already in the client's current sweep (which
        // goes on) and the sweep is below the alert threshold. Nothing
        // changes and no alert is hit; [`Detections::host_sweep_general`]
        // would find the same.
        if let Some(c) = &self.cur {
            let span = self.cfg.sweep_window_ns;
            if c.host_in && c.sweep != NIL && c.gen == self.gen && span > 0 {
                if let Some(s) = self.sweep_state.get(c.sweep as usize) {
                    if c.host_in_start == s.start
                        && ts.saturating_sub(s.start) < span
                        && (s.hosts_len as usize) < self.cfg.sweep_hosts
                    {
                        return;
                    }
                }
            }
        }
        self.host_sweep_general(src, dst, ts, proto, at, agg);
    }

    /// [`Detections::host_sweep`] in every case.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn host_sweep_general(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        ts: i64,
        proto: &'static str,
        at: EventRef,
        agg: &mut Aggregator,
    ) {
        let span = self.cfg.sweep_window_ns;
        let sweep_hosts = self.cfg.sweep_hosts;
        let gen = self.gen;
        let (idx, host_in) = match self.cur.as_mut() {
            Some(c) if c.sweep != NIL && c.gen == gen => {
                (c.sweep, c.host_in.then_some(c.host_in_start))
            }
            _ => {
                let idx = match self.sweeps.get(&src) {
                    Some(&i) => i,
                    None => {
                        if self.sweeps.len() >= self.cfg.max_tracked {
                            self.sweeps.clear();
                            self.sweep_state.clear();
                            self.gen = self.gen.wrapping_add(1);
                        }
                        let i = self.sweep_state.len() as u32;
                        self.sweep_state.push(Sweep::default());
                        self.sweeps.insert(src, i);
                        i
                    }
                };
                let gen = self.gen;
                if let Some(c) = self.cur.as_mut() {
                    c.renew(gen);
                    c.sweep = idx;
                    c.host_in = false;
                }
                (idx, None)
            }
        };
        let s = &mut self.sweep_state[idx as usize];
        if ts.saturating_sub(s.start) >= span {
            *s = Sweep {
                start: ts,
                ..Sweep::default()
            };
        }
        // After a restart the start is later (span > 0), so a cached
        // start tells whether this sweep already holds `dst`.
        if span <= 0 || host_in != Some(s.start) {
            if s.hosts.len() < 4 * sweep_hosts {
                s.hosts.insert(dst);
                s.hosts_len = s.hosts.len() as u32;
            }
            let start = s.start;
            if let Some(c) = self.cur.as_mut() {
                c.host_in = true;
                c.host_in_start = start;
            }
        }
        let s = &self.sweep_state[idx as usize];
        if s.hosts.len() >= sweep_hosts {
            let n = s.hosts.len();
            agg.hit(
                rule("ps.ics.discovery_sweep"),
                Some(src),
                None,
                Some(proto),
                at,
                || {
                    format!(
                        "{src} probed {n} devices with {proto} within {} s",
                        span / 1_000_000_000
                    )
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn malformed(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        ts: i64,
        at: EventRef,
        proto: Option<&'static str>,
        agg: &mut Aggregator,
    ) {
        let cfg = self.cfg;
        let w = self.rates((src, dst), ts);
        w.malformed += 1;
        if w.malformed >= cfg.malformed_messages {
            agg.hit(
                rule("ps.ics.malformed_stream"),
                Some(src),
                Some(dst),
                proto,
                at,
                || {
                    format!(
                        "{} malformed {} messages between {src} and {dst} within {} s",
                        cfg.malformed_messages,
                        proto.unwrap_or("industrial protocol"),
                        cfg.flood_window_ns / 1_000_000_000
                    )
                },
            );
        }
    }
}

/// The search behind [`Detections::password`]'s cache, out of line.
#[cold]
#[inline(never)]
fn contains_password(f: &str) -> bool {
    f.contains("password")
}

/// Registered ports of the industrial protocols (Modbus, S7/ISO-TSAP, DNP3,
/// IEC 104, EtherNet/IP, BACnet, OPC UA, FINS).
const ICS_PORTS: &[u16] = &[502, 102, 20000, 2404, 44818, 47808, 4840, 9600];

/// A write or command to every device: Modbus unit 0, DNP3 broadcast addresses.
fn broadcast(ev: &Event<'_>) -> bool {
    match ev {
        Event::Modbus(m) => m.unit_id == 0,
        Event::Dnp3(d) => d.request.is_some_and(|r| r.link.destination >= 0xfffd),
        _ => false,
    }
}

/// The SZL id of an S7 read-SZL request.
fn szl_id(ev: &Event<'_>) -> Option<u16> {
    use plantshield_protocols::s7comm::userdata;
    let Event::S7comm(s) = ev else {
        return None;
    };
    let req = s.request?;
    let u = userdata::parse_param(req.param)?;
    if (u.group, u.sub_function)
        != (
            plantshield_protocols::s7comm::FunctionGroup::CPU_FUNCTIONS,
            1,
        )
    {
        return None;
    }
    userdata::szl_request(userdata::parse_data(req.data)?.payload).map(|r| r.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AggregationConfig;
    use plantshield_sensor::ModbusEvent;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    /// One generated transaction: notes reset (0: the flow's notes start
    /// again, as at protocol detection), flow id, client, server,
    /// operation, status (its top bit: sent by the server), unit id,
    /// function code, time step (ms).
    type Step = (u32, u64, u8, u8, u8, u8, u8, u8, u32);

    fn alerts(steps: &[Step], notes: bool) -> Vec<String> {
        let cfg = DetectConfig {
            flood_window_ns: 2_000_000_000,
            flood_writes: 3,
            password_attempts: 2,
            malformed_messages: 2,
            unanswered_requests: 2,
            sweep_window_ns: 5_000_000_000,
            sweep_hosts: 3,
            sweep_units: 2,
            sweep_functions: 3,
            sweep_szl: 2,
            max_tracked: 3,
        };
        let mut d = Detections::new(cfg);
        let mut agg = Aggregator::new(AggregationConfig::default());
        let mut ts = 0i64;
        // The notes of each flow: one flow id with other hosts is
        // another flow, as the notes' contract has it.
        let mut kept: HashMap<(u64, u8, u8), [u64; 4]> = HashMap::default();
        for &(reset, flow, c, s, op, status, unit, code, dt) in steps {
            ts += i64::from(dt) * 1_000_000;
            let ip = |n: u8| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n));
            let mut env = Envelope::at(ts);
            env.flow_id = Some(flow);
            let (a, b) = ((ip(c), 40000), (ip(s), 502));
            let (x, y) = if status & 0x80 != 0 { (b, a) } else { (a, b) };
            (env.src, env.dst) = (Some(x), Some(y));
            env.app_proto = Some("modbus");
            let operation = [
                Operation::Read,
                Operation::Write,
                Operation::Command,
                Operation::ModeChange,
            ][usize::from(op % 4)];
            let status = [
                Status::Ok,
                Status::Exception,
                Status::NoResponse,
                Status::Malformed,
            ][usize::from(status % 4)];
            let m = ModbusEvent {
                transaction_id: 1,
                unit_id: unit,
                request: None,
                response: None,
                latency_ns: None,
                flags: Default::default(),
                ics: plantshield_sensor::IcsSummary {
                    function_code: u32::from(code),
                    function: ["read_coils", "write_single_coil", "set_password"]
                        [usize::from(code % 3)],
                    operation,
                    status,
                    exception_code: None,
                },
            };
            let note = kept.entry((flow, c, s)).or_default();
            if reset == 0 {
                *note = [0; 4];
            }
            // Hints from these and other (maybe empty or stale) notes
            // change nothing.
            d.prefetch_sweep(note);
            d.prefetch_sweep(&[u64::from(reset); 4]);
            if notes {
                d.flow_event(&env, &Event::Modbus(&m), &mut agg, note);
            } else {
                d.event(&env, &Event::Modbus(&m), &mut agg);
            }
        }
        agg.flush();
        // Alerts of one rule opened at the same time leave the aggregator's
        // hash map in its (random) order: compare them sorted.
        let mut v: Vec<String> = agg
            .take_closed()
            .iter()
            .map(|a| {
                format!(
                    "{} {:?} {:?} {} {} {} {} {:?}",
                    a.rule.id, a.src, a.dst, a.count, a.first_ts, a.last_ts, a.message, a.refs
                )
            })
            .collect();
        v.sort();
        v
    }

    /// The cache of names containing `password` answers as the search
    /// does, for more names than it holds, asked in turns.
    #[test]
    fn password_cache_answers_as_the_search() {
        let mut d = Detections::new(DetectConfig::default());
        let names: Vec<&'static str> = (0..3 * PASSWORD_NAMES)
            .map(|i| {
                let name = if i % 5 == 0 {
                    format!("set_password_{i}")
                } else {
                    format!("write_{i}")
                };
                &*Box::leak(name.into_boxed_str())
            })
            .collect();
        for round in 0..3 {
            for (i, name) in names.iter().enumerate() {
                // A few names again and again, the others now and then.
                let name = if (i + round) % 2 == 0 {
                    names[i % 7]
                } else {
                    name
                };
                assert_eq!(d.password(name), name.contains("password"), "{name}");
            }
        }
    }

    proptest! {
        /// A record packed into notes comes back unchanged; zero words
        /// are an empty record.
        #[test]
        fn flow_sweep_round_trip(
            host_in_start in any::<i64>(), gen in any::<u32>(), sweep in any::<u32>(),
            window in any::<u32>(), host_in in any::<bool>(), src_first in any::<bool>(),
        ) {
            prop_assert_eq!(FlowSweep::load(&[0; 4]), FlowSweep::EMPTY);
            let c = FlowSweep { host_in_start, gen, sweep, window, host_in, src_first, valid: true };
            let mut note = [0; 4];
            c.store(&mut note);
            prop_assert_eq!(FlowSweep::load(&note), c);
        }

        /// The per-flow cache (sweep and window indexes in the flow's
        /// notes) is only a shortcut: the alerts are those of a run
        /// without notes.
        #[test]
        fn flow_cache_changes_no_alert(steps in proptest::collection::vec(
            (0u32..4, 0u64..6, 1u8..6, 10u8..16, any::<u8>(), any::<u8>(), 0u8..4, 0u8..8, 0u32..1500),
            0..200,
        )) {
            prop_assert_eq!(alerts(&steps, true), alerts(&steps, false));
        }
    }
}
