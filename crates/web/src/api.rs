//! The REST API and the web UI's files: routing, sessions, CSRF, roles.
//!
//! Every route is in [`ROUTES`] with the least role it needs; the OpenAPI
//! document (`openapi.json`, served at `/api/openapi.json`) describes the
//! same routes, which a test checks.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use plantshield_engine::policy::{self, Policy};
use plantshield_store::platform::{self, queries};
use rusqlite::Connection;
use serde_json::{json, Value};

use crate::auth::{self, RateLimiter, Role};
use crate::http::{Body, Handler, Request, Response};
use crate::ui;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no session.
    Public,
    /// A session of at least this role.
    Role(Role),
}

/// Every API route: method, path pattern (`{id}` an integer), access.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/api/health", Access::Public),
    ("GET", "/api/openapi.json", Access::Public),
    ("POST", "/api/session", Access::Public),
    ("GET", "/api/session", Access::Role(Role::Viewer)),
    ("DELETE", "/api/session", Access::Role(Role::Viewer)),
    ("GET", "/api/stats", Access::Role(Role::Viewer)),
    ("GET", "/api/assets", Access::Role(Role::Viewer)),
    ("GET", "/api/assets/{id}", Access::Role(Role::Viewer)),
    (
        "GET",
        "/api/assets/{id}/evidence",
        Access::Role(Role::Viewer),
    ),
    (
        "GET",
        "/api/assets/{id}/history",
        Access::Role(Role::Viewer),
    ),
    ("GET", "/api/edges", Access::Role(Role::Viewer)),
    ("GET", "/api/map", Access::Role(Role::Viewer)),
    ("GET", "/api/events", Access::Role(Role::Viewer)),
    ("GET", "/api/events/{id}", Access::Role(Role::Viewer)),
    ("GET", "/api/alerts", Access::Role(Role::Viewer)),
    ("GET", "/api/alerts/{id}", Access::Role(Role::Viewer)),
    (
        "POST",
        "/api/alerts/{id}/acknowledge",
        Access::Role(Role::Analyst),
    ),
    (
        "POST",
        "/api/alerts/{id}/close",
        Access::Role(Role::Analyst),
    ),
    (
        "POST",
        "/api/alerts/{id}/assign",
        Access::Role(Role::Analyst),
    ),
    (
        "POST",
        "/api/alerts/{id}/comments",
        Access::Role(Role::Analyst),
    ),
    ("GET", "/api/policy", Access::Role(Role::Viewer)),
    ("PUT", "/api/policy", Access::Role(Role::Analyst)),
    ("POST", "/api/policy/validate", Access::Role(Role::Analyst)),
    ("GET", "/api/captures", Access::Role(Role::Viewer)),
    ("GET", "/api/report", Access::Role(Role::Viewer)),
    ("GET", "/api/audit", Access::Role(Role::Analyst)),
    ("GET", "/api/users", Access::Role(Role::Admin)),
    ("POST", "/api/users", Access::Role(Role::Admin)),
    ("PUT", "/api/users/{id}", Access::Role(Role::Admin)),
    ("DELETE", "/api/users/{id}", Access::Role(Role::Admin)),
    (
        "POST",
        "/api/users/{id}/password",
        Access::Role(Role::Admin),
    ),
    ("GET", "/api/stream", Access::Role(Role::Viewer)),
];

/// The OpenAPI document.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Ingestion progress, for `/api/health`.
#[derive(Debug, Default, Clone)]
pub struct IngestStatus {
    /// Captures still to read (or being read).
    pub pending: usize,
    /// Captures read (or skipped) so far.
    pub done: Vec<Value>,
}

/// The application: the store, sessions and limits.
pub struct App {
    db: PathBuf,
    pool: Mutex<Vec<Connection>>,
    limiter: RateLimiter,
    /// Ingestion progress.
    pub ingest: Mutex<IngestStatus>,
    policy: RwLock<Option<Policy>>,
    /// How often the live stream looks for changes.
    pub stream_interval: Duration,
}

/// A logged-in caller.
struct Caller {
    user: queries::User,
    role: Role,
    csrf: String,
    token_hash: String,
}

type Res = Result<Response, Response>;

fn internal(e: impl std::fmt::Display) -> Response {
    eprintln!("plantshield: serve: {e}");
    Response::error(500, "internal", "internal error (see the server log)")
}

fn not_found() -> Response {
    Response::error(404, "not_found", "no such resource")
}

