use super::*;
use crate::broker::local::LocalBroker;
use crate::io::SECOND;
use crate::protocol::{Output, Session, Upgraded};
use crate::wire::command::encode;
use bytes::BytesMut;

const T0: Nanos = 1_700_000_000 * SECOND;

/// One connection to a local broker, fed raw bytes like a socket would be,
/// through the protocol session the runtime drives.
struct Conn {
    session: Session,
    buf: BytesMut,
    /// Response/error frames written back, as text.
    replies: Vec<String>,
    closed: bool,
    /// The auth server's answers, in turn (JSON, or a failure).
    authd: std::collections::VecDeque<Result<&'static str, String>>,
    /// The secrets the auth server was asked with.
    auth_queries: Vec<String>,
}

impl Conn {
    fn new(id: u64) -> Self {
        Self::with_config(id, ClientConfig::default())
    }

    fn with_config(id: u64, cfg: ClientConfig) -> Self {
        let mut session = Session::new(id, Arc::new(cfg), "127.0.0.1", "127.0.0.1:4".into(), T0);
        let mut magic = BytesMut::from(&b"  V2"[..]);
        session.handle_read(&mut magic, T0);
        while session.poll_output().is_some() {}
        Conn {
            authd: Default::default(),
            auth_queries: Vec::new(),
            session,
            buf: BytesMut::new(),
            replies: Vec::new(),
            closed: false,
        }
    }

    fn client(&self) -> &Client {
        self.session.client()
    }

    fn send(&mut self, broker: &mut LocalBroker<u64>, bytes: &[u8], now: Nanos) {
        self.buf.extend_from_slice(bytes);
        self.session.handle_read(&mut self.buf, now);
        self.drive(broker, now);
    }

    /// Carries the session's outputs out, as a runtime would.
    fn drive(&mut self, broker: &mut LocalBroker<u64>, now: Nanos) {
        let id = self.client().id;
        loop {
            while let Some(o) = self.session.poll_output() {
                match o {
                    Output::Op(op) => {
                        let r = broker.perform(id, id, op, now);
                        self.session.op_done(r);
                    }
                    Output::Frame(_, b) => self.replies.push(String::from_utf8_lossy(&b).into()),
                    Output::WaitDurable { .. } => self.session.durable(),
                    Output::Auth(req) => {
                        self.auth_queries.push(req.secret);
                        let answer = self.authd.pop_front().expect("test gave an auth answer");
                        let answer = answer
                            .and_then(|a| crate::auth::AuthState::from_response(a.as_bytes(), now));
                        self.session.auth_answered(answer, now);
                    }
                    Output::Upgrade(_) => self.session.upgraded(Ok(Upgraded::default())),
                    Output::Close => self.closed = true,
                    Output::Log(..) => {}
                }
            }
            if !self.session.can_proceed() {
                return;
            }
            self.session.proceed(&mut self.buf, now);
        }
    }

    /// The connection ends: it leaves its channel.
    fn leave(&mut self, broker: &mut LocalBroker<u64>) {
        let id = self.client().id;
        if let Some(op) = self.session.leave() {
            broker.perform(id, id, op, T0);
        }
    }

    fn cmd(&mut self, broker: &mut LocalBroker<u64>, f: impl FnOnce(&mut BytesMut)) {
        let mut b = BytesMut::new();
        f(&mut b);
        self.send(broker, &b, T0);
    }
}

fn broker() -> LocalBroker<u64> {
    LocalBroker::new(crate::broker::config::BrokerConfig::default(), 1)
}

