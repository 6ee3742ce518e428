//! The fuzz targets' bodies as ordinary tests: every seed and every
//! regression input of every target, then seeded mutations of them (a
//! small, deterministic fuzzer), so CI checks the properties without
//! libFuzzer. `NSQ_FUZZ_MUTATIONS` sets the mutations per input (default 64).

use nsq_fuzz::split::Rng;
use nsq_fuzz::{seeds, TARGETS};
use std::collections::BTreeMap;
use std::path::Path;

fn inputs(dir: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    seeds::read(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// One random edit of `input`, drawing material from `other` too.
fn mutate(input: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = if v.is_empty() {
            0
        } else {
            rng.below(v.len() as u64) as usize
        };
        match rng.below(7) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[at] = rng.next_u64() as u8,
            2 => v.insert(at, rng.next_u64() as u8),
            3 if !v.is_empty() => {
                let n = 1 + rng.below(16.min(v.len() as u64 - at as u64).max(1)) as usize;
                v.drain(at..(at + n).min(v.len()));
            }
            4 => v.truncate(at),
            5 if !other.is_empty() => {
                let from = rng.below(other.len() as u64) as usize;
                let n = 1 + rng.below(32) as usize;
                let piece = &other[from..(from + n).min(other.len())];
                v.splice(at..at, piece.iter().copied());
            }
            _ if !v.is_empty() => {
                // interesting values where size fields live
                let b: [u8; 4] = match rng.below(4) {
                    0 => [0, 0, 0, 0],
                    1 => [0xff, 0xff, 0xff, 0xff],
                    2 => [0x7f, 0xff, 0xff, 0xff],
                    _ => [0, 0, 0, 26],
                };
                for (i, x) in b.iter().enumerate() {
                    if let Some(y) = v.get_mut(at + i) {
                        *y = *x;
                    }
                }
            }
            _ => {}
        }
    }
    v
}

fn run_all(dir: &Path, min_per_target: usize) {
    let all = inputs(dir);
    let mutations: u64 = std::env::var("NSQ_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    for (target, body) in TARGETS {
        let files = &all[*target];
        assert!(
            files.len() >= min_per_target,
            "{}/{target} has {} inputs",
            dir.display(),
            files.len()
        );
        let list: Vec<(&String, &Vec<u8>)> = files.iter().collect();
        for (i, (name, data)) in list.iter().enumerate() {
            let run = |input: &[u8], what: &str| {
                if std::panic::catch_unwind(|| body(input)).is_err() {
                    let file = std::env::temp_dir().join(format!("nsq-fuzz-failure-{target}"));
                    let saved = std::fs::write(&file, input).is_ok();
                    panic!(
                        "{target}: {what} of {name} fails (the first panic above); input {}{}",
                        if saved {
                            "saved to "
                        } else {
                            "could not be saved to "
                        },
                        file.display()
                    );
                }
            };
            run(data, "the input");
            let mut rng = Rng::new(i as u64 + 1);
            let other = list[(i + 1) % list.len()].1;
            for k in 0..mutations {
                let m = mutate(data, other, &mut rng);
                run(&m, &format!("mutation {k}"));
            }
        }
    }
}

#[test]
fn seeds_hold_every_property() {
    run_all(&seeds::seeds_dir(), 3);
}

#[test]
fn regressions_hold_every_property() {
    run_all(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions"),
        0,
    );
}

#[test]
fn seeds_are_current() {
    let fresh = seeds::generate(&seeds::fixtures());
    let on_disk = inputs(&seeds::seeds_dir());
    for (target, files) in &fresh {
        let have = &on_disk[*target];
        assert_eq!(
            have.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "seeds/{target}: run `cargo run --example gen_seeds`"
        );
        for (name, data) in files {
            assert!(
                &have[name] == data,
                "seeds/{target}/{name} is stale: run `cargo run --example gen_seeds`"
            );
        }
    }
}
