use super::*;
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
    while step(q, disk, now) {}
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
    assert!(q.error().is_some());
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

// Found by fuzzing (fuzz/ targets diskqueue_files and diskqueue_crash).

/// A Go-written segment of `n` records (no checksum side file).
fn go_segment(n: u64) -> Vec<u8> {
    let mut seg = bytes::BytesMut::new();
    for i in 0..n {
        record::put(&mut seg, &msg(i, &format!("go{i}")).encode());
    }
    seg.to_vec()
}

#[test]
fn a_read_position_past_the_recovered_end_is_pulled_back() {
    // Bit rot in the first record's length: recovery cuts the segment back
    // to byte 0, behind the read position in the metadata. The read position
    // must follow, or new messages are written behind the reader and lost.
    let mut disk = MemDisk::new(1);
    let mut seg = go_segment(2);
    seg[0] = 0xff;
    disk.put_file("t.diskqueue.000000.dat", &seg);
    let meta = format!("0\n0,{0}\n0,{0}\n", seg.len());
    disk.put_file("t.diskqueue.meta.dat", meta.as_bytes());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(q.depth(), 0);
    q.put(&msg(7, "new")).unwrap();
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(pop_all(&mut q, &mut disk), vec!["new"]);
}

#[test]
fn a_depth_too_high_in_the_metadata_settles_at_the_tail() {
    // go-diskqueue resets a depth that is not 0 once the reader reaches the writer.
    let mut disk = MemDisk::new(1);
    let seg = go_segment(2);
    disk.put_file("t.diskqueue.000000.dat", &seg);
    let meta = format!("5\n0,0\n0,{}\n", seg.len());
    disk.put_file("t.diskqueue.meta.dat", meta.as_bytes());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(pop_all(&mut q, &mut disk), vec!["go0", "go1"]);
    assert_eq!(q.depth(), 0);
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let meta = Meta::parse(disk.contents("t.diskqueue.meta.dat").unwrap()).unwrap();
    assert_eq!(meta.depth, 0);
}

#[test]
fn a_depth_too_low_in_the_metadata_neither_underflows_nor_sticks() {
    let mut disk = MemDisk::new(1);
    let seg = go_segment(3);
    disk.put_file("t.diskqueue.000000.dat", &seg);
    let meta = format!("0\n0,0\n0,{}\n", seg.len());
    disk.put_file("t.diskqueue.meta.dat", meta.as_bytes());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    drive(&mut q, &mut disk, T0);
    let first = q.pop().unwrap();
    assert_eq!(&first.body[..], b"go0");
    let _ = q.depth(); // used to underflow
    q.ack(first.origin);
    assert_eq!(pop_all(&mut q, &mut disk), vec!["go1", "go2"]);
    assert_eq!(q.depth(), 0);
    q.put(&msg(9, "next")).unwrap();
    assert_eq!(q.depth(), 1);
    assert_eq!(pop_all(&mut q, &mut disk), vec!["next"]);
}

/// Like `pop_all`, but fails instead of hanging when the queue asks for I/O forever.
fn pop_all_bounded(q: &mut DiskQueue, disk: &mut MemDisk) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..1000 {
        while let Some(m) = q.pop() {
            q.ack(m.origin);
            v.push(String::from_utf8_lossy(&m.body).into_owned());
        }
        if !step(q, disk, T0) {
            return v;
        }
    }
    panic!("the queue never stops asking for I/O; read so far: {v:?}");
}

#[test]
fn a_missing_segment_is_skipped() {
    // As go-diskqueue does when a segment cannot be opened.
    let mut disk = MemDisk::new(1);
    disk.put_file("t.diskqueue.000000.dat", &go_segment(2));
    let last = go_segment(1);
    disk.put_file("t.diskqueue.000002.dat", &last);
    let meta = format!("4\n0,0\n2,{}\n", last.len());
    disk.put_file("t.diskqueue.meta.dat", meta.as_bytes());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(
        pop_all_bounded(&mut q, &mut disk),
        vec!["go0", "go1", "go0"]
    );
    assert_eq!(q.depth(), 0);
    q.put(&msg(7, "new")).unwrap();
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(pop_all_bounded(&mut q, &mut disk), vec!["new"]);
}

#[test]
fn a_finished_segment_ending_in_half_a_record_is_left_behind() {
    // The reader used to ask for the half record again and again.
    let mut disk = MemDisk::new(1);
    let mut first = go_segment(2);
    first.extend_from_slice(&[0, 0, 0, 40, 1, 2, 3]);
    disk.put_file("t.diskqueue.000000.dat", &first);
    let last = go_segment(1);
    disk.put_file("t.diskqueue.000001.dat", &last);
    let meta = format!("3\n0,0\n1,{}\n", last.len());
    disk.put_file("t.diskqueue.meta.dat", meta.as_bytes());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(
        pop_all_bounded(&mut q, &mut disk),
        vec!["go0", "go1", "go0"]
    );
    assert_eq!(q.depth(), 0);
}

#[test]
fn a_record_larger_than_one_read_chunk_is_read_from_disk() {
    // Found while writing the fuzz targets: a message of --max-msg-size
    // (1 MiB) makes a record longer than the 1 MiB read chunk, and the
    // reader asked for the same incomplete chunk forever.
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 8 << 20, 1));
    let big = "x".repeat(1024 * 1024);
    q.put(&msg(1, &big)).unwrap();
    q.put(&msg(2, "small")).unwrap();
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let mut q = open(cfg("t", 8 << 20, 1), &mut disk).unwrap();
    let got = pop_all_bounded(&mut q, &mut disk);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), big.len());
    assert_eq!(got[1], "small");
}

