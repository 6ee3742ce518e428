//! Loading a queue from its files, and recovering from a crash.
//!
//! Everything before the metadata's write position was synced before the
//! metadata was written, so it is trusted (as go-diskqueue does). What lies
//! after it — written since the last sync — is checked record by record:
//! a sane length, a complete record, and (for segments we wrote) the
//! record's CRC-32 from the side file. The first bad record and everything
//! after it is cut off, and the report says exactly what was dropped. Where
//! Go renames a whole segment to `.bad`, we keep every good record.

use super::files::{self, Meta, Pos};
use super::queue::{DiskQueue, DqConfig, Recovery};
use super::record::{self, Stop};
use crate::io::Disk;
use std::collections::BTreeMap;
use std::io;

/// One segment as found on disk, checked from `from` on.
struct Checked {
    /// End of the last good record.
    end: u64,
    /// Good records at or after `from`.
    records_after: u64,
    /// Good records in the whole segment.
    records: u64,
    /// Whether every good record has a checksum entry.
    checksummed: bool,
    /// The segment had bad bytes after `end`.
    cut: Option<Stop>,
    size: u64,
}

/// Records before `from` were synced and are trusted as they are; every
/// record at or after `from` (written since the last sync) must carry a
/// matching checksum to be kept. A record there without one cannot be told
/// from a torn write (its length may be intact and its bytes garbage), and
/// Go nsqd never keeps records past its metadata's write position either
/// (it writes over them), so nothing a Go nsqd would keep is lost.
fn check_segment(
    cfg: &DqConfig,
    disk: &mut dyn Disk,
    n: u64,
    from: u64,
) -> io::Result<Option<Checked>> {
    let Some(data) = disk.read_all(&files::segment(&cfg.name, n))? else {
        return Ok(None);
    };
    let crcs = disk
        .read_all(&files::checksums(&cfg.name, n))?
        .unwrap_or_default();
    let crc_at = |i: usize| -> Option<u32> {
        crcs.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Records before `from` were synced: only their lengths are walked, to
    // keep the checksum index aligned.
    let (found, end, stop) = record::scan(
        &data,
        cfg.min_msg_size,
        cfg.max_msg_size,
        |i, offset, payload| {
            match crc_at(i) {
                Some(c) => c == record::crc(payload),
                // Unsynced and unverifiable: a torn write may have completed it with garbage.
                None => (offset as u64) < from,
            }
        },
    );
    let records_after = found.iter().filter(|f| f.offset as u64 >= from).count() as u64;
    let records = found.len() as u64;
    let checksummed = !crcs.is_empty() && crcs.len() as u64 >= records * 4;
    if crcs.len() as u64 > records * 4 {
        // Checksums of records that did not survive: drop them to stay aligned.
        disk.truncate(&files::checksums(&cfg.name, n), records * 4)?;
    }
    Ok(Some(Checked {
        end: end as u64,
        records_after,
        records,
        checksummed,
        cut: stop,
        size: data.len() as u64,
    }))
}

fn count_records(
    cfg: &DqConfig,
    disk: &mut dyn Disk,
    n: u64,
    from: u64,
    to: Option<u64>,
) -> io::Result<u64> {
    let Some(data) = disk.read_all(&files::segment(&cfg.name, n))? else {
        return Ok(0);
    };
    let (found, _, _) = record::scan(&data, cfg.min_msg_size, cfg.max_msg_size, |_, _, _| true);
    Ok(found
        .iter()
        .filter(|f| f.offset as u64 >= from && to.is_none_or(|t| (f.offset as u64) < t))
        .count() as u64)
}

/// Opens the queue `cfg.name` in `disk`, repairing what a crash left behind.
pub fn open(cfg: DqConfig, disk: &mut dyn Disk) -> io::Result<DiskQueue> {
    let mut rec = Recovery::default();
    let meta = match disk.read_all(&files::meta(&cfg.name))? {
        None => None,
        Some(raw) => match Meta::parse(&raw) {
            Ok(m) => Some(m),
            Err(e) => {
                rec.notes
                    .push(format!("{e}; scanning the segments instead"));
                None
            }
        },
    };
    let mut segments: Vec<u64> = disk
        .list()?
        .iter()
        .filter_map(|f| files::segment_number(&cfg.name, f))
        .collect();
    segments.sort_unstable();
    let (mut read, mut synced_end, mut depth) = match meta {
        Some(m) => (m.read, m.write, m.depth.max(0) as u64),
        None => match segments.first() {
            Some(&first) => (Pos::new(first, 0), Pos::new(first, 0), 0),
            None => {
                let mut q = DiskQueue::new_empty(cfg);
                q.recovery = rec;
                return Ok(q);
            }
        },
    };
    if read > synced_end {
        rec.notes.push(format!(
            "read position {read} is past the write position {synced_end}; resetting to it"
        ));
        read = synced_end;
        depth = 0;
    }

    // Segments the reader has not finished: their ends (trusted). Only
    // those that exist: the reader skips missing ones, as go-diskqueue does.
    let mut finished = BTreeMap::new();
    for &n in segments
        .iter()
        .filter(|&&n| n >= read.file && n < synced_end.file)
    {
        if let Some(size) = disk.size(&files::segment(&cfg.name, n))? {
            finished.insert(n, size);
        }
    }
    let missing = synced_end.file - read.file - finished.len() as u64;
    if missing > 0 {
        rec.notes.push(format!(
            "{missing} segment(s) between {read} and {synced_end} are missing; skipping them"
        ));
    }

    // The synced write segment must hold what the metadata says; if it does
    // not (a lying fsync), count again from the read position.
    let synced_size = disk
        .size(&files::segment(&cfg.name, synced_end.file))?
        .unwrap_or(0);
    let mut recount = false;
    if synced_size < synced_end.pos {
        rec.notes.push(format!(
            "segment {} holds {synced_size} bytes, the metadata says {}; counting records again",
            files::segment(&cfg.name, synced_end.file),
            synced_end.pos
        ));
        synced_end.pos = 0;
        recount = true;
    }

    // Check everything written after the last sync.
    let last = segments
        .last()
        .copied()
        .unwrap_or(synced_end.file)
        .max(synced_end.file);
    let mut write = synced_end;
    let mut write_records_total = 0;
    let mut write_checksummed = true;
    let mut n = synced_end.file;
    while n <= last {
        let from = if n == synced_end.file {
            synced_end.pos
        } else {
            0
        };
        let Some(c) = check_segment(&cfg, disk, n, from)? else {
            if n > synced_end.file {
                break;
            }
            write = Pos::new(n, 0);
            n += 1;
            continue;
        };
        rec.tail_records += c.records_after;
        write = Pos::new(n, c.end);
        write_records_total = c.records;
        write_checksummed = c.checksummed;
        if c.cut.is_some() && c.end < c.size {
            rec.dropped_bytes += c.size - c.end;
            rec.notes.push(format!(
                "{}: {:?} at byte {}, cut {} bytes",
                files::segment(&cfg.name, n),
                c.cut,
                c.end,
                c.size - c.end
            ));
            disk.truncate(&files::segment(&cfg.name, n), c.end)?;
            disk.truncate(&files::checksums(&cfg.name, n), c.records * 4)?;
            // Anything after a damaged segment came later than the damage.
            for later in segments.iter().copied().filter(|&s| s > n) {
                let name = files::segment(&cfg.name, later);
                rec.dropped_bytes += disk.size(&name)?.unwrap_or(0);
                disk.remove(&name)?;
                disk.remove(&files::checksums(&cfg.name, later))?;
                rec.dropped_files.push(name);
            }
            break;
        }
        if n < last {
            finished.insert(n, c.end);
        }
        n += 1;
    }

    if read > write {
        // Damage in what the metadata called synced cut the data back
        // behind the reader: it resumes where the data now ends (else new
        // records would be written behind it, never to be read).
        rec.notes.push(format!(
            "read position {read} is past the recovered end {write}; resetting to it"
        ));
        read = write;
        depth = 0;
    } else if recount {
        depth = 0;
        for &f in segments
            .iter()
            .filter(|&&f| f >= read.file && f <= write.file)
        {
            let from = if f == read.file { read.pos } else { 0 };
            depth += count_records(&cfg, disk, f, from, None)?;
        }
    } else {
        depth += rec.tail_records;
    }

    let mut q;
    if write.pos > 0 && !write_checksummed {
        // A segment without our checksums (written by Go nsqd): append to a
        // new one so every segment we write is checksummed from its start.
        finished.insert(write.file, write.pos);
        let next = Pos::new(write.file + 1, 0);
        q = DiskQueue::at(cfg.clone(), read, next, depth, finished);
        q.set_written_crc(0);
    } else {
        q = DiskQueue::at(cfg.clone(), read, write, depth, finished);
        q.set_written_crc(write_records_total * 4);
    }
    if let Some(raw) = disk.read_all(&files::deferrals(&cfg.name))? {
        q.set_deferrals(DiskQueue::parse_deferrals(&raw));
    }
    if !rec.is_clean() || rec.tail_records > 0 {
        q.request_sync();
    }
    q.recovery = rec;
    Ok(q)
}
