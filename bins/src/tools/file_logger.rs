//! nsq_to_file's files: naming (`<TOPIC>`, `<HOST>`, `<REV>`,
//! `<DATETIME>`, `<PID>`), rotation by name, size and age, gzip (one gzip
//! member per sync, so a file always ends in a complete member), fsync
//! before messages are finished, and moving finished files from the work
//! dir to the output dir without ever overwriting one.

use super::strftime::strftime;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct FileOptions {
    pub output_dir: PathBuf,
    pub work_dir: PathBuf,
    pub datetime_format: String,
    pub filename_format: String,
    pub host_identifier: String,
    pub gzip: bool,
    pub gzip_level: u32,
    pub rotate_size: i64,
    pub rotate_interval: Duration,
    pub skip_empty_files: bool,
}

impl FileOptions {
    fn uses_rev(&self) -> bool {
        self.gzip
            || self.rotate_size > 0
            || !self.rotate_interval.is_zero()
            || self.work_dir != self.output_dir
    }
}

/// The file name pattern for `topic`, with everything but `<DATETIME>`
/// (and `<REV>`, when revisions are used) filled in.
pub fn filename_format(
    opts: &FileOptions,
    topic: &str,
    hostname: &str,
    pid: u32,
) -> Result<String, String> {
    let short = hostname.split('.').next().unwrap_or(hostname);
    let identifier = if opts.host_identifier.is_empty() {
        short.to_string()
    } else {
        opts.host_identifier
            .replace("<SHORT_HOST>", short)
            .replace("<HOSTNAME>", hostname)
    };
    let mut f = opts.filename_format.clone();
    if opts.uses_rev() {
        if !f.contains("<REV>") {
            return Err(
                "missing <REV> in --filename-format when gzip, rotation, or work dir enabled"
                    .into(),
            );
        }
    } else {
        f = f.replace("<REV>", "");
    }
    f = f
        .replace("<TOPIC>", topic)
        .replace("<HOST>", &identifier)
        .replace("<PID>", &pid.to_string());
    if opts.gzip && !f.ends_with(".gz") {
        f.push_str(".gz");
    }
    Ok(f)
}

fn rev(n: u32) -> String {
    format!("-{n:06}")
}

enum Sink {
    Plain(File),
    Gzip(GzEncoder<File>),
}

/// The file one topic writes to.
pub struct FileLogger {
    opts: FileOptions,
    format: String,
    out: Option<(Sink, PathBuf)>,
    filename: String,
    opened_at: Instant,
    size: i64,
    rev: u32,
}

impl FileLogger {
    pub fn new(opts: FileOptions, format: String) -> Self {
        FileLogger {
            opts,
            format,
            out: None,
            filename: String::new(),
            opened_at: Instant::now(),
            size: 0,
            rev: 0,
        }
    }

    fn current_filename(&self) -> String {
        let now = chrono::Local::now();
        self.format
            .replace("<DATETIME>", &strftime(&self.opts.datetime_format, &now))
    }

    pub fn is_open(&self) -> bool {
        self.out.is_some()
    }

    /// The path being written, if a file is open.
    pub fn path(&self) -> Option<&Path> {
        self.out.as_ref().map(|(_, p)| p.as_path())
    }

    /// A new file is due: none open, a new name, too old or too big.
    pub fn needs_rotation(&self, now: Instant) -> bool {
        let Some((_, path)) = &self.out else {
            return true;
        };
        let name = self.current_filename();
        if name != self.filename {
            tracing::info!("new filename {name}, rotating...");
            return true;
        }
        if !self.opts.rotate_interval.is_zero() {
            let age = now.duration_since(self.opened_at);
            if age > self.opts.rotate_interval {
                tracing::info!("{age:?} since last open, rotating...");
                return true;
            }
        }
        if self.opts.rotate_size > 0 && self.size > self.opts.rotate_size {
            tracing::info!(
                "{} currently {} bytes (> {}), rotating...",
                path.display(),
                self.size,
                self.opts.rotate_size
            );
            return true;
        }
        false
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let Some((sink, _)) = &mut self.out else {
            return Err(io::Error::other("no file open"));
        };
        match sink {
            Sink::Plain(f) => f.write_all(data)?,
            Sink::Gzip(g) => g.write_all(data)?,
        }
        // NSQ counts bytes before compression
        self.size += data.len() as i64;
        Ok(())
    }

    /// Makes everything written so far durable: a gzip file gets its
    /// member completed (and a new one started), then fsync.
    pub fn sync(&mut self) -> io::Result<()> {
        let Some((sink, path)) = self.out.take() else {
            return Ok(());
        };
        let sink = match sink {
            Sink::Plain(f) => {
                f.sync_data()?;
                Sink::Plain(f)
            }
            Sink::Gzip(g) => {
                let f = g.finish()?;
                f.sync_data()?;
                Sink::Gzip(GzEncoder::new(f, Compression::new(self.opts.gzip_level)))
            }
        };
        self.out = Some((sink, path));
        Ok(())
    }

