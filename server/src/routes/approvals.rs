//! Approval requests, Trust v2 (docs/TRUST_V2.md): the new device opens a request and
//! shows a code; an approver runs SPAKE2 with the code the person typed, through this
//! server, which only relays and stores. Nothing the server says authenticates a key: the
//! two devices' MACs over their own transcripts do.
//!
//! Statuses: `pending` → `approved` (the approver confirmed a run and sent the payload) →
//! `completed` (the device acknowledged; only now is it trusted) | `failed`; `pending` →
//! `denied` | `expired` | `cancelled`. One open request per device; at most
//! [`APPROVAL_REQUESTS_PER_WINDOW`](vouch_proto::APPROVAL_REQUESTS_PER_WINDOW) per user per
//! window; the server also refuses a fourth run of a request (the devices count on their
//! own and do not rely on this).

use crate::store::{Row, StoreResult, Tx, params};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{
    APPROVAL_WINDOW_SECS, AckRequest, AckResult, ApprovalOpened, ApprovalPurpose, ApprovalRun,
    ApprovalState, ApprovalStatus, ApproveRequest, Bytes, Decision, DeviceKind, DeviceStatus,
    ErrorBody, ErrorCode, Event, PakeSecret, PendingApproval, Role, RunResponse, RunStarted,
    StartRun, Tier, VerifiedBy,
};

use crate::{
    AppState,
    auth::{Caller, KeyHolder, Origin},
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams, QueryParams},
    model::{
        DeviceRow, UserRow, email_gives_key_holder, enum_str, make_key_holder, now, parse_enum,
        parse_uuid, push_event, push_event_to_user, rotate_device_token, set_device_status,
        trust_device, ts,
    },
};

/// Runs the server allows per request (the new device allows as many per code).
pub const RUNS_PER_REQUEST: u32 = 3;
/// Largest SPAKE2 message accepted (an Ed25519-group message is 33 bytes).
const MAX_PAKE_MESSAGE: usize = 64;
/// Length of a confirmation MAC (HMAC-SHA256).
const MAC_LEN: usize = 32;
/// Largest approval payload accepted (envelopes of many vaults, later the chain).
const MAX_PAYLOAD: usize = 47 * 1024;

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
    current_run: Option<Uuid>,
}

const REQ_COLS: &str = "id, user_id, device_id, purpose, status, origin, created_at, expires_at, decided_by, current_run";

fn opt_uuid(r: &Row<'_>, i: usize) -> StoreResult<Option<Uuid>> {
    r.get::<Option<String>>(i)?
        .as_deref()
        .map(parse_uuid)
        .transpose()
}

impl RequestRow {
    fn from_row(r: &Row<'_>) -> StoreResult<Self> {
        Ok(Self {
            id: parse_uuid(&r.get::<String>(0)?)?,
            user_id: parse_uuid(&r.get::<String>(1)?)?,
            device_id: parse_uuid(&r.get::<String>(2)?)?,
            purpose: parse_enum(&r.get::<String>(3)?)?,
            status: parse_enum(&r.get::<String>(4)?)?,
            origin: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
            decided_by: opt_uuid(r, 8)?,
            current_run: opt_uuid(r, 9)?,
        })
    }

    /// Loads a request, marking it expired first if its time passed.
    fn load(tx: &Tx<'_>, id: Uuid) -> ApiResult<Option<Self>> {
        expire(tx, Some(id), None)?;
        Ok(tx.query_opt(
            &format!("SELECT {REQ_COLS} FROM approval_requests WHERE id = ?1"),
            [id.to_string()],
            Self::from_row,
        )?)
    }

    fn is_open(&self) -> bool {
        matches!(
            self.status,
            ApprovalStatus::Pending | ApprovalStatus::Approved
        )
    }
}

#[derive(Debug, Clone)]
struct RunRow {
    id: Uuid,
    approver_id: Uuid,
    secret: PakeSecret,
    msg_a: Vec<u8>,
    msg_b: Option<Vec<u8>>,
    mac_b: Option<Vec<u8>>,
    mac_a: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    aborted: bool,
    reverse_sig: Option<Vec<u8>>,
}

const RUN_COLS: &str =
    "id, approver_id, secret, msg_a, msg_b, mac_b, mac_a, payload, aborted, reverse_sig";

impl RunRow {
    fn from_row(r: &Row<'_>) -> StoreResult<Self> {
        Ok(Self {
            id: parse_uuid(&r.get::<String>(0)?)?,
            approver_id: parse_uuid(&r.get::<String>(1)?)?,
            secret: parse_enum(&r.get::<String>(2)?)?,
            msg_a: r.get(3)?,
            msg_b: r.get(4)?,
            mac_b: r.get(5)?,
            mac_a: r.get(6)?,
            payload: r.get(7)?,
            aborted: r.get(8)?,
            reverse_sig: r.get(9)?,
        })
    }

