//! A channel: its own copy of every message of its topic, shared out among
//! its consumers with RDY flow control, in-flight timeouts and deferral.

use super::config::BrokerConfig;
use super::consumer::{Consumer, ConsumerSettings};
use super::deferred::Deferred;
use super::inflight::{InFlight, InFlightEntry, InFlightError};
use super::outbox::Outbox;
use super::queue::MsgQueue;
use super::storage::{Storage, StorageError};
use crate::io::Nanos;
use crate::stats::Quantile;
use crate::wire::names::is_ephemeral;
use crate::wire::{Message, MessageId};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use slab::Slab;
use std::collections::VecDeque;

#[derive(Debug)]
pub struct Channel<K> {
    topic: String,
    name: String,
    ephemeral: bool,
    paused: bool,
    queue: MsgQueue,
    /// Names this queue's disk jobs and their outcomes (unique in its topic).
    pub(crate) queue_id: u64,
    in_flight: InFlight,
    deferred: Deferred,
    consumers: Slab<Consumer<K>>,
    /// Consumers that can take a message, in round-robin order.
    ready: VecDeque<usize>,
    rng: SmallRng,
    max_msg_timeout: Nanos,
    max_consumers: usize,
    max_unwritten: u64,
    /// Messages put (NSQ's message_count).
    pub message_count: u64,
    pub requeue_count: u64,
    pub timeout_count: u64,
    /// Earliest deadline added since the runtime last asked.
    new_deadline: Nanos,
    /// End-to-end latency of finished messages (when configured).
    e2e: Option<Quantile>,
}

impl<K> Channel<K> {
    pub fn new(topic: &str, name: &str, cfg: &BrokerConfig, seed: u64) -> Self {
        let ephemeral = is_ephemeral(name);
        let storage = cfg.new_storage(topic, Some(name), ephemeral);
        Self::with_storage(topic, name, cfg, storage, seed)
    }

