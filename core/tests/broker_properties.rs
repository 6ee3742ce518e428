//! Properties of a whole broker under random operations on a fake clock:
//! every channel gets every message; a message is never held by two
//! consumers within its timeout; in-flight never exceeds RDY; every PUB is
//! delivered or still queued (nothing lost, nothing invented).

use bytes::Bytes;
use nsq_core::broker::{BrokerConfig, ConsumerSettings, LocalBroker, Subscription};
use nsq_core::io::{Nanos, SECOND};
use nsq_core::wire::MessageId;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use std::collections::{BTreeMap, BTreeSet};

const T0: Nanos = 1_700_000_000 * SECOND;
const CHANNELS: [&str; 2] = ["c1", "c2"];
const MSG_TIMEOUT: Nanos = 10 * SECOND;

#[derive(Debug, Clone)]
enum Op {
    Publish(u8),
    Rdy(u8, u8),
    Fin(u8, u8),
    Req(u8, u8, bool),
    Touch(u8, u8),
    Advance(u16),
    Reconnect(u8),
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 7 {
            0 => Op::Publish(u8::arbitrary(g) % 5 + 1),
            1 => Op::Rdy(u8::arbitrary(g), u8::arbitrary(g) % 6),
            2 | 3 => Op::Fin(u8::arbitrary(g), u8::arbitrary(g)),
            4 => Op::Req(u8::arbitrary(g), u8::arbitrary(g), bool::arbitrary(g)),
            5 => Op::Touch(u8::arbitrary(g), u8::arbitrary(g)),
            _ => {
                if bool::arbitrary(g) {
                    Op::Advance(u16::arbitrary(g) % 15_000)
                } else {
                    Op::Reconnect(u8::arbitrary(g))
                }
            }
        }
    }
}

struct Consumer {
    client_id: u64,
    sub: Subscription,
    rdy: i64,
    /// id -> deadline, as the consumer believes it.
    held: BTreeMap<MessageId, Nanos>,
}

struct World {
    broker: LocalBroker<u64>,
    consumers: Vec<Consumer>,
    next_client: u64,
    now: Nanos,
    seen: usize,
    published: BTreeSet<Bytes>,
    finished: BTreeMap<&'static str, BTreeSet<Bytes>>,
    delivered: BTreeMap<&'static str, BTreeSet<Bytes>>,
    pub_counter: u64,
}

impl World {
    fn new() -> Self {
        let mut w = World {
            broker: LocalBroker::new(BrokerConfig::default(), 9),
            consumers: Vec::new(),
            next_client: 1,
            now: T0,
            seen: 0,
            published: BTreeSet::new(),
            finished: BTreeMap::new(),
            delivered: BTreeMap::new(),
            pub_counter: 0,
        };
        for (i, ch) in CHANNELS.iter().enumerate() {
            for _ in 0..2 + i {
                w.connect(ch);
            }
        }
        w
    }

    fn connect(&mut self, channel: &str) -> usize {
        let client_id = self.next_client;
        self.next_client += 1;
        let settings = ConsumerSettings {
            client_id,
            msg_timeout: MSG_TIMEOUT,
            sample_rate: 0,
        };
        let now = self.now;
        let slot = self
            .broker
            .subscribe(client_id, "t", channel, settings, now)
            .unwrap();
        self.consumers.push(Consumer {
            client_id,
            sub: Subscription {
                topic: "t".into(),
                channel: channel.into(),
                slot,
            },
            rdy: 0,
            held: BTreeMap::new(),
        });
        self.consumers.len() - 1
    }

