//! Small per-message rules of go-nsq: the backoff length, the default
//! requeue delay and when a message has been attempted too often.

use super::config::{BackoffStrategy, Config};
use crate::io::{nanos, Nanos};
use rand::Rng;

/// Backoff for the `level`-th consecutive failure (level >= 1).
pub fn backoff_duration<R: Rng>(cfg: &Config, level: u32, rng: &mut R) -> Nanos {
    let unit = nanos(cfg.backoff_multiplier);
    let full = unit.saturating_mul(1i64.checked_shl(level.min(62)).unwrap_or(i64::MAX));
    match cfg.backoff_strategy {
        BackoffStrategy::Exponential => full,
        BackoffStrategy::FullJitter if full > 0 => rng.random_range(0..full),
        BackoffStrategy::FullJitter => 0,
    }
}

/// The delay of a requeue that did not name one: `default_requeue_delay`
/// times the attempts so far, at most `max_requeue_delay`.
pub fn default_requeue_delay(cfg: &Config, attempts: u16) -> Nanos {
    nanos(cfg.default_requeue_delay)
        .saturating_mul(i64::from(attempts))
        .min(nanos(cfg.max_requeue_delay))
}

/// True when the message was delivered more often than `max_attempts`
/// allows: the consumer finishes it without handling it.
pub fn too_many_attempts(cfg: &Config, attempts: u16) -> bool {
    cfg.max_attempts > 0 && attempts > cfg.max_attempts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::SECOND;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::time::Duration;

    #[test]
    fn exponential_doubles_from_the_multiplier() {
        let cfg = Config::new("h");
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(backoff_duration(&cfg, 1, &mut rng), 2 * SECOND);
        assert_eq!(backoff_duration(&cfg, 3, &mut rng), 8 * SECOND);
        assert_eq!(backoff_duration(&cfg, 200, &mut rng), i64::MAX);
    }

    #[test]
    fn full_jitter_stays_below_the_exponential_value() {
        let mut cfg = Config::new("h");
        cfg.backoff_strategy = BackoffStrategy::FullJitter;
        let mut rng = SmallRng::seed_from_u64(7);
        for level in 1..8 {
            let d = backoff_duration(&cfg, level, &mut rng);
            assert!((0..SECOND << level).contains(&d));
        }
    }

    #[test]
    fn requeue_delay_grows_with_attempts_up_to_the_max() {
        let mut cfg = Config::new("h");
        cfg.default_requeue_delay = Duration::from_secs(90);
        cfg.max_requeue_delay = Duration::from_secs(200);
        assert_eq!(default_requeue_delay(&cfg, 1), 90 * SECOND);
        assert_eq!(default_requeue_delay(&cfg, 2), 180 * SECOND);
        assert_eq!(default_requeue_delay(&cfg, 3), 200 * SECOND);
    }

    #[test]
    fn attempts_limit() {
        let mut cfg = Config::new("h");
        assert!(!too_many_attempts(&cfg, 5));
        assert!(too_many_attempts(&cfg, 6));
        cfg.max_attempts = 0;
        assert!(!too_many_attempts(&cfg, u16::MAX));
    }
}
