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
        /// Email code (a weak factor: a key holder only for a user who never had one).
        EmailCode,
        /// A key holder's approval, authenticated by the code or QR the person carried.
        Approval,
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
        /// The device's key bundle ([`crate::KeyBundle`] bytes).
        pub key_bundle: Bytes,
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
        /// Its key bundle ([`crate::KeyBundle`] bytes).
        pub key_bundle: Bytes,
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
        /// When it last called the server with its device token (recorded at most once a
        /// minute per device; none before its first call).
        #[serde(default, with = "crate::rfc3339::option", skip_serializing_if = "Option::is_none")]
        pub last_seen_at: Option<OffsetDateTime>,
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
    /// Why a request asks for approval (bound in the PAKE transcript).
    pub enum ApprovalPurpose {
        /// A pending device asks a key holder to trust it and share the vault keys.
        Enroll,
        /// An email-only device asks a key holder for the vault keys (and the tier).
        ShareKeys,
        /// A user with no key holder left asks an admin's key holder to make this device
        /// a first key holder again. Never carries envelopes.
        NewRoot,
    }
}

wire! {
    /// Status of an approval request.
    pub enum ApprovalStatus {
        /// Waiting for a code run to succeed, a denial or the expiry.
        Pending,
        /// The approver confirmed a run and sent the payload; the device has not yet
        /// acknowledged it ("approved, waiting for the device").
        Approved,
        /// The device opened the payload and acknowledged it: it is trusted (and its tier
        /// set) now.
        Completed,
        /// The device could not open the payload; it may start again.
        Failed,
        /// Denied.
        Denied,
        /// Nobody decided in time.
        Expired,
        /// The requester withdrew it.
        Cancelled,
    }
}

wire! {
    /// Which secret the approver entered as the PAKE password.
    pub enum PakeSecret {
        /// The 6-digit code typed from the new device's screen.
        Code,
        /// The 32-byte secret of the QR code scanned from the new device's screen.
        Qr,
    }
}

wire! {
    /// `POST /v1/devices/{id}/approval-requests` response.
    pub struct ApprovalOpened {
        /// Request id (bound in the PAKE identities and the transcript).
        pub id: Uuid,
        /// What the server decided the request is for.
        pub purpose: ApprovalPurpose,
        /// When it expires.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// The requesting device as the server recorded it (its descriptor and key bundle,
        /// bound in the transcript: a server that shows the approver something else fails
        /// the run).
        pub device: Device,
    }
}

wire! {
    /// One PAKE run of a request, as the server relays it.
    pub struct ApprovalRun {
        /// Run id.
        pub id: Uuid,
        /// The approving device (its key bundle is bound in the transcript).
        pub approver: Device,
        /// Which secret the approver used.
        pub secret: PakeSecret,
        /// The approver's SPAKE2 message (side A).
        pub msg_a: Bytes,
        /// The requester's SPAKE2 message (side B), once answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub msg_b: Option<Bytes>,
        /// The requester's confirmation MAC, once answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac_b: Option<Bytes>,
        /// The requester's counter-signature of its vouch, once answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reverse_sig: Option<Bytes>,
        /// The approver's confirmation MAC, once it approved.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac_a: Option<Bytes>,
        /// The encrypted payload (envelopes), once approved.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub payload: Option<Bytes>,
        /// Whether either side aborted it (a wrong code).
        #[serde(default)]
        pub aborted: bool,
    }
}

wire! {
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
        /// The newest run, if an approver started one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub run: Option<ApprovalRun>,
        /// Which device decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decided_by: Option<Uuid>,
    }
}

