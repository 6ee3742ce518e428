//! Invariants sampled while a run goes on, from nsqd's side: what each
//! connection holds for its client stays within the stated bound, and what
//! each queue keeps on disk stays within its live bytes plus a few segments.

use crate::ledger::Ledger;
use nsq_core::diskqueue::files;
use nsq_runtime_sim::NsqdNode;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the monitor looks.
const EVERY: Duration = Duration::from_millis(200);
/// How long a queue may stay over its disk bound: old segments go at the
/// next sync after the reader has left them, up to --sync-timeout (2 s)
/// later, and a disk that was full or failing catches up first.
const DISK_GRACE: Duration = Duration::from_secs(4);

/// What the monitor watches.
pub struct Monitored {
    pub nsqds: Vec<NsqdNode>,
    pub ledger: Arc<Ledger>,
    /// nsqd's bound on the bytes one connection holds, and on the bytes of
    /// message frames among them.
    pub output_bound: u64,
    pub message_bound: u64,
}

/// Runs until aborted.
pub async fn run(m: Monitored) {
    // Since when each (nsqd, queue) has been over its disk bound.
    let mut over: BTreeMap<(usize, String), madsim::time::Instant> = BTreeMap::new();
    loop {
        madsim::time::sleep(EVERY).await;
        for (i, n) in m.nsqds.iter().enumerate() {
            let Some(p) = n.probe() else { continue };
            let (held, messages) = p.max_connection_output();
            if held > m.output_bound || messages > m.message_bound {
                m.ledger.note_violation(format!(
                    "bounded memory: a connection of nsqd{i} holds {held} bytes for its client, {messages} of messages (bounds {} and {})",
                    m.output_bound, m.message_bound
                ));
            }
            // A failing disk may keep segments it could not remove yet.
            let faults = n.disk.faults();
            if p.health().is_some() || faults.eio || faults.eio_rate > 0.0 || faults.capacity > 0 {
                over.retain(|(j, _), _| *j != i);
                continue;
            }
            for q in p.queue_bytes() {
                let on_disk: u64 = n.disk.with(|d| {
                    let names = nsq_core::io::Disk::list(d).unwrap_or_default();
                    names
                        .iter()
                        .filter(|f| files::segment_number(&q.name, f).is_some())
                        .map(|f| d.contents(f).map_or(0, |c| c.len() as u64))
                        .sum()
                });
                // The segment being read (done with up to the reader), the
                // one written, and one whose removal waits for the next sync.
                let bound = q.live + 3 * q.max_bytes_per_file + 64 * 1024;
                let key = (i, q.name.clone());
                if on_disk <= bound {
                    over.remove(&key);
                    continue;
                }
                let since = *over.entry(key).or_insert_with(madsim::time::Instant::now);
                if since.elapsed() > DISK_GRACE {
                    m.ledger.note_violation(format!(
                        "disk bounded by live data: nsqd{i} queue {} has kept {on_disk} bytes on disk for {} live bytes (segments of {}) for {:?}",
                        q.name, q.live, q.max_bytes_per_file, since.elapsed()
                    ));
                }
            }
        }
    }
}
