//! Replays every nsqlookupd TCP exchange captured from Go nsqlookupd v1.3.0
//! (testdata/tcp-samples/captures.json) against our nsqlookupd and
//! expects the same answers, byte for byte, and the same close behaviour.
//! IDENTIFY answers describe the lookupd itself (host name, ports): those are
//! compared by shape, and their values against our lookupd's real ones.

mod common;

use common::{hex, LookupClient, LookupGot, Nsqlookupd};
use serde_json::Value;
use std::time::{Duration, Instant};

struct Step {
    c2s: bool,
    bytes: Vec<u8>,
}

fn captures() -> Vec<(String, bool, Vec<Step>)> {
    let text = std::fs::read_to_string(common::fixtures().join("tcp-samples/captures.json"))
        .expect("captures.json");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["captures"]
        .as_array()
        .expect("captures")
        .iter()
        .filter(|c| c["server"] == "nsqlookupd")
        .map(|c| {
            let steps = c["exchange"]
                .as_array()
                .expect("exchange")
                .iter()
                .map(|e| Step {
                    c2s: e["dir"] == "C2S",
                    bytes: hex(e["hex"].as_str().expect("hex")),
                })
                .collect();
            (
                c["name"].as_str().expect("name").to_string(),
                c["server_closed_connection"].as_bool().expect("bool"),
                steps,
            )
        })
        .collect()
}

/// The V1 answers in a captured server→client block.
fn answers(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    while b.len() >= 4 {
        let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        v.push(b[4..4 + n].to_vec());
        b = &b[4 + n..];
    }
    v
}

/// Compares an IDENTIFY answer: same keys in the same order, same value
/// types, same version and broadcast address; ports and host name are ours.
fn same_identify(want: &[u8], got: &[u8], lookupd: &Nsqlookupd) -> Result<(), String> {
    let keys = |b: &[u8]| -> Vec<String> {
        let s = String::from_utf8_lossy(b);
        s.split(['{', ','])
            .filter_map(|kv| {
                kv.split_once("\":")
                    .map(|(k, _)| k.trim_matches('"').to_string())
            })
            .collect()
    };
    if keys(want) != keys(got) {
        return Err(format!("keys {:?} vs {:?}", keys(want), keys(got)));
    }
    let w: Value = serde_json::from_slice(want).map_err(|e| e.to_string())?;
    let g: Value = serde_json::from_slice(got).map_err(|e| e.to_string())?;
    for k in ["version", "broadcast_address"] {
        if w[k] != g[k] {
            return Err(format!("{k}: {} vs {}", w[k], g[k]));
        }
    }
    let port = |k: &str| g[k].as_u64().ok_or_else(|| format!("{k} is not a number"));
    if port("tcp_port")? != u64::from(lookupd.tcp().port())
        || port("http_port")? != u64::from(lookupd.http().port())
    {
        return Err(format!("ports {got:?} are not the lookupd's"));
    }
    if g["hostname"].as_str().is_none_or(str::is_empty) {
        return Err("hostname missing".into());
    }
    Ok(())
}

#[test]
fn every_go_capture_replays_identically() {
    let lookupd = Nsqlookupd::start(&[]);
    let mut failures = Vec::new();
    let all = captures();
    assert_eq!(all.len(), 11, "the README lists 11 nsqlookupd scenarios");
    for (name, go_closed, steps) in all {
        let mut c = LookupClient::connect(lookupd.tcp());
        let mut last_send = Instant::now();
        'steps: for step in &steps {
            if step.c2s {
                c.send(&step.bytes);
                last_send = Instant::now();
                continue;
            }
            for want in answers(&step.bytes) {
                let got = match c.read(Duration::from_secs(3)) {
                    LookupGot::Response(d) => d,
                    other => {
                        failures.push(format!(
                            "{name}: expected {:?}, got {other:?}",
                            String::from_utf8_lossy(&want)
                        ));
                        break 'steps;
                    }
                };
                if want.first() == Some(&b'{') {
                    if let Err(e) = same_identify(&want, &got, &lookupd) {
                        failures.push(format!("{name}: IDENTIFY answer: {e}"));
                    }
                } else if want != got {
                    failures.push(format!(
                        "{name}: expected {:?}, got {:?}",
                        String::from_utf8_lossy(&want),
                        String::from_utf8_lossy(&got)
                    ));
                }
            }
        }
        // The capture's verdict: one read of 1.5 s after the client's last write.
        let window =
            (last_send + Duration::from_millis(1500)).saturating_duration_since(Instant::now());
        let closed = c.closed_within(window.max(Duration::from_millis(300)));
        if closed != go_closed {
            failures.push(format!(
                "{name}: server closed = {closed}, Go closed = {go_closed}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
