//! `nsqd.dat` (`metadata::Metadata`) and finding queues from file names
//! (`metadata::queues_on_disk`), both read at nsqd's start.
//!
//! Input: the file's bytes (also read as a list of file names, one a line).
//! Checks: parse∘encode∘parse is stable; the topics nsqd would load have
//! valid names, and writing them back (`from_topics`) is idempotent and
//! drops ephemeral ones; queues found on disk have valid, durable names.

use nsq_core::metadata::{queues_on_disk, Metadata};
use nsq_core::wire::names::{is_ephemeral, is_valid_channel_name, is_valid_topic_name};

pub fn run(data: &[u8]) {
    if let Ok(m) = Metadata::parse(data) {
        let again = Metadata::parse(&m.encode()).expect("what we write we read");
        assert_eq!(again, m);
        assert_eq!(again.encode(), m.encode());

        let loaded = m.valid_topics();
        for t in &loaded {
            assert!(is_valid_topic_name(&t.name));
            for c in t.channels.iter().flatten() {
                assert!(is_valid_channel_name(&c.name));
            }
        }
        let stored = Metadata::from_topics(loaded);
        for t in stored.topics.iter().flatten() {
            assert!(!is_ephemeral(&t.name));
            let chans = t.channels.as_ref();
            assert!(chans.is_none_or(|c| !c.is_empty()), "no channels is null");
            assert!(chans.into_iter().flatten().all(|c| !is_ephemeral(&c.name)));
        }
        assert_eq!(Metadata::from_topics(stored.valid_topics()), stored);
        assert_eq!(Metadata::parse(&stored.encode()).as_ref(), Ok(&stored));
    }

    let names: Vec<String> = String::from_utf8_lossy(data)
        .split('\n')
        .map(str::to_string)
        .collect();
    for (topic, channels) in queues_on_disk(&names) {
        assert!(is_valid_topic_name(&topic) && !is_ephemeral(&topic));
        for c in channels {
            assert!(is_valid_channel_name(&c) && !is_ephemeral(&c));
        }
    }
}
