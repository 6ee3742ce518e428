//! The diskqueue as a state machine: go-diskqueue's files and rules
//! (segments rolled at --max-bytes-per-file, fsync every --sync-every
//! records or --sync-timeout), driven without I/O of its own.
//!
//! Appends go into an in-memory tail that an [`IoJob`] writes out in one
//! batch (group commit). The reader takes records from that tail while it
//! is still in memory and from disk otherwise. Every record handed out stays
//! *outstanding* until acknowledged (FIN, or rewritten elsewhere and synced):
//! the read position written to the metadata is the oldest outstanding
//! record, so a crash redelivers what was in flight instead of losing it.

use super::files::{self, Meta, Pos};
use super::job::{IoJob, IoOutcome, ReadRequest};
use super::outstanding::Outstanding;
use super::record;
use crate::broker::storage::StorageError;
use crate::io::{Nanos, SECOND};
use crate::options::Options;
use crate::wire::message::MIN_ENCODED_LEN;
use crate::wire::{Message, MessageId};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Bytes read from disk per read job (at least one record of the largest size).
const READ_CHUNK: usize = 1 << 20;
/// The allocation new chunks of appended records are cut from.
const BUILD_CHUNK: usize = 64 * 1024;
/// A spare allocation with less room than this is dropped for a new one.
const MIN_SPARE: usize = 4 * 1024;
/// Bytes of records loaded ahead of the reader.
const READAHEAD_LIMIT: usize = 4 << 20;
/// Written bytes kept in memory for the reader.
const TAIL_CACHE: usize = 16 << 20;
/// How many --sync-every windows writes may run ahead of the last finished
/// fsync. A sync starts once one window is unsynced; writes go on beside
/// it, and stop only at this bound. Go blocks every write during an fsync
/// (a bound of one window); at 1 the fsync would pace every publisher, at
/// 4 a publisher waits for the disk only when fsyncs fall behind by that
/// much (README: Durability states the bound).
pub const SYNC_LAG_WINDOWS: u64 = 4;
/// How long a failed write waits before it is retried.
const RETRY_AFTER: Nanos = SECOND;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DqConfig {
    /// The queue's name: the topic, or `topic:channel`.
    pub name: String,
    pub max_bytes_per_file: u64,
    /// Smallest and largest record NSQ accepts (an encoded message).
    pub min_msg_size: u32,
    pub max_msg_size: u32,
    pub sync_every: u64,
    pub sync_timeout: Nanos,
    /// Beyond NSQ: the most bytes this queue may hold on disk (0 = no limit).
    pub max_disk_bytes: u64,
}

impl DqConfig {
    pub fn from_options(name: &str, o: &Options) -> Self {
        DqConfig {
            name: name.to_string(),
            max_bytes_per_file: o.max_bytes_per_file.max(1) as u64,
            min_msg_size: MIN_ENCODED_LEN as u32,
            max_msg_size: (o.max_msg_size.max(0) as u64 + MIN_ENCODED_LEN as u64)
                .min(u32::MAX as u64) as u32,
            sync_every: o.sync_every.max(1) as u64,
            sync_timeout: crate::io::nanos(o.sync_timeout),
            max_disk_bytes: o.max_disk_bytes.max(0) as u64,
        }
    }
}

/// What loading found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records found after the last synced position (kept).
    pub tail_records: u64,
    /// Bytes cut off torn or corrupt segment tails.
    pub dropped_bytes: u64,
    /// Segment files dropped whole (after a corrupt one).
    pub dropped_files: Vec<String>,
    /// What was wrong, for the log.
    pub notes: Vec<String>,
}

impl Recovery {
    pub fn is_clean(&self) -> bool {
        self.dropped_bytes == 0 && self.dropped_files.is_empty() && self.notes.is_empty()
    }
}

#[derive(Debug)]
struct Building {
    file: u64,
    start: u64,
    data: BytesMut,
    crcs: BytesMut,
    records: u64,
}

#[derive(Debug, Clone)]
struct Chunk {
    file: u64,
    start: u64,
    data: Bytes,
    crcs: Bytes,
    records: u64,
}

impl Chunk {
    fn end(&self) -> Pos {
        Pos::new(self.file, self.start + self.data.len() as u64)
    }

    fn contains(&self, p: Pos) -> bool {
        p.file == self.file && p.pos >= self.start && p.pos < self.start + self.data.len() as u64
    }
}

/// What a running write job covers.
#[derive(Debug)]
struct WriteJob {
    epoch: u64,
    chunks: usize,
    records: u64,
    files: BTreeSet<u64>,
    write_to: (Pos, u64),
    crc_to: u64,
    read_from: Option<Pos>,
    /// Only removes the files of an emptied queue.
    empties: bool,
}

impl WriteJob {
    fn new(epoch: u64, write_end: Pos, write_seq: u64, crc: u64) -> Self {
        WriteJob {
            epoch,
            chunks: 0,
            records: 0,
            files: BTreeSet::new(),
            write_to: (write_end, write_seq),
            crc_to: crc,
            read_from: None,
            empties: false,
        }
    }