    fn load(tx: &Tx<'_>, request: Uuid, run: Uuid) -> ApiResult<Self> {
        tx.query_opt(
            &format!("SELECT {RUN_COLS} FROM approval_runs WHERE id = ?1 AND request_id = ?2"),
            params![run.to_string(), request.to_string()],
            Self::from_row,
        )?
        .ok_or_else(|| ApiError::not_found("run"))
    }

    fn view(&self, tx: &Tx<'_>) -> ApiResult<ApprovalRun> {
        let approver = DeviceRow::load(tx, self.approver_id)?
            .ok_or_else(ApiError::internal)?
            .device;
        Ok(ApprovalRun {
            id: self.id,
            approver,
            secret: self.secret,
            msg_a: Bytes(self.msg_a.clone()),
            msg_b: self.msg_b.clone().map(Bytes),
            mac_b: self.mac_b.clone().map(Bytes),
            mac_a: self.mac_a.clone().map(Bytes),
            payload: self.payload.clone().map(Bytes),
            aborted: self.aborted,
            reverse_sig: self.reverse_sig.clone().map(Bytes),
        })
    }
}

/// Tells the requester and everyone who may decide a request.
fn notify(tx: &Tx<'_>, r: &RequestRow, ev: &Event) -> ApiResult<()> {
    push_event(tx, r.device_id, ev)?;
    notify_approvers(tx, r, ev)
}

/// Tells the devices that may decide `r`: the user's key holders, and for `new_root` the
/// workspace admins' key holders.
fn notify_approvers(tx: &Tx<'_>, r: &RequestRow, ev: &Event) -> ApiResult<()> {
    push_event_to_user(tx, r.user_id, Some(r.device_id), true, ev)?;
    if r.purpose == ApprovalPurpose::NewRoot {
        let admins: Vec<String> = tx.query_all(
            "SELECT a.id FROM users a JOIN users u ON u.workspace_id = a.workspace_id
             WHERE u.id = ?1 AND a.role = 'admin' AND a.id != ?1 AND a.deprovisioned_at IS NULL",
            [r.user_id.to_string()],
            |row| row.get(0),
        )?;
        for a in admins {
            push_event_to_user(tx, parse_uuid(&a)?, None, true, ev)?;
        }
    }
    Ok(())
}

/// Expires open requests whose time passed (one request, or one user's) and tells both
/// sides. An approved request the device never acknowledged expires too.
pub(crate) fn expire(tx: &Tx<'_>, id: Option<Uuid>, user: Option<Uuid>) -> ApiResult<()> {
    let stale: Vec<RequestRow> = tx.query_all(
        &format!(
            "SELECT {REQ_COLS} FROM approval_requests WHERE status IN ('pending', 'approved')
         AND expires_at <= ?1 AND (?2 IS NULL OR id = ?2) AND (?3 IS NULL OR user_id = ?3)"
        ),
        params![
            now(),
            id.map(|i| i.to_string()),
            user.map(|u| u.to_string())
        ],
        RequestRow::from_row,
    )?;
    for r in stale {
        set_status(tx, &r, ApprovalStatus::Expired)?;
        release_pending_device(tx, &r)?;
    }
    Ok(())
}

/// A pending device whose enrollment request expired or was withdrawn gives its name and
/// its place under the device limit back at once (issue 13: leftovers held both for a
/// day). A trusted requester (asking for keys) is not touched.
fn release_pending_device(tx: &Tx<'_>, r: &RequestRow) -> ApiResult<()> {
    if matches!(
        r.purpose,
        ApprovalPurpose::Enroll | ApprovalPurpose::NewRoot
    ) {
        tx.execute(
            "UPDATE devices SET status = 'expired' WHERE id = ?1 AND status = 'pending'",
            [r.device_id.to_string()],
        )?;
    }
    Ok(())
}

