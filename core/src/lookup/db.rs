//! nsqlookupd's registration DB: which peers (nsqd nodes) carry which
//! topics and channels, when each peer last spoke, and which topic
//! producers an operator tombstoned.
//!
//! A registration is `(category, key, sub_key)`: `client::` for every
//! identified peer, `topic:T:` and `channel:T:C`. Each holds its producers
//! keyed by peer id (the peer's remote address), and each producer entry
//! carries its own tombstone, as NSQ's does. Maps are ordered, so every
//! listing is deterministic (NSQ's follow Go's map order).

use crate::io::Nanos;
use std::collections::BTreeMap;

/// A peer's id: the remote address of its connection.
pub type PeerId = String;

/// What a registration names. Declared in alphabetical order, so ordered
/// registrations list like NSQ's sorted `/debug` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Channel,
    Client,
    Topic,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Channel => "channel",
            Category::Client => "client",
            Category::Topic => "topic",
        }
    }
}

/// A registration key. `"*"` in a query matches any key or sub key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Registration {
    pub category: Category,
    pub key: String,
    pub sub_key: String,
}

impl Registration {
    pub fn new(category: Category, key: &str, sub_key: &str) -> Self {
        Registration {
            category,
            key: key.to_string(),
            sub_key: sub_key.to_string(),
        }
    }

    /// `client::`: every identified peer is a producer of it.
    pub fn client() -> Self {
        Self::new(Category::Client, "", "")
    }

    pub fn topic(topic: &str) -> Self {
        Self::new(Category::Topic, topic, "")
    }

    pub fn channel(topic: &str, channel: &str) -> Self {
        Self::new(Category::Channel, topic, channel)
    }

    /// NSQ's `IsMatch`: same category, and key/sub key equal or `"*"`.
    pub fn is_match(&self, category: Category, key: &str, sub_key: &str) -> bool {
        self.category == category
            && (key == "*" || self.key == key)
            && (sub_key == "*" || self.sub_key == sub_key)
    }

    /// `category:key:sub_key`, the key `/debug` lists it under.
    pub fn debug_key(&self) -> String {
        format!("{}:{}:{}", self.category.as_str(), self.key, self.sub_key)
    }
}

/// What a peer told us in IDENTIFY, and when it last spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: PeerId,
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    /// Ports as the peer sent them (NSQ keeps any integer).
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    /// Last IDENTIFY or PING.
    pub last_update: Nanos,
}

/// One producer entry of one registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProducerEntry {
    /// When an operator tombstoned this producer of this topic, if ever.
    pub tombstoned_at: Option<Nanos>,
}

impl ProducerEntry {
    /// NSQ's `IsTombstoned`: tombstoned less than `lifetime` ago.
    pub fn is_tombstoned(&self, lifetime: Nanos, now: Nanos) -> bool {
        self.tombstoned_at
            .is_some_and(|at| now.saturating_sub(at) < lifetime)
    }
}

/// A producer as queries return it: the peer and its entry in the queried registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Producer<'a> {
    pub peer: &'a PeerInfo,
    pub entry: ProducerEntry,
}

/// How long producers stay listed (`--inactive-producer-timeout`) and hidden
/// after a tombstone (`--tombstone-lifetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub inactive_producer_timeout: Nanos,
    pub tombstone_lifetime: Nanos,
}

