//! Records and enums that cross the boundary, with conversions from the core's types.
//! Ids are strings (UUIDs), times are `SystemTime` (Kotlin `Instant`, Swift `Date`).

use std::time::SystemTime;

use vouch_core::proto;

/// Kind of client install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceKind {
    Web,
    Extension,
    Mobile,
}

/// How a device became trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VerifiedBy {
    EmailCode,
    Approval,
}

/// What a trusted device may do: a key holder approves, manages and writes; an
/// email-only device sees its own state and asks a key holder for the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Tier {
    KeyHolder,
    EmailOnly,
}

impl From<proto::Tier> for Tier {
    fn from(t: proto::Tier) -> Self {
        match t {
            proto::Tier::KeyHolder => Self::KeyHolder,
            proto::Tier::EmailOnly => Self::EmailOnly,
        }
    }
}

/// Why an approval is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ApprovalPurpose {
    /// A new device asks to be trusted and to receive the vault keys.
    Enroll,
    /// An email-only device asks for the vault keys.
    ShareKeys,
    /// A user with no key holder left asks an admin's key holder (no keys travel).
    NewRoot,
}

/// Status of a request on the approver's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ApprovalStatus {
    Pending,
    /// Approved; waiting for the new device to acknowledge ("approved, waiting for the
    /// device").
    Approved,
    Completed,
    Failed,
    Denied,
    Expired,
    Cancelled,
}

impl From<proto::ApprovalStatus> for ApprovalStatus {
    fn from(s: proto::ApprovalStatus) -> Self {
        use proto::ApprovalStatus as S;
        match s {
            S::Pending => Self::Pending,
            S::Approved => Self::Approved,
            S::Completed => Self::Completed,
            S::Failed => Self::Failed,
            S::Denied => Self::Denied,
            S::Expired => Self::Expired,
            S::Cancelled => Self::Cancelled,
        }
    }
}

/// Lifecycle of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceStatus {
    Pending,
    Trusted,
    Denied,
    Expired,
    Disabled,
}

/// What this install is.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceInfo {
    pub kind: DeviceKind,
    pub model: String,
    pub os: String,
    pub app: String,
}

/// Which server certificates to accept. Empty lists: the bundled roots, no pins.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct TlsPolicy {
    /// SPKI pins, `sha256/<base64>`; when not empty the certificate chain must contain
    /// one of these keys (checked after normal validation).
    pub pinned_spki_sha256: Vec<String>,
    /// Extra trust anchors (DER certificates), e.g. a self-hosted server's private CA.
    pub extra_roots_der: Vec<Vec<u8>>,
}

impl From<TlsPolicy> for vouch_core::TlsPolicy {
    fn from(t: TlsPolicy) -> Self {
        Self {
            pinned_spki_sha256: t.pinned_spki_sha256,
            extra_roots_der: t.extra_roots_der,
        }
    }
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    pub username: String,
    pub workspace_name: String,
    pub is_admin: bool,
}

/// The verification in progress.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Verification {
    NotStarted,
    EmailCode {
        expires_at: SystemTime,
        resend_after: SystemTime,
    },
    Approval {
        request_id: String,
        expires_at: SystemTime,
    },
}

/// Where this device is in its enrollment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum EnrollmentState {
    SignedOut,
    /// Signed in, not secure (no vault access); `reminded_later` after "Remind me later".
    Untrusted {
        user: UserInfo,
        reminded_later: bool,
    },
    Verifying {
        user: UserInfo,
        device_id: String,
        device_name: String,
        verification: Verification,
    },
    Trusted {
        user: UserInfo,
        device_id: String,
        device_name: String,
        verified_by: VerifiedBy,
        tier: Tier,
    },
    Denied {
        user: UserInfo,
    },
    Expired {
        user: UserInfo,
    },
    /// Disabled or deprovisioned: keys, items and identity were wiped.
    Wiped,
}

/// What the new device shows while it waits for approval.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ApprovalPrompt {
    pub request_id: String,
    pub purpose: ApprovalPurpose,
    /// The 6-digit code, grouped ("482 913"): display it, never log it.
    pub code: String,
    /// QR code text (holds the QR secret: display, never log).
    pub qr_payload: String,
    /// When the code stops working on this device.
    pub expires_at: SystemTime,
    /// Runs the code still answers (0: ask for a new code).
    pub runs_left: u32,
}

