//! Runs simulation sweeps: `sim [--scenario NAME]... [--seed N] [--seeds N]
//! [--jobs N] [--check-determinism] [--verbose]`. Without `--scenario`,
//! every scenario. Exits 1 when any run failed. See scripts/sim.sh.
#![cfg_attr(not(madsim), allow(unused))]

#[cfg(not(madsim))]
fn main() {
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
    let usage = "usage: sim [--scenario NAME]... [--seed N] [--seeds N] [--jobs N] [--check-determinism] [--verbose] [--list]";
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
    let (failures, passed) = sweep::run(&plan);
    print!("{}", sweep::summary(&plan, &failures, passed));
    std::process::exit(if failures.is_empty() { 0 } else { 1 });
}
