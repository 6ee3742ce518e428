//! nsqd's life on disk: the data directory lock, loading `nsqd.dat` and
//! the queues at start, keeping `nsqd.dat` current, and the graceful
//! shutdown that writes everything held in memory to disk.

use super::shared::Deliver;
use super::Inner;
use crate::clock;
use nsq_core::broker::{Storage, Topic};
use nsq_core::diskqueue::{self, DiskQueue, IoJob};
use nsq_core::io::Disk;
use nsq_core::metadata::{self, Metadata};
use nsq_core::recovery;
use std::sync::Arc;
use std::time::Duration;

/// `--data-path`, or the current directory as in NSQ.
#[cfg(not(madsim))]
pub fn data_dir(opts: &nsq_core::Options) -> std::path::PathBuf {
    if opts.data_path.is_empty() {
        std::env::current_dir().unwrap_or_else(|_| ".".into())
    } else {
        opts.data_path.clone().into()
    }
}

/// An exclusive lock on the data directory (flock on the directory itself,
/// as NSQ's dirlock does, so Go nsqd and ours exclude each other too).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Creates the directory first if it is missing (with its parents):
    /// NSQ v1.3.0 refuses to start then, but a daemon that makes its own
    /// data directory is what an operator expects.
    #[cfg(not(madsim))]
    pub fn acquire(dir: &std::path::Path) -> Result<DirLock, String> {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "failed to lock data-path: cannot create {} - {e}",
                    dir.display()
                )
            })?;
            tracing::info!("created data-path {}", dir.display());
        }
        let file = std::fs::File::open(dir).map_err(|e| {
            format!(
                "failed to lock data-path: cannot open {} - {e}",
                dir.display()
            )
        })?;
        file.try_lock().map_err(|e| {
            format!(
                "failed to lock data-path: {} is in use by another nsqd ({e})",
                dir.display()
            )
        })?;
        Ok(DirLock { _file: file })
    }
}

/// Runs `f` against a fresh disk handle somewhere it may block.
async fn with_disk<R: Send + 'static>(
    inner: &Inner,
    f: impl FnOnce(&mut dyn Disk) -> R + Send + 'static,
) -> Option<R> {
    let disks = inner.disks.clone()?;
    #[cfg(not(madsim))]
    {
        tokio::task::spawn_blocking(move || f(disks().as_mut()))
            .await
            .ok()
    }
    #[cfg(madsim)]
    {
        let mut d = disks();
        let r = f(d.as_mut());
        let latency = d.take_latency();
        if latency > 0 {
            tokio::time::sleep(Duration::from_nanos(latency as u64)).await;
        }
        Some(r)
    }
}

/// Opens one queue's diskqueue, repairing what a crash left (a disk job,
/// off the network threads); a queue that cannot be opened refuses
/// everything and says why.
async fn open_queue(inner: &Inner, topic: &str, channel: Option<&str>) -> Storage {
    let Some(cfg) = inner.registry.config().disk_config(topic, channel) else {
        return Storage::Refuse;
    };
    let name = cfg.name.clone();
    let opened = with_disk(inner, move |d| {
        diskqueue::open(cfg.clone(), d).map_err(|e| (cfg, e))
    })
    .await;
    match opened {
        Some(Ok(q)) => {
            let r = &q.recovery;
            if r.tail_records > 0 {
                tracing::info!(
                    "DISKQUEUE({name}): recovered {} records written after the last sync",
                    r.tail_records
                );
            }
            if !r.is_clean() {
                tracing::warn!(
                    "DISKQUEUE({name}): recovery dropped {} bytes, files {:?}: {}",
                    r.dropped_bytes,
                    r.dropped_files,
                    r.notes.join("; ")
                );
            }
            Storage::disk(q)
        }
        Some(Err((cfg, e))) => {
            let msg = format!("failed to open diskqueue {name} - {e}");
            tracing::error!("{msg}");
            Storage::disk(DiskQueue::failed(cfg, msg))
        }
        None => Storage::Refuse,
    }
}

/// Removes every file of the given queues and syncs the directory.
async fn remove_queues(
    inner: &Inner,
    queues: Vec<String>,
    files: Vec<String>,
) -> Result<(), String> {
    let job = IoJob {
        removes: files,
        remove_queues: queues,
        sync_dir: true,
        ..IoJob::default()
    };
    let out = with_disk(inner, move |d| diskqueue::execute(&job, d))
        .await
        .ok_or("disk worker failed")?;
    match (out.write, out.removed) {
        (Ok(()), true) => Ok(()),
        (Err(e), _) => Err(e.to_string()),
        (Ok(()), false) => Err("removing files failed".into()),
    }
}

