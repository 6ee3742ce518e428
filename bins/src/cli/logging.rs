//! Logging through `tracing`, written as NSQ writes its lines (Go's `log`
//! package with `Ldate|Ltime|Lmicroseconds`, and `lg`'s level names):
//!
//! `[nsqd] 2026/12/04 18:02:08.276784 INFO: TCP: listening on [::]:4150`
//!
//! so log parsers and alerts written for NSQ keep working; or one JSON
//! object per line (`--log-format=json`) for log collectors.

use nsq_core::api::config::LogLevel;
use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// NSQ's `--log-level` values, as the `tracing` level that shows the same.
pub fn parse_level(s: &str) -> Result<&'static str, String> {
    LogLevel::parse(s).map(LogLevel::tracing_level)
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// NSQ's lines (the default).
    #[default]
    Nsq,
    /// One JSON object per line: `time`, `level`, `msg`, and any fields.
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s {
            "nsq" | "" => Ok(LogFormat::Nsq),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("invalid log format '{s}' (nsq, json)")),
        }
    }
}

/// `lg`'s name for a level (`WARNING`, not `WARN`).
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// One of NSQ's lines: prefix, local date and time to the microsecond,
/// level, message.
pub fn nsq_line(
    prefix: &str,
    level: &str,
    msg: &str,
    now: chrono::DateTime<chrono::Local>,
) -> String {
    format!(
        "{prefix}{} {level}: {msg}",
        now.format("%Y/%m/%d %H:%M:%S%.6f")
    )
}

fn json_line(level: &str, msg: &str, fields: Map<String, Value>) -> String {
    let mut obj = Map::new();
    obj.insert(
        "time".into(),
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    );
    obj.insert("level".into(), Value::String(level.to_ascii_lowercase()));
    obj.insert("msg".into(), Value::String(msg.to_string()));
    obj.extend(fields);
    Value::Object(obj).to_string()
}

/// A FATAL line, written at once (NSQ's `lg.LogFatal`; the caller exits).
pub fn fatal(prefix: &str, format: LogFormat, msg: &str) {
    let line = match format {
        LogFormat::Nsq => nsq_line(prefix, "FATAL", msg, chrono::Local::now()),
        LogFormat::Json => json_line("FATAL", msg, Map::new()),
    };
    eprintln!("{line}");
}

/// An event's message and other fields.
#[derive(Default)]
struct Fields {
    msg: String,
    rest: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.msg = value.to_string(),
            name => {
                self.rest.insert(name.into(), Value::String(value.into()));
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.msg = format!("{value:?}"),
            name => {
                self.rest
                    .insert(name.into(), Value::String(format!("{value:?}")));
            }
        }
    }
}

impl Fields {
    fn of(event: &Event<'_>) -> Fields {
        let mut f = Fields::default();
        event.record(&mut f);
        f
    }

    /// The message with any other fields after it (`msg key=value`).
    fn text(self) -> String {
        let mut out = self.msg;
        for (k, v) in self.rest {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.push_str(&format!(" {k}={v}"));
        }
        out
    }
}

struct NsqFormat {
    prefix: String,
}

impl<S, N> FormatEvent<S, N> for NsqFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = level_name(event.metadata().level());
        let line = nsq_line(
            &self.prefix,
            level,
            &Fields::of(event).text(),
            chrono::Local::now(),
        );
        writeln!(writer, "{line}")
    }
}

struct JsonFormat;

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let f = Fields::of(event);
        let level = level_name(event.metadata().level());
        writeln!(writer, "{}", json_line(level, &f.msg, f.rest))
    }
}

/// Changes the log level of a running process (a `tracing` level name).
pub type Reload = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Logs to stderr at `level` (an NSQ level name; `RUST_LOG` overrides) in
/// `format`, NSQ's lines starting with `prefix` (`--log-prefix`).
/// Returns what changes the level later (`None` if logging was already set up).
pub fn init(prefix: &str, level: &str, format: LogFormat) -> Option<Reload> {
    let level = parse_level(level).unwrap_or("info");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    macro_rules! install {
        ($fmt:expr) => {{
            let builder = builder.event_format($fmt).with_filter_reloading();
            let handle = builder.reload_handle();
            builder.try_init().ok()?;
            Some(Box::new(move |level: &str| {
                handle
                    .reload(EnvFilter::new(level))
                    .map_err(|e| e.to_string())
            }) as Reload)
        }};
    }
    match format {
        LogFormat::Nsq => install!(NsqFormat {
            prefix: prefix.to_string()
        }),
        LogFormat::Json => install!(JsonFormat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_are_nsqs() {
        // what Go's log.New(os.Stderr, "[nsqd] ", Ldate|Ltime|Lmicroseconds)
        // with lg.Logf(..., INFO, "ID: %d", 7) writes
        let at = chrono::Local
            .with_ymd_and_hms(2026, 12, 4, 18, 2, 8)
            .unwrap()
            + chrono::Duration::microseconds(76_784);
        assert_eq!(
            nsq_line("[nsqd] ", "INFO", "ID: 7", at),
            "[nsqd] 2026/12/04 18:02:08.076784 INFO: ID: 7"
        );
        assert_eq!(level_name(&Level::WARN), "WARNING");
        assert_eq!(level_name(&Level::TRACE), "DEBUG");
    }

    #[test]
    fn json_lines_carry_level_message_and_fields() {
        let mut fields = Map::new();
        fields.insert("topic".into(), Value::String("t".into()));
        let v: Value = serde_json::from_str(&json_line("WARNING", "hi", fields)).unwrap();
        assert_eq!(
            (v["level"].as_str(), v["msg"].as_str()),
            (Some("warning"), Some("hi"))
        );
        assert_eq!(v["topic"], "t");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
        assert!(LogFormat::parse("xml").is_err());
    }
}