    fn empties(epoch: u64) -> Self {
        WriteJob {
            empties: true,
            ..WriteJob::new(epoch, Pos::default(), 0, 0)
        }
    }
}

/// What a running sync job covers.
#[derive(Debug)]
struct SyncJob {
    epoch: u64,
    /// Every record written before the job is durable once it succeeds.
    synced_to: u64,
    files: BTreeSet<u64>,
    watermark: (Pos, u64),
    remove_below: u64,
}

#[derive(Debug)]
pub struct DiskQueue {
    cfg: DqConfig,
    /// Bumped by `empty`, so completions of older jobs are recognised.
    epoch: u64,

    write_end: Pos,
    write_seq: u64,
    building: Option<Building>,
    /// What is left of the allocations the last chunk was cut from: the
    /// next one starts there, so small chunks share one allocation instead
    /// of each pinning a buffer of its own (a chunk per record, as a
    /// publisher waiting for each PUB makes, pinned 64 KiB per record).
    spare: (BytesMut, BytesMut),
    tail: VecDeque<Chunk>,
    /// The first `tail_written` chunks of `tail` are on disk.
    tail_written: usize,
    tail_bytes: usize,
    written_end: Pos,
    written_seq: u64,
    /// Bytes of checksums written for `written_end.file`.
    written_crc: u64,
    synced_seq: u64,
    dirty_files: BTreeSet<u64>,
    last_sync: Option<Nanos>,
    force_sync: bool,
    /// End of every segment before the write segment.
    finished: BTreeMap<u64, u64>,
    /// The lowest segment that may still exist on disk.
    oldest_file: u64,
    /// After a failed write: truncate the write segment back first.
    repair: bool,

    read: Pos,
    read_seq: u64,
    fetch: Pos,
    fetch_seq: u64,
    readahead: VecDeque<(u64, Pos, Bytes)>,
    readahead_bytes: usize,

    outstanding: Outstanding,
    /// Copies of outstanding records appended at the head (carried
    /// forward, see [`DiskQueue::carry`]) that the reader has not passed:
    /// it skips them, their messages are already out.
    carried: BTreeSet<Pos>,
    /// The reader's segment at the last [`DiskQueue::take_rolled`].
    seen_read_file: u64,
    /// (synced_seq needed, seq to acknowledge then).
    pending_acks: VecDeque<(u64, u64)>,
    persisted_watermark: (Pos, u64),

    /// Deadlines of deferred messages stored in the queue (side file).
    deferrals: BTreeMap<MessageId, Nanos>,
    /// Deferrals to write with the next sync (at shutdown).
    deferrals_to_write: Option<Vec<u8>>,
    /// Whether a side file of deferrals exists.
    deferrals_file: bool,

    write_job: Option<WriteJob>,
    sync_job: Option<SyncJob>,
    /// Files to remove (an `empty` while a job was in flight).
    pending_empty: Option<Vec<u64>>,
    /// The last error of each lane, while it lasts.
    write_error: Option<String>,
    sync_error: Option<String>,
    read_error: Option<String>,
    retry_at: Nanos,
    /// Being deleted: no new work; running jobs finish (see `close`).
    closed: bool,
    /// Records skipped because a segment turned out corrupt while reading.
    pub corrupt_skips: u64,
    pub recovery: Recovery,
}

impl DiskQueue {
    /// A queue with no files yet.
    pub fn new_empty(cfg: DqConfig) -> Self {
        Self::at(cfg, Pos::default(), Pos::default(), 0, BTreeMap::new())
    }

    /// A queue whose unread records span `read..write` (`depth` of them).
    pub(crate) fn at(
        cfg: DqConfig,
        read: Pos,
        write: Pos,
        depth: u64,
        finished: BTreeMap<u64, u64>,
    ) -> Self {
        let read = next_readable(&finished, write, read);
        DiskQueue {
            cfg,
            epoch: 0,
            write_end: write,
            write_seq: depth,
            building: None,
            spare: (BytesMut::new(), BytesMut::new()),
            tail: VecDeque::new(),
            tail_written: 0,
            tail_bytes: 0,
            written_end: write,
            written_seq: depth,
            written_crc: 0,
            synced_seq: depth,
            dirty_files: BTreeSet::new(),
            last_sync: None,
            force_sync: false,
            finished,
            oldest_file: read.file,
            repair: false,
            read,
            read_seq: 0,
            fetch: read,
            fetch_seq: 0,
            readahead: VecDeque::new(),
            readahead_bytes: 0,
            outstanding: Outstanding::default(),
            carried: BTreeSet::new(),
            seen_read_file: read.file,
            pending_acks: VecDeque::new(),
            persisted_watermark: (read, 0),
            deferrals: BTreeMap::new(),
            deferrals_to_write: None,
            deferrals_file: false,
            write_job: None,
            sync_job: None,
            pending_empty: None,
            write_error: None,
            sync_error: None,
            read_error: None,
            retry_at: 0,
            closed: false,
            corrupt_skips: 0,
            recovery: Recovery::default(),
        }
    }

