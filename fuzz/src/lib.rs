//! The bodies of the fuzz targets: one module per parser of untrusted bytes.
//!
//! Each body takes the raw fuzz input, runs the same nsq-core parser the
//! servers and clients use, and asserts more than "no panic" where it can:
//! round trips through core's encoders, split-anywhere parses equal to the
//! one-shot parse, recovery returning only what was written. The targets in
//! `fuzz_targets/` are one line each; `tests/seeds.rs` runs the same bodies
//! over the seed corpora (and seeded mutations of them) as ordinary tests.

pub mod command;
pub mod compression;
pub mod cursor;
pub mod diskqueue_crash;
pub mod diskqueue_files;
pub mod diskqueue_meta;
pub mod dq;
pub mod frame;
pub mod http_mpub;
pub mod identify;
pub mod identify_response;
pub mod jsonmodel;
pub mod lookup_response;
pub mod lookupd;
pub mod lookupd_identify;
pub mod message;
pub mod mpub;
pub mod nsqd_metadata;
pub mod seeds;
pub mod split;

/// A target's body: takes the raw fuzz input, panics on a broken property.
pub type Body = fn(&[u8]);

/// Every target: its name (as in `fuzz_targets/` and `seeds/`) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("command", command::run),
    ("identify", identify::run),
    ("mpub", mpub::run),
    ("message", message::run),
    ("frame", frame::run),
    ("lookupd", lookupd::run),
    ("lookupd_identify", lookupd_identify::run),
    ("diskqueue_files", diskqueue_files::run),
    ("diskqueue_crash", diskqueue_crash::run),
    ("diskqueue_meta", diskqueue_meta::run),
    ("nsqd_metadata", nsqd_metadata::run),
    ("lookup_response", lookup_response::run),
    ("identify_response", identify_response::run),
    ("http_mpub", http_mpub::run),
    ("compression", compression::run),
];
