//! The consumer: drives `nsq_core::consumer::ConsumerState` (which holds
//! every rule) with real connections, timers and HTTP.

use super::conn::{self, ConnIo, Flow};
use super::http::Fetch;
use super::message::Message;
use super::transport::check_config;
use super::Error;
use crate::clock;
use nsq_core::consumer::lookup::parse_lookup;
use nsq_core::consumer::rules::too_many_attempts;
use nsq_core::consumer::{Action, Config, ConnId, ConsumerState, Incoming, Stats};
use nsq_core::io::Nanos;
use nsq_core::wire::command::encode;
use nsq_core::wire::names::{is_valid_channel_name, is_valid_topic_name};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// How long `stop` waits for connections to drain before it drops them
/// (go-nsq's 30 s; unanswered messages then time out on nsqd and are
/// delivered again).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// What a handler returns when it could not process a message.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Processes messages (go-nsq's `Handler`). `Ok` finishes the message,
/// `Err` requeues it with backoff, unless the handler called
/// [`Message::disable_auto_response`] and answers it itself.
pub trait Handler: Send + Sync + 'static {
    fn handle_message(&self, msg: Message)
        -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Called for a message delivered more than `max_attempts` times, just
    /// before it is finished unprocessed.
    fn log_failed_message(&self, _msg: &Message) {}
}

/// A handler from an async closure: see [`handler_fn`].
pub struct HandlerFn<F>(F);

/// Makes a [`Handler`] of `f`.
///
/// ```no_run
/// # async fn demo(consumer: &nsq_runtime_tokio::client::Consumer) {
/// use nsq_runtime_tokio::client::{handler_fn, Message};
/// consumer
///     .add_handler(handler_fn(|m: Message| async move {
///         println!("{}", String::from_utf8_lossy(m.body()));
///         Ok(())
///     }))
///     .unwrap();
/// # }
/// ```
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    HandlerFn(f)
}

impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle_message(
        &self,
        msg: Message,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (self.0)(msg)
    }
}

struct Core {
    state: ConsumerState,
    conns: BTreeMap<ConnId, Arc<ConnIo>>,
}

/// Everything the consumer's tasks share.
pub(crate) struct Shared {
    topic: String,
    channel: String,
    cfg: Config,
    core: Mutex<Core>,
    timer_wake: Notify,
    stopped: Notify,
    is_stopped: AtomicBool,
    msg_tx: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    next_id: AtomicU64,
    fetch: Option<Arc<dyn Fetch>>,
}

