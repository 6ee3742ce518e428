//! Runs simulation sweeps: `sim [--scenario NAME]... [--seed N] [--seeds N]
//! [--jobs N] [--check-determinism] [--verbose] [--results FILE [--resume]]`.
//! Without `--scenario`, every scenario. With `--results`, every finished
//! run is appended to FILE, and `--resume` skips the runs FILE already
//! holds. `sim --summary FILE...` sums results files up (runs, failures
//! with their replay commands, wall time); it also works in a build
//! without madsim. Exits 1 when any run failed. See scripts/sim.sh.
#![cfg_attr(not(madsim), allow(unused))]

use nsq_sim_tests::results;
use std::path::Path;

/// `--summary FILE...`: prints the files' summary; exits 1 if a run failed.
fn summary(files: &[String]) -> ! {
    if files.is_empty() {
        eprintln!("sim: --summary needs results files");
        std::process::exit(2);
    }
    let mut all = Vec::new();
    for f in files {
        match results::read(Path::new(f)) {
            Ok(c) if !c.records.is_empty() || !c.sessions.is_empty() => all.push((f.clone(), c)),
            Ok(_) => {
                eprintln!("sim: {f}: no results");
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("sim: {f}: {e}");
                std::process::exit(2);
            }
        }
    }
    let text = results::summarize(&all);
    print!("{text}");
    let failed = all
        .iter()
        .flat_map(|(_, c)| c.records.iter())
        .any(|r| !r.passed);
    std::process::exit(if failed { 1 } else { 0 });
}

#[cfg(not(madsim))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--summary") {
        summary(&args[1..]);
    }
    eprintln!("sim: build with RUSTFLAGS=\"--cfg madsim\" (see scripts/sim.sh)");
    std::process::exit(2);
}

#[cfg(madsim)]
fn main() {
    use nsq_sim_tests::{scenarios, sweep};
    let mut args = std::env::args().skip(1);
    let mut names: Vec<String> = Vec::new();
    let mut plan = sweep::Plan {
        scenarios: Vec::new(),
        first_seed: 1,
        seeds: 1,
        jobs: 1,
        determinism: false,
        progress: true,
    };
    let mut verbose = false;
    let mut results_file: Option<String> = None;
    let mut resume = false;
    let usage = "usage: sim [--scenario NAME]... [--seed N] [--seeds N] [--jobs N] [--check-determinism] [--verbose] [--results FILE [--resume]] [--list] | sim --summary FILE...";
    let num = |v: Option<String>, flag: &str| -> u64 {
        match v.as_deref().map(str::parse) {
            Some(Ok(n)) => n,
            _ => {
                eprintln!("sim: {flag} needs a number\n{usage}");
                std::process::exit(2);
            }
        }
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scenario" => names.push(args.next().unwrap_or_default()),
            "--seed" => plan.first_seed = num(args.next(), "--seed"),
            "--seeds" => plan.seeds = num(args.next(), "--seeds"),
            "--jobs" => plan.jobs = num(args.next(), "--jobs") as usize,
            "--check-determinism" => plan.determinism = true,
            "--verbose" => verbose = true,
            "--results" => match args.next() {
                Some(f) if !f.is_empty() => results_file = Some(f),
                _ => {
                    eprintln!("sim: --results needs a file\n{usage}");
                    std::process::exit(2);
                }
            },
            "--resume" => resume = true,
            "--summary" => summary(&args.collect::<Vec<_>>()),
            "--list" => {
                for (n, _) in scenarios::all() {
                    println!("{n}");
                }
                return;
            }
            _ => {
                eprintln!("sim: unknown argument {a}\n{usage}");
                std::process::exit(2);
            }
        }
    }
    if resume && results_file.is_none() {
        eprintln!("sim: --resume needs --results FILE\n{usage}");
        std::process::exit(2);
    }
    if verbose && results_file.is_some() {
        eprintln!("sim: --results records sweeps, not --verbose runs\n{usage}");
        std::process::exit(2);
    }
    if names.is_empty() {
        plan.scenarios = scenarios::all();
    } else {
        for n in &names {
            match scenarios::all().into_iter().find(|(x, _)| x == n) {
                Some(s) => plan.scenarios.push(s),
                None => {
                    eprintln!("sim: no scenario {n:?} (try --list)");
                    std::process::exit(2);
                }
            }
        }
    }
    if verbose {
        // One run at a time, each printing its summary line.
        plan.progress = false;
        let mut failed = 0;
        for (name, s) in plan.scenarios.clone() {
            for seed in plan.first_seed..plan.first_seed + plan.seeds {
                let o = if plan.determinism {
                    nsq_runtime_sim::runner::check_determinism(seed, s)
                } else {
                    nsq_runtime_sim::runner::run_seed(seed, s, sweep::TIME_LIMIT)
                };
                match o.result {
                    Ok(summary) => println!("ok   {name} seed {seed}: {summary}"),
                    Err(e) => {
                        failed += 1;
                        println!(
                            "FAIL {name} seed {seed}: {e}\n  replay: {}",
                            sweep::replay_command(name, seed)
                        );
                    }
                }
            }
        }
        std::process::exit(if failed > 0 { 1 } else { 0 });
    }
    let Some(file) = results_file else {
        let (failures, passed) = sweep::run(&plan);
        print!("{}", sweep::summary(&plan, &failures, passed));
        std::process::exit(if failures.is_empty() { 0 } else { 1 });
    };
    let path = Path::new(&file);
    let about = format!(
        "jobs={} seeds={}..={} scenarios={}{}",
        plan.jobs,
        plan.first_seed,
        (plan.first_seed + plan.seeds).saturating_sub(1),
        plan.scenarios
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(","),
        if plan.determinism { " determinism" } else { "" }
    );
    let (writer, before) = match results::Writer::open(path, resume, &about) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("sim: {e}");
            std::process::exit(2);
        }
    };
    let done = before.done();
    let planned: u64 = plan.scenarios.len() as u64 * plan.seeds;
    let skipped = plan
        .scenarios
        .iter()
        .flat_map(|(n, _)| (0..plan.seeds).map(move |i| (n.to_string(), plan.first_seed + i)))
        .filter(|k| done.contains(k))
        .count() as u64;
    eprintln!(
        "sim: recording in {file}{}",
        if resume {
            format!(" ({skipped} of {planned} runs recorded before, skipped)")
        } else {
            String::new()
        }
    );
    let (failures, passed) = sweep::run_recorded(&plan, Some(sweep::Recording { writer, done }));
    print!("{}", sweep::summary(&plan, &failures, passed));
    // The whole file: earlier sessions count too.
    let all = match results::read(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sim: {file}: {e}");
            std::process::exit(2);
        }
    };
    println!("--- {file} so far:");
    print!("{}", results::summarize(&[(file.clone(), all.clone())]));
    let failed = all.records.iter().any(|r| !r.passed);
    std::process::exit(if failed { 1 } else { 0 });
}
