//! The diskqueue behind every durable topic and channel.

use super::disk_io::DiskFactory;
use nsq_core::broker::{Backend, BackendFactory};
use nsq_core::diskqueue::{self, files, DiskQueue, DqConfig};
use nsq_core::Options;

pub struct DiskBackends {
    opts: Options,
    disks: DiskFactory,
}

impl std::fmt::Debug for DiskBackends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskBackends")
            .field("data_path", &self.opts.data_path)
            .finish()
    }
}

impl DiskBackends {
    pub fn new(opts: Options, disks: DiskFactory) -> Self {
        DiskBackends { opts, disks }
    }

    fn open(&self, queue: &str) -> Box<dyn Backend> {
        let cfg = DqConfig::from_options(queue, &self.opts);
        let mut disk = (self.disks)();
        match diskqueue::open(cfg.clone(), disk.as_mut()) {
            Ok(q) => {
                let r = &q.recovery;
                if r.tail_records > 0 {
                    tracing::info!(
                        "DISKQUEUE({queue}): recovered {} records written after the last sync",
                        r.tail_records
                    );
                }
                if !r.is_clean() {
                    tracing::warn!(
                        "DISKQUEUE({queue}): recovery dropped {} bytes, files {:?}: {}",
                        r.dropped_bytes,
                        r.dropped_files,
                        r.notes.join("; ")
                    );
                }
                Box::new(q)
            }
            Err(e) => {
                let msg = format!("failed to open diskqueue {queue} - {e}");
                tracing::error!("{msg}");
                Box::new(DiskQueue::failed(cfg, msg))
            }
        }
    }
}

impl BackendFactory for DiskBackends {
    fn topic_backend(&self, topic: &str) -> Box<dyn Backend> {
        self.open(topic)
    }

    fn channel_backend(&self, topic: &str, channel: &str) -> Box<dyn Backend> {
        self.open(&files::channel_queue_name(topic, channel))
    }
}
