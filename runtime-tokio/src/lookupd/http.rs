//! nsqlookupd's HTTP API with NSQ v1.3.0's paths, methods, parameters,
//! status codes and JSON (the conventions are `http_api`'s; the answers are
//! core's `lookup::views`).

use super::Shared;
use crate::clock;
use crate::http_api::{
    finish, plain, prometheus_text, route, serve as serve_router, topic_channel_args, Params, V1,
};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use nsq_core::lookup::views;
use serde::Serialize;
use std::sync::Arc;

type S = State<Arc<Shared>>;

fn json<T: Serialize>(v: &T) -> V1 {
    match serde_json::to_vec(v) {
        Ok(b) => V1::RawJson(b),
        Err(e) => V1::err(500, e.to_string()),
    }
}

fn topic_arg(p: &Params) -> Result<&str, V1> {
    p.get("topic")
        .ok_or_else(|| V1::err(400, "MISSING_ARG_TOPIC"))
}

async fn ping() -> Response {
    plain(200, "OK")
}

async fn info() -> V1 {
    json(&views::info())
}

async fn debug(State(s): S) -> V1 {
    json(&views::debug(&s.db()))
}

async fn topics(State(s): S) -> V1 {
    json(&views::topics(&s.db()))
}

async fn channels(State(s): S, req: Request) -> V1 {
    let p = Params::from_request(&req);
    match topic_arg(&p) {
        Ok(t) => json(&views::channels(&s.db(), t)),
        Err(e) => e,
    }
}

async fn lookup(State(s): S, req: Request) -> V1 {
    let p = Params::from_request(&req);
    let topic = match topic_arg(&p) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let found = views::lookup(&s.db(), topic, s.opts.activity(), clock::now());
    match found {
        Some(v) => json(&v),
        None => V1::err(404, "TOPIC_NOT_FOUND"),
    }
}

async fn nodes(State(s): S) -> V1 {
    json(&views::nodes(&s.db(), s.opts.activity(), clock::now()))
}

async fn metrics(State(s): S) -> Response {
    let process = crate::process::read();
    let text = nsq_core::lookup::metrics::render(
        &s.db(),
        s.opts.activity(),
        clock::now(),
        process.as_ref(),
    );
    prometheus_text(text)
}

async fn topic_create(State(s): S, req: Request) -> V1 {
    let p = Params::from_request(&req);
    let topic = match topic_arg(&p) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if !nsq_core::wire::names::is_valid_topic_name(topic) {
        return V1::err(400, "INVALID_ARG_TOPIC");
    }
    tracing::info!("DB: adding topic({topic})");
    views::create_topic(&mut s.db(), topic);
    V1::Empty
}

async fn topic_delete(State(s): S, req: Request) -> V1 {
    let p = Params::from_request(&req);
    let topic = match topic_arg(&p) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let removed = views::delete_topic(&mut s.db(), topic);
    for c in removed {
        tracing::info!("DB: removing channel({c}) from topic({topic})");
    }
    tracing::info!("DB: removing topic({topic})");
    V1::Empty
}

async fn topic_tombstone(State(s): S, req: Request) -> V1 {
    let p = Params::from_request(&req);
    let topic = match topic_arg(&p) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let Some(node) = p.get("node") else {
        return V1::err(400, "MISSING_ARG_NODE");
    };
    tracing::info!("DB: setting tombstone for producer@{node} of topic({topic})");
    s.db().tombstone(topic, node, clock::now());
    V1::Empty
}

async fn channel_create(State(s): S, req: Request) -> V1 {
    let (topic, channel) = match topic_channel_args(&Params::from_request(&req)) {
        Ok(tc) => tc,
        Err(e) => return e,
    };
    tracing::info!("DB: adding channel({channel}) in topic({topic})");
    views::create_channel(&mut s.db(), &topic, &channel);
    V1::Empty
}

async fn channel_delete(State(s): S, req: Request) -> V1 {
    let (topic, channel) = match topic_channel_args(&Params::from_request(&req)) {
        Ok(tc) => tc,
        Err(e) => return e,
    };
    if !views::delete_channel(&mut s.db(), &topic, &channel) {
        return V1::err(404, "CHANNEL_NOT_FOUND");
    }
    tracing::info!("DB: removing channel({channel}) from topic({topic})");
    V1::Empty
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let g = [Method::GET];
    let p = [Method::POST];
    finish(
        Router::new()
            .route("/ping", route(&g, get(ping)))
            .route("/info", route(&g, get(info)))
            .route("/debug", route(&g, get(debug)))
            .route("/lookup", route(&g, get(lookup)))
            .route("/topics", route(&g, get(topics)))
            .route("/channels", route(&g, get(channels)))
            .route("/nodes", route(&g, get(nodes)))
            .route("/metrics", route(&g, get(metrics)))
            .route("/topic/create", route(&p, post(topic_create)))
            .route("/topic/delete", route(&p, post(topic_delete)))
            .route("/channel/create", route(&p, post(channel_create)))
            .route("/channel/delete", route(&p, post(channel_delete)))
            .route("/topic/tombstone", route(&p, post(topic_tombstone))),
    )
    .with_state(shared)
}

pub(crate) fn serve(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    serve_router(
        crate::listen::Listener::Tcp(listener),
        router(shared),
        "HTTP",
    )
}
