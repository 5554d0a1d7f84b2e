//! `vmplace serve`: the library behind an HTTP JSON API (axum on tokio).
//!
//! Solves are CPU-bound: they run on tokio's blocking pool, at most `workers` at a time (a
//! semaphore), plus `small_lane` more for small bodies only, never on the reactor. In front of
//! them a bounded queue: past `workers + queue` requests in flight the answer is 503 with
//! `Retry-After`. A client that disconnects drops its handler, which flags its solve as cancelled
//! (see `RunConfig::cancel`).
//!
//! The parts: [`config`] (the limits), [`connections`] (accept loop, write timeout, shutdown),
//! [`access_log`] (one line and count per request), [`body`] (reading a request),
//! [`pool`] (admission and workers), [`handlers`] (the endpoints), [`responses`] and
//! [`metrics`].

mod access_log;
mod body;
mod config;
mod connections;
mod handlers;
mod metrics;
mod pool;
mod responses;

pub use access_log::MAX_REQUEST_ID;
pub use config::ServerConfig;
pub use connections::serve;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use handlers::{capacity, check, host_from_storage, iallocator, migrate, readyz, schema, solve};
use metrics::Metrics;
use responses::{error_response, json_response};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use tokio::sync::Semaphore;
use vmplace_core::placement::Mode;
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// The target of the server's log lines, whichever submodule writes them: the one operators
/// filter on (`vmplace_server::http=info`).
const LOG: &str = "vmplace_server::http";

/// What every handler shares: the limits, the worker pool, the metrics and the drain flag.
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
        .route("/metrics", get(metrics::metrics))
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access_log::access_log,
        ))
        .with_state(state.clone());
    Ok((router, state))
}
