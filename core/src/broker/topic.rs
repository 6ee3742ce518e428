//! A topic: gives every published message to each of its channels, and
//! holds messages itself while it has no channel or is paused.
//!
//! Every change to a channel goes through the topic, so the topic can tell
//! the runtime when a new, earlier deadline needs its timer ([`Topic::take_wake`]).

use super::channel::Channel;
use super::config::BrokerConfig;
use super::consumer::ConsumerSettings;
use super::deletion::Deletion;
use super::guid::GuidFactory;
use super::inflight::InFlightError;
use super::outbox::Outbox;
use super::queue::MsgQueue;
use super::storage::{Storage, StorageError};
use crate::diskqueue::{DiskQueue, IoJob, IoOutcome};
use crate::io::Nanos;
use crate::wire::names::is_ephemeral;
use crate::wire::{Message, MessageId};
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use std::collections::{BTreeMap, VecDeque};

/// How many backlog messages one pump call moves (bounds time under the lock).
pub const PUMP_BATCH: usize = 1024;

/// What removing a consumer left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unsubscribed {
    /// The (ephemeral) channel lost its last consumer and was deleted.
    pub channel_deleted: bool,
    /// The topic is ephemeral and has no channel left: delete it.
    pub topic_should_go: bool,
}

/// A channel came or went: what nsqd tells its lookupds
/// ([`Topic::take_events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    Created(String),
    Deleted(String),
}

#[derive(Debug)]
pub struct Topic<K> {
    name: String,
    ephemeral: bool,
    paused: bool,
    /// Not started yet: like NSQ, a new topic holds its messages until the
    /// channels lookupd knows for it are created ([`Topic::start`]).
    held: bool,
    events: Vec<ChannelEvent>,
    channels: BTreeMap<String, Channel<K>>,
    /// Messages waiting for a channel (none yet, or the topic is paused).
    backlog: MsgQueue,
    /// DPUBs waiting for a channel, with their deadlines.
    deferred_backlog: VecDeque<(Message, Nanos)>,
    guid: GuidFactory,
    cfg: BrokerConfig,
    rng: SmallRng,
    pub message_count: u64,
    pub message_bytes: u64,
    wake: Nanos,
    /// Backlog records moved into channels, acknowledged once the channels
    /// that took them are durable.
    transfers: VecDeque<Transfer>,
    /// Deleted channels (or, once the topic is deleted, everything) whose
    /// files are on their way out (see `deletion.rs`).
    deletions: Vec<Deletion>,
    /// The next key for a queue or a deletion (the backlog's is 0).
    next_key: u64,
}

/// Backlog records (`origins`) moved into channels, done with once each
/// channel has synced the record count it had after taking them (`needs`).
#[derive(Debug)]
struct Transfer {
    needs: Vec<(QueueKey, u64)>,
    origins: Vec<u64>,
}

/// Names one queue of a topic (its backlog, a channel's, a deleted one's)
/// or one deletion, for its disk jobs and their outcomes: unique for the
/// topic's life, so an outcome never reaches a namesake created meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueKey(pub u64);

impl QueueKey {
    pub const BACKLOG: QueueKey = QueueKey(0);
}

impl<K> Topic<K> {
    pub fn new(name: &str, cfg: BrokerConfig, seed: u64) -> Self {
        let storage = cfg.new_storage(name, None, is_ephemeral(name));
        Self::with_backlog(name, cfg, storage, seed)
    }

    /// Builds a topic around a backlog the caller made (a diskqueue opened at start).
    pub fn with_backlog(name: &str, cfg: BrokerConfig, storage: Storage, seed: u64) -> Self {
        Topic {
            name: name.to_string(),
            ephemeral: is_ephemeral(name),
            paused: false,
            held: false,
            events: Vec::new(),
            channels: BTreeMap::new(),
            backlog: MsgQueue::new(cfg.mem_queue_size, storage),
            deferred_backlog: VecDeque::new(),
            guid: GuidFactory::new(cfg.node_id),
            cfg,
            rng: SmallRng::seed_from_u64(seed),
            message_count: 0,
            message_bytes: 0,
            wake: Nanos::MAX,
            transfers: VecDeque::new(),
            deletions: Vec::new(),
            next_key: 1,
        }
    }