/// Moves `r` to `status` (from an open status) and tells both sides.
fn set_status(tx: &Tx<'_>, r: &RequestRow, status: ApprovalStatus) -> ApiResult<()> {
    use crate::metrics::{ApprovalOutcome as O, METRICS};
    match status {
        ApprovalStatus::Approved => METRICS.approval(O::Approved),
        ApprovalStatus::Denied => METRICS.approval(O::Denied),
        ApprovalStatus::Cancelled => METRICS.approval(O::Cancelled),
        ApprovalStatus::Expired => METRICS.approval(O::Expired),
        ApprovalStatus::Completed => METRICS.approval(O::Completed),
        ApprovalStatus::Failed => METRICS.approval(O::Failed),
        ApprovalStatus::Pending => {}
    }
    let n = tx.execute(
        "UPDATE approval_requests SET status = ?2 WHERE id = ?1 AND status = ?3",
        params![r.id.to_string(), enum_str(&status), enum_str(&r.status)],
    )?;
    if n != 1 {
        return Err(already_decided());
    }
    notify(
        tx,
        r,
        &Event::ApprovalDecided {
            request_id: r.id,
            status,
        },
    )
}

fn already_decided() -> ApiError {
    ApiError::new(ErrorCode::AlreadyDecided, "the request was already decided")
}

/// A `new_root` request of a user who has a live key holder again (another request was
/// approved, a recovery): approving it would start a second chain over the user's.
fn new_root_moot() -> ApiError {
    ApiError::new(
        ErrorCode::AlreadyDecided,
        "this user has a key holder again: a new first key holder is no longer needed (ask that key holder to approve the device instead)",
    )
}

fn has_live_key_holder(tx: &Tx<'_>, user_id: Uuid) -> ApiResult<bool> {
    Ok(tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ?1 AND status = 'trusted' AND tier = 'key_holder')",
        [user_id.to_string()],
        |r| r.get(0),
    )?)
}

fn pending_view(tx: &Tx<'_>, r: &RequestRow, viewer_origin: &str) -> ApiResult<PendingApproval> {
    let device = DeviceRow::load(tx, r.device_id)?
        .ok_or_else(ApiError::internal)?
        .device;
    let user_email = UserRow::load(tx, r.user_id)?
        .map(|u| u.email)
        .unwrap_or_default();
    Ok(PendingApproval {
        id: r.id,
        user_id: r.user_id,
        user_email,
        purpose: r.purpose,
        device,
        created_at: ts(r.created_at),
        expires_at: ts(r.expires_at),
        origin: r.origin.clone(),
        other_network: r.origin != viewer_origin,
        status: r.status,
    })
}

/// Opens an approval request for device `id` and says what it is for: a pending device
/// (account token of the session that registered it) asks to `enroll`; an email-only
/// device (its own token) asks to `share_keys`; either asks for `new_root` when the user
/// has no key holder left. Extensions enroll by email code only.
#[utoipa::path(post, path = vouch_proto::routes::DEVICE_APPROVAL_REQUESTS, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "requesting device id"), OpenQuery),
    responses((status = 201, body = ApprovalOpened),
        (status = 200, body = ApprovalOpened, description = "a retry: this device's own request is still open"),
        (status = 403, body = ErrorBody, description = "forbidden: extensions enroll by email code; key holders need no keys"),
        (status = 409, body = ErrorBody, description = "approval_pending, device_not_pending, email_code_required (the user's first device: nobody can approve it)"),
        (status = 429, body = ErrorBody, description = "too_many_requests")))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
    QueryParams(query): QueryParams<OpenQuery>,
) -> ApiResult<(StatusCode, Json<ApprovalOpened>)> {
    let replace = query.replace.unwrap_or(false);
    let origin = origin.to_string();
    let ttl = state.settings.approval_ttl.as_secs() as i64;
    let rate = state.settings.approval_rate_limit;
    let opened = state
        .db
        .tx(move |tx| {
            let d = DeviceRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("device"))?;
            let user_id = d.device.user_id;
            let rooted = has_live_key_holder(tx, user_id)?;
            let purpose = match &caller {
                Caller::Account(a) => {
                    if user_id != a.user.id || d.registered_by != a.token_hash {
                        return Err(ApiError::not_found("device"));
                    }
                    if d.device.status != DeviceStatus::Pending {
                        return Err(ApiError::new(ErrorCode::DeviceNotPending, "this device is not waiting for verification"));
                    }
                    if d.device.kind == DeviceKind::Extension {
                        return Err(ApiError::forbidden("browser extensions enroll by email code, then ask for keys"));
                    }
                    if rooted {
                        ApprovalPurpose::Enroll
                    } else if email_gives_key_holder(tx, user_id, d.device.kind)? {
                        // Nobody can approve the user's first device: an email code makes
                        // it the first key holder. Said, so the client takes that path
                        // instead of waiting for an approval that cannot come (issue 13).
                        return Err(ApiError::new(
                            ErrorCode::EmailCodeRequired,
                            "no device can approve this one yet: verify it by email code",
                        ));
                    } else {
                        ApprovalPurpose::NewRoot
                    }
                }
                Caller::Device(c) => {
                    if c.device.device.id != id {
                        return Err(ApiError::forbidden("a device can only ask for keys for itself"));
                    }
                    if c.device.device.tier != Some(Tier::EmailOnly) {
                        return Err(ApiError::forbidden("this device already holds the keys"));
                    }
                    if rooted { ApprovalPurpose::ShareKeys } else { ApprovalPurpose::NewRoot }
                }
            };
            expire(tx, None, Some(user_id))?;
            let open: Option<RequestRow> = tx
                .query_opt(
                    &format!("SELECT {REQ_COLS} FROM approval_requests WHERE device_id = ?1 AND status IN ('pending', 'approved')"),
                    [id.to_string()],
                    RequestRow::from_row,
                )?;
            if let Some(r) = open {
                if replace && r.status == ApprovalStatus::Pending {
                    // "New code": the open request is withdrawn and a fresh one opened in
                    // one step; the pending device keeps its name and place.
                    set_status(tx, &r, ApprovalStatus::Cancelled)?;
                } else if r.purpose == purpose && r.status == ApprovalStatus::Pending {
                    // This device's own open request, asked again (the client crashed or
                    // lost the answer): the same request, no new prompt on the approvers.
                    return Ok((StatusCode::OK, ApprovalOpened { id: r.id, purpose, expires_at: ts(r.expires_at), device: d.device }));
                } else {
                    return Err(ApiError::new(
                        ErrorCode::ApprovalPending,
                        "this device already has an open request; cancel it first",
                    ));
                }
            }
            let t = now();
            let (recent, oldest): (u32, Option<i64>) = tx.query_one(
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
            // Each approver is told; the flag for another network is computed per viewer
            // when it lists, so the event carries the request as seen from its origin.
            let view = pending_view(tx, &row, &row.origin)?;
            notify_approvers(tx, &row, &Event::ApprovalRequested { request: view })?;
            crate::metrics::METRICS.approval(crate::metrics::ApprovalOutcome::Opened);
            Ok((StatusCode::CREATED, ApprovalOpened { id: rid, purpose, expires_at: ts(t + ttl), device: d.device }))
        })
        .await?;
    Ok((opened.0, Json(opened.1)))
}

