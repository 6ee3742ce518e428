//! Where disk work runs. In production: appends alone (copies into the
//! page cache, tens of microseconds for a batch) run right on the topic's
//! I/O task, since handing them to a blocking thread and back costs more
//! than the copy; fsyncs, metadata, removals and reads run on tokio's
//! blocking threads, never on a network thread. Under the simulator: inline,
//! followed by the simulated latency.

use nsq_core::broker::QueueKey;
use nsq_core::diskqueue::{execute, IoJob, IoOutcome};
use nsq_core::io::Disk;
use std::sync::Arc;

/// Makes a disk handle (one per topic's I/O task, one per queue opened).
pub type DiskFactory = Arc<dyn Fn() -> Box<dyn Disk + Send> + Send + Sync>;

pub type Outcomes = Vec<(QueueKey, IoOutcome)>;

/// The most bytes of appends done on the I/O task itself; larger batches
/// go to a blocking thread like every other job.
#[cfg(not(madsim))]
const INLINE_APPENDS: usize = 1 << 20;

/// Performs each queue's job in turn, wherever the caller runs it.
fn execute_all(disk: &mut dyn Disk, jobs: Vec<(QueueKey, IoJob)>) -> Outcomes {
    jobs.into_iter()
        .map(|(k, j)| {
            let o = execute(&j, disk);
            (k, o)
        })
        .collect()
}

/// Runs a topic's jobs and gives the disk handle back.
#[cfg(not(madsim))]
pub async fn run_jobs(
    mut disk: Box<dyn Disk + Send>,
    jobs: Vec<(QueueKey, IoJob)>,
) -> (Box<dyn Disk + Send>, Outcomes) {
    let appended: usize = jobs.iter().map(|(_, j)| j.append_bytes()).sum();
    if appended <= INLINE_APPENDS && jobs.iter().all(|(_, j)| j.is_append_only()) {
        let outs = execute_all(disk.as_mut(), jobs);
        return (disk, outs);
    }
    let handle = tokio::task::spawn_blocking(move || {
        let outs = execute_all(disk.as_mut(), jobs);
        (disk, outs)
    });
    match handle.await {
        Ok(r) => r,
        Err(e) => panic!("disk worker failed: {e}"),
    }
}

#[cfg(madsim)]
pub async fn run_jobs(
    mut disk: Box<dyn Disk + Send>,
    jobs: Vec<(QueueKey, IoJob)>,
) -> (Box<dyn Disk + Send>, Outcomes) {
    let outs = execute_all(disk.as_mut(), jobs);
    let latency = disk.take_latency();
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_nanos(latency as u64)).await;
    }
    (disk, outs)
}
