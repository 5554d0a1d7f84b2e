//! The Prometheus metrics the server keeps, and `GET /metrics`.

use super::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub(super) struct Metrics {
    pub(super) registry: Registry,
    pub(super) requests: IntCounterVec,
    pub(super) errors: IntCounterVec,
    pub(super) solve_seconds: HistogramVec,
    pub(super) queue_depth: IntGauge,
    pub(super) running: IntGauge,
    pub(super) cancelled: IntCounter,
}

impl Metrics {
    pub(super) fn new(commit: &str) -> Result<Self, prometheus::Error> {
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

pub(super) async fn metrics(State(st): State<Shared>) -> Response {
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
