//! A diskqueue opened over arbitrary files (`diskqueue::open`, then the
//! reader): whatever a crash, bit rot or an older nsqd left in the data
//! directory.
//!
//! Input: `[config byte]` then entries `[tag][u16 length][bytes]`; the low
//! two bits of the tag pick the file (0 metadata, 1 segment, 2 checksums,
//! 3 deferrals), the rest its segment number (63: a `u64` follows the tag).
//! Checks: opening never fails or panics and the reader always settles; every
//! message handed out is bytes that were in one of the segment files, in
//! file order; draining leaves depth 0 and a queue that still works.

use crate::cursor::{Cursor, Writer};
use crate::dq::{self, NAME};
use nsq_core::diskqueue::files;
use nsq_core::io::MemDisk;

/// One file of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum File {
    Meta(Vec<u8>),
    Segment(u64, Vec<u8>),
    Checksums(u64, Vec<u8>),
    Deferrals(Vec<u8>),
}

impl File {
    fn name(&self) -> String {
        match self {
            File::Meta(_) => files::meta(NAME),
            File::Segment(n, _) => files::segment(NAME, *n),
            File::Checksums(n, _) => files::checksums(NAME, *n),
            File::Deferrals(_) => files::deferrals(NAME),
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            File::Meta(d) | File::Segment(_, d) | File::Checksums(_, d) | File::Deferrals(d) => d,
        }
    }
}

pub fn decode(data: &[u8]) -> (u8, Vec<File>) {
    let mut c = Cursor::new(data);
    let config = c.u8();
    let mut out = Vec::new();
    while !c.is_empty() {
        let tag = c.u8();
        let n = match tag >> 2 {
            63 => c.u64(),
            n => u64::from(n),
        };
        let d = c.blob().to_vec();
        out.push(match tag & 3 {
            0 => File::Meta(d),
            1 => File::Segment(n, d),
            2 => File::Checksums(n, d),
            _ => File::Deferrals(d),
        });
    }
    (config, out)
}

/// The input that places `files` (for the seed generator).
pub fn encode(config: u8, list: &[File]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(config);
    for f in list {
        let (kind, n) = match f {
            File::Meta(_) => (0u8, 0),
            File::Segment(n, _) => (1, *n),
            File::Checksums(n, _) => (2, *n),
            File::Deferrals(_) => (3, 0),
        };
        if n < 63 {
            w.u8((n as u8) << 2 | kind);
        } else {
            w.u8(63 << 2 | kind).u64(n);
        }
        w.blob(f.data());
    }
    w.0
}

pub fn run(data: &[u8]) {
    let (config, list) = decode(data);
    let cfg = dq::cfg(64 << (config % 12), 1 + u64::from(config >> 4));
    let mut disk = MemDisk::new(1);
    for f in &list {
        disk.put_file(&f.name(), f.data());
    }
    // The segment files as they were, in the order the reader walks them.
    let mut segments: Vec<(u64, Vec<u8>)> = Vec::new();
    for f in &list {
        if let File::Segment(n, d) = f {
            segments.retain(|(m, _)| m != n);
            segments.push((*n, d.clone()));
        }
    }
    segments.sort_by_key(|(n, _)| *n);

    let mut q = dq::reopen(&cfg, &mut disk);
    let total: u64 = segments.iter().map(|(_, d)| d.len() as u64).sum();
    assert!(q.recovery.dropped_bytes <= total);
    let mut now = dq::T0;
    let got = dq::drain(&mut q, &mut disk, &mut now);

    // Every message is a record's payload in a segment, at or after the previous one.
    let mut at = (0usize, 0usize);
    for m in &got {
        let payload = m.encode();
        let found = (at.0..segments.len()).find_map(|i| {
            let seg = &segments[i].1;
            let from = if i == at.0 { at.1 } else { 0 };
            find(&seg[from.min(seg.len())..], &payload).map(|p| (i, from + p + payload.len()))
        });
        match found {
            Some(next) => at = next,
            None => {
                panic!("handed out {m:?}: bytes that are in no segment after the last one read")
            }
        }
    }
    dq::check_usable_after(q, &mut disk, now);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}
