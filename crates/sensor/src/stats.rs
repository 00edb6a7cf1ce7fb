//! Run totals: what the summary prints and the `stats` event carries.

use std::collections::BTreeMap;

use plantshield_events::Status;

/// Transactions of one protocol, by function code and status.
#[derive(Clone, Debug)]
pub struct ProtoCounters {
    /// Protocol name.
    pub protocol: &'static str,
    /// Transactions in total.
    pub transactions: u64,
    /// By `ics.status`, in [`Status`] order (ok, exception, no_response, malformed).
    pub by_status: [u64; 4],
    /// By function: (code, name) -> count. The name is part of the key
    /// because some protocols reuse a code with another meaning (CIP
    /// class-specific services, DNP3 link services).
    pub by_function: BTreeMap<(u32, &'static str), u64>,
}

impl ProtoCounters {
    fn new(protocol: &'static str) -> Self {
        ProtoCounters {
            protocol,
            transactions: 0,
            by_status: [0; 4],
            by_function: BTreeMap::new(),
        }
    }
}

/// Totals of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Records read.
    pub packets: u64,
    /// Captured bytes of those records.
    pub bytes: u64,
    /// Capture bytes read from files (headers included), for throughput.
    pub input_bytes: u64,
    /// Time of the first record.
    pub first_ts: Option<i64>,
    /// Time of the last record.
    pub last_ts: Option<i64>,
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// ARP packets.
    pub arp: u64,
    /// Other EtherTypes (GOOSE, PROFINET, LLDP, ...).
    pub other_ethertype: u64,
    /// Records of link types we do not decode.
    pub unsupported_link: u64,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP and ICMPv6 messages.
    pub icmp: u64,
    /// IP fragments seen.
    pub fragments: u64,
    /// Datagrams rebuilt from fragments.
    pub reassembled: u64,
    /// Flows created.
    pub flows: u64,
    /// Flows evicted because the table was full.
    pub flows_evicted: u64,
    /// Anomalies by (layer, code).
    pub anomalies: BTreeMap<(&'static str, &'static str), u64>,
    /// Anomaly events not written because a flow reached its anomaly cap.
    pub anomalies_suppressed: u64,
    /// Transactions per protocol.
    pub protocols: Vec<ProtoCounters>,
}

impl Stats {
    /// Counts one anomaly.
    pub fn anomaly(&mut self, layer: &'static str, code: &'static str) {
        *self.anomalies.entry((layer, code)).or_insert(0) += 1;
    }

    /// Anomalies in total.
    pub fn anomaly_total(&self) -> u64 {
        self.anomalies.values().sum()
    }

    /// Counts one transaction.
    pub fn transaction(
        &mut self,
        protocol: &'static str,
        code: u32,
        name: &'static str,
        status: Status,
    ) {
        let p = match self.protocols.iter().position(|p| p.protocol == protocol) {
            Some(i) => &mut self.protocols[i],
            None => {
                self.protocols.push(ProtoCounters::new(protocol));
                let n = self.protocols.len() - 1;
                &mut self.protocols[n]
            }
        };
        p.transactions += 1;
        p.by_status[status as usize] += 1;
        *p.by_function.entry((code, name)).or_insert(0) += 1;
    }

    /// Transactions over all protocols.
    pub fn transaction_total(&self) -> u64 {
        self.protocols.iter().map(|p| p.transactions).sum()
    }

    /// The counters of one protocol.
    pub fn protocol(&self, name: &str) -> Option<&ProtoCounters> {
        self.protocols.iter().find(|p| p.protocol == name)
    }
}
