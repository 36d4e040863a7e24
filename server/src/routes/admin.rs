//! Admin routes (rules 7 and 8): every device of the workspace; deprovisioning a user.

use crate::store::{Tx, params};
use axum::{Json, extract::State};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{AdminUser, AuditAction, Device, DeviceStatus, Disabled, ErrorBody, Tier};

use crate::{
    AppState,
    audit::Actor,
    auth::{DeviceCaller, KeyHolder, Origin},
    error::{ApiError, ApiResult},
    extract::{PathParams, QueryParams},
    model::{DEVICE_COLS, DeviceRow, UserRow, now, parse_enum, parse_uuid, ts},
    routes::devices::disable_devices,
};

pub(crate) fn require_admin(caller: &DeviceCaller) -> ApiResult<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("admins only"))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminDevicesQuery {
    /// Only this user's devices.
    user_id: Option<Uuid>,
}

/// Every device in the admin's workspace, optionally for one user.
#[utoipa::path(get, path = vouch_proto::routes::ADMIN_DEVICES, tag = "admin", security(("bearer" = [])), params(AdminDevicesQuery),
    responses((status = 200, body = Vec<Device>), (status = 403, body = ErrorBody)))]
pub async fn devices(
    State(state): State<AppState>,
    caller: KeyHolder,
    QueryParams(q): QueryParams<AdminDevicesQuery>,
) -> ApiResult<Json<Vec<Device>>> {
    require_admin(&caller)?;
    let ws = caller.user.workspace_id.to_string();
    let out = state
        .db
        .tx(move |tx| {
            let cols = DEVICE_COLS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
            let rows = tx.query_all(&format!(
                "SELECT {cols} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE u.workspace_id = ?1 AND (?2 IS NULL OR d.user_id = ?2) ORDER BY u.email, d.created_at"
            ), params![ws, q.user_id.map(|u| u.to_string())], DeviceRow::from_row)?
                .into_iter()
                .map(|d| d.device)
                .collect();
            Ok(rows)
        })
        .await?;
    Ok(Json(out))
}

/// Deprovisions a user: in one transaction every device is disabled, every sign-in
/// revoked, and the account refuses new sign-ins.
#[utoipa::path(post, path = vouch_proto::routes::ADMIN_USER_DEPROVISION, tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = Disabled), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deprovision(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
    PathParams(user_id): PathParams<Uuid>,
) -> ApiResult<Json<Disabled>> {
    require_admin(&caller)?;
    // An admin deprovisioning themselves would leave the workspace without the admin who
    // can undo it (the outside review did exactly that): another admin does it.
    if user_id == caller.user.id {
        return Err(ApiError::forbidden(
            "you cannot deprovision yourself; another admin can",
        ));
    }
    let actor = Actor::of(&caller, origin);
    let out = state
        .db
        .tx(move |tx| {
            let user = UserRow::load(tx, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
            if user.workspace_id != caller.user.workspace_id {
                return Err(ApiError::not_found("user"));
            }
            let devices: Vec<Device> = DeviceRow::for_user(tx, user_id)?
                .into_iter()
                .map(|d| d.device)
                .collect();
            let out = disable_devices(tx, &devices, &actor)?;
            tx.execute(
                "DELETE FROM account_tokens WHERE user_id = ?1",
                [user_id.to_string()],
            )?;
            // Console sign-ins still waiting go too (approved ones end with their
            // approving device): none is approved after a later reactivation.
            super::console::session::end_all_pending(tx, user_id, &actor)?;
            tx.execute(
                "UPDATE users SET deprovisioned_at = coalesce(deprovisioned_at, ?2) WHERE id = ?1",
                params![user_id.to_string(), now()],
            )?;
            if !user.deprovisioned {
                // Issue 15: with every key holder gone there is nothing left to rotate the
                // vault keys to; they stay only on those devices, which lock (an admin is
                // not on the user's vouch chain). Recorded, not silently skipped.
                let key_holders = devices
                    .iter()
                    .filter(|d| {
                        d.status == DeviceStatus::Trusted && d.tier == Some(Tier::KeyHolder)
                    })
                    .count();
                let detail = format!(
                    "{} device(s) disabled; no key holder left, so no vault key was rotated: the keys stay only on the {key_holders} locked key holder(s)",
                    out.disabled.len()
                );
                crate::audit::record(
                    tx,
                    user_id,
                    None,
                    AuditAction::Deprovisioned,
                    &actor,
                    Some(&detail),
                )?;
            }
            Ok(out)
        })
        .await?;
    Ok(Json(out))
}

/// Unlocks a user's sign-in and email-code verification: clears the 100-failure code lock
/// and the wrong-password throttle (for example after the user proved who they are to
/// the admin). Devices, tokens and codes are untouched.
#[utoipa::path(post, path = vouch_proto::routes::ADMIN_USER_UNLOCK, tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 204, description = "unlocked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(user_id): PathParams<Uuid>,
) -> ApiResult<axum::http::StatusCode> {
    require_admin(&caller)?;
    state
        .db
        .tx(move |tx| {
            let user = UserRow::load(tx, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
            if user.workspace_id != caller.user.workspace_id {
                return Err(ApiError::not_found("user"));
            }
            tx.execute(
                "UPDATE users SET code_failures = 0 WHERE id = ?1",
                [user_id.to_string()],
            )?;
            tx.execute(
                "DELETE FROM login_failures WHERE email = ?1",
                [user.email.to_lowercase()],
            )?;
            Ok(())
        })
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdminUsersQuery {
    /// Only the user with this email (compared without case).
    #[param(max_length = 254)]
    email: Option<String>,
}

/// The workspace's users (or one, by `id` or `email`) with their device counts.
fn admin_users(
    tx: &Tx<'_>,
    workspace: Uuid,
    id: Option<Uuid>,
    email: Option<&str>,
) -> ApiResult<Vec<AdminUser>> {
    let rows = tx.query_all("SELECT u.id, u.email, u.role, u.deprovisioned_at,
            (SELECT count(*) FROM devices d WHERE d.user_id = u.id AND d.status IN ('pending', 'trusted')),
            (SELECT count(*) FROM devices d WHERE d.user_id = u.id AND d.status = 'trusted')
         FROM users u WHERE u.workspace_id = ?1 AND (?2 IS NULL OR u.id = ?2) AND (?3 IS NULL OR u.email = ?3)
         ORDER BY u.email", params![
                workspace.to_string(),
                id.map(|i| i.to_string()),
                email.map(str::trim)
            ],
            |r| {
                Ok(AdminUser {
                    id: parse_uuid(&r.get::<String>(0)?)?,
                    email: r.get(1)?,
                    role: parse_enum(&r.get::<String>(2)?)?,
                    deprovisioned_at: r.get::<Option<i64>>(3)?.map(ts),
                    devices: r.get(4)?,
                    trusted_devices: r.get(5)?,
                })
            },)?;
    Ok(rows)
}

/// The users of the admin's workspace with their device counts (devices that count toward
/// the limit, and of those the trusted ones), optionally the one with an email.
#[utoipa::path(get, path = vouch_proto::routes::ADMIN_USERS, tag = "admin", security(("bearer" = [])), params(AdminUsersQuery),
    responses((status = 200, body = Vec<AdminUser>), (status = 403, body = ErrorBody)))]
