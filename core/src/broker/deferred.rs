//! Messages waiting for a time (DPUB, REQ with a delay), earliest first.

use crate::io::Nanos;
use crate::wire::Message;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
pub struct DeferredEntry {
    pub deadline: Nanos,
    seq: u64,
    pub msg: Message,
}

impl PartialEq for DeferredEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for DeferredEntry {}
impl PartialOrd for DeferredEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for DeferredEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// A min-heap of deferred messages; equal deadlines leave in insertion order.
#[derive(Debug, Default)]
pub struct Deferred {
    heap: BinaryHeap<Reverse<DeferredEntry>>,
    seq: u64,
}

impl Deferred {
    pub fn push(&mut self, msg: Message, deadline: Nanos) {
        self.seq += 1;
        self.heap.push(Reverse(DeferredEntry {
            deadline,
            seq: self.seq,
            msg,
        }));
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn next_deadline(&self) -> Option<Nanos> {
        self.heap.peek().map(|e| e.0.deadline)
    }

    /// Takes out the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Nanos) -> Option<DeferredEntry> {
        if self.next_deadline()? <= now {
            self.heap.pop().map(|e| e.0)
        } else {
            None
        }
    }

    /// Takes everything out, earliest first.
    pub fn drain_sorted(&mut self) -> Vec<DeferredEntry> {
        let mut v: Vec<DeferredEntry> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|e| e.0)
            .collect();
        v.sort();
        v
    }

    pub fn iter(&self) -> impl Iterator<Item = &DeferredEntry> {
        self.heap.iter().map(|e| &e.0)
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Changes each message where `f` says (only what does not order them:
    /// their disk record, once it is carried forward).
    pub fn update_messages(&mut self, mut f: impl FnMut(&mut Message)) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        for e in &mut v {
            f(&mut e.0.msg);
        }
        self.heap = BinaryHeap::from(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MessageId;
    use bytes::Bytes;

    #[test]
    fn earliest_first_then_fifo() {
        let mut d = Deferred::default();
        let m = |i| Message::new(MessageId::from_guid(i), 0, Bytes::new());
        d.push(m(1), 30);
        d.push(m(2), 10);
        d.push(m(3), 10);
        assert_eq!(d.pop_due(5).map(|e| e.msg.id), None);
        assert_eq!(
            d.pop_due(10).map(|e| e.msg.id),
            Some(MessageId::from_guid(2))
        );
        assert_eq!(
            d.pop_due(10).map(|e| e.msg.id),
            Some(MessageId::from_guid(3))
        );
        assert_eq!(d.next_deadline(), Some(30));
        assert_eq!(d.drain_sorted().len(), 1);
    }
}