/// A consumer of one topic and channel, from any number of nsqd, found
/// directly or through nsqlookupd (go-nsq's `Consumer`).
///
/// Messages come either to a [`Handler`] (`add_handler`,
/// `add_concurrent_handlers`) or as a stream (`messages`); choose one
/// before connecting.
///
/// ```no_run
/// use nsq_runtime_tokio::client::{Config, Consumer};
/// # async fn demo() -> Result<(), nsq_runtime_tokio::client::Error> {
/// let mut cfg = Config::new("my-host");
/// cfg.max_in_flight = 100;
/// let consumer = Consumer::new("orders", "billing", cfg)?;
/// let mut messages = consumer.messages()?;
/// consumer.connect_to_nsqd("127.0.0.1:4150").await?;
/// while let Some(msg) = messages.recv().await {
///     println!("{:?}", msg.body());
///     msg.finish();
/// }
/// # Ok(()) }
/// ```
pub struct Consumer {
    shared: Arc<Shared>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Message>>>,
    handlers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Consumer {
    /// A consumer using the default HTTP client for nsqlookupd. Call it
    /// within a tokio runtime (it starts the consumer's timer task).
    #[cfg(not(madsim))]
    pub fn new(topic: &str, channel: &str, cfg: Config) -> Result<Consumer, Error> {
        let http = super::http::HttpClient::new(cfg.lookupd_poll_timeout, cfg.lookupd_poll_timeout);
        Self::with_fetch(topic, channel, cfg, Some(Arc::new(http)))
    }

    /// A consumer that reaches nsqlookupd through `fetch` (or not at all).
    pub fn with_fetch(
        topic: &str,
        channel: &str,
        cfg: Config,
        fetch: Option<Arc<dyn Fetch>>,
    ) -> Result<Consumer, Error> {
        check_config(&cfg)?;
        if !is_valid_topic_name(topic) {
            return Err(Error::Config("invalid topic name".into()));
        }
        if !is_valid_channel_name(channel) {
            return Err(Error::Config("invalid channel name".into()));
        }
        let now = clock::now();
        let seed = now as u64 ^ seed_salt();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            topic: topic.to_string(),
            channel: channel.to_string(),
            core: Mutex::new(Core {
                state: ConsumerState::new(topic, cfg.clone(), seed, now),
                conns: BTreeMap::new(),
            }),
            cfg,
            timer_wake: Notify::new(),
            stopped: Notify::new(),
            is_stopped: AtomicBool::new(false),
            msg_tx: Mutex::new(Some(tx)),
            next_id: AtomicU64::new(0),
            fetch,
        });
        tokio::spawn(timer_loop(Arc::clone(&shared)));
        Ok(Consumer {
            shared,
            rx: Mutex::new(Some(rx)),
            handlers: Mutex::new(Vec::new()),
        })
    }

    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    pub fn channel(&self) -> &str {
        &self.shared.channel
    }

    fn take_rx(&self) -> Result<mpsc::UnboundedReceiver<Message>, Error> {
        lock(&self.rx)
            .take()
            .ok_or_else(|| Error::Config("messages already go to a handler or stream".into()))
    }

    /// The messages as a stream (see [`Messages`]).
    pub fn messages(&self) -> Result<Messages, Error> {
        Ok(Messages {
            rx: self.take_rx()?,
            shared: Arc::clone(&self.shared),
        })
    }

    /// One handler task.
    pub fn add_handler<H: Handler>(&self, handler: H) -> Result<(), Error> {
        self.add_concurrent_handlers(handler, 1)
    }

    /// `concurrency` tasks running `handler` on messages as they come.
    pub fn add_concurrent_handlers<H: Handler>(
        &self,
        handler: H,
        concurrency: usize,
    ) -> Result<(), Error> {
        let rx = Arc::new(tokio::sync::Mutex::new(Messages {
            rx: self.take_rx()?,
            shared: Arc::clone(&self.shared),
        }));
        let handler = Arc::new(handler);
        let cfg = Arc::new(self.shared.cfg.clone());
        let mut tasks = lock(&self.handlers);
        for _ in 0..concurrency.max(1) {
            let (rx, handler, cfg) = (Arc::clone(&rx), Arc::clone(&handler), Arc::clone(&cfg));
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.next_raw().await;
                    let Some(msg) = next else { break };
                    if too_many_attempts(&cfg, msg.attempts()) {
                        tracing::warn!(
                            "msg {} attempted {} times, giving up",
                            msg.id(),
                            msg.attempts()
                        );
                        handler.log_failed_message(&msg);
                        msg.finish();
                        continue;
                    }
                    let result = handler.handle_message(msg.clone()).await;
                    if msg.is_auto_response_disabled() {
                        continue;
                    }
                    match result {
                        Ok(()) => msg.finish(),
                        Err(e) => {
                            tracing::error!("Handler returned error ({e}) for msg {}", msg.id());
                            msg.requeue(None);
                        }
                    }
                }
            }));
        }
        Ok(())
    }

    /// Connects to one nsqd (go-nsq's `ConnectToNSQD`). A lost connection
    /// is redialled every `lookupd_poll_interval` when there is no lookupd.
    pub async fn connect_to_nsqd(&self, addr: &str) -> Result<(), Error> {
        if self.shared.is_stopped.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        let fresh = self.shared.with_state(|s, _| {
            if s.is_stopping() {
                Err(Error::Stopped)
            } else if s.begin_connect(addr) {
                Ok(true)
            } else {
                Ok(false)
            }
        })?;
        if !fresh {
            return Err(Error::AlreadyConnected);
        }
        connect(Arc::clone(&self.shared), addr.to_string()).await
    }

    /// Connects to each address; stops at the first failure.
    pub async fn connect_to_nsqds<S: AsRef<str>>(&self, addrs: &[S]) -> Result<(), Error> {
        for a in addrs {
            self.connect_to_nsqd(a.as_ref()).await?;
        }
        Ok(())
    }

    /// Closes the connection to `addr` and never redials it.
    pub fn disconnect_from_nsqd(&self, addr: &str) -> Result<(), Error> {
        let conn = self
            .shared
            .with_state(|s, _| s.disconnect_nsqd(addr))
            .map_err(Error::Config)?;
        if let Some(id) = conn {
            if let Some(io) = lock(&self.shared.core).conns.get(&id) {
                io.close();
            }
        }
        Ok(())
    }

    /// Adds an nsqlookupd HTTP address (`host:port` or a URL). The first
    /// one is queried at once, then every `lookupd_poll_interval`.
    pub fn connect_to_lookupd(&self, addr: &str) -> Result<(), Error> {
        if self.shared.fetch.is_none() {
            return Err(Error::Config("this consumer has no HTTP client".into()));
        }
        self.shared
            .with_state(|s, now| s.add_lookupd(addr, now))
            .map_err(Error::Config)
    }

    pub fn connect_to_lookupds<S: AsRef<str>>(&self, addrs: &[S]) -> Result<(), Error> {
        addrs
            .iter()
            .try_for_each(|a| self.connect_to_lookupd(a.as_ref()))
    }

    /// Changes max_in_flight (0 pauses the consumer).
    pub fn change_max_in_flight(&self, n: i64) {
        self.shared.with_state(|s, now| s.set_max_in_flight(n, now));
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.core).state.stats()
    }

    /// go-nsq's `IsStarved`: time to answer the messages held.
    pub fn is_starved(&self) -> bool {
        lock(&self.shared.core).state.is_starved()
    }

    /// Stops gracefully: `CLS` on every connection, then waits (at most
    /// 30 s) until every delivered message was answered and every
    /// connection closed, and for the handlers to finish. The message
    /// stream ends.
    pub async fn stop(&self) {
        let stopped = self.shared.stopped.notified();
        tokio::pin!(stopped);
        stopped.as_mut().enable();
        self.shared.with_state(|s, _| s.stop());
        if !self.shared.is_stopped.load(Ordering::Acquire)
            && tokio::time::timeout(STOP_TIMEOUT, stopped).await.is_err()
        {
            tracing::warn!("stop: connections did not drain in time, dropping them");
            let conns: Vec<_> = lock(&self.shared.core).conns.values().cloned().collect();
            for io in conns {
                io.kill();
            }
            self.shared.finish_stop();
        }
        let tasks: Vec<_> = lock(&self.handlers).drain(..).collect();
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Resolves once the consumer has stopped (go-nsq's `StopChan`).
    pub async fn wait_stopped(&self) {
        let stopped = self.shared.stopped.notified();
        tokio::pin!(stopped);
        stopped.as_mut().enable();
        if !self.shared.is_stopped.load(Ordering::Acquire) {
            stopped.await;
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // no more dialling or polling once nobody can stop it
        self.shared.with_state(|s, _| s.stop());
    }
}

/// The messages of a consumer, in arrival order. Answer each one
/// (`finish`/`requeue`); a dropped message is requeued. Messages delivered
/// more than `max_attempts` times are finished and skipped. The stream ends
/// when the consumer has stopped.
pub struct Messages {
    rx: mpsc::UnboundedReceiver<Message>,
    shared: Arc<Shared>,
}

impl Messages {
    async fn next_raw(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// True when no message is waiting right now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The next message, or `None` once the consumer stopped.
    pub async fn recv(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| self.poll_next_message(cx)).await
    }

    fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(m)) if too_many_attempts(self.shared.config(), m.attempts()) => {
                    tracing::warn!("msg {} attempted {} times, giving up", m.id(), m.attempts());
                    m.finish();
                }
                other => return other,
            }
        }
    }
}

