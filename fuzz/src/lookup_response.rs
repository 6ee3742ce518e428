//! nsqlookupd's `/lookup` and `/topics` answers as a consumer reads them
//! (`consumer::lookup::parse_lookup`, `parse_topics`).
//!
//! Input: `[flags][body]`; bit 0 of flags: the answer carried NSQ's V1
//! content type (else the body is the old `{"status_code":..,"data":..}` form).
//! Checks: where go-nsq's reading is unambiguous, the result equals it (a
//! simple model of Go's rules); whatever parses, written again as JSON,
//! parses to the same value in both forms.

use crate::jsonmodel::{self, Refused};
use nsq_core::consumer::lookup::{parse_lookup, parse_topics, Lookup, Producer};
use serde_json::{json, Value};

const KEYS: &[&str] = &[
    "channels",
    "producers",
    "timestamp",
    "topics",
    "data",
    "status_code",
    "status_txt",
    "remote_address",
    "hostname",
    "broadcast_address",
    "tcp_port",
    "http_port",
    "version",
];

/// go-nsq's `[]string`.
fn strings(v: Option<&Value>) -> Result<Vec<String>, Refused> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().map(str::to_string).ok_or(Refused))
            .collect(),
        Some(_) => Err(Refused),
    }
}

/// A port that does not fit 16 bits cannot be dialled: such a producer is
/// left out (go-nsq lists it and fails to connect).
fn port(f: &jsonmodel::Fields, key: &str) -> Result<Option<u16>, Refused> {
    Ok(u16::try_from(f.int(key)?).ok())
}

fn producer(v: &Value) -> Result<Option<Producer>, Refused> {
    let f = jsonmodel::object(v)?;
    let remote_address = f.string("remote_address")?;
    let hostname = f.string("hostname")?;
    let broadcast_address = f.string("broadcast_address")?;
    let tcp_port = port(&f, "tcp_port")?;
    let http_port = port(&f, "http_port")?;
    let version = f.string("version")?;
    Ok(tcp_port
        .zip(http_port)
        .map(|(tcp_port, http_port)| Producer {
            remote_address,
            hostname,
            broadcast_address,
            tcp_port,
            http_port,
            version,
        }))
}

/// go-nsq's `lookupResp` (channels, producers, timestamp).
fn lookup_model(v: &Value) -> Result<Lookup, Refused> {
    let f = jsonmodel::object(v)?;
    let channels = strings(f.get("channels"))?;
    let producers = match f.get("producers") {
        None => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for p in a {
                out.extend(producer(p)?);
            }
            out
        }
        Some(_) => return Err(Refused),
    };
    f.int("timestamp")?;
    Ok(Lookup {
        channels,
        producers,
    })
}

/// Unwraps the body as go-nsq's `apiRequestNegotiateV1` does, then reads it.
fn model<T>(
    body: &[u8],
    v1: bool,
    read: impl Fn(&Value) -> Result<T, Refused>,
) -> Option<Result<T, Refused>> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    let v = match jsonmodel::server_document(body, KEYS)? {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    if v1 {
        return Some(read(&v));
    }
    let w = match jsonmodel::object(&v) {
        Ok(w) => w,
        Err(e) => return Some(Err(e)),
    };
    // go-nsq refuses a wrapped answer whose status_code is not 200; we read
    // the data whatever the status (the HTTP status was 200): out of domain.
    if w.string("status_txt").is_err() || w.int("status_code") != Ok(200) {
        return None;
    }
    Some(read(w.get("data").unwrap_or(&Value::Null)))
}

fn topics_model(v: &Value) -> Result<Vec<String>, Refused> {
    strings(jsonmodel::object(v)?.get("topics"))
}

fn lookup_json(l: &Lookup) -> Value {
    let producers: Vec<Value> = l
        .producers
        .iter()
        .map(|p| {
            json!({
                "remote_address": p.remote_address,
                "hostname": p.hostname,
                "broadcast_address": p.broadcast_address,
                "tcp_port": p.tcp_port,
                "http_port": p.http_port,
                "version": p.version,
            })
        })
        .collect();
    json!({ "channels": l.channels, "producers": producers })
}

fn wrapped(data: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"status_code": 200, "status_txt": "OK", "data": data}))
        .expect("JSON values serialize")
}

pub fn run(data: &[u8]) {
    let v1 = data.first().is_some_and(|f| f & 1 == 1);
    let body = data.get(1..).unwrap_or_default();

    let got = parse_lookup(body, v1);
    if let Some(expected) = model(body, v1, lookup_model) {
        assert_eq!(
            got.clone().map_err(|_| Refused),
            expected,
            "model disagrees"
        );
    }
    if let Ok(l) = got {
        let again = lookup_json(&l);
        let bytes = serde_json::to_vec(&again).expect("JSON values serialize");
        assert_eq!(parse_lookup(&bytes, true), Ok(l.clone()));
        assert_eq!(parse_lookup(&wrapped(&again), false), Ok(l));
    }

    let got = parse_topics(body, v1);
    if let Some(expected) = model(body, v1, topics_model) {
        assert_eq!(
            got.clone().map_err(|_| Refused),
            expected,
            "topics model disagrees"
        );
    }
    if let Ok(t) = got {
        let again = json!({ "topics": t });
        let bytes = serde_json::to_vec(&again).expect("JSON values serialize");
        assert_eq!(parse_topics(&bytes, true), Ok(t.clone()));
        assert_eq!(parse_topics(&wrapped(&again), false), Ok(t));
    }
}