fn bad(msg: &str) -> Response {
    Response::error(400, "bad_request", msg)
}

impl App {
    /// An application over the store at `db` (created by [`platform::open`]).
    pub fn new(db: PathBuf, limits: auth::Limits) -> Result<Self, String> {
        let conn = platform::open(&db).map_err(|e| e.to_string())?;
        let policy = queries::current_policy(&conn)
            .map_err(|e| e.to_string())?
            .and_then(|(_, name, text, _, _)| {
                let l = policy::load_str(Path::new(&name), &text);
                (!l.has_errors()).then_some(l.policy)
            });
        Ok(App {
            db,
            pool: Mutex::new(vec![conn]),
            limiter: RateLimiter::new(limits),
            ingest: Mutex::default(),
            policy: RwLock::new(policy),
            stream_interval: Duration::from_secs(1),
        })
    }

    /// The current policy (for ingestion).
    pub fn policy(&self) -> Option<Policy> {
        self.policy.read().ok().and_then(|p| p.clone())
    }

    fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> plantshield_store::Result<T>,
    ) -> Result<T, Response> {
        let conn = self.pool.lock().ok().and_then(|mut p| p.pop());
        let conn = match conn {
            Some(c) => c,
            None => plantshield_store::open(&self.db).map_err(internal)?,
        };
        let r = f(&conn).map_err(internal);
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < 8 {
                p.push(conn);
            }
        }
        r
    }

    /// Creates the first admin when there is no user: the password from
    /// `PLANTSHIELD_ADMIN_PASSWORD`, or a generated one printed once.
    pub fn ensure_admin(&self, env_password: Option<String>) -> Result<(), String> {
        let n = self
            .with_conn(queries::user_count)
            .map_err(|_| "cannot read users".to_string())?;
        if n > 0 {
            return Ok(());
        }
        let (pw, generated) = match env_password.filter(|p| !p.is_empty()) {
            Some(p) => (p, false),
            None => (auth::random_password(), true),
        };
        let hash = auth::hash_password(&pw)?;
        self.with_conn(|c| {
            queries::create_user(c, "admin", &hash, "admin")?;
            queries::audit_user(
                c,
                "system",
                "create_user",
                Some("admin"),
                Some("admin"),
                None,
            )
        })
        .map_err(|_| "cannot create the admin user".to_string())?;
        if generated {
            eprintln!(
                "plantshield: created user admin with password {pw} (shown once; set PLANTSHIELD_ADMIN_PASSWORD to choose it)"
            );
        } else {
            eprintln!("plantshield: created user admin (password from PLANTSHIELD_ADMIN_PASSWORD)");
        }
        Ok(())
    }

    fn caller(&self, req: &Request) -> Result<Option<Caller>, Response> {
        let Some(token) = req.cookie(auth::COOKIE) else {
            return Ok(None);
        };
        let th = auth::token_hash(token);
        let found = self.with_conn(|c| queries::session(c, &th))?;
        Ok(found.and_then(|(user, csrf)| {
            Role::parse(&user.role).map(|role| Caller {
                user,
                role,
                csrf,
                token_hash: th,
            })
        }))
    }

    fn audit(
        &self,
        c: &Caller,
        req: &Request,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) {
        let remote = req.remote.to_string();
        let _ = self.with_conn(|conn| {
            queries::audit_user(
                conn,
                &c.user.username,
                action,
                target,
                detail,
                Some(&remote),
            )
        });
    }
}

/// Matches `path` against a pattern; the `{id}` segment's value.
fn matches(pattern: &str, path: &str) -> Option<Option<String>> {
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    if p.len() != s.len() {
        return None;
    }
    let mut id = None;
    for (a, b) in p.iter().zip(&s) {
        if *a == "{id}" {
            if b.is_empty() {
                return None;
            }
            id = Some(b.to_string());
        } else if a != b {
            return None;
        }
    }
    Some(id)
}

fn page(req: &Request, default: i64) -> Result<queries::Page, Response> {
    let limit = match req.param("limit") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad("limit must be an integer from 1 to 1000"))?,
        None => default,
    };
    let offset = match req.param("offset") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=1_000_000_000).contains(n))
            .ok_or_else(|| bad("offset must be a non-negative integer"))?,
        None => 0,
    };
    Ok(queries::Page { limit, offset })
}

fn text_param(req: &Request, name: &str) -> Option<String> {
    req.param(name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect())
}

