//! A whole broker in one single-threaded value: every topic in one map.
//! Tests and simulations drive it directly; the tokio runtime instead keeps
//! each topic behind its own lock and follows the same steps.

use super::client::{Client, Subscription};
use super::config::BrokerConfig;
use super::consumer::ConsumerSettings;
use super::inflight::InFlightError;
use super::outbox::Recorder;
use super::topic::Topic;
use crate::io::Nanos;
use crate::protocol::{Op, OpResult};
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

    /// Carries out an op of the connection `client_id` (its consumer
    /// handle is `handle`), as the runtime does under one topic's lock.
    pub fn perform(&mut self, handle: K, client_id: u64, op: Op, now: Nanos) -> OpResult {
        let out = &mut self.out;
        match op {
            Op::CreateTopic { topic } => {
                self.topic_mut(&topic);
                OpResult::Done
            }
            Op::Publish { topic, bodies } => {
                self.topic_mut(&topic);
                let t = self.topics.get_mut(&topic);
                let r = t.map_or(Err("exiting".to_string()), |t| {
                    t.publish(bodies, now, &mut self.out)
                });
                OpResult::Published(r.map(|()| false))
            }
            Op::PublishDeferred { topic, body, delay } => {
                self.topic_mut(&topic).publish_deferred(body, delay, now);
                OpResult::Published(Ok(false))
            }
            Op::Subscribe {
                topic,
                channel,
                settings,
            } => {
                self.topic_mut(&topic);
                let t = self.topics.get_mut(&topic);
                OpResult::Subscribed(t.map_or(Err("exiting".to_string()), |t| {
                    t.subscribe(&channel, handle, settings, now, &mut self.out)
                }))
            }
            Op::Ready { sub, count } => {
                if let Some(t) = self.topics.get_mut(&sub.topic) {
                    t.set_rdy(&sub.channel, sub.slot, client_id, count, now, out);
                }
                OpResult::Done
            }
            Op::Finish { sub, ids } => OpResult::Finished(match self.topics.get_mut(&sub.topic) {
                Some(t) => t.finish_many(&sub.channel, sub.slot, client_id, &ids, now, out),
                None => (0..ids.len())
                    .map(|i| (i, InFlightError::NotInFlight))
                    .collect(),
            }),
            Op::Requeue { sub, id, delay } => {
                OpResult::Requeued(match self.topics.get_mut(&sub.topic) {
                    Some(t) => t.requeue(&sub.channel, sub.slot, client_id, &id, delay, now, out),
                    None => Err(InFlightError::NotInFlight.as_str().to_string()),
                })
            }
            Op::Touch { sub, id } => OpResult::Touched(match self.topics.get_mut(&sub.topic) {
                Some(t) => t.touch(&sub.channel, sub.slot, client_id, &id, now),
                None => Err(InFlightError::NotInFlight),
            }),
            Op::Leave { sub } => {
                if let Some(t) = self.topics.get_mut(&sub.topic) {
                    if t.unsubscribe(&sub.channel, sub.slot, client_id)
                        .topic_should_go
                    {
                        self.topics.remove(&sub.topic);
                    }
                }
                OpResult::Done
            }
        }
    }

    /// PUB/MPUB straight to a topic (as `Op::Publish`).
    pub fn publish(&mut self, topic: &str, bodies: Vec<Bytes>, now: Nanos) -> Result<(), String> {
        self.topic_mut(topic);
        let t = self.topics.get_mut(topic).ok_or("exiting")?;
        t.publish(bodies, now, &mut self.out)
    }

    /// SUB for the connection `handle` (as `Op::Subscribe`): its slot.
    pub fn subscribe(
        &mut self,
        handle: K,
        topic: &str,
        channel: &str,
        settings: ConsumerSettings,
        now: Nanos,
    ) -> Result<usize, String> {
        self.topic_mut(topic);
        let t = self.topics.get_mut(topic).ok_or("exiting")?;
        t.subscribe(channel, handle, settings, now, &mut self.out)
    }

    /// RDY (as `Op::Ready`).
    pub fn ready(&mut self, sub: &Subscription, client_id: u64, count: i64, now: Nanos) {
        if let Some(t) = self.topics.get_mut(&sub.topic) {
            t.set_rdy(&sub.channel, sub.slot, client_id, count, now, &mut self.out);
        }
    }

    /// FIN of one message (as `Op::Finish`).
    pub fn finish(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        let t = self
            .topics
            .get_mut(&sub.topic)
            .ok_or(InFlightError::NotInFlight)?;
        t.finish(&sub.channel, sub.slot, client_id, id, now, &mut self.out)
    }

    /// REQ (as `Op::Requeue`).
    pub fn requeue(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        delay: Nanos,
        now: Nanos,
    ) -> Result<(), String> {
        let t = self
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
            &mut self.out,
        )
    }

    /// TOUCH (as `Op::Touch`).
    pub fn touch(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        let t = self
            .topics
            .get_mut(&sub.topic)
            .ok_or(InFlightError::NotInFlight)?;
        t.touch(&sub.channel, sub.slot, client_id, id, now)
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
