//! `--config` files: TOML with NSQ's keys (flag names with `_`), read the
//! way NSQ's loader (BurntSushi/toml, then mreiferson/go-options) reads them:
//! each key takes the TOML type of its option or a string that parses as
//! one; integers are milliseconds for durations; lists are arrays or
//! comma-separated strings. Where Go turns a value into garbage (a number
//! for a string option prints as `%!s(int64=5)`, an empty string is a list
//! of one empty address) we read what was obviously meant.

use super::duration;
use std::time::Duration;
use toml::{Table, Value};

#[derive(Debug, Default)]
pub struct ConfigFile {
    table: Table,
    path: String,
}

impl ConfigFile {
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("failed to load config file {path} - {e}"))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &str) -> Result<Self, String> {
        let table: Table = text
            .parse()
            .map_err(|e| format!("failed to load config file {path} - {e}"))?;
        Ok(ConfigFile {
            table,
            path: path.to_string(),
        })
    }

    fn err(&self, key: &str, v: &Value, want: &str) -> String {
        format!("config file {}: {key} = {v} is not {want}", self.path)
    }

    /// A string option. Numbers and booleans read as their text.
    pub fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(v) => self
                .text(key)
                .map(Some)
                .ok_or_else(|| self.err(key, v, "a string")),
        }
    }

    /// Any scalar as Go's `fmt.Sprintf("%v")` prints it: what NSQ hands the
    /// options it checks itself (`log_level`, `tls_required`, `tls_min_version`).
    fn text(&self, key: &str) -> Option<String> {
        match self.table.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(v @ Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.err(key, v, "an integer")),
            Some(v) => Err(self.err(key, v, "an integer")),
        }
    }

    pub fn float(&self, key: &str) -> Result<Option<f64>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(v @ Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.err(key, v, "a number")),
            Some(v) => Err(self.err(key, v, "a number")),
        }
    }

    /// NSQ's go-options reads integer booleans inverted (0 = true); we read
    /// them the obvious way (non-zero = true) and document the difference.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(Value::Integer(i)) => Ok(Some(*i != 0)),
            Some(v @ Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "1" | "t" | "true" => Ok(Some(true)),
                "0" | "f" | "false" => Ok(Some(false)),
                _ => Err(self.err(key, v, "a boolean")),
            },
            Some(v) => Err(self.err(key, v, "a boolean")),
        }
    }

    pub fn duration(&self, key: &str) -> Result<Option<Duration>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Integer(ms)) if *ms >= 0 => Ok(Some(Duration::from_millis(*ms as u64))),
            Some(Value::String(s)) => duration::parse(s)
                .map(Some)
                .map_err(|e| format!("config file {}: {key}: {e}", self.path)),
            Some(v) => Err(self.err(key, v, "a duration")),
        }
    }

    /// A list: an array of strings or one comma-separated string (empty: no items).
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::String(s)) => Ok(Some(s.split(',').map(str::to_string).collect())),
            Some(v @ Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| self.err(key, v, "a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.err(key, v, "a list of strings")),
        }
    }

    pub fn floats(&self, key: &str) -> Result<Option<Vec<f64>>, String> {
        match self.table.get(key) {
            None => Ok(None),
            Some(v @ Value::String(s)) => s
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse()
                        .map_err(|_| self.err(key, v, "a list of numbers"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v @ Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_float()
                        .or_else(|| x.as_integer().map(|i| i as f64))
                        .ok_or_else(|| self.err(key, v, "a list of numbers"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.err(key, v, "a list of numbers")),
        }
    }

    /// The flag's value if given, else the file's value for `key`.
    pub fn flag_or_file<T: ConfigValue>(
        &self,
        flag: Option<T>,
        key: &str,
    ) -> Result<Option<T>, String> {
        match flag {
            Some(v) => Ok(Some(v)),
            None => T::read(self, key),
        }
    }
}

/// The types an option's value is read as from a config file.
pub trait ConfigValue: Sized {
    fn read(file: &ConfigFile, key: &str) -> Result<Option<Self>, String>;
}

macro_rules! config_values {
    ($($t:ty => $read:ident),*) => {$(
        impl ConfigValue for $t {
            fn read(file: &ConfigFile, key: &str) -> Result<Option<Self>, String> {
                file.$read(key)
            }
        }
    )*};
}

config_values!(String => string, i64 => int, bool => bool, Duration => duration, Vec<String> => strings);

/// A port: an integer, cut to 16 bits.
impl ConfigValue for u16 {
    fn read(file: &ConfigFile, key: &str) -> Result<Option<Self>, String> {
        file.int(key).map(|v| v.map(|p| p as u16))
    }
}

/// Resolves one option: the flag if given, else the config file, else the default.
pub fn pick<T>(flag: Option<T>, file: Result<Option<T>, String>, default: T) -> Result<T, String> {
    match flag {
        Some(v) => Ok(v),
        None => Ok(file?.unwrap_or(default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_the_way_nsq_does() {
        let c = ConfigFile::parse(
            r#"
mem_queue_size = 5
msg_timeout = "90s"
sync_timeout = 1500
nsqlookupd_tcp_addresses = ["a:4160", "b:4160"]
auth_http_addresses = "x:1,y:2"
snappy = false
e2e_processing_latency_percentiles = [1.0, 0.99]
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.int("mem_queue_size"), Ok(Some(5)));
        assert_eq!(c.duration("msg_timeout"), Ok(Some(Duration::from_secs(90))));
        assert_eq!(
            c.duration("sync_timeout"),
            Ok(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            c.strings("nsqlookupd_tcp_addresses"),
            Ok(Some(vec!["a:4160".into(), "b:4160".into()]))
        );
        assert_eq!(
            c.strings("auth_http_addresses"),
            Ok(Some(vec!["x:1".into(), "y:2".into()]))
        );
        assert_eq!(c.bool("snappy"), Ok(Some(false)));
        assert_eq!(
            c.floats("e2e_processing_latency_percentiles"),
            Ok(Some(vec![1.0, 0.99]))
        );
        assert!(c.int("msg_timeout").is_err());
        assert_eq!(c.int("missing"), Ok(None));
        assert_eq!(pick(Some(1), c.int("mem_queue_size"), 9), Ok(1));
        assert_eq!(pick(None, c.int("mem_queue_size"), 9), Ok(5));
        assert_eq!(pick(None, c.int("nope"), 9), Ok(9));
    }

    #[test]
    fn every_value_type_go_reads() {
        let c = ConfigFile::parse(
            r#"
s_int = 5
s_bool = false
s_empty = ""
i_str = "12"
b_str = "T"
b_int = 1
d_int = 0
d_str = "1h2m3.5s"
l_empty = ""
l_one = "a:1"
f_str = "1.0, 0.5"
f_ints = [1, 0.5]
when = 1979-05-27T07:32:00Z
"#,
            "t.toml",
        )
        .unwrap();
        assert_eq!(c.string("s_int"), Ok(Some("5".into())));
        assert_eq!(c.string("s_bool"), Ok(Some("false".into())));
        assert_eq!(c.string("s_empty"), Ok(Some(String::new())));
        assert_eq!(c.int("i_str"), Ok(Some(12)));
        assert_eq!(c.bool("b_str"), Ok(Some(true)));
        assert_eq!(c.bool("b_int"), Ok(Some(true)));
        assert_eq!(c.duration("d_int"), Ok(Some(Duration::ZERO)));
        assert_eq!(
            c.duration("d_str"),
            Ok(Some(Duration::from_millis(3_723_500)))
        );
        assert_eq!(c.strings("l_empty"), Ok(Some(vec![])));
        assert_eq!(c.strings("l_one"), Ok(Some(vec!["a:1".to_string()])));
        assert_eq!(c.floats("f_str"), Ok(Some(vec![1.0, 0.5])));
        assert_eq!(c.floats("f_ints"), Ok(Some(vec![1.0, 0.5])));
        // what Go cannot read either
        assert!(c.int("s_bool").is_err());
        assert!(c.duration("s_empty").is_err());
        assert!(c.bool("s_empty").is_err());
        assert!(c.string("when").is_err());
        assert!(c.strings("s_int").is_err());
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let e = ConfigFile::parse("x = = 1", "bad.toml").unwrap_err();
        assert!(e.starts_with("failed to load config file bad.toml"), "{e}");
    }
}
