//! The diskqueue metadata file (`diskqueue::Meta`): what go-diskqueue's
//! `fmt.Fscanf("%d\n%d,%d\n%d,%d\n")` reads.
//!
//! Input: the file's bytes.
//! Checks: whatever parses encodes to text that parses to the same value;
//! the same input read as fields (depth, four positions) encodes and parses
//! back exactly (segment numbers up to `files::MAX_SEGMENT`).

use crate::cursor::Cursor;
use nsq_core::diskqueue::{files, Meta, Pos};

pub fn run(data: &[u8]) {
    if let Ok(m) = Meta::parse(data) {
        let text = m.encode();
        assert_eq!(
            Meta::parse(&text),
            Ok(m),
            "{:?}",
            String::from_utf8_lossy(&text)
        );
        assert_eq!(Meta::parse(&text).map(|m| m.encode()), Ok(text));
    }
    let mut c = Cursor::new(data);
    let m = Meta {
        depth: c.u64() as i64,
        read: Pos::new(c.u64(), c.u64()),
        write: Pos::new(c.u64(), c.u64()),
    };
    if m.read.file.max(m.write.file) <= files::MAX_SEGMENT {
        assert_eq!(Meta::parse(&m.encode()), Ok(m));
    } else {
        assert!(
            Meta::parse(&m.encode()).is_err(),
            "segment numbers are bounded"
        );
    }
}
