//! The rules of nsqd's HTTP API that do not need HTTP: parameter checks,
//! body limits and splitting for `/pub` and `/mpub`, `/config/:opt`, and
//! the `/info` document. The runtime's HTTP server only moves bytes.

pub mod config;
pub mod info;
pub mod publish;

/// An API error: NSQ's status and message code (`{"message":"CODE"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: &'static str,
}

impl ApiError {
    pub const fn new(status: u16, message: &'static str) -> Self {
        ApiError { status, message }
    }
}

/// NSQ's boolean query values (`true`/`1`, `false`/`0`); anything else is `None`.
pub fn bool_param(v: &str) -> Option<bool> {
    match v {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}
