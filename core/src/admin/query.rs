//! The requests nsqadmin makes of nsqd and nsqlookupd: paths with their
//! queries, escaped as Go's `url.QueryEscape` escapes them.

use crate::url::query_escape;

/// `topic=T`.
pub fn topic_query(topic: &str) -> String {
    format!("topic={}", query_escape(topic))
}

/// `topic=T&channel=C`.
pub fn topic_channel_query(topic: &str, channel: &str) -> String {
    format!(
        "topic={}&channel={}",
        query_escape(topic),
        query_escape(channel)
    )
}

/// nsqd's `/stats` as nsqadmin asks for it: JSON, optionally narrowed to a
/// topic (and channel), optionally without clients.
pub fn nsqd_stats(topic: &str, channel: &str, include_clients: bool) -> String {
    let mut p = "/stats?format=json".to_string();
    if !topic.is_empty() {
        p.push_str("&topic=");
        p.push_str(&query_escape(topic));
        if !channel.is_empty() {
            p.push_str("&channel=");
            p.push_str(&query_escape(channel));
        }
    }
    if !include_clients {
        p.push_str("&include_clients=false");
    }
    p
}

pub const NSQD_INFO: &str = "/info";
pub const LOOKUPD_TOPICS: &str = "/topics";
pub const LOOKUPD_NODES: &str = "/nodes";

/// nsqlookupd's `/channels?topic=T`.
pub fn lookupd_channels(topic: &str) -> String {
    format!("/channels?{}", topic_query(topic))
}

/// nsqlookupd's `/lookup?topic=T`.
pub fn lookupd_lookup(topic: &str) -> String {
    format!("/lookup?{}", topic_query(topic))
}

/// nsqlookupd's `/topic/tombstone?topic=T&node=N` (POST).
pub fn lookupd_tombstone(topic: &str, node: &str) -> String {
    format!(
        "/topic/tombstone?topic={}&node={}",
        query_escape(topic),
        query_escape(node)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(query_escape("orders"), "orders");
        assert_eq!(query_escape("a b#ephemeral"), "a+b%23ephemeral");
        assert_eq!(query_escape("x/y?z=1&é"), "x%2Fy%3Fz%3D1%26%C3%A9");
        assert_eq!(
            nsqd_stats("t#ephemeral", "c", false),
            "/stats?format=json&topic=t%23ephemeral&channel=c&include_clients=false"
        );
        assert_eq!(nsqd_stats("", "ignored", true), "/stats?format=json");
        assert_eq!(
            lookupd_tombstone("t", "127.0.0.1:4151"),
            "/topic/tombstone?topic=t&node=127.0.0.1%3A4151"
        );
        assert_eq!(lookupd_lookup("a b"), "/lookup?topic=a+b");
    }
}
