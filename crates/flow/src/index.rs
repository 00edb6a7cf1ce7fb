//! The flow table's index: slots by the hash of their key, in an
//! open-addressing table whose entry for a hash has a known address, so
//! that its cache line can be loaded a packet before it is probed (see
//! `FlowTable::prefetch_bucket_v4`). hashbrown's tables do not tell where
//! a hash's group lies.
//!
//! Each entry is a 32-bit tag (the hash's upper half) and a 32-bit slot,
//! eight to a 64-byte line. The entry's home is the tag masked to the
//! table's size; collisions probe linearly and removal shifts the later
//! entries of the run back, so no tombstones accumulate. The table doubles
//! while more than half full, so its size stays below four entries per
//! flow held: bounded by the flow cap. The hash is keyed (by
//! secret words, drawn at random per table), so traffic cannot aim at a home.

use crate::prefetch_lines;

/// An empty entry (slot `u32::MAX` is never used).
const EMPTY: u64 = u64::MAX;
const PER_LINE: usize = 8;
const MIN_LINES: usize = 2;

/// Eight entries in one cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Line([u64; PER_LINE]);

const EMPTY_LINE: Line = Line([EMPTY; PER_LINE]);

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

fn entry(hash: u64, slot: u32) -> u64 {
    (u64::from(tag(hash)) << 32) | u64::from(slot)
}

/// Slots by hash.
pub(crate) struct Index {
    lines: Vec<Line>,
    /// Entries minus one (a power of two minus one).
    mask: usize,
    len: usize,
}

impl Index {
    pub(crate) fn new() -> Index {
        Index {
            lines: vec![EMPTY_LINE; MIN_LINES],
            mask: MIN_LINES * PER_LINE - 1,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn home(&self, t: u32) -> usize {
        t as usize & self.mask
    }

    fn get(&self, i: usize) -> u64 {
        self.lines[i / PER_LINE].0[i % PER_LINE]
    }

    fn set(&mut self, i: usize, e: u64) {
        self.lines[i / PER_LINE].0[i % PER_LINE] = e;
    }

    /// Starts loading the line where the probe for `hash` begins.
    #[inline]
    pub(crate) fn prefetch(&self, hash: u64) {
        let i = self.home(tag(hash));
        if let Some(l) = self.lines.get(i / PER_LINE) {
            prefetch_lines(l);
        }
    }

    /// The first slot whose entry has the tag of `hash`, unverified.
    #[inline]
    pub(crate) fn first(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The slot of `hash` for which `is` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let t = tag(hash);
        let mut i = self.home(t);
        loop {
            let e = self.get(i);
            if e == EMPTY {
                return None;
            }
            if (e >> 32) as u32 == t && is(e as u32) {
                return Some(e as u32);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `slot` under `hash` (not already there).
    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        debug_assert!(slot != u32::MAX);
        if (self.len + 1) * 2 > self.mask + 1 {
            self.grow();
        }
        self.place(entry(hash, slot));
        self.len += 1;
    }

    fn place(&mut self, e: u64) {
        let mut i = self.home((e >> 32) as u32);
        while self.get(i) != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.set(i, e);
    }

    #[cold]
    fn grow(&mut self) {
        let n = 2 * self.lines.len();
        let old = std::mem::replace(&mut self.lines, vec![EMPTY_LINE; n]);
        self.mask = self.lines.len() * PER_LINE - 1;
        for l in &old {
            for &e in &l.0 {
                if e != EMPTY {
                    self.place(e);
                }
            }
        }
    }

    /// Removes `slot`, held under `hash`; false if it was not there.
    pub(crate) fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let want = entry(hash, slot);
        let mut i = self.home(tag(hash));
        loop {
            let e = self.get(i);
            if e == EMPTY {
                return false;
            }
            if e == want {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward shift: later entries of the run whose home is not
        // between the hole and them move into the hole.
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.get(j);
            if e == EMPTY {
                break;
            }
            let k = self.home((e >> 32) as u32);
            // Distance from home to j, and from the hole to j (cyclic).
            if (j.wrapping_sub(k) & self.mask) >= (j.wrapping_sub(i) & self.mask) {
                self.set(i, e);
                i = j;
            }
        }
        self.set(i, EMPTY);
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// The index behaves as a map from (hash, slot) pairs under random
        /// inserts, removals and lookups, with hashes drawn from a few
        /// tags and homes so that runs collide, wrap and shift back.
        #[test]
        fn index_is_a_map(ops in proptest::collection::vec((0u8..3, 0u64..40, 0u32..64), 1..600)) {
            let mut ix = Index::new();
            // slot -> hash
            let mut model: HashMap<u32, u64> = HashMap::new();
            let h = |x: u64| (x.wrapping_mul(0x9e37_79b9) % 24) << 32 | (x & 0xff);
            for (op, x, slot) in ops {
                let hash = h(x);
                match op {
                    0 if !model.contains_key(&slot) => {
                        ix.insert(hash, slot);
                        model.insert(slot, hash);
                    }
                    1 => {
                        // The index keeps only the tag of a hash.
                        let held = model.get(&slot).map(|&hh| tag(hh)) == Some(tag(hash));
                        prop_assert_eq!(ix.remove(hash, slot), held);
                        if held {
                            model.remove(&slot);
                        }
                    }
                    _ => {}
                }
                prop_assert_eq!(ix.len(), model.len());
                prop_assert!(ix.len() * 2 <= ix.mask + 1);
                // Every held slot is found under its hash; nothing else is.
                for (&s, &hh) in &model {
                    prop_assert_eq!(ix.find(hh, |c| c == s), Some(s));
                    prop_assert!(ix.first(hh).is_some());
                }
                let probe = h(x);
                let want = model.iter().find(|(_, &hh)| tag(hh) == tag(probe));
                prop_assert_eq!(ix.first(probe).is_some(), want.is_some());
                prop_assert_eq!(
                    ix.find(probe, |c| c == slot),
                    (model.get(&slot).map(|&hh| tag(hh)) == Some(tag(probe))).then_some(slot)
                );
            }
        }
    }
}