impl futures_core::Stream for Messages {
    type Item = Message;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.get_mut().poll_next_message(cx)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // state is only changed by whole core calls: a panic cannot leave it torn
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn config(&self) -> &Config {
        &self.cfg
    }

    /// Runs `f` on the state, then does what it asked for.
    fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut ConsumerState, Nanos) -> R) -> R {
        self.with_core(|core, now| f(&mut core.state, now))
    }

    /// Like `with_state`, with the connection table too.
    fn with_core<R>(self: &Arc<Self>, f: impl FnOnce(&mut Core, Nanos) -> R) -> R {
        let mut core = lock(&self.core);
        let r = f(&mut core, clock::now());
        self.run_actions(&mut core);
        let stopped = core.state.is_stopped();
        drop(core);
        self.timer_wake.notify_one();
        if stopped {
            self.finish_stop();
        }
        r
    }

    fn run_actions(self: &Arc<Self>, core: &mut Core) {
        while let Some(a) = core.state.poll_action() {
            match a {
                Action::Rdy { conn, count } => {
                    if let Some(io) = core.conns.get(&conn) {
                        tracing::debug!("({}) sending RDY {count}", io.addr);
                        io.send(|b| encode::rdy(b, count.max(0) as u64));
                    }
                }
                Action::StartClose { conn } => {
                    if let Some(io) = core.conns.get(&conn) {
                        io.send(encode::cls);
                    }
                }
                Action::Connect { addr } => {
                    let shared = Arc::clone(self);
                    tokio::spawn(async move {
                        if let Err(e) = connect(shared, addr.clone()).await {
                            tracing::error!("({addr}) error connecting to nsqd - {e}");
                        }
                    });
                }
                Action::QueryLookupd { url } => {
                    let shared = Arc::clone(self);
                    tokio::spawn(query_lookupd(shared, url));
                }
            }
        }
    }

    fn finish_stop(&self) {
        if !self.is_stopped.swap(true, Ordering::AcqRel) {
            lock(&self.msg_tx).take();
            self.stopped.notify_waiters();
            self.timer_wake.notify_one();
        }
    }

    /// A message of `io` was answered: `None` = finished, `Some(backoff)` =
    /// requeued.
    pub(crate) fn on_response(self: &Arc<Self>, io: &Arc<ConnIo>, requeued: Option<bool>) {
        let drained = self.with_state(|s, now| {
            match requeued {
                None => s.finished(io.id, now),
                Some(backoff) => s.requeued(io.id, backoff, now),
            }
            s.in_flight(io.id) == 0
        });
        if drained && io.close_wait() {
            io.close();
        }
    }
}