/// Loads a request the caller asked for: the session that registered the pending device,
/// or the requesting device itself. Anyone else gets 404.
fn own_request(tx: &Tx<'_>, caller: &Caller, id: Uuid) -> ApiResult<RequestRow> {
    let r = RequestRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("approval request"))?;
    let d = DeviceRow::load(tx, r.device_id)?.ok_or_else(ApiError::internal)?;
    let allowed = match caller {
        Caller::Account(a) => a.user.id == r.user_id && a.token_hash == d.registered_by,
        Caller::Device(c) => c.device.device.id == r.device_id,
    };
    if allowed {
        Ok(r)
    } else {
        Err(ApiError::not_found("approval request"))
    }
}

fn current_run(tx: &Tx<'_>, r: &RequestRow) -> ApiResult<Option<RunRow>> {
    r.current_run
        .map(|run| RunRow::load(tx, r.id, run))
        .transpose()
}

/// The requester reads its request: status, and the current run (the approver's device and
/// key bundle, A's message, and once approved A's MAC and the payload).
#[utoipa::path(get, path = vouch_proto::routes::APPROVAL_REQUEST, tag = "approvals", security(("bearer" = [])),
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
            let r = own_request(tx, &caller, id)?;
            // The run (and its payload) only while the request is open.
            let run = if r.is_open() {
                current_run(tx, &r)?.map(|run| run.view(tx)).transpose()?
            } else {
                None
            };
            Ok(ApprovalState {
                id: r.id,
                status: r.status,
                purpose: r.purpose,
                expires_at: ts(r.expires_at),
                run,
                decided_by: r.decided_by,
            })
        })
        .await?;
    Ok(Json(out))
}

