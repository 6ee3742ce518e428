//! nsq_to_nsq's JSON options: `--require-json-field` (and
//! `--require-json-value`) decide whether a message passes,
//! `--whitelist-json-field` keeps only the named top-level fields.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct JsonFilter {
    pub require_field: String,
    pub require_value: String,
    pub whitelist: Vec<String>,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Publish this body.
    Pass(Vec<u8>),
    /// Finish it without publishing.
    Skip,
    /// Requeue it with backoff (the required field is missing while a
    /// value was required, as NSQ does).
    Backoff,
}

impl JsonFilter {
    pub fn is_active(&self) -> bool {
        !self.require_field.is_empty() || !self.whitelist.is_empty()
    }

    pub fn apply(&self, body: &[u8]) -> Verdict {
        if !self.is_active() {
            return Verdict::Pass(body.to_vec());
        }
        let Ok(js) = serde_json::from_slice::<Map<String, Value>>(body) else {
            tracing::error!("Unable to decode json: {}", String::from_utf8_lossy(body));
            return Verdict::Skip;
        };
        match self.should_pass(&js) {
            (true, _) => {}
            (false, true) => return Verdict::Backoff,
            (false, false) => return Verdict::Skip,
        }
        if self.whitelist.is_empty() {
            return Verdict::Pass(body.to_vec());
        }
        let mut out = Map::new();
        for key in &self.whitelist {
            if let Some(v) = js.get(key) {
                out.insert(key.clone(), integral(v));
            }
        }
        match serde_json::to_vec(&out) {
            Ok(b) => Verdict::Pass(b),
            Err(_) => Verdict::Backoff,
        }
    }

    /// (pass, backoff)
    fn should_pass(&self, js: &Map<String, Value>) -> (bool, bool) {
        if self.require_field.is_empty() {
            return (true, false);
        }
        let Some(v) = js.get(&self.require_field) else {
            if !self.require_value.is_empty() {
                tracing::error!("missing field to check required value");
                return (false, true);
            }
            return (false, false);
        };
        if self.require_value.is_empty() {
            return (true, false);
        }
        let pass = match v {
            Value::String(s) => *s == self.require_value,
            Value::Number(n) => match self.require_value.parse::<f64>() {
                Ok(want) => n.as_f64() == Some(want),
                Err(_) => false,
            },
            _ => false,
        };
        (pass, false)
    }
}

/// Go decodes numbers as float64 and prints whole ones as integers.
fn integral(v: &Value) -> Value {
    match v.as_f64() {
        Some(f) if v.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(field: &str, value: &str, wl: &[&str]) -> JsonFilter {
        JsonFilter {
            require_field: field.into(),
            require_value: value.into(),
            whitelist: wl.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn required_fields_and_values() {
        let body = br#"{"a":"x","n":5,"o":{}}"#;
        assert_eq!(
            f("", "", &[]).apply(b"not json"),
            Verdict::Pass(b"not json".to_vec())
        );
        assert!(matches!(f("a", "", &[]).apply(body), Verdict::Pass(_)));
        assert_eq!(f("zz", "", &[]).apply(body), Verdict::Skip);
        assert_eq!(f("zz", "v", &[]).apply(body), Verdict::Backoff);
        assert!(matches!(f("a", "x", &[]).apply(body), Verdict::Pass(_)));
        assert_eq!(f("a", "y", &[]).apply(body), Verdict::Skip);
        assert!(matches!(f("n", "5", &[]).apply(body), Verdict::Pass(_)));
        assert!(matches!(f("n", "5.0", &[]).apply(body), Verdict::Pass(_)));
        assert_eq!(f("n", "five", &[]).apply(body), Verdict::Skip);
        assert_eq!(f("o", "x", &[]).apply(body), Verdict::Skip);
        assert_eq!(f("a", "", &[]).apply(b"[1]"), Verdict::Skip);
    }

    #[test]
    fn whitelist_keeps_named_fields_in_key_order() {
        let body = br#"{"z":1.0,"b":2.5,"a":"s","drop":true}"#;
        assert_eq!(
            f("", "", &["z", "a", "b", "missing"]).apply(body),
            Verdict::Pass(br#"{"a":"s","b":2.5,"z":1}"#.to_vec())
        );
    }
}
