//! `POST /v1/devices`, `GET /v1/devices`, `POST /v1/devices/{id}/disable`.

use crate::store::{Tx, params};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{
    Device, DeviceStatus, Disabled, ErrorBody, ErrorCode, Event, NameError, RegisterDeviceRequest,
};

use crate::{
    AppState,
    auth::{Account, DeviceCaller, KeyHolder, Origin},
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams, QueryParams},
    model::{
        DEVICE_COLS, DeviceRow, enum_str, now, push_event, push_event_to_user, set_device_status,
    },
};

/// Pending devices that were never verified expire after this long (rule: pending → expired).
pub const PENDING_DEVICE_TTL_SECS: i64 = 24 * 3600;

/// Marks the user's stale pending devices expired so they stop counting and free their
/// names: those never verified for a day, and at once those whose enrollment request
/// expired.
pub(crate) fn expire_stale_pending(tx: &Tx<'_>, user_id: Uuid) -> ApiResult<()> {
    super::approvals::expire(tx, None, Some(user_id))?;
    tx.execute(
        "UPDATE devices SET status = 'expired' WHERE user_id = ?1 AND status = 'pending' AND created_at <= ?2",
        params![user_id.to_string(), now() - PENDING_DEVICE_TTL_SECS],
    )?;
    Ok(())
}

/// Longest platform text kept (approvers are shown it).
const PLATFORM_MAX_CHARS: usize = 128;

/// Registers this install as a pending device of the signed-in user.
#[utoipa::path(post, path = vouch_proto::routes::DEVICES, tag = "devices", request_body = RegisterDeviceRequest,
    security(("bearer" = [])),
    responses((status = 201, body = Device),
        (status = 200, body = Device, description = "a retry: this session already registered this pending key"),
        (status = 400, body = ErrorBody, description = "invalid_device_name, invalid_public_key"),
        (status = 409, body = ErrorBody, description = "device_name_taken, device_limit_reached")))]
pub async fn register(
    State(state): State<AppState>,
    account: Account,
    Origin(origin): Origin,
    JsonBody(req): JsonBody<RegisterDeviceRequest>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    let origin = origin.to_string();
    // One spelling per name (NFKC, no invisible characters); look-alikes share a key.
    let name = vouch_proto::canonical_device_name(&req.name)
        .map_err(|e: NameError| ApiError::new(ErrorCode::InvalidDeviceName, e.to_string()))?;
    // The one key check the client uses too (canonical, contributory X25519).
    let bundle = vouch_proto::KeyBundle::decode(&req.key_bundle.0)
        .map_err(|e| ApiError::new(ErrorCode::InvalidPublicKey, e.to_string()))?;
    let public_key = bundle.x25519.to_vec();
    let signing_key = bundle.ed25519.map(|k| k.to_vec());
    // Approvers are shown the platform beside the name: the same filter as names.
    let platform = vouch_proto::display_text(&req.platform, PLATFORM_MAX_CHARS);
    let limit = state.settings.device_limit;
    let user_id = account.user.id;
    let (status, device) = state
        .db
        .tx(move |tx| {
            expire_stale_pending(tx, user_id)?;
            let [key, key2] = vouch_proto::name_keys(&name);
            // A retry of this session's registration (the client crashed or lost the
            // answer after the insert): the same pending key gets the same device back,
            // renamed if asked, instead of an orphan that holds the name for a day.
            let retried: Option<String> = tx
                .query_opt(
                    "SELECT id FROM devices WHERE user_id = ?1 AND public_key = ?2 AND status = 'pending' AND registered_by = ?3",
                    params![user_id.to_string(), public_key, account.token_hash],
                    |r| r.get(0),
                )?;
            if let Some(id) = retried {
                let taken: bool = tx.query_one(
                    "SELECT EXISTS(SELECT 1 FROM devices WHERE user_id = ?1 AND (name_key IN (?2, ?4) OR name_key2 IN (?2, ?4)) AND id != ?3 AND status IN ('pending', 'trusted'))",
                    params![user_id.to_string(), key, id, key2],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(ApiError::new(ErrorCode::DeviceNameTaken, "another of your devices already has this name"));
                }
                tx.execute("UPDATE devices SET name = ?2, name_key = ?3, name_key2 = ?4 WHERE id = ?1", params![id, name, key, key2])?;
                let id = crate::model::parse_uuid(&id)?;
                return Ok((StatusCode::OK, DeviceRow::load(tx, id)?.ok_or_else(ApiError::internal)?.device));
            }
            let live: u32 = tx.query_one(
                "SELECT count(*) FROM devices WHERE user_id = ?1 AND status IN ('pending', 'trusted')",
                [user_id.to_string()],
                |r| r.get(0),
            )?;
            if live >= limit {
                return Err(ApiError::new(
                    ErrorCode::DeviceLimitReached,
                    format!("you already have {limit} devices (pending or trusted); disable one from a trusted device first: My trusted devices in the apps, `vouch devices disable` in the CLI"),
                ));
            }
            let taken: bool = tx.query_one(
                "SELECT EXISTS(SELECT 1 FROM devices WHERE user_id = ?1 AND (name_key IN (?2, ?3) OR name_key2 IN (?2, ?3)) AND status IN ('pending', 'trusted'))",
                params![user_id.to_string(), key, key2],
                |r| r.get(0),
            )?;
            if taken {
                return Err(ApiError::new(ErrorCode::DeviceNameTaken, "another of your devices already has this name"));
            }
            let id = Uuid::new_v4();
            tx.execute(
                "INSERT INTO devices (id, user_id, name, name_key, name_key2, kind, platform, status, public_key, origin, created_at, registered_by, signing_key)
                 VALUES (?1, ?2, ?3, ?4, ?11, ?5, ?6, 'pending', ?7, ?8, ?9, ?10, ?12)",
                params![
                    id.to_string(),
                    user_id.to_string(),
                    name,
                    key,
                    enum_str(&req.kind),
                    platform,
                    public_key,
                    origin,
                    now(),
                    account.token_hash,
                    key2,
                    signing_key
                ],
            )?;
            let actor = crate::audit::Actor::at(origin);
            crate::audit::record(tx, user_id, Some(id), vouch_proto::AuditAction::Registered, &actor, None)?;
            Ok((StatusCode::CREATED, DeviceRow::load(tx, id)?.ok_or_else(ApiError::internal)?.device))
        })
        .await?;
    Ok((status, Json(device)))
}

