use super::*;
use crate::broker::consumer::ConsumerSettings;
use crate::broker::outbox::Recorder;
use crate::io::SECOND;

const T0: Nanos = 1_700_000_000 * SECOND;

fn topic(name: &str, mem: usize) -> Topic<u32> {
    Topic::new(
        name,
        BrokerConfig {
            mem_queue_size: mem,
            ..BrokerConfig::default()
        },
        3,
    )
}

fn bodies(n: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(format!("b{i}"))).collect()
}

fn settings(id: u64) -> ConsumerSettings {
    ConsumerSettings {
        client_id: id,
        msg_timeout: 60 * SECOND,
        sample_rate: 0,
    }
}

#[test]
fn every_channel_gets_every_message() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    let a = t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    let b = t.subscribe("b", 2, settings(2), T0, &mut out).unwrap();
    t.set_rdy("a", a, 1, 100, T0, &mut out);
    t.set_rdy("b", b, 2, 100, T0, &mut out);
    t.publish(bodies(3), T0, &mut out).unwrap();
    let per = |k| out.delivered.iter().filter(|(c, _)| *c == k).count();
    assert_eq!((per(1), per(2)), (3, 3));
    assert_eq!(t.message_count, 3);
    assert_eq!(t.message_bytes, 6);
    // the two channels' copies share the id, each with its own attempts
    let first_b = out.delivered.iter().find(|(c, _)| *c == 2).unwrap();
    assert_eq!(out.delivered[0].1.id, first_b.1.id);
}

#[test]
fn backlog_waits_for_a_channel_then_moves_in_order() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    t.publish(bodies(5), T0, &mut out).unwrap();
    assert_eq!(t.depth(), 5);
    let a = t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    assert_eq!(t.depth(), 0);
    assert_eq!(t.channel("a").unwrap().depth(), 5);
    t.set_rdy("a", a, 1, 10, T0, &mut out);
    let got: Vec<&[u8]> = out.delivered.iter().map(|(_, m)| &m.body[..]).collect();
    assert_eq!(got, vec![&b"b0"[..], b"b1", b"b2", b"b3", b"b4"]);
}

#[test]
fn paused_topic_holds_then_releases() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    let a = t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    t.set_rdy("a", a, 1, 10, T0, &mut out);
    t.pause();
    t.publish(bodies(2), T0, &mut out).unwrap();
    assert_eq!((t.depth(), out.delivered.len()), (2, 0));
    t.unpause(T0, &mut out);
    assert_eq!((t.depth(), out.delivered.len()), (0, 2));
}

#[test]
fn dpub_reaches_channels_at_its_deadline() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    // published before any channel exists: the deadline still counts from publish
    t.publish_deferred(Bytes::from_static(b"later"), 10 * SECOND, T0);
    let a = t
        .subscribe("a", 1, settings(1), T0 + SECOND, &mut out)
        .unwrap();
    t.set_rdy("a", a, 1, 10, T0 + SECOND, &mut out);
    assert_eq!(t.channel("a").unwrap().deferred_count(), 1);
    assert_eq!(t.take_wake(), Some(T0 + 10 * SECOND));
    t.tick(T0 + 10 * SECOND - 1, &mut out);
    assert!(out.delivered.is_empty());
    t.tick(T0 + 10 * SECOND, &mut out);
    assert_eq!(out.delivered.len(), 1);
}

#[test]
fn wake_reports_new_earlier_deadlines() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    let a = t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    assert_eq!(t.take_wake(), None);
    t.set_rdy("a", a, 1, 10, T0, &mut out);
    t.publish(bodies(1), T0, &mut out).unwrap();
    assert_eq!(t.take_wake(), Some(T0 + 60 * SECOND));
    assert_eq!(t.take_wake(), None);
    assert_eq!(t.next_deadline(T0), Some(T0 + 60 * SECOND));
}