/// The requester withdraws its open request (gives up). A pending device's name and place
/// under the device limit are freed with it: setup starts again with a new registration.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_CANCEL, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")),
    responses((status = 200, body = Decision), (status = 409, body = ErrorBody, description = "already_decided")))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    crate::auth::Origin(origin): crate::auth::Origin,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<Json<Decision>> {
    let out = state
        .db
        .tx(move |tx| {
            let r = own_request(tx, &caller, id)?;
            // Only while pending: once approved, the request ends by the device's
            // acknowledgement (completed or failed) or its expiry — never vanishes.
            if r.status != ApprovalStatus::Pending {
                return Err(already_decided());
            }
            set_status(tx, &r, ApprovalStatus::Cancelled)?;
            let actor = crate::audit::Actor {
                device: match &caller {
                    Caller::Device(c) => Some(c.device.device.id),
                    Caller::Account(_) => None,
                },
                origin: Some(origin.to_string()),
                console: None,
            };
            crate::audit::record_device(
                tx,
                r.device_id,
                vouch_proto::AuditAction::RequestWithdrawn,
                &actor,
                None,
            )?;
            release_pending_device(tx, &r)?;
            Ok(Decision {
                id,
                status: ApprovalStatus::Cancelled,
            })
        })
        .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OpenQuery {
    /// `true`: withdraw this device's open request and open a fresh one (a new code).
    replace: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only `pending` is supported (it lists requests still waiting for the approver or
    /// for the new device's acknowledgement).
    status: Option<ListStatus>,
}

/// The one status that can be listed.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListStatus {
    /// Open requests.
    Pending,
}

/// What a key-holder web or mobile device shows: the user's open requests from other
/// devices, and for an admin the workspace's `new_root` requests; each with the requester's
/// tier (in `device`) and whether it came from another network than the caller.
#[utoipa::path(get, path = vouch_proto::routes::APPROVAL_REQUESTS, tag = "approvals", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = Vec<PendingApproval>),
        (status = 403, body = ErrorBody, description = "forbidden (extensions), key_holder_required")))]
pub async fn list_pending(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(viewer): Origin,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<Vec<PendingApproval>>> {
    caller.require_approver()?;
    let viewer = viewer.to_string();
    let _ = q.status; // `pending` is the only value the query can hold
    let out = state
        .db
        .tx(move |tx| {
            expire(tx, None, Some(caller.user.id))?;
            let rows: Vec<RequestRow> = tx.query_all(&format!(
                "SELECT {REQ_COLS} FROM approval_requests r WHERE status IN ('pending', 'approved') AND device_id != ?2
                 AND (user_id = ?1 OR (?3 = 1 AND purpose = 'new_root' AND user_id IN
                      (SELECT id FROM users WHERE workspace_id = ?4 AND id != ?1)))
                 AND (purpose != 'new_root' OR NOT EXISTS (SELECT 1 FROM devices k
                      WHERE k.user_id = r.user_id AND k.status = 'trusted' AND k.tier = 'key_holder'))
                 ORDER BY created_at"
            ), params![
                        caller.user.id.to_string(),
                        caller.device.device.id.to_string(),
                        caller.user.role == Role::Admin,
                        caller.user.workspace_id.to_string()
                    ],
                    RequestRow::from_row,)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                if r.expires_at > now() {
                    out.push(pending_view(tx, &r, &viewer)?);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(out))
}

/// Loads a request the caller may decide: the same user's request from another device,
/// or (admins) another user's `new_root` request in the workspace. Anyone else: 404.
fn decidable(tx: &Tx<'_>, caller: &KeyHolder, id: Uuid) -> ApiResult<RequestRow> {
    caller.require_approver()?;
    let r = RequestRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("approval request"))?;
    let allowed = if r.user_id == caller.user.id {
        r.device_id != caller.device.device.id
    } else {
        r.purpose == ApprovalPurpose::NewRoot
            && caller.user.role == Role::Admin
            && UserRow::load(tx, r.user_id)?
                .is_some_and(|u| u.workspace_id == caller.user.workspace_id)
    };
    if !allowed {
        return Err(ApiError::not_found("approval request"));
    }
    if r.purpose == ApprovalPurpose::NewRoot && has_live_key_holder(tx, r.user_id)? {
        return Err(new_root_moot());
    }
    match r.status {
        ApprovalStatus::Pending => Ok(r),
        ApprovalStatus::Expired => Err(ApiError::new(
            ErrorCode::RequestExpired,
            "the request expired",
        )),
        _ => Err(already_decided()),
    }
}

fn check_len(b: &[u8], max: usize, what: &str) -> ApiResult<()> {
    if b.is_empty() || b.len() > max {
        Err(ApiError::bad_request(format!(
            "{what} is empty or too long"
        )))
    } else {
        Ok(())
    }
}

/// An approver starts a run with the code (or QR secret) the person entered: it sends its
/// SPAKE2 message; the new device is told. A newer run replaces the current one.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_RUNS, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")), request_body = StartRun,
    responses((status = 201, body = RunStarted),
        (status = 403, body = ErrorBody, description = "forbidden (extensions), key_holder_required"),
        (status = 409, body = ErrorBody, description = "already_decided"),
        (status = 429, body = ErrorBody, description = "too_many_requests: three runs were tried")))]
