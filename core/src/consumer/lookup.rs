//! nsqlookupd as a client sees it: the `/lookup` URL a consumer polls and
//! the JSON it answers with (NSQ's V1 form, or the older
//! `{"status_code":..,"data":{..}}` wrapper that go-nsq still accepts).

use crate::url::query_escape;
use serde::Deserialize;
use serde_json::Value;

/// One nsqd that produces the topic, as `/lookup` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Producer {
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: u16,
    pub http_port: u16,
    pub version: String,
}

impl Producer {
    /// `broadcast_address:tcp_port` (IPv6 in brackets), what consumers dial.
    pub fn tcp_address(&self) -> String {
        join_host_port(&self.broadcast_address, self.tcp_port)
    }

    /// `broadcast_address:http_port`, where its `/stats` live.
    pub fn http_address(&self) -> String {
        join_host_port(&self.broadcast_address, self.http_port)
    }
}

/// Go's `net.JoinHostPort`.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A producer as the JSON has it: ports are Go ints, whatever nsqd announced.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct RawProducer {
    remote_address: String,
    hostname: String,
    broadcast_address: String,
    tcp_port: i64,
    http_port: i64,
    version: String,
}

impl RawProducer {
    /// The producer, unless a port cannot be dialled (go-nsq would list it
    /// and fail to connect; one such nsqd must not hide the others).
    fn dialable(self) -> Option<Producer> {
        Some(Producer {
            tcp_port: u16::try_from(self.tcp_port).ok()?,
            http_port: u16::try_from(self.http_port).ok()?,
            remote_address: self.remote_address,
            hostname: self.hostname,
            broadcast_address: self.broadcast_address,
            version: self.version,
        })
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct LookupBody {
    channels: Vec<String>,
    producers: Vec<RawProducer>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct TopicsBody {
    topics: Vec<String>,
}

/// A `/lookup` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lookup {
    pub channels: Vec<String>,
    pub producers: Vec<Producer>,
}

/// Decodes a 200 answer. `v1` is true when the response carried
/// `X-NSQ-Content-Type: nsq; version=1.0` (then the body is the object
/// itself); otherwise the object is under `data`.
pub fn parse_lookup(body: &[u8], v1: bool) -> Result<Lookup, String> {
    let b: LookupBody = decode(body, v1)?;
    Ok(Lookup {
        channels: b.channels,
        producers: b
            .producers
            .into_iter()
            .filter_map(RawProducer::dialable)
            .collect(),
    })
}

/// Decodes nsqlookupd's `/topics` answer.
pub fn parse_topics(body: &[u8], v1: bool) -> Result<Vec<String>, String> {
    decode::<TopicsBody>(body, v1).map(|b| b.topics)
}

fn decode<T: for<'de> Deserialize<'de> + Default>(body: &[u8], v1: bool) -> Result<T, String> {
    let body = if body.is_empty() { &b"{}"[..] } else { body };
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let inner = if v1 {
        value
    } else {
        match value {
            Value::Object(mut o) => o.remove("data").unwrap_or(Value::Null),
            other => other,
        }
    };
    match inner {
        Value::Null => Ok(T::default()),
        // serde would also fill a struct from an array; Go refuses that.
        Value::Object(_) => serde_json::from_value(inner).map_err(|e| e.to_string()),
        _ => Err("the answer is not a JSON object".into()),
    }
}

/// go-nsq's `buildLookupAddr`: `host:port` or a URL; the path defaults to
/// `/lookup` and `topic=` is added to the query.
pub fn lookup_url(addr: &str, topic: &str) -> Result<String, String> {
    let url = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let (scheme, rest) = url.split_once("://").ok_or("missing scheme")?;
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q),
        None => (tail, ""),
    };
    if port_of(authority).is_none() {
        return Err(format!("{addr}: missing port"));
    }
    let path = if path.is_empty() || path == "/" {
        "/lookup"
    } else {
        path
    };
    let mut q = query.to_string();
    if !q.is_empty() {
        q.push('&');
    }
    q.push_str("topic=");
    q.push_str(&query_escape(topic));
    Ok(format!("{scheme}://{authority}{path}?{q}"))
}

