//! The byte stream under a client connection. IDENTIFY may call for
//! upgrades (TLS, then deflate or snappy) that wrap the stream before the
//! connection is split into its reader and writer; [`upgrade`] applies
//! each one with the same stream wrappers nsqd uses.

use super::Error;
use crate::stream::{self, Prefixed};
use bytes::BytesMut;
use nsq_core::consumer::handshake::Step;
use nsq_core::consumer::Config;

pub use crate::stream::{BoxStream, Stream};

/// Checks the options, including that the TLS files can be read.
pub fn check_config(cfg: &Config) -> Result<(), Error> {
    if cfg.tls_v1 {
        tls_config(cfg)?;
    }
    cfg.validate().map_err(Error::Config)
}

fn tls_config(cfg: &Config) -> Result<std::sync::Arc<crate::tls::ClientConfig>, Error> {
    crate::tls::client_config(
        &cfg.tls_root_ca_file,
        cfg.tls_insecure_skip_verify,
        &cfg.tls_cert,
        &cfg.tls_key,
        &cfg.tls_min_version,
    )
    .map_err(|e| Error::Config(format!("tls_v1: {e}")))
}

/// The host part of `host:port` (`[::1]:4150` gives `::1`): the name the
/// server's certificate is checked against, as go-nsq does.
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Wraps `stream` for one upgrade step (AUTH is not a transport step).
/// `leftover` holds bytes already read that belong to the upgraded stream.
pub async fn upgrade(
    stream: BoxStream,
    step: Step,
    cfg: &Config,
    addr: &str,
    leftover: &mut BytesMut,
) -> Result<BoxStream, Error> {
    let stream: BoxStream = if leftover.is_empty() {
        stream
    } else {
        Box::new(Prefixed::new(leftover.split(), stream))
    };
    let not_asked = |what: &str| {
        Err(Error::Protocol(format!(
            "nsqd asked for {what}, which this client did not request"
        )))
    };
    match step {
        Step::Auth => Ok(stream),
        Step::UpgradeTls if !cfg.tls_v1 => not_asked("TLS"),
        Step::UpgradeSnappy if !cfg.snappy => not_asked("snappy"),
        Step::UpgradeDeflate { .. } if !cfg.deflate => not_asked("deflate"),
        Step::UpgradeTls => Ok(crate::tls::connect(tls_config(cfg)?, host_of(addr), stream).await?),
        Step::UpgradeSnappy => Ok(stream::snappy(stream)),
        Step::UpgradeDeflate { level } => Ok(stream::deflate(stream, level.clamp(0, 9) as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_for_certificates() {
        assert_eq!(host_of("127.0.0.1:4150"), "127.0.0.1");
        assert_eq!(host_of("[::1]:4150"), "::1");
        assert_eq!(host_of("nsqd.example:4150"), "nsqd.example");
    }

    #[test]
    fn tls_needs_a_root_ca_or_insecure() {
        let mut cfg = Config::new("h");
        cfg.tls_v1 = true;
        assert!(check_config(&cfg).is_err());
        cfg.tls_insecure_skip_verify = true;
        assert!(check_config(&cfg).is_ok());
        cfg.tls_root_ca_file = "/nonexistent/ca.pem".into();
        cfg.tls_insecure_skip_verify = false;
        assert!(check_config(&cfg).is_err());
    }
}
