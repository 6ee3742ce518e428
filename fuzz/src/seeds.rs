//! The seed corpora, generated from the Go NSQ v1.3.0 captures in
//! `testdata/` (TCP transcripts, the Go data directory, the HTTP
//! samples) plus a few inputs written with core's own encoders.
//!
//! `cargo run --example gen_seeds` writes them to `fuzz/seeds/<target>/`;
//! the `seeds_are_current` test checks the files match this generator.

use crate::diskqueue_crash::{self, Crcs, MetaMode, Scenario, Segment, Tail};
use crate::diskqueue_files::{self, File};
use crate::dq;
use bytes::{Bytes, BytesMut};
use nsq_core::consumer::config::Config;
use nsq_core::consumer::handshake::identify_body;
use nsq_core::diskqueue::{record, DiskQueue};
use nsq_core::io::{Disk, MemDisk};
use nsq_core::wire::command::encode;
use nsq_core::wire::frame::{put_frame, put_message_frame};
use nsq_core::wire::{FrameType, Message, MessageId};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the fixtures are, from this crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// Where the seeds live.
pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

/// target → file name → contents.
pub type Seeds = BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>;

struct Capture {
    name: String,
    server: String,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("captures are hex"))
        .collect()
}

fn captures(fixtures: &Path) -> Vec<Capture> {
    let raw = std::fs::read(fixtures.join("tcp-samples/captures.json"))
        .expect("tcp-samples/captures.json is readable");
    let v: Value = serde_json::from_slice(&raw).expect("captures.json is JSON");
    let list = v["captures"].as_array().expect("a captures list");
    list.iter()
        .map(|c| {
            let mut cap = Capture {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                server: c["server"].as_str().unwrap_or_default().to_string(),
                c2s: Vec::new(),
                s2c: Vec::new(),
            };
            for e in c["exchange"].as_array().into_iter().flatten() {
                let bytes = unhex(e["hex"].as_str().unwrap_or_default());
                match e["dir"].as_str() {
                    Some("C2S") => cap.c2s.extend(bytes),
                    _ => cap.s2c.extend(bytes),
                }
            }
            cap
        })
        .collect()
}

/// The HTTP body of an http-samples file (after the first blank line).
fn http_body(fixtures: &Path, file: &str) -> Vec<u8> {
    let raw = std::fs::read(fixtures.join("http-samples").join(file))
        .unwrap_or_else(|e| panic!("http-samples/{file}: {e}"));
    match raw.windows(2).position(|w| w == b"\n\n") {
        Some(i) => raw[i + 2..].to_vec(),
        None => Vec::new(),
    }
}

fn prefixed(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    [prefix, body].concat()
}

/// The commands a client stream holds: each name with the body of the size
/// the client announced (for MPUB that is what the client meant as its
/// body, even where nsqd, as NSQ, reads the messages differently or refuses them).
fn commands(stream: &[u8]) -> Vec<(Vec<u8>, Bytes)> {
    let mut rest = stream;
    let mut out = Vec::new();
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        let name = line
            .split(|&b| b == b' ')
            .next()
            .unwrap_or_default()
            .to_vec();
        let mut body = Bytes::new();
        if matches!(
            &name[..],
            b"IDENTIFY" | b"AUTH" | b"PUB" | b"MPUB" | b"DPUB"
        ) {
            let Some(size) = rest.get(..4) else { break };
            let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
            let Some(b) = rest.get(4..4 + size) else {
                break;
            };
            body = Bytes::copy_from_slice(b);
            rest = &rest[4 + size..];
        }
        out.push((name, body));
    }
    out
}

/// The response payloads and message frames of a server stream.
fn frames(stream: &[u8]) -> Vec<(i32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while stream.len() >= at + 8 {
        let size = u32::from_be_bytes(stream[at..at + 4].try_into().expect("4 bytes")) as usize;
        if size < 4 || stream.len() < at + 4 + size {
            break;
        }
        let ty = i32::from_be_bytes(stream[at + 4..at + 8].try_into().expect("4 bytes"));
        out.push((ty, stream[at + 8..at + 4 + size].to_vec()));
        at += 4 + size;
    }
    out
}

