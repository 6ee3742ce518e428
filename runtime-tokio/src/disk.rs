//! The real [`Disk`]: files in one directory, append handles kept open.

use nsq_core::io::Disk;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Files up to this size, rewritten at the same size, are overwritten in
/// place: a write of one sector reaches the device whole or not at all.
const SECTOR: usize = 512;

#[derive(Debug)]
pub struct RealDisk {
    dir: PathBuf,
    appenders: HashMap<String, File>,
    readers: HashMap<String, File>,
    /// Handles for in-place rewrites of small files (the diskqueue metadata).
    rewriters: HashMap<String, File>,
    /// Files whose directory entry this handle has made durable: the first
    /// sync of any other file syncs the directory too (a new segment must
    /// not vanish in a crash after its records were reported synced).
    entries_synced: HashSet<String>,
}

impl RealDisk {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RealDisk {
            dir: dir.into(),
            appenders: HashMap::new(),
            readers: HashMap::new(),
            rewriters: HashMap::new(),
            entries_synced: HashSet::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn forget(&mut self, name: &str) {
        self.appenders.remove(name);
        self.readers.remove(name);
        self.rewriters.remove(name);
    }

    /// Overwrites `name` in place if it exists with exactly `data.len()`
    /// bytes (and that is at most a sector); false if it does not qualify.
    fn rewrite_in_place(&mut self, name: &str, data: &[u8]) -> io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        if data.len() > SECTOR {
            return Ok(false);
        }
        let on_disk = match fs::metadata(self.path(name)) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if on_disk.len() != data.len() as u64 {
            return Ok(false);
        }
        // The cached handle must still be that file: the other lane's handle
        // may have replaced or removed it since.
        let same = |f: &File| {
            f.metadata()
                .is_ok_and(|m| m.ino() == on_disk.ino() && m.dev() == on_disk.dev())
        };
        if !self.rewriters.get(name).is_some_and(same) {
            let f = OpenOptions::new().write(true).open(self.path(name))?;
            if !same(&f) {
                return Ok(false);
            }
            self.rewriters.insert(name.to_string(), f);
        }
        let f = self.rewriters.get(name).expect("inserted above");
        f.write_all_at(data, 0)?;
        f.sync_data()?;
        Ok(true)
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

impl Disk for RealDisk {
    fn read_at(
        &mut self,
        name: &str,
        offset: u64,
        max: usize,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        if !self.readers.contains_key(name) {
            let f = File::open(self.path(name))?;
            self.readers.insert(name.to_string(), f);
        }
        let f = self.readers.get_mut(name).expect("inserted above");
        f.seek(SeekFrom::Start(offset))?;
        let start = buf.len();
        buf.resize(start + max, 0);
        let mut got = 0;
        while got < max {
            match f.read(&mut buf[start + got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.truncate(start);
                    return Err(e);
                }
            }
        }
        buf.truncate(start + got);
        Ok(())
    }

    fn read_all(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(name)) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        if !self.appenders.contains_key(name) {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(name))?;
            self.appenders.insert(name.to_string(), f);
        }
        let f = self.appenders.get_mut(name).expect("inserted above");
        f.write_all(data)
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.forget(name);
        match OpenOptions::new().write(true).open(self.path(name)) {
            Ok(f) => f.set_len(len),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        match self.appenders.get(name) {
            Some(f) => f.sync_data()?,
            None => match File::open(self.path(name)) {
                Ok(f) => f.sync_data()?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            },
        }
        if !self.entries_synced.contains(name) {
            self.sync_dir()?;
            self.entries_synced.insert(name.to_string());
        }
        Ok(())
    }

    fn size(&mut self, name: &str) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(name)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_atomic(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        // The same size (the diskqueue pads its metadata to one): one sector
        // overwritten in place, no new inode, rename or directory sync.
        if self.rewrite_in_place(name, data)? {
            return Ok(());
        }
        self.forget(name);
        let tmp = self.path(&format!("{name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, self.path(name))?;
            self.sync_dir()
        })();
        if result.is_ok() {
            self.entries_synced.insert(name.to_string());
        }
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.forget(name);
        self.entries_synced.remove(name);
        match fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        RealDisk::sync_dir(self)
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        let mut v: Vec<String> = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        v.sort();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_the_in_memory_disk() {
        let dir = std::env::temp_dir().join(format!("nsq-realdisk-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut d = RealDisk::new(&dir);
        d.append("a", b"hello ").unwrap();
        d.append("a", b"world").unwrap();
        d.sync("a").unwrap();
        let mut buf = Vec::new();
        d.read_at("a", 6, 100, &mut buf).unwrap();
        assert_eq!(buf, b"world");
        assert_eq!(d.size("a").unwrap(), Some(11));
        d.truncate("a", 5).unwrap();
        d.append("a", b"!").unwrap();
        assert_eq!(d.read_all("a").unwrap().unwrap(), b"hello!");
        d.write_atomic("m", b"1\n").unwrap();
        assert_eq!(d.read_all("m").unwrap().unwrap(), b"1\n");
        assert_eq!(d.list().unwrap(), vec!["a", "m"]);
        d.remove("a").unwrap();
        d.remove("a").unwrap();
        assert_eq!(d.size("a").unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_size_rewrites_go_in_place_and_follow_the_file_another_handle_replaced() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("nsq-realdisk-rw-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (mut a, mut b) = (RealDisk::new(&dir), RealDisk::new(&dir));
        let ino = |d: &RealDisk| fs::metadata(d.dir().join("m")).unwrap().ino();
        a.write_atomic("m", b"one ").unwrap();
        let first = ino(&a);
        // Same size: overwritten in place (same inode, nothing renamed).
        a.write_atomic("m", b"two ").unwrap();
        assert_eq!(ino(&a), first);
        assert_eq!(a.read_all("m").unwrap().unwrap(), b"two ");
        // Another size: replaced through a temp file and a rename.
        a.write_atomic("m", b"three").unwrap();
        assert_ne!(ino(&a), first);
        assert_eq!(a.read_all("m").unwrap().unwrap(), b"three");
        // The other handle removes and recreates it: the first handle's cached
        // file is gone, its next rewrite must land in the new one.
        b.remove("m").unwrap();
        b.write_atomic("m", b"four!").unwrap();
        a.write_atomic("m", b"five!").unwrap();
        assert_eq!(b.read_all("m").unwrap().unwrap(), b"five!");
        b.remove("m").unwrap();
        a.write_atomic("m", b"six!!").unwrap();
        assert_eq!(b.read_all("m").unwrap().unwrap(), b"six!!");
        // Larger than a sector: never in place.
        let big = vec![b'x'; SECTOR + 1];
        a.write_atomic("big", &big).unwrap();
        let before = fs::metadata(dir.join("big")).unwrap().ino();
        a.write_atomic("big", &big).unwrap();
        assert_ne!(fs::metadata(dir.join("big")).unwrap().ino(), before);
        // The first sync of a new file records its directory entry as synced.
        a.append("seg", b"data").unwrap();
        assert!(!a.entries_synced.contains("seg"));
        a.sync("seg").unwrap();
        assert!(a.entries_synced.contains("seg"));
        a.remove("seg").unwrap();
        assert!(!a.entries_synced.contains("seg"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
