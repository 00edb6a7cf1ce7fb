//! Sets of address ranges (registers, data block bytes, IOAs, point
//! indexes), bounded: beyond [`MAX_RANGES`] the two closest ranges are
//! joined, so a set only ever grows to cover more, never forgets.

use std::fmt;

/// Ranges kept per set; more are merged with their nearest neighbour.
pub const MAX_RANGES: usize = 64;

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    v: Vec<(u32, u32)>,
}

impl RangeSet {
    /// Empty.
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.v
    }

    /// True when no range is held.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Adds `lo..=hi` (swapped if given backwards).
    pub fn insert(&mut self, lo: u32, hi: u32) {
        let (mut lo, mut hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        // The ranges that overlap or touch lo..=hi are replaced by their union.
        let start = self.v.partition_point(|&(_, h)| h.saturating_add(1) < lo);
        let mut end = start;
        while end < self.v.len() && self.v[end].0 <= hi.saturating_add(1) {
            lo = lo.min(self.v[end].0);
            hi = hi.max(self.v[end].1);
            end += 1;
        }
        self.v.splice(start..end, [(lo, hi)]);
        if self.v.len() > MAX_RANGES {
            self.join_closest();
        }
    }

    /// Adds every range of `other`.
    pub fn extend(&mut self, other: &RangeSet) {
        for &(lo, hi) in &other.v {
            self.insert(lo, hi);
        }
    }

    fn join_closest(&mut self) {
        let Some(i) =
            (0..self.v.len().saturating_sub(1)).min_by_key(|&i| self.v[i + 1].0 - self.v[i].1)
        else {
            return;
        };
        self.v[i].1 = self.v[i + 1].1;
        self.v.remove(i + 1);
    }

    /// True when every address of `lo..=hi` is in the set.
    pub fn covers(&self, lo: u32, hi: u32) -> bool {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let i = self.v.partition_point(|&(_, h)| h < lo);
        self.v.get(i).is_some_and(|&(l, h)| l <= lo && hi <= h)
    }

    /// True when some address of `lo..=hi` is in the set.
    pub fn intersects(&self, lo: u32, hi: u32) -> bool {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let i = self.v.partition_point(|&(_, h)| h < lo);
        self.v.get(i).is_some_and(|&(l, _)| l <= hi)
    }

    /// Parses one range as written in policy files: `7`, `0-99`, or `*`
    /// (every address).
    pub fn parse_range(s: &str) -> Option<(u32, u32)> {
        let s = s.trim();
        if s == "*" {
            return Some((0, u32::MAX));
        }
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (parse_u32(a)?, parse_u32(b)?),
            None => {
                let v = parse_u32(s)?;
                (v, v)
            }
        };
        (lo <= hi).then_some((lo, hi))
    }

    /// The ranges as policy files write them.
    pub fn to_strings(&self) -> Vec<String> {
        self.v.iter().map(|&r| Range(r).to_string()).collect()
    }
}

/// Decimal or `0x` hexadecimal.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// One inclusive range, displayed as policy files write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range(pub (u32, u32));

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            (0, u32::MAX) => f.write_str("*"),
            (lo, hi) if lo == hi => write!(f, "{lo}"),
            (lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn insert_joins_overlapping_and_adjacent() {
        let mut s = RangeSet::new();
        s.insert(10, 19);
        s.insert(30, 39);
        s.insert(20, 20);
        assert_eq!(s.ranges(), &[(10, 20), (30, 39)]);
        s.insert(21, 29);
        assert_eq!(s.ranges(), &[(10, 39)]);
        s.insert(5, 3);
        assert_eq!(s.ranges(), &[(3, 5), (10, 39)]);
        s.insert(u32::MAX, u32::MAX);
        assert!(s.covers(u32::MAX, u32::MAX));
        assert!(!s.covers(39, 40));
        assert!(s.intersects(39, 40));
        assert!(s.intersects(0, 3));
        assert!(!s.intersects(6, 9));
        assert!(!s.intersects(40, 1000));
    }

    #[test]
    fn parse_and_display_round_trip() {
        for (text, r) in [("7", (7, 7)), ("0-99", (0, 99)), ("*", (0, u32::MAX))] {
            assert_eq!(RangeSet::parse_range(text), Some(r));
            assert_eq!(Range(r).to_string(), text);
        }
        assert_eq!(RangeSet::parse_range("0x10-0x1f"), Some((16, 31)));
        for bad in ["", "9-3", "a", "1-", "-1", "4294967296"] {
            assert_eq!(RangeSet::parse_range(bad), None, "{bad}");
        }
    }

    proptest! {
        /// Every inserted address stays covered, the set stays sorted,
        /// disjoint and bounded, and without the cap nothing else is covered.
        #[test]
        fn inserted_addresses_stay_covered(v in proptest::collection::vec((0u32..5000, 0u32..20), 0..200)) {
            let mut s = RangeSet::new();
            for &(lo, len) in &v {
                s.insert(lo, lo + len);
            }
            for &(lo, len) in &v {
                prop_assert!(s.covers(lo, lo + len));
            }
            prop_assert!(s.ranges().len() <= MAX_RANGES);
            for w in s.ranges().windows(2) {
                prop_assert!(w[0].1.saturating_add(1) < w[1].0);
            }
            // Fewer inserts than the cap: nothing was joined.
            if v.len() <= MAX_RANGES {
                for a in 0..5020u32 {
                    let inside = v.iter().any(|&(lo, len)| lo <= a && a <= lo + len);
                    prop_assert_eq!(s.covers(a, a), inside);
                }
            }
        }
    }
}
