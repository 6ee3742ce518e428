//! A whole broker in one single-threaded value: every topic in one map.
//! Tests and simulations drive it directly; the tokio runtime instead keeps
//! each topic behind its own lock and follows the same steps.

use super::client::{BrokerOps, Client, Subscription};
use super::config::BrokerConfig;
use super::consumer::ConsumerSettings;
use super::inflight::InFlightError;
use super::outbox::Recorder;
use super::topic::Topic;
use crate::io::Nanos;
use crate::wire::MessageId;
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct LocalBroker<K> {
    pub topics: BTreeMap<String, Topic<K>>,
    pub cfg: BrokerConfig,
    rng: SmallRng,
    /// Everything the broker delivered or closed.
    pub out: Recorder<K>,
}

impl<K: Clone> LocalBroker<K> {
    pub fn new(cfg: BrokerConfig, seed: u64) -> Self {
        LocalBroker {
            topics: BTreeMap::new(),
            cfg,
            rng: SmallRng::seed_from_u64(seed),
            out: Recorder::default(),
        }
    }

    /// The topic, created if needed.
    pub fn topic_mut(&mut self, name: &str) -> &mut Topic<K> {
        if !self.topics.contains_key(name) {
            let seed = self.rng.next_u64();
            self.topics
                .insert(name.to_string(), Topic::new(name, self.cfg.clone(), seed));
        }
        self.topics
            .get_mut(name)
            .expect("topic exists: inserted above")
    }

    /// The operations of the connection whose consumer handle is `handle`.
    pub fn ops(&mut self, handle: K) -> LocalOps<'_, K> {
        LocalOps {
            broker: self,
            handle,
        }
    }

    /// Runs every topic's timers.
    pub fn tick(&mut self, now: Nanos) {
        for t in self.topics.values_mut() {
            t.tick(now, &mut self.out);
        }
    }

    /// The earliest time any topic has work.
    pub fn next_deadline(&self, now: Nanos) -> Option<Nanos> {
        self.topics
            .values()
            .filter_map(|t| t.next_deadline(now))
            .min()
    }

    /// A connection closed: drop its subscription (ephemeral channels and
    /// topics vanish with their last consumer).
    pub fn disconnect(&mut self, client: &Client) {
        let Some(sub) = &client.sub else { return };
        let Some(topic) = self.topics.get_mut(&sub.topic) else {
            return;
        };
        if topic
            .unsubscribe(&sub.channel, sub.slot, client.id)
            .topic_should_go
        {
            self.topics.remove(&sub.topic);
        }
    }
}

/// [`BrokerOps`] for one connection of a [`LocalBroker`].
pub struct LocalOps<'a, K> {
    broker: &'a mut LocalBroker<K>,
    handle: K,
}

impl<K: Clone> BrokerOps for LocalOps<'_, K> {
    fn get_topic(&mut self, topic: &str, _now: Nanos) {
        self.broker.topic_mut(topic);
    }

    fn publish(&mut self, topic: &str, bodies: Vec<Bytes>, now: Nanos) -> Result<(), String> {
        let b = &mut *self.broker;
        b.topic_mut(topic);
        let t = b.topics.get_mut(topic).ok_or("exiting")?;
        t.publish(bodies, now, &mut b.out)
    }

    fn publish_deferred(
        &mut self,
        topic: &str,
        body: Bytes,
        delay: Nanos,
        now: Nanos,
    ) -> Result<(), String> {
        self.broker
            .topic_mut(topic)
            .publish_deferred(body, delay, now);
        Ok(())
    }

    fn subscribe(
        &mut self,
        topic: &str,
        channel: &str,
        settings: ConsumerSettings,
        now: Nanos,
    ) -> Result<usize, String> {
        let b = &mut *self.broker;
        b.topic_mut(topic);
        let t = b.topics.get_mut(topic).ok_or("exiting")?;
        t.subscribe(channel, self.handle.clone(), settings, now, &mut b.out)
    }

    fn ready(&mut self, sub: &Subscription, client_id: u64, count: i64, now: Nanos) {
        let b = &mut *self.broker;
        if let Some(t) = b.topics.get_mut(&sub.topic) {
            t.set_rdy(&sub.channel, sub.slot, client_id, count, now, &mut b.out);
        }
    }

    fn finish(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        let b = &mut *self.broker;
        let t = b
            .topics
            .get_mut(&sub.topic)
            .ok_or(InFlightError::NotInFlight)?;
        t.finish(&sub.channel, sub.slot, client_id, id, now, &mut b.out)
    }

    fn requeue(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        delay: Nanos,
        now: Nanos,
    ) -> Result<(), String> {
        let b = &mut *self.broker;
        let t = b
            .topics
            .get_mut(&sub.topic)
            .ok_or_else(|| InFlightError::NotInFlight.as_str().to_string())?;
        t.requeue(
            &sub.channel,
            sub.slot,
            client_id,
            id,
            delay,
            now,
            &mut b.out,
        )
    }

    fn touch(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        let t = self
            .broker
            .topics
            .get_mut(&sub.topic)
            .ok_or(InFlightError::NotInFlight)?;
        t.touch(&sub.channel, sub.slot, client_id, id, now)
    }
}
