//! `vmplace serve`: the library behind an HTTP JSON API (axum on tokio).
//!
//! Solves are CPU-bound: they run on tokio's blocking pool, at most `workers` at a time (a
//! semaphore), plus `small_lane` more for small bodies only, never on the reactor. In front of them a bounded queue: past `workers + queue`
//! requests in flight the answer is 503 with `Retry-After`. A client that disconnects drops its
//! handler, which flags its solve as cancelled (see `RunConfig::cancel`).

use crate::api;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::{Mode, RunConfig};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::{DocKind, ErrorDocument, InputError};

/// Server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Solves running at once (default: cores).
    pub workers: usize,
    /// Extra workers for small requests only (a body of at most `small_body` bytes): two long
    /// solves on every worker no longer hold up a small one for their whole limit (issue 27, L7).
    /// A small request takes whichever frees first, a worker or the lane.
    pub small_lane: usize,
    /// Largest body, in bytes, that counts as small.
    pub small_body: usize,
    /// Requests allowed to wait for a worker; beyond, 503. The default is as many as connections
    /// may be open (a body is read before it queues, so bodies held in memory are bounded by the
    /// connections, not by the queue): a burst of 64 solves waits its turn instead of 503s.
    pub queue: usize,
    /// Cap on every request's `options.time_limit_s`.
    pub max_time_limit_s: f64,
    /// Largest accepted body, bytes (413 beyond).
    pub body_limit: usize,
    /// A connection must deliver a request's headers within this time; the same timer runs while
    /// a kept-alive connection waits for its next request, so it is the idle timeout as well.
    pub header_timeout: Duration,
    /// A request's body must arrive within this time after its headers (408 beyond).
    pub body_timeout: Duration,
    /// A write of the answer that makes no progress for this long (the client does not read)
    /// closes the connection, releasing the answer ([`WriteTimeout`]).
    pub write_timeout: Duration,
    /// Connections open at once; the next ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// After SIGTERM: how long connections in flight may take before the server exits anyway
    /// (solves still running then are cancelled).
    pub shutdown_grace: Duration,
    /// The commit the binary was built from, for `vmplace_build_info` (the binary's build script
    /// knows it; this crate does not).
    pub commit: &'static str,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            small_lane: 1,
            small_body: 64 * 1024,
            queue: 256,
            max_time_limit_s: 60.0,
            body_limit: 16 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(30),
            commit: "unknown",
        }
    }
}

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    errors: IntCounterVec,
    solve_seconds: HistogramVec,
    queue_depth: IntGauge,
    running: IntGauge,
    cancelled: IntCounter,
}

impl Metrics {
    fn new(commit: &str) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "vmplace_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "status"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new("vmplace_errors_total", "Error documents by code"),
            &["code"],
        )?;
        let solve_seconds = HistogramVec::new(
            HistogramOpts::new("vmplace_solve_seconds", "Solve wall time by endpoint").buckets(
                vec![
                    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                ],
            ),
            &["endpoint"],
        )?;
        let queue_depth = IntGauge::new("vmplace_queue_depth", "Requests waiting for a worker")?;
        let running = IntGauge::new("vmplace_solves_running", "Solves running now")?;
        let cancelled = IntCounter::new(
            "vmplace_solves_cancelled_total",
            "Solves whose client went away",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(solve_seconds.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(running.clone()))?;
        registry.register(Box::new(cancelled.clone()))?;
        registry.register(Box::new(build_info(commit)?))?;
        Ok(Metrics {
            registry,
            requests,
            errors,
            solve_seconds,
            queue_depth,
            running,
            cancelled,
        })
    }
}

/// `vmplace_build_info{version, commit, highs} 1`: which build answers, for dashboards to join on.
fn build_info(commit: &str) -> Result<IntGaugeVec, prometheus::Error> {
    let info = IntGaugeVec::new(
        Opts::new(
            "vmplace_build_info",
            "Always 1; the labels name the build: crate version, git commit, HiGHS version",
        ),
        &["version", "commit", "highs"],
    )?;
    info.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        commit,
        &vmplace_core::highs_version(),
    ])
    .set(1);
    Ok(info)
}

struct AppState {
    cfg: ServerConfig,
    workers: Arc<Semaphore>,
    /// The small requests' own lane ([`ServerConfig::small_lane`]).
    small: Arc<Semaphore>,
    in_flight: AtomicUsize,
    metrics: Metrics,
    next_id: AtomicU64,
    /// Set by the shutdown signal: `/readyz` answers 503 and new requests are turned away while
    /// the solves in flight finish.
    draining: AtomicBool,
    /// The random start of the request ids this process generates.
    id_prefix: u64,
}