fn int_param(req: &Request, name: &str) -> Result<Option<i64>, Response> {
    match req.param(name) {
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| bad(&format!("{name} must be an integer"))),
        None => Ok(None),
    }
}

fn enum_param(req: &Request, name: &str, allowed: &[&str]) -> Result<Option<String>, Response> {
    match req.param(name) {
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(bad(&format!(
            "{name} must be one of {}",
            allowed.join(", ")
        ))),
        None => Ok(None),
    }
}

/// Parses RFC 3339 (`2026-11-26T09:00:00Z`, fractions and offsets allowed)
/// or a date (`2026-11-26`, midnight UTC) into ns since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let (mut h, mut mi, mut sec, mut frac_ns, mut off) = (0, 0, 0, 0i64, 0i64);
    if b.len() > 10 {
        if !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b.len() < 19 {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        h = num(11..13)?;
        mi = num(14..16)?;
        sec = num(17..19)?;
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut i = 19;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = s.get(start..i)?;
            if digits.is_empty() {
                return None;
            }
            // Beyond nanoseconds, the digits are dropped.
            let digits = &digits[..digits.len().min(9)];
            frac_ns = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
        }
        match s.get(i..)? {
            "Z" | "z" => {}
            t if t.len() == 6 && (t.starts_with('+') || t.starts_with('-')) && &t[3..4] == ":" => {
                let oh = num(i + 1..i + 3)?;
                let om = num(i + 4..i + 6)?;
                off = (oh * 60 + om) * 60 * if t.starts_with('-') { -1 } else { 1 };
            }
            _ => return None,
        }
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - off;
    // Times outside 1677..2262 are the earliest or latest time there is.
    Some(secs.saturating_mul(1_000_000_000).saturating_add(frac_ns))
}

fn body_json(req: &Request) -> Result<serde_json::Map<String, Value>, Response> {
    if req.body.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("the body must be a JSON object")),
        Err(_) => Err(bad("the body is not JSON")),
    }
}

fn str_field<'a>(
    m: &'a serde_json::Map<String, Value>,
    k: &str,
) -> Result<Option<&'a str>, Response> {
    match m.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad(&format!("{k} must be a string"))),
    }
}

fn session_cookie(token: &str, max_age: u64) -> String {
    format!(
        "{}={token}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict",
        auth::COOKIE
    )
}

/// The zone of an asset: its policy zone, else its /24 (IPv4) or /64
/// (IPv6) network, else `unaddressed` ([`policy::zone_name`]).
pub fn zone_of(policy: Option<&Policy>, ips: &[IpAddr]) -> String {
    policy::zone_name(policy, ips)
}

fn ips_of(v: &Value) -> Vec<IpAddr> {
    queries::asset_ips(v)
}

impl App {
    fn add_zone(&self, v: &mut Value) {
        let p = self.policy.read().ok();
        let z = zone_of(p.as_ref().and_then(|p| p.as_ref()), &ips_of(v));
        v["zone"] = Value::String(z);
    }

