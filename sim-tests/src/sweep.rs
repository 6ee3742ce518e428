//! Runs scenarios over ranges of seeds (in parallel), with a progress bar
//! and a summary that names each failing seed and how to replay it;
//! optionally records every finished run in a results file (see
//! [`crate::results`]) and skips the runs it already holds.

use crate::results::{self, Record};
use nsq_runtime_sim::runner::{self, Outcome, Scenario};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::results::replay_command;

/// Simulated time a run may take before it counts as hung.
pub const TIME_LIMIT: Duration = Duration::from_secs(600);

/// Where a sweep records its runs, and the runs recorded before (skipped).
#[derive(Debug)]
pub struct Recording {
    pub writer: results::Writer,
    pub done: BTreeSet<(String, u64)>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub scenarios: Vec<(&'static str, Scenario)>,
    pub first_seed: u64,
    pub seeds: u64,
    pub jobs: usize,
    /// Run each seed twice and compare (madsim's determinism check).
    pub determinism: bool,
    pub progress: bool,
}

/// One failed run.
#[derive(Debug, Clone)]
pub struct Failure {
    pub scenario: &'static str,
    pub seed: u64,
    pub error: String,
}

/// Runs the plan; returns the failures (in scenario, seed order) and how
/// many runs passed.
pub fn run(plan: &Plan) -> (Vec<Failure>, usize) {
    run_recorded(plan, None)
}

/// [`run`], recording each finished run (and skipping those recorded
/// before) when `recording` is given. Counts only this session's runs. A
/// results file that cannot be written ends the process (exit 2): a sweep
/// whose record is lost could not be resumed.
pub fn run_recorded(plan: &Plan, recording: Option<Recording>) -> (Vec<Failure>, usize) {
    runner::quiet_panics();
    let (writer, done) = match recording {
        Some(r) => (Some(r.writer), r.done),
        None => (None, BTreeSet::new()),
    };
    let work: Vec<(&'static str, Scenario, u64)> = plan
        .scenarios
        .iter()
        .flat_map(|(n, s)| (0..plan.seeds).map(move |i| (*n, *s, plan.first_seed + i)))
        .filter(|(n, _, seed)| !done.contains(&(n.to_string(), *seed)))
        .collect();
    let writer = Arc::new(Mutex::new(writer));
    let total = work.len();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failures: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let started = Instant::now();
    let work = Arc::new(work);
    let workers: Vec<_> = (0..plan.jobs.max(1))
        .map(|_| {
            let (next, done, failures, work, writer) = (
                Arc::clone(&next),
                Arc::clone(&done),
                Arc::clone(&failures),
                Arc::clone(&work),
                Arc::clone(&writer),
            );
            let (determinism, progress) = (plan.determinism, plan.progress);
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(name, scenario, seed)) = work.get(i) else {
                    return;
                };
                let t = Instant::now();
                let Outcome { result, .. } = if determinism {
                    runner::check_determinism(seed, scenario)
                } else {
                    runner::run_seed(seed, scenario, TIME_LIMIT)
                };
                let run_time = t.elapsed();
                if let Some(w) = writer.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    let r = Record {
                        scenario: name.to_string(),
                        seed,
                        passed: result.is_ok(),
                        run_time,
                        finished_at: results::unix_now(),
                        text: match &result {
                            Ok(s) | Err(s) => s.clone(),
                        },
                    };
                    if let Err(e) = w.record(&r) {
                        eprintln!("\nsim: cannot write the results file: {e}");
                        std::process::exit(2);
                    }
                }
                let mut f = failures.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(error) = result {
                    if progress {
                        eprintln!("\rFAILED {name} seed {seed}: {}", first_line(&error));
                    }
                    f.push(Failure {
                        scenario: name,
                        seed,
                        error,
                    });
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if progress {
                    bar(n, total, f.len(), started.elapsed());
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let writer = writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(w) = writer {
        if let Err(e) = w.end() {
            eprintln!("sim: cannot write the results file: {e}");
            std::process::exit(2);
        }
    }
    if plan.progress {
        eprintln!();
    }
    let mut f = std::mem::take(&mut *failures.lock().unwrap_or_else(|e| e.into_inner()));
    f.sort_by_key(|x| (x.scenario, x.seed));
    let passed = total - f.len();
    (f, passed)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn bar(done: usize, total: usize, failed: usize, elapsed: Duration) {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    // In a log (CI) a line per tenth instead of a redrawn bar.
    if !tty && done * 10 / total.max(1) == (done - 1) * 10 / total.max(1) && done != total {
        return;
    }
    let width = 40;
    let filled = done * width / total.max(1);
    let eta = if done > 0 {
        elapsed.mul_f64((total - done) as f64 / done as f64)
    } else {
        Duration::ZERO
    };
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "{}[{}{}] {done}/{total} runs, {failed} failed, {:.0?} elapsed, ETA {:.0?}   {}",
        if tty { "\r" } else { "" },
        "#".repeat(filled),
        ".".repeat(width - filled),
        elapsed,
        eta,
        if tty { "" } else { "\n" }
    );
    let _ = err.flush();
}

/// The summary printed at the end of a sweep.
pub fn summary(plan: &Plan, failures: &[Failure], passed: usize) -> String {
    let mut out = String::new();
    let total = passed + failures.len();
    out.push_str(&format!(
        "{} scenarios x {} seeds from {}{}: {total} runs\n",
        plan.scenarios.len(),
        plan.seeds,
        plan.first_seed,
        if plan.determinism {
            " (each run twice: determinism check)"
        } else {
            ""
        }
    ));
    for (name, _) in &plan.scenarios {
        let mine: Vec<&Failure> = failures.iter().filter(|f| f.scenario == *name).collect();
        if mine.is_empty() {
            continue;
        }
        out.push_str(&format!("{name}: {} failed seeds\n", mine.len()));
        // Group by the first line of the error (the invariant that broke).
        let mut kinds: Vec<(String, Vec<u64>)> = Vec::new();
        for f in &mine {
            // Messages start with the invariant's name ("in-flight: ...").
            let k = first_line(&f.error)
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            match kinds.iter_mut().find(|(x, _)| *x == k) {
                Some((_, seeds)) => seeds.push(f.seed),
                None => kinds.push((k, vec![f.seed])),
            }
        }
        for (k, seeds) in kinds {
            let shown: Vec<String> = seeds.iter().take(10).map(u64::to_string).collect();
            out.push_str(&format!(
                "  {} x {}: seeds {}{}\n",
                seeds.len(),
                k.trim(),
                shown.join(" "),
                if seeds.len() > 10 { " …" } else { "" }
            ));
        }
        let f = mine[0];
        out.push_str(&format!(
            "  first failure (seed {}):\n    {}\n  replay: {}\n",
            f.seed,
            f.error.replace('\n', "\n    "),
            replay_command(name, f.seed)
        ));
    }
    // The closing line test-result readers look for.
    out.push_str(&format!(
        "sim: {passed} passed, {} failed\n",
        failures.len()
    ));
    out
}
