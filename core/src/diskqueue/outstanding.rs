//! Records handed out and not yet acknowledged, by sequence number.
//!
//! Records are handed out in sequence order and mostly acknowledged in
//! about that order, so a ring of slots starting at the oldest outstanding
//! record does the job of an ordered map: adding, acknowledging and finding
//! the oldest are O(1) (gaps, such as records skipped as corrupt, are empty
//! slots).

use super::files::Pos;
use std::collections::VecDeque;

#[derive(Debug, Default, Clone)]
pub struct Outstanding {
    /// Sequence number of the first slot.
    base: u64,
    /// Each record's position and size on disk.
    slots: VecDeque<Option<(Pos, u64)>>,
    live: usize,
    /// Bytes of the outstanding records together.
    bytes: u64,
}

impl Outstanding {
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of the outstanding records together.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Every outstanding record, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Pos)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|(p, _)| (self.base + i as u64, p)))
    }

    /// Adds `seq`, a record of `len` bytes at `pos` (normally above every
    /// one held; any order is accepted).
    pub fn insert(&mut self, seq: u64, pos: Pos, len: u64) {
        if self.live == 0 {
            self.slots.clear();
            self.base = seq;
        }
        if seq < self.base {
            for _ in seq + 1..self.base {
                self.slots.push_front(None);
            }
            self.slots.push_front(Some((pos, len)));
            self.base = seq;
            self.live += 1;
            self.bytes += len;
            return;
        }
        let i = (seq - self.base) as usize;
        while self.slots.len() <= i {
            self.slots.push_back(None);
        }
        match self.slots[i].replace((pos, len)) {
            None => self.live += 1,
            Some((_, old)) => self.bytes -= old,
        }
        self.bytes += len;
    }

    /// Acknowledges `seq`; false if it was not outstanding.
    pub fn remove(&mut self, seq: u64) -> bool {
        let Some(i) = seq.checked_sub(self.base) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(i as usize) else {
            return false;
        };
        let Some((_, len)) = slot.take() else {
            return false;
        };
        self.live -= 1;
        self.bytes -= len;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        true
    }

    /// The oldest outstanding record.
    pub fn first(&self) -> Option<(u64, Pos)> {
        // The front slot is never empty: removals trim empty ones.
        self.slots
            .front()
            .copied()
            .flatten()
            .map(|(p, _)| (self.base, p))
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.live = 0;
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;
    use std::collections::BTreeMap;

    quickcheck! {
        fn behaves_like_an_ordered_map(ops: Vec<(bool, u8)>, start: u16) -> bool {
            let mut o = Outstanding::default();
            let mut model: BTreeMap<u64, Pos> = BTreeMap::new();
            let mut next = u64::from(start);
            for (add, n) in ops {
                if add {
                    // Mostly in order, with gaps, and now and then one below.
                    let seq = if n % 7 == 0 { next.saturating_sub(u64::from(n)) } else { next + u64::from(n % 3) };
                    next = next.max(seq + 1);
                    let pos = Pos::new(seq / 10, seq);
                    o.insert(seq, pos, seq % 5 + 1);
                    model.insert(seq, pos);
                } else {
                    let seq = next.saturating_sub(u64::from(n));
                    if o.remove(seq) != model.remove(&seq).is_some() {
                        return false;
                    }
                }
                let bytes: u64 = model.keys().map(|s| s % 5 + 1).sum();
                if o.len() != model.len()
                    || o.bytes() != bytes
                    || o.first() != model.first_key_value().map(|(&s, &p)| (s, p))
                    || !o.iter().map(|(s, _)| s).eq(model.keys().copied())
                {
                    return false;
                }
            }
            o.clear();
            o.is_empty() && o.first().is_none() && o.bytes() == 0
        }
    }
}
