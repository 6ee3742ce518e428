//! End-to-end processing latency across nodes. Each node reports its
//! percentiles (`quantile`, `value`); nsqadmin shows, per quantile, the
//! count-weighted average of the nodes' values, the smallest and the largest.

use super::gojson::GoFloat;
use super::input::NodeLatency;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// One quantile: a node's own (`value` set, min = max = average = value) or
/// the merge of several nodes'.
#[derive(Debug, Clone, PartialEq)]
pub struct PercentileStats {
    pub quantile: f64,
    pub average: f64,
    /// How many messages the figure stands for.
    pub count: f64,
    pub max: f64,
    pub min: f64,
    /// Nanoseconds, for a single node's figure.
    pub value: Option<f64>,
}

/// Serialised as Go serialises a `map[string]float64`: keys sorted.
impl Serialize for PercentileStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("average", &GoFloat(self.average))?;
        m.serialize_entry("count", &GoFloat(self.count))?;
        m.serialize_entry("max", &GoFloat(self.max))?;
        m.serialize_entry("min", &GoFloat(self.min))?;
        m.serialize_entry("quantile", &GoFloat(self.quantile))?;
        if let Some(v) = self.value {
            m.serialize_entry("value", &GoFloat(v))?;
        }
        m.end()
    }
}

/// NSQ's `E2eProcessingLatencyAggregate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyAggregate {
    pub count: i64,
    pub percentiles: Option<Vec<PercentileStats>>,
    pub topic: String,
    pub channel: String,
    /// `*` for a merge of nodes, `""` for one node's figures (as in NSQ).
    pub host: String,
}

impl LatencyAggregate {
    /// One node's figures as nsqadmin shows them.
    pub fn from_node(l: &NodeLatency) -> Self {
        let percentiles = l.percentiles.as_ref().map(|ps| {
            ps.iter()
                .map(|p| {
                    let value = p.get("value").copied().unwrap_or(0.0);
                    PercentileStats {
                        quantile: p.get("quantile").copied().unwrap_or(0.0),
                        average: value,
                        count: l.count as f64,
                        max: value,
                        min: value,
                        value: Some(value),
                    }
                })
                .collect()
        });
        LatencyAggregate {
            count: l.count,
            percentiles,
            topic: String::new(),
            channel: String::new(),
            host: String::new(),
        }
    }

    /// An empty total for a topic (channel `""`) or a channel.
    pub fn total(topic: &str, channel: &str) -> Self {
        LatencyAggregate {
            count: 0,
            percentiles: None,
            topic: topic.to_string(),
            channel: channel.to_string(),
            host: "*".to_string(),
        }
    }

    /// Merges another node's (or total's) figures into this total.
    pub fn add(&mut self, other: &LatencyAggregate) {
        self.host = "*".to_string();
        self.count += other.count;
        let Some(theirs) = other.percentiles.as_ref().filter(|v| !v.is_empty()) else {
            return;
        };
        let ours = self.percentiles.get_or_insert_with(Vec::new);
        for v in theirs {
            let p = match ours.iter().position(|p| p.quantile == v.quantile) {
                Some(i) => {
                    let p = &mut ours[i];
                    p.max = p.max.max(v.max);
                    p.min = p.min.min(v.min);
                    p
                }
                None => {
                    ours.push(PercentileStats {
                        quantile: v.quantile,
                        average: 0.0,
                        count: 0.0,
                        max: v.max,
                        min: v.min,
                        value: None,
                    });
                    let last = ours.len() - 1;
                    &mut ours[last]
                }
            };
            p.count += v.count;
            if p.count == 0.0 {
                p.average = 0.0;
                continue;
            }
            p.average += (v.average - p.average) * v.count / p.count;
        }
        ours.sort_by(|a, b| b.quantile.total_cmp(&a.quantile));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn node(count: i64, ps: &[(f64, f64)]) -> LatencyAggregate {
        LatencyAggregate::from_node(&NodeLatency {
            count,
            percentiles: Some(
                ps.iter()
                    .map(|&(q, v)| BTreeMap::from([("quantile".into(), q), ("value".into(), v)]))
                    .collect(),
            ),
        })
    }

    #[test]
    fn a_node_reads_like_nsqadmin_shows_it() {
        let n = node(4, &[(0.99, 2_000_000.0)]);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r#"{"count":4,"percentiles":[{"average":2000000,"count":4,"max":2000000,"min":2000000,"quantile":0.99,"value":2000000}],"topic":"","channel":"","host":""}"#
        );
        let off = LatencyAggregate::from_node(&NodeLatency::default());
        assert_eq!(
            serde_json::to_string(&off).unwrap(),
            r#"{"count":0,"percentiles":null,"topic":"","channel":"","host":""}"#
        );
    }

    #[test]
    fn merging_weights_averages_by_count_and_keeps_min_and_max() {
        let mut t = LatencyAggregate::total("t", "");
        t.add(&node(1, &[(0.5, 10.0), (0.99, 100.0)]));
        t.add(&node(3, &[(0.99, 200.0), (1.0, 300.0)]));
        let ps = t.percentiles.as_ref().unwrap();
        let q: Vec<f64> = ps.iter().map(|p| p.quantile).collect();
        assert_eq!(q, [1.0, 0.99, 0.5], "highest quantile first");
        let p99 = &ps[1];
        assert_eq!((p99.min, p99.max, p99.count), (100.0, 200.0, 4.0));
        assert_eq!(p99.average, 175.0);
        assert_eq!(p99.value, None);
        assert_eq!((t.count, t.host.as_str()), (4, "*"));
    }

    #[test]
    fn nothing_to_merge_stays_null() {
        let mut t = LatencyAggregate::total("t", "c");
        t.add(&LatencyAggregate::from_node(&NodeLatency::default()));
        t.add(&node(0, &[]));
        assert_eq!(t.percentiles, None);
        t.add(&node(0, &[(0.5, 7.0)]));
        let p = &t.percentiles.as_ref().unwrap()[0];
        assert_eq!((p.count, p.average), (0.0, 0.0));
    }
}