async fn timer_loop(shared: Arc<Shared>) {
    while !shared.is_stopped.load(Ordering::Acquire) {
        let wake = shared.timer_wake.notified();
        let deadline = lock(&shared.core).state.next_deadline();
        match deadline {
            Some(d) => {
                tokio::select! {
                    biased; // a fixed order, so simulated runs repeat (README: Simulation)
                    _ = tokio::time::sleep_until(clock::instant_at(d)) => {
                        shared.with_state(|s, now| s.tick(now));
                    }
                    _ = wake => {}
                }
            }
            None => wake.await,
        }
    }
}

async fn query_lookupd(shared: Arc<Shared>, url: String) {
    let Some(fetch) = shared.fetch.clone() else {
        return;
    };
    tracing::info!("querying nsqlookupd {url}");
    let answer = match fetch.get_v1(&url).await.and_then(|r| r.check_ok()) {
        Ok(r) => parse_lookup(&r.body, r.nsq_v1),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = &answer {
        tracing::error!("error querying nsqlookupd ({url}) - {e}");
    }
    shared.with_state(|s, now| s.lookup_answer(&url, answer, now));
}

/// Dials, subscribes, and runs the connection until it ends.
async fn connect(shared: Arc<Shared>, addr: String) -> Result<(), Error> {
    tracing::info!("({addr}) connecting to nsqd");
    let mut sub = bytes::BytesMut::new();
    encode::sub(&mut sub, &shared.topic, &shared.channel);
    let est = match conn::dial(&addr, &shared.cfg, Some(&sub)).await {
        Ok(e) => e,
        Err(e) => {
            shared.with_state(|s, now| s.connect_failed(&addr, now));
            return Err(e);
        }
    };
    let max_rdy = est.negotiated.max_rdy_count;
    if max_rdy < shared.cfg.max_in_flight {
        tracing::warn!(
            "({addr}) max RDY count {max_rdy} < consumer max in flight {}, truncation possible",
            shared.cfg.max_in_flight
        );
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let io = Arc::new(ConnIo::new(id, &addr));
    let (rd, leftover) = conn::start(est, Arc::clone(&io), shared.cfg.write_timeout);
    shared.with_core(|core, now| {
        core.conns.insert(id, Arc::clone(&io));
        core.state.connected(id, &addr, max_rdy, now);
    });
    tokio::spawn(run_conn(shared, io, rd, leftover));
    Ok(())
}

async fn run_conn(
    shared: Arc<Shared>,
    io: Arc<ConnIo>,
    rd: impl tokio::io::AsyncRead + Unpin,
    leftover: bytes::BytesMut,
) {
    let read_timeout = shared.cfg.read_timeout;
    let result = conn::read_loop(&io, rd, leftover, read_timeout, |incoming| {
        match incoming {
            Incoming::Message(m) => {
                shared.with_state(|s, now| s.message(io.id, now));
                let msg = Message::new(m, Arc::clone(&io), Arc::clone(&shared));
                let tx = lock(&shared.msg_tx).clone();
                // (a message that cannot be handed out is requeued as it drops)
                if let Some(tx) = tx {
                    let _ = tx.send(msg);
                }
            }
            Incoming::CloseWait => {
                tracing::info!("({}) received CLOSE_WAIT from nsqd", io.addr);
                io.set_close_wait();
                let drained = shared.with_state(|s, _| {
                    s.closing(io.id);
                    s.in_flight(io.id) == 0
                });
                if drained {
                    io.close();
                }
            }
            Incoming::Error(e) => {
                tracing::error!(
                    "({}) protocol error - {}",
                    io.addr,
                    String::from_utf8_lossy(&e)
                );
            }
            Incoming::Response(_) | Incoming::Heartbeat => {}
        }
        Flow::Continue
    })
    .await;
    if let Err(e) = result {
        if !io.is_closing() {
            tracing::error!("({}) IO error - {e}", io.addr);
        }
    }
    io.kill();
    let (left, stopping) = shared.with_core(|core, now| {
        core.conns.remove(&io.id);
        core.state.closed(io.id, now);
        (core.conns.len(), core.state.is_stopping())
    });
    if !stopping {
        tracing::warn!("there are {left} connections left alive");
    }
}

/// What makes two consumers' randomness differ: the process id in
/// production; under the simulator (where the process id differs between a
/// run and its replay) std's per-thread hash keys, which madsim draws from
/// the run's seed.
#[cfg(not(madsim))]
fn seed_salt() -> u64 {
    u64::from(std::process::id()).rotate_left(32)
}

#[cfg(madsim)]
fn seed_salt() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
