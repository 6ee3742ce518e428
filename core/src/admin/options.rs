//! nsqadmin's options with NSQ v1.3.0's defaults, the checks it makes at
//! start, and `/config/:opt` (every option by its config-file name;
//! `nsqlookupd_http_addresses` and `log_level` can be changed at run time).

use super::action::Refusal;
use super::producer::split_host_port;
use crate::api::config::LogLevel;
use crate::io::{nanos, SECOND};
use core::net::IpAddr;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct AdminOptions {
    pub log_level: LogLevel,
    pub log_prefix: String,
    pub http_address: String,
    /// Normalised: a leading `/`, no trailing one (`/` alone for none).
    pub base_path: String,
    /// Accepted for compatibility; the assets are always the embedded ones.
    pub dev_static_dir: String,
    pub graphite_url: String,
    pub proxy_graphite: bool,
    pub statsd_prefix: String,
    pub statsd_counter_format: String,
    pub statsd_gauge_format: String,
    pub statsd_interval: Duration,
    pub nsqlookupd_http_addresses: Vec<String>,
    pub nsqd_http_addresses: Vec<String>,
    pub http_client_connect_timeout: Duration,
    pub http_client_request_timeout: Duration,
    pub http_client_tls_insecure_skip_verify: bool,
    pub http_client_tls_root_ca_file: String,
    pub http_client_tls_cert: String,
    pub http_client_tls_key: String,
    pub allow_config_from_cidr: String,
    pub notification_http_endpoint: String,
    pub acl_http_header: String,
    pub admin_users: Vec<String>,
}

impl Default for AdminOptions {
    fn default() -> Self {
        AdminOptions {
            log_level: LogLevel::Info,
            log_prefix: "[nsqadmin] ".into(),
            http_address: "0.0.0.0:4171".into(),
            base_path: "/".into(),
            dev_static_dir: String::new(),
            graphite_url: String::new(),
            proxy_graphite: false,
            statsd_prefix: "nsq.%s".into(),
            statsd_counter_format: "stats.counters.%s.count".into(),
            statsd_gauge_format: "stats.gauges.%s".into(),
            statsd_interval: Duration::from_secs(60),
            nsqlookupd_http_addresses: Vec::new(),
            nsqd_http_addresses: Vec::new(),
            http_client_connect_timeout: Duration::from_secs(2),
            http_client_request_timeout: Duration::from_secs(5),
            http_client_tls_insecure_skip_verify: false,
            http_client_tls_root_ca_file: String::new(),
            http_client_tls_cert: String::new(),
            http_client_tls_key: String::new(),
            allow_config_from_cidr: "127.0.0.1/8".into(),
            notification_http_endpoint: String::new(),
            acl_http_header: "X-Forwarded-User".into(),
            admin_users: Vec::new(),
        }
    }
}