/// Loads what the data directory holds (`nsq_core::recovery` decides
/// which topics and channels exist): removes what was deleted, opens every
/// queue, creates the topics and channels with their paused flags, then
/// rewrites `nsqd.dat` and drops the tombstones it no longer needs.
pub async fn load(inner: &Arc<Inner>) -> Result<(), String> {
    let found = with_disk(
        inner,
        |d| -> Result<(Option<Vec<u8>>, Vec<String>), String> {
            let meta = d
                .read_all(metadata::FILE_NAME)
                .map_err(|e| format!("failed to read metadata - {e}"))?;
            let files = d
                .list()
                .map_err(|e| format!("failed to list the data path - {e}"))?;
            Ok((meta, files))
        },
    )
    .await
    .ok_or("disk worker failed")??;
    let (raw, files) = found;
    let plan = recovery::plan(raw.as_deref(), &files)?;
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    if !plan.purge.is_empty() {
        remove_queues(inner, plan.purge.clone(), Vec::new())
            .await
            .map_err(|e| format!("failed to remove deleted queues {:?} - {e}", plan.purge))?;
    }
    for t in plan.topics {
        let backlog = open_queue(inner, &t.name, None).await;
        let mut channels = Vec::new();
        for c in t.channels.iter().flatten() {
            channels.push((c.clone(), open_queue(inner, &t.name, Some(&c.name)).await));
        }
        let cfg = inner.registry.config().clone();
        let cell = inner.registry.insert_loaded(&t.name, |seed| {
            Topic::with_backlog(&t.name, cfg, backlog, seed)
        });
        let mut st = cell.lock();
        let now = clock::now();
        // Every channel first, then the pump: each channel gets the backlog.
        st.topic.pause();
        for (c, storage) in channels {
            let ch = st.topic.add_loaded_channel(&c.name, storage);
            if c.paused {
                ch.pause();
            }
            let depth = ch.depth();
            tracing::info!("CHANNEL({}:{}): loaded, depth {depth}", t.name, c.name);
        }
        if !t.paused {
            st.topic.unpause(now, &mut Deliver::default());
        }
        tracing::info!("TOPIC({}): loaded, depth {}", t.name, st.topic.depth());
        cell.after_op(&mut st);
    }
    if !plan.tombstones.is_empty() {
        // nsqd.dat first: once it no longer lists them, the tombstones can go.
        write_metadata(inner, current_metadata(inner).encode()).await?;
        remove_queues(inner, Vec::new(), plan.tombstones)
            .await
            .map_err(|e| format!("failed to remove tombstones - {e}"))?;
    }
    Ok(())
}

/// What `nsqd.dat` should say now.
fn current_metadata(inner: &Inner) -> Metadata {
    let topics = inner
        .registry
        .all()
        .iter()
        .filter_map(|cell| {
            let st = cell.lock();
            if st.deleted {
                return None;
            }
            let channels = st
                .topic
                .channels()
                .map(|c| metadata::ChannelMeta {
                    name: c.name().to_string(),
                    paused: c.is_paused(),
                })
                .collect();
            Some(metadata::TopicMeta {
                name: cell.name.clone(),
                paused: st.topic.is_paused(),
                channels: Some(channels),
            })
        })
        .collect::<Vec<_>>();
    Metadata::from_topics(topics)
}

async fn write_metadata(inner: &Inner, bytes: Vec<u8>) -> Result<(), String> {
    with_disk(inner, move |d| d.write_atomic(metadata::FILE_NAME, &bytes))
        .await
        .ok_or("disk worker failed")?
        .map_err(|e| format!("failed to persist metadata - {e}"))
}

/// Keeps `nsqd.dat` in step with the topics and channels: written when
/// something changed (checked at once after a change, and every 100 ms),
/// each write numbered so deletions know when they may drop their
/// tombstones (see `MetaWrites`).
pub async fn persist_metadata_loop(inner: Arc<Inner>) {
    let meta = Arc::clone(&inner.registry.meta);
    let mut last: Vec<u8> = Vec::new();
    loop {
        let wake = meta.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let generation = meta.begin();
        let now = current_metadata(&inner).encode();
        let written = if now != last {
            match write_metadata(&inner, now.clone()).await {
                Ok(()) => {
                    last = now;
                    true
                }
                Err(e) => {
                    tracing::error!("{e}");
                    false
                }
            }
        } else {
            true
        };
        if written {
            meta.persisted(generation);
        }
        tokio::select! {
            biased; // a fixed order, so simulated runs repeat (README: Simulation)
            _ = wake => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Asks every connection to close and waits (briefly) until they have.
pub async fn close_connections(inner: &Inner) {
    for c in inner.conns.all() {
        c.request_close();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let changed = inner.conns.removed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if inner.conns.is_empty() {
            return;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if tokio::time::timeout(left, changed).await.is_err() {
            tracing::warn!("{} connections did not close in time", inner.conns.len());
            return;
        }
    }
}

/// Writes every message held in memory to disk, waits until every queue
/// is synced, then writes `nsqd.dat`.
pub async fn persist_all(inner: &Inner) {
    let cells = inner.registry.all();
    for cell in &cells {
        let mut st = cell.lock();
        if !st.deleted {
            st.topic.persist_for_shutdown();
        }
        drop(st);
        cell.wake_io();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for cell in &cells {
        loop {
            let done = cell.io_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            let (idle, health) = {
                let st = cell.lock();
                (st.deleted || st.topic.io_idle(), st.topic.health())
            };
            if idle {
                break;
            }
            cell.wake_io();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if tokio::time::timeout(left, done).await.is_err() {
                tracing::error!(
                    "TOPIC({}): could not write everything to disk before exiting: {}",
                    cell.name,
                    health.unwrap_or_else(|| "timed out".into())
                );
                break;
            }
        }
    }
    let meta = current_metadata(inner).encode();
    if let Err(e) = write_metadata(inner, meta).await {
        tracing::error!("{e}");
    }
}
