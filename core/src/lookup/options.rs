//! nsqlookupd's options with NSQ v1.3.0's defaults (the flag layer in
//! `bins` maps flags and config files onto this).

use super::db::Activity;
use crate::io::nanos;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupdOptions {
    pub tcp_address: String,
    pub http_address: String,
    /// The address nsqd nodes are told (NSQ's default: the host name).
    pub broadcast_address: String,
    /// How long a producer stays listed after its last PING.
    pub inactive_producer_timeout: Duration,
    /// How long a tombstoned producer stays hidden from `/lookup`.
    pub tombstone_lifetime: Duration,
    /// Not a flag: this machine's host name, reported in IDENTIFY answers.
    pub hostname: String,
}

impl Default for LookupdOptions {
    fn default() -> Self {
        LookupdOptions {
            tcp_address: "0.0.0.0:4160".into(),
            http_address: "0.0.0.0:4161".into(),
            broadcast_address: String::new(),
            inactive_producer_timeout: Duration::from_secs(300),
            tombstone_lifetime: Duration::from_secs(45),
            hostname: String::new(),
        }
    }
}

impl LookupdOptions {
    pub fn activity(&self) -> Activity {
        Activity {
            inactive_producer_timeout: nanos(self.inactive_producer_timeout),
            tombstone_lifetime: nanos(self.tombstone_lifetime),
        }
    }
}