type Shared = Arc<AppState>;

/// Builds the router (exposed for tests that want it in-process).
pub fn router(cfg: ServerConfig) -> Result<Router, prometheus::Error> {
    Ok(build(cfg)?.0)
}

/// The router and the state its handlers share.
fn build(cfg: ServerConfig) -> Result<(Router, Shared), prometheus::Error> {
    let state = Arc::new(AppState {
        workers: Arc::new(Semaphore::new(cfg.workers.max(1))),
        small: Arc::new(Semaphore::new(cfg.small_lane)),
        in_flight: AtomicUsize::new(0),
        metrics: Metrics::new(cfg.commit)?,
        next_id: AtomicU64::new(1),
        draining: AtomicBool::new(false),
        id_prefix: rand::random(),
        cfg: cfg.clone(),
    });
    let router = Router::new()
        .route("/v1/storage", post(|s, h, b| solve(s, h, b, Mode::Storage)))
        .route("/v1/host", post(|s, h, b| solve(s, h, b, Mode::Host)))
        .route("/v1/place", post(|s, h, b| solve(s, h, b, Mode::Place)))
        .route("/v1/host-from-storage", post(host_from_storage))
        .route("/v1/check", post(check))
        .route("/v1/migrate", post(migrate))
        .route("/v1/iallocator", post(iallocator))
        .route("/v1/capacity", post(capacity))
        .route("/v1/schema/{doc}", get(schema))
        .route(
            "/v1/openapi.json",
            get(|| async { json_response(StatusCode::OK, &super::openapi::document()) }),
        )
        .route(
            "/healthz",
            get(|| async { json_response(StatusCode::OK, &serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            error_response(
                StatusCode::NOT_FOUND,
                vec![InputError::new(ErrorCode::NotFound, "", "no such endpoint")],
            )
        })
        .method_not_allowed_fallback(|| async {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                vec![InputError::new(
                    ErrorCode::MethodNotAllowed,
                    "",
                    "this endpoint does not take that method",
                )],
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .with_state(state.clone());
    Ok((router, state))
}

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
        _ = connections.graceful.shutdown() => tracing::info!("every connection finished"),
        _ = tokio::time::sleep_until(deadline) => tracing::warn!(
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
                        tracing::warn!(error = %e, "accept failed");
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
                    tracing::debug!(error = %e, "connection closed with an error");
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
struct WriteTimeout<S> {
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
    tracing::info!("shutting down: draining the requests in flight (/readyz answers 503)");
}

/// The routes the service serves, as metric labels: a path that matches none is counted as
/// `unmatched`, so that what clients send cannot grow the metrics (one series per distinct path
/// grew RSS by 190 MB and one scrape to 180 MB).
const ROUTES: [&str; 13] = [
    "/v1/storage",
    "/v1/host",
    "/v1/place",
    "/v1/host-from-storage",
    "/v1/check",
    "/v1/migrate",
    "/v1/iallocator",
    "/v1/capacity",
    "/v1/schema/{doc}",
    "/v1/openapi.json",
    "/healthz",
    "/metrics",
    "/readyz",
];

/// The metric label of a request path: its route template, or `unmatched`.
/// The one templated route, counted under its template.
const SCHEMA_ROUTE: &str = "/v1/schema/{doc}";

fn route_label(path: &str) -> &'static str {
    if path.starts_with("/v1/schema/") && !path["/v1/schema/".len()..].contains('/') {
        return SCHEMA_ROUTE;
    }
    ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or("unmatched")
}

/// The longest request path the access log writes out.
const LOGGED_PATH: usize = 200;

/// Counts and logs one request when it ends, also when its client went away and the handler was
/// dropped (status `499`, as nginx logs it).
struct RequestRecord {
    st: Shared,
    id: u64,
    /// The `X-Request-Id` answered: the client's, or one generated.
    request_id: HeaderValue,
    label: &'static str,
    path: String,
    bytes_in: String,
    start: Instant,
    status: Option<u16>,
}

impl Drop for RequestRecord {
    fn drop(&mut self) {
        let status = self.status.unwrap_or(499);
        self.st
            .metrics
            .requests
            .with_label_values(&[self.label, &status.to_string()])
            .inc();
        tracing::info!(
            id = self.id,
            request_id = self.request_id.to_str().unwrap_or(""),
            endpoint = self.path,
            status,
            time_ms = self.start.elapsed().as_millis() as u64,
            bytes_in = self.bytes_in,
            "request"
        );
    }
}

/// The header that carries a request's id.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest `X-Request-Id` echoed; a longer one is replaced by a generated id.
pub const MAX_REQUEST_ID: usize = 128;

/// The client's `X-Request-Id` if it is usable as it is: 1 to [`MAX_REQUEST_ID`] printable
/// ASCII characters, no spaces (what a log line and a header can carry unquoted).
fn client_request_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let value = headers.get(REQUEST_ID)?;
    let bytes = value.as_bytes();
    let usable = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes.iter().all(u8::is_ascii_graphic);
    usable.then(|| value.clone())
}

/// A request id of this process: its random prefix and the request's sequence number.
fn generated_request_id(st: &AppState, id: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("{:016x}-{id}", st.id_prefix))
        .unwrap_or(HeaderValue::from_static("unknown"))
}

/// One log line per request: id, request id, endpoint, status, time, size. The answer carries
/// the request id in `X-Request-Id`.
async fn access_log(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let id = st.next_id.fetch_add(1, Ordering::Relaxed);
    let request_id =
        client_request_id(req.headers()).unwrap_or_else(|| generated_request_id(&st, id));
    let mut record = RequestRecord {
        id,
        request_id: request_id.clone(),
        label: route_label(path),
        path: path.chars().take(LOGGED_PATH).collect(),
        bytes_in: req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .chars()
            .take(20)
            .collect(),
        start: Instant::now(),
        status: None,
        st,
    };
    let mut response = next.run(req).await;
    record.status = Some(response.status().as_u16());
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_string_pretty(body) {
        Ok(text) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            text + "\n",
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode response: {e}"),
        )
            .into_response(),
    }
}

fn bytes_response(status: StatusCode, mut body: Vec<u8>) -> Response {
    body.push(b'\n');
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A document an endpoint answers with, and how it is encoded.
trait Answer {
    /// Pretty JSON.
    fn encode(self) -> serde_json::Result<Vec<u8>>;
}

impl Answer for vmplace_wire::Solution {
    /// With the time it takes in `stats.timings.write_s`.
    fn encode(mut self) -> serde_json::Result<Vec<u8>> {
        let bytes = api::encode_solution(&mut self, true);
        let size = self.stats.host_utilisation.len() + self.placements.len();
        vmplace_core::validation::dropper::free_later(self, size);
        bytes
    }
}

impl Answer for api::CheckReport {
    fn encode(self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec_pretty(&self)
    }
}

impl Answer for vmplace_core::capacity::CapacityReport {
    fn encode(self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&self)
    }
}

impl Answer for vmplace_wire::ganeti::Response {
    fn encode(self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&self)
    }
}

