//! nsqlookupd's flags, with NSQ v1.3.0's names and defaults, resolved
//! against a `--config` file (flags win) into core [`LookupdOptions`].

use super::config::pick;
use super::duration;
use super::flags::{daemon_flags, log_format};
use nsq_core::lookup::LookupdOptions;
use std::time::Duration;

daemon_flags! {
    /// nsqlookupd: the directory nsqd nodes register with and consumers query.
    #[command(
        name = "nsqlookupd",
        about = "nsqlookupd keeps track of which nsqd nodes carry which topics and channels (NSQ v1.3.0 compatible)"
    )]
    pub struct NsqlookupdFlags => LookupdOptions {
        /// set log verbosity: debug, info, warn, error, or fatal [default: info]
        #[arg(long)]
        log_level: Option<String> => _,
        /// log message prefix [default: "[nsqlookupd] "]
        #[arg(long)]
        log_prefix: Option<String> => _,
        /// beyond NSQ: log line format, nsq (NSQ's lines) or json (one object per line) [default: nsq]
        #[arg(long)]
        log_format: Option<String> => _,
        /// <addr>:<port> to listen on for TCP clients [default: 0.0.0.0:4160]
        #[arg(long)]
        tcp_address: Option<String>,
        /// <addr>:<port> to listen on for HTTP clients [default: 0.0.0.0:4161]
        #[arg(long)]
        http_address: Option<String>,
        /// address of this lookupd node, (default to the OS hostname)
        #[arg(long)]
        broadcast_address: Option<String>,
        /// duration of time a producer will remain in the active list since its last ping [default: 5m0s]
        #[arg(long, value_parser = duration::parse)]
        inactive_producer_timeout: Option<Duration>,
        /// duration of time a producer will remain tombstoned if registration remains [default: 45s]
        #[arg(long, value_parser = duration::parse)]
        tombstone_lifetime: Option<Duration>,
    }
}

/// Resolved settings for the nsqlookupd binary.
#[derive(Debug, Clone)]
pub struct NsqlookupdSettings {
    pub options: LookupdOptions,
    pub log_level: String,
    pub log_prefix: String,
    pub log_format: super::logging::LogFormat,
}

impl NsqlookupdFlags {
    /// Merges flags, the config file and NSQ's defaults.
    pub fn resolve(mut self, hostname: &str) -> Result<NsqlookupdSettings, String> {
        let f = &self.config_file()?;
        let log_level = pick(self.log_level.take(), f.string("log_level"), "info".into())?;
        super::logging::parse_level(&log_level)
            .map_err(|_| format!("failed parsing log_level {log_level}"))?;
        let log_format = log_format(self.log_format.take(), f)?;
        let log_prefix = pick(
            self.log_prefix.take(),
            f.string("log_prefix"),
            "[nsqlookupd] ".into(),
        )?;
        let mut options = LookupdOptions {
            broadcast_address: hostname.to_string(),
            hostname: hostname.to_string(),
            ..LookupdOptions::default()
        };
        self.merge_into(f, &mut options)?;
        Ok(NsqlookupdSettings {
            options,
            log_level,
            log_prefix,
            log_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::io::Write;

    fn parse(args: &[&str]) -> NsqlookupdFlags {
        let argv = super::super::args::normalize(
            std::iter::once("nsqlookupd")
                .chain(args.iter().copied())
                .map(Into::into),
        );
        NsqlookupdFlags::try_parse_from(argv).unwrap()
    }

    #[test]
    fn defaults_are_nsqs() {
        let s = parse(&[]).resolve("host").unwrap();
        let o = s.options;
        assert_eq!(o.tcp_address, "0.0.0.0:4160");
        assert_eq!(o.http_address, "0.0.0.0:4161");
        assert_eq!(o.broadcast_address, "host");
        assert_eq!(o.hostname, "host");
        assert_eq!(o.inactive_producer_timeout, Duration::from_secs(300));
        assert_eq!(o.tombstone_lifetime, Duration::from_secs(45));
        assert_eq!(
            (s.log_level.as_str(), s.log_prefix.as_str()),
            ("info", "[nsqlookupd] ")
        );
    }

    #[test]
    fn go_style_flags_and_the_config_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "log_level = \"debug\"\ntcp_address = \"1.2.3.4:1\"\ninactive_producer_timeout = \"10s\"\ntombstone_lifetime = 1500\nbroadcast_address = \"file\""
        )
        .unwrap();
        let path = file.path().to_str().unwrap().to_string();
        let s = parse(&[
            "-config",
            &path,
            "-broadcast-address=flag",
            "--tombstone-lifetime",
            "1m30s",
        ])
        .resolve("h")
        .unwrap();
        let o = s.options;
        assert_eq!(s.log_level, "debug");
        assert_eq!(o.tcp_address, "1.2.3.4:1");
        assert_eq!(o.broadcast_address, "flag");
        assert_eq!(o.inactive_producer_timeout, Duration::from_secs(10));
        assert_eq!(o.tombstone_lifetime, Duration::from_secs(90));
        let o = parse(&["-config", &path]).resolve("h").unwrap().options;
        assert_eq!(o.tombstone_lifetime, Duration::from_millis(1500));
    }

    #[test]
    fn nsqs_example_config_loads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/configs/nsqlookupd.cfg.example"
        );
        let s = parse(&["--config", path, "--log-level=debug", "--log-level=warn"])
            .resolve("h")
            .unwrap();
        assert_eq!(s.log_level, "warn", "the last flag wins");
        let o = s.options;
        assert_eq!(
            (o.tcp_address.as_str(), o.http_address.as_str()),
            ("0.0.0.0:4160", "0.0.0.0:4161")
        );
        assert_eq!(o.inactive_producer_timeout, Duration::from_secs(300));
        assert_eq!(o.tombstone_lifetime, Duration::from_secs(45));
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(NsqlookupdFlags::try_parse_from(["nsqlookupd", "--tombstone-lifetime=5"]).is_err());
        assert!(NsqlookupdFlags::try_parse_from(["nsqlookupd", "--bogus"]).is_err());
        assert!(parse(&["--log-level=loud"]).resolve("h").is_err());
        assert!(parse(&["--config=/nonexistent/x.toml"])
            .resolve("h")
            .is_err());
    }
}
