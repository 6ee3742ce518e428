//! The lookup protocol V1 over TCP: one task per connection reads, lets the
//! core session frame and execute requests under the DB lock, and writes the
//! answers. When a connection ends its peer leaves the DB.

use super::Shared;
use crate::clock;
use bytes::BytesMut;
use nsq_core::lookup::server::{put_response, ReadError, Session};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shared.stop.notified() => break,
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    conns.spawn(serve(Arc::clone(&shared), stream, peer));
                }
                Err(e) => {
                    tracing::warn!("temporary Accept() failure - {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Dropping the set ends every connection (and their peers leave the DB).
    conns.shutdown().await;
    tracing::info!("TCP: closing {}", shared.opts.tcp_address);
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
            if stream.write_all(&out).await.is_err() {
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
