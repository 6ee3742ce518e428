//! Where disk work runs: on tokio's blocking threads in production (never
//! on a network thread), inline followed by the simulated latency under
//! the simulator.

use nsq_core::broker::QueueKey;
use nsq_core::diskqueue::{execute, IoJob, IoOutcome};
use nsq_core::io::Disk;
use std::sync::Arc;

/// Makes a disk handle (one per topic's I/O task, one per queue opened).
pub type DiskFactory = Arc<dyn Fn() -> Box<dyn Disk + Send> + Send + Sync>;

pub type Outcomes = Vec<(QueueKey, IoOutcome)>;

/// Runs a topic's jobs and gives the disk handle back.
#[cfg(not(madsim))]
pub async fn run_jobs(
    mut disk: Box<dyn Disk + Send>,
    jobs: Vec<(QueueKey, IoJob)>,
) -> (Box<dyn Disk + Send>, Outcomes) {
    let handle = tokio::task::spawn_blocking(move || {
        let outs: Outcomes = jobs
            .into_iter()
            .map(|(k, j)| {
                let o = execute(&j, disk.as_mut());
                (k, o)
            })
            .collect();
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
    let outs: Outcomes = jobs
        .into_iter()
        .map(|(k, j)| {
            let o = execute(&j, disk.as_mut());
            (k, o)
        })
        .collect();
    let latency = disk.take_latency();
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_nanos(latency as u64)).await;
    }
    (disk, outs)
}
