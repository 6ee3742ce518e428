//! Logging through `tracing`, with NSQ's level names.

use tracing_subscriber::EnvFilter;

/// NSQ's `--log-level` values.
pub fn parse_level(s: &str) -> Result<&'static str, String> {
    match s.to_ascii_lowercase().as_str() {
        "debug" => Ok("debug"),
        "info" => Ok("info"),
        "warn" => Ok("warn"),
        "error" | "fatal" => Ok("error"),
        _ => Err(format!(
            "invalid log level '{s}' (debug, info, warn, error, fatal)"
        )),
    }
}

/// Logs to stderr at `level` (an NSQ level name). `RUST_LOG` overrides.
pub fn init(level: &str) {
    let level = parse_level(level).unwrap_or("info");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
