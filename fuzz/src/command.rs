//! Protocol V2 commands as nsqd reads them: `CommandParser` with
//! `StatelessRules`, then `Command::from_raw`.
//!
//! Input: `[cut seed][limits selector][client byte stream]`.
//! Checks: the stream framed one-shot, byte by byte and in seeded chunks
//! gives the same commands and the same end; every command that parses is
//! re-encoded with core's `encode` module and parses back to itself; every
//! MPUB framed (read from the stream as NSQ reads it) splits into its messages.

use crate::split;
use bytes::BytesMut;
use nsq_core::wire::command::{encode, ParseError, StatelessRules};
use nsq_core::wire::names::is_valid_topic_name;
use nsq_core::wire::{ClientError, Command, CommandParser, Limits, RawCommand};

/// Everything a connection learns from a stream: the commands, then how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub commands: Vec<RawCommand>,
    pub end: End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The parser refused the stream.
    Error(ParseError),
    /// The stream ran out: the error NSQ sends then (if any) and the bytes left.
    Eof {
        error: Option<ClientError>,
        left: Vec<u8>,
    },
}

/// Limits chosen by the input: NSQ's defaults, or small ones that make the
/// size checks reachable with short inputs.
pub fn limits(selector: u8) -> Limits {
    match selector % 4 {
        0 => Limits::default(),
        1 => Limits {
            max_msg_size: 64,
            max_body_size: 256,
            max_req_timeout_ms: 1000,
        },
        2 => Limits {
            max_msg_size: 1,
            max_body_size: 9,
            max_req_timeout_ms: 0,
        },
        _ => Limits {
            max_msg_size: i64::from(selector),
            max_body_size: 4 * i64::from(selector),
            max_req_timeout_ms: i64::from(selector) * 7,
        },
    }
}

/// Frames `chunks` delivered one after the other.
pub fn frame_all(chunks: &[&[u8]], limits: Limits) -> Transcript {
    let mut parser = CommandParser::new(limits);
    let mut rules = StatelessRules(limits);
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match parser.next(&mut buf, &mut rules) {
                Ok(Some(cmd)) => commands.push(cmd),
                Ok(None) => break,
                Err(e) => {
                    return Transcript {
                        commands,
                        end: End::Error(e),
                    }
                }
            }
        }
    }
    Transcript {
        commands,
        end: End::Eof {
            error: parser.eof_error(&buf),
            left: buf.to_vec(),
        },
    }
}

/// The bytes a client sends for `cmd`, written with core's encoders.
pub fn encode_command(cmd: &Command) -> BytesMut {
    let mut out = BytesMut::new();
    match cmd {
        Command::Identify(body) => encode::identify(&mut out, body),
        Command::Auth(body) => encode::auth(&mut out, body),
        Command::Sub { topic, channel } => encode::sub(&mut out, topic, channel),
        // RDY's count is NSQ's wrapped 64-bit parse: the same bits go back.
        Command::Rdy(n) => encode::rdy(&mut out, *n as u64),
        Command::Fin(id) => encode::fin(&mut out, id),
        Command::Req {
            id, requested_ms, ..
        } => encode::req(&mut out, id, *requested_ms),
        Command::Touch(id) => encode::touch(&mut out, id),
        Command::Pub { topic, body } => encode::publish(&mut out, topic, body),
        Command::Mpub { topic, bodies } => encode::mpub(&mut out, topic, bodies),
        Command::Dpub {
            topic,
            delay_ms,
            body,
        } => encode::dpub(&mut out, topic, *delay_ms as u64, body),
        Command::Cls => encode::cls(&mut out),
        Command::Nop => encode::nop(&mut out),
    }
    out
}

/// What must hold of any command that passed NSQ's checks.
fn check_invariants(cmd: &Command, limits: &Limits) {
    let body_ok = |b: &[u8]| !b.is_empty() && b.len() as i64 <= limits.max_msg_size;
    match cmd {
        Command::Pub { topic, body } => {
            assert!(is_valid_topic_name(topic));
            assert!(body_ok(body), "PUB body of {} bytes", body.len());
        }
        Command::Dpub {
            topic,
            delay_ms,
            body,
        } => {
            assert!(is_valid_topic_name(topic));
            assert!(body_ok(body));
            assert!((0..=limits.max_req_timeout_ms).contains(delay_ms));
        }
        Command::Mpub { topic, bodies } => {
            assert!(is_valid_topic_name(topic));
            assert!(!bodies.is_empty());
            assert!(bodies.iter().all(|b| body_ok(b)));
        }
        Command::Req {
            delay_ms,
            requested_ms,
            ..
        } => {
            let max = limits.max_req_timeout_ms.max(0) as u64;
            assert_eq!(*delay_ms as u64, (*requested_ms).min(max), "NSQ clamps REQ");
        }
        Command::Identify(body) | Command::Auth(body) => {
            assert!(!body.is_empty() && body.len() as i64 <= limits.max_body_size)
        }
        _ => {}
    }
}

/// Parses `cmd`; a command that passes is encoded again and must come back unchanged.
pub fn check_command(raw: RawCommand, limits: Limits) {
    let line = raw.line().to_vec();
    let is_mpub = raw.name() == b"MPUB";
    let parsed = Command::from_raw(raw, &limits);
    // The framer reads an MPUB's count and messages from the stream with
    // NSQ's checks (the announced size aside) and cuts the body right after
    // the last message, so what it frames always splits.
    assert!(!is_mpub || parsed.is_ok(), "{line:?}: {parsed:?}");
    match parsed {
        Ok(cmd) => {
            check_invariants(&cmd, &limits);
            let wire = encode_command(&cmd);
            let again = frame_all(&[&wire], limits);
            assert_eq!(
                again.end,
                End::Eof {
                    error: None,
                    left: Vec::new()
                },
                "re-encoded {cmd:?} (from line {line:?}) does not frame cleanly: {wire:?}"
            );
            assert_eq!(again.commands.len(), 1, "{cmd:?} re-encoded as {wire:?}");
            let back = Command::from_raw(again.commands[0].clone(), &limits);
            assert_eq!(back, Ok(cmd), "re-encoded as {wire:?}");
        }
        Err(e) => assert!(e.code.starts_with("E_"), "{e:?}"),
    }
}

pub fn run(data: &[u8]) {
    let (seed, rest) = split::seed_and_stream(data);
    let (selector, stream) = split::seed_and_stream(rest);
    let limits = limits(selector);
    let whole = frame_all(&[stream], limits);
    assert_eq!(
        frame_all(&split::chunks(stream, seed), limits),
        whole,
        "chunked framing differs"
    );
    assert_eq!(
        frame_all(&split::bytewise(stream), limits),
        whole,
        "bytewise framing differs"
    );
    if let End::Error(ParseError::Client(e)) = &whole.end {
        assert!(e.code.starts_with("E_") && e.fatal, "{e:?}");
    }
    for raw in whole.commands {
        check_command(raw, limits);
    }
}