wire! {
    /// What an approver is shown for a pending request ("Trust this session?").
    pub struct PendingApproval {
        /// Request id.
        pub id: Uuid,
        /// The requester's user (the approver's own, or another for an admin's `new_root`).
        pub user_id: Uuid,
        /// That user's email: an admin deciding another user's `new_root` is told whose
        /// first key holder it makes.
        #[serde(default)]
        pub user_email: String,
        /// Purpose.
        pub purpose: ApprovalPurpose,
        /// The requesting device: name, kind, platform, origin, key bundle and tier (the
        /// descriptor bound in the transcript).
        pub device: Device,
        /// When it was opened.
        #[serde(with = "crate::rfc3339")]
        pub created_at: OffsetDateTime,
        /// When it expires.
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// Where the request came from (client address as the server saw it).
        pub origin: String,
        /// The request came from another network than the listing device's.
        #[serde(default)]
        pub other_network: bool,
        /// Status (`pending`, or `approved` while waiting for the device).
        pub status: ApprovalStatus,
    }
}

wire! {
    /// `POST /v1/approval-requests/{id}/runs` body.
    pub struct StartRun {
        /// Which secret is the password.
        pub secret: PakeSecret,
        /// The approver's SPAKE2 message.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 2, max_length = 86, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub msg_a: Bytes,
    }
}

wire! {
    /// `POST /v1/approval-requests/{id}/runs` response.
    pub struct RunStarted {
        /// Run id.
        pub run_id: Uuid,
    }
}

wire! {
    /// `POST /v1/approval-requests/{id}/runs/{run}/response` body.
    pub struct RunResponse {
        /// The requester's SPAKE2 message.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 2, max_length = 86, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub msg_b: Bytes,
        /// HMAC(kB, "vouch/v2/confirm/B" ‖ transcript).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", pattern = r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"))]
        pub mac_b: Bytes,
        /// The requester's counter-signature of the vouch that will add it to the chain
        /// (Ed25519 over user, its keys and the approver; see `vouch_core::chain`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "base64url", pattern = r"^[A-Za-z0-9_-]{85}[AQgw]$"))]
        pub reverse_sig: Option<Bytes>,
    }
}

wire! {
    /// `POST /v1/approval-requests/{id}/approve` body.
    pub struct ApproveRequest {
        /// The run whose answer verified.
        pub run_id: Uuid,
        /// HMAC(kA, "vouch/v2/confirm/A" ‖ transcript).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", pattern = r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"))]
        pub mac_a: Bytes,
        /// The encrypted payload container.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 2, max_length = 64171, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub payload: Bytes,
        /// The vouch that adds the new device to the chain (appended in the same
        /// transaction as the approval; `chain_conflict` when it is not the next link).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "base64url", min_length = 76, max_length = 1366, pattern = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$"))]
        pub link: Option<Bytes>,
    }
}

wire! {
    /// `POST /v1/approval-requests/{id}/ack` body.
    pub struct AckRequest {
        /// The run whose payload the requester opened (or failed to).
        pub run_id: Uuid,
        /// Whether it opened and its keys are stored.
        pub opened: bool,
    }
}

wire! {
    redacted
    /// `POST /v1/approval-requests/{id}/ack` response.
    pub struct AckResult {
        /// `completed` or `failed`.
        pub status: ApprovalStatus,
        /// For `enroll` and `new_root` from a pending device: its device token (a repeat
        /// of the ack issues a fresh one and revokes the last).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_token: Option<String>,
        /// The device's tier now.
        pub tier: Tier,
    }
}

wire! {
    /// Response to approve/deny/cancel/abort.
    pub struct Decision {
        /// Request id.
        pub id: Uuid,
        /// The new status.
        pub status: ApprovalStatus,
    }
}

wire! {
    /// `POST /v1/devices/{id}/disable` body (optional).
    pub struct DisableRequest {
        /// Also disable the devices this one approved in the last 30 days (rule 6).
        #[serde(default)]
        pub also_approved: bool,
    }
}

// ---- vaults ----------------------------------------------------------------------------

