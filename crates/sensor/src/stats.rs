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
    pub by_function: FunctionCounts,
}

impl ProtoCounters {
    fn new(protocol: &'static str) -> Self {
        ProtoCounters {
            protocol,
            transactions: 0,
            by_status: [0; 4],
            by_function: FunctionCounts::default(),
        }
    }
}

/// Counts by (code, name), iterated in key order like a `BTreeMap`.
///
/// Counting runs once per transaction, so codes below 256 (every code of
/// most protocols) find their entry through a direct index instead of a
/// tree search with string comparisons.
#[derive(Clone, Debug, Default)]
pub struct FunctionCounts {
    /// Sorted by key.
    entries: Vec<((u32, &'static str), u64)>,
    /// For a code below 256: 1 + the position in `entries` of the entry
    /// last counted for it (0: none yet).
    recent: Vec<u16>,
}

impl FunctionCounts {
    /// Adds one to (code, name).
    #[inline]
    pub fn add(&mut self, code: u32, name: &'static str) {
        if let Some(&r) = self.recent.get(code as usize) {
            if let Some(((c, n), count)) = self.entries.get_mut(usize::from(r).wrapping_sub(1)) {
                // Pointer equality: names are static strings (the same
                // name at another address takes the general path).
                if *c == code && std::ptr::eq(*n, name) {
                    *count += 1;
                    return;
                }
            }
        }
        self.add_new(code, name);
    }

    /// [`FunctionCounts::add`] for a key not counted last for its code.
    #[inline(never)]
    fn add_new(&mut self, code: u32, name: &'static str) {
        let key = (code, name);
        let pos = match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => {
                self.entries[i].1 += 1;
                i
            }
            Err(i) => {
                self.entries.insert(i, (key, 1));
                // Later entries moved: forget where they were.
                self.recent.fill(0);
                i
            }
        };
        if code < 256 {
            self.recent.resize(256, 0);
            // Past 65535 keys (not expected) positions are not indexed.
            self.recent[code as usize] = u16::try_from(pos + 1).unwrap_or(0);
        }
    }
}

impl<'a> IntoIterator for &'a FunctionCounts {
    type Item = (&'a (u32, &'static str), &'a u64);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, ((u32, &'static str), u64)>,
        fn(&'a ((u32, &'static str), u64)) -> (&'a (u32, &'static str), &'a u64),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, n)| (k, n))
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
    #[inline(always)]
    pub fn transaction(
        &mut self,
        protocol: &'static str,
        code: u32,
        name: &'static str,
        status: Status,
    ) {
        let i = match self
            .protocols
            .iter()
            .position(|p| std::ptr::eq(p.protocol, protocol) || p.protocol == protocol)
        {
            Some(i) => i,
            None => {
                self.protocols.push(ProtoCounters::new(protocol));
                self.protocols.len() - 1
            }
        };
        let p = &mut self.protocols[i];
        p.transactions += 1;
        p.by_status[status as usize] += 1;
        p.by_function.add(code, name);
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
