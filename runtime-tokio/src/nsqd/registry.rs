//! The topics of one nsqd. Each topic lives behind its own lock (with its
//! channels and their consumers); the map itself is only locked to find or
//! add a topic, never on the publish/deliver path of a known topic.

use super::disk_io::{run_jobs, DiskFactory};
use super::shared::{Deliver, Handle};
use crate::clock;
use nsq_core::broker::{BrokerConfig, Topic};
use nsq_core::io::Nanos;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::Notify;

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
        if st.topic.wants_io(now) {
            self.io_wake.notify_one();
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
}

impl Registry {
    pub fn new(cfg: BrokerConfig, seed: u64, disks: Option<DiskFactory>) -> Self {
        Registry {
            topics: RwLock::new(BTreeMap::new()),
            cfg,
            seed,
            created: AtomicU64::new(0),
            disks,
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.cfg
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
        let cell = Arc::new(TopicCell {
            name: name.to_string(),
            state: Mutex::new(TopicState {
                topic: Topic::new(name, self.cfg.clone(), seed),
                deleted: false,
            }),
            timer: Notify::new(),
            armed: AtomicI64::new(Nanos::MAX),
            io_wake: Notify::new(),
            io_done: Notify::new(),
        });
        map.insert(name.to_string(), Arc::clone(&cell));
        drop(map);
        tracing::info!("TOPIC({name}): created");
        tokio::spawn(run_timer(Arc::clone(&cell)));
        if let Some(disks) = &self.disks {
            tokio::spawn(run_io(Arc::clone(&cell), disks()));
        }
        cell
    }

    /// Drops `cell` from the map if it is still the registered one.
    pub fn remove_if_same(&self, cell: &Arc<TopicCell>) {
        let mut map = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if map.get(&cell.name).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            map.remove(&cell.name);
        }
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
        let next = {
            let mut st = cell.lock();
            if st.deleted {
                return;
            }
            let now = clock::now();
            st.topic.tick(now, &mut Deliver);
            st.topic.take_wake();
            let next = st.topic.next_deadline(now);
            cell.armed
                .store(next.unwrap_or(Nanos::MAX), Ordering::Release);
            next
        };
        match next {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(clock::instant_at(d)) => {}
                    _ = cell.timer.notified() => {}
                }
            }
            None => cell.timer.notified().await,
        }
    }
}

/// Performs a topic's disk work: takes every queue's job under the lock,
/// runs them off the network threads, feeds the outcomes back, repeats.
async fn run_io(cell: Arc<TopicCell>, disk: Box<dyn nsq_core::io::Disk + Send>) {
    let mut disk = Some(disk);
    loop {
        let (jobs, deleted, next) = {
            let mut st = cell.lock();
            let now = clock::now();
            let jobs = st.topic.poll_io(now);
            (jobs, st.deleted, st.topic.next_io_deadline())
        };
        if jobs.is_empty() {
            if deleted {
                cell.io_done.notify_waiters();
                return;
            }
            match next {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(clock::instant_at(d)) => {}
                        _ = cell.io_wake.notified() => {}
                    }
                }
                None => cell.io_wake.notified().await,
            }
            continue;
        }
        let Some(d) = disk.take() else { return };
        let (d, outcomes) = run_jobs(d, jobs).await;
        disk = Some(d);
        {
            let mut st = cell.lock();
            let now = clock::now();
            for (key, outcome) in outcomes {
                st.topic.complete_io(&key, outcome, now, &mut Deliver);
            }
            cell.after_op(&mut st);
        }
        cell.io_done.notify_waiters();
    }
}