    pub(crate) fn set_written_crc(&mut self, crc_len: u64) {
        self.written_crc = crc_len;
    }

    pub(crate) fn set_deferrals(&mut self, d: BTreeMap<MessageId, Nanos>) {
        self.deferrals = d;
        self.deferrals_file = true;
    }

    pub fn config(&self) -> &DqConfig {
        &self.cfg
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Records appended and not yet handed out.
    pub fn unread(&self) -> u64 {
        // Saturating: with a depth too low in the metadata the reader runs
        // ahead of the count until the tail settles it.
        self.write_seq.saturating_sub(self.read_seq)
    }

    /// Records handed out and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The metadata that would be written now.
    pub fn meta(&self) -> Meta {
        let (w, seq) = self.watermark();
        Meta {
            depth: self.write_seq.saturating_sub(seq) as i64,
            read: w,
            write: self.write_end,
        }
    }

    /// Bytes this queue holds on disk (or is about to write).
    pub fn disk_bytes(&self) -> u64 {
        self.finished
            .range(self.oldest_file..)
            .map(|(_, end)| *end)
            .sum::<u64>()
            + self.write_end.pos
    }

    pub fn error(&self) -> Option<&str> {
        self.write_error
            .as_deref()
            .or(self.sync_error.as_deref())
            .or(self.read_error.as_deref())
    }

    fn failing(&self) -> bool {
        self.write_error.is_some() || self.sync_error.is_some() || self.read_error.is_some()
    }

    /// Records appended so far (this process's count).
    pub fn write_seq(&self) -> u64 {
        self.write_seq
    }

    /// Records handed to the OS (written, not necessarily synced).
    pub fn written_seq(&self) -> u64 {
        self.written_seq
    }

    /// Records known durable.
    pub fn synced_seq(&self) -> u64 {
        self.synced_seq
    }

    /// A queue that could not be opened: it refuses everything, reporting why.
    pub fn failed(cfg: DqConfig, error: String) -> Self {
        let mut q = Self::new_empty(cfg);
        q.write_error = Some(error);
        q.retry_at = Nanos::MAX;
        q
    }

    /// Where the oldest unacknowledged record starts.
    fn watermark(&self) -> (Pos, u64) {
        // The read position may sit at the end of a segment that has been
        // finished since: go-diskqueue never stores such a position.
        let read = (self.normalize(self.read), self.read_seq);
        match self.outstanding.first() {
            // Copies carried forward sit ahead of the reader: records it has
            // not read yet come first.
            Some((seq, pos)) if pos < read.0 => (pos, seq - 1),
            _ => read,
        }
    }

    /// Moves `p` off the end of a finished segment (and past missing ones).
    fn normalize(&self, p: Pos) -> Pos {
        next_readable(&self.finished, self.write_end, p)
    }

    /// The segments kept from `oldest_file` up to (not including) `below`:
    /// the finished ones and the write segment. Numbers in between that are
    /// not known do not exist (a damaged directory may leave huge gaps).
    fn known_segments(&self, below: u64) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .finished
            .range(self.oldest_file..below)
            .map(|(&n, _)| n)
            .collect();
        let w = self.write_end.file;
        if (self.oldest_file..below).contains(&w) && !self.finished.contains_key(&w) {
            v.push(w);
        }
        v
    }

    /// Appends one record.
    pub fn append(&mut self, data: &[u8]) {
        self.append_with(data.len(), |out| out.put_slice(data));
    }

    /// Appends a message as one record, encoding it straight into the tail.
    pub fn append_message(&mut self, msg: &Message) {
        self.append_with(msg.encoded_len(), |out| msg.encode_into(out));
    }

    fn append_with(&mut self, payload: usize, write: impl FnOnce(&mut BytesMut)) {
        let len = record::HEADER + payload as u64;
        if self.write_end.pos > 0 && self.write_end.pos + len > self.cfg.max_bytes_per_file {
            self.freeze_building();
            self.finished
                .insert(self.write_end.file, self.write_end.pos);
            self.write_end = Pos::new(self.write_end.file + 1, 0);
            // A reader at the end of the segment just finished moves on now,
            // while the segment's end is still known.
            self.read = self.normalize(self.read);
            self.fetch = self.normalize(self.fetch);
        }
        let at = self.write_end;
        let b = match &mut self.building {
            Some(b) if b.file == at.file => b,
            _ => {
                self.freeze_building();
                let (mut data, mut crcs) = std::mem::take(&mut self.spare);
                if data.capacity() < MIN_SPARE {
                    data = BytesMut::with_capacity(BUILD_CHUNK);
                }
                if crcs.capacity() < MIN_SPARE / 16 {
                    crcs = BytesMut::with_capacity(BUILD_CHUNK / 16);
                }
                self.building.insert(Building {
                    file: at.file,
                    start: at.pos,
                    data,
                    crcs,
                    records: 0,
                })
            }
        };
        b.data.put_u32(payload as u32);
        let from = b.data.len();
        write(&mut b.data);
        let crc = record::crc(&b.data[from..]);
        b.crcs.put_u32(crc);
        b.records += 1;
        self.write_end.pos += len;
        self.write_seq += 1;
    }

