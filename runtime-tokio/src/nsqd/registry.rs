//! The topics of one nsqd. Each topic lives behind its own lock (with its
//! channels and their consumers); the map itself is only locked to find or
//! add a topic, never on the publish/deliver path of a known topic.

use super::disk_io::{run_jobs, DiskFactory};
use super::shared::{Deliver, Handle};
use crate::clock;
use nsq_core::broker::{BrokerConfig, ChannelEvent, Topic};
use nsq_core::io::Nanos;
use nsq_core::lookup::CatalogEvent;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;

/// Where the registry reports topics and channels coming and going (nsqd's
/// lookupd registration listens). Events are sent under the lock that made
/// the change (the topic map's for topics, the topic's for its channels),
/// so they arrive in the order the changes happened.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub tx: UnboundedSender<CatalogEvent>,
    /// New topics start held until their channels are pre-created (set
    /// while lookupds that can be asked for them are known).
    pub hold_new_topics: Arc<AtomicBool>,
}

pub struct TopicState {
    pub topic: Topic<Handle>,
    /// Set (under this lock) when the topic leaves the registry; anyone
    /// holding a stale handle looks it up again.
    pub deleted: bool,
}

pub struct TopicCell {
    pub name: String,
    state: Mutex<TopicState>,
    timer: Notify,
    /// The deadline the topic's timer task sleeps until.
    armed: AtomicI64,
    /// Wakes the topic's I/O task: a queue has disk work.
    io_wake: Notify,
    /// Every finished batch of disk work (publishers waiting for durability listen).
    pub io_done: Notify,
    catalog: Option<UnboundedSender<CatalogEvent>>,
}

impl TopicCell {
    pub fn lock(&self) -> MutexGuard<'_, TopicState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After changing the topic: wake its timer if a new deadline is earlier
    /// than the one it sleeps until, and its I/O task if there is disk work.
    pub fn after_op(&self, st: &mut TopicState) {
        self.after_op_at(st, clock::now());
    }

    /// [`TopicCell::after_op`] with the time the caller already read.
    pub fn after_op_at(&self, st: &mut TopicState, now: Nanos) {
        if let Some(w) = st.topic.take_wake() {
            if w < self.armed.load(Ordering::Acquire) {
                self.armed.store(w, Ordering::Release);
                self.timer.notify_one();
            }
        }
        self.wake_io_if_wanted(st, now);
        if st.topic.has_events() {
            self.report(st);
        }
    }

    /// Wakes the I/O task if any queue of the topic has disk work now.
    fn wake_io_if_wanted(&self, st: &TopicState, now: Nanos) {
        if st.topic.wants_io(now) {
            self.io_wake.notify_one();
        }
    }

    /// Passes channel creations/deletions on to the catalog (under the topic lock).
    fn report(&self, st: &mut TopicState) {
        for ev in st.topic.take_events() {
            let Some(tx) = &self.catalog else { continue };
            let (topic, ev) = (self.name.clone(), ev);
            let _ = tx.send(match ev {
                ChannelEvent::Created(channel) => CatalogEvent::ChannelCreated { topic, channel },
                ChannelEvent::Deleted(channel) => CatalogEvent::ChannelDeleted { topic, channel },
            });
        }
    }

    /// Marks the topic deleted (caller holds the lock) and stops its timer;
    /// its I/O task removes its files and stops too.
    pub fn mark_deleted(&self, st: &mut TopicState) {
        st.deleted = true;
        self.timer.notify_one();
        self.io_wake.notify_one();
    }

    /// Wakes the I/O task (e.g. at shutdown, after asking for a final sync).
    pub fn wake_io(&self) {
        self.io_wake.notify_one();
    }
}

pub struct Registry {
    topics: RwLock<BTreeMap<String, Arc<TopicCell>>>,
    cfg: BrokerConfig,
    seed: u64,
    created: AtomicU64,
    /// Disk handles for the topics' I/O tasks (none: memory only).
    disks: Option<DiskFactory>,
    catalog: Option<Catalog>,
}

