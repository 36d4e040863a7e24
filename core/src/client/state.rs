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

impl EnrollmentState {
    /// Reads the state as the store keeps it (its JSON, `{"state": "trusted", …}`): what
    /// `serde_json::from_str::<EnrollmentState>` gives, without its derived decoder. The
    /// enum is internally tagged, and serde's decoder for that buffers the value in its
    /// `Content` type first, compiling a second decoder of `UserInfo`, the verification
    /// and the rest into the mobile library; here every field has one (a flat row of
    /// optional fields, then the state's required ones picked out of it).
    pub fn from_stored(json: &str) -> Option<Self> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
            user: Option<UserInfo>,
            reminded_later: Option<bool>,
            device_id: Option<Uuid>,
            device_name: Option<String>,
            verification: Option<VerificationRow>,
            verified_by: Option<VerifiedBy>,
            tier: Option<Tier>,
        }
        #[derive(Deserialize)]
        struct VerificationRow {
            method: String,
            #[serde(default, with = "vouch_proto::rfc3339::option")]
            expires_at: Option<OffsetDateTime>,
            #[serde(default, with = "vouch_proto::rfc3339::option")]
            resend_after: Option<OffsetDateTime>,
            request_id: Option<Uuid>,
        }
        let row: Row = serde_json::from_str(json).ok()?;
        Some(match row.state.as_str() {
            "signed_out" => Self::SignedOut,
            "untrusted" => Self::Untrusted {
                user: row.user?,
                reminded_later: row.reminded_later?,
            },
            "verifying" => {
                let v = row.verification?;
                Self::Verifying {
                    user: row.user?,
                    device_id: row.device_id?,
                    device_name: row.device_name?,
                    verification: match v.method.as_str() {
                        "not_started" => Verification::NotStarted,
                        "email_code" => Verification::EmailCode {
                            expires_at: v.expires_at?,
                            resend_after: v.resend_after?,
                        },
                        "approval" => Verification::Approval {
                            request_id: v.request_id?,
                            expires_at: v.expires_at?,
                        },
                        _ => return None,
                    },
                }
            }
            "trusted" => Self::Trusted {
                user: row.user?,
                device_id: row.device_id?,
                device_name: row.device_name?,
                verified_by: row.verified_by?,
                tier: row.tier.unwrap_or_else(email_only),
            },
            "denied" => Self::Denied { user: row.user? },
            "expired" => Self::Expired { user: row.user? },
            "wiped" => Self::Wiped,
            _ => return None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_proto::Role;

    /// `from_stored` reads every state as serde's derived decoder does, and refuses what it
    /// refuses.
    #[test]
    fn from_stored_equals_the_derived_decoder() {
        let user = UserInfo {
            id: Uuid::from_u128(1),
            email: "alice@acme.test".into(),
            username: "alice".into(),
            workspace_id: Uuid::from_u128(2),
            workspace_name: "Acme".into(),
            role: Role::Member,
        };
        let at = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let verifying = |verification| EnrollmentState::Verifying {
            user: user.clone(),
            device_id: Uuid::from_u128(3),
            device_name: "Laptop".into(),
            verification,
        };
        let states = [
            EnrollmentState::SignedOut,
            EnrollmentState::Untrusted {
                user: user.clone(),
                reminded_later: true,
            },
            verifying(Verification::NotStarted),
            verifying(Verification::EmailCode {
                expires_at: at,
                resend_after: at,
            }),
            verifying(Verification::Approval {
                request_id: Uuid::from_u128(4),
                expires_at: at,
            }),
            EnrollmentState::Trusted {
                user: user.clone(),
                device_id: Uuid::from_u128(3),
                device_name: "Laptop".into(),
                verified_by: VerifiedBy::Approval,
                tier: Tier::KeyHolder,
            },
            EnrollmentState::Denied { user: user.clone() },
            EnrollmentState::Expired { user: user.clone() },
            EnrollmentState::Wiped,
        ];
        for state in states {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(
                EnrollmentState::from_stored(&json),
                Some(state.clone()),
                "{json}"
            );
            assert_eq!(
                serde_json::from_str::<EnrollmentState>(&json).ok(),
                Some(state)
            );
        }
        // A profile from before tiers: email-only, as the derive's default says.
        let old = r#"{"state":"trusted","user":{"id":"00000000-0000-0000-0000-000000000001","email":"a@b","username":"a","workspace_id":"00000000-0000-0000-0000-000000000002","workspace_name":"A","role":"member"},"device_id":"00000000-0000-0000-0000-000000000003","device_name":"L","verified_by":"email_code"}"#;
        let derived = serde_json::from_str::<EnrollmentState>(old).ok();
        assert_eq!(
            derived.as_ref().and_then(EnrollmentState::tier),
            Some(Tier::EmailOnly)
        );
        assert_eq!(EnrollmentState::from_stored(old), derived);
        for bad in [
            r#"{"state":"trusted"}"#,
            r#"{"state":"newer"}"#,
            r#"{"state":"verifying","user":null}"#,
            r#"{"state":"untrusted","user":{"id":"x"}}"#,
            "[]",
            "",
        ] {
            assert_eq!(EnrollmentState::from_stored(bad), None, "{bad}");
            assert_eq!(
                serde_json::from_str::<EnrollmentState>(bad).ok(),
                None,
                "{bad}"
            );
        }
    }
}
