//! The JSON side of console sessions, for the user's key holders: list them, approve one
//! with the code its browser shows, revoke one (`vouch console …` in the CLI).

use axum::{Json, extract::State, http::StatusCode};
use uuid::Uuid;
use vouch_proto::{ApproveConsole, ConsoleSession, ErrorBody};

use super::session;
use crate::{
    AppState,
    audit::Actor,
    auth::{KeyHolder, Origin},
    error::ApiResult,
    extract::{JsonBody, PathParams},
};

/// The user's console sessions, pending and active (what a key holder shows before
/// approving one: browser, address, time, and whether it signed in from another address
/// than the caller's).
#[utoipa::path(get, path = vouch_proto::CONSOLE_SESSIONS, tag = "console", security(("bearer" = [])),
    responses((status = 200, body = Vec<ConsoleSession>),
        (status = 403, body = ErrorBody, description = "key_holder_required")))]
pub async fn list(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
) -> ApiResult<Json<Vec<ConsoleSession>>> {
    let user = caller.user.id;
    let rows = state.db.tx(move |tx| session::list(tx, user)).await?;
    let origin = origin.to_string();
    Ok(Json(
        rows.iter().map(|s| s.wire_for(Some(&origin))).collect(),
    ))
}

/// Approves a pending console session with the 6-digit code its browser shows. Only a
/// key-holder `web` or `mobile` device of the same user; the console then acts with this
/// device's powers (and an admin's only if this device is an admin's key holder) and
/// ends when this device is disabled. A wrong code counts against this session; the
/// third ends it (`code_expired`).
#[utoipa::path(post, path = vouch_proto::CONSOLE_SESSION_APPROVE, tag = "console", request_body = ApproveConsole,
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "console session id")),
    responses((status = 200, body = ConsoleSession),
        (status = 400, body = ErrorBody, description = "invalid_code (attempts_left), bad_request"),
        (status = 403, body = ErrorBody, description = "forbidden (extension), key_holder_required"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "already_decided"),
        (status = 410, body = ErrorBody, description = "code_expired (too many wrong codes), request_expired")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<ApproveConsole>,
) -> ApiResult<Json<ConsoleSession>> {
    caller.require_approver()?;
    let actor = Actor::device(caller.device.device.id, origin);
    let row = state
        .db
        .tx(move |tx| session::approve(tx, &caller, id, &req.code, &actor))
        .await??;
    Ok(Json(row.wire()))
}

/// Ends one of the user's console sessions (pending or active), from any key holder.
#[utoipa::path(post, path = vouch_proto::CONSOLE_SESSION_REVOKE, tag = "console", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "console session id")),
    responses((status = 204, description = "ended"),
        (status = 403, body = ErrorBody, description = "key_holder_required"),
        (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<StatusCode> {
    let actor = Actor::device(caller.device.device.id, origin);
    let user = caller.user.id;
    state
        .db
        .tx(move |tx| session::revoke(tx, user, id, &actor))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
