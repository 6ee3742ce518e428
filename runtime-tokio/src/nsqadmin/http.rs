//! nsqadmin's HTTP server: NSQ v1.3.0's API paths under `--base-path`
//! (NSQ's conventions from `http_api`), the web UI's pages and assets, and
//! `/render` for `--proxy-graphite`.

use super::assets;
use super::cluster::Sources;
use super::Shared;
use crate::clock;
use crate::http_api::{finish, plain, prometheus_text, route, Params, V1};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use nsq_core::admin::action::{parse_action, parse_create, parse_tombstone, Refusal, Target};
use nsq_core::admin::counter::counter;
use nsq_core::admin::metrics::{render as render_metrics, Scrape};
use nsq_core::admin::notify::{basic_auth_header, basic_auth_user, request_url, AdminAction};
use nsq_core::admin::options::CONFIG_BODY_LIMIT;
use nsq_core::admin::overview::overview;
use nsq_core::admin::producer::search;
use nsq_core::admin::replies::{self, WithMessage};
use nsq_core::admin::stats::node_totals;
use nsq_core::admin::{aggregate_channel, aggregate_topic, graphite, warning_message, Gathered};
use nsq_core::io::SECOND;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

type S = State<Arc<Shared>>;

/// The request's URI before the base path came off.
#[derive(Clone)]
struct FullUri(Uri);

fn json<T: Serialize>(v: &T) -> V1 {
    match serde_json::to_vec(v) {
        Ok(b) => V1::RawJson(b),
        Err(e) => V1::err(500, e.to_string()),
    }
}

fn refused(r: Refusal) -> V1 {
    V1::Err(r.status, r.message)
}

/// A question no node answered: 502, and the log says what was tried.
fn upstream(what: &str, e: String) -> V1 {
    tracing::error!("failed to {what} - {e}");
    V1::err(502, format!("UPSTREAM_ERROR: {e}"))
}

/// Keeps the partial errors of a step for the answer's `message`.
fn keep<T>(messages: &mut Vec<String>, g: Gathered<T>) -> T {
    if let Some(text) = g.partial_text() {
        tracing::warn!("{text}");
        messages.push(text);
    }
    g.value
}

/// What a handler knows of the request behind an action.
struct Caller {
    peer: SocketAddr,
    headers: HeaderMap,
    uri: FullUri,
}

impl Caller {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn is_admin(&self, s: &Shared) -> bool {
        let opts = s.opts();
        opts.is_admin(self.header(&opts.acl_http_header))
    }

