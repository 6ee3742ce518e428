//! File names and the metadata file, exactly as go-diskqueue writes them:
//! `<name>.diskqueue.%06d.dat` segments, `<name>.diskqueue.meta.dat` holding
//! `depth\nreadFileNum,readPos\nwriteFileNum,writePos\n`. Our own side files
//! (record checksums, deferral deadlines) sit beside them; Go ignores them.

use std::fmt;

/// A position in the queue: segment number and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    pub file: u64,
    pub pos: u64,
}

impl Pos {
    pub fn new(file: u64, pos: u64) -> Self {
        Pos { file, pos }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.file, self.pos)
    }
}

/// The backend name of a channel (NSQ's `getBackendName`).
pub fn channel_queue_name(topic: &str, channel: &str) -> String {
    format!("{topic}:{channel}")
}

pub fn segment(queue: &str, n: u64) -> String {
    format!("{queue}.diskqueue.{n:06}.dat")
}

/// One big-endian CRC-32 per record of the segment, in order.
pub fn checksums(queue: &str, n: u64) -> String {
    format!("{queue}.diskqueue.{n:06}.crc")
}

pub fn meta(queue: &str) -> String {
    format!("{queue}.diskqueue.meta.dat")
}

/// Deadlines of deferred messages stored in the queue (id → when due).
pub fn deferrals(queue: &str) -> String {
    format!("{queue}.diskqueue.deferred.dat")
}

/// Written (durably) before a deleted queue's files are removed, and
/// removed last, once `nsqd.dat` no longer lists the queue: a queue with
/// this file is deleted, whatever else survived a crash (Go ignores it).
pub fn tombstone(queue: &str) -> String {
    format!("{queue}.diskqueue.deleted")
}

/// Whether `name` is one of `queue`'s files other than its tombstone: a
/// segment, a checksum file, the metadata, the deferrals, or a temp file
/// left by an atomic write. (A prefix alone would match the files of a
/// topic named `<queue>.diskqueue.x`.)
pub fn belongs_to(queue: &str, name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(queue)
        .and_then(|r| r.strip_prefix(".diskqueue."))
    else {
        return false;
    };
    let numbered = |suffix: &str| {
        rest.strip_suffix(suffix)
            .is_some_and(|n| n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let temp_of = |file: &str| {
        rest.strip_prefix(file)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(".tmp"))
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    };
    numbered(".dat")
        || numbered(".crc")
        || matches!(rest, "meta.dat" | "deferred.dat")
        || temp_of("meta.dat")
        || temp_of("deferred.dat")
}

/// The queue a tombstone file belongs to, if `name` is one.
pub fn tombstoned_queue(name: &str) -> Option<&str> {
    name.strip_suffix(".diskqueue.deleted")
}

/// Segment numbers above this are not ours: far beyond any real queue
/// (go-diskqueue counts up from 0, one per segment), the bound keeps
/// arithmetic on segment numbers from damaged files clear of overflow.
pub const MAX_SEGMENT: u64 = 1 << 40;

/// The segment number of a file of `queue`, if `name` is one.
pub fn segment_number(queue: &str, name: &str) -> Option<u64> {
    let rest = name.strip_prefix(queue)?.strip_prefix(".diskqueue.")?;
    let num = rest.strip_suffix(".dat")?;
    if num.len() < 6 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse().ok().filter(|&n| n <= MAX_SEGMENT)
}

/// The metadata file's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub depth: i64,
    pub read: Pos,
    pub write: Pos,
}

/// The size the diskqueue writes its metadata at: always the same, so a
/// rewrite can overwrite the file in place (see `RealDisk::write_atomic`).
pub const META_LEN: usize = 128;

impl Meta {
    /// Go's text: depth, read position, write position, one per line.
    pub fn encode(&self) -> Vec<u8> {
        format!("{}\n{}\n{}\n", self.depth, self.read, self.write).into_bytes()
    }

