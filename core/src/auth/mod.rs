//! Authorization against an auth server, as nsqd does it (`--auth-http-address`):
//! what nsqd asks the server, how it reads and checks the answer, and the
//! decision (is this topic/channel allowed, has the answer expired).
//!
//! The runtime sends the request and passes the answer's bytes and the
//! current time in; nothing here does I/O or reads a clock.

use crate::io::{Nanos, SECOND};
use regex::Regex;
use serde::Deserialize;

/// One grant of the server's answer: a topic regex, channel regexes and
/// the permissions (`subscribe`, `publish`) that go with them.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub topic: String,
    pub channels: Vec<String>,
    pub permissions: Vec<String>,
    topic_re: Regex,
    channel_res: Vec<Regex>,
}

impl Authorization {
    fn has_permission(&self, p: &str) -> bool {
        self.permissions.iter().any(|q| q == p)
    }

    /// NSQ's rule: a channel asks for `subscribe`, no channel (a publish)
    /// for `publish`; the topic regex must match, and so must one of the
    /// channel regexes, also for a publish (against the empty channel).
    pub fn is_allowed(&self, topic: &str, channel: &str) -> bool {
        let needed = if channel.is_empty() {
            "publish"
        } else {
            "subscribe"
        };
        self.has_permission(needed)
            && self.topic_re.is_match(topic)
            && self.channel_res.iter().any(|re| re.is_match(channel))
    }
}

/// What the auth server granted a connection, and until when.
#[derive(Debug, Clone)]
pub struct AuthState {
    pub ttl: i64,
    pub authorizations: Vec<Authorization>,
    pub identity: String,
    pub identity_url: String,
    /// When the grant must be fetched again.
    pub expires: Nanos,
}

#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
struct WireAuthorization {
    topic: String,
    channels: Vec<String>,
    permissions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireState {
    ttl: i64,
    authorizations: Vec<WireAuthorization>,
    identity: String,
    identity_url: String,
}

impl AuthState {
    /// Reads the server's JSON answer received at `now`, with NSQ's checks
    /// and error texts (unknown permission, bad regex, ttl <= 0).
    pub fn from_response(body: &[u8], now: Nanos) -> Result<AuthState, String> {
        let w: Option<WireState> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let w = w.unwrap_or_default();
        let mut authorizations = Vec::with_capacity(w.authorizations.len());
        for a in w.authorizations {
            if let Some(p) = a
                .permissions
                .iter()
                .find(|p| *p != "subscribe" && *p != "publish")
            {
                return Err(format!("unknown permission {p}"));
            }
            let compile = |re: &str| {
                Regex::new(re).map_err(|e| format!("unable to compile {} {e}", quote(re)))
            };
            let topic_re =
                compile(&a.topic).map_err(|e| e.replacen("compile", "compile topic", 1))?;
            let channel_res = a
                .channels
                .iter()
                .map(|c| compile(c).map_err(|e| e.replacen("compile", "compile channel", 1)))
                .collect::<Result<Vec<_>, _>>()?;
            authorizations.push(Authorization {
                topic: a.topic,
                channels: a.channels,
                permissions: a.permissions,
                topic_re,
                channel_res,
            });
        }
        if w.ttl <= 0 {
            return Err(format!("invalid TTL {} (must be >0)", w.ttl));
        }
        Ok(AuthState {
            ttl: w.ttl,
            authorizations,
            identity: w.identity,
            identity_url: w.identity_url,
            expires: now.saturating_add(w.ttl.saturating_mul(SECOND)),
        })
    }

    pub fn is_allowed(&self, topic: &str, channel: &str) -> bool {
        self.authorizations
            .iter()
            .any(|a| a.is_allowed(topic, channel))
    }

    pub fn is_expired(&self, now: Nanos) -> bool {
        self.expires < now
    }

    /// Whether the grant holds any authorization at all (NSQ's
    /// `HasAuthorizations`).
    pub fn has_authorizations(&self) -> bool {
        !self.authorizations.is_empty()
    }

    /// nsqd's answer to a successful AUTH.
    pub fn answer_json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "identity": self.identity,
            "identity_url": self.identity_url,
            "permission_count": self.authorizations.len(),
        }))
        .unwrap_or_default()
    }
}

fn quote(s: &str) -> String {
    crate::wire::goquote::go_quote(s.as_bytes())
}

/// What nsqd tells the auth server about a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub remote_ip: String,
    pub tls: bool,
    pub secret: String,
    /// The client certificate's subject CN (empty without one).
    pub common_name: String,
}

/// How nsqd sends the request (`--auth-http-request-method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Get,
    Post,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Result<AuthMethod, String> {
        match s {
            "get" => Ok(AuthMethod::Get),
            "post" => Ok(AuthMethod::Post),
            _ => Err("--auth-http-request-method must be post or get".into()),
        }
    }
}

impl AuthRequest {
    /// The parameters in Go's `url.Values` order (sorted by key).
    fn params(&self) -> [(&'static str, &str); 4] {
        [
            ("common_name", &self.common_name),
            ("remote_ip", &self.remote_ip),
            ("secret", &self.secret),
            ("tls", if self.tls { "true" } else { "false" }),
        ]
    }

    /// The query string of a GET (`url.Values.Encode`).
    pub fn query(&self) -> String {
        let mut q = form_query::Serializer::new();
        for (k, v) in self.params() {
            q.append(k, v);
        }
        q.finish()
    }

    /// The JSON body of a POST: Go's encoding of `url.Values`
    /// (`{"common_name":["..."],...}`).
    pub fn post_body(&self) -> Vec<u8> {
        let map: serde_json::Map<String, serde_json::Value> = self
            .params()
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!([v])))
            .collect();
        serde_json::to_vec(&map).unwrap_or_default()
    }
}

/// Where a `--auth-http-address` points: `host:port` means
/// `http://host:port/auth`; a value with `://` is a full URL.
pub fn endpoint(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}/auth")
    }
}

/// The order nsqd tries its auth servers in: all of them, starting at a
/// random one (`start` is a random draw).
pub fn try_order(n: usize, start: u64) -> impl Iterator<Item = usize> {
    let first = if n == 0 {
        0
    } else {
        (start % n as u64) as usize
    };
    (0..n).map(move |i| (first + i) % n)
}

/// The error after every server failed: each failure in turn, as NSQ joins them.
pub fn join_failures(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(addr, e)| format!("failed to auth against {addr} - {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `application/x-www-form-urlencoded` as Go's `url.QueryEscape` writes it.
mod form_query {
    pub struct Serializer(String);

    impl Serializer {
        pub fn new() -> Self {
            Serializer(String::new())
        }

        pub fn append(&mut self, k: &str, v: &str) {
            if !self.0.is_empty() {
                self.0.push('&');
            }
            escape(&mut self.0, k);
            self.0.push('=');
            escape(&mut self.0, v);
        }

        pub fn finish(self) -> String {
            self.0
        }
    }

    fn escape(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