    /// Queues the notification of an action (if notifications are on).
    fn notify(&self, s: &Shared, action: String, topic: &str, channel: &str, node: &str) {
        if !s.notifier.enabled() {
            return;
        }
        let path = self
            .uri
            .0
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        s.notifier.send(AdminAction {
            action,
            topic: topic.to_string(),
            channel: channel.to_string(),
            node: node.to_string(),
            timestamp: clock::now() / SECOND,
            user: basic_auth_user(self.header("authorization")),
            remote_ip: self.peer.to_string(),
            user_agent: self.header("user-agent").unwrap_or("").to_string(),
            url: request_url(
                self.header("x-scheme") == Some("https"),
                self.header("host").unwrap_or(""),
                path,
            ),
            via: s.via.clone(),
        });
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, V1> {
    match Limited::new(body, limit + 1).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(V1::err(413, "INVALID_VALUE")),
    }
}

async fn caller(req: Request) -> (Caller, Result<Bytes, V1>) {
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let uri = parts
        .extensions
        .get::<FullUri>()
        .cloned()
        .unwrap_or(FullUri(parts.uri.clone()));
    let c = Caller {
        peer,
        headers: parts.headers,
        uri,
    };
    (c, read_body(body, CONFIG_BODY_LIMIT).await)
}

async fn ping() -> Response {
    plain(200, "OK")
}

async fn index(State(s): S, headers: HeaderMap) -> Response {
    let opts = s.opts();
    let user = headers
        .get(opts.acl_http_header.as_str())
        .and_then(|v| v.to_str().ok());
    let html = assets::index_html(&opts, opts.is_admin(user));
    let mut r = Response::new(Body::from(html));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn static_asset(Path(name): Path<String>) -> Response {
    match assets::find(&name) {
        Some(a) => {
            let mut r = Response::new(Body::from(a.body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            // Embedded in the binary: a new binary may change them.
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => V1::err(404, "NOT_FOUND").into_response(),
    }
}

async fn topics(State(s): S, req: Request) -> V1 {
    let p = match Params::parse_strict(req.uri().query()) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let src = Sources::of(&s.opts());
    let mut messages = Vec::new();
    let names = match s.cluster.topics(&src).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get topics", e),
    };
    if p.get("inactive") != Some("true") {
        return json(&replies::Topics {
            topics: names,
            message: warning_message(&messages),
        });
    }
    let mut inactive = std::collections::BTreeMap::new();
    if let Sources::Lookupds(lookupds) = &src {
        // Each topic's nodes at once; a topic whose lookup failed is not
        // called inactive (Go's nsqadmin does call it so).
        let checks: Vec<_> = names
            .into_iter()
            .map(|t| {
                let (cluster, lookupds) = (s.cluster.clone(), lookupds.clone());
                tokio::spawn(async move {
                    let producers = cluster.lookupd_topic_producers(&t, &lookupds).await;
                    let channels = match &producers {
                        Ok(g) if g.value.is_empty() => {
                            Some(cluster.lookupd_topic_channels(&t, &lookupds).await)
                        }
                        _ => None,
                    };
                    (t, producers, channels)
                })
            })
            .collect();
        for c in checks {
            let Ok((topic, producers, channels)) = c.await else {
                continue;
            };
            match producers {
                Err(e) => messages.push(e),
                Ok(g) => {
                    keep(&mut messages, g);
                }
            }
            match channels {
                Some(Ok(g)) => {
                    let chans = keep(&mut messages, g);
                    inactive.insert(topic, chans);
                }
                Some(Err(e)) => {
                    messages.push(e);
                    inactive.insert(topic, Vec::new());
                }
                None => {}
            }
        }
    }
    json(&replies::InactiveTopics {
        topics: inactive,
        message: warning_message(&messages),
    })
}

async fn topic(State(s): S, Path(topic): Path<String>) -> V1 {
    let src = Sources::of(&s.opts());
    let mut messages = Vec::new();
    let producers = match s.cluster.topic_producers(&topic, &src).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get topic producers", e),
    };
    let rows = match s.cluster.stats(&producers, &topic, "", false).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get topic metadata", e),
    };
    json(&WithMessage {
        inner: aggregate_topic(&topic, rows),
        message: warning_message(&messages),
    })
}

async fn channel(State(s): S, Path((topic, channel)): Path<(String, String)>) -> V1 {
    let src = Sources::of(&s.opts());
    let mut messages = Vec::new();
    let producers = match s.cluster.topic_producers(&topic, &src).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get topic producers", e),
    };
    let rows = match s.cluster.stats(&producers, &topic, &channel, true).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get channel metadata", e),
    };
    json(&WithMessage {
        inner: aggregate_channel(&topic, &channel, &rows),
        message: warning_message(&messages),
    })
}

async fn nodes(State(s): S) -> V1 {
    let src = Sources::of(&s.opts());
    let mut messages = Vec::new();
    let nodes = match s.cluster.producers(&src).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get nodes", e),
    };
    json(&replies::Nodes {
        nodes,
        message: warning_message(&messages),
    })
}

async fn node(State(s): S, Path(node): Path<String>) -> V1 {
    let src = Sources::of(&s.opts());
    let mut messages = Vec::new();
    let producers = match s.cluster.producers(&src).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get producers", e),
    };
    let Some(p) = search(&producers, &node) else {
        return V1::err(404, "NODE_NOT_FOUND");
    };
    let topics = match s.cluster.stats(std::slice::from_ref(p), "", "", true).await {
        Ok(g) => keep(&mut messages, g),
        Err(e) => return upstream("get nsqd stats", e),
    };
    let (total_messages, total_clients) = node_totals(&topics);
    json(&replies::Node {
        node,
        topics,
        total_messages,
        total_clients,
        message: warning_message(&messages),
    })
}

/// Every node's rows (no clients), for the counter and the overview.
async fn all_rows(
    s: &Shared,
    messages: &mut Vec<String>,
) -> Result<Vec<nsq_core::admin::TopicStats>, V1> {
    let src = Sources::of(&s.opts());
    let producers = match s.cluster.producers(&src).await {
        Ok(g) => keep(messages, g),
        Err(e) => return Err(upstream("get counter producer list", e)),
    };
    match s.cluster.stats(&producers, "", "", false).await {
        Ok(g) => Ok(keep(messages, g)),
        Err(e) => Err(upstream("get nsqd stats", e)),
    }
}