#[test]
fn identify_answers_nsqs_json() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.cmd(&mut b, |w| encode::identify(w, br#"{"client_id":"fixture","hostname":"fixture.example","user_agent":"fixture/0.1","feature_negotiation":true}"#));
    assert_eq!(
        c.replies,
        vec![
            r#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}"#
        ]
    );
    assert_eq!(c.client().client_id, "fixture");
    // without feature negotiation: OK; a second IDENTIFY is allowed (state is still init)
    c.cmd(&mut b, |w| encode::identify(w, br#"{"client_id":"x"}"#));
    assert_eq!(c.replies[1], "OK");
    assert!(!c.closed);
}

#[test]
fn identify_rejections_are_fatal_with_nsqs_text() {
    let cases: [(&[u8], &str); 5] = [
        (
            br#"{"output_buffer_timeout":1}"#,
            "E_BAD_BODY IDENTIFY output buffer timeout (1) is invalid",
        ),
        (
            br#"{"heartbeat_interval":999}"#,
            "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid",
        ),
        (
            b"not json",
            "E_BAD_BODY IDENTIFY failed to decode JSON body",
        ),
        (
            br#"{"sample_rate":100}"#,
            "E_BAD_BODY IDENTIFY sample rate (100) is invalid",
        ),
        (
            br#"{"msg_timeout":999}"#,
            "E_BAD_BODY IDENTIFY msg timeout (999) is invalid",
        ),
    ];
    for (body, want) in cases {
        let mut b = broker();
        let mut c = Conn::new(1);
        c.cmd(&mut b, |w| encode::identify(w, body));
        assert_eq!(c.replies, vec![want.to_string()]);
        assert!(c.closed);
    }
}

#[test]
fn state_errors() {
    let cases: [(&[u8], &str); 4] = [
        (b"RDY 1\n", "E_INVALID cannot RDY in current state"),
        (b"CLS\n", "E_INVALID cannot CLS in current state"),
        (
            b"FIN 0123456789abcdef\n",
            "E_INVALID cannot FIN in current state",
        ),
        (b"AUTH\n\x00\x00\x00\x01x", "E_AUTH_DISABLED AUTH disabled"),
    ];
    for (input, want) in cases {
        let mut b = broker();
        let mut c = Conn::new(1);
        c.send(&mut b, input, T0);
        assert_eq!(c.replies, vec![want.to_string()], "{input:?}");
        assert!(c.closed);
    }
}

#[test]
fn sub_twice_rdy_too_high_and_heartbeats_disabled() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.send(&mut b, b"SUB t c\nSUB t c\n", T0);
    assert_eq!(
        c.replies,
        vec!["OK", "E_INVALID cannot SUB in current state"]
    );

    let mut c = Conn::new(2);
    c.send(&mut b, b"SUB t c\nRDY 2501\n", T0);
    assert_eq!(
        c.replies,
        vec!["OK", "E_INVALID RDY count 2501 out of range 0-2500"]
    );
    assert!(c.closed);

    let mut c = Conn::new(3);
    c.cmd(&mut b, |w| {
        encode::identify(w, br#"{"heartbeat_interval":-1}"#)
    });
    c.send(&mut b, b"SUB t c\n", T0);
    assert_eq!(
        c.replies,
        vec!["OK", "E_INVALID cannot SUB with heartbeats disabled"]
    );
}

#[test]
fn fin_req_touch_failures_keep_the_connection() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.send(
        &mut b,
        b"SUB t c\nFIN 0000000000000000\nREQ 0000000000000000 3600001\nTOUCH 0000000000000000\nNOP\n",
        T0,
    );
    assert_eq!(
        c.replies,
        vec![
            "OK",
            "E_FIN_FAILED FIN 0000000000000000 failed ID not in flight",
            "E_REQ_FAILED REQ 0000000000000000 failed ID not in flight",
            "E_TOUCH_FAILED TOUCH 0000000000000000 failed ID not in flight",
        ]
    );
    assert!(!c.closed);
}

#[test]
fn publish_then_consume_then_cls() {
    let mut b = broker();
    let mut consumer = Conn::new(1);
    consumer.send(&mut b, b"SUB t c\nRDY 1\n", T0);
    let mut producer = Conn::new(2);
    producer.cmd(&mut b, |w| encode::publish(w, "t", b"hello"));
    producer.cmd(&mut b, |w| encode::mpub(w, "t", &[b"a", b"b"]));
    producer.cmd(&mut b, |w| encode::dpub(w, "t", 1000, b"later"));
    assert_eq!(producer.replies, vec!["OK", "OK", "OK"]);
    assert_eq!(producer.client().pub_counts.get("t"), Some(&4));
    assert_eq!(b.out.delivered.len(), 1, "RDY 1 holds one at a time");
    let id = b.out.delivered[0].1.id;
    consumer.cmd(&mut b, |w| encode::fin(w, &id));
    assert_eq!(b.out.delivered.len(), 2);
    consumer.send(&mut b, b"CLS\n", T0);
    assert_eq!(consumer.replies, vec!["OK", "CLOSE_WAIT"]);
    // RDY after CLS is ignored, FIN still works
    let id = b.out.delivered[1].1.id;
    consumer.send(&mut b, b"RDY 10\n", T0);
    consumer.cmd(&mut b, |w| encode::fin(w, &id));
    assert_eq!(consumer.replies.len(), 2);
    assert_eq!(b.out.delivered.len(), 2, "closing: nothing more is sent");
}

#[test]
fn heartbeats_and_expiry_on_a_fake_clock() {
    let cfg = Arc::new(ClientConfig::default());
    let mut c = Client::new(1, cfg, "h", T0);
    assert_eq!(c.next_deadline(), Some(T0 + 30 * SECOND));
    assert_eq!(c.tick(T0 + 29 * SECOND), None);
    assert_eq!(c.tick(T0 + 30 * SECOND), Some(TickAction::SendHeartbeat));
    assert_eq!(c.next_deadline(), Some(T0 + 60 * SECOND));
    c.on_read(T0 + 40 * SECOND); // the client answered with NOP
    assert_eq!(c.tick(T0 + 60 * SECOND), Some(TickAction::SendHeartbeat));
    assert_eq!(c.tick(T0 + 89 * SECOND), None);
    assert_eq!(c.tick(T0 + 90 * SECOND), Some(TickAction::SendHeartbeat));
    assert_eq!(c.tick(T0 + 100 * SECOND), Some(TickAction::Expired));
}

#[test]
fn identify_changes_the_heartbeat_interval() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.cmd(&mut b, |w| {
        encode::identify(w, br#"{"heartbeat_interval":1000}"#)
    });
    assert_eq!(c.client().next_deadline(), Some(T0 + SECOND));
    let mut c = Conn::new(2);
    c.cmd(&mut b, |w| {
        encode::identify(w, br#"{"heartbeat_interval":-1}"#)
    });
    assert_eq!(c.client().next_deadline(), None);
}

#[test]
fn consumer_msg_timeout_from_identify() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.cmd(&mut b, |w| encode::identify(w, br#"{"msg_timeout":5000}"#));
    c.send(&mut b, b"SUB t c\nRDY 1\n", T0);
    let mut p = Conn::new(2);
    p.cmd(&mut b, |w| encode::publish(w, "t", b"x"));
    assert_eq!(b.next_deadline(T0), Some(T0 + 5 * SECOND));
    b.tick(T0 + 5 * SECOND);
    assert_eq!(b.out.delivered.len(), 2);
    assert_eq!(b.out.delivered[1].1.attempts, 2);
}

#[test]
fn ephemeral_channel_goes_with_the_connection() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.send(&mut b, b"SUB t#ephemeral c#ephemeral\n", T0);
    assert!(b.topics.contains_key("t#ephemeral"));
    c.leave(&mut b);
    assert!(!b.topics.contains_key("t#ephemeral"));
}

fn auth_conn() -> Conn {
    let cfg = ClientConfig {
        auth_enabled: true,
        ..ClientConfig::default()
    };
    Conn::with_config(1, cfg)
}

const GRANT_SUB_ARCHIVE: &str = r#"{"ttl":10,"identity":"bob","identity_url":"http://id","authorizations":[{"topic":"^t$","channels":["^archive$"],"permissions":["subscribe"]}]}"#;

#[test]
fn auth_grants_only_what_the_server_said() {
    let mut b = broker();
    let mut c = auth_conn();
    c.cmd(&mut b, |o| encode::publish(o, "t", b"x"));
    assert_eq!(c.replies, ["E_AUTH_FIRST AUTH required before PUB"]);
    assert!(c.closed);

    let mut c = auth_conn();
    c.authd.push_back(Ok(GRANT_SUB_ARCHIVE));
    c.cmd(&mut b, |o| encode::auth(o, b"sekrit"));
    assert_eq!(
        c.replies,
        [r#"{"identity":"bob","identity_url":"http://id","permission_count":1}"#]
    );
    assert_eq!(c.auth_queries, ["sekrit"]);
    c.cmd(&mut b, |o| encode::auth(o, b"again"));
    assert_eq!(c.replies[1], "E_INVALID AUTH already set");

    let mut c = auth_conn();
    c.authd.push_back(Ok(GRANT_SUB_ARCHIVE));
    c.cmd(&mut b, |o| encode::auth(o, b"sekrit"));
    c.cmd(&mut b, |o| encode::publish(o, "t", b"x"));
    assert_eq!(
        c.replies[1],
        r#"E_UNAUTHORIZED AUTH failed for PUB on "t" """#
    );
    assert!(c.closed);

    let mut c = auth_conn();
    c.authd.push_back(Ok(GRANT_SUB_ARCHIVE));
    c.cmd(&mut b, |o| encode::auth(o, b"sekrit"));
    c.cmd(&mut b, |o| encode::sub(o, "t", "other"));
    assert_eq!(
        c.replies[1],
        r#"E_UNAUTHORIZED AUTH failed for SUB on "t" "other""#
    );

    let mut c = auth_conn();
    c.authd.push_back(Ok(GRANT_SUB_ARCHIVE));
    c.cmd(&mut b, |o| encode::auth(o, b"sekrit"));
    c.cmd(&mut b, |o| encode::sub(o, "t", "archive"));
    assert_eq!(c.replies[1], "OK");
    assert!(!c.closed);
}

/// NSQ creates an MPUB's topic before reading the body: a bad body (count
/// 0) leaves the topic behind, and so does a body still on its way; a
/// refused line does not.
#[test]
fn mpub_creates_its_topic_before_reading_the_body() {
    let mut b = broker();
    let mut c = Conn::new(1);
    c.send(&mut b, b"MPUB zero\n\x00\x00\x00\x04\x00\x00\x00\x00", T0);
    assert_eq!(c.replies, ["E_BAD_BODY MPUB invalid message count 0"]);
    assert!(b.topics.contains_key("zero"));

    let mut c = Conn::new(2);
    c.send(&mut b, b"MPUB waiting\n\x00\x00", T0);
    assert!(c.replies.is_empty() && !c.closed);
    assert!(b.topics.contains_key("waiting"));

    let mut c = Conn::new(3);
    c.send(&mut b, b"PUB never\n\x00\x00\x00\x00", T0);
    c.send(&mut b, b"MPUB bad!\n", T0);
    assert!(!b.topics.contains_key("never") && !b.topics.contains_key("bad!"));
}

#[test]
fn mpub_authorization_is_checked_before_its_body() {
    let mut b = broker();
    let mut c = auth_conn();
    c.authd.push_back(Ok(GRANT_SUB_ARCHIVE));
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    // the line alone is refused: no body was needed
    c.send(&mut b, b"MPUB t\n", T0);
    assert_eq!(
        c.replies[1],
        r#"E_UNAUTHORIZED AUTH failed for MPUB on "t" """#
    );
    assert!(c.closed);
    assert!(!b.topics.contains_key("t"), "refused before NSQ's GetTopic");
}

#[test]
fn auth_failures_and_empty_grants() {
    let mut b = broker();
    let mut c = auth_conn();
    c.authd.push_back(Err("connection refused".into()));
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    assert_eq!(c.replies, ["E_AUTH_FAILED AUTH failed"]);
    assert!(c.closed);

    let mut c = auth_conn();
    c.authd.push_back(Ok(r#"{"ttl":10,"authorizations":[]}"#));
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    assert_eq!(c.replies, ["E_UNAUTHORIZED AUTH no authorizations found"]);

    let mut c = auth_conn();
    c.authd.push_back(Ok(r#"{"ttl":0,"authorizations":[]}"#));
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    assert_eq!(c.replies, ["E_AUTH_FAILED AUTH failed"]);

    let mut c = Conn::new(1);
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    assert_eq!(c.replies, ["E_AUTH_DISABLED AUTH disabled"]);
    assert!(c.closed);
}

#[test]
fn an_expired_grant_is_fetched_again_before_the_command_runs() {
    let mut b = broker();
    let mut c = auth_conn();
    c.authd.push_back(Ok(
        r#"{"ttl":10,"authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish"]}]}"#,
    ));
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    let mut pubb = BytesMut::new();
    encode::publish(&mut pubb, "t", b"x");
    c.send(&mut b, &pubb, T0 + 10 * SECOND);
    assert_eq!(c.replies[1], "OK");
    assert_eq!(c.auth_queries.len(), 1, "still fresh at the deadline");

    // after the ttl the grant is asked for again; this time it is narrower
    c.authd.push_back(Ok(
        r#"{"ttl":10,"authorizations":[{"topic":"^only$","channels":[".*"],"permissions":["publish"]}]}"#,
    ));
    c.send(&mut b, &pubb, T0 + 11 * SECOND);
    assert_eq!(c.auth_queries, ["s", "s"]);
    assert_eq!(
        c.replies[2],
        r#"E_UNAUTHORIZED AUTH failed for PUB on "t" """#
    );

    // and a server that fails on refresh closes the connection
    let mut c = auth_conn();
    c.authd.push_back(Ok(GRANT_SUB_ARCHIVE));
    c.cmd(&mut b, |o| encode::auth(o, b"s"));
    c.authd.push_back(Err("timeout".into()));
    let mut sub = BytesMut::new();
    encode::sub(&mut sub, "t", "archive");
    c.send(&mut b, &sub, T0 + 60 * SECOND);
    assert_eq!(c.replies[1], "E_AUTH_FAILED AUTH failed");
    assert!(c.closed);
}

#[test]
fn plain_fins_skip_the_parser_only_where_fin_is_allowed() {
    let mut b = broker();
    let mut c = Conn::new(1);
    assert!(!c.client().takes_plain_fin(), "not subscribed");
    c.send(&mut b, b"SUB t c\n", T0);
    assert!(c.client().takes_plain_fin());
    c.send(&mut b, b"CLS\n", T0);
    assert!(
        c.client().takes_plain_fin(),
        "FIN still works while closing"
    );
    let cfg = ClientConfig {
        tls_required: true,
        ..ClientConfig::default()
    };
    let mut tls = Client::new(2, Arc::new(cfg), "127.0.0.1", T0);
    tls.state = ClientState::Subscribed;
    tls.sub = Some(Subscription {
        topic: "t".into(),
        channel: "c".into(),
        slot: 0,
    });
    assert!(!tls.takes_plain_fin(), "TLS required and not negotiated");
}
