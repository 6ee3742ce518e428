//! Drives nsqd's [`Registrar`] (core decides what to tell which lookupd and
//! when): one task owns it, opens the TCP connections it asks for, moves
//! their bytes, keeps its timer, and feeds it the topic/channel changes the
//! registry reports. New topics whose channels lookupds may know are held
//! and pre-created (see `precreate`).

use super::registry::Catalog;
use super::Inner;
use crate::clock;
use nsq_core::lookup::registrar::{Action, ConnId, Level};
use nsq_core::lookup::{CatalogEvent, Registrar};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

enum Control {
    SetAddresses(Vec<String>),
    Stop,
}

enum Io {
    Connected(ConnId),
    Data(ConnId, Vec<u8>),
    Closed(ConnId, String),
}

/// What the rest of nsqd sees of the lookupd registration.
pub(crate) struct LookupHandle {
    control: UnboundedSender<Control>,
    tcp_addresses: Mutex<Vec<String>>,
    http_addresses: Arc<Mutex<Vec<String>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl LookupHandle {
    /// Creates the catalog the registry reports to and starts the driver.
    pub(crate) fn start(
        registrar: Registrar,
        addrs: Vec<String>,
        inner: Weak<Inner>,
    ) -> (LookupHandle, Catalog) {
        let (control, control_rx) = mpsc::unbounded_channel();
        let (catalog_tx, catalog_rx) = mpsc::unbounded_channel();
        let hold = Arc::new(AtomicBool::new(false));
        let http_addresses = Arc::new(Mutex::new(Vec::new()));
        let driver = Driver {
            reg: registrar,
            conns: BTreeMap::new(),
            hold: Arc::clone(&hold),
            http_addresses: Arc::clone(&http_addresses),
            inner,
        };
        let _ = control.send(Control::SetAddresses(addrs.clone()));
        let task = tokio::spawn(driver.run(control_rx, catalog_rx));
        let handle = LookupHandle {
            control,
            tcp_addresses: Mutex::new(addrs),
            http_addresses,
            task: Mutex::new(Some(task)),
        };
        let catalog = Catalog {
            tx: catalog_tx,
            hold_new_topics: hold,
        };
        (handle, catalog)
    }

    pub(crate) fn set_tcp_addresses(&self, addrs: Vec<String>) {
        *lock(&self.tcp_addresses) = addrs.clone();
        let _ = self.control.send(Control::SetAddresses(addrs));
    }

    pub(crate) fn tcp_addresses(&self) -> Vec<String> {
        lock(&self.tcp_addresses).clone()
    }

    pub(crate) fn http_addresses(&self) -> Vec<String> {
        lock(&self.http_addresses).clone()
    }

    /// Closes every lookupd connection and stops the driver.
    pub(crate) async fn stop(&self) {
        let _ = self.control.send(Control::Stop);
        let task = lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct ConnHandle {
    tx: UnboundedSender<Vec<u8>>,
    task: JoinHandle<()>,
}

struct Driver {
    reg: Registrar,
    conns: BTreeMap<ConnId, ConnHandle>,
    hold: Arc<AtomicBool>,
    http_addresses: Arc<Mutex<Vec<String>>>,
    inner: Weak<Inner>,
}

impl Driver {
    async fn run(
        mut self,
        mut control: UnboundedReceiver<Control>,
        mut catalog: UnboundedReceiver<CatalogEvent>,
    ) {
        let (io_tx, mut io_rx) = mpsc::unbounded_channel();
        loop {
            self.perform(&io_tx);
            let deadline = self.reg.next_deadline();
            tokio::select! {
                biased; // a fixed order, so simulated runs repeat (README: Simulation)
                c = control.recv() => match c {
                    Some(Control::SetAddresses(a)) => self.reg.set_addresses(&a, clock::now()),
                    Some(Control::Stop) | None => break,
                },
                ev = catalog.recv() => match ev {
                    Some(ev) => {
                        if let CatalogEvent::TopicCreated(t) = &ev {
                            self.start_topic(t);
                        }
                        self.reg.on_catalog(ev, clock::now());
                    }
                    None => break,
                },
                Some(io) = io_rx.recv() => {
                    let now = clock::now();
                    match io {
                        Io::Connected(c) => self.reg.on_connected(c, now),
                        Io::Data(c, d) => self.reg.on_data(c, &d, now),
                        Io::Closed(c, why) => {
                            self.conns.remove(&c);
                            self.reg.on_closed(c, &why, now);
                        }
                    }
                }
                _ = sleep_until(deadline) => self.reg.tick(clock::now()),
            }
        }
        for c in std::mem::take(&mut self.conns).into_values() {
            c.task.abort();
        }
        tracing::info!("LOOKUP: closing");
    }

    /// Carries out what the registrar asked for.
    fn perform(&mut self, io: &UnboundedSender<Io>) {
        while let Some(a) = self.reg.poll_action() {
            match a {
                Action::Connect { conn, addr } => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let task = tokio::spawn(run_conn(conn, addr, rx, io.clone()));
                    self.conns.insert(conn, ConnHandle { tx, task });
                }
                Action::Send { conn, data } => {
                    if let Some(c) = self.conns.get(&conn) {
                        let _ = c.tx.send(data);
                    }
                }
                Action::Close { conn } => {
                    if let Some(c) = self.conns.remove(&conn) {
                        c.task.abort();
                    }
                }
                Action::Log { level, line } => match level {
                    Level::Debug => tracing::debug!("{line}"),
                    Level::Info => tracing::info!("{line}"),
                    Level::Warn => tracing::warn!("{line}"),
                    Level::Error => tracing::error!("{line}"),
                },
            }
        }
        // Asking lookupds takes HTTP, which the simulator does not run.
        let hold = cfg!(not(madsim)) && self.reg.precreates_channels();
        self.hold.store(hold, Ordering::Release);
        *lock(&self.http_addresses) = self.reg.lookupd_http_addresses();
    }

    /// A topic was created: if it is held, pre-create its channels and start it.
    fn start_topic(&self, topic: &str) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let held = inner
            .registry
            .get(topic)
            .is_some_and(|cell| cell.lock().topic.is_held());
        if !held {
            return;
        }
        let addrs = self.reg.lookupd_http_addresses();
        #[cfg(not(madsim))]
        if !addrs.is_empty() {
            let timeouts = crate::http_client::Timeouts {
                connect: inner.opts.http_client_connect_timeout,
                request: inner.opts.http_client_request_timeout,
            };
            let weak = Weak::clone(&self.inner);
            tokio::spawn(super::precreate::run(
                weak,
                topic.to_string(),
                addrs,
                timeouts,
            ));
            return;
        }
        let _ = addrs;
        super::precreate::start_held(&inner, topic, &[]);
    }
}

/// One lookupd connection: connects, reports, then writes what the driver
/// sends while a reader task reports what arrives.
async fn run_conn(
    conn: ConnId,
    addr: String,
    mut rx: UnboundedReceiver<Vec<u8>>,
    io: UnboundedSender<Io>,
) {
    let stream = match crate::net::connect(&addr).await {
        Ok(s) => s,
        Err(e) => {
            let _ = io.send(Io::Closed(conn, format!("dial tcp {addr}: {e}")));
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = io.send(Io::Connected(conn));
    let (mut rd, mut wr) = tokio::io::split(stream);
    let reader_io = io.clone();
    let _reader = AbortOnDrop(tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) => {
                    let _ = reader_io.send(Io::Closed(conn, "EOF".into()));
                    return;
                }
                Ok(n) => {
                    let _ = reader_io.send(Io::Data(conn, buf[..n].to_vec()));
                }
                Err(e) => {
                    let _ = reader_io.send(Io::Closed(conn, e.to_string()));
                    return;
                }
            }
        }
    }));
    while let Some(data) = rx.recv().await {
        // madsim's streams send on flush; real tokio's flush is free.
        let written = match wr.write_all(&data).await {
            Ok(()) => wr.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            let _ = io.send(Io::Closed(conn, e.to_string()));
            return;
        }
    }
}

/// Stops the reader when the connection task ends or is aborted.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn sleep_until(deadline: Option<nsq_core::io::Nanos>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(clock::instant_at(d)).await,
        None => std::future::pending().await,
    }
}
