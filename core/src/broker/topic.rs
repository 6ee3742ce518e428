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
use crate::io::Nanos;
use crate::wire::names::is_ephemeral;
use crate::wire::{Message, MessageId};
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use std::collections::{BTreeMap, VecDeque};

/// How many backlog messages one pump call moves (bounds time under the lock).
pub const PUMP_BATCH: usize = 8192;

/// What removing a consumer left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unsubscribed {
    /// The (ephemeral) channel lost its last consumer and was deleted.
    pub channel_deleted: bool,
    /// The topic is ephemeral and has no channel left: delete it.
    pub topic_should_go: bool,
}

#[derive(Debug)]
pub struct Topic<K> {
    name: String,
    ephemeral: bool,
    paused: bool,
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
}

impl<K> Topic<K> {
    pub fn new(name: &str, cfg: BrokerConfig, seed: u64) -> Self {
        let ephemeral = is_ephemeral(name);
        let backend = cfg.backend_for(name, None, ephemeral);
        Topic {
            name: name.to_string(),
            ephemeral,
            paused: false,
            channels: BTreeMap::new(),
            backlog: MsgQueue::new(cfg.mem_queue_size, backend),
            deferred_backlog: VecDeque::new(),
            guid: GuidFactory::new(cfg.node_id),
            cfg,
            rng: SmallRng::seed_from_u64(seed),
            message_count: 0,
            message_bytes: 0,
            wake: Nanos::MAX,
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
            self.pump(now, out);
        }
        self.channels
            .get_mut(name)
            .expect("channel exists: inserted above")
    }

    /// Adds a channel whose backend the caller built (used when loading).
    pub fn insert_channel(&mut self, ch: Channel<K>) {
        self.channels.insert(ch.name().to_string(), ch);
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
                }
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
        for (_, mut ch) in std::mem::take(&mut self.channels) {
            ch.close_consumers(out);
            ch.empty();
        }
        self.empty();
    }

    fn fans_out_now(&self) -> bool {
        !self.paused
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
                let msg = Message::new(self.guid.next_id(now), now, body);
                for ch in self.channels.values_mut() {
                    ch.put(msg.clone(), now, out).map_err(err)?;
                }
                self.message_count += 1;
                self.message_bytes += msg.body.len() as u64;
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
        if self.paused || self.channels.is_empty() {
            return;
        }
        while let Some((msg, deadline)) = self.deferred_backlog.pop_front() {
            for ch in self.channels.values_mut() {
                ch.put_deferred(msg.clone(), deadline);
            }
            self.note(deadline);
        }
        let mut moved = 0;
        while moved < PUMP_BATCH {
            let Some(msg) = self.backlog.pop() else { break };
            for ch in self.channels.values_mut() {
                ch.put_accepted(msg.clone(), now, out);
            }
            moved += 1;
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

    /// Runs due timeouts and deferrals of every channel, and the pump.
    pub fn tick(&mut self, now: Nanos, out: &mut impl Outbox<K>) {
        self.pump(now, out);
        for ch in self.channels.values_mut() {
            ch.tick(now, out);
            let d = ch.take_new_deadline();
            self.wake = self.wake.min(d);
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
    ) -> Result<Message, InFlightError> {
        self.with_channel(channel, |ch| ch.finish(slot, client_id, id, now, out))
            .unwrap_or(Err(InFlightError::NotInFlight))
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

#[cfg(test)]
mod tests;