#[test]
fn absurd_segment_numbers_neither_hang_nor_overflow() {
    // Found by fuzzing: metadata naming segment 10^12 made open() visit
    // every number in between, and a file numbered u64::MAX overflowed.
    let mut disk = MemDisk::new(1);
    disk.put_file("t.diskqueue.000000.dat", &go_segment(3));
    disk.put_file("t.diskqueue.meta.dat", b"3\n0,0\n1000000000000,0\n");
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(
        pop_all_bounded(&mut q, &mut disk),
        vec!["go0", "go1", "go2"]
    );
    assert_eq!(q.depth(), 0);

    let mut disk = MemDisk::new(1);
    disk.put_file("t.diskqueue.18446744073709551615.dat", &go_segment(1));
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    q.put(&msg(1, "fresh")).unwrap();
    assert_eq!(pop_all_bounded(&mut q, &mut disk), vec!["fresh"]);
    assert!(Meta::parse(b"0\n0,0\n18446744073709551615,0\n").is_err());
}

#[test]
fn a_stale_checksum_file_does_not_condemn_a_new_segment() {
    // Found by fuzzing: a checksum file left behind (a crash between removing
    // a segment and its checksums) was appended to when the segment number
    // came round again, so every new record failed its checksum at the
    // next start and was dropped.
    let mut disk = MemDisk::new(1);
    disk.put_file("t.diskqueue.000000.crc", &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    q.put(&msg(1, "kept")).unwrap();
    q.request_sync();
    drive(&mut q, &mut disk, T0);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    assert_eq!(pop_all_bounded(&mut q, &mut disk), vec!["kept"]);
}

#[test]
fn a_depth_too_low_does_not_let_a_crash_lose_unread_records() {
    // Found by fuzzing (diskqueue_crash, with a second crash): with the
    // depth counting fewer records than the files hold, the reader's
    // sequence numbers ran ahead of the writer's, and a sync took the
    // reader for being past the written end: the metadata claimed every
    // record read, and a crash then lost the unread ones.
    let mut disk = MemDisk::new(1);
    let seg = go_segment(3);
    disk.put_file("t.diskqueue.000000.dat", &seg);
    let meta = format!("0\n0,0\n0,{}\n", seg.len());
    disk.put_file("t.diskqueue.meta.dat", meta.as_bytes());
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    drive(&mut q, &mut disk, T0);
    let first = q.pop().unwrap();
    q.ack(first.origin);
    q.request_sync();
    drive(&mut q, &mut disk, T0 + 3 * SECOND);
    drop(q);
    disk.power_fail(false);
    let mut q = open(cfg("t", 1 << 20, 1), &mut disk).unwrap();
    let rest = pop_all_bounded(&mut q, &mut disk);
    assert!(
        rest.ends_with(&["go1".to_string(), "go2".to_string()]),
        "{rest:?}"
    );
}

#[test]
fn only_plain_appends_are_append_only_jobs() {
    // The runtime runs append-only jobs on the I/O task itself: a sync, the
    // metadata or a read must never be among them.
    let mut disk = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, 2));
    q.put(&msg(1, "hello")).unwrap();
    q.put(&msg(2, "world")).unwrap();
    let job = q.poll_write(T0).expect("appends to write");
    assert!(job.is_append_only());
    assert!(job.append_bytes() > 0);
    let out = execute(&job, &mut disk);
    q.complete_write(out, T0);
    let sync = q.poll_sync(T0).expect("two records reach --sync-every");
    assert!(!sync.is_append_only());
    let out = execute(&sync, &mut disk);
    q.complete_sync(out, T0);
    // Evict the in-memory tail so the reader has to read the segment back.
    let mut reopened = crate::diskqueue::open(cfg("t", 1 << 20, 2), &mut disk).unwrap();
    let read = reopened.poll_write(T0).expect("a read of the segment");
    assert!(read.read.is_some());
    assert!(!read.is_append_only());
}

#[test]
fn writes_run_ahead_of_a_running_fsync_by_a_bounded_number_of_windows() {
    let mut disk = MemDisk::new(1);
    let every = 3;
    let mut q = DiskQueue::new_empty(cfg("t", 1 << 20, every));
    let mut n = 0;
    let mut put = |q: &mut DiskQueue, k: u64| {
        for _ in 0..k {
            n += 1;
            q.put(&msg(n, "x")).unwrap();
        }
    };
    put(&mut q, every);
    let job = q.poll_write(T0).expect("a write");
    let out = execute(&job, &mut disk);
    q.complete_write(out, T0);
    // One window is unsynced: a sync starts, and is left running.
    let sync = q.poll_sync(T0).expect("a sync is due");
    // Writes go on beside it up to the bound...
    let bound = queue::SYNC_LAG_WINDOWS * every;
    while q.written_seq() < bound {
        put(&mut q, 1);
        let job = q.poll_write(T0).expect("writes run beside the fsync");
        let out = execute(&job, &mut disk);
        q.complete_write(out, T0);
    }
    // ...and stop there until the fsync finishes.
    put(&mut q, 1);
    assert!(q.poll_write(T0).is_none(), "no write past the bound");
    let out = execute(&sync, &mut disk);
    q.complete_sync(out, T0);
    assert_eq!(q.synced_seq(), every);
    assert!(
        q.poll_write(T0).is_some(),
        "the finished fsync lets writes go on"
    );
}
