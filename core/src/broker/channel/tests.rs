use super::*;
use crate::broker::config::BrokerConfig;
use crate::broker::outbox::Recorder;
use crate::broker::storage::Storage;
use crate::io::SECOND;
use bytes::Bytes;

const T0: Nanos = 1_700_000_000 * SECOND;

fn cfg(mem: usize) -> BrokerConfig {
    BrokerConfig {
        mem_queue_size: mem,
        ..BrokerConfig::default()
    }
}

fn chan(name: &str, mem: usize) -> Channel<u32> {
    Channel::with_storage("t", name, &cfg(mem), Storage::Refuse, 7)
}

fn msg(i: u64) -> Message {
    Message::new(MessageId::from_guid(i), T0, Bytes::from(format!("m{i}")))
}

fn settings(client_id: u64) -> ConsumerSettings {
    ConsumerSettings {
        client_id,
        msg_timeout: 60 * SECOND,
        sample_rate: 0,
    }
}

fn ids(out: &Recorder<u32>) -> Vec<(u32, u64)> {
    out.delivered
        .iter()
        .map(|(k, m)| (*k, String::from_utf8_lossy(&m.body[1..]).parse().unwrap()))
        .collect()
}

#[test]
fn never_sends_beyond_rdy() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let slot = ch.add_consumer(1, settings(10)).unwrap();
    for i in 0..5 {
        ch.put(msg(i), T0, &mut out).unwrap();
    }
    ch.dispatch(T0, &mut out);
    assert!(out.delivered.is_empty(), "RDY 0 takes nothing");
    ch.set_rdy(slot, 10, 2, T0, &mut out);
    assert_eq!(ids(&out), vec![(1, 0), (1, 1)]);
    assert_eq!(ch.in_flight_count(), 2);
    let first = out.delivered[0].1.id;
    ch.finish(slot, 10, &first, T0, &mut out).unwrap();
    assert_eq!(ids(&out).len(), 3, "a FIN frees one RDY slot");
    assert_eq!(ch.depth(), 2);
    assert_eq!(out.delivered[0].1.attempts, 1);
}

#[test]
fn round_robin_between_ready_consumers() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    let b = ch.add_consumer(2, settings(2)).unwrap();
    ch.set_rdy(a, 1, 10, T0, &mut out);
    ch.set_rdy(b, 2, 10, T0, &mut out);
    for i in 0..4 {
        ch.put(msg(i), T0, &mut out).unwrap();
    }
    let who: Vec<u32> = ids(&out).into_iter().map(|(k, _)| k).collect();
    assert_eq!(who, vec![1, 2, 1, 2]);
}

#[test]
fn timeouts_requeue_and_redeliver_with_more_attempts() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    ch.set_rdy(a, 1, 1, T0, &mut out);
    ch.put(msg(0), T0, &mut out).unwrap();
    assert_eq!(ch.next_deadline(), Some(T0 + 60 * SECOND));
    ch.tick(T0 + 60 * SECOND - 1, &mut out);
    assert_eq!(out.delivered.len(), 1);
    ch.tick(T0 + 60 * SECOND, &mut out);
    assert_eq!(ch.timeout_count, 1);
    assert_eq!(out.delivered.len(), 2, "timed out, requeued, sent again");
    assert_eq!(out.delivered[1].1.attempts, 2);
    // FIN of the first delivery's id works on the second delivery (same id).
    let id = out.delivered[1].1.id;
    ch.finish(a, 1, &id, T0 + 61 * SECOND, &mut out).unwrap();
    assert_eq!(ch.in_flight_count(), 0);
}

