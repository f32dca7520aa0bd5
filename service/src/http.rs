//! The HTTP server of every service command, with the limits that keep it
//! answering under load and let it stop on time: at most
//! `--max-connections` connections at once, a header-read timeout, an
//! idle timeout, and a shutdown deadline.
//!
//! A connection beyond the limit is not left waiting for a slot: it takes
//! one of `HEALTH_RESERVED_CONNECTIONS` reserved slots, served by a
//! router that answers `/healthz` (so a health check still gets its answer
//! when the limit is reached) and 503 with `Retry-After` to anything else,
//! one request per connection and a short header-read timeout
//! (`RESERVED_HEADER_READ_TIMEOUT`), so that clients holding reserved
//! slots idle lose them within a second. When the reserve is taken too,
//! the connection is answered a bare 503 at once and closed: a prompt
//! refusal that holds no file descriptor.
//!
//! Every request on a regular slot passes tower layers (`harden`): a
//! request timeout (`--request-timeout`, 503 when it passes), a limit on
//! requests in progress at once (`--max-requests`, 503 beyond it at once
//! rather than a queue), and a body limit that refuses a declared length
//! over `ingest::http::REQUEST_BYTES_MAX` with 413 before reading a byte
//! of it. Each request carries its peer address (`ConnectInfo`), which the
//! viewer's per-client rate limits key on.
//!
//! On shutdown the listener closes, every connection finishes the request
//! it is serving (keep-alive ends), and whatever is still open after
//! `--shutdown-grace` seconds is closed.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use ingest::metrics::Metrics;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_http::limit::RequestBodyLimitLayer;

/// Connection slots kept beyond `--max-connections` for health checks:
/// enough for a load balancer's and a monitoring system's probes from a
/// few hosts at once.
pub const HEALTH_RESERVED_CONNECTIONS: usize = 32;

/// How long a connection on a reserved slot may take to send its request
/// head: health checkers send it at once, and a slot held by an idle
/// client is free again within this.
pub const RESERVED_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Open files a service needs beside its connections: the ledger's files,
/// NATS, logs, the runtime. `--max-connections` plus the reserve plus this
/// must fit under the open-file limit (`LimitNOFILE`), which start-up
/// checks and raises to its hard limit when it can.
pub const FILES_BESIDE_CONNECTIONS: u64 = 512;

/// Pause after `accept` fails (out of file descriptors, say) before
/// trying again: the loop neither spins nor gives up.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The answer to a connection beyond both the limit and the reserve,
/// written without reading its request.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/problem+json\r\nretry-after: 5\r\nconnection: close\r\n\
content-length: 138\r\n\r\n\
{\"type\":\"https://tla-ledger.invalid/problems/busy\",\"title\":\"Too many connections\",\
\"status\":503,\"detail\":\"the connection limit is reached\"}";

/// The limits of a service's HTTP server (the command line's
/// `--max-connections`, `--header-read-timeout`, `--idle-timeout` and
/// `--shutdown-grace`).
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Most HTTP connections open at once; more are refused with 503
    /// (health checks keep a small reserve of their own). With systemd's
    /// LimitNOFILE this must fit the open-file limit.
    pub max_connections: usize,
    /// Seconds a client may take to send a request's head, and to start
    /// the next one on a kept-alive connection.
    pub header_read_timeout: u64,
    /// Seconds a connection may stay open with no byte moving either way
    /// (a stalled upload, a client not reading its answer). Keep it above
    /// the slowest answer (a publish waits up to 10 s for JetStream).
    pub idle_timeout: u64,
    /// Seconds open connections get after SIGTERM to finish their request
    /// before they are closed (below systemd's TimeoutStopSec). The ledger
    /// writer finishes its batch in hand meanwhile.
    pub shutdown_grace: u64,
    /// Seconds a request may take from its head to its answer; then 503.
    pub request_timeout: u64,
    /// Requests in progress at once over all connections; more are
    /// answered 503 at once.
    pub max_requests: usize,
}

impl HttpLimits {
    /// Checks the limits and the process's open-file limit, raising its
    /// soft limit towards the hard one when the connections need more.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1");
        }
        if self.header_read_timeout == 0 || self.idle_timeout == 0 || self.request_timeout == 0 {
            anyhow::bail!(
                "--header-read-timeout, --idle-timeout and --request-timeout must be at least 1 second"
            );
        }
        if self.max_requests == 0 {
            anyhow::bail!("--max-requests must be at least 1");
        }
        let needed =
            (self.max_connections + HEALTH_RESERVED_CONNECTIONS) as u64 + FILES_BESIDE_CONNECTIONS;
        raise_open_files(needed, self.max_connections)
    }

    fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout)
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }

    fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace)
    }
}

/// Makes sure `needed` files can be open: raises the soft limit up to the
/// hard one, or says which setting to change.
fn raise_open_files(needed: u64, max_connections: usize) -> anyhow::Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    // `None` is no limit at all.
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        anyhow::bail!(
            "--max-connections {max_connections} needs {needed} open files, but the hard \
             limit is {hard}: raise it (LimitNOFILE= in the systemd unit, ulimit -Hn) or lower \
             --max-connections"
        );
    }
    let raised = Rlimit {
        current: Some(needed),
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised)
        .with_context(|| format!("cannot raise the open-file limit from {soft} to {needed}"))?;
    tracing::info!(from = soft, to = needed, "raised the open-file limit");
    Ok(())
}

