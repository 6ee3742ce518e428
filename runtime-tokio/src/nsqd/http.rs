//! nsqd's HTTP API (NSQ v1.3.0's endpoints, methods, parameters, status
//! codes and bodies) plus `GET /metrics`. The rules live in
//! `nsq_core::api` and `nsq_core::stats`; this file reads requests,
//! streams bodies against their limits and takes topic locks.

use super::admin::{self, AdminError};
use super::ops::ConnOps;
use super::shared::Deliver;
use super::{memstats, stats, Inner};
use crate::clock;
use crate::http_api::{finish, plain, route, serve, topic_channel_args, Params, V1};
use crate::listen::{Listener, Local};
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use nsq_core::api::config::{self, Change, Live};
use nsq_core::api::info::Info;
use nsq_core::api::publish::{self, BinaryMpub, BodyLimits, MpubParser, TextMpub};
use nsq_core::api::{bool_param, ApiError};
use nsq_core::io::nanos;
use nsq_core::options::TlsRequired;
use nsq_core::stats::{prometheus, text, StatsFilter};
use std::sync::Arc;
use tokio::net::TcpListener;

type Shared = State<Arc<Inner>>;

/// Serves the API over plain HTTP on `listener` until the task is aborted.
pub fn start(inner: Arc<Inner>, listener: Listener) -> tokio::task::JoinHandle<()> {
    serve(listener, router(inner, false), "HTTP")
}

/// Serves the API over TLS (`--https-address`) until the task is aborted.
pub fn start_https(
    inner: Arc<Inner>,
    listener: TcpListener,
    config: Arc<crate::tls::ServerConfig>,
) -> tokio::task::JoinHandle<()> {
    crate::tls::serve_https(listener, config, router(inner, true), "HTTPS")
}

fn router(inner: Arc<Inner>, over_tls: bool) -> Router {
    let p = |h| route(&[Method::POST], h);
    let g = |h| route(&[Method::GET], h);
    let r = Router::new()
        .route("/ping", g(get(ping)))
        .route("/info", g(get(info)))
        .route("/stats", g(get(do_stats)))
        .route("/metrics", g(get(metrics)))
        .route("/topic/create", p(post(topic_create)))
        .route("/topic/delete", p(post(topic_delete)))
        .route("/topic/empty", p(post(topic_empty)))
        .route("/topic/pause", p(post(|s, r| topic_pause(s, r, true))))
        .route("/topic/unpause", p(post(|s, r| topic_pause(s, r, false))))
        .route("/channel/create", p(post(channel_create)))
        .route("/channel/delete", p(post(channel_delete)))
        .route("/channel/empty", p(post(channel_empty)))
        .route("/channel/pause", p(post(|s, r| channel_pause(s, r, true))))
        .route(
            "/channel/unpause",
            p(post(|s, r| channel_pause(s, r, false))),
        )
        .route(
            "/config/{opt}",
            route(&[Method::GET, Method::PUT], get(config_get).put(config_put)),
        )
        .route("/debug/freememory", p(post(free_memory)))
        .with_state(Arc::clone(&inner));
    // Like NSQ, publishes are not logged one by one (added after the
    // logging layer, which wraps only the routes before it).
    let publish = Router::new()
        .route("/pub", p(post(do_pub)))
        .route("/mpub", p(post(do_mpub)))
        .with_state(Arc::clone(&inner));
    let r = finish(r).merge(publish);
    if inner.opts.tls_required == TlsRequired::Yes && !over_tls {
        // NSQ refuses plain HTTP when TLS is required for everything, and
        // says where HTTPS is.
        let port = inner.https_addr.map_or(0, |a| a.port());
        r.layer(axum::middleware::from_fn(
            move |_: Request, _: axum::middleware::Next| async move { tls_required(port) },
        ))
    } else {
        r
    }
}