    /// [`Meta::encode`] padded with spaces to [`META_LEN`] bytes. Go's
    /// `Fscanf` stops after the third line, and so does [`Meta::parse`].
    pub fn encode_padded(&self) -> Vec<u8> {
        let mut v = self.encode();
        if v.len() < META_LEN {
            v.resize(META_LEN, b' ');
        }
        v
    }

    /// Parses what Go's `fmt.Fscanf("%d\n%d,%d\n%d,%d\n")` accepts.
    pub fn parse(raw: &[u8]) -> Result<Meta, String> {
        let text = std::str::from_utf8(raw).map_err(|_| "metadata is not text".to_string())?;
        let mut lines = text.split('\n');
        let bad = || format!("malformed metadata {text:?}");
        let depth = lines
            .next()
            .ok_or_else(bad)?
            .trim()
            .parse()
            .map_err(|_| bad())?;
        let pos = |l: Option<&str>| -> Result<Pos, String> {
            let (f, p) = l.ok_or_else(bad)?.trim().split_once(',').ok_or_else(bad)?;
            let file: u64 = f.trim().parse().map_err(|_| bad())?;
            if file > MAX_SEGMENT {
                return Err(bad());
            }
            Ok(Pos::new(file, p.trim().parse().map_err(|_| bad())?))
        };
        let read = pos(lines.next())?;
        let write = pos(lines.next())?;
        Ok(Meta { depth, read, write })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_go_diskqueue() {
        assert_eq!(segment("alpha:c1", 1), "alpha:c1.diskqueue.000001.dat");
        assert_eq!(meta("gamma"), "gamma.diskqueue.meta.dat");
        assert_eq!(
            segment_number("alpha", "alpha.diskqueue.000042.dat"),
            Some(42)
        );
        assert_eq!(
            segment_number("alpha", "alpha:c1.diskqueue.000042.dat"),
            None
        );
        assert_eq!(segment_number("alpha", "alpha.diskqueue.meta.dat"), None);
    }

    #[test]
    fn a_queue_owns_its_files_only() {
        for f in [
            "t.diskqueue.000000.dat",
            "t.diskqueue.000012.crc",
            "t.diskqueue.meta.dat",
            "t.diskqueue.deferred.dat",
            "t.diskqueue.meta.dat.4242.tmp",
        ] {
            assert!(belongs_to("t", f), "{f}");
        }
        for f in [
            "t.diskqueue.deleted",
            "t:c.diskqueue.000000.dat",
            "t.diskqueue.x.diskqueue.000000.dat",
            "t.diskqueue.x.diskqueue.meta.dat",
            "tt.diskqueue.meta.dat",
            "t.diskqueue.12.dat",
            "nsqd.dat",
        ] {
            assert!(!belongs_to("t", f), "{f}");
        }
        assert_eq!(tombstoned_queue(&tombstone("t:c")), Some("t:c"));
        assert_eq!(tombstoned_queue("t.diskqueue.meta.dat"), None);
    }

    #[test]
    fn meta_round_trip_and_go_fixture() {
        let m = Meta {
            depth: 92,
            read: Pos::new(0, 390),
            write: Pos::new(1, 1964),
        };
        assert_eq!(m.encode(), b"92\n0,390\n1,1964\n");
        assert_eq!(Meta::parse(&m.encode()), Ok(m));
        let padded = m.encode_padded();
        assert_eq!(padded.len(), META_LEN);
        assert!(padded.starts_with(b"92\n0,390\n1,1964\n"));
        assert_eq!(Meta::parse(&padded), Ok(m));
        let widest = Meta {
            depth: i64::MIN,
            read: Pos::new(MAX_SEGMENT, u64::MAX),
            write: Pos::new(MAX_SEGMENT, u64::MAX),
        };
        assert_eq!(widest.encode_padded().len(), META_LEN);
        assert!(Meta::parse(b"x\n").is_err());
        assert!(Meta::parse(b"1\n2\n3,4\n").is_err());
    }
}
