//! `GET /metrics` (beyond NSQ): the figures of `/stats` and statsd in the
//! Prometheus text exposition format, one family at a time, with `topic`
//! and `channel` labels. Latencies are in seconds, Prometheus' base unit.

use super::model::{ChannelStats, Latency, StatsDoc, TopicStats};
use std::fmt::Write;

/// A label value with Prometheus' escapes.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A latency family: one sample per percentile and the sample count.
    fn latency<'a>(
        &mut self,
        prefix: &str,
        what: &str,
        items: impl Iterator<Item = (Vec<(&'a str, &'a str)>, &'a Latency)> + Clone,
    ) {
        let name = format!("{prefix}_e2e_processing_latency_seconds");
        self.family(
            &name,
            "gauge",
            &format!("End-to-end processing latency of the {what}'s finished messages, by quantile, over the latency window."),
        );
        for (labels, l) in items.clone() {
            for p in l.percentiles.iter().flatten() {
                let q = p.quantile.to_string();
                let mut ls = labels.clone();
                ls.push(("quantile", &q));
                self.sample(&name, &ls, p.value / 1e9);
            }
        }
        let count = format!("{prefix}_e2e_processing_latency_samples");
        self.family(
            &count,
            "gauge",
            &format!("Finished messages of the {what} in the latency window."),
        );
        for (labels, l) in items {
            if l.percentiles.is_some() {
                self.sample(&count, &labels, l.count);
            }
        }
    }
}

type TopicFigure = fn(&TopicStats) -> u64;
type ChannelFigure = fn(&ChannelStats) -> u64;

const TOPIC_FIGURES: &[(&str, &str, &str, TopicFigure)] = &[
    (
        "nsq_topic_depth",
        "gauge",
        "Messages waiting in the topic itself (memory and disk).",
        |t| t.depth as u64,
    ),
    (
        "nsq_topic_backend_depth",
        "gauge",
        "Messages of the topic waiting on disk.",
        |t| t.backend_depth as u64,
    ),
    (
        "nsq_topic_messages_total",
        "counter",
        "Messages published to the topic.",
        |t| t.message_count,
    ),
    (
        "nsq_topic_message_bytes_total",
        "counter",
        "Bytes of message bodies published to the topic.",
        |t| t.message_bytes,
    ),
    (
        "nsq_topic_paused",
        "gauge",
        "1 when the topic is paused.",
        |t| u64::from(t.paused),
    ),
    (
        "nsq_topic_channels",
        "gauge",
        "Channels of the topic.",
        |t| t.channels.len() as u64,
    ),
];

const CHANNEL_FIGURES: &[(&str, &str, &str, ChannelFigure)] = &[
    (
        "nsq_channel_depth",
        "gauge",
        "Messages waiting in the channel (memory and disk).",
        |c| c.depth as u64,
    ),
    (
        "nsq_channel_backend_depth",
        "gauge",
        "Messages of the channel waiting on disk.",
        |c| c.backend_depth as u64,
    ),
    (
        "nsq_channel_in_flight",
        "gauge",
        "Messages sent to a consumer and not yet finished.",
        |c| c.in_flight_count as u64,
    ),
    (
        "nsq_channel_deferred",
        "gauge",
        "Messages deferred (DPUB or delayed requeue).",
        |c| c.deferred_count as u64,
    ),
    (
        "nsq_channel_messages_total",
        "counter",
        "Messages the channel received.",
        |c| c.message_count,
    ),
    (
        "nsq_channel_requeued_total",
        "counter",
        "Messages requeued by consumers.",
        |c| c.requeue_count,
    ),
    (
        "nsq_channel_timed_out_total",
        "counter",
        "In-flight messages that timed out.",
        |c| c.timeout_count,
    ),
    (
        "nsq_channel_clients",
        "gauge",
        "Consumers subscribed to the channel.",
        |c| c.client_count as u64,
    ),
    (
        "nsq_channel_paused",
        "gauge",
        "1 when the channel is paused.",
        |c| u64::from(c.paused),
    ),
];

/// The whole exposition.
pub fn render(doc: &StatsDoc) -> String {
    let mut o = Out(String::new());
    o.family("nsq_info", "gauge", "nsqd's version (always 1).");
    o.sample("nsq_info", &[("version", &doc.version)], 1);
    o.family(
        "nsq_start_time_seconds",
        "gauge",
        "When nsqd started, in Unix seconds.",
    );
    o.sample("nsq_start_time_seconds", &[], doc.start_time);
    o.family(
        "nsq_healthy",
        "gauge",
        "1 when nsqd is healthy, 0 while it reports an error (see /ping).",
    );
    o.sample("nsq_healthy", &[], u8::from(doc.health == "OK"));

    let topics = doc.topics.as_deref().unwrap_or_default();
    for (name, kind, help, f) in TOPIC_FIGURES {
        o.family(name, kind, help);
        for t in topics {
            o.sample(name, &[("topic", &t.topic_name)], f(t));
        }
    }
    o.latency(
        "nsq_topic",
        "topic",
        topics.iter().map(|t| {
            (
                vec![("topic", t.topic_name.as_str())],
                &t.e2e_processing_latency,
            )
        }),
    );
    let channels = || {
        topics
            .iter()
            .flat_map(|t| t.channels.iter().map(move |c| (t.topic_name.as_str(), c)))
    };
    for (name, kind, help, f) in CHANNEL_FIGURES {
        o.family(name, kind, help);
        for (t, c) in channels() {
            o.sample(name, &[("topic", t), ("channel", &c.channel_name)], f(c));
        }
    }
    o.latency(
        "nsq_channel",
        "channel",
        channels().map(|(t, c)| {
            (
                vec![("topic", t), ("channel", c.channel_name.as_str())],
                &c.e2e_processing_latency,
            )
        }),
    );
    if let Some(producers) = &doc.producers {
        o.family(
            "nsq_producers",
            "gauge",
            "Connections that published over TCP.",
        );
        o.sample("nsq_producers", &[], producers.len());
    }
    if let Some(m) = &doc.memory {
        for (k, v, help) in [
            (
                "heap_in_use_bytes",
                m.heap_in_use_bytes,
                "Memory in use by the process.",
            ),
            (
                "heap_idle_bytes",
                m.heap_idle_bytes,
                "Memory held but unused.",
            ),
            (
                "heap_released_bytes",
                m.heap_released_bytes,
                "Memory returned to the OS.",
            ),
            (
                "heap_objects",
                m.heap_objects,
                "Live heap objects (0 when unknown).",
            ),
        ] {
            let name = format!("nsq_mem_{k}");
            o.family(&name, "gauge", help);
            o.sample(&name, &[], v);
        }
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }
}
