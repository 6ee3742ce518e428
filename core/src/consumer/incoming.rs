//! What a frame from nsqd means to a client.

use crate::wire::frame::{Frame, CLOSE_WAIT, HEARTBEAT};
use crate::wire::Message;
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Answer with `NOP` (nsqd closes clients that miss two heartbeats).
    Heartbeat,
    /// nsqd acknowledged `CLS`: no more messages will come.
    CloseWait,
    Response(Bytes),
    Error(Bytes),
    Message(Message),
}

pub fn classify(frame: Frame) -> Incoming {
    match frame {
        Frame::Response(d) if &d[..] == HEARTBEAT => Incoming::Heartbeat,
        Frame::Response(d) if &d[..] == CLOSE_WAIT => Incoming::CloseWait,
        Frame::Response(d) => Incoming::Response(d),
        Frame::Error(d) => Incoming::Error(d),
        Frame::Message(m) => Incoming::Message(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_and_close_wait_are_recognised() {
        assert_eq!(
            classify(Frame::Response(Bytes::from_static(b"_heartbeat_"))),
            Incoming::Heartbeat
        );
        assert_eq!(
            classify(Frame::Response(Bytes::from_static(b"CLOSE_WAIT"))),
            Incoming::CloseWait
        );
        assert_eq!(
            classify(Frame::Response(Bytes::from_static(b"OK"))),
            Incoming::Response(Bytes::from_static(b"OK"))
        );
    }
}