    fn new_key(&mut self) -> u64 {
        let k = self.next_key;
        self.next_key += 1;
        k
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

    /// The topic's own queue (its backlog).
    pub fn backlog(&self) -> &MsgQueue {
        &self.backlog
    }

    pub fn backlog_mut(&mut self) -> &mut MsgQueue {
        &mut self.backlog
    }

    /// The topic's depth: its own backlog (channels count apart).
    pub fn depth(&self) -> u64 {
        self.backlog.depth() + self.deferred_backlog.len() as u64
    }

    pub fn channel(&self, name: &str) -> Option<&Channel<K>> {
        self.channels.get(name)
    }

    /// Direct access to a channel. Changes made this way do not reach
    /// [`Topic::take_wake`]; prefer the topic's own methods.
    pub fn channel_mut(&mut self, name: &str) -> Option<&mut Channel<K>> {
        self.channels.get_mut(name)
    }

    /// Channels in name order.
    pub fn channels(&self) -> impl Iterator<Item = &Channel<K>> {
        self.channels.values()
    }

    pub fn channels_mut(&mut self) -> impl Iterator<Item = &mut Channel<K>> {
        self.channels.values_mut()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    fn note(&mut self, deadline: Nanos) {
        self.wake = self.wake.min(deadline);
    }

    /// The earliest deadline added since the last call, if any: the runtime
    /// re-arms the topic's timer when it is earlier than the armed one.
    pub fn take_wake(&mut self) -> Option<Nanos> {
        let w = std::mem::replace(&mut self.wake, Nanos::MAX);
        (w != Nanos::MAX).then_some(w)
    }

    /// When [`Topic::tick`] next has work.
    pub fn next_deadline(&self, now: Nanos) -> Option<Nanos> {
        if self.wants_pump() {
            return Some(now);
        }
        self.channels
            .values()
            .filter_map(Channel::next_deadline)
            .min()
    }

    fn wants_pump(&self) -> bool {
        !self.paused
            && !self.held
            && !self.channels.is_empty()
            && (!self.backlog.is_empty() || !self.deferred_backlog.is_empty())
    }

    /// Creates the channel if needed (moving the backlog into it).
    pub fn get_or_create_channel(
        &mut self,
        name: &str,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> &mut Channel<K> {
        if !self.channels.contains_key(name) {
            let seed = self.rng.next_u64();
            let mut ch = Channel::new(&self.name, name, &self.cfg, seed);
            ch.queue_id = self.new_key();
            self.channels.insert(name.to_string(), ch);
            self.events.push(ChannelEvent::Created(name.to_string()));
            self.pump(now, out);
        }
        self.channels
            .get_mut(name)
            .expect("channel exists: inserted above")
    }

    /// Adds a channel around storage the caller opened (nsqd loading its
    /// data at start). Nothing flows into it until the caller pumps.
    pub fn add_loaded_channel(&mut self, name: &str, storage: Storage) -> &mut Channel<K> {
        if !self.channels.contains_key(name) {
            let seed = self.rng.next_u64();
            let mut ch = Channel::with_storage(&self.name, name, &self.cfg, storage, seed);
            ch.queue_id = self.new_key();
            self.channels.insert(name.to_string(), ch);
            self.events.push(ChannelEvent::Created(name.to_string()));
        }
        self.channels
            .get_mut(name)
            .expect("channel exists: inserted above")
    }

    /// SUB: subscribes a consumer (creating the channel) and returns its slot.
    pub fn subscribe(
        &mut self,
        channel: &str,
        handle: K,
        settings: ConsumerSettings,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<usize, String> {
        self.get_or_create_channel(channel, now, out)
            .add_consumer(handle, settings)
    }

    /// A consumer went away; ephemeral channels and topics vanish with their last one.
    pub fn unsubscribe(&mut self, channel: &str, slot: usize, client_id: u64) -> Unsubscribed {
        let mut res = Unsubscribed::default();
        if let Some(ch) = self.channels.get_mut(channel) {
            if ch.remove_consumer(slot, client_id) {
                if let Some(mut ch) = self.channels.remove(channel) {
                    ch.empty();
                    self.retire(ch);
                }
                self.events.push(ChannelEvent::Deleted(channel.to_string()));
                res.channel_deleted = true;
                res.topic_should_go = self.ephemeral && self.channels.is_empty();
            }
        }
        res
    }

    /// Deletes a channel, closing its consumers. Returns false if it did not exist.
    pub fn delete_channel(&mut self, name: &str, out: &mut impl Outbox<K>) -> bool {
        match self.channels.remove(name) {
            Some(mut ch) => {
                ch.close_consumers(out);
                ch.empty();
                self.retire(ch);
                self.events.push(ChannelEvent::Deleted(name.to_string()));
                true
            }
            None => false,
        }
    }

    /// True when an ephemeral topic has no channel left and should go.
    pub fn should_vanish(&self) -> bool {
        self.ephemeral && self.channels.is_empty()
    }

    /// Deletes everything (topic delete): closes every consumer, drops all messages.
    pub fn delete_all(&mut self, out: &mut impl Outbox<K>) {
        self.empty();
        self.transfers.clear();
        let mut queues = Vec::new();
        if let Storage::Disk(q) = std::mem::replace(self.backlog.storage_mut(), Storage::Refuse) {
            queues.push((QueueKey::BACKLOG.0, q));
        }
        for (name, mut ch) in std::mem::take(&mut self.channels) {
            ch.close_consumers(out);
            ch.empty();
            queues.extend(Self::disk_of(ch));
            self.events.push(ChannelEvent::Deleted(name));
        }
        if !queues.is_empty() {
            let id = self.new_key();
            self.deletions.push(Deletion::new(id, None, queues));
        }
    }

    /// A channel's diskqueue, taken out of it, with its key.
    fn disk_of(mut ch: Channel<K>) -> Option<(u64, Box<DiskQueue>)> {
        let key = ch.queue_id;
        match std::mem::replace(ch.queue_mut().storage_mut(), Storage::Refuse) {
            Storage::Disk(q) => Some((key, q)),
            _ => None,
        }
    }

    /// A channel is gone: its files go too.
    fn retire(&mut self, ch: Channel<K>) {
        let name = ch.name().to_string();
        if let Some(q) = Self::disk_of(ch) {
            let id = self.new_key();
            self.deletions.push(Deletion::new(id, Some(name), vec![q]));
        }
    }

    /// Whether the deletion of `channel` (or of the whole topic, `None`) is
    /// committed: its tombstones are durable and its files removed, so no
    /// restart brings it back. True when there is nothing on disk to delete.
    pub fn deletion_committed(&self, channel: Option<&str>) -> bool {
        self.deletions
            .iter()
            .filter(|d| d.channel.as_deref() == channel)
            .all(Deletion::is_committed)
    }

    /// Whether a deletion waits for `nsqd.dat` to be rewritten.
    pub fn awaits_catalog(&self) -> bool {
        self.deletions.iter().any(Deletion::awaits_catalog)
    }

    /// Records, for the deletions begun so far, the first `nsqd.dat` write
    /// (by generation) that cannot list their queues any more: the runtime
    /// calls this right after an operation (and after taking a deleted
    /// topic out of its registry), with the generation of the next write.
    pub fn stamp_deletions(&mut self, generation: u64) {
        for d in &mut self.deletions {
            d.stamp(generation);
        }
    }

    /// `nsqd.dat` was written by the write of `generation`: deletions that
    /// waited for it remove their tombstones.
    pub fn catalog_persisted(&mut self, generation: u64) {
        for d in &mut self.deletions {
            d.catalog_persisted(generation);
        }
    }

    /// Whether every deletion has finished (nothing of a deleted queue is
    /// left on disk, tombstones included).
    pub fn deletions_done(&self) -> bool {
        self.deletions.is_empty()
    }

    fn fans_out_now(&self) -> bool {
        !self.paused
            && !self.held
            && !self.channels.is_empty()
            && self.backlog.is_empty()
            && self.deferred_backlog.is_empty()
    }

    /// PUB / MPUB: stamps ids and queues the bodies for every channel. Either
    /// every message is taken or none is (barring a disk error mid-batch).
    pub fn publish(
        &mut self,
        bodies: Vec<Bytes>,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<(), String> {
        let count = bodies.len();
        let bytes: usize = bodies.iter().map(Bytes::len).sum();
        let err = |e: StorageError| e.0;
        if self.fans_out_now() {
            for ch in self.channels.values() {
                ch.can_accept(count, bytes).map_err(err)?;
            }
            for body in bodies {
                let len = body.len() as u64;
                let msg = Message::new(self.guid.next_id(now), now, body);
                // Every channel said it has room: each takes it (a refusal
                // now would leave some with it and some without).
                let _ = put_in_each(self.channels.values_mut(), msg, |ch, m| {
                    ch.put_accepted(m, now, out);
                    Ok::<(), ()>(())
                });
                self.message_count += 1;
                self.message_bytes += len;
            }
            for ch in self.channels.values_mut() {
                ch.dispatch(now, out);
                let d = ch.take_new_deadline();
                self.wake = self.wake.min(d);
            }
        } else {
            self.backlog.can_accept(count, bytes).map_err(err)?;
            for body in bodies {
                let len = body.len() as u64;
                let msg = Message::new(self.guid.next_id(now), now, body);
                self.backlog.put_or_keep(msg);
                self.message_count += 1;
                self.message_bytes += len;
            }
        }
        Ok(())
    }

    /// DPUB: a message every channel gets after `delay`.
    pub fn publish_deferred(&mut self, body: Bytes, delay: Nanos, now: Nanos) -> MessageId {
        let msg = Message::new(self.guid.next_id(now), now, body);
        let id = msg.id;
        let deadline = now.saturating_add(delay);
        self.message_count += 1;
        self.message_bytes += msg.body.len() as u64;
        if self.fans_out_now() {
            for ch in self.channels.values_mut() {
                ch.put_deferred(msg.clone(), deadline);
            }
            self.note(deadline);
        } else {
            self.deferred_backlog.push_back((msg, deadline));
        }
        id
    }

    /// Moves backlog into the channels (bounded per call; asks to be called
    /// again via the wake time when more remains).
    pub fn pump(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        if self.paused || self.held || self.channels.is_empty() {
            return;
        }
        while let Some((msg, deadline)) = self.deferred_backlog.pop_front() {
            for ch in self.channels.values_mut() {
                ch.put_deferred(msg.clone(), deadline);
            }
            self.note(deadline);
        }
        let mut moved = 0;
        let mut origins = Vec::new();
        while moved < PUMP_BATCH {
            let Some(mut msg) = self.backlog.pop() else {
                break;
            };
            if msg.origin != 0 {
                origins.push(std::mem::take(&mut msg.origin));
            }
            let _ = put_in_each(self.channels.values_mut(), msg, |ch, m| {
                ch.put_accepted(m, now, out);
                Ok::<(), ()>(())
            });
            moved += 1;
        }
        if !origins.is_empty() {
            let deps: Vec<(QueueKey, u64)> = self
                .channels
                .values()
                .filter_map(|ch| {
                    ch.queue()
                        .disk_ref()
                        .map(|dq| (QueueKey(ch.queue_id), dq.write_seq()))
                })
                .collect();
            self.transfers.push_back(Transfer {
                needs: deps,
                origins,
            });
            self.settle_transfers();
        }
        for ch in self.channels.values_mut() {
            ch.dispatch(now, out);
            let d = ch.take_new_deadline();
            self.wake = self.wake.min(d);
        }
        if moved == PUMP_BATCH {
            self.note(now);
        }
    }

    /// Acknowledges backlog records whose channel copies are durable.
    fn settle_transfers(&mut self) {
        while let Some(t) = self.transfers.front() {
            let durable = t.needs.iter().all(|(key, need)| {
                self.channel_by_key(*key)
                    .and_then(|ch| ch.queue().disk_ref())
                    .is_none_or(|dq| dq.synced_seq() >= *need)
            });
            if !durable {
                break;
            }
            if let Some(t) = self.transfers.pop_front() {
                for o in t.origins {
                    self.backlog.storage_mut().ack(o);
                }
            }
        }
    }

    fn channel_by_key(&self, key: QueueKey) -> Option<&Channel<K>> {
        self.channels.values().find(|c| c.queue_id == key.0)
    }

    /// The live diskqueue named `key` (the backlog's or a channel's).
    fn disk_by_key(&self, key: QueueKey) -> Option<&DiskQueue> {
        if key == QueueKey::BACKLOG {
            return self.backlog.disk_ref();
        }
        self.channel_by_key(key).and_then(|c| c.queue().disk_ref())
    }

    /// The diskqueue named `key`: live, or one being deleted.
    fn disk_by_key_mut(&mut self, key: QueueKey) -> Option<&mut DiskQueue> {
        if key == QueueKey::BACKLOG {
            return self.backlog.disk();
        }
        if let Some(ch) = self.channels.values_mut().find(|c| c.queue_id == key.0) {
            return ch.queue_mut().disk();
        }
        self.deletions.iter_mut().find_map(|d| d.queue_mut(key.0))
    }

    /// Every live diskqueue.
    fn disks(&self) -> impl Iterator<Item = &DiskQueue> {
        std::iter::once(&self.backlog)
            .chain(self.channels.values().map(Channel::queue))
            .filter_map(MsgQueue::disk_ref)
    }

    /// Whether any queue has disk work waiting.
    pub fn wants_io(&self, now: Nanos) -> bool {
        self.deletions.iter().any(|d| d.wants_io(now)) || self.disks().any(|dq| dq.wants_io(now))
    }

    /// The writes (and reads) every queue wants now, one job per queue, and
    /// the deletions' jobs. Writes and syncs are separate lanes that run
    /// side by side.
    pub fn poll_writes(&mut self, now: Nanos) -> Vec<(QueueKey, IoJob)> {
        let mut jobs: Vec<(QueueKey, IoJob)> = self
            .deletions
            .iter_mut()
            .filter_map(|d| d.poll(now).map(|j| (QueueKey(d.id), j)))
            .collect();
        self.poll_each(&mut jobs, |dq| dq.poll_write(now));
        jobs
    }

    /// The fsyncs (with metadata) every queue wants now.
    pub fn poll_syncs(&mut self, now: Nanos) -> Vec<(QueueKey, IoJob)> {
        let mut jobs = Vec::new();
        self.poll_each(&mut jobs, |dq| dq.poll_sync(now));
        jobs
    }

    fn poll_each(
        &mut self,
        jobs: &mut Vec<(QueueKey, IoJob)>,
        mut poll: impl FnMut(&mut DiskQueue) -> Option<IoJob>,
    ) {
        if let Some(j) = self.backlog.disk().and_then(&mut poll) {
            jobs.push((QueueKey::BACKLOG, j));
        }
        let deletions = &self.deletions;
        for (name, ch) in self.channels.iter_mut() {
            // A namesake of a channel being deleted waits for its files to go.
            if deletions.iter().any(|d| d.channel.as_ref() == Some(name)) {
                continue;
            }
            let key = QueueKey(ch.queue_id);
            if let Some(j) = ch.queue_mut().disk().and_then(&mut poll) {
                jobs.push((key, j));
            }
        }
    }

    /// Takes in a write job's outcome; newly loaded messages are delivered.
    pub fn complete_write(
        &mut self,
        key: &QueueKey,
        outcome: IoOutcome,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) {
        if let Some(d) = self.deletions.iter_mut().find(|d| d.id == key.0) {
            d.complete(outcome, now);
            self.deletions.retain(|d| !d.is_done());
            return;
        }
        if let Some(dq) = self.disk_by_key_mut(*key) {
            dq.complete_write(outcome, now);
        }
        if *key == QueueKey::BACKLOG {
            self.pump(now, out);
        } else if let Some(name) = self.channel_by_key(*key).map(|c| c.name().to_string()) {
            self.with_channel(&name, |ch| ch.dispatch(now, out));
        }
    }

    /// Takes in a sync job's outcome.
    pub fn complete_sync(&mut self, key: &QueueKey, outcome: IoOutcome, now: Nanos) {
        if let Some(dq) = self.disk_by_key_mut(*key) {
            dq.complete_sync(outcome, now);
        }
        self.settle_transfers();
    }

    /// When a queue next wants disk work for time reasons (sync timeout, retry).
    pub fn next_io_deadline(&self) -> Option<Nanos> {
        self.disks()
            .filter_map(DiskQueue::next_deadline)
            .chain(self.deletions.iter().filter_map(Deletion::next_deadline))
            .min()
    }

    /// Records appended to every disk queue together (to see whether an
    /// operation touched disk at all).
    pub fn disk_appended(&self) -> u64 {
        self.disks().map(DiskQueue::write_seq).sum()
    }

    /// How many records each disk-backed queue has appended: a publisher
    /// whose records reach these marks on disk may be told OK.
    pub fn disk_marks(&self) -> Vec<(QueueKey, u64)> {
        let mut v = Vec::new();
        if let Some(dq) = self.backlog.disk_ref() {
            v.push((QueueKey::BACKLOG, dq.write_seq()));
        }
        for ch in self.channels.values() {
            if let Some(dq) = ch.queue().disk_ref() {
                v.push((QueueKey(ch.queue_id), dq.write_seq()));
            }
        }
        v
    }

    /// Whether every mark is written (or synced, with `synced`). A queue
    /// whose disk fails has not: it retries its writes, and the publisher's
    /// answer waits (the message was accepted by every queue, so it is not
    /// refused after the fact).
    pub fn marks_reached(&self, marks: &[(QueueKey, u64)], synced: bool) -> bool {
        marks.iter().all(|(key, mark)| {
            // A queue deleted meanwhile took its messages with it.
            self.disk_by_key(*key).is_none_or(|dq| {
                let reached = if synced {
                    dq.synced_seq()
                } else {
                    dq.written_seq()
                };
                reached >= *mark
            })
        })
    }

    /// The first disk error of any queue (for /ping health).
    pub fn health(&self) -> Option<String> {
        std::iter::once(&self.backlog)
            .chain(self.channels.values().map(Channel::queue))
            .find_map(|q| q.storage().health())
            .or_else(|| self.deletions.iter().find_map(|d| d.error.clone()))
    }

    /// Shutdown: every message held in memory goes to disk (deferred ones
    /// with their deadlines), and every queue is asked for a final sync.
    pub fn persist_for_shutdown(&mut self) {
        for ch in self.channels.values_mut() {
            ch.persist_for_shutdown();
        }
        let queued = self.backlog.drain_memory();
        let deferred: Vec<(Message, Nanos)> = self.deferred_backlog.drain(..).collect();
        if let Some(dq) = self.backlog.disk() {
            super::channel::persist_into(dq, queued.into_iter(), deferred);
        }
        self.transfers.clear();
    }

    /// Whether no queue has disk work left (after a shutdown sync).
    pub fn io_idle(&self) -> bool {
        self.deletions.iter().all(Deletion::is_committed)
            && self.disks().all(|dq| !dq.has_pending_writes())
    }

    /// Runs due timeouts and deferrals of every channel, and the pump.
    pub fn tick(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        self.pump(now, out);
        for ch in self.channels.values_mut() {
            ch.tick(now, out);
            let d = ch.take_new_deadline();
            self.wake = self.wake.min(d);
        }
    }

    /// Channels created or deleted since the last call, in order.
    pub fn take_events(&mut self) -> Vec<ChannelEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Holds a new topic's messages until [`Topic::start`] (while nsqd asks
    /// lookupd which channels to pre-create, so each of them gets every message).
    pub fn hold(&mut self) {
        self.held = true;
    }

    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Starts a held topic: its backlog flows into every channel it has now.
    pub fn start(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        if std::mem::replace(&mut self.held, false) {
            self.pump(now, out);
        }
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    pub fn unpause(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        self.paused = false;
        self.pump(now, out);
    }

    /// NSQ's topic empty: drops the topic's own backlog (channels keep theirs).
    pub fn empty(&mut self) {
        self.backlog.empty();
        self.deferred_backlog.clear();
    }

    /// Takes the DPUBs waiting for a channel (for persisting at shutdown).
    pub fn drain_deferred_backlog(&mut self) -> Vec<(Message, Nanos)> {
        self.deferred_backlog.drain(..).collect()
    }

    /// Puts back a DPUB waiting for a channel (when loading).
    pub fn restore_deferred(&mut self, msg: Message, deadline: Nanos) {
        self.deferred_backlog.push_back((msg, deadline));
    }

    fn with_channel<T>(
        &mut self,
        channel: &str,
        f: impl FnOnce(&mut Channel<K>) -> T,
    ) -> Option<T> {
        let ch = self.channels.get_mut(channel)?;
        let r = f(ch);
        let d = ch.take_new_deadline();
        self.wake = self.wake.min(d);
        Some(r)
    }

    /// Pauses or unpauses a channel (unpausing delivers what its consumers
    /// can take). Returns false if the channel does not exist.
    pub fn set_channel_paused(
        &mut self,
        channel: &str,
        paused: bool,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> bool {
        self.with_channel(channel, |ch| {
            if paused {
                ch.pause()
            } else {
                ch.unpause(now, out)
            }
        })
        .is_some()
    }

    pub fn set_rdy(
        &mut self,
        channel: &str,
        slot: usize,
        client_id: u64,
        count: i64,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) {
        self.with_channel(channel, |ch| ch.set_rdy(slot, client_id, count, now, out));
    }

    /// A consumer's connection wrote `bytes` of its message frames.
    pub fn output_written(
        &mut self,
        channel: &str,
        slot: usize,
        client_id: u64,
        bytes: u64,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) {
        self.with_channel(channel, |ch| {
            ch.output_written(slot, client_id, bytes, now, out)
        });
    }

    pub fn finish(
        &mut self,
        channel: &str,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<(), InFlightError> {
        self.with_channel(channel, |ch| ch.finish(slot, client_id, id, now, out))
            .unwrap_or(Err(InFlightError::NotInFlight))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn finish_many(
        &mut self,
        channel: &str,
        slot: usize,
        client_id: u64,
        ids: &[MessageId],
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Vec<(usize, InFlightError)> {
        self.with_channel(channel, |ch| ch.finish_many(slot, client_id, ids, now, out))
            .unwrap_or_else(|| {
                (0..ids.len())
                    .map(|i| (i, InFlightError::NotInFlight))
                    .collect()
            })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn requeue(
        &mut self,
        channel: &str,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        delay: Nanos,
        now: Nanos,
        out: &mut impl Outbox<K>,
    ) -> Result<(), String> {
        self.with_channel(channel, |ch| {
            ch.requeue(slot, client_id, id, delay, now, out)
        })
        .unwrap_or_else(|| Err(InFlightError::NotInFlight.as_str().to_string()))
    }

    pub fn touch(
        &mut self,
        channel: &str,
        slot: usize,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        self.with_channel(channel, |ch| ch.touch(slot, client_id, id, now))
            .unwrap_or(Err(InFlightError::NotInFlight))
    }

    pub fn pause_channel(&mut self, channel: &str) -> bool {
        self.with_channel(channel, Channel::pause).is_some()
    }

    pub fn unpause_channel(&mut self, channel: &str, now: Nanos, out: &mut impl Outbox<K>) -> bool {
        self.with_channel(channel, |ch| ch.unpause(now, out))
            .is_some()
    }

    pub fn empty_channel(&mut self, channel: &str) -> bool {
        self.with_channel(channel, Channel::empty).is_some()
    }
}

/// Hands `msg` to every channel: a copy (sharing the body) to each but the
/// last, which takes the message itself (one reference-count update fewer).
fn put_in_each<'a, C: 'a, E>(
    channels: impl Iterator<Item = &'a mut C>,
    msg: Message,
    mut put: impl FnMut(&mut C, Message) -> Result<(), E>,
) -> Result<(), E> {
    let mut channels = channels.peekable();
    while let Some(ch) = channels.next() {
        if channels.peek().is_none() {
            return put(ch, msg);
        }
        put(ch, msg.clone())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
