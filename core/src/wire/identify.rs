//! IDENTIFY: the JSON a client sends and the JSON nsqd answers with.
//!
//! Decoding follows Go's `encoding/json` as NSQ uses it (see
//! [`crate::lookup::gojson`]): unknown keys are ignored, keys match
//! case-insensitively in document order, `null` leaves the default, and a
//! value of the wrong type (or an integer out of range) is an error.

use crate::lookup::gojson::{self, Kind};
use serde::Serialize;

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

/// NSQ's `identifyDataV2` fields, in the order [`IdentifyData::from_json`] reads them.
const FIELDS: &[(&str, Kind)] = &[
    ("client_id", Kind::Str),
    ("hostname", Kind::Str),
    ("heartbeat_interval", Kind::Int),
    ("output_buffer_size", Kind::Int),
    ("output_buffer_timeout", Kind::Int),
    ("feature_negotiation", Kind::Bool),
    ("tls_v1", Kind::Bool),
    ("deflate", Kind::Bool),
    ("deflate_level", Kind::Int),
    ("snappy", Kind::Bool),
    ("sample_rate", Kind::Int),
    ("user_agent", Kind::Str),
    ("msg_timeout", Kind::Int),
];

impl IdentifyData {
    /// Decodes an IDENTIFY body.
    pub fn from_json(body: &[u8]) -> Result<IdentifyData, JsonError> {
        let f = gojson::decode(body, FIELDS).map_err(|_| JsonError)?;
        Ok(IdentifyData {
            client_id: f.str(0),
            hostname: f.str(1),
            heartbeat_interval: f.int(2),
            output_buffer_size: f.int(3),
            output_buffer_timeout: f.int(4),
            feature_negotiation: f.bool(5),
            tls_v1: f.bool(6),
            deflate: f.bool(7),
            deflate_level: f.int(8),
            snappy: f.bool(9),
            // Go's int32: a value out of its range fails the decode.
            sample_rate: i32::try_from(f.int(10)).map_err(|_| JsonError)?,
            user_agent: f.str(11),
            msg_timeout: f.int(12),
        })
    }
}

impl IdentifyData {
    /// As NSQ logs it (Go's `%+v` of `identifyDataV2`).
    pub fn go_text(&self) -> String {
        format!(
            "{{ClientID:{} Hostname:{} HeartbeatInterval:{} OutputBufferSize:{} \
             OutputBufferTimeout:{} FeatureNegotiation:{} TLSv1:{} Deflate:{} DeflateLevel:{} \
             Snappy:{} SampleRate:{} UserAgent:{} MsgTimeout:{}}}",
            self.client_id,
            self.hostname,
            self.heartbeat_interval,
            self.output_buffer_size,
            self.output_buffer_timeout,
            self.feature_negotiation,
            self.tls_v1,
            self.deflate,
            self.deflate_level,
            self.snappy,
            self.sample_rate,
            self.user_agent,
            self.msg_timeout
        )
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
    fn logs_as_go_prints_it() {
        let d = IdentifyData::from_json(
            br#"{"client_id":"c","hostname":"h.example","heartbeat_interval":30000,"feature_negotiation":true,"user_agent":"go-nsq/1.1.0"}"#,
        )
        .unwrap();
        assert_eq!(
            d.go_text(),
            "{ClientID:c Hostname:h.example HeartbeatInterval:30000 OutputBufferSize:0 \
             OutputBufferTimeout:0 FeatureNegotiation:true TLSv1:false Deflate:false \
             DeflateLevel:0 Snappy:false SampleRate:0 UserAgent:go-nsq/1.1.0 MsgTimeout:0}"
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
    fn reads_repeated_keys_nulls_and_bad_utf8_like_go() {
        // Found with the fuzz target's second model of Go's json rules:
        // Go fills a field from every matching key in document order (a
        // later case variant wins, a later null changes nothing), and
        // replaces invalid UTF-8 inside strings instead of refusing.
        let d = IdentifyData::from_json(br#"{"client_id":"a","CLIENT_ID":"b"}"#).unwrap();
        assert_eq!(d.client_id, "b");
        let d = IdentifyData::from_json(br#"{"client_id":"a","client_id":null}"#).unwrap();
        assert_eq!(d.client_id, "a");
        let d = IdentifyData::from_json(b"{\"hostname\":\"a\xffb\"}").unwrap();
        assert_eq!(d.hostname, "a\u{fffd}b");
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
