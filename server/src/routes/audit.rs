//! `GET /v1/admin/audit`: the audit log of device events (see `crate::audit`), for admins.

use crate::store::params;
use axum::{Json, extract::State};
use serde::Deserialize;
use uuid::Uuid;
use vouch_proto::{AuditEvent, ErrorBody};

use crate::{
    AppState,
    auth::KeyHolder,
    error::{ApiError, ApiResult},
    extract::QueryParams,
    model::{parse_enum, parse_uuid, ts},
    routes::admin::require_admin,
};

/// Entries returned when no `limit` is given.
const DEFAULT_LIMIT: u32 = 100;
/// The most entries one call returns.
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this user's entries.
    user_id: Option<Uuid>,
    /// The newest this many entries (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The newest entries of the workspace's audit log (or of one user), oldest first: who
/// registered, verified, approved, denied, disabled or renamed which device, and when
/// users were deprovisioned or reactivated — with the acting device and its address.
#[utoipa::path(get, path = vouch_proto::routes::ADMIN_AUDIT, tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: KeyHolder,
    QueryParams(q): QueryParams<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    require_admin(&caller)?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request("`limit` is 1 to 1000"));
    }
    let ws = caller.user.workspace_id.to_string();
    let mut out = state
        .db
        .read(move |tx| {
            let opt_uuid = |s: Option<String>| s.as_deref().map(parse_uuid).transpose();
            let rows = tx.query_all("SELECT a.seq, a.created_at, a.action, a.user_id, u.email, a.device_id, a.device_name,
                        a.actor_device_id, au.email, a.origin, a.detail
                 FROM audit_events a
                 JOIN users u ON u.id = a.user_id
                 LEFT JOIN devices ad ON ad.id = a.actor_device_id
                 LEFT JOIN users au ON au.id = ad.user_id
                 WHERE a.workspace_id = ?1 AND (?2 IS NULL OR a.user_id = ?2)
                 ORDER BY a.seq DESC LIMIT ?3", params![ws, q.user_id.map(|u| u.to_string()), limit], |r| {
                    Ok(AuditEvent {
                        seq: r.get::<i64>(0)?.max(0) as u64,
                        at: ts(r.get(1)?),
                        action: parse_enum(&r.get::<String>(2)?)?,
                        user_id: parse_uuid(&r.get::<String>(3)?)?,
                        user_email: r.get(4)?,
                        device_id: opt_uuid(r.get(5)?)?,
                        device_name: r.get(6)?,
                        actor_device_id: opt_uuid(r.get(7)?)?,
                        actor_email: r.get(8)?,
                        origin: r.get(9)?,
                        detail: r.get(10)?,
                    })
                })?;
            Ok(rows)
        })
        .await?;
    out.reverse();
    Ok(Json(out))
}
