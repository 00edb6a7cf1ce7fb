//! Passwords (argon2id), session tokens, CSRF tokens, roles and login rate
//! limiting.

use std::net::IpAddr;
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use plantshield_store::platform::queries;
use rusqlite::Connection;
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

/// Failed logins by user name and by address, kept in the store's
/// `login_failures` table, so that a restart does not reset a lock. The
/// table is bounded: expired windows are dropped, and beyond
/// [`RateLimiter::MAX_KEYS`] names (or addresses) the oldest go.
pub struct RateLimiter {
    limits: Limits,
}

fn wall_ns() -> i64 {
    plantshield_store::platform::now_ns()
}

impl RateLimiter {
    /// Keys kept per kind (user names, addresses).
    pub const MAX_KEYS: i64 = 10_000;

    /// A limiter.
    pub fn new(limits: Limits) -> Self {
        RateLimiter { limits }
    }

    fn window_ns(&self) -> i64 {
        i64::try_from(self.limits.window.as_nanos()).unwrap_or(i64::MAX)
    }

    /// Seconds until `user` from `addr` may try again; `None` when allowed.
    pub fn blocked(
        &self,
        conn: &Connection,
        user: &str,
        addr: IpAddr,
    ) -> plantshield_store::Result<Option<u64>> {
        let now = wall_ns();
        let w = self.window_ns();
        let left = |f: Option<(i64, i64)>, max: u32| -> Option<u64> {
            let (since, n) = f?;
            let el = now.saturating_sub(since);
            (n >= i64::from(max) && el < w).then(|| ((w - el) / 1_000_000_000).max(1) as u64)
        };
        let u = left(
            queries::login_failures(conn, "user", user)?,
            self.limits.per_user,
        );
        let a = left(
            queries::login_failures(conn, "address", &addr.to_string())?,
            self.limits.per_address,
        );
        Ok(u.max(a))
    }

    /// Records a failed login.
    pub fn failed(
        &self,
        conn: &Connection,
        user: &str,
        addr: IpAddr,
    ) -> plantshield_store::Result<()> {
        let (now, w) = (wall_ns(), self.window_ns());
        queries::login_failure(conn, "user", user, now, w, Self::MAX_KEYS)?;
        queries::login_failure(conn, "address", &addr.to_string(), now, w, Self::MAX_KEYS)
    }

    /// Forgets a user's failures after a successful login.
    pub fn succeeded(&self, conn: &Connection, user: &str) -> plantshield_store::Result<()> {
        queries::login_failures_clear(conn, "user", user)
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
    fn limiter_locks_after_failures_and_keeps_them_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let limits = Limits {
            per_user: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        };
        let l = RateLimiter::new(limits);
        let conn = plantshield_store::platform::open(&db).unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.blocked(&conn, "a", ip).unwrap().is_none());
            l.failed(&conn, "a", ip).unwrap();
        }
        let left = l.blocked(&conn, "a", ip).unwrap().expect("locked");
        assert!((1..=60).contains(&left), "{left}");
        assert!(l.blocked(&conn, "b", ip).unwrap().is_none());
        l.failed(&conn, "b", ip).unwrap();
        l.failed(&conn, "b", ip).unwrap();
        assert!(
            l.blocked(&conn, "c", ip).unwrap().is_some(),
            "address limit"
        );
        drop(conn);
        // A restart: a new limiter on a new connection still knows.
        let l = RateLimiter::new(limits);
        let conn = plantshield_store::platform::open(&db).unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.blocked(&conn, "a", other).unwrap().is_some());
        l.succeeded(&conn, "a").unwrap();
        assert!(l.blocked(&conn, "a", other).unwrap().is_none());
    }

    #[test]
    fn failures_expire_and_the_table_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let conn = plantshield_store::platform::open(&dir.path().join("p.db")).unwrap();
        let n = |c: &Connection| -> i64 {
            c.query_row("SELECT COUNT(*) FROM login_failures", [], |r| r.get(0))
                .unwrap()
        };
        for i in 0..10 {
            queries::login_failure(&conn, "user", &format!("u{i}"), 1000 + i, 100, 4).unwrap();
        }
        assert_eq!(n(&conn), 4, "at most 4 keys");
        assert_eq!(
            queries::login_failures(&conn, "user", "u9").unwrap(),
            Some((1009, 1))
        );
        assert_eq!(
            queries::login_failures(&conn, "user", "u0").unwrap(),
            None,
            "oldest dropped"
        );
        queries::login_failure(&conn, "user", "u9", 1050, 100, 4).unwrap();
        assert_eq!(
            queries::login_failures(&conn, "user", "u9").unwrap(),
            Some((1009, 2))
        );
        // After the window: the expired rows go and a new window starts.
        queries::login_failure(&conn, "user", "u9", 1200, 100, 4).unwrap();
        assert_eq!(n(&conn), 1);
        assert_eq!(
            queries::login_failures(&conn, "user", "u9").unwrap(),
            Some((1200, 1))
        );
    }
}