impl Answer for vmplace_wire::state::Plan {
    fn encode(self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec_pretty(&self)
    }
}

fn error_response(status: StatusCode, errors: Vec<InputError>) -> Response {
    json_response(status, &ErrorDocument::new(errors))
}

/// `application/json`, with any parameters (`; charset=utf-8`), in any case; nothing else.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("");
    essence.trim().eq_ignore_ascii_case("application/json")
}

/// Checks the content type, then reads the body within `body_timeout` and `body_limit`,
/// returning the text or the error response.
async fn body_text(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<String, Box<Response>> {
    let fail = |status: StatusCode, code: ErrorCode, cause: String| {
        st.metrics.errors.with_label_values(&[code.code()]).inc();
        Box::new(error_response(
            status,
            vec![InputError::new(code, "", cause)],
        ))
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_json_media_type(content_type) {
        return Err(fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!("content type `{content_type}` is not application/json"),
        ));
    }
    let read = axum::body::to_bytes(body, st.cfg.body_limit);
    let bytes = match tokio::time::timeout(st.cfg.body_timeout, read).await {
        Err(_) => {
            return Err(fail(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                format!(
                    "the body did not arrive within {} s",
                    st.cfg.body_timeout.as_secs_f64()
                ),
            ))
        }
        Ok(Err(e)) if is_length_limit(&e) => {
            return Err(fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                format!("body exceeds {} bytes", st.cfg.body_limit),
            ))
        }
        Ok(Err(e)) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                ErrorCode::Io,
                format!("cannot read body: {e}"),
            ))
        }
        Ok(Ok(bytes)) => bytes,
    };
    vmplace_core::validation::utf8_text(bytes.to_vec()).map_err(|e| {
        st.metrics.errors.with_label_values(&[e.code.code()]).inc();
        Box::new(error_response(StatusCode::BAD_REQUEST, vec![e]))
    })
}