    fn freeze_building(&mut self) {
        if let Some(mut b) = self.building.take() {
            if b.records > 0 {
                // The chunk is the filled part; the rest of the allocation
                // is kept for the next one.
                let (data, crcs) = (b.data.split(), b.crcs.split());
                self.tail_bytes += data.len();
                self.tail.push_back(Chunk {
                    file: b.file,
                    start: b.start,
                    data: data.freeze(),
                    crcs: crcs.freeze(),
                    records: b.records,
                });
            }
            self.spare = (b.data, b.crcs);
        }
    }

    /// The tail chunk holding `p`, if it is still in memory.
    fn tail_index(&self, p: Pos) -> Option<usize> {
        let i = self.tail.partition_point(|c| c.end() <= p);
        self.tail.get(i).filter(|c| c.contains(p)).map(|_| i)
    }

    /// Loads records that are still in memory into the readahead.
    fn fill_from_tail(&mut self) {
        if self
            .building
            .as_ref()
            .is_some_and(|b| b.file == self.fetch.file && self.fetch.pos >= b.start)
        {
            self.freeze_building();
        }
        while self.readahead_bytes < READAHEAD_LIMIT {
            let Some(chunk) = self.tail.iter().find(|c| c.contains(self.fetch)) else {
                break;
            };
            let from = (self.fetch.pos - chunk.start) as usize;
            let data = chunk.data.clone();
            let (found, end, _) = record::scan(
                &data[from..],
                self.cfg.min_msg_size,
                self.cfg.max_msg_size,
                |_, _, _| true,
            );
            for f in found {
                let at = from + f.offset;
                self.fetch_seq += 1;
                let pos = Pos::new(self.fetch.file, self.fetch.pos + f.offset as u64);
                self.readahead_bytes += f.len;
                self.readahead
                    .push_back((self.fetch_seq, pos, data.slice(at + 4..at + 4 + f.len)));
            }
            self.fetch = self.normalize(Pos::new(self.fetch.file, self.fetch.pos + end as u64));
            if end == 0 {
                break;
            }
        }
    }

    /// Whether the reader needs bytes that are only on disk.
    fn wants_disk_read(&self) -> bool {
        self.readahead_bytes < READAHEAD_LIMIT / 2
            && self.fetch < self.written_end
            && self.tail_index(self.fetch).is_none()
    }

    fn segment_end(&self, file: u64) -> u64 {
        if file == self.written_end.file {
            self.written_end.pos
        } else {
            self.finished.get(&file).copied().unwrap_or(0)
        }
    }

    /// The next batch of writes (appends, and a read for the reader), if
    /// any. Writes and syncs are separate lanes: writes go on while an
    /// fsync runs, and publishers are answered once their records are
    /// written (or synced, with --sync-every=1).
    pub fn poll_write(&mut self, now: Nanos) -> Option<IoJob> {
        if self.write_job.is_some() || self.closed {
            return None;
        }
        if self.pending_empty.is_some() {
            // Removing the emptied files waits for a running sync.
            if self.sync_job.is_some() {
                return None;
            }
            let segments = self.pending_empty.take().unwrap_or_default();
            let mut job = IoJob::default();
            for n in segments {
                job.removes.push(files::segment(&self.cfg.name, n));
                job.removes.push(files::checksums(&self.cfg.name, n));
            }
            job.removes.push(files::meta(&self.cfg.name));
            self.write_job = Some(WriteJob::empties(self.epoch));
            return Some(job);
        }
        if self.failing() && now < self.retry_at {
            return None;
        }
        let unsynced = self.written_seq - self.synced_seq;
        let may_write =
            self.cfg.sync_every <= 1 || unsynced < SYNC_LAG_WINDOWS * self.cfg.sync_every;
        let mut job = IoJob::default();
        let mut w = WriteJob::new(self.epoch, self.write_end, self.write_seq, self.written_crc);
        if may_write {
            self.freeze_building();
            if self.repair {
                // A failed write may have left part of a batch behind: cut
                // every file it touched back to what is known to be written.
                for n in self.written_end.file..=self.write_end.file {
                    let (pos, crc) = if n == self.written_end.file {
                        (self.written_end.pos, self.written_crc)
                    } else {
                        (0, 0)
                    };
                    job.truncates.push((files::segment(&self.cfg.name, n), pos));
                    job.truncates
                        .push((files::checksums(&self.cfg.name, n), crc));
                }
            }
            let mut crc_file = self.written_end.file;
            for c in self.tail.iter().skip(self.tail_written) {
                if c.start == 0 {
                    // A new segment: whatever a file of that name holds is
                    // stale (left by a crash mid-removal) and must not precede it.
                    job.truncates
                        .push((files::segment(&self.cfg.name, c.file), 0));
                    job.truncates
                        .push((files::checksums(&self.cfg.name, c.file), 0));
                }
                job.appends
                    .push((files::segment(&self.cfg.name, c.file), c.data.clone()));
                job.appends
                    .push((files::checksums(&self.cfg.name, c.file), c.crcs.clone()));
                w.records += c.records;
                w.files.insert(c.file);
                if c.file != crc_file {
                    crc_file = c.file;
                    w.crc_to = 0;
                }
                w.crc_to += c.crcs.len() as u64;
            }
            w.chunks = self.tail.len() - self.tail_written;
            w.write_to = (self.write_end, self.write_seq);
        }
        if self.wants_disk_read() {
            let end = self.segment_end(self.fetch.file);
            // A chunk always holds a whole record, even one of the largest
            // size: the reader only moves on by whole records.
            let chunk = READ_CHUNK.max(record::HEADER as usize + self.cfg.max_msg_size as usize);
            let max = (end.saturating_sub(self.fetch.pos) as usize).min(chunk);
            if max > 0 {
                job.read = Some(ReadRequest {
                    name: files::segment(&self.cfg.name, self.fetch.file),
                    offset: self.fetch.pos,
                    max,
                });
                w.read_from = Some(self.fetch);
            }
        }
        if job.is_empty() {
            return None;
        }
        self.write_job = Some(w);
        Some(job)
    }

