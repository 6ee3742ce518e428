//! The real [`Disk`]: files in one directory, append handles kept open.

use nsq_core::io::Disk;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct RealDisk {
    dir: PathBuf,
    appenders: HashMap<String, File>,
    readers: HashMap<String, File>,
}

impl RealDisk {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RealDisk {
            dir: dir.into(),
            appenders: HashMap::new(),
            readers: HashMap::new(),
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
            Some(f) => f.sync_data(),
            None => match File::open(self.path(name)) {
                Ok(f) => f.sync_data(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            },
        }
    }

    fn size(&mut self, name: &str) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(name)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_atomic(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.forget(name);
        let tmp = self.path(&format!("{name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, self.path(name))?;
            self.sync_dir()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.forget(name);
        match fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
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
}