impl std::fmt::Debug for ApprovalPrompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalPrompt")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// A "Trust this session?" request as the approver sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingRequest {
    pub request_id: String,
    pub purpose: ApprovalPurpose,
    /// The requester's account (email): for `NewRoot`, another person's — show it, with
    /// `new_root_warning()` above the code field.
    pub account: String,
    pub device_name: String,
    pub device_kind: DeviceKind,
    pub platform: String,
    pub origin: String,
    pub created_at: SystemTime,
    pub expires_at: SystemTime,
    /// The requester's tier when it is already trusted (email-only: flag it).
    pub requester_tier: Option<Tier>,
    /// It asked from another network than this device's: flag it.
    pub other_network: bool,
    /// `Pending`, or `Approved` while waiting for the new device.
    pub status: ApprovalStatus,
}

/// A device of the user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Device {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub platform: String,
    pub status: DeviceStatus,
    pub created_at: SystemTime,
    pub origin: String,
    /// Key holder or email-only, once trusted.
    pub tier: Option<Tier>,
    /// The device whose approval made it a key holder (rule 6: "which device approved it").
    pub approved_by: Option<String>,
    /// When it last called the server with its device token (the server records it at most
    /// once a minute; null before its first call).
    pub last_seen_at: Option<SystemTime>,
}

/// A user's role in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// An ordinary user.
    Member,
    /// Lists and disables every device of the workspace; deprovisions and reactivates users.
    Admin,
}

/// A user of the workspace as an admin lists it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdminUser {
    /// User id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When an admin deprovisioned the user (null: active).
    pub deprovisioned_at: Option<SystemTime>,
    /// Devices that count toward the limit (pending or trusted).
    pub devices: u32,
    /// Of those, trusted.
    pub trusted_devices: u32,
}

/// What happened to a device (or a user), as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AuditAction {
    /// A device registered (pending).
    Registered,
    /// A device became trusted by an email code.
    VerifiedByEmail,
    /// A key holder approved a device (it became trusted, a key holder).
    Approved,
    /// A key holder shared the vault keys with an email-only device (now a key holder).
    KeysShared,
    /// A key holder denied a device's request.
    Denied,
    /// A device was disabled (by a device of its user or an admin).
    Disabled,
    /// A device was renamed.
    Renamed,
    /// An admin deprovisioned the user.
    Deprovisioned,
    /// An admin reactivated the user (new devices only).
    Reactivated,
    /// A device became a key holder with the user's recovery key.
    Recovered,
    /// A key holder approved a web console session.
    ConsoleApproved,
    /// A web console session was ended (by a key holder, its browser, wrong codes, an
    /// address change, or deprovisioning).
    ConsoleRevoked,
    /// A browser signed in to the console and waits for approval.
    ConsoleRequested,
    /// A wrong console code was typed on a key holder.
    ConsoleCodeRejected,
    /// A console session ended by itself (time ran out, or its approver is gone).
    ConsoleExpired,
    /// The user signed in.
    SignedIn,
    /// A wrong email code was typed for a device.
    CodeRejected,
    /// A device's open approval request was withdrawn.
    RequestWithdrawn,
    /// A key holder deleted a vault.
    VaultDeleted,
}

/// One entry of the workspace's audit log of device events.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AuditEvent {
    /// Order of the entries (increasing).
    pub seq: u64,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub action: AuditAction,
    /// The user concerned.
    pub user_id: String,
    /// That user's email.
    pub user_email: String,
    /// The device concerned (null for user-wide actions).
    pub device_id: Option<String>,
    /// Its name at the time.
    pub device_name: Option<String>,
    /// The device that did it (null: the device itself by email code, or the operator).
    pub actor_device_id: Option<String>,
    /// That device's user's email (an admin's, for admin actions).
    pub actor_email: Option<String>,
    /// The client address the action came from, as the server saw it.
    pub origin: Option<String>,
    /// More about it (the old name of a rename, the devices of a deprovisioning).
    pub detail: Option<String>,
}

/// A vault.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VaultInfo {
    pub id: String,
    pub name: String,
    pub has_key: bool,
}

/// An item's metadata. `Debug` leaves the title out (it is as secret as the value).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ItemInfo {
    pub vault_id: String,
    pub item_id: String,
    /// The title, decrypted on the device (null: an item without one).
    pub title: Option<String>,
    pub version: u64,
    pub synced: bool,
    /// Set when a write lost to a newer version on the server: the written value was
    /// kept as a new item with this id (`item_id` holds the server's version).
    pub conflict_copy: Option<String>,
}

