//! `/metrics` of nsqd, nsqlookupd and nsqadmin against the real binaries:
//! each is a well-formed Prometheus text exposition with the process series,
//! nsqd's latency is a summary, and every query of the shipped Grafana
//! dashboard (`deploy/grafana/nsqd.json`) names a series nsqd exports.

mod common;

use common::{eventually, Nsqadmin, Nsqd, Nsqlookupd};
use nsq_core::wire::command::encode;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// One sample line: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses `{a="x",b="y\"z"}` (the part after the name) into labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = s.strip_prefix('{') else {
        return Ok((labels, s));
    };
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("a label without =")?;
        let key = &rest[..eq];
        if !is_name(key) {
            return Err(format!("bad label name {key:?}"));
        }
        let mut value = String::new();
        let mut chars = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?
            .char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        if labels.insert(key.to_string(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &rest[eq + 1 + 1 + end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Checks the text exposition format as Prometheus reads it: every family
/// declared once by HELP and TYPE before its samples, its samples together,
/// sample names that belong to it, label syntax and float values; a
/// summary's quantile samples carry `quantile`. Returns the samples.
fn exposition(text: &str) -> Vec<Sample> {
    let mut declared: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut samples = Vec::new();
    let mut seen_series = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("line {}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            assert!(is_name(name), "{}", at());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(
                ["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind),
                "{}",
                at()
            );
            assert!(
                declared.insert(name.into(), kind.into()).is_none(),
                "family declared twice: {}",
                at()
            );
            current = Some((name.into(), kind.into()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{}", at());
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        assert!(is_name(name), "{}", at());
        let (labels, rest) =
            parse_labels(&line[name_end..]).unwrap_or_else(|e| panic!("{e}: {}", at()));
        let value: f64 = match rest.trim() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value: {}", at())),
        };
        let (family, kind) = current
            .as_ref()
            .unwrap_or_else(|| panic!("no TYPE before {}", at()));
        let belongs = match kind.as_str() {
            "summary" => {
                (name == family && labels.contains_key("quantile"))
                    || *name == format!("{family}_sum")
                    || *name == format!("{family}_count")
            }
            _ => name == family,
        };
        assert!(
            belongs,
            "sample outside its family {family} ({kind}): {}",
            at()
        );
        assert!(
            seen_series.insert(format!("{name}{labels:?}")),
            "series twice: {}",
            at()
        );
        samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    samples
}

fn scrape(addr: SocketAddr, path: &str) -> Vec<Sample> {
    let r = common::http_request(addr, "GET", path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    exposition(&r.text())
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .map(|s| s.value)
}

/// The process series, with values a live process has.
fn assert_process_series(samples: &[Sample]) {
    let v = |name| value(samples, name, &[]).unwrap_or_else(|| panic!("{name} missing"));
    assert!(v("process_cpu_seconds_total") >= 0.0);
    assert!(v("process_resident_memory_bytes") > 1e5);
    assert!(v("process_virtual_memory_bytes") >= v("process_resident_memory_bytes"));
    assert!(v("process_open_fds") >= 3.0);
    if let Some(max) = value(samples, "process_max_fds", &[]) {
        assert!(max >= v("process_open_fds"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let start = v("process_start_time_seconds");
    // started by this test: before now, and not long before
    assert!(
        start <= now + 2.0 && start > now - 3600.0,
        "{start} vs {now}"
    );
}

/// nsqd with a topic, a channel, a consumer that finished one message of
/// two (so latency is tracked) and a producer.
fn busy_nsqd() -> (Nsqd, common::Client, common::Client) {
    let nsqd = Nsqd::start(&["--e2e-processing-latency-percentile=0.99,0.5"]);
    let mut producer = nsqd.client();
    for body in [&b"one"[..], b"two"] {
        producer.send_with(|w| encode::publish(w, "orders", body));
        assert_eq!(producer.response(), "OK");
    }
    let mut consumer = nsqd.client();
    consumer.send(b"SUB orders billing\nRDY 1\n");
    assert_eq!(consumer.response(), "OK");
    let m = consumer.message();
    consumer.send_with(|w| encode::fin(w, &m.id));
    consumer.send(b"NOP\n");
    (nsqd, producer, consumer)
}

#[test]
fn nsqd_exports_process_series_and_a_latency_summary() {
    let (nsqd, _producer, _consumer) = busy_nsqd();
    let labels = [("topic", "orders"), ("channel", "billing")];
    let samples = eventually(WAIT, || {
        let s = scrape(nsqd.http(), "/metrics");
        (value(
            &s,
            "nsq_channel_e2e_processing_latency_seconds_count",
            &labels,
        ) == Some(1.0))
        .then_some(s)
    })
    .expect("the FIN shows in the latency summary");
    assert_process_series(&samples);
    let v = |name, l: &[(&str, &str)]| value(&samples, name, l);
    assert_eq!(v("nsq_channel_in_flight", &labels), Some(1.0));
    assert_eq!(v("nsq_channel_messages_total", &labels), Some(2.0));
    assert_eq!(v("nsq_producers", &[]), Some(1.0));
    assert_eq!(v("nsq_channel_clients", &labels), Some(1.0));
    for q in ["0.99", "0.5"] {
        let l = [labels[0], labels[1], ("quantile", q)];
        let p = v("nsq_channel_e2e_processing_latency_seconds", &l);
        assert!(p.is_some_and(|p| p >= 0.0), "p{q}: {p:?}");
    }
    let sum = v("nsq_channel_e2e_processing_latency_seconds_sum", &labels);
    assert!(sum.is_some_and(|s| (0.0..60.0).contains(&s)), "{sum:?}");
    assert_eq!(
        v(
            "nsq_topic_e2e_processing_latency_seconds_count",
            &[("topic", "orders")]
        ),
        Some(1.0)
    );
    assert!(v("nsq_mem_heap_in_use_bytes", &[]).is_some_and(|b| b > 0.0));
    for gone in ["nsq_mem_heap_released_bytes", "nsq_mem_heap_objects"] {
        assert!(samples.iter().all(|s| s.name != gone), "{gone} is always 0");
    }
    let start = v("nsq_start_time_seconds", &[]).expect("start time");
    let process_start = v("process_start_time_seconds", &[]).expect("process start");
    assert!(
        (start - process_start).abs() < 60.0,
        "{start} vs {process_start}"
    );
}

#[test]
fn nsqlookupd_exports_its_registrations() {
    let lookupd = Nsqlookupd::start(&[]);
    let nsqd = Nsqd::start(&[&format!("--lookupd-tcp-address={}", lookupd.tcp())]);
    for path in [
        "/topic/create?topic=orders",
        "/channel/create?topic=orders&channel=billing",
    ] {
        assert_eq!(nsqd.http_req("POST", path, b"").status, 200, "{path}");
    }
    let samples = eventually(WAIT, || {
        let s = scrape(lookupd.http(), "/metrics");
        (value(&s, "nsqlookupd_topic_channels", &[("topic", "orders")]) == Some(1.0)).then_some(s)
    })
    .expect("lookupd's /metrics lists the node's topic and channel");
    let v = |name, l: &[(&str, &str)]| value(&samples, name, l);
    assert_eq!(v("nsqlookupd_producers", &[]), Some(1.0));
    assert_eq!(v("nsqlookupd_topics", &[]), Some(1.0));
    assert_eq!(v("nsqlookupd_channels", &[]), Some(1.0));
    assert_eq!(v("nsqlookupd_tombstones", &[]), Some(0.0));
    assert_eq!(
        v("nsqlookupd_topic_producers", &[("topic", "orders")]),
        Some(1.0)
    );
    assert_eq!(v("nsqlookupd_info", &[("version", "1.3.0")]), Some(1.0));
    assert_process_series(&samples);
}

#[test]
fn nsqadmin_exports_cluster_totals() {
    let lookupd = Nsqlookupd::start(&[]);
    let arg = format!("--lookupd-tcp-address={}", lookupd.tcp());
    let (a, b) = (Nsqd::start(&[&arg]), Nsqd::start(&[&arg]));
    for n in [&a, &b] {
        for path in [
            "/topic/create?topic=orders",
            "/channel/create?topic=orders&channel=billing",
        ] {
            assert_eq!(n.http_req("POST", path, b"").status, 200, "{path}");
        }
        assert_eq!(
            n.http_req("POST", "/pub?topic=orders", b"hello").status,
            200
        );
    }
    let admin = Nsqadmin::start(&[
        &format!("--lookupd-http-address={}", lookupd.http()),
        "--base-path=/admin",
    ]);
    let samples = eventually(WAIT, || {
        let s = scrape(admin.http(), "/admin/metrics");
        (value(&s, "nsqadmin_topic_nodes", &[("topic", "orders")]) == Some(2.0)).then_some(s)
    })
    .expect("nsqadmin sums both nodes");
    let v = |name, l: &[(&str, &str)]| value(&samples, name, l);
    let billing = [("topic", "orders"), ("channel", "billing")];
    assert_eq!(v("nsqadmin_cluster_reachable", &[]), Some(1.0));
    assert_eq!(v("nsqadmin_errors", &[]), Some(0.0));
    assert_eq!(v("nsqadmin_nodes", &[]), Some(2.0));
    assert_eq!(
        v("nsqadmin_topic_messages_total", &[("topic", "orders")]),
        Some(2.0)
    );
    assert_eq!(v("nsqadmin_channel_depth", &billing), Some(2.0));
    assert_eq!(v("nsqadmin_messages_total", &[]), Some(2.0));
    assert_process_series(&samples);

    // With the cluster gone, /metrics still answers, and says so.
    drop((a, b, lookupd));
    let s = scrape(admin.http(), "/admin/metrics");
    assert_eq!(value(&s, "nsqadmin_cluster_reachable", &[]), Some(0.0));
    assert_process_series(&s);
}

/// The metric names a PromQL expression selects: identifiers that are not
/// functions, keywords, label names (in braces or `by (...)`), durations or
/// Grafana variables.
fn promql_metrics(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset", // aggregations may put `by (...)` before their argument
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    if chars[i] == '"' {
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            i += if chars[i] == '\\' { 2 } else { 1 };
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    while i < chars.len() && chars[i] != '}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                }
            }
            '(' if skip_group => {
                // the label list of by/without/on/ignoring/group_*
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                i += 1;
                skip_group = false;
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let is_call = chars.get(j) == Some(&'(');
                if KEYWORDS.contains(&word.as_str()) {
                    skip_group = matches!(
                        word.as_str(),
                        "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                    );
                } else if !is_call {
                    out.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn promql_names_are_found() {
    assert_eq!(
        promql_metrics(
            r#"sum by (topic, channel) (rate(a_total{x=~"$y",z="}"}[$__rate_interval])) / ignoring(q) b_count offset 5m + 1e3 * time() - c:rec"#
        ),
        ["a_total", "b_count", "c:rec"].map(String::from).into()
    );
}

#[test]
fn the_grafana_dashboard_queries_series_nsqd_exports() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/nsqd.json");
    let text = std::fs::read_to_string(path).expect("deploy/grafana/nsqd.json");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    assert!(dash["uid"].is_string() && dash["title"].is_string());

    let mut queries: Vec<(String, String)> = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        let title = p["title"].as_str().unwrap_or("").to_string();
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().expect("every target has a PromQL expr");
            queries.push((title.clone(), expr.to_string()));
        }
    }
    assert!(queries.len() >= 20, "{} queries", queries.len());
    // label_values(metric{...}, label): only the metric is a series
    for v in dash["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(q) = v["definition"].as_str() {
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.rsplit_once(','))
                .map(|(m, _)| m.to_string())
                .unwrap_or_else(|| q.to_string());
            queries.push((format!("variable {}", v["name"]), inner));
        }
    }

    let (nsqd, _producer, _consumer) = busy_nsqd();
    let labels = [("topic", "orders"), ("channel", "billing")];
    let samples = eventually(WAIT, || {
        let s = scrape(nsqd.http(), "/metrics");
        (value(
            &s,
            "nsq_channel_e2e_processing_latency_seconds_count",
            &labels,
        ) == Some(1.0))
        .then_some(s)
    })
    .expect("latency is tracked");
    let exported: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    let mut used = BTreeSet::new();
    for (title, expr) in &queries {
        let names = promql_metrics(expr);
        assert!(!names.is_empty(), "{title}: no series in {expr}");
        for n in names {
            assert!(
                exported.contains(n.as_str()),
                "panel {title:?} queries {n}, which nsqd's /metrics does not export"
            );
            used.insert(n);
        }
    }
    // what the dashboard promises to show
    for must in [
        "nsq_topic_messages_total",
        "nsq_channel_depth",
        "nsq_channel_in_flight",
        "nsq_channel_deferred",
        "nsq_channel_requeued_total",
        "nsq_channel_timed_out_total",
        "nsq_channel_clients",
        "nsq_channel_e2e_processing_latency_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(used.contains(must), "the dashboard does not show {must}");
    }
}
