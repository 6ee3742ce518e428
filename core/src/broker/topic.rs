//! A topic: gives every published message to each of its channels, and
//! holds messages itself while it has no channel or is paused.
//!
//! Every change to a channel goes through the topic, so the topic can tell
//! the runtime when a new, earlier deadline needs its timer ([`Topic::take_wake`]).

use super::backend::BackendError;
use super::channel::Channel;
use super::config::BrokerConfig;
use super::consumer::ConsumerSettings;
use super::guid::GuidFactory;
use super::inflight::InFlightError;
use super::outbox::Outbox;
use super::queue::MsgQueue;
use crate::diskqueue::{IoJob, IoOutcome};
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
    /// Disk work for queues that no longer exist (deleted channels).
    orphan_jobs: Vec<IoJob>,
}

/// Backlog records (`origins`) moved into channels, done with once each
/// channel has synced the record count it had after taking them (`needs`).
#[derive(Debug)]
struct Transfer {
    needs: Vec<(String, u64)>,
    origins: Vec<u64>,
}

/// Which queue of a topic: its own backlog, or a channel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueueKey {
    Backlog,
    Channel(String),
    /// Removal of a deleted queue's files.
    Orphan,
}

impl<K> Topic<K> {
    pub fn new(name: &str, cfg: BrokerConfig, seed: u64) -> Self {
        let backend = cfg.backend_for(name, None, is_ephemeral(name));
        Self::with_backlog(name, cfg, backend, seed)
    }

    /// Builds a topic around a backlog the caller made.
    pub fn with_backlog(
        name: &str,
        cfg: BrokerConfig,
        backend: Box<dyn super::backend::Backend>,
        seed: u64,
    ) -> Self {
        Topic {
            name: name.to_string(),
            ephemeral: is_ephemeral(name),
            paused: false,
            held: false,
            events: Vec::new(),
            channels: BTreeMap::new(),
            backlog: MsgQueue::new(cfg.mem_queue_size, backend),
            deferred_backlog: VecDeque::new(),
            guid: GuidFactory::new(cfg.node_id),
            cfg,
            rng: SmallRng::seed_from_u64(seed),
            message_count: 0,
            message_bytes: 0,
            wake: Nanos::MAX,
            transfers: VecDeque::new(),
            orphan_jobs: Vec::new(),
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
            let ch = Channel::new(&self.name, name, &self.cfg, seed);
            self.channels.insert(name.to_string(), ch);
            self.events.push(ChannelEvent::Created(name.to_string()));
            self.pump(now, out);
        }
        self.channels
            .get_mut(name)
            .expect("channel exists: inserted above")
    }

    /// Adds a channel whose backend the caller built (used when loading).
    pub fn insert_channel(&mut self, ch: Channel<K>) {
        let name = ch.name().to_string();
        if self.channels.insert(name.clone(), ch).is_none() {
            self.events.push(ChannelEvent::Created(name));
        }
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
        for (name, mut ch) in std::mem::take(&mut self.channels) {
            ch.close_consumers(out);
            ch.empty();
            self.retire(ch);
            self.events.push(ChannelEvent::Deleted(name));
        }
        self.empty();
        if let Some(dq) = self.backlog.backend_mut().disk_queue() {
            let job = dq.delete_job();
            self.orphan_jobs.push(job);
        }
    }

