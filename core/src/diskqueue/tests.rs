use super::*;
use crate::broker::backend::Backend;
use crate::io::{Disk, MemDisk, SECOND};
use crate::wire::{Message, MessageId};
use bytes::Bytes;

const T0: i64 = 1_700_000_000 * SECOND;

pub(crate) fn cfg(name: &str, max_bytes_per_file: u64, sync_every: u64) -> DqConfig {
    DqConfig {
        name: name.to_string(),
        max_bytes_per_file,
        min_msg_size: 26,
        max_msg_size: 26 + 1024 * 1024,
        sync_every,
        sync_timeout: 2 * SECOND,
        max_disk_bytes: 0,
    }
}

pub(crate) fn msg(i: u64, body: &str) -> Message {
    Message::new(MessageId::from_guid(i), T0, Bytes::from(body.to_string()))
}

/// Runs every job the queue asks for, both lanes, synchronously.
pub(crate) fn drive(q: &mut DiskQueue, disk: &mut MemDisk, now: i64) {
    loop {
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
        if !progressed {
            break;
        }
    }
}

pub(crate) fn pop_all(q: &mut DiskQueue, disk: &mut MemDisk) -> Vec<String> {
    let mut v = Vec::new();
    let mut idle = 0;
    while idle < 3 {
        match q.pop() {
            Some(m) => {
                q.ack(m.origin);
                v.push(String::from_utf8_lossy(&m.body).into_owned());
                idle = 0;
            }
            None => {
                drive(q, disk, T0);
                idle += 1;
            }
        }
    }
    v
}

#[test]
fn write_read_ack_and_metadata() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    for i in 0..5 {
        q.put(&msg(i, &format!("m{i}"))).unwrap();
    }
    assert_eq!(q.depth(), 5);
    drive(&mut q, &mut disk, T0);
    assert_eq!(q.synced_seq(), 5);
    let meta = Meta::parse(disk.contents("t.diskqueue.meta.dat").unwrap()).unwrap();
    assert_eq!(
        (meta.depth, meta.read, meta.write.file),
        (5, Pos::new(0, 0), 0)
    );
    let m = q.pop().unwrap();
    assert_eq!(&m.body[..], b"m0");
    assert_eq!(q.depth(), 4);
    // popped but not acked: the persisted read position stays at it
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let meta = Meta::parse(disk.contents("t.diskqueue.meta.dat").unwrap()).unwrap();
    assert_eq!((meta.depth, meta.read), (5, Pos::new(0, 0)));
    q.ack(m.origin);
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let meta = Meta::parse(disk.contents("t.diskqueue.meta.dat").unwrap()).unwrap();
    assert_eq!(meta.depth, 4);
    assert_eq!(meta.read, Pos::new(0, 4 + 26 + 2));
    assert_eq!(pop_all(&mut q, &mut disk), vec!["m1", "m2", "m3", "m4"]);
}

#[test]
fn rolls_segments_like_go_and_removes_read_ones() {
    let mut disk = MemDisk::new(1);
    // each record: 4 + 26 + 4 = 34 bytes; 100-byte files hold 2 (68 + 34 > 100)
    let mut q = DiskQueue::new_empty(cfg("t", 100, 1));
    for i in 0..5 {
        q.put(&msg(i, &format!("b{i:03}"))).unwrap();
    }
    drive(&mut q, &mut disk, T0);
    assert_eq!(disk.contents("t.diskqueue.000000.dat").unwrap().len(), 68);
    assert_eq!(disk.contents("t.diskqueue.000001.dat").unwrap().len(), 68);
    assert_eq!(disk.contents("t.diskqueue.000002.dat").unwrap().len(), 34);
    assert_eq!(disk.contents("t.diskqueue.000000.crc").unwrap().len(), 8);
    assert_eq!(
        pop_all(&mut q, &mut disk),
        vec!["b000", "b001", "b002", "b003", "b004"]
    );
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    assert!(
        disk.contents("t.diskqueue.000000.dat").is_none(),
        "read segments are removed"
    );
    assert!(disk.contents("t.diskqueue.000001.dat").is_none());
    assert!(
        disk.contents("t.diskqueue.000002.dat").is_some(),
        "the last one stays, as in Go"
    );
    let meta = Meta::parse(disk.contents("t.diskqueue.meta.dat").unwrap()).unwrap();
    assert_eq!(
        (meta.depth, meta.read, meta.write),
        (0, Pos::new(2, 34), Pos::new(2, 34))
    );
}

#[test]
fn reads_from_disk_when_the_tail_was_evicted_and_after_reopen() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 16, 2500));
    let n = 3000;
    for i in 0..n {
        q.put(&msg(i, &"x".repeat(10_000))).unwrap();
    }
    drive(&mut q, &mut disk, T0);
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    // 30 MB written: more than the tail cache, so the reader uses the disk
    let mut q2 = open(cfg("t", 1 << 16, 2500), &mut disk).unwrap();
    assert_eq!(q2.depth(), n);
    assert!(q2.recovery.is_clean(), "{:?}", q2.recovery);
    assert_eq!(pop_all(&mut q2, &mut disk).len() as u64, n);
    assert_eq!(pop_all(&mut q, &mut disk).len() as u64, n);
}

