//! Replays every nsqd TCP exchange captured from Go nsqd v1.3.0
//! (testdata/tcp-samples/captures.json) against our nsqd and expects
//! the same frames, byte for byte, and the same close behaviour. Message ids
//! and timestamps are the only bytes allowed to differ.

mod common;

use bytes::BytesMut;
use common::{hex, Got, Nsqd};
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::{Frame, FrameDecoder};
use serde_json::Value;
use std::time::Duration;

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
        .filter(|c| c["server"] == "nsqd")
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

fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut b = BytesMut::from(bytes);
    let mut v = Vec::new();
    while let Some(f) = FrameDecoder::default()
        .decode(&mut b)
        .expect("valid capture")
    {
        v.push(f);
    }
    v
}

fn replace(hay: &mut [u8], from: &[u8], to: &[u8]) {
    let mut i = 0;
    while i + from.len() <= hay.len() {
        if &hay[i..i + from.len()] == from {
            hay[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

/// The topic a capture subscribes to, and the bodies it expects to receive:
/// those are published first, as the capture's setup did.
fn setup(steps: &[Step]) -> Option<(String, Vec<Vec<u8>>)> {
    let topic = steps.iter().filter(|s| s.c2s).find_map(|s| {
        let line = String::from_utf8_lossy(&s.bytes).to_string();
        line.strip_prefix("SUB ")
            .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
    })?;
    let bodies: Vec<Vec<u8>> = steps
        .iter()
        .filter(|s| !s.c2s)
        .flat_map(|s| frames(&s.bytes))
        .filter_map(|f| match f {
            Frame::Message(m) => Some(m.body.to_vec()),
            _ => None,
        })
        .collect();
    (!bodies.is_empty()).then_some((topic, bodies))
}

#[test]
fn every_go_capture_replays_identically() {
    let nsqd = Nsqd::start(&[]);
    let mut failures = Vec::new();
    for (name, go_closed, steps) in captures() {
        if let Some((topic, bodies)) = setup(&steps) {
            let mut p = nsqd.client();
            for b in bodies {
                p.send_with(|w| encode::publish(w, &topic, &b));
                assert_eq!(p.response(), "OK");
            }
        }
        let mut c = common::Client::connect(nsqd.tcp());
        let mut ids: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut last_send = std::time::Instant::now();
        for step in &steps {
            if step.c2s {
                let mut bytes = step.bytes.clone();
                for (go, ours) in &ids {
                    replace(&mut bytes, go, ours);
                }
                c.send(&bytes);
                last_send = std::time::Instant::now();
                continue;
            }
            for want in frames(&step.bytes) {
                let got = match c.read(Duration::from_secs(3)) {
                    Got::Frame(f) => f,
                    other => {
                        failures.push(format!("{name}: expected {want:?}, got {other:?}"));
                        break;
                    }
                };
                match (&want, &got) {
                    (Frame::Message(w), Frame::Message(g)) => {
                        if (w.attempts, &w.body) != (g.attempts, &g.body) {
                            failures.push(format!("{name}: message {w:?} vs {g:?}"));
                        }
                        ids.push((w.id.0.to_vec(), g.id.0.to_vec()));
                    }
                    _ if want != got => {
                        failures.push(format!("{name}: expected {want:?}, got {got:?}"))
                    }
                    _ => {}
                }
            }
        }
        // The capture's verdict: one read of 1.5 s after the client's last write.
        let window = (last_send + Duration::from_millis(1500))
            .saturating_duration_since(std::time::Instant::now());
        let closed = c.closed_within(window.max(Duration::from_millis(300)));
        if closed != go_closed {
            failures.push(format!(
                "{name}: server closed = {closed}, Go closed = {go_closed}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
