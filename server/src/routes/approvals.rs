//! Approval requests ("Trust this session?"), rule 4: open, read, list pending,
//! approve (with envelopes) and deny. Exactly one decision wins; the rest get 409
//! `already_decided`. One pending request per user; at most 5 per user per 10 minutes.

use axum::{Json, extract::State, http::StatusCode};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{
    APPROVAL_WINDOW_SECS, ApprovalOpened, ApprovalPurpose, ApprovalState, ApprovalStatus,
    ApproveRequest, Bytes, Decision, DeviceStatus, EnvelopeWire, ErrorBody, ErrorCode, Event,
    PendingApproval, Tier, VerifiedBy,
};

use crate::{
    AppState,
    auth::{Caller, DeviceCaller, KeyHolder, Origin},
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams, QueryParams},
    model::{
        DeviceRow, enum_str, make_key_holder, now, parse_enum, parse_uuid, push_event,
        push_event_to_user, rotate_device_token, set_device_status, trust_device, ts,
    },
};

/// Largest envelope accepted (a suite-1 envelope is 82 bytes; room for a PQ suite).
const MAX_ENVELOPE_BYTES: usize = 2048;

#[derive(Debug, Clone)]
struct RequestRow {
    id: Uuid,
    user_id: Uuid,
    device_id: Uuid,
    purpose: ApprovalPurpose,
    status: ApprovalStatus,
    origin: String,
    created_at: i64,
    expires_at: i64,
    decided_by: Option<Uuid>,
    via_qr: bool,
}

const REQ_COLS: &str =
    "id, user_id, device_id, purpose, status, origin, created_at, expires_at, decided_by, via_qr";

impl RequestRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            user_id: parse_uuid(&r.get::<_, String>(1)?)?,
            device_id: parse_uuid(&r.get::<_, String>(2)?)?,
            purpose: parse_enum(&r.get::<_, String>(3)?)?,
            status: parse_enum(&r.get::<_, String>(4)?)?,
            origin: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
            decided_by: r
                .get::<_, Option<String>>(8)?
                .as_deref()
                .map(parse_uuid)
                .transpose()?,
            via_qr: r.get(9)?,
        })
    }

    /// Loads a request, marking it expired first if its time passed.
    fn load(tx: &Transaction<'_>, id: Uuid) -> ApiResult<Option<Self>> {
        expire(tx, Some(id), None)?;
        Ok(tx
            .query_row(
                &format!("SELECT {REQ_COLS} FROM approval_requests WHERE id = ?1"),
                [id.to_string()],
                Self::from_row,
            )
            .optional()?)
    }
}

/// Expires pending requests whose time passed (for one request or one user) and tells
/// the requester and approvers.
fn expire(tx: &Transaction<'_>, id: Option<Uuid>, user: Option<Uuid>) -> ApiResult<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {REQ_COLS} FROM approval_requests WHERE status = 'pending' AND expires_at <= ?1
         AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR user_id = ?3)"
    ))?;
    let stale: Vec<RequestRow> = stmt
        .query_map(
            params![
                now(),
                id.map(|i| i.to_string()),
                user.map(|u| u.to_string())
            ],
            RequestRow::from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    for r in stale {
        tx.execute(
            "UPDATE approval_requests SET status = 'expired' WHERE id = ?1",
            [r.id.to_string()],
        )?;
        let ev = Event::ApprovalDecided {
            request_id: r.id,
            status: ApprovalStatus::Expired,
        };
        push_event(tx, r.device_id, &ev)?;
        push_event_to_user(tx, r.user_id, Some(r.device_id), true, &ev)?;
    }
    Ok(())
}

fn pending_view(tx: &Transaction<'_>, r: &RequestRow) -> ApiResult<PendingApproval> {
    let device = DeviceRow::load(tx, r.device_id)?
        .ok_or_else(ApiError::internal)?
        .device;
    Ok(PendingApproval {
        id: r.id,
        user_id: r.user_id,
        purpose: r.purpose,
        device,
        created_at: ts(r.created_at),
        expires_at: ts(r.expires_at),
        origin: r.origin.clone(),
    })
}

