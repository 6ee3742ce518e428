//! nsqd's `/stats` document: the structs nsqadmin and nsq_stat read, with
//! NSQ v1.3.0's field names, field order, and its `null` / `[]` / omitted
//! choices (serde writes fields in declaration order).

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `/stats?format=json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsDoc {
    pub version: String,
    pub health: String,
    /// Unix seconds.
    pub start_time: i64,
    /// `null` when a topic filter matched nothing.
    pub topics: Option<Vec<TopicStats>>,
    /// Left out with `include_mem=false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemStats>,
    /// `null` when there are none or clients were not asked for.
    pub producers: Option<Vec<ClientStats>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicStats {
    pub topic_name: String,
    pub channels: Vec<ChannelStats>,
    pub depth: i64,
    pub backend_depth: i64,
    pub message_count: u64,
    pub message_bytes: u64,
    pub paused: bool,
    pub e2e_processing_latency: Latency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    pub channel_name: String,
    pub depth: i64,
    pub backend_depth: i64,
    pub in_flight_count: i64,
    pub deferred_count: i64,
    pub message_count: u64,
    pub requeue_count: u64,
    pub timeout_count: u64,
    pub client_count: i64,
    /// `null` with `include_clients=false`.
    pub clients: Option<Vec<ClientStats>>,
    pub paused: bool,
    pub e2e_processing_latency: Latency,
}

/// NSQ's `ClientV2Stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientStats {
    pub client_id: String,
    pub hostname: String,
    pub version: String,
    pub remote_address: String,
    pub state: i32,
    pub ready_count: i64,
    pub in_flight_count: i64,
    pub message_count: u64,
    pub finish_count: u64,
    pub requeue_count: u64,
    /// Unix seconds.
    pub connect_ts: i64,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub authed: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_identity: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_identity_url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pub_counts: Vec<PubCount>,
    pub tls: bool,
    pub tls_cipher_suite: String,
    pub tls_version: String,
    pub tls_negotiated_protocol: String,
    pub tls_negotiated_protocol_is_mutual: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubCount {
    pub topic: String,
    pub count: u64,
}

/// Go's runtime memory figures; a Rust process has no GC, so the GC
/// fields stay 0 and the heap figures come from the allocator/OS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemStats {
    pub heap_objects: u64,
    pub heap_idle_bytes: u64,
    pub heap_in_use_bytes: u64,
    pub heap_released_bytes: u64,
    pub gc_pause_usec_100: u64,
    pub gc_pause_usec_99: u64,
    pub gc_pause_usec_95: u64,
    pub next_gc_bytes: u64,
    pub gc_total_runs: u32,
}

/// NSQ's `quantile.Result`: `{"count":0,"percentiles":null}` when latency
/// tracking is off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub percentiles: Option<Vec<Percentile>>,
    /// Messages observed since the channels began (not only in the window);
    /// not in NSQ's JSON, for Prometheus' summary `_count`.
    #[serde(skip)]
    pub observed: u64,
    /// Their latencies added up, in seconds (the summary's `_sum`).
    #[serde(skip)]
    pub observed_seconds: f64,
}

/// One percentile, serialised as Go serialises a `map[string]float64`
/// (`{"quantile":0.99,"value":1234}`: keys sorted, whole numbers without `.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentile {
    pub quantile: f64,
    /// Nanoseconds.
    pub value: f64,
}

/// A float as Go's `encoding/json` writes it, for the values latencies take:
/// whole numbers as integers, others in shortest round-trip form.
fn go_float<S: SerializeMap>(map: &mut S, key: &str, v: f64) -> Result<(), S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e18 {
        map.serialize_entry(key, &(v as i64))
    } else {
        map.serialize_entry(key, &v)
    }
}

impl Serialize for Percentile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        go_float(&mut m, "quantile", self.quantile)?;
        go_float(&mut m, "value", self.value)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Percentile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            quantile: f64,
            value: f64,
        }
        let r = Raw::deserialize(d)?;
        Ok(Percentile {
            quantile: r.quantile,
            value: r.value,
        })
    }
}

impl Latency {
    /// Go's `Result.String()`: each percentile's value, human readable.
    pub fn human(&self) -> String {
        self.percentiles
            .iter()
            .flatten()
            .map(|p| super::gofmt::nanos_to_human(p.value))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_serialise_like_go_maps() {
        let l = Latency {
            count: 3,
            percentiles: Some(vec![
                Percentile {
                    quantile: 0.99,
                    value: 1_234_567.0,
                },
                Percentile {
                    quantile: 1.0,
                    value: 0.0,
                },
            ]),
            ..Latency::default()
        };
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"count":3,"percentiles":[{"quantile":0.99,"value":1234567},{"quantile":1,"value":0}]}"#
        );
        assert_eq!(
            serde_json::to_string(&Latency::default()).unwrap(),
            r#"{"count":0,"percentiles":null}"#
        );
        let back: Latency = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }
}