/// Whether reading a body failed on `body_limit`.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Sets the cancel flag unless disarmed: dropped with the handler when the client goes away.
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    armed: bool,
    state: Shared,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::Relaxed);
            self.state.metrics.cancelled.inc();
            tracing::info!("client went away: solve cancelled");
        }
    }
}

/// Admission to the bounded pool; released on drop.
struct Slot(Shared);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn admit(st: &Shared) -> Option<Slot> {
    let limit = st.cfg.workers.max(1) + st.cfg.small_lane + st.cfg.queue;
    let mut current = st.in_flight.load(Ordering::Acquire);
    loop {
        if current >= limit {
            return None;
        }
        match st.in_flight.compare_exchange(
            current,
            current + 1,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Some(Slot(st.clone())),
            Err(now) => current = now,
        }
    }
}

/// 503 with `Retry-After` (E0005): every worker busy and the queue full.
fn busy(st: &AppState) -> Response {
    unavailable(st, "all workers are busy and the queue is full")
}

/// 503 with `Retry-After` (E0005), for `cause`.
fn unavailable(st: &AppState, cause: &str) -> Response {
    st.metrics
        .errors
        .with_label_values(&[ErrorCode::Busy.code()])
        .inc();
    let mut r = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        vec![InputError::new(ErrorCode::Busy, "", cause)],
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The answer to a document request that arrives while the server drains.
fn shutting_down(st: &AppState) -> Response {
    unavailable(
        st,
        "the server is shutting down; send the request to another instance",
    )
}

async fn readyz(State(st): State<Shared>) -> Response {
    if st.draining.load(Ordering::Acquire) {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "draining"}),
        )
    } else {
        json_response(StatusCode::OK, &serde_json::json!({"status": "ready"}))
    }
}

/// Decrements a gauge on drop, so a dropped handler never leaves it counting.
struct GaugeGuard(IntGauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Runs `job` on the blocking pool once a worker is free; panics become 500. The admission slot
/// and the worker permit move into the job, so they are released when the solve really ends,
/// even if the client went away before.
async fn run_job<T: Send + 'static>(
    st: &Shared,
    (endpoint, small): (&str, bool),
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    let Some(slot) = admit(st) else {
        return Err(busy(st));
    };
    st.metrics.queue_depth.inc();
    let waiting = GaugeGuard(st.metrics.queue_depth.clone());
    let permit = worker(st, small).await;
    drop(waiting);
    let Ok(permit) = permit else {
        return Err(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            vec![InputError::new(
                ErrorCode::Busy,
                "",
                "server is shutting down",
            )],
        ));
    };
    let running = st.metrics.running.clone();
    let timer = st.metrics.solve_seconds.with_label_values(&[endpoint]);
    let result = tokio::task::spawn_blocking(move || {
        running.inc();
        let _running = GaugeGuard(running);
        let _held = (slot, permit);
        let start = Instant::now();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        timer.observe(start.elapsed().as_secs_f64());
        // What the job built and freed on this thread goes back to the OS now, not after the
        // next burst (issue 27, M8).
        super::memory::release();
        out
    })
    .await;
    match result {
        Ok(Ok(v)) => Ok(v),
        _ => {
            st.metrics
                .errors
                .with_label_values(&[ErrorCode::Internal.code()])
                .inc();
            tracing::error!(endpoint, "solver failure");
            Err(error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                vec![InputError::new(
                    ErrorCode::Internal,
                    "",
                    "the solver failed unexpectedly",
                )],
            ))
        }
    }
}

/// A worker's permit; for a small request, a worker's or the small lane's, whichever frees first.
async fn worker(
    st: &Shared,
    small: bool,
) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
    if !small || st.cfg.small_lane == 0 {
        return st.workers.clone().acquire_owned().await;
    }
    tokio::select! {
        biased;
        p = st.workers.clone().acquire_owned() => p,
        p = st.small.clone().acquire_owned() => p,
    }
}

