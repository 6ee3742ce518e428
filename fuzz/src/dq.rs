//! Driving a diskqueue the way the runtime does, for the diskqueue targets:
//! every I/O job it asks for runs at once against a `MemDisk`.

use nsq_core::diskqueue::{open, step, DiskQueue, DqConfig};
use nsq_core::io::{MemDisk, SECOND};
use nsq_core::wire::{Message, MessageId};

pub const NAME: &str = "t";
pub const T0: i64 = 1_700_000_000 * SECOND;
/// Largest body the targets' queues accept (records up to 26 + this).
pub const MAX_BODY: u32 = 1024;

pub fn cfg(max_bytes_per_file: u64, sync_every: u64) -> DqConfig {
    DqConfig {
        name: NAME.to_string(),
        max_bytes_per_file: max_bytes_per_file.max(1),
        min_msg_size: 26,
        max_msg_size: 26 + MAX_BODY,
        sync_every: sync_every.max(1),
        sync_timeout: 2 * SECOND,
        max_disk_bytes: 0,
    }
}

/// Runs the queue's jobs, both lanes (writes and syncs), until it asks for
/// none; true if it asked for any.
pub fn drive(q: &mut DiskQueue, disk: &mut MemDisk, now: i64) -> bool {
    let mut jobs = 0;
    loop {
        if !step(q, disk, now) {
            return jobs > 0;
        }
        jobs += 1;
        assert!(jobs < 10_000, "the queue asks for I/O forever");
    }
}

/// Pops and acknowledges everything the queue will give, running its I/O
/// after each message and whenever it has none (a second of fake time
/// each); panics if it never settles.
pub fn drain(q: &mut DiskQueue, disk: &mut MemDisk, now: &mut i64) -> Vec<Message> {
    take(q, disk, now, usize::MAX)
}

/// Like [`drain`], but stops after `limit` messages.
pub fn take(q: &mut DiskQueue, disk: &mut MemDisk, now: &mut i64, limit: usize) -> Vec<Message> {
    let mut out = Vec::new();
    let mut idle = 0;
    let mut rounds = 0;
    while idle < 3 && out.len() < limit {
        rounds += 1;
        assert!(rounds < 1_000_000, "the reader never settles");
        match q.pop() {
            Some(m) => {
                q.ack(m.origin);
                out.push(m);
                idle = 0;
                // Time passes and the queue's I/O runs between messages, as
                // in nsqd: syncs (and their metadata) happen mid-drain.
                *now += SECOND;
                drive(q, disk, *now);
            }
            None => {
                *now += SECOND;
                if drive(q, disk, *now) {
                    idle = 0;
                } else {
                    idle += 1;
                }
            }
        }
    }
    out
}

/// Opens the queue; a `MemDisk` without faults never fails.
pub fn reopen(cfg: &DqConfig, disk: &mut MemDisk) -> DiskQueue {
    open(cfg.clone(), disk).expect("a MemDisk without faults does not fail")
}

/// After a full drain the queue is usable: a new message written and synced
/// is exactly what a reopened queue holds, and nothing else.
pub fn check_usable_after(mut q: DiskQueue, disk: &mut MemDisk, mut now: i64) {
    assert_eq!(q.depth(), 0, "a drained queue is empty");
    let m = Message::new(
        MessageId::from_guid(42),
        now,
        b"after recovery".to_vec().into(),
    );
    q.request_sync();
    drive(&mut q, disk, now);
    if let Err(e) = q.put(&m) {
        panic!("a drained, healthy queue refuses a write: {e}");
    }
    q.request_sync();
    drive(&mut q, disk, now);
    let cfg = q.config().clone();
    drop(q);
    let mut again = reopen(&cfg, disk);
    let got = drain(&mut again, disk, &mut now);
    assert_eq!(got.len(), 1, "only the new message is left: {got:?}");
    assert_eq!((got[0].id, &got[0].body), (m.id, &m.body));
    assert_eq!(again.depth(), 0);
}
