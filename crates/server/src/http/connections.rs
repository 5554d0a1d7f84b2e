//! Serving connections: the accept loop with its bound on open connections, the write timeout on
//! each, and the graceful shutdown on SIGTERM or Ctrl-C.

use super::{build, ServerConfig};
use axum::Router;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Serves until SIGTERM or Ctrl-C. Then it drains: `/readyz` answers 503, new document requests
/// 503 with `Retry-After`, and the solves in flight run to their end while the listener stays
/// open (probes and clients get an answer, not a refused connection). Once none is left it stops
/// accepting, lets the connections in flight finish their requests (idle ones close at once),
/// and returns, at most `shutdown_grace` after the signal.
///
/// The accept loop is ours rather than `axum::serve`'s so that slow clients are bounded: at most
/// `max_connections` open connections, and hyper's header-read timer on each.
pub async fn serve(listener: tokio::net::TcpListener, cfg: ServerConfig) -> std::io::Result<()> {
    let (app, st) = build(cfg.clone()).map_err(std::io::Error::other)?;
    let connections = Connections::new(&cfg);
    connections
        .accept_until(&listener, &app, shutdown_signal())
        .await?;
    st.draining.store(true, Ordering::Release);
    let deadline = tokio::time::Instant::now() + cfg.shutdown_grace;
    let solves_done = async {
        while st.in_flight.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let drained = async {
        tokio::select! {
            _ = solves_done => {},
            _ = tokio::time::sleep_until(deadline) => {},
        }
    };
    connections.accept_until(&listener, &app, drained).await?;
    drop(listener);
    tokio::select! {
        _ = connections.graceful.shutdown() => {
            tracing::info!(target: super::LOG, "every connection finished")
        }
        _ = tokio::time::sleep_until(deadline) => tracing::warn!(
            target: super::LOG,
            grace_s = cfg.shutdown_grace.as_secs_f64(),
            "grace period over: closing the remaining connections"
        ),
    }
    Ok(())
}

/// How connections are served: hyper's settings, the open-connection bound and the watcher that
/// a graceful shutdown waits on.
struct Connections {
    http: hyper::server::conn::http1::Builder,
    graceful: hyper_util::server::graceful::GracefulShutdown,
    open: Arc<Semaphore>,
    write_timeout: Duration,
}

impl Connections {
    fn new(cfg: &ServerConfig) -> Self {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(cfg.header_timeout);
        Connections {
            http,
            graceful: hyper_util::server::graceful::GracefulShutdown::new(),
            open: Arc::new(Semaphore::new(cfg.max_connections.max(1))),
            write_timeout: cfg.write_timeout,
        }
    }

    /// Accepts and serves connections until `stop` completes.
    async fn accept_until(
        &self,
        listener: &tokio::net::TcpListener,
        app: &Router,
        stop: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(stop);
        loop {
            let permit = tokio::select! {
                p = self.open.clone().acquire_owned() => p.map_err(std::io::Error::other)?,
                _ = &mut stop => return Ok(()),
            };
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, a reset before accept...: the server goes on.
                        tracing::warn!(target: super::LOG, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut stop => return Ok(()),
            };
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            let stream = WriteTimeout::new(stream, self.write_timeout);
            let io = hyper_util::rt::TokioIo::new(stream);
            let connection = self.graceful.watch(self.http.serve_connection(io, service));
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(
                        target: super::LOG,
                        error = %e,
                        "connection closed with an error"
                    );
                }
                drop(permit);
            });
        }
    }
}

/// A connection whose writes fail with `TimedOut` when the peer has not taken a byte for
/// `timeout`: hyper then drops the connection and the answer it was writing (issue 27, H4: six
/// clients that never read held 1.25 GB). Reads are not timed here (hyper's header timer and
/// `body_timeout` bound them).
pub(super) struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Armed when a write could not proceed; cleared by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Maps a write's poll: progress clears the timer; `Pending` arms it, and once it fires the
    /// write fails.
    fn timed<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not read its answer within --write-timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, poll)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, poll)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.timed(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!(
        target: super::LOG,
        "shutting down: draining the requests in flight (/readyz answers 503)"
    );
}
