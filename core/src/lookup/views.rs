//! What nsqlookupd's HTTP API answers, as NSQ v1.3.0 shapes it: structs
//! serialise their fields in NSQ's order; Go maps (`/debug`, IDENTIFY
//! replies) come out with sorted keys.

use super::db::{filter_by_active, Activity, Category, PeerInfo, Producer, RegistrationDb};
use crate::io::Nanos;
use serde::Serialize;
use std::collections::BTreeMap;

/// Go's zero `time.Time` as UnixNano: `tombstoned_at` of a producer never tombstoned.
pub const GO_ZERO_TIME_UNIX_NANO: i64 = -6_795_364_578_871_345_152;

/// A producer in `/lookup` (NSQ's `PeerInfo` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProducerView {
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
}

impl From<&PeerInfo> for ProducerView {
    fn from(p: &PeerInfo) -> Self {
        ProducerView {
            remote_address: p.remote_address.clone(),
            hostname: p.hostname.clone(),
            broadcast_address: p.broadcast_address.clone(),
            tcp_port: p.tcp_port,
            http_port: p.http_port,
            version: p.version.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupView {
    pub channels: Vec<String>,
    pub producers: Vec<ProducerView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicsView {
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelsView {
    pub channels: Vec<String>,
}

/// A node in `/nodes`: `tombstones[i]` tells whether `topics[i]` is tombstoned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    pub tombstones: Vec<bool>,
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodesView {
    pub producers: Vec<NodeView>,
}

/// A producer in `/debug` (a Go map: keys sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebugProducer {
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: i64,
    pub id: String,
    pub last_update: Nanos,
    pub tcp_port: i64,
    pub tombstoned: bool,
    pub tombstoned_at: i64,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfoView {
    pub version: &'static str,
}

pub fn info() -> InfoView {
    InfoView {
        version: crate::NSQ_VERSION,
    }
}

fn keys(db: &RegistrationDb, category: Category, key: &str, sub_key: &str) -> Vec<String> {
    db.find_registrations(category, key, sub_key)
        .into_iter()
        .map(|r| r.key)
        .collect()
}

fn sub_keys(db: &RegistrationDb, category: Category, key: &str, sub_key: &str) -> Vec<String> {
    db.find_registrations(category, key, sub_key)
        .into_iter()
        .map(|r| r.sub_key)
        .collect()
}

/// `/topics`: every topic registration.
pub fn topics(db: &RegistrationDb) -> TopicsView {
    TopicsView {
        topics: keys(db, Category::Topic, "*", ""),
    }
}

/// `/channels?topic=`: the topic's channel registrations.
pub fn channels(db: &RegistrationDb, topic: &str) -> ChannelsView {
    ChannelsView {
        channels: sub_keys(db, Category::Channel, topic, "*"),
    }
}

/// `/lookup?topic=`: the topic's channels and its active, not tombstoned
/// producers; `None` if the topic is not registered (404 TOPIC_NOT_FOUND).
pub fn lookup(
    db: &RegistrationDb,
    topic: &str,
    activity: Activity,
    now: Nanos,
) -> Option<LookupView> {
    if db.find_registrations(Category::Topic, topic, "").is_empty() {
        return None;
    }
    let producers = filter_by_active(db.find_producers(Category::Topic, topic, ""), activity, now);
    Some(LookupView {
        channels: sub_keys(db, Category::Channel, topic, "*"),
        producers: producers
            .iter()
            .map(|p| ProducerView::from(p.peer))
            .collect(),
    })
}

/// `/nodes`: every active peer (tombstoned ones too) with its topics and
/// whether each is tombstoned.
pub fn nodes(db: &RegistrationDb, activity: Activity, now: Nanos) -> NodesView {
    let peers = filter_by_active(
        db.find_producers(Category::Client, "", ""),
        Activity {
            tombstone_lifetime: 0,
            ..activity
        },
        now,
    );
    let mut by_topic: BTreeMap<String, Vec<Producer<'_>>> = BTreeMap::new();
    let producers = peers
        .iter()
        .map(|p| {
            let topics: Vec<String> = db
                .lookup_registrations(&p.peer.id)
                .into_iter()
                .filter(|r| r.is_match(Category::Topic, "*", ""))
                .map(|r| r.key)
                .collect();
            let tombstones = topics
                .iter()
                .map(|t| {
                    by_topic
                        .entry(t.clone())
                        .or_insert_with(|| db.find_producers(Category::Topic, t, ""))
                        .iter()
                        .find(|tp| tp.peer.id == p.peer.id)
                        .is_some_and(|tp| tp.entry.is_tombstoned(activity.tombstone_lifetime, now))
                })
                .collect();
            let v = ProducerView::from(p.peer);
            NodeView {
                remote_address: v.remote_address,
                hostname: v.hostname,
                broadcast_address: v.broadcast_address,
                tcp_port: v.tcp_port,
                http_port: v.http_port,
                version: v.version,
                tombstones,
                topics,
            }
        })
        .collect();
    NodesView { producers }
}

/// `/debug`: every registration that has producers, keyed `category:key:sub_key`.
pub fn debug(db: &RegistrationDb) -> BTreeMap<String, Vec<DebugProducer>> {
    let mut out = BTreeMap::new();
    for (r, producers) in db.iter() {
        if producers.is_empty() {
            continue;
        }
        let list = producers
            .iter()
            .map(|p| DebugProducer {
                broadcast_address: p.peer.broadcast_address.clone(),
                hostname: p.peer.hostname.clone(),
                http_port: p.peer.http_port,
                id: p.peer.id.clone(),
                last_update: p.peer.last_update,
                tcp_port: p.peer.tcp_port,
                tombstoned: p.entry.tombstoned_at.is_some(),
                tombstoned_at: p.entry.tombstoned_at.unwrap_or(GO_ZERO_TIME_UNIX_NANO),
                version: p.peer.version.clone(),
            })
            .collect();
        out.insert(r.debug_key(), list);
    }
    out
}

/// HTTP `topic/create`.
pub fn create_topic(db: &mut RegistrationDb, topic: &str) {
    db.add_registration(super::db::Registration::topic(topic));
}

/// HTTP `channel/create`: the channel and its topic.
pub fn create_channel(db: &mut RegistrationDb, topic: &str, channel: &str) {
    db.add_registration(super::db::Registration::channel(topic, channel));
    db.add_registration(super::db::Registration::topic(topic));
}

/// HTTP `topic/delete`: the topic's channel registrations and the topic's.
/// Returns the channels removed.
pub fn delete_topic(db: &mut RegistrationDb, topic: &str) -> Vec<String> {
    let mut removed = Vec::new();
    for r in db.find_registrations(Category::Channel, topic, "*") {
        db.remove_registration(&r);
        removed.push(r.sub_key);
    }
    for r in db.find_registrations(Category::Topic, topic, "") {
        db.remove_registration(&r);
    }
    removed
}

/// HTTP `channel/delete`: false if the channel is not registered (404 CHANNEL_NOT_FOUND).
pub fn delete_channel(db: &mut RegistrationDb, topic: &str, channel: &str) -> bool {
    let found = db.find_registrations(Category::Channel, topic, channel);
    for r in &found {
        db.remove_registration(r);
    }
    !found.is_empty()
}
