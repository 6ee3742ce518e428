//! A second, deliberately simple model of how Go's `json.Unmarshal` fills a
//! struct, for the bodies where a plain reading is unambiguous: valid UTF-8
//! and no two keys of the top-level object equal ignoring case. Core's
//! readers (which also handle the ambiguous cases) must agree with it there.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The top-level fields with non-null values, found ignoring ASCII case.
pub struct Fields(serde_json::Map<String, Value>);

/// Type mismatch: Go refuses the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// What `serde_json::Value` hides about a document: whether an object
/// repeats a key (exactly or ignoring ASCII case), and whether a `null`
/// sits inside an object or array.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub duplicate_keys: bool,
    pub inner_nulls: bool,
}

/// Parses `body` as JSON (valid UTF-8 only), noting its [`Shape`].
pub fn parse(body: &[u8]) -> Result<(Value, Shape), Refused> {
    let mut shape = Shape::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = ShapeSeed {
        shape: &mut shape,
        inner: false,
    }
    .deserialize(&mut de)
    .map_err(|_| Refused)?;
    de.end().map_err(|_| Refused)?;
    Ok((v, shape))
}

struct ShapeSeed<'a> {
    shape: &'a mut Shape,
    inner: bool,
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        if self.inner {
            self.shape.inner_nulls = true;
        }
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(ShapeSeed {
            shape: &mut *self.shape,
            inner: true,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        let mut seen = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let lower = k.to_ascii_lowercase();
            if seen.contains(&lower) {
                self.shape.duplicate_keys = true;
            }
            seen.push(lower);
            let v = map.next_value_seed(ShapeSeed {
                shape: &mut *self.shape,
                inner: true,
            })?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Why `parse` failed, as far as the model can tell: `None` when the text
/// is valid JSON that `serde_json::Value` cannot hold (a number beyond
/// f64, which Go skips in fields it ignores), else Go refuses it too.
fn refusal(body: &[u8], e: Refused) -> Option<Refused> {
    match serde_json::from_slice::<de::IgnoredAny>(body) {
        Ok(_) => None,
        Err(_) => Some(e),
    }
}

/// `None` when the body is outside the model's domain (not UTF-8, a
/// repeated key, a number beyond f64); `Some(Err)` when Go refuses it
/// (not JSON, trailing data, not an object or `null`).
pub fn fields(body: &[u8]) -> Option<Result<Fields, Refused>> {
    std::str::from_utf8(body).ok()?;
    match parse(body) {
        Err(e) => refusal(body, e).map(Err),
        Ok((_, shape)) if shape.duplicate_keys => None,
        Ok((v, _)) => Some(object(&v)),
    }
}

/// A value decoded into a struct: `null` leaves it empty, an object fills
/// it, anything else is refused.
pub fn object(v: &Value) -> Result<Fields, Refused> {
    match v {
        Value::Null => Ok(Fields(serde_json::Map::new())),
        Value::Object(o) => Ok(Fields(o.clone())),
        _ => Err(Refused),
    }
}

/// For readers of what NSQ's own servers send: the body parsed, or `None`
/// when it is outside the simple model's domain (not UTF-8, a repeated key,
/// a `null` inside, or a key naming one of `fields` in another case).
pub fn server_document(body: &[u8], fields: &[&str]) -> Option<Result<Value, Refused>> {
    std::str::from_utf8(body).ok()?;
    match parse(body) {
        Err(e) => refusal(body, e).map(Err),
        Ok((_, shape)) if shape.duplicate_keys || shape.inner_nulls => None,
        Ok((v, _)) if has_case_variant(&v, fields) => None,
        Ok((v, _)) => Some(Ok(v)),
    }
}

impl Fields {
    /// The field's value, unless it is absent or `null`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    pub fn string(&self, key: &str) -> Result<String, Refused> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(Refused),
        }
    }

    /// A Go `int` (64-bit): integer literals in range only.
    pub fn int(&self, key: &str) -> Result<i64, Refused> {
        match self.get(key) {
            None => Ok(0),
            Some(Value::Number(n)) => n.as_i64().ok_or(Refused),
            Some(_) => Err(Refused),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool, Refused> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Refused),
        }
    }
}

/// Whether `v` (or any object inside it) has a key that names one of
/// `fields` in another case: Go matches it, a case-sensitive reader would
/// not. Such bodies are outside the domain of the client-side models.
pub fn has_case_variant(v: &Value, fields: &[&str]) -> bool {
    match v {
        Value::Object(o) => o.iter().any(|(k, v)| {
            fields
                .iter()
                .any(|f| k.eq_ignore_ascii_case(f) && k.as_str() != *f)
                || has_case_variant(v, fields)
        }),
        Value::Array(a) => a.iter().any(|v| has_case_variant(v, fields)),
        _ => false,
    }
}