pub async fn start_run(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<StartRun>,
) -> ApiResult<(StatusCode, Json<RunStarted>)> {
    check_len(&req.msg_a.0, MAX_PAKE_MESSAGE, "msg_a")?;
    let out = state
        .db
        .tx(move |tx| {
            let r = decidable(tx, &caller, id)?;
            let runs: u32 = tx.query_one(
                "SELECT count(*) FROM approval_runs WHERE request_id = ?1",
                [id.to_string()],
                |row| row.get(0),
            )?;
            if runs >= RUNS_PER_REQUEST {
                return Err(ApiError::too_many(
                    APPROVAL_WINDOW_SECS,
                    "this request's code was tried three times; the new device shows a new one",
                ));
            }
            let run = Uuid::new_v4();
            tx.execute(
                "INSERT INTO approval_runs (id, request_id, approver_id, secret, msg_a, aborted, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    run.to_string(),
                    id.to_string(),
                    caller.device.device.id.to_string(),
                    enum_str(&req.secret),
                    req.msg_a.0,
                    now()
                ],
            )?;
            tx.execute(
                "UPDATE approval_requests SET current_run = ?2 WHERE id = ?1",
                params![id.to_string(), run.to_string()],
            )?;
            push_event(
                tx,
                r.device_id,
                &Event::ApprovalRun {
                    request_id: id,
                    run_id: run,
                },
            )?;
            Ok(RunStarted { run_id: run })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// The run's approver reads it (the new device's answer once it is there).
#[utoipa::path(get, path = vouch_proto::routes::APPROVAL_RUN, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id"), ("run" = Uuid, Path, description = "run id")),
    responses((status = 200, body = ApprovalRun), (status = 404, body = ErrorBody)))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams((id, run)): PathParams<(Uuid, Uuid)>,
) -> ApiResult<Json<ApprovalRun>> {
    let out = state
        .db
        .tx(move |tx| {
            let row = RunRow::load(tx, id, run)?;
            if row.approver_id != caller.device.device.id {
                return Err(ApiError::not_found("run"));
            }
            row.view(tx)
        })
        .await?;
    Ok(Json(out))
}

/// The new device answers the current run: its SPAKE2 message and its MAC.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_RUN_RESPONSE, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id"), ("run" = Uuid, Path, description = "run id")),
    request_body = RunResponse,
    responses((status = 200, body = Decision), (status = 409, body = ErrorBody, description = "already_decided: not the current run, or answered")))]
pub async fn respond(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((id, run)): PathParams<(Uuid, Uuid)>,
    JsonBody(req): JsonBody<RunResponse>,
) -> ApiResult<Json<Decision>> {
    check_len(&req.msg_b.0, MAX_PAKE_MESSAGE, "msg_b")?;
    if req.mac_b.0.len() != MAC_LEN {
        return Err(ApiError::bad_request("mac_b must be 32 bytes"));
    }
    if req.reverse_sig.as_ref().is_some_and(|s| s.0.len() != 64) {
        return Err(ApiError::bad_request("reverse_sig must be 64 bytes"));
    }
    let out =
        state
            .db
            .tx(move |tx| {
                let r = own_request(tx, &caller, id)?;
                let row = RunRow::load(tx, id, run)?;
                if r.status != ApprovalStatus::Pending
                    || r.current_run != Some(run)
                    || row.aborted
                    || row.msg_b.is_some()
                {
                    return Err(already_decided());
                }
                tx.execute(
                "UPDATE approval_runs SET msg_b = ?2, mac_b = ?3, reverse_sig = ?4 WHERE id = ?1",
                params![run.to_string(), req.msg_b.0, req.mac_b.0, req.reverse_sig.map(|s| s.0)],
            )?;
                push_event(
                    tx,
                    row.approver_id,
                    &Event::ApprovalRun {
                        request_id: id,
                        run_id: run,
                    },
                )?;
                Ok(Decision {
                    id,
                    status: r.status,
                })
            })
            .await?;
    Ok(Json(out))
}

/// Either side ends a run that failed (a wrong code, a MAC that did not verify); the
/// request stays open for another run.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_RUN_ABORT, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id"), ("run" = Uuid, Path, description = "run id")),
    responses((status = 200, body = Decision), (status = 404, body = ErrorBody)))]
