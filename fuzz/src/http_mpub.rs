//! nsqd's HTTP `/mpub` bodies (`api::publish::{BinaryMpub, TextMpub}`),
//! fed as the server feeds them (the body so far after each chunk, stopping
//! once the parser needs no more), and `/pub?defer=` values (`parse_defer`).
//!
//! Input: `[cut seed][mode: bit 0 binary, the rest picks the limits][body]`;
//! the body's first line also serves as a `defer` value.
//! Checks: one-shot, byte-by-byte and chunked delivery give the same
//! messages or the same refusal; binary bodies agree with the TCP MPUB
//! parser (`split_mpub`) on the messages; text bodies are their non-empty
//! lines; a defer accepted is a whole number of milliseconds in range.

use crate::command::limits;
use crate::split;
use nsq_core::api::publish::{self, BinaryMpub, BodyLimits, MpubParser, TextMpub};
use nsq_core::api::ApiError;
use nsq_core::io::MS;
use nsq_core::wire::command::split_mpub;

/// The messages a body delivered in `chunks` yields, as the server reads it.
pub fn read(chunks: &[&[u8]], binary: bool, limits: BodyLimits) -> Result<Vec<Vec<u8>>, ApiError> {
    if binary {
        read_with(chunks, BinaryMpub::new(limits))
    } else {
        read_with(chunks, TextMpub::new(limits))
    }
}

fn read_with(chunks: &[&[u8]], mut p: impl MpubParser) -> Result<Vec<Vec<u8>>, ApiError> {
    let mut body = Vec::new();
    for c in chunks {
        body.extend_from_slice(c);
        p.feed(&body)?;
        if p.done() {
            break;
        }
    }
    let spans = p.finish(&body)?;
    Ok(spans
        .into_iter()
        .map(|(s, e)| body[s..e].to_vec())
        .collect())
}

fn check_defer(raw: &[u8]) {
    let Ok(v) = std::str::from_utf8(raw) else {
        return;
    };
    let max = 3_600_000 * MS;
    if let Ok(d) = publish::parse_defer(v, max) {
        assert!((0..=max).contains(&d) && d % MS == 0, "{v:?} → {d}");
        assert_eq!(v.parse::<i64>().ok().map(|ms| ms * MS), Some(d));
    }
}

pub fn run(data: &[u8]) {
    let (seed, rest) = split::seed_and_stream(data);
    let (mode, body) = split::seed_and_stream(rest);
    let binary = mode & 1 == 1;
    let tcp = limits(mode >> 1);
    let lim = BodyLimits::new(tcp.max_msg_size, tcp.max_body_size);

    let whole = read(&[body], binary, lim);
    assert_eq!(
        read(&split::chunks(body, seed), binary, lim),
        whole,
        "chunked"
    );
    assert_eq!(read(&split::bytewise(body), binary, lim), whole, "bytewise");
    check_defer(body.split(|&b| b == b'\n').next().unwrap_or_default());

    if binary {
        if let Ok(msgs) = &whole {
            // The messages tile a prefix of the body exactly, as TCP's MPUB reads it.
            let used = 4 + msgs.iter().map(|m| 4 + m.len()).sum::<usize>();
            let spans = split_mpub(&body[..used], &tcp).expect("TCP takes what HTTP took");
            let tcp_msgs: Vec<&[u8]> = spans.iter().map(|&(s, e)| &body[s..e]).collect();
            assert_eq!(tcp_msgs, msgs.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
        if let Ok(spans) = split_mpub(body, &tcp) {
            if body.len() as u64 <= lim.max_body_size {
                let tcp_msgs: Vec<Vec<u8>> =
                    spans.iter().map(|&(s, e)| body[s..e].to_vec()).collect();
                assert_eq!(whole, Ok(tcp_msgs), "HTTP refuses what TCP takes");
            }
        }
    } else {
        let lines: Vec<&[u8]> = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let fits = body.len() as u64 <= lim.max_body_size
            && lines.iter().all(|l| l.len() as u64 <= lim.max_msg_size);
        match &whole {
            Ok(msgs) => {
                assert!(fits, "took a body beyond the limits");
                assert_eq!(msgs.iter().map(Vec::as_slice).collect::<Vec<_>>(), lines);
            }
            Err(e) => {
                assert!(!fits, "refused a body within the limits: {e:?}");
                assert!(
                    e.message == "MSG_TOO_BIG" || e.message == "BODY_TOO_BIG",
                    "{e:?}"
                );
            }
        }
    }
}
