//! A small HTTP/1.1 client for NSQ's JSON APIs (Go NSQ's `GETV1`): nsqd asks
//! its lookupds which channels a new topic has. Production builds only.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// NSQ's `--http-client-connect-timeout` and `--http-client-request-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

/// Largest answer body read.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// `GET http://{addr}{path_and_query}` with NSQ's `Accept` header: the body of
/// a 200 answer, or why there is none.
pub async fn get_v1(addr: &str, path_and_query: &str, t: Timeouts) -> Result<Bytes, String> {
    request_v1(addr, path_and_query, None, t).await
}

/// `POST http://{addr}{path}` with a JSON body (Go NSQ's `POSTV1` with data):
/// the body of a 200 answer, or why there is none.
pub async fn post_json_v1(
    addr: &str,
    path: &str,
    body: Vec<u8>,
    t: Timeouts,
) -> Result<Bytes, String> {
    request_v1(addr, path, Some(body), t).await
}

async fn request_v1(
    addr: &str,
    path_and_query: &str,
    post: Option<Vec<u8>>,
    t: Timeouts,
) -> Result<Bytes, String> {
    let method = if post.is_some() { "POST" } else { "GET" };
    let stream = tokio::time::timeout(t.connect, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("dial tcp {addr}: i/o timeout"))?
        .map_err(|e| format!("dial tcp {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let exchange = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        // The connection future moves the bytes; it ends with this task.
        let driver = tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, addr)
            .header(ACCEPT, "application/vnd.nsq; version=1.0");
        if post.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(post.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string());
        let result = match resp {
            Ok(resp) => {
                let status = resp.status();
                let body = Limited::new(resp.into_body(), MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                if status.as_u16() == 200 {
                    Ok(body)
                } else {
                    Err(format!(
                        "got response {status} {:?}",
                        String::from_utf8_lossy(&body)
                    ))
                }
            }
            Err(e) => Err(e),
        };
        driver.abort();
        result
    };
    tokio::time::timeout(t.request, exchange)
        .await
        .map_err(|_| format!("{method} http://{addr}{path_and_query}: request timed out"))?
}
