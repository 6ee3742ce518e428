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
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
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

/// The `nsqd.dat` writes, by generation: deletions need one that began
/// after they did before they remove their tombstones (see
/// `nsq_core::broker::deletion`).
#[derive(Default)]
pub struct MetaWrites {
    /// Writes begun so far (the current one's generation).
    started: AtomicU64,
    /// Wakes the metadata writer: something changed, write soon.
    pub wake: Notify,
    /// Topics whose deletions wait for the next write.
    waiting: Mutex<Vec<Weak<TopicCell>>>,
}

impl MetaWrites {
    /// Starts a write: its generation.
    pub fn begin(&self) -> u64 {
        self.started.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The generation of the next write to begin.
    fn next(&self) -> u64 {
        self.started.load(Ordering::SeqCst) + 1
    }

    /// The write of `generation` is on disk: tells the topics waiting for it.
    pub fn persisted(&self, generation: u64) {
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|e| e.into_inner()));
        for cell in waiting.iter().filter_map(Weak::upgrade) {
            let mut st = cell.lock();
            st.topic.catalog_persisted(generation);
            cell.after_op(&mut st);
        }
    }

    fn wait_for_next(&self, cell: &Arc<TopicCell>) {
        let mut w = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if !w.iter().any(|c| c.as_ptr() == Arc::as_ptr(cell)) {
            w.push(Arc::downgrade(cell));
        }
        drop(w);
        self.wake.notify_one();
    }
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
    meta: Arc<MetaWrites>,
    /// A deleted namesake whose files are still on their way out: this
    /// topic does no disk work until it has finished.
    predecessor: Mutex<Option<Arc<TopicCell>>>,
    /// Deleted, and nothing of it is left on disk (its I/O task ended).
    finished: AtomicBool,
    pub finished_wake: Notify,
    me: Weak<TopicCell>,
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
            self.meta.wake.notify_one();
        }
        if !st.topic.deletions_done() {
            st.topic.stamp_deletions(self.meta.next());
            if st.topic.awaits_catalog() {
                if let Some(me) = self.me.upgrade() {
                    self.meta.wait_for_next(&me);
                }
            }
        }
    }

    /// Deleted, with nothing left on disk: a namesake may go ahead.
    fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.finished_wake.notify_waiters();
    }

    /// Whether this deleted topic has nothing left on disk.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Waits until this (deleted) topic has nothing left on disk.
    pub async fn finished(&self) {
        loop {
            let n = self.finished_wake.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_finished() {
                return;
            }
            n.await;
        }
    }

    /// Waits until the deletion of `channel` (the whole topic: `None`) is
    /// committed: tombstones durable, files removed.
    pub async fn deletion_committed(&self, channel: Option<&str>) {
        loop {
            let n = self.io_done.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.lock().topic.deletion_committed(channel) {
                return;
            }
            n.await;
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
    /// its I/O task removes its files and stops too. Then take it out of
    /// the registry with [`Registry::retire`].
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Deleted topics whose files are still on their way out, by name.
#[derive(Clone, Default)]
struct Deleting(Arc<Mutex<BTreeMap<String, Arc<TopicCell>>>>);

impl Deleting {
    /// `cell` is done: it leaves the list (if a later namesake's deletion
    /// has not taken its place).
    fn remove(&self, cell: &Arc<TopicCell>) {
        let mut m = lock(&self.0);
        if m.get(&cell.name).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            m.remove(&cell.name);
        }
    }
}

pub struct Registry {
    topics: RwLock<BTreeMap<String, Arc<TopicCell>>>,
    /// Deleted topics whose files are still on their way out.
    deleting: Deleting,
    pub meta: Arc<MetaWrites>,
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
            deleting: Deleting::default(),
            meta: Arc::default(),
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

    /// The topic, created (with its timer task) if needed. A new topic's
    /// queues start empty: what nsqd holds on disk was loaded at start.
    pub fn get_or_create(&self, name: &str) -> Arc<TopicCell> {
        self.get_or_insert(name, |seed| Topic::new(name, self.cfg.clone(), seed))
    }

    /// Adds a topic built by the caller (loaded from disk at start), unless
    /// one of that name exists already.
    pub fn insert_loaded(
        &self,
        name: &str,
        make: impl FnOnce(u64) -> Topic<Handle>,
    ) -> Arc<TopicCell> {
        self.get_or_insert(name, make)
    }

    fn get_or_insert(&self, name: &str, make: impl FnOnce(u64) -> Topic<Handle>) -> Arc<TopicCell> {
        if let Some(t) = self.get(name) {
            return t;
        }
        let mut map = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = map.get(name) {
            return Arc::clone(t);
        }
        let n = self.created.fetch_add(1, Ordering::Relaxed);
        let seed = self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut topic = make(seed);
        if let Some(c) = &self.catalog {
            if c.hold_new_topics.load(Ordering::Acquire) {
                topic.hold();
            }
            let _ = c.tx.send(CatalogEvent::TopicCreated(name.to_string()));
        }
        let predecessor = lock(&self.deleting.0).get(name).cloned();
        let cell = Arc::new_cyclic(|me| TopicCell {
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
            meta: Arc::clone(&self.meta),
            predecessor: Mutex::new(predecessor),
            finished: AtomicBool::new(false),
            finished_wake: Notify::new(),
            me: me.clone(),
        });
        map.insert(name.to_string(), Arc::clone(&cell));
        drop(map);
        self.meta.wake.notify_one();
        tracing::info!("TOPIC({name}): created");
        tokio::spawn(run_timer(Arc::clone(&cell)));
        if let Some(disks) = &self.disks {
            tokio::spawn(run_io(
                Arc::clone(&cell),
                Arc::clone(disks),
                self.deleting.clone(),
            ));
        }
        cell
    }

    /// Takes a topic marked deleted ([`TopicCell::mark_deleted`]) out of
    /// the registry; while its files are on their way out it is kept apart,
    /// and a namesake created meanwhile waits for it before touching disk.
    pub fn retire(&self, cell: &Arc<TopicCell>) {
        let mut map = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if !map.get(&cell.name).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            return;
        }
        map.remove(&cell.name);
        if let Some(c) = &self.catalog {
            let _ = c.tx.send(CatalogEvent::TopicDeleted(cell.name.clone()));
        }
        let mut st = cell.lock();
        if !st.topic.deletions_done() {
            lock(&self.deleting.0).insert(cell.name.clone(), Arc::clone(cell));
        } else if self.disks.is_none() {
            // No I/O task to finish it.
            cell.finish();
        }
        // Out of the map now: the next nsqd.dat write no longer lists it.
        cell.after_op(&mut st);
        drop(map);
        self.meta.wake.notify_one();
    }

    /// NSQ's topic delete: closes its consumers, drops its messages and
    /// channels, and removes it. `None` if there is no such topic; else the
    /// deleted topic, whose [`TopicCell::deletion_committed`] tells when
    /// no restart can bring it back.
    pub fn delete(&self, name: &str) -> Option<Arc<TopicCell>> {
        let cell = self.get(name)?;
        let mut st = cell.lock();
        if st.deleted {
            return None;
        }
        st.topic.delete_all(&mut Deliver::default());
        // Deleted first: the deletions are stamped (in after_op) with a
        // nsqd.dat write that cannot list the topic any more.
        cell.mark_deleted(&mut st);
        cell.after_op(&mut st);
        drop(st);
        tracing::info!("TOPIC({name}): deleting");
        self.retire(&cell);
        Some(cell)
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
async fn run_io(cell: Arc<TopicCell>, disks: DiskFactory, deleting: Deleting) {
    use std::future::Future;
    use std::pin::Pin;
    type Batch = Pin<
        Box<
            dyn Future<Output = (Box<dyn nsq_core::io::Disk + Send>, super::disk_io::Outcomes)>
                + Send,
        >,
    >;
    // A deleted namesake's files go before this topic touches the disk.
    let predecessor = lock(&cell.predecessor).take();
    if let Some(p) = predecessor {
        p.finished().await;
    }
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
            (
                st.deleted && st.topic.deletions_done(),
                st.topic.next_io_deadline(),
            )
        };
        if writing.is_none() && syncing.is_none() && deleted {
            cell.finish();
            deleting.remove(&cell);
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

    fn registry(hold: bool) -> (Registry, tokio::sync::mpsc::UnboundedReceiver<CatalogEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let cfg = BrokerConfig::from_options(&nsq_core::Options::default(), false);
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
        assert!(reg.delete("t").is_some());
        assert!(reg.delete("t").is_none());
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