wire! {
    /// `POST /v1/vaults` body (the client picks the id so it can create offline).
    pub struct CreateVault {
        /// Vault id.
        pub id: Uuid,
        /// Display name: 1–128 characters after trimming, no control characters.
        #[cfg_attr(feature = "openapi", schema(max_length = 128, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"))]
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
        /// The newest key epoch (0 until a key holder rotates the key).
        #[serde(default)]
        pub epoch: u32,
        /// The vouch-chain position the newest epoch's rotator had verified (`None` for
        /// the first key): a revocation after it means the key must rotate again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub epoch_chain_seq: Option<u64>,
        /// Set once the vault was deleted: its deletion, sealed under the vault key by a
        /// device that held it (`vouch_core::crypto::seal_vault_tombstone`). Devices drop
        /// their copy only after it opens under their key; a vault that merely goes
        /// missing from the list is kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tombstone: Option<Bytes>,
        /// The highest change sequence among the vault's item records (0: none). A device
        /// whose item cursor is past it was once handed a sequence the server never had
        /// (a relay in the middle), and reads the vault's records again from the start.
        #[serde(default)]
        pub head_seq: u64,
    }
}

wire! {
    /// `POST /v1/vaults/{id}/delete` body: the vault's deletion, sealed under its key.
    pub struct DeleteVault {
        /// The sealed deletion: 45 bytes, the first being the format (1), as base64url
        /// (so it starts with `A` and one of `Q`–`Z`, `a`–`f`).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "base64url", min_length = 60, max_length = 60, pattern = r"^A[Q-Za-f][A-Za-z0-9_-]{58}$"))]
        pub tombstone: Bytes,
    }
}

wire! {
    /// `PUT /v1/vaults/{id}/items/{item_id}` body: a new version of an item.
    pub struct PutItem {
        /// The version being written (base + 1).
        pub version: u64,
        /// The version this write is based on (0 for a new item).
        pub base_version: u64,
        /// The sealed item or sealed tombstone (required: the server refuses a write
        /// without one; a delete is sealed like any version).
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
        /// The sealed item or sealed tombstone (`None` only for records from before
        /// Trust v2; a client refuses those as unsealed deletes).
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
    /// A request changed status (sent to the requester and approvers).
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
    /// The other side of a PAKE run moved (sent to the requester when an approver starts
    /// a run, to the approver when the requester answers, to both on an abort).
    ApprovalRun {
        /// Request id.
        request_id: Uuid,
        /// Run id.
        run_id: Uuid,
    },
    /// The user's vouch chain grew (sent to the user's trusted devices).
    ChainChanged {
        /// Position of the newest link.
        seq: u64,
    },
    /// A key holder sealed a vault key to this device (sent to the recipient).
    EnvelopeAdded {
        /// Vault.
        vault_id: Uuid,
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
    /// A vault was deleted (so other devices can sync and check its sealed deletion).
    VaultDeleted {
        /// Vault.
        vault_id: Uuid,
    },
    /// A browser signed in to the web console and waits for a key holder's approval (sent
    /// to the user's key-holder web and mobile devices, so a phone can show the prompt).
    /// It carries the session's id only — never its code, which only the browser shows:
    /// the approver lists the console sessions for browser, address and time.
    ConsoleRequested {
        /// The waiting console session (`GET /v1/console-sessions`).
        session_id: Uuid,
    },
    /// A console session was approved or ended (revoked, signed out, too many wrong
    /// codes), so an approver's prompt for it can go (sent to the same devices as
    /// `console_requested`; the id only).
    ConsoleDecided {
        /// The console session.
        session_id: Uuid,
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
            Self::ApprovalRun { .. } => "approval_run",
            Self::ChainChanged { .. } => "chain_changed",
            Self::EnvelopeAdded { .. } => "envelope_added",
            Self::ItemChanged { .. } => "item_changed",
            Self::VaultDeleted { .. } => "vault_deleted",
            Self::ConsoleRequested { .. } => "console_requested",
            Self::ConsoleDecided { .. } => "console_decided",
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
