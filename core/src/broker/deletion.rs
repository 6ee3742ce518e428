//! Deleting a channel's or a whole topic's diskqueues so that they stay
//! deleted, whatever crashes meanwhile, and so that a namesake created
//! afterwards gets none of their files:
//!
//! 1. the queues are closed (their messages are gone from memory and from
//!    `nsqd.dat` from now on) and the jobs they have running finish;
//! 2. one job writes a tombstone per queue (the topic's first), removes
//!    every other file of the queues and syncs the directory: from here on
//!    the deletion is committed, since recovery honours tombstones;
//! 3. once `nsqd.dat` has been rewritten by a write that began after step 1
//!    (the runtime says so with the write's generation), a second job removes
//!    the tombstones (the topic's last). Then a namesake may use the names.

use crate::diskqueue::{files, DiskQueue, IoJob, IoOutcome};
use crate::io::{Nanos, SECOND};

/// How long a failed step waits before it is tried again.
const RETRY_AFTER: Nanos = SECOND;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for the queues' running jobs.
    Draining,
    /// Tombstones and removal (running: a job is out).
    Removing {
        running: bool,
    },
    /// Waiting for an `nsqd.dat` without these queues.
    Catalog,
    Untombstoning {
        running: bool,
    },
    Done,
}

#[derive(Debug)]
pub(crate) struct Deletion {
    /// The key of this deletion's own jobs.
    pub id: u64,
    /// The channel deleted, or `None` for the whole topic.
    pub channel: Option<String>,
    /// The queues (key, queue); for a topic, its own queue comes first.
    queues: Vec<(u64, Box<DiskQueue>)>,
    step: Step,
    retry_at: Nanos,
    /// The `nsqd.dat` write generation that no longer lists the queues
    /// (stamped by the runtime right after the deletion began).
    needs_generation: Option<u64>,
    pub error: Option<String>,
}

impl Deletion {
    pub fn new(id: u64, channel: Option<String>, queues: Vec<(u64, Box<DiskQueue>)>) -> Self {
        let mut d = Deletion {
            id,
            channel,
            queues,
            step: Step::Draining,
            retry_at: 0,
            needs_generation: None,
            error: None,
        };
        for (_, q) in &mut d.queues {
            q.close();
        }
        d
    }

    fn names(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.queues.iter().map(|(_, q)| q.name())
    }

    /// The queue with key `key`, if it is one of this deletion's.
    pub fn queue_mut(&mut self, key: u64) -> Option<&mut DiskQueue> {
        self.queues
            .iter_mut()
            .find(|(k, _)| *k == key)
            .map(|(_, q)| q.as_mut())
    }

    /// Files removed and tombstones durable: the deletion is committed.
    pub fn is_committed(&self) -> bool {
        matches!(
            self.step,
            Step::Catalog | Step::Untombstoning { .. } | Step::Done
        )
    }

    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Whether it waits for an `nsqd.dat` write.
    pub fn awaits_catalog(&self) -> bool {
        self.step == Step::Catalog
    }

    /// Records the first `nsqd.dat` write generation that no longer lists
    /// these queues (the first write to begin after the deletion began).
    pub fn stamp(&mut self, generation: u64) {
        self.needs_generation.get_or_insert(generation);
    }

    /// `nsqd.dat` was written by the write of `generation`.
    pub fn catalog_persisted(&mut self, generation: u64) {
        if self.step == Step::Catalog && self.needs_generation.is_some_and(|g| g <= generation) {
            self.step = Step::Untombstoning { running: false };
        }
    }

    pub fn wants_io(&self, now: Nanos) -> bool {
        match self.step {
            Step::Draining => self.queues.iter().all(|(_, q)| !q.io_busy()),
            Step::Removing { running } | Step::Untombstoning { running } => {
                !running && now >= self.retry_at
            }
            Step::Catalog | Step::Done => false,
        }
    }

    /// When a failed step is tried again.
    pub fn next_deadline(&self) -> Option<Nanos> {
        match self.step {
            Step::Removing { running: false } | Step::Untombstoning { running: false }
                if self.error.is_some() =>
            {
                Some(self.retry_at)
            }
            _ => None,
        }
    }

