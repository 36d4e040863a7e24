//! `PATCH /v1/devices/{id}`: renaming a device, with the naming rules and uniqueness of
//! registration (rule 2).

use crate::store::params;
use axum::{Json, extract::State};
use uuid::Uuid;
use vouch_proto::{
    AuditAction, Device, DeviceKind, DeviceStatus, ErrorBody, ErrorCode, NameError, RenameDevice,
    Tier,
};

use crate::{
    AppState,
    audit::Actor,
    auth::{DeviceCaller, Origin},
    error::{ApiError, ApiResult},
    extract::{JsonBody, PathParams},
    model::DeviceRow,
};

/// Renames a device. A device may rename itself (any tier: it is its own state); a
/// key-holder `web` device renames its user's other devices (rule 8: management is for
/// key-holder web devices). Only trusted devices are renamed (a pending device's name is
/// bound in its approval); the new name must be free among the user's pending and trusted
/// devices, compared as at registration.
#[utoipa::path(patch, path = vouch_proto::routes::DEVICE, tag = "devices", request_body = RenameDevice,
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "device id")),
    responses((status = 200, body = Device),
        (status = 400, body = ErrorBody, description = "invalid_device_name"),
        (status = 403, body = ErrorBody, description = "forbidden, key_holder_required"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "device_name_taken, approval_pending")))]
pub async fn rename(
    State(state): State<AppState>,
    caller: DeviceCaller,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
    JsonBody(req): JsonBody<RenameDevice>,
) -> ApiResult<Json<Device>> {
    let name = vouch_proto::canonical_device_name(&req.name)
        .map_err(|e: NameError| ApiError::new(ErrorCode::InvalidDeviceName, e.to_string()))?;
    let actor = Actor::of(&caller, origin);
    let device = state
        .db
        .tx(move |tx| {
            let target = DeviceRow::load(tx, id)?
                .map(|d| d.device)
                .filter(|d| d.user_id == caller.user.id)
                .ok_or_else(|| ApiError::not_found("device"))?;
            let caller_device = &caller.device.device;
            if target.id != caller_device.id {
                if caller_device.tier != Some(Tier::KeyHolder) {
                    return Err(ApiError::new(
                        ErrorCode::KeyHolderRequired,
                        "this device was verified by email only: it can rename itself, not other devices",
                    ));
                }
                if caller_device.kind != DeviceKind::Web {
                    return Err(ApiError::forbidden(
                        "only a web device of this user can rename other devices; a device can rename itself",
                    ));
                }
            }
            // A pending device's name is part of the descriptor its approval binds (Trust
            // v2): it names itself when it registers (again), never by this route.
            if target.status != DeviceStatus::Trusted {
                return Err(ApiError::forbidden("only trusted devices can be renamed"));
            }
            // The same for a trusted device asking for the vault keys (`share_keys`).
            let open_request: bool = tx.query_one(
                "SELECT EXISTS(SELECT 1 FROM approval_requests WHERE device_id = ?1 AND status IN ('pending', 'approved'))",
                [id.to_string()],
                |r| r.get(0),
            )?;
            if open_request {
                return Err(ApiError::new(
                    ErrorCode::ApprovalPending,
                    "this device's approval request is open (its name is bound in it): rename it once it is decided or cancelled",
                ));
            }
            let [key, key2] = vouch_proto::name_keys(&name);
            let taken: bool = tx.query_one(
                "SELECT EXISTS(SELECT 1 FROM devices WHERE user_id = ?1 AND (name_key IN (?2, ?4) OR name_key2 IN (?2, ?4)) AND id != ?3 AND status IN ('pending', 'trusted'))",
                params![target.user_id.to_string(), key, id.to_string(), key2],
                |r| r.get(0),
            )?;
            if taken {
                return Err(ApiError::new(
                    ErrorCode::DeviceNameTaken,
                    "another of your devices already has this name",
                ));
            }
            if target.name != name {
                tx.execute(
                    "UPDATE devices SET name = ?2, name_key = ?3, name_key2 = ?4 WHERE id = ?1",
                    params![id.to_string(), name, key, key2],
                )?;
                let detail = format!("was \"{}\"", target.name);
                crate::audit::record(
                    tx,
                    target.user_id,
                    Some(id),
                    AuditAction::Renamed,
                    &actor,
                    Some(&detail),
                )?;
            }
            Ok(DeviceRow::load(tx, id)?
                .ok_or_else(ApiError::internal)?
                .device)
        })
        .await?;
    Ok(Json(device))
}

/// Signs a device out: a trusted device disables *itself* (any tier — it only gives up
/// its own access), so its name and slot are freed and the user's other devices are told.
/// The device wipes its own data. Another device's id is not found.
#[utoipa::path(post, path = vouch_proto::routes::DEVICE_SIGN_OUT, tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the calling device's own id")),
    responses((status = 200, body = vouch_proto::Disabled), (status = 404, body = ErrorBody)))]
pub async fn sign_out(
    State(state): State<AppState>,
    caller: DeviceCaller,
    Origin(origin): Origin,
    PathParams(id): PathParams<Uuid>,
) -> ApiResult<Json<vouch_proto::Disabled>> {
    if id != caller.device.device.id {
        return Err(ApiError::not_found("device"));
    }
    let actor = Actor::device(id, origin);
    let device = caller.device.device.clone();
    let out = state
        .db
        .tx(move |tx| crate::routes::devices::disable_devices(tx, &[device], &actor))
        .await?;
    Ok(Json(out))
}