pub async fn abort(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((id, run)): PathParams<(Uuid, Uuid)>,
) -> ApiResult<Json<Decision>> {
    let out = state
        .db
        .tx(move |tx| {
            let row_req =
                RequestRow::load(tx, id)?.ok_or_else(|| ApiError::not_found("approval request"))?;
            let row = RunRow::load(tx, id, run)?;
            let is_approver =
                matches!(&caller, Caller::Device(c) if c.device.device.id == row.approver_id);
            let r = if is_approver {
                row_req
            } else {
                own_request(tx, &caller, id)?
            };
            tx.execute(
                "UPDATE approval_runs SET aborted = 1 WHERE id = ?1",
                [run.to_string()],
            )?;
            let other = if is_approver {
                r.device_id
            } else {
                row.approver_id
            };
            push_event(
                tx,
                other,
                &Event::ApprovalRun {
                    request_id: id,
                    run_id: run,
                },
            )?;
            // An approved request whose payload the device refused is failed, not pending.
            if r.status == ApprovalStatus::Approved && r.current_run == Some(run) {
                set_status(tx, &r, ApprovalStatus::Failed)?;
                return Ok(Decision {
                    id,
                    status: ApprovalStatus::Failed,
                });
            }
            Ok(Decision {
                id,
                status: r.status,
            })
        })
        .await?;
    Ok(Json(out))
}

/// The run's approver confirms it: its MAC and the encrypted payload. The request is
/// `approved` — waiting for the device to acknowledge; nobody is trusted yet.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_APPROVE, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")), request_body = ApproveRequest,
    responses((status = 200, body = Decision),
        (status = 409, body = ErrorBody, description = "already_decided (or not this approver's answered run), chain_conflict (the vouch is not the chain's next link)"),
        (status = 410, body = ErrorBody, description = "request_expired"),
        (status = 403, body = ErrorBody, description = "forbidden (extensions), key_holder_required")))]
pub async fn approve(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<ApproveRequest>,
) -> ApiResult<Json<Decision>> {
    if req.mac_a.0.len() != MAC_LEN {
        return Err(ApiError::bad_request("mac_a must be 32 bytes"));
    }
    check_len(&req.payload.0, MAX_PAYLOAD, "payload")?;
    let out = state
        .db
        .tx(move |tx| {
            let r = decidable(tx, &caller, id)?;
            let run = RunRow::load(tx, id, req.run_id)?;
            if r.current_run != Some(run.id)
                || run.approver_id != caller.device.device.id
                || run.msg_b.is_none()
                || run.aborted
            {
                return Err(already_decided());
            }
            tx.execute(
                "UPDATE approval_runs SET mac_a = ?2, payload = ?3 WHERE id = ?1",
                params![run.id.to_string(), req.mac_a.0, req.payload.0],
            )?;
            // The vouch lands with the approval or neither does.
            if let Some(link) = &req.link {
                crate::routes::chain::append(tx, r.user_id, &link.0)?;
            }
            tx.execute(
                "UPDATE approval_requests SET decided_by = ?2, decided_at = ?3 WHERE id = ?1",
                params![id.to_string(), caller.device.device.id.to_string(), now()],
            )?;
            set_status(tx, &r, ApprovalStatus::Approved)?;
            Ok(Decision {
                id,
                status: ApprovalStatus::Approved,
            })
        })
        .await?;
    Ok(Json(out))
}

/// The new device acknowledges the payload of the current run: `opened` → `completed`,
/// and only now is it trusted and its tier set (a device token for a pending device; a
/// repeat of the ack issues a fresh one and revokes the last); otherwise `failed`.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_ACK, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")), request_body = AckRequest,
    responses((status = 200, body = AckResult), (status = 409, body = ErrorBody, description = "already_decided")))]
