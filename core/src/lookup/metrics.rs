//! nsqlookupd's `GET /metrics` (beyond NSQ): what its registration DB
//! holds, in the Prometheus text format, counted as its HTTP API lists it.

use super::db::{filter_by_active, Activity, Category, RegistrationDb};
use crate::io::Nanos;
use crate::stats::prometheus::{Exposition, ProcessStats};
use std::collections::BTreeMap;

/// The exposition at `now`: nodes as `/nodes` lists them, registrations as
/// `/topics` and `/channels` do, producers per topic as `/lookup` answers.
pub fn render(
    db: &RegistrationDb,
    activity: Activity,
    now: Nanos,
    process: Option<&ProcessStats>,
) -> String {
    let mut o = Exposition::new();
    o.family(
        "nsqlookupd_info",
        "gauge",
        "nsqlookupd's version (always 1).",
    );
    o.sample("nsqlookupd_info", &[("version", crate::NSQ_VERSION)], 1);
    let nodes = filter_by_active(
        db.find_producers(Category::Client, "", ""),
        Activity {
            tombstone_lifetime: 0,
            ..activity
        },
        now,
    );
    o.single(
        "nsqlookupd_producers",
        "gauge",
        "nsqd nodes registered and active (as /nodes lists them).",
        nodes.len(),
    );
    let topics = db.find_registrations(Category::Topic, "*", "");
    let channels = db.find_registrations(Category::Channel, "*", "*");
    o.single(
        "nsqlookupd_topics",
        "gauge",
        "Topics registered (as /topics lists them).",
        topics.len(),
    );
    o.single(
        "nsqlookupd_channels",
        "gauge",
        "Channels registered, over all topics.",
        channels.len(),
    );
    let mut by_topic: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &channels {
        *by_topic.entry(c.key.as_str()).or_default() += 1;
    }
    let mut tombstones = 0;
    let mut per_topic = Vec::with_capacity(topics.len());
    for t in &topics {
        let all = db.find_producers(Category::Topic, &t.key, "");
        tombstones += all
            .iter()
            .filter(|p| p.entry.is_tombstoned(activity.tombstone_lifetime, now))
            .count();
        let active = filter_by_active(all, activity, now).len();
        let chans = by_topic.get(t.key.as_str()).copied().unwrap_or(0);
        per_topic.push((t.key.as_str(), active, chans));
    }
    o.single(
        "nsqlookupd_tombstones",
        "gauge",
        "Topic producers tombstoned within --tombstone-lifetime.",
        tombstones,
    );
    o.family(
        "nsqlookupd_topic_producers",
        "gauge",
        "Active, not tombstoned producers of the topic (as /lookup lists them).",
    );
    for (topic, producers, _) in &per_topic {
        o.sample("nsqlookupd_topic_producers", &[("topic", topic)], producers);
    }
    o.family(
        "nsqlookupd_topic_channels",
        "gauge",
        "Channels registered for the topic.",
    );
    for (topic, _, chans) in &per_topic {
        o.sample("nsqlookupd_topic_channels", &[("topic", topic)], chans);
    }
    if let Some(p) = process {
        o.process(p);
    }
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::SECOND;
    use crate::lookup::db::{PeerInfo, Registration};

    fn peer(id: &str, broadcast: &str, last_update: Nanos) -> PeerInfo {
        PeerInfo {
            id: id.to_string(),
            remote_address: id.to_string(),
            hostname: broadcast.to_string(),
            broadcast_address: broadcast.to_string(),
            tcp_port: 4150,
            http_port: 4151,
            version: "1.3.0".to_string(),
            last_update,
        }
    }

    #[test]
    fn counts_what_the_http_api_lists() {
        let now = 1000 * SECOND;
        let activity = Activity {
            inactive_producer_timeout: 300 * SECOND,
            tombstone_lifetime: 45 * SECOND,
        };
        let mut db = RegistrationDb::new();
        db.identify(peer("10.0.0.1:5000", "a", now));
        db.identify(peer("10.0.0.2:5000", "b", now));
        // silent for too long: not a producer any more
        db.identify(peer("10.0.0.3:5000", "c", now - 400 * SECOND));
        for id in ["10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"] {
            db.add_producer(Registration::topic("orders"), id);
        }
        db.add_producer(Registration::channel("orders", "billing"), "10.0.0.1:5000");
        db.add_producer(
            Registration::channel("orders", "ship\"ping"),
            "10.0.0.2:5000",
        );
        db.add_registration(Registration::topic("planned"));
        db.tombstone("orders", "b:4151", now - SECOND);

        let text = render(&db, activity, now, None);
        let want = "\
nsqlookupd_producers 2
nsqlookupd_topics 2
nsqlookupd_channels 2
nsqlookupd_tombstones 1
nsqlookupd_topic_producers{topic=\"orders\"} 1
nsqlookupd_topic_producers{topic=\"planned\"} 0
nsqlookupd_topic_channels{topic=\"orders\"} 2
nsqlookupd_topic_channels{topic=\"planned\"} 0
";
        let samples: String = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("nsqlookupd_info"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(samples, want);
        assert!(text.contains("# TYPE nsqlookupd_topic_producers gauge\n"));
        assert!(text.contains("nsqlookupd_info{version=\"1.3.0\"} 1\n"));
        assert!(!text.contains("process_"), "no process figures given");
        let with = render(
            &db,
            activity,
            now,
            Some(&ProcessStats {
                open_fds: 9,
                ..ProcessStats::default()
            }),
        );
        assert!(with.contains("\nprocess_open_fds 9\n"));
    }
}
