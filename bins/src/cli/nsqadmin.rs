//! nsqadmin's flags, with NSQ v1.3.0's names and defaults, resolved
//! against a `--config` file (flags win) into core [`AdminOptions`].

use super::config::pick;
use super::duration;
use super::flags::{daemon_flags, log_format};
use super::logging::LogFormat;
use nsq_core::admin::AdminOptions;
use nsq_core::api::config::LogLevel;
use std::time::Duration;

daemon_flags! {
    /// nsqadmin: the web UI and JSON API for an NSQ cluster.
    #[command(
        name = "nsqadmin",
        about = "nsqadmin is a web UI to view aggregated cluster stats in realtime and perform various administrative tasks (NSQ v1.3.0 compatible)"
    )]
    pub struct NsqadminFlags => AdminOptions {
        /// set log verbosity: debug, info, warn, error, or fatal [default: info]
        #[arg(long)]
        log_level: Option<String> => _,
        /// log message prefix [default: "[nsqadmin] "]
        #[arg(long)]
        log_prefix: Option<String>,
        /// beyond NSQ: log line format, nsq (NSQ's lines) or json (one object per line) [default: nsq]
        #[arg(long)]
        log_format: Option<String> => _,
        /// <addr>:<port> to listen on for HTTP clients [default: 0.0.0.0:4171]
        #[arg(long)]
        http_address: Option<String>,
        /// URL base path [default: /]
        #[arg(long)]
        base_path: Option<String>,
        /// (development use only; the UI is always the one built in)
        #[arg(long, hide = true)]
        dev_static_dir: Option<String>,
        /// graphite HTTP address
        #[arg(long)]
        graphite_url: Option<String>,
        /// proxy HTTP requests to graphite
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        proxy_graphite: Option<bool>,
        /// The counter stats key formatting applied by the implementation of statsd. If no formatting is desired, set this to an empty string. [default: stats.counters.%s.count]
        #[arg(long)]
        statsd_counter_format: Option<String>,
        /// The gauge stats key formatting applied by the implementation of statsd. If no formatting is desired, set this to an empty string. [default: stats.gauges.%s]
        #[arg(long)]
        statsd_gauge_format: Option<String>,
        /// prefix used for keys sent to statsd (%s for host replacement, must match nsqd) [default: nsq.%s]
        #[arg(long)]
        statsd_prefix: Option<String>,
        /// time interval nsqd is configured to push to statsd (must match nsqd) [default: 1m0s]
        #[arg(long, value_parser = duration::parse)]
        statsd_interval: Option<Duration>,
        /// HTTP endpoint (fully qualified) to which POST notifications of admin actions will be sent
        #[arg(long)]
        notification_http_endpoint: Option<String>,
        /// timeout for HTTP connect [default: 2s]
        #[arg(long, value_parser = duration::parse)]
        http_client_connect_timeout: Option<Duration>,
        /// timeout for HTTP request [default: 5s]
        #[arg(long, value_parser = duration::parse)]
        http_client_request_timeout: Option<Duration>,
        /// configure the HTTP client to skip verification of TLS certificates
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
        http_client_tls_insecure_skip_verify: Option<bool>,
        /// path to CA file for the HTTP client
        #[arg(long)]
        http_client_tls_root_ca_file: Option<String>,
        /// path to certificate file for the HTTP client
        #[arg(long)]
        http_client_tls_cert: Option<String>,
        /// path to key file for the HTTP client
        #[arg(long)]
        http_client_tls_key: Option<String>,
        /// A CIDR from which to allow HTTP requests to the /config endpoint [default: 127.0.0.1/8]
        #[arg(long)]
        allow_config_from_cidr: Option<String>,
        /// HTTP header to check for authenticated admin users [default: X-Forwarded-User]
        #[arg(long)]
        acl_http_header: Option<String>,
        /// lookupd HTTP address (may be given multiple times)
        #[arg(long)]
        lookupd_http_address: Vec<String> => nsqlookupd_http_addresses,
        /// nsqd HTTP address (may be given multiple times)
        #[arg(long)]
        nsqd_http_address: Vec<String> => nsqd_http_addresses,
        /// admin user (may be given multiple times; if specified, only these users will be able to perform privileged actions; acl-http-header is used to determine the authenticated user)
        #[arg(long)]
        admin_user: Vec<String> => admin_users,
    }
}