impl AdminOptions {
    /// NSQ's start-up checks (its error texts); normalises the base path.
    pub fn validate(&mut self) -> Result<(), String> {
        match (
            self.nsqd_http_addresses.is_empty(),
            self.nsqlookupd_http_addresses.is_empty(),
        ) {
            (true, true) => {
                return Err("--nsqd-http-address or --lookupd-http-address required".into())
            }
            (false, false) => {
                return Err("use --nsqd-http-address or --lookupd-http-address not both".into())
            }
            _ => {}
        }
        if !self.http_client_tls_cert.is_empty() && self.http_client_tls_key.is_empty() {
            return Err(
                "--http-client-tls-key must be specified with --http-client-tls-cert".into(),
            );
        }
        if !self.http_client_tls_key.is_empty() && self.http_client_tls_cert.is_empty() {
            return Err(
                "--http-client-tls-cert must be specified with --http-client-tls-key".into(),
            );
        }
        for a in &self.nsqlookupd_http_addresses {
            check_address(a)
                .map_err(|e| format!("failed to resolve --lookupd-http-address ({a}) - {e}"))?;
        }
        for a in &self.nsqd_http_addresses {
            check_address(a)
                .map_err(|e| format!("failed to resolve --nsqd-http-address ({a}) - {e}"))?;
        }
        if self.proxy_graphite {
            let u = &self.graphite_url;
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "failed to parse --graphite-url ({u}) - --proxy-graphite needs an http:// or https:// URL"
                ));
            }
        }
        if !self.allow_config_from_cidr.is_empty() {
            Cidr::parse(&self.allow_config_from_cidr).map_err(|e| {
                format!(
                    "failed to parse --allow-config-from-cidr ({}) - {e}",
                    self.allow_config_from_cidr
                )
            })?;
        }
        self.base_path = normalize_base_path(&self.base_path);
        Ok(())
    }

    /// `path` under the base path (`/api/topics` → `/admin/api/topics`).
    pub fn base(&self, path: &str) -> String {
        join_base(&self.base_path, path)
    }

    /// Whether a request may act (pause, delete, ...): always, unless admin
    /// users are set; then the ACL header must name one of them.
    pub fn is_admin(&self, acl_header_value: Option<&str>) -> bool {
        if self.admin_users.is_empty() {
            return true;
        }
        let user = acl_header_value.unwrap_or("");
        self.admin_users.iter().any(|u| u == user)
    }

    /// Whether `/config` may be used from `peer` (`--allow-config-from-cidr`).
    pub fn config_allowed_from(&self, peer: IpAddr) -> bool {
        if self.allow_config_from_cidr.is_empty() {
            return true;
        }
        Cidr::parse(&self.allow_config_from_cidr).is_ok_and(|c| c.contains(peer))
    }

    /// The value of option `name` (its config-file name) as NSQ shows it:
    /// durations in nanoseconds, the log level as its number.
    pub fn config_value(&self, name: &str) -> Option<Value> {
        let d = |d: Duration| json!(nanos(d));
        Some(match name {
            "log_level" => json!(self.log_level as i64),
            "log_prefix" => json!(self.log_prefix),
            "http_address" => json!(self.http_address),
            "base_path" => json!(self.base_path),
            "dev_static_dir" => json!(self.dev_static_dir),
            "graphite_url" => json!(self.graphite_url),
            "proxy_graphite" => json!(self.proxy_graphite),
            "statsd_prefix" => json!(self.statsd_prefix),
            "statsd_counter_format" => json!(self.statsd_counter_format),
            "statsd_gauge_format" => json!(self.statsd_gauge_format),
            "statsd_interval" => d(self.statsd_interval),
            "nsqlookupd_http_addresses" => json!(self.nsqlookupd_http_addresses),
            "nsqd_http_addresses" => json!(self.nsqd_http_addresses),
            "http_client_connect_timeout" => d(self.http_client_connect_timeout),
            "http_client_request_timeout" => d(self.http_client_request_timeout),
            "http_client_tls_insecure_skip_verify" => {
                json!(self.http_client_tls_insecure_skip_verify)
            }
            "http_client_tls_root_ca_file" => json!(self.http_client_tls_root_ca_file),
            "http_client_tls_cert" => json!(self.http_client_tls_cert),
            "http_client_tls_key" => json!(self.http_client_tls_key),
            "allow_config_from_cidr" => json!(self.allow_config_from_cidr),
            "notification_http_endpoint" => json!(self.notification_http_endpoint),
            "acl_http_header" => json!(self.acl_http_header),
            "admin_users" => json!(self.admin_users),
            _ => return None,
        })
    }

    /// `PUT /config/:opt` with `body` (read up to [`CONFIG_BODY_LIMIT`] + 1
    /// bytes): the options as changed.
    pub fn with_config(&self, name: &str, body: &[u8]) -> Result<AdminOptions, Refusal> {
        let refuse = |status, m: &str| Refusal {
            status,
            message: m.to_string(),
        };
        if body.is_empty() || body.len() > CONFIG_BODY_LIMIT {
            return Err(refuse(413, "INVALID_VALUE"));
        }
        let mut next = self.clone();
        match name {
            "nsqlookupd_http_addresses" => {
                next.nsqlookupd_http_addresses =
                    serde_json::from_slice::<Option<Vec<String>>>(body)
                        .map_err(|_| refuse(400, "INVALID_VALUE"))?
                        .unwrap_or_default();
            }
            "log_level" => {
                let text = std::str::from_utf8(body).map_err(|_| refuse(400, "INVALID_VALUE"))?;
                next.log_level = LogLevel::parse(text).map_err(|_| refuse(400, "INVALID_VALUE"))?;
            }
            _ => return Err(refuse(400, "INVALID_OPTION")),
        }
        Ok(next)
    }

    /// The statsd interval in whole seconds (what the UI and graphite use).
    pub fn statsd_interval_secs(&self) -> i64 {
        nanos(self.statsd_interval) / SECOND
    }
}

/// The largest `PUT /config` body.
pub const CONFIG_BODY_LIMIT: usize = 1024 * 1024;

/// `host:port` with a numeric port (NSQ resolves the name at start; names
/// are resolved here when first used).
fn check_address(a: &str) -> Result<(), String> {
    match split_host_port(a) {
        Some((_, port)) if port.parse::<u16>().is_ok() => Ok(()),
        Some(_) => Err(format!("address {a}: invalid port")),
        None => Err(format!("address {a}: missing port in address")),
    }
}

