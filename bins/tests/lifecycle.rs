//! Deletes that stay deleted, on the real binary: a deleted channel or
//! topic never comes back after a restart (graceful or kill -9), and a
//! namesake created right after a delete gets none of the old messages
//! (and its files are not the old one's).

mod common;

use common::{Got, Nsqd};
use nsq_core::wire::command::encode;
use nsq_core::wire::Frame;
use std::time::Duration;

fn restart(nsqd: Nsqd, kill: bool, extra: &[&str]) -> Nsqd {
    let Nsqd { mut proc, dir } = nsqd;
    if !kill {
        proc.signal_and_wait("-TERM");
    }
    drop(proc);
    Nsqd::start_in(dir, extra)
}

fn post(nsqd: &Nsqd, path: &str) {
    let r = nsqd.http_req("POST", path, b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
}

/// Channel names of `topic` in /stats (None: no such topic).
fn channels(nsqd: &Nsqd, topic: &str) -> Option<Vec<String>> {
    let s = nsqd.stats("");
    s["topics"].as_array()?.iter().find_map(|t| {
        (t["topic_name"] == topic).then(|| {
            t["channels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c["channel_name"].as_str().unwrap_or("").to_string())
                .collect()
        })
    })
}

/// Files of the data dir whose name starts with `prefix`.
fn files(nsqd: &Nsqd, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(nsqd.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Every body a fresh subscriber of `channel` receives (FINing each), until
/// none arrives for `quiet`.
fn bodies(nsqd: &Nsqd, topic: &str, channel: &str, quiet: Duration) -> Vec<String> {
    let mut c = nsqd.client();
    c.send(format!("SUB {topic} {channel}\nRDY 1000\n").as_bytes());
    assert_eq!(c.response(), "OK");
    let mut got = Vec::new();
    loop {
        match c.read(quiet) {
            Got::Frame(Frame::Message(m)) => {
                c.send_with(|w| encode::fin(w, &m.id));
                got.push(String::from_utf8_lossy(&m.body).into_owned());
            }
            Got::Frame(Frame::Response(_)) => {}
            Got::Timeout => return got,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn publish(nsqd: &Nsqd, topic: &str, body: &str) {
    let r = nsqd.http_req("POST", &format!("/pub?topic={topic}"), body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_deleted_channel_stays_deleted_after_a_restart() {
    for kill in [false, true] {
        let flags = ["--mem-queue-size=0"];
        let nsqd = Nsqd::start(&flags);
        post(&nsqd, "/topic/create?topic=T");
        post(&nsqd, "/channel/create?topic=T&channel=c0");
        post(&nsqd, "/channel/create?topic=T&channel=c1");
        for i in 0..20 {
            publish(&nsqd, "T", &format!("m{i}"));
        }
        post(&nsqd, "/channel/delete?topic=T&channel=c0");
        // Answered once committed: at most the tombstone is left (it goes
        // once nsqd.dat no longer lists the channel).
        let left = files(&nsqd, "T:c0.");
        assert!(
            left.iter().all(|f| f.ends_with(".diskqueue.deleted")),
            "{left:?}"
        );
        let nsqd = restart(nsqd, kill, &flags);
        assert_eq!(
            channels(&nsqd, "T"),
            Some(vec!["c1".to_string()]),
            "kill {kill}"
        );
        assert!(
            files(&nsqd, "T:c0.").is_empty(),
            "{:?}",
            files(&nsqd, "T:c0.")
        );
        assert_eq!(
            bodies(&nsqd, "T", "c1", Duration::from_millis(500)).len(),
            20
        );
        // A channel created again under the same name starts empty.
        assert!(bodies(&nsqd, "T", "c0", Duration::from_millis(300)).is_empty());
    }
}

#[test]
fn a_deleted_topic_stays_deleted_after_a_restart() {
    for kill in [false, true] {
        let flags = ["--mem-queue-size=0"];
        let nsqd = Nsqd::start(&flags);
        post(&nsqd, "/topic/create?topic=T");
        post(&nsqd, "/channel/create?topic=T&channel=c0");
        for i in 0..20 {
            publish(&nsqd, "T", &format!("m{i}"));
        }
        // Messages waiting in the topic itself (no channel) too.
        post(&nsqd, "/topic/create?topic=U");
        for i in 0..5 {
            publish(&nsqd, "U", &format!("u{i}"));
        }
        post(&nsqd, "/topic/delete?topic=T");
        post(&nsqd, "/topic/delete?topic=U");
        let left = |n: &Nsqd| {
            let mut v = files(n, "T");
            v.extend(files(n, "U"));
            v.retain(|f| !f.ends_with(".diskqueue.deleted"));
            v
        };
        assert!(left(&nsqd).is_empty(), "{:?}", left(&nsqd));
        let nsqd = restart(nsqd, kill, &flags);
        assert_eq!(channels(&nsqd, "T"), None, "kill {kill}");
        assert_eq!(channels(&nsqd, "U"), None, "kill {kill}");
        assert!(files(&nsqd, "T").is_empty() && files(&nsqd, "U").is_empty());
    }
}

#[test]
fn a_namesake_published_to_right_after_a_delete_gets_none_of_the_old_messages() {
    let flags = ["--mem-queue-size=0"];
    let nsqd = Nsqd::start(&flags);
    let batch: Vec<Vec<u8>> = (0..2000).map(|i| format!("old{i}").into_bytes()).collect();
    for round in 0..5 {
        post(&nsqd, "/topic/create?topic=T");
        post(&nsqd, "/channel/create?topic=T&channel=c");
        let mut c = nsqd.client();
        c.send_with(|w| encode::mpub(w, "T", &batch));
        assert_eq!(c.response(), "OK");
        // Delete, then publish again at once (on a connection made before).
        let mut http = nsqd.http_conn();
        let r = http.request("POST", "/topic/delete?topic=T", b"").unwrap();
        assert_eq!(r.status, 200);
        c.send_with(|w| encode::publish(w, "T", format!("new{round}").as_bytes()));
        assert_eq!(c.response(), "OK");
        let got = bodies(&nsqd, "T", "c", Duration::from_millis(500));
        let old = got.iter().filter(|b| b.starts_with("old")).count();
        assert_eq!(old, 0, "round {round}: {old} deleted messages came back");
        assert_eq!(got, [format!("new{round}")], "round {round}");
        post(&nsqd, "/topic/delete?topic=T");
    }
    assert!(
        !nsqd
            .proc
            .logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("the metadata says") || l.contains("No such file")),
        "a topic's cleanup touched a namesake's files"
    );
}
