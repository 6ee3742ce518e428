use super::*;
use crate::io::SECOND;
use crate::lookup::views;

const T0: Nanos = 1_700_000_000 * SECOND;

fn peer(id: &str, http_port: i64, now: Nanos) -> PeerInfo {
    PeerInfo {
        id: id.to_string(),
        remote_address: id.to_string(),
        hostname: "host".into(),
        broadcast_address: "b_addr".into(),
        tcp_port: http_port - 1,
        http_port,
        version: "v1".into(),
        last_update: now,
    }
}

fn activity(inactive: Nanos, tombstone: Nanos) -> Activity {
    Activity {
        inactive_producer_timeout: inactive,
        tombstone_lifetime: tombstone,
    }
}

fn ids(ps: &[Producer<'_>]) -> Vec<String> {
    ps.iter().map(|p| p.peer.id.clone()).collect()
}

#[test]
fn registrations_and_producers_like_nsq() {
    let mut db = RegistrationDb::new();
    db.identify(peer("1", 2, T0));
    db.identify(peer("2", 3, T0));
    db.identify(peer("3", 4, T0));
    db.add_producer(Registration::topic("a"), "1");
    db.add_producer(Registration::topic("a"), "2");
    db.add_producer(Registration::channel("a", "b"), "2");
    db.add_producer(Registration::topic("z"), "3");
    assert!(
        !db.add_producer(Registration::topic("a"), "1"),
        "added twice"
    );

    let keys: Vec<_> = db
        .find_registrations(Category::Topic, "*", "")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, ["a", "z"]);
    assert_eq!(
        ids(&db.find_producers(Category::Topic, "*", "")),
        ["1", "2", "3"]
    );
    assert_eq!(
        ids(&db.find_producers(Category::Topic, "a", "")),
        ["1", "2"]
    );
    assert_eq!(ids(&db.find_producers(Category::Channel, "*", "b")), ["2"]);
    assert!(db.find_registrations(Category::Topic, "b", "").is_empty());
    assert_eq!(
        db.lookup_registrations("2"),
        [
            Registration::channel("a", "b"),
            Registration::client(),
            Registration::topic("a")
        ]
    );

    // Removing a producer leaves the registration, even empty.
    assert_eq!(
        db.remove_producer(&Registration::topic("z"), "3"),
        (true, 0)
    );
    assert_eq!(
        db.remove_producer(&Registration::topic("z"), "3"),
        (false, 0)
    );
    assert_eq!(db.find_registrations(Category::Topic, "z", "").len(), 1);
    assert_eq!(
        db.remove_producer(&Registration::topic("nope"), "3"),
        (false, 0)
    );
}

#[test]
fn inactive_producers_are_filtered_after_the_timeout() {
    let mut db = RegistrationDb::new();
    db.identify(peer("1", 2, T0));
    db.identify(peer("2", 3, T0));
    db.add_producer(Registration::topic("t"), "1");
    db.add_producer(Registration::topic("t"), "2");
    let act = activity(30 * SECOND, 30 * SECOND);
    let active = |db: &RegistrationDb, now| {
        ids(&filter_by_active(
            db.find_producers(Category::Topic, "t", ""),
            act,
            now,
        ))
    };
    assert_eq!(
        active(&db, T0 + 30 * SECOND),
        ["1", "2"],
        "exactly the timeout is still active"
    );
    assert_eq!(active(&db, T0 + 30 * SECOND + 1), Vec::<String>::new());
    // A PING revives a peer.
    assert_eq!(db.touch("2", T0 + 20 * SECOND), Some(T0));
    assert_eq!(active(&db, T0 + 31 * SECOND), ["2"]);
    assert_eq!(db.touch("nobody", T0), None);
}

#[test]
fn tombstones_hide_one_topic_producer_for_their_lifetime() {
    let mut db = RegistrationDb::new();
    db.identify(peer("1", 4151, T0));
    db.identify(peer("2", 4152, T0));
    for t in ["t", "u"] {
        db.add_producer(Registration::topic(t), "1");
        db.add_producer(Registration::topic(t), "2");
    }
    let act = activity(300 * SECOND, 45 * SECOND);
    assert_eq!(db.tombstone("t", "b_addr:4151", T0 + SECOND), 1);
    assert_eq!(db.tombstone("t", "b_addr:9", T0 + SECOND), 0);
    let lookup = |db: &RegistrationDb, topic, now| {
        views::lookup(db, topic, act, now)
            .unwrap()
            .producers
            .into_iter()
            .map(|p| p.remote_address)
            .collect::<Vec<_>>()
    };
    assert_eq!(lookup(&db, "t", T0 + 2 * SECOND), ["2"]);
    assert_eq!(
        lookup(&db, "u", T0 + 2 * SECOND),
        ["1", "2"],
        "other topic unaffected"
    );
    // /nodes keeps tombstoned producers and flags the topic.
    let nodes = views::nodes(&db, act, T0 + 2 * SECOND);
    assert_eq!(nodes.producers.len(), 2);
    assert_eq!(nodes.producers[0].topics, ["t", "u"]);
    assert_eq!(nodes.producers[0].tombstones, [true, false]);
    assert_eq!(nodes.producers[1].tombstones, [false, false]);
    // Re-registering does not clear the tombstone ...
    db.add_producer(Registration::topic("t"), "1");
    assert_eq!(lookup(&db, "t", T0 + 45 * SECOND), ["2"]);
    // ... the lifetime does.
    assert_eq!(lookup(&db, "t", T0 + 46 * SECOND), ["1", "2"]);
    let nodes = views::nodes(&db, act, T0 + 46 * SECOND);
    assert_eq!(nodes.producers[0].tombstones, [false, false]);
    // /debug still tells it was tombstoned, and when.
    let dbg = views::debug(&db);
    let t = &dbg["topic:t:"];
    assert!(t[0].tombstoned && t[0].tombstoned_at == T0 + SECOND);
    assert!(!t[1].tombstoned && t[1].tombstoned_at == views::GO_ZERO_TIME_UNIX_NANO);
}