/// The calling user's devices (every status), oldest first.
#[utoipa::path(get, path = vouch_proto::routes::DEVICES, tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = Vec<Device>), (status = 403, body = ErrorBody, description = "device_disabled")))]
pub async fn list(
    State(state): State<AppState>,
    caller: DeviceCaller,
) -> ApiResult<Json<Vec<Device>>> {
    let user_id = caller.user.id;
    let devices = state
        .db
        .tx(move |tx| DeviceRow::for_user(tx, user_id))
        .await?;
    Ok(Json(devices.into_iter().map(|d| d.device).collect()))
}

/// `?also_approved=true` on a disable (rule 6).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DisableQuery {
    /// Also disable the devices this one approved in the last 30 days.
    #[serde(default)]
    also_approved: bool,
}

/// How far back "the devices it approved" reaches when a device is disabled (rule 6).
const APPROVED_RECENTLY_SECS: i64 = 30 * 24 * 3600;

/// Disables (revokes) a device. Allowed to a key-holder `web` device of the same user, or
/// to an admin's key holder; with `?also_approved=true` also the devices it approved in
/// the last 30 days (a stolen phone's approvals go with it).
#[utoipa::path(post, path = vouch_proto::routes::DEVICE_DISABLE, tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "device id"), DisableQuery),
    responses((status = 200, body = Disabled),
        (status = 403, body = ErrorBody, description = "forbidden, key_holder_required"),
        (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
    QueryParams(q): QueryParams<DisableQuery>,
) -> ApiResult<Json<Disabled>> {
    let actor = crate::audit::Actor::of(&caller, origin);
    let out = state
        .db
        .tx(move |tx| {
            let target = DeviceRow::load(tx, id)?
                .ok_or_else(|| ApiError::not_found("device"))?
                .device;
            let same_workspace = crate::model::UserRow::load(tx, target.user_id)?
                .is_some_and(|u| u.workspace_id == caller.user.workspace_id);
            let allowed = if caller.is_admin() {
                same_workspace
            } else {
                target.user_id == caller.user.id
                    && caller.device.device.kind == vouch_proto::DeviceKind::Web
            };
            if !allowed {
                // Another user's device (another workspace's, for an admin) does not exist
                // for the caller: 404, as for an unknown id, so ids cannot be probed.
                if target.user_id != caller.user.id && !(caller.is_admin() && same_workspace) {
                    return Err(ApiError::not_found("device"));
                }
                return Err(ApiError::forbidden(
                    "only a web device of this user or an admin can disable devices",
                ));
            }
            let mut targets = vec![target];
            if q.also_approved {
                let approved = tx.query_all(&format!(
                    "SELECT {DEVICE_COLS} FROM devices WHERE approved_by = ?1 AND status = 'trusted' AND verified_at > ?2"
                ), params![id.to_string(), now() - APPROVED_RECENTLY_SECS], DeviceRow::from_row)?;
                targets.extend(approved.into_iter().map(|d| d.device));
            }
            disable_devices(tx, &targets, &actor)
        })
        .await?;
    Ok(Json(out))
}

/// Disables the given devices (skipping ones already disabled), revokes their tokens and
/// tells each of them and the owner's other devices.
pub(crate) fn disable_devices(
    tx: &Tx<'_>,
    devices: &[Device],
    actor: &crate::audit::Actor,
) -> ApiResult<Disabled> {
    let mut disabled = Vec::new();
    for d in devices {
        if d.status == DeviceStatus::Disabled {
            continue;
        }
        set_device_status(tx, d.id, DeviceStatus::Disabled)?;
        // Open requests of the device die with it.
        tx.execute(
            "UPDATE approval_requests SET status = 'expired' WHERE device_id = ?1 AND status IN ('pending', 'approved')",
            [d.id.to_string()],
        )?;
        // The sign-in session that registered it goes too: the password alone must not
        // keep a foothold of a device someone disabled.
        tx.execute(
            "DELETE FROM account_tokens WHERE hash = (SELECT registered_by FROM devices WHERE id = ?1)",
            [d.id.to_string()],
        )?;
        let event = Event::DeviceDisabled { device_id: d.id };
        push_event(tx, d.id, &event)?;
        push_event_to_user(tx, d.user_id, Some(d.id), false, &event)?;
        crate::audit::record(
            tx,
            d.user_id,
            Some(d.id),
            vouch_proto::AuditAction::Disabled,
            actor,
            None,
        )?;
        disabled.push(d.id);
    }
    Ok(Disabled { disabled })
}
