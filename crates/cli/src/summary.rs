//! The human summary printed on standard error at the end of a run.

use std::io::Write;
use std::time::Duration;

use plantshield_sensor::json::EventCounts;
use plantshield_sensor::Stats;

/// Peak resident set size in KiB, from /proc (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mb(n: u64) -> f64 {
    n as f64 / 1e6
}

pub fn print(
    w: &mut dyn Write,
    s: &Stats,
    counts: &EventCounts,
    elapsed: Duration,
    count_only: bool,
) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        w,
        "plantshield: {} packets, {:.1} MB of capture in {:.3} s: {:.1} MB/s, {:.0} packets/s",
        s.packets,
        mb(s.input_bytes),
        secs,
        mb(s.input_bytes) / secs,
        s.packets as f64 / secs
    );
    let _ = writeln!(
        w,
        "  decoded: ipv4 {} ipv6 {} arp {} other-ethertype {} unsupported-link {}; tcp {} udp {} icmp {}; fragments {} (reassembled {})",
        s.ipv4, s.ipv6, s.arp, s.other_ethertype, s.unsupported_link, s.tcp, s.udp, s.icmp, s.fragments, s.reassembled
    );
    let _ = writeln!(w, "  flows: {} (evicted {})", s.flows, s.flows_evicted);
    for p in &s.protocols {
        let _ = writeln!(
            w,
            "  {} transactions: {} (ok {}, exception {}, no_response {}, malformed {})",
            p.protocol,
            p.transactions,
            p.by_status[0],
            p.by_status[1],
            p.by_status[2],
            p.by_status[3]
        );
        for ((code, name), n) in &p.by_function {
            let _ = writeln!(w, "    {code:>5} {name:<40} {n}");
        }
    }
    let _ = writeln!(
        w,
        "  anomalies: {} (events suppressed by per-flow caps: {})",
        s.anomaly_total(),
        s.anomalies_suppressed
    );
    for ((layer, code), n) in &s.anomalies {
        let _ = writeln!(w, "    {layer}.{code}: {n}");
    }
    let verb = if count_only { "counted" } else { "written" };
    let _ = writeln!(
        w,
        "  events {verb}: {} (transactions {}, flows {}, anomalies {}, other records {}, stats {})",
        counts.total(),
        counts.transactions,
        counts.flows,
        counts.anomalies,
        counts.other,
        counts.stats
    );
    if let Some(kib) = peak_rss_kib() {
        let _ = writeln!(w, "  peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
}
