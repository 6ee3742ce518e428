//! NSQ's HTTP conventions, shared by nsqd, nsqlookupd and nsqadmin:
//! `X-NSQ-Content-Type: nsq; version=1.0` on API answers, errors as
//! `{"message":"CODE"}` with their status, 404 `NOT_FOUND` for unknown
//! paths, and httprouter's 405 `METHOD_NOT_ALLOWED` / OPTIONS with an
//! `Allow` header. Production builds only (axum runs on real tokio).

use crate::listen::{Listener, Peer};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::collections::BTreeMap;
use std::net::SocketAddr;

const NSQ_CONTENT_TYPE: &str = "nsq; version=1.0";
const JSON: &str = "application/json; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// An API answer (NSQ's `V1` decorator).
#[derive(Debug, Clone, PartialEq)]
pub enum V1 {
    /// 200 with a text body (`OK`), typed as Go's sniffing types it.
    Text(String),
    /// 200 with no body and no content type.
    Empty,
    /// 200 with a JSON body.
    Json(serde_json::Value),
    /// 200 with pre-serialised JSON (field order preserved).
    RawJson(Vec<u8>),
    /// An error: `{"message": text}` with this status.
    Err(u16, String),
}

impl V1 {
    pub fn err(code: u16, text: impl Into<String>) -> Self {
        V1::Err(code, text.into())
    }
}

fn with_nsq_header(mut r: Response) -> Response {
    r.headers_mut().insert(
        "X-NSQ-Content-Type",
        HeaderValue::from_static(NSQ_CONTENT_TYPE),
    );
    r
}

fn typed(status: StatusCode, content_type: Option<&'static str>, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(ct) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    r
}

/// The JSON error body NSQ sends.
pub fn error_body(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "message": text })).unwrap_or_default()
}

impl IntoResponse for V1 {
    fn into_response(self) -> Response {
        let r = match self {
            V1::Text(t) => typed(StatusCode::OK, Some(TEXT), Body::from(t)),
            V1::Empty => typed(StatusCode::OK, None, Body::empty()),
            V1::Json(v) => typed(
                StatusCode::OK,
                Some(JSON),
                Body::from(serde_json::to_vec(&v).unwrap_or_default()),
            ),
            V1::RawJson(b) => typed(StatusCode::OK, Some(JSON), Body::from(b)),
            V1::Err(code, text) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                typed(status, Some(JSON), Body::from(error_body(&text)))
            }
        };
        with_nsq_header(r)
    }
}

/// A plain-text answer without NSQ's header (`/ping`).
pub fn plain(status: u16, text: impl Into<String>) -> Response {
    typed(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Some(TEXT),
        Body::from(text.into()),
    )
}

/// A `/metrics` answer in Prometheus' text exposition format.
pub fn prometheus_text(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Query parameters as Go's `url.ParseQuery` gives them: every value of a
/// key, in order; `get` returns the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Params(map)
    }

    /// Go's `url.ParseQuery` strictly: a bad `%` escape or a `;` separator
    /// is an error (NSQ answers 400 `INVALID_REQUEST`).
    pub fn parse_strict(query: Option<&str>) -> Result<Params, V1> {
        let q = query.unwrap_or("");
        let bad_escape = |part: &str| {
            let b = part.as_bytes();
            b.iter().enumerate().any(|(i, &c)| {
                c == b'%'
                    && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            })
        };
        if q.split('&').any(|kv| kv.contains(';') || bad_escape(kv)) {
            return Err(V1::err(400, "INVALID_REQUEST"));
        }
        Ok(Self::parse(query))
    }

    pub fn from_request<B>(req: &axum::http::Request<B>) -> Params {
        Self::parse(req.uri().query())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn get_all(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

/// NSQ's topic/channel argument checks (`GetTopicChannelArgs`).
pub fn topic_channel_args(p: &Params) -> Result<(String, String), V1> {
    let topic = p
        .get("topic")
        .ok_or_else(|| V1::err(400, "MISSING_ARG_TOPIC"))?;
    if !nsq_core::wire::names::is_valid_topic_name(topic) {
        return Err(V1::err(400, "INVALID_ARG_TOPIC"));
    }
    let channel = p
        .get("channel")
        .ok_or_else(|| V1::err(400, "MISSING_ARG_CHANNEL"))?;
    if !nsq_core::wire::names::is_valid_channel_name(channel) {
        return Err(V1::err(400, "INVALID_ARG_CHANNEL"));
    }
    Ok((topic.to_string(), channel.to_string()))
}

/// Routes a path for the given methods; other methods get NSQ's 405 with an
/// `Allow` header, OPTIONS gets 200 with it (httprouter's behaviour).
pub fn route<S: Clone + Send + Sync + 'static>(
    methods: &[Method],
    handler: MethodRouter<S>,
) -> MethodRouter<S> {
    let mut allow: Vec<&str> = methods.iter().map(Method::as_str).collect();
    allow.push("OPTIONS");
    allow.sort_unstable();
    allow.dedup();
    let allow = allow.join(", ");
    handler.fallback(move |req: Request| {
        let allow = allow.clone();
        async move {
            let mut r = if req.method() == Method::OPTIONS {
                typed(StatusCode::OK, None, Body::empty())
            } else {
                V1::err(405, "METHOD_NOT_ALLOWED").into_response()
            };
            if let Ok(v) = HeaderValue::from_str(&allow) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r
        }
    })
}

/// Adds NSQ's 404 fallback and request logging to a router.
pub fn finish<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .fallback(|| async { V1::err(404, "NOT_FOUND") })
        .layer(axum::middleware::from_fn(log_request))
}