impl std::fmt::Debug for ItemInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemInfo")
            .field("vault_id", &self.vault_id)
            .field("item_id", &self.item_id)
            .field("title", &self.title.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .field("synced", &self.synced)
            .field("conflict_copy", &self.conflict_copy)
            .finish()
    }
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub sent: u32,
    pub received: u32,
    pub conflicts: u32,
    pub queued: u32,
    /// Vaults dropped because their deletion, sealed under the vault key, arrived.
    pub vaults_deleted: Vec<String>,
    /// Vaults kept although the server no longer lists them (no sealed deletion).
    pub vaults_missing: Vec<String>,
    /// Vaults kept although the server says deleted: the deletion does not open.
    pub deletions_refused: Vec<String>,
}

// ---- conversions (mechanical) --------------------------------------------------------

impl From<DeviceKind> for proto::DeviceKind {
    fn from(k: DeviceKind) -> Self {
        match k {
            DeviceKind::Web => Self::Web,
            DeviceKind::Extension => Self::Extension,
            DeviceKind::Mobile => Self::Mobile,
        }
    }
}

impl From<proto::DeviceKind> for DeviceKind {
    fn from(k: proto::DeviceKind) -> Self {
        match k {
            proto::DeviceKind::Web => Self::Web,
            proto::DeviceKind::Extension => Self::Extension,
            proto::DeviceKind::Mobile => Self::Mobile,
        }
    }
}

impl From<proto::VerifiedBy> for VerifiedBy {
    fn from(v: proto::VerifiedBy) -> Self {
        match v {
            proto::VerifiedBy::EmailCode => Self::EmailCode,
            proto::VerifiedBy::Approval => Self::Approval,
        }
    }
}

impl From<proto::ApprovalPurpose> for ApprovalPurpose {
    fn from(p: proto::ApprovalPurpose) -> Self {
        match p {
            proto::ApprovalPurpose::Enroll => Self::Enroll,
            proto::ApprovalPurpose::ShareKeys => Self::ShareKeys,
            proto::ApprovalPurpose::NewRoot => Self::NewRoot,
        }
    }
}

impl From<proto::DeviceStatus> for DeviceStatus {
    fn from(s: proto::DeviceStatus) -> Self {
        match s {
            proto::DeviceStatus::Pending => Self::Pending,
            proto::DeviceStatus::Trusted => Self::Trusted,
            proto::DeviceStatus::Denied => Self::Denied,
            proto::DeviceStatus::Expired => Self::Expired,
            proto::DeviceStatus::Disabled => Self::Disabled,
        }
    }
}

impl From<proto::UserInfo> for UserInfo {
    fn from(u: proto::UserInfo) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            username: u.username,
            workspace_name: u.workspace_name,
            is_admin: u.role == proto::Role::Admin,
        }
    }
}

impl From<vouch_core::Verification> for Verification {
    fn from(v: vouch_core::Verification) -> Self {
        match v {
            vouch_core::Verification::NotStarted => Self::NotStarted,
            vouch_core::Verification::EmailCode {
                expires_at,
                resend_after,
            } => Self::EmailCode {
                expires_at: expires_at.into(),
                resend_after: resend_after.into(),
            },
            vouch_core::Verification::Approval {
                request_id,
                expires_at,
            } => Self::Approval {
                request_id: request_id.to_string(),
                expires_at: expires_at.into(),
            },
        }
    }
}

impl From<vouch_core::EnrollmentState> for EnrollmentState {
    fn from(s: vouch_core::EnrollmentState) -> Self {
        use vouch_core::EnrollmentState as S;
        match s {
            S::SignedOut => Self::SignedOut,
            S::Untrusted {
                user,
                reminded_later,
            } => Self::Untrusted {
                user: user.into(),
                reminded_later,
            },
            S::Verifying {
                user,
                device_id,
                device_name,
                verification,
            } => Self::Verifying {
                user: user.into(),
                device_id: device_id.to_string(),
                device_name,
                verification: verification.into(),
            },
            S::Trusted {
                user,
                device_id,
                device_name,
                verified_by,
                tier,
            } => Self::Trusted {
                user: user.into(),
                device_id: device_id.to_string(),
                device_name,
                verified_by: verified_by.into(),
                tier: tier.into(),
            },
            S::Denied { user } => Self::Denied { user: user.into() },
            S::Expired { user } => Self::Expired { user: user.into() },
            S::Wiped => Self::Wiped,
        }
    }
}

impl From<vouch_core::ApprovalPrompt> for ApprovalPrompt {
    fn from(p: vouch_core::ApprovalPrompt) -> Self {
        Self {
            request_id: p.request_id.to_string(),
            purpose: p.purpose.into(),
            code: p.code,
            qr_payload: p.qr_payload,
            expires_at: p.expires_at.into(),
            runs_left: p.runs_left,
        }
    }
}

