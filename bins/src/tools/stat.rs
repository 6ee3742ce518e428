//! nsq_stat's model: one channel's numbers summed over every nsqd that has
//! the topic (from `/stats?format=json`), and the table it prints.

use serde::Deserialize;

/// One channel's counters (summed over nodes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ChannelStats {
    pub depth: i64,
    pub backend_depth: i64,
    pub in_flight_count: i64,
    pub deferred_count: i64,
    pub requeue_count: i64,
    pub timeout_count: i64,
    pub message_count: i64,
    pub client_count: i64,
}

impl ChannelStats {
    pub fn memory_depth(&self) -> i64 {
        self.depth - self.backend_depth
    }

    fn add(&mut self, o: &ChannelStats) {
        self.depth += o.depth;
        self.backend_depth += o.backend_depth;
        self.in_flight_count += o.in_flight_count;
        self.deferred_count += o.deferred_count;
        self.requeue_count += o.requeue_count;
        self.timeout_count += o.timeout_count;
        self.message_count += o.message_count;
        self.client_count += o.client_count;
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Channel {
    channel_name: String,
    #[serde(flatten)]
    stats: ChannelStats,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Topic {
    topic_name: String,
    channels: Vec<Channel>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatsBody {
    topics: Vec<Topic>,
}

/// Decodes a `/stats?format=json` body (V1, or wrapped in `data`).
fn decode(body: &[u8], v1: bool) -> Result<StatsBody, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let inner = if v1 {
        value
    } else {
        value
            .get("data")
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    if inner.is_null() {
        return Ok(StatsBody::default());
    }
    serde_json::from_value(inner).map_err(|e| e.to_string())
}

/// The topic names in a stats body.
pub fn topic_names(body: &[u8], v1: bool) -> Result<Vec<String>, String> {
    Ok(decode(body, v1)?
        .topics
        .into_iter()
        .map(|t| t.topic_name)
        .collect())
}

/// Adds this node's numbers for `topic`/`channel` to `sum`; false when
/// the node does not have the channel.
pub fn add_channel(
    sum: &mut ChannelStats,
    body: &[u8],
    v1: bool,
    topic: &str,
    channel: &str,
) -> Result<bool, String> {
    let mut found = false;
    for t in decode(body, v1)?
        .topics
        .iter()
        .filter(|t| t.topic_name == topic)
    {
        for c in t.channels.iter().filter(|c| c.channel_name == channel) {
            sum.add(&c.stats);
            found = true;
        }
    }
    Ok(found)
}

/// nsqd's `/info`: where its HTTP API really is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Info {
    pub version: String,
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: u16,
    pub tcp_port: u16,
}

pub fn parse_info(body: &[u8], v1: bool) -> Result<Info, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let inner = if v1 {
        value
    } else {
        value.get("data").cloned().unwrap_or_default()
    };
    serde_json::from_value(inner).map_err(|e| e.to_string())
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
        new.memory_depth(),
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
        let mut sum = ChannelStats::default();
        assert!(add_channel(
            &mut sum,
            &fixture("nsqd_stats_json.txt"),
            true,
            "orders",
            "billing"
        )
        .unwrap());
        assert!(add_channel(
            &mut sum,
            &fixture("nsqd_b_stats_json.txt"),
            true,
            "orders",
            "billing"
        )
        .unwrap());
        assert_eq!(sum.depth, 30);
        assert_eq!(sum.in_flight_count, 5);
        assert_eq!(sum.deferred_count, 1);
        assert_eq!(sum.requeue_count, 1);
        assert_eq!(sum.message_count, 38);
        assert_eq!(sum.client_count, 1);
        let mut none = ChannelStats::default();
        assert!(!add_channel(
            &mut none,
            &fixture("nsqd_b_stats_json.txt"),
            true,
            "logs",
            "x"
        )
        .unwrap());
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
        let old = ChannelStats {
            message_count: 100,
            depth: 10,
            ..Default::default()
        };
        let new = ChannelStats {
            message_count: 300,
            depth: 30,
            backend_depth: 5,
            in_flight_count: 2,
            client_count: 1,
            ..Default::default()
        };
        assert_eq!(
            row(&new, &old, 2.0),
            "    100      90 |      30      25       5     2     0 |       0       0          300       1"
        );
    }
}
