//! Messages handed to a consumer and not yet finished, ordered by deadline.
//!
//! A slab holds the entries, a map finds them by id (FIN, REQ, TOUCH), and an
//! indexed binary heap orders them by deadline so that removing any entry is
//! O(log n) — timeouts never leave stale heap entries behind.

use crate::io::Nanos;
use crate::wire::{Message, MessageId};
use rustc_hash::FxHashMap;
use slab::Slab;

#[derive(Debug, Clone)]
pub struct InFlightEntry {
    pub msg: Message,
    pub client_id: u64,
    /// The consumer slot in the channel that holds the message.
    pub slot: usize,
    pub deadline: Nanos,
    pub delivered_at: Nanos,
}

impl InFlightEntry {
    pub fn new(msg: Message, client_id: u64, slot: usize, deadline: Nanos, now: Nanos) -> Self {
        InFlightEntry {
            msg,
            client_id,
            slot,
            deadline,
            delivered_at: now,
        }
    }
}

/// Why an id could not be taken out of flight (NSQ's texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlightError {
    NotInFlight,
    NotOwner,
    AlreadyInFlight,
}

impl InFlightError {
    pub fn as_str(self) -> &'static str {
        match self {
            InFlightError::NotInFlight => "ID not in flight",
            InFlightError::NotOwner => "client does not own message",
            InFlightError::AlreadyInFlight => "ID already in flight",
        }
    }
}

/// A heap slot: the deadline sits inline so sifting never chases the slab.
#[derive(Debug, Clone, Copy)]
struct Slot {
    deadline: Nanos,
    key: usize,
}

#[derive(Debug, Default)]
pub struct InFlight {
    entries: Slab<InFlightEntry>,
    by_id: FxHashMap<MessageId, usize>,
    heap: Vec<Slot>,
    /// Where each entry (by slab key) sits in the heap: a dense array, so
    /// sifting touches neither the slab nor the map.
    heap_pos: Vec<usize>,
}

impl InFlight {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an entry; the id must not be in flight already.
    pub fn insert(&mut self, entry: InFlightEntry) -> Result<&InFlightEntry, InFlightError> {
        if self.by_id.contains_key(&entry.msg.id) {
            return Err(InFlightError::AlreadyInFlight);
        }
        let id = entry.msg.id;
        let deadline = entry.deadline;
        let key = self.entries.insert(entry);
        self.by_id.insert(id, key);
        if self.heap_pos.len() <= key {
            self.heap_pos.resize(key + 1, 0);
        }
        let pos = self.heap.len();
        self.heap.push(Slot { deadline, key });
        self.heap_pos[key] = pos;
        self.sift_up(pos);
        Ok(&self.entries[key])
    }

    pub fn get(&self, id: &MessageId) -> Option<&InFlightEntry> {
        self.by_id.get(id).map(|&k| &self.entries[k])
    }

    /// Takes `id` out of flight if `client_id` holds it.
    pub fn remove_owned(
        &mut self,
        id: &MessageId,
        client_id: u64,
    ) -> Result<InFlightEntry, InFlightError> {
        let &key = self.by_id.get(id).ok_or(InFlightError::NotInFlight)?;
        if self.entries[key].client_id != client_id {
            return Err(InFlightError::NotOwner);
        }
        Ok(self.remove_key(key))
    }

    /// Moves the deadline of `id` (held by `client_id`).
    pub fn reschedule(
        &mut self,
        id: &MessageId,
        client_id: u64,
        deadline: impl FnOnce(&InFlightEntry) -> Nanos,
    ) -> Result<(), InFlightError> {
        let &key = self.by_id.get(id).ok_or(InFlightError::NotInFlight)?;
        if self.entries[key].client_id != client_id {
            return Err(InFlightError::NotOwner);
        }
        let new = deadline(&self.entries[key]);
        let old = std::mem::replace(&mut self.entries[key].deadline, new);
        let pos = self.heap_pos[key];
        self.heap[pos].deadline = new;
        if new < old {
            self.sift_up(pos);
        } else {
            self.sift_down(pos);
        }
        Ok(())
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Nanos> {
        self.heap.first().map(|s| s.deadline)
    }

    /// Takes out the earliest entry if its deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: Nanos) -> Option<InFlightEntry> {
        let top = *self.heap.first()?;
        if top.deadline > now {
            return None;
        }
        Some(self.remove_key(top.key))
    }