fn port_of(authority: &str) -> Option<u16> {
    let host_port = authority.rsplit('@').next()?;
    let after = match host_port.rfind(']') {
        Some(i) => &host_port[i + 1..],
        None => host_port,
    };
    after.rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r#"{"channels":["billing","shipping"],"producers":[{"remote_address":"127.0.0.1:53702","hostname":"vm","broadcast_address":"127.0.0.1","tcp_port":35077,"http_port":55263,"version":"1.3.0"},{"remote_address":"127.0.0.1:53716","hostname":"vm","broadcast_address":"127.0.0.1","tcp_port":38755,"http_port":37911,"version":"1.3.0"}]}"#;

    #[test]
    fn parses_the_go_capture() {
        let l = parse_lookup(ORDERS.as_bytes(), true).unwrap();
        assert_eq!(l.channels, ["billing", "shipping"]);
        let addrs: Vec<_> = l.producers.iter().map(Producer::tcp_address).collect();
        assert_eq!(addrs, ["127.0.0.1:35077", "127.0.0.1:38755"]);
        assert_eq!(l.producers[0].http_address(), "127.0.0.1:55263");
    }

    #[test]
    fn parses_the_wrapped_form() {
        let wrapped = format!(r#"{{"status_code":200,"status_txt":"OK","data":{ORDERS}}}"#);
        assert_eq!(
            parse_lookup(wrapped.as_bytes(), false).unwrap(),
            parse_lookup(ORDERS.as_bytes(), true).unwrap()
        );
        assert_eq!(parse_lookup(b"", true).unwrap(), Lookup::default());
        assert!(parse_lookup(b"{\"producers\":5}", true).is_err());
        assert!(parse_lookup(b"nope", true).is_err());
    }

    #[test]
    fn a_producer_with_an_impossible_port_does_not_hide_the_others() {
        // Found by fuzzing against a model of go-nsq: nsqlookupd relays any
        // integer an nsqd announced; go-nsq lists such a producer (and fails
        // to dial it), we leave it out, but never lose the whole answer.
        let body = br#"{"channels":[],"producers":[{"broadcast_address":"a","tcp_port":70000,"http_port":1},{"broadcast_address":"b","tcp_port":4150,"http_port":-1},{"broadcast_address":"c","tcp_port":4150,"http_port":4151}]}"#;
        let l = parse_lookup(body, true).unwrap();
        assert_eq!(l.producers.len(), 1);
        assert_eq!(l.producers[0].tcp_address(), "c:4150");
        assert!(parse_lookup(br#"{"producers":[{"tcp_port":"1"}]}"#, true).is_err());
    }

    #[test]
    fn an_array_is_not_an_answer() {
        // Found by fuzzing against a model of go-nsq: serde reads a struct
        // from a JSON array (here an empty one, all defaults); Go refuses.
        assert!(parse_lookup(b"[]", true).is_err());
        assert!(parse_lookup(br#"{"data":[]}"#, false).is_err());
        assert!(parse_topics(b"[[]]", true).is_err());
    }

    #[test]
    fn parses_topics() {
        let t = parse_topics(br#"{"topics":["logs","scratch","orders","events"]}"#, true);
        assert_eq!(t.unwrap(), ["logs", "scratch", "orders", "events"]);
    }

    #[test]
    fn builds_lookup_urls_like_go_nsq() {
        assert_eq!(
            lookup_url("127.0.0.1:4161", "a#ephemeral").unwrap(),
            "http://127.0.0.1:4161/lookup?topic=a%23ephemeral"
        );
        assert_eq!(
            lookup_url("https://h:1/custom?x=1", "t").unwrap(),
            "https://h:1/custom?x=1&topic=t"
        );
        assert_eq!(
            lookup_url("[::1]:4161", "t").unwrap(),
            "http://[::1]:4161/lookup?topic=t"
        );
        assert!(lookup_url("localhost", "t").is_err());
        assert_eq!(join_host_port("::1", 4150), "[::1]:4150");
    }
}