/// NSQ's `FilterByActive`: drops producers silent for longer than the
/// inactivity timeout and those tombstoned within the tombstone lifetime.
pub fn filter_by_active<'a>(
    producers: Vec<Producer<'a>>,
    activity: Activity,
    now: Nanos,
) -> Vec<Producer<'a>> {
    producers
        .into_iter()
        .filter(|p| {
            now.saturating_sub(p.peer.last_update) <= activity.inactive_producer_timeout
                && !p.entry.is_tombstoned(activity.tombstone_lifetime, now)
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
pub struct RegistrationDb {
    registrations: BTreeMap<Registration, BTreeMap<PeerId, ProducerEntry>>,
    peers: BTreeMap<PeerId, PeerInfo>,
    /// The generation of the latest connection identified as each peer id:
    /// a connection leaves (and takes the peer's registrations with it)
    /// only while it is the latest one with its id.
    generations: BTreeMap<PeerId, u64>,
    /// Generations are drawn from one counter that never goes back, so a
    /// generation names one connection for good: a stale connection's late
    /// close cannot match a later one's after the id was forgotten between
    /// them (and ids come back: a simulated node reuses its lowest free port).
    last_generation: u64,
}

impl RegistrationDb {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a registration without producers (HTTP `topic/create`, `channel/create`).
    pub fn add_registration(&mut self, r: Registration) {
        self.registrations.entry(r).or_default();
    }

    /// Records an identified peer and makes it a producer of `client::`.
    /// Returns true if it was not registered yet.
    pub fn identify(&mut self, info: PeerInfo) -> bool {
        let id = info.id.clone();
        self.peers.insert(id.clone(), info);
        self.add_producer(Registration::client(), &id)
    }

    /// [`RegistrationDb::identify`] for a connection that will leave with
    /// [`RegistrationDb::remove_peer_of`]: returns its generation, and the
    /// registrations of an older connection with the same id (the same
    /// address and port: its close not seen yet, the port reused), which
    /// the newcomer replaces.
    pub fn identify_generation(&mut self, info: PeerInfo) -> (u64, Vec<Registration>) {
        let id = info.id.clone();
        let replaced = if self.peers.contains_key(&id) {
            self.remove_peer(&id)
        } else {
            Vec::new()
        };
        self.identify(info);
        self.last_generation += 1;
        self.generations.insert(id, self.last_generation);
        (self.last_generation, replaced)
    }

    /// A connection of generation `generation` closed: its peer leaves
    /// every registration, unless it is no longer the latest connection
    /// with its id (a newer one took the id over, even one that left since).
    pub fn remove_peer_of(&mut self, id: &str, generation: u64) -> Vec<Registration> {
        if self.generations.get(id) != Some(&generation) {
            return Vec::new();
        }
        self.generations.remove(id);
        self.remove_peer(id)
    }

    /// The generation of the latest connection identified as `id`.
    pub fn generation(&self, id: &str) -> Option<u64> {
        self.generations.get(id).copied()
    }

    pub fn peer(&self, id: &str) -> Option<&PeerInfo> {
        self.peers.get(id)
    }

    /// A PING: the peer is alive. Returns the previous `last_update`.
    pub fn touch(&mut self, id: &str, now: Nanos) -> Option<Nanos> {
        let p = self.peers.get_mut(id)?;
        Some(std::mem::replace(&mut p.last_update, now))
    }

    /// Adds peer `id` as a producer of `r` (creating `r`); an existing entry
    /// (and its tombstone) is kept. Returns true if it was added.
    pub fn add_producer(&mut self, r: Registration, id: &str) -> bool {
        let producers = self.registrations.entry(r).or_default();
        if producers.contains_key(id) {
            return false;
        }
        producers.insert(id.to_string(), ProducerEntry::default());
        true
    }

    /// Removes peer `id` from `r` (the registration stays, even empty).
    /// Returns whether it was there and how many producers are left.
    pub fn remove_producer(&mut self, r: &Registration, id: &str) -> (bool, usize) {
        match self.registrations.get_mut(r) {
            None => (false, 0),
            Some(producers) => {
                let removed = producers.remove(id).is_some();
                (removed, producers.len())
            }
        }
    }

    /// Removes a registration and all its producers.
    pub fn remove_registration(&mut self, r: &Registration) {
        self.registrations.remove(r);
    }

    /// Registrations matching the query, in order.
    pub fn find_registrations(
        &self,
        category: Category,
        key: &str,
        sub_key: &str,
    ) -> Vec<Registration> {
        if key != "*" && sub_key != "*" {
            let r = Registration::new(category, key, sub_key);
            return if self.registrations.contains_key(&r) {
                vec![r]
            } else {
                vec![]
            };
        }
        self.registrations
            .keys()
            .filter(|r| r.is_match(category, key, sub_key))
            .cloned()
            .collect()
    }

    /// Producers of the matching registrations, each peer once (its first
    /// entry in registration order), in peer id order per registration.
    pub fn find_producers(
        &self,
        category: Category,
        key: &str,
        sub_key: &str,
    ) -> Vec<Producer<'_>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (r, producers) in &self.registrations {
            if !r.is_match(category, key, sub_key) {
                continue;
            }
            for (id, entry) in producers {
                if !seen.insert(id.as_str()) {
                    continue;
                }
                if let Some(peer) = self.peers.get(id) {
                    out.push(Producer {
                        peer,
                        entry: *entry,
                    });
                }
            }
        }
        out
    }

    /// Every registration peer `id` is a producer of, in order.
    pub fn lookup_registrations(&self, id: &str) -> Vec<Registration> {
        self.registrations
            .iter()
            .filter(|(_, producers)| producers.contains_key(id))
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// A peer disconnected: removes it from every registration (the
    /// registrations stay). Returns the registrations it was removed from.
    pub fn remove_peer(&mut self, id: &str) -> Vec<Registration> {
        let mut removed = Vec::new();
        for (r, producers) in self.registrations.iter_mut() {
            if producers.remove(id).is_some() {
                removed.push(r.clone());
            }
        }
        self.peers.remove(id);
        removed
    }

    /// Tombstones the producers of `topic` whose `broadcast_address:http_port`
    /// is `node` (NSQ's `FindProducers` then `Tombstone`: with a `*` topic,
    /// each peer's first matching entry; a tombstoned entry gets a fresh time).
    pub fn tombstone(&mut self, topic: &str, node: &str, now: Nanos) -> usize {
        let mut seen = std::collections::BTreeSet::new();
        let mut n = 0;
        for (r, producers) in self.registrations.iter_mut() {
            if !r.is_match(Category::Topic, topic, "") {
                continue;
            }
            for (id, entry) in producers.iter_mut() {
                if !seen.insert(id.clone()) {
                    continue;
                }
                let Some(peer) = self.peers.get(id) else {
                    continue;
                };
                if format!("{}:{}", peer.broadcast_address, peer.http_port) == node {
                    entry.tombstoned_at = Some(now);
                    n += 1;
                }
            }
        }
        n
    }

    /// Every registration with its producers, in order (for `/debug`).
    pub fn iter(&self) -> impl Iterator<Item = (&Registration, Vec<Producer<'_>>)> {
        self.registrations.iter().map(|(r, producers)| {
            let list = producers
                .iter()
                .filter_map(|(id, entry)| {
                    self.peers.get(id).map(|peer| Producer {
                        peer,
                        entry: *entry,
                    })
                })
                .collect();
            (r, list)
        })
    }
}

#[cfg(test)]
mod tests;
