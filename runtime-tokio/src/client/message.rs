//! A message as a consumer hands it out: its data, and how to answer it.

use super::conn::ConnIo;
use super::consumer::Shared;
use bytes::Bytes;
use nsq_core::consumer::rules::default_requeue_delay;
use nsq_core::wire::command::encode;
use nsq_core::wire::MessageId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A message received from nsqd. Cloning is cheap and every clone refers to
/// the same delivery: the first `finish` or `requeue` answers it, later ones
/// do nothing. A delivery nobody answered is requeued (without backoff) when
/// its last clone is dropped, so a message is never silently lost.
#[derive(Clone)]
pub struct Message {
    inner: Arc<Inner>,
}

struct Inner {
    msg: nsq_core::wire::Message,
    conn: Arc<ConnIo>,
    shared: Arc<Shared>,
    responded: AtomicBool,
    auto_response_disabled: AtomicBool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.inner.msg.id)
            .field("attempts", &self.inner.msg.attempts)
            .field("nsqd", &self.inner.conn.addr)
            .field("body_len", &self.inner.msg.body.len())
            .finish()
    }
}

impl Message {
    pub(crate) fn new(
        msg: nsq_core::wire::Message,
        conn: Arc<ConnIo>,
        shared: Arc<Shared>,
    ) -> Self {
        Message {
            inner: Arc::new(Inner {
                msg,
                conn,
                shared,
                responded: AtomicBool::new(false),
                auto_response_disabled: AtomicBool::new(false),
            }),
        }
    }

    pub fn body(&self) -> &Bytes {
        &self.inner.msg.body
    }

    pub fn id(&self) -> MessageId {
        self.inner.msg.id
    }

    /// How often nsqd has delivered it (1 the first time).
    pub fn attempts(&self) -> u16 {
        self.inner.msg.attempts
    }

    /// When it was published, in nanoseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.inner.msg.timestamp
    }

    /// The nsqd it came from.
    pub fn nsqd_address(&self) -> &str {
        &self.inner.conn.addr
    }

    /// Handlers will not answer it when they return: the application does
    /// (go-nsq's `DisableAutoResponse`).
    pub fn disable_auto_response(&self) {
        self.inner
            .auto_response_disabled
            .store(true, Ordering::Release);
    }

    pub fn is_auto_response_disabled(&self) -> bool {
        self.inner.auto_response_disabled.load(Ordering::Acquire)
    }

    pub fn has_responded(&self) -> bool {
        self.inner.responded.load(Ordering::Acquire)
    }

    /// Done with it: `FIN`.
    pub fn finish(&self) {
        self.inner.finish();
    }

    /// Hand it back for redelivery after `delay` (`None`: go-nsq's default,
    /// `default_requeue_delay` × attempts up to `max_requeue_delay`). Counts
    /// as a failure: the consumer backs off.
    pub fn requeue(&self, delay: Option<Duration>) {
        self.inner.requeue(delay, true);
    }

    /// Like [`requeue`](Self::requeue), without backing off.
    pub fn requeue_without_backoff(&self, delay: Option<Duration>) {
        self.inner.requeue(delay, false);
    }

    /// Asks nsqd for more time (resets the message timeout).
    pub fn touch(&self) {
        if !self.has_responded() {
            self.inner
                .conn
                .send(|b| encode::touch(b, &self.inner.msg.id));
        }
    }
}

impl Inner {
    fn claim(&self) -> bool {
        !self.responded.swap(true, Ordering::AcqRel)
    }

    fn finish(&self) {
        if !self.claim() {
            return;
        }
        self.conn.send(|b| encode::fin(b, &self.msg.id));
        self.shared.on_response(&self.conn, None);
    }

    fn requeue(&self, delay: Option<Duration>, backoff: bool) {
        if !self.claim() {
            return;
        }
        let delay_ns = match delay {
            Some(d) => nsq_core::io::nanos(d),
            None => default_requeue_delay(self.shared.config(), self.msg.attempts),
        };
        let ms = (delay_ns / 1_000_000).max(0) as u64;
        self.conn.send(|b| encode::req(b, &self.msg.id, ms));
        self.shared.on_response(&self.conn, Some(backoff));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !*self.responded.get_mut() {
            tracing::warn!(
                "({}) message {} dropped unanswered, requeueing",
                self.conn.addr,
                self.msg.id
            );
            self.requeue(None, false);
        }
    }
}
