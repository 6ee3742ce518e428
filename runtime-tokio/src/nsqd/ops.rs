//! A connection's broker operations ([`Op`]s of its protocol session),
//! carried out under the lock of the one topic each names; the topic is
//! remembered for the next one.

use super::registry::{Registry, TopicCell, TopicState};
use super::shared::{Deliver, Handle};
use nsq_core::broker::inflight::InFlightError;
use nsq_core::broker::{QueueKey, Subscription, Topic};
use nsq_core::io::Nanos;
use nsq_core::protocol::{Op, OpResult};
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

impl ConnOps<'_> {
    /// Carries out an op of the connection `client_id` (under the lock of
    /// the one topic it names) and gives its result back.
    pub fn perform(&mut self, op: Op, client_id: u64, now: Nanos) -> OpResult {
        match op {
            Op::CreateTopic { topic } => {
                Self::on_topic(self.registry, self.pub_cell, &topic, now, |_| ());
                OpResult::Done
            }
            Op::Publish { topic, bodies } => {
                let r = Self::publish_on(self.registry, self.pub_cell, &topic, now, |t| {
                    t.publish(bodies, now, &mut Deliver::default())
                });
                OpResult::Published(r.map(|d| {
                    let wait = d.is_some();
                    self.pending = d;
                    wait
                }))
            }
            Op::PublishDeferred { topic, body, delay } => {
                Self::on_topic(self.registry, self.pub_cell, &topic, now, |st| {
                    st.topic.publish_deferred(body, delay, now);
                });
                OpResult::Published(Ok(false))
            }
            Op::Subscribe {
                topic,
                channel,
                settings,
            } => {
                let me = Arc::clone(self.me);
                OpResult::Subscribed(Self::on_topic(
                    self.registry,
                    self.sub_cell,
                    &topic,
                    now,
                    |st| {
                        let new = st.topic.channel(&channel).is_none();
                        let r = st.topic.subscribe(
                            &channel,
                            me,
                            settings,
                            now,
                            &mut Deliver::default(),
                        );
                        if new && r.is_ok() {
                            tracing::info!("TOPIC({topic}): new channel({channel})");
                        }
                        r
                    },
                ))
            }
            Op::Ready { sub, count } => {
                self.on_sub(now, |st, out| {
                    st.topic
                        .set_rdy(&sub.channel, sub.slot, client_id, count, now, out)
                });
                OpResult::Done
            }
            Op::Finish { sub, ids } => OpResult::Finished(
                self.on_sub(now, |st, out| {
                    st.topic
                        .finish_many(&sub.channel, sub.slot, client_id, &ids, now, out)
                })
                .unwrap_or_else(|| {
                    (0..ids.len())
                        .map(|i| (i, InFlightError::NotInFlight))
                        .collect()
                }),
            ),
            Op::Requeue { sub, id, delay } => OpResult::Requeued(
                self.on_sub(now, |st, out| {
                    st.topic
                        .requeue(&sub.channel, sub.slot, client_id, &id, delay, now, out)
                })
                .unwrap_or_else(|| Err(InFlightError::NotInFlight.as_str().to_string())),
            ),
            Op::Touch { sub, id } => OpResult::Touched(
                self.on_sub(now, |st, _| {
                    st.topic.touch(&sub.channel, sub.slot, client_id, &id, now)
                })
                .unwrap_or(Err(InFlightError::NotInFlight)),
            ),
            Op::Leave { sub } => {
                self.leave(&sub, client_id);
                OpResult::Done
            }
        }
    }

    /// Out of the channel: an ephemeral channel and topic vanish with their
    /// last consumer.
    fn leave(&mut self, sub: &Subscription, client_id: u64) {
        let Some(cell) = self.sub_cell.as_ref() else {
            return;
        };
        let mut st = cell.lock();
        if st.deleted {
            return;
        }
        let gone = st.topic.unsubscribe(&sub.channel, sub.slot, client_id);
        cell.after_op(&mut st);
        if gone.channel_deleted {
            tracing::info!("TOPIC({}): deleting channel {}", cell.name, sub.channel);
            tracing::info!("CHANNEL({}): deleting", sub.channel);
        }
        if gone.topic_should_go {
            cell.mark_deleted(&mut st);
            drop(st);
            tracing::info!("TOPIC({}): deleting", cell.name);
            self.registry.retire(cell);
        }
    }
}
