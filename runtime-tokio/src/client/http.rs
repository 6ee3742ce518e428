//! HTTP for clients: nsqlookupd's `/lookup` and `/topics`, nsqd's
//! `/stats`, and nsq_to_http's targets. The consumer reaches HTTP only
//! through the [`Fetch`] seam, so a simulated network can stand in for it;
//! [`HttpClient`] is the real one (hyper, plain HTTP/1.1).

use super::Error;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, for object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// The answer said `X-NSQ-Content-Type: nsq; version=1.0` (NSQ's V1
    /// JSON, not wrapped in `{"data": ...}`).
    pub nsq_v1: bool,
    pub body: Bytes,
}

impl HttpResponse {
    /// go-nsq's error text for a non-200 answer.
    pub fn check_ok(self) -> Result<HttpResponse, Error> {
        if self.status == 200 {
            return Ok(self);
        }
        Err(Error::Http(format!(
            "got response {} {:?}",
            self.status,
            String::from_utf8_lossy(&self.body)
        )))
    }
}

/// GETs NSQ's V1 JSON (sends `Accept: application/vnd.nsq; version=1.0`).
pub trait Fetch: Send + Sync + 'static {
    fn get_v1<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<HttpResponse, Error>>;
}

#[cfg(not(madsim))]
pub use real::HttpClient;

#[cfg(not(madsim))]
mod real {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use hyper::header::{HeaderName, HeaderValue};
    use hyper::{Method, Request, Uri};
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use std::time::Duration;

    const ACCEPT_V1: &str = "application/vnd.nsq; version=1.0";

    /// A pooled HTTP/1.1 client with NSQ's two timeouts: one to connect,
    /// one for the whole request.
    #[derive(Clone, Debug)]
    pub struct HttpClient {
        client: Client<HttpConnector, Full<Bytes>>,
        request_timeout: Duration,
    }

    impl HttpClient {
        pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Self {
            let mut conn = HttpConnector::new();
            conn.set_connect_timeout(Some(connect_timeout));
            conn.set_nodelay(true);
            HttpClient {
                client: Client::builder(TokioExecutor::new()).build(conn),
                request_timeout,
            }
        }

        /// One request; `headers` are set in order (later ones win).
        pub async fn request(
            &self,
            method: &str,
            url: &str,
            headers: &[(String, String)],
            body: Bytes,
        ) -> Result<HttpResponse, Error> {
            let uri: Uri = url
                .parse()
                .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
            if uri.scheme_str() == Some("https") {
                return Err(Error::Http(format!(
                    "{url}: https is not supported by this client yet"
                )));
            }
            let method = Method::from_bytes(method.as_bytes())
                .map_err(|_| Error::Http(format!("invalid method {method}")))?;
            let mut req = Request::builder()
                .method(method)
                .uri(uri)
                .body(Full::new(body))
                .map_err(|e| Error::Http(e.to_string()))?;
            for (k, v) in headers {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| Error::Http(format!("invalid header name {k:?}")))?;
                let value = HeaderValue::from_str(v)
                    .map_err(|_| Error::Http(format!("invalid header value {v:?}")))?;
                req.headers_mut().insert(name, value);
            }
            let run = async {
                let resp = self
                    .client
                    .request(req)
                    .await
                    .map_err(|e| Error::Http(format!("{url}: {e}")))?;
                let status = resp.status().as_u16();
                let nsq_v1 = resp
                    .headers()
                    .get("x-nsq-content-type")
                    .is_some_and(|v| v.as_bytes() == b"nsq; version=1.0");
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| Error::Http(format!("{url}: {e}")))?
                    .to_bytes();
                Ok(HttpResponse {
                    status,
                    nsq_v1,
                    body,
                })
            };
            tokio::time::timeout(self.request_timeout, run)
                .await
                .map_err(|_| Error::Http(format!("{url}: request timed out")))?
        }
    }

    impl Fetch for HttpClient {
        fn get_v1<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<HttpResponse, Error>> {
            Box::pin(async move {
                let headers = [("Accept".to_string(), ACCEPT_V1.to_string())];
                self.request("GET", url, &headers, Bytes::new()).await
            })
        }
    }
}
