//! nsq_stat's model: one channel's numbers summed over every nsqd that has
//! the topic, read from `/stats?format=json` as nsqadmin reads them
//! (`nsq_core::admin`), and the table it prints.

use nsq_core::admin::input::{NodeStatsDoc, NsqdInfo};
use nsq_core::admin::{aggregate_channel, node_topics, ChannelStats, TopicStats};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An answer's JSON: the body (V1), or what an older nsqd wraps in `data`.
fn answer(body: &[u8], v1: bool) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(if v1 {
        value
    } else {
        value.get("data").cloned().unwrap_or(Value::Null)
    })
}

fn read<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// A node's `/stats?format=json` (`null`: no topics).
pub fn parse_stats(body: &[u8], v1: bool) -> Result<NodeStatsDoc, String> {
    match answer(body, v1)? {
        Value::Null => Ok(NodeStatsDoc::default()),
        value => read(value),
    }
}

/// The topic names in a stats body.
pub fn topic_names(body: &[u8], v1: bool) -> Result<Vec<String>, String> {
    Ok(parse_stats(body, v1)?
        .topics
        .into_iter()
        .flatten()
        .map(|t| t.topic_name)
        .collect())
}

/// A node's rows for `topic` (from its stats body).
pub fn topic_rows(body: &[u8], v1: bool, topic: &str) -> Result<Vec<TopicStats>, String> {
    Ok(node_topics("", "", &parse_stats(body, v1)?, topic, 0))
}

/// `topic`/`channel` summed over the nodes' rows; `None` when no node
/// has the channel.
pub fn channel_total(topic: &str, channel: &str, rows: &[TopicStats]) -> Option<ChannelStats> {
    let total = aggregate_channel(topic, channel, rows);
    total
        .nodes
        .as_ref()
        .is_some_and(|n| !n.is_empty())
        .then_some(total)
}

/// nsqd's `/info`: where its HTTP API really is.
pub fn parse_info(body: &[u8], v1: bool) -> Result<NsqdInfo, String> {
    read(answer(body, v1)?)
}

/// The two header lines, printed before the first row and every 25 rows.
pub fn header() -> String {
    format!(
        "{}+{}+{}\n{:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} | {:>7} {:>7} {:>12} {:>7}",
        "------rate------",
        "----------------depth----------------",
        "--------------metadata---------------",
        "ingress",
        "egress",
        "total",
        "mem",
        "disk",
        "inflt",
        "def",
        "req",
        "t-o",
        "msgs",
        "clients"
    )
}

/// One row: rates over the interval since `old`, then `new`'s totals.
pub fn row(new: &ChannelStats, old: &ChannelStats, interval_secs: f64) -> String {
    let ingress = ((new.message_count - old.message_count) as f64 / interval_secs) as i64;
    let egress = ((new.message_count - old.message_count - (new.depth - old.depth)) as f64
        / interval_secs) as i64;
    format!(
        "{:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} | {:>7} {:>7} {:>12} {:>7}",
        ingress,
        egress,
        new.depth,
        new.memory_depth,
        new.backend_depth,
        new.in_flight_count,
        new.deferred_count,
        new.requeue_count,
        new.timeout_count,
        new.message_count,
        new.client_count
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/http-samples/");
        let text = std::fs::read(format!("{path}{name}")).unwrap();
        let at = text.windows(2).position(|w| w == b"\n\n").unwrap();
        text[at + 2..].to_vec()
    }

    #[test]
    fn sums_a_channel_over_the_go_captures() {
        let rows: Vec<TopicStats> = ["nsqd_stats_json.txt", "nsqd_b_stats_json.txt"]
            .iter()
            .flat_map(|f| topic_rows(&fixture(f), true, "orders").unwrap())
            .collect();
        let sum = channel_total("orders", "billing", &rows).unwrap();
        assert_eq!(sum.depth, 30);
        assert_eq!(sum.in_flight_count, 5);
        assert_eq!(sum.deferred_count, 1);
        assert_eq!(sum.requeue_count, 1);
        assert_eq!(sum.message_count, 38);
        assert_eq!(sum.client_count, 1);
        let b = topic_rows(&fixture("nsqd_b_stats_json.txt"), true, "logs").unwrap();
        assert!(channel_total("logs", "x", &b).is_none());
        assert_eq!(
            topic_names(&fixture("nsqd_stats_json.txt"), true).unwrap(),
            ["events", "orders"]
        );
    }

    #[test]
    fn prints_nsqs_table() {
        assert_eq!(
            header(),
            "------rate------+----------------depth----------------+--------------metadata---------------\n\
             ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients"
        );
        let mut old = aggregate_channel("t", "c", &[]);
        (old.message_count, old.depth) = (100, 10);
        let mut new = old.clone();
        (
            new.message_count,
            new.depth,
            new.memory_depth,
            new.backend_depth,
        ) = (300, 30, 25, 5);
        (new.in_flight_count, new.client_count) = (2, 1);
        assert_eq!(
            row(&new, &old, 2.0),
            "    100      90 |      30      25       5     2     0 |       0       0          300       1"
        );
    }
}
