use super::*;

const NOW: Nanos = 1_000 * SECOND;

fn state(json: &str) -> AuthState {
    AuthState::from_response(json.as_bytes(), NOW).unwrap()
}

#[test]
fn subscribe_needs_the_permission_a_topic_match_and_a_channel_match() {
    let s = state(
        r#"{"ttl":60,"identity":"bob","identity_url":"http://id/bob",
            "authorizations":[{"topic":"^events$","channels":["^archive$","^tail.*#ephemeral$"],"permissions":["subscribe"]}]}"#,
    );
    assert!(s.has_authorizations());
    assert!(s.is_allowed("events", "archive"));
    assert!(s.is_allowed("events", "tail1#ephemeral"));
    assert!(!s.is_allowed("events", "other"));
    assert!(!s.is_allowed("events2", "archive"));
    // publishing needs "publish"
    assert!(!s.is_allowed("events", ""));
}

#[test]
fn regexes_are_unanchored_as_in_go() {
    let s = state(
        r#"{"ttl":1,"authorizations":[{"topic":"vent","channels":["x"],"permissions":["subscribe"]}]}"#,
    );
    assert!(s.is_allowed("events", "box"));
    assert!(!s.is_allowed("evnts", "box"));
}

#[test]
fn publish_needs_a_channel_regex_that_matches_the_empty_channel() {
    let s = state(
        r#"{"ttl":60,"authorizations":[
            {"topic":"^a$","channels":[".*"],"permissions":["publish"]},
            {"topic":"^b$","channels":["^c$"],"permissions":["publish","subscribe"]}]}"#,
    );
    assert!(s.is_allowed("a", ""));
    assert!(!s.is_allowed("a", "c"), "no subscribe on a");
    assert!(
        !s.is_allowed("b", ""),
        "^c$ does not match the empty channel"
    );
    assert!(s.is_allowed("b", "c"));
}

#[test]
fn expiry_follows_the_ttl_on_the_given_clock() {
    let s = state(r#"{"ttl":30,"authorizations":[]}"#);
    assert!(!s.has_authorizations());
    assert_eq!(s.expires, NOW + 30 * SECOND);
    assert!(!s.is_expired(NOW));
    assert!(
        !s.is_expired(NOW + 30 * SECOND),
        "expires after, not at, the deadline"
    );
    assert!(s.is_expired(NOW + 30 * SECOND + 1));
}

#[test]
fn bad_answers_get_nsqs_errors() {
    let err = |j: &str| AuthState::from_response(j.as_bytes(), NOW).unwrap_err();
    assert_eq!(
        err(
            r#"{"ttl":5,"authorizations":[{"topic":".*","channels":[".*"],"permissions":["read"]}]}"#
        ),
        "unknown permission read"
    );
    assert!(
        err(r#"{"ttl":5,"authorizations":[{"topic":"(","channels":[],"permissions":[]}]}"#)
            .starts_with(r#"unable to compile topic "(" "#)
    );
    assert!(err(
        r#"{"ttl":5,"authorizations":[{"topic":"a","channels":["x","["],"permissions":[]}]}"#
    )
    .starts_with(r#"unable to compile channel "[" "#));
    assert_eq!(err(r#"{"ttl":0}"#), "invalid TTL 0 (must be >0)");
    assert_eq!(err(r#"{"ttl":-3}"#), "invalid TTL -3 (must be >0)");
    assert_eq!(err("null"), "invalid TTL 0 (must be >0)");
    assert!(!err("{bad").is_empty());
    assert!(!err(r#"{"ttl":"x"}"#).is_empty());
}

#[test]
fn the_answer_to_auth() {
    let s = state(
        r#"{"ttl":60,"identity":"bob","identity_url":"u","authorizations":[{"topic":"t","channels":[],"permissions":[]}],"extra":1}"#,
    );
    assert_eq!(
        s.answer_json(),
        br#"{"identity":"bob","identity_url":"u","permission_count":1}"#
    );
}

#[test]
fn the_request_as_go_encodes_it() {
    let r = AuthRequest {
        remote_ip: "127.0.0.1".into(),
        tls: true,
        secret: "s3cr&t =".into(),
        common_name: "client one".into(),
    };
    assert_eq!(
        r.query(),
        "common_name=client+one&remote_ip=127.0.0.1&secret=s3cr%26t+%3D&tls=true"
    );
    assert_eq!(
        String::from_utf8(r.post_body()).unwrap(),
        r#"{"common_name":["client one"],"remote_ip":["127.0.0.1"],"secret":["s3cr&t ="],"tls":["true"]}"#
    );
    assert_eq!(endpoint("127.0.0.1:4181"), "http://127.0.0.1:4181/auth");
    assert_eq!(endpoint("https://a/b"), "https://a/b");
    assert_eq!(AuthMethod::parse("post"), Ok(AuthMethod::Post));
    assert!(AuthMethod::parse("GET").is_err());
}

#[test]
fn every_server_is_tried_once_from_a_random_start() {
    assert_eq!(try_order(3, 7).collect::<Vec<_>>(), [1, 2, 0]);
    assert_eq!(try_order(0, 7).count(), 0);
    assert_eq!(
        join_failures(&[("a".into(), "x".into()), ("b".into(), "y".into())]),
        "failed to auth against a - x; failed to auth against b - y"
    );
}
