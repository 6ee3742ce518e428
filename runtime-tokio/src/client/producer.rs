//! The producer: one nsqd, connected lazily and again after a loss, with
//! commands pipelined (nsqd answers in order).

use super::conn::{self, ConnIo, Flow};
use super::transport::check_config;
use super::Error;
use bytes::BytesMut;
use nsq_core::consumer::producer::{encode_publish, Outcome, Pipeline, Publish, Reaction};
use nsq_core::consumer::Config;
use nsq_core::wire::command::encode;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// A publish of one body (the body-list type is then irrelevant).
type Single<'a> = Publish<'a, &'a [u8]>;

/// Publishes to one nsqd (go-nsq's `Producer`).
///
/// ```no_run
/// use nsq_runtime_tokio::client::{Config, Producer};
/// # async fn demo() -> Result<(), nsq_runtime_tokio::client::Error> {
/// let producer = Producer::new("127.0.0.1:4150", Config::new("my-host"))?;
/// producer.publish("orders", b"hello").await?;
/// producer.multi_publish("orders", &[&b"a"[..], &b"b"[..]]).await?;
/// // pipelined: send many, then wait for the acknowledgements
/// let mut acks = Vec::new();
/// for i in 0..100 {
///     acks.push(producer.publish_async("orders", format!("m{i}").as_bytes()).await?);
/// }
/// for ack in acks {
///     ack.await?;
/// }
/// producer.stop().await;
/// # Ok(()) }
/// ```
pub struct Producer {
    addr: String,
    cfg: Config,
    conn: tokio::sync::Mutex<Option<Arc<Live>>>,
    stopped: AtomicBool,
    ids: AtomicU64,
}

struct Live {
    io: Arc<ConnIo>,
    pipeline: Mutex<Pipeline<oneshot::Sender<Outcome>>>,
    alive: AtomicBool,
}

impl Live {
    fn pipeline(&self) -> MutexGuard<'_, Pipeline<oneshot::Sender<Outcome>>> {
        self.pipeline.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail_all(&self) {
        self.alive.store(false, Ordering::Release);
        let waiting: Vec<_> = self.pipeline().on_closed().collect();
        for tx in waiting {
            let _ = tx.send(Outcome::NotConnected);
        }
    }
}

/// The acknowledgement of one pipelined command.
pub struct Ack {
    rx: oneshot::Receiver<Outcome>,
}

impl Future for Ack {
    type Output = Result<(), Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| match r {
            Ok(Outcome::Ok) => Ok(()),
            Ok(Outcome::Refused(e)) => Err(Error::Refused(e)),
            Ok(Outcome::NotConnected) | Err(_) => Err(Error::NotConnected),
        })
    }
}