    /// A channel is gone: its files go too.
    fn retire(&mut self, mut ch: Channel<K>) {
        if let Some(dq) = ch.queue_mut().backend_mut().disk_queue() {
            self.orphan_jobs.push(dq.delete_job());
        }
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
        let err = |e: BackendError| e.0;
        if self.fans_out_now() {
            for ch in self.channels.values() {
                ch.can_accept(count, bytes).map_err(err)?;
            }
            for body in bodies {
                let len = body.len() as u64;
                let msg = Message::new(self.guid.next_id(now), now, body);
                put_in_each(self.channels.values_mut(), msg, |ch, m| {
                    ch.put(m, now, out).map_err(err)
                })?;
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
                self.backlog.put(msg).map_err(err)?;
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
            let deps: Vec<(String, u64)> = self
                .channels
                .iter()
                .filter_map(|(n, ch)| {
                    ch.queue()
                        .backend()
                        .disk_queue_ref()
                        .map(|dq| (n.clone(), dq.write_seq()))
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
            let durable = t.needs.iter().all(|(name, need)| {
                self.channels
                    .get(name)
                    .and_then(|ch| ch.queue().backend().disk_queue_ref())
                    .is_none_or(|dq| dq.synced_seq() >= *need)
            });
            if !durable {
                break;
            }
            if let Some(t) = self.transfers.pop_front() {
                for o in t.origins {
                    self.backlog.backend_mut().ack(o);
                }
            }
        }
    }

    fn queue_mut(&mut self, key: &QueueKey) -> Option<&mut super::queue::MsgQueue> {
        match key {
            QueueKey::Backlog => Some(&mut self.backlog),
            QueueKey::Channel(name) => self.channels.get_mut(name).map(Channel::queue_mut),
            QueueKey::Orphan => None,
        }
    }

    /// Whether any queue has disk work waiting.
    pub fn wants_io(&self, now: Nanos) -> bool {
        !self.orphan_jobs.is_empty()
            || std::iter::once(&self.backlog)
                .chain(self.channels.values().map(Channel::queue))
                .filter_map(|q| q.backend().disk_queue_ref())
                .any(|dq| dq.wants_io(now))
    }

    /// The writes (and reads) every queue wants now, one job per queue.
    /// Writes and syncs are separate lanes that run side by side.
    pub fn poll_writes(&mut self, now: Nanos) -> Vec<(QueueKey, IoJob)> {
        let mut jobs: Vec<(QueueKey, IoJob)> = self
            .orphan_jobs
            .drain(..)
            .map(|j| (QueueKey::Orphan, j))
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
        mut poll: impl FnMut(&mut crate::diskqueue::DiskQueue) -> Option<IoJob>,
    ) {
        if let Some(j) = self.backlog.backend_mut().disk_queue().and_then(&mut poll) {
            jobs.push((QueueKey::Backlog, j));
        }
        for (name, ch) in self.channels.iter_mut() {
            if let Some(j) = ch
                .queue_mut()
                .backend_mut()
                .disk_queue()
                .and_then(&mut poll)
            {
                jobs.push((QueueKey::Channel(name.clone()), j));
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
        if let Some(dq) = self
            .queue_mut(key)
            .and_then(|q| q.backend_mut().disk_queue())
        {
            dq.complete_write(outcome, now);
        }
        match key {
            QueueKey::Backlog => self.pump(now, out),
            QueueKey::Channel(name) => {
                self.with_channel(name, |ch| ch.dispatch(now, out));
            }
            QueueKey::Orphan => {}
        }
    }

    /// Takes in a sync job's outcome.
    pub fn complete_sync(&mut self, key: &QueueKey, outcome: IoOutcome, now: Nanos) {
        if let Some(dq) = self
            .queue_mut(key)
            .and_then(|q| q.backend_mut().disk_queue())
        {
            dq.complete_sync(outcome, now);
        }
        self.settle_transfers();
    }

    /// When a queue next wants disk work for time reasons (sync timeout, retry).
    pub fn next_io_deadline(&self) -> Option<Nanos> {
        std::iter::once(&self.backlog)
            .chain(self.channels.values().map(Channel::queue))
            .filter_map(|q| q.backend().disk_queue_ref())
            .filter_map(|dq| dq.next_deadline())
            .min()
    }

    /// Records appended to every disk queue together (to see whether an
    /// operation touched disk at all).
    pub fn disk_appended(&self) -> u64 {
        std::iter::once(&self.backlog)
            .chain(self.channels.values().map(Channel::queue))
            .filter_map(|q| q.backend().disk_queue_ref())
            .map(|dq| dq.write_seq())
            .sum()
    }

    /// How many records each disk-backed queue has appended: a publisher
    /// whose records reach these marks on disk may be told OK.
    pub fn disk_marks(&self) -> Vec<(QueueKey, u64)> {
        let mut v = Vec::new();
        if let Some(dq) = self.backlog.backend().disk_queue_ref() {
            v.push((QueueKey::Backlog, dq.write_seq()));
        }
        for (n, ch) in &self.channels {
            if let Some(dq) = ch.queue().backend().disk_queue_ref() {
                v.push((QueueKey::Channel(n.clone()), dq.write_seq()));
            }
        }
        v
    }

    /// Whether every mark is written (or synced, with `synced`); an error
    /// from a queue that has not reached its mark.
    pub fn marks_reached(&self, marks: &[(QueueKey, u64)], synced: bool) -> Result<bool, String> {
        for (key, mark) in marks {
            let dq = match key {
                QueueKey::Backlog => self.backlog.backend().disk_queue_ref(),
                QueueKey::Channel(n) => self
                    .channels
                    .get(n)
                    .and_then(|ch| ch.queue().backend().disk_queue_ref()),
                QueueKey::Orphan => None,
            };
            let Some(dq) = dq else { continue };
            let reached = if synced {
                dq.synced_seq()
            } else {
                dq.written_seq()
            };
            if reached < *mark {
                if let Some(e) = dq.error() {
                    return Err(e.to_string());
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first disk error of any queue (for /ping health).
    pub fn health(&self) -> Option<String> {
        std::iter::once(&self.backlog)
            .chain(self.channels.values().map(Channel::queue))
            .find_map(|q| q.backend().health())
    }

    /// Shutdown: every message held in memory goes to disk (deferred ones
    /// with their deadlines), and every queue is asked for a final sync.
    pub fn persist_for_shutdown(&mut self) {
        for ch in self.channels.values_mut() {
            ch.persist_for_shutdown();
        }
        let queued = self.backlog.drain_memory();
        let deferred: Vec<(Message, Nanos)> = self.deferred_backlog.drain(..).collect();
        if let Some(dq) = self.backlog.backend_mut().disk_queue() {
            super::channel::persist_into(dq, queued.into_iter(), deferred);
        }
        self.transfers.clear();
    }

    /// Whether no queue has disk work left (after a shutdown sync).
    pub fn io_idle(&self) -> bool {
        self.orphan_jobs.is_empty()
            && std::iter::once(&self.backlog)
                .chain(self.channels.values().map(Channel::queue))
                .filter_map(|q| q.backend().disk_queue_ref())
                .all(|dq| !dq.has_pending_writes())
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
