//! The audit log of device events: one table (`audit_events`), one writer ([`record`]),
//! called in the same transaction as the change it records (a change and its entry
//! commit together or not at all). Read by admins through `GET /v1/admin/audit`.

use crate::store::{Tx, params};
use uuid::Uuid;
use vouch_proto::AuditAction;

use crate::{
    error::{ApiError, ApiResult},
    model::{enum_str, now},
};

/// Who did it and from where (none: the device itself, or the server/operator).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The device whose token made the call.
    pub device: Option<Uuid>,
    /// The client address of the call.
    pub origin: Option<String>,
    /// The web console session the device acted through (named in the entry's detail).
    pub console: Option<Uuid>,
}

impl Actor {
    /// A call by `device` from `origin`.
    pub fn device(device: Uuid, origin: impl ToString) -> Self {
        Self {
            device: Some(device),
            origin: Some(origin.to_string()),
            console: None,
        }
    }

    /// A request from `origin` by no device (a browser's console sign-in, say).
    pub fn at(origin: impl ToString) -> Self {
        Self {
            origin: Some(origin.to_string()),
            ..Self::default()
        }
    }

    /// A call by `caller` from `origin`: its device, and the console session it acted
    /// through when a console page made the call.
    pub fn of(caller: &crate::auth::DeviceCaller, origin: impl ToString) -> Self {
        Self {
            console: caller.console,
            ..Self::device(caller.device.device.id, origin)
        }
    }
}

/// Records `action` on `device` (of `user`; `None` for a user-wide action).
pub fn record(
    tx: &Tx<'_>,
    user: Uuid,
    device: Option<Uuid>,
    action: AuditAction,
    actor: &Actor,
    detail: Option<&str>,
) -> ApiResult<()> {
    let via = actor.console.map(|c| format!("via console {c}"));
    let detail = match (detail, via) {
        (Some(d), Some(v)) => Some(format!("{d}; {v}")),
        (d, v) => d.map(str::to_owned).or(v),
    };
    let workspace: String = tx
        .query_one(
            "SELECT workspace_id FROM users WHERE id = ?1",
            [user.to_string()],
            |r| r.get(0),
        )
        .map_err(|_| ApiError::internal())?;
    tx.execute(
        "INSERT INTO audit_events (workspace_id, user_id, device_id, device_name, action, actor_device_id, origin, detail, created_at)
         VALUES (?1, ?2, ?3, (SELECT name FROM devices WHERE id = ?3), ?4, ?5, ?6, ?7, ?8)",
        params![
            workspace,
            user.to_string(),
            device.map(|d| d.to_string()),
            enum_str(&action),
            actor.device.map(|d| d.to_string()),
            actor.origin,
            detail,
            now()
        ],
    )?;
    Ok(())
}

/// Records `action` on `device` (its user looked up).
pub fn record_device(
    tx: &Tx<'_>,
    device: Uuid,
    action: AuditAction,
    actor: &Actor,
    detail: Option<&str>,
) -> ApiResult<()> {
    let user: String = tx
        .query_one(
            "SELECT user_id FROM devices WHERE id = ?1",
            [device.to_string()],
            |r| r.get(0),
        )
        .map_err(|_| ApiError::internal())?;
    let user = crate::model::parse_uuid(&user)?;
    record(tx, user, Some(device), action, actor, detail)
}
