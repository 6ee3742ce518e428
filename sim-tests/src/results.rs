//! A sweep's results file: one line appended per finished run, so a long
//! sweep can be interrupted and resumed (runs already recorded are
//! skipped), run in pieces (one file per seed range), and summed up
//! afterwards (`scripts/sim.sh summary FILE...`).
//!
//! Plain text, UTF-8, one record per line:
//!
//! ```text
//! # start 1764886000.123 jobs=2 seeds=1000000..=1000999 scenarios=crash_recovery,partitions
//! partitions<TAB>1000007<TAB>ok<TAB>812<TAB>1764886001.002<TAB>12 faults; 2400 sent; ...
//! discovery<TAB>1003094<TAB>FAIL<TAB>95<TAB>1764886002.310<TAB>discovery: lookupds disagree ...\n  faults: ...
//! # end 1764886100.456 runs=6000 failed=1
//! ```
//!
//! A record is scenario, seed, `ok` or `FAIL`, the run's wall time in
//! milliseconds, when it finished (Unix seconds) and the run's summary or
//! error, with `\`, tab, CR and newline escaped so it stays one line. `#`
//! lines mark where a session (one `sim` process) starts and ends, which
//! gives the wall time. A line cut short by an interruption (no newline)
//! is not a record; the next session drops it before it appends.
//!
//! Plain std only: this module also builds (and is tested) without madsim.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The command that replays one seed of one scenario.
pub fn replay_command(scenario: &str, seed: u64) -> String {
    format!("scripts/sim.sh replay {scenario} {seed}")
}

/// One finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub scenario: String,
    pub seed: u64,
    pub passed: bool,
    /// The run's wall time.
    pub run_time: Duration,
    /// When it finished, in Unix seconds.
    pub finished_at: f64,
    /// The run's summary, or its error (several lines).
    pub text: String,
}

/// One `sim` process that wrote to the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    pub start: f64,
    pub end: Option<f64>,
    /// When its last record finished.
    pub last: Option<f64>,
}

impl Session {
    /// Wall time: to its end line, or (interrupted) to its last record.
    pub fn wall(&self) -> Duration {
        let until = self.end.or(self.last).unwrap_or(self.start);
        Duration::from_secs_f64((until - self.start).max(0.0))
    }
}

/// What a results file holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contents {
    pub records: Vec<Record>,
    pub sessions: Vec<Session>,
    /// Lines that are neither records nor session marks (a cut last line).
    pub skipped: usize,
}

impl Contents {
    /// The runs already recorded, as (scenario, seed).
    pub fn done(&self) -> BTreeSet<(String, u64)> {
        self.records
            .iter()
            .map(|r| (r.scenario.clone(), r.seed))
            .collect()
    }
}

/// Now, in Unix seconds (the wall clock of the machine running the sweep).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Escapes `\`, tab, CR and newline so the text fits in one field.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape`].
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl Record {
    /// The record's line, without the newline.
    pub fn to_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{:.3}\t{}",
            self.scenario,
            self.seed,
            if self.passed { "ok" } else { "FAIL" },
            self.run_time.as_millis(),
            self.finished_at,
            escape(&self.text)
        )
    }

    /// Reads a record line; `None` if it is not one (or was cut short).
    pub fn parse(line: &str) -> Option<Record> {
        let mut f = line.splitn(6, '\t');
        let scenario = f.next()?.to_string();
        let seed = f.next()?.parse().ok()?;
        let passed = match f.next()? {
            "ok" => true,
            "FAIL" => false,
            _ => return None,
        };
        let run_time = Duration::from_millis(f.next()?.parse().ok()?);
        let finished_at: f64 = f.next()?.parse().ok()?;
        let text = unescape(f.next()?);
        if scenario.is_empty() || scenario.starts_with('#') || !finished_at.is_finite() {
            return None;
        }
        Some(Record {
            scenario,
            seed,
            passed,
            run_time,
            finished_at,
            text,
        })
    }
}

