//! Where a consumer's nsqd come from: nsqlookupd polled round-robin every
//! `lookupd_poll_interval` (the first regular poll after a random jitter, so
//! consumers restarted together do not all poll at once), and nsqd given
//! directly, redialled every poll interval after they are lost when there
//! is no lookupd.

use super::lookup::lookup_url;
use crate::io::{nanos, Nanos};
use rand::rngs::SmallRng;
use rand::Rng;
use std::collections::BTreeMap;

/// A lookupd query gives up after this many endpoints failed in a row.
const QUERY_TRIES: u32 = 3;

#[derive(Debug, Clone)]
pub struct Discovery {
    topic: String,
    /// Full `/lookup` URLs, in the order they were added.
    lookupds: Vec<String>,
    next_index: usize,
    poll_interval: Nanos,
    jitter: f64,
    next_poll: Option<Nanos>,
    /// The query under way: its URL and how many endpoints it has tried.
    query: Option<(String, u32)>,
    /// A poll was asked for while one was under way.
    recheck: bool,
    /// nsqd addresses to stay connected to (go-nsq's `nsqdTCPAddrs`).
    nsqds: Vec<String>,
    reconnect_at: BTreeMap<String, Nanos>,
}

/// What discovery wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryAction {
    Query(String),
    Reconnect(String),
}

impl Discovery {
    pub fn new(topic: &str, poll_interval: Nanos, jitter: f64) -> Self {
        Discovery {
            topic: topic.to_string(),
            lookupds: Vec::new(),
            next_index: 0,
            poll_interval: poll_interval.max(1),
            jitter,
            next_poll: None,
            query: None,
            recheck: false,
            nsqds: Vec::new(),
            reconnect_at: BTreeMap::new(),
        }
    }

    pub fn has_lookupds(&self) -> bool {
        !self.lookupds.is_empty()
    }

    pub fn lookupds(&self) -> &[String] {
        &self.lookupds
    }

    /// Adds a lookupd. The first one starts polling: a query now, the next
    /// after the jitter plus one interval.
    pub fn add_lookupd(
        &mut self,
        addr: &str,
        now: Nanos,
        rng: &mut SmallRng,
    ) -> Result<Option<DiscoveryAction>, String> {
        let url = lookup_url(addr, &self.topic)?;
        if self.lookupds.contains(&url) {
            return Ok(None);
        }
        self.lookupds.push(url);
        if self.lookupds.len() > 1 {
            return Ok(None);
        }
        let jitter = (rng.random::<f64>() * self.jitter * self.poll_interval as f64) as Nanos;
        self.next_poll = Some(now + jitter + self.poll_interval);
        Ok(self.start_query())
    }

    /// Removes a lookupd (never the last one, as go-nsq).
    pub fn remove_lookupd(&mut self, addr: &str) -> Result<(), String> {
        let url = lookup_url(addr, &self.topic)?;
        let Some(i) = self.lookupds.iter().position(|u| *u == url) else {
            return Err("not connected".into());
        };
        if self.lookupds.len() == 1 {
            return Err(format!(
                "cannot disconnect from only remaining nsqlookupd HTTP address {addr}"
            ));
        }
        self.lookupds.remove(i);
        Ok(())
    }

    /// Remembers an nsqd to keep connected to.
    pub fn add_nsqd(&mut self, addr: &str) {
        if !self.nsqds.iter().any(|a| a == addr) {
            self.nsqds.push(addr.to_string());
        }
    }

    /// Forgets an nsqd: it is not redialled any more.
    pub fn remove_nsqd(&mut self, addr: &str) -> bool {
        self.reconnect_at.remove(addr);
        let before = self.nsqds.len();
        self.nsqds.retain(|a| a != addr);
        before != self.nsqds.len()
    }

    /// A connection to `addr` was lost (or a redial failed): poll lookupd
    /// now, or without lookupd redial a known nsqd after one poll interval.
    pub fn on_lost(&mut self, addr: &str, now: Nanos) -> Option<DiscoveryAction> {
        if self.has_lookupds() {
            return self.request_poll();
        }
        if self.nsqds.iter().any(|a| a == addr) {
            self.reconnect_at
                .insert(addr.to_string(), now + self.poll_interval);
        }
        None
    }

    fn request_poll(&mut self) -> Option<DiscoveryAction> {
        if self.query.is_some() {
            self.recheck = true;
            return None;
        }
        self.start_query()
    }

    fn start_query(&mut self) -> Option<DiscoveryAction> {
        let url = self.next_endpoint()?;
        self.query = Some((url.clone(), 1));
        Some(DiscoveryAction::Query(url))
    }

    fn next_endpoint(&mut self) -> Option<String> {
        if self.lookupds.is_empty() {
            return None;
        }
        if self.next_index >= self.lookupds.len() {
            self.next_index = 0;
        }
        let url = self.lookupds[self.next_index].clone();
        // wrapped on the next read, so a lookupd added meanwhile is next
        self.next_index += 1;
        Some(url)
    }

    /// The answer to the query under way: on failure the next endpoint is
    /// tried (three in all).
    pub fn on_query_failed(&mut self, url: &str) -> Option<DiscoveryAction> {
        let (current, tries) = self.query.take()?;
        if current != url {
            self.query = Some((current, tries));
            return None;
        }
        if tries < QUERY_TRIES {
            if let Some(next) = self.next_endpoint() {
                self.query = Some((next.clone(), tries + 1));
                return Some(DiscoveryAction::Query(next));
            }
        }
        self.after_query()
    }

    /// The query under way succeeded.
    pub fn on_query_done(&mut self, url: &str) -> Option<DiscoveryAction> {
        match &self.query {
            Some((current, _)) if current == url => {
                self.query = None;
                self.after_query()
            }
            _ => None,
        }
    }

    fn after_query(&mut self) -> Option<DiscoveryAction> {
        if std::mem::take(&mut self.recheck) {
            return self.start_query();
        }
        None
    }

    /// Due polls and redials.
    pub fn tick(&mut self, now: Nanos, out: &mut Vec<DiscoveryAction>) {
        if let Some(at) = self.next_poll {
            if at <= now {
                // a ticker: skipped beats are not made up
                let missed = (now - at) / self.poll_interval;
                self.next_poll = Some(at + (missed + 1) * self.poll_interval);
                out.extend(self.request_poll());
            }
        }
        let due: Vec<String> = self
            .reconnect_at
            .iter()
            .filter(|(_, &t)| t <= now)
            .map(|(a, _)| a.clone())
            .collect();
        for addr in due {
            self.reconnect_at.remove(&addr);
            if self.nsqds.contains(&addr) {
                out.push(DiscoveryAction::Reconnect(addr));
            }
        }
    }

    pub fn next_deadline(&self) -> Option<Nanos> {
        let redial = self.reconnect_at.values().min().copied();
        match (self.next_poll, redial) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Stops all polling and redialling.
    pub fn stop(&mut self) {
        self.next_poll = None;
        self.reconnect_at.clear();
        self.recheck = false;
    }
}

/// The jitter and interval in the units discovery uses.
pub fn poll_settings(cfg: &super::Config) -> (Nanos, f64) {
    (nanos(cfg.lookupd_poll_interval), cfg.lookupd_poll_jitter)
}
