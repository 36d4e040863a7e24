//! The server's one error type: an [`ErrorCode`] with a message, rendered as the v1
//! error body with the code's status. Internal failures are logged (without request
//! data) and answered with a bare `internal` error.

use crate::store::StoreError;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use vouch_proto::{ErrorBody, ErrorCode};

/// Result of a handler or a database call.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    body: ErrorBody,
}

impl ApiError {
    /// An error with a code and a sentence (no secrets in `message`).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            body: ErrorBody::new(code, message),
        }
    }

    /// `invalid_code` with the tries left.
    pub fn invalid_code(attempts_left: u32) -> Self {
        let mut e = Self::new(
            ErrorCode::InvalidCode,
            format!("wrong code; {attempts_left} attempt(s) left"),
        );
        e.body.error.attempts_left = Some(attempts_left);
        e
    }

    /// `too_many_requests` with a `Retry-After`.
    pub fn too_many(retry_after_secs: u64, what: &str) -> Self {
        let mut e = Self::new(
            ErrorCode::TooManyRequests,
            format!("{what}; retry in {retry_after_secs} s"),
        );
        e.body.error.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    /// `server_busy` (503) with a `Retry-After`.
    pub fn busy(retry_after_secs: u64, what: &str) -> Self {
        let mut e = Self::new(
            ErrorCode::ServerBusy,
            format!("{what}; retry in {retry_after_secs} s"),
        );
        e.body.error.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    /// `version_conflict` with the server's version.
    pub fn conflict(current_version: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::VersionConflict,
            "the item changed on the server; re-read it and retry",
        );
        e.body.error.current_version = Some(current_version);
        e
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.body.error.code
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub(crate) fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }
}

/// The message alone (what an operator's command prints); the code is in the body.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.error.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        log::error!("database error: {e}");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.body.error.code.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.body.error.retry_after_secs;
        let mut resp = (status, Json(self.body)).into_response();
        if let Some(v) = retry.and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