/// Opens an approval request for device `id`: a pending device (account token of the
/// session that registered it) asks to be trusted, or a device trusted by email code
/// (its own device token) asks a key holder to share vault keys.
#[utoipa::path(post, path = "/v1/devices/{id}/approval-requests", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "requesting device id")),
    responses((status = 201, body = ApprovalOpened),
        (status = 200, body = ApprovalOpened, description = "a retry: this device's own request is still open"),
        (status = 409, body = ErrorBody, description = "approval_pending, device_not_pending"),
        (status = 429, body = ErrorBody, description = "too_many_requests")))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<(StatusCode, Json<ApprovalOpened>)> {
    let ttl = state.settings.approval_ttl.as_secs() as i64;
    let rate = state.settings.approval_rate_limit;
    let opened = state
        .db
        .tx(move |tx| {
            let d = DeviceRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("device"))?;
            let purpose = match &caller {
                Caller::Account(a) => {
                    if d.device.user_id != a.user.id {
                        return Err(ApiError::not_found("device"));
                    }
                    if d.device.status != DeviceStatus::Pending {
                        return Err(ApiError::new(ErrorCode::DeviceNotPending, "this device is not waiting for verification"));
                    }
                    ApprovalPurpose::Enrollment
                }
                Caller::Device(c) => {
                    if c.device.device.id != id {
                        return Err(ApiError::forbidden("a device can only ask for keys for itself"));
                    }
                    ApprovalPurpose::KeySharing
                }
            };
            let user_id = d.device.user_id;
            expire(tx, None, Some(user_id))?;
            let pending: Option<(String, String, String, i64)> = tx
                .query_row(
                    "SELECT id, device_id, purpose, expires_at FROM approval_requests WHERE user_id = ?1 AND status = 'pending'",
                    [user_id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((rid, device, pending_purpose, expires_at)) = pending {
                // This device's own open request, asked again (the client crashed or lost
                // the answer): the same request, no new prompt on the approvers.
                if device == id.to_string() && pending_purpose == enum_str(&purpose) {
                    return Ok((StatusCode::OK, ApprovalOpened { id: parse_uuid(&rid)?, expires_at: ts(expires_at) }));
                }
                return Err(ApiError::new(
                    ErrorCode::ApprovalPending,
                    "another approval request is waiting; decide or let it expire first",
                ));
            }
            let t = now();
            let (recent, oldest): (u32, Option<i64>) = tx.query_row(
                "SELECT count(*), min(created_at) FROM approval_requests WHERE user_id = ?1 AND created_at > ?2",
                params![user_id.to_string(), t - APPROVAL_WINDOW_SECS as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if recent >= rate {
                let wait = oldest.unwrap_or(t) + APPROVAL_WINDOW_SECS as i64 - t;
                return Err(ApiError::too_many(wait.max(1) as u64, "too many approval requests"));
            }
            let rid = Uuid::new_v4();
            tx.execute(
                "INSERT INTO approval_requests (id, user_id, device_id, purpose, status, origin, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)",
                params![rid.to_string(), user_id.to_string(), id.to_string(), enum_str(&purpose), origin, t, t + ttl],
            )?;
            let row = RequestRow::load(tx, rid)?.ok_or_else(ApiError::internal)?;
            let view = pending_view(tx, &row)?;
            push_event_to_user(tx, user_id, Some(id), true, &Event::ApprovalRequested { request: view })?;
            Ok((StatusCode::CREATED, ApprovalOpened { id: rid, expires_at: ts(t + ttl) }))
        })
        .await?;
    Ok((opened.0, Json(opened.1)))
}

/// The requester reads its request; once approved it gets the envelopes and (for an
/// enrollment) a device token — each read issues a fresh token and revokes the last.
#[utoipa::path(get, path = "/v1/approval-requests/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")),
    responses((status = 200, body = ApprovalState), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<Json<ApprovalState>> {
    let out = state
        .db
        .tx(move |tx| {
            let r = RequestRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("approval request"))?;
            let d = DeviceRow::load(tx, r.device_id)?.ok_or_else(ApiError::internal)?;
            let allowed = match &caller {
                Caller::Account(a) => a.user.id == r.user_id && a.token_hash == d.registered_by,
                Caller::Device(c) => c.device.device.id == r.device_id,
            };
            if !allowed {
                return Err(ApiError::not_found("approval request"));
            }
            let mut state = ApprovalState {
                id: r.id,
                status: r.status,
                purpose: r.purpose,
                expires_at: ts(r.expires_at),
                envelopes: Vec::new(),
                device_token: None,
                decided_by: r.decided_by,
                via_qr: r.via_qr,
            };
            if r.status == ApprovalStatus::Approved {
                let mut stmt = tx.prepare_cached(
                    "SELECT vault_id, envelope FROM envelopes WHERE device_id = ?1 AND request_id = ?2 ORDER BY vault_id",
                )?;
                state.envelopes = stmt
                    .query_map(params![r.device_id.to_string(), r.id.to_string()], |row| {
                        Ok(EnvelopeWire { vault_id: parse_uuid(&row.get::<_, String>(0)?)?, envelope: Bytes(row.get(1)?) })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                if r.purpose == ApprovalPurpose::Enrollment
                    && matches!(caller, Caller::Account(_))
                    && d.device.status == DeviceStatus::Trusted
                {
                    state.device_token = Some(rotate_device_token(tx, r.device_id)?);
                }
            }
            Ok(state)
        })
        .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only `pending` is supported.
    status: Option<String>,
}

/// What a trusted web or mobile device shows: the user's pending requests from other devices.
#[utoipa::path(get, path = "/v1/approval-requests", tag = "approvals", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = Vec<PendingApproval>), (status = 403, body = ErrorBody, description = "extensions cannot approve")))]
pub async fn list_pending(
    State(state): State<AppState>,
    caller: KeyHolder,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<Vec<PendingApproval>>> {
    caller.require_approver()?;
    if q.status.as_deref().is_some_and(|s| s != "pending") {
        return Err(ApiError::bad_request("only status=pending can be listed"));
    }
    let out = state
        .db
        .tx(move |tx| {
            expire(tx, None, Some(caller.user.id))?;
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {REQ_COLS} FROM approval_requests WHERE user_id = ?1 AND status = 'pending' AND device_id != ?2 ORDER BY created_at"
            ))?;
            let rows: Vec<RequestRow> = stmt
                .query_map(params![caller.user.id.to_string(), caller.device.device.id.to_string()], RequestRow::from_row)?
                .collect::<rusqlite::Result<_>>()?;
            rows.iter().map(|r| pending_view(tx, r)).collect()
        })
        .await?;
    Ok(Json(out))
}

/// Loads a request the caller may decide: same user, not its own, still pending.
fn decidable(tx: &Transaction<'_>, caller: &DeviceCaller, id: Uuid) -> ApiResult<RequestRow> {
    let r = RequestRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("approval request"))?;
    if r.user_id != caller.user.id {
        return Err(ApiError::not_found("approval request"));
    }
    if r.device_id == caller.device.device.id {
        return Err(ApiError::forbidden(
            "a device cannot decide its own request",
        ));
    }
    match r.status {
        ApprovalStatus::Pending => Ok(r),
        ApprovalStatus::Expired => Err(ApiError::new(
            ErrorCode::RequestExpired,
            "the request expired",
        )),
        _ => Err(ApiError::new(
            ErrorCode::AlreadyDecided,
            "the request was already decided",
        )),
    }
}

fn decide(
    tx: &Transaction<'_>,
    caller: &DeviceCaller,
    r: &RequestRow,
    status: ApprovalStatus,
    via_qr: bool,
) -> ApiResult<()> {
    let n = tx.execute(
        "UPDATE approval_requests SET status = ?2, decided_by = ?3, decided_at = ?4, via_qr = ?5 WHERE id = ?1 AND status = 'pending'",
        params![r.id.to_string(), enum_str(&status), caller.device.device.id.to_string(), now(), via_qr],
    )?;
    if n != 1 {
        return Err(ApiError::new(
            ErrorCode::AlreadyDecided,
            "the request was already decided",
        ));
    }
    let ev = Event::ApprovalDecided {
        request_id: r.id,
        status,
    };
    push_event(tx, r.device_id, &ev)?;
    push_event_to_user(tx, r.user_id, Some(r.device_id), true, &ev)?;
    Ok(())
}

/// Approves: stores the envelopes (every vault key the approver holds, sealed to the
/// requester's key) and, for an enrollment, trusts the device.
#[utoipa::path(post, path = "/v1/approval-requests/{id}/approve", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")), request_body = ApproveRequest,
    responses((status = 200, body = Decision),
        (status = 409, body = ErrorBody, description = "already_decided"),
        (status = 410, body = ErrorBody, description = "request_expired"),
        (status = 403, body = ErrorBody, description = "extensions cannot approve")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<ApproveRequest>,
) -> ApiResult<Json<Decision>> {
    caller.require_approver()?;
    if req
        .envelopes
        .iter()
        .any(|e| e.envelope.0.is_empty() || e.envelope.0.len() > MAX_ENVELOPE_BYTES)
    {
        return Err(ApiError::bad_request("an envelope is empty or too large"));
    }
    let out = state
        .db
        .tx(move |tx| {
            let r = decidable(tx, &caller, id)?;
            let t = now();
            let mut seen = std::collections::HashSet::new();
            for e in &req.envelopes {
                if !seen.insert(e.vault_id) {
                    return Err(ApiError::bad_request("two envelopes for one vault"));
                }
                let owner: Option<String> = tx
                    .query_row("SELECT user_id FROM vaults WHERE id = ?1", [e.vault_id.to_string()], |row| row.get(0))
                    .optional()?;
                if owner.as_deref() != Some(&r.user_id.to_string()) {
                    return Err(ApiError::bad_request("an envelope names a vault that is not the user's"));
                }
                tx.execute(
                    "INSERT INTO envelopes (device_id, vault_id, request_id, envelope, sealed_by, via_qr, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        r.device_id.to_string(),
                        e.vault_id.to_string(),
                        r.id.to_string(),
                        e.envelope.0,
                        caller.device.device.id.to_string(),
                        req.via_qr,
                        t
                    ],
                )?;
            }
            decide(tx, &caller, &r, ApprovalStatus::Approved, req.via_qr)?;
            if r.purpose == ApprovalPurpose::KeySharing {
                make_key_holder(tx, r.device_id, caller.device.device.id)?;
            }
            if r.purpose == ApprovalPurpose::Enrollment {
                let by = if req.via_qr { VerifiedBy::QrApproval } else { VerifiedBy::Approval };
                // The token made here is replaced when the requester reads the request.
                let _ = trust_device(tx, r.device_id, by, Tier::KeyHolder, Some(caller.device.device.id))?;
                let device = DeviceRow::load(tx, r.device_id)?.ok_or_else(ApiError::internal)?.device;
                push_event_to_user(tx, r.user_id, Some(r.device_id), false, &Event::DeviceAdded { device })?;
            }
            for e in &req.envelopes {
                push_event(tx, r.device_id, &Event::EnvelopeAdded { vault_id: e.vault_id, request_id: r.id })?;
            }
            Ok(Decision { id: r.id, status: ApprovalStatus::Approved })
        })
        .await?;
    Ok(Json(out))
}

/// Denies: an enrollment's device becomes `denied`. Always allowed while pending.
#[utoipa::path(post, path = "/v1/approval-requests/{id}/deny", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")),
    responses((status = 200, body = Decision), (status = 409, body = ErrorBody, description = "already_decided")))]
pub async fn deny(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<Json<Decision>> {
    caller.require_approver()?;
    let out = state
        .db
        .tx(move |tx| {
            let r = decidable(tx, &caller, id)?;
            decide(tx, &caller, &r, ApprovalStatus::Denied, false)?;
            if r.purpose == ApprovalPurpose::Enrollment {
                set_device_status(tx, r.device_id, DeviceStatus::Denied)?;
            }
            Ok(Decision {
                id: r.id,
                status: ApprovalStatus::Denied,
            })
        })
        .await?;
    Ok(Json(out))
}
