use super::*;
use crate::broker::client::ClientConfig;
use crate::io::SECOND;
use crate::wire::command::encode;

const T0: Nanos = 1_700_000_000 * SECOND;

fn session(cfg: ClientConfig) -> Session {
    Session::new(1, Arc::new(cfg), "10.0.0.9", "10.0.0.9:5".into(), T0)
}

/// Every output so far, logs left out.
fn outputs(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output())
        .filter(|o| !matches!(o, Output::Log(..)))
        .collect()
}

fn frame(ty: FrameType, data: &[u8]) -> Output {
    Output::Frame(ty, Bytes::copy_from_slice(data))
}

fn running(cfg: ClientConfig) -> (Session, BytesMut) {
    let mut s = session(cfg);
    let mut buf = BytesMut::from(&b"  V2"[..]);
    s.handle_read(&mut buf, T0);
    assert!(s.is_running());
    outputs(&mut s);
    (s, buf)
}

#[test]
fn a_wrong_magic_gets_nsqs_error_and_the_connection_closes() {
    let mut s = session(ClientConfig::default());
    let mut buf = BytesMut::from(&b"  V1PING\n"[..]);
    s.handle_read(&mut buf, T0);
    assert_eq!(
        outputs(&mut s),
        [frame(FrameType::Error, b"E_BAD_PROTOCOL"), Output::Close]
    );
}

#[test]
fn silence_before_the_magic_closes_after_two_heartbeats() {
    let mut s = session(ClientConfig::default());
    let deadline = s.poll_timeout().unwrap();
    assert_eq!(deadline, T0 + 2 * ClientConfig::default().default_heartbeat);
    s.handle_timeout(deadline - 1);
    assert!(outputs(&mut s).is_empty());
    s.handle_timeout(deadline);
    assert_eq!(outputs(&mut s), [Output::Close]);
}

#[test]
fn a_silent_client_gets_heartbeats_then_is_closed() {
    let (mut s, _) = running(ClientConfig::default());
    let hb = ClientConfig::default().default_heartbeat;
    s.handle_timeout(T0 + hb);
    assert_eq!(outputs(&mut s), [frame(FrameType::Response, HEARTBEAT)]);
    s.handle_timeout(T0 + 2 * hb);
    assert_eq!(outputs(&mut s), [Output::Close]);
}

#[test]
fn a_publish_is_answered_once_durable() {
    let (mut s, mut buf) = running(ClientConfig::default());
    encode::publish(&mut buf, "t", b"x");
    s.handle_read(&mut buf, T0);
    let out = outputs(&mut s);
    assert!(matches!(&out[..], [Output::Op(Op::Publish { topic, .. })] if topic == "t"));
    assert!(s.is_waiting());
    s.op_done(OpResult::Published(Ok(true)));
    assert_eq!(outputs(&mut s), [Output::WaitDurable { synced: false }]);
    s.durable();
    assert_eq!(outputs(&mut s), [frame(FrameType::Response, OK)]);
    assert!(!s.is_waiting());
    assert_eq!(s.take_changes().published, ["t"]);
}

#[test]
fn fins_run_as_one_batch_and_their_errors_come_before_what_follows() {
    let (mut s, mut buf) = running(ClientConfig::default());
    buf.extend_from_slice(b"SUB t c\n");
    s.handle_read(&mut buf, T0);
    outputs(&mut s);
    s.op_done(OpResult::Subscribed(Ok(0)));
    assert_eq!(outputs(&mut s), [frame(FrameType::Response, OK)]);
    let (a, b) = (MessageId::from_guid(1), MessageId::from_guid(2));
    encode::fin(&mut buf, &a);
    encode::fin(&mut buf, &b);
    buf.extend_from_slice(b"NOP\nRDY 5\n");
    s.handle_read(&mut buf, T0);
    let out = outputs(&mut s);
    assert!(
        matches!(&out[..], [Output::Op(Op::Finish { ids, .. })] if ids == &vec![a, b]),
        "{out:?}"
    );
    // The second FIN failed: its error, then the RDY (the NOP answers nothing).
    s.op_done(OpResult::Finished(vec![(
        1,
        crate::broker::inflight::InFlightError::NotInFlight,
    )]));
    assert!(s.can_proceed());
    let err = format!("E_FIN_FAILED FIN {b} failed ID not in flight");
    assert_eq!(outputs(&mut s), [frame(FrameType::Error, err.as_bytes())]);
    s.proceed(&mut buf, T0);
    let out = outputs(&mut s);
    assert!(
        matches!(&out[..], [Output::Op(Op::Ready { count: 5, .. })]),
        "{out:?}"
    );
}

#[test]
fn identify_upgrades_in_nsqs_order_each_confirmed_with_ok() {
    let cfg = ClientConfig {
        tls_available: true,
        ..ClientConfig::default()
    };
    let (mut s, mut buf) = running(cfg);
    encode::identify(
        &mut buf,
        br#"{"feature_negotiation":true,"tls_v1":true,"snappy":true}"#,
    );
    s.handle_read(&mut buf, T0);
    let out = outputs(&mut s);
    assert!(matches!(out[0], Output::Frame(FrameType::Response, _)));
    assert_eq!(out[1..], [Output::Upgrade(UpgradeStep::Tls)]);
    s.upgraded(Ok(Upgraded {
        common_name: "cn".into(),
    }));
    assert_eq!(
        outputs(&mut s),
        [
            frame(FrameType::Response, OK),
            Output::Upgrade(UpgradeStep::Snappy)
        ]
    );
    s.upgraded(Ok(Upgraded::default()));
    assert_eq!(outputs(&mut s), [frame(FrameType::Response, OK)]);
    assert!(s.client().tls && s.client().snappy && !s.is_waiting());
}

#[test]
fn a_failed_upgrade_closes() {
    let cfg = ClientConfig {
        tls_available: true,
        ..ClientConfig::default()
    };
    let (mut s, mut buf) = running(cfg);
    encode::identify(&mut buf, br#"{"feature_negotiation":true,"tls_v1":true}"#);
    s.handle_read(&mut buf, T0);
    outputs(&mut s);
    s.upgraded(Err("handshake failed".into()));
    assert_eq!(outputs(&mut s), [Output::Close]);
}
