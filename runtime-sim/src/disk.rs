//! A simulated disk per nsqd node: one [`MemDisk`] held outside the node, so
//! it survives the node's crash and restart, handed to nsqd as its
//! [`DiskFactory`]. A crash calls [`SimDisk::power_fail`]: whatever was not
//! synced is lost (the last write may be torn).

use nsq_core::io::mem_disk::Faults;
use nsq_core::io::{Disk, MemDisk, Nanos};
use nsq_runtime_tokio::nsqd::disk_io::DiskFactory;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// A node's disk; clones share it.
#[derive(Clone)]
pub struct SimDisk(Arc<Mutex<MemDisk>>);

impl SimDisk {
    /// An empty disk whose own randomness (latency draws, torn writes)
    /// comes from `seed`.
    pub fn new(seed: u64) -> Self {
        SimDisk(Arc::new(Mutex::new(MemDisk::new(seed))))
    }

    fn lock(&self) -> MutexGuard<'_, MemDisk> {
        // A panicking simulation ends the run; the disk is not reused after.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handles nsqd opens (one per topic I/O task and per queue), all
    /// on this disk.
    pub fn factory(&self) -> DiskFactory {
        let disk = self.clone();
        Arc::new(move || {
            Box::new(Handle {
                disk: disk.clone(),
                latency: 0,
            })
        })
    }

    /// A crash: only synced bytes survive; with `tear` the first unsynced
    /// write of each file survives in part.
    pub fn power_fail(&self, tear: bool) {
        self.lock().power_fail(tear);
    }

    /// Changes the faults (EIO, ENOSPC, lying fsync, latency).
    pub fn set_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.lock().faults);
    }

    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Operations performed so far.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Looks at the disk (file names, contents).
    pub fn with<R>(&self, f: impl FnOnce(&mut MemDisk) -> R) -> R {
        f(&mut self.lock())
    }
}

/// One handle on a [`SimDisk`]. The latency of its own operations is its
/// own (so the task that did the work is the one that waits for it).
struct Handle {
    disk: SimDisk,
    latency: Nanos,
}

impl Handle {
    fn op<R>(&mut self, f: impl FnOnce(&mut MemDisk) -> R) -> R {
        let mut d = self.disk.lock();
        let r = f(&mut d);
        self.latency += d.take_latency();
        r
    }
}

impl Disk for Handle {
    fn read_at(
        &mut self,
        name: &str,
        offset: u64,
        max: usize,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.op(|d| d.read_at(name, offset, max, buf))
    }

    fn read_all(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.op(|d| d.read_all(name))
    }

    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.op(|d| d.append(name, data))
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.op(|d| d.truncate(name, len))
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.op(|d| d.sync(name))
    }

    fn size(&mut self, name: &str) -> io::Result<Option<u64>> {
        self.op(|d| d.size(name))
    }

    fn write_atomic(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.op(|d| d.write_atomic(name, data))
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.op(|d| d.remove(name))
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        self.op(|d| d.list())
    }

    fn take_latency(&mut self) -> Nanos {
        std::mem::take(&mut self.latency)
    }
}
