//! NSQ's message ids: 64-bit GUIDs `[41 bits time][10 bits node][12 bits
//! sequence]`, sent as 16 lowercase hex characters.
//!
//! Time is NSQ's pseudo-millisecond (`unix_nanos >> 20`). Where Go sleeps
//! and retries (clock went backwards, 4096 ids in one pseudo-ms), we never
//! wait: time is held at its last value and an exhausted sequence borrows
//! the next pseudo-ms, so ids stay unique and increasing.

use crate::io::Nanos;
use crate::wire::MessageId;

const NODE_ID_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;
const TIMESTAMP_SHIFT: u32 = NODE_ID_BITS + SEQUENCE_BITS;
const SEQUENCE_MASK: i64 = (1 << SEQUENCE_BITS) - 1;
/// (2012-10-28 16:23:42 UTC).UnixNano() >> 20, NSQ's epoch.
const TWEPOCH: i64 = 1_288_834_974_288;

#[derive(Debug, Clone)]
pub struct GuidFactory {
    node_id: i64,
    sequence: i64,
    last_ts: i64,
}

impl GuidFactory {
    pub fn new(node_id: i64) -> Self {
        GuidFactory {
            node_id: node_id & ((1 << NODE_ID_BITS) - 1),
            sequence: 0,
            last_ts: i64::MIN,
        }
    }

    /// The next id at time `now`.
    pub fn next_guid(&mut self, now: Nanos) -> u64 {
        let mut ts = now >> 20;
        if ts < self.last_ts {
            ts = self.last_ts;
        }
        if ts == self.last_ts {
            self.sequence = (self.sequence + 1) & SEQUENCE_MASK;
            if self.sequence == 0 {
                ts += 1;
            }
        } else {
            self.sequence = 0;
        }
        self.last_ts = ts;
        (((ts - TWEPOCH) << TIMESTAMP_SHIFT) | (self.node_id << SEQUENCE_BITS) | self.sequence)
            as u64
    }

    pub fn next_id(&mut self, now: Nanos) -> MessageId {
        MessageId::from_guid(self.next_guid(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn encodes_node_id_like_nsq() {
        // Go nsqd --node-id=7 gave ids ending in 7xxx (tcp-samples/README).
        let mut f = GuidFactory::new(7);
        let id = f.next_id(1_795_291_074_845_046_619).to_string();
        assert_eq!(id.len(), 16);
        assert_eq!(&id[13..], "000");
        assert_eq!(&id[12..13], "7");
        assert_eq!(&id[..3], "18a");
    }

    #[test]
    fn sequence_exhaustion_borrows_the_next_tick() {
        let mut f = GuidFactory::new(1);
        let now = 1_700_000_000_000_000_000;
        let ids: Vec<u64> = (0..10_000).map(|_| f.next_guid(now)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    quickcheck! {
        fn ids_strictly_increase_whatever_the_clock(steps: Vec<i32>) -> bool {
            let mut f = GuidFactory::new(3);
            let mut now: i64 = 1_600_000_000_000_000_000;
            let mut last = 0u64;
            for s in steps {
                now += i64::from(s) * 1000; // the clock may go backwards
                let id = f.next_guid(now);
                if id <= last { return false; }
                last = id;
            }
            true
        }
    }
}