/// The shape every document endpoint shares: check the body, run `job` on the worker pool with a
/// cancel flag that a client disconnect raises, answer 200 with the document or 400 with the
/// error document.
async fn document<T, F>(
    st: Shared,
    headers: HeaderMap,
    body: Body,
    endpoint: &'static str,
    job: F,
) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(String, Arc<AtomicBool>) -> Result<T, Vec<InputError>> + Send + 'static,
    T: Answer,
{
    // A request whose handler started before the signal is served; later ones go elsewhere.
    if st.draining.load(Ordering::Acquire) {
        return shutting_down(&st);
    }
    let text = match body_text(&st, &headers, body).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let mut guard = CancelOnDrop {
        flag: cancel.clone(),
        armed: true,
        state: st.clone(),
    };
    // The answer is encoded on the worker too: a large document never holds up the reactor.
    let small = text.len() <= st.cfg.small_body;
    let job = move || {
        job(text, cancel).map(|a| Answer::encode(a).map(vmplace_wire::zero::positive_zeros))
    };
    let result = run_job(&st, (endpoint, small), job).await;
    guard.armed = false;
    match result {
        Ok(Ok(Ok(bytes))) => bytes_response(StatusCode::OK, bytes),
        Ok(Ok(Err(e))) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode response: {e}"),
        )
            .into_response(),
        Ok(Err(errors)) => {
            for e in &errors {
                st.metrics.errors.with_label_values(&[e.code.code()]).inc();
            }
            error_response(StatusCode::BAD_REQUEST, errors)
        }
        Err(r) => r,
    }
}

/// A document endpoint that solves: the request's own time limit, capped by the server's, and a
/// cancel flag that a client disconnect raises.
async fn solving<T, F>(
    st: Shared,
    headers: HeaderMap,
    body: Body,
    endpoint: &'static str,
    job: F,
) -> Response
where
    T: serde::Serialize + Send + Answer + 'static,
    F: FnOnce(&str, &Overrides, &RunConfig) -> Result<T, Vec<InputError>> + Send + 'static,
{
    let overrides = Overrides {
        max_time_limit_s: Some(st.cfg.max_time_limit_s),
        ..Default::default()
    };
    document(st, headers, body, endpoint, move |text, cancel| {
        let cfg = RunConfig {
            write_model: None,
            cancel: Some(cancel),
            started: None,
        };
        job(&text, &overrides, &cfg)
    })
    .await
}

async fn solve(State(st): State<Shared>, headers: HeaderMap, body: Body, mode: Mode) -> Response {
    let endpoint = match mode {
        Mode::Storage => "/v1/storage",
        Mode::Host => "/v1/host",
        Mode::Place => "/v1/place",
    };
    solving(st, headers, body, endpoint, move |text, o, cfg| {
        api::solve_text(text, mode, o, cfg)
    })
    .await
}

async fn host_from_storage(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    solving(
        st,
        headers,
        body,
        "/v1/host-from-storage",
        api::host_from_storage_text,
    )
    .await
}

async fn check(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    document(st, headers, body, "/v1/check", |text, _| {
        api::check_request(&text)
    })
    .await
}

async fn migrate(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    solving(st, headers, body, "/v1/migrate", api::migrate_within).await
}

async fn iallocator(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    solving(st, headers, body, "/v1/iallocator", |text, o, cfg| {
        api::iallocator_text(text, o, cfg).map(|(answer, _)| answer)
    })
    .await
}

async fn capacity(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    solving(st, headers, body, "/v1/capacity", api::capacity_request).await
}

async fn schema(Path(doc): Path<String>) -> Response {
    match DocKind::from_name(&doc) {
        Some(kind) => json_response(StatusCode::OK, &vmplace_wire::schema(kind)),
        None => error_response(
            StatusCode::NOT_FOUND,
            vec![InputError::new(
                ErrorCode::NotFound,
                "",
                format!(
                    "no schema `{doc}` ({})",
                    DocKind::ALL.map(DocKind::name).join(", ")
                ),
            )],
        ),
    }
}

async fn metrics(State(st): State<Shared>) -> Response {
    // Encoded off the reactor: a scrape never holds up `/healthz` or other clients.
    let encoded = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        encoder
            .encode(&st.metrics.registry.gather(), &mut buf)
            .map(|()| (buf, encoder.format_type().to_string()))
    })
    .await;
    match encoded {
        Ok(Ok((buf, content_type))) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], buf).into_response()
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response(),
    }
}
