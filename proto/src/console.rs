//! Wire types and routes of the web console's delegated sessions (issue 17): a browser
//! signed in with email and password shows a 6-digit code; a key-holder web or mobile
//! device of the same user approves it with that code. No vault key ever reaches the
//! browser: the console acts with the approving device's powers (rule 8), never its keys.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// `/v1/console-sessions`: the user's console sessions (pending and active).
pub const CONSOLE_SESSIONS: &str = "/v1/console-sessions";
/// `/v1/console-sessions/{id}/approve`: a key holder approves a console with its code.
pub const CONSOLE_SESSION_APPROVE: &str = "/v1/console-sessions/{id}/approve";
/// `/v1/console-sessions/{id}/revoke`: a key holder ends a console session.
pub const CONSOLE_SESSION_REVOKE: &str = "/v1/console-sessions/{id}/revoke";

/// How long a console sign-in waits for its approval, in seconds.
pub const CONSOLE_PENDING_SECS: i64 = 10 * 60;
/// An approved console session ends after this long without a request (sliding), in seconds.
pub const CONSOLE_IDLE_SECS: i64 = 30 * 60;
/// An approved console session ends this long after its approval at the latest, in seconds.
pub const CONSOLE_MAX_SECS: i64 = 8 * 3600;
/// Wrong codes a pending console sign-in survives; the next one ends it.
pub const CONSOLE_CODE_ATTEMPTS: u32 = 3;

wire! {
    /// Where a console session is.
    pub enum ConsoleStatus {
        /// Signed in, waiting for a key holder to approve it with the code.
        Pending,
        /// Approved: the browser manages devices with the approving device's powers.
        Active,
    }
}

wire! {
    /// A console session as the user's key holders see it (`GET /v1/console-sessions`).
    pub struct ConsoleSession {
        /// Session id.
        pub id: Uuid,
        /// Pending or active (ended sessions are not listed).
        pub status: ConsoleStatus,
        /// The browser's `User-Agent`, as it sent it (shortened, control characters removed).
        pub user_agent: String,
        /// The browser's address as the server saw it.
        pub origin: String,
        /// When the browser signed in.
        #[serde(with = "crate::rfc3339")]
        pub created_at: OffsetDateTime,
        /// When it ends unless used (pending: unless approved).
        #[serde(with = "crate::rfc3339")]
        pub expires_at: OffsetDateTime,
        /// The device that approved it (the session dies with it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub approved_by: Option<Uuid>,
        /// Whether the session has the admin's powers (approved by an admin's key holder).
        pub admin: bool,
        /// The browser signed in from another address than the caller's: flag it on the
        /// approving screen (someone else's browser, if the person is not travelling).
        #[serde(default)]
        pub other_network: bool,
    }
}

wire! {
    redacted
    /// `POST /v1/console-sessions/{id}/approve` body: the code the console shows.
    pub struct ApproveConsole {
        /// The 6 digits shown in the browser (spaces allowed).
        pub code: String,
    }
}
