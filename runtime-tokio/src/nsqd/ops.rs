//! [`BrokerOps`] for one connection: each call takes the lock of the one
//! topic it names, and remembers that topic for the next call.

use super::registry::{Registry, TopicCell, TopicState};
use super::shared::{Deliver, Handle};
use bytes::Bytes;
use nsq_core::broker::inflight::InFlightError;
use nsq_core::broker::{BrokerOps, ConsumerSettings, QueueKey, Subscription, Topic};
use nsq_core::io::Nanos;
use nsq_core::wire::MessageId;
use std::sync::Arc;

pub struct ConnOps<'a> {
    pub registry: &'a Registry,
    pub me: &'a Handle,
    /// The subscribed topic.
    pub sub_cell: &'a mut Option<Arc<TopicCell>>,
    /// The topic last published to.
    pub pub_cell: &'a mut Option<Arc<TopicCell>>,
    /// Set when a publish appended to disk: the answer waits for it.
    pub pending: Option<Durability>,
}

/// Disk records a publisher's answer waits for.
pub struct Durability {
    pub cell: Arc<TopicCell>,
    pub marks: Vec<(QueueKey, u64)>,
}

impl Durability {
    /// Waits until the records are written (and synced, with `synced`).
    /// They were accepted: a disk error does not end the wait (the writes are
    /// retried), since an error answer must mean "not taken" and no channel
    /// may deliver what its publisher was told failed.
    pub async fn wait(&self, synced: bool) {
        loop {
            let notified = self.cell.io_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.cell.lock();
                if st.deleted || st.topic.marks_reached(&self.marks, synced) {
                    return;
                }
            }
            notified.await;
        }
    }
}

impl ConnOps<'_> {
    /// Runs `f` on the live topic `name`, creating it if needed (the HTTP
    /// API publishes through here too).
    pub(crate) fn on_topic<T>(
        registry: &Registry,
        cache: &mut Option<Arc<TopicCell>>,
        name: &str,
        now: Nanos,
        f: impl FnOnce(&mut TopicState) -> T,
    ) -> T {
        let mut f = Some(f);
        loop {
            let cell = match cache.as_ref() {
                Some(c) if c.name == name => Arc::clone(c),
                _ => registry.get_or_create(name),
            };
            let mut st = cell.lock();
            if st.deleted {
                drop(st);
                registry.retire(&cell);
                *cache = None;
                continue;
            }
            let r = (f.take().expect("called once: the loop returns right after"))(&mut st);
            cell.after_op_at(&mut st, now);
            drop(st);
            *cache = Some(cell);
            return r;
        }
    }

    /// Publishes on `topic` with `f`, and returns the disk records the
    /// publisher's answer must wait for (if the publish reached disk).
    pub(crate) fn publish_on(
        registry: &Registry,
        cache: &mut Option<Arc<TopicCell>>,
        topic: &str,
        now: Nanos,
        f: impl FnOnce(&mut Topic<Handle>) -> Result<(), String>,
    ) -> Result<Option<Durability>, String> {
        let marks = Self::on_topic(registry, cache, topic, now, |st| {
            let before = st.topic.disk_appended();
            f(&mut st.topic)?;
            Ok::<_, String>((st.topic.disk_appended() != before).then(|| st.topic.disk_marks()))
        })?;
        Ok(marks.and_then(|marks| {
            cache.as_ref().map(|cell| Durability {
                cell: Arc::clone(cell),
                marks,
            })
        }))
    }

    /// Runs `f` on the subscribed topic, if it still exists. What it
    /// delivers is encoded for the consumers once the topic lock is released.
    fn on_sub<T>(
        &mut self,
        now: Nanos,
        f: impl FnOnce(&mut TopicState, &mut Deliver) -> T,
    ) -> Option<T> {
        let cell = self.sub_cell.as_ref()?;
        let mut out = Deliver::default();
        let mut st = cell.lock();
        if st.deleted {
            return None;
        }
        let r = f(&mut st, &mut out);
        cell.after_op_at(&mut st, now);
        drop(st);
        drop(out);
        Some(r)
    }
}

impl BrokerOps for ConnOps<'_> {
    fn get_topic(&mut self, topic: &str, now: Nanos) {
        Self::on_topic(self.registry, self.pub_cell, topic, now, |_| ());
    }

    fn publish(&mut self, topic: &str, bodies: Vec<Bytes>, now: Nanos) -> Result<(), String> {
        self.pending = Self::publish_on(self.registry, self.pub_cell, topic, now, |t| {
            t.publish(bodies, now, &mut Deliver::default())
        })?;
        Ok(())
    }

    fn publish_deferred(
        &mut self,
        topic: &str,
        body: Bytes,
        delay: Nanos,
        now: Nanos,
    ) -> Result<(), String> {
        Self::on_topic(self.registry, self.pub_cell, topic, now, |st| {
            st.topic.publish_deferred(body, delay, now);
        });
        Ok(())
    }

    fn subscribe(
        &mut self,
        topic: &str,
        channel: &str,
        settings: ConsumerSettings,
        now: Nanos,
    ) -> Result<usize, String> {
        let me = Arc::clone(self.me);
        Self::on_topic(self.registry, self.sub_cell, topic, now, |st| {
            if st.topic.channel(channel).is_none() {
                tracing::info!("TOPIC({topic}): new channel({channel})");
            }
            st.topic
                .subscribe(channel, me, settings, now, &mut Deliver::default())
        })
    }

    fn ready(&mut self, sub: &Subscription, client_id: u64, count: i64, now: Nanos) {
        self.on_sub(now, |st, out| {
            st.topic
                .set_rdy(&sub.channel, sub.slot, client_id, count, now, out)
        });
    }

    fn finish(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        self.on_sub(now, |st, out| {
            st.topic
                .finish(&sub.channel, sub.slot, client_id, id, now, out)
                .map(|_| ())
        })
        .unwrap_or(Err(InFlightError::NotInFlight))
    }

    fn finish_many(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        ids: &[MessageId],
        now: Nanos,
    ) -> Vec<(usize, InFlightError)> {
        self.on_sub(now, |st, out| {
            st.topic
                .finish_many(&sub.channel, sub.slot, client_id, ids, now, out)
        })
        .unwrap_or_else(|| {
            (0..ids.len())
                .map(|i| (i, InFlightError::NotInFlight))
                .collect()
        })
    }

    fn requeue(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        delay: Nanos,
        now: Nanos,
    ) -> Result<(), String> {
        self.on_sub(now, |st, out| {
            st.topic
                .requeue(&sub.channel, sub.slot, client_id, id, delay, now, out)
        })
        .unwrap_or_else(|| Err(InFlightError::NotInFlight.as_str().to_string()))
    }

    fn touch(
        &mut self,
        sub: &Subscription,
        client_id: u64,
        id: &MessageId,
        now: Nanos,
    ) -> Result<(), InFlightError> {
        self.on_sub(now, |st, _| {
            st.topic.touch(&sub.channel, sub.slot, client_id, id, now)
        })
        .unwrap_or(Err(InFlightError::NotInFlight))
    }
}