    /// The next job, if one is due.
    pub fn poll(&mut self, now: Nanos) -> Option<IoJob> {
        if !self.wants_io(now) {
            return None;
        }
        let mut job = IoJob {
            sync_dir: true,
            ..IoJob::default()
        };
        match self.step {
            Step::Draining | Step::Removing { .. } => {
                job.atomic_writes = self
                    .names()
                    .map(|n| (files::tombstone(n), Vec::new()))
                    .collect();
                job.remove_queues = self.names().map(str::to_string).collect();
                self.step = Step::Removing { running: true };
            }
            Step::Untombstoning { .. } => {
                job.removes = self.names().rev().map(files::tombstone).collect();
                self.step = Step::Untombstoning { running: true };
            }
            Step::Catalog | Step::Done => return None,
        }
        Some(job)
    }

    /// Takes in the outcome of this deletion's own job.
    pub fn complete(&mut self, outcome: IoOutcome, now: Nanos) {
        let failed = match &outcome.write {
            Err(e) => Some(e.to_string()),
            Ok(()) if !outcome.removed => Some("removing files failed".to_string()),
            Ok(()) => None,
        };
        if let Some(e) = failed {
            self.error = Some(format!(
                "deleting {}: {e}",
                self.names().collect::<Vec<_>>().join(", ")
            ));
            self.retry_at = now + RETRY_AFTER;
            self.step = match self.step {
                Step::Removing { .. } => Step::Removing { running: false },
                Step::Untombstoning { .. } => Step::Untombstoning { running: false },
                s => s,
            };
            return;
        }
        self.error = None;
        self.step = match self.step {
            Step::Removing { .. } => Step::Catalog,
            Step::Untombstoning { .. } => Step::Done,
            s => s,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diskqueue::{execute, DqConfig};
    use crate::io::{Disk, MemDisk};

    fn queue(name: &str) -> Box<DiskQueue> {
        let cfg = DqConfig {
            name: name.into(),
            max_bytes_per_file: 1 << 20,
            min_msg_size: 26,
            max_msg_size: 1 << 20,
            sync_every: 1,
            sync_timeout: SECOND,
            max_disk_bytes: 0,
        };
        Box::new(DiskQueue::new_empty(cfg))
    }

    #[test]
    fn tombstones_first_files_next_tombstones_last_after_the_catalog() {
        let mut disk = MemDisk::new(1);
        for f in [
            "t.diskqueue.000000.dat",
            "t.diskqueue.meta.dat",
            "t:c.diskqueue.000003.dat",
            "t:c.diskqueue.000003.crc",
            "t.diskqueue.x.diskqueue.meta.dat",
        ] {
            disk.put_file(f, b"x");
        }
        let mut d = Deletion::new(9, None, vec![(1, queue("t")), (2, queue("t:c"))]);
        let job = d.poll(0).expect("nothing runs: the removal starts");
        assert_eq!(
            job.atomic_writes
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["t.diskqueue.deleted", "t:c.diskqueue.deleted"]
        );
        let out = execute(&job, &mut disk);
        d.complete(out, 0);
        assert!(d.is_committed() && d.awaits_catalog());
        assert_eq!(
            disk.list().unwrap(),
            [
                "t.diskqueue.deleted",
                "t.diskqueue.x.diskqueue.meta.dat",
                "t:c.diskqueue.deleted"
            ]
        );
        // A write that began before the deletion does not count.
        d.stamp(5);
        d.catalog_persisted(4);
        assert!(d.poll(0).is_none());
        d.catalog_persisted(5);
        let job = d.poll(0).expect("tombstones go now");
        assert_eq!(
            job.removes,
            ["t:c.diskqueue.deleted", "t.diskqueue.deleted"]
        );
        let out = execute(&job, &mut disk);
        d.complete(out, 0);
        assert!(d.is_done());
        assert_eq!(disk.list().unwrap(), ["t.diskqueue.x.diskqueue.meta.dat"]);
    }

    #[test]
    fn a_failed_step_is_retried_later() {
        let mut disk = MemDisk::new(1);
        let mut d = Deletion::new(9, Some("c".into()), vec![(2, queue("t:c"))]);
        disk.faults.eio = true;
        let job = d.poll(0).unwrap();
        d.complete(execute(&job, &mut disk), 0);
        assert!(!d.is_committed() && d.error.is_some());
        assert!(d.poll(0).is_none(), "waits before trying again");
        assert_eq!(d.next_deadline(), Some(RETRY_AFTER));
        disk.faults.eio = false;
        let job = d.poll(RETRY_AFTER).unwrap();
        d.complete(execute(&job, &mut disk), RETRY_AFTER);
        assert!(d.is_committed() && d.error.is_none());
    }
}
