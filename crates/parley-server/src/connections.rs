//! The HTTP server loop: hyper-util's connection builder with what `axum::serve` lacks.
//!
//! - A cap on open connections. Beyond it a new connection is refused at once (reset):
//!   a prompt failure lets a client or load balancer retry another node, whereas holding
//!   sockets to wait for a slot would spend the very descriptors and memory the cap
//!   protects, and slots free themselves anyway as the deadlines below reap slow and idle
//!   connections. Upgraded WebSockets stop counting: their own limits bound them.
//! - A deadline for each request head, from accepting the connection or from the first
//!   byte of a later request (slow-header clients), and a separate, longer idle limit
//!   between kept-alive requests (hyper's own header timeout starts when the connection
//!   goes idle, so it cannot be both short for heads and long enough for a load
//!   balancer's pooled connections).
//! - A timeout between pieces of a request body (tower-http's `TimeoutBody`).
//! - A bounded head buffer.
//! - Request bodies a handler refused are drained within a bound ([`DrainOnDrop`]), so
//!   the error response is not lost to a reset.
//!
//! Graceful shutdown works as in `axum::serve`: stop accepting, let every connection
//! finish its requests, then return.
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::drain::DrainOnDrop;
use parley_engine::log_throttle::LogThrottle;

/// Largest request head (request line and headers) a connection buffers. hyper's
/// default (~400 KiB) times the connection cap would be a lot of memory for slow heads.
const MAX_HEAD_BUFFER: usize = 32 * 1024;
/// Pause after an accept error that is not the peer's (such as too many open files).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub request_body: Duration,
    pub keep_alive: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_settings(http: &parley_engine::settings::HttpSettings) -> Limits {
        Limits {
            header_read: http.header_read_timeout(),
            request_body: http.request_body_timeout(),
            keep_alive: http.keep_alive_timeout(),
            max_connections: http.max_connections,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for the open
/// connections' requests to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Our own deadlines replace hyper's (see the module comment).
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BUFFER);
    let builder = Arc::new(builder);
    // Each connection holds a receiver; a send asks them to finish, and `closed` says
    // when the last one has.
    let (close_tx, close_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let refusals = LogThrottle::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_peer_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept connections");
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(tcp);
            if refusals.ready() {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached: refusing new connections"
                );
            }
            continue;
        };
        // Media frames are small and latency-bound: without NODELAY, Nagle holds each
        // echo until the peer's next packet acknowledges the last one (~20 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        tokio::spawn(connection(
            builder.clone(),
            tcp,
            peer,
            app.clone(),
            limits,
            close_rx.clone(),
            slot,
        ));
    }
    drop(listener);
    drop(close_rx);
    let _ = close_tx.send(());
    close_tx.closed().await;
    Ok(())
}

/// Errors about one incoming connection, not about the listener.
fn is_peer_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Closes with a reset: the client learns at once, and no TIME_WAIT stays behind here.
fn refuse(tcp: TcpStream) {
    let _ = tcp.set_zero_linger();
    drop(tcp);
}

async fn connection(
    builder: Arc<auto::Builder<TokioExecutor>>,
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    mut close_rx: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        tcp,
        activity: activity.clone(),
    });
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let in_flight = tracked.begin_request();
        request.extensions_mut().insert(ConnectInfo(peer));
        let request = request.map(|body| {
            Body::new(DrainOnDrop::new(TimeoutBody::new(
                limits.request_body,
                body,
            )))
        });
        let response = app.clone().oneshot(request);
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        }
    });
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut finishing = false;
    loop {
        let deadline = activity.deadline(&limits);
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = expired => {
                if let Some(why) = activity.expired(&limits) {
                    tracing::debug!(reason = why, "closing a connection");
                    return;
                }
            }
            () = activity.changed.notified() => {}
            changed = close_rx.changed(), if !finishing => {
                let _ = changed;
                conn.as_mut().graceful_shutdown();
                finishing = true;
            }
        }
    }
}

/// What a connection is doing, for its deadlines.
struct Activity {
    start: Instant,
    /// The phase and when it began (milliseconds since `start`), packed into one word so
    /// that both change together: `millis << 2 | phase`.
    state: AtomicU64,
    /// Requests whose response is not yet fully sent (several on HTTP/2).
    in_flight: AtomicUsize,
    /// Wakes the connection's task when a deadline may have moved earlier.
    changed: Notify,
}

/// Reading a request head: since accepting the connection, or since the first byte of
/// a later request.
const HEAD: u64 = 0;
/// Between requests on a kept-alive connection.
const IDLE: u64 = 1;
/// Serving at least one request (the body timeout and the handlers bound this).
const BUSY: u64 = 2;

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            state: AtomicU64::new(HEAD),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX >> 2)
    }

    fn enter(&self, phase: u64) {
        self.state.store(self.now() << 2 | phase, Ordering::Release);
    }

    /// Bytes arrived: on an idle connection they start the next request's head.
    fn bytes_read(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if state & 3 == IDLE
            && self
                .state
                .compare_exchange(
                    state,
                    self.now() << 2 | HEAD,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.enter(BUSY);
        InFlight(self.clone())
    }

    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let state = self.state.load(Ordering::Acquire);
        let since = self.start + Duration::from_millis(state >> 2);
        match state & 3 {
            HEAD => Some(since + limits.header_read),
            IDLE => Some(since + limits.keep_alive),
            _ => None,
        }
    }

    /// Why the connection should close now, if it should.
    fn expired(&self, limits: &Limits) -> Option<&'static str> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let why = match self.state.load(Ordering::Acquire) & 3 {
            HEAD => "request head not received in time",
            IDLE => "idle keep-alive connection",
            _ => return None,
        };
        let deadline = self.deadline(limits)?;
        (Instant::now() >= deadline).then_some(why)
    }
}

/// Marks a request in flight until its response body is dropped (fully sent, or the
/// connection went away).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.enter(IDLE);
            self.0.changed.notify_one();
        }
    }
}

/// A response body that keeps its request counted as in flight.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The TCP stream, telling the connection's [`Activity`] when bytes arrive.
struct Watched {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
