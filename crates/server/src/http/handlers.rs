//! The endpoints: the shape every document endpoint shares, then one handler per route.

use super::body::body_text;
use super::pool::{run_job, shutting_down, CancelOnDrop};
use super::responses::{bytes_response, error_response, json_response, Answer};
use super::Shared;
use crate::api;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vmplace_core::budget::Clock;
use vmplace_core::domain::settings::Overrides;
use vmplace_core::placement::{Mode, RunConfig};
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::{DocKind, InputError};

pub(super) async fn readyz(State(st): State<Shared>) -> Response {
    if st.draining.load(Ordering::Acquire) {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "draining"}),
        )
    } else {
        json_response(StatusCode::OK, &serde_json::json!({"status": "ready"}))
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
            clock: Clock {
                started: None,
                cancel: Some(cancel),
            },
        };
        job(&text, &overrides, &cfg)
    })
    .await
}

pub(super) async fn solve(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Body,
    mode: Mode,
) -> Response {
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

pub(super) async fn host_from_storage(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    solving(
        st,
        headers,
        body,
        "/v1/host-from-storage",
        api::host_from_storage_text,
    )
    .await
}

pub(super) async fn check(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    document(st, headers, body, "/v1/check", |text, _| {
        api::check_request(&text)
    })
    .await
}

pub(super) async fn migrate(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    solving(st, headers, body, "/v1/migrate", api::migrate_within).await
}

pub(super) async fn iallocator(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    solving(st, headers, body, "/v1/iallocator", |text, o, cfg| {
        api::iallocator_text(text, o, cfg).map(|(answer, _)| answer)
    })
    .await
}

pub(super) async fn capacity(State(st): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    solving(st, headers, body, "/v1/capacity", api::capacity_request).await
}

pub(super) async fn schema(Path(doc): Path<String>) -> Response {
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