fn tls_required(https_port: u16) -> Response {
    let mut r = Response::new(Body::from(format!(
        r#"{{"message": "TLS_REQUIRED", "https_port": {https_port}}}"#
    )));
    *r.status_mut() = StatusCode::FORBIDDEN;
    let h = r.headers_mut();
    h.insert(
        "X-NSQ-Content-Type",
        HeaderValue::from_static("nsq; version=1.0"),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn api_err(e: ApiError) -> V1 {
    V1::err(e.status, e.message)
}

/// An error answered before the body was read to its end: the connection
/// cannot be reused, and NSQ says so.
fn refuse(e: ApiError) -> Response {
    let mut r = api_err(e).into_response();
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn content_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A body read as far as its checker wanted.
struct Collected {
    bytes: Bytes,
    /// The whole body was read.
    complete: bool,
}

/// Reads `body` chunk by chunk; after each chunk `check` sees everything
/// so far and may refuse (reading stops there) or say it needs no more.
/// A body that arrives in one chunk is never copied.
async fn collect(
    mut body: Body,
    mut check: impl FnMut(&[u8]) -> Result<bool, ApiError>,
) -> Result<Collected, Response> {
    let mut first: Option<Bytes> = None;
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(V1::err(500, "INTERNAL_ERROR").into_response());
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far: &[u8] = match first.take() {
            None if buf.is_empty() => {
                first = Some(data);
                first.as_deref().unwrap_or_default()
            }
            prev => {
                if let Some(p) = prev {
                    buf.extend_from_slice(&p);
                }
                buf.extend_from_slice(&data);
                &buf
            }
        };
        match check(so_far) {
            // Refused with the body read to its end, the connection stays usable.
            Err(e) if body.is_end_stream() => return Err(api_err(e).into_response()),
            Err(e) => return Err(refuse(e)),
            Ok(true) => {
                let bytes = first.unwrap_or_else(|| buf.freeze());
                return Ok(Collected {
                    bytes,
                    complete: body.is_end_stream(),
                });
            }
            Ok(false) => {}
        }
    }
    Ok(Collected {
        bytes: first.unwrap_or_else(|| buf.freeze()),
        complete: true,
    })
}

fn params(req: &Request) -> Result<Params, V1> {
    Params::parse_strict(req.uri().query())
}

macro_rules! try_v1 {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        }
    };
}

async fn ping(State(inner): Shared) -> Response {
    if inner.is_healthy() {
        plain(200, "OK")
    } else {
        plain(500, inner.health())
    }
}

async fn info(State(inner): Shared) -> Response {
    // NSQ's /info: -1 for a unix socket, 0 for no HTTP listener
    let port = |l: &Local| l.port().map_or(-1, i64::from);
    let i = Info::new(
        &inner.opts,
        &inner.hostname,
        inner.http.as_ref().map_or(0, port),
        port(&inner.tcp),
        inner.start_time,
    );
    V1::RawJson(serde_json::to_vec(&i).unwrap_or_default()).into_response()
}

fn limits(inner: &Inner) -> BodyLimits {
    BodyLimits::new(inner.opts.max_msg_size, inner.opts.max_body_size)
}

async fn do_pub(State(inner): Shared, req: Request) -> Response {
    let limits = limits(&inner);
    if let Some(len) = content_length(&req) {
        if let Err(e) = publish::check_pub_len(len, &limits) {
            return refuse(e);
        }
    }
    let (parts, body) = req.into_parts();
    let body = match collect(body, |b| {
        publish::check_pub_len(b.len() as u64, &limits).map(|_| false)
    })
    .await
    {
        Ok(c) => c.bytes,
        Err(r) => return r,
    };
    try_v1!(publish::check_pub_body(&body, &limits).map_err(api_err));
    let params = try_v1!(Params::parse_strict(parts.uri.query()));
    let topic = try_v1!(publish::check_topic(params.get("topic")).map_err(api_err));
    // NSQ creates the topic before it looks at `defer`.
    let mut cell = Some(inner.registry.get_or_create(topic));
    let delay = match params.get("defer") {
        Some(d) => {
            try_v1!(publish::parse_defer(d, nanos(inner.opts.max_req_timeout)).map_err(api_err))
        }
        None => 0,
    };
    let now = clock::now();
    let r = ConnOps::publish_on(&inner.registry, &mut cell, topic, now, |t| {
        if delay > 0 {
            t.publish_deferred(body, delay, now);
            Ok(())
        } else {
            t.publish(vec![body], now, &mut Deliver::default())
        }
    });
    match settle(&inner, r).await {
        Ok(()) => V1::Text("OK".into()).into_response(),
        Err(e) => V1::err(503, e).into_response(),
    }
}

