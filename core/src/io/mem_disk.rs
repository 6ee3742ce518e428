//! An in-memory [`Disk`] that fails on purpose: it keeps what was synced
//! apart from what was only written, so a simulated crash (`power_fail`)
//! loses unsynced bytes and may tear the last write; it can fail any
//! operation with EIO, run out of space (ENOSPC), or lie about fsync; and it
//! adds up a latency per operation for simulators to sleep on.

use super::disk::Disk;
use super::Nanos;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io;

#[derive(Debug, Clone, Default)]
struct File {
    data: Vec<u8>,
    durable: Vec<u8>,
}

/// Which operations fail, and how.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every read, append, sync and atomic write fails with EIO.
    pub eio: bool,
    /// Probability (0..=1) that any one operation fails with EIO.
    pub eio_rate: f64,
    /// Total bytes the disk holds; appends beyond fail with ENOSPC (0 = no limit).
    pub capacity: u64,
    /// `sync` reports success without making anything durable.
    pub lying_fsync: bool,
    /// Latency added per operation, drawn uniformly from this range (ns).
    pub latency: (Nanos, Nanos),
}

#[derive(Debug, Clone)]
pub struct MemDisk {
    files: BTreeMap<String, File>,
    pub faults: Faults,
    rng: SmallRng,
    /// Latency accrued since the last [`MemDisk::take_latency`].
    latency: Nanos,
    pub ops: u64,
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("input/output error ({what})"))
}

impl MemDisk {
    pub fn new(seed: u64) -> Self {
        MemDisk {
            files: BTreeMap::new(),
            faults: Faults::default(),
            rng: SmallRng::seed_from_u64(seed),
            latency: 0,
            ops: 0,
        }
    }

    fn op(&mut self, what: &str) -> io::Result<()> {
        self.ops += 1;
        let (lo, hi) = self.faults.latency;
        if hi > lo {
            self.latency += self.rng.random_range(lo..hi);
        } else {
            self.latency += lo;
        }
        if self.faults.eio
            || (self.faults.eio_rate > 0.0 && self.rng.random_bool(self.faults.eio_rate.min(1.0)))
        {
            return Err(eio(what));
        }
        Ok(())
    }

    fn used(&self) -> u64 {
        self.files.values().map(|f| f.data.len() as u64).sum()
    }

    /// A crash: every file falls back to what was synced. With `tear`, the
    /// first unsynced write of each file survives in part, its tail garbage
    /// or zeros — a torn write.
    pub fn power_fail(&mut self, tear: bool) {
        let mut rng = self.rng.clone();
        for f in self.files.values_mut() {
            let mut kept = f.durable.clone();
            if tear && f.data.len() > kept.len() && f.data.starts_with(&kept) {
                let extra = &f.data[kept.len()..];
                let n = rng.random_range(0..=extra.len());
                kept.extend_from_slice(&extra[..n]);
                if rng.random_bool(0.5) {
                    let garbage = rng.random_range(0..16);
                    let zeros = rng.random_bool(0.5);
                    kept.extend((0..garbage).map(|_| if zeros { 0 } else { rng.random() }));
                }
            }
            f.data = kept.clone();
            f.durable = kept;
        }
        self.rng = rng;
    }

    /// Flips one byte of a file (bit rot) at `offset`.
    pub fn corrupt(&mut self, name: &str, offset: usize) {
        if let Some(f) = self.files.get_mut(name) {
            if let Some(b) = f.data.get_mut(offset) {
                *b ^= 0xff;
            }
            if let Some(b) = f.durable.get_mut(offset) {
                *b ^= 0xff;
            }
        }
    }

    pub fn contents(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(|f| &f.data[..])
    }

    /// Writes a file as if it had always been there (durably).
    pub fn put_file(&mut self, name: &str, data: &[u8]) {
        self.files.insert(
            name.to_string(),
            File {
                data: data.to_vec(),
                durable: data.to_vec(),
            },
        );
    }
}

impl Disk for MemDisk {
    fn read_at(
        &mut self,
        name: &str,
        offset: u64,
        max: usize,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.op("read")?;
        let f = self
            .files
            .get(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_string()))?;
        let start = (offset as usize).min(f.data.len());
        let end = start.saturating_add(max).min(f.data.len());
        buf.extend_from_slice(&f.data[start..end]);
        Ok(())
    }

    fn read_all(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        self.op("read")?;
        Ok(self.files.get(name).map(|f| f.data.clone()))
    }

    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.op("write")?;
        if self.faults.capacity > 0 && self.used() + data.len() as u64 > self.faults.capacity {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.files
            .entry(name.to_string())
            .or_default()
            .data
            .extend_from_slice(data);
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.op("truncate")?;
        if let Some(f) = self.files.get_mut(name) {
            f.data.truncate(len as usize);
            if f.durable.len() > len as usize {
                f.durable.truncate(len as usize);
            }
        }
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.op("fsync")?;
        if !self.faults.lying_fsync {
            if let Some(f) = self.files.get_mut(name) {
                f.durable = f.data.clone();
            }
        }
        Ok(())
    }

    fn size(&mut self, name: &str) -> io::Result<Option<u64>> {
        Ok(self.files.get(name).map(|f| f.data.len() as u64))
    }

    fn write_atomic(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.op("write")?;
        if self.faults.capacity > 0 && self.used() + data.len() as u64 > self.faults.capacity {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        let durable = if self.faults.lying_fsync {
            self.files
                .get(name)
                .map(|f| f.durable.clone())
                .unwrap_or_default()
        } else {
            data.to_vec()
        };
        self.files.insert(
            name.to_string(),
            File {
                data: data.to_vec(),
                durable,
            },
        );
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.op("remove")?;
        self.files.remove(name);
        Ok(())
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        Ok(self.files.keys().cloned().collect())
    }

    fn take_latency(&mut self) -> Nanos {
        std::mem::take(&mut self.latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_failure_keeps_only_synced_bytes() {
        let mut d = MemDisk::new(1);
        d.append("f", b"abc").unwrap();
        d.sync("f").unwrap();
        d.append("f", b"def").unwrap();
        d.power_fail(false);
        assert_eq!(d.contents("f"), Some(&b"abc"[..]));
    }

    #[test]
    fn faults() {
        let mut d = MemDisk::new(1);
        d.faults.capacity = 4;
        assert!(d.append("f", b"abcde").is_err());
        d.faults.capacity = 0;
        d.faults.eio = true;
        assert!(d.append("f", b"a").is_err());
        d.faults.eio = false;
        d.faults.lying_fsync = true;
        d.append("f", b"a").unwrap();
        d.sync("f").unwrap();
        d.power_fail(false);
        assert_eq!(d.contents("f"), Some(&b""[..]));
    }
}
