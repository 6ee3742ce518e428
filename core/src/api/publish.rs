//! `/pub` and `/mpub`: NSQ's checks in NSQ's order, and body parsers that
//! are fed the body as it arrives, so a bad or oversized body is refused
//! as soon as that is known instead of after reading all of it.

use super::ApiError;
use crate::io::{Nanos, MS};

pub const MSG_TOO_BIG: ApiError = ApiError::new(413, "MSG_TOO_BIG");
pub const BODY_TOO_BIG: ApiError = ApiError::new(413, "BODY_TOO_BIG");
pub const MSG_EMPTY: ApiError = ApiError::new(400, "MSG_EMPTY");
pub const INVALID_DEFER: ApiError = ApiError::new(400, "INVALID_DEFER");
pub const MISSING_ARG_TOPIC: ApiError = ApiError::new(400, "MISSING_ARG_TOPIC");
pub const INVALID_TOPIC: ApiError = ApiError::new(400, "INVALID_TOPIC");
const BAD_BODY: ApiError = ApiError::new(413, "BAD_BODY");
const BAD_MESSAGE: ApiError = ApiError::new(413, "BAD_MESSAGE");

/// The size limits that apply (`--max-msg-size`, `--max-body-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    pub max_msg_size: u64,
    pub max_body_size: u64,
}

impl BodyLimits {
    pub fn new(max_msg_size: i64, max_body_size: i64) -> Self {
        BodyLimits {
            max_msg_size: max_msg_size.max(0) as u64,
            max_body_size: max_body_size.max(0) as u64,
        }
    }
}

/// The topic a publish names (`getTopicFromQuery`): the first `topic` value.
pub fn check_topic(topic: Option<&str>) -> Result<&str, ApiError> {
    let t = topic.ok_or(MISSING_ARG_TOPIC)?;
    if !crate::wire::names::is_valid_topic_name(t) {
        return Err(INVALID_TOPIC);
    }
    Ok(t)
}

/// `/pub?defer=ms`: a delay between 0 and `--max-req-timeout`.
pub fn parse_defer(v: &str, max_req_timeout: Nanos) -> Result<Nanos, ApiError> {
    let ms: i64 = v.parse().map_err(|_| INVALID_DEFER)?;
    let d = ms.checked_mul(MS).ok_or(INVALID_DEFER)?;
    if d < 0 || d > max_req_timeout {
        return Err(INVALID_DEFER);
    }
    Ok(d)
}

/// The checks on a `/pub` body: a declared length beyond the limit is
/// refused before reading; the body read so far may not pass it either.
pub fn check_pub_len(len: u64, limits: &BodyLimits) -> Result<(), ApiError> {
    if len > limits.max_msg_size {
        Err(MSG_TOO_BIG)
    } else {
        Ok(())
    }
}

/// The checks on a complete `/pub` body.
pub fn check_pub_body(body: &[u8], limits: &BodyLimits) -> Result<(), ApiError> {
    check_pub_len(body.len() as u64, limits)?;
    if body.is_empty() {
        return Err(MSG_EMPTY);
    }
    Ok(())
}

/// A declared `/mpub` body length beyond `--max-body-size`.
pub fn check_mpub_len(len: u64, limits: &BodyLimits) -> Result<(), ApiError> {
    if len > limits.max_body_size {
        Err(BODY_TOO_BIG)
    } else {
        Ok(())
    }
}

/// `/mpub` reads the body one way or the other (`binary=` any value other
/// than `false`/`0` means binary, as in NSQ).
pub fn binary_mode(param: Option<&str>) -> bool {
    param.is_some_and(|v| super::bool_param(v).unwrap_or(true))
}

/// A `/mpub` body parser. Feed it the body so far after each chunk; it
/// reports an error as soon as one is certain, and `done` once the rest of
/// the body cannot matter.
pub trait MpubParser {
    /// `body` is everything received so far.
    fn feed(&mut self, body: &[u8]) -> Result<(), ApiError>;
    /// Whether the parser needs no more bytes.
    fn done(&self) -> bool;
    /// The body ended: the messages as (start, end) spans of `body`.
    fn finish(self, body: &[u8]) -> Result<Vec<(usize, usize)>, ApiError>;
}

/// Text mode: one message per line, empty lines skipped, NSQ's limits
/// (a body longer than `--max-body-size` is `BODY_TOO_BIG` unless a
/// too-long line ended before that point, which is `MSG_TOO_BIG`).
#[derive(Debug)]
pub struct TextMpub {
    limits: BodyLimits,
    scanned: usize,
    line_start: usize,
    spans: Vec<(usize, usize)>,
}