impl From<vouch_core::PendingRequest> for PendingRequest {
    fn from(p: vouch_core::PendingRequest) -> Self {
        Self {
            request_id: p.request_id.to_string(),
            purpose: p.purpose.into(),
            account: p.account,
            device_name: p.device_name,
            device_kind: p.device_kind.into(),
            platform: p.platform,
            origin: p.origin,
            created_at: p.created_at.into(),
            expires_at: p.expires_at.into(),
            requester_tier: p.requester_tier.map(Into::into),
            other_network: p.other_network,
            status: p.status.into(),
        }
    }
}

impl From<proto::Device> for Device {
    fn from(d: proto::Device) -> Self {
        Self {
            id: d.id.to_string(),
            user_id: d.user_id.to_string(),
            name: d.name,
            kind: d.kind.into(),
            platform: d.platform,
            status: d.status.into(),
            created_at: d.created_at.into(),
            origin: d.origin,
            tier: d.tier.map(Into::into),
            approved_by: d.approved_by.map(|a| a.to_string()),
            last_seen_at: d.last_seen_at.map(Into::into),
        }
    }
}

impl From<proto::Role> for Role {
    fn from(r: proto::Role) -> Self {
        match r {
            proto::Role::Member => Self::Member,
            proto::Role::Admin => Self::Admin,
        }
    }
}

impl From<proto::AdminUser> for AdminUser {
    fn from(u: proto::AdminUser) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            role: u.role.into(),
            deprovisioned_at: u.deprovisioned_at.map(Into::into),
            devices: u.devices,
            trusted_devices: u.trusted_devices,
        }
    }
}

impl From<proto::AuditAction> for AuditAction {
    fn from(a: proto::AuditAction) -> Self {
        use proto::AuditAction as A;
        match a {
            A::Registered => Self::Registered,
            A::VerifiedByEmail => Self::VerifiedByEmail,
            A::Approved => Self::Approved,
            A::KeysShared => Self::KeysShared,
            A::Denied => Self::Denied,
            A::Disabled => Self::Disabled,
            A::Renamed => Self::Renamed,
            A::Deprovisioned => Self::Deprovisioned,
            A::Reactivated => Self::Reactivated,
            A::Recovered => Self::Recovered,
            A::ConsoleApproved => Self::ConsoleApproved,
            A::ConsoleRevoked => Self::ConsoleRevoked,
            A::ConsoleRequested => Self::ConsoleRequested,
            A::ConsoleCodeRejected => Self::ConsoleCodeRejected,
            A::ConsoleExpired => Self::ConsoleExpired,
            A::SignedIn => Self::SignedIn,
            A::CodeRejected => Self::CodeRejected,
            A::RequestWithdrawn => Self::RequestWithdrawn,
            A::VaultDeleted => Self::VaultDeleted,
        }
    }
}

impl From<proto::AuditEvent> for AuditEvent {
    fn from(e: proto::AuditEvent) -> Self {
        Self {
            seq: e.seq,
            at: e.at.into(),
            action: e.action.into(),
            user_id: e.user_id.to_string(),
            user_email: e.user_email,
            device_id: e.device_id.map(|d| d.to_string()),
            device_name: e.device_name,
            actor_device_id: e.actor_device_id.map(|d| d.to_string()),
            actor_email: e.actor_email,
            origin: e.origin,
            detail: e.detail,
        }
    }
}

impl From<vouch_core::VaultInfo> for VaultInfo {
    fn from(v: vouch_core::VaultInfo) -> Self {
        Self {
            id: v.id.to_string(),
            name: v.name,
            has_key: v.has_key,
        }
    }
}

impl From<vouch_core::ItemInfo> for ItemInfo {
    fn from(i: vouch_core::ItemInfo) -> Self {
        Self {
            vault_id: i.vault_id.to_string(),
            item_id: i.item_id.to_string(),
            title: i.title,
            version: i.version,
            synced: i.synced,
            conflict_copy: i.conflict_copy.map(|c| c.to_string()),
        }
    }
}

/// How `start_verification` went on.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum VerificationStarted {
    /// A key holder can approve: show this code and QR, then wait for the decision.
    Approval { prompt: ApprovalPrompt },
    /// Nobody can approve this device (the user's first): a code was emailed.
    EmailCode { state: EnrollmentState },
}

impl From<vouch_core::VerificationStarted> for VerificationStarted {
    fn from(v: vouch_core::VerificationStarted) -> Self {
        match v {
            vouch_core::VerificationStarted::Approval(p) => Self::Approval { prompt: p.into() },
            vouch_core::VerificationStarted::EmailCode(s) => Self::EmailCode { state: s.into() },
        }
    }
}

