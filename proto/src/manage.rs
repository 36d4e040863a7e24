//! Wire types of device and workspace management: renaming a device, the admin's list of
//! users, reactivating a deprovisioned user, and the audit log of device events.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::Role;

wire! {
    /// `PATCH /v1/devices/{id}` body: a new display name (the rules of registration).
    pub struct RenameDevice {
        /// The new name (rule 2: 1–64 characters, unique per user).
        pub name: String,
    }
}

wire! {
    /// A user of the workspace as an admin lists it (`GET /v1/admin/users`).
    pub struct AdminUser {
        /// User id.
        pub id: Uuid,
        /// Email address.
        pub email: String,
        /// Role.
        pub role: Role,
        /// When an admin deprovisioned the user (none: active).
        #[serde(default, with = "crate::rfc3339::option", skip_serializing_if = "Option::is_none")]
        pub deprovisioned_at: Option<OffsetDateTime>,
        /// Devices that count toward the limit (pending or trusted).
        pub devices: u32,
        /// Of those, trusted.
        pub trusted_devices: u32,
    }
}

wire! {
    /// What happened to a device (or a user), as the audit log records it.
    pub enum AuditAction {
        /// A device registered (pending).
        Registered,
        /// A device became trusted by an email code.
        VerifiedByEmail,
        /// A key holder approved a device (it became trusted, a key holder).
        Approved,
        /// A key holder shared the vault keys with an email-only device (now a key holder).
        KeysShared,
        /// A device became a key holder with the user's recovery key (its words were
        /// entered on it; `detail`: the recovery key's id).
        Recovered,
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
        /// A key holder approved a web console session (the device is the approver).
        ConsoleApproved,
        /// A web console session was ended: by a key holder, from its browser (signed out,
        /// or replaced by a new sign-in there), after too many wrong codes, looked at from
        /// another address than its password's, or the user deprovisioned (`detail`: why).
        ConsoleRevoked,
        /// A browser signed in to the console with the password (`detail`: its session,
        /// address and browser); it waits for a key holder's approval.
        ConsoleRequested,
        /// A wrong console code was typed on a key holder (the device is that key holder;
        /// `detail`: the session and the tries left on it).
        ConsoleCodeRejected,
        /// A console session ended by itself: its time ran out, or the device that approved
        /// it is no longer a trusted key holder (`detail`: the session and why).
        ConsoleExpired,
        /// The user signed in (an account session; `origin` is the client's address).
        SignedIn,
        /// A wrong email code was typed for a device (`detail`: tries left on that code).
        CodeRejected,
        /// A device's open approval request was withdrawn by the requester (setting up
        /// devices give their registration back).
        RequestWithdrawn,
        /// A key holder deleted a vault (`detail`: the vault id); the device is the one
        /// that deleted it.
        VaultDeleted,
    }
}

wire! {
    /// One entry of the audit log (`GET /v1/admin/audit`).
    pub struct AuditEvent {
        /// Order of the entries (increasing).
        pub seq: u64,
        /// When it happened.
        #[serde(with = "crate::rfc3339")]
        pub at: OffsetDateTime,
        /// What happened.
        pub action: AuditAction,
        /// The user concerned.
        pub user_id: Uuid,
        /// That user's email.
        pub user_email: String,
        /// The device concerned (none for user-wide actions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_id: Option<Uuid>,
        /// Its name at the time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub device_name: Option<String>,
        /// The device that did it (none: the device itself by email code, or the operator).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub actor_device_id: Option<Uuid>,
        /// That device's user's email (an admin's, for admin actions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub actor_email: Option<String>,
        /// The client address the action came from, as the server saw it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub origin: Option<String>,
        /// More about it (the old name of a rename, the devices of a deprovisioning).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub detail: Option<String>,
    }
}
