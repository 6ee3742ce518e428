//! `/api/graphite?metric=rate&target=T`: a statsd counter's per-second rate
//! over the last complete statsd interval, read from graphite.

use crate::url::query_escape;
use serde::Deserialize;

/// The graphite `/render` request for `target` (keys in Go's sorted order).
pub fn render_path(statsd_interval_secs: i64, target: &str) -> String {
    format!(
        "/render?format=json&from=-{}sec&target={}&until=-{}sec",
        statsd_interval_secs * 2,
        query_escape(target),
        statsd_interval_secs
    )
}

/// The rate text from graphite's answer: the first datapoint divided by the
/// interval, `"%.2f"`; `N/A` for a negative or missing value (Go crashes the
/// handler on a missing one).
pub fn rate(body: &[u8], statsd_interval_secs: i64) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Series {
        #[serde(default)]
        datapoints: Vec<Vec<Option<f64>>>,
    }
    let series: Vec<Series> =
        serde_json::from_slice(body).map_err(|e| format!("bad graphite answer - {e}"))?;
    let first = series
        .first()
        .and_then(|s| s.datapoints.first())
        .and_then(|p| p.first().copied().flatten());
    Ok(match first {
        Some(v) if v >= 0.0 && statsd_interval_secs > 0 => {
            format!("{:.2}", v / statsd_interval_secs as f64)
        }
        _ => "N/A".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_and_reads_like_nsq() {
        assert_eq!(
            render_path(60, "sumSeries(nsq.*.topic.t.message_count)"),
            "/render?format=json&from=-120sec&target=sumSeries%28nsq.%2A.topic.t.message_count%29&until=-60sec"
        );
        let body = br#"[{"target":"x","datapoints":[[600.0,1],[null,2]]}]"#;
        assert_eq!(rate(body, 60).unwrap(), "10.00");
        assert_eq!(rate(br#"[{"datapoints":[[-1,1]]}]"#, 60).unwrap(), "N/A");
        assert_eq!(rate(br#"[{"datapoints":[[null,1]]}]"#, 60).unwrap(), "N/A");
        assert_eq!(rate(b"[]", 60).unwrap(), "N/A");
        assert!(rate(b"<html>", 60).is_err());
    }
}