async fn counter_handler(State(s): S) -> V1 {
    let mut messages = Vec::new();
    match all_rows(&s, &mut messages).await {
        Ok(rows) => json(&replies::Counter {
            stats: counter(&rows),
            message: warning_message(&messages),
        }),
        Err(e) => e,
    }
}

async fn overview_handler(State(s): S) -> V1 {
    let mut messages = Vec::new();
    match all_rows(&s, &mut messages).await {
        Ok(rows) => json(&replies::Overview {
            topics: overview(&rows),
            message: warning_message(&messages),
        }),
        Err(e) => e,
    }
}

/// `/metrics` (ours): the cluster totals from one round of every node's
/// `/stats`, and this process's series. A cluster that cannot be reached
/// is a 200 that says so (`nsqadmin_cluster_reachable 0`), not an error.
async fn metrics(State(s): S) -> Response {
    let src = Sources::of(&s.opts());
    let mut errors = 0;
    let mut reachable = true;
    let mut rows = Vec::new();
    let mut nodes = 0;
    match s.cluster.producers(&src).await {
        Ok(g) => {
            errors += g.errors.len();
            nodes = g.value.len();
            match s.cluster.stats(&g.value, "", "", false).await {
                Ok(st) => {
                    errors += st.errors.len();
                    rows = st.value;
                }
                Err(e) => {
                    tracing::warn!("metrics: {e}");
                    errors += 1;
                    reachable = false;
                }
            }
        }
        Err(e) => {
            tracing::warn!("metrics: {e}");
            errors += 1;
            reachable = false;
        }
    }
    let scrape = Scrape {
        nodes,
        rows: &rows,
        errors,
        reachable,
    };
    let process = crate::process::read();
    prometheus_text(render_metrics(&scrape, process.as_ref()))
}

/// Applies an action's outcome: 502 if nothing could be done, else the
/// warnings; the notification goes out either way once something was tried.
fn acted(outcome: Result<Gathered<()>, String>, what: &str) -> V1 {
    match outcome {
        Ok(g) => {
            let mut messages = Vec::new();
            keep(&mut messages, g);
            json(&replies::Message {
                message: warning_message(&messages),
            })
        }
        Err(e) => upstream(what, e),
    }
}

async fn create(State(s): S, req: Request) -> V1 {
    let (c, body) = caller(req).await;
    if !c.is_admin(&s) {
        return V1::err(403, "FORBIDDEN");
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return e,
    };
    let (topic, channel) = match parse_create(&body) {
        Ok(tc) => tc,
        Err(r) => return refused(r),
    };
    let target = if channel.is_empty() {
        Target::Topic(&topic)
    } else {
        Target::Channel(&topic, &channel)
    };
    let src = Sources::of(&s.opts());
    let outcome = s.cluster.create(target, &src).await;
    if outcome.is_ok() {
        c.notify(&s, "create_topic".into(), &topic, "", "");
        if !channel.is_empty() {
            c.notify(&s, "create_channel".into(), &topic, &channel, "");
        }
    }
    acted(outcome, "create topic/channel")
}

async fn topic_action(State(s): S, Path(topic): Path<String>, req: Request) -> V1 {
    act(&s, Target::Topic(&topic), req).await
}

async fn channel_action(
    State(s): S,
    Path((topic, channel)): Path<(String, String)>,
    req: Request,
) -> V1 {
    act(&s, Target::Channel(&topic, &channel), req).await
}

async fn act(s: &Shared, target: Target<'_>, req: Request) -> V1 {
    let (c, body) = caller(req).await;
    if !c.is_admin(s) {
        return V1::err(403, "FORBIDDEN");
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return e,
    };
    let action = match parse_action(&body) {
        Ok(a) => a,
        Err(r) => return refused(r),
    };
    if let Err(r) = target.check() {
        return refused(r);
    }
    let src = Sources::of(&s.opts());
    let outcome = s.cluster.act(action, target, &src).await;
    if outcome.is_ok() {
        c.notify(
            s,
            action.notification(target),
            target.topic(),
            target.channel(),
            "",
        );
    }
    acted(outcome, &format!("{} topic/channel", action.name()))
}

