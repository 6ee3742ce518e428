//! Flag checks, client options and the runtime, as every utility uses them.

use nsq_runtime_tokio::client::Config;
use std::process::ExitCode;

/// Exit status for bad flags (as clap uses for unknown or malformed ones).
pub const USAGE: u8 = 2;

/// Prints a flag error and returns exit status 2.
pub fn usage_error(app: &str, msg: &str) -> ExitCode {
    eprintln!("[{app}] FATAL: {msg}");
    eprintln!("(see {app} --help)");
    ExitCode::from(USAGE)
}

/// Prints a runtime failure and returns exit status 1.
pub fn failure(app: &str, msg: &str) -> ExitCode {
    eprintln!("[{app}] FATAL: {msg}");
    ExitCode::FAILURE
}

/// `<app>/<version> nsq-rs/<version>`, the user agent NSQ's tools send.
pub fn user_agent(app: &str) -> String {
    format!(
        "{app}/{} nsq-rs/{}",
        nsq_core::NSQ_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

/// go-nsq options with `--consumer-opt`/`--producer-opt` values applied.
pub fn client_config(app: &str, opts: &[String]) -> Result<Config, String> {
    let mut cfg = Config::new(&crate::cli::hostname());
    for o in opts {
        cfg.set_flag(o)?;
    }
    cfg.user_agent = user_agent(app);
    cfg.validate()?;
    Ok(cfg)
}

/// NSQ's tools take nsqd or lookupd addresses, never both, and need one.
pub fn check_sources(nsqd: &[String], lookupd: &[String]) -> Result<(), String> {
    match (nsqd.is_empty(), lookupd.is_empty()) {
        (true, true) => Err("--nsqd-tcp-address or --lookupd-http-address required".into()),
        (false, false) => Err("use --nsqd-tcp-address or --lookupd-http-address not both".into()),
        _ => Ok(()),
    }
}

/// A generator seeded from the clock and the process id (for names and
/// sampling, where NSQ's tools use Go's global RNG).
pub fn rng() -> rand::rngs::SmallRng {
    use rand::SeedableRng;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    rand::rngs::SmallRng::seed_from_u64(t ^ u64::from(std::process::id()).rotate_left(40))
}

/// A multi-threaded tokio runtime.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_one_kind_or_the_other() {
        let a = vec!["x:1".to_string()];
        assert!(check_sources(&[], &[]).is_err());
        assert!(check_sources(&a, &a).is_err());
        assert!(check_sources(&a, &[]).is_ok());
        assert!(check_sources(&[], &a).is_ok());
    }

    #[test]
    fn client_options_pass_through() {
        let c = client_config("nsq_tail", &["max_attempts,9".into()]).unwrap();
        assert_eq!(c.max_attempts, 9);
        assert!(c.user_agent.starts_with("nsq_tail/1.3.0"));
        assert!(client_config("x", &["bogus,1".into()]).is_err());
    }
}
