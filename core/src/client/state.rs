//! The enrollment state machine, persisted in the store and reported to the UI.
//!
//! ```text
//! SignedOut ─sign_in→ Untrusted{reminded_later} ─register_device(name)→ Verifying{method}
//!   Verifying ─email code / approval→ Trusted | Denied | Expired
//!   Trusted ─disabled / deprovisioned→ Wiped
//! ```
//! "Remind me later" keeps `Untrusted` with `reminded_later = true` (signed in, not
//! secure: no vault access). Every transition is written to the store before it is
//! reported, so a restart resumes exactly where the device was.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use vouch_proto::{Tier, UserInfo, VerifiedBy};

/// How a pending device is being verified right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Verification {
    /// Named and registered; no method chosen yet.
    NotStarted,
    /// An email code was sent.
    EmailCode {
        /// When the code expires.
        #[serde(with = "vouch_proto::rfc3339")]
        expires_at: OffsetDateTime,
        /// Earliest time to ask for another code.
        #[serde(with = "vouch_proto::rfc3339")]
        resend_after: OffsetDateTime,
    },
    /// Waiting for a trusted device to approve.
    Approval {
        /// The open request.
        request_id: Uuid,
        /// When it expires.
        #[serde(with = "vouch_proto::rfc3339")]
        expires_at: OffsetDateTime,
    },
}

/// Where this device is in its enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EnrollmentState {
    /// No account on this device.
    SignedOut,
    /// Signed in, not trusted: no vault access. `reminded_later` after "Remind me later"
    /// (the UI shows a "not secure" banner and keeps setup reachable).
    Untrusted {
        /// Who signed in.
        user: UserInfo,
        /// The user chose "Remind me later".
        reminded_later: bool,
    },
    /// Registered as a pending device and being verified.
    Verifying {
        /// Who signed in.
        user: UserInfo,
        /// This device's id.
        device_id: Uuid,
        /// Its name.
        device_name: String,
        /// The method in progress.
        verification: Verification,
    },
    /// Trusted: the device has a device token and may hold vault keys.
    Trusted {
        /// The user.
        user: UserInfo,
        /// This device's id.
        device_id: Uuid,
        /// Its name.
        device_name: String,
        /// How it became trusted.
        verified_by: VerifiedBy,
        /// Key holder, or email-only (sees its own state and asks for keys, nothing
        /// else). Profiles from before tiers read as email-only until the server says more.
        #[serde(default = "email_only")]
        tier: Tier,
    },
    /// An approver denied this device.
    Denied {
        /// The user.
        user: UserInfo,
    },
    /// The approval request or the pending device expired; start again.
    Expired {
        /// The user.
        user: UserInfo,
    },
    /// The device was disabled or its user deprovisioned; keys, items and identity were wiped.
    Wiped,
}

fn email_only() -> Tier {
    Tier::EmailOnly
}

impl EnrollmentState {
    /// This device's tier, when trusted.
    pub fn tier(&self) -> Option<Tier> {
        match self {
            Self::Trusted { tier, .. } => Some(*tier),
            _ => None,
        }
    }

    /// Whether the device is a trusted key holder (approves, manages, writes).
    pub fn is_key_holder(&self) -> bool {
        self.tier() == Some(Tier::KeyHolder)
    }

    /// Whether the device is trusted (vault access possible).
    pub fn is_trusted(&self) -> bool {
        matches!(self, Self::Trusted { .. })
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&UserInfo> {
        match self {
            Self::Untrusted { user, .. }
            | Self::Verifying { user, .. }
            | Self::Trusted { user, .. }
            | Self::Denied { user }
            | Self::Expired { user } => Some(user),
            Self::SignedOut | Self::Wiped => None,
        }
    }

    /// This device's id once registered.
    pub fn device_id(&self) -> Option<Uuid> {
        match self {
            Self::Verifying { device_id, .. } | Self::Trusted { device_id, .. } => Some(*device_id),
            _ => None,
        }
    }

    /// The short name of the state (for logs and UIs).
    pub fn name(&self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::Untrusted { .. } => "untrusted",
            Self::Verifying { .. } => "verifying",
            Self::Trusted { .. } => "trusted",
            Self::Denied { .. } => "denied",
            Self::Expired { .. } => "expired",
            Self::Wiped => "wiped",
        }
    }
}

/// Tokens kept sealed in the store.
#[derive(Default, Clone, Serialize, Deserialize)]
pub(crate) struct Tokens {
    pub account: Option<String>,
    pub device: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<redacted>)")
    }
}
