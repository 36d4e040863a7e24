//! `SecretStore`: the platform key store that wraps the database key.
//!
//! The apps implement it over Android Keystore (an AES-GCM key that never leaves the TEE
//! / StrongBox) and iOS Keychain / Secure Enclave; the core only ever hands it a small
//! secret to wrap and gets the wrapped blob back, which it stores in the database. The
//! [`SoftwareSecretStore`] here is for desktop, tests and CI.

mod software;

pub use software::SoftwareSecretStore;

/// Errors a [`SecretStore`] reports. Messages never contain secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretStoreError {
    /// No wrapping key exists under this label (deleted, or the app was reinstalled).
    #[error("no wrapping key under this label")]
    KeyNotFound,
    /// The wrapped blob does not authenticate under the current wrapping key.
    #[error("wrapped secret does not match the wrapping key")]
    AuthenticationFailed,
    /// The label is not 1–64 characters of `[A-Za-z0-9._-]`.
    #[error("invalid secret label")]
    InvalidLabel,
    /// The platform store could not be used now (device locked, I/O, hardware error).
    #[error("secret store unavailable: {reason}")]
    Unavailable {
        /// A platform message; implementations must not put secret material here.
        reason: String,
    },
}

/// A platform key store that wraps small secrets under a named key.
///
/// Guarantees the core relies on: `unwrap(label, wrap(label, s)) == s`; a blob made under
/// one label or key never unwraps under another (it returns `AuthenticationFailed`);
/// after `delete(label)`, `unwrap` returns `KeyNotFound`. Implementations must be safe to
/// call from any thread.
pub trait SecretStore: Send + Sync {
    /// Encrypts `secret` under the key named `label`, creating that key if needed.
    fn wrap(&self, label: &str, secret: &[u8]) -> Result<Vec<u8>, SecretStoreError>;
    /// Decrypts a blob made by [`SecretStore::wrap`] with the same label.
    fn unwrap(&self, label: &str, wrapped: &[u8]) -> Result<Vec<u8>, SecretStoreError>;
    /// Destroys the key named `label` (crypto-shredding everything it wrapped).
    fn delete(&self, label: &str) -> Result<(), SecretStoreError>;
}

/// Checks a label: 1–64 characters of `[A-Za-z0-9._-]`, not starting with a dot.
pub fn validate_label(label: &str) -> Result<(), SecretStoreError> {
    let ok = (1..=64).contains(&label.len())
        && !label.starts_with('.')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SecretStoreError::InvalidLabel)
    }
}
