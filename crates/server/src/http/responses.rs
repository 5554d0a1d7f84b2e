//! How answers are written: JSON bodies, error documents, and the documents endpoints answer with.

use crate::api;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use vmplace_wire::{ErrorDocument, InputError};

pub(super) fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
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

pub(super) fn bytes_response(status: StatusCode, mut body: Vec<u8>) -> Response {
    body.push(b'\n');
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A document an endpoint answers with, and how it is encoded.
pub(super) trait Answer {
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

pub(super) fn error_response(status: StatusCode, errors: Vec<InputError>) -> Response {
    json_response(status, &ErrorDocument::new(errors))
}