/// Binds `listen`: the service's port is open from here on.
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, "HTTP API listening");
    eprintln!("listening on http://{}", listener.local_addr()?);
    Ok(listener)
}

/// Serves `app` on `listener` until `shutdown` turns true, within the
/// limits; `health` serves the reserved slots. Returns once every
/// connection is finished or closed at the deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    health: Router,
    limits: HttpLimits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let app = harden(app, &limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let reserve = Arc::new(Semaphore::new(HEALTH_RESERVED_CONNECTIONS));
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut accept_failures: u64 = 0;
    while !*shutdown.borrow() {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        };
        // Finished connections leave the set as new ones come.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                accept_failures += 1;
                if accept_failures.is_power_of_two() {
                    tracing::warn!(%error, failures = accept_failures, "cannot accept a connection");
                }
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let (router, header_timeout, keep_alive, permit) =
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(permit) => (app.clone(), limits.header_read_timeout(), true, permit),
                Err(_) => match Arc::clone(&reserve).try_acquire_owned() {
                    Ok(permit) => {
                        metrics
                            .http_connections_over_limit
                            .fetch_add(1, Ordering::Relaxed);
                        (health.clone(), RESERVED_HEADER_READ_TIMEOUT, false, permit)
                    }
                    Err(_) => {
                        metrics
                            .http_connections_refused
                            .fetch_add(1, Ordering::Relaxed);
                        // A fresh socket takes these few bytes at once; if
                        // not, the client is refused by the close alone.
                        let _ = stream.try_write(REFUSAL);
                        continue;
                    }
                },
            };
        let connection = Connection {
            router,
            peer,
            header_timeout,
            idle_timeout: limits.idle_timeout(),
            keep_alive,
            closing: closed.clone(),
            metrics: Arc::clone(&metrics),
        };
        connections.spawn(connection.run(stream, permit));
    }
    drop(listener);
    closing.send_replace(true);
    let open = connections.len();
    let grace = limits.shutdown_grace();
    tracing::info!(
        open,
        ?grace,
        "HTTP server stopping: open connections finish their request"
    );
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            closed = connections.len(),
            ?grace,
            "closing connections still open at the shutdown deadline"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// One accepted connection and how to serve it.
struct Connection {
    router: Router,
    peer: SocketAddr,
    header_timeout: Duration,
    idle_timeout: Duration,
    keep_alive: bool,
    closing: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
}

impl Connection {
    /// Serves HTTP/1.1 until the client closes, a timeout, or shutdown;
    /// the slot (`_permit`) is free again when this returns.
    async fn run(mut self, stream: TcpStream, _permit: OwnedSemaphorePermit) {
        self.metrics
            .http_connections_open
            .fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let activity = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Watched {
            inner: stream,
            started,
            activity: Arc::clone(&activity),
        });
        let (router, peer) = (self.router.clone(), self.peer);
        let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .keep_alive(self.keep_alive);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut shutting_down = *self.closing.borrow();
        if shutting_down {
            connection.as_mut().graceful_shutdown();
        }
        loop {
            let last = Duration::from_millis(activity.load(Ordering::Relaxed));
            let idle_deadline = started + last + self.idle_timeout;
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "HTTP connection ended with an error");
                    }
                    break;
                }
                changed = self.closing.changed(), if !shutting_down => {
                    if changed.is_err() || *self.closing.borrow() {
                        shutting_down = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
                _ = tokio::time::sleep_until(idle_deadline.into()) => {
                    let now = Duration::from_millis(activity.load(Ordering::Relaxed));
                    if now == last {
                        self.metrics.http_connections_idle_closed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(idle = ?self.idle_timeout, "closing an idle HTTP connection");
                        break;
                    }
                }
            }
        }
        self.metrics
            .http_connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that notes when bytes last moved (milliseconds after
/// `started`), for the idle timeout.
struct Watched {
    inner: TcpStream,
    started: Instant,
    activity: Arc<AtomicU64>,
}

impl Watched {
    fn touch(&self) {
        let millis = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(millis, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `app` within the request limits: timeout, requests at once, body size.
fn harden(app: Router, limits: &HttpLimits) -> Router {
    let layers = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|error: BoxError| async move {
            overloaded(&error)
        }))
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::new(limits.max_requests))
        .timeout(Duration::from_secs(limits.request_timeout));
    app.layer(layers)
        .layer(RequestBodyLimitLayer::new(ingest::http::REQUEST_BYTES_MAX))
}

/// The answer when the request limits refused or cut a request.
fn overloaded(error: &BoxError) -> ingest::http::Problem {
    let (title, detail) = if error.is::<tower::timeout::error::Elapsed>() {
        (
            "Request timeout",
            "the request took longer than --request-timeout",
        )
    } else if error.is::<tower::load_shed::error::Overloaded>() {
        (
            "Too many requests",
            "the service is answering as many requests as it may; retry later",
        )
    } else {
        (
            "Unavailable",
            "the request could not be served; retry later",
        )
    };
    tracing::debug!(%error, "a request refused by the limits");
    ingest::http::Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", title, detail)
}

/// The router of reserved slots: `/healthz` from `health`, 503 for the rest.
pub fn reserved(health: Router) -> Router {
    health.fallback(|| async {
        ingest::http::Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Too many connections",
            "the connection limit is reached; retry later",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_refusal_is_well_formed_http() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 503);
        assert!(head.starts_with("HTTP/1.1 503 "));
    }
}
