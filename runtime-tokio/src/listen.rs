//! Listening as NSQ's daemons listen (Go's `net.Listen`):
//!
//! - `HOST:PORT` with an empty host (`:4150`) listens on every interface,
//!   IPv6 and IPv4 on one socket (`[::]:4150`), or IPv4 only where the
//!   machine has no IPv6; `[::1]:4150`, `0.0.0.0:4150` and host names
//!   (their first IPv4 address, else the first) work as in Go.
//! - nsqd's `--tcp-address` and `--http-address` may be a unix socket path:
//!   anything Go's `net.SplitHostPort` does not split is one. The socket
//!   file is removed when the listener closes, as Go does.
//! - Every listener's backlog is the kernel's `somaxconn` (4096 if it cannot
//!   be read), as Go sets it, so a burst of connects is not left to SYN
//!   retransmits.
//!
//! Under the simulator there are no real sockets: TCP listeners are bound
//! with the simulator's `bind` (no backlog, no unix sockets).

use crate::net::TcpStream;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use tokio::net::TcpListener;

/// Go's `net.SplitHostPort`: `host:port`, `[v6]:port` or `:port`; `None`
/// for anything else (no port, more than one colon outside brackets).
pub fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if port.contains(['[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let (host, port) = addr.rsplit_once(':')?;
    if host.contains(':') || host.contains(['[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// Whether nsqd takes `addr` as TCP (else it is a unix socket path), as Go's
/// `util.TypeOfAddr` decides.
pub fn is_tcp(addr: &str) -> bool {
    split_host_port(addr).is_some()
}

fn port_of(addr: &str, port: &str) -> io::Result<u16> {
    if port.is_empty() {
        return Ok(0);
    }
    port.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {addr}: unknown port"),
        )
    })
}

/// The listen backlog: `/proc/sys/net/core/somaxconn`, else 4096 (Go's
/// `maxListenerBacklog`, capped to what older kernels keep in 16 bits).
pub fn backlog() -> i32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|n| *n > 0)
        .map_or(4096, |n| n.min(65535))
}

/// A TCP listener on `addr` (`HOST:PORT`, `:PORT`, `[V6]:PORT`).
pub async fn tcp(addr: &str) -> io::Result<TcpListener> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {addr}: missing port in address"),
        )
    };
    let (host, port) = split_host_port(addr).ok_or_else(bad)?;
    let port = port_of(addr, port)?;
    #[cfg(madsim)]
    {
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        TcpListener::bind(SocketAddr::new(
            host.parse::<IpAddr>()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            port,
        ))
        .await
    }
    #[cfg(not(madsim))]
    {
        real::tcp(host, port).await
    }
}

/// Where a listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Local {
    /// The TCP port (none for a unix socket).
    pub fn port(&self) -> Option<u16> {
        match self {
            Local::Tcp(a) => Some(a.port()),
            Local::Unix(_) => None,
        }
    }

    /// The TCP address, or the unspecified address for a unix socket.
    pub fn tcp_or_unspecified(&self) -> SocketAddr {
        match self {
            Local::Tcp(a) => *a,
            Local::Unix(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }
}

impl fmt::Display for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Local::Tcp(a) => write!(f, "{a}"),
            Local::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Who connected, as Go's `RemoteAddr().String()` names it: `1.2.3.4:5678`,
/// `[::1]:5678`, or for a unix socket its path, `@` when unnamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub addr: String,
    /// The peer's IP (none over a unix socket).
    pub ip: Option<IpAddr>,
}

impl Peer {
    pub fn tcp(a: SocketAddr) -> Peer {
        Peer {
            addr: a.to_string(),
            ip: Some(a.ip()),
        }
    }

    /// The IP as text, empty over a unix socket (NSQ's client id default,
    /// the auth server's `remote_ip`).
    pub fn ip_text(&self) -> String {
        self.ip.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

/// A listener of a daemon: TCP, or (nsqd) a unix socket.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    #[cfg(not(madsim))]
    Unix(real::UnixSocket),
}

/// An accepted connection.
#[derive(Debug)]
pub enum Conn {
    Tcp(TcpStream),
    #[cfg(not(madsim))]
    Unix(tokio::net::UnixStream),
}

impl Conn {
    pub fn boxed(self) -> crate::stream::BoxStream {
        match self {
            Conn::Tcp(s) => Box::new(s),
            #[cfg(not(madsim))]
            Conn::Unix(s) => Box::new(s),
        }
    }
}

impl Listener {
    /// nsqd's listener on `addr`: TCP, or a unix socket for a path.
    pub async fn bind(addr: &str) -> io::Result<Listener> {
        if is_tcp(addr) {
            return tcp(addr).await.map(Listener::Tcp);
        }
        #[cfg(not(madsim))]
        {
            real::unix(addr).map(Listener::Unix)
        }
        #[cfg(madsim)]
        {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no unix sockets under the simulator",
            ))
        }
    }

    pub fn local(&self) -> io::Result<Local> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Local::Tcp),
            #[cfg(not(madsim))]
            Listener::Unix(u) => Ok(Local::Unix(u.path.clone())),
        }
    }

    pub async fn accept(&self) -> io::Result<(Conn, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (s, a) = crate::net::accept(l).await?;
                Ok((Conn::Tcp(s), Peer::tcp(a)))
            }
            #[cfg(not(madsim))]
            Listener::Unix(u) => {
                let (s, a) = u.listener.accept().await?;
                let name = a
                    .as_pathname()
                    .map_or_else(|| "@".to_string(), |p| p.display().to_string());
                Ok((
                    Conn::Unix(s),
                    Peer {
                        addr: name,
                        ip: None,
                    },
                ))
            }
        }
    }
}

