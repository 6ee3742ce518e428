//! `/stats?format=text` (and `/stats` without a format), laid out exactly
//! as nsqd v1.3.0 prints it.

use super::gofmt;
use super::model::{ClientStats, StatsDoc};
use crate::io::{Nanos, SECOND};
use std::fmt::Write;

/// How long ago `connect_ts` (Unix seconds) was, whole seconds, Go style.
fn connected_for(connect_ts: i64, now: Nanos) -> String {
    let since = now.saturating_sub(connect_ts.saturating_mul(SECOND));
    gofmt::duration(since - since % SECOND)
}

/// A client's line: producers (anything in `pub_counts`) show their
/// publish counts, consumers their flow counts.
pub fn client_line(c: &ClientStats, now: Nanos) -> String {
    let port = c
        .remote_address
        .rsplit_once(':')
        .map(|(_, p)| p)
        .unwrap_or("");
    let id = format!("{}:{} {}", c.hostname, port, c.user_agent);
    let connected = connected_for(c.connect_ts, now);
    if !c.pub_counts.is_empty() {
        let total: u64 = c.pub_counts.iter().map(|p| p.count).sum();
        let topics: Vec<String> = c
            .pub_counts
            .iter()
            .map(|p| format!("{}={}", p.topic, p.count))
            .collect();
        return format!(
            "[{} {id:<21}] msgs: {total:<8} topics: {} connected: {connected}",
            c.version,
            topics.join(",")
        );
    }
    format!(
        "[{} {id:<21}] state: {} inflt: {:<4} rdy: {:<4} fin: {:<8} re-q: {:<8} msgs: {:<8} connected: {connected}",
        c.version, c.state, c.in_flight_count, c.ready_count, c.finish_count, c.requeue_count, c.message_count,
    )
}

/// The whole text page. `version_line` is the binary's version string,
/// `start_time` when nsqd started.
pub fn render(doc: &StatsDoc, version_line: &str, start_time: Nanos, now: Nanos) -> String {
    let mut w = String::new();
    let _ = writeln!(w, "{version_line}");
    let _ = writeln!(
        w,
        "start_time {}",
        gofmt::rfc3339_utc(start_time.div_euclid(SECOND))
    );
    let _ = writeln!(w, "uptime {}", gofmt::duration(now - start_time));
    let _ = writeln!(w, "\nHealth: {}", doc.health);
    if let Some(m) = &doc.memory {
        w.push_str("\nMemory:\n");
        for (k, v) in [
            ("heap_objects", m.heap_objects),
            ("heap_idle_bytes", m.heap_idle_bytes),
            ("heap_in_use_bytes", m.heap_in_use_bytes),
            ("heap_released_bytes", m.heap_released_bytes),
            ("gc_pause_usec_100", m.gc_pause_usec_100),
            ("gc_pause_usec_99", m.gc_pause_usec_99),
            ("gc_pause_usec_95", m.gc_pause_usec_95),
            ("next_gc_bytes", m.next_gc_bytes),
            ("gc_total_runs", u64::from(m.gc_total_runs)),
        ] {
            let _ = writeln!(w, "   {k:<25}\t{v}");
        }
    }
    let topics = doc.topics.as_deref().unwrap_or_default();
    if topics.is_empty() {
        w.push_str("\nTopics: None\n");
    } else {
        w.push_str("\nTopics:");
    }
    for t in topics {
        let _ = writeln!(
            w,
            "\n{}[{:<15}] depth: {:<5} be-depth: {:<5} msgs: {:<8} e2e%: {}",
            if t.paused { "*P " } else { "   " },
            t.topic_name,
            t.depth,
            t.backend_depth,
            t.message_count,
            t.e2e_processing_latency.human(),
        );
        for c in &t.channels {
            let _ = writeln!(
                w,
                "{}[{:<25}] depth: {:<5} be-depth: {:<5} inflt: {:<4} def: {:<4} re-q: {:<5} timeout: {:<5} msgs: {:<8} e2e%: {}",
                if c.paused { "   *P " } else { "      " },
                c.channel_name,
                c.depth,
                c.backend_depth,
                c.in_flight_count,
                c.deferred_count,
                c.requeue_count,
                c.timeout_count,
                c.message_count,
                c.e2e_processing_latency.human(),
            );
            for client in c.clients.iter().flatten() {
                let _ = writeln!(w, "        {}", client_line(client, now));
            }
        }
    }
    let producers = doc.producers.as_deref().unwrap_or_default();
    if producers.is_empty() {
        w.push_str("\nProducers: None\n");
    } else {
        w.push_str("\nProducers:\n");
        for p in producers {
            let _ = writeln!(w, "   {}", client_line(p, now));
        }
    }
    w
}