impl NsqadminFlags {
    /// Merges flags, the config file and NSQ's defaults (not yet checked:
    /// `AdminOptions::validate` makes NSQ's start-up checks).
    pub fn resolve(self) -> Result<AdminOptions, String> {
        self.resolve_with_format().map(|(o, _)| o)
    }

    /// [`NsqadminFlags::resolve`], and how log lines are written.
    pub fn resolve_with_format(mut self) -> Result<(AdminOptions, LogFormat), String> {
        let f = &self.config_file()?;
        let log_format = log_format(self.log_format.take(), f)?;
        let log_level = pick(self.log_level.take(), f.string("log_level"), "info".into())?;
        let mut options = AdminOptions {
            log_level: LogLevel::parse(&log_level)
                .map_err(|_| format!("failed parsing log_level {log_level:?}"))?,
            ..AdminOptions::default()
        };
        self.merge_into(f, &mut options)?;
        Ok((options, log_format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::io::Write;

    fn parse(args: &[&str]) -> NsqadminFlags {
        let argv = super::super::args::normalize(
            std::iter::once("nsqadmin")
                .chain(args.iter().copied())
                .map(Into::into),
        );
        NsqadminFlags::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_are_nsqs() {
        let o = parse(&[]).resolve().unwrap();
        assert_eq!(o, AdminOptions::default());
        assert_eq!(o.http_address, "0.0.0.0:4171");
        assert_eq!(o.statsd_interval, Duration::from_secs(60));
        assert_eq!(o.acl_http_header, "X-Forwarded-User");
        assert_eq!(o.allow_config_from_cidr, "127.0.0.1/8");
    }

    #[test]
    fn go_style_flags_and_the_config_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "log_level = \"debug\"\nnsqlookupd_http_addresses = [\"l1:4161\", \"l2:4161\"]\nhttp_client_request_timeout = \"9s\"\nadmin_users = \"ann,bob\"\nproxy_graphite = true\ngraphite_url = \"http://g\"\nbase_path = \"file\""
        )
        .unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let o = parse(&[
            "-config",
            &path,
            "-base-path=/admin",
            "--statsd-interval",
            "10s",
            "-admin-user=carol",
            "--http-client-tls-insecure-skip-verify",
        ])
        .resolve()
        .unwrap();
        assert_eq!(o.log_level, LogLevel::Debug);
        assert_eq!(o.nsqlookupd_http_addresses, ["l1:4161", "l2:4161"]);
        assert_eq!(o.http_client_request_timeout, Duration::from_secs(9));
        assert_eq!(o.admin_users, ["carol"], "flags win");
        assert!(o.proxy_graphite && o.http_client_tls_insecure_skip_verify);
        assert_eq!(o.base_path, "/admin");
        assert_eq!(o.statsd_interval, Duration::from_secs(10));
        let o = parse(&["-config", &path]).resolve().unwrap();
        assert_eq!(o.admin_users, ["ann", "bob"]);
        assert_eq!(o.base_path, "file");
        let o = parse(&["--nsqd-http-address=a:1", "--nsqd-http-address", "b:2"])
            .resolve()
            .unwrap();
        assert_eq!(o.nsqd_http_addresses, ["a:1", "b:2"]);
    }

    #[test]
    fn nsqs_example_config_loads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/configs/nsqadmin.cfg.example"
        );
        let mut o = parse(&["--config", path, "--base-path=/a", "--base-path=/b"])
            .resolve()
            .unwrap();
        assert_eq!(o.base_path, "/b", "the last flag wins");
        assert_eq!(o.nsqlookupd_http_addresses, ["127.0.0.1:4161"]);
        assert_eq!(o.nsqd_http_addresses, ["127.0.0.1:4151"]);
        assert_eq!(o.graphite_url, "");
        assert!(!o.proxy_graphite);
        assert_eq!(o.statsd_interval, Duration::from_secs(60));
        // both lists given: refused when checked, as NSQ's nsqadmin does
        assert_eq!(
            o.validate().unwrap_err(),
            "use --nsqd-http-address or --lookupd-http-address not both"
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(NsqadminFlags::try_parse_from(["nsqadmin", "--statsd-interval=5"]).is_err());
        assert!(NsqadminFlags::try_parse_from(["nsqadmin", "--bogus"]).is_err());
        assert!(parse(&["--log-level=loud"]).resolve().is_err());
        assert!(parse(&["--config=/nonexistent/x.toml"]).resolve().is_err());
    }
}
