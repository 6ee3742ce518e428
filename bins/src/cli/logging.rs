//! Logging through `tracing`, with NSQ's level names.

use nsq_core::api::config::LogLevel;
use tracing_subscriber::EnvFilter;

/// NSQ's `--log-level` values, as the `tracing` level that shows the same.
pub fn parse_level(s: &str) -> Result<&'static str, String> {
    LogLevel::parse(s).map(LogLevel::tracing_level)
}

/// Changes the log level of a running process (a `tracing` level name).
pub type Reload = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Logs to stderr at `level` (an NSQ level name); `RUST_LOG` overrides.
/// Returns what changes the level later (`None` if logging was already set up).
pub fn init(level: &str) -> Option<Reload> {
    let level = parse_level(level).unwrap_or("info");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter_reloading();
    let handle = builder.reload_handle();
    builder.try_init().ok()?;
    Some(Box::new(move |level: &str| {
        handle
            .reload(EnvFilter::new(level))
            .map_err(|e| e.to_string())
    }))
}