/// Waits, like a TCP publisher, until the published records are on disk
/// (synced, with --sync-every=1) before the answer.
async fn settle(
    inner: &Inner,
    r: Result<Option<super::ops::Durability>, String>,
) -> Result<(), String> {
    match r? {
        Some(d) => {
            d.wait(inner.opts.sync_every <= 1).await;
            Ok(())
        }
        None => Ok(()),
    }
}

async fn do_mpub(State(inner): Shared, req: Request) -> Response {
    let limits = limits(&inner);
    if let Some(len) = content_length(&req) {
        if let Err(e) = publish::check_mpub_len(len, &limits) {
            return refuse(e);
        }
    }
    let params = try_v1!(params(&req));
    let topic = try_v1!(publish::check_topic(params.get("topic")).map_err(api_err));
    // NSQ creates the topic before it reads the body.
    let mut cell = Some(inner.registry.get_or_create(topic));
    let body = req.into_body();
    let spans = if publish::binary_mode(params.get("binary")) {
        read_mpub(body, BinaryMpub::new(limits)).await
    } else {
        read_mpub(body, TextMpub::new(limits)).await
    };
    let (bytes, spans, complete) = match spans {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bodies: Vec<Bytes> = spans.into_iter().map(|(s, e)| bytes.slice(s..e)).collect();
    let now = clock::now();
    let r = ConnOps::publish_on(&inner.registry, &mut cell, topic, now, |t| {
        t.publish(bodies, now, &mut Deliver::default())
    });
    let mut resp = match settle(&inner, r).await {
        Ok(()) => V1::Text("OK".into()).into_response(),
        Err(e) => V1::err(503, e).into_response(),
    };
    if !complete {
        // Bytes after the last binary message were left unread.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The body and its messages' spans, and whether it was read to its end.
type Mpub = (Bytes, Vec<(usize, usize)>, bool);

async fn read_mpub(body: Body, mut parser: impl MpubParser) -> Result<Mpub, Response> {
    let c = collect(body, |b| {
        parser.feed(b)?;
        Ok(parser.done())
    })
    .await?;
    match parser.finish(&c.bytes) {
        Ok(spans) => Ok((c.bytes, spans, c.complete)),
        Err(e) if c.complete => Err(api_err(e).into_response()),
        Err(e) => Err(refuse(e)),
    }
}

fn filter_param(p: &Params, key: &str) -> Option<String> {
    p.get(key).filter(|v| !v.is_empty()).map(String::from)
}

async fn do_stats(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let filter = StatsFilter {
        topic: filter_param(&p, "topic"),
        channel: filter_param(&p, "channel"),
        include_clients: p
            .get("include_clients")
            .and_then(bool_param)
            .unwrap_or(true),
    };
    let include_mem = p.get("include_mem").and_then(bool_param).unwrap_or(true);
    let now = clock::now();
    let doc = stats::doc(&inner, &filter, include_mem, now);
    if p.get("format") == Some("json") {
        return V1::RawJson(serde_json::to_vec(&doc).unwrap_or_default()).into_response();
    }
    let version = nsq_core::version_string("nsqd");
    V1::Text(text::render(&doc, &version, inner.start_time, now)).into_response()
}

async fn metrics(State(inner): Shared) -> Response {
    let doc = stats::doc(&inner, &StatsFilter::default(), true, clock::now());
    crate::http_api::prometheus_text(prometheus::render(&doc, crate::process::read().as_ref()))
}

fn admin_result(r: Result<(), AdminError>) -> Response {
    match r {
        Ok(()) => V1::Empty,
        Err(AdminError::TopicNotFound) => V1::err(404, "TOPIC_NOT_FOUND"),
        Err(AdminError::ChannelNotFound) => V1::err(404, "CHANNEL_NOT_FOUND"),
    }
    .into_response()
}

/// The `topic` parameter, required.
fn topic_param(p: &Params) -> Result<&str, V1> {
    p.get("topic")
        .ok_or_else(|| api_err(publish::MISSING_ARG_TOPIC))
}

async fn topic_create(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let topic = try_v1!(publish::check_topic(p.get("topic")).map_err(api_err));
    inner.registry.get_or_create(topic);
    V1::Empty.into_response()
}

async fn topic_delete(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let topic = try_v1!(topic_param(&p));
    let cell = admin::delete_topic(&inner.registry, topic);
    // Answered once no restart can bring it back.
    if let Ok(cell) = &cell {
        cell.deletion_committed(None).await;
    }
    admin_result(cell.map(|_| ()))
}

async fn topic_empty(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let topic = try_v1!(publish::check_topic(p.get("topic")).map_err(api_err));
    admin_result(admin::empty_topic(&inner.registry, topic))
}

async fn topic_pause(State(inner): Shared, req: Request, paused: bool) -> Response {
    let p = try_v1!(params(&req));
    let topic = try_v1!(topic_param(&p));
    admin_result(admin::pause_topic(
        &inner.registry,
        topic,
        paused,
        clock::now(),
    ))
}

async fn channel_create(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let (t, c) = try_v1!(topic_channel_args(&p));
    admin_result(admin::create_channel(&inner.registry, &t, &c, clock::now()))
}

async fn channel_delete(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let (t, c) = try_v1!(topic_channel_args(&p));
    let cell = admin::delete_channel(&inner.registry, &t, &c);
    // Answered once no restart can bring it back.
    if let Ok(cell) = &cell {
        cell.deletion_committed(Some(&c)).await;
    }
    admin_result(cell.map(|_| ()))
}

async fn channel_empty(State(inner): Shared, req: Request) -> Response {
    let p = try_v1!(params(&req));
    let (t, c) = try_v1!(topic_channel_args(&p));
    admin_result(admin::empty_channel(&inner.registry, &t, &c))
}

async fn channel_pause(State(inner): Shared, req: Request, paused: bool) -> Response {
    let p = try_v1!(params(&req));
    let (t, c) = try_v1!(topic_channel_args(&p));
    admin_result(admin::pause_channel(
        &inner.registry,
        &t,
        &c,
        paused,
        clock::now(),
    ))
}

fn config_value(inner: &Inner, opt: &str) -> Response {
    let lookupd = inner.lookupd_addresses();
    let live = Live {
        log_level: inner.log_level(),
        lookupd_tcp_addresses: &lookupd,
    };
    match config::option_value(&inner.opts, live, opt) {
        Some(v) => V1::Json(v),
        None => api_err(config::INVALID_OPTION),
    }
    .into_response()
}

async fn config_get(State(inner): Shared, Path(opt): Path<String>) -> Response {
    config_value(&inner, &opt)
}

async fn config_put(State(inner): Shared, Path(opt): Path<String>, req: Request) -> Response {
    let max = inner.opts.max_msg_size.max(0) as usize;
    let body = match collect(req.into_body(), |b| {
        if b.len() > max {
            Err(config::VALUE_TOO_BIG)
        } else {
            Ok(false)
        }
    })
    .await
    {
        Ok(c) => c.bytes,
        Err(r) => return r,
    };
    match try_v1!(config::parse_put(&opt, &body).map_err(api_err)) {
        Change::LookupdTcpAddresses(addrs) => inner.set_lookupd_addresses(addrs),
        Change::LogLevel(level) => {
            if let Err(e) = inner.set_log_level(level) {
                tracing::error!("failed to set log level - {e}");
                return V1::err(500, "INTERNAL_ERROR").into_response();
            }
        }
    }
    config_value(&inner, &opt)
}

async fn free_memory() -> Response {
    memstats::free_memory();
    plain(200, "")
}
