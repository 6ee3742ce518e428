//! Decoding a JSON object into a few typed fields the way Go's
//! `json.Unmarshal` fills a struct: keys match field names exactly or
//! ignoring ASCII case, in document order (the last one wins), unknown keys
//! are skipped, `null` leaves a field alone, a value of the wrong type (a
//! string or a fraction for an int) is an error, and a top-level `null` is
//! an empty object. Invalid UTF-8 inside strings becomes U+FFFD, as in Go.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// The decoded fields, in the order of the `fields` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields(pub Vec<Option<Value>>);

impl Fields {
    pub fn str(&self, i: usize) -> String {
        match self.0.get(i) {
            Some(Some(Value::Str(s))) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn int(&self, i: usize) -> i64 {
        match self.0.get(i) {
            Some(Some(Value::Int(n))) => *n,
            _ => 0,
        }
    }

    pub fn bool(&self, i: usize) -> bool {
        matches!(self.0.get(i), Some(Some(Value::Bool(true))))
    }
}

/// Decodes `body` into the named fields; `Err` is the reason (for logs).
pub fn decode(body: &[u8], fields: &[(&str, Kind)]) -> Result<Fields, String> {
    let text = String::from_utf8_lossy(body);
    let mut out = Fields(vec![None; fields.len()]);
    let mut de = serde_json::Deserializer::from_str(&text);
    ObjectSeed {
        fields,
        out: &mut out,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(out)
}

struct ObjectSeed<'a> {
    fields: &'a [(&'a str, Kind)],
    out: &'a mut Fields,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let found = self
                .fields
                .iter()
                .position(|(name, _)| *name == key)
                .or_else(|| {
                    self.fields
                        .iter()
                        .position(|(name, _)| name.eq_ignore_ascii_case(&key))
                });
            let Some(i) = found else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let v = match self.fields[i].1 {
                Kind::Str => map.next_value::<Option<String>>()?.map(Value::Str),
                Kind::Int => map.next_value::<Option<i64>>()?.map(Value::Int),
                Kind::Bool => map.next_value::<Option<bool>>()?.map(Value::Bool),
            };
            if v.is_some() {
                self.out.0[i] = v;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &[(&str, Kind)] = &[("name", Kind::Str), ("port", Kind::Int), ("on", Kind::Bool)];

    #[test]
    fn decodes_like_go() {
        let f = decode(br#"{"name":"a","port":5,"other":[1,{"x":null}]}"#, F).unwrap();
        assert_eq!((f.str(0), f.int(1)), ("a".into(), 5));
        // case-insensitive keys, document order, last wins
        let f = decode(br#"{"port":1,"PORT":2,"Name":"b"}"#, F).unwrap();
        assert_eq!((f.str(0), f.int(1)), ("b".into(), 2));
        // null leaves the field alone
        let f = decode(br#"{"port":3,"port":null}"#, F).unwrap();
        assert_eq!(f.int(1), 3);
        // top-level null: nothing set, no error
        assert_eq!(decode(b"null", F).unwrap(), Fields(vec![None, None, None]));
        let f = decode(br#"{"ON":true,"on":null}"#, F).unwrap();
        assert!(f.bool(2));
        // invalid UTF-8 in a string is replaced, not refused
        let f = decode(b"{\"name\":\"a\xffb\"}", F).unwrap();
        assert_eq!(f.str(0), "a\u{fffd}b");
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            &b"{not json"[..],
            b"",
            b"[]",
            b"5",
            br#""s""#,
            br#"{"port":"5"}"#,
            br#"{"port":1.5}"#,
            br#"{"port":1e3}"#,
            br#"{"port":99999999999999999999}"#,
            br#"{"name":5}"#,
            br#"{"on":1}"#,
            br#"{"on":"true"}"#,
            br#"{"name":"a"} x"#,
        ] {
            assert!(decode(bad, F).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