pub async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<AckRequest>,
) -> ApiResult<Json<AckResult>> {
    let out = state
        .db
        .tx(move |tx| {
            let r = own_request(tx, &caller, id)?;
            if r.current_run != Some(req.run_id) {
                return Err(already_decided());
            }
            let device = DeviceRow::load(tx, r.device_id)?
                .ok_or_else(ApiError::internal)?
                .device;
            let approver = r.decided_by.ok_or_else(already_decided)?;
            // The acknowledging caller is the requesting device as it was when it asked: a
            // pending device's registering session for enroll/new_root, the email-only
            // device itself for share_keys. A device trusted some other way meanwhile (an
            // email code) is not promoted by an approval of its old request.
            let consistent = match (&caller, r.purpose, device.status) {
                (
                    Caller::Account(_),
                    ApprovalPurpose::Enroll | ApprovalPurpose::NewRoot,
                    DeviceStatus::Pending,
                ) => true,
                (Caller::Account(_), _, DeviceStatus::Trusted) => {
                    r.status == ApprovalStatus::Completed
                }
                (
                    Caller::Device(_),
                    ApprovalPurpose::ShareKeys | ApprovalPurpose::NewRoot,
                    DeviceStatus::Trusted,
                ) => true,
                _ => false,
            };
            if !consistent {
                return Err(already_decided());
            }
            let tier = |tx: &Tx<'_>| -> ApiResult<Tier> {
                DeviceRow::load(tx, r.device_id)?
                    .and_then(|d| d.device.tier)
                    .ok_or_else(ApiError::internal)
            };
            match (r.status, req.opened) {
                (ApprovalStatus::Approved, false) => {
                    set_status(tx, &r, ApprovalStatus::Failed)?;
                    return Ok(AckResult {
                        status: ApprovalStatus::Failed,
                        device_token: None,
                        tier: device.tier.unwrap_or(Tier::EmailOnly),
                    });
                }
                (ApprovalStatus::Approved, true) => {}
                // A retry of a lost answer: the same outcome, a fresh token for a pending
                // device's session.
                (ApprovalStatus::Completed, true) => {
                    let token = match caller {
                        Caller::Account(_) if device.status == DeviceStatus::Trusted => {
                            Some(rotate_device_token(tx, r.device_id)?)
                        }
                        _ => None,
                    };
                    return Ok(AckResult {
                        status: ApprovalStatus::Completed,
                        device_token: token,
                        tier: tier(tx)?,
                    });
                }
                _ => return Err(already_decided()),
            }
            if r.purpose == ApprovalPurpose::NewRoot && has_live_key_holder(tx, r.user_id)? {
                // Approved while the user had none, but one came since: this device does
                // not start a second chain over it; it can ask that key holder.
                set_status(tx, &r, ApprovalStatus::Failed)?;
                return Ok(AckResult {
                    status: ApprovalStatus::Failed,
                    device_token: None,
                    tier: device.tier.unwrap_or(Tier::EmailOnly),
                });
            }
            let token = match device.status {
                DeviceStatus::Pending => Some(trust_device(
                    tx,
                    r.device_id,
                    VerifiedBy::Approval,
                    Tier::KeyHolder,
                    Some(approver),
                )?),
                DeviceStatus::Trusted => {
                    make_key_holder(tx, r.device_id, approver)?;
                    None
                }
                _ => {
                    return Err(ApiError::new(
                        ErrorCode::DeviceNotPending,
                        "the device is no longer waiting",
                    ));
                }
            };
            set_status(tx, &r, ApprovalStatus::Completed)?;
            // A new first key holder (the user had none left) starts a new vouch chain:
            // the old one names only devices that are gone. A device that kept the old
            // chain sees the new one as a fork and refuses it (docs/SECURITY.md).
            if r.purpose == ApprovalPurpose::NewRoot {
                tx.execute(
                    "DELETE FROM chain_links WHERE user_id = ?1",
                    [r.user_id.to_string()],
                )?;
            }
            let device = DeviceRow::load(tx, r.device_id)?
                .ok_or_else(ApiError::internal)?
                .device;
            // Rule 3: every other device of the user is told a device was added (or now
            // holds the keys).
            push_event_to_user(
                tx,
                r.user_id,
                Some(r.device_id),
                false,
                &Event::DeviceAdded { device },
            )?;
            Ok(AckResult {
                status: ApprovalStatus::Completed,
                device_token: token,
                tier: Tier::KeyHolder,
            })
        })
        .await?;
    Ok(Json(out))
}

/// Denies: a pending device becomes `denied`. Always allowed while pending.
#[utoipa::path(post, path = vouch_proto::routes::APPROVAL_DENY, tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "request id")),
    responses((status = 200, body = Decision), (status = 409, body = ErrorBody, description = "already_decided")))]
pub async fn deny(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<Json<Decision>> {
    let out = state
        .db
        .tx(move |tx| {
            let r = decidable(tx, &caller, id)?;
            tx.execute(
                "UPDATE approval_requests SET decided_by = ?2, decided_at = ?3 WHERE id = ?1",
                params![id.to_string(), caller.device.device.id.to_string(), now()],
            )?;
            set_status(tx, &r, ApprovalStatus::Denied)?;
            let d = DeviceRow::load(tx, r.device_id)?.ok_or_else(ApiError::internal)?;
            if d.device.status == DeviceStatus::Pending {
                set_device_status(tx, r.device_id, DeviceStatus::Denied)?;
            }
            Ok(Decision {
                id,
                status: ApprovalStatus::Denied,
            })
        })
        .await?;
    Ok(Json(out))
}