/// Every command kind, written with core's encoders.
fn every_command() -> Vec<u8> {
    let id = MessageId::from_guid(0x18a3_7ba1_6e40_7000);
    let mut out = BytesMut::new();
    encode::identify(&mut out, br#"{"client_id":"c","feature_negotiation":true}"#);
    encode::auth(&mut out, b"secret");
    encode::sub(&mut out, "orders", "billing#ephemeral");
    encode::rdy(&mut out, 2500);
    encode::fin(&mut out, &id);
    encode::req(&mut out, &id, 3_600_001);
    encode::touch(&mut out, &id);
    encode::publish(&mut out, "orders", b"order-00");
    encode::dpub(&mut out, "orders", 1000, b"later");
    encode::mpub(&mut out, "orders", &[&b"a"[..], b"bc", b"def"]);
    encode::nop(&mut out);
    encode::cls(&mut out);
    out.to_vec()
}

fn nsqd_seeds(caps: &[Capture], seeds: &mut Seeds) {
    for (i, c) in caps.iter().filter(|c| c.server == "nsqd").enumerate() {
        // The connection takes the 4-byte magic before the parser sees anything.
        let stream = c.c2s.get(4..).unwrap_or_default();
        let seed = [i as u8, (i % 3) as u8];
        seeds
            .get_mut("command")
            .expect("target")
            .insert(c.name.clone(), prefixed(&seed, stream));
        seeds
            .get_mut("frame")
            .expect("target")
            .insert(c.name.clone(), prefixed(&[i as u8, 0], &c.s2c));
        for (j, (cmd, body)) in commands(stream).into_iter().enumerate() {
            let name = format!("{}_{j}", c.name);
            match &cmd[..] {
                b"IDENTIFY" => {
                    seeds
                        .get_mut("identify")
                        .expect("target")
                        .insert(name, body.to_vec());
                }
                b"MPUB" => {
                    seeds
                        .get_mut("mpub")
                        .expect("target")
                        .insert(name, prefixed(&[0], &body));
                }
                _ => {}
            }
        }
        for (j, (ty, data)) in frames(&c.s2c).into_iter().enumerate() {
            let name = format!("{}_{j}", c.name);
            match ty {
                2 => {
                    seeds.get_mut("message").expect("target").insert(name, data);
                }
                0 if data.first() == Some(&b'{') || data == b"OK" => {
                    seeds
                        .get_mut("identify_response")
                        .expect("target")
                        .insert(name, data);
                }
                _ => {}
            }
        }
    }
    let mut wire = BytesMut::new();
    encode::mpub(&mut wire, "t", &[&b"one"[..], b"two", b"three"]);
    let body = &wire[b"MPUB t\n".len() + 4..];
    seeds
        .get_mut("mpub")
        .expect("target")
        .insert("core_encoded".into(), prefixed(&[0], body));
    seeds
        .get_mut("mpub")
        .expect("target")
        .insert("core_encoded_small_limits".into(), prefixed(&[2], body));
    let all = every_command();
    seeds
        .get_mut("command")
        .expect("target")
        .insert("every_command".into(), prefixed(&[7, 0], &all));
    seeds
        .get_mut("command")
        .expect("target")
        .insert("every_command_small_limits".into(), prefixed(&[9, 1], &all));

    let mut cfg = Config::new("fuzz.example");
    cfg.user_agent = "nsq-fuzz/0.1".into();
    seeds
        .get_mut("identify")
        .expect("target")
        .insert("client_identify_body".into(), identify_body(&cfg));
    for (name, body) in [
        ("null", &b"null"[..]),
        (
            "case_and_dup",
            br#"{"CLIENT_ID":"a","client_id":"b","Hostname":null,"sample_rate":99}"#,
        ),
        ("wrong_type", br#"{"heartbeat_interval":"1000"}"#),
    ] {
        seeds
            .get_mut("identify")
            .expect("target")
            .insert(name.into(), body.to_vec());
    }

    let m = Message {
        id: MessageId::from_guid(7),
        timestamp: 1_700_000_000_000_000_000,
        attempts: 3,
        body: Bytes::from_static(b"encoded by core"),
        origin: 0,
    };
    seeds
        .get_mut("message")
        .expect("target")
        .insert("core_encoded".into(), m.encode());
    seeds
        .get_mut("message")
        .expect("target")
        .insert("one_byte_short".into(), m.encode()[..25].to_vec());
    let mut stream = Vec::new();
    put_frame(&mut stream, FrameType::Response, b"OK");
    put_message_frame(&mut stream, &m);
    put_frame(
        &mut stream,
        FrameType::Error,
        b"E_INVALID invalid command BOGUS",
    );
    seeds
        .get_mut("frame")
        .expect("target")
        .insert("core_encoded".into(), prefixed(&[3, 0], &stream));
    seeds.get_mut("identify_response").expect("target").insert(
        "auth_answer".into(),
        br#"{"identity":"me","identity_url":"https://auth.example/me","permission_count":2}"#
            .to_vec(),
    );
}

fn lookupd_seeds(caps: &[Capture], seeds: &mut Seeds) {
    for (i, c) in caps.iter().filter(|c| c.server == "nsqlookupd").enumerate() {
        seeds
            .get_mut("lookupd")
            .expect("target")
            .insert(c.name.clone(), prefixed(&[i as u8], &c.c2s));
        // IDENTIFY bodies: after `  V1IDENTIFY\n` and the size.
        let mut rest = &c.c2s[..];
        while let Some(at) = rest.windows(9).position(|w| w == b"IDENTIFY\n") {
            rest = &rest[at + 9..];
            if rest.len() >= 4 {
                let n = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                let body = &rest[4..(4 + n).min(rest.len())];
                seeds
                    .get_mut("lookupd_identify")
                    .expect("target")
                    .insert(format!("{}_{at}", c.name), body.to_vec());
            }
        }
    }
}

fn http_seeds(fixtures: &Path, seeds: &mut Seeds) {
    for file in [
        "lookupd_lookup_orders.txt",
        "lookupd_lookup_orders_after_tombstone.txt",
        "lookupd_lookup_missing.txt",
        "lookupd_topics.txt",
        "lookupd_channels_orders.txt",
    ] {
        let body = http_body(fixtures, file);
        let stem = file.trim_end_matches(".txt");
        let wrapped = format!(
            r#"{{"status_code":200,"status_txt":"OK","data":{}}}"#,
            String::from_utf8_lossy(&body)
        );
        let target = seeds.get_mut("lookup_response").expect("target");
        target.insert(format!("{stem}_v1"), prefixed(&[1], &body));
        target.insert(
            format!("{stem}_wrapped"),
            prefixed(&[0], wrapped.as_bytes()),
        );
    }
}

/// The files of one queue of the Go data directory, as a `diskqueue_files` input.
fn go_queue(dir: &Path, queue: &str, names: &[String]) -> Vec<u8> {
    let mut list = Vec::new();
    let mut budget = 4096usize;
    for name in names {
        let Some(rest) = name.strip_prefix(&format!("{queue}.diskqueue.")) else {
            continue;
        };
        let data = std::fs::read(dir.join(name)).expect("datadir files are readable");
        if rest == "meta.dat" {
            list.insert(0, File::Meta(data));
        } else if let Some(n) = rest.strip_suffix(".dat").and_then(|n| n.parse().ok()) {
            if data.len() <= budget {
                budget -= data.len();
                list.push(File::Segment(n, data));
            }
        }
    }
    // Go's queues (max-bytes-per-file 2048) as ours reads them: config byte 5 → 2048.
    diskqueue_files::encode(5, &list)
}

/// A queue we wrote, synced in part, then crashed with torn writes.
fn our_crashed_queue(seed: u64) -> Vec<u8> {
    let mut disk = MemDisk::new(seed);
    let mut q = DiskQueue::new_empty(dq::cfg(256, 3));
    let mut now = dq::T0;
    for i in 0..12u64 {
        let m = Message::new(
            MessageId::from_guid(i),
            now,
            format!("msg-{i:03}").into_bytes().into(),
        );
        q.put(&m).expect("a fresh queue takes writes");
        if i % 5 == 4 {
            now += nsq_core::io::SECOND;
            dq::drive(&mut q, &mut disk, now);
        }
    }
    // Unsynced writes reach the disk, then the power fails.
    if let Some(job) = q.poll_write(now) {
        nsq_core::diskqueue::execute(&job, &mut disk);
    }
    disk.power_fail(true);
    let mut list = Vec::new();
    for name in disk.list().expect("MemDisk lists") {
        let data = disk.contents(&name).unwrap_or_default().to_vec();
        let rest = name.trim_start_matches("t.diskqueue.");
        if rest == "meta.dat" {
            list.push(File::Meta(data));
        } else if let Some(n) = rest.strip_suffix(".dat").and_then(|n| n.parse().ok()) {
            list.push(File::Segment(n, data));
        } else if let Some(n) = rest.strip_suffix(".crc").and_then(|n| n.parse().ok()) {
            list.push(File::Checksums(n, data));
        }
    }
    diskqueue_files::encode(2, &list)
}

fn diskqueue_seeds(fixtures: &Path, seeds: &mut Seeds) {
    let dir = fixtures.join("go-datadir-v1.3.0");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("go-datadir-v1.3.0 is readable")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut queues: Vec<&str> = names
        .iter()
        .filter_map(|n| n.split_once(".diskqueue.").map(|(q, _)| q))
        .collect();
    queues.dedup();
    let mut bodies = Vec::new();
    for q in &queues {
        let file_name = q.replace(':', "_");
        let input = go_queue(&dir, q, &names);
        seeds
            .get_mut("diskqueue_files")
            .expect("target")
            .insert(format!("go_{file_name}"), input);
        let meta = std::fs::read(dir.join(format!("{q}.diskqueue.meta.dat"))).unwrap_or_default();
        seeds
            .get_mut("diskqueue_meta")
            .expect("target")
            .insert(format!("go_{file_name}"), meta);
        for n in names
            .iter()
            .filter(|n| n.starts_with(&format!("{q}.diskqueue.0")))
        {
            let data = std::fs::read(dir.join(n)).expect("datadir files are readable");
            let (found, _, _) = record::scan(&data, 26, 26 + dq::MAX_BODY, |_, _, _| true);
            for f in found.iter().take(3) {
                let msg = &data[f.offset + 4..f.offset + 4 + f.len];
                bodies.push(msg[26..].to_vec());
            }
        }
    }
    for seed in 1..=3 {
        seeds
            .get_mut("diskqueue_files")
            .expect("target")
            .insert(format!("ours_crashed_{seed}"), our_crashed_queue(seed));
    }
    seeds.get_mut("diskqueue_meta").expect("target").insert(
        "ours".into(),
        b"-3\n2,340\n18446744073709551615,0\n".to_vec(),
    );

    let nsqd_dat = std::fs::read(dir.join("nsqd.dat")).expect("nsqd.dat is readable");
    let target = seeds.get_mut("nsqd_metadata").expect("target");
    target.insert("go_nsqd_dat".into(), nsqd_dat);
    target.insert("go_file_names".into(), names.join("\n").into_bytes());
    target.insert(
        "empty".into(),
        br#"{"topics":null,"version":"1.3.0"}"#.to_vec(),
    );

    // Crash scenarios over real record bodies.
    let body = |i: usize| {
        bodies
            .get(i % bodies.len().max(1))
            .cloned()
            .unwrap_or_default()
    };
    let seg = |from: usize, n: usize, tail: Tail, crcs: Crcs| Segment {
        bodies: (from..from + n).map(|i| (1, body(i))).collect(),
        tail,
        crcs,
    };
    let scenarios = [
        (
            "clean_go_queue",
            Scenario {
                config: 5,
                checksums: false,
                meta: MetaMode::Current,
                first: 0,
                segments: vec![
                    seg(0, 3, Tail::None, Crcs::Full),
                    seg(3, 3, Tail::None, Crcs::Full),
                ],
                read_at: 1,
                write_at: 7,
                garbage_meta: vec![],
                crash_after: None,
            },
        ),
        (
            "go_queue_cut_record",
            Scenario {
                config: 5,
                checksums: false,
                meta: MetaMode::Current,
                first: 1,
                segments: vec![seg(0, 4, Tail::Cut(11), Crcs::Full)],
                read_at: 0,
                write_at: 2,
                garbage_meta: vec![],
                crash_after: Some(1),
            },
        ),
        (
            "ours_torn_garbage",
            Scenario {
                config: 3,
                checksums: true,
                meta: MetaMode::Current,
                first: 0,
                segments: vec![
                    seg(0, 3, Tail::None, Crcs::Full),
                    seg(
                        3,
                        2,
                        Tail::Garbage(vec![0, 0, 0, 40, 1, 2, 3]),
                        Crcs::Torn(vec![9]),
                    ),
                    seg(5, 2, Tail::None, Crcs::Full),
                ],
                read_at: 2,
                write_at: 4,
                garbage_meta: vec![],
                crash_after: Some(2),
            },
        ),
        (
            "ours_short_checksums",
            Scenario {
                config: 3,
                checksums: true,
                meta: MetaMode::WrongDepth(1000),
                first: 2,
                segments: vec![
                    seg(0, 5, Tail::None, Crcs::Short(2)),
                    seg(5, 2, Tail::None, Crcs::Missing),
                ],
                read_at: 0,
                write_at: 1,
                garbage_meta: vec![],
                crash_after: Some(0),
            },
        ),
        (
            "ours_no_meta",
            Scenario {
                config: 1,
                checksums: true,
                meta: MetaMode::Absent,
                first: 0,
                segments: vec![seg(0, 2, Tail::Cut(5), Crcs::Full)],
                read_at: 0,
                write_at: 0,
                garbage_meta: vec![],
                crash_after: None,
            },
        ),
        (
            "unreadable_meta",
            Scenario {
                config: 2,
                checksums: true,
                meta: MetaMode::Unreadable,
                first: 0,
                segments: vec![
                    seg(0, 3, Tail::None, Crcs::Full),
                    seg(3, 1, Tail::Garbage(vec![0xff; 9]), Crcs::Full),
                ],
                read_at: 0,
                write_at: 0,
                garbage_meta: b"12\nnot,a\nmeta\n".to_vec(),
                crash_after: Some(2),
            },
        ),
    ];
    for (name, s) in scenarios {
        seeds
            .get_mut("diskqueue_crash")
            .expect("target")
            .insert(name.into(), diskqueue_crash::encode(&s));
    }
}

/// `/mpub` bodies: those the HTTP samples were captured with, the TCP
/// captures' MPUB bodies in binary mode, and the `defer` value refused there.
fn http_mpub_seeds(caps: &[Capture], seeds: &mut Seeds) {
    let target = seeds.get_mut("http_mpub").expect("target");
    target.insert(
        "text_one_two_three".into(),
        prefixed(&[0, 0], b"one\ntwo\nthree"),
    );
    target.insert("binary_too_short".into(), prefixed(&[1, 1], &[0, 0]));
    target.insert(
        "invalid_defer".into(),
        prefixed(&[2, 0], b"99999999999\nhello"),
    );
    let orders: Vec<String> = (0..20).map(|i| format!("order-{i:02}")).collect();
    target.insert(
        "text_orders".into(),
        prefixed(&[3, 2], orders.join("\n").as_bytes()),
    );
    for c in caps.iter().filter(|c| c.server == "nsqd") {
        for (j, (cmd, body)) in commands(c.c2s.get(4..).unwrap_or_default())
            .into_iter()
            .enumerate()
        {
            if cmd == b"MPUB" {
                target.insert(
                    format!("binary_{}_{j}", c.name),
                    prefixed(&[j as u8, 1], &body),
                );
            }
        }
    }
}

/// Compressed streams: the captured nsqd conversations, as messages to
/// round-trip and as compressed bytes to decode.
fn compression_seeds(caps: &[Capture], seeds: &mut Seeds) {
    use nsq_runtime_tokio::stream::{Codec, Deflate, Snappy};
    let target = seeds.get_mut("compression").expect("target");
    for (i, c) in caps
        .iter()
        .filter(|c| c.server == "nsqd")
        .take(6)
        .enumerate()
    {
        for (kind, name) in [(0u8, "snappy"), (13, "deflate6")] {
            let stream = [&c.c2s[..], &c.s2c[..]].concat();
            target.insert(
                format!("{name}_round_trip_{}", c.name),
                prefixed(&[kind, i as u8, 1], &stream),
            );
            let mut codec: Box<dyn Codec> = if kind & 1 == 1 {
                Box::new(Deflate::new(6))
            } else {
                Box::new(Snappy::new())
            };
            let mut wire = BytesMut::new();
            codec
                .encode(&stream, &mut wire)
                .expect("encoding never fails");
            codec.flush(&mut wire).expect("flushing never fails");
            target.insert(
                format!("{name}_wire_{}", c.name),
                prefixed(&[kind, i as u8, 0], &wire),
            );
        }
    }
}

/// Every seed, by target.
pub fn generate(fixtures: &Path) -> Seeds {
    let mut seeds: Seeds = crate::TARGETS
        .iter()
        .map(|(t, _)| (*t, BTreeMap::new()))
        .collect();
    let caps = captures(fixtures);
    nsqd_seeds(&caps, &mut seeds);
    lookupd_seeds(&caps, &mut seeds);
    http_seeds(fixtures, &mut seeds);
    http_mpub_seeds(&caps, &mut seeds);
    compression_seeds(&caps, &mut seeds);
    diskqueue_seeds(fixtures, &mut seeds);
    seeds
}

/// Writes the seeds under `dir/<target>/`, replacing what was there.
pub fn write(seeds: &Seeds, dir: &Path) -> std::io::Result<()> {
    for (target, files) in seeds {
        let d = dir.join(target);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
        for (name, data) in files {
            std::fs::write(d.join(name), data)?;
        }
    }
    Ok(())
}

/// The seeds on disk, by target (for the replay test).
pub fn read(dir: &Path) -> std::io::Result<BTreeMap<String, BTreeMap<String, Vec<u8>>>> {
    let mut out = BTreeMap::new();
    for (target, _) in crate::TARGETS {
        let mut files = BTreeMap::new();
        let d = dir.join(target);
        if d.exists() {
            for e in std::fs::read_dir(&d)? {
                let e = e?;
                files.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path())?,
                );
            }
        }
        out.insert(target.to_string(), files);
    }
    Ok(out)
}