#[test]
fn mpub_is_all_or_nothing_when_memory_is_short() {
    let mut t = topic("t", 3);
    let mut out = Recorder::default();
    t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    t.publish(bodies(2), T0, &mut out).unwrap();
    assert!(t.publish(bodies(2), T0, &mut out).is_err());
    assert_eq!(t.channel("a").unwrap().depth(), 2);
    assert_eq!(t.message_count, 2);
    t.publish(bodies(1), T0, &mut out).unwrap();
    assert_eq!(t.channel("a").unwrap().depth(), 3);
}

#[test]
fn ephemeral_channel_and_topic_vanish_with_their_last_consumer() {
    let mut t = topic("t#ephemeral", 100);
    let mut out = Recorder::default();
    let a = t
        .subscribe("c#ephemeral", 1, settings(1), T0, &mut out)
        .unwrap();
    let b = t
        .subscribe("c#ephemeral", 2, settings(2), T0, &mut out)
        .unwrap();
    assert_eq!(t.unsubscribe("c#ephemeral", a, 1), Unsubscribed::default());
    assert_eq!(
        t.unsubscribe("c#ephemeral", b, 2),
        Unsubscribed {
            channel_deleted: true,
            topic_should_go: true
        }
    );
    // a durable channel stays
    let mut d = topic("d", 100);
    let c = d.subscribe("c", 1, settings(1), T0, &mut out).unwrap();
    assert_eq!(d.unsubscribe("c", c, 1), Unsubscribed::default());
    assert_eq!(d.channel_count(), 1);
}

#[test]
fn deleting_a_channel_closes_its_consumers() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    t.subscribe("a", 7, settings(1), T0, &mut out).unwrap();
    assert!(t.delete_channel("a", &mut out));
    assert!(!t.delete_channel("a", &mut out));
    assert_eq!(out.closed, vec![7]);
}

#[test]
fn a_large_backlog_moves_in_bounded_steps() {
    let mut t = topic("t", 100_000);
    let mut out = Recorder::default();
    t.publish(bodies(PUMP_BATCH + 10), T0, &mut out).unwrap();
    t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    assert_eq!(t.depth(), 10);
    assert_eq!(t.take_wake(), Some(T0), "asks to be called again at once");
    t.tick(T0, &mut out);
    assert_eq!(t.depth(), 0);
    assert_eq!(t.channel("a").unwrap().depth() as usize, PUMP_BATCH + 10);
}

#[test]
fn channel_creations_and_deletions_are_reported_in_order() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    assert!(!t.has_events());
    t.get_or_create_channel("a", T0, &mut out);
    t.get_or_create_channel("a", T0, &mut out);
    let slot = t
        .subscribe("e#ephemeral", 1, settings(1), T0, &mut out)
        .unwrap();
    assert!(t.has_events());
    assert_eq!(
        t.take_events(),
        [
            ChannelEvent::Created("a".into()),
            ChannelEvent::Created("e#ephemeral".into())
        ]
    );
    assert!(t.take_events().is_empty());
    assert!(t.unsubscribe("e#ephemeral", slot, 1).channel_deleted);
    assert!(t.delete_channel("a", &mut out));
    assert!(!t.delete_channel("a", &mut out));
    t.get_or_create_channel("b", T0, &mut out);
    t.get_or_create_channel("c", T0, &mut out);
    t.delete_all(&mut out);
    assert_eq!(
        t.take_events(),
        [
            ChannelEvent::Deleted("e#ephemeral".into()),
            ChannelEvent::Deleted("a".into()),
            ChannelEvent::Created("b".into()),
            ChannelEvent::Created("c".into()),
            ChannelEvent::Deleted("b".into()),
            ChannelEvent::Deleted("c".into()),
        ]
    );
}

