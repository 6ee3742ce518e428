//! `nsqd.dat`: the topics and channels nsqd carries and whether they are
//! paused, in NSQ's JSON (ephemeral ones are never stored), plus finding
//! queues from their files, so data written before `nsqd.dat` caught up
//! (a crash right after a topic was created) is never orphaned.

use crate::wire::names::{is_ephemeral, is_valid_channel_name, is_valid_topic_name};
use crate::NSQ_VERSION;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const FILE_NAME: &str = "nsqd.dat";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMeta {
    pub name: String,
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    #[serde(default)]
    pub paused: bool,
    /// `null` when there are none, as Go writes a nil slice.
    #[serde(default)]
    pub channels: Option<Vec<ChannelMeta>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub topics: Option<Vec<TopicMeta>>,
    #[serde(default)]
    pub version: String,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            topics: None,
            version: NSQ_VERSION.to_string(),
        }
    }
}

impl Metadata {
    pub fn parse(raw: &[u8]) -> Result<Metadata, String> {
        serde_json::from_slice(raw).map_err(|e| format!("failed to parse metadata - {e}"))
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Builds the file from topics in any order; ephemeral topics and
    /// channels are left out, names sorted, empty channel lists `null`.
    pub fn from_topics(topics: impl IntoIterator<Item = TopicMeta>) -> Metadata {
        let mut list: Vec<TopicMeta> = topics
            .into_iter()
            .filter(|t| !is_ephemeral(&t.name))
            .map(|mut t| {
                let mut chans: Vec<ChannelMeta> = t
                    .channels
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| !is_ephemeral(&c.name))
                    .collect();
                chans.sort_by(|a, b| a.name.cmp(&b.name));
                t.channels = (!chans.is_empty()).then_some(chans);
                t
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Metadata {
            topics: (!list.is_empty()).then_some(list),
            version: NSQ_VERSION.to_string(),
        }
    }

    /// The valid topics, each with its valid channels (invalid names are
    /// skipped, as NSQ skips them).
    pub fn valid_topics(&self) -> Vec<TopicMeta> {
        self.topics
            .iter()
            .flatten()
            .filter(|t| is_valid_topic_name(&t.name))
            .map(|t| TopicMeta {
                name: t.name.clone(),
                paused: t.paused,
                channels: Some(
                    t.channels
                        .iter()
                        .flatten()
                        .filter(|c| is_valid_channel_name(&c.name))
                        .cloned()
                        .collect(),
                ),
            })
            .collect()
    }
}

/// Topics and channels that have diskqueue files in a data directory
/// (`<topic>.diskqueue.meta.dat`, `<topic>:<channel>.diskqueue.000000.dat`, ...).
pub fn queues_on_disk(file_names: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in file_names {
        let Some((queue, _)) = f.split_once(".diskqueue.") else {
            continue;
        };
        match queue.split_once(':') {
            Some((t, c))
                if is_valid_topic_name(t)
                    && !is_ephemeral(t)
                    && is_valid_channel_name(c)
                    && !is_ephemeral(c) =>
            {
                out.entry(t.to_string()).or_default().insert(c.to_string());
            }
            None if is_valid_topic_name(queue) && !is_ephemeral(queue) => {
                out.entry(queue.to_string()).or_default();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_FILE: &str = r#"{"topics":[{"name":"alpha","paused":false,"channels":[{"name":"c1","paused":false},{"name":"c2","paused":true}]},{"name":"beta","paused":true,"channels":[{"name":"only","paused":false}]},{"name":"gamma","paused":false,"channels":null}],"version":"1.3.0"}"#;

    #[test]
    fn reads_and_writes_nsqs_format() {
        let m = Metadata::parse(GO_FILE.as_bytes()).unwrap();
        let topics = m.valid_topics();
        assert_eq!(topics.len(), 3);
        assert!(topics[1].paused);
        assert!(topics[0].channels.as_ref().unwrap()[1].paused);
        let t = |name: &str, paused, chans: &[(&str, bool)]| TopicMeta {
            name: name.into(),
            paused,
            channels: Some(
                chans
                    .iter()
                    .map(|(c, p)| ChannelMeta {
                        name: c.to_string(),
                        paused: *p,
                    })
                    .collect(),
            ),
        };
        let again = Metadata::from_topics(vec![
            t("gamma", false, &[]),
            t("beta", true, &[("only", false)]),
            t(
                "alpha",
                false,
                &[("c2", true), ("c1", false), ("x#ephemeral", false)],
            ),
            t("tmp#ephemeral", false, &[]),
        ]);
        assert_eq!(String::from_utf8(again.encode()).unwrap(), GO_FILE);
        assert_eq!(
            String::from_utf8(Metadata::from_topics(vec![]).encode()).unwrap(),
            r#"{"topics":null,"version":"1.3.0"}"#
        );
    }

    #[test]
    fn bad_files_and_names() {
        assert!(Metadata::parse(b"{nope").is_err());
        let m = Metadata::parse(br#"{"topics":[{"name":"bad!","channels":null},{"name":"ok","channels":[{"name":"bad chan"}]}]}"#).unwrap();
        let t = m.valid_topics();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].channels.as_ref().unwrap().len(), 0);
    }

    #[test]
    fn finds_queues_from_file_names() {
        let files: Vec<String> = [
            "alpha.diskqueue.000001.dat",
            "alpha:c1.diskqueue.meta.dat",
            "beta:only.diskqueue.000003.crc",
            "nsqd.dat",
            "x:y#ephemeral.diskqueue.000000.dat",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let q = queues_on_disk(&files);
        assert_eq!(q.len(), 2, "{q:?}");
        assert!(q["alpha"].contains("c1"));
        assert!(q["beta"].contains("only"));
        assert!(!q.contains_key("x"), "ephemeral queues never count");
    }

    #[test]
    fn channels_of_ephemeral_topics_are_not_loaded_from_files() {
        // Found by fuzzing (fuzz/ target nsqd_metadata): a durable channel of
        // an ephemeral topic has queue files, but the topic is never stored,
        // so it must not come back from them either.
        let files = vec!["t#ephemeral:c.diskqueue.000000.dat".to_string()];
        assert!(queues_on_disk(&files).is_empty());
    }
}