    /// A channel around storage the caller made (a diskqueue opened at start).
    pub fn with_storage(
        topic: &str,
        name: &str,
        cfg: &BrokerConfig,
        storage: Storage,
        seed: u64,
    ) -> Self {
        Channel {
            topic: topic.to_string(),
            name: name.to_string(),
            ephemeral: is_ephemeral(name),
            paused: false,
            queue: MsgQueue::new(cfg.mem_queue_size, storage),
            queue_id: 0,
            in_flight: InFlight::default(),
            deferred: Deferred::default(),
            consumers: Slab::new(),
            ready: VecDeque::new(),
            rng: SmallRng::seed_from_u64(seed),
            max_msg_timeout: cfg.max_msg_timeout,
            max_consumers: cfg.max_channel_consumers,
            max_unwritten: cfg.max_unwritten,
            message_count: 0,
            requeue_count: 0,
            timeout_count: 0,
            new_deadline: Nanos::MAX,
            e2e: (!cfg.e2e_percentiles.is_empty())
                .then(|| Quantile::new(cfg.e2e_window, cfg.e2e_percentiles.clone())),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Messages waiting: memory plus backend (in-flight and deferred are apart).
    pub fn depth(&self) -> u64 {
        self.queue.depth()
    }

    pub fn backend_depth(&self) -> u64 {
        self.queue.backend_depth()
    }

    pub fn in_flight_count(&self) -> usize {
        self.in_flight.len()
    }

    pub fn deferred_count(&self) -> usize {
        self.deferred.len()
    }

    pub fn queue(&self) -> &MsgQueue {
        &self.queue
    }

    pub fn queue_mut(&mut self) -> &mut MsgQueue {
        &mut self.queue
    }

    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    pub fn deferred(&self) -> &Deferred {
        &self.deferred
    }

    pub fn consumers(&self) -> impl Iterator<Item = (usize, &Consumer<K>)> {
        self.consumers.iter()
    }

    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }

    /// The end-to-end latency window, if latency is tracked.
    pub fn e2e(&self) -> Option<&Quantile> {
        self.e2e.as_ref()
    }

    /// The earliest in-flight or deferred deadline.
    pub fn next_deadline(&self) -> Option<Nanos> {
        match (
            self.in_flight.next_deadline(),
            self.deferred.next_deadline(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest deadline added since the last call (`Nanos::MAX` if none).
    pub fn take_new_deadline(&mut self) -> Nanos {
        std::mem::replace(&mut self.new_deadline, Nanos::MAX)
    }

    /// Adds a subscriber; NSQ's --max-channel-consumers applies.
    pub fn add_consumer(&mut self, handle: K, settings: ConsumerSettings) -> Result<usize, String> {
        if self.max_consumers != 0 && self.consumers.len() >= self.max_consumers {
            return Err(format!(
                "consumers for {}:{} exceeds limit of {}",
                self.topic, self.name, self.max_consumers
            ));
        }
        Ok(self
            .consumers
            .insert(Consumer::new(handle, settings, self.max_unwritten)))
    }

    fn consumer_mut(&mut self, slot: usize, client_id: u64) -> Option<&mut Consumer<K>> {
        self.consumers
            .get_mut(slot)
            .filter(|c| c.settings.client_id == client_id)
    }

    /// Removes a subscriber. Its in-flight messages time out as usual (as
    /// in NSQ). Returns true when an ephemeral channel lost its last consumer
    /// and should be deleted.
    pub fn remove_consumer(&mut self, slot: usize, client_id: u64) -> bool {
        if self.consumer_mut(slot, client_id).is_some() {
            self.consumers.remove(slot);
            self.ready.retain(|&s| s != slot);
        }
        self.ephemeral && self.consumers.is_empty()
    }

    /// Sets a consumer's RDY and delivers what it can now take.
    pub fn set_rdy(
        &mut self,
        slot: usize,
        client_id: u64,
        count: i64,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) {
        if let Some(c) = self.consumer_mut(slot, client_id) {
            c.rdy = count;
            self.relist(slot);
            self.dispatch(now, out);
        }
    }

    /// The consumer's connection wrote `bytes` of the message frames it was
    /// handed to its socket: room for more.
    pub fn output_written(
        &mut self,
        slot: usize,
        client_id: u64,
        bytes: u64,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) {
        if let Some(c) = self.consumer_mut(slot, client_id) {
            c.unwritten = c.unwritten.saturating_sub(bytes);
            self.relist(slot);
            self.dispatch(now, out);
        }
    }

    /// Updates what a consumer negotiated (e.g. its msg_timeout).
    pub fn update_settings(&mut self, slot: usize, settings: ConsumerSettings) {
        if let Some(c) = self.consumer_mut(slot, settings.client_id) {
            c.settings = settings;
        }
    }

    fn relist(&mut self, slot: usize) {
        if let Some(c) = self.consumers.get_mut(slot) {
            if !c.listed && c.is_ready() {
                c.listed = true;
                self.ready.push_back(slot);
            }
        }
    }

    fn take_in_flight(
        &mut self,
        slot: usize,
        client_id: u64,
        id: &MessageId,
    ) -> Result<InFlightEntry, InFlightError> {
        if self.consumer_mut(slot, client_id).is_none() {
            return Err(InFlightError::NotInFlight);
        }
        let entry = self.in_flight.remove_owned(id, client_id)?;
        if let Some(c) = self.consumers.get_mut(slot) {
            c.in_flight -= 1;
        }
        Ok(entry)
    }

    /// FIN: the consumer is done with `id`.
    pub fn finish(
        &mut self,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<(), InFlightError> {
        self.finish_one(slot, client_id, id, now)?;
        self.relist(slot);
        self.dispatch(now, out);
        Ok(())
    }

    /// FIN of several ids (a batch from one read): one relist and one
    /// dispatch for all of them. Returns the failures by index.
    pub fn finish_many(
        &mut self,
        slot: usize,
        client_id: u64,
        ids: &[MessageId],
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Vec<(usize, InFlightError)> {
        let failed = ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                self.finish_one(slot, client_id, id, now)
                    .err()
                    .map(|e| (i, e))
            })
            .collect();
        self.relist(slot);
        self.dispatch(now, out);
        failed
    }

    /// Takes `id` out of flight for good (its end-to-end latency counts).
    fn finish_one(
        &mut self,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        let entry = self.take_in_flight(slot, client_id, id)?;
        if let Some(c) = self.consumers.get_mut(slot) {
            c.finish_count += 1;
        }
        if let Some(q) = &mut self.e2e {
            q.insert(entry.msg.timestamp, now);
        }
        self.done_with(&entry.msg);
        Ok(())
    }

    /// REQ: put `id` back, now or after `delay`.
    pub fn requeue(
        &mut self,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        delay: Nanos,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<(), String> {
        let entry = self
            .take_in_flight(slot, client_id, id)
            .map_err(|e| e.as_str().to_string())?;
        self.requeue_count += 1;
        if let Some(c) = self.consumers.get_mut(slot) {
            c.requeue_count += 1;
        }
        if delay <= 0 {
            // Never lose a message that was already accepted.
            self.queue.put_or_keep(entry.msg);
        } else {
            self.defer(entry.msg, now.saturating_add(delay));
        }
        self.relist(slot);
        self.dispatch(now, out);
        Ok(())
    }

    /// TOUCH: restart the message's timeout, capped at --max-msg-timeout
    /// after its delivery.
    pub fn touch(
        &mut self,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        let timeout = self
            .consumer_mut(slot, client_id)
            .ok_or(InFlightError::NotInFlight)?
            .settings
            .msg_timeout;
        let max = self.max_msg_timeout;
        let mut added = Nanos::MAX;
        self.in_flight.reschedule(id, client_id, |e| {
            let mut deadline = now.saturating_add(timeout);
            if deadline - e.delivered_at >= max {
                deadline = e.delivered_at.saturating_add(max);
            }
            added = deadline;
            deadline
        })?;
        self.new_deadline = self.new_deadline.min(added);
        Ok(())
    }

    /// Whether `count` messages of `bytes` would all be taken.
    pub fn can_accept(&self, count: usize, bytes: usize) -> Result<(), StorageError> {
        self.queue.can_accept(count, bytes)
    }

    /// Queues a new message (or hands it straight to a ready consumer when
    /// nothing is queued and the queue may live in memory). The caller
    /// dispatches afterwards.
    pub fn put(
        &mut self,
        msg: Message,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<(), StorageError> {
        let Some(msg) = self.hand_off(msg, now, out) else {
            return Ok(());
        };
        self.queue.put(msg)?;
        self.message_count += 1;
        Ok(())
    }

    /// Queues a message the topic already accepted: a refusing backend
    /// leaves it in memory rather than losing it.
    pub fn put_accepted(
        &mut self,
        msg: Message,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Option<StorageError> {
        let msg = self.hand_off(msg, now, out)?;
        self.message_count += 1;
        self.queue.put_or_keep(msg)
    }

    /// Delivers `msg` at once if that keeps NSQ's semantics; gives it back otherwise.
    fn hand_off(&mut self, msg: Message, now: Nanos, out: &mut impl Outbox<K>) -> Option<Message> {
        // With --mem-queue-size=0 a durable channel sends everything through disk.
        let may_skip_queue = self.ephemeral || !self.queue.memory_disabled();
        if may_skip_queue && !self.paused && self.queue.is_empty() {
            if let Some(slot) = self.next_ready() {
                self.message_count += 1;
                self.send(slot, msg, now, out);
                return None;
            }
        }
        Some(msg)
    }

    /// Defers a message until `deadline` (DPUB).
    pub fn put_deferred(&mut self, msg: Message, deadline: Nanos) {
        self.message_count += 1;
        self.defer(msg, deadline);
    }

    fn defer(&mut self, msg: Message, deadline: Nanos) {
        self.new_deadline = self.new_deadline.min(deadline);
        self.deferred.push(msg, deadline);
    }

    /// Times out in-flight messages and releases due deferred ones.
    pub fn tick(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        while let Some(e) = self.in_flight.pop_expired(now) {
            self.timeout_count += 1;
            if let Some(c) = self.consumer_mut(e.slot, e.client_id) {
                c.in_flight -= 1;
                self.relist(e.slot);
            }
            self.queue.put_or_keep(e.msg);
        }
        while let Some(d) = self.deferred.pop_due(now) {
            self.queue.put_or_keep(d.msg);
        }
        self.dispatch(now, out);
    }

    /// The next consumer in round-robin order that can take a message.
    fn next_ready(&mut self) -> Option<usize> {
        while let Some(&slot) = self.ready.front() {
            match self.consumers.get_mut(slot) {
                Some(c) if c.is_ready() => return Some(slot),
                Some(c) => c.listed = false,
                None => {}
            }
            self.ready.pop_front();
        }
        None
    }

    fn send(&mut self, slot: usize, mut msg: Message, now: Nanos, out: &mut impl Outbox<K>) {
        self.ready.pop_front();
        let c = &mut self.consumers[slot];
        let sample = c.settings.sample_rate;
        // NSQ's sampling: the message is consumed but only some are sent.
        if sample > 0 && self.rng.random_range(0..100) > sample {
            self.ready.push_front(slot);
            self.done_with(&msg);
            return;
        }
        msg.attempts = msg.attempts.wrapping_add(1);
        c.in_flight += 1;
        c.message_count += 1;
        let frame = crate::wire::frame::message_frame_len(&msg) as u64;
        c.unwritten += frame;
        let deadline = now.saturating_add(c.settings.msg_timeout);
        let client_id = c.settings.client_id;
        if c.is_ready() {
            self.ready.push_back(slot);
        } else {
            c.listed = false;
        }
        self.new_deadline = self.new_deadline.min(deadline);
        let origin = msg.origin;
        match self
            .in_flight
            .insert(InFlightEntry::new(msg, client_id, slot, deadline, now))
        {
            Ok(entry) => out.deliver(&self.consumers[slot].handle, &entry.msg),
            Err(InFlightError::AlreadyInFlight) => {
                // The same id is already out (a duplicate put): drop this copy.
                let c = &mut self.consumers[slot];
                c.in_flight -= 1;
                c.message_count -= 1;
                c.unwritten = c.unwritten.saturating_sub(frame);
                self.relist(slot);
                // This copy's record is done with (the one in flight has its own).
                if origin != 0 {
                    self.queue.storage_mut().ack(origin);
                }
            }
            Err(_) => {}
        }
    }

    /// A message will not be seen again: release its disk record, if any.
    fn done_with(&mut self, msg: &Message) {
        if msg.origin != 0 {
            self.queue.storage_mut().ack(msg.origin);
        }
    }

    /// Hands queued messages to ready consumers.
    pub fn dispatch(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        if self.paused {
            return;
        }
        while let Some(slot) = self.next_ready() {
            let Some(msg) = self.queue.pop() else { break };
            // A message stored while deferred (restored after a restart) waits for its time.
            if msg.origin != 0 {
                if let Some(due) = self.queue.storage_mut().deferral(&msg.id) {
                    if due > now {
                        self.defer(msg, due);
                        continue;
                    }
                }
            }
            self.send(slot, msg, now, out);
        }
        self.carry_forward();
    }

    /// Once the reader has left a segment, the messages still held from
    /// segments behind it (in flight, deferred, requeued into memory) are
    /// written again at the head, so those segments can go: the disk holds
    /// what is live, not everything since the oldest held message.
    fn carry_forward(&mut self) {
        let Some(dq) = self.queue.disk() else { return };
        if !dq.take_rolled() {
            return;
        }
        let pinning = dq.pinning();
        if pinning.is_empty() {
            return;
        }
        let carry = |m: &mut Message, dq: &mut crate::diskqueue::DiskQueue| {
            if pinning.contains(&m.origin) {
                m.origin = dq.carry(m);
            }
        };
        if let Some(dq) = self.queue.disk() {
            for m in self.in_flight.messages_mut() {
                carry(m, dq);
            }
            self.deferred.update_messages(|m| carry(m, dq));
        }
        self.queue.carry_memory(&pinning);
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn unpause(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        self.paused = false;
        self.dispatch(now, out);
    }

    /// NSQ's channel empty: drops queued, in-flight and deferred messages.
    pub fn empty(&mut self) {
        self.queue.empty();
        self.in_flight.clear();
        self.deferred.clear();
        let slots: Vec<usize> = self.consumers.iter().map(|(s, _)| s).collect();
        for slot in slots {
            self.consumers[slot].in_flight = 0;
            self.relist(slot);
        }
    }

    /// Asks the runtime to close every consumer (the channel is going away).
    pub fn close_consumers(&mut self, out: &mut impl Outbox<K>) {
        for (_, c) in self.consumers.iter() {
            out.close(&c.handle);
        }
    }

    /// Shutdown: writes everything held in memory (queued, in flight,
    /// deferred — with their deadlines in a side file) to the diskqueue and
    /// asks for a final sync. Without a diskqueue (ephemeral), it is dropped.
    pub fn persist_for_shutdown(&mut self) {
        let (queued, in_flight, deferred) = self.drain_for_shutdown();
        if let Some(dq) = self.queue.disk() {
            persist_into(dq, queued.into_iter().chain(in_flight), deferred);
        }
    }

    /// Takes out everything held in memory — queued, in flight (earliest
    /// deadline first), deferred (with deadlines) — for persisting at shutdown.
    pub fn drain_for_shutdown(&mut self) -> (Vec<Message>, Vec<Message>, Vec<(Message, Nanos)>) {
        let queued = self.queue.drain_memory();
        let in_flight = self
            .in_flight
            .drain_by_deadline()
            .into_iter()
            .map(|e| e.msg)
            .collect();
        let deferred = self
            .deferred
            .drain_sorted()
            .into_iter()
            .map(|d| (d.msg, d.deadline))
            .collect();
        (queued, in_flight, deferred)
    }
}

/// Appends messages (and deferred ones with their deadlines) to a diskqueue
/// whose outstanding records are being rewritten this way, and asks for a sync.
pub(crate) fn persist_into(
    dq: &mut crate::diskqueue::DiskQueue,
    msgs: impl Iterator<Item = Message>,
    deferred: Vec<(Message, Nanos)>,
) {
    dq.release_outstanding();
    for mut m in msgs {
        m.origin = 0;
        dq.append_message(&m);
    }
    let mut deadlines = Vec::with_capacity(deferred.len());
    for (mut m, due) in deferred {
        m.origin = 0;
        dq.append_message(&m);
        deadlines.push((m.id, due));
    }
    dq.write_deferrals(&deadlines);
    dq.request_sync();
}

#[cfg(test)]
mod tests;
