//! What a connection shares with the rest of nsqd: its output buffer (topics
//! write message frames straight into it under their own lock), the
//! signals between its reader, its writer and the broker, and who it is
//! (for the stats).

use bytes::BytesMut;
use nsq_core::broker::{Outbox, Subscription};
use nsq_core::stats::ClientIdentity;
use nsq_core::wire::frame::{put_frame, put_message_frame, FrameType};
use nsq_core::wire::Message;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// A subscribed connection as topics see it.
pub type Handle = Arc<ConnShared>;

/// Who a connection is, kept up to date by its reader for the stats.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    pub identity: ClientIdentity,
    /// Where it is subscribed (its consumer counts live in that channel).
    pub sub: Option<Subscription>,
}

/// Bytes waiting to be written, and how many of them are message frames
/// (the rest are responses, errors and heartbeats).
#[derive(Debug, Default)]
struct Output {
    buf: BytesMut,
    msg_bytes: u64,
}

#[derive(Debug, Default)]
pub struct ConnShared {
    pub id: u64,
    out: Mutex<Output>,
    /// Message frame bytes written to the socket since the reader last told
    /// the channel ([`ConnShared::take_written`]).
    written: AtomicU64,
    /// Bytes the writer took out of `out` and is writing now, and how many
    /// of them are message frames.
    in_write: AtomicU64,
    in_write_msgs: AtomicU64,
    /// Wakes the writer: output is waiting, or it should finish.
    writer_wake: Notify,
    /// Wakes the reader: output drained, or the connection must close.
    reader_wake: Notify,
    /// The broker asked to close this connection (its channel was deleted).
    close_requested: AtomicBool,
    /// The reader is done; the writer flushes what is left and stops.
    reader_done: AtomicBool,
    /// The socket failed while writing.
    writer_failed: AtomicBool,
    /// The reader wants the write half back (a stream upgrade): the writer
    /// flushes what is pending and returns it.
    hand_back: AtomicBool,
    info: Mutex<ConnInfo>,
}

impl ConnShared {
    pub fn new(id: u64) -> Self {
        ConnShared {
            id,
            ..Default::default()
        }
    }

    /// The connection's identity record (the reader writes, stats read).
    pub fn info(&self) -> MutexGuard<'_, ConnInfo> {
        // Plain data: a panic elsewhere cannot leave it half-updated in a harmful way.
        self.info.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn out(&self) -> MutexGuard<'_, Output> {
        // A panic while holding this lock cannot leave the buffer invalid.
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wrote(&self, was_empty: bool) {
        if was_empty {
            self.writer_wake.notify_one();
        }
    }

    pub fn push_frame(&self, ty: FrameType, data: &[u8]) {
        let mut out = self.out();
        let was_empty = out.buf.is_empty();
        put_frame(&mut out.buf, ty, data);
        drop(out);
        self.wrote(was_empty);
    }

    /// Appends the frames of `msgs`, with one lock.
    pub fn push_messages(&self, msgs: &[Message]) {
        let mut out = self.out();
        let was_empty = out.buf.is_empty();
        let before = out.buf.len();
        for m in msgs {
            put_message_frame(&mut out.buf, m);
        }
        out.msg_bytes += (out.buf.len() - before) as u64;
        drop(out);
        self.wrote(was_empty);
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.out().buf.len()
    }

    /// Bytes this connection holds for its client: waiting, and being
    /// written (what a client that stops reading costs).
    pub fn held(&self) -> u64 {
        self.pending() as u64 + self.in_write.load(Ordering::Acquire)
    }

    /// Bytes of message frames this connection holds for its client.
    pub fn held_messages(&self) -> u64 {
        self.out().msg_bytes + self.in_write_msgs.load(Ordering::Acquire)
    }

    /// The writer is writing `n` bytes it took out, `msgs` of them message
    /// frames (0, 0: done).
    pub fn set_in_write(&self, n: usize, msgs: u64) {
        self.in_write.store(n as u64, Ordering::Release);
        self.in_write_msgs.store(msgs, Ordering::Release);
    }

    /// Bytes of responses, errors and heartbeats waiting to be written
    /// (message frames are bounded by their channel instead).
    pub fn pending_responses(&self) -> usize {
        let out = self.out();
        out.buf.len() - out.msg_bytes as usize
    }

    /// Swaps the pending output into `into` (which must be empty); returns
    /// how many of its bytes are message frames.
    pub fn take_output(&self, into: &mut BytesMut) -> u64 {
        let mut out = self.out();
        std::mem::swap(&mut out.buf, into);
        std::mem::take(&mut out.msg_bytes)
    }