/// The time in a `# start T ...` or `# end T ...` line.
fn mark(line: &str, word: &str) -> Option<f64> {
    let rest = line.strip_prefix("# ")?.strip_prefix(word)?;
    let t = rest.split_whitespace().next()?;
    t.parse().ok().filter(|t: &f64| t.is_finite())
}

/// Reads a results file's text. Records before any session mark count
/// as a session of their own, starting at the first of them.
pub fn parse(text: &str) -> Contents {
    let mut c = Contents::default();
    for line in text.split_inclusive('\n') {
        // A line without its newline was cut short by an interruption.
        let Some(line) = line.strip_suffix('\n') else {
            c.skipped += 1;
            continue;
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(t) = mark(line, "start") {
            c.sessions.push(Session {
                start: t,
                ..Session::default()
            });
        } else if let Some(t) = mark(line, "end") {
            if let Some(s) = c.sessions.last_mut() {
                s.end = Some(t);
            }
        } else if line.starts_with('#') {
            // A comment.
        } else if let Some(r) = Record::parse(line) {
            if c.sessions.is_empty() {
                let start = r.finished_at - r.run_time.as_secs_f64();
                c.sessions.push(Session {
                    start,
                    ..Session::default()
                });
            }
            if let Some(s) = c.sessions.last_mut() {
                s.last = Some(s.last.map_or(r.finished_at, |l| l.max(r.finished_at)));
            }
            c.records.push(r);
        } else {
            c.skipped += 1;
        }
    }
    c
}

/// Reads a results file; a missing file is empty.
pub fn read(path: &Path) -> io::Result<Contents> {
    match File::open(path) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            Ok(parse(&String::from_utf8_lossy(&bytes)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Contents::default()),
        Err(e) => Err(e),
    }
}

/// Appends to a results file, a whole line per write.
#[derive(Debug)]
pub struct Writer {
    file: File,
    runs: usize,
    failed: usize,
}

impl Writer {
    /// Opens `path` for a new session (creating it and its directory) and
    /// returns what it already holds. Without `resume`, a file that already
    /// holds records is refused, so an earlier sweep is never mixed up with
    /// a new one by mistake.
    pub fn open(path: &Path, resume: bool, about: &str) -> io::Result<(Writer, Contents)> {
        let before = read(path)?;
        if !resume && !before.records.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} already records {} runs: resume it (--resume) or choose another file",
                    path.display(),
                    before.records.len()
                ),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        // An interrupted session may have left a line cut short (never a
        // record): drop it, so the next line does not complete it.
        let bytes = std::fs::read(path)?;
        if bytes.last().is_some_and(|&b| b != b'\n') {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64)?;
        }
        let head = format!("# start {:.3} {about}\n", unix_now());
        file.write_all(head.as_bytes())?;
        file.flush()?;
        Ok((
            Writer {
                file,
                runs: 0,
                failed: 0,
            },
            before,
        ))
    }

    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        let mut line = r.to_line();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()?;
        self.runs += 1;
        if !r.passed {
            self.failed += 1;
        }
        Ok(())
    }

    /// Marks the session's end.
    pub fn end(mut self) -> io::Result<()> {
        let line = format!(
            "# end {:.3} runs={} failed={}\n",
            unix_now(),
            self.runs,
            self.failed
        );
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }
}

