//! Errors sent to a client as error frames (`E_INVALID ...`), with NSQ's
//! rule of which ones close the connection.

use std::fmt;

/// An error frame for a client. `fatal` errors close the connection after
/// the frame is sent; in NSQ v1.3.0 only E_FIN_FAILED, E_REQ_FAILED and
/// E_TOUCH_FAILED are not fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub code: &'static str,
    pub desc: String,
    pub fatal: bool,
}

impl ClientError {
    /// An error that closes the connection.
    pub fn fatal(code: &'static str, desc: impl Into<String>) -> Self {
        ClientError {
            code,
            desc: desc.into(),
            fatal: true,
        }
    }

    /// An error after which the connection stays open.
    pub fn soft(code: &'static str, desc: impl Into<String>) -> Self {
        ClientError {
            code,
            desc: desc.into(),
            fatal: false,
        }
    }

    /// `E_INVALID` with a description; fatal.
    pub fn invalid(desc: impl Into<String>) -> Self {
        Self::fatal("E_INVALID", desc)
    }

    /// The bytes of the error frame: `CODE DESC`, or the bare code when there
    /// is no description (E_BAD_PROTOCOL).
    pub fn to_frame_data(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.desc.is_empty() {
            f.write_str(self.code)
        } else {
            write!(f, "{} {}", self.code, self.desc)
        }
    }
}

impl std::error::Error for ClientError {}