#[test]
fn a_leaving_peer_leaves_every_registration_but_the_registrations_stay() {
    let mut db = RegistrationDb::new();
    db.identify(peer("1", 2, T0));
    db.add_producer(Registration::channel("t", "c"), "1");
    db.add_producer(Registration::topic("t"), "1");
    let removed = db.remove_peer("1");
    assert_eq!(removed.len(), 3);
    assert!(db.peer("1").is_none());
    let act = activity(300 * SECOND, 45 * SECOND);
    let l = views::lookup(&db, "t", act, T0).unwrap();
    assert_eq!((l.channels, l.producers.len()), (vec!["c".to_string()], 0));
    assert!(views::nodes(&db, act, T0).producers.is_empty());
    assert!(
        views::debug(&db).is_empty(),
        "only registrations with producers"
    );
}

#[test]
fn http_mutations() {
    let mut db = RegistrationDb::new();
    let act = activity(300 * SECOND, 45 * SECOND);
    assert!(views::lookup(&db, "t", act, T0).is_none());
    views::create_topic(&mut db, "t");
    assert_eq!(views::lookup(&db, "t", act, T0).unwrap().channels.len(), 0);
    views::create_channel(&mut db, "u", "c1");
    views::create_channel(&mut db, "u", "c2");
    assert_eq!(views::topics(&db).topics, ["t", "u"]);
    assert_eq!(views::channels(&db, "u").channels, ["c1", "c2"]);
    assert!(views::delete_channel(&mut db, "u", "c1"));
    assert!(!views::delete_channel(&mut db, "u", "c1"));
    assert_eq!(views::delete_topic(&mut db, "u"), ["c2"]);
    assert_eq!(views::topics(&db).topics, ["t"]);
    assert!(views::channels(&db, "u").channels.is_empty());
    // NSQ's wildcard reaches HTTP topic/delete too.
    views::create_channel(&mut db, "v", "c");
    views::delete_topic(&mut db, "*");
    assert!(views::topics(&db).topics.is_empty());
}

#[test]
fn views_serialise_in_nsqs_field_order() {
    let mut db = RegistrationDb::new();
    db.identify(peer("127.0.0.1:5", 4151, T0));
    db.add_producer(Registration::topic("t"), "127.0.0.1:5");
    let act = activity(300 * SECOND, 45 * SECOND);
    let l = serde_json::to_string(&views::lookup(&db, "t", act, T0).unwrap()).unwrap();
    assert_eq!(
        l,
        r#"{"channels":[],"producers":[{"remote_address":"127.0.0.1:5","hostname":"host","broadcast_address":"b_addr","tcp_port":4150,"http_port":4151,"version":"v1"}]}"#
    );
    let n = serde_json::to_string(&views::nodes(&db, act, T0)).unwrap();
    assert!(
        n.ends_with(r#""version":"v1","tombstones":[false],"topics":["t"]}]}"#),
        "{n}"
    );
    let d = serde_json::to_string(&views::debug(&db)).unwrap();
    assert!(d.starts_with(r#"{"client::":[{"broadcast_address":"b_addr","hostname":"host","http_port":4151,"id":"127.0.0.1:5","last_update":"#), "{d}");
    assert!(d.contains(r#""tcp_port":4150,"tombstoned":false,"tombstoned_at":-6795364578871345152,"version":"v1"}]"#), "{d}");
    assert_eq!(
        serde_json::to_string(&views::info()).unwrap(),
        r#"{"version":"1.3.0"}"#
    );
}

/// Found by the simulation (discovery, seeds 1003094 and 1009020): nsqd
/// reconnects from the same address and port (A, then B, then C); B's close
/// dropped the id's generation count, so C got generation 1 again, and A's
/// late close (its last bytes had waited in a cut link) took C's
/// registrations. C stayed connected, its PINGs answered, so nsqd never
/// registered again. A generation names one connection for good.
#[test]
fn a_generation_is_never_reused_by_a_later_connection_with_the_same_id() {
    let mut db = RegistrationDb::new();
    let (a, _) = db.identify_generation(peer("10.0.0.4:1", 2, T0));
    let (b, replaced) = db.identify_generation(peer("10.0.0.4:1", 2, T0));
    assert_eq!(replaced, vec![Registration::client()]);
    db.add_producer(Registration::topic("t"), "10.0.0.4:1");
    assert_eq!(db.remove_peer_of("10.0.0.4:1", b).len(), 2);
    assert_eq!(db.generation("10.0.0.4:1"), None);
    let (c, _) = db.identify_generation(peer("10.0.0.4:1", 2, T0));
    db.add_producer(Registration::topic("t"), "10.0.0.4:1");
    assert!(c != a && c != b, "generations {a} {b} {c}");
    // A's close comes last: it is not the latest connection, so it takes nothing.
    assert!(db.remove_peer_of("10.0.0.4:1", a).is_empty());
    assert_eq!(
        db.lookup_registrations("10.0.0.4:1"),
        vec![Registration::client(), Registration::topic("t")]
    );
    // Nor does a second close of B; C's own close still cleans up.
    assert!(db.remove_peer_of("10.0.0.4:1", b).is_empty());
    assert_eq!(db.remove_peer_of("10.0.0.4:1", c).len(), 2);
    assert!(db.lookup_registrations("10.0.0.4:1").is_empty());
}
