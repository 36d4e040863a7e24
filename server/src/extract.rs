//! Body, path and query extractors whose rejections are v1 error bodies: malformed JSON
//! is a 400 `invalid_json`, a body over 64 KiB a 413, a bad id a 400 — never a 500, and
//! never an echo of the submitted values (they may be passwords or codes).

use axum::{
    Json,
    extract::{FromRequest, FromRequestParts, Path, Query, Request, rejection::JsonRejection},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;
use vouch_proto::ErrorCode;

use crate::error::{ApiError, ApiResult};

/// Body fields that carry public keys: malformed ones answer `invalid_public_key`.
const KEY_FIELDS: &[&str] = &["key_bundle", "public_key"];

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::new(
                ErrorCode::InvalidJson,
                "the body is not valid JSON",
            )),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                // A key that does not even decode is an invalid key, as one that decodes
                // to a bad point is (the field path comes first; values never echo).
                let field = text
                    .split("target type: ")
                    .nth(1)
                    .and_then(|rest| rest.split(':').next())
                    .unwrap_or("");
                if KEY_FIELDS.contains(&field) {
                    return Err(ApiError::new(
                        ErrorCode::InvalidPublicKey,
                        format!("`{field}` is not a valid key encoding (base64)"),
                    ));
                }
                // Keep serde's "missing field `x`" (names only); drop messages that may quote values.
                let msg = match text.find("missing field") {
                    Some(i) => text[i..]
                        .split(" at line")
                        .next()
                        .unwrap_or("missing field")
                        .to_owned(),
                    None => "a field has the wrong type or value".to_owned(),
                };
                Err(ApiError::bad_request(msg))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::bad_request(
                "expected `Content-Type: application/json`",
            )),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the body is larger than 64 KiB",
            )),
            Err(_) => Err(ApiError::bad_request("the body could not be read")),
        }
    }
}

/// Path parameters (ids are UUIDs).
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|_| ApiError::bad_request("an id in the path is not a valid UUID"))
    }
}

/// Query-string parameters.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|_| ApiError::bad_request("invalid query parameters"))
    }
}
