//! Which topics and channels exist after a restart: those `nsqd.dat` lists,
//! plus those whose queue files exist although `nsqd.dat` does not list them
//! yet (a crash right after they were created), minus every queue with a
//! tombstone — a deletion that was committed, whatever `nsqd.dat` still
//! says and whatever files survived. A tombstone on a topic covers its
//! channels. Tombstoned queues' files are removed; the tombstones go once
//! `nsqd.dat` has been rewritten without them.

use crate::diskqueue::files;
use crate::metadata::{self, ChannelMeta, Metadata, TopicMeta};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What to load, topics and channels in name order.
    pub topics: Vec<TopicMeta>,
    /// Deleted queues whose files must go (before anything is loaded).
    pub purge: Vec<String>,
    /// Tombstone files to remove once `nsqd.dat` no longer lists their queues.
    pub tombstones: Vec<String>,
    /// What an operator should hear about.
    pub warnings: Vec<String>,
}

/// Plans the start from `nsqd.dat` (`None`: there is none) and the data
/// directory's file names.
pub fn plan(meta: Option<&[u8]>, file_names: &[String]) -> Result<Plan, String> {
    let meta = match meta {
        Some(raw) => Metadata::parse(raw)?,
        None => Metadata::default(),
    };
    let mut plan = Plan::default();
    let deleted: BTreeSet<&str> = file_names
        .iter()
        .filter_map(|f| files::tombstoned_queue(f))
        .collect();
    plan.tombstones = file_names
        .iter()
        .filter(|f| files::tombstoned_queue(f).is_some())
        .cloned()
        .collect();
    let is_deleted = |topic: &str, channel: Option<&str>| {
        deleted.contains(topic)
            || channel
                .is_some_and(|c| deleted.contains(files::channel_queue_name(topic, c).as_str()))
    };
    let mut purge = BTreeSet::new();
    for q in &deleted {
        purge.insert(q.to_string());
    }
    let mut topics = meta.valid_topics();
    for (t, chans) in metadata::queues_on_disk(file_names) {
        let entry = match topics.iter_mut().find(|m| m.name == t) {
            Some(e) => e,
            None => {
                if !is_deleted(&t, None) {
                    plan.warnings.push(format!(
                        "TOPIC({t}): not in {}, loading it from its queue files",
                        metadata::FILE_NAME
                    ));
                }
                topics.push(TopicMeta {
                    name: t.clone(),
                    paused: false,
                    channels: Some(vec![]),
                });
                topics.last_mut().expect("just pushed")
            }
        };
        let list = entry.channels.get_or_insert_with(Vec::new);
        for c in chans {
            if !list.iter().any(|m| m.name == c) {
                if !is_deleted(&t, Some(&c)) {
                    plan.warnings.push(format!(
                        "CHANNEL({t}:{c}): not in {}, loading it from its queue files",
                        metadata::FILE_NAME
                    ));
                }
                list.push(ChannelMeta {
                    name: c,
                    paused: false,
                });
            }
        }
    }
    for t in &mut topics {
        if is_deleted(&t.name, None) {
            continue;
        }
        if let Some(list) = &mut t.channels {
            list.retain(|c| {
                let gone = is_deleted(&t.name, Some(&c.name));
                if gone {
                    purge.insert(files::channel_queue_name(&t.name, &c.name));
                }
                !gone
            });
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    topics.retain(|t| {
        let gone = is_deleted(&t.name, None);
        if gone {
            // A deleted topic's channels go with it.
            for c in t.channels.iter().flatten() {
                purge.insert(files::channel_queue_name(&t.name, &c.name));
            }
            plan.warnings.push(format!(
                "TOPIC({}): deleted before the restart, removing what is left of it",
                t.name
            ));
        }
        !gone
    });
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    plan.topics = topics;
    plan.purge = purge.into_iter().collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn listed(plan: &Plan) -> Vec<String> {
        plan.topics
            .iter()
            .flat_map(|t| {
                std::iter::once(t.name.clone()).chain(
                    t.channels
                        .iter()
                        .flatten()
                        .map(move |c| format!("{}:{}", t.name, c.name)),
                )
            })
            .collect()
    }

    const META: &str = r#"{"topics":[{"name":"t","paused":false,"channels":[{"name":"c0","paused":false},{"name":"c1","paused":true}]}],"version":"1.3.0"}"#;

    #[test]
    fn listed_and_unlisted_queues_load() {
        let files = names(&[
            "nsqd.dat",
            "t.diskqueue.meta.dat",
            "t:c2.diskqueue.000000.dat",
            "u.diskqueue.000000.dat",
        ]);
        let p = plan(Some(META.as_bytes()), &files).unwrap();
        assert_eq!(listed(&p), ["t", "t:c0", "t:c1", "t:c2", "u"]);
        assert!(p.purge.is_empty() && p.tombstones.is_empty());
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    }

    #[test]
    fn a_tombstoned_channel_stays_deleted_even_when_listed() {
        let files = names(&[
            "t.diskqueue.meta.dat",
            "t:c0.diskqueue.000000.dat",
            "t:c0.diskqueue.deleted",
        ]);
        let p = plan(Some(META.as_bytes()), &files).unwrap();
        assert_eq!(listed(&p), ["t", "t:c1"]);
        assert_eq!(p.purge, ["t:c0"]);
        assert_eq!(p.tombstones, ["t:c0.diskqueue.deleted"]);
    }

    #[test]
    fn a_tombstoned_topic_takes_its_channels_along() {
        // The topic's tombstone is written first: a crash may leave its
        // channels' files without tombstones of their own.
        let files = names(&[
            "t.diskqueue.deleted",
            "t:c0.diskqueue.000000.dat",
            "t:c9.diskqueue.meta.dat",
        ]);
        let p = plan(Some(META.as_bytes()), &files).unwrap();
        assert!(listed(&p).is_empty());
        assert_eq!(p.purge, ["t", "t:c0", "t:c1", "t:c9"]);
        // Without nsqd.dat too.
        let p = plan(None, &files).unwrap();
        assert!(listed(&p).is_empty());
        assert_eq!(p.purge, ["t", "t:c0", "t:c9"]);
    }
}