impl TextMpub {
    pub fn new(limits: BodyLimits) -> Self {
        TextMpub {
            limits,
            scanned: 0,
            line_start: 0,
            spans: Vec::new(),
        }
    }

    fn line(&mut self, start: usize, end: usize) -> Result<(), ApiError> {
        let len = (end - start) as u64;
        if len > self.limits.max_msg_size {
            return Err(MSG_TOO_BIG);
        }
        if len > 0 {
            self.spans.push((start, end));
        }
        Ok(())
    }

    fn over_limit(&self, bytes: usize) -> bool {
        bytes as u64 > self.limits.max_body_size
    }
}

impl MpubParser for TextMpub {
    fn feed(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let from = self.scanned.min(body.len());
        for i in memchr::memchr_iter(b'\n', &body[from..]).map(|i| i + from) {
            // NSQ reads at most max_body_size + 1 bytes.
            if self.over_limit(i + 1) {
                return Err(BODY_TOO_BIG);
            }
            self.line(self.line_start, i)?;
            self.line_start = i + 1;
        }
        self.scanned = body.len();
        if self.over_limit(body.len()) {
            return Err(BODY_TOO_BIG);
        }
        Ok(())
    }

    fn done(&self) -> bool {
        false
    }

    fn finish(mut self, body: &[u8]) -> Result<Vec<(usize, usize)>, ApiError> {
        self.feed(body)?;
        if self.line_start < body.len() {
            self.line(self.line_start, body.len())?;
        }
        Ok(self.spans)
    }
}

/// Binary mode: `[count][size][body][size][body]...` with NSQ's checks
/// and codes (its `E_` codes without the prefix, all 413). What follows the
/// last message is ignored, as NSQ does.
#[derive(Debug)]
pub struct BinaryMpub {
    limits: BodyLimits,
    pos: usize,
    count: Option<usize>,
    spans: Vec<(usize, usize)>,
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    let raw: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(i32::from_be_bytes(raw))
}

impl BinaryMpub {
    pub fn new(limits: BodyLimits) -> Self {
        BinaryMpub {
            limits,
            pos: 0,
            count: None,
            spans: Vec::new(),
        }
    }
}

