//! What can go wrong for a client.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Bad options, topic or channel names.
    Config(String),
    /// Dialling, reading or writing failed.
    Io(std::io::Error),
    /// nsqd broke the protocol or refused the handshake.
    Protocol(String),
    /// nsqd answered a command with an error frame (`E_...`).
    Refused(String),
    /// The connection was lost before the answer came.
    NotConnected,
    /// The consumer or producer was stopped.
    Stopped,
    /// A timeout passed.
    Timeout(&'static str),
    /// Already connected (or connecting) to this address.
    AlreadyConnected,
    /// An HTTP request (nsqlookupd, nsqd stats) failed.
    Http(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => f.write_str(e),
            Error::Io(e) => write!(f, "{e}"),
            Error::Protocol(e) => write!(f, "protocol error - {e}"),
            Error::Refused(e) => f.write_str(e),
            Error::NotConnected => f.write_str("not connected"),
            Error::Stopped => f.write_str("stopped"),
            Error::Timeout(what) => write!(f, "{what} timed out"),
            Error::AlreadyConnected => f.write_str("already connected"),
            Error::Http(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
