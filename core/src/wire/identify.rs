//! IDENTIFY: the JSON a client sends and the JSON nsqd answers with.
//!
//! Decoding follows Go's `encoding/json` as NSQ uses it: unknown keys are
//! ignored, keys match case-insensitively, `null` leaves the default, and a
//! value of the wrong type (or an integer out of range) is an error.

use serde::Serialize;
use serde_json::{Map, Value};

/// What a client may ask for in IDENTIFY (NSQ's `identifyDataV2`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentifyData {
    pub client_id: String,
    pub hostname: String,
    pub heartbeat_interval: i64,
    pub output_buffer_size: i64,
    pub output_buffer_timeout: i64,
    pub feature_negotiation: bool,
    pub tls_v1: bool,
    pub deflate: bool,
    pub deflate_level: i64,
    pub snappy: bool,
    pub sample_rate: i32,
    pub user_agent: String,
    pub msg_timeout: i64,
}

/// The body is not JSON NSQ would accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError;

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<String, JsonError> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(JsonError),
    }
}

fn bool_field(obj: &Map<String, Value>, key: &str) -> Result<bool, JsonError> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(JsonError),
    }
}

fn int_field(obj: &Map<String, Value>, key: &str) -> Result<i64, JsonError> {
    match field(obj, key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or(JsonError),
        Some(_) => Err(JsonError),
    }
}

impl IdentifyData {
    /// Decodes an IDENTIFY body.
    pub fn from_json(body: &[u8]) -> Result<IdentifyData, JsonError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| JsonError)?;
        let obj = match value {
            Value::Null => return Ok(IdentifyData::default()),
            Value::Object(obj) => obj,
            _ => return Err(JsonError),
        };
        let sample_rate = int_field(&obj, "sample_rate")?;
        Ok(IdentifyData {
            client_id: string_field(&obj, "client_id")?,
            hostname: string_field(&obj, "hostname")?,
            heartbeat_interval: int_field(&obj, "heartbeat_interval")?,
            output_buffer_size: int_field(&obj, "output_buffer_size")?,
            output_buffer_timeout: int_field(&obj, "output_buffer_timeout")?,
            feature_negotiation: bool_field(&obj, "feature_negotiation")?,
            tls_v1: bool_field(&obj, "tls_v1")?,
            deflate: bool_field(&obj, "deflate")?,
            deflate_level: int_field(&obj, "deflate_level")?,
            snappy: bool_field(&obj, "snappy")?,
            sample_rate: i32::try_from(sample_rate).map_err(|_| JsonError)?,
            user_agent: string_field(&obj, "user_agent")?,
            msg_timeout: int_field(&obj, "msg_timeout")?,
        })
    }
}

/// nsqd's answer to IDENTIFY with feature_negotiation, in NSQ's key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentifyResponse {
    pub max_rdy_count: i64,
    pub version: String,
    pub max_msg_timeout: i64,
    pub msg_timeout: i64,
    pub tls_v1: bool,
    pub deflate: bool,
    pub deflate_level: i64,
    pub max_deflate_level: i64,
    pub snappy: bool,
    pub sample_rate: i32,
    pub auth_required: bool,
    pub output_buffer_size: i64,
    pub output_buffer_timeout: i64,
}

impl IdentifyResponse {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_go() {
        let d = IdentifyData::from_json(
            br#"{"client_id":"c","HOSTNAME":"h","heartbeat_interval":1000,"feature_negotiation":true,"extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(d.client_id, "c");
        assert_eq!(d.hostname, "h");
        assert_eq!(d.heartbeat_interval, 1000);
        assert!(d.feature_negotiation);
        assert_eq!(
            IdentifyData::from_json(b"null"),
            Ok(IdentifyData::default())
        );
        assert_eq!(
            IdentifyData::from_json(br#"{"client_id":null}"#),
            Ok(IdentifyData::default())
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            &b"not json"[..],
            b"[]",
            b"1",
            br#"{"heartbeat_interval":"1000"}"#,
            br#"{"msg_timeout":1.5}"#,
            br#"{"feature_negotiation":1}"#,
            br#"{"sample_rate":4294967296}"#,
            br#"{"client_id":5}"#,
        ] {
            assert_eq!(IdentifyData::from_json(bad), Err(JsonError), "{bad:?}");
        }
    }

    #[test]
    fn response_matches_the_go_capture() {
        let r = IdentifyResponse {
            max_rdy_count: 2500,
            version: "1.3.0".into(),
            max_msg_timeout: 900000,
            msg_timeout: 60000,
            tls_v1: false,
            deflate: false,
            deflate_level: 6,
            max_deflate_level: 6,
            snappy: false,
            sample_rate: 0,
            auth_required: false,
            output_buffer_size: 16384,
            output_buffer_timeout: 250,
        };
        assert_eq!(
            String::from_utf8(r.to_json()).unwrap(),
            r#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}"#
        );
    }
}
