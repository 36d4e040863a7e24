//! Request and response bodies of every v1 route, and the server-sent events.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use time::OffsetDateTime;

use crate::Bytes;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

macro_rules! wire {
    // A body that carries a secret (password, code, token, mail text): `Debug` prints
    // the type name only, so it cannot leak through a log line or a panic message.
    (redacted $(#[$m:meta])* $vis:vis struct $name:ident $body:tt) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        $vis struct $name $body

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
    ($(#[$m:meta])* $vis:vis struct $name:ident $body:tt) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        $vis struct $name $body
    };
    ($(#[$m:meta])* $vis:vis enum $name:ident $body:tt) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        #[serde(rename_all = "snake_case")]
        $vis enum $name $body
    };
}

// ---- users and sign-in ---------------------------------------------------------------

wire! {
    /// A user's role in the workspace.
    pub enum Role {
        /// Ordinary user.
        Member,
        /// Lists and disables every device of the workspace; deprovisions users.
        Admin,
    }
}

wire! {
    redacted
    /// `POST /v1/auth/login` body.
    pub struct LoginRequest {
        /// Account email.
        pub email: String,
        /// Account password.
        pub password: String,
    }
}

wire! {
    /// Who signed in.
    pub struct UserInfo {
        /// User id.
        pub id: Uuid,
        /// Email address.
        pub email: String,
        /// Short name used in default device names (the email's local part).
        pub username: String,
        /// Workspace id.
        pub workspace_id: Uuid,
        /// Workspace name.
        pub workspace_name: String,
        /// Role.
        pub role: Role,
    }
}

wire! {
    redacted
    /// `POST /v1/auth/login` response: an account token (untrusted session).
    pub struct LoginResponse {
        /// Bearer token for account-level routes.
        pub account_token: String,
        /// When the token stops working.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// The user.
        pub user: UserInfo,
    }
}

// ---- devices ---------------------------------------------------------------------------

wire! {
    /// Kind of client install.
    pub enum DeviceKind {
        /// One per browser (management: disable, rename).
        Web,
        /// One per browser-extension install (never approves).
        Extension,
        /// A phone app (approves/denies and views).
        Mobile,
    }
}

impl DeviceKind {
    /// Whether devices of this kind may approve or deny requests (rule 4).
    pub fn can_approve(self) -> bool {
        matches!(self, Self::Web | Self::Mobile)
    }
}

wire! {
    /// Lifecycle of a device: `pending` → `trusted` | `denied` | `expired`; `trusted` → `disabled`.
    pub enum DeviceStatus {
        /// Registered, not verified.
        Pending,
        /// Verified by email code or approval.
        Trusted,
        /// An approver denied it.
        Denied,
        /// Its verification window passed.
        Expired,
        /// Revoked.
        Disabled,
    }
}

wire! {
    /// How a device became trusted.
    pub enum VerifiedBy {
        /// Email code (a weak factor: vault keys need an approval to share).
        EmailCode,
        /// Number-matched approval from a trusted device.
        Approval,
        /// QR approval from a trusted device (PSK mode).
        QrApproval,
    }
}

wire! {
    /// What a trusted device may do (Trust v2). Fixed at verification; changed only by a
    /// key holder's approval of that device, never by other devices going away.
    pub enum Tier {
        /// Holds (or may receive) vault keys; approves, denies and manages as its kind allows.
        KeyHolder,
        /// Verified by email only: sees its own state and asks for keys, nothing else.
        EmailOnly,
    }
}

wire! {
    /// `POST /v1/devices` body.
    pub struct RegisterDeviceRequest {
        /// Display name (rule 2).
        pub name: String,
        /// Kind of install.
        pub kind: DeviceKind,
        /// Operating system / browser or app, e.g. "Android 15 / Vouch 1.0".
        pub platform: String,
        /// The device's X25519 public key (32 bytes).
        pub public_key: Bytes,
    }
}

wire! {
    /// A device as the server reports it.
    pub struct Device {
        /// Device id.
        pub id: Uuid,
        /// Owner.
        pub user_id: Uuid,
        /// Display name.
        pub name: String,
        /// Kind.
        pub kind: DeviceKind,
        /// Platform text given at registration.
        pub platform: String,
        /// Status.
        pub status: DeviceStatus,
        /// X25519 public key.
        pub public_key: Bytes,
        /// Registration time.
        #[serde(with = "crate::rfc3339")]
        pub created_at: OffsetDateTime,
        /// When it became trusted.
        #[serde(default, with = "crate::rfc3339::option", skip_serializing_if = "Option::is_none")]
        pub verified_at: Option<OffsetDateTime>,
        /// How it became trusted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub verified_by: Option<VerifiedBy>,
        /// Its tier, once trusted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tier: Option<Tier>,
        /// The device whose approval made it a key holder (none for an email root).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub approved_by: Option<Uuid>,
        /// Where it registered from (client address as the server saw it).
        pub origin: String,
    }
}

wire! {
    redacted
    /// `POST /v1/devices/{id}/email-code/verify` body.
    pub struct VerifyCodeRequest {
        /// The code from the email.
        pub code: String,
    }
}

wire! {
    redacted
    /// A device just became trusted: its device token (returned once per issue).
    pub struct TrustedDevice {
        /// The device, now trusted.
        pub device: Device,
        /// Bearer token for device-level routes; dies with the device.
        pub device_token: String,
    }
}

wire! {
    /// `POST /v1/devices/{id}/email-code` response (202).
    pub struct CodeSent {
        /// When the code expires.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// Earliest time another code may be requested.
        #[serde(with = "crate::rfc3339")]
        pub resend_after: OffsetDateTime,
    }
}

wire! {
    /// `POST /v1/devices/{id}/disable` and admin deprovision response.
    pub struct Disabled {
        /// Devices disabled by this call.
        pub disabled: Vec<Uuid>,
    }
}

// ---- approvals -------------------------------------------------------------------------

wire! {
    /// Why a request asks for approval.
    pub enum ApprovalPurpose {
        /// A pending device asks to become trusted (and to receive vault keys).
        Enrollment,
        /// A device trusted by email code asks a key holder to share vault keys.
        KeySharing,
    }
}

wire! {
    /// Status of an approval request.
    pub enum ApprovalStatus {
        /// Waiting for a decision.
        Pending,
        /// Approved: envelopes (and, for enrollment, the device token) are ready.
        Approved,
        /// Denied.
        Denied,
        /// Nobody decided in time.
        Expired,
    }
}

wire! {
    /// `POST /v1/devices/{id}/approval-requests` response.
    pub struct ApprovalOpened {
        /// Request id (binds the check values and the envelopes).
        pub id: Uuid,
        /// When it expires.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
    }
}

wire! {
    /// A vault key sealed to one device for one request.
    pub struct EnvelopeWire {
        /// Vault whose key is inside.
        pub vault_id: Uuid,
        /// The sealed key (see `vouch_core::crypto::Envelope`).
        pub envelope: Bytes,
    }
}

wire! {
    redacted
    /// `GET /v1/approval-requests/{id}` response for the requester.
    pub struct ApprovalState {
        /// Request id.
        pub id: Uuid,
        /// Status.
        pub status: ApprovalStatus,
        /// Purpose.
        pub purpose: ApprovalPurpose,
        /// Expiry.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// Once approved: the vault keys sealed to the requester.
        #[serde(default)]
        pub envelopes: Vec<EnvelopeWire>,
        /// Once an enrollment is approved: the device token. Each read issues a fresh
        /// token and revokes the previous one, so a client that crashed before saving it
        /// can ask again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_token: Option<String>,
        /// Which device decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decided_by: Option<Uuid>,
        /// Whether the approver scanned the QR code.
        #[serde(default)]
        pub via_qr: bool,
    }
}

wire! {
    /// What an approver is shown for a pending request ("Trust this session?").
    pub struct PendingApproval {
        /// Request id.
        pub id: Uuid,
        /// The user (same as the approver's).
        pub user_id: Uuid,
        /// Purpose.
        pub purpose: ApprovalPurpose,
        /// The requesting device: name, kind, platform and the public key the check
        /// values are derived from and the envelopes must be sealed to.
        pub device: Device,
        /// When it was opened.
        #[serde(with = "crate::rfc3339")]
        pub created_at: OffsetDateTime,
        /// When it expires.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// Where the request came from (client address as the server saw it).
        pub origin: String,
    }
}

wire! {
    /// `POST /v1/approval-requests/{id}/approve` body.
    pub struct ApproveRequest {
        /// Every vault key the approver holds, sealed to the requester's key.
        pub envelopes: Vec<EnvelopeWire>,
        /// Whether the approver scanned the requester's QR code (PSK-mode envelopes).
        #[serde(default)]
        pub via_qr: bool,
    }
}

wire! {
    /// Response to approve/deny.
    pub struct Decision {
        /// Request id.
        pub id: Uuid,
        /// The new status.
        pub status: ApprovalStatus,
    }
}

// ---- vaults ----------------------------------------------------------------------------

wire! {
    /// `POST /v1/vaults` body (the client picks the id so it can create offline).
    pub struct CreateVault {
        /// Vault id.
        pub id: Uuid,
        /// Display name.
        pub name: String,
    }
}

wire! {
    /// A vault's metadata.
    pub struct Vault {
        /// Vault id.
        pub id: Uuid,
        /// Owner.
        pub user_id: Uuid,
        /// Display name.
        pub name: String,
        /// Device that created it.
        pub created_by: Uuid,
        /// Creation time.
        #[serde(with = "crate::rfc3339")]
        pub created_at: OffsetDateTime,
    }
}

wire! {
    /// An envelope addressed to the calling device.
    pub struct DeviceEnvelope {
        /// Vault.
        pub vault_id: Uuid,
        /// The request it answered (binds the envelope's `info`).
        pub request_id: Uuid,
        /// The sealed key.
        pub envelope: Bytes,
        /// Device that sealed it.
        pub sealed_by: Uuid,
        /// Whether it was sealed in QR (PSK) mode.
        pub via_qr: bool,
    }
}

wire! {
    /// `PUT /v1/vaults/{id}/items/{item_id}` body: a new version of an item.
    pub struct PutItem {
        /// The version being written (base + 1).
        pub version: u64,
        /// The version this write is based on (0 for a new item).
        pub base_version: u64,
        /// Sealed item (`None` deletes it, keeping a tombstone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ciphertext: Option<Bytes>,
    }
}

wire! {
    /// An item as stored on the server (ciphertext only).
    pub struct ItemRecord {
        /// Vault.
        pub vault_id: Uuid,
        /// Item id.
        pub item_id: Uuid,
        /// Current version.
        pub version: u64,
        /// Sealed item, or `None` for a deleted item.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ciphertext: Option<Bytes>,
        /// Server change sequence (for `?since=`).
        pub seq: u64,
    }
}

// ---- events ----------------------------------------------------------------------------

/// A server-sent event. The SSE `id:` is the event's sequence number, `event:` its
/// snake_case kind and `data:` this value as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A device of the user asks for approval (sent to trusted web/mobile devices).
    ApprovalRequested {
        /// What to show.
        request: PendingApproval,
    },
    /// A request was approved, denied or expired (sent to the requester and approvers).
    ApprovalDecided {
        /// Request id.
        request_id: Uuid,
        /// New status.
        status: ApprovalStatus,
    },
    /// A device of the user was added/trusted (sent to every other device: rule 3).
    DeviceAdded {
        /// The device.
        device: Device,
    },
    /// A device was disabled (sent to it and to the user's other devices).
    DeviceDisabled {
        /// Device id.
        device_id: Uuid,
    },
    /// A vault key was sealed to the receiving device.
    EnvelopeAdded {
        /// Vault.
        vault_id: Uuid,
        /// Request it answered.
        request_id: Uuid,
    },
    /// An item changed (so other devices can sync).
    ItemChanged {
        /// Vault.
        vault_id: Uuid,
        /// Item.
        item_id: Uuid,
        /// New version.
        version: u64,
    },
}

impl Event {
    /// The SSE `event:` name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ApprovalRequested { .. } => "approval_requested",
            Self::ApprovalDecided { .. } => "approval_decided",
            Self::DeviceAdded { .. } => "device_added",
            Self::DeviceDisabled { .. } => "device_disabled",
            Self::EnvelopeAdded { .. } => "envelope_added",
            Self::ItemChanged { .. } => "item_changed",
        }
    }
}

// ---- dev outbox ------------------------------------------------------------------------

wire! {
    redacted
    /// A message in the dev outbox (`GET /v1/dev/outbox?to=`), as a person would read it.
    pub struct Mail {
        /// Recipient.
        pub to: String,
        /// Subject line.
        pub subject: String,
        /// Plain-text body.
        pub body: String,
        /// When it was sent.
        #[serde(with = "crate::rfc3339")]
        pub sent_at: OffsetDateTime,
    }
}
