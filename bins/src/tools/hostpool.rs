//! bitly's `go-hostpool`, which nsq_to_http and nsq_to_nsq use for
//! `--mode=hostpool` and `--mode=epsilon-greedy`: round-robin over hosts,
//! skipping hosts marked dead until their retry time (30 s, doubling up to
//! 15 min); epsilon-greedy also learns response times and mostly picks fast
//! hosts, exploring at random a decaying fraction of the time.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const INITIAL_RETRY: Duration = Duration::from_secs(30);
const MAX_RETRY: Duration = Duration::from_secs(900);
const EPSILON_BUCKETS: usize = 120;
const EPSILON_DECAY: f32 = 0.90;
const MIN_EPSILON: f32 = 0.01;
const INITIAL_EPSILON: f32 = 0.3;
/// Response times are averaged over this long (in 120 buckets).
const DECAY_DURATION: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Host {
    name: String,
    dead: bool,
    next_retry: Instant,
    retry_delay: Duration,
    counts: Vec<i64>,
    values: Vec<i64>,
}

#[derive(Debug)]
pub struct HostPool {
    hosts: Vec<Host>,
    next: usize,
    /// `Some` for epsilon-greedy.
    epsilon: Option<f32>,
    bucket: usize,
    bucket_started: Instant,
    rng: SmallRng,
}

impl HostPool {
    pub fn new(hosts: &[String], epsilon_greedy: bool, seed: u64, now: Instant) -> Self {
        HostPool {
            hosts: hosts
                .iter()
                .map(|h| Host {
                    name: h.clone(),
                    dead: false,
                    next_retry: now,
                    retry_delay: INITIAL_RETRY,
                    counts: vec![0; EPSILON_BUCKETS],
                    values: vec![0; EPSILON_BUCKETS],
                })
                .collect(),
            next: 0,
            epsilon: epsilon_greedy.then_some(INITIAL_EPSILON),
            bucket: 0,
            bucket_started: now,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The host to use next (its index into the list given to `new`).
    pub fn get(&mut self, now: Instant) -> usize {
        self.decay(now);
        if let Some(eps) = self.epsilon {
            if self.rng.random::<f32>() >= eps {
                if let Some(i) = self.greedy(now) {
                    return i;
                }
            } else {
                self.epsilon = Some((eps * EPSILON_DECAY).max(MIN_EPSILON));
            }
        }
        self.round_robin(now)
    }

    pub fn host(&self, i: usize) -> &str {
        &self.hosts[i].name
    }

    /// Reports how a request to host `i` went (and how long it took).
    pub fn mark(&mut self, i: usize, ok: bool, took: Duration, now: Instant) {
        let bucket = self.bucket;
        let Some(h) = self.hosts.get_mut(i) else {
            return;
        };
        if ok {
            h.dead = false;
            h.counts[bucket] += 1;
            h.values[bucket] += took.as_millis() as i64;
        } else if !h.dead {
            h.dead = true;
            h.retry_delay = INITIAL_RETRY;
            h.next_retry = now + h.retry_delay;
        }
    }

    fn round_robin(&mut self, now: Instant) -> usize {
        let n = self.hosts.len();
        for k in 0..n {
            let i = (k + self.next) % n;
            let h = &mut self.hosts[i];
            if !h.dead {
                self.next = i + 1;
                return i;
            }
            if h.next_retry < now {
                h.retry_delay = (h.retry_delay * 2).min(MAX_RETRY);
                h.next_retry = now + h.retry_delay;
                self.next = i + 1;
                return i;
            }
        }
        // every host is down: try them all again
        for h in &mut self.hosts {
            h.dead = false;
        }
        self.next = 1;
        0
    }

    fn greedy(&mut self, now: Instant) -> Option<usize> {
        let mut scores = Vec::new();
        let mut sum = 0.0;
        for (i, h) in self.hosts.iter().enumerate() {
            if h.dead && h.next_retry >= now {
                continue;
            }
            let v = weighted_average(h, self.bucket);
            if v > 0.0 {
                let score = 1.0 / v;
                sum += score;
                scores.push((i, score));
            }
        }
        if scores.is_empty() {
            return None;
        }
        let pick = self.rng.random::<f64>();
        let mut ceiling = 0.0;
        for (i, score) in scores {
            ceiling += score / sum;
            if pick <= ceiling {
                let h = &mut self.hosts[i];
                if h.dead {
                    h.retry_delay = (h.retry_delay * 2).min(MAX_RETRY);
                    h.next_retry = now + h.retry_delay;
                }
                return Some(i);
            }
        }
        None
    }

    fn decay(&mut self, now: Instant) {
        if self.epsilon.is_none() {
            return;
        }
        let per_bucket = DECAY_DURATION / EPSILON_BUCKETS as u32;
        while now.duration_since(self.bucket_started) >= per_bucket {
            self.bucket_started += per_bucket;
            self.bucket = (self.bucket + 1) % EPSILON_BUCKETS;
            for h in &mut self.hosts {
                h.counts[self.bucket] = 0;
                h.values[self.bucket] = 0;
            }
        }
    }
}

/// Recent buckets weigh more; empty buckets repeat the last known value.
fn weighted_average(h: &Host, current: usize) -> f64 {
    let mut value = 0.0;
    let mut last = 0.0;
    for i in 1..=EPSILON_BUCKETS {
        let pos = (current + i) % EPSILON_BUCKETS;
        let weight = i as f64 / EPSILON_BUCKETS as f64;
        if h.counts[pos] > 0 {
            last = h.values[pos] as f64 / h.counts[pos] as f64;
        }
        value += last * weight;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn round_robin_skips_dead_hosts_until_their_retry() {
        let t0 = Instant::now();
        let mut p = HostPool::new(&hosts(3), false, 1, t0);
        assert_eq!([p.get(t0), p.get(t0), p.get(t0), p.get(t0)], [0, 1, 2, 0]);
        p.mark(1, false, Duration::ZERO, t0);
        assert_eq!([p.get(t0), p.get(t0), p.get(t0)], [2, 0, 2]);
        // after 30 s the dead host gets one retry
        let later = t0 + Duration::from_secs(31);
        assert_eq!([p.get(later), p.get(later)], [0, 1]);
        p.mark(1, true, Duration::ZERO, later);
        assert_eq!(p.get(later), 2);
        assert_eq!(p.get(later), 0);
        assert_eq!(p.get(later), 1);
    }

    #[test]
    fn all_dead_resets_the_pool() {
        let t0 = Instant::now();
        let mut p = HostPool::new(&hosts(2), false, 1, t0);
        p.mark(0, false, Duration::ZERO, t0);
        p.mark(1, false, Duration::ZERO, t0);
        assert_eq!(p.get(t0), 0);
        assert_eq!(p.get(t0), 1);
    }

    #[test]
    fn epsilon_greedy_prefers_the_fast_host() {
        let t0 = Instant::now();
        let mut p = HostPool::new(&hosts(2), true, 7, t0);
        for _ in 0..50 {
            p.mark(0, true, Duration::from_millis(2), t0);
            p.mark(1, true, Duration::from_millis(200), t0);
        }
        let fast = (0..1000).filter(|_| p.get(t0) == 0).count();
        assert!(fast > 800, "fast host chosen {fast} of 1000");
    }
}
