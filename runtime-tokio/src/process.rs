//! The process series of `/metrics` (CPU, memory, file descriptors, start
//! time), read from Linux's `/proc/self` as Prometheus' client libraries
//! read them. Elsewhere there are none.

use nsq_core::stats::prometheus::ProcessStats;

use std::ffi::{c_int, c_long};

#[cfg(target_os = "linux")]
extern "C" {
    fn sysconf(name: c_int) -> c_long;
}

// Linux's numbers for these sysconf names (glibc and musl agree).
const SC_CLK_TCK: c_int = 2;
const SC_PAGESIZE: c_int = 30;

#[cfg(target_os = "linux")]
fn sysconf_or(name: c_int, default: c_long) -> c_long {
    // SAFETY: sysconf only reads a system constant.
    let v = unsafe { sysconf(name) };
    if v > 0 {
        v
    } else {
        default
    }
}

/// The figures of `/proc/self/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    utime_ticks: u64,
    stime_ticks: u64,
    start_ticks: u64,
    vsize_bytes: u64,
    rss_pages: u64,
}

/// Parses `/proc/self/stat`. The command name (field 2) may hold spaces
/// and parentheses, so the fields are counted from its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): field n is f[n - 3]
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        utime_ticks: n(14)?,
        stime_ticks: n(15)?,
        start_ticks: n(22)?,
        vsize_bytes: n(23)?,
        rss_pages: n(24)?,
    })
}

/// Boot time in Unix seconds (`btime` of `/proc/stat`).
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime"))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of open files from `/proc/self/limits` (`None` when
/// unlimited or unreadable).
fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(target_os = "linux")]
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

/// This process's figures now, `None` where `/proc` cannot tell.
#[cfg(not(target_os = "linux"))]
pub fn read() -> Option<ProcessStats> {
    None
}

/// This process's figures now, `None` where `/proc` cannot tell.
#[cfg(target_os = "linux")]
pub fn read() -> Option<ProcessStats> {
    let stat = parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let btime = parse_btime(&std::fs::read_to_string("/proc/stat").ok()?)?;
    let ticks = sysconf_or(SC_CLK_TCK, 100) as f64;
    let page = sysconf_or(SC_PAGESIZE, 4096) as u64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| parse_max_fds(&l));
    Some(ProcessStats {
        cpu_seconds: (stat.utime_ticks + stat.stime_ticks) as f64 / ticks,
        resident_memory_bytes: stat.rss_pages.saturating_mul(page),
        virtual_memory_bytes: stat.vsize_bytes,
        open_fds: open_fds(),
        max_fds,
        start_time_seconds: btime as f64 + stat.start_ticks as f64 / ticks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // a command name with a space and a parenthesis, as a process may name itself
        let text = "4242 (nsq d) x) S 1 4242 4242 0 -1 4194560 3032 0 0 0 125 37 0 0 20 0 9 0 \
                    9988 1234567890 4321 18446744073709551615 1 1 0 0 0 0 0 4096 17920 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                utime_ticks: 125,
                stime_ticks: 37,
                start_ticks: 9988,
                vsize_bytes: 1_234_567_890,
                rss_pages: 4321,
            })
        );
        assert_eq!(parse_stat("4242 (nsqd) S 1 2"), None, "too short");
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn boot_time_and_file_limit() {
        assert_eq!(
            parse_btime("cpu  1 2 3\nintr 5\nbtime 1795290000\nprocesses 9\n"),
            Some(1_795_290_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            20000                524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(20_000));
        let unlimited =
            "Max open files            unlimited            unlimited            files     \n";
        assert_eq!(parse_max_fds(unlimited), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_sensibly() {
        let p = read().expect("/proc/self is there on Linux");
        assert!(p.resident_memory_bytes > 0);
        assert!(p.virtual_memory_bytes >= p.resident_memory_bytes);
        assert!(p.open_fds >= 3, "stdin, stdout, stderr at least");
        assert!(p.start_time_seconds > 1_000_000_000.0);
        assert!(p.cpu_seconds >= 0.0);
    }
}
