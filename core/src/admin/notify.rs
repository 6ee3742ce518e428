//! Notifications of admin actions: the JSON nsqadmin POSTs to
//! `--notification-http-endpoint` after each one (NSQ's `AdminAction`).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminAction {
    pub action: String,
    pub topic: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// The HTTP basic-auth user of the request, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// The peer's `ip:port`.
    pub remote_ip: String,
    pub user_agent: String,
    /// The URL of the request that triggered the action.
    pub url: String,
    /// The host name of the nsqadmin that acted.
    pub via: String,
}

/// The URL of a request as NSQ records it: `http` (or `https` behind a TLS
/// proxy that says `X-Scheme: https`), the `Host` header, path and query.
pub fn request_url(https: bool, host: &str, path_and_query: &str) -> String {
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}{path_and_query}")
}

/// The user of an `Authorization: Basic ...` header (`""` if none or bad).
pub fn basic_auth_user(header: Option<&str>) -> String {
    let Some((scheme, creds)) = header.and_then(|h| h.split_once(' ')) else {
        return String::new();
    };
    if scheme != "Basic" {
        return String::new();
    }
    let Some(raw) = base64_decode(creds) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&raw);
    match text.split_once(':') {
        Some((user, _)) => user.to_string(),
        None => String::new(),
    }
}

/// `Basic base64(user:password)`: the header Go's `SetBasicAuth` sets.
pub fn basic_auth_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{user}:{password}").as_bytes())
    )
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(c) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (Go's `base64.StdEncoding`), strictly.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, chunk) in b.chunks(4).enumerate() {
        let last = i == b.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_users() {
        // "alice:secret", "bob:", "nocolon"
        assert_eq!(basic_auth_user(Some("Basic YWxpY2U6c2VjcmV0")), "alice");
        assert_eq!(basic_auth_user(Some("Basic Ym9iOg==")), "bob");
        assert_eq!(basic_auth_user(Some("Basic bm9jb2xvbg==")), "");
        assert_eq!(basic_auth_user(Some("Bearer YWxpY2U6c2VjcmV0")), "");
        assert_eq!(basic_auth_user(Some("Basic !!!")), "");
        assert_eq!(basic_auth_user(Some("Basic YQ=a")), "");
        assert_eq!(basic_auth_user(None), "");
        for (u, p) in [("alice", "secret"), ("bob", ""), ("a", "bc"), ("", "")] {
            assert_eq!(basic_auth_user(Some(&basic_auth_header(u, p))), u);
        }
        assert_eq!(
            basic_auth_header("alice", "secret"),
            "Basic YWxpY2U6c2VjcmV0"
        );
    }

    #[test]
    fn serialises_like_nsq() {
        let a = AdminAction {
            action: "pause_channel".into(),
            topic: "t".into(),
            channel: "c".into(),
            node: String::new(),
            timestamp: 1_700_000_000,
            user: String::new(),
            remote_ip: "127.0.0.1:5555".into(),
            user_agent: "curl/8".into(),
            url: request_url(false, "admin:4171", "/api/topics/t/c"),
            via: "vm".into(),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"action":"pause_channel","topic":"t","channel":"c","timestamp":1700000000,"remote_ip":"127.0.0.1:5555","user_agent":"curl/8","url":"http://admin:4171/api/topics/t/c","via":"vm"}"#
        );
    }
}
