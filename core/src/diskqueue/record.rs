//! Segment records: a 4-byte big-endian length, then that many bytes (an
//! encoded message). Scanning finds where valid records end.

use bytes::{BufMut, BytesMut};

pub const HEADER: u64 = 4;

/// Appends one record.
pub fn put(out: &mut BytesMut, data: &[u8]) {
    out.put_u32(data.len() as u32);
    out.put_slice(data);
}

pub fn crc(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Why scanning stopped before the end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The last record is cut short (more bytes may follow on disk).
    Incomplete,
    /// A length outside [min, max]: garbage or a torn write.
    BadLength(u32),
    /// The record's checksum does not match.
    BadChecksum,
}

/// One record found in a buffer: its offset and payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub offset: usize,
    pub len: usize,
}

/// Walks `buf` record by record. `checksum(i, offset, payload)` may veto
/// the i-th record found (the caller knows which checksums exist).
pub fn scan(
    buf: &[u8],
    min: u32,
    max: u32,
    mut checksum: impl FnMut(usize, usize, &[u8]) -> bool,
) -> (Vec<Found>, usize, Option<Stop>) {
    let mut found = Vec::new();
    let mut at = 0usize;
    while at < buf.len() {
        if buf.len() - at < HEADER as usize {
            return (found, at, Some(Stop::Incomplete));
        }
        let len = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        if len < min || len > max {
            return (found, at, Some(Stop::BadLength(len)));
        }
        let end = at + HEADER as usize + len as usize;
        if end > buf.len() {
            return (found, at, Some(Stop::Incomplete));
        }
        if !checksum(found.len(), at, &buf[at + HEADER as usize..end]) {
            return (found, at, Some(Stop::BadChecksum));
        }
        found.push(Found {
            offset: at,
            len: len as usize,
        });
        at = end;
    }
    (found, at, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_first_bad_record() {
        let mut b = BytesMut::new();
        put(&mut b, &[1u8; 30]);
        put(&mut b, &[2u8; 40]);
        let good = b.len();
        b.put_u32(5); // too short to be a message
        b.put_slice(&[0; 5]);
        let (found, end, stop) = scan(&b, 26, 1000, |_, _, _| true);
        assert_eq!(found.len(), 2);
        assert_eq!(end, good);
        assert_eq!(stop, Some(Stop::BadLength(5)));
        let (found, end, stop) = scan(&b[..good - 3], 26, 1000, |_, _, _| true);
        assert_eq!((found.len(), end, stop), (1, 34, Some(Stop::Incomplete)));
        let (found, _, stop) = scan(&b[..good], 26, 1000, |i, _, _| i != 1);
        assert_eq!((found.len(), stop), (1, Some(Stop::BadChecksum)));
    }
}
