//! `GET /metrics` (beyond NSQ): the figures of `/stats` and statsd in the
//! Prometheus text exposition format, one family at a time, with `topic`
//! and `channel` labels, plus the process series every Prometheus client
//! exports. Latencies are in seconds, Prometheus' base unit.

use super::model::{ChannelStats, Latency, StatsDoc, TopicStats};
use std::fmt::Write;

/// A label value with Prometheus' escapes.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A Prometheus text exposition being written: families one after the
/// other, each with its `# HELP` and `# TYPE` lines. nsqlookupd and nsqadmin
/// write theirs with it too.
#[derive(Debug, Default)]
pub struct Exposition(String);

impl Exposition {
    pub fn new() -> Self {
        Exposition(String::new())
    }

    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
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

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The process series Prometheus' client libraries export.
    pub fn process(&mut self, p: &ProcessStats) {
        self.single(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        );
        self.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            p.resident_memory_bytes,
        );
        self.single(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            p.virtual_memory_bytes,
        );
        self.single(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            p.open_fds,
        );
        if let Some(max) = p.max_fds {
            self.single(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max,
            );
        }
        self.single(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds,
        );
    }

    /// A latency summary: the window's quantiles, and every observation's
    /// count and sum (which only grow, as Prometheus expects of them).
    fn latency<'a>(
        &mut self,
        prefix: &str,
        what: &str,
        items: impl Iterator<Item = (Vec<(&'a str, &'a str)>, &'a Latency)> + Clone,
    ) {
        let name = format!("{prefix}_e2e_processing_latency_seconds");
        self.family(
            &name,
            "summary",
            &format!("End-to-end processing latency of the {what}'s finished messages: quantiles over the latency window, count and sum since the channels began."),
        );
        let (sum, count) = (format!("{name}_sum"), format!("{name}_count"));
        for (labels, l) in items.clone() {
            let Some(percentiles) = &l.percentiles else {
                continue;
            };
            for p in percentiles {
                let q = p.quantile.to_string();
                let mut ls = labels.clone();
                ls.push(("quantile", &q));
                self.sample(&name, &ls, p.value / 1e9);
            }
            self.sample(&sum, &labels, l.observed_seconds);
            self.sample(&count, &labels, l.observed);
        }
        let samples = format!("{prefix}_e2e_processing_latency_samples");
        self.family(
            &samples,
            "gauge",
            &format!("Finished messages of the {what} in the latency window."),
        );
        for (labels, l) in items {
            if l.percentiles.is_some() {
                self.sample(&samples, &labels, l.count);
            }
        }
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// What the runtime read about its own process (Linux `/proc/self`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_memory_bytes: u64,
    pub virtual_memory_bytes: u64,
    pub open_fds: u64,
    /// The soft limit; `None` when unlimited.
    pub max_fds: Option<u64>,
    pub start_time_seconds: f64,
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

/// nsqd's whole exposition.
pub fn render(doc: &StatsDoc, process: Option<&ProcessStats>) -> String {
    let mut o = Exposition::new();
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
        // Go's idle, released and object figures have no counterpart in
        // the allocator, so only these two are exported.
        o.single(
            "nsq_mem_heap_in_use_bytes",
            "gauge",
            "Heap bytes handed out by the allocator and not freed (the resident memory where the allocator cannot tell).",
            m.heap_in_use_bytes,
        );
        o.single(
            "nsq_mem_heap_idle_bytes",
            "gauge",
            "Heap bytes the allocator holds free, not returned to the OS.",
            m.heap_idle_bytes,
        );
    }
    if let Some(p) = process {
        o.process(p);
    }
    o.finish()
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
