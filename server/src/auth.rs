//! Bearer-token extractors: an account token (signed in, untrusted) or a device token
//! (trusted device). A disabled device's token answers `device_disabled`, except where it
//! reads its own vouch chain ([`ChainReader`]).

use std::net::SocketAddr;

use crate::store::params;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts},
};
use vouch_proto::{DeviceStatus, ErrorCode};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    model::{
        ACCOUNT_TOKEN_PREFIX, DEVICE_COLS, DEVICE_TOKEN_PREFIX, DeviceRow, USER_COLS, UserRow, now,
        token_hash,
    },
};

/// How often a device's `last_seen_at` is written at most (once per this many seconds).
const LAST_SEEN_STEP_SECS: i64 = 60;

/// A caller signed in with an account token.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: UserRow,
    pub token_hash: Vec<u8>,
}

/// A caller using a trusted device's token.
#[derive(Debug, Clone)]
pub struct DeviceCaller {
    pub user: UserRow,
    pub device: DeviceRow,
    /// The web console session acting as this device (its approver), if any: the audit
    /// log names it. `None` for the device's own token.
    pub console: Option<uuid::Uuid>,
}

/// Either kind of caller.
#[derive(Debug, Clone)]
pub enum Caller {
    Account(Account),
    Device(Box<DeviceCaller>),
}

/// The client's address as this server saw it (no proxy headers are trusted).
pub struct Origin(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        Ok(Origin(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
        ))
    }
}

fn bearer(parts: &Parts) -> ApiResult<String> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing bearer token"))?;
    let token = value.strip_prefix("Bearer ").ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "expected `Authorization: Bearer <token>`",
        )
    })?;
    if token.len() > 200 {
        return Err(ApiError::new(ErrorCode::Unauthorized, "unknown token"));
    }
    Ok(token.trim().to_owned())
}

/// Whether a disabled device's token is let through (only to read its own chain).
#[derive(Clone, Copy, PartialEq, Eq)]
enum DisabledDevice {
    Refused,
    Allowed,
}

async fn resolve(state: &AppState, token: String, disabled: DisabledDevice) -> ApiResult<Caller> {
    let hash = token_hash(&token);
    if token.starts_with(ACCOUNT_TOKEN_PREFIX) {
        state
            .db
            .tx(move |tx| {
                let row: Option<(UserRow, i64)> = tx
                    .query_opt(
                        &format!(
                            "SELECT {cols}, t.expires_at FROM account_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?1",
                            cols = USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
                        ),
                        [&hash],
                        |r| Ok((UserRow::from_row(r)?, r.get(6)?)),
                    )?;
                let (user, expires) = row.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown token"))?;
                if expires <= now() {
                    return Err(ApiError::new(ErrorCode::TokenExpired, "the sign-in expired; sign in again"));
                }
                if user.deprovisioned {
                    return Err(ApiError::new(ErrorCode::Unauthorized, "the account was deprovisioned"));
                }
                Ok(Caller::Account(Account { user, token_hash: hash }))
            })
            .await
    } else if token.starts_with(DEVICE_TOKEN_PREFIX) {
        state
            .db
            .tx(move |tx| {
                let device = tx
                    .query_opt(
                        &format!("SELECT {DEVICE_COLS} FROM devices WHERE token_hash = ?1"),
                        [&hash],
                        DeviceRow::from_row,
                    )?
                    .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown token"))?;
                match device.device.status {
                    DeviceStatus::Trusted => {}
                    // Read-only, no "last seen": it is told what the chain says of it.
                    DeviceStatus::Disabled if disabled == DisabledDevice::Allowed => {
                        let user = UserRow::load(tx, device.device.user_id)?
                            .ok_or_else(ApiError::internal)?;
                        return Ok(Caller::Device(Box::new(DeviceCaller {
                            user,
                            device,
                            console: None,
                        })));
                    }
                    DeviceStatus::Disabled => {
                        return Err(ApiError::new(
                            ErrorCode::DeviceDisabled,
                            "this device was disabled; wipe its keys",
                        ));
                    }
                    _ => {
                        return Err(ApiError::new(
                            ErrorCode::DeviceNotTrusted,
                            "this device is not trusted",
                        ));
                    }
                }
                let user =
                    UserRow::load(tx, device.device.user_id)?.ok_or_else(ApiError::internal)?;
                // "Last seen", coarse: at most one write a minute per device.
                let at = now();
                tx.execute(
                    "UPDATE devices SET last_seen_at = ?2 WHERE id = ?1 AND (last_seen_at IS NULL OR last_seen_at <= ?3)",
                    params![device.device.id.to_string(), at, at - LAST_SEEN_STEP_SECS],
                )?;
                Ok(Caller::Device(Box::new(DeviceCaller {
                    user,
                    device,
                    console: None,
                })))
            })
            .await
    } else {
        Err(ApiError::new(ErrorCode::Unauthorized, "unknown token"))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts)?;
        resolve(state, token, DisabledDevice::Refused).await
    }
}

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Account(a) => Ok(a),
            Caller::Device(_) => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "this route needs an account token",
            )),
        }
    }
}

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Device(d) => Ok(*d),
            Caller::Account(_) => Err(ApiError::new(
                ErrorCode::DeviceNotTrusted,
                "this route needs a trusted device",
            )),
        }
    }
}

/// A device that was trusted, also after it was disabled: it may read its user's vouch
/// chain (nothing else), so a disabled device can verify a signed revocation of itself
/// before it shreds its keys (DESIGN rule 6) instead of taking the server's word.
#[derive(Debug, Clone)]
pub struct ChainReader(pub DeviceCaller);

impl FromRequestParts<AppState> for ChainReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match resolve(state, bearer(parts)?, DisabledDevice::Allowed).await? {
            Caller::Device(d) => Ok(Self(*d)),
            Caller::Account(_) => Err(ApiError::new(
                ErrorCode::DeviceNotTrusted,
                "this route needs a trusted device",
            )),
        }
    }
}

/// A trusted device of the key-holder tier (Trust v2): the only caller that may list,
/// approve or deny requests, disable devices, write vaults and items, or act as an admin.
/// An email-only device's token gets 403 `key_holder_required` from every such route.
#[derive(Debug, Clone)]
pub struct KeyHolder(pub DeviceCaller);

impl FromRequestParts<AppState> for KeyHolder {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let caller = DeviceCaller::from_request_parts(parts, state).await?;
        if caller.device.device.tier == Some(vouch_proto::Tier::KeyHolder) {
            Ok(Self(caller))
        } else {
            Err(ApiError::new(
                ErrorCode::KeyHolderRequired,
                "this device was verified by email only: it can ask a key holder for access, nothing else",
            ))
        }
    }
}

impl std::ops::Deref for KeyHolder {
    type Target = DeviceCaller;

    fn deref(&self) -> &DeviceCaller {
        &self.0
    }
}

impl DeviceCaller {
    /// Refuses extensions (rule 4: approvals only from web and mobile devices).
    pub fn require_approver(&self) -> ApiResult<()> {
        if self.device.device.kind.can_approve() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "browser extensions cannot approve or list approval requests",
            ))
        }
    }

    /// Whether the user is a workspace admin.
    pub fn is_admin(&self) -> bool {
        self.user.role == vouch_proto::Role::Admin
    }
}