    fn channel_of(&self, i: usize) -> &'static str {
        if self.consumers[i].sub.channel == "c1" {
            "c1"
        } else {
            "c2"
        }
    }

    /// Checks each new delivery against the model.
    fn absorb(&mut self) -> Result<(), String> {
        let now = self.now;
        // holds whose deadline passed are gone (the broker timed them out)
        for c in &mut self.consumers {
            c.held.retain(|_, d| *d > now);
        }
        while self.seen < self.broker.out.delivered.len() {
            let (client, msg) = self.broker.out.delivered[self.seen].clone();
            self.seen += 1;
            let i = self
                .consumers
                .iter()
                .position(|c| c.client_id == client)
                .ok_or("delivery to an unknown client")?;
            let ch = self.channel_of(i);
            if !self.published.contains(&msg.body) {
                return Err(format!("invented body {:?}", msg.body));
            }
            for (j, other) in self.consumers.iter().enumerate() {
                if j != i && other.sub.channel == ch && other.held.contains_key(&msg.id) {
                    return Err(format!("{} held by two consumers", msg.id));
                }
            }
            let c = &mut self.consumers[i];
            c.held.insert(msg.id, now + MSG_TIMEOUT);
            if c.held.len() as i64 > c.rdy {
                return Err(format!("in flight {} > RDY {}", c.held.len(), c.rdy));
            }
            self.delivered
                .entry(ch)
                .or_default()
                .insert(msg.body.clone());
        }
        Ok(())
    }

    fn body_of(&self, id: &MessageId) -> Bytes {
        self.broker
            .out
            .delivered
            .iter()
            .rev()
            .find(|(_, m)| &m.id == id)
            .map(|(_, m)| m.body.clone())
            .unwrap_or_default()
    }

    fn pick(&self, c: u8, m: u8) -> Option<(usize, MessageId)> {
        if self.consumers.is_empty() {
            return None;
        }
        let i = c as usize % self.consumers.len();
        let held: Vec<MessageId> = self.consumers[i].held.keys().copied().collect();
        (!held.is_empty()).then(|| (i, held[m as usize % held.len()]))
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        let now = self.now;
        match *op {
            Op::Publish(n) => {
                let bodies: Vec<Bytes> = (0..n)
                    .map(|_| {
                        self.pub_counter += 1;
                        Bytes::from(format!("body-{}", self.pub_counter))
                    })
                    .collect();
                self.published.extend(bodies.iter().cloned());
                self.broker.publish("t", bodies, now)?;
            }
            Op::Rdy(c, n) => {
                let i = c as usize % self.consumers.len();
                let (id, sub) = (self.consumers[i].client_id, self.consumers[i].sub.clone());
                self.consumers[i].rdy = i64::from(n);
                self.broker.ready(&sub, id, i64::from(n), now);
            }
            Op::Fin(c, m) => {
                if let Some((i, mid)) = self.pick(c, m) {
                    let (id, sub) = (self.consumers[i].client_id, self.consumers[i].sub.clone());
                    self.broker
                        .finish(&sub, id, &mid, now)
                        .map_err(|e| format!("FIN {mid}: {}", e.as_str()))?;
                    self.consumers[i].held.remove(&mid);
                    let body = self.body_of(&mid);
                    let ch = self.channel_of(i);
                    self.finished.entry(ch).or_default().insert(body);
                }
            }
            Op::Req(c, m, delayed) => {
                if let Some((i, mid)) = self.pick(c, m) {
                    let (id, sub) = (self.consumers[i].client_id, self.consumers[i].sub.clone());
                    self.consumers[i].held.remove(&mid);
                    let delay = if delayed { 3 * SECOND } else { 0 };
                    self.broker.requeue(&sub, id, &mid, delay, now)?;
                }
            }
            Op::Touch(c, m) => {
                if let Some((i, mid)) = self.pick(c, m) {
                    let (id, sub) = (self.consumers[i].client_id, self.consumers[i].sub.clone());
                    self.broker
                        .touch(&sub, id, &mid, now)
                        .map_err(|e| e.as_str().to_string())?;
                    self.consumers[i].held.insert(mid, now + MSG_TIMEOUT);
                }
            }
            Op::Advance(ms) => {
                self.now += Nanos::from(ms) * 1_000_000;
                // expire the model first: redeliveries at this tick are legal
                let now = self.now;
                for c in &mut self.consumers {
                    c.held.retain(|_, d| *d > now);
                }
                self.broker.tick(self.now);
            }
            Op::Reconnect(c) => {
                let i = c as usize % self.consumers.len();
                let gone = self.consumers.remove(i);
                let client =
                    nsq_core::broker::Client::new(gone.client_id, Default::default(), "h", now);
                let mut client = client;
                client.sub = Some(gone.sub.clone());
                self.broker.disconnect(&client);
                // its messages stay in flight until they time out
                let ch = if gone.sub.channel == "c1" { "c1" } else { "c2" };
                self.connect(ch);
            }
        }
        self.absorb()?;
        self.check_conservation()
    }

    /// Per channel: published = queued + in flight + deferred + finished.
    fn check_conservation(&self) -> Result<(), String> {
        let topic = &self.broker.topics["t"];
        for ch_name in CHANNELS {
            let ch = topic.channel(ch_name).ok_or("channel vanished")?;
            let fin = self.finished.get(ch_name).map_or(0, BTreeSet::len) as u64;
            let held = ch.depth() + ch.in_flight_count() as u64 + ch.deferred_count() as u64 + fin;
            if held != self.published.len() as u64 {
                return Err(format!(
                    "{ch_name}: {held} accounted for, {} published",
                    self.published.len()
                ));
            }
        }
        Ok(())
    }

    /// Consumers drain everything; then every message reached every channel.
    fn drain(&mut self) -> Result<(), String> {
        for i in 0..self.consumers.len() {
            let (id, sub) = (self.consumers[i].client_id, self.consumers[i].sub.clone());
            self.consumers[i].rdy = 100;
            self.broker.ready(&sub, id, 100, self.now);
        }
        self.absorb()?;
        for _ in 0..200 {
            for i in 0..self.consumers.len() {
                while let Some((_, mid)) = self.pick(i as u8, 0) {
                    if self.consumers[i].held.is_empty() {
                        break;
                    }
                    self.apply(&Op::Fin(i as u8, 0))?;
                    let _ = mid;
                }
            }
            self.apply(&Op::Advance(5_000))?;
        }
        for ch in CHANNELS {
            let got = self.finished.get(ch).cloned().unwrap_or_default();
            if got != self.published {
                return Err(format!(
                    "{ch}: finished {} of {}",
                    got.len(),
                    self.published.len()
                ));
            }
        }
        Ok(())
    }
}

fn run(ops: Vec<Op>) -> Result<(), String> {
    let mut w = World::new();
    for op in &ops {
        w.apply(op)?;
    }
    w.drain()
}

#[test]
fn broker_invariants_hold_under_random_operations() {
    fn prop(ops: Vec<Op>) -> bool {
        match run(ops.clone()) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("violated: {e}\nops: {ops:?}");
                false
            }
        }
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Vec<Op>) -> bool);
}