    /// Whether a sync (with the metadata) is due.
    fn sync_due(&self, now: Nanos) -> bool {
        let unsynced = self.written_seq - self.synced_seq;
        let moved = self.watermark() != self.persisted_watermark;
        let waited = self
            .last_sync
            .is_some_and(|t| now - t >= self.cfg.sync_timeout);
        self.force_sync && self.write_job.is_none() && !self.has_unwritten()
            || unsynced >= self.cfg.sync_every
            || ((unsynced > 0 || moved || !self.pending_acks.is_empty()) && waited)
            || self.deferrals_to_write.is_some() && !self.has_unwritten()
    }

    fn has_unwritten(&self) -> bool {
        self.tail.len() > self.tail_written || self.building.as_ref().is_some_and(|b| b.records > 0)
    }

    /// The next fsync of what is written, with the metadata describing it
    /// and the removal of segments no longer needed, if due.
    pub fn poll_sync(&mut self, now: Nanos) -> Option<IoJob> {
        if self.sync_job.is_some() || self.pending_empty.is_some() || self.closed {
            return None;
        }
        self.last_sync.get_or_insert(now);
        if !self.sync_due(now) {
            return None;
        }
        // The reader may have taken records still in memory, not yet
        // written: the metadata cannot point past what this sync covers
        // (those records were never acknowledged to their producers).
        // Positions decide: until a wrong depth from damaged metadata has
        // settled, the reader's sequence numbers need not match the writer's.
        let (w, wseq) = self.watermark();
        let watermark = if w > self.written_end {
            (self.written_end, self.written_seq)
        } else {
            (w, wseq)
        };
        let files = std::mem::take(&mut self.dirty_files);
        let mut job = IoJob::default();
        for f in &files {
            job.syncs.push(files::segment(&self.cfg.name, *f));
            job.syncs.push(files::checksums(&self.cfg.name, *f));
        }
        // The metadata describes what this fsync makes durable.
        let meta = Meta {
            depth: self.written_seq.saturating_sub(watermark.1) as i64,
            read: watermark.0,
            write: self.written_end,
        };
        job.atomic_writes
            .push((files::meta(&self.cfg.name), meta.encode_padded()));
        if let Some(d) = self.deferrals_to_write.take() {
            job.atomic_writes
                .push((files::deferrals(&self.cfg.name), d));
        }
        let remove_below = watermark.0.file;
        for n in self.known_segments(remove_below) {
            job.removes.push(files::segment(&self.cfg.name, n));
            job.removes.push(files::checksums(&self.cfg.name, n));
        }
        self.sync_job = Some(SyncJob {
            epoch: self.epoch,
            synced_to: self.written_seq,
            files,
            watermark,
            remove_below,
        });
        Some(job)
    }

    /// The queue is being deleted: what it holds is dropped, it asks for no
    /// more disk work, and the jobs already running finish (their outcomes
    /// are taken in and ignored) before its files may be removed.
    pub fn close(&mut self) {
        self.closed = true;
        self.building = None;
        self.tail.clear();
        self.tail_written = 0;
        self.tail_bytes = 0;
        self.readahead.clear();
        self.readahead_bytes = 0;
        self.outstanding.clear();
        self.carried.clear();
        self.pending_acks.clear();
        self.deferrals_to_write = None;
        self.pending_empty = None;
        self.force_sync = false;
    }

    /// Whether a job is being performed.
    pub fn io_busy(&self) -> bool {
        self.write_job.is_some() || self.sync_job.is_some()
    }