    /// The writer wrote `msg_bytes` of message frames to the socket.
    pub fn add_written(&self, msg_bytes: u64) {
        if msg_bytes > 0 {
            self.written.fetch_add(msg_bytes, Ordering::AcqRel);
        }
    }

    /// The message bytes written since the last call, once there are at
    /// least `min` of them (fewer are left for later).
    pub fn take_written(&self, min: u64) -> Option<u64> {
        let n = self.written.load(Ordering::Acquire);
        if n == 0 || n < min {
            return None;
        }
        Some(self.written.swap(0, Ordering::AcqRel))
    }

    pub fn update_info(&self, f: impl FnOnce(&mut ConnInfo)) {
        f(&mut self.info())
    }

    /// Asks the writer to flush and hand its half back (see `conn.rs`).
    pub fn request_hand_back(&self, on: bool) {
        self.hand_back.store(on, Ordering::Release);
        if on {
            self.writer_wake.notify_one();
        }
    }

    pub fn hand_back_requested(&self) -> bool {
        self.hand_back.load(Ordering::Acquire)
    }

    pub fn request_close(&self) {
        self.close_requested.store(true, Ordering::Release);
        self.reader_wake.notify_one();
    }

    pub fn close_requested(&self) -> bool {
        self.close_requested.load(Ordering::Acquire) || self.writer_failed.load(Ordering::Acquire)
    }

    pub fn set_reader_done(&self) {
        self.reader_done.store(true, Ordering::Release);
        self.writer_wake.notify_one();
    }

    pub fn reader_done(&self) -> bool {
        self.reader_done.load(Ordering::Acquire)
    }

    pub fn set_writer_failed(&self) {
        self.writer_failed.store(true, Ordering::Release);
        self.reader_wake.notify_one();
    }

    pub async fn writer_wakeup(&self) {
        self.writer_wake.notified().await
    }

    pub fn notify_drained(&self) {
        self.reader_wake.notify_one();
    }

    pub async fn reader_wakeup(&self) {
        self.reader_wake.notified().await
    }
}

/// How many of the latest batches a delivery may join (a small linear search).
const MERGE_LOOKBACK: usize = 8;

/// The runtime's [`Outbox`]: what a topic operation delivers is gathered
/// per consumer (messages are reference-counted, so this copies no body)
/// and encoded into each consumer's buffer, with one lock of that buffer,
/// when the outbox is dropped — after the topic lock is released, where
/// the caller keeps the outbox outside it.
#[derive(Default)]
pub struct Deliver {
    batches: Vec<(Handle, Vec<Message>)>,
}

impl Drop for Deliver {
    fn drop(&mut self) {
        for (to, msgs) in self.batches.drain(..) {
            to.push_messages(&msgs);
        }
    }
}

impl Outbox<Handle> for Deliver {
    fn deliver(&mut self, to: &Handle, msg: &Message) {
        // A pump hands messages round-robin to the ready consumers: look a
        // few batches back, so alternating consumers still get one batch each.
        let mut recent = self.batches.iter_mut().rev().take(MERGE_LOOKBACK);
        match recent.find(|(h, _)| Arc::ptr_eq(h, to)) {
            Some((_, msgs)) => msgs.push(msg.clone()),
            None => self.batches.push((Arc::clone(to), vec![msg.clone()])),
        }
    }

    fn close(&mut self, to: &Handle) {
        to.request_close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use nsq_core::wire::MessageId;

    fn msg(n: u8) -> Message {
        Message::new(MessageId([b'0' + n; 16]), 0, Bytes::from(vec![n]))
    }

    #[test]
    fn alternating_consumers_get_one_batch_each_in_order() {
        let (a, b) = (Arc::new(ConnShared::new(1)), Arc::new(ConnShared::new(2)));
        let mut out = Deliver::default();
        for n in 0..6 {
            out.deliver(if n % 2 == 0 { &a } else { &b }, &msg(n));
        }
        assert_eq!(out.batches.len(), 2);
        let bodies = |i: usize| -> Vec<u8> { out.batches[i].1.iter().map(|m| m.body[0]).collect() };
        assert_eq!((bodies(0), bodies(1)), (vec![0, 2, 4], vec![1, 3, 5]));
        drop(out);
        assert!(a.pending() > 0 && b.pending() > 0);
    }
}
