//! Runs a scenario for one seed in a fresh simulation (its own thread, so
//! nothing of one run leaks into the next), turns a panic or a broken
//! invariant into a failure with the seed, and checks determinism (the same
//! seed must draw the same random numbers in the same order).

use madsim::runtime::Runtime;
use madsim::Config;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, Once};
use std::time::Duration;

/// A scenario: runs inside the simulation (its seed is
/// `madsim::runtime::Handle::current().seed()`); `Ok` carries a one-line
/// summary, `Err` the invariant that broke.
pub type Scenario = fn() -> Pin<Box<dyn Future<Output = Result<String, String>>>>;

/// How one seed went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seed: u64,
    pub result: Result<String, String>,
}

/// Panic messages by thread, so a failure reports where it panicked.
static PANICS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

/// Installs (once) a panic hook that records panics instead of printing
/// them, unless `SIM_LOG` is set (replays want the whole story).
pub fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("SIM_LOG").is_some() {
            return;
        }
        std::panic::set_hook(Box::new(|info| {
            let mut p = PANICS.lock().unwrap_or_else(|e| e.into_inner());
            p.insert(thread_key(), info.to_string());
        }));
    });
}

/// Prints the simulation's log (nsqd's and lookupd's too) when `SIM_LOG`
/// is set, e.g. `SIM_LOG=info` or `SIM_LOG=nsq_runtime_tokio=debug`.
pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("SIM_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}

fn thread_key() -> String {
    let t = std::thread::current();
    format!("{:?}", t.id())
}

fn take_panic(thread: &str) -> Option<String> {
    PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(thread)
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "panic".to_string()
    }
}

/// Runs `scenario` with `seed`, stopping it after `limit` simulated time.
pub fn run_seed(seed: u64, scenario: Scenario, limit: Duration) -> Outcome {
    init_logging();
    let t = std::thread::Builder::new()
        .name(format!("sim-{seed}"))
        .spawn(move || {
            let mut rt = Runtime::with_seed_and_config(seed, Config::default());
            rt.set_time_limit(limit);
            rt.block_on(scenario())
        })
        .expect("spawning a simulation thread");
    let thread = format!("{:?}", t.thread().id());
    let result = match t.join() {
        Ok(r) => r,
        Err(p) => Err(take_panic(&thread).unwrap_or_else(|| payload_text(&*p))),
    };
    Outcome { seed, result }
}

/// Runs `scenario` twice with `seed` and fails if the second run draws
/// different random numbers, or draws them in a different order (madsim's
/// determinism check), than the first.
pub fn check_determinism(seed: u64, scenario: Scenario) -> Outcome {
    let checked = madsim_check(seed, scenario);
    if checked.result.is_err() {
        return checked;
    }
    // And the outcome itself must repeat (a third run, on a fresh thread).
    let again = run_seed(seed, scenario, Duration::from_secs(3600));
    if again.result != checked.result {
        return Outcome {
            seed,
            result: Err(format!(
                "determinism: the same seed ended differently: {:?} then {:?}",
                checked.result, again.result
            )),
        };
    }
    checked
}

fn madsim_check(seed: u64, scenario: Scenario) -> Outcome {
    init_logging();
    let t = std::thread::Builder::new()
        .name(format!("sim-det-{seed}"))
        .spawn(move || Runtime::check_determinism(seed, Config::default(), scenario))
        .expect("spawning a simulation thread");
    let result = match t.join() {
        Ok(r) => r,
        Err(p) => {
            let text = payload_text(&*p);
            let all = PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            Err(format!(
                "determinism: {}",
                if all.is_empty() { text } else { all }
            ))
        }
    };
    Outcome { seed, result }
}