#[test]
fn req_with_delay_defers_and_req_zero_is_immediate() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    ch.set_rdy(a, 1, 5, T0, &mut out);
    ch.put(msg(0), T0, &mut out).unwrap();
    let id = out.delivered[0].1.id;
    ch.requeue(a, 1, &id, 5 * SECOND, T0, &mut out).unwrap();
    assert_eq!(ch.deferred_count(), 1);
    assert_eq!(ch.requeue_count, 1);
    ch.tick(T0 + 5 * SECOND - 1, &mut out);
    assert_eq!(out.delivered.len(), 1);
    ch.tick(T0 + 5 * SECOND, &mut out);
    assert_eq!(out.delivered.len(), 2);
    ch.requeue(a, 1, &id, 0, T0 + 5 * SECOND, &mut out).unwrap();
    assert_eq!(out.delivered.len(), 3, "REQ 0 goes straight back out");
    assert_eq!(out.delivered[2].1.attempts, 3);
}

#[test]
fn touch_extends_up_to_max_msg_timeout() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    ch.set_rdy(a, 1, 1, T0, &mut out);
    ch.put(msg(0), T0, &mut out).unwrap();
    let id = out.delivered[0].1.id;
    ch.touch(a, 1, &id, T0 + 30 * SECOND).unwrap();
    assert_eq!(ch.next_deadline(), Some(T0 + 90 * SECOND));
    // --max-msg-timeout (15 min) after delivery caps it.
    ch.touch(a, 1, &id, T0 + 14 * 60 * SECOND).unwrap();
    assert_eq!(ch.next_deadline(), Some(T0 + 15 * 60 * SECOND));
    assert_eq!(ch.touch(a, 2, &id, T0), Err(InFlightError::NotInFlight));
}

#[test]
fn fin_errors_are_nsqs() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    let b = ch.add_consumer(2, settings(2)).unwrap();
    ch.set_rdy(a, 1, 1, T0, &mut out);
    ch.put(msg(0), T0, &mut out).unwrap();
    let id = out.delivered[0].1.id;
    assert_eq!(
        ch.finish(a, 1, &MessageId::from_guid(99), T0, &mut out)
            .unwrap_err(),
        InFlightError::NotInFlight
    );
    assert_eq!(
        ch.finish(b, 2, &id, T0, &mut out).unwrap_err(),
        InFlightError::NotOwner
    );
}

#[test]
fn pause_holds_messages() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    ch.pause();
    ch.set_rdy(a, 1, 10, T0, &mut out);
    ch.put(msg(0), T0, &mut out).unwrap();
    ch.dispatch(T0, &mut out);
    assert!(out.delivered.is_empty());
    ch.unpause(T0, &mut out);
    assert_eq!(out.delivered.len(), 1);
}

#[test]
fn empty_drops_queued_in_flight_and_deferred() {
    let mut ch = chan("c", 100);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    ch.set_rdy(a, 1, 1, T0, &mut out);
    for i in 0..3 {
        ch.put(msg(i), T0, &mut out).unwrap();
    }
    ch.put_deferred(msg(9), T0 + SECOND);
    let id = out.delivered[0].1.id;
    ch.empty();
    assert_eq!(
        (ch.depth(), ch.in_flight_count(), ch.deferred_count()),
        (0, 0, 0)
    );
    assert_eq!(
        ch.finish(a, 1, &id, T0, &mut out).unwrap_err(),
        InFlightError::NotInFlight
    );
    ch.put(msg(5), T0, &mut out).unwrap();
    assert_eq!(out.delivered.len(), 2, "the consumer's RDY is free again");
}

#[test]
fn max_channel_consumers() {
    let c = BrokerConfig {
        max_channel_consumers: 1,
        ..cfg(10)
    };
    let mut ch: Channel<u32> = Channel::with_storage("t", "c", &c, Storage::Refuse, 1);
    ch.add_consumer(1, settings(1)).unwrap();
    assert_eq!(
        ch.add_consumer(2, settings(2)).unwrap_err(),
        "consumers for t:c exceeds limit of 1"
    );
}

#[test]
fn ephemeral_channel_reports_its_last_consumer() {
    let mut ch: Channel<u32> =
        Channel::with_storage("t", "c#ephemeral", &cfg(10), Storage::Refuse, 1);
    let a = ch.add_consumer(1, settings(1)).unwrap();
    let b = ch.add_consumer(2, settings(2)).unwrap();
    assert!(!ch.remove_consumer(a, 1));
    assert!(ch.remove_consumer(b, 2));
}

