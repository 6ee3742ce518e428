//! The one place the runtime reads time: wall-clock nanoseconds that never
//! go backwards (anchored once, then advanced by the monotonic clock).

use nsq_core::io::Nanos;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

struct Anchor {
    wall: Nanos,
    mono: Instant,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        wall: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(nsq_core::io::nanos)
            .unwrap_or(0),
        mono: Instant::now(),
    })
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now() -> Nanos {
    let a = anchor();
    a.wall + nsq_core::io::nanos(a.mono.elapsed())
}

/// The monotonic instant of a `now()`-style deadline.
pub fn instant_at(deadline: Nanos) -> Instant {
    let a = anchor();
    let offset = deadline.saturating_sub(a.wall).max(0);
    a.mono + Duration::from_nanos(offset as u64)
}
