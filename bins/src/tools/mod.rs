//! What NSQ's utilities (nsq_tail, to_nsq, nsq_to_file, nsq_to_http,
//! nsq_to_nsq, nsq_stat) share, and the parts of their behaviour that are
//! worth testing without a network: status lines, host pools, file naming
//! and rotation, JSON filtering, the stats table.

pub mod common;
pub mod file_logger;
pub mod hostpool;
pub mod json_filter;
pub mod stat;
pub mod strftime;
pub mod timer_metrics;
