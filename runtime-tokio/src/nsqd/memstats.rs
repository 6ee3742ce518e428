//! The process's memory, in the shape of Go's memory stats. A Rust process
//! has no garbage collector, so the GC figures are 0; the resident memory
//! stands in for the heap in use.

use nsq_core::stats::MemStats;

/// Resident memory in bytes (Linux `/proc/self/status`), 0 elsewhere.
fn resident_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub fn read() -> MemStats {
    MemStats {
        heap_in_use_bytes: resident_bytes(),
        ..MemStats::default()
    }
}

/// `/debug/freememory`: hands freed heap back to the OS (glibc's
/// `malloc_trim`; other allocators return memory on their own).
#[cfg_attr(madsim, allow(dead_code))]
pub fn free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own arenas under their locks.
        unsafe {
            malloc_trim(0);
        }
    }
}
