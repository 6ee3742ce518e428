//! The disk seam: named files in one data directory, each operation able to
//! fail. The runtime supplies real files; tests and the simulator use
//! [`super::MemDisk`], which can lose unsynced data, tear writes and fail.

use std::io;

pub trait Disk: Send {
    /// Appends up to `max` bytes of `name` from `offset` to `buf` (fewer at
    /// the end of the file).
    fn read_at(&mut self, name: &str, offset: u64, max: usize, buf: &mut Vec<u8>)
        -> io::Result<()>;
    /// The whole file, or `None` if it does not exist.
    fn read_all(&mut self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Appends to `name`, creating it if needed.
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<()>;
    /// Cuts `name` to `len` bytes.
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()>;
    /// Makes everything written to `name` durable.
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// The size of `name`, or `None` if it does not exist.
    fn size(&mut self, name: &str) -> io::Result<Option<u64>>;
    /// Replaces `name` with `data` atomically and durably (temp file, sync, rename).
    fn write_atomic(&mut self, name: &str, data: &[u8]) -> io::Result<()>;
    /// Removes `name`; a missing file is not an error.
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Every file name, sorted.
    fn list(&mut self) -> io::Result<Vec<String>>;
    /// Makes the directory's entries durable (removals and creations).
    fn sync_dir(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Time the operations since the last call would have taken (simulated
    /// disks; a simulator sleeps it). Real disks take their time for real.
    fn take_latency(&mut self) -> super::Nanos {
        0
    }
}
