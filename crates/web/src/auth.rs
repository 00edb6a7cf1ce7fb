//! Passwords (argon2id), session tokens, CSRF tokens, roles and login rate
//! limiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "plantshield_session";
/// The header that carries the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lives.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads everything but user accounts and the user audit.
    Viewer,
    /// And acknowledges, closes and assigns alerts, uploads policies.
    Analyst,
    /// And manages users.
    Admin,
}

impl Role {
    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

/// An argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that the
/// answer takes as long as for a wrong password.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// `n` random bytes from the OS as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A readable random password (for the first admin).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 20];
    OsRng.fill_bytes(&mut b);
    b.iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect()
}

/// SHA-256 of a token as hex: sessions are stored by it, so the database
/// does not hold usable cookies.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Compares two strings in time independent of where they differ.
pub fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Login rate limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Failed logins per user name within `window` before it is locked.
    pub per_user: u32,
    /// Failed logins per client address within `window`.
    pub per_address: u32,
    /// The window, and how long a lock lasts.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_user: 5,
            per_address: 20,
            window: Duration::from_secs(300),
        }
    }
}

#[derive(Default)]
struct Counter {
    since: Option<Instant>,
    failures: u32,
}

/// Failed logins by user name and by address; bounded (the oldest entries
/// are dropped beyond [`RateLimiter::MAX_KEYS`]).
pub struct RateLimiter {
    limits: Limits,
    users: Mutex<HashMap<String, Counter>>,
    addrs: Mutex<HashMap<IpAddr, Counter>>,
}

impl RateLimiter {
    /// Keys kept per table.
    pub const MAX_KEYS: usize = 10_000;

    /// A limiter.
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            users: Mutex::default(),
            addrs: Mutex::default(),
        }
    }

    /// Seconds until `user` from `addr` may try again; `None` when allowed.
    pub fn blocked(&self, user: &str, addr: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let w = self.limits.window;
        let left = |c: &Counter, max: u32| -> Option<u64> {
            let since = c.since?;
            let el = now.duration_since(since);
            (c.failures >= max && el < w).then(|| (w - el).as_secs().max(1))
        };
        let u = self
            .users
            .lock()
            .ok()
            .and_then(|m| m.get(user).and_then(|c| left(c, self.limits.per_user)));
        let a = self
            .addrs
            .lock()
            .ok()
            .and_then(|m| m.get(&addr).and_then(|c| left(c, self.limits.per_address)));
        u.max(a)
    }

    /// Records a failed login.
    pub fn failed(&self, user: &str, addr: IpAddr) {
        let now = Instant::now();
        let w = self.limits.window;
        let bump = |c: &mut Counter| {
            if c.since.is_none_or(|s| now.duration_since(s) >= w) {
                c.since = Some(now);
                c.failures = 0;
            }
            c.failures += 1;
        };
        if let Ok(mut m) = self.users.lock() {
            if m.len() >= Self::MAX_KEYS && !m.contains_key(user) {
                m.retain(|_, c| c.since.is_some_and(|s| now.duration_since(s) < w));
                if m.len() >= Self::MAX_KEYS {
                    m.clear();
                }
            }
            bump(m.entry(user.to_string()).or_default());
        }
        if let Ok(mut m) = self.addrs.lock() {
            if m.len() >= Self::MAX_KEYS && !m.contains_key(&addr) {
                m.clear();
            }
            bump(m.entry(addr).or_default());
        }
    }

    /// Forgets a user's failures after a successful login.
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut m) = self.users.lock() {
            m.remove(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "garbage"));
    }

    #[test]
    fn limiter_locks_after_failures() {
        let l = RateLimiter::new(Limits {
            per_user: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.blocked("a", ip).is_none());
            l.failed("a", ip);
        }
        assert!(l.blocked("a", ip).is_some());
        assert!(l.blocked("b", ip).is_none());
        l.failed("b", ip);
        l.failed("b", ip);
        assert!(l.blocked("c", ip).is_some(), "address limit");
    }
}
