//! The web UI, embedded in the binary: plain ES modules and CSS, no build
//! step and nothing fetched from elsewhere. `index.html` carries the
//! settings the pages need (base path, lookupds, whether the visitor may act).

use nsq_core::admin::AdminOptions;

/// An embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("static/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything under `/static/`.
pub const ASSETS: &[Asset] = &[
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("live.js", JS),
    asset!("spark.js", JS),
    asset!("dialog.js", JS),
    asset!("graphite.js", JS),
    asset!("widgets.js", JS),
    asset!("page_topics.js", JS),
    asset!("page_topic.js", JS),
    asset!("page_channel.js", JS),
    asset!("page_nodes.js", JS),
    asset!("page_node.js", JS),
    asset!("page_counter.js", JS),
    asset!("page_lookup.js", JS),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

pub fn find(name: &str) -> Option<Asset> {
    ASSETS.iter().find(|a| a.name == name).copied()
}

const INDEX: &str = include_str!("static/index.html");

/// JSON that is safe inside a `<script>` element.
fn script_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The page every UI path serves.
pub fn index_html(opts: &AdminOptions, is_admin: bool) -> String {
    let base = if opts.base_path == "/" {
        String::new()
    } else {
        opts.base_path.clone()
    };
    let config = serde_json::json!({
        "version": nsq_core::NSQ_VERSION,
        "base_path": opts.base_path,
        "graph_enabled": !opts.graphite_url.is_empty(),
        "graphite_url": if opts.proxy_graphite { String::new() } else { opts.graphite_url.clone() },
        "proxy_graphite": opts.proxy_graphite,
        "statsd_interval": opts.statsd_interval_secs(),
        "statsd_counter_format": opts.statsd_counter_format,
        "statsd_gauge_format": opts.statsd_gauge_format,
        "statsd_prefix": opts.statsd_prefix,
        "nsqlookupd": opts.nsqlookupd_http_addresses,
        "nsqd": opts.nsqd_http_addresses,
        "is_admin": is_admin,
    });
    INDEX
        .replace("{{BASE}}", &attr_escape(&base))
        .replace("{{CONFIG}}", &script_json(&config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_a_type() {
        assert!(find("app.js").is_some_and(|a| a.content_type.starts_with("text/javascript")));
        assert!(find("nope.js").is_none());
        assert!(find("../mod.rs").is_none());
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{}", a.name);
        }
    }

    #[test]
    fn the_index_carries_the_settings_safely() {
        let opts = AdminOptions {
            base_path: "/admin".into(),
            nsqlookupd_http_addresses: vec!["</script><b>:1".into()],
            ..AdminOptions::default()
        };
        let html = index_html(&opts, false);
        assert!(html.contains(r#"href="/admin/static/style.css""#));
        assert!(html.contains(r#""is_admin":false"#));
        assert!(!html.contains("</script><b>"));
        assert!(html.contains(r"\u003c/script\u003e"));
        let root = index_html(&AdminOptions::default(), true);
        assert!(root.contains(r#"src="/static/app.js""#));
    }
}
