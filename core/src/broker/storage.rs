//! Where a queue's messages go once its memory part is full: the diskqueue
//! for durable topics and channels, nowhere for ephemeral ones (NSQ drops
//! their overflow), and a refusal for queues of an nsqd without a disk.

use crate::diskqueue::DiskQueue;
use crate::io::Nanos;
use crate::wire::{Message, MessageId};
use std::fmt;

/// Why a queue refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError(pub String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StorageError {}

#[derive(Debug)]
pub enum Storage {
    /// No disk (memory-only nsqd): overflow is refused.
    Refuse,
    /// NSQ's backend of ephemeral queues: overflow is dropped (and counted).
    Discard {
        dropped: u64,
    },
    Disk(Box<DiskQueue>),
}

impl Storage {
    pub fn disk(q: DiskQueue) -> Self {
        Storage::Disk(Box::new(q))
    }

    pub fn discard() -> Self {
        Storage::Discard { dropped: 0 }
    }

    /// Whether `count` more messages of `bytes` total would be taken.
    pub fn can_accept(&self, count: usize, bytes: usize) -> Result<(), StorageError> {
        match self {
            Storage::Refuse if count > 0 => Err(StorageError("memory queue full".into())),
            Storage::Refuse | Storage::Discard { .. } => Ok(()),
            Storage::Disk(q) => q.can_accept(count, bytes),
        }
    }

    /// Stores one message.
    pub fn put(&mut self, msg: &Message) -> Result<(), StorageError> {
        match self {
            Storage::Refuse => Err(StorageError("memory queue full".into())),
            Storage::Discard { dropped } => {
                *dropped += 1;
                Ok(())
            }
            Storage::Disk(q) => q.put(msg),
        }
    }

    /// The next stored message, if any.
    pub fn pop(&mut self) -> Option<Message> {
        match self {
            Storage::Disk(q) => q.pop(),
            _ => None,
        }
    }

    /// Messages stored and not yet handed out.
    pub fn depth(&self) -> u64 {
        match self {
            Storage::Disk(q) => q.depth(),
            _ => 0,
        }
    }

    /// Drops everything stored.
    pub fn empty(&mut self) {
        if let Storage::Disk(q) = self {
            q.empty();
        }
    }

    /// A message taken from here (`msg.origin`) is done with.
    pub fn ack(&mut self, origin: u64) {
        if let Storage::Disk(q) = self {
            q.ack(origin);
        }
    }

    /// When a stored message is due, if it was deferred (restored after a restart).
    pub fn deferral(&mut self, id: &MessageId) -> Option<Nanos> {
        match self {
            Storage::Disk(q) => q.deferral(id),
            _ => None,
        }
    }

    /// The last error, while the storage is unhealthy.
    pub fn health(&self) -> Option<String> {
        match self {
            Storage::Disk(q) => q.error().map(str::to_string),
            _ => None,
        }
    }

    pub fn disk_queue(&mut self) -> Option<&mut DiskQueue> {
        match self {
            Storage::Disk(q) => Some(q),
            _ => None,
        }
    }

    pub fn disk_queue_ref(&self) -> Option<&DiskQueue> {
        match self {
            Storage::Disk(q) => Some(q),
            _ => None,
        }
    }
}