    /// Whether there is disk work waiting for [`DiskQueue::poll_write`] or
    /// [`DiskQueue::poll_sync`].
    pub fn wants_io(&self, now: Nanos) -> bool {
        if self.closed {
            return false;
        }
        if self.pending_empty.is_some() {
            return self.write_job.is_none();
        }
        if self.failing() {
            return now >= self.retry_at && !self.io_busy();
        }
        (self.write_job.is_none() && (self.has_unwritten() || self.wants_disk_read()))
            || (self.sync_job.is_none() && self.sync_due(now))
    }

    /// Whether writes, a sync or a removal are still to be done (reads aside).
    pub fn has_pending_writes(&self) -> bool {
        self.io_busy()
            || self.pending_empty.is_some()
            || self.has_unwritten()
            || self.force_sync
            || self.deferrals_to_write.is_some()
    }

    /// When the queue next wants I/O for time reasons (sync timeout, retry).
    pub fn next_deadline(&self) -> Option<Nanos> {
        if self.closed {
            return None;
        }
        if self.failing() {
            // A running job's outcome comes first (and may heal).
            return (!self.io_busy()).then_some(self.retry_at);
        }
        if self.sync_job.is_some() {
            // The running sync's outcome is the next thing to wait for: a
            // deadline already due would only spin the I/O task meanwhile.
            return None;
        }
        let pending = self.written_seq > self.synced_seq
            || self.watermark() != self.persisted_watermark
            || !self.pending_acks.is_empty();
        match (pending, self.last_sync) {
            (true, Some(t)) => Some(t + self.cfg.sync_timeout),
            (true, None) => Some(0),
            _ => None,
        }
    }

    /// Takes in the outcome of the job from [`DiskQueue::poll_write`].
    pub fn complete_write(&mut self, outcome: IoOutcome, now: Nanos) {
        let Some(w) = self.write_job.take() else {
            return;
        };
        if w.empties || w.epoch != self.epoch || self.closed {
            return;
        }
        match outcome.write {
            Ok(()) => {
                if w.chunks > 0 {
                    self.dirty_files.extend(w.files.iter().copied());
                    self.written_end = w.write_to.0;
                    self.written_seq = w.write_to.1;
                    self.written_crc = w.crc_to;
                    self.tail_written += w.chunks;
                }
                self.write_error = None;
                self.repair = false;
            }
            Err(e) => {
                self.write_error = Some(format!("disk queue {}: {e}", self.cfg.name));
                self.retry_at = now + RETRY_AFTER;
                self.repair = w.chunks > 0;
            }
        }
        if let (Some(from), Some(read)) = (w.read_from, outcome.read) {
            match read {
                Ok(buf) if from == self.fetch => {
                    self.read_error = None;
                    self.take_read(Bytes::from(buf));
                }
                Ok(_) => {}
                Err(e) => {
                    self.read_error =
                        Some(format!("disk queue {}: read failed: {e}", self.cfg.name));
                    self.retry_at = now + RETRY_AFTER;
                }
            }
        }
        self.evict_tail();
        self.settle_at_tail();
    }

    /// Takes in the outcome of the job from [`DiskQueue::poll_sync`].
    pub fn complete_sync(&mut self, outcome: IoOutcome, now: Nanos) {
        let Some(s) = self.sync_job.take() else {
            return;
        };
        if s.epoch != self.epoch || self.closed {
            return;
        }
        if outcome.write.is_err() || !outcome.synced {
            // Nothing is known durable: the files stay dirty, try again later.
            self.dirty_files.extend(s.files);
            if let Err(e) = outcome.write {
                self.sync_error = Some(format!("disk queue {}: sync failed: {e}", self.cfg.name));
                self.retry_at = now + RETRY_AFTER;
            }
            return;
        }
        self.sync_error = None;
        self.synced_seq = self.synced_seq.max(s.synced_to);
        self.last_sync = Some(now);
        if self.write_job.is_none() && !self.has_unwritten() && self.written_seq == s.synced_to {
            self.force_sync = false;
        }
        self.persisted_watermark = s.watermark;
        if outcome.removed {
            self.oldest_file = self.oldest_file.max(s.remove_below);
            self.finished = self.finished.split_off(&self.oldest_file);
        }
        while let Some(&(needs, seq)) = self.pending_acks.front() {
            if needs > self.synced_seq {
                break;
            }
            self.pending_acks.pop_front();
            self.outstanding.remove(seq);
        }
    }