#[test]
fn a_held_topic_gives_its_backlog_to_every_channel_created_before_start() {
    let mut t = topic("t", 100);
    let mut out = Recorder::default();
    t.hold();
    t.publish(bodies(3), T0, &mut out).unwrap();
    t.publish_deferred(Bytes::from_static(b"later"), SECOND, T0);
    // A consumer may subscribe while the topic is held; nothing flows yet.
    let a = t.subscribe("a", 1, settings(1), T0, &mut out).unwrap();
    t.set_rdy("a", a, 1, 10, T0, &mut out);
    t.get_or_create_channel("b", T0, &mut out);
    assert!(out.delivered.is_empty());
    assert_eq!(t.depth(), 4);
    assert_eq!(t.next_deadline(T0), None, "a held topic has no work");
    t.start(T0, &mut out);
    assert!(!t.is_held());
    assert_eq!(t.depth(), 0);
    assert_eq!(out.delivered.len(), 3, "consumer of a got the backlog");
    assert_eq!(
        t.channel("b").unwrap().depth(),
        3,
        "b got every message too"
    );
    // After start, publishing fans out directly.
    t.publish(bodies(1), T0, &mut out).unwrap();
    assert_eq!(t.channel("b").unwrap().depth(), 4);
}

mod deletion_harness {
    use super::*;
    use crate::diskqueue::execute;
    use crate::io::MemDisk;

    /// Runs every job the topic wants (writes, then syncs) until it wants none.
    pub fn settle(t: &mut Topic<u32>, disk: &mut MemDisk, out: &mut Recorder<u32>) {
        loop {
            let (w, s) = (t.poll_writes(T0), t.poll_syncs(T0));
            if w.is_empty() && s.is_empty() {
                return;
            }
            for (k, j) in w {
                let o = execute(&j, disk);
                t.complete_write(&k, o, T0, out);
            }
            for (k, j) in s {
                let o = execute(&j, disk);
                t.complete_sync(&k, o, T0);
            }
        }
    }
}

mod deletion {
    use super::deletion_harness::*;
    use super::*;
    use crate::diskqueue::execute;
    use crate::io::{Disk, MemDisk};

    fn durable_topic() -> Topic<u32> {
        let opts = crate::Options {
            mem_queue_size: 0,
            sync_every: 1,
            ..crate::Options::default()
        };
        Topic::new("t", BrokerConfig::from_options(&opts, true), 3)
    }

    #[test]
    fn a_namesake_touches_no_file_until_the_deleted_channel_is_gone() {
        let (mut t, mut disk, mut out) = (durable_topic(), MemDisk::new(1), Recorder::default());
        t.get_or_create_channel("c", T0, &mut out);
        t.publish(bodies(3), T0, &mut out).unwrap();
        settle(&mut t, &mut disk, &mut out);
        assert!(disk.contents("t:c.diskqueue.000000.dat").is_some());
        assert!(t.delete_channel("c", &mut out));
        assert!(!t.deletion_committed(Some("c")));
        // The namesake takes a message at once (it waits in memory).
        t.get_or_create_channel("c", T0, &mut out);
        t.publish(bodies(1), T0, &mut out).unwrap();
        let jobs = t.poll_writes(T0);
        assert_eq!(jobs.len(), 1, "only the deletion's job: {jobs:?}");
        assert!(t.poll_syncs(T0).is_empty());
        for (k, j) in jobs {
            let o = execute(&j, &mut disk);
            t.complete_write(&k, o, T0, &mut out);
        }
        assert!(t.deletion_committed(Some("c")));
        assert_eq!(disk.list().unwrap(), ["t:c.diskqueue.deleted"]);
        // Still nothing for the namesake: the tombstone waits for nsqd.dat.
        assert!(t.awaits_catalog());
        assert!(t.poll_writes(T0).is_empty());
        t.stamp_deletions(2);
        t.catalog_persisted(1);
        assert!(
            t.poll_writes(T0).is_empty(),
            "a write begun earlier does not count"
        );
        t.catalog_persisted(2);
        settle(&mut t, &mut disk, &mut out);
        assert!(t.deletions_done());
        let seg = disk.contents("t:c.diskqueue.000000.dat").unwrap().to_vec();
        assert_eq!(seg.len(), 4 + 26 + 2, "the namesake's one message only");
    }