    /// Finishes the file and moves it to the output dir (never onto an
    /// existing file: the revision goes up instead).
    pub fn close(&mut self) -> io::Result<()> {
        let Some((sink, src)) = self.out.take() else {
            return Ok(());
        };
        let f = match sink {
            Sink::Plain(f) => f,
            Sink::Gzip(g) => g.finish()?,
        };
        f.sync_all()?;
        drop(f);
        if self.opts.work_dir == self.opts.output_dir {
            return Ok(());
        }
        let rel = src
            .strip_prefix(&self.opts.work_dir)
            .unwrap_or(&src)
            .to_path_buf();
        let dst = self.opts.output_dir.join(&rel);
        tracing::info!(
            "moving finished file {} to {}",
            src.display(),
            dst.display()
        );
        match exclusive_rename(&src, &dst) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) => {}
        }
        let template = self.opts.output_dir.join(&self.filename);
        let template = template.to_string_lossy().into_owned();
        let mut i = self.rev + 1;
        loop {
            tracing::warn!("destination file already exists: {}", dst.display());
            let dst = PathBuf::from(template.replace("<REV>", &rev(i)));
            match exclusive_rename(&src, &dst) {
                Ok(()) => {
                    tracing::info!(
                        "renamed finished file {} to {} to avoid overwrite",
                        src.display(),
                        dst.display()
                    );
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => i += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the current file and opens the next one.
    pub fn update_file(&mut self, now: Instant) -> io::Result<()> {
        self.close()?;
        let name = self.current_filename();
        if name != self.filename {
            self.rev = 0;
        } else {
            self.rev += 1;
        }
        self.filename = name;
        self.opened_at = now;
        let full = self.opts.work_dir.join(&self.filename);
        make_parent(&full)?;
        let full = full.to_string_lossy().into_owned();
        loop {
            let path = PathBuf::from(full.replace("<REV>", &rev(self.rev)));
            if self.opts.work_dir != self.opts.output_dir {
                let rel = path.strip_prefix(&self.opts.work_dir).unwrap_or(&path);
                let out = self.opts.output_dir.join(rel);
                make_parent(&out)?;
                if out.exists() {
                    tracing::warn!("output file already exists: {}", out.display());
                    self.rev += 1;
                    continue;
                }
            }
            let mut oo = OpenOptions::new();
            oo.write(true);
            if self.opts.gzip || !self.opts.rotate_interval.is_zero() {
                oo.create_new(true);
            } else {
                oo.create(true).append(true);
            }
            let f = match oo.open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tracing::warn!("working file already exists: {}", path.display());
                    self.rev += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            tracing::info!("opening {}", path.display());
            self.size = f.metadata()?.len() as i64;
            if self.opts.rotate_size > 0 && self.size > self.opts.rotate_size {
                self.rev += 1;
                continue;
            }
            let sink = if self.opts.gzip {
                Sink::Gzip(GzEncoder::new(f, Compression::new(self.opts.gzip_level)))
            } else {
                Sink::Plain(f)
            };
            self.out = Some((sink, path));
            return Ok(());
        }
    }
}

fn make_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => std::fs::create_dir_all(d),
        _ => Ok(()),
    }
}

/// Renames without replacing: a hard link (which fails if `dst` exists),
/// then removing `src`.
fn exclusive_rename(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::hard_link(src, dst)?;
    std::fs::remove_file(src)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn opts(dir: &Path) -> FileOptions {
        FileOptions {
            output_dir: dir.to_path_buf(),
            work_dir: dir.to_path_buf(),
            datetime_format: "%Y-%m-%d_%H".into(),
            filename_format: "<TOPIC>.<HOST><REV>.<DATETIME>.log".into(),
            host_identifier: String::new(),
            gzip: false,
            gzip_level: 6,
            rotate_size: 0,
            rotate_interval: Duration::ZERO,
            skip_empty_files: false,
        }
    }

    #[test]
    fn filenames_like_nsq() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts(d.path());
        assert_eq!(
            filename_format(&o, "t", "box.example.com", 7).unwrap(),
            "t.box.<DATETIME>.log"
        );
        o.gzip = true;
        o.host_identifier = "<SHORT_HOST>-<HOSTNAME>".into();
        assert_eq!(
            filename_format(&o, "t", "box.example.com", 7).unwrap(),
            "t.box-box.example.com<REV>.<DATETIME>.log.gz"
        );
        o.filename_format = "<TOPIC>.<PID>.log".into();
        assert!(filename_format(&o, "t", "h", 7).is_err());
        o.gzip = false;
        assert_eq!(filename_format(&o, "t", "h", 7).unwrap(), "t.7.log");
    }

    #[test]
    fn a_restart_never_overwrites_and_gzip_members_concatenate() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts(d.path());
        o.gzip = true;
        o.filename_format = "<TOPIC><REV>.log".into();
        let fmt = filename_format(&o, "t", "h", 1).unwrap();
        let now = Instant::now();
        let mut paths = Vec::new();
        for run in 0..2 {
            let mut f = FileLogger::new(o.clone(), fmt.clone());
            f.update_file(now).unwrap();
            paths.push(f.path().unwrap().to_path_buf());
            f.write(format!("a{run}\n").as_bytes()).unwrap();
            f.sync().unwrap();
            f.write(format!("b{run}\n").as_bytes()).unwrap();
            f.close().unwrap();
        }
        assert_eq!(paths[0].file_name().unwrap(), "t-000000.log.gz");
        assert_eq!(paths[1].file_name().unwrap(), "t-000001.log.gz");
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(File::open(&paths[1]).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "a1\nb1\n");
    }

    #[test]
    fn rotates_by_size_and_moves_from_the_work_dir() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts(&d.path().join("out"));
        o.work_dir = d.path().join("work");
        o.rotate_size = 5;
        let fmt = filename_format(&o, "t", "h", 1).unwrap();
        let mut f = FileLogger::new(o.clone(), fmt);
        let now = Instant::now();
        assert!(f.needs_rotation(now));
        f.update_file(now).unwrap();
        f.write(b"123456\n").unwrap();
        assert!(f.needs_rotation(now));
        f.update_file(now).unwrap();
        f.write(b"x\n").unwrap();
        f.close().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(d.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2);
        assert!(names[0].starts_with("t.h-000000."), "{names:?}");
        assert!(names[1].starts_with("t.h-000001."), "{names:?}");
        assert_eq!(std::fs::read_dir(d.path().join("work")).unwrap().count(), 0);
    }
}
