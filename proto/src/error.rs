//! The error body `{"error": {"code": "snake_case", "message": "…"}}` and its codes.

use serde::{Deserialize, Serialize};

/// Every error code the v1 server returns. Unknown codes from a newer server decode as
/// [`ErrorCode::Unknown`], so old clients keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: a field is missing or has the wrong type or value.
    BadRequest,
    /// 400: the body is not JSON.
    InvalidJson,
    /// 413: the body is over 64 KiB.
    PayloadTooLarge,
    /// 404: no such route or resource.
    NotFound,
    /// 405: the route exists with other methods.
    MethodNotAllowed,
    /// 401: missing, malformed or unknown token.
    Unauthorized,
    /// 401: the account token expired; sign in again.
    TokenExpired,
    /// 401: wrong email or password.
    InvalidCredentials,
    /// 403: the caller may not do this (role, device kind, not its own resource).
    Forbidden,
    /// 403: this device was disabled; it must wipe its keys.
    DeviceDisabled,
    /// 403: the device is not trusted (yet).
    DeviceNotTrusted,
    /// 403: only a key holder may do this; an email-only device sees its own state and
    /// asks for keys, nothing else (Trust v2).
    KeyHolderRequired,
    /// 409: another non-disabled device of the user has this name.
    DeviceNameTaken,
    /// 400: the name breaks the naming rules.
    InvalidDeviceName,
    /// 409: the user already has the maximum number of non-disabled devices.
    DeviceLimitReached,
    /// 400: the public key is not a valid X25519 key.
    InvalidPublicKey,
    /// 409: the device is not pending (already trusted, denied, expired or disabled).
    DeviceNotPending,
    /// 429: throttled; see `retry_after_secs` and the `Retry-After` header.
    TooManyRequests,
    /// 400: wrong code; see `attempts_left`.
    InvalidCode,
    /// 410: the code expired or was used up; request a new one.
    CodeExpired,
    /// 423: too many failures; code verification is locked for the account.
    CodeLocked,
    /// 409: the user already has a pending approval request.
    ApprovalPending,
    /// 409: nobody can approve this device (the user's first): verify it by email code,
    /// which makes it the first key holder.
    EmailCodeRequired,
    /// 409: the request was already decided (approved, denied, cancelled) or the run is
    /// no longer the current one.
    AlreadyDecided,
    /// 410: the approval request expired.
    RequestExpired,
    /// 409: the item changed on the server since the version the client based its write on.
    VersionConflict,
    /// 409: the link is not the next one of the user's vouch chain (another link landed
    /// first): fetch the chain and sign again.
    ChainConflict,
    /// 409: the vault was already deleted (with another sealed deletion).
    VaultDeleted,
    /// 409: the item is sealed under an older key epoch than the vault's newest (it was
    /// rotated): receive the newest key and seal the item under it.
    StaleKeyEpoch,
    /// 500: a bug or an unavailable database; never for bad input.
    Internal,
    /// 503: the server is saturated (sign-in hashing); retry after `retry_after_secs`.
    ServerBusy,
    /// 503: the email could not be sent (the mail relay refused or is down); nothing was
    /// throttled, ask again.
    MailNotSent,
    /// A code this client does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | InvalidJson | InvalidDeviceName | InvalidPublicKey | InvalidCode => 400,
            Unauthorized | TokenExpired | InvalidCredentials => 401,
            Forbidden | DeviceDisabled | DeviceNotTrusted | KeyHolderRequired => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            DeviceNameTaken | DeviceLimitReached | DeviceNotPending | ApprovalPending
            | EmailCodeRequired | AlreadyDecided | VersionConflict | ChainConflict
            | VaultDeleted | StaleKeyEpoch => 409,
            CodeExpired | RequestExpired => 410,
            PayloadTooLarge => 413,
            CodeLocked => 423,
            TooManyRequests => 429,
            Internal | Unknown => 500,
            ServerBusy | MailNotSent => 503,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        f.write_str(v.as_str().unwrap_or("unknown"))
    }
}

/// The inside of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable sentence; never contains secrets.
    pub message: String,
    /// For `invalid_code`: tries left on this code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// For `too_many_requests`: seconds to wait (also in `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// For `version_conflict`: the server's current version of the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

/// The error body every failing route returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// A body with just a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                attempts_left: None,
                retry_after_secs: None,
                current_version: None,
            },
        }
    }
}