    #[test]
    fn deleting_the_topic_deletes_every_queue_and_reports_when_committed() {
        let (mut t, mut disk, mut out) = (durable_topic(), MemDisk::new(1), Recorder::default());
        t.publish(bodies(2), T0, &mut out).unwrap();
        t.get_or_create_channel("a", T0, &mut out);
        t.publish(bodies(2), T0, &mut out).unwrap();
        settle(&mut t, &mut disk, &mut out);
        t.delete_all(&mut out);
        assert!(!t.deletion_committed(None));
        settle(&mut t, &mut disk, &mut out);
        assert!(t.deletion_committed(None));
        assert_eq!(
            disk.list().unwrap(),
            ["t.diskqueue.deleted", "t:a.diskqueue.deleted"]
        );
        t.stamp_deletions(1);
        t.catalog_persisted(1);
        settle(&mut t, &mut disk, &mut out);
        assert!(t.deletions_done() && disk.list().unwrap().is_empty());
    }
}

mod held_messages {
    use super::deletion_harness::*;
    use super::*;
    use crate::io::Disk;

    fn disk_bytes(disk: &mut crate::io::MemDisk) -> usize {
        disk.list()
            .unwrap()
            .iter()
            .filter(|f| f.ends_with(".dat") && f.contains("diskqueue.0"))
            .map(|f| disk.contents(f).map_or(0, <[u8]>::len))
            .sum()
    }

    /// One message held (REQ'd for an hour, or in flight with a long
    /// timeout), hundreds of others published and finished: the disk holds
    /// about a segment, not everything since the held one.
    fn one_held_message_pins_nothing(requeue: bool) {
        let opts = crate::Options {
            mem_queue_size: 0,
            sync_every: 1,
            max_bytes_per_file: 2_000,
            ..crate::Options::default()
        };
        let mut t: Topic<u32> = Topic::new("t", BrokerConfig::from_options(&opts, true), 3);
        let (mut disk, mut out) = (crate::io::MemDisk::new(1), Recorder::default());
        let s = ConsumerSettings {
            msg_timeout: 3600 * SECOND,
            ..settings(1)
        };
        let slot = t.subscribe("c", 1, s, T0, &mut out).unwrap();
        t.set_rdy("c", slot, 1, 10, T0, &mut out);
        t.publish(bodies(1), T0, &mut out).unwrap();
        settle(&mut t, &mut disk, &mut out);
        let held = out.delivered.pop().expect("delivered").1;
        if requeue {
            t.requeue("c", slot, 1, &held.id, 3600 * SECOND, T0, &mut out)
                .unwrap();
        }
        for _ in 0..300 {
            t.publish(bodies(1), T0, &mut out).unwrap();
            settle(&mut t, &mut disk, &mut out);
            for (_, m) in std::mem::take(&mut out.delivered) {
                t.finish("c", slot, 1, &m.id, T0, &mut out).unwrap();
            }
            settle(&mut t, &mut disk, &mut out);
        }
        // 300 records of ~35 bytes went through (10 KB, 5 segments).
        let on_disk = disk_bytes(&mut disk);
        assert!(
            on_disk <= 2 * 2_000,
            "{on_disk} bytes on disk for one held message"
        );
        let ch = t.channel("c").unwrap();
        assert_eq!(ch.depth(), 0);
        let live = ch.queue().disk_ref().unwrap().live_bytes();
        assert!(live < 200, "live bytes {live}");
        // The held message is still there, and still finishes.
        if requeue {
            assert_eq!(ch.deferred_count(), 1);
        } else {
            t.finish("c", slot, 1, &held.id, T0, &mut out).unwrap();
        }
    }

    #[test]
    fn a_message_requeued_for_an_hour_pins_no_segment() {
        one_held_message_pins_nothing(true);
    }

    #[test]
    fn a_message_held_in_flight_pins_no_segment() {
        one_held_message_pins_nothing(false);
    }
}

mod all_or_none {
    use super::*;
    use crate::diskqueue::execute;
    use crate::io::MemDisk;

