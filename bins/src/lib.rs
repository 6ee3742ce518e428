//! What the binaries share: NSQ-style flag handling (single or double dash,
//! Go durations, `--config` TOML files where flags win) and logging.

pub mod bench;
pub mod cli;
pub mod http1;
pub mod tools;
