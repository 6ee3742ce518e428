//! A producer's rules (go-nsq's `Producer`): one connection to one nsqd,
//! opened lazily on the first publish and again after it is lost; commands
//! are pipelined and nsqd answers them in order, so each `OK` or error frame
//! settles the oldest command still waiting. When the connection is lost,
//! every waiting command fails (the caller decides whether to publish again).

use super::incoming::Incoming;
use crate::wire::command::encode;
use crate::wire::names::is_valid_topic_name;
use std::collections::VecDeque;

/// One publish command.
#[derive(Debug, Clone, Copy)]
pub enum Publish<'a, B: AsRef<[u8]>> {
    Pub {
        topic: &'a str,
        body: &'a [u8],
    },
    Mpub {
        topic: &'a str,
        bodies: &'a [B],
    },
    Dpub {
        topic: &'a str,
        delay_ms: u64,
        body: &'a [u8],
    },
}

/// Why a publish was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    InvalidTopic(String),
    EmptyBody,
    NoMessages,
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::InvalidTopic(t) => write!(f, "invalid topic name {t:?}"),
            PublishError::EmptyBody => f.write_str("message body is empty"),
            PublishError::NoMessages => f.write_str("MPUB needs at least one message"),
        }
    }
}

impl std::error::Error for PublishError {}

/// Checks and appends a publish command to `out`.
pub fn encode_publish<B: AsRef<[u8]>>(
    out: &mut bytes::BytesMut,
    p: &Publish<'_, B>,
) -> Result<(), PublishError> {
    let topic = match p {
        Publish::Pub { topic, .. } | Publish::Mpub { topic, .. } | Publish::Dpub { topic, .. } => {
            *topic
        }
    };
    if !is_valid_topic_name(topic) {
        return Err(PublishError::InvalidTopic(topic.to_string()));
    }
    match p {
        Publish::Pub { body, .. } | Publish::Dpub { body, .. } if body.is_empty() => {
            Err(PublishError::EmptyBody)
        }
        Publish::Mpub { bodies: [], .. } => Err(PublishError::NoMessages),
        Publish::Mpub { bodies, .. } if bodies.iter().any(|b| b.as_ref().is_empty()) => {
            Err(PublishError::EmptyBody)
        }
        Publish::Pub { topic, body } => {
            encode::publish(out, topic, body);
            Ok(())
        }
        Publish::Dpub {
            topic,
            delay_ms,
            body,
        } => {
            encode::dpub(out, topic, *delay_ms, body);
            Ok(())
        }
        Publish::Mpub { topic, bodies } => {
            encode::mpub(out, topic, bodies);
            Ok(())
        }
    }
}

/// How a waiting command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// nsqd's error frame, e.g. `E_BAD_TOPIC ...`.
    Refused(String),
    /// The connection was lost before the answer came.
    NotConnected,
}

/// Commands sent and not yet answered, oldest first. `T` is whatever the
/// runtime uses to tell the caller (e.g. a oneshot sender).
#[derive(Debug)]
pub struct Pipeline<T> {
    waiting: VecDeque<T>,
}

impl<T> Default for Pipeline<T> {
    fn default() -> Self {
        Pipeline {
            waiting: VecDeque::new(),
        }
    }
}

/// What the runtime must do with a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaction<T> {
    Nothing,
    /// Send `NOP`.
    Nop,
    /// This command is settled.
    Settle(T, Outcome),
    /// The stream is out of step (an answer with nothing waiting, or a
    /// message on a producer): close the connection.
    Close,
}

impl<T> Pipeline<T> {
    pub fn sent(&mut self, t: T) {
        self.waiting.push_back(t);
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn on_frame(&mut self, f: Incoming) -> Reaction<T> {
        let outcome = match f {
            Incoming::Heartbeat => return Reaction::Nop,
            Incoming::CloseWait => return Reaction::Nothing,
            Incoming::Message(_) => return Reaction::Close,
            Incoming::Response(_) => Outcome::Ok,
            Incoming::Error(e) => Outcome::Refused(String::from_utf8_lossy(&e).into_owned()),
        };
        match self.waiting.pop_front() {
            Some(t) => Reaction::Settle(t, outcome),
            None => Reaction::Close,
        }
    }

    /// The connection is gone: everything waiting failed.
    pub fn on_closed(&mut self) -> impl Iterator<Item = T> + '_ {
        self.waiting.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};

    #[test]
    fn answers_settle_commands_in_order() {
        let mut p = Pipeline::default();
        p.sent(1);
        p.sent(2);
        p.sent(3);
        assert_eq!(p.on_frame(Incoming::Heartbeat), Reaction::Nop);
        assert_eq!(
            p.on_frame(Incoming::Response(Bytes::from_static(b"OK"))),
            Reaction::Settle(1, Outcome::Ok)
        );
        assert_eq!(
            p.on_frame(Incoming::Error(Bytes::from_static(b"E_BAD_TOPIC x"))),
            Reaction::Settle(2, Outcome::Refused("E_BAD_TOPIC x".into()))
        );
        assert_eq!(p.on_closed().collect::<Vec<_>>(), [3]);
        assert_eq!(
            p.on_frame(Incoming::Response(Bytes::from_static(b"OK"))),
            Reaction::Close
        );
    }

    #[test]
    fn publishes_are_checked_and_encoded() {
        let mut out = BytesMut::new();
        type P<'a> = Publish<'a, &'a [u8]>;
        let none: &[&[u8]] = &[];
        assert_eq!(
            encode_publish(
                &mut out,
                &P::Pub {
                    topic: "bad topic",
                    body: b"x"
                }
            ),
            Err(PublishError::InvalidTopic("bad topic".into()))
        );
        assert_eq!(
            encode_publish(
                &mut out,
                &P::Pub {
                    topic: "t",
                    body: b""
                }
            ),
            Err(PublishError::EmptyBody)
        );
        assert_eq!(
            encode_publish(
                &mut out,
                &Publish::Mpub {
                    topic: "t",
                    bodies: none
                }
            ),
            Err(PublishError::NoMessages)
        );
        assert!(out.is_empty());
        encode_publish(
            &mut out,
            &P::Dpub {
                topic: "t",
                delay_ms: 5,
                body: b"hi",
            },
        )
        .unwrap();
        assert_eq!(&out[..], b"DPUB t 5\n\x00\x00\x00\x02hi");
    }
}