    fn route(
        &self,
        req: &Request,
        m: &str,
        path: &str,
        id: Option<String>,
        caller: Option<&Caller>,
    ) -> Res {
        let id_num = || -> Result<i64, Response> {
            id.as_deref()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(not_found)
        };
        match (m, path) {
            ("GET", "/api/health") => {
                let st = self.ingest.lock().map(|s| s.clone()).unwrap_or_default();
                Ok(Response::json(
                    200,
                    &json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"),
                            "ingesting": st.pending > 0, "pending_captures": st.pending,
                            "captures": st.done}),
                ))
            }
            ("GET", "/api/openapi.json") => Ok(Response::new(200, "application/json", OPENAPI)),
            ("POST", "/api/session") => self.login(req),
            ("GET", "/api/session") => {
                let c = caller.ok_or_else(not_found)?;
                Ok(Response::json(
                    200,
                    &json!({"username": c.user.username, "role": c.role.name(), "csrf_token": c.csrf}),
                ))
            }
            ("DELETE", "/api/session") => {
                let c = caller.ok_or_else(not_found)?;
                self.with_conn(|conn| queries::delete_session(conn, &c.token_hash))?;
                self.audit(c, req, "logout", None, None);
                Ok(Response::new(204, "application/json", "")
                    .with("Set-Cookie", session_cookie("", 0)))
            }
            ("GET", "/api/stats") => self.stats(),
            ("GET", "/api/assets") => {
                let f = queries::AssetFilter {
                    role: text_param(req, "role"),
                    q: text_param(req, "q"),
                };
                let p = page(req, 100)?;
                let mut v = self.with_conn(|c| queries::assets(c, &f, p))?;
                if let Some(items) = v["items"].as_array_mut() {
                    for a in items {
                        self.add_zone(a);
                    }
                }
                Ok(Response::json(200, &v))
            }
            ("GET", "/api/assets/{id}") => {
                let id = id_num()?;
                let mut v = self
                    .with_conn(|c| queries::asset(c, id))?
                    .ok_or_else(not_found)?;
                self.add_zone(&mut v);
                Ok(Response::json(200, &v))
            }
            ("GET", "/api/assets/{id}/evidence") => {
                let id = id_num()?;
                let v = self.with_conn(|c| {
                    Ok(if queries::asset_exists(c, id)? {
                        Some(queries::asset_evidence(c, id)?)
                    } else {
                        None
                    })
                })?;
                Ok(Response::json(
                    200,
                    &json!({"items": v.ok_or_else(not_found)?}),
                ))
            }
            ("GET", "/api/assets/{id}/history") => {
                let id = id_num()?;
                let v = self.with_conn(|c| {
                    Ok(if queries::asset_exists(c, id)? {
                        Some(queries::asset_history(c, id)?)
                    } else {
                        None
                    })
                })?;
                Ok(Response::json(
                    200,
                    &json!({"items": v.ok_or_else(not_found)?}),
                ))
            }
            ("GET", "/api/edges") => {
                let asset = int_param(req, "asset")?;
                let p = page(req, 500)?;
                Ok(Response::json(
                    200,
                    &self.with_conn(|c| queries::edges(c, asset, p))?,
                ))
            }
            ("GET", "/api/map") => self.map(),
            ("GET", "/api/events") => {
                let time = |k: &str| -> Result<Option<i64>, Response> {
                    match req.param(k) {
                        Some(t) => parse_time(t.trim())
                            .map(Some)
                            .ok_or_else(|| bad(&format!("{k} must be an RFC 3339 time or a date"))),
                        None => Ok(None),
                    }
                };
                let f = queries::EventFilter {
                    from: time("from")?,
                    to: time("to")?,
                    event_type: text_param(req, "type"),
                    protocol: text_param(req, "protocol"),
                    operation: text_param(req, "operation"),
                    asset: int_param(req, "asset")?,
                    alert: int_param(req, "alert")?,
                    q: text_param(req, "q"),
                };
                let p = page(req, 100)?;
                Ok(Response::json(
                    200,
                    &self.with_conn(|c| queries::events(c, &f, p))?,
                ))
            }
            ("GET", "/api/events/{id}") => {
                let id = id_num()?;
                let v = self
                    .with_conn(|c| queries::event(c, id))?
                    .ok_or_else(not_found)?;
                Ok(Response::json(200, &v))
            }
            ("GET", "/api/alerts") => {
                let f = queries::AlertFilter {
                    status: enum_param(req, "status", &["open", "acknowledged", "closed"])?,
                    severity: enum_param(req, "severity", &["low", "medium", "high", "critical"])?,
                    rule_id: text_param(req, "rule_id"),
                    asset: int_param(req, "asset")?,
                    assignee: text_param(req, "assignee"),
                    q: text_param(req, "q"),
                };
                let p = page(req, 100)?;
                Ok(Response::json(
                    200,
                    &self.with_conn(|c| queries::alerts(c, &f, p))?,
                ))
            }
            ("GET", "/api/alerts/{id}") => {
                let id = id_num()?;
                let v = self
                    .with_conn(|c| queries::alert(c, id))?
                    .ok_or_else(not_found)?;
                Ok(Response::json(200, &v))
            }
            ("POST", "/api/alerts/{id}/acknowledge")
            | ("POST", "/api/alerts/{id}/close")
            | ("POST", "/api/alerts/{id}/assign")
            | ("POST", "/api/alerts/{id}/comments") => {
                let c = caller.ok_or_else(not_found)?;
                let id = id_num()?;
                self.alert_action(req, c, id, path.rsplit('/').next().unwrap_or(""))
            }
            ("GET", "/api/policy") => {
                let cur = self.with_conn(queries::current_policy)?;
                let v = match cur {
                    Some((id, name, text, uploaded, user)) => {
                        let l = policy::load_str(Path::new(&name), &text);
                        json!({"id": id, "name": name, "text": text, "uploaded": uploaded,
                               "uploaded_by": user, "summary": summary(&l.policy)})
                    }
                    None => json!({"id": null, "name": null, "text": null, "uploaded": null,
                                   "uploaded_by": null, "summary": null}),
                };
                Ok(Response::json(200, &v))
            }
            ("PUT", "/api/policy") | ("POST", "/api/policy/validate") => {
                let c = caller.ok_or_else(not_found)?;
                self.policy_upload(req, c, m == "PUT")
            }
            ("GET", "/api/captures") => Ok(Response::json(
                200,
                &json!({"items": self.with_conn(queries::files)?}),
            )),
            ("GET", "/api/report") => self.report(),
            ("GET", "/api/audit") => {
                let p = page(req, 100)?;
                Ok(Response::json(
                    200,
                    &self.with_conn(|c| queries::user_audit(c, p))?,
                ))
            }
            ("GET", "/api/users") => Ok(Response::json(
                200,
                &json!({"items": self.with_conn(queries::users)?}),
            )),
            ("POST", "/api/users") => {
                let c = caller.ok_or_else(not_found)?;
                self.create_user(req, c)
            }
            ("PUT", "/api/users/{id}")
            | ("DELETE", "/api/users/{id}")
            | ("POST", "/api/users/{id}/password") => {
                let c = caller.ok_or_else(not_found)?;
                let id = id_num()?;
                self.change_user(req, c, m, path.ends_with("/password"), id)
            }
            ("GET", "/api/stream") => Ok(self.stream()),
            _ => Err(not_found()),
        }
    }

    fn login(&self, req: &Request) -> Res {
        let body = body_json(req)?;
        let (Some(user), Some(pw)) = (str_field(&body, "username")?, str_field(&body, "password")?)
        else {
            return Err(bad("username and password are required"));
        };
        if user.len() > 128 || pw.len() > 1024 {
            return Err(bad("username or password too long"));
        }
        if let Some(secs) = self.with_conn(|c| self.limiter.blocked(c, user, req.remote))? {
            return Err(Response::error(
                429,
                "rate_limited",
                "too many failed logins; try again later",
            )
            .with("Retry-After", secs.to_string()));
        }
        let found = self.with_conn(|c| queries::user_by_name(c, user))?;
        let ok = match &found {
            Some(u) => auth::verify_password(pw, &u.password_hash) && !u.disabled,
            None => {
                auth::verify_password(pw, auth::dummy_hash());
                false
            }
        };
        let remote = req.remote.to_string();
        let (true, Some(u)) = (ok, found) else {
            self.with_conn(|c| {
                self.limiter.failed(c, user, req.remote)?;
                queries::audit_user(c, user, "login_failed", None, None, Some(&remote))
            })?;
            return Err(Response::error(
                401,
                "unauthorized",
                "wrong username or password",
            ));
        };
        self.with_conn(|c| self.limiter.succeeded(c, user))?;
        let token = auth::random_hex(32);
        let csrf = auth::random_hex(32);
        let expires = platform::now_ns() + auth::SESSION_TTL.as_nanos() as i64;
        self.with_conn(|c| {
            queries::create_session(c, &auth::token_hash(&token), u.id, &csrf, expires)?;
            queries::audit_user(c, &u.username, "login", None, None, Some(&remote))
        })?;
        Ok(Response::json(
            200,
            &json!({"username": u.username, "role": u.role, "csrf_token": csrf}),
        )
        .with(
            "Set-Cookie",
            session_cookie(&token, auth::SESSION_TTL.as_secs()),
        ))
    }

    fn alert_action(&self, req: &Request, c: &Caller, id: i64, action: &str) -> Res {
        let body = body_json(req)?;
        let comment = str_field(&body, "comment")?.unwrap_or("");
        if comment.len() > 4000 {
            return Err(bad("comment too long"));
        }
        let (status, assignee, verb) = match action {
            "acknowledge" => (Some("acknowledged"), None, "acknowledge"),
            "close" => (Some("closed"), None, "close"),
            "assign" => {
                let a = str_field(&body, "assignee")?
                    .filter(|a| !a.is_empty() && a.len() <= 128)
                    .ok_or_else(|| bad("assignee (a user name) is required"))?;
                let known = self.with_conn(|conn| queries::user_by_name(conn, a))?;
                if known.is_none() {
                    return Err(Response::error(
                        422,
                        "unknown_user",
                        "no such user to assign",
                    ));
                }
                (None, Some(a.to_string()), "assign")
            }
            _ => {
                if comment.is_empty() {
                    return Err(bad("comment is required"));
                }
                (None, None, "comment")
            }
        };
        let text = match (&assignee, comment) {
            (Some(a), "") => format!("assigned to {a}"),
            (Some(a), t) => format!("assigned to {a}: {t}"),
            (None, t) => t.to_string(),
        };
        let found = self.with_conn(|conn| {
            queries::alert_action(
                conn,
                id,
                &c.user.username,
                verb,
                status,
                assignee.as_deref(),
                &text,
            )
        })?;
        if !found {
            return Err(not_found());
        }
        self.audit(
            c,
            req,
            &format!("alert_{verb}"),
            Some(&format!("alert/{id}")),
            Some(&text),
        );
        let v = self
            .with_conn(|conn| queries::alert(conn, id))?
            .ok_or_else(not_found)?;
        Ok(Response::json(200, &v))
    }

    fn policy_upload(&self, req: &Request, c: &Caller, store: bool) -> Res {
        let body = body_json(req)?;
        let text =
            str_field(&body, "text")?.ok_or_else(|| bad("text (the policy TOML) is required"))?;
        let name = str_field(&body, "name")?
            .filter(|n| !n.is_empty())
            .unwrap_or("policy.toml");
        if name.len() > 200 || name.contains(['/', '\\']) {
            return Err(bad("name must be a file name without directories"));
        }
        // Uploaded text must not make the server read its own files.
        let includes = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("policy")?.as_table()?.get("include").cloned())
            .is_some();
        let (diags, ok, sum) = if includes {
            (
                vec![json!({"line": 0, "column": 0, "warning": false,
                            "message": "`include` is not allowed in an uploaded policy: upload one file"})],
                false,
                Value::Null,
            )
        } else {
            let l = policy::load_str(Path::new(name), text);
            let d: Vec<Value> = l
                .diagnostics
                .iter()
                .map(|d| {
                    json!({"line": d.line, "column": d.column, "warning": d.warning,
                                "message": d.message})
                })
                .collect();
            let ok = !l.has_errors();
            let s = if ok { summary(&l.policy) } else { Value::Null };
            if ok && store {
                let pid = self
                    .with_conn(|conn| queries::save_policy(conn, name, text, &c.user.username))?;
                if let Ok(mut p) = self.policy.write() {
                    *p = Some(l.policy);
                }
                self.audit(
                    c,
                    req,
                    "policy_upload",
                    Some(&format!("policy/{pid}")),
                    Some(name),
                );
            }
            (d, ok, s)
        };
        let v = json!({"valid": ok, "diagnostics": diags, "summary": sum});
        if store && !ok {
            return Err(Response::json(422, &v));
        }
        Ok(Response::json(200, &v))
    }

    fn create_user(&self, req: &Request, c: &Caller) -> Res {
        let body = body_json(req)?;
        let name = str_field(&body, "username")?.ok_or_else(|| bad("username is required"))?;
        let pw = str_field(&body, "password")?.ok_or_else(|| bad("password is required"))?;
        let role = str_field(&body, "role")?.ok_or_else(|| bad("role is required"))?;
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
        {
            return Err(bad("username: 1 to 64 letters, digits, '.', '_' or '-'"));
        }
        if pw.chars().count() < 8 || pw.len() > 1024 {
            return Err(bad("password: at least 8 characters"));
        }
        let role = Role::parse(role).ok_or_else(|| bad("role must be admin, analyst or viewer"))?;
        let hash = auth::hash_password(pw).map_err(internal)?;
        let created =
            self.with_conn(|conn| queries::create_user(conn, name, &hash, role.name()))?;
        if !created {
            return Err(Response::error(409, "exists", "a user of that name exists"));
        }
        self.audit(c, req, "create_user", Some(name), Some(role.name()));
        Ok(Response::json(
            201,
            &json!({"username": name, "role": role.name()}),
        ))
    }

    /// `PUT /api/users/{id}` (role, disabled), `DELETE /api/users/{id}`,
    /// `POST /api/users/{id}/password`. The last enabled admin cannot be
    /// demoted, disabled or deleted, nor can admins disable or delete
    /// themselves.
    fn change_user(&self, req: &Request, c: &Caller, m: &str, password: bool, id: i64) -> Res {
        let target = self
            .with_conn(|conn| queries::user_by_id(conn, id))?
            .ok_or_else(not_found)?;
        let refused = |r: queries::UserChange| match r {
            queries::UserChange::Done => Ok(()),
            queries::UserChange::NotFound => Err(not_found()),
            queries::UserChange::LastAdmin => Err(Response::error(
                409,
                "last_admin",
                "this would leave no enabled admin",
            )),
        };
        let own = |what: &str| {
            Response::error(
                409,
                "self",
                &format!("an admin cannot {what} their own account"),
            )
        };
        let user_json = |conn: &Connection| -> plantshield_store::Result<Value> {
            Ok(queries::users(conn)?
                .as_array()
                .and_then(|a| a.iter().find(|u| u["id"] == id).cloned())
                .unwrap_or(Value::Null))
        };
        if m == "DELETE" {
            if target.id == c.user.id {
                return Err(own("delete"));
            }
            refused(self.with_conn(|conn| queries::delete_user(conn, id))?)?;
            self.audit(c, req, "delete_user", Some(&target.username), None);
            return Ok(Response::new(204, "application/json", ""));
        }
        let body = body_json(req)?;
        if password {
            let pw = str_field(&body, "password")?.ok_or_else(|| bad("password is required"))?;
            if pw.chars().count() < 8 || pw.len() > 1024 {
                return Err(bad("password: at least 8 characters"));
            }
            let hash = auth::hash_password(pw).map_err(internal)?;
            if !self.with_conn(|conn| queries::set_password(conn, id, &hash, &c.token_hash))? {
                return Err(not_found());
            }
            self.audit(c, req, "reset_password", Some(&target.username), None);
            return Ok(Response::json(200, &self.with_conn(user_json)?));
        }
        let role = match str_field(&body, "role")? {
            Some(r) => {
                Some(Role::parse(r).ok_or_else(|| bad("role must be admin, analyst or viewer"))?)
            }
            None => None,
        };
        let disabled = match body.get("disabled") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(bad("disabled must be true or false")),
        };
        if role.is_none() && disabled.is_none() {
            return Err(bad("give role and/or disabled"));
        }
        if disabled == Some(true) && target.id == c.user.id {
            return Err(own("disable"));
        }
        refused(
            self.with_conn(|conn| queries::update_user(conn, id, role.map(Role::name), disabled))?,
        )?;
        let mut what = Vec::new();
        if let Some(r) = role {
            what.push(format!("role {}", r.name()));
        }
        if let Some(d) = disabled {
            what.push(if d { "disabled" } else { "enabled" }.to_string());
        }
        self.audit(
            c,
            req,
            "update_user",
            Some(&target.username),
            Some(&what.join(", ")),
        );
        Ok(Response::json(200, &self.with_conn(user_json)?))
    }

    fn stats(&self) -> Res {
        let mut v = self.with_conn(queries::stats)?;
        let assets = self.with_conn(queries::all_assets)?;
        let p = self.policy.read().ok();
        let pol = p.as_ref().and_then(|p| p.as_ref());
        let rz = queries::risk_by_zone(&assets, |a| zone_of(pol, &ips_of(a)));
        v["risk_by_zone"] = Value::Array(rz);
        v["zones_from"] = Value::String(if pol.is_some() { "policy" } else { "subnet" }.into());
        Ok(Response::json(200, &v))
    }

    /// The plant security report (the page `plantshield report` writes),
    /// zones from the current policy.
    fn report(&self) -> Res {
        // A copy: policy uploads do not wait for the report.
        let pol = self.policy();
        let opts = plantshield_report::Options {
            site: None,
            generated_ns: platform::now_ns(),
        };
        let html = self.with_conn(|c| plantshield_report::render(c, pol.as_ref(), &opts))?;
        Ok(Response::new(200, "text/html; charset=utf-8", html).with(
            "Content-Disposition",
            "attachment; filename=\"plantshield-report.html\"",
        ))
    }

    fn map(&self) -> Res {
        let mut assets = self.with_conn(queries::all_assets)?;
        for a in &mut assets {
            self.add_zone(a);
        }
        let edges = self.with_conn(|c| {
            queries::edges(
                c,
                None,
                queries::Page {
                    limit: 5000,
                    offset: 0,
                },
            )
        })?;
        Ok(Response::json(
            200,
            &json!({"nodes": assets, "edges": edges["items"].clone()}),
        ))
    }

    fn stream(&self) -> Response {
        let db = self.db.clone();
        let interval = self.stream_interval;
        let f = move |w: &mut dyn std::io::Write| -> std::io::Result<()> {
            let conn = plantshield_store::open_read_only(&db)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let mut last = None;
            w.write_all(b"retry: 3000\n\n")?;
            w.flush()?;
            // A stream lasts at most an hour; the browser reconnects.
            for tick in 0..3600 {
                let m = queries::change_marker(&conn).ok();
                if m != last {
                    if let Some((ev, al, wf, assets)) = m {
                        let data = json!({"last_event": ev, "last_alert": al, "last_workflow": wf, "last_asset": assets});
                        w.write_all(format!("event: update\ndata: {data}\n\n").as_bytes())?;
                    }
                    last = m;
                } else if tick % 15 == 0 {
                    w.write_all(b": keep-alive\n\n")?;
                }
                w.flush()?;
                std::thread::sleep(interval);
            }
            Ok(())
        };
        Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "text/event-stream".into()),
                ("Cache-Control".into(), "no-store".into()),
            ],
            body: Body::Stream(Box::new(f)),
        }
    }
}

