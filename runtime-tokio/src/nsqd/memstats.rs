//! The process's memory, in the shape of Go's memory stats. A Rust process
//! has no garbage collector, so the GC figures are 0. The heap figures are
//! glibc's allocator's own (`mallinfo2`); where it cannot tell, the heap in
//! use is the resident memory and the rest 0.

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

/// Bytes in use and bytes held free by the allocator, if it can tell.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn allocator() -> Option<(u64, u64)> {
    use std::ffi::{c_char, c_void};
    use std::sync::OnceLock;

    /// glibc's `struct mallinfo2` (all `size_t`).
    #[repr(C)]
    #[allow(dead_code)] // filled in by glibc; only some fields are read
    struct Mallinfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }
    type Fn = unsafe extern "C" fn() -> Mallinfo2;
    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }
    // mallinfo2 is glibc >= 2.33: looked up at run time, so that the
    // binary still starts on an older glibc (then there are no figures).
    static MALLINFO2: OnceLock<Option<Fn>> = OnceLock::new();
    let f = MALLINFO2.get_or_init(|| {
        // SAFETY: RTLD_DEFAULT (a null handle) searches the loaded objects;
        // the symbol, if there, is glibc's mallinfo2 with the type above.
        unsafe {
            let p = dlsym(std::ptr::null_mut(), c"mallinfo2".as_ptr());
            (!p.is_null()).then(|| std::mem::transmute::<*mut c_void, Fn>(p))
        }
    });
    // SAFETY: mallinfo2 walks glibc's arenas under their locks.
    let m = unsafe { (*f)?() };
    // in use: small chunks handed out plus the large ones mmapped on their own
    Some(((m.uordblks + m.hblkhd) as u64, m.fordblks as u64))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn allocator() -> Option<(u64, u64)> {
    None
}

pub fn read() -> MemStats {
    let (heap_in_use_bytes, heap_idle_bytes) = allocator().unwrap_or_else(|| (resident_bytes(), 0));
    MemStats {
        heap_in_use_bytes,
        heap_idle_bytes,
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

#[cfg(test)]
mod tests {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_allocator_reports_what_is_held() {
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let (during, _) = super::allocator().expect("glibc has mallinfo2");
        // other tests allocate and free beside this one: only a lower bound holds
        assert!(during >= 64 << 20, "{during}");
        drop(block);
        let m = super::read();
        assert!(m.heap_in_use_bytes > 0);
    }
}
