use super::*;
use quickcheck::{quickcheck, TestResult};

fn parse_all(
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Result<Command, ClientError>>, Option<ParseError>) {
    let limits = Limits::default();
    let mut parser = CommandParser::new(limits);
    let mut rules = StatelessRules(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| if input.is_empty() { 0 } else { c % input.len() })
        .collect();
    points.push(input.len());
    points.sort_unstable();
    let mut from = 0;
    for p in points {
        buf.extend_from_slice(&input[from..p]);
        from = p;
        loop {
            match parser.next(&mut buf, &mut rules) {
                Ok(Some(raw)) => out.push(Command::from_raw(raw, &limits)),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn one(input: &[u8]) -> Result<Command, ClientError> {
    let (mut cmds, err) = parse_all(input, &[]);
    if let Some(ParseError::Client(e)) = err {
        return Err(e);
    }
    assert_eq!(cmds.len(), 1, "{input:?}");
    cmds.remove(0)
}

fn err_text(input: &[u8]) -> String {
    one(input).unwrap_err().to_string()
}

#[test]
fn parses_every_command() {
    let id = b"0123456789abcdef";
    let mut wire = BytesMut::new();
    encode::identify(&mut wire, b"{}");
    encode::sub(&mut wire, "t", "c");
    encode::rdy(&mut wire, 10);
    encode::fin(&mut wire, &MessageId(*id));
    encode::req(&mut wire, &MessageId(*id), 5000);
    encode::touch(&mut wire, &MessageId(*id));
    encode::publish(&mut wire, "t", b"hello");
    encode::mpub(&mut wire, "t", &[b"a".as_slice(), b"bc".as_slice()]);
    encode::dpub(&mut wire, "t", 1000, b"later");
    encode::nop(&mut wire);
    encode::cls(&mut wire);
    encode::auth(&mut wire, b"secret");
    let (cmds, err) = parse_all(&wire, &[]);
    assert_eq!(err, None);
    let cmds: Vec<Command> = cmds.into_iter().map(Result::unwrap).collect();
    let mid = MessageId(*id);
    assert_eq!(
        cmds,
        vec![
            Command::Identify(Bytes::from_static(b"{}")),
            Command::Sub {
                topic: "t".into(),
                channel: "c".into()
            },
            Command::Rdy(10),
            Command::Fin(mid),
            Command::Req {
                id: mid,
                delay_ms: 5000,
                requested_ms: 5000
            },
            Command::Touch(mid),
            Command::Pub {
                topic: "t".into(),
                body: Bytes::from_static(b"hello")
            },
            Command::Mpub {
                topic: "t".into(),
                bodies: vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")]
            },
            Command::Dpub {
                topic: "t".into(),
                delay_ms: 1000,
                body: Bytes::from_static(b"later")
            },
            Command::Nop,
            Command::Cls,
            Command::Auth(Bytes::from_static(b"secret")),
        ]
    );
}

#[test]
fn crlf_and_bare_rdy() {
    assert_eq!(one(b"RDY\r\n"), Ok(Command::Rdy(1)));
    assert_eq!(one(b"NOP\r\n"), Ok(Command::Nop));
}

// The texts below are byte-exact captures from Go nsqd v1.3.0 (testdata/tcp-samples).
#[test]
fn nsq_error_texts() {
    assert_eq!(err_text(b"BOGUS\n"), "E_INVALID invalid command BOGUS");
    assert_eq!(
        err_text(b"PUB bad!topic\n"),
        "E_BAD_TOPIC PUB topic name \"bad!topic\" is not valid"
    );
    assert_eq!(
        err_text(b"SUB bad!topic ch\n"),
        "E_BAD_TOPIC SUB topic name \"bad!topic\" is not valid"
    );
    assert_eq!(
        err_text(b"SUB t bad!channel\n"),
        "E_BAD_CHANNEL SUB channel name \"bad!channel\" is not valid"
    );
    assert_eq!(
        err_text(b"MPUB t\n\x00\x00\x00\x04\x00\x00\x00\x00"),
        "E_BAD_BODY MPUB invalid message count 0"
    );
    assert_eq!(
        err_text(b"PUB t\n\x00\x10\x00\x01"),
        "E_BAD_MESSAGE PUB message too big 1048577 > 1048576"
    );
    assert_eq!(
        err_text(b"PUB t\n\x00\x00\x00\x00"),
        "E_BAD_MESSAGE PUB invalid message body size 0"
    );
    assert_eq!(
        err_text(b"DPUB t 3600001\n"),
        "E_INVALID DPUB timeout 3600001 out of range 0-3600000"
    );
    assert_eq!(err_text(b"FIN 123\n"), "E_INVALID invalid message ID");
    assert_eq!(
        err_text(b"MPUB t\n\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00"),
        "E_BAD_MESSAGE MPUB invalid message(0) body size 0"
    );
    assert_eq!(
        err_text(b"RDY x\n"),
        "E_INVALID RDY could not parse count x"
    );
    assert_eq!(
        err_text(b"REQ 0123456789abcdef x\n"),
        "E_INVALID REQ could not parse timeout x"
    );
    assert_eq!(
        err_text(b"REQ 0123456789abcdef\n"),
        "E_INVALID REQ insufficient number of params"
    );
    assert_eq!(
        err_text(b"SUB t\n"),
        "E_INVALID SUB insufficient number of parameters"
    );
    assert_eq!(
        err_text(b"DPUB t\n"),
        "E_INVALID DPUB insufficient number of parameters"
    );
    assert_eq!(
        err_text(b"MPUB bad!\n"),
        "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"bad!\" is not valid"
    );
    assert_eq!(
        err_text(b"IDENTIFY\n\x00\x60\x00\x00"),
        "E_BAD_BODY IDENTIFY body too big 6291456 > 5242880"
    );
    assert_eq!(
        err_text(b"IDENTIFY\n\xff\xff\xff\xff"),
        "E_BAD_BODY IDENTIFY invalid body size -1"
    );
    assert_eq!(err_text(b"\n"), "E_INVALID invalid command ");
}

#[test]
fn req_timeout_is_clamped_not_refused() {
    assert_eq!(
        one(b"REQ 0000000000000000 3600001\n"),
        Ok(Command::Req {
            id: MessageId(*b"0000000000000000"),
            delay_ms: 3_600_000,
            requested_ms: 3_600_001
        })
    );
}

/// NSQ checks MPUB's announced size (`<= 0`, `> --max-body-size`) and then
/// reads the count and the messages from the stream, whatever it announced.
#[test]
fn mpub_is_read_from_the_stream_as_nsq_reads_it() {
    let a_and_bc = || {
        Ok(Command::Mpub {
            topic: "t".into(),
            bodies: vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")],
        })
    };
    // the announced size leaves out the 4-byte count (a client bug NSQ tolerates)
    let short = b"MPUB t\n\x00\x00\x00\x0b\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02bcNOP\n";
    for cuts in [&[][..], &[9, 12, 17, 22]] {
        let (cmds, err) = parse_all(short, cuts);
        assert_eq!((cmds, err), (vec![a_and_bc(), Ok(Command::Nop)], None));
    }
    // an announced size past the messages: what follows them is the next command
    let (cmds, err) = parse_all(
        b"MPUB t\n\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x01aNOP\n",
        &[],
    );
    assert_eq!(cmds.len(), 2);
    assert_eq!((&cmds[1], err), (&Ok(Command::Nop), None));
    // the announced size is still checked first
    assert_eq!(
        err_text(b"MPUB t\n\x00\x00\x00\x00"),
        "E_BAD_BODY MPUB invalid body size 0"
    );
    assert_eq!(
        err_text(b"MPUB t\n\x00\x50\x00\x01"),
        "E_BAD_BODY MPUB body too big 5242881 > 5242880"
    );
}

/// NSQ would read up to count x --max-msg-size after a small announced
/// size; we keep one MPUB's messages within --max-body-size.
#[test]
fn mpub_messages_stay_within_the_body_limit() {
    let limits = Limits {
        max_msg_size: 100,
        max_body_size: 50,
        max_req_timeout_ms: 0,
    };
    let mut parser = CommandParser::new(limits);
    let mut rules = StatelessRules(limits);
    let mut buf = BytesMut::from(&b"MPUB t\n\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x28"[..]);
    buf.extend_from_slice(&[b'x'; 40]);
    assert_eq!(parser.next(&mut buf, &mut rules), Ok(None));
    buf.extend_from_slice(b"\x00\x00\x00\x02");
    assert_eq!(
        parser.next(&mut buf, &mut rules),
        Err(ParseError::Client(ClientError::fatal(
            "E_BAD_BODY",
            "MPUB body too big 54 > 50"
        )))
    );
}

#[test]
fn a_bad_topic_is_refused_before_the_body_arrives() {
    let (cmds, err) = parse_all(b"PUB bad!topic\n", &[]);
    assert!(cmds.is_empty());
    assert!(matches!(err, Some(ParseError::Client(e)) if e.code == "E_BAD_TOPIC"));
}

#[test]
fn long_lines_close_silently() {
    let mut line = vec![b'X'; MAX_LINE_LEN];
    let (_, err) = parse_all(&line, &[]);
    assert_eq!(err, Some(ParseError::LineTooLong));
    line.truncate(MAX_LINE_LEN - 1);
    line.push(b'\n');
    let (cmds, err) = parse_all(&line, &[]);
    assert_eq!(err, None);
    assert_eq!(cmds.len(), 1);
}

#[test]
fn eof_errors_name_the_missing_piece() {
    let limits = Limits::default();
    let mut rules = StatelessRules(limits);
    let cases: [(&[u8], Option<&str>); 6] = [
        (b"PUB t", None),
        (
            b"PUB t\n\x00\x00",
            Some("E_BAD_MESSAGE PUB failed to read message body size"),
        ),
        (
            b"PUB t\n\x00\x00\x00\x05ab",
            Some("E_BAD_MESSAGE PUB failed to read message body"),
        ),
        (
            b"IDENTIFY\n\x00\x00\x00\x05{",
            Some("E_BAD_BODY IDENTIFY failed to read body"),
        ),
        (
            b"MPUB t\n\x00\x00\x00\x10\x00\x00\x00\x02\x00\x00\x00\x01a\x00",
            Some("E_BAD_MESSAGE MPUB failed to read message(1) body size"),
        ),
        (
            b"MPUB t\n\x00\x00\x00\x09\x00\x00\x00\x01\x00\x00\x00\x02a",
            Some("E_BAD_MESSAGE MPUB failed to read message body"),
        ),
    ];
    for (input, want) in cases {
        let mut parser = CommandParser::new(limits);
        let mut buf = BytesMut::from(input);
        assert_eq!(parser.next(&mut buf, &mut rules), Ok(None));
        assert_eq!(
            parser.eof_error(&buf).map(|e| e.to_string()).as_deref(),
            want,
            "{input:?}"
        );
    }
}

fn arbitrary_stream(ops: &[(u8, Vec<u8>)]) -> BytesMut {
    let mut wire = BytesMut::new();
    for (kind, data) in ops {
        let body: Vec<u8> = if data.is_empty() {
            vec![b'x']
        } else {
            data.clone()
        };
        let id = MessageId::from_guid(data.len() as u64);
        match kind % 8 {
            0 => encode::publish(&mut wire, "topic", &body),
            1 => encode::mpub(&mut wire, "topic", &[body.clone(), body.clone()]),
            2 => encode::dpub(&mut wire, "t.x", 10, &body),
            3 => encode::fin(&mut wire, &id),
            4 => encode::req(&mut wire, &id, data.len() as u64),
            5 => encode::rdy(&mut wire, data.len() as u64),
            6 => encode::identify(&mut wire, &body),
            _ => encode::nop(&mut wire),
        }
    }
    wire
}

quickcheck! {
    fn split_anywhere_equals_one_shot(ops: Vec<(u8, Vec<u8>)>, cuts: Vec<usize>) -> TestResult {
        let wire = arbitrary_stream(&ops);
        let whole = parse_all(&wire, &[]);
        let split = parse_all(&wire, &cuts);
        TestResult::from_bool(whole == split && whole.0.len() == ops.len())
    }

    fn garbage_never_panics(input: Vec<u8>, cuts: Vec<usize>) -> bool {
        let _ = parse_all(&input, &cuts);
        true
    }
}

/// Takes plain FINs off the front, then parses one command as usual.
fn fast_then_next(
    buf: &mut BytesMut,
    parser: &mut CommandParser,
) -> Vec<Result<MessageId, String>> {
    let mut rules = StatelessRules(Limits::default());
    let mut out = Vec::new();
    loop {
        if let Some(id) = parser.next_plain_fin(buf) {
            out.push(Ok(id));
            continue;
        }
        match parser.next(buf, &mut rules) {
            Ok(Some(raw)) => out.push(fin_target(&raw).map_err(|e| e.to_string())),
            Ok(None) => return out,
            Err(e) => {
                out.push(Err(format!("{e:?}")));
                return out;
            }
        }
    }
}

#[test]
fn plain_fins_skip_the_parser_and_everything_else_is_left_to_it() {
    let mut buf = BytesMut::from(
        &b"FIN 0123456789abcdef\nFIN 0123456789abcdef\r\nFIN 0123456789abcde\nFIN 0123 56789abcdef\nFIN 0123456789abcdef x\nFIN 0123456789abcdef\nFIN 0123"[..],
    );
    let mut parser = CommandParser::new(Limits::default());
    assert!(parser.next_plain_fin(&mut buf).is_some());
    assert!(
        parser.next_plain_fin(&mut buf).is_none(),
        "\\r\\n is the parser's"
    );
    let id = MessageId(*b"0123456789abcdef");
    let got = fast_then_next(&mut buf, &mut parser);
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], Ok(id));
    assert_eq!(got[1], Err("E_INVALID invalid message ID".to_string()));
    assert!(got[2].is_err());
    assert_eq!((&got[3], &got[4]), (&Ok(id), &Ok(id)));
    assert_eq!(&buf[..], b"FIN 0123", "an unfinished line waits");
}

quickcheck! {
    fn plain_fins_read_the_same_as_parsed_ones(lines: Vec<(u8, Vec<u8>)>, cut: usize) -> bool {
        // FIN lines with ids of the right length and of others, other commands.
        let mut input = Vec::new();
        for (kind, bytes) in &lines {
            let id: Vec<u8> = bytes.iter().map(|b| b" \r\nab0"[*b as usize % 6]).collect();
            match kind % 4 {
                0 | 1 => {
                    input.extend_from_slice(b"FIN ");
                    input.extend(id.iter().chain(b"0123456789abcdef").take(16));
                }
                2 => {
                    input.extend_from_slice(b"FIN ");
                    input.extend(&id);
                }
                _ => input.extend_from_slice(b"NOP"),
            }
            input.push(b'\n');
        }
        let expect = {
            let mut buf = BytesMut::from(&input[..]);
            let mut parser = CommandParser::new(Limits::default());
            let mut rules = StatelessRules(Limits::default());
            let mut out = Vec::new();
            loop {
                match parser.next(&mut buf, &mut rules) {
                    Ok(Some(raw)) => out.push(fin_target(&raw).map_err(|e| e.to_string())),
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(format!("{e:?}")));
                        break;
                    }
                }
            }
            out
        };
        // The same bytes arriving in two reads, with the fast path in front.
        let cut = if input.is_empty() { 0 } else { cut % input.len() };
        let mut buf = BytesMut::from(&input[..cut]);
        let mut parser = CommandParser::new(Limits::default());
        let mut got = fast_then_next(&mut buf, &mut parser);
        buf.extend_from_slice(&input[cut..]);
        got.extend(fast_then_next(&mut buf, &mut parser));
        got == expect
    }
}
