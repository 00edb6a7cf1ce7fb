//! MAC address vendors from the IEEE registration authority's registries
//! (MA-L 24-bit, MA-M 28-bit and MA-S 36-bit assignments).
//!
//! The registry ships as `data/oui.tsv` (one `PREFIX<TAB>Organization` line
//! per assignment, PREFIX being 6, 7 or 9 hex digits) and is embedded in
//! the binary. `plantshield oui import` rebuilds it from the IEEE CSV files
//! (`oui.csv`, `mam.csv`, `oui36.csv`, as published by the IEEE and shipped
//! by Debian's `ieee-data`).

use std::sync::OnceLock;

use plantshield_decode::MacAddr;

/// The embedded registry.
pub const EMBEDDED: &str = include_str!("../../../data/oui.tsv");

/// A prefix-to-organisation table, sorted for binary search.
pub struct Registry {
    /// (prefix, organisation) for 24-, 28- and 36-bit prefixes, each sorted.
    entries: [Vec<(u64, &'static str)>; 3],
}

fn table(bits: u8) -> usize {
    match bits {
        24 => 0,
        28 => 1,
        _ => 2,
    }
}

impl Registry {
    /// Parses the TSV form; malformed lines are skipped.
    pub fn parse(tsv: &'static str) -> Registry {
        let mut entries: [Vec<(u64, &'static str)>; 3] = Default::default();
        for line in tsv.split('\n') {
            let Some(tab) = line.bytes().position(|b| b == b'\t') else {
                continue;
            };
            let (prefix, name) = (&line[..tab], &line[tab + 1..]);
            let bits = match prefix.len() {
                6 => 24,
                7 => 28,
                9 => 36,
                _ => continue,
            };
            if let Ok(v) = u64::from_str_radix(prefix, 16) {
                entries[table(bits)].push((v, name));
            }
        }
        // The shipped file is sorted; sort only a hand-edited one.
        for t in &mut entries {
            if !t.is_sorted_by_key(|e| e.0) {
                t.sort_by_key(|e| e.0);
            }
            t.dedup_by_key(|e| e.0);
        }
        Registry { entries }
    }

    /// Number of assignments.
    pub fn len(&self) -> usize {
        self.entries.iter().map(Vec::len).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, bits: u8, prefix: u64) -> Option<&'static str> {
        let t = &self.entries[table(bits)];
        t.binary_search_by_key(&prefix, |e| e.0)
            .ok()
            .map(|i| t[i].1)
    }

    /// The organisation a MAC address was assigned to, longest prefix first.
    /// Locally administered and group addresses have none.
    pub fn lookup(&self, mac: MacAddr) -> Option<&'static str> {
        if mac.0[0] & 0x03 != 0 {
            return None;
        }
        let v = mac.0.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        [36u8, 28, 24]
            .iter()
            .find_map(|&bits| self.get(bits, v >> (48 - bits)))
    }
}

/// The embedded registry, parsed on first use.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::parse(EMBEDDED))
}

/// The vendor of `mac` from the embedded registry.
pub fn vendor(mac: MacAddr) -> Option<&'static str> {
    registry().lookup(mac)
}

/// Converts IEEE registry CSV files (columns `Registry`, `Assignment`,
/// `Organization Name`, `Organization Address`) into the TSV form, sorted.
pub fn import_csv(files: &[(String, String)]) -> Result<String, String> {
    let mut rows: Vec<(String, String)> = Vec::new();
    for (name, text) in files {
        let mut records = csv_records(text).into_iter();
        let header = records.next().unwrap_or_default();
        if header
            .get(..3)
            .is_none_or(|h| h != ["Registry", "Assignment", "Organization Name"])
        {
            return Err(format!(
                "{name}: not an IEEE registry CSV (header {header:?})"
            ));
        }
        for (n, fields) in records.enumerate() {
            if fields.len() < 3 {
                continue;
            }
            let prefix = fields[1].trim().to_ascii_uppercase();
            let org = fields[2].split_whitespace().collect::<Vec<_>>().join(" ");
            if !matches!(prefix.len(), 6 | 7 | 9) || !prefix.chars().all(|c| c.is_ascii_hexdigit())
            {
                return Err(format!(
                    "{name}: record {}: bad assignment {prefix:?}",
                    n + 2
                ));
            }
            if !org.is_empty() {
                rows.push((prefix, org));
            }
        }
    }
    rows.sort();
    rows.dedup_by(|a, b| a.0 == b.0);
    let mut out = String::from(
        "# IEEE MA-L/MA-M/MA-S assignments: PREFIX<TAB>Organization (plantshield oui import)\n",
    );
    for (p, o) in rows {
        out.push_str(&p);
        out.push('\t');
        out.push_str(&o);
        out.push('\n');
    }
    Ok(out)
}

/// Splits CSV text into records of fields (RFC 4180: quoted fields may hold
/// commas, doubled quotes and line breaks).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            ('\r', false) => {}
            ('\n', false) => {
                fields.push(std::mem::take(&mut cur));
                records.push(std::mem::take(&mut fields));
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() || !fields.is_empty() {
        fields.push(cur);
        records.push(fields);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_and_special_addresses() {
        let tsv = "# c\n001122\tShort Corp\n0011223\tMedium Inc\n001122334\tLong Ltd\n";
        let r = Registry::parse(Box::leak(tsv.to_string().into_boxed_str()));
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.lookup(MacAddr([0x00, 0x11, 0x22, 0x33, 0x4f, 0])),
            Some("Long Ltd")
        );
        assert_eq!(
            r.lookup(MacAddr([0x00, 0x11, 0x22, 0x3f, 0, 0])),
            Some("Medium Inc")
        );
        assert_eq!(
            r.lookup(MacAddr([0x00, 0x11, 0x22, 0xff, 0, 0])),
            Some("Short Corp")
        );
        assert_eq!(
            r.lookup(MacAddr([0x02, 0x11, 0x22, 0, 0, 0])),
            None,
            "locally administered"
        );
        assert_eq!(
            r.lookup(MacAddr([0x01, 0x11, 0x22, 0, 0, 0])),
            None,
            "group address"
        );
    }

    #[test]
    fn embedded_registry_knows_ics_vendors() {
        let r = registry();
        assert!(r.len() > 40_000, "{}", r.len());
        // Siemens AG (08:00:06) and Rockwell Automation (00:00:BC).
        assert_eq!(
            r.lookup(MacAddr([0x08, 0x00, 0x06, 1, 2, 3])),
            Some("SIEMENS AG")
        );
        assert_eq!(
            r.lookup(MacAddr([0x00, 0x00, 0xbc, 1, 2, 3])),
            Some("Rockwell Automation")
        );
    }

    #[test]
    fn import_parses_quoted_csv() {
        let csv = "Registry,Assignment,Organization Name,Organization Address\r\n\
                   MA-L,08EA40,\"SHENZHEN BILIAN, ELECTRONIC\",\"addr, x\"\r\n\
                   MA-L,001122,Multi Line,\"EAST 2ND\nSECTION\"\n\
                   MA-S,70B3D5F2F,\"TELE \"\"PLATFORMS\"\"\",\"Polbina st.\"\n";
        let tsv = import_csv(&[("x.csv".into(), csv.into())]).unwrap();
        assert!(tsv.contains("08EA40\tSHENZHEN BILIAN, ELECTRONIC\n"));
        assert!(tsv.contains("70B3D5F2F\tTELE \"PLATFORMS\"\n"));
        assert!(tsv.contains("001122\tMulti Line\n"));
        assert!(import_csv(&[("y".into(), "nope\n".into())]).is_err());
    }
}
