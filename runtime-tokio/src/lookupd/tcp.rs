//! The lookup protocol V1 over TCP: one task per connection reads, lets the
//! core session frame and execute requests under the DB lock, and writes the
//! answers. When a connection ends its peer leaves the DB.

use super::Shared;
use crate::clock;
use crate::net::TcpStream;
use bytes::BytesMut;
use nsq_core::lookup::server::{put_response, ReadError, Session};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let local = listener
        .local_addr()
        .map_or_else(|_| shared.opts.tcp_address.clone(), |a| a.to_string());
    // Live connections, so shutdown can end them (each removes itself when done).
    let conns: Arc<Mutex<BTreeMap<u64, JoinHandle<()>>>> = Arc::default();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            biased; // a fixed order, so simulated runs repeat (README: Simulation)
            _ = shared.stop.notified() => break,
            r = crate::net::accept(&listener) => match r {
                Ok((stream, peer)) => {
                    next_id += 1;
                    let id = next_id;
                    let mut map = lock(&conns);
                    let (sh, cs) = (Arc::clone(&shared), Arc::clone(&conns));
                    map.insert(id, tokio::spawn(async move {
                        serve(sh, stream, peer).await;
                        lock(&cs).remove(&id);
                    }));
                }
                Err(e) => {
                    tracing::warn!("temporary Accept() failure - {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            },
        }
    }
    // Ending a connection task drops its session: its peer leaves the DB.
    let left: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&conns)).into_values().collect();
    for h in left {
        h.abort();
        let _ = h.await;
    }
    tracing::info!("TCP: closing {local}");
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's session; its peer leaves the DB when it is dropped
/// (also when the connection task is cancelled at shutdown).
struct Conn {
    shared: Arc<Shared>,
    session: Session,
}

impl Drop for Conn {
    fn drop(&mut self) {
        let log = self.session.leave(&mut self.shared.db());
        for line in log {
            tracing::info!("{line}");
        }
    }
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    tracing::info!("TCP: new client({peer})");
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        session: Session::new(&peer.to_string()),
        shared,
    };
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::new();
    let mut open = true;
    while open {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                if let Some(e) = conn.session.eof_error() {
                    tracing::error!("[{peer}] - {e}");
                    put_response(&mut out, &e.to_bytes());
                }
                open = false;
            }
            Ok(_) => open = run_requests(&conn.shared, &mut conn.session, &mut buf, &mut out, peer),
        }
        if !out.is_empty() {
            // madsim's streams send on flush; real tokio's flush is free.
            if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
                break;
            }
            out.clear();
        }
    }
    drop(conn);
    let _ = stream.shutdown().await;
    tracing::info!("PROTOCOL(V1): [{peer}] exiting ioloop");
}

/// Executes every complete request in `buf`; false when the connection must close.
fn run_requests(
    shared: &Shared,
    session: &mut Session,
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
    peer: SocketAddr,
) -> bool {
    loop {
        let req = match session.next_request(buf) {
            Ok(Some(req)) => req,
            Ok(None) => return true,
            Err(ReadError::Respond(e)) => {
                tracing::error!("[{peer}] - {e}");
                put_response(out, &e.to_bytes());
                return false;
            }
            Err(ReadError::Close) => {
                tracing::error!("[{peer}] - request line too long");
                return false;
            }
        };
        let reply = {
            let mut db = shared.db();
            session.exec(req, &mut db, &shared.info, clock::now())
        };
        for line in &reply.log {
            tracing::info!("{line}");
        }
        if reply.close {
            tracing::error!("[{peer}] - {}", String::from_utf8_lossy(&reply.data));
        }
        put_response(out, &reply.data);
        if reply.close {
            return false;
        }
    }
}
