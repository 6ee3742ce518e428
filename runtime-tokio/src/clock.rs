//! The one place the runtime reads time: wall-clock nanoseconds that never
//! go backwards (anchored once, then advanced by the monotonic clock).
//!
//! Under the simulator both clocks are simulated and each run (seed) has
//! its own, so the time is read afresh instead of from a process-wide
//! anchor (which would carry one run's clock into the next).

use nsq_core::io::Nanos;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

#[cfg(not(madsim))]
struct Anchor {
    wall: Nanos,
    mono: Instant,
}

#[cfg(not(madsim))]
fn anchor() -> &'static Anchor {
    static ANCHOR: std::sync::OnceLock<Anchor> = std::sync::OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        wall: wall_now(),
        mono: Instant::now(),
    })
}

fn wall_now() -> Nanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(nsq_core::io::nanos)
        .unwrap_or(0)
}

/// Now, in nanoseconds since the Unix epoch.
#[cfg(not(madsim))]
pub fn now() -> Nanos {
    let a = anchor();
    a.wall + nsq_core::io::nanos(a.mono.elapsed())
}

/// Now, in nanoseconds since the Unix epoch (the simulated clock, which
/// only moves forward).
#[cfg(madsim)]
pub fn now() -> Nanos {
    wall_now()
}

/// The monotonic instant of a `now()`-style deadline.
#[cfg(not(madsim))]
pub fn instant_at(deadline: Nanos) -> Instant {
    let a = anchor();
    let offset = deadline.saturating_sub(a.wall).max(0);
    a.mono + Duration::from_nanos(offset as u64)
}

/// The monotonic instant of a `now()`-style deadline.
#[cfg(madsim)]
pub fn instant_at(deadline: Nanos) -> Instant {
    let (mono, wall) = (Instant::now(), wall_now());
    let offset = deadline.saturating_sub(wall).max(0);
    mono + Duration::from_nanos(offset as u64)
}
