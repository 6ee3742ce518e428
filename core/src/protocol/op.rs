//! What a connection asks of the broker, and what came of it. The runtime
//! carries an [`Op`] out under the lock of the one topic it names and hands
//! the [`OpResult`] back (`Session::op_done`): the connection machine never
//! calls into the runtime.

use crate::broker::inflight::InFlightError;
use crate::broker::{ConsumerSettings, Subscription};
use crate::io::Nanos;
use crate::wire::MessageId;
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Creates the topic if needed (an MPUB whose line passed, before its
    /// body is read, as NSQ does). Answered `Done`.
    CreateTopic { topic: String },
    /// PUB / MPUB. Answered `Published`.
    Publish { topic: String, bodies: Vec<Bytes> },
    /// DPUB. Answered `Published`.
    PublishDeferred {
        topic: String,
        body: Bytes,
        delay: Nanos,
    },
    /// SUB. Answered `Subscribed`.
    Subscribe {
        topic: String,
        channel: String,
        settings: ConsumerSettings,
    },
    /// RDY (and CLS, with 0). Answered `Done`.
    Ready { sub: Subscription, count: i64 },
    /// FINs of one batch, in order. Answered `Finished`.
    Finish {
        sub: Subscription,
        ids: Vec<MessageId>,
    },
    /// REQ. Answered `Requeued`.
    Requeue {
        sub: Subscription,
        id: MessageId,
        delay: Nanos,
    },
    /// TOUCH. Answered `Touched`.
    Touch { sub: Subscription, id: MessageId },
    /// The connection is over: it leaves its channel (an ephemeral channel
    /// and topic vanish with their last consumer). No answer.
    Leave { sub: Subscription },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Done,
    /// Taken (`true`: the answer waits until its records are on disk, see
    /// `Output::WaitDurable`), or refused with the reason.
    Published(Result<bool, String>),
    /// The consumer's slot in the channel, or why not.
    Subscribed(Result<usize, String>),
    /// The FINs that failed, by index in the batch.
    Finished(Vec<(usize, InFlightError)>),
    Requeued(Result<(), String>),
    Touched(Result<(), InFlightError>),
}
