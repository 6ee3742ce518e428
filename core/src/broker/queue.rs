//! A topic's or channel's queue: a bounded memory part (--mem-queue-size)
//! in front of its [`Storage`].

use super::storage::{Storage, StorageError};
use crate::wire::Message;
use std::collections::VecDeque;

#[derive(Debug)]
pub struct MsgQueue {
    mem: VecDeque<Message>,
    mem_limit: usize,
    backend: Storage,
    /// Alternates memory and backend when both hold messages (Go picks
    /// between them at random), so neither starves.
    backend_turn: bool,
}

impl MsgQueue {
    pub fn new(mem_limit: usize, backend: Storage) -> Self {
        MsgQueue {
            mem: VecDeque::new(),
            mem_limit,
            backend,
            backend_turn: false,
        }
    }

    /// Whether every message goes through the backend (--mem-queue-size=0).
    pub fn memory_disabled(&self) -> bool {
        self.mem_limit == 0
    }

    /// Whether `count` messages of `bytes` would all be taken.
    pub fn can_accept(&self, count: usize, bytes: usize) -> Result<(), StorageError> {
        let room = self.mem_limit.saturating_sub(self.mem.len());
        if count <= room {
            return Ok(());
        }
        // Overflow bytes are not known exactly; the whole batch is a safe bound.
        self.backend.can_accept(count - room, bytes)
    }

    pub fn put(&mut self, msg: Message) -> Result<(), StorageError> {
        if self.mem.len() < self.mem_limit {
            self.mem.push_back(msg);
            Ok(())
        } else {
            self.backend.put(&msg)
        }
    }

    /// Puts a message that must not be lost (a timeout or requeue): if the
    /// backend refuses it, it stays in memory beyond the limit.
    pub fn put_or_keep(&mut self, msg: Message) -> Option<StorageError> {
        if self.mem.len() < self.mem_limit {
            self.mem.push_back(msg);
            return None;
        }
        match self.backend.put(&msg) {
            Ok(()) => None,
            Err(e) => {
                self.mem.push_back(msg);
                Some(e)
            }
        }
    }

    pub fn pop(&mut self) -> Option<Message> {
        self.backend_turn = !self.backend_turn;
        if self.backend_turn {
            self.backend.pop().or_else(|| self.mem.pop_front())
        } else {
            self.mem.pop_front().or_else(|| self.backend.pop())
        }
    }

    /// Whether a pop would give a message now.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.backend.depth() == 0
    }

    /// Messages queued: memory plus backend.
    pub fn depth(&self) -> u64 {
        self.mem.len() as u64 + self.backend.depth()
    }

    /// Carries forward the disk records of messages in the memory part
    /// that `pinning` names (see `DiskQueue::carry`).
    pub fn carry_memory(&mut self, pinning: &std::collections::BTreeSet<u64>) {
        let Storage::Disk(dq) = &mut self.backend else {
            return;
        };
        for m in self.mem.iter_mut().filter(|m| pinning.contains(&m.origin)) {
            m.origin = dq.carry(m);
        }
    }

    pub fn mem_len(&self) -> usize {
        self.mem.len()
    }

    pub fn backend_depth(&self) -> u64 {
        self.backend.depth()
    }

    pub fn empty(&mut self) {
        self.mem.clear();
        self.backend.empty();
    }

    /// Takes the memory part out (for persisting it at shutdown).
    pub fn drain_memory(&mut self) -> Vec<Message> {
        self.mem.drain(..).collect()
    }

    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.backend
    }

    pub fn storage(&self) -> &Storage {
        &self.backend
    }

    /// The diskqueue behind this queue, if it has one.
    pub fn disk(&mut self) -> Option<&mut crate::diskqueue::DiskQueue> {
        self.backend.disk_queue()
    }

    pub fn disk_ref(&self) -> Option<&crate::diskqueue::DiskQueue> {
        self.backend.disk_queue_ref()
    }
}