impl Registry {
    pub fn new(cfg: BrokerConfig, seed: u64, disks: Option<DiskFactory>) -> Self {
        Registry {
            topics: RwLock::new(BTreeMap::new()),
            cfg,
            seed,
            created: AtomicU64::new(0),
            disks,
            catalog: None,
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.cfg
    }

    /// Reports topic and channel changes to `catalog`.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    pub fn get(&self, name: &str) -> Option<Arc<TopicCell>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The topic, created (with its timer task) if needed.
    pub fn get_or_create(&self, name: &str) -> Arc<TopicCell> {
        if let Some(t) = self.get(name) {
            return t;
        }
        let mut map = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = map.get(name) {
            return Arc::clone(t);
        }
        let n = self.created.fetch_add(1, Ordering::Relaxed);
        let seed = self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut topic = Topic::new(name, self.cfg.clone(), seed);
        if let Some(c) = &self.catalog {
            if c.hold_new_topics.load(Ordering::Acquire) {
                topic.hold();
            }
            let _ = c.tx.send(CatalogEvent::TopicCreated(name.to_string()));
        }
        let cell = Arc::new(TopicCell {
            name: name.to_string(),
            state: Mutex::new(TopicState {
                topic,
                deleted: false,
            }),
            timer: Notify::new(),
            armed: AtomicI64::new(Nanos::MAX),
            io_wake: Notify::new(),
            io_done: Notify::new(),
            catalog: self.catalog.as_ref().map(|c| c.tx.clone()),
        });
        map.insert(name.to_string(), Arc::clone(&cell));
        drop(map);
        tracing::info!("TOPIC({name}): created");
        tokio::spawn(run_timer(Arc::clone(&cell)));
        if let Some(disks) = &self.disks {
            tokio::spawn(run_io(Arc::clone(&cell), Arc::clone(disks)));
        }
        cell
    }

    /// Drops `cell` from the map if it is still the registered one.
    pub fn remove_if_same(&self, cell: &Arc<TopicCell>) {
        let mut map = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if map.get(&cell.name).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            map.remove(&cell.name);
            if let Some(c) = &self.catalog {
                let _ = c.tx.send(CatalogEvent::TopicDeleted(cell.name.clone()));
            }
        }
    }

    /// NSQ's topic delete: closes its consumers, drops its messages and
    /// channels, and removes it. False if there is no such topic.
    pub fn delete(&self, name: &str) -> bool {
        let Some(cell) = self.get(name) else {
            return false;
        };
        let mut st = cell.lock();
        if st.deleted {
            return false;
        }
        st.topic.delete_all(&mut Deliver::default());
        cell.after_op(&mut st);
        cell.mark_deleted(&mut st);
        drop(st);
        tracing::info!("TOPIC({name}): deleting");
        self.remove_if_same(&cell);
        true
    }

