//! A simulated network between a simulator and its peer: every byte takes a fixed one-way
//! delay in each direction, and a new connection costs round trips before its first bytes
//! (TCP's handshake, TLS's). Applied at the byte level, so REST requests and responses,
//! WebSocket handshakes and every WebSocket message pay it exactly as they would on a
//! real link, in order, whatever the protocol.
//!
//! A simulator with a delay serves through [`Proxy`] (its public port forwards to the real
//! server through the delay); its own outgoing WebSockets go through [`connect`].
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Read size of the pump; also the most one delayed chunk carries.
const CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction before the reader waits (a slow link back-pressures).
const IN_FLIGHT: usize = 1024;
/// Room in the in-process pipe of a delayed outgoing connection.
const PIPE: usize = 64 * 1024;

/// One service's simulated network. `Default` is none: loopback as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkDelay {
    /// Added to everything crossing the link, in each direction.
    pub one_way: Duration,
    /// Round trips a new connection costs before its first bytes go: 2 models TCP and
    /// TLS (`https://`, `wss://`); an HTTP client reusing a kept-alive connection pays
    /// them once.
    pub connect_round_trips: u32,
}

impl NetworkDelay {
    /// A link with `one_way` delay whose connections set up like TLS over TCP.
    pub fn one_way(one_way: Duration) -> NetworkDelay {
        NetworkDelay {
            one_way,
            connect_round_trips: 2,
        }
    }

    pub fn is_none(&self) -> bool {
        self.one_way.is_zero()
    }

    pub fn round_trip(&self) -> Duration {
        self.one_way * 2
    }

    fn connect_cost(&self) -> Duration {
        self.round_trip() * self.connect_round_trips
    }
}

/// Accepts on a simulator's public listener and forwards each connection to the real
/// server at `upstream` through the delay. Stops accepting when dropped; connections
/// already forwarded run until either end closes.
#[derive(Debug)]
pub(crate) struct Proxy {
    task: JoinHandle<()>,
}

impl Proxy {
    pub(crate) fn spawn(listener: TcpListener, upstream: SocketAddr, delay: NetworkDelay) -> Proxy {
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    pump(client, server, delay).await;
                });
            }
        });
        Proxy { task }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` for a simulator: with no delay the server listens there itself; with one,
/// the server gets a private port and a [`Proxy`] holds the public one. Returns the
/// server's listener, the public address and the proxy to keep alive.
pub(crate) async fn bind(
    addr: SocketAddr,
    delay: NetworkDelay,
) -> std::io::Result<(TcpListener, SocketAddr, Option<Proxy>)> {
    let public = TcpListener::bind(addr).await?;
    let public_addr = public.local_addr()?;
    if delay.is_none() {
        return Ok((public, public_addr, None));
    }
    let private = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let proxy = Proxy::spawn(public, private.local_addr()?, delay);
    Ok((private, public_addr, Some(proxy)))
}

/// Something a WebSocket can run over: a TCP stream or a delayed pipe.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Opens a connection to `host:port` as a client across the delay.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    delay: NetworkDelay,
) -> std::io::Result<Box<dyn Io>> {
    let server = TcpStream::connect((host, port)).await?;
    server.set_nodelay(true)?;
    if delay.is_none() {
        return Ok(Box::new(server));
    }
    let (near, far) = tokio::io::duplex(PIPE);
    tokio::spawn(pump(far, server, delay));
    Ok(Box::new(near))
}

/// Carries bytes both ways between `client` and `server`, each chunk `delay.one_way`
/// late, the client's first ones also the connection's set-up cost late.
async fn pump(client: impl Io, server: impl Io, delay: NetworkDelay) {
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = tokio::io::split(server);
    tokio::join!(
        one_way(
            client_read,
            server_write,
            delay.one_way,
            delay.connect_cost()
        ),
        one_way(server_read, client_write, delay.one_way, Duration::ZERO),
    );
}

/// One direction: what is read at `t` is written at `t + delay` (the first chunk also
/// `setup` later), in order; the end of the input is passed on as a shutdown.
async fn one_way(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    delay: Duration,
    setup: Duration,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>(IN_FLIGHT);
    let read = async move {
        let mut buf = vec![0; CHUNK];
        let mut extra = setup;
        loop {
            let n = from.read(&mut buf).await.unwrap_or(0);
            let due = Instant::now() + delay + std::mem::take(&mut extra);
            let chunk = (n > 0).then(|| buf[..n].to_vec());
            if tx.send((due, chunk)).await.is_err() || n == 0 {
                return;
            }
        }
    };
    let write = async move {
        // Due times only grow (a later chunk never overtakes the set-up delay).
        let mut last = Instant::now();
        while let Some((due, chunk)) = rx.recv().await {
            last = last.max(due);
            tokio::time::sleep_until(last).await;
            match chunk {
                Some(bytes) if to.write_all(&bytes).await.is_ok() => {}
                _ => {
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_byte_arrives_late_and_in_order() {
        let delay = NetworkDelay {
            one_way: Duration::from_millis(30),
            connect_round_trips: 1,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let echo = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0; 5];
            socket.read_exact(&mut buf).await.unwrap();
            socket.write_all(&buf).await.unwrap();
            socket.read_exact(&mut buf).await.unwrap();
            socket.write_all(&buf).await.unwrap();
        });
        let mut client = connect("127.0.0.1", port, delay).await.unwrap();
        let start = Instant::now();
        let mut buf = [0; 5];
        client.write_all(b"hello").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        // A round trip plus the connection's set-up round trip.
        assert!(
            start.elapsed() >= Duration::from_millis(120),
            "{:?}",
            start.elapsed()
        );
        let again = Instant::now();
        client.write_all(b"again").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
        let took = again.elapsed();
        assert!(took >= Duration::from_millis(60), "{took:?}");
        echo.await.unwrap();
    }
}