/// `1h02m03s`, `4m05s`, `6.2s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// What `scripts/sim.sh summary` prints for these files (name, contents):
/// runs and failures per scenario, each failure with its replay command,
/// and wall time. A run recorded twice counts once (its last record).
pub fn summarize(files: &[(String, Contents)]) -> String {
    let mut out = String::new();
    let mut last: BTreeMap<(String, u64), &Record> = BTreeMap::new();
    let mut lines = 0;
    let mut wall = Duration::ZERO;
    let mut sessions = 0;
    let mut unfinished = 0;
    let mut skipped = 0;
    for (_, c) in files {
        for r in &c.records {
            lines += 1;
            last.insert((r.scenario.clone(), r.seed), r);
        }
        wall += c.sessions.iter().map(Session::wall).sum::<Duration>();
        sessions += c.sessions.len();
        unfinished += c.sessions.iter().filter(|s| s.end.is_none()).count();
        skipped += c.skipped;
    }
    let runs = last.len();
    let failures: Vec<&Record> = last.values().filter(|r| !r.passed).copied().collect();
    let run_time: Duration = last.values().map(|r| r.run_time).sum();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    out.push_str(&format!("results: {}\n", names.join(" ")));
    out.push_str(&format!(
        "{runs} runs, {} failed; wall time {} in {sessions} session{}{}; the runs took {} in all ({:.2} s each on average)\n",
        failures.len(),
        human(wall),
        if sessions == 1 { "" } else { "s" },
        if unfinished > 0 {
            format!(" ({unfinished} interrupted)")
        } else {
            String::new()
        },
        human(run_time),
        if runs > 0 {
            run_time.as_secs_f64() / runs as f64
        } else {
            0.0
        }
    ));
    if lines > runs {
        out.push_str(&format!(
            "  ({} runs were recorded more than once; the last record counts)\n",
            lines - runs
        ));
    }
    if skipped > 0 {
        out.push_str(&format!("  ({skipped} unreadable lines skipped)\n"));
    }
    // Per scenario: runs, failures and the seeds covered.
    let mut by: BTreeMap<&str, (usize, usize, u64, u64)> = BTreeMap::new();
    for r in last.values() {
        let e = by.entry(r.scenario.as_str()).or_insert((0, 0, u64::MAX, 0));
        e.0 += 1;
        if !r.passed {
            e.1 += 1;
        }
        e.2 = e.2.min(r.seed);
        e.3 = e.3.max(r.seed);
    }
    let width = by.keys().map(|k| k.len()).max().unwrap_or(0);
    for (name, (n, failed, lo, hi)) in &by {
        let span = hi - lo + 1;
        let gaps = if span > *n as u64 {
            format!(", {} missing", span - *n as u64)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {name:<width$}  {n} runs, {failed} failed  (seeds {lo}..={hi}{gaps})\n"
        ));
    }
    for r in &failures {
        let mut text = r.text.lines();
        out.push_str(&format!(
            "FAIL {} seed {}: {}\n",
            r.scenario,
            r.seed,
            text.next().unwrap_or("")
        ));
        for l in text {
            out.push_str(&format!("    {l}\n"));
        }
        out.push_str(&format!(
            "  replay: {}\n",
            replay_command(&r.scenario, r.seed)
        ));
    }
    out.push_str(&format!(
        "sim: {} passed, {} failed\n",
        runs - failures.len(),
        failures.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(scenario: &str, seed: u64, passed: bool, at: f64, text: &str) -> Record {
        Record {
            scenario: scenario.into(),
            seed,
            passed,
            run_time: Duration::from_millis(1500),
            finished_at: at,
            text: text.into(),
        }
    }

    #[test]
    fn a_record_is_one_line_and_reads_back() {
        let r = rec("discovery", 1003094, false, 1000.25, "a\tb\nc \\n d\r");
        let line = r.to_line();
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(line.split('\t').count(), 6, "{line}");
        assert_eq!(Record::parse(&line), Some(r));
    }

    #[test]
    fn cut_lines_and_comments_are_not_records() {
        let line = rec("chaos", 7, true, 5.0, "fine").to_line();
        assert_eq!(parse(&format!("{line}\n")).records.len(), 1);
        for cut in 1..=line.len() {
            let c = parse(&line[..cut]);
            assert!(c.records.is_empty(), "{:?}", &line[..cut]);
            assert_eq!(c.skipped, 1);
        }
        assert_eq!(Record::parse("# start 5.0"), None);
        assert_eq!(Record::parse("chaos\t7\tmaybe\t1\t2\tx"), None);
        assert_eq!(Record::parse("chaos\t7\tok\t1\t2"), None);
    }

    #[test]
    fn sessions_give_the_wall_time_even_when_interrupted() {
        let text = format!(
            "# start 100.000 jobs=2\n{}\n{}\n# end 130.000 runs=2 failed=1\n# start 200.000 jobs=2\n{}\npartiti",
            rec("a", 1, true, 110.0, "ok").to_line(),
            rec("a", 2, false, 120.0, "bad\nfaults: x").to_line(),
            rec("b", 1, true, 250.0, "ok").to_line(),
        );
        let c = parse(&text);
        assert_eq!(c.records.len(), 3);
        assert_eq!(c.skipped, 1);
        assert_eq!(c.sessions.len(), 2);
        assert_eq!(c.sessions[0].wall(), Duration::from_secs(30));
        // The second one was interrupted: it lasted until its last record.
        assert_eq!(c.sessions[1].end, None);
        assert_eq!(c.sessions[1].wall(), Duration::from_secs(50));
        let done = c.done();
        assert!(done.contains(&("a".to_string(), 2)) && !done.contains(&("b".to_string(), 2)));
        let s = summarize(&[("f".into(), c)]);
        assert!(
            s.contains("3 runs, 1 failed; wall time 1m20s in 2 sessions (1 interrupted);"),
            "{s}"
        );
        assert!(
            s.contains("FAIL a seed 2: bad\n    faults: x\n  replay: scripts/sim.sh replay a 2\n"),
            "{s}"
        );
        assert!(s.ends_with("sim: 2 passed, 1 failed\n"), "{s}");
    }

    #[test]
    fn summary_counts_a_run_recorded_twice_once_and_shows_gaps() {
        let mut c = Contents::default();
        for seed in [10, 11, 13] {
            c.records.push(rec("x", seed, true, 1.0, "ok"));
        }
        c.records.push(rec("x", 11, false, 2.0, "broke"));
        let s = summarize(&[("f".into(), c)]);
        assert!(s.starts_with("results: f\n3 runs, 1 failed;"), "{s}");
        assert!(s.contains("1 runs were recorded more than once"), "{s}");
        assert!(
            s.contains("x  3 runs, 1 failed  (seeds 10..=13, 1 missing)"),
            "{s}"
        );
    }

    #[test]
    fn a_writer_refuses_a_used_file_unless_resuming_and_mends_a_cut_line() {
        let dir = std::env::temp_dir().join(format!("nsq-sim-results-{}", std::process::id()));
        let path = dir.join("sub").join("r.tsv");
        let _ = std::fs::remove_dir_all(&dir);
        let (mut w, before) = Writer::open(&path, false, "first").unwrap();
        assert_eq!(before, Contents::default());
        w.record(&rec("a", 1, true, 1.0, "ok")).unwrap();
        drop(w); // interrupted: no end mark
                 // An interruption in the middle of a record, in its last field.
        let cut = rec("a", 3, true, 1.5, "all fine").to_line();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&cut.as_bytes()[..cut.len() - 4]).unwrap();
        drop(f);
        let err = Writer::open(&path, false, "again").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        let (mut w, before) = Writer::open(&path, true, "resumed").unwrap();
        assert_eq!(before.done().len(), 1);
        assert_eq!(before.skipped, 1);
        w.record(&rec("a", 2, false, 2.0, "bad")).unwrap();
        w.end().unwrap();
        let c = read(&path).unwrap();
        assert_eq!(c.records.len(), 2, "{c:?}");
        assert_eq!(c.skipped, 0);
        assert!(!c.done().contains(&("a".to_string(), 3)));
        assert_eq!(c.sessions.len(), 2);
        assert!(c.sessions[1].end.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
