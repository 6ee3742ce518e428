//! On-disk compatibility with go-diskqueue / Go nsqd v1.3.0, both ways:
//! the data dir Go nsqd wrote (testdata/go-datadir-v1.3.0) loads with
//! exactly the records its MANIFEST lists, and what we write is read back by
//! a reader that follows go-diskqueue's rules (written here from its spec).

use bytes::Bytes;
use nsq_core::diskqueue::{files, open, step, DiskQueue, DqConfig, Meta};
use nsq_core::io::{Disk, MemDisk};
use nsq_core::wire::{Message, MessageId};
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/go-datadir-v1.3.0")
}

fn go_disk() -> MemDisk {
    let mut d = MemDisk::new(1);
    for e in std::fs::read_dir(fixture_dir()).expect("fixture dir") {
        let e = e.expect("entry");
        let name = e.file_name().into_string().expect("utf-8 name");
        if name != "MANIFEST.md" {
            d.put_file(&name, &std::fs::read(e.path()).expect("read"));
        }
    }
    d
}

fn cfg(name: &str, max_bytes_per_file: u64) -> DqConfig {
    DqConfig {
        name: name.into(),
        max_bytes_per_file,
        min_msg_size: 26,
        max_msg_size: 26 + 1024 * 1024,
        sync_every: 2500,
        sync_timeout: 2_000_000_000,
        max_disk_bytes: 0,
    }
}

fn drive(q: &mut DiskQueue, d: &mut MemDisk) {
    while step(q, d, 0) {}
}

/// Everything a queue hands out, acknowledging as it goes.
fn drain(q: &mut DiskQueue, d: &mut MemDisk) -> Vec<Message> {
    let mut v = Vec::new();
    let mut idle = 0;
    while idle < 3 {
        match q.pop() {
            Some(m) => {
                q.ack(m.origin);
                v.push(m);
                idle = 0;
            }
            None => {
                drive(q, d);
                idle += 1;
            }
        }
    }
    v
}

fn beta_body(i: usize) -> Vec<u8> {
    (0..256 + 13 * i)
        .map(|k| ((i * 37 + k) % 256) as u8)
        .collect()
}

fn bodies(v: &[Message]) -> Vec<Vec<u8>> {
    v.iter().map(|m| m.body.to_vec()).collect()
}

#[test]
fn loads_the_data_dir_go_nsqd_wrote() {
    let mut d = go_disk();
    let alpha = |r: std::ops::Range<usize>| {
        r.map(|i| format!("alpha-{i:03}").into_bytes())
            .collect::<Vec<_>>()
    };
    let deferred = vec![b"alpha-deferred-0".to_vec(), b"alpha-deferred-1".to_vec()];

    let mut q = open(cfg("alpha:c1", 2048), &mut d).expect("open");
    assert!(q.recovery.is_clean(), "{:?}", q.recovery);
    assert_eq!(q.depth(), 92);
    let got = drain(&mut q, &mut d);
    assert_eq!(bodies(&got), [alpha(10..100), deferred.clone()].concat());
    assert!(got.iter().all(|m| m.attempts == 0));
    assert_eq!(got[0].id, MessageId(*b"18a37b0aa3007002"));
    assert_eq!(got[0].timestamp, 1795290912931920395);
    assert!(
        got.iter().all(|m| m.id.to_string().as_bytes()[12] == b'7'),
        "node id 7"
    );

    let mut q = open(cfg("alpha:c2", 2048), &mut d).expect("open");
    assert_eq!(q.depth(), 102);
    assert_eq!(
        bodies(&drain(&mut q, &mut d)),
        [alpha(0..100), deferred].concat()
    );

    let mut q = open(cfg("beta:only", 2048), &mut d).expect("open");
    assert_eq!(q.depth(), 20);
    let got = drain(&mut q, &mut d);
    let want: Vec<Vec<u8>> = (3..20).chain(0..3).map(beta_body).collect();
    assert_eq!(bodies(&got), want);
    let attempts: Vec<u16> = got.iter().map(|m| m.attempts).collect();
    assert_eq!(
        attempts,
        [vec![0; 17], vec![1; 3]].concat(),
        "the flushed in-flight ones kept their attempts"
    );

    let mut q = open(cfg("gamma", 2048), &mut d).expect("open");
    assert_eq!(q.depth(), 5);
    let want: Vec<Vec<u8>> = (0..5).map(|i| format!("gamma-{i}").into_bytes()).collect();
    assert_eq!(bodies(&drain(&mut q, &mut d)), want);

    for empty in ["alpha", "beta"] {
        let mut q = open(cfg(empty, 2048), &mut d).expect("open");
        assert_eq!(q.depth(), 0, "{empty}");
        assert!(drain(&mut q, &mut d).is_empty());
    }
}