#[test]
fn requeued_records_are_acked_once_their_copy_is_durable() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    q.put(&msg(1, "a")).unwrap();
    q.put(&msg(2, "b")).unwrap();
    drive(&mut q, &mut disk, T0);
    let a = q.pop().unwrap();
    q.put(&a).unwrap(); // REQ: back into the same queue
    assert_eq!(
        q.outstanding(),
        1,
        "the old copy stays outstanding until the new one is synced"
    );
    drive(&mut q, &mut disk, T0);
    assert_eq!(q.outstanding(), 0);
    assert_eq!(pop_all(&mut q, &mut disk), vec!["b", "a"]);
}

#[test]
fn empty_drops_everything_and_starts_a_new_segment() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    q.put(&msg(1, "a")).unwrap();
    drive(&mut q, &mut disk, T0);
    q.empty();
    assert_eq!(q.depth(), 0);
    drive(&mut q, &mut disk, T0);
    assert!(disk.contents("t.diskqueue.000000.dat").is_none());
    q.put(&msg(2, "b")).unwrap();
    drive(&mut q, &mut disk, T0);
    assert!(disk.contents("t.diskqueue.000001.dat").is_some());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(pop_all(&mut q, &mut disk), vec!["b"]);
}

#[test]
fn max_disk_bytes_refuses_before_filling() {
    let mut c = cfg("t", 1 << 20, 1);
    c.max_disk_bytes = 70;
    let mut q = DiskQueue::new_empty(c);
    q.put(&msg(1, "a")).unwrap();
    q.put(&msg(2, "b")).unwrap();
    let err = q.put(&msg(3, "c")).unwrap_err();
    assert!(err.0.contains("--max-disk-bytes=70"), "{err}");
    assert_eq!(q.depth(), 2);
}

#[test]
fn disk_errors_are_reported_retried_and_healed() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    disk.faults.eio = true;
    q.put(&msg(1, "a")).unwrap();
    drive(&mut q, &mut disk, T0);
    assert!(q.error().is_some());
    assert!(q.health().is_some());
    assert!(
        q.put(&msg(2, "b")).is_err(),
        "new messages are refused while the disk fails"
    );
    assert_eq!(q.synced_seq(), 0);
    disk.faults.eio = false;
    drive(&mut q, &mut disk, T0); // too early to retry
    assert!(q.error().is_some());
    drive(&mut q, &mut disk, T0 + 2 * SECOND);
    assert!(q.error().is_none(), "healed");
    assert_eq!(q.synced_seq(), 1);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(
        pop_all(&mut q, &mut disk),
        vec!["a"],
        "written exactly once after the retry"
    );
}

#[test]
fn enospc_is_an_error_not_a_crash() {
    let mut disk = MemDisk::new(1);
    disk.faults.capacity = 200;
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    for i in 0..10 {
        let _ = q.put(&msg(i, "0123456789"));
        drive(&mut q, &mut disk, T0 + i as i64 * 2 * SECOND);
    }
    assert!(q.error().unwrap().contains("space"), "{:?}", q.error());
}

#[test]
fn recovery_cuts_a_torn_tail_and_keeps_the_rest() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    for i in 0..3 {
        q.put(&msg(i, "keep")).unwrap();
    }
    drive(&mut q, &mut disk, T0);
    // an unsynced write torn by a crash: half a record of garbage
    let mut torn = Vec::new();
    torn.extend_from_slice(&40u32.to_be_bytes());
    torn.extend_from_slice(&[7u8; 11]);
    disk.append("t.diskqueue.000000.dat", &torn).unwrap();
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(q.recovery.dropped_bytes, 15);
    assert_eq!(q.depth(), 3);
    assert_eq!(pop_all(&mut q, &mut disk), vec!["keep"; 3]);
}

#[test]
fn recovery_uses_checksums_on_records_after_the_last_sync() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 100));
    for i in 0..4 {
        q.put(&msg(i, "abcdef")).unwrap();
    }
    drive(&mut q, &mut disk, T0); // written, not synced (sync-every 100): no metadata yet
                                  // flip a byte inside the third record's body: its length is still sane
    disk.corrupt("t.diskqueue.000000.dat", 2 * 36 + 4 + 26 + 2);
    let mut q = open(cfg("t", 1 << 20, 100), &mut disk).unwrap();
    assert_eq!(q.depth(), 2, "{:?}", q.recovery);
    assert!(
        q.recovery.notes.iter().any(|n| n.contains("BadChecksum")),
        "{:?}",
        q.recovery
    );
    assert_eq!(pop_all(&mut q, &mut disk), vec!["abcdef"; 2]);
}

#[test]
fn deferrals_are_restored_from_the_side_file() {
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 1));
    let m = msg(9, "later");
    q.append_message(&m);
    q.write_deferrals(&[(m.id, T0 + 60 * SECOND)]);
    drive(&mut q, &mut disk, T0);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    drive(&mut q, &mut disk, T0);
    let got = q.pop().unwrap();
    assert_eq!(q.deferral(&got.id), Some(T0 + 60 * SECOND));
    assert_eq!(q.deferral(&got.id), None, "taken once");
}
