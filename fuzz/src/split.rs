//! Cutting a byte stream into the chunks a socket might deliver.
//!
//! Stream targets take their first input byte as the seed of the cuts, so
//! the fuzzer controls where a stream splits as well as what it holds.

/// A small deterministic generator (xorshift64*): the same seed, the same cuts.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The first byte (the seed of the cuts) and the stream after it.
pub fn seed_and_stream(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&s, rest)) => (s, rest),
        None => (0, &[]),
    }
}

/// Chunks of `stream`: mostly short, now and then empty or long, as `seed` says.
pub fn chunks(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut rng = Rng::new(u64::from(seed));
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let n = match rng.below(8) {
            0 => 0,
            1 => 1 + rng.below(512) as usize,
            _ => 1 + rng.below(9) as usize,
        };
        let end = (at + n).min(stream.len());
        out.push(&stream[at..end]);
        at = end;
    }
    out
}

/// One byte at a time.
pub fn bytewise(stream: &[u8]) -> Vec<&[u8]> {
    stream.chunks(1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_stream_in_order() {
        let s: Vec<u8> = (0..=255).cycle().take(3000).collect();
        for seed in 0..=255 {
            assert_eq!(chunks(&s, seed).concat(), s);
        }
        assert!(chunks(&[], 3).is_empty());
    }
}