#[cfg(not(madsim))]
mod real {
    use super::backlog;
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use std::io;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::path::PathBuf;
    use tokio::net::TcpListener;

    fn listen_tcp(a: SocketAddr) -> io::Result<TcpListener> {
        let s = Socket::new(Domain::for_address(a), Type::STREAM, Some(Protocol::TCP))?;
        if a.is_ipv6() {
            // Go listens on IPv6 and IPv4 together (a wildcard covers both)
            s.set_only_v6(false)?;
        }
        s.set_reuse_address(true)?;
        s.bind(&a.into())?;
        s.listen(backlog())?;
        s.set_nonblocking(true)?;
        TcpListener::from_std(s.into())
    }

    pub async fn tcp(host: &str, port: u16) -> io::Result<TcpListener> {
        if host.is_empty() {
            return match listen_tcp(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))) {
                Err(e) if e.kind() != io::ErrorKind::AddrInUse => {
                    // a machine without IPv6
                    listen_tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
                }
                r => r,
            };
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return listen_tcp(SocketAddr::new(ip, port));
        }
        let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        // Go listens on a name's first IPv4 address, if it has one
        addrs.sort_by_key(|a| !a.is_ipv4());
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"));
        for a in addrs {
            match listen_tcp(a) {
                Ok(l) => return Ok(l),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A unix socket listener; its file goes when it is dropped.
    #[derive(Debug)]
    pub struct UnixSocket {
        pub listener: tokio::net::UnixListener,
        pub path: PathBuf,
    }

    impl Drop for UnixSocket {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    pub fn unix(path: &str) -> io::Result<UnixSocket> {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        s.bind(&SockAddr::unix(path)?)?;
        s.listen(backlog())?;
        s.set_nonblocking(true)?;
        let std: std::os::unix::net::UnixListener = s.into();
        Ok(UnixSocket {
            listener: tokio::net::UnixListener::from_std(std)?,
            path: PathBuf::from(path),
        })
    }
}

/// `axum::serve` over any of our listeners (an HTTP API on TCP or a unix
/// socket), with the peer as the connection's `ConnectInfo`.
#[cfg(not(madsim))]
mod serve {
    use super::{Listener, Peer};
    use axum::extract::connect_info::Connected;
    use axum::serve::IncomingStream;
    use std::io;

    impl axum::serve::Listener for Listener {
        type Io = crate::stream::BoxStream;
        type Addr = Peer;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                match Listener::accept(self).await {
                    Ok((conn, peer)) => return (conn.boxed(), peer),
                    Err(e) => {
                        tracing::warn!("temporary Accept() failure - {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                }
            }
        }

        fn local_addr(&self) -> io::Result<Self::Addr> {
            self.local().map(|l| Peer {
                addr: l.to_string(),
                ip: None,
            })
        }
    }

    impl Connected<IncomingStream<'_, Listener>> for Peer {
        fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
            stream.remote_addr().clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_as_go_splits_them() {
        assert_eq!(split_host_port(":4150"), Some(("", "4150")));
        assert_eq!(split_host_port("0.0.0.0:4150"), Some(("0.0.0.0", "4150")));
        assert_eq!(split_host_port("[::1]:4150"), Some(("::1", "4150")));
        assert_eq!(split_host_port("localhost:"), Some(("localhost", "")));
        assert_eq!(split_host_port("/var/run/nsqd.sock"), None);
        assert_eq!(split_host_port("nsqd.sock"), None);
        assert_eq!(split_host_port("::1:4150"), None);
        assert_eq!(split_host_port("[::1]"), None);
        assert!(is_tcp("h:1") && !is_tcp("/tmp/x"));
    }

    #[test]
    fn the_backlog_is_the_kernels() {
        let want = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .map(|s| s.trim().parse::<i32>().unwrap_or(4096).min(65535))
            .unwrap_or(4096);
        assert_eq!(backlog(), want);
    }
}
