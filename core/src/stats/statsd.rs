//! What nsqd pushes to statsd every `--statsd-interval`: NSQ's metric names,
//! counters as the difference since the last push, gauges as they are, and
//! how the lines are packed into UDP packets. The runtime only sends.

use super::model::{MemStats, TopicStats};
use crate::wire::names::is_ephemeral;

/// One statsd metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// `name:value|c`
    Counter(String, i64),
    /// `name:value|g`
    Gauge(String, i64),
}

impl Metric {
    /// The line as sent, with the prefix and a newline.
    pub fn line(&self, prefix: &str) -> String {
        match self {
            Metric::Counter(n, v) => format!("{prefix}{n}:{v}|c\n"),
            Metric::Gauge(n, v) => format!("{prefix}{n}:{v}|g\n"),
        }
    }
}

/// NSQ's `statsd.HostKey`: dots and colons become underscores.
pub fn host_key(h: &str) -> String {
    h.replace(['.', ':'], "_")
}

/// The prefix nsqd really uses: `%s` becomes the host key of
/// `broadcast_address:http_port`, and it ends with a dot. Empty stays empty.
pub fn resolve_prefix(prefix: &str, broadcast_address: &str, http_port: u16) -> String {
    if prefix.is_empty() {
        return String::new();
    }
    // Go's net.JoinHostPort brackets IPv6 hosts.
    let host = if broadcast_address.contains(':') {
        format!("[{broadcast_address}]:{http_port}")
    } else {
        format!("{broadcast_address}:{http_port}")
    };
    let mut p = prefix.replace("%s", &host_key(&host));
    if !p.ends_with('.') {
        p.push('.');
    }
    p
}

/// `quantile * 100` as Go's `%.0f` prints it (`0.99` → `99`).
fn percent_label(q: f64) -> String {
    format!("{:.0}", q * 100.0)
}

fn diff(cur: u64, last: u64) -> i64 {
    cur.wrapping_sub(last) as i64
}

