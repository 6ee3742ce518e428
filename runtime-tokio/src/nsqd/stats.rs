//! Gathers nsqd's stats: each topic under its own lock (one at a time, so
//! publishing elsewhere never waits for the whole walk), then the producers.

use super::shared::Handle;
use super::{memstats, Inner};
use nsq_core::broker::Subscription;
use nsq_core::io::Nanos;
use nsq_core::stats::{
    producers_stats, stats_doc, topic_stats, ClientIdentity, ConsumerCounts, StatsDoc, StatsFilter,
};

/// The `/stats` document at `now`.
pub fn doc(inner: &Inner, filter: &StatsFilter, include_mem: bool, now: Nanos) -> StatsDoc {
    let cells: Vec<_> = inner
        .registry
        .all()
        .into_iter()
        .filter(|c| filter.wants_topic(&c.name))
        .collect();
    let topics = if cells.is_empty() && filter.topic.is_some() {
        None
    } else {
        let mut identity = |h: &Handle| h.info().identity.clone();
        let topics = cells.iter().filter_map(|cell| {
            let st = cell.lock();
            if st.deleted {
                return None;
            }
            topic_stats(&st.topic, filter, now, &mut identity)
        });
        Some(topics.collect())
    };
    let producers = if filter.include_clients {
        let conns = inner.conns.all().into_iter().filter_map(|conn| {
            let info = conn.info().clone();
            if !info.identity.is_producer() {
                return None;
            }
            let counts = consumer_counts(inner, info.sub.as_ref(), conn.id);
            Some((info.identity, counts))
        });
        producers_stats(
            conns.collect::<Vec<(ClientIdentity, ConsumerCounts)>>(),
            filter,
        )
    } else {
        None
    };
    let memory = include_mem.then(memstats::read);
    stats_doc(inner.health(), inner.start_time, topics, producers, memory)
}

/// A connection's flow counts from the channel it is subscribed to.
fn consumer_counts(inner: &Inner, sub: Option<&Subscription>, client_id: u64) -> ConsumerCounts {
    let Some(sub) = sub else {
        return ConsumerCounts::default();
    };
    let Some(cell) = inner.registry.get(&sub.topic) else {
        return ConsumerCounts::default();
    };
    let st = cell.lock();
    st.topic
        .channel(&sub.channel)
        .and_then(|ch| {
            ch.consumers()
                .find(|(slot, c)| *slot == sub.slot && c.settings.client_id == client_id)
                .map(|(_, c)| c.into())
        })
        .unwrap_or_default()
}
