//! The short sweep CI runs: every scenario over a few seeds. More seeds:
//! `SIM_SEEDS=200 SIM_SEED=1000`; one seed: `scripts/sim.sh replay NAME SEED`.
#![cfg(madsim)]

use nsq_sim_tests::{scenarios, sweep};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sweep_one(name: &'static str) {
    let scenario = scenarios::by_name(name).expect("scenario exists");
    let plan = sweep::Plan {
        scenarios: vec![(name, scenario)],
        first_seed: env("SIM_SEED", 1),
        seeds: env("SIM_SEEDS", 8),
        jobs: env("SIM_JOBS", 2) as usize,
        determinism: std::env::var_os("SIM_CHECK_DETERMINISM").is_some(),
        progress: false,
    };
    let (failures, passed) = sweep::run(&plan);
    let summary = sweep::summary(&plan, &failures, passed);
    println!("{summary}");
    assert!(failures.is_empty(), "{summary}");
}

#[test]
fn crash_recovery() {
    sweep_one("crash_recovery");
}

#[test]
fn partitions() {
    sweep_one("partitions");
}

#[test]
fn slow_disk() {
    sweep_one("slow_disk");
}

#[test]
fn discovery() {
    sweep_one("discovery");
}

#[test]
fn chaos() {
    sweep_one("chaos");
}

#[test]
fn client_library() {
    sweep_one("client_library");
}
