//! Building the stats of topics, channels and clients from core's state,
//! with NSQ's filters (`topic`, `channel`, `include_clients`) and order
//! (topics and channels by name).

use super::model::{ChannelStats, ClientStats, Latency, PubCount, TopicStats};
use super::quantile::Quantile;
use crate::broker::{Client, Consumer, Topic};
use crate::io::{Nanos, SECOND};
use std::collections::BTreeMap;

/// A TLS session as the stats show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub cipher_suite: String,
    pub version: String,
    pub negotiated_protocol: String,
    pub negotiated_protocol_is_mutual: bool,
}

/// What a connection's stats need that the broker does not hold: who it
/// is, how it is connected, what it published. The runtime keeps one per
/// connection, updated by the connection's reader.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientIdentity {
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    pub remote_address: String,
    /// When it connected.
    pub connect_ts: Nanos,
    /// NSQ's state number: 0 init, 3 subscribed, 4 closing.
    pub state: i32,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    /// Set once the connection upgraded to TLS.
    pub tls: Option<TlsInfo>,
    /// The identity an auth server granted, if any: (identity, identity_url).
    pub auth: Option<(String, String)>,
    /// Messages published per topic (PUB, MPUB and DPUB over TCP).
    pub pub_counts: BTreeMap<String, u64>,
}

impl ClientIdentity {
    /// A connection from `remote_address`, as NSQ names it before IDENTIFY.
    pub fn new(client: &Client, remote_address: String) -> Self {
        let mut id = ClientIdentity {
            remote_address,
            connect_ts: client.connect_ts,
            ..Default::default()
        };
        id.update_from(client);
        id
    }

    /// Takes what IDENTIFY, SUB or CLS changed (not the publish counts).
    pub fn update_from(&mut self, c: &Client) {
        if self.client_id != c.client_id {
            self.client_id.clone_from(&c.client_id);
        }
        if self.hostname != c.hostname {
            self.hostname.clone_from(&c.hostname);
        }
        if self.user_agent != c.user_agent {
            self.user_agent.clone_from(&c.user_agent);
        }
        self.state = c.state as i32;
        self.sample_rate = c.sample_rate;
        self.deflate = c.deflate;
        self.snappy = c.snappy;
        if !c.tls {
            self.tls = None;
        } else if self.tls.is_none() {
            self.tls = Some(TlsInfo::default());
        }
    }

    /// Records the client's publish count for `topic`.
    pub fn set_published(&mut self, topic: &str, total: u64) {
        match self.pub_counts.get_mut(topic) {
            Some(n) => *n = total,
            None => {
                self.pub_counts.insert(topic.to_string(), total);
            }
        }
    }

    /// NSQ counts a connection as a producer once it published anything.
    pub fn is_producer(&self) -> bool {
        !self.pub_counts.is_empty()
    }
}

/// A subscriber's flow counts, from its channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerCounts {
    pub ready: i64,
    pub in_flight: i64,
    pub messages: u64,
    pub finished: u64,
    pub requeued: u64,
}

impl<K> From<&Consumer<K>> for ConsumerCounts {
    fn from(c: &Consumer<K>) -> Self {
        ConsumerCounts {
            ready: c.rdy,
            in_flight: c.in_flight,
            messages: c.message_count,
            finished: c.finish_count,
            requeued: c.requeue_count,
        }
    }
}

/// One client's stats. With a topic filter only that topic's publish
/// count is listed. (NSQ v1.3.0 lists at most one topic because of a stray
/// `break`; we list every topic, in name order.)
pub fn client_stats(
    id: &ClientIdentity,
    counts: ConsumerCounts,
    topic_filter: Option<&str>,
) -> ClientStats {
    let pub_counts = id
        .pub_counts
        .iter()
        .filter(|(t, _)| topic_filter.is_none_or(|f| f == t.as_str()))
        .map(|(t, &count)| PubCount {
            topic: t.clone(),
            count,
        })
        .collect();
    let tls = id.tls.clone().unwrap_or_default();
    let (auth_identity, auth_identity_url) = id.auth.clone().unwrap_or_default();
    ClientStats {
        client_id: id.client_id.clone(),
        hostname: id.hostname.clone(),
        version: "V2".into(),
        remote_address: id.remote_address.clone(),
        state: id.state,
        ready_count: counts.ready,
        in_flight_count: counts.in_flight,
        message_count: counts.messages,
        finish_count: counts.finished,
        requeue_count: counts.requeued,
        connect_ts: id.connect_ts.div_euclid(SECOND),
        sample_rate: id.sample_rate,
        deflate: id.deflate,
        snappy: id.snappy,
        user_agent: id.user_agent.clone(),
        authed: id.auth.is_some(),
        auth_identity,
        auth_identity_url,
        pub_counts,
        tls: id.tls.is_some(),
        tls_cipher_suite: tls.cipher_suite,
        tls_version: tls.version,
        tls_negotiated_protocol: tls.negotiated_protocol,
        tls_negotiated_protocol_is_mutual: tls.negotiated_protocol_is_mutual,
    }
}