impl MpubParser for BinaryMpub {
    fn feed(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let count = match self.count {
            Some(c) => c,
            None => {
                let Some(n) = be_i32(body, 0) else {
                    return Ok(());
                };
                let max = (self.limits.max_body_size.saturating_sub(4) / 5) as i64;
                if n <= 0 || i64::from(n) > max {
                    return Err(BAD_BODY);
                }
                self.pos = 4;
                self.count = Some(n as usize);
                n as usize
            }
        };
        while self.spans.len() < count {
            let Some(size) = be_i32(body, self.pos) else {
                break;
            };
            if size <= 0 || size as u64 > self.limits.max_msg_size {
                return Err(BAD_MESSAGE);
            }
            let start = self.pos + 4;
            let end = start + size as usize;
            if end > body.len() {
                break;
            }
            self.spans.push((start, end));
            self.pos = end;
        }
        if !self.done() && body.len() as u64 > self.limits.max_body_size {
            return Err(BODY_TOO_BIG);
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.count.is_some_and(|c| self.spans.len() == c)
    }

    fn finish(mut self, body: &[u8]) -> Result<Vec<(usize, usize)>, ApiError> {
        self.feed(body)?;
        match self.count {
            None => Err(BAD_BODY),
            Some(_) if !self.done() => Err(BAD_MESSAGE),
            Some(_) => Ok(self.spans),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: BodyLimits = BodyLimits {
        max_msg_size: 5,
        max_body_size: 20,
    };

    fn text(body: &[u8], chunk: usize) -> Result<Vec<&[u8]>, ApiError> {
        let mut p = TextMpub::new(L);
        let mut end = 0;
        while end < body.len() {
            end = (end + chunk).min(body.len());
            p.feed(&body[..end])?;
        }
        Ok(p.finish(body)?
            .into_iter()
            .map(|(s, e)| &body[s..e])
            .collect())
    }

    fn binary(body: &[u8]) -> Result<Vec<&[u8]>, ApiError> {
        let mut p = BinaryMpub::new(L);
        for end in 1..=body.len() {
            p.feed(&body[..end])?;
            if p.done() {
                break;
            }
        }
        Ok(p.finish(body)?
            .into_iter()
            .map(|(s, e)| &body[s..e])
            .collect())
    }

    fn frame(msgs: &[&[u8]]) -> Vec<u8> {
        let mut b = (msgs.len() as i32).to_be_bytes().to_vec();
        for m in msgs {
            b.extend((m.len() as i32).to_be_bytes());
            b.extend_from_slice(m);
        }
        b
    }

    #[test]
    fn text_lines_as_nsq_splits_them() {
        for chunk in [1, 3, 100] {
            assert_eq!(
                text(b"one\ntwo\n\nthree", chunk).unwrap(),
                vec![&b"one"[..], b"two", b"three"]
            );
            assert_eq!(text(b"a\r\n", chunk).unwrap(), vec![&b"a\r"[..]]);
            assert_eq!(text(b"", chunk).unwrap(), Vec::<&[u8]>::new());
            assert_eq!(text(b"toolong\nx", chunk), Err(MSG_TOO_BIG));
            assert_eq!(text(b"x\ntoolong", chunk), Err(MSG_TOO_BIG));
            // 21 bytes: past the body limit before the long line ends.
            assert_eq!(text(b"aaaa\nbbbb\ncccc\ndddddd", chunk), Err(BODY_TOO_BIG));
            assert_eq!(text(b"aaaa\nbbbb\ncccc\nddddd\n", chunk), Err(BODY_TOO_BIG));
            assert_eq!(text(b"aaaa\nbbbb\ncccc\ndddd\n", chunk).unwrap().len(), 4);
        }
    }

    #[test]
    fn text_refuses_an_oversized_body_while_it_streams() {
        let mut p = TextMpub::new(L);
        assert_eq!(p.feed(&[b'a'; 21]), Err(BODY_TOO_BIG));
    }

    #[test]
    fn binary_frames_with_nsqs_codes() {
        assert_eq!(
            binary(&frame(&[b"ab", b"cde"])).unwrap(),
            vec![&b"ab"[..], b"cde"]
        );
        let mut trailing = frame(&[b"ab"]);
        trailing.extend(b"junk");
        assert_eq!(binary(&trailing).unwrap(), vec![&b"ab"[..]]);
        assert_eq!(binary(&[0, 0]), Err(BAD_BODY));
        assert_eq!(binary(&0i32.to_be_bytes()), Err(BAD_BODY));
        assert_eq!(
            binary(&4i32.to_be_bytes()),
            Err(BAD_BODY),
            "max (20-4)/5 = 3"
        );
        assert_eq!(binary(&[0, 0, 0, 1, 0, 0]), Err(BAD_MESSAGE));
        assert_eq!(binary(&[0, 0, 0, 1, 0, 0, 0, 0]), Err(BAD_MESSAGE));
        assert_eq!(binary(&[0, 0, 0, 1, 0, 0, 0, 6]), Err(BAD_MESSAGE));
        assert_eq!(binary(&[0, 0, 0, 1, 0, 0, 0, 3, b'a']), Err(BAD_MESSAGE));
    }

    #[test]
    fn binary_stops_at_the_first_certain_error() {
        let mut p = BinaryMpub::new(L);
        assert_eq!(p.feed(&[0, 0, 0, 2, 0, 0, 0, 9]), Err(BAD_MESSAGE));
        let mut p = BinaryMpub::new(L);
        let body = [
            0, 0, 0, 3, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, 5, 1, 2, 3, 4,
        ];
        assert_eq!(p.feed(&body), Err(BODY_TOO_BIG));
    }

    #[test]
    fn defer_within_max_req_timeout() {
        let max = 3_600_000 * MS;
        assert_eq!(parse_defer("0", max), Ok(0));
        assert_eq!(parse_defer("+5", max), Ok(5 * MS));
        assert_eq!(parse_defer("3600000", max), Ok(max));
        for bad in [
            "",
            "x",
            "-1",
            "3600001",
            "99999999999",
            "18446744073710",
            "1.5",
        ] {
            assert_eq!(parse_defer(bad, max), Err(INVALID_DEFER), "{bad:?}");
        }
    }

    #[test]
    fn pub_checks_in_nsqs_order() {
        let l = BodyLimits::new(4, 10);
        assert_eq!(check_pub_body(b"", &l), Err(MSG_EMPTY));
        assert_eq!(check_pub_body(b"12345", &l), Err(MSG_TOO_BIG));
        assert_eq!(check_pub_body(b"1234", &l), Ok(()));
        assert_eq!(check_topic(None), Err(MISSING_ARG_TOPIC));
        assert_eq!(check_topic(Some("bad!topic")), Err(INVALID_TOPIC));
        assert_eq!(check_topic(Some("ok#ephemeral")), Ok("ok#ephemeral"));
        assert!(binary_mode(Some("yes")) && binary_mode(Some("1")));
        assert!(!binary_mode(Some("false")) && !binary_mode(None));
    }
}
