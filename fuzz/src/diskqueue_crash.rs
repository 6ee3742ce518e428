//! Crash recovery of a diskqueue (`diskqueue::open`, then the reader) over
//! files a crash can leave: segments of valid records whose unsynced part
//! may be torn (a cut record or garbage after the last record), checksum
//! side files that may be short, torn or missing, and metadata that is
//! absent, current, off in its depth, or unreadable.
//!
//! Input: see [`decode`]; every byte string is some scenario.
//! Checks: exactly the records NSQ's rules keep come out, in order: every
//! synced record from the read position on, then the unsynced ones up to
//! the first that lacks a checksum (whoever wrote the queue: Go nsqd keeps
//! nothing past its metadata's write position either) or the first torn
//! segment; never a byte of garbage. Depth ends at 0 and the queue works.

use crate::cursor::{Cursor, Writer};
use crate::dq::{self, MAX_BODY, NAME};
use bytes::{BufMut, BytesMut};
use nsq_core::diskqueue::{files, record, Meta, Pos};
use nsq_core::io::MemDisk;
use nsq_core::wire::{Message, MessageId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaMode {
    Absent,
    Current,
    WrongDepth(i64),
    Unreadable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    None,
    /// The first bytes of one more record.
    Cut(usize),
    /// Garbage (caught: unsynced records need their checksum).
    Garbage(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crcs {
    Full,
    /// Lost in the crash: only the synced entries (perhaps none) remain.
    Missing,
    /// Only the first n entries (never fewer than the synced records).
    Short(usize),
    /// A torn last entry: 1 to 3 bytes of it.
    Torn(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub bodies: Vec<(u16, Vec<u8>)>,
    pub tail: Tail,
    pub crcs: Crcs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub config: u8,
    pub checksums: bool,
    pub meta: MetaMode,
    pub first: u64,
    pub segments: Vec<Segment>,
    /// Where the metadata's read and write positions sit, as indices into
    /// the record boundaries (taken modulo their number).
    pub read_at: u16,
    pub write_at: u16,
    pub garbage_meta: Vec<u8>,
    /// Power fails again after this many messages were taken and acknowledged.
    pub crash_after: Option<u8>,
}

/// Reads a scenario: `[config][flags][first segment][segment count]`,
/// per segment `[record count]` (`[attempts u16][body blob]` each),
/// `[tail kind][tail blob]`, `[crc kind][crc arg blob]`; then
/// `[read u16][write u16][depth u64][meta blob][crash after + 1, 0: none]`.
pub fn decode(data: &[u8]) -> Scenario {
    let mut c = Cursor::new(data);
    let config = c.u8();
    let flags = c.u8();
    let first = u64::from(c.u8() % 4);
    let nseg = 1 + c.u8() % 4;
    let mut segments = Vec::new();
    for _ in 0..nseg {
        let nrec = c.u8() % 16;
        let bodies = (0..nrec)
            .map(|_| {
                let attempts = c.u16();
                let body = c.blob();
                (attempts, body[..body.len().min(MAX_BODY as usize)].to_vec())
            })
            .collect();
        let tail = match c.u8() % 3 {
            0 => {
                c.blob();
                Tail::None
            }
            1 => Tail::Cut(c.blob().len()),
            _ => Tail::Garbage(c.blob().to_vec()),
        };
        let crcs = match c.u8() % 4 {
            0 => {
                c.blob();
                Crcs::Full
            }
            1 => {
                c.blob();
                Crcs::Missing
            }
            2 => Crcs::Short(c.blob().len()),
            _ => Crcs::Torn(c.blob().iter().take(3).copied().collect()),
        };
        segments.push(Segment { bodies, tail, crcs });
    }
    let read_at = c.u16();
    let write_at = c.u16();
    let depth = c.u64() as i64;
    let garbage_meta = c.blob().to_vec();
    let crash_after = c.u8().checked_sub(1);
    let meta = match flags >> 1 & 3 {
        0 => MetaMode::Absent,
        1 => MetaMode::Current,
        2 => MetaMode::WrongDepth(depth),
        _ => MetaMode::Unreadable,
    };
    Scenario {
        config,
        checksums: flags & 1 == 1,
        meta,
        first,
        segments,
        read_at,
        write_at,
        garbage_meta,
        crash_after,
    }
}

/// The input for a scenario (for the seed generator).
pub fn encode(s: &Scenario) -> Vec<u8> {
    let mut w = Writer::default();
    let meta = match s.meta {
        MetaMode::Absent => 0,
        MetaMode::Current => 1,
        MetaMode::WrongDepth(_) => 2,
        MetaMode::Unreadable => 3,
    };
    w.u8(s.config)
        .u8(meta << 1 | u8::from(s.checksums))
        .u8(s.first as u8)
        .u8(s.segments.len().saturating_sub(1) as u8);
    for seg in &s.segments {
        w.u8(seg.bodies.len() as u8);
        for (attempts, body) in &seg.bodies {
            w.u16(*attempts).blob(body);
        }
        match &seg.tail {
            Tail::None => w.u8(0).blob(&[]),
            Tail::Cut(n) => w.u8(1).blob(&vec![0; *n]),
            Tail::Garbage(g) => w.u8(2).blob(g),
        };
        match &seg.crcs {
            Crcs::Full => w.u8(0).blob(&[]),
            Crcs::Missing => w.u8(1).blob(&[]),
            Crcs::Short(n) => w.u8(2).blob(&vec![0; *n]),
            Crcs::Torn(b) => w.u8(3).blob(b),
        };
    }
    let depth = match s.meta {
        MetaMode::WrongDepth(d) => d as u64,
        _ => 0,
    };
    w.u16(s.read_at)
        .u16(s.write_at)
        .u64(depth)
        .blob(&s.garbage_meta)
        .u8(s.crash_after.map_or(0, |k| k.saturating_add(1)));
    w.0
}

/// One record as laid out: its segment, offset, and the message.
struct Laid {
    file: u64,
    offset: u64,
    msg: Message,
}

pub fn run(data: &[u8]) {
    let s = decode(data);
    if std::env::var_os("NSQ_FUZZ_DEBUG").is_some() {
        eprintln!("{s:?}");
    }
    let cfg = dq::cfg(64 << (s.config % 12), 1 + u64::from(s.config >> 4));

    // Lay the records out, and list the positions metadata may name.
    let mut laid = Vec::new();
    let mut boundaries = Vec::new(); // (position, records before it)
    let mut contents = Vec::new();
    let mut guid = 0;
    for (i, seg) in s.segments.iter().enumerate() {
        let file = s.first + i as u64;
        let mut buf = BytesMut::new();
        for (attempts, body) in &seg.bodies {
            boundaries.push((Pos::new(file, buf.len() as u64), laid.len()));
            guid += 1;
            let mut msg = Message::new(
                MessageId::from_guid(guid),
                dq::T0 + guid as i64,
                body.clone().into(),
            );
            msg.attempts = *attempts;
            laid.push(Laid {
                file,
                offset: buf.len() as u64,
                msg: msg.clone(),
            });
            record::put(&mut buf, &msg.encode());
        }
        boundaries.push((Pos::new(file, buf.len() as u64), laid.len()));
        contents.push(buf);
    }
    let bounds = boundaries.len();
    let (mut read, mut write) = (
        boundaries[s.read_at as usize % bounds],
        boundaries[s.write_at as usize % bounds],
    );
    if read.0 > write.0 {
        std::mem::swap(&mut read, &mut write);
    }
    let meta_file = match s.meta {
        MetaMode::Absent => None,
        MetaMode::Current => Some(
            Meta {
                depth: (write.1 - read.1) as i64,
                read: read.0,
                write: write.0,
            }
            .encode(),
        ),
        MetaMode::WrongDepth(depth) => Some(
            Meta {
                depth,
                read: read.0,
                write: write.0,
            }
            .encode(),
        ),
        // Garbage that happens to parse is a different scenario: leave it out.
        MetaMode::Unreadable => Some(s.garbage_meta.clone()).filter(|g| Meta::parse(g).is_err()),
    };
    // Without readable metadata, nothing is known to be synced.
    let (read, write) = match (&s.meta, &meta_file) {
        (MetaMode::Current | MetaMode::WrongDepth(_), Some(_)) => (read, write),
        _ => {
            let start = (Pos::new(s.first, 0), 0);
            (start, start)
        }
    };

    // Write the files, tearing only what was written after the last sync.
    let mut disk = MemDisk::new(1);
    if let Some(m) = &meta_file {
        disk.put_file(&files::meta(NAME), m);
    }
    let mut torn_at = None;
    for (i, (seg, buf)) in s.segments.iter().zip(&contents).enumerate() {
        let file = s.first + i as u64;
        let unsynced = file >= write.0.file;
        let mut bytes = buf.to_vec();
        if unsynced {
            match &seg.tail {
                Tail::None => {}
                Tail::Cut(n) => {
                    let mut extra = BytesMut::new();
                    extra.put_u32(30);
                    extra.put_slice(&[7; 30]);
                    let n = (*n % extra.len()).max(1);
                    bytes.extend_from_slice(&extra[..n]);
                }
                Tail::Garbage(g) => bytes.extend_from_slice(g),
            }
            if bytes.len() > buf.len() && torn_at.is_none() {
                torn_at = Some(file);
            }
        }
        disk.put_file(&files::segment(NAME, file), &bytes);
        if s.checksums {
            let crcs: Vec<u8> = laid
                .iter()
                .filter(|l| l.file == file)
                .flat_map(|l| record::crc(&l.msg.encode()).to_be_bytes())
                .collect();
            let synced = laid
                .iter()
                .filter(|l| l.file == file && Pos::new(l.file, l.offset) < write.0)
                .count();
            let crcs = match &seg.crcs {
                _ if !unsynced => crcs,
                Crcs::Full => crcs,
                Crcs::Missing => crcs[..synced * 4].to_vec(),
                Crcs::Short(n) => crcs[..(*n).max(synced).min(crcs.len() / 4) * 4].to_vec(),
                Crcs::Torn(b) => [&crcs[..], b].concat(),
            };
            disk.put_file(&files::checksums(NAME, file), &crcs);
        }
    }

    // What NSQ's rules keep: every synced record from the read position,
    // then unsynced records while each has its checksum, stopping at the
    // end of the first torn segment.
    let entries = |file: u64| -> usize {
        disk.contents(&files::checksums(NAME, file))
            .map_or(0, |c| c.len() / 4)
    };
    let mut expected = Vec::new();
    for (i, l) in laid.iter().enumerate().skip(read.1) {
        let synced = Pos::new(l.file, l.offset) < write.0;
        if !synced {
            if torn_at.is_some_and(|t| l.file > t) {
                break;
            }
            let index = laid[..i].iter().filter(|o| o.file == l.file).count();
            if index >= entries(l.file) {
                break;
            }
        }
        expected.push(l.msg.clone());
    }

    let mut q = dq::reopen(&cfg, &mut disk);
    let mut now = dq::T0;
    let ids = |v: &[Message]| v.iter().map(|m| m.id.to_string()).collect::<Vec<_>>();
    let check = |got: &[Message], want: &[Message], recovery: &dyn std::fmt::Debug| {
        assert_eq!(ids(got), ids(want), "recovery: {recovery:?}");
        for (g, e) in got.iter().zip(want) {
            assert_eq!(g.encode(), e.encode(), "a record came back changed");
        }
    };
    if let Some(k) = s.crash_after {
        // Another crash after k messages were acknowledged: none of the
        // others may be lost (the acknowledged ones may come again).
        let first = dq::take(&mut q, &mut disk, &mut now, usize::from(k));
        check(&first, &expected[..first.len()], &q.recovery);
        drop(q);
        disk.power_fail(false);
        q = dq::reopen(&cfg, &mut disk);
        let rest = dq::drain(&mut q, &mut disk, &mut now);
        let from = expected.len().saturating_sub(rest.len());
        assert!(
            from <= first.len(),
            "lost in the second crash: {:?}",
            ids(&expected[first.len()..from.max(first.len())])
        );
        check(&rest, &expected[from..], &q.recovery);
    } else {
        let got = dq::drain(&mut q, &mut disk, &mut now);
        check(&got, &expected, &q.recovery);
    }
    dq::check_usable_after(q, &mut disk, now);
}
