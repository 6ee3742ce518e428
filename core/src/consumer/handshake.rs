//! The client side of a connection's start: the IDENTIFY body a client
//! sends (go-nsq's keys), what it learns from the answer, and the steps
//! that follow (transport upgrades, AUTH) in the order go-nsq takes them.

use super::config::Config;
use crate::io::nanos;
use serde::Deserialize;
use serde_json::{json, Value};

/// nsqd's max RDY when it does not say (go-nsq's default).
pub const DEFAULT_MAX_RDY: i64 = 2500;

/// The IDENTIFY body go-nsq sends for `cfg`.
pub fn identify_body(cfg: &Config) -> Vec<u8> {
    let ms = |d: std::time::Duration| nanos(d) / 1_000_000;
    let body = json!({
        "client_id": cfg.client_id,
        "hostname": cfg.hostname,
        "user_agent": cfg.user_agent,
        "short_id": cfg.client_id,
        "long_id": cfg.hostname,
        "tls_v1": cfg.tls_v1,
        "deflate": cfg.deflate,
        "deflate_level": cfg.deflate_level,
        "snappy": cfg.snappy,
        "feature_negotiation": true,
        "heartbeat_interval": cfg.heartbeat_interval.map_or(-1, ms),
        "sample_rate": cfg.sample_rate,
        "output_buffer_size": cfg.output_buffer_size,
        "output_buffer_timeout": cfg.output_buffer_timeout.map_or(-1, ms),
        "msg_timeout": ms(cfg.msg_timeout),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// What the server agreed to in its IDENTIFY answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub max_rdy_count: i64,
    pub tls_v1: bool,
    pub deflate: bool,
    pub deflate_level: i64,
    pub snappy: bool,
    pub auth_required: bool,
    pub msg_timeout: i64,
}

impl Default for Negotiated {
    fn default() -> Self {
        Negotiated {
            max_rdy_count: DEFAULT_MAX_RDY,
            tls_v1: false,
            deflate: false,
            deflate_level: 0,
            snappy: false,
            auth_required: false,
            msg_timeout: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(default)]
struct Answer {
    max_rdy_count: i64,
    tls_v1: bool,
    deflate: bool,
    deflate_level: i64,
    snappy: bool,
    auth_required: bool,
    msg_timeout: i64,
}

impl Default for Answer {
    fn default() -> Self {
        let n = Negotiated::default();
        Answer {
            max_rdy_count: n.max_rdy_count,
            tls_v1: false,
            deflate: false,
            deflate_level: 0,
            snappy: false,
            auth_required: false,
            msg_timeout: 0,
        }
    }
}

/// Reads the IDENTIFY answer: `OK` from a server without feature
/// negotiation, else its JSON.
pub fn parse_identify_answer(data: &[u8]) -> Result<Negotiated, String> {
    if data.first() != Some(&b'{') {
        return Ok(Negotiated::default());
    }
    let a: Answer = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    Ok(Negotiated {
        max_rdy_count: a.max_rdy_count,
        tls_v1: a.tls_v1,
        deflate: a.deflate,
        deflate_level: a.deflate_level,
        snappy: a.snappy,
        auth_required: a.auth_required,
        msg_timeout: a.msg_timeout,
    })
}

/// One step after IDENTIFY, in go-nsq's order: TLS, then one compression,
/// then AUTH. Each upgrade is confirmed by an `OK` frame read through the
/// upgraded transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    UpgradeTls,
    UpgradeDeflate { level: i64 },
    UpgradeSnappy,
    Auth,
}

/// The steps `n` calls for, or why the connection cannot go on.
pub fn steps(n: &Negotiated, cfg: &Config) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    if n.tls_v1 {
        out.push(Step::UpgradeTls);
    }
    if n.deflate {
        out.push(Step::UpgradeDeflate {
            level: n.deflate_level,
        });
    } else if n.snappy {
        out.push(Step::UpgradeSnappy);
    }
    if n.auth_required {
        if cfg.auth_secret.is_empty() {
            return Err("Auth Required".into());
        }
        out.push(Step::Auth);
    }
    Ok(out)
}

/// nsqd's answer to AUTH.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuthAnswer {
    pub identity: String,
    pub identity_url: String,
    pub permission_count: i64,
}

pub fn parse_auth_answer(data: &[u8]) -> Result<AuthAnswer, String> {
    match serde_json::from_slice::<Value>(data) {
        // serde would also fill a struct from an array; Go refuses that.
        Ok(v @ Value::Object(_)) => serde_json::from_value(v),
        Ok(Value::Null) => Ok(AuthAnswer::default()),
        Ok(_) => return Err("bad AUTH answer: not a JSON object".into()),
        Err(e) => Err(e),
    }
    .map_err(|e| format!("bad AUTH answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::identify::IdentifyData;
    use std::time::Duration;

    #[test]
    fn identify_body_is_what_nsqd_reads() {
        let mut cfg = Config::new("host.example");
        cfg.user_agent = "nsq_tail/1.3.0".into();
        cfg.sample_rate = 20;
        cfg.msg_timeout = Duration::from_secs(90);
        cfg.output_buffer_timeout = None;
        let d = IdentifyData::from_json(&identify_body(&cfg)).unwrap();
        assert_eq!(d.client_id, "host");
        assert_eq!(d.hostname, "host.example");
        assert_eq!(d.user_agent, "nsq_tail/1.3.0");
        assert!(d.feature_negotiation);
        assert_eq!(d.heartbeat_interval, 30_000);
        assert_eq!(d.sample_rate, 20);
        assert_eq!(d.msg_timeout, 90_000);
        assert_eq!(d.output_buffer_size, 16384);
        assert_eq!(d.output_buffer_timeout, -1);
    }

    #[test]
    fn reads_the_answer_and_plans_the_steps() {
        let ans = br#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":true,"sample_rate":0,"auth_required":true,"output_buffer_size":16384,"output_buffer_timeout":250}"#;
        let n = parse_identify_answer(ans).unwrap();
        assert_eq!(n.max_rdy_count, 2500);
        assert_eq!(n.msg_timeout, 60000);
        let mut cfg = Config::new("h");
        assert_eq!(steps(&n, &cfg), Err("Auth Required".into()));
        cfg.auth_secret = "s".into();
        assert_eq!(steps(&n, &cfg).unwrap(), [Step::UpgradeSnappy, Step::Auth]);
        assert_eq!(parse_identify_answer(b"OK").unwrap(), Negotiated::default());
        assert!(parse_identify_answer(b"{bad").is_err());
        let a = parse_auth_answer(br#"{"identity":"me","identity_url":"u","permission_count":2}"#);
        assert_eq!(a.unwrap().permission_count, 2);
    }

    #[test]
    fn an_array_is_not_an_auth_answer() {
        // Found by fuzzing against a model of go-nsq: serde reads a struct
        // from a JSON array; Go refuses it.
        assert!(parse_auth_answer(b"[]").is_err());
        assert!(parse_auth_answer(br#"["me","u",2]"#).is_err());
        assert_eq!(parse_auth_answer(b"null"), Ok(AuthAnswer::default()));
    }
}
