//! The seams between the core and the world.
//!
//! Time: every entry point that needs the time takes `now` as [`Nanos`]
//! (nanoseconds since the Unix epoch, the unit NSQ stamps messages with) and
//! reports the next instant it wants to be called again as a deadline.

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

/// Nanoseconds in one millisecond.
pub const MS: Nanos = 1_000_000;
/// Nanoseconds in one second.
pub const SECOND: Nanos = 1_000 * MS;

/// Converts a [`std::time::Duration`] to nanoseconds, saturating.
pub fn nanos(d: std::time::Duration) -> Nanos {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

pub mod disk;
pub mod mem_disk;

pub use disk::Disk;
pub use mem_disk::MemDisk;
