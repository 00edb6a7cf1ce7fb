CREATE TABLE IF NOT EXISTS ingested_files (
    id        INTEGER PRIMARY KEY,
    sha256    TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    status    TEXT NOT NULL,           -- running | done
    started   INTEGER NOT NULL,        -- wall clock, ns
    finished  INTEGER,
    events    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY,
    file_id    INTEGER,
    ts_ns      INTEGER NOT NULL,
    type       TEXT NOT NULL,
    protocol   TEXT,
    operation  TEXT,
    status     TEXT,
    src_ip     TEXT,
    dest_ip    TEXT,
    src_asset  INTEGER,
    dest_asset INTEGER,
    alert_id   INTEGER,
    flow_id    INTEGER,
    json       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS events_ts ON events (ts_ns);
CREATE INDEX IF NOT EXISTS events_type ON events (type, ts_ns);
CREATE INDEX IF NOT EXISTS events_protocol ON events (protocol, ts_ns);
CREATE INDEX IF NOT EXISTS events_operation ON events (operation, ts_ns);
CREATE INDEX IF NOT EXISTS events_src_ip ON events (src_ip);
CREATE INDEX IF NOT EXISTS events_dest_ip ON events (dest_ip);
CREATE INDEX IF NOT EXISTS events_src_asset ON events (src_asset);
CREATE INDEX IF NOT EXISTS events_dest_asset ON events (dest_asset);
CREATE INDEX IF NOT EXISTS events_alert ON events (alert_id);
CREATE INDEX IF NOT EXISTS events_flow ON events (flow_id, ts_ns);
CREATE INDEX IF NOT EXISTS events_file ON events (file_id);
CREATE TABLE IF NOT EXISTS event_counts (
    file_id   INTEGER NOT NULL,
    type      TEXT NOT NULL,
    protocol  TEXT NOT NULL,             -- '' when none
    operation TEXT NOT NULL,             -- '' when none
    n         INTEGER NOT NULL,
    PRIMARY KEY (file_id, type, protocol, operation)
) STRICT;
CREATE TABLE IF NOT EXISTS assets (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,  -- mac:<first MAC> or ip:<first IP>
    label        TEXT NOT NULL,
    ips          TEXT NOT NULL,         -- JSON array
    macs         TEXT NOT NULL,         -- JSON array
    role         TEXT NOT NULL,
    purdue_level INTEGER,
    vendor       TEXT,
    remote       INTEGER NOT NULL,
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    created      INTEGER NOT NULL,      -- wall clock, ns: when the platform first saw it
    detail       TEXT NOT NULL          -- the inventory's JSON of the asset
) STRICT;
CREATE INDEX IF NOT EXISTS assets_first_seen ON assets (first_seen);
CREATE TABLE IF NOT EXISTS asset_ips (
    ip       TEXT PRIMARY KEY,
    asset_id INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS asset_ips_asset ON asset_ips (asset_id);
CREATE TABLE IF NOT EXISTS asset_evidence (
    asset_id   INTEGER NOT NULL,
    attribute  TEXT NOT NULL,
    value      TEXT NOT NULL,
    source     TEXT NOT NULL,
    confidence INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    flow_id    INTEGER,
    seen       INTEGER NOT NULL,
    PRIMARY KEY (asset_id, attribute, value, source)
) STRICT;
CREATE TABLE IF NOT EXISTS asset_history (
    id        INTEGER PRIMARY KEY,
    asset_id  INTEGER NOT NULL,
    ts_ns     INTEGER NOT NULL,
    change    TEXT NOT NULL,
    attribute TEXT,
    old       TEXT,
    new       TEXT,
    source    TEXT NOT NULL,
    file_id   INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS asset_history_asset ON asset_history (asset_id, ts_ns);
CREATE TABLE IF NOT EXISTS edges (
    id             INTEGER PRIMARY KEY,
    client_id      INTEGER NOT NULL,
    server_id      INTEGER NOT NULL,
    protocol       TEXT NOT NULL,
    transactions   INTEGER NOT NULL,
    flows          INTEGER NOT NULL,
    bytes_toserver INTEGER NOT NULL,
    bytes_toclient INTEGER NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    operations     TEXT NOT NULL,       -- JSON object operation -> count
    UNIQUE (client_id, server_id, protocol)
) STRICT;
CREATE TABLE IF NOT EXISTS alerts (
    id         INTEGER PRIMARY KEY,
    rule_id    TEXT NOT NULL,
    rule       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    sev_rank   INTEGER NOT NULL,        -- low 1 .. critical 4
    techniques TEXT NOT NULL,           -- JSON array of ATT&CK for ICS ids
    message    TEXT NOT NULL,
    protocol   TEXT,
    src_ip     TEXT,
    dest_ip    TEXT,
    count      INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    events     TEXT NOT NULL,           -- JSON array of {flow_id, timestamp, event_id}
    status     TEXT NOT NULL DEFAULT 'open',   -- open | acknowledged | closed
    assignee   TEXT,
    updated    INTEGER,                 -- wall clock, ns, of the last workflow change
    file_id    INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS alerts_first_seen ON alerts (first_seen);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status, first_seen);
CREATE INDEX IF NOT EXISTS alerts_src ON alerts (src_ip);
CREATE INDEX IF NOT EXISTS alerts_dest ON alerts (dest_ip);
CREATE TABLE IF NOT EXISTS alert_comments (
    id       INTEGER PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,             -- acknowledge | close | assign | comment
    text     TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS alert_comments_alert ON alert_comments (alert_id);
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,        -- argon2id PHC string
    role          TEXT NOT NULL,        -- admin | analyst | viewer
    created       INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,        -- SHA-256 of the cookie value, hex
    user_id    INTEGER NOT NULL,
    csrf       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS user_audit (
    id       INTEGER PRIMARY KEY,
    ts       INTEGER NOT NULL,
    username TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT,
    detail   TEXT,
    remote   TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS policies (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    text     TEXT NOT NULL,
    uploaded INTEGER NOT NULL,
    username TEXT NOT NULL
) STRICT;
