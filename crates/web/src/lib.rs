//! The PlantShield platform: `plantshield serve`.
//!
//! An HTTPS server (rustls with the `ring` provider; a self-signed
//! certificate made with rcgen on first start) over the embedded SQLite
//! store ([`plantshield_store::platform`]): a REST API described by an
//! OpenAPI document, a web UI embedded in the binary, local users with
//! argon2id passwords, sessions, CSRF tokens, roles and login rate
//! limiting, and ingestion of captures into the store.
//!
//! The HTTP layer ([`http`]) is a small synchronous HTTP/1.1 server, one
//! thread per connection: the platform serves a handful of operators, and
//! a synchronous server keeps the dependency tree (and CI build time) to
//! rustls, rcgen, argon2 and httparse.

#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod bench;
pub mod http;
pub mod ingest;
pub mod tls;
pub mod ui;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `plantshield serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory (store, certificate).
    pub data: PathBuf,
    /// Address and port to listen on (port 0: any free port).
    pub listen: String,
    /// Captures to ingest at start.
    pub reads: Vec<PathBuf>,
    /// TLS certificate chain (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub key: Option<PathBuf>,
    /// The first admin's password (`PLANTSHIELD_ADMIN_PASSWORD`).
    pub admin_password: Option<String>,
    /// Login rate limits.
    pub limits: auth::Limits,
}

/// The store's file in a data directory.
pub fn db_path(data: &std::path::Path) -> PathBuf {
    data.join("plantshield.db")
}

/// Runs the platform until the process ends.
pub fn serve(cfg: ServeConfig) -> Result<(), String> {
    std::fs::create_dir_all(&cfg.data).map_err(|e| format!("{}: {e}", cfg.data.display()))?;
    let db = db_path(&cfg.data);
    let app = Arc::new(api::App::new(db.clone(), cfg.limits)?);
    app.ensure_admin(cfg.admin_password.clone())?;
    let tls = tls::server_config(&cfg.data, cfg.cert.as_deref(), cfg.key.as_deref())?;
    let listener = TcpListener::bind(&cfg.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "plantshield: serving https://{addr}/ (store {})",
        db.display()
    );
    if let Ok(mut st) = app.ingest.lock() {
        st.pending = cfg.reads.len();
    }
    let ingester = app.clone();
    let reads = cfg.reads.clone();
    std::thread::Builder::new()
        .name("plantshield-ingest".into())
        .spawn(move || {
            for p in reads {
                let policy = ingester.policy();
                let t = std::time::Instant::now();
                let o = ingest::ingest_file(&db, &p, policy.as_ref());
                match (&o.error, o.skipped) {
                    (Some(e), _) => eprintln!("plantshield: ingest {}: {e}", o.name),
                    (None, true) => eprintln!(
                        "plantshield: {} was ingested before (same content): skipped",
                        o.name
                    ),
                    (None, false) => eprintln!(
                        "plantshield: ingested {}: {} events in {:.1} s",
                        o.name,
                        o.events,
                        t.elapsed().as_secs_f64()
                    ),
                }
                if let Ok(mut st) = ingester.ingest.lock() {
                    st.pending = st.pending.saturating_sub(1);
                    st.done.push(serde_json::json!({
                        "name": o.name, "skipped": o.skipped, "events": o.events, "error": o.error,
                    }));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    http::run(listener, tls, app);
    Ok(())
}