    #[test]
    fn a_channel_whose_disk_fails_delays_the_answer_never_fails_it() {
        // The publisher's answer waits on every queue the message went to;
        // one that cannot write yet keeps retrying, and the answer waits:
        // an error now would be a lie (the other channel delivers it).
        let opts = crate::Options {
            mem_queue_size: 0,
            sync_every: 1,
            ..crate::Options::default()
        };
        let mut t: Topic<u32> = Topic::new("t", BrokerConfig::from_options(&opts, true), 3);
        let mut out = Recorder::default();
        t.get_or_create_channel("a", T0, &mut out);
        t.get_or_create_channel("b", T0, &mut out);
        let b = QueueKey(t.channel("b").unwrap().queue_id);
        let (mut good, mut bad) = (MemDisk::new(1), MemDisk::new(2));
        bad.faults.eio = true;
        t.publish(bodies(1), T0, &mut out).unwrap();
        let marks = t.disk_marks();
        let mut now = T0;
        for _ in 0..5 {
            for (k, j) in t.poll_writes(now) {
                let o = execute(&j, if k == b { &mut bad } else { &mut good });
                t.complete_write(&k, o, now, &mut out);
            }
            for (k, j) in t.poll_syncs(now) {
                let o = execute(&j, if k == b { &mut bad } else { &mut good });
                t.complete_sync(&k, o, now);
            }
            now += SECOND;
        }
        assert!(t.health().is_some(), "the failing disk shows in health");
        assert!(!t.marks_reached(&marks, true), "not durable everywhere yet");
        // New messages are refused at once, none of them taken anywhere.
        assert!(t.publish(bodies(1), now, &mut out).is_err());
        bad.faults.eio = false;
        for _ in 0..5 {
            for (k, j) in t.poll_writes(now) {
                let o = execute(&j, if k == b { &mut bad } else { &mut good });
                t.complete_write(&k, o, now, &mut out);
            }
            for (k, j) in t.poll_syncs(now) {
                let o = execute(&j, if k == b { &mut bad } else { &mut good });
                t.complete_sync(&k, o, now);
            }
            now += SECOND;
        }
        assert!(t.marks_reached(&marks, true));
        assert_eq!(t.channel("a").unwrap().depth(), 1);
        assert_eq!(t.channel("b").unwrap().depth(), 1);
    }
}

mod duplicates {
    use super::deletion_harness::*;
    use super::*;

    #[test]
    fn a_duplicate_copy_that_is_dropped_releases_its_record() {
        // Two records of one message (a crash re-reads what was in flight,
        // a requeue is written again): the copy found already in flight is
        // dropped, and its record must be acknowledged, or it pins its
        // segment and every later one for ever (found by the simulation's
        // disk-bounded-by-live-data invariant).
        let opts = crate::Options {
            mem_queue_size: 0,
            sync_every: 1,
            ..crate::Options::default()
        };
        let mut t: Topic<u32> = Topic::new("t", BrokerConfig::from_options(&opts, true), 3);
        let (mut disk, mut out) = (crate::io::MemDisk::new(1), Recorder::default());
        let slot = t.subscribe("c", 1, settings(1), T0, &mut out).unwrap();
        let m = Message::new(MessageId::from_guid(7), T0, Bytes::from_static(b"twice"));
        {
            let ch = t.channel_mut("c").unwrap();
            ch.put(m.clone(), T0, &mut out).unwrap();
            ch.put(m, T0, &mut out).unwrap();
        }
        settle(&mut t, &mut disk, &mut out);
        t.set_rdy("c", slot, 1, 10, T0, &mut out);
        settle(&mut t, &mut disk, &mut out);
        assert_eq!(out.delivered.len(), 1, "one copy in flight at a time");
        let id = out.delivered[0].1.id;
        t.finish("c", slot, 1, &id, T0, &mut out).unwrap();
        settle(&mut t, &mut disk, &mut out);
        let dq = t.channel("c").unwrap().queue().disk_ref().unwrap();
        assert_eq!(
            dq.outstanding(),
            0,
            "a dropped copy left its record outstanding"
        );
    }
}
