//! One batch of disk work a queue asks for, and its outcome. The runtime
//! decides where it runs (a blocking thread, the simulator); what it does
//! against a [`Disk`] is decided here.

use super::queue::DiskQueue;
use crate::io::{Disk, Nanos};
use bytes::Bytes;
use std::io;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub name: String,
    pub offset: u64,
    pub max: usize,
}

/// Work for one queue, done in this order: truncations, appends, syncs,
/// atomic writes (metadata, tombstones), removals, then the directory
/// sync; the read is independent.
#[derive(Debug, Clone, Default)]
pub struct IoJob {
    /// Cuts files back to a known length (after a failed write).
    pub truncates: Vec<(String, u64)>,
    pub appends: Vec<(String, Bytes)>,
    pub syncs: Vec<String>,
    /// Written atomically once every sync succeeded (metadata first).
    pub atomic_writes: Vec<(String, Vec<u8>)>,
    /// Removed once the metadata is written.
    pub removes: Vec<String>,
    /// Queues whose every file (but the tombstone) is removed, found by
    /// listing the directory (a deleted queue's files, whatever they are).
    pub remove_queues: Vec<String>,
    /// Sync the directory last, so the removals are durable.
    pub sync_dir: bool,
    pub read: Option<ReadRequest>,
}

impl IoJob {
    pub fn is_empty(&self) -> bool {
        self.truncates.is_empty() && self.appends.is_empty() && self.is_append_only()
    }

    /// Whether the job only appends (and cuts files back): no fsync, no
    /// metadata, no removal, no read.
    pub fn is_append_only(&self) -> bool {
        self.syncs.is_empty()
            && self.atomic_writes.is_empty()
            && self.removes.is_empty()
            && self.remove_queues.is_empty()
            && !self.sync_dir
            && self.read.is_none()
    }

    /// Bytes this job appends.
    pub fn append_bytes(&self) -> usize {
        self.appends.iter().map(|(_, b)| b.len()).sum()
    }
}

#[derive(Debug)]
pub struct IoOutcome {
    /// Appends, syncs and metadata: the first error, if any.
    pub write: io::Result<()>,
    /// Whether the syncs and the metadata were done.
    pub synced: bool,
    pub removed: bool,
    pub read: Option<io::Result<Vec<u8>>>,
}

/// Runs the next job of each lane (writes, syncs) at once against `disk`
/// and feeds the outcomes back, as the runtime does side by side; false
/// if neither lane had work. Tests and fuzz targets drive queues with it.
pub fn step(q: &mut DiskQueue, disk: &mut dyn Disk, now: Nanos) -> bool {
    let mut progressed = false;
    if let Some(job) = q.poll_write(now) {
        let out = execute(&job, disk);
        q.complete_write(out, now);
        progressed = true;
    }
    if let Some(job) = q.poll_sync(now) {
        let out = execute(&job, disk);
        q.complete_sync(out, now);
        progressed = true;
    }
    progressed
}

/// The job's removals, then the directory sync.
fn remove_all(job: &IoJob, disk: &mut dyn Disk) -> io::Result<()> {
    for name in &job.removes {
        disk.remove(name)?;
    }
    if !job.remove_queues.is_empty() {
        for name in disk.list()? {
            if job
                .remove_queues
                .iter()
                .any(|q| super::files::belongs_to(q, &name))
            {
                disk.remove(&name)?;
            }
        }
    }
    if job.sync_dir {
        disk.sync_dir()?;
    }
    Ok(())
}

/// Performs `job` against `disk`.
pub fn execute(job: &IoJob, disk: &mut dyn Disk) -> IoOutcome {
    let mut write = job
        .truncates
        .iter()
        .try_for_each(|(name, len)| match disk.size(name) {
            Ok(Some(size)) if size > *len => disk.truncate(name, *len),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        });
    if write.is_ok() {
        write = job
            .appends
            .iter()
            .try_for_each(|(name, data)| disk.append(name, data));
    }
    let mut synced = false;
    if write.is_ok() && (!job.syncs.is_empty() || !job.atomic_writes.is_empty()) {
        write = job.syncs.iter().try_for_each(|name| disk.sync(name));
        if write.is_ok() {
            write = job
                .atomic_writes
                .iter()
                .try_for_each(|(name, data)| disk.write_atomic(name, data));
        }
        synced = write.is_ok();
    }
    let mut removed = false;
    // Removals follow a successful sync (the metadata no longer needs the
    // files), or stand alone.
    let nothing_to_sync = job.syncs.is_empty() && job.atomic_writes.is_empty();
    let removes = !job.removes.is_empty() || !job.remove_queues.is_empty() || job.sync_dir;
    if write.is_ok() && (synced || nothing_to_sync) && removes {
        removed = remove_all(job, disk).is_ok();
    }
    let read = job.read.as_ref().map(|r| {
        let mut buf = Vec::with_capacity(r.max.min(1 << 22));
        disk.read_at(&r.name, r.offset, r.max, &mut buf)
            .map(|_| buf)
    });
    IoOutcome {
        write,
        synced,
        removed,
        read,
    }
}