    /// Every topic, in name order.
    pub fn all(&self) -> Vec<Arc<TopicCell>> {
        self.topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Runs a topic's in-flight timeouts, deferrals and backlog pump, sleeping
/// until the topic's next deadline or until an operation arms an earlier one.
async fn run_timer(cell: Arc<TopicCell>) {
    loop {
        // What the tick delivers is encoded after the lock is released.
        let mut out = Deliver::default();
        let (next, again) = {
            let mut st = cell.lock();
            if st.deleted {
                return;
            }
            let now = clock::now();
            st.topic.tick(now, &mut out);
            // The pump stopped at its batch bound: more backlog is ready.
            let again = st.topic.take_wake().is_some_and(|w| w <= now);
            let next = st.topic.next_deadline(now);
            cell.armed
                .store(next.unwrap_or(Nanos::MAX), Ordering::Release);
            // The pump may have drawn the readahead down: the reader refills it.
            cell.wake_io_if_wanted(&st, now);
            (next, again)
        };
        drop(out);
        match next {
            // Go again at once: a timer would round up to the driver's next
            // millisecond tick, capping the pump at one batch per millisecond.
            Some(_) if again => tokio::task::yield_now().await,
            Some(d) => {
                tokio::select! {
                    biased; // a fixed order, so simulated runs repeat (README: Simulation)
                    _ = tokio::time::sleep_until(clock::instant_at(d)) => {}
                    _ = cell.timer.notified() => {}
                }
            }
            None => cell.timer.notified().await,
        }
    }
}

/// Performs a topic's disk work in two lanes that run side by side:
/// writes (appends and reads) and syncs (fsync, metadata, removals), so
/// publishers are answered while an fsync runs. Each lane takes every
/// queue's job under the lock, runs the batch off the network threads,
/// feeds the outcomes back, and goes again.
async fn run_io(cell: Arc<TopicCell>, disks: DiskFactory) {
    use std::future::Future;
    use std::pin::Pin;
    type Batch = Pin<
        Box<
            dyn Future<Output = (Box<dyn nsq_core::io::Disk + Send>, super::disk_io::Outcomes)>
                + Send,
        >,
    >;
    let (mut write_disk, mut sync_disk) = (Some(disks()), Some(disks()));
    let mut writing: Option<Batch> = None;
    let mut syncing: Option<Batch> = None;
    loop {
        let (deleted, next) = {
            let mut st = cell.lock();
            let now = clock::now();
            if writing.is_none() {
                let jobs = st.topic.poll_writes(now);
                if !jobs.is_empty() {
                    if let Some(d) = write_disk.take() {
                        writing = Some(Box::pin(run_jobs(d, jobs)));
                    }
                }
            }
            if syncing.is_none() {
                let jobs = st.topic.poll_syncs(now);
                if !jobs.is_empty() {
                    if let Some(d) = sync_disk.take() {
                        syncing = Some(Box::pin(run_jobs(d, jobs)));
                    }
                }
            }
            (st.deleted, st.topic.next_io_deadline())
        };
        if writing.is_none() && syncing.is_none() && deleted {
            cell.io_done.notify_waiters();
            return;
        }
        let sleep = async {
            match next {
                Some(d) => tokio::time::sleep_until(clock::instant_at(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased; // a fixed order, so simulated runs repeat (README: Simulation)
            Some((d, outcomes)) = async { match writing.as_mut() { Some(f) => Some(f.await), None => None } } => {
                writing = None;
                write_disk = Some(d);
                let mut out = Deliver::default();
                let mut st = cell.lock();
                let now = clock::now();
                for (key, outcome) in outcomes {
                    st.topic.complete_write(&key, outcome, now, &mut out);
                }
                cell.after_op_at(&mut st, now);
                drop(st);
                drop(out);
                cell.io_done.notify_waiters();
            }
            Some((d, outcomes)) = async { match syncing.as_mut() { Some(f) => Some(f.await), None => None } } => {
                syncing = None;
                sync_disk = Some(d);
                let mut st = cell.lock();
                let now = clock::now();
                for (key, outcome) in outcomes {
                    st.topic.complete_sync(&key, outcome, now);
                }
                cell.after_op_at(&mut st, now);
                drop(st);
                cell.io_done.notify_waiters();
            }
            _ = cell.io_wake.notified() => {}
            _ = sleep, if writing.is_none() || syncing.is_none() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use nsq_core::broker::config::MemoryOnly;

    fn registry(hold: bool) -> (Registry, tokio::sync::mpsc::UnboundedReceiver<CatalogEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let cfg = BrokerConfig::from_options(&nsq_core::Options::default(), Arc::new(MemoryOnly));
        let catalog = Catalog {
            tx,
            hold_new_topics: Arc::new(AtomicBool::new(hold)),
        };
        (Registry::new(cfg, 1, None).with_catalog(catalog), rx)
    }

    fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<CatalogEvent>) -> Vec<CatalogEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[tokio::test]
    async fn topic_and_channel_changes_reach_the_catalog_in_order() {
        let (reg, mut rx) = registry(false);
        let cell = reg.get_or_create("t");
        reg.get_or_create("t");
        {
            let mut st = cell.lock();
            assert!(!st.topic.is_held());
            st.topic
                .get_or_create_channel("c", 0, &mut Deliver::default());
            cell.after_op(&mut st);
        }
        assert!(reg.delete("t"));
        assert!(!reg.delete("t"));
        let (topic, channel) = ("t".to_string(), "c".to_string());
        assert_eq!(
            drain(&mut rx),
            [
                CatalogEvent::TopicCreated(topic.clone()),
                CatalogEvent::ChannelCreated {
                    topic: topic.clone(),
                    channel: channel.clone()
                },
                CatalogEvent::ChannelDeleted {
                    topic: topic.clone(),
                    channel
                },
                CatalogEvent::TopicDeleted(topic),
            ]
        );
        assert!(reg.get("t").is_none());
    }

    #[tokio::test]
    async fn the_pump_goes_on_batch_after_batch_without_waiting_for_a_timer_tick() {
        let (reg, _rx) = registry(false);
        let cell = reg.get_or_create("t");
        let total = 8 * nsq_core::broker::topic::PUMP_BATCH;
        {
            let mut st = cell.lock();
            let now = clock::now();
            let bodies = (0..total).map(|i| Bytes::from(i.to_string())).collect();
            st.topic
                .publish(bodies, now, &mut Deliver::default())
                .expect("fits the memory queue");
            st.topic
                .get_or_create_channel("c", now, &mut Deliver::default());
            cell.after_op_at(&mut st, now);
        }
        // Each turn of the timer task moves one batch. Waiting for a timer
        // tick (a millisecond) between batches, as it once did, would leave
        // most of the backlog behind after these few turns.
        let mut depth = 0;
        for _ in 0..200 {
            tokio::task::yield_now().await;
            depth = cell.lock().topic.channels().map(|c| c.depth()).sum();
            if depth == total as u64 {
                break;
            }
        }
        assert_eq!(depth, total as u64);
    }

    #[tokio::test]
    async fn new_topics_are_held_while_lookupds_can_be_asked() {
        let (reg, _rx) = registry(true);
        assert!(reg.get_or_create("t").lock().topic.is_held());
    }
}
