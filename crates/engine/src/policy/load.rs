//! Reading policy files: TOML into the model, every error with its line.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use plantshield_decode::MacAddr;
use plantshield_events::Operation;
use serde::Deserialize;
use toml::Spanned;

use super::{
    Accept, AddressMap, Baseline, Cidr, Conduit, DefaultAction, Deny, Endpoint, KnownAsset, Match,
    Origin, Pair, Policy, Zone, KNOWN_PROTOCOLS,
};
use crate::ranges::RangeSet;
use crate::target::Space;

/// Files included from one another, at most this deep.
const MAX_INCLUDE_DEPTH: usize = 8;

/// A problem in a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, and what would be right.
    pub message: String,
    /// A warning does not stop the policy from loading.
    pub warning: bool,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.warning { "warning" } else { "error" };
        if self.line == 0 {
            write!(f, "{}: {kind}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {kind}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// A loaded policy and what was found wrong with it.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The policy (usable only when no diagnostic is an error).
    pub policy: Policy,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// Files read (includes too).
    pub files: Vec<PathBuf>,
}

impl Loaded {
    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| !d.warning)
    }
}

type Ranges = Spanned<BTreeMap<String, Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    policy: Option<RawSettings>,
    // Where a learned baseline came from: for people, not checked.
    #[allow(dead_code)]
    baseline: Option<toml::Table>,
    #[serde(default)]
    zone: Vec<Spanned<RawZone>>,
    #[serde(default)]
    conduit: Vec<Spanned<RawRule>>,
    #[serde(default)]
    deny: Vec<Spanned<RawRule>>,
    #[serde(default)]
    asset: Vec<Spanned<RawAsset>>,
    #[serde(default)]
    pair: Vec<Spanned<RawPair>>,
    #[serde(default)]
    accept: Vec<Spanned<RawAccept>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    default: Option<Spanned<String>>,
    intra_zone: Option<Spanned<String>>,
    check_reads: Option<bool>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: Spanned<String>,
    security_level: Option<Spanned<i64>>,
    members: Vec<Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    protocols: Option<Vec<Spanned<String>>>,
    operations: Option<Vec<Spanned<String>>>,
    functions: Option<Vec<Spanned<i64>>>,
    reads: Option<Ranges>,
    writes: Option<Ranges>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    #[serde(default)]
    ips: Vec<Spanned<String>>,
    #[serde(default)]
    macs: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RawPair {
    client: Spanned<String>,
    server: Spanned<String>,
    protocol: Spanned<String>,
    #[serde(default)]
    operations: Vec<Spanned<String>>,
    #[serde(default)]
    functions: Vec<Spanned<i64>>,
    reads: Option<Ranges>,
    writes: Option<Ranges>,
    // Statistics `learn` writes for people; not used when checking.
    transactions: Option<i64>,
    flows: Option<i64>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    interval_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RawAccept {
    rule: Spanned<String>,
    src: Option<Spanned<String>>,
    dst: Option<Spanned<String>>,
    count: Option<i64>,
}

/// Reads the policy files `paths` (and what they include) into one policy.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut cx = Cx::default();
    for p in paths {
        cx.file(p, 0);
    }
    cx.finish()
}

/// Reads one policy given as text (`name` is used in diagnostics).
pub fn load_str(name: &Path, text: &str) -> Loaded {
    let mut cx = Cx::default();
    cx.text(name, text, 0);
    cx.finish()
}

#[derive(Default)]
struct Cx {
    out: Loaded,
    settings_from: Option<Origin>,
    /// Rules and zones whose `from`/`to` are resolved after every file is read.
    pending: Vec<PendingRule>,
    zone_names: HashMap<String, (usize, Origin)>,
    rule_names: HashMap<String, Origin>,
    any_baseline: bool,
}

struct PendingRule {
    deny: bool,
    name: String,
    from: Option<(String, Where)>,
    to: Option<(String, Where)>,
    m: Match,
    origin: Origin,
}