async fn delete_topic(State(s): S, Path(topic): Path<String>, req: Request) -> V1 {
    remove(&s, Target::Topic(&topic), req).await
}

async fn delete_channel(
    State(s): S,
    Path((topic, channel)): Path<(String, String)>,
    req: Request,
) -> V1 {
    remove(&s, Target::Channel(&topic, &channel), req).await
}

async fn remove(s: &Shared, target: Target<'_>, req: Request) -> V1 {
    let (c, _) = caller(req).await;
    if !c.is_admin(s) {
        return V1::err(403, "FORBIDDEN");
    }
    if let Err(r) = target.check() {
        return refused(r);
    }
    let src = Sources::of(&s.opts());
    let outcome = s.cluster.delete(target, &src).await;
    if outcome.is_ok() {
        c.notify(
            s,
            target.notification("delete"),
            target.topic(),
            target.channel(),
            "",
        );
    }
    acted(
        outcome,
        &format!("delete {}", target.notification("").trim_start_matches('_')),
    )
}

async fn tombstone(State(s): S, Path(node): Path<String>, req: Request) -> V1 {
    let (c, body) = caller(req).await;
    if !c.is_admin(&s) {
        return V1::err(403, "FORBIDDEN");
    }
    let body = match body {
        Ok(b) => b,
        Err(_) => return V1::err(400, "INVALID_BODY"),
    };
    let topic = match parse_tombstone(&body) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    let lookupds = s.opts().nsqlookupd_http_addresses.clone();
    let outcome = s.cluster.tombstone(&topic, &node, &lookupds).await;
    if outcome.is_ok() {
        c.notify(&s, "tombstone_topic_producer".into(), &topic, "", &node);
    }
    acted(outcome, "tombstone node for topic")
}

async fn graphite_rate(State(s): S, req: Request) -> V1 {
    let p = match Params::parse_strict(req.uri().query()) {
        Ok(p) => p,
        Err(_) => return V1::err(400, "INVALID_REQUEST"),
    };
    if p.get("metric") != Some("rate") {
        return V1::err(400, "INVALID_ARG_METRIC");
    }
    let Some(target) = p.get("target") else {
        return V1::err(400, "INVALID_ARG_TARGET");
    };
    let opts = s.opts();
    let interval = opts.statsd_interval_secs();
    let url = format!(
        "{}{}",
        opts.graphite_url.trim_end_matches('/'),
        graphite::render_path(interval, target)
    );
    tracing::info!("GRAPHITE: {url}");
    let rate = match s.cluster.client.get_v1(&url).await {
        Ok(body) => graphite::rate(&body, interval),
        Err(e) => Err(e),
    };
    match rate {
        Ok(rate) => json(&replies::Rate { rate }),
        Err(e) => {
            tracing::error!("graphite request failed - {e}");
            V1::err(500, "INTERNAL_ERROR")
        }
    }
}

/// `--proxy-graphite`: `/render` passed on to graphite (with the user and
/// password of `--graphite-url` as basic auth, as NSQ does).
async fn render_proxy(State(s): S, req: Request) -> Response {
    let opts = s.opts();
    let (base, auth) = split_userinfo(opts.graphite_url.trim_end_matches('/'));
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{base}/render{query}");
    let mut headers = Vec::new();
    if let Some((u, p)) = auth {
        headers.push(("Authorization".to_string(), basic_auth_header(&u, &p)));
    }
    match s
        .cluster
        .client
        .request("GET", &url, &headers, Bytes::new())
        .await
    {
        Ok(a) => {
            let mut r = Response::new(Body::from(a.body));
            *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (k, v) in a.headers {
                if k == "content-type" {
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        r.headers_mut().insert(header::CONTENT_TYPE, v);
                    }
                }
            }
            r
        }
        Err(e) => {
            tracing::error!("graphite proxy: {e}");
            (StatusCode::BAD_GATEWAY, e).into_response()
        }
    }
}

/// `http://user:pass@host/x` → (`http://host/x`, user and password).
fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((info, host)) => {
            let (u, p) = info.split_once(':').unwrap_or((info, ""));
            (
                format!("{scheme}://{host}{}", &rest[authority_end..]),
                Some((u.to_string(), p.to_string())),
            )
        }
        None => (url.to_string(), None),
    }
}