    /// Takes everything out, earliest deadline first.
    pub fn drain_by_deadline(&mut self) -> Vec<InFlightEntry> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(top) = self.heap.first().copied() {
            out.push(self.remove_key(top.key));
        }
        out
    }

    /// Ids held by `client_id`, earliest deadline first.
    pub fn ids_of(&self, client_id: u64) -> Vec<MessageId> {
        let mut v: Vec<(Nanos, MessageId)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.client_id == client_id)
            .map(|(_, e)| (e.deadline, e.msg.id))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.by_id.clear();
        self.heap.clear();
        self.heap_pos.clear();
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &InFlightEntry> {
        self.entries.iter().map(|(_, e)| e)
    }

    /// Every message in flight, to change what does not order them (their
    /// disk record, once it is carried forward).
    pub fn messages_mut(&mut self) -> impl Iterator<Item = &mut Message> {
        self.entries.iter_mut().map(|(_, e)| &mut e.msg)
    }

    fn remove_key(&mut self, key: usize) -> InFlightEntry {
        let pos = self.heap_pos[key];
        let last = self.heap.pop().expect("an entry in flight has a heap slot");
        if pos < self.heap.len() {
            self.place(pos, last);
            self.sift_down(pos);
            self.sift_up(self.heap_pos[last.key]);
        }
        let entry = self.entries.remove(key);
        self.by_id.remove(&entry.msg.id);
        entry
    }

    fn place(&mut self, pos: usize, slot: Slot) {
        self.heap[pos] = slot;
        self.heap_pos[slot.key] = pos;
    }

    // Both sifts carry the moving slot in hand and write it once where it
    // stops (the same order as swapping level by level).
    fn sift_up(&mut self, mut pos: usize) {
        let moving = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if moving.deadline >= self.heap[parent].deadline {
                break;
            }
            self.place(pos, self.heap[parent]);
            pos = parent;
        }
        self.place(pos, moving);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let moving = self.heap[pos];
        let n = self.heap.len();
        loop {
            let l = 2 * pos + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let child = if r < n && self.heap[r].deadline < self.heap[l].deadline {
                r
            } else {
                l
            };
            if self.heap[child].deadline >= moving.deadline {
                break;
            }
            self.place(pos, self.heap[child]);
            pos = child;
        }
        self.place(pos, moving);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use quickcheck::quickcheck;
    use std::collections::BTreeMap;

    fn entry(id: u64, client: u64, deadline: Nanos) -> InFlightEntry {
        let msg = Message::new(MessageId::from_guid(id), 0, Bytes::new());
        InFlightEntry::new(msg, client, 0, deadline, 0)
    }

    #[test]
    fn ownership_is_checked() {
        let mut f = InFlight::default();
        f.insert(entry(1, 10, 5)).unwrap();
        let id = MessageId::from_guid(1);
        assert_eq!(
            f.remove_owned(&id, 11).unwrap_err(),
            InFlightError::NotOwner
        );
        assert_eq!(
            f.remove_owned(&MessageId::from_guid(2), 10).unwrap_err(),
            InFlightError::NotInFlight
        );
        assert_eq!(
            f.insert(entry(1, 10, 5)).unwrap_err(),
            InFlightError::AlreadyInFlight
        );
        assert!(f.remove_owned(&id, 10).is_ok());
        assert!(f.is_empty());
    }

    // The heap agrees with a simple model under any mix of operations.
    quickcheck! {
        fn behaves_like_a_sorted_map(ops: Vec<(u8, u8, i16)>) -> bool {
            let mut f = InFlight::default();
            let mut model: BTreeMap<u64, Nanos> = BTreeMap::new();
            for (op, id, t) in ops {
                let id = u64::from(id % 32);
                let t = Nanos::from(t);
                let mid = MessageId::from_guid(id);
                match op % 4 {
                    0 => {
                        let ok = f.insert(entry(id, 1, t)).is_ok();
                        if ok == model.contains_key(&id) { return false; }
                        model.entry(id).or_insert(t);
                    }
                    1 => {
                        let got = f.remove_owned(&mid, 1).ok().map(|e| e.deadline);
                        if got != model.remove(&id) { return false; }
                    }
                    2 => {
                        let ok = f.reschedule(&mid, 1, |_| t).is_ok();
                        if ok != model.contains_key(&id) { return false; }
                        if ok { model.insert(id, t); }
                    }
                    _ => {
                        let min = model.values().min().copied();
                        if f.next_deadline() != min { return false; }
                        if let Some(e) = f.pop_expired(t) {
                            if Some(e.deadline) != min || e.deadline > t { return false; }
                            let key = model.iter().find(|(k, v)| **v == e.deadline && MessageId::from_guid(**k) == e.msg.id).map(|(k, _)| *k);
                            match key { Some(k) => { model.remove(&k); } None => return false }
                        } else if min.is_some_and(|m| m <= t) {
                            return false;
                        }
                    }
                }
                if f.len() != model.len() { return false; }
            }
            let drained: Vec<Nanos> = f.drain_by_deadline().iter().map(|e| e.deadline).collect();
            drained.windows(2).all(|w| w[0] <= w[1]) && drained.len() == model.len()
        }
    }
}