/// A span in a file, for diagnostics after parsing.
#[derive(Clone)]
struct Where {
    file: PathBuf,
    line: usize,
    column: usize,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

struct FileCx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl FileCx<'_> {
    fn at(&self, span: std::ops::Range<usize>) -> Where {
        let (line, column) = line_col(self.text, span.start);
        Where {
            file: self.path.to_path_buf(),
            line,
            column,
        }
    }

    fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        let w = self.at(span);
        Origin {
            file: w.file,
            line: w.line,
        }
    }
}

impl Cx {
    fn diag(&mut self, w: &Where, warning: bool, message: String) {
        self.out.diagnostics.push(Diagnostic {
            file: w.file.clone(),
            line: w.line,
            column: w.column,
            message,
            warning,
        });
    }

    fn err(&mut self, w: &Where, message: String) {
        self.diag(w, false, message);
    }

    fn file(&mut self, path: &Path, depth: usize) {
        match std::fs::read_to_string(path) {
            Ok(text) => self.text(path, &text, depth),
            Err(e) => self.out.diagnostics.push(Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
                warning: false,
            }),
        }
    }

    fn text(&mut self, path: &Path, text: &str, depth: usize) {
        self.out.files.push(path.to_path_buf());
        let f = FileCx { path, text };
        let raw: RawFile = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let w = f.at(e.span().unwrap_or(0..0));
                self.err(&w, e.message().trim().to_string());
                return;
            }
        };
        if let Some(s) = raw.policy {
            self.settings(&f, s, depth);
        }
        for z in raw.zone {
            self.zone(&f, z);
        }
        for (deny, list) in [(false, raw.conduit), (true, raw.deny)] {
            for r in list {
                self.rule(&f, r, deny);
            }
        }
        for a in raw.asset {
            self.asset(&f, a);
        }
        for p in raw.pair {
            self.pair(&f, p);
        }
        for a in raw.accept {
            self.accept(&f, a);
        }
    }

    fn settings(&mut self, f: &FileCx<'_>, s: RawSettings, depth: usize) {
        let here = Origin {
            file: f.path.to_path_buf(),
            line: 0,
        };
        if let Some(prev) = &self.settings_from {
            let w = Where {
                file: f.path.to_path_buf(),
                line: 1,
                column: 1,
            };
            let prev = prev.file.display().to_string();
            self.err(
                &w,
                format!("[policy] settings are already given in {prev}; give them once"),
            );
        }
        self.settings_from = Some(here);
        let st = &mut self.out.policy.settings;
        if let Some(d) = &s.default {
            match d.get_ref().as_str() {
                "allow" => st.default = DefaultAction::Allow,
                "alert" => st.default = DefaultAction::Alert,
                other => {
                    let w = f.at(d.span());
                    let other = other.to_string();
                    self.err(
                        &w,
                        format!("`default = \"{other}\"`: expected \"allow\" or \"alert\""),
                    );
                }
            }
        }
        if let Some(d) = &s.intra_zone {
            match d.get_ref().as_str() {
                "allow" => self.out.policy.settings.intra_zone_allowed = true,
                "check" => self.out.policy.settings.intra_zone_allowed = false,
                other => {
                    let w = f.at(d.span());
                    let other = other.to_string();
                    self.err(
                        &w,
                        format!("`intra_zone = \"{other}\"`: expected \"allow\" or \"check\""),
                    );
                }
            }
        }
        if let Some(c) = s.check_reads {
            self.out.policy.settings.check_reads = c;
        }
        for inc in s.include {
            let rel = PathBuf::from(inc.get_ref());
            let p = if rel.is_absolute() {
                rel
            } else {
                f.path.parent().unwrap_or(Path::new(".")).join(rel)
            };
            if depth >= MAX_INCLUDE_DEPTH {
                let w = f.at(inc.span());
                self.err(
                    &w,
                    format!("includes nested deeper than {MAX_INCLUDE_DEPTH} files (a loop?)"),
                );
                continue;
            }
            self.file(&p, depth + 1);
        }
    }

    fn zone(&mut self, f: &FileCx<'_>, z: Spanned<RawZone>) {
        let origin = f.origin(z.span());
        let z = z.into_inner();
        let name = z.name.get_ref().trim().to_string();
        if name.is_empty() || name == "*" {
            let w = f.at(z.name.span());
            self.err(&w, "a zone needs a name (not empty, not `*`)".into());
        }
        if let Some((_, prev)) = self.zone_names.get(&name) {
            let w = f.at(z.name.span());
            let prev = prev.to_string();
            self.err(&w, format!("zone `{name}` is already defined at {prev}"));
        }
        let security_level = match &z.security_level {
            Some(l) if (1..=4).contains(l.get_ref()) => Some(*l.get_ref() as u8),
            Some(l) => {
                let w = f.at(l.span());
                self.err(
                    &w,
                    format!(
                        "security_level {} is not an IEC 62443 security level (1 to 4)",
                        l.get_ref()
                    ),
                );
                None
            }
            None => None,
        };
        let mut members = Vec::new();
        for m in &z.members {
            match Cidr::parse(m.get_ref()) {
                Some(c) => members.push(c),
                None => {
                    let w = f.at(m.span());
                    self.err(
                        &w,
                        format!(
                            "`{}` is not an address or network (e.g. 10.0.1.0/24, 10.0.1.7)",
                            m.get_ref()
                        ),
                    );
                }
            }
        }
        if z.members.is_empty() {
            let w = f.at(z.name.span());
            self.diag(&w, true, format!("zone `{name}` has no members"));
        }
        let idx = self.out.policy.zones.len();
        self.zone_names.insert(name.clone(), (idx, origin.clone()));
        self.out.policy.zones.push(Zone {
            name,
            security_level,
            members,
            origin,
        });
    }

    fn protocols(&mut self, f: &FileCx<'_>, list: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for p in list {
            let s = p.get_ref().trim();
            if !protocol_name_ok(s) {
                let w = f.at(p.span());
                self.err(
                    &w,
                    format!("`{s}` is not a protocol name (e.g. modbus, s7comm, tcp/443, udp/161)"),
                );
                continue;
            }
            if !KNOWN_PROTOCOLS.contains(&s) && !s.contains('/') && s != "icmp" && s != "icmpv6" {
                let w = f.at(p.span());
                self.diag(
                    &w,
                    true,
                    format!(
                        "protocol `{s}` is not one PlantShield names (known: {}); it matches nothing yet",
                        KNOWN_PROTOCOLS.join(", ")
                    ),
                );
            }
            out.push(s.to_string());
        }
        out
    }

    fn operations(&mut self, f: &FileCx<'_>, list: &[Spanned<String>]) -> Vec<Operation> {
        let mut out = Vec::new();
        for o in list {
            match Operation::ALL.iter().find(|op| op.name() == o.get_ref()) {
                Some(op) => out.push(*op),
                None => {
                    let w = f.at(o.span());
                    let names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
                    self.err(
                        &w,
                        format!(
                            "`{}` is not an operation (one of: {})",
                            o.get_ref(),
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        out
    }

    fn functions(&mut self, f: &FileCx<'_>, list: &[Spanned<i64>]) -> Vec<u32> {
        let mut out = Vec::new();
        for c in list {
            match u32::try_from(*c.get_ref()) {
                Ok(v) => out.push(v),
                Err(_) => {
                    let w = f.at(c.span());
                    self.err(&w, format!("function code {} is out of range", c.get_ref()));
                }
            }
        }
        out
    }

    fn addresses(&mut self, f: &FileCx<'_>, r: &Ranges) -> AddressMap {
        let mut m = AddressMap::default();
        for (key, values) in r.get_ref() {
            if key == "tags" {
                for v in values {
                    m.tags.insert(v.get_ref().clone());
                }
                continue;
            }
            let space: Space = match key.parse() {
                Ok(s) => s,
                Err(e) => {
                    let w = f.at(r.span());
                    self.err(&w, e);
                    continue;
                }
            };
            let set = m.ranges.entry(space).or_insert_with(RangeSet::new);
            for v in values {
                match RangeSet::parse_range(v.get_ref()) {
                    Some((lo, hi)) => set.insert(lo, hi),
                    None => {
                        let w = f.at(v.span());
                        self.err(
                            &w,
                            format!(
                                "`{}` is not an address range (e.g. 7, 0-99, 0x10-0x1f, *)",
                                v.get_ref()
                            ),
                        );
                    }
                }
            }
        }
        m
    }

    fn unique_rule_name(&mut self, f: &FileCx<'_>, name: &Spanned<String>, origin: &Origin) {
        let n = name.get_ref().trim().to_string();
        if n.is_empty() {
            let w = f.at(name.span());
            self.err(&w, "a rule needs a name".into());
        } else if let Some(prev) = self.rule_names.get(&n) {
            let w = f.at(name.span());
            let prev = prev.to_string();
            self.err(
                &w,
                format!("a conduit or deny rule named `{n}` is already defined at {prev}"),
            );
        } else {
            self.rule_names.insert(n, origin.clone());
        }
    }

    fn rule(&mut self, f: &FileCx<'_>, r: Spanned<RawRule>, deny: bool) {
        let origin = f.origin(r.span());
        let r = r.into_inner();
        self.unique_rule_name(f, &r.name, &origin);
        let m = Match {
            protocols: r.protocols.as_deref().map(|p| self.protocols(f, p)),
            operations: r.operations.as_deref().map(|o| self.operations(f, o)),
            functions: r.functions.as_deref().map(|c| self.functions(f, c)),
            reads: r.reads.as_ref().map(|a| self.addresses(f, a)),
            writes: r.writes.as_ref().map(|a| self.addresses(f, a)),
        };
        let end = |s: &Option<Spanned<String>>| {
            s.as_ref()
                .map(|s| (s.get_ref().trim().to_string(), f.at(s.span())))
        };
        if !deny && (r.from.is_none() || r.to.is_none()) {
            let w = f.at(r.name.span());
            self.err(
                &w,
                format!(
                    "conduit `{}` needs `from` and `to` (zone names, or \"*\")",
                    r.name.get_ref()
                ),
            );
        }
        self.pending.push(PendingRule {
            deny,
            name: r.name.get_ref().trim().to_string(),
            from: end(&r.from),
            to: end(&r.to),
            m,
            origin,
        });
    }

    fn asset(&mut self, f: &FileCx<'_>, a: Spanned<RawAsset>) {
        self.any_baseline = true;
        let span = a.span();
        let a = a.into_inner();
        let mut k = KnownAsset::default();
        for ip in &a.ips {
            match ip.get_ref().parse::<IpAddr>() {
                Ok(v) => k.ips.push(v),
                Err(_) => {
                    let w = f.at(ip.span());
                    self.err(&w, format!("`{}` is not an IP address", ip.get_ref()));
                }
            }
        }
        for mac in &a.macs {
            match parse_mac(mac.get_ref()) {
                Some(m) => k.macs.push(m),
                None => {
                    let w = f.at(mac.span());
                    self.err(
                        &w,
                        format!(
                            "`{}` is not a MAC address (e.g. 00:1b:1b:12:34:56)",
                            mac.get_ref()
                        ),
                    );
                }
            }
        }
        if a.ips.is_empty() && a.macs.is_empty() {
            let w = f.at(span);
            self.err(&w, "an asset needs `ips` or `macs`".into());
        }
        self.baseline().assets.push(k);
    }

    fn baseline(&mut self) -> &mut Baseline {
        self.out
            .policy
            .baseline
            .get_or_insert_with(Baseline::default)
    }

    fn ip(&mut self, f: &FileCx<'_>, s: &Spanned<String>) -> Option<IpAddr> {
        match s.get_ref().trim().parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let w = f.at(s.span());
                self.err(&w, format!("`{}` is not an IP address", s.get_ref()));
                None
            }
        }
    }

    fn pair(&mut self, f: &FileCx<'_>, p: Spanned<RawPair>) {
        self.any_baseline = true;
        let origin = f.origin(p.span());
        let p = p.into_inner();
        let client = self.ip(f, &p.client);
        let server = self.ip(f, &p.server);
        let protocol = self.protocols(f, std::slice::from_ref(&p.protocol)).pop();
        let operations = self.operations(f, &p.operations).into_iter().collect();
        let functions = self
            .functions(f, &p.functions)
            .into_iter()
            .map(|c| (c, String::new()))
            .collect();
        let reads = p
            .reads
            .as_ref()
            .map(|a| self.addresses(f, a))
            .unwrap_or_default();
        let writes = p
            .writes
            .as_ref()
            .map(|a| self.addresses(f, a))
            .unwrap_or_default();
        let (Some(client), Some(server), Some(protocol)) = (client, server, protocol) else {
            return;
        };
        let key = (client, server, protocol);
        let pair = Pair {
            operations,
            functions,
            reads,
            writes,
            origin: origin.clone(),
        };
        if let Some(prev) = self.baseline().pairs.get(&key) {
            let prev = prev.origin.to_string();
            let w = f.at(p.client.span());
            self.err(
                &w,
                format!(
                    "the pair {} -> {} {} is already given at {prev}",
                    key.0, key.1, key.2
                ),
            );
            return;
        }
        self.baseline().pairs.insert(key, pair);
    }

    fn accept(&mut self, f: &FileCx<'_>, a: Spanned<RawAccept>) {
        self.any_baseline = true;
        let a = a.into_inner();
        let rule = a.rule.get_ref().trim().to_string();
        if !crate::detect::RULES.iter().any(|r| r.id == rule) {
            let w = f.at(a.rule.span());
            self.err(
                &w,
                format!("`{rule}` is not a built-in rule id (docs/detections.md lists them)"),
            );
        }
        let src = a.src.as_ref().and_then(|s| self.ip(f, s));
        let dst = a.dst.as_ref().and_then(|s| self.ip(f, s));
        self.baseline().accepts.push(Accept { rule, src, dst });
    }

    /// Resolves zone names in rules once every file is read.
    fn finish(mut self) -> Loaded {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let from = self.endpoint(p.from.as_ref(), p.deny);
            let to = self.endpoint(p.to.as_ref(), p.deny);
            if p.deny {
                self.out.policy.denies.push(Deny {
                    name: p.name,
                    from,
                    to,
                    forbid: p.m,
                    origin: p.origin,
                });
            } else {
                self.out.policy.conduits.push(Conduit {
                    name: p.name,
                    from,
                    to,
                    allow: p.m,
                    origin: p.origin,
                });
            }
        }
        if !self.any_baseline {
            self.out.policy.baseline = None;
        }
        let files = &self.out.files;
        let rank = |p: &PathBuf| files.iter().position(|f| f == p).unwrap_or(usize::MAX);
        self.out
            .diagnostics
            .sort_by_key(|d| (rank(&d.file), d.line, d.column));
        self.out
    }

    fn endpoint(&mut self, e: Option<&(String, Where)>, deny: bool) -> Endpoint {
        let Some((name, w)) = e else {
            return Endpoint::Any;
        };
        if name == "*" {
            return Endpoint::Any;
        }
        if let Some((i, _)) = self.zone_names.get(name) {
            return Endpoint::Zone(*i);
        }
        if deny {
            let nets: Option<Vec<Cidr>> = name.split(',').map(Cidr::parse).collect();
            if let Some(n) = nets {
                return Endpoint::Net(n);
            }
        }
        let zones: Vec<&str> = self.zone_names.keys().map(String::as_str).collect();
        let mut zones = zones;
        zones.sort_unstable();
        let what = if deny {
            "a zone name, an address or network, or \"*\""
        } else {
            "a zone name or \"*\""
        };
        self.err(
            w,
            format!(
                "`{name}` is not a zone (zones: {}); expected {what}",
                if zones.is_empty() {
                    "none defined".to_string()
                } else {
                    zones.join(", ")
                }
            ),
        );
        Endpoint::Any
    }
}

fn protocol_name_ok(s: &str) -> bool {
    if let Some((t, port)) = s.split_once('/') {
        return matches!(t, "tcp" | "udp" | "ip") && port.parse::<u16>().is_ok();
    }
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `00:1b:1b:12:34:56` (or with `-`).
pub(crate) fn parse_mac(s: &str) -> Option<MacAddr> {
    let mut b = [0u8; 6];
    let mut parts = s.trim().split([':', '-']);
    for x in &mut b {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *x = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddr(b))
}