/// The `/stats` parameters (an empty `topic` or `channel` means all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsFilter {
    pub topic: Option<String>,
    pub channel: Option<String>,
    pub include_clients: bool,
}

impl Default for StatsFilter {
    fn default() -> Self {
        StatsFilter {
            topic: None,
            channel: None,
            include_clients: true,
        }
    }
}

impl StatsFilter {
    /// What statsd reports: everything, no clients.
    pub fn statsd() -> Self {
        StatsFilter {
            include_clients: false,
            ..Default::default()
        }
    }

    /// Whether topic `name` is asked for.
    pub fn wants_topic(&self, name: &str) -> bool {
        self.topic.as_deref().is_none_or(|t| t == name)
    }
}

/// A topic's stats, or `None` when the channel filter names a channel it
/// does not have (NSQ leaves such topics out). `identity` tells who a
/// subscriber's connection is.
pub fn topic_stats<K>(
    t: &Topic<K>,
    filter: &StatsFilter,
    now: Nanos,
    identity: &mut dyn FnMut(&K) -> ClientIdentity,
) -> Option<TopicStats> {
    let mut channels = Vec::new();
    for ch in t.channels() {
        if filter.channel.as_deref().is_some_and(|c| c != ch.name()) {
            continue;
        }
        let clients = filter.include_clients.then(|| {
            let mut subs: Vec<&Consumer<K>> = ch.consumers().map(|(_, c)| c).collect();
            subs.sort_by_key(|c| c.settings.client_id);
            subs.into_iter()
                .map(|c| client_stats(&identity(&c.handle), c.into(), filter.topic.as_deref()))
                .collect()
        });
        channels.push(ChannelStats {
            channel_name: ch.name().to_string(),
            depth: ch.depth() as i64,
            backend_depth: ch.backend_depth() as i64,
            in_flight_count: ch.in_flight_count() as i64,
            deferred_count: ch.deferred_count() as i64,
            message_count: ch.message_count,
            requeue_count: ch.requeue_count,
            timeout_count: ch.timeout_count,
            client_count: ch.consumer_count() as i64,
            clients,
            paused: ch.is_paused(),
            e2e_processing_latency: ch.e2e().map(|q| q.result(now)).unwrap_or_default(),
        });
    }
    if channels.is_empty() && filter.channel.is_some() {
        return None;
    }
    Some(TopicStats {
        topic_name: t.name().to_string(),
        channels,
        depth: t.depth() as i64,
        backend_depth: t.backlog().backend_depth() as i64,
        message_count: t.message_count,
        message_bytes: t.message_bytes,
        paused: t.is_paused(),
        e2e_processing_latency: topic_latency(t, now),
    })
}

/// A topic's latency: all of its channels' windows together.
fn topic_latency<K>(t: &Topic<K>, now: Nanos) -> Latency {
    let mut windows = t.channels().filter_map(|c| c.e2e()).peekable();
    match windows.peek() {
        Some(first) => {
            let targets = first.percentiles().clone();
            Quantile::combine(windows, &targets, now)
        }
        None => Latency::default(),
    }
}

/// The topics part of `/stats`: `None` when the topic filter names a topic
/// that does not exist (NSQ's `"topics":null`), else the topics in name order.
pub fn topics_stats<'a, K: 'a>(
    topics: impl IntoIterator<Item = &'a Topic<K>>,
    filter: &StatsFilter,
    now: Nanos,
    identity: &mut dyn FnMut(&K) -> ClientIdentity,
) -> Option<Vec<TopicStats>> {
    let mut wanted: Vec<&Topic<K>> = topics
        .into_iter()
        .filter(|t| filter.wants_topic(t.name()))
        .collect();
    if wanted.is_empty() && filter.topic.is_some() {
        return None;
    }
    wanted.sort_by(|a, b| a.name().cmp(b.name()));
    Some(
        wanted
            .into_iter()
            .filter_map(|t| topic_stats(t, filter, now, identity))
            .collect(),
    )
}

/// The producers part of `/stats` (`None` when there are none, or clients
/// were not asked for): connections that published, with their counts.
pub fn producers_stats(
    conns: impl IntoIterator<Item = (ClientIdentity, ConsumerCounts)>,
    filter: &StatsFilter,
) -> Option<Vec<ClientStats>> {
    if !filter.include_clients {
        return None;
    }
    let list: Vec<ClientStats> = conns
        .into_iter()
        .filter(|(id, _)| id.is_producer())
        .map(|(id, counts)| client_stats(&id, counts, filter.topic.as_deref()))
        .collect();
    (!list.is_empty()).then_some(list)
}
