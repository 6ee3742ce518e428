//! Pushes stats to statsd every `--statsd-interval` over UDP. What to send
//! is core's (`nsq_core::stats::statsd`); this loop only gathers, sends,
//! and spreads the packets over the interval as NSQ does.

use super::{memstats, stats, Inner};
use crate::clock;
use nsq_core::stats::statsd as rules;
use nsq_core::stats::{MemStats, StatsFilter, TopicStats};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

async fn connect(addr: &str) -> std::io::Result<UdpSocket> {
    let target = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(target).await?;
    Ok(sock)
}

pub async fn run(inner: Arc<Inner>) {
    let opts = &inner.opts;
    let interval = opts.statsd_interval.max(Duration::from_millis(1));
    let packet_size = usize::try_from(opts.statsd_udp_packet_size.max(1)).unwrap_or(1);
    // NSQ spreads one push's packets over the interval less a second.
    let spread = interval.saturating_sub(Duration::from_secs(1));
    let mut last_topics: Vec<TopicStats> = Vec::new();
    let mut last_mem = MemStats::default();
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        tokio::time::sleep_until(next).await;
        next += interval;
        let addr = &opts.statsd_address;
        let sock = match connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("failed to create UDP socket to statsd({addr}) - {e}");
                continue;
            }
        };
        tracing::info!("STATSD: pushing stats to {addr}");
        let doc = stats::doc(&inner, &StatsFilter::statsd(), false, clock::now());
        let topics = doc.topics.unwrap_or_default();
        let mem = opts.statsd_mem_stats.then(memstats::read);
        let metrics = rules::metrics(
            &topics,
            &last_topics,
            opts.statsd_exclude_ephemeral,
            mem.as_ref().map(|m| (m, &last_mem)),
        );
        last_topics = topics;
        if let Some(m) = mem {
            last_mem = m;
        }
        let lines: Vec<String> = metrics
            .iter()
            .map(|m| m.line(&opts.statsd_prefix))
            .collect();
        let packets = rules::packets(lines.iter().map(String::as_str), packet_size);
        let gap = spread / u32::try_from(packets.len().max(1)).unwrap_or(u32::MAX);
        for p in packets {
            if let Err(e) = sock.send(&p).await {
                tracing::warn!("STATSD: send to {addr} failed - {e}");
            }
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
        }
        // A push that took longer than the interval skips the missed ticks.
        let now = tokio::time::Instant::now();
        while next <= now {
            next += interval;
        }
    }
}
