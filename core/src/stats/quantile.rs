//! End-to-end processing latency (`--e2e-processing-latency-percentile`):
//! the targeted-quantile sketch NSQ uses (Cormode, Korn, Muthukrishnan,
//! Srivastava, "Effective Computation of Biased Quantiles over Data
//! Streams", ICDE 2005) over a sliding window made of two half-window
//! sketches, the older one dropped as the window moves.
//!
//! Deterministic: time comes in as `now`, nothing is random.

use super::model::{Latency, Percentile};
use crate::io::Nanos;
use std::sync::Arc;

/// The sketch's error bound (NSQ's default epsilon).
const EPSILON: f64 = 0.01;
/// Values buffered before they are merged into the summary.
const BUFFER: usize = 500;

/// One summary entry: a value, how many observations it stands for, and
/// the uncertainty of its rank.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tuple {
    value: f64,
    width: f64,
    delta: f64,
}

/// A targeted-quantile summary of a stream of values.
#[derive(Debug, Clone)]
struct Sketch {
    targets: Arc<[f64]>,
    /// Observations merged into `tuples`.
    n: f64,
    tuples: Vec<Tuple>,
    /// Observations not merged yet.
    pending: Vec<f64>,
}

impl Sketch {
    fn new(targets: Arc<[f64]>) -> Self {
        Sketch {
            targets,
            n: 0.0,
            tuples: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The rank error allowed at rank `r`: the tightest bound any target
    /// quantile needs there.
    fn allowed(&self, r: f64) -> f64 {
        self.targets
            .iter()
            .map(|&q| {
                if q * self.n <= r {
                    2.0 * EPSILON * r / q
                } else {
                    2.0 * EPSILON * (self.n - r) / (1.0 - q)
                }
            })
            .fold(f64::MAX, f64::min)
    }

    fn insert(&mut self, v: f64) {
        self.pending.push(v);
        if self.pending.len() >= BUFFER {
            self.flush();
            self.compress();
        }
    }

    fn reset(&mut self) {
        self.n = 0.0;
        self.tuples.clear();
        self.pending.clear();
    }

    fn count(&self) -> u64 {
        self.n as u64 + self.pending.len() as u64
    }

    fn flush(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by(f64::total_cmp);
        self.merge(pending.iter().map(|&value| Tuple {
            value,
            width: 1.0,
            delta: 0.0,
        }));
        pending.clear();
        self.pending = pending;
    }

    /// Merges tuples given in value order. A tuple that lands between
    /// existing ones gets the rank uncertainty allowed where it lands.
    fn merge(&mut self, sorted: impl Iterator<Item = Tuple>) {
        let mut i = 0;
        let mut rank = 0.0;
        for t in sorted {
            while i < self.tuples.len() && self.tuples[i].value <= t.value {
                rank += self.tuples[i].width;
                i += 1;
            }
            let delta = if i < self.tuples.len() {
                self.allowed(rank).floor() - 1.0
            } else {
                0.0
            };
            self.tuples.insert(
                i,
                Tuple {
                    value: t.value,
                    width: t.width,
                    delta,
                },
            );
            i += 1;
            self.n += t.width;
        }
    }

    /// Folds neighbours together wherever the error bound allows, from the top down.
    fn compress(&mut self) {
        if self.tuples.len() < 2 {
            return;
        }
        let mut kept = Vec::with_capacity(self.tuples.len());
        let mut rest = self.tuples.iter().rev();
        let Some(&first) = rest.next() else { return };
        let mut x = first;
        let mut rank = self.n - 1.0 - x.width;
        for &c in rest {
            if c.width + x.width + x.delta <= self.allowed(rank) {
                x.width += c.width;
            } else {
                kept.push(x);
                x = c;
            }
            rank -= c.width;
        }
        kept.push(x);
        kept.reverse();
        self.tuples = kept;
    }

    /// What this sketch contributes to a merge, in value order: the raw
    /// values while nothing was summarised yet, else the compressed summary.
    fn summary(&self) -> Vec<Tuple> {
        if self.tuples.is_empty() {
            let mut v: Vec<Tuple> = self
                .pending
                .iter()
                .map(|&value| Tuple {
                    value,
                    width: 1.0,
                    delta: 0.0,
                })
                .collect();
            v.sort_by(|a, b| a.value.total_cmp(&b.value));
            return v;
        }
        let mut s = self.clone();
        s.flush();
        s.compress();
        s.tuples
    }

    /// The value at quantile `q` (0 when empty).
    fn query(&self, q: f64) -> f64 {
        let Some((first, rest)) = self.tuples.split_first() else {
            return 0.0;
        };
        let mut t = (q * self.n).ceil();
        t += (self.allowed(t) / 2.0).ceil();
        let mut prev = first;
        let mut rank = 0.0;
        for c in rest {
            if rank + c.width + c.delta > t {
                return prev.value;
            }
            rank += prev.width;
            prev = c;
        }
        prev.value
    }
}

/// A channel's latency window: two sketches, each covering half the window.
#[derive(Debug, Clone)]
pub struct Quantile {
    targets: Arc<[f64]>,
    half_window: Nanos,
    sketches: [Sketch; 2],
    current: usize,
    /// When the current half began; set by the first observation.
    window_start: Option<Nanos>,
    /// Every observation since the channel began (not just the window's),
    /// for Prometheus' `_count` and `_sum`, which must only grow.
    observed: u64,
    observed_nanos: u128,
}

impl Quantile {
    /// A window of `window` nanoseconds reporting `percentiles` (each in (0, 1]).
    pub fn new(window: Nanos, percentiles: Arc<[f64]>) -> Self {
        Quantile {
            half_window: (window / 2).max(1),
            sketches: [
                Sketch::new(Arc::clone(&percentiles)),
                Sketch::new(Arc::clone(&percentiles)),
            ],
            targets: percentiles,
            current: 0,
            window_start: None,
            observed: 0,
            observed_nanos: 0,
        }
    }

    /// How many half-windows have passed since the current one began.
    fn moves(&self, now: Nanos) -> u64 {
        match self.window_start {
            Some(start) if now.saturating_sub(start) > self.half_window => {
                ((now.saturating_sub(start) - 1) / self.half_window) as u64
            }
            _ => 0,
        }
    }

    /// Records a message that was published at `published` and finished at `now`.
    pub fn insert(&mut self, published: Nanos, now: Nanos) {
        let moves = self.moves(now);
        let start = *self.window_start.get_or_insert(now);
        if moves > 0 {
            if moves % 2 == 1 {
                self.current = 1 - self.current;
            }
            // The half we move into starts empty; after two moves both do.
            self.sketches[self.current].reset();
            if moves >= 2 {
                self.sketches[1 - self.current].reset();
            }
            let advance = self
                .half_window
                .saturating_mul(moves.min(i64::MAX as u64) as i64);
            self.window_start = Some(start.saturating_add(advance));
        }
        let latency = now.saturating_sub(published);
        self.observed += 1;
        // a clock that went back counts as no latency in the sum
        self.observed_nanos += latency.max(0) as u128;
        self.sketches[self.current].insert(latency as f64);
    }

    /// The sketches still inside the window at `now`.
    fn live(&self, now: Nanos) -> impl Iterator<Item = &Sketch> {
        let moves = self.moves(now);
        let cur = &self.sketches[self.current];
        let old = &self.sketches[1 - self.current];
        let keep_old = moves == 0;
        let keep_cur = moves <= 1;
        [(keep_old, old), (keep_cur, cur)]
            .into_iter()
            .filter_map(|(keep, s)| keep.then_some(s))
    }

    pub fn percentiles(&self) -> &Arc<[f64]> {
        &self.targets
    }

    /// This window's count and percentiles at `now`.
    pub fn result(&self, now: Nanos) -> Latency {
        Self::combine(std::iter::once(self), &self.targets, now)
    }

    /// Several windows as one (a topic reports its channels together):
    /// `None` when there is no window at all, as NSQ reports it.
    pub fn combine<'a>(
        windows: impl IntoIterator<Item = &'a Quantile>,
        targets: &Arc<[f64]>,
        now: Nanos,
    ) -> Latency {
        let mut merged = Sketch::new(Arc::clone(targets));
        let mut any = false;
        let (mut observed, mut observed_nanos) = (0u64, 0u128);
        for w in windows {
            any = true;
            observed += w.observed;
            observed_nanos += w.observed_nanos;
            for s in w.live(now) {
                merged.merge(s.summary().into_iter());
            }
        }
        if !any {
            return Latency::default();
        }
        Latency {
            count: merged.count(),
            percentiles: Some(
                targets
                    .iter()
                    .map(|&q| Percentile {
                        quantile: q,
                        value: merged.query(q),
                    })
                    .collect(),
            ),
            observed,
            observed_seconds: observed_nanos as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{MS, SECOND};

    fn q(p: &[f64]) -> Quantile {
        Quantile::new(600 * SECOND, p.into())
    }

    fn values(l: &Latency) -> Vec<f64> {
        l.percentiles
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| p.value)
            .collect()
    }

    #[test]
    fn queries_follow_nsqs_rank_rule() {
        // NSQ answers quantile q with the value at rank ceil(q*n) plus half
        // the error allowed there, rounded up: for 1..=100 ms, p50 is the
        // 52nd value and p99 the largest.
        let mut w = q(&[0.5, 0.99]);
        let now = 1000 * SECOND;
        for i in 0..100 {
            let ms = (i * 37) % 100 + 1;
            w.insert(now - ms * MS, now);
        }
        let r = w.result(now);
        assert_eq!(r.count, 100);
        assert_eq!(values(&r), vec![52.0 * MS as f64, 100.0 * MS as f64]);
    }

    #[test]
    fn large_streams_stay_within_the_error_bound() {
        let mut w = q(&[0.5, 0.9, 0.99]);
        let now = 1000 * SECOND;
        // A deterministic permutation of 1..=100_000 microseconds.
        let n: i64 = 100_000;
        for i in 0..n {
            let v = (i * 7919) % n + 1;
            w.insert(now - v * 1000, now);
        }
        let r = w.result(now);
        assert_eq!(r.count, n as u64);
        for (p, got) in [0.5, 0.9, 0.99].into_iter().zip(values(&r)) {
            let want = p * n as f64 * 1000.0;
            let err = (got - want).abs() / (n as f64 * 1000.0);
            assert!(err <= 2.0 * EPSILON, "p{p}: got {got}, want ~{want}");
        }
        assert!(w.sketches[w.current].tuples.len() < 2_000, "summarised");
    }

    #[test]
    fn the_window_forgets_old_halves() {
        let mut w = Quantile::new(10 * SECOND, Arc::from([0.5]));
        let t0 = 1000 * SECOND;
        w.insert(t0 - MS, t0);
        assert_eq!(
            w.result(t0 + 5 * SECOND).count,
            1,
            "still in the first half"
        );
        assert_eq!(w.result(t0 + 6 * SECOND).count, 1, "in the older half");
        w.insert(t0 + 6 * SECOND - 2 * MS, t0 + 6 * SECOND);
        assert_eq!(w.result(t0 + 6 * SECOND).count, 2);
        assert_eq!(
            w.result(t0 + 11 * SECOND).count,
            1,
            "the first half is gone"
        );
        assert_eq!(w.result(t0 + 16 * SECOND).count, 0, "everything is gone");
        w.insert(t0 + 60 * SECOND - 3 * MS, t0 + 60 * SECOND);
        let r = w.result(t0 + 60 * SECOND);
        assert_eq!((r.count, values(&r)), (1, vec![3.0 * MS as f64]));
        // what Prometheus' _count and _sum get never forgets
        assert_eq!(r.observed, 3);
        assert!(
            (r.observed_seconds - 0.006).abs() < 1e-12,
            "{}",
            r.observed_seconds
        );
    }

    #[test]
    fn combining_merges_every_window_and_none_is_null() {
        let targets: Arc<[f64]> = Arc::from([0.5]);
        let now = 1000 * SECOND;
        let mut a = Quantile::new(600 * SECOND, Arc::clone(&targets));
        let mut b = Quantile::new(600 * SECOND, Arc::clone(&targets));
        a.insert(now - MS, now);
        b.insert(now - 3 * MS, now);
        b.insert(now - 2 * MS, now);
        let r = Quantile::combine([&a, &b], &targets, now);
        assert_eq!(r.count, 3);
        assert_eq!(r.observed, 3);
        assert!((r.observed_seconds - 0.006).abs() < 1e-12);
        assert_eq!(values(&r), vec![3.0 * MS as f64]);
        let none = Quantile::combine(std::iter::empty(), &targets, now);
        assert_eq!(none, Latency::default());
        let empty = Quantile::new(SECOND, Arc::clone(&targets)).result(now);
        assert_eq!((empty.count, values(&empty)), (0, vec![0.0]));
    }
}