impl Producer {
    pub fn new(addr: &str, cfg: Config) -> Result<Producer, Error> {
        check_config(&cfg)?;
        Ok(Producer {
            addr: addr.to_string(),
            cfg,
            conn: tokio::sync::Mutex::new(None),
            stopped: AtomicBool::new(false),
            ids: AtomicU64::new(0),
        })
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connects if needed and sends `NOP` (checks the address early).
    pub async fn ping(&self) -> Result<(), Error> {
        let live = self.live().await?;
        live.io.send(encode::nop);
        Ok(())
    }

    pub async fn publish(&self, topic: &str, body: &[u8]) -> Result<(), Error> {
        self.publish_async(topic, body).await?.await
    }

    pub async fn multi_publish<B: AsRef<[u8]>>(
        &self,
        topic: &str,
        bodies: &[B],
    ) -> Result<(), Error> {
        self.send(&Publish::Mpub { topic, bodies }).await?.await
    }

    pub async fn deferred_publish(
        &self,
        topic: &str,
        delay: Duration,
        body: &[u8],
    ) -> Result<(), Error> {
        self.deferred_publish_async(topic, delay, body).await?.await
    }

    /// Sends `PUB` now; the returned [`Ack`] resolves with nsqd's answer.
    /// Commands reach nsqd in the order they were sent.
    pub async fn publish_async(&self, topic: &str, body: &[u8]) -> Result<Ack, Error> {
        self.send(&Single::Pub { topic, body }).await
    }

    pub async fn multi_publish_async<B: AsRef<[u8]>>(
        &self,
        topic: &str,
        bodies: &[B],
    ) -> Result<Ack, Error> {
        self.send(&Publish::Mpub { topic, bodies }).await
    }

    pub async fn deferred_publish_async(
        &self,
        topic: &str,
        delay: Duration,
        body: &[u8],
    ) -> Result<Ack, Error> {
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.send(&Single::Dpub {
            topic,
            delay_ms,
            body,
        })
        .await
    }

    async fn send<B: AsRef<[u8]>>(&self, cmd: &Publish<'_, B>) -> Result<Ack, Error> {
        let mut bytes = BytesMut::new();
        encode_publish(&mut bytes, cmd).map_err(|e| Error::Config(e.to_string()))?;
        let live = self.live().await?;
        let (tx, rx) = oneshot::channel();
        let mut pipeline = live.pipeline();
        if !live.alive.load(Ordering::Acquire) {
            return Err(Error::NotConnected);
        }
        pipeline.sent(tx);
        if !live.io.send(|b| b.extend_from_slice(&bytes)) {
            drop(pipeline);
            live.fail_all();
        }
        Ok(Ack { rx })
    }

    /// The live connection, dialled if there is none.
    async fn live(&self) -> Result<Arc<Live>, Error> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        let mut slot = self.conn.lock().await;
        if let Some(live) = slot.as_ref() {
            if live.alive.load(Ordering::Acquire) {
                return Ok(Arc::clone(live));
            }
        }
        tracing::info!("({}) connecting to nsqd", self.addr);
        let est = conn::dial(&self.addr, &self.cfg, None)
            .await
            .inspect_err(|e| {
                tracing::error!("({}) error connecting to nsqd - {e}", self.addr);
            })?;
        let id = self.ids.fetch_add(1, Ordering::Relaxed) + 1;
        let io = Arc::new(ConnIo::new(id, &self.addr));
        let (rd, leftover) = conn::start(est, Arc::clone(&io), self.cfg.write_timeout);
        let live = Arc::new(Live {
            io,
            pipeline: Mutex::new(Pipeline::default()),
            alive: AtomicBool::new(true),
        });
        *slot = Some(Arc::clone(&live));
        let reader = Arc::clone(&live);
        let read_timeout = self.cfg.read_timeout;
        tokio::spawn(async move {
            let r = conn::read_loop(&reader.io, rd, leftover, read_timeout, |f| {
                match reader.pipeline().on_frame(f) {
                    Reaction::Settle(tx, outcome) => {
                        let _ = tx.send(outcome);
                        Flow::Continue
                    }
                    Reaction::Nop => {
                        reader.io.send(encode::nop);
                        Flow::Continue
                    }
                    Reaction::Nothing => Flow::Continue,
                    Reaction::Close => Flow::Stop,
                }
            })
            .await;
            if let Err(e) = r {
                if !reader.io.is_closing() {
                    tracing::error!("({}) IO error - {e}", reader.io.addr);
                }
            }
            reader.io.kill();
            reader.fail_all();
        });
        Ok(live)
    }

    /// Stops for good: waits (up to the write timeout) for answers to what
    /// was sent, then closes the connection.
    pub async fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        let live = self.conn.lock().await.take();
        if let Some(live) = live {
            let deadline =
                tokio::time::Instant::now() + self.cfg.write_timeout.max(Duration::from_secs(1));
            while !live.pipeline().is_empty()
                && live.alive.load(Ordering::Acquire)
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            live.io.close();
            live.fail_all();
        }
    }
}
