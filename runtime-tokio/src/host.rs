//! Facts about the machine NSQ reports.

/// The machine's host name (NSQ's default broadcast address, and the
/// `hostname` nsqd and nsqlookupd report).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