fn summary(p: &Policy) -> Value {
    json!({
        "zones": p.zones.iter().map(|z| z.name.clone()).collect::<Vec<_>>(),
        "conduits": p.conduits.len(),
        "deny_rules": p.denies.len(),
        "baseline_assets": p.baseline.as_ref().map_or(0, |b| b.assets.len()),
    })
}

impl Handler for App {
    fn handle(&self, req: &Request) -> Response {
        let path = if req.path.len() > 1 {
            req.path.trim_end_matches('/')
        } else {
            req.path.as_str()
        };
        if !path.starts_with("/api/") && path != "/api" {
            return ui::serve(req, path);
        }
        let method = if req.method == "HEAD" {
            "GET"
        } else {
            req.method.as_str()
        };
        let mut allowed = Vec::new();
        let mut found = None;
        for (m, pat, access) in ROUTES {
            if let Some(id) = matches(pat, path) {
                allowed.push(*m);
                if *m == method {
                    found = Some((*pat, id, *access));
                }
            }
        }
        let Some((pat, id, access)) = found else {
            if allowed.is_empty() {
                return not_found();
            }
            return Response::error(405, "method_not_allowed", "method not allowed")
                .with("Allow", allowed.join(", "));
        };
        let caller = match self.caller(req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if let Access::Role(need) = access {
            let Some(c) = &caller else {
                return Response::error(401, "unauthorized", "log in first (POST /api/session)");
            };
            if method != "GET"
                && !req
                    .header(auth::CSRF_HEADER)
                    .is_some_and(|t| auth::constant_eq(t, &c.csrf))
            {
                return Response::error(
                    403,
                    "csrf",
                    "missing or wrong X-CSRF-Token header (the csrf_token of POST /api/session)",
                );
            }
            if c.role < need {
                return Response::error(
                    403,
                    "forbidden",
                    &format!("this needs the {} role", need.name()),
                );
            }
        }
        let mut r = match self.route(req, method, pat, id, caller.as_ref()) {
            Ok(r) | Err(r) => r,
        };
        r.headers.push(("Cache-Control".into(), "no-store".into()));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(
            parse_time("2026-11-26T09:00:01.5+01:00"),
            Some((1_795_683_601 - 3600) * 1_000_000_000 + 500_000_000)
        );
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(parse_time("garbage"), None);
        assert_eq!(parse_time("0725-11-16"), Some(i64::MIN));
        assert_eq!(parse_time("6662-09-24T16:41:06Z"), Some(i64::MAX));
        assert_eq!(
            parse_time("1970-01-01T00:00:00.1234567891Z"),
            Some(123_456_789)
        );
        assert_eq!(parse_time("2026-11-26T09:00:01"), None);
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_back() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (m, p, _) in ROUTES {
            let item = paths
                .get(*p)
                .unwrap_or_else(|| panic!("{p} not in openapi.json"));
            assert!(
                item.get(m.to_ascii_lowercase()).is_some(),
                "{m} {p} not in openapi.json"
            );
        }
        for (p, item) in paths {
            for m in item.as_object().unwrap().keys() {
                if m == "parameters" {
                    continue;
                }
                assert!(
                    ROUTES
                        .iter()
                        .any(|(rm, rp, _)| rp == p && rm.eq_ignore_ascii_case(m)),
                    "{m} {p} documented but not served"
                );
            }
        }
    }

    #[test]
    fn zones_fall_back_to_subnets() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(zone_of(None, &[ip]), "10.1.2.0/24");
        assert_eq!(zone_of(None, &[]), "unaddressed");
    }
}