/// The metrics of one push. `last` is what the previous push saw (empty
/// the first time), so counters carry the change since then.
pub fn metrics(
    topics: &[TopicStats],
    last: &[TopicStats],
    exclude_ephemeral: bool,
    mem: Option<(&MemStats, &MemStats)>,
) -> Vec<Metric> {
    let mut out = Vec::new();
    for t in topics {
        if exclude_ephemeral && is_ephemeral(&t.topic_name) {
            continue;
        }
        let lt = last.iter().find(|l| l.topic_name == t.topic_name);
        let name = &t.topic_name;
        out.push(Metric::Counter(
            format!("topic.{name}.message_count"),
            diff(t.message_count, lt.map_or(0, |l| l.message_count)),
        ));
        out.push(Metric::Counter(
            format!("topic.{name}.message_bytes"),
            diff(t.message_bytes, lt.map_or(0, |l| l.message_bytes)),
        ));
        out.push(Metric::Gauge(format!("topic.{name}.depth"), t.depth));
        out.push(Metric::Gauge(
            format!("topic.{name}.backend_depth"),
            t.backend_depth,
        ));
        for p in t.e2e_processing_latency.percentiles.iter().flatten() {
            out.push(Metric::Gauge(
                format!(
                    "topic.{name}.e2e_processing_latency_{}",
                    percent_label(p.quantile)
                ),
                p.value as i64,
            ));
        }
        for c in &t.channels {
            if exclude_ephemeral && is_ephemeral(&c.channel_name) {
                continue;
            }
            let lc = lt.and_then(|l| l.channels.iter().find(|x| x.channel_name == c.channel_name));
            let pre = format!("topic.{name}.channel.{}", c.channel_name);
            out.push(Metric::Counter(
                format!("{pre}.message_count"),
                diff(c.message_count, lc.map_or(0, |l| l.message_count)),
            ));
            out.push(Metric::Gauge(format!("{pre}.depth"), c.depth));
            out.push(Metric::Gauge(
                format!("{pre}.backend_depth"),
                c.backend_depth,
            ));
            out.push(Metric::Gauge(
                format!("{pre}.in_flight_count"),
                c.in_flight_count,
            ));
            out.push(Metric::Gauge(
                format!("{pre}.deferred_count"),
                c.deferred_count,
            ));
            out.push(Metric::Counter(
                format!("{pre}.requeue_count"),
                diff(c.requeue_count, lc.map_or(0, |l| l.requeue_count)),
            ));
            out.push(Metric::Counter(
                format!("{pre}.timeout_count"),
                diff(c.timeout_count, lc.map_or(0, |l| l.timeout_count)),
            ));
            out.push(Metric::Gauge(format!("{pre}.clients"), c.client_count));
            for p in c.e2e_processing_latency.percentiles.iter().flatten() {
                out.push(Metric::Gauge(
                    format!("{pre}.e2e_processing_latency_{}", percent_label(p.quantile)),
                    p.value as i64,
                ));
            }
        }
    }
    if let Some((m, last)) = mem {
        for (k, v) in [
            ("heap_objects", m.heap_objects),
            ("heap_idle_bytes", m.heap_idle_bytes),
            ("heap_in_use_bytes", m.heap_in_use_bytes),
            ("heap_released_bytes", m.heap_released_bytes),
            ("gc_pause_usec_100", m.gc_pause_usec_100),
            ("gc_pause_usec_99", m.gc_pause_usec_99),
            ("gc_pause_usec_95", m.gc_pause_usec_95),
            ("next_gc_bytes", m.next_gc_bytes),
        ] {
            out.push(Metric::Gauge(format!("mem.{k}"), v as i64));
        }
        out.push(Metric::Counter(
            "mem.gc_runs".into(),
            i64::from(m.gc_total_runs.wrapping_sub(last.gc_total_runs)),
        ));
    }
    out
}

/// Packs lines into datagrams of at most `size` bytes, as NSQ's boundary
/// buffered writer does: a line never straddles two packets, and a line
/// longer than `size` goes alone.
pub fn packets<'a>(lines: impl IntoIterator<Item = &'a str>, size: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::with_capacity(size);
    for line in lines {
        let b = line.as_bytes();
        if cur.len() + b.len() > size && !cur.is_empty() {
            out.push(std::mem::replace(&mut cur, Vec::with_capacity(size)));
        }
        if b.len() > size {
            out.push(b.to_vec());
        } else {
            cur.extend_from_slice(b);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_take_the_host_key() {
        assert_eq!(host_key("127.0.0.1:4151"), "127_0_0_1_4151");
        assert_eq!(
            resolve_prefix("nsq.%s", "127.0.0.1", 4151),
            "nsq.127_0_0_1_4151."
        );
        assert_eq!(resolve_prefix("app.", "h", 1), "app.");
        assert_eq!(resolve_prefix("%s.x", "::1", 80), "[__1]_80.x.");
        assert_eq!(resolve_prefix("", "h", 1), "");
    }

    #[test]
    fn percentile_names_round_like_go() {
        assert_eq!(percent_label(0.99), "99");
        assert_eq!(percent_label(0.5), "50");
        assert_eq!(percent_label(0.999), "100");
        assert_eq!(percent_label(0.125), "12");
    }

    #[test]
    fn packets_never_split_a_line() {
        let lines = ["aaaa\n", "bbbb\n", "cc\n", "dddddddddddd\n", "e\n"];
        let p = packets(lines, 10);
        let p: Vec<&str> = p.iter().map(|b| std::str::from_utf8(b).unwrap()).collect();
        assert_eq!(p, vec!["aaaa\nbbbb\n", "cc\n", "dddddddddddd\n", "e\n"]);
        assert!(packets(std::iter::empty(), 10).is_empty());
    }
}
