//! Admin routes (rules 7 and 8): every device of the workspace; deprovisioning a user.

use axum::{Json, extract::State};
use rusqlite::params;
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{Device, Disabled, ErrorBody};

use crate::{
    AppState,
    auth::{DeviceCaller, KeyHolder},
    error::{ApiError, ApiResult},
    extract::{PathParams, QueryParams},
    model::{DEVICE_COLS, DeviceRow, UserRow, now},
    routes::devices::disable_devices,
};

fn require_admin(caller: &DeviceCaller) -> ApiResult<()> {
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
#[utoipa::path(get, path = "/v1/admin/devices", tag = "admin", security(("bearer" = [])), params(AdminDevicesQuery),
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
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {cols} FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE u.workspace_id = ?1 AND (?2 IS NULL OR d.user_id = ?2) ORDER BY u.email, d.created_at"
            ))?;
            let rows = stmt
                .query_map(params![ws, q.user_id.map(|u| u.to_string())], DeviceRow::from_row)?
                .map(|r| r.map(|d| d.device))
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await?;
    Ok(Json(out))
}

/// Deprovisions a user: in one transaction every device is disabled, every sign-in
/// revoked, and the account refuses new sign-ins.
#[utoipa::path(post, path = "/v1/admin/users/{id}/deprovision", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "user id")),
    responses((status = 200, body = Disabled), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deprovision(
    State(state): State<AppState>,
    caller: KeyHolder,
    PathParams(user_id): PathParams<Uuid>,
) -> ApiResult<Json<Disabled>> {
    require_admin(&caller)?;
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
            let out = disable_devices(tx, &devices)?;
            tx.execute(
                "DELETE FROM account_tokens WHERE user_id = ?1",
                [user_id.to_string()],
            )?;
            tx.execute(
                "UPDATE users SET deprovisioned_at = coalesce(deprovisioned_at, ?2) WHERE id = ?1",
                params![user_id.to_string(), now()],
            )?;
            Ok(out)
        })
        .await?;
    Ok(Json(out))
}

/// Unlocks a user's sign-in and email-code verification: clears the 100-failure code lock
/// and the wrong-password throttle (for example after the user proved who they are to
/// the admin). Devices, tokens and codes are untouched.
#[utoipa::path(post, path = "/v1/admin/users/{id}/unlock", tag = "admin", security(("bearer" = [])),
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