impl From<vouch_core::SyncReport> for SyncReport {
    fn from(r: vouch_core::SyncReport) -> Self {
        Self {
            sent: r.sent,
            received: r.received,
            conflicts: r.conflicts,
            queued: r.queued,
            vaults_deleted: r.vaults_deleted.iter().map(ToString::to_string).collect(),
            vaults_missing: r.vaults_missing.iter().map(ToString::to_string).collect(),
            deletions_refused: r
                .deletions_refused
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

/// What a member of the vouch chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChainRole {
    /// A device of the user.
    Device,
    /// The recovery key (24 words the user wrote down; never online).
    RecoveryKey,
}

/// A key holder on the vouch chain this device verified (who may receive vault keys).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChainMember {
    /// Device id (or the recovery key's id).
    pub id: String,
    /// Device or recovery key.
    pub role: ChainRole,
    /// Position of the link that added it (0: it started the chain).
    pub added_at_link: u64,
    /// The member that vouched for it (`null` for the first).
    pub vouched_by: Option<String>,
    /// Position of the link that revoked it (`null` while it holds the keys).
    pub revoked_at_link: Option<u64>,
    /// Whether it is this device.
    pub this_device: bool,
    /// The device name it was vouched under, signed on the chain (`null` for an older
    /// link or the recovery key). The server's device list cannot change it: show it on
    /// "disable" confirmations.
    pub name: Option<String>,
}

impl From<vouch_core::ChainMember> for ChainMember {
    fn from(m: vouch_core::ChainMember) -> Self {
        Self {
            id: m.id.to_string(),
            role: match m.role {
                vouch_core::chain::Role::Device => ChainRole::Device,
                vouch_core::chain::Role::RecoveryKey => ChainRole::RecoveryKey,
            },
            added_at_link: m.added_at,
            vouched_by: m.vouched_by.map(|v| v.to_string()),
            revoked_at_link: m.revoked_at,
            this_device: m.this_device,
            name: m.name,
        }
    }
}

/// What using the recovery key did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Recovered {
    /// This device's state now (a key holder).
    pub state: EnrollmentState,
    /// How many vault keys came back.
    pub vault_keys: u32,
    /// The lost devices that were revoked (ids).
    pub revoked: Vec<String>,
    /// The user's other devices verified by email only, disabled with the restore (ids):
    /// a thief with the password and the mailbox could have enrolled them.
    pub disabled: Vec<String>,
}

impl From<vouch_core::Recovered> for Recovered {
    fn from(r: vouch_core::Recovered) -> Self {
        Self {
            state: r.state.into(),
            vault_keys: r.vault_keys,
            revoked: r.revoked.iter().map(ToString::to_string).collect(),
            disabled: r.disabled.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Where a web console session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsoleStatus {
    /// Signed in, waiting for a key holder to approve it with the code its browser shows.
    Pending,
    /// Approved: the browser manages devices with the approving device's powers.
    Active,
}

/// A browser signed in to the web console, as a key holder sees it before approving it
/// ("Approve a web console sign-in?": browser, address, time; never the code).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsoleSession {
    /// Session id.
    pub id: String,
    /// Pending or active.
    pub status: ConsoleStatus,
    /// The browser's `User-Agent`, shortened.
    pub user_agent: String,
    /// The browser's address as the server saw it.
    pub origin: String,
    /// When the browser signed in.
    pub created_at: SystemTime,
    /// When it ends unless approved (pending) or used (active).
    pub expires_at: SystemTime,
    /// The device that approved it (the session dies with it).
    pub approved_by: Option<String>,
    /// It has an admin's powers (approved by an admin's key holder).
    pub admin: bool,
    /// It signed in from another network than this device's: flag it.
    pub other_network: bool,
}

impl From<proto::ConsoleStatus> for ConsoleStatus {
    fn from(s: proto::ConsoleStatus) -> Self {
        match s {
            proto::ConsoleStatus::Pending => Self::Pending,
            proto::ConsoleStatus::Active => Self::Active,
        }
    }
}

impl From<proto::ConsoleSession> for ConsoleSession {
    fn from(s: proto::ConsoleSession) -> Self {
        Self {
            id: s.id.to_string(),
            status: s.status.into(),
            user_agent: s.user_agent,
            origin: s.origin,
            created_at: s.created_at.into(),
            expires_at: s.expires_at.into(),
            approved_by: s.approved_by.map(|a| a.to_string()),
            admin: s.admin,
            other_network: s.other_network,
        }
    }
}
