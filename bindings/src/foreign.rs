//! Traits the apps implement in Kotlin/Swift, and their adapters to the core's traits.

use std::sync::Arc;

use vouch_core::keystore::SecretStoreError as CoreSecretStoreError;

use crate::{ConsoleSession, EnrollmentState, PendingRequest, error::SecretStoreError};

/// The platform key store (Android Keystore, iOS Keychain) that wraps the database key.
/// `unwrap_secret(label, wrap_secret(label, s)) == s`; a blob never unwraps under another
/// label or key; after `delete_secret(label)` unwrapping fails with `KeyNotFound`.
#[uniffi::export(foreign)]
pub trait SecretStore: Send + Sync {
    /// Encrypts `secret` under the key named `label` (creating it if needed).
    fn wrap_secret(&self, label: String, secret: Vec<u8>) -> Result<Vec<u8>, SecretStoreError>;
    /// Decrypts a blob made by `wrap_secret` with the same label.
    fn unwrap_secret(&self, label: String, wrapped: Vec<u8>) -> Result<Vec<u8>, SecretStoreError>;
    /// Destroys the key named `label`.
    fn delete_secret(&self, label: String) -> Result<(), SecretStoreError>;
}

/// Receives state changes (the facades turn them into `StateFlow` / `AsyncStream`).
/// Called on Rust threads; return quickly.
#[uniffi::export(foreign)]
pub trait VouchListener: Send + Sync {
    /// The enrollment state changed.
    fn on_state_changed(&self, state: EnrollmentState);
    /// The pending "Trust this session?" requests changed.
    fn on_pending_requests_changed(&self, pending: Vec<PendingRequest>);
    /// Vaults or items changed.
    fn on_vaults_changed(&self);
    /// The user's web console sessions changed: a browser waits for approval (after the
    /// `console_requested` event) — show "Approve a web console sign-in?".
    fn on_console_sessions_changed(&self, sessions: Vec<ConsoleSession>);
}

/// The OS's user-presence check (BiometricPrompt / LocalAuthentication, device credential
/// allowed) a phone runs before it approves. Called on a Rust thread (never the UI
/// thread); may block until the person answers. `false` refuses; nothing is sent.
#[uniffi::export(foreign)]
pub trait UserPresence: Send + Sync {
    /// Asks the person to confirm `reason`.
    fn confirm_presence(&self, reason: String) -> bool;
}

pub(crate) struct PresenceAdapter(pub Arc<dyn UserPresence>);

impl vouch_core::UserPresence for PresenceAdapter {
    fn confirm(&self, reason: String) -> bool {
        // A foreign panic or exception counts as "not confirmed".
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0.confirm_presence(reason)
        }))
        .unwrap_or(false)
    }
}

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Receives the core's `log` records (to Logcat / OSLog). Records never hold secrets.
#[uniffi::export(foreign)]
pub trait VouchLogger: Send + Sync {
    /// One record.
    fn log(&self, level: LogLevel, target: String, message: String);
}

pub(crate) struct StoreAdapter(pub Arc<dyn SecretStore>);

fn core_err(e: SecretStoreError) -> CoreSecretStoreError {
    match e {
        SecretStoreError::KeyNotFound => CoreSecretStoreError::KeyNotFound,
        SecretStoreError::AuthenticationFailed => CoreSecretStoreError::AuthenticationFailed,
        SecretStoreError::Unavailable { reason } => CoreSecretStoreError::Unavailable { reason },
    }
}

impl vouch_core::keystore::SecretStore for StoreAdapter {
    fn wrap(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>, CoreSecretStoreError> {
        self.0
            .wrap_secret(label.to_owned(), secret.to_vec())
            .map_err(core_err)
    }
    fn unwrap(&self, label: &str, wrapped: &[u8]) -> Result<Vec<u8>, CoreSecretStoreError> {
        self.0
            .unwrap_secret(label.to_owned(), wrapped.to_vec())
            .map_err(core_err)
    }
    fn delete(&self, label: &str) -> Result<(), CoreSecretStoreError> {
        self.0.delete_secret(label.to_owned()).map_err(core_err)
    }
}

pub(crate) struct ListenerAdapter(pub Arc<dyn VouchListener>);

impl vouch_core::ClientListener for ListenerAdapter {
    fn state_changed(&self, state: vouch_core::EnrollmentState) {
        self.0.on_state_changed(state.into());
    }
    fn pending_approvals_changed(&self, pending: Vec<vouch_core::PendingRequest>) {
        self.0
            .on_pending_requests_changed(pending.into_iter().map(Into::into).collect());
    }
    fn vaults_changed(&self) {
        self.0.on_vaults_changed();
    }
    fn console_sessions_changed(&self, sessions: Vec<vouch_core::proto::ConsoleSession>) {
        self.0
            .on_console_sessions_changed(sessions.into_iter().map(Into::into).collect());
    }
}

pub(crate) struct LogAdapter(pub Arc<dyn VouchLogger>);

impl log::Log for LogAdapter {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        };
        self.0
            .log(level, record.target().to_owned(), record.args().to_string());
    }
    fn flush(&self) {}
}
