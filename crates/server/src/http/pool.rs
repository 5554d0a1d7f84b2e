//! The worker pool: admission to the bounded queue, a worker (or the small lane) per solve, and
//! the answers when there is none.

use super::responses::error_response;
use super::{AppState, Shared};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use prometheus::IntGauge;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// Sets the cancel flag unless disarmed: dropped with the handler when the client goes away.
pub(super) struct CancelOnDrop {
    pub(super) flag: Arc<AtomicBool>,
    pub(super) armed: bool,
    pub(super) state: Shared,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::Relaxed);
            self.state.metrics.cancelled.inc();
            tracing::info!(target: super::LOG, "client went away: solve cancelled");
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
pub(super) fn shutting_down(st: &AppState) -> Response {
    unavailable(
        st,
        "the server is shutting down; send the request to another instance",
    )
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
pub(super) async fn run_job<T: Send + 'static>(
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
        crate::memory::release();
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
            tracing::error!(target: super::LOG, endpoint, "solver failure");
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
