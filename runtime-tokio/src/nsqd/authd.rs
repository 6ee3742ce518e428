//! nsqd's auth servers (`--auth-http-address`): asks them what a
//! connection may do. The rules (request encoding, answer checks, order of
//! servers) are in `nsq_core::auth`; this moves the bytes.

use crate::clock;
use nsq_core::auth::{endpoint, join_failures, try_order, AuthMethod, AuthRequest, AuthState};
use nsq_core::Options;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

pub(crate) struct Authd {
    addrs: Vec<String>,
    method: AuthMethod,
    #[cfg_attr(madsim, allow(dead_code))]
    connect_timeout: std::time::Duration,
    #[cfg_attr(madsim, allow(dead_code))]
    request_timeout: std::time::Duration,
    /// Which server to try first (NSQ starts at a random one).
    rng: Mutex<SmallRng>,
}

impl Authd {
    pub fn new(opts: &Options, seed: u64) -> Result<Self, String> {
        Ok(Authd {
            addrs: opts.auth_http_addresses.clone(),
            method: AuthMethod::parse(&opts.auth_http_request_method)?,
            connect_timeout: opts.http_client_connect_timeout,
            request_timeout: opts.http_client_request_timeout,
            rng: Mutex::new(SmallRng::seed_from_u64(seed ^ 0xa17d)),
        })
    }

    /// Asks the servers in turn until one gives a valid answer.
    pub async fn query(&self, req: &AuthRequest) -> Result<AuthState, String> {
        let start = self
            .rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random::<u64>();
        let mut failures = Vec::new();
        for i in try_order(self.addrs.len(), start) {
            let addr = &self.addrs[i];
            let answer = self.ask(&endpoint(addr), req).await;
            match answer.and_then(|body| AuthState::from_response(&body, clock::now())) {
                Ok(state) => return Ok(state),
                Err(e) => failures.push((addr.clone(), e)),
            }
        }
        Err(join_failures(&failures))
    }

    #[cfg(not(madsim))]
    async fn ask(&self, url: &str, req: &AuthRequest) -> Result<bytes::Bytes, String> {
        use crate::http_client::{get_v1, post_json_v1, Timeouts};
        let t = Timeouts {
            connect: self.connect_timeout,
            request: self.request_timeout,
        };
        let (host, path) = split_http_url(url)?;
        match self.method {
            AuthMethod::Get => {
                let sep = if path.contains('?') { '&' } else { '?' };
                get_v1(host, &format!("{path}{sep}{}", req.query()), t).await
            }
            AuthMethod::Post => post_json_v1(host, path, req.post_body(), t).await,
        }
    }

    #[cfg(madsim)]
    async fn ask(&self, _url: &str, _req: &AuthRequest) -> Result<bytes::Bytes, String> {
        let _ = self.method;
        Err("no HTTP client in the simulator".into())
    }
}

/// `http://host:port/path` as (`host:port`, `/path`).
#[cfg_attr(madsim, allow(dead_code))]
fn split_http_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported auth URL {url} (only http:// is supported)"))?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(split_http_url("http://h:1/auth"), Ok(("h:1", "/auth")));
        assert_eq!(split_http_url("http://h:1"), Ok(("h:1", "/")));
        assert_eq!(split_http_url("http://h:1/a?x=1"), Ok(("h:1", "/a?x=1")));
        assert!(split_http_url("https://h/auth").is_err());
    }
}
