//! The byte stream under a client connection. IDENTIFY may call for
//! upgrades (TLS, then deflate or snappy) that wrap the stream before the
//! connection is split into its reader and writer; [`upgrade`] is where each
//! wrapper goes. This client does not ask for any upgrade yet, and nsqd only
//! upgrades a client that asked, so [`check_config`] refuses the options
//! that would.

use super::Error;
use nsq_core::consumer::handshake::Step;
use nsq_core::consumer::Config;
use tokio::io::{AsyncRead, AsyncWrite};

/// Any duplex byte stream (TCP now; TLS or compression over it later).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub type BoxStream = Box<dyn Stream>;

/// Options this client cannot honour yet.
pub fn check_config(cfg: &Config) -> Result<(), Error> {
    for (on, name) in [
        (cfg.tls_v1, "tls_v1"),
        (cfg.deflate, "deflate"),
        (cfg.snappy, "snappy"),
    ] {
        if on {
            return Err(Error::Config(format!(
                "{name} is not supported by this client yet"
            )));
        }
    }
    cfg.validate().map_err(Error::Config)
}

/// Wraps `stream` for one upgrade step (AUTH is not a transport step).
pub fn upgrade(stream: BoxStream, step: Step) -> Result<BoxStream, Error> {
    match step {
        Step::Auth => Ok(stream),
        Step::UpgradeTls | Step::UpgradeDeflate { .. } | Step::UpgradeSnappy => {
            Err(Error::Protocol(format!(
                "nsqd asked for {step:?}, which this client did not request"
            )))
        }
    }
}