/// NSQ's `normalizeBasePath`: a leading `/`, then Go's `path.Clean`.
pub fn normalize_base_path(p: &str) -> String {
    if p.is_empty() {
        return "/".into();
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Go's `path.Join(base, p)` for the paths nsqadmin serves.
pub fn join_base(base: &str, p: &str) -> String {
    normalize_base_path(&format!("{base}/{p}"))
}

/// An IP network (`127.0.0.1/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("invalid CIDR address: {s}");
        let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = ip.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits > max || !bits_are_decimal(s) {
            return Err(bad());
        }
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer may arrive as an IPv4-mapped IPv6 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.to_ipv6_mapped().octets(), self.bits)
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

fn bits_are_decimal(s: &str) -> bool {
    s.rsplit('/')
        .next()
        .is_some_and(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const LOCALHOST_V4: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
    const LOCALHOST_V6: Ipv6Addr = Ipv6Addr::LOCALHOST;

    fn lookupd() -> AdminOptions {
        AdminOptions {
            nsqlookupd_http_addresses: vec!["127.0.0.1:4161".into()],
            ..AdminOptions::default()
        }
    }

    #[test]
    fn start_up_checks_are_nsqs() {
        let mut o = AdminOptions::default();
        assert_eq!(
            o.validate().unwrap_err(),
            "--nsqd-http-address or --lookupd-http-address required"
        );
        let mut o = lookupd();
        o.nsqd_http_addresses = vec!["127.0.0.1:4151".into()];
        assert!(o.validate().unwrap_err().contains("not both"));
        let mut o = lookupd();
        o.http_client_tls_cert = "c.pem".into();
        assert!(o.validate().unwrap_err().contains("--http-client-tls-key"));
        let mut o = lookupd();
        o.nsqlookupd_http_addresses = vec!["nohost".into()];
        assert!(o
            .validate()
            .unwrap_err()
            .starts_with("failed to resolve --lookupd-http-address (nohost)"));
        let mut o = lookupd();
        o.allow_config_from_cidr = "10.0.0.0/33".into();
        assert!(o
            .validate()
            .unwrap_err()
            .contains("--allow-config-from-cidr"));
        let mut o = lookupd();
        o.proxy_graphite = true;
        assert!(o.validate().unwrap_err().contains("--graphite-url"));
        let mut o = lookupd();
        o.base_path = "admin//x/../y/".into();
        o.validate().unwrap();
        assert_eq!(o.base_path, "/admin/y");
        assert_eq!(o.base("/api/topics"), "/admin/y/api/topics");
        assert_eq!(AdminOptions::default().base("/"), "/");
        assert_eq!(join_base("/", "/static/app.js"), "/static/app.js");
    }

    #[test]
    fn admin_users_gate_actions() {
        let mut o = lookupd();
        assert!(o.is_admin(None));
        o.admin_users = vec!["ops".into()];
        assert!(o.is_admin(Some("ops")));
        assert!(!o.is_admin(Some("dev")));
        assert!(!o.is_admin(None));
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("127.0.0.1/8").unwrap();
        assert!(c.contains(IpAddr::V4(Ipv4Addr::new(127, 9, 9, 9))));
        assert!(!c.contains(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
        assert!(c.contains(IpAddr::V6(LOCALHOST_V4.to_ipv6_mapped())));
        assert!(!c.contains(IpAddr::V6(LOCALHOST_V6)));
        let c = Cidr::parse("10.1.2.0/23").unwrap();
        assert!(c.contains("10.1.3.255".parse().unwrap()));
        assert!(!c.contains("10.1.4.0".parse().unwrap()));
        assert!(Cidr::parse("::1/128")
            .unwrap()
            .contains(IpAddr::V6(LOCALHOST_V6)));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        for bad in ["127.0.0.1", "x/8", "127.0.0.1/", "127.0.0.1/+8", "::1/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let mut o = lookupd();
        assert!(o.config_allowed_from(IpAddr::V4(LOCALHOST_V4)));
        assert!(!o.config_allowed_from("192.168.1.1".parse().unwrap()));
        o.allow_config_from_cidr.clear();
        assert!(o.config_allowed_from("192.168.1.1".parse().unwrap()));
    }

    #[test]
    fn config_values_and_changes() {
        let o = lookupd();
        assert_eq!(
            o.config_value("statsd_interval"),
            Some(json!(60_000_000_000i64))
        );
        assert_eq!(o.config_value("log_level"), Some(json!(2)));
        assert_eq!(
            o.config_value("nsqlookupd_http_addresses"),
            Some(json!(["127.0.0.1:4161"]))
        );
        assert_eq!(o.config_value("admin_users"), Some(json!([])));
        assert_eq!(o.config_value("logger"), None);
        let n = o
            .with_config("nsqlookupd_http_addresses", br#"["a:1","b:2"]"#)
            .unwrap();
        assert_eq!(n.nsqlookupd_http_addresses, ["a:1", "b:2"]);
        assert_eq!(
            o.with_config("log_level", b"DEBUG").unwrap().log_level,
            LogLevel::Debug
        );
        let e = |name: &str, body: &[u8]| o.with_config(name, body).unwrap_err();
        assert_eq!(e("log_level", b"loud").status, 400);
        assert_eq!(e("log_level", b"").status, 413);
        assert_eq!(
            e("log_level", &vec![b'x'; CONFIG_BODY_LIMIT + 1]).status,
            413
        );
        assert_eq!(
            e("nsqlookupd_http_addresses", b"[1]").message,
            "INVALID_VALUE"
        );
        assert_eq!(e("base_path", b"/x").message, "INVALID_OPTION");
    }
}
