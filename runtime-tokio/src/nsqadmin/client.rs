//! nsqadmin's HTTP client for nsqd, nsqlookupd, graphite and the
//! notification endpoint: plain HTTP or HTTPS (`--http-client-tls-*`),
//! NSQ's two timeouts, Go's error wording, and NSQ's retry over HTTPS when
//! a node answers 403 with its `https_port` (nsqd `--tls-required`).

use crate::stream::BoxStream;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use nsq_core::admin::errors::http_status_error;
use nsq_core::admin::producer::join_host_port;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

const ACCEPT_V1: &str = "application/vnd.nsq; version=1.0";
/// Largest answer read (a big cluster's `/stats` is a few MB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct Upstream {
    connect: Duration,
    request: Duration,
    /// `Err` says why HTTPS is not possible (no CA configured).
    tls: Result<Arc<crate::tls::ClientConfig>, String>,
}

struct Target {
    https: bool,
    host: String,
    port: u16,
    path_and_query: String,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let uri: Uri = url.parse().map_err(|e| format!("parse {url:?}: {e}"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("parse {url:?}: unsupported protocol scheme")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("parse {url:?}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    Ok(Target {
        https,
        host,
        port,
        path_and_query,
    })
}

impl Upstream {
    /// `tls` is the client configuration for `https://` (or why there is none).
    pub fn new(
        connect: Duration,
        request: Duration,
        tls: Result<Arc<crate::tls::ClientConfig>, String>,
    ) -> Self {
        Upstream {
            connect,
            request,
            tls,
        }
    }

    /// Go NSQ's `GETV1`: the body of a 200 answer.
    pub async fn get_v1(&self, url: &str) -> Result<Bytes, String> {
        self.v1("GET", url).await
    }

    /// Go NSQ's `POSTV1` (no body): succeeds on 200.
    pub async fn post_v1(&self, url: &str) -> Result<(), String> {
        self.v1("POST", url).await.map(|_| ())
    }

    async fn v1(&self, method: &str, url: &str) -> Result<Bytes, String> {
        let headers = [("Accept".to_string(), ACCEPT_V1.to_string())];
        let mut url = url.to_string();
        let mut retried = false;
        loop {
            let a = self.request(method, &url, &headers, Bytes::new()).await?;
            if a.status == 200 {
                return Ok(a.body);
            }
            if a.status == 403 && !retried && url.starts_with("http://") {
                // nsqd --tls-required: ask again where it says HTTPS is.
                url = https_endpoint(&url, &a.body)?;
                retried = true;
                continue;
            }
            return Err(http_status_error(a.status, reason(a.status), &a.body));
        }
    }

    /// One request; any status is an answer.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let verb = title_case(method);
        let t = parse_url(url)?;
        let exchange = async {
            let addr = join_host_port(&t.host, i64::from(t.port));
            let tcp = tokio::time::timeout(self.connect, TcpStream::connect(addr.as_str()))
                .await
                .map_err(|_| format!("dial tcp {addr}: i/o timeout"))?
                .map_err(|e| format!("dial tcp {addr}: {e}"))?;
            let _ = tcp.set_nodelay(true);
            let stream: BoxStream = if t.https {
                let config = self.tls.clone()?;
                crate::tls::connect(config, &t.host, Box::new(tcp))
                    .await
                    .map_err(|e| format!("tls: {e}"))?
            } else {
                Box::new(tcp)
            };
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            // The connection future moves the bytes; it ends with this exchange.
            let driver = tokio::spawn(conn);
            let result = async {
                let host_header = if (t.https && t.port == 443) || (!t.https && t.port == 80) {
                    t.host.clone()
                } else {
                    addr.clone()
                };
                let mut req = Request::builder()
                    .method(method)
                    .uri(t.path_and_query.as_str())
                    .body(Full::new(body))
                    .map_err(|e| e.to_string())?;
                let h = req.headers_mut();
                h.insert(
                    HOST,
                    HeaderValue::from_str(&host_header).map_err(|e| e.to_string())?,
                );
                for (k, v) in headers {
                    let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
                    let value = HeaderValue::from_str(v).map_err(|e| e.to_string())?;
                    h.insert(name, value);
                }
                let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = Limited::new(resp.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                Ok::<_, String>(Answer {
                    status,
                    headers,
                    body,
                })
            }
            .await;
            driver.abort();
            result
        };
        tokio::time::timeout(self.request, exchange)
            .await
            .map_err(|_| {
                format!("{verb} \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
            })?
            .map_err(|e| format!("{verb} \"{url}\": {e}"))
    }

    /// POSTs a JSON document (notifications); any answer is fine.
    pub async fn post_json(&self, url: &str, body: Vec<u8>) -> Result<u16, String> {
        let headers = [(
            CONTENT_TYPE.as_str().to_string(),
            "application/json".to_string(),
        )];
        self.request("POST", url, &headers, Bytes::from(body))
            .await
            .map(|a| a.status)
    }
}

/// `Get`, `Post`: how Go's client names a method in its errors.
fn title_case(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The reason phrase Go prints after a status code.
pub fn reason(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// Where a node that requires TLS says to ask (`{"https_port": N}`).
fn https_endpoint(url: &str, body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Forbidden {
        https_port: u16,
    }
    let f: Forbidden =
        serde_json::from_slice(body).map_err(|_| http_status_error(403, "Forbidden", body))?;
    let t = parse_url(url)?;
    Ok(format!(
        "https://{}{}",
        join_host_port(&t.host, i64::from(f.https_port)),
        t.path_and_query
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_retries() {
        let t = parse_url("http://[::1]:4151/stats?format=json").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.https), ("::1", 4151, false));
        assert_eq!(t.path_and_query, "/stats?format=json");
        let t = parse_url("https://graphite.example").unwrap();
        assert_eq!((t.port, t.path_and_query.as_str()), (443, "/"));
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("not a url").is_err());
        assert_eq!(
            https_endpoint(
                "http://127.0.0.1:4151/stats?format=json",
                br#"{"message": "TLS_REQUIRED", "https_port": 4152}"#
            )
            .unwrap(),
            "https://127.0.0.1:4152/stats?format=json"
        );
        assert!(https_endpoint("http://h:1/", b"nope").is_err());
        assert_eq!(title_case("GET"), "Get");
        assert_eq!(reason(404), "Not Found");
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_in_gos_words() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let c = Upstream::new(
            Duration::from_secs(1),
            Duration::from_secs(2),
            Err("no TLS".into()),
        );
        let e = c.get_v1(&format!("http://{addr}/info")).await.unwrap_err();
        assert!(
            e.starts_with(&format!("Get \"http://{addr}/info\": dial tcp {addr}: ")),
            "{e}"
        );
        let e = c.get_v1("https://127.0.0.1:1/info").await.unwrap_err();
        assert!(e.contains("dial tcp") || e.contains("no TLS"), "{e}");
    }
}
