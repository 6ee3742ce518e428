//! nsqd's answer to IDENTIFY and AUTH as a client reads them
//! (`consumer::handshake::parse_identify_answer`, `parse_auth_answer`),
//! and the steps planned from it.
//!
//! Input: the response frame's data.
//! Checks: where go-nsq's reading is unambiguous the result equals it (a
//! simple model: `OK` or anything not starting with `{` means no feature
//! negotiation); what parses, written again as JSON, parses the same; the
//! steps come in go-nsq's order (TLS, one compression, AUTH).

use crate::jsonmodel::{self, Refused};
use nsq_core::consumer::config::Config;
use nsq_core::consumer::handshake::{
    parse_auth_answer, parse_identify_answer, steps, AuthAnswer, Negotiated, Step, DEFAULT_MAX_RDY,
};
use serde_json::json;

const KEYS: &[&str] = &[
    "max_rdy_count",
    "tls_v1",
    "deflate",
    "deflate_level",
    "snappy",
    "auth_required",
    "msg_timeout",
    "identity",
    "identity_url",
    "permission_count",
];

/// The body's fields, `Some(Err)` if Go refuses it, `None` outside the domain.
fn document(body: &[u8]) -> Option<Result<jsonmodel::Fields, Refused>> {
    Some(jsonmodel::server_document(body, KEYS)?.and_then(|v| jsonmodel::object(&v)))
}

/// go-nsq's `IdentifyResponse` plus the two fields we also use. An absent
/// max_rdy_count keeps go-nsq's default (go-nsq would take 0).
fn model(body: &[u8]) -> Option<Result<Negotiated, Refused>> {
    if body.first() != Some(&b'{') {
        return Some(Ok(Negotiated::default()));
    }
    let f = match document(body)? {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        Ok(Negotiated {
            max_rdy_count: match f.get("max_rdy_count") {
                None => DEFAULT_MAX_RDY,
                Some(_) => f.int("max_rdy_count")?,
            },
            tls_v1: f.bool("tls_v1")?,
            deflate: f.bool("deflate")?,
            deflate_level: f.int("deflate_level")?,
            snappy: f.bool("snappy")?,
            auth_required: f.bool("auth_required")?,
            msg_timeout: f.int("msg_timeout")?,
        })
    })())
}

fn auth_model(body: &[u8]) -> Option<Result<AuthAnswer, Refused>> {
    let f = match document(body)? {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    Some((|| {
        Ok(AuthAnswer {
            identity: f.string("identity")?,
            identity_url: f.string("identity_url")?,
            permission_count: f.int("permission_count")?,
        })
    })())
}

fn check_steps(n: &Negotiated) {
    for secret in ["", "s3cret"] {
        let mut cfg = Config::new("fuzz.example");
        cfg.auth_secret = secret.into();
        match steps(n, &cfg) {
            Err(_) => assert!(n.auth_required && secret.is_empty()),
            Ok(s) => {
                let mut expected = Vec::new();
                if n.tls_v1 {
                    expected.push(Step::UpgradeTls);
                }
                if n.deflate {
                    expected.push(Step::UpgradeDeflate {
                        level: n.deflate_level,
                    });
                } else if n.snappy {
                    expected.push(Step::UpgradeSnappy);
                }
                if n.auth_required {
                    expected.push(Step::Auth);
                }
                assert_eq!(s, expected);
            }
        }
    }
}

pub fn run(data: &[u8]) {
    let got = parse_identify_answer(data);
    if let Some(expected) = model(data) {
        assert_eq!(
            got.clone().map_err(|_| Refused),
            expected,
            "model disagrees"
        );
    }
    if let Ok(n) = &got {
        check_steps(n);
        let again = json!({
            "max_rdy_count": n.max_rdy_count,
            "tls_v1": n.tls_v1,
            "deflate": n.deflate,
            "deflate_level": n.deflate_level,
            "snappy": n.snappy,
            "auth_required": n.auth_required,
            "msg_timeout": n.msg_timeout,
        });
        let bytes = serde_json::to_vec(&again).expect("JSON values serialize");
        assert_eq!(parse_identify_answer(&bytes).as_ref(), Ok(n));
    }

    let got = parse_auth_answer(data);
    if let Some(expected) = auth_model(data) {
        assert_eq!(
            got.clone().map_err(|_| Refused),
            expected,
            "AUTH model disagrees"
        );
    }
    if let Ok(a) = got {
        let again = json!({
            "identity": a.identity,
            "identity_url": a.identity_url,
            "permission_count": a.permission_count,
        });
        let bytes = serde_json::to_vec(&again).expect("JSON values serialize");
        assert_eq!(parse_auth_answer(&bytes), Ok(a));
    }
}
