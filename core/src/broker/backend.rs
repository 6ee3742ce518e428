//! Where a queue's messages go once its memory part is full.

use crate::wire::Message;
use std::fmt;

/// Why a backend refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError(pub String);

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendError {}

/// The overflow store behind a topic's or channel's memory queue: the
/// diskqueue for durable queues, [`Discard`] for ephemeral ones.
pub trait Backend: Send + fmt::Debug {
    /// Whether `count` more messages of `bytes` total would be taken.
    fn can_accept(&self, count: usize, bytes: usize) -> Result<(), BackendError>;
    /// Stores one message.
    fn put(&mut self, msg: &Message) -> Result<(), BackendError>;
    /// The next stored message that is ready to hand out, if any.
    fn pop(&mut self) -> Option<Message>;
    /// Messages stored and not yet handed out.
    fn depth(&self) -> u64;
    /// Drops everything stored.
    fn empty(&mut self);
    /// Lets downcasting runtimes reach their concrete backend (the diskqueue).
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
    /// A message taken from here (`msg.origin`) is done with.
    fn ack(&mut self, _origin: u64) {}
    /// When a stored message is due, if it was deferred (restored after a restart).
    fn deferral(&mut self, _id: &crate::wire::MessageId) -> Option<crate::io::Nanos> {
        None
    }
    /// The last error, while the backend is unhealthy.
    fn health(&self) -> Option<String> {
        None
    }
    /// The diskqueue behind this backend, if it is one.
    fn disk_queue(&mut self) -> Option<&mut crate::diskqueue::DiskQueue> {
        None
    }
    fn disk_queue_ref(&self) -> Option<&crate::diskqueue::DiskQueue> {
        None
    }
}

/// NSQ's backend for ephemeral topics and channels: overflow is dropped.
#[derive(Debug, Default)]
pub struct Discard {
    pub dropped: u64,
}

impl Backend for Discard {
    fn can_accept(&self, _: usize, _: usize) -> Result<(), BackendError> {
        Ok(())
    }
    fn put(&mut self, _: &Message) -> Result<(), BackendError> {
        self.dropped += 1;
        Ok(())
    }
    fn pop(&mut self) -> Option<Message> {
        None
    }
    fn depth(&self) -> u64 {
        0
    }
    fn empty(&mut self) {}
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// A backend that holds nothing and refuses overflow (a queue with no disk).
#[derive(Debug, Default)]
pub struct Refuse;

impl Backend for Refuse {
    fn can_accept(&self, count: usize, _: usize) -> Result<(), BackendError> {
        if count == 0 {
            Ok(())
        } else {
            Err(BackendError("memory queue full".into()))
        }
    }
    fn put(&mut self, _: &Message) -> Result<(), BackendError> {
        Err(BackendError("memory queue full".into()))
    }
    fn pop(&mut self) -> Option<Message> {
        None
    }
    fn depth(&self) -> u64 {
        0
    }
    fn empty(&mut self) {}
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
