//! Reading a request's body: its content type, then the bytes within the time and size limits.

use super::responses::error_response;
use super::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use vmplace_wire::errors::ErrorCode;
use vmplace_wire::InputError;

/// `application/json`, with any parameters (`; charset=utf-8`), in any case; nothing else.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("");
    essence.trim().eq_ignore_ascii_case("application/json")
}

/// Checks the content type, then reads the body within `body_timeout` and `body_limit`,
/// returning the text or the error response.
pub(super) async fn body_text(
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
