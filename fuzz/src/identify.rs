//! The IDENTIFY body nsqd reads (`IdentifyData::from_json`).
//!
//! Input: the JSON body.
//! Checks: where a plain reading is unambiguous (valid UTF-8, no two keys
//! equal ignoring case), the result equals that reading (a second, simple
//! model of Go's rules); whatever decodes, encoded again with its keys in
//! another case, decodes to the same value.

use crate::jsonmodel::{self, Refused};
use nsq_core::wire::identify::IdentifyData;
use serde_json::{json, Map, Value};

/// NSQ's `identifyDataV2` as the simple model reads it.
fn model(body: &[u8]) -> Option<Result<IdentifyData, Refused>> {
    let f = match jsonmodel::fields(body)? {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        Ok(IdentifyData {
            client_id: f.string("client_id")?,
            hostname: f.string("hostname")?,
            heartbeat_interval: f.int("heartbeat_interval")?,
            output_buffer_size: f.int("output_buffer_size")?,
            output_buffer_timeout: f.int("output_buffer_timeout")?,
            feature_negotiation: f.bool("feature_negotiation")?,
            tls_v1: f.bool("tls_v1")?,
            deflate: f.bool("deflate")?,
            deflate_level: f.int("deflate_level")?,
            snappy: f.bool("snappy")?,
            sample_rate: i32::try_from(f.int("sample_rate")?).map_err(|_| Refused)?,
            user_agent: f.string("user_agent")?,
            msg_timeout: f.int("msg_timeout")?,
        })
    })())
}

/// `d` as a client would send it, each key's case flipped where `mask` says.
pub fn to_json(d: &IdentifyData, mask: u64) -> Vec<u8> {
    let values = [
        ("client_id", json!(d.client_id)),
        ("hostname", json!(d.hostname)),
        ("user_agent", json!(d.user_agent)),
        ("heartbeat_interval", json!(d.heartbeat_interval)),
        ("output_buffer_size", json!(d.output_buffer_size)),
        ("output_buffer_timeout", json!(d.output_buffer_timeout)),
        ("deflate_level", json!(d.deflate_level)),
        ("sample_rate", json!(d.sample_rate)),
        ("msg_timeout", json!(d.msg_timeout)),
        ("feature_negotiation", json!(d.feature_negotiation)),
        ("tls_v1", json!(d.tls_v1)),
        ("deflate", json!(d.deflate)),
        ("snappy", json!(d.snappy)),
    ];
    let mut obj = Map::new();
    for (i, (key, v)) in values.into_iter().enumerate() {
        let key = if mask >> i & 1 == 1 {
            key.to_ascii_uppercase()
        } else {
            key.to_string()
        };
        obj.insert(key, v);
    }
    serde_json::to_vec(&Value::Object(obj)).expect("a JSON value always serializes")
}

pub fn run(data: &[u8]) {
    let got = IdentifyData::from_json(data);
    if let Some(expected) = model(data) {
        assert_eq!(
            got.clone().map_err(|_| Refused),
            expected,
            "model disagrees"
        );
    }
    if let Ok(d) = got {
        let mask = data
            .iter()
            .fold(0u64, |h, &b| h.rotate_left(5) ^ u64::from(b));
        let again = to_json(&d, mask);
        assert_eq!(IdentifyData::from_json(&again), Ok(d), "{again:?}");
    }
}