pub async fn users(
    State(state): State<AppState>,
    caller: KeyHolder,
    QueryParams(q): QueryParams<AdminUsersQuery>,
) -> ApiResult<Json<Vec<AdminUser>>> {
    require_admin(&caller)?;
    if q.email.as_ref().is_some_and(|e| e.chars().count() > 254) {
        return Err(ApiError::bad_request(
            "`email` is longer than an address can be",
        ));
    }
    let ws = caller.user.workspace_id;
    let out = state
        .db
        .read(move |tx| admin_users(tx, ws, None, q.email.as_deref()))
        .await?;
    Ok(Json(out))
}

/// Reactivates a deprovisioned user: they can sign in again and set up *new* devices (the
/// old ones stay disabled: key holders locked, the others wiped). It gives no email root:
/// whoever has the password and the mailbox would take it first. The user's first new
/// device, verified by email, is email-only and gets the keys back with the recovery key,
/// or becomes the first key holder of a new chain by an admin key holder's `new_root`
/// approval (the code on the user's screen, read to the admin). Repeating it changes
/// nothing.
#[utoipa::path(post, path = vouch_proto::routes::ADMIN_USER_REACTIVATE, tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = AdminUser), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reactivate(
    State(state): State<AppState>,
    caller: KeyHolder,
    Origin(origin): Origin,
    PathParams(user_id): PathParams<Uuid>,
) -> ApiResult<Json<AdminUser>> {
    require_admin(&caller)?;
    let actor = Actor::of(&caller, origin);
    let ws = caller.user.workspace_id;
    let out = state
        .db
        .tx(move |tx| {
            let user = UserRow::load(tx, user_id)?
                .filter(|u| u.workspace_id == ws)
                .ok_or_else(|| ApiError::not_found("user"))?;
            if user.deprovisioned {
                tx.execute(
                    "UPDATE users SET deprovisioned_at = NULL, code_failures = 0 WHERE id = ?1",
                    [user_id.to_string()],
                )?;
                crate::audit::record(tx, user_id, None, AuditAction::Reactivated, &actor, None)?;
            }
            admin_users(tx, ws, Some(user_id), None)?
                .pop()
                .ok_or_else(ApiError::internal)
        })
        .await?;
    Ok(Json(out))
}