    fn take_read(&mut self, buf: Bytes) {
        let (found, end, stop) = record::scan(
            &buf,
            self.cfg.min_msg_size,
            self.cfg.max_msg_size,
            |_, _, _| true,
        );
        for f in &found {
            self.fetch_seq += 1;
            let pos = Pos::new(self.fetch.file, self.fetch.pos + f.offset as u64);
            self.readahead_bytes += f.len;
            self.readahead.push_back((
                self.fetch_seq,
                pos,
                buf.slice(f.offset + 4..f.offset + 4 + f.len),
            ));
        }
        // A chunk holds a whole record, so a record cut short at the end of
        // what was asked for is a torn end of a finished segment.
        let torn_end = stop == Some(record::Stop::Incomplete)
            && self.fetch.pos + buf.len() as u64 >= self.segment_end(self.fetch.file)
            && self.fetch.file < self.written_end.file;
        self.fetch = self.normalize(Pos::new(self.fetch.file, self.fetch.pos + end as u64));
        if torn_end
            || matches!(
                stop,
                Some(record::Stop::BadLength(_) | record::Stop::BadChecksum)
            )
        {
            // Corruption inside a segment we took for good: skip the rest of
            // it (as NSQ does) and say so; depth settles once the reader
            // reaches the end.
            self.corrupt_skips += 1;
            self.finished
                .entry(self.fetch.file)
                .or_insert(self.fetch.pos);
            self.fetch = if self.fetch.file < self.written_end.file {
                self.normalize(Pos::new(self.fetch.file + 1, 0))
            } else {
                self.written_end
            };
            self.read_error = Some(format!(
                "disk queue {}: corrupt record in segment {}, skipped to the next one",
                self.cfg.name, self.fetch.file
            ));
        }
    }

    /// Records are counted from the metadata's depth, which can be wrong
    /// (damaged metadata, records skipped as corrupt). Once the reader has
    /// fetched everything the count is known exactly: settle it there, as
    /// go-diskqueue resets a depth that is not 0 at the tail, and persist it.
    fn settle_at_tail(&mut self) {
        if self.io_busy()
            || !self.readahead.is_empty()
            || self.fetch < self.write_end
            || self.write_seq == self.fetch_seq
        {
            return;
        }
        let (from, to) = (self.write_seq, self.fetch_seq);
        let shift = |v: u64| v.saturating_add(to).saturating_sub(from);
        self.written_seq = shift(self.written_seq);
        self.synced_seq = shift(self.synced_seq);
        for (needs, _) in &mut self.pending_acks {
            *needs = shift(*needs);
        }
        self.write_seq = to;
        self.force_sync = true;
    }

    fn evict_tail(&mut self) {
        while self.tail_written > 0 {
            let Some(front) = self.tail.front() else {
                break;
            };
            let consumed = front.end() <= self.fetch;
            if !consumed && self.tail_bytes <= TAIL_CACHE {
                break;
            }
            self.tail_bytes -= front.data.len();
            self.tail.pop_front();
            self.tail_written -= 1;
        }
    }

    /// Acknowledges a record handed out earlier (FIN).
    pub fn ack(&mut self, seq: u64) {
        self.outstanding.remove(seq);
    }

    /// Asks for a sync and metadata write at the next opportunity (shutdown).
    pub fn request_sync(&mut self) {
        self.force_sync = true;
    }

    /// At shutdown: forget what is outstanding (its copies are being
    /// rewritten) so the metadata points at the first unread record.
    pub fn release_outstanding(&mut self) {
        self.outstanding.clear();
        self.pending_acks.clear();
    }

    /// At shutdown: store when these messages (already in the queue) are due.
    /// No side file is written when there are none (a stale one is emptied).
    pub fn write_deferrals(&mut self, entries: &[(MessageId, Nanos)]) {
        if entries.is_empty() && !self.deferrals_file {
            return;
        }
        self.deferrals_file = !entries.is_empty();
        let mut out = Vec::with_capacity(entries.len() * 24);
        for (id, deadline) in entries {
            out.extend_from_slice(&id.0);
            out.extend_from_slice(&deadline.to_be_bytes());
        }
        self.deferrals_to_write = Some(out);
    }

    pub(crate) fn parse_deferrals(raw: &[u8]) -> BTreeMap<MessageId, Nanos> {
        raw.chunks_exact(24)
            .filter_map(|c| {
                let id = MessageId::from_slice(&c[..16])?;
                let mut d = [0u8; 8];
                d.copy_from_slice(&c[16..]);
                Some((id, Nanos::from_be_bytes(d)))
            })
            .collect()
    }
}

/// Where a reader at `p` reads next: `p` itself, unless it sits at (or
/// past) the end of a finished segment or in a segment before the write
/// segment that does not exist; then the start of the next segment that
/// does (or the write segment).
fn next_readable(finished: &BTreeMap<u64, u64>, write: Pos, mut p: Pos) -> Pos {
    while p.file < write.file {
        if finished.get(&p.file).is_some_and(|&end| p.pos < end) {
            break;
        }
        let next = finished
            .range(p.file + 1..)
            .next()
            .map_or(write.file, |(&n, _)| n.min(write.file));
        p = Pos::new(next, 0);
    }
    p
}

/// The queue as its topic or channel uses it.
impl DiskQueue {
    /// Whether `count` more messages of `bytes` total would be taken.
    pub fn can_accept(&self, count: usize, bytes: usize) -> Result<(), StorageError> {
        if let Some(e) = self.write_error.as_ref().or(self.sync_error.as_ref()) {
            return Err(StorageError(e.clone()));
        }
        let max = self.cfg.max_disk_bytes;
        if max == 0 {
            return Ok(());
        }
        let add = bytes as u64 + (count as u64) * (record::HEADER + MIN_ENCODED_LEN as u64);
        let live = self.live_bytes();
        if live + add > max {
            return Err(StorageError(format!(
                "disk queue {} full ({live} bytes, --max-disk-bytes={max})",
                self.cfg.name
            )));
        }
        Ok(())
    }