/// go-diskqueue's reading rules (ioLoop/readOne/moveForward), from its spec:
/// start at the metadata's read position; a segment before the write
/// segment ends at its file size, then reading goes on in the next one.
fn read_like_go(d: &mut MemDisk, name: &str, max_bytes_per_file: u64) -> Vec<Message> {
    let meta =
        Meta::parse(&d.read_all(&files::meta(name)).unwrap().expect("meta file")).expect("meta");
    let (mut file, mut pos) = (meta.read.file, meta.read.pos);
    let mut out = Vec::new();
    while file < meta.write.file || pos < meta.write.pos {
        let data = d
            .read_all(&files::segment(name, file))
            .unwrap()
            .expect("segment exists");
        let max_read = if file < meta.write.file {
            data.len() as u64
        } else {
            max_bytes_per_file
        };
        let at = pos as usize;
        let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        assert!(
            (26..=26 + 1024 * 1024).contains(&len),
            "Go would reject length {len}"
        );
        out.push(
            Message::decode(Bytes::copy_from_slice(&data[at + 4..at + 4 + len])).expect("message"),
        );
        pos += 4 + len as u64;
        if file < meta.write.file && pos >= max_read {
            file += 1;
            pos = 0;
        }
    }
    assert_eq!(
        out.len() as i64,
        meta.depth,
        "Go's depth matches the records"
    );
    out
}

#[test]
fn go_reads_what_we_write() {
    let mut d = MemDisk::new(1);
    let mut q = DiskQueue::new_empty(cfg("t:c", 2048));
    let mut want = Vec::new();
    for i in 0..200u64 {
        let mut m = Message::new(
            MessageId::from_guid(0x18a3_7b0a_a300_7000 + i),
            1_795_290_912_000_000_000 + i as i64,
            Bytes::from(vec![(i % 251) as u8; (i as usize * 7) % 300 + 1]),
        );
        m.attempts = (i % 3) as u16;
        q.put(&m).unwrap();
        want.push(m);
    }
    q.request_sync();
    drive(&mut q, &mut d);
    // every segment respects Go's roll rule
    for n in 0.. {
        match d.size(&files::segment("t:c", n)).unwrap() {
            Some(size) => assert!(size <= 2048, "segment {n} is {size} bytes"),
            None => break,
        }
    }
    let got = read_like_go(&mut d, "t:c", 2048);
    assert_eq!(got, want);

    // consume some (acknowledged), persist: Go picks up at the right place
    for _ in 0..50 {
        let m = q.pop().or_else(|| {
            drive(&mut q, &mut d);
            q.pop()
        });
        let m = m.expect("a message");
        q.ack(m.origin);
    }
    q.request_sync();
    drive(&mut q, &mut d);
    assert_eq!(read_like_go(&mut d, "t:c", 2048), want[50..].to_vec());
}

#[test]
fn we_continue_a_go_queue_and_go_reads_the_result() {
    let mut d = go_disk();
    let mut q = open(cfg("gamma", 2048), &mut d).expect("open");
    let first = drain(&mut q, &mut d);
    assert_eq!(first.len(), 5);
    let extra = Message::new(
        MessageId::from_guid(42),
        7,
        Bytes::from_static(b"written by us"),
    );
    q.put(&extra).unwrap();
    q.request_sync();
    drive(&mut q, &mut d);
    // Go's segment had no checksums: ours went to a new segment
    assert!(d.size("gamma.diskqueue.000001.dat").unwrap().is_some());
    assert_eq!(read_like_go(&mut d, "gamma", 2048), vec![extra]);
}