#[test]
fn a_full_memory_queue_without_disk_refuses() {
    let mut ch = chan("c", 2);
    let mut out = Recorder::default();
    ch.put(msg(0), T0, &mut out).unwrap();
    ch.put(msg(1), T0, &mut out).unwrap();
    assert!(ch.put(msg(2), T0, &mut out).is_err());
    assert!(ch.can_accept(1, 10).is_err());
    assert_eq!(ch.depth(), 2);
}

#[test]
fn memory_disabled_durable_channels_never_skip_the_queue() {
    // --mem-queue-size=0: even with a ready consumer, a durable channel
    // stores first (here the store refuses, proving no shortcut was taken).
    let mut ch = chan("c", 0);
    let mut out = Recorder::default();
    let a = ch.add_consumer(1, settings(1)).unwrap();
    ch.set_rdy(a, 1, 1, T0, &mut out);
    assert!(ch.put(msg(0), T0, &mut out).is_err());
    assert!(out.delivered.is_empty());
    // an ephemeral channel hands over directly, as NSQ's unbuffered chan does
    let mut eph: Channel<u32> = Channel::new("t", "e#ephemeral", &cfg(0), 1);
    let e = eph.add_consumer(1, settings(1)).unwrap();
    eph.set_rdy(e, 1, 1, T0, &mut out);
    eph.put(msg(1), T0, &mut out).unwrap();
    assert_eq!(out.delivered.len(), 1);
}

#[test]
fn sampling_sends_about_the_rate() {
    let mut ch = chan("c", 10_000);
    let mut out = Recorder::default();
    let a = ch
        .add_consumer(
            1,
            ConsumerSettings {
                sample_rate: 30,
                ..settings(1)
            },
        )
        .unwrap();
    ch.set_rdy(a, 1, 2500, T0, &mut out);
    for i in 0..2000 {
        ch.put(msg(i), T0, &mut out).unwrap();
        ch.dispatch(T0, &mut out);
    }
    let n = out.delivered.len();
    assert!((500..750).contains(&n), "{n} of 2000 at rate 30");
    assert_eq!(ch.depth(), 0, "sampled-out messages are consumed");
}

#[test]
fn a_consumer_that_stops_reading_gets_no_more_than_its_output_bound() {
    // RDY 2500 and 10 KB messages: once 1 MiB waits to be written, nothing
    // more goes to it; a timed-out message is not sent to it again while
    // its old copy still waits (the bug: every timeout appended the frame
    // once more, growing memory without end).
    let mut ch = chan("c", 10_000);
    let mut out = Recorder::default();
    let s = ConsumerSettings {
        msg_timeout: SECOND,
        ..settings(1)
    };
    let slot = ch.add_consumer(1, s).unwrap();
    ch.set_rdy(slot, 1, 2500, T0, &mut out);
    let body = Bytes::from(vec![b'x'; 10_000]);
    for i in 0..2500 {
        let m = Message::new(MessageId::from_guid(i), T0, body.clone());
        ch.put(m, T0, &mut out).unwrap();
    }
    ch.dispatch(T0, &mut out);
    let frame = crate::wire::frame::message_frame_len(&out.delivered[0].1) as u64;
    let bound = crate::broker::config::MAX_UNWRITTEN;
    let sent = |out: &Recorder<u32>| out.delivered.len() as u64;
    assert_eq!(
        sent(&out),
        bound.div_ceil(frame),
        "up to the bound, plus one"
    );
    for k in 1..=10 {
        ch.tick(T0 + k * 2 * SECOND, &mut out);
    }
    assert_eq!(sent(&out), bound.div_ceil(frame), "timeouts resend nothing");
    assert_eq!(ch.in_flight_count(), 0, "they timed out and were requeued");
    // It reads again: what it wrote makes room for as much more.
    ch.output_written(slot, 1, 10 * frame, T0 + 30 * SECOND, &mut out);
    assert_eq!(sent(&out), bound.div_ceil(frame) + 10);
}