async fn config(State(s): S, Path(opt): Path<String>, req: Request) -> V1 {
    let method = req.method().clone();
    let (c, body) = caller(req).await;
    if !s.opts().config_allowed_from(c.peer.ip()) {
        return V1::err(403, "FORBIDDEN");
    }
    if method == Method::PUT {
        let body = match body {
            Ok(b) => b,
            Err(e) => return e,
        };
        let next = match s.opts().with_config(&opt, &body) {
            Ok(n) => n,
            Err(r) => return refused(r),
        };
        if let Err(e) = s.set_opts(next) {
            tracing::error!("failed to change the log level - {e}");
            return V1::err(500, "INTERNAL_ERROR");
        }
    }
    match s.opts().config_value(&opt) {
        Some(v) => V1::Json(v),
        None => V1::err(400, "INVALID_OPTION"),
    }
}

/// Serves the API under `--base-path`: a request outside it is not found;
/// inside, the base is taken off (the full URI stays for notifications).
async fn under_base(State(s): S, mut req: Request, next: Next) -> Response {
    let base = s.opts().base_path.clone();
    if base == "/" {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let rest = match path.strip_prefix(base.as_str()) {
        Some("") => "/".to_string(),
        Some(r) if r.starts_with('/') => r.to_string(),
        _ => return V1::err(404, "NOT_FOUND").into_response(),
    };
    let original = req.uri().clone();
    let pq = match original.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    match pq.parse() {
        Ok(uri) => {
            *req.uri_mut() = uri;
            req.extensions_mut().insert(FullUri(original));
            next.run(req).await
        }
        Err(_) => V1::err(404, "NOT_FOUND").into_response(),
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let g = [Method::GET];
    let gp = [Method::GET, Method::POST];
    let gpd = [Method::GET, Method::POST, Method::DELETE];
    let mut r = Router::new()
        .route("/", route(&g, get(index)))
        .route("/topics", route(&g, get(index)))
        .route("/topics/{topic}", route(&g, get(index)))
        .route("/topics/{topic}/{channel}", route(&g, get(index)))
        .route("/nodes", route(&g, get(index)))
        .route("/nodes/{node}", route(&g, get(index)))
        .route("/counter", route(&g, get(index)))
        .route("/lookup", route(&g, get(index)))
        .route("/ping", route(&g, get(ping)))
        .route("/metrics", route(&g, get(metrics)))
        .route("/static/{asset}", route(&g, get(static_asset)))
        .route("/api/topics", route(&gp, get(topics).post(create)))
        .route(
            "/api/topics/{topic}",
            route(&gpd, get(topic).post(topic_action).delete(delete_topic)),
        )
        .route(
            "/api/topics/{topic}/{channel}",
            route(
                &gpd,
                get(channel).post(channel_action).delete(delete_channel),
            ),
        )
        .route("/api/nodes", route(&g, get(nodes)))
        .route(
            "/api/nodes/{node}",
            route(&[Method::GET, Method::DELETE], get(node).delete(tombstone)),
        )
        .route("/api/counter", route(&g, get(counter_handler)))
        .route("/api/overview", route(&g, get(overview_handler)))
        .route("/api/graphite", route(&g, get(graphite_rate)))
        .route(
            "/config/{opt}",
            route(&[Method::GET, Method::PUT], get(config).put(config)),
        );
    if shared.opts().proxy_graphite {
        r = r.route("/render", route(&g, get(render_proxy)));
    }
    let api = finish(r).with_state(Arc::clone(&shared));
    // The base path comes off before the API routes (a layer on `api`
    // itself would run after routing).
    Router::new()
        .fallback_service(api)
        .layer(axum::middleware::from_fn_with_state(shared, under_base))
}

pub(crate) fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    let app = router(shared);
    tokio::spawn(async move {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let svc = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, svc).await {
            tracing::error!("HTTP: http.Serve() error - {e}");
        }
        tracing::info!("HTTP: closing {addr}");
    })
}

#[cfg(test)]
mod tests {
    use super::split_userinfo;

    #[test]
    fn graphite_credentials_come_off_the_url() {
        assert_eq!(
            split_userinfo("http://u:p@graphite:8080/base"),
            (
                "http://graphite:8080/base".to_string(),
                Some(("u".into(), "p".into()))
            )
        );
        assert_eq!(
            split_userinfo("https://graphite"),
            ("https://graphite".to_string(), None)
        );
    }
}