/// NSQ's access line: `200 GET /stats?format=json (127.0.0.1:50812) 1.234ms`.
async fn log_request(req: Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let remote = remote_addr(&req);
    let start = std::time::Instant::now();
    let r = next.run(req).await;
    tracing::info!(
        "{} {} {} ({}) {}",
        r.status().as_u16(),
        method,
        uri,
        remote,
        nsq_core::duration::go_string(start.elapsed())
    );
    r
}

/// Who sent `req`, as NSQ's `req.RemoteAddr` names it.
fn remote_addr(req: &Request) -> String {
    let ext = req.extensions();
    if let Some(ConnectInfo(p)) = ext.get::<ConnectInfo<Peer>>() {
        return p.to_string();
    }
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.to_string())
        .unwrap_or_default()
}

/// Serves `router` on an already bound listener until the task is dropped.
pub fn serve(listener: Listener, router: Router, label: &str) -> tokio::task::JoinHandle<()> {
    let label = label.to_string();
    tokio::spawn(async move {
        let addr = listener.local().map(|a| a.to_string()).unwrap_or_default();
        let svc = router.into_make_service_with_connect_info::<Peer>();
        if let Err(e) = axum::serve(listener, svc).await {
            tracing::error!("{label}: http.Serve() error - {e}");
        }
        tracing::info!("{label}: closing {addr}");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn call(app: &Router, method: Method, uri: &str) -> (u16, Vec<(String, String)>, String) {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn app() -> Router {
        finish(
            Router::new()
                .route("/pub", route(&[Method::POST], post(|| async { V1::Text("OK".into()) })))
                .route("/ping", route(&[Method::GET], get(|| async { plain(200, "OK") })))
                .route("/empty", route(&[Method::POST], post(|| async { V1::Empty })))
                .route(
                    "/q",
                    route(
                        &[Method::GET],
                        get(|req: Request| async move {
                            let p = Params::from_request(&req);
                            match topic_channel_args(&p) {
                                Ok((t, c)) => V1::Json(serde_json::json!({ "t": t, "c": c, "all": p.get_all("topic") })),
                                Err(e) => e,
                            }
                        }),
                    ),
                ),
        )
    }

    fn header<'a>(h: &'a [(String, String)], k: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[tokio::test]
    async fn matches_nsqs_conventions() {
        let app = app();
        let (s, h, b) = call(&app, Method::GET, "/pub").await;
        assert_eq!(
            (s, b.as_str()),
            (405, r#"{"message":"METHOD_NOT_ALLOWED"}"#)
        );
        assert_eq!(header(&h, "allow"), Some("OPTIONS, POST"));
        assert_eq!(header(&h, "x-nsq-content-type"), Some("nsq; version=1.0"));
        assert_eq!(header(&h, "content-type"), Some(JSON));

        let (s, h, _) = call(&app, Method::OPTIONS, "/pub").await;
        assert_eq!((s, header(&h, "allow")), (200, Some("OPTIONS, POST")));

        let (s, h, b) = call(&app, Method::POST, "/pub").await;
        assert_eq!(
            (s, b.as_str(), header(&h, "content-type")),
            (200, "OK", Some(TEXT))
        );
        assert_eq!(header(&h, "x-nsq-content-type"), Some("nsq; version=1.0"));

        let (s, h, b) = call(&app, Method::GET, "/ping").await;
        assert_eq!(
            (s, b.as_str(), header(&h, "x-nsq-content-type")),
            (200, "OK", None)
        );

        let (s, h, b) = call(&app, Method::POST, "/empty").await;
        assert_eq!((s, b.as_str(), header(&h, "content-type")), (200, "", None));

        let (s, _, b) = call(&app, Method::GET, "/no/such/path").await;
        assert_eq!((s, b.as_str()), (404, r#"{"message":"NOT_FOUND"}"#));
    }

    #[test]
    fn strict_params_refuse_what_go_refuses() {
        assert!(Params::parse_strict(Some("topic=a%20b&x=%41")).is_ok());
        assert!(Params::parse_strict(None).is_ok());
        for bad in ["topic=a%zz", "topic=a%4", "a=1;b=2", "%"] {
            assert_eq!(
                Params::parse_strict(Some(bad)),
                Err(V1::err(400, "INVALID_REQUEST")),
                "{bad}"
            );
        }
        let p = Params::parse_strict(Some("topic=a+b")).unwrap();
        assert_eq!(p.get("topic"), Some("a b"));
    }

    #[tokio::test]
    async fn topic_channel_args_like_nsq() {
        let app = app();
        let (s, _, b) = call(&app, Method::GET, "/q").await;
        assert_eq!((s, b.as_str()), (400, r#"{"message":"MISSING_ARG_TOPIC"}"#));
        let (_, _, b) = call(&app, Method::GET, "/q?topic=bad!").await;
        assert_eq!(b, r#"{"message":"INVALID_ARG_TOPIC"}"#);
        let (_, _, b) = call(&app, Method::GET, "/q?topic=t").await;
        assert_eq!(b, r#"{"message":"MISSING_ARG_CHANNEL"}"#);
        let (_, _, b) = call(
            &app,
            Method::GET,
            "/q?topic=t&channel=c%23ephemeral&topic=u",
        )
        .await;
        assert_eq!(b, r#"{"all":["t","u"],"c":"c#ephemeral","t":"t"}"#);
    }
}