    /// Stores one message.
    pub fn put(&mut self, msg: &Message) -> Result<(), StorageError> {
        self.can_accept(1, msg.body.len())?;
        self.append_message(msg);
        if msg.origin != 0 {
            // A copy of one of our own records (a requeue): the old one is
            // done once the new one is durable.
            self.pending_acks.push_back((self.write_seq, msg.origin));
        }
        Ok(())
    }

    /// The next record, decoded (it stays outstanding until acknowledged).
    pub fn pop(&mut self) -> Option<Message> {
        loop {
            if self.readahead.is_empty() {
                self.fill_from_tail();
            }
            let Some((seq, pos, data)) = self.readahead.pop_front() else {
                self.settle_at_tail();
                return None;
            };
            self.readahead_bytes -= data.len();
            self.read = self.normalize(Pos::new(
                pos.file,
                pos.pos + record::HEADER + data.len() as u64,
            ));
            self.read_seq = seq;
            if self.carried.remove(&pos) {
                // A copy of a message that is out already: passed over.
                continue;
            }
            match Message::decode(data) {
                Ok(mut msg) => {
                    msg.origin = seq;
                    let len = record::HEADER + msg.encoded_len() as u64;
                    self.outstanding.insert(seq, pos, len);
                    return Some(msg);
                }
                Err(_) => self.corrupt_skips += 1,
            }
        }
    }

    /// Messages stored and not yet handed out (copies carried forward,
    /// whose messages are out already, do not count).
    pub fn depth(&self) -> u64 {
        self.unread().saturating_sub(self.carried.len() as u64)
    }

    /// Whether the reader moved into a later segment since the last call
    /// (then [`DiskQueue::pinning`] may name records to carry forward).
    pub fn take_rolled(&mut self) -> bool {
        let now = self.normalize(self.read).file;
        now != std::mem::replace(&mut self.seen_read_file, now)
    }

    /// Outstanding records in segments the reader has left: each keeps its
    /// segment, and every later one, on disk for as long as its message is
    /// held (in flight, deferred). Their holder carries them forward.
    pub fn pinning(&self) -> BTreeSet<u64> {
        let read = self.normalize(self.read).file;
        self.outstanding
            .iter()
            .filter(|(_, p)| p.file < read)
            .map(|(seq, _)| seq)
            .collect()
    }

    /// Carries an outstanding record forward: `msg` (its message, with
    /// `msg.origin` the record) is appended again at the head as a record
    /// the reader passes over, outstanding in its place; the old record is
    /// acknowledged once the copy is durable, so old segments can go while
    /// a message is held for long. Returns the copy's record, the message's
    /// new origin. After a crash the copy is delivered again (at least once).
    pub fn carry(&mut self, msg: &Message) -> u64 {
        let old = msg.origin;
        self.append_message(msg);
        let len = record::HEADER + msg.encoded_len() as u64;
        let pos = Pos::new(self.write_end.file, self.write_end.pos - len);
        let seq = self.write_seq;
        self.carried.insert(pos);
        self.outstanding.insert(seq, pos, len);
        if old != 0 {
            self.pending_acks.push_back((seq, old));
        }
        seq
    }

    /// Bytes of live data: records not handed out yet and records handed
    /// out and not acknowledged (what `--max-disk-bytes` limits; the files
    /// hold at most one segment more, read and done with).
    pub fn live_bytes(&self) -> u64 {
        let read = self.normalize(self.read);
        let unread = if read.file == self.write_end.file {
            self.write_end.pos.saturating_sub(read.pos)
        } else {
            self.finished
                .range(read.file..self.write_end.file)
                .map(|(&f, &end)| {
                    if f == read.file {
                        end.saturating_sub(read.pos)
                    } else {
                        end
                    }
                })
                .sum::<u64>()
                + self.write_end.pos
        };
        unread + self.outstanding.bytes()
    }

    /// Drops every record.
    pub fn empty(&mut self) {
        // Like NSQ: drop every segment, restart at the next file number.
        let segments = self.known_segments(self.write_end.file + 1);
        let next = Pos::new(self.write_end.file + 1, 0);
        let fresh = DiskQueue::at(self.cfg.clone(), next, next, 0, BTreeMap::new());
        let old = std::mem::replace(self, fresh);
        self.epoch = old.epoch + 1;
        self.pending_empty = Some(segments);
        self.write_job = old.write_job;
        self.sync_job = old.sync_job;
        self.recovery = old.recovery;
    }

    /// When a stored message is due, if it was deferred (restored after a restart).
    pub fn deferral(&mut self, id: &MessageId) -> Option<Nanos> {
        if self.deferrals.is_empty() {
            None
        } else {
            self.deferrals.remove(id)
        }
    }
}
