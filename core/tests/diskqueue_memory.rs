//! What a diskqueue's memory holds, measured with a counting allocator:
//! records written one write job at a time (a publisher that waits for each
//! PUB makes exactly that) cost a few hundred bytes each at most, not an
//! allocation each.

use bytes::Bytes;
use nsq_core::diskqueue::{step, DiskQueue, DqConfig};
use nsq_core::io::{MemDisk, SECOND};
use nsq_core::wire::{Message, MessageId};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn records_written_one_job_each_cost_about_their_size() {
    let cfg = DqConfig {
        name: "t".into(),
        max_bytes_per_file: 100 << 20,
        min_msg_size: 26,
        max_msg_size: 1 << 20,
        sync_every: 2500,
        sync_timeout: 2 * SECOND,
        max_disk_bytes: 0,
    };
    let mut q = DiskQueue::new_empty(cfg);
    let mut disk = MemDisk::new(1);
    let body = Bytes::from_static(b"x");
    // Warm up (the disk's own buffers grow too; only the queue is measured).
    let put = |q: &mut DiskQueue, disk: &mut MemDisk, i: u64| {
        q.put(&Message::new(MessageId::from_guid(i), 0, body.clone()))
            .unwrap();
        while step(q, disk, 0) {}
    };
    for i in 0..100 {
        put(&mut q, &mut disk, i);
    }
    let disk_before = disk
        .contents("t.diskqueue.000000.dat")
        .map_or(0, <[u8]>::len);
    let before = LIVE.load(Ordering::Relaxed);
    let n = 10_000;
    for i in 100..100 + n {
        put(&mut q, &mut disk, i);
    }
    let disk_after = disk
        .contents("t.diskqueue.000000.dat")
        .map_or(0, <[u8]>::len);
    // What the in-memory disk itself grew by (its segment and checksums).
    let disk_growth = (disk_after - disk_before) as isize * 2;
    let grown = LIVE.load(Ordering::Relaxed) - before - disk_growth;
    let per_record = grown / n as isize;
    // A record here is 31 bytes (+4 of checksum), kept in the tail for the
    // reader, each in a chunk of its own (about 100 bytes of bookkeeping).
    // Before, each pinned a 64 KiB buffer.
    assert!(
        per_record < 512,
        "{per_record} bytes of memory per 31-byte record"
    );
}
