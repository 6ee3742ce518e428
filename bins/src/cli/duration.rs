//! Go durations for flags and config files (the parser lives in core, where
//! client options need it too).

pub use nsq_core::duration::{format, parse};
